/* SPDX-License-Identifier: MIT */
/* Many threads on each end of one pair at once: two blocking senders
 * (single messages and batches), two blocking receivers (copy, batch, in
 * place) and an event loop (poll() on vchan_fd(), vchan_events(), calls
 * with timeout 0).  Every message names its sender and that thread's
 * counter and carries a pattern: each committed message arrives once and
 * intact, one sender's sequence numbers rise with its counter, nothing that
 * was not committed arrives.  Traffic runs in rounds that end in a drain,
 * single messages into sleeping receivers, and single messages into an end
 * where a sender sleeps too (wait.c's two waiters): messages left pending
 * with none delivered for STALL_MS are a lost wake-up.  Every call returns
 * a value vchan.h allows it, within its timeout plus SLACK_MS.  (Time the
 * threads spent runnable but off the CPU, which the kernel counts, is added
 * to both allowances: a loaded machine is no lost wake-up.)  Then the
 * same threads while one end is revoked, mid-stream or with every call
 * asleep: every thread ends with -EPIPE within REVOKE_MS, and what arrived
 * is an intact, ordered prefix of what was sent.  A watchdog aborts,
 * saying which thread is in which call, when a scenario hangs.
 * VCHAN_STRESS_MS: time per scenario (default 1000). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_vchan_util.h"

#define NSEND 2                   /* blocking senders per end */
#define NRECV 2                   /* blocking receivers per end */
#define NTHR (NSEND + NRECV + 1)  /* and the event loop, last */
#define NSRC (NSEND + 2)          /* sources: senders, event loop, main */
#define MAIN_SRC (NSRC - 1)
#define CAP (1u << 17)            /* messages a source may send per pair */
#define TMO 2000                  /* blocking calls' timeout, ms */
#define SLACK_MS 1000             /* a call may overrun its timeout by this */
#define STALL_MS 1000
#define POLL_MS 100
#define REVOKE_MS 1000
#define WATCHDOG_MS 20000
#define TRICKLE 32                /* single messages after each drain */
#define T_STOP 0xfff0u            /* ends a blocking receiver */
#define T_HOLD 0xfff1u            /* wakes one to hold still */
#define MAGIC 0x5a17u
#define MS 1000000ull
/* The monitor's samples of each thread's run delay (time runnable but off
 * the CPU), one a tick (10 ms): 5 s back. */
#define RD_N 512

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_ACQ_REL)

struct tag {                    /* the start of every payload */
	uint16_t magic;
	uint8_t end, src;
	uint32_t ctr, len, seed;
};
#define TAG sizeof(struct tag)

struct rec {                    /* one message, by its sender's counter */
	uint32_t rseq, sseq;    /* seq received; seq vchan_sendv gave, or 0 */
	uint8_t got;            /* deliveries (atomic) */
};

struct src {                    /* one sending thread's messages */
	uint32_t committed;     /* atomic: counters below it were committed */
	struct rec *rec;
};

struct thr {
	struct stress *st;
	pthread_t t;
	int end, id;
	const char *name;
	uint64_t rnd;
	const char *call;       /* atomic: the call in progress */
	uint64_t since, done;   /* atomic: its start; the thread's end */
	int sfd;                /* its /proc schedstat, -1: none (st->mu) */
	uint64_t rd[RD_N];      /* its run delay at the monitor's ticks */
};

struct stress {
	struct vchan *v[2];     /* 0 server, 1 client */
	size_t max_msg, ring[2];/* ring[e]: the ring end e writes */
	bool big, revoke;
	int quit, failed, mon_quit;                        /* atomics */
	int paused, parked;     /* bit e: end e's senders park, bit 2 the event
				 * loops; how many did */
	int hold_rx, held;      /* end + 1: its receivers hold still; so many */
	int revoke_req, revoke_done;   /* end + 1 to revoke; done */
	unsigned gen;           /* pause generation */
	int alive_rx[2];        /* blocking receivers running */
	uint64_t revoked_at, max_over, t_end;
	unsigned excused;       /* overruns and stalls of starved threads */
	uint64_t committed[2], delivered[2];
	struct src src[2][NSRC];
	struct thr thr[2][NTHR], mthr[2];
	pthread_t mon;
	uint64_t rd_at[RD_N];   /* when each sample was taken (st->mu) */
	unsigned rd_tick;       /* samples taken (st->mu) */
	pthread_mutex_t mu;
	char why[512];
};

static const char *const end_name[2] = { "srv", "cli" };
static const char *const thr_name[NTHR] = { "s0", "s1", "r0", "r1", "evl" };
static const char *const src_name[NSRC] = { "s0", "s1", "evl", "main" };

static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 16);
}

static unsigned run_ms(void)
{
	const char *e = getenv("VCHAN_STRESS_MS");

	return e ? (unsigned)strtoul(e, NULL, 10) : 1000;
}

/* A slow machine or a stuck call?  The kernel counts, per thread, the time
 * it was runnable but not running (schedstat's second field): the monitor
 * samples it, and a dump says how much of a call's time went to waiting
 * for a CPU. */
static void sched_watch(struct thr *t)
{
	int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);

	pthread_mutex_lock(&t->st->mu);
	t->sfd = fd;
	pthread_mutex_unlock(&t->st->mu);
}

static uint64_t run_delay(int fd)
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
static void sched_sample(struct stress *st, uint64_t now)
{
	unsigned k = st->rd_tick++ % RD_N;

	st->rd_at[k] = now;
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < NTHR; i++)
			st->thr[e][i].rd[k] = run_delay(st->thr[e][i].sfd);
}

/* st->mu held: ms the thread waited for a CPU since `since` (as far back
 * as the samples go), and now. */
static uint64_t sched_waited(struct stress *st, const struct thr *t,
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
static uint64_t starved_ms(struct stress *st, uint64_t since)
{
	uint64_t most = 0;

	for (int e = 0; e < 2; e++)
		for (int i = 0; i < NTHR; i++) {
			uint64_t w = sched_waited(st, &st->thr[e][i], since);

			most = w > most ? w : most;
		}
	return most;
}

/* The end's own view of its rings (its private copies: the page may be
 * unmapped already), racy but enough to tell a stall from a slow machine:
 * a sender waiting for room the receiver has freed, say. */
static void dump_end(struct vchan *v)
{
	const struct vchan_ring *t = &v->tx.ring, *r = &v->rx.ring;

	fprintf(stderr, "    out: idx %u published %u peer cons %u backlog %d; "
		"in: idx %u published %u peer prod %u partial %d (%zu of %u); "
		"sleeps %llu, revoked %d\n",
		LOAD(t->idx), LOAD(t->published), LOAD(t->peer),
		(int)LOAD(v->tx.busy), LOAD(r->idx), LOAD(r->published),
		LOAD(r->peer), (int)LOAD(v->rx.active), LOAD(v->rx.got),
		LOAD(v->rx.hdr.len), (unsigned long long)LOAD(v->sleeps),
		(int)LOAD(v->revoked));
}

static void dump(struct stress *st, const char *what)
{
	uint64_t now = vchan_now_ns();

	fprintf(stderr, "vchan stress: %s\n", what);
	if (tv_log_count)   /* the library's last word, often the cause */
		fprintf(stderr, "  last of %u log line(s): %s\n", tv_log_count,
			tv_last_log);
	for (int e = 0; e < 2; e++) {
		fprintf(stderr, "  %s -> %s: %llu committed, %llu delivered\n",
			end_name[e], end_name[!e],
			(unsigned long long)LOAD(st->committed[e]),
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

/* Threads cannot use cmocka's asserts: the first failure is kept for the
 * main thread, and every thread winds down. */
static void __attribute__((format(printf, 2, 3)))
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

static bool over(struct stress *st)
{
	return LOAD(st->quit) || LOAD(st->failed);
}

/* --- calls: timed, and their values checked against vchan.h ----------- */
enum { A_OK = 1, A_AGAIN = 2, A_TIMEDOUT = 4, A_MSGSIZE = 8, A_PIPE = 16,
       A_REV = 32,    /* -EPIPE once a revoke was asked for */
       A_STD = 64 };  /* that, >= 0, and -EAGAIN (tmo 0) or -ETIMEDOUT */

static void enter(struct thr *t, const char *call)
{
	STORE(t->since, vchan_now_ns());
	STORE(t->call, call);
}

static int leave(struct thr *t, const char *call, int r, int tmo, unsigned ok)
{
	struct stress *st = t->st;
	uint64_t took = vchan_now_ns() - LOAD(t->since), lim = tmo * MS;
	uint64_t ovr = took > lim ? took - lim : 0, cur = LOAD(st->max_over);
	bool rev = LOAD(st->revoke_req);   /* after the call */
	unsigned bit = r >= 0 ? A_OK : r == -EAGAIN ? A_AGAIN :
		       r == -ETIMEDOUT ? A_TIMEDOUT : r == -EMSGSIZE ?
		       A_MSGSIZE : r == -EPIPE ? A_PIPE : 0;

	STORE(t->call, NULL);
	if (ok & A_STD)
		ok |= A_OK | A_REV | (tmo ? A_TIMEDOUT : A_AGAIN);
	if (rev && (ok & A_REV))
		ok |= A_PIPE;
	while (ovr > cur && !__atomic_compare_exchange_n(&st->max_over, &cur,
			ovr, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (!(bit & ok))
		bad(st, "%s %s: %s (timeout %d) returned %d", end_name[t->end],
		    t->name, call, tmo, r);
	else if (ovr > SLACK_MS * MS) {
		/* Not the call's fault when threads were starved of a CPU
		 * meanwhile (a loaded machine): their wait is excused. */
		uint64_t cpu;

		pthread_mutex_lock(&st->mu);
		cpu = starved_ms(st, LOAD(t->since));
		pthread_mutex_unlock(&st->mu);
		if (ovr / MS > SLACK_MS + cpu)
			bad(st, "%s %s: %s took %llu ms, timeout %d ms (threads "
			    "waited for a CPU %llu ms at most meanwhile)",
			    end_name[t->end], t->name, call,
			    (unsigned long long)(took / MS), tmo,
			    (unsigned long long)cpu);
		else
			ADD(st->excused, 1);
	}
	return r;
}

#define CALL(t, name, tmo, ok, expr) \
	(enter(t, name), leave(t, name, (expr), tmo, ok))

/* --- messages -------------------------------------------------------- */
static uint32_t seed_of(const struct tag *g)
{
	return (g->ctr * 2654435761u) ^ (g->len << 7) ^
	       ((uint32_t)g->end << 29) ^ ((uint32_t)g->src << 24);
}

#define TYPE(end, src) (0x100u + (uint32_t)(end) * 16 + (uint32_t)(src))

/* Small ones, quarter rings, ring-fulls and some larger than the ring.
 * The event loop sends only what fits half the ring: a backlog it left
 * would wait for its next call, which can be late (a call with timeout 0
 * still waits for the side's lock while a blocking call holds it). */
static size_t pick_len(struct thr *t, int src)
{
	struct stress *st = t->st;
	uint32_t x = rnd(&t->rnd) % 100;
	size_t ring = st->ring[t->end];
	size_t top = x < (st->big ? 30u : 50u) ? 256 :
		     x < (st->big ? 40u : 75u) ? ring / 4 :
		     x < (st->big ? 50u : 90u) ? ring : st->max_msg;

	if (src == MAIN_SRC)
		top = 64;
	else if (src == NSEND && top > ring / 2)
		top = ring / 2;
	return TAG + rnd(&t->rnd) % (top - TAG + 1);
}

static bool pattern_ok(const uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		if (p[i] != (uint8_t)(seed >> 16))
			return false;
	}
	return true;
}

/* A delivered message: check it, count it.  True for a STOP. */
static bool take(struct thr *t, const struct vchan_msg *m)
{
	struct stress *st = t->st;
	struct tag g = { 0 };
	struct src *s;

	if (m->type >= T_STOP && m->len == 0)
		return m->type == T_STOP;
	if (m->len >= TAG)
		memcpy(&g, m->buf, TAG);
	if (m->len < TAG || g.magic != MAGIC || g.end != !t->end ||
	    g.src >= NSRC || g.ctr >= CAP || g.len != m->len ||
	    g.seed != seed_of(&g) || m->type != TYPE(g.end, g.src) ||
	    m->flags != (g.ctr & 0xffffu) ||
	    !pattern_ok((const uint8_t *)m->buf + TAG, m->len - TAG, g.seed)) {
		bad(st, "%s %s: corrupt message: type %#x flags %#x seq %u len "
		    "%zu (tag: end %u src %u ctr %u len %u)", end_name[t->end],
		    t->name, m->type, m->flags, m->seq, m->len, g.end, g.src,
		    g.ctr, g.len);
		return false;
	}
	s = &st->src[g.end][g.src];
	if (ADD(s->rec[g.ctr].got, 1) != 0)
		bad(st, "%s %s: message %u of %s %s (seq %u) delivered twice",
		    end_name[t->end], t->name, g.ctr, end_name[g.end],
		    src_name[g.src], m->seq);
	STORE(s->rec[g.ctr].rseq, m->seq);
	ADD(st->delivered[g.end], 1);
	return false;
}

/* n messages (a batch if n > 1) from source src of t's end: how many were
 * committed, or the error. */
static int send_some(struct thr *t, int src, uint8_t *buf, unsigned n,
		     int tmo)
{
	struct stress *st = t->st;
	struct src *s = &st->src[t->end][src];
	uint32_t ctr = s->committed;
	struct vchan_msg m[4];
	int r;

	if (ctr + n > CAP)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct tag g = { .magic = MAGIC, .end = (uint8_t)t->end,
				 .src = (uint8_t)src, .ctr = ctr + i,
				 .len = (uint32_t)pick_len(t, src) };
		uint8_t *p = buf + i * st->max_msg;

		g.seed = seed_of(&g);
		memcpy(p, &g, TAG);
		tv_fill(p + TAG, g.len - TAG, g.seed);
		m[i] = (struct vchan_msg){ .type = TYPE(t->end, src),
					   .flags = g.ctr & 0xffffu,
					   .buf = p, .len = g.len };
	}
	if (n == 1) {
		r = CALL(t, "vchan_send", tmo, A_STD,
			 vchan_send(st->v[t->end], m[0].type, m[0].flags,
				    m[0].buf, m[0].len, tmo));
		r = r == 0 ? 1 : r;
	} else {
		r = CALL(t, "vchan_sendv", tmo, A_STD,
			 vchan_sendv(st->v[t->end], m, n, tmo));
		if (r == 0 || r > (int)n)
			bad(st, "vchan_sendv of %u returned %d", n, r);
		for (int i = 0; i < r; i++)
			s->rec[ctr + (unsigned)i].sseq = m[i].seq;
	}
	if (r > 0) {
		STORE(s->committed, ctr + (uint32_t)r);
		ADD(st->committed[t->end], (uint64_t)r);
	}
	return r;
}

/* One receive of some kind: the count taken, or the error. */
static int receive(struct thr *t, uint8_t *buf, int tmo, bool *stop)
{
	struct stress *st = t->st;
	struct vchan *v = st->v[t->end];
	unsigned op = rnd(&t->rnd) % 8, n = 1;
	size_t cap = op == 0 ? 64 : st->max_msg;
	struct vchan_msg m[4];
	int r;

	if (op < 4) {
		/* Too small a buffer now and then: told the size needed,
		 * the message stays queued. */
		m[0] = (struct vchan_msg){ .buf = buf, .len = cap };
		r = CALL(t, "vchan_recv", tmo, A_STD |
			 (op == 0 ? A_MSGSIZE : 0), vchan_recv(v, &m[0], tmo));
		if (r == -EMSGSIZE && (m[0].len <= cap ||
				       m[0].len > st->max_msg))
			bad(st, "vchan_recv: -EMSGSIZE, len %zu", m[0].len);
	} else if (op < 6) {
		n = 1 + rnd(&t->rnd) % 4;
		for (unsigned i = 0; i < n; i++)
			m[i] = (struct vchan_msg){ .buf = buf + i * st->max_msg,
						   .len = st->max_msg };
		r = CALL(t, "vchan_recvv", tmo, A_STD,
			 vchan_recvv(v, m, n, tmo));
		if (r == 0 || r > (int)n)
			bad(st, "vchan_recvv of %u returned %d", n, r);
		n = r > 0 ? (unsigned)r : 0;
	} else {
		m[0] = (struct vchan_msg){ 0 };
		r = CALL(t, "vchan_recv_inplace", tmo, A_STD,
			 vchan_recv_inplace(v, &m[0], tmo));
		if (r == 0) {
			*stop |= take(t, &m[0]);
			if (CALL(t, "vchan_release", 0, A_OK,
				 vchan_release(v)) != 0)
				bad(st, "vchan_release failed");
			return 1;
		}
	}
	for (unsigned i = 0; r >= 0 && i < n; i++)
		*stop |= take(t, &m[i]);
	return r < 0 ? r : (int)n;
}

/* While the main thread drains, the blocking senders park after a flush
 * (their backlog must get out without them), until a revoke. */
static bool may_send(struct thr *t, unsigned *gen)
{
	struct stress *st = t->st;

	if (!(LOAD(st->paused) >> t->end & 1) || LOAD(st->revoke_done))
		return true;
	if (*gen != LOAD(st->gen) && t->id < NSEND) {
		if (CALL(t, "vchan_flush", TMO, A_STD,
			 vchan_flush(st->v[t->end], TMO)) != 0)
			bad(st, "%s %s: vchan_flush failed", end_name[t->end],
			    t->name);
		*gen = LOAD(st->gen);
		ADD(st->parked, 1);
	}
	return false;
}

/* --- the threads ----------------------------------------------------- */
/* A blocking sender (id < NSEND) or receiver. */
static void *blocking(void *arg)
{
	struct thr *t = arg;
	struct stress *st = t->st;
	uint8_t *buf = malloc(4 * st->max_msg + 1);
	unsigned gen = 0;
	bool stop = false, held = false;

	sched_watch(t);
	while (buf && !stop && !over(st)) {
		unsigned op = rnd(&t->rnd) % 20;
		/* Mostly long timeouts: a missed wake-up shows then. */
		int tmo = rnd(&t->rnd) % 8 ? TMO : 1 + (int)(rnd(&t->rnd) % 3);
		int r;

		if (t->id >= NSEND && LOAD(st->hold_rx) == t->end + 1) {
			if (!held)
				ADD(st->held, 1);
			held = true;
			r = usleep(100);
		} else if (t->id >= NSEND) {
			held = false;
			r = receive(t, buf, tmo, &stop);
		} else if (!may_send(t, &gen))
			r = usleep(100);
		else if (op == 0 || st->src[t->end][t->id].committed + 4 > CAP)
			r = CALL(t, "vchan_send", 0, A_MSGSIZE | A_REV,
				 vchan_send(st->v[t->end], 1, 0, buf,
					    st->max_msg + 1, 0));
		else
			r = send_some(t, t->id, buf, op < 5 ?
				      2 + rnd(&t->rnd) % 3 : 1, tmo);
		if (r == -EPIPE)
			break;
	}
	free(buf);
	if (t->id >= NSEND)
		ADD(st->alive_rx[t->end], -1);
	STORE(t->done, vchan_now_ns());
	return NULL;
}

/* The revoke comes from the end's own event loop (test_vchan_rights has
 * revokes racing one from another thread). */
static void revoke_here(struct thr *t)
{
	struct stress *st = t->st;
	struct vchan *v = st->v[t->end];
	struct vchan_msg m = { 0 }, mm[2] = { { 0 }, { 0 } };
	void *p;

	STORE(st->revoked_at, vchan_now_ns());
	if (CALL(t, "vchan_revoke", 0, A_OK, vchan_revoke(v)) != 0)
		bad(st, "vchan_revoke failed");
	STORE(st->revoke_done, 1);
	/* From now on every call on this end says -EPIPE. */
	if (vchan_recv(v, &m, 0) != -EPIPE ||
	    vchan_recvv(v, mm, 2, 0) != -EPIPE ||
	    vchan_recv_inplace(v, &m, 0) != -EPIPE ||
	    vchan_sendv(v, mm, 2, 0) != -EPIPE ||
	    vchan_reserve(v, 8, &p, 0) != -EPIPE ||
	    vchan_send(v, 1, 0, NULL, 0, 0) != -EPIPE ||
	    vchan_flush(v, 0) != -EPIPE || vchan_fd(v) != -EPIPE ||
	    !(vchan_events(v) & VCHAN_EV_HUP) || vchan_revoke(v) != 0)
		bad(st, "%s: calls after vchan_revoke() do not fail -EPIPE",
		    end_name[t->end]);
}

static void *evloop(void *arg)
{
	struct thr *t = arg;
	struct stress *st = t->st;
	struct vchan *v = st->v[t->end];
	uint8_t *out = malloc(4 * st->max_msg), *in = malloc(4 * st->max_msg);
	bool busy = true, end = false, stop = false;
	unsigned gen = 0, pgen = 0;

	sched_watch(t);
	while (out && in && !over(st) && !end) {
		struct pollfd pfd = { .fd = vchan_fd(v), .events = POLLIN };
		int ev, r = 0, rq = LOAD(st->revoke_req);

		if (rq == t->end + 1) {
			revoke_here(t);
			break;
		}
		/* Out of the way while the main thread drains: single
		 * messages then go to sleeping receivers alone (the loop's
		 * requests to be woken would cover for lost ones). */
		if ((LOAD(st->paused) & 4) && !rq) {
			if (pgen != LOAD(st->gen)) {
				pgen = LOAD(st->gen);
				ADD(st->parked, 1);
			}
			usleep(1000);
			continue;
		}
		if (pfd.fd < 0)
			bad(st, "%s evl: vchan_fd: %d", end_name[t->end], pfd.fd);
		if (!busy && poll(&pfd, 1, POLL_MS) < 0 && errno != EINTR)
			bad(st, "poll: %s", strerror(errno));
		ev = CALL(t, "vchan_events", 0, A_OK, vchan_events(v));
		if ((ev & ~(VCHAN_EV_IN | VCHAN_EV_OUT | VCHAN_EV_HUP)) ||
		    ((ev & VCHAN_EV_HUP) && !LOAD(st->revoke_req)))
			bad(st, "%s evl: vchan_events: %#x", end_name[t->end], ev);
		end = ev & VCHAN_EV_HUP;
		busy = false;
		/* Take what is there (-EAGAIN: back to poll), then send
		 * until the ring is full. */
		for (int i = 0; i < 32 && (r >= 0 || r == -EMSGSIZE); i++) {
			r = receive(t, in, 0, &stop);
			busy |= r > 0 || r == -EMSGSIZE;
		}
		for (int i = 0; i < 8 && r != -EPIPE && may_send(t, &gen); i++) {
			r = send_some(t, NSEND, out, rnd(&t->rnd) % 4 ? 1 :
				      2 + rnd(&t->rnd) % 3, 0);
			if (r < 0)
				break;
			busy = true;
		}
		end |= r == -EPIPE;
	}
	free(out);
	free(in);
	STORE(t->done, vchan_now_ns());
	return NULL;
}

/* Hangs, and messages pending with none delivered: a lost wake-up. */
static void *monitor(void *arg)
{
	struct stress *st = arg;
	uint64_t seen[2] = { 0, 0 }, since[2] = { 0, 0 };

	while (!LOAD(st->mon_quit)) {
		uint64_t now;

		usleep(10000);
		now = vchan_now_ns();
		pthread_mutex_lock(&st->mu);
		sched_sample(st, now);
		pthread_mutex_unlock(&st->mu);
		if (now > st->t_end) {
			pthread_mutex_lock(&st->mu);
			dump(st, "watchdog: the scenario hangs");
			abort();
		}
		for (int e = 0; e < 2; e++) {
			uint64_t d = LOAD(st->delivered[e]);
			uint64_t c = LOAD(st->committed[e]);

			/* (Not to an end whose receivers hold still.) */
			if (d != seen[e] || c <= d || st->revoke || !since[e] ||
			    LOAD(st->hold_rx) == !e + 1) {
				seen[e] = d;
				since[e] = now;
			} else if (now - since[e] > STALL_MS * MS) {
				uint64_t cpu;

				pthread_mutex_lock(&st->mu);
				cpu = starved_ms(st, since[e]);
				pthread_mutex_unlock(&st->mu);
				if ((now - since[e]) / MS <= STALL_MS + cpu)
					continue;   /* starved, not stuck */
				bad(st, "lost wake-up: %llu message(s) %s -> %s "
				    "pending, none delivered for %llu ms (threads "
				    "waited for a CPU %llu ms at most meanwhile)",
				    (unsigned long long)(c - d), end_name[e],
				    end_name[!e],
				    (unsigned long long)((now - since[e]) / MS),
				    (unsigned long long)cpu);
			}
		}
	}
	return NULL;
}

/* --- scenarios ------------------------------------------------------- */
static struct stress *stress_new(bool revoke)
{
	struct stress *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	for (int k = 0; k < 2 * NSRC; k++)
		assert_non_null(st->src[k / NSRC][k % NSRC].rec =
				malloc(CAP * sizeof(struct rec)));
	for (int k = 0; k < 2 * NTHR; k++)
		st->thr[k / NTHR][k % NTHR].sfd = -1;
	pthread_mutex_init(&st->mu, NULL);
	st->revoke = revoke;
	st->t_end = vchan_now_ns() + (run_ms() + WATCHDOG_MS) * MS;
	tv_capture_logs();
	assert_int_equal(pthread_create(&st->mon, NULL, monitor, st), 0);
	return st;
}

/* Free everything, then fail with the first failure, if any. */
static void stress_end(struct stress *st)
{
	char why[sizeof(st->why)];

	STORE(st->mon_quit, 1);
	pthread_join(st->mon, NULL);
	snprintf(why, sizeof(why), "%s", st->why);
	for (int k = 0; k < 2 * NSRC; k++)
		free(st->src[k / NSRC][k % NSRC].rec);
	pthread_mutex_destroy(&st->mu);
	free(st);
	if (why[0])
		fail_msg("%s", why);
}

static void pair_open(struct stress *st, unsigned lo, unsigned ro,
		      size_t max_msg, bool big)
{
	struct vchan_config sc = tv_cfg(lo, ro), cc = tv_cfg(0, 0);

	sc.name = "srv";
	cc.name = "cli";
	sc.max_msg = cc.max_msg = max_msg;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &st->v[0], &st->v[1]), 0);
	st->max_msg = max_msg;
	st->big = big;
	st->revoke_req = st->revoke_done = st->quit = st->paused = 0;
	st->hold_rx = 0;
	st->revoked_at = 0;
	for (int e = 0; e < 2; e++) {
		st->ring[e] = vchan_ring_size(st->v[e], 1);
		for (int i = 0; i < NSRC; i++) {
			memset(st->src[e][i].rec, 0, CAP * sizeof(struct rec));
			st->src[e][i].committed = 0;
		}
		st->committed[e] = st->delivered[e] = 0;
		st->alive_rx[e] = NRECV;
		st->mthr[e] = (struct thr){ .st = st, .end = e, .id = -1,
					    .name = "main",
					    .rnd = vchan_now_ns() | 1 };
	}
	for (int k = 0; k < 2 * NTHR; k++) {
		struct thr *t = &st->thr[k / NTHR][k % NTHR];

		pthread_mutex_lock(&st->mu);
		*t = (struct thr){ .st = st, .end = k / NTHR, .id = k % NTHR,
				   .name = thr_name[k % NTHR], .sfd = -1,
				   .rnd = (vchan_now_ns() * (2u + (unsigned)k)) | 1 };
		pthread_mutex_unlock(&st->mu);
		assert_int_equal(pthread_create(&t->t, NULL, k % NTHR == NTHR - 1 ?
						evloop : blocking, t), 0);
	}
}

/* Under st->mu: a dump (bad(), the watchdog) looks at the ends. */
static void pair_close(struct stress *st)
{
	struct vchan *v0, *v1;

	pthread_mutex_lock(&st->mu);
	v0 = st->v[0];
	v1 = st->v[1];
	st->v[0] = st->v[1] = NULL;
	pthread_mutex_unlock(&st->mu);
	tv_close(v0, v1);
}

/* Wake the blocking receivers (a STOP each, as often as it takes) and
 * join every thread. */
static void pair_join(struct stress *st)
{
	STORE(st->quit, 1);
	while (LOAD(st->alive_rx[0]) + LOAD(st->alive_rx[1]) > 0) {
		for (int e = 0; e < 2; e++)
			if (LOAD(st->alive_rx[!e]))
				CALL(&st->mthr[e], "vchan_send", 0, A_STD,
				     vchan_send(st->v[e], T_STOP, 0, NULL, 0, 0));
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

/* What each source delivered: an ordered prefix of what it committed, all
 * of it when complete. */
static void verify(struct stress *st, bool complete)
{
	for (int k = 0; k < 2 * NSRC; k++) {
		struct src *s = &st->src[k / NSRC][k % NSRC];
		uint32_t last = 0, lost = 0, c;
		const char *err = NULL;

		for (c = 0; c < CAP && !err; c++) {
			struct rec *r = &s->rec[c];
			uint8_t g = r->got;

			if (c >= s->committed)
				err = g ? "delivered, never committed" : NULL;
			else if (g > 1)
				err = "delivered twice";
			else if (!g && complete)
				err = "lost";
			else if (!g)
				lost++;
			else if (lost)
				err = "delivered after a lost one";
			else if (r->rseq <= last || (r->sseq && r->sseq != r->rseq))
				err = "out of order";
			else
				last = r->rseq;
		}
		if (err)
			bad(st, "%s %s: message %u of %u %s (seq %u after %u, "
			    "sent as %u)", end_name[k / NSRC],
			    src_name[k % NSRC],
			    c - 1, s->committed, err, s->rec[c - 1].rseq, last,
			    s->rec[c - 1].sseq);
	}
}

/* Wait until every message from the ends in mask is in. */
static void wait_in(struct stress *st, int mask)
{
	for (int e = 0; e < 2; e++)
		while ((mask >> e & 1) && !LOAD(st->failed) &&
		       LOAD(st->delivered[e]) < LOAD(st->committed[e]))
			sched_yield();
}

/* Park the event loops, then the senders of the ends in mask.  The loops
 * first, while messages still flow: a call with timeout 0 waits for the
 * side's lock, which on a quiet channel a blocking receiver holds until
 * its timeout. */
static void park(struct stress *st, int mask)
{
	for (int step = 0; step < 2; step++) {
		int m = 4 | (step ? mask : LOAD(st->paused));

		STORE(st->parked, 0);
		ADD(st->gen, 1);
		STORE(st->paused, m);
		while (LOAD(st->parked) < NSEND * __builtin_popcount(m & 3u) + 2 &&
		       !LOAD(st->failed))
			usleep(100);
	}
}

/* n single messages from end e (both in turn if e < 0), each once the one
 * before is in, at a random moment of the receivers' wait. */
static void trickle(struct stress *st, int e, int n)
{
	for (int k = 0; k < n && !LOAD(st->failed); k++) {
		uint64_t until = vchan_now_ns() + rnd(&st->mthr[0].rnd) % 80000;
		int f = e < 0 ? k & 1 : e;
		uint8_t buf[64];

		while (vchan_now_ns() < until)
			;
		if (send_some(&st->mthr[f], MAIN_SRC, buf, 1, TMO) != 1)
			bad(st, "main: a single message was not sent");
		wait_in(st, 1 << f);
	}
}

/* A sender and a receiver of end a asleep at once: the event one of them
 * takes must not be lost to the other (wait.c).  The peer's receivers hold
 * still (a HOLD message wakes them), a's senders fill the ring and sleep,
 * and single messages go to a's sleeping receivers. */
static void crossed(struct stress *st, int a, int n)
{
	struct thr *s0 = &st->thr[a][0], *s1 = &st->thr[a][1];
	uint64_t t0 = vchan_now_ns(), now;

	STORE(st->held, 0);
	STORE(st->hold_rx, !a + 1);
	while (LOAD(st->held) < NRECV && !LOAD(st->failed)) {
		CALL(&st->mthr[a], "vchan_send", 0, A_STD,
		     vchan_send(st->v[a], T_HOLD, 0, NULL, 0, 0));
		usleep(200);
	}
	park(st, 1 << !a);
	do {
		usleep(200);
		now = vchan_now_ns();
	} while (now - t0 < 500 * MS && !(LOAD(s0->call) && LOAD(s1->call) &&
		 now - LOAD(s0->since) > 2 * MS &&
		 now - LOAD(s1->since) > 2 * MS));
	trickle(st, !a, n);
	STORE(st->hold_rx, 0);
	park(st, 3);
	wait_in(st, 3);
}

/* Rounds of traffic, each ending in a drain and single messages. */
static void test_traffic(void **state)
{
	const unsigned *c = *state;   /* orders, maximum, big */
	struct stress *st = stress_new(false);
	uint64_t end = vchan_now_ns() + run_ms() / 2 * MS;
	unsigned rounds = 0;

	pair_open(st, c[0], c[1], c[2], c[3]);
	while (vchan_now_ns() < end && !LOAD(st->failed)) {
		usleep(5000 + rnd(&st->mthr[0].rnd) % 30000);
		park(st, 3);
		wait_in(st, 3);
		trickle(st, -1, TRICKLE);
		crossed(st, rounds & 1, TRICKLE / 4);
		STORE(st->paused, 0);
		rounds++;
	}
	park(st, 3);
	wait_in(st, 3);
	pair_join(st);
	verify(st, true);
	print_message("rings %zu/%zu, max %zu: %u rounds, %llu + %llu "
		      "messages; calls overran their timeouts by %llu ms at "
		      "most; %u overrun(s) excused (CPU starvation)\n",
		      st->ring[0], st->ring[1], st->max_msg, rounds,
		      (unsigned long long)st->delivered[0],
		      (unsigned long long)st->delivered[1],
		      (unsigned long long)(st->max_over / MS), st->excused);
	pair_close(st);
	/* Left-over STOPs may be discarded; nothing else may log. */
	if (tv_log_count && !strstr(tv_last_log, "discarded"))
		bad(st, "log: %s", tv_last_log);
	stress_end(st);
}

static void test_revoke(void **state)
{
	struct stress *st = stress_new(true);
	uint64_t end = vchan_now_ns() + run_ms() * MS, late = 0;
	unsigned rounds = 0;

	(void)state;
	while ((vchan_now_ns() < end || rounds < 8) && !LOAD(st->failed)) {
		int e = rounds & 1;

		if (rounds & 2)
			pair_open(st, 10, 11, 8 << 10, true);
		else
			pair_open(st, 12, 12, 3 << 12, false);
		usleep(10000 + rnd(&st->mthr[0].rnd) % 100000);
		if (rounds & 4) {
			/* Mid-stream, or on a quiet channel: every call
			 * asleep, only the revoke to wake it. */
			park(st, 3);
			wait_in(st, 3);
			usleep(20000);
		}
		STORE(st->revoke_req, e + 1);
		/* Every thread ends by itself, with -EPIPE. */
		for (int k = 0; k < 2 * NTHR && !LOAD(st->failed); k++)
			while (!LOAD(st->thr[k / NTHR][k % NTHR].done) &&
			       !LOAD(st->failed))
				usleep(100);
		pair_join(st);
		for (int k = 0; k < 2 * NTHR; k++) {
			struct thr *t = &st->thr[k / NTHR][k % NTHR];
			uint64_t d = st->revoked_at && t->done > st->revoked_at ?
				     t->done - st->revoked_at : 0;

			late = d > late ? d : late;
			if (d > REVOKE_MS * MS)
				bad(st, "%s %s ended %llu ms after the revoke",
				    end_name[t->end], t->name,
				    (unsigned long long)(d / MS));
		}
		verify(st, false);
		pair_close(st);
		rounds++;
	}
	print_message("%u revokes; every thread ended within %.1f ms of it; "
		      "calls overran their timeouts by %llu ms at most; %u "
		      "overrun(s) excused (CPU starvation)\n",
		      rounds, (double)late / MS,
		      (unsigned long long)(st->max_over / MS), st->excused);
	stress_end(st);
}

int main(void)
{
	/* Rings of 4 KiB, some messages larger; most messages larger than
	 * a 1 KiB ring, streaming in pieces. */
	static const unsigned small[] = { 12, 12, 3 << 12, 0 };
	static const unsigned big[] = { 10, 11, 8 << 10, 1 };
	const struct CMUnitTest tests[] = {
		{ "test_traffic_4k", test_traffic, NULL, NULL, (void *)small },
		{ "test_traffic_larger_than_ring", test_traffic, NULL, NULL,
		  (void *)big },
		cmocka_unit_test(test_revoke),
	};

	return tv_run_layouts(tests);
}
