/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a hostile peer.  The input is a script: it picks the
 * role of this end, the ring orders (hostile ones, and rings over 256 KiB,
 * included) and maybe the starting indices (anywhere, or both rings empty
 * just below 2^32, as on a channel that has carried nearly 4 GiB), then
 * interleaves arbitrary writes to the shared page and rings, well-formed
 * frames, and calls of this end (send, receive, batches, in place, events,
 * flush, revoke; and this thread's own calls while it holds an in-place
 * message or a reservation).  Every call must return a documented value,
 * and a "not now" must leave the peer something to act on (no silent
 * stall: see rx_live() and tx_live()); ASan/UBSan catch any access outside
 * the page and rings.
 *
 * The peer keeps a model of what it wrote into this end's inbound ring
 * (struct peer).  Until it does something a well-behaved peer would not
 * (see turn_hostile()'s callers: any write to the control page, ring bytes
 * written where this end may still read, a frame against the rules, an
 * index moved backwards or past what it wrote or was given, an inbound
 * ring that starts with bytes in it), this end must deliver exactly that:
 *   - each message received is the next one written, whole and published:
 *     same type, flags, length, sequence number and bytes; raw, the bytes
 *     read are the next ones published, in order;
 *   - -EMSGSIZE only for that next message, naming its length;
 *   - -EAGAIN from a receive only while no whole message (raw: no byte)
 *     waits;
 *   - no call fails with -EPROTO, nor with -EPIPE before a revoke.
 * Once it has misbehaved, only the documented values and the liveness
 * rules remain. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vchan_priv.h"

#include "fuzz_input.h"

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "fuzz_vchan_peer: %s:%d: %s\n",     \
				__FILE__, __LINE__, #cond);                 \
			abort();                                            \
		}                                                           \
	} while (0)

/* --- a transport that goes nowhere --------------------------------------- */
static int ev_fd = -1;
struct mem {
	uint8_t *page, *lbuf, *rbuf;
};

static int null_notify(void *tp)
{
	uint64_t one = 1;
	ssize_t r;

	(void)tp;
	r = write(ev_fd, &one, sizeof(one));
	(void)r;
	return 0;
}

static int null_fd(void *tp)
{
	(void)tp;
	return ev_fd;
}

static int null_ack(void *tp)
{
	uint64_t n;
	ssize_t r;

	(void)tp;
	r = read(ev_fd, &n, sizeof(n));
	(void)r;
	return 0;
}

static void null_release(void *tp, bool detach)
{
	(void)tp;
	(void)detach;
}

static const struct vchan_transport_ops null_ops = {
	.notify = null_notify, .fd = null_fd, .ack = null_ack,
	.release = null_release,
};

static void quiet(void *arg, const char *line)
{
	(void)arg;
	if (getenv("FUZZ_VCHAN_VERBOSE"))
		fprintf(stderr, "%s\n", line);
}

/* The errors a call may return, from vipc/vchan.h's list and what each
 * call's code can reach with this script: valid arguments, timeout 0 (so
 * -EAGAIN, never -ETIMEDOUT), a transport whose notify never fails, and
 * no call made while this thread holds a reservation or an in-place
 * message (so no -EINVAL from the lock).  v->err latches only -EPROTO. */
enum {
	E_AGAIN = 1 << 0, E_PIPE = 1 << 1, E_PROTO = 1 << 2,
	E_MSGSIZE = 1 << 3, E_PERM = 1 << 4, E_INVAL = 1 << 5,
	E_NOMEM = 1 << 6,
};
/* -EAGAIN, or the channel revoked, peer gone, or peer broken. */
#define E_WAIT (E_AGAIN | E_PIPE | E_PROTO)
/* Framed send and receive: a message over the maximum (or, received,
 * over the buffer); a partial message kept in the backlog or stash. */
#define E_SEND (E_WAIT | E_MSGSIZE | E_NOMEM)
#define E_RECV (E_WAIT | E_MSGSIZE | E_NOMEM)
/* In place: no buffer to be short of (a frame is bounded by max_msg when
 * its header is checked); the bounce or stash buffer may be allocated. */
#define E_RECV_INPLACE (E_WAIT | E_NOMEM)
/* A reservation over a quarter ring or max_msg; nothing allocated. */
#define E_RESERVE (E_WAIT | E_MSGSIZE)
/* Raw stream: no frames, nothing allocated. */
#define E_RAW E_WAIT
/* Flush checks neither rights nor mode: an end without a backlog says 0. */
#define E_FLUSH E_WAIT

static unsigned err_bit(int r)
{
	switch (r) {
	case -EAGAIN: return E_AGAIN;
	case -EPIPE: return E_PIPE;
	case -EPROTO: return E_PROTO;
	case -EMSGSIZE: return E_MSGSIZE;
	case -EPERM: return E_PERM;
	case -EINVAL: return E_INVAL;
	case -ENOMEM: return E_NOMEM;
	default: return 0;
	}
}

/* --- the peer's model of what it wrote ----------------------------------- */
/* Messages written and not yet received: at most a 1 MiB ring of empty
 * (16-byte) frames. */
#define EXPECT_MAX (1u << 16)
#define RING_MAX (1u << VCHAN_ORDER_MAX)

struct expect {
	uint32_t type, flags, len, seq;
	uint32_t end;           /* ring index past its frame (or its run) */
};

static struct peer {
	uint8_t *ring;          /* this end's inbound ring: the peer writes */
	uint32_t size;
	uint32_t *prod;         /* the peer's index of it, in the page */
	uint32_t *cons;         /* this end's, as published */
	uint32_t *out_prod;     /* this end's outbound prod, as published */
	bool framed;
	size_t max_msg;
	uint32_t wpos;          /* written up to here (framed: *prod <= wpos) */
	uint32_t seq;           /* the next frame's sequence number */
	bool hostile;           /* it did what a well-behaved peer would not */
	bool revoked;           /* this end was revoked */
	/* framed: messages written, not yet received, from head */
	struct expect q[EXPECT_MAX];
	unsigned head, count;
	/* raw: each ring byte as the peer wrote it (or found it), and where
	 * this end reads next */
	uint8_t shadow[RING_MAX];
	uint32_t read;
} peer;

static void turn_hostile(const char *why)
{
	if (!peer.hostile && getenv("FUZZ_VCHAN_VERBOSE"))
		fprintf(stderr, "peer turns hostile: %s\n", why);
	peer.hostile = true;
}

/* Byte j of the payload of message seq. */
static uint8_t pattern(uint32_t seq, uint32_t j)
{
	return (uint8_t)(seq * 131u + j * 7u + (j >> 8) + 1u);
}

static void put(uint32_t pos, uint8_t c)
{
	peer.ring[pos & (peer.size - 1)] = c;
	peer.shadow[pos & (peer.size - 1)] = c;
}

/* Bytes from this end's published cons that the peer may not write: what
 * it has written (framed; a frame is not changed once written) or
 * published (raw). */
static uint32_t peer_locked(void)
{
	return (peer.framed ? peer.wpos : *peer.prod) - *peer.cons;
}

/* Room to write at wpos. */
static uint32_t peer_room(void)
{
	uint32_t used = peer.wpos - *peer.cons;

	return used > peer.size ? 0 : peer.size - used;
}

/* The peer publishes up to p: past what it wrote (framed), past the room
 * it was given (raw), or backwards is hostile. */
static void peer_publish(uint32_t p)
{
	uint32_t limit = peer.framed ? peer.wpos : *peer.cons + peer.size;

	if (p - *peer.prod > limit - *peer.prod)
		turn_hostile("prod moved backwards or past what it wrote");
	else if (!peer.framed && p - *peer.cons > peer.wpos - *peer.cons)
		peer.wpos = p;
	*peer.prod = p;
}

static void expect(uint32_t type, uint32_t flags, uint32_t len,
		   uint32_t seq, uint32_t end)
{
	struct expect *e;

	if (peer.hostile || !peer.framed)
		return;
	CHECK(peer.count < EXPECT_MAX);
	e = &peer.q[(peer.head + peer.count++) % EXPECT_MAX];
	*e = (struct expect){ type, flags, len, seq, end };
}

/* The next message's frame is all published. */
static bool front_published(void)
{
	return peer.count &&
	       (int32_t)(*peer.prod - peer.q[peer.head].end) >= 0;
}

/* A padding frame to the ring's end or (op & 0x40) VCHAN_PAD_PAST bytes
 * past it; its header is published, its body with what comes next.  One
 * longer than the ring could never be whole: a lie. */
static void peer_pad(unsigned op)
{
	struct vchan_frame_hdr h = { .flags = VCHAN_FRAME_PAD };
	uint32_t at = peer.wpos & (peer.size - 1), span;

	h.len = peer.size - at - VCHAN_FRAME_HDR +
		((op & 0x40) ? VCHAN_PAD_PAST : 0);
	span = VCHAN_FRAME_HDR + h.len;
	if (span > peer.size) {
		if (VCHAN_FRAME_HDR > peer_room())
			return;
		if (peer.framed)
			turn_hostile("padding frame longer than the ring");
		span = VCHAN_FRAME_HDR;
	} else if (span > peer_room()) {
		return;
	}
	for (uint32_t i = 0; i < VCHAN_FRAME_HDR; i++)
		put(peer.wpos + i, ((uint8_t *)&h)[i]);
	peer.wpos += span;
	peer_publish(peer.wpos - span + VCHAN_FRAME_HDR);
}

/* A run (vchan_sendv()'s frame): up to a quarter ring and before the
 * ring's end, or (op & 0x20) a lie from the input (any length to 511, any
 * count to 255, a reserved word set, crossing the end); published whole,
 * or (op & 0x10) all but its last payload. */
static void peer_run(unsigned op, uint32_t a, uint32_t b)
{
	struct vchan_frame_hdr h = {
		.type = b, .flags = (b & 0xffff) | VCHAN_FRAME_RUN,
		.seq = peer.seq,
	};
	struct vchan_run_word w = { 0 };
	uint32_t at = peer.wpos & (peer.size - 1), stride, most, span;
	uint8_t hw[VCHAN_RUN_HDR];
	bool lie = op & 0x20;

	h.len = 1 + a % VCHAN_RUN_LEN_MAX;
	stride = (uint32_t)vchan_frame_pad(h.len);
	most = (peer.size / 4 - VCHAN_RUN_HDR) / stride;
	if (most < VCHAN_RUN_MIN && !lie)
		return;
	if (lie) {
		h.len = a & 0x1ff;
		stride = (uint32_t)vchan_frame_pad(h.len);
		w.count = b >> 24;
		w.zero[1] = (b >> 23) & 1;
	} else {
		w.count = VCHAN_RUN_MIN +
			  (b >> 24) % (most - VCHAN_RUN_MIN + 1);
	}
	span = VCHAN_RUN_HDR + w.count * stride;
	if ((!lie && at + span > peer.size) || span > peer_room())
		return;
	if (peer.framed && lie)
		turn_hostile("a run against the rules");
	else if (peer.framed && h.len > peer.max_msg)
		turn_hostile("a run of messages over the maximum");
	memcpy(hw, &h, sizeof(h));
	memcpy(hw + VCHAN_FRAME_HDR, &w, sizeof(w));
	for (uint32_t i = 0; i < VCHAN_RUN_HDR; i++)
		put(peer.wpos + i, hw[i]);
	for (uint32_t k = 0; k < w.count; k++) {
		uint32_t at_k = peer.wpos + VCHAN_RUN_HDR + k * stride;

		for (uint32_t j = 0; j < stride; j++)
			put(at_k + j, j < h.len ? pattern(peer.seq + k, j) : 0);
		expect(b, b & 0xffff, h.len, peer.seq + k, peer.wpos + span);
	}
	peer.wpos += span;
	peer_publish((op & 0x10) && w.count ? peer.wpos - stride : peer.wpos);
	peer.seq += w.count;
}

/* A message in a frame of its own, published whole: up to the channel's
 * maximum, or (op & 0x20) to 3000 bytes, maybe over it (a lie). */
static void peer_frame(unsigned op, uint32_t a, uint32_t b)
{
	struct vchan_frame_hdr h = {
		.type = b, .flags = b & 0xffff, .seq = peer.seq,
	};
	size_t most = peer.max_msg < 3000 ? peer.max_msg + 1 : 3000;
	uint32_t fr;

	h.len = (op & 0x20) ? a % 3000 : a % most;
	fr = (uint32_t)vchan_frame_span(h.len, peer.wpos);
	if (fr > peer_room())
		return;
	if (peer.framed && h.len > peer.max_msg)
		turn_hostile("a message over the maximum");
	for (uint32_t i = 0; i < fr; i++) {
		uint32_t j = i - VCHAN_FRAME_HDR;

		put(peer.wpos + i, i < VCHAN_FRAME_HDR ? ((uint8_t *)&h)[i] :
				   j < h.len ? pattern(peer.seq, j) : 0);
	}
	expect(h.type, h.flags, h.len, h.seq, peer.wpos + fr);
	peer.wpos += fr;
	peer_publish(peer.wpos);
	peer.seq++;
}

/* Framed: n messages this end received into m[] (each buffer cap[i]
 * bytes before the call), the next n the peer wrote.  A batch's buffers
 * may overlap (packed, one of another size): bytes a later one may have
 * written over are not compared. */
static void rx_got(const struct vchan_msg *m, const size_t *cap, int n)
{
	if (peer.hostile)
		return;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = m[i].buf;
		struct expect *e;
		size_t len = m[i].len;

		CHECK(peer.count > 0);  /* a message the peer never wrote */
		e = &peer.q[peer.head];
		CHECK((int32_t)(*peer.prod - e->end) >= 0);  /* published */
		CHECK(m[i].type == e->type);
		CHECK(m[i].flags == e->flags);
		CHECK(m[i].len == e->len);
		CHECK(m[i].seq == e->seq);
		for (int k = i + 1; k < n && cap; k++) {
			const uint8_t *q = m[k].buf;

			if (q + cap[k] > p && q < p + len)
				len = q > p ? (size_t)(q - p) : 0;
		}
		for (size_t j = 0; j < len; j++)
			CHECK(p[j] == pattern(e->seq, (uint32_t)j));
		peer.head = (peer.head + 1) % EXPECT_MAX;
		peer.count--;
	}
}

/* Framed: a receive that took nothing (r < 0; the first buffer cap
 * bytes, its length after the call len). */
static void rx_none(int r, size_t cap, size_t len)
{
	if (peer.hostile || peer.revoked)
		return;
	if (r == -EMSGSIZE) {
		CHECK(peer.count > 0);
		CHECK(len == peer.q[peer.head].len && len > cap);
	} else if (r == -EAGAIN) {
		CHECK(!front_published());  /* a whole message waits */
	}
}

/* Raw: r bytes read into p, the next ones published; -EAGAIN only with
 * none published. */
static void rx_raw(int r, const uint8_t *p)
{
	if (peer.hostile || peer.revoked)
		return;
	if (r == -EAGAIN)
		CHECK(*peer.prod == peer.read);
	if (r <= 0)
		return;
	CHECK(*peer.prod - peer.read >= (uint32_t)r);
	for (int i = 0; i < r; i++)
		CHECK(p[i] ==
		      peer.shadow[(peer.read + (uint32_t)i) & (peer.size - 1)]);
	peer.read += (uint32_t)r;
}

/* r must be a success in [lo, hi] or one of errs; a peer that has behaved
 * broke nothing, and only a revoke ends the channel. */
static void ok(const char *call, int r, int lo, int hi, unsigned errs)
{
	if (!peer.hostile) {
		errs &= ~(unsigned)E_PROTO;
		if (!peer.revoked)
			errs &= ~(unsigned)E_PIPE;
	}
	if (r >= 0 ? r >= lo && r <= hi : (err_bit(r) & errs) != 0)
		return;
	fprintf(stderr, "%s: unexpected return %d%s\n", call, r,
		peer.hostile ? "" : " (the peer has behaved)");
	abort();
}

/* A call of one direction (right) and one mode (framed or raw): its right
 * and mode are checked first, so a missing right is exactly -EPERM and the
 * wrong mode exactly -EINVAL. */
static void ok_call(const struct vchan *v, const char *call, int r,
		    unsigned right, bool framed, int lo, int hi,
		    unsigned errs)
{
	if (!(v->rights & right))
		ok(call, r, 1, 0, E_PERM);
	else if (framed == v->raw)
		ok(call, r, 1, 0, E_INVAL);
	else
		ok(call, r, lo, hi, errs);
}

/* Liveness (no silent stall): a call that says "not now" must leave the
 * peer something to act on, or the two ends wait for each other for ever.
 * A receive's -EAGAIN: all it consumed is published (a sender waiting for
 * room sees it) and the inbound ring is not full (the peer could not add
 * the bytes we wait for).  A send's -EAGAIN: the outbound ring is not
 * empty (an empty ring has room for whatever a send waits for).  Either
 * way the end has asked the peer to notify it when that changes, or an
 * event loop polling vchan_fd() would sleep for ever.  After any
 * send-side call, what we wrote is published.  Only while the end works:
 * a failed or revoked end (or, sending, a dead peer) owes nothing. */
static void stall(const char *call, const char *why, uint32_t a, uint32_t b)
{
	fprintf(stderr, "%s: %s (%u, %u)\n", call, why, a, b);
	abort();
}

static void rx_live(struct vchan *v, const char *call, int r,
		    const uint32_t *prod)
{
	const struct vchan_ring *g = &v->rx.ring;

	if (r != -EAGAIN || vchan_state(v, false) < 0)
		return;
	if (g->published != g->idx)
		stall(call, "-EAGAIN with consumption left unpublished",
		      g->published, g->idx);
	if (*prod - g->idx == g->size)
		stall(call, "-EAGAIN on a full inbound ring", *prod, g->idx);
	if (!(*v->peer_notify & VCHAN_NOTIFY_WRITE))
		stall(call, "-EAGAIN without asking to be woken",
		      *v->peer_notify, VCHAN_NOTIFY_WRITE);
}

static void tx_live(struct vchan *v, const char *call, int r,
		    const uint32_t *cons)
{
	const struct vchan_ring *g = &v->tx.ring;

	/* (vchan_state(v, true) could fail the end: looked at directly.) */
	if (vchan_state(v, false) < 0 || *v->peer_live != 1)
		return;
	if (g->published != g->idx && !vchan_lock_held(&v->tx.mu))
		stall(call, "returned with written bytes unpublished",
		      g->published, g->idx);
	if (r != -EAGAIN)
		return;
	if (*cons == g->idx)
		stall(call, "-EAGAIN on an empty outbound ring", *cons,
		      g->idx);
	if (!(*v->peer_notify & VCHAN_NOTIFY_READ))
		stall(call, "-EAGAIN without asking to be woken",
		      *v->peer_notify, VCHAN_NOTIFY_READ);
}

static uint8_t *ring_mem(uint8_t *page, unsigned order)
{
	unsigned off = vchan_layout_inpage_offset(order);

	return off ? page + off : calloc(1, (size_t)1 << order);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned orders[][2] = {
		{ 10, 11 }, { 11, 10 }, { 12, 12 }, { 13, 10 }, { 10, 13 },
		/* over 256 KiB, where whole frames wrap */
		{ 20, 12 }, { 12, 19 },
	};
	struct in in = { data, size };
	struct vchan_config cfg;
	struct vchan_interface *pg;
	uint8_t *page, *lbuf, *rbuf, *buf;
	unsigned lo, ro, mode, start;
	int layout;
	bool server;
	struct vchan *v = NULL;
	static uint8_t scratch[1 << 17];
	int r, steps = 0;

	if (ev_fd < 0) {
		ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		vchan_set_logger(quiet, NULL);
	}
	mode = take(&in, 1);
	layout = take(&in, 1) & 1 ? VCHAN_LAYOUT_LINES : VCHAN_LAYOUT_XENVCHAN;
	server = mode & 1;
	vchan_config_init(&cfg);
	cfg.spin_ns = 0;
	cfg.raw = (mode >> 1) & 1;
	cfg.max_msg = 1 + take(&in, 2) * 4;
	cfg.rights = (mode >> 2) & 3;
	if (!cfg.rights)
		cfg.rights = 3;
	page = aligned_alloc(4096, 4096);
	memset(page, 0, 4096);
	pg = (struct vchan_interface *)page;
	lo = orders[(mode >> 4) % 7][0];
	ro = orders[(mode >> 4) % 7][1];
	if (server) {
		/* As vchan_layout_choose() would have it. */
		if (lo == 11 || ro == 11)
			layout = VCHAN_LAYOUT_XENVCHAN;
		vchan_layout_server_init(pg, lo, ro, layout);
	} else {
		/* The peer is the server: it writes the page, maybe badly
		 * (the LINES mark with an order-11 ring over it included). */
		vchan_layout_server_init(pg, lo, ro, layout);
		if (mode & 0x80) {
			pg->left_order = (uint16_t)take(&in, 2);
			pg->right_order = (uint16_t)take(&in, 2);
		}
		if (vchan_layout_client_read(pg, "fuzz", &lo, &ro,
					     &layout) < 0)
			goto out_page;
		if ((lo > 16 || ro > 16) && !(mode & 0x40))
			goto out_page;   /* valid, but slow: only sometimes */
	}
	/* Starting indices are the page's: a client finds what the server
	 * left, and a server can be raced by a client mapping the page early.
	 * Sometimes the peer chooses them (a framed end takes only 16-byte
	 * frame boundaries for its own): anywhere, or both rings empty just
	 * below 2^32 (a channel that has carried nearly 4 GiB each way; an
	 * input moves a few MB at most). */
	start = take(&in, 1) & 3;
	if (start >= 2) {
		struct vchan_slots st;
		uint32_t at;

		vchan_layout_slots(pg, layout, &st);
		if (start == 3) {
			at = take(&in, 4);
			*st.left_prod = at;
			*st.left_cons = at - take(&in, 2);
			at = take(&in, 4);
			*st.right_prod = at;
			*st.right_cons = at - take(&in, 2);
		} else {
			at = 0u - VCHAN_FRAME_HDR * take(&in, 1);
			*st.left_prod = *st.left_cons = at;
			at = 0u - VCHAN_FRAME_HDR * take(&in, 1);
			*st.right_prod = *st.right_cons = at;
		}
	}
	lbuf = ring_mem(page, lo);
	rbuf = ring_mem(page, ro);
	if (server)
		r = vchan_endpoint_create(&cfg, true, layout, pg, lbuf, lo,
					  rbuf, ro, &null_ops, NULL, &v);
	else
		r = vchan_endpoint_create(&cfg, false, layout, pg, rbuf, ro,
					  lbuf, lo, &null_ops, NULL, &v);
	if (r < 0)
		goto out_rings;
	if (!server)
		vchan_client_connect(v);
	else
		pg->cli_live = 1;

	/* The peer's rings: it writes `in_ring` (our inbound), in the places
	 * of this end's layout. */
	struct vchan_slots sl;

	vchan_layout_slots(pg, layout, &sl);
	uint32_t *peer_prod = server ? sl.left_prod : sl.right_prod;
	uint32_t *peer_prod_cons = server ? sl.left_cons : sl.right_cons;
	uint32_t *peer_cons = server ? sl.right_cons : sl.left_cons;
	uint8_t *in_ring = server ? lbuf : rbuf;
	uint32_t in_size = 1u << (server ? lo : ro);

	peer.ring = in_ring;
	peer.size = in_size;
	peer.prod = peer_prod;
	peer.cons = peer_prod_cons;
	peer.out_prod = server ? sl.right_prod : sl.left_prod;
	peer.framed = !cfg.raw;
	peer.max_msg = cfg.max_msg;
	peer.wpos = *peer_prod;
	peer.seq = 1;
	peer.hostile = false;
	peer.revoked = false;
	peer.head = peer.count = 0;
	peer.read = *peer_prod_cons;
	/* Raw: whatever the ring holds is the stream, once published. */
	memcpy(peer.shadow, in_ring, in_size);
	/* Framed: bytes to read before the peer wrote any are not frames. */
	if (peer.framed && *peer_prod != *peer_prod_cons)
		turn_hostile("the inbound ring starts with bytes in it");

	while (in.n && steps++ < 400) {
		uint32_t op = take(&in, 1), a = take(&in, 2), b = take(&in, 4);
		struct vchan_msg m[4];
		size_t cap[4];
		uint32_t n;
		void *p;

		switch (op % 14) {
		case 0:  /* arbitrary 32-bit write to the control page */
			((uint32_t *)page)[a % 1024] = b;
			turn_hostile("a write to the control page");
			break;
		case 1:  /* arbitrary byte to the control page */
			page[a % 4096] = (uint8_t)b;
			turn_hostile("a write to the control page");
			break;
		case 2:  /* arbitrary bytes into our inbound ring: hostile
			  * where this end may still read */
			for (uint32_t i = 0; i < (b & 63) && in.n; i++) {
				uint32_t at = a + i;

				if (((at - *peer.cons) & (in_size - 1)) <
				    peer_locked() ||
				    peer_locked() >= in_size)
					turn_hostile("a write where this end "
						     "may still read");
				put(at, (uint8_t)take(&in, 1));
			}
			break;
		case 3:  /* a frame: well formed, padding, a run */
			if (peer.hostile)
				peer.wpos = *peer_prod;  /* anything goes */
			if (op & 0x80)
				peer_pad(op);
			else if ((op & 0xc0) == 0x40)
				peer_run(op, a, b);
			else
				peer_frame(op, a, b);
			break;
		case 4:  /* the peer moves its prod anywhere, or fills the
			  * ring to the brim with whatever is in it, or
			  * (0x20) publishes part of what it wrote */
			if ((op & 0xc0) == 0x40)
				peer_publish(*peer_prod_cons + in_size);
			else if (op & 0x80)
				peer_publish(b);
			else if (op & 0x20)
				peer_publish(*peer_prod + (uint32_t)(a %
					     ((uint64_t)(peer.wpos -
							 *peer_prod) + 1)));
			else
				peer_publish(*peer_prod + a);
			break;
		case 5: { /* the peer consumes (maybe too much) */
			uint32_t was = *peer_cons;

			*peer_cons = (op & 0x80) ? b : was + (a % 2048);
			if (*peer_cons - was > *peer.out_prod - was)
				turn_hostile("cons moved backwards or past "
					     "this end's prod");
			break;
		}
		case 6:
			if (cfg.raw) {
				/* At least one byte, none asked for: 0. */
				n = a % 5000;
				r = vchan_write(v, scratch, n, 0);
				ok_call(v, "vchan_write", r, VCHAN_RIGHT_SEND,
					false, n ? 1 : 0, (int)n, E_RAW);
				tx_live(v, "vchan_write", r, peer_cons);
			} else {
				r = vchan_send(v, b, b & 0xffff, scratch,
					       a * 2u % sizeof(scratch), 0);
				ok_call(v, "vchan_send", r, VCHAN_RIGHT_SEND,
					true, 0, 0, E_SEND);
				tx_live(v, "vchan_send", r, peer_cons);
			}
			break;
		case 7:
			buf = scratch;
			if (cfg.raw) {
				n = a % 5000 + 1;
				r = vchan_read(v, buf, n, 0);
				ok_call(v, "vchan_read", r, VCHAN_RIGHT_RECV,
					false, 1, (int)n, E_RAW);
				rx_live(v, "vchan_read", r, peer_prod);
				if (v->rights & VCHAN_RIGHT_RECV)
					rx_raw(r, buf);
				break;
			}
			m[0] = (struct vchan_msg){ .buf = buf,
						   .len = a * 2u % sizeof(scratch) };
			r = vchan_recv(v, &m[0], 0);
			ok_call(v, "vchan_recv", r, VCHAN_RIGHT_RECV, true,
				0, 0, E_RECV);
			rx_live(v, "vchan_recv", r, peer_prod);
			if (r == 0 && m[0].len > a * 2u % sizeof(scratch))
				abort();
			if (r == 0)
				rx_got(m, NULL, 1);
			else
				rx_none(r, a * 2u % sizeof(scratch), m[0].len);
			break;
		case 8:
			for (int i = 0; i < 4; i++)
				m[i] = (struct vchan_msg){
					.buf = scratch + i * 4096,
					.len = (a >> (i * 2)) % 4096 };
			if (op & 0x80) {
				/* One length for all (runs), the third's
				 * maybe another (a run cut short). */
				for (int i = 0; i < 4; i++)
					m[i].len = a % 300;
				if (op & 0x40)
					m[2].len = b % 300;
				/* Payloads back to back (copied in one go
				 * when 16-byte multiples). */
				if (op & 0x20)
					for (int i = 0; i < 4; i++)
						m[i].buf = scratch + i * m[0].len;
			}
			r = vchan_sendv(v, m, 4, 0);
			ok_call(v, "vchan_sendv", r, VCHAN_RIGHT_SEND, true, 1,
				4, E_SEND);
			tx_live(v, "vchan_sendv", r, peer_cons);
			break;
		case 9:
			for (int i = 0; i < 4; i++)
				m[i] = (struct vchan_msg){
					.buf = scratch + i * 4096,
					.len = (a >> (i * 2)) % 4096 };
			if (op & 0x80)
				/* Buffers back to back, one size (a run's
				 * messages taken in one copy). */
				for (int i = 0; i < 4; i++)
					m[i] = (struct vchan_msg){
						.buf = scratch + i * (a % 300),
						.len = (op & 0x40) && i == 2 ?
						       b % 300 : a % 300 };
			for (int i = 0; i < 4; i++)
				cap[i] = m[i].len;
			r = vchan_recvv(v, m, 4, 0);
			ok_call(v, "vchan_recvv", r, VCHAN_RIGHT_RECV, true,
				1, 4, E_RECV);
			rx_live(v, "vchan_recvv", r, peer_prod);
			for (int i = 0; i < r; i++)
				if (m[i].len > 4096)
					abort();
			if (r > 0)
				rx_got(m, cap, r);
			else if ((v->rights & VCHAN_RIGHT_RECV) && !cfg.raw)
				rx_none(r, cap[0], m[0].len);
			break;
		case 10:
			r = vchan_reserve(v, a % 512, &p, 0);
			ok_call(v, "vchan_reserve", r, VCHAN_RIGHT_SEND, true,
				0, 0, E_RESERVE);
			tx_live(v, "vchan_reserve", r, peer_cons);
			if (r == 0) {
				unsigned errs = 0;

				memset(p, 0xa5, a % 512);
				if (op & 0x40) {
					/* This thread's own calls while it
					 * holds the reservation: refused, or
					 * done without ending the hold. */
					ok("vchan_send (reserved)",
					   vchan_send(v, 1, 0, scratch, 8, 0),
					   1, 0, E_INVAL);
					ok("vchan_flush (reserved)",
					   vchan_flush(v, 0), 1, 0, E_INVAL);
					r = vchan_events(v);
					if (r < 0 || r > 15)
						abort();
					m[0] = (struct vchan_msg){
						.buf = scratch, .len = 64 };
					r = vchan_recv(v, &m[0], 0);
					if (!(v->rights & VCHAN_RIGHT_RECV))
						;
					else if (r == 0)
						rx_got(m, NULL, 1);
					else
						rx_none(r, 64, m[0].len);
					if (!vchan_lock_held(&v->tx.mu))
						abort();
					errs = E_WAIT;   /* may have failed */
				}
				/* Held since the reserve's checks passed:
				 * nothing else to fail (no revoke). */
				r = vchan_commit(v, b, 0, (op & 0x80) ?
						 (size_t)-1 : a % 512);
				ok("vchan_commit", r, 0, 0,
				   (op & 0x80) ? 0 : errs);
				tx_live(v, "vchan_commit", r, peer_cons);
			}
			break;
		case 11:
			m[0] = (struct vchan_msg){ 0 };
			r = vchan_recv_inplace(v, &m[0], 0);
			ok_call(v, "vchan_recv_inplace", r, VCHAN_RIGHT_RECV,
				true, 0, 0, E_RECV_INPLACE);
			rx_live(v, "vchan_recv_inplace", r, peer_prod);
			if (r == 0) {
				rx_got(m, NULL, 1);
				if (op & 0x40) {
					/* A reply and an event loop's look
					 * while the message is held; this
					 * thread's own receives refused. */
					(void)vchan_send(v, 2, 0, scratch,
							 a % 64, 0);
					r = vchan_events(v);
					if (r < 0 || r > 15)
						abort();
					m[1] = (struct vchan_msg){
						.buf = scratch, .len = 64 };
					ok("vchan_recv (held)",
					   vchan_recv(v, &m[1], 0), 1, 0,
					   E_INVAL);
					if (!vchan_lock_held(&v->rx.mu))
						abort();
				}
				ok("vchan_release", vchan_release(v), 0, 0,
				   0);
			} else if ((v->rights & VCHAN_RIGHT_RECV) && !cfg.raw) {
				rx_none(r, 0, 0);
			}
			break;
		case 12:
			r = vchan_events(v);
			if (r < 0 || r > 15)
				abort();
			r = vchan_flush(v, 0);
			ok("vchan_flush", r, 0, 0, E_FLUSH);
			tx_live(v, "vchan_flush", r, peer_cons);
			break;
		case 13:
			if ((op & 0xf0) == 0xf0) {
				ok("vchan_revoke", vchan_revoke(v), 0, 0, 0);
				peer.revoked = true;
			}
			break;
		}
		/* This end never gives back more than was published. */
		if (!peer.hostile)
			CHECK(*peer_prod - *peer_prod_cons <= in_size);
	}
	vchan_close(v);
out_rings:
	if (!vchan_layout_inpage_offset(lo))
		free(lbuf);
	if (!vchan_layout_inpage_offset(ro))
		free(rbuf);
out_page:
	free(page);
	return 0;
}
