/* SPDX-License-Identifier: MIT */
/* Framing over a shared-memory pair: whole messages, split messages larger
 * than the ring, maximum size, sequence checks, batches, in place,
 * timeouts, raw streams. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_vchan_util.h"

static void test_roundtrip_sizes(void **state)
{
	struct vchan *s, *c;
	uint8_t in[3000], out[3000];
	size_t sizes[] = { 0, 1, 15, 16, 17, 100, 1000, 2000 };

	(void)state;
	tv_start(12, 12, &s, &c);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vchan_msg m = { .buf = out, .len = sizeof(out) };

		tv_fill(in, sizes[i], (uint32_t)i);
		assert_int_equal(vchan_send(c, 7 + (uint32_t)i, 0x55, in,
					    sizes[i], 0), 0);
		assert_int_equal(vchan_recv(s, &m, 0), 0);
		assert_int_equal(m.len, sizes[i]);
		assert_int_equal(m.type, 7 + i);
		assert_int_equal(m.flags, 0x55);
		assert_int_equal(m.seq, i + 1);
		assert_memory_equal(in, out, sizes[i]);
		/* and back */
		m.buf = out;
		m.len = sizeof(out);
		assert_int_equal(vchan_send(s, 1, 0, in, sizes[i], 0), 0);
		assert_int_equal(vchan_recv(c, &m, 0), 0);
		assert_int_equal(m.len, sizes[i]);
	}
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

static void test_nonblocking_and_timeout(void **state)
{
	struct vchan *s, *c;
	uint8_t buf[4096] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	uint64_t t0;
	int n = 0, r;

	(void)state;
	tv_start(10, 11, &s, &c);   /* server reads a 1 KiB ring */
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
	t0 = vchan_now_ns();
	assert_int_equal(vchan_recv(s, &m, 50), -ETIMEDOUT);
	assert_true(vchan_now_ns() - t0 >= 45000000u);
	/* Fill the client->server ring: 100-byte messages are 128-byte
	 * frames, 8 fit in 1 KiB. */
	while ((r = vchan_send(c, 1, 0, buf, 100, 0)) == 0)
		n++;
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(n, 8);
	t0 = vchan_now_ns();
	assert_int_equal(vchan_send(c, 1, 0, buf, 100, 30), -ETIMEDOUT);
	assert_true(vchan_now_ns() - t0 >= 25000000u);
	/* Not sent means not sent: the next sequence number is 9. */
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.seq, 1);
	assert_int_equal(vchan_send(c, 1, 0, buf, 100, 0), 0);
	for (int i = 2; i <= 9; i++) {
		m.len = sizeof(buf);
		assert_int_equal(vchan_recv(s, &m, 0), 0);
		assert_int_equal(m.seq, i);
	}
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

static void test_max_size(void **state)
{
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	struct vchan *s, *c;
	static uint8_t big[5000];
	struct vchan_msg m = { .buf = big, .len = 100 };

	(void)state;
	tv_capture_logs();
	sc.max_msg = 4096;
	cc.max_msg = 2000;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	assert_int_equal(vchan_send(c, 1, 0, big, 2001, 0), -EMSGSIZE);
	assert_int_equal(vchan_send(c, 1, 0, big, 2000, 0), 0);
	/* Receiver buffer too small: told the size, message stays queued. */
	assert_int_equal(vchan_recv(s, &m, 0), -EMSGSIZE);
	assert_int_equal(m.len, 2000);
	m.len = sizeof(big);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.len, 2000);
	assert_int_equal(m.seq, 1);
	/* The server may send up to 4096; the client's limit is 2000: a peer
	 * over our limit broke the protocol. */
	assert_int_equal(vchan_send(s, 1, 0, big, 3000, 0), 0);
	m.len = sizeof(big);
	assert_int_equal(vchan_recv(c, &m, 0), -EPROTO);
	assert_non_null(strstr(tv_last_log, "exceeds the channel's maximum"));
	assert_int_equal(vchan_recv(c, &m, 0), -EPROTO);   /* latched */
	assert_int_equal(vchan_send(c, 1, 0, big, 1, 0), -EPROTO);
	/* Flags outside the application's half. */
	assert_int_equal(vchan_send(s, 1, 0x10000, big, 1, 0), -EINVAL);
	tv_close(s, c);
}

/* A batch whose first message is over the maximum gets -EMSGSIZE at once,
 * as a single send does, even while the backlog still holds a message
 * (not -EAGAIN first, then -EMSGSIZE once it has gone). */
static void test_batch_max_size_first(void **state)
{
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	struct vchan *s, *c;
	static uint8_t big[8192];
	struct vchan_msg over = { .buf = big, .len = 6001 };
	struct vchan_msg small = { .buf = big, .len = 10 };
	struct vchan_msg m;
	int r = -EAGAIN;

	(void)state;
	sc.max_msg = cc.max_msg = 6000;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	/* Larger than the 4 KiB ring: the rest waits in the backlog. */
	assert_int_equal(vchan_send(c, 1, 0, big, 6000, 0), 0);
	assert_int_equal(vchan_flush(c, 0), -EAGAIN);
	assert_int_equal(vchan_sendv(c, &over, 1, 0), -EMSGSIZE);
	assert_int_equal(vchan_sendv(c, &small, 1, 0), -EAGAIN);
	for (int i = 0; i < 100 && r == -EAGAIN; i++) {
		m = (struct vchan_msg){ .buf = big, .len = sizeof(big) };
		r = vchan_recv(s, &m, 0);
		(void)vchan_flush(c, 0);
	}
	assert_int_equal(r, 0);
	assert_int_equal(m.len, 6000);
	assert_int_equal(vchan_sendv(c, &small, 1, 0), 1);
	tv_close(s, c);
}

static void test_sequence_checks(void **state)
{
	struct vchan *s, *c;
	uint8_t buf[64] = { 0 };
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	(void)state;
	tv_start(12, 12, &s, &c);
	assert_int_equal(vchan_send(c, 1, 0, buf, 10, 0), 0);
	/* A peer replaying sequence 1. */
	c->tx.next_seq = 1;
	assert_int_equal(vchan_send(c, 1, 0, buf, 10, 0), 0);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(s, &m, 0), -EPROTO);
	assert_non_null(strstr(tv_last_log, "sequence 1, expected 2"));
	tv_close(s, c);

	tv_pair(12, 12, &s, &c);
	c->tx.next_seq = 5;   /* skipping ahead: lost messages */
	assert_int_equal(vchan_send(c, 1, 0, buf, 10, 0), 0);
	m.len = sizeof(buf);
	assert_int_equal(vchan_recv(s, &m, 0), -EPROTO);
	tv_close(s, c);
}

struct big_job {
	struct vchan *v;
	size_t len;
	int count;
	int result;
};

static void *big_sender(void *arg)
{
	struct big_job *j = arg;
	uint8_t *p = malloc(j->len);

	j->result = 0;
	for (int i = 0; i < j->count && !j->result; i++) {
		tv_fill(p, j->len, (uint32_t)i);
		j->result = vchan_send(j->v, (uint32_t)i, 0, p, j->len,
				       VCHAN_FOREVER);
	}
	free(p);
	return NULL;
}

static void test_split_larger_than_ring(void **state)
{
	struct vchan *s, *c;
	struct big_job j;
	pthread_t th;
	size_t len = 100000;  /* ring is 1 KiB: about 100 ring-fulls */
	uint8_t *in = malloc(len), *out = malloc(len);

	(void)state;
	tv_start(10, 11, &s, &c);
	j = (struct big_job){ .v = c, .len = len, .count = 5 };
	assert_int_equal(pthread_create(&th, NULL, big_sender, &j), 0);
	for (int i = 0; i < 5; i++) {
		struct vchan_msg m = { .buf = out, .len = len };

		assert_int_equal(vchan_recv(s, &m, 5000), 0);
		assert_int_equal(m.len, len);
		assert_int_equal(m.type, i);
		assert_int_equal(m.seq, i + 1);
		tv_fill(in, len, (uint32_t)i);
		assert_memory_equal(in, out, len);
	}
	pthread_join(th, NULL);
	assert_int_equal(j.result, 0);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
	free(in);
	free(out);
}

static void test_split_nonblocking_both_sides(void **state)
{
	struct vchan *s, *c;
	size_t len = 20000;
	uint8_t *in = malloc(len), *out = malloc(len);
	struct vchan_msg m;
	int r, rounds = 0;

	(void)state;
	tv_start(10, 11, &s, &c);
	tv_fill(in, len, 42);
	/* Accepted into the backlog although the ring holds 1 KiB. */
	assert_int_equal(vchan_send(c, 9, 0, in, len, 0), 0);
	memset(in, 0, len);   /* the library kept its own copy */
	/* Further sends wait for the backlog. */
	assert_int_equal(vchan_send(c, 9, 0, in, 10, 0), -EAGAIN);
	for (;;) {
		m = (struct vchan_msg){ .buf = out, .len = len };
		r = vchan_recv(s, &m, 0);
		if (r == 0)
			break;
		assert_int_equal(r, -EAGAIN);
		r = vchan_flush(c, 0);
		assert_true(r == 0 || r == -EAGAIN);
		assert_true(++rounds < 1000);
	}
	tv_fill(in, len, 42);
	assert_int_equal(m.len, len);
	assert_memory_equal(in, out, len);
	assert_true(rounds > 10);
	assert_int_equal(vchan_flush(c, 0), 0);
	assert_int_equal(vchan_send(c, 9, 0, in, 10, 0), 0);
	tv_close(s, c);
	free(in);
	free(out);
}

/* Without memory: a send that cannot finish at once says -ENOMEM before
 * any byte goes (nothing sent, no sequence number used), and a receive
 * that cannot take a whole message at once says it before any byte of
 * the payload is taken; both go on once there is memory, and the message
 * arrives whole, once.  (Before, the send left half a message that still
 * read the caller's buffer, and the receive had taken bytes it then
 * lost.) */
static void test_split_no_memory(void **state)
{
	struct vchan *s, *c;
	size_t len = 20000;
	uint8_t *in = malloc(len), *out = malloc(len);
	struct vchan_msg m;
	struct vchan_stats st;
	int r, rounds = 0, nomem = 0;

	(void)state;
	tv_start(10, 11, &s, &c);
	tv_fill(in, len, 7);
	vchan_fail_alloc(1);
	assert_int_equal(vchan_send(c, 9, 0, in, len, 0), -ENOMEM);
	vchan_fail_alloc(0);
	m = (struct vchan_msg){ .buf = out, .len = len };
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
	assert_int_equal(vchan_get_stats(s, &st), 0);
	assert_int_equal(st.bytes_recv, 0);
	/* The same send, with memory: accepted, its rest in the backlog. */
	assert_int_equal(vchan_send(c, 9, 0, in, len, 0), 0);
	memset(in, 0, len);
	for (;;) {
		m = (struct vchan_msg){ .buf = out, .len = len };
		vchan_fail_alloc(rounds == 0);
		r = vchan_recv(s, &m, 0);
		vchan_fail_alloc(0);
		if (r == 0)
			break;
		if (r == -ENOMEM)
			nomem++;
		else
			assert_int_equal(r, -EAGAIN);
		r = vchan_flush(c, 0);
		assert_true(r == 0 || r == -EAGAIN);
		assert_true(++rounds < 1000);
	}
	/* The first receive had no room, and took nothing. */
	assert_int_equal(nomem, 1);
	tv_fill(in, len, 7);
	assert_int_equal(m.len, len);
	assert_int_equal(m.seq, 1);
	assert_memory_equal(in, out, len);
	/* The failed send used no sequence number. */
	assert_int_equal(vchan_flush(c, 0), 0);
	assert_int_equal(vchan_send(c, 9, 0, in, 10, 0), 0);
	m = (struct vchan_msg){ .buf = out, .len = len };
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.seq, 2);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
	free(in);
	free(out);
}

/* A batch that finds the peer's cons impossible fails the channel, as a
 * single send does: later calls say -EPROTO too, even once the index
 * looks sane again, and the event loop hears of it. */
static void test_batch_bad_cons_fails_channel(void **state)
{
	struct vchan *s, *c;
	uint8_t b[16] = { 0 };
	struct vchan_msg ms[2] = {
		{ .type = 1, .buf = b, .len = sizeof(b) },
		{ .type = 1, .buf = b, .len = sizeof(b) },
	};
	uint32_t saved;

	(void)state;
	tv_start(12, 12, &s, &c);
	assert_int_equal(vchan_send(c, 1, 0, b, sizeof(b), 0), 0);
	saved = *c->tx.ring.theirs;
	/* Past our prod: the peer says it read what we never wrote. */
	*c->tx.ring.theirs = c->tx.ring.idx + 4096;
	c->tx.ring.lazy = false;
	assert_int_equal(vchan_sendv(c, ms, 2, 0), -EPROTO);
	*c->tx.ring.theirs = saved;
	assert_int_equal(vchan_send(c, 1, 0, b, sizeof(b), 0), -EPROTO);
	assert_true(vchan_events(c) & VCHAN_EV_ERR);
	assert_true(tv_log_count > 0);
	tv_close(s, c);
}

/* A batch that makes exactly a quarter ring is published inside the batch
 * loop; the batch's end must still wake a peer asleep for it: a receiver
 * (sendv), or a sender waiting for room (recvv).  Spinning off, so the
 * peer sleeps; woken, it returns long before its timeout. */
static void test_batch_wakes_sleeper(void **state)
{
	static uint8_t p[4][240];
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	struct vchan_msg ms[4];
	struct vchan *s, *c;
	struct tv_blocked z;
	pthread_t t;

	(void)state;
	sc.spin_ns = cc.spin_ns = 0;
	for (int i = 0; i < 4; i++)   /* 4 frames of 256 bytes: 1 KiB */
		ms[i] = (struct vchan_msg){ .type = 1, .buf = p[i], .len = 240 };

	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	z = (struct tv_blocked){ .v = s };
	pthread_create(&t, NULL, tv_block_call, &z);
	usleep(100000);
	assert_int_equal(vchan_sendv(c, ms, 4, 0), 4);
	pthread_join(t, NULL);
	assert_int_equal(z.result, 0);
	assert_true(z.ms < 2500);
	tv_close(s, c);

	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	while (vchan_send(c, 1, 0, p[0], 240, 0) == 0)
		;                     /* the client's ring is full */
	z = (struct tv_blocked){ .v = c, .send = true, .len = 240 };
	pthread_create(&t, NULL, tv_block_call, &z);
	usleep(100000);
	for (int i = 0; i < 4; i++)
		ms[i].len = sizeof(p[i]);
	assert_int_equal(vchan_recvv(s, ms, 4, 0), 4);
	pthread_join(t, NULL);
	assert_int_equal(z.result, 0);
	assert_true(z.ms < 2500);
	tv_close(s, c);
}

static void test_batches(void **state)
{
	struct vchan *s, *c;
	struct vchan_msg ms[64], mr[64];
	uint8_t in[64][40], out[64][64];
	struct vchan_stats st0, st1;
	int r;

	(void)state;
	tv_start(16, 16, &s, &c);
	{
		struct vchan_msg m = { .buf = out[0], .len = 64 };

		assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
	}
	for (int i = 0; i < 64; i++) {
		tv_fill(in[i], 40, (uint32_t)i);
		ms[i] = (struct vchan_msg){ .type = (uint32_t)i, .buf = in[i],
					    .len = 40 };
		mr[i] = (struct vchan_msg){ .buf = out[i], .len = 64 };
	}
	vchan_get_stats(c, &st0);
	assert_int_equal(vchan_sendv(c, ms, 64, 0), 64);
	vchan_get_stats(c, &st1);
	assert_true(st1.notifies - st0.notifies <= 1);
	assert_int_equal(ms[63].seq, 64);
	r = vchan_recvv(s, mr, 64, 0);
	assert_int_equal(r, 64);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(mr[i].len, 40);
		assert_int_equal(mr[i].type, i);
		assert_int_equal(mr[i].seq, i + 1);
		assert_memory_equal(in[i], out[i], 40);
	}
	/* A batch larger than what is there returns what is there. */
	assert_int_equal(vchan_sendv(c, ms, 3, 0), 3);
	for (int i = 0; i < 64; i++)
		mr[i].len = 64;
	assert_int_equal(vchan_recvv(s, mr, 64, 0), 3);
	assert_int_equal(vchan_recvv(s, mr, 64, 0), -EAGAIN);
	tv_close(s, c);
}

/* Whole frames go straight in and out (send.c tx_put_whole, recv.c
 * recv_whole); a frame that would wrap, a short buffer or a begun message
 * take the general paths.  Mixed over a small ring that wraps often, single
 * and batched, every message must come out whole, in order, once. */
static void test_whole_and_general_paths_mix(void **state)
{
	struct vchan *s, *c;
	static uint8_t in[8][700], out[8][700], want[700];
	struct vchan_msg ms[8], mr[8];
	uint32_t next_out = 0, next_in = 0, seed = 1;

	(void)state;
	tv_start(12, 12, &s, &c);
	for (int round = 0; round < 2000; round++) {
		int n = 1 + (int)(seed % 5), r;

		for (int i = 0; i < n; i++) {
			size_t len;

			seed = seed * 1103515245u + 12345u;
			len = (seed >> 8) % 700;
			tv_fill(in[i], len, next_out + (uint32_t)i);
			ms[i] = (struct vchan_msg){
				.type = next_out + (uint32_t)i,
				.buf = len ? in[i] : NULL, .len = len };
		}
		if (n == 1)
			r = vchan_send(c, ms[0].type, 0, ms[0].buf, ms[0].len,
				       0) == 0 ? 1 : -1;
		else
			r = vchan_sendv(c, ms, (size_t)n, 0);
		assert_true(r >= 1);
		next_out += (uint32_t)r;
		/* Take them out again: one by one, in a batch, and with a
		 * buffer too small first every seventh round. */
		while (next_in < next_out) {
			int got;

			for (int i = 0; i < 8; i++)
				mr[i] = (struct vchan_msg){ .buf = out[i],
							    .len = 700 };
			if (round % 7 == 0) {
				mr[0].len = 0;
				got = vchan_recv(s, &mr[0], 0);
				if (got == -EMSGSIZE) {
					mr[0].len = 700;
					got = vchan_recv(s, &mr[0], 0);
				}
				assert_int_equal(got, 0);
				got = 1;
			} else if (round % 2) {
				got = vchan_recvv(s, mr, 8, 0);
			} else {
				got = vchan_recv(s, &mr[0], 0) == 0 ? 1 : -1;
			}
			assert_true(got >= 1);
			for (int i = 0; i < got; i++) {
				assert_int_equal(mr[i].type, next_in);
				assert_int_equal(mr[i].seq, next_in + 1);
				assert_true(mr[i].len < 700);
				tv_fill(want, mr[i].len, next_in);
				assert_memory_equal(mr[i].buf, want,
						    mr[i].len);
				next_in++;
			}
		}
	}
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* Walk what the receiver has ready: every padding frame ends at the ring's
 * end or VCHAN_PAD_PAST bytes past it; counts pads and the frames whose
 * header and payload run past the ring's end; large payloads after the
 * first lap start on a line. */
static void walk_ready(struct vchan *s, unsigned *pads, unsigned *wrapped)
{
	const struct vchan_ring *r = &s->rx.ring;
	uint32_t ready = VCHAN_READ_ONCE(*r->theirs) - r->idx, off = 0;
	struct vchan_frame_hdr h;

	while (off + VCHAN_FRAME_HDR <= ready) {
		uint32_t pos = (r->idx + off) & r->mask;

		vchan_ring_peek(r, off, &h, sizeof(h));
		if (h.flags & VCHAN_FRAME_PAD) {
			uint32_t to_end = r->size - pos - VCHAN_FRAME_HDR;

			assert_true(h.len == to_end ||
				    h.len == to_end + VCHAN_PAD_PAST);
			(*pads)++;
			off += VCHAN_FRAME_HDR + h.len;
			continue;
		}
		if (pos + VCHAN_FRAME_HDR + h.len > r->size)
			(*wrapped)++;
		else if (h.len >= VCHAN_FRAME_ALIGN_MIN && r->idx + off >= r->size)
			assert_int_equal((pos + VCHAN_FRAME_HDR) % VCHAN_LINE,
					 0);
		off += (uint32_t)vchan_frame_span(h.len, r->idx + off);
	}
}

/* On a ring of up to VCHAN_PAD_WRAP_MAX, whole frames never wrap: a padding
 * frame goes first, and only once there is room for both, and an in-place
 * receive never needs its bounce buffer; on a larger ring they wrap as the
 * bytes fall. */
static void test_wrap_padding(void **state)
{
	static uint8_t in[4096], out[4096];
	struct vchan_msg m = { .buf = out, .len = sizeof(out) };
	struct vchan *s, *c;
	unsigned pads = 0, wrapped = 0, sent = 0, got = 0;
	uint32_t idx;
	int r;

	(void)state;
	tv_start(16, 16, &s, &c);
	assert_true(vchan_ring_pads(&c->tx.ring));
	/* Several laps of 4 KiB messages, sent alone and as batches of one. */
	while (sent < 200) {
		struct vchan_msg ms = { .type = sent, .buf = in,
					.len = sizeof(in) };

		tv_fill(in, sizeof(in), sent);
		r = sent % 2 ? vchan_sendv(c, &ms, 1, 0)
			     : vchan_send(c, sent, 0, in, sizeof(in), 0) == 0;
		assert_int_equal(r, 1);
		sent++;
		walk_ready(s, &pads, &wrapped);
		tv_fill(in, sizeof(in), got);
		if (got % 3 == 2) {
			/* In place: always inside the ring, no bounce. */
			struct vchan_msg ip = { 0 };
			const uint8_t *ring = s->rx.ring.buf;

			assert_int_equal(vchan_recv_inplace(s, &ip, 0), 0);
			assert_int_equal(ip.seq, ++got);
			assert_true((const uint8_t *)ip.buf >= ring &&
				    (const uint8_t *)ip.buf + ip.len <=
				    ring + s->rx.ring.size);
			assert_memory_equal(ip.buf, in, sizeof(in));
			assert_int_equal(vchan_release(s), 0);
			continue;
		}
		m.len = sizeof(out);
		assert_int_equal(vchan_recv(s, &m, 0), 0);
		assert_int_equal(m.seq, ++got);
		assert_memory_equal(out, in, sizeof(out));
	}
	assert_int_equal(wrapped, 0);
	assert_true(pads >= 10);   /* 200 frames of 4160 bytes: 12 laps */

	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);

	/* Room for the frame but not for the padding too: nothing is
	 * written; with room, the padding goes first.  Fifteen frames fill
	 * 62384 bytes (4144, then 4160 each); the sixteenth needs 3200 bytes
	 * of padding (3152 to the end, 48 on) and 4160 of frame. */
	tv_start(16, 16, &s, &c);
	for (unsigned i = 0; i < 15; i++)
		assert_int_equal(vchan_send(c, i, 0, in, sizeof(in), 0), 0);
	idx = c->tx.ring.idx;
	assert_int_equal(idx, 62384);
	assert_int_equal(vchan_send(c, 15, 0, in, sizeof(in), 0), -EAGAIN);
	m.len = sizeof(out);
	assert_int_equal(vchan_recv(s, &m, 0), 0);   /* 7296 bytes free */
	assert_int_equal(vchan_send(c, 15, 0, in, sizeof(in), 0), -EAGAIN);
	assert_int_equal(c->tx.ring.idx, idx);
	m.len = sizeof(out);
	assert_int_equal(vchan_recv(s, &m, 0), 0);   /* 11456 bytes free */
	assert_int_equal(vchan_send(c, 15, 0, in, sizeof(in), 0), 0);
	assert_int_equal(c->tx.ring.idx, idx + 3200 + 4160);
	pads = wrapped = 0;
	walk_ready(s, &pads, &wrapped);
	assert_int_equal(pads, 1);
	assert_int_equal(wrapped, 0);
	for (unsigned i = 2; i < 16; i++) {
		m.len = sizeof(out);
		assert_int_equal(vchan_recv(s, &m, 0), 0);
		assert_int_equal(m.type, i);
		assert_int_equal(m.seq, i + 1);
	}
	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);

	/* 1 MiB ring: no padding, frames wrap. */
	tv_start(20, 20, &s, &c);
	assert_false(vchan_ring_pads(&c->tx.ring));
	pads = wrapped = 0;
	for (unsigned i = 0; i < 600; i++) {
		assert_int_equal(vchan_send(c, i, 0, in, sizeof(in), 0), 0);
		walk_ready(s, &pads, &wrapped);
		m.len = sizeof(out);
		assert_int_equal(vchan_recv(s, &m, 0), 0);
		assert_int_equal(m.seq, i + 1);
	}
	assert_int_equal(pads, 0);
	assert_true(wrapped >= 2);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

static void test_reserve_commit_inplace(void **state)
{
	struct vchan *s, *c;
	struct vchan_msg m;
	void *p;
	uint8_t in[240];

	(void)state;
	tv_start(10, 11, &s, &c);   /* client writes the 1 KiB ring */
	/* Too big for in place (more than a quarter ring). */
	assert_int_equal(vchan_reserve(c, 300, &p, 0), -EMSGSIZE);
	for (int i = 0; i < 40; i++) {
		size_t len = 50 + (size_t)(i * 37) % 190;

		tv_fill(in, len, (uint32_t)i);
		assert_int_equal(vchan_reserve(c, 240, &p, 0), 0);
		memcpy(p, in, len);
		assert_int_equal(vchan_commit(c, 3, 1, len), 0);
		m = (struct vchan_msg){ 0 };
		assert_int_equal(vchan_recv_inplace(s, &m, 0), 0);
		assert_int_equal(m.len, len);
		assert_int_equal(m.seq, i + 1);
		assert_memory_equal(m.buf, in, len);
		assert_int_equal(vchan_release(s), 0);
	}
	/* Cancel leaves nothing behind. */
	assert_int_equal(vchan_reserve(c, 100, &p, 0), 0);
	assert_int_equal(vchan_commit(c, 0, 0, (size_t)-1), 0);
	m = (struct vchan_msg){ 0 };
	assert_int_equal(vchan_recv_inplace(s, &m, 0), -EAGAIN);
	/* In-place receive of a message sent normally, wrapping the ring. */
	for (int i = 0; i < 20; i++) {
		tv_fill(in, 150, (uint32_t)i);
		assert_int_equal(vchan_send(c, 1, 0, in, 150, 0), 0);
		assert_int_equal(vchan_recv_inplace(s, &m, 0), 0);
		assert_memory_equal(m.buf, in, 150);
		assert_int_equal(vchan_release(s), 0);
	}
	assert_int_equal(vchan_release(s), -EINVAL);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* Another thread's calls while the main thread holds an in-place message. */
struct hold_peer {
	struct vchan *v;
	int release_r, recv_r, done;   /* release_r, done: atomic */
	struct vchan_msg m;
	uint8_t buf[64];
};

static void *hold_peer_main(void *arg)
{
	struct hold_peer *h = arg;

	/* Not its hold to end. */
	__atomic_store_n(&h->release_r, vchan_release(h->v), __ATOMIC_RELEASE);
	h->m = (struct vchan_msg){ .buf = h->buf, .len = sizeof(h->buf) };
	h->recv_r = vchan_recv(h->v, &h->m, 5000);   /* waits for the hold */
	__atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* An in-place message or a reservation keeps a lock across calls.  The
 * holding thread may reply, or ask for events, without losing the hold;
 * its own receives (sends) get -EINVAL; other threads wait or are refused;
 * a revoke from the holder neither deadlocks nor leaves a dangling write. */
static void test_holds_across_calls(void **state)
{
	struct vchan *s, *c;
	uint8_t in[3][64], out[64];
	struct vchan_msg m = { .buf = out, .len = sizeof(out) };
	struct hold_peer peer = { 0 };
	pthread_t t;
	void *p;

	(void)state;
	tv_start(12, 12, &s, &c);
	for (int i = 0; i < 3; i++) {
		tv_fill(in[i], sizeof(in[i]), (uint32_t)i);
		assert_int_equal(vchan_send(c, 1, 0, in[i], 64, 0), 0);
	}
	/* A small receive first: it leaves its cons unpublished, which a
	 * later send's look at the receive side would publish. */
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(vchan_recv_inplace(s, &m, 0), 0);
	assert_int_equal(m.seq, 2);
	assert_int_equal(vchan_send(s, 7, 0, "reply", 5, 0), 0);
	assert_true(vchan_events(s) & VCHAN_EV_IN);
	m = (struct vchan_msg){ .buf = out, .len = sizeof(out) };
	assert_int_equal(vchan_recv(s, &m, 0), -EINVAL);
	assert_int_equal(vchan_recv_inplace(s, &m, 0), -EINVAL);
	peer.v = s;
	assert_int_equal(pthread_create(&t, NULL, hold_peer_main, &peer), 0);
	usleep(100 * 1000);
	assert_false(__atomic_load_n(&peer.done, __ATOMIC_ACQUIRE));
	assert_int_equal(__atomic_load_n(&peer.release_r, __ATOMIC_ACQUIRE),
			 -EINVAL);
	/* Still ours, still message 2, until released. */
	m = (struct vchan_msg){ 0 };
	assert_int_equal(vchan_release(s), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(peer.recv_r, 0);
	assert_int_equal(peer.m.seq, 3);
	assert_int_equal(peer.m.len, 64);
	assert_memory_equal(peer.buf, in[2], 64);
	m = (struct vchan_msg){ .buf = out, .len = sizeof(out) };
	assert_int_equal(vchan_recv(c, &m, 0), 0);
	assert_int_equal(m.type, 7);

	/* A reservation: this thread's sends wait for its commit. */
	assert_int_equal(vchan_reserve(c, 64, &p, 0), 0);
	assert_int_equal(vchan_send(c, 1, 0, in[0], 64, 0), -EINVAL);
	assert_int_equal(vchan_flush(c, 0), -EINVAL);
	assert_int_equal(vchan_reserve(c, 64, &p, 0), -EINVAL);
	(void)vchan_events(c);
	memcpy(p, in[1], 64);
	assert_int_equal(vchan_commit(c, 2, 0, 64), 0);
	assert_int_equal(vchan_commit(c, 2, 0, 64), -EINVAL);
	m = (struct vchan_msg){ .buf = out, .len = sizeof(out) };
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.type, 2);
	assert_memory_equal(out, in[1], 64);

	/* Revoked by the holder: no deadlock, and the hold still ends. */
	assert_int_equal(vchan_send(c, 1, 0, in[0], 64, 0), 0);
	assert_int_equal(vchan_recv_inplace(s, &m, 0), 0);
	assert_int_equal(vchan_reserve(c, 64, &p, 0), 0);
	assert_int_equal(vchan_revoke(s), 0);
	assert_int_equal(vchan_revoke(c), 0);
	assert_int_equal(vchan_release(s), -EPIPE);
	assert_int_equal(vchan_commit(c, 1, 0, 64), -EPIPE);
	assert_int_equal(vchan_recv(s, &m, 0), -EPIPE);
	assert_int_equal(vchan_send(c, 1, 0, in[0], 64, 0), -EPIPE);
	tv_close(s, c);
}

struct revoker {
	struct vchan *v;
	int ret, done;          /* atomic */
};

static void *revoker_main(void *arg)
{
	struct revoker *r = arg;

	__atomic_store_n(&r->ret, vchan_revoke(r->v), __ATOMIC_RELEASE);
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A revoke from another thread while this one holds an in-place message
 * and then replies: the reply says -EPIPE (before, it waited for the send
 * lock that the revoke held while it waited for the hold: both for good),
 * the hold ends, and the revoke returns. */
static void test_revoke_during_inplace_reply(void **state)
{
	struct vchan *s, *c;
	uint8_t b[32] = { 7 };
	struct vchan_msg m = { 0 };
	struct revoker rv = { 0 };
	pthread_t t;

	(void)state;
	tv_start(12, 12, &s, &c);
	assert_int_equal(vchan_send(c, 1, 0, b, sizeof(b), 0), 0);
	assert_int_equal(vchan_recv_inplace(s, &m, 1000), 0);
	rv.v = s;
	/* A hang is this test's failure: end the process. */
	alarm(20);
	assert_int_equal(pthread_create(&t, NULL, revoker_main, &rv), 0);
	/* The revoke is under way (it set `revoked` first, then waits for
	 * the hold). */
	while (!__atomic_load_n(&s->revoked, __ATOMIC_ACQUIRE))
		usleep(1000);
	usleep(50000);
	assert_int_equal(__atomic_load_n(&rv.done, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(vchan_send(s, 2, 0, b, sizeof(b), 0), -EPIPE);
	assert_int_equal(vchan_flush(s, 0), -EPIPE);
	assert_int_equal(vchan_release(s), 0);
	pthread_join(t, NULL);
	alarm(0);
	assert_int_equal(rv.ret, 0);
	tv_close(s, c);
}

static void test_raw_stream(void **state)
{
	struct vchan_config sc = tv_cfg(10, 11), cc = tv_cfg(0, 0);
	struct vchan *s, *c;
	uint8_t in[5000], out[5000];
	size_t sent = 0, got = 0;
	struct vchan_msg m = { .buf = out, .len = 10 };

	(void)state;
	tv_capture_logs();
	sc.raw = cc.raw = 1;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	tv_fill(in, sizeof(in), 3);
	assert_int_equal(vchan_read(s, out, 10, 0), -EAGAIN);
	while (got < sizeof(in)) {
		int r = vchan_write(c, in + sent, sizeof(in) - sent, 0);

		if (r > 0)
			sent += (size_t)r;
		else
			assert_true(r == -EAGAIN || sent == sizeof(in));
		r = vchan_read(s, out + got, sizeof(out) - got, 0);
		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(vchan_send(c, 1, 0, in, 1, 0), -EINVAL);
	assert_int_equal(vchan_recv(s, &m, 0), -EINVAL);
	/* The peer goes: bytes it left are still read, then EPIPE. */
	assert_int_equal(vchan_write(c, in, 7, 0), 7);
	vchan_close(c);
	assert_int_equal(vchan_read(s, out, 100, 0), 7);
	assert_int_equal(vchan_read(s, out, 100, 0), -EPIPE);
	assert_int_equal(vchan_write(s, out, 100, 0), -EPIPE);
	vchan_close(s);
}

/* A thread reading a raw stream slowly: a quarter ring at a time, want
 * bytes in all (a read that fails ends it early); then, with close_after,
 * it closes its end while the writer still waits for room. */
struct raw_reader {
	struct vchan *v;
	uint8_t *buf;
	size_t want, got, chunk;
	bool close_after;
};

static void *raw_reader_main(void *arg)
{
	struct raw_reader *rd = arg;

	while (rd->got < rd->want) {
		size_t n = rd->want - rd->got;
		int r;

		usleep(1000);
		r = vchan_read(rd->v, rd->buf + rd->got,
			       n < rd->chunk ? n : rd->chunk, 2000);
		if (r <= 0)
			break;
		rd->got += (size_t)r;
	}
	if (rd->close_after) {
		usleep(100000);   /* the writer fills the ring and waits */
		vchan_close(rd->v);
	}
	return NULL;
}

/* A raw pair (4 KiB rings, logs captured), and four rings' worth of
 * pattern seed in *in, with as much room in *out. */
static void raw_fixture(struct vchan **s, struct vchan **c, uint8_t **in,
			uint8_t **out, size_t *ring, size_t *len, uint32_t seed)
{
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);

	tv_capture_logs();
	sc.raw = cc.raw = 1;
	assert_int_equal(vchan_shm_pair(&sc, &cc, s, c), 0);
	*ring = vchan_ring_size(*c, 1);
	*len = 4 * *ring;
	*in = malloc(*len);
	*out = malloc(*len);
	assert_non_null(*in);
	assert_non_null(*out);
	tv_fill(*in, *len, seed);
}

/* A blocking vchan_write() writes all, as libxenvchan's does: four rings'
 * worth with VCHAN_FOREVER while the peer reads slowly. */
static void test_raw_write_blocking_all(void **state)
{
	struct raw_reader rd = { 0 };
	struct vchan *s, *c;
	uint8_t *in, *out;
	size_t ring, len;
	pthread_t t;
	int r;

	(void)state;
	raw_fixture(&s, &c, &in, &out, &ring, &len, 9);
	rd = (struct raw_reader){ .v = s, .buf = out, .want = len,
				  .chunk = ring / 4 };
	alarm(20);   /* a hang is this test's failure */
	assert_int_equal(pthread_create(&t, NULL, raw_reader_main, &rd), 0);
	r = vchan_write(c, in, len, VCHAN_FOREVER);
	pthread_join(t, NULL);
	alarm(0);
	assert_int_equal(r, (int)len);
	assert_int_equal(rd.got, len);
	assert_memory_equal(in, out, len);
	assert_int_equal(tv_log_count, 0);
	free(in);
	free(out);
	tv_close(s, c);
}

/* A write with a timeout and nobody reading: it fills the ring, waits its
 * timeout for more room, and returns what it wrote; once the ring is full,
 * -ETIMEDOUT.  A non-blocking one returns what fits at once. */
static void test_raw_write_timeout_partial(void **state)
{
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	struct vchan *s, *c;
	uint8_t in[2 * 4096], out[2 * 4096];
	size_t ring;
	uint64_t t0;

	(void)state;
	tv_capture_logs();
	sc.raw = cc.raw = 1;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	ring = vchan_ring_size(c, 1);
	assert_true(2 * ring <= sizeof(in));
	tv_fill(in, sizeof(in), 4);
	t0 = vchan_now_ns();
	assert_int_equal(vchan_write(c, in, 2 * ring, 100), (int)ring);
	assert_true(vchan_now_ns() - t0 >= 95000000u);
	t0 = vchan_now_ns();
	assert_int_equal(vchan_write(c, in, 1, 50), -ETIMEDOUT);
	assert_true(vchan_now_ns() - t0 >= 45000000u);
	assert_int_equal(vchan_write(c, in, 1, 0), -EAGAIN);
	assert_int_equal(vchan_read(s, out, sizeof(out), 0), (int)ring);
	assert_memory_equal(in, out, ring);
	/* Non-blocking: what fits, no wait. */
	assert_int_equal(vchan_write(c, in, 2 * ring, 0), (int)ring);
	assert_int_equal(vchan_read(s, out, sizeof(out), 0), (int)ring);
	assert_memory_equal(in, out, ring);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* The peer goes while a blocking write waits for room: the write returns
 * the bytes it wrote (all the peer read, and what it left in the ring),
 * and the next one -EPIPE. */
static void test_raw_write_peer_closes(void **state)
{
	struct raw_reader rd = { 0 };
	struct vchan_stats st;
	struct vchan *s, *c;
	uint8_t *in, *out;
	size_t ring, len;
	pthread_t t;
	int r;

	(void)state;
	raw_fixture(&s, &c, &in, &out, &ring, &len, 5);
	rd = (struct raw_reader){ .v = s, .buf = out, .want = ring + ring / 2,
				  .chunk = ring / 4, .close_after = true };
	alarm(20);
	assert_int_equal(pthread_create(&t, NULL, raw_reader_main, &rd), 0);
	r = vchan_write(c, in, len, VCHAN_FOREVER);
	pthread_join(t, NULL);
	alarm(0);
	assert_int_equal(rd.got, ring + ring / 2);
	assert_memory_equal(in, out, rd.got);
	assert_true(r >= (int)rd.got && r <= (int)(rd.got + ring));
	assert_int_equal(vchan_get_stats(c, &st), 0);
	assert_int_equal(st.bytes_sent, (uint64_t)r);
	assert_int_equal(vchan_write(c, in, 1, VCHAN_FOREVER), -EPIPE);
	free(in);
	free(out);
	vchan_close(c);
}

struct stream_job {
	struct vchan *v;
	uint64_t total;
	size_t size;
	int result;
};

static void *stream_sender(void *arg)
{
	struct stream_job *j = arg;
	uint8_t *p = calloc(1, j->size);
	uint64_t sent = 0;
	uint32_t i = 0;

	while (sent < j->total) {
		memcpy(p, &i, sizeof(i));
		j->result = vchan_send(j->v, i, 0, p, j->size, 10000);
		if (j->result)
			break;
		sent += j->size;
		i++;
	}
	free(p);
	return NULL;
}

static void test_stream_threads(void **state)
{
	struct vchan *s, *c;
	struct stream_job j;
	pthread_t th;
	uint8_t *out;
	uint64_t got = 0;
	uint32_t i = 0;
	size_t sizes[] = { 64, 4096, 65536 + 8, 300000 };

	(void)state;
	tv_capture_logs();
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		tv_pair(16, 16, &s, &c);
		out = malloc(sizes[k]);
		j = (struct stream_job){ .v = c, .total = 32u << 20,
					 .size = sizes[k] };
		pthread_create(&th, NULL, stream_sender, &j);
		got = 0;
		i = 0;
		while (got < j.total) {
			struct vchan_msg m = { .buf = out, .len = sizes[k] };
			uint32_t tag;

			assert_int_equal(vchan_recv(s, &m, 10000), 0);
			memcpy(&tag, out, sizeof(tag));
			assert_int_equal(tag, i);
			assert_int_equal(m.seq, i + 1);
			assert_int_equal(m.len, sizes[k]);
			got += m.len;
			i++;
		}
		pthread_join(th, NULL);
		assert_int_equal(j.result, 0);
		tv_close(s, c);
		free(out);
	}
	assert_int_equal(tv_log_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_nonblocking_and_timeout),
		cmocka_unit_test(test_max_size),
		cmocka_unit_test(test_batch_max_size_first),
		cmocka_unit_test(test_sequence_checks),
		cmocka_unit_test(test_split_larger_than_ring),
		cmocka_unit_test(test_split_nonblocking_both_sides),
		cmocka_unit_test(test_split_no_memory),
		cmocka_unit_test(test_batch_bad_cons_fails_channel),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_batch_wakes_sleeper),
		cmocka_unit_test(test_whole_and_general_paths_mix),
		cmocka_unit_test(test_wrap_padding),
		cmocka_unit_test(test_reserve_commit_inplace),
		cmocka_unit_test(test_holds_across_calls),
		cmocka_unit_test(test_revoke_during_inplace_reply),
		cmocka_unit_test(test_raw_stream),
		cmocka_unit_test(test_raw_write_blocking_all),
		cmocka_unit_test(test_raw_write_timeout_partial),
		cmocka_unit_test(test_raw_write_peer_closes),
		cmocka_unit_test(test_stream_threads),
	};

	return tv_run_layouts(tests);
}
