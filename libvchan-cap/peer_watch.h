/* SPDX-License-Identifier: MIT */
/* libvchan-cap: one store connection per process watches the peers of all
 * its channels over Xen (peer_watch.c). */
#ifndef VCHAN_PEER_WATCH_H
#define VCHAN_PEER_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <vipc/hyp.h>

struct vchan;

/* One channel's subscription, inside its transport.  Fields are the
 * watcher's, under its lock; zeroed is "not subscribed". */
struct vchan_peer_sub {
	struct vchan_peer_sub *next;
	struct vchan *owner;     /* told when the peer is gone (attach) */
	char *node;              /* a node the peer owns while it lives */
	domid_t peer;
	char token[32];
	bool listed;
	bool node_watched;
	bool look;               /* an event asks for a look */
	bool seen;               /* node was there (and the peer's) */
	bool confirmed;          /* looked once after the peer connected */
	bool gone;
	unsigned node_events;    /* events for node, counted to 2 */
	uint64_t looked_ns;      /* the last look (vchan_now_ns) */
};

/* Subscribe: watch `node` (owned by domain `peer` while it lives; `seen`:
 * it was there already) and, once per process, @releaseDomain (self: our
 * domid, <0 unknown as -errno).  Then look once, as the peer may have gone
 * before the watch was set.  Returns 0, or -errno when nothing can tell us
 * of the peer's death: the channel then relies on unmap-notify.  Each
 * failure is logged once per process.  *poll_fd: -1, as the watcher's
 * thread takes the events; or, if it could not start, an fd the channel
 * must poll (the same for every channel; valid while any is subscribed). */
int vchan_peer_watch_add(struct vchan_peer_sub *s, const char *who, int self,
			 const char *node, domid_t peer, bool seen,
			 int *poll_fd);
/* From now on a death found by any channel's look reaches v at once. */
void vchan_peer_watch_attach(struct vchan_peer_sub *s, struct vchan *v);
/* Take the process's pending events (for any channel: the one who takes
 * them works for all) and, once after the peer connected, look.  1 when
 * the peer's domain is gone, else 0. */
int vchan_peer_watch_check(struct vchan_peer_sub *s, bool connected);
/* Unsubscribe (no-op if never subscribed); the last one closes the
 * connection and the fd. */
void vchan_peer_watch_remove(struct vchan_peer_sub *s);

#endif
