/* SPDX-License-Identifier: MIT */
/* vipc-bench: what a run measures. */
#include "config.h"

#include "bench.h"

const size_t bench_sizes[BENCH_NSIZES] = { 64, 4096, 65536, 1048576 };
const size_t bench_rings[BENCH_NRINGS] = { 65536, 1048576 };

void bench_plan_init(struct bench_plan *p, bool quick)
{
	p->quick = quick;
	p->tiny = false;
	p->split_ok = bench_ncpus() >= 2;
	p->tests = 1u << BENCH_RTT | 1u << BENCH_STREAM | 1u << BENCH_MSGS;
	if (quick) {
		p->rtt_iters = 3000;
		p->rtt_warmup = 300;
		p->reps = 3;
		p->stream_small = 2u << 20;
		p->stream_large = 64u << 20;
		p->verify_bytes = 8u << 20;
		p->batch_msgs = 256u << 10;
		p->pass_ns = 25000000;
	} else {
		p->rtt_iters = 50000;
		p->rtt_warmup = 2000;
		p->reps = 5;
		p->stream_small = 32u << 20;
		p->stream_large = 512u << 20;
		p->verify_bytes = 64u << 20;
		p->batch_msgs = 4u << 20;
		p->pass_ns = 200000000;
	}
}

void bench_plan_tiny(struct bench_plan *p)
{
	bench_plan_init(p, true);
	p->tiny = true;
	p->rtt_iters = 300;
	p->rtt_warmup = 30;
	p->reps = 3;
	p->stream_small = 256u << 10;
	p->stream_large = 4u << 20;
	p->verify_bytes = 1u << 20;
	p->batch_msgs = 16u << 10;
	p->pass_ns = 10000000;  /* stretches only what is fast (memcpy) */
}

uint64_t bench_stream_bytes(const struct bench_plan *p, size_t size)
{
	return size < 4096 ? p->stream_small : p->stream_large;
}

int bench_cpu(enum bench_placement p, bool client)
{
	return bench_allowed_cpu(client && p == BENCH_SPLIT ? 1 : 0);
}

static void add(struct bench_spec *out, size_t max, size_t *n,
		enum bench_test t, size_t size, size_t ring,
		enum bench_placement pl)
{
	if (*n < max)
		out[*n] = (struct bench_spec){ t, size, ring, pl };
	(*n)++;
}

size_t bench_channel_specs(const struct bench_plan *p, struct bench_spec *out,
			   size_t max)
{
	enum bench_placement stream_pl = p->split_ok ? BENCH_SPLIT : BENCH_SAME;
	size_t n = 0;

	if (p->tests & 1u << BENCH_RTT) {
		if (p->split_ok)
			add(out, max, &n, BENCH_RTT, BENCH_RTT_SIZE,
			    BENCH_RTT_RING, BENCH_SPLIT);
		add(out, max, &n, BENCH_RTT, BENCH_RTT_SIZE, BENCH_RTT_RING,
		    BENCH_SAME);
	}
	for (int r = 0; r < BENCH_NRINGS; r++) {
		if (p->tests & 1u << BENCH_STREAM)
			for (int s = 0; s < BENCH_NSIZES; s++)
				add(out, max, &n, BENCH_STREAM, bench_sizes[s],
				    bench_rings[r], stream_pl);
		if (p->tests & 1u << BENCH_MSGS)
			add(out, max, &n, BENCH_MSGS, BENCH_RTT_SIZE,
			    bench_rings[r], stream_pl);
	}
	return n < max ? n : max;
}
