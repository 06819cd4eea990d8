/* SPDX-License-Identifier: MIT */
/* The process-wide peer watch (libvchan-cap/peer_watch.c) against the Xen
 * fakes: one store connection for every channel, each event looked at for
 * the channel it concerns by whoever takes it (the watcher's thread, or
 * without it any channel's call), a refused watch answered by a fresh
 * connection that watches again what the old one did, and a forked child
 * that drops its copy. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_hyp_mock.h"

#include "peer_watch.h"
#include "vchan_priv.h"

#define SELF 3
#define NA "/local/domain/5/data/a/ring-ref"
#define NB "/local/domain/3/data/vipc-vchan-live/0/6-7-200-b"
#define NC "/local/domain/7/data/c/ring-ref"
#define RELEASE_TOKEN "vipc-vchan-release"

/* What peer_watch.c takes from the rest of the library. */
unsigned vchan_fork_generation;
static pthread_mutex_t *guarded;   /* what it asked fork.c to hold */

void vchan_fork_guard(pthread_mutex_t *mu)
{
	guarded = mu;
}
static struct vchan *gone[8];
static int ngone, logs;
static char last_log[512];

/* Called under the watcher's lock (by this thread or the watcher's):
 * one at a time; ngone published after gone[]. */
void vchan_peer_gone(struct vchan *v)
{
	int i = __atomic_load_n(&ngone, __ATOMIC_RELAXED);

	if (i < 8)
		gone[i] = v;
	__atomic_store_n(&ngone, i + 1, __ATOMIC_RELEASE);
}

void vchan_log(const char *who, const char *fmt, ...)
{
	va_list ap;

	(void)who;
	va_start(ap, fmt);
	vsnprintf(last_log, sizeof(last_log), fmt, ap);
	va_end(ap);
	logs++;
}

/* The clock of the watcher's looks: the real one, or with fake_clock set
 * the test's (fake_ns). */
static bool fake_clock;
static uint64_t fake_ns;

uint64_t vchan_now_ns(void)
{
	struct timespec ts;

	if (__atomic_load_n(&fake_clock, __ATOMIC_ACQUIRE))
		return __atomic_load_n(&fake_ns, __ATOMIC_ACQUIRE);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* pthread_create (wrapped): fails while no_thread is set. */
static bool no_thread;
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a,
			  void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
			  void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
			  void *(*fn)(void *), void *arg)
{
	return no_thread ? EAGAIN : __real_pthread_create(t, a, fn, arg);
}

/* epoll_ctl (wrapped): with fail_stop_add set, adding any fd but the
 * store's (mock.fd), i.e. the thread's stop fd, fails with ENOSPC. */
static bool fail_stop_add;
int __real_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	if (fail_stop_add && op == EPOLL_CTL_ADD && fd != mock.fd) {
		errno = ENOSPC;
		return -1;
	}
	return __real_epoll_ctl(ep, op, fd, ev);
}

/* Channel owners: only their addresses count. */
static char owner_a, owner_b, owner_c;
#define OWNER(x) ((struct vchan *)(void *)&(x))

static int setup(void **state)
{
	mock_reset(state);
	mock.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(mock.fd >= 0);
	ngone = logs = 0;
	last_log[0] = '\0';
	fake_clock = false;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(mock.fd);
	return 0;
}

/* Subscribe; 0 or -errno.  The watcher's thread takes the events: no fd
 * for the channel to poll. */
static int add(struct vchan_peer_sub *s, const char *who, const char *node,
	       domid_t peer, bool seen)
{
	int poll_fd = 0;
	int r = vchan_peer_watch_add(s, who, SELF, node, peer, seen, &poll_fd);

	assert_int_equal(poll_fd, -1);
	return r;
}

/* One watch event, then (end) no more. */
static void event(const char *const *pair)
{
	MOCK_RET(xs_check_watch, pair);
}

static void no_more_events(void)
{
	MOCK_FAIL(xs_check_watch, EAGAIN);
}

/* The first channel: the connection, its node's watch, @releaseDomain
 * readable and watched, its node there and the peer's. */
static void add_first(struct vchan_peer_sub *a)
{

	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(0, XS_PERM_READ));
	MOCK_OK(xs_watch);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));
	assert_int_equal(add(a, "a", NA, 5, true), 0);
	assert_string_equal(mock.token, RELEASE_TOKEN);   /* the last watch */
	vchan_peer_watch_attach(a, OWNER(owner_a));
}

/* A server's channel: its client's node not there yet. */
static void add_server(struct vchan_peer_sub *b)
{
	MOCK_OK(xs_watch);
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(add(b, "b", NB, 6, false), 0);
	assert_string_equal(mock.path, NB);
	assert_string_not_equal(mock.token, RELEASE_TOKEN);
	vchan_peer_watch_attach(b, OWNER(owner_b));
}

/* add_first() where no thread starts: the fd its caller is to poll. */
static int add_first_unthreaded(struct vchan_peer_sub *a)
{
	int fd = -1;

	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(0, XS_PERM_READ));
	MOCK_OK(xs_watch);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));
	assert_int_equal(vchan_peer_watch_add(a, "a", SELF, NA, 5, true, &fd),
			 0);
	return fd;
}

/* The next take of events finds the connection broken: a fresh one
 * watches @releaseDomain, then B's node and A's (newest first). */
static void plan_broken_then_rewatch_ab(void)
{
	MOCK_FAIL(xs_check_watch, EINVAL);
	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);                      /* @releaseDomain */
	MOCK_OK(xs_watch);                      /* B's node */
	MOCK_OK(xs_watch);                      /* A's node */
}

/* A (add_first) and B (add_server); B's node's events: ev, whose token
 * lives in token (64 bytes). */
static void add_pair(struct vchan_peer_sub *s, const char *ev[2], char *token)
{
	add_first(&s[0]);
	add_server(&s[1]);
	snprintf(token, 64, "%s", mock.token);
	ev[0] = NB;
	ev[1] = token;
}

static void remove_all(struct vchan_peer_sub *s, int n, int closes)
{
	for (int i = 0; i < n; i++) {
		if (s[i].node_watched)
			MOCK_OK(xs_unwatch);
		vchan_peer_watch_remove(&s[i]);
	}
	assert_int_equal(mock.xs_close, closes);
}

/* Whoever takes the events looks for the channel they concern, and tells
 * that one's owner; @releaseDomain makes every channel look. */
static void test_events_reach_their_channel(void **state)
{
	struct vchan_peer_sub s[2];
	const char *initial_b[2], *stray[2] = { NB, "vipc-vchan-999999" };
	const char *release[2] = { "@releaseDomain", RELEASE_TOKEN };
	char token_b[64];

	(void)state;
	add_pair(s, initial_b, token_b);
	assert_int_equal(logs, 0);

	/* B's watch's first event, taken by A: B looks (not there yet). */
	event(initial_b);
	MOCK_FAIL(xs_get_permissions, ENOENT);
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[0], false), 0);
	assert_string_equal(mock.path, NB);
	/* Its client writes it; then it goes: B's peer is gone, B is told,
	 * though A took the event. */
	event(initial_b);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(6, XS_PERM_NONE));
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[0], false), 0);
	event(initial_b);
	MOCK_FAIL(xs_get_permissions, ENOENT);
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[0], false), 0);
	assert_int_equal(ngone, 1);
	assert_ptr_equal(gone[0], OWNER(owner_b));
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);

	/* An event of a token nobody holds looks at nothing (no call). */
	event(stray);
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);

	/* @releaseDomain: A looks (B is gone already): its node now dom0's. */
	event(release);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(0, XS_PERM_NONE));
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);
	assert_string_equal(mock.path, NA);
	assert_int_equal(ngone, 2);
	assert_ptr_equal(gone[1], OWNER(owner_a));
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[0], false), 1);

	/* The last one out closes the connection. */
	remove_all(s, 2, 1);
	assert_int_equal(logs, 0);
}

/* A server's channel whose client connected and died before anyone
 * looked: a second event of its own, the node absent, is enough.  And a
 * server's channel looks once of its own after its peer connected. */
static void test_came_and_went(void **state)
{
	struct vchan_peer_sub s[3];
	const char *ev[2];
	char token_b[64];

	(void)state;
	add_pair(s, ev, token_b);
	event(ev);
	event(ev);
	no_more_events();
	/* One look for both events: absent, after one of its own. */
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);
	assert_int_equal(ngone, 1);

	add_server(&s[2]);
	no_more_events();
	MOCK_RET(xs_get_permissions, MOCK_OWNER(6, XS_PERM_NONE));
	assert_int_equal(vchan_peer_watch_check(&s[2], true), 0);
	no_more_events();                       /* no second look */
	assert_int_equal(vchan_peer_watch_check(&s[2], true), 0);
	assert_true(s[2].seen);
	remove_all(s, 3, 1);
}

/* A refused watch may have closed a guest's connection: a fresh one
 * watches @releaseDomain and every channel's node again (the thread goes
 * on with it).  A watch refused there too is dropped, and the renewal
 * starts over without it.  As in a guest, each refusal (E2BIG) gives the
 * connection up too (hyp_store's look at it finds it so): still a
 * refusal, the quota full, not a broken connection. */
static void test_refused_watch_renews(void **state)
{
	struct vchan_peer_sub s[5];
	const char *release[2] = { "@releaseDomain", RELEASE_TOKEN };

	(void)state;
	mock.probe_errno = EBADF;
	add_first(&s[0]);
	add_server(&s[1]);
	MOCK_FAIL(xs_watch, E2BIG);             /* C's node: past the quota */
	MOCK_OK(xs_open);                       /* fresh */
	MOCK_OK(xs_watch);                      /* @releaseDomain */
	MOCK_OK(xs_watch);                      /* B's node */
	MOCK_OK(xs_watch);                      /* A's node */
	MOCK_RET(xs_get_permissions, MOCK_OWNER(7, XS_PERM_NONE));
	assert_int_equal(add(&s[2], "c", NC, 7, true), 0);
	assert_string_equal(mock.path, NC);     /* its look */
	assert_int_equal(mock.xs_close, 1);     /* the old connection */
	assert_int_equal(logs, 1);
	assert_non_null(strstr(last_log, "only through @releaseDomain"));
	assert_false(s[2].node_watched);
	vchan_peer_watch_attach(&s[2], OWNER(owner_c));

	/* C is still reached through @releaseDomain. */
	event(release);
	no_more_events();
	/* Newest first. */
	MOCK_FAIL(xs_get_permissions, ENOENT);                      /* C */
	MOCK_FAIL(xs_get_permissions, ENOENT);                      /* B */
	MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));  /* A */
	assert_int_equal(vchan_peer_watch_check(&s[0], false), 0);
	assert_int_equal(ngone, 1);
	assert_ptr_equal(gone[0], OWNER(owner_c));

	/* The quota is full: D does not try (no watch, no renewal) until a
	 * watched channel (B) leaves; then E does. */
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(add(&s[3], "d", NB, 6, false), 0);
	assert_false(s[3].node_watched);
	assert_int_equal(mock.xs_close, 1);
	MOCK_OK(xs_unwatch);
	vchan_peer_watch_remove(&s[1]);
	MOCK_OK(xs_watch);
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(add(&s[4], "e", NB, 6, false), 0);
	assert_true(s[4].node_watched);

	/* The next renewal (A leaves, its unwatch refused): E's watch is
	 * refused on the fresh connection too; a second fresh one watches
	 * what is left. */
	MOCK_FAIL(xs_unwatch, EINVAL);
	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);                      /* @releaseDomain */
	MOCK_FAIL(xs_watch, E2BIG);             /* E's node */
	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);                      /* @releaseDomain */
	vchan_peer_watch_remove(&s[0]);
	assert_int_equal(mock.xs_close, 3);
	assert_false(s[4].node_watched);
	assert_int_equal(logs, 2);
	assert_non_null(strstr(last_log, "again on a fresh connection"));
	remove_all(s + 2, 3, 4);
}

/* With no channel calling in, the watcher's thread takes the events, and
 * tells the channel whose peer is gone. */
static void test_thread_takes_events(void **state)
{
	struct vchan_peer_sub s[2];
	const char *ev[2];
	char token_b[64];
	uint64_t one = 1;
	int i;

	(void)state;
	mock.watch_pipe = mock.fd;     /* emptied with the last event */
	add_pair(s, ev, token_b);
	/* B's node came and went: two events, then absent. */
	mock.plan_event[0] = mock.plan_event[1] = ev;
	mock.plan_events = 2;
	/* Release: the watcher's thread reads the plan once it sees this. */
	__atomic_store_n(&mock.thread_plan, true, __ATOMIC_RELEASE);
	assert_int_equal(write(mock.fd, &one, sizeof(one)), sizeof(one));
	for (i = 0; i < 500 && !__atomic_load_n(&ngone, __ATOMIC_ACQUIRE); i++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&ngone, __ATOMIC_ACQUIRE), 1);
	assert_ptr_equal(gone[0], OWNER(owner_b));
	assert_int_equal(mock.plan_next, 2);
	/* Let the thread finish its round before the plan goes. */
	usleep(50000);
	__atomic_store_n(&mock.thread_plan, false, __ATOMIC_RELEASE);
	remove_all(s, 2, 1);
}

/* libxenstore gave the connection up: the call that finds it opens a
 * fresh one, watches again what the old one did, and every channel
 * looks.  No fresh one: said once, and the next call tries again. */
static void test_broken_connection_reconnects(void **state)
{
	struct vchan_peer_sub s[2];
	const char *ev[2];
	char token_b[64];

	(void)state;
	add_pair(s, ev, token_b);
	logs = 0;
	plan_broken_then_rewatch_ab();
	/* Newest first: B's node there now, its client's; A's gone. */
	MOCK_RET(xs_get_permissions, MOCK_OWNER(6, XS_PERM_NONE));
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 0);
	assert_int_equal(mock.xs_close, 1);
	assert_int_equal(logs, 1);
	assert_non_null(strstr(last_log, "store connection broke"));
	assert_int_equal(ngone, 1);
	assert_ptr_equal(gone[0], OWNER(owner_a));
	/* The fresh connection's events reach B. */
	event(ev);
	no_more_events();
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);
	assert_int_equal(ngone, 2);
	/* Broken again, and no fresh connection: said once. */
	MOCK_FAIL(xs_check_watch, EINVAL);
	MOCK_FAIL(xs_open, EIO);
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);
	assert_int_equal(logs, 2);
	assert_non_null(strstr(last_log, "cannot open a fresh store connection"));
	MOCK_FAIL(xs_check_watch, EINVAL);
	MOCK_FAIL(xs_open, EIO);
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);
	assert_int_equal(logs, 2);
	/* An event lost to malloc: every channel looks (none left here). */
	MOCK_FAIL(xs_check_watch, ENOMEM);
	no_more_events();
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 1);
	assert_int_equal(mock.xs_close, 1);
	remove_all(s, 2, 2);
}

/* Wait up to 5 s for *counter to reach n; its value then. */
static int wait_for(const int *counter, int n)
{
	int i;

	for (i = 0; i < 500 && __atomic_load_n(counter, __ATOMIC_ACQUIRE) < n;
	     i++)
		usleep(10000);
	return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}

/* libxenstore gave the connection up, and no event comes: the watcher's
 * thread asks within a second, opens a fresh one, watches again, and
 * every channel looks. */
/* A watch that fails with the connection lost (not refused): watched
 * again on a fresh connection, with everything else. */
static void test_lost_connection_watches_again(void **state)
{
	struct vchan_peer_sub s[3];

	(void)state;
	add_first(&s[0]);
	add_server(&s[1]);
	MOCK_FAIL(xs_watch, ECONNRESET);        /* C's node: lost */
	MOCK_OK(xs_open);                       /* fresh */
	MOCK_OK(xs_watch);                      /* @releaseDomain */
	MOCK_OK(xs_watch);                      /* B's node */
	MOCK_OK(xs_watch);                      /* A's node */
	MOCK_OK(xs_watch);                      /* C's node, again */
	MOCK_RET(xs_get_permissions, MOCK_OWNER(7, XS_PERM_NONE));
	assert_int_equal(add(&s[2], "c", NC, 7, true), 0);
	assert_true(s[2].node_watched);
	assert_string_equal(mock.path, NC);     /* its look */
	assert_int_equal(mock.xs_close, 1);     /* the lost one */
	/* Not a refusal: nothing said of a channel watched less.  (The
	 * break itself is said once per process:
	 * test_broken_connection_reconnects.) */
	assert_null(strstr(last_log, "cannot watch"));
	vchan_peer_watch_attach(&s[2], OWNER(owner_c));
	remove_all(s, 3, 2);
}

/* The fresh connection lost too while the watches are set again on it:
 * no watch is dropped (none was refused), and the next take of events
 * watches them again on yet another one.  Before, each lost one went for
 * good, as if refused. */
static void test_renewal_lost_again_drops_nothing(void **state)
{
	struct vchan_peer_sub s[3];

	(void)state;
	add_first(&s[0]);
	add_server(&s[1]);
	logs = 0;
	MOCK_FAIL(xs_watch, ECONNRESET);        /* C's node: lost */
	MOCK_OK(xs_open);                       /* fresh */
	MOCK_OK(xs_watch);                      /* @releaseDomain */
	MOCK_FAIL(xs_watch, EBADF);             /* B's node: lost again */
	MOCK_FAIL(xs_get_permissions, EBADF);   /* C's look */
	assert_int_equal(add(&s[2], "c", NC, 7, true), 0);
	vchan_peer_watch_attach(&s[2], OWNER(owner_c));
	assert_true(s[0].node_watched);
	assert_true(s[1].node_watched);
	assert_false(s[2].node_watched);        /* its own watch was lost */
	assert_null(strstr(last_log, "refused"));
	assert_null(strstr(last_log, "cannot open"));
	assert_int_equal(mock.xs_close, 1);
	/* The next take finds the loss: A's and B's nodes watched again. */
	plan_broken_then_rewatch_ab();
	/* Every channel looks, newest first: all there, the peers'. */
	MOCK_RET(xs_get_permissions, MOCK_OWNER(7, XS_PERM_NONE));
	MOCK_RET(xs_get_permissions, MOCK_OWNER(6, XS_PERM_NONE));
	MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));
	assert_int_equal(vchan_peer_watch_check(&s[1], false), 0);
	assert_string_equal(mock.token, s[0].token);
	assert_int_equal(mock.xs_close, 2);
	assert_true(s[0].node_watched);
	assert_true(s[1].node_watched);
	assert_int_equal(ngone, 0);
	remove_all(s, 3, 3);
}

static void test_thread_finds_broken_connection(void **state)
{
	struct vchan_peer_sub s[2];
	const char *ev[2];
	char token_b[64];

	(void)state;
	mock.watch_pipe = mock.fd;
	add_pair(s, ev, token_b);
	/* A's node there, A's; B's there, not yet its client's. */
	__atomic_store_n(&mock.plan_owner, 5, __ATOMIC_RELEASE);
	__atomic_store_n(&mock.plan_broken, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&mock.thread_plan, true, __ATOMIC_RELEASE);
	assert_int_equal(wait_for(&mock.plan_opens, 1), 1);
	assert_int_equal(wait_for(&mock.plan_watches, 3), 3);
	assert_int_equal(wait_for(&mock.plan_perms, 2), 2);
	assert_int_equal(__atomic_load_n(&mock.xs_close, __ATOMIC_ACQUIRE), 1);
	/* Said once per process: by test_broken_connection_reconnects. */
	assert_int_equal(logs, 0);
	/* Let the thread finish its round before the plan goes. */
	usleep(50000);
	assert_int_equal(__atomic_load_n(&ngone, __ATOMIC_ACQUIRE), 0);
	__atomic_store_n(&mock.thread_plan, false, __ATOMIC_RELEASE);
	remove_all(s, 2, 2);
}

/* Event number k (0-based) of plan p, for the watcher's thread. */
static void plan_event(const char *const *p, int k)
{
	uint64_t one = 1;

	mock.plan_event[k] = p;
	__atomic_store_n(&mock.plan_events, k + 1, __ATOMIC_RELEASE);
	assert_int_equal(write(mock.fd, &one, sizeof(one)), sizeof(one));
}

static void clock_at_ms(unsigned ms)
{
	__atomic_store_n(&fake_ns, 1000000000ull + ms * 1000000ull,
			 __ATOMIC_RELEASE);
}

/* A peer that writes its node over and over: the watcher's thread looks
 * for its channel at most once per 20 ms (its clock is the test's here),
 * the looks asked for in between put off, not dropped: the last, due
 * later, sees the node gone. */
static void test_thread_bounds_looks(void **state)
{
	struct vchan_peer_sub s[2];
	const char *ev[2];
	char token_b[64];
	int k;

	(void)state;
	__atomic_store_n(&fake_clock, true, __ATOMIC_RELEASE);
	clock_at_ms(0);
	mock.watch_pipe = mock.fd;     /* emptied with the last event */
	add_pair(s, ev, token_b);      /* B's first look, at 0 ms */
	/* B's node there now, the client's. */
	__atomic_store_n(&mock.plan_owner, 6, __ATOMIC_RELEASE);
	__atomic_store_n(&mock.thread_plan, true, __ATOMIC_RELEASE);
	clock_at_ms(100);
	plan_event(ev, 0);             /* looked at once: 100 ms */
	assert_int_equal(wait_for(&mock.plan_perms, 1), 1);
	/* Three more writes within 20 ms: taken, no look. */
	for (k = 1; k < 4; k++) {
		clock_at_ms(100 + 5 * k);
		plan_event(ev, k);
		assert_int_equal(wait_for(&mock.plan_next, k + 1), k + 1);
	}
	usleep(100000);
	assert_int_equal(__atomic_load_n(&mock.plan_perms, __ATOMIC_ACQUIRE), 1);
	/* Due: the one look put off (120 ms). */
	clock_at_ms(120);
	assert_int_equal(wait_for(&mock.plan_perms, 2), 2);
	usleep(50000);
	assert_int_equal(__atomic_load_n(&mock.plan_perms, __ATOMIC_ACQUIRE), 2);
	assert_int_equal(__atomic_load_n(&ngone, __ATOMIC_ACQUIRE), 0);
	/* The node removed within 20 ms of that look: seen when due. */
	__atomic_store_n(&mock.plan_owner, 0, __ATOMIC_RELEASE);
	clock_at_ms(130);
	plan_event(ev, 4);
	assert_int_equal(wait_for(&mock.plan_next, 5), 5);
	usleep(100000);
	assert_int_equal(__atomic_load_n(&ngone, __ATOMIC_ACQUIRE), 0);
	clock_at_ms(140);
	assert_int_equal(wait_for(&ngone, 1), 1);
	assert_ptr_equal(gone[0], OWNER(owner_b));
	assert_int_equal(__atomic_load_n(&mock.plan_perms, __ATOMIC_ACQUIRE), 3);
	/* Let the thread finish its round before the plan goes. */
	usleep(50000);
	__atomic_store_n(&mock.thread_plan, false, __ATOMIC_RELEASE);
	remove_all(s, 2, 1);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Without the thread (said once), each channel polls the watcher's fd,
 * and whichever channel's call takes the events works for all. */
static void test_without_thread(void **state)
{
	struct vchan_peer_sub s[2];
	const char *ev[2];
	char token_b[64];
	int fd_a, fd_b = -1;
	uint64_t one = 1;

	(void)state;
	no_thread = true;
	fd_a = add_first_unthreaded(&s[0]);
	assert_true(fd_a >= 0);
	assert_int_equal(logs, 1);
	assert_non_null(strstr(last_log, "cannot start the store watch thread"));
	vchan_peer_watch_attach(&s[0], OWNER(owner_a));
	MOCK_OK(xs_watch);
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(vchan_peer_watch_add(&s[1], "b", SELF, NB, 6, false,
					      &fd_b), 0);
	assert_int_equal(fd_b, fd_a);
	assert_int_equal(logs, 1);
	vchan_peer_watch_attach(&s[1], OWNER(owner_b));
	snprintf(token_b, sizeof(token_b), "%s", mock.token);
	ev[0] = NB;
	ev[1] = token_b;

	/* The store's events make the fd readable; A's call takes B's. */
	mock.watch_pipe = mock.fd;
	assert_false(readable(fd_a, 0));
	assert_int_equal(write(mock.fd, &one, sizeof(one)), sizeof(one));
	assert_true(readable(fd_a, 1000));
	event(ev);
	event(ev);
	no_more_events();
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(vchan_peer_watch_check(&s[0], false), 0);
	assert_int_equal(ngone, 1);
	assert_ptr_equal(gone[0], OWNER(owner_b));
	assert_false(readable(fd_a, 0));
	no_thread = false;
	remove_all(s, 2, 1);
}

/* A forked child drops its copy of the connection the way a child may,
 * and touches nothing of the parent's watches.  The lock of the state is
 * one fork.c holds across fork(). */
/* The thread's stop fd could not join the set: the first start fails
 * (said), a later one makes a fresh stop fd, and the last channel's close
 * stops the thread at once.  (The old stop fd, kept outside the set, told
 * the thread nothing: the close waited for its once-a-second look.) */
static void test_thread_start_fails_then_works(void **state)
{
	struct vchan_peer_sub s[2];
	int fd_a, fd_b = 0;
	uint64_t t0;

	(void)state;
	fail_stop_add = true;
	fd_a = add_first_unthreaded(&s[0]);
	fail_stop_add = false;
	assert_true(fd_a >= 0);                 /* no thread: poll it */
	vchan_peer_watch_attach(&s[0], OWNER(owner_a));
	MOCK_OK(xs_watch);
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(vchan_peer_watch_add(&s[1], "b", SELF, NB, 6, false,
					      &fd_b), 0);
	assert_int_equal(fd_b, -1);             /* the thread takes them */
	vchan_peer_watch_attach(&s[1], OWNER(owner_b));
	t0 = vchan_now_ns();
	remove_all(s, 2, 1);
	assert_true(vchan_now_ns() - t0 < 500000000u);
}

/* A first open that failed keeps its epoll set; a child forked then must
 * not use that set, which is the parent's own (an epoll set is shared, not
 * copied).  Before, the child's watch went into the parent's set, and the
 * parent's next open found it there (EEXIST) and failed. */
static void test_child_gets_its_own_set(void **state)
{
	struct vchan_peer_sub s[1];
	int fd = 0, status;
	pid_t pid;

	(void)state;
	no_thread = true;
	MOCK_FAIL(xs_open, EIO);
	assert_int_equal(vchan_peer_watch_add(&s[0], "a", SELF, NA, 5, true,
					      &fd), -EIO);
	/* Planned before the fork: the child takes its copy, the parent
	 * its own. */
	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(0, XS_PERM_READ));
	MOCK_OK(xs_watch);
	MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = -1;
		_exit(vchan_peer_watch_add(&s[0], "a", SELF, NA, 5, true,
					   &fd) == 0 && fd >= 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(vchan_peer_watch_add(&s[0], "a", SELF, NA, 5, true,
					      &fd), 0);
	assert_true(fd >= 0);
	no_thread = false;
	remove_all(s, 1, 1);
}

static void test_forked_child(void **state)
{
	struct vchan_peer_sub s[1];
	int status = -1;
	pid_t pid;

	(void)state;
	add_first(&s[0]);
	assert_non_null(guarded);
	assert_int_equal(pthread_mutex_trylock(guarded), 0);
	pthread_mutex_unlock(guarded);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vchan_peer_watch_remove(&s[0]);   /* no unwatch: none planned */
		_exit(mock.xs_postfork != 1 || mock.xs_close != 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	remove_all(s, 1, 1);
	assert_int_equal(mock.xs_postfork, 0);
}

/* Without a connection, or without read access to @releaseDomain: said
 * once, and the channel goes on. */
static void test_degraded(void **state)
{
	struct vchan_peer_sub s[2];

	(void)state;
	MOCK_FAIL(xs_open, EACCES);
	assert_int_equal(add(&s[0], "a", NA, 5, true),
			 -EACCES);
	assert_non_null(strstr(last_log, "only through unmap-notify"));
	vchan_peer_watch_remove(&s[0]);          /* nothing to undo */

	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);
	MOCK_FAIL(xs_get_permissions, EACCES);  /* @releaseDomain */
	MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));
	assert_true(add(&s[0], "a", NA, 5, true) >= 0);
	assert_non_null(strstr(last_log, "no read permission"));
	assert_int_equal(logs, 2);
	/* Its node's watch refused as well: nothing tells of this one. */
	MOCK_FAIL(xs_watch, E2BIG);
	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);                      /* A's node again */
	assert_int_equal(add(&s[1], "b", NB, 6, false),
			 -E2BIG);
	assert_int_equal(logs, 2);              /* said once already */
	remove_all(s, 2, 2);
}

/* Xen 4.17's xenstored answers GET_PERMS of @releaseDomain with EINVAL,
 * granted or not: watched anyway, and why it cannot tell is said once, not
 * again on a fresh connection.  dom0 reads every node: it does not ask. */
static void test_release_perms_untold(void **state)
{
	struct vchan_peer_sub s[1];
	int fd = -1;

	(void)state;
	for (int round = 1; round <= 2; round++) {
		MOCK_OK(xs_open);
		MOCK_OK(xs_watch);                      /* A's node */
		MOCK_FAIL(xs_get_permissions, EINVAL);  /* @releaseDomain */
		MOCK_OK(xs_watch);                      /* @releaseDomain */
		MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));
		assert_int_equal(add(&s[0], "a", NA, 5, true), 0);
		assert_string_equal(mock.token, RELEASE_TOKEN);
		assert_int_equal(logs, 1);
		assert_non_null(strstr(last_log, "cannot tell whether dom0 let "
				       "this domain read @releaseDomain"));
		assert_non_null(strstr(last_log, "permissions of a special "
				       "node (EINVAL)"));
		remove_all(s, 1, round);
	}

	MOCK_OK(xs_open);
	MOCK_OK(xs_watch);                      /* A's node */
	MOCK_OK(xs_watch);                      /* @releaseDomain, unasked */
	MOCK_RET(xs_get_permissions, MOCK_OWNER(5, XS_PERM_NONE));
	assert_int_equal(vchan_peer_watch_add(&s[0], "a", 0, NA, 5, true, &fd),
			 0);
	assert_int_equal(logs, 1);
	remove_all(s, 1, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_reach_their_channel,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_came_and_went, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refused_watch_renews,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_connection_reconnects,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_lost_connection_watches_again, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_renewal_lost_again_drops_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_finds_broken_connection,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_takes_events,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_bounds_looks,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_thread, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_thread_start_fails_then_works, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forked_child, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_degraded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_perms_untold,
						setup, teardown),
		/* After test_degraded: its failed open's line is said once
		 * per process, and this one opens and fails first. */
		cmocka_unit_test_setup_teardown(test_child_gets_its_own_set,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
