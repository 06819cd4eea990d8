# Shared helpers for the xensim integration tests (sourced, POSIX sh).
# Each test gets a private simulated host (its own XENSIM_DIR), so tests run
# in parallel, and always takes it down again.
: "${top_builddir:?run through make check}"
XENSIM=${XENSIM:-$top_builddir/hyp/sim/xensim}
pass=0 fail=0
work=$(mktemp -d /tmp/vipc-test.XXXXXX)
export XENSIM_DIR="$work/host"
sim_cleanup() { "$XENSIM" down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap sim_cleanup EXIT INT TERM

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
