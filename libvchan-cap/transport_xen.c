/* SPDX-License-Identifier: MIT */
/* A channel over Xen (through hyp/), with libxenvchan's conventions so that
 * a stock libxenvchan peer interoperates:
 *   server: record the offer (live_reap.c: a server killed with its offer
 *           out leaves the record, and the next server's open in its domain
 *           removes both), share the control page (unmap-notify on
 *           srv_live) and the ring pages read-write with the peer, offer it
 *           an unbound port, write <path>/ring-ref, <path>/event-channel and
 *           <path>/vipc-channel-id (a random id, ours: stock peers ignore
 *           it) in one transaction with owner = self, peer read-only;
 *           remove <path> on close while it still names our port, and the
 *           record.
 *   client: read them, claim the offer (live_reap.c), bind, map the control
 *           page (unmap-notify on cli_live), refuse it if a client used it
 *           (cli_live not 2), check the orders, map the ring it writes
 *           read-write and the ring it reads read-only, set cli_live,
 *           notify.
 *
 * Peer death.  A process that dies in a living domain fires its unmap-notify
 * (the kernel's gntalloc/gntdev clears its live byte).  A destroyed domain
 * fires none: its kernel never runs again.  So each end also watches the
 * store: a node the peer owns (the client: the server's ring-ref; the server:
 * the client's liveness node, LIVE_FMT, which our client writes before it
 * connects) and @releaseDomain when dom0 let us read it.  Xen 4.17's
 * xenstored deletes every node a destroyed domain owned (and the toolstack
 * its home), then fires @releaseDomain; a guest may not ask
 * XS_IS_DOMAIN_INTRODUCED (privileged since XSA-115).  On an event we read
 * the node's permissions: gone, unreadable or owned by another domain once
 * it was there (or once it changed after the watch was set) means the peer's
 * domain is gone.  A stock libxenvchan client writes no such node: then
 * unmap-notify is all there is.
 *
 * A client process killed in a living domain leaves its liveness node; the
 * next client of that domain removes it (live_reap.c).  The server reads
 * the node's permissions only, never its value. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <vipc/hyp.h>

#include "live_reap.h"
#include "peer_watch.h"
#include "store_conn.h"
#include "vchan_priv.h"

#define PUBLISH_ATTEMPTS 10
/* The client's liveness node: /local/domain/<client>/data/vipc-vchan-live/
 * <shard>/<server domid>-<server port>-<ring-ref>-<channel id> (the shard:
 * live_reap.h), owned by the client,
 * the server may read.  Xen reuses a freed port at once, and Linux a freed
 * grant ref: a channel offered again after its client was killed (whose
 * node stays, see live_reap.c) can have the same port and ring-ref, and a
 * server watching that node would take its removal for its new client's
 * death.  The channel id tells them apart.  Without one (a stock server,
 * which watches nothing) the name ends with the ring-ref. */
#define LIVE_FMT VCHAN_LIVE_DIR VCHAN_SHARD_FMT "/%u-%u-%u"
#define LIVE_ID_FMT LIVE_FMT "-%s"
/* Next to it while the client connects (live_reap.c): the claim. */
#define CLAIM_SUFFIX "-claim"

struct xen_tp {
	pthread_mutex_t mu;         /* hyp handles are not thread-safe */
	bool server;
	domid_t peer;
	struct hyp_evtchn *ev;
	evtchn_port_t port;          /* our end */
	struct hyp_gntshr *gs;       /* server */
	struct hyp_gnttab *gt;       /* client */
	void *page;
	void *lbuf, *rbuf;           /* granted ring mappings (NULL: in page) */
	unsigned lpages, rpages;
	struct hyp_store *st;        /* the process's (store_conn.c) */
	unsigned long st_epoch;      /* for vchan_store_put */
	char *xs_path;               /* server: what to remove on close */
	char *live_path;             /* client: our liveness node, likewise */
	char *claim_path;            /* client: our claim while we connect */
	char *rec_path;              /* server: our offer's record */
	/* peer watch (peer_watch.c) */
	struct vchan_peer_sub sub;
	bool watched;
	int watch_fd;                /* -1: none to poll */
	struct vchan_fork_hold hold; /* our devices, which a child drops */
};

static int xen_notify(void *p)
{
	struct xen_tp *t = p;
	int r;

	pthread_mutex_lock(&t->mu);
	r = t->ev ? hyp_evtchn_notify(t->ev, t->port) : -EPIPE;
	pthread_mutex_unlock(&t->mu);
	return r;
}

static int xen_fd(void *p)
{
	return hyp_evtchn_fd(((struct xen_tp *)p)->ev);
}

static int xen_ack(void *p)
{
	struct xen_tp *t = p;
	evtchn_port_t port;
	int r;

	pthread_mutex_lock(&t->mu);
	/* One port per handle: one pending/ack clears it. An event arriving
	 * after this leaves the fd readable, so nothing is lost by not
	 * looping (which would cost a system call per wake-up). */
	if (t->ev && (r = hyp_evtchn_pending(t->ev, &port)) == 0)
		hyp_evtchn_ack(t->ev, port);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

/* Server: remove what we published under xs_path, in one transaction, if
 * its event-channel still names our port (unique in this domain while we
 * hold it).  Otherwise another server has published there since, or we
 * never did: its client may be connected, and watches that node. */
static void unpublish(struct xen_tp *t)
{
	unsigned long port;
	hyp_txn_t txn;
	char *path;
	bool ours;
	int r, i;

	if (asprintf(&path, "%s/event-channel", t->xs_path) < 0)
		return;
	for (i = 0; i < PUBLISH_ATTEMPTS; i++) {
		if (hyp_store_txn_start(t->st, &txn) < 0)
			break;
		r = hyp_store_read_uint(t->st, txn, path, UINT32_MAX, &port);
		ours = r == 0 && port == t->port;
		if (ours)
			r = hyp_store_rm(t->st, txn, t->xs_path);
		if (!ours || r < 0) {
			(void)hyp_store_txn_end(t->st, txn, true);
			if (r != -EAGAIN)
				break;
			continue;
		}
		if (hyp_store_txn_end(t->st, txn, false) != -EAGAIN)
			break;
	}
	free(path);
}

/* A store call on t->st failed with r: if the connection is lost, move t
 * to a fresh one (store_conn.c).  True: do the call once more, there. */
static bool store_again(struct xen_tp *t, int r)
{
	return r < 0 && hyp_store_lost(t->st) &&
	       vchan_store_renew(&t->st, &t->st_epoch) == 0;
}

/* The store nodes this end is to remove: the server's offer (unpublish)
 * and record, the client's liveness node and claim.  Each removal is
 * idempotent. */
static void remove_nodes_on(struct xen_tp *t)
{
	if (t->server && t->xs_path && t->port)
		unpublish(t);
	if (t->rec_path)
		hyp_store_rm(t->st, HYP_TXN_NONE, t->rec_path);
	if (t->live_path)
		hyp_store_rm(t->st, HYP_TXN_NONE, t->live_path);
	if (t->claim_path)
		hyp_store_rm(t->st, HYP_TXN_NONE, t->claim_path);
}

/* Remove them (under t->mu).  A store connection known lost cannot: a
 * fresh one can (store_conn.c); one found lost by these removals, once
 * more on a fresh one.  Failing that, they fail as they would. */
static void remove_nodes(struct xen_tp *t)
{
	if (!t->st || !((t->server && t->xs_path && t->port) ||
			t->rec_path || t->live_path || t->claim_path))
		return;
	(void)vchan_store_renew(&t->st, &t->st_epoch);
	remove_nodes_on(t);
	/* Their errors are not kept: the handle says whether it was lost. */
	if (hyp_store_lost(t->st) &&
	    vchan_store_renew(&t->st, &t->st_epoch) == 0)
		remove_nodes_on(t);
}

static void free_tp(struct xen_tp *t)
{
	if (t->live_path)
		vchan_reap_disown(t->live_path);
	if (t->rec_path)
		vchan_reap_disown(t->rec_path);
	free(t->xs_path);
	free(t->live_path);
	free(t->claim_path);
	free(t->rec_path);
	free(t);
}

static void xen_release(void *p, bool detach)
{
	struct xen_tp *t = p;

	if (detach) {
		/* A forked child's copy (fork.c): close the inherited handles
		 * the one way Xen allows there, and touch nothing the parent
		 * still uses: no page, port, grant, store node or lock. */
		hyp_gntshr_close(t->gs);
		hyp_gnttab_close(t->gt);
		hyp_evtchn_close(t->ev);
		/* Each drops the process's copy of its store connection
		 * (store_conn.c, peer_watch.c) the way a child may. */
		if (t->st)
			vchan_store_put(t->st, t->st_epoch);
		vchan_peer_watch_remove(&t->sub);
		free_tp(t);
		return;
	}
	vchan_fork_unhold(&t->hold);   /* before the descriptors go */
	/* No look reaches this end from now on. */
	vchan_peer_watch_remove(&t->sub);
	t->watched = false;
	t->watch_fd = -1;
	pthread_mutex_lock(&t->mu);
	remove_nodes(t);
	if (t->server) {
		if (t->lbuf)
			hyp_gntshr_unshare(t->gs, t->lbuf, t->lpages);
		if (t->rbuf)
			hyp_gntshr_unshare(t->gs, t->rbuf, t->rpages);
		/* Fires the unmap-notify on srv_live for a client still
		 * mapping it, if the explicit close did not reach it. */
		if (t->page)
			hyp_gntshr_unshare(t->gs, t->page, 1);
	} else {
		if (t->lbuf)
			hyp_gnttab_unmap(t->gt, t->lbuf, t->lpages);
		if (t->rbuf)
			hyp_gnttab_unmap(t->gt, t->rbuf, t->rpages);
		if (t->page)
			hyp_gnttab_unmap(t->gt, t->page, 1);
	}
	hyp_gntshr_close(t->gs);
	hyp_gnttab_close(t->gt);
	hyp_evtchn_close(t->ev);   /* unbinds the port */
	if (t->st)
		vchan_store_put(t->st, t->st_epoch);
	t->ev = NULL;
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_destroy(&t->mu);
	free_tp(t);
}

static int xen_peer_fd(void *p)
{
	return ((struct xen_tp *)p)->watch_fd;
}

static int xen_peer_check(void *p, bool connected)
{
	struct xen_tp *t = p;

	return t->watched ? vchan_peer_watch_check(&t->sub, connected) : 0;
}

static const struct vchan_transport_ops xen_ops = {
	.notify = xen_notify,
	.fd = xen_fd,
	.ack = xen_ack,
	.release = xen_release,
	.peer_fd = xen_peer_fd,
	.peer_check = xen_peer_check,
};

/* Keep a mapping out of fork()'s children (as Linux's gntdev does for PV
 * guests): a child's copy would keep the grant mapped, and so the peer
 * from seeing this process die, for as long as the child lives.  0 or
 * madvise's errno. */
static int dontfork(void *addr, unsigned pages)
{
	return addr && madvise(addr, (size_t)pages * VCHAN_PAGE_SIZE,
			       MADV_DONTFORK) < 0 ? errno : 0;
}

static void dontfork_failed(const char *who, int err)
{
	static int failed;

	if (err && vchan_first_time(&failed))
		vchan_log(who, "madvise(MADV_DONTFORK): %s: a forked child "
			  "keeps the mapping while it lives", strerror(err));
}

/* The devices too (fork.c): a child may not touch them anyway, and its
 * copies would keep the grant mapped as well.  What t->hold lists. */
static void hold_devices(struct xen_tp *t)
{
	int ev = hyp_evtchn_fd(t->ev);
	int gnt = t->gs ? hyp_gntshr_fd(t->gs) : hyp_gnttab_fd(t->gt);

	t->hold.fd[0] = ev >= 0 ? ev : -1;
	t->hold.fd[1] = gnt >= 0 ? gnt : -1;
}

/* Client: keep the page, the rings and the devices from children.  Unlike
 * the server's, a fork() in another thread before this hides nothing on
 * PV: gntdev makes its mappings VM_DONTCOPY as it maps them, and clears
 * our live byte when this process's address space lets go of the page,
 * whoever holds a copy of the device (only the event waits for the last
 * holder, and the peer looks at the byte every second anyway).  So no
 * fork() lock around the maps, which could not take it: xensim's gntdev
 * map takes a lock of its own in fork()'s handlers. */
static void keep_from_children(const char *who, struct xen_tp *t)
{
	int err = dontfork(t->page, 1);

	if (!err)
		err = dontfork(t->lbuf, t->lpages);
	if (!err)
		err = dontfork(t->rbuf, t->rpages);
	hold_devices(t);
	vchan_fork_hold(&t->hold);
	dontfork_failed(who, err);
}

/* Server: share `count` pages with the peer (hyp_gntshr_share) and keep
 * them from fork()'s children before any other thread's fork() can copy
 * them: gntalloc's mappings are copied (the peer would not see us die
 * while a child lives), so the share, MADV_DONTFORK and the devices'
 * listing go under fork()'s own lock (fork.c).  *err: madvise's errno, if
 * none before. */
static int share_kept(struct xen_tp *t, uint32_t count,
		      const struct hyp_unmap_notify *un, grant_ref_t *refs,
		      void **addr, int *err)
{
	int r;

	vchan_fork_block();
	r = hyp_gntshr_share(t->gs, t->peer, count, true, un, refs, addr);
	if (r == 0) {
		if (!*err)
			*err = dontfork(*addr, count);
		hold_devices(t);
	}
	vchan_fork_unblock(r == 0 ? &t->hold : NULL);
	return r;
}

/* Watch the peer: `node` (a node the peer owns while it lives; `seen`: it
 * was there already), and @releaseDomain (self: our domid, <0 unknown as
 * -errno), through the process's store connection (peer_watch.c).  Never
 * fatal: without a watch the channel still works, with unmap-notify alone. */
static void watch_start(struct xen_tp *t, const char *who, int self,
			const char *node, bool seen)
{
	t->watched = vchan_peer_watch_add(&t->sub, who, self, node, t->peer,
					  seen, &t->watch_fd) == 0;
}

static struct xen_tp *tp_new(bool server, domid_t peer)
{
	struct xen_tp *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->mu, NULL);
	t->server = server;
	t->peer = peer;
	t->watch_fd = -1;
	return t;
}

static const char *who_of(const struct vchan_config *cfg, bool server)
{
	return cfg && cfg->name ? cfg->name : server ? "server" : "client";
}

/* A new channel's id (VCHAN_CHANNEL_ID_LEN hex digits): unique is what counts,
 * not secret; without the kernel's random numbers, time and pid. */
static void channel_id(char *buf)
{
	struct timespec ts;
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
		    ((uint64_t)getpid() << 40);
	}
	snprintf(buf, VCHAN_CHANNEL_ID_LEN + 1, "%016" PRIx64, v);
}

/* Server: clean up the offers that killed server processes of our domain
 * left, then record ours (owner us, nobody else) before it is offered:
 * killed, this process leaves a record the next server of the domain
 * finds (live_reap.c).  Best effort, as the client's liveness node. */
static void record_offer(struct xen_tp *t, const char *who, domid_t self,
			 const char *xs_path, const char *id)
{
	static int no_self, no_record;
	struct xs_permissions perm = { .id = self, .perms = XS_PERM_NONE };
	struct hyp_store_node node;
	struct vchan_proc_id me;
	char *path = NULL, *val;
	int r = vchan_proc_self(&me);

	if (r < 0) {
		if (vchan_first_time(&no_self))
			vchan_log(who, "cannot tell this process in /proc (%s): "
				  "offers of killed servers are not cleaned "
				  "up", strerror(-r));
		return;
	}
	vchan_offer_reap(t->st, who, self, &me);
	val = vchan_live_value(&me, xs_path);
	if (!val || asprintf(&path, VCHAN_OFFER_DIR VCHAN_SHARD_FMT "/%s",
			     (unsigned)self, vchan_shard(id, 0), id) < 0) {
		free(val);
		return;
	}
	node = (struct hyp_store_node){ path, val };
	r = hyp_store_publish(t->st, &node, 1, &perm, 1, PUBLISH_ATTEMPTS);
	if (store_again(t, r))
		r = hyp_store_publish(t->st, &node, 1, &perm, 1,
				      PUBLISH_ATTEMPTS);
	free(val);
	if (r < 0) {
		if (vchan_first_time(&no_record))
			vchan_log(who, "cannot record the offer in %s (%s): "
				  "killed, this process leaves it", path,
				  strerror(-r));
		free(path);
		return;
	}
	t->rec_path = path;
	vchan_reap_own(path);   /* our clean-ups need not read it */
}

/* Server: does the peer domain exist?  Only a privileged domain may ask
 * Xen; a guest cannot tell (Xen offers ports and grants to any domain id,
 * and xenstored keeps a permission naming a domain that does not exist:
 * store-perms conformance scenario), and offers anyway: its server then
 * waits for a client, as libxenvchan's does.  0, or -ESRCH (logged). */
static int peer_exists(const struct xen_tp *t, const char *who)
{
	struct hyp_ctrl *xc = NULL;
	int r;

	if (hyp_ctrl_open(&xc) < 0)
		return 0;
	r = hyp_domain_alive(xc, t->peer);
	hyp_ctrl_close(xc);
	if (r != 0)
		return 0;
	vchan_log(who, "peer domain %u does not exist or is dying",
		  (unsigned)t->peer);
	return -ESRCH;
}

/* Server: an unbound port for the peer, the control page (unmap-notify on
 * srv_live, which fires the port) and the rings' pages shared read-write
 * with it, the page laid out.  *ref: the page's grant; *rb, *wb: the rings
 * we read and write.  Failures are logged. */
static int server_share(struct xen_tp *t, const char *who, unsigned lo,
			unsigned ro, int layout, grant_ref_t *ref, void **rb,
			void **wb)
{
	static int old_open;
	struct hyp_unmap_notify un;
	struct vchan_interface *pg;
	const char *why;
	int r, err = 0;

	if ((r = hyp_evtchn_open(&t->ev)) < 0 ||
	    (r = hyp_evtchn_alloc_unbound(t->ev, t->peer, &t->port)) < 0) {
		vchan_log(who, "cannot offer an event channel to domain %u: "
			  "%s", (unsigned)t->peer, strerror(-r));
		return r;
	}
	if ((r = hyp_gntshr_open(&t->gs)) < 0)
		goto fail;
	if ((why = hyp_gntshr_open_fallback(t->gs)) &&
	    vchan_first_time(&old_open))
		vchan_log(who, "gntalloc opened the old way (%s): a program "
			  "another thread starts then with posix_spawn() or "
			  "vfork() may inherit it (libvchan-cap(3), BUGS)",
			  why);
	un.offset = offsetof(struct vchan_interface, srv_live);
	un.port = t->port;
	r = share_kept(t, 1, &un, ref, &t->page, &err);
	if (r < 0)
		goto fail;
	pg = t->page;
	t->lpages = vchan_layout_pages(lo);
	t->rpages = vchan_layout_pages(ro);
	if (t->lpages && (r = share_kept(t, t->lpages, NULL, pg->grants,
					 &t->lbuf, &err)) < 0)
		goto fail;
	if (t->rpages && (r = share_kept(t, t->rpages, NULL,
					 pg->grants + t->lpages, &t->rbuf,
					 &err)) < 0)
		goto fail;
	dontfork_failed(who, err);
	vchan_layout_server_init(pg, lo, ro, layout);
	*rb = t->lbuf ? t->lbuf : (uint8_t *)pg + vchan_layout_inpage_offset(lo);
	*wb = t->rbuf ? t->rbuf : (uint8_t *)pg + vchan_layout_inpage_offset(ro);
	return 0;

fail:
	dontfork_failed(who, err);
	if (r == -ENOSPC)
		vchan_log(who, "cannot share %u pages with domain %u: this "
			  "domain's grants are used up (Linux's gntalloc "
			  "shares 1024 pages per domain at once unless the "
			  "module parameter xen_gntalloc.limit says more; "
			  "else Xen's max_grant_frames); smaller rings take "
			  "fewer", 1 + vchan_layout_pages(lo) +
			  vchan_layout_pages(ro), (unsigned)t->peer);
	else
		vchan_log(who, "cannot share ring pages with domain %u: %s",
			  (unsigned)t->peer, strerror(-r));
	return r;
}

/* Server: the end over t, its pages shared (and kept from fork()'s
 * children: server_share). */
static int server_end(const struct vchan_config *cfg, struct xen_tp *t,
		      unsigned lo, unsigned ro, int layout, void *rb, void *wb,
		      struct vchan **out)
{
	int r;

	r = vchan_endpoint_create(cfg, true, layout, t->page, rb, lo, wb, ro,
				  &xen_ops, t, out);
	if (r < 0)
		return r;
	vchan_peer_watch_attach(&t->sub, *out);
	vchan_fork_track(*out);
	return 0;
}

/* Both kinds of server open: the arguments checked, the ring orders and
 * layout chosen, a transport for the peer. */
static int server_tp(const struct vchan_config *cfg, int peer_domid,
		     unsigned *lo, unsigned *ro, int *layout,
		     struct xen_tp **t)
{
	int r;

	if (peer_domid < 0 || peer_domid >= 0x7ff0)
		return -EINVAL;
	*lo = cfg ? cfg->read_order : 0;
	*ro = cfg ? cfg->write_order : 0;
	*layout = cfg ? cfg->layout : VCHAN_LAYOUT_XENVCHAN;
	r = vchan_layout_choose(lo, ro, *layout);
	if (r < 0)
		return r;
	*t = tp_new(true, (domid_t)peer_domid);
	return *t ? 0 : -ENOMEM;
}

/* One try of an open through the store; *lost: it failed with the store
 * connection lost. */
typedef int open_once_fn(const struct vchan_config *cfg, int peer_domid,
			 const char *xs_path, struct vchan **out, bool *lost);

/* One try of vchan_server_open() (open_once_fn). */
static int server_open_once(const struct vchan_config *cfg, int peer_domid,
			    const char *xs_path, struct vchan **out,
			    bool *lost)
{
	const char *who = who_of(cfg, true);
	struct xs_permissions perms[2];
	struct hyp_store_node nodes[3];
	char refbuf[16], portbuf[16], id[VCHAN_CHANNEL_ID_LEN + 1];
	char *p1 = NULL, *p2 = NULL, *p3 = NULL;
	unsigned lo, ro;
	int layout;
	grant_ref_t ref;
	domid_t self;
	struct xen_tp *t;
	void *rb, *wb;
	int r;

	if (!out || !xs_path)
		return -EINVAL;
	r = server_tp(cfg, peer_domid, &lo, &ro, &layout, &t);
	if (r < 0)
		return r;
	t->xs_path = strdup(xs_path);
	if (!t->xs_path) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = vchan_store_get(&t->st, &t->st_epoch)) < 0 ||
	    (r = hyp_self_domid(t->st, &self)) < 0) {
		vchan_log(who, "cannot use the store: %s", strerror(-r));
		goto fail;
	}
	if ((r = peer_exists(t, who)) < 0)
		goto fail;
	channel_id(id);
	record_offer(t, who, self, xs_path, id);
	r = server_share(t, who, lo, ro, layout, &ref, &rb, &wb);
	if (r < 0)
		goto fail;

	/* The client's liveness node, watched before we publish: a client that
	 * connects and dies at once still leaves its events. */
	if (asprintf(&p1, LIVE_ID_FMT, (unsigned)t->peer, vchan_shard(id, ref),
		     (unsigned)self, (unsigned)t->port, (unsigned)ref, id) < 0) {
		p1 = NULL;
		r = -ENOMEM;
		goto fail;
	}
	watch_start(t, who, self, p1, false);
	free(p1);
	p1 = NULL;

	/* ring-ref, event-channel and our channel id, in one transaction,
	 * owner us, the peer read-only, nobody else. */
	snprintf(refbuf, sizeof(refbuf), "%" PRIu32, (uint32_t)ref);
	snprintf(portbuf, sizeof(portbuf), "%" PRIu32, (uint32_t)t->port);
	/* asprintf leaves its pointer undefined when it fails. */
	if (asprintf(&p1, "%s/ring-ref", xs_path) < 0)
		p1 = NULL;
	if (asprintf(&p2, "%s/event-channel", xs_path) < 0)
		p2 = NULL;
	if (asprintf(&p3, "%s/" VCHAN_CHANNEL_ID, xs_path) < 0)
		p3 = NULL;
	if (!p1 || !p2 || !p3) {
		r = -ENOMEM;
		goto fail;
	}
	nodes[0] = (struct hyp_store_node){ p1, refbuf };
	nodes[1] = (struct hyp_store_node){ p2, portbuf };
	nodes[2] = (struct hyp_store_node){ p3, id };
	perms[0] = (struct xs_permissions){ .id = self,
					    .perms = XS_PERM_NONE };
	perms[1] = (struct xs_permissions){ .id = t->peer,
					    .perms = XS_PERM_READ };
	r = hyp_store_publish(t->st, nodes, 3, perms, 2, PUBLISH_ATTEMPTS);
	if (r < 0)
		vchan_log(who, "cannot publish %s: %s", xs_path,
			  strerror(-r));
	free(p1);
	free(p2);
	free(p3);
	p1 = p2 = p3 = NULL;
	if (r < 0)
		goto fail;
	r = server_end(cfg, t, lo, ro, layout, rb, wb, out);
	if (r == 0)
		return 0;
fail:
	free(p1);
	free(p2);
	free(p3);
	*lost = hyp_store_lost(t->st);
	xen_release(t, false);
	return r;
}

/* An open the store connection's loss made fail goes once more, on a
 * fresh connection (store_conn.c): what it did is undone over that one.
 * (A loss in a best-effort step leaves a working channel, logged.) */
static int open_store(open_once_fn *once, const struct vchan_config *cfg,
		      int peer_domid, const char *xs_path, struct vchan **out)
{
	bool lost = false;
	int r = once(cfg, peer_domid, xs_path, out, &lost);

	if (r < 0 && lost)
		r = once(cfg, peer_domid, xs_path, out, &lost);
	return r;
}

int vchan_server_open(const struct vchan_config *cfg, int peer_domid,
		      const char *xs_path, struct vchan **out)
{
	return open_store(server_open_once, cfg, peer_domid, xs_path, out);
}

int vchan_server_open_offer(const struct vchan_config *cfg, int peer_domid,
			    struct vchan_offer *offer, struct vchan **out)
{
	const char *who = who_of(cfg, true);
	unsigned lo, ro;
	int layout, r;
	grant_ref_t ref;
	struct xen_tp *t;
	void *rb, *wb;

	if (!out || !offer)
		return -EINVAL;
	r = server_tp(cfg, peer_domid, &lo, &ro, &layout, &t);
	if (r < 0)
		return r;
	if ((r = peer_exists(t, who)) < 0 ||
	    (r = server_share(t, who, lo, ro, layout, &ref, &rb, &wb)) < 0 ||
	    (r = server_end(cfg, t, lo, ro, layout, rb, wb, out)) < 0) {
		xen_release(t, false);
		return r;
	}
	offer->ring_ref = ref;
	offer->port = t->port;
	return 0;
}

/* Client: what the server offers under xs_path. */
struct offer {
	unsigned long ring_ref, port;
	char id[VCHAN_CHANNEL_ID_LEN + 1];   /* its channel id; "" a stock server */
};

/* Client: the liveness node for the server (best effort; before we connect,
 * so that a server that sees us connected finds it): `path` = `val`, owner
 * us (`self`), the server read-only.  It becomes ours to remove. */
static void publish_live(struct xen_tp *t, const char *who, unsigned self,
			 char *path, const char *val)
{
	static int no_live;
	struct xs_permissions perms[2];
	struct hyp_store_node node = { path, val };
	int r;

	perms[0] = (struct xs_permissions){ .id = self,
					    .perms = XS_PERM_NONE };
	perms[1] = (struct xs_permissions){ .id = t->peer,
					    .perms = XS_PERM_READ };
	r = hyp_store_publish(t->st, &node, 1, perms, 2, PUBLISH_ATTEMPTS);
	if (store_again(t, r))
		r = hyp_store_publish(t->st, &node, 1, perms, 2,
				      PUBLISH_ATTEMPTS);
	if (r < 0) {
		if (vchan_first_time(&no_live))
			vchan_log(who, "cannot publish %s (%s): domain %u sees "
				  "the death of this domain only through "
				  "unmap-notify", path, strerror(-r),
				  (unsigned)t->peer);
		free(path);
		return;
	}
	t->live_path = path;
	vchan_reap_own(path);   /* our clean-ups need not read it */
}

/* A channel id as the server writes it: VCHAN_CHANNEL_ID_LEN lower-case hex
 * digits. */
static bool channel_id_ok(const char *id)
{
	size_t i;

	for (i = 0; i < VCHAN_CHANNEL_ID_LEN; i++)
		if (!(id[i] >= '0' && id[i] <= '9') &&
		    !(id[i] >= 'a' && id[i] <= 'f'))
			return false;
	return id[i] == '\0';
}

/* Client: the server's offer, ring-ref, event-channel and (a vipc server)
 * its channel id.  The server writes them in one transaction, and they are
 * one channel only together: read apart, a server offering a new channel on
 * the same path in between (or rewriting them) hands us one channel's page
 * with another channel's port, and the server whose page we map never
 * hears from us.  So all are read in one transaction, committed (the store
 * refuses it with EAGAIN when one changed meanwhile; then read again).
 * Peer-written: strict decimal numbers, range-checked, a channel id of
 * exactly its form; anything else is the peer's -EPROTO (-EBADMSG: the
 * channel id). */
static int read_offer(struct hyp_store *st, const char *xs_path,
		      struct offer *o)
{
	char *p1 = NULL, *p2 = NULL, *p3 = NULL, *id = NULL;
	hyp_txn_t txn;
	int r = -ENOMEM, i;

	if (asprintf(&p1, "%s/ring-ref", xs_path) < 0) {
		p1 = NULL;
		goto out;
	}
	if (asprintf(&p2, "%s/event-channel", xs_path) < 0) {
		p2 = NULL;
		goto out;
	}
	if (asprintf(&p3, "%s/" VCHAN_CHANNEL_ID, xs_path) < 0) {
		p3 = NULL;
		goto out;
	}
	for (i = 0; i < PUBLISH_ATTEMPTS; i++) {
		free(id);
		id = NULL;
		r = hyp_store_txn_start(st, &txn);
		if (r < 0)
			break;
		r = hyp_store_read_uint(st, txn, p1, UINT32_MAX, &o->ring_ref);
		if (r == 0)
			r = hyp_store_read_uint(st, txn, p2, UINT32_MAX - 1,
						&o->port);
		/* None from a stock server: absent, or unreadable since
		 * xenstored answers EACCES for a node missing under a
		 * directory we may not read (libxenvchan's). */
		if (r == 0) {
			r = hyp_store_read(st, txn, p3, &id, NULL);
			if (r == -ENOENT || r == -EACCES)
				r = 0;
		}
		if (r < 0) {
			(void)hyp_store_txn_end(st, txn, true);
			if (r != -EAGAIN)
				break;
			continue;
		}
		r = hyp_store_txn_end(st, txn, false);
		if (r != -EAGAIN)
			break;
	}
	/* A number out of range is as malformed as one with a sign. */
	if (r == -ERANGE)
		r = -EPROTO;
	/* xenstored answers EACCES for a node missing under a directory we
	 * may not read (the server's home), and for an offer made to another
	 * domain: nothing offered to us, either way. */
	if (r == -EACCES)
		r = -ENOENT;
	o->id[0] = '\0';
	if (r == 0 && id) {
		if (channel_id_ok(id))
			memcpy(o->id, id, VCHAN_CHANNEL_ID_LEN + 1);
		else
			r = -EBADMSG;
	}
out:
	free(p1);
	free(p2);
	free(p3);
	free(id);
	return r;
}

/* Client: is the offer taken by another client of our domain, i.e. is its
 * liveness node or its claim there? */
static bool offer_taken(struct hyp_store *st, const char *live_path,
			const char *claim_path)
{
	char *val = NULL;

	if (!live_path)
		return false;
	if (hyp_store_read(st, HYP_TXN_NONE, live_path, &val, NULL) == 0 ||
	    hyp_store_read(st, HYP_TXN_NONE, claim_path, &val, NULL) == 0) {
		free(val);
		return true;
	}
	return false;
}

/* Client: the offered port (what = "event-channel") or ring-ref `val` of
 * offer `o` did not work: bind or map returned r.  Xen's bind says -ESRCH
 * for a domain that does not exist (any more), -EINVAL for a port not
 * unbound for us; Linux's gntdev says -EINVAL for every failed grant status
 * (bad domain, bad ref, a ref not granted to us).  So on -EINVAL, look at
 * the offer again: gone or changed, it was stale (its server closed it, or
 * its domain was destroyed and xenstored removed its nodes): the peer is
 * gone, -EPIPE.  Unchanged, and `taken` (another client of our domain holds
 * it, one we could not judge when we claimed): -EBUSY.  Else -EPIPE too:
 * most likely its server process was killed (its port and grants went with
 * it, its nodes stay), which a client cannot tell from a domain offering
 * what is not ours; either way no server is there, and the log line says
 * both.  Else the raw error.  Logs once, in each case. */
static int offer_failed(struct xen_tp *t, const char *who, const char *xs_path,
			const char *what, unsigned long val,
			const struct offer *o, bool taken, int r)
{
	struct offer now;
	int q;

	if (r == -EINVAL) {
		q = read_offer(t->st, xs_path, &now);
		if (q == -ENOENT || (q == 0 && (now.ring_ref != o->ring_ref ||
						now.port != o->port ||
						strcmp(now.id, o->id)))) {
			vchan_log(who, "%s: %s %lu of domain %u does not work "
				  "and the offer is %s: stale, the peer is "
				  "gone", xs_path, what, val,
				  (unsigned)t->peer,
				  q ? "gone" : "another one now");
			return -EPIPE;
		}
		if (q == -EPROTO || q == -EBADMSG) {
			vchan_log(who, "peer protocol error: %s: %s %lu of "
				  "domain %u does not work and the offer "
				  "reads malformed now", xs_path, what, val,
				  (unsigned)t->peer);
			return -EPROTO;
		}
		if (q == 0 && taken) {
			vchan_log(who, "%s: %s %lu of domain %u is taken by "
				  "another client of this domain", xs_path,
				  what, val, (unsigned)t->peer);
			return -EBUSY;
		}
		if (q == 0) {
			vchan_log(who, "%s: %s %lu of domain %u does not work "
				  "though still offered: its server process "
				  "is gone (a killed server's offer stays "
				  "until another server of that domain "
				  "opens), or the domain offers what is not "
				  "ours to take", xs_path, what, val,
				  (unsigned)t->peer);
			return -EPIPE;
		}
	} else if (r == -ESRCH) {
		vchan_log(who, "%s: domain %u of the offer is gone", xs_path,
			  (unsigned)t->peer);
		return -EPIPE;
	}
	vchan_log(who, "%s: cannot use %s %lu of domain %u: %s", xs_path, what,
		  val, (unsigned)t->peer, strerror(-r));
	return r;
}

/* Client: before binding, claim the offer (live_reap.c): -EBUSY when a live
 * process of our domain holds it (or is taking it); else 0, *taken telling
 * whether a holder we could not judge is there.  Best effort otherwise: a
 * store error or a process /proc does not describe goes on unclaimed.  Also
 * removes the leaked nodes of dead processes first.  *live_path, *val: our
 * liveness node and its value, for publish_live (NULL: none, `self` unknown
 * or no memory). */
static int claim_offer(struct xen_tp *t, const char *who, int self,
		       const char *xs_path, const struct offer *o,
		       char **live_path, char **val, bool *taken)
{
	static int no_self, no_claim, no_domid;
	struct vchan_proc_id me;
	char *claim = NULL, shard;
	long holder;
	int r, id_r;

	*live_path = *val = NULL;
	*taken = false;
	if (self < 0) {
		if (vchan_first_time(&no_domid))
			vchan_log(who, "cannot learn our domain id (%s): no "
				  "liveness node, domain %u sees the death of "
				  "this domain only through unmap-notify",
				  strerror(-self), (unsigned)t->peer);
		return 0;
	}
	shard = vchan_shard(o->id, o->ring_ref);
	r = o->id[0] ?
	    asprintf(live_path, LIVE_ID_FMT, (unsigned)self, shard,
		     (unsigned)t->peer, (unsigned)o->port,
		     (unsigned)o->ring_ref, o->id) :
	    asprintf(live_path, LIVE_FMT, (unsigned)self, shard,
		     (unsigned)t->peer, (unsigned)o->port,
		     (unsigned)o->ring_ref);
	if (r < 0) {
		*live_path = NULL;
		return 0;
	}
	if (asprintf(&claim, "%s" CLAIM_SUFFIX, *live_path) < 0)
		claim = NULL;
	/* Unknown to us, our node stays if we die (as before). */
	id_r = vchan_proc_self(&me);
	if (id_r < 0) {
		if (vchan_first_time(&no_self))
			vchan_log(who, "cannot tell this process in /proc "
				  "(%s): liveness nodes are not cleaned up, "
				  "offers not claimed", strerror(-id_r));
		*val = strdup(xs_path);
		*taken = claim && offer_taken(t->st, *live_path, claim);
		free(claim);
		return 0;
	}
	vchan_live_reap(t->st, who, (unsigned)self, &me);
	*val = vchan_live_value(&me, xs_path);
	if (!claim || !*val) {
		free(claim);
		return 0;
	}
	r = vchan_live_claim(t->st, &me, (unsigned)self, *live_path, claim,
			     *val, &holder);
	if (store_again(t, r)) {
		r = vchan_live_claim(t->st, &me, (unsigned)self, *live_path,
				     claim, *val, &holder);
		/* The lost try's commit may have landed, its answer not:
		 * that claim is this process's own. */
		if (r == -EBUSY && holder == (long)getpid())
			r = 1;
	}
	if (r == -EBUSY) {
		vchan_log(who, "%s: the offer of domain %u is taken by process "
			  "%ld of this domain", xs_path, (unsigned)t->peer,
			  holder);
		free(claim);
		return -EBUSY;
	}
	if (r == 1) {
		t->claim_path = claim;   /* ours now: removed once connected */
		return 0;
	}
	if (r < 0 && vchan_first_time(&no_claim))
		vchan_log(who, "cannot claim %s (%s): going on unclaimed",
			  claim, strerror(-r));
	*taken = r == 0;
	free(claim);
	return 0;
}

/* Which offered value a client could not use (client_map). */
struct unusable {
	const char *what;       /* "event-channel", "ring-ref"; NULL:
				 * neither, the failure was logged */
	unsigned long val;
	bool bind;              /* the port's bind (else the page's map) */
};

/* Client: a fresh offer's page says cli_live 2 (libxenvchan's "not yet
 * connected", what every server writes); 0 or 1, a client took the offer
 * before us.  Its port binds again once that client's process is gone
 * (Xen frees the server's end of a closed port for a new bind), but the
 * server's end of the channel is that client's, with what it left in the
 * rings, half a message maybe: -EPIPE.  Any other value: -EPROTO.  Logged
 * (xs_path: where the offer was read, NULL: handed over).  Our unmap then
 * writes 0 there, which tells the server the same.  A stock libxenvchan
 * server (stock: its offer has no channel id) may take one client after
 * another on one offer, as vchan-socket-proxy's server does, and its
 * clients never look: a 0 there, the last client gone, is taken as they
 * take it. */
static int offer_unused(const struct vchan_interface *pg, const char *who,
			const char *xs_path, const struct xen_tp *t,
			grant_ref_t ring_ref, bool stock)
{
	/* Peer-written (and the old client's): one load. */
	uint8_t live = VCHAN_READ_ONCE(pg->cli_live);
	const char *at = xs_path ? xs_path : "", *sep = xs_path ? ": " : "";

	if (live == 2 || (live == 0 && stock))
		return 0;
	if (live > 2) {
		vchan_log(who, "peer protocol error: %s%sring-ref %u of domain "
			  "%u: its page says cli_live %u, not 2 (not yet "
			  "connected)", at, sep, (unsigned)ring_ref,
			  (unsigned)t->peer, live);
		return -EPROTO;
	}
	vchan_log(who, "%s%sring-ref %u of domain %u was used already: its "
		  "page says cli_live %u, not 2 (not yet connected); a client "
		  "took this offer before, and its channel is not ours to "
		  "take over", at, sep, (unsigned)ring_ref, (unsigned)t->peer,
		  live);
	return -EPIPE;
}

/* Client: bind the offered port, map the control page (unmap-notify on
 * cli_live), check that no client used it, map the rings it lists, the
 * one we write read-write and the one we read read-only.  A bind or map of
 * the offered values that fails is not logged here: *bad names it for the
 * caller, who knows where the values came from; other failures are logged
 * (xs_path: where the offer was read, NULL: handed over; stock: a stock
 * libxenvchan server's offer).  *lo, *ro, *layout: what the page says. */
static int client_map(struct xen_tp *t, const char *who, const char *xs_path,
		      bool stock, grant_ref_t ring_ref, evtchn_port_t port,
		      unsigned *lo, unsigned *ro, int *layout,
		      struct unusable *bad)
{
	struct hyp_unmap_notify un;
	struct vchan_interface *pg;
	grant_ref_t *refs = NULL;
	unsigned i, n;
	int r;

	*bad = (struct unusable){ NULL, 0, false };
	if ((r = hyp_evtchn_open(&t->ev)) < 0) {
		vchan_log(who, "cannot open the event channel device: %s",
			  strerror(-r));
		return r;
	}
	r = hyp_evtchn_bind(t->ev, t->peer, port, &t->port);
	if (r < 0) {
		*bad = (struct unusable){ "event-channel", port, true };
		return r;
	}
	if ((r = hyp_gnttab_open(&t->gt)) < 0)
		goto fail_map;
	un.offset = offsetof(struct vchan_interface, cli_live);
	un.port = t->port;
	r = hyp_gnttab_map(t->gt, t->peer, 1, &ring_ref, true, &un, &t->page);
	if (r < 0) {
		*bad = (struct unusable){ "ring-ref", ring_ref, false };
		return r;
	}
	pg = t->page;
	r = offer_unused(pg, who, xs_path, t, ring_ref, stock);
	if (r < 0)
		return r;
	r = vchan_layout_client_read(pg, who, lo, ro, layout);
	if (r < 0)
		return r;
	t->lpages = vchan_layout_pages(*lo);
	t->rpages = vchan_layout_pages(*ro);
	/* Grant refs are peer-written: copy each once, map the copies. */
	n = t->lpages + t->rpages;
	if (n) {
		refs = calloc(n, sizeof(*refs));
		if (!refs)
			return -ENOMEM;
		for (i = 0; i < n; i++)
			refs[i] = VCHAN_READ_ONCE(pg->grants[i]);
	}
	i = 0;
	if (t->lpages && (r = hyp_gnttab_map(t->gt, t->peer, t->lpages, refs,
					     true, NULL, &t->lbuf)) < 0)
		goto fail_ring;
	i = t->lpages;
	if (t->rpages && (r = hyp_gnttab_map(t->gt, t->peer, t->rpages,
					     refs + t->lpages, false, NULL,
					     &t->rbuf)) < 0)
		goto fail_ring;
	free(refs);
	return 0;

fail_ring:
	/* gntdev says EINVAL for any grant it cannot map: refs the server
	 * never granted us (its page is hostile), or that went with it
	 * since we mapped its page.  The caller looks at the offer again,
	 * as for the page's own ref. */
	if (r == -EINVAL) {
		*bad = (struct unusable){ "ring grant", refs[i], false };
		free(refs);
		return r;
	}
fail_map:
	free(refs);
	vchan_log(who, "cannot map the pages domain %u shared: %s",
		  (unsigned)t->peer, strerror(-r));
	return r;
}

/* Client: the end over t, mapped; connected, the server told. */
static int client_end(const struct vchan_config *cfg, const char *who,
		      struct xen_tp *t, unsigned lo, unsigned ro, int layout,
		      struct vchan **out)
{
	struct vchan_interface *pg = t->page;
	void *rb, *wb;
	int r;

	wb = t->lbuf ? t->lbuf : (uint8_t *)pg + vchan_layout_inpage_offset(lo);
	rb = t->rbuf ? t->rbuf : (uint8_t *)pg + vchan_layout_inpage_offset(ro);
	keep_from_children(who, t);
	r = vchan_endpoint_create(cfg, false, layout, pg, rb, ro, wb, lo,
				  &xen_ops, t, out);
	if (r < 0)
		return r;
	vchan_peer_watch_attach(&t->sub, *out);
	vchan_fork_track(*out);
	vchan_client_connect(*out);
	xen_notify(t);
	return 0;
}

/* One try of vchan_client_open() (open_once_fn). */
static int client_open_once(const struct vchan_config *cfg, int peer_domid,
			    const char *xs_path, struct vchan **out,
			    bool *lost)
{
	const char *who = who_of(cfg, false);
	struct unusable bad;
	struct offer o;
	unsigned lo, ro;
	int layout;
	struct xen_tp *t;
	char *path = NULL, *live_path = NULL, *val = NULL;
	domid_t self;
	bool taken;
	int r, self_r;

	if (!out || !xs_path || peer_domid < 0 || peer_domid >= 0x7ff0)
		return -EINVAL;
	t = tp_new(false, (domid_t)peer_domid);
	if (!t)
		return -ENOMEM;
	if ((r = vchan_store_get(&t->st, &t->st_epoch)) < 0) {
		vchan_log(who, "cannot use the store: %s", strerror(-r));
		goto fail;
	}
	/* Peer-written nodes, one publication: read together, checked. */
	r = read_offer(t->st, xs_path, &o);
	if (r < 0)
		goto fail_store;
	if (o.ring_ref == 0 || o.port == 0) {
		vchan_log(who, "%s: ring-ref %lu / event-channel %lu invalid",
			  xs_path, o.ring_ref, o.port);
		r = -EPROTO;
		goto fail;
	}
	self_r = hyp_self_domid(t->st, &self);
	if (self_r == 0)
		self_r = self;
	r = claim_offer(t, who, self_r, xs_path, &o, &live_path, &val, &taken);
	if (r < 0)
		goto fail;
	r = client_map(t, who, xs_path, !o.id[0], (grant_ref_t)o.ring_ref,
		       (evtchn_port_t)o.port, &lo, &ro, &layout, &bad);
	if (r < 0) {
		/* A port another client of ours holds fails to bind; a page
		 * it maps maps again. */
		if (bad.what)
			r = offer_failed(t, who, xs_path, bad.what, bad.val,
					 &o, taken && bad.bind, r);
		goto fail;
	}
	if (live_path && val)
		publish_live(t, who, (unsigned)self_r, live_path, val);
	else
		free(live_path);
	live_path = NULL;
	/* Connected but for the handshake: the liveness node holds it now. */
	if (t->claim_path) {
		r = hyp_store_rm(t->st, HYP_TXN_NONE, t->claim_path);
		if (store_again(t, r))
			(void)hyp_store_rm(t->st, HYP_TXN_NONE,
					   t->claim_path);
		free(t->claim_path);
		t->claim_path = NULL;
	}
	if (asprintf(&path, "%s/ring-ref", xs_path) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	watch_start(t, who, self_r, path, true);
	free(path);
	path = NULL;
	r = client_end(cfg, who, t, lo, ro, layout, out);
	if (r < 0)
		goto fail;
	free(val);
	return 0;

fail_store:
	if (r == -EBADMSG) {
		vchan_log(who, "peer protocol error: %s/" VCHAN_CHANNEL_ID " is not "
			  "%d lower-case hex digits", xs_path, VCHAN_CHANNEL_ID_LEN);
		r = -EPROTO;
	} else if (r == -EPROTO) {
		vchan_log(who, "peer protocol error: %s/{ring-ref,event-"
			  "channel} are not decimal numbers in range",
			  xs_path);
	} else if (r == -ENOENT) {
		vchan_log(who, "%s: nothing offered to this domain (yet): no "
			  "ring-ref and event-channel it may read", xs_path);
	} else {
		vchan_log(who, "cannot read %s/{ring-ref,event-channel}: %s",
			  xs_path, strerror(-r));
	}
fail:
	free(path);
	free(live_path);
	free(val);
	/* Not once the bind began: the server may have seen this try. */
	*lost = hyp_store_lost(t->st) && !t->ev;
	xen_release(t, false);
	return r;
}

int vchan_client_open(const struct vchan_config *cfg, int peer_domid,
		      const char *xs_path, struct vchan **out)
{
	return open_store(client_open_once, cfg, peer_domid, xs_path, out);
}

int vchan_client_open_offer(const struct vchan_config *cfg, int peer_domid,
			    const struct vchan_offer *offer,
			    struct vchan **out)
{
	const char *who = who_of(cfg, false);
	struct unusable bad;
	unsigned lo, ro;
	int layout, r;
	struct xen_tp *t;

	if (!out || !offer || offer->ring_ref == 0 || offer->port == 0 ||
	    peer_domid < 0 || peer_domid >= 0x7ff0)
		return -EINVAL;
	t = tp_new(false, (domid_t)peer_domid);
	if (!t)
		return -ENOMEM;
	r = client_map(t, who, NULL, false, offer->ring_ref, offer->port, &lo, &ro,
		       &layout, &bad);
	if (r == -ESRCH && bad.what) {
		vchan_log(who, "domain %u of the offer does not exist (any "
			  "more)", (unsigned)t->peer);
		r = -EPIPE;
	} else if (r == -EINVAL && bad.what) {
		/* Xen's bind and Linux's gntdev say EINVAL alike for what is
		 * gone and for what was never ours. */
		vchan_log(who, "%s %lu of domain %u does not work: its server "
			  "closed the channel or is gone, a client took it "
			  "already (an offer is for one), or it was not "
			  "offered to this domain", bad.what, bad.val,
			  (unsigned)t->peer);
		r = -EPIPE;
	} else if (r < 0 && bad.what) {
		vchan_log(who, "cannot use %s %lu of domain %u: %s", bad.what,
			  bad.val, (unsigned)t->peer, strerror(-r));
	}
	if (r == 0)
		r = client_end(cfg, who, t, lo, ro, layout, out);
	if (r < 0)
		xen_release(t, false);
	return r;
}
