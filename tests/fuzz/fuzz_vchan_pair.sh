#!/bin/sh
# The delivery-model target (fuzz_vchan_pair.c), run by fuzz_run.sh.  The
# seed: 4 KiB rings; a run of eight 48-byte messages back to back in
# memory, then one batch receive of eight into packed 48-byte buffers.
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_vchan_pair 4096 \
	'\124\004\007\003\001\000\002\060\007\007\001\060'
