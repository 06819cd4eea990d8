#!/bin/sh
# xensim's own benchmark programs (bench-evtchn, bench-grant) run through
# xensim-bench.sh --quick and every row has positive figures.  It checks
# that they run, never how fast (benchmarks are not timed tests).
here=$(dirname "$0")
export XENSIM="${XENSIM:-${top_builddir:-..}/hyp/sim/xensim}"
export BENCH_BIN="${BENCH_BIN:-${top_builddir:-..}/tests/bench}"
out=$(sh "$here/xensim-bench.sh" --quick --json 2>&1) || {
    echo "FAIL: xensim-bench.sh --quick exited $?"; echo "$out"; exit 1; }
# The round trip split across CPUs is measured only with two of them.
want=5
[ "$(nproc)" -ge 2 ] || { want=4; echo "note: one CPU: the split round trip is not measured"; }
rows=$(printf '%s\n' "$out" | grep -c '{"test": ')
[ "$rows" -eq "$want" ] || { echo "FAIL: $rows rows, expected $want"; echo "$out"; exit 1; }
# Every number after a key must be positive (a failed run leaves them empty).
bad=$(printf '%s\n' "$out" | grep '{"test": ' |
    awk '{ n = split($0, f, /[:,}]/); for (i = 1; i <= n; i++) if (f[i-1] ~ /_us"|ratio/ && !(f[i] + 0 > 0)) { print; break } }')
[ -z "$bad" ] || { echo "FAIL: rows without positive figures:"; echo "$bad"; exit 1; }
echo "ok: $rows rows"
