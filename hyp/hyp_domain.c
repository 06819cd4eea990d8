/* hyp_domain.c: domain identity and facts (libxenstore, libxenctrl). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <xenctrl.h>

#include "vipc/hyp.h"
#include "hyp_internal.h"

struct hyp_ctrl {
	xc_interface *xch;
};

int hyp_self_domid(struct hyp_store *st, domid_t *domid)
{
	unsigned long v;
	int rc;

	if (!domid)
		return -EINVAL;
	/* Relative path: resolved by xenstored against our own home. */
	rc = hyp_store_read_uint(st, HYP_TXN_NONE, "domid", DOMID_FIRST_RESERVED - 1,
				 &v);
	if (rc == -ERANGE)
		return -EPROTO;
	if (rc < 0)
		return rc;
	*domid = (domid_t)v;
	return 0;
}

int hyp_domain_name(struct hyp_store *st, domid_t domid, char **name)
{
	char path[64];

	if (!name)
		return -EINVAL;
	snprintf(path, sizeof(path), "/local/domain/%u/name", (unsigned)domid);
	return hyp_store_read(st, HYP_TXN_NONE, path, name, NULL);
}

int hyp_ctrl_open(struct hyp_ctrl **out)
{
	struct hyp_ctrl *xc;

	if (!out)
		return -EINVAL;
	xc = calloc(1, sizeof(*xc));
	if (!xc)
		return -ENOMEM;
	errno = 0;
	xc->xch = xc_interface_open(NULL, NULL, 0);
	if (!xc->xch) {
		int err = hyp_neg_errno();

		free(xc);
		return err;
	}
	*out = xc;
	return 0;
}

void hyp_ctrl_close(struct hyp_ctrl *xc)
{
	if (!xc)
		return;
	xc_interface_close(xc->xch);
	free(xc);
}

static void dominfo_from_xc(struct hyp_dominfo *d, const xc_dominfo_t *x)
{
	d->domid = (domid_t)x->domid;
	d->dying = x->dying;
	/* libxenctrl reports a crash as crashed and not shut down (it
	 * clears the shutdown bit for SHUTDOWN_crash); ours is both. */
	d->shutdown = x->shutdown || x->crashed;
	d->crashed = x->crashed;
	d->paused = x->paused;
	d->shutdown_reason = d->shutdown ? x->shutdown_reason : 0;
}

int hyp_domain_info(struct hyp_ctrl *xc, domid_t domid,
		    struct hyp_dominfo *info)
{
	xc_dominfo_t x;
	int n;

	if (!xc || !info || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	errno = 0;
	n = xc_domain_getinfo(xc->xch, domid, 1, &x);
	if (n < 0)
		return hyp_neg_errno();
	/* The call reports the next domain at or after domid: check it is ours. */
	if (n == 0 || x.domid != domid)
		return -ESRCH;
	dominfo_from_xc(info, &x);
	return 0;
}

int hyp_domain_alive(struct hyp_ctrl *xc, domid_t domid)
{
	struct hyp_dominfo d;
	int rc = hyp_domain_info(xc, domid, &d);

	if (rc == -ESRCH)
		return 0;
	if (rc < 0)
		return rc;
	return !d.dying && !d.shutdown;
}

int hyp_domain_list(struct hyp_ctrl *xc, domid_t first,
		    struct hyp_dominfo *info, unsigned int max)
{
	unsigned int filled = 0;
	uint32_t next = first;

	if (!xc || (!info && max))
		return -EINVAL;
	/* Small batches keep the stack bounded whatever max is. */
	while (filled < max && next < DOMID_FIRST_RESERVED) {
		xc_dominfo_t batch[16];
		unsigned int want = max - filled;
		int n, i;

		if (want > 16)
			want = 16;
		errno = 0;
		n = xc_domain_getinfo(xc->xch, next, want, batch);
		/* None at or after `next`: libxenctrl says ESRCH. */
		if (n < 0 && errno == ESRCH)
			break;
		if (n < 0)
			return hyp_neg_errno();
		for (i = 0; i < n; i++) {
			if (batch[i].domid >= DOMID_FIRST_RESERVED)
				break;
			dominfo_from_xc(&info[filled++], &batch[i]);
		}
		if (i < n || (unsigned int)n < want)
			break;
		/* Enumeration is by increasing domid; never loop on a bad one. */
		if (batch[n - 1].domid + 1 <= next)
			break;
		next = batch[n - 1].domid + 1;
	}
	return (int)filled;
}
