/* SPDX-License-Identifier: MIT */
/* vchan-sim: libvchan-cap end to end between two simulated domains.
 *
 *   vchan-sim server MODE [ARG]   publish under /local/domain/<self>/data/
 *   vchan-sim client MODE [ARG]   vipc-vchan for the peer, or connect to it
 *   vchan-sim stock-server        Debian's libxenvchan, echoing bytes
 *   vchan-sim stock-server again N   the same for N clients one after
 *                                 another on one offer (vchan-socket-proxy)
 *   vchan-sim stock-client
 *   vchan-sim stock-client forkdie   Debian's libxenvchan: connects, forks
 *                                 a holder that keeps every descriptor for
 *                                 STOCK_HOLD_S, and dies at once (SIGKILL)
 *   vchan-sim xs-write PATH VALUE (dom0 helper)
 *   vchan-sim xs-chmod PATH PERM... (dom0 helper; PERM: n|r|w|b + domid,
 *                                 the first naming the owner; PATH may be
 *                                 @releaseDomain)
 *   vchan-sim xs-ls PATH          (dom0 helper) one line per node below
 *                                 PATH with no children: "NAME VALUE", NAME
 *                                 relative to PATH (a shard's: "c/NAME")
 *
 * The peer's domid is read from data/conf/peer in our own home (dom0 writes
 * it once both domains exist).  MODE:
 *   stream MIB  client sends MIB MiB of messages of varying sizes (up to
 *               256 KiB, over a 64 KiB ring); the server checks type,
 *               length, sequence and every byte.
 *   lines MIB   the same with the server in the LINES layout; both ends
 *               must report it (the client learns it from the page).
 *   sleepy N    N round trips in the LINES layout with spinning off, so
 *               that every wait sleeps: the relaxed wake-up handshake
 *               across domains.  The client checks every echo and pauses
 *               now and then, so that the server's sleeps also outlast the
 *               grace time; each end must have slept on a quarter of its
 *               calls at least (68-79% in CI runs; on a loaded machine the
 *               answer is often there before the wait begins; with the
 *               spin on, next to none sleep).
 *   kill        client sends one message and sleeps; dom0 destroys its
 *               domain (no unmap-notify); the server's blocked receive must
 *               end with EPIPE within KILL_MS, a send too, the fd must
 *               poll readable and vchan_events() say HUP.
 *   killsrv     the mirror: the server takes one message and stops reading;
 *               the client streams until it blocks; dom0 destroys the
 *               server's domain; the client's blocked send must end with
 *               EPIPE within KILL_MS, and so on.
 *   noisy [W]   a hostile client rewrites its store node (the one the
 *               server watches) as fast as it can, W times at least
 *               (default NOISY_WRITES) in NOISY_MS while it takes echoes,
 *               and on until dom0 destroys its domain: the
 *               server must stay responsive (the slowest echo under
 *               NOISY_SLOW_MS), must not take the writes for a death, and
 *               its blocked receive must end with EPIPE within KILL_MS
 *               of the destruction.  The server reports its CPU time.
 *   pkill       the client process (not its domain) dies after one message:
 *               its unmap-notify must end the server's blocked receive.
 *   killearly   the client connects and its domain is destroyed before the
 *               server looked at the store (dom0 then writes data/conf/go):
 *               the server's first blocked receive must end with EPIPE.
 *   handoff     the server offers a second channel on the same path while
 *               the first is open, then closes the first; the client, told
 *               by EPIPE, connects again and finds the second one: closing
 *               a channel must not remove what a newer one published.
 *   reconnect   the server closes its channel and at once offers a new one
 *               on the same path (its port is reused), twice; the client
 *               closes its old handle before it connects anew, then after:
 *               neither the old handle's node nor its close may end the
 *               new channel.
 *   revoke      client streams; the server revokes midway; both ends must
 *               see EPIPE, the server counts what it discarded.
 *   storecut    the store connections break under a server with a channel
 *               open (it shuts its own store sockets, as a restarted
 *               xenstored would leave them): its next open (a second
 *               channel, on vipc-vchan-2) must work, over a fresh
 *               connection; closing the first channel must remove its
 *               nodes (its offer and its record, over a fresh connection
 *               too); and the client domain's destruction must end the
 *               blocked receive on the second with EPIPE within KILL_MS
 *               (the peer watch watching again on a fresh connection).
 *   srvgc       a server process killed with its offer out (its domain
 *               lives on): a client's open of that offer gets EPIPE (no
 *               server there); the next server's open must remove that
 *               offer and its record and keep its own; the client then
 *               connects to the new one (on dom0's go, one echo).  dom0
 *               orders the steps (go-dead, go-new, go).
 *   race [N]    client processes of one domain racing for one offer, N
 *               rounds (default 20; both ends the same) of 3: exactly one
 *               connects and its channel works, the others get EBUSY.
 *   fork        with the channel open, every descriptor past stdio must
 *               close on exec.  Each end forks a child once connected
 *               (the server while another thread waits in a receive):
 *               in the child the ring is not mapped, every call but close
 *               gives EBADF, and close returns at once, leaving the
 *               parent's channel (200 echoes after each child) and the
 *               child's own page at the ring's old address alone.  The
 *               client's second child lives on, its copy not closed,
 *               while the client process dies: the server's blocked
 *               receive must still end with EPIPE.
 *   echo N      against a stock libxenvchan echo peer: N framed messages
 *               go through the stock library and come back intact.
 *   evloop      against "stock-client forkdie": an event loop (poll on
 *               vchan_fd(), then vchan_events()) must report HUP within
 *               EVLOOP_DEATH_MS of the connection, long before the
 *               client's holder lets go: Linux clears the client's live
 *               byte at its death but sends no event while the holder
 *               keeps gntdev, so only the loop's look at the byte each
 *               second can tell.
 *   mixed N     the server's end shared by a thread asleep in a flush (a
 *               message four times the ring, which the client reads last)
 *               and an event loop that takes the client's N messages
 *               (default MIXED_MESSAGES), sent MIXED_GAP_MS apart: each
 *               must reach the loop in a wake-up of its own, though the
 *               sleeper consumes the events (one in ten may come with the
 *               next: a loop held off its CPU, and so may one that
 *               comes more than MIXED_LATE_MS after the one before); then
 *               the big one arrives whole, and the client waits for the
 *               server's last word before it closes.
 *   livegc      leaked liveness nodes: the server offers three channels in
 *               turn, on vipc-vchan (taken by the client "livegc", which
 *               stays), vipc-vchan-victim (a second client process,
 *               "livegc-victim", SIGKILLs itself after one message) and,
 *               once the victim's death was seen, vipc-vchan-new (a third,
 *               "livegc-new", on the victim's port and ring-ref, whose
 *               open must remove the victim's node and keep the first
 *               client's; the script looks; the server waits on the new
 *               channel meanwhile).  Once dom0 writes data/conf/go in the
 *               client's home, each client still there sends one message
 *               and takes its echo.
 *   offer MIB   both ends open without the store (vchan_*_open_offer):
 *               the server prints "VCHAN-READY offer <ring-ref> <port>",
 *               dom0 writes it to data/conf/offer in the client's home
 *               (vipcd's part), the client opens it, and a second open
 *               of it must give EPIPE (its port is bound); then a stream
 *               of MIB MiB as in stream, and the client's close must end
 *               the server's blocked receive with EPIPE.  The script
 *               checks that neither domain has vipc store nodes.
 *   many N      N channels between the two domains at once (default
 *               MANY_CHANNELS), on vipc-vchan-many/m0, m1 ...: the server offers
 *               them all, the client opens them all, then one echo on each
 *               while all stay open; they close at the end.
 *   many-offer N  the same, opened without the store: the server prints
 *               every offer on one line ("VCHAN-READY offers REF:PORT
 *               ..."), dom0 writes it to data/conf/offers in the client's
 *               home; nothing may be logged, not even about watches.
 * Markers on stdout: "VCHAN-OK <what>" / "VCHAN-FAIL <what>: <why>", and
 * "VCHAN-DONE failures=<n>" last once an end got going. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libxenvchan.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vipc/hyp.h>
#include <vipc/vchan.h>

#include "sim_ids.h"

#define PATH_FMT "/local/domain/%u/data/vipc-vchan"
#define MAXMSG (256u << 10)
/* How long an end may take to see its peer's domain die. */
#define KILL_MS 10000
/* fork: echoes after each child; how long a child's close may take; how
 * long the lingering child outlives its parent at most. */
#define FORK_ECHOES 200
#define FORK_CLOSE_S 10
#define FORK_LINGER_S 30
/* How long the server may take to see the client process's death: on Xen
 * the unmap-notify's event (11-19 ms seen).  With a child still holding
 * gntdev, Linux clears the live byte at the parent's death but sends the
 * event only when the last holder lets go: a waiting server then finds
 * the death by its look at the byte each second (evloop below). */
#define FORK_DEATH_MS 2000
/* evloop: the stock client dies STOCK_DIE_MS after connecting; its holder
 * keeps its descriptors STOCK_HOLD_S. The loop must see the death within
 * EVLOOP_DEATH_MS of the connection (death + one recheck period + slack),
 * and gives up at EVLOOP_GIVEUP_MS, still before the holder lets go. */
#define STOCK_DIE_MS 300
#define STOCK_HOLD_S 30
#define EVLOOP_DEATH_MS 4000
#define EVLOOP_GIVEUP_MS 15000
/* mixed: the client's messages come this far apart; the loop gives up on
 * one after MIXED_WAKE_MS; the flush of the big message (four 64 KiB rings)
 * may take MIXED_FLUSH_MS (the messages' time and then some). */
#define MIXED_GAP_MS 200
#define MIXED_WAKE_MS 10000
#define MIXED_FLUSH_MS 60000
#define MIXED_BIG (256u << 10)
#define MIXED_MESSAGES 20
/* A wake-up this long after the one before slept through its event until
 * the loop's recheck (a second): for the last message no later one shows
 * that. */
#define MIXED_LATE_MS (MIXED_GAP_MS + 500)
/* mixed: the server's last word, after which the client may close (before
 * it, a close could end the loop's run with its last message untaken). */
#define MIXED_BYE_TYPE 9
/* many: channels held at once by one client domain. */
#define MANY_CHANNELS 120
/* noisy: how long the client floods while it takes echoes, and the
 * slowest echo allowed meanwhile. */
#define NOISY_MS 3000
#define NOISY_WRITES 1000
#define NOISY_SLOW_MS 1000
#define NOISY_LAST 2        /* the type of the client's last echo */

static int fails;
/* Appended to the channel's path (livegc's extra channels). */
static const char *path_suffix = "";

#define FAIL(...) do { printf("VCHAN-FAIL " __VA_ARGS__); printf("\n"); \
		       fflush(stdout); fails++; } while (0)
#define OK(...) do { printf("VCHAN-OK " __VA_ARGS__); printf("\n"); \
		     fflush(stdout); } while (0)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static void fill(uint8_t *p, size_t n, uint32_t seq)
{
	uint64_t s = mix(seq + 1);

	for (size_t i = 0; i < n; i += 8) {
		size_t k = n - i < 8 ? n - i : 8;

		s = mix(s + i);
		memcpy(p + i, &s, k);
	}
}

static size_t size_of(uint32_t seq)
{
	uint64_t r = mix(seq * 7919u);

	switch (r % 4) {
	case 0: return r % 64;
	case 1: return r % 4096;
	case 2: return r % 65536;
	default: return r % MAXMSG;
	}
}

/* The client waits for the server to publish. */
static int wait_published(unsigned server)
{
	struct hyp_store *st;
	unsigned long v;
	char path[128];
	int r, i;

	snprintf(path, sizeof(path), PATH_FMT "%s/event-channel", server,
		 path_suffix);
	if ((r = hyp_store_open(&st)) < 0)
		return r;
	for (i = 0; i < 300; i++) {
		r = hyp_store_read_uint(st, HYP_TXN_NONE, path, UINT32_MAX,
					&v);
		if (r != -ENOENT && r != -EACCES)
			break;
		usleep(100000);
	}
	hyp_store_close(st);
	return r;
}

/* The server returns at once (its first receive then waits for the
 * client, looking at each store event as it comes). */
static bool no_connect_wait;
/* Seconds spent in the library's open calls (many reports them). */
static double open_seconds;
/* The server's ring orders (its read, its write). */
static unsigned ring_orders[2] = { 16, 16 };

static struct vchan *open_end(bool server, unsigned peer, domid_t self,
			      int layout, bool no_spin)
{
	struct vchan_config cfg;
	struct vchan *v = NULL;
	char path[128];
	double t0;
	int r;

	vchan_config_init(&cfg);
	cfg.read_order = ring_orders[0];
	cfg.write_order = ring_orders[1];
	cfg.max_msg = MAXMSG;
	cfg.layout = layout;   /* the server's choice; a client ignores it */
	if (no_spin)
		cfg.spin_ns = 0;
	cfg.name = server ? "sim-server" : "sim-client";
	snprintf(path, sizeof(path), PATH_FMT "%s", server ? self : peer,
		 path_suffix);
	if (server) {
		t0 = now_s();
		r = vchan_server_open(&cfg, (int)peer, path, &v);
	} else {
		r = wait_published(peer);
		t0 = now_s();
		if (r == 0)
			r = vchan_client_open(&cfg, (int)peer, path, &v);
	}
	open_seconds += now_s() - t0;
	if (r < 0) {
		FAIL("open %s: %s", server ? "server" : "client",
		     strerror(-r));
		return NULL;
	}
	if (server && !no_connect_wait) {   /* wait for the client */
		for (int i = 0; i < 300 && vchan_is_connected(v) == 0; i++)
			usleep(50000);
	}
	return v;
}

static void stream_server(struct vchan *v, uint64_t total)
{
	uint8_t *buf = malloc(MAXMSG), *want = malloc(MAXMSG);
	uint64_t got = 0;
	uint32_t seq = 0, bad = 0;
	double t0 = now_s();
	struct vchan_stats st;

	while (got < total) {
		struct vchan_msg m = { .buf = buf, .len = MAXMSG };
		int r = vchan_recv(v, &m, 30000);
		size_t n = size_of(seq);

		if (r < 0) {
			FAIL("stream: receive %" PRIu32 ": %s", seq,
			     strerror(-r));
			return;
		}
		fill(want, n, seq);
		if (m.seq != seq + 1 || m.type != seq || m.len != n ||
		    memcmp(buf, want, n))
			bad++;
		got += m.len;
		seq++;
	}
	vchan_get_stats(v, &st);
	if (bad)
		FAIL("stream: %" PRIu32 " of %" PRIu32 " messages damaged",
		     bad, seq);
	else
		OK("stream %" PRIu64 " bytes %" PRIu32 " messages %.2f GB/s "
		   "sleeps=%" PRIu64 " notifies=%" PRIu64, got, seq,
		   got / (now_s() - t0) / 1e9, st.sleeps, st.notifies);
	vchan_send(v, 0xd0e, 0, "done", 4, 5000);
	free(buf);
	free(want);
}

static void stream_client(struct vchan *v, uint64_t total)
{
	uint8_t *buf = malloc(MAXMSG), done[8];
	uint64_t sent = 0;
	uint32_t seq = 0;
	struct vchan_msg m = { .buf = done, .len = sizeof(done) };
	int r;

	while (sent < total) {
		size_t n = size_of(seq);

		fill(buf, n, seq);
		r = vchan_send(v, seq, 0, buf, n, 30000);
		if (r < 0) {
			FAIL("stream: send %" PRIu32 ": %s", seq, strerror(-r));
			return;
		}
		sent += n;
		seq++;
	}
	r = vchan_recv(v, &m, 60000);
	if (r < 0 || m.type != 0xd0e)
		FAIL("stream: no confirmation: %s", strerror(-r));
	else
		OK("stream sent %" PRIu64 " bytes", sent);
	free(buf);
}

/* After EPIPE: a send fails too, events say HUP and, when the peer's domain
 * died (`sticky`), the fd stays readable so an event loop cannot miss it
 * (unmap-notify's one event was consumed by the blocked call). */
static void check_hup(struct vchan *v, const char *what, bool sticky)
{
	struct pollfd pfd = { .fd = vchan_fd(v), .events = POLLIN };
	uint8_t b = 0;
	int r = vchan_send(v, 1, 0, &b, 1, 0);

	if (r == -EPIPE)
		OK("%s: send after peer death EPIPE", what);
	else
		FAIL("%s: send after peer death returned %d", what, r);
	r = poll(&pfd, 1, 0);
	if ((r == 1 || !sticky) && (vchan_events(v) & VCHAN_EV_HUP))
		OK("%s: %svchan_events HUP", what,
		   sticky ? "fd readable, " : "");
	else
		FAIL("%s: poll %d, vchan_events 0x%x", what, r,
		     vchan_events(v));
}

static void kill_server(struct vchan *v, const char *what)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int r = vchan_recv(v, &m, 30000);
	double t0;

	if (r < 0) {
		FAIL("%s: first message: %s", what, strerror(-r));
		return;
	}
	printf("VCHAN-READY %s\n", what);
	fflush(stdout);
	m.len = sizeof(buf);
	t0 = now_s();
	r = vchan_recv(v, &m, KILL_MS);
	if (r == -EPIPE)
		OK("%s: blocked receive ended with EPIPE after %.0f ms", what,
		   (now_s() - t0) * 1e3);
	else
		FAIL("%s: blocked receive returned %d", what, r);
	check_hup(v, what, strcmp(what, "pkill") != 0);
}

/* noisy, server: echo until the client's last (NOISY_LAST), then as kill. */
static void noisy_server(struct vchan *v)
{
	uint8_t buf[64];
	struct vchan_msg m;
	struct rusage ru0, ru1;
	int r, n = 0;

	getrusage(RUSAGE_SELF, &ru0);
	for (;;) {
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		r = vchan_recv(v, &m, 30000);
		if (r == 0 && m.type != NOISY_LAST)
			r = vchan_send(v, m.type, 0, buf, m.len, 30000);
		if (r < 0) {
			FAIL("noisy: echo %d: %s", n, strerror(-r));
			return;
		}
		if (m.type == NOISY_LAST)
			break;
		n++;
	}
	getrusage(RUSAGE_SELF, &ru1);
	OK("noisy: %d echoes, the channel alive, %.2f s of CPU", n,
	   (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
		    ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	   (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
	    ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6);
	kill_server(v, "noisy");
}

/* each(arg, node, value) for every node below path that has no children,
 * depth first; the first error (or nonzero from each) ends the walk. */
typedef int leaf_fn(void *arg, const char *node, const char *value);

static int xs_walk_leaves(struct hyp_store *st, const char *path,
			  leaf_fn *each, void *arg)
{
	unsigned int n = 0, i, kids;
	char **names = NULL, **below, *p, *val;
	int r = hyp_store_directory(st, HYP_TXN_NONE, path, &names, &n);

	for (i = 0; r == 0 && i < n; i++) {
		if (asprintf(&p, "%s/%s", path, names[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		below = NULL;
		kids = 0;
		r = hyp_store_directory(st, HYP_TXN_NONE, p, &below, &kids);
		free(below);
		if (r == 0 && kids) {
			r = xs_walk_leaves(st, p, each, arg);
		} else if (r == 0) {
			r = hyp_store_read(st, HYP_TXN_NONE, p, &val, NULL);
			if (r == 0) {
				r = each(arg, p, val);
				free(val);
			}
		}
		free(p);
	}
	free(names);
	return r;
}

/* noisy, client: the leaf nodes below this domain's liveness directory,
 * with their values, written back over and over. */
#define NOISY_NODES 8
struct noisy_writer {
	domid_t self;
	unsigned long writes;    /* atomic */
	char *nodes[NOISY_NODES], *vals[NOISY_NODES];
	int n;
};

static int noisy_keep(void *arg, const char *node, const char *value)
{
	struct noisy_writer *w = arg;

	if (w->n == NOISY_NODES)
		return -E2BIG;
	w->nodes[w->n] = strdup(node);
	w->vals[w->n] = strdup(value);
	if (!w->nodes[w->n] || !w->vals[w->n])
		return -ENOMEM;
	w->n++;
	return 0;
}

static void *noisy_writer(void *arg)
{
	struct noisy_writer *w = arg;
	char dir[96];
	struct hyp_store *st;
	int i, r;

	snprintf(dir, sizeof(dir), "/local/domain/%u/data/vipc-vchan-live",
		 (unsigned)w->self);
	r = hyp_store_open(&st);
	if (r == 0)
		r = xs_walk_leaves(st, dir, noisy_keep, w);
	if (r == 0 && w->n == 0)
		r = -ENOENT;
	/* Until the domain goes. */
	while (r == 0) {
		for (i = 0; r == 0 && i < w->n; i++)
			r = hyp_store_write_str(st, HYP_TXN_NONE, w->nodes[i],
						w->vals[i]);
		__atomic_fetch_add(&w->writes, (unsigned long)w->n,
				   __ATOMIC_RELAXED);
	}
	FAIL("noisy: the writer stopped: %s", strerror(-r));
	return NULL;
}

static void noisy_client(struct vchan *v, domid_t self, long min_writes)
{
	static struct noisy_writer w;
	uint8_t out[64] = { 0 }, in[64];
	double t0, t, slowest = 0;
	unsigned long writes;
	pthread_t th;
	int r = 0, n = 0;

	w.self = self;
	if (pthread_create(&th, NULL, noisy_writer, &w) != 0) {
		FAIL("noisy: cannot start the writer");
		return;
	}
	t0 = now_s();
	while (r == 0 && now_s() - t0 < NOISY_MS / 1e3) {
		struct vchan_msg m = { .buf = in, .len = sizeof(in) };

		t = now_s();
		r = vchan_send(v, 1, 0, out, sizeof(out), 5000);
		if (r == 0)
			r = vchan_recv(v, &m, 5000);
		t = now_s() - t;
		slowest = t > slowest ? t : slowest;
		n += r == 0;
	}
	writes = __atomic_load_n(&w.writes, __ATOMIC_RELAXED);

	if (r < 0)
		FAIL("noisy: echo %d: %s", n, strerror(-r));
	else if (writes < (unsigned long)min_writes)
		FAIL("noisy: only %lu writes of its nodes in %d ms", writes,
		     NOISY_MS);
	else if (slowest * 1e3 > NOISY_SLOW_MS)
		FAIL("noisy: an echo took %.0f ms (%lu writes, %d echoes)",
		     slowest * 1e3, writes, n);
	else
		OK("noisy: %lu writes of its store nodes in %d ms, %d echoes, "
		   "the slowest %.1f ms", writes, NOISY_MS, n, slowest * 1e3);
	/* Then as kill's client, still writing. */
	vchan_send(v, NOISY_LAST, 0, "x", 1, 5000);
	vchan_send(v, 1, 0, "x", 1, 5000);
	printf("VCHAN-READY noisy-client\n");
	fflush(stdout);
	pause();
}

/* killearly, server side: connected (open_end saw the live byte) but not a
 * look at the store yet; dom0 destroys the client's domain, then says go. */
static void killearly_server(struct vchan *v)
{
	struct hyp_store *st;
	unsigned long go = 0;
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	double t0;
	int r, i;

	if (vchan_is_connected(v) != 1) {
		FAIL("killearly: the client did not connect");
		return;
	}
	printf("VCHAN-READY killearly\n");
	fflush(stdout);
	if ((r = hyp_store_open(&st)) < 0) {
		FAIL("killearly: store: %s", strerror(-r));
		return;
	}
	for (i = 0; i < 600 && !go; i++) {
		r = hyp_store_read_uint(st, HYP_TXN_NONE, "data/conf/go", 1,
					&go);
		if (!go)
			usleep(50000);
	}
	hyp_store_close(st);
	if (!go) {
		FAIL("killearly: dom0 never said go");
		return;
	}
	t0 = now_s();
	r = vchan_recv(v, &m, KILL_MS);
	if (r == -EPIPE)
		OK("killearly: blocked receive ended with EPIPE after %.0f ms",
		   (now_s() - t0) * 1e3);
	else
		FAIL("killearly: blocked receive returned %d", r);
	check_hup(v, "killearly", true);
}

/* killsrv, client side: stream until blocked; the server's domain dies. */
static void killsrv_client(struct vchan *v)
{
	uint8_t *buf = calloc(1, 65536);
	uint8_t in[16];
	struct vchan_msg m = { .buf = in, .len = sizeof(in) };
	uint32_t seq = 0;
	double t0 = 0;
	int r;

	/* Fill the ring; the server reads one message only. */
	do
		r = vchan_send(v, seq, 0, buf, 65536, 0);
	while (r == 0 && ++seq < 100000);
	if (r != -EAGAIN) {
		FAIL("killsrv: filling the ring: %d", r);
		free(buf);
		return;
	}
	printf("VCHAN-READY killsrv-client\n");
	fflush(stdout);
	t0 = now_s();
	r = vchan_send(v, seq, 0, buf, 65536, KILL_MS + 5000);
	if (r == -EPIPE)
		OK("killsrv: blocked send ended with EPIPE after %.0f ms",
		   (now_s() - t0) * 1e3);
	else
		FAIL("killsrv: blocked send returned %d", r);
	r = vchan_recv(v, &m, 0);
	if (r == -EPIPE)
		OK("killsrv: receive after peer death EPIPE");
	else
		FAIL("killsrv: receive after peer death returned %d", r);
	check_hup(v, "killsrv", true);
	free(buf);
}

/* handoff: one message on the first channel, then the second channel on the
 * same path, then the first closed; one round trip on the second. */
static void handoff_server(struct vchan *v1, unsigned peer, domid_t self)
{
	struct vchan_config cfg;
	struct vchan *v2 = NULL;
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	char path[128];
	int r, i;

	r = vchan_recv(v1, &m, 30000);
	if (r < 0) {
		FAIL("handoff: first channel: %s", strerror(-r));
		return;
	}
	vchan_config_init(&cfg);
	cfg.name = "sim-server-2";
	snprintf(path, sizeof(path), PATH_FMT, self);
	r = vchan_server_open(&cfg, (int)peer, path, &v2);
	if (r < 0) {
		FAIL("handoff: second channel: %s", strerror(-r));
		return;
	}
	vchan_close(v1);
	for (i = 0; i < 600 && (r = vchan_is_connected(v2)) == 0; i++)
		usleep(50000);
	if (r != 1) {
		FAIL("handoff: no client on the second channel (%d)", r);
		vchan_close(v2);
		return;
	}
	m.len = sizeof(buf);
	r = vchan_recv(v2, &m, 30000);
	if (r == 0)
		r = vchan_send(v2, 2, 0, buf, m.len, 30000);
	if (r < 0)
		FAIL("handoff: second channel: %s", strerror(-r));
	else
		OK("handoff: second channel served after the first closed");
	/* The client closes first: its receive must not see our close. */
	m.len = sizeof(buf);
	(void)vchan_recv(v2, &m, 30000);
	vchan_close(v2);
}

/* Send word (type 1) on v and take the server's echo (type 2): 0, -errno,
 * or -EBADMSG for an echo that is not the word. */
static int round_trip(struct vchan *v, const char *word)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	size_t n = strlen(word);
	int r = vchan_send(v, 1, 0, word, n, 30000);

	if (r == 0)
		r = vchan_recv(v, &m, 30000);
	if (r == 0 && (m.type != 2 || m.len != n || memcmp(buf, word, n)))
		r = -EBADMSG;
	return r;
}

static void handoff_client(struct vchan *v1, unsigned peer, domid_t self)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan *v2;
	int r;

	r = vchan_send(v1, 1, 0, "one", 3, 30000);
	if (r == 0)
		r = vchan_recv(v1, &m, 30000);
	if (r != -EPIPE) {
		FAIL("handoff: first channel ended with %d", r);
		return;
	}
	vchan_close(v1);
	v2 = open_end(false, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
	if (!v2)
		return;
	r = round_trip(v2, "two");
	if (r == 0)
		OK("handoff: reconnected to the second channel");
	else
		FAIL("handoff: second channel: %d", r);
	vchan_close(v2);
}

/* Wait up to 30 s for dom0 to write data/conf/NAME in our home. */
static bool wait_go(const char *name)
{
	struct hyp_store *st;
	unsigned long go = 0;
	char path[64];
	int i;

	snprintf(path, sizeof(path), "data/conf/%s", name);
	if (hyp_store_open(&st) < 0)
		return false;
	for (i = 0; i < 600; i++) {
		if (hyp_store_read_uint(st, HYP_TXN_NONE, path, 1, &go) == 0 &&
		    go)
			break;
		usleep(50000);
	}
	hyp_store_close(st);
	return go != 0;
}

/* livegc, a client still connected: on dom0's go, one message, its echo. */
static void livegc_client(struct vchan *v, const char *what)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int r;

	printf("VCHAN-READY %s\n", what);
	fflush(stdout);
	if (!wait_go("go")) {
		FAIL("%s: dom0 never said go", what);
		return;
	}
	r = vchan_send(v, 1, 0, "x", 1, 30000);
	if (r == 0)
		r = vchan_recv(v, &m, 30000);
	if (r == 0 && m.type == 0xec0)
		OK("%s: still connected, echo received", what);
	else
		FAIL("%s: no echo: %d", what, r);
}

/* livegc, srvgc, the server: echo one message on a channel. */
static void livegc_echo(struct vchan *v, const char *scenario,
			const char *what)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int r = vchan_recv(v, &m, 60000);

	if (r == 0)
		r = vchan_send(v, 0xec0, 0, "y", 1, 30000);
	if (r == 0)
		OK("%s: echoed on %s", scenario, what);
	else
		FAIL("%s: %s: %s", scenario, what, strerror(-r));
}

/* livegc, the server: the first channel is connected; offer the victim's,
 * see it die, then offer the new client's and echo on both survivors. */
static void livegc_server(struct vchan *first, unsigned peer, domid_t self)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan *v, *nv;
	int r;

	path_suffix = "-victim";
	v = open_end(true, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
	if (!v)
		return;
	r = vchan_recv(v, &m, 30000);
	if (r == 0) {
		m.len = sizeof(buf);
		r = vchan_recv(v, &m, KILL_MS);
	}
	if (r == -EPIPE)
		OK("livegc: the victim's death seen");
	else
		FAIL("livegc: victim's channel: %d", r);
	printf("VCHAN-READY livegc-victim-dead\n");
	fflush(stdout);
	/* Closed, and offered again at once: the new channel gets the
	 * victim's port and ring-ref (the script checks). */
	vchan_close(v);
	path_suffix = "-new";
	no_connect_wait = true;
	nv = open_end(true, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
	if (nv) {
		/* Waiting in a receive on the new channel, we look at each
		 * store event as it comes: the victim's node, the new
		 * client's clean-up of it, its own node. */
		livegc_echo(nv, "livegc", "the new channel");
		livegc_echo(first, "livegc", "the first channel");
		vchan_close(nv);
	}
}

/* srvgc: a server process killed in a domain that lives on leaves its offer
 * (and its record); the next server's open in that domain removes both and
 * keeps its own; the client then connects to the new one. */
/* How many offer records our domain has, in all shards. */
static int srvgc_records(domid_t self, unsigned *count)
{
	struct hyp_store *st;
	unsigned int n = 0, i, k;
	char path[128], sub[160], **shards = NULL, **names;
	int r;

	*count = 0;
	snprintf(path, sizeof(path), "/local/domain/%u/data/vipc-vchan-offers",
		 (unsigned)self);
	if ((r = hyp_store_open(&st)) < 0)
		return r;
	r = hyp_store_directory(st, HYP_TXN_NONE, path, &shards, &n);
	for (i = 0; r == 0 && i < n; i++) {
		names = NULL;
		k = 0;
		snprintf(sub, sizeof(sub), "%s/%s", path, shards[i]);
		r = hyp_store_directory(st, HYP_TXN_NONE, sub, &names, &k);
		free(names);
		*count += k;
	}
	free(shards);
	hyp_store_close(st);
	return r;
}

/* Is something offered at PATH_FMT<suffix> of ours?  1, 0, or -errno. */
static int offered(domid_t self, const char *suffix)
{
	struct hyp_store *st;
	unsigned long v;
	char path[128];
	int r;

	snprintf(path, sizeof(path), PATH_FMT "%s/event-channel",
		 (unsigned)self, suffix);
	if ((r = hyp_store_open(&st)) < 0)
		return r;
	r = hyp_store_read_uint(st, HYP_TXN_NONE, path, UINT32_MAX, &v);
	hyp_store_close(st);
	return r == 0 ? 1 : r == -ENOENT ? 0 : r;
}

static void srvgc_server(unsigned peer, domid_t self)
{
	struct vchan *v;
	unsigned n = 0;
	int status, r;
	pid_t kid;

	no_connect_wait = true;
	fflush(stdout);
	kid = fork();
	if (kid == 0) {
		path_suffix = "-dead";
		if (open_end(true, peer, self, VCHAN_LAYOUT_XENVCHAN, false))
			raise(SIGKILL);   /* killed with its offer out */
		_exit(1);
	}
	if (kid < 0 || waitpid(kid, &status, 0) != kid ||
	    !WIFSIGNALED(status)) {
		FAIL("srvgc: the server to kill did not get to offer");
		return;
	}
	r = srvgc_records(self, &n);
	if (offered(self, "-dead") == 1 && r == 0 && n == 1)
		OK("srvgc: the killed server's offer and record stayed");
	else
		FAIL("srvgc: after the kill: offered %d, %u records (%d)",
		     offered(self, "-dead"), n, r);
	/* The client tries that offer before a new server removes it. */
	printf("VCHAN-READY deadoffer-left\n");
	fflush(stdout);
	if (!wait_go("go-new"))
		FAIL("srvgc: dom0 never said go-new");
	path_suffix = "-new";
	v = open_end(true, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
	if (!v)
		return;
	r = srvgc_records(self, &n);
	if (offered(self, "-dead") == 0 && r == 0 && n == 1)
		OK("srvgc: the new server's open removed them, kept its own");
	else
		FAIL("srvgc: after the new open: offered %d, %u records (%d)",
		     offered(self, "-dead"), n, r);
	printf("VCHAN-READY srvgc-new\n");
	fflush(stdout);
	livegc_echo(v, "srvgc", "the new server's channel");
	vchan_close(v);
}

/* srvgc, the client: on dom0's go, the offer the killed server left
 * (still there: no server of its domain has opened since) connects to
 * nothing: -EPIPE, not -EPROTO, for no server is there. */
static void srvgc_dead_offer(unsigned peer)
{
	struct vchan *v = NULL;
	char path[128];
	int r;

	if (wait_go("go-dead")) {
		snprintf(path, sizeof(path), PATH_FMT "-dead", peer);
		r = vchan_client_open(NULL, (int)peer, path, &v);
		if (r == -EPIPE)
			OK("srvgc: the killed server's offer: %s",
			   strerror(-r));
		else
			FAIL("srvgc: the killed server's offer: %s",
			     r ? strerror(-r) : "connected");
		vchan_close(v);
	} else {
		FAIL("srvgc: dom0 never said go-dead");
	}
	printf("VCHAN-READY deadoffer-tried\n");
	fflush(stdout);
}

/* race: client processes of one domain racing for one offer.  Each round
 * the server offers a channel, takes one message and echoes it, closes;
 * the client's domain forks RACE_PROCS processes that open it at the same
 * moment: exactly one must connect, every other one must get -EBUSY (not
 * -EPIPE: the offer's server is there), and the winner's channel
 * must work. */
#define RACE_ROUNDS 20
#define RACE_PROCS 3

static void race_server(unsigned peer, domid_t self, int rounds)
{
	uint8_t buf[64];
	struct vchan_msg m;
	struct vchan *v;
	int round, r = 0;

	no_connect_wait = true;
	for (round = 1; round <= rounds && r == 0; round++) {
		v = open_end(true, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
		if (!v)
			return;
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		r = vchan_recv(v, &m, 30000);
		if (r == 0)
			r = vchan_send(v, 0xec0, 0, buf, m.len, 30000);
		if (r < 0)
			FAIL("race: round %d: %s", round, strerror(-r));
		vchan_close(v);
	}
	if (r == 0)
		OK("race: %d rounds echoed", rounds);
}

/* The offer's channel id, once it is not `prev` (empty: any). */
static int race_next_offer(unsigned server, char *id, size_t len)
{
	struct hyp_store *st;
	char path[128], *val = NULL;
	int r, i;

	snprintf(path, sizeof(path), PATH_FMT "/vipc-channel-id", server);
	if ((r = hyp_store_open(&st)) < 0)
		return r;
	for (i = 0; i < 600; i++) {
		r = hyp_store_read(st, HYP_TXN_NONE, path, &val, NULL);
		if (r == 0 && strcmp(val, id)) {
			snprintf(id, len, "%s", val);
			free(val);
			break;
		}
		free(val);
		val = NULL;
		if (r == 0 || r == -ENOENT || r == -EACCES)
			r = -ETIMEDOUT;
		else
			break;
		usleep(20000);
	}
	hyp_store_close(st);
	return r;
}

/* One racer: wait at the start line, open, report the result (one int) on
 * `out`; the winner then waits for `finish` to close, sends one message
 * and checks its echo (exit status 0 when all went right). */
static int racer(unsigned peer, int start, int out, int finish)
{
	struct vchan_config cfg;
	struct vchan_msg m;
	struct vchan *v = NULL;
	uint8_t buf[64];
	char path[128], c;
	int r;

	if (read(start, &c, 1) < 0)
		return 2;
	vchan_config_init(&cfg);
	cfg.name = "sim-racer";
	snprintf(path, sizeof(path), PATH_FMT, peer);
	r = vchan_client_open(&cfg, (int)peer, path, &v);
	if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
		return 2;
	if (r < 0)
		return 0;
	if (read(finish, &c, 1) < 0)
		c = 0;
	m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
	r = vchan_send(v, 1, 0, "race", 4, 30000);
	if (r == 0)
		r = vchan_recv(v, &m, 30000);
	vchan_close(v);
	return r == 0 && m.type == 0xec0 && m.len == 4 ? 0 : 1;
}

static void race_client(unsigned peer, int rounds)
{
	int round, i, busy = 0, won = 0, other = 0, bad_exit = 0;
	char id[32] = "";

	for (round = 1; round <= rounds; round++) {
		int start[2], out[2], finish[2], res, status, winners = 0;
		pid_t kids[RACE_PROCS];

		if (race_next_offer(peer, id, sizeof(id)) < 0) {
			FAIL("race: round %d: no new offer", round);
			return;
		}
		if (pipe(start) || pipe(out) || pipe(finish)) {
			FAIL("race: pipe: %s", strerror(errno));
			return;
		}
		fflush(stdout);
		for (i = 0; i < RACE_PROCS; i++) {
			kids[i] = fork();
			if (kids[i] == 0) {
				close(start[1]);
				close(finish[1]);
				_exit(racer(peer, start[0], out[1],
					    finish[0]));
			}
		}
		close(start[0]);
		close(start[1]);        /* the start: EOF for all at once */
		close(finish[0]);
		for (i = 0; i < RACE_PROCS; i++) {
			if (read(out[0], &res, sizeof(res)) !=
			    (ssize_t)sizeof(res)) {
				FAIL("race: round %d: a racer said nothing",
				     round);
				break;
			}
			if (res == 0) {
				won++;
				winners++;
			} else if (res == -EBUSY) {
				busy++;
			} else {
				other++;
				FAIL("race: round %d: a racer got %s", round,
				     strerror(-res));
			}
		}
		if (winners != 1)
			FAIL("race: round %d: %d racers connected", round,
			     winners);
		close(finish[1]);       /* the winner may go on */
		close(out[0]);
		close(out[1]);
		for (i = 0; i < RACE_PROCS; i++)
			if (waitpid(kids[i], &status, 0) != kids[i] ||
			    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
				bad_exit++;
	}
	if (bad_exit)
		FAIL("race: %d racers failed after the open", bad_exit);
	if (!other && !bad_exit && won == rounds &&
	    busy == rounds * (RACE_PROCS - 1))
		OK("race: %d rounds, one winner each, %d -EBUSY", rounds,
		   busy);
}

/* reconnect: three channels in turn on one path.  Each round the server
 * takes one message, closes the channel and at once offers the next, whose
 * port is the one just freed, and waits in a receive; the last one echoes.
 * The client closes its old handle before it connects again (round 1), or
 * after (round 2): neither may end the new channel. */
#define RECONNECT_ROUNDS 3
static void reconnect_server(struct vchan *v, unsigned peer, domid_t self)
{
	struct vchan_config cfg;
	uint8_t buf[64];
	struct vchan_msg m;
	char path[128];
	int r = 0, round;

	vchan_config_init(&cfg);
	snprintf(path, sizeof(path), PATH_FMT, self);
	for (round = 1; round <= RECONNECT_ROUNDS; round++) {
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		r = vchan_recv(v, &m, 30000);
		if (r < 0 || m.type != (uint32_t)round)
			break;
		if (round == RECONNECT_ROUNDS)
			break;
		vchan_close(v);
		v = NULL;
		r = vchan_server_open(&cfg, (int)peer, path, &v);
		if (r < 0)
			break;
		printf("VCHAN-READY reconnect-%d\n", round + 1);
		fflush(stdout);
	}
	if (r == 0 && round == RECONNECT_ROUNDS)
		r = vchan_send(v, 0xec0, 0, buf, m.len, 30000);
	if (r < 0)
		FAIL("reconnect: channel %d: %s", round, strerror(-r));
	else if (round != RECONNECT_ROUNDS)
		FAIL("reconnect: channel %d: message of type %" PRIu32, round,
		     m.type);
	else
		OK("reconnect: %d channels on one path in turn", round);
	m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
	(void)vchan_recv(v, &m, 30000);   /* until the client closes */
	vchan_close(v);
}

static void reconnect_client(struct vchan *v, unsigned peer, domid_t self)
{
	uint8_t buf[64];
	struct vchan_msg m;
	struct vchan *nv;
	char go[16];
	int r, round;

	for (round = 1; round <= RECONNECT_ROUNDS; round++) {
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		r = vchan_send(v, (uint32_t)round, 0, "x", 1, 30000);
		if (r == 0)
			r = vchan_recv(v, &m, 30000);
		if (round == RECONNECT_ROUNDS) {
			if (r == 0 && m.type == 0xec0)
				OK("reconnect: echo on the last channel");
			else
				FAIL("reconnect: last channel: %d", r);
			break;
		}
		if (r != -EPIPE) {
			FAIL("reconnect: channel %d ended with %d", round, r);
			break;
		}
		/* dom0 says when the next channel is published. */
		snprintf(go, sizeof(go), "go%d", round + 1);
		if (!wait_go(go)) {
			FAIL("reconnect: dom0 never said %s", go);
			break;
		}
		if (round == 1) {
			vchan_close(v);
			v = NULL;
			/* The server's receive sees our node go, if at all. */
			usleep(300000);
		}
		nv = open_end(false, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
		vchan_close(v);
		v = nv;
		if (!v)
			return;
		usleep(300000);
	}
	vchan_close(v);
}

/* many: the library's log lines, each printed and counted; apart, those
 * saying that the domain's store watches ran out, and those about reading
 * @releaseDomain's permissions (Xen 4.17 answers a guest EINVAL).  A domain
 * has 128 watches, its kernel holds 5, and a process takes one per channel
 * and one for @releaseDomain: the first 122 channels must be watched. */
#define MANY_WATCHED 122
static int many_logs, many_watch_logs, many_at, many_full_at = -1;
static char many_first_log[256];

static void many_logger(void *arg, const char *line)
{
	/* Any watch refused (E2BIG, or the @releaseDomain one) counts. */
	bool full = strstr(line, "cannot watch") != NULL;

	(void)arg;
	if (full && many_full_at < 0)
		many_full_at = many_at;   /* said once per process */
	if (full || strstr(line, "@releaseDomain"))
		many_watch_logs++;
	else if (many_logs++ == 0)
		snprintf(many_first_log, sizeof(many_first_log), "%s", line);
	fprintf(stderr, "%s\n", line);
}

/* Descriptors this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int fds = 0;

	if (!d)
		return -1;
	while (readdir(d))
		fds++;
	closedir(d);
	return fds - 3;   /* ".", "..", and the directory's own */
}

static struct vchan_config offer_config(bool server);
static int read_conf(const char *node, char **val);

/* many-offer: the n channels opened without the store.  The server prints
 * every offer on one line ("VCHAN-READY offers REF:PORT ..."), which dom0
 * hands over in the client's data/conf/offers.  How many opened. */
static int many_offer_open(bool server, unsigned peer, int n,
			   struct vchan **v)
{
	struct vchan_config cfg = offer_config(server);
	struct vchan_offer o;
	char *line = server ? calloc((size_t)n, 24) : NULL, *p, *val = NULL;
	size_t at = 0;
	double t0;
	int i, r;

	cfg.read_order = 10;
	cfg.write_order = 11;
	if (server && !line)
		return 0;
	if (!server && (r = read_conf("data/conf/offers", &val)) < 0) {
		FAIL("many-offer: no offers handed over: %s", strerror(-r));
		return 0;
	}
	p = val;
	for (i = 0; i < n; i++) {
		if (!server) {
			unsigned ref, port;
			int used;

			if (sscanf(p, " %u:%u%n", &ref, &port, &used) != 2) {
				FAIL("many-offer: offer %d not handed over", i);
				break;
			}
			p += used;
			o = (struct vchan_offer){ ref, port };
		}
		t0 = now_s();
		r = server ? vchan_server_open_offer(&cfg, (int)peer, &o, &v[i])
			   : vchan_client_open_offer(&cfg, (int)peer, &o, &v[i]);
		open_seconds += now_s() - t0;
		if (r < 0) {
			FAIL("many-offer: channel %d of %d did not open: %s "
			     "(%d descriptors open)", i, n, strerror(-r),
			     open_fds());
			break;
		}
		if (server)
			at += (size_t)sprintf(line + at, " %" PRIu32 ":%" PRIu32,
					      o.ring_ref, o.port);
	}
	if (server) {
		printf("VCHAN-READY offers%s\n", line);
		fflush(stdout);
	}
	free(line);
	free(val);
	return i;
}

/* N channels open at once, each with one echo (the server echoes).  No
 * store node of a channel may be refused: the library may log only about
 * the watches (see many_logger); opened without the store (direct), not
 * even that. */
static void many(bool server, unsigned peer, domid_t self, int n, bool direct)
{
	struct vchan **v = calloc((size_t)n, sizeof(*v));
	char suffix[32], buf[64], sent[16];
	struct vchan_msg m;
	int i, r = 0, opened = 0, echoed = 0;

	if (!v) {
		FAIL("many: out of memory");
		return;
	}
	vchan_set_logger(many_logger, NULL);
	no_connect_wait = true;
	/* Rings in the shared page (orders 10, 11): one page per channel, as
	 * gntalloc lets a domain share 1024 at once (33 for 64 KiB rings). */
	ring_orders[0] = 10;
	ring_orders[1] = 11;
	open_seconds = 0;
	if (direct)
		opened = many_offer_open(server, peer, n, v);
	for (i = 0; i < n && !direct; i++) {
		snprintf(suffix, sizeof(suffix), "-many/m%d", i);
		path_suffix = suffix;
		many_at = i;
		v[i] = open_end(server, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
		if (!v[i]) {
			FAIL("many: channel %d of %d did not open (%d descriptors "
			     "open)", i, n, open_fds());
			break;
		}
		opened++;
	}
	/* Not a timed test: what an open costs, for the record. */
	printf("VCHAN-INFO many: %d channels open, %d descriptors, %.0f us "
	       "per open call\n", opened, open_fds(),
	       opened ? open_seconds / opened * 1e6 : 0.0);
	path_suffix = "";
	for (i = 0; i < opened && r == 0; i++) {
		m = (struct vchan_msg){ .buf = buf, .len = sizeof(buf) };
		if (server) {
			r = vchan_recv(v[i], &m, 30000);
			if (r == 0)
				r = vchan_send(v[i], 0xec0, 0, buf, m.len, 30000);
		} else {
			int len = snprintf(sent, sizeof(sent), "m%d", i);

			r = vchan_send(v[i], 1, 0, sent, (size_t)len, 30000);
			if (r == 0)
				r = vchan_recv(v[i], &m, 30000);
			if (r == 0 && (m.type != 0xec0 || m.len != (size_t)len ||
				       memcmp(buf, sent, (size_t)len)))
				r = -EBADMSG;
		}
		if (r < 0)
			FAIL("many: echo on channel %d: %s", i, strerror(-r));
		else
			echoed++;
	}
	if (many_full_at >= 0)
		printf("VCHAN-INFO many: the store watches ran out at channel "
		       "%d\n", many_full_at + 1);
	if (many_logs)
		FAIL("many: %d log line(s), the first: %s", many_logs,
		     many_first_log);
	else if (direct && many_watch_logs)
		FAIL("many-offer: %d line(s) about store watches",
		     many_watch_logs);
	else if (many_full_at >= 0 && many_full_at < MANY_WATCHED)
		FAIL("many: the store watches ran out at channel %d; the "
		     "first %d must have theirs", many_full_at + 1,
		     MANY_WATCHED);
	else if (opened == n && echoed == n)
		OK("%s: %d channels open at once, one echo on each, nothing "
		   "logged%s", direct ? "many-offer" : "many", n,
		   many_watch_logs ?
		   " but of the store watches" : "");
	/* The client closes first: the server's ends then see the hang-up. */
	if (server)
		usleep(200000);
	for (i = 0; i < opened; i++)
		vchan_close(v[i]);
	free(v);
}

static void revoke_server(struct vchan *v)
{
	uint8_t *buf = malloc(MAXMSG);
	struct vchan_stats st;
	int r = 0;

	for (int i = 0; i < 200 && r == 0; i++) {
		struct vchan_msg m = { .buf = buf, .len = MAXMSG };

		r = vchan_recv(v, &m, 30000);
	}
	if (r < 0) {
		FAIL("revoke: receive: %s", strerror(-r));
		return;
	}
	usleep(100000);   /* let the ring fill up */
	vchan_revoke(v);
	vchan_get_stats(v, &st);
	{
		struct vchan_msg m = { .buf = buf, .len = MAXMSG };

		r = vchan_recv(v, &m, 0);
	}
	if (r == -EPIPE && st.discarded > 0)
		OK("revoke: %" PRIu64 " message(s) discarded, then EPIPE",
		   st.discarded);
	else
		FAIL("revoke: after revoke %d, discarded %" PRIu64, r,
		     st.discarded);
	free(buf);
}

static void revoke_client(struct vchan *v)
{
	uint8_t *buf = calloc(1, MAXMSG);
	uint32_t seq = 0;
	int r;

	do
		r = vchan_send(v, seq, 0, buf, size_of(seq), 30000);
	while (r == 0 && ++seq < 10000000);
	if (r == -EPIPE)
		OK("revoke: sender got EPIPE after %" PRIu32 " messages", seq);
	else
		FAIL("revoke: sender got %d", r);
	free(buf);
}

/* Our framed end against a stock libxenvchan echo. */
static void echo_ours(struct vchan *v, int n)
{
	uint8_t *out = malloc(70000), *in = malloc(70000);
	int bad = 0, i;

	for (i = 0; i < n; i++) {
		size_t len = size_of((uint32_t)i) % 60000;
		struct vchan_msg m = { .buf = in, .len = 70000 };
		int r;

		fill(out, len, (uint32_t)i);
		r = vchan_send(v, (uint32_t)i, 0x7, out, len, 30000);
		if (r == 0)
			r = vchan_recv(v, &m, 30000);
		if (r < 0) {
			FAIL("echo: message %d: %s", i, strerror(-r));
			return;
		}
		if (m.len != len || m.type != (uint32_t)i || m.flags != 7 ||
		    m.seq != (uint32_t)i + 1 || memcmp(in, out, len))
			bad++;
	}
	if (bad)
		FAIL("echo: %d of %d damaged", bad, n);
	else
		OK("echo: %d framed messages through stock libxenvchan", n);
	free(out);
	free(in);
}

/* A child's crash, said where (async-signal-safe). */
static void fork_child_segv(int sig, siginfo_t *si, void *uc)
{
	char line[96], *p = line + sizeof(line);
	uintptr_t a = (uintptr_t)si->si_addr;
	static const char head[] = "VCHAN-FAIL fork child: SIGSEGV at 0x";
	ssize_t w;

	(void)uc;
	*--p = '\n';
	do {
		*--p = "0123456789abcdef"[a & 15];
		a >>= 4;
	} while (a);
	w = write(1, head, sizeof(head) - 1);
	w = write(1, p, (size_t)(line + sizeof(line) - p));
	(void)w;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* fork: a child of an end finds the inherited channel unusable and closes
 * it without touching the parent's (Xen's rule: a child may only close
 * inherited handles).  Exit status 0 when every call but close gave EBADF;
 * a close that hangs (libxenstore joining a reader thread the child does not
 * have) ends by SIGALRM.  `linger`: instead of closing, outlive the parent
 * (the library dropped the child's hold on the devices at the fork). */
static void fork_child(struct vchan *v, const char *what, void *ring,
		       int ready, bool linger)
{
	uint8_t b = 0, buf[8], vec = 0, *mine;
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan_stats st;
	int rs[7], i, bad = 0;
	ssize_t w;

	struct sigaction sa = { .sa_sigaction = fork_child_segv,
				.sa_flags = SA_SIGINFO };

	sigaction(SIGSEGV, &sa, NULL);
	alarm(FORK_CLOSE_S);
	/* The ring is not mapped here (MADV_DONTFORK), and the hole is ours:
	 * a page of our own put there must outlive the close (which must
	 * leave the child's address space alone, as Linux's does). */
	if (mincore(ring, 1, &vec) == 0 || errno != ENOMEM) {
		FAIL("%s: the ring at %p is mapped in the child", what, ring);
		bad++;
	}
	mine = mmap(ring, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mine != ring) {
		FAIL("%s: cannot map the child's own page at %p: %s", what,
		     ring, strerror(errno));
		bad++;
		mine = NULL;
	} else {
		mine[0] = 0x5a;
	}
	rs[0] = vchan_send(v, 1, 0, &b, 1, 0);
	rs[1] = vchan_recv(v, &m, 0);
	rs[2] = vchan_fd(v);
	rs[3] = vchan_events(v);
	rs[4] = vchan_is_connected(v);
	rs[5] = vchan_get_stats(v, &st);
	rs[6] = vchan_revoke(v);
	for (i = 0; i < 7; i++)
		if (rs[i] != -EBADF) {
			FAIL("%s: call %d in the child returned %d, not EBADF",
			     what, i, rs[i]);
			bad++;
		}
	if (!linger)
		vchan_close(v);
	alarm(0);
	if (mine && mine[0] != 0x5a) {   /* (a SIGSEGV if it went) */
		FAIL("%s: the child's own page changed", what);
		bad++;
	}
	w = write(ready, bad ? "F" : "K", 1);
	(void)w;
	if (linger)
		sleep(FORK_LINGER_S);
	_exit(bad != 0);
}

/* Fork a child that runs fork_child(); true once it reported its close. */
static bool fork_split(struct vchan *v, const char *what, bool linger)
{
	int p[2], st = 0;
	char c = 0;
	struct pollfd pfd;
	void *ring = NULL;
	pid_t pid;

	/* Where the ring is, page-aligned: reserve, then cancel. */
	if (vchan_reserve(v, 8, &ring, 5000) < 0 ||
	    vchan_commit(v, 0, 0, (size_t)-1) < 0) {
		FAIL("%s: reserve: cannot find the ring", what);
		return false;
	}
	ring = (void *)((uintptr_t)ring & ~(uintptr_t)4095);
	if (pipe(p) < 0 || (pid = fork()) < 0) {
		FAIL("%s: pipe/fork: %s", what, strerror(errno));
		return false;
	}
	if (pid == 0) {
		close(p[0]);
		fork_child(v, what, ring, p[1], linger);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, (FORK_CLOSE_S + 5) * 1000) != 1 ||
	    read(p[0], &c, 1) != 1)
		c = 0;
	close(p[0]);
	if (!linger && (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
			WEXITSTATUS(st) != 0))
		c = 0;
	if (c == 'K')
		OK("%s: the child got EBADF from every call and %s (pid %d)",
		   what, linger ? "lives on, its copy open" :
		   "closed its copy", (int)pid);
	else
		FAIL("%s: the child's calls or close failed or hung (status "
		     "0x%x)", what, st);
	return c == 'K';
}

/* fork: with a channel open, every descriptor of this process (past
 * stdio) closes on exec, so that a program a child execs (system(),
 * popen()) holds none of the channel's: else the peer could not see this
 * process die while that program runs. */
static void fork_cloexec(const char *what)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, bad = 0;

	if (!d) {
		FAIL("%s: /proc/self/fd: %s", what, strerror(errno));
		return;
	}
	while ((e = readdir(d))) {
		char *end, link[64], target[256] = "?";
		long fd = strtol(e->d_name, &end, 10);
		int fl;
		ssize_t k;

		if (*end || end == e->d_name || fd <= 2 || fd == dirfd(d))
			continue;
		n++;
		fl = fcntl((int)fd, F_GETFD);
		if (fl >= 0 && (fl & FD_CLOEXEC))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
		k = readlink(link, target, sizeof(target) - 1);
		target[k > 0 ? k : 1] = '\0';
		FAIL("%s: fd %ld (%s) does not close on exec", what, fd,
		     target);
		bad++;
	}
	closedir(d);
	if (!bad)
		OK("%s: all %d descriptors past stdio close on exec", what, n);
}

/* fork, server: a thread blocked in a receive (holding the receive side)
 * while the main thread forks; it takes the next message and echoes it. */
struct fork_waiter {
	struct vchan *v;
	int r;
};

static void *fork_waiter(void *arg)
{
	struct fork_waiter *w = arg;
	uint8_t buf[256];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

	w->r = vchan_recv(w->v, &m, 30000);
	if (w->r == 0)
		w->r = vchan_send(w->v, m.type, 0, buf, m.len, 5000);
	return NULL;
}

/* fork, server: echo; after the first message a child forked while another
 * thread waits in a receive (the child must not wait for that thread's
 * lock); then every echo must still go through, and the client process's
 * death (its own child lives on, its copy not even closed) must still end
 * the blocked receive. */
static void fork_server(struct vchan *v)
{
	uint8_t buf[256];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int n = 0, r;
	double t0;

	fork_cloexec("fork server");
	for (;;) {
		m.len = sizeof(buf);
		t0 = now_s();
		r = vchan_recv(v, &m, n ? KILL_MS : 30000);
		if (r < 0)
			break;
		r = vchan_send(v, m.type, 0, buf, m.len, 5000);
		if (r < 0)
			break;
		if (++n == 1) {
			struct fork_waiter w = { .v = v, .r = -EINVAL };
			pthread_t th;

			if (pthread_create(&th, NULL, fork_waiter, &w) != 0) {
				FAIL("fork: pthread_create");
				break;
			}
			usleep(100000);   /* the client waits 500 ms */
			fork_split(v, "fork server, a thread in a receive",
				   false);
			pthread_join(th, NULL);
			if (w.r < 0) {
				FAIL("fork: the waiting thread: %s",
				     strerror(-w.r));
				break;
			}
			n++;
		}
	}
	t0 = (now_s() - t0) * 1e3;
	if (r == -EPIPE && n == 2 * FORK_ECHOES + 1 && t0 < FORK_DEATH_MS)
		OK("fork: %d echoes, then the client's death seen after %.0f "
		   "ms, its child alive", n, t0);
	else
		FAIL("fork: %d echoes (want %d), then %s after %.0f ms (want "
		     "EPIPE within %d ms)", n, 2 * FORK_ECHOES + 1,
		     strerror(-r), t0, FORK_DEATH_MS);
}

static bool fork_echoes(struct vchan *v, uint32_t from, int n)
{
	uint8_t out[200], in[256];

	for (uint32_t i = from; i < from + (uint32_t)n; i++) {
		struct vchan_msg m = { .buf = in, .len = sizeof(in) };
		size_t len = 1 + i % sizeof(out);
		int r;

		fill(out, len, i);
		r = vchan_send(v, i, 0, out, len, 5000);
		if (r == 0)
			r = vchan_recv(v, &m, 5000);
		if (r < 0 || m.type != i || m.len != len ||
		    memcmp(in, out, len)) {
			FAIL("fork: echo %u: %s", i, r < 0 ? strerror(-r) :
			     "damaged");
			return false;
		}
	}
	return true;
}

/* fork, client: one echo, a child that closes its copy, echoes; a second
 * child that lives on without closing its copy, echoes; then this process
 * dies with its channel open. */
static void fork_client(struct vchan *v)
{
	bool ok;

	fork_cloexec("fork client");
	ok = fork_echoes(v, 0, 1) &&
		  fork_split(v, "fork client", false) &&
		  usleep(500000) == 0 &&   /* the server's thread waits */
		  fork_echoes(v, 1, FORK_ECHOES) &&
		  fork_split(v, "fork client (lingering child)", true) &&
		  fork_echoes(v, 1 + FORK_ECHOES, FORK_ECHOES);

	if (ok)
		OK("fork: %d echoes around two children", 2 * FORK_ECHOES + 1);
	printf("VCHAN-DONE failures=%d\n", fails);
	fflush(stdout);
	raise(SIGKILL);
}

static void sleepy(struct vchan *v, bool server, int n)
{
	uint8_t out[512], in[512];
	struct vchan_stats st;
	int i, r = 0, bad = 0;

	for (i = 0; i < n; i++) {
		size_t len = 1 + (size_t)i % sizeof(out);
		struct vchan_msg m = { .buf = in, .len = sizeof(in) };

		if (server) {
			r = vchan_recv(v, &m, 10000);
			if (r == 0)
				r = vchan_send(v, m.type, 0, in, m.len, 10000);
		} else {
			if (i % 64 == 0)
				usleep(300);   /* past the server's grace time */
			fill(out, len, (uint32_t)i);
			r = vchan_send(v, (uint32_t)i, 0, out, len, 10000);
			if (r == 0)
				r = vchan_recv(v, &m, 10000);
			if (r == 0 && (m.len != len || m.type != (uint32_t)i ||
				       memcmp(in, out, len)))
				bad++;
		}
		if (r < 0)
			break;
	}
	if (r < 0)
		FAIL("sleepy: round trip %d: %s", i, strerror(-r));
	else if (bad)
		FAIL("sleepy: %d of %d echoes damaged", bad, n);
	else if (vchan_get_stats(v, &st) < 0 || st.sleeps < (uint64_t)n / 4)
		FAIL("sleepy: %llu sleeps in %d round trips: the waits did "
		     "not sleep", (unsigned long long)st.sleeps, n);
	else
		OK("sleepy: %d round trips, %llu sleeps, %llu found by the "
		   "grace look", n, (unsigned long long)st.sleeps,
		   (unsigned long long)st.grace_hits);
}

/* mixed, server side: a thread sends a message four times the ring and
 * sleeps in vchan_flush() until the client reads it, at the end; meanwhile
 * the main thread's event loop takes the client's n messages, which come
 * MIXED_GAP_MS apart.  Both wait on the same event channel; the sleeper
 * consumes the events, and each message must still reach the loop in a
 * wake-up of its own: a wake that finds two found one late (the loop slept
 * through its event, or was off its CPU), and MIXED_WAKE_MS with none is a
 * lost one. */
struct mixed_flush {
	struct vchan *v;
	uint8_t *big;
	int ret;
};

static void *mixed_flusher(void *arg)
{
	struct mixed_flush *f = arg;
	int r = vchan_send(f->v, 7, 0, f->big, MIXED_BIG, 30000);

	f->ret = r == 0 ? vchan_flush(f->v, MIXED_FLUSH_MS) : r;
	return NULL;
}

static bool mixed_loop(struct vchan *v, int n, int *late)
{
	struct pollfd pfd = { .fd = vchan_fd(v), .events = POLLIN };
	int got = 0, r = 0;
	double last = 0;

	if (pfd.fd < 0) {
		FAIL("mixed: vchan_fd: %s", strerror(-pfd.fd));
		return false;
	}
	while (got < n) {
		int ev, k = 0;

		if (poll(&pfd, 1, MIXED_WAKE_MS) != 1) {
			FAIL("mixed: no wake-up for message %d of %d in %d ms",
			     got, n, MIXED_WAKE_MS);
			return false;
		}
		ev = vchan_events(v);
		if (ev < 0 || (ev & (VCHAN_EV_HUP | VCHAN_EV_ERR))) {
			FAIL("mixed: vchan_events: %d", ev);
			return false;
		}
		/* Take all there is: the -EAGAIN asks for the next event. */
		for (;;) {
			uint32_t val;
			struct vchan_msg m = { .buf = &val, .len = sizeof(val) };

			r = vchan_recv(v, &m, 0);
			if (r < 0)
				break;
			if (m.type != 1 || m.len != sizeof(val) ||
			    val != (uint32_t)got) {
				FAIL("mixed: message %d: type %u, %zu bytes, "
				     "value %u", got, m.type, m.len, val);
				return false;
			}
			got++;
			k++;
		}
		if (r != -EAGAIN) {
			FAIL("mixed: receive: %s", strerror(-r));
			return false;
		}
		*late += k > 1 ? k - 1 : 0;
		/* After the first, messages come MIXED_GAP_MS apart. */
		if (k && last && (now_s() - last) * 1000 > MIXED_LATE_MS)
			(*late)++;
		if (k)
			last = now_s();
	}
	return true;
}

static void mixed_server(struct vchan *v, int n)
{
	struct mixed_flush f = { .v = v, .big = malloc(MIXED_BIG), .ret = 1 };
	struct vchan_stats st = { 0 };
	pthread_t t;
	int late = 0, r;

	if (!f.big) {
		FAIL("mixed: out of memory");
		return;
	}
	fill(f.big, MIXED_BIG, 7);   /* before the flusher sends it */
	if (pthread_create(&t, NULL, mixed_flusher, &f)) {
		FAIL("mixed: cannot start the flushing thread");
		free(f.big);
		return;
	}
	/* The flusher first asleep: the race is then on every message. */
	for (int i = 0; i < 1000 && st.sleeps == 0; i++) {
		usleep(10000);
		vchan_get_stats(v, &st);
	}
	if (st.sleeps == 0)
		FAIL("mixed: the flushing thread never slept");
	printf("VCHAN-READY mixed\n");
	/* A loop held off its CPU for a gap (a loaded host, an emulated
	 * one) takes two in one wake-up too: one in ten is let pass.  One
	 * that sleeps through the sleeper's events is late on most. */
	if (mixed_loop(v, n, &late)) {
		if (late > n / 10)
			FAIL("mixed: %d of %d messages reached the event loop "
			     "late (with a later one's event, or more than "
			     "%d ms after the one before)", late, n,
			     MIXED_LATE_MS);
		else
			OK("mixed: the event loop took %d messages while a "
			   "thread slept in a flush, %d late", n, late);
	}
	pthread_join(t, NULL);
	if (f.ret == 0)
		OK("mixed: the %u-byte message went out whole",
		   (unsigned)MIXED_BIG);
	else
		FAIL("mixed: the flush ended with %d", f.ret);
	free(f.big);
	/* Now the client may close.  A message this small is in the ring
	 * once sent (no flush: the client may have read it and left). */
	r = vchan_send(v, MIXED_BYE_TYPE, 0, NULL, 0, 10000);
	if (r < 0)
		FAIL("mixed: cannot send the last word: %s", strerror(-r));
}

/* mixed, client side: n small messages MIXED_GAP_MS apart, then the big
 * one, checked byte by byte, then the server's last word. */
static void mixed_client(struct vchan *v, int n)
{
	uint8_t *in = malloc(MIXED_BIG), *want = malloc(MIXED_BIG);
	struct vchan_msg m = { .buf = in, .len = MIXED_BIG };
	int r = 0;

	if (!in || !want) {
		FAIL("mixed: out of memory");
		goto out;
	}
	fill(want, MIXED_BIG, 7);
	for (uint32_t i = 0; i < (uint32_t)n && r == 0; i++) {
		usleep(MIXED_GAP_MS * 1000);
		r = vchan_send(v, 1, 0, &i, sizeof(i), 10000);
	}
	if (r == 0)
		r = vchan_recv(v, &m, MIXED_FLUSH_MS);
	if (r < 0)
		FAIL("mixed: client: %s", strerror(-r));
	else if (m.type != 7 || m.len != MIXED_BIG || memcmp(in, want, MIXED_BIG))
		FAIL("mixed: the big message came damaged (type %u, %zu "
		     "bytes)", m.type, m.len);
	else
		OK("mixed: %d messages sent, the big one received whole", n);
	if (r < 0)
		goto out;
	m = (struct vchan_msg){ .buf = in, .len = MIXED_BIG };
	r = vchan_recv(v, &m, MIXED_FLUSH_MS);
	if (r < 0 || m.type != MIXED_BYE_TYPE || m.len != 0)
		FAIL("mixed: no last word from the server: %s, type %u",
		     r < 0 ? strerror(-r) : "ok", r < 0 ? 0 : m.type);
out:
	free(in);
	free(want);
}

/* Debian's libxenvchan as the server (65536-byte rings) or the client, on
 * vchan-sim's path; NULL (failure counted) if it cannot. */
static struct libxenvchan *stock_open(bool server)
{
	domid_t self;
	unsigned peer;
	char path[128];
	struct libxenvchan *c;
	int r;

	if ((r = sim_ids(&self, &peer)) < 0) {
		FAIL("stock: ids: %s", strerror(-r));
		return NULL;
	}
	snprintf(path, sizeof(path), PATH_FMT, server ? self : peer);
	if (server) {
		c = libxenvchan_server_init(NULL, (int)peer, path, 65536,
					    65536);
	} else {
		wait_published(peer);
		c = libxenvchan_client_init(NULL, (int)peer, path);
	}
	if (!c)
		FAIL("stock: libxenvchan init failed");
	return c;
}

/* evloop, server side: an event loop on our end, the peer a stock client
 * that dies while a child of it keeps its descriptors. */
static void evloop_server(struct vchan *v)
{
	struct pollfd pfd = { .fd = vchan_fd(v), .events = POLLIN };
	double t0 = now_s(), t;
	int wakes = 0, ev = 0;

	if (vchan_is_connected(v) != 1) {
		FAIL("evloop: the stock client never connected");
		return;
	}
	/* As an event loop does: vchan_events() only once the fd says so. */
	for (;;) {
		int left = EVLOOP_GIVEUP_MS - (int)((now_s() - t0) * 1e3);

		if (left <= 0 || poll(&pfd, 1, left) != 1)
			break;
		wakes++;
		ev = vchan_events(v);
		if (ev < 0 || (ev & VCHAN_EV_HUP))
			break;
	}
	t = (now_s() - t0) * 1e3;
	if (ev < 0)
		FAIL("evloop: vchan_events: %s", strerror(-ev));
	else if (!(ev & VCHAN_EV_HUP))
		FAIL("evloop: no HUP %.0f ms after the connection (the client "
		     "died after %d ms)", t, STOCK_DIE_MS);
	else if (t > EVLOOP_DEATH_MS)
		FAIL("evloop: HUP only %.0f ms after the connection", t);
	else
		OK("evloop: HUP %.0f ms after the connection (the client died "
		   "after %d ms, its child still holding gntdev), %d wakeups",
		   t, STOCK_DIE_MS, wakes);
}

/* stock-client forkdie: a stock libxenvchan client that forks a holder
 * (every descriptor, gntdev and evtchn among them, kept STOCK_HOLD_S) and
 * dies. */
static int stock_forkdie(void)
{
	struct libxenvchan *c = stock_open(false);
	pid_t h;

	if (!c)
		return 1;
	printf("VCHAN-READY stock-forkdie\n");
	fflush(stdout);
	h = fork();
	if (h < 0) {
		FAIL("stock forkdie: fork: %s", strerror(errno));
		return 1;
	}
	if (h == 0) {
		sleep(STOCK_HOLD_S);
		_exit(0);
	}
	usleep(STOCK_DIE_MS * 1000);
	raise(SIGKILL);
	return 1;
}

/* Echo until the peer closes; what was echoed is added to *bytes. */
static void stock_echo(struct libxenvchan *c, uint64_t *bytes_out)
{
	static char buf[65536];
	uint64_t bytes = 0;

	for (;;) {
		int n = libxenvchan_read(c, buf, sizeof(buf)), w;

		/* A blocking read fails both when the peer closed (the normal
		 * end) and on a real error: only the ring says which. */
		if (n < 0 && !libxenvchan_is_open(c))
			break;
		if (n <= 0) {
			FAIL("stock: read after %" PRIu64 " bytes returned %d",
			     bytes, n);
			break;
		}
		w = libxenvchan_write(c, buf, (size_t)n);
		if (w != n) {
			FAIL("stock: write of %d bytes after %" PRIu64
			     " returned %d", n, bytes, w);
			break;
		}
		bytes += (uint64_t)n;
	}
	if (!fails && bytes == 0)
		FAIL("stock: the peer closed before sending anything");
	else if (!fails)
		OK("stock: echoed %" PRIu64 " bytes", bytes);
	*bytes_out += bytes;
}

/* A stock end echoing bytes; a server takes `clients` clients one after
 * another on its one offer, as vchan-socket-proxy's server does (its
 * clients find the last one's cleared live byte on the page). */
static int stock(bool server, unsigned clients)
{
	struct libxenvchan *c = stock_open(server);
	uint64_t bytes = 0;

	if (!c)
		return 1;
	c->blocking = 1;
	printf("VCHAN-READY stock\n");
	fflush(stdout);
	for (unsigned k = 1; k <= clients && !fails; k++) {
		while (k > 1 && libxenvchan_is_open(c) != 1)
			if (libxenvchan_wait(c) < 0) {
				FAIL("stock: waiting for client %u: %s", k,
				     strerror(errno));
				break;
			}
		if (k > 1 && !fails)
			OK("stock: client %u connected to the same offer", k);
		if (!fails)
			stock_echo(c, &bytes);
	}
	libxenvchan_close(c);
	/* As the other modes end, so the scripts check every end alike. */
	printf("VCHAN-DONE failures=%d\n", fails);
	return fails != 0;
}

/* dom0: set a node's (or a special node's) permissions, e.g. to let the
 * test domains read @releaseDomain as vipcd does at startup. */
static int xs_chmod(const char *path, int n, char **strs)
{
	struct xs_permissions perms[8];
	struct hyp_store *st;
	int i, r;

	if (n < 1 || n > 8)
		return 2;
	for (i = 0; i < n; i++) {
		const char *s = strs[i];
		char *end;
		unsigned long id;

		switch (s[0]) {
		case 'n': perms[i].perms = XS_PERM_NONE; break;
		case 'r': perms[i].perms = XS_PERM_READ; break;
		case 'w': perms[i].perms = XS_PERM_WRITE; break;
		case 'b': perms[i].perms = XS_PERM_READ | XS_PERM_WRITE; break;
		default: goto bad;
		}
		if (s[1] < '0' || s[1] > '9')
			goto bad;
		errno = 0;
		id = strtoul(s + 1, &end, 10);
		if (errno || *end || id > 0x7fef)
			goto bad;
		perms[i].id = (unsigned)id;
		continue;
bad:
		fprintf(stderr, "xs-chmod: '%s' is not n|r|w|b + domid\n", s);
		return 2;
	}
	r = hyp_store_open(&st);
	if (r == 0)
		r = hyp_store_set_perms(st, HYP_TXN_NONE, path, perms,
					(unsigned)n);
	hyp_store_close(st);
	if (r < 0)
		fprintf(stderr, "xs-chmod %s: %s\n", path, strerror(-r));
	return r < 0;
}

/* One line "NAME VALUE" per node below path that has no children, NAME
 * relative to path (shards of the library's directories: "c/NAME"). */
static int xs_ls_one(void *top, const char *node, const char *value)
{
	printf("%s %s\n", node + strlen(top) + 1, value);
	return 0;
}

static int xs_ls(const char *path)
{
	struct hyp_store *st;
	int r = hyp_store_open(&st);

	if (r == 0) {
		r = xs_walk_leaves(st, path, xs_ls_one, (void *)path);
		hyp_store_close(st);
	}
	if (r < 0)
		fprintf(stderr, "xs-ls %s: %s\n", path, strerror(-r));
	return r < 0;
}

static int xs_write(const char *path, const char *val)
{
	struct hyp_store *st;
	int r = hyp_store_open(&st);

	if (r == 0)
		r = hyp_store_write_str(st, HYP_TXN_NONE, path, val);
	hyp_store_close(st);
	if (r < 0)
		fprintf(stderr, "xs-write %s: %s\n", path, strerror(-r));
	return r < 0;
}

/* offer: both ends open without the store, as vipcd sets channels up.  The
 * server prints the offer; dom0 hands it over (data/conf/offer in the
 * client's home, "<ring-ref> <port>"), as vipcd would over its control
 * channel. */
static struct vchan_config offer_config(bool server)
{
	struct vchan_config cfg;

	vchan_config_init(&cfg);
	cfg.read_order = ring_orders[0];
	cfg.write_order = ring_orders[1];
	cfg.max_msg = MAXMSG;
	cfg.name = server ? "sim-server" : "sim-client";
	return cfg;
}

/* A node dom0 writes in our home, once it is there (60 s at most). */
static int read_conf(const char *node, char **val)
{
	struct hyp_store *st;
	int r, i;

	*val = NULL;
	if ((r = hyp_store_open(&st)) < 0)
		return r;
	for (i = 0; i < 600; i++) {
		r = hyp_store_read(st, HYP_TXN_NONE, node, val, NULL);
		if (r != -ENOENT)
			break;
		usleep(100000);
	}
	hyp_store_close(st);
	return r;
}

static struct vchan *offer_server(unsigned peer)
{
	struct vchan_config cfg = offer_config(true);
	struct vchan_offer o;
	struct vchan *v = NULL;
	double t0 = now_s();
	int r = vchan_server_open_offer(&cfg, (int)peer, &o, &v);

	if (r < 0) {
		FAIL("offer: open server: %s", strerror(-r));
		return NULL;
	}
	OK("offer: server open in %.2f ms", (now_s() - t0) * 1e3);
	printf("VCHAN-READY offer %" PRIu32 " %" PRIu32 "\n", o.ring_ref,
	       o.port);
	fflush(stdout);
	for (int i = 0; i < 600 && vchan_is_connected(v) == 0; i++)
		usleep(50000);
	return v;
}

static struct vchan *offer_client(unsigned peer)
{
	struct vchan_config cfg = offer_config(false);
	struct vchan_offer o;
	struct vchan *v = NULL, *again = NULL;
	unsigned ref = 0, port = 0;
	char *val = NULL;
	double t0;
	int r;

	r = read_conf("data/conf/offer", &val);
	if (r < 0 || sscanf(val, "%u %u", &ref, &port) != 2) {
		FAIL("offer: no offer handed over (%s)",
		     r < 0 ? strerror(-r) : val);
		free(val);
		return NULL;
	}
	free(val);
	o = (struct vchan_offer){ .ring_ref = ref, .port = port };
	t0 = now_s();
	r = vchan_client_open_offer(&cfg, (int)peer, &o, &v);
	if (r < 0) {
		FAIL("offer: open client: %s", strerror(-r));
		return NULL;
	}
	OK("offer: client open in %.2f ms", (now_s() - t0) * 1e3);
	/* Its port is bound now: Xen refuses it to anyone else. */
	r = vchan_client_open_offer(&cfg, (int)peer, &o, &again);
	if (r == -EPIPE)
		OK("offer: the same offer opened again: EPIPE");
	else
		FAIL("offer: the same offer opened again: %d", r);
	if (r == 0)
		vchan_close(again);
	return v;
}

/* After the stream: the client's close ends a blocked receive. */
static void offer_closed(struct vchan *v)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int r = vchan_recv(v, &m, KILL_MS);

	if (r == -EPIPE)
		OK("offer: the client's close seen (EPIPE)");
	else
		FAIL("offer: after the client's close, receive returned %d",
		     r);
}

/* storecut: shut every socket of ours connected to the store's (as a
 * restarted xenstored leaves them): how many, or -errno. */
static int storecut_shut(void)
{
	const char *want = getenv("XENSTORED_PATH");
	struct sockaddr_un sa;
	socklen_t len;
	int fd, n = 0;

	if (!want)
		return -ENOENT;
	for (fd = 3; fd < 1024; fd++) {
		len = sizeof(sa);
		if (getpeername(fd, (struct sockaddr *)&sa, &len) < 0 ||
		    sa.sun_family != AF_UNIX ||
		    strncmp(sa.sun_path, want, sizeof(sa.sun_path)))
			continue;
		if (shutdown(fd, SHUT_RDWR) == 0)
			n++;
	}
	return n;
}

/* storecut: one message on v, echoed. */
static int storecut_echo(struct vchan *v)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	int r = vchan_recv(v, &m, 30000);

	return r < 0 ? r : vchan_send(v, 2, 0, buf, m.len, 30000);
}

static void storecut_server(struct vchan *v1, unsigned peer, domid_t self)
{
	struct vchan *v2;
	unsigned records = 0;
	int r;

	if ((r = storecut_echo(v1)) < 0) {
		FAIL("storecut: first channel: %s", strerror(-r));
		return;
	}
	r = storecut_shut();
	if (r < 2) {
		FAIL("storecut: shut %d store connections, not 2", r);
		return;
	}
	OK("storecut: shut %d store connections", r);
	path_suffix = "-2";
	v2 = open_end(true, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
	if (!v2)
		return;
	if ((r = storecut_echo(v2)) < 0) {
		FAIL("storecut: second channel: %s", strerror(-r));
		vchan_close(v2);
		return;
	}
	OK("storecut: a channel opened after the break");
	vchan_close(v1);
	r = srvgc_records(self, &records);
	if (r == 0 && records == 1)
		OK("storecut: the first channel's record went with it");
	else
		FAIL("storecut: %u offer records left (%s), not 1", records,
		     strerror(-r));
	r = offered(self, "");
	if (r == 0)
		OK("storecut: the first channel's offer went with it");
	else
		FAIL("storecut: the first channel's offer: %d", r);
	kill_server(v2, "storecut");
	vchan_close(v2);
}

static void storecut_client(struct vchan *v1, unsigned peer, domid_t self)
{
	uint8_t buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan *v2;
	int r;

	if ((r = round_trip(v1, "one")) < 0) {
		FAIL("storecut: first channel: %s", strerror(-r));
		return;
	}
	path_suffix = "-2";
	v2 = open_end(false, peer, self, VCHAN_LAYOUT_XENVCHAN, false);
	if (!v2)
		return;
	r = round_trip(v2, "two");
	if (r == 0)
		OK("storecut: the second channel works");
	else
		FAIL("storecut: second channel: %s", strerror(-r));
	r = vchan_recv(v1, &m, 30000);
	if (r == -EPIPE)
		OK("storecut: the first channel's close seen");
	else
		FAIL("storecut: first channel ended with %d", r);
	/* The server's blocked receive on the second waits for this. */
	(void)vchan_send(v2, 1, 0, "x", 1, 5000);
	printf("VCHAN-READY storecut-client\n");
	pause();        /* dom0 destroys the domain */
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";
	long arg = argc > 3 ? atol(argv[3]) : 0;
	bool server;
	domid_t self;
	unsigned peer;
	struct vchan *v;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "xs-write"))
		return xs_write(argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "xs-chmod"))
		return xs_chmod(argv[2], argc - 3, argv + 3);
	if (argc >= 3 && !strcmp(argv[1], "xs-ls"))
		return xs_ls(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "stock-server") &&
	    !strcmp(argv[2], "again"))
		return stock(true, (unsigned)atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "stock-server"))
		return stock(true, 1);
	if (argc >= 3 && !strcmp(argv[1], "stock-client") &&
	    !strcmp(argv[2], "forkdie"))
		return stock_forkdie();
	if (argc >= 2 && !strcmp(argv[1], "stock-client"))
		return stock(false, 1);
	if (argc < 3 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: see the comment at the top\n");
		return 2;
	}
	server = !strcmp(argv[1], "server");
	if (!strcmp(mode, "livegc-victim"))
		path_suffix = "-victim";
	else if (!strcmp(mode, "livegc-new"))
		path_suffix = "-new";
	if ((r = sim_ids(&self, &peer)) < 0) {
		FAIL("ids: %s", strerror(-r));
		return 1;
	}
	if (!strcmp(mode, "srvgc") && server) {
		srvgc_server(peer, self);
		printf("VCHAN-DONE failures=%d\n", fails);
		return fails != 0;
	}
	if (!strcmp(mode, "srvgc")) {
		srvgc_dead_offer(peer);
		path_suffix = "-new";
	}
	if (!strcmp(mode, "many") || !strcmp(mode, "many-offer")) {
		many(server, peer, self, arg > 0 ? (int)arg : MANY_CHANNELS,
		     !strcmp(mode, "many-offer"));
		printf("VCHAN-DONE failures=%d\n", fails);
		return fails != 0;
	}
	if (!strcmp(mode, "race")) {
		if (server)
			race_server(peer, self, arg > 0 ? (int)arg : RACE_ROUNDS);
		else
			race_client(peer, arg > 0 ? (int)arg : RACE_ROUNDS);
		printf("VCHAN-DONE failures=%d\n", fails);
		return fails != 0;
	}
	if (!strcmp(mode, "offer")) {
		v = server ? offer_server(peer) : offer_client(peer);
		if (v && server) {
			stream_server(v, (uint64_t)(arg ? arg : 64) << 20);
			offer_closed(v);
		} else if (v) {
			stream_client(v, (uint64_t)(arg ? arg : 64) << 20);
		}
		vchan_close(v);
		printf("VCHAN-DONE failures=%d\n", fails);
		return fails != 0;
	}
	v = open_end(server, peer, self,
		     !strcmp(mode, "lines") || !strcmp(mode, "sleepy") ?
		     VCHAN_LAYOUT_LINES : VCHAN_LAYOUT_XENVCHAN,
		     !strcmp(mode, "sleepy") || !strcmp(mode, "mixed"));
	if (!v)
		return 1;
	if (!strcmp(mode, "lines")) {
		struct vchan_stats st = { .layout = -1 };

		if (vchan_get_stats(v, &st) < 0 ||
		    st.layout != VCHAN_LAYOUT_LINES)
			FAIL("lines: this end uses layout %d", st.layout);
		else
			OK("lines: this end uses the LINES layout");
	}
	if (!strcmp(mode, "stream") || !strcmp(mode, "lines")) {
		uint64_t total = (uint64_t)(arg ? arg : 64) << 20;

		if (server)
			stream_server(v, total);
		else
			stream_client(v, total);
	} else if (!strcmp(mode, "kill")) {
		if (server) {
			kill_server(v, "kill");
		} else {
			vchan_send(v, 1, 0, "x", 1, 5000);
			printf("VCHAN-READY kill-client\n");
			pause();
		}
	} else if (!strcmp(mode, "noisy")) {
		if (server)
			noisy_server(v);
		else
			noisy_client(v, self, arg > 0 ? arg : NOISY_WRITES);
	} else if (!strcmp(mode, "killearly")) {
		if (server) {
			killearly_server(v);
		} else {
			printf("VCHAN-READY killearly-client\n");
			pause();
		}
	} else if (!strcmp(mode, "killsrv")) {
		if (server) {
			uint8_t *buf = malloc(MAXMSG);
			struct vchan_msg m = { .buf = buf, .len = MAXMSG };

			r = vchan_recv(v, &m, 30000);
			if (r < 0)
				FAIL("killsrv: first message: %s",
				     strerror(-r));
			printf("VCHAN-READY killsrv\n");
			pause();
		} else {
			killsrv_client(v);
		}
	} else if (!strcmp(mode, "pkill")) {
		if (server) {
			kill_server(v, "pkill");
		} else {
			/* Die with the channel open: only the kernel's
			 * unmap-notify tells the server. */
			vchan_send(v, 1, 0, "x", 1, 5000);
			printf("VCHAN-READY pkill-client\n");
			usleep(500000);
			raise(SIGKILL);
		}
	} else if (!strcmp(mode, "livegc")) {
		if (server)
			livegc_server(v, peer, self);
		else
			livegc_client(v, "livegc-first");
	} else if (!strcmp(mode, "srvgc")) {
		livegc_client(v, "srvgc");
	} else if (!strcmp(mode, "livegc-new")) {
		livegc_client(v, "livegc-new");
	} else if (!strcmp(mode, "livegc-victim")) {
		/* Die with the channel open, the domain living on. */
		vchan_send(v, 1, 0, "x", 1, 5000);
		printf("VCHAN-READY livegc-victim\n");
		usleep(500000);
		raise(SIGKILL);
	} else if (!strcmp(mode, "handoff")) {
		/* Each closes its own channels. */
		if (server)
			handoff_server(v, peer, self);
		else
			handoff_client(v, peer, self);
		v = NULL;
	} else if (!strcmp(mode, "reconnect")) {
		if (server)
			reconnect_server(v, peer, self);
		else
			reconnect_client(v, peer, self);
		v = NULL;
	} else if (!strcmp(mode, "storecut")) {
		if (server)
			storecut_server(v, peer, self);
		else
			storecut_client(v, peer, self);
		v = NULL;
	} else if (!strcmp(mode, "revoke")) {
		if (server)
			revoke_server(v);
		else
			revoke_client(v);
	} else if (!strcmp(mode, "fork")) {
		if (server)
			fork_server(v);
		else
			fork_client(v);
	} else if (!strcmp(mode, "sleepy")) {
		sleepy(v, server, arg ? (int)arg : 5000);
	} else if (!strcmp(mode, "echo")) {
		echo_ours(v, arg ? (int)arg : 500);
	} else if (!strcmp(mode, "evloop") && server) {
		evloop_server(v);
	} else if (!strcmp(mode, "mixed")) {
		if (server)
			mixed_server(v, arg > 0 ? (int)arg : MIXED_MESSAGES);
		else
			mixed_client(v, arg > 0 ? (int)arg : MIXED_MESSAGES);
	} else {
		FAIL("unknown mode %s", mode);
	}
	vchan_close(v);
	printf("VCHAN-DONE failures=%d\n", fails);
	return fails != 0;
}
