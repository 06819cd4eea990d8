#!/bin/sh
# Run conformance scenarios on xensim: each on its own private simulated host
# (fresh XENSIM_DIR), always taken down afterwards. Prints one line per
# scenario and a summary; exits non-zero if any scenario failed or could not
# run. A missing prerequisite is a failure with a message, never a skip.
#   usage: run-xensim.sh [SCENARIO...]     (default: every scenario)
# Environment: top_builddir (default: two levels above this script's build
# copy, i.e. the cwd's ..), XENSIM, TS_BIN, XEN_UTILS_DIR, CONF_VCHAN_MIB,
# CONF_WAIT_S, CONF_SCENARIO_TIMEOUT (s, default 150), CONF_KEEP (keep logs),
# CONF_SH (the shell for scenarios, e.g. "busybox ash"; default sh).
here=$(cd "${0%/*}" && pwd)
say() { echo "run-xensim: $*" >&2; }
setup_fail() { say "SETUP PROBLEM: $*"; echo "SCENARIO-FAIL setup: $*"; exit 1; }

top_builddir=${top_builddir:-$(cd .. && pwd)}
XENSIM=${XENSIM:-$top_builddir/hyp/sim/xensim}
TS_BIN=${TS_BIN:-$top_builddir/tests/conformance}
[ -x "$XENSIM" ] || setup_fail "xensim is not built ($XENSIM): run make first"
for p in conf-grant conf-evtchn conf-store conf-notify conf-vchan conf-run conf-xs; do
    [ -x "$TS_BIN/$p" ] || setup_fail "$TS_BIN/$p is not built: make -C tests check (or make check)"
done
if [ -z "$XEN_UTILS_DIR" ]; then
    XEN_UTILS_DIR=$("$here/fetch-xen-utils.sh" "$top_builddir/tests/conformance/xen-utils") ||
        setup_fail "no Debian xen-utils-4.17 (set XEN_UTILS_DIR to a folder with vchan-socket-proxy and test-xenstore)"
fi
for p in vchan-socket-proxy test-xenstore; do
    [ -x "$XEN_UTILS_DIR/$p" ] || setup_fail "$XEN_UTILS_DIR/$p missing (XEN_UTILS_DIR)"
done

if [ $# -eq 0 ]; then
    for f in "$here"/scenarios/*.sh; do
        f=${f##*/}; f=${f%.sh}
        [ "$f" = lib ] || set -- "$@" "$f"
    done
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/conf-xs.XXXXXX") || setup_fail "mktemp failed"
export XENSIM TS_BIN XEN_UTILS_DIR
export TS_IMPL="$here/ts-xensim.sh" TS_XEN_BIN="$XEN_UTILS_DIR"
tmo=${CONF_SCENARIO_TIMEOUT:-150}

host_down() { [ -n "$XENSIM_DIR" ] && "$XENSIM" down >/dev/null 2>&1; }
trap 'host_down; exit 130' INT TERM

pass=0; fail=0; failed=""
for s in "$@"; do
    script=$here/scenarios/$s.sh
    if [ ! -r "$script" ]; then
        echo "SCENARIO-FAIL $s: no such scenario ($script)"
        fail=$((fail + 1)); failed="$failed $s"; continue
    fi
    export XENSIM_DIR="$work/$s/host" TS_WORK="$work/$s/ts"
    mkdir -p "$XENSIM_DIR" "$TS_WORK"
    log=$work/$s/log
    t0=$(date +%s)
    if ! "$XENSIM" up > "$log" 2>&1; then
        echo "SCENARIO-FAIL $s: xensim up failed"; cat "$log"
        fail=$((fail + 1)); failed="$failed $s"; host_down; continue
    fi
    timeout -k 5 "$tmo" ${CONF_SH:-sh} "$script" >> "$log" 2>&1
    rc=$?
    host_down
    t=$(($(date +%s) - t0))
    if [ $rc -eq 0 ] && grep -q "^SCENARIO-PASS $s\$" "$log"; then
        echo "SCENARIO-PASS $s (${t}s)"
        [ -n "$CONF_VERBOSE" ] && cat "$log"
        pass=$((pass + 1))
    else
        [ $rc -eq 124 ] && echo "run-xensim: $s timed out after $tmo s"
        cat "$log"
        grep -q "^SCENARIO-FAIL" "$log" || echo "SCENARIO-FAIL $s: exit status $rc (${t}s)"
        fail=$((fail + 1)); failed="$failed $s"
    fi
done
unset XENSIM_DIR
echo "conformance on xensim: $pass passed, $fail failed${failed:+ (}${failed# }${failed:+)}"
if [ -z "$CONF_KEEP" ]; then rm -rf "$work"; else echo "logs kept in $work"; fi
[ $fail -eq 0 ]
