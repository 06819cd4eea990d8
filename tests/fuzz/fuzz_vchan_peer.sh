#!/bin/sh
# Runs the hostile-peer fuzz target for a bounded time (FUZZ_TIME seconds,
# default 30) from a fresh corpus; any crash or sanitizer report fails.
set -e
bin=./fuzz_vchan_peer
[ -x "$bin" ] || { echo "fuzz_vchan_peer not built (no clang)"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-vchan.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$bin" -max_total_time="${FUZZ_TIME:-30}" -max_len=4096 -timeout=10 \
	-rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$dir/" \
	"$dir" 2>&1 | tail -n 30
status=$?
if ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* 2>/dev/null; then
	mkdir -p fuzz-artifacts && cp "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* fuzz-artifacts/ 2>/dev/null
	exit 1
fi
exit $status
