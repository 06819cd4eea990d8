/* xensim drop-in libxengnttab: the mapper half (xengnttab_*), as gntdev.
 *
 * The daemon checks each ref is granted to our domain (and writable if we
 * ask PROT_WRITE) and hands back the backing memfds (read-only grants:
 * sealed, O_RDONLY) with a (fd, page) per ref; we reserve one contiguous
 * PROT_NONE area and map each run of consecutive pages over it. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <xengnttab.h>

#include "gntdev.h"

/* Owner pipes. Linux PV's gntdev clears a mapping's notify byte when the
 * mapping process's address space lets go of it (exit, exec), even while a
 * forked child still holds the gntdev descriptor: the mapping is not
 * copied into children (VM_DONTCOPY; here MADV_DONTFORK). The daemon
 * cannot see address spaces, so each such mapping comes with a pipe whose
 * read end the daemon watches and whose write end only the mapping process
 * holds: close-on-exec, and closed in the child of every fork() (below).
 * The list and each region's owned/owner_fd are under g_owned_mu, which a
 * fork() takes, so that no child inherits a write end half set up. */
static pthread_mutex_t g_owned_mu = PTHREAD_MUTEX_INITIALIZER;
static struct region *g_owned;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void owned_prepare(void)
{
    pthread_mutex_lock(&g_owned_mu);
}

static void owned_parent(void)
{
    pthread_mutex_unlock(&g_owned_mu);
}

static void owned_child(void)
{
    for (struct region *r = g_owned; r; r = r->owner_next) {
        close(r->owner_fd);
        r->owned = false;
    }
    g_owned = NULL;
    pthread_mutex_unlock(&g_owned_mu);
}

static void owned_register_atfork(void)
{
    pthread_atfork(owned_prepare, owned_parent, owned_child);
}

/* Make r's owner pipe; its read end goes to *rd (the caller's to close). */
static int owner_pipe(struct region *r, int *rd)
{
    int p[2];
    pthread_once(&g_atfork_once, owned_register_atfork);
    pthread_mutex_lock(&g_owned_mu);
    if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        pthread_mutex_unlock(&g_owned_mu);
        return -e;
    }
    r->owned = true;
    r->owner_fd = p[1];
    r->owner_next = g_owned;
    if (g_owned)
        g_owned->owner_pprev = &r->owner_next;
    r->owner_pprev = &g_owned;
    g_owned = r;
    pthread_mutex_unlock(&g_owned_mu);
    *rd = p[0];
    return 0;
}

/* Let go of r's owner pipe, if this process still has it. */
static void owner_drop(struct region *r)
{
    pthread_mutex_lock(&g_owned_mu);
    if (r->owned) {
        *r->owner_pprev = r->owner_next;
        if (r->owner_next)
            r->owner_next->owner_pprev = r->owner_pprev;
        close(r->owner_fd);
        r->owned = false;
    }
    pthread_mutex_unlock(&g_owned_mu);
}

int gntdev_fail(int err)
{
    errno = err;
    return -1;
}

struct xengntdev_handle *gntdev_open(uint32_t kind)
{
    struct xengntdev_handle *h = calloc(1, sizeof(*h));
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    struct xsp_hello_rep rep;
    int s = xsp_connect(kind, &rep, NULL);
    if (s < 0) {
        free(h);
        errno = -s;
        return NULL;
    }
    /* Xen 4.17's library opens /dev/xen/gntalloc without O_CLOEXEC (and
     * gntdev with it): so does this, so that a program's exec leaks a
     * gntshr handle here as it does on Xen. */
    if (kind == XSP_KIND_GNTSHR && fcntl(s, F_SETFD, 0) < 0) {
        int e = errno;
        close(s);
        free(h);
        errno = e;
        return NULL;
    }
    h->sock = s;
    h->opener = getpid();
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void gntdev_close(struct xengntdev_handle *h)
{
    /* Linux's close leaves the address space alone (each mapping holds the
     * device file open until munmap()), and so do we: a region may be gone
     * already by a bare munmap() (libxenvchan's rings of a page or more)
     * and its addresses hold something else since.  Only the bookkeeping
     * goes.  The daemon never sees a bare munmap(): it ends the handle's
     * mappings and shares, firing their notifies, when the connection
     * closes (here, or at exit), or at an exit or exec through the owner
     * pipes.  Our pages stay usable until munmap(), the memfds they map
     * being the kernel's to keep; unlike Linux, their grants end at the
     * close (a share's refs may be handed out again).  In a child of
     * fork() the connection stays the parent's, and with it the grants. */
    bool child = getpid() != h->opener;
    close(h->sock);
    while (h->regions) {
        struct region *r = h->regions;
        h->regions = r->next;
        owner_drop(r);
        /* A child keeps its copy of a share's mapping, and so its end. */
        if (r->share_owner_fd >= 0 && !child)
            close(r->share_owner_fd);
        free(r->revoked);
        free(r);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}

int gntdev_call(struct xengntdev_handle *h, uint32_t op, const void *req,
                size_t req_len, int send_fd, void *rep, size_t rep_cap,
                size_t *rep_len, int *fds, unsigned max_fds, unsigned *nfds)
{
    return gntdev_call_fds(h, op, req, req_len, &send_fd, send_fd >= 0, false,
                           rep, rep_cap, rep_len, fds, max_fds, nfds);
}

int gntdev_call_fds(struct xengntdev_handle *h, uint32_t op, const void *req,
                    size_t req_len, const int *send_fds, unsigned n_send,
                    bool give, void *rep, size_t rep_cap, size_t *rep_len,
                    int *fds, unsigned max_fds, unsigned *nfds)
{
    unsigned dummy_n;
    size_t got = 0;
    pthread_mutex_lock(&h->lock);
    int rc = (give ? xsp_call_give : xsp_call)(
        h->sock, op, req, req_len, send_fds, n_send, rep, rep_cap, &got, fds,
        max_fds, nfds ? nfds : &dummy_n);
    pthread_mutex_unlock(&h->lock);
    if (!rc && rep_len)
        *rep_len = got;
    else if (!rc && got != rep_cap)
        rc = -EPROTO;
    return rc;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                 unsigned open_flags)
{
    return gntdev_open(XSP_KIND_GNTTAB);
}

int xengnttab_close(xengnttab_handle *h)
{
    if (h)
        gntdev_close(h);
    return 0;
}

int xengnttab_fd(xengnttab_handle *h)
{
    return h->sock;
}

int xengnttab_set_max_grants(xengnttab_handle *h, uint32_t nr_grants)
{
    struct xsp_gnttab_set_max req = { .count = nr_grants };
    int rc = gntdev_call(h, XSP_OP_GNTTAB_SET_MAX, &req, sizeof(req), -1, NULL,
                         0, NULL, NULL, 0, NULL);
    return rc ? gntdev_fail(-rc) : 0;
}

/* op: XSP_OP_GNTTAB_UNMAP, or _DISCARD for a map we could not use
 * (libxengnttab sets the unmap-notify up only after its mmap succeeded,
 * so nothing fires at the peer then). */
static void unmap_in_daemon(xengnttab_handle *h, uint32_t op, uint64_t id)
{
    struct xsp_gnttab_unmap req = { .map_id = id };
    gntdev_call(h, op, &req, sizeof(req), -1, NULL, 0, NULL, NULL, 0, NULL);
}

/* Map each run of pages that are consecutive in one fd with one mmap. */
static int map_runs(uint8_t *area, uint32_t count,
                    const struct xsp_map_page *pages, const int *fds,
                    unsigned nfds, int prot)
{
    for (uint32_t i = 0; i < count;) {
        uint32_t j = i + 1;
        if (pages[i].fd_index >= nfds)
            return -EPROTO;
        while (j < count && pages[j].fd_index == pages[i].fd_index &&
               pages[j].page == pages[j - 1].page + 1)
            j++;
        void *m = mmap(area + (size_t)i * XSP_PAGE_SIZE,
                       (size_t)(j - i) * XSP_PAGE_SIZE, prot,
                       MAP_SHARED | MAP_FIXED, fds[pages[i].fd_index],
                       (off_t)pages[i].page * XSP_PAGE_SIZE);
        if (m == MAP_FAILED)
            return -errno;
        i = j;
    }
    return 0;
}

/* Linux gntdev's "limit" module parameter (Linux 6.1): a map of more
 * grants, or of none, fails with EINVAL. */
#define GNTDEV_LIMIT (64u * 1024)

/* A map of more than one request's worth (XSP_MAX_PAGES) is several
 * requests, each its own map_id, behind one reserved range. */
static uint32_t map_parts(uint32_t count)
{
    return (count + XSP_MAX_PAGES - 1) / XSP_MAX_PAGES;
}

/* Map n refs (domids[i] or one_domid) over the n pages at area, as one
 * daemon request; *id its map_id.  why: as map_refs. */
static int map_part(xengnttab_handle *h, uint8_t *area, uint32_t n,
                    const uint32_t *domids, uint32_t one_domid,
                    const uint32_t *refs, int prot, uint32_t notify_offset,
                    uint32_t notify_port, int owner_rd, bool why,
                    uint64_t *id)
{
    size_t req_len = sizeof(struct xsp_gnttab_map) +
                     (size_t)n * sizeof(struct xsp_grant_ref);
    size_t rep_cap = sizeof(struct xsp_gnttab_map_rep) +
                     (size_t)n * sizeof(struct xsp_map_page);
    char *req = malloc(req_len);
    char *rep = malloc(rep_cap);
    int *fds = malloc(n * sizeof(int));
    unsigned nfds = 0;
    int rc = -ENOMEM;
    if (!req || !rep || !fds)
        goto out;
    struct xsp_gnttab_map m = {
        .count = n,
        .writable = (prot & PROT_WRITE ? XSP_MAP_WRITE : 0) |
                    (why ? XSP_MAP_WHY : 0),
        .notify_offset = notify_offset, .notify_port = notify_port,
    };
    memcpy(req, &m, sizeof(m));
    for (uint32_t i = 0; i < n; i++) {
        struct xsp_grant_ref g = { .domid = domids ? domids[i] : one_domid,
                                   .ref = refs[i] };
        memcpy(req + sizeof(m) + i * sizeof(g), &g, sizeof(g));
    }
    size_t got = 0;
    rc = gntdev_call(h, XSP_OP_GNTTAB_MAP, req, req_len, owner_rd, rep,
                     rep_cap, &got, fds, n, &nfds);
    if (rc)
        goto out;
    struct xsp_gnttab_map_rep mr;
    if (got != rep_cap) {
        rc = -EPROTO;
        goto out;
    }
    memcpy(&mr, rep, sizeof(mr));
    /* The pages array follows the fixed reply; copy to keep it aligned. */
    struct xsp_map_page *pages = (struct xsp_map_page *)req;
    memcpy(pages, rep + sizeof(mr), (size_t)n * sizeof(*pages));
    rc = mr.count == n ? map_runs(area, n, pages, fds, nfds, prot) : -EPROTO;
    if (rc)
        unmap_in_daemon(h, XSP_OP_GNTTAB_DISCARD, mr.map_id);
    else
        *id = mr.map_id;
out:
    for (unsigned i = 0; i < nfds; i++)
        close(fds[i]);
    free(req);
    free(rep);
    free(fds);
    return rc;
}

/* why: a refused ref fails with its reason (XSP_MAP_WHY), not EINVAL. */
static void *map_refs(xengnttab_handle *h, uint32_t count,
                      const uint32_t *domids, uint32_t one_domid,
                      const uint32_t *refs, int prot, uint32_t notify_offset,
                      uint32_t notify_port, bool why)
{
    if (count == 0 || count > GNTDEV_LIMIT || !refs) {
        errno = EINVAL;
        return NULL;
    }
    uint32_t parts = map_parts(count), done = 0;
    struct region *r = calloc(1, sizeof(*r) + parts * sizeof(r->map_ids[0]));
    void *area = MAP_FAILED;
    int rc = -ENOMEM, owner_rd = -1;
    if (!r)
        goto out;
    r->share_owner_fd = -1;
    /* Reserve the address range first so a failure costs no round trip. */
    area = mmap(NULL, (size_t)count * XSP_PAGE_SIZE, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED)
        goto out;
    if (notify_offset < XSP_PAGE_SIZE && (rc = owner_pipe(r, &owner_rd)))
        goto out;
    /* The notify (its byte is in page 0) goes with the first part. */
    for (; done < parts; done++) {
        uint32_t first = done * XSP_MAX_PAGES;
        uint32_t n = count - first < XSP_MAX_PAGES ? count - first
                                                   : XSP_MAX_PAGES;
        rc = map_part(h, (uint8_t *)area + (size_t)first * XSP_PAGE_SIZE, n,
                      domids ? domids + first : NULL, one_domid, refs + first,
                      prot, done ? XSP_NO_NOTIFY_OFFSET : notify_offset,
                      done ? XSP_NO_NOTIFY_PORT : notify_port,
                      done ? -1 : owner_rd, why, &r->map_ids[done]);
        if (rc)
            break;
    }
    /* Not in a forked child: gntdev's VM_DONTCOPY (PV guests). */
    if (!rc && madvise(area, (size_t)count * XSP_PAGE_SIZE, MADV_DONTFORK))
        rc = -errno;
    if (rc) { /* a map fails as a whole */
        while (done--)
            unmap_in_daemon(h, XSP_OP_GNTTAB_DISCARD, r->map_ids[done]);
        goto out;
    }
    r->addr = area;
    r->pages = count;
    pthread_mutex_lock(&h->lock);
    r->next = h->regions;
    h->regions = r;
    pthread_mutex_unlock(&h->lock);
    r = NULL;
out:
    if (owner_rd >= 0)
        close(owner_rd);
    if (r)
        owner_drop(r);
    free(r);
    if (rc) {
        if (area != MAP_FAILED)
            munmap(area, (size_t)count * XSP_PAGE_SIZE);
        errno = -rc;
        return NULL;
    }
    return area;
}

void *xengnttab_map_grant_ref(xengnttab_handle *h, uint32_t domid,
                              uint32_t ref, int prot)
{
    return map_refs(h, 1, NULL, domid, &ref, prot, XSP_NO_NOTIFY_OFFSET,
                    XSP_NO_NOTIFY_PORT, false);
}

void *xengnttab_map_grant_refs(xengnttab_handle *h, uint32_t count,
                               uint32_t *domids, uint32_t *refs, int prot)
{
    if (!domids) {
        errno = EINVAL;
        return NULL;
    }
    return map_refs(h, count, domids, 0, refs, prot, XSP_NO_NOTIFY_OFFSET,
                    XSP_NO_NOTIFY_PORT, false);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *h, uint32_t count,
                                      uint32_t domid, uint32_t *refs, int prot)
{
    return map_refs(h, count, NULL, domid, refs, prot, XSP_NO_NOTIFY_OFFSET,
                    XSP_NO_NOTIFY_PORT, false);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *h, uint32_t domid,
                                     uint32_t ref, int prot,
                                     uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    /* An offset past the page means "no byte to clear", as libxengnttab. */
    return map_refs(h, 1, NULL, domid, &ref, prot,
                    notify_offset < XSP_PAGE_SIZE ? notify_offset
                                                  : XSP_NO_NOTIFY_OFFSET,
                    notify_port, false);
}

int xengnttab_unmap(xengnttab_handle *h, void *start_address, uint32_t count)
{
    if (!start_address)
        return gntdev_fail(EINVAL);
    pthread_mutex_lock(&h->lock);
    struct region **pp = &h->regions;
    while (*pp && (*pp)->addr != start_address)
        pp = &(*pp)->next;
    struct region *r = *pp;
    /* gntdev: the address must start a mapping of exactly count pages. */
    if (!r || r->pages != count) {
        pthread_mutex_unlock(&h->lock);
        return gntdev_fail(EINVAL);
    }
    *pp = r->next;
    pthread_mutex_unlock(&h->lock);
    munmap(r->addr, (size_t)r->pages * XSP_PAGE_SIZE);
    /* The first fires the unmap-notify, if any. */
    for (uint32_t i = 0; i < map_parts(r->pages); i++)
        unmap_in_daemon(h, XSP_OP_GNTTAB_UNMAP, r->map_ids[i]);
    owner_drop(r);
    free(r);
    return 0;
}

/* Map one grant side of a copy segment; NULL with *err its errno. */
static uint8_t *copy_map(xengnttab_handle *h, uint16_t domid, uint32_t ref,
                         int prot, int *err)
{
    uint8_t *p = map_refs(h, 1, NULL, domid, &ref, prot, XSP_NO_NOTIFY_OFFSET,
                          XSP_NO_NOTIFY_PORT, true);
    *err = p ? 0 : errno;
    return p;
}

/* Xen's status for a side its copy could not take. ENOMEM and a full
 * maptrack are the simulation's own troubles: no code of Xen's fits. */
static int16_t copy_status(int err)
{
    switch (err) {
    case ESRCH:
        return GNTST_bad_domain;
    case ERANGE:
        return GNTST_bad_gntref;
    default: /* EACCES: not ours, or read-only */
        return GNTST_general_error;
    }
}

/* Copy len bytes between a grant we mapped and the caller's own memory
 * through the kernel: gntdev takes the caller's pages with
 * get_user_pages, so an address not mapped (or, to write, not writable)
 * fails the call with EFAULT where a memcpy would crash. */
static int copy_user(uint8_t *grant, void *user, size_t len, bool to_user)
{
    struct iovec g = { .iov_base = grant, .iov_len = len };
    struct iovec u = { .iov_base = user, .iov_len = len };
    ssize_t n = to_user ? process_vm_writev(getpid(), &g, 1, &u, 1, 0)
                        : process_vm_readv(getpid(), &g, 1, &u, 1, 0);
    if (n == (ssize_t)len)
        return 0;
    if (n >= 0) /* stopped at a page it could not take */
        return -EFAULT;
    if (errno != ENOSYS && errno != EPERM)
        return -errno;
    /* Not available here (old kernel, seccomp): trust the address. */
    if (to_user)
        memcpy(user, grant, len);
    else
        memcpy(grant, user, len);
    return 0;
}

int xengnttab_grant_copy(xengnttab_handle *h, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    /* gntdev refuses the whole call, copying nothing, for a segment with
     * no grant on either side or one that crosses its granted page. */
    for (uint32_t i = 0; i < count; i++) {
        const xengnttab_grant_copy_segment_t *s = &segs[i];
        if (!(s->flags & (GNTCOPY_source_gref | GNTCOPY_dest_gref)) ||
            ((s->flags & GNTCOPY_source_gref) &&
             s->source.foreign.offset + (uint32_t)s->len > XSP_PAGE_SIZE) ||
            ((s->flags & GNTCOPY_dest_gref) &&
             s->dest.foreign.offset + (uint32_t)s->len > XSP_PAGE_SIZE))
            return gntdev_fail(EINVAL);
    }
    /* Per segment: map the foreign side(s) for the copy, then unmap. */
    for (uint32_t i = 0; i < count; i++) {
        xengnttab_grant_copy_segment_t *s = &segs[i];
        bool sg = s->flags & GNTCOPY_source_gref;
        bool dg = s->flags & GNTCOPY_dest_gref;
        uint8_t *smap = NULL, *dmap = NULL;
        int serr = 0, derr = 0, err, rc = 0;
        s->status = GNTST_okay; /* gntdev writes it before the copy */
        if (sg)
            smap = copy_map(h, s->source.foreign.domid,
                            s->source.foreign.ref, PROT_READ, &serr);
        /* Tried even when the source failed: Xen looks both domains up
         * before either ref, so a missing one outranks a bad ref. */
        if (dg)
            dmap = copy_map(h, s->dest.foreign.domid, s->dest.foreign.ref,
                            PROT_READ | PROT_WRITE, &derr);
        err = serr == ESRCH || derr == ESRCH ? ESRCH : serr ? serr : derr;
        if (err)
            s->status = copy_status(err);
        else if (sg && dg)
            memcpy(dmap + s->dest.foreign.offset,
                   smap + s->source.foreign.offset, s->len);
        else if (sg)
            rc = copy_user(smap + s->source.foreign.offset, s->dest.virt,
                           s->len, true);
        else
            rc = copy_user(dmap + s->dest.foreign.offset, s->source.virt,
                           s->len, false);
        if (smap)
            xengnttab_unmap(h, smap, 1);
        if (dmap)
            xengnttab_unmap(h, dmap, 1);
        if (rc) /* gntdev fails the call, leaving the rest undone */
            return gntdev_fail(-rc);
    }
    return 0;
}

int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *h, uint32_t domid,
                                   uint32_t flags, uint32_t count,
                                   const uint32_t *refs, uint32_t *fd)
{
    return gntdev_fail(EOPNOTSUPP);
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *h, uint32_t fd,
                                       uint32_t wait_to_ms)
{
    return gntdev_fail(EOPNOTSUPP);
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *h, uint32_t domid,
                                 uint32_t fd, uint32_t count, uint32_t *refs)
{
    return gntdev_fail(EOPNOTSUPP);
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *h, uint32_t fd)
{
    return gntdev_fail(EOPNOTSUPP);
}
