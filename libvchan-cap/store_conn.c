/* SPDX-License-Identifier: MIT */
/* The store connection of a process's channels over Xen.
 *
 * Each channel reads and writes its nodes (the offer, liveness, claim and
 * offer-record nodes, and the clean-ups) when it opens and when it closes.
 * A connection of its own held a descriptor for the channel's whole life:
 * one of the six a channel costs.  So the channels of a process share one,
 * opened with the first and closed with the last.  It holds no watch (the
 * peer watch has its own connection, peer_watch.c, which a refused watch
 * makes it replace), so nothing closes it under a caller.  libxenstore
 * serialises each request and its reply on a handle, and xenstored keeps
 * transactions of one connection apart; in a guest every process's
 * requests share the domain's one xenstored connection anyway, so its
 * transaction quota is the domain's either way.
 *
 * Locking: mu guards the state, and is held across fork() (fork.c) so
 * that a child's copy is sane.  References carry the epoch of the
 * connection they were taken on: a forked child drops the inherited
 * connection at its first call (the one way a child may) and moves the
 * epoch on, so its copies of the parent's channels give back nothing of a
 * connection of its own. */
#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include "store_conn.h"
#include "vchan_priv.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static struct hyp_store *st;    /* NULL: none */
static unsigned long refs;
static unsigned long epoch;     /* of st; moves on with each drop */
static pid_t st_pid;            /* the process st belongs to */

static void guard(void)
{
	vchan_fork_guard(&mu);
}

/* Take mu; in a forked child, drop the parent's connection first. */
static void enter(void)
{
	pthread_once(&guard_once, guard);
	vchan_guard_lock(&mu);
	if (st && st_pid != getpid()) {
		hyp_store_close_postfork(st);
		st = NULL;
		refs = 0;
		epoch++;
	}
}

int vchan_store_get(struct hyp_store **out, unsigned long *ep)
{
	int r = 0;

	enter();
	if (!st) {
		r = hyp_store_open(&st);
		if (r < 0)
			st = NULL;
		else
			st_pid = getpid();
	}
	if (r == 0) {
		refs++;
		*out = st;
		*ep = epoch;
	}
	vchan_guard_unlock(&mu);
	return r;
}

void vchan_store_put(unsigned long ep)
{
	enter();
	if (st && ep == epoch && --refs == 0) {
		hyp_store_close(st);
		st = NULL;
		epoch++;
	}
	vchan_guard_unlock(&mu);
}
