/* SPDX-License-Identifier: MIT */
/* The harness of the multi-thread stress tests (test_vchan_stress.c over
 * messages, test_vchan_stress_raw.c over the raw byte stream).  On each end
 * of one pair: NSEND blocking senders, NRECV blocking receivers and an event
 * loop, and the main thread, which parks them, drains, sends single
 * messages (trickle()) and holds receivers still.  Every call is timed and
 * its value checked (CALL).  A monitor thread samples how long each thread
 * was runnable but off the CPU: that time is added to the allowances for
 * overruns and stalls (a loaded machine is no lost wake-up).  It also
 * reports a stall (units committed, none delivered for STALL_MS) and
 * aborts a scenario that hangs; the first failure dumps both ends.
 *
 * The includer adds its members to struct thr and struct stress
 * (THR_OWN_FIELDS, STRESS_OWN_FIELDS, defined before this header) and
 * brings its threads and calls in a struct stress_kind. */
#ifndef TEST_VCHAN_STRESS_UTIL_H
#define TEST_VCHAN_STRESS_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_vchan_util.h"

#define NSEND 2                   /* blocking senders (writers) per end */
#define NRECV 2                   /* blocking receivers (readers) per end */
#define NTHR (NSEND + NRECV + 1)  /* and the event loop, last */
#define NSRC (NSEND + 2)          /* sources: senders, event loop, main */
#define EVL_SRC NSEND
#define MAIN_SRC (NSRC - 1)
#define SLACK_MS 1000             /* a call may overrun its timeout by this */
#define STALL_MS 1000             /* no progress this long: a lost wake-up */
#define POLL_MS 100
#define REVOKE_MS 1000
#define WATCHDOG_MS 20000
#define TRICKLE 32                /* single messages after each drain */
#define MS 1000000ull
/* The monitor's samples of each thread's run delay (time runnable but off
 * the CPU), one a tick (10 ms): 5 s back. */
#define RD_N 512

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_ACQ_REL)

#ifndef THR_OWN_FIELDS
#define THR_OWN_FIELDS
#endif
#ifndef STRESS_OWN_FIELDS
#define STRESS_OWN_FIELDS
#endif

struct stress;

struct thr {
	struct stress *st;
	pthread_t t;
	int end, id;            /* id: 0 to NTHR - 1, -1 for main */
	const char *name;
	uint64_t rnd;
	const char *call;       /* atomic: the call in progress */
	uint64_t since, done;   /* atomic: its start; the thread's end */
	int sfd;                /* its /proc schedstat, -1: none (st->mu) */
	uint64_t rd[RD_N];      /* its run delay at the monitor's ticks */
	THR_OWN_FIELDS
};

/* What a test brings to the harness. */
struct stress_kind {
	const char *title;      /* dump()'s first words */
	const char *unit;       /* what committed and delivered count */
	const char *thr_name[NTHR];
	void (*blocking)(struct thr *t);        /* threads 0 to NTHR - 2 */
	void (*evloop)(struct thr *t);          /* the last */
	/* Main's word to the peer's receivers (t: main of the sending end):
	 * STOP (stop) ends one, HOLD makes one hold still. */
	int (*marker)(struct thr *t, bool stop);
	/* Main's single message for trickle(): > 0 when committed. */
	int (*single)(struct thr *t);
	/* The monitor's own checks of end e, each tick (NULL: none). */
	void (*watch)(struct stress *st, int e, uint64_t now);
};

struct stress {
	const struct stress_kind *kind;
	struct vchan *v[2];     /* 0 server, 1 client; NULL: closed (st->mu) */
	size_t ring[2];         /* ring[e]: the ring end e writes */
	int quit, failed, mon_quit;                        /* atomics */
	int paused, parked;     /* bit e: end e's senders park, bit 2 + e its
				 * event loop; how many did */
	unsigned gen;           /* pause generation */
	int hold_rx, held;      /* end + 1: its receivers hold still; so many */
	unsigned hold_gen;      /* hold()s so far: a receiver counts itself
				 * held once in each */
	int revoke_req, revoke_done;   /* end + 1 to revoke; done */
	int alive_rx[2];        /* blocking receivers running */
	const char *phase;      /* atomic: what main is doing, for dump() */
	uint64_t phase_at;      /* since when */
	uint64_t unheld_at;     /* the last unhold() */
	uint64_t revoked_at, max_over, t_end;
	unsigned excused;       /* overruns of threads starved of a CPU */
	/* units (kind->unit) end e's calls committed; of those, delivered */
	uint64_t committed[2], delivered[2];
	struct thr thr[2][NTHR], mthr[2];
	pthread_t mon;
	uint64_t rd_at[RD_N];   /* when each sample was taken (st->mu) */
	unsigned rd_tick;       /* samples taken (st->mu) */
	pthread_mutex_t mu;
	/* Main's reset of the state between pairs (pair_start(), the
	 * includer's pair_open()) against the monitor's look at it each
	 * tick; taken before mu when both are. */
	pthread_mutex_t setup_mu;
	char why[512];
	STRESS_OWN_FIELDS
};

static const char *const end_name[2] = { "srv", "cli" };

static inline uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

static inline unsigned run_ms(void)
{
	const char *e = getenv("VCHAN_STRESS_MS");

	return e ? (unsigned)strtoul(e, NULL, 10) : 1000;
}

/* --- CPU starvation -------------------------------------------------- */
/* A slow machine or a stuck call?  The kernel counts, per thread, the time
 * it was runnable but not running (schedstat's second field): the monitor
 * samples it, and a dump says how much of a call's time went to waiting
 * for a CPU. */
static inline void sched_watch(struct thr *t)
{
	int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);

	pthread_mutex_lock(&t->st->mu);
	t->sfd = fd;
	pthread_mutex_unlock(&t->st->mu);
}

static inline uint64_t run_delay(int fd)
{
	char b[96];
	uint64_t run, wait;
	ssize_t n = fd >= 0 ? pread(fd, b, sizeof(b) - 1, 0) : -1;

	if (n <= 0)
		return 0;
	b[n] = 0;
	return sscanf(b, "%" SCNu64 " %" SCNu64, &run, &wait) == 2 ? wait : 0;
}

/* st->mu held. */
static inline void sched_sample(struct stress *st, uint64_t now)
{
	unsigned k = st->rd_tick++ % RD_N;

	st->rd_at[k] = now;
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < NTHR; i++)
			st->thr[e][i].rd[k] = run_delay(st->thr[e][i].sfd);
}

/* st->mu held: ms the thread waited for a CPU since `since` (as far back
 * as the samples go), and now. */
static inline uint64_t sched_waited(struct stress *st, const struct thr *t,
				    uint64_t since)
{
	unsigned n = st->rd_tick < RD_N ? st->rd_tick : RD_N, j = 0;
	uint64_t from = 0;

	if (t->sfd < 0 || !n)
		return 0;
	/* The oldest sample at or after since. */
	for (j = 0; j < n; j++) {
		unsigned k = (st->rd_tick - n + j) % RD_N;

		if (st->rd_at[k] >= since) {
			from = t->rd[k];
			break;
		}
	}
	if (j == n)
		return 0;
	return (run_delay(t->sfd) - from) / MS;
}

/* st->mu held: the most a worker thread waited for a CPU since `since`.  A
 * call waiting for another thread's turn, or for its messages, is held up
 * by that thread's starvation as much as by its own. */
static inline uint64_t starved_ms(struct stress *st, uint64_t since)
{
	uint64_t most = 0;

	for (int e = 0; e < 2; e++)
		for (int i = 0; i < NTHR; i++) {
			uint64_t w = sched_waited(st, &st->thr[e][i], since);

			most = w > most ? w : most;
		}
	return most;
}

/* Whether more than allow_ms passed from since to now, beyond what the
 * threads waited for a CPU meanwhile (*cpu: the most one did, when it was
 * asked). */
static inline bool overdue(struct stress *st, uint64_t since, uint64_t now,
			   uint64_t allow_ms, uint64_t *cpu)
{
	*cpu = 0;
	if (now <= since || now - since <= allow_ms * MS)
		return false;
	pthread_mutex_lock(&st->mu);
	*cpu = starved_ms(st, since);
	pthread_mutex_unlock(&st->mu);
	return (now - since) / MS > allow_ms + *cpu;
}

/* --- failures -------------------------------------------------------- */
/* The end's own view of its rings (its private copies: the page may be
 * unmapped already), racy but enough to tell a stall from a slow machine:
 * a sender waiting for room the receiver has freed, say. */
static inline void dump_end(struct vchan *v)
{
	const struct vchan_ring *t = &v->tx.ring, *r = &v->rx.ring;

	fprintf(stderr, "    out: idx %u published %u peer cons %u",
		LOAD(t->idx), LOAD(t->published), LOAD(t->peer));
	if (!v->raw)
		fprintf(stderr, " backlog %d", (int)LOAD(v->tx.busy));
	fprintf(stderr, "; in: idx %u published %u peer prod %u",
		LOAD(r->idx), LOAD(r->published), LOAD(r->peer));
	if (!v->raw)
		fprintf(stderr, " partial %d (%zu of %u)",
			(int)LOAD(v->rx.active), LOAD(v->rx.got),
			LOAD(v->rx.hdr.len));
	fprintf(stderr, "; sleeps %llu, revoked %d\n",
		(unsigned long long)LOAD(v->sleeps), (int)LOAD(v->revoked));
}

/* st->mu held. */
static inline void dump(struct stress *st, const char *what)
{
	uint64_t now = vchan_now_ns(), pa = LOAD(st->phase_at);

	fprintf(stderr, "%s: %s\n  main: %s for %llu ms, paused %#x, %d "
		"parked\n", st->kind->title, what, LOAD(st->phase),
		(unsigned long long)(now > pa ? (now - pa) / MS : 0),
		LOAD(st->paused), LOAD(st->parked));
	if (tv_log_count)   /* the library's last word, often the cause */
		fprintf(stderr, "  last of %u log line(s): %s\n", tv_log_count,
			tv_last_log);
	for (int e = 0; e < 2; e++) {
		fprintf(stderr, "  %s -> %s: %llu %ss committed, %llu "
			"delivered\n", end_name[e], end_name[!e],
			(unsigned long long)LOAD(st->committed[e]),
			st->kind->unit,
			(unsigned long long)LOAD(st->delivered[e]));
		if (st->v[e])
			dump_end(st->v[e]);
		for (int i = 0; i <= NTHR; i++) {
			struct thr *t = i < NTHR ? &st->thr[e][i] : &st->mthr[e];
			const char *c = LOAD(t->call);

			fprintf(stderr, "    %s %-4s %s %s", end_name[e], t->name,
				LOAD(t->done) ? "ended" : c ? "in" :
				"between calls", c && !LOAD(t->done) ? c : "");
			if (c && !LOAD(t->done))
				fprintf(stderr, " for %llu ms",
					(unsigned long long)(now > LOAD(t->since) ?
					(now - LOAD(t->since)) / MS : 0));
			if (c && !LOAD(t->done) && i < NTHR)
				fprintf(stderr, " (%llu ms of it waiting for a CPU)",
					(unsigned long long)sched_waited(st, t,
							LOAD(t->since)));
			fputc('\n', stderr);
		}
	}
}

static inline void phase(struct stress *st, const char *what)
{
	STORE(st->phase_at, vchan_now_ns());
	STORE(st->phase, what);
}

/* Threads cannot use cmocka's asserts (a failure there exits the process
 * and says nothing): the first failure is kept for the main thread, and
 * every thread winds down. */
static inline void __attribute__((format(printf, 2, 3)))
bad(struct stress *st, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&st->mu);
	if (!st->failed) {
		va_start(ap, fmt);
		vsnprintf(st->why, sizeof(st->why), fmt, ap);
		va_end(ap);
		STORE(st->failed, 1);
		dump(st, st->why);
	}
	pthread_mutex_unlock(&st->mu);
}

static inline bool over(struct stress *st)
{
	return LOAD(st->quit) || LOAD(st->failed);
}

/* --- calls: timed, and their values checked against vchan.h ----------- */
enum { A_POS = 1,     /* > 0: a count, an fd */
       A_ZERO = 2, A_OK = A_POS | A_ZERO,
       A_AGAIN = 4, A_TIMEDOUT = 8, A_MSGSIZE = 16, A_PIPE = 32,
       A_REV = 64,    /* -EPIPE once a revoke was asked for */
       A_WAIT = 128 };  /* A_REV, and -EAGAIN (tmo 0) or -ETIMEDOUT */

static inline void enter(struct thr *t, const char *call)
{
	STORE(t->since, vchan_now_ns());
	STORE(t->call, call);
}

static inline int leave(struct thr *t, const char *call, int r, int tmo,
			unsigned ok)
{
	struct stress *st = t->st;
	uint64_t now = vchan_now_ns(), since = LOAD(t->since);
	uint64_t took = now - since, lim = tmo * MS;
	uint64_t ovr = took > lim ? took - lim : 0, cur = LOAD(st->max_over);
	uint64_t cpu;
	bool rev = LOAD(st->revoke_req);   /* after the call */
	unsigned bit = r > 0 ? A_POS : r == 0 ? A_ZERO : r == -EAGAIN ?
		       A_AGAIN : r == -ETIMEDOUT ? A_TIMEDOUT : r == -EMSGSIZE ?
		       A_MSGSIZE : r == -EPIPE ? A_PIPE : 0;

	STORE(t->call, NULL);
	if (ok & A_WAIT)
		ok |= A_REV | (tmo ? A_TIMEDOUT : A_AGAIN);
	if (rev && (ok & A_REV))
		ok |= A_PIPE;
	while (ovr > cur && !__atomic_compare_exchange_n(&st->max_over, &cur,
			ovr, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (!(bit & ok))
		bad(st, "%s %s: %s (timeout %d) returned %d", end_name[t->end],
		    t->name, call, tmo, r);
	/* Not the call's fault when threads were starved of a CPU
	 * meanwhile (a loaded machine): their wait is excused. */
	else if (overdue(st, since, now, (uint64_t)tmo + SLACK_MS, &cpu))
		bad(st, "%s %s: %s took %llu ms, timeout %d ms (threads "
		    "waited for a CPU %llu ms at most meanwhile)",
		    end_name[t->end], t->name, call,
		    (unsigned long long)(took / MS), tmo,
		    (unsigned long long)cpu);
	else if (ovr > SLACK_MS * MS)
		ADD(st->excused, 1);
	return r;
}

#define CALL(t, name, tmo, ok, expr) \
	(enter(t, name), leave(t, name, (expr), tmo, ok))

/* --- the threads ----------------------------------------------------- */
/* Every worker thread: watched for starvation, its end counted. */
static inline void *thr_run(void *arg)
{
	struct thr *t = arg;
	struct stress *st = t->st;

	sched_watch(t);
	if (t->id == NTHR - 1)
		st->kind->evloop(t);
	else
		st->kind->blocking(t);
	if (t->id >= NSEND && t->id < NTHR - 1)
		ADD(st->alive_rx[t->end], -1);
	STORE(t->done, vchan_now_ns());
	return NULL;
}

/* Whether receiver t holds still (hold_rx names its end, no revoke was
 * asked for).  It counts itself held once in each hold(), by generation:
 * a receiver starved of a CPU from one unhold() to the next hold() of its
 * end never saw the end of the first. */
static inline bool rx_held(struct thr *t, unsigned *gen)
{
	struct stress *st = t->st;

	if (LOAD(st->hold_rx) != t->end + 1 || LOAD(st->revoke_req))
		return false;
	if (*gen != LOAD(st->hold_gen)) {
		*gen = LOAD(st->hold_gen);
		ADD(st->held, 1);
	}
	usleep(100);
	return true;
}

/* An event loop out of the way while main drains (its bit in st->paused),
 * until a revoke is asked for; it counts itself parked once a pause. */
static inline bool evl_parked(struct thr *t, unsigned *gen)
{
	struct stress *st = t->st;

	if (!(LOAD(st->paused) >> (2 + t->end) & 1) || LOAD(st->revoke_req))
		return false;
	if (*gen != LOAD(st->gen)) {
		*gen = LOAD(st->gen);
		ADD(st->parked, 1);
	}
	usleep(1000);
	return true;
}

/* Hangs, and units committed with none delivered: a lost wake-up. */
static inline void *monitor(void *arg)
{
	struct stress *st = arg;
	uint64_t seen[2] = { 0, 0 }, since[2] = { 0, 0 };

	while (!LOAD(st->mon_quit)) {
		uint64_t now, cpu;

		usleep(10000);
		now = vchan_now_ns();
		pthread_mutex_lock(&st->mu);
		sched_sample(st, now);
		if (now > st->t_end) {
			dump(st, "watchdog: the scenario hangs");
			abort();
		}
		pthread_mutex_unlock(&st->mu);
		pthread_mutex_lock(&st->setup_mu);
		for (int e = 0; e < 2; e++) {
			uint64_t d = LOAD(st->delivered[e]);
			uint64_t c = LOAD(st->committed[e]);

			/* (Not to an end whose receivers hold still, nor once
			 * a revoke was asked for.) */
			if (d != seen[e] || c <= d || !since[e] ||
			    LOAD(st->hold_rx) == !e + 1 ||
			    LOAD(st->revoke_req)) {
				seen[e] = d;
				since[e] = now;
			} else if (overdue(st, since[e], now, STALL_MS, &cpu)) {
				bad(st, "lost wake-up: %llu %s(s) %s -> %s "
				    "pending, none delivered for %llu ms "
				    "(threads waited for a CPU %llu ms at most "
				    "meanwhile)", (unsigned long long)(c - d),
				    st->kind->unit, end_name[e], end_name[!e],
				    (unsigned long long)((now - since[e]) / MS),
				    (unsigned long long)cpu);
			}
			if (st->kind->watch)
				st->kind->watch(st, e, now);
		}
		pthread_mutex_unlock(&st->setup_mu);
	}
	return NULL;
}

/* --- scenarios ------------------------------------------------------- */
static inline struct stress *stress_new(const struct stress_kind *kind)
{
	struct stress *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	st->kind = kind;
	for (int k = 0; k < 2 * NTHR; k++)
		st->thr[k / NTHR][k % NTHR].sfd = -1;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->setup_mu, NULL);
	st->t_end = vchan_now_ns() + (run_ms() + WATCHDOG_MS) * MS;
	phase(st, "start");
	tv_capture_logs();
	assert_int_equal(pthread_create(&st->mon, NULL, monitor, st), 0);
	return st;
}

/* Free st (the includer has freed its own), then fail with the first
 * failure, if any. */
static inline void stress_end(struct stress *st)
{
	char why[sizeof(st->why)];

	STORE(st->mon_quit, 1);
	pthread_join(st->mon, NULL);
	snprintf(why, sizeof(why), "%s", st->why);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->setup_mu);
	free(st);
	if (why[0])
		fail_msg("%s", why);
}

/* A pair of sc and cc (the includer's own state reset already), and its
 * threads. */
static inline void pair_start(struct stress *st, struct vchan_config *sc,
			      struct vchan_config *cc)
{
	struct vchan *v[2];

	sc->name = "srv";
	cc->name = "cli";
	assert_int_equal(vchan_shm_pair(sc, cc, &v[0], &v[1]), 0);
	pthread_mutex_lock(&st->setup_mu);
	pthread_mutex_lock(&st->mu);
	st->v[0] = v[0];
	st->v[1] = v[1];
	pthread_mutex_unlock(&st->mu);
	st->revoke_done = st->quit = st->paused = st->hold_rx = 0;
	st->revoked_at = st->unheld_at = 0;
	for (int e = 0; e < 2; e++) {
		st->ring[e] = vchan_ring_size(st->v[e], 1);
		st->committed[e] = st->delivered[e] = 0;
		st->alive_rx[e] = NRECV;
		st->mthr[e] = (struct thr){ .st = st, .end = e, .id = -1,
					    .name = "main", .sfd = -1,
					    .rnd = vchan_now_ns() | 1 };
	}
	/* Last: the monitor looks for stalls again. */
	STORE(st->revoke_req, 0);
	for (int k = 0; k < 2 * NTHR; k++) {
		struct thr *t = &st->thr[k / NTHR][k % NTHR];

		pthread_mutex_lock(&st->mu);
		*t = (struct thr){ .st = st, .end = k / NTHR, .id = k % NTHR,
				   .name = st->kind->thr_name[k % NTHR],
				   .sfd = -1,
				   .rnd = (vchan_now_ns() * (2u + (unsigned)k)) | 1 };
		pthread_mutex_unlock(&st->mu);
		assert_int_equal(pthread_create(&t->t, NULL, thr_run, t), 0);
	}
	pthread_mutex_unlock(&st->setup_mu);
}

/* Wake the blocking receivers (a STOP each, as often as it takes) and
 * join every thread. */
static inline void pair_join(struct stress *st)
{
	phase(st, "join");
	STORE(st->quit, 1);
	while (LOAD(st->alive_rx[0]) + LOAD(st->alive_rx[1]) > 0) {
		for (int e = 0; e < 2; e++)
			if (LOAD(st->alive_rx[!e]))
				st->kind->marker(&st->mthr[e], true);
		usleep(1000);
	}
	for (int k = 0; k < 2 * NTHR; k++)
		pthread_join(st->thr[k / NTHR][k % NTHR].t, NULL);
	pthread_mutex_lock(&st->mu);
	for (int k = 0; k < 2 * NTHR; k++) {
		struct thr *t = &st->thr[k / NTHR][k % NTHR];

		if (t->sfd >= 0)
			close(t->sfd);
		t->sfd = -1;
	}
	pthread_mutex_unlock(&st->mu);
}

/* Under st->mu: a dump (bad(), the watchdog) looks at the ends. */
static inline void pair_close(struct stress *st)
{
	struct vchan *v0, *v1;

	pthread_mutex_lock(&st->mu);
	v0 = st->v[0];
	v1 = st->v[1];
	st->v[0] = st->v[1] = NULL;
	pthread_mutex_unlock(&st->mu);
	tv_close(v0, v1);
}

/* Wait until every unit from the ends in mask is delivered. */
static inline void wait_in(struct stress *st, int mask)
{
	phase(st, "drain");
	for (int e = 0; e < 2; e++)
		while ((mask >> e & 1) && !LOAD(st->failed) &&
		       LOAD(st->delivered[e]) < LOAD(st->committed[e]))
			sched_yield();
}

/* Park the event loops, then the senders (mask: st->paused bits).  The
 * loops first, while units still flow: a call with timeout 0 used to wait
 * for the side's lock, which on a quiet channel a blocking receiver holds
 * until its timeout (it gets -EAGAIN then now). */
static inline void park(struct stress *st, int mask)
{
	phase(st, "park");
	for (int step = 0; step < 2; step++) {
		int m = (mask & 12) | ((step ? mask : LOAD(st->paused)) & 3);

		STORE(st->parked, 0);
		ADD(st->gen, 1);
		STORE(st->paused, m);
		while (LOAD(st->parked) < NSEND * __builtin_popcount(m & 3u) +
		       __builtin_popcount(m & 12u) && !LOAD(st->failed))
			usleep(100);
	}
}

/* Every thread parked, every unit delivered. */
static inline void drain(struct stress *st)
{
	park(st, 15);
	wait_in(st, 3);
}

/* End e's blocking receivers hold still (a HOLD from the peer's main wakes
 * each that sleeps), until unhold(). */
static inline void hold(struct stress *st, int e)
{
	phase(st, "hold");
	STORE(st->held, 0);
	ADD(st->hold_gen, 1);
	STORE(st->hold_rx, e + 1);
	while (LOAD(st->held) < NRECV && !LOAD(st->failed)) {
		st->kind->marker(&st->mthr[!e], false);
		usleep(200);
	}
}

static inline void unhold(struct stress *st)
{
	STORE(st->unheld_at, vchan_now_ns());
	STORE(st->hold_rx, 0);
}

/* n single messages from end e (both in turn if e < 0), each once the one
 * before is in, at a random moment of the receivers' wait. */
static inline void trickle(struct stress *st, int e, int n)
{
	phase(st, "trickle");
	for (int k = 0; k < n && !LOAD(st->failed); k++) {
		uint64_t until = vchan_now_ns() + rnd(&st->mthr[0].rnd) % 80000;
		int f = e < 0 ? k & 1 : e;

		while (vchan_now_ns() < until)
			;
		if (st->kind->single(&st->mthr[f]) <= 0)
			bad(st, "main: a single %s was not sent",
			    st->kind->unit);
		wait_in(st, 1 << f);
	}
}

/* How a round of traffic ends: after 5 to 35 ms a drain, then single
 * messages into sleeping receivers. */
static inline void round_drain(struct stress *st)
{
	phase(st, "traffic");
	usleep(5000 + rnd(&st->mthr[0].rnd) % 30000);
	drain(st);
	trickle(st, -1, TRICKLE);
}

/* The start of a crossed end a (a sender and a receiver asleep at once:
 * the event one of them takes must not be lost to the other, wait.c).  The
 * peer's receivers hold still, its senders and every event loop park, and
 * a's senders fill the ring and sleep (500 ms at most for both to be 2 ms
 * into a call). */
static inline void senders_asleep(struct stress *st, int a)
{
	struct thr *s0 = &st->thr[a][0], *s1 = &st->thr[a][1];
	uint64_t t0, now;

	hold(st, !a);
	park(st, 12 | 1 << !a);
	phase(st, "crossed");
	t0 = vchan_now_ns();
	do {
		usleep(200);
		now = vchan_now_ns();
	} while (now - t0 < 500 * MS && !(LOAD(s0->call) && LOAD(s1->call) &&
		 now - LOAD(s0->since) > 2 * MS &&
		 now - LOAD(s1->since) > 2 * MS));
}

/* After a revoke: every thread ends by itself (with -EPIPE) within
 * REVOKE_MS of it; how long the last one took, at most *late. */
static inline void wait_ended(struct stress *st, uint64_t *late)
{
	for (int k = 0; k < 2 * NTHR && !LOAD(st->failed); k++)
		while (!LOAD(st->thr[k / NTHR][k % NTHR].done) &&
		       !LOAD(st->failed))
			usleep(100);
	for (int k = 0; k < 2 * NTHR; k++) {
		struct thr *t = &st->thr[k / NTHR][k % NTHR];
		uint64_t at = LOAD(st->revoked_at), done = LOAD(t->done);
		uint64_t d = at && done > at ? done - at : 0;

		*late = d > *late ? d : *late;
		if (d > REVOKE_MS * MS)
			bad(st, "%s %s ended %llu ms after the revoke",
			    end_name[t->end], t->name,
			    (unsigned long long)(d / MS));
	}
}

#endif
