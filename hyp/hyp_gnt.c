/* hyp_gnt.c: grant tables over libxengnttab (gntshr: share, gnttab: map). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <xengnttab.h>

#include "vipc/hyp.h"
#include "hyp_internal.h"

struct hyp_gntshr {
	xengntshr_handle *xgs;
};

struct hyp_gnttab {
	xengnttab_handle *xgt;
};

/*
 * Check an optional unmap notification and translate it into the library's
 * (offset, port) pair, where -1 (all ones) means "none".
 */
static int notify_args(const struct hyp_unmap_notify *notify, uint32_t count,
		       uint32_t *offset, evtchn_port_t *port)
{
	*offset = HYP_NOTIFY_NONE;
	*port = HYP_NOTIFY_NONE;
	if (!notify)
		return 0;
	/* Xen implements unmap-notify on single pages only. */
	if (count != 1)
		return -EINVAL;
	if (notify->offset != HYP_NOTIFY_NONE && notify->offset >= HYP_PAGE_SIZE)
		return -EINVAL;
	*offset = notify->offset;
	*port = notify->port;
	return 0;
}

int hyp_gntshr_open(struct hyp_gntshr **out)
{
	struct hyp_gntshr *gs;

	if (!out)
		return -EINVAL;
	gs = calloc(1, sizeof(*gs));
	if (!gs)
		return -ENOMEM;
	errno = 0;
	gs->xgs = xengntshr_open(NULL, 0);
	if (!gs->xgs) {
		int err = hyp_neg_errno();

		free(gs);
		return err;
	}
	*out = gs;
	return 0;
}

void hyp_gntshr_close(struct hyp_gntshr *gs)
{
	if (!gs)
		return;
	xengntshr_close(gs->xgs);
	free(gs);
}

int hyp_gntshr_share(struct hyp_gntshr *gs, domid_t peer, uint32_t count,
		     bool writable, const struct hyp_unmap_notify *notify,
		     grant_ref_t *refs, void **addr)
{
	uint32_t off;
	evtchn_port_t port;
	void *p;
	int rc;

	if (!gs || !refs || !addr || count == 0 || count > INT32_MAX)
		return -EINVAL;
	rc = notify_args(notify, count, &off, &port);
	if (rc < 0)
		return rc;
	errno = 0;
	if (notify)
		p = xengntshr_share_page_notify(gs->xgs, peer, refs, writable,
						off, port);
	else
		p = xengntshr_share_pages(gs->xgs, peer, (int)count, refs,
					  writable);
	if (!p)
		return hyp_neg_errno();
	*addr = p;
	return 0;
}

int hyp_gntshr_unshare(struct hyp_gntshr *gs, void *addr, uint32_t count)
{
	if (!gs || !addr || count == 0)
		return -EINVAL;
	errno = 0;
	if (xengntshr_unshare(gs->xgs, addr, count) < 0)
		return hyp_neg_errno();
	return 0;
}

int hyp_gnttab_open(struct hyp_gnttab **out)
{
	struct hyp_gnttab *gt;

	if (!out)
		return -EINVAL;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		return -ENOMEM;
	errno = 0;
	gt->xgt = xengnttab_open(NULL, 0);
	if (!gt->xgt) {
		int err = hyp_neg_errno();

		free(gt);
		return err;
	}
	*out = gt;
	return 0;
}

void hyp_gnttab_close(struct hyp_gnttab *gt)
{
	if (!gt)
		return;
	xengnttab_close(gt->xgt);
	free(gt);
}

int hyp_gnttab_map(struct hyp_gnttab *gt, domid_t peer, uint32_t count,
		   const grant_ref_t *refs, bool writable,
		   const struct hyp_unmap_notify *notify, void **addr)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint32_t off;
	evtchn_port_t port;
	void *p;
	int rc;

	if (!gt || !refs || !addr || count == 0)
		return -EINVAL;
	rc = notify_args(notify, count, &off, &port);
	if (rc < 0)
		return rc;
	errno = 0;
	if (notify)
		p = xengnttab_map_grant_ref_notify(gt->xgt, peer, refs[0], prot,
						   off, port);
	else
		/* The library only reads refs; its prototype just lacks const. */
		p = xengnttab_map_domain_grant_refs(gt->xgt, count, peer,
						    (uint32_t *)refs, prot);
	if (!p)
		return hyp_neg_errno();
	*addr = p;
	return 0;
}

int hyp_gnttab_unmap(struct hyp_gnttab *gt, void *addr, uint32_t count)
{
	if (!gt || !addr || count == 0)
		return -EINVAL;
	errno = 0;
	if (xengnttab_unmap(gt->xgt, addr, count) < 0)
		return hyp_neg_errno();
	return 0;
}
