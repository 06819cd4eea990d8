/* xensim xenstore: one client connection. Reads the wire protocol of
 * xen/io/xs_wire.h (16-byte header, payload of at most
 * XENSTORE_PAYLOAD_MAX), hands complete requests to xs_ops.c, and queues
 * replies and watch events on a non-blocking socket. A peer that breaks
 * the framing or lets its replies pile up is cut, never waited for.
 *
 * Watch events are queued as Xen 4.17's xenstored does since XSA-326:
 * one identical to an event still queued (not yet all sent) is dropped,
 * but never one of a special node ("@..."), whose watchers count each;
 * and past the connection's quota of queued events one is dropped (4.17:
 * past the guest's memory quota), never the connection.  So a domain that
 * writes a node another watches as fast as it can adds at most one queued
 * event per watch, and cannot get that watcher's connection cut. */
#include "xs_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "loop.h"
#include "ratelimit.h"

static void conn_io(void *ctx, uint32_t events);

struct xs_conn *xs_conn_new(struct xs_server *s, int fd, uint32_t domid)
{
    struct xs_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->s = s;
    c->fd = fd;
    c->domid = domid;
    c->out_tail = &c->out_head;
    if (fd >= 0 && s->loop && loop_add(s->loop, fd, EPOLLIN, conn_io, c) < 0) {
        free(c);
        return NULL;
    }
    c->next = s->conns;
    s->conns = c;
    return c;
}

static void conn_free(struct xs_conn *c)
{
    xs_watch_free_all(c);
    xs_txn_free_all(c);
    while (c->out_head) {
        struct xs_out *o = c->out_head;
        c->out_head = o->next;
        free(o);
    }
    free(c->in);
    free(c);
}

/* Closed connections stay on the list (so that loops over it survive a
 * close) and are freed here, after the current round. */
void xs_conn_reap(struct xs_server *s)
{
    s->reap_pending = false;
    for (struct xs_conn **pp = &s->conns; *pp;) {
        struct xs_conn *c = *pp;
        if (c->closed) {
            *pp = c->next;
            conn_free(c);
        } else {
            pp = &c->next;
        }
    }
}

static void reap_cb(void *ctx)
{
    xs_conn_reap(ctx);
}

void xs_conn_close(struct xs_conn *c)
{
    if (c->closed)
        return;
    c->closed = true;
    struct xs_server *s = c->s;
    if (c->fd >= 0) {
        if (s->loop)
            loop_del(s->loop, c->fd);
        close(c->fd);
        c->fd = -1;
        if (s->uncharge_fd) /* charged at accept (xs_server.c) */
            s->uncharge_fd(c->domid, 1);
    }
    if (s->loop && !s->reap_pending && loop_defer(s->loop, reap_cb, s) == 0)
        s->reap_pending = true;
}

void xs_conn_refuse(struct xs_conn *c)
{
    c->refused = true;
}

void xs_conns_settle(struct xs_server *s, uint32_t domid)
{
    for (struct xs_conn *c = s->conns; c; c = c->next) {
        if (c->domid != domid)
            continue;
        char b;
        /* EOF with nothing unread: the process closed it.  (One with
         * requests still unread is served first, in the loop.) */
        if (!c->closed && c->fd >= 0 &&
            recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            xs_conn_close(c);
        if (c->closed)
            xs_watch_free_all(c); /* the rest goes at the reap */
    }
}

static void set_want_out(struct xs_conn *c, bool want)
{
    if (c->want_out == want || c->fd < 0 || !c->s->loop)
        return;
    c->want_out = want;
    loop_mod(c->s->loop, c->fd, want ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
}

/* Drop the sent (or popped) head of the queue. */
static void unlink_head(struct xs_conn *c)
{
    struct xs_out *o = c->out_head;
    c->out_head = o->next;
    if (!c->out_head)
        c->out_tail = &c->out_head;
    c->out_count--;
    c->out_events -= o->event;
    free(o);
}

static void flush(struct xs_conn *c)
{
    while (c->out_head && !c->closed) {
        struct xs_out *o = c->out_head;
        ssize_t n = send(c->fd, o->data + o->off, o->len - o->off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_want_out(c, true);
                return;
            }
            xs_conn_close(c);
            return;
        }
        o->off += (size_t)n;
        if (o->off < o->len)
            continue;
        unlink_head(c);
    }
    set_want_out(c, false);
}

int xs_conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id,
                 uint32_t tx_id, const void *a, size_t alen, const void *b,
                 size_t blen)
{
    if (c->closed)
        return -EPIPE;
    if (alen + blen > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    size_t cap = c->domid == 0 ? XS_DOM0_OUTPUT_CAP
                               : c->s->lim.max_outstanding_per_conn;
    bool event = type == XS_WATCH_EVENT;
    if (!event && c->out_count - c->out_events >= cap) {
        /* A reader that never reads must not make us hoard memory. */
        xs_conn_close(c);
        return -ENOSPC;
    }
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx_id,
                            .len = (uint32_t)(alen + blen)};
    struct xs_out *o = malloc(sizeof(*o) + sizeof(h) + alen + blen);
    if (!o) {
        xs_conn_close(c);
        return -ENOMEM;
    }
    o->next = NULL;
    o->off = 0;
    o->len = sizeof(h) + alen + blen;
    o->event = event;
    memcpy(o->data, &h, sizeof(h));
    if (alen)
        memcpy(o->data + sizeof(h), a, alen);
    if (blen)
        memcpy(o->data + sizeof(h) + alen, b, blen);
    *c->out_tail = o;
    c->out_tail = &o->next;
    c->out_count++;
    c->out_events += event;
    if (c->fd >= 0 && !c->want_out)
        flush(c);
    return 0;
}

/* Is an event of this payload still queued on c, maybe partly sent?  It
 * then reaches the watcher after the change that fires this one. */
static bool event_queued(const struct xs_conn *c, const char *payload,
                         size_t len)
{
    for (const struct xs_out *o = c->out_head; o; o = o->next) {
        struct xsd_sockmsg h;
        memcpy(&h, o->data, sizeof(h));
        if (h.type == XS_WATCH_EVENT && h.len == len &&
            memcmp(o->data + sizeof(h), payload, len) == 0)
            return true;
    }
    return false;
}

int xs_conn_send_event(struct xs_conn *c, const char *path,
                       const char *token)
{
    size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;
    char payload[XENSTORE_PAYLOAD_MAX];

    if (c->closed)
        return -EPIPE;
    if (plen + tlen > sizeof(payload))
        return -E2BIG;   /* too big for the wire: 4.17 drops it too */
    memcpy(payload, path, plen);
    memcpy(payload + plen, token, tlen);
    if (path[0] != '@' && event_queued(c, payload, plen + tlen))
        return 0;
    size_t cap = c->domid == 0 ? XS_DOM0_OUTPUT_CAP
                               : c->s->lim.max_outstanding_per_conn;
    if (c->out_events >= cap) {
        struct xs_server *s = c->s;
        s->events_dropped++;
        if (log_due(&s->drop_log_ns)) {
            fprintf(stderr, "xensim: xenstore: dropped %llu watch "
                    "event(s), the last for domain %u, whose connection "
                    "has %zu events queued (Xen 4.17 drops them past the "
                    "guest's memory quota)\n",
                    s->events_dropped, (unsigned)c->domid, c->out_events);
            s->events_dropped = 0;
        }
        return -ENOSPC;
    }
    return xs_conn_send(c, XS_WATCH_EVENT, 0, 0, payload, plen + tlen,
                        NULL, 0);
}

int xs_conn_pop(struct xs_conn *c, void *hdr16, char *payload, size_t cap)
{
    struct xs_out *o = c->out_head;
    if (!o)
        return -ENOENT;
    struct xsd_sockmsg h;
    memcpy(&h, o->data, sizeof(h));
    memcpy(hdr16, &h, sizeof(h));
    size_t n = h.len < cap ? h.len : cap;
    memcpy(payload, o->data + sizeof(h), n);
    if (n < cap)
        payload[n] = '\0';
    unlink_head(c);
    return (int)h.len;
}

struct xs_out *xs_conn_take_out(struct xs_conn *c)
{
    struct xs_out *o = c->out_head;
    c->out_head = NULL;
    c->out_tail = &c->out_head;
    c->out_count = 0;
    c->out_events = 0;
    return o;
}

int xs_conn_feed(struct xs_conn *c, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (!c->closed) {
        if (!c->in) {
            /* Still reading a header. */
            size_t n = sizeof(c->hdrbuf) - c->hdr_got;
            if (n > len)
                n = len;
            memcpy(c->hdrbuf + c->hdr_got, p, n);
            c->hdr_got += n;
            p += n;
            len -= n;
            if (c->hdr_got < sizeof(c->hdrbuf))
                break;
            struct xsd_sockmsg h;
            memcpy(&h, c->hdrbuf, sizeof(h));
            if (h.len > XENSTORE_PAYLOAD_MAX) {
                /* As xenstored: an oversized payload kills the link. */
                xs_conn_close(c);
                break;
            }
            c->in = malloc(h.len + 1);
            if (!c->in) {
                xs_conn_close(c);
                break;
            }
            c->in_len = h.len;
            c->in_got = 0;
        }
        size_t n = c->in_len - c->in_got;
        if (n > len)
            n = len;
        memcpy(c->in + c->in_got, p, n);
        c->in_got += n;
        p += n;
        len -= n;
        if (c->in_got < c->in_len)
            break;
        struct xsd_sockmsg h;
        memcpy(&h, c->hdrbuf, sizeof(h));
        char *payload = c->in;
        payload[c->in_len] = '\0'; /* a guard only; h.len rules */
        c->in = NULL;
        c->hdr_got = 0;
        xs_ops_dispatch(c, h.type, h.req_id, h.tx_id, payload, h.len);
        free(payload);
    }
    return c->closed ? -EPROTO : 0;
}

static void conn_io(void *ctx, uint32_t events)
{
    struct xs_conn *c = ctx;
    if (c->closed)
        return;
    if (events & EPOLLOUT)
        flush(c);
    if (c->closed || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    char buf[8192];
    /* Bounded work per wakeup keeps one busy client from starving the
     * others; level-triggered epoll brings us back for the rest. */
    for (int round = 0; round < 16 && !c->closed; round++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            xs_conn_feed(c, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        xs_conn_close(c); /* EOF or error */
        return;
    }
}
