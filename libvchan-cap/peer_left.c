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

#include "vchan_priv.h"

void vchan_peer_left(struct vchan *v)
{
	uint64_t word, none = 0;
	uint32_t prod;

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
	__atomic_compare_exchange_n(&v->peer_left, &none, word, false,
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Bytes after our index that the rx side took as there already (a run
 * taken whole, a message held in place): it reads them without a look. */
static uint32_t rx_held(const struct vchan_rx *x)
{
	return x->run_left * x->run_stride +
	       (x->inplace ? x->inplace_frame : 0);
}

void vchan_rx_cap(struct vchan *v)
{
	struct vchan_rx *x = &v->rx;
	struct vchan_ring *r = &x->ring;
	uint64_t word = __atomic_load_n(&v->peer_left, __ATOMIC_ACQUIRE);
	uint32_t cap = (word & VCHAN_LEFT_CAP) ? (uint32_t)word : r->peer;
	uint32_t at = cap - r->idx, known = r->peer - r->idx;
	uint32_t held = rx_held(x);

	/* The ring may know of bytes past the bound (a receive in another
	 * thread loaded the prod alongside the latch, or the peer moved its
	 * prod back before it left): forgotten, not read.  What the rx side
	 * took as there already it reads anyway; past that, the next look
	 * finds the bound behind our index and fails (-EPROTO, logged), as
	 * it does for a bound beyond the ring's reach (a wild last prod). */
	if (at < known && at >= held) {
		vchan_log(v->name, "the peer left with its prod at %u, behind "
			  "the %u this end had seen: the %u bytes between are "
			  "not read", cap, r->peer, known - at);
		r->peer = cap;
	} else if (at < known) {
		r->peer = r->idx + held;
	}
	x->cap = cap;
	r->theirs = &x->cap;
	x->capped = true;
}
