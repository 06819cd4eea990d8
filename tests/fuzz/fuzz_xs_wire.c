/* SPDX-License-Identifier: MIT */
/* libFuzzer target: hostile domains on the xenstore server's wire protocol
 * (xen/io/xs_wire.h).  The input is a script.  Its first bytes pick the
 * quotas (small ones, so that they are reached); then each step either
 * feeds a connection raw bytes, or a well-formed request of any type the
 * server knows (built from the input: paths, values, perms, tokens, tx
 * ids, with missing NULs, junk and wrong lengths mixed in), split at
 * arbitrary points; or introduces or releases a domain, hangs up or opens
 * a connection, or lets a connection stop reading; or has a connection
 * (guest or dom0) work inside one transaction on a few shared paths while
 * others write them or the domain goes, then commit or abort.  Requests
 * mostly name a txn the connection's replies announced.
 *
 * After each step every queued message must be well formed, a request fed
 * on a message boundary must get exactly one reply carrying its ids, and
 * the server's books must match what it holds: per-domain node, watch and
 * transaction counts, and a tree whose parents and children agree.  A
 * connection holds only the txns its replies announced; an abort or a
 * failed commit leaves the tree as it was; a commit leaves the values the
 * txn wrote, and fails (EAGAIN) if another connection wrote a node the txn
 * used, or (ENOSPC) only if it is a guest's, created a node and would take
 * a domain to its node quota; with every connection gone no domain counts
 * a txn or watch.  A request answered with an error leaves the tree's
 * nodes as they were.  A violation abort()s.  Connections the server
 * closes are reaped after the step, as the daemon's deferred reap does.
 *
 * The permission model (the m_* functions): the nodes of paths under 64
 * bytes and their perms, judged by Xen's rules (xenstore.txt and the
 * XenBus wiki's permissions, as xenstored's perm_for_conn() and
 * errno_from_parents() apply them): dom0 and a node's owner (its first
 * entry) may do anything; another domain what the first further entry
 * naming it allows, else what the first entry allows everyone.  A guest's
 * READ, DIRECTORY, GET_PERMS (needing read), WRITE, MKDIR, RM (write) or
 * SET_PERMS (write, as the owner) outside a txn that the model denies
 * must get EACCES; for a missing node, when its nearest existing ancestor
 * allows none of it.  The model starts from libxl's layout of the homes
 * (checked), follows a successful WRITE or MKDIR (a new node takes its
 * parent's perms; a guest owns what it creates), RM and SET_PERMS, and
 * after each step must agree with the server; what it does not follow (raw
 * or damaged bytes, a commit, domains introduced or released) it takes
 * from the server.  A domain released or introduced since the start is
 * judged by what the entries naming it may allow (XSA-322 voids some). */
#include "config.h"

#include <errno.h> /* before xs_wire.h: xsd_errors */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#include "xs_core.h"
#include "xs_path.h"

/* The server asks ident only when it accepts a socket, which never
 * happens here. */
int ident_socket_domid(int fd);
int ident_socket_domid(int fd)
{
	(void)fd;
	return 0;
}

#include "fuzz_input.h"

#define FAIL(...) do { \
	fprintf(stderr, "fuzz_xs_wire: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

/* --- connections ---------------------------------------------------------- */

/* Slots of fixed domains: dom0 twice, guest 1 twice (they share quota
 * counters), guests 2 and 3 (3 is the usual one to release). */
#define NSLOT 6
static const uint32_t slot_domid[NSLOT] = {0, 1, 2, 3, 0, 1};

/* What the script knows of a transaction: its id, from the server's
 * TRANSACTION_START reply, and the values it wrote, which a commit must
 * leave in the live tree. */
#define NTX 8
#define NWREC 12

struct wrec {
	char path[64];
	uint64_t hash;		/* of the value */
	uint32_t len;
};

struct tx {
	uint32_t id;
	bool unknown;	/* changed by requests the records do not follow */
	uint32_t touched;	/* txn paths it used: bit home * 8 + tail */
	bool must_fail;	/* another connection wrote one since: EAGAIN */
	unsigned nw;
	struct wrec w[NWREC];
};

struct slot {
	struct xs_conn *c;
	bool stalled;		/* not drained: a reader that stopped */
	bool lost;		/* forgot a txn: tx[] may miss some */
	unsigned ntx;
	struct tx tx[NTX];	/* open txns, as the replies told */
};

struct run {
	struct xs_server *s;
	struct slot slot[NSLOT];
};

static void slot_open(struct run *r, int i)
{
	uint32_t d = slot_domid[i];

	/* As on_accept(): dom0, or a domain the store knows. */
	if (r->slot[i].c || (d != 0 && !xs_dom_find(r->s, d)))
		return;
	memset(&r->slot[i], 0, sizeof(r->slot[i]));
	r->slot[i].c = xs_conn_new(r->s, -1, d);
	if (!r->slot[i].c)
		FAIL("xs_conn_new failed");
}

/* --- checking what the server sends ---------------------------------------- */

static bool known_errno_name(const char *name)
{
	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (strcmp(xsd_errors[i].errstring, name) == 0)
			return true;
	return false;
}

static bool is_reply_type(uint32_t t)
{
	return t < XS_TYPE_COUNT && t != XS_WATCH_EVENT && t != XS_ERROR &&
	       t != XS_SET_TARGET + 1; /* the removed XS_RESTRICT */
}

/* NUL-terminated strings filling exactly len bytes: how many, or -1. */
static int nstrings(const char *p, uint32_t len)
{
	int n = 0;

	if (len == 0 || p[len - 1] != '\0')
		return -1;
	for (uint32_t i = 0; i < len; i++)
		n += p[i] == '\0';
	return n;
}

/* One queued message: well formed, or abort. */
static void check_msg(const struct xs_out *o, struct xsd_sockmsg *h)
{
	const char *pl = o->data + sizeof(*h);

	if (o->len < sizeof(*h))
		FAIL("message of %zu bytes", o->len);
	memcpy(h, o->data, sizeof(*h));
	if (h->len > XENSTORE_PAYLOAD_MAX)
		FAIL("payload of %u bytes", h->len);
	if (o->len != sizeof(*h) + h->len)
		FAIL("header says %u bytes, %zu follow", h->len,
		     o->len - sizeof(*h));
	if (h->type == XS_ERROR) {
		if (nstrings(pl, h->len) != 1 || !known_errno_name(pl))
			FAIL("bad XS_ERROR payload");
	} else if (h->type == XS_WATCH_EVENT) {
		if (nstrings(pl, h->len) != 2)
			FAIL("watch event is not path NUL token NUL");
	} else if (!is_reply_type(h->type)) {
		FAIL("reply of type %u", h->type);
	} else if (h->type == XS_TRANSACTION_START) {
		if (nstrings(pl, h->len) != 1 || !pl[0] ||
		    strspn(pl, "0123456789") != strlen(pl))
			FAIL("bad TRANSACTION_START reply");
	}
}

/* --- the transactions the replies announce --------------------------------- */

static struct tx *tx_find(struct slot *sl, uint32_t id)
{
	for (unsigned i = 0; i < sl->ntx; i++)
		if (sl->tx[i].id == id)
			return &sl->tx[i];
	return NULL;
}

static void tx_drop(struct slot *sl, uint32_t id)
{
	struct tx *t = tx_find(sl, id);

	if (t)
		*t = sl->tx[--sl->ntx];
}

static void tx_all_unknown(struct slot *sl)
{
	for (unsigned i = 0; i < sl->ntx; i++)
		sl->tx[i].unknown = true;
}

static void tx_add(struct slot *sl, uint32_t id)
{
	struct tx *t;

	if (tx_find(sl, id))
		return;
	if (sl->ntx == NTX) {	/* forget the oldest */
		tx_drop(sl, sl->tx[0].id);
		sl->lost = true;
	}
	t = &sl->tx[sl->ntx++];
	memset(t, 0, sizeof(*t));
	t->id = id;
}

/* The replies' view against the server's: ids it dropped without a reply
 * the script could attribute (a raw feed's errors, RESET_WATCHES) are
 * forgotten; but every txn the connection holds must have been announced
 * to it, once, unless its replies are still queued. */
static void tx_sync(struct slot *sl)
{
	for (unsigned i = 0; i < sl->ntx;)
		if (!xs_txn_find(sl->c, sl->tx[i].id))
			sl->tx[i] = sl->tx[--sl->ntx];
		else
			i++;
	if (sl->c->closed || sl->c->out_head)
		return;
	for (struct xs_txn *t = sl->c->txns; t; t = t->next) {
		if (!tx_find(sl, t->id) && !sl->lost)
			FAIL("dom%u holds txn %u it never announced",
			     sl->c->domid, t->id);
		for (struct xs_txn *u = t->next; u; u = u->next)
			if (u->id == t->id)
				FAIL("dom%u holds two txns of id %u",
				     sl->c->domid, t->id);
	}
}

/* What a request fed on a message boundary expects back. */
struct expect {
	bool on;
	uint32_t type, req_id, tx_id;
};

/* The one reply to an expected request. */
struct reply {
	uint32_t type;
	char pl[32];	/* payload start, NUL-terminated */
};

/* Take the slot's queue and check each message; follow the txns the
 * replies start and end. */
static void drain(struct slot *sl, const struct expect *ex,
		  struct reply *rep)
{
	struct xs_out *o = xs_conn_take_out(sl->c);
	unsigned replies = 0;

	while (o) {
		struct xs_out *next = o->next;
		struct xsd_sockmsg h;
		const char *pl = o->data + sizeof(h);

		check_msg(o, &h);
		if (h.type != XS_WATCH_EVENT) {
			replies++;
			if (ex && ex->on && (h.req_id != ex->req_id ||
			    h.tx_id != ex->tx_id ||
			    (h.type != ex->type && h.type != XS_ERROR)))
				FAIL("reply %u/%u/%u to request %u/%u/%u",
				     h.type, h.req_id, h.tx_id, ex->type,
				     ex->req_id, ex->tx_id);
			if (rep) {
				size_t n = h.len < sizeof(rep->pl) - 1 ?
					   h.len : sizeof(rep->pl) - 1;

				rep->type = h.type;
				memcpy(rep->pl, pl, n);
				rep->pl[n] = '\0';
			}
		}
		if (h.type == XS_TRANSACTION_START)
			tx_add(sl, (uint32_t)strtoul(pl, NULL, 10));
		else if (h.type == XS_TRANSACTION_END)
			tx_drop(sl, h.tx_id);
		else if (h.type == XS_RESET_WATCHES)
			sl->ntx = 0;
		free(o);
		o = next;
	}
	if (ex && ex->on && replies != 1)
		FAIL("%u replies to request type %u", replies, ex->type);
	tx_sync(sl);
}

/* --- checking the server's books ------------------------------------------- */

/* Parents and children agree, every node has an owner entry.  Each node
 * but "/" is listed by its parent, and the lists hold one entry per such
 * node: so no list names a missing node or one twice. */
static void check_tree(struct xs_server *s)
{
	size_t b = 0, children = 0, nodes = 0;

	for (struct xs_node *n = xs_store_next(&s->tree, &b, NULL); n;
	     n = xs_store_next(&s->tree, &b, n)) {
		char up[XS_PATH_BUF];
		const char *base = xs_path_base(n->path);
		struct xs_node *p;
		bool listed = false;

		nodes++;
		children += n->nchildren;
		if (n->nperms == 0)
			FAIL("node %s has no perms", n->path);
		if (strcmp(n->path, "/") == 0)
			continue;
		xs_path_parent(n->path, up, sizeof(up));
		p = xs_store_get(&s->tree, up);
		for (unsigned i = 0; p && i < p->nchildren && !listed; i++)
			listed = strcmp(p->children[i], base) == 0;
		if (!listed)
			FAIL("%s is not its parent's child", n->path);
	}
	if (children + 1 != nodes)
		FAIL("%zu nodes, %zu children listed", nodes, children);
}

/* Per-domain counters against what the server holds: watches and
 * transactions on its connections (closed ones too, until reaped), and
 * for guests the nodes whose owner it is. */
static void check_books(struct xs_server *s)
{
	struct xs_dom *d;
	size_t b = 0;

	for (d = s->doms; d; d = d->next) {
		unsigned watches = 0, txns = 0;

		for (struct xs_conn *c = s->conns; c; c = c->next) {
			if (c->domid != d->domid)
				continue;
			for (struct xs_watch *w = c->watches; w; w = w->next)
				watches++;
			for (struct xs_txn *t = c->txns; t; t = t->next)
				txns++;
		}
		if (watches != d->watches || txns != d->transactions)
			FAIL("dom%u counts %u watches, %u txns; holds %u, %u",
			     d->domid, d->watches, d->transactions, watches,
			     txns);
	}
	/* Counted down to zero below, one node at a time. */
	static unsigned left[0x10000];
	for (d = s->doms; d; d = d->next)
		left[d->domid & 0xffff] = d->nodes;
	for (struct xs_node *n = xs_store_next(&s->tree, &b, NULL); n;
	     n = xs_store_next(&s->tree, &b, n)) {
		uint32_t o = xs_perm_owner(s, n->perms, n->gen);

		/* Dom0's nodes are not counted from the start (the root
		 * skeleton predates it), and it has no quota. */
		if (o == 0)
			continue;
		if (!xs_dom_find(s, o))
			FAIL("%s owned by unknown dom%u", n->path, o);
		if (left[o]-- == 0)
			FAIL("dom%u owns more than its %u nodes", o,
			     xs_dom_find(s, o)->nodes);
	}
	for (d = s->doms; d; d = d->next)
		if (d->domid != 0 && left[d->domid])
			FAIL("dom%u counts %u nodes, owns %u fewer", d->domid,
			     d->nodes, left[d->domid]);
}

/* --- the permission model ---------------------------------------------------- */

/* Rights as Xen's XS_PERM_* name them: the model's own bits, not the
 * server's. */
#define M_R 1u
#define M_W 2u
#define M_OWN 4u
#define M_ALL (M_R | M_W | M_OWN)
#define MPATH 64	/* nodes of shorter paths are modelled */
#define MNODES 512
#define MPERMS 8
#define GUEST_MAX_PERMS 5	/* xenstored's quota_nb_perms_per_node */

struct mnode {
	char path[MPATH];
	bool opaque;		/* more perms than kept: never judged by */
	unsigned np;
	struct {
		uint32_t domid;
		unsigned acc;	/* M_R | M_W */
	} p[MPERMS];
};

static struct {
	struct mnode n[MNODES];
	unsigned nn;
	bool lost;		/* more nodes than kept: judges nothing */
	uint64_t gen0[4];	/* when dom0..3 were first introduced */
} model;

/* Is domid d still the domain it was at the start (dom0..3, never
 * released)?  Entries naming another may or may not hold (XSA-322: not
 * for a domain introduced after the node last changed), so for it the
 * model only says what they may allow. */
static bool m_certain(struct xs_server *s, uint32_t d)
{
	struct xs_dom *x = d < 4 ? xs_dom_find(s, d) : NULL;

	return x && x->gen == model.gen0[d];
}

static struct mnode *m_find(const char *path)
{
	for (unsigned i = 0; i < model.nn; i++)
		if (strcmp(model.n[i].path, path) == 0)
			return &model.n[i];
	return NULL;
}

static struct mnode *m_add(const char *path)
{
	struct mnode *m;

	if (model.nn == MNODES) {
		model.lost = true;
		return NULL;
	}
	m = &model.n[model.nn++];
	memset(m, 0, sizeof(*m));
	snprintf(m->path, sizeof(m->path), "%s", path);
	return m;
}

static unsigned m_acc(const struct xs_perm *p)
{
	return (p->access & XS_ACC_READ ? M_R : 0) |
	       (p->access & XS_ACC_WRITE ? M_W : 0);
}

/* Take the tree as the server has it: after what the model does not
 * follow (raw bytes, a commit, domains coming and going). */
static void m_resync(struct xs_server *s)
{
	size_t b = 0;

	model.nn = 0;
	model.lost = false;
	for (struct xs_node *n = xs_store_next(&s->tree, &b, NULL); n;
	     n = xs_store_next(&s->tree, &b, n)) {
		struct mnode *m;

		if (strlen(n->path) >= MPATH)
			continue;
		if (!(m = m_add(n->path)))
			return;
		m->opaque = n->nperms == 0 || n->nperms > MPERMS;
		m->np = m->opaque ? 0 : n->nperms;
		for (unsigned i = 0; i < m->np; i++) {
			m->p[i].domid = n->perms[i].domid;
			m->p[i].acc = m_acc(&n->perms[i]);
		}
	}
}

/* What domain g may do on a node, by Xen's rules: its owner (the first
 * entry) everything; anyone else what the first further entry naming it
 * says, else what the first entry gives everyone.  Unsure of g, entries
 * naming it may be void: then the union. */
static unsigned m_may(const struct mnode *m, uint32_t g, bool sure)
{
	unsigned acc = 0;

	if (m->p[0].domid == g)
		return M_ALL;
	for (unsigned i = 1; i < m->np; i++)
		if (m->p[i].domid == g) {
			acc |= m->p[i].acc;
			if (sure)
				return acc;
		}
	return acc | m->p[0].acc;
}

/* in as the server must name it for domid (relative to its home), if
 * valid by xenstore.txt's rules and shorter than outsz; "@" names are
 * no nodes. */
static bool m_path(uint32_t domid, const char *in, char *out, size_t outsz)
{
	size_t len;
	int n;

	if (in[0] == '@')
		return false;
	n = in[0] == '/' ? snprintf(out, outsz, "%s", in)
			 : snprintf(out, outsz, "/local/domain/%u/%s", domid,
				    in);
	if (n < 0 || (size_t)n >= outsz)
		return false;
	len = (size_t)n;
	if ((len > 1 && out[len - 1] == '/') || strstr(out, "//"))
		return false;
	return strspn(out, "abcdefghijklmnopqrstuvwxyz"
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@") == len;
}

/* Is path at or below top? */
static bool m_under(const char *path, const char *top)
{
	size_t l = strlen(top);

	return strcmp(top, "/") == 0 || (strncmp(path, top, l) == 0 &&
					 (path[l] == '/' || path[l] == '\0'));
}

static void m_parent(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash == path)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
}

/* SET_PERMS's perm strings (after the path), strictly: n, r, w or b and
 * a domid; how many, or -1. */
static int m_parse_perms(const char *p, const char *end, struct mnode *m)
{
	static const char letters[] = "nrwb"; /* index: M_R | M_W */
	int n = 0;

	while (p < end) {
		size_t l = strnlen(p, (size_t)(end - p));
		const char *at = p[0] ? strchr(letters, p[0]) : NULL;
		unsigned long v;

		if (l == (size_t)(end - p) || !at || l < 2 || l > 6 ||
		    strspn(p + 1, "0123456789") != l - 1 ||
		    (v = strtoul(p + 1, NULL, 10)) > 0xffff)
			return -1;
		if (n < MPERMS) {
			m->p[n].domid = (uint32_t)v;
			m->p[n].acc = (unsigned)(at - letters);
		}
		n++;
		p += l + 1;
	}
	return n;
}

/* A clean request of type on c, in txn tx_id, and its reply: judge it (a
 * guest's, outside txns) by the model; then follow it if it succeeded, or
 * take what it did from the server.  A refused connection (xs_conn_refuse:
 * EIO to all, as Linux's xenbus device) is not judged. */
static void m_request(struct xs_server *s, const struct xs_conn *c,
		      uint32_t type, uint32_t tx_id, const char *pl,
		      uint32_t len, const struct reply *rep)
{
	uint32_t domid = c->domid;
	static char path[XS_PATH_BUF];
	char up[MPATH];
	struct mnode perms, *m;
	struct xs_dom *d = xs_dom_find(s, domid);
	const char *nul = len ? memchr(pl, '\0', len) : NULL;
	bool ok = rep->type == type, one = nul == pl + len - 1, exists;
	int np = -1;
	unsigned want, may;

	memset(&perms, 0, sizeof(perms));
	switch (type) {
	case XS_TRANSACTION_END: case XS_INTRODUCE: case XS_RELEASE:
	case XS_SET_TARGET:
		if (ok)
			m_resync(s);
		return;
	default:
		break;
	}
	/* In a txn nothing changes until the commit; what the txn sees is
	 * not modelled. */
	if (model.lost || !nul || tx_id)
		return;
	if (type == XS_SET_PERMS && !pl[len - 1])
		np = m_parse_perms(nul + 1, pl + len, &perms);
	switch (type) {
	case XS_READ: case XS_DIRECTORY: case XS_GET_PERMS:
		want = M_R;
		break;
	case XS_MKDIR: case XS_RM:
		want = one ? M_W : 0;
		break;
	case XS_WRITE:
		want = M_W;
		break;
	case XS_SET_PERMS:
		/* Checks Xen makes before the node's: the perms' syntax, a
		 * guest's quota of them, an owner that exists. */
		want = np >= 1 && np <= MPERMS &&
		       (domid == 0 || np <= GUEST_MAX_PERMS) &&
		       (perms.p[0].domid == 0 ||
			xs_dom_find(s, perms.p[0].domid)) ? M_W | M_OWN : 0;
		break;
	default:	/* changes no node: the cross-check sees to it */
		return;
	}
	if (!m_path(domid, pl, path, sizeof(path)))
		return;
	/* The judgement: a guest's, on a node the model knows of. */
	if (domid != 0 && d && !d->has_target && !c->refused && want &&
	    (want != M_R || one) && strlen(path) < MPATH) {
		memcpy(up, path, strlen(path) + 1);
		while (!(m = m_find(up)) && strcmp(up, "/") != 0)
			m_parent(up);
		exists = m && strcmp(up, path) == 0;
		may = m && !m->opaque ? m_may(m, domid, m_certain(s, domid))
				      : M_ALL;
		/* A missing node: as xenstored's errno_from_parents(), its
		 * nearest ancestor must allow some of it. */
		if ((exists ? (may & want) != want : !(may & want)) &&
		    (rep->type != XS_ERROR || strcmp(rep->pl, "EACCES") != 0))
			FAIL("dom%u's %s of %s, which the model denies it "
			     "(%s %s may %u), got %u %s", domid,
			     type == XS_READ ? "READ" : type == XS_WRITE ?
			     "WRITE" : type == XS_RM ? "RM" : type == XS_MKDIR ?
			     "MKDIR" : type == XS_DIRECTORY ? "DIRECTORY" :
			     type == XS_GET_PERMS ? "GET_PERMS" : "SET_PERMS",
			     path, exists ? "node" : "nearest ancestor",
			     m ? m->path : "-", may, rep->type, rep->pl);
	}
	if (!ok)
		return;
	/* Following it. */
	if (type == XS_WRITE || type == XS_MKDIR) {
		/* Missing ancestors and the node: each its parent's perms,
		 * owned by its creator if that is a guest. */
		for (size_t end = 1; path[end - 1]; end++) {
			struct mnode *parent, *n;

			if (path[end] != '/' && path[end] != '\0')
				continue;
			if (end >= MPATH)
				break;
			memcpy(up, path, end);
			up[end] = '\0';
			if (m_find(up))
				continue;
			m_parent(up);
			if (!(parent = m_find(up)))
				FAIL("%s created, the model has no %s", path,
				     up);
			memcpy(up, path, end);
			up[end] = '\0';
			if (!(n = m_add(up)))
				return;
			memcpy(n->p, parent->p, sizeof(n->p));
			n->np = parent->np;
			n->opaque = parent->opaque;
			if (domid != 0)
				n->p[0].domid = domid;
		}
	} else if (type == XS_RM) {
		for (unsigned i = 0; i < model.nn;)
			if (m_under(model.n[i].path, path))
				model.n[i] = model.n[--model.nn];
			else
				i++;
	} else if (type == XS_SET_PERMS && strlen(path) < MPATH) {
		if (!(m = m_find(path)))
			FAIL("SET_PERMS of %s, which the model has not", path);
		m->opaque = np < 1 || np > MPERMS;
		m->np = m->opaque ? 0 : (unsigned)np;
		memcpy(m->p, perms.p, sizeof(m->p));
	}
}

/* Two owners agree: the same, or one is a domain that may be gone (then
 * dom0 owns the node, as xenstored has it). */
static bool m_same_owner(struct xs_server *s, uint32_t a, uint32_t b)
{
	return a == b || (b == 0 && !m_certain(s, a)) ||
	       (a == 0 && !m_certain(s, b));
}

/* The model and the server hold the same nodes of short paths, with the
 * same perms. */
static void m_check(struct xs_server *s)
{
	size_t b = 0, nodes = 0;

	if (model.lost)
		return;
	for (struct xs_node *n = xs_store_next(&s->tree, &b, NULL); n;
	     n = xs_store_next(&s->tree, &b, n))
		nodes += strlen(n->path) < MPATH;
	for (unsigned i = 0; i < model.nn; i++) {
		const struct mnode *m = &model.n[i];
		struct xs_node *n = xs_store_get(&s->tree, m->path);
		bool same = n && (m->opaque || (n->nperms == m->np &&
				  m_same_owner(s, m->p[0].domid,
					       n->perms[0].domid)));

		for (unsigned k = 0; same && !m->opaque && k < m->np; k++)
			same = m_acc(&n->perms[k]) == m->p[k].acc &&
			       (k == 0 || n->perms[k].domid == m->p[k].domid);
		if (!same)
			FAIL("the model's %s (%u perms, owner %u) is not the "
			     "server's (%u perms, owner %u)", m->path, m->np,
			     m->np ? m->p[0].domid : 0, n ? n->nperms : 0,
			     n && n->nperms ? n->perms[0].domid : 0);
	}
	if (nodes != model.nn)
		FAIL("the server holds %zu nodes of short paths, the model %u",
		     nodes, model.nn);
}

/* The model from the server's first tree, which must be as libxl lays a
 * guest's home out: /local/domain/N dom0's, N may read; its data N's;
 * the root, /local and /local/domain dom0's, closed to guests. */
static void m_init(struct xs_server *s)
{
	static const char *const closed[] = {"/", "/local", "/local/domain"};
	char p[MPATH];
	const struct mnode *m;

	for (uint32_t d = 0; d < 4; d++)
		model.gen0[d] = xs_dom_find(s, d)->gen;
	m_resync(s);
	for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++)
		if (!(m = m_find(closed[i])) || m->np != 1 || m->p[0].domid ||
		    m->p[0].acc)
			FAIL("%s is not dom0's alone", closed[i]);
	for (uint32_t d = 1; d < 4; d++) {
		snprintf(p, sizeof(p), "/local/domain/%u", d);
		if (!(m = m_find(p)) || m->np != 2 || m->p[0].domid ||
		    m->p[0].acc || m->p[1].domid != d || m->p[1].acc != M_R)
			FAIL("%s is not n0 r%u", p, d);
		snprintf(p, sizeof(p), "/local/domain/%u/data", d);
		if (!(m = m_find(p)) || m->p[0].domid != d || m->p[0].acc)
			FAIL("%s is not n%u", p, d);
	}
}

/* --- building requests ------------------------------------------------------ */

#define MSG_CAP (XENSTORE_PAYLOAD_MAX + 256)

struct msg {
	char b[MSG_CAP];
	size_t len;
};

static void put(struct msg *m, const void *p, size_t n)
{
	if (n > MSG_CAP - m->len)
		n = MSG_CAP - m->len;
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void put_str(struct msg *m, const char *s)
{
	put(m, s, strlen(s));
}

static void put_nul(struct msg *m)
{
	put(m, "", 1);
}

/* n bytes straight from the input (NULs and all). */
static void put_raw(struct msg *m, struct in *in, size_t n)
{
	if (n > in->n)
		n = in->n;
	put(m, in->p, n);
	in->p += n;
	in->n -= n;
}

static const uint32_t domids[] = {
	0, 1, 2, 3, 4, 5, 0x7fef, 0x7ff0, 0x7ff5, 0xffff, 0x10000,
};

static uint32_t gen_domid(struct in *in)
{
	uint8_t k = (uint8_t)take(in, 1);

	if (k < 0xf0)
		return domids[k % (sizeof(domids) / sizeof(domids[0]))];
	return take(in, 4);
}

static void put_domid(struct msg *m, struct in *in)
{
	char num[16];
	uint8_t k = (uint8_t)take(in, 1);

	if (k >= 0xf8) {	/* not a number at all */
		put_raw(m, in, k & 7);
		return;
	}
	snprintf(num, sizeof(num), "%u", gen_domid(in));
	put_str(m, num);
}

static const char *const comps[] = {
	"local", "domain", "0", "1", "2", "3", "4", "data", "vm", "tool",
	"a", "b", "c", "control", "device", "shutdown", "feature", "name",
	"domid", "x-y_z", "@", "error", "drivers", "attr",
};
#define NCOMPS (sizeof(comps) / sizeof(comps[0]))

/* A path: mostly built from likely components, some raw, some long. */
static void put_path(struct msg *m, struct in *in)
{
	static const char *const special[] = {
		"@introduceDomain", "@releaseDomain", "@other", "/", "", "@",
		"/local/domain", "//", "a/",
	};
	static const char *const pre[] = {
		"", "/", "/local/domain/0/", "/local/domain/1/data/",
		"data/", "/local/domain/3/", "/tool/", "/local/domain/2/data/",
	};
	uint8_t k = (uint8_t)take(in, 1);

	switch (k & 7) {
	case 0:
		put_str(m, special[(k >> 3) % (sizeof(special) /
					       sizeof(special[0]))]);
		return;
	case 1:
		put_raw(m, in, (k >> 3) & 31);
		return;
	case 2: {
		/* Around the limits: 2048 below a home, 3072 in all. */
		static const size_t lens[] = {2040, 2048, 2049, 2060,
					      3060, 3071, 3072, 3073, 4000};
		static const size_t comp_lens[] = {1, 15, 200, 3000};
		size_t want = lens[(k >> 3) % 9] + (take(in, 1) & 7);
		size_t comp = comp_lens[take(in, 1) & 3], start = m->len;

		put_str(m, pre[take(in, 1) & 7]);
		/* Few long names, or (rarely) a tree a thousand deep. */
		for (size_t l = 0; m->len - start < want && m->len < MSG_CAP;
		     l++)
			put_str(m, l % (comp + 1) == comp ? "/" : "a");
		return;
	}
	default: {
		unsigned n = 1 + ((k >> 3) & 3);

		put_str(m, pre[(k >> 5) & 7]);
		for (unsigned i = 0; i < n; i++) {
			if (i)
				put_str(m, "/");
			put_str(m, comps[take(in, 1) % NCOMPS]);
		}
		return;
	}
	}
}

/* Perm strings: "r5\0b0\0...", mostly valid. */
static void put_perms(struct msg *m, struct in *in)
{
	static const char letters[] = "nrwbxr";
	unsigned n = take(in, 1) % 9;

	for (unsigned i = 0; i < n; i++) {
		uint8_t k = (uint8_t)take(in, 1);

		if (k >= 0xf0) {
			put_raw(m, in, k & 7);
		} else {
			put(m, &letters[k % 6], 1);
			put_domid(m, in);
		}
		if (i + 1 < n)
			put_nul(m);
	}
}

static void put_token(struct msg *m, struct in *in)
{
	static const char *const toks[] = {"t", "tok", "", "0", "a b"};
	uint8_t k = (uint8_t)take(in, 1);

	if (k < 0xc0)
		put_str(m, toks[k % 5]);
	else if (k < 0xf0)
		put_raw(m, in, k & 0x3f);
	else	/* long tokens push watch events past the payload limit */
		for (unsigned i = 0; i < 500u * (k & 0xf); i++)
			put_str(m, "T");
}

static void put_value(struct msg *m, struct in *in)
{
	uint8_t k = (uint8_t)take(in, 1);

	if (k < 0xe0) {
		put_raw(m, in, k & 0x3f);
		return;
	}
	/* Around the value-size quota and the payload limit. */
	static const size_t lens[] = {2047, 2048, 2049, 4000, 4096};
	size_t want = lens[k % 5];
	for (size_t i = 0; i < want; i++)
		put(m, "v", 1);
}

static const uint32_t types[] = {
	XS_READ, XS_WRITE, XS_MKDIR, XS_RM, XS_DIRECTORY, XS_DIRECTORY_PART,
	XS_GET_PERMS, XS_SET_PERMS, XS_WATCH, XS_UNWATCH,
	XS_TRANSACTION_START, XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE,
	XS_GET_DOMAIN_PATH, XS_IS_DOMAIN_INTRODUCED, XS_RESUME, XS_SET_TARGET,
	XS_RESET_WATCHES, XS_CONTROL,
	/* Twice as likely: what transactions are made of. */
	XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS, XS_TRANSACTION_START,
	XS_TRANSACTION_END,
	/* Not requests: ENOSYS. */
	XS_WATCH_EVENT, XS_ERROR, XS_SET_TARGET + 1, XS_TYPE_COUNT, 0xffff,
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* The payload of a request of this type, from the input. */
static void build_payload(struct msg *m, struct in *in, uint32_t type)
{
	switch (type) {
	case XS_WRITE:
		put_path(m, in);
		put_nul(m);
		put_value(m, in);
		return;
	case XS_DIRECTORY_PART: {
		char num[16];

		put_path(m, in);
		put_nul(m);
		snprintf(num, sizeof(num), "%u", take(in, 1) < 0xf0 ?
			 take(in, 1) : take(in, 4));
		put_str(m, num);
		break;
	}
	case XS_SET_PERMS:
		put_path(m, in);
		put_nul(m);
		put_perms(m, in);
		break;
	case XS_WATCH:
	case XS_UNWATCH:
		put_path(m, in);
		put_nul(m);
		put_token(m, in);
		break;
	case XS_TRANSACTION_END: {
		uint8_t k = (uint8_t)take(in, 1);

		if (k < 0xf0)
			put_str(m, k & 1 ? "T" : "F");
		else
			put_raw(m, in, k & 7);
		break;
	}
	case XS_INTRODUCE:
		put_domid(m, in);
		put_nul(m);
		put_str(m, "4096");
		put_nul(m);
		put_str(m, "7");
		break;
	case XS_SET_TARGET:
		put_domid(m, in);
		put_nul(m);
		put_domid(m, in);
		break;
	case XS_RELEASE:
	case XS_RESUME:
	case XS_GET_DOMAIN_PATH:
	case XS_IS_DOMAIN_INTRODUCED:
		put_domid(m, in);
		break;
	case XS_TRANSACTION_START:
	case XS_RESET_WATCHES:
		break;
	case XS_CONTROL: {
		static const char *const cmds[] = {"help", "check", "log",
						   "print", "nope", ""};
		put_str(m, cmds[take(in, 1) % 6]);
		break;
	}
	default:
		put_path(m, in);
		break;
	}
	put_nul(m);
}

/* --- one step of the script -------------------------------------------------- */

static struct slot *pick(struct run *r, struct in *in, int *idx)
{
	int i = (int)(take(in, 1) % NSLOT);

	if (idx)
		*idx = i;
	return r->slot[i].c ? &r->slot[i] : NULL;
}

/* Feed bytes in up to four chunks cut at input-chosen points. */
static void feed_split(struct slot *sl, struct in *in, const char *p,
		       size_t n)
{
	unsigned cuts = take(in, 1) & 3;

	for (unsigned i = 0; i < cuts && n && !sl->c->closed; i++) {
		size_t k = take(in, 2) % (n + 1);

		xs_conn_feed(sl->c, p, k);
		p += k;
		n -= k;
	}
	if (!sl->c->closed)
		xs_conn_feed(sl->c, p, n);
}

/* Mostly one of the connection's open txns (as its replies told), else
 * no txn or any id. */
static uint32_t pick_tx(struct slot *sl, struct in *in)
{
	uint8_t k = (uint8_t)take(in, 1);

	if (k >= 0xf8)
		return take(in, 4);
	if (k < 0x20 || !sl->ntx)
		return 0;
	return sl->tx[k % sl->ntx].id;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* The live tree's nodes as one number: what a request answered with an
 * error must leave alone (nodes in any order, so summed).  Unless voids,
 * without the marks of perm entries naming gone domains: a failed request
 * may settle them (xs_perm_settle), which changes no one's access, as
 * xenstored marks them at every read. */
static uint64_t nodes_digest(struct xs_server *s, bool voids)
{
	uint64_t sum = 0;
	size_t b = 0;

	for (struct xs_node *n = xs_store_next(&s->tree, &b, NULL); n;
	     n = xs_store_next(&s->tree, &b, n)) {
		uint64_t h = fnv(0xcbf29ce484222325ull, n->path,
				 strlen(n->path) + 1);

		h = fnv(h, &n->len, sizeof(n->len));
		h = fnv(h, n->value, n->len);
		h = fnv(h, &n->gen, sizeof(n->gen));
		for (unsigned i = 0; i < n->nperms; i++) {
			h = fnv(h, &n->perms[i].domid, 4);
			h = fnv(h, &n->perms[i].access, 1);
			if (voids)
				h = fnv(h, &n->perms[i].ignore, 1);
		}
		for (unsigned i = 0; i < n->nchildren; i++)
			h = fnv(h, n->children[i], strlen(n->children[i]) + 1);
		sum += h;
	}
	return sum;
}

/* And with the store's generation: what a txn that does not commit must
 * leave alone.  (An error inside a txn may use up generations.) */
static uint64_t tree_digest(struct xs_server *s)
{
	return s->generation + nodes_digest(s, true);
}

/* May committing txn id of c fail with ENOSPC? Only a guest's txn that
 * created a node, when a live domain whose count it changed would end at
 * or above the quota (Xen 4.17's ">="); a later introduction of the same
 * domid is another domain. */
static bool near_quota(struct xs_server *s, struct xs_conn *c, uint32_t id)
{
	struct xs_txn *t = xs_txn_find(c, id);

	if (!t || c->domid == 0 || !t->node_created)
		return false;
	for (unsigned k = 0; k < t->nacc; k++) {
		struct xs_dom *d = xs_dom_find(s, t->acc[k].domid);

		if (d && d->domid != 0 && d->gen == t->acc[k].dom_gen &&
		    (long)d->nodes + t->acc[k].delta >=
		    (long)s->lim.nodes_per_domain)
			return true;
	}
	return false;
}

/* A successful commit leaves every value the txn wrote in the tree. */
static void check_committed(struct xs_server *s, const struct tx *t)
{
	for (unsigned i = 0; i < t->nw; i++) {
		const struct wrec *w = &t->w[i];
		struct xs_node *n = xs_store_get(&s->tree, w->path);

		if (!n)
			FAIL("txn %u committed, but %s it wrote is gone", t->id,
			     w->path);
		if (n->len != w->len ||
		    fnv(0xcbf29ce484222325ull, n->value, n->len) != w->hash)
			FAIL("txn %u committed, but %s holds %u bytes, not the "
			     "%u it wrote", t->id, w->path, n->len, w->len);
	}
}

/* The records of a request the script built with a canonical path and
 * saw succeed in txn t. */
static void tx_record(struct tx *t, uint32_t type, const char *path,
		      const char *val, uint32_t len)
{
	if (type == XS_RM) {	/* the subtree's values are gone */
		for (unsigned i = 0; i < t->nw;)
			if (xs_path_is_child(t->w[i].path, path))
				t->w[i] = t->w[--t->nw];
			else
				i++;
		return;
	}
	if (type != XS_WRITE)	/* mkdir, set-perms: values stay */
		return;
	unsigned i;

	for (i = 0; i < t->nw && strcmp(t->w[i].path, path) != 0; i++)
		;
	if (i == t->nw) {
		if (t->nw == NWREC || strlen(path) >= sizeof(t->w[0].path)) {
			t->unknown = true;
			return;
		}
		t->nw++;
		snprintf(t->w[i].path, sizeof(t->w[i].path), "%s", path);
	}
	t->w[i].len = len;
	t->w[i].hash = fnv(0xcbf29ce484222325ull, val, len);
}

/* A request built in a struct msg, and what send_request needs to know of
 * it. */
struct built {
	struct msg *m;
	uint32_t type, req_id, tx_id;
	uint8_t flags;		/* damage: 0 for a clean request */
	bool canonical;		/* the path is canonical: records follow */
};

/* Send a request (damaged as b->flags say) and check what comes back:
 * one reply on a message boundary; a TRANSACTION_END that does not commit
 * leaves the tree alone; one that commits leaves the txn's values. */
static void send_request(struct run *r, struct slot *sl, struct in *in,
			 struct built *b, struct reply *rep)
{
	struct msg *m = b->m;
	struct xsd_sockmsg h;
	struct expect ex;
	struct tx *t = tx_find(sl, b->tx_id), saved;
	uint64_t before = 0, nodes_before = 0;
	bool commit, may_enospc = false;

	if (b->flags & 0x01)	/* a missing final NUL */
		m->len--;
	if (b->flags & 0x02)	/* junk after the last NUL */
		put_raw(m, in, take(in, 1) & 15);
	h.type = b->type;
	h.req_id = b->req_id;
	h.tx_id = b->tx_id;
	h.len = (uint32_t)(m->len - sizeof(h));
	if (h.len > XENSTORE_PAYLOAD_MAX) {	/* fits, or is cut short */
		h.len = XENSTORE_PAYLOAD_MAX;
		m->len = sizeof(h) + h.len;
	}
	if (b->flags & 0x04)	/* a header that lies about the length */
		h.len = (b->flags & 0x08) ? XENSTORE_PAYLOAD_MAX + 1 +
					    take(in, 2) : h.len ^ (take(in, 1) & 7);
	memcpy(m->b, &h, sizeof(h));
	/* On a message boundary with an honest header: one reply. */
	ex.on = !(b->flags & 0x04) && !sl->stalled && sl->c->hdr_got == 0 &&
		!sl->c->in;
	ex.type = h.type;
	ex.req_id = h.req_id;
	ex.tx_id = h.tx_id;
	/* Records follow only what they see whole: bytes off a message
	 * boundary or damaged may reach any of the connection's txns. */
	if (!ex.on || b->flags)
		tx_all_unknown(sl);
	else if (t && !b->canonical &&
		 (b->type == XS_WRITE || b->type == XS_RM))
		t->unknown = true;
	commit = b->type == XS_TRANSACTION_END && !b->flags &&
		 m->b[sizeof(h)] == 'T';
	if (ex.on && b->type == XS_TRANSACTION_END) {
		before = tree_digest(r->s);
		if (t)	/* the reply drops it from tx[] */
			saved = *t;
		may_enospc = commit && near_quota(r->s, sl->c, b->tx_id);
	}
	if (ex.on)
		nodes_before = nodes_digest(r->s, false);
	feed_split(sl, in, m->b, m->len);
	rep->type = XS_TYPE_COUNT;
	rep->pl[0] = '\0';
	/* A connection cut for its output is owed no reply. */
	if (!ex.on || sl->c->closed || b->flags)
		m_resync(r->s);	/* whatever the bytes did */
	if (!ex.on || sl->c->closed)
		return;
	drain(sl, &ex, rep);
	if (rep->type == XS_ERROR && nodes_digest(r->s, false) != nodes_before)
		FAIL("request %u of dom%u answered %s changed the tree", h.type,
		     sl->c->domid, rep->pl);
	if (!b->flags)
		m_request(r->s, sl->c, h.type, h.tx_id, m->b + sizeof(h),
			  h.len, rep);
	if (b->type == XS_TRANSACTION_END) {
		if (rep->type == XS_TRANSACTION_END && commit && t) {
			if (saved.must_fail)
				FAIL("txn %u committed over a write to a node "
				     "it used", b->tx_id);
			if (!saved.unknown)
				check_committed(r->s, &saved);
		} else if (rep->type == XS_TRANSACTION_END && commit) {
			/* committed a txn the script did not follow */
		} else if (tree_digest(r->s) != before) {
			FAIL("TRANSACTION_END %s of txn %u (reply %u %s) "
			     "changed the tree", commit ? "T" : "F",
			     b->tx_id, rep->type, rep->pl);
		}
		if (rep->type == XS_ERROR && strcmp(rep->pl, "ENOSPC") == 0 &&
		    !may_enospc)
			FAIL("commit of txn %u refused (ENOSPC) with no domain "
			     "near its quota", b->tx_id);
		if ((rep->type == XS_TRANSACTION_END ||
		     strcmp(rep->pl, "EAGAIN") == 0 ||
		     strcmp(rep->pl, "ENOSPC") == 0) &&
		    xs_txn_find(sl->c, b->tx_id))
			FAIL("txn %u still open after its end (%s)", b->tx_id,
			     rep->pl);
	} else if ((t = tx_find(sl, b->tx_id)) && rep->type == b->type &&
		   b->canonical) {
		tx_record(t, b->type, m->b + sizeof(h),
			  m->b + sizeof(h) + strlen(m->b + sizeof(h)) + 1,
			  (uint32_t)(m->len - sizeof(h) -
				     strlen(m->b + sizeof(h)) - 1));
	}
	if (b->type == XS_TRANSACTION_START && rep->type == b->type &&
	    !xs_txn_find(sl->c, (uint32_t)strtoul(rep->pl, NULL, 10)))
		FAIL("TRANSACTION_START said %s, not open", rep->pl);
}

static void step_request(struct run *r, struct in *in)
{
	static struct msg m;
	struct reply rep;
	struct slot *sl = pick(r, in, NULL);
	struct built b = {.m = &m};
	/* Mostly well formed: only a high first byte asks for damage. */
	uint8_t flags;

	b.type = types[take(in, 1) % NTYPES];
	flags = (uint8_t)take(in, 1);
	b.flags = flags >= 0xe0 ? flags & 0x1f : 0;
	if (!sl)
		return;
	b.req_id = take(in, 1);
	b.tx_id = pick_tx(sl, in);
	m.len = sizeof(struct xsd_sockmsg);
	build_payload(&m, in, b.type);
	send_request(r, sl, in, &b, &rep);
}

/* --- work inside one transaction ---------------------------------------------- */

/* Few paths in one home, so that txns and writers meet on them; returns
 * the path's bit for struct tx's touched. */
static uint32_t put_txn_path(struct msg *m, struct in *in, uint32_t home)
{
	static const char *const tails[] = {
		"/data/a", "/data/b", "/data/a/b", "/data/a/c", "/data/b/a",
		"/data/a/b/c", "/data", "",
	};
	char p[64];
	unsigned k = take(in, 1) % 8;

	snprintf(p, sizeof(p), "/local/domain/%u%s", home, tails[k]);
	put_str(m, p);
	return 1u << (home * 8 + k);
}

static uint32_t build_txn_payload(struct msg *m, struct in *in,
				  uint32_t type, uint32_t home, uint32_t domid)
{
	uint32_t bit = put_txn_path(m, in, home);

	put_nul(m);
	if (type == XS_WRITE) {
		put_raw(m, in, take(in, 1) & 7);
		return bit;	/* no final NUL: the value is the rest */
	}
	if (type == XS_SET_PERMS) {
		/* Dom0 hands nodes between guests (and a missing one);
		 * guests keep themselves owner. */
		char e[16];
		unsigned n = take(in, 1) % 3;
		uint8_t k = (uint8_t)take(in, 1);

		snprintf(e, sizeof(e), "n%u", domid ? domid : k % 5);
		put_str(m, e);
		for (unsigned i = 0; i < n; i++) {
			k = (uint8_t)take(in, 1);
			put_nul(m);
			snprintf(e, sizeof(e), "%c%u", "rwb"[k % 3],
				 (k >> 2) % 5);
			put_str(m, e);
		}
		put_nul(m);
	}
	return bit;
}

/* One slot starts a txn (or takes one it has open), works in a home in
 * it, while other connections may write the nodes it used or guests go
 * (and come back); then it commits, aborts or leaves it open for later
 * steps. */
static void step_txn(struct run *r, struct in *in)
{
	static const uint32_t ops[] = {
		XS_WRITE, XS_WRITE, XS_WRITE, XS_READ, XS_READ, XS_MKDIR,
		XS_RM, XS_SET_PERMS, XS_DIRECTORY, XS_GET_PERMS,
	};
	static struct msg m;
	struct reply rep;
	struct built b = {.m = &m, .canonical = true};
	int i;
	struct slot *sl = pick(r, in, &i);
	uint32_t domid = slot_domid[i];
	uint32_t home = domid ? domid : 1 + take(in, 1) % 3;
	unsigned steps = 1 + take(in, 1) % 8;
	uint8_t k;

	if (!sl || sl->stalled)
		return;
	b.tx_id = 0;
	if (sl->ntx && (take(in, 1) & 1)) {
		b.tx_id = sl->tx[take(in, 1) % sl->ntx].id;
	} else {
		b.type = XS_TRANSACTION_START;
		b.req_id = take(in, 1);
		m.len = sizeof(struct xsd_sockmsg);
		put_nul(&m);
		send_request(r, sl, in, &b, &rep);
		if (rep.type != XS_TRANSACTION_START)
			return;
		b.tx_id = (uint32_t)strtoul(rep.pl, NULL, 10);
	}
	for (unsigned s = 0; s < steps && sl->c && !sl->c->closed; s++) {
		struct slot *w;
		struct tx *t;
		uint32_t bit;
		int j;

		k = (uint8_t)take(in, 1);
		if (k >= 0xf8) {	/* a guest goes, maybe back */
			uint32_t g = k & 2 ? home : 1 + take(in, 1) % 3;

			if (xs_domain_release(r->s, g) == 0 && (k & 1))
				xs_domain_introduce(r->s, g, "back", NULL);
			m_resync(r->s);
			continue;
		}
		if (k >= 0xc0) {	/* someone else writes, outside a txn */
			struct built wb = {.m = &m, .canonical = true};

			w = pick(r, in, &j);
			if (!w || w == sl || w->stalled)
				continue;
			/* A value, or (dom0) who owns it. */
			wb.type = k & 1 ? XS_SET_PERMS : XS_WRITE;
			wb.req_id = take(in, 1);
			m.len = sizeof(struct xsd_sockmsg);
			bit = build_txn_payload(&m, in, wb.type, home,
						slot_domid[j]);
			send_request(r, w, in, &wb, &rep);
			/* A node the txn used changed under it. */
			t = tx_find(sl, b.tx_id);
			if (t && rep.type == wb.type && (t->touched & bit))
				t->must_fail = true;
			continue;
		}
		b.type = ops[k % (sizeof(ops) / sizeof(ops[0]))];
		b.req_id = take(in, 1);
		m.len = sizeof(struct xsd_sockmsg);
		bit = build_txn_payload(&m, in, b.type, home, domid);
		send_request(r, sl, in, &b, &rep);
		/* Any success looked the path up: the txn holds a copy. */
		t = tx_find(sl, b.tx_id);
		if (t && rep.type == b.type)
			t->touched |= bit;
	}
	k = (uint8_t)take(in, 1);
	if (!sl->c || sl->c->closed || k >= 0xe0)	/* or left open */
		return;
	b.type = XS_TRANSACTION_END;
	b.req_id = take(in, 1);
	m.len = sizeof(struct xsd_sockmsg);
	put_str(&m, k < 0xa0 ? "T" : "F");
	put_nul(&m);
	send_request(r, sl, in, &b, &rep);
}

static void step_raw(struct run *r, struct in *in)
{
	struct slot *sl = pick(r, in, NULL);
	size_t n = take(in, 2) % 512;
	const char *p = (const char *)in->p;

	if (n > in->n)
		n = in->n;
	in->p += n;	/* the cut points come after the bytes */
	in->n -= n;
	if (sl) {
		tx_all_unknown(sl);
		feed_split(sl, in, p, n);
		m_resync(r->s);
	}
}

static void step(struct run *r, struct in *in)
{
	uint8_t op = (uint8_t)take(in, 1);
	int i;

	switch (op % 16) {
	case 0:
		step_raw(r, in);
		break;
	case 1: {
		uint8_t uuid[16] = {0};
		uint32_t d = gen_domid(in);

		uuid[0] = (uint8_t)d;
		xs_domain_introduce(r->s, d, "fuzz", take(in, 1) & 1 ? uuid
								       : NULL);
		m_resync(r->s);
		break;
	}
	case 2:
		xs_domain_release(r->s, gen_domid(in));
		m_resync(r->s);
		break;
	case 3:	/* the peer hangs up */
		if (pick(r, in, &i))
			xs_conn_close(r->slot[i].c);
		break;
	case 4:
		pick(r, in, &i);
		slot_open(r, i);
		break;
	case 5:	/* stops reading, or reads again */
		if (pick(r, in, &i))
			r->slot[i].stalled = !r->slot[i].stalled;
		break;
	case 6: {	/* gone and back in one round of the daemon's loop */
		uint32_t d = gen_domid(in);

		if (xs_domain_release(r->s, d) == 0)
			xs_domain_introduce(r->s, d, "again", NULL);
		m_resync(r->s);
		break;
	}
	case 7:
	case 8:
	case 9:
		step_txn(r, in);
		break;
	default:
		step_request(r, in);
		break;
	}
	/* Everything queued is checked, even a closed connection's (the
	 * daemon would have sent it before the cut). */
	for (i = 0; i < NSLOT; i++) {
		struct slot *sl = &r->slot[i];

		if (sl->c && (!sl->stalled || sl->c->closed))
			drain(sl, NULL, NULL);
	}
	check_tree(r->s);
	check_books(r->s);
	m_check(r->s);
	/* The daemon's deferred reap, after the round. */
	for (i = 0; i < NSLOT; i++)
		if (r->slot[i].c && r->slot[i].c->closed)
			memset(&r->slot[i], 0, sizeof(r->slot[i]));
	xs_conn_reap(r->s);
	check_books(r->s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};
	struct xs_limits lim;
	struct run r;
	uint8_t q = (uint8_t)take(&in, 1);

	memset(&r, 0, sizeof(r));
	xs_limits_default(&lim);
	if (q & 1) {	/* small quotas, so that they are reached */
		lim.nodes_per_domain = 12 + (q >> 1) % 16;
		lim.kernel_watches = (q >> 7) & 1;
		lim.watches_per_domain = 1 + (q >> 2) % 4 + lim.kernel_watches;
		lim.transactions_per_domain = 1 + (q >> 4) % 3;
		lim.max_outstanding_per_conn = 2 + (q >> 5) % 8;
	}
	r.s = xs_server_new(NULL, &lim);
	if (!r.s || xs_domain_introduce(r.s, 0, "Domain-0", NULL) < 0)
		FAIL("no server");
	for (uint32_t d = 1; d <= 3; d++)
		if (xs_domain_introduce(r.s, d, "guest", NULL) < 0)
			FAIL("no guest %u", d);
	for (int i = 0; i < NSLOT; i++)
		slot_open(&r, i);
	check_tree(r.s);
	check_books(r.s);
	m_init(r.s);
	while (in.n)
		step(&r, &in);
	/* Every peer hangs up: the domains hold no txn or watch then. */
	for (int i = 0; i < NSLOT; i++)
		if (r.slot[i].c && !r.slot[i].c->closed)
			xs_conn_close(r.slot[i].c);
	xs_conn_reap(r.s);
	check_books(r.s);
	for (struct xs_dom *d = r.s->doms; d; d = d->next)
		if (d->transactions || d->watches)
			FAIL("dom%u counts %u txns, %u watches with no "
			     "connection", d->domid, d->transactions,
			     d->watches);
	xs_server_free(r.s);
	return 0;
}
