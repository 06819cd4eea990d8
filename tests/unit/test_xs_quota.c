/* Unit tests: xenstore quotas (nodes, watches, transactions, entry size,
 * queued output), with xenstored's errors; dom0 is exempt. The node quota
 * is checked again at a guest's commit, as Xen 4.17 does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_xs_util.h"

static struct tconn *D0, *D1;

/* Small quotas, so that the tests reach them. */
static void small_limits(struct xs_limits *lim)
{
    lim->nodes_per_domain = 20;
    lim->watches_per_domain = 4;
    lim->kernel_watches = 1;   /* 3 left for the guest's processes */
    lim->transactions_per_domain = 2;
    lim->max_entry_size = 128; /* 95 bytes of value with one perm entry */
    lim->max_outstanding_per_conn = 8;
}

/* Guest 1, and a connection of dom0 and of guest 1. */
const struct tgroup t_group = {
    .limits = small_limits, .guests = 1,
    .conns = {{&D0, 0}, {&D1, 1}},
};

static void test_defaults(void **st)
{
    (void)st;
    struct xs_limits l;
    xs_limits_default(&l);
    assert_int_equal(l.nodes_per_domain, 1000);
    assert_int_equal(l.watches_per_domain, 128);
    assert_int_equal(l.kernel_watches, 5);
    assert_int_equal(l.transactions_per_domain, 10);
    assert_int_equal(l.txn_nodes, 1024);
    assert_int_equal(l.max_entry_size, 2048);
    assert_int_equal(l.max_path_len, 3072);
}

static void test_node_quota(void **st)
{
    (void)st;
    char p[64];
    int rc = 0, made = 0;
    for (int i = 0; i < 40 && rc == 0; i++) {
        snprintf(p, sizeof(p), "data/n%d", i);
        rc = t_write(D1, 0, p, "x");
        made += rc == 0;
    }
    assert_int_equal(rc, -ENOSPC);
    /* 6 nodes of the home (data/, error/ ...) are the domain's already. */
    assert_int_equal(made, 20 - 6);
    assert_int_equal(xs_dom_find(S, 1)->nodes, 20);
    /* Removing frees quota. */
    assert_int_equal(t_ok(D1, XS_RM, 0, "data/n0"), 0);
    assert_int_equal(t_write(D1, 0, "data/again", "x"), 0);
    /* Also counted inside a transaction. */
    uint32_t tx = t_txstart(D1);
    assert_int_equal(t_write(D1, tx, "data/intx", "x"), -ENOSPC);
    assert_int_equal(t_txend(D1, tx, false), 0);
    /* dom0 is exempt. */
    for (int i = 0; i < 40; i++) {
        snprintf(p, sizeof(p), "/dom0stuff/n%d", i);
        assert_int_equal(t_write(D0, 0, p, "x"), 0);
    }
}

static void test_watch_quota(void **st)
{
    (void)st;
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/a", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/b", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/c", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/d", "t", NULL), -E2BIG);
    /* A guest's refused watch costs it the connection, as Linux's xenbus
     * device and libxenstore have it: later requests fail, no event
     * comes; but on Xen 4.17 its watches count until the process closes
     * it, so another handle of the guest is refused too. */
    assert_false(D1->c->closed);
    assert_int_equal(t_read(D1, 0, "data"), -EIO);
    assert_int_equal(t_write(D0, 0, "/local/domain/1/data/a", "x"), 0);
    t_drain(D1);
    assert_int_equal(D1->nev, 3);             /* the three set up front */
    assert_int_equal(xs_dom_find(S, 1)->watches, 3);
    struct tconn *more = t_conn(S, 1);
    assert_int_equal(t_req(more, XS_WATCH, 0, "data/e", "t", NULL), -E2BIG);
    xs_conn_close(more->c);
    free(more);
    xs_conn_close(D1->c);
    xs_conn_reap(S);
    assert_int_equal(xs_dom_find(S, 1)->watches, 0);
    free(D1);
    D1 = t_conn(S, 1);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/a", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/b", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/c", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_UNWATCH, 0, "data/a", "t", NULL), 3);
    /* No token: answered by the guest's own kernel, the handle kept. */
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/x", NULL), -EINVAL);
    assert_false(D1->c->closed);
    /* A path xenstored refuses: the handle goes too. */
    struct tconn *bad = t_conn(S, 1);
    assert_int_equal(t_req(bad, XS_WATCH, 0, "data/x y", "t", NULL), -EINVAL);
    assert_true(bad->c->refused);
    assert_int_equal(t_read(bad, 0, "data"), -EIO);
    xs_conn_close(bad->c);
    free(bad);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/d", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_RESET_WATCHES, 0, "", NULL), 3);
    assert_int_equal(xs_dom_find(S, 1)->watches, 0);
    for (int i = 0; i < 10; i++) {
        char p[16];
        snprintf(p, sizeof(p), "/w%d", i);
        assert_int_equal(t_req(D0, XS_WATCH, 0, p, "t", NULL), 3);
    }
}

/* A handle its process closed counts no more once its kernel is told,
 * before the process's next request: xensim looks for such closes before
 * refusing a watch past the quota, rather than after its loop's next
 * round. */
static void test_watch_quota_sees_closed_handle(void **st)
{
    (void)st;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct tconn *old = t_conn(S, 1);
    assert_int_equal(t_req(old, XS_WATCH, 0, "data/a", "t", NULL), 3);
    assert_int_equal(t_req(old, XS_WATCH, 0, "data/b", "t", NULL), 3);
    assert_int_equal(t_req(old, XS_WATCH, 0, "data/c", "t", NULL), 3);
    old->c->fd = sv[0];                       /* now its process's */
    /* Open: still counted. */
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/d", "t", NULL), -E2BIG);
    xs_conn_close(D1->c);
    free(D1);
    D1 = t_conn(S, 1);
    /* Closed by its process: gone before the next watch is judged. */
    close(sv[1]);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/d", "t", NULL), 3);
    assert_true(old->c->closed);
    assert_int_equal(xs_dom_find(S, 1)->watches, 1);
    assert_int_equal(t_req(D1, XS_RESET_WATCHES, 0, "", NULL), 3);
    xs_conn_reap(S);
    free(old);
}

/* Xen 4.17 refuses a guest's transaction only when it already holds more
 * than the quota (">"): with a quota of 2 the third opens, the fourth
 * fails (the default 10: 11 open, as Xen 4.17 allows). */
static void test_txn_quota(void **st)
{
    (void)st;
    uint32_t a = t_txstart(D1), b = t_txstart(D1), c = t_txstart(D1);
    assert_true(a && b && c);
    assert_int_equal(t_req(D1, XS_TRANSACTION_START, 0, "", NULL), -ENOSPC);
    assert_int_equal(t_txend(D1, a, false), 0);
    uint32_t d = t_txstart(D1);
    assert_true(d != 0);
    assert_int_equal(t_req(D1, XS_TRANSACTION_START, 0, "", NULL), -ENOSPC);
    assert_int_equal(t_txend(D1, b, false), 0);
    assert_int_equal(t_txend(D1, c, false), 0);
    assert_int_equal(t_txend(D1, d, false), 0);
}

/* Xen 4.17's transaction-nodes quota: a guest's txn may touch 1024 nodes,
 * counting those it looked up and found missing, each of which it keeps
 * until its end. Past it a request fails with ENOSPC, and the commit with
 * ENOMEM (the txn may be half changed), as Xen's trans->fail. Dom0 is
 * exempt. */
static void test_txn_node_quota(void **st)
{
    (void)st;
    char p[64];
    /* A guest of its own: D1 is at its node quota. */
    assert_int_equal(xs_domain_introduce(S, 30, "thirty", NULL), 0);
    struct tconn *g = t_conn(S, 30);
    uint32_t tx = t_txstart(g);
    int rc = 0, n;
    for (n = 0; n < 1100; n++) {
        snprintf(p, sizeof(p), "data/missing-%d", n);
        rc = t_read(g, tx, p);
        if (rc != -ENOENT)
            break;
    }
    assert_int_equal(rc, -ENOSPC);
    /* data (looked up for the first ENOENT), and 1023 missing nodes. */
    assert_int_equal(n, 1023);
    assert_int_equal(xs_txn_find(g->c, tx)->nodes.count, 1024);
    /* What it holds already, it may still use. */
    assert_int_equal(t_read(g, tx, "data/missing-0"), -ENOENT);
    assert_int_equal(t_write(g, tx, "data/new", "x"), -ENOSPC);
    assert_int_equal(t_txend(g, tx, true), -ENOMEM);
    assert_int_equal(t_read(g, 0, "data/new"), -ENOENT);
    /* A removal that reaches the quota half way is not committed. */
    assert_int_equal(t_write(g, 0, "data/sub/a", "1"), 0);
    assert_int_equal(t_write(g, 0, "data/sub/b", "1"), 0);
    tx = t_txstart(g);
    for (n = 0; n < 1021; n++) {
        snprintf(p, sizeof(p), "data/missing-%d", n);
        assert_int_equal(t_read(g, tx, p), -ENOENT);
    }
    /* 1022 held (data too): data/sub is the 1023rd, data/sub/b (removed
     * first) the 1024th, data/sub/a is refused. */
    assert_int_equal(t_ok(g, XS_RM, tx, "data/sub"), -ENOSPC);
    assert_int_equal(t_txend(g, tx, true), -ENOMEM);
    assert_int_equal(t_read(g, 0, "data/sub/a"), 1);
    assert_int_equal(t_ok(g, XS_RM, 0, "data/sub"), 0);
    /* A new txn starts afresh. */
    tx = t_txstart(g);
    assert_int_equal(t_write(g, tx, "data/new", "x"), 0);
    assert_int_equal(t_txend(g, tx, true), 0);
    assert_int_equal(t_ok(g, XS_RM, 0, "data/new"), 0);
    /* Dom0's txn is not bounded. */
    tx = t_txstart(D0);
    for (n = 0; n < 1100; n++) {
        snprintf(p, sizeof(p), "/tq/missing-%d", n);
        assert_int_equal(t_read(D0, tx, p), -ENOENT);
    }
    assert_int_equal(t_write(D0, tx, "/tq/x", "1"), 0);
    assert_int_equal(t_txend(D0, tx, true), 0);
    assert_int_equal(t_ok(D0, XS_RM, 0, "/tq"), 0);
    assert_int_equal(xs_domain_release(S, 30), 0);
    xs_conn_reap(S);
    free(g);
}

/* A guest that takes no events: past its quota of queued messages they
 * are dropped (Xen 4.17: past its memory quota), and the connection
 * stays; each distinct, so none merges. */
static void test_output_quota_drops_events(void **st)
{
    (void)st;
    char p[64];
    struct tconn *lazy = t_conn(S, 1);
    assert_int_equal(t_req(lazy, XS_WATCH, 0, "data", "t", NULL), 3);
    t_clear_events(lazy);
    /* Never drained from here on. */
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof(p), "/local/domain/1/data/n%d", i);
        assert_int_equal(t_write(D0, 0, p, "x"), 0);
    }
    assert_false(lazy->c->closed);
    assert_int_equal((int)lazy->c->out_count, 8);
    /* The first 8 came; the connection still answers. */
    assert_int_equal(t_read(lazy, 0, "/local/domain/1/data/n19"), 1);
    assert_int_equal(lazy->nev, 8);
    assert_string_equal(lazy->ev[0].path, "data/n0");
    assert_string_equal(lazy->ev[7].path, "data/n7");
    /* Room again: the next event is queued. */
    assert_int_equal(t_write(D0, 0, "/local/domain/1/data/n0", "y"), 0);
    t_drain(lazy);
    assert_int_equal(lazy->nev, 9);
    assert_int_equal(t_req(lazy, XS_UNWATCH, 0, "data", "t", NULL), 3);
    free(lazy);
}

/* A guest that sends requests and never reads their replies is cut at
 * its quota, and its watches go with the connection. */
static void test_output_quota_cuts_reply_hoarder(void **st)
{
    (void)st;
    struct tconn *lazy = t_conn(S, 1);
    const char path[] = "/local/domain/1";
    unsigned char msg[16 + sizeof(path)];
    assert_int_equal(t_req(lazy, XS_WATCH, 0, "data", "t", NULL), 3);
    assert_int_equal(xs_dom_find(S, 1)->watches, 1);
    for (uint32_t i = 0; i < 20 && !lazy->c->closed; i++) {
        struct xsd_sockmsg h = {.type = XS_READ, .req_id = i,
                                .len = sizeof(path)};
        memcpy(msg, &h, 16);
        memcpy(msg + 16, path, sizeof(path));
        xs_conn_feed(lazy->c, msg, sizeof(msg));
    }
    assert_true(lazy->c->closed);
    xs_conn_reap(S);
    assert_int_equal(xs_dom_find(S, 1)->watches, 0);
    free(lazy);
}

/* The commit-time node quota (Xen 4.17's acc_fix_domains at
 * TRANSACTION_END). Each test introduces a fresh guest: 6 of its home's
 * nodes are its own, the quota is 20. */
static struct xs_dom *fresh_guest(uint32_t domid)
{
    assert_int_equal(xs_domain_introduce(S, domid, "fresh", NULL), 0);
    struct xs_dom *d = xs_dom_find(S, domid);
    assert_non_null(d);
    assert_int_equal(d->nodes, 6);
    return d;
}

/* Create n nodes <home>/<dir>/<i> in txn tx (0: outside one). Txns that
 * add children to one dir conflict: those meant not to use two dirs. */
static void make_nodes(struct tconn *t, uint32_t tx, uint32_t domid,
                       const char *dir, int n)
{
    char p[64];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "/local/domain/%u/%s/%d",
                 (unsigned)domid, dir, i);
        assert_int_equal(t_write(t, tx, p, "x"), 0);
    }
}

/* Two connections of one guest, each txn within the quota on its own:
 * the second commit would take the guest past it and is refused. */
static void test_txn_commit_rechecks_quota(void **st)
{
    (void)st;
    struct xs_dom *d = fresh_guest(2);
    struct tconn *g1 = t_conn(S, 2), *g2 = t_conn(S, 2);
    assert_int_equal(t_req(D0, XS_WATCH, 0, "/local/domain/2", "q", NULL),
                     3);
    t_clear_events(D0);
    uint32_t t1 = t_txstart(g1), t2 = t_txstart(g2);
    assert_true(t1 && t2);
    make_nodes(g1, t1, 2, "data", 8); /* 6 + 8 = 14 */
    make_nodes(g2, t2, 2, "attr", 8); /* 6 + 8 = 14, but 14 + 8 = 22 */
    assert_int_equal(t_txend(g1, t1, true), 0);
    assert_int_equal(d->nodes, 14);
    t_drain(D0);
    assert_true(t_has_event(D0, "/local/domain/2/data/7", "q"));
    t_clear_events(D0);

    assert_int_equal(t_txend(g2, t2, true), -ENOSPC);
    /* Nothing applied, nothing fired, the txn gone. */
    assert_int_equal(d->nodes, 14);
    assert_int_equal(d->transactions, 0);
    assert_int_equal(t_read(D0, 0, "/local/domain/2/data/7"), 1);
    assert_int_equal(t_read(D0, 0, "/local/domain/2/attr/0"), -ENOENT);
    assert_int_equal(t_read(D0, 0, "/local/domain/2/attr/7"), -ENOENT);
    t_drain(D0);
    assert_int_equal(D0->nev, 0);
    assert_int_equal(t_read(g2, t2, "/local/domain/2/data/0"), -ENOENT);
    assert_int_equal(t_txend(g2, t2, true), -ENOENT);
    /* The quota left is the guest's to use. */
    make_nodes(g2, 0, 2, "drivers", 6);
    assert_int_equal(d->nodes, 20);
    assert_int_equal(t_write(g2, 0, "/local/domain/2/drivers/6", "x"),
                     -ENOSPC);
    assert_int_equal(t_req(D0, XS_UNWATCH, 0, "/local/domain/2", "q", NULL),
                     3);
    free(g1);
    free(g2);
}

/* A txn that creates nothing is not checked (Xen's node_created), even
 * with its guest over the quota: dom0 made nodes the guest owns. */
static void test_txn_commit_no_create_not_checked(void **st)
{
    (void)st;
    struct xs_dom *d = fresh_guest(3);
    struct tconn *g = t_conn(S, 3);
    make_nodes(D0, 0, 3, "data", 20); /* inherit data/'s owner: the guest */
    assert_int_equal(d->nodes, 26);
    uint32_t tx = t_txstart(g);
    assert_true(tx != 0);
    assert_int_equal(t_write(g, tx, "/local/domain/3/data/0", "changed"),
                     0);
    assert_int_equal(t_ok(g, XS_RM, tx, "/local/domain/3/data/1"), 0);
    assert_int_equal(t_txend(g, tx, true), 0);
    assert_int_equal(d->nodes, 25);
    assert_int_equal(t_read(g, 0, "/local/domain/3/data/0"), 7);
    assert_string_equal(g->buf, "changed");
    assert_int_equal(t_read(g, 0, "/local/domain/3/data/1"), -ENOENT);
    free(g);
}

/* Xen 4.17 refuses a commit that would bring the count to exactly the
 * quota (">="), where a plain write may reach it. */
static void test_txn_commit_quota_edge(void **st)
{
    (void)st;
    struct xs_dom *d = fresh_guest(4);
    struct tconn *g = t_conn(S, 4);
    uint32_t tx = t_txstart(g);
    make_nodes(g, tx, 4, "data", 14); /* each write sees 6 + 14 <= 20 */
    assert_int_equal(t_txend(g, tx, true), -ENOSPC);
    assert_int_equal(d->nodes, 6);
    tx = t_txstart(g);
    make_nodes(g, tx, 4, "data", 13); /* to 19 */
    assert_int_equal(t_txend(g, tx, true), 0);
    assert_int_equal(d->nodes, 19);
    assert_int_equal(t_write(g, 0, "/local/domain/4/data/last", "x"), 0);
    assert_int_equal(d->nodes, 20);
    free(g);
}

/* Dom0's txns are never refused, even creating nodes a guest owns past
 * its quota. */
static void test_txn_commit_dom0_not_checked(void **st)
{
    (void)st;
    struct xs_dom *d = fresh_guest(5);
    struct tconn *g = t_conn(S, 5);
    uint32_t gt = t_txstart(g);
    make_nodes(g, gt, 5, "data", 10); /* 16 at its commit */
    uint32_t tx = t_txstart(D0);
    make_nodes(D0, tx, 5, "attr", 10); /* the guest's: 6 + 10, then 26 */
    assert_int_equal(t_txend(g, gt, true), 0);
    assert_int_equal(d->nodes, 16);
    assert_int_equal(t_txend(D0, tx, true), 0);
    assert_int_equal(d->nodes, 26);
    free(g);
}

/* As in Xen 4.17, the quota is checked before the conflicts: a commit that
 * both conflicts and is over quota gets ENOSPC. */
static void test_txn_commit_enospc_before_eagain(void **st)
{
    (void)st;
    fresh_guest(6);
    struct tconn *g1 = t_conn(S, 6), *g2 = t_conn(S, 6);
    uint32_t t1 = t_txstart(g1), t2 = t_txstart(g2);
    make_nodes(g1, t1, 6, "data", 8);
    make_nodes(g2, t2, 6, "data", 8); /* the same paths: a conflict too */
    assert_int_equal(t_txend(g1, t1, true), 0);
    assert_int_equal(t_txend(g2, t2, true), -ENOSPC);
    free(g1);
    free(g2);
}

/* An owner released and introduced again since is not checked: its delta
 * belongs to the domain that went (apply() drops it).  Its nodes went
 * with it (xs_domain_release), so the delta is that of a node the txn
 * made for it. */
static void test_txn_commit_reintroduced_owner(void **st)
{
    (void)st;
    fresh_guest(8);
    struct xs_dom *d0 = xs_dom_find(S, 0);
    unsigned nodes0 = d0->nodes;
    uint32_t tx = t_txstart(D0);
    assert_int_equal(t_write(D0, tx, "/shared8/y", "y"), 0);  /* dom0: +1 */
    assert_int_equal(t_req(D0, XS_SET_PERMS, tx, "/shared8/y", "n8", NULL),
                     3);                                      /* dom8: +1 */
    assert_int_equal(xs_domain_release(S, 8), 0);
    struct xs_dom *d8 = fresh_guest(8);
    make_nodes(D0, 0, 8, "data", 15);
    assert_int_equal(d8->nodes, 21); /* 21 + 1 would be at the quota */
    assert_int_equal(t_txend(D0, tx, true), 0);
    assert_int_equal(d8->nodes, 21);
    assert_true(d0->nodes >= nodes0);
}

/* n bytes of 'v' (n < 256). */
static const char *bytes(unsigned n)
{
    static char b[256];
    memset(b, 'v', n);
    b[n] = '\0';
    return b;
}

/* Xen 4.17's entry size: a guest's node record (24-byte header, 8 per perm
 * entry, the value, the child names with their NULs) stays below the
 * limit, 128 here; dom0 is exempt; a child may always be removed. */
static void test_entry_size(void **st)
{
    (void)st;
    fresh_guest(20);
    struct tconn *g = t_conn(S, 20);
    char p[64], perms[64];
    /* One perm entry: 127 - 24 - 8 = 95 bytes of value. */
    assert_int_equal(t_write(g, 0, "/local/domain/20/data/v", bytes(95)), 0);
    assert_int_equal(t_write(g, 0, "/local/domain/20/data/v", bytes(96)), -ENOSPC);
    assert_int_equal(t_read(g, 0, "/local/domain/20/data/v"), 95);
    assert_int_equal(t_write(g, 0, "/local/domain/20/data/new", bytes(96)), -ENOSPC);
    assert_int_equal(t_read(g, 0, "/local/domain/20/data/new"), -ENOENT);
    /* Also inside a transaction, and for a node made with its parents. */
    uint32_t tx = t_txstart(g);
    assert_int_equal(t_write(g, tx, "/local/domain/20/data/t", bytes(96)), -ENOSPC);
    assert_int_equal(t_write(g, tx, "/local/domain/20/data/t", bytes(95)), 0);
    assert_int_equal(t_txend(g, tx, true), 0);
    assert_int_equal(t_write(g, 0, "/local/domain/20/data/a/b", bytes(95)), 0);
    assert_int_equal(t_ok(g, XS_RM, 0, "/local/domain/20/data/a"), 0);
    /* A second perm entry takes 8 bytes more. */
    assert_int_equal(t_req(g, XS_SET_PERMS, 0, "/local/domain/20/data/v", "n20", "r0",
                           NULL), -ENOSPC);
    assert_int_equal(t_getperms(g, "/local/domain/20/data/v", perms, sizeof(perms)), 0);
    assert_string_equal(perms, "n20");
    assert_int_equal(t_write(g, 0, "/local/domain/20/data/v", bytes(87)), 0);
    assert_int_equal(t_req(g, XS_SET_PERMS, 0, "/local/domain/20/data/v", "n20", "r0",
                           NULL), 3);
    /* Child names of 20 characters take 21 bytes: four fit in 95. */
    int made = 0, rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++) {
        snprintf(p, sizeof(p), "/local/domain/20/data/k/c%019d", i);
        rc = t_write(g, 0, p, "");
        made += rc == 0;
    }
    assert_int_equal(rc, -ENOSPC);
    assert_int_equal(made, 4);
    assert_int_equal(t_read(g, 0, p), -ENOENT);
    /* dom0 may take a node past it; the guest may still remove a child. */
    assert_int_equal(t_write(D0, 0, "/local/domain/20/data/k", bytes(200)), 0);
    snprintf(p, sizeof(p), "/local/domain/20/data/k/c%019d", 0);
    assert_int_equal(t_ok(g, XS_RM, 0, p), 0);
    assert_int_equal(t_write(g, 0, p, ""), -ENOSPC);
    assert_int_equal(t_write(D0, 0, p, ""), 0);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_node_quota),
        cmocka_unit_test(test_watch_quota),
        cmocka_unit_test(test_watch_quota_sees_closed_handle),
        cmocka_unit_test(test_txn_quota),
        cmocka_unit_test(test_txn_node_quota),
        cmocka_unit_test(test_output_quota_drops_events),
        cmocka_unit_test(test_output_quota_cuts_reply_hoarder),
        cmocka_unit_test(test_txn_commit_rechecks_quota),
        cmocka_unit_test(test_txn_commit_no_create_not_checked),
        cmocka_unit_test(test_txn_commit_quota_edge),
        cmocka_unit_test(test_txn_commit_dom0_not_checked),
        cmocka_unit_test(test_txn_commit_enospc_before_eagain),
        cmocka_unit_test(test_txn_commit_reintroduced_owner),
        cmocka_unit_test(test_entry_size),
    };
    return cmocka_run_group_tests(tests, t_group_setup, t_group_teardown);
}
