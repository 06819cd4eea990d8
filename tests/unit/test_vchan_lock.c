/* SPDX-License-Identifier: MIT */
/* The biased send/receive lock (lock.c): its owner goes in and out without
 * the queue, another thread revokes the bias once and only gets in after
 * the owner left, whatever the mix the lock excludes, no waiter starves,
 * and a call's timeout bounds its wait for the lock. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "test_vchan_util.h"

/* Is the bias available here (membarrier)?  A fresh lock says. */
static bool bias_usable(void)
{
	struct vchan_lock l;
	bool r;

	vchan_lock_init(&l);
	r = !l.revoked;
	vchan_lock_destroy(&l);
	return r;
}

static void test_owner_fast_path(void **state)
{
	struct vchan_lock l;

	(void)state;
	vchan_lock_init(&l);
	for (int i = 0; i < 3; i++) {
		vchan_lock(&l);
		if (bias_usable()) {
			/* The first taker owns it and is inside without the
			 * queue: a trylock of the queue succeeds. */
			assert_ptr_equal(l.owner, &vchan_lock_token);
			assert_int_equal(l.busy, 1);
			assert_true(vchan_queue_trylock(&l));
			vchan_queue_unlock(&l);
		} else {
			assert_false(vchan_queue_trylock(&l));
		}
		vchan_unlock(&l);
		assert_int_equal(l.busy, 0);
		assert_true(vchan_trylock(&l));
		vchan_unlock(&l);
	}
	if (bias_usable())
		assert_int_equal(l.revoked, 0);
	vchan_lock_destroy(&l);
}

struct holder {
	struct vchan_lock *l;
	int inside;           /* the other thread is in (atomic) */
	int got;              /* its trylock result */
	bool try_only;
};

static void *other_thread(void *arg)
{
	struct holder *h = arg;

	if (h->try_only) {
		h->got = vchan_trylock(h->l);
		if (h->got)
			vchan_unlock(h->l);
		return NULL;
	}
	vchan_lock(h->l);
	__atomic_store_n(&h->inside, 1, __ATOMIC_SEQ_CST);
	vchan_unlock(h->l);
	return NULL;
}

static void test_revoke_waits_for_owner(void **state)
{
	struct vchan_lock l;
	struct holder h = { .l = &l };
	pthread_t t;

	(void)state;
	vchan_lock_init(&l);
	vchan_lock(&l);             /* we own it and are inside */
	assert_int_equal(pthread_create(&t, NULL, other_thread, &h), 0);
	if (bias_usable()) {
		/* The other thread revokes the bias, then waits for us; how
		 * soon it starts is the scheduler's business (up to 10 s). */
		for (int i = 0; i < 10000 &&
		     !__atomic_load_n(&l.revoked, __ATOMIC_SEQ_CST); i++)
			usleep(1000);
		assert_int_equal(__atomic_load_n(&l.revoked, __ATOMIC_SEQ_CST),
				 1);
	}
	usleep(50000);
	/* The other thread must still be waiting for us. */
	assert_int_equal(__atomic_load_n(&h.inside, __ATOMIC_SEQ_CST), 0);
	vchan_unlock(&l);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(h.inside, 1);
	/* From now on the owner goes through the queue too. */
	vchan_lock(&l);
	assert_int_equal(l.busy, 0);
	assert_false(vchan_queue_trylock(&l));
	vchan_unlock(&l);
	vchan_lock_destroy(&l);
}

static void test_trylock_against_owner(void **state)
{
	struct vchan_lock l;
	struct holder h = { .l = &l, .try_only = true, .got = -1 };
	pthread_t t;

	(void)state;
	vchan_lock_init(&l);
	vchan_lock(&l);
	assert_int_equal(pthread_create(&t, NULL, other_thread, &h), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(h.got, 0);   /* taken: we are inside */
	vchan_unlock(&l);
	h.got = -1;
	assert_int_equal(pthread_create(&t, NULL, other_thread, &h), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(h.got, 1);   /* free now */
	vchan_lock_destroy(&l);
}

#define THREADS 4
#define ROUNDS 20000
#define REPEATS 20

struct counting {
	struct vchan_lock l;
	uint64_t count;       /* plain: only ever touched under the lock */
	int start;
};

static void *count_thread(void *arg)
{
	struct counting *c = arg;

	while (!__atomic_load_n(&c->start, __ATOMIC_ACQUIRE))
		;
	for (int i = 0; i < ROUNDS; i++) {
		vchan_lock(&c->l);
		c->count = c->count + 1;
		vchan_unlock(&c->l);
		if (i % 4096 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_excludes_under_contention(void **state)
{
	/* The first thread starts alone and holds the bias when the others
	 * come: the revocation happens in the middle of the race, and a
	 * fresh lock each time repeats it. */
	(void)state;
	for (int rep = 0; rep < REPEATS; rep++) {
		struct counting *c = calloc(1, sizeof(*c));
		pthread_t t[THREADS];

		assert_non_null(c);
		vchan_lock_init(&c->l);
		assert_int_equal(pthread_create(&t[0], NULL, count_thread, c),
				 0);
		__atomic_store_n(&c->start, 1, __ATOMIC_RELEASE);
		usleep(200);
		for (int i = 1; i < THREADS; i++)
			assert_int_equal(pthread_create(&t[i], NULL,
							count_thread, c), 0);
		for (int i = 0; i < THREADS; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(c->count, (uint64_t)THREADS * ROUNDS);
		vchan_lock_destroy(&c->l);
		free(c);
	}
}

/* Once the bias is revoked, its former owner goes straight to the queue:
 * it never stores busy again (that store, with the wake-up of backing out,
 * cost it a system call on every lock, and made other threads' trylocks
 * fail while nobody held the lock).  Counted: how often a watcher sees
 * busy set while the former owner takes and leaves the lock. */
#define EX_OWNER_ROUNDS 200000

struct ex_owner {
	struct vchan_lock l;
	int go, done;         /* atomics */
};

static void *ex_owner_thread(void *arg)
{
	struct ex_owner *c = arg;

	vchan_lock(&c->l);    /* the first taker: the owner */
	vchan_unlock(&c->l);
	__atomic_store_n(&c->go, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&c->go, __ATOMIC_ACQUIRE) != 2)
		;
	for (int i = 0; i < EX_OWNER_ROUNDS; i++) {
		vchan_lock(&c->l);
		vchan_unlock(&c->l);
	}
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_ex_owner_leaves_busy_alone(void **state)
{
	struct ex_owner c = { .go = 0 };
	unsigned long seen = 0, looks = 0;
	pthread_t t;

	(void)state;
	/* (Without membarrier the lock is born revoked: the same holds.) */
	vchan_lock_init(&c.l);
	assert_int_equal(pthread_create(&t, NULL, ex_owner_thread, &c), 0);
	while (!__atomic_load_n(&c.go, __ATOMIC_ACQUIRE))
		;
	vchan_lock(&c.l);     /* another thread: the bias is revoked */
	vchan_unlock(&c.l);
	assert_int_equal(c.l.revoked, 1);
	__atomic_store_n(&c.go, 2, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE)) {
		seen += __atomic_load_n(&c.l.busy, __ATOMIC_RELAXED) != 0;
		looks++;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	vchan_lock_destroy(&c.l);
	if (seen)
		fail_msg("busy seen set %lu times in %lu looks after the bias "
			 "was revoked", seen, looks);
}

/* Two threads that take the lock again as soon as they leave it, holding
 * it a while each time (as a blocking call holds its direction until data
 * comes), and a third that wants it once: the third gets in after a few of
 * their holds (it waits 1 ms, then they stand back), not after they are
 * done.  (A plain mutex let the leaving thread straight back in: in the
 * stress test a receive waited 18 s behind another thread's 2 s receives.)
 * Counted in holds, not timed. */
#define LOOP_HOLDS 100
#define FAIR_REPEATS 20

struct looping {
	struct vchan_lock l;
	unsigned holds;       /* atomic: holds begun */
	int stop;             /* atomic */
};

static void *loop_thread(void *arg)
{
	struct looping *c = arg;

	for (int i = 0; i < LOOP_HOLDS &&
	     !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
		vchan_lock(&c->l);
		__atomic_fetch_add(&c->holds, 1, __ATOMIC_SEQ_CST);
		usleep(500);
		vchan_unlock(&c->l);
	}
	return NULL;
}

static void test_no_waiter_starves(void **state)
{
	(void)state;
	for (int rep = 0; rep < FAIR_REPEATS; rep++) {
		struct looping c = { .holds = 0 };
		unsigned before, after;
		pthread_t t[2];

		vchan_lock_init(&c.l);
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL,
							loop_thread, &c), 0);
		while (__atomic_load_n(&c.holds, __ATOMIC_SEQ_CST) < 4)
			usleep(100);
		before = __atomic_load_n(&c.holds, __ATOMIC_SEQ_CST);
		vchan_lock(&c.l);
		after = __atomic_load_n(&c.holds, __ATOMIC_SEQ_CST);
		vchan_unlock(&c.l);
		__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		vchan_lock_destroy(&c.l);
		/* 1 ms of waiting is 2 holds or so, then the hold in
		 * progress and a waiting one; more only if we lost the CPU
		 * meanwhile, hence the margin.  Letting a leaving thread
		 * back in for good makes it all LOOP_HOLDS. */
		if (after - before > 20)
			fail_msg("waited for %u holds of the other threads "
				 "(a waiter that starves goes first after a few)",
				 after - before);
	}
}

/* ---- a call's timeout bounds its wait for its turn too --------------------
 * Thread A blocks in a call of one direction with no timeout (a receive on
 * an empty channel, a send larger than the room left); calls of the same
 * direction from other threads then end at their own deadline: with
 * timeout 0 at once (-EAGAIN: A sleeps, so the ring had nothing for it),
 * with 100 ms after 100 ms (-ETIMEDOUT).  Through every way a waiter takes:
 * A still owning the bias (revoke_bias() waits for it), the queue mutex,
 * the starving wait, and standing back behind a starving waiter.  A
 * watchdog revokes the channel if a call still waits after WATCH_MS, so a
 * call that waits for A fails the test instead of hanging it. */
#define WATCH_MS 3000
#define PROMPT_MS 50      /* "at once", with room for a loaded machine */

struct watchdog {
	struct vchan *v;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, fired;
	pthread_t t;
};

static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	struct timespec until;
	bool fire;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WATCH_MS / 1000;
	pthread_mutex_lock(&w->mu);
	while (!w->done &&
	       pthread_cond_timedwait(&w->cv, &w->mu, &until) != ETIMEDOUT)
		;
	fire = !w->done;
	w->fired = fire;
	pthread_mutex_unlock(&w->mu);
	if (fire)
		vchan_revoke(w->v);   /* every blocked call wakes */
	return NULL;
}

static void watchdog_start(struct watchdog *w, struct vchan *v)
{
	w->v = v;
	w->done = w->fired = false;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	assert_int_equal(pthread_create(&w->t, NULL, watchdog_thread, w), 0);
}

/* Whether it had to revoke. */
static bool watchdog_stop(struct watchdog *w)
{
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	assert_int_equal(pthread_join(w->t, NULL), 0);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	return w->fired;
}

#define BLOCK_TYPE 2      /* A's message when it sends */
#define BLOCK_LEN 200     /* more than the room a full ring leaves */
#define FILL_LEN 64

/* Sends FILL_LEN-byte messages without waiting until the ring is full. */
static void fill_ring(struct vchan *v)
{
	static const uint8_t buf[FILL_LEN];
	int r, n = 0;

	while ((r = vchan_send(v, 1, 0, buf, sizeof(buf), 0)) == 0)
		n++;
	assert_int_equal(r, -EAGAIN);
	assert_true(n > 0);
}

struct blocker {
	struct vchan *v;
	bool send;
	bool raw;             /* vchan_write()/vchan_read() */
	bool fill;            /* send: fill the ring first (A's first calls) */
	int result;
	struct vchan_msg m;
	uint8_t buf[256];
};

#define RAW_BLOCK_LEN 8192   /* twice the ring */

static void *blocker_thread(void *arg)
{
	struct blocker *b = arg;
	static uint8_t big[RAW_BLOCK_LEN];

	if (b->raw) {
		b->result = b->send ? vchan_write(b->v, big, sizeof(big),
						  VCHAN_FOREVER)
				    : vchan_read(b->v, b->buf, sizeof(b->buf),
						 VCHAN_FOREVER);
		return NULL;
	}
	if (!b->send) {
		b->m.buf = b->buf;
		b->m.len = sizeof(b->buf);
		b->result = vchan_recv(b->v, &b->m, VCHAN_FOREVER);
		return NULL;
	}
	if (b->fill)
		fill_ring(b->v);
	memset(b->buf, 0xab, BLOCK_LEN);
	b->result = vchan_send(b->v, BLOCK_TYPE, 0, b->buf, BLOCK_LEN,
			       VCHAN_FOREVER);
	return NULL;
}

/* Every public call that takes a direction's lock with a timeout; the
 * _BIG and _BAD ones with a fault of their own (too long, no buffer). */
enum entry {
	E_RECV, E_RECVV, E_INPLACE, E_READ,
	E_SEND, E_SENDV, E_RESERVE, E_FLUSH, E_WRITE,
	E_RECVV_BAD, E_SEND_BIG, E_SENDV_BIG, E_RESERVE_BIG
};
static const char *const entry_name[] = {
	"vchan_recv", "vchan_recvv", "vchan_recv_inplace", "vchan_read",
	"vchan_send", "vchan_sendv", "vchan_reserve", "vchan_flush",
	"vchan_write",
	"vchan_recvv (no buffer)", "vchan_send (too long)",
	"vchan_sendv (too long)", "vchan_reserve (too long)"
};

static int call_entry(struct vchan *v, enum entry e, int timeout_ms)
{
	uint8_t buf[256] = { 0 };
	struct vchan_msg m[2] = { { .buf = buf, .len = sizeof(buf) },
				  { .buf = buf, .len = sizeof(buf) } };
	void *p;
	int r;

	switch (e) {
	case E_RECV:
		return vchan_recv(v, m, timeout_ms);
	case E_RECVV:
		return vchan_recvv(v, m, 2, timeout_ms);
	case E_INPLACE:
		r = vchan_recv_inplace(v, m, timeout_ms);
		if (r == 0)
			vchan_release(v);
		return r;
	case E_READ:
		return vchan_read(v, buf, sizeof(buf), timeout_ms);
	case E_SEND:
		return vchan_send(v, 3, 0, buf, FILL_LEN, timeout_ms);
	case E_SENDV:
		m[0].len = m[1].len = FILL_LEN;
		return vchan_sendv(v, m, 2, timeout_ms);
	case E_RESERVE:
		r = vchan_reserve(v, FILL_LEN, &p, timeout_ms);
		if (r == 0)
			vchan_commit(v, 0, 0, (size_t)-1);   /* cancel */
		return r;
	case E_FLUSH:
		return vchan_flush(v, timeout_ms);
	case E_WRITE:
		return vchan_write(v, buf, sizeof(buf), timeout_ms);
	case E_RECVV_BAD:
		m[0] = (struct vchan_msg){ .len = 5 };
		return vchan_recvv(v, m, 2, timeout_ms);
	case E_SEND_BIG:
		return vchan_send(v, 3, 0, buf, v->max_msg + 1, timeout_ms);
	case E_SENDV_BIG:
		m[0].len = v->max_msg + 1;
		return vchan_sendv(v, m, 2, timeout_ms);
	case E_RESERVE_BIG:
		return vchan_reserve(v, v->max_msg + 1, &p, timeout_ms);
	}
	return -EINVAL;
}

/* One call: its result and how long it took; `delay_ms` first.  fault:
 * the error the call must return at once whatever its timeout (0: none,
 * it must give up). */
struct probe {
	struct vchan *v;
	enum entry e;
	int timeout_ms, delay_ms;
	int fault;
	int result;
	uint64_t ms;
};

static void *probe_run(void *arg)
{
	struct probe *p = arg;
	uint64_t t0;

	if (p->delay_ms)
		usleep((useconds_t)p->delay_ms * 1000);
	t0 = vchan_now_ns();
	p->result = call_entry(p->v, p->e, p->timeout_ms);
	p->ms = (vchan_now_ns() - t0) / 1000000u;
	return NULL;
}

static void expect_gave_up(const struct probe *p, const char *what)
{
	if (p->fault) {
		if (p->result != p->fault || p->ms >= PROMPT_MS)
			fail_msg("%s %s with timeout %d: %d after %llu ms "
				 "(want %d at once: its own fault, not its "
				 "turn)", entry_name[p->e], what,
				 p->timeout_ms, p->result,
				 (unsigned long long)p->ms, p->fault);
		return;
	}
	if (p->timeout_ms == 0 &&
	    (p->result != -EAGAIN || p->ms >= PROMPT_MS))
		fail_msg("%s %s with timeout 0: %d after %llu ms (want "
			 "-EAGAIN at once)", entry_name[p->e], what, p->result,
			 (unsigned long long)p->ms);
	if (p->timeout_ms > 0 &&
	    (p->result != -ETIMEDOUT || p->ms < (uint64_t)p->timeout_ms ||
	     p->ms >= 1000))
		fail_msg("%s %s with timeout %d ms: %d after %llu ms (want "
			 "-ETIMEDOUT, well before 1 s)", entry_name[p->e],
			 what, p->timeout_ms, p->result,
			 (unsigned long long)p->ms);
}

/* Waits until A sleeps in its call (the sleep counter moves just before). */
static void wait_asleep(struct vchan *v, uint64_t sleeps)
{
	while (__atomic_load_n(&v->sleeps, __ATOMIC_RELAXED) == sleeps)
		usleep(1000);
	usleep(10000);
}

static void blocked_direction(bool send, bool biased)
{
	struct vchan *s, *c;
	struct vchan_lock *l;
	struct blocker a = { .send = send };
	struct probe now, timed, side0, side100, rv;
	struct watchdog w;
	uint64_t sleeps;
	pthread_t ta, t0, t100;
	uint8_t buf[256];
	struct vchan_msg m = { .len = 0 };
	bool fired;
	int r;

	tv_start(12, 12, &s, &c);
	l = send ? &s->tx.mu : &s->rx.mu;
	a.v = s;
	a.fill = send && biased;
	if (!biased) {
		/* This thread owns the lock (a call that finds nothing),
		 * another thread's call revokes the bias. */
		pthread_t t;

		rv = (struct probe){ .v = s, .e = send ? E_SEND : E_RECV };
		if (send) {
			fill_ring(s);
		} else {
			probe_run(&rv);
			assert_int_equal(rv.result, -EAGAIN);
		}
		assert_int_equal(pthread_create(&t, NULL, probe_run, &rv), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(rv.result, -EAGAIN);
		assert_int_equal(__atomic_load_n(&l->revoked,
						 __ATOMIC_RELAXED), 1);
	}
	watchdog_start(&w, s);
	sleeps = __atomic_load_n(&s->sleeps, __ATOMIC_RELAXED);
	assert_int_equal(pthread_create(&ta, NULL, blocker_thread, &a), 0);
	wait_asleep(s, sleeps);
	if (biased && bias_usable()) {
		/* A owns the lock and is inside without the queue. */
		const void *owner = __atomic_load_n(&l->owner,
						    __ATOMIC_RELAXED);

		assert_int_equal(__atomic_load_n(&l->revoked,
						 __ATOMIC_RELAXED), 0);
		assert_non_null(owner);
		assert_ptr_not_equal(owner, &vchan_lock_token);
		assert_int_equal(__atomic_load_n(&l->busy, __ATOMIC_RELAXED),
				 1);
	}
	now = (struct probe){ .v = s, .e = send ? E_SEND : E_RECV };
	probe_run(&now);
	/* 100 ms, while two more calls come 20 ms into it: they find the
	 * 100 ms one holding the queue (A still biased) or starving (A
	 * holding the queue) and stand back. */
	timed = now;
	timed.timeout_ms = 100;
	side0 = now;
	side0.delay_ms = 20;
	side100 = timed;
	side100.delay_ms = 20;
	assert_int_equal(pthread_create(&t0, NULL, probe_run, &side0), 0);
	assert_int_equal(pthread_create(&t100, NULL, probe_run, &side100), 0);
	probe_run(&timed);
	assert_int_equal(pthread_join(t0, NULL), 0);
	assert_int_equal(pthread_join(t100, NULL), 0);
	/* Those that gave up left nobody standing back. */
	assert_int_equal(__atomic_load_n(&l->starving, __ATOMIC_SEQ_CST), 0);
	/* A still waits; the peer lets it go (checked once all is down). */
	if (send) {
		do {
			m = (struct vchan_msg){ .buf = buf,
						.len = sizeof(buf) };
			r = vchan_recv(c, &m, 2000);
		} while (r == 0 && m.type != BLOCK_TYPE);
	} else {
		r = vchan_send(c, 7, 0, "wake", 4, 2000);
	}
	assert_int_equal(pthread_join(ta, NULL), 0);
	fired = watchdog_stop(&w);
	tv_close(s, c);
	expect_gave_up(&now, "behind A");
	expect_gave_up(&timed, "behind A");
	expect_gave_up(&side0, "behind a waiting call");
	expect_gave_up(&side100, "behind a waiting call");
	assert_false(fired);
	assert_int_equal(r, 0);
	assert_int_equal(a.result, 0);
	if (send) {
		assert_int_equal(m.len, BLOCK_LEN);
		assert_int_equal(buf[BLOCK_LEN - 1], 0xab);
	} else {
		assert_int_equal(a.m.type, 7);
		assert_int_equal(a.m.len, 4);
		assert_memory_equal(a.buf, "wake", 4);
	}
}

static void test_recv_behind_biased_owner(void **state)
{
	(void)state;
	blocked_direction(false, true);
}

static void test_recv_behind_queue_holder(void **state)
{
	(void)state;
	blocked_direction(false, false);
}

static void test_send_behind_biased_owner(void **state)
{
	(void)state;
	blocked_direction(true, true);
}

static void test_send_behind_queue_holder(void **state)
{
	(void)state;
	blocked_direction(true, false);
}

/* The other calls that take a direction's lock with a timeout, behind A
 * asleep in a receive or a send (framed), or a read or a write (raw).  A
 * call with a fault of its own (a framed call on a raw end, too long, no
 * buffer) says so at once rather than -EAGAIN or -ETIMEDOUT. */
#define ENTRIES_MAX 6

static void entries_behind(bool send, bool raw)
{
	static const enum entry recv_e[] = { E_RECVV, E_INPLACE, E_RECVV_BAD };
	static const enum entry send_e[] = { E_SENDV, E_RESERVE, E_FLUSH,
					     E_SEND_BIG, E_SENDV_BIG,
					     E_RESERVE_BIG };
	static const enum entry read_e[] = { E_READ, E_RECV };
	static const enum entry write_e[] = { E_WRITE, E_SEND };
	const enum entry *es = raw ? (send ? write_e : read_e)
			       : send ? send_e : recv_e;
	size_t n = raw ? 2 : send ? 6 : 3;
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	struct blocker a = { .send = send, .raw = raw,
			     .fill = send && !raw };
	struct probe p[ENTRIES_MAX][2];
	struct watchdog w;
	struct vchan *s, *c;
	uint8_t buf[4096];
	uint64_t sleeps;
	size_t got = 0;
	pthread_t ta;
	bool fired;
	int r;

	tv_capture_logs();
	sc.raw = cc.raw = raw;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	a.v = s;
	watchdog_start(&w, s);
	sleeps = __atomic_load_n(&s->sleeps, __ATOMIC_RELAXED);
	assert_int_equal(pthread_create(&ta, NULL, blocker_thread, &a), 0);
	wait_asleep(s, sleeps);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++) {
			p[i][k] = (struct probe){ .v = s, .e = es[i],
						  .timeout_ms = k * 30 };
			if (es[i] == E_RECV || es[i] == E_SEND ||
			    es[i] == E_RECVV_BAD)
				p[i][k].fault = -EINVAL;
			else if (es[i] >= E_SEND_BIG)
				p[i][k].fault = -EMSGSIZE;
			probe_run(&p[i][k]);
		}
	/* The peer lets A go. */
	if (!send) {
		r = raw ? vchan_write(c, "wake", 4, 2000)
			: vchan_send(c, 7, 0, "wake", 4, 2000);
		r = r == (raw ? 4 : 0) ? 0 : r;
	} else if (raw) {
		while (got < RAW_BLOCK_LEN &&
		       (r = vchan_read(c, buf, sizeof(buf), 2000)) > 0)
			got += (size_t)r;
		r = got == RAW_BLOCK_LEN ? 0 : r;
	} else {
		struct vchan_msg m;

		do {
			m = (struct vchan_msg){ .buf = buf,
						.len = sizeof(buf) };
			r = vchan_recv(c, &m, 2000);
		} while (r == 0 && m.type != BLOCK_TYPE);
	}
	assert_int_equal(pthread_join(ta, NULL), 0);
	fired = watchdog_stop(&w);
	tv_close(s, c);
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 2; k++)
			expect_gave_up(&p[i][k], "behind A");
	assert_false(fired);
	assert_int_equal(r, 0);
	assert_int_equal(a.result, raw ? (send ? RAW_BLOCK_LEN : 4) : 0);
}

static void test_other_calls_behind_blocked(void **state)
{
	(void)state;
	entries_behind(false, false);
	entries_behind(true, false);
	entries_behind(false, true);
	entries_behind(true, true);
}

/* A call with timeout 0 gives up only behind a holder asleep: behind one
 * that runs (a non-blocking call in progress) it waits.  Two threads take
 * CS_MSGS messages already in the ring with non-blocking receives; one
 * that gets -EAGAIN must find every message taken (the count of messages
 * received is written under the lock: a call that got the lock after the
 * last taker sees it whole).  An -EAGAIN while a message was in the ring
 * would leave an event loop asleep on its fd with a message to take.  A
 * fresh pair each round: its first taker owns the bias, the other revokes
 * it in the middle of the race. */
#define CS_ROUNDS 300
#define CS_MSGS 256

struct cs_taker {
	struct vchan *v;
	int *ready;           /* takers on a CPU (atomic): they start together */
	unsigned *seen;       /* per message: times received (atomic) */
	unsigned got, early;
	int err;
};

static void *cs_thread(void *arg)
{
	struct cs_taker *t = arg;
	uint32_t idx;
	struct vchan_msg m;
	int r;

	__atomic_fetch_add(t->ready, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(t->ready, __ATOMIC_ACQUIRE) < 2)
		;
	for (;;) {
		m = (struct vchan_msg){ .buf = &idx, .len = sizeof(idx) };
		r = vchan_recv(t->v, &m, 0);
		if (r == 0 && m.len == sizeof(idx) && idx < CS_MSGS) {
			__atomic_fetch_add(&t->seen[idx], 1, __ATOMIC_RELAXED);
			t->got++;
			continue;
		}
		if (r == -EAGAIN) {
			if (__atomic_load_n(&t->v->msgs_recv,
					    __ATOMIC_RELAXED) < CS_MSGS)
				t->early++;
		} else {
			t->err = r ? r : -EBADMSG;
		}
		return NULL;
	}
}

static void test_nonblocking_waits_for_running_holder(void **state)
{
	unsigned early = 0;

	(void)state;
	for (int round = 0; round < CS_ROUNDS; round++) {
		unsigned seen[CS_MSGS] = { 0 };
		struct cs_taker t[2];
		pthread_t th[2];
		struct vchan *s, *c;
		int ready = 0;

		tv_start(14, 12, &s, &c);
		for (uint32_t i = 0; i < CS_MSGS; i++)
			assert_int_equal(vchan_send(c, 1, 0, &i, sizeof(i), 0),
					 0);
		for (int i = 0; i < 2; i++) {
			t[i] = (struct cs_taker){ .v = s, .ready = &ready,
						  .seen = seen };
			assert_int_equal(pthread_create(&th[i], NULL,
							cs_thread, &t[i]), 0);
		}
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_join(th[i], NULL), 0);
		tv_close(s, c);
		for (int i = 0; i < 2; i++)
			assert_int_equal(t[i].err, 0);
		assert_int_equal(t[0].got + t[1].got, CS_MSGS);
		for (int i = 0; i < CS_MSGS; i++)
			assert_int_equal(seen[i], 1);
		early += t[0].early + t[1].early;
	}
	if (early)
		fail_msg("%u non-blocking receives got -EAGAIN while another "
			 "thread's call ran and messages were left", early);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_fast_path),
		cmocka_unit_test(test_revoke_waits_for_owner),
		cmocka_unit_test(test_trylock_against_owner),
		cmocka_unit_test(test_excludes_under_contention),
		cmocka_unit_test(test_no_waiter_starves),
		cmocka_unit_test(test_ex_owner_leaves_busy_alone),
		cmocka_unit_test(test_recv_behind_biased_owner),
		cmocka_unit_test(test_recv_behind_queue_holder),
		cmocka_unit_test(test_send_behind_biased_owner),
		cmocka_unit_test(test_send_behind_queue_holder),
		cmocka_unit_test(test_other_calls_behind_blocked),
		cmocka_unit_test(test_nonblocking_waits_for_running_holder),
	};

	fprintf(stderr, "bias %s\n", bias_usable() ? "usable (membarrier)"
						  : "unusable: plain mutexes");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
