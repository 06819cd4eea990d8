/* xensim daemon: hyp.sock connections and their request dispatch, apart
 * from the socket (hypsock_sock.c). See hypsock.h and proto.h. Every field
 * of every request is checked; a malformed request closes its connection
 * (releasing what it held). */
#include "hypsock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain.h"
#include "evtchn_table.h"
#include "grant_table.h"
#include "proto.h"

struct hypsock_conn {
    struct hypsock_conn *next, **pprev;
    const struct hypsock_transport *t;
    void *ctx;
    uint32_t domid;
    uint32_t kind; /* 0 until HELLO */
    struct evtchn_handle *ev;
    struct grant_sharer *shr;
    struct grant_mapper *map;
};

static struct hypsock_conn *g_conns;
/* One request at a time (single thread): shared buffers. */
static unsigned char g_rep[XSP_MSG_MAX];
static int g_fds[XSP_MAX_PAGES];
static struct xsp_map_page g_pages[XSP_MAX_PAGES];

struct hypsock_conn *hypsock_conn_new(uint32_t domid,
                                      const struct hypsock_transport *t,
                                      void *ctx)
{
    struct hypsock_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->t = t;
    c->ctx = ctx;
    c->domid = domid;
    c->next = g_conns;
    if (g_conns)
        g_conns->pprev = &c->next;
    c->pprev = &g_conns;
    g_conns = c;
    return c;
}

void hypsock_conn_close(struct hypsock_conn *c)
{
    *c->pprev = c->next;
    if (c->next)
        c->next->pprev = c->pprev;
    /* Grants before ports: unmap-notifies need their ports. */
    grant_mapper_free(c->map);
    grant_sharer_free(c->shr);
    evtchn_handle_free(c->ev);
    c->t->closed(c->ctx);
    free(c);
}

void hypsock_conn_close_all(void)
{
    while (g_conns)
        hypsock_conn_close(g_conns);
}

void hypsock_domain_gone(uint32_t domid)
{
    /* Two passes: every grant handle of the domain, then the rest, so that
     * notifies fire while the domain's event channels are still bound. */
    for (int pass = 0; pass < 2; pass++)
        for (struct hypsock_conn *c = g_conns, *n; c; c = n) {
            n = c->next;
            if (c->domid == domid && (pass == 1 || !c->ev))
                hypsock_conn_close(c);
        }
}

/* ---- per-op handlers: return a reply errno (>= 0) or -1 to drop the
 * connection (protocol violation). fds[0..nfds) are the request's fds; a
 * handler that keeps one sets it to -1. ---- */

struct req {
    struct hypsock_conn *c;
    uint32_t op;
    const void *body;
    size_t len;
    int *fds;
    unsigned nfds;
};

static int reply(struct hypsock_conn *c, uint32_t op, int err,
                 const void *body, size_t len, const int *fds, unsigned nfds)
{
    int rc = c->t->send(c->ctx, op, err, body, len, fds, nfds);
    return rc ? -1 : 0;
}

static int do_hello(struct req *r)
{
    struct xsp_hello h;
    if (r->len != sizeof(h) || r->nfds || r->c->kind)
        return -1;
    memcpy(&h, r->body, sizeof(h));
    if (h.magic != XSP_MAGIC)
        return -1;
    if (h.version != XSP_VERSION)
        return reply(r->c, r->op, EPROTONOSUPPORT, NULL, 0, NULL, 0);
    struct xsp_hello_rep rep = { .version = XSP_VERSION, .domid = r->c->domid };
    int rc = 0, gen_fd = -1;
    switch (h.kind) {
    case XSP_KIND_EVTCHN:
        rc = evtchn_handle_new(r->c->domid, &r->c->ev, &gen_fd, &rep.gen_bytes,
                               &rep.max_port);
        break;
    case XSP_KIND_GNTSHR:
        rc = grant_sharer_new(r->c->domid, &r->c->shr);
        break;
    case XSP_KIND_GNTTAB:
        rc = grant_mapper_new(r->c->domid, &r->c->map);
        break;
    case XSP_KIND_CTRL:
        rc = domain_by_id(r->c->domid) ? 0 : -ESRCH;
        break;
    default:
        return -1;
    }
    if (rc)
        return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
    r->c->kind = h.kind;
    rc = reply(r->c, r->op, 0, &rep, sizeof(rep), &gen_fd, gen_fd >= 0);
    if (gen_fd >= 0)
        close(gen_fd);
    return rc;
}

static int reply_port(struct req *r, int port)
{
    struct xsp_evtchn_port rep = { .port = port > 0 ? (uint32_t)port : 0 };
    if (port < 0)
        return reply(r->c, r->op, -port, NULL, 0, NULL, 0);
    return reply(r->c, r->op, 0, &rep, sizeof(rep), NULL, 0);
}

static int do_evtchn(struct req *r)
{
    struct evtchn_handle *h = r->c->ev;
    switch (r->op) {
    case XSP_OP_EVTCHN_BIND_UNBOUND:
    case XSP_OP_EVTCHN_BIND_INTERDOMAIN:
    case XSP_OP_EVTCHN_BIND_VIRQ: {
        struct xsp_evtchn_bind b;
        /* The daemon makes the port's pipe: a bind carries no fd. */
        if (r->len != sizeof(b) || r->nfds)
            return -1;
        memcpy(&b, r->body, sizeof(b));
        int rc, rfd = -1;
        if (r->op == XSP_OP_EVTCHN_BIND_UNBOUND)
            rc = evtchn_bind_unbound(h, b.remote_dom, &rfd);
        else if (r->op == XSP_OP_EVTCHN_BIND_INTERDOMAIN)
            rc = evtchn_bind_interdomain(h, b.remote_dom, b.remote_port, &rfd);
        else
            rc = evtchn_bind_virq(h, b.virq, &rfd);
        if (rc < 0)
            return reply_port(r, rc);
        /* The reply carries the port's read end. If it cannot go, the
         * connection closes, and with it the port. */
        struct xsp_evtchn_port rep = { .port = (uint32_t)rc };
        rc = reply(r->c, r->op, 0, &rep, sizeof(rep), &rfd, 1);
        close(rfd);
        return rc;
    }
    case XSP_OP_EVTCHN_UNBIND: {
        struct xsp_evtchn_port p;
        if (r->len != sizeof(p) || r->nfds)
            return -1;
        memcpy(&p, r->body, sizeof(p));
        int rc = evtchn_unbind(h, p.port);
        return reply_port(r, rc ? rc : (int)p.port);
    }
    case XSP_OP_EVTCHN_PEER: {
        struct xsp_evtchn_port p;
        if (r->len != sizeof(p) || r->nfds)
            return -1;
        memcpy(&p, r->body, sizeof(p));
        struct xsp_evtchn_peer_rep rep = { .port = p.port };
        int wfd = -1;
        int rc = evtchn_peer(h, p.port, &rep.gen, &wfd);
        if (rc)
            return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
        /* A fresh description of the peer's pipe, ours to close. */
        rep.connected = wfd >= 0;
        rc = reply(r->c, r->op, 0, &rep, sizeof(rep), &wfd, wfd >= 0);
        if (wfd >= 0)
            close(wfd);
        return rc;
    }
    case XSP_OP_EVTCHN_RESTRICT: {
        struct xsp_evtchn_restrict x;
        if (r->len != sizeof(x) || r->nfds)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        int rc = evtchn_restrict(h, x.domid);
        return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
    }
    }
    return -1;
}

static int do_gnttab(struct req *r)
{
    struct grant_mapper *m = r->c->map;
    switch (r->op) {
    case XSP_OP_GNTTAB_SET_MAX: {
        struct xsp_gnttab_set_max x;
        if (r->len != sizeof(x) || r->nfds)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        return reply(r->c, r->op, -grant_set_max(m, x.count), NULL, 0, NULL, 0);
    }
    case XSP_OP_GNTTAB_MAP: {
        struct xsp_gnttab_map x;
        if (r->len < sizeof(x) || r->nfds > 1)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        if (x.count == 0 || x.count > XSP_MAX_PAGES ||
            (x.writable & ~(XSP_MAP_WRITE | XSP_MAP_WHY)) ||
            r->len != sizeof(x) + (size_t)x.count * sizeof(struct xsp_grant_ref))
            return -1;
        /* The refs array may be unaligned in the buffer: copy it out. */
        struct xsp_grant_ref *refs = malloc(x.count * sizeof(*refs));
        if (!refs)
            return reply(r->c, r->op, ENOMEM, NULL, 0, NULL, 0);
        memcpy(refs, (const char *)r->body + sizeof(x),
               x.count * sizeof(*refs));
        struct xsp_gnttab_map_rep rep = { .count = x.count };
        unsigned nfds = 0;
        int owner = r->nfds ? r->fds[0] : -1;
        int rc = grant_map(m, x.count, refs, x.writable, x.notify_offset,
                           x.notify_port, owner, &rep.map_id, g_pages, g_fds,
                           &nfds);
        free(refs);
        if (!rc && r->nfds)
            r->fds[0] = -1;
        if (rc)
            return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
        memcpy(g_rep, &rep, sizeof(rep));
        memcpy(g_rep + sizeof(rep), g_pages, x.count * sizeof(g_pages[0]));
        rc = reply(r->c, r->op, 0, g_rep,
                   sizeof(rep) + x.count * sizeof(g_pages[0]), g_fds, nfds);
        if (rc) /* the library never learns of it: undo */
            grant_discard(m, rep.map_id);
        return rc;
    }
    case XSP_OP_GNTTAB_UNMAP:
    case XSP_OP_GNTTAB_DISCARD: {
        struct xsp_gnttab_unmap x;
        if (r->len != sizeof(x) || r->nfds)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        int rc = r->op == XSP_OP_GNTTAB_UNMAP ? grant_unmap(m, x.map_id)
                                              : grant_discard(m, x.map_id);
        return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
    }
    }
    return -1;
}

static int do_gntshr(struct req *r)
{
    struct grant_sharer *s = r->c->shr;
    switch (r->op) {
    case XSP_OP_GNTSHR_SHARE: {
        struct xsp_gntshr_share x;
        /* The memfd, and the owner pipe (older libraries: none). */
        if (r->len != sizeof(x) || r->nfds < 1 || r->nfds > 2)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        if (x.count == 0 || x.count > XSP_MAX_PAGES)
            return reply(r->c, r->op, EINVAL, NULL, 0, NULL, 0);
        struct xsp_gntshr_share_rep rep = { .count = x.count };
        uint32_t *refs = (uint32_t *)(g_rep + sizeof(rep));
        int owner = r->nfds == 2 ? r->fds[1] : -1;
        int rc = grant_share_owned(s, x.domid, x.count, x.writable != 0,
                                   x.notify_offset, x.notify_port, r->fds[0],
                                   owner, &rep.share_id, refs);
        if (rc)
            return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
        r->fds[0] = -1;
        if (owner >= 0)
            r->fds[1] = -1;
        memcpy(g_rep, &rep, sizeof(rep));
        rc = reply(r->c, r->op, 0, g_rep, sizeof(rep) + x.count * 4, NULL, 0);
        if (rc)
            grant_unshare(s, rep.share_id, 0, x.count);
        return rc;
    }
    case XSP_OP_GNTSHR_UNSHARE: {
        struct xsp_gntshr_unshare x;
        /* An fd: the caller's end of the owner pipe (grant_unshare_held). */
        if (r->len != sizeof(x) || r->nfds > 1)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        int held = r->nfds ? r->fds[0] : -1;
        if (r->nfds)
            r->fds[0] = -1;
        int rc = grant_unshare_held(s, x.share_id, x.first, x.count, held);
        return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
    }
    }
    return -1;
}

static void fill_dominfo(struct xsp_dominfo *o, const struct sim_domain *d)
{
    memset(o, 0, sizeof(*o));
    o->domid = d->domid;
    o->flags = d->dying ? XSP_DOMINFO_DYING : 0;
    memcpy(o->uuid, d->uuid, sizeof(o->uuid));
    o->created_ns = d->created_ns;
    o->max_grant_frames = d->max_grant_frames;
    o->max_event_channels = d->max_event_channels;
}

static int do_ctrl(struct req *r)
{
    switch (r->op) {
    case XSP_OP_CTRL_DOMINFO: {
        struct xsp_ctrl_dominfo x;
        if (r->len != sizeof(x) || r->nfds)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        /* XEN_DOMCTL_getdomaininfo: the control domain only (dummy XSM). */
        if (r->c->domid != 0)
            return reply(r->c, r->op, EPERM, NULL, 0, NULL, 0);
        uint32_t max = x.max < XSP_DOMINFO_MAX ? x.max : XSP_DOMINFO_MAX;
        struct xsp_ctrl_dominfo_rep rep = { 0 };
        struct xsp_dominfo *out = (struct xsp_dominfo *)(g_rep + sizeof(rep));
        for (struct sim_domain *d = domain_next(NULL); d && rep.count < max;
             d = domain_next(d))
            if (d->domid >= x.first_domid)
                fill_dominfo(&out[rep.count++], d);
        memcpy(g_rep, &rep, sizeof(rep));
        return reply(r->c, r->op, 0, g_rep,
                     sizeof(rep) + rep.count * sizeof(*out), NULL, 0);
    }
    case XSP_OP_CTRL_EVTCHN_STATUS: {
        struct xsp_ctrl_evtchn_status x;
        if (r->len != sizeof(x) || r->nfds)
            return -1;
        memcpy(&x, r->body, sizeof(x));
        struct xsp_ctrl_evtchn_status_rep rep;
        int rc = evtchn_status(r->c->domid, x.domid, x.port, &rep);
        if (rc)
            return reply(r->c, r->op, -rc, NULL, 0, NULL, 0);
        return reply(r->c, r->op, 0, &rep, sizeof(rep), NULL, 0);
    }
    }
    return -1;
}

static int dispatch(struct req *r)
{
    if (r->op == XSP_OP_HELLO)
        return do_hello(r);
    switch (r->c->kind) {
    case XSP_KIND_EVTCHN:
        return do_evtchn(r);
    case XSP_KIND_GNTTAB:
        return do_gnttab(r);
    case XSP_KIND_GNTSHR:
        return do_gntshr(r);
    case XSP_KIND_CTRL:
        return do_ctrl(r);
    }
    return -1; /* nothing before HELLO */
}

int hypsock_conn_request(struct hypsock_conn *c, const void *msg, size_t len,
                         int *fds, unsigned nfds)
{
    struct xsp_req_hdr h;
    if (len < sizeof(h))
        return -1;
    memcpy(&h, msg, sizeof(h));
    if (h.len != len)
        return -1;
    struct req r = {
        .c = c, .op = h.op, .body = (const unsigned char *)msg + sizeof(h),
        .len = len - sizeof(h), .fds = fds, .nfds = nfds,
    };
    return dispatch(&r) == 0 ? 0 : -1;
}
