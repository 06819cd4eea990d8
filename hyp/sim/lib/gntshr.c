/* xensim drop-in libxengnttab: the sharer half (xengntshr_*), as gntalloc.
 *
 * A share is a memfd of count pages we map here and hand to the daemon,
 * which gives it grant refs for the grantee and seals it (size; and, for a
 * read-only grant, any new writable mapping). Our own mapping stays
 * writable.
 *
 * Xen 4.17's library drops the grant refs from the gntalloc descriptor
 * right after mapping them: a share lives as long as its mapping does in
 * some process, not as long as the descriptor (which it opens without
 * O_CLOEXEC, and so does this, gnttab.c).  A forked child has a copy of
 * the mapping; exec and exit drop it.  So each share comes with an owner
 * pipe: the daemon watches its read end and revokes the share (firing its
 * unmap-notify) when the last write end closes; the write end is
 * close-on-exec and a forked child keeps its copy. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xengnttab.h>

#include "gntdev.h"

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger,
                                 unsigned open_flags)
{
    return gntdev_open(XSP_KIND_GNTSHR);
}

int xengntshr_close(xengntshr_handle *h)
{
    if (h)
        gntdev_close(h);
    return 0;
}

int xengntshr_fd(xengntshr_handle *h)
{
    return h->sock;
}

static void *share(xengntshr_handle *h, uint32_t domid, int count,
                   uint32_t *refs, int writable, uint32_t notify_offset,
                   uint32_t notify_port)
{
    if (count <= 0 || !refs) {
        errno = EINVAL;
        return NULL;
    }
    if ((uint32_t)count > XSP_MAX_PAGES) {
        errno = ENOSPC; /* gntalloc: over its limit */
        return NULL;
    }
    size_t bytes = (size_t)count * XSP_PAGE_SIZE;
    size_t rep_cap = sizeof(struct xsp_gntshr_share_rep) +
                     (size_t)count * sizeof(uint32_t);
    char *rep = malloc(rep_cap);
    struct region *r = calloc(1, sizeof(*r));
    uint8_t *revoked = calloc((size_t)count, 1);
    void *addr = MAP_FAILED;
    int rc = -ENOMEM;
    int owner[2] = { -1, -1 };
    int fd = memfd_create("xensim-grant", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (!rep || !r || !revoked)
        goto out;
    if (pipe2(owner, O_CLOEXEC) < 0) {
        rc = -errno;
        goto out;
    }
    if (ftruncate(fd, (off_t)bytes) < 0) {
        rc = -errno;
        goto out;
    }
    addr = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
        rc = -errno;
        goto out;
    }
    struct xsp_gntshr_share req = {
        .domid = domid, .count = (uint32_t)count, .writable = writable != 0,
        .notify_offset = notify_offset, .notify_port = notify_port,
    };
    int send[2] = { fd, owner[0] };
    rc = gntdev_call_fds(h, XSP_OP_GNTSHR_SHARE, &req, sizeof(req), send, 2,
                         false, rep, rep_cap, NULL, NULL, 0, NULL);
    if (rc)
        goto out;
    struct xsp_gntshr_share_rep sr;
    memcpy(&sr, rep, sizeof(sr));
    memcpy(refs, rep + sizeof(sr), (size_t)count * sizeof(uint32_t));
    r->addr = addr;
    r->pages = (uint32_t)count;
    r->id = sr.share_id;
    r->revoked = revoked;
    r->live = (uint32_t)count;
    r->share_owner_fd = owner[1];
    owner[1] = -1;
    pthread_mutex_lock(&h->lock);
    r->next = h->regions;
    h->regions = r;
    pthread_mutex_unlock(&h->lock);
    r = NULL;
    revoked = NULL;
out:
    if (fd >= 0)
        close(fd); /* our mapping and the daemon's copy keep the pages */
    if (owner[0] >= 0)
        close(owner[0]); /* the daemon's copy watches */
    if (owner[1] >= 0)
        close(owner[1]);
    free(rep);
    free(r);
    free(revoked);
    if (rc) {
        if (addr != MAP_FAILED)
            munmap(addr, bytes);
        errno = -rc;
        return NULL;
    }
    return addr;
}

void *xengntshr_share_pages(xengntshr_handle *h, uint32_t domid, int count,
                            uint32_t *refs, int writable)
{
    return share(h, domid, count, refs, writable, XSP_NO_NOTIFY_OFFSET,
                 XSP_NO_NOTIFY_PORT);
}

void *xengntshr_share_page_notify(xengntshr_handle *h, uint32_t domid,
                                  uint32_t *ref, int writable,
                                  uint32_t notify_offset,
                                  evtchn_port_t notify_port)
{
    return share(h, domid, 1, ref, writable,
                 notify_offset < XSP_PAGE_SIZE ? notify_offset
                                               : XSP_NO_NOTIFY_OFFSET,
                 notify_port);
}

int xengntshr_unshare(xengntshr_handle *h, void *start_address, uint32_t count)
{
    uint8_t *start = start_address;
    pthread_mutex_lock(&h->lock);
    struct region **pp = &h->regions;
    while (*pp && !(start >= (*pp)->addr &&
                    start < (*pp)->addr + (size_t)(*pp)->pages * XSP_PAGE_SIZE))
        pp = &(*pp)->next;
    struct region *r = *pp;
    pthread_mutex_unlock(&h->lock);
    if (!r) /* libxengnttab only munmaps: so do we */
        return munmap(start_address, (size_t)count * XSP_PAGE_SIZE);
    size_t off = (size_t)(start - r->addr);
    /* munmap()'s EINVAL, as the real call is one: unaligned, or no length. */
    if (off % XSP_PAGE_SIZE || count == 0)
        return gntdev_fail(EINVAL);
    uint32_t first = (uint32_t)(off / XSP_PAGE_SIZE);
    if (count > r->pages - first)
        count = r->pages - first;
    /* Unmap first: gntalloc clears the notify byte after our unmap. */
    if (munmap(start, (size_t)count * XSP_PAGE_SIZE) < 0)
        return -1;
    struct xsp_gntshr_unshare req = { .share_id = r->id, .first = first,
                                      .count = count };
    /* The last of our copy: our end of the owner pipe goes with the
     * request, so that the daemon can tell whether a forked child's copy
     * keeps the share (gntalloc frees refs with their last mapping). */
    pthread_mutex_lock(&h->lock);
    uint32_t left = 0;
    for (uint32_t i = 0; i < r->pages; i++)
        left += !r->revoked[i] && (i < first || i >= first + count);
    pthread_mutex_unlock(&h->lock);
    bool give = !left && r->share_owner_fd >= 0;
    int rc = gntdev_call_fds(h, XSP_OP_GNTSHR_UNSHARE, &req, sizeof(req),
                             &r->share_owner_fd, give, give, NULL, 0, NULL,
                             NULL, 0, NULL);
    if (give)
        r->share_owner_fd = -1; /* closed once sent */
    pthread_mutex_lock(&h->lock);
    for (uint32_t i = first; i < first + count; i++)
        if (!r->revoked[i]) {
            r->revoked[i] = 1;
            r->live--;
        }
    if (!r->live) {
        for (pp = &h->regions; *pp != r; pp = &(*pp)->next)
            ;
        *pp = r->next;
        if (r->share_owner_fd >= 0)
            close(r->share_owner_fd);
        free(r->revoked);
        free(r);
    }
    pthread_mutex_unlock(&h->lock);
    return rc ? gntdev_fail(-rc) : 0;
}
