/* xensim xenstore: transactions. A txn keeps private copies of every node
 * it read or wrote (a guest's at most lim.txn_nodes: xs_tree.c), each with
 * the live generation it was copied at, and at most one queued watch event
 * per node. As in Xen 4.17's xenstored, the commit of a txn in which a
 * request failed at that quota fails with ENOMEM; that of a guest's txn
 * that created a node then fails with ENOSPC if it would take a domain to
 * its node quota (see over_quota); then it fails with EAGAIN if any of
 * those nodes changed (or appeared, or went away) in the live tree since;
 * else the changed copies replace the live nodes and the queued watch
 * events fire. A failed commit applies nothing and fires nothing. */
#include "xs_core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void free_events(struct xs_event *e)
{
    while (e) {
        struct xs_event *next = e->next;
        free(e->path);
        free(e->perms);
        free(e);
        e = next;
    }
}

static void txn_free(struct xs_txn *t)
{
    xs_store_clear(&t->nodes);
    free_events(t->events);
    free(t->acc);
    free(t);
}

/* Unlink t from its connection and give back the domain's txn slot. */
static void txn_detach(struct xs_conn *c, struct xs_txn *t)
{
    for (struct xs_txn **pp = &c->txns; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    struct xs_dom *d = xs_dom_find(c->s, c->domid);
    if (d && d->transactions)
        d->transactions--;
}

int xs_txn_start(struct xs_conn *c, uint32_t *id)
{
    struct xs_dom *d = xs_dom_find(c->s, c->domid);
    /* ">", as Xen 4.17's do_transaction_start: a guest may hold one more
     * than the quota. */
    if (c->domid != 0 && d &&
        d->transactions > c->s->lim.transactions_per_domain)
        return -ENOSPC;
    struct xs_txn *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    if (xs_store_init(&t->nodes) < 0) {
        free(t);
        return -ENOMEM;
    }
    t->events_tail = &t->events;
    /* Ids are per connection; skip 0 (no txn) and any still in use. */
    do {
        t->id = ++c->next_txid;
    } while (t->id == 0 || xs_txn_find(c, t->id));
    t->next = c->txns;
    c->txns = t;
    if (d)
        d->transactions++;
    *id = t->id;
    return 0;
}

struct xs_txn *xs_txn_find(struct xs_conn *c, uint32_t id)
{
    for (struct xs_txn *t = c->txns; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

static bool has_conflict(struct xs_server *s, struct xs_txn *t)
{
    size_t b = 0;
    for (struct xs_node *n = xs_store_next(&t->nodes, &b, NULL); n;
         n = xs_store_next(&t->nodes, &b, n)) {
        struct xs_node *live = xs_store_get(&s->tree, n->path);
        if ((live ? live->gen : 0) != n->base_gen)
            return true;
    }
    return false;
}

/* Xen 4.17's acc_fix_domains(chk_quota) at commit: each write was checked
 * against the live count plus this txn's own delta, but other txns of the
 * same guest may have committed since. So a guest's txn that created a
 * node is refused if any domain whose count it changed would end at or
 * above the quota. 4.17 tests ">=" here (a commit may not reach exactly the
 * quota, while a plain write may); later Xen tests ">". Dom0's own
 * connections are never checked; nor is dom0's count (not kept from the
 * start, and it has no quota), nor an owner gone or introduced again since
 * (apply() drops its delta). Conformance scenario store-quota checks the
 * ">=", the txn that creates nothing and dom0's count against Xen 4.17. */
static bool over_quota(struct xs_server *s, const struct xs_conn *c,
                       const struct xs_txn *t)
{
    if (c->domid == 0 || !t->node_created)
        return false;
    for (unsigned k = 0; k < t->nacc; k++) {
        struct xs_dom *d = xs_dom_find(s, t->acc[k].domid);
        if (!d || d->domid == 0 || d->gen != t->acc[k].dom_gen)
            continue;
        if ((long)d->nodes + t->acc[k].delta >=
            (long)s->lim.nodes_per_domain)
            return true;
    }
    return false;
}

static int apply(struct xs_server *s, struct xs_txn *t)
{
    size_t cnt = 0, b = 0;
    for (struct xs_node *n = xs_store_next(&t->nodes, &b, NULL); n;
         n = xs_store_next(&t->nodes, &b, n))
        cnt += n->dirty;
    char **paths = calloc(cnt ? cnt : 1, sizeof(*paths));
    if (!paths)
        return -ENOMEM;
    size_t i = 0;
    b = 0;
    for (struct xs_node *n = xs_store_next(&t->nodes, &b, NULL); n;
         n = xs_store_next(&t->nodes, &b, n))
        if (n->dirty)
            paths[i++] = n->path;
    /* Unlinking from t->nodes invalidates iteration, hence the list; the
     * path strings live in the nodes, so take the node before using it. */
    for (i = 0; i < cnt; i++) {
        struct xs_node *n = xs_store_take(&t->nodes, paths[i]);
        if (n->absent) {
            xs_node_free(xs_store_take(&s->tree, n->path));
            xs_node_free(n);
            continue;
        }
        n->dirty = false;
        n->base_gen = 0;
        n->event = NULL; /* freed with the txn */
        /* The copy's entries hold for the domains that existed when the
         * txn last changed it: drop those that went away since, even if
         * their domid names a new domain now. */
        xs_perm_settle(s, n);
        n->gen = s->generation++;
        xs_store_put(&s->tree, n);
    }
    free(paths);
    /* An owner released since holds nothing now (its nodes are dom0's);
     * a new domain under its domid must not get its count. */
    for (unsigned k = 0; k < t->nacc; k++) {
        struct xs_dom *d = xs_dom_find(s, t->acc[k].domid);
        if (d && d->gen == t->acc[k].dom_gen)
            xs_dom_count_nodes(s, t->acc[k].domid, t->acc[k].delta);
    }
    return 0;
}

int xs_txn_end(struct xs_conn *c, struct xs_txn *t, bool commit)
{
    struct xs_server *s = c->s;
    txn_detach(c, t);
    int rc = 0;
    if (commit) {
        /* Xen 4.17 checks the quota before the conflicts: ENOSPC wins. */
        if (t->failed)
            rc = -ENOMEM;
        else if (over_quota(s, c, t))
            rc = -ENOSPC;
        else if (has_conflict(s, t))
            rc = -EAGAIN;
        else
            rc = apply(s, t);
        if (rc == 0)
            for (struct xs_event *e = t->events; e; e = e->next)
                xs_watch_fire(s, e->path, e->exact, e->perms, e->nperms,
                              e->gen);
    }
    txn_free(t);
    return rc;
}

void xs_txn_free_all(struct xs_conn *c)
{
    while (c->txns)
        xs_txn_end(c, c->txns, false);
}

static void event_set_perms(struct xs_event *e, const struct xs_perm *p,
                            unsigned np, uint64_t gen)
{
    if (!np)
        return;
    e->perms = malloc(np * sizeof(*p));
    if (e->perms) {
        memcpy(e->perms, p, np * sizeof(*p));
        e->nperms = np;
        e->gen = gen;
    }
}

/* Merged per node, so a txn's events are bounded by the nodes it touched
 * (every path queued here is one of t->nodes). The perms kept are the
 * first given: those before the txn's first SET_PERMS or removal of it. */
int xs_txn_queue_event(struct xs_txn *t, const char *path, bool exact,
                       const struct xs_perm *p, unsigned np, uint64_t gen)
{
    struct xs_node *n = xs_store_get(&t->nodes, path);
    struct xs_event *e = n ? n->event : NULL;
    if (e) {
        e->exact = e->exact && exact;
        if (!e->nperms)
            event_set_perms(e, p, np, gen);
        return 0;
    }
    e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    e->path = strdup(path);
    if (!e->path) {
        free(e);
        return -ENOMEM;
    }
    e->exact = exact;
    event_set_perms(e, p, np, gen);
    if (n)
        n->event = e;
    *t->events_tail = e;
    t->events_tail = &e->next;
    return 0;
}

/* The introduction generation of domid now; none for a domain that does
 * not exist (its deltas are dropped at the commit). */
static uint64_t dom_gen_now(struct xs_server *s, uint32_t domid)
{
    struct xs_dom *d = xs_dom_find(s, domid);
    return d ? d->gen : XS_GEN_PENDING;
}

int xs_txn_acc_get(struct xs_server *s, const struct xs_txn *t,
                   uint32_t domid)
{
    uint64_t g = dom_gen_now(s, domid);
    for (unsigned i = 0; i < t->nacc; i++)
        if (t->acc[i].domid == domid && t->acc[i].dom_gen == g)
            return t->acc[i].delta;
    return 0;
}

int xs_txn_acc_add(struct xs_server *s, struct xs_txn *t, uint32_t domid,
                   int delta)
{
    uint64_t g = dom_gen_now(s, domid);
    for (unsigned i = 0; i < t->nacc; i++) {
        if (t->acc[i].domid == domid && t->acc[i].dom_gen == g) {
            t->acc[i].delta += delta;
            return 0;
        }
    }
    struct xs_txn_acc *a = realloc(t->acc, (t->nacc + 1) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    t->acc = a;
    t->acc[t->nacc].domid = domid;
    t->acc[t->nacc].dom_gen = g;
    t->acc[t->nacc].delta = delta;
    t->nacc++;
    return 0;
}
