/* SPDX-License-Identifier: MIT */
/* Sending framed messages: whole frames when they fit; larger ones stream
 * through in pieces of at most a quarter ring, from the caller's buffer while
 * the call lasts and from the channel's backlog after it returns. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vchan_priv.h"

/* The end's rights and mode, like a message's own faults, are told before
 * the call waits for the lock: a call that gave up on it (-EAGAIN,
 * -ETIMEDOUT) would hide them.  The end's state is looked at under it. */
static int send_allowed(const struct vchan *v)
{
	/* This thread holds a reservation: refused before anything else,
	 * as the lock's way in would (vchan_lock_enter()). */
	if (vchan_lock_held(&v->tx.mu))
		return -EINVAL;
	if (!(v->rights & VCHAN_RIGHT_SEND))
		return -EPERM;
	return v->raw ? -EINVAL : 0;
}

static void tx_start(struct vchan *v, uint32_t type, uint32_t flags,
		     const void *buf, size_t len)
{
	struct vchan_tx *t = &v->tx;

	t->hdr.len = (uint32_t)len;
	t->hdr.type = type;
	t->hdr.flags = flags;
	t->hdr.seq = t->next_seq++;
	t->src = buf;
	t->owned = false;
	t->off = 0;
	t->frame = vchan_frame_span(len, t->ring.idx);
	t->busy = true;
}

/* A whole frame that fits before the ring's end, straight in: header,
 * payload, padding, one advance (what tx_start() and vchan_tx_pump() do
 * for any frame, without their bookkeeping).  The caller checked the
 * room, knows the backlog is empty, and publishes. */
static void tx_put_whole(struct vchan *v, uint32_t type, uint32_t flags,
			 const void *buf, size_t len, size_t frame)
{
	struct vchan_tx *t = &v->tx;
	struct vchan_frame_hdr h = { .len = (uint32_t)len, .type = type,
				     .flags = flags, .seq = t->next_seq++ };
	uint8_t *p = vchan_ring_at(&t->ring, 0);

	memcpy(p, &h, sizeof(h));
	if (len)     /* buf may be NULL for an empty message */
		vchan_copy_in(p + VCHAN_FRAME_HDR, buf, len);
	memset(p + VCHAN_FRAME_HDR + len, 0, frame - VCHAN_FRAME_HDR - len);
	vchan_ring_advance(&t->ring, (uint32_t)frame);
}

/* A padding frame of pad bytes (header included) from our index: its
 * header is all that is written (vchan_wrap_pad()). */
static void tx_put_pad(struct vchan *v, uint32_t pad)
{
	struct vchan_frame_hdr h = { .len = pad - VCHAN_FRAME_HDR,
				     .flags = VCHAN_FRAME_PAD };

	memcpy(vchan_ring_at(&v->tx.ring, 0), &h, sizeof(h));
	vchan_ring_advance(&v->tx.ring, pad);
}

/* Room for need bytes: 1 yes, 0 no, <0 the peer's cons is impossible
 * (logged, latched).  The peer's cons is loaded as vchan_tx_pump() loads
 * it: every time, or when lazy only when what we know of it is short.
 * Inlined: it is most of a small send's fast path. */
static inline __attribute__((always_inline)) int tx_room(struct vchan *v,
							 size_t need)
{
	struct vchan_ring *ring = &v->tx.ring;
	uint32_t space;
	int r;

	r = ring->lazy ? vchan_ring_space_atleast(ring, (uint32_t)need,
						  &space)
		       : vchan_ring_space(ring, &space);
	if (r < 0)
		return vchan_fail(v, r);
	return space >= need;
}

/* Room for a whole frame before the ring's end. */
static int tx_fits_whole(struct vchan *v, size_t frame)
{
	if (frame > vchan_ring_tail(&v->tx.ring))
		return 0;
	return tx_room(v, frame);
}


/* The message cannot finish now: keep what is left in the backlog, in
 * the spare send_locked() made. */
static int tx_to_backlog(struct vchan *v)
{
	struct vchan_tx *t = &v->tx;
	size_t done = t->off > VCHAN_FRAME_HDR ? t->off - VCHAN_FRAME_HDR : 0;
	size_t left = done < t->hdr.len ? t->hdr.len - done : 0;
	uint8_t *copy;

	if (t->owned)
		return 0;
	if (!t->spare || t->spare_cap < t->hdr.len) {
		/* Only a call without a deadline gets here without a spare,
		 * and such a call does not stop halfway. */
		vchan_log(v->name, "a message stopped halfway with no room "
			  "kept for the rest: the channel fails");
		t->busy = false;
		t->src = NULL;
		return vchan_fail(v, -ENOMEM);
	}
	/* Keep the whole payload so offsets stay as they are. */
	copy = t->spare;
	t->spare = NULL;
	t->spare_cap = 0;
	if (left)
		memcpy(copy + done, t->src + done, left);
	t->src = copy;
	t->owned = true;
	return 0;
}

int vchan_tx_finish(struct vchan *v, bool notify)
{
	uint8_t bits = 0;

	/* prod first: nothing between the message's bytes and the store that
	 * hands them over (the rx trylock below is a locked instruction,
	 * which would wait for those bytes to reach the peer's cache first).
	 * Our inbound consumption then rides along: in libxenvchan's layout
	 * cons and prod share the control page's first cache line, which the
	 * prod store owns; in LINES, our cons line is ours until the peer
	 * runs short of room and looks. */
	if (vchan_ring_publish(&v->tx.ring) || v->tx.ring.owed)
		bits |= VCHAN_NOTIFY_WRITE;
	if (!notify) {
		/* Owed to the peer by the call's last finish. */
		v->tx.ring.owed = bits != 0;
		return 0;
	}
	v->tx.ring.owed = false;
	if (vchan_rx_publish_try(v))
		bits |= VCHAN_NOTIFY_READ;
	return bits ? vchan_notify_peer(v, bits) : 0;
}

int vchan_tx_pump(struct vchan *v, bool defer_notify)
{
	struct vchan_tx *t = &v->tx;
	struct vchan_ring *ring = &t->ring;
	size_t body = VCHAN_FRAME_HDR + (size_t)t->hdr.len;
	uint32_t space;
	int r;

	if (!t->busy)
		return 0;
	/* One load of the peer's cons per pump: what it says is checked on
	 * every send, so a broken value fails the next call (-EPROTO).  With
	 * cons on a line of its own (lazy), only when what we know of it
	 * does not cover the rest of the frame: a broken value then fails
	 * the call that needs it. */
	if (ring->lazy)
		r = vchan_ring_space_atleast(ring, (uint32_t)(t->frame - t->off),
					     &space);
	else
		r = vchan_ring_space(ring, &space);
	if (r < 0)
		return vchan_fail(v, r);
	while (t->off < t->frame && space) {
		size_t n;

		if (t->off < VCHAN_FRAME_HDR)
			n = VCHAN_FRAME_HDR - t->off;
		else if (t->off < body)
			n = body - t->off;
		else
			n = t->frame - t->off;
		if (n > space)
			n = space;
		if (n > ring->quarter)
			n = ring->quarter;
		if (t->off < VCHAN_FRAME_HDR)
			vchan_ring_write(ring, (const uint8_t *)&t->hdr + t->off,
					 n);
		else if (t->off < body)
			vchan_ring_write(ring, t->src + (t->off -
							 VCHAN_FRAME_HDR), n);
		else
			vchan_ring_zero(ring, n);
		t->off += n;
		space -= (uint32_t)n;
		if (vchan_ring_publish_due(ring)) {
			r = vchan_tx_finish(v, !defer_notify);
			if (r < 0)
				return r;
		}
	}
	if (t->off == t->frame) {
		t->busy = false;
		/* A backlog's copy is the next spare (one of them is kept). */
		if (t->owned && !t->spare) {
			t->spare = (uint8_t *)t->src;
			t->spare_cap = t->hdr.len ? t->hdr.len : 1;
		} else if (t->owned) {
			free((void *)t->src);
		}
		t->owned = false;
		t->src = NULL;
		VCHAN_COUNT(v->msgs_sent, 1);
		VCHAN_COUNT(v->bytes_sent, t->hdr.len);
	}
	return defer_notify ? 0 : vchan_tx_finish(v, true);
}

/* Drain the backlog (tx lock held). */
static int flush_locked(struct vchan *v, uint64_t *deadline)
{
	int r;

	while (v->tx.busy) {
		r = vchan_tx_pump(v, false);
		if (r < 0)
			return r;
		if (!v->tx.busy)
			break;
		r = vchan_wait(v, VCHAN_WANT_SPACE, 1, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

/* A whole frame for len bytes that would run past the ring's end: a
 * padding frame first, once there is room for both (at most half the ring
 * and a line), and *frame becomes the span after it.  1: padded; <0: no
 * room in time (nothing written), or the peer's cons is impossible.  Out
 * of line: it runs once a lap, the fast path on every send. */
static __attribute__((noinline, cold)) int
tx_pad_before(struct vchan *v, size_t len, size_t *frame, uint64_t *deadline)
{
	struct vchan_ring *ring = &v->tx.ring;
	uint32_t pad = vchan_wrap_pad(len, vchan_ring_tail(ring));
	size_t after = vchan_frame_span(len, ring->idx + pad);
	uint32_t need = pad + (uint32_t)after;
	int r = tx_room(v, need);

	if (r == 0)
		r = vchan_wait(v, VCHAN_WANT_SPACE, need, deadline);
	if (r < 0)
		return r;
	tx_put_pad(v, pad);
	*frame = after;
	return 1;
}

/* One message, tx lock held, backlog empty. */
static int send_locked(struct vchan *v, uint32_t type, uint32_t flags,
		       const void *buf, size_t len, uint64_t *deadline,
		       uint32_t *seq)
{
	struct vchan_tx *t = &v->tx;
	/* The backlog is empty: the frame starts at our index. */
	size_t frame = vchan_frame_span(len, t->ring.idx);
	uint32_t size = t->ring.size, need;
	int r;

	r = frame <= t->ring.quarter ? tx_fits_whole(v, frame) : 0;
	if (r == 0 && vchan_ring_pads(&t->ring) && frame <= t->ring.quarter &&
	    frame > vchan_ring_tail(&t->ring))
		r = tx_pad_before(v, len, &frame, deadline);
	if (r < 0)
		return r;
	if (r) {
		if (seq)
			*seq = t->next_seq;
		tx_put_whole(v, type, flags, buf, len, frame);
		VCHAN_COUNT(v->msgs_sent, 1);
		VCHAN_COUNT(v->bytes_sent, len);
		return vchan_tx_finish(v, true);
	}

	/* Before the first byte: a frame that fits the ring goes whole when
	 * not blocking; otherwise start once a quarter ring (or the frame) is
	 * free.  A frame larger than the ring sent without blocking goes to
	 * the backlog straight away. */
	if (*deadline == 0 && frame <= size)
		need = (uint32_t)frame;
	else
		need = min_u32(frame, t->ring.quarter);
	if (!(*deadline == 0 && frame > size) &&
	    vchan_ring_space_known(&t->ring) < need) {
		r = vchan_wait(v, VCHAN_WANT_SPACE, need, deadline);
		if (r < 0)
			return r;
	}
	/* The call may end before the message's last byte (a deadline, the
	 * frame larger than what we know is free): room for the backlog
	 * first, so that no memory is said before any byte goes, never after
	 * some went (the peer would hold a message begun, the caller a buffer
	 * we still read from). */
	if (*deadline != UINT64_MAX &&
	    vchan_ring_space_known(&t->ring) < frame &&
	    (r = vchan_room(&t->spare, &t->spare_cap, len)) < 0)
		return r;
	tx_start(v, type, flags, buf, len);
	if (seq)
		*seq = t->hdr.seq;
	for (;;) {
		r = vchan_tx_pump(v, false);
		if (r < 0) {
			t->busy = false;
			return r;
		}
		if (!t->busy)
			return 0;
		need = min_u32(t->frame - t->off, t->ring.quarter);
		r = vchan_wait(v, VCHAN_WANT_SPACE, need, deadline);
		if (r == -EAGAIN || r == -ETIMEDOUT)
			return tx_to_backlog(v);
		if (r < 0) {
			t->busy = false;
			return r;
		}
	}
}

static int check_msg(struct vchan *v, uint32_t flags, size_t len)
{
	if (flags & ~VCHAN_MSG_FLAGS_USER)
		return -EINVAL;
	if (len > v->max_msg)
		return -EMSGSIZE;
	return 0;
}

int vchan_send(struct vchan *v, uint32_t type, uint32_t flags,
	       const void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	int r;

	if (!v || (!buf && len))
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	r = send_allowed(v);
	if (!r)
		r = check_msg(v, flags, len);
	if (!r)
		r = vchan_lock_take(&v->tx.mu, &deadline);
	if (r < 0)
		return r;
	r = vchan_state(v, true);
	if (!r)
		r = flush_locked(v, &deadline);
	if (!r)
		r = send_locked(v, type, flags, buf, len, &deadline, NULL);
	vchan_unlock(&v->tx.mu);
	return r;
}

int vchan_flush(struct vchan *v, int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	int r;

	if (!v)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	r = vchan_lock_enter(&v->tx.mu, &deadline);
	if (r < 0)
		return r;
	r = vchan_state(v, true);
	if (!r)
		r = flush_locked(v, &deadline);
	vchan_unlock(&v->tx.mu);
	return r;
}

/* How many of msgs[0..n) can go out now as one run (the first of them
 * checked by the caller): same type, flags and length (1 to
 * VCHAN_RUN_LEN_MAX bytes), the run whole before the ring's end, in a
 * quarter ring and in space.  Fewer than VCHAN_RUN_MIN: not a run. */
static size_t run_length(struct vchan *v, const struct vchan_msg *msgs,
			 size_t n, uint32_t space)
{
	const struct vchan_ring *ring = &v->tx.ring;
	size_t len = msgs[0].len, stride = vchan_frame_pad(len), k, fit;
	uint32_t room = vchan_ring_tail(ring);

	if (len == 0 || len > VCHAN_RUN_LEN_MAX || n < VCHAN_RUN_MIN ||
	    !msgs[1].buf || msgs[1].len != len || msgs[1].type != msgs[0].type ||
	    msgs[1].flags != msgs[0].flags)
		return 0;
	if (room > space)
		room = space;
	if (room > ring->quarter)
		room = ring->quarter;
	if (room < VCHAN_RUN_HDR + VCHAN_RUN_MIN * stride)
		return 0;
	fit = (room - VCHAN_RUN_HDR) / stride;
	for (k = 2; k < n && k < fit; k++)
		if (msgs[k].len != len || msgs[k].type != msgs[0].type ||
		    msgs[k].flags != msgs[0].flags || !msgs[k].buf)
			break;
	return k < fit ? k : fit;
}

/* Put msgs[0..k) as one run at our index (run_length() said it fits). */
static void tx_put_run(struct vchan *v, struct vchan_msg *msgs, size_t k)
{
	struct vchan_tx *t = &v->tx;
	size_t len = msgs[0].len, stride = vchan_frame_pad(len);
	struct vchan_frame_hdr h = { .len = (uint32_t)len,
				     .type = msgs[0].type,
				     .flags = msgs[0].flags | VCHAN_FRAME_RUN,
				     .seq = t->next_seq };
	struct vchan_run_word w = { .count = (uint32_t)k };
	uint8_t *p = vchan_ring_at(&t->ring, 0);

	memcpy(p, &h, sizeof(h));
	memcpy(p + VCHAN_FRAME_HDR, &w, sizeof(w));
	p += VCHAN_RUN_HDR;
	for (size_t i = 0, j; i < k; i = j) {
		const uint8_t *src = msgs[i].buf;

		/* Payloads that lie back to back in memory, as they will in
		 * the ring (no padding between them), go in one copy. */
		for (j = i + 1; j < k && stride == len &&
		     msgs[j].buf == src + (j - i) * len; j++)
			;
		vchan_copy_in(p, src, (j - i) * len);
		for (size_t q = i; q < j; q++, p += stride) {
			if (stride > len)
				memset(p + len, 0, stride - len);
			msgs[q].seq = t->next_seq++;
		}
	}
	vchan_ring_advance(&t->ring, (uint32_t)(VCHAN_RUN_HDR + k * stride));
	VCHAN_COUNT(v->msgs_sent, k);
	VCHAN_COUNT(v->bytes_sent, k * len);
}

int vchan_sendv(struct vchan *v, struct vchan_msg *msgs, size_t n,
		int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	size_t i = 0;
	uint32_t space = 0;
	int r;

	if (!v || (!msgs && n))
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	if (n == 0)
		return 0;
	/* The first message's own faults come before "not now", as a
	 * single send's do. */
	r = send_allowed(v);
	if (!r)
		r = check_msg(v, msgs[0].flags, msgs[0].len);
	if (!r && msgs[0].len && !msgs[0].buf)
		r = -EINVAL;
	if (!r)
		r = vchan_lock_take(&v->tx.mu, &deadline);
	if (r < 0)
		return r;
	r = vchan_state(v, true);
	if (!r)
		r = flush_locked(v, &deadline);
	if (!r && (r = vchan_ring_space(&v->tx.ring, &space)) < 0)
		r = vchan_fail(v, r);   /* the peer's cons is impossible */
	if (r < 0)
		goto out;
	for (i = 0; i < n; i++) {
		size_t frame = vchan_frame_span(msgs[i].len, v->tx.ring.idx);
		bool whole;

		r = check_msg(v, msgs[i].flags, msgs[i].len);
		if (r == 0 && msgs[i].len && !msgs[i].buf)
			r = -EINVAL;
		if (r < 0)
			break;
		if (msgs[i].buf) {
			size_t k = run_length(v, msgs + i, n - i, space);

			if (k) {
				tx_put_run(v, msgs + i, k);
				space -= (uint32_t)(VCHAN_RUN_HDR + k *
						vchan_frame_pad(msgs[i].len));
				i += k - 1;
				if (vchan_ring_publish_due(&v->tx.ring))
					(void)vchan_tx_finish(v, false);
				continue;
			}
		}
		whole = frame <= v->tx.ring.quarter;
		if (whole && vchan_ring_pads(&v->tx.ring) &&
		    frame > vchan_ring_tail(&v->tx.ring)) {
			/* Whole frames never wrap (vchan_wrap_pad()). */
			uint32_t pad = vchan_wrap_pad(msgs[i].len,
					vchan_ring_tail(&v->tx.ring));
			size_t after = vchan_frame_span(msgs[i].len,
							v->tx.ring.idx + pad);

			if (pad + after <= space) {
				tx_put_pad(v, pad);
				space -= pad;
				frame = after;
			} else {
				frame = (size_t)space + 1;   /* no room now */
			}
		}
		if (whole && frame <= space &&
		    frame <= vchan_ring_tail(&v->tx.ring)) {
			msgs[i].seq = v->tx.next_seq;
			tx_put_whole(v, msgs[i].type, msgs[i].flags,
				     msgs[i].buf, msgs[i].len, frame);
			VCHAN_COUNT(v->msgs_sent, 1);
			VCHAN_COUNT(v->bytes_sent, msgs[i].len);
			space -= (uint32_t)frame;
			/* Stream a long batch in quarter-ring pieces; the
			 * notification waits for the batch's end. */
			if (vchan_ring_publish_due(&v->tx.ring))
				(void)vchan_tx_finish(v, false);
			continue;
		}
		if (frame <= space) {
			tx_start(v, msgs[i].type, msgs[i].flags, msgs[i].buf,
				 msgs[i].len);
			msgs[i].seq = v->tx.hdr.seq;
			r = vchan_tx_pump(v, true);
			if (r < 0)
				break;
			space -= (uint32_t)frame;
			continue;
		}
		if (i > 0)
			break;
		/* The first one does not fit now: send it as a single. */
		r = send_locked(v, msgs[0].type, msgs[0].flags, msgs[0].buf,
				msgs[0].len, &deadline, &msgs[0].seq);
		if (r == 0)
			i = 1;
		break;
	}
	if (i > 0) {
		int f = vchan_tx_finish(v, true);

		r = f < 0 ? f : (int)i;
	}
out:
	vchan_unlock(&v->tx.mu);
	return r;
}

int vchan_reserve(struct vchan *v, size_t len, void **payload,
		  int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	struct vchan_tx *t;
	size_t frame = vchan_frame_size(len);
	uint32_t tail, pad;
	int r;

	if (!v || !payload)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	t = &v->tx;
	r = send_allowed(v);
	if (!r && (len > v->max_msg || frame > t->ring.quarter))
		r = -EMSGSIZE;
	if (!r)
		r = vchan_lock_take(&t->mu, &deadline);
	if (r < 0)
		return r;
	r = vchan_state(v, true);
	if (!r)
		r = flush_locked(v, &deadline);
	if (r < 0)
		goto fail;
	/* Contiguous room: a frame that would wrap goes after a padding
	 * frame, as a send's does (vchan_wrap_pad(); the tail is a multiple
	 * of 16, so a header always fits). */
	tail = vchan_ring_tail(&t->ring);
	pad = vchan_frame_span(len, t->ring.idx) > tail ?
	      vchan_wrap_pad(len, tail) : 0;
	/* Room for the frame as it will be committed (a shorter commit takes
	 * no more: spans grow with the length). */
	frame = vchan_frame_span(len, t->ring.idx + pad);
	r = vchan_wait(v, VCHAN_WANT_SPACE, pad + (uint32_t)frame, &deadline);
	if (r < 0)
		goto fail;
	if (pad)
		tx_put_pad(v, pad);
	t->reserved = true;
	t->reserve_len = len;
	t->reserve_pad = pad;
	*payload = vchan_ring_at(&t->ring, VCHAN_FRAME_HDR);
	return 0;   /* the tx lock stays held until vchan_commit() */
fail:
	vchan_unlock(&t->mu);
	return r;
}

int vchan_commit(struct vchan *v, uint32_t type, uint32_t flags, size_t len)
{
	struct vchan_tx *t;
	struct vchan_frame_hdr h;
	size_t frame;
	int r = 0;

	if (!v)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	t = &v->tx;
	/* Only the thread holding the reservation unlocks. */
	if (!vchan_lock_held(&t->mu) || !t->reserved)
		return -EINVAL;
	t->reserved = false;
	if (len == (size_t)-1 || len > t->reserve_len ||
	    (flags & ~VCHAN_MSG_FLAGS_USER) || v->released) {
		/* Cancel: nothing was published, roll the padding back.  Also
		 * when this thread revoked meanwhile: the ring is gone. */
		t->ring.idx -= t->reserve_pad;
		vchan_unlock(&t->mu);
		return len == (size_t)-1 ? 0 : v->released ? -EPIPE : -EINVAL;
	}
	frame = vchan_frame_span(len, t->ring.idx);
	h.len = (uint32_t)len;
	h.type = type;
	h.flags = flags;
	h.seq = t->next_seq++;
	memcpy(vchan_ring_at(&t->ring, 0), &h, sizeof(h));
	vchan_ring_advance(&t->ring, (uint32_t)frame);
	VCHAN_COUNT(v->msgs_sent, 1);
	VCHAN_COUNT(v->bytes_sent, len);
	r = vchan_state(v, false);
	if (!r)
		r = vchan_tx_finish(v, true);
	vchan_unlock(&t->mu);
	return r;
}
