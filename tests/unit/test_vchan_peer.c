/* SPDX-License-Identifier: MIT */
/* The peer's domain going away without an unmap-notify (xl destroy): the
 * transport's peer watch says so, and every call and the event loop must end
 * with EPIPE / HUP.  Both ends live in this process over one page, with a
 * fake transport: eventfds stand in for the event channel and for the store
 * watch, a flag for what the store would tell. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "test_vchan_util.h"

struct fake_tp {
	int own;              /* readable when the peer notifies us */
	int peer;             /* the peer's own fd */
	int watch;            /* the "store watch"; -1: none */
	int gone;             /* what a check would find (atomic) */
	int checks;           /* peer_check calls that found an event */
	int connected_checks; /* calls told the peer is connected */
};

static int fake_notify(void *p)
{
	uint64_t one = 1;

	return write(((struct fake_tp *)p)->peer, &one, sizeof(one)) ==
	       sizeof(one) ? 0 : -errno;
}

static int fake_fd(void *p)
{
	return ((struct fake_tp *)p)->own;
}

static int fake_ack(void *p)
{
	uint64_t n;

	return read(((struct fake_tp *)p)->own, &n, sizeof(n)) < 0 &&
	       errno != EAGAIN ? -errno : 0;
}

static void fake_release(void *p, bool detach)
{
	(void)p;
	(void)detach;   /* the test owns the fds and the page */
}

static int fake_peer_fd(void *p)
{
	return ((struct fake_tp *)p)->watch;
}

static int fake_peer_check(void *p, bool connected)
{
	struct fake_tp *t = p;
	uint64_t n;

	if (connected)
		__atomic_fetch_add(&t->connected_checks, 1, __ATOMIC_RELAXED);
	if (t->watch >= 0 && read(t->watch, &n, sizeof(n)) == sizeof(n))
		__atomic_fetch_add(&t->checks, 1, __ATOMIC_RELAXED);
	return __atomic_load_n(&t->gone, __ATOMIC_ACQUIRE);
}

static const struct vchan_transport_ops fake_ops = {
	.notify = fake_notify,
	.fd = fake_fd,
	.ack = fake_ack,
	.release = fake_release,
	.peer_fd = fake_peer_fd,
	.peer_check = fake_peer_check,
};

struct fixture {
	struct vchan_interface *page;
	struct fake_tp st, ct;
	struct vchan *s, *c;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct vchan_config sc = tv_cfg(10, 11), cc = tv_cfg(0, 0);
	unsigned lo = 10, ro = 11, clo, cro;
	int lay;
	uint8_t *pg;
	int efd_s, efd_c;

	assert_non_null(f);
	tv_capture_logs();
	sc.name = "srv";
	cc.name = "cli";
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_XENVCHAN), 0);
	/* Both rings in the control page: no granted pages to fake. */
	assert_int_equal(vchan_layout_pages(lo) + vchan_layout_pages(ro), 0);
	pg = aligned_alloc(VCHAN_PAGE_SIZE, VCHAN_PAGE_SIZE);
	assert_non_null(pg);
	memset(pg, 0, VCHAN_PAGE_SIZE);
	f->page = (struct vchan_interface *)pg;
	vchan_layout_server_init(f->page, lo, ro, VCHAN_LAYOUT_XENVCHAN);
	efd_s = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd_c = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(efd_s >= 0 && efd_c >= 0);
	f->st = (struct fake_tp){ .own = efd_s, .peer = efd_c, .watch = -1 };
	f->ct = (struct fake_tp){ .own = efd_c, .peer = efd_s, .watch = -1 };
	/* Only the server watches its peer here. */
	f->st.watch = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->st.watch >= 0);
	assert_int_equal(vchan_endpoint_create(&sc, true, VCHAN_LAYOUT_XENVCHAN, f->page,
			 pg + vchan_layout_inpage_offset(lo), lo,
			 pg + vchan_layout_inpage_offset(ro), ro,
			 &fake_ops, &f->st, &f->s), 0);
	assert_int_equal(vchan_layout_client_read(f->page, "cli", &clo, &cro,
						  &lay),
			 0);
	assert_int_equal(vchan_endpoint_create(&cc, false, lay, f->page,
			 pg + vchan_layout_inpage_offset(cro), cro,
			 pg + vchan_layout_inpage_offset(clo), clo,
			 &fake_ops, &f->ct, &f->c), 0);
	vchan_client_connect(f->c);
	fake_notify(&f->ct);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vchan_close(f->s);
	vchan_close(f->c);
	close(f->st.own);
	close(f->ct.own);
	close(f->st.watch);
	free(f->page);
	free(f);
	return 0;
}

/* What the store would report, and the watch firing. */
static void peer_domain_dies(struct fixture *f)
{
	uint64_t one = 1;

	__atomic_store_n(&f->st.gone, 1, __ATOMIC_RELEASE);
	assert_int_equal(write(f->st.watch, &one, sizeof(one)), sizeof(one));
}

static void test_blocked_recv(void **state)
{
	struct fixture *f = *state;
	struct tv_blocked b = { .v = f->s };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, tv_block_call, &b), 0);
	usleep(100000);
	peer_domain_dies(f);
	pthread_join(th, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_true(b.ms < 2000);    /* woken, not timed out */
	assert_true(f->st.checks >= 1);
	/* Before sleeping it checked once that the connected peer is there. */
	assert_true(f->st.connected_checks >= 1);
	assert_non_null(strstr(tv_last_log, "peer's domain is gone"));
}

static void test_blocked_send(void **state)
{
	struct fixture *f = *state;
	struct tv_blocked b = { .v = f->s, .send = true };
	uint8_t buf[64] = { 0 };
	pthread_t th;
	int r;

	/* Fill the ring the server writes; the client reads nothing. */
	do
		r = vchan_send(f->s, 1, 0, buf, sizeof(buf), 0);
	while (r == 0);
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(pthread_create(&th, NULL, tv_block_call, &b), 0);
	usleep(100000);
	peer_domain_dies(f);
	pthread_join(th, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_true(b.ms < 2000);
}

/* A peer whose live byte went to 0 with no event (Linux's gntdev clears it
 * when a dead process's mapping goes, and signals only when the last holder
 * of the device lets go): a blocked call finds it on its next periodic look
 * (VCHAN_RECHECK_NS), not at its deadline (5 s here). */
static void test_live_byte_cleared_without_event(void **state)
{
	struct fixture *f = *state;
	struct tv_blocked b = { .v = f->s };
	uint64_t slept = tv_sleeps(f->s);
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, tv_block_call, &b), 0);
	tv_wait_asleep(f->s, slept);   /* past its last look before sleeping */
	__atomic_store_n(f->c->my_live, 0, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_true(b.ms < 2500);
	assert_true(b.ms >= 500);   /* found by the look, not an event */
}

/* What only a take of the store's events finds, with no event to wake
 * anyone (without the watcher's thread: a broken store connection, which
 * the take finds and replaces, making every channel look): a blocked call
 * finds it on its periodic look too, not at its deadline. */
static void test_gone_without_event(void **state)
{
	struct fixture *f = *state;
	struct tv_blocked b = { .v = f->s };
	uint64_t slept = tv_sleeps(f->s);
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, tv_block_call, &b), 0);
	tv_wait_asleep(f->s, slept);   /* past its last look before sleeping */
	__atomic_store_n(&f->st.gone, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_true(b.ms < 2500);
	assert_true(b.ms >= 500);   /* found by the look, not an event */
}

/* The same for an event loop: vchan_fd() must turn readable within the
 * recheck time with no event, and vchan_events() report HUP. */
static void test_live_byte_cleared_event_loop(void **state)
{
	struct fixture *f = *state;
	struct pollfd pfd = { .events = POLLIN };
	uint64_t t0, ms;

	pfd.fd = vchan_fd(f->s);
	assert_true(pfd.fd >= 0);
	vchan_events(f->s);           /* consume the connect */
	assert_false(vchan_events(f->s) & VCHAN_EV_HUP);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	__atomic_store_n(f->c->my_live, 0, __ATOMIC_RELEASE);
	t0 = vchan_now_ns();
	assert_int_equal(poll(&pfd, 1, 2500), 1);
	ms = (vchan_now_ns() - t0) / 1000000u;
	assert_true(ms >= 500);       /* the timer, not an event */
	assert_true(vchan_events(f->s) & VCHAN_EV_HUP);
	assert_int_equal(poll(&pfd, 1, 0), 1);
}

/* An idle live channel in an event loop: each timer wake finds nothing,
 * is consumed by vchan_events(), and is armed again a second on. */
static void test_event_loop_recheck_rearms(void **state)
{
	struct fixture *f = *state;
	struct pollfd pfd = { .events = POLLIN };
	int i;

	pfd.fd = vchan_fd(f->s);
	vchan_events(f->s);
	for (i = 0; i < 2; i++) {
		assert_int_equal(poll(&pfd, 1, 2500), 1);
		assert_int_equal(vchan_events(f->s) &
				 (VCHAN_EV_HUP | VCHAN_EV_ERR | VCHAN_EV_IN), 0);
		/* Consumed: not readable again at once. */
		assert_int_equal(poll(&pfd, 1, 100), 0);
	}
}

static void test_messages_sent_before_death_arrive(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int ev;

	assert_int_equal(vchan_send(f->c, 7, 0, "one", 3, 0), 0);
	assert_int_equal(vchan_send(f->c, 8, 0, "two", 3, 0), 0);
	peer_domain_dies(f);
	ev = vchan_events(f->s);
	assert_true(ev & VCHAN_EV_HUP);
	assert_true(ev & VCHAN_EV_IN);
	assert_int_equal(vchan_recv(f->s, &m, 1000), 0);
	assert_int_equal(m.type, 7);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(f->s, &m, 1000), 0);
	assert_int_equal(m.type, 8);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(f->s, &m, 1000), -EPIPE);
	assert_int_equal(vchan_send(f->s, 1, 0, buf, 1, 1000), -EPIPE);
	assert_int_equal(vchan_is_connected(f->s), -EPIPE);
}

static void test_event_loop(void **state)
{
	struct fixture *f = *state;
	struct pollfd pfd = { .events = POLLIN };
	int ev;

	/* vchan_fd() covers the watch: not the transport's fd alone. */
	pfd.fd = vchan_fd(f->s);
	assert_true(pfd.fd >= 0);
	assert_int_not_equal(pfd.fd, f->st.own);
	/* No watch: still the set (the kick keeps it readable after HUP). */
	assert_true(vchan_fd(f->c) >= 0);
	assert_int_not_equal(vchan_fd(f->c), f->ct.own);
	vchan_events(f->s);           /* consume the connect, arm */
	ev = vchan_events(f->s);
	assert_false(ev & VCHAN_EV_HUP);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	peer_domain_dies(f);
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_true(vchan_events(f->s) & VCHAN_EV_HUP);
	/* HUP stays: a loop that looks again still sees it. */
	assert_int_equal(poll(&pfd, 1, 0), 1);
	assert_true(vchan_events(f->s) & VCHAN_EV_HUP);
}

static void test_watch_event_but_peer_alive(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct pollfd pfd = { .events = POLLIN };
	uint64_t one = 1;

	/* The loop's fd first: it is readable when made, until the first
	 * vchan_events(). */
	pfd.fd = vchan_fd(f->s);
	/* Another domain died (@releaseDomain): the check finds ours alive. */
	assert_int_equal(write(f->st.watch, &one, sizeof(one)), sizeof(one));
	assert_false(vchan_events(f->s) & VCHAN_EV_HUP);
	assert_int_equal(poll(&pfd, 1, 0), 0);   /* consumed: no busy loop */
	assert_int_equal(vchan_recv(f->s, &m, 50), -ETIMEDOUT);
	assert_int_equal(vchan_send(f->c, 1, 0, "x", 1, 0), 0);
	assert_int_equal(vchan_recv(f->s, &m, 1000), 0);
}

/* A peer that dies mid-message, having published more of it after our
 * receive last looked (a sender still copying while its end is revoked):
 * the receive drops the torn message with EPIPE, and the rest of it, left
 * after our index, is never parsed as a frame (no EPROTO for an honest
 * peer).  The peer here writes the ring itself. */
static void peer_writes(struct fixture *f, uint32_t at, const void *p,
			size_t n)
{
	struct vchan_ring *r = &f->s->rx.ring;

	memcpy(r->buf + (at & r->mask), p, n);
	__atomic_store_n(r->theirs, at + (uint32_t)n, __ATOMIC_RELEASE);
}

static void test_torn_message_ends_receiving(void **state)
{
	struct fixture *f = *state;
	struct vchan_frame_hdr h = { .len = 400, .type = 5, .seq = 1 };
	struct tv_blocked b = { .v = f->s };
	uint8_t part[96], rest[48], buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_stats st;
	pthread_t th;

	memset(part, 0xab, sizeof(part));
	memset(rest, 0xff, sizeof(rest));   /* no valid header */
	peer_writes(f, 0, &h, sizeof(h));
	peer_writes(f, sizeof(h), part, sizeof(part));
	uint64_t slept = tv_sleeps(f->s);

	assert_int_equal(pthread_create(&th, NULL, tv_block_call, &b), 0);
	tv_wait_asleep(f->s, slept);   /* it took the header and part */
	/* More of the message after that look, no notify; then death. */
	peer_writes(f, sizeof(h) + sizeof(part), rest, sizeof(rest));
	peer_domain_dies(f);
	pthread_join(th, NULL);
	assert_int_equal(b.result, -EPIPE);
	assert_true(b.ms < 2000);
	assert_int_equal(vchan_get_stats(f->s, &st), 0);
	assert_int_equal(st.discarded, 1);
	assert_int_equal(vchan_recv(f->s, &m, 0), -EPIPE);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(f->s, &m, 100), -EPIPE);
	assert_true(vchan_events(f->s) & VCHAN_EV_HUP);
	assert_false(vchan_events(f->s) & VCHAN_EV_ERR);
	assert_null(strstr(tv_last_log, "protocol error"));
}

/* vchan_shm_detach() on an end of another transport: a log line, and the
 * end untouched (over Xen, detaching would take down the shared part). */
static void test_shm_detach_other_transport(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	vchan_shm_detach(f->s);
	assert_non_null(strstr(tv_last_log, "only an end made by "
					    "vchan_shm_pair()"));
	assert_int_equal(vchan_send(f->c, 1, 0, "x", 1, 0), 0);
	assert_int_equal(vchan_recv(f->s, &m, 1000), 0);
	assert_int_equal(m.len, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blocked_recv, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blocked_send, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_live_byte_cleared_without_event, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_gone_without_event,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_live_byte_cleared_event_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_event_loop_recheck_rearms, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_messages_sent_before_death_arrive, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_event_loop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_watch_event_but_peer_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_torn_message_ends_receiving, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_shm_detach_other_transport, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
