/* gnttab-sim: xensim's drop-in libxengnttab (xengnttab_* and xengntshr_*)
 * against the daemon, for real (cmocka). Runs in dom0 of a private xensim
 * host (gnttab-sim.sh), where the library path loads the drop-in; every
 * grant is dom0's to itself.
 *
 * - Closing a handle leaves the address space alone, as Linux's close()
 *   does: a region the program let go of with a bare munmap() (as
 *   libxenvchan does with its rings) and whose addresses were mapped again
 *   since keeps its new mapping; one still mapped stays usable until
 *   munmap().
 * - A map takes as many refs as Linux's gntdev (its "limit", 64 Ki), more
 *   than one daemon request carries; 0 or more than the limit is EINVAL.
 *   A map that fails leaves no ref mapped; an unmap releases them all.
 * - xengntshr_unshare() of no pages fails with munmap()'s EINVAL. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <xengnttab.h>

#define PAGE 4096u
/* Linux 6.1 gntdev's default "limit": the most refs one map may take. */
#define GNTDEV_LIMIT (64u * 1024)
/* More than the daemon takes in one request (XSP_MAX_PAGES, 8000). */
#define OVER_ONE_REQUEST 9000u

/* Whether [p, p + len) is all mapped: mincore() fails on a hole. */
static bool mapped(void *p, size_t len)
{
    unsigned char vec[16];
    return len <= sizeof(vec) * PAGE && mincore(p, len, vec) == 0;
}

/* A fresh private mapping of 2 pages exactly at want (no other place),
 * its first byte 42. */
static uint8_t *remap_at(void *want)
{
    uint8_t *p = mmap(want, 2 * PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
                      0);
    assert_true(p == want);
    p[0] = 42;
    return p;
}

static void test_gntshr_close_leaves_reused_range(void **state)
{
    (void)state;
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    assert_non_null(s);
    uint32_t refs[2];
    uint8_t *sp = xengntshr_share_pages(s, 0, 2, refs, 1);
    assert_non_null(sp);
    assert_int_equal(munmap(sp, 2 * PAGE), 0); /* as libxenvchan_close */
    uint8_t *other = remap_at(sp);
    assert_int_equal(xengntshr_close(s), 0);
    assert_true(mapped(other, 2 * PAGE));
    assert_int_equal(other[0], 42);
    assert_int_equal(munmap(other, 2 * PAGE), 0);
}

static void test_gnttab_close_leaves_reused_range(void **state)
{
    (void)state;
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    xengnttab_handle *t = xengnttab_open(NULL, 0);
    assert_non_null(s);
    assert_non_null(t);
    uint32_t refs[2];
    uint8_t *sp = xengntshr_share_pages(s, 0, 2, refs, 1);
    assert_non_null(sp);
    uint8_t *mp = xengnttab_map_domain_grant_refs(t, 2, 0, refs,
                                                  PROT_READ | PROT_WRITE);
    assert_non_null(mp);
    assert_int_equal(munmap(mp, 2 * PAGE), 0);
    uint8_t *other = remap_at(mp);
    assert_int_equal(xengnttab_close(t), 0);
    assert_true(mapped(other, 2 * PAGE));
    assert_int_equal(other[0], 42);
    assert_int_equal(munmap(other, 2 * PAGE), 0);
    assert_int_equal(xengntshr_unshare(s, sp, 2), 0);
    assert_int_equal(xengntshr_close(s), 0);
}

/* A mapping and a share still mapped at close stay usable, the same
 * memory, until the program unmaps them. */
static void test_close_leaves_live_regions(void **state)
{
    (void)state;
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    xengnttab_handle *t = xengnttab_open(NULL, 0);
    assert_non_null(s);
    assert_non_null(t);
    uint32_t ref;
    uint8_t *sp = xengntshr_share_pages(s, 0, 1, &ref, 1);
    assert_non_null(sp);
    uint8_t *mp = xengnttab_map_grant_ref(t, 0, ref, PROT_READ | PROT_WRITE);
    assert_non_null(mp);
    assert_int_equal(xengnttab_close(t), 0);
    assert_true(mapped(mp, PAGE));
    sp[7] = 0x5a;
    assert_int_equal(mp[7], 0x5a);
    mp[8] = 0x66;
    assert_int_equal(sp[8], 0x66);
    assert_int_equal(xengntshr_close(s), 0);
    assert_true(mapped(sp, PAGE));
    sp[9] = 0x77;
    assert_int_equal(mp[9], 0x77);
    assert_int_equal(munmap(mp, PAGE), 0);
    assert_int_equal(munmap(sp, PAGE), 0);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Unshare the n pages at sp and share n again: the kernel hands out the
 * refs freed last first, so the same refs come back only if nothing
 * still maps them. Returns the new share; refs gets its refs. */
static uint8_t *reshare(xengntshr_handle *s, uint8_t *sp, uint32_t n,
                        uint32_t *refs)
{
    uint32_t was[8], now[8];
    assert_true(n <= 8);
    memcpy(was, refs, n * sizeof(*refs));
    assert_int_equal(xengntshr_unshare(s, sp, n), 0);
    sp = xengntshr_share_pages(s, 0, (int)n, refs, 1);
    assert_non_null(sp);
    memcpy(now, refs, n * sizeof(*refs));
    qsort(was, n, sizeof(*was), cmp_u32);
    qsort(now, n, sizeof(*now), cmp_u32);
    assert_memory_equal(was, now, n * sizeof(*was));
    return sp;
}

/* Page i of a 4-page share says i + 1. */
static void mark(uint8_t *sp)
{
    for (uint32_t i = 0; i < 4; i++)
        sp[i * PAGE] = (uint8_t)(i + 1);
}

static void test_map_as_many_refs_as_gntdev(void **state)
{
    (void)state;
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    xengnttab_handle *t = xengnttab_open(NULL, 0);
    assert_non_null(s);
    assert_non_null(t);
    uint32_t refs[4];
    uint8_t *sp = xengntshr_share_pages(s, 0, 4, refs, 1);
    assert_non_null(sp);
    mark(sp);
    /* One ref may be mapped many times over: 4 pages, over and over. */
    uint32_t *many = malloc((GNTDEV_LIMIT + 1) * sizeof(*many));
    assert_non_null(many);
    for (uint32_t i = 0; i <= GNTDEV_LIMIT; i++)
        many[i] = refs[i % 4];

    errno = 0;
    assert_null(xengnttab_map_domain_grant_refs(t, 0, 0, many, PROT_READ));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(xengnttab_map_domain_grant_refs(t, GNTDEV_LIMIT + 1, 0, many,
                                                PROT_READ));
    assert_int_equal(errno, EINVAL);

    uint8_t *mp = xengnttab_map_domain_grant_refs(t, OVER_ONE_REQUEST, 0,
                                                  many, PROT_READ);
    if (!mp)
        fail_msg("map of %u refs: %s", OVER_ONE_REQUEST, strerror(errno));
    const uint32_t probe[] = { 0, 1, 7999, 8000, 8001, 8998, 8999 };
    for (size_t i = 0; i < sizeof(probe) / sizeof(probe[0]); i++)
        assert_int_equal(mp[(size_t)probe[i] * PAGE], probe[i] % 4 + 1);
    errno = 0;
    assert_int_equal(xengnttab_unmap(t, mp, 8000), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xengnttab_unmap(t, mp, OVER_ONE_REQUEST), 0);
    sp = reshare(s, sp, 4, refs); /* nothing left mapped */

    /* A bad ref in a later request: the whole map fails, the requests
     * before it undone. */
    for (uint32_t i = 0; i < OVER_ONE_REQUEST; i++)
        many[i] = refs[i % 4];
    many[8500] = 3; /* a reserved ref, never granted */
    errno = 0;
    assert_null(xengnttab_map_domain_grant_refs(t, OVER_ONE_REQUEST, 0, many,
                                                PROT_READ));
    assert_int_equal(errno, EINVAL);
    sp = reshare(s, sp, 4, refs);

    /* The limit itself. */
    mark(sp);
    for (uint32_t i = 0; i < GNTDEV_LIMIT; i++)
        many[i] = refs[i % 4];
    mp = xengnttab_map_domain_grant_refs(t, GNTDEV_LIMIT, 0, many,
                                         PROT_READ);
    if (!mp)
        fail_msg("map of %u refs: %s", GNTDEV_LIMIT, strerror(errno));
    assert_int_equal(mp[(size_t)(GNTDEV_LIMIT - 1) * PAGE], 4);
    assert_int_equal(xengnttab_unmap(t, mp, GNTDEV_LIMIT), 0);
    sp = reshare(s, sp, 4, refs);

    free(many);
    assert_int_equal(xengntshr_unshare(s, sp, 4), 0);
    assert_int_equal(xengnttab_close(t), 0);
    assert_int_equal(xengntshr_close(s), 0);
}

/* Xen 4.17's unshare is munmap(addr, count * page): no length, EINVAL. */
static void test_unshare_nothing_is_einval(void **state)
{
    (void)state;
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    xengnttab_handle *t = xengnttab_open(NULL, 0);
    assert_non_null(s);
    assert_non_null(t);
    uint32_t refs[2];
    uint8_t *sp = xengntshr_share_pages(s, 0, 2, refs, 1);
    assert_non_null(sp);
    errno = 0;
    assert_int_equal(xengntshr_unshare(s, sp, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(xengntshr_unshare(s, sp + PAGE, 0), -1);
    assert_int_equal(errno, EINVAL);
    /* Still shared, and still ours. */
    uint8_t *mp = xengnttab_map_domain_grant_refs(t, 2, 0, refs, PROT_READ);
    assert_non_null(mp);
    assert_int_equal(xengnttab_unmap(t, mp, 2), 0);
    assert_true(mapped(sp, 2 * PAGE));
    assert_int_equal(xengntshr_unshare(s, sp, 2), 0);
    assert_int_equal(xengnttab_close(t), 0);
    assert_int_equal(xengntshr_close(s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gntshr_close_leaves_reused_range),
        cmocka_unit_test(test_gnttab_close_leaves_reused_range),
        cmocka_unit_test(test_close_leaves_live_regions),
        cmocka_unit_test(test_map_as_many_refs_as_gntdev),
        cmocka_unit_test(test_unshare_nothing_is_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
