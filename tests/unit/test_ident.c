/* Unit tests: who is on the other end of a socket (ident.h) when the
 * kernel will not pin the peer with SO_PEERPIDFD.  Only a kernel without
 * the option may fall back to SO_PEERCRED's bare pid; any other failure
 * (EINVAL on 6.5 to 6.15 for a reaped peer, whose pid may be reused) is
 * no answer, never Domain-0. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain.h"
#include "ident.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* getsockopt as the daemon's ident.c sees it: SO_PEERPIDFD fails with
 * g_fail_pidfd while that is set; everything else goes to the C library. */
static int g_fail_pidfd;
static unsigned g_pidfd_asked;

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    static int (*real)(int, int, int, void *, socklen_t *);
    if (level == SOL_SOCKET && name == SO_PEERPIDFD) {
        g_pidfd_asked++;
        if (g_fail_pidfd) {
            errno = g_fail_pidfd;
            return -1;
        }
    }
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getsockopt");
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(fd, level, name, val, len);
}

/* No domain but Domain-0 here (domain.c stays out of the test). */
struct sim_domain *domain_by_pidns(uint64_t pidns)
{
    (void)pidns;
    return NULL;
}

/* The domain ident.c finds for the peer of a socketpair: this process, in
 * the host's PID namespace. */
static int peer_domid(int fail)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    g_fail_pidfd = fail;
    g_pidfd_asked = 0;
    int domid = ident_socket_domid(sv[0]);
    g_fail_pidfd = 0;
    close(sv[0]);
    close(sv[1]);
    assert_int_equal(g_pidfd_asked, 1);
    return domid;
}

static int setup(void **state)
{
    (void)state;
    return ident_init();
}

static void test_pidfd_pins_the_peer(void **state)
{
    (void)state;
    assert_int_equal(peer_domid(0), 0);
}

static void test_reaped_peer_is_gone(void **state)
{
    (void)state;
    /* What 6.5 to 6.15 say for a peer already reaped. */
    assert_int_equal(peer_domid(EINVAL), -ESRCH);
}

static void test_other_failure_is_gone(void **state)
{
    (void)state;
    assert_int_equal(peer_domid(ENOMEM), -ESRCH);
    assert_int_equal(peer_domid(EBADF), -ESRCH);
}

static void test_no_option_falls_back_to_pid(void **state)
{
    (void)state;
    /* A kernel before 6.5 (Debian 12's 6.1): the pid alone, as before. */
    assert_int_equal(peer_domid(ENOPROTOOPT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pidfd_pins_the_peer),
        cmocka_unit_test(test_reaped_peer_is_gone),
        cmocka_unit_test(test_other_failure_is_gone),
        cmocka_unit_test(test_no_option_falls_back_to_pid),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
