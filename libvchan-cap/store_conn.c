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
 * A lost connection.  libxenstore gives a connection up for good when a
 * request's write or read fails (xenstored restarted, say): every later
 * call fails (hyp_store_lost()).  So the next reference taken retires it
 * and opens a fresh one, which new references get; the channels that hold
 * the lost one move to the fresh one before they close
 * (vchan_store_renew()), so that their clean-ups are done.  A retired
 * connection is closed when its last reference goes: a channel may be
 * between two requests on it.
 *
 * Locking: mu guards the state, and is held across fork() (fork.c) so
 * that a child's copy is sane.  References carry the epoch of the
 * connections they were taken on: a forked child drops the inherited
 * connections at its first call (the one way a child may) and moves the
 * epoch on, so its copies of the parent's channels give back nothing of a
 * connection of its own. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "store_conn.h"
#include "vchan_priv.h"

/* One connection and the references to it. */
struct conn {
	struct hyp_store *st;
	unsigned long refs;
	struct conn *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static struct conn *conns;      /* every one with references */
static struct conn *cur;        /* the one new references get; NULL: none */
static unsigned long epoch;     /* of conns; moves on with each fork drop */
static pid_t conns_pid;         /* the process conns belong to */

static void guard(void)
{
	vchan_fork_guard(&mu);
}

/* Take mu; in a forked child, drop the parent's connections first. */
static void enter(void)
{
	struct conn *c;

	pthread_once(&guard_once, guard);
	vchan_guard_lock(&mu);
	if (conns && conns_pid != getpid()) {
		while ((c = conns)) {
			conns = c->next;
			hyp_store_close_postfork(c->st);
			free(c);
		}
		cur = NULL;
		epoch++;
	}
}

/* Under mu: drop a reference to c, closing it with the last. */
static void unref(struct conn *c)
{
	struct conn **pp;

	if (--c->refs)
		return;
	for (pp = &conns; *pp != c; pp = &(*pp)->next)
		;
	*pp = c->next;
	if (cur == c)
		cur = NULL;
	hyp_store_close(c->st);
	free(c);
}

/* Under mu: a reference to the current connection, a lost one retired and
 * a fresh one opened if need be. */
static int ref_current(struct hyp_store **out)
{
	static int lost_logged;
	struct conn *c;
	int r;

	if (cur && hyp_store_lost(cur->st)) {
		if (vchan_first_time(&lost_logged))
			vchan_log("store", "the connection to the store was "
				  "lost: channels go on over a fresh one");
		cur = NULL;     /* closed with its last reference */
	}
	if (!cur) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return -ENOMEM;
		r = hyp_store_open(&c->st);
		if (r < 0) {
			free(c);
			return r;
		}
		if (!conns)
			conns_pid = getpid();
		c->next = conns;
		conns = c;
		cur = c;
	}
	cur->refs++;
	*out = cur->st;
	return 0;
}

/* Under mu: the connection st of this epoch's references (NULL: none). */
static struct conn *find(const struct hyp_store *st)
{
	struct conn *c;

	for (c = conns; c && c->st != st; c = c->next)
		;
	return c;
}

int vchan_store_get(struct hyp_store **out, unsigned long *ep)
{
	int r;

	enter();
	r = ref_current(out);
	if (r == 0)
		*ep = epoch;
	vchan_guard_unlock(&mu);
	return r;
}

void vchan_store_put(struct hyp_store *st, unsigned long ep)
{
	struct conn *c;

	enter();
	if (st && ep == epoch && (c = find(st)))
		unref(c);
	vchan_guard_unlock(&mu);
}

int vchan_store_renew(struct hyp_store **st, unsigned long *ep)
{
	struct hyp_store *fresh;
	struct conn *c;
	int r = 0;

	if (!hyp_store_lost(*st))
		return 0;
	enter();
	c = *ep == epoch ? find(*st) : NULL;
	if (c) {
		r = ref_current(&fresh);
		if (r == 0) {
			unref(c);
			*st = fresh;
		}
	}
	vchan_guard_unlock(&mu);
	return r;
}
