/* SPDX-License-Identifier: MIT */
/* Helpers shared by the libvchan-cap unit tests. */
#ifndef TEST_VCHAN_UTIL_H
#define TEST_VCHAN_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vchan_priv.h"

/* Captures library log lines so tests can check them (and stay quiet). */
static char tv_last_log[512];
static unsigned tv_log_count;

static void tv_logger(void *arg, const char *line)
{
	(void)arg;
	snprintf(tv_last_log, sizeof(tv_last_log), "%s", line);
	tv_log_count++;
	if (getenv("VCHAN_TEST_VERBOSE"))
		fprintf(stderr, "[log] %s\n", line);
}

static inline void tv_capture_logs(void)
{
	tv_last_log[0] = 0;
	tv_log_count = 0;
	vchan_set_logger(tv_logger, NULL);
}

/* The layout servers of tv_cfg() use: suites that run once per layout set
 * it between runs (tv_run_layouts).  Under LINES an order-11 ring becomes
 * order 12: the indices live in its slot. */
static int tv_layout = VCHAN_LAYOUT_XENVCHAN;

static inline struct vchan_config tv_cfg(unsigned lo, unsigned ro)
{
	struct vchan_config c;

	vchan_config_init(&c);
	c.layout = tv_layout;
	if (tv_layout == VCHAN_LAYOUT_LINES) {
		lo = lo == 11 ? 12 : lo;
		ro = ro == 11 ? 12 : ro;
	}
	c.read_order = lo;
	c.write_order = ro;
	return c;
}

/* Run a suite in libxenvchan's layout, then in LINES. */
#define tv_run_layouts(tests) __extension__({ \
	int fails_; \
	tv_layout = VCHAN_LAYOUT_XENVCHAN; \
	fails_ = cmocka_run_group_tests_name("libxenvchan layout", tests, \
					     NULL, NULL); \
	tv_layout = VCHAN_LAYOUT_LINES; \
	fails_ + cmocka_run_group_tests_name("LINES layout", tests, NULL, \
					     NULL); })

static inline void tv_pair(unsigned lo, unsigned ro, struct vchan **s,
			   struct vchan **c)
{
	struct vchan_config sc = tv_cfg(lo, ro), cc = tv_cfg(0, 0);
	struct vchan_stats st;

	sc.name = "srv";
	cc.name = "cli";
	assert_int_equal(vchan_shm_pair(&sc, &cc, s, c), 0);
	/* The client follows the layout of the server's page. */
	assert_int_equal(vchan_get_stats(*c, &st), 0);
	assert_int_equal(st.layout, tv_layout);
}

/* How most tests begin: logs captured afresh, then a pair as tv_pair(). */
static inline void tv_start(unsigned lo, unsigned ro, struct vchan **s,
			    struct vchan **c)
{
	tv_capture_logs();
	tv_pair(lo, ro, s, c);
}

/* Close both ends of a pair, server first. */
static inline void tv_close(struct vchan *s, struct vchan *c)
{
	vchan_close(s);
	vchan_close(c);
}

/* A transport with only an eventfd behind it (tp: an int * to the fd):
 * notify writes it, the event fd is it, ack drains it; nothing to
 * release.  For ends made with vchan_endpoint_create() directly. */
static inline int tv_efd_notify(void *tp)
{
	uint64_t one = 1;

	return write(*(int *)tp, &one, sizeof(one)) < 0 ? -errno : 0;
}
static inline int tv_efd_fd(void *tp)
{
	return *(int *)tp;
}
static inline int tv_efd_ack(void *tp)
{
	uint64_t n;

	return read(*(int *)tp, &n, sizeof(n)) < 0 && errno != EAGAIN ?
	       -errno : 0;
}
static inline void tv_efd_release(void *tp, bool detach)
{
	(void)tp;
	(void)detach;
}
static inline const struct vchan_transport_ops *tv_efd_ops(void)
{
	static const struct vchan_transport_ops ops = {
		.notify = tv_efd_notify, .fd = tv_efd_fd, .ack = tv_efd_ack,
		.release = tv_efd_release,
	};

	return &ops;
}

/* A call in a thread of its own, blocking for up to 5 s: a receive into a
 * 4 KiB buffer, or a send of len bytes (0: 64); what it returned, and
 * after how long (a woken call returns long before its timeout). */
struct tv_blocked {
	struct vchan *v;
	bool send;
	size_t len;
	int result;
	uint64_t ms;
};

static inline void *tv_block_call(void *arg)
{
	struct tv_blocked *b = arg;
	static uint8_t buf[4096];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	uint64_t t0 = vchan_now_ns();

	b->result = b->send ? vchan_send(b->v, 1, 0, buf,
					 b->len ? b->len : 64, 5000)
			    : vchan_recv(b->v, &m, 5000);
	b->ms = (vchan_now_ns() - t0) / 1000000u;
	return NULL;
}

/* Wait (up to 10 s) until the end's sleep count passes `before`: a call in
 * another thread has made its last check and gone to sleep.  A fixed pause
 * instead would fail the test whenever that thread started late. */
static inline void tv_wait_asleep(struct vchan *v, uint64_t before)
{
	struct vchan_stats st;
	uint64_t until = vchan_now_ns() + 10000000000ull;

	for (;;) {
		assert_int_equal(vchan_get_stats(v, &st), 0);
		if (st.sleeps > before)
			return;
		assert_true(vchan_now_ns() < until);
		usleep(1000);
	}
}

static inline uint64_t tv_sleeps(struct vchan *v)
{
	struct vchan_stats st;

	assert_int_equal(vchan_get_stats(v, &st), 0);
	return st.sleeps;
}

static inline void tv_fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

#endif
