/* SPDX-License-Identifier: MIT */
/*
 * libvchan-cap: the vipc data channel.
 *
 * A channel joins exactly two domains.  The server end shares a control page
 * and ring pages with the client domain and offers it an unbound event
 * channel; the client maps and binds.  Shared page and ring layout are those
 * of xen/io/libxenvchan.h, so a stock libxenvchan peer interoperates at the
 * byte level (raw stream mode).  vipc's message framing rides on top.
 *
 * Every value the peer can write is read once, checked and clamped: a broken
 * or hostile peer makes this end fail with -EPROTO and one clear log line.
 *
 * All functions return 0 (or a count) on success and -errno on failure:
 *   -EPERM     this end lacks the right (send / receive)
 *   -EAGAIN    would block (non-blocking call, timeout_ms == 0): for the
 *              ring, or behind another thread's call asleep for it
 *   -ETIMEDOUT a blocking call ran out of time; nothing was sent/received
 *   -EMSGSIZE  message larger than the channel's maximum (send), or larger
 *              than the buffer given (receive: msg->len says what is needed,
 *              the message stays queued)
 *   -EPIPE     revoked, closed, or the peer is gone
 *   -EPROTO    the peer broke the protocol (channel is dead from then on)
 *   -EINVAL, -ENOMEM
 *
 * Threads: one thread may send while another receives; vchan_revoke() may be
 * called from any thread and wakes every blocked call.  vchan_close() must
 * be the last call on the handle.  Calls of one direction take turns: a
 * call first waits for the other threads' calls of that direction in
 * progress (a blocking one holds its turn while it waits for the ring),
 * and one that has waited 1 ms goes before the calls that come after it,
 * so none waits for ever behind a thread that keeps coming back.  A call's
 * timeout bounds that wait too (-ETIMEDOUT).  A non-blocking call waits
 * only while the call ahead of it runs, and gets -EAGAIN once that call
 * sleeps for the ring (whose wake-up also makes vchan_fd() readable).  An
 * event loop had still best not share a direction with threads that block
 * in it: vchan_events() leaves that direction out while they are in it,
 * and a message they leave may wait for its next look (up to a second).
 * A message held in place or a reservation holds its direction's turn
 * until vchan_release() / vchan_commit().  No call waits for the other
 * direction's calls, and vchan_events() waits for none (it leaves out a
 * direction another thread is in: neither IN nor OUT for it).  Each
 * direction is fastest driven by one thread: the first thread that sends
 * (receives) then takes that side's lock with plain stores; the first
 * call from another thread turns that lock into a mutex for good (at the
 * cost of one membarrier(2)).
 */
#ifndef VIPC_VCHAN_H
#define VIPC_VCHAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rights of one end, given by vipcd. */
#define VCHAN_RIGHT_SEND 0x1u
#define VCHAN_RIGHT_RECV 0x2u

/* Ring orders accepted (libxenvchan: 10..20, 1 KiB..1 MiB per direction). */
#define VCHAN_ORDER_MIN 10
#define VCHAN_ORDER_MAX 20

/* Size of the frame header on the wire; payloads are padded to this. */
#define VCHAN_FRAME_HDR 16u
/* Application flags a message may carry (the high half is the framing's). */
#define VCHAN_MSG_FLAGS_USER 0x0000ffffu
/* Default and hard limit of a channel's maximum message size. */
#define VCHAN_MAX_MSG_DEFAULT (1u << 20)
#define VCHAN_MAX_MSG_LIMIT (256u << 20)

/* Where the ring indices and notify bytes live in the control page (the
 * server's choice, struct vchan_config.layout; a client follows the page).
 *   XENVCHAN  xen/io/libxenvchan.h (struct vchan_interface): the indices
 *             in the page's first 16 bytes, the notify bytes at offsets 22
 *             and 23 (the live bytes at 20 and 21), so a stock libxenvchan
 *             peer can connect.  Every index store of one end takes that
 *             cache line from the other.
 *   LINES     vipc's own: the same page, but each index and each notify
 *             byte on a cache line of its own in the page's last quarter,
 *             marked there so that a libvchan-cap client finds it; the
 *             sender loads the receiver's index only when what it knows
 *             does not cover the message, and an index store is not
 *             followed by a full barrier: a waiter that has just asked to
 *             be woken looks again after a grace time (100 us) instead,
 *             so vchan_fd() may turn readable then with nothing to do.
 *             Both ends must be libvchan-cap (a stock libxenvchan client
 *             would wait forever); the in-page ring of order 11 (at offset
 *             2048) cannot be used with it. */
#define VCHAN_LAYOUT_XENVCHAN 0
#define VCHAN_LAYOUT_LINES 1

/* Timeouts: milliseconds, for the whole call (its wait for the ring and
 * its turn behind other threads' calls: see Threads above); 0 = do not
 * wait (for the ring, nor for a call ahead asleep for it); VCHAN_FOREVER =
 * no limit. */
#define VCHAN_FOREVER (-1)

struct vchan;

struct vchan_config {
	unsigned rights;        /* VCHAN_RIGHT_*                               */
	size_t max_msg;         /* 0: VCHAN_MAX_MSG_DEFAULT.  Also what this
				 * end accepts: a larger incoming message
				 * fails the channel (-EPROTO), so the
				 * receiver's must be >= the sender's       */
	unsigned read_order;    /* server: ring it reads (left); 0: 16         */
	unsigned write_order;   /* server: ring it writes (right); 0: 16       */
	int raw;                /* 1: raw byte stream (libxenvchan stream)     */
	long spin_ns;           /* spin before sleeping; <0: default, 0: off  */
	int spin_adaptive;      /* switch spinning off when it cannot help,
				 * and give the CPU away (sched_yield) for
				 * up to spin_ns when that helps (peer on
				 * our CPU); 0: a fixed spin only            */
	const char *name;       /* for log lines; copied                       */
	int layout;             /* server: VCHAN_LAYOUT_*; a client ignores it
				 * and uses what the server's page says      */
};

/* Fill *cfg with defaults: rights SEND|RECV, framed, adaptive spin. */
void vchan_config_init(struct vchan_config *cfg);

/* One message.  Send: buf/len are the payload.  Receive: buf/len are the
 * destination and its capacity; on return len is the payload length. */
struct vchan_msg {
	uint32_t type;          /* application type id                        */
	uint32_t flags;         /* application flags (VCHAN_MSG_FLAGS_USER)    */
	uint32_t seq;           /* sequence number (set by send and receive)   */
	void *buf;
	size_t len;
};

/* --- messages ---------------------------------------------------------- */

/* Send one message.  Returns 0 once the message is committed: entirely in
 * the ring, or (for a message larger than the free space) streaming out of
 * the channel's send backlog, which later calls and vchan_flush() drain.
 * On -EAGAIN/-ETIMEDOUT nothing of it was sent. */
int vchan_send(struct vchan *v, uint32_t type, uint32_t flags,
	       const void *buf, size_t len, int timeout_ms);
/* Receive one whole message (see struct vchan_msg).  The room it frees is
 * handed back to the sender at once when it reaches a sixteenth of the
 * ring; smaller amounts go with this end's next send, wait, non-blocking
 * receive that finds nothing, or vchan_events() (one store to the shared
 * page per several messages instead of one per message). */
int vchan_recv(struct vchan *v, struct vchan_msg *msg, int timeout_ms);

/* Batches: as many messages as fit now (waiting only for the first);
 * one index publication and at most one notification.  Returns the count.
 * Messages in a row with the same type, flags and length (1 to 255
 * bytes) travel as one run: one header for the lot, each message still
 * with its own sequence number and received one by one as usual.  A
 * first message over the maximum gets -EMSGSIZE, as from vchan_send()
 * (before any -EAGAIN); a later one ends the batch before it. */
int vchan_sendv(struct vchan *v, struct vchan_msg *msgs, size_t n,
		int timeout_ms);
int vchan_recvv(struct vchan *v, struct vchan_msg *msgs, size_t n,
		int timeout_ms);

/* In place.  vchan_reserve() gives a pointer into the ring for a payload of
 * up to len bytes (len at most a quarter ring minus the header); the calling
 * thread must then call vchan_commit() (or vchan_commit() with
 * len == (size_t)-1 to cancel).  The handle's send side stays locked in
 * between: other threads' sends wait, and this thread's own sends,
 * flushes and reserves get -EINVAL until it commits.  The area is shared
 * with the peer, which can read and write it: write the payload there, do
 * not read it back (a checksum or a read-modify-write would see what the
 * peer put there). */
int vchan_reserve(struct vchan *v, size_t len, void **payload,
		  int timeout_ms);
int vchan_commit(struct vchan *v, uint32_t type, uint32_t flags, size_t len);
/* vchan_recv_inplace(): msg->buf points at the payload (inside the ring, or
 * a private bounce buffer when it wraps: from a libvchan-cap sender, on a
 * ring of up to 256 KiB, only a message larger than a quarter ring does);
 * valid until vchan_release(), which the same thread must call.  The peer
 * can still write a ring it is hostile to: copy before you validate.  The
 * receive side stays locked in between: this thread may send (a reply), but
 * its own receives get -EINVAL until it releases. */
int vchan_recv_inplace(struct vchan *v, struct vchan_msg *msg,
		       int timeout_ms);
int vchan_release(struct vchan *v);

/* Drain the send backlog.  0 when empty, -EAGAIN/-ETIMEDOUT otherwise;
 * -EPIPE/-EPROTO when the channel is gone or broken. */
int vchan_flush(struct vchan *v, int timeout_ms);

/* --- raw byte stream (libxenvchan stream mode, for cfg.raw = 1) ------- */

/* Return the count moved (0 when len is 0).  vchan_read(): the bytes that
 * are there, at least one, waiting only while there are none.
 * vchan_write(), timeout_ms != 0: all len bytes, waiting for room as often
 * as needed (libxenvchan's blocking write); the deadline, the peer's going
 * or a revoke part way returns the count written so far (an error only
 * when that is none).  timeout_ms == 0: what fits now, -EAGAIN when
 * nothing does (libxenvchan's non-blocking write, which returns 0 then).
 * A blocking write holds this end's writing side until it returns. */
int vchan_write(struct vchan *v, const void *buf, size_t len, int timeout_ms);
int vchan_read(struct vchan *v, void *buf, size_t len, int timeout_ms);

/* --- event loops ------------------------------------------------------- */

/* The fd becomes readable when the peer acted (or, over Xen, its domain may
 * have gone); then call vchan_events().  Once HUP or ERR, it stays
 * readable.  It stays valid until vchan_close() (-EPIPE after a revoke).
 * While the channel lives it also turns readable about a second after the
 * last vchan_events() call with nothing new to report, so that the next
 * call looks at the peer's live byte: a peer can die with that byte
 * cleared and no event (Linux sends the unmap-notify's event only when
 * the last holder of the peer's grant device lets go, such as a forked
 * child that kept it).  A blocking call looks as often on its own.
 * It tells of changes, as an edge-triggered epoll does: after IN receive
 * until -EAGAIN (which asks the peer for an event), after OUT send until
 * -EAGAIN or nothing is left to send.  Other threads may block meanwhile
 * in calls of the direction the loop does not drive (not of its own: see
 * Threads at the top): what such a call's sleep consumes makes the fd
 * readable too.  The first call makes the fd (two
 * descriptors), readable at once: -EMFILE or -ENOMEM if it cannot. */
int vchan_fd(struct vchan *v);
#define VCHAN_EV_IN  0x1   /* a message (or bytes) can be received         */
#define VCHAN_EV_OUT 0x2   /* there is room to send                        */
#define VCHAN_EV_HUP 0x4   /* revoked, closed or peer gone (-EPIPE)        */
#define VCHAN_EV_ERR 0x8   /* protocol error (-EPROTO)                     */
/* Consume pending notifications, drain the backlog, re-arm, report. */
int vchan_events(struct vchan *v);

/* --- lifetime ---------------------------------------------------------- */

/* Revoke, on vipcd's word: blocked and later calls on this end return
 * -EPIPE, what this end holds (messages in its inbound ring, its backlog)
 * is discarded and counted, grants and port are released.  The peer sees
 * the channel go: its sends get -EPIPE, but until it is revoked or closed
 * itself it still receives what was whole in its inbound ring, then
 * -EPIPE (vipcd revokes both ends; each discards what it holds).
 * Idempotent.  From another thread it waits for an in-place
 * message or a reservation to end; from the thread holding one, it goes
 * ahead: the pointer is then no longer valid, and vchan_release() or
 * vchan_commit() (which then returns -EPIPE) still ends the hold. */
int vchan_revoke(struct vchan *v);
/* Close and free (revokes first if needed).  A message still in the send
 * backlog is discarded (logged): vchan_flush() first delivers it.  What is
 * whole in the ring stays for the peer. */
void vchan_close(struct vchan *v);

struct vchan_stats {
	uint64_t msgs_sent, msgs_recv;    /* sent: wholly in the ring (one
					   * streaming out of the backlog
					   * counts once its last byte is) */
	uint64_t bytes_sent, bytes_recv;
	uint64_t discarded;       /* messages dropped by revoke / close      */
	uint64_t notifies;        /* event-channel notifications sent         */
	uint64_t sleeps;          /* times this end went to sleep             */
	uint64_t spin_hits, spin_misses;   /* busy waits that paid / not   */
	int spin_enabled;         /* spinning or yielding is currently on     */
	uint64_t yield_hits, yield_misses; /* waits that gave the CPU away  */
	int layout;               /* VCHAN_LAYOUT_* of this channel           */
	uint64_t grace_hits;      /* LINES: waits that only the look after the
				   * grace time found satisfied             */
};
int vchan_get_stats(struct vchan *v, struct vchan_stats *st);
unsigned vchan_rights(const struct vchan *v);
/* Ring sizes in bytes as this end sees them. */
size_t vchan_ring_size(const struct vchan *v, int write_side);

/* Log lines (peer protocol errors, setup failures) go to this function,
 * from any thread (the library's store watch thread too); NULL restores
 * the default (stderr).  It may be called with the library's locks held:
 * it must not call the library, nor fork().  A line reaches the function
 * with the arg set with it, even while another thread sets another pair;
 * each distinct pair set is kept (a few bytes) until the process exits. */
typedef void vchan_log_fn(void *arg, const char *line);
void vchan_set_logger(vchan_log_fn *fn, void *arg);

/* --- transports -------------------------------------------------------- */

/* Both ends over plain shared memory (MAP_SHARED anonymous pages, eventfds
 * standing in for the event channel), for tests and benchmarks.  The pair
 * survives fork(): each process then drops the end it does not use with
 * vchan_shm_detach() (releases local resources, leaves the peer alone; an
 * end of another transport is left as it is, with a log line).  Fork only
 * while no other thread is in a call on the pair: a call in progress or
 * waiting its turn in the parent can leave that direction's lock held, or
 * its waiters' queue standing, in the child, where nobody ends it, and
 * every later call of that direction in the child waits for ever (one
 * with a timeout until it). */
int vchan_shm_pair(const struct vchan_config *srv_cfg,
		   const struct vchan_config *cli_cfg,
		   struct vchan **srv, struct vchan **cli);
void vchan_shm_detach(struct vchan *v);

/* Over Xen (hyp/): the server shares the pages with peer_domid and publishes
 * ring-ref, event-channel and vipc-channel-id (16 hex digits, random per
 * channel; stock libxenvchan peers ignore it) under xs_path (owner self,
 * peer read-only); the client reads them, maps and binds.  libxenvchan
 * conventions.
 * fork(): an end over Xen belongs to the process that opened it, as Xen's
 * handles and grant mappings do.  In a child every call on an inherited
 * end but vchan_close() returns -EBADF (logged once), even while a parent
 * thread was inside a call at the fork; the page and rings are not mapped
 * there (MADV_DONTFORK).  vchan_close() in the child frees only the child's
 * copy: it closes the inherited handles the way Xen allows in a child, and
 * leaves the channel, its store nodes and the peer alone.  From the fork
 * on, the child holds no reference to the channel's Xen devices (/dev/null
 * is put over its copies of their descriptors, which stay valid for that
 * close): the kernel sends the unmap-notify's event only when the last
 * holder lets go, so a child that kept them would hide the parent's death
 * from the peer for as long as it lives.  Closing is still what frees the
 * child's copy.  To talk over Xen, a child opens channels of its own.
 * Peer death: a dead process's unmap-notify, and, for a destroyed domain
 * (which sends none), store watches: the client watches the server's
 * ring-ref; the client publishes /local/domain/<client>/data/
 * vipc-vchan-live/<shard>/<server>-<port>-<ring-ref>-<channel id> (owner
 * client, server read-only; no "-<channel id>" for a stock server) before
 * connecting, which the server watches; and @releaseDomain when dom0 lets
 * them read it.  xenstored removes a destroyed domain's nodes.  All
 * channels of a process watch through one store connection of the
 * library's: one watch per channel, and one on @releaseDomain for the
 * process.  Each counts against the domain's 128 (Xen 4.17's xenstored),
 * of which a Linux guest's kernel holds 5: a single process may have 122
 * channels watched.  Past that, later channels go without the node's watch
 * (logged once per process) and see a destroyed peer domain through
 * @releaseDomain, or else only through vipcd.  While channels over Xen are
 * open, one thread of the library's per process (all signals blocked)
 * takes that connection's events and wakes a channel whose peer is gone:
 * its blocked calls return, its vchan_fd() polls readable.  The channels of
 * a process read and write their own nodes through another connection
 * they share, opened with the first and closed with the last: a channel
 * over Xen holds five descriptors (event channel, grant device, epoll set,
 * eventfd, timerfd; two more once vchan_fd() is called), and the process
 * a few more for its two store
 * connections and the watcher's thread.  The shard, one hex digit (the
 * channel id's first, or for a stock server the ring-ref's last), spreads
 * the nodes over 16 directories: Xen 4.17 lets a guest's directory name
 * only about 2 KB of children.  A server shares its control page and its rings' pages
 * through gntalloc, which lets a Linux domain share 1024 pages at once by
 * default (module parameter xen_gntalloc.limit): 33 pages for two 64 KiB
 * rings, 1 for orders 10 and 11 (in the page); past it, the open fails
 * with -ENOSPC and a log line that names the pages and the limit.
 * The channel id keeps a new channel's node apart from a killed client's
 * left over from an earlier channel with the same port and ring-ref (Xen
 * and Linux reuse both at once).
 * The liveness node's value names the client process (pid, pid namespace,
 * start time, the kernel's boot id, then xs_path); before it writes its
 * own, a client removes (best effort) its domain's nodes whose process is
 * provably gone: from its pid namespace, or from an earlier boot of the
 * domain's kernel (soft reset).  A client killed in a living domain leaks
 * its node otherwise, against the domain's store quota.  Nodes of live
 * processes, of other pid namespaces, or of another format (older
 * clients) stay.  It reads 64 at most per open, and none of its process's
 * open channels; a process's first open looks in every shard, each later
 * one in one shard, in turn (every shard within 16 opens).
 * A server records each offer it makes in /local/domain/<server>/data/
 * vipc-vchan-offers/<shard>/<channel id> (owner server, nobody else; the
 * value as a liveness node's), removed on close; before it offers, a
 * server removes (in the same way) the records of its domain's dead server
 * processes, and with each the offer at its path if that still carries
 * the record's channel id: a server killed in a living domain leaves its
 * offer otherwise.
 * Before it binds, a client claims the offer: <liveness node>-claim, written
 * in a transaction that finds neither node held by a live process of its
 * pid namespace, removed once connected.
 * vchan_server_open returns, besides the errors of the calls it makes:
 *   -ESRCH   (a log line) in a privileged domain: the peer domain does not
 *            exist, is dying or is shut down (a guest cannot ask Xen: its
 *            open succeeds and waits for a client)
 * vchan_client_open returns, besides the errors of the calls it makes:
 *   -ENOENT  (a log line) nothing offered (yet) under xs_path that this
 *            domain may read (xenstored says EACCES for a node missing
 *            under a directory we may not read, as a server's home)
 *   -EBUSY   (a log line) another client process of this domain holds the
 *            offer or is taking it: its liveness node or claim names a live
 *            process (which the line names); or, held by one it cannot
 *            judge (another pid namespace, an older client), the bind
 *            failed and the offer is unchanged
 *   -EPROTO  (a log line) the offer or the server's page is malformed
 *   -EPIPE   (a log line) no server is there: binding the offered port says
 *            its domain does not exist (-ESRCH), or its port, ring-ref
 *            or a ring's grant does not work (-EINVAL): the offer is gone
 *            (or unreadable now) or another one when
 *            read again (the server closed, or its domain was destroyed),
 *            or it is still offered (most likely its server process was
 *            killed, its domain living on: its offer stays until another
 *            server of that domain opens; also what an offer of a port or
 *            ring-ref not ours to take, and losing a race to a stock
 *            libxenvchan client of this domain, look like); or a client
 *            took a libvchan-cap server's offer before (the server's page
 *            says so: that channel is the other client's; a stock server's
 *            offer may be taken again, as libxenvchan's clients do).
 *            Worth a retry once a server may have offered anew
 * The client reads the offer's nodes together, in one store transaction. */
int vchan_server_open(const struct vchan_config *cfg, int peer_domid,
		      const char *xs_path, struct vchan **out);
int vchan_client_open(const struct vchan_config *cfg, int peer_domid,
		      const char *xs_path, struct vchan **out);
/* Opening without the store, as vipcd sets channels up: the server shares
 * its pages and offers a port exactly as vchan_server_open() does, but
 * writes nothing in the store and fills *offer instead, which whoever both
 * ends trust (vipcd, over its control channels) hands to the client of
 * domain peer_domid; the client maps and binds what it names, and reads
 * nothing from the store.  No liveness node, offer record, claim or store
 * watch: a peer process's death is seen through unmap-notify as ever, a
 * destroyed peer domain only through vipcd (vchan_revoke() on its word).
 * Neither end can learn from Xen that an offer went to another process of
 * the client's domain, which is why the offer must reach the one client
 * meant.
 * vchan_server_open_offer returns what vchan_server_open does.
 * vchan_client_open_offer returns, besides the errors of the calls it makes:
 *   -EINVAL  a ring-ref or port of 0, or a domain id out of range
 *   -EPIPE   (a log line) the port, the ring-ref or a ring's grant does
 *            not work: its
 *            domain does not exist (any more), its server closed the
 *            channel or is gone, another process bound it already, or it
 *            was never offered to this domain (Xen answers alike); or a
 *            client took the offer before (the server's page says so)
 *   -EPROTO  (a log line) the server's page is malformed */
struct vchan_offer {
	uint32_t ring_ref;      /* the control page's grant reference        */
	uint32_t port;          /* the event channel offered to the client   */
};
int vchan_server_open_offer(const struct vchan_config *cfg, int peer_domid,
			    struct vchan_offer *offer, struct vchan **out);
int vchan_client_open_offer(const struct vchan_config *cfg, int peer_domid,
			    const struct vchan_offer *offer,
			    struct vchan **out);

/* Server: has the client connected yet?  1 yes, 0 not yet, -EPIPE gone
 * (or revoked), -EPROTO the channel failed (the peer broke its live byte or
 * an index; logged once), -EINVAL for a NULL channel. */
int vchan_is_connected(struct vchan *v);

#ifdef __cplusplus
}
#endif
#endif
