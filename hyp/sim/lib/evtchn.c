/* xensim drop-in libxenevtchn.so.1.
 *
 * A handle is a connection to the daemon plus an epoll fd (the handle's fd)
 * holding the read end of one pipe per bound port (the daemon makes the
 * pipes at bind); a notify is one byte written into the port's pipe, so the
 * hot path is notify = write(), wait = epoll_wait().
 *
 * Xen's masking is the port's arming in epoll (EPOLLONESHOT): the kernel
 * disarms a port as it reports it, for free, so the port pending() returns
 * is masked, and an event that comes while it is masked does not make the
 * fd readable -- as on Linux, where evtchn_interrupt disables the port and
 * the ring (what poll sees) stays empty. unmask() re-arms it (one
 * epoll_ctl, where Linux's unmask is one write()); re-arming polls the
 * pipe, so an event that came while masked is delivered then. Nothing
 * cheaper is exact: the notifier cannot see our mask, so a byte written
 * while the port is armed would wake a poll(). pending() drains the pipe
 * of the port it returns, so that only what comes after it re-raises the
 * port at unmask; the drain is bounded (a peer writing as fast as we read
 * cannot keep us there) but covers a whole default pipe.
 *
 * Notify writes the peer port's pipe directly, through a write end of its
 * own that only the daemon hands out (so the port's owner cannot make it
 * blocking); the daemon is asked for it once, and again only when the
 * port's generation (a read-only page the daemon keeps) has changed.
 * Threads may notify, refresh and unbind one port at once (one ioctl on
 * Linux): a new write end is dup3()ed over the old one's number, so the
 * number a notifier loaded always names one of the port's peers, and
 * unbind closes it only once no notifier holds the port (a count of
 * holders in the port's word, no lock on the hot path). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>

#include "proto.h"

/* Bounded drain of a port's pipe in pending(): at most this many reads,
 * together a default pipe's capacity (64 KiB). */
#define DRAIN_READS 16
#define DRAIN_BYTES 4096

/* A port's word: bound here, and how many threads hold the port (notify,
 * pending, unmask) and so may use its descriptors. */
#define PORT_BOUND 0x80000000u

/* Armed: the port's next event makes the handle's fd readable. */
#define PORT_ARMED (EPOLLIN | EPOLLONESHOT)

/* Fields other threads read without h->lock are accessed atomically. */
struct local_port {
    uint32_t ref;   /* PORT_BOUND | holders */
    int rfd;        /* our port's pipe, read end; -1: not bound here */
    int peer_wfd;   /* write end of the peer port's pipe; -1: none yet.
                       Its number stays the port's until unbind. */
    uint32_t peer_gen;
    bool peer_valid; /* peer_gen and peer_on are the daemon's answer */
    bool peer_on;    /* connected: notify writes peer_wfd */
    bool masked;     /* returned by pending(), not unmasked yet: disarmed */
};

struct xenevtchn_handle {
    int sock;
    int epfd;
    pthread_mutex_t lock;  /* one daemon round trip at a time */
    const uint32_t *gen;   /* read-only: one counter per port */
    size_t gen_bytes;
    uint32_t max_port;
    /* Index: port, 0..max_port; zeroed (a word of 0: never bound), so
     * that a handle of Domain-0, with 2^17 ports, touches only those it
     * binds. */
    struct local_port *ports;
    uint32_t hi_port;         /* no port above it was ever bound */
    bool blocked_last;        /* the last pending() found nothing at once;
                                 a hint, relaxed atomics (any thread) */
    /* XENEVTCHN_NO_CLOEXEC: what an exec keeps of the device's fd on Xen
     * (its ports bound, their events readable) needs ours kept too: the
     * epoll fd, the connection and the ports' read ends. */
    bool keep_on_exec;
    /* A handler without SA_RESTART was installed at open: one that resets
     * itself (SA_RESETHAND) is gone by the time its EINTR is looked at. */
    bool intr_at_open;
};

static bool wait_interruptible(void);

static int fail(int err)
{
    errno = err;
    return -1;
}

static int call_locked(xenevtchn_handle *h, uint32_t op, const void *req,
                       size_t req_len, int send_fd, void *rep, size_t rep_len,
                       int *fd)
{
    int fds[1];
    unsigned nfds = 0;
    size_t got = 0;
    int rc = xsp_call(h->sock, op, req, req_len, &send_fd, send_fd >= 0, rep,
                      rep_len, &got, fds, 1, &nfds);
    if (!rc && got != rep_len)
        rc = -EPROTO;
    if (!rc && fd)
        *fd = nfds ? fds[0] : -1;
    else if (nfds)
        close(fds[0]);
    return rc;
}

static int call(xenevtchn_handle *h, uint32_t op, const void *req,
                size_t req_len, int send_fd, void *rep, size_t rep_len,
                int *fd)
{
    pthread_mutex_lock(&h->lock);
    int rc = call_locked(h, op, req, req_len, send_fd, rep, rep_len, fd);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* A port's fields as bound with read end rfd (-1: unbound). Not its
 * word: threads may be reading that (and finding it unbound). */
static void port_reset(struct local_port *lp, int rfd)
{
    lp->rfd = rfd;
    lp->peer_wfd = -1;
    lp->peer_gen = 0;
    lp->peer_valid = lp->peer_on = lp->masked = false;
}

/* Hold a bound port: its descriptors stay open until port_put(). */
static bool port_get(xenevtchn_handle *h, evtchn_port_t port)
{
    if (port > h->max_port)
        return false;
    uint32_t *ref = &h->ports[port].ref;
    uint32_t v = __atomic_load_n(ref, __ATOMIC_RELAXED);
    do {
        if (!(v & PORT_BOUND))
            return false;
    } while (!__atomic_compare_exchange_n(ref, &v, v + 1, true,
                                          __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
    return true;
}

static void port_put(struct local_port *lp)
{
    __atomic_fetch_sub(&lp->ref, 1, __ATOMIC_RELEASE);
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
    h->ports = calloc((size_t)rep.max_port + 1, sizeof(*h->ports));
    /* Xen 4.17 opens the device with O_CLOEXEC unless told not to. */
    h->keep_on_exec = flags & XENEVTCHN_NO_CLOEXEC;
    h->intr_at_open = wait_interruptible();
    h->epfd = epoll_create1(h->keep_on_exec ? 0 : EPOLL_CLOEXEC);
    if (!h->ports || h->epfd < 0 ||
        (h->keep_on_exec && fcntl(h->sock, F_SETFD, 0) < 0)) {
        rc = h->ports ? -errno : -ENOMEM;
        goto fail_map;
    }
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

/* Take the port out of use here, once (false: it was not bound): new
 * holders are refused, and its descriptors close once the last holder is
 * done (a notify's write or a pending()'s drain: never a wait on the peer,
 * and none holds h->lock while it waits for us, so this ends). Done before
 * the daemon frees the number, so a bind that gets it finds the slot free. */
static bool port_forget(xenevtchn_handle *h, uint32_t port)
{
    struct local_port *lp = &h->ports[port];
    if (!(__atomic_fetch_and(&lp->ref, ~PORT_BOUND, __ATOMIC_ACQ_REL) &
          PORT_BOUND))
        return false;
    while (__atomic_load_n(&lp->ref, __ATOMIC_ACQUIRE))
        sched_yield();
    epoll_ctl(h->epfd, EPOLL_CTL_DEL, lp->rfd, NULL);
    close(lp->rfd);
    if (lp->peer_wfd >= 0)
        close(lp->peer_wfd);
    port_reset(lp, -1);
    return true;
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
    uint32_t hi = __atomic_load_n(&h->hi_port, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i <= hi; i++) {
        if (!(__atomic_load_n(&h->ports[i].ref, __ATOMIC_ACQUIRE) &
              PORT_BOUND))
            continue; /* never bound, or its descriptors closed */
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
        __atomic_load_n(&h->ports[rep.port].ref, __ATOMIC_ACQUIRE)) {
        if (rfd >= 0)
            close(rfd);
        return fail(EPROTO);
    }
    if (rfd < 0) {
        unbind_quietly(h, rep.port);
        return fail(EPROTO);
    }
    if (h->keep_on_exec && fcntl(rfd, F_SETFD, 0) < 0) {
        int e = errno;
        close(rfd);
        unbind_quietly(h, rep.port);
        return fail(e);
    }
    /* Bound before it is armed: a pending() that sees its first event
     * (the daemon leaves an interdomain port pending) must find it. */
    struct local_port *lp = &h->ports[rep.port];
    port_reset(lp, rfd);
    __atomic_store_n(&lp->ref, PORT_BOUND, __ATOMIC_RELEASE);
    uint32_t hi = __atomic_load_n(&h->hi_port, __ATOMIC_RELAXED);
    while (hi < rep.port &&
           !__atomic_compare_exchange_n(&h->hi_port, &hi, rep.port, true,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    struct epoll_event ev = { .events = PORT_ARMED, .data.u32 = rep.port };
    if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, rfd, &ev) < 0) {
        int e = errno;
        port_forget(h, rep.port);
        unbind_quietly(h, rep.port);
        return fail(e);
    }
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
    /* As on Linux, a port found bound here is unbound: the daemon's error
     * (a lost connection) leaves it to the handle's close. */
    if (!port_forget(h, port))
        return fail(ENOTCONN);
    struct xsp_evtchn_port req = { .port = port }, rep;
    int rc = call(h, XSP_OP_EVTCHN_UNBIND, &req, sizeof(req), -1, &rep,
                  sizeof(rep), NULL);
    return rc ? fail(-rc) : 0;
}

/* Whether lp's peer is what the daemon last said for generation gen. */
static bool peer_current(const struct local_port *lp, uint32_t gen)
{
    return __atomic_load_n(&lp->peer_valid, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&lp->peer_gen, __ATOMIC_RELAXED) == gen;
}

/* Slow path of notify (the port held): ask the daemon for a write end of
 * the peer's pipe. Under h->lock, so one thread swaps at a time; a
 * notifier racing it writes to the old peer or the new, as on Linux. */
static int refresh_peer(xenevtchn_handle *h, evtchn_port_t port)
{
    struct local_port *lp = &h->ports[port];
    struct xsp_evtchn_port req = { .port = port };
    struct xsp_evtchn_peer_rep rep;
    int fd = -1, rc = 0;
    pthread_mutex_lock(&h->lock);
    /* Another notifier may have asked already. */
    if (peer_current(lp, __atomic_load_n(&h->gen[port], __ATOMIC_ACQUIRE)))
        goto out;
    rc = call_locked(h, XSP_OP_EVTCHN_PEER, &req, sizeof(req), -1, &rep,
                     sizeof(rep), &fd);
    if (rc)
        goto out;
    bool on = rep.connected && fd >= 0;
    int cur = __atomic_load_n(&lp->peer_wfd, __ATOMIC_RELAXED);
    if (on && cur >= 0) {
        /* Over the old number, never a new one: a notifier that loaded
         * it writes to a live pipe of this port's, whichever. */
        if (dup3(fd, cur, O_CLOEXEC) < 0) {
            rc = -errno;
            goto out;
        }
    } else if (on) {
        __atomic_store_n(&lp->peer_wfd, fd, __ATOMIC_RELEASE);
        fd = -1;
    }
    /* Not connected: the old write end stays open, unused, until the next
     * peer or unbind. */
    __atomic_store_n(&lp->peer_on, on, __ATOMIC_RELEASE);
    __atomic_store_n(&lp->peer_gen, rep.gen, __ATOMIC_RELAXED);
    __atomic_store_n(&lp->peer_valid, true, __ATOMIC_RELEASE);
out:
    pthread_mutex_unlock(&h->lock);
    if (fd >= 0)
        close(fd);
    return rc;
}

int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
    if (!port_get(h, port))
        return fail(ENOTCONN); /* the Linux driver's find_evtchn() failed */
    struct local_port *lp = &h->ports[port];
    int rc = 0;
    /* Acquire: pairs with the daemon's release store when the peer changes;
     * a stale value only costs a refetch. */
    uint32_t gen = __atomic_load_n(&h->gen[port], __ATOMIC_ACQUIRE);
    if (__builtin_expect(!peer_current(lp, gen), 0))
        rc = refresh_peer(h, port);
    if (!rc && __atomic_load_n(&lp->peer_on, __ATOMIC_ACQUIRE)) {
        char one = 1;
        /* EAGAIN: the pipe is full, the peer has an event pending. */
        if (write(__atomic_load_n(&lp->peer_wfd, __ATOMIC_RELAXED), &one,
                  1) < 0 && errno != EAGAIN)
            rc = -errno;
    }
    /* Unbound or VIRQ: dropped silently, as Xen does. */
    port_put(lp);
    return rc ? fail(-rc) : 0;
}

/* Signals a thread's own fault raises: their handlers (a crash handler, a
 * sanitizer's) do not run while it waits. */
static bool fault_signal(int sig)
{
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
           sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS;
}

/* epoll_wait() fails with EINTR after any signal, whatever its handler's
 * SA_RESTART, and after a stop and SIGCONT; Linux's read() of the device
 * (wait_event_interruptible) fails only when a handler without SA_RESTART
 * ran, and is restarted otherwise.  Which signal came we cannot tell: the
 * nearest is whether any handler without SA_RESTART is installed, now or
 * when the handle was opened (a one-shot handler resets itself before we
 * look; a check per wait would cost the blocking path 64 system calls). */
static bool wait_interruptible(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (!fault_signal(sig) && sigaction(sig, NULL, &sa) == 0 &&
            !(sa.sa_flags & SA_RESTART) && sa.sa_handler != SIG_DFL &&
            sa.sa_handler != SIG_IGN)
            return true;
    }
    return false;
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
     * wrong result. A masked port is disarmed, so it never wakes us. */
    int timeout = 0, fl = -1;
    if (__atomic_load_n(&h->blocked_last, __ATOMIC_RELAXED)) {
        fl = fcntl(h->epfd, F_GETFL);
        timeout = fl >= 0 && (fl & O_NONBLOCK) ? 0 : -1;
    }
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(h->epfd, &ev, 1, timeout);
        if (n < 0) {
            int e = errno;
            if (e == EINTR && timeout && !h->intr_at_open && !wait_interruptible())
                continue;
            return fail(e);
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
        if (!port_get(h, port))
            continue; /* unbound meanwhile */
        struct local_port *lp = &h->ports[port];
        /* The report disarmed it: masked, as Xen masks a delivered port.
         * Empty the pipe, so that only a later event re-raises it. */
        __atomic_store_n(&lp->masked, true, __ATOMIC_RELAXED);
        drain(lp->rfd);
        port_put(lp);
        return (xenevtchn_port_or_error_t)port;
    }
}

int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
    /* The Linux driver ignores ports not bound through the handle, and
     * ports not masked. */
    if (!port_get(h, port))
        return 0;
    struct local_port *lp = &h->ports[port];
    int rc = 0;
    if (__atomic_exchange_n(&lp->masked, false, __ATOMIC_RELAXED)) {
        /* Re-arming polls the pipe: an event that came while masked is
         * reported at once, as on unmask in Xen. */
        struct epoll_event ev = { .events = PORT_ARMED, .data.u32 = port };
        if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, lp->rfd, &ev) < 0) {
            rc = -errno;
            __atomic_store_n(&lp->masked, true, __ATOMIC_RELAXED);
        }
    }
    port_put(lp);
    return rc ? fail(-rc) : 0;
}

int xenevtchn_restrict(xenevtchn_handle *h, domid_t domid)
{
    struct xsp_evtchn_restrict req = { .domid = domid };
    int rc = call(h, XSP_OP_EVTCHN_RESTRICT, &req, sizeof(req), -1, NULL, 0,
                  NULL);
    return rc ? fail(-rc) : 0;
}
