/* SPDX-License-Identifier: MIT */
/* vipc-bench: single-thread memcpy on the server's CPU (the first one
 * allowed), the ceiling for one copy.
 * One buffer pair of the message size, copied over and over (so a 1 MiB
 * copy runs from and to the caches, as a ring of that size does); an
 * untimed pass first, then timed passes of at least 4x the streaming
 * transfer; the
 * median pass is reported.  The destination is compared with the source
 * after the first pass.  Passes after the first timed one are made long
 * enough to last the plan's pass time. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* Through a volatile pointer, so the compiler cannot fold the copies. */
static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

static int one_size(const struct bench_plan *p, size_t size,
		    struct bench_results *res)
{
	uint64_t total = 4 * bench_stream_bytes(p, size);
	uint64_t n = total / size, later = 0;
	double *rate = calloc((size_t)p->reps, sizeof(*rate));
	void *src = NULL, *dst = NULL;
	struct bench_row row = { .test = BENCH_STREAM, .size = size,
				 .placement = BENCH_SAME, .p99 = -1 };
	int r = 0;

	if (!rate || posix_memalign(&src, 4096, size) ||
	    posix_memalign(&dst, 4096, size)) {
		r = -ENOMEM;
		goto out;
	}
	bench_fill(src, size, 1);
	memset(dst, 0, size);
	for (int pass = 0; pass <= p->reps && !bench_stop; pass++) {
		uint64_t t0 = bench_now_ns(), t1;

		for (uint64_t i = 0; i < n; i++)
			copy_fn(dst, src, size);
		t1 = bench_now_ns();
		if (pass == 1 && t1 - t0 < p->pass_ns)
			later = (uint64_t)((double)n * (double)p->pass_ns /
					   (double)(t1 - t0 ? t1 - t0 : 1));
		if (pass == 0 && memcmp(dst, src, size)) {
			bench_err("memcpy %zu B: the copy differs", size);
			r = -EBADMSG;
			goto out;
		}
		if (pass > 0)
			rate[pass - 1] = (double)(n * size) / (double)(t1 - t0);
		if (pass == 1 && later > n)
			n = later;
	}
	if (bench_stop) {
		r = -EINTR;
		goto out;
	}
	snprintf(row.transport, sizeof(row.transport), "memcpy");
	row.median = bench_median(rate, (size_t)p->reps);
	if (bench_verbose)
		bench_row_emit(stderr, &row);
	r = bench_results_add(res, &row);
out:
	free(src);
	free(dst);
	free(rate);
	return r;
}

int bench_memcpy_all(const struct bench_plan *p, struct bench_results *res)
{
	int r = 0;

	if (!(p->tests & 1u << BENCH_STREAM))
		return 0;
	if ((r = bench_pin(bench_cpu(BENCH_SAME, false))) < 0) {
		bench_err("memcpy stream: not measured");
		return r;
	}
	for (int i = 0; i < BENCH_NSIZES && !r; i++)
		r = one_size(p, bench_sizes[i], res);
	bench_unpin();
	return r;
}
