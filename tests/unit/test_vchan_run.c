/* SPDX-License-Identifier: MIT */
/* Runs: vchan_sendv() puts consecutive messages of one type, flags and
 * length under one header (VCHAN_FRAME_RUN).  What the sender's ring holds
 * after a batch, what the receiver hands out (whole, a message at a time,
 * in place, near the ring's end, over many laps), what revoke counts with a
 * run half received, and run headers from a hostile peer. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_vchan_util.h"

#define NMAX 128
#define PMAX (VCHAN_RUN_LEN_MAX + 64)

/* Payloads of the messages a test sends (ms[i].buf = pay[i]), and room
 * for payloads back to back. */
static uint8_t pay[NMAX][PMAX];
static uint8_t src_area[40 * 512];

/* One frame as the sender's ring holds it. */
struct tr_frame {
	uint32_t pos;              /* ring offset of its header            */
	uint32_t count;            /* messages: a run's count, 1; 0: padding */
	uint32_t span;
	bool run;
	struct vchan_frame_hdr h;
};

/* The frames c wrote to its outbound ring between indices from and to
 * (the receiver has not consumed them yet, so they are intact).  Every
 * run is checked against the format as it goes: count, lengths, reserved
 * words, zeroed padding, at most a quarter ring, whole before the end. */
static unsigned walk(const struct vchan *c, uint32_t from, uint32_t to,
		     struct tr_frame *f, unsigned max)
{
	const struct vchan_ring *r = &c->tx.ring;
	unsigned n = 0;

	while (from != to) {
		struct vchan_frame_hdr h;
		struct vchan_run_word w;
		uint32_t pos = from & r->mask, span;

		assert_true(n < max);
		assert_true(to - from >= VCHAN_FRAME_HDR);
		memcpy(&h, r->buf + pos, sizeof(h));   /* headers never wrap */
		f[n] = (struct tr_frame){ .pos = pos, .h = h };
		if (h.flags & VCHAN_FRAME_PAD) {
			span = VCHAN_FRAME_HDR + h.len;
		} else if (h.flags & VCHAN_FRAME_RUN) {
			uint32_t stride = (uint32_t)vchan_frame_pad(h.len);

			assert_true(pos + VCHAN_RUN_HDR <= r->size);
			memcpy(&w, r->buf + pos + VCHAN_FRAME_HDR, sizeof(w));
			assert_int_equal(w.zero[0] | w.zero[1] | w.zero[2], 0);
			assert_true(w.count >= VCHAN_RUN_MIN);
			assert_true(h.len >= 1 && h.len <= VCHAN_RUN_LEN_MAX);
			span = VCHAN_RUN_HDR + w.count * stride;
			assert_true(span <= r->quarter);
			assert_true(pos + span <= r->size);
			for (uint32_t i = 0; i < w.count; i++)
				for (uint32_t b = h.len; b < stride; b++)
					assert_int_equal(r->buf[pos +
						VCHAN_RUN_HDR + i * stride + b],
						0);
			f[n].run = true;
			f[n].count = w.count;
		} else {
			span = (uint32_t)vchan_frame_span(h.len, from);
			f[n].count = 1;
		}
		assert_true(span <= to - from);
		f[n].span = span;
		from += span;
		n++;
	}
	return n;
}

/* A received message is the one sent, with sequence number seq. */
static void same(const struct vchan_msg *got, const struct vchan_msg *sent,
		 uint32_t seq)
{
	assert_int_equal(got->len, sent->len);
	assert_int_equal(got->type, sent->type);
	assert_int_equal(got->flags, sent->flags);
	assert_int_equal(got->seq, seq);
	if (sent->len)
		assert_memory_equal(got->buf, sent->buf, sent->len);
}

/* The next message on s is sent, with sequence number seq. */
static void expect(struct vchan *s, const struct vchan_msg *sent,
		   uint32_t seq)
{
	uint8_t out[PMAX];
	struct vchan_msg m = { .buf = out, .len = sizeof(out) };

	assert_int_equal(vchan_recv(s, &m, 0), 0);
	same(&m, sent, seq);
}

static void expect_empty(struct vchan *s)
{
	uint8_t out[PMAX];
	struct vchan_msg m = { .buf = out, .len = sizeof(out) };

	assert_int_equal(vchan_recv(s, &m, 0), -EAGAIN);
}

/* n messages of one kind, payloads from seed. */
static void kind(struct vchan_msg *ms, unsigned n, uint32_t type,
		 uint32_t flags, size_t len, uint32_t seed)
{
	for (unsigned i = 0; i < n; i++) {
		tv_fill(pay[i], len, seed + i);
		ms[i] = (struct vchan_msg){ .type = type, .flags = flags,
					    .buf = pay[i], .len = len };
	}
}

/* A batch of 8 same-size messages is one run up to 255 bytes, eight
 * frames from 256; either way all eight arrive intact, in order. */
static void test_run_sizes(void **state)
{
	static const size_t sizes[] = { 1, 15, 16, 17, 64, 255, 256 };
	struct vchan_msg ms[8];
	struct tr_frame f[16];
	struct vchan_stats st;
	struct vchan *s, *c;
	uint32_t seq = 1;
	uint64_t bytes = 0;

	(void)state;
	tv_start(16, 12, &s, &c);
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = sizes[k];
		uint32_t from = c->tx.ring.idx;
		unsigned nf;

		kind(ms, 8, 100 + (uint32_t)k, 0x8001u ^ (uint32_t)k, len,
		     (uint32_t)k * 8);
		assert_int_equal(vchan_sendv(c, ms, 8, 0), 8);
		nf = walk(c, from, c->tx.ring.idx, f, 16);
		if (len <= VCHAN_RUN_LEN_MAX) {
			uint32_t stride = (uint32_t)vchan_frame_pad(len);
			const uint8_t *p = c->tx.ring.buf +
					   (from & c->tx.ring.mask);

			assert_int_equal(nf, 1);
			assert_true(f[0].run);
			assert_int_equal(f[0].count, 8);
			assert_int_equal(f[0].h.flags,
					 ms[0].flags | VCHAN_FRAME_RUN);
			assert_int_equal(f[0].h.len, len);
			assert_int_equal(f[0].h.type, ms[0].type);
			assert_int_equal(f[0].h.seq, seq);
			assert_int_equal(c->tx.ring.idx - from,
					 VCHAN_RUN_HDR + 8 * stride);
			for (unsigned i = 0; i < 8; i++)
				assert_memory_equal(p + VCHAN_RUN_HDR +
						    i * stride, pay[i], len);
		} else {
			assert_int_equal(nf, 8);
			for (unsigned i = 0; i < 8; i++) {
				assert_false(f[i].run);
				assert_int_equal(f[i].h.seq, seq + i);
			}
		}
		for (unsigned i = 0; i < 8; i++)
			assert_int_equal(ms[i].seq, seq + i);
		for (unsigned i = 0; i < 8; i++)
			expect(s, &ms[i], seq + i);
		expect_empty(s);
		seq += 8;
		bytes += 8 * len;
	}
	assert_int_equal(vchan_get_stats(c, &st), 0);
	assert_int_equal(st.msgs_sent, seq - 1);
	assert_int_equal(st.bytes_sent, bytes);
	assert_int_equal(vchan_get_stats(s, &st), 0);
	assert_int_equal(st.msgs_recv, seq - 1);
	assert_int_equal(st.bytes_recv, bytes);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* Receive n messages with vchan_recvv and check them against ms. */
static void expect_all(struct vchan *s, const struct vchan_msg *ms,
		       unsigned n, uint32_t seq)
{
	static uint8_t out[NMAX][PMAX];
	struct vchan_msg mr[NMAX];

	for (unsigned i = 0; i < n; i++)
		mr[i] = (struct vchan_msg){ .buf = out[i], .len = PMAX };
	assert_int_equal(vchan_recvv(s, mr, n, 0), (int)n);
	for (unsigned i = 0; i < n; i++)
		same(&mr[i], &ms[i], seq + i);
	expect_empty(s);
}

/* Send ms[0..n) as one batch, of which sent go (sendv's count); the
 * frames it wrote into f (returns how many); then receive and check them
 * (sequence numbers from *seq on, which moves past them). */
static unsigned batch(struct vchan *s, struct vchan *c, struct vchan_msg *ms,
		      unsigned n, unsigned sent, struct tr_frame *f,
		      uint32_t *seq)
{
	uint32_t from = c->tx.ring.idx;
	unsigned nf;

	assert_int_equal(vchan_sendv(c, ms, n, 0), (int)sent);
	nf = walk(c, from, c->tx.ring.idx, f, 16);
	expect_all(s, ms, sent, *seq);
	*seq += sent;
	return nf;
}

/* Runs end where type, flags or length change; empty messages and ones
 * from 256 bytes go alone; an invalid message ends the batch after the
 * run before it; single sends between batches keep the sequence. */
static void test_run_mixed(void **state)
{
	/* type, flags, len: the frames expected are runs of 3, 2, 2, five
	 * singles, then a run of 4. */
	static const uint32_t spec[16][3] = {
		{ 1, 0, 20 }, { 1, 0, 20 }, { 1, 0, 20 },
		{ 2, 0, 20 }, { 2, 0, 20 },
		{ 2, 1, 20 }, { 2, 1, 20 },
		{ 2, 1, 21 },
		{ 2, 1, 0 }, { 2, 1, 0 },
		{ 3, 0, 300 }, { 3, 0, 300 },
		{ 4, 0, 255 }, { 4, 0, 255 }, { 4, 0, 255 }, { 4, 0, 255 },
	};
	static const uint32_t counts[] = { 3, 2, 2, 1, 1, 1, 1, 1, 4 };
	struct vchan_msg ms[16], one;
	struct tr_frame f[16];
	struct vchan *s, *c;
	uint32_t seq = 1;
	unsigned nf;

	(void)state;
	tv_start(16, 12, &s, &c);
	for (unsigned i = 0; i < 16; i++) {
		tv_fill(pay[i], spec[i][2], i);
		ms[i] = (struct vchan_msg){ .type = spec[i][0],
					    .flags = spec[i][1],
					    .buf = spec[i][2] ? pay[i] : NULL,
					    .len = spec[i][2] };
	}
	nf = batch(s, c, ms, 16, 16, f, &seq);
	assert_int_equal(nf, 9);
	for (unsigned i = 0; i < nf; i++) {
		assert_int_equal(f[i].count, counts[i]);
		assert_int_equal(f[i].run, counts[i] > 1);
	}

	/* Type, flags, then length differ from the first only: a single
	 * each time, and a run of the two after it. */
	for (unsigned i = 0; i < 9; i++) {
		static const uint32_t alt[9][3] = {
			{ 10, 0, 20 }, { 11, 0, 20 }, { 11, 0, 20 },
			{ 11, 1, 20 }, { 11, 0, 20 }, { 11, 0, 20 },
			{ 11, 0, 21 }, { 11, 0, 20 }, { 11, 0, 20 },
		};

		tv_fill(pay[i], alt[i][2], 30 + i);
		ms[i] = (struct vchan_msg){ .type = alt[i][0],
					    .flags = alt[i][1],
					    .buf = pay[i], .len = alt[i][2] };
	}
	nf = batch(s, c, ms, 9, 9, f, &seq);
	assert_int_equal(nf, 6);
	for (unsigned i = 0; i < nf; i++)
		assert_int_equal(f[i].count, i % 2 ? 2 : 1);

	/* A NULL payload in the middle: the run before it goes, sendv says
	 * how many. */
	kind(ms, 5, 7, 0, 20, 50);
	ms[3].buf = NULL;
	nf = batch(s, c, ms, 5, 3, f, &seq);
	assert_int_equal(nf, 1);
	assert_int_equal(f[0].count, 3);
	/* ... right after the first: a single. */
	kind(ms, 3, 7, 0, 20, 60);
	ms[1].buf = NULL;
	nf = batch(s, c, ms, 3, 1, f, &seq);
	assert_int_equal(nf, 1);
	assert_false(f[0].run);
	/* Framing flags in the middle: invalid, the batch ends there. */
	kind(ms, 4, 7, 0, 20, 70);
	ms[2].flags = 0x10000;
	assert_int_equal(vchan_sendv(c, ms, 4, 0), 2);
	expect_all(s, ms, 2, seq);
	seq += 2;
	/* Empty messages (NULL buffers) never make a run. */
	kind(ms, 4, 8, 0, 0, 0);
	for (unsigned i = 0; i < 4; i++)
		ms[i].buf = NULL;
	nf = batch(s, c, ms, 4, 4, f, &seq);
	assert_int_equal(nf, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_false(f[i].run);

	/* Singles between runs. */
	kind(ms, 10, 9, 2, 33, 80);
	one = (struct vchan_msg){ .type = 9, .flags = 2, .buf = pay[10],
				  .len = 33 };
	tv_fill(pay[10], 33, 99);
	assert_int_equal(vchan_send(c, 9, 2, pay[10], 33, 0), 0);
	assert_int_equal(vchan_sendv(c, ms, 4, 0), 4);
	assert_int_equal(vchan_send(c, 9, 2, pay[10], 33, 0), 0);
	assert_int_equal(vchan_sendv(c, ms + 4, 6, 0), 6);
	assert_int_equal(ms[0].seq, seq + 1);
	assert_int_equal(ms[4].seq, seq + 6);
	expect(s, &one, seq++);
	for (unsigned i = 0; i < 4; i++)
		expect(s, &ms[i], seq++);
	expect(s, &one, seq++);
	for (unsigned i = 4; i < 10; i++)
		expect(s, &ms[i], seq++);
	expect_empty(s);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* A run taken a message at a time, by every receive call, with a short
 * buffer in the middle. */
static void test_run_partial(void **state)
{
	struct vchan_msg ms[12], mr[4], m;
	uint8_t out[4][64], small[8];
	struct vchan *s, *c;
	struct vchan_stats st;
	const uint8_t *lo, *hi;

	(void)state;
	tv_start(12, 12, &s, &c);
	kind(ms, 12, 5, 3, 40, 1);
	assert_int_equal(vchan_sendv(c, ms, 12, 0), 12);
	lo = s->rx.ring.buf;
	hi = lo + s->rx.ring.size;

	expect(s, &ms[0], 1);
	/* Fewer than the run holds. */
	for (unsigned i = 0; i < 3; i++)
		mr[i] = (struct vchan_msg){ .buf = out[i], .len = 64 };
	assert_int_equal(vchan_recvv(s, mr, 3, 0), 3);
	for (unsigned i = 0; i < 3; i++)
		same(&mr[i], &ms[1 + i], 2 + i);
	/* In place: in the ring itself. */
	m = (struct vchan_msg){ 0 };
	assert_int_equal(vchan_recv_inplace(s, &m, 0), 0);
	assert_true((const uint8_t *)m.buf >= lo &&
		    (const uint8_t *)m.buf + m.len <= hi);
	same(&m, &ms[4], 5);
	assert_int_equal(vchan_release(s), 0);
	/* Too small: told the size, the message stays. */
	m = (struct vchan_msg){ .buf = small, .len = sizeof(small) };
	assert_int_equal(vchan_recv(s, &m, 0), -EMSGSIZE);
	assert_int_equal(m.len, 40);
	m = (struct vchan_msg){ .buf = small, .len = 39 };
	assert_int_equal(vchan_recv(s, &m, 0), -EMSGSIZE);
	assert_int_equal(m.len, 40);
	expect(s, &ms[5], 6);
	/* In a batch: the ones before it are handed out. */
	mr[0] = (struct vchan_msg){ .buf = out[0], .len = 64 };
	mr[1] = (struct vchan_msg){ .buf = small, .len = sizeof(small) };
	mr[2] = (struct vchan_msg){ .buf = out[2], .len = 64 };
	assert_int_equal(vchan_recvv(s, mr, 3, 0), 1);
	same(&mr[0], &ms[6], 7);
	assert_int_equal(mr[1].len, 40);
	/* The one refused, now in place. */
	m = (struct vchan_msg){ 0 };
	assert_int_equal(vchan_recv_inplace(s, &m, 0), 0);
	same(&m, &ms[7], 8);
	assert_true((const uint8_t *)m.buf >= lo &&
		    (const uint8_t *)m.buf + m.len <= hi);
	assert_int_equal(vchan_release(s), 0);
	/* The rest, and a batch wider than what is left. */
	for (unsigned i = 0; i < 4; i++)
		mr[i] = (struct vchan_msg){ .buf = out[i], .len = 64 };
	assert_int_equal(vchan_recvv(s, mr, 4, 0), 4);
	for (unsigned i = 0; i < 4; i++)
		same(&mr[i], &ms[8 + i], 9 + i);
	expect_empty(s);
	assert_int_equal(vchan_get_stats(s, &st), 0);
	assert_int_equal(st.msgs_recv, 12);
	assert_int_equal(st.bytes_recv, 12 * 40);
	/* All of it consumed: the sender has the whole ring again. */
	assert_int_equal(vchan_rx_finish(s, true), 0);
	assert_int_equal(s->rx.ring.idx, c->tx.ring.idx);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* A batch over a quarter ring goes as several runs of at most a quarter;
 * a run ends at the ring's end, and a message that cannot make one there
 * goes after a padding frame. */
static void test_run_quarter(void **state)
{
	struct vchan_msg ms[NMAX];
	struct tr_frame f[16];
	struct vchan *s, *c;
	uint32_t from;
	unsigned nf;

	(void)state;
	tv_start(12, 12, &s, &c);      /* 4 KiB: a quarter is 1 KiB */
	kind(ms, 100, 1, 0, 16, 3);
	assert_int_equal(vchan_sendv(c, ms, 100, 0), 100);
	nf = walk(c, 0, c->tx.ring.idx, f, 16);
	assert_int_equal(nf, 2);
	assert_int_equal(f[0].count, 62);    /* 32 + 62 * 16 = 1024 */
	assert_int_equal(f[1].count, 38);
	assert_int_equal(f[1].h.seq, 63);
	expect_all(s, ms, 100, 1);

	/* 1664 bytes in: three runs of three 255-byte messages (800 bytes
	 * each) end 32 bytes before the ring's end; the tenth pads. */
	kind(ms, 10, 2, 0, 255, 4);
	from = c->tx.ring.idx;
	assert_int_equal(from, 1664);
	assert_int_equal(vchan_sendv(c, ms, 10, 0), 10);
	nf = walk(c, from, c->tx.ring.idx, f, 16);
	assert_int_equal(nf, 5);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(f[i].run);
		assert_int_equal(f[i].count, 3);
		assert_int_equal(f[i].h.seq, 101 + 3 * i);
	}
	assert_int_equal(f[3].count, 0);     /* padding to the end */
	assert_int_equal(f[3].pos, 4064);
	assert_int_equal(f[4].pos, 0);
	assert_int_equal(f[4].h.seq, 110);
	expect_all(s, ms, 10, 101);

	/* Eight 16-byte messages with 64 bytes left: a run of two fills the
	 * end exactly, the other six go in one run from the ring's start. */
	tv_close(s, c);
	tv_pair(12, 12, &s, &c);
	kind(ms, 8, 3, 0, 16, 5);
	for (unsigned i = 0; i < 84; i++) {   /* 84 48-byte frames */
		assert_int_equal(vchan_send(c, 3, 0, pay[0], 32, 0), 0);
		expect(s, &(struct vchan_msg){ .type = 3, .buf = pay[0],
					       .len = 32 }, i + 1);
	}
	from = c->tx.ring.idx;
	assert_int_equal(from, 4096 - 64);
	assert_int_equal(vchan_sendv(c, ms, 8, 0), 8);
	nf = walk(c, from, c->tx.ring.idx, f, 16);
	assert_int_equal(nf, 2);
	assert_int_equal(f[0].count, 2);
	assert_int_equal(f[0].pos + f[0].span, 4096);
	assert_int_equal(f[1].count, 6);
	assert_int_equal(f[1].pos, 0);
	expect_all(s, ms, 8, 85);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* Many laps of small rings: batches of random length and size (runs cut
 * at the ring's end, padding, partly sent batches when the ring is full),
 * taken by every receive call in turn, some left for later.  Every
 * message whole, in order, with the next sequence number. */
static void test_run_laps(void **state)
{
	static const unsigned orders[] = { 10, 12 };
	static const size_t lens[] = { 1, 8, 16, 17, 40, 100, 200, 255, 256 };
	static uint8_t sent[NMAX * 4][PMAX];
	static struct vchan_msg q[NMAX * 4];

	(void)state;
	for (size_t o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		struct vchan_msg ms[NMAX];
		struct tr_frame f[NMAX];
		struct vchan *s, *c;
		uint32_t seed = 7, seq = 1, head = 0, tail = 0;
		unsigned runs = 0, at_end = 0, pads = 0, laps;

		tv_start(orders[o], 12, &s, &c);
		for (int round = 0; round < 3000; round++) {
			size_t len = lens[(seed >> 8) % 9];
			unsigned n = 1 + (seed >> 4) % 40, nf, take;
			uint32_t from = c->tx.ring.idx;
			int k;

			seed = seed * 1103515245u + 12345u;
			kind(ms, n, (seed >> 12) % 3, 0, len, seed);
			k = vchan_sendv(c, ms, n, 0);
			if (k == -EAGAIN) {
				k = 0;
			} else {
				assert_true(k >= 1 && k <= (int)n);
			}
			nf = walk(c, from, c->tx.ring.idx, f, NMAX);
			for (unsigned i = 0; i < nf; i++) {
				runs += f[i].run;
				at_end += f[i].run && f[i].pos + f[i].span ==
						      c->tx.ring.size;
				pads += f[i].count == 0;
			}
			for (int i = 0; i < k; i++) {
				assert_int_equal(ms[i].seq, seq + tail - head);
				memcpy(sent[tail % (NMAX * 4)], ms[i].buf,
				       ms[i].len);
				q[tail % (NMAX * 4)] = ms[i];
				q[tail % (NMAX * 4)].buf =
					sent[tail % (NMAX * 4)];
				tail++;
			}
			/* Take some, or all when the ring is full. */
			take = k ? (seed >> 16) % (tail - head + 1)
				 : tail - head;
			while (take) {
				uint8_t out[8][PMAX];
				struct vchan_msg mr[8];
				unsigned w = take < 8 ? take : 8;
				int r;

				switch ((seed >> 20) % 3) {
				case 0:
					w = 1;
					mr[0] = (struct vchan_msg){
						.buf = out[0], .len = PMAX };
					assert_int_equal(vchan_recv(s, &mr[0],
								    0), 0);
					break;
				case 1:
					for (unsigned i = 0; i < w; i++)
						mr[i] = (struct vchan_msg){
							.buf = out[i],
							.len = PMAX };
					r = vchan_recvv(s, mr, w, 0);
					assert_int_equal(r, (int)w);
					break;
				default:
					w = 1;
					mr[0] = (struct vchan_msg){ 0 };
					assert_int_equal(
						vchan_recv_inplace(s, &mr[0],
								   0), 0);
					break;
				}
				for (unsigned i = 0; i < w; i++)
					same(&mr[i], &q[(head + i) %
							(NMAX * 4)], seq + i);
				if ((seed >> 20) % 3 == 2)
					assert_int_equal(vchan_release(s), 0);
				head += w;
				seq += w;
				take -= w;
			}
		}
		while (head != tail) {
			expect(s, &q[head % (NMAX * 4)], seq++);
			head++;
		}
		expect_empty(s);
		laps = c->tx.ring.idx / c->tx.ring.size;
		/* The cases this is about did happen. */
		assert_true(laps > 50);
		assert_true(runs > 100);
		assert_true(at_end > 5);
		assert_true(pads > 5);
		assert_int_equal(tv_log_count, 0);
		tv_close(s, c);
	}
}

/* The "revoked: N message(s) discarded" count and the stats agree on n. */
static void expect_discarded(struct vchan *s, uint64_t n)
{
	struct vchan_stats st;
	char want[64];

	assert_int_equal(vchan_get_stats(s, &st), 0);
	assert_int_equal(st.discarded, n);
	snprintf(want, sizeof(want), "revoked: %llu message(s) discarded",
		 (unsigned long long)n);
	assert_non_null(strstr(tv_last_log, want));
	assert_int_equal(tv_log_count, 1);
}

/* Revoke s; how many messages it says it discarded. */
static uint64_t revoke_discards(struct vchan *s)
{
	struct vchan_stats st;

	assert_int_equal(vchan_revoke(s), 0);
	assert_int_equal(vchan_get_stats(s, &st), 0);
	return st.discarded;
}

/* Sends a run of 10 (24-byte messages), two singles and a run of 3. */
static void revoke_setup(struct vchan **s, struct vchan **c,
			 struct vchan_msg *ms)
{
	tv_start(12, 12, s, c);
	kind(ms, 10, 1, 0, 24, 11);
	assert_int_equal(vchan_sendv(*c, ms, 10, 0), 10);
	assert_int_equal(vchan_send(*c, 2, 0, pay[0], 100, 0), 0);
	assert_int_equal(vchan_send(*c, 2, 0, NULL, 0, 0), 0);
	kind(ms, 3, 3, 0, 8, 12);
	assert_int_equal(vchan_sendv(*c, ms, 3, 0), 3);
	kind(ms, 10, 1, 0, 24, 11);
}

/* Revoke with a run half received counts its rest and everything behind
 * it: after whole receives, with a refused (too small) message pending,
 * and with one held in place. */
static void test_run_revoke(void **state)
{
	struct vchan_msg ms[10], m;
	struct vchan *s, *c;
	uint8_t small[4];

	(void)state;
	revoke_setup(&s, &c, ms);
	for (unsigned i = 0; i < 4; i++)
		expect(s, &ms[i], i + 1);
	assert_int_equal(vchan_revoke(s), 0);
	expect_discarded(s, 6 + 2 + 3);
	assert_int_equal(s->rx.run_left, 0);
	tv_close(s, c);

	/* The refused message counts once, then the five after it. */
	revoke_setup(&s, &c, ms);
	for (unsigned i = 0; i < 4; i++)
		expect(s, &ms[i], i + 1);
	m = (struct vchan_msg){ .buf = small, .len = sizeof(small) };
	assert_int_equal(vchan_recv(s, &m, 0), -EMSGSIZE);
	assert_int_equal(vchan_revoke(s), 0);
	expect_discarded(s, 6 + 2 + 3);
	tv_close(s, c);

	/* The message held in place was handed out: not counted. */
	revoke_setup(&s, &c, ms);
	for (unsigned i = 0; i < 4; i++)
		expect(s, &ms[i], i + 1);
	m = (struct vchan_msg){ 0 };
	assert_int_equal(vchan_recv_inplace(s, &m, 0), 0);
	same(&m, &ms[4], 5);
	assert_int_equal(vchan_revoke(s), 0);
	expect_discarded(s, 5 + 2 + 3);
	assert_int_equal(vchan_release(s), -EPIPE);
	tv_close(s, c);

	/* The last message of the run taken: only the frames behind it. */
	revoke_setup(&s, &c, ms);
	for (unsigned i = 0; i < 10; i++)
		expect(s, &ms[i], i + 1);
	assert_int_equal(vchan_revoke(s), 0);
	expect_discarded(s, 2 + 3);
	tv_close(s, c);

	/* Not a run: a refused single, and one held in place, then a run. */
	for (int held = 0; held < 2; held++) {
		tv_start(12, 12, &s, &c);
		kind(ms, 4, 1, 0, 24, 13);
		assert_int_equal(vchan_send(c, 1, 0, pay[0], 24, 0), 0);
		assert_int_equal(vchan_sendv(c, ms, 4, 0), 4);
		m = held ? (struct vchan_msg){ 0 }
			 : (struct vchan_msg){ .buf = small,
					       .len = sizeof(small) };
		assert_int_equal(held ? vchan_recv_inplace(s, &m, 0)
				      : vchan_recv(s, &m, 0),
				 held ? 0 : -EMSGSIZE);
		assert_int_equal(vchan_revoke(s), 0);
		expect_discarded(s, held ? 4 : 5);
		if (held)
			assert_int_equal(vchan_release(s), -EPIPE);
		tv_close(s, c);
	}
}

/* ---- a hostile peer ------------------------------------------------------
 * The client's outbound ring written by hand: bytes at its index, then
 * published as a send publishes (and the peer notified if it asked). */
static void forge(struct vchan *c, const void *p, size_t n)
{
	vchan_ring_write(&c->tx.ring, p, n);
	assert_int_equal(vchan_tx_finish(c, true), 0);
}

static void forge_run(struct vchan *c, uint32_t len, uint32_t flags,
		      uint32_t seq, uint32_t count, const uint32_t *zero)
{
	struct vchan_frame_hdr h = { .len = len, .type = 6, .flags = flags,
				     .seq = seq };
	struct vchan_run_word w = { .count = count };

	if (zero)
		memcpy(w.zero, zero, sizeof(w.zero));
	vchan_ring_write(&c->tx.ring, &h, sizeof(h));
	forge(c, &w, sizeof(w));
}

/* The receive fails with -EPROTO and one log line saying `says`, and
 * stays failed without a word more, whichever call comes next. */
static void expect_proto(struct vchan *s, const char *says)
{
	uint8_t out[PMAX];
	struct vchan_msg m = { .buf = out, .len = sizeof(out) }, mr[2];

	assert_int_equal(vchan_recv(s, &m, 0), -EPROTO);
	assert_int_equal(tv_log_count, 1);
	assert_non_null(strstr(tv_last_log, "peer protocol error"));
	assert_non_null(strstr(tv_last_log, says));
	m = (struct vchan_msg){ 0 };
	assert_int_equal(vchan_recv_inplace(s, &m, 0), -EPROTO);
	mr[0] = (struct vchan_msg){ .buf = out, .len = sizeof(out) };
	mr[1] = mr[0];
	assert_int_equal(vchan_recvv(s, mr, 2, 0), -EPROTO);
	assert_int_equal(s->rx.run_left, 0);
	assert_int_equal(tv_log_count, 1);
}

static void test_run_hostile(void **state)
{
	static const struct {
		uint32_t len, flags, seq, count, zero[3];
		uint32_t body;     /* payload bytes published after the word */
		const char *says;
	} bad[] = {
		{ 16, VCHAN_FRAME_RUN, 1, 0, { 0 }, 0, "of 0 messages" },
		{ 16, VCHAN_FRAME_RUN, 1, 1, { 0 }, 16, "of 1 messages" },
		/* 2^24 * 256 = 2^32: 32 bytes, in 32-bit arithmetic */
		{ 255, VCHAN_FRAME_RUN, 1, 1u << 24, { 0 }, 256,
		  "of 16777216 messages of 255 bytes does not fit" },
		{ 16, VCHAN_FRAME_RUN, 1, (1u << 28) + 2, { 0 }, 64,
		  "of 268435458 messages of 16 bytes does not fit" },
		{ 16, VCHAN_FRAME_RUN, 1, UINT32_MAX, { 0 }, 64,
		  "does not fit" },
		/* 32 + 63 * 16 = 1040: over a quarter of 4 KiB */
		{ 16, VCHAN_FRAME_RUN, 1, 63, { 0 }, 1008,
		  "of 63 messages of 16 bytes does not fit" },
		{ 0, VCHAN_FRAME_RUN, 1, 2, { 0 }, 0,
		  "of 0-byte messages (a run's are 1 to 255 bytes)" },
		{ 256, VCHAN_FRAME_RUN, 1, 2, { 0 }, 512,
		  "of 256-byte messages" },
		{ UINT32_MAX, VCHAN_FRAME_RUN, 1, 2, { 0 }, 0,
		  "exceeds the channel's maximum" },
		{ 16, VCHAN_FRAME_RUN, 1, 2, { 1, 0, 0 }, 32,
		  "nonzero reserved words" },
		{ 16, VCHAN_FRAME_RUN, 1, 2, { 0, 1u << 31, 0 }, 32,
		  "nonzero reserved words" },
		{ 16, VCHAN_FRAME_RUN, 1, 2, { 0, 0, 1 }, 32,
		  "nonzero reserved words" },
		/* a padding frame's length for offset 0: it would pass as
		 * one */
		{ 4096 - 16, VCHAN_FRAME_RUN | VCHAN_FRAME_PAD, 1, 2, { 0 },
		  32, "both padding and run" },
		{ 16, VCHAN_FRAME_RUN | 0x10000, 1, 2, { 0 }, 32,
		  "unknown framing flags 0x00010000" },
		{ 16, VCHAN_FRAME_RUN, 7, 2, { 0 }, 32,
		  "sequence 7, expected 1" },
		{ 16, VCHAN_FRAME_RUN, 0, 2, { 0 }, 32,
		  "sequence 0, expected 1" },
	};
	static uint8_t body[4096];
	struct vchan *s, *c;

	(void)state;
	memset(body, 0x5a, sizeof(body));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tv_start(12, 12, &s, &c);
		forge_run(c, bad[i].len, bad[i].flags, bad[i].seq,
			  bad[i].count, bad[i].zero);
		if (bad[i].body)
			forge(c, body, bad[i].body);
		expect_proto(s, bad[i].says);
		tv_close(s, c);
	}
}

/* Over this end's maximum message size, although a run's size. */
static void test_run_hostile_max_msg(void **state)
{
	struct vchan_config sc = tv_cfg(12, 12), cc = tv_cfg(0, 0);
	static uint8_t body[512];
	struct vchan *s, *c;

	(void)state;
	tv_capture_logs();
	sc.max_msg = 100;
	assert_int_equal(vchan_shm_pair(&sc, &cc, &s, &c), 0);
	forge_run(c, 101, VCHAN_FRAME_RUN, 1, 2, NULL);
	forge(c, body, 2 * 112);
	expect_proto(s, "message of 101 bytes exceeds the channel's "
			"maximum of 100");
	tv_close(s, c);
}

/* 84 48-byte frames sent and received: the next frame starts 64 bytes
 * before the end of a 4 KiB ring, with sequence number 85. */
static void to_ring_end(struct vchan *s, struct vchan *c)
{
	struct vchan_msg m = { .type = 3, .buf = pay[0], .len = 32 };

	for (uint32_t i = 0; i < 84; i++) {
		assert_int_equal(vchan_send(c, 3, 0, pay[0], 32, 0), 0);
		expect(s, &m, i + 1);
	}
	assert_int_equal(c->tx.ring.idx, 4096 - 64);
}

/* A run must end before the ring's end: one that would cross it is an
 * error, one that ends exactly there is not. */
static void test_run_hostile_ring_end(void **state)
{
	uint8_t body[96], out[64];
	struct vchan_msg m = { .buf = out, .len = sizeof(out) };
	struct vchan *s, *c;

	(void)state;
	memset(body, 0x33, sizeof(body));
	tv_start(12, 12, &s, &c);
	to_ring_end(s, c);
	forge_run(c, 16, VCHAN_FRAME_RUN, 85, 4, NULL);  /* 96 bytes */
	forge(c, body, 64);
	expect_proto(s, "run at ring offset 4032 of 4 messages of 16 bytes "
			"does not fit");
	tv_close(s, c);

	tv_start(12, 12, &s, &c);
	to_ring_end(s, c);
	forge_run(c, 16, VCHAN_FRAME_RUN, 85, 2, NULL);  /* 64 bytes */
	forge(c, body, 32);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.seq, 85);
	assert_int_equal(m.type, 6);
	assert_int_equal(m.len, 16);
	assert_memory_equal(out, body, 16);
	m.len = sizeof(out);
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.seq, 86);
	assert_int_equal(s->rx.ring.idx, 4096);
	expect_empty(s);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* A run is taken only once all of it is published: before that every
 * receive says -EAGAIN (no log line, nothing consumed); a receiver asleep
 * for it wakes when the rest comes. */
static void test_run_hostile_partial(void **state)
{
	struct vchan_frame_hdr h = { .len = 24, .type = 6, .seq = 1,
				     .flags = VCHAN_FRAME_RUN | 0x77 };
	struct vchan_run_word w = { .count = 5 };
	uint8_t body[5][32], out[4][64];
	struct vchan_msg m, mr[4];
	struct tv_blocked b;
	struct vchan *s, *c;
	pthread_t th;

	(void)state;
	memset(body, 0, sizeof(body));
	for (unsigned i = 0; i < 5; i++)
		tv_fill(body[i], 24, 20 + i);
	tv_start(12, 12, &s, &c);
	forge(c, &h, sizeof(h));
	expect_empty(s);
	forge(c, &w, sizeof(w));
	expect_empty(s);
	forge(c, body, 3 * 32);
	expect_empty(s);
	m = (struct vchan_msg){ 0 };
	assert_int_equal(vchan_recv_inplace(s, &m, 0), -EAGAIN);
	mr[0] = (struct vchan_msg){ .buf = out[0], .len = 64 };
	assert_int_equal(vchan_recvv(s, mr, 1, 0), -EAGAIN);
	assert_int_equal(s->rx.ring.idx, 0);
	assert_int_equal(s->rx.run_left, 0);
	forge(c, body[3], 32 - 1);   /* the last byte of the 4th missing */
	expect_empty(s);
	forge(c, &body[3][31], 1 + 32);
	for (unsigned i = 0; i < 4; i++)
		mr[i] = (struct vchan_msg){ .buf = out[i], .len = 64 };
	assert_int_equal(vchan_recvv(s, mr, 4, 0), 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(mr[i].seq, 1 + i);
		assert_int_equal(mr[i].type, 6);
		assert_int_equal(mr[i].flags, 0x77);
		assert_int_equal(mr[i].len, 24);
		assert_memory_equal(out[i], body[i], 24);
	}
	m = (struct vchan_msg){ .buf = out[0], .len = 64 };
	assert_int_equal(vchan_recv(s, &m, 0), 0);
	assert_int_equal(m.seq, 5);
	assert_memory_equal(out[0], body[4], 24);
	expect_empty(s);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);

	/* Asleep for the rest of it. */
	tv_start(12, 12, &s, &c);
	forge(c, &h, sizeof(h));
	forge(c, &w, sizeof(w));
	forge(c, body, 32);
	b = (struct tv_blocked){ .v = s };
	assert_int_equal(pthread_create(&th, NULL, tv_block_call, &b), 0);
	usleep(50000);
	forge(c, body[1], 4 * 32);
	pthread_join(th, NULL);
	assert_int_equal(b.result, 0);
	assert_true(b.ms < 2000);
	assert_int_equal(s->rx.run_left, 4);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* Revoke counts only runs the peer published whole: a run word's count
 * alone makes up no messages. */
static void test_run_revoke_hostile(void **state)
{
	static uint8_t body[4096];
	struct vchan *s, *c;

	(void)state;
	tv_start(12, 12, &s, &c);
	forge_run(c, 16, VCHAN_FRAME_RUN, 1, 3, NULL);
	forge(c, body, 3 * 16);
	forge_run(c, 16, VCHAN_FRAME_RUN, 4, 4096, NULL);
	forge(c, body, 64);
	assert_int_equal(vchan_revoke(s), 0);
	expect_discarded(s, 3);
	tv_close(s, c);

	tv_start(12, 12, &s, &c);
	forge_run(c, 255, VCHAN_FRAME_RUN, 1, 4096, NULL);
	assert_int_equal(revoke_discards(s), 0);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* Payloads back to back in memory: the sender copies them into a run in
 * one go, and a batch receive whose buffers lie back to back takes them in
 * one go (when the length is a multiple of 16, so that the run has no
 * padding either); a buffer out of line or too small ends that copy, and
 * every message still arrives once, intact, with its own sequence
 * number. */
static void test_run_back_to_back(void **state)
{
	static const size_t sizes[] = { 16, 48, 50, 64, 240 };
	static uint8_t src[40 * 256], dst[40 * 256], ref[40 * 256];
	struct vchan_msg ms[40], got[40];
	struct tr_frame f[8];
	struct vchan *s, *c;
	uint32_t seq = 1;

	(void)state;
	tv_start(16, 16, &s, &c);
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		size_t len = sizes[z];
		uint32_t from = c->tx.ring.idx;

		/* 20 of one type then 20 of another, all back to back but
		 * the 7th, which lies elsewhere (pay[0]). */
		tv_fill(src, 40 * len, (uint32_t)len);
		memcpy(ref, src, 40 * len);
		tv_fill(pay[0], len, 999);
		for (unsigned i = 0; i < 40; i++)
			ms[i] = (struct vchan_msg){ .type = i < 20 ? 3 : 4,
				.flags = 0x11, .buf = src + i * len,
				.len = len };
		ms[6].buf = pay[0];
		memcpy(ref + 6 * len, pay[0], len);
		assert_int_equal(vchan_sendv(c, ms, 40, 0), 40);
		assert_int_equal(walk(c, from, c->tx.ring.idx, f, 8), 2);
		assert_true(f[0].run && f[0].count == 20);
		assert_true(f[1].run && f[1].count == 20);

		/* Buffers back to back, the 4th one byte short: three
		 * messages, then -EMSGSIZE for the 4th, which stays. */
		memset(dst, 0, sizeof(dst));
		for (unsigned i = 0; i < 10; i++)
			got[i] = (struct vchan_msg){ .buf = dst + i * len,
						     .len = len };
		got[3].len = len - 1;
		assert_int_equal(vchan_recvv(s, got, 10, 0), 3);
		assert_int_equal(got[3].len, len);
		/* The rest in one batch that spans both runs. */
		for (unsigned i = 3; i < 40; i++)
			got[i] = (struct vchan_msg){ .buf = dst + i * len,
						     .len = len };
		assert_int_equal(vchan_recvv(s, got + 3, 37, 0), 37);
		for (unsigned i = 0; i < 40; i++) {
			assert_int_equal(got[i].len, len);
			assert_int_equal(got[i].type, i < 20 ? 3 : 4);
			assert_int_equal(got[i].flags, 0x11);
			assert_int_equal(got[i].seq, seq + i);
		}
		assert_memory_equal(dst, ref, 40 * len);
		seq += 40;
		expect_empty(s);
	}
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

/* A forged run of 0-byte messages takes 32 ring bytes whatever its count:
 * revoke must not count that count. */
static void test_run_revoke_zero_len(void **state)
{
	struct vchan *s, *c;

	(void)state;
	tv_start(12, 12, &s, &c);
	for (uint32_t i = 0; i < 10; i++)
		forge_run(c, 0, VCHAN_FRAME_RUN, 1, 4096, NULL);
	/* 320 ring bytes: at most 20 headers' worth, never 40960. */
	assert_true(revoke_discards(s) <= 320 / VCHAN_FRAME_HDR);
	tv_close(s, c);
}

/* The rest of a run taken whole is ours, whatever the peer's index says
 * afterwards: revoke counts it even when that index is impossible. */
static void test_run_revoke_bad_index(void **state)
{
	struct vchan_msg ms[10];
	struct vchan *s, *c;

	(void)state;
	tv_start(12, 12, &s, &c);
	kind(ms, 10, 1, 0, 24, 11);
	assert_int_equal(vchan_sendv(c, ms, 10, 0), 10);
	expect(s, &ms[0], 1);
	assert_int_equal(s->rx.run_left, 9);
	c->tx.ring.idx += 3 * c->tx.ring.size;   /* impossible prod */
	vchan_ring_publish(&c->tx.ring);
	assert_int_equal(revoke_discards(s), 9);
	tv_close(s, c);
}

/* What a model queue of the messages sent expects from vchan_recvv(). */
struct model_msg {
	uint32_t type, flags, len, seed, seq;
};
#define MODEL_Q 8192u            /* more than a 64 KiB ring holds     */
static struct model_msg model[MODEL_Q];
static size_t model_head, model_tail;
static uint32_t model_rnd_state;

static uint32_t model_rnd(void)
{
	model_rnd_state = model_rnd_state * 1103515245u + 12345u;
	return model_rnd_state >> 8;
}

/* The count (or error) vchan_recvv() must give for buffers of caps[]: up
 * to the first buffer too small for its message, or the end of what was
 * sent. */
static int model_recvv(const size_t *caps, unsigned m)
{
	size_t h = model_head;
	unsigned i;

	for (i = 0; i < m && h != model_tail; i++, h++)
		if (model[h % MODEL_Q].len > caps[i])
			break;
	if (i == 0)
		return h == model_tail ? -EAGAIN : -EMSGSIZE;
	return (int)i;
}

/* Random batches of random kinds (lengths that make runs, padded runs,
 * none; type changes; NULL buffers of empty messages; payloads back to
 * back or apart), received into random batches (buffers back to back or
 * apart, some too small): every result as the model says, every message
 * once, intact, in order. */
static void model_run(unsigned order, unsigned rounds)
{
	static const uint32_t lens[] = { 0, 1, 15, 16, 32, 48, 64, 100, 255,
					 256, 300 };
	static uint8_t out[64 * 512], want[512];
	struct vchan_msg ms[40], got[40];
	size_t caps[40];
	struct vchan *s, *c;
	uint32_t seq = 1;

	model_head = model_tail = 0;
	tv_start(order, order, &s, &c);
	for (unsigned it = 0; it < rounds; it++) {
		unsigned n = 1 + model_rnd() % 40, m = 1 + model_rnd() % 40;
		uint32_t len = lens[model_rnd() % 11], type = model_rnd() % 2;
		uint32_t flags = model_rnd() % 2, cap = lens[model_rnd() % 11];
		bool apart = model_rnd() % 2, rapart = model_rnd() % 2;
		size_t off = 0;
		int r;

		for (unsigned i = 0; i < n; i++) {
			struct model_msg *e = &model[(model_tail + i) % MODEL_Q];
			uint8_t *p = apart ? pay[i] : src_area + off;

			if (model_rnd() % 8 == 0)
				len = lens[model_rnd() % 11];
			if (model_rnd() % 16 == 0)
				type ^= 1;
			off += len;
			*e = (struct model_msg){ type, flags, len, model_rnd(), 0 };
			tv_fill(p, len, e->seed);
			ms[i] = (struct vchan_msg){ .type = type,
				.flags = flags, .len = len,
				.buf = len || model_rnd() % 2 ? p : NULL };
		}
		r = vchan_sendv(c, ms, n, 0);
		if (r == -EAGAIN)
			r = 0;
		assert_true(r >= 0);
		for (int i = 0; i < r; i++) {
			assert_int_equal(ms[i].seq, seq);
			model[(model_tail + i) % MODEL_Q].seq = seq++;
		}
		model_tail += (size_t)r;

		for (unsigned i = 0; i < m; i++) {
			uint32_t ci = model_rnd() % 10 ? cap :
				      lens[model_rnd() % 11];

			if (!rapart && ci > cap)
				ci = cap;
			got[i] = (struct vchan_msg){ .len = ci,
				.buf = rapart ? out + i * 512 : out + i * cap };
			caps[i] = ci;
		}
		r = model_recvv(caps, m);
		assert_int_equal(vchan_recvv(s, got, m, 0), r);
		if (r == -EMSGSIZE)
			assert_int_equal(got[0].len, model[model_head %
							  MODEL_Q].len);
		for (int i = 0; i < r; i++) {
			struct model_msg *e = &model[(model_head + i) % MODEL_Q];

			assert_int_equal(got[i].len, e->len);
			assert_int_equal(got[i].type, e->type);
			assert_int_equal(got[i].flags, e->flags);
			assert_int_equal(got[i].seq, e->seq);
			tv_fill(want, e->len, e->seed);
			if (e->len)
				assert_memory_equal(got[i].buf, want, e->len);
		}
		if (r > 0)
			model_head += (size_t)r;
	}
	/* Not a walk through an empty or a full ring (about 29,000 go). */
	assert_true(model_tail > 2 * (size_t)rounds);
	while (model_head != model_tail) {
		struct vchan_msg mm = { .buf = out, .len = sizeof(out) };

		assert_int_equal(vchan_recv(s, &mm, 0), 0);
		assert_int_equal(mm.seq, model[model_head++ % MODEL_Q].seq);
	}
	expect_empty(s);
	assert_int_equal(tv_log_count, 0);
	tv_close(s, c);
}

static void test_run_model(void **state)
{
	(void)state;
	model_rnd_state = 12345;
	model_run(12, 10000);
	model_run(16, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_sizes),
		cmocka_unit_test(test_run_mixed),
		cmocka_unit_test(test_run_partial),
		cmocka_unit_test(test_run_quarter),
		cmocka_unit_test(test_run_laps),
		cmocka_unit_test(test_run_revoke),
		cmocka_unit_test(test_run_revoke_hostile),
		cmocka_unit_test(test_run_hostile),
		cmocka_unit_test(test_run_hostile_max_msg),
		cmocka_unit_test(test_run_hostile_ring_end),
		cmocka_unit_test(test_run_hostile_partial),
		cmocka_unit_test(test_run_back_to_back),
		cmocka_unit_test(test_run_model),
		cmocka_unit_test(test_run_revoke_zero_len),
		cmocka_unit_test(test_run_revoke_bad_index),
	};

	return tv_run_layouts(tests);
}
