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
 * biased: they are plain queues.
 *
 * A call's timeout bounds its wait for the lock too, since a blocking call
 * holds its direction while it sleeps: every wait on the way in (standing
 * back, the queue, the starving wait, the owner's way out) ends at the
 * call's deadline, with -ETIMEDOUT.  With timeout 0 the call still waits
 * for a holder that runs: that holder is in for nanoseconds, and an
 * -EAGAIN while a whole message is in the ring could leave an event loop
 * asleep on its fd.  It gives up (-EAGAIN) once the holder sleeps in
 * vchan_wait() (`asleep`): then the ring had nothing for the holder, and
 * the event that wakes it also makes vchan_fd() readable.  Such a waiter
 * looks at `asleep` every LOOK_NS.  Only the slow path knows deadlines:
 * the owner's way in is as before. */
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
#define STARVE_NS 1000000ull
/* How often a waiter with timeout 0 looks whether the holder sleeps. */
#define LOOK_NS 1000000ull
/* How often a revoker looks whether the owner left (its wake-up may be
 * missed: see above). */
#define REVOKE_STEP_NS 1000000ull

static struct timespec ns_ts(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};
	return ts;
}

/* Take mu, waiting until `end` (vchan_now_ns() clock; UINT64_MAX: for
 * ever); pthread's error (ETIMEDOUT) when it could not.
 * ThreadSanitizer (GCC 12's) does not know pthread_mutex_clocklock(): it
 * would take every lock so taken for unheld at its unlock.  Under it the
 * wait runs on the wall clock instead, which only a clock step disturbs. */
static int lock_until(pthread_mutex_t *mu, uint64_t end)
{
	struct timespec ts;

	if (end == UINT64_MAX)
		return pthread_mutex_lock(mu);
#if defined(__SANITIZE_THREAD__)
	{
		uint64_t now = vchan_now_ns(), wall;

		clock_gettime(CLOCK_REALTIME, &ts);
		wall = (uint64_t)ts.tv_sec * 1000000000u +
		       (uint64_t)ts.tv_nsec + (end > now ? end - now : 0);
		ts = ns_ts(wall);
		return pthread_mutex_timedlock(mu, &ts);
	}
#else
	ts = ns_ts(end);
	return pthread_mutex_clocklock(mu, CLOCK_MONOTONIC, &ts);
#endif
}

/* Sleep while *word is val, at most until `end` (UINT64_MAX: for ever) and
 * at most `step` ns (0: no limit). */
static void futex_wait_until(int *word, int val, uint64_t end, uint64_t step)
{
	struct timespec rel, *tp = NULL;

	if (end != UINT64_MAX) {
		uint64_t now = vchan_now_ns();

		if (now >= end)
			return;
		if (!step || end - now < step)
			step = end - now;
	}
	if (step) {
		rel = ns_ts(step);
		tp = &rel;
	}
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, tp, NULL, 0);
}

/* Before each wait for the lock: whether the call gives up (its error),
 * else 0 and *end, when this wait must end to look again (UINT64_MAX:
 * never).  The clock is read only for a call with a deadline. */
static int give_up(const struct vchan_lock *l, uint64_t *dlp, uint64_t *end)
{
	uint64_t now, dl = *dlp;

	if (dl == UINT64_MAX) {
		*end = UINT64_MAX;
		return 0;
	}
	if (dl == 0) {
		if (__atomic_load_n(&l->asleep, __ATOMIC_ACQUIRE))
			return -EAGAIN;
		*end = vchan_now_ns() + LOOK_NS;
		return 0;
	}
	now = vchan_now_ns();
	dl = vchan_deadline_at(dlp, now);
	if (now >= dl)
		return -ETIMEDOUT;
	*end = dl;
	return 0;
}

/* The queue, within the call's deadline (UINT64_MAX: none). */
static int queue_lock_until(struct vchan_lock *l, uint64_t *dlp)
{
	uint64_t starve_at, end;
	int n, r;

	/* A waiter has waited STARVE_NS: stand back until it is in (it
	 * changes the count then, or when it gives up). */
	while ((n = __atomic_load_n(&l->starving, __ATOMIC_ACQUIRE)) != 0) {
		r = give_up(l, dlp, &end);
		if (r < 0)
			return r;
		futex_wait_until(&l->starving, n, end, 0);
	}
	if (pthread_mutex_trylock(&l->mu) == 0)
		return 0;
	starve_at = vchan_now_ns() + STARVE_NS;
	for (;;) {
		r = give_up(l, dlp, &end);
		if (r < 0)
			return r;
		if (lock_until(&l->mu, end < starve_at ? end : starve_at) == 0)
			return 0;
		if (end >= starve_at)
			break;      /* STARVE_NS is up */
	}
	/* Starving: newcomers (the thread that just left, above all) wait
	 * now, and only the threads already waiting compete with us. */
	__atomic_fetch_add(&l->starving, 1, __ATOMIC_SEQ_CST);
	do {
		r = give_up(l, dlp, &end);
	} while (r == 0 && lock_until(&l->mu, end) != 0);
	/* In, or given up: wakes those who stood back (they sleep only
	 * while the count is what they saw, and it changed). */
	if (__atomic_sub_fetch(&l->starving, 1, __ATOMIC_SEQ_CST) == 0)
		syscall(SYS_futex, &l->starving, FUTEX_WAKE_PRIVATE, INT_MAX,
			NULL, NULL, 0);
	return r;
}

void vchan_queue_lock(struct vchan_lock *l)
{
	uint64_t forever = UINT64_MAX;

	(void)queue_lock_until(l, &forever);
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
	l->asleep = 0;
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

/* Queue held: make sure the bias is gone and its owner out, within the
 * call's deadline. */
static int revoke_bias(struct vchan_lock *l, uint64_t *dlp)
{
	uint64_t end;
	int r;

	if (!__atomic_load_n(&l->revoked, __ATOMIC_RELAXED))
		revoke_mark(l);
	/* The owner inside, or just backing out of its fast path. */
	while (__atomic_load_n(&l->busy, __ATOMIC_ACQUIRE)) {
		r = give_up(l, dlp, &end);
		if (r < 0)
			return r;
		futex_wait_until(&l->busy, 1, end, REVOKE_STEP_NS);
	}
	return 0;
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

int vchan_lock_slow_until(struct vchan_lock *l, uint64_t *dlp)
{
	int r;

	if (claim(l))
		return 0;
	r = queue_lock_until(l, dlp);
	if (r < 0)
		return r;
	/* Given up on an owner inside: the bias stays revoked (it never
	 * comes back), the owner's leaving wakes nobody. */
	r = revoke_bias(l, dlp);
	if (r < 0)
		vchan_queue_unlock(l);
	return r;
}

void vchan_lock_slow(struct vchan_lock *l)
{
	uint64_t forever = UINT64_MAX;

	(void)vchan_lock_slow_until(l, &forever);
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
