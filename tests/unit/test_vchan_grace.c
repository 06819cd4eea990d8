/* SPDX-License-Identifier: MIT */
/* Unit tests: the relaxed wake-up handshake of a LINES channel (see
 * VCHAN_GRACE_NS in vchan_priv.h).  Its publisher loads the waiter's request
 * byte without a full barrier, so the load may run before its index store
 * is visible and miss a request made just then.  These tests play that
 * race on purpose: as soon as the receiver asks to be woken, the request is
 * taken back (as if the sender's load had run first) and the message goes
 * out with no notification.  The receiver must find it by its look at the
 * end of the grace time, blocking or in an event loop, and without
 * epoll_pwait2 too. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <cmocka.h>

#include "test_vchan_util.h"

/* Long enough that the race below is played well inside it, even on a
 * loaded machine; short enough for a quick test. */
#define GRACE_NS 300000000u
#define RECV_TIMEOUT_MS 5000

static uint64_t ms_since(uint64_t t0)
{
	return (vchan_now_ns() - t0) / 1000000u;
}

/* Wait for the server's request to the client to be woken on data, and
 * take it back, as if the client's load of it had run first. */
static void take_back_request(struct vchan *s)
{
	while (!(__atomic_load_n(s->peer_notify, __ATOMIC_ACQUIRE) &
		 VCHAN_NOTIFY_WRITE))
		sched_yield();
	__atomic_fetch_and(s->peer_notify, (uint8_t)~VCHAN_NOTIFY_WRITE,
			   __ATOMIC_SEQ_CST);
}

/* take_back_request(), then send one message: no notification can go
 * out. */
static void race_send(struct vchan *s, struct vchan *c, const char *text)
{
	struct vchan_stats st;
	uint64_t notifies;

	take_back_request(s);
	assert_int_equal(vchan_get_stats(c, &st), 0);
	notifies = st.notifies;
	assert_int_equal(vchan_send(c, 7, 0, text, strlen(text) + 1, 0), 0);
	assert_int_equal(vchan_get_stats(c, &st), 0);
	assert_int_equal(st.notifies, notifies);   /* really unannounced */
}

/* A fresh server end: its page starts with its requests set (as
 * libxenvchan's does), and an event may be pending from the connection.
 * Clear both, so that the next request and wake-up are the test's; and
 * the test's grace time. */
static void quiet(struct vchan *s)
{
	s->grace_ns = GRACE_NS;
	__atomic_store_n(s->peer_notify, 0, __ATOMIC_SEQ_CST);
	vchan_ack_events(s);
}

static void quiet_start(struct vchan **s, struct vchan **c)
{
	tv_start(16, 16, s, c);
	assert_true(vchan_relaxed(*s) && vchan_relaxed(*c));
	quiet(*s);
}

struct receiver {
	struct vchan *s;
	char buf[64];
	int ret;
};

static void *receive(void *arg)
{
	struct receiver *r = arg;
	struct vchan_msg m = { .buf = r->buf, .len = sizeof(r->buf) };

	r->ret = vchan_recv(r->s, &m, RECV_TIMEOUT_MS);
	return NULL;
}

static void test_blocking_receiver_looks_again(void **state)
{
	struct vchan *s, *c;
	struct vchan_stats st;
	struct receiver r = { 0 };
	pthread_t t;
	uint64_t t0;

	(void)state;
	quiet_start(&s, &c);
	r.s = s;
	t0 = vchan_now_ns();
	assert_int_equal(pthread_create(&t, NULL, receive, &r), 0);
	race_send(s, c, "unannounced");
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.ret, 0);
	assert_string_equal(r.buf, "unannounced");
	/* Found by the grace look, long before the call's own timeout. */
	assert_true(ms_since(t0) < RECV_TIMEOUT_MS / 2);
	assert_int_equal(vchan_get_stats(s, &st), 0);
	assert_int_equal(st.grace_hits, 1);
	tv_close(s, c);
}

static void test_event_loop_is_woken(void **state)
{
	struct vchan *s, *c;
	struct pollfd pfd;
	char buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	uint64_t t0;

	(void)state;
	quiet_start(&s, &c);
	pfd = (struct pollfd){ .fd = vchan_fd(s), .events = POLLIN };
	/* Nothing yet: vchan_events() asks to be woken. */
	assert_int_equal(vchan_events(s) & VCHAN_EV_IN, 0);
	t0 = vchan_now_ns();
	race_send(s, c, "in the loop");
	assert_int_equal(poll(&pfd, 1, RECV_TIMEOUT_MS), 1);
	assert_true(ms_since(t0) < RECV_TIMEOUT_MS / 2);
	assert_true(vchan_events(s) & VCHAN_EV_IN);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_string_equal(buf, "in the loop");

	/* The fired timer was consumed: with nothing to do, the fd is quiet
	 * until the next grace time ends (not readable at once, which would
	 * make the loop spin). */
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 50), 0);
	tv_close(s, c);
}

/* The loop's grace time fires, then, before the loop polls, a call of
 * its own that finds nothing consumes the fired timer (its request made
 * already, its grace time gone): the tick must still reach vchan_fd().
 * Else the loop never looks again, neither for the grace look nor for
 * the recheck a second later, which the earlier grace time stood in for;
 * only a later event would wake it. */
static void test_loop_keeps_its_fired_grace(void **state)
{
	struct vchan *s, *c;
	struct pollfd pfd;
	char buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	(void)state;
	quiet_start(&s, &c);
	pfd = (struct pollfd){ .fd = vchan_fd(s), .events = POLLIN };
	assert_int_equal(vchan_events(s) & VCHAN_EV_IN, 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	usleep(GRACE_NS / 1000 + 50000);
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 2 * VCHAN_RECHECK_NS / 1000000), 1);
	assert_int_equal(vchan_events(s) & VCHAN_EV_IN, 0);
	tv_close(s, c);
}

#if defined(__x86_64__)
/* Refuse epoll_pwait2 with ENOSYS, as a kernel before 5.11 or a seccomp
 * profile that does not know it would. */
static int refuse_epoll_pwait2(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_epoll_pwait2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -1;
	return syscall(__NR_epoll_pwait2, -1, NULL, 0, NULL, NULL) < 0 &&
	       errno == ENOSYS ? 0 : -1;
}

/* The same race without epoll_pwait2: the sleeper falls back to whole
 * milliseconds and still looks again.  In a child process (the filter
 * stays with it), which reports by its exit status: cmocka's checks
 * belong to the parent. */
static void test_grace_without_epoll_pwait2(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vchan_config sc = tv_cfg(16, 16), cc = tv_cfg(0, 0);
		struct vchan *s, *c;
		struct vchan_stats st;
		struct receiver r = { 0 };
		pthread_t t;
		uint64_t t0;

		if (refuse_epoll_pwait2() < 0)
			_exit(10);
		if (vchan_shm_pair(&sc, &cc, &s, &c) < 0)
			_exit(11);
		quiet(s);
		r.s = s;
		t0 = vchan_now_ns();
		if (pthread_create(&t, NULL, receive, &r) != 0)
			_exit(12);
		take_back_request(s);
		if (vchan_send(c, 7, 0, "late", 5, 0) < 0 ||
		    pthread_join(t, NULL) != 0)
			_exit(13);
		if (r.ret != 0 || strcmp(r.buf, "late") != 0)
			_exit(14);
		if (ms_since(t0) >= RECV_TIMEOUT_MS / 2)
			_exit(15);
		if (vchan_get_stats(s, &st) < 0 || st.grace_hits != 1)
			_exit(16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}
#else
/* The seccomp filter above is written for x86-64 only: say so in the
 * results rather than leave the case out silently. */
static void test_grace_without_epoll_pwait2(void **state)
{
	(void)state;
	print_message("epoll_pwait2 fallback not tested: x86-64 only\n");
	skip();
}
#endif

/* libxenvchan's layout keeps the full barrier and has no grace time: a
 * stock peer's waiter does not look again. */
static void test_xenvchan_layout_is_not_relaxed(void **state)
{
	struct vchan *s, *c;

	(void)state;
	tv_layout = VCHAN_LAYOUT_XENVCHAN;
	tv_start(16, 16, &s, &c);
	assert_false(vchan_relaxed(s) || vchan_relaxed(c));
	assert_int_equal(vchan_request_notify(s, VCHAN_NOTIFY_WRITE), 0);
	tv_close(s, c);
	tv_layout = VCHAN_LAYOUT_LINES;
}

/* Many sleeps both ways (no spinning) with every message checked: the
 * relaxed handshake loses nothing and stalls nothing. */
struct pinger {
	struct vchan *v;
	int rounds, ret;
};

static void *echo(void *arg)
{
	struct pinger *p = arg;
	uint32_t x;

	for (int i = 0; i < p->rounds; i++) {
		struct vchan_msg m = { .buf = &x, .len = sizeof(x) };

		p->ret = vchan_recv(p->v, &m, RECV_TIMEOUT_MS);
		if (!p->ret)
			p->ret = vchan_send(p->v, 1, 0, &x, sizeof(x),
					    RECV_TIMEOUT_MS);
		if (p->ret)
			break;
	}
	return NULL;
}

static void test_sleeping_ping_pong(void **state)
{
	struct vchan_config sc, cc;
	struct vchan *s, *c;
	struct vchan_stats ss, cs;
	struct pinger p;
	pthread_t t;
	uint32_t x;

	(void)state;
	sc = tv_cfg(12, 12);
	cc = tv_cfg(0, 0);
	sc.spin_ns = cc.spin_ns = 0;   /* every wait sleeps */
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	p = (struct pinger){ .v = s, .rounds = 3000 };
	assert_int_equal(pthread_create(&t, NULL, echo, &p), 0);
	for (uint32_t i = 0; i < 3000; i++) {
		struct vchan_msg m = { .buf = &x, .len = sizeof(x) };

		assert_int_equal(vchan_send(c, 1, 0, &i, sizeof(i),
					    RECV_TIMEOUT_MS), 0);
		assert_int_equal(vchan_recv(c, &m, RECV_TIMEOUT_MS), 0);
		assert_int_equal(x, i);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(p.ret, 0);
	/* spin_ns = 0 honoured: no busy or yield phase ran on either end,
	 * and the waits went to sleep (each round trip has two; a few may
	 * find the answer already there). */
	assert_int_equal(vchan_get_stats(s, &ss), 0);
	assert_int_equal(vchan_get_stats(c, &cs), 0);
	assert_int_equal(ss.spin_hits + ss.spin_misses + ss.yield_hits +
			 ss.yield_misses, 0);
	assert_int_equal(cs.spin_hits + cs.spin_misses + cs.yield_hits +
			 cs.yield_misses, 0);
	assert_true(ss.sleeps + cs.sleeps >= 3000);
	tv_close(s, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blocking_receiver_looks_again),
		cmocka_unit_test(test_event_loop_is_woken),
		cmocka_unit_test(test_loop_keeps_its_fired_grace),
		cmocka_unit_test(test_grace_without_epoll_pwait2),
		cmocka_unit_test(test_xenvchan_layout_is_not_relaxed),
		cmocka_unit_test(test_sleeping_ping_pong),
	};

	tv_layout = VCHAN_LAYOUT_LINES;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
