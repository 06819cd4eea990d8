/* SPDX-License-Identifier: MIT */
/* The raw byte stream (cfg.raw: vchan_write, vchan_read) with many threads
 * on each end of one pair: two writers (blocking with long and short
 * timeouts, and non-blocking), two blocking readers and an event loop
 * (poll() on vchan_fd(), vchan_events(), reads and writes with timeout 0),
 * both directions at once, on rings of 1 to 4 KiB that are mostly full.
 * The stream is 8-byte words, a magic byte | writer << 48 | the writer's
 * word count, and every length a multiple of 8, so every count returned
 * must be one too.  Within one read a writer's words follow each other with
 * no gap, one reader sees each writer's words rise, and in the end every
 * word a writer's calls said they wrote was read exactly once, and no
 * other.  Rounds end with readers asleep on empty rings, writers asleep on
 * full ones, an end where a reader and a writer sleep at once, and an event
 * loop reading alone: bytes pending with none read for STALL_MS, a write
 * waiting STALL_MS while the peer reads (or after one read freed room), or
 * a poll() that times out though bytes came long before is a lost wake-up.
 * Then one end is revoked, by its event loop or by main, mid-stream or with
 * every call asleep: every thread ends with -EPIPE within REVOKE_MS, the
 * peer having read all the revoked end wrote, the revoked end a prefix of
 * each peer writer's words.  Every call returns a value vchan.h allows it
 * within its timeout plus SLACK_MS.  (Time the threads spent runnable but
 * off the CPU, which the kernel counts, is added to that allowance and to
 * STALL_MS: a loaded machine is no lost wake-up.)  A watchdog aborts,
 * saying which thread is in which call, when a scenario hangs.
 * VCHAN_STRESS_MS: time per scenario (default 1000). */
#include "config.h"

#include <poll.h>
#include <stdint.h>

#define CAP (1u << 25)            /* words a writer may write per pair */
#define MAXW 1024                 /* words per call: twice a 4 KiB ring */
/* A sleeper not woken sleeps until TMO: generous, so that a lost wake-up
 * still shows past STALL_MS plus what a loaded machine's threads waited
 * for a CPU. */
#define TMO 4000                  /* blocking calls' timeout, ms */
#define MAGIC 0xa5ull
#define WORD(src, seq) (MAGIC << 56 | (uint64_t)(src) << 48 | (seq))
#define W_STOP 0x5a00000000000001ull   /* ends a blocking reader */
#define W_HOLD 0x5a00000000000002ull   /* wakes one to hold still */

struct src {                    /* one writing thread's words */
	uint32_t written;       /* atomic: its calls reported these written */
	uint64_t *got;          /* a bit per word: read (atomic) */
};

/* thr: a reader's next word of each peer writer, at the least.  stress:
 * solo: end + 1, its event loop reads alone; by_main: main revokes, not
 * the end's event loop; tr_at: when main's last single write returned;
 * total: words read, over the pairs. */
#define THR_OWN_FIELDS \
	uint32_t last[NSRC];
#define STRESS_OWN_FIELDS \
	int solo, by_main; \
	uint64_t tr_at, total[2]; \
	unsigned pairs; \
	struct src src[2][NSRC];

#include "test_vchan_stress_util.h"

/* A call's value: a count > 0, and what A_WAIT allows. */
#define A_STD (A_POS | A_WAIT)

static const char *const src_name[NSRC] = { "w0", "w1", "evl", "main" };
/* The monitor knows a write in progress by this very pointer. */
static const char call_write[] = "vchan_write";

/* --- words ----------------------------------------------------------- */
/* Mostly calls that a 1 KiB ring cannot take at once: partial writes and
 * reads, and writers that wait for room.  Main writes single words. */
static size_t pick_words(struct thr *t, size_t ring, bool small)
{
	uint32_t x = rnd(&t->rnd) % 100;
	size_t w = ring / 8, top = small || x < 30 ? 8 : x < 55 ? w / 4 :
				   x < 80 ? w : 2 * w;

	return 1 + rnd(&t->rnd) % top;
}

/* Words of writer src of t's end, from where its last call left off: what
 * was written, or the error; -ENOSPC when the writer has written CAP. */
static int do_write(struct thr *t, int src, uint64_t *buf, int tmo)
{
	struct stress *st = t->st;
	struct src *s = &st->src[t->end][src];
	uint32_t seq = s->written;
	size_t n = pick_words(t, st->ring[t->end], src == MAIN_SRC);
	int r;

	if (seq + n > CAP)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++)
		buf[i] = WORD(t->end * NSRC + src, seq + i);
	r = CALL(t, call_write, tmo, A_STD,
		 vchan_write(st->v[t->end], buf, n * 8, tmo));
	if (r > 0 && (r % 8 || (size_t)r > n * 8)) {
		bad(st, "%s %s: vchan_write of %zu bytes returned %d",
		    end_name[t->end], t->name, n * 8, r);
	} else if (r > 0) {
		STORE(s->written, seq + (uint32_t)r / 8);
		ADD(st->committed[t->end], (uint64_t)r / 8);
	}
	return r;
}

/* What one read brought: checked, counted.  STOP sets *stop. */
static void take(struct thr *t, const uint64_t *w, size_t n, bool *stop)
{
	struct stress *st = t->st;
	uint32_t next[NSRC] = { 0 };  /* in this read: the word due (0: any) */
	uint64_t cnt = 0;
	int peer = !t->end;

	for (size_t i = 0; i < n && !LOAD(st->failed); i++) {
		unsigned src = (unsigned)(w[i] >> 48 & 0xff) - peer * NSRC;
		uint64_t seq = w[i] & 0xffffffffffffull;

		if (w[i] == W_STOP || w[i] == W_HOLD) {
			*stop |= w[i] == W_STOP;
			continue;
		}
		if (w[i] >> 56 != MAGIC || src >= NSRC || seq >= CAP) {
			bad(st, "%s %s: corrupt word %#llx (%zu of %zu read)",
			    end_name[t->end], t->name,
			    (unsigned long long)w[i], i, n);
			return;
		}
		if (next[src] && seq != next[src])
			bad(st, "%s %s: in one read, word %llu of %s %s "
			    "follows its word %u", end_name[t->end], t->name,
			    (unsigned long long)seq, end_name[peer],
			    src_name[src], next[src] - 1);
		else if (seq < t->last[src])
			bad(st, "%s %s: word %llu of %s %s after its word %u",
			    end_name[t->end], t->name, (unsigned long long)seq,
			    end_name[peer], src_name[src], t->last[src] - 1);
		next[src] = t->last[src] = (uint32_t)seq + 1;
		if (__atomic_fetch_or(&st->src[peer][src].got[seq / 64],
				      1ull << seq % 64, __ATOMIC_ACQ_REL) >>
		    seq % 64 & 1)
			bad(st, "%s %s: word %llu of %s %s read twice",
			    end_name[t->end], t->name, (unsigned long long)seq,
			    end_name[peer], src_name[src]);
		cnt++;
	}
	ADD(st->delivered[peer], cnt);
}

/* A read of n words (0: some). */
static int do_read(struct thr *t, uint64_t *buf, size_t n, int tmo,
		   bool *stop)
{
	struct stress *st = t->st;
	int r;

	n = n ? n : pick_words(t, st->ring[!t->end], false);
	r = CALL(t, "vchan_read", tmo, A_STD,
		 vchan_read(st->v[t->end], buf, n * 8, tmo));

	if (r > 0 && (r % 8 || (size_t)r > n * 8))
		bad(st, "%s %s: vchan_read of %zu bytes returned %d",
		    end_name[t->end], t->name, n * 8, r);
	else if (r > 0)
		take(t, buf, (size_t)r / 8, stop);
	return r;
}

/* While the main thread drains, the writers park, until a revoke. */
static bool may_write(struct thr *t, unsigned *gen)
{
	struct stress *st = t->st;

	if (!(LOAD(st->paused) >> t->end & 1) || LOAD(st->revoke_done))
		return true;
	if (*gen != LOAD(st->gen) && t->id < NSEND) {
		*gen = LOAD(st->gen);
		ADD(st->parked, 1);
	}
	return false;
}

/* --- the threads ----------------------------------------------------- */
/* A blocking writer (id < NSEND) or reader. */
static void blocking(struct thr *t)
{
	struct stress *st = t->st;
	struct vchan *v = st->v[t->end];
	uint64_t *buf = malloc(MAXW * 8);
	unsigned gen = 0, hgen = 0;
	bool stop = false, rd = t->id >= NSEND, full = false;

	while (buf && !stop && !over(st)) {
		unsigned x = rnd(&t->rnd) % 8;
		/* Mostly long timeouts: a lost wake-up shows then.  Readers
		 * always block; writers sometimes do not. */
		int tmo = x < 5 ? TMO : x < 7 || rd ?
			  1 + (int)(rnd(&t->rnd) % 3) : 0;
		int r;

		if (rd && rx_held(t, &hgen)) {
			r = 0;
		} else if (rd) {
			r = do_read(t, buf, 0, tmo, &stop);
		} else if (!may_write(t, &gen) || full) {
			/* One that wrote all it may still ends on a revoke. */
			if (full && LOAD(st->revoke_req))
				break;
			r = usleep(100);
		} else {
			r = do_write(t, t->id, buf, tmo);
			full = r == -ENOSPC;
		}
		if (r != -EPIPE)
			continue;
		/* For good: nothing to read after it (not even what a write
		 * of the revoked end in flight would bring), no room. */
		usleep(1000);
		r = rd ? CALL(t, "vchan_read", 0, A_PIPE | A_POS,
			      vchan_read(v, buf, 8, 0))
		       : CALL(t, call_write, 0, A_PIPE | A_POS,
			      vchan_write(v, buf, 8, 0));
		if (r > 0)
			bad(st, "%s %s: %d bytes moved 1 ms after -EPIPE (%s)",
			    end_name[t->end], t->name, r, rd ?
			    "the revoked end's writes landed after it" :
			    "a write after the revoke");
		break;
	}
	free(buf);
}

/* Revoke end t->end (t: its event loop, or main), then every call there
 * says -EPIPE; a length of 0 moves nothing and may say 0. */
static void revoke_here(struct thr *t)
{
	struct stress *st = t->st;
	struct vchan *v = st->v[t->end];
	uint64_t w = 0;
	int z = 0;

	STORE(st->revoked_at, vchan_now_ns());
	if (CALL(t, "vchan_revoke", 0, A_ZERO, vchan_revoke(v)) != 0)
		bad(st, "vchan_revoke failed");
	STORE(st->revoke_done, 1);
	if (vchan_read(v, &w, 8, 0) != -EPIPE ||
	    vchan_read(v, &w, 8, 10) != -EPIPE ||
	    vchan_write(v, &w, 8, 0) != -EPIPE ||
	    vchan_write(v, &w, 8, 10) != -EPIPE ||
	    vchan_fd(v) != -EPIPE || !(vchan_events(v) & VCHAN_EV_HUP) ||
	    vchan_revoke(v) != 0 || ((z = vchan_write(v, &w, 0, 0)) != 0 &&
				     z != -EPIPE))
		bad(st, "%s: calls after vchan_revoke() do not fail -EPIPE "
		    "(a write of 0 bytes: %d)", end_name[t->end], z);
}

static void evloop(struct thr *t)
{
	struct stress *st = t->st;
	struct vchan *v = st->v[t->end];
	uint64_t *out = malloc(MAXW * 8), *in = malloc(MAXW * 8);
	bool busy = true, end = false, stop = false, asked = false;
	unsigned gen = 0, pgen = 0;

	while (out && in && !over(st) && !end) {
		int ev, fd, r = 0, rq = LOAD(st->revoke_req);

		if (rq == t->end + 1 && !LOAD(st->by_main)) {
			revoke_here(t);
			break;
		}
		/* Out of the way while the main thread drains: single writes
		 * then go to sleeping readers alone (the loop's requests to
		 * be woken would cover for lost ones). */
		if (evl_parked(t, &pgen)) {
			busy = true;
			continue;
		}
		fd = CALL(t, "vchan_fd", 0, A_POS | A_REV, vchan_fd(v));
		if (fd < 0 && LOAD(st->revoke_req) != t->end + 1)
			bad(st, "%s evl: vchan_fd: %d", end_name[t->end], fd);
		if (!busy && fd >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			int n = poll(&pfd, 1, POLL_MS);
			uint64_t at = LOAD(st->tr_at), now = vchan_now_ns();
			uint64_t cpu;

			if (n < 0 && errno != EINTR)
				bad(st, "poll: %s", strerror(errno));
			/* Alone on its end, having asked to be woken (its
			 * last read said -EAGAIN): bytes written since then
			 * (a write that returned long before the poll did)
			 * make the fd readable. */
			if (n == 0 && asked && LOAD(st->solo) == t->end + 1 &&
			    at && LOAD(st->delivered[!t->end]) <
			    LOAD(st->committed[!t->end]) &&
			    overdue(st, at, now, POLL_MS / 2, &cpu))
				bad(st, "lost wake-up: %s evl: poll() on "
				    "vchan_fd() timed out (%d ms), bytes "
				    "written %llu ms before still unread "
				    "(threads waited for a CPU %llu ms at most "
				    "meanwhile)", end_name[t->end], POLL_MS,
				    (unsigned long long)((now - at) / MS),
				    (unsigned long long)cpu);
		}
		ev = CALL(t, "vchan_events", 0, A_OK, vchan_events(v));
		if ((ev & ~(VCHAN_EV_IN | VCHAN_EV_OUT | VCHAN_EV_HUP)) ||
		    ((ev & VCHAN_EV_HUP) && !LOAD(st->revoke_req)))
			bad(st, "%s evl: vchan_events: %#x", end_name[t->end],
			    ev);
		/* Read what is there (-EAGAIN: back to poll, that read asked
		 * to be woken; after a hang-up -EPIPE once all is read), then
		 * write until full. */
		for (int i = 0; i < 32 && r >= 0; i++)
			r = do_read(t, in, 0, 0, &stop);
		asked = r == -EAGAIN;
		busy = r >= 0;
		for (int i = 0; i < 8 && r != -EPIPE && may_write(t, &gen);
		     i++) {
			r = do_write(t, EVL_SRC, out, 0);
			if (r < 0)
				break;
			busy = true;
		}
		end = r == -EPIPE;
	}
	free(out);
	free(in);
}

/* A write waiting while the peer's readers run (the monitor asks each
 * tick): a lost wake-up. */
static void watch_writes(struct stress *st, int e, uint64_t now)
{
	if (LOAD(st->hold_rx) == !e + 1 || LOAD(st->revoke_req))
		return;
	for (int i = 0; i <= NTHR; i++) {
		struct thr *t = i < NTHR ? &st->thr[e][i] : &st->mthr[e];
		uint64_t s, u = LOAD(st->unheld_at), cpu;

		/* The call first: its start is then no older than it. */
		if (LOAD(t->call) != call_write)
			continue;
		s = LOAD(t->since);
		s = s > u ? s : u;
		if (overdue(st, s, now, STALL_MS, &cpu))
			bad(st, "lost wake-up: %s %s in vchan_write for %llu "
			    "ms while %s reads (threads waited for a CPU %llu "
			    "ms at most meanwhile)", end_name[e], t->name,
			    (unsigned long long)((now - s) / MS), end_name[!e],
			    (unsigned long long)cpu);
	}
}

/* --- scenarios ------------------------------------------------------- */
/* Main's words to the peer's readers, and its single writes. */
static int marker(struct thr *t, bool stop)
{
	uint64_t w = stop ? W_STOP : W_HOLD;

	return CALL(t, call_write, 0, A_STD, vchan_write(t->st->v[t->end], &w,
							 8, 0));
}

static int single(struct thr *t)
{
	struct stress *st = t->st;
	uint64_t buf[8];
	int r;

	STORE(st->tr_at, 0);   /* (for this write only) */
	r = do_write(t, MAIN_SRC, buf, TMO);
	STORE(st->tr_at, vchan_now_ns());
	return r;
}

static const struct stress_kind raw = {
	.title = "vchan raw stress", .unit = "word",
	.thr_name = { "w0", "w1", "r0", "r1", "evl" },
	.blocking = blocking, .evloop = evloop, .marker = marker,
	.single = single, .watch = watch_writes,
};

static struct stress *words_new(void)
{
	struct stress *st = stress_new(&raw);

	for (int k = 0; k < 2 * NSRC; k++)
		assert_non_null(st->src[k / NSRC][k % NSRC].got =
				calloc(CAP / 64, 8));
	return st;
}

static void words_end(struct stress *st)
{
	for (int k = 0; k < 2 * NSRC; k++)
		free(st->src[k / NSRC][k % NSRC].got);
	stress_end(st);
}

/* spin: cfg.spin_ns (0: every wait sleeps). */
static void pair_open(struct stress *st, unsigned lo, unsigned ro, long spin)
{
	struct vchan_config sc = tv_cfg(lo, ro), cc = tv_cfg(0, 0);

	sc.raw = cc.raw = 1;
	sc.spin_ns = cc.spin_ns = spin;
	pthread_mutex_lock(&st->setup_mu);   /* the monitor looks at these */
	st->by_main = st->solo = 0;
	st->tr_at = 0;
	/* A passing check left nothing read past what was written. */
	for (int k = 0; k < 2 * NSRC; k++) {
		struct src *s = &st->src[k / NSRC][k % NSRC];

		memset(s->got, 0, (s->written + 63) / 64 * 8);
		s->written = 0;
	}
	pthread_mutex_unlock(&st->setup_mu);
	pair_start(st, &sc, &cc);
	assert_true(st->ring[0] * 2 <= MAXW * 8 && st->ring[1] * 2 <= MAXW * 8);
}

/* Each writer's words were read (once: take() checks that): all it wrote
 * when bit e of complete is set for its end, a prefix otherwise; none it
 * did not write. */
static void verify(struct stress *st, int complete)
{
	for (int k = 0; k < 2 * NSRC; k++) {
		int e = k / NSRC;
		struct src *s = &st->src[e][k % NSRC];
		uint32_t n = s->written, c = 0, i;
		const char *err = NULL;

		/* c: the prefix read; i: the first word read after it */
		while (c < CAP && s->got[c / 64] == ~0ull)
			c += 64;
		while (c < CAP && (s->got[c / 64] >> c % 64 & 1))
			c++;
		for (i = c; i < CAP && !(s->got[i / 64] >> i % 64 & 1);)
			i = s->got[i / 64] >> i % 64 ? i + 1
						     : (i / 64 + 1) * 64;
		if (c > n)
			err = "read, never written", c = n;
		else if (c < n && (complete >> e & 1))
			err = "lost";
		else if (i < CAP)
			err = i < n ? "read after a lost one"
				    : "read, never written", c = i;
		if (err)
			bad(st, "%s %s: word %u (of %u written) %s",
			    end_name[e], src_name[k % NSRC], c, n, err);
	}
}

/* Join, check, close; complete as verify(). */
static void pair_end(struct stress *st, int complete)
{
	pair_join(st);
	verify(st, complete);
	st->total[0] += st->delivered[0];
	st->total[1] += st->delivered[1];
	st->pairs++;
	pair_close(st);
}

/* Bytes the writes of end v have put in the ring so far (statistics). */
static uint64_t sent_bytes(struct vchan *v)
{
	struct vchan_stats vs;

	assert_int_equal(vchan_get_stats(v, &vs), 0);
	return vs.bytes_sent;
}

/* A writer and a reader of end a asleep at once (senders_asleep()): single
 * writes go to a's sleeping readers; then a read of the peer's main wakes
 * a's writers.  keep: stop with every call of a asleep (for a revoke). */
static void crossed(struct stress *st, int a, int n, bool keep)
{
	uint64_t t0, w, cpu = 0, buf[MAXW / 8];
	bool stop = false, late = false;

	senders_asleep(st, a);
	if (keep)
		return;
	trickle(st, !a, n);
	/* A quarter ring read while the readers still hold: the room it
	 * frees must wake a's writers by itself.  Bytes sent, not words
	 * committed: a woken writer fills the room and waits on for the
	 * rest of its words (a blocking vchan_write() writes all). */
	w = sent_bytes(st->v[a]);
	if (do_read(&st->mthr[!a], buf, st->ring[a] / 32, 0, &stop) > 0) {
		t0 = vchan_now_ns();
		while (sent_bytes(st->v[a]) == w && !LOAD(st->failed) &&
		       !(late = overdue(st, t0, vchan_now_ns(), STALL_MS,
					&cpu)))
			usleep(200);
		if (late)
			bad(st, "lost wake-up: %s read a quarter ring, %s's "
			    "writers slept on (threads waited for a CPU %llu "
			    "ms at most meanwhile)", end_name[!a], end_name[a],
			    (unsigned long long)cpu);
	}
	unhold(st);
	drain(st);
}

/* End e's event loop the only thread reading there: single writes from
 * the peer must make its fd readable (checked in evloop()). */
static void solo(struct stress *st, int e, int n)
{
	hold(st, e);
	STORE(st->tr_at, 0);
	STORE(st->solo, e + 1);
	park(st, 15 & ~(4 << e));
	trickle(st, !e, n);
	STORE(st->solo, 0);
	/* The loop first: its calls would wait for the readers' lock. */
	park(st, 15);
	unhold(st);
	wait_in(st, 3);
}

/* Rounds of traffic, each ending in a drain, single writes, a crossed end
 * and an event loop alone. */
static void test_traffic(void **state)
{
	const int *c = *state;   /* orders, spin_ns */
	struct stress *st = words_new();
	uint64_t end = vchan_now_ns() + run_ms() / 2 * MS;
	unsigned rounds = 0;

	pair_open(st, (unsigned)c[0], (unsigned)c[1], c[2]);
	while (vchan_now_ns() < end && !LOAD(st->failed)) {
		round_drain(st);
		crossed(st, rounds & 1, TRICKLE / 4, false);
		solo(st, !(rounds & 1), TRICKLE / 4);
		rounds++;
		/* A fresh pair before a writer can run out of words. */
		if (LOAD(st->committed[0]) + LOAD(st->committed[1]) >=
		    CAP / 2) {
			pair_end(st, 3);
			pair_open(st, (unsigned)c[0], (unsigned)c[1], c[2]);
		}
		STORE(st->paused, 0);
	}
	drain(st);
	pair_end(st, 3);
	print_message("rings %zu/%zu, spin %d: %u rounds on %u pair(s), %llu + "
		      "%llu words; calls overran their timeouts by %llu ms at "
		      "most; %u overrun(s) excused (CPU starvation)\n",
		      st->ring[0], st->ring[1], c[2], rounds, st->pairs,
		      (unsigned long long)st->total[0],
		      (unsigned long long)st->total[1],
		      (unsigned long long)(st->max_over / MS), st->excused);
	if (tv_log_count)   /* raw mode has nothing to discard or log */
		bad(st, "log: %s", tv_last_log);
	words_end(st);
}

/* Round k: end k & 1 revoked, by its event loop or (k & 2) by main;
 * mid-stream, with the writers parked and every reader asleep, or with
 * every call of one end asleep (crossed()). */
static void test_revoke(void **state)
{
	struct stress *st = words_new();
	uint64_t end = vchan_now_ns() + run_ms() * MS, late = 0;
	unsigned k = 0;

	(void)state;
	while ((vchan_now_ns() < end || k < 12) && !LOAD(st->failed)) {
		int e = k & 1, by_main = k >> 1 & 1, mode = (int)(k >> 2) % 3;
		uint32_t x = rnd(&st->mthr[0].rnd);

		pair_open(st, x & 1 ? 10 : 12, x & 1 ? 11 : 12,
			  x & 2 ? -1 : 0);
		phase(st, "traffic");
		usleep(10000 + rnd(&st->mthr[0].rnd) % 50000);
		if (mode)
			drain(st);
		if (mode == 1)
			usleep(20000);
		else if (mode == 2)   /* the revoked end, or its peer */
			crossed(st, e ^ by_main ^ (int)(k / 12 & 1), 0, true);
		phase(st, "revoke");
		STORE(st->by_main, by_main);
		STORE(st->revoke_req, e + 1);
		if (by_main)
			revoke_here(&st->mthr[e]);
		wait_ended(st, &late);
		/* The peer read all the revoked end wrote. */
		pair_end(st, 1 << e);
		k++;
	}
	print_message("%u revokes, %llu + %llu words; every thread ended "
		      "within %.1f ms of it; calls overran their timeouts by "
		      "%llu ms at most; %u overrun(s) excused (CPU "
		      "starvation)\n", k, (unsigned long long)st->total[0],
		      (unsigned long long)st->total[1], (double)late / MS,
		      (unsigned long long)(st->max_over / MS), st->excused);
	if (tv_log_count)
		bad(st, "log: %s", tv_last_log);
	words_end(st);
}

int main(void)
{
	/* 1 KiB and 2 KiB rings (4 KiB under LINES) with the default
	 * adaptive spin; 4 KiB rings where every wait sleeps. */
	static const int small[] = { 10, 11, -1 };
	static const int sleepy[] = { 12, 12, 0 };
	const struct CMUnitTest tests[] = {
		{ "test_traffic_small_spin", test_traffic, NULL, NULL,
		  (void *)small },
		{ "test_traffic_4k_nospin", test_traffic, NULL, NULL,
		  (void *)sleepy },
		cmocka_unit_test(test_revoke),
	};

	return tv_run_layouts(tests);
}
