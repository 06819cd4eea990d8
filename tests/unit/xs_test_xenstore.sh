#!/bin/sh
# Debian's unmodified test-xenstore (xen-utils-4.17) against the xensim
# xenstore server, run alone by unit/xs_standalone, then Debian's xenstore-*
# tools (xenstore-utils, unpacked beside by fetch-xen-utils.sh; or from
# XENSTORE_CLI_DIR or /usr/bin). Fails, never skips, when either is missing.
set -u
if [ -z "${XEN_UTILS_DIR:-}" ] || [ ! -x "$XEN_UTILS_DIR/test-xenstore" ]; then
    echo "FAIL: Debian's test-xenstore not found: XEN_UTILS_DIR='${XEN_UTILS_DIR:-}'" \
         "has no executable test-xenstore (unpack xen-utils-4.17 with dpkg -x" \
         "and configure with XEN_UTILS_DIR=<root>/usr/lib/xen-4.17/bin)" >&2
    exit 1
fi
driver="${top_builddir:-.}/tests/unit/xs_standalone"
[ -x "$driver" ] || driver="$(dirname "$0")/xs_standalone"
[ -x "$driver" ] || driver="./unit/xs_standalone"
if [ ! -x "$driver" ]; then
    echo "FAIL: unit/xs_standalone not built" >&2
    exit 1
fi
# The name ends in ".d7" on purpose: the driver must tell a client's domain
# by the socket's own name ("socket", "socket.d<N>"), not by the last dot of
# the whole path; mktemp's random names hit that now and then.
dir=$(mktemp -d /tmp/xs-test.XXXXXX.d7)
"$driver" "$dir" > "$dir/out" 2> "$dir/err" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 50); do
    grep -q ready "$dir/out" 2>/dev/null && break
    sleep 0.1
done
if ! grep -q ready "$dir/out"; then
    echo "FAIL: xs_standalone did not start:" >&2
    cat "$dir/err" >&2
    exit 1
fi
export XENSTORED_PATH="$dir/socket"
fail=0
echo "== test-xenstore"
timeout 120 "$XEN_UTILS_DIR/test-xenstore" || { echo "FAIL: test-xenstore"; fail=1; }
echo "== test-xenstore -i 20"
timeout 120 "$XEN_UTILS_DIR/test-xenstore" -i 20 >/dev/null || { echo "FAIL: test-xenstore -i 20"; fail=1; }

# The CLI tools, if there (xenstore-utils unpacked beside, or installed).
cli=""
for d in "${XENSTORE_CLI_DIR:-}" "$XEN_UTILS_DIR" "$XEN_UTILS_DIR/../../../bin" /usr/bin; do
    [ -n "$d" ] || continue
    [ -x "$d/xenstore-read" ] && { cli="$d"; break; }
done
if [ -n "$cli" ]; then
    echo "== xenstore-* tools from $cli"
    check() { if "$@"; then :; else echo "FAIL: $*"; fail=1; fi; }
    check "$cli/xenstore-write" /tool/t "v1"
    [ "$("$cli/xenstore-read" /tool/t)" = v1 ] || { echo "FAIL: read back"; fail=1; }
    check "$cli/xenstore-chmod" /tool/t n0 r1
    [ "$(XENSTORED_PATH="$dir/socket.d1" "$cli/xenstore-read" /tool/t)" = v1 ] ||
        { echo "FAIL: guest1 cannot read what r1 grants"; fail=1; }
    # Refused for the right reason: the node is there (dom0 reads it), and
    # guest1's socket works (it read /tool/t above); the tool prints no errno.
    "$cli/xenstore-read" /local/domain/2/name >/dev/null ||
        { echo "FAIL: dom0 cannot read /local/domain/2/name"; fail=1; }
    if XENSTORED_PATH="$dir/socket.d1" "$cli/xenstore-read" /local/domain/2/name 2>/dev/null; then
        echo "FAIL: guest1 read guest2's home"; fail=1
    fi
    check env XENSTORED_PATH="$dir/socket.d1" "$cli/xenstore-write" data/x 1
    [ "$("$cli/xenstore-read" /local/domain/1/data/x)" = 1 ] || { echo "FAIL: relative write"; fail=1; }
    # A watch through libxenstore's xs_watch/xs_read_watch: the initial
    # event, then one for the change.
    timeout 5 "$cli/xenstore-watch" -n 2 /tool/t > "$dir/watch" &
    wpid=$!
    # Write once the watch is set, which its initial event shows (a fixed
    # pause failed when the watcher started late).
    n=0
    while [ ! -s "$dir/watch" ] && [ "$n" -lt 400 ]; do sleep 0.01; n=$((n + 1)); done
    [ -s "$dir/watch" ] || { echo "FAIL: no initial watch event in 4 s"; fail=1; }
    check "$cli/xenstore-write" /tool/t v2
    wait "$wpid"
    [ "$(cat "$dir/watch" | tr '\n' ' ')" = "/tool/t /tool/t " ] ||
        { echo "FAIL: watch events: $(cat "$dir/watch")"; fail=1; }
    check "$cli/xenstore-rm" /tool/t
    # A listing past one reply (4096 bytes): libxenstore reads it with
    # DIRECTORY_PART, and takes the chunk that ends in an empty name as the
    # last; an empty name ending every chunk cut it short (151 of 300).
    set --
    i=0
    while [ $i -lt 300 ]; do
        set -- "$@" "/tool/big/child-with-a-long-name-$i" x
        i=$((i + 1))
    done
    check "$cli/xenstore-write" "$@"
    n=$("$cli/xenstore-list" /tool/big | wc -l)
    [ "$n" -eq 300 ] || { echo "FAIL: xenstore-list of 300 children gave $n"; fail=1; }
    check "$cli/xenstore-rm" /tool/big
else
    echo "FAIL: Debian's xenstore-* tools not found (looked beside XEN_UTILS_DIR," \
         "in XENSTORE_CLI_DIR and /usr/bin): unpack xenstore-utils as" \
         "tests/conformance/fetch-xen-utils.sh does"
    fail=1
fi
if [ $fail -ne 0 ]; then
    # What the server said, and whether it is still there: without this a
    # server that died leaves only the clients' "could not write" lines.
    if kill -0 "$pid" 2>/dev/null; then
        echo "xs_standalone (pid $pid) is still running"
    else
        wait "$pid"
        echo "xs_standalone (pid $pid) is gone, exit status $?"
    fi
    echo "== xs_standalone stderr:"
    cat "$dir/err"
fi
[ $fail -eq 0 ] && echo "PASS"
exit $fail
