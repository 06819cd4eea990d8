/* SPDX-License-Identifier: MIT */
/* Adaptive waiting before sleeping, in two phases.
 *
 * Busy phase: spin on the shared page.  It pays when the peer runs on
 * another CPU and answers within the budget; when both ends share a CPU it
 * only delays the peer.
 *
 * Yield phase: give the CPU away (sched_yield) and look again.  It pays when
 * the peer is runnable on our CPU: it runs at once, and since we never asked
 * to be woken it answers without an event-channel notification, and we take
 * its answer without sleeping (no notify, no wake-up, no event to consume).
 *
 * Each phase keeps its own score: hits raise it, misses lower it; when it
 * falls low, the phase stays off for a growing number of waits, then is
 * probed again.  With one usable CPU the busy phase starts (and stays) off;
 * the yield phase is the one that can help there. */
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

static void adapt_init(struct vchan_adapt *a)
{
	a->score = 0;
	a->skip = 0;
	a->backoff = BACKOFF_FIRST;
	a->hits = a->misses = 0;
}

void vchan_spin_init(struct vchan_spin *s, long budget_ns, bool adaptive)
{
	s->budget_ns = budget_ns > 0 ? budget_ns : 0;
	s->yield_ns = s->budget_ns;
	s->adaptive = adaptive;
	adapt_init(&s->busy);
	adapt_init(&s->yield);
	if (adaptive && s->budget_ns && usable_cpus() < 2)
		s->budget_ns = 0;
}

static long adapt_budget(struct vchan_adapt *a, long budget)
{
	if (!budget)
		return 0;
	if (a->skip) {
		a->skip--;
		return 0;
	}
	return budget;
}

static void adapt_result(struct vchan_adapt *a, bool adaptive, bool hit)
{
	if (hit) {
		a->hits++;
		if (a->score < SCORE_MAX)
			a->score++;
		if (a->score == SCORE_MAX)
			a->backoff = BACKOFF_FIRST;
		return;
	}
	a->misses++;
	if (!adaptive)
		return;
	a->score -= 2;
	if (a->score <= SCORE_MIN) {
		a->skip = a->backoff;
		if (a->backoff < BACKOFF_MAX)
			a->backoff *= 2;
		a->score = 0;
	}
}

long vchan_spin_budget(struct vchan_spin *s)
{
	return adapt_budget(&s->busy, s->budget_ns);
}

void vchan_spin_result(struct vchan_spin *s, bool hit)
{
	adapt_result(&s->busy, s->adaptive, hit);
}

long vchan_yield_budget(struct vchan_spin *s)
{
	/* Without adaptation the busy phase alone is what was asked for. */
	return s->adaptive ? adapt_budget(&s->yield, s->yield_ns) : 0;
}

void vchan_yield_result(struct vchan_spin *s, bool hit)
{
	adapt_result(&s->yield, s->adaptive, hit);
}

bool vchan_spin_enabled(const struct vchan_spin *s)
{
	return (s->budget_ns && !s->busy.skip) ||
	       (s->adaptive && s->yield_ns && !s->yield.skip);
}
