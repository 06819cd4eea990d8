/* SPDX-License-Identifier: MIT */
/* libFuzzer target: hostile processes on xensim's hypervisor socket.
 * The input is a script over up to eight connections (struct
 * hypsock_conn, driven in-process, see hypsock.h) of dom0 and three
 * guests: open and close connections, say HELLO (or not), send arbitrary
 * bytes or well-formed requests of every op of proto.h built from chosen
 * fields (handles of other connections' ports, grants and maps included,
 * requests with wrong lengths, fds of every sort), let a reply fail to go
 * (the process died), let mapping processes die (their owner pipes hang
 * up, and the daemon's loop runs a round), and destroy or recreate a
 * guest as the daemon's domain table does.  Every reply must be well
 * formed for its request; a closed connection must leave no port bound;
 * the isolation the tables exist for must hold (the model below);
 * at the end of each input
 * every table is empty, nothing is charged to a domain's descriptor
 * budget (some budgets are tiny, see fd_budget.h) and no fd is left over.
 * ASan/UBSan/LSan catch the rest.
 *
 * The isolation model, from Xen's rules (grant_table.c's
 * __gnttab_map_grant_ref, event_channel.c's evtchn_bind_interdomain), not
 * from the daemon's tables:
 * - grants: every ref a SHARE reply names is recorded (grant_model[],
 *   stamped with its granter's incarnation, so that a destroyed granter's
 *   records die with it) as granted to the SHARE's domid, writable or not
 *   as the SHARE asked.  A MAP that succeeds (typed or raw bytes) must
 *   name only recorded refs whose grantee is the mapping connection's
 *   domain, and may be writable only if each grant is.
 * - ports: before a BIND_INTERDOMAIN goes out, the remote port's status
 *   (the control op's view) says whether it is unbound and offered to the
 *   binder's domain; a bind that succeeds must have had such a port.
 * No coverage tells these boundaries apart, so a script may start from a
 * scene of shares (cfg & 64, see scene[]) and a MAP may aim at a
 * read-only grant asking to write (see build()). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xen/event_channel.h>
#include <xen/xen.h>

#include "domain.h"
#include "evtchn_table.h"
#include "fd_budget.h"
#include "grant_table.h"
#include "hypsock.h"
#include "loop.h"
#include "proto.h"

#include "fuzz_input.h"

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_hypsock: %s\n", what);
	abort();
}

static void failf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void failf(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_hypsock: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* --- a domain table standing in for domain.c ---------------------------- */
#define NDOMS 4
static struct sim_domain doms[NDOMS]; /* domid == index */
static bool dom_live[NDOMS];

struct sim_domain *domain_by_id(uint32_t domid)
{
	return domid < NDOMS && dom_live[domid] ? &doms[domid] : NULL;
}

struct sim_domain *domain_next(struct sim_domain *prev)
{
	for (uint32_t i = prev ? prev->domid + 1 : 0; i < NDOMS; i++)
		if (dom_live[i])
			return &doms[i];
	return NULL;
}

/* Each creation of a domain (an incarnation) gets a stamp never used
 * before, in this input or an earlier one: the grant model's records of
 * a granter are those with its current stamp. */
static uint32_t dom_stamp[NDOMS], last_stamp;

static void dom_create(uint32_t domid, uint32_t frames, uint32_t ports,
		       uint32_t max_fds)
{
	dom_stamp[domid] = ++last_stamp;
	memset(&doms[domid], 0, sizeof(doms[domid]));
	doms[domid].domid = domid;
	doms[domid].monitor_fd = -1;
	doms[domid].max_grant_frames = frames;
	doms[domid].max_event_channels = ports;
	dom_live[domid] = true;
	/* Accounts stay across inputs (never fd_budget_domain_gone()), so
	 * that the budget's log stays rate-limited. */
	if (fd_budget_domain_set(domid, "fuzz", max_fds))
		fail("fd_budget_domain_set");
	if (evtchn_domain_created(&doms[domid]) ||
	    grant_domain_created(&doms[domid]))
		fail("domain creation failed");
}

/* As domain.c's finish_destroy(): forget it, then the table hooks (which
 * close its connections through hypsock_domain_gone()). */
static void dom_destroy(uint32_t domid)
{
	dom_live[domid] = false;
	grant_domain_destroyed(&doms[domid]);
	evtchn_domain_destroyed(&doms[domid]);
	/* Whatever was charged must be back by now. */
	if (fd_budget_used(domid))
		fail("descriptors still charged to a destroyed domain");
}

/* --- connections, and what the script learnt from replies ---------------- */
#define NCONNS 8
#define NPORTS 64
#define NREFS 256
#define NIDS 32

struct port_rec {
	uint32_t domid, port;
};

struct notify_rec { /* a map or share with an unmap-notify port */
	int conn;
	uint64_t id;
	uint32_t domid, port;
};

struct hconn {
	struct hypsock_conn *c; /* NULL: closed (by us or by the daemon) */
	uint32_t domid;
	uint32_t kind;          /* as the HELLO reply accepted it */
	uint32_t max_port;
	struct port_rec ports[NPORTS]; /* bound by it, maybe unbound since */
	unsigned nports;
};

static struct hconn conns[NCONNS];
static struct port_rec ports[NPORTS]; /* any connection's, for binds */
static unsigned nports;
static struct xsp_grant_ref grefs[NREFS]; /* granted, maybe revoked */
static uint32_t gref_to[NREFS];            /* to whom, as asked */
static bool gref_w[NREFS];                 /* writable, as asked */
static unsigned ngrefs;
static uint64_t ids[NIDS]; /* map and share ids */
static unsigned nids;
static struct notify_rec notifies[NIDS * NCONNS];
static unsigned nnotifies;
static bool fail_next_send;
static bool verbose; /* FUZZ_HYPSOCK_VERBOSE: trace each request */

/* The reply the last request got through send(). */
static struct {
	unsigned sends;
	uint32_t op;
	int err;
	size_t len;
	unsigned nfds;
	uint8_t body[XSP_MSG_MAX];
	/* What each fd was when sent: the daemon may close it after. */
	struct fdinfo {
		mode_t mode;
		off_t size;
		int accmode;
	} fds[XSP_MAX_PAGES];
} rep;

static int cap_send(void *ctx, uint32_t op, int err, const void *body,
		    size_t len, const int *fds, unsigned nfds)
{
	(void)ctx;
	rep.sends++;
	if (sizeof(struct xsp_rep_hdr) + len > XSP_MSG_MAX)
		fail("reply over XSP_MSG_MAX");
	if (nfds > XSP_MAX_PAGES)
		fail("reply with too many fds");
	/* A closed fd here would make the real send fail with EBADF. */
	for (unsigned i = 0; i < nfds; i++) {
		struct stat st;
		int fl = fcntl(fds[i], F_GETFL);

		if (fl < 0 || fstat(fds[i], &st) < 0)
			fail("reply carries a closed fd");
		rep.fds[i] = (struct fdinfo){ st.st_mode, st.st_size,
					      fl & O_ACCMODE };
	}
	rep.op = op;
	rep.err = err;
	rep.len = len;
	rep.nfds = nfds;
	if (len)
		memcpy(rep.body, body, len);
	if (fail_next_send) {
		fail_next_send = false;
		return -EPIPE;
	}
	return 0;
}

static void cap_closed(void *ctx)
{
	struct hconn *h = ctx;

	h->c = NULL;
}

static const struct hypsock_transport transport = {
	.send = cap_send, .closed = cap_closed,
};

static void add_port(uint32_t domid, uint32_t port)
{
	ports[nports++ % NPORTS] = (struct port_rec){ domid, port };
	if (nports > NPORTS * 2)
		nports -= NPORTS;
}

static void add_id(uint64_t id)
{
	ids[nids++ % NIDS] = id;
	if (nids > NIDS * 2)
		nids -= NIDS;
}

static void add_notify(int conn, uint64_t id, uint32_t domid, uint32_t port)
{
	if (nnotifies < sizeof(notifies) / sizeof(notifies[0]))
		notifies[nnotifies++] = (struct notify_rec){ conn, id, domid,
							     port };
}

static void drop_notifies(int conn, bool all, uint64_t id)
{
	for (unsigned i = 0; i < nnotifies;)
		if (notifies[i].conn == conn && (all || notifies[i].id == id))
			notifies[i] = notifies[--nnotifies];
		else
			i++;
}

static bool port_held(uint32_t domid, uint32_t port)
{
	for (unsigned i = 0; i < nnotifies; i++)
		if (notifies[i].domid == domid && notifies[i].port == port)
			return true;
	return false;
}

/* A port a connection bound must be closed once its handle is, unless a
 * notify still holds it (as the Linux driver's evtchn_get()). */
static void check_ports_closed(struct hconn *h)
{
	struct xsp_ctrl_evtchn_status_rep st;

	for (unsigned i = 0; i < h->nports; i++) {
		struct port_rec *p = &h->ports[i];

		if (port_held(p->domid, p->port) ||
		    evtchn_status(0, p->domid, p->port, &st))
			continue;
		if (st.status != EVTCHNSTAT_closed)
			fail("closed handle left a port bound");
	}
	h->nports = 0;
}

/* Forget every connection the daemon closed (a drop, a domain gone). */
static void reap_closed(void)
{
	for (int i = 0; i < NCONNS; i++)
		if (!conns[i].c && (conns[i].kind || conns[i].nports)) {
			drop_notifies(i, true, 0);
			conns[i].kind = 0;
		}
	for (int i = 0; i < NCONNS; i++)
		if (!conns[i].c && conns[i].nports)
			check_ports_closed(&conns[i]);
}

/* --- picking fields ------------------------------------------------------ */
static uint32_t pick_domid(struct in *in)
{
	uint32_t s = take(in, 1) % 10;

	if (s < NDOMS + 1)
		return s; /* the domains, and one that never existed */
	if (s == 5)
		return DOMID_SELF;
	if (s == 6)
		return DOMID_INVALID;
	if (s == 7)
		return DOMID_FIRST_RESERVED;
	return take(in, 4);
}

static uint32_t pick_port(struct in *in, uint32_t *domid)
{
	uint32_t s = take(in, 1);

	if (s < 0xc0 && nports) {
		struct port_rec *p = &ports[s % (nports < NPORTS ? nports
								  : NPORTS)];
		if (domid)
			*domid = p->domid;
		return p->port;
	}
	if (domid)
		*domid = pick_domid(in);
	switch (s & 7) {
	case 0: return 0;
	case 1: return 1023;
	case 2: return 1024;
	case 3: return XSP_NO_NOTIFY_PORT;
	case 4: return 1u << 17;
	default: return take(in, 4);
	}
}

static uint64_t pick_id(struct in *in)
{
	uint32_t s = take(in, 1);

	if (s < 0xc0 && nids)
		return ids[s % (nids < NIDS ? nids : NIDS)];
	return s & 1 ? s >> 1 : ((uint64_t)take(in, 4) << 32 | take(in, 4));
}

static uint32_t pick_count(struct in *in)
{
	uint32_t s = take(in, 1);

	switch (s >> 5) {
	case 0: return 0;
	case 1: return XSP_MAX_PAGES;
	case 2: return XSP_MAX_PAGES + 1;
	case 3: return take(in, 4);
	default: return 1 + (s & 7);
	}
}

static uint32_t pick_offset(struct in *in)
{
	uint32_t s = take(in, 1);

	switch (s & 3) {
	case 0: return XSP_NO_NOTIFY_OFFSET;
	case 1: return s >> 2;
	case 2: return XSP_PAGE_SIZE - 1 + (s >> 7);
	default: return take(in, 4);
	}
}

/* --- mappings' owner pipes ------------------------------------------------ */
/* The daemon watches a MAP's owner pipe in its loop: ours, run a round at a
 * time. The write ends stay here, as in the mapping process, until a step
 * lets them go (the process died) or the input ends. */
#define NOWNERS 8
static struct loop *loop;
static int owner_w[NOWNERS];
static unsigned nowners;

static void loop_stop_cb(void *ctx)
{
	loop_stop(ctx);
}

/* One round of the daemon's loop: the hang-ups of closed owner pipes. */
static void loop_round(void)
{
	if (loop_defer(loop, loop_stop_cb, loop))
		fail("loop_defer");
	if (loop_run(loop))
		fail("loop_run");
}

/* The mapping processes die: their owner pipes hang up (some of them). */
static void owners_let_go(unsigned mask)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < nowners; i++) {
		if (mask >> (i % 8) & 1)
			close(owner_w[i]);
		else
			owner_w[kept++] = owner_w[i];
	}
	nowners = kept;
	loop_round();
}

/* --- fds a request may carry --------------------------------------------- */
static bool want_pipe; /* the request's right fd is an owner pipe */

/* A memfd of pages pages as the library makes it (or, want_pipe, the read
 * end of an owner pipe), or a wrong one. */
static int make_fd(unsigned sort, uint32_t pages)
{
	int fd = -1, ro, p[2];
	char path[64];

	if (pages > XSP_MAX_PAGES + 1)
		pages = XSP_MAX_PAGES + 1;
	if (want_pipe && sort % 6 == 0) {
		if (pipe2(p, O_CLOEXEC) < 0)
			fail("pipe");
		if (nowners < NOWNERS && sort % 12 == 0)
			owner_w[nowners++] = p[1];
		else
			close(p[1]); /* already dead */
		return p[0];
	}
	switch (sort % 6) {
	case 0: /* the right one */
	case 1: /* pre-sealed against writes */
	case 2: /* a read-only reopen */
		fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd < 0 || ftruncate(fd, (off_t)pages * XSP_PAGE_SIZE) < 0)
			fail("memfd");
		if (sort % 6 == 1)
			fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE);
		if (sort % 6 == 2) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			ro = open(path, O_RDONLY | O_CLOEXEC);
			close(fd);
			fd = ro;
		}
		break;
	case 3: /* no sealing allowed */
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)pages * XSP_PAGE_SIZE) < 0)
			fail("memfd");
		break;
	case 4:
		fd = eventfd(0, EFD_CLOEXEC);
		break;
	default:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	}
	if (fd < 0)
		fail("could not make an fd");
	return fd;
}

static bool sort_is_memfd(unsigned sort)
{
	return sort % 6 <= 1; /* writable memfds */
}

/* --- requests ------------------------------------------------------------ */
struct reqbuf {
	uint8_t b[XSP_MSG_MAX + 16];
	size_t len;
	int fds[2];
	unsigned nfds;
	int sharer_fd; /* the sharer's own copy of a SHARE's memfd, or -1 */
};

static struct reqbuf rq;

static void req_start(uint32_t op)
{
	struct xsp_req_hdr h = { .op = op };

	memcpy(rq.b, &h, sizeof(h));
	rq.len = sizeof(h);
	rq.nfds = 0;
	rq.sharer_fd = -1;
}

static void req_put(const void *p, size_t n)
{
	if (rq.len + n > sizeof(rq.b))
		n = sizeof(rq.b) - rq.len;
	memcpy(rq.b + rq.len, p, n);
	rq.len += n;
}

/* Fill in the header's length, or get it wrong as the input says. */
static void req_frame(struct in *in)
{
	uint32_t s = take(in, 1), len;

	if (s < 0xe0) {
		len = (uint32_t)rq.len;
	} else {
		switch (s & 3) {
		case 0: len = (uint32_t)rq.len + 1; break;
		case 1: len = (uint32_t)rq.len - 1; break;
		case 2: /* truncated, header length to match */
			rq.len -= rq.len > 8 ? 1 + (s >> 2) % (rq.len - 8) : 0;
			len = (uint32_t)rq.len;
			break;
		default: /* a byte too many, header to match */
			rq.b[rq.len++] = 0;
			len = (uint32_t)rq.len;
			break;
		}
	}
	memcpy(rq.b + 4, &len, sizeof(len));
}

/* fds as the request's op wants them (want), or others, as the input says */
static void req_fds(struct in *in, unsigned want, uint32_t pages)
{
	uint32_t s = take(in, 1);
	unsigned n = want;

	if (s >= 0xe0)
		n = (s >> 3) % 3;
	for (unsigned i = 0; i < n; i++) {
		unsigned sort = i ? take(in, 1) : (s < 0xc0 ? 0 : s);
		uint32_t np = pages;

		if (s >= 0xa0 && s < 0xc0)
			np = pages ? pages - 1 : 0; /* one page short */
		rq.fds[rq.nfds++] = make_fd(sort, np);
	}
	/* As the library keeps its memfd: it must not be able to shrink
	 * the pages it granted. */
	if (want == 1 && n == 1 && sort_is_memfd(s < 0xc0 ? 0 : s))
		rq.sharer_fd = dup(rq.fds[0]);
}

/* --- the reply's shape, per op ------------------------------------------- */
static void expect_fd(unsigned i, bool fifo, int accmode, off_t min_size)
{
	const struct fdinfo *f = &rep.fds[i];

	if (fifo && !S_ISFIFO(f->mode))
		fail("reply fd is no pipe");
	if (!fifo && (!S_ISREG(f->mode) || f->size < min_size))
		fail("reply fd is no memfd of the right size");
	if (accmode >= 0 && f->accmode != accmode)
		fail("reply fd has the wrong access mode");
}

/* A new port's status: dom, and rport or the virq, as bound. */
static void check_status(uint32_t domid, uint32_t port, uint32_t status,
			 uint32_t dom, uint32_t rport)
{
	struct xsp_ctrl_evtchn_status_rep st;

	if (evtchn_status(0, domid, port, &st) || st.status != status ||
	    (status != EVTCHNSTAT_virq && st.dom != dom) ||
	    (status == EVTCHNSTAT_interdomain && st.port != rport) ||
	    (status == EVTCHNSTAT_virq && st.virq != rport))
		fail("new port's status is wrong");
}

/* --- the isolation model (see the top of the file) ----------------------- */
/* Refs a granter's table holds at Xen's default of 64 frames of 512 (the
 * most any domain here gets): a ref beyond is not recorded, nor checked. */
#define MODEL_REFS (64u * 512u)

struct grant_rec {
	uint32_t stamp;    /* the granter's dom_stamp then; else stale */
	uint32_t grantee;  /* the SHARE's domid */
	bool writable;     /* the SHARE's */
};

static struct grant_rec grant_model[NDOMS][MODEL_REFS]; /* granter, ref */

/* The BIND_INTERDOMAIN in rq (if it is one): its remote port, and whether
 * that port was unbound and offered to the binder when it went. */
static struct {
	uint32_t dom, port;
	bool offered;
} bind_pre;

/* rq's body, if rq is a request of op with n bytes of body at least. */
static const uint8_t *rq_body(uint32_t op, size_t n)
{
	struct xsp_req_hdr hdr;

	if (rq.len < sizeof(hdr) + n)
		return NULL;
	memcpy(&hdr, rq.b, sizeof(hdr));
	return hdr.op == op ? rq.b + sizeof(hdr) : NULL;
}

/* Before rq goes on h: what a bind's success will need to have held. */
static void model_before(const struct hconn *h)
{
	const uint8_t *b = rq_body(XSP_OP_EVTCHN_BIND_INTERDOMAIN,
				   sizeof(struct xsp_evtchn_bind));
	struct xsp_ctrl_evtchn_status_rep st;
	struct xsp_evtchn_bind x;

	bind_pre.offered = false;
	if (!b)
		return;
	memcpy(&x, b, sizeof(x));
	bind_pre.dom = x.remote_dom == DOMID_SELF ? h->domid : x.remote_dom;
	bind_pre.port = x.remote_port;
	/* Xen: the remote port must be ECS_UNBOUND with remote_domid the
	 * binder (Xen resolves DOMID_SELF when the port is allocated). */
	bind_pre.offered = !evtchn_status(0, bind_pre.dom, bind_pre.port,
					  &st) &&
			   st.status == EVTCHNSTAT_unbound &&
			   st.dom == h->domid;
}

/* Record the refs a SHARE reply named: granted by h's domain. */
static void model_share(const struct hconn *h)
{
	const uint8_t *b = rq_body(XSP_OP_GNTSHR_SHARE,
				   sizeof(struct xsp_gntshr_share));
	struct xsp_gntshr_share x;
	struct xsp_gntshr_share_rep sr;
	uint32_t ref;

	if (!b || rep.len < sizeof(sr) || h->domid >= NDOMS)
		return; /* the reply's shape is check_reply()'s */
	memcpy(&x, b, sizeof(x));
	memcpy(&sr, rep.body, sizeof(sr));
	for (uint32_t i = 0; i < sr.count &&
	     sizeof(sr) + ((size_t)i + 1) * 4 <= rep.len; i++) {
		memcpy(&ref, rep.body + sizeof(sr) + (size_t)i * 4, 4);
		if (ref < MODEL_REFS)
			grant_model[h->domid][ref] = (struct grant_rec){
				dom_stamp[h->domid], x.domid, x.writable != 0 };
	}
}

/* A MAP on h succeeded: every ref granted to h's domain, and writable if
 * the map is. */
static void model_map(const struct hconn *h)
{
	const uint8_t *b = rq_body(XSP_OP_GNTTAB_MAP,
				   sizeof(struct xsp_gnttab_map));
	struct xsp_gnttab_map x;
	struct xsp_grant_ref g;

	if (!b)
		fail("MAP succeeded without its fields");
	memcpy(&x, b, sizeof(x));
	for (uint32_t i = 0; i < x.count; i++) {
		size_t at = sizeof(struct xsp_req_hdr) + sizeof(x) +
			    (size_t)i * sizeof(g);
		const struct grant_rec *r;

		if (at + sizeof(g) > rq.len)
			fail("MAP succeeded with refs missing");
		memcpy(&g, rq.b + at, sizeof(g));
		if (g.domid >= NDOMS)
			failf("dom%u mapped ref %u of dom%u, which never "
			      "granted it", h->domid, g.ref, g.domid);
		if (g.ref >= MODEL_REFS)
			continue;
		r = &grant_model[g.domid][g.ref];
		if (r->stamp != dom_stamp[g.domid])
			failf("dom%u mapped ref %u of dom%u, never granted",
			      h->domid, g.ref, g.domid);
		if (r->grantee != h->domid)
			failf("dom%u mapped ref %u of dom%u, granted to dom%u",
			      h->domid, g.ref, g.domid, r->grantee);
		if ((x.writable & XSP_MAP_WRITE) && !r->writable)
			failf("dom%u mapped read-only ref %u of dom%u "
			      "writable", h->domid, g.ref, g.domid);
	}
}

/* After rq's reply: a success must have kept to the model. */
static void model_after(const struct hconn *h)
{
	struct xsp_req_hdr hdr;

	if (rep.sends != 1 || rep.err || rq.len < sizeof(hdr))
		return;
	memcpy(&hdr, rq.b, sizeof(hdr));
	if (rep.op != hdr.op)
		return;
	switch (hdr.op) {
	case XSP_OP_GNTSHR_SHARE:
		model_share(h);
		break;
	case XSP_OP_GNTTAB_MAP:
		model_map(h);
		break;
	case XSP_OP_EVTCHN_BIND_INTERDOMAIN:
		if (!bind_pre.offered)
			failf("dom%u bound port %u of dom%u, not offered to it",
			      h->domid, bind_pre.port, bind_pre.dom);
		break;
	default:
		break;
	}
}

struct sent {
	int conn;
	uint32_t op;
	uint32_t kind;            /* HELLO */
	uint32_t count;           /* MAP, SHARE */
	bool writable;            /* MAP, SHARE */
	uint32_t notify_port;     /* MAP, SHARE */
	uint32_t dom, port, virq; /* binds */
	uint32_t first;           /* DOMINFO */
	uint32_t max;             /* DOMINFO */
	uint64_t id;              /* UNMAP, UNSHARE */
	uint32_t ufirst;          /* UNSHARE */
	bool well_formed;
	bool raw;                 /* arbitrary bytes */
};

static void check_reply(const struct sent *s, int rc)
{
	struct hconn *h = &conns[s->conn];
	size_t body = 0;
	unsigned nfds = 0;

	if (rep.sends > 1)
		fail("more than one reply to a request");
	if (!rep.sends) {
		if (!rc)
			fail("a request kept its connection without a reply");
		return;
	}
	if (rep.op != s->op)
		fail("reply's op is not the request's");
	if (rep.err < 0 || rep.err > 133)
		fail("reply's errno out of range");
	if (rep.err) {
		if (rep.len || rep.nfds)
			fail("error reply with a body or fds");
		return;
	}
	if (s->raw) {
		if (s->op == XSP_OP_HELLO && !rc && rep.len >= 16) {
			h->kind = s->kind;
			memcpy(&h->max_port, rep.body + 12, 4);
		}
		return;
	}
	if (!s->well_formed)
		fail("malformed request succeeded");
	switch (s->op) {
	case XSP_OP_HELLO: {
		struct xsp_hello_rep hr;

		body = sizeof(hr);
		nfds = s->kind == XSP_KIND_EVTCHN;
		if (rep.len != body || rep.nfds != nfds)
			break;
		memcpy(&hr, rep.body, sizeof(hr));
		if (hr.version != XSP_VERSION || hr.domid != h->domid)
			fail("HELLO reply's version or domid");
		if (nfds) {
			if (hr.max_port == 0 || hr.gen_bytes % XSP_PAGE_SIZE ||
			    hr.gen_bytes < (hr.max_port + 1) * 4)
				fail("HELLO reply's generation page size");
			expect_fd(0, false, O_RDONLY, hr.gen_bytes);
		}
		if (!rc) {
			h->kind = s->kind;
			h->max_port = hr.max_port;
		}
		break;
	}
	case XSP_OP_EVTCHN_BIND_UNBOUND:
	case XSP_OP_EVTCHN_BIND_INTERDOMAIN:
	case XSP_OP_EVTCHN_BIND_VIRQ: {
		struct xsp_evtchn_port p;

		body = sizeof(p);
		nfds = 1;
		if (rep.len != body || rep.nfds != nfds)
			break;
		memcpy(&p, rep.body, sizeof(p));
		if (p.port == 0 || p.port > h->max_port)
			fail("bind reply's port out of range");
		expect_fd(0, true, O_RDONLY, 0);
		if (rc)
			break; /* undone with the connection */
		if (s->op == XSP_OP_EVTCHN_BIND_UNBOUND)
			check_status(h->domid, p.port, EVTCHNSTAT_unbound,
				     s->dom == DOMID_SELF ? h->domid : s->dom,
				     0);
		else if (s->op == XSP_OP_EVTCHN_BIND_INTERDOMAIN)
			check_status(h->domid, p.port, EVTCHNSTAT_interdomain,
				     s->dom == DOMID_SELF ? h->domid : s->dom,
				     s->port);
		else
			check_status(h->domid, p.port, EVTCHNSTAT_virq, 0,
				     s->virq);
		add_port(h->domid, p.port);
		if (h->nports < NPORTS)
			h->ports[h->nports++] =
				(struct port_rec){ h->domid, p.port };
		break;
	}
	case XSP_OP_EVTCHN_UNBIND:
		body = sizeof(struct xsp_evtchn_port);
		if (rep.len == body && memcmp(rep.body, &s->port, 4))
			fail("UNBIND reply's port");
		for (unsigned i = 0; i < h->nports; i++)
			if (h->ports[i].port == s->port)
				h->ports[i--] = h->ports[--h->nports];
		break;
	case XSP_OP_EVTCHN_PEER: {
		struct xsp_evtchn_peer_rep pr;

		body = sizeof(pr);
		if (rep.len != body)
			break;
		memcpy(&pr, rep.body, sizeof(pr));
		nfds = pr.connected;
		if (pr.port != s->port || pr.connected > 1)
			fail("PEER reply's port or connected");
		if (rep.nfds == 1 && nfds == 1)
			expect_fd(0, true, O_RDWR, 0);
		break;
	}
	case XSP_OP_GNTTAB_MAP: {
		struct xsp_gnttab_map_rep mr;
		struct xsp_map_page pg;

		body = sizeof(mr) + (size_t)s->count * sizeof(pg);
		if (rep.len != body)
			break;
		memcpy(&mr, rep.body, sizeof(mr));
		nfds = rep.nfds;
		if (mr.count != s->count || !nfds || nfds > s->count)
			fail("MAP reply's count or fds");
		for (uint32_t i = 0; i < s->count; i++) {
			memcpy(&pg, rep.body + sizeof(mr) + i * sizeof(pg),
			       sizeof(pg));
			if (pg.fd_index >= nfds)
				fail("MAP reply's fd index");
			/* A read-only grant never hands out a writable fd. */
			expect_fd(pg.fd_index, false,
				  s->writable ? -1 : O_RDONLY,
				  ((off_t)pg.page + 1) * XSP_PAGE_SIZE);
		}
		if (!rc) {
			add_id(mr.map_id);
			if (s->notify_port != XSP_NO_NOTIFY_PORT)
				add_notify(s->conn, mr.map_id, h->domid,
					   s->notify_port);
		}
		break;
	}
	case XSP_OP_GNTSHR_SHARE: {
		struct xsp_gntshr_share_rep sr;
		uint32_t ref;

		body = sizeof(sr) + (size_t)s->count * 4;
		if (rep.len != body)
			break;
		memcpy(&sr, rep.body, sizeof(sr));
		if (sr.count != s->count)
			fail("SHARE reply's count");
		for (uint32_t i = 0; i < s->count && !rc; i++) {
			memcpy(&ref, rep.body + sizeof(sr) + i * 4, 4);
			if (ref < 8)
				fail("SHARE reply gave a reserved ref");
			if (i < 16) {
				gref_to[ngrefs % NREFS] = s->dom;
				gref_w[ngrefs % NREFS] = s->writable;
				grefs[ngrefs++ % NREFS] =
					(struct xsp_grant_ref){ h->domid, ref };
				if (ngrefs > 2 * NREFS)
					ngrefs -= NREFS;
			}
		}
		if (rq.sharer_fd >= 0 && !rc) {
			struct stat st;

			if (!ftruncate(rq.sharer_fd, 0) ||
			    fstat(rq.sharer_fd, &st) ||
			    st.st_size < (off_t)s->count * XSP_PAGE_SIZE)
				fail("granted pages can shrink");
		}
		if (!rc) {
			add_id(sr.share_id);
			if (s->notify_port != XSP_NO_NOTIFY_PORT)
				add_notify(s->conn, sr.share_id, h->domid,
					   s->notify_port);
		}
		break;
	}
	case XSP_OP_GNTTAB_UNMAP:
	case XSP_OP_GNTTAB_DISCARD: /* the notify goes unfired */
		if (!rc)
			drop_notifies(s->conn, false, s->id);
		break;
	case XSP_OP_GNTSHR_UNSHARE:
		/* gntalloc fires the notify when page 0's ref goes. */
		if (!rc && s->ufirst == 0)
			drop_notifies(s->conn, false, s->id);
		break;
	case XSP_OP_CTRL_DOMINFO: {
		struct xsp_ctrl_dominfo_rep dr;
		struct xsp_dominfo di;
		uint32_t prev = 0;

		if (rep.len < sizeof(dr))
			fail("DOMINFO reply too short");
		memcpy(&dr, rep.body, sizeof(dr));
		body = sizeof(dr) + (size_t)dr.count * sizeof(di);
		if (dr.count > s->max || dr.count > XSP_DOMINFO_MAX)
			fail("DOMINFO reply over max");
		for (uint32_t i = 0; i < dr.count && rep.len == body; i++) {
			memcpy(&di, rep.body + sizeof(dr) + i * sizeof(di),
			       sizeof(di));
			if (di.domid < s->first || (i && di.domid <= prev) ||
			    !domain_by_id(di.domid))
				fail("DOMINFO reply's domains");
			prev = di.domid;
		}
		break;
	}
	case XSP_OP_CTRL_EVTCHN_STATUS:
		body = sizeof(struct xsp_ctrl_evtchn_status_rep);
		break;
	default: /* RESTRICT, SET_MAX */
		break;
	}
	if (rep.len != body || rep.nfds != nfds)
		fail("reply's length or fd count is wrong for its op");
}

/* Send rq on connection i, as hypsock_sock.c's on_conn() does. */
static void send_req(const struct sent *s)
{
	struct hconn *h = &conns[s->conn];
	int rc;

	memset(&rep, 0, offsetof(__typeof__(rep), body));
	model_before(h);
	rc = hypsock_conn_request(h->c, rq.b, rq.len, rq.fds, rq.nfds);
	if (rc != 0 && rc != -1)
		fail("request returned neither 0 nor -1");
	/* An error reply for an op never sent (the request was
	 * malformed) is as good a reply: the checks look at its op. */
	if (verbose)
		fprintf(stderr, "conn %d dom %u op %u len %zu nfds %u: rc %d "
			"replies %u err %d len %zu nfds %u\n", s->conn,
			h->domid, s->op, rq.len, rq.nfds, rc, rep.sends,
			rep.err, rep.len, rep.nfds);
	check_reply(s, rc);
	model_after(h);
	for (unsigned i = 0; i < rq.nfds; i++)
		if (rq.fds[i] >= 0)
			close(rq.fds[i]);
	rq.nfds = 0;
	if (rq.sharer_fd >= 0)
		close(rq.sharer_fd);
	rq.sharer_fd = -1;
	if (rc)
		hypsock_conn_close(h->c);
	reap_closed();
}

/* --- the script ---------------------------------------------------------- */
static void build(struct in *in, struct sent *s, uint32_t op_sel)
{
	static const uint32_t ops[] = {
		XSP_OP_HELLO, XSP_OP_EVTCHN_BIND_UNBOUND,
		XSP_OP_EVTCHN_BIND_INTERDOMAIN, XSP_OP_EVTCHN_BIND_VIRQ,
		XSP_OP_EVTCHN_UNBIND, XSP_OP_EVTCHN_PEER,
		XSP_OP_EVTCHN_RESTRICT, XSP_OP_GNTTAB_SET_MAX,
		XSP_OP_GNTTAB_MAP, XSP_OP_GNTTAB_UNMAP, XSP_OP_GNTTAB_DISCARD,
		XSP_OP_GNTSHR_SHARE,
		XSP_OP_GNTSHR_UNSHARE, XSP_OP_CTRL_DOMINFO,
		XSP_OP_CTRL_EVTCHN_STATUS, XSP_OP_MORE_FDS,
	};
	uint32_t op = ops[op_sel % (sizeof(ops) / sizeof(ops[0]))];
	unsigned want_fds = 0;
	uint32_t pages = 0;

	s->op = op;
	s->well_formed = true;
	req_start(op);
	switch (op) {
	case XSP_OP_HELLO: {
		uint32_t v = take(in, 1);
		struct xsp_hello x = {
			.magic = v & 0x80 ? take(in, 4) : XSP_MAGIC,
			.version = v & 0x40 ? 2 : XSP_VERSION,
			.kind = v % 6,
		};

		s->kind = x.kind;
		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_EVTCHN_BIND_UNBOUND:
	case XSP_OP_EVTCHN_BIND_INTERDOMAIN:
	case XSP_OP_EVTCHN_BIND_VIRQ: {
		struct xsp_evtchn_bind x = { 0 };

		if (op == XSP_OP_EVTCHN_BIND_INTERDOMAIN)
			x.remote_port = pick_port(in, &x.remote_dom);
		else
			x.remote_dom = pick_domid(in);
		x.virq = take(in, 1) % 30;
		s->dom = x.remote_dom;
		s->port = x.remote_port;
		s->virq = x.virq;
		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_EVTCHN_UNBIND:
	case XSP_OP_EVTCHN_PEER: {
		struct xsp_evtchn_port x = { .port = pick_port(in, NULL) };

		s->port = x.port;
		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_EVTCHN_RESTRICT: {
		struct xsp_evtchn_restrict x = { .domid = pick_domid(in) };

		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_GNTTAB_SET_MAX: {
		struct xsp_gnttab_set_max x = { .count = pick_count(in) };

		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_GNTTAB_MAP: {
		uint32_t n, o, w = 0;
		struct xsp_gnttab_map x = {
			.count = pick_count(in),
			.writable = (w = take(in, 1)) & 1,
			.notify_offset = pick_offset(in),
		};
		int first = -1; /* grefs[] index of the first ref */

		x.notify_port = take(in, 1) & 1 ? pick_port(in, NULL)
						: XSP_NO_NOTIFY_PORT;
		/* With a byte to clear, mostly an owner pipe (the library
		 * sends one); now and then one without a byte. */
		o = take(in, 1);
		if ((x.notify_offset < XSP_PAGE_SIZE && o & 1) || o == 0xff) {
			want_fds = 1;
			want_pipe = true;
		}
		s->count = x.count;
		s->writable = x.writable;
		s->notify_port = x.notify_port;
		req_put(&x, sizeof(x));
		/* The refs the count says, mostly: the last ones repeat. */
		n = x.count <= XSP_MAX_PAGES + 1 ? x.count : 4;
		for (uint32_t i = 0; i < n; i++) {
			static struct xsp_grant_ref g;
			uint32_t t = i < 8 ? take(in, 1) : 0;

			if (i < 8 && t < 0xc0 && ngrefs) {
				unsigned nr = ngrefs < NREFS ? ngrefs : NREFS;
				unsigned k = t % nr;

				/* Mostly one granted to this domain, so that
				 * maps get past the ref checks (aiming, below:
				 * a read-only one); else one granted to
				 * another, which no map may take. */
				for (unsigned j = 0; j < nr; j++) {
					unsigned c = (k + j) % nr;
					bool own = gref_to[c] ==
						   conns[s->conn].domid;

					if (t < 0x80 ? own &&
						       !(w & 2 && gref_w[c])
						     : !own) {
						k = c;
						break;
					}
				}
				g = grefs[k];
				if (i == 0)
					first = (int)k;
			}
			else if (i < 8)
				g = (struct xsp_grant_ref){
					pick_domid(in), take(in, 2) };
			req_put(&g, sizeof(g));
		}
		/* Now and then aim at the boundary a coverage signal does not
		 * show: a read-only grant asked for writable, with nothing
		 * else (a byte to clear, an owner pipe) to refuse it for. */
		if (w & 2 && first >= 0 && !gref_w[first]) {
			x.writable = XSP_MAP_WRITE;
			x.notify_offset = XSP_NO_NOTIFY_OFFSET;
			want_fds = 0;
			want_pipe = false;
			s->writable = true;
			memcpy(rq.b + sizeof(struct xsp_req_hdr), &x,
			       sizeof(x));
		}
		break;
	}
	case XSP_OP_GNTTAB_UNMAP:
	case XSP_OP_GNTTAB_DISCARD: {
		struct xsp_gnttab_unmap x = { .map_id = pick_id(in) };

		s->id = x.map_id;
		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_GNTSHR_SHARE: {
		struct xsp_gntshr_share x = {
			.domid = pick_domid(in),
			.count = pick_count(in),
			.writable = take(in, 1) & 1,
			.notify_offset = pick_offset(in),
		};

		x.notify_port = take(in, 1) & 1 ? pick_port(in, NULL)
						: XSP_NO_NOTIFY_PORT;
		s->count = x.count;
		s->writable = x.writable;
		s->notify_port = x.notify_port;
		s->dom = x.domid;
		req_put(&x, sizeof(x));
		want_fds = 1;
		pages = x.count;
		break;
	}
	case XSP_OP_GNTSHR_UNSHARE: {
		struct xsp_gntshr_unshare x = {
			.share_id = pick_id(in),
			.first = take(in, 1) % 10,
			.count = take(in, 1) % 10,
		};

		if (x.first == 9)
			x.first = take(in, 4);
		if (x.count == 9)
			x.count = take(in, 4);
		s->id = x.share_id;
		s->ufirst = x.first;
		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_CTRL_DOMINFO: {
		struct xsp_ctrl_dominfo x = {
			.first_domid = take(in, 1) % 6,
			.max = take(in, 1) % 6,
		};

		if (x.max == 5)
			x.max = take(in, 4);
		s->first = x.first_domid;
		s->max = x.max;
		req_put(&x, sizeof(x));
		break;
	}
	case XSP_OP_CTRL_EVTCHN_STATUS: {
		struct xsp_ctrl_evtchn_status x;

		x.port = pick_port(in, &x.domid);
		req_put(&x, sizeof(x));
		break;
	}
	default: /* MORE_FDS: never a request */
		s->well_formed = false;
		break;
	}
	req_frame(in);
	req_fds(in, want_fds, pages);
	want_pipe = false;
	/* A success is only allowed for a request of the right length and
	 * fd count on a connection of the right kind; the checks of the
	 * reply's shape above assume it. */
	{
		struct xsp_req_hdr hdr;
		static const uint8_t kind_of[] = {
			[XSP_OP_EVTCHN_BIND_UNBOUND] = XSP_KIND_EVTCHN,
			[XSP_OP_EVTCHN_BIND_INTERDOMAIN] = XSP_KIND_EVTCHN,
			[XSP_OP_EVTCHN_BIND_VIRQ] = XSP_KIND_EVTCHN,
			[XSP_OP_EVTCHN_UNBIND] = XSP_KIND_EVTCHN,
			[XSP_OP_EVTCHN_PEER] = XSP_KIND_EVTCHN,
			[XSP_OP_EVTCHN_RESTRICT] = XSP_KIND_EVTCHN,
			[XSP_OP_GNTTAB_SET_MAX] = XSP_KIND_GNTTAB,
			[XSP_OP_GNTTAB_MAP] = XSP_KIND_GNTTAB,
			[XSP_OP_GNTTAB_UNMAP] = XSP_KIND_GNTTAB,
			[XSP_OP_GNTTAB_DISCARD] = XSP_KIND_GNTTAB,
			[XSP_OP_GNTSHR_SHARE] = XSP_KIND_GNTSHR,
			[XSP_OP_GNTSHR_UNSHARE] = XSP_KIND_GNTSHR,
			[XSP_OP_CTRL_DOMINFO] = XSP_KIND_CTRL,
			[XSP_OP_CTRL_EVTCHN_STATUS] = XSP_KIND_CTRL,
		};

		memcpy(&hdr, rq.b, sizeof(hdr));
		/* Optional: a MAP's owner pipe (0 fds), a SHARE's (2), and
		 * the caller's end of it with an UNSHARE (1). */
		if (hdr.len != rq.len ||
		    (rq.nfds != want_fds &&
		     !(op == XSP_OP_GNTTAB_MAP && rq.nfds == 0) &&
		     !(op == XSP_OP_GNTSHR_SHARE && rq.nfds == 2) &&
		     !(op == XSP_OP_GNTSHR_UNSHARE && rq.nfds == 1)))
			s->well_formed = false;
		if (op != XSP_OP_HELLO &&
		    (op >= sizeof(kind_of) ||
		     kind_of[op] != conns[s->conn].kind))
			s->well_formed = false;
		if (op == XSP_OP_HELLO && conns[s->conn].kind)
			s->well_formed = false;
	}
}

static void port_closed(uint32_t domid, uint32_t port)
{
	struct xsp_ctrl_evtchn_status_rep st;

	if (!evtchn_status(0, domid, port, &st) &&
	    st.status != EVTCHNSTAT_closed)
		fail("port bound with every connection closed");
}

/* Close whatever is left, run the destroy hooks, and check that nothing
 * stayed behind. */
static void reset(void)
{
	owners_let_go(0xff);
	hypsock_conn_close_all();
	reap_closed();
	loop_round(); /* frees the watches the closes took out */
	for (uint32_t d = 0; d < NDOMS; d++)
		if (dom_live[d] && grant_refs_in_use(d) != 0)
			fail("grant refs in use with every connection closed");
	for (uint32_t d = 0; d < NDOMS; d++)
		if (dom_live[d] && fd_budget_used(d))
			fail("descriptors charged with every connection closed");
	/* The low ports of every domain (where the scripts bind), and
	 * every port a reply named. */
	for (uint32_t d = 0; d < NDOMS; d++)
		for (uint32_t p = 1; dom_live[d] && p < 256; p++)
			port_closed(d, p);
	for (unsigned i = 0; i < (nports < NPORTS ? nports : NPORTS); i++)
		port_closed(ports[i].domid, ports[i].port);
	for (uint32_t d = NDOMS; d-- > 0;)
		if (dom_live[d])
			dom_destroy(d);
	memset(conns, 0, sizeof(conns));
	nports = ngrefs = nids = nnotifies = 0;
	fail_next_send = false;
}

static unsigned count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned n = 0;

	if (!d)
		fail("opendir /proc/self/fd");
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* One step of the script. */
static void step(struct in *in)
{
	uint32_t cmd = take(in, 1);
	int i = (int)(take(in, 1) % NCONNS);
	struct hconn *h = &conns[i];
	struct sent s = { .conn = i };

	switch (cmd >> 5) {
	case 0: { /* open connection i in a domain, or close it */
		uint32_t d = cmd % NDOMS, kind = (cmd >> 2) % 5;

		if (h->c) {
			hypsock_conn_close(h->c);
			reap_closed();
			break;
		}
		if (!domain_by_id(d))
			break;
		memset(h, 0, sizeof(*h));
		h->domid = d;
		h->c = hypsock_conn_new(d, &transport, h);
		if (!h->c)
			fail("hypsock_conn_new");
		if (kind) { /* as the library does: HELLO first */
			struct xsp_hello x = { XSP_MAGIC, XSP_VERSION,
					       kind, 0 };
			uint32_t len;

			s.op = XSP_OP_HELLO;
			s.kind = kind;
			s.well_formed = true;
			req_start(XSP_OP_HELLO);
			req_put(&x, sizeof(x));
			len = (uint32_t)rq.len;
			memcpy(rq.b + 4, &len, sizeof(len));
			send_req(&s);
		}
		break;
	}
	case 1: { /* arbitrary bytes, fds as chosen */
		size_t n = take(in, 1) % 64;

		if (!h->c)
			break;
		rq.len = 0;
		rq.nfds = 0;
		rq.sharer_fd = -1;
		for (size_t k = 0; k < n; k++)
			rq.b[rq.len++] = (uint8_t)take(in, 1);
		req_fds(in, 0, 1);
		/* Bytes that happen to make a valid request may
		 * succeed: only the reply's framing is checked. */
		s.raw = true;
		if (rq.len >= 4)
			memcpy(&s.op, rq.b, 4);
		if (rq.len >= 8 + sizeof(struct xsp_hello))
			memcpy(&s.kind, rq.b + 16, 4);
		send_req(&s);
		break;
	}
	case 2: case 3: case 4: case 5: /* a typed request */
		if (!h->c)
			break;
		build(in, &s, cmd);
		if (cmd & 0x80 && (take(in, 1) & 0xf) == 0)
			fail_next_send = true; /* the process died */
		send_req(&s);
		fail_next_send = false;
		break;
	case 6: { /* a guest: dying, destroyed, or created again;
		   * or mapping processes die */
		uint32_t d = 1 + cmd % (NDOMS - 1);

		if (cmd & 0x10) {
			if (dom_live[d])
				dom_destroy(d);
			else
				dom_create(d, cmd & 8 ? 1 : 0, 0,
					   cmd & 4 ? 2 : 0);
			reap_closed();
		} else if (cmd & 8) {
			owners_let_go(take(in, 1));
		} else if (dom_live[d]) {
			doms[d].dying = true;
		}
		break;
	}
	default: { /* every handle of a kind goes at once */
		for (int k = 0; k < NCONNS; k++)
			if (conns[k].c &&
			    conns[k].kind == cmd % 5) {
				hypsock_conn_close(conns[k].c);
				reap_closed();
			}
		break;
	}
	}
}

/* With cfg & 64 the script starts from a scene that a short run seldom
 * builds by itself, so that its maps meet the isolation checks: dom3
 * (connection 7, GNTSHR) has shared a writable and a read-only page with
 * each of dom1 and dom2, which hold GNTTAB handles (connections 6, 5).
 * In the script's own terms: */
static const uint8_t scene[] = {
	15, 7,  /* open connection 7 in dom3, HELLO as GNTSHR */
	9, 6,   /* 6 in dom1, GNTTAB */
	10, 5,  /* 5 in dom2, GNTTAB */
	/* SHARE on 7: to domid, one page, writable or not, no notify
	 * (offset, port), its length right, the right memfd */
	75, 7, 1, 0x80, 1, 0, 0, 0, 0,
	75, 7, 1, 0x80, 0, 0, 0, 0, 0,
	75, 7, 2, 0x80, 1, 0, 0, 0, 0,
	75, 7, 2, 0x80, 0, 0, 0, 0, 0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	unsigned fds_before;

	if (!loop) {
		loop = loop_new();
		if (!loop)
			fail("loop_new");
		grant_table_init(loop);
	}
	fds_before = count_fds();
	uint32_t cfg = take(&in, 1);
	int steps = 0;

	verbose = getenv("FUZZ_HYPSOCK_VERBOSE") != NULL;
	/* dom0 with Xen's defaults; small limits for some guests, so that
	 * the scripts reach them. */
	dom_create(0, 0, 0, 0);
	dom_create(1, 0, 0, cfg & 16 ? 3 : 0); /* a tiny descriptor budget */
	dom_create(2, cfg & 1 ? 1 : 0, cfg & 2 ? 15 : 0, 0);
	dom_create(3, cfg & 4 ? 2 : 0, cfg & 8 ? 63 : 0, cfg & 32 ? 8 : 0);
	if (cfg & 64) {
		struct in sc = { scene, sizeof(scene) };

		while (sc.n)
			step(&sc);
	}
	while (in.n && steps++ < 256)
		step(&in);
	reset();
	if (count_fds() > fds_before)
		fail("an fd leaked");
	return 0;
}
