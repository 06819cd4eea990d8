/* test_hyp_evtchn.c: hyp's event channels against a faked libxenevtchn. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "test_hyp_mock.h"
#include "../test_clock.h"

static struct hyp_evtchn *open_ok(void)
{
	struct hyp_evtchn *ev = NULL;

	MOCK_OK(xenevtchn_open);
	assert_int_equal(hyp_evtchn_open(&ev), 0);
	assert_non_null(ev);
	return ev;
}

static void test_open_fails_propagates_errno(void **state)
{
	struct hyp_evtchn *ev = (struct hyp_evtchn *)0x1;

	MOCK_FAIL(xenevtchn_open, EACCES);
	assert_int_equal(hyp_evtchn_open(&ev), -EACCES);
	/* out-parameter untouched on failure */
	assert_ptr_equal(ev, (struct hyp_evtchn *)0x1);

	MOCK_FAIL(xenevtchn_open, ENOENT);
	assert_int_equal(hyp_evtchn_open(&ev), -ENOENT);
}

static void test_open_fails_without_errno_is_eio(void **state)
{
	struct hyp_evtchn *ev = NULL;

	MOCK_FAIL(xenevtchn_open, MOCK_NO_ERRNO);
	assert_int_equal(hyp_evtchn_open(&ev), -EIO);
	assert_null(ev);
}

static void test_open_null_out(void **state)
{
	assert_int_equal(hyp_evtchn_open(NULL), -EINVAL);
}

static void test_close_closes_library_once(void **state)
{
	struct hyp_evtchn *ev = open_ok();

	hyp_evtchn_close(ev);
	assert_int_equal(mock.evtchn_close, 1);
	hyp_evtchn_close(NULL);
	assert_int_equal(mock.evtchn_close, 1);
}

static void test_alloc_unbound(void **state)
{
	struct hyp_evtchn *ev = open_ok();
	evtchn_port_t port = 0;

	MOCK_RET(xenevtchn_bind_unbound_port, 42);
	assert_int_equal(hyp_evtchn_alloc_unbound(ev, 7, &port), 0);
	assert_int_equal(port, 42);
	assert_int_equal(mock.domid, 7);

	port = 99;
	MOCK_FAIL(xenevtchn_bind_unbound_port, ESRCH);
	assert_int_equal(hyp_evtchn_alloc_unbound(ev, 8, &port), -ESRCH);
	assert_int_equal(port, 99);
	assert_int_equal(hyp_evtchn_alloc_unbound(ev, 8, NULL), -EINVAL);
	assert_int_equal(hyp_evtchn_alloc_unbound(NULL, 8, &port), -EINVAL);
	hyp_evtchn_close(ev);
}

static void test_bind_interdomain(void **state)
{
	struct hyp_evtchn *ev = open_ok();
	evtchn_port_t port = 0;

	MOCK_RET(xenevtchn_bind_interdomain, 5);
	assert_int_equal(hyp_evtchn_bind(ev, 3, 77, &port), 0);
	assert_int_equal(port, 5);
	assert_int_equal(mock.domid, 3);
	assert_int_equal(mock.remote_port, 77);

	MOCK_FAIL(xenevtchn_bind_interdomain, EINVAL);
	assert_int_equal(hyp_evtchn_bind(ev, 3, 78, &port), -EINVAL);
	MOCK_FAIL(xenevtchn_bind_interdomain, MOCK_NO_ERRNO);
	assert_int_equal(hyp_evtchn_bind(ev, 3, 78, &port), -EIO);
	assert_int_equal(port, 5);
	hyp_evtchn_close(ev);
}

static void test_notify_unbind_ack_errors(void **state)
{
	struct hyp_evtchn *ev = open_ok();

	MOCK_OK(xenevtchn_notify);
	assert_int_equal(hyp_evtchn_notify(ev, 11), 0);
	assert_int_equal(mock.port, 11);
	MOCK_FAIL(xenevtchn_notify, ENOTCONN);
	assert_int_equal(hyp_evtchn_notify(ev, 11), -ENOTCONN);

	MOCK_OK(xenevtchn_unbind);
	assert_int_equal(hyp_evtchn_unbind(ev, 12), 0);
	assert_int_equal(mock.port, 12);
	MOCK_FAIL(xenevtchn_unbind, EINVAL);
	assert_int_equal(hyp_evtchn_unbind(ev, 12), -EINVAL);

	MOCK_FAIL(xenevtchn_unmask, EINVAL);
	assert_int_equal(hyp_evtchn_ack(ev, 13), -EINVAL);
	assert_int_equal(mock.port, 13);

	assert_int_equal(hyp_evtchn_notify(NULL, 1), -EINVAL);
	assert_int_equal(hyp_evtchn_unbind(NULL, 1), -EINVAL);
	assert_int_equal(hyp_evtchn_ack(NULL, 1), -EINVAL);
	hyp_evtchn_close(ev);
}

static void test_fd(void **state)
{
	struct hyp_evtchn *ev = open_ok();

	mock.fd = 9;
	assert_int_equal(hyp_evtchn_fd(ev), 9);
	mock.fd = -1;
	assert_true(hyp_evtchn_fd(ev) < 0);
	assert_int_equal(hyp_evtchn_fd(NULL), -EINVAL);
	hyp_evtchn_close(ev);
}

static void test_wait_times_out(void **state)
{
	struct hyp_evtchn *ev = open_ok();
	evtchn_port_t port = 1234;
	struct timespec t0;
	int p[2];

	assert_int_equal(pipe(p), 0);
	mock.fd = p[0];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* nothing queued for xenevtchn_pending: calling it would fail the test */
	assert_int_equal(hyp_evtchn_wait(ev, 60, &port), -ETIMEDOUT);
	assert_true(test_ms_since(&t0) >= 55);
	assert_int_equal(port, 1234);
	assert_int_equal(hyp_evtchn_wait(ev, 0, &port), -ETIMEDOUT);
	assert_int_equal(mock.unmask_calls, 0);
	close(p[0]);
	close(p[1]);
	hyp_evtchn_close(ev);
}

static void test_wait_takes_and_acks(void **state)
{
	struct hyp_evtchn *ev = open_ok();
	evtchn_port_t port = 0;
	int p[2];

	assert_int_equal(pipe(p), 0);
	mock.fd = p[0];
	assert_int_equal(write(p[1], "x", 1), 1);
	MOCK_RET(xenevtchn_pending, 21);
	MOCK_OK(xenevtchn_unmask);
	assert_int_equal(hyp_evtchn_wait(ev, 1000, &port), 0);
	assert_int_equal(port, 21);
	assert_int_equal(mock.unmask_calls, 1);
	assert_int_equal(mock.port, 21);

	/* pending fails: error propagated, no unmask */
	MOCK_FAIL(xenevtchn_pending, EFAULT);
	assert_int_equal(hyp_evtchn_wait(ev, -1, &port), -EFAULT);
	assert_int_equal(mock.unmask_calls, 1);

	/* unmask fails: error propagated */
	MOCK_RET(xenevtchn_pending, 22);
	MOCK_FAIL(xenevtchn_unmask, EINVAL);
	assert_int_equal(hyp_evtchn_wait(ev, -1, &port), -EINVAL);
	assert_int_equal(port, 21);

	assert_int_equal(hyp_evtchn_wait(ev, -2, &port), -EINVAL);
	close(p[0]);
	close(p[1]);
	hyp_evtchn_close(ev);
}

static void test_wait_hangup_is_eio(void **state)
{
	struct hyp_evtchn *ev = open_ok();
	int p[2];

	assert_int_equal(pipe(p), 0);
	mock.fd = p[0];
	close(p[1]);   /* empty pipe without writer: POLLHUP only */
	assert_int_equal(hyp_evtchn_wait(ev, 1000, NULL), -EIO);
	close(p[0]);
	hyp_evtchn_close(ev);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void test_wait_survives_signals(void **state)
{
	struct hyp_evtchn *ev = open_ok();
	struct sigaction sa;
	struct itimerval it = { .it_value = { 0, 20000 },
				.it_interval = { 0, 20000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	struct timespec t0;
	int p[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;   /* no SA_RESTART: poll() gets EINTR */
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(pipe(p), 0);
	mock.fd = p[0];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(hyp_evtchn_wait(ev, 150, NULL), -ETIMEDOUT);
	setitimer(ITIMER_REAL, &off, NULL);
	assert_true(test_ms_since(&t0) >= 140);
	close(p[0]);
	close(p[1]);
	hyp_evtchn_close(ev);
}

static void test_pending_and_ack(void **state)
{
	struct hyp_evtchn *ev = open_ok();
	evtchn_port_t port = 0;
	int p[2];

	assert_int_equal(pipe(p), 0);
	mock.fd = p[0];
	/* empty: the fd is made non-blocking, so the read says EAGAIN */
	MOCK_FAIL(xenevtchn_pending, EAGAIN);
	assert_int_equal(hyp_evtchn_pending(ev, &port), -EAGAIN);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(write(p[1], "x", 1), 1);
	MOCK_RET(xenevtchn_pending, 31);
	assert_int_equal(hyp_evtchn_pending(ev, &port), 0);
	assert_int_equal(port, 31);
	assert_int_equal(mock.unmask_calls, 0);   /* pending alone does not ack */
	MOCK_OK(xenevtchn_unmask);
	assert_int_equal(hyp_evtchn_ack(ev, port), 0);
	assert_int_equal(mock.unmask_calls, 1);
	assert_int_equal(mock.port, 31);

	MOCK_FAIL(xenevtchn_pending, EIO);
	assert_int_equal(hyp_evtchn_pending(ev, &port), -EIO);
	assert_int_equal(hyp_evtchn_pending(ev, NULL), -EINVAL);

	mock.fd = -1;   /* no descriptor */
	assert_int_equal(hyp_evtchn_pending(ev, &port), -EBADF);
	close(p[0]);
	close(p[1]);
	hyp_evtchn_close(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_fails_propagates_errno, mock_reset),
		cmocka_unit_test_setup(test_open_fails_without_errno_is_eio, mock_reset),
		cmocka_unit_test_setup(test_open_null_out, mock_reset),
		cmocka_unit_test_setup(test_close_closes_library_once, mock_reset),
		cmocka_unit_test_setup(test_alloc_unbound, mock_reset),
		cmocka_unit_test_setup(test_bind_interdomain, mock_reset),
		cmocka_unit_test_setup(test_notify_unbind_ack_errors, mock_reset),
		cmocka_unit_test_setup(test_fd, mock_reset),
		cmocka_unit_test_setup(test_wait_times_out, mock_reset),
		cmocka_unit_test_setup(test_wait_takes_and_acks, mock_reset),
		cmocka_unit_test_setup(test_wait_hangup_is_eio, mock_reset),
		cmocka_unit_test_setup(test_wait_survives_signals, mock_reset),
		cmocka_unit_test_setup(test_pending_and_ack, mock_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
