#!/bin/sh
# vipc-bench's bare ring peer works: every measurement of `vipc-bench local
# --tiny --transports ring`, in both layouts, ran (a framing mistake fails its receiver with
# EPROTO) and gave a positive figure.  It checks that the peer runs, never
# how fast (benchmarks are not timed tests).
BENCH=${VIPC_BENCH:-${top_builddir:-..}/tools/vipc-bench}
one_cpu=
# In both layouts of the channel's control page (--layout).
for layout in lines xenvchan; do
    out=$("$BENCH" local --tiny --transports ring --layout "$layout" 2>&1) || {
        echo "FAIL: vipc-bench local --layout $layout exited $?"; echo "$out"; exit 1; }
    rows=$(printf '%s\n' "$out" | grep -c '^ROW ring ')
    if [ "$(nproc)" -lt 2 ]; then
        # It spins: with one CPU it is left out, and must say nothing.
        [ "$rows" -eq 0 ] || { echo "FAIL: $rows ring rows on one CPU"; exit 1; }
        echo "ok: one CPU, the ring is left out as documented"
        one_cpu=1
        continue
    fi
    # One round trip, and per ring (64 KiB, 1 MiB) four streams and a batch.
    [ "$rows" -eq 11 ] || { echo "FAIL ($layout): $rows ring rows, expected 11"; echo "$out"; exit 1; }
    bad=$(printf '%s\n' "$out" | awk '$1 == "ROW" && $2 == "ring" && !($7 > 0)')
    [ -z "$bad" ] || { echo "FAIL ($layout): rows without a positive figure:"; echo "$bad"; exit 1; }
    echo "ok: $layout layout, $rows ring rows"
done
# A wrong layout name is refused, naming it.
out=$("$BENCH" local --tiny --transports ring --layout bogus 2>&1) &&
    { echo "FAIL: --layout bogus accepted"; exit 1; }
printf '%s\n' "$out" | grep -q "not 'bogus'" ||
    { echo "FAIL: --layout bogus: no clear error"; echo "$out"; exit 1; }
echo "ok: --layout bogus refused"
# --rounds: the rounds merged into one row per measurement, each a figure
# the rounds gave (the median of 3), not one row per round.
if [ -z "$one_cpu" ]; then
    out=$("$BENCH" local --tiny --transports ring --tests stream-msgs --rounds 3 2>&1) || {
        echo "FAIL: --rounds 3 exited $?"; echo "$out"; exit 1; }
    rows=$(printf '%s\n' "$out" | grep -c '^ROW ring stream-msgs ')
    [ "$rows" -eq 2 ] || { echo "FAIL: --rounds 3: $rows rows, expected 2"; echo "$out"; exit 1; }
    bad=$(printf '%s\n' "$out" | awk '$1 == "ROW" && !($7 > 0)')
    [ -z "$bad" ] || { echo "FAIL: --rounds 3: rows without a positive figure:"; echo "$bad"; exit 1; }
    echo "ok: --rounds 3 merged into $rows rows"
fi
for bad in 0 21 -1 2x +3 ""; do
    out=$("$BENCH" local --tiny --transports ring --rounds "$bad" 2>&1) &&
        { echo "FAIL: --rounds '$bad' accepted"; exit 1; }
    printf '%s\n' "$out" | grep -q "not '$bad'" ||
        { echo "FAIL: --rounds '$bad': no clear error"; echo "$out"; exit 1; }
done
echo "ok: --rounds 0, 21, -1, 2x, +3 and empty refused"
# On one CPU the ring's frames were never exercised: say so as a skip.
[ -z "$one_cpu" ] || { echo "SKIP: one CPU: the bare ring's framing was not run"; exit 77; }
