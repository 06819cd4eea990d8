/* Unit tests: xensim's grant table (who may map what, read-only grants,
 * why a map is refused, limits, unshare while mapped, unmap-notify
 * bookkeeping, owner pipes). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "evtchn_table.h"
#include "fd_budget.h"
#include "grant_table.h"
#include "loop.h"
#include "tables_stub.h"

#define PG 4096u

struct fixture {
    struct grant_sharer *s1;            /* domain 1 shares */
    struct grant_mapper *m2, *m3;       /* domains 2 and 3 map */
};

static int setup(void **state)
{
    static struct fixture f;
    stub_domain_add(0, 0, 0);
    stub_domain_add(1, 0, 0);
    stub_domain_add(2, 0, 0);
    stub_domain_add(3, 1, 0); /* one grant frame: refs 8..511 */
    assert_int_equal(grant_sharer_new(1, &f.s1), 0);
    assert_int_equal(grant_mapper_new(2, &f.m2), 0);
    assert_int_equal(grant_mapper_new(3, &f.m3), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    grant_mapper_free(f->m2);
    grant_mapper_free(f->m3);
    grant_sharer_free(f->s1);
    stub_domains_reset();
    return 0;
}

/* A memfd of n pages, as the library makes it; *map gets our mapping. */
static int pages(uint32_t n, uint8_t **map)
{
    int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)n * PG), 0);
    *map = mmap(NULL, (size_t)n * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                0);
    assert_true(*map != MAP_FAILED);
    return fd;
}

/* how: XSP_MAP_* bits (true: writable). */
static int map1(struct grant_mapper *m, uint32_t dom, uint32_t ref,
                uint32_t how, uint64_t *id, int *fd, uint32_t *page)
{
    struct xsp_grant_ref r = { .domid = dom, .ref = ref };
    struct xsp_map_page pg;
    int fds[1];
    unsigned n = 0;
    int rc = grant_map(m, 1, &r, how, XSP_NO_NOTIFY_OFFSET, XSP_NO_NOTIFY_PORT,
                       -1, id, &pg, fds, &n);
    if (!rc) {
        assert_int_equal(n, 1);
        *fd = fds[pg.fd_index];
        *page = pg.page;
    }
    return rc;
}

static void test_share_and_map(void **state)
{
    struct fixture *f = *state;
    uint8_t *mine;
    int fd = pages(3, &mine);
    uint32_t refs[3];
    uint64_t sid;
    assert_int_equal(grant_share(f->s1, 2, 3, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, refs), 0);
    assert_true(refs[0] >= 8 && refs[0] != refs[1] && refs[1] != refs[2]);
    assert_int_equal(grant_refs_in_use(1), 3);
    memcpy(mine + PG, "page one", 9);

    uint64_t id;
    int bfd;
    uint32_t page;
    assert_int_equal(map1(f->m2, 1, refs[1], true, &id, &bfd, &page), 0);
    uint8_t *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, bfd,
                      (off_t)page * PG);
    assert_true(m != MAP_FAILED);
    assert_string_equal((char *)m, "page one");
    m[0] = 'P'; /* writable grant: the sharer sees it */
    assert_int_equal(mine[PG], 'P');
    munmap(m, PG);

    /* Not granted to domain 3; unknown ref; unknown domain. */
    assert_int_equal(map1(f->m3, 1, refs[1], false, &id, &bfd, &page),
                     -EINVAL);
    assert_int_equal(map1(f->m2, 1, 4000, false, &id, &bfd, &page), -EINVAL);
    assert_int_equal(map1(f->m2, 9, refs[1], false, &id, &bfd, &page),
                     -EINVAL);
    /* Several refs at once, coalesced into one fd. */
    struct xsp_grant_ref many[3] = { { 1, refs[0] }, { 1, refs[1] },
                                     { 1, refs[2] } };
    struct xsp_map_page pg[3];
    int fds[3];
    unsigned n = 0;
    uint64_t id2;
    assert_int_equal(grant_map(f->m2, 3, many, false, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id2, pg, fds, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pg[2].page, pg[0].page + 2);
    assert_int_equal(grant_unmap(f->m2, id2), 0);
    assert_int_equal(grant_unmap(f->m2, id2), -EINVAL);
    assert_int_equal(grant_unmap(f->m2, id), 0);
    munmap(mine, 3 * PG);
}

/* The grant copy's map (XSP_MAP_WHY) learns what Xen's copy would say:
 * ESRCH no such domain (GNTST_bad_domain), ERANGE a ref beyond the table
 * (GNTST_bad_gntref), EACCES not granted to us or read-only
 * (GNTST_general_error). An ordinary map says EINVAL for each. */
static void test_map_why(void **state)
{
    struct fixture *f = *state;
    uint8_t *mine, *mine2;
    int fd = pages(1, &mine);
    uint32_t rw, ro;
    uint64_t sid, id;
    int bfd;
    uint32_t page;
    const uint32_t why = XSP_MAP_WHY, wwhy = XSP_MAP_WHY | XSP_MAP_WRITE;
    assert_int_equal(grant_share(f->s1, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, &rw), 0);
    int fd2 = pages(1, &mine2);
    assert_int_equal(grant_share(f->s1, 2, 1, false, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd2, &sid, &ro), 0);
    assert_int_equal(map1(f->m2, 9, rw, why, &id, &bfd, &page), -ESRCH);
    assert_int_equal(map1(f->m2, 1, 1u << 30, why, &id, &bfd, &page),
                     -ERANGE);
    assert_int_equal(map1(f->m3, 1, rw, why, &id, &bfd, &page), -EACCES);
    /* In the table, never handed out. */
    assert_int_equal(map1(f->m2, 1, ro + 1, why, &id, &bfd, &page), -EACCES);
    assert_int_equal(map1(f->m2, 1, ro, wwhy, &id, &bfd, &page), -EACCES);
    /* Without the bit, as gntdev. */
    assert_int_equal(map1(f->m2, 9, rw, 0, &id, &bfd, &page), -EINVAL);
    assert_int_equal(map1(f->m2, 1, 1u << 30, 0, &id, &bfd, &page), -EINVAL);
    assert_int_equal(map1(f->m3, 1, rw, 0, &id, &bfd, &page), -EINVAL);
    /* An unknown bit is no request at all. */
    assert_int_equal(map1(f->m2, 1, rw, 4, &id, &bfd, &page), -EINVAL);
    /* What may be mapped still maps. */
    assert_int_equal(map1(f->m2, 1, rw, wwhy, &id, &bfd, &page), 0);
    assert_int_equal(grant_unmap(f->m2, id), 0);
    assert_int_equal(map1(f->m2, 1, ro, why, &id, &bfd, &page), 0);
    assert_int_equal(grant_unmap(f->m2, id), 0);
    munmap(mine, PG);
    munmap(mine2, PG);
}

static void test_read_only_grant(void **state)
{
    struct fixture *f = *state;
    uint8_t *mine;
    int fd = pages(1, &mine);
    uint32_t ref;
    uint64_t sid, id;
    assert_int_equal(grant_share(f->s1, 2, 1, false, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, &ref), 0);
    mine[0] = 'x'; /* the sharer keeps writing */
    int bfd;
    uint32_t page;
    assert_int_equal(map1(f->m2, 1, ref, true, &id, &bfd, &page), -EINVAL);
    assert_int_equal(map1(f->m2, 1, ref, false, &id, &bfd, &page), 0);
    assert_true(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0) ==
                MAP_FAILED);
    uint8_t *m = mmap(NULL, PG, PROT_READ, MAP_SHARED, bfd, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(m[0], 'x');
    assert_int_not_equal(mprotect(m, PG, PROT_READ | PROT_WRITE), 0);
    assert_true(write(bfd, "y", 1) < 0);
    /* Even a read-write reopen cannot write: the memfd is sealed. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", bfd);
    int rw = open(path, O_RDWR);
    if (rw >= 0) {
        assert_true(write(rw, "y", 1) < 0);
        assert_true(mmap(NULL, PG, PROT_WRITE, MAP_SHARED, rw, 0) ==
                    MAP_FAILED);
        close(rw);
    }
    munmap(m, PG);
    /* Clear-byte notify needs a writable mapping (gntdev: EINVAL). */
    struct xsp_grant_ref r = { 1, ref };
    struct xsp_map_page pg;
    int fds[1];
    unsigned n;
    assert_int_equal(grant_map(f->m2, 1, &r, false, 0, XSP_NO_NOTIFY_PORT, -1, &id,
                               &pg, fds, &n), -EINVAL);
    munmap(mine, PG);
}

static void test_limits(void **state)
{
    struct fixture *f = *state;
    struct grant_sharer *s3;
    assert_int_equal(grant_sharer_new(3, &s3), 0);
    uint8_t *mine;
    static uint32_t refs[600];
    uint64_t sid;
    int fd = pages(505, &mine);
    assert_int_equal(grant_share(s3, 2, 505, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, refs), -ENOSPC);
    assert_int_equal(grant_share(s3, 2, 504, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, refs), 0);
    assert_int_equal(refs[503], 511);
    /* set_max limits nothing, before or after a map (Linux's gntdev has
     * no such ioctl; Xen 4.17's library takes ENOTTY for success). */
    assert_int_equal(grant_set_max(f->m2, 2), 0);
    struct xsp_grant_ref r[3] = { { 3, refs[0] }, { 3, refs[1] },
                                  { 3, refs[2] } };
    struct xsp_map_page pg[3];
    int fds[3];
    unsigned n;
    uint64_t id, id2;
    assert_int_equal(grant_map(f->m2, 3, r, true, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id, pg, fds, &n), 0);
    assert_int_equal(grant_set_max(f->m2, 1), 0);
    assert_int_equal(grant_map(f->m2, 2, r, true, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id2, pg, fds, &n), 0);
    grant_unmap(f->m2, id);
    grant_unmap(f->m2, id2);
    /* Not a memfd: refused. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(grant_share(f->s1, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, p[0], &sid, refs), -EINVAL);
    close(p[0]);
    close(p[1]);
    /* Too small a memfd: refused. */
    uint8_t *one;
    int small = pages(1, &one);
    assert_int_equal(grant_share(f->s1, 2, 2, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, small, &sid, refs),
                     -EINVAL);
    close(small);
    munmap(one, PG);
    grant_sharer_free(s3);
    assert_int_equal(grant_refs_in_use(3), 0);
    munmap(mine, 505 * PG);
}

/* gntalloc's limit: 1024 pages shared at once per domain, whichever
 * process (handle) shares them; a revoked page frees its place. */
static void test_gntalloc_limit(void **state)
{
    struct fixture *f = *state;
    struct grant_sharer *s1b;
    static uint32_t refs[1024];
    uint64_t a, b, c;
    uint8_t *m1, *m2, *m3;
    int fd1 = pages(1000, &m1), fd2 = pages(24, &m2), fd3 = pages(1, &m3);
    assert_int_equal(grant_sharer_new(1, &s1b), 0);
    assert_int_equal(grant_share(f->s1, 2, 1000, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd1, &a, refs), 0);
    assert_int_equal(grant_share(s1b, 2, 24, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd2, &b, refs), 0);
    assert_int_equal(grant_share(s1b, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd3, &c, refs), -ENOSPC);
    assert_int_equal(grant_unshare(f->s1, a, 999, 1), 0);
    assert_int_equal(grant_share(s1b, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd3, &c, refs), 0);
    /* Another domain has its own. */
    struct grant_sharer *s2;
    uint8_t *m4;
    int fd4 = pages(1024, &m4);
    assert_int_equal(grant_sharer_new(2, &s2), 0);
    assert_int_equal(grant_share(s2, 1, 1024, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd4, &a, refs), 0);
    grant_sharer_free(s2);
    grant_sharer_free(s1b);
    munmap(m1, 1000 * PG);
    munmap(m2, 24 * PG);
    munmap(m3, PG);
    munmap(m4, 1024 * PG);
}

/* A domain maps at most its maptrack table's worth of pages at once, over
 * all its handles; past it a map fails as on Xen (EINVAL from gntdev). */
static void test_maptrack_limit(void **state)
{
    struct fixture *f = *state;
    static uint32_t refs[1024];
    static struct xsp_grant_ref r[1024];
    static struct xsp_map_page pg[1024];
    static int fds[1024];
    static uint64_t ids[256];
    struct grant_mapper *m2b;
    uint8_t *mine;
    uint64_t sid, id;
    unsigned n;
    int fd = pages(1024, &mine);
    assert_int_equal(grant_share(f->s1, 2, 1024, false, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, refs), 0);
    for (unsigned i = 0; i < 1024; i++)
        r[i] = (struct xsp_grant_ref){ 1, refs[i] };
    assert_int_equal(grant_mapper_new(2, &m2b), 0);
    /* 256 maps of 1024 pages fill it, on two handles. */
    for (unsigned i = 0; i < 256; i++)
        assert_int_equal(grant_map(i % 2 ? m2b : f->m2, 1024, r, false,
                                   XSP_NO_NOTIFY_OFFSET, XSP_NO_NOTIFY_PORT,
                                   -1, &ids[i], pg, fds, &n), 0);
    assert_int_equal(grant_map(m2b, 1, r, false, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id, pg, fds, &n),
                     -EINVAL);
    /* Domain 3's table is its own. */
    assert_int_equal(grant_map(f->m3, 1, r, false, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id, pg, fds, &n),
                     -EINVAL); /* not granted to it, but not full either */
    /* An unmap, or a handle's close, makes room. */
    assert_int_equal(grant_unmap(f->m2, ids[0]), 0);
    assert_int_equal(grant_map(m2b, 1024, r, false, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id, pg, fds, &n), 0);
    assert_int_equal(grant_map(f->m2, 1, r, false, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id, pg, fds, &n),
                     -EINVAL);
    grant_mapper_free(m2b);
    assert_int_equal(grant_map(f->m2, 1, r, false, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &id, pg, fds, &n), 0);
    /* The fixture's teardown frees f->m2 with its maps. */
    munmap(mine, 1024 * PG);
}

/* A read-only map of a writable grant gets a read-only descriptor (no
 * mprotect() makes it writable), charged to the mapping domain while its
 * read-only maps last. */
static void test_read_only_map_of_writable_grant(void **state)
{
    struct fixture *f = *state;
    uint8_t *mine;
    int fd = pages(1, &mine);
    uint32_t ref, page;
    uint64_t sid, id1, id2, id3;
    int fd1, fd2, fd3;
    int used = fd_budget_used(2);
    assert_int_equal(grant_share(f->s1, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, &ref), 0);
    assert_int_equal(map1(f->m2, 1, ref, true, &id1, &fd1, &page), 0);
    assert_int_equal(fd_budget_used(2), used);
    assert_int_equal(map1(f->m2, 1, ref, false, &id2, &fd2, &page), 0);
    assert_int_not_equal(fd1, fd2);
    assert_int_equal(fcntl(fd2, F_GETFL) & O_ACCMODE, O_RDONLY);
    assert_int_equal(fd_budget_used(2), used + 1);
    assert_int_equal(map1(f->m2, 1, ref, false, &id3, &fd3, &page), 0);
    assert_int_equal(fd3, fd2);
    assert_int_equal(fd_budget_used(2), used + 1);
    assert_int_equal(grant_unmap(f->m2, id2), 0);
    assert_int_equal(fd_budget_used(2), used + 1);
    assert_int_equal(grant_unmap(f->m2, id3), 0);
    assert_int_equal(fd_budget_used(2), used);
    assert_int_equal(fcntl(fd2, F_GETFD), -1); /* closed */
    assert_int_equal(grant_unmap(f->m2, id1), 0);
    assert_int_equal(grant_unshare(f->s1, sid, 0, 1), 0);
    munmap(mine, PG);
}

static void test_unshare_while_mapped(void **state)
{
    struct fixture *f = *state;
    uint8_t *mine;
    int fd = pages(2, &mine);
    uint32_t refs[2];
    uint64_t sid, id;
    assert_int_equal(grant_share(f->s1, 2, 2, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, refs), 0);
    int bfd;
    uint32_t page;
    assert_int_equal(map1(f->m2, 1, refs[0], true, &id, &bfd, &page), 0);
    uint8_t *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(grant_unshare(f->s1, sid, 0, 2), 0);
    munmap(mine, 2 * PG);
    /* The mapping keeps the page; the ref stays taken until unmapped, and
     * nobody can map it anew. */
    m[0] = 7;
    assert_int_equal(grant_refs_in_use(1), 1);
    uint64_t id2;
    assert_int_equal(map1(f->m2, 1, refs[0], true, &id2, &bfd, &page),
                     -EINVAL);
    assert_int_equal(grant_unmap(f->m2, id), 0);
    assert_int_equal(grant_refs_in_use(1), 0);
    munmap(m, PG);
    assert_int_equal(grant_unshare(f->s1, sid, 0, 1), -EINVAL);
}

/* The ref freed last is handed out first, as the guest kernel does
 * (Linux's LIFO free list); one still mapped when unshared goes on the
 * stack when its mapping goes. */
static void test_freed_last_reused_first(void **state)
{
    struct fixture *f = *state;
    uint8_t *mine;
    int fd = pages(3, &mine);
    uint32_t refs[3], again[3];
    uint64_t sid, sid2, id;
    assert_int_equal(grant_share(f->s1, 2, 3, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, refs), 0);
    int bfd;
    uint32_t page;
    assert_int_equal(map1(f->m2, 1, refs[1], true, &id, &bfd, &page), 0);
    /* Freed in the order refs[0], refs[2], then refs[1] with its map. */
    assert_int_equal(grant_unshare(f->s1, sid, 0, 1), 0);
    assert_int_equal(grant_unshare(f->s1, sid, 2, 1), 0);
    assert_int_equal(grant_unshare(f->s1, sid, 1, 1), 0);
    assert_int_equal(grant_unmap(f->m2, id), 0);
    close(bfd);
    assert_int_equal(grant_refs_in_use(1), 0);
    munmap(mine, 3 * PG);
    fd = pages(3, &mine);
    assert_int_equal(grant_share(f->s1, 2, 3, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid2, again), 0);
    assert_int_equal(again[0], refs[1]);
    assert_int_equal(again[1], refs[2]);
    assert_int_equal(again[2], refs[0]);
    munmap(mine, 3 * PG);
    /* Past the freed ones: never used refs, lowest first. */
    uint32_t more[2];
    uint64_t sid3;
    fd = pages(2, &mine);
    assert_int_equal(grant_share(f->s1, 2, 2, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid3, more), 0);
    assert_int_equal(more[0], refs[2] + 1);
    assert_int_equal(more[1], refs[2] + 2);
    munmap(mine, 2 * PG);
}

/* A channel 1<->2 whose ports carry the notifies: ports p1 (domain 1)
 * and p2, their pipes' read ends e1 and e2 (non-blocking), nothing
 * pending. */
struct chan12 {
    struct evtchn_handle *h1, *h2;
    int p1, p2, e1, e2;
};

static void chan12_open(struct chan12 *c)
{
    int fd;
    uint32_t bytes, max;
    char v;
    assert_int_equal(evtchn_handle_new(1, &c->h1, &fd, &bytes, &max), 0);
    close(fd);
    assert_int_equal(evtchn_handle_new(2, &c->h2, &fd, &bytes, &max), 0);
    close(fd);
    c->e1 = c->e2 = -1;
    c->p1 = evtchn_bind_unbound(c->h1, 2, &c->e1);
    c->p2 = evtchn_bind_interdomain(c->h2, 1, c->p1, &c->e2);
    assert_true(c->p1 > 0 && c->p2 > 0);
    /* The bind leaves p2 pending: empty it. */
    assert_int_equal(read(c->e2, &v, 1), 1);
    assert_int_equal(read(c->e2, &v, 1), -1);
}

static void chan12_close(struct chan12 *c)
{
    evtchn_handle_free(c->h1);
    evtchn_handle_free(c->h2);
    close(c->e1);
    close(c->e2);
}

static void test_unmap_notify(void **state)
{
    struct fixture *f = *state;
    struct chan12 c;
    chan12_open(&c);
    struct evtchn_handle *h2 = c.h2;
    int p1 = c.p1, p2 = c.p2, e1 = c.e1, e2 = c.e2;
    char v;

    uint8_t *mine;
    int mfd = pages(1, &mine);
    uint32_t ref;
    uint64_t sid, id;
    /* A port that is not ours cannot carry a notify. */
    assert_int_equal(grant_share(f->s1, 2, 1, true, 100, 999, mfd, &sid, &ref),
                     -EINVAL);
    assert_int_equal(grant_share(f->s1, 2, 1, false, 100, p1, mfd, &sid, &ref),
                     0);
    mine[100] = 1;
    mine[200] = 1;
    struct xsp_grant_ref r = { 1, ref };
    struct xsp_map_page pg;
    int fds[1];
    unsigned n;
    /* Read-only grant: the mapper may ask for an event, not a clear. */
    assert_int_equal(grant_map(f->m2, 1, &r, false, XSP_NO_NOTIFY_OFFSET, p2, -1,
                               &id, &pg, fds, &n), 0);
    /* Unmap: domain 1's port p1 gets the event. */
    assert_int_equal(grant_unmap(f->m2, id), 0);
    assert_int_equal(read(e1, &v, 1), 1);
    /* A discarded map (its library could not use it) fires nothing. */
    assert_int_equal(grant_map(f->m2, 1, &r, false, XSP_NO_NOTIFY_OFFSET, p2, -1,
                               &id, &pg, fds, &n), 0);
    assert_int_equal(grant_discard(f->m2, id), 0);
    assert_int_equal(read(e1, &v, 1), -1);
    assert_int_equal(grant_discard(f->m2, id), -EINVAL);
    /* Unshare: the sharer's byte is cleared (even on a read-only share) and
     * domain 2 gets the event. */
    assert_int_equal(grant_unshare(f->s1, sid, 0, 1), 0);
    assert_int_equal(mine[100], 0);
    assert_int_equal(mine[200], 1);
    assert_int_equal(read(e2, &v, 1), 1);

    /* Closing a mapper handle (process death) fires its notifies too, even
     * after the port was unbound. */
    int mfd2 = pages(1, &mine);
    assert_int_equal(grant_share(f->s1, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, mfd2, &sid, &ref), 0);
    struct grant_mapper *m;
    assert_int_equal(grant_mapper_new(2, &m), 0);
    r.ref = ref;
    assert_int_equal(grant_map(m, 1, &r, true, 300, p2, -1, &id, &pg, fds, &n), 0);
    mine[300] = 1;
    assert_int_equal(evtchn_unbind(h2, p2), 0);
    grant_mapper_free(m);
    assert_int_equal(mine[300], 0);
    assert_int_equal(read(e1, &v, 1), 1);
    grant_unshare(f->s1, sid, 0, 1);
    munmap(mine, PG);
    chan12_close(&c);
}

static void test_domain_destroy(void **state)
{
    struct fixture *f = *state;
    struct sim_domain *d4 = stub_domain_add(4, 0, 0);
    struct grant_sharer *s4;
    assert_int_equal(grant_sharer_new(4, &s4), 0);
    uint8_t *mine;
    int fd = pages(1, &mine);
    uint32_t ref;
    uint64_t sid, id;
    assert_int_equal(grant_share(s4, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, fd, &sid, &ref), 0);
    mine[0] = 42;
    int bfd;
    uint32_t page;
    assert_int_equal(map1(f->m2, 4, ref, true, &id, &bfd, &page), 0);
    unsigned calls = stub_domain_gone_calls;
    /* The sharer's connection closes (hypsock), then the hooks run. */
    grant_sharer_free(s4);
    grant_domain_destroyed(d4);
    evtchn_domain_destroyed(d4);
    assert_true(stub_domain_gone_calls > calls);
    munmap(mine, PG);
    /* The mapping held by domain 2 stays valid until unmapped. */
    uint8_t *m = mmap(NULL, PG, PROT_READ, MAP_SHARED, bfd, 0);
    assert_true(m != MAP_FAILED);
    assert_int_equal(m[0], 42);
    munmap(m, PG);
    assert_int_equal(grant_unmap(f->m2, id), 0);
}

static void loop_stop_cb(void *ctx)
{
    loop_stop(ctx);
}

/* One round of the daemon's loop: what is ready now, nothing more. */
static void loop_round(struct loop *l)
{
    assert_int_equal(loop_defer(l, loop_stop_cb, l), 0);
    assert_int_equal(loop_run(l), 0);
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* Linux PV's gntdev: the notify byte is cleared when the mapping process's
 * address space goes (here: its owner pipe hangs up), even while a forked
 * child holds the descriptor; the event only when the mapping ends. */
static void test_owner_pipe(void **state)
{
    struct fixture *f = *state;
    int ow[2], ow2[2];
    struct chan12 c;
    chan12_open(&c);
    int p2 = c.p2, e1 = c.e1;
    char v;

    uint8_t *mine;
    int mfd = pages(1, &mine);
    uint32_t ref;
    uint64_t sid, id;
    assert_int_equal(grant_share(f->s1, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                 XSP_NO_NOTIFY_PORT, mfd, &sid, &ref), 0);
    struct xsp_grant_ref r = { 1, ref };
    struct xsp_map_page pg;
    int fds[1];
    unsigned n;
    assert_int_equal(pipe2(ow, O_CLOEXEC), 0);
    struct loop *l = loop_new();
    assert_non_null(l);

    /* Refused, the fd left to the caller: no loop; no byte to clear;
     * not a pipe. */
    grant_table_init(NULL);
    assert_int_equal(grant_map(f->m2, 1, &r, true, 300, p2, ow[0], &id, &pg,
                               fds, &n), -EINVAL);
    grant_table_init(l);
    assert_int_equal(grant_map(f->m2, 1, &r, true, XSP_NO_NOTIFY_OFFSET, p2,
                               ow[0], &id, &pg, fds, &n), -EINVAL);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal(grant_map(f->m2, 1, &r, true, 300, p2, null, &id, &pg,
                               fds, &n), -EINVAL);
    close(null);
    assert_int_equal(grant_map(f->m2, 1, &r, true, 300, p2, mfd, &id, &pg,
                               fds, &n), -EINVAL);
    assert_true(fd_open(ow[0]));

    uint32_t used = fd_budget_used(2);
    mine[300] = 1;
    assert_int_equal(grant_map(f->m2, 1, &r, true, 300, p2, ow[0], &id, &pg,
                               fds, &n), 0);
    assert_int_equal(fd_budget_used(2), used + 1);
    loop_round(l);
    assert_int_equal(mine[300], 1);
    /* The process dies: the byte goes, the event waits, the pipe is
     * given back. */
    close(ow[1]);
    loop_round(l);
    assert_int_equal(mine[300], 0);
    assert_int_equal(read(e1, &v, 1), -1);
    assert_int_equal(fd_budget_used(2), used);
    /* Cleared once (gntdev drops the flag): the mapping's end only sends
     * the event. */
    mine[300] = 1;
    assert_int_equal(grant_unmap(f->m2, id), 0);
    assert_int_equal(mine[300], 1);
    assert_int_equal(read(e1, &v, 1), 1);

    /* A mapping ended while its process lives: byte and event at once,
     * the pipe given back; its later hang-up is nobody's. */
    assert_int_equal(pipe2(ow2, O_CLOEXEC), 0);
    assert_int_equal(grant_map(f->m2, 1, &r, true, 300, p2, ow2[0], &id, &pg,
                               fds, &n), 0);
    assert_int_equal(grant_unmap(f->m2, id), 0);
    assert_int_equal(mine[300], 0);
    assert_int_equal(read(e1, &v, 1), 1);
    assert_int_equal(fd_budget_used(2), used);
    close(ow2[1]);
    loop_round(l);

    /* A mapper handle closed with its owner alive: the same. */
    assert_int_equal(pipe2(ow2, O_CLOEXEC), 0);
    struct grant_mapper *m;
    assert_int_equal(grant_mapper_new(2, &m), 0);
    mine[300] = 1;
    assert_int_equal(grant_map(m, 1, &r, true, 300, p2, ow2[0], &id, &pg, fds,
                               &n), 0);
    grant_mapper_free(m);
    assert_int_equal(mine[300], 0);
    assert_int_equal(read(e1, &v, 1), 1);
    assert_int_equal(fd_budget_used(2), used);
    close(ow2[1]);
    loop_round(l);

    grant_table_init(NULL);
    loop_free(l);
    grant_unshare(f->s1, sid, 0, 1);
    munmap(mine, PG);
    chan12_close(&c);
}

/* A share with an owner pipe ends when the pipe's last write end closes
 * (its last mapping went: exit or exec), as by a whole unshare: refs
 * freed, the byte cleared, the grantee's port told, the charge back. */
static void test_share_owner_pipe(void **state)
{
    struct fixture *f = *state;
    struct chan12 c;
    chan12_open(&c);
    char v;
    uint8_t *mine;
    int mfd = pages(2, &mine), ow[2];
    uint32_t refs[2];
    uint64_t sid;
    struct loop *l = loop_new();
    assert_non_null(l);
    assert_int_equal(pipe2(ow, O_CLOEXEC), 0);
    /* No loop, or not a pipe: refused, the fd left to the caller. */
    grant_table_init(NULL);
    assert_int_equal(grant_share_owned(f->s1, 2, 2, true, 100, c.p1, mfd,
                                       ow[0], &sid, refs), -EINVAL);
    grant_table_init(l);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_int_equal(grant_share_owned(f->s1, 2, 2, true, 100, c.p1, mfd,
                                       null, &sid, refs), -EINVAL);
    close(null);
    assert_true(fd_open(ow[0]));
    int in_use = grant_refs_in_use(1);
    uint32_t used = fd_budget_used(1);
    assert_int_equal(grant_share_owned(f->s1, 2, 2, true, 100, c.p1, mfd,
                                       ow[0], &sid, refs), 0);
    assert_int_equal(grant_refs_in_use(1), in_use + 2);
    assert_int_equal(fd_budget_used(1), used + 2); /* memfd and pipe */
    mine[100] = 1;
    loop_round(l);
    assert_int_equal(mine[100], 1);
    /* Its last holder goes. */
    close(ow[1]);
    loop_round(l);
    assert_int_equal(mine[100], 0);
    assert_int_equal(read(c.e2, &v, 1), 1);
    assert_int_equal(grant_refs_in_use(1), in_use);
    assert_int_equal(fd_budget_used(1), used);
    assert_int_equal(grant_unshare(f->s1, sid, 0, 2), -EINVAL); /* gone */

    /* Unshared whole with the caller's end while another end is open (a
     * forked child's copy of the mapping): the share stays until that
     * end closes too; with no other end it goes at once. */
    assert_int_equal(pipe2(ow, O_CLOEXEC), 0);
    int child_end = dup(ow[1]);
    mfd = pages(2, &mine);
    assert_int_equal(grant_share_owned(f->s1, 2, 2, true, 100, c.p1, mfd,
                                       ow[0], &sid, refs), 0);
    mine[100] = 1;
    assert_int_equal(grant_unshare(f->s1, sid, 0, 1), 0); /* part: now */
    assert_int_equal(grant_unshare_held(f->s1, sid, 1, 1, ow[1]), 0);
    loop_round(l);
    assert_int_equal(mine[100], 0); /* page 0's notify fired with it */
    assert_int_equal(grant_refs_in_use(1), in_use + 1);
    close(child_end);
    loop_round(l);
    assert_int_equal(grant_refs_in_use(1), in_use);
    assert_int_equal(fd_budget_used(1), used);
    assert_int_equal(pipe2(ow, O_CLOEXEC), 0);
    mfd = pages(1, &mine);
    assert_int_equal(grant_share_owned(f->s1, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                       XSP_NO_NOTIFY_PORT, mfd, ow[0], &sid,
                                       refs), 0);
    assert_int_equal(grant_unshare_held(f->s1, sid, 0, 1, ow[1]), 0);
    assert_int_equal(grant_refs_in_use(1), in_use); /* at once */
    assert_int_equal(fd_budget_used(1), used);

    /* Unshared first: the pipe is let go with the share. */
    assert_int_equal(pipe2(ow, O_CLOEXEC), 0);
    mfd = pages(1, &mine);
    assert_int_equal(grant_share_owned(f->s1, 2, 1, true, XSP_NO_NOTIFY_OFFSET,
                                       XSP_NO_NOTIFY_PORT, mfd, ow[0], &sid,
                                       refs), 0);
    assert_int_equal(grant_unshare(f->s1, sid, 0, 1), 0);
    assert_false(fd_open(ow[0]));
    assert_int_equal(fd_budget_used(1), used);
    close(ow[1]);
    loop_round(l);

    grant_table_init(NULL);
    loop_free(l);
    munmap(mine, PG);
    chan12_close(&c);
}

/* Linked with -Wl,--wrap=fstat (tables.mk): stands in for a sharer's
 * other thread that shrinks the memfd just as the daemon checks its size. */
static int shrink_on_fstat = -1;
int __real_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st);
int __wrap_fstat(int fd, struct stat *st)
{
    int rc = __real_fstat(fd, st);
    if (fd == shrink_on_fstat)
        (void)!ftruncate(fd, 0);
    return rc;
}

static void test_share_size_race(void **state)
{
    struct fixture *f = *state;
    uint8_t *mine;
    int fd = pages(2, &mine);
    uint64_t id;
    uint32_t refs[2];
    struct stat st;
    shrink_on_fstat = fd;
    int rc = grant_share(f->s1, 2, 2, true, XSP_NO_NOTIFY_OFFSET,
                         XSP_NO_NOTIFY_PORT, fd, &id, refs);
    shrink_on_fstat = -1;
    /* Either refused, or granted pages that stay there: a grantee (and
     * the daemon, clearing a notify byte) must never fault on them. */
    if (rc == 0) {
        assert_int_equal(__real_fstat(fd, &st), 0);
        assert_true(st.st_size >= 2 * (off_t)PG);
        assert_int_equal(grant_unshare(f->s1, id, 0, 2), 0);
    } else {
        close(fd);
    }
    munmap(mine, 2 * PG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_share_and_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_why, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_grant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gntalloc_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maptrack_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_map_of_writable_grant,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_unshare_while_mapped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_freed_last_reused_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unmap_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_owner_pipe, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_domain_destroy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_size_race, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
