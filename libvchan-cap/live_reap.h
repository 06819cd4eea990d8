/* SPDX-License-Identifier: MIT */
/* libvchan-cap: the client's liveness and claim nodes, the server's offer
 * records, their value, the claim, and the removal of those whose process
 * died (live_reap.c). */
#ifndef VCHAN_LIVE_REAP_H
#define VCHAN_LIVE_REAP_H

#include <vipc/hyp.h>

/* A domain's liveness nodes: one per channel its clients hold, in a shard
 * (VCHAN_SHARD_FMT) of this directory. */
#define VCHAN_LIVE_DIR "/local/domain/%u/data/vipc-vchan-live"
/* An offer's channel id (transport_xen.c): <offer>/vipc-channel-id, 16
 * lower-case hex digits, random per channel. */
#define VCHAN_CHANNEL_ID "vipc-channel-id"
#define VCHAN_CHANNEL_ID_LEN 16
/* A domain's offer records: one per channel its servers offer, named by the
 * channel id, the value as a liveness node's (its path: the offer's), in a
 * shard of this directory. */
#define VCHAN_OFFER_DIR "/local/domain/%u/data/vipc-vchan-offers"
/* Xen 4.17's xenstored refuses a guest's node whose record, child names
 * included, would take 2048 bytes (xensim's xs_quota.c): one directory
 * would hold about 75 liveness nodes or 118 offer records.  So each holds
 * 16 shards, named by one hex digit: the channel id's first (random), or,
 * for a stock server's offer (no id), the ring-ref's last. */
#define VCHAN_SHARDS 16
#define VCHAN_SHARD_FMT "/%c"
/* The shard of a channel with this id ("" or NULL: none) and ring-ref. */
char vchan_shard(const char *id, unsigned ring_ref);

/* A process, as a liveness node records it. */
#define VCHAN_BOOT_ID_LEN 36
struct vchan_proc_id {
	long pid;
	unsigned long pidns;          /* inode of its pid namespace */
	unsigned long long start;     /* clock ticks after boot */
	char boot[VCHAN_BOOT_ID_LEN + 1]; /* the kernel's boot id; "" unknown */
};

/* Who holds a liveness or claim node (see vchan_live_owner). */
enum vchan_owner {
	VCHAN_OWNER_GONE,             /* provably: its process is gone */
	VCHAN_OWNER_ALIVE,            /* provably: its process runs */
	VCHAN_OWNER_UNKNOWN,          /* cannot tell */
};

/* Who we are: 0, or -errno when /proc cannot tell. */
int vchan_proc_self(struct vchan_proc_id *me);
/* The node's value for us and the offer at xs_path (malloc'd; NULL: no
 * memory). */
char *vchan_live_value(const struct vchan_proc_id *me, const char *xs_path);
/* Who holds the node whose value is val; *pid (may be NULL): the pid the
 * value names, 0 if none. */
enum vchan_owner vchan_live_owner(const struct vchan_proc_id *me,
				  const char *val, long *pid);
/* Claim an offer before binding it: in one transaction, look at its liveness
 * node and its claim node; if neither is held by a live process of our pid
 * namespace, nor by one we cannot judge, write claim_path = val (owner self,
 * nobody else).  1 claimed, 0 not (a holder we cannot judge: bind decides),
 * -EBUSY a live process holds it (*holder: its pid), or a store error. */
int vchan_live_claim(struct hyp_store *st, const struct vchan_proc_id *me,
		     unsigned self, const char *live_path,
		     const char *claim_path, const char *val, long *holder);
/* Server: remove the offers of dead server processes of domain `self` (a
 * server process killed in a living domain leaves its offer otherwise):
 * for each offer record whose process is provably gone, the offer at the
 * record's path if it still carries the record's channel id, and the
 * record.  Best effort, as vchan_live_reap. */
void vchan_offer_reap(struct hyp_store *st, const char *who, unsigned self,
		      const struct vchan_proc_id *me);
/* A node this process holds (its channel's liveness node or offer record):
 * the clean-up skips it unread until vchan_reap_disown(path).  Best effort
 * (no memory: it is read like any other). */
void vchan_reap_own(const char *path);
void vchan_reap_disown(const char *path);
/* The next clean-up of each directory by this process looks at every shard
 * again (live_reap.c, "Sweeps").  For tests and fuzz targets, which run
 * many cases in one process. */
void vchan_reap_sweep_all(void);
/* Remove the liveness nodes of domain `self` whose process is provably
 * gone (best effort: a store error ends it, logged once per process). */
void vchan_live_reap(struct hyp_store *st, const char *who, unsigned self,
		     const struct vchan_proc_id *me);

#endif
