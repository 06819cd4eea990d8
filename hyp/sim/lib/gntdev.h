/* xensim drop-in libxengnttab: the handle both halves (gnttab: map others'
 * grants; gntshr: share our pages) use, and their common helpers. */
#ifndef XENSIM_LIB_GNTDEV_H
#define XENSIM_LIB_GNTDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "proto.h"

/* One mapping (gnttab) or share (gntshr) made through a handle. */
struct region {
    struct region *next;
    uint8_t *addr;
    uint32_t pages;
    uint64_t id;       /* gntshr: the daemon's share_id */
    uint8_t *revoked;  /* gntshr: per page, unshared already */
    uint32_t live;     /* gntshr: pages not yet unshared */
    /* gnttab, a mapping with a byte to clear: the write end of its owner
     * pipe (proto.h), held by this process only; see gnttab.c. */
    bool owned;
    int owner_fd;
    struct region *owner_next, **owner_pprev;
    /* gntshr: the write end of the share's owner pipe (gntshr.c), -1
     * once let go; forked children keep a copy, exec closes it. */
    int share_owner_fd;
    /* gnttab: the daemon's map_id of each part of at most XSP_MAX_PAGES
     * pages (one request each; gnttab.c). */
    uint64_t map_ids[];
};

struct xengntdev_handle {
    int sock;
    pthread_mutex_t lock; /* daemon round trips and the region list */
    struct region *regions;
    pid_t opener;         /* getpid() at open: a child of fork() has a copy */
};

/* Connect a handle of kind; NULL + errno on failure. */
struct xengntdev_handle *gntdev_open(uint32_t kind);
void gntdev_close(struct xengntdev_handle *h);
/* A daemon round trip under the handle's lock; -errno or 0. fds/nfds as
 * xsp_call; rep_len exact unless rep_min is smaller (variable replies). */
int gntdev_call(struct xengntdev_handle *h, uint32_t op, const void *req,
                size_t req_len, int send_fd, void *rep, size_t rep_cap,
                size_t *rep_len, int *fds, unsigned max_fds, unsigned *nfds);
/* The same with n_send descriptors to send; give: they are closed here
 * once sent (xsp_call_give), the daemon's copies then the only ones. */
int gntdev_call_fds(struct xengntdev_handle *h, uint32_t op, const void *req,
                    size_t req_len, const int *send_fds, unsigned n_send,
                    bool give, void *rep, size_t rep_cap, size_t *rep_len,
                    int *fds, unsigned max_fds, unsigned *nfds);
int gntdev_fail(int err);

#endif
