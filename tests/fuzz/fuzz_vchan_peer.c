/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a hostile peer.  The input is a script: it picks the
 * role of this end, the ring orders (hostile ones, and rings over 256 KiB,
 * included) and maybe the starting indices, then interleaves arbitrary
 * writes to the shared page and rings, well-formed frames, and calls of
 * this end (send, receive, batches, in place, events, flush, revoke; and
 * this thread's own calls while it holds an in-place message or a
 * reservation).  Every call must return a documented value, and a "not
 * now" must leave the peer something to act on (no silent stall: see
 * rx_live() and tx_live()); ASan/UBSan catch any access outside the page
 * and rings. */
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

/* r must be a success in [lo, hi] or one of errs. */
static void ok(const char *call, int r, int lo, int hi, unsigned errs)
{
	if (r >= 0 ? r >= lo && r <= hi : (err_bit(r) & errs) != 0)
		return;
	fprintf(stderr, "%s: unexpected return %d\n", call, r);
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
	unsigned lo, ro, mode;
	int layout;
	bool server;
	struct vchan *v = NULL;
	/* the peer's own view (what a well-behaved peer would do) */
	uint32_t peer_seq = 1;
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
	 * frame boundaries for its own). */
	if ((take(&in, 1) & 3) == 3) {
		struct vchan_slots st;
		uint32_t at;

		vchan_layout_slots(pg, layout, &st);
		at = take(&in, 4);
		*st.left_prod = at;
		*st.left_cons = at - take(&in, 2);
		at = take(&in, 4);
		*st.right_prod = at;
		*st.right_cons = at - take(&in, 2);
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

	while (in.n && steps++ < 400) {
		uint32_t op = take(&in, 1), a = take(&in, 2), b = take(&in, 4);
		struct vchan_msg m[4];
		uint32_t n;
		void *p;

		switch (op % 14) {
		case 0:  /* arbitrary 32-bit write to the control page */
			((uint32_t *)page)[a % 1024] = b;
			break;
		case 1:  /* arbitrary byte to the control page */
			page[a % 4096] = (uint8_t)b;
			break;
		case 2:  /* arbitrary bytes into our inbound ring */
			for (uint32_t i = 0; i < (b & 63) && in.n; i++)
				in_ring[(a + i) & (in_size - 1)] =
					(uint8_t)take(&in, 1);
			break;
		case 3: { /* a frame, published: well formed, padding, a run */
			struct vchan_frame_hdr h = {
				.len = a % 3000, .type = b, .flags = b & 0xffff,
				.seq = peer_seq,
			};
			uint32_t prod = *peer_prod;
			size_t fr = vchan_frame_span(h.len, prod);

			if (op & 0x80) {
				/* A padding frame's header alone: up to the
				 * ring's end or one line past it (maybe a
				 * lie: too long for where it sits) */
				uint32_t at = prod & (in_size - 1);

				h.flags = VCHAN_FRAME_PAD;
				h.len = (in_size - at - VCHAN_FRAME_HDR) +
					((op & 0x40) ? VCHAN_PAD_PAST : 0);
				if (VCHAN_FRAME_HDR > in_size -
				    (prod - *peer_prod_cons))
					break;
				for (size_t i = 0; i < VCHAN_FRAME_HDR; i++)
					in_ring[(prod + i) & (in_size - 1)] =
						((uint8_t *)&h)[i];
				*peer_prod = prod + VCHAN_FRAME_HDR;
				break;
			}

			if ((op & 0xc0) == 0x40) {
				/* A run (vchan_sendv()'s frame): up to a
				 * quarter ring and before the ring's end, or
				 * (op & 0x20) a lie from the input (any
				 * length to 511, any count to 255, a
				 * reserved word set, crossing the end);
				 * published whole, or (op & 0x10) all but its
				 * last payload. */
				struct vchan_run_word w = { 0 };
				uint32_t at = prod & (in_size - 1), stride, most;
				uint32_t span, pub;
				uint8_t hw[VCHAN_RUN_HDR];

				h.flags = (b & 0xffff) | VCHAN_FRAME_RUN;
				h.len = 1 + a % VCHAN_RUN_LEN_MAX;
				stride = (uint32_t)vchan_frame_pad(h.len);
				most = (in_size / 4 - VCHAN_RUN_HDR) / stride;
				if (most < VCHAN_RUN_MIN && !(op & 0x20))
					break;
				if (op & 0x20) {
					h.len = a & 0x1ff;
					stride = (uint32_t)vchan_frame_pad(h.len);
					w.count = b >> 24;
					w.zero[1] = (b >> 23) & 1;
				} else {
					w.count = VCHAN_RUN_MIN + (b >> 24) %
						  (most - VCHAN_RUN_MIN + 1);
				}
				span = VCHAN_RUN_HDR + w.count * stride;
				if (!(op & 0x20) && at + span > in_size)
					break;
				if (span > in_size - (prod - *peer_prod_cons))
					break;
				pub = (op & 0x10) && w.count ? span - stride
							     : span;
				memcpy(hw, &h, sizeof(h));
				memcpy(hw + VCHAN_FRAME_HDR, &w, sizeof(w));
				for (uint32_t i = 0; i < span; i++)
					in_ring[(prod + i) & (in_size - 1)] =
						i < VCHAN_RUN_HDR ? hw[i]
								  : (uint8_t)i;
				*peer_prod = prod + pub;
				peer_seq += w.count;
				break;
			}
			if (fr > in_size - (prod - *peer_prod_cons))
				break;
			for (size_t i = 0; i < fr; i++) {
				uint8_t c = i < 16 ? ((uint8_t *)&h)[i]
						   : (uint8_t)i;
				in_ring[(prod + i) & (in_size - 1)] = c;
			}
			*peer_prod = prod + (uint32_t)fr;
			peer_seq++;
			break;
		}
		case 4:  /* the peer moves its prod anywhere, or fills the
			  * ring to the brim with whatever is in it */
			if ((op & 0xc0) == 0x40)
				*peer_prod = *peer_prod_cons + in_size;
			else
				*peer_prod = (op & 0x80) ? b : *peer_prod + a;
			break;
		case 5:  /* the peer consumes (maybe too much) */
			*peer_cons = (op & 0x80) ? b
				     : *peer_cons + (a % 2048);
			break;
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
			r = vchan_recvv(v, m, 4, 0);
			ok_call(v, "vchan_recvv", r, VCHAN_RIGHT_RECV, true,
				1, 4, E_RECV);
			rx_live(v, "vchan_recvv", r, peer_prod);
			for (int i = 0; i < r; i++)
				if (m[i].len > 4096)
					abort();
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
					(void)vchan_recv(v, &m[0], 0);
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
				volatile uint8_t sum = 0;

				for (size_t i = 0; i < m[0].len; i++)
					sum += ((uint8_t *)m[0].buf)[i];
				(void)sum;
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
			if ((op & 0xf0) == 0xf0)
				ok("vchan_revoke", vchan_revoke(v), 0, 0, 0);
			break;
		}
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
