/* SPDX-License-Identifier: MIT */
/* Ring arithmetic on one direction of the channel.
 *
 * The peer's index is read once per check (VCHAN_READ_ONCE) and validated
 * against our own local index with unsigned arithmetic (XSA-86): bytes ready
 * (inbound) or in use (outbound) can never exceed the ring size, and the
 * peer's index can only move forward, never past ours.  Anything else is a
 * protocol error (-EPROTO, one log line), never a copy length. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "vchan_priv.h"

int vchan_ring_init(struct vchan_ring *r, uint32_t *prod, uint32_t *cons,
		    void *buf, unsigned order, bool tx, const char *who)
{
	uint32_t mine, theirs, used;

	r->buf = buf;
	r->size = 1u << order;          /* local copy: never re-read */
	r->mask = r->size - 1;
	r->quarter = r->size / 4;
	/* Small enough that a sender waiting for room gets it in pieces it
	 * can spin for, large enough to save most stores of cons. */
	r->settle = r->size / 16;
	r->who = who;
	r->dir = tx ? "outbound" : "inbound";
	r->mine = tx ? prod : cons;
	r->theirs = tx ? cons : prod;
	/* Starting points; the peer could have written either (a client finds
	 * what the server left), so both are checked like any later value. */
	mine = VCHAN_READ_ONCE(*r->mine);
	theirs = VCHAN_READ_ONCE(*r->theirs);
	/* Barrier: as after every load of the peer's index, later loads (the
	 * peer's live byte: peer_left.c) come after these. */
	vchan_rmb();
	used = tx ? mine - theirs : theirs - mine;
	if (used > r->size) {
		vchan_log(who, "peer protocol error: %s ring starts with "
			  "prod/cons %u/%u, %u bytes in a %u-byte ring",
			  r->dir, tx ? mine : theirs, tx ? theirs : mine,
			  used, r->size);
		return -EPROTO;
	}
	r->idx = mine;
	r->published = mine;
	r->peer = theirs;
	return 0;
}

int vchan_ring_ready(struct vchan_ring *r, uint32_t *ready)
{
	/* Peer-written prod: one load. */
	uint32_t prod = VCHAN_READ_ONCE(*r->theirs);
	uint32_t now, before;

	/* Barrier: ring bytes are read only after prod was (acquire pairs with
	 * the peer's fence between writing data and storing prod). */
	vchan_rmb();
	now = prod - r->idx;        /* unsigned: a wild prod wraps huge */
	before = r->peer - r->idx;  /* already validated, <= size */
	if (now > r->size || now < before) {
		vchan_log(r->who, "peer protocol error: inbound prod %u with "
			  "cons %u (previously %u) means %d bytes ready in a "
			  "%u-byte ring", prod, r->idx, r->peer, (int32_t)now,
			  r->size);
		return -EPROTO;
	}
	r->peer = prod;
	*ready = now;
	return 0;
}

int vchan_ring_space(struct vchan_ring *r, uint32_t *space)
{
	/* Peer-written cons: one load. */
	uint32_t cons = VCHAN_READ_ONCE(*r->theirs);
	uint32_t used, before;

	/* Barrier: our later stores into the ring come after this load of
	 * cons (the peer finished reading those bytes before storing cons). */
	vchan_rmb();
	used = r->idx - cons;       /* unsigned: cons past prod wraps huge */
	before = r->idx - r->peer;  /* already validated, <= size */
	if (used > before) {
		vchan_log(r->who, "peer protocol error: outbound cons %u with "
			  "prod %u (previously %u) means %d bytes in use in a "
			  "%u-byte ring", cons, r->idx, r->peer, (int32_t)used,
			  r->size);
		return -EPROTO;
	}
	r->peer = cons;
	*space = r->size - used;
	return 0;
}

void vchan_ring_peek(const struct vchan_ring *r, uint32_t skip, void *dst,
		     size_t n)
{
	uint32_t off = (r->idx + skip) & r->mask;
	size_t first = r->size - off;

	if (first > n)
		first = n;
	memcpy(dst, r->buf + off, first);
	if (n > first)
		memcpy((uint8_t *)dst + first, r->buf, n - first);
	vchan_copied_out();
}

void vchan_ring_read(struct vchan_ring *r, void *dst, size_t n)
{
	vchan_ring_peek(r, 0, dst, n);
	r->idx += (uint32_t)n;
}

void vchan_ring_write(struct vchan_ring *r, const void *src, size_t n)
{
	uint32_t off = r->idx & r->mask;
	size_t first = r->size - off;

	if (first > n)
		first = n;
	vchan_copy_in(r->buf + off, src, first);
	if (n > first)
		vchan_copy_in(r->buf, (const uint8_t *)src + first, n - first);
	r->idx += (uint32_t)n;
}

void vchan_ring_zero(struct vchan_ring *r, size_t n)
{
	uint32_t off = r->idx & r->mask;
	size_t first = r->size - off;

	if (first > n)
		first = n;
	memset(r->buf + off, 0, first);
	if (n > first)
		memset(r->buf, 0, n - first);
	r->idx += (uint32_t)n;
}

bool vchan_ring_publish(struct vchan_ring *r)
{
	if (r->idx == r->published)
		return false;
	/* Barrier: the ring bytes we wrote (outbound) or read (inbound) are
	 * done before the peer can see the index that hands them over. */
	vchan_wmb();
	VCHAN_WRITE_ONCE(*r->mine, r->idx);
	r->published = r->idx;
	return true;
}
