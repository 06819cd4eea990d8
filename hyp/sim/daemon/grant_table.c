/* xensim daemon: grant tables. See grant_table.h. */
#include "grant_table.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xen/xen.h>

#include "domain.h"
#include "evtchn_table.h"
#include "fd_budget.h"
#include "loop.h"

#define DEFAULT_GRANT_FRAMES 64u
#define REFS_PER_FRAME 512u      /* v1: 8-byte entries in a 4 KiB frame */
#define FIRST_USABLE_REF 8u      /* GNTTAB_NR_RESERVED_ENTRIES */
/* Mappings one domain may hold at once: Xen's maptrack table, 1024 frames
 * (gnttab_max_maptrack_frames) of 256 entries.  Past it Xen answers
 * GNTST_no_device_space, which gntdev turns into EINVAL.  It also bounds
 * what a guest makes the daemon keep (a map_item per page). */
#define MAPTRACK_MAX (1024u * 256u)
/* Linux gntalloc's "limit": pages its users in one kernel (domain) may have
 * shared at once, 1024 by default; past it the share fails with ENOSPC.
 * Seen on Xen 4.17 with Debian's 6.1 kernel: 31 channels of 33 pages, and
 * the 32nd's rings refused (tests/xen/scenarios/vchan-cap.sh, many). */
#define GNTALLOC_LIMIT 1024u

enum entry_state { ENTRY_FREE = 0, ENTRY_ACTIVE, ENTRY_REVOKED };

/* The pages of one share call. */
struct backing {
    int fd;         /* the sharer's memfd (sealed against size changes) */
    int rofd;       /* O_RDONLY reopen, made at first read-only map */
    bool writable;  /* the grant's */
    /* A writable grant's rofd lives while read-only maps of it do, charged
     * to the mapping domain (a read-only grant's is the sharer's). */
    uint32_t ro_maps;
    uint32_t ro_domid;
    uint32_t npages;
    unsigned users; /* entries pointing here */
    uint32_t charged; /* descriptors charged to the sharer (fd_budget.h) */
};

struct gentry {
    uint8_t state;
    bool writable;
    bool queued;    /* free, on the domain's freed stack */
    uint32_t grantee;
    uint32_t maps;  /* live mappings of this ref */
    uint32_t page;
    struct backing *b;
};

struct grant_dom {
    uint32_t domid;
    uint32_t max_refs;
    struct gentry *e;
    uint32_t cap;
    uint32_t used;
    /* Free refs: those on the freed stack, and those from hint up that
     * were never handed out (or whose push failed: the hint went down). */
    uint32_t hint;
    uint32_t *freed;   /* freed refs, the last freed on top */
    uint32_t nfreed, freed_cap;
    unsigned refs; /* 1 while the domain lives + 1 per mapped item */
    uint32_t fds;  /* charged for live backings, given back at destroy */
    uint32_t shared; /* pages shared and not yet revoked (GNTALLOC_LIMIT) */
    uint32_t mapped; /* pages this domain maps (MAPTRACK_MAX) */
    bool dead;
};

/* What to do when a share/mapping goes: gntalloc/gntdev's unmap notify. */
struct notify {
    uint8_t *page;  /* daemon's own writable map of the page, or NULL */
    uint32_t offset;
    uint32_t domid; /* whose kernel (gntalloc/gntdev) would fire it */
    struct evtchn_port *port;
};

struct share {
    struct share *next;
    struct grant_sharer *sharer;
    uint64_t id;
    uint32_t count;
    uint32_t live;   /* refs not yet revoked */
    uint32_t *refs;  /* UINT32_MAX once revoked */
    int owner_fd;    /* the owner pipe's read end (grant_share), or -1 */
    struct notify n;
};

struct grant_sharer {
    uint32_t domid;
    struct grant_dom *g;
    struct share *shares;
    uint64_t next_id;
};

struct map_item {
    struct grant_dom *g;
    uint32_t ref;
    bool ro_of_writable; /* counted in its backing's ro_maps */
};

struct mapping {
    struct mapping *next;
    uint64_t id;
    uint32_t count;
    int owner_fd;     /* the owner pipe's read end (grant_map), or -1 */
    struct map_item *items;
    struct notify n;
};

struct grant_mapper {
    uint32_t domid;
    struct grant_dom *g; /* the mapper's own domain's: its maptrack count */
    struct mapping *maps;
    uint64_t next_id;
};

static struct loop *g_loop; /* for the owners' pipes (grant_table_init) */

void grant_table_init(struct loop *l)
{
    g_loop = l;
}

/* ---- domain tables ---- */

int grant_domain_created(struct sim_domain *d)
{
    if (d->grants)
        return 0;
    struct grant_dom *g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    uint64_t frames = d->max_grant_frames ? d->max_grant_frames
                                          : DEFAULT_GRANT_FRAMES;
    uint64_t max = frames * REFS_PER_FRAME;
    g->max_refs = max > (1u << 24) ? (1u << 24) : (uint32_t)max;
    g->domid = d->domid;
    g->refs = 1;
    g->hint = FIRST_USABLE_REF;
    d->grants = g;
    return 0;
}

static struct grant_dom *grant_dom_of(uint32_t domid)
{
    struct sim_domain *d = domain_by_id(domid);
    if (!d)
        return NULL;
    if (!d->grants && grant_domain_created(d) < 0)
        return NULL;
    return d->grants;
}

static void grant_dom_put(struct grant_dom *g)
{
    if (--g->refs)
        return;
    free(g->e);
    free(g->freed);
    free(g);
}

static void backing_put(struct grant_dom *g, struct backing *b)
{
    if (--b->users)
        return;
    if (!g->dead) { /* else given back when the domain was destroyed */
        fd_uncharge(g->domid, b->charged);
        g->fds -= b->charged;
    }
    close(b->fd);
    if (b->rofd >= 0)
        close(b->rofd);
    free(b);
}

/* Free entry ref once it is neither granted nor mapped. */
static void entry_maybe_free(struct grant_dom *g, uint32_t ref)
{
    struct gentry *e = &g->e[ref];
    if (e->state != ENTRY_REVOKED || e->maps)
        return;
    backing_put(g, e->b);
    memset(e, 0, sizeof(*e));
    g->used--;
    /* The guest kernel hands out the ref freed last first (Linux's grant
     * table keeps a LIFO free list): onto the stack. */
    if (g->nfreed == g->freed_cap) {
        uint32_t ncap = g->freed_cap ? g->freed_cap * 2 : 64;
        uint32_t *n = realloc(g->freed, (size_t)ncap * sizeof(*n));
        if (!n) { /* still found, lowest first, by the scan */
            if (ref < g->hint)
                g->hint = ref;
            return;
        }
        g->freed = n;
        g->freed_cap = ncap;
    }
    g->freed[g->nfreed++] = ref;
    e->queued = true;
}

int grant_refs_in_use(uint32_t domid)
{
    struct grant_dom *g = grant_dom_of(domid);
    return g ? (int)g->used : -ESRCH;
}

/* ---- notify ---- */

static int notify_setup(struct notify *n, uint32_t domid, int fd,
                        uint32_t page, uint32_t offset, uint32_t port)
{
    memset(n, 0, sizeof(*n));
    n->domid = domid;
    if (offset < XSP_PAGE_SIZE) {
        void *m = mmap(NULL, XSP_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                       fd, (off_t)page * XSP_PAGE_SIZE);
        if (m == MAP_FAILED)
            return -EINVAL;
        n->page = m;
        n->offset = offset;
    }
    if (port != XSP_NO_NOTIFY_PORT) {
        int rc = evtchn_hold(domid, port, &n->port);
        if (rc) {
            if (n->page)
                munmap(n->page, XSP_PAGE_SIZE);
            n->page = NULL;
            return rc;
        }
    }
    return 0;
}

/* Clear the byte (once): the daemon's map of its page goes with it. As
 * below, a destroyed domain's kernel clears nothing. */
static void notify_clear_byte(struct notify *n)
{
    if (!n->page)
        return;
    struct sim_domain *d = domain_by_id(n->domid);
    /* Release: the peer reads the byte after the event notify_fire()
     * sends next; the pipe write is a syscall (full barrier) anyway. */
    if (d && !d->dying)
        __atomic_store_n(n->page + n->offset, 0, __ATOMIC_RELEASE);
    munmap(n->page, XSP_PAGE_SIZE);
    n->page = NULL;
}

static void notify_fire(struct notify *n)
{
    /* Unmap-notify is the guest kernel's doing (gntalloc/gntdev), not
     * Xen's: when a process dies its kernel fires it, but when the whole
     * domain is destroyed no kernel of it runs any more and nothing fires
     * (seen on Xen 4.17). Peers learn of that through @releaseDomain.
     * The byte may be gone already (notify_clear_byte: Linux PV's gntdev
     * clears it when the mapping process goes, and sends the event only
     * at the mapping's end). */
    struct sim_domain *d = domain_by_id(n->domid);
    bool silent = !d || d->dying;
    notify_clear_byte(n);
    if (n->port) {
        if (!silent)
            evtchn_send_held(n->port);
        evtchn_release(n->port);
        n->port = NULL;
    }
}

/* ---- sharer ---- */

int grant_sharer_new(uint32_t domid, struct grant_sharer **out)
{
    struct grant_dom *g = grant_dom_of(domid);
    if (!g)
        return -ESRCH;
    struct grant_sharer *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->domid = domid;
    s->g = g;
    g->refs++;
    s->next_id = 1;
    *out = s;
    return 0;
}

/* Take count free refs (all or none). */
static int refs_alloc(struct grant_dom *g, uint32_t count, uint32_t *refs)
{
    if (g->dead)
        return -ESRCH;
    uint32_t usable = g->max_refs > FIRST_USABLE_REF
                          ? g->max_refs - FIRST_USABLE_REF : 0;
    if (count > usable - g->used)
        return -ENOSPC;
    uint32_t need = g->used + count + FIRST_USABLE_REF;
    if (need > g->cap) {
        uint32_t ncap = g->cap ? g->cap : 256;
        while (ncap < need)
            ncap *= 2;
        if (ncap > g->max_refs)
            ncap = g->max_refs;
        struct gentry *n = realloc(g->e, (size_t)ncap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        memset(n + g->cap, 0, (size_t)(ncap - g->cap) * sizeof(*n));
        g->e = n;
        g->cap = ncap;
    }
    /* The ones freed last first, as Linux; then never used ones (the
     * scan skips queued refs, so each ref on the stack is there once and
     * free). */
    uint32_t got = 0, popped, r;
    while (got < count && g->nfreed) {
        r = g->freed[--g->nfreed];
        g->e[r].queued = false;
        refs[got++] = r;
    }
    popped = got;
    for (r = g->hint; r < g->cap && got < count; r++)
        if (g->e[r].state == ENTRY_FREE && !g->e[r].queued)
            refs[got++] = r;
    if (got < count) { /* cannot happen: cap covers used + count */
        while (popped) {
            r = refs[--popped];
            g->freed[g->nfreed++] = r; /* room: they came from there */
            g->e[r].queued = true;
        }
        return -ENOSPC;
    }
    if (got > popped)
        g->hint = refs[count - 1] + 1;
    return 0;
}

/* Is fd a memfd (shmem) of at least count pages that we may grant?  It is
 * sealed against size changes first, then measured: a grantee (or the
 * daemon clearing a notify byte) must never fault on a page that vanished,
 * and the sharer's other threads hold the fd too, so a size checked before
 * the seal could shrink in between. */
static int memfd_check(int fd, uint32_t count, bool writable)
{
    int seals = fcntl(fd, F_GET_SEALS); /* fails on anything not shmem */
    int size_seals = F_SEAL_SHRINK | F_SEAL_GROW;
    if (seals < 0 || ((seals & size_seals) != size_seals &&
                      fcntl(fd, F_ADD_SEALS, size_seals) < 0))
        return -EINVAL;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return -EINVAL;
    if ((uint64_t)st.st_size < (uint64_t)count * XSP_PAGE_SIZE)
        return -EINVAL;
    if (writable && (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
        return -EINVAL;
    return 0;
}

/* For a read-only grant, seal it against any new writable mapping or write,
 * which also defeats reopening /proc/PID/fd/N read-write (memfd_check()
 * sealed its size already). */
static int memfd_seal(int fd, bool writable)
{
    int seals = fcntl(fd, F_GET_SEALS);
    int want = writable ? 0 : F_SEAL_FUTURE_WRITE;
    if (seals < 0 || ((seals & want) != want &&
                      fcntl(fd, F_ADD_SEALS, want) < 0))
        return -EINVAL;
    /* No later seal (e.g. FUTURE_WRITE on a writable grant) by anyone. */
    if (!(seals & F_SEAL_SEAL))
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
    return 0;
}

static void share_owner_gone(void *ctx, uint32_t events);

int grant_share(struct grant_sharer *s, uint32_t grantee, uint32_t count,
                bool writable, uint32_t notify_offset, uint32_t notify_port,
                int memfd, uint64_t *share_id, uint32_t *refs)
{
    return grant_share_owned(s, grantee, count, writable, notify_offset,
                             notify_port, memfd, -1, share_id, refs);
}

int grant_share_owned(struct grant_sharer *s, uint32_t grantee,
                      uint32_t count, bool writable, uint32_t notify_offset,
                      uint32_t notify_port, int memfd, int owner_fd,
                      uint64_t *share_id, uint32_t *refs)
{
    struct grant_dom *g = s->g;
    struct stat ost;
    if (count == 0 || count > XSP_MAX_PAGES)
        return -EINVAL;
    if (grantee >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    if (owner_fd >= 0 && (!g_loop || fstat(owner_fd, &ost) < 0 ||
                          !S_ISFIFO(ost.st_mode)))
        return -EINVAL;
    struct share *sh = calloc(1, sizeof(*sh));
    struct backing *b = calloc(1, sizeof(*b));
    uint32_t *r = calloc(count, sizeof(*r));
    /* We keep the memfd; a read-only share also its read-only reopen,
     * made at first map but charged now, so that no map fails for it. */
    uint32_t charge = writable ? 1 : 2;
    int rc = -ENOMEM;
    if (!sh || !b || !r)
        goto fail;
    rc = memfd_check(memfd, count, writable);
    if (!rc && count > GNTALLOC_LIMIT - g->shared)
        rc = -ENOSPC;
    if (rc)
        goto fail;
    /* The owner pipe is charged with the share's own descriptors. */
    if (owner_fd >= 0)
        charge++;
    rc = fd_charge(s->domid, charge, "share");
    if (rc)
        goto fail;
    /* The notify page must be mapped writable before a read-only share is
     * sealed against new writable mappings. */
    rc = notify_setup(&sh->n, s->domid, memfd, 0, notify_offset, notify_port);
    if (rc) {
        fd_uncharge(s->domid, charge);
        goto fail;
    }
    rc = memfd_seal(memfd, writable);
    if (!rc && owner_fd >= 0)
        rc = loop_add(g_loop, owner_fd, EPOLLIN, share_owner_gone, sh);
    if (!rc) {
        rc = refs_alloc(g, count, r);
        if (rc && owner_fd >= 0)
            loop_del(g_loop, owner_fd);
    }
    if (rc) {
        if (sh->n.page)
            munmap(sh->n.page, XSP_PAGE_SIZE);
        evtchn_release(sh->n.port);
        fd_uncharge(s->domid, charge);
        goto fail;
    }
    /* The pipe's charge goes back with the share (share_unlink_free). */
    b->charged = owner_fd >= 0 ? charge - 1 : charge;
    g->fds += b->charged;
    sh->owner_fd = owner_fd;
    sh->sharer = s;
    b->fd = memfd;
    b->rofd = -1;
    b->writable = writable;
    b->npages = count;
    b->users = count;
    for (uint32_t i = 0; i < count; i++) {
        struct gentry *e = &g->e[r[i]];
        e->state = ENTRY_ACTIVE;
        e->writable = writable;
        e->grantee = grantee;
        e->maps = 0;
        e->page = i;
        e->b = b;
    }
    g->used += count;
    g->shared += count;
    sh->id = s->next_id++;
    sh->count = count;
    sh->live = count;
    sh->refs = r;
    sh->next = s->shares;
    s->shares = sh;
    memcpy(refs, r, count * sizeof(*r));
    *share_id = sh->id;
    return 0;
fail:
    free(sh);
    free(b);
    free(r);
    return rc;
}

static void share_revoke_page(struct grant_sharer *s, struct share *sh,
                              uint32_t i)
{
    uint32_t ref = sh->refs[i];
    if (ref == UINT32_MAX)
        return;
    sh->refs[i] = UINT32_MAX;
    sh->live--;
    s->g->shared--;
    s->g->e[ref].state = ENTRY_REVOKED;
    entry_maybe_free(s->g, ref);
    if (i == 0)
        notify_fire(&sh->n); /* gntalloc: when the notify page's gref goes */
}

static void share_unlink_free(struct grant_sharer *s, struct share *sh)
{
    if (sh->owner_fd >= 0) {
        loop_del(g_loop, sh->owner_fd);
        close(sh->owner_fd);
        fd_uncharge(s->domid, 1);
    }
    for (struct share **pp = &s->shares; *pp; pp = &(*pp)->next)
        if (*pp == sh) {
            *pp = sh->next;
            break;
        }
    notify_fire(&sh->n);
    free(sh->refs);
    free(sh);
}

int grant_unshare(struct grant_sharer *s, uint64_t share_id, uint32_t first,
                  uint32_t count)
{
    return grant_unshare_held(s, share_id, first, count, -1);
}

/* Are pages [first, first + count) all the share still has? */
static bool share_rest(const struct share *sh, uint32_t first, uint32_t count)
{
    uint32_t in = 0;
    for (uint32_t i = first; i < first + count; i++)
        in += sh->refs[i] != UINT32_MAX;
    return in == sh->live;
}

int grant_unshare_held(struct grant_sharer *s, uint64_t share_id,
                       uint32_t first, uint32_t count, int held_fd)
{
    struct share *sh = s->shares;
    while (sh && sh->id != share_id)
        sh = sh->next;
    if (held_fd >= 0)
        close(held_fd); /* ours to close in every case */
    if (!sh || count == 0 || first >= sh->count || count > sh->count - first)
        return -EINVAL;
    /* The last of it, with the caller's end of the owner pipe: another
     * process (a forked child) with a copy of the mapping keeps it, as
     * gntalloc's vma copies do; its own going ends the share then. */
    if (held_fd >= 0 && sh->owner_fd >= 0 && share_rest(sh, first, count)) {
        struct pollfd p = { .fd = sh->owner_fd, .events = POLLIN };
        if (poll(&p, 1, 0) == 0 || !(p.revents & POLLHUP))
            return 0;
    }
    for (uint32_t i = first; i < first + count; i++)
        share_revoke_page(s, sh, i);
    if (!sh->live)
        share_unlink_free(s, sh);
    return 0;
}

/* The last process with a copy of the share's mapping let it go (exit,
 * exec; anything else in the pipe is its own doing): gntalloc drops the
 * refs then, firing the unmap-notify. */
static void share_owner_gone(void *ctx, uint32_t events)
{
    struct share *sh = ctx;
    struct grant_sharer *s = sh->sharer;
    (void)events;
    for (uint32_t i = 0; i < sh->count; i++)
        share_revoke_page(s, sh, i);
    share_unlink_free(s, sh);
}

void grant_sharer_free(struct grant_sharer *s)
{
    if (!s)
        return;
    while (s->shares) {
        struct share *sh = s->shares;
        for (uint32_t i = 0; i < sh->count; i++)
            share_revoke_page(s, sh, i);
        share_unlink_free(s, sh);
    }
    grant_dom_put(s->g);
    free(s);
}

/* ---- mapper ---- */

int grant_mapper_new(uint32_t domid, struct grant_mapper **out)
{
    struct grant_dom *g = grant_dom_of(domid);
    if (!g)
        return -ESRCH;
    struct grant_mapper *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->domid = domid;
    m->g = g;
    g->refs++;
    m->next_id = 1;
    *out = m;
    return 0;
}

int grant_set_max(struct grant_mapper *m, uint32_t count)
{
    /* Linux's gntdev has no such ioctl since 4.x; Xen 4.17's library
     * takes its ENOTTY for success.  So it limits nothing. */
    (void)m;
    (void)count;
    return 0;
}

/* A writable grant's read-only reopen goes with its last read-only map. */
static void ro_reopen_drop(struct backing *b)
{
    if (!b->writable || b->ro_maps || b->rofd < 0)
        return;
    close(b->rofd);
    b->rofd = -1;
    fd_uncharge(b->ro_domid, 1);
}

static void item_put(struct map_item *it)
{
    struct grant_dom *g = it->g;
    if (it->ro_of_writable) {
        g->e[it->ref].b->ro_maps--;
        ro_reopen_drop(g->e[it->ref].b);
    }
    g->e[it->ref].maps--;
    entry_maybe_free(g, it->ref);
    grant_dom_put(g);
}

/* The descriptor a map of b gets.  A read-only map gets an O_RDONLY one,
 * so that it cannot be made writable (mprotect): Xen's read-only mapping
 * of a writable grant faults on a store too. */
static int fd_for(struct backing *b, bool writable, uint32_t mapper, int *fd)
{
    if (writable) {
        *fd = b->fd;
        return 0;
    }
    if (b->rofd < 0) {
        char path[64];
        int rc = b->writable ? fd_charge(mapper, 1, "read-only map") : 0;
        if (rc)
            return rc;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", b->fd);
        b->rofd = open(path, O_RDONLY | O_CLOEXEC);
        if (b->rofd < 0) {
            rc = -errno;
            if (b->writable)
                fd_uncharge(mapper, 1);
            return rc;
        }
        b->ro_domid = mapper;
    }
    *fd = b->rofd;
    return 0;
}

static void owner_unwatch(struct mapping *mp)
{
    if (mp->owner_fd < 0)
        return;
    loop_del(g_loop, mp->owner_fd);
    close(mp->owner_fd);
    fd_uncharge(mp->n.domid, 1); /* the mapper's domain */
    mp->owner_fd = -1;
}

/* The last write end of the owner's pipe closed: the mapping process is
 * gone (exit or exec), or let go of it. Anything else (data written into
 * the pipe, an error) is the owner's own doing and ends the watch too. */
static void on_owner_gone(void *ctx, uint32_t events)
{
    struct mapping *mp = ctx;
    (void)events;
    owner_unwatch(mp);
    notify_clear_byte(&mp->n);
}

/* Is fd fit to be a mapping's owner pipe (grant_map)? */
static int owner_check(int fd, uint32_t notify_offset)
{
    struct stat st;
    if (notify_offset >= XSP_PAGE_SIZE || !g_loop)
        return -EINVAL;
    if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
        return -EINVAL;
    return 0;
}

int grant_map(struct grant_mapper *m, uint32_t count,
              const struct xsp_grant_ref *refs, uint32_t how,
              uint32_t notify_offset, uint32_t notify_port, int owner_fd,
              uint64_t *map_id, struct xsp_map_page *pages, int *fds,
              unsigned *nfds)
{
    bool writable = how & XSP_MAP_WRITE;
    bool why = how & XSP_MAP_WHY;
    if (count == 0 || count > XSP_MAX_PAGES ||
        (how & ~(XSP_MAP_WRITE | XSP_MAP_WHY)))
        return -EINVAL;
    if (count > MAPTRACK_MAX - m->g->mapped)
        return -EINVAL; /* Xen's maptrack full: gntdev says EINVAL */
    /* Check every ref first: gntdev's map fails as a whole, with EINVAL;
     * the grant copy wants Xen's reason (XSP_MAP_WHY). */
    for (uint32_t i = 0; i < count; i++) {
        struct grant_dom *g = refs[i].domid < DOMID_FIRST_RESERVED
                                  ? grant_dom_of(refs[i].domid) : NULL;
        if (!g || g->dead)
            return why ? -ESRCH : -EINVAL;
        if (refs[i].ref >= g->cap)
            return why ? -ERANGE : -EINVAL;
        struct gentry *e = &g->e[refs[i].ref];
        if (e->state != ENTRY_ACTIVE || e->grantee != m->domid ||
            (writable && !e->writable))
            return why ? -EACCES : -EINVAL;
    }
    /* Clearing a byte needs a writable mapping (gntdev: EINVAL). */
    if (notify_offset < XSP_PAGE_SIZE && !writable)
        return -EINVAL;
    int rc = owner_fd >= 0 ? owner_check(owner_fd, notify_offset) : 0;
    if (rc)
        return rc;
    struct mapping *mp = calloc(1, sizeof(*mp));
    struct map_item *items = calloc(count, sizeof(*items));
    if (!mp || !items) {
        free(mp);
        free(items);
        return -ENOMEM;
    }
    mp->owner_fd = -1;
    if (owner_fd >= 0) {
        rc = fd_charge(m->domid, 1, "mapping owner pipe");
        if (!rc) {
            rc = loop_add(g_loop, owner_fd, EPOLLIN, on_owner_gone, mp);
            if (rc)
                fd_uncharge(m->domid, 1);
            else
                mp->owner_fd = owner_fd;
        }
    }
    unsigned n = 0;
    for (uint32_t i = 0; i < count && !rc; i++) {
        struct grant_dom *g = grant_dom_of(refs[i].domid);
        struct gentry *e = &g->e[refs[i].ref];
        int fd = -1;
        rc = fd_for(e->b, writable, m->domid, &fd);
        if (rc)
            break;
        /* Consecutive refs usually share a backing: look back a little. */
        unsigned k = n;
        for (unsigned j = n; j-- > 0 && n - j <= 4;)
            if (fds[j] == fd) {
                k = j;
                break;
            }
        if (k == n)
            fds[n++] = fd;
        pages[i].fd_index = k;
        pages[i].page = e->page;
    }
    if (!rc) {
        struct gentry *e0 = &grant_dom_of(refs[0].domid)->e[refs[0].ref];
        rc = notify_setup(&mp->n, m->domid, e0->b->fd, e0->page,
                          notify_offset, notify_port);
    }
    if (rc) {
        if (mp->owner_fd >= 0) { /* not ours to close: the caller's again */
            loop_del(g_loop, mp->owner_fd);
            fd_uncharge(m->domid, 1);
        }
        /* Reopens made for this map alone go again. */
        for (uint32_t i = 0; i < count && !writable; i++)
            ro_reopen_drop(grant_dom_of(refs[i].domid)->e[refs[i].ref].b);
        free(mp);
        free(items);
        return rc;
    }
    for (uint32_t i = 0; i < count; i++) {
        struct grant_dom *g = grant_dom_of(refs[i].domid);
        struct gentry *e = &g->e[refs[i].ref];
        e->maps++;
        g->refs++;
        items[i].g = g;
        items[i].ref = refs[i].ref;
        items[i].ro_of_writable = !writable && e->b->writable;
        if (items[i].ro_of_writable)
            e->b->ro_maps++;
    }
    mp->id = m->next_id++;
    mp->count = count;
    mp->items = items;
    mp->next = m->maps;
    m->maps = mp;
    m->g->mapped += count;
    *map_id = mp->id;
    *nfds = n;
    return 0;
}

/* Let a notify go without firing it. */
static void notify_drop(struct notify *n)
{
    if (n->page)
        munmap(n->page, XSP_PAGE_SIZE);
    n->page = NULL;
    evtchn_release(n->port);
    n->port = NULL;
}

static void mapping_free(struct grant_mapper *m, struct mapping *mp,
                         bool fire)
{
    owner_unwatch(mp);
    /* gntdev: notify first (the page is still mapped), then unmap. */
    if (fire)
        notify_fire(&mp->n);
    else
        notify_drop(&mp->n);
    for (uint32_t i = 0; i < mp->count; i++)
        item_put(&mp->items[i]);
    m->g->mapped -= mp->count;
    free(mp->items);
    free(mp);
}

static int unmap(struct grant_mapper *m, uint64_t map_id, bool fire)
{
    for (struct mapping **pp = &m->maps; *pp; pp = &(*pp)->next)
        if ((*pp)->id == map_id) {
            struct mapping *mp = *pp;
            *pp = mp->next;
            mapping_free(m, mp, fire);
            return 0;
        }
    return -EINVAL;
}

int grant_unmap(struct grant_mapper *m, uint64_t map_id)
{
    return unmap(m, map_id, true);
}

int grant_discard(struct grant_mapper *m, uint64_t map_id)
{
    return unmap(m, map_id, false);
}

void grant_mapper_free(struct grant_mapper *m)
{
    if (!m)
        return;
    while (m->maps) {
        struct mapping *mp = m->maps;
        m->maps = mp->next;
        mapping_free(m, mp, true);
    }
    grant_dom_put(m->g);
    free(m);
}

void grant_domain_destroyed(struct sim_domain *d)
{
    /* Close the domain's connections first: its shares are revoked and its
     * mappings dropped, with their notifies, while its ports still exist. */
    hypsock_domain_gone(d->domid);
    struct grant_dom *g = d->grants;
    if (!g)
        return;
    d->grants = NULL;
    /* Backings others still map stay open, charged to no one. */
    fd_uncharge(d->domid, g->fds);
    g->fds = 0;
    g->dead = true;
    grant_dom_put(g); /* others' mappings keep it until unmapped */
}
