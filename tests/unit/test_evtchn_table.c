/* Unit tests: xensim's event-channel table (who may bind what, states after
 * close, limits, holds for unmap-notify, the generation page). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xen/event_channel.h>
#include <xen/xen.h>

#include "evtchn_table.h"
#include "tables_stub.h"

struct fixture {
    struct evtchn_handle *h[4]; /* one handle per domain 0..3 */
    const uint32_t *gen[4];
    size_t gen_bytes[4];
};

static int setup(void **state)
{
    static struct fixture f;
    stub_domain_add(0, 0, 0);
    stub_domain_add(1, 0, 0);
    stub_domain_add(2, 0, 0);
    stub_domain_add(3, 0, 4); /* tiny: 4 ports */
    for (uint32_t d = 0; d < 4; d++) {
        int fd;
        uint32_t bytes, max;
        assert_int_equal(evtchn_handle_new(d, &f.h[d], &fd, &bytes, &max), 0);
        assert_int_equal(max, d == 3 ? 4u : 1023u);
        assert_true(bytes >= (max + 1) * sizeof(uint32_t));
        void *m = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
        assert_true(m != MAP_FAILED);
        /* The page is read-only for the library: no writable mapping. */
        assert_true(mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                         0) == MAP_FAILED);
        close(fd);
        f.gen[d] = m;
        f.gen_bytes[d] = bytes;
    }
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int d = 0; d < 4; d++) {
        evtchn_handle_free(f->h[d]);
        munmap((void *)f->gen[d], f->gen_bytes[d]);
    }
    stub_domains_reset();
    return 0;
}

static int efd(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(fd >= 0);
    return fd;
}

static uint32_t status_of(uint32_t dom, uint32_t port,
                          struct xsp_ctrl_evtchn_status_rep *st)
{
    assert_int_equal(evtchn_status(0, dom, port, st), 0);
    return st->status;
}

static void test_unbound_then_interdomain(void **state)
{
    struct fixture *f = *state;
    int p1 = evtchn_bind_unbound(f->h[1], 2, efd());
    assert_true(p1 > 0);
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_unbound);
    assert_int_equal(st.dom, 2);

    int e2 = efd();
    int p2 = evtchn_bind_interdomain(f->h[2], 1, p1, e2);
    assert_true(p2 > 0);
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_interdomain);
    assert_int_equal(st.dom, 2);
    assert_int_equal(st.port, p2);
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_interdomain);
    assert_int_equal(st.port, p1);

    /* Each end gets the other's eventfd; writing it reaches the peer. */
    uint32_t gen;
    int peer;
    assert_int_equal(evtchn_peer(f->h[1], p1, &gen, &peer), 0);
    assert_int_equal(peer, e2);
    assert_int_equal(gen, f->gen[1][p1]);
    evtchn_kick(peer);
    uint64_t v = 0;
    assert_int_equal(read(e2, &v, sizeof(v)), sizeof(v));
    assert_int_equal(v, 1);

    /* The port is now bound: nobody can bind it again. */
    assert_int_equal(evtchn_bind_interdomain(f->h[2], 1, p1, efd()), -EINVAL);
    evtchn_unbind(f->h[1], p1);
    evtchn_unbind(f->h[2], p2);
}

static void test_only_the_offered_domain_binds(void **state)
{
    struct fixture *f = *state;
    int p = evtchn_bind_unbound(f->h[1], 2, efd());
    assert_true(p > 0);
    int e = efd();
    /* Xen: a port offered to another domain is EINVAL, for dom0 too. */
    assert_int_equal(evtchn_bind_interdomain(f->h[3], 1, p, e), -EINVAL);
    assert_int_equal(evtchn_bind_interdomain(f->h[0], 1, p, e), -EINVAL);
    assert_int_equal(evtchn_bind_interdomain(f->h[2], 9, p, e), -ESRCH);
    assert_int_equal(evtchn_bind_interdomain(f->h[2], 1, 0, e), -EINVAL);
    assert_int_equal(evtchn_bind_interdomain(f->h[2], 1, 5000, e), -EINVAL);
    assert_int_equal(evtchn_bind_interdomain(f->h[2], 1, p + 1, e), -EINVAL);
    close(e);
    /* DOMID_SELF works on both sides: a loopback channel. */
    int a = evtchn_bind_unbound(f->h[1], DOMID_SELF, efd());
    int b = evtchn_bind_interdomain(f->h[1], DOMID_SELF, a, efd());
    assert_true(a > 0 && b > 0);
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(1, b, &st), EVTCHNSTAT_interdomain);
    assert_int_equal(st.dom, 1);
    evtchn_unbind(f->h[1], a);
    evtchn_unbind(f->h[1], b);
    evtchn_unbind(f->h[1], p);
}

static void test_close_makes_peer_unbound(void **state)
{
    struct fixture *f = *state;
    int p1 = evtchn_bind_unbound(f->h[1], 2, efd());
    int p2 = evtchn_bind_interdomain(f->h[2], 1, p1, efd());
    assert_true(p1 > 0 && p2 > 0);
    uint32_t g_before = f->gen[1][p1];
    assert_int_equal(evtchn_unbind(f->h[2], p2), 0);
    /* Peer cache is stale: the generation moved, and no peer remains. */
    assert_int_not_equal(f->gen[1][p1], g_before);
    uint32_t gen;
    int peer;
    assert_int_equal(evtchn_peer(f->h[1], p1, &gen, &peer), 0);
    assert_int_equal(peer, -1);
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_unbound);
    assert_int_equal(st.dom, 2);
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_closed);
    /* ...so domain 2 may bind it again. */
    int p2b = evtchn_bind_interdomain(f->h[2], 1, p1, efd());
    assert_true(p2b > 0);
    /* Unbinding what is not ours: ENOTCONN; out of range: EINVAL. */
    assert_int_equal(evtchn_unbind(f->h[2], p1 == p2b ? p1 + 1 : p1),
                     -ENOTCONN);
    assert_int_equal(evtchn_unbind(f->h[2], 5000), -EINVAL);
    assert_int_equal(evtchn_peer(f->h[2], 999, &gen, &peer), -ENOTCONN);
    evtchn_unbind(f->h[2], p2b);
    evtchn_unbind(f->h[1], p1);
}

static void test_port_limit(void **state)
{
    struct fixture *f = *state;
    int ports[4];
    for (int i = 0; i < 4; i++) {
        ports[i] = evtchn_bind_unbound(f->h[3], 0, efd());
        assert_int_equal(ports[i], i + 1);
    }
    int e = efd();
    assert_int_equal(evtchn_bind_unbound(f->h[3], 0, e), -ENOSPC);
    /* A freed port number is reused. */
    assert_int_equal(evtchn_unbind(f->h[3], 2), 0);
    assert_int_equal(evtchn_bind_unbound(f->h[3], 0, e), 2);
    for (int i = 0; i < 4; i++)
        evtchn_unbind(f->h[3], i + 1);
}

static void test_handle_free_closes_ports(void **state)
{
    struct fixture *f = *state;
    int fd;
    uint32_t bytes, max;
    struct evtchn_handle *h;
    assert_int_equal(evtchn_handle_new(2, &h, &fd, &bytes, &max), 0);
    close(fd);
    int p1 = evtchn_bind_unbound(f->h[1], 2, efd());
    int p2 = evtchn_bind_interdomain(h, 1, p1, efd());
    assert_true(p2 > 0);
    evtchn_handle_free(h);
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_closed);
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_unbound);
    evtchn_unbind(f->h[1], p1);
}

static void test_hold_outlives_unbind(void **state)
{
    struct fixture *f = *state;
    int e1 = efd();
    int p1 = evtchn_bind_unbound(f->h[1], 2, e1);
    int p2 = evtchn_bind_interdomain(f->h[2], 1, p1, efd());
    struct evtchn_port *held;
    assert_int_equal(evtchn_hold(2, p2, &held), 0);
    assert_int_equal(evtchn_hold(2, 999, &held), -EINVAL);
    assert_int_equal(evtchn_unbind(f->h[2], p2), 0);
    /* Still bound, as the Linux driver keeps a port evtchn_get() holds. */
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_interdomain);
    evtchn_send_held(held);
    uint64_t v = 0;
    assert_int_equal(read(e1, &v, sizeof(v)), sizeof(v));
    evtchn_release(held);
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_closed);
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_unbound);
    evtchn_unbind(f->h[1], p1);
}

static void test_restrict_and_status_rights(void **state)
{
    struct fixture *f = *state;
    int fd;
    uint32_t bytes, max;
    struct evtchn_handle *h;
    assert_int_equal(evtchn_handle_new(0, &h, &fd, &bytes, &max), 0);
    close(fd);
    assert_int_equal(evtchn_restrict(h, 0), -EINVAL);
    assert_int_equal(evtchn_restrict(h, 1), 0);
    assert_int_equal(evtchn_restrict(h, 2), -EACCES);
    int e = efd();
    assert_int_equal(evtchn_bind_unbound(h, 1, e), -EACCES);
    assert_int_equal(evtchn_bind_virq(h, VIRQ_DOM_EXC, e), -EACCES);
    int p2 = evtchn_bind_unbound(f->h[2], 0, efd());
    assert_int_equal(evtchn_bind_interdomain(h, 2, p2, e), -EACCES);
    close(e);
    evtchn_handle_free(h);
    evtchn_unbind(f->h[2], p2);

    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(evtchn_status(2, 1, 1, &st), -EPERM);
    assert_int_equal(evtchn_status(2, DOMID_SELF, 1, &st), 0);
    assert_int_equal(evtchn_status(0, 7, 1, &st), -ESRCH);
    assert_int_equal(evtchn_status(0, 1, 5000, &st), -EINVAL);
}

static void test_virq_and_fd_checks(void **state)
{
    struct fixture *f = *state;
    int e = efd();
    int p = evtchn_bind_virq(f->h[0], VIRQ_DOM_EXC, e);
    assert_true(p > 0);
    assert_int_equal(evtchn_bind_virq(f->h[0], VIRQ_DOM_EXC, e), -EEXIST);
    assert_int_equal(evtchn_bind_virq(f->h[0], 99, e), -EINVAL);
    evtchn_fire_virq_dom0(VIRQ_DOM_EXC);
    uint64_t v = 0;
    assert_int_equal(read(e, &v, sizeof(v)), sizeof(v));
    evtchn_unbind(f->h[0], p);

    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(evtchn_check_eventfd(pipefd[1]), -EINVAL);
    close(pipefd[0]);
    close(pipefd[1]);
    int blocking = eventfd(0, 0);
    assert_int_equal(evtchn_check_eventfd(blocking), 0);
    close(blocking);
}

/* A guest that made its eventfd blocking with a full counter cannot make
 * the daemon wait: the kick gives up after its timeout and leaves the
 * file's flags alone. */
static void test_kick_never_waits_on_a_guest(void **state)
{
    (void)state;
    int efd = eventfd(0, EFD_CLOEXEC); /* blocking, as a hostile owner sets it */
    assert_true(efd >= 0);
    uint64_t full = UINT64_MAX - 1, v = 0;
    assert_int_equal(write(efd, &full, sizeof(full)), sizeof(full));
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    evtchn_kick(efd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    assert_true(ms < 1000);
    assert_false(fcntl(efd, F_GETFL) & O_NONBLOCK);
    assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
    assert_true(v == full);
    /* An ordinary eventfd still gets its event. */
    evtchn_kick(efd);
    assert_int_equal(read(efd, &v, sizeof(v)), sizeof(v));
    assert_true(v == 1);
    close(efd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unbound_then_interdomain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_only_the_offered_domain_binds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_makes_peer_unbound, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_port_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handle_free_closes_ports, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hold_outlives_unbind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restrict_and_status_rights, setup,
                                        teardown),
        cmocka_unit_test(test_kick_never_waits_on_a_guest),
        cmocka_unit_test_setup_teardown(test_virq_and_fd_checks, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
