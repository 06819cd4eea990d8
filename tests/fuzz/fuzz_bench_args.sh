#!/bin/sh
# vipc-bench's result rows, option lists and domain ids (fuzz_bench_args.c),
# run by fuzz_run.sh.  Seeds: rows good and bad, full lists, the last id, a
# signed id, and lists whose bad name lies past a short copy's end.
tests=rtt,; tests=$tests$tests$tests$tests$tests$tests$tests$tests
tests=$tests$tests$tests$tests
trans=vipc,; trans=$trans$trans$trans$trans$trans$trans$trans$trans
trans=$trans$trans$trans$trans$trans$trans$trans
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_bench_args 1024 \
	'ROW vipc rtt 64 65536 split 1.5 2.25\n  ROW pipe stream 4096 0 same-cpu 3.14159265 -1\n\tROW memcpy stream-msgs 64 0 split 1e+300 nan\nROW x rtt\n' \
	'rtt,stream,stream-msgs' \
	'vipc,libxenvchan,pipe,unix,eventfd,busypoll,ring,memcpy' \
	'32751' '+5' "${tests}bogus" "${trans}bogus"
