#!/bin/sh
# tools/demo.sh (make demo) leaves no simulated host behind: interrupted
# (Ctrl-C reaches its whole process group; SIGTERM may reach it alone) it
# takes its host down and exits 130 or 143; failed, it takes it down too,
# keeps its folder and says where; done, it removes its folder.  A host is
# gone when no process holds its xensimd.lock (the daemon holds it for its
# whole life; there is no pid file).
top_builddir=${top_builddir:?run through make check}
top_srcdir=${top_srcdir:?run through make check}
XENSIM=$top_builddir/hyp/sim/xensim
t=$(mktemp -d "${TMPDIR:-/tmp}/vipc-demo-stop.XXXXXX") || exit 99
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

# The pids holding a xensimd.lock, deleted or not, under $t or a folder
# the demo said it started a host in (its output is kept in $t/*.out).
holders() {
    dirs=$(sed -n 's#^xensim: up in \(.*\)/host$#\1#p' "$t"/*.out 2>/dev/null)
    find /proc/[0-9]*/fd -maxdepth 1 -lname '*/xensimd.lock*' -printf '%p %l\n' 2>/dev/null |
    while read -r f l; do
        for d in "$t" $dirs; do
            case $l in "$d"/*) f=${f#/proc/}; echo "${f%%/*}"; break ;; esac
        done
    done | sort -u
}
# What a broken demo left: its daemons, ended here by their pids, and its
# folders.
cleanup() {
    for p in $(holders); do kill "$p" 2>/dev/null; done
    for d in $(sed -n 's#^xensim: up in \(.*\)/host$#\1#p' "$t"/*.out 2>/dev/null); do
        case $d in */vipc-demo.*) rm -rf "$d" ;; esac
    done
    rm -rf "$t"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
command -v setsid > /dev/null 2>&1 ||
    { echo "FAIL: setsid (util-linux) is missing: this test needs it"; exit 1; }
# none WHAT: no host of the demo is up (down waits for little: allow 3 s).
none() {
    i=0
    while [ -n "$(holders)" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
    if [ -z "$(holders)" ]; then ok "$1: no xensim daemon left"
    else fail "$1: xensim daemons left (pids $(holders | tr '\n' ' '))"; fi
}

# A build tree whose conf-xs, which the demo runs in domain bob while its
# first host is up, says so and waits: the demo is stopped right there.
fake=$t/top
mkdir -p "$fake/hyp/sim" "$fake/tests/conformance"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$XENSIM" > "$fake/hyp/sim/xensim"
# (A domain writes only its host's work folder, the one above XENSIM_DIR.)
printf '#!/bin/sh\n: > "${XENSIM_DIR%%/*}/in-bob"\nexec sleep 3\n' > "$fake/tests/conformance/conf-xs"
in_bob() { ls "$t/$1"/vipc-demo.*/in-bob > /dev/null 2>&1; }
chmod +x "$fake/hyp/sim/xensim" "$fake/tests/conformance/conf-xs"

# stopped NAME SIGNAL GROUP: the demo in a session of its own (SIGINT not
# ignored, as a shell's background job has it), sent SIGNAL once inside
# bob, to its whole process group (as Ctrl-C) or, GROUP empty, to itself.
stopped() {
    n=$1 sig=$2 group=$3 want=$4
    mkdir "$t/$n"
    TMPDIR=$t/$n top_builddir=$fake setsid env --default-signal=INT \
        sh "$top_srcdir/tools/demo.sh" > "$t/$n.out" 2>&1 &
    pid=$!
    i=0
    while ! in_bob "$n" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    in_bob "$n" || { fail "$n: the demo never reached domain bob"; cat "$t/$n.out"; }
    kill "-$sig" "$group$pid"
    wait "$pid"
    rc=$?
    [ "$rc" = "$want" ] && ok "$n: exit status $rc" ||
        { fail "$n: exit status $rc, not $want"; cat "$t/$n.out"; }
    none "$n"
    grep -q "interrupted" "$t/$n.out" && ok "$n: says it was interrupted" ||
        { fail "$n: no word of the interruption"; cat "$t/$n.out"; }
}
stopped ctrl-c INT - 130
stopped sigterm TERM "" 143

# A failed step (here: the transfer, without Debian's programs) takes the
# host down too, and keeps the demo's folder for its logs, naming it.
mkdir "$t/failed"
TMPDIR=$t/failed XEN_UTILS_DIR=$t/nonexistent top_builddir=$top_builddir \
    sh "$top_srcdir/tools/demo.sh" > "$t/failed.out" 2>&1
rc=$?
out=$(cat "$t/failed.out")
[ $rc -ne 0 ] && ok "failed: exit status $rc" || fail "failed: exit status 0"
none failed
d=$(ls -d "$t"/failed/vipc-demo.* 2>/dev/null)
[ -n "$d" ] && [ -f "$d/transfer.out" ] && printf '%s\n' "$out" | grep -q "kept in $d\$" &&
    ok "failed: the folder is kept and named" ||
    { fail "failed: the folder (${d:-none}) not kept or not named"; printf '%s\n' "$out"; }

# Done: nothing left, the folder removed, no word of logs it removed.
mkdir "$t/done"
TMPDIR=$t/done top_builddir=$top_builddir sh "$top_srcdir/tools/demo.sh" > "$t/done.out" 2>&1
rc=$?
out=$(cat "$t/done.out")
[ $rc -eq 0 ] && ok "done: exit status 0" || { fail "done: exit status $rc"; printf '%s\n' "$out"; }
none "done"
[ -z "$(ls -A "$t/done")" ] && ok "done: the folder is removed" || fail "done: left $(ls "$t/done")"
printf '%s\n' "$out" | grep -q "logs kept in" && fail "done: speaks of logs kept" ||
    ok "done: no word of kept logs"
[ "$fails" = 0 ] && echo "demo-stop: all checks passed" || { echo "demo-stop: $fails check(s) failed"; exit 1; }
