#!/bin/sh
# fuzz_run.sh NAME MAX_LEN [SEED...]: runs fuzz target NAME (built in the
# current directory) for a bounded time (FUZZ_TIME seconds, default 30)
# from a fresh corpus, inputs of at most MAX_LEN bytes.  Each SEED is a
# printf(1) format (octal escapes) of one input to start from: one that
# reaches deep paths a short run would seldom find by itself.  Fails on
# the fuzzer's own non-zero exit (a crash, a sanitizer report, a binary
# that does not start) and on any artifact it left (crash, leak, timeout,
# oom).  Each target's TESTS entry is a short wrapper that calls this.
name=$1
max_len=$2
bin=./$name
[ -x "$bin" ] || { echo "$name not built (no clang)"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX") || exit 99
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus" "$dir/seeds" || exit 99
shift 2
n=0
for seed in "$@"; do
	n=$((n + 1))
	printf "$seed" > "$dir/seeds/$n" || exit 99
done
# The output goes to a file, not through a pipe, so that $? is the fuzzer's.
"$bin" -max_total_time="${FUZZ_TIME:-30}" -max_len="$max_len" -timeout=10 \
	-rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$dir/" \
	"$dir/corpus" "$dir/seeds" >"$dir/log" 2>&1
status=$?
tail -n 30 "$dir/log"
artifacts=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o \
	-name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \))
if [ -n "$artifacts" ]; then
	echo "$name left artifacts (kept in fuzz-artifacts/):"
	echo "$artifacts"
	mkdir -p fuzz-artifacts && cp $artifacts fuzz-artifacts/
	exit 1
fi
if [ "$status" -ne 0 ]; then
	echo "$name exited with status $status"
	exit 1
fi
# A run that did not get going prints no final stats: count it as a failure.
grep -q '^stat::number_of_executed_units' "$dir/log" || {
	echo "$name printed no final stats"; exit 1; }
