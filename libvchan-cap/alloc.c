/* SPDX-License-Identifier: MIT */
/* The data path's allocations (the receive stash, the send backlog), which
 * tests make fail on purpose: what a channel does without memory is a path
 * to test like any other. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "vchan_priv.h"

/* Allocations left before the one that fails (0: none fails). */
static unsigned fail_in;

void vchan_fail_alloc(unsigned n)
{
	__atomic_store_n(&fail_in, n, __ATOMIC_RELAXED);
}

void *vchan_realloc(void *p, size_t n)
{
	unsigned k = __atomic_load_n(&fail_in, __ATOMIC_RELAXED);

	/* Whoever takes the count from 1 to 0 fails. */
	while (k && !__atomic_compare_exchange_n(&fail_in, &k, k - 1, false,
						 __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
		;
	if (k == 1) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n ? n : 1);
}
