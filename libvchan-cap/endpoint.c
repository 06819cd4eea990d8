/* SPDX-License-Identifier: MIT */
/* The endpoint: creation over a mapped page, rights, state, revoke, close,
 * statistics and the event-loop interface. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vchan_priv.h"

#define SPIN_DEFAULT_NS 20000

void vchan_config_init(struct vchan_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->rights = VCHAN_RIGHT_SEND | VCHAN_RIGHT_RECV;
	cfg->spin_ns = -1;
	cfg->spin_adaptive = 1;
}

int vchan_fail(struct vchan *v, int err)
{
	int old = 0;
	uint64_t one = 1;
	ssize_t w;

	if (!__atomic_compare_exchange_n(&v->err, &old, err, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return old;
	/* Wake the other threads' blocked calls, as revoke does (a broken
	 * peer sends no more events), and keep vchan_fd() readable. */
	w = write(v->kick_fd, &one, sizeof(one));
	(void)w;
	return err;
}

int vchan_state(struct vchan *v, bool check_peer)
{
	int e;
	uint8_t live;

	if (__atomic_load_n(&v->revoked, __ATOMIC_ACQUIRE))
		return -EPIPE;
	e = __atomic_load_n(&v->err, __ATOMIC_ACQUIRE);
	if (e)
		return e;
	if (!check_peer)
		return 0;
	/* Peer domain gone (store watch): as if it had cleared its byte. */
	if (__atomic_load_n(&v->peer_gone, __ATOMIC_ACQUIRE))
		return -EPIPE;
	/* Gone once is gone for good: the peer's page outlives its process,
	 * and another process of its domain may map it and write 1 there (a
	 * stock libxenvchan client does not look first); that is not the
	 * peer this end has been talking to (nor are its bytes: see
	 * peer_left.c). */
	if (__atomic_load_n(&v->peer_left, __ATOMIC_ACQUIRE))
		return -EPIPE;
	/* Peer-written live byte: one load. 1 connected, 0 gone, 2 client
	 * not yet connected (only the client's byte may say so). */
	live = VCHAN_READ_ONCE(*v->peer_live);
	if (live == 1 || (live == 2 && v->is_server))
		return 0;
	if (live == 0) {
		vchan_peer_left(v);
		return -EPIPE;
	}
	vchan_log(v->name, "peer protocol error: its live byte is %u",
		  live);
	return vchan_fail(v, -EPROTO);
}

void vchan_peer_gone(struct vchan *v)
{
	uint64_t one = 1;
	ssize_t w;

	if (__atomic_exchange_n(&v->peer_gone, 1, __ATOMIC_ACQ_REL))
		return;
	/* Peer-written, one load: a peer that closed cleared it first, and
	 * that is no news; one that vanished without a word is. */
	if (VCHAN_READ_ONCE(*v->peer_live) != 0)
		vchan_log(v->name, "the peer's domain is gone (no unmap-notify "
			  "came; the store says so)");
	/* Wake every blocked call, as revoke does: the kick fd stays readable
	 * for good, which is right, the peer never comes back.  Callers that
	 * hold wait_mu, or are the poller, move ev_gen themselves. */
	w = write(v->kick_fd, &one, sizeof(one));
	(void)w;
}

void vchan_peer_poll(struct vchan *v)
{
	bool connected;

	if (!v->ops->peer_check)
		return;
	/* Peer-written live byte: one load; only "connected" matters here,
	 * any other value just postpones the transport's one-off check. */
	connected = VCHAN_READ_ONCE(*v->peer_live) == 1;
	if (v->ops->peer_check(v->tp, connected) > 0)
		vchan_peer_gone(v);
	/* The transport's one-off check after the connection is done: the
	 * sleeper need not call in before every sleep any more. */
	if (connected)
		__atomic_store_n(&v->peer_confirmed, 1, __ATOMIC_RELAXED);
}

/* One epoll set per end for the transport's events, the kick (revoke, peer
 * gone) and the transport's peer watch, when it has one: the sleeper waits
 * on it with one epoll_wait() (cheaper than polling three fds afresh every
 * time); vchan_fd() hands it out. */
static int make_epoll(struct vchan *v)
{
	int fds[4], i, n = 3, pfd;
	struct epoll_event ev = { .events = EPOLLIN };

	pfd = v->ops->peer_fd ? v->ops->peer_fd(v->tp) : -1;
	fds[0] = v->ops->fd(v->tp);
	fds[1] = v->kick_fd;
	fds[2] = v->timer_fd;
	if (pfd >= 0)
		fds[n++] = pfd;
	v->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epoll_fd < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		ev.data.fd = fds[i];
		if (epoll_ctl(v->epoll_fd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -errno;
	}
	return 0;
}

int vchan_endpoint_create(const struct vchan_config *cfg, bool is_server,
			  int layout, struct vchan_interface *page,
			  void *read_buf,
			  unsigned read_order, void *write_buf,
			  unsigned write_order,
			  const struct vchan_transport_ops *ops, void *tp,
			  struct vchan **out)
{
	struct vchan_config defaults;
	struct vchan_slots sl;
	uint32_t *in_prod, *in_cons, *out_prod, *out_cons;
	struct vchan *v;
	pthread_condattr_t ca;
	int r;

	if (!cfg) {
		vchan_config_init(&defaults);
		cfg = &defaults;
	}
	if (cfg->rights & ~(VCHAN_RIGHT_SEND | VCHAN_RIGHT_RECV) ||
	    cfg->max_msg > VCHAN_MAX_MSG_LIMIT)
		return -EINVAL;
	/* Cache-line aligned (the struct is padded to whole lines): two ends
	 * used by different threads of one process never share a line. */
	v = aligned_alloc(_Alignof(struct vchan), sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s",
		 cfg->name ? cfg->name : is_server ? "server" : "client");
	v->is_server = is_server;
	v->rights = cfg->rights;
	v->raw = cfg->raw != 0;
	v->max_msg = cfg->max_msg ? cfg->max_msg : VCHAN_MAX_MSG_DEFAULT;
	v->page = page;
	v->layout = layout;
	v->my_live = is_server ? &page->srv_live : &page->cli_live;
	v->peer_live = is_server ? &page->cli_live : &page->srv_live;
	vchan_layout_slots(page, layout, &sl);
	/* libxenvchan: each end acts on its own byte (server srv_notify,
	 * client cli_notify) and asks the peer through the other one. */
	v->my_notify = is_server ? sl.srv_notify : sl.cli_notify;
	v->peer_notify = is_server ? sl.cli_notify : sl.srv_notify;
	/* left is client->server, right is server->client */
	in_prod = is_server ? sl.left_prod : sl.right_prod;
	in_cons = is_server ? sl.left_cons : sl.right_cons;
	out_prod = is_server ? sl.right_prod : sl.left_prod;
	out_cons = is_server ? sl.right_cons : sl.left_cons;
	v->in_prod = in_prod;
	r = vchan_ring_init(&v->rx.ring, in_prod, in_cons, read_buf,
			    read_order, false, v->name);
	if (!r)
		r = vchan_ring_init(&v->tx.ring, out_prod, out_cons, write_buf,
				    write_order, true, v->name);
	/* Our own index starts where the page says (a client finds what the
	 * server left), so the peer chose it: frames sit on 16-byte
	 * boundaries, and a padding header written at a misaligned one would
	 * run past the ring's end. */
	if (!r && !v->raw && ((v->rx.ring.idx | v->tx.ring.idx) &
			      (VCHAN_FRAME_HDR - 1))) {
		vchan_log(v->name, "peer protocol error: ring indices start "
			  "at %u (inbound cons) and %u (outbound prod), not "
			  "on %u-byte frame boundaries", v->rx.ring.idx,
			  v->tx.ring.idx, VCHAN_FRAME_HDR);
		r = -EPROTO;
	}
	/* On a line of its own, the peer's cons costs a cache miss whenever
	 * it moved; in libxenvchan's layout it shares the line of our prod,
	 * which each send owns anyway. */
	v->tx.ring.lazy = layout == VCHAN_LAYOUT_LINES;
	v->grace_ns = VCHAN_GRACE_NS;
	if (r) {
		free(v);
		return r;
	}
	v->tx.ring.who = v->name;
	v->rx.ring.who = v->name;
	v->tx.next_seq = 1;
	v->rx.next_seq = 1;
	vchan_spin_init(&v->spin, cfg->spin_ns < 0 ? SPIN_DEFAULT_NS
						   : cfg->spin_ns,
			cfg->spin_adaptive != 0);
	v->epoll_fd = -1;
	v->loop_fd = -1;
	v->relay_fd = -1;
	v->ops = ops;
	v->tp = tp;
	v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->kick_fd < 0) {
		r = -errno;
		free(v);
		return r;
	}
	v->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_CLOEXEC | TFD_NONBLOCK);
	if (v->timer_fd < 0) {
		r = -errno;
		close(v->kick_fd);
		free(v);
		return r;
	}
	r = make_epoll(v);
	if (r < 0) {
		vchan_log(v->name, "cannot make the event fd: %s", strerror(-r));
		if (v->epoll_fd >= 0)
			close(v->epoll_fd);
		close(v->timer_fd);
		close(v->kick_fd);
		free(v);
		return r;
	}
	vchan_lock_init(&v->tx.mu);
	vchan_lock_init(&v->rx.mu);
	pthread_mutex_init(&v->wait_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&v->wait_cv, &ca);
	pthread_condattr_destroy(&ca);
	/* The transport may have seen the peer vanish during setup. */
	vchan_peer_poll(v);
	*out = v;
	return 0;
}

void vchan_endpoint_free(struct vchan *v, bool detach)
{
	if (!v)
		return;
	if (!v->released && v->ops)
		v->ops->release(v->tp, detach);
	if (v->tx.owned)
		free((void *)v->tx.src);
	free(v->tx.spare);
	free(v->rx.stash);
	free(v->rx.bounce);
	close(v->kick_fd);
	close(v->timer_fd);
	if (v->epoll_fd >= 0)
		close(v->epoll_fd);
	if (v->loop_fd >= 0) {
		close(v->loop_fd);
		close(v->relay_fd);
	}
	/* Detached: these are copies made by fork(), which may name parent
	 * threads that waited on them (destroying such a condvar waits for
	 * them, for ever).  They hold nothing that needs freeing. */
	if (detach) {
		free(v);
		return;
	}
	vchan_lock_destroy(&v->tx.mu);
	vchan_lock_destroy(&v->rx.mu);
	pthread_mutex_destroy(&v->wait_mu);
	pthread_cond_destroy(&v->wait_cv);
	free(v);
}

/* The line that says what a revoke or close discarded: the message this
 * end was still sending (a backlog is one that an earlier call accepted,
 * which vchan_flush() would have delivered) and those received but not
 * taken. */
static void log_discarded(struct vchan *v, bool closing, bool unsent,
			  bool backlog, uint64_t untaken)
{
	const char *tx = !unsent ? "" : !(backlog && closing) ?
		"1 not yet all sent" :
		"1 not yet all sent (accepted: vchan_flush() before "
		"vchan_close() delivers it)";
	char rx[48] = "";

	if (!unsent && !untaken)
		return;
	if (untaken)
		snprintf(rx, sizeof(rx), "%s%llu received but not taken",
			 unsent ? ", " : "", (unsigned long long)untaken);
	vchan_log(v->name, "%s: %llu message(s) discarded: %s%s",
		  closing ? "closed" : "revoked",
		  (unsigned long long)(unsent + untaken), tx, rx);
}

/* Revoke's way to both locks (those this thread holds aside).  Never
 * asleep on one while holding the other: another thread that holds one
 * (an in-place message, a reservation) may call for the other before it
 * lets its own go, as a reply to an in-place message does; it then finds
 * the channel revoked and returns.  (With one lock held by this thread
 * there is no such way round: a hold of its own on one side and another
 * thread's on the other, each calling for the other side, wait for each
 * other whatever revoke does.) */
static void lock_both(struct vchan *v, bool tx_held, bool rx_held)
{
	if (tx_held || rx_held) {
		if (!tx_held)
			vchan_lock(&v->tx.mu);
		if (!rx_held)
			vchan_lock(&v->rx.mu);
		return;
	}
	for (;;) {
		vchan_lock(&v->tx.mu);
		if (vchan_trylock(&v->rx.mu))
			return;
		vchan_unlock(&v->tx.mu);
		vchan_lock(&v->rx.mu);
		if (vchan_trylock(&v->tx.mu))
			return;
		vchan_unlock(&v->rx.mu);
	}
}

static int revoke_end(struct vchan *v, bool closing)
{
	uint64_t one = 1, untaken = 0;
	bool tx_held, rx_held, unsent, backlog;
	uint32_t ready;
	ssize_t w;

	if (!v)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	if (__atomic_exchange_n(&v->revoked, 1, __ATOMIC_ACQ_REL))
		return 0;
	/* Wake every blocked call: the kick fd stays readable for good. */
	w = write(v->kick_fd, &one, sizeof(one));
	(void)w;
	pthread_mutex_lock(&v->wait_mu);
	__atomic_fetch_add(&v->ev_gen, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&v->wait_cv);
	pthread_mutex_unlock(&v->wait_mu);
	/* Woken calls see `revoked` and leave; then nobody is in the ring.
	 * A lock this thread holds (its own in-place message or reservation)
	 * is not taken again; vchan_release()/vchan_commit() end the hold. */
	tx_held = vchan_lock_held(&v->tx.mu);
	rx_held = vchan_lock_held(&v->rx.mu);
	lock_both(v, tx_held, rx_held);
	unsent = v->tx.busy;
	backlog = v->tx.busy && v->tx.owned;
	if (v->tx.owned)
		free((void *)v->tx.src);
	v->tx.busy = v->tx.owned = false;
	v->tx.src = NULL;
	if (!v->released) {
		if (!v->raw && v->rx.active)
			untaken++;
		/* Tell the peer: our live byte, then an event. */
		VCHAN_WRITE_ONCE(*v->my_live, 0);
		vchan_mb(); /* live byte visible before the notification */
		/* What this end took is the peer's room again, published
		 * (after the live byte: a sender waking to it sees us gone):
		 * a stock server that takes its next client on this offer, as
		 * vchan-socket-proxy's does, must find the inbound ring where
		 * our reads ended, at a frame's start, not where we last
		 * published. */
		if (v->raw || !v->rx.active)
			vchan_ring_publish(&v->rx.ring);
		/* Count what is still in the inbound ring and drop it with
		 * the mapping; cons is not moved, so a blocked peer sender
		 * wakes to EPIPE rather than to room.  A hostile index just
		 * means nothing is counted; after the peer left, nothing past
		 * the bound its leaving fixed (peer_left.c) is. */
		(void)vchan_rx_capped(v);   /* a broken bound: none counted */
		if (vchan_ring_ready(&v->rx.ring, &ready) == 0 && !v->raw)
			untaken += vchan_frame_count(&v->rx.ring, ready,
					v->rx.run_left, vchan_rx_taken(v));
		else if (!v->raw)
			/* The rest of a run taken whole is ours. */
			untaken += v->rx.run_left;
		v->ops->notify(v->tp);
		/* Under wait_mu too: vchan_events(), vchan_fd() and
		 * vchan_is_connected() look at the page and the transport
		 * under it, from any thread, without the tx and rx locks. */
		pthread_mutex_lock(&v->wait_mu);
		v->ops->release(v->tp, false);
		__atomic_store_n(&v->released, true, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&v->wait_mu);
	}
	v->rx.active = false;
	v->rx.run_left = 0;
	__atomic_fetch_add(&v->discarded, untaken + unsent, __ATOMIC_RELAXED);
	log_discarded(v, closing, unsent, backlog, untaken);
	if (!rx_held)
		vchan_unlock(&v->rx.mu);
	if (!tx_held)
		vchan_unlock(&v->tx.mu);
	return 0;
}

int vchan_revoke(struct vchan *v)
{
	return revoke_end(v, false);
}

void vchan_close(struct vchan *v)
{
	if (!v)
		return;
	/* A child's copy (fork.c): free it, leave the parent's channel. */
	if (vchan_fork_orphan(v)) {
		vchan_endpoint_free(v, true);
		return;
	}
	revoke_end(v, true);
	/* Closed by the thread holding an in-place message or a reservation:
	 * the hold ends here. */
	if (vchan_lock_held(&v->rx.mu))
		vchan_unlock(&v->rx.mu);
	if (vchan_lock_held(&v->tx.mu))
		vchan_unlock(&v->tx.mu);
	vchan_endpoint_free(v, false);
}

void vchan_client_connect(struct vchan *v)
{
	/* Ask for a notification when the server writes, then say we are
	 * here; the caller's notification follows these stores. */
	__atomic_fetch_or(v->peer_notify, VCHAN_NOTIFY_WRITE,
			  __ATOMIC_SEQ_CST);
	VCHAN_WRITE_ONCE(*v->my_live, 1);
	vchan_mb(); /* both stores visible before the event */
}

int vchan_get_stats(struct vchan *v, struct vchan_stats *st)
{
	if (!v || !st)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	memset(st, 0, sizeof(*st));
	st->msgs_sent = __atomic_load_n(&v->msgs_sent, __ATOMIC_RELAXED);
	st->msgs_recv = __atomic_load_n(&v->msgs_recv, __ATOMIC_RELAXED);
	st->bytes_sent = __atomic_load_n(&v->bytes_sent, __ATOMIC_RELAXED);
	st->bytes_recv = __atomic_load_n(&v->bytes_recv, __ATOMIC_RELAXED);
	st->discarded = __atomic_load_n(&v->discarded, __ATOMIC_RELAXED);
	st->notifies = __atomic_load_n(&v->notifies, __ATOMIC_RELAXED);
	st->sleeps = __atomic_load_n(&v->sleeps, __ATOMIC_RELAXED);
	st->grace_hits = __atomic_load_n(&v->grace_hits, __ATOMIC_RELAXED);
	/* The spin state belongs to the thread spinning: take it the same way
	 * (a spin lasts at most its budget). */
	while (__atomic_exchange_n(&v->spinning, 1, __ATOMIC_ACQUIRE))
		sched_yield();
	st->spin_hits = v->spin.busy.hits;
	st->spin_misses = v->spin.busy.misses;
	st->yield_hits = v->spin.yield.hits;
	st->yield_misses = v->spin.yield.misses;
	st->spin_enabled = vchan_spin_enabled(&v->spin);
	__atomic_store_n(&v->spinning, 0, __ATOMIC_RELEASE);
	st->layout = v->layout;
	return 0;
}

unsigned vchan_rights(const struct vchan *v)
{
	return v ? v->rights : 0;
}

size_t vchan_ring_size(const struct vchan *v, int write_side)
{
	return write_side ? v->tx.ring.size : v->rx.ring.size;
}

/* vchan_fd()'s set: the sleeper's set (nested) and the relay eventfd, by
 * which a thread asleep in a blocking call passes on what it consumed.
 * Made at the first call only, so that an end nobody polls costs two
 * descriptors fewer.  Under wait_mu. */
static int make_loop_set(struct vchan *v)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int lfd, rfd, r = 0;

	/* Readable from the start (count 1): a sleeper may have consumed an
	 * event before the set was there, so the loop's first vchan_events()
	 * looks. */
	rfd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rfd < 0)
		return -errno;
	lfd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0) {
		r = -errno;
		close(rfd);
		return r;
	}
	ev.data.fd = v->epoll_fd;
	if (epoll_ctl(lfd, EPOLL_CTL_ADD, v->epoll_fd, &ev) < 0)
		r = -errno;
	ev.data.fd = rfd;
	if (!r && epoll_ctl(lfd, EPOLL_CTL_ADD, rfd, &ev) < 0)
		r = -errno;
	if (r < 0) {
		close(lfd);
		close(rfd);
		return r;
	}
	v->relay_fd = rfd;
	/* The count 1; release: a vchan_events() in another thread that
	 * takes the flag (acquire) reads relay_fd as set here. */
	__atomic_store_n(&v->relayed, 1, __ATOMIC_RELEASE);
	/* relay_fd is set before a sleeper can see loop_fd (wait.c relay). */
	__atomic_store_n(&v->loop_fd, lfd, __ATOMIC_RELEASE);
	return 0;
}

int vchan_fd(struct vchan *v)
{
	int fd, r = 0;

	/* An epoll set, never the transport's own fd: it outlives a revoke
	 * from another thread (closed only by vchan_close()), and holds the
	 * kick fd, which keeps it readable once the channel is over. */
	if (!v)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	if (__atomic_load_n(&v->released, __ATOMIC_ACQUIRE))
		return -EPIPE;
	fd = __atomic_load_n(&v->loop_fd, __ATOMIC_ACQUIRE);
	if (fd >= 0)
		return fd;
	pthread_mutex_lock(&v->wait_mu);
	if (v->released)
		r = -EPIPE;
	else if (v->loop_fd < 0)
		r = make_loop_set(v);
	fd = v->loop_fd;
	pthread_mutex_unlock(&v->wait_mu);
	if (r == -EPIPE)
		return r;
	if (r < 0) {
		vchan_log(v->name, "cannot make the event fd for vchan_fd(): %s",
			  strerror(-r));
		return r;
	}
	return fd;
}

int vchan_is_connected(struct vchan *v)
{
	int r;

	if (!v)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	/* Under wait_mu: a revoke in another thread unmaps the page. */
	pthread_mutex_lock(&v->wait_mu);
	r = vchan_state(v, true);
	/* Peer-written; one load (vchan_state already checked the value). */
	if (r == 0)
		r = VCHAN_READ_ONCE(*v->peer_live) == 1;
	pthread_mutex_unlock(&v->wait_mu);
	return r;
}

/* For vchan_events(): pump the backlog, then the room there is (0 while
 * a backlog is left).  tx lock held. */
static int tx_look(struct vchan *v, uint32_t *n)
{
	int r = 0;

	*n = 0;
	if (v->tx.busy)
		r = vchan_tx_pump(v, false);
	if (!r && !v->tx.busy &&
	    (r = vchan_ring_space(&v->tx.ring, n)) < 0)
		vchan_fail(v, r);
	return r;
}

int vchan_events(struct vchan *v)
{
	bool rx_held, tx_held;
	uint32_t n;
	int r, ev = 0;

	if (!v)
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	/* First what a sleeping call passed on: anything it consumed after
	 * this is passed on again, and wakes the loop once more. */
	vchan_relay_take(v);
	pthread_mutex_lock(&v->wait_mu);
	if (!v->poller && !v->released) {
		v->ops->ack(v->tp);
		vchan_peer_poll(v);
		vchan_timer_consume(v);
		__atomic_fetch_add(&v->ev_gen, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&v->wait_mu);

	/* A side this thread holds (its in-place message, its reservation)
	 * is looked at under that hold, and stays held. */
	rx_held = vchan_lock_held(&v->rx.mu);
	tx_held = vchan_lock_held(&v->tx.mu);
	if ((v->rights & VCHAN_RIGHT_RECV) &&
	    (rx_held || vchan_trylock(&v->rx.mu))) {
		r = vchan_state(v, false);
		if (!r && !v->released)
			r = vchan_rx_capped(v);   /* the peer left: its bound */
		if (!r && !v->released)
			r = vchan_rx_finish(v, true);   /* what receives left */
		if (!r && !v->released) {
			r = vchan_ring_ready(&v->rx.ring, &n);
			if (!r && !n) {
				/* Nothing yet: be woken when data comes. */
				uint64_t g = vchan_request_notify(
					v, VCHAN_NOTIFY_WRITE);

				r = vchan_ring_ready(&v->rx.ring, &n);
				if (!r && !n)
					vchan_grace_poll(v, g);
			}
			if (r < 0)
				vchan_fail(v, r);
			else if (n)
				ev |= VCHAN_EV_IN;
		}
		if (!rx_held)
			vchan_unlock(&v->rx.mu);
	}
	if ((v->rights & VCHAN_RIGHT_SEND) &&
	    (tx_held || vchan_trylock(&v->tx.mu))) {
		r = vchan_state(v, true);
		if (!r)
			r = tx_look(v, &n);
		if (!r && (v->tx.busy || !n)) {
			/* A backlog left, or no room: be woken when the peer
			 * reads (a send's -EAGAIN asked, but the backlog we
			 * just pumped may need more than one more wake). */
			uint64_t g = vchan_request_notify(v, VCHAN_NOTIFY_READ);

			r = tx_look(v, &n);
			if (!r && (v->tx.busy || !n))
				vchan_grace_poll(v, g);
		}
		if (!r && !v->tx.busy && n)
			ev |= VCHAN_EV_OUT;
		if (!tx_held)
			vchan_unlock(&v->tx.mu);
	}
	/* Under wait_mu: a revoke in another thread unmaps the page. */
	pthread_mutex_lock(&v->wait_mu);
	r = vchan_state(v, true);
	/* The peer left (not our revoke, which kicked already): the kick fd
	 * keeps vchan_fd() readable for good. */
	if (r == -EPIPE && !__atomic_load_n(&v->revoked, __ATOMIC_ACQUIRE))
		vchan_peer_gone(v);
	/* Alive: look again within VCHAN_RECHECK_NS even with no event (a
	 * peer's death can clear its live byte and send none).  A thread
	 * asleep on the timer wakes then and passes it on. */
	if (r == 0 && !v->released)
		vchan_recheck_arm(v);
	pthread_mutex_unlock(&v->wait_mu);
	if (r == -EPIPE)
		ev |= VCHAN_EV_HUP;
	else if (r < 0)
		ev |= VCHAN_EV_ERR;
	return ev;
}
