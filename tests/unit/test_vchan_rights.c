/* SPDX-License-Identifier: MIT */
/* Rights per end, revoke, peer going away, hostile live bytes, event loop. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_vchan_util.h"

static void test_rights(void **state)
{
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	struct vchan *s, *c;
	uint8_t buf[32] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	void *p;

	(void)state;
	tv_capture_logs();
	sc.rights = VCHAN_RIGHT_RECV;   /* one-way: client -> server */
	cc.rights = VCHAN_RIGHT_SEND;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	assert_int_equal(vchan_rights(s), VCHAN_RIGHT_RECV);
	assert_int_equal(vchan_send(s, 1, 0, buf, 1, 0), -EPERM);
	assert_int_equal(vchan_sendv(s, &m, 1, 0), -EPERM);
	assert_int_equal(vchan_reserve(s, 10, &p, 0), -EPERM);
	assert_int_equal(vchan_recv(c, &m, 0), -EPERM);
	assert_int_equal(vchan_recvv(c, &m, 1, 0), -EPERM);
	assert_int_equal(vchan_recv_inplace(c, &m, 0), -EPERM);
	assert_int_equal(vchan_send(c, 1, 0, buf, 1, 0), 0);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	tv_close(s, c);

	sc.rights = 0;
	cc.raw = sc.raw = 1;
	cc.rights = 0;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	assert_int_equal(vchan_write(c, buf, 1, 0), -EPERM);
	assert_int_equal(vchan_read(s, buf, 1, 0), -EPERM);
	tv_close(s, c);

	sc.rights = 0x10;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), -EINVAL);
}

struct blocked {
	struct vchan *v;
	int send;
	int result;
	uint64_t done_ns;   /* when the call returned */
};

static void *block_call(void *arg)
{
	struct blocked *b = arg;
	static uint8_t big[1 << 16];
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	if (b->send) {
		/* Fill, then block. */
		do
			b->result = vchan_send(b->v, 1, 0, big, 4000, 0);
		while (b->result == 0);
		b->result = vchan_send(b->v, 1, 0, big, 4000, VCHAN_FOREVER);
	} else {
		b->result = vchan_recv(b->v, &m, VCHAN_FOREVER);
	}
	b->done_ns = vchan_now_ns();
	return NULL;
}

/* How long the helpers below wait for the other thread before calling it
 * stuck: a liveness bound, far beyond anything a working run takes. */
#define STUCK_NS 5000000000ull

/* Until `v`'s sleep count passes `before`: the call on the other thread is
 * past its last look and asleep (or about to be), so a revoke from now on
 * is found only if it wakes the call.  A revoke made earlier would be seen
 * by the call's own looks, woken or not. */
static void wait_asleep(struct vchan *v, uint64_t before)
{
	uint64_t end = vchan_now_ns() + STUCK_NS;
	struct vchan_stats st;

	do {
		assert_int_equal(vchan_get_stats(v, &st), 0);
		if (st.sleeps > before)
			return;
		usleep(1000);
	} while (vchan_now_ns() < end);
	fail_msg("the blocking call never went to sleep");
}

/* Block `v` in a send (else a receive) on another thread, then revoke `s`:
 * the blocked call must wake up with EPIPE.  Woken, it returns within
 * microseconds; not woken, it still finds the revoke at its first look
 * without an event, the recheck (VCHAN_RECHECK_NS, 1 s after it began to
 * sleep), so only a return well before that shows the wake-up.  A relaxed
 * end (LINES) looks sooner, after its grace time: that is made as long as
 * the recheck here, so that it does not find the revoke either.  A sender
 * fills the ring before it sleeps: what it queued is there for the revoke. */
static void revoke_while_blocked(struct vchan *s, struct vchan *v, int send)
{
	/* On the heap: a thread still blocked when the test gives up keeps
	 * writing to it. */
	struct blocked *b = calloc(1, sizeof(*b));
	struct vchan_stats st;
	struct timespec ts;
	uint64_t t0;
	pthread_t t;
	int r;

	assert_non_null(b);
	b->v = v;
	b->send = send;
	v->grace_ns = VCHAN_RECHECK_NS;
	assert_int_equal(vchan_get_stats(v, &st), 0);
	assert_int_equal(pthread_create(&t, NULL, block_call, b), 0);
	wait_asleep(v, st.sleeps);
	t0 = vchan_now_ns();
	assert_int_equal(vchan_revoke(s), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(STUCK_NS / 1000000000u);
	r = pthread_timedjoin_np(t, NULL, &ts);
	if (r != 0)
		fail_msg("the blocked call did not return within %llu s of "
			 "the revoke: %s", STUCK_NS / 1000000000u, strerror(r));
	if (b->done_ns - t0 >= VCHAN_RECHECK_NS / 2)
		fail_msg("the blocked call returned %llu ms after the revoke: "
			 "found by the recheck, not woken",
			 (unsigned long long)(b->done_ns - t0) / 1000000u);
	assert_int_equal(b->result, -EPIPE);
	free(b);
}

/* Every call on an end after its revoke, blocking or not: -EPIPE, and
 * nothing of the released page or transport is touched (a receive of a
 * batch once published consumption into the unmapped page: SIGSEGV). */
static void revoked_calls_fail(struct vchan *v)
{
	uint8_t buf[64] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_msg mm[2] = { { .buf = buf, .len = 32 },
				   { .buf = buf + 32, .len = 32 } };
	void *p = NULL;

	for (int tmo = 0; tmo <= 10; tmo += 10) {
		m.len = sizeof(buf);
		assert_int_equal(vchan_recv(v, &m, tmo), -EPIPE);
		assert_int_equal(vchan_recvv(v, mm, 2, tmo), -EPIPE);
		m.len = sizeof(buf);
		assert_int_equal(vchan_recv_inplace(v, &m, tmo), -EPIPE);
		assert_int_equal(vchan_release(v), -EINVAL);   /* none held */
		assert_int_equal(vchan_send(v, 1, 0, buf, 1, tmo), -EPIPE);
		mm[0].len = mm[1].len = 32;
		assert_int_equal(vchan_sendv(v, mm, 2, tmo), -EPIPE);
		assert_int_equal(vchan_reserve(v, 16, &p, tmo), -EPIPE);
		assert_int_equal(vchan_commit(v, 1, 0, 16), -EINVAL);
		assert_int_equal(vchan_flush(v, tmo), -EPIPE);
	}
	assert_int_equal(vchan_fd(v), -EPIPE);
	assert_int_equal(vchan_is_connected(v), -EPIPE);
	assert_true(vchan_events(v) & VCHAN_EV_HUP);
	assert_int_equal(vchan_revoke(v), 0);
}

static void test_revoke(void **state)
{
	struct vchan *s, *c;
	uint8_t buf[64] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_stats st;

	(void)state;
	tv_start(12, 12, &s, &c);
	/* Three messages wait in the server's inbound ring. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vchan_send(c, 1, 0, buf, 10, 0), 0);
	/* The server blocks sending into a full ring. */
	revoke_while_blocked(s, s, 1);
	/* Later calls on the revoked end: every one says -EPIPE, and none
	 * touches the page the revoke unmapped. */
	revoked_calls_fail(s);
	/* The three queued messages were discarded and counted. */
	vchan_get_stats(s, &st);
	assert_int_equal(st.discarded, 3);
	assert_non_null(strstr(tv_last_log, "3 message(s) discarded"));
	assert_int_equal(vchan_revoke(s), 0);   /* idempotent */
	/* The peer: sends fail at once. */
	assert_int_equal(vchan_send(c, 1, 0, buf, 1, 0), -EPIPE);
	assert_true(vchan_events(c) & VCHAN_EV_HUP);
	tv_close(s, c);

	/* Revoked with consumption it had not published yet (a receive
	 * leaves some for the next call to publish). */
	tv_start(12, 12, &s, &c);
	for (int i = 0; i < 2; i++)
		assert_int_equal(vchan_send(c, 1, 0, buf, 10, 0), 0);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_true(s->rx.ring.idx != s->rx.ring.published);
	assert_int_equal(vchan_revoke(s), 0);
	revoked_calls_fail(s);
	tv_close(s, c);

	/* A peer blocked in receive when this end is revoked. */
	tv_pair(12, 12, &s, &c);
	revoke_while_blocked(s, c, 0);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(c, &m, VCHAN_FOREVER), -EPIPE);
	tv_close(s, c);

	/* A peer blocked in send when this end is revoked. */
	tv_pair(12, 12, &s, &c);
	revoke_while_blocked(s, c, 1);
	vchan_get_stats(s, &st);
	assert_true(st.discarded >= 1);   /* what the client had queued */
	tv_close(s, c);
}

/* A receive on another thread of the end being revoked. */
static void test_revoke_wakes_local_waiter(void **state)
{
	struct vchan *s, *c;

	(void)state;
	tv_start(12, 12, &s, &c);
	revoke_while_blocked(s, s, 0);
	tv_close(s, c);
}

/* An event loop's calls (vchan_events(), vchan_fd(), vchan_is_connected())
 * in one thread while another revokes: they look at the page and the
 * transport, which the revoke unmaps and frees, so they must exclude it
 * (the ASan build sees a stray access; the plain one may crash). */
struct looker {
	struct vchan *v;
	int stop, bad;
};

static void *look_loop(void *arg)
{
	struct looker *l = arg;

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		int ev = vchan_events(l->v), fd = vchan_fd(l->v);
		int conn = vchan_is_connected(l->v);

		if (ev < 0 || ev > 15 || (fd < 0 && fd != -EPIPE) ||
		    (conn != 1 && conn != -EPIPE))
			l->bad++;
	}
	return NULL;
}

static void test_revoke_races_event_loop(void **state)
{
	(void)state;
	srand(7);
	for (int i = 0; i < 600; i++) {
		struct vchan *s, *c;
		struct looker l = { 0 };
		pthread_t t;

		tv_start(12, 12, &s, &c);
		l.v = i & 1 ? s : c;
		pthread_create(&t, NULL, look_loop, &l);
		usleep((useconds_t)(rand() % 200));
		assert_int_equal(vchan_revoke(l.v), 0);
		usleep(20);
		__atomic_store_n(&l.stop, 1, __ATOMIC_RELEASE);
		pthread_join(t, NULL);
		assert_int_equal(l.bad, 0);
		assert_int_equal(vchan_fd(l.v), -EPIPE);
		assert_true(vchan_events(l.v) & VCHAN_EV_HUP);
		tv_close(s, c);
	}
}

static void test_revoke_mid_message(void **state)
{
	struct vchan *s, *c;
	size_t len = 50000;
	uint8_t *big = calloc(1, len);
	struct vchan_msg m = { .buf = big, .len = len };
	struct vchan_stats st;

	(void)state;
	tv_start(10, 11, &s, &c);
	assert_int_equal(vchan_send(c, 1, 0, big, len, 0), 0);  /* backlog */
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);        /* partial */
	assert_int_equal(vchan_revoke(c), 0);
	assert_string_equal(tv_last_log, "vchan cli: revoked: 1 message(s) "
			    "discarded: 1 not yet all sent");
	m.len = len;
	/* Never a torn message: EPIPE. */
	assert_int_equal(vchan_recv(s, &m, 100), -EPIPE);
	vchan_get_stats(c, &st);
	assert_int_equal(st.discarded, 1);   /* the backlog */
	vchan_get_stats(s, &st);
	assert_int_equal(st.discarded, 1);   /* the partial message */
	tv_close(s, c);
	free(big);
}

/* Closed with a message accepted into the backlog and not yet all sent:
 * the line says so, and how it would have been delivered; the peer never
 * gets it torn.  Closed with messages received but not taken: counted. */
static void test_close_says_what_it_discards(void **state)
{
	struct vchan *s, *c;
	size_t len = 50000;
	uint8_t *big = calloc(1, len), small[8];
	struct vchan_msg m = { .buf = big, .len = len };

	(void)state;
	assert_non_null(big);
	tv_start(10, 11, &s, &c);
	assert_int_equal(vchan_send(c, 1, 0, big, len, 0), 0);  /* backlog */
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);        /* partial */
	vchan_close(c);
	assert_string_equal(tv_last_log, "vchan cli: closed: 1 message(s) "
			    "discarded: 1 not yet all sent (accepted: "
			    "vchan_flush() before vchan_close() delivers it)");
	m.len = len;
	assert_int_equal(vchan_recv(s, &m, 100), -EPIPE);
	vchan_close(s);

	tv_start(10, 11, &s, &c);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vchan_send(c, 1, 0, small, sizeof(small), 0),
				 0);
	tv_log_count = 0;
	vchan_close(s);
	assert_int_equal(tv_log_count, 1);
	assert_string_equal(tv_last_log, "vchan srv: closed: 3 message(s) "
			    "discarded: 3 received but not taken");
	/* Nothing pending: nothing said. */
	vchan_close(c);
	assert_int_equal(tv_log_count, 1);
	free(big);
}

static void test_peer_close_then_drain(void **state)
{
	struct vchan *s, *c;
	uint8_t buf[64] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	(void)state;
	tv_start(12, 12, &s, &c);
	assert_int_equal(vchan_is_connected(s), 1);
	assert_int_equal(vchan_send(c, 4, 0, buf, 10, 0), 0);
	vchan_close(c);
	assert_int_equal(vchan_is_connected(s), -EPIPE);
	/* What the peer sent before it went is delivered, then EPIPE. */
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.type, 4);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(s, &m, VCHAN_FOREVER), -EPIPE);
	assert_int_equal(vchan_send(s, 1, 0, buf, 1, 0), -EPIPE);
	vchan_close(s);
}

/* A peer's live byte once seen 0 stays 0 for this end.  The page outlives
 * the peer's process, and another process of its domain may map it and
 * write 1 there (a stock libxenvchan client does not look first): that is
 * not the peer this end was talking to, whose half-sent message the ring
 * may still hold.  Both ends' views; and a 0 seen before any 1 (a client
 * that died before it connected). */
static void peer_stays_gone(struct vchan *v, uint8_t *peer_live)
{
	uint8_t buf[64] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	*peer_live = 0;
	assert_int_equal(vchan_is_connected(v), -EPIPE);
	*peer_live = 1;     /* another process took the page */
	assert_int_equal(vchan_is_connected(v), -EPIPE);
	assert_int_equal(vchan_send(v, 1, 0, buf, 1, 0), -EPIPE);
	assert_int_equal(vchan_recv(v, &m, 10), -EPIPE);
	assert_true(vchan_events(v) & VCHAN_EV_HUP);
	assert_int_equal(vchan_is_connected(v), -EPIPE);
}

static void test_peer_gone_for_good(void **state)
{
	struct vchan *s, *c;

	(void)state;
	tv_start(12, 12, &s, &c);
	assert_int_equal(vchan_is_connected(s), 1);
	peer_stays_gone(s, &c->page->cli_live);
	tv_close(s, c);

	tv_start(12, 12, &s, &c);
	assert_int_equal(vchan_is_connected(c), 1);
	peer_stays_gone(c, &s->page->srv_live);
	tv_close(s, c);

	tv_start(12, 12, &s, &c);
	c->page->cli_live = 2;
	assert_int_equal(vchan_is_connected(s), 0);
	peer_stays_gone(s, &c->page->cli_live);
	tv_close(s, c);
}

/* A client's own indices start where the page says, so a hostile server
 * chooses them.  Off a 16-byte frame boundary (here 8 bytes before the
 * ring's end) its first padding header would run past the ring: framed
 * ends refuse to start; raw ones have no frames and take any index. */
static void test_hostile_start_indices(void **state)
{
	static const uint32_t starts[] = { 4096 - 8, 4096 - 16, 0x7ffffff9 };
	struct vchan_interface *pg = aligned_alloc(VCHAN_PAGE_SIZE,
						   VCHAN_PAGE_SIZE);
	uint8_t *rbuf = malloc(4096), *wbuf = malloc(4096);
	struct vchan_config cc;
	struct vchan_slots sl;
	unsigned lo, ro, i;
	int lay, r, efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	(void)state;
	assert_true(efd >= 0);
	assert_non_null(pg);
	assert_non_null(rbuf);
	assert_non_null(wbuf);
	for (i = 0; i < 2 * 3; i++) {
		struct vchan *v = NULL;
		uint32_t at = starts[i % 3];

		tv_capture_logs();
		memset(pg, 0, VCHAN_PAGE_SIZE);
		vchan_layout_server_init(pg, 12, 12, tv_layout);
		vchan_layout_slots(pg, tv_layout, &sl);
		/* Outbound ring (left) in the first three, inbound in the
		 * last three: the index that is the client's own. */
		if (i < 3)
			*sl.left_prod = *sl.left_cons = at;
		else
			*sl.right_prod = *sl.right_cons = at;
		assert_int_equal(vchan_layout_client_read(pg, "cli", &lo, &ro,
							  &lay), 0);
		cc = tv_cfg(0, 0);
		cc.name = "cli";
		r = vchan_endpoint_create(&cc, false, lay, pg, rbuf, ro, wbuf,
					  lo, tv_efd_ops(), &efd, &v);
		if (at % 16) {
			assert_int_equal(r, -EPROTO);
			assert_non_null(strstr(tv_last_log,
					       "not on 16-byte frame boundaries"));
		} else {
			assert_int_equal(r, 0);
			vchan_endpoint_free(v, true);
		}
		/* A raw end has no frames: any start will do. */
		cc.raw = 1;
		v = NULL;
		assert_int_equal(vchan_endpoint_create(&cc, false, lay, pg,
						       rbuf, ro, wbuf, lo,
						       tv_efd_ops(), &efd, &v), 0);
		vchan_endpoint_free(v, true);
	}
	close(efd);
	free(rbuf);
	free(wbuf);
	free(pg);
}

static void test_hostile_live_and_indices(void **state)
{
	struct vchan *s, *c;
	uint8_t buf[64] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	(void)state;
	tv_start(12, 12, &s, &c);
	/* The client says its live byte is 7. */
	c->page->cli_live = 7;
	assert_int_equal(vchan_send(s, 1, 0, buf, 1, 0), -EPROTO);
	assert_non_null(strstr(tv_last_log, "live byte is 7"));
	assert_true(vchan_events(s) & VCHAN_EV_ERR);
	tv_close(s, c);

	tv_pair(12, 12, &s, &c);
	/* The client moves its prod far ahead (in the page, where this
	 * layout keeps it). */
	*c->tx.ring.mine = 0x7fff0000;
	tv_log_count = 0;
	assert_int_equal(vchan_recv(s, &m, VCHAN_FOREVER), -EPROTO);
	assert_non_null(strstr(tv_last_log, "inbound prod"));
	assert_int_equal(tv_log_count, 1);   /* one line, not one per look */
	tv_close(s, c);

	tv_pair(12, 12, &s, &c);
	/* The client claims to have consumed more than was sent.  The
	 * server sees it at its next load of cons: the next send in
	 * libxenvchan's layout; in LINES the first send that what it knew
	 * of cons does not cover (the ring's 4 KiB take 128 such frames). */
	assert_int_equal(vchan_send(s, 1, 0, buf, 10, 0), 0);
	*c->rx.ring.mine = 0x7fff0000;
	tv_log_count = 0;
	{
		int i, r = 0;

		for (i = 0; i < 200; i++)
			if ((r = vchan_send(s, 1, 0, buf, 10, 0)) != 0)
				break;
		assert_int_equal(r, -EPROTO);
		assert_int_equal(i, tv_layout == VCHAN_LAYOUT_LINES ? 127 : 0);
	}
	assert_non_null(strstr(tv_last_log, "outbound cons 2147418112"));
	assert_int_equal(tv_log_count, 1);
	tv_close(s, c);

	tv_pair(12, 12, &s, &c);
	/* A header with a huge length. */
	{
		struct vchan_frame_hdr h = { .len = 0xfffffff0u, .seq = 1 };

		vchan_ring_write(&c->tx.ring, &h, sizeof(h));
		vchan_ring_publish(&c->tx.ring);
	}
	assert_int_equal(vchan_recv(s, &m, 0), -EPROTO);
	assert_non_null(strstr(tv_last_log, "exceeds"));
	tv_close(s, c);
}

static void test_event_loop(void **state)
{
	struct vchan *s, *c;
	uint8_t buf[64] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct pollfd pfd;
	int ev;

	(void)state;
	tv_start(12, 12, &s, &c);
	pfd = (struct pollfd){ .fd = vchan_fd(s), .events = POLLIN };
	ev = vchan_events(s);        /* arms: tell me when data comes */
	assert_false(ev & VCHAN_EV_IN);
	assert_true(ev & VCHAN_EV_OUT);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(vchan_send(c, 1, 0, buf, 5, 0), 0);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	ev = vchan_events(s);
	assert_true(ev & VCHAN_EV_IN);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	/* Once consumed the fd is quiet again until the next message. */
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
	vchan_events(s);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	vchan_close(c);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_true(vchan_events(s) & VCHAN_EV_HUP);
	/* Once HUP, it stays readable: a loop that looks again sees it. */
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_true(vchan_events(s) & VCHAN_EV_HUP);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	vchan_close(s);

	/* A peer that breaks the protocol: ERR, and readable for good. */
	tv_start(12, 12, &s, &c);
	pfd = (struct pollfd){ .fd = vchan_fd(s), .events = POLLIN };
	vchan_events(s);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	*c->tx.ring.mine += 3u << 12;       /* prod three rings ahead */
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(s, &m, 0), -EPROTO);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_true(vchan_events(s) & VCHAN_EV_ERR);
	assert_int_equal(poll(&pfd, 1, 0), 1);
	tv_close(s, c);
}

static void test_fork_pair(void **state)
{
	struct vchan *s, *c;
	pid_t pid;
	int status;
	const int n = 20000;

	(void)state;
	tv_start(12, 12, &s, &c);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		uint32_t v;

		vchan_shm_detach(s);
		for (uint32_t i = 0; i < (uint32_t)n; i++)
			if (vchan_send(c, 1, 0, &i, sizeof(i), 5000))
				_exit(2);
		for (;;) {   /* wait for the echo of the last */
			struct vchan_msg m = { .buf = &v, .len = sizeof(v) };

			if (vchan_recv(c, &m, 5000))
				_exit(3);
			if (v == (uint32_t)n - 1)
				break;
		}
		vchan_close(c);
		_exit(0);
	}
	vchan_shm_detach(c);
	for (uint32_t i = 0; i < (uint32_t)n; i++) {
		uint32_t v;
		struct vchan_msg m = { .buf = &v, .len = sizeof(v) };

		assert_int_equal(vchan_recv(s, &m, 5000), 0);
		assert_int_equal(v, i);
		assert_int_equal(m.seq, i + 1);
		if (i == (uint32_t)n - 1)
			assert_int_equal(vchan_send(s, 1, 0, &v, 4, 5000), 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		struct vchan_msg m = { .buf = NULL, .len = 0 };

		assert_int_equal(vchan_recv(s, &m, 1000), -EPIPE);
	}
	vchan_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rights),
		cmocka_unit_test(test_revoke),
		cmocka_unit_test(test_revoke_wakes_local_waiter),
		cmocka_unit_test(test_revoke_races_event_loop),
		cmocka_unit_test(test_revoke_mid_message),
		cmocka_unit_test(test_close_says_what_it_discards),
		cmocka_unit_test(test_peer_close_then_drain),
		cmocka_unit_test(test_peer_gone_for_good),
		cmocka_unit_test(test_hostile_live_and_indices),
		cmocka_unit_test(test_hostile_start_indices),
		cmocka_unit_test(test_event_loop),
		cmocka_unit_test(test_fork_pair),
	};

	return tv_run_layouts(tests);
}
