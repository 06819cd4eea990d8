/* SPDX-License-Identifier: MIT */
/* The peer watch of channels over Xen: one store connection per process.
 *
 * A destroyed domain fires no unmap-notify, so each end watches the store
 * (transport_xen.c says which node).  Xen 4.17 lets a guest domain hold 128
 * watches, of which a Linux 6.1 guest's kernel holds 5; a watch per channel
 * and one on @releaseDomain for the whole process let 122 channels of a
 * process be watched (two per channel ran out at about 60).  One
 * connection also spares each channel libxenstore's reader thread and
 * event pipe.
 *
 * Events.  One thread of ours, while any channel is subscribed, waits on
 * an epoll set holding the connection's fd (the set outlives a fresh
 * connection, below), takes the events, looks for every channel they
 * concern, and tells one whose peer is gone through vchan_peer_gone()
 * (lock-free: it wakes that channel's sleepers and makes its fd readable).
 * So an event wakes one thread, not every sleeping channel of the process.
 * A look is a store request: the thread looks for a channel at most once
 * per LOOK_GAP_NS, the looks its events ask for in between put off until
 * then (never dropped), so a peer that writes its node over and over
 * costs the process one event taken per write and at most 50 looks a
 * second, and a death is seen at most LOOK_GAP_NS later for it.  Should
 * the thread not start, each channel polls the set itself (whichever
 * finds it readable works for all), and looks at once.  Tokens are
 * numbered, never reused: an event queued for a closed channel matches no
 * later one.
 *
 * A refused watch.  In a guest Linux's /dev/xen/xenbus reports xenstored's
 * refusal (E2BIG past the quota) as the failure of write(), on which
 * libxenstore gives the connection up: every later call fails with EBADF,
 * and no event comes.  Its watches still count on Xen 4.17 until it is
 * closed.  So after a refusal we open a fresh connection, close the old
 * one, and watch again what it watched; a watch refused there too goes,
 * and we start over without it.  xenstored answers each new watch with an
 * event, so every channel looks once: what happened while it was
 * unwatched is seen.  Past the quota (E2BIG) later channels do without a
 * node watch, until a watched one leaves.
 *
 * A broken connection.  libxenstore gives a connection up when a read
 * fails (the store cut it) and tells no one: its fd stays quiet, and only
 * the next take of events says so (-ECONNRESET).  The thread asks at least
 * once per HEALTH_MS (no store request); whoever finds it broken opens a
 * fresh connection and watches again, as after a refusal.  Without the
 * thread, a channel's call that takes events finds it: an event loop's
 * each second, a blocked call's at its look each second (wait.c).
 *
 * Locking: mu guards everything here.  Under it we take no channel's lock
 * (vchan_peer_gone takes none), so a channel may hold its own (wait_mu)
 * when it calls in.  The thread is joined, and the connection closed,
 * after mu is let go: the thread takes mu, sees that its epoch is over,
 * and leaves.  fork(): a child's copy of the state is the parent's (the
 * child has no thread); it is dropped (the connection closed the one way
 * a child may) at the child's first call (a forked copy of a channel
 * closing, say), and mu is held across fork() (vchan_fork_guard) so the
 * copy is sane.
 * The thread may call the logger (vchan_set_logger). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "peer_watch.h"
#include "vchan_priv.h"

/* Events taken per call; more stay for the next one (the fd stays
 * readable). */
#define WATCH_BATCH 64
/* The watcher's thread looks for one channel at most this often. */
#define LOOK_GAP_NS (20 * 1000 * 1000ull)
/* libxenstore tells no one when it gives a connection up (its fd stays
 * quiet): the thread asks it this often, in ms (no store request). */
#define HEALTH_MS 1000
#define RELEASE_TOKEN "vipc-vchan-release"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static struct hyp_store *st;      /* NULL: no connection */
static int st_fd = -1;            /* st's event fd, in ep_fd */
static int ep_fd = -1;            /* what the thread (or channels) polls */
static int stop_fd = -1;          /* in ep_fd: readable, the thread goes */
static pthread_t thread;
static bool thread_on;
static unsigned long long epoch;  /* of the state; the thread's is over
				   * when this moves */
static unsigned st_gen;           /* vchan_fork_generation at open */
static pid_t st_pid;              /* and the process (a raw clone()) */
static int release;               /* @releaseDomain: 1 watched, -1 not,
				   * 0 not tried on this connection */
static bool quota_full;           /* a node's watch got E2BIG; until a
				   * watched channel leaves, the next would
				   * too, each after a renewal */
static struct vchan_peer_sub *subs;
static unsigned long long next_token;

static void guard(void)
{
	/* Held across fork() (fork.c): else a fork() while another thread
	 * holds mu leaves the child's mu held for good. */
	vchan_fork_guard(&mu);
}

/* What drop_state() hands over, to be let go once mu is. */
struct leftover {
	struct hyp_store *st;
	int ep_fd, stop_fd;
	bool thread_on;
	pthread_t thread;
};

/* Forget the connection, the thread and the list (under mu); the thread
 * is told to go.  In a child of fork() the connection is closed here, the
 * one way a child may, and there is no thread. */
static struct leftover drop_state(bool child)
{
	struct leftover l = { st, ep_fd, stop_fd, thread_on && !child, thread };
	uint64_t one = 1;

	if (child) {
		if (st)
			hyp_store_close_postfork(st);
		l.st = NULL;
	}
	if (l.thread_on && write(stop_fd, &one, sizeof(one)) < 0)
		l.thread_on = false;   /* cannot happen: an eventfd */
	epoch++;
	st = NULL;
	st_fd = ep_fd = stop_fd = -1;
	thread_on = false;
	release = 0;
	quota_full = false;
	subs = NULL;
	return l;
}

/* After mu is let go: the thread leaves (it takes mu first), then its
 * fds and the connection (its watches go with it) can. */
static void let_go(struct leftover *l)
{
	if (l->thread_on)
		pthread_join(l->thread, NULL);
	if (l->st)
		hyp_store_close(l->st);
	if (l->ep_fd >= 0)
		close(l->ep_fd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
}

static void enter(void)
{
	struct leftover l;

	pthread_once(&guard_once, guard);
	vchan_guard_lock(&mu);
	/* The epoll set too, which may outlive a failed open: a child that
	 * kept it would share the parent's set, not a copy of it. */
	if ((st || ep_fd >= 0) &&
	    (st_gen != __atomic_load_n(&vchan_fork_generation,
				       __ATOMIC_RELAXED) ||
	     st_pid != getpid())) {
		l = drop_state(true);
		let_go(&l);    /* no thread: only the child's fd copies */
	}
}

/* A connection (fresh, or the first), its fd in ep_fd.  The old one, if
 * any, is closed only once the new one works. */
static int open_connection(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct hyp_store *fresh;
	int r, fd;

	if (ep_fd < 0) {
		ep_fd = epoll_create1(EPOLL_CLOEXEC);
		if (ep_fd < 0)
			return -errno;
		st_gen = __atomic_load_n(&vchan_fork_generation,
					 __ATOMIC_RELAXED);
		st_pid = getpid();
	}
	r = hyp_store_open(&fresh);
	if (r < 0)
		return r;
	fd = hyp_store_fd(fresh);   /* libxenstore's event pipe */
	if (fd < 0) {
		hyp_store_close(fresh);
		return fd;
	}
	if (st)
		(void)epoll_ctl(ep_fd, EPOLL_CTL_DEL, st_fd, NULL);
	ev.data.fd = fd;
	if (epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		hyp_store_close(fresh);
		ev.data.fd = st_fd;
		if (st)
			(void)epoll_ctl(ep_fd, EPOLL_CTL_ADD, st_fd, &ev);
		return r;
	}
	if (st)
		hyp_store_close(st);
	st = fresh;
	st_fd = fd;
	st_gen = __atomic_load_n(&vchan_fork_generation, __ATOMIC_RELAXED);
	st_pid = getpid();
	return 0;
}

/* After a refused watch, or a broken connection: a fresh connection
 * watching what the old one did.  Each round drops at least one watch, so
 * this ends.  0, or why no fresh connection opened (the old one kept), or
 * -ECONNRESET: the fresh one was lost too.  A loss drops no watch (it
 * refused none): the next take of events finds it and renews again. */
static int renew(const char *who)
{
	static int lost;
	bool again = true;
	int r;

	while (again) {
		again = false;
		if ((r = open_connection()) < 0)
			return r;   /* keep the old one: its calls fail */
		if (release > 0 &&
		    (r = hyp_store_watch(st, HYP_WATCH_RELEASE,
					 RELEASE_TOKEN)) < 0) {
			if (r == -ECONNRESET)
				return r;
			release = -1;
			again = true;
		}
		for (struct vchan_peer_sub *s = subs; s && !again; s = s->next) {
			if (!s->node_watched)
				continue;
			/* The fresh watch's first event is the "now" one. */
			s->node_events = 0;
			r = hyp_store_watch(st, s->node, s->token);
			if (r == -ECONNRESET)
				return r;
			if (r < 0) {
				s->node_watched = false;
				quota_full |= r == -E2BIG;
				again = true;
			}
		}
		if (again && vchan_first_time(&lost))
			vchan_log(who, "a store watch refused again on a fresh "
				  "connection: it is dropped, and a channel's "
				  "peer is watched less");
	}
	return 0;
}

/* libxenstore gave the connection up (hyp_store_next_watch: -ECONNRESET):
 * no event would come on it again.  Watch again on a fresh one, whose
 * first events make every channel look; until one opens, each call that
 * takes events (the thread's, at least each HEALTH_MS) tries again. */
static void reconnect(void)
{
	static int broke, failed;
	int r;

	if (vchan_first_time(&broke))
		vchan_log("peer watch", "the store connection broke: watching "
			  "the peers again on a fresh one");
	r = renew("peer watch");
	/* -ECONNRESET: opened, and lost too; the next take tries again. */
	if (r < 0 && r != -ECONNRESET && vchan_first_time(&failed))
		vchan_log("peer watch", "cannot open a fresh store connection "
			  "(%s): a destroyed peer domain is seen only through "
			  "unmap-notify until one opens", strerror(-r));
}

/* After a call on st failed with r: a lost connection (-ECONNRESET) is
 * replaced as such (said once); any other refusal may have closed st. */
static void replace(const char *who, int r)
{
	if (r == -ECONNRESET)
		reconnect();
	else
		renew(who);
}

/* Watch path; refused, replace st.  Not refused but the connection lost:
 * once more, on the fresh one. */
static int watch(const char *who, const char *path, const char *token)
{
	int r = hyp_store_watch(st, path, token);

	if (r == -ECONNRESET) {
		reconnect();
		if (hyp_store_lost(st))
			return r;       /* no fresh one: the old one kept */
		r = hyp_store_watch(st, path, token);
	}
	if (r < 0)
		replace(who, r);
	return r;
}

/* May this domain read @releaseDomain, i.e. does xenstored send it the
 * event?  (It accepts the watch either way.)  1 yes, 0 no, <0 cannot tell:
 * -EOPNOTSUPP when xenstored will not say.  Xen 4.17's keeps the special
 * nodes' perms outside its tree: XS_GET_PERMS of one is EINVAL to anyone,
 * granted or not, and nothing else a guest may ask tells (the watch's
 * first event comes either way); later ones answer it as of any node. */
static int release_readable(int self)
{
	struct xs_permissions *perms = NULL;
	unsigned int n = 0, i, acc;
	int r;

	if (self <= 0)
		return self < 0 ? self : 1;   /* dom0 reads every node */
	r = hyp_store_get_perms(st, HYP_TXN_NONE, HYP_WATCH_RELEASE, &perms,
				&n);
	if (r == -EACCES)
		return 0;
	/* Not the answer when libxenstore lost the connection meanwhile. */
	if (r == -EINVAL && !hyp_store_lost(st))
		return -EOPNOTSUPP;
	if (r < 0)
		return r;
	if (n == 0) {
		free(perms);
		return -EPROTO;
	}
	/* xenstored's rule: the owner may; else our own entry, else the owner
	 * entry's access for everyone else. */
	acc = perms[0].perms;
	for (i = 1; i < n; i++)
		if (perms[i].id == (unsigned int)self) {
			acc = perms[i].perms;
			break;
		}
	r = perms[0].id == (unsigned int)self || (acc & XS_PERM_READ);
	free(perms);
	return r;
}

/* Watch @releaseDomain for the process, once per connection. */
static void watch_release(const char *who, int self, const char *node)
{
	static int no_release, release_unknown, release_failed;
	int rel = release_readable(self);

	if (rel == 0) {
		release = -1;
		if (vchan_first_time(&no_release))
			vchan_log(who, "no read permission on %s (dom0 must "
				  "grant it): a destroyed peer domain is seen "
				  "only through its store node %s",
				  HYP_WATCH_RELEASE, node);
		return;
	}
	/* Readable, or cannot tell (then watch anyway: xenstored takes it
	 * either way). */
	if (watch(who, HYP_WATCH_RELEASE, RELEASE_TOKEN) < 0) {
		release = -1;
		if (vchan_first_time(&release_failed))
			vchan_log(who, "cannot watch %s: a destroyed peer domain "
				  "is seen only through its store node %s",
				  HYP_WATCH_RELEASE, node);
		return;
	}
	release = 1;
	if (rel == -EOPNOTSUPP && vchan_first_time(&release_unknown))
		vchan_log(who, "cannot tell whether dom0 let this domain read "
			  "%s: this xenstored (Xen 4.17's, say) tells no one "
			  "the permissions of a special node (EINVAL); watching "
			  "it anyway (without that grant, a destroyed peer "
			  "domain is seen only through its store node %s)",
			  HYP_WATCH_RELEASE, node);
	else if (rel < 0 && vchan_first_time(&release_unknown))
		vchan_log(who, "cannot read the permissions of %s (%s); "
			  "watching it anyway", HYP_WATCH_RELEASE,
			  strerror(-rel));
}

/* Is s's node there and the peer's?  A verdict of "gone" is final and
 * told to the owner. */
static void look(struct vchan_peer_sub *s)
{
	struct xs_permissions *perms = NULL;
	unsigned int n = 0;
	int r;

	if (s->gone)
		return;
	s->looked_ns = vchan_now_ns();
	r = hyp_store_get_perms(st, HYP_TXN_NONE, s->node, &perms, &n);
	if (r == -ENOENT || r == -EACCES) {
		r = 0;
	} else if (r == 0) {
		/* The peer may set these: only the owner entry counts.
		 * Owned by another (xenstored gives a dead domain's nodes to
		 * dom0 when it keeps orphans): gone. */
		r = n >= 1 && perms[0].id == s->peer;
		free(perms);
	}
	if (r > 0) {
		s->seen = true;
	} else if (r == 0 && (s->seen || s->node_events > 1)) {
		/* Absent after it was there, or after an event of its own
		 * beyond the watch's first: it came and went. */
		s->gone = true;
		if (s->owner)
			vchan_peer_gone(s->owner);
	}
}

/* An event for node or a node below it. */
static bool about_node(const char *node, const char *path)
{
	size_t n = strlen(node);

	return path && !strncmp(path, node, n) &&
	       (path[n] == '\0' || path[n] == '/');
}

/* Take pending events, then look for each channel they concern.  Returns
 * how many were taken.  The watcher's thread (defer) puts off a look
 * within LOOK_GAP_NS of the channel's last, and learns in *due when the
 * first one put off is (0: none); any caller does those that are due. */
static int take_events(bool defer, uint64_t *due)
{
	struct hyp_watch_event ev;
	struct vchan_peer_sub *s;
	bool all = false;
	uint64_t now, at;
	int n = 0, r;

	while (n < WATCH_BATCH && st) {
		r = hyp_store_next_watch(st, &ev);
		if (r == -EAGAIN)
			break;
		n++;
		if (r < 0) {
			/* An event lost (-ENOMEM), or the connection:
			 * every channel looks. */
			all = true;
			if (r == -ENOMEM)
				continue;
			reconnect();
			break;
		}
		if (ev.token && !strcmp(ev.token, RELEASE_TOKEN))
			all = true;
		for (s = subs; !all && ev.token && s; s = s->next) {
			if (strcmp(ev.token, s->token))
				continue;
			if (s->node_events < 2 && about_node(s->node, ev.path))
				s->node_events++;
			s->look = true;
			break;
		}
		hyp_watch_event_release(&ev);
	}
	now = vchan_now_ns();
	*due = 0;
	for (s = subs; s; s = s->next) {
		if (!s->look && !all)
			continue;
		at = s->looked_ns + LOOK_GAP_NS;
		if (defer && !s->gone && now < at) {
			s->look = true;        /* when due */
			if (!*due || at < *due)
				*due = at;
			continue;
		}
		s->look = false;
		look(s);
	}
	return n;
}

/* The watcher's thread's epoll_wait() timeout: milliseconds from now
 * until due, rounded up; HEALTH_MS when due is 0 (nothing put off), to
 * ask whether the connection still works. */
static int ms_until(uint64_t due)
{
	uint64_t now = vchan_now_ns();

	if (!due)
		return HEALTH_MS;
	if (due <= now)
		return 0;
	return (int)((due - now + 999999) / 1000000);
}

struct thread_arg {
	int ep_fd;
	unsigned long long epoch;
};

static void *watch_thread(void *p)
{
	struct thread_arg a = *(struct thread_arg *)p;
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	struct epoll_event evs[2];
	uint64_t due = 0;
	bool over = false;
	int taken, woken;

	free(p);
	while (!over) {
		/* Until an event, the first look put off is due, or it is
		 * time to ask whether the connection still works. */
		woken = epoll_wait(a.ep_fd, evs, 2, ms_until(due));
		vchan_guard_lock(&mu);
		over = epoch != a.epoch;
		taken = over ? 0 : take_events(true, &due);
		vchan_guard_unlock(&mu);
		/* Woken with nothing to take: a channel took it first (or
		 * epoll_wait failed, < 0).  A broken connection counts as
		 * taken (take_events renews it).  Never spin. */
		if (!over && woken != 0 && taken == 0)
			nanosleep(&pause, NULL);
	}
	return NULL;
}

/* The thread that takes the events, once per state; without it each
 * channel polls ep_fd itself. */
static void start_thread(const char *who)
{
	static int no_thread;
	struct epoll_event ev = { .events = EPOLLIN };
	struct thread_arg *a;
	sigset_t all, old;
	int r;

	if (thread_on || ep_fd < 0)
		return;
	if (stop_fd < 0) {
		stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ev.data.fd = stop_fd;
		if (stop_fd < 0 ||
		    epoll_ctl(ep_fd, EPOLL_CTL_ADD, stop_fd, &ev) < 0) {
			r = -errno;
			/* Not kept outside the set: a later start would take
			 * it for one in it, and its thread would hear of its
			 * end only at the next health look. */
			if (stop_fd >= 0)
				close(stop_fd);
			stop_fd = -1;
			goto fail;
		}
	}
	a = malloc(sizeof(*a));
	if (!a) {
		r = -ENOMEM;
		goto fail;
	}
	*a = (struct thread_arg){ ep_fd, epoch };
	/* Signals are the application's threads' business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&thread, NULL, watch_thread, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		thread_on = true;
		return;
	}
	free(a);
fail:
	if (vchan_first_time(&no_thread))
		vchan_log(who, "cannot start the store watch thread (%s): each "
			  "channel's calls take the watch events", strerror(-r));
}

int vchan_peer_watch_add(struct vchan_peer_sub *s, const char *who, int self,
			 const char *node, domid_t peer, bool seen,
			 int *poll_fd)
{
	static int no_watch, no_node_watch;
	int r;

	*poll_fd = -1;
	*s = (struct vchan_peer_sub){ .peer = peer, .seen = seen,
				      .confirmed = seen };
	s->node = strdup(node);
	if (!s->node)
		return -ENOMEM;
	enter();
	r = st ? 0 : open_connection();
	if (r < 0) {
		if (vchan_first_time(&no_watch))
			vchan_log(who, "cannot watch %s (%s): the death of the "
				  "peer's domain is seen only through "
				  "unmap-notify", node, strerror(-r));
		vchan_guard_unlock(&mu);
		free(s->node);
		s->node = NULL;
		return r;
	}
	start_thread(who);
	snprintf(s->token, sizeof(s->token), "vipc-vchan-%llu",
		 ++next_token);
	s->listed = true;
	s->next = subs;
	subs = s;
	r = quota_full ? -E2BIG : watch(who, node, s->token);
	quota_full |= r == -E2BIG;
	s->node_watched = r == 0;
	/* Decided on the first connection that has a watch: the first
	 * watch's refusal (the quota, say) tells nothing of this one. */
	if (release == 0 && s->node_watched)
		watch_release(who, self, node);
	if (!s->node_watched) {
		if (release > 0) {
			if (vchan_first_time(&no_node_watch))
				vchan_log(who, "cannot watch %s (%s): the death "
					  "of the peer's domain is seen only "
					  "through %s", node, strerror(-r),
					  HYP_WATCH_RELEASE);
		} else {
			if (vchan_first_time(&no_watch))
				vchan_log(who, "cannot watch %s (%s): the death "
					  "of the peer's domain is seen only "
					  "through unmap-notify", node,
					  strerror(-r));
			vchan_guard_unlock(&mu);
			return r;
		}
	}
	/* The race: look once now that the watch is set. */
	look(s);
	if (!thread_on)
		*poll_fd = ep_fd;
	vchan_guard_unlock(&mu);
	return 0;
}

void vchan_peer_watch_attach(struct vchan_peer_sub *s, struct vchan *v)
{
	enter();
	if (s->listed) {
		s->owner = v;
		if (s->gone)      /* found before v existed */
			vchan_peer_gone(v);
	}
	vchan_guard_unlock(&mu);
}

int vchan_peer_watch_check(struct vchan_peer_sub *s, bool connected)
{
	uint64_t due;
	int gone;

	enter();
	if (!s->listed) {
		vchan_guard_unlock(&mu);
		return 0;
	}
	take_events(false, &due);
	/* Also look once after the peer connected: a vipc client wrote its
	 * node before, so it is there unless the client died already. */
	if (connected && !s->confirmed) {
		s->confirmed = true;
		look(s);
	}
	gone = s->gone;
	vchan_guard_unlock(&mu);
	return gone;
}

void vchan_peer_watch_remove(struct vchan_peer_sub *s)
{
	struct leftover l = { .ep_fd = -1, .stop_fd = -1 };
	struct vchan_peer_sub **p;
	int r;

	enter();
	for (p = &subs; s->listed && *p; p = &(*p)->next) {
		if (*p != s)
			continue;
		*p = s->next;
		if (s->node_watched)
			quota_full = false;     /* a place for the next one */
		/* Queued events for the token will match nothing. */
		if (s->node_watched &&
		    (r = hyp_store_unwatch(st, s->node, s->token)) < 0)
			replace("peer watch", r);
		break;
	}
	s->listed = false;
	s->owner = NULL;
	if (!subs)
		l = drop_state(false);
	vchan_guard_unlock(&mu);
	let_go(&l);
	free(s->node);
	s->node = NULL;
}
