/* SPDX-License-Identifier: MIT */
/* The send and receive locks of a channel end, biased to one thread.
 *
 * An end is usually driven by one thread per direction (often one thread
 * for both).  A pthread mutex costs that thread two locked instructions per
 * call, each waiting until its earlier stores have reached the cache: with
 * 64-byte messages that was a quarter of a send and of a receive.  So the
 * first thread that takes a lock owns it: it enters by storing `busy` and
 * loading `revoked`, and leaves by storing `busy`, with no atomic
 * read-modify-write (vchan_lock() and friends in vchan_priv.h).
 *
 * The first time another thread wants the lock, it takes the queue, sets
 * `revoked`, and runs membarrier(2): every thread of the process then passes
 * a full barrier, so either the owner's `busy` store is visible to the
 * revoker or the owner's next load of `revoked` sees 1 (the asymmetric half
 * of a Dekker handshake: the owner pays nothing for it).  The revoker waits
 * until `busy` is 0; from then on everyone, the owner included, uses the
 * queue.  The bias never comes back, so a program that moves a direction
 * between threads pays the membarrier once.
 *
 * The queue is a ticket lock, not a pthread mutex: a mutex lets the thread
 * that just left take it again at once, before the waiter it woke runs, so
 * a thread looping on blocking calls (each holding the lock until data
 * comes or its timeout) kept another thread's call out for 18 s in the
 * stress test.  With tickets a call waits only for the calls that came
 * before it.
 *
 * An owner leaving stores `busy` 0, then wakes the revoker if it saw
 * `revoked`; without a barrier between the two it may miss a revoker that
 * has just started to wait, which therefore waits in 1 ms steps.  That can
 * happen once per lock, when the bias is revoked: afterwards the former
 * owner finds `revoked` set before it stores `busy` and goes straight to
 * the queue.
 *
 * Without membarrier (an old kernel, a seccomp filter) no lock is ever
 * biased: they are plain queues. */
#include "config.h"

#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vchan_priv.h"

__thread char vchan_lock_token;

static pthread_once_t bias_once = PTHREAD_ONCE_INIT;
static int bias_usable;

static void bias_probe(void)
{
	long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	if (syscall(SYS_membarrier,
		    MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) < 0)
		return;
	bias_usable = 1;
}

/* A waiter whose turn has not come spins this many rounds before it
 * sleeps: a holder that is copying leaves within that. */
#define QUEUE_SPINS 128

void vchan_queue_lock(struct vchan_lock *l)
{
	unsigned t = __atomic_fetch_add(&l->next, 1, __ATOMIC_SEQ_CST);
	unsigned s, spins = 0;

	while ((s = __atomic_load_n(&l->serving, __ATOMIC_ACQUIRE)) != t) {
		if (++spins < QUEUE_SPINS) {
			vchan_cpu_relax();
			continue;
		}
		/* Counted first (seq_cst), so that an unlock that misses
		 * the count changed serving before the kernel looks at it:
		 * FUTEX_WAIT sleeps only while serving is still s. */
		__atomic_fetch_add(&l->sleepers, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &l->serving, FUTEX_WAIT_PRIVATE, s, NULL,
			NULL, 0);
		__atomic_fetch_sub(&l->sleepers, 1, __ATOMIC_RELAXED);
	}
}

bool vchan_queue_trylock(struct vchan_lock *l)
{
	/* Acquire: the last holder's stores are ours once we are in. */
	unsigned s = __atomic_load_n(&l->serving, __ATOMIC_ACQUIRE);
	unsigned n = s;

	/* Free with nobody queued: exactly the tickets served were given. */
	return __atomic_compare_exchange_n(&l->next, &n, s + 1, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

void vchan_queue_unlock(struct vchan_lock *l)
{
	unsigned s = __atomic_load_n(&l->serving, __ATOMIC_RELAXED) + 1;

	/* Store, then load the count, both seq_cst (a full barrier
	 * between): either we see a sleeper and wake them all (the one whose
	 * turn it is among them), or the kernel's look at serving inside its
	 * FUTEX_WAIT, which follows its count after a full barrier, sees
	 * this store and it does not sleep.  Waiters that only spin cost no
	 * system call. */
	__atomic_store_n(&l->serving, s, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&l->sleepers, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &l->serving, FUTEX_WAKE_PRIVATE, INT_MAX,
			NULL, NULL, 0);
}

void vchan_lock_init(struct vchan_lock *l)
{
	l->next = l->serving = 0;
	l->sleepers = 0;
	l->owner = NULL;
	l->busy = 0;
	l->holder = NULL;
	pthread_once(&bias_once, bias_probe);
	/* No membarrier: born revoked, a plain queue. */
	l->revoked = !bias_usable;
}

void vchan_lock_destroy(struct vchan_lock *l)
{
	(void)l;   /* nothing to free: kept for symmetry with init */
}

void vchan_lock_leave(struct vchan_lock *l)
{
	__atomic_store_n(&l->busy, 0, __ATOMIC_RELEASE);
	if (__atomic_load_n(&l->revoked, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &l->busy, FUTEX_WAKE_PRIVATE, 1, NULL,
			NULL, 0);
}

/* Queue held: set revoked, then a barrier on every thread of the process.
 * A child of fork() is not registered (the registration belongs to the
 * parent's address space): register, and if even that fails take the
 * global barrier, slow but needing no registration. */
static void revoke_mark(struct vchan_lock *l)
{
	__atomic_store_n(&l->revoked, 1, __ATOMIC_SEQ_CST);
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return;
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
		    0, 0) == 0 &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
		return;
	syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
}

/* Queue held: make sure the bias is gone and its owner out. */
static void revoke_bias(struct vchan_lock *l)
{
	const struct timespec step = { 0, 1000000 };

	if (!__atomic_load_n(&l->revoked, __ATOMIC_RELAXED))
		revoke_mark(l);
	/* The owner inside, or just backing out of its fast path. */
	while (__atomic_load_n(&l->busy, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &l->busy, FUTEX_WAIT_PRIVATE, 1, &step,
			NULL, 0);
}

/* Become the owner if there is none yet (one compare-and-swap, once). */
static bool claim(struct vchan_lock *l)
{
	const void *none = NULL;

	if (__atomic_load_n(&l->revoked, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&l->owner, __ATOMIC_RELAXED))
		return false;
	if (!__atomic_compare_exchange_n(&l->owner, &none, &vchan_lock_token,
					 false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return false;
	return vchan_lock_enter_biased(l);
}

void vchan_lock_slow(struct vchan_lock *l)
{
	if (claim(l))
		return;
	vchan_queue_lock(l);
	revoke_bias(l);
}

bool vchan_trylock_slow(struct vchan_lock *l)
{
	if (claim(l))
		return true;
	if (!vchan_queue_trylock(l))
		return false;
	if (!__atomic_load_n(&l->revoked, __ATOMIC_RELAXED))
		revoke_mark(l);
	if (__atomic_load_n(&l->busy, __ATOMIC_ACQUIRE)) {
		/* The owner is inside: the lock is taken. */
		vchan_queue_unlock(l);
		return false;
	}
	return true;
}
