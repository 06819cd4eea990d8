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

/* After the peer left, another process of its domain may map its page,
 * write 1 to the live byte (a stock libxenvchan client does not look
 * first), then frames and a new prod: not the peer's bytes, never
 * delivered.  p plays the peer of v: it sends, its live byte is cleared
 * (what its kernel does when it dies), then set again and p sends once
 * more, as the process that took the page would.  The latch that fixes
 * how far v reads fires in a receive that found the ring drained, or in
 * a send before anything was received. */
enum takeover_latch { LATCH_BY_RECV, LATCH_BY_SEND };

/* v sees no more: every receive says EPIPE (not EAGAIN), now or after a
 * wait; nothing is readable. */
static void takeover_none_left(struct vchan *v)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_msg mv[2] = { { .buf = buf, .len = 32 },
				   { .buf = buf + 32, .len = 32 } };

	if (v->raw) {
		assert_int_equal(vchan_read(v, buf, sizeof(buf), 0), -EPIPE);
		assert_int_equal(vchan_read(v, buf, sizeof(buf), 50), -EPIPE);
	} else {
		assert_int_equal(vchan_recv(v, &m, 0), -EPIPE);
		m.len = sizeof(buf);
		assert_int_equal(vchan_recv(v, &m, 50), -EPIPE);
		assert_int_equal(vchan_recvv(v, mv, 2, 0), -EPIPE);
		m.len = sizeof(buf);
		assert_int_equal(vchan_recv_inplace(v, &m, 0), -EPIPE);
	}
	assert_int_equal(vchan_events(v) & (VCHAN_EV_IN | VCHAN_EV_HUP),
			 VCHAN_EV_HUP);
}

/* v receives the peer's A and B (types 1 and 2, sequence 1 and 2). */
static void takeover_recv_ab(struct vchan *v)
{
	uint8_t buf[64];
	struct vchan_msg m;
	int i;

	for (i = 0; i < 2; i++) {
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		assert_int_equal(vchan_recv(v, &m, 0), 0);
		assert_int_equal(m.type, i + 1);
		assert_int_equal(m.seq, i + 1);
		assert_memory_equal(buf, i ? "B" : "A", 1);
	}
}

static void takeover_framed(struct vchan *v, struct vchan *p,
			    enum takeover_latch how)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_stats st;

	assert_int_equal(vchan_send(p, 1, 0, "A", 1, 0), 0);
	assert_int_equal(vchan_send(p, 2, 0, "B", 1, 0), 0);
	*p->my_live = 0;
	if (how == LATCH_BY_RECV) {
		takeover_recv_ab(v);
		assert_int_equal(vchan_recv(v, &m, 0), -EPIPE);
	} else {
		assert_int_equal(vchan_send(v, 9, 0, "x", 1, 0), -EPIPE);
	}
	/* The takeover: live 1, a frame with the next sequence number. */
	*p->my_live = 1;
	assert_int_equal(vchan_send(p, 3, 0, "C", 1, 0), 0);
	if (how == LATCH_BY_SEND)
		takeover_recv_ab(v);
	takeover_none_left(v);
	assert_int_equal(vchan_get_stats(v, &st), 0);
	assert_int_equal(st.msgs_recv, 2);
}

static void test_takeover_framed(void **state)
{
	struct vchan *s, *c;
	int how;

	(void)state;
	for (how = LATCH_BY_RECV; how <= LATCH_BY_SEND; how++) {
		/* The client left, a process of its domain took over. */
		tv_start(12, 12, &s, &c);
		takeover_framed(s, c, how);
		tv_close(s, c);
		/* The server left: the client's view. */
		tv_start(12, 12, &s, &c);
		takeover_framed(c, s, how);
		tv_close(s, c);
	}
}

/* The same for a raw stream: the bytes written before the peer left are
 * read, the new writer's never. */
static void takeover_raw(struct vchan *v, struct vchan *p,
			 enum takeover_latch how)
{
	uint8_t buf[64];

	assert_int_equal(vchan_write(p, "AAAA", 4, 0), 4);
	assert_int_equal(vchan_write(p, "BBBB", 4, 0), 4);
	*p->my_live = 0;
	if (how == LATCH_BY_RECV) {
		assert_int_equal(vchan_read(v, buf, sizeof(buf), 0), 8);
		assert_memory_equal(buf, "AAAABBBB", 8);
		assert_int_equal(vchan_read(v, buf, sizeof(buf), 0), -EPIPE);
	} else {
		assert_int_equal(vchan_write(v, "x", 1, 0), -EPIPE);
	}
	*p->my_live = 1;
	assert_int_equal(vchan_write(p, "CCCC", 4, 0), 4);
	if (how == LATCH_BY_SEND) {
		assert_int_equal(vchan_read(v, buf, sizeof(buf), 0), 8);
		assert_memory_equal(buf, "AAAABBBB", 8);
	}
	takeover_none_left(v);
}

static void test_takeover_raw(void **state)
{
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	struct vchan *s, *c;
	int how;

	(void)state;
	tv_capture_logs();
	sc.raw = cc.raw = 1;
	for (how = LATCH_BY_RECV; how <= LATCH_BY_SEND; how++) {
		assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
		takeover_raw(s, c, how);
		tv_close(s, c);
		assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
		takeover_raw(c, s, how);
		tv_close(s, c);
	}
}

/* fn(v, p) on a fresh pair twice: v the server's end (the client left),
 * then the client's (the server left). */
static void on_both_ends(void (*fn)(struct vchan *v, struct vchan *p))
{
	struct vchan *s, *c;

	tv_start(12, 12, &s, &c);
	fn(s, c);
	tv_close(s, c);
	tv_start(12, 12, &s, &c);
	fn(c, s);
	tv_close(s, c);
}

/* A message the peer had not finished when it left, finished by the new
 * writer: cut at the bound, so dropped (counted), never delivered half
 * the peer's and half another's.  p writes the frame by hand: its header
 * and 48 of its 100 payload bytes, published; the rest after the latch. */
static void takeover_cut(struct vchan *v, struct vchan *p)
{
	struct vchan_ring *t = &p->tx.ring;
	struct vchan_frame_hdr h = { .len = 100, .type = 7 };
	uint8_t pay[112] = { 0 }, buf[128];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_stats st;

	assert_int_equal(vchan_send(p, 1, 0, "A", 1, 0), 0);
	h.seq = p->tx.next_seq++;
	assert_int_equal(vchan_frame_span(h.len, t->idx), 16 + sizeof(pay));
	vchan_ring_write(t, &h, sizeof(h));
	vchan_ring_write(t, pay, 48);
	vchan_ring_publish(t);
	*p->my_live = 0;
	assert_int_equal(vchan_send(v, 9, 0, "x", 1, 0), -EPIPE);
	*p->my_live = 1;
	vchan_ring_write(t, pay + 48, sizeof(pay) - 48);
	vchan_ring_publish(t);
	assert_int_equal(vchan_recv(v, &m, 0), 0);
	assert_int_equal(m.type, 1);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(v, &m, 0), -EPIPE);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(v, &m, 50), -EPIPE);
	assert_int_equal(vchan_get_stats(v, &st), 0);
	assert_int_equal(st.msgs_recv, 1);
	assert_int_equal(st.discarded, 1);
}

static void test_takeover_cut(void **state)
{
	(void)state;
	on_both_ends(takeover_cut);
}

/* The latch's second look finds the live byte 1 again: the new writer
 * came between it and the look that saw 0, and the prod it loaded may
 * hold its bytes.  Then the bound is the last prod the receiving side
 * had seen itself (before the 0): what came after that is lost with the
 * new writer's.  Here v saw the prod after A; B (the peer's) and C (the
 * new writer's) are past it.  The latch is called as vchan_state() calls
 * it on a 0, with the byte already back at 1. */
static void takeover_fallback(struct vchan *v, struct vchan *p)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	assert_int_equal(vchan_send(p, 1, 0, "A", 1, 0), 0);
	assert_int_equal(vchan_recv(v, &m, 0), 0);
	assert_int_equal(m.type, 1);
	assert_int_equal(vchan_send(p, 2, 0, "B", 1, 0), 0);
	*p->my_live = 0;
	*p->my_live = 1;
	assert_int_equal(vchan_send(p, 3, 0, "C", 1, 0), 0);
	vchan_peer_left(v);
	takeover_none_left(v);
}

static void test_takeover_fallback(void **state)
{
	(void)state;
	on_both_ends(takeover_fallback);
}

/* A receive in another thread may load the prod alongside the latch, after
 * the new writer stored it: the ring then knows of bytes past the bound.
 * They are forgotten when the receiving side takes the bound, not read
 * (nor taken for a prod that went back: EPROTO).  Here the latch fires
 * (a send) after A and B; the takeover writes C; the ring's look that
 * learns of C is made directly, as such a receive's would be. */
static void takeover_alongside(struct vchan *v, struct vchan *p)
{
	uint32_t n;

	assert_int_equal(vchan_send(p, 1, 0, "A", 1, 0), 0);
	assert_int_equal(vchan_send(p, 2, 0, "B", 1, 0), 0);
	*p->my_live = 0;
	assert_int_equal(vchan_send(v, 9, 0, "x", 1, 0), -EPIPE);
	*p->my_live = 1;
	assert_int_equal(vchan_send(p, 3, 0, "C", 1, 0), 0);
	/* Three 32-byte frames. */
	assert_int_equal(vchan_ring_ready(&v->rx.ring, &n), 0);
	assert_int_equal(n, 3 * 32);
	takeover_recv_ab(v);
	assert_non_null(strstr(tv_last_log, "the 32 bytes between are not "
					     "read"));
	takeover_none_left(v);
}

static void test_takeover_alongside(void **state)
{
	(void)state;
	on_both_ends(takeover_alongside);
}

/* A peer that moved its prod back, into a message this end holds in
 * place, and then left: the bound is behind bytes this end took already,
 * which it cannot forget.  That is the prod going back, EPROTO at the
 * next look (here the event loop's, from the holding thread); B, written
 * after A but no longer under the peer's prod, is never read. */
static void takeover_backwards(struct vchan *v, struct vchan *p)
{
	uint8_t a[64] = { 0 }, buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	uint32_t start = p->tx.ring.idx;

	assert_int_equal(vchan_send(p, 1, 0, a, sizeof(a), 0), 0);
	assert_int_equal(vchan_recv_inplace(v, &m, 0), 0);
	assert_int_equal(m.len, sizeof(a));
	assert_int_equal(vchan_send(p, 2, 0, "B", 1, 0), 0);
	/* Back to the middle of A's payload. */
	VCHAN_WRITE_ONCE(*p->tx.ring.mine, start + 32);
	*p->my_live = 0;
	assert_int_equal(vchan_send(v, 9, 0, "x", 1, 0), -EPIPE);
	assert_int_equal(vchan_events(v) & (VCHAN_EV_IN | VCHAN_EV_ERR),
			 VCHAN_EV_ERR);
	assert_non_null(strstr(tv_last_log, "inside what this end has "
					     "taken"));
	assert_int_equal(vchan_release(v), 0);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(v, &m, 0), -EPROTO);
}

static void test_takeover_backwards(void **state)
{
	(void)state;
	on_both_ends(takeover_backwards);
}

/* A bound inside a run this end took whole: a message of the run is
 * taken (then refused, -EMSGSIZE: too small a buffer), the peer moves its
 * prod back into the run and leaves, a later writer adds a frame.  The
 * rest of the run would be read without another look at the prod, so the
 * bound cannot hold: EPROTO at once, and the later frame is never
 * delivered. */
static void takeover_in_run(struct vchan *v, struct vchan *p)
{
	uint8_t pay[3][100], buf[256];
	struct vchan_msg ms[3], m = { .buf = buf, .len = 50 };
	uint32_t start = p->tx.ring.idx;
	int i;

	for (i = 0; i < 3; i++) {
		memset(pay[i], 'a' + i, sizeof(pay[i]));
		ms[i] = (struct vchan_msg){ .type = 5, .buf = pay[i],
					    .len = sizeof(pay[i]) };
	}
	assert_int_equal(vchan_sendv(p, ms, 3, 0), 3);
	assert_int_equal(vchan_recv(v, &m, 0), -EMSGSIZE);
	VCHAN_WRITE_ONCE(*p->tx.ring.mine, start + 40);
	*p->my_live = 0;
	assert_int_equal(vchan_send(v, 9, 0, "x", 1, 0), -EPIPE);
	*p->my_live = 1;
	assert_int_equal(vchan_send(p, 6, 0, "EVIL", 4, 0), 0);
	for (i = 0; i < 5; i++) {
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		assert_int_equal(vchan_recv(v, &m, 0), -EPROTO);
	}
	assert_non_null(strstr(tv_last_log, "inside what this end has "
					     "taken"));
}

static void test_takeover_in_run(void **state)
{
	(void)state;
	on_both_ends(takeover_in_run);
}

/* A message cut by the peer's leaving, half taken (stashed) by a receive
 * that then returned, and a later writer's bytes that a receive alongside
 * the latch learned of (made directly on the ring) but did not read: the
 * rest of that message is read only after a look, so the bound holds
 * there; the known bytes past it are forgotten and the cut message is
 * dropped (EPIPE, counted), not taken for a broken channel (EPROTO).  And
 * no second protocol error at close. */
static void takeover_cut_alongside(struct vchan *v, struct vchan *p)
{
	struct vchan_ring *t = &p->tx.ring;
	struct vchan_frame_hdr h = { .len = 100, .type = 7 };
	uint8_t pay[48] = { 0 }, evil[16], buf[128];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_stats st;
	uint32_t n;

	h.seq = p->tx.next_seq++;
	vchan_ring_write(t, &h, sizeof(h));
	vchan_ring_write(t, pay, sizeof(pay));
	vchan_ring_publish(t);
	assert_int_equal(vchan_recv(v, &m, 0), -EAGAIN);
	assert_true(v->rx.active);
	*p->my_live = 0;
	assert_int_equal(vchan_send(v, 9, 0, "x", 1, 0), -EPIPE);
	*p->my_live = 1;
	memset(evil, 'E', sizeof(evil));
	vchan_ring_write(t, evil, sizeof(evil));
	vchan_ring_publish(t);
	assert_int_equal(vchan_ring_ready(&v->rx.ring, &n), 0);
	assert_int_equal(n, sizeof(evil));
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(v, &m, 0), -EPIPE);
	assert_non_null(strstr(tv_last_log, "the 16 bytes between are not "
					     "read"));
	assert_int_equal(vchan_events(v) & (VCHAN_EV_HUP | VCHAN_EV_ERR),
			 VCHAN_EV_HUP);
	assert_int_equal(vchan_get_stats(v, &st), 0);
	assert_int_equal(st.discarded, 1);
}

static void test_takeover_cut_alongside(void **state)
{
	struct vchan *s, *c;

	(void)state;
	tv_start(12, 12, &s, &c);
	takeover_cut_alongside(s, c);
	tv_close(s, c);
	assert_null(strstr(tv_last_log, "protocol error"));
	tv_start(12, 12, &s, &c);
	takeover_cut_alongside(c, s);
	tv_close(s, c);
	assert_null(strstr(tv_last_log, "protocol error"));
}

/* A bound behind what this end read already: a receive in another thread
 * loaded the prod alongside the latch, after a later writer's C and D, and
 * took A, B and C (made here directly on the ring).  D must not follow:
 * EPROTO at the next receive. */
static void takeover_behind(struct vchan *v, struct vchan *p)
{
	uint8_t buf[64];
	struct vchan_msg m;
	uint32_t n;
	int i;

	assert_int_equal(vchan_send(p, 1, 0, "A", 1, 0), 0);
	assert_int_equal(vchan_send(p, 2, 0, "B", 1, 0), 0);
	*p->my_live = 0;
	assert_int_equal(vchan_send(v, 9, 0, "x", 1, 0), -EPIPE);
	*p->my_live = 1;
	assert_int_equal(vchan_send(p, 3, 0, "C", 1, 0), 0);
	assert_int_equal(vchan_send(p, 4, 0, "D", 1, 0), 0);
	assert_int_equal(vchan_ring_ready(&v->rx.ring, &n), 0);
	assert_int_equal(n, 4 * 32);
	vchan_ring_advance(&v->rx.ring, 3 * 32);
	v->rx.next_seq += 3;
	for (i = 0; i < 3; i++) {
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		assert_int_equal(vchan_recv(v, &m, 0), -EPROTO);
	}
	assert_non_null(strstr(tv_last_log, "behind the 96 bytes this end "
					     "has read"));
	tv_last_log[0] = 0;
}

static void test_takeover_behind(void **state)
{
	struct vchan *s, *c;

	(void)state;
	tv_start(12, 12, &s, &c);
	takeover_behind(s, c);
	tv_close(s, c);
	/* Failed once, said once: close looks at the ring no more. */
	assert_null(strstr(tv_last_log, "protocol error"));
	tv_start(12, 12, &s, &c);
	takeover_behind(c, s);
	tv_close(s, c);
	assert_null(strstr(tv_last_log, "protocol error"));
}

/* The latch wakes a receive asleep on the empty ring (the live byte
 * cleared without an event, found by a send in this thread): it returns
 * EPIPE at once, not at its next periodic look (a second), and the calls
 * after it say EPIPE too. */
static void test_latch_wakes_sleeper(void **state)
{
	struct vchan *s, *c;
	struct tv_blocked b;
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	uint64_t slept;
	pthread_t th;

	(void)state;
	tv_start(12, 12, &s, &c);
	slept = tv_sleeps(s);
	b = (struct tv_blocked){ .v = s };
	assert_int_equal(pthread_create(&th, NULL, tv_block_call, &b), 0);
	tv_wait_asleep(s, slept);
	*c->my_live = 0;
	assert_int_equal(vchan_send(s, 1, 0, "x", 1, 0), -EPIPE);
	pthread_join(th, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_true(b.ms < 900);    /* the periodic look comes at 1 s */
	assert_int_equal(vchan_recv(s, &m, 0), -EPIPE);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(s, &m, 100), -EPIPE);
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
		cmocka_unit_test(test_takeover_framed),
		cmocka_unit_test(test_takeover_raw),
		cmocka_unit_test(test_takeover_cut),
		cmocka_unit_test(test_takeover_fallback),
		cmocka_unit_test(test_takeover_alongside),
		cmocka_unit_test(test_takeover_backwards),
		cmocka_unit_test(test_takeover_in_run),
		cmocka_unit_test(test_takeover_behind),
		cmocka_unit_test(test_takeover_cut_alongside),
		cmocka_unit_test(test_latch_wakes_sleeper),
		cmocka_unit_test(test_hostile_live_and_indices),
		cmocka_unit_test(test_hostile_start_indices),
		cmocka_unit_test(test_event_loop),
		cmocka_unit_test(test_fork_pair),
	};

	return tv_run_layouts(tests);
}
