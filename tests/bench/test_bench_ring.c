/* SPDX-License-Identifier: MIT */
/* vipc-bench's bare ring (tools/bench_ring.c) against what it stands for:
 * its streams move in pieces of at most a quarter ring, publishing as they
 * go (not one copy of the whole free ring, after which the ends take
 * turns), and its batches are vipc's runs, byte for byte as libvchan-cap's
 * receiver parses them (vchan_frame_check(), vchan_run_check()).  Both
 * ends of one mapping live in this process; the client sends on the ring
 * right after the control page. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vchan_priv.h"
#include "bench.h"

#define RING ((size_t)65536)
#define QUARTER ((uint32_t)(RING / 4))
#define MAX_MSG 65536u
#define NMAX 256

struct pair {
	uint8_t *map;
	struct bench_io tx, rx;    /* the client's end sends, the server's reads */
	uint32_t at;               /* ring index of the next frame to walk      */
	uint32_t seq;              /* the next message's sequence number        */
};

static void pair_open(struct pair *p)
{
	size_t n = bench_ring_map_size(RING);

	memset(p, 0, sizeof(*p));
	p->map = aligned_alloc(4096, n);
	assert_non_null(p->map);
	memset(p->map, 0, n);
	assert_int_equal(bench_ring_end(p->map, RING, true, 0, &p->tx), 0);
	assert_int_equal(bench_ring_end(p->map, RING, false, 0, &p->rx), 0);
}

static void pair_close(struct pair *p)
{
	bench_ring_end_free(&p->tx);
	bench_ring_end_free(&p->rx);
	free(p->map);
}

static const uint8_t *c2s(const struct pair *p)
{
	return p->map + 4096;
}

static uint8_t *pattern(size_t len, uint64_t seed)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	bench_fill(b, len, seed);
	return b;
}

/* One end sends a 60000-byte message into the empty 64 KiB ring, then the
 * other takes it: three whole quarters of payload each way, so each side
 * must have stored its index at least four times (once per quarter and at
 * the end).  One copy of the whole message stores it once or twice. */
static void test_stream_quarters(void **state)
{
	static const int layouts[] = { VCHAN_LAYOUT_LINES,
				       VCHAN_LAYOUT_XENVCHAN };
	const size_t len = 60000;

	(void)state;
	for (size_t l = 0; l < 2; l++) {
		uint8_t *src = pattern(len, 7), *dst = calloc(1, len);
		uint64_t tx, rx, tx2, rx2;
		struct pair p;

		assert_non_null(dst);
		bench_layout = layouts[l];
		pair_open(&p);
		assert_int_equal(p.tx.send(p.tx.ctx, src, len), 0);
		bench_ring_pubs(&p.tx, &tx, &rx);
		assert_true(tx >= 4);
		assert_int_equal(p.rx.recv(p.rx.ctx, dst, len), 0);
		bench_ring_pubs(&p.rx, &tx2, &rx2);
		assert_true(rx2 >= 4);
		assert_memory_equal(src, dst, len);
		pair_close(&p);
		free(src);
		free(dst);
	}
	bench_layout = VCHAN_LAYOUT_LINES;
}

struct sender {
	struct bench_io *io;
	const uint8_t *buf;
	size_t len;
	int r;
};

static void *send_main(void *arg)
{
	struct sender *s = arg;

	s->r = s->io->send(s->io->ctx, s->buf, s->len);
	return NULL;
}

/* A 1 MiB message through a 64 KiB ring between two threads arrives whole,
 * and no index store covers two quarters or more (so at least 32 of each:
 * a piece is at most a quarter, and one is stored once a quarter is due). */
static void test_stream_threads(void **state)
{
	const size_t len = 1u << 20;
	uint8_t *src = pattern(len, 11), *dst = calloc(1, len);
	struct pair p;
	struct sender s;
	pthread_t t;
	uint64_t tx, rx, unused;

	(void)state;
	assert_non_null(dst);
	pair_open(&p);
	s = (struct sender){ &p.tx, src, len, -1 };
	assert_int_equal(pthread_create(&t, NULL, send_main, &s), 0);
	assert_int_equal(p.rx.recv(p.rx.ctx, dst, len), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(s.r, 0);
	assert_memory_equal(src, dst, len);
	bench_ring_pubs(&p.tx, &tx, &unused);
	bench_ring_pubs(&p.rx, &unused, &rx);
	assert_true(tx >= len / (2 * QUARTER));
	assert_true(rx >= len / (2 * QUARTER));
	pair_close(&p);
	free(src);
	free(dst);
}

/* Walk the frames the client wrote from p->at on with libvchan-cap's own
 * checks until n messages of len bytes were found, each of them msgs[i];
 * a run's padding must be zero.  Returns the runs found. */
static unsigned walk(struct pair *p, const uint8_t *msgs, size_t len,
		     size_t n)
{
	const uint8_t *ring = c2s(p);
	unsigned runs = 0;
	size_t i = 0;

	while (i < n) {
		struct vchan_frame_hdr h;
		struct vchan_run_word w;
		uint32_t pos = p->at & (RING - 1);

		memcpy(&h, ring + pos, sizeof(h));
		assert_int_equal(vchan_frame_check(&h, pos, RING, MAX_MSG,
						   p->seq, "test"), 0);
		if (h.flags & VCHAN_FRAME_PAD) {
			p->at += VCHAN_FRAME_HDR + h.len;
			continue;
		}
		assert_int_equal(h.len, len);
		if (!(h.flags & VCHAN_FRAME_RUN)) {
			assert_memory_equal(ring + pos + VCHAN_FRAME_HDR,
					    msgs + i * len, len);
			p->at += (uint32_t)vchan_frame_span(len, p->at);
			p->seq++;
			i++;
			continue;
		}
		memcpy(&w, ring + pos + VCHAN_FRAME_HDR, sizeof(w));
		assert_int_equal(vchan_run_check(&h, &w, pos, RING, "test"), 0);
		assert_true(w.count <= n - i);
		for (uint32_t k = 0; k < w.count; k++, i++) {
			const uint8_t *q = ring + pos + VCHAN_RUN_HDR +
					   k * vchan_frame_pad(len);

			assert_memory_equal(q, msgs + i * len, len);
			for (size_t z = len; z < vchan_frame_pad(len); z++)
				assert_int_equal(q[z], 0);
		}
		p->at += (uint32_t)(VCHAN_RUN_HDR + w.count *
				    vchan_frame_pad(len));
		p->seq += w.count;
		runs++;
	}
	return runs;
}

/* Send n messages of len bytes as batches, walk what the ring holds, then
 * receive them in batches of up to `take`; returns the runs walked. */
static unsigned batch_round(struct pair *p, size_t len, size_t n,
			    size_t take, uint64_t seed)
{
	uint8_t *msgs = malloc(n * len), *got = calloc(n, len);
	unsigned runs = 0;
	size_t sent = 0, recvd = 0;

	assert_true(msgs && got);
	for (size_t i = 0; i < n; i++)
		bench_fill(msgs + i * len, len, seed + i);
	while (sent < n) {
		int r = p->tx.send_batch(p->tx.ctx, msgs + sent * len, len,
					 n - sent);

		assert_true(r >= 1);
		runs += walk(p, msgs + sent * len, len, (size_t)r);
		sent += (size_t)r;
	}
	while (recvd < n) {
		size_t k = n - recvd < take ? n - recvd : take;
		int r = p->rx.recv_batch(p->rx.ctx, got + recvd * len, len, k);

		assert_true(r >= 1 && (size_t)r <= k);
		recvd += (size_t)r;
	}
	assert_memory_equal(msgs, got, n * len);
	free(msgs);
	free(got);
	return runs;
}

/* The stream-msgs batch, 64 messages of 64 B: one run of 64 (one header,
 * one run word, the payloads back to back), one index store, all of it
 * taken by one receive. */
static void test_batch_is_run(void **state)
{
	uint8_t *msgs = malloc(64 * 64), *got = calloc(64, 64);
	struct pair p;
	struct vchan_frame_hdr h;
	struct vchan_run_word w;
	uint64_t tx, unused;

	(void)state;
	assert_true(msgs && got);
	for (size_t i = 0; i < 64; i++)
		bench_fill(msgs + i * 64, 64, i);
	pair_open(&p);
	assert_int_equal(p.tx.send_batch(p.tx.ctx, msgs, 64, 64), 64);
	bench_ring_pubs(&p.tx, &tx, &unused);
	assert_int_equal(tx, 1);
	memcpy(&h, c2s(&p), sizeof(h));
	memcpy(&w, c2s(&p) + VCHAN_FRAME_HDR, sizeof(w));
	assert_int_equal(h.flags & VCHAN_FRAME_RUN, VCHAN_FRAME_RUN);
	assert_int_equal(h.len, 64);
	assert_int_equal(h.seq, 0);
	assert_int_equal(w.count, 64);
	assert_memory_equal(c2s(&p) + VCHAN_RUN_HDR, msgs, 64 * 64);
	assert_int_equal(walk(&p, msgs, 64, 64), 1);
	assert_int_equal(p.rx.recv_batch(p.rx.ctx, got, 64, 64), 64);
	assert_memory_equal(msgs, got, 64 * 64);
	pair_close(&p);
	free(msgs);
	free(got);
}

/* Laps of batches: runs cut at the ring's end and at a quarter ring,
 * lengths off the 16-byte step (padded with zeros), a batch larger than a
 * run can be, receives smaller than a run (the rest kept for the next
 * call, or for a single receive). */
static void test_batch_laps(void **state)
{
	struct pair p;
	uint8_t one[64], want[64];

	(void)state;
	pair_open(&p);
	for (int i = 0; i < 40; i++)
		assert_true(batch_round(&p, 64, 64, 64, (uint64_t)i * 64) >= 1);
	for (int i = 0; i < 20; i++)
		batch_round(&p, 50, 64, 64, 9000 + (uint64_t)i * 64);
	/* 64 of 255 B take 64 steps of 256 B: more than a quarter ring. */
	assert_true(batch_round(&p, 255, 64, 64, 20000) >= 1);
	batch_round(&p, 64, 200, 64, 30000);
	batch_round(&p, 64, 64, 10, 40000);
	/* A run half taken, then a single receive, then the rest. */
	bench_fill(want, 64, 50010);
	{
		uint8_t *msgs = malloc(64 * 64), *got = malloc(64 * 64);

		assert_true(msgs && got);
		for (size_t i = 0; i < 64; i++)
			bench_fill(msgs + i * 64, 64, 50000 + i);
		assert_int_equal(p.tx.send_batch(p.tx.ctx, msgs, 64, 64), 64);
		walk(&p, msgs, 64, 64);
		assert_int_equal(p.rx.recv_batch(p.rx.ctx, got, 64, 10), 10);
		assert_int_equal(p.rx.recv(p.rx.ctx, one, 64), 0);
		assert_memory_equal(one, want, 64);
		assert_int_equal(p.rx.recv_batch(p.rx.ctx, got + 11 * 64, 64,
						 64), 53);
		memcpy(got + 10 * 64, one, 64);
		assert_memory_equal(msgs, got, 64 * 64);
		free(msgs);
		free(got);
	}
	pair_close(&p);
}

/* A batch that starts 96 bytes before the ring's end, too little for a
 * run: a single frame, a padding frame to the end, one more single at the
 * ring's start, then a run, as vipc's vchan_sendv() puts them. */
static void test_batch_at_tail(void **state)
{
	uint8_t buf[240];
	struct pair p;

	(void)state;
	pair_open(&p);
	/* 255 frames of 256 B and one of 160 B: the next one at 65440. */
	for (int i = 0; i < 256; i++) {
		size_t len = i < 255 ? 240 : 144;

		bench_fill(buf, len, (uint64_t)i);
		assert_int_equal(p.tx.send(p.tx.ctx, buf, len), 0);
		assert_int_equal(p.rx.recv(p.rx.ctx, buf, len), 0);
	}
	p.at = RING - 96;
	p.seq = 256;
	assert_int_equal(batch_round(&p, 64, 64, 64, 60000), 1);
	pair_close(&p);
}

/* A run word that promises more than a quarter ring is refused with
 * EPROTO, not waited for or read past what was sent. */
static void test_bad_run(void **state)
{
	uint8_t msgs[64 * 4], got[64 * 4];
	struct vchan_run_word w = { .count = 1000 };
	struct pair p;

	(void)state;
	memset(msgs, 0x5a, sizeof(msgs));
	pair_open(&p);
	assert_int_equal(p.tx.send_batch(p.tx.ctx, msgs, 64, 4), 4);
	memcpy(p.map + 4096 + VCHAN_FRAME_HDR, &w, sizeof(w));
	assert_int_equal(p.rx.recv_batch(p.rx.ctx, got, 64, 4), -EPROTO);
	pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_quarters),
		cmocka_unit_test(test_stream_threads),
		cmocka_unit_test(test_batch_is_run),
		cmocka_unit_test(test_batch_laps),
		cmocka_unit_test(test_batch_at_tail),
		cmocka_unit_test(test_bad_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
