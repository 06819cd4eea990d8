/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the delivery promises, against a model.  Both ends are
 * the library's own (vchan_shm_pair()), so neither is hostile; the input
 * is a script that picks the channel (layout, ring orders, maximum message
 * size, framed or raw) and where each ring's indices start, then drives
 * both ends through every call of the public API with arbitrary sizes,
 * types, flags, batch shapes and capacities, in any order, never blocking:
 * sends, receives, batches (runs, and runs whose payloads lie back to
 * back), in-place reservations and receptions held across other calls,
 * flushes, events, the fd, and at times a revoke.
 *
 * Indices are 32-bit and wrap: a channel that has carried about 4 GiB has
 * them just below 2^32, and an input here moves a few hundred MB at most.
 * So the script's second byte may start either ring (both its indices,
 * empty) up to 15/8 of a ring below 2^32 (start_near_wrap()), and every
 * promise below is then checked across the wrap.
 *
 * A model of each direction checks what the library promises:
 *   - every message received is the next one sent: same type, flags,
 *     length and bytes, sequence numbers counting up by one;
 *   - nothing is lost or duplicated: once the script ends, flushing and
 *     receiving in turn delivers every accepted message (a stall aborts);
 *   - each call returns what the manual says for the case (-EMSGSIZE for a
 *     message over the maximum or a buffer too small, -EINVAL for a call
 *     the thread's own hold forbids, -EAGAIN only for "not now", -EPIPE
 *     after a revoke; never -EPROTO, as no end is hostile), and after
 *     every call the statistics count what the model counts;
 *   - raw channels deliver the byte stream in order, each byte once.
 * The model holds every message a script can have accepted and not yet
 * seen delivered (MAX_QUEUE), so its own limit is never what stops it.
 * ASan and UBSan watch every copy. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vchan_priv.h"

#include "fuzz_input.h"

#define MAX_BATCH 8
#define MAX_STEPS 2000     /* calls a script makes */
/* Messages one direction can have accepted and not delivered: each step
 * accepts at most a batch (1 MiB rings hold thousands of empty ones). */
#define MAX_QUEUE (MAX_STEPS * MAX_BATCH)
#define MAX_CAP 70000      /* the largest maximum message size below */

static const size_t max_msgs[] = { 1, 100, 4096, 65536 };
/* 12 comes with LINES (for 11); 20: a ring past VCHAN_PAD_WRAP_MAX, whose
 * frames wrap instead of padding, and where a whole frame may be taken in
 * one piece. */
static const unsigned orders[] = { 10, 11, 14, 20 };

/* What one direction has accepted and not yet delivered. */
struct sent {
	uint32_t type, flags;
	size_t len;
	uint64_t nr;            /* its number in the direction: the bytes */
};

struct dir {
	struct sent *q;         /* MAX_QUEUE, a ring from head */
	unsigned head, count;
	uint64_t accepted, delivered;
	bool seq_known;
	uint32_t next_seq;
	/* raw: the byte stream */
	uint64_t written, read;
};

struct side {
	struct vchan *v;
	bool reserving;         /* a reservation is held on this end */
	size_t reserved;
	bool holding;           /* an in-place message is held */
};

static struct dir dirs[2];      /* [e]: sent by end e */
static struct sent queues[2][MAX_QUEUE];
static struct side ends[2];
static bool revoked, raw;
static size_t max_msg;
/* Send payloads: MAX_BATCH slots, or one stretch for packed batches. */
static uint8_t out_mem[MAX_BATCH * MAX_CAP];
#define OUT(i) (out_mem + (size_t)(i) * MAX_CAP)
static uint8_t in_mem[MAX_BATCH * MAX_CAP];
#define IN(i) (in_mem + (size_t)(i) * MAX_CAP)

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "fuzz_vchan_pair: %s:%d: %s\n",     \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

static void quiet(void *arg, const char *line)
{
	(void)arg;
	(void)line;
}

/* Byte i of message nr (or of the raw stream, nr 0). */
static uint8_t pattern(uint64_t nr, uint64_t i)
{
	return (uint8_t)(nr * 131u + i * 7u + (i >> 8) + 1u);
}

static void fill(uint8_t *p, uint64_t nr, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(nr, i);
}

static size_t pick_len(struct in *in)
{
	unsigned sel = take(in, 1);

	switch (sel % 8) {
	case 0: return 0;
	case 1: return 1 + sel / 8 % 32;                /* tiny */
	case 2: return take(in, 1);                     /* runs' size */
	case 3: return take(in, 2) % 1200;              /* around 1 KiB */
	case 4: return take(in, 2) % 5000;              /* around 4 KiB */
	case 5: return take(in, 3) % (MAX_CAP - 1);
	case 6: return max_msg;
	default: return max_msg + 1 + sel / 8 % 3;      /* over the limit */
	}
}

static struct sent *accept(int e, uint32_t type, uint32_t flags, size_t len)
{
	struct dir *d = &dirs[e];
	struct sent *s;

	CHECK(d->count < MAX_QUEUE);
	s = &d->q[(d->head + d->count++) % MAX_QUEUE];
	s->type = type;
	s->flags = flags;
	s->len = len;
	s->nr = d->accepted++;
	return s;
}

/* The next message of direction e as the other end received it. */
static void deliver(int e, const struct vchan_msg *m)
{
	struct dir *d = &dirs[e];
	struct sent *s;
	const uint8_t *p = m->buf;

	CHECK(d->count > 0);
	s = &d->q[d->head];
	CHECK(m->type == s->type);
	CHECK(m->flags == s->flags);
	CHECK(m->len == s->len);
	for (size_t i = 0; i < m->len; i++)
		CHECK(p[i] == pattern(s->nr, i));
	if (d->seq_known)
		CHECK(m->seq == d->next_seq);
	d->seq_known = true;
	d->next_seq = m->seq + 1;
	d->head = (d->head + 1) % MAX_QUEUE;
	d->count--;
	d->delivered++;
}

/* The front message of direction e, for a receive that found it too big. */
static size_t front_len(int e)
{
	CHECK(dirs[e].count > 0);
	return dirs[e].q[dirs[e].head].len;
}

/* A failure any call may give: only a revoke ends calls. */
static void no_failure(int r)
{
	if (revoked)
		CHECK(r == -EPIPE || r >= 0 || r == -EAGAIN);
	else
		CHECK(r >= 0 || r == -EAGAIN);
}

/* A call of the direction this thread holds (a reservation for sends, an
 * in-place message for receives) is refused while it holds; after a
 * revoke it may say the channel is gone instead. */
static bool refused_by_hold(bool hold, int r)
{
	if (!hold)
		return false;
	CHECK(r == -EINVAL || (revoked && r == -EPIPE));
	return true;
}

/* ---- framed calls --------------------------------------------------------- */

static void op_send(struct in *in, int e)
{
	uint32_t type = take(in, 4);
	uint32_t flags = take(in, 2) & VCHAN_MSG_FLAGS_USER;
	size_t len = pick_len(in);
	int r;

	fill(OUT(0), dirs[e].accepted, len);
	r = vchan_send(ends[e].v, type, flags, OUT(0), len, 0);
	if (refused_by_hold(ends[e].reserving, r))
		return;
	if (len > max_msg && !revoked) {
		CHECK(r == -EMSGSIZE);
		return;
	}
	if (r == 0)
		accept(e, type, flags, len);
	else if (r != -EMSGSIZE || len <= max_msg)
		no_failure(r);
}

static void op_recv(struct in *in, int e)
{
	struct vchan_msg m = { .buf = IN(0) };
	bool small = take(in, 1) & 1;
	int r;

	m.len = small ? take(in, 2) % (MAX_CAP / 16) : MAX_CAP;
	r = vchan_recv(ends[e].v, &m, 0);
	if (refused_by_hold(ends[e].holding, r))
		return;
	if (r == 0) {
		deliver(!e, &m);
	} else if (r == -EMSGSIZE) {
		CHECK(small && m.len == front_len(!e));
	} else {
		no_failure(r);
	}
}

static void op_sendv(struct in *in, int e)
{
	struct vchan_msg ms[MAX_BATCH];
	unsigned n = 1 + take(in, 1) % MAX_BATCH;
	unsigned shape = take(in, 1);
	bool same = shape & 1;           /* one shape: a run */
	bool packed = same && (shape & 2);  /* payloads back to back */
	uint64_t nr = dirs[e].accepted;
	int r;

	for (unsigned i = 0; i < n; i++) {
		if (same && i > 0) {
			ms[i] = ms[0];
		} else {
			ms[i].type = take(in, 1);
			ms[i].flags = take(in, 1);
			ms[i].len = pick_len(in);
		}
		ms[i].buf = packed ? out_mem + i * ms[0].len
				   : OUT(i);
		fill(ms[i].buf, nr + i, ms[i].len);
	}
	r = vchan_sendv(ends[e].v, ms, n, 0);
	if (refused_by_hold(ends[e].reserving, r))
		return;
	if (r > 0) {
		CHECK((unsigned)r <= n);
		for (int i = 0; i < r; i++) {
			CHECK(ms[i].len <= max_msg);
			accept(e, ms[i].type, ms[i].flags, ms[i].len);
		}
	} else if (r == -EMSGSIZE) {
		CHECK(ms[0].len > max_msg);
	} else {
		CHECK(r != 0);
		if (!revoked)
			CHECK(ms[0].len <= max_msg);
		no_failure(r);
	}
}

static void op_recvv(struct in *in, int e)
{
	struct vchan_msg ms[MAX_BATCH];
	unsigned n = 1 + take(in, 1) % MAX_BATCH;
	/* Packed: buffers of one small size back to back, as a run's
	 * payloads lie in the ring when their size is a multiple of 16. */
	bool packed = take(in, 1) & 1;
	size_t cap = packed ? take(in, 1) : MAX_CAP;
	int r;

	for (unsigned i = 0; i < n; i++) {
		ms[i].buf = packed ? in_mem + i * cap : IN(i);
		ms[i].len = cap;
	}
	r = vchan_recvv(ends[e].v, ms, n, 0);
	if (refused_by_hold(ends[e].holding, r))
		return;
	if (r > 0) {
		CHECK((unsigned)r <= n);
		for (int i = 0; i < r; i++)
			deliver(!e, &ms[i]);
	} else if (r == -EMSGSIZE) {
		CHECK(ms[0].len == front_len(!e) && ms[0].len > cap);
	} else {
		CHECK(r != 0);
		no_failure(r);
	}
}

static void op_reserve(struct in *in, int e)
{
	struct side *s = &ends[e];
	size_t len = pick_len(in);
	void *p = NULL;
	int r;

	r = vchan_reserve(s->v, len, &p, 0);
	if (refused_by_hold(s->reserving, r))
		return;
	if (r == 0) {
		CHECK(!s->reserving && p != NULL && len <= max_msg);
		fill(p, dirs[e].accepted, len);
		s->reserving = true;
		s->reserved = len;
	} else if (r == -EMSGSIZE) {
		/* over the maximum, or over a quarter ring */
		CHECK(len > 0);
	} else {
		no_failure(r);
	}
}

static void op_commit(struct in *in, int e)
{
	struct side *s = &ends[e];
	uint32_t type = take(in, 2);
	uint32_t flags = take(in, 1);
	unsigned how = take(in, 1);
	size_t len;
	int r;

	if (!s->reserving)
		return;
	/* Cancel, the whole reservation, or less of it (written the same). */
	len = how % 4 == 0 ? (size_t)-1 :
	      how % 4 == 1 ? s->reserved : s->reserved * (how / 4) / 64;
	if (len > s->reserved && len != (size_t)-1)
		len = s->reserved;
	r = vchan_commit(s->v, type, flags, len);
	s->reserving = false;
	if (r == 0 && len != (size_t)-1)
		accept(e, type, flags, len);
	else if (revoked)
		CHECK(r == 0 || r == -EPIPE);
	else
		CHECK(r == 0);
}

static void op_recv_inplace(int e)
{
	struct vchan_msg m = { 0 };
	int r;

	if (ends[e].holding) {
		r = vchan_release(ends[e].v);
		ends[e].holding = false;
		CHECK(r == 0 || (revoked && r == -EPIPE));
		return;
	}
	r = vchan_recv_inplace(ends[e].v, &m, 0);
	if (r == 0) {
		deliver(!e, &m);
		ends[e].holding = true;
	} else {
		no_failure(r);
	}
}

static void op_flush(int e)
{
	int r = vchan_flush(ends[e].v, 0);

	if (!refused_by_hold(ends[e].reserving, r))
		no_failure(r);
}

/* A message streaming out of the backlog counts as sent once its last
 * byte is in the ring: mid-script one may be missing; once drained none. */
static void op_stats(int e, bool drained)
{
	struct vchan_stats st;

	CHECK(vchan_get_stats(ends[e].v, &st) == 0);
	if (revoked)
		return;
	CHECK(st.msgs_sent == dirs[e].accepted ||
	      (!drained && st.msgs_sent + 1 == dirs[e].accepted));
	CHECK(st.msgs_recv == dirs[!e].delivered);
	CHECK(st.discarded == 0);
}

/* Asking for the fd (made on the first call) changes nothing else. */
static void op_fd(int e)
{
	int r = vchan_fd(ends[e].v);

	CHECK(r >= 0 || (revoked && r == -EPIPE));
}

/* ---- raw calls ------------------------------------------------------------ */

static void op_write(struct in *in, int e)
{
	struct dir *d = &dirs[e];
	size_t len = take(in, 2) % (MAX_CAP / 4);
	uint8_t *p = OUT(0);
	int r;

	for (size_t i = 0; i < len; i++)
		p[i] = pattern(0, d->written + i);
	r = vchan_write(ends[e].v, p, len, 0);
	if (r >= 0) {
		CHECK((size_t)r <= len && (r > 0 || len == 0));
		d->written += (size_t)r;
	} else {
		no_failure(r);
	}
}

static void op_read(struct in *in, int e)
{
	struct dir *d = &dirs[!e];
	size_t len = take(in, 2) % (MAX_CAP / 4);
	int r = vchan_read(ends[e].v, IN(0), len, 0);

	if (r >= 0) {
		CHECK((size_t)r <= len && (r > 0 || len == 0));
		CHECK(d->read + (size_t)r <= d->written);
		for (int i = 0; i < r; i++)
			CHECK(IN(0)[i] == pattern(0, d->read + (size_t)i));
		d->read += (size_t)r;
	} else {
		no_failure(r);
	}
}

/* ---- the end: everything accepted arrives --------------------------------- */

static void drain(void)
{
	/* Each round moves at least a ring's worth, or a message's backlog
	 * piece; far fewer rounds than this suffice. */
	for (unsigned round = 0; round < 100000; round++) {
		bool left = false;

		for (int e = 0; e < 2; e++) {
			int r = raw ? 0 : vchan_flush(ends[e].v, 0);

			CHECK(r == 0 || r == -EAGAIN);
			(void)vchan_events(ends[!e].v);
			if (raw) {
				struct dir *d = &dirs[e];
				uint64_t want = d->written - d->read;
				int n;

				if (!want)
					continue;
				left = true;
				n = vchan_read(ends[!e].v, IN(0),
					       want < MAX_CAP ? want : MAX_CAP,
					       0);
				CHECK(n > 0 || n == -EAGAIN);
				for (int i = 0; i < n; i++)
					CHECK(IN(0)[i] ==
					      pattern(0, d->read + (size_t)i));
				if (n > 0)
					d->read += (size_t)n;
				continue;
			}
			while (dirs[e].count) {
				struct vchan_msg m = { .buf = IN(0),
						       .len = MAX_CAP };

				r = vchan_recv(ends[!e].v, &m, 0);
				CHECK(r == 0 || r == -EAGAIN);
				if (r)
					break;
				deliver(e, &m);
			}
			if (dirs[e].count)
				left = true;
		}
		if (!left)
			return;
	}
	fprintf(stderr, "fuzz_vchan_pair: stalled: %u and %u messages, "
		"%llu and %llu bytes undelivered\n", dirs[0].count,
		dirs[1].count,
		(unsigned long long)(dirs[0].written - dirs[0].read),
		(unsigned long long)(dirs[1].written - dirs[1].read));
	abort();
}

static void setup(struct in *in, struct vchan_config *cfg)
{
	unsigned sel = take(in, 1);

	vchan_config_init(cfg);
	cfg->layout = sel & 1 ? VCHAN_LAYOUT_LINES : VCHAN_LAYOUT_XENVCHAN;
	cfg->read_order = orders[sel / 2 % 4];
	cfg->write_order = orders[sel / 8 % 4];
	/* LINES has no in-page ring of order 11. */
	if (cfg->layout == VCHAN_LAYOUT_LINES) {
		if (cfg->read_order == 11)
			cfg->read_order = 12;
		if (cfg->write_order == 11)
			cfg->write_order = 12;
	}
	/* An order-20 ring's grant list runs into an in-page ring of 10. */
	if (cfg->read_order + cfg->write_order == 30) {
		if (cfg->read_order == 10)
			cfg->read_order = 14;
		else
			cfg->write_order = 14;
	}
	cfg->max_msg = max_msgs[sel / 32 % 4];
	cfg->raw = (sel >> 7) & 1;
	cfg->spin_ns = 0;          /* nothing here ever waits */
	cfg->name = "pair";
}

/* Start direction e's ring (sent by end e) empty, with both indices k
 * eighths of a ring below 2^32 (k 0: at 0, where vchan_shm_pair() put
 * them).  That is the state of a channel that has carried nearly 4 GiB
 * that way and delivered all of it, and what a client mapping such a page
 * would find.  vchan_shm_pair() has no way to choose it (a server page
 * starts at 0), so it is written here, before either end makes a call:
 * into the shared page, and then each end takes its starting point from
 * the page again with vchan_ring_init(), as vchan_endpoint_create() did
 * (its own index, the last peer index it checked, what it published).
 * Eighths of a ring of at least 1 KiB are frame boundaries. */
static void start_near_wrap(int e, unsigned k)
{
	struct vchan_ring *tx = &ends[e].v->tx.ring;
	struct vchan_ring *rx = &ends[!e].v->rx.ring;
	unsigned order = (unsigned)__builtin_ctz(tx->size);
	uint32_t at = 0u - k * (tx->size / 8);

	if (!k)
		return;
	CHECK(rx->size == tx->size);
	VCHAN_WRITE_ONCE(*tx->mine, at);        /* prod */
	VCHAN_WRITE_ONCE(*tx->theirs, at);      /* cons */
	CHECK(vchan_ring_init(tx, tx->mine, tx->theirs, tx->buf, order, true,
			      tx->who) == 0);
	CHECK(vchan_ring_init(rx, rx->theirs, rx->mine, rx->buf, order, false,
			      rx->who) == 0);
	CHECK(tx->idx == at && rx->idx == at);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct vchan_config cfg;
	unsigned steps = 0, wrap;

	vchan_set_logger(quiet, NULL);
	memset(dirs, 0, sizeof(dirs));
	dirs[0].q = queues[0];
	dirs[1].q = queues[1];
	memset(ends, 0, sizeof(ends));
	revoked = false;
	setup(&in, &cfg);
	raw = cfg.raw;
	max_msg = cfg.max_msg;
	CHECK(vchan_shm_pair(&cfg, &cfg, &ends[0].v, &ends[1].v) == 0);
	wrap = take(&in, 1);
	start_near_wrap(0, wrap & 15);
	start_near_wrap(1, wrap >> 4);

	while (in.n && steps++ < MAX_STEPS) {
		unsigned op = take(&in, 1);
		int e = op & 1;

		if (raw) {
			switch (op / 2 % 4) {
			case 0: op_write(&in, e); break;
			case 1: op_read(&in, e); break;
			case 2: no_failure(vchan_events(ends[e].v)); break;
			default:   /* rare: a revoke */
				if (op / 2 == 127 && take(&in, 1) == 0x5a) {
					CHECK(vchan_revoke(ends[e].v) == 0);
					revoked = true;
				}
			}
			continue;
		}
		switch (op / 2 % 11) {
		case 0: op_send(&in, e); break;
		case 1: op_recv(&in, e); break;
		case 2: op_sendv(&in, e); break;
		case 3: op_recvv(&in, e); break;
		case 4: op_reserve(&in, e); break;
		case 5: op_commit(&in, e); break;
		case 6: op_recv_inplace(e); break;
		case 7: op_flush(e); break;
		case 8: no_failure(vchan_events(ends[e].v)); break;
		case 9: op_fd(e); break;
		default:   /* rare: a revoke */
			if (op / 2 == 120 && take(&in, 1) == 0x5a) {
				CHECK(vchan_revoke(ends[e].v) == 0);
				revoked = true;
			}
		}
		/* The counters follow every call. */
		op_stats(0, false);
		op_stats(1, false);
	}
	/* Let go of holds, then everything accepted must arrive. */
	for (int e = 0; e < 2; e++) {
		if (ends[e].reserving)
			CHECK(vchan_commit(ends[e].v, 0, 0, (size_t)-1) == 0 ||
			      revoked);
		if (ends[e].holding)
			CHECK(vchan_release(ends[e].v) == 0 || revoked);
		ends[e].reserving = ends[e].holding = false;
	}
	if (!revoked) {
		drain();
		op_stats(0, true);
		op_stats(1, true);
	} else {
		/* After a revoke every call on both ends says so. */
		struct vchan_msg m = { .buf = IN(0), .len = MAX_CAP };

		for (int e = 0; e < 2; e++) {
			int r = raw ? vchan_write(ends[e].v, "x", 1, 0)
				    : vchan_send(ends[e].v, 0, 0, "x", 1, 0);

			CHECK(r == -EPIPE);
			if (raw)
				(void)vchan_read(ends[e].v, IN(0), 1, 0);
			else
				(void)vchan_recv(ends[e].v, &m, 0);
		}
	}
	vchan_close(ends[0].v);
	vchan_close(ends[1].v);
	return 0;
}
