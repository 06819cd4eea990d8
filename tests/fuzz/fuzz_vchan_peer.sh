#!/bin/sh
# The hostile-peer target (fuzz_vchan_peer.c), run by fuzz_run.sh.  Seeds,
# each a well-behaved peer on 4 KiB rings, this end a framed server:
#   - its inbound ring starts empty 16 bytes below 2^32; a 100-byte
#     message, whose frame crosses the wrap, then a receive;
wrap='\041\000\377\377\002\001\000\003\144\000\001\000\000\000'
wrap="$wrap"'\007\350\003\000\000\000\000'
#   - a run of four 16-byte messages, then a batch receive into packed
#     16-byte buffers (taken in one copy).
run='\041\000\377\377\000\111\017\000\000\000\000\002\207\020\000\000\000'
run="$run"'\000\000'
#   - a send while this thread holds a reservation, of a message past
#     the channel's maximum: EINVAL (the hold) before EMSGSIZE (a change
#     that checked the message first was caught by this input).
held='\041\111\000\000\000\001\031\010\377\012\377\377\352\000'
exec sh "$(dirname "$0")/fuzz_run.sh" fuzz_vchan_peer 4096 "$wrap" "$run" \
	"$held"
