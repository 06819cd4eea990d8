/* Unit tests: the daemon's per-domain descriptor budget (fd_budget.h):
 * ports and shares charge their domain, a charge over budget fails with
 * EMFILE and is logged once, releasing gives room back, a destroyed
 * domain's count is zero, and an accept out of descriptors leaves no
 * pending connection behind. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "evtchn_table.h"
#include "fd_accept.h"
#include "fd_budget.h"
#include "grant_table.h"
#include "tables_stub.h"

#define PG 4096u

struct fixture {
    struct evtchn_handle *h1, *h2;
    struct grant_sharer *s1;
    struct grant_mapper *m2;
};

static int setup(void **state)
{
    static struct fixture f;
    stub_domain_add(0, 0, 0);
    /* Guests 1 and 2 with a budget of 3 descriptors each. */
    stub_domain_add(1, 0, 0);
    stub_domain_add(2, 0, 0);
    fd_budget_domain_set(1, "one", 3);
    fd_budget_domain_set(2, "two", 3);
    int fd;
    uint32_t bytes, max;
    assert_int_equal(evtchn_handle_new(1, &f.h1, &fd, &bytes, &max), 0);
    close(fd);
    assert_int_equal(evtchn_handle_new(2, &f.h2, &fd, &bytes, &max), 0);
    close(fd);
    assert_int_equal(grant_sharer_new(1, &f.s1), 0);
    assert_int_equal(grant_mapper_new(2, &f.m2), 0);
    /* Handles hold no descriptor: the generation page is only mapped. */
    assert_int_equal(fd_budget_used(1), 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    grant_mapper_free(f->m2);
    grant_sharer_free(f->s1);
    evtchn_handle_free(f->h1);
    evtchn_handle_free(f->h2);
    stub_domains_reset();
    return 0;
}

static int port_new(struct evtchn_handle *h)
{
    int rfd = -1;
    int port = evtchn_bind_unbound(h, 0, &rfd);
    if (port > 0)
        close(rfd);
    else
        assert_int_equal(rfd, -1);
    return port;
}

static int memfd(void)
{
    int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, PG), 0);
    return fd;
}

static int share(struct grant_sharer *s, bool writable, uint64_t *id,
                 uint32_t *ref)
{
    int fd = memfd();
    int rc = grant_share(s, 2, 1, writable, XSP_NO_NOTIFY_OFFSET,
                         XSP_NO_NOTIFY_PORT, fd, id, ref);
    if (rc)
        close(fd); /* not taken */
    return rc;
}

/* Run fn with stderr going to a file; returns what it wrote. */
static char *capture_stderr(void (*fn)(void *), void *ctx)
{
    static char buf[4096];
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(tmp), 2) >= 0);
    fn(ctx);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, tmp);
    buf[n] = '\0';
    fclose(tmp);
    return buf;
}

static void over_budget_twice(void *ctx)
{
    struct fixture *f = ctx;
    assert_int_equal(port_new(f->h1), -EMFILE);
    assert_int_equal(port_new(f->h1), -EMFILE);
}

static void test_ports(void **state)
{
    struct fixture *f = *state;
    int p[3];
    for (int i = 0; i < 3; i++)
        assert_true((p[i] = port_new(f->h1)) > 0);
    assert_int_equal(fd_budget_used(1), 3);
    /* Over budget: EMFILE, one log line naming the domain and budget for
     * two refusals. */
    char *log = capture_stderr(over_budget_twice, f);
    assert_non_null(strstr(log, "domain 1 (one)"));
    assert_non_null(strstr(log, "max_fds=3"));
    assert_ptr_equal(strchr(log, '\n'), log + strlen(log) - 1);
    /* Another domain is not affected. */
    assert_true(port_new(f->h2) > 0);
    assert_int_equal(fd_budget_used(2), 1);
    /* Unbinding gives room back. */
    assert_int_equal(evtchn_unbind(f->h1, (uint32_t)p[1]), 0);
    assert_int_equal(fd_budget_used(1), 2);
    assert_true(port_new(f->h1) > 0);
    assert_int_equal(fd_budget_used(1), 3);
    /* So does closing the handle. */
    evtchn_handle_free(f->h1);
    f->h1 = NULL;
    assert_int_equal(fd_budget_used(1), 0);
}

static void test_ports_enospc_first(void **state)
{
    (void)state;
    /* Xen's own limit is checked first: ENOSPC, not EMFILE. */
    stub_domain_add(5, 0, 1);
    fd_budget_domain_set(5, "five", 1);
    struct evtchn_handle *h;
    int fd;
    uint32_t bytes, max;
    assert_int_equal(evtchn_handle_new(5, &h, &fd, &bytes, &max), 0);
    close(fd);
    assert_true(port_new(h) > 0);
    assert_int_equal(port_new(h), -ENOSPC);
    evtchn_handle_free(h);
    assert_int_equal(fd_budget_used(5), 0);
}

static void test_shares(void **state)
{
    struct fixture *f = *state;
    uint64_t w, ro, x;
    uint32_t ref_w, ref_ro, ref_x;
    assert_int_equal(share(f->s1, true, &w, &ref_w), 0);
    assert_int_equal(fd_budget_used(1), 1);
    /* Read-only: the memfd and its read-only reopen. */
    assert_int_equal(share(f->s1, false, &ro, &ref_ro), 0);
    assert_int_equal(fd_budget_used(1), 3);
    assert_int_equal(share(f->s1, true, &x, &ref_x), -EMFILE);
    assert_int_equal(grant_refs_in_use(1), 2);
    /* Mapping charges nobody: the reopen was charged at share. */
    struct xsp_grant_ref r = { .domid = 1, .ref = ref_ro };
    struct xsp_map_page pg;
    int fds[1];
    unsigned n = 0;
    uint64_t mid;
    assert_int_equal(grant_map(f->m2, 1, &r, false, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &mid, &pg, fds, &n), 0);
    assert_int_equal(fd_budget_used(1), 3);
    assert_int_equal(fd_budget_used(2), 0);
    /* Unshared but still mapped: the daemon still holds the memfd. */
    assert_int_equal(grant_unshare(f->s1, ro, 0, 1), 0);
    assert_int_equal(fd_budget_used(1), 3);
    assert_int_equal(grant_unmap(f->m2, mid), 0);
    assert_int_equal(fd_budget_used(1), 1);
    assert_int_equal(share(f->s1, true, &x, &ref_x), 0);
    assert_int_equal(fd_budget_used(1), 2);
    grant_sharer_free(f->s1);
    f->s1 = NULL;
    assert_int_equal(fd_budget_used(1), 0);
}

static void test_destroy(void **state)
{
    struct fixture *f = *state;
    struct sim_domain *d4 = stub_domain_add(4, 0, 0);
    fd_budget_domain_set(4, "four", 8);
    struct evtchn_handle *h4;
    struct grant_sharer *s4;
    int fd;
    uint32_t bytes, max;
    assert_int_equal(evtchn_handle_new(4, &h4, &fd, &bytes, &max), 0);
    close(fd);
    assert_int_equal(grant_sharer_new(4, &s4), 0);
    assert_true(port_new(h4) > 0);
    uint64_t sid, mid;
    uint32_t ref;
    assert_int_equal(share(s4, true, &sid, &ref), 0);
    assert_int_equal(fd_budget_used(4), 2);
    /* Domain 2 maps it, so the memfd outlives domain 4. */
    struct xsp_grant_ref r = { .domid = 4, .ref = ref };
    struct xsp_map_page pg;
    int fds[1];
    unsigned n = 0;
    assert_int_equal(grant_map(f->m2, 1, &r, true, XSP_NO_NOTIFY_OFFSET,
                               XSP_NO_NOTIFY_PORT, -1, &mid, &pg, fds, &n), 0);
    /* As the daemon destroys it: connections first, then the hooks. */
    grant_sharer_free(s4);
    evtchn_handle_free(h4);
    assert_int_equal(fd_budget_used(4), 1);
    grant_domain_destroyed(d4);
    evtchn_domain_destroyed(d4);
    assert_int_equal(fd_budget_domain_gone(4), 0);
    /* The late unmap charges no one (no other domain). */
    assert_int_equal(grant_unmap(f->m2, mid), 0);
    assert_int_equal(fd_budget_used(2), 0);
    /* Not counted, no budget. */
    assert_int_equal(fd_charge(77, 1000, "test"), 0);
    assert_int_equal(fd_budget_used(77), 0);
    fd_uncharge(77, 1000);
}

static void test_accept_out_of_fds(void **state)
{
    (void)state;
    assert_int_equal(fd_budget_init(), 0);
    assert_true(fd_budget_default() >= 64);
    assert_int_equal(fd_accept_init(), 0);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "fdb-test-%d",
             (int)getpid());
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                strlen(sa.sun_path + 1));
    assert_int_equal(bind(l, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(listen(l, 8), 0);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, len), 0);

    /* Use up every descriptor. */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int held[64], nheld = 0, x;
    while (nheld < 64 && (x = dup(l)) >= 0)
        held[nheld++] = x;
    assert_int_equal(dup(l), -1);
    assert_int_equal(errno, EMFILE);
    /* The pending connection is taken with the spare and closed: the
     * listener is no longer readable (no busy loop), and the next accept
     * finds nothing. */
    assert_int_equal(fd_accept(l, "test"), -ECONNABORTED);
    struct pollfd pfd = { .fd = l, .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 0), 0);
    assert_int_equal(fd_accept(l, "test"), -EAGAIN);
    /* The spare is back: still out of descriptors. */
    assert_int_equal(dup(l), -1);
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    /* The client sees its connection closed. */
    char b;
    assert_int_equal(recv(c, &b, 1, 0), 0);
    close(c);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ports_enospc_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy, setup, teardown),
        cmocka_unit_test(test_accept_out_of_fds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
