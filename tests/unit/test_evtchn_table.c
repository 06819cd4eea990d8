/* Unit tests: xensim's event-channel table (who may bind what, states after
 * close, limits, holds for unmap-notify, the generation page, the ports'
 * pipes and the daemon's kicks). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

/* The bind calls, checking the read end they give: one on success, none
 * on failure. It goes to *rfd, or is closed when rfd is NULL. */
static int got_rfd(int port, int fd, int *rfd)
{
    if (port > 0) {
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISFIFO(st.st_mode));
        assert_int_equal(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK),
                         O_RDONLY | O_NONBLOCK);
    } else {
        assert_int_equal(fd, -1);
    }
    if (rfd)
        *rfd = fd;
    else if (fd >= 0)
        close(fd);
    return port;
}

static int bind_unbound(struct evtchn_handle *h, uint32_t dom, int *rfd)
{
    int fd = -1;
    int port = evtchn_bind_unbound(h, dom, &fd);
    return got_rfd(port, fd, rfd);
}

static int bind_inter(struct evtchn_handle *h, uint32_t dom, uint32_t port,
                      int *rfd)
{
    int fd = -1;
    int p = evtchn_bind_interdomain(h, dom, port, &fd);
    return got_rfd(p, fd, rfd);
}

static int bind_virq(struct evtchn_handle *h, uint32_t virq, int *rfd)
{
    int fd = -1;
    int port = evtchn_bind_virq(h, virq, &fd);
    return got_rfd(port, fd, rfd);
}

/* How many bytes (events) a non-blocking read end holds now; emptied. */
static long pipe_drain(int fd)
{
    char buf[4096];
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        total += n;
    assert_true(n == 0 || errno == EAGAIN);
    return total;
}

/* A file description of fd's pipe of our own (as a hostile guest makes). */
static int reopen(int fd, int mode)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int r = open(path, mode | O_CLOEXEC);
    assert_true(r >= 0);
    return r;
}

/* Fill fd's pipe through a non-blocking writer of our own. */
static void pipe_fill(int fd)
{
    int w = reopen(fd, O_WRONLY | O_NONBLOCK);
    char buf[4096] = { 0 };
    while (write(w, buf, sizeof(buf)) > 0)
        ;
    while (write(w, buf, 1) > 0)
        ;
    assert_int_equal(errno, EAGAIN);
    close(w);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000L +
           (t1.tv_nsec - t0->tv_nsec) / 1000000L;
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
    int r1, r2;
    int p1 = bind_unbound(f->h[1], 2, &r1);
    assert_true(p1 > 0);
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_unbound);
    assert_int_equal(st.dom, 2);

    int p2 = bind_inter(f->h[2], 1, p1, &r2);
    assert_true(p2 > 0);
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_interdomain);
    assert_int_equal(st.dom, 2);
    assert_int_equal(st.port, p2);
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_interdomain);
    assert_int_equal(st.port, p1);
    /* As on Xen, the binder's new port is pending; the other is not. */
    assert_int_equal(pipe_drain(r2), 1);
    assert_int_equal(pipe_drain(r1), 0);

    /* Each end gets a write end of the other's pipe: writing it reaches the
     * peer. Each call gives a new file description of its own: changing
     * one's flags changes no other's. */
    uint32_t gen;
    int w, w2;
    assert_int_equal(evtchn_peer(f->h[1], p1, &gen, &w), 0);
    assert_true(w >= 0);
    assert_int_equal(gen, f->gen[1][p1]);
    assert_int_equal(evtchn_peer(f->h[1], p1, &gen, &w2), 0);
    assert_true(w2 >= 0 && w2 != w);
    assert_true(fcntl(w, F_GETFL) & O_NONBLOCK);
    assert_int_equal(fcntl(w, F_SETFL, 0), 0);
    assert_true(fcntl(w2, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(r2, F_GETFL) & O_NONBLOCK);
    assert_int_equal(write(w2, "x", 1), 1);
    assert_int_equal(pipe_drain(r2), 1);
    assert_int_equal(pipe_drain(r1), 0);
    close(w);
    close(w2);

    /* The port is now bound: nobody can bind it again. */
    assert_int_equal(bind_inter(f->h[2], 1, p1, NULL), -EINVAL);
    evtchn_unbind(f->h[1], p1);
    evtchn_unbind(f->h[2], p2);
    close(r1);
    close(r2);
}

static void test_only_the_offered_domain_binds(void **state)
{
    struct fixture *f = *state;
    int p = bind_unbound(f->h[1], 2, NULL);
    assert_true(p > 0);
    /* Xen: a port offered to another domain is EINVAL, for dom0 too. */
    assert_int_equal(bind_inter(f->h[3], 1, p, NULL), -EINVAL);
    assert_int_equal(bind_inter(f->h[0], 1, p, NULL), -EINVAL);
    assert_int_equal(bind_inter(f->h[2], 9, p, NULL), -ESRCH);
    assert_int_equal(bind_inter(f->h[2], 1, 0, NULL), -EINVAL);
    assert_int_equal(bind_inter(f->h[2], 1, 5000, NULL), -EINVAL);
    assert_int_equal(bind_inter(f->h[2], 1, p + 1, NULL), -EINVAL);
    /* DOMID_SELF works on both sides: a loopback channel. */
    int a = bind_unbound(f->h[1], DOMID_SELF, NULL);
    int b = bind_inter(f->h[1], DOMID_SELF, a, NULL);
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
    int p1 = bind_unbound(f->h[1], 2, NULL);
    int p2 = bind_inter(f->h[2], 1, p1, NULL);
    assert_true(p1 > 0 && p2 > 0);
    uint32_t g_before = f->gen[1][p1];
    assert_int_equal(evtchn_unbind(f->h[2], p2), 0);
    /* Peer cache is stale: the generation moved, and no peer remains. */
    assert_int_not_equal(f->gen[1][p1], g_before);
    uint32_t gen;
    int peer = 7;
    assert_int_equal(evtchn_peer(f->h[1], p1, &gen, &peer), 0);
    assert_int_equal(peer, -1);
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_unbound);
    assert_int_equal(st.dom, 2);
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_closed);
    /* ...so domain 2 may bind it again. */
    int p2b = bind_inter(f->h[2], 1, p1, NULL);
    assert_true(p2b > 0);
    /* Unbinding what is not ours: ENOTCONN; out of range: EINVAL. */
    assert_int_equal(evtchn_unbind(f->h[2], p1 == p2b ? p1 + 1 : p1),
                     -ENOTCONN);
    assert_int_equal(evtchn_unbind(f->h[2], 5000), -EINVAL);
    assert_int_equal(evtchn_peer(f->h[2], 999, &gen, &peer), -ENOTCONN);
    evtchn_unbind(f->h[2], p2b);
    evtchn_unbind(f->h[1], p1);
}

/* A notifier whose peer is gone, with every other reader of its pipe, must
 * not die of SIGPIPE (nor see EPIPE) writing the write end it cached. */
static void test_cached_write_end_outlives_the_port(void **state)
{
    struct fixture *f = *state;
    int r1;
    int p1 = bind_unbound(f->h[1], 2, &r1);
    int p2 = bind_inter(f->h[2], 1, p1, NULL);
    assert_true(p1 > 0 && p2 > 0);
    uint32_t gen;
    int w;
    assert_int_equal(evtchn_peer(f->h[2], p2, &gen, &w), 0);
    assert_true(w >= 0);
    close(r1);
    assert_int_equal(evtchn_unbind(f->h[1], p1), 0);
    assert_int_not_equal(f->gen[2][p2], gen);
    /* SIGPIPE's default action would end the test here. */
    assert_int_equal(write(w, "x", 1), 1);
    close(w);
    evtchn_unbind(f->h[2], p2);
}

static void test_port_limit(void **state)
{
    struct fixture *f = *state;
    int ports[4];
    for (int i = 0; i < 4; i++) {
        ports[i] = bind_unbound(f->h[3], 0, NULL);
        assert_int_equal(ports[i], i + 1);
    }
    assert_int_equal(bind_unbound(f->h[3], 0, NULL), -ENOSPC);
    /* A freed port number is reused. */
    assert_int_equal(evtchn_unbind(f->h[3], 2), 0);
    assert_int_equal(bind_unbound(f->h[3], 0, NULL), 2);
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
    int p1 = bind_unbound(f->h[1], 2, NULL);
    int p2 = bind_inter(h, 1, p1, NULL);
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
    int r1;
    int p1 = bind_unbound(f->h[1], 2, &r1);
    int p2 = bind_inter(f->h[2], 1, p1, NULL);
    struct evtchn_port *held;
    assert_int_equal(evtchn_hold(2, p2, &held), 0);
    assert_int_equal(evtchn_hold(2, 999, &held), -EINVAL);
    assert_int_equal(evtchn_unbind(f->h[2], p2), 0);
    /* Still bound, as the Linux driver keeps a port evtchn_get() holds. */
    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_interdomain);
    assert_int_equal(pipe_drain(r1), 0);
    evtchn_send_held(held);
    assert_int_equal(pipe_drain(r1), 1);
    evtchn_release(held);
    assert_int_equal(status_of(2, p2, &st), EVTCHNSTAT_closed);
    assert_int_equal(status_of(1, p1, &st), EVTCHNSTAT_unbound);
    evtchn_unbind(f->h[1], p1);
    close(r1);
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
    assert_int_equal(bind_unbound(h, 1, NULL), -EACCES);
    assert_int_equal(bind_virq(h, VIRQ_DOM_EXC, NULL), -EACCES);
    int p2 = bind_unbound(f->h[2], 0, NULL);
    assert_int_equal(bind_inter(h, 2, p2, NULL), -EACCES);
    evtchn_handle_free(h);
    evtchn_unbind(f->h[2], p2);

    struct xsp_ctrl_evtchn_status_rep st;
    assert_int_equal(evtchn_status(2, 1, 1, &st), -EPERM);
    assert_int_equal(evtchn_status(2, DOMID_SELF, 1, &st), 0);
    assert_int_equal(evtchn_status(0, 7, 1, &st), -ESRCH);
    assert_int_equal(evtchn_status(0, 1, 5000, &st), -EINVAL);
}

static void test_virq(void **state)
{
    struct fixture *f = *state;
    int r;
    int p = bind_virq(f->h[0], VIRQ_DOM_EXC, &r);
    assert_true(p > 0);
    assert_int_equal(bind_virq(f->h[0], VIRQ_DOM_EXC, NULL), -EEXIST);
    assert_int_equal(bind_virq(f->h[0], 99, NULL), -EINVAL);
    assert_int_equal(pipe_drain(r), 0);
    evtchn_fire_virq_dom0(VIRQ_DOM_EXC);
    assert_int_equal(pipe_drain(r), 1);
    /* Nobody but the hypervisor raises a VIRQ: no write end for it. */
    uint32_t gen;
    int w = 7;
    assert_int_equal(evtchn_peer(f->h[0], p, &gen, &w), 0);
    assert_int_equal(w, -1);
    evtchn_unbind(f->h[0], p);
    close(r);
}

/* A hostile owner makes every fd of its pipe it holds blocking and fills
 * the pipe through a writer of its own: the daemon's kicks still return at
 * once (the pipe is full: the event is pending anyway), and so do the
 * notifier's writes and its asking for a write end; the owner still reads
 * its events. Under a watchdog, so that a kick that waits fails the test
 * instead of hanging it. */
static void test_kick_never_waits_on_a_guest(void **state)
{
    struct fixture *f = *state;
    int rv, r1;
    int pv = bind_virq(f->h[0], VIRQ_DOM_EXC, &rv);
    int p1 = bind_unbound(f->h[1], 2, &r1);
    int p2 = bind_inter(f->h[2], 1, p1, NULL);
    assert_true(pv > 0 && p1 > 0 && p2 > 0);
    struct evtchn_port *held;
    assert_int_equal(evtchn_hold(2, p2, &held), 0);
    for (int i = 0; i < 2; i++) {
        int r = i ? r1 : rv;
        pipe_fill(r);
        assert_int_equal(fcntl(r, F_SETFL, 0), 0);
        int w = reopen(r, O_WRONLY); /* blocking, as the owner keeps it */
        assert_false(fcntl(w, F_GETFL) & O_NONBLOCK);
        close(w);
    }
    alarm(10);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++) {
        evtchn_fire_virq_dom0(VIRQ_DOM_EXC);
        evtchn_send_held(held);
    }
    uint32_t gen;
    int w;
    assert_int_equal(evtchn_peer(f->h[2], p2, &gen, &w), 0);
    assert_true(w >= 0);
    assert_int_equal(write(w, "x", 1), -1);
    assert_int_equal(errno, EAGAIN);
    assert_true(ms_since(&t0) < 2000);
    alarm(0);
    close(w);
    /* The owner's blocking read end still reads its (latched) events. */
    char c;
    assert_int_equal(read(rv, &c, 1), 1);
    assert_int_equal(read(r1, &c, 1), 1);
    assert_int_equal(fcntl(rv, F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(r1, F_SETFL, O_NONBLOCK), 0);
    assert_true(pipe_drain(rv) > 0);
    assert_true(pipe_drain(r1) > 0);
    /* Drained, the next kick is seen again. */
    evtchn_fire_virq_dom0(VIRQ_DOM_EXC);
    evtchn_send_held(held);
    assert_int_equal(pipe_drain(rv), 1);
    assert_int_equal(pipe_drain(r1), 1);
    evtchn_release(held);
    evtchn_unbind(f->h[2], p2);
    evtchn_unbind(f->h[1], p1);
    evtchn_unbind(f->h[0], pv);
    close(rv);
    close(r1);
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
        cmocka_unit_test_setup_teardown(test_cached_write_end_outlives_the_port,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handle_free_closes_ports, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hold_outlives_unbind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restrict_and_status_rights, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kick_never_waits_on_a_guest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_virq, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
