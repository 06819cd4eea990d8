# Shared helpers for the xensim integration tests (sourced, POSIX sh).
# Each test gets a private simulated host (its own XENSIM_DIR), so tests run
# in parallel, and always takes it down again.
: "${top_builddir:?run through make check}"
XENSIM=${XENSIM:-$top_builddir/hyp/sim/xensim}
pass=0 fail=0
work=$(mktemp -d /tmp/vipc-test.XXXXXX)
export XENSIM_DIR="$work/host"
# Hosts a test brings up besides its own, one folder a line: sim_host DIR
# before `XENSIM_DIR=DIR xensim up`, so that an interrupted run takes them
# down too (and removes DIR).
sim_hosts=
sim_host() { sim_hosts="$sim_hosts
$1"; }
# sim_daemon DIR: the pid of the daemon of the host in DIR, the process
# holding its lock (none when it is not up).
sim_daemon() {
    for f in /proc/[0-9]*/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "$1/xensimd.lock" ] && { f=${f#/proc/}; echo "${f%%/*}"; }
    done | sort -u
}
# sim_down DIR: a test may have stopped the daemon (SIGSTOP), and a stopped
# one never answers `down`, whose folder would then go from under it:
# continue it first.
sim_down() {
    for sim_p in $(sim_daemon "$1"); do kill -CONT "$sim_p" 2>/dev/null; done
    XENSIM_DIR=$1 "$XENSIM" down >/dev/null 2>&1
    sim_p=$(sim_daemon "$1")
    [ -z "$sim_p" ] || echo "lib.sh: the daemon of $1 (pid $sim_p) is still up after xensim down" >&2
}
sim_cleanup() {
    printf '%s\n' "$sim_hosts" | while IFS= read -r sim_h; do
        [ -z "$sim_h" ] || { sim_down "$sim_h"; rm -rf "$sim_h"; }
    done
    sim_down "$sim_main"
    rm -rf "$work"
}
# Interrupted: clean up, then end as killed by that signal would (dash
# runs no EXIT trap on a signal, and bash would carry on after the trap).
sim_signal() { trap '' INT TERM; trap - EXIT; sim_cleanup; exit "$1"; }
sim_main=$XENSIM_DIR
trap sim_cleanup EXIT
trap 'sim_signal 130' INT
trap 'sim_signal 143' TERM

ok()   { pass=$((pass + 1)); echo "PASS: $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL: $1"; }
# check NAME CMD...: passes when CMD succeeds
check() { n=$1; shift; if "$@"; then ok "$n"; else bad "$n"; fi; }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]
}
# mkcfg NAME [EXTRA LINES]: writes $work/NAME.cfg, prints its path
mkcfg() {
    f="$work/$1.cfg"; printf 'name = "%s"\n' "$1" > "$f"
    shift; for l in "$@"; do printf '%s\n' "$l" >> "$f"; done
    echo "$f"
}
