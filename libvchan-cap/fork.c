/* SPDX-License-Identifier: MIT */
/* Channels over Xen and fork().
 *
 * Xen's handles and grant mappings belong to the process that opened them:
 * after fork() a child may only close the handles it inherited (xenevtchn.h,
 * xengnttab.h; libxenstore offers xs_daemon_destroy_postfork(), as its
 * xs_close() would join a reader thread the child does not have).  A child's
 * close must not reach what the parent still uses either: the shared page,
 * the port, the grants, the store nodes, the parent's locks and condvar
 * (whose copies may name parent threads that the child does not have).
 *
 * So an end over Xen records its process's fork generation when it is made;
 * a pthread_atfork() child handler bumps the generation, and every public
 * call compares it (one load: nothing on the data path asks the kernel).
 * In a child every call but vchan_close() then gives -EBADF, and
 * vchan_close() frees only the child's copy.  vchan_close() also compares
 * the pid, which catches a child made without fork()'s handlers (a raw
 * clone()).  The shared-memory pair is made to survive fork() and is not
 * tracked.
 *
 * A child that lives on would also keep the parent's references to the
 * Xen devices (gntdev or gntalloc, evtchn), and the kernel fires the
 * unmap-notify that tells the peer of the parent's death only when the
 * last holder lets go.  So each channel lists its device descriptors
 * (struct vchan_fork_hold), and the child handler puts /dev/null over them
 * in the child: the fd numbers stay valid for the library's close, the
 * devices are the parent's alone.  Only async-signal-safe calls there.
 * holds_mu orders the list against fork(): taken before, dropped after;
 * so do the mutexes of other files' process-wide state (vchan_fork_guard),
 * whose children's copies are then sane.  Those must be leaves, which
 * lock_order.c checks. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "vchan_priv.h"

unsigned vchan_fork_generation;

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_err;
static pthread_mutex_t holds_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vchan_fork_hold *holds;    /* under holds_mu */
/* Other files' mutexes, held across fork() after holds_mu (none is taken
 * with holds_mu held elsewhere, nor holds_mu or another under one of them:
 * lock_order.c); under holds_mu. */
#define FORK_GUARDS 8
static pthread_mutex_t *guards[FORK_GUARDS];
static unsigned n_guards;

static void unlock_guards(void)
{
	for (unsigned i = n_guards; i-- > 0;)
		pthread_mutex_unlock(guards[i]);
}

static void before_fork(void)
{
	vchan_guard_check(VCHAN_GUARD_AT_FORK);
	pthread_mutex_lock(&holds_mu);
	for (unsigned i = 0; i < n_guards; i++)
		pthread_mutex_lock(guards[i]);
}

static void in_parent(void)
{
	unlock_guards();
	pthread_mutex_unlock(&holds_mu);
}

static void in_child(void)
{
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	__atomic_add_fetch(&vchan_fork_generation, 1, __ATOMIC_RELAXED);
	for (struct vchan_fork_hold *h = holds; h; h = h->next) {
		for (unsigned i = 0; nul >= 0 && i < VCHAN_FORK_FDS; i++)
			if (h->fd[i] >= 0)
				(void)dup3(nul, h->fd[i], O_CLOEXEC);
		/* Not on the child's list: an unhold there touches nothing. */
		h->listed = false;
	}
	if (nul >= 0)
		close(nul);
	holds = NULL;    /* the parent's channels */
	unlock_guards();
	pthread_mutex_unlock(&holds_mu);
}

static void install(void)
{
	install_err = pthread_atfork(before_fork, in_parent, in_child);
}

void vchan_fork_block(void)
{
	pthread_once(&install_once, install);
	vchan_guard_check(VCHAN_GUARD_AT_HOLDS);
	pthread_mutex_lock(&holds_mu);
}

void vchan_fork_unblock(struct vchan_fork_hold *h)
{
	if (h && !h->listed) {
		h->prev = NULL;
		h->next = holds;
		if (holds)
			holds->prev = h;
		holds = h;
		h->listed = true;
	}
	pthread_mutex_unlock(&holds_mu);
}

void vchan_fork_hold(struct vchan_fork_hold *h)
{
	vchan_fork_block();
	vchan_fork_unblock(h);
}

void vchan_fork_guard(pthread_mutex_t *mu)
{
	pthread_once(&install_once, install);
	vchan_guard_check(VCHAN_GUARD_AT_HOLDS);
	pthread_mutex_lock(&holds_mu);
	/* The library's own files register a fixed few: one more than fits
	 * is a build's mistake, caught by the first test that opens a
	 * channel, never a state to run on unguarded. */
	if (n_guards == FORK_GUARDS)
		abort();
	guards[n_guards++] = mu;
	pthread_mutex_unlock(&holds_mu);
}

void vchan_fork_unhold(struct vchan_fork_hold *h)
{
	vchan_guard_check(VCHAN_GUARD_AT_HOLDS);
	if (!h->listed)
		return;
	pthread_mutex_lock(&holds_mu);
	if (h->prev)
		h->prev->next = h->next;
	else
		holds = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->listed = false;
	pthread_mutex_unlock(&holds_mu);
}

void vchan_fork_track(struct vchan *v)
{
	pthread_once(&install_once, install);
	if (install_err)
		vchan_log(v->name, "pthread_atfork: error %d: a forked child's "
			  "calls on this channel are not refused (its "
			  "vchan_close() still leaves the parent's alone)",
			  install_err);
	v->fork_bound = true;
	v->fork_gen = __atomic_load_n(&vchan_fork_generation, __ATOMIC_RELAXED);
	v->owner = getpid();
}

int vchan_fork_refuse(const struct vchan *v)
{
	struct vchan *mine = (struct vchan *)v;   /* the child's own copy */

	if (!__atomic_exchange_n(&mine->fork_logged, true, __ATOMIC_RELAXED))
		vchan_log(v->name, "used in pid %d, a child of pid %d that "
			  "opened it: a channel over Xen does not survive "
			  "fork(); the child may only vchan_close() it (EBADF)",
			  (int)getpid(), (int)v->owner);
	return -EBADF;
}

bool vchan_fork_orphan(const struct vchan *v)
{
	return v->fork_bound && (vchan_inherited(v) || getpid() != v->owner);
}
