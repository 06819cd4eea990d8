/* SPDX-License-Identifier: MIT */
/* The peer left: what of its inbound ring this end still reads.
 *
 * A peer's last messages, written before it cleared its live byte, are
 * still ours (wait.c check()).  But its control page outlives it: another
 * process of its domain may map it, write 1 to the live byte (a stock
 * libxenvchan client does not look first), then frames and a new prod.
 * Those bytes are not from the peer this end talked to.  So when the
 * latch fires, it fixes a bound on the inbound prod that no later writer's
 * bytes are under, and the rx side never reads the prod past it again.
 *
 * Why the bound is clean.  A later writer stores live = 1 before its prod,
 * with a write barrier between (the one every writer, libxenvchan's and
 * ours, puts before storing its prod).  A prod loaded before, with a read
 * barrier between, a load of the live byte that returns 0 therefore holds
 * none of its bytes: had it, that load would see 1 (or a later value).  A
 * prod loaded after the 0 may hold them.  So the latch loads the prod and
 * then the live byte again: still 0, that prod is the bound; otherwise the
 * rx side's last prod, loaded before the first 0 (vchan_ring_ready() and
 * vchan_ring_init() follow each load with a read barrier) is.  The first
 * 0 came before the prod load (barrier), so the bound holds all that the
 * peer made whole before it left; in the fallback, what came after the
 * rx side's last look is lost with what is not whole.
 *
 * What it cannot tell apart: a writer that came and went again between
 * the two loads of the live byte (its 0 looks like the first), and bytes a
 * receive running in another thread alongside the latch loaded before it
 * saw it (two threads' concurrent calls have no order; a receive that
 * begins after the latching call returned sees it, and so does every
 * wait's look).
 *
 * How the bound reaches the rx side.  The latch may fire in any thread
 * (a send's state check); the ring belongs to the holder of the rx lock.
 * The bound travels in peer_left itself (one atomic word, first latch
 * wins); the rx side's entry points and a wait's looks load peer_left
 * (relaxed, next to the revoked and error loads they make anyway) and,
 * once it is set, point the ring's `theirs` at a local copy of the bound
 * under the rx lock.  The receive fast path itself is unchanged. */
#include "config.h"

#include <unistd.h>

#include "vchan_priv.h"

void vchan_peer_left(struct vchan *v)
{
	uint64_t word, none = 0, one = 1;
	uint32_t prod;
	ssize_t w;

	/* Barrier: the prod load comes after the load that saw the 0, so it
	 * holds all the peer wrote before it left. */
	vchan_rmb();
	/* Peer-written prod: one load; checked by the rx side like any. */
	prod = VCHAN_READ_ONCE(*v->in_prod);
	/* Barrier: the second look at the live byte comes after it. */
	vchan_rmb();
	if (VCHAN_READ_ONCE(*v->peer_live) == 0)
		word = VCHAN_LEFT | VCHAN_LEFT_CAP | prod;
	else
		word = VCHAN_LEFT;   /* a writer is there: the rx side's prod */
	/* Release: the rx side that sees the word sees the ring bytes the
	 * prod load made visible to us.  Another latch first: its word
	 * stays (a bound as good). */
	if (!__atomic_compare_exchange_n(&v->peer_left, &none, word, false,
					 __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		return;
	/* Wake every blocked call, as a revoke or the peer's domain going
	 * does: a receive asleep on an empty ring holds its lock, and the
	 * calls behind it would otherwise wait for its next look (up to
	 * VCHAN_RECHECK_NS).  The kick fd stays readable for good. */
	w = write(v->kick_fd, &one, sizeof(one));
	(void)w;
}

/* Bytes after our index that the rx side took as there already and reads
 * without another look at the prod: the rest of a run taken whole (the
 * message of it begun included), a message held in place.  Not the rest
 * of any other message begun: that is read after a look, like bytes not
 * taken yet. */
static uint32_t rx_fixed(const struct vchan_rx *x)
{
	uint32_t n = x->run_left * x->run_stride;

	if (x->active && x->from_run)
		n += (uint32_t)(vchan_frame_span(x->hdr.len, x->hdr_pos) -
				VCHAN_FRAME_HDR - x->got);
	if (x->inplace)
		n += x->inplace_frame;
	return n;
}

/* The bound cannot hold: the prod this end reads stops at our index (so
 * no later look reads on, nor logs the bound again), the channel fails. */
static int cap_broken(struct vchan *v)
{
	v->rx.cap = v->rx.ring.idx;
	v->rx.ring.peer = v->rx.ring.idx;
	return vchan_fail(v, -EPROTO);
}

int vchan_rx_cap(struct vchan *v)
{
	struct vchan_rx *x = &v->rx;
	struct vchan_ring *r = &x->ring;
	uint64_t word = __atomic_load_n(&v->peer_left, __ATOMIC_ACQUIRE);
	uint32_t cap = (word & VCHAN_LEFT_CAP) ? (uint32_t)word : r->peer;
	uint32_t at = cap - r->idx, known = r->peer - r->idx;

	x->cap = cap;
	r->theirs = &x->cap;
	x->capped = true;
	/* The usual case: the bound is at or past all the ring knew of. */
	if ((int32_t)(cap - r->peer) >= 0)
		return 0;
	/* Behind what this end has read already: some of that was not the
	 * peer's (a receive in another thread loaded the prod alongside the
	 * latch and took a later writer's bytes), or the peer moved its prod
	 * back before it left.  Nothing to forget: the channel is broken. */
	if ((int32_t)at < 0) {
		vchan_log(v->name, "peer protocol error: the peer left with its "
			  "prod at %u, behind the %u bytes this end has read",
			  cap, r->idx);
		return cap_broken(v);
	}
	/* Behind bytes the rx side took as there already: it would read
	 * them without another look, so they cannot be forgotten either. */
	if (at < rx_fixed(&v->rx)) {
		vchan_log(v->name, "peer protocol error: the peer left with its "
			  "prod at %u, inside what this end has taken (to %u)",
			  cap, r->idx + rx_fixed(&v->rx));
		return cap_broken(v);
	}
	/* Bytes the ring knew of past the bound (a receive in another
	 * thread loaded the prod alongside the latch): forgotten, not
	 * read. */
	vchan_log(v->name, "the peer left with its prod at %u, behind the %u "
		  "this end had seen: the %u bytes between are not read", cap,
		  r->peer, known - at);
	r->peer = cap;
	return 0;
}
