/* Benchmarks: timing and summary helpers shared by the bench programs. */
#ifndef VIPC_BENCH_STATS_H
#define VIPC_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

uint64_t bench_now_ns(void);
/* Sorts v in place; returns the q-quantile (0..1). */
double bench_quantile(double *v, size_t n, double q);
/* Pin the calling thread to cpu (or do nothing for cpu < 0); -errno. */
int bench_pin(int cpu);
/* Wait up to timeout_ms for a file to appear; 0 or -ETIMEDOUT. */
int bench_wait_file(const char *path, int timeout_ms);
/* Write text to path atomically (tmp + rename); 0 or -errno. */
int bench_put_file(const char *path, const char *text);

#endif
