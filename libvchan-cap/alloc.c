/* SPDX-License-Identifier: MIT */
/* The data path's buffers (the receive stash and bounce buffer, the send
 * backlog's spare), grown in one place, which tests make fail on purpose:
 * what a channel does without memory is a path to test like any other. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "vchan_priv.h"

/* Allocations left before the one that fails (0: none fails). */
static unsigned fail_in;

void vchan_fail_alloc(unsigned n)
{
	__atomic_store_n(&fail_in, n, __ATOMIC_RELAXED);
}

int vchan_room(uint8_t **buf, size_t *cap, size_t len)
{
	unsigned k = __atomic_load_n(&fail_in, __ATOMIC_RELAXED);
	uint8_t *p;

	if (*buf && *cap >= len)
		return 0;
	/* Whoever takes the count from 1 to 0 fails. */
	while (k && !__atomic_compare_exchange_n(&fail_in, &k, k - 1, false,
						 __ATOMIC_RELAXED,
						 __ATOMIC_RELAXED))
		;
	p = k == 1 ? NULL : realloc(*buf, len ? len : 1);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = len ? len : 1;
	return 0;
}
