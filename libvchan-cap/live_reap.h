/* SPDX-License-Identifier: MIT */
/* libvchan-cap: the client's liveness nodes, their value and the removal
 * of those whose process died (live_reap.c). */
#ifndef VCHAN_LIVE_REAP_H
#define VCHAN_LIVE_REAP_H

#include <vipc/hyp.h>

/* A domain's liveness nodes: one per channel its clients hold. */
#define VCHAN_LIVE_DIR "/local/domain/%u/data/vipc-vchan-live"

/* A process, as a liveness node records it. */
struct vchan_proc_id {
	long pid;
	unsigned long pidns;          /* inode of its pid namespace */
	unsigned long long start;     /* clock ticks after boot */
};

/* Who we are: 0, or -errno when /proc cannot tell. */
int vchan_proc_self(struct vchan_proc_id *me);
/* The node's value for us and the offer at xs_path (malloc'd; NULL: no
 * memory). */
char *vchan_live_value(const struct vchan_proc_id *me, const char *xs_path);
/* Remove the liveness nodes of domain `self` whose process is provably
 * gone (best effort: a store error ends it, logged once per process). */
void vchan_live_reap(struct hyp_store *st, const char *who, unsigned self,
		     const struct vchan_proc_id *me);

#endif
