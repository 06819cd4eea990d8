/* xensim xenstore: the domains the store knows (introduce/release), with
 * the generation each was introduced at (for the permission rules) and its
 * quota counters. introduce lays out /local/domain/<domid> as libxl does
 * for a new domain; release removes it and everything the domain's
 * connections held. */
#include "xs_core.h"
#include "xs_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#define XS_MAX_DOMID 0x7fef /* DOMID_FIRST_RESERVED - 1 */

struct xs_dom *xs_dom_find(struct xs_server *s, uint32_t domid)
{
    for (struct xs_dom *d = s->doms; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

void xs_dom_free_all(struct xs_server *s)
{
    while (s->doms) {
        struct xs_dom *d = s->doms;
        s->doms = d->next;
        free(d);
    }
}

void xs_dom_count_nodes(struct xs_server *s, uint32_t domid, int delta)
{
    struct xs_dom *d = xs_dom_find(s, domid);
    if (!d)
        return;
    if (delta < 0 && (unsigned)-delta > d->nodes)
        d->nodes = 0;
    else
        d->nodes = (unsigned)((int)d->nodes + delta);
}

/* Write as dom0, then set perms if given. */
static int put(struct xs_server *s, const char *path, const char *value,
               const struct xs_perm *p, unsigned np)
{
    struct xs_view v = {.s = s, .conn = NULL, .domid = 0, .txn = NULL};
    int rc = value ? xs_tree_write(&v, path, value, (uint32_t)strlen(value))
                   : xs_tree_mkdir(&v, path);
    if (rc < 0 || !np)
        return rc;
    struct xs_perm copy[4];
    memcpy(copy, p, np * sizeof(*p));
    return xs_tree_set_perms(&v, path, copy, np);
}

static int make_domain_nodes(struct xs_server *s, struct xs_dom *d,
                             const uint8_t uuid[16])
{
    uint32_t id = d->domid;
    char home[48], path[128], num[16];
    snprintf(home, sizeof(home), "/local/domain/%u", id);
    snprintf(num, sizeof(num), "%u", id);
    /* libxl's roperm (dom0 owns, the domain may read) and rwperm (the
     * domain owns). Dom0's own tree keeps the root's "n0". */
    struct xs_perm ro[2] = {{0, 0, false}, {id, XS_ACC_READ, false}};
    struct xs_perm rw[1] = {{id, 0, false}};
    unsigned nro = id ? 2 : 0, nrw = id ? 1 : 0;

    int rc = put(s, home, NULL, ro, nro);
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/name", home);
        rc = put(s, path, d->name, NULL, 0);
    }
    if (rc == 0) {
        snprintf(path, sizeof(path), "%s/domid", home);
        rc = put(s, path, num, NULL, 0);
    }
    if (rc == 0 && id != 0) {
        char uu[40];
        snprintf(uu, sizeof(uu),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                 "%02x%02x%02x%02x%02x%02x",
                 uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5],
                 uuid[6], uuid[7], uuid[8], uuid[9], uuid[10], uuid[11],
                 uuid[12], uuid[13], uuid[14], uuid[15]);
        snprintf(d->vm_path, sizeof(d->vm_path), "/vm/%s", uu);
        rc = put(s, d->vm_path, NULL, ro, nro);
        if (rc == 0) {
            snprintf(path, sizeof(path), "%s/uuid", d->vm_path);
            rc = put(s, path, uu, NULL, 0);
        }
        if (rc == 0) {
            snprintf(path, sizeof(path), "%s/name", d->vm_path);
            rc = put(s, path, d->name, NULL, 0);
        }
        if (rc == 0) {
            snprintf(path, sizeof(path), "%s/vm", home);
            rc = put(s, path, d->vm_path, NULL, 0);
        }
        static const char *const ro_dirs[] = {"device", "control"};
        static const char *const rw_dirs[] = {"data", "drivers", "feature",
                                              "attr", "error",
                                              "control/shutdown"};
        for (size_t i = 0; rc == 0 && i < 2; i++) {
            snprintf(path, sizeof(path), "%s/%s", home, ro_dirs[i]);
            rc = put(s, path, NULL, ro, nro);
        }
        for (size_t i = 0; rc == 0 && i < 6; i++) {
            snprintf(path, sizeof(path), "%s/%s", home, rw_dirs[i]);
            rc = put(s, path, NULL, rw, nrw);
        }
        if (rc == 0) {
            snprintf(path, sizeof(path),
                     "%s/control/platform-feature-xs_reset_watches", home);
            rc = put(s, path, "1", NULL, 0);
        }
    }
    return rc;
}

int xs_domain_introduce(struct xs_server *s, uint32_t domid, const char *name,
                        const uint8_t uuid[16])
{
    if (domid > XS_MAX_DOMID || !name)
        return -EINVAL;
    if (xs_dom_find(s, domid))
        return -EEXIST;
    struct xs_dom *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->domid = domid;
    /* Nodes changed from now on may grant this domain access; older ones
     * may not (see xs_perms.c). Its own generation: no two introductions
     * of one domid share one. */
    d->gen = s->generation++;
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->next = s->doms;
    s->doms = d;
    static const uint8_t zero[16];
    int rc = make_domain_nodes(s, d, uuid ? uuid : zero);
    if (rc < 0) {
        xs_domain_release(s, domid);
        return rc;
    }
    /* Exact, as xenstored's fire_special_watches: a watch on "/" is not
     * told. */
    if (domid != 0)
        xs_watch_fire(s, "@introduceDomain", true, NULL, 0, 0);
    return 0;
}

static int path_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The nodes the domain owns anywhere go with it, each with its subtree
 * (those of other owners under it too), as xenstored 4.17's
 * domain_tree_remove() does when not run with -K.  Their paths first
 * (removal changes the table), parents before children: a child's own
 * removal then finds it gone. */
static void remove_owned(struct xs_server *s, uint32_t domid)
{
    struct xs_view v = {.s = s, .conn = NULL, .domid = 0, .txn = NULL};
    char **paths = NULL;
    size_t n = 0, cap = 0, b = 0;
    for (struct xs_node *it = xs_store_next(&s->tree, &b, NULL); it;
         it = xs_store_next(&s->tree, &b, it)) {
        if (!it->nperms || it->perms[0].domid != domid)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **np = realloc(paths, ncap * sizeof(*np));
            if (!np)
                break; /* what was found still goes */
            paths = np;
            cap = ncap;
        }
        if (!(paths[n] = strdup(it->path)))
            break;
        n++;
    }
    if (n)
        qsort(paths, n, sizeof(*paths), path_cmp);
    for (size_t i = 0; i < n; i++) {
        (void)xs_tree_rm(&v, paths[i]); /* -ENOENT: went with a parent */
        free(paths[i]);
    }
    free(paths);
}

int xs_domain_release(struct xs_server *s, uint32_t domid)
{
    if (domid == 0)
        return -EINVAL;
    struct xs_dom *d = xs_dom_find(s, domid);
    if (!d)
        return -ENOENT;
    /* A released domain's connections must not act as it any longer: cut
     * them, and drop their watches and transactions now, not at the
     * deferred reap: a domain of the same id may be introduced before it,
     * and freeing them then would take from that domain's counters. */
    for (struct xs_conn *c = s->conns; c; c = c->next) {
        if (c->domid != domid)
            continue;
        xs_conn_close(c);
        xs_watch_free_all(c);
        xs_txn_free_all(c);
    }
    struct xs_view v = {.s = s, .conn = NULL, .domid = 0, .txn = NULL};
    char home[48];
    snprintf(home, sizeof(home), "/local/domain/%u", domid);
    (void)xs_tree_rm(&v, home);
    if (d->vm_path[0])
        (void)xs_tree_rm(&v, d->vm_path);
    remove_owned(s, domid);
    for (struct xs_dom **pp = &s->doms; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    free(d);
    xs_watch_fire(s, "@releaseDomain", true, NULL, 0, 0); /* exact, as above */
    return 0;
}
