#!/bin/sh
# Benchmark xensim itself (not a test): event-channel notify-to-wakeup round
# trip between two simulated domains against a raw eventfd ping-pong measured
# in the same run, and grant share / map+unmap of 1, 16 and 256 pages.
# Prints a table, then one JSON object (with --json, only the JSON).
#   usage: xensim-bench.sh [--quick] [--json]
# XENSIM (the xensim program) and BENCH_BIN (folder with bench-evtchn and
# bench-grant) default to the build tree this script is run from by make.
set -eu
quick=0 json=0
for a in "$@"; do
    case "$a" in
    --quick) quick=1 ;;
    --json) json=1 ;;
    *) echo "usage: $0 [--quick] [--json]" >&2; exit 2 ;;
    esac
done
: "${XENSIM:?set XENSIM to the xensim program}"
: "${BENCH_BIN:?set BENCH_BIN to the folder holding bench-evtchn and bench-grant}"
if [ $quick = 1 ]; then rtt_iters=2000 grant_iters=50; else rtt_iters=50000 grant_iters=500; fi
ncpu=$(nproc)
work=$(mktemp -d /tmp/xensim-bench.XXXXXX)
export XENSIM_DIR="$work/host"
cleanup() { "$XENSIM" down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
"$XENSIM" up >/dev/null
printf 'name = "bench-a"\n' > "$work/a.cfg"
printf 'name = "bench-b"\n' > "$work/b.cfg"
A=$("$XENSIM" create "$work/a.cfg")
B=$("$XENSIM" create "$work/b.cfg")
results="$work/results"
: > "$results"

field() { sed -n "s/.*\"$1\": \([0-9.]*\).*/\1/p"; }

rtt() { # placement cpu_a cpu_b
    d="$work/rtt-$1"; mkdir -p "$d"
    "$XENSIM" exec "$A" -- "$BENCH_BIN/bench-evtchn" serve "$d" "$B" "$rtt_iters" "$2" &
    spid=$!
    x=$("$XENSIM" exec "$B" -- "$BENCH_BIN/bench-evtchn" ping "$d" "$A" "$rtt_iters" "$3")
    wait $spid
    e=$("$BENCH_BIN/bench-evtchn" eventfd "$rtt_iters" "$2" "$3")
    xm=$(echo "$x" | field median_us); xp=$(echo "$x" | field p99_us)
    em=$(echo "$e" | field median_us); ep=$(echo "$e" | field p99_us)
    echo "rtt $1 $xm $xp $em $ep" >> "$results"
}

grant() { # pages
    d="$work/grant-$1"; mkdir -p "$d"
    s=$("$XENSIM" exec "$A" -- "$BENCH_BIN/bench-grant" share "$d" "$B" "$1" "$grant_iters" &
        "$XENSIM" exec "$B" -- "$BENCH_BIN/bench-grant" map "$d" "$A" "$1" "$grant_iters" >"$d/map.json"
        wait)
    sm=$(echo "$s" | field median_us); sp=$(echo "$s" | field p99_us)
    mm=$(field median_us < "$d/map.json"); mp=$(field p99_us < "$d/map.json")
    echo "grant $1 $sm $sp $mm $mp" >> "$results"
}

if [ "$ncpu" -ge 2 ]; then rtt split 0 1; fi
rtt same-cpu 0 0
for n in 1 16 256; do grant "$n"; done

if [ $json = 0 ]; then
    echo "xensim benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ), $ncpu CPUs, $rtt_iters round trips, $grant_iters grant rounds)"
    echo
    printf '%-28s %10s %10s %12s %10s %8s\n' "round trip (64-bit event)" "median us" "p99 us" "eventfd med" "eventfd p99" "ratio"
    awk '$1=="rtt"{printf "%-28s %10.2f %10.2f %12.2f %10.2f %8.2f\n", "evtchn " $2, $3, $4, $5, $6, $3/$5}' "$results"
    echo
    printf '%-28s %10s %10s %12s %10s\n' "grants" "share med" "share p99" "map+unmap med" "map p99"
    awk '$1=="grant"{printf "%-28s %10.2f %10.2f %12.2f %10.2f\n", $2 " page(s)", $3, $4, $5, $6}' "$results"
    echo
fi
awk -v n="$ncpu" 'BEGIN{printf "{\"benchmark\": \"xensim\", \"cpus\": %d, \"results\": [", n; sep=""}
  $1=="rtt"{printf "%s\n  {\"test\": \"evtchn-rtt\", \"placement\": \"%s\", \"median_us\": %s, \"p99_us\": %s, \"eventfd_median_us\": %s, \"eventfd_p99_us\": %s, \"ratio_to_eventfd\": %.3f}", sep, $2, $3, $4, $5, $6, $3/$5; sep=","}
  $1=="grant"{printf "%s\n  {\"test\": \"grant\", \"pages\": %s, \"share_median_us\": %s, \"share_p99_us\": %s, \"map_unmap_median_us\": %s, \"map_unmap_p99_us\": %s}", sep, $2, $3, $4, $5, $6; sep=","}
  END{print "\n]}"}' "$results"
