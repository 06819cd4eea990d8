/* xensim xenstore: read, write, mkdir, rm and set-perms on the tree, with
 * xenstored's permission and errno rules, either on the live tree or inside
 * a transaction (copy-on-access: the txn works on private copies, each
 * remembering the live generation it was copied at, for the commit check). */
#include "xs_core.h"
#include "xs_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room in a guest's txn for one more node: each node it touches, even
 * one looked up and missing, keeps a copy until its end, so Xen 4.17's
 * transaction-nodes quota bounds them. Past it the request fails with
 * ENOSPC, and the txn may have been changed half way: its commit then
 * fails too (Xen's trans->fail). */
static int txn_room(struct xs_view *v)
{
    if (v->domid == 0 || v->txn->nodes.count < v->s->lim.txn_nodes)
        return 0;
    v->txn->failed = true;
    return -ENOSPC;
}

int xs_tree_lookup(struct xs_view *v, const char *path, struct xs_node **out)
{
    struct xs_server *s = v->s;
    struct xs_node *n;
    if (!v->txn) {
        n = xs_store_get(&s->tree, path);
        if (!n)
            return -ENOENT;
        *out = n;
        return 0;
    }
    n = xs_store_get(&v->txn->nodes, path);
    if (!n) {
        int rc = txn_room(v);
        if (rc < 0)
            return rc;
        /* First touch in this txn: snapshot it (or its absence). */
        struct xs_node *live = xs_store_get(&s->tree, path);
        n = live ? xs_node_copy(live) : xs_node_new(path);
        if (!n)
            return -ENOMEM;
        n->base_gen = live ? live->gen : 0;
        n->absent = !live;
        n->dirty = false;
        xs_store_put(&v->txn->nodes, n);
    }
    if (n->absent)
        return -ENOENT;
    *out = n;
    return 0;
}

/* Call after changing n (value, perms, children). A txn's copy takes a
 * generation too: its permission entries hold for the domains that exist
 * now, not for one introduced later under a reused domid before the commit
 * (XSA-322, as on the live tree). */
static void node_changed(struct xs_view *v, struct xs_node *n)
{
    if (v->txn)
        n->dirty = true;
    n->gen = v->s->generation++;
}

static void view_event(struct xs_view *v, const char *path, bool exact,
                       const struct xs_perm *p, unsigned np, uint64_t gen)
{
    if (v->txn)
        (void)xs_txn_queue_event(v->txn, path, exact, p, np, gen);
    else
        xs_watch_fire(v->s, path, exact, p, np, gen);
}

static void view_count(struct xs_view *v, uint32_t owner, int delta)
{
    if (v->txn)
        (void)xs_txn_acc_add(v->s, v->txn, owner, delta);
    else
        xs_dom_count_nodes(v->s, owner, delta);
}

int xs_tree_get(struct xs_view *v, const char *path, unsigned want,
                struct xs_node **out)
{
    struct xs_node *n;
    int rc = xs_tree_lookup(v, path, &n);
    if (rc == 0) {
        if ((xs_node_access(v->s, v->domid, n) & want) == want) {
            *out = n;
            return 0;
        }
        rc = -EACCES;
    }
    if (rc != -ENOENT && rc != -EACCES)
        return rc; /* -ENOMEM, -ENOSPC (a txn's node quota) */
    /* Only say "no such node" to whoever may use the nearest existing
     * ancestor the same way: otherwise it leaks what exists. */
    char cur[XS_PATH_BUF], up[XS_PATH_BUF];
    snprintf(cur, sizeof(cur), "%s", path);
    struct xs_node *anc = NULL;
    while (strcmp(cur, "/") != 0) {
        xs_path_parent(cur, up, sizeof(up));
        int r = xs_tree_lookup(v, up, &anc);
        if (r == 0)
            break;
        if (r != -ENOENT)
            return r;
        anc = NULL;
        memcpy(cur, up, strlen(up) + 1);
    }
    if (anc && (xs_node_access(v->s, v->domid, anc) & want))
        return rc;
    return -EACCES;
}

/* A guest may own up to the quota. In a txn, the live count plus the txn's
 * own delta: other txns of the guest are seen at commit (xs_txn.c). */
static int node_quota_check(struct xs_view *v, unsigned new_nodes)
{
    if (v->domid == 0)
        return 0;
    struct xs_dom *d = xs_dom_find(v->s, v->domid);
    long have = d ? (long)d->nodes : 0;
    if (v->txn)
        have += xs_txn_acc_get(v->s, v->txn, v->domid);
    if (have + (long)new_nodes > (long)v->s->lim.nodes_per_domain)
        return -ENOSPC;
    return 0;
}

/* A node for path that does not exist in the view yet. */
static int materialize(struct xs_view *v, const char *path,
                       struct xs_node **out)
{
    struct xs_node *n;
    if (v->txn) {
        n = xs_store_get(&v->txn->nodes, path);
        if (!n) {
            int rc = txn_room(v);
            if (rc < 0)
                return rc;
            n = xs_node_new(path);
            if (!n)
                return -ENOMEM;
            n->base_gen = 0;
            xs_store_put(&v->txn->nodes, n);
        }
        n->absent = false;
    } else {
        n = xs_node_new(path);
        if (!n)
            return -ENOMEM;
        xs_store_put(&v->s->tree, n);
    }
    *out = n;
    return 0;
}

/* The records that creating path below its nearest existing ancestor
 * parent would write, checked against the entry size before any is: the
 * parent with one more child name, then each new node (the parent's
 * perms, its next child's name or, the last, the value). */
static int create_size_check(struct xs_view *v, const struct xs_node *parent,
                             const char *path, uint32_t len)
{
    size_t total = strlen(path);
    size_t pos = strcmp(parent->path, "/") == 0 ? 0 : strlen(parent->path);
    size_t value = parent->len, children = xs_node_children_bytes(parent);
    while (pos < total) {
        const char *slash = strchr(path + pos + 1, '/');
        size_t end = slash ? (size_t)(slash - path) : total;
        /* path[pos] is the '/' before this level's name. */
        int rc = xs_entry_size_check(v->s, v->domid, parent->nperms, value,
                                     children + (end - pos - 1) + 1);
        if (rc < 0)
            return rc;
        value = 0;
        children = 0;
        pos = end;
    }
    return xs_entry_size_check(v->s, v->domid, parent->nperms, len, 0);
}

/* Create path and its missing ancestors: each inherits its parent's perms,
 * and an unprivileged creator owns what it creates. */
static int create_node(struct xs_view *v, const char *path, const void *val,
                       uint32_t len)
{
    char cur[XS_PATH_BUF], up[XS_PATH_BUF];
    snprintf(cur, sizeof(cur), "%s", path);
    unsigned levels = 1;
    struct xs_node *parent = NULL;
    for (;;) {
        xs_path_parent(cur, up, sizeof(up));
        int rc = xs_tree_lookup(v, up, &parent);
        if (rc == 0)
            break;
        if (rc != -ENOENT)
            return rc;
        memcpy(cur, up, strlen(up) + 1);
        levels++;
    }
    int rc = node_quota_check(v, levels);
    if (rc == 0)
        rc = create_size_check(v, parent, path, len);
    if (rc < 0)
        return rc;

    size_t total = strlen(path);
    size_t pos = strcmp(parent->path, "/") == 0 ? 0 : strlen(parent->path);
    while (pos < total) {
        const char *slash = strchr(path + pos + 1, '/');
        size_t end = slash ? (size_t)(slash - path) : total;
        char sub[XS_PATH_BUF];
        memcpy(sub, path, end);
        sub[end] = '\0';

        xs_perm_settle(v->s, parent);
        rc = xs_node_add_child(parent, xs_path_base(sub));
        if (rc < 0)
            return rc;
        node_changed(v, parent);

        struct xs_node *n;
        rc = materialize(v, sub, &n);
        if (rc < 0)
            return rc;
        if (v->txn)
            v->txn->node_created = true;
        rc = xs_node_set_perms(n, parent->perms, parent->nperms);
        if (rc == 0)
            rc = end == total ? xs_node_set_value(n, val, len)
                              : xs_node_set_value(n, NULL, 0);
        if (rc < 0)
            return rc;
        if (v->domid != 0 && n->nperms)
            n->perms[0].domid = v->domid;
        node_changed(v, n);
        view_count(v, xs_perm_owner(v->s, n->perms, n->gen), +1);
        parent = n;
        pos = end;
    }
    return 0;
}

int xs_tree_write(struct xs_view *v, const char *path, const void *val,
                  uint32_t len)
{
    struct xs_node *n;
    int rc = xs_tree_get(v, path, XS_ACC_WRITE, &n);
    if (rc == 0) {
        rc = xs_entry_size_check(v->s, v->domid, n->nperms, len,
                                 xs_node_children_bytes(n));
        if (rc < 0)
            return rc;
        xs_perm_settle(v->s, n);
        rc = xs_node_set_value(n, val, len);
        if (rc < 0)
            return rc;
        node_changed(v, n);
    } else if (rc == -ENOENT) {
        rc = create_node(v, path, val, len);
        if (rc < 0)
            return rc;
    } else {
        return rc;
    }
    view_event(v, path, false, NULL, 0, 0);
    return 0;
}

int xs_tree_mkdir(struct xs_view *v, const char *path)
{
    struct xs_node *n;
    int rc = xs_tree_get(v, path, XS_ACC_WRITE, &n);
    if (rc == 0)
        return 0; /* already there: left as it is */
    if (rc != -ENOENT)
        return rc;
    rc = create_node(v, path, NULL, 0);
    if (rc < 0)
        return rc;
    view_event(v, path, false, NULL, 0, 0);
    return 0;
}

/* Remove path and everything below it; descendants fire exact events,
 * the top node an event for every watch above it. */
static int remove_subtree(struct xs_view *v, const char *path, bool top)
{
    struct xs_node *n;
    int rc = xs_tree_lookup(v, path, &n);
    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    while (n->nchildren) {
        const char *base = n->children[n->nchildren - 1];
        size_t plen = strlen(path), blen = strlen(base);
        char *child = malloc(plen + blen + 2);
        if (!child)
            return -ENOMEM;
        /* "/" + base, or path + "/" + base */
        size_t at = strcmp(path, "/") == 0 ? 0 : plen;
        memcpy(child, path, at);
        child[at] = '/';
        memcpy(child + at + 1, base, blen + 1);
        rc = remove_subtree(v, child, false);
        free(child);
        if (rc < 0)
            return rc;
        xs_node_remove_child(n, base);
    }
    xs_perm_settle(v->s, n);
    view_count(v, xs_perm_owner(v->s, n->perms, n->gen), -1);
    view_event(v, path, !top, n->perms, n->nperms, n->gen);
    if (v->txn) {
        n->absent = true;
        n->dirty = true;
        n->gen = XS_GEN_PENDING;
        xs_node_set_value(n, NULL, 0);
    } else {
        xs_node_free(xs_store_take(&v->s->tree, path));
    }
    return 0;
}

int xs_tree_rm(struct xs_view *v, const char *path)
{
    struct xs_node *n;
    int rc = xs_tree_get(v, path, XS_ACC_WRITE, &n);
    char up[XS_PATH_BUF];
    if (rc == -ENOENT) {
        /* Nothing to remove is fine, if the parent is there. */
        struct xs_node *parent;
        xs_path_parent(path, up, sizeof(up));
        return xs_tree_lookup(v, up, &parent) == 0 ? 0 : -ENOENT;
    }
    if (rc < 0)
        return rc;
    if (strcmp(path, "/") == 0)
        return -EINVAL;
    /* The parent first: in a txn, a lookup may fail (its node quota). */
    struct xs_node *parent;
    xs_path_parent(path, up, sizeof(up));
    rc = xs_tree_lookup(v, up, &parent);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    bool has_parent = rc == 0;
    rc = remove_subtree(v, path, true);
    if (rc < 0)
        return rc;
    if (has_parent) {
        xs_perm_settle(v->s, parent);
        xs_node_remove_child(parent, xs_path_base(path));
        node_changed(v, parent);
    }
    return 0;
}

static int set_special_perms(struct xs_view *v, const char *name,
                             struct xs_perm *p, unsigned np)
{
    struct xs_server *s = v->s;
    struct xs_perm **cur;
    unsigned *ncur;
    if (strcmp(name, "@introduceDomain") == 0) {
        cur = &s->intro_perms;
        ncur = &s->n_intro_perms;
    } else if (strcmp(name, "@releaseDomain") == 0) {
        cur = &s->release_perms;
        ncur = &s->n_release_perms;
    } else {
        return -EINVAL;
    }
    unsigned acc = xs_perm_access(s, v->domid, *cur, *ncur, XS_GEN_PENDING);
    if ((acc & (XS_ACC_WRITE | XS_ACC_OWNER)) != (XS_ACC_WRITE | XS_ACC_OWNER))
        return -EACCES;
    struct xs_perm *copy = malloc(np * sizeof(*copy));
    if (!copy)
        return -ENOMEM;
    memcpy(copy, p, np * sizeof(*copy));
    free(*cur);
    *cur = copy;
    *ncur = np;
    return 0;
}

int xs_tree_set_perms(struct xs_view *v, const char *path,
                      struct xs_perm *p, unsigned np)
{
    struct xs_server *s = v->s;
    if (np == 0)
        return -EINVAL;
    if (v->domid != 0 && np > XS_MAX_PERMS_PER_NODE)
        return -ENOSPC;
    /* Entries naming domains that do not exist now never grant anything,
     * even once such a domain is created. */
    for (unsigned i = 0; i < np; i++)
        if (!xs_perm_entry_valid(s, p[i].domid, XS_GEN_PENDING))
            p[i].ignore = true;
    if (p[0].ignore)
        return -ENOENT;
    if (path[0] == '@')
        return set_special_perms(v, path, p, np);

    struct xs_node *n;
    int rc = xs_tree_get(v, path, XS_ACC_WRITE | XS_ACC_OWNER, &n);
    if (rc < 0)
        return rc;
    xs_perm_settle(s, n);
    if (v->domid != 0 && n->nperms && p[0].domid != n->perms[0].domid)
        return -EPERM;
    rc = xs_entry_size_check(s, v->domid, np, n->len, xs_node_children_bytes(n));
    if (rc < 0)
        return rc;

    struct xs_perm *old = malloc(n->nperms * sizeof(*old) + 1);
    if (!old)
        return -ENOMEM;
    unsigned nold = n->nperms;
    uint64_t oldgen = n->gen;
    memcpy(old, n->perms, nold * sizeof(*old));
    uint32_t old_owner = nold ? old[0].domid : 0;

    rc = xs_node_set_perms(n, p, np);
    if (rc < 0) {
        free(old);
        return rc;
    }
    node_changed(v, n);
    if (old_owner != p[0].domid) {
        view_count(v, old_owner, -1);
        view_count(v, p[0].domid, +1);
    }
    view_event(v, path, false, old, nold, oldgen);
    free(old);
    return 0;
}

static int mknode(struct xs_server *s, const char *path, uint32_t owner)
{
    struct xs_node *n = xs_node_new(path);
    if (!n)
        return -ENOMEM;
    struct xs_perm p = {.domid = owner, .access = 0, .ignore = false};
    if (xs_node_set_perms(n, &p, 1) < 0 || xs_node_set_value(n, NULL, 0) < 0) {
        xs_node_free(n);
        return -ENOMEM;
    }
    n->gen = s->generation++;
    xs_store_put(&s->tree, n);
    return 0;
}

/* The skeleton xenstored and xen-init-dom0 leave: "/", /local/domain,
 * /vm and /tool, all dom0's and closed to others. */
int xs_tree_init(struct xs_server *s)
{
    int rc = mknode(s, "/", 0);
    if (rc < 0)
        return rc;
    struct xs_view v = {.s = s, .conn = NULL, .domid = 0, .txn = NULL};
    static const char *const dirs[] = {"/local/domain", "/vm", "/tool"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        rc = xs_tree_mkdir(&v, dirs[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}
