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
 * payload, padded as vipc pads its frames (to 16 bytes; payloads of 256 bytes and more to the
 * next cache line); on rings up to 256 KiB a frame that would wrap goes after a padding frame,
 * as vipc's do (doc/vchan-layout.md).  Every index store has release order and is followed by
 * the load of the peer's notify byte that a sleeping peer needs, after a
 * full barrier in libxenvchan's layout (in LINES, vipc's relaxed handshake
 * leaves the barrier out); the consumer publishes its index every sixteenth of the ring,
 * or before it waits; the reader spins on the index.  Everything else the
 * channel does is left out: locks, rights, state and peer checks, sequence
 * numbers, deadlines, sleeping and the API around it.  It spins, so it is
 * measured with the ends on different CPUs only. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vipc/vchan.h>

#include "bench.h"

#define HDR 16u
#define LINE 64u
#define ALIGN_MIN 256u
#define PAD_WRAP_MAX (256u << 10)
#define PAD_FLAG 0x80000000u

struct ring_hdr {
	uint32_t len, type, flags, seq;
};

/* One direction as this end sees it. */
struct ring_dir {
	uint32_t *mine, *theirs;    /* our index, the peer's                */
	uint8_t *peer_notify;       /* loaded after each publication        */
	uint8_t *buf;
	uint32_t size, idx, known, published;
	pid_t peer;                 /* a child to watch while spinning      */
};

struct ringio {
	struct ring_dir tx, rx;
	uint32_t seq;
};

size_t bench_ring_map_size(size_t ring)
{
	return 4096 + 2 * ring;
}

/* Bytes a frame of payload len takes with its header at index pos. */
static uint32_t frame_span(uint32_t len, uint32_t pos)
{
	uint32_t n = HDR + ((len + HDR - 1) & ~(HDR - 1));

	if (len >= ALIGN_MIN)
		n += (LINE - HDR - pos - n) & (LINE - 1);
	return n;
}

static void publish(struct ring_dir *d)
{
	__atomic_store_n(d->mine, d->idx, __ATOMIC_RELEASE);
	d->published = d->idx;
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
 * NULL: skip), publishing every quarter ring so large messages stream. */
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
		if (tx && src)
			memcpy(d->buf + off, src, c);
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

static int put_one(struct ringio *r, const void *buf, size_t len)
{
	struct ring_hdr h = { .len = (uint32_t)len, .type = 1,
			      .seq = r->seq++ };
	uint32_t span = frame_span((uint32_t)len, r->tx.idx);
	uint32_t tail = r->tx.size - (r->tx.idx & (r->tx.size - 1));
	int e;

	if (r->tx.size <= PAD_WRAP_MAX && span <= r->tx.size / 4 &&
	    span > tail) {
		/* A padding frame to the end (and into the first line before
		 * a large payload): only its header is written. */
		uint32_t pad = tail + (len >= ALIGN_MIN ? LINE - HDR : 0);
		struct ring_hdr p = { .len = pad - HDR, .flags = PAD_FLAG };

		e = ring_copy(&r->tx, true, &p, NULL, HDR);
		if (!e)
			e = ring_move(&r->tx, true, NULL, NULL, pad - HDR, true);
		if (e)
			return e;
		span = frame_span((uint32_t)len, r->tx.idx);
	}
	e = ring_copy(&r->tx, true, &h, NULL, HDR);

	if (!e)
		e = ring_copy(&r->tx, true, buf, NULL, len);
	if (!e)
		e = ring_copy(&r->tx, true, NULL, NULL, span - HDR - len);
	return e;
}

static int get_one(struct ringio *r, void *buf, size_t len)
{
	struct ring_hdr h;
	uint32_t pos = r->rx.idx;
	int e = ring_copy(&r->rx, false, NULL, &h, HDR);

	if (!e && (h.flags & PAD_FLAG)) {
		e = ring_copy(&r->rx, false, NULL, NULL, h.len);
		pos = r->rx.idx;
		if (!e)
			e = ring_copy(&r->rx, false, NULL, &h, HDR);
	}
	if (e)
		return e;
	if (h.len != len)
		return -EPROTO;
	e = ring_copy(&r->rx, false, NULL, buf, len);
	if (!e)
		e = ring_copy(&r->rx, false, NULL, NULL,
			      frame_span(h.len, pos) - HDR - len);
	return e;
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

static int ring_send_batch(void *ctx, const void *buf, size_t msg, size_t n)
{
	struct ringio *r = ctx;

	for (size_t i = 0; i < n; i++) {
		int e = put_one(r, (const uint8_t *)buf + i * msg, msg);

		if (e)
			return e;
	}
	publish(&r->tx);
	return (int)n;
}

static int ring_recv_batch(void *ctx, void *buf, size_t msg, size_t n)
{
	struct ringio *r = ctx;
	size_t i;
	int e = get_one(r, buf, msg);

	if (e)
		return e;
	/* Then as many as are whole in the ring already (one look at prod). */
	r->rx.known = __atomic_load_n(r->rx.theirs, __ATOMIC_ACQUIRE);
	for (i = 1; i < n; i++) {
		uint32_t at = r->rx.idx, ready = r->rx.known - at;
		struct ring_hdr h;

		if (ready < HDR)
			break;
		memcpy(&h, r->rx.buf + (at & (r->rx.size - 1)), HDR);
		if (h.flags & PAD_FLAG) {
			/* Only with the frame after it whole too. */
			if (ready < HDR + h.len)
				break;
			ready -= HDR + h.len;
			at += HDR + h.len;
		}
		if (ready < frame_span((uint32_t)msg, at))
			break;
		e = get_one(r, (uint8_t *)buf + i * msg, msg);
		if (e)
			return e;
	}
	rx_settle(&r->rx);
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

void bench_ring_end_free(struct bench_io *io)
{
	free(io->ctx);
	io->ctx = NULL;
}
