/* xensim daemon: event-channel tables. See evtchn_table.h. */
#include "evtchn_table.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xen/event_channel.h>
#include <xen/xen.h>

#include "domain.h"
#include "fd_budget.h"

#define DEFAULT_MAX_PORT 1023u
/* Xen's event_channel.h leaves NR_VIRQS to xen.h (24 on x86). */
#define SIM_NR_VIRQS 24u

/* A port's state, as Xen's (internal) ECS_*; a free port has no object. */
enum port_state { PORT_UNBOUND = 1, PORT_INTERDOMAIN, PORT_VIRQ };

struct dom_evtchn {
    uint32_t domid;
    uint32_t max_port;          /* ports 1..max_port */
    struct evtchn_port **ports; /* index: port number; grown on demand */
    uint32_t cap;
};

struct evtchn_port {
    uint32_t num;
    enum port_state state;
    struct dom_evtchn *dom;
    struct evtchn_handle *owner; /* NULL once its handle closed it */
    uint32_t remote_dom;  /* UNBOUND: who may bind; INTERDOMAIN: the peer's */
    struct evtchn_port *peer;
    uint32_t virq;
    int pipe_fd; /* ours, read-write, never handed out: for our kicks */
    unsigned holds;
};

struct evtchn_handle {
    uint32_t domid;
    struct dom_evtchn *dom;
    uint32_t restrict_domid; /* DOMID_INVALID: unrestricted */
    uint32_t *gen;           /* daemon's writable map of the gen page */
    size_t gen_bytes;
};

static struct dom_evtchn *dom_evtchn_of(uint32_t domid)
{
    struct sim_domain *d = domain_by_id(domid);
    if (!d)
        return NULL;
    if (!d->evtchn && evtchn_domain_created(d) < 0)
        return NULL;
    return d->evtchn;
}

int evtchn_domain_created(struct sim_domain *d)
{
    if (d->evtchn)
        return 0;
    struct dom_evtchn *de = calloc(1, sizeof(*de));
    if (!de)
        return -ENOMEM;
    de->domid = d->domid;
    de->max_port = d->max_event_channels ? d->max_event_channels
                                         : DEFAULT_MAX_PORT;
    /* Xen's FIFO ABI allows 2^17 ports; never more. */
    if (de->max_port > (1u << 17) - 1)
        de->max_port = (1u << 17) - 1;
    d->evtchn = de;
    return 0;
}

/* ---- pipes ---- */

/* A new open file description of fd's pipe (opened as a FIFO is): its
 * file flags are its own, whatever other holders do to theirs. */
static int pipe_reopen(int fd, int mode)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int r = open(path, mode | O_NONBLOCK | O_CLOEXEC);
    return r < 0 ? -errno : r;
}

/* A port's pipe: *keep is the daemon's own description, reader and writer
 * at once, so that the pipe never loses its last reader (no write to it
 * ever gets EPIPE or SIGPIPE); *rfd is the read end for the binder. */
static int pipe_new(int *keep, int *rfd)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    int k = pipe_reopen(fds[0], O_RDWR);
    close(fds[1]);
    if (k < 0) {
        close(fds[0]);
        return k;
    }
    *keep = k;
    *rfd = fds[0];
    return 0;
}

static void evtchn_kick(struct evtchn_port *p)
{
    /* Our own description: no guest can make it blocking. Full (EAGAIN)
     * means an event is pending anyway. (A guest can still hold the
     * pipe's lock across a page fault it never resolves, as with a read
     * into userfaultfd memory; that wait is not interruptible, so no
     * timer would help.) */
    char one = 1;
    (void)!write(p->pipe_fd, &one, 1);
}

/* ---- generation page ---- */

static void gen_bump(struct evtchn_port *p)
{
    struct evtchn_handle *h = p->owner;
    if (!h || (size_t)p->num * sizeof(uint32_t) >= h->gen_bytes)
        return;
    /* Release: pairs with the library's acquire load; the library then
     * asks for the new peer, so no data rides on it, but it is free on x86. */
    __atomic_store_n(&h->gen[p->num], h->gen[p->num] + 1, __ATOMIC_RELEASE);
}

static int gen_page_new(struct evtchn_handle *h, uint32_t max_port, int *ro_fd)
{
    size_t bytes = ((size_t)max_port + 1) * sizeof(uint32_t);
    bytes = (bytes + XSP_PAGE_SIZE - 1) / XSP_PAGE_SIZE * XSP_PAGE_SIZE;
    int fd = memfd_create("xensim-evtchn-gen", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int rc = 0;
    void *m = MAP_FAILED;
    if (ftruncate(fd, (off_t)bytes) < 0) {
        rc = -errno;
        goto out;
    }
    m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        rc = -errno;
        goto out;
    }
    /* Our mapping stays writable; nobody can make a new writable one. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
                                   F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
        rc = -errno;
        goto out;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    *ro_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*ro_fd < 0) {
        rc = -errno;
        goto out;
    }
    h->gen = m;
    h->gen_bytes = bytes;
    m = MAP_FAILED;
out:
    if (m != MAP_FAILED)
        munmap(m, bytes);
    close(fd);
    return rc;
}

/* ---- handles and ports ---- */

int evtchn_handle_new(uint32_t domid, struct evtchn_handle **out, int *gen_fd,
                      uint32_t *gen_bytes, uint32_t *max_port)
{
    struct dom_evtchn *de = dom_evtchn_of(domid);
    if (!de)
        return -ESRCH;
    struct evtchn_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->domid = domid;
    h->dom = de;
    h->restrict_domid = DOMID_INVALID;
    int rc = gen_page_new(h, de->max_port, gen_fd);
    if (rc) {
        free(h);
        return rc;
    }
    *gen_bytes = (uint32_t)h->gen_bytes;
    *max_port = de->max_port;
    *out = h;
    return 0;
}

static struct evtchn_port *port_get(struct dom_evtchn *de, uint32_t port)
{
    return de && port < de->cap ? de->ports[port] : NULL;
}

static int port_alloc(struct dom_evtchn *de, struct evtchn_handle *h,
                      struct evtchn_port **out, int *rfd)
{
    uint32_t num = 1;
    while (num < de->cap && de->ports[num])
        num++;
    if (num > de->max_port)
        return -ENOSPC;
    if (num >= de->cap) {
        uint32_t ncap = de->cap ? de->cap * 2 : 64;
        if (ncap > de->max_port + 1)
            ncap = de->max_port + 1;
        struct evtchn_port **n = realloc(de->ports, ncap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        memset(n + de->cap, 0, (ncap - de->cap) * sizeof(*n));
        de->ports = n;
        de->cap = ncap;
    }
    struct evtchn_port *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    /* The pipe we keep is the domain's; the read end goes with the reply. */
    int rc = fd_charge(de->domid, 1, "port");
    if (!rc && (rc = pipe_new(&p->pipe_fd, rfd)))
        fd_uncharge(de->domid, 1);
    if (rc) {
        free(p);
        return rc;
    }
    p->num = num;
    p->dom = de;
    p->owner = h;
    de->ports[num] = p;
    *out = p;
    return 0;
}

/* Xen's evtchn_close: the peer goes back to unbound (offered to us). */
static void port_free(struct evtchn_port *p)
{
    if (p->state == PORT_INTERDOMAIN && p->peer) {
        struct evtchn_port *q = p->peer;
        q->state = PORT_UNBOUND;
        q->remote_dom = p->dom ? p->dom->domid : DOMID_INVALID;
        q->peer = NULL;
        gen_bump(q);
    }
    if (p->dom) {
        p->dom->ports[p->num] = NULL;
        fd_uncharge(p->dom->domid, 1);
    }
    close(p->pipe_fd);
    free(p);
}

/* The handle lets go of p: closed now, or when its last hold goes. */
static void port_drop(struct evtchn_port *p)
{
    gen_bump(p);
    p->owner = NULL;
    if (!p->holds)
        port_free(p);
}

void evtchn_handle_free(struct evtchn_handle *h)
{
    if (!h)
        return;
    struct dom_evtchn *de = h->dom;
    for (uint32_t i = 1; de && i < de->cap; i++)
        if (de->ports[i] && de->ports[i]->owner == h)
            port_drop(de->ports[i]);
    if (h->gen)
        munmap(h->gen, h->gen_bytes);
    free(h);
}

static uint32_t self_domid(struct evtchn_handle *h, uint32_t dom)
{
    return dom == DOMID_SELF ? h->domid : dom;
}

int evtchn_bind_unbound(struct evtchn_handle *h, uint32_t remote_dom, int *rfd)
{
    if (!h->dom)
        return -ESRCH;
    if (h->restrict_domid != DOMID_INVALID)
        return -EACCES;
    struct evtchn_port *p;
    int rc = port_alloc(h->dom, h, &p, rfd);
    if (rc)
        return rc;
    p->state = PORT_UNBOUND;
    p->remote_dom = self_domid(h, remote_dom);
    gen_bump(p);
    return (int)p->num;
}

int evtchn_bind_interdomain(struct evtchn_handle *h, uint32_t remote_dom,
                            uint32_t remote_port, int *rfd)
{
    if (!h->dom)
        return -ESRCH;
    remote_dom = self_domid(h, remote_dom);
    if (h->restrict_domid != DOMID_INVALID && h->restrict_domid != remote_dom)
        return -EACCES;
    struct dom_evtchn *rd = dom_evtchn_of(remote_dom);
    if (!rd)
        return -ESRCH;
    /* Xen checks the remote port only after taking a local one; the order
     * decides which errno wins, so keep it. */
    uint32_t num = 1;
    while (num < h->dom->cap && h->dom->ports[num])
        num++;
    if (num > h->dom->max_port)
        return -ENOSPC;
    if (remote_port == 0 || remote_port > rd->max_port)
        return -EINVAL;
    struct evtchn_port *q = port_get(rd, remote_port);
    if (!q || q->state != PORT_UNBOUND || q->remote_dom != h->domid)
        return -EINVAL;
    struct evtchn_port *p;
    int rc = port_alloc(h->dom, h, &p, rfd);
    if (rc)
        return rc;
    p->state = PORT_INTERDOMAIN;
    p->remote_dom = remote_dom;
    p->peer = q;
    q->state = PORT_INTERDOMAIN;
    q->remote_dom = h->domid;
    q->peer = p;
    gen_bump(p);
    gen_bump(q);
    /* Xen leaves the binder's new port pending, so that a notify sent
     * before the bind is never lost. */
    evtchn_kick(p);
    return (int)p->num;
}

int evtchn_bind_virq(struct evtchn_handle *h, uint32_t virq, int *rfd)
{
    if (!h->dom)
        return -ESRCH;
    if (h->restrict_domid != DOMID_INVALID)
        return -EACCES;
    if (virq >= SIM_NR_VIRQS)
        return -EINVAL;
    for (uint32_t i = 1; i < h->dom->cap; i++) {
        struct evtchn_port *q = h->dom->ports[i];
        if (q && q->state == PORT_VIRQ && q->virq == virq)
            return -EEXIST;
    }
    struct evtchn_port *p;
    int rc = port_alloc(h->dom, h, &p, rfd);
    if (rc)
        return rc;
    p->state = PORT_VIRQ;
    p->virq = virq;
    gen_bump(p);
    return (int)p->num;
}

/* The handle's own port, as the Linux driver's find_evtchn(). */
static struct evtchn_port *own_port(struct evtchn_handle *h, uint32_t port)
{
    struct evtchn_port *p = port_get(h->dom, port);
    return p && p->owner == h ? p : NULL;
}

int evtchn_unbind(struct evtchn_handle *h, uint32_t port)
{
    if (!h->dom || port > h->dom->max_port)
        return -EINVAL;
    struct evtchn_port *p = own_port(h, port);
    if (!p)
        return -ENOTCONN;
    port_drop(p);
    return 0;
}

int evtchn_restrict(struct evtchn_handle *h, uint32_t domid)
{
    if (h->restrict_domid != DOMID_INVALID)
        return -EACCES;
    if (domid == 0 || domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    h->restrict_domid = domid;
    return 0;
}

int evtchn_peer(struct evtchn_handle *h, uint32_t port, uint32_t *gen,
                int *peer_wfd)
{
    struct evtchn_port *p = own_port(h, port);
    if (!p)
        return -ENOTCONN;
    *gen = __atomic_load_n(&h->gen[port], __ATOMIC_RELAXED); /* we write it */
    *peer_wfd = -1; /* unbound, or VIRQ: only the hypervisor raises it */
    if (p->state == PORT_INTERDOMAIN && p->peer) {
        /* Never our own description: the notifier could change its flags.
         * Read-write, so that the notifier's write never raises SIGPIPE,
         * even once the peer's pipe lost every other reader. */
        int fd = pipe_reopen(p->peer->pipe_fd, O_RDWR);
        if (fd < 0)
            return fd;
        *peer_wfd = fd;
    }
    return 0;
}

int evtchn_status(uint32_t caller, uint32_t domid, uint32_t port,
                  struct xsp_ctrl_evtchn_status_rep *out)
{
    if (domid == DOMID_SELF)
        domid = caller;
    struct dom_evtchn *de = dom_evtchn_of(domid);
    if (!de)
        return -ESRCH;
    /* XSM_TARGET: oneself, or the control domain. */
    if (caller != domid && caller != 0)
        return -EPERM;
    if (port > de->max_port)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    struct evtchn_port *p = port_get(de, port);
    if (port == 0) {
        out->status = EVTCHNSTAT_closed; /* reserved, reported as closed */
        return 0;
    }
    if (!p) {
        out->status = EVTCHNSTAT_closed;
        return 0;
    }
    switch (p->state) {
    case PORT_UNBOUND:
        out->status = EVTCHNSTAT_unbound;
        out->dom = p->remote_dom;
        break;
    case PORT_INTERDOMAIN:
        out->status = EVTCHNSTAT_interdomain;
        out->dom = p->remote_dom;
        out->port = p->peer ? p->peer->num : 0;
        break;
    case PORT_VIRQ:
        out->status = EVTCHNSTAT_virq;
        out->virq = p->virq;
        break;
    }
    return 0;
}

/* ---- holds (grant unmap-notify) ---- */

int evtchn_hold(uint32_t domid, uint32_t port, struct evtchn_port **out)
{
    struct evtchn_port *p = port_get(dom_evtchn_of(domid), port);
    /* The Linux driver's evtchn_get(): only ports bound by a user handle. */
    if (!p || !p->owner)
        return -EINVAL;
    p->holds++;
    *out = p;
    return 0;
}

void evtchn_send_held(struct evtchn_port *p)
{
    if (!p)
        return;
    if (p->state == PORT_INTERDOMAIN && p->peer)
        evtchn_kick(p->peer);
    /* Unbound: the event is dropped, as Xen does. */
}

void evtchn_release(struct evtchn_port *p)
{
    if (!p || !p->holds)
        return;
    if (--p->holds == 0 && !p->owner)
        port_free(p);
}

void evtchn_fire_virq_dom0(uint32_t virq)
{
    struct sim_domain *d0 = domain_by_id(0);
    struct dom_evtchn *de = d0 ? d0->evtchn : NULL;
    for (uint32_t i = 1; de && i < de->cap; i++) {
        struct evtchn_port *p = de->ports[i];
        if (p && p->state == PORT_VIRQ && p->virq == virq)
            evtchn_kick(p);
    }
}

void evtchn_domain_destroyed(struct sim_domain *d)
{
    /* Its processes are dead: close its connections first, so that grant
     * unmap-notifies still find their ports. Idempotent. */
    hypsock_domain_gone(d->domid);
    struct dom_evtchn *de = d->evtchn;
    if (de) {
        /* Only ports still held by someone else's notify can remain. */
        for (uint32_t i = 1; i < de->cap; i++) {
            struct evtchn_port *p = de->ports[i];
            if (!p)
                continue;
            p->owner = NULL;
            if (!p->holds) {
                port_free(p);
                continue;
            }
            /* Still held (cannot happen: holders are this domain's own
             * connections, closed above): detach, freed at release. */
            struct evtchn_port *q = p->peer;
            if (q) {
                q->state = PORT_UNBOUND;
                q->remote_dom = de->domid;
                q->peer = NULL;
                gen_bump(q);
            }
            p->state = PORT_UNBOUND;
            p->peer = NULL;
            p->dom = NULL;
            fd_uncharge(de->domid, 1); /* the domain is gone */
        }
        free(de->ports);
        free(de);
        d->evtchn = NULL;
    }
    evtchn_fire_virq_dom0(VIRQ_DOM_EXC);
}
