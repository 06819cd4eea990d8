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

#include <poll.h>
#include <stdint.h>

#define CAP (1u << 17)            /* messages a source may send per pair */
#define TMO 2000                  /* blocking calls' timeout, ms */
#define T_STOP 0xfff0u            /* ends a blocking receiver */
#define T_HOLD 0xfff1u            /* wakes one to hold still */
#define MAGIC 0x5a17u
/* A message of a uniform batch: one length and these flags for all of it,
 * so that vchan_sendv() sends it as a run. */
#define MAGIC_RUN 0x5a18u
#define RUN_FLAGS 0x7e7eu

struct rec {                    /* one message, by its sender's counter */
	uint32_t rseq, sseq;    /* seq received; seq vchan_sendv gave, or 0 */
	uint8_t got;            /* deliveries (atomic) */
};

struct src {                    /* one sending thread's messages */
	uint32_t committed;     /* atomic: counters below it were committed */
	struct rec *rec;
};

#define STRESS_OWN_FIELDS \
	size_t max_msg; \
	bool big; \
	struct src src[2][NSRC];

#include "test_vchan_stress_util.h"

/* A call's value: >= 0, and what A_WAIT allows. */
#define A_STD (A_OK | A_WAIT)

struct tag {                    /* the start of every payload */
	uint16_t magic;
	uint8_t end, src;
	uint32_t ctr, len, seed;
};
#define TAG sizeof(struct tag)

static const char *const src_name[NSRC] = { "s0", "s1", "evl", "main" };

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
 * gets -EAGAIN while a blocking sender sleeps holding the side's lock). */
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
	if (m->len < TAG || (g.magic != MAGIC && g.magic != MAGIC_RUN) ||
	    g.end != !t->end ||
	    g.src >= NSRC || g.ctr >= CAP || g.len != m->len ||
	    g.seed != seed_of(&g) || m->type != TYPE(g.end, g.src) ||
	    m->flags != (g.magic == MAGIC_RUN ? RUN_FLAGS : g.ctr & 0xffffu) ||
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
	/* Half the batches uniform (sent as runs when short enough), their
	 * payloads half the time back to back in 16-byte multiples (copied
	 * into the ring in one go). */
	bool uni = n > 1 && rnd(&t->rnd) % 2;
	size_t ulen = pick_len(t, src), step = st->max_msg;
	int r;

	if (ctr + n > CAP)
		return 0;
	if (uni && rnd(&t->rnd) % 2) {
		ulen = (ulen + 15) & ~(size_t)15;
		step = ulen;
	}
	for (unsigned i = 0; i < n; i++) {
		struct tag g = { .magic = uni ? MAGIC_RUN : MAGIC,
				 .end = (uint8_t)t->end,
				 .src = (uint8_t)src, .ctr = ctr + i,
				 .len = (uint32_t)(uni ? ulen :
						   pick_len(t, src)) };
		uint8_t *p = buf + i * step;

		g.seed = seed_of(&g);
		memcpy(p, &g, TAG);
		tv_fill(p + TAG, g.len - TAG, g.seed);
		m[i] = (struct vchan_msg){ .type = TYPE(t->end, src),
					   .flags = uni ? RUN_FLAGS :
						   g.ctr & 0xffffu,
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
		/* Now and then buffers back to back, 16-byte multiples,
		 * as a run's payloads lie (taken in one copy). */
		size_t slot = rnd(&t->rnd) % 4 ? st->max_msg :
			      16 * (1 + rnd(&t->rnd) % 16);

		n = 1 + rnd(&t->rnd) % 4;
		for (unsigned i = 0; i < n; i++)
			m[i] = (struct vchan_msg){ .buf = buf + i * slot,
						   .len = slot };
		r = CALL(t, "vchan_recvv", tmo, A_STD |
			 (slot < st->max_msg ? A_MSGSIZE : 0),
			 vchan_recvv(v, m, n, tmo));
		if (r == 0 || r > (int)n)
			bad(st, "vchan_recvv of %u returned %d", n, r);
		if (r == -EMSGSIZE && (m[0].len <= slot ||
				       m[0].len > st->max_msg))
			bad(st, "vchan_recvv: -EMSGSIZE, len %zu", m[0].len);
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
static void blocking(struct thr *t)
{
	struct stress *st = t->st;
	uint8_t *buf = malloc(4 * st->max_msg + 1);
	unsigned gen = 0, hgen = 0;
	bool stop = false;

	while (buf && !stop && !over(st)) {
		unsigned op = rnd(&t->rnd) % 20;
		/* Mostly long timeouts: a missed wake-up shows then. */
		int tmo = rnd(&t->rnd) % 8 ? TMO : 1 + (int)(rnd(&t->rnd) % 3);
		int r;

		if (t->id >= NSEND && rx_held(t, &hgen))
			r = 0;
		else if (t->id >= NSEND)
			r = receive(t, buf, tmo, &stop);
		else if (!may_send(t, &gen))
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

static void evloop(struct thr *t)
{
	struct stress *st = t->st;
	struct vchan *v = st->v[t->end];
	uint8_t *out = malloc(4 * st->max_msg), *in = malloc(4 * st->max_msg);
	bool busy = true, end = false, stop = false;
	unsigned gen = 0, pgen = 0;

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
		if (evl_parked(t, &pgen))
			continue;
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
}

/* --- scenarios ------------------------------------------------------- */
/* Main's words to the peer's receivers, and its single messages. */
static int marker(struct thr *t, bool stop)
{
	return CALL(t, "vchan_send", 0, A_STD,
		    vchan_send(t->st->v[t->end], stop ? T_STOP : T_HOLD, 0,
			       NULL, 0, 0));
}

static int single(struct thr *t)
{
	uint8_t buf[64];

	return send_some(t, MAIN_SRC, buf, 1, TMO);
}

static const struct stress_kind framed = {
	.title = "vchan stress", .unit = "message",
	.thr_name = { "s0", "s1", "r0", "r1", "evl" },
	.blocking = blocking, .evloop = evloop, .marker = marker,
	.single = single,
};

static struct stress *messages_new(void)
{
	struct stress *st = stress_new(&framed);

	for (int k = 0; k < 2 * NSRC; k++)
		assert_non_null(st->src[k / NSRC][k % NSRC].rec =
				malloc(CAP * sizeof(struct rec)));
	return st;
}

static void messages_end(struct stress *st)
{
	for (int k = 0; k < 2 * NSRC; k++)
		free(st->src[k / NSRC][k % NSRC].rec);
	stress_end(st);
}

static void pair_open(struct stress *st, unsigned lo, unsigned ro,
		      size_t max_msg, bool big)
{
	struct vchan_config sc = tv_cfg(lo, ro), cc = tv_cfg(0, 0);

	sc.max_msg = cc.max_msg = max_msg;
	pthread_mutex_lock(&st->setup_mu);   /* the monitor looks at these */
	st->max_msg = max_msg;
	st->big = big;
	for (int k = 0; k < 2 * NSRC; k++) {
		struct src *s = &st->src[k / NSRC][k % NSRC];

		memset(s->rec, 0, CAP * sizeof(struct rec));
		s->committed = 0;
	}
	pthread_mutex_unlock(&st->setup_mu);
	pair_start(st, &sc, &cc);
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

/* A sender and a receiver of end a asleep at once (senders_asleep()),
 * and single messages to a's sleeping receivers. */
static void crossed(struct stress *st, int a, int n)
{
	senders_asleep(st, a);
	trickle(st, !a, n);
	unhold(st);
	drain(st);
}

/* Rounds of traffic, each ending in a drain and single messages. */
static void test_traffic(void **state)
{
	const unsigned *c = *state;   /* orders, maximum, big */
	struct stress *st = messages_new();
	uint64_t end = vchan_now_ns() + run_ms() / 2 * MS;
	unsigned rounds = 0;

	pair_open(st, c[0], c[1], c[2], c[3]);
	while (vchan_now_ns() < end && !LOAD(st->failed)) {
		round_drain(st);
		crossed(st, rounds & 1, TRICKLE / 4);
		STORE(st->paused, 0);
		rounds++;
	}
	drain(st);
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
	messages_end(st);
}

static void test_revoke(void **state)
{
	struct stress *st = messages_new();
	uint64_t end = vchan_now_ns() + run_ms() * MS, late = 0;
	unsigned rounds = 0;

	(void)state;
	while ((vchan_now_ns() < end || rounds < 8) && !LOAD(st->failed)) {
		int e = rounds & 1;

		if (rounds & 2)
			pair_open(st, 10, 11, 8 << 10, true);
		else
			pair_open(st, 12, 12, 3 << 12, false);
		phase(st, "traffic");
		usleep(10000 + rnd(&st->mthr[0].rnd) % 100000);
		if (rounds & 4) {
			/* Mid-stream, or on a quiet channel: every call
			 * asleep, only the revoke to wake it. */
			drain(st);
			usleep(20000);
		}
		phase(st, "revoke");
		STORE(st->revoke_req, e + 1);
		wait_ended(st, &late);
		pair_join(st);
		verify(st, false);
		pair_close(st);
		rounds++;
	}
	print_message("%u revokes; every thread ended within %.1f ms of it; "
		      "calls overran their timeouts by %llu ms at most; %u "
		      "overrun(s) excused (CPU starvation)\n",
		      rounds, (double)late / MS,
		      (unsigned long long)(st->max_over / MS), st->excused);
	messages_end(st);
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
