/* SPDX-License-Identifier: MIT */
/* vipc-bench: the bare ring, a peer that shows what the channel's layout
 * and wake-up protocol cost by themselves.
 *
 * Both directions are byte rings after a control page laid out as vipc's
 * channel lays it out (--layout): like libxenvchan's (both prod/cons pairs
 * and the notify bytes in its first cache line), or as LINES (each index
 * and notify byte on a line of its own in the page's last quarter, at the
 * offsets of doc/vchan-layout.md, kept here so that the peer stays
 * independent of the library).  A message is a 16-byte header and the
 * payload, padded as vipc pads its frames (to 16 bytes; payloads of 256
 * bytes and more to the next cache line); on rings up to 256 KiB a frame
 * that would wrap goes after a padding frame, as vipc's do
 * (doc/vchan-layout.md).  A batch goes as vipc's vchan_sendv() puts it: in
 * runs (one header and a run word, then the payloads at 16-byte steps; a
 * run whole before the ring's end and in a quarter ring), one copy each
 * way.  Bytes move in pieces of at most a quarter ring, and an index is
 * published once a quarter ring is due, so a large message streams as
 * through vipc.  Every index store has release order and is followed by
 * the load of the peer's notify byte that a sleeping peer needs, after a
 * full barrier in libxenvchan's layout (in LINES, vipc's relaxed handshake
 * leaves the barrier out); the consumer publishes its index every sixteenth
 * of the ring, or before it waits; the reader spins on the index.
 * Everything else the channel does is left out: locks, rights, state and
 * peer checks, sequence checks, deadlines, sleeping and the API around it.
 * It spins, so it is measured with the ends on different CPUs only. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vipc/vchan.h>

#include "bench.h"
/* The channel's own copy into a ring: a fair peer copies as it does. */
#include "../libvchan-cap/copy_in.h"

#define HDR 16u
#define LINE 64u
#define ALIGN_MIN 256u
#define PAD_WRAP_MAX (256u << 10)
#define PAD_FLAG 0x80000000u
/* vipc's runs (its vchan_priv.h): a header with RUN_FLAG and a run word,
 * then count payloads of 1 to RUN_LEN_MAX bytes at 16-byte steps. */
#define RUN_FLAG 0x40000000u
#define RUN_HDR (2 * HDR)
#define RUN_MIN 2u
#define RUN_LEN_MAX (ALIGN_MIN - 1)

struct ring_hdr {
	uint32_t len, type, flags, seq;
};

struct ring_run {
	uint32_t count, zero[3];
};

/* One direction as this end sees it. */
struct ring_dir {
	uint32_t *mine, *theirs;    /* our index, the peer's                */
	uint8_t *peer_notify;       /* loaded after each publication        */
	uint8_t *buf;
	uint32_t size, idx, known, published;
	uint64_t pubs;              /* index stores, for the tests          */
	pid_t peer;                 /* a child to watch while spinning      */
};

struct ringio {
	struct ring_dir tx, rx;
	uint32_t seq;
	/* The inbound run being taken: its messages left (the next one's
	 * payload at our index), their length and step. */
	uint32_t run_left, run_len, run_stride;
};

size_t bench_ring_map_size(size_t ring)
{
	return 4096 + 2 * ring;
}

static uint32_t pad16(uint32_t len)
{
	return (len + HDR - 1) & ~(HDR - 1);
}

/* Bytes a frame of payload len takes with its header at index pos. */
static uint32_t frame_span(uint32_t len, uint32_t pos)
{
	uint32_t n = HDR + pad16(len);

	if (len >= ALIGN_MIN)
		n += (LINE - HDR - pos - n) & (LINE - 1);
	return n;
}

static void publish(struct ring_dir *d)
{
	__atomic_store_n(d->mine, d->idx, __ATOMIC_RELEASE);
	d->published = d->idx;
	d->pubs++;
	/* The half of the wake-up handshake every publication pays. */
	if (bench_layout == VCHAN_LAYOUT_LINES)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	(void)__atomic_load_n(d->peer_notify, __ATOMIC_RELAXED);
}

/* Spin until the peer's index moves past what we know: *room gets the
 * bytes free (tx) or ready (rx).  -EINTR on bench_stop, -EPIPE when the
 * peer process is gone. */
static int wait_room(struct ring_dir *d, bool tx, uint32_t *room)
{
	unsigned i = 0;

	for (;;) {
		uint32_t n = tx ? d->size - (d->idx - d->known)
				: d->known - d->idx;

		if (n) {
			*room = n;
			return 0;
		}
		/* What we hold back may be what the peer waits for. */
		if (d->idx != d->published)
			publish(d);
		d->known = __atomic_load_n(d->theirs, __ATOMIC_ACQUIRE);
		if (d->known == (tx ? d->idx - d->size : d->idx)) {
			int e;

			__builtin_ia32_pause();
			if (++i % BENCH_SPIN_CHECK == 0 &&
			    (e = bench_peer_check(d->peer)) < 0)
				return e;
		}
	}
}

/* Copy n bytes in (src NULL: zeros; skip: nothing written) or out (dst
 * NULL: skip) in pieces of at most a quarter ring, publishing once a
 * quarter is due, as vipc does: the peer takes one piece while we move the
 * next, instead of the two ends taking turns over the whole ring. */
static int ring_move(struct ring_dir *d, bool tx, const void *src, void *dst,
		     size_t n, bool skip)
{
	while (n) {
		uint32_t room, off = d->idx & (d->size - 1);
		size_t c = n;
		int e = wait_room(d, tx, &room);

		if (e)
			return e;
		if (c > room)
			c = room;
		if (c > d->size - off)
			c = d->size - off;
		if (c > d->size / 4)
			c = d->size / 4;
		if (tx && src)
			vchan_copy_in(d->buf + off, src, c);
		else if (tx && !skip)
			memset(d->buf + off, 0, c);
		else if (dst)
			memcpy(dst, d->buf + off, c);
		if (src)
			src = (const uint8_t *)src + c;
		if (dst)
			dst = (uint8_t *)dst + c;
		d->idx += (uint32_t)c;
		n -= c;
		if (d->idx - d->published >= d->size / 4)
			publish(d);
	}
	return 0;
}

static int ring_copy(struct ring_dir *d, bool tx, const void *src, void *dst,
		     size_t n)
{
	return ring_move(d, tx, src, dst, n, false);
}

/* Bytes of padding frame (header included) that a whole frame of len bytes
 * at our index needs before it, 0 for none: on rings up to PAD_WRAP_MAX a
 * frame of at most a quarter ring that would wrap goes after padding to
 * the end (and into the first line before a large payload). */
static uint32_t wrap_pad(const struct ring_dir *d, size_t len)
{
	uint32_t span = frame_span((uint32_t)len, d->idx);
	uint32_t tail = d->size - (d->idx & (d->size - 1));

	if (d->size > PAD_WRAP_MAX || span > d->size / 4 || span <= tail)
		return 0;
	return tail + (len >= ALIGN_MIN ? LINE - HDR : 0);
}

static int put_one(struct ringio *r, const void *buf, size_t len)
{
	struct ring_hdr h = { .len = (uint32_t)len, .type = 1,
			      .seq = r->seq++ };
	uint32_t pad = wrap_pad(&r->tx, len), span;
	int e;

	if (pad) {
		/* Only the padding frame's header is written. */
		struct ring_hdr p = { .len = pad - HDR, .flags = PAD_FLAG };

		e = ring_copy(&r->tx, true, &p, NULL, HDR);
		if (!e)
			e = ring_move(&r->tx, true, NULL, NULL, pad - HDR, true);
		if (e)
			return e;
	}
	span = frame_span((uint32_t)len, r->tx.idx);
	e = ring_copy(&r->tx, true, &h, NULL, HDR);
	if (!e)
		e = ring_copy(&r->tx, true, buf, NULL, len);
	if (!e)
		e = ring_copy(&r->tx, true, NULL, NULL, span - HDR - len);
	return e;
}

/* k messages of len bytes, back to back at src, as one run at our index;
 * the caller made sure it fits in the room and before the ring's end. */
static void put_run(struct ringio *r, const uint8_t *src, size_t len,
		    size_t k)
{
	struct ring_dir *d = &r->tx;
	uint32_t stride = pad16((uint32_t)len);
	struct ring_hdr h = { .len = (uint32_t)len, .type = 1,
			      .flags = RUN_FLAG, .seq = r->seq };
	struct ring_run w = { .count = (uint32_t)k };
	uint8_t *p = d->buf + (d->idx & (d->size - 1));

	memcpy(p, &h, HDR);
	memcpy(p + HDR, &w, HDR);
	p += RUN_HDR;
	if (stride == len) {
		vchan_copy_in(p, src, k * len);   /* the batch's one copy */
	} else {
		for (size_t i = 0; i < k; i++, p += stride) {
			vchan_copy_in(p, src + i * len, len);
			memset(p + len, 0, stride - len);
		}
	}
	r->seq += (uint32_t)k;
	d->idx += RUN_HDR + (uint32_t)k * stride;
}

/* Take what comes before the next payload (padding frames, a frame's
 * header, a run's header and word): the payload is then at our index,
 * *len bytes and *rest of padding after it; in a run, r->run_left counts
 * it and the messages after it. */
static int rx_header(struct ringio *r, uint32_t *len, uint32_t *rest)
{
	struct ring_dir *d = &r->rx;

	while (!r->run_left) {
		struct ring_hdr h;
		struct ring_run w;
		uint32_t pos = d->idx, off = pos & (d->size - 1);
		uint64_t span;
		int e = ring_copy(d, false, NULL, &h, HDR);

		if (e)
			return e;
		if (h.flags & PAD_FLAG) {
			/* One that could never be whole would be waited for
			 * for ever. */
			if (h.len > d->size - HDR || (h.len & (HDR - 1)))
				return -EPROTO;
			e = ring_copy(d, false, NULL, NULL, h.len);
			if (e)
				return e;
			continue;
		}
		if (!(h.flags & RUN_FLAG)) {
			*len = h.len;
			*rest = frame_span(h.len, pos) - HDR - h.len;
			return 0;
		}
		e = ring_copy(d, false, NULL, &w, HDR);
		if (e)
			return e;
		/* What vipc's wire promises of a run; else its payloads would
		 * be read past what was sent. */
		span = RUN_HDR + (uint64_t)w.count * pad16(h.len);
		if (!h.len || h.len > RUN_LEN_MAX || w.count < RUN_MIN ||
		    span > d->size / 4 || off + span > d->size)
			return -EPROTO;
		r->run_left = w.count;
		r->run_len = h.len;
		r->run_stride = pad16(h.len);
	}
	*len = r->run_len;
	*rest = r->run_stride - r->run_len;
	return 0;
}

/* The payload rx_header() found, of len bytes, into buf. */
static int take_payload(struct ringio *r, void *buf, size_t len,
			uint32_t rest)
{
	int e = ring_copy(&r->rx, false, NULL, buf, len);

	if (!e)
		e = ring_copy(&r->rx, false, NULL, NULL, rest);
	if (!e && r->run_left)
		r->run_left--;
	return e;
}

static int get_one(struct ringio *r, void *buf, size_t len)
{
	uint32_t got, rest;
	int e = rx_header(r, &got, &rest);

	if (e)
		return e;
	if (got != len)
		return -EPROTO;
	return take_payload(r, buf, len, rest);
}

/* Is the next message (after any padding) whole in what we know is ready
 * (no run begun)?  An odd header says yes: rx_header() then fails it. */
static bool rx_whole(const struct ring_dir *d, size_t len)
{
	uint32_t at = d->idx, ready = d->known - d->idx;
	struct ring_hdr h;
	struct ring_run w;

	for (;;) {
		if (ready < HDR)
			return false;
		memcpy(&h, d->buf + (at & (d->size - 1)), HDR);
		if (!(h.flags & PAD_FLAG))
			break;
		if (h.len > d->size - HDR || (h.len & (HDR - 1)))
			return true;
		if (ready - HDR < h.len)
			return false;
		ready -= HDR + h.len;
		at += HDR + h.len;
	}
	if (!(h.flags & RUN_FLAG))
		return ready >= frame_span((uint32_t)len, at);
	if (ready < RUN_HDR)
		return false;
	memcpy(&w, d->buf + ((at + HDR) & (d->size - 1)), HDR);
	return ready - RUN_HDR >= (uint64_t)w.count * pad16(h.len);
}

static void rx_settle(struct ring_dir *d)
{
	if (d->idx - d->published >= d->size / 16)
		publish(d);
}

static int ring_send(void *ctx, const void *buf, size_t len)
{
	struct ringio *r = ctx;
	int e = put_one(r, buf, len);

	if (!e)
		publish(&r->tx);
	return e;
}

static int ring_recv(void *ctx, void *buf, size_t len)
{
	struct ringio *r = ctx;
	int e = get_one(r, buf, len);

	if (!e)
		rx_settle(&r->rx);
	return e;
}

/* As vipc's vchan_sendv() with one look at cons: runs of as many as fit
 * (in the room, in a quarter ring, before the ring's end), a single frame
 * where no run fits; the first message waits for its room as a single send
 * does, and the call ends there, or when the rest has no room now. */
static int ring_send_batch(void *ctx, const void *buf, size_t msg, size_t n)
{
	struct ringio *r = ctx;
	struct ring_dir *d = &r->tx;
	const uint8_t *src = buf;
	uint32_t stride = pad16((uint32_t)msg);
	size_t i = 0;
	int e;

	d->known = __atomic_load_n(d->theirs, __ATOMIC_ACQUIRE);
	while (i < n) {
		uint32_t room = d->size - (d->idx - d->known);
		uint32_t fit = d->size - (d->idx & (d->size - 1)), pad, need;

		if (fit > room)
			fit = room;
		if (fit > d->size / 4)
			fit = d->size / 4;
		if (msg && msg <= RUN_LEN_MAX && n - i >= RUN_MIN &&
		    fit >= RUN_HDR + RUN_MIN * stride) {
			size_t k = (fit - RUN_HDR) / stride;

			if (k > n - i)
				k = n - i;
			put_run(r, src + i * msg, msg, k);
			i += k;
			if (d->idx - d->published >= d->size / 4)
				publish(d);
			continue;
		}
		pad = wrap_pad(d, msg);
		need = pad + frame_span((uint32_t)msg, d->idx + pad);
		if (i && need > room)
			break;
		e = put_one(r, src + i * msg, msg);
		if (e)
			return e;
		if (i++ == 0 && need > room)
			break;   /* it waited: the rest in the next call */
	}
	publish(d);
	return (int)i;
}

/* As vipc's vchan_recvv(): waits for the first message only; the payloads
 * of a run come out in one copy (back to back when their length keeps the
 * 16-byte step, as in buf); later messages only when whole in the ring
 * already (one look at prod). */
static int ring_recv_batch(void *ctx, void *buf, size_t msg, size_t n)
{
	struct ringio *r = ctx;
	struct ring_dir *d = &r->rx;
	uint8_t *dst = buf;
	bool looked = false;
	size_t i = 0;

	while (i < n) {
		uint32_t got, rest;
		int e;

		if (i && !r->run_left) {
			if (!looked) {
				d->known = __atomic_load_n(d->theirs,
							   __ATOMIC_ACQUIRE);
				looked = true;
			}
			if (!rx_whole(d, msg))
				break;
		}
		e = rx_header(r, &got, &rest);
		if (!e && got != msg)
			e = -EPROTO;
		if (!e && r->run_left && r->run_stride == msg) {
			size_t k = r->run_left < n - i ? r->run_left : n - i;

			e = ring_copy(d, false, NULL, dst + i * msg, k * msg);
			r->run_left -= (uint32_t)k;
			i += k;
		} else if (!e) {
			e = take_payload(r, dst + i * msg, msg, rest);
			i++;
		}
		if (e)
			return e;
	}
	rx_settle(d);
	return (int)i;
}

int bench_ring_end(void *map, size_t ring, bool client, pid_t peer,
		   struct bench_io *io)
{
	/* libxenvchan's first line: left (client->server) cons, prod; right
	 * cons, prod; orders; live bytes; notify bytes (cli_notify, srv_notify).
	 * LINES: the same six, a line each, after the mark's line at 3072. */
	bool lines = bench_layout == VCHAN_LAYOUT_LINES;
	uint8_t *page = map;
	/* LINES offsets, in libxenvchan's order of the six. */
	static const unsigned at[6] = { 3200, 3136, 3328, 3264, 3456, 3392 };
	uint32_t *ctl[4];
	uint8_t *notify[2];
	uint8_t *c2s = page + 4096, *s2c = c2s + ring;
	struct ringio *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (int k = 0; k < 4; k++)
		ctl[k] = lines ? (uint32_t *)(void *)(page + at[k])
			       : (uint32_t *)map + k;
	for (int k = 0; k < 2; k++)
		notify[k] = lines ? page + at[4 + k] : page + 22 + k;
	r->tx = (struct ring_dir){
		.mine = client ? ctl[1] : ctl[3],
		.theirs = client ? ctl[0] : ctl[2],
		.peer_notify = notify[client ? 1 : 0],
		.buf = client ? c2s : s2c, .size = (uint32_t)ring,
		.peer = peer };
	r->rx = (struct ring_dir){
		.mine = client ? ctl[2] : ctl[0],
		.theirs = client ? ctl[3] : ctl[1],
		.peer_notify = notify[client ? 1 : 0],
		.buf = client ? s2c : c2s, .size = (uint32_t)ring,
		.peer = peer };
	*io = (struct bench_io){ r, ring_send, ring_recv, ring_send_batch,
				 ring_recv_batch };
	return 0;
}

void bench_ring_pubs(const struct bench_io *io, uint64_t *tx, uint64_t *rx)
{
	const struct ringio *r = io->ctx;

	*tx = r->tx.pubs;
	*rx = r->rx.pubs;
}

void bench_ring_end_free(struct bench_io *io)
{
	free(io->ctx);
	io->ctx = NULL;
}
