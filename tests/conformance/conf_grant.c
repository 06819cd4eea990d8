/* conf-grant: grant tables through the raw libxengnttab API.
 *
 *   conf-grant share    granter: shares two read-write pages and one
 *                       read-only page with data/conf/peer, publishes the refs
 *                       (readable by that peer only), checks what the peer
 *                       wrote and that the read-only page never changed.
 *                       Its handle's descriptor does not close on exec (the
 *                       grantee's does), as Xen 4.17's library opens them.
 *   conf-grant map      grantee: maps them from data/conf/peer, checks the
 *                       contents both ways, that the read-only grant can
 *                       neither be mapped writable nor written, and what
 *                       xengnttab_grant_copy() takes and refuses.
 *   conf-grant intrude  third domain: data/conf/target is the granter,
 *                       data/conf/refs the refs dom0 copied for it; mapping
 *                       or copying any of them must fail, reading the refs
 *                       node too.
 *
 * Page layout of the read-write pair: page 0 and the first half of page 1
 * carry the granter's pattern; the grantee writes its pattern into the rest
 * of page 1, then DONE_MAGIC into the last 8 bytes once all its checks ran. */
#include "conf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

#define PAGE 4096
#define B_OFF 2048
#define FLAG_OFF (PAGE - 8)
#define DONE_MAGIC 0x454e4f442d544e47ULL /* "GNT-DONE" */

static uint64_t seed_for(unsigned domid, unsigned what)
{
    return ((uint64_t)domid << 32) | (0x6772u << 8) | what;
}

static void pattern(void *dst, size_t n, unsigned domid, unsigned what)
{
    struct conf_prng p;

    conf_prng_seed(&p, seed_for(domid, what));
    conf_prng_fill(&p, dst, n);
}

static bool pattern_ok(const void *src, size_t n, unsigned domid, unsigned what)
{
    unsigned char *want = malloc(n);
    bool ok;

    if (!want)
        return false;
    pattern(want, n, domid, what);
    ok = memcmp(want, src, n) == 0;
    free(want);
    return ok;
}

/* Which ref a share gets once two were freed, first a then b: the guest
 * kernel picks it (Linux's grant table hands out the one freed last). */
/* Xen 4.17's libxengnttab opens gntdev with O_CLOEXEC and gntalloc
 * without it: a program exec'd by a child keeps a gntshr handle's
 * descriptor (vipc's hyp sets it close-on-exec itself). */
static void check_cloexec(int fd, bool want, const char *name)
{
    int fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;

    conf_check(fl >= 0 && !!(fl & FD_CLOEXEC) == want, name,
               "descriptor %d: flags %d, close-on-exec %s", fd, fl,
               want ? "expected" : "not expected");
}

static void check_ref_reuse(xengntshr_handle *xgs, unsigned peer)
{
    uint32_t a = 0, b = 0, c = 0;
    void *pa = xengntshr_share_pages(xgs, peer, 1, &a, 1);
    void *pb = xengntshr_share_pages(xgs, peer, 1, &b, 1);
    void *pc;

    if (pa)
        xengntshr_unshare(xgs, pa, 1);
    if (pb)
        xengntshr_unshare(xgs, pb, 1);
    pc = xengntshr_share_pages(xgs, peer, 1, &c, 1);
    conf_info("grant refs %u then %u freed, then %u handed out", a, b, c);
    conf_check(pa && pb && pc && c == b, "grant-freed-last-reused-first",
               "refs %u then %u freed, then %u handed out", a, b, c);
    if (pc)
        xengntshr_unshare(xgs, pc, 1);
}

static int role_share(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned peer = conf_peer(xs, "peer");
    xengntshr_handle *xgs = xengntshr_open(NULL, 0);
    uint32_t rw_refs[2], ro_ref;
    unsigned char *rw, *ro;
    volatile uint64_t *flag;
    struct xs_permissions perms[2] = {
        { .id = me, .perms = XS_PERM_NONE },
        { .id = peer, .perms = XS_PERM_READ },
    };
    char val[64];
    uint64_t end;

    if (!xgs)
        conf_die("xengntshr_open: %s", strerror(errno));
    check_cloexec(xengntshr_fd(xgs), false, "grant-gntshr-fd-not-cloexec");
    check_ref_reuse(xgs, peer);
    rw = xengntshr_share_pages(xgs, peer, 2, rw_refs, 1);
    if (!rw)
        conf_die("share 2 read-write pages with dom%u: %s", peer, strerror(errno));
    ro = xengntshr_share_pages(xgs, peer, 1, &ro_ref, 0);
    if (!ro)
        conf_die("share 1 read-only page with dom%u: %s", peer, strerror(errno));
    memset(rw, 0, 2 * PAGE);
    pattern(rw, PAGE + B_OFF, me, 1);
    pattern(ro, PAGE, me, 2);
    __sync_synchronize();
    conf_pass("grant-share");

    snprintf(val, sizeof(val), "%u %u %u", rw_refs[0], rw_refs[1], ro_ref);
    if (!conf_xs_publish(xs, "data/conf/grant-refs", val, perms, 2))
        conf_die("publish data/conf/grant-refs: %s", strerror(errno));
    conf_info("shared with dom%u: rw refs %u %u, ro ref %u", peer, rw_refs[0],
              rw_refs[1], ro_ref);
    conf_ready("grant-shared");

    /* The grantee's last act is the flag: everything it wrote is visible. */
    flag = (volatile uint64_t *)(rw + PAGE + FLAG_OFF);
    end = conf_now_ms() + (uint64_t)conf_timeout_ms();
    while (*flag != DONE_MAGIC && conf_now_ms() < end)
        conf_sleep_ms(10);
    __sync_synchronize();
    if (conf_check(*flag == DONE_MAGIC, "grant-peer-done",
                   "dom%u never set the done flag in the shared page", peer)) {
        conf_check(pattern_ok(rw + PAGE + B_OFF, FLAG_OFF - B_OFF, peer, 3),
                   "grant-rw-peer-write-seen",
                   "dom%u's writes did not reach the granted page intact", peer);
    }
    conf_check(pattern_ok(rw, PAGE + B_OFF, me, 1), "grant-rw-own-intact",
               "my part of the read-write pages changed");
    conf_check(pattern_ok(ro, PAGE, me, 2), "grant-ro-unchanged",
               "the read-only granted page was modified by someone");

    conf_wait_finish(xs);
    if (xengntshr_unshare(xgs, rw, 2) || xengntshr_unshare(xgs, ro, 1))
        conf_fail("grant-unshare", "%s", strerror(errno));
    xengntshr_close(xgs);
    xs_close(xs);
    return conf_done();
}

static bool read_refs(struct xs_handle *xs, const char *path, uint32_t refs[3])
{
    char *v = conf_xs_wait(xs, path, conf_timeout_ms());
    bool ok;

    if (!v)
        return false;
    ok = sscanf(v, "%u %u %u", &refs[0], &refs[1], &refs[2]) == 3;
    free(v);
    return ok;
}

static sigjmp_buf copy_jmp;

static void copy_faulted(int sig)
{
    siglongjmp(copy_jmp, sig);
}

/* One segment's xengnttab_grant_copy(), *rc and *err its result and errno;
 * returns the signal that stopped it inside this process (a library
 * copying with user pointers itself), or 0: a crash is a failed check,
 * not the end of the program. */
static int copy_guarded(xengnttab_handle *xgt,
                        xengnttab_grant_copy_segment_t *seg, int *rc, int *err)
{
    struct sigaction sa = { .sa_handler = copy_faulted }, old_segv, old_bus;
    int sig;

    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    *rc = 0;
    *err = 0;
    sig = sigsetjmp(copy_jmp, 1);
    if (!sig) {
        errno = 0;
        *rc = xengnttab_grant_copy(xgt, 1, seg);
        *err = errno;
    }
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    return sig;
}

/* Copies Xen refuses per segment: the call says 0, the status why. */
static void check_copy_status(xengnttab_handle *xgt,
                              xengnttab_grant_copy_segment_t *seg,
                              int16_t want, const char *test, const char *what)
{
    int rc;

    seg->status = 1;
    rc = xengnttab_grant_copy(xgt, 1, seg);
    conf_check(rc == 0 && seg->status == want, test,
               "a copy %s said %d (%s), status %d, expected status %d", what,
               rc, rc ? strerror(errno) : "-", seg->status, want);
}

/* A local address gntdev cannot take (get_user_pages): the call fails
 * with EFAULT, and the process lives on. */
static void check_copy_efault(xengnttab_handle *xgt,
                              xengnttab_grant_copy_segment_t *seg,
                              const char *test, const char *what)
{
    int rc, err, sig = copy_guarded(xgt, seg, &rc, &err);

    if (sig)
        conf_fail(test, "a copy %s was stopped by %s", what, strsignal(sig));
    else
        conf_check(rc == -1 && err == EFAULT, test,
                   "a copy %s said %d (%s), expected -1 (EFAULT)", what, rc,
                   strerror(err));
}

/* xengnttab_grant_copy(): gntdev refuses the whole call (EINVAL) for a
 * segment with no grant on either side or one crossing its granted page;
 * a copy out of a granted page finds what the mapping shows. Xen 4.17
 * gives each segment it refuses a status: GNTST_bad_domain for a domain
 * that does not exist, GNTST_bad_gntref for a ref beyond the granter's
 * table, GNTST_general_error for a write into a read-only grant (and for
 * a ref not granted to us: role_intrude). refs: the rw pair, then the ro. */
static void check_grant_copy(xengnttab_handle *xgt, unsigned peer,
                             const uint32_t refs[3],
                             const unsigned char *mapped)
{
    unsigned char a[64] = { 0 }, b[64] = { 0 };
    uint32_t ref = refs[0];
    xengnttab_grant_copy_segment_t seg = {
        .source.virt = a, .dest.virt = b, .len = sizeof(b),
    };
    unsigned char *none;
    int rc;

    errno = 0;
    rc = xengnttab_grant_copy(xgt, 1, &seg);
    conf_check(rc == -1 && errno == EINVAL, "grant-copy-local-refused",
               "a copy with no grant said %d (%s)", rc, strerror(errno));
    seg.flags = GNTCOPY_source_gref;
    seg.source.foreign.ref = ref;
    seg.source.foreign.domid = (uint16_t)peer;
    seg.source.foreign.offset = PAGE - 32;
    errno = 0;
    rc = xengnttab_grant_copy(xgt, 1, &seg);
    conf_check(rc == -1 && errno == EINVAL, "grant-copy-cross-page-refused",
               "a copy past its granted page said %d (%s)", rc,
               strerror(errno));
    seg.source.foreign.offset = 128;
    seg.status = 1;
    rc = xengnttab_grant_copy(xgt, 1, &seg);
    conf_check(rc == 0 && seg.status == GNTST_okay &&
               memcmp(b, mapped + 128, sizeof(b)) == 0, "grant-copy-from-grant",
               "a copy out of ref %u said %d, status %d%s", ref, rc,
               seg.status, rc == 0 && seg.status == GNTST_okay ?
               ", bytes differ from the mapping" : "");

    /* No table holds 2^30 v1 entries (64 frames of 512 by default). */
    seg.source.foreign.ref = 1u << 30;
    check_copy_status(xgt, &seg, GNTST_bad_gntref, "grant-copy-bad-ref",
                      "from a ref beyond the granter's table");
    seg.source.foreign.ref = ref;
    seg.source.foreign.domid = 32000;
    check_copy_status(xgt, &seg, GNTST_bad_domain, "grant-copy-bad-domain",
                      "from a domain that does not exist");

    seg = (xengnttab_grant_copy_segment_t){
        .flags = GNTCOPY_dest_gref, .source.virt = a, .len = sizeof(a),
        .dest.foreign = { .ref = refs[2], .domid = (uint16_t)peer },
    };
    check_copy_status(xgt, &seg, GNTST_general_error,
                      "grant-copy-into-ro-refused", "into a read-only grant");

    none = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (none == MAP_FAILED) {
        conf_fail("grant-copy-to-bad-local-efault", "mmap: %s",
                  strerror(errno));
        return;
    }
    seg = (xengnttab_grant_copy_segment_t){
        .flags = GNTCOPY_source_gref, .dest.virt = none + 64,
        .len = sizeof(a),
        .source.foreign = { .ref = ref, .domid = (uint16_t)peer },
    };
    check_copy_efault(xgt, &seg, "grant-copy-to-bad-local-efault",
                      "into an inaccessible local page");
    /* Into our own half of page 1: a checks that it holds our pattern. */
    seg = (xengnttab_grant_copy_segment_t){
        .flags = GNTCOPY_dest_gref, .source.virt = none + 64,
        .len = sizeof(a),
        .dest.foreign = { .ref = refs[1], .domid = (uint16_t)peer,
                          .offset = B_OFF },
    };
    check_copy_efault(xgt, &seg, "grant-copy-from-bad-local-efault",
                      "out of an inaccessible local page");
    munmap(none, PAGE);
}

static int role_map(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned peer = conf_peer(xs, "peer");
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    char path[96];
    uint32_t refs[3];
    unsigned char *rw, *ro, *bad;
    int sig;

    if (!xgt)
        conf_die("xengnttab_open: %s", strerror(errno));
    check_cloexec(xengnttab_fd(xgt), true, "grant-gnttab-fd-cloexec");
    snprintf(path, sizeof(path), "/local/domain/%u/data/conf/grant-refs", peer);
    if (!read_refs(xs, path, refs))
        conf_die("no refs readable at %s: %s", path, strerror(errno));

    rw = xengnttab_map_domain_grant_refs(xgt, 2, peer, refs, PROT_READ | PROT_WRITE);
    if (!conf_check(rw != NULL, "grant-map-rw", "map refs %u %u of dom%u: %s",
                    refs[0], refs[1], peer, strerror(errno)))
        conf_die("cannot go on without the read-write mapping");
    conf_check(pattern_ok(rw, PAGE + B_OFF, peer, 1), "grant-rw-content",
               "the mapped pages do not hold dom%u's pattern", peer);
    pattern(rw + PAGE + B_OFF, FLAG_OFF - B_OFF, me, 3);
    __sync_synchronize();

    /* A read-only grant must not become a writable mapping. */
    bad = xengnttab_map_grant_ref(xgt, peer, refs[2], PROT_READ | PROT_WRITE);
    if (!conf_check(bad == NULL, "grant-ro-map-writable-refused",
                    "ro ref %u mapped PROT_WRITE", refs[2])) {
        /* Try to write through it so that the granter's check sees it. */
        sig = conf_probe_write(bad, 0x5a);
        conf_info("write through the writable ro mapping: %s",
                  sig ? strsignal(sig) : "went through");
        xengnttab_unmap(xgt, bad, 1);
    }

    ro = xengnttab_map_grant_ref(xgt, peer, refs[2], PROT_READ);
    if (conf_check(ro != NULL, "grant-ro-map-read", "map ro ref %u PROT_READ: %s",
                   refs[2], strerror(errno))) {
        conf_check(pattern_ok(ro, PAGE, peer, 2), "grant-ro-content",
                   "the read-only page does not hold dom%u's pattern", peer);
        sig = conf_probe_write(ro + 100, 0xa5);
        conf_check(sig == SIGSEGV || sig == SIGBUS, "grant-ro-write-faults",
                   "a store to the read-only mapping %s",
                   sig ? strsignal(sig) : "went through");
        /* Asking the kernel for write access afterwards must not help. */
        if (mprotect(ro, PAGE, PROT_READ | PROT_WRITE) == 0) {
            sig = conf_probe_write(ro + 200, 0xa5);
            conf_check(sig != 0, "grant-ro-mprotect-write-faults",
                       "after mprotect(PROT_WRITE) a store went through");
            conf_info("mprotect(PROT_WRITE) on the ro mapping was allowed; the store %s",
                      sig ? strsignal(sig) : "went through");
        } else {
            conf_pass("grant-ro-mprotect-write-faults");
            conf_info("mprotect(PROT_WRITE) on the ro mapping refused: %s",
                      strerror(errno));
        }
        xengnttab_unmap(xgt, ro, 1);
    }

    check_grant_copy(xgt, peer, refs, rw);

    /* A ref number the granter never issued must not map. */
    bad = xengnttab_map_grant_ref(xgt, peer, refs[2] + 1000, PROT_READ);
    conf_check(bad == NULL, "grant-unissued-ref-refused",
               "ref %u (never issued by dom%u) mapped", refs[2] + 1000, peer);
    if (bad)
        xengnttab_unmap(xgt, bad, 1);

    *(volatile uint64_t *)(rw + PAGE + FLAG_OFF) = DONE_MAGIC;
    __sync_synchronize();
    conf_ready("grant-mapped");
    conf_wait_finish(xs);
    if (xengnttab_unmap(xgt, rw, 2))
        conf_fail("grant-unmap", "%s", strerror(errno));
    xengnttab_close(xgt);
    xs_close(xs);
    return conf_done();
}

static int role_intrude(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned target = conf_peer(xs, "target");
    xengnttab_handle *xgt = xengnttab_open(NULL, 0);
    char path[96], *v;
    uint32_t refs[3];
    unsigned mapped = 0, copied = 0;

    if (!xgt)
        conf_die("xengnttab_open: %s", strerror(errno));
    if (!read_refs(xs, "data/conf/refs", refs))
        conf_die("dom0 gave no refs in data/conf/refs");

    snprintf(path, sizeof(path), "/local/domain/%u/data/conf/grant-refs", target);
    v = xs_read(xs, XBT_NULL, path, NULL);
    conf_check(!v && errno == EACCES, "grant-third-refs-unreadable",
               "read %s: %s", path, v ? "allowed" : strerror(errno));
    free(v);

    for (int i = 0; i < 3; i++) {
        void *p = xengnttab_map_grant_ref(xgt, target, refs[i], PROT_READ);

        if (p) {
            conf_info("mapped dom%u's ref %u (granted to another domain)", target, refs[i]);
            xengnttab_unmap(xgt, p, 1);
            mapped++;
        }
    }
    conf_check(mapped == 0, "grant-third-map-refused",
               "%u of dom%u's 3 refs mapped by a domain they were not granted to",
               mapped, target);

    /* Xen's copy: a ref granted to another domain is GNTST_general_error. */
    for (int i = 0; i < 3; i++) {
        unsigned char buf[64] = { 0 }, zero[64] = { 0 };
        xengnttab_grant_copy_segment_t seg = {
            .flags = GNTCOPY_source_gref, .dest.virt = buf,
            .len = sizeof(buf), .status = 1,
            .source.foreign = { .ref = refs[i], .domid = (uint16_t)target },
        };
        int rc = xengnttab_grant_copy(xgt, 1, &seg);

        if (rc || seg.status != GNTST_general_error ||
            memcmp(buf, zero, sizeof(buf))) {
            conf_info("copy out of dom%u's ref %u: said %d (%s), status %d%s",
                      target, refs[i], rc, rc ? strerror(errno) : "-",
                      seg.status,
                      memcmp(buf, zero, sizeof(buf)) ? ", bytes came" : "");
            copied++;
        }
    }
    conf_check(copied == 0, "grant-third-copy-refused",
               "%u of dom%u's 3 refs not refused GNTST_general_error to a "
               "copy by a domain they were not granted to", copied, target);
    xengnttab_close(xgt);
    xs_close(xs);
    return conf_done();
}

int main(int argc, char **argv)
{
    conf_init(argv[0]);
    if (argc == 2 && !strcmp(argv[1], "share"))
        return role_share();
    if (argc == 2 && !strcmp(argv[1], "map"))
        return role_map();
    if (argc == 2 && !strcmp(argv[1], "intrude"))
        return role_intrude();
    fprintf(stderr, "usage: %s share|map|intrude\n", argv[0]);
    return 2;
}
