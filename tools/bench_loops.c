/* SPDX-License-Identifier: MIT */
/* vipc-bench: round-trip and streaming loops over struct bench_io, shared
 * by every transport that carries data (vipc, libxenvchan, pipe, AF_UNIX).
 *
 * Round trip: warm-up rounds (every byte of the echo checked), then one
 * timed sample per round (the echo's sequence stamp checked).
 * Streaming: one untimed pass in which the receiver checks every byte of
 * every message, then timed passes over a large transfer; each pass starts
 * with a header message (its first word: the pass's message count) and
 * ends with the receiver acknowledging (8 bytes: the count of damaged
 * messages); its rate is what the sender's wall time from the header to
 * the acknowledgement saw go: the pass's messages and the header, a full
 * message too (n + 1 messages, (n + 1) x size bytes), so that a short pass
 * of large messages is not undercounted.  The first timed pass moves the
 * plan's bytes; the others at least that and enough to last the plan's
 * pass time at the first one's rate.  The median pass is reported. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define POOL 4

static int fail(const char *what, uint64_t i, int r)
{
	bench_err("%s %llu: %s", what, (unsigned long long)i, strerror(-r));
	return r;
}

int bench_rtt_client(const struct bench_io *io, const struct bench_plan *p,
		     double *median_us, double *p99_us)
{
	uint8_t out[BENCH_RTT_SIZE] __attribute__((aligned(64)));
	uint8_t in[BENCH_RTT_SIZE] __attribute__((aligned(64)));
	long total = p->rtt_warmup + p->rtt_iters;
	double *t = malloc((size_t)p->rtt_iters * sizeof(*t));
	int r = 0;

	if (!t)
		return -ENOMEM;
	bench_fill(out, sizeof(out), 0);
	for (long i = 0; i < total && !r; i++) {
		uint64_t t0, t1;

		if (bench_stop) {
			r = -EINTR;
			break;
		}
		bench_stamp(out, sizeof(out), (uint64_t)i);
		t0 = bench_now_ns();
		r = io->send(io->ctx, out, sizeof(out));
		if (r < 0) {
			r = fail("round trip: send of round", (uint64_t)i, r);
			break;
		}
		r = io->recv(io->ctx, in, sizeof(in));
		t1 = bench_now_ns();
		if (r < 0) {
			r = fail("round trip: reply of round", (uint64_t)i, r);
			break;
		}
		r = 0;
		if (i < p->rtt_warmup ? memcmp(in, out, sizeof(in)) != 0 :
		    bench_check_stamp(in, sizeof(in), (uint64_t)i) != 0)
			r = fail("round trip: damaged echo in round",
				 (uint64_t)i, -EBADMSG);
		else if (i >= p->rtt_warmup)
			t[i - p->rtt_warmup] = (double)(t1 - t0) / 1000.0;
	}
	if (!r) {
		*p99_us = bench_quantile(t, (size_t)p->rtt_iters, 0.99);
		*median_us = bench_median(t, (size_t)p->rtt_iters);
	}
	free(t);
	return r;
}

int bench_rtt_server(const struct bench_io *io, const struct bench_plan *p)
{
	uint8_t buf[BENCH_RTT_SIZE] __attribute__((aligned(64)));
	long total = p->rtt_warmup + p->rtt_iters;

	for (long i = 0; i < total; i++) {
		int r = io->recv(io->ctx, buf, sizeof(buf));

		if (r < 0)
			return fail("round trip (echo): receive of round",
				    (uint64_t)i, r);
		r = io->send(io->ctx, buf, sizeof(buf));
		if (r < 0)
			return fail("round trip (echo): send of round",
				    (uint64_t)i, r);
		if (bench_stop)
			return -EINTR;
	}
	return 0;
}

/* Messages in pass `pass` (0: the checked one; 1: the first timed). */
static uint64_t pass_msgs(const struct bench_plan *p, size_t size, int pass)
{
	uint64_t bytes = bench_stream_bytes(p, size);

	if (pass == 0 && bytes > p->verify_bytes)
		bytes = p->verify_bytes;
	return bytes / size ? bytes / size : 1;
}

/* Messages for the later passes: n1 took ns; last the plan's pass time. */
static uint64_t calibrate(const struct bench_plan *p, uint64_t n1,
			  uint64_t ns)
{
	double want = (double)n1 * (double)p->pass_ns / (double)(ns ? ns : 1);

	if (want > 1e9)
		want = 1e9;
	return want > (double)n1 ? (uint64_t)want : n1;
}

/* The pass header: a message of len bytes whose stamp is the count. */
static int put_count(const struct bench_io *io, void *buf, size_t len,
		     uint64_t n)
{
	int r;

	bench_stamp(buf, len, n);
	r = io->send(io->ctx, buf, len);
	return r < 0 ? fail("stream: send of the header of a pass of", n, r) : 0;
}

static int get_count(const struct bench_io *io, void *buf, size_t len,
		     uint64_t *n)
{
	int r = io->recv(io->ctx, buf, len);

	if (r < 0)
		return fail("stream: receive of a pass header, after pass",
			    0, r);
	*n = 0;
	memcpy(n, buf, 8);
	if (*n == 0 || *n > 1000000000u) {
		bench_err("stream: bad pass header (%llu messages)",
			  (unsigned long long)*n);
		return -EPROTO;
	}
	return 0;
}

static int get_ack(const struct bench_io *io, int pass)
{
	uint64_t bad = 0;
	int r = io->recv(io->ctx, &bad, sizeof(bad));

	if (r < 0)
		return fail("stream: acknowledgement of pass", (uint64_t)pass,
			    r);
	if (bad) {
		bench_err("stream: the receiver found %llu damaged message(s) in pass %d",
			  (unsigned long long)bad, pass);
		return -EBADMSG;
	}
	return 0;
}

static int put_ack(const struct bench_io *io, int pass, uint64_t bad)
{
	int r = io->send(io->ctx, &bad, sizeof(bad));

	if (r < 0)
		return fail("stream: acknowledging pass", (uint64_t)pass, r);
	if (bad)
		bench_err("stream: %llu damaged message(s) in pass %d",
			  (unsigned long long)bad, pass);
	return bad ? -EBADMSG : 0;
}

/* --verbose: what a timed pass counted and how long it took. */
static void show_pass(const char *test, size_t size, int pass, uint64_t msgs,
		      uint64_t ns, double rate, const char *unit)
{
	if (bench_verbose)
		bench_err("%s pass: size %zu, pass %d, messages %llu (header included), bytes %llu, ns %llu, rate %.6g %s",
			  test, size, pass, (unsigned long long)msgs,
			  (unsigned long long)(msgs * size),
			  (unsigned long long)ns, rate, unit);
}

static void *alloc_buf(size_t len)
{
	void *b = NULL;

	if (posix_memalign(&b, 4096, len ? len : 1))
		return NULL;
	memset(b, 0, len);
	return b;
}

int bench_stream_client(const struct bench_io *io, const struct bench_plan *p,
			size_t size, double *gbps)
{
	uint8_t *pool[POOL] = { 0 }, *one = alloc_buf(size);
	double *rate = calloc((size_t)p->reps, sizeof(*rate));
	uint64_t later = 0;
	int r = one && rate ? 0 : -ENOMEM;

	for (int k = 0; k < POOL && !r; k++) {
		pool[k] = alloc_buf(size);
		if (!pool[k])
			r = -ENOMEM;
		else
			bench_fill(pool[k], size, (uint64_t)k);
	}
	for (int pass = 0; pass <= p->reps && !r; pass++) {
		uint64_t n = pass > 1 ? later : pass_msgs(p, size, pass), t0, t1;

		t0 = bench_now_ns();
		r = put_count(io, one, size, n);
		for (uint64_t seq = 0; seq < n && !r; seq++) {
			uint8_t *b;

			if (pass == 0) {
				b = one;
				bench_fill(b, size, seq);
			} else {
				b = pool[seq % POOL];
				bench_stamp(b, size, seq);
			}
			r = io->send(io->ctx, b, size);
			if (r < 0)
				r = fail("stream: send of message", seq, r);
			else
				r = bench_stop ? -EINTR : 0;
		}
		if (!r)
			r = get_ack(io, pass);
		t1 = bench_now_ns();
		if (!r && pass > 0) {
			/* The header was timed too: count it. */
			rate[pass - 1] = (double)((n + 1) * size) /
					 (double)(t1 - t0);
			show_pass("stream", size, pass, n + 1, t1 - t0,
				  rate[pass - 1], "GB/s");
		}
		if (pass == 1)
			later = calibrate(p, n, t1 - t0);
	}
	if (!r)
		*gbps = bench_median(rate, (size_t)p->reps);
	for (int k = 0; k < POOL; k++)
		free(pool[k]);
	free(one);
	free(rate);
	return r;
}

int bench_stream_server(const struct bench_io *io, const struct bench_plan *p,
			size_t size)
{
	uint8_t *buf = alloc_buf(size);
	int r = buf ? 0 : -ENOMEM;

	for (int pass = 0; pass <= p->reps && !r; pass++) {
		uint64_t n = 0, bad = 0;

		r = get_count(io, buf, size, &n);
		for (uint64_t seq = 0; seq < n && !r; seq++) {
			r = io->recv(io->ctx, buf, size);
			if (r < 0) {
				r = fail("stream: receive of message", seq, r);
				break;
			}
			r = 0;
			if (pass == 0 ? bench_check(buf, size, seq) :
			    bench_check_stamp(buf, size, seq))
				bad++;
		}
		if (!r)
			r = put_ack(io, pass, bad);
	}
	free(buf);
	return r;
}

static uint64_t msgs_pass(const struct bench_plan *p, int pass)
{
	uint64_t n = p->batch_msgs;

	if (pass == 0 && n * BENCH_RTT_SIZE > p->verify_bytes)
		n = p->verify_bytes / BENCH_RTT_SIZE;
	return n;
}

int bench_msgs_client(const struct bench_io *io, const struct bench_plan *p,
		      double *mmsgs)
{
	const size_t m = BENCH_RTT_SIZE;
	uint8_t *buf = alloc_buf(m * BENCH_BATCH);
	uint8_t hdr[BENCH_RTT_SIZE] = { 0 };
	double *rate = calloc((size_t)p->reps, sizeof(*rate));
	uint64_t later = 0;
	int r = buf && rate ? 0 : -ENOMEM;

	for (size_t j = 0; j < BENCH_BATCH && !r; j++)
		bench_fill(buf + j * m, m, j);
	for (int pass = 0; pass <= p->reps && !r; pass++) {
		uint64_t n = pass > 1 ? later : msgs_pass(p, pass), seq = 0;
		uint64_t t0, t1;

		t0 = bench_now_ns();
		r = put_count(io, hdr, sizeof(hdr), n);
		while (seq < n && !r) {
			size_t k = n - seq < BENCH_BATCH ? n - seq : BENCH_BATCH;
			size_t sent = 0;

			for (size_t j = 0; j < k; j++) {
				if (pass == 0)
					bench_fill(buf + j * m, m, seq + j);
				else
					bench_stamp(buf + j * m, m, seq + j);
			}
			while (sent < k) {
				r = io->send_batch(io->ctx, buf + sent * m, m,
						   k - sent);
				if (r < 0) {
					r = fail("stream-msgs: send of message",
						 seq + sent, r);
					break;
				}
				sent += (size_t)r;
				r = 0;
			}
			seq += k;
			if (bench_stop)
				r = -EINTR;
		}
		if (!r)
			r = get_ack(io, pass);
		t1 = bench_now_ns();
		if (!r && pass > 0) {
			rate[pass - 1] = (double)(n + 1) * 1000.0 /
					 (double)(t1 - t0);
			show_pass("stream-msgs", m, pass, n + 1, t1 - t0,
				  rate[pass - 1], "Mmsg/s");
		}
		if (pass == 1)
			later = calibrate(p, n, t1 - t0);
	}
	if (!r)
		*mmsgs = bench_median(rate, (size_t)p->reps);
	free(buf);
	free(rate);
	return r;
}

int bench_msgs_server(const struct bench_io *io, const struct bench_plan *p)
{
	const size_t m = BENCH_RTT_SIZE;
	uint8_t *buf = alloc_buf(m * BENCH_BATCH);
	int r = buf ? 0 : -ENOMEM;

	for (int pass = 0; pass <= p->reps && !r; pass++) {
		uint64_t n = 0, seq = 0, bad = 0;

		r = get_count(io, buf, m, &n);
		while (seq < n && !r) {
			size_t k = n - seq < BENCH_BATCH ? n - seq : BENCH_BATCH;

			r = io->recv_batch(io->ctx, buf, m, k);
			if (r < 0) {
				r = fail("stream-msgs: receive of message", seq,
					 r);
				break;
			}
			for (size_t j = 0; j < (size_t)r; j++)
				if (pass == 0 ?
				    bench_check(buf + j * m, m, seq + j) :
				    bench_check_stamp(buf + j * m, m, seq + j))
					bad++;
			seq += (size_t)r;
			r = 0;
		}
		if (!r)
			r = put_ack(io, pass, bad);
	}
	free(buf);
	return r;
}

int bench_run_spec(const struct bench_io *io, const struct bench_plan *p,
		   const struct bench_spec *s, bool client,
		   struct bench_row *row)
{
	double med = 0, p99 = -1;
	int r;

	switch (s->test) {
	case BENCH_RTT:
		r = client ? bench_rtt_client(io, p, &med, &p99) :
			     bench_rtt_server(io, p);
		break;
	case BENCH_STREAM:
		r = client ? bench_stream_client(io, p, s->size, &med) :
			     bench_stream_server(io, p, s->size);
		break;
	default:
		r = client ? bench_msgs_client(io, p, &med) :
			     bench_msgs_server(io, p);
		break;
	}
	if (r == 0 && client) {
		row->test = s->test;
		row->size = s->size;
		row->ring = s->ring;
		row->placement = s->placement;
		row->median = med;
		row->p99 = p99;
	}
	return r;
}
