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
 * The queue is a pthread mutex that does not let a waiter starve: a mutex
 * lets the thread that just left take it again at once, before the waiter
 * it woke runs, so a thread looping on blocking calls (each holding the
 * lock until data comes or its timeout) kept another thread's call out for
 * 18 s in the stress test.  A waiter that has waited STARVE_NS says so, and
 * newcomers stand back until it is in: it then waits for the calls that
 * were in or waiting, not for ones that came after it.  (A ticket lock
 * was fair too, but it hands the lock to a waiter that must first be
 * scheduled: with 4 threads taking turns on 2 CPUs it managed 0.1 million
 * hand-overs a second against the mutex's 2.8 million.)
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

/* How long a waiter competes before the others stand back for it. */
#define STARVE_NS 1000000

/* ThreadSanitizer (GCC 12's) does not know pthread_mutex_clocklock(): it
 * would take every lock so taken for unheld at its unlock.  Under it the
 * wait runs on the wall clock instead, which only a clock step disturbs. */
#if defined(__SANITIZE_THREAD__)
#define STARVE_CLOCK CLOCK_REALTIME
#define starve_lock(mu, clk, until) pthread_mutex_timedlock(mu, until)
#else
#define STARVE_CLOCK CLOCK_MONOTONIC
#define starve_lock(mu, clk, until) pthread_mutex_clocklock(mu, clk, until)
#endif

void vchan_queue_lock(struct vchan_lock *l)
{
	struct timespec until;
	int n;

	/* A waiter has waited STARVE_NS: stand back until it is in. */
	while ((n = __atomic_load_n(&l->starving, __ATOMIC_ACQUIRE)) != 0)
		syscall(SYS_futex, &l->starving, FUTEX_WAIT_PRIVATE, n, NULL,
			NULL, 0);
	if (pthread_mutex_trylock(&l->mu) == 0)
		return;
	clock_gettime(STARVE_CLOCK, &until);
	until.tv_nsec += STARVE_NS;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (starve_lock(&l->mu, STARVE_CLOCK, &until) == 0)
		return;
	/* Starving: newcomers (the thread that just left, above all) wait
	 * now, and only the threads already waiting compete with us. */
	__atomic_fetch_add(&l->starving, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&l->mu);
	/* Wakes those who stood back (they sleep only while the count is
	 * what they saw, and it changed). */
	if (__atomic_sub_fetch(&l->starving, 1, __ATOMIC_SEQ_CST) == 0)
		syscall(SYS_futex, &l->starving, FUTEX_WAKE_PRIVATE, INT_MAX,
			NULL, NULL, 0);
}

bool vchan_queue_trylock(struct vchan_lock *l)
{
	/* Not while a waiter starves: it goes first. */
	if (__atomic_load_n(&l->starving, __ATOMIC_ACQUIRE))
		return false;
	return pthread_mutex_trylock(&l->mu) == 0;
}

void vchan_queue_unlock(struct vchan_lock *l)
{
	pthread_mutex_unlock(&l->mu);
}

void vchan_lock_init(struct vchan_lock *l)
{
	pthread_mutex_init(&l->mu, NULL);
	l->starving = 0;
	l->owner = NULL;
	l->busy = 0;
	l->holder = NULL;
	pthread_once(&bias_once, bias_probe);
	/* No membarrier: born revoked, a plain queue. */
	l->revoked = !bias_usable;
}

void vchan_lock_destroy(struct vchan_lock *l)
{
	pthread_mutex_destroy(&l->mu);
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
