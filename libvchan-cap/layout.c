/* SPDX-License-Identifier: MIT */
/* The control page of xen/io/libxenvchan.h: where the rings live, which
 * orders are possible, the server's initial values, the client's checks. */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "vchan_priv.h"

#define ORDER_DEFAULT 16
#define SMALL_ORDER 10
#define SMALL_OFFSET 1024u
#define LARGE_ORDER 11
#define LARGE_OFFSET 2048u

unsigned vchan_layout_inpage_offset(unsigned order)
{
	if (order == SMALL_ORDER)
		return SMALL_OFFSET;
	if (order == LARGE_ORDER)
		return LARGE_OFFSET;
	return 0;
}

unsigned vchan_layout_pages(unsigned order)
{
	return order >= VCHAN_PAGE_SHIFT ? 1u << (order - VCHAN_PAGE_SHIFT) : 0;
}

/* Both orders in range, at most one ring per in-page slot, and grants[]
 * (left's pages then right's) ending before the first in-page ring or the
 * end of the page. */
static const char *layout_problem(unsigned lo, unsigned ro)
{
	unsigned limit = VCHAN_PAGE_SIZE, off;
	size_t end;

	if (lo < VCHAN_ORDER_MIN || lo > VCHAN_ORDER_MAX)
		return "left ring order outside 10..20";
	if (ro < VCHAN_ORDER_MIN || ro > VCHAN_ORDER_MAX)
		return "right ring order outside 10..20";
	if (lo == ro && lo < VCHAN_PAGE_SHIFT)
		return "both rings in the same place of the control page";
	off = vchan_layout_inpage_offset(lo);
	if (off && off < limit)
		limit = off;
	off = vchan_layout_inpage_offset(ro);
	if (off && off < limit)
		limit = off;
	end = offsetof(struct vchan_interface, grants) +
	      sizeof(uint32_t) * ((size_t)vchan_layout_pages(lo) +
				  vchan_layout_pages(ro));
	if (end > limit)
		return "grant list runs into a ring or off the control page";
	return NULL;
}

int vchan_layout_choose(unsigned *left_order, unsigned *right_order)
{
	unsigned lo = *left_order ? *left_order : ORDER_DEFAULT;
	unsigned ro = *right_order ? *right_order : ORDER_DEFAULT;
	const char *why;

	/* Two small rings asked for the same slot: move the right one up. */
	if (lo == ro && lo < VCHAN_PAGE_SHIFT)
		ro = lo == SMALL_ORDER ? LARGE_ORDER : VCHAN_PAGE_SHIFT;
	why = layout_problem(lo, ro);
	if (why) {
		vchan_log("setup", "ring orders %u/%u impossible: %s", lo, ro,
			  why);
		return -EINVAL;
	}
	*left_order = lo;
	*right_order = ro;
	return 0;
}

void vchan_layout_server_init(struct vchan_interface *page,
			      unsigned left_order, unsigned right_order)
{
	VCHAN_WRITE_ONCE(page->left.cons, 0);
	VCHAN_WRITE_ONCE(page->left.prod, 0);
	VCHAN_WRITE_ONCE(page->right.cons, 0);
	VCHAN_WRITE_ONCE(page->right.prod, 0);
	VCHAN_WRITE_ONCE(page->left_order, (uint16_t)left_order);
	VCHAN_WRITE_ONCE(page->right_order, (uint16_t)right_order);
	VCHAN_WRITE_ONCE(page->cli_live, 2);  /* client not yet connected */
	VCHAN_WRITE_ONCE(page->srv_live, 1);
	/* The server wants to hear when the client writes; the client will
	 * ask for the same in srv_notify when it connects. */
	VCHAN_WRITE_ONCE(page->cli_notify, VCHAN_NOTIFY_WRITE);
	VCHAN_WRITE_ONCE(page->srv_notify, 0);
	/* Publish the initialised page before it is handed out. */
	vchan_wmb();
}

int vchan_layout_client_read(const struct vchan_interface *page,
			     const char *who, unsigned *left_order,
			     unsigned *right_order)
{
	/* Peer-written: each order read exactly once, then only the local
	 * copies are used. */
	unsigned lo = VCHAN_READ_ONCE(page->left_order);
	unsigned ro = VCHAN_READ_ONCE(page->right_order);
	const char *why;

	/* The orders before anything derived from them. */
	vchan_rmb();
	why = layout_problem(lo, ro);
	if (why) {
		vchan_log(who, "peer's control page is invalid "
			  "(left_order %u, right_order %u): %s", lo, ro, why);
		return -EPROTO;
	}
	*left_order = lo;
	*right_order = ro;
	return 0;
}

void vchan_layout_client_connect(struct vchan_interface *page)
{
	/* Ask for a notification when the server writes, then say we are
	 * here; the caller's notification follows these stores. */
	__atomic_fetch_or(&page->srv_notify, VCHAN_NOTIFY_WRITE,
			  __ATOMIC_SEQ_CST);
	VCHAN_WRITE_ONCE(page->cli_live, 1);
	vchan_mb(); /* both stores visible before the event */
}
