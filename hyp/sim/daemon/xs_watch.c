/* xensim xenstore: watches. A change at a path fires every watch on that
 * path or above it (for removals, also the exact watches on each removed
 * descendant), but only for connections allowed to see it (XSA-115): they
 * may read the node (before or after the change) or its parent. Special
 * events (@introduceDomain, @releaseDomain) go to those who may read the
 * special node's perms: by default dom0 only. */
#include "xs_core.h"
#include "xs_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

/* A guest's kernel watches what it needs on the same ring, and those
 * count too; xensim has no guest kernel, so it counts them here. */
static bool quota_full(const struct xs_conn *c, const struct xs_dom *d)
{
    return c->domid != 0 && d &&
           d->watches + c->s->lim.kernel_watches >=
               c->s->lim.watches_per_domain;
}

int xs_watch_add(struct xs_conn *c, const char *path, bool relative,
                 const char *token)
{
    for (struct xs_watch *w = c->watches; w; w = w->next)
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
            return -EEXIST;
    struct xs_dom *d = xs_dom_find(c->s, c->domid);
    /* Handles its processes closed count no more (xs_conns_settle). */
    if (quota_full(c, d))
        xs_conns_settle(c->s, c->domid);
    if (quota_full(c, d))
        return -E2BIG;
    struct xs_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->path = strdup(path);
    w->token = strdup(token);
    if (!w->path || !w->token) {
        free(w->path);
        free(w->token);
        free(w);
        return -ENOMEM;
    }
    w->relative = relative;
    /* Append: events then come in the order the watches were set. */
    struct xs_watch **pp = &c->watches;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    if (d)
        d->watches++;
    return 0;
}

static void watch_free(struct xs_conn *c, struct xs_watch *w)
{
    struct xs_dom *d = xs_dom_find(c->s, c->domid);
    if (d && d->watches)
        d->watches--;
    free(w->path);
    free(w->token);
    free(w);
}

int xs_watch_remove(struct xs_conn *c, const char *path, const char *token)
{
    for (struct xs_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
        struct xs_watch *w = *pp;
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
            *pp = w->next;
            watch_free(c, w);
            return 0;
        }
    }
    return -ENOENT;
}

void xs_watch_free_all(struct xs_conn *c)
{
    while (c->watches) {
        struct xs_watch *w = c->watches;
        c->watches = w->next;
        watch_free(c, w);
    }
}

static bool may_see(struct xs_server *s, uint32_t domid, const char *path,
                    const struct xs_perm *perms, unsigned np, uint64_t gen)
{
    if (path[0] == '@') {
        const struct xs_perm *sp = s->intro_perms;
        unsigned nsp = s->n_intro_perms;
        if (strcmp(path, "@releaseDomain") == 0) {
            sp = s->release_perms;
            nsp = s->n_release_perms;
        }
        return xs_perm_access(s, domid, sp, nsp, XS_GEN_PENDING) &
               XS_ACC_READ;
    }
    if (domid == 0)
        return true;
    if (perms && (xs_perm_access(s, domid, perms, np, gen) & XS_ACC_READ))
        return true;
    struct xs_node *n = xs_store_get(&s->tree, path);
    if (!n && !perms)
        return false;
    if (n && (xs_node_access(s, domid, n) & XS_ACC_READ))
        return true;
    /* A removed node: whoever may read its parent may learn it is gone. */
    if (strcmp(path, "/") == 0)
        return false;
    char up[XS_PATH_BUF];
    xs_path_parent(path, up, sizeof(up));
    struct xs_node *p = xs_store_get(&s->tree, up);
    return p && (xs_node_access(s, domid, p) & XS_ACC_READ);
}

static void send_event(struct xs_conn *c, const struct xs_watch *w,
                       const char *path)
{
    if (w->relative) {
        char home[40];
        int hl = snprintf(home, sizeof(home), "/local/domain/%u/", c->domid);
        if (strncmp(path, home, (size_t)hl) == 0)
            path += hl;
    }
    xs_conn_send_event(c, path, w->token);
}

void xs_watch_fire(struct xs_server *s, const char *path, bool exact,
                   const struct xs_perm *perms, unsigned np, uint64_t gen)
{
    for (struct xs_conn *c = s->conns; c; c = c->next) {
        if (c->closed || c->refused || !c->watches)
            continue;
        int allowed = -1; /* asked only when a watch matches */
        for (struct xs_watch *w = c->watches; w && !c->closed; w = w->next) {
            bool match = exact ? strcmp(path, w->path) == 0
                               : xs_path_is_child(path, w->path);
            if (!match)
                continue;
            if (allowed < 0)
                allowed = may_see(s, c->domid, path, perms, np, gen);
            if (allowed)
                send_event(c, w, path);
        }
    }
}
