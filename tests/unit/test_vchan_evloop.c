/* SPDX-License-Identifier: MIT */
/* An event loop on vchan_fd() while another thread of the same process is
 * asleep in a blocking call on the same end.  Both wait on the same fds;
 * the sleeper consumes what wakes it (the event, the timer), and the loop
 * must still be woken: by the relay the sleeper writes (wait.c), and by a
 * recheck time the loop may arm while the sleeper holds the timer.  Each
 * test lets the sleeper take the wake-up first (a pause before the loop
 * polls), as a loop busy elsewhere would. */
#include <poll.h>
#include <pthread.h>

#include "test_vchan_util.h"

/* The loop's patience: far above the ~20 ms a wake-up takes here, far
 * below the 5 s the loop slept through before the relay. */
#define LOOP_WAIT_MS 2000
/* The recheck comes VCHAN_RECHECK_NS (1 s) after the loop's last look. */
#define RECHECK_WAIT_MS 3000
/* Long enough for the sleeper to wake and consume what came. */
#define SLEEPER_TAKES_US 20000

struct sleeper {
	pthread_t t;
	struct vchan *v;
	bool recv;              /* block in a receive; else in a flush */
	int ret;                /* atomic: 1 while in the call */
};

static void *sleeper_run(void *arg)
{
	struct sleeper *s = arg;
	static char big[64 << 10];

	if (s->recv) {
		char buf[64];
		struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

		__atomic_store_n(&s->ret, vchan_recv(s->v, &m, VCHAN_FOREVER),
				 __ATOMIC_RELEASE);
	} else {
		/* More than the ring holds: the rest waits in the backlog,
		 * and the flush sleeps until the peer reads, which it never
		 * does. */
		int r = vchan_send(s->v, 1, 0, big, sizeof(big), 0);

		__atomic_store_n(&s->ret,
				 r == 0 ? vchan_flush(s->v, VCHAN_FOREVER) : r,
				 __ATOMIC_RELEASE);
	}
	return NULL;
}

static uint64_t ms_now(void)
{
	return vchan_now_ns() / 1000000u;
}

/* Start the sleeper and return once it sleeps (its first sleep counted). */
static void sleeper_start(struct sleeper *s, struct vchan *v, bool recv)
{
	struct vchan_stats st;
	uint64_t t0 = ms_now();

	*s = (struct sleeper){ .v = v, .recv = recv, .ret = 1 };
	assert_int_equal(pthread_create(&s->t, NULL, sleeper_run, s), 0);
	do {
		usleep(1000);
		assert_int_equal(vchan_get_stats(v, &st), 0);
		assert_true(ms_now() - t0 < LOOP_WAIT_MS);
	} while (st.sleeps == 0);
	/* still in its call */
	assert_int_equal(__atomic_load_n(&s->ret, __ATOMIC_ACQUIRE), 1);
}

/* The revoke ends the sleeper's call with EPIPE. */
static void sleeper_end(struct sleeper *s)
{
	assert_int_equal(vchan_revoke(s->v), 0);
	assert_int_equal(pthread_join(s->t, NULL), 0);
	assert_int_equal(s->ret, -EPIPE);
}

/* The loop: poll vchan_fd(), then vchan_events(), until one of `want`
 * comes or ms pass.  Returns the events, 0 on time out. */
static int loop_until(struct vchan *v, int want, unsigned ms)
{
	uint64_t end = ms_now() + ms;
	struct pollfd pfd = { .fd = vchan_fd(v), .events = POLLIN };

	assert_true(pfd.fd >= 0);
	for (;;) {
		uint64_t now = ms_now();
		int n, ev;

		if (now >= end)
			return 0;
		n = poll(&pfd, 1, (int)(end - now));
		assert_true(n >= 0);
		if (n == 0)
			return 0;
		ev = vchan_events(v);
		assert_true(ev >= 0);
		if (ev & want)
			return ev;
	}
}

static struct vchan_config quiet_cfg(const char *name)
{
	struct vchan_config c = tv_cfg(12, 12);

	c.name = name;
	c.spin_ns = 0;              /* straight to sleep */
	c.max_msg = 1u << 20;
	return c;
}

static void pair(struct vchan **s, struct vchan **c)
{
	struct vchan_config sc = quiet_cfg("srv"), cc = quiet_cfg("cli");

	assert_int_equal(vchan_shm_pair(&sc, &cc, s, c), 0);
}

/* A message comes while a sender sleeps on the same end: the sleeper
 * consumes the event, the loop still hears of the message. */
static void test_loop_hears_of_a_message_a_sleeper_woke_for(void **state)
{
	struct vchan *s, *c;
	struct sleeper sl;
	(void)state;

	tv_capture_logs();
	pair(&s, &c);
	assert_int_equal(vchan_events(s) & VCHAN_EV_IN, 0); /* asks to be woken */
	sleeper_start(&sl, s, false);
	for (uint32_t i = 0; i < 10; i++) {
		uint32_t got = 0, val;
		struct vchan_msg m = { .buf = &val, .len = sizeof(val) };
		int r;

		assert_int_equal(vchan_send(c, 2, 0, &i, sizeof(i), 0), 0);
		usleep(SLEEPER_TAKES_US);
		assert_true(loop_until(s, VCHAN_EV_IN, LOOP_WAIT_MS) &
			    VCHAN_EV_IN);
		/* Take all there is: a receive that finds nothing asks to be
		 * woken for the next one. */
		while ((r = vchan_recv(s, &m, 0)) == 0) {
			assert_int_equal(val, i);
			got++;
			m.len = sizeof(val);
		}
		assert_int_equal(r, -EAGAIN);
		assert_int_equal(got, 1);
	}
	sleeper_end(&sl);
	vchan_close(s);
	vchan_close(c);
}

/* Room comes while a receiver sleeps on the same end: the loop that waits
 * to send still hears of it. */
static void test_loop_hears_of_room_a_sleeper_woke_for(void **state)
{
	struct vchan *s, *c;
	struct sleeper sl;
	char buf[256];
	unsigned sent = 0, taken = 0;
	int r;
	(void)state;

	tv_capture_logs();
	pair(&s, &c);
	sleeper_start(&sl, s, true);
	memset(buf, 0x5a, sizeof(buf));
	while ((r = vchan_send(s, 3, 0, buf, sizeof(buf), 0)) == 0)
		sent++;
	assert_int_equal(r, -EAGAIN);   /* full: asks to be woken for room */
	assert_true(sent > 0);
	for (;;) {
		struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

		if (vchan_recv(c, &m, 0) != 0)
			break;
		taken++;
	}
	assert_int_equal(taken, sent);
	usleep(SLEEPER_TAKES_US);
	assert_true(loop_until(s, VCHAN_EV_OUT, LOOP_WAIT_MS) & VCHAN_EV_OUT);
	assert_int_equal(vchan_send(s, 3, 0, buf, sizeof(buf), 0), 0);
	sleeper_end(&sl);
	vchan_close(s);
	vchan_close(c);
}

/* The peer's live byte is cleared with no event (Linux's gntdev does that
 * when a dead peer's child keeps the device): the loop's recheck time
 * (VCHAN_RECHECK_NS after its last look) still comes to the loop, whether
 * it armed the timer before the sender fell asleep on it (the sleeper
 * consumes it and passes it on) or while the sender slept. */
static void recheck_case(bool armed_first)
{
	struct vchan *s, *c;
	struct sleeper sl;
	uint64_t t0;

	tv_capture_logs();
	pair(&s, &c);
	assert_true(vchan_fd(s) >= 0);
	if (armed_first) {
		assert_int_equal(vchan_events(s) & VCHAN_EV_HUP, 0);
		t0 = ms_now();
		sleeper_start(&sl, s, false);
	} else {
		sleeper_start(&sl, s, false);
		assert_int_equal(vchan_events(s) & VCHAN_EV_HUP, 0);
		t0 = ms_now();
	}
	VCHAN_WRITE_ONCE(*c->my_live, 0);   /* no notification */
	assert_true(loop_until(s, VCHAN_EV_HUP, RECHECK_WAIT_MS) &
		    VCHAN_EV_HUP);
	/* The loop's recheck, not a later look: a second and a bit. */
	assert_true(ms_now() - t0 < 1500);
	assert_int_equal(pthread_join(sl.t, NULL), 0);
	assert_int_equal(sl.ret, -EPIPE);   /* the sleeper saw it too */
	vchan_close(s);
	vchan_close(c);
}

static void test_loop_recheck_armed_before_a_sleeper(void **state)
{
	(void)state;
	recheck_case(true);
}

static void test_loop_recheck_armed_while_a_sleeper_sleeps(void **state)
{
	(void)state;
	recheck_case(false);
}

/* A backlog drained by the loop alone: after each vchan_events() that
 * leaves some of it, the peer's next read must wake the loop again (it
 * asked), never only the recheck a second later.  No sleeper here: the
 * receiver takes what is there without blocking, between the loop's
 * turns. */
static void test_loop_drains_a_backlog(void **state)
{
	static uint8_t in[256 << 10], out[256 << 10];
	struct vchan *s, *c;
	struct vchan_msg m;
	struct pollfd p;
	int fd, r, turns = 0, ev;

	(void)state;
	tv_start(16, 16, &s, &c);
	tv_fill(in, sizeof(in), 3);
	fd = vchan_fd(c);
	assert_true(fd >= 0);
	assert_true(vchan_events(c) & VCHAN_EV_OUT);
	/* Four rings' worth: the rest goes to the backlog. */
	assert_int_equal(vchan_send(c, 1, 0, in, sizeof(in), 0), 0);
	for (;;) {
		m = (struct vchan_msg){ .buf = out, .len = sizeof(out) };
		r = vchan_recv(s, &m, 0);
		if (r == 0)
			break;
		assert_int_equal(r, -EAGAIN);
		/* The receiver read: the loop is woken long before the
		 * recheck (1 s), and pumps more. */
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		assert_int_equal(poll(&p, 1, 500), 1);
		ev = vchan_events(c);
		assert_true(ev >= 0);
		assert_true(++turns < 100);
	}
	assert_int_equal(m.len, sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	assert_true(turns >= 3);
	/* All sent: the loop hears of room. */
	assert_true(vchan_events(c) & VCHAN_EV_OUT);
	tv_close(s, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_hears_of_a_message_a_sleeper_woke_for),
		cmocka_unit_test(test_loop_hears_of_room_a_sleeper_woke_for),
		cmocka_unit_test(test_loop_recheck_armed_before_a_sleeper),
		cmocka_unit_test(test_loop_recheck_armed_while_a_sleeper_sleeps),
		cmocka_unit_test(test_loop_drains_a_backlog),
	};

	return tv_run_layouts(tests);
}
