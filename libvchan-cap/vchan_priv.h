/* SPDX-License-Identifier: MIT */
/* libvchan-cap internals: shared by the files of the library and its tests. */
#ifndef VIPC_VCHAN_PRIV_H
#define VIPC_VCHAN_PRIV_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <xen/io/libxenvchan.h>

#include "vipc/vchan.h"
#include "copy_in.h"

/* ---- shared-memory access discipline ------------------------------------
 * Every load of a peer-writable location goes through VCHAN_READ_ONCE (one
 * access, the compiler cannot re-fetch it) and every store to the shared page
 * through VCHAN_WRITE_ONCE.  The fences say which order they enforce at each
 * use site. */
#define VCHAN_READ_ONCE(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define VCHAN_WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* Ring bytes (frame headers, payloads) are copied out with memcpy instead;
 * after a header's copy this tells the compiler the ring may have changed,
 * so it uses the copy and never loads a field from the ring again. */
#define vchan_copied_out() __asm__ __volatile__("" ::: "memory")
/* Orders earlier loads before later loads and stores. */
#define vchan_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
/* Orders earlier loads and stores before later stores. */
#define vchan_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
/* Full barrier: also orders earlier stores before later loads. */
#define vchan_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
/* Statistics written only by the holder of the tx or rx lock: a relaxed
 * load and store (no locked add on the hot path); readers of
 * vchan_get_stats() still see whole values. */
#define VCHAN_COUNT(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), \
			 __ATOMIC_RELAXED)

/* The wake-up handshake of a relaxed channel (LINES layout: both ends are
 * this library).  libxenvchan's publisher puts a full barrier between its
 * index store and its load of the peer's request byte, so that a peer that
 * asks to be woken either is seen asking or sees the new index.  That
 * barrier waits for every store before it (the whole message) to reach the
 * cache: most of a small send's time.  A relaxed publisher leaves it out,
 * so its load may pass its index store, and the waiter covers the gap: its
 * request is a locked (at once visible) store, and having found nothing
 * it looks again after the grace time even if no event came.  A store
 * leaves a core's store buffer within microseconds (coherence requests are
 * served fairly; a vCPU leaving its CPU drains it), so the look finds any
 * index the publisher stored before it loaded the request byte; any later
 * publisher load sees the request.  A race costs one wait of the grace
 * time, never a lost message. */
#define VCHAN_GRACE_NS 100000u
/* A sleeping call also looks again this often with no event: Linux's gntdev
 * clears a dead peer's live byte when its mapping goes, but sends the event
 * only when the last holder of the device lets go (a forked child of the
 * peer that kept it, say); without the look, a call with no timeout would
 * sleep on.  An event loop gets the same look: vchan_events() arms the
 * end's timer this far ahead (vchan_recheck_arm), so vchan_fd() turns
 * readable and the loop's next vchan_events() looks. */
#define VCHAN_RECHECK_NS 1000000000ull

#define VCHAN_PAGE_SIZE 4096u
#define VCHAN_PAGE_SHIFT 12

/* ---- layout (layout.c) --------------------------------------------------- */
/* Byte offset of an in-page ring of this order, 0 if it needs granted pages. */
unsigned vchan_layout_inpage_offset(unsigned order);
/* Number of extra granted pages for a ring of this order (0 if in page). */
unsigned vchan_layout_pages(unsigned order);
/* Server: pick the orders and check they can share one control page (and,
 * for VCHAN_LAYOUT_LINES, leave its last quarter free).
 * *left_order / *right_order in: requested (0 = default); out: final. */
int vchan_layout_choose(unsigned *left_order, unsigned *right_order,
			int layout);
/* Server: initialise a zeroed control page (orders, live, notify bits; the
 * LINES mark and slots when asked). */
void vchan_layout_server_init(struct vchan_interface *page,
			      unsigned left_order, unsigned right_order,
			      int layout);
/* Client: read the orders and the LINES mark once from the (peer-written)
 * page and check them.  -EPROTO with a log line when impossible. */
int vchan_layout_client_read(const struct vchan_interface *page,
			     const char *who, unsigned *left_order,
			     unsigned *right_order, int *layout);
/* Where the indices and notify bytes of a page are, per layout. */
struct vchan_slots {
	uint32_t *left_prod, *left_cons;    /* left: client -> server  */
	uint32_t *right_prod, *right_cons;  /* right: server -> client */
	uint8_t *srv_notify, *cli_notify;   /* requests to the server / client */
};
void vchan_layout_slots(struct vchan_interface *page, int layout,
			struct vchan_slots *s);

/* ---- rings (ring.c) -------------------------------------------------------
 * One direction of the channel as this end sees it.  idx is this end's own
 * index (prod for the ring we write, cons for the ring we read): the local
 * copy is the truth, the shared copy is only ever written.  peer is the last
 * validated value of the peer's index. */
struct vchan_ring {
	uint32_t *mine;            /* our index in the shared page (we write) */
	uint32_t *theirs;          /* peer's index in the shared page          */
	uint8_t *buf;              /* ring bytes                              */
	uint32_t size;             /* local copy of 1 << order                */
	uint32_t mask;
	uint32_t quarter;          /* publish in pieces of at most this       */
	uint32_t settle;           /* receive: consumption left unpublished
				    * after a call stays below this          */
	uint32_t idx;              /* our index                               */
	uint32_t peer;             /* last validated peer index               */
	uint32_t published;        /* last idx stored to the shared page      */
	bool owed;                 /* published without notifying (a batch's
				    * quarter-ring pieces): the next notifying
				    * publication tells the peer even when it
				    * has nothing new to store               */
	bool lazy;                 /* outbound: load the peer's cons only when
				    * the known room is short (LINES layout:
				    * it sits on a line of its own)          */
	const char *who;           /* for log lines                           */
	const char *dir;           /* "inbound" / "outbound"                  */
};

/* Starts from the indices found in the page (zero on a fresh server page,
 * maybe not for a client); -EPROTO if they are already impossible. */
int vchan_ring_init(struct vchan_ring *r, uint32_t *prod, uint32_t *cons,
		    void *buf, unsigned order, bool tx, const char *who);
/* Inbound: bytes ready to read, after validating the peer's prod.  */
int vchan_ring_ready(struct vchan_ring *r, uint32_t *ready);
/* Outbound: bytes free to write, after validating the peer's cons. */
int vchan_ring_space(struct vchan_ring *r, uint32_t *space);
/* What the last validated peer index already tells (no load of the shared
 * page): bytes ready inbound, bytes free outbound.  The peer's index only
 * moves forward, so the truth is at least this much; the barrier of the
 * check that validated it already ordered the ring accesses these allow. */
static inline uint32_t vchan_ring_ready_known(const struct vchan_ring *r)
{
	return r->peer - r->idx;
}
static inline uint32_t vchan_ring_space_known(const struct vchan_ring *r)
{
	return r->size - (r->idx - r->peer);
}
/* Like vchan_ring_ready/space, but looks at the peer's index only when
 * what is known is less than `want` (one shared cache line less per
 * message while the peer is ahead). */
static inline int vchan_ring_ready_atleast(struct vchan_ring *r,
					   uint32_t want, uint32_t *ready)
{
	uint32_t k = vchan_ring_ready_known(r);

	if (k >= want) {
		*ready = k;
		return 0;
	}
	return vchan_ring_ready(r, ready);
}
static inline int vchan_ring_space_atleast(struct vchan_ring *r,
					   uint32_t want, uint32_t *space)
{
	uint32_t k = vchan_ring_space_known(r);

	if (k >= want) {
		*space = k;
		return 0;
	}
	return vchan_ring_space(r, space);
}
/* Copy n bytes at our index and advance it (caller checked ready/space,
 * n <= size); nothing is published. */
void vchan_ring_read(struct vchan_ring *r, void *dst, size_t n);
void vchan_ring_write(struct vchan_ring *r, const void *src, size_t n);

void vchan_ring_zero(struct vchan_ring *r, size_t n);
/* Copy n bytes at our index + skip without advancing. */
void vchan_ring_peek(const struct vchan_ring *r, uint32_t skip, void *dst,
		     size_t n);
/* Advance our index by n (read: consume; write: produce). */
static inline void vchan_ring_advance(struct vchan_ring *r, uint32_t n)
{
	r->idx += n;
}
/* Contiguous bytes from our index to the end of the ring. */
static inline uint32_t vchan_ring_tail(const struct vchan_ring *r)
{
	return r->size - (r->idx & r->mask);
}
static inline uint8_t *vchan_ring_at(const struct vchan_ring *r, uint32_t skip)
{
	return r->buf + ((r->idx + skip) & r->mask);
}
/* Store idx to the shared page (release fence first).  Returns true when
 * something new was published. */
bool vchan_ring_publish(struct vchan_ring *r);
/* Unpublished bytes have reached a quarter ring. */
static inline bool vchan_ring_publish_due(const struct vchan_ring *r)
{
	return (uint32_t)(r->idx - r->published) >= r->quarter;
}

/* ---- framing (frame.c) ---------------------------------------------------- */
struct vchan_frame_hdr {
	uint32_t len;      /* payload bytes (not counting header and padding) */
	uint32_t type;
	uint32_t flags;    /* low 16: application; high 16: framing          */
	uint32_t seq;
};
_Static_assert(sizeof(struct vchan_frame_hdr) == VCHAN_FRAME_HDR, "header");
/* Framing flag: skip to the end of the ring (padding before a reserve). */
#define VCHAN_FRAME_PAD 0x80000000u
/* Framing flag: a run, several messages of one type, flags and length
 * under one header (vchan_sendv()).  The header's len, type and flags are
 * each message's, its seq the first one's; a run word follows, then the
 * payloads, each padded to 16 bytes.  A run never wraps and takes at most
 * a quarter ring; its messages are 1 to VCHAN_RUN_LEN_MAX bytes long. */
#define VCHAN_FRAME_RUN 0x40000000u
#define VCHAN_FRAME_KNOWN (VCHAN_FRAME_PAD | VCHAN_FRAME_RUN)
struct vchan_run_word {
	uint32_t count;    /* messages in the run, at least VCHAN_RUN_MIN     */
	uint32_t zero[3];  /* 0 (reserved)                                     */
};
_Static_assert(sizeof(struct vchan_run_word) == VCHAN_FRAME_HDR, "run word");
#define VCHAN_RUN_MIN 2u
#define VCHAN_RUN_HDR (2 * VCHAN_FRAME_HDR)   /* header and run word */

static inline size_t vchan_frame_pad(size_t len)
{
	return (len + (VCHAN_FRAME_HDR - 1)) & ~(size_t)(VCHAN_FRAME_HDR - 1);
}
static inline size_t vchan_frame_size(size_t len)
{
	return VCHAN_FRAME_HDR + vchan_frame_pad(len);
}
/* Frames of payloads this large are padded further, to end where the next
 * header fills the last 16 bytes of a cache line: in a stream of large
 * messages every payload then starts on a line (copied line by line, with
 * no line holding the end of one message and the start of the next).
 * Smaller frames keep 16-byte steps: a 64-byte message is not stretched
 * over two whole lines. */
#define VCHAN_FRAME_ALIGN_MIN 256u
#define VCHAN_LINE 64u
/* Bytes a frame of payload len takes when its header is at ring index pos
 * (both ends know pos: the sender's prod, the receiver's cons). */
static inline size_t vchan_frame_span(size_t len, uint32_t pos)
{
	size_t n = vchan_frame_size(len);

	if (len >= VCHAN_FRAME_ALIGN_MIN)
		n += (uint32_t)(VCHAN_LINE - VCHAN_FRAME_HDR - pos - (uint32_t)n) &
		     (VCHAN_LINE - 1);
	return n;
}
/* The most a frame of payload len can take, wherever it starts. */
static inline size_t vchan_frame_span_max(size_t len)
{
	return vchan_frame_size(len) +
	       (len >= VCHAN_FRAME_ALIGN_MIN ? VCHAN_LINE - VCHAN_FRAME_HDR : 0);
}
/* On rings of up to VCHAN_PAD_WRAP_MAX bytes, a whole frame (one that fits
 * a quarter ring) that would run past the ring's end goes after a padding
 * frame instead: whole frames do not wrap, and a stream of one message size
 * puts its frames at the same ring offsets on every lap.  Offsets that
 * drift from lap to lap cost a quarter of the throughput through a ring
 * both ends keep in their caches (4 KiB messages, 64 KiB ring: 31 against
 * 41 GB/s; a bare ring shows the same), while on a 1 MiB ring the padding
 * lost 5-9% (doc/vchan-layout.md).  The padding runs to the ring's end and,
 * before a large payload, VCHAN_PAD_PAST bytes on into the first line, so
 * that the payload starts on the ring's second line like every other large
 * payload.  A reserve pads the same way on any ring: its payload must be
 * contiguous.  Returns the padding frame's size (header included) for a
 * payload of len bytes with tail bytes left before the ring's end. */
#define VCHAN_PAD_WRAP_MAX (256u << 10)
#define VCHAN_PAD_PAST (VCHAN_LINE - VCHAN_FRAME_HDR)
static inline uint32_t vchan_wrap_pad(size_t len, uint32_t tail)
{
	return tail + (len >= VCHAN_FRAME_ALIGN_MIN ? VCHAN_PAD_PAST : 0);
}
/* Whether sends on this (outbound) ring pad instead of wrapping. */
static inline bool vchan_ring_pads(const struct vchan_ring *r)
{
	return r->size <= VCHAN_PAD_WRAP_MAX;
}
/* Check a header copied out of the ring.  pos = ring offset of the header,
 * expect_seq = next sequence number.  -EPROTO with a log line. */
int vchan_frame_check(const struct vchan_frame_hdr *h, uint32_t pos,
		      uint32_t ring_size, size_t max_msg, uint32_t expect_seq,
		      const char *who);
/* Messages of up to this length go in runs (below the large-payload
 * alignment, so a run's payloads keep 16-byte steps). */
#define VCHAN_RUN_LEN_MAX (VCHAN_FRAME_ALIGN_MIN - 1)
/* Check a run's header (already through vchan_frame_check()) and its run
 * word, both copied out of the ring, at ring offset pos.  The run must fit
 * before the ring's end and in a quarter ring.  -EPROTO with a log line. */
int vchan_run_check(const struct vchan_frame_hdr *h,
		    const struct vchan_run_word *w, uint32_t pos,
		    uint32_t ring_size, const char *who);
/* Count messages (whole or begun) between cons and prod, for revoke; the
 * first skip bytes are taken already (vchan_rx_taken()), run_left messages
 * of a run among them. */
uint64_t vchan_frame_count(const struct vchan_ring *r, uint32_t ready,
			   uint32_t run_left, uint64_t skip);

/* ---- spinning and yielding (spin.c) --------------------------------------- */
/* One adaptive phase: hits raise the score, misses lower it; a low score
 * switches the phase off for `skip` waits (doubling each time). */
struct vchan_adapt {
	int score;
	unsigned skip;         /* waits left without this phase              */
	unsigned backoff;      /* next skip length                           */
	uint64_t hits, misses;
};
struct vchan_spin {
	long budget_ns;        /* busy phase, 0: off                         */
	long yield_ns;         /* yield phase, 0: off                        */
	bool adaptive;
	struct vchan_adapt busy, yield;
};
void vchan_spin_init(struct vchan_spin *s, long budget_ns, bool adaptive);
/* Budget for this wait's busy phase in ns, 0 for none. */
long vchan_spin_budget(struct vchan_spin *s);
void vchan_spin_result(struct vchan_spin *s, bool hit);
/* Budget for this wait's yield phase in ns, 0 for none. */
long vchan_yield_budget(struct vchan_spin *s);
void vchan_yield_result(struct vchan_spin *s, bool hit);
bool vchan_spin_enabled(const struct vchan_spin *s);
uint64_t vchan_now_ns(void);
static inline void vchan_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

/* ---- transport ------------------------------------------------------------ */
struct vchan_transport_ops {
	/* Kick the peer's event channel. */
	int (*notify)(void *tp);
	/* The fd that becomes readable on an event from the peer. */
	int (*fd)(void *tp);
	/* Consume pending events (only called after fd polled readable or from
	 * vchan_events); must not block. */
	int (*ack)(void *tp);
	/* Release grants, mappings, port.  detach: leave the shared page alone
	 * (another process still uses this end's copy). */
	void (*release)(void *tp, bool detach);
	/* Optional (NULL: the transport cannot tell; then only the peer's
	 * live byte, i.e. unmap-notify, says it is gone).  peer_fd: an fd
	 * (or -1) that polls readable when the peer's domain may have gone.
	 * peer_check: consume what made it readable and, if anything did (or
	 * once after the peer connected, connected == true), find out; 1 when
	 * the peer's domain is gone, else 0.  Never waits for the peer (it may
	 * ask the store, off the data path). */
	int (*peer_fd)(void *tp);
	int (*peer_check)(void *tp, bool connected);
};

/* ---- the send and receive locks (lock.c) --------------------------------- */
/* A lock biased to the first thread that takes it: that thread enters and
 * leaves with plain stores; another thread's first lock revokes the bias for
 * good (membarrier), and from then on everyone queues for it, with no
 * waiter starving.  See lock.c. */
struct vchan_lock {
	/* The queue everyone takes, once the bias is revoked: a mutex that
	 * lets no waiter starve (lock.c). */
	pthread_mutex_t mu;
	int starving;             /* atomic: waiters that waited too long;
				   * newcomers stand back (futex word)      */
	const void *owner;        /* atomic: the owner's &vchan_lock_token    */
	int busy;                 /* the owner is inside (only it writes;
				   * futex word for a revoker)             */
	int revoked;              /* atomic: the bias is gone for good       */
	const void *holder;       /* atomic: the holder's &vchan_lock_token,
				   * written only by the holder: a thread
				   * finds its own token only if it holds */
	int asleep;               /* atomic: the holder sleeps in
				   * vchan_wait() (only it writes): a
				   * waiter with timeout 0 gives up      */
};
extern __thread char vchan_lock_token __attribute__((tls_model("initial-exec")));
void vchan_lock_init(struct vchan_lock *l);
void vchan_lock_destroy(struct vchan_lock *l);
void vchan_lock_slow(struct vchan_lock *l);
/* The way in for a call with a deadline (*dlp, vchan_deadline(); a lazy
 * one is resolved in place when the wait needs the clock): 0 in; -EAGAIN
 * (deadline 0) when the holder sleeps for the ring; -ETIMEDOUT at the
 * deadline.  See lock.c. */
int vchan_lock_slow_until(struct vchan_lock *l, uint64_t *dlp);
bool vchan_trylock_slow(struct vchan_lock *l);
/* The owner leaves (busy 0, then wakes a revoker). */
void vchan_lock_leave(struct vchan_lock *l);
/* The queue (lock.c). */
void vchan_queue_lock(struct vchan_lock *l);
bool vchan_queue_trylock(struct vchan_lock *l);
void vchan_queue_unlock(struct vchan_lock *l);

/* The owner's way in; false when the bias is revoked (it backed out). */
static inline bool vchan_lock_enter_biased(struct vchan_lock *l)
{
	/* Revoked for good (it never comes back): straight to the queue,
	 * without the store and the wake-up of backing out. */
	if (__atomic_load_n(&l->revoked, __ATOMIC_RELAXED))
		return false;
	__atomic_store_n(&l->busy, 1, __ATOMIC_RELAXED);
	/* No barrier between this store and the load: a revoker's
	 * membarrier stands in for it (lock.c). */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&l->revoked, __ATOMIC_ACQUIRE))
		return true;
	vchan_lock_leave(l);
	return false;
}
static inline bool vchan_lock_mine(const struct vchan_lock *l)
{
	return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) ==
	       &vchan_lock_token;
}
/* Whether the calling thread holds l (an in-place receive or a reservation
 * keeps a lock across calls; the biased path would let its holder in
 * again, the queue would deadlock it). */
static inline bool vchan_lock_held(const struct vchan_lock *l)
{
	return __atomic_load_n(&l->holder, __ATOMIC_RELAXED) ==
	       &vchan_lock_token;
}
static inline void vchan_lock(struct vchan_lock *l)
{
	if (!vchan_lock_mine(l) || !vchan_lock_enter_biased(l))
		vchan_lock_slow(l);
	__atomic_store_n(&l->holder, &vchan_lock_token, __ATOMIC_RELAXED);
}
/* A public call's way in, waiting no longer than the call's deadline
 * (vchan_lock_slow_until()), for a caller that found l not held by this
 * thread already (recv_allowed(), send_allowed()): no second look. */
static inline int vchan_lock_take(struct vchan_lock *l, uint64_t *dlp)
{
	if (!vchan_lock_mine(l) || !vchan_lock_enter_biased(l)) {
		int r = vchan_lock_slow_until(l, dlp);

		if (r < 0)
			return r;
	}
	__atomic_store_n(&l->holder, &vchan_lock_token, __ATOMIC_RELAXED);
	return 0;
}
/* The same with that look: -EINVAL when this thread holds l already. */
static inline int vchan_lock_enter(struct vchan_lock *l, uint64_t *dlp)
{
	return vchan_lock_held(l) ? -EINVAL : vchan_lock_take(l, dlp);
}
/* The holder goes to sleep for the ring (true) or wakes (vchan_wait()). */
static inline void vchan_lock_asleep(struct vchan_lock *l, bool asleep)
{
	__atomic_store_n(&l->asleep, asleep, __ATOMIC_RELEASE);
}
static inline bool vchan_trylock(struct vchan_lock *l)
{
	if (vchan_lock_held(l))
		return false;
	if ((!vchan_lock_mine(l) || !vchan_lock_enter_biased(l)) &&
	    !vchan_trylock_slow(l))
		return false;
	__atomic_store_n(&l->holder, &vchan_lock_token, __ATOMIC_RELAXED);
	return true;
}
static inline void vchan_unlock(struct vchan_lock *l)
{
	__atomic_store_n(&l->holder, NULL, __ATOMIC_RELAXED);
	/* busy is written only by the owner: set means we entered biased. */
	if (vchan_lock_mine(l) &&
	    __atomic_load_n(&l->busy, __ATOMIC_RELAXED))
		vchan_lock_leave(l);
	else
		vchan_queue_unlock(l);
}

/* ---- the endpoint (endpoint.c) ------------------------------------------- */
struct vchan_tx {
	struct vchan_lock mu;
	struct vchan_ring ring;
	uint32_t next_seq;
	/* message being written (backlog when owned) */
	bool busy;
	bool owned;
	struct vchan_frame_hdr hdr;
	const uint8_t *src;
	size_t off;              /* frame bytes written so far               */
	size_t frame;            /* frame size                               */
	/* Room for the backlog, taken before a message's first byte when
	 * the call may end before its last (no memory is said before any
	 * byte goes); kept for the next one. */
	uint8_t *spare;
	size_t spare_cap;
	bool reserved;           /* between vchan_reserve and vchan_commit   */
	size_t reserve_len;
	uint32_t reserve_pad;    /* bytes of padding frame before the payload */
};

struct vchan_rx {
	struct vchan_lock mu;
	struct vchan_ring ring;
	uint32_t next_seq;
	bool active;             /* header taken, payload in progress        */
	bool from_run;           /* that message is a run's: its payload was
				  * known there when the run was taken      */
	struct vchan_frame_hdr hdr;
	uint32_t hdr_pos;        /* ring index of that header (its padding
				  * depends on where it is)                 */
	size_t got;              /* payload bytes taken                      */
	uint8_t *stash;          /* payload taken before an interruption     */
	size_t stash_cap;
	uint8_t *bounce;         /* in-place receive of a wrapped message    */
	size_t bounce_cap;
	bool inplace;            /* between recv_inplace and release         */
	uint32_t inplace_frame;  /* bytes to consume on release (0: done)    */
	/* run being received: its header (checked) and what is left of it,
	 * payloads of run.len bytes every run_stride bytes from our index */
	uint32_t run_left;
	uint32_t run_stride;
	struct vchan_frame_hdr run;
	/* The peer left (peer_left.c): ring.theirs points at cap, the
	 * inbound prod this end reads up to, from then on. */
	bool capped;
	uint32_t cap;
};

struct vchan {
	char name[48];
	bool is_server;
	unsigned rights;
	bool raw;
	int layout;                    /* VCHAN_LAYOUT_*                      */
	size_t max_msg;
	struct vchan_interface *page;  /* shared control page                */
	uint8_t *my_live, *peer_live;  /* in the page                        */
	uint8_t *my_notify;            /* peer's requests to us: we check    */
	uint8_t *peer_notify;          /* our requests to the peer           */
	struct vchan_tx tx;
	struct vchan_rx rx;
	struct vchan_spin spin;        /* owned by whoever set `spinning`    */
	int spinning;                  /* atomic: a thread spins (the other
					* direction's waiter sleeps at once) */
	/* sleeping: one poller at a time, the others wait on the condvar */
	pthread_mutex_t wait_mu;
	pthread_cond_t wait_cv;
	bool poller;
	uint64_t ev_gen;
	int rx_unpub;                  /* a receive left consumption
					* unpublished (atomic hint for the
					* sender: saves it the rx trylock)   */
	int kick_fd;                   /* eventfd: revoke wakes every waiter */
	int timer_fd;                  /* the sleeper's deadline (wait.c)    */
	uint64_t timer_at;             /* when it fires, 0: not armed; under
					* wait_mu (any thread may arm it
					* earlier, only the poller or, with
					* none, vchan_events() consumes it)  */
	int epoll_fd;                  /* the sleeper's set: transport, kick,
					* timer and peer watch fds           */
	int loop_fd;                   /* vchan_fd()'s set, made at its first
					* call: epoll_fd and relay_fd (-1
					* until then; atomic)                */
	int relay_fd;                  /* eventfd: a sleeper that consumed an
					* event passes it on to the event
					* loop (wait.c); with loop_fd        */
	int relayed;                   /* relay_fd may hold a count (atomic;
					* set after the write)               */
	uint64_t grace_ns;             /* VCHAN_GRACE_NS (tests lengthen it)  */
	uint64_t grace_at[2];          /* when the grace time of our request
					* for bit 1 / bit 2 ends (atomic;
					* wait.c)                            */
	int grace_armed;               /* the timer may hold a grace time
					* (atomic hint)                      */
	/* state: on one cache line (every call loads some of it: peer_left
	 * next to revoked and err costs a receive no line more) */
	uint64_t peer_left;            /* its live byte was seen 0 (atomic):
					* a later 1 is not the same peer;
					* VCHAN_LEFT_* (peer_left.c)         */
	int revoked;                   /* atomic                              */
	int err;                       /* latched -EPROTO/-EPIPE (atomic)     */
	int peer_gone;                 /* peer's domain gone (atomic): like a
					* cleared live byte                  */
	uint64_t recheck_at;           /* when the timer vchan_events()
					* armed for the next look fires (0:
					* none); under wait_mu              */
	uint32_t *in_prod;             /* the inbound prod in the page: the
					* latch's load (rx.ring.theirs is
					* the rx side's to swap)             */
	int peer_confirmed;            /* the transport's one-off check after
					* the peer connected ran (atomic)    */
	bool released;                 /* transport released (revoke): set
					* under the tx, rx and wait_mu locks,
					* so any of them makes it stable;
					* vchan_fd() loads it atomically     */
	/* transport */
	const struct vchan_transport_ops *ops;
	void *tp;
	/* fork.c: an end bound to the process that made it (over Xen) */
	bool fork_bound;
	bool fork_logged;              /* the child's -EBADF was logged      */
	unsigned fork_gen;             /* vchan_fork_generation then         */
	pid_t owner;                   /* getpid() then                      */
	/* counters (atomics) */
	uint64_t msgs_sent, msgs_recv, bytes_sent, bytes_recv, discarded;
	uint64_t notifies, sleeps, grace_hits;
} __attribute__((aligned(64)));

/* LINES: both ends are this library, so the relaxed wake-up handshake
 * (no full barrier after index stores; see VCHAN_GRACE_NS). */
static inline bool vchan_relaxed(const struct vchan *v)
{
	return v->layout == VCHAN_LAYOUT_LINES;
}

/* ---- fork (fork.c) --------------------------------------------------------- */
/* Bumped in every child of fork() (a pthread_atfork() handler).  Hidden:
 * every call loads it, and a hidden symbol is one PC-relative load, not a
 * trip through the GOT (nor something an application could write). */
extern unsigned vchan_fork_generation __attribute__((visibility("hidden")));
/* Bind v to this process: from a child, calls get -EBADF. */
void vchan_fork_track(struct vchan *v);
/* A channel's device descriptors, which a child of fork() must not keep
 * (-1: none); listed from vchan_fork_hold() to vchan_fork_unhold(), which
 * must come before they are closed (a child would dup over a reused fd). */
#define VCHAN_FORK_FDS 2
struct vchan_fork_hold {
	struct vchan_fork_hold *prev, *next;
	int fd[VCHAN_FORK_FDS];
	bool listed;
};
void vchan_fork_hold(struct vchan_fork_hold *h);
void vchan_fork_unhold(struct vchan_fork_hold *h);
/* Hold fork() off (its prepare handler waits) while the caller makes what
 * a child must not copy and keeps it from children; unblock lists h then,
 * unless it is NULL or listed already.  Nothing between may take a
 * fork-guarded mutex, fork(), or call a library that takes a lock of its
 * own in a fork() handler (hyp's gntalloc open does, gntdev's map on
 * xensim too): the prepare handlers run in an order of their own. */
void vchan_fork_block(void);
void vchan_fork_unblock(struct vchan_fork_hold *h);
/* Hold mu across fork() (a leaf: nothing else is taken under it), so that
 * a child's copy is not left locked by a thread the child lacks.  Once per
 * mutex, before its first use; a few at most.  Lock it with
 * vchan_guard_lock(), which checks that it is a leaf. */
void vchan_fork_guard(pthread_mutex_t *mu);

/* ---- the fork guards' lock order (lock_order.c) ---------------------------- */
/* Where a thread holding a fork-guarded mutex must not be. */
enum vchan_guard_place {
	VCHAN_GUARD_AT_LOCK,     /* taking another guarded mutex */
	VCHAN_GUARD_AT_HOLDS,    /* taking fork.c's holds_mu */
	VCHAN_GUARD_AT_FORK,     /* in fork()'s prepare handler */
	VCHAN_GUARD_PLACES
};
/* Logs (and with VCHAN_LOCK_CHECK=abort, aborts) if the calling thread
 * holds a guarded mutex. */
void vchan_guard_check(enum vchan_guard_place where);
/* Lock and unlock a mutex given to vchan_fork_guard(), counted per thread
 * for the check. */
void vchan_guard_lock(pthread_mutex_t *mu);
void vchan_guard_unlock(pthread_mutex_t *mu);
/* Whether v is a copy inherited through fork() (the data path's check). */
static inline bool vchan_inherited(const struct vchan *v)
{
	return v->fork_bound &&
	       __builtin_expect(__atomic_load_n(&vchan_fork_generation,
						__ATOMIC_RELAXED) != v->fork_gen,
				0);
}
/* -EBADF for a call on an inherited copy, logged once per channel. */
int vchan_fork_refuse(const struct vchan *v);
/* vchan_close(): inherited, or this is not the process that made it. */
bool vchan_fork_orphan(const struct vchan *v);

/* Create an endpoint over a mapped control page and rings; layout: the
 * server's from its config, the client's as vchan_layout_client_read()
 * found it. */
int vchan_endpoint_create(const struct vchan_config *cfg, bool is_server,
			  int layout, struct vchan_interface *page,
			  void *read_buf,
			  unsigned read_order, void *write_buf,
			  unsigned write_order,
			  const struct vchan_transport_ops *ops, void *tp,
			  struct vchan **out);
/* Free local resources only (fork detach / failed setup). */
void vchan_endpoint_free(struct vchan *v, bool detach);
/* Client: mark the page connected (cli_live 1, ask the server to tell us
 * when it writes), as libxenvchan's client does; the caller notifies. */
void vchan_client_connect(struct vchan *v);

/* Log a line "vchan <name>: ..." */
void vchan_log(const char *who, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For a condition logged once per process: true the first time *flag is
 * passed (a static int, 0 at first). */
static inline bool vchan_first_time(int *flag)
{
	return !__atomic_exchange_n(flag, 1, __ATOMIC_RELAXED);
}
/* Latch a fatal error (first one wins); returns it. */
int vchan_fail(struct vchan *v, int err);
/* The data path's buffers (alloc.c): *buf (of *cap bytes, NULL: none)
 * holds at least len bytes after it, its content kept; -ENOMEM, *buf as
 * it was, if it cannot.  After vchan_fail_alloc(n) the n-th growth from
 * now fails, for tests (0: none does). */
int vchan_room(uint8_t **buf, size_t *cap, size_t len);
void vchan_fail_alloc(unsigned n);
/* Current state: 0 usable, -EPIPE, -EPROTO. peer_ok: also check peer live. */
int vchan_state(struct vchan *v, bool check_peer);
/* The transport found the peer's domain gone: from now on the peer counts
 * as having cleared its live byte; every blocked call wakes.  Idempotent. */
void vchan_peer_gone(struct vchan *v);
/* Run the transport's peer check (see peer_check); the caller makes sure
 * the transport is not being released meanwhile. */
void vchan_peer_poll(struct vchan *v);

/* ---- the peer left (peer_left.c) -------------------------------------------
 * peer_left: 0 while the peer's live byte was never seen 0; then
 * VCHAN_LEFT, with VCHAN_LEFT_CAP and the inbound prod to read up to in
 * the low 32 bits when the latch could fix one (else the rx side's own
 * last prod is the bound). */
#define VCHAN_LEFT (1ull << 32)
#define VCHAN_LEFT_CAP (1ull << 33)
/* The peer's live byte was just seen 0: latch peer_left, with the bound.
 * Any thread; the caller keeps the page mapped (holds the tx lock, the rx
 * lock or wait_mu). */
void vchan_peer_left(struct vchan *v);
/* rx lock held: the ring reads the peer's prod no further than the bound
 * from now on.  -EPROTO (logged, latched) when the bound is behind what
 * this end has read or taken already. */
int vchan_rx_cap(struct vchan *v);
/* Where the rx side reads the peer's prod afresh (the entry points, a
 * wait's looks): one relaxed load while the peer has not left. */
static inline int vchan_rx_capped(struct vchan *v)
{
	if (__builtin_expect(__atomic_load_n(&v->peer_left, __ATOMIC_RELAXED)
			     != 0, 0) && !v->rx.capped)
		return vchan_rx_cap(v);
	return 0;
}

/* ---- waiting (wait.c) ----------------------------------------------------- */
#define VCHAN_WANT_READ 1   /* wait for bytes in the inbound ring   */
#define VCHAN_WANT_SPACE 2  /* wait for room in the outbound ring   */
/* Deadline from a timeout in ms (UINT64_MAX: forever, 0: none).  A finite
 * one starts out lazy (VCHAN_DL_LAZY | ms): the clock is read only when a
 * call actually has to wait long (vchan_wait() resolves it in place, once,
 * after spinning a while or before sleeping, or the wait for the lock
 * does, so every wait of the call shares it). */
#define VCHAN_DL_LAZY (1ull << 62)
uint64_t vchan_deadline(int timeout_ms);
/* A finite deadline still lazy becomes absolute (vchan_now_ns() clock, now
 * read by the caller); returns it. */
static inline uint64_t vchan_deadline_at(uint64_t *dlp, uint64_t now)
{
	if (*dlp != UINT64_MAX && (*dlp & VCHAN_DL_LAZY))
		*dlp = now + (*dlp & ~VCHAN_DL_LAZY) * 1000000u;
	return *dlp;
}
/* Wait until the ring has at least `need` bytes ready / free (0), or
 * -EAGAIN (deadline 0; the peer is asked to wake us), -ETIMEDOUT, -EPIPE,
 * -EPROTO. */
int vchan_wait(struct vchan *v, int want, uint32_t need, uint64_t *deadline);
/* Tell the peer when we have published (peer asked with its notify bit):
 * bits are the requests our publication answers (NOTIFY_WRITE: we wrote,
 * NOTIFY_READ: we consumed).  Full barrier first, except on a relaxed
 * channel (see VCHAN_GRACE_NS). */
int vchan_notify_peer(struct vchan *v, uint8_t bits);
/* Publish the inbound ring's unpublished consumption if the rx lock is
 * free (the caller may hold the tx lock); true if something went out.
 * The caller then notifies (NOTIFY_READ). */
bool vchan_rx_publish_try(struct vchan *v);
/* A receive ended: publish our consumption now only when it reached
 * ring.settle (a sixteenth of the ring); otherwise it goes with our next
 * index store (cons and prod share one cache line), before our next wait,
 * or in vchan_events().  A peer waiting for that room is woken then. */
int vchan_rx_settle(struct vchan *v);
/* Ask the peer to notify us on bit; full barrier after.  Returns the end
 * of the grace time (vchan_now_ns() clock) when the request is new on a
 * relaxed channel: a waiter that finds nothing must look again then even
 * if no event came.  0: no grace time. */
uint64_t vchan_request_notify(struct vchan *v, uint8_t bit);
/* The end's timer (a sleeper's deadline, a grace time) fired and nobody
 * consumed it: consume it, or vchan_fd() would stay readable.  Under
 * wait_mu, by the poller or, with none, by anyone.  true: it had fired
 * (what an event loop may be waiting for). */
bool vchan_timer_consume(struct vchan *v);
/* vchan_events(): take what sleepers passed on to the event loop (the
 * relay eventfd of vchan_fd()'s set), before looking at the rings. */
void vchan_relay_take(struct vchan *v);
/* A non-blocking call asked to be woken and found nothing: on a relaxed
 * channel, make vchan_fd() readable at the end of the grace time (and
 * consume the timer if it already fired). */
void vchan_grace_poll(struct vchan *v, uint64_t grace);
/* vchan_events() found the channel alive: make vchan_fd() readable within
 * VCHAN_RECHECK_NS even if no event comes, so that an event loop looks at
 * the peer's live byte again.  Under wait_mu; a sleeper polling then wakes
 * at that time and passes it on. */
void vchan_recheck_arm(struct vchan *v);
/* Consume pending events on the fd without blocking. */
void vchan_ack_events(struct vchan *v);

/* ---- internals shared between send.c / recv.c / stream.c ---------------- */
int vchan_tx_pump(struct vchan *v, bool defer_notify);
int vchan_tx_finish(struct vchan *v, bool notify);
int vchan_rx_finish(struct vchan *v, bool notify);
void vchan_rx_discard(struct vchan *v);
/* Bytes after the inbound index that belong to messages already taken:
 * the rest of one begun or held in place, and of a run (rx lock held). */
uint64_t vchan_rx_taken(const struct vchan *v);

#endif
