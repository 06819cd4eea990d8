#!/bin/sh
# The delivery-model target (fuzz_vchan_pair.c), run by fuzz_run.sh.  The
# second byte of an input picks where the indices start (0: at 0).
#
# First a regression input, replayed once: 1 MiB rings, 682 batches of
# eight empty messages, 5,456 accepted and not yet delivered, more than the
# model once held (a reviewer's input, on which the target aborted with the
# library right).  Replayed rather than seeded: at 20 ms a run, the fuzzer
# mutating it made a fifth of the runs in the same time.
queue='\076\000'
i=0
while [ $i -lt 682 ]; do
	queue="$queue\\004\\007\\001\\000\\000\\000"
	i=$((i + 1))
done
if [ -x ./fuzz_vchan_pair ]; then
	in=$(mktemp "${TMPDIR:-/tmp}/fuzz_vchan_pair.queue.XXXXXX") || exit 99
	printf "$queue" > "$in" || exit 99
	./fuzz_vchan_pair "$in" > "$in.log" 2>&1
	status=$?
	if [ "$status" -ne 0 ]; then
		tail -n 30 "$in.log"
		echo "fuzz_vchan_pair failed on its regression input"
		rm -f "$in" "$in.log"
		exit 1
	fi
	rm -f "$in" "$in.log"
fi
# The seeds: 16 KiB rings; a run of eight 48-byte messages back to back in
# memory, then one batch receive of eight into packed 48-byte buffers.
# And a call of the direction this thread holds, whose own fault (too
# long) must not come before the hold's EINVAL (caught such a change).
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_vchan_pair 4096 \
	'\124\000\004\007\003\001\000\002\060\007\007\001\060' \
	'\000\055\166\166\166\002\124\000\001\003\214\057\065'
