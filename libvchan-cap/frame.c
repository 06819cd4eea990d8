/* SPDX-License-Identifier: MIT */
/* vipc framing on the byte rings: a 16-byte header {len, type, flags, seq}
 * then the payload padded to 16 bytes, so a header never wraps (large
 * payloads further, to the next line: vchan_frame_span()).  A padding
 * frame (VCHAN_FRAME_PAD) fills the end of the ring, sometimes into its
 * first line, before a frame that would otherwise wrap (vchan_wrap_pad()).
 * Headers are copied out of the ring, then checked here, once. */
#include "config.h"

#include <errno.h>

#include "vchan_priv.h"

int vchan_frame_check(const struct vchan_frame_hdr *h, uint32_t pos,
		      uint32_t ring_size, size_t max_msg, uint32_t expect_seq,
		      const char *who)
{
	uint32_t unknown = h->flags & ~VCHAN_MSG_FLAGS_USER &
			   ~VCHAN_FRAME_KNOWN;

	if (unknown) {
		vchan_log(who, "peer protocol error: frame at ring offset %u "
			  "has unknown framing flags 0x%08x", pos, unknown);
		return -EPROTO;
	}
	if (h->flags & VCHAN_FRAME_PAD) {
		/* Ends exactly at the end of the ring, or VCHAN_PAD_PAST bytes
		 * into its first line; never longer than the ring, or it could
		 * never be whole (a receiver would wait for it for ever). */
		uint32_t to_end = pos <= ring_size - VCHAN_FRAME_HDR ?
				  ring_size - pos - VCHAN_FRAME_HDR : 0;

		if (pos > ring_size - VCHAN_FRAME_HDR ||
		    (pos & (VCHAN_FRAME_HDR - 1)) ||
		    (h->len != to_end && h->len != to_end + VCHAN_PAD_PAST) ||
		    VCHAN_FRAME_HDR + (uint64_t)h->len > ring_size) {
			vchan_log(who, "peer protocol error: padding frame at "
				  "ring offset %u of %u bytes does not end at "
				  "the ring's end (%u) or %u bytes past it",
				  pos, h->len, ring_size, VCHAN_PAD_PAST);
			return -EPROTO;
		}
		return 0;
	}
	if (h->len > max_msg) {
		vchan_log(who, "peer protocol error: message of %u bytes "
			  "exceeds the channel's maximum of %zu", h->len,
			  max_msg);
		return -EPROTO;
	}
	if (h->seq != expect_seq) {
		vchan_log(who, "peer protocol error: message sequence %u, "
			  "expected %u (lost, duplicated or reordered)",
			  h->seq, expect_seq);
		return -EPROTO;
	}
	return 0;
}

uint64_t vchan_frame_count(const struct vchan_ring *r, uint32_t ready)
{
	struct vchan_frame_hdr h;
	uint64_t n = 0;
	uint64_t off = 0, span;

	/* Only counts: anything odd ends the walk; every header is copied
	 * out once and its length bounded by what is ready. */
	while (off + VCHAN_FRAME_HDR <= ready) {
		vchan_ring_peek(r, (uint32_t)off, &h, sizeof(h));
		if (h.flags & VCHAN_FRAME_PAD) {
			off += VCHAN_FRAME_HDR + (uint64_t)h.len;
			continue;
		}
		n++;   /* whole, or torn by the teardown: still a message */
		span = vchan_frame_span(h.len, r->idx + (uint32_t)off);
		if (off + span > ready)
			break;
		off += span;
	}
	return n;
}
