/* SPDX-License-Identifier: MIT */
/* The fork guards' lock order, checked as the library runs.
 *
 * fork.c's prepare handler takes holds_mu, then every guarded mutex in the
 * order they were registered (vchan_fork_guard).  That is deadlock-free
 * only if each guarded mutex is a leaf: a thread that holds one takes no
 * other guarded mutex and not holds_mu (vchan_fork_hold, _unhold, _guard,
 * and a first-time registration inside some pthread_once()), and does not
 * fork() itself.  Otherwise a fork() racing with it waits for a mutex that
 * thread holds while the thread waits for one the prepare handler took.
 *
 * Such a race is rare; the nesting that allows it is not.  So the guarded
 * files lock through vchan_guard_lock(), which counts the guarded mutexes
 * this thread holds, and every place that must not be reached under one
 * asks vchan_guard_check().  A breach is logged once per place, whether or
 * not a fork() came; with VCHAN_LOCK_CHECK=abort in the environment (every
 * test tier sets it) it aborts, so a test that walks the path fails. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vchan_priv.h"

/* Guarded mutexes the calling thread holds. */
static __thread unsigned guards_held;

/* The places that have logged a breach, one bit each (see vchan_priv.h). */
static unsigned logged;

static void breach(enum vchan_guard_place where, const char *what)
{
	const char *mode = getenv("VCHAN_LOCK_CHECK");
	unsigned bit = 1u << where;

	if (!(__atomic_fetch_or(&logged, bit, __ATOMIC_RELAXED) & bit))
		vchan_log("fork guards", "lock order broken: %s while this thread "
			  "holds %u fork-guarded mutex(es); a fork() at this "
			  "moment would deadlock (a library bug: please "
			  "report it)", what, guards_held);
	if (mode && !strcmp(mode, "abort"))
		abort();
}

void vchan_guard_check(enum vchan_guard_place where)
{
	static const char *const what[VCHAN_GUARD_PLACES] = {
		[VCHAN_GUARD_AT_LOCK] = "a fork-guarded mutex taken",
		[VCHAN_GUARD_AT_HOLDS] = "fork.c's list lock taken",
		[VCHAN_GUARD_AT_FORK] = "fork() called",
	};

	if (__builtin_expect(guards_held != 0, 0))
		breach(where, what[where]);
}

void vchan_guard_lock(pthread_mutex_t *mu)
{
	vchan_guard_check(VCHAN_GUARD_AT_LOCK);
	pthread_mutex_lock(mu);
	guards_held++;
}

void vchan_guard_unlock(pthread_mutex_t *mu)
{
	guards_held--;
	pthread_mutex_unlock(mu);
}
