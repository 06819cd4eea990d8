/* The xensim vchan test programs: which domain this one is, and which its
 * peer is, once dom0 wrote it to data/conf/peer (30 s at most). */
#ifndef VIPC_TESTS_SIM_IDS_H
#define VIPC_TESTS_SIM_IDS_H

#include <errno.h>
#include <unistd.h>

#include <vipc/hyp.h>

static int sim_ids(domid_t *self, unsigned *peer)
{
	struct hyp_store *st;
	unsigned long v;
	int r, i;

	if ((r = hyp_store_open(&st)) < 0)
		return r;
	r = hyp_self_domid(st, self);
	for (i = 0; r == 0 && i < 300; i++) {
		r = hyp_store_read_uint(st, HYP_TXN_NONE, "data/conf/peer",
					0x7fef, &v);
		if (r == 0)
			*peer = (unsigned)v;
		if (r != -ENOENT)
			break;
		r = 0;
		usleep(100000);
	}
	if (r == 0 && i == 300)
		r = -ETIMEDOUT;
	hyp_store_close(st);
	return r;
}

#endif
