/* SPDX-License-Identifier: MIT */
/* Adaptive spinning before sleeping.  Spinning pays when the peer runs on
 * another CPU and answers within the budget; when both ends share a CPU it
 * only delays the peer.  Hits raise a score, misses lower it; when the score
 * falls low, spinning stays off for a growing number of waits, then is
 * probed again.  With one usable CPU it starts (and stays) off. */
#include "config.h"

#include <sched.h>
#include <unistd.h>
#include <time.h>

#include "vchan_priv.h"

#define SCORE_MAX 16
#define SCORE_MIN (-8)
#define BACKOFF_FIRST 64u
#define BACKOFF_MAX 4096u

uint64_t vchan_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int usable_cpus(void)
{
	/* The machine's CPUs, not this thread's affinity when the channel
	 * opens: a thread pinned now may be unpinned later, and the peer may
	 * well run elsewhere. Both ends on one CPU is caught by the adaptive
	 * score instead (spins that never pay off switch spinning off). */
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 2;
}

void vchan_spin_init(struct vchan_spin *s, long budget_ns, bool adaptive)
{
	s->budget_ns = budget_ns > 0 ? budget_ns : 0;
	s->adaptive = adaptive;
	s->score = 0;
	s->skip = 0;
	s->backoff = BACKOFF_FIRST;
	s->hits = s->misses = 0;
	if (adaptive && s->budget_ns && usable_cpus() < 2)
		s->budget_ns = 0;
}

long vchan_spin_budget(struct vchan_spin *s)
{
	if (!s->budget_ns)
		return 0;
	if (s->skip) {
		s->skip--;
		return 0;
	}
	return s->budget_ns;
}

void vchan_spin_result(struct vchan_spin *s, bool hit)
{
	if (hit) {
		s->hits++;
		if (s->score < SCORE_MAX)
			s->score++;
		if (s->score == SCORE_MAX)
			s->backoff = BACKOFF_FIRST;
		return;
	}
	s->misses++;
	if (!s->adaptive)
		return;
	s->score -= 2;
	if (s->score <= SCORE_MIN) {
		s->skip = s->backoff;
		if (s->backoff < BACKOFF_MAX)
			s->backoff *= 2;
		s->score = 0;
	}
}

bool vchan_spin_enabled(const struct vchan_spin *s)
{
	return s->budget_ns && !s->skip;
}
