/* SPDX-License-Identifier: MIT */
/* Receiving framed messages.  A header is copied out of the ring once and
 * checked (framing flags, length against the channel's maximum, sequence);
 * the payload is taken as it arrives, publishing our index in pieces of at
 * most a quarter ring, and handed over only when whole.  A call that has to
 * give up halfway keeps what it took in a stash for the next call. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vchan_priv.h"

/* The end's rights and mode are told before the call waits for the lock:
 * a call that gave up on it (-EAGAIN, -ETIMEDOUT) would hide them. */
static int recv_allowed(const struct vchan *v)
{
	/* This thread holds a message in place: refused before anything
	 * else, as the lock's way in would (vchan_lock_enter()). */
	if (vchan_lock_held(&v->rx.mu))
		return -EINVAL;
	if (!(v->rights & VCHAN_RIGHT_RECV))
		return -EPERM;
	return v->raw ? -EINVAL : 0;
}

/* Under the lock.  The peer may be gone: what it left in the ring is still
 * read, up to the bound its leaving fixed (peer_left.c). */
static inline int check_recv(struct vchan *v)
{
	int r = vchan_state(v, false);

	return r ? r : vchan_rx_capped(v);
}

int vchan_rx_finish(struct vchan *v, bool notify)
{
	bool pub;

	if (__atomic_load_n(&v->rx_unpub, __ATOMIC_RELAXED))
		__atomic_store_n(&v->rx_unpub, 0, __ATOMIC_RELAXED);
	pub = vchan_ring_publish(&v->rx.ring) || v->rx.ring.owed;
	if (!notify) {
		/* Owed to the peer by the call's last finish or settle. */
		v->rx.ring.owed = pub;
		return 0;
	}
	v->rx.ring.owed = false;
	return pub ? vchan_notify_peer(v, VCHAN_NOTIFY_READ) : 0;
}

int vchan_rx_settle(struct vchan *v)
{
	/* A batch published pieces without a word: say it now (a sender
	 * waiting for that room would otherwise sleep on). */
	if (v->rx.ring.owed)
		return vchan_rx_finish(v, true);
	if (v->rx.ring.idx == v->rx.ring.published)
		return 0;
	/* Due: publish (and answer a sender waiting for room).  Not due:
	 * no look at the shared page at all; a sender that waits for this
	 * room is answered by the publication at the next settle threshold,
	 * before our next wait, or with our next index store. */
	if ((uint32_t)(v->rx.ring.idx - v->rx.ring.published) >=
	    v->rx.ring.settle)
		return vchan_rx_finish(v, true);
	if (!__atomic_load_n(&v->rx_unpub, __ATOMIC_RELAXED))
		__atomic_store_n(&v->rx_unpub, 1, __ATOMIC_RELAXED);
	return 0;
}

/* A run's header h (checked by vchan_frame_check()) is at our index, of
 * which ready bytes are known ready: take the run once all of it is there.
 * 1: taken (its messages are next); 0: not yet (*need says how many bytes
 * must be); <0: protocol error. */
static int take_run(struct vchan *v, const struct vchan_frame_hdr *h,
		    uint32_t ready, uint32_t *need)
{
	struct vchan_rx *x = &v->rx;
	struct vchan_run_word w;
	uint32_t span;
	int r;

	if (ready < VCHAN_RUN_HDR) {
		*need = VCHAN_RUN_HDR;
		return 0;
	}
	/* Copied out once; only the copy is used. */
	vchan_ring_peek(&x->ring, VCHAN_FRAME_HDR, &w, sizeof(w));
	r = vchan_run_check(h, &w, x->ring.idx & x->ring.mask, x->ring.size,
			    v->name);
	if (r < 0)
		return vchan_fail(v, r);
	/* Checked: at most a quarter ring. */
	span = VCHAN_RUN_HDR + w.count * (uint32_t)vchan_frame_pad(h->len);
	if (ready < span) {
		r = vchan_ring_ready(&x->ring, &ready);
		if (r < 0)
			return vchan_fail(v, r);
		if (ready < span) {
			*need = span;
			return 0;
		}
	}
	vchan_ring_advance(&x->ring, VCHAN_RUN_HDR);
	x->run = *h;
	x->run_stride = (uint32_t)vchan_frame_pad(h->len);
	x->run_left = w.count;
	return 1;
}

/* The next message of a run when it fits dst: 0 taken (m filled,
 * consumption not published), 1 for the general path (-EMSGSIZE). */
static int recv_run_next(struct vchan *v, uint8_t *dst, size_t cap,
			 struct vchan_msg *m)
{
	struct vchan_rx *x = &v->rx;
	uint32_t len = x->run.len;

	if (len > cap)
		return 1;
	memcpy(dst, vchan_ring_at(&x->ring, 0), len);
	vchan_ring_advance(&x->ring, x->run_stride);
	x->run_left--;
	m->type = x->run.type;
	m->flags = x->run.flags & VCHAN_MSG_FLAGS_USER;
	m->seq = x->next_seq++;
	m->len = len;
	VCHAN_COUNT(v->msgs_recv, 1);
	VCHAN_COUNT(v->bytes_recv, len);
	return 0;
}

/* Batches: the next messages of a run into msgs[0..n) in one copy, when
 * their buffers lie back to back in memory as the payloads do in the ring
 * (no padding between them).  Returns how many were taken (0: none; the
 * caller goes on one by one); consumption is not published. */
static size_t recv_run_many(struct vchan *v, struct vchan_msg *msgs,
			    size_t n)
{
	struct vchan_rx *x = &v->rx;
	uint32_t len = x->run.len;
	uint8_t *dst = msgs[0].buf;
	size_t k;

	if (x->active || x->inplace || x->run_left < 2 || n < 2 ||
	    x->run_stride != len || !dst)
		return 0;
	for (k = 0; k < n && k < x->run_left; k++)
		if (msgs[k].len < len ||
		    (uint8_t *)msgs[k].buf != dst + k * len)
			break;
	if (k < 2)
		return 0;
	memcpy(dst, vchan_ring_at(&x->ring, 0), k * len);
	vchan_ring_advance(&x->ring, (uint32_t)(k * len));
	x->run_left -= (uint32_t)k;
	for (size_t i = 0; i < k; i++) {
		msgs[i].type = x->run.type;
		msgs[i].flags = x->run.flags & VCHAN_MSG_FLAGS_USER;
		msgs[i].seq = x->next_seq++;
		msgs[i].len = len;
	}
	VCHAN_COUNT(v->msgs_recv, k);
	VCHAN_COUNT(v->bytes_recv, k * len);
	return k;
}

uint64_t vchan_rx_taken(const struct vchan *v)
{
	const struct vchan_rx *x = &v->rx;
	uint64_t n = (uint64_t)x->run_left * x->run_stride;

	/* The rest of a message begun (its header is behind our index), or
	 * all of one held in place: not a frame to parse. */
	if (x->active)
		n += vchan_frame_span(x->hdr.len, x->hdr_pos) -
		     VCHAN_FRAME_HDR - x->got;
	if (x->inplace)
		n += x->inplace_frame;
	return n;
}

/* Take the next message header.  1: taken; 0: not enough bytes yet (*need
 * says how many); <0: protocol error. */
static int take_header(struct vchan *v, uint32_t *need)
{
	struct vchan_rx *x = &v->rx;
	struct vchan_frame_hdr h;
	uint32_t ready;
	int r;

	for (;;) {
		if (x->run_left) {
			/* The next message of a run: it is all there (the run
			 * was taken whole) and needs no header. */
			x->hdr = x->run;
			x->hdr.seq = x->next_seq;
			/* Where its header would be: a run's lengths keep
			 * 16-byte steps, so its span is then its stride. */
			x->hdr_pos = x->ring.idx - VCHAN_FRAME_HDR;
			x->active = true;
			x->from_run = true;
			x->got = 0;
			x->next_seq++;
			x->run_left--;
			return 1;
		}
		r = vchan_ring_ready_atleast(&x->ring, VCHAN_FRAME_HDR, &ready);
		if (r < 0)
			return vchan_fail(v, r);
		if (ready < VCHAN_FRAME_HDR) {
			*need = VCHAN_FRAME_HDR;
			return 0;
		}
		/* Copy the header out once; only the copy is used. */
		vchan_ring_peek(&x->ring, 0, &h, sizeof(h));
		r = vchan_frame_check(&h, x->ring.idx & x->ring.mask,
				      x->ring.size, v->max_msg, x->next_seq,
				      v->name);
		if (r < 0)
			return vchan_fail(v, r);
		if (h.flags & VCHAN_FRAME_RUN) {
			r = take_run(v, &h, ready, need);
			if (r <= 0)
				return r;
			continue;
		}
		if (h.flags & VCHAN_FRAME_PAD) {
			/* h.len checked: ends exactly at the ring's end. */
			if (ready < VCHAN_FRAME_HDR + h.len) {
				*need = VCHAN_FRAME_HDR + h.len;
				return 0;
			}
			vchan_ring_advance(&x->ring, VCHAN_FRAME_HDR + h.len);
			continue;
		}
		x->hdr_pos = x->ring.idx;
		vchan_ring_advance(&x->ring, VCHAN_FRAME_HDR);
		x->hdr = h;
		x->active = true;
		x->from_run = false;
		x->got = 0;
		x->next_seq++;
		return 1;
	}
}

static void deliver(struct vchan *v, struct vchan_msg *m)
{
	struct vchan_rx *x = &v->rx;

	m->type = x->hdr.type;
	m->flags = x->hdr.flags & VCHAN_MSG_FLAGS_USER;
	m->seq = x->hdr.seq;
	m->len = x->hdr.len;
	x->active = false;
	x->got = 0;
	VCHAN_COUNT(v->msgs_recv, 1);
	VCHAN_COUNT(v->bytes_recv, x->hdr.len);
}

/* Room in the stash for the whole message: taken before the first byte
 * of a payload that may stop halfway (so that no memory is said before
 * any byte is taken, and the bytes taken are never lost). */
static int stash_room(struct vchan_rx *x)
{
	return vchan_room(&x->stash, &x->stash_cap, x->hdr.len);
}

/* Keep the payload taken so far (it sits in the caller's buffer). */
static int stash(struct vchan *v, const uint8_t *dst)
{
	struct vchan_rx *x = &v->rx;

	if (!x->got)
		return 0;
	if (stash_room(x) < 0) {
		/* Only a call without a deadline gets here without the
		 * room, and such a call does not stop halfway. */
		vchan_log(v->name, "a message stopped halfway with no room to "
			  "keep what was taken: the channel fails");
		return vchan_fail(v, -ENOMEM);
	}
	if (dst != x->stash)
		memcpy(x->stash, dst, x->got);
	return 0;
}

/* The next message when it is simply there: no message begun, its whole
 * frame ready before the ring's end, a header that passes every check,
 * room for it in dst.  0: taken (m filled, consumption not published);
 * 1: anything else, for the general path to handle (wait, wrap, padding
 * frame, stash, -EMSGSIZE, a bad header and its log line); <0: the peer's
 * prod is impossible (logged, latched). */
static int recv_whole(struct vchan *v, uint8_t *dst, size_t cap,
		      struct vchan_msg *m)
{
	struct vchan_rx *x = &v->rx;
	struct vchan_frame_hdr h;
	uint32_t ready, tail = vchan_ring_tail(&x->ring);
	size_t span;
	int r;

	if (x->active || x->inplace)
		return 1;
	if (x->run_left)
		return recv_run_next(v, dst, cap, m);
	if (tail < VCHAN_FRAME_HDR)
		return 1;
	r = vchan_ring_ready_atleast(&x->ring, VCHAN_FRAME_HDR, &ready);
	if (r < 0)
		return vchan_fail(v, r);
	if (ready < VCHAN_FRAME_HDR)
		return 1;
	/* Copied out once; only the copy is used. */
	memcpy(&h, vchan_ring_at(&x->ring, 0), sizeof(h));
	vchan_copied_out();
	if ((h.flags & ~VCHAN_MSG_FLAGS_USER) || h.len > v->max_msg ||
	    h.seq != x->next_seq || h.len > cap)
		return 1;
	span = vchan_frame_span(h.len, x->ring.idx);
	if (span > tail)
		return 1;
	/* What we knew of prod covered the header: look again for the
	 * rest of the frame. */
	if (span > ready && (r = vchan_ring_ready(&x->ring, &ready)) < 0)
		return vchan_fail(v, r);
	if (span > ready)
		return 1;
	if (h.len)   /* dst may be NULL for an empty message */
		memcpy(dst, vchan_ring_at(&x->ring, VCHAN_FRAME_HDR), h.len);
	vchan_ring_advance(&x->ring, (uint32_t)span);
	x->next_seq++;
	m->type = h.type;
	m->flags = h.flags;
	m->seq = h.seq;
	m->len = h.len;
	VCHAN_COUNT(v->msgs_recv, 1);
	VCHAN_COUNT(v->bytes_recv, h.len);
	return 0;
}

/* One message into dst (capacity cap); rx lock held. */
static int recv_locked(struct vchan *v, uint8_t *dst, size_t cap,
		       struct vchan_msg *m, uint64_t *deadline,
		       bool defer_notify)
{
	struct vchan_rx *x = &v->rx;
	uint32_t need, ready;
	int r;

	r = recv_whole(v, dst, cap, m);
	if (r == 1 && !x->active && !x->inplace && !x->run_left &&
	    vchan_ring_ready_known(&x->ring) < VCHAN_FRAME_HDR) {
		/* Nothing yet: wait for a header, then the fast path again
		 * (a frame the sender publishes whole is whole by then). */
		r = vchan_wait(v, VCHAN_WANT_READ, VCHAN_FRAME_HDR, deadline);
		if (r < 0)
			return r;
		r = recv_whole(v, dst, cap, m);
	}
	if (r < 0)
		return r;
	if (r == 0) {
		/* Published at once if that makes a quarter ring; else the
		 * settling rule, or the caller's, as always. */
		if (vchan_ring_publish_due(&x->ring)) {
			r = vchan_rx_finish(v, !defer_notify);
			if (r < 0)
				return r;
		}
		return defer_notify ? 0 : vchan_rx_settle(v);
	}
	for (;;) {
		if (!x->active) {
			r = take_header(v, &need);
			if (r < 0)
				return r;
			if (r == 0) {
				r = vchan_wait(v, VCHAN_WANT_READ, need,
					       deadline);
				if (r < 0)
					return r;
				continue;
			}
		} else if (x->got && dst != x->stash) {
			/* Resuming an interrupted message. */
			if (x->hdr.len > cap)
				goto too_small;
			memcpy(dst, x->stash, x->got);
		}
		break;
	}
	if (x->hdr.len > cap)
		goto too_small;
	for (;;) {
		size_t left = x->hdr.len - x->got;
		size_t pad = vchan_frame_span(x->hdr.len, x->hdr_pos) -
			     VCHAN_FRAME_HDR - x->hdr.len;

		r = vchan_ring_ready_atleast(&x->ring, (uint32_t)(left + pad),
					     &ready);
		if (r < 0)
			return vchan_fail(v, r);
		if (left + pad > ready && dst != x->stash &&
		    *deadline != UINT64_MAX && stash_room(x) < 0)
			return -ENOMEM;   /* nothing of it taken yet */
		while (left && ready) {
			size_t n = left < ready ? left : ready;

			if (n > x->ring.quarter)
				n = x->ring.quarter;
			vchan_ring_read(&x->ring, dst + x->got, n);
			x->got += n;
			left -= n;
			ready -= (uint32_t)n;
			if (vchan_ring_publish_due(&x->ring)) {
				r = vchan_rx_finish(v, !defer_notify);
				if (r < 0)
					return r;
			}
		}
		if (!left && ready >= pad) {
			vchan_ring_advance(&x->ring, (uint32_t)pad);
			deliver(v, m);
			return defer_notify ? 0 : vchan_rx_settle(v);
		}
		need = (uint32_t)(left + pad);
		if (need > x->ring.quarter)
			need = x->ring.quarter;
		/* Let the sender refill while we wait. */
		r = vchan_rx_finish(v, true);
		if (r == 0)
			r = vchan_wait(v, VCHAN_WANT_READ, need, deadline);
		if (r == -EAGAIN || r == -ETIMEDOUT) {
			int s = stash(v, dst);

			return s < 0 ? s : r;
		}
		if (r < 0) {
			/* Peer gone or broken halfway: the partial message
			 * is dropped, never handed over.  A peer gone
			 * mid-message also ends the receiving: what it left
			 * after our index is the rest of that message (bytes
			 * that came after the look that found it gone), not
			 * a frame to parse. */
			if (x->active) {
				__atomic_fetch_add(&v->discarded, 1,
						   __ATOMIC_RELAXED);
				if (r == -EPIPE)
					(void)vchan_fail(v, -EPIPE);
			}
			x->active = false;
			return r;
		}
	}
too_small:
	m->len = x->hdr.len;
	return -EMSGSIZE;
}

int vchan_recv(struct vchan *v, struct vchan_msg *m, int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	int r;

	if (!v || !m || (!m->buf && m->len))
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	r = recv_allowed(v);
	if (!r)
		r = vchan_lock_take(&v->rx.mu, &deadline);
	if (r < 0)
		return r;
	r = check_recv(v);
	if (!r)
		r = recv_locked(v, m->buf, m->len, m, &deadline, false);
	vchan_unlock(&v->rx.mu);
	return r;
}

int vchan_recvv(struct vchan *v, struct vchan_msg *msgs, size_t n,
		int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms), zero;
	size_t i;
	int r;

	if (!v || (!msgs && n))
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	if (n == 0)
		return 0;
	r = recv_allowed(v);
	if (!r && !msgs[0].buf && msgs[0].len)
		r = -EINVAL;
	if (!r)
		r = vchan_lock_take(&v->rx.mu, &deadline);
	if (r < 0)
		return r;
	r = check_recv(v);
	for (i = 0; r == 0 && i < n; i++) {
		if (!msgs[i].buf && msgs[i].len) {
			r = -EINVAL;
			continue;   /* counted like a failed receive */
		}
		/* Wait only for the first. */
		zero = 0;
		r = recv_locked(v, msgs[i].buf, msgs[i].len, &msgs[i],
				i ? &zero : &deadline, true);
		if (r == 0 && i + 1 < n) {
			size_t k = recv_run_many(v, msgs + i + 1, n - i - 1);

			i += k;
			if (k && vchan_ring_publish_due(&v->rx.ring))
				(void)vchan_rx_finish(v, false);
		}
	}
	if (i > 1 || (i == 1 && r == 0)) {
		int f = vchan_rx_settle(v);
		size_t got = r == 0 ? i : i - 1;

		r = f < 0 ? f : (int)got;
	} else if (i == 1) {
		/* The first receive failed; what it consumed goes out.  Not
		 * when the end's checks failed (i 0): a revoke may have
		 * released the page already. */
		vchan_rx_finish(v, true);
	}
	vchan_unlock(&v->rx.mu);
	return r;
}

int vchan_recv_inplace(struct vchan *v, struct vchan_msg *m, int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	struct vchan_rx *x;
	uint32_t need, ready, body;
	int r;

	if (!v || !m)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	x = &v->rx;
	r = recv_allowed(v);
	if (!r)
		r = vchan_lock_take(&x->mu, &deadline);
	if (r < 0)
		return r;
	r = check_recv(v);
	while (!r && !x->active) {
		r = take_header(v, &need);
		if (r == 0)
			r = vchan_wait(v, VCHAN_WANT_READ, need, &deadline);
		else if (r == 1)
			r = 0;
	}
	if (r < 0)
		goto fail;
	body = (uint32_t)(vchan_frame_span(x->hdr.len, x->hdr_pos) -
			  VCHAN_FRAME_HDR);
	if (x->got == 0 && VCHAN_FRAME_HDR + (size_t)body <= x->ring.size) {
		/* Fits the ring: wait for it whole, hand out the ring. */
		for (;;) {
			r = vchan_ring_ready(&x->ring, &ready);
			if (r < 0) {
				r = vchan_fail(v, r);
				goto fail;
			}
			if (ready >= body)
				break;
			r = vchan_wait(v, VCHAN_WANT_READ, body, &deadline);
			if (r < 0)
				goto fail;
		}
		if (vchan_ring_tail(&x->ring) >= x->hdr.len) {
			m->buf = vchan_ring_at(&x->ring, 0);
		} else {
			r = vchan_room(&x->bounce, &x->bounce_cap, x->hdr.len);
			if (r < 0)
				goto fail;
			vchan_ring_peek(&x->ring, 0, x->bounce, x->hdr.len);
			m->buf = x->bounce;
		}
		x->inplace_frame = body;
		deliver(v, m);
	} else {
		/* Larger than the ring (or resumed): through the stash. */
		r = stash_room(x);
		if (r < 0)
			goto fail;
		r = recv_locked(v, x->stash, x->hdr.len, m, &deadline, false);
		if (r < 0)
			goto fail;
		m->buf = x->stash;
		x->inplace_frame = 0;
	}
	x->inplace = true;
	return 0;  /* the rx lock stays held until vchan_release() */
fail:
	vchan_unlock(&x->mu);
	return r;
}

int vchan_release(struct vchan *v)
{
	struct vchan_rx *x;
	int r = 0;

	if (!v)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	x = &v->rx;
	/* Only the thread holding the message unlocks. */
	if (!vchan_lock_held(&x->mu) || !x->inplace)
		return -EINVAL;
	x->inplace = false;
	if (x->inplace_frame) {
		vchan_ring_advance(&x->ring, x->inplace_frame);
		x->inplace_frame = 0;
		/* Revoked by this thread meanwhile: the page is gone. */
		r = v->released ? -EPIPE : vchan_rx_finish(v, true);
	}
	vchan_unlock(&x->mu);
	return r;
}
