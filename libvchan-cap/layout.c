/* SPDX-License-Identifier: MIT */
/* The control page of xen/io/libxenvchan.h: where the rings live, which
 * orders are possible, the server's initial values, the client's checks;
 * and vipc's LINES layout of the indices and notify bytes in the same page. */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "vchan_priv.h"

#define ORDER_DEFAULT 16
#define SMALL_ORDER 10
#define SMALL_OFFSET 1024u
#define LARGE_ORDER 11
#define LARGE_OFFSET 2048u

/* LINES: each slot on a cache line of its own, from offset 3072 (grants end
 * by 2072; the page is page-aligned, so these lines are too).  The mark
 * tells a client which layout the server chose. */
#define LINES_OFFSET 3072u
#define LINES_MARK 0x31736c76u   /* "vls1" */
#define LINE __attribute__((aligned(64)))
struct lines_area {
	uint32_t mark;
	uint32_t left_prod LINE, left_cons LINE;
	uint32_t right_prod LINE, right_cons LINE;
	uint8_t srv_notify LINE, cli_notify LINE;
} LINE;
_Static_assert(LINES_OFFSET + sizeof(struct lines_area) <= VCHAN_PAGE_SIZE,
	       "LINES slots fit the control page");

static struct lines_area *lines_of(const struct vchan_interface *page)
{
	return (struct lines_area *)((uintptr_t)page + LINES_OFFSET);
}

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
static const char *layout_problem(unsigned lo, unsigned ro, int layout)
{
	unsigned limit = VCHAN_PAGE_SIZE, off;
	size_t end;

	if (lo < VCHAN_ORDER_MIN || lo > VCHAN_ORDER_MAX)
		return "left ring order outside 10..20";
	if (ro < VCHAN_ORDER_MIN || ro > VCHAN_ORDER_MAX)
		return "right ring order outside 10..20";
	if (lo == ro && lo < VCHAN_PAGE_SHIFT)
		return "both rings in the same place of the control page";
	if (layout == VCHAN_LAYOUT_LINES &&
	    (lo == LARGE_ORDER || ro == LARGE_ORDER))
		return "an order-11 ring sits where the LINES layout keeps "
		       "its indices";
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

int vchan_layout_choose(unsigned *left_order, unsigned *right_order,
			int layout)
{
	unsigned lo = *left_order ? *left_order : ORDER_DEFAULT;
	unsigned ro = *right_order ? *right_order : ORDER_DEFAULT;
	const char *why;

	if (layout != VCHAN_LAYOUT_XENVCHAN && layout != VCHAN_LAYOUT_LINES) {
		vchan_log("setup", "unknown layout %d", layout);
		return -EINVAL;
	}
	/* Two small rings asked for the same slot: move the right one up
	 * (LINES keeps the order-11 slot for its indices). */
	if (lo == ro && lo < VCHAN_PAGE_SHIFT)
		ro = lo == SMALL_ORDER && layout != VCHAN_LAYOUT_LINES
			     ? LARGE_ORDER : VCHAN_PAGE_SHIFT;
	why = layout_problem(lo, ro, layout);
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
			      unsigned left_order, unsigned right_order,
			      int layout)
{
	struct vchan_slots sl;

	VCHAN_WRITE_ONCE(page->left.cons, 0);
	VCHAN_WRITE_ONCE(page->left.prod, 0);
	VCHAN_WRITE_ONCE(page->right.cons, 0);
	VCHAN_WRITE_ONCE(page->right.prod, 0);
	VCHAN_WRITE_ONCE(page->cli_notify, 0);
	VCHAN_WRITE_ONCE(page->srv_notify, 0);
	if (layout == VCHAN_LAYOUT_LINES) {
		struct lines_area *l = lines_of(page);

		VCHAN_WRITE_ONCE(l->left_cons, 0);
		VCHAN_WRITE_ONCE(l->left_prod, 0);
		VCHAN_WRITE_ONCE(l->right_cons, 0);
		VCHAN_WRITE_ONCE(l->right_prod, 0);
		VCHAN_WRITE_ONCE(l->mark, LINES_MARK);
	}
	vchan_layout_slots(page, layout, &sl);
	VCHAN_WRITE_ONCE(page->left_order, (uint16_t)left_order);
	VCHAN_WRITE_ONCE(page->right_order, (uint16_t)right_order);
	VCHAN_WRITE_ONCE(page->cli_live, 2);  /* client not yet connected */
	VCHAN_WRITE_ONCE(page->srv_live, 1);
	/* The server wants to hear when the client writes; the client will
	 * ask for the same in srv_notify when it connects. */
	VCHAN_WRITE_ONCE(*sl.cli_notify, VCHAN_NOTIFY_WRITE);
	VCHAN_WRITE_ONCE(*sl.srv_notify, 0);
	/* Publish the initialised page before it is handed out. */
	vchan_wmb();
}

int vchan_layout_client_read(const struct vchan_interface *page,
			     const char *who, unsigned *left_order,
			     unsigned *right_order, int *layout)
{
	/* Peer-written: each order and the mark read exactly once, then only
	 * the local copies are used. */
	unsigned lo = VCHAN_READ_ONCE(page->left_order);
	unsigned ro = VCHAN_READ_ONCE(page->right_order);
	uint32_t mark = VCHAN_READ_ONCE(lines_of(page)->mark);
	/* Any other value there is a stock server's unused (zeroed) page.
	 * Under an order-11 ring these are ring bytes, whatever they say. */
	int lay = mark == LINES_MARK && lo != LARGE_ORDER && ro != LARGE_ORDER
			  ? VCHAN_LAYOUT_LINES : VCHAN_LAYOUT_XENVCHAN;
	const char *why;

	/* The orders before anything derived from them. */
	vchan_rmb();
	why = layout_problem(lo, ro, lay);
	if (why) {
		vchan_log(who, "peer's control page is invalid "
			  "(left_order %u, right_order %u): %s", lo, ro, why);
		return -EPROTO;
	}
	*left_order = lo;
	*right_order = ro;
	*layout = lay;
	return 0;
}

void vchan_layout_slots(struct vchan_interface *page, int layout,
			struct vchan_slots *s)
{
	if (layout == VCHAN_LAYOUT_LINES) {
		struct lines_area *l = lines_of(page);

		*s = (struct vchan_slots){
			&l->left_prod, &l->left_cons,
			&l->right_prod, &l->right_cons,
			&l->srv_notify, &l->cli_notify,
		};
		return;
	}
	*s = (struct vchan_slots){
		&page->left.prod, &page->left.cons,
		&page->right.prod, &page->right.cons,
		&page->srv_notify, &page->cli_notify,
	};
}
