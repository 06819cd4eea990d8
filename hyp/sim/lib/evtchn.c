/* xensim drop-in libxenevtchn.so.1.
 *
 * A handle is a connection to the daemon plus an epoll fd (the handle's fd)
 * holding the read end of one pipe per bound port (the daemon makes the
 * pipes at bind), edge-triggered: every write into a pipe (a notify, one
 * byte) is one edge, so the hot path is notify = write(), wait =
 * epoll_wait(). pending() drains the pipe of the port it returns before
 * returning it, so that the next notify finds the pipe empty: a new edge
 * whatever the kernel's wake-up rule. The drain is bounded, so that a
 * flooding peer cannot keep us there; what it leaves does not hide the
 * next notify either, as Linux wakes epoll on every write to a pipe it
 * watches (fs/pipe.c, poll_usage).
 *
 * Xen's masking is kept in user space: pending() masks the port it
 * returns; an edge that arrives while the port is masked disables the port
 * in epoll (the event stays latched: the pipe is not drained, so it is not
 * empty) and unmask() re-enables it, which reports the latched event at
 * once. The common pending-then-unmask pattern (libxenvchan) costs no
 * epoll_ctl at all.
 *
 * Notify writes the peer port's pipe directly, through a write end of its
 * own that only the daemon hands out (so the port's owner cannot make it
 * blocking); the daemon is asked for it once, and again only when the
 * port's generation (a read-only page the daemon keeps) has changed. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>

#include "proto.h"

/* Bounded drain of a port's pipe in pending(): at most this many reads. */
#define DRAIN_READS 64
#define DRAIN_BYTES 256

struct local_port {
    int rfd;        /* our port's pipe, read end; -1: not bound here */
    int peer_wfd;   /* cached write end of the peer port's pipe; -1: none */
    uint32_t peer_gen;
    bool peer_valid;
    bool masked;    /* returned by pending(), not unmasked yet */
    bool disabled;  /* an edge came while masked: off in epoll */
};

struct xenevtchn_handle {
    int sock;
    int epfd;
    pthread_mutex_t lock;  /* one daemon round trip at a time */
    const uint32_t *gen;   /* read-only: one counter per port */
    size_t gen_bytes;
    uint32_t max_port;
    struct local_port *ports; /* index: port, 0..max_port */
    bool blocked_last;        /* the last pending() found nothing at once;
                                 a hint, relaxed atomics (any thread) */
};

static int fail(int err)
{
    errno = err;
    return -1;
}

static int call(xenevtchn_handle *h, uint32_t op, const void *req,
                size_t req_len, int send_fd, void *rep, size_t rep_len,
                int *fd)
{
    int fds[1];
    unsigned nfds = 0;
    size_t got = 0;
    pthread_mutex_lock(&h->lock);
    int rc = xsp_call(h->sock, op, req, req_len, &send_fd, send_fd >= 0, rep,
                      rep_len, &got, fds, 1, &nfds);
    pthread_mutex_unlock(&h->lock);
    if (!rc && got != rep_len)
        rc = -EPROTO;
    if (!rc && fd)
        *fd = nfds ? fds[0] : -1;
    else if (nfds)
        close(fds[0]);
    return rc;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
                                 unsigned int flags)
{
    xenevtchn_handle *h = calloc(1, sizeof(*h));
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    h->epfd = -1;
    struct xsp_hello_rep rep;
    int gen_fd = -1;
    int rc = xsp_connect(XSP_KIND_EVTCHN, &rep, &gen_fd);
    if (rc < 0)
        goto fail_free;
    h->sock = rc;
    rc = -EPROTO;
    if (gen_fd < 0 || rep.gen_bytes < (rep.max_port + 1) * sizeof(uint32_t))
        goto fail_sock;
    void *g = mmap(NULL, rep.gen_bytes, PROT_READ, MAP_SHARED, gen_fd, 0);
    if (g == MAP_FAILED) {
        rc = -errno;
        goto fail_sock;
    }
    h->gen = g;
    h->gen_bytes = rep.gen_bytes;
    h->max_port = rep.max_port;
    h->ports = malloc((rep.max_port + 1) * sizeof(*h->ports));
    h->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!h->ports || h->epfd < 0) {
        rc = h->ports ? -errno : -ENOMEM;
        goto fail_map;
    }
    for (uint32_t i = 0; i <= rep.max_port; i++)
        h->ports[i] = (struct local_port){ .rfd = -1, .peer_wfd = -1 };
    close(gen_fd);
    return h;
fail_map:
    munmap(g, rep.gen_bytes);
fail_sock:
    close(h->sock);
fail_free:
    if (gen_fd >= 0)
        close(gen_fd);
    if (h->epfd >= 0)
        close(h->epfd);
    free(h->ports);
    free(h);
    errno = -rc;
    return NULL;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    /* The daemon connection cannot be rebuilt from the epoll fd alone. */
    errno = open_flags & XENEVTCHN_NO_CLOEXEC ? EINVAL : EOPNOTSUPP;
    return NULL;
}

static void port_forget(xenevtchn_handle *h, uint32_t port)
{
    struct local_port *lp = &h->ports[port];
    if (lp->rfd >= 0) {
        epoll_ctl(h->epfd, EPOLL_CTL_DEL, lp->rfd, NULL);
        close(lp->rfd);
    }
    if (lp->peer_wfd >= 0)
        close(lp->peer_wfd);
    *lp = (struct local_port){ .rfd = -1, .peer_wfd = -1 };
}

int xenevtchn_close(xenevtchn_handle *h)
{
    if (!h)
        return 0;
    /* Closing the connection makes the daemon close our ports.  Only our
     * descriptors go, no epoll_ctl(): in a child of fork() the epoll set is
     * the parent's too, and taking a port's pipe out of it would deafen the
     * parent's port (Xen allows a child to close an inherited handle);
     * closing the set's last descriptor empties it anyway. */
    close(h->sock);
    for (uint32_t i = 0; i <= h->max_port; i++) {
        if (h->ports[i].rfd >= 0)
            close(h->ports[i].rfd);
        if (h->ports[i].peer_wfd >= 0)
            close(h->ports[i].peer_wfd);
    }
    close(h->epfd);
    munmap((void *)h->gen, h->gen_bytes);
    pthread_mutex_destroy(&h->lock);
    free(h->ports);
    free(h);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *h)
{
    return h->epfd;
}

static void unbind_quietly(xenevtchn_handle *h, uint32_t port)
{
    struct xsp_evtchn_port u = { .port = port };
    call(h, XSP_OP_EVTCHN_UNBIND, &u, sizeof(u), -1, &u, sizeof(u), NULL);
}

static xenevtchn_port_or_error_t bind_port(xenevtchn_handle *h, uint32_t op,
                                           const struct xsp_evtchn_bind *b)
{
    /* The reply carries the read end of the port's pipe. */
    struct xsp_evtchn_port rep;
    int rfd = -1;
    int rc = call(h, op, b, sizeof(*b), -1, &rep, sizeof(rep), &rfd);
    if (rc)
        return fail(-rc);
    if (rep.port == 0 || rep.port > h->max_port ||
        h->ports[rep.port].rfd >= 0) {
        if (rfd >= 0)
            close(rfd);
        return fail(EPROTO);
    }
    if (rfd < 0) {
        unbind_quietly(h, rep.port);
        return fail(EPROTO);
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
                              .data.u32 = rep.port };
    if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, rfd, &ev) < 0) {
        int e = errno;
        unbind_quietly(h, rep.port);
        close(rfd);
        return fail(e);
    }
    h->ports[rep.port] = (struct local_port){ .rfd = rfd, .peer_wfd = -1 };
    return (xenevtchn_port_or_error_t)rep.port;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *h,
                                                      uint32_t domid)
{
    struct xsp_evtchn_bind b = { .remote_dom = domid };
    return bind_port(h, XSP_OP_EVTCHN_BIND_UNBOUND, &b);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *h,
                                                     uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    /* The daemon leaves the new port pending, as Xen does. */
    struct xsp_evtchn_bind b = { .remote_dom = domid,
                                 .remote_port = remote_port };
    return bind_port(h, XSP_OP_EVTCHN_BIND_INTERDOMAIN, &b);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *h,
                                              unsigned int virq)
{
    struct xsp_evtchn_bind b = { .virq = virq };
    return bind_port(h, XSP_OP_EVTCHN_BIND_VIRQ, &b);
}

int xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port)
{
    if (port > h->max_port)
        return fail(EINVAL);
    if (h->ports[port].rfd < 0)
        return fail(ENOTCONN);
    struct xsp_evtchn_port req = { .port = port }, rep;
    int rc = call(h, XSP_OP_EVTCHN_UNBIND, &req, sizeof(req), -1, &rep,
                  sizeof(rep), NULL);
    if (rc)
        return fail(-rc);
    port_forget(h, port);
    return 0;
}

/* Slow path of notify: ask the daemon for a write end of the peer's pipe. */
static int refresh_peer(xenevtchn_handle *h, evtchn_port_t port)
{
    struct local_port *lp = &h->ports[port];
    struct xsp_evtchn_port req = { .port = port };
    struct xsp_evtchn_peer_rep rep;
    int fd = -1;
    int rc = call(h, XSP_OP_EVTCHN_PEER, &req, sizeof(req), -1, &rep,
                  sizeof(rep), &fd);
    if (rc)
        return rc;
    if (lp->peer_wfd >= 0)
        close(lp->peer_wfd);
    lp->peer_wfd = rep.connected ? fd : -1;
    if (!rep.connected && fd >= 0)
        close(fd);
    lp->peer_gen = rep.gen;
    lp->peer_valid = true;
    return 0;
}

int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
    if (port > h->max_port || h->ports[port].rfd < 0)
        return fail(ENOTCONN); /* the Linux driver's find_evtchn() failed */
    struct local_port *lp = &h->ports[port];
    /* Acquire: pairs with the daemon's release store when the peer changes;
     * a stale value only costs a refetch. */
    uint32_t gen = __atomic_load_n(&h->gen[port], __ATOMIC_ACQUIRE);
    if (__builtin_expect(!lp->peer_valid || gen != lp->peer_gen, 0)) {
        int rc = refresh_peer(h, port);
        if (rc)
            return fail(-rc);
    }
    if (lp->peer_wfd >= 0) {
        char one = 1;
        /* EAGAIN: the pipe is full, the peer has an event pending. */
        if (write(lp->peer_wfd, &one, 1) < 0 && errno != EAGAIN)
            return -1;
    }
    /* Unbound or VIRQ: dropped silently, as Xen does. */
    return 0;
}

/* Read what is in a port's pipe, up to DRAIN_READS reads: a short read
 * (or EAGAIN) says it is empty; a flooding peer cannot keep us here. */
static void drain(int rfd)
{
    char buf[DRAIN_BYTES];
    for (int i = 0; i < DRAIN_READS; i++)
        if (read(rfd, buf, sizeof(buf)) < (ssize_t)sizeof(buf))
            return;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *h)
{
    /* Like read() on /dev/xen/evtchn: block unless made non-blocking.
     * Two kinds of callers: event loops come here after poll() said the fd
     * is readable (a look without blocking finds the event: one system
     * call), blocking callers come here to wait (asking the fd's flags,
     * then waiting: two). Guess the kind from the last call, so each pays
     * only its own path; a wrong guess costs one system call, never a
     * wrong result. */
    int timeout = 0, fl = -1;
    if (__atomic_load_n(&h->blocked_last, __ATOMIC_RELAXED)) {
        fl = fcntl(h->epfd, F_GETFL);
        timeout = fl >= 0 && (fl & O_NONBLOCK) ? 0 : -1;
    }
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(h->epfd, &ev, 1, timeout);
        if (n < 0) {
            if (errno == EINTR && timeout)
                continue;
            return -1;
        }
        if (n == 0) {
            if (fl < 0)
                fl = fcntl(h->epfd, F_GETFL);
            /* A non-blocking caller keeps the one-call path: it looks, it
             * never waits. */
            __atomic_store_n(&h->blocked_last, !(fl >= 0 && (fl & O_NONBLOCK)),
                             __ATOMIC_RELAXED);
            if (fl >= 0 && (fl & O_NONBLOCK))
                return fail(EAGAIN);
            timeout = -1;
            continue;
        }
        __atomic_store_n(&h->blocked_last, timeout != 0, __ATOMIC_RELAXED);
        uint32_t port = ev.data.u32;
        if (port > h->max_port || h->ports[port].rfd < 0)
            continue; /* unbound meanwhile */
        struct local_port *lp = &h->ports[port];
        if (!lp->masked) {
            lp->masked = true; /* as Xen masks a delivered port */
            /* Delivered: empty the pipe, so that the next notify finds
             * room (and is a new edge). */
            drain(lp->rfd);
            return (xenevtchn_port_or_error_t)port;
        }
        /* Masked: keep the event latched (the pipe not drained) and stop
         * it waking us. */
        struct epoll_event off = { .events = EPOLLET, .data.u32 = port };
        if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, lp->rfd, &off) == 0)
            lp->disabled = true;
    }
}

int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
    /* The Linux driver ignores ports not bound through the handle. */
    if (port > h->max_port || h->ports[port].rfd < 0)
        return 0;
    struct local_port *lp = &h->ports[port];
    lp->masked = false;
    if (!lp->disabled)
        return 0;
    /* Re-enabling a non-empty pipe reports it at once: the latched event
     * is delivered, as on unmask in Xen. */
    lp->disabled = false;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u32 = port };
    return epoll_ctl(h->epfd, EPOLL_CTL_MOD, lp->rfd, &ev);
}

int xenevtchn_restrict(xenevtchn_handle *h, domid_t domid)
{
    struct xsp_evtchn_restrict req = { .domid = domid };
    int rc = call(h, XSP_OP_EVTCHN_RESTRICT, &req, sizeof(req), -1, NULL, 0,
                  NULL);
    return rc ? fail(-rc) : 0;
}
