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
 * tracked. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "vchan_priv.h"

unsigned vchan_fork_generation;

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_err;

static void in_child(void)
{
	__atomic_add_fetch(&vchan_fork_generation, 1, __ATOMIC_RELAXED);
}

static void install(void)
{
	install_err = pthread_atfork(NULL, NULL, in_child);
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
