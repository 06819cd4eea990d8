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
	if ((h->flags & VCHAN_FRAME_PAD) && (h->flags & VCHAN_FRAME_RUN)) {
		vchan_log(who, "peer protocol error: frame at ring offset %u "
			  "is marked both padding and run", pos);
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

int vchan_run_check(const struct vchan_frame_hdr *h,
		    const struct vchan_run_word *w, uint32_t pos,
		    uint32_t ring_size, const char *who)
{
	uint64_t span = VCHAN_RUN_HDR +
			(uint64_t)w->count * vchan_frame_pad(h->len);

	if (w->zero[0] || w->zero[1] || w->zero[2]) {
		vchan_log(who, "peer protocol error: run at ring offset %u has "
			  "nonzero reserved words", pos);
		return -EPROTO;
	}
	if (h->len == 0 || h->len > VCHAN_RUN_LEN_MAX) {
		vchan_log(who, "peer protocol error: run at ring offset %u of "
			  "%u-byte messages (a run's are 1 to %u bytes)", pos,
			  h->len, VCHAN_RUN_LEN_MAX);
		return -EPROTO;
	}
	/* Whole before the ring's end, and at most a quarter ring: the run
	 * is taken only once all of it is ready, so a larger one could
	 * keep the sender from ever completing it. */
	if (w->count < VCHAN_RUN_MIN || span > ring_size / 4 ||
	    pos + span > ring_size) {
		vchan_log(who, "peer protocol error: run at ring offset %u of "
			  "%u messages of %u bytes does not fit (at least %u "
			  "messages, at most a quarter of the %u-byte ring, "
			  "before its end)", pos, w->count, h->len,
			  VCHAN_RUN_MIN, ring_size);
		return -EPROTO;
	}
	return 0;
}

uint64_t vchan_frame_count(const struct vchan_ring *r, uint32_t ready,
			   uint32_t run_left, uint64_t skip)
{
	struct vchan_frame_hdr h;
	struct vchan_run_word w;
	uint64_t n = run_left;
	uint64_t off = skip, span;

	/* Only counts: anything odd ends the walk; every header is copied
	 * out once and its length bounded by what is ready. */
	while (off + VCHAN_FRAME_HDR <= ready) {
		vchan_ring_peek(r, (uint32_t)off, &h, sizeof(h));
		if (h.flags & VCHAN_FRAME_PAD) {
			off += VCHAN_FRAME_HDR + (uint64_t)h.len;
			continue;
		}
		if (h.flags & VCHAN_FRAME_RUN) {
			/* A sender publishes a run whole: one that is not
			 * (torn, or a count the ring cannot hold) is a lie,
			 * and counting it would let the peer make up any
			 * number of messages. */
			if (off + VCHAN_RUN_HDR > ready)
				break;
			vchan_ring_peek(r, (uint32_t)off + VCHAN_FRAME_HDR, &w,
					sizeof(w));
			/* 0-byte messages would take no ring bytes: any
			 * count in 32.  Only what a sender can write. */
			if (h.len == 0 || h.len > VCHAN_RUN_LEN_MAX ||
			    w.count < VCHAN_RUN_MIN || w.count > r->size)
				break;
			span = VCHAN_RUN_HDR +
			       (uint64_t)w.count * vchan_frame_pad(h.len);
			if (off + span > ready)
				break;
			n += w.count;
			off += span;
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
