/* SPDX-License-Identifier: MIT */
/* A hostile peer that writes while this end reads: the fuzz target plays
 * its peer between calls, so it can never change a header or an index in
 * the middle of one.  Here a second thread is the client: it writes
 * well-formed frames and, now and then, garbage (indices, headers just
 * published, ring bytes, live and notify bytes), all while the server end
 * sends, receives, receives in place and asks for events.  Every call must
 * return a documented value within its timeout, and every message handed
 * over must fit the buffer; the rings are on the heap, so an ASan build
 * also catches any access outside them.  A channel that fails (EPROTO,
 * EPIPE) is replaced by a new one and the race goes on.  VCHAN_RACE_MS sets
 * the time per layout (default 1000). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "test_vchan_util.h"

#define ORDER 12
#define SIZE (1u << ORDER)

/* One channel: the server end (ours) over a page and two heap rings. */
struct chan {
	struct vchan_interface *page;
	uint8_t *in, *out;          /* client->server, server->client */
	struct vchan_slots sl;
	struct vchan *v;
	int efd;
};

static void chan_open(struct chan *ch)
{
	struct vchan_config cfg = tv_cfg(ORDER, ORDER);

	ch->page = aligned_alloc(VCHAN_PAGE_SIZE, VCHAN_PAGE_SIZE);
	ch->in = calloc(1, SIZE);
	ch->out = calloc(1, SIZE);
	assert_non_null(ch->page);
	assert_non_null(ch->in);
	assert_non_null(ch->out);
	memset(ch->page, 0, VCHAN_PAGE_SIZE);
	ch->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(ch->efd >= 0);
	cfg.name = "race";
	cfg.max_msg = 2048;
	vchan_layout_server_init(ch->page, ORDER, ORDER, tv_layout);
	vchan_layout_slots(ch->page, tv_layout, &ch->sl);
	assert_int_equal(vchan_endpoint_create(&cfg, true, tv_layout,
					       ch->page, ch->in, ORDER,
					       ch->out, ORDER, tv_efd_ops(),
					       &ch->efd, &ch->v), 0);
	ch->page->cli_live = 1;
}

static void chan_close(struct chan *ch)
{
	vchan_close(ch->v);
	close(ch->efd);
	free(ch->in);
	free(ch->out);
	free(ch->page);
}

/* --- the client thread --------------------------------------------------- */
struct race {
	struct chan ch;
	int pause, paused, stop;    /* atomics: the main thread swaps ch */
	uint64_t frames, garbage;
};

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

/* One frame from prod, wrapping as bytes; 0 when there is no room. */
static uint32_t put_frame(struct chan *ch, uint32_t prod, uint32_t seq,
			  uint32_t len)
{
	struct vchan_frame_hdr h = { .len = len, .type = 7, .seq = seq };
	uint32_t cons = __atomic_load_n(ch->sl.left_cons, __ATOMIC_ACQUIRE);
	uint32_t span = (uint32_t)vchan_frame_span(len, prod);

	if (span > SIZE - (prod - cons))
		return 0;
	for (uint32_t i = 0; i < span; i++)
		ch->in[(prod + i) & (SIZE - 1)] =
			i < sizeof(h) ? ((uint8_t *)&h)[i] : (uint8_t)i;
	return span;
}

static void *client(void *arg)
{
	struct race *r = arg;
	uint64_t s = 0x9e3779b97f4a7c15ull;
	uint32_t prod = 0, seq = 1, last = 0;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct chan *ch = &r->ch;
		uint32_t x = rnd(&s), span, at;

		if (__atomic_load_n(&r->pause, __ATOMIC_ACQUIRE)) {
			/* A new channel starts at 0. */
			__atomic_store_n(&r->paused, 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(&r->pause, __ATOMIC_ACQUIRE))
				sched_yield();
			__atomic_store_n(&r->paused, 0, __ATOMIC_RELEASE);
			prod = last = 0;
			seq = 1;
			continue;
		}
		/* Take what the server sent: cons to its prod. */
		__atomic_store_n(ch->sl.right_cons,
				 __atomic_load_n(ch->sl.right_prod,
						 __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
		if (x % 512) {
			span = put_frame(ch, prod, seq, rnd(&s) % 1500);
			if (!span) {
				sched_yield();
				continue;
			}
			last = prod;
			prod += span;
			seq++;
			__atomic_store_n(ch->sl.left_prod, prod,
					 __ATOMIC_RELEASE);
			r->frames++;
			continue;
		}
		r->garbage++;
		at = rnd(&s);
		switch (x / 512 % 6) {
		case 0:  /* prod anywhere */
			__atomic_store_n(ch->sl.left_prod, rnd(&s),
					 __ATOMIC_RELEASE);
			break;
		case 1:  /* the last header rewritten under the reader */
			for (int i = 0; i < 1000; i++)
				((volatile uint32_t *)ch->in)
					[(last & (SIZE - 1)) / 4 +
					 (unsigned)i % 4] = rnd(&s) % 4 ?
					rnd(&s) % 3000 : rnd(&s);
			break;
		case 2:  /* ring bytes anywhere, many times */
			for (int i = 0; i < 1000; i++)
				((volatile uint8_t *)ch->in)[(at + i) &
							     (SIZE - 1)] =
					(uint8_t)rnd(&s);
			break;
		case 3:  /* a padding frame at prod, maybe a lying one */
			at = (prod & (SIZE - 1));
			((uint32_t *)ch->in)[at / 4] = SIZE - at - 16 +
						       (rnd(&s) % 2) * 48;
			((uint32_t *)ch->in)[at / 4 + 2] = 0x80000000u;
			prod += rnd(&s) % 2 ? SIZE - at : 16;
			__atomic_store_n(ch->sl.left_prod, prod,
					 __ATOMIC_RELEASE);
			break;
		case 4:  /* the live byte */
			ch->page->cli_live = (uint8_t)(rnd(&s) % 3);
			break;
		case 5:  /* notify bytes, and the server's cons */
			*ch->sl.srv_notify = (uint8_t)rnd(&s);
			*ch->sl.right_cons = rnd(&s);
			break;
		}
	}
	return NULL;
}

/* --- the server end, in this thread --------------------------------------- */
static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A channel's end: it failed for good. */
static bool dead(int e)
{
	return e == -EPROTO || e == -EPIPE;
}

static void expect(const char *call, int e, bool msgsize)
{
	if (e == 0 || e == -EAGAIN || e == -ETIMEDOUT || dead(e) ||
	    (msgsize && e == -EMSGSIZE))
		return;
	fail_msg("%s returned %d", call, e);
}

static void test_race(void **state)
{
	const char *ms = getenv("VCHAN_RACE_MS");
	uint64_t end = now_ms() + (ms ? strtoul(ms, NULL, 10) : 1000);
	/* On a loaded machine the peer thread may get little CPU: run on
	 * past the time until the race has done its work (below), within
	 * a bound. */
	uint64_t cap = end + 30000;
	unsigned channels = 1, got = 0;
	struct race r = { 0 };
	uint64_t s = 12345;
	uint8_t buf[2048];
	pthread_t t;

	(void)state;
	tv_capture_logs();
	chan_open(&r.ch);
	assert_int_equal(pthread_create(&t, NULL, client, &r), 0);
	while (now_ms() < end ||
	       ((channels < 2 || got <= 100) && now_ms() < cap)) {
		struct vchan *v = r.ch.v;
		struct vchan_msg m = { .buf = buf, .len = rnd(&s) % 2048 };
		uint64_t t0 = now_ms();
		int e = 0, ev;

		switch (rnd(&s) % 6) {
		case 0:
		case 1:
			e = vchan_recv(v, &m, (int)(rnd(&s) % 3));
			expect("vchan_recv", e, true);
			if (e == 0) {
				assert_true(m.len <= sizeof(buf));
				got++;
			}
			break;
		case 2:
			m = (struct vchan_msg){ 0 };
			e = vchan_recv_inplace(v, &m, 1);
			expect("vchan_recv_inplace", e, false);
			if (e == 0) {
				volatile uint8_t sum = 0;

				for (size_t i = 0; i < m.len; i++)
					sum += ((const uint8_t *)m.buf)[i];
				(void)sum;
				assert_int_equal(vchan_release(v), 0);
				got++;
			}
			break;
		case 3:
			e = vchan_send(v, 1, 0, buf, rnd(&s) % 1024,
				       (int)(rnd(&s) % 2));
			expect("vchan_send", e, false);
			break;
		case 4:
			ev = vchan_events(v);
			assert_true(ev >= 0 && ev <= 15);
			e = vchan_flush(v, 0);
			expect("vchan_flush", e, false);
			break;
		case 5: {
			struct vchan_msg mv[3] = {
				{ .buf = buf, .len = 512 },
				{ .buf = buf + 512, .len = 512 },
				{ .buf = buf + 1024, .len = 1024 },
			};

			e = vchan_recvv(v, mv, 3, 0);
			if (e > 0) {
				for (int i = 0; i < e; i++)
					assert_true(mv[i].len <= (i == 2 ? 1024u : 512u));
				got += (unsigned)e;
				e = 0;
			}
			expect("vchan_recvv", e, true);
			break;
		}
		}
		/* Timeouts are at most 2 ms: a call that takes 5 s ignored
		 * its deadline (the margin is for a loaded CI machine). */
		assert_true(now_ms() - t0 < 5000);
		if (dead(e)) {
			/* Swap in a new channel once the client is parked. */
			__atomic_store_n(&r.pause, 1, __ATOMIC_RELEASE);
			while (!__atomic_load_n(&r.paused, __ATOMIC_ACQUIRE))
				sched_yield();
			chan_close(&r.ch);
			chan_open(&r.ch);
			channels++;
			__atomic_store_n(&r.pause, 0, __ATOMIC_RELEASE);
			while (__atomic_load_n(&r.paused, __ATOMIC_ACQUIRE))
				sched_yield();
		}
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(t, NULL), 0);
	chan_close(&r.ch);
	print_message("%u channels, %u messages taken, %llu frames and %llu "
		      "garbage writes by the peer\n", channels, got,
		      (unsigned long long)r.frames,
		      (unsigned long long)r.garbage);
	/* The race ran: messages went through and the garbage broke
	 * channels. */
	assert_true(got > 100);
	assert_true(channels > 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_race),
	};

	return tv_run_layouts(tests);
}
