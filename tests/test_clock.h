/* SPDX-License-Identifier: MIT */
/* Elapsed time for tests that bound how long a call may take. */
#ifndef TEST_CLOCK_H
#define TEST_CLOCK_H

#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC since t0. */
static inline long test_ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

#endif
