/* conf-evtchn: interdomain event channels through the raw libxenevtchn API.
 *
 *   conf-evtchn server   allocates two unbound ports for data/conf/peer
 *                        (one used, one spare the peer never binds),
 *                        publishes them readable by that peer only, answers
 *                        each notification with one back (ping-pong).
 *                        First, closing a handle frees its port at once:
 *                        a new handle's next unbound port is that one.
 *                        Halfway, a forked child closes its copy of the
 *                        handle: the server's port must go on delivering.
 *   conf-evtchn client   binds to the server's port, ping-pongs, and checks
 *                        that a bound port or a bogus one cannot be bound.
 *   conf-evtchn intrude  third domain: data/conf/target is the server,
 *                        data/conf/ports the ports dom0 copied for it; both
 *                        binds must fail, reading the ports node too. */
#include "conf_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenevtchn.h>

#define ROUNDS 200

/* The next pending port (unmasked again), or -1 on timeout/error. */
static int wait_event(xenevtchn_handle *xce, int timeout_ms)
{
    uint64_t end = conf_now_ms() + (uint64_t)timeout_ms;
    struct pollfd pfd = { .fd = xenevtchn_fd(xce), .events = POLLIN };

    for (;;) {
        uint64_t now = conf_now_ms();
        xenevtchn_port_or_error_t p;
        int r;

        if (now >= end)
            return -1;
        r = poll(&pfd, 1, (int)(end - now));
        if (r < 0 && errno != EINTR)
            return -1;
        if (r <= 0)
            continue;
        p = xenevtchn_pending(xce);
        if (p < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return -1;
        }
        if (xenevtchn_unmask(xce, (evtchn_port_t)p) < 0)
            return -1;
        return p;
    }
}

/* Linux's evtchn release closes each port of the handle before close()
 * returns, and Xen hands out the lowest free port: a port taken and its
 * handle closed is the next one taken. */
static void check_close_frees_port(unsigned peer)
{
    xenevtchn_handle *a = xenevtchn_open(NULL, 0), *b;
    xenevtchn_port_or_error_t p = -1, q = -1;

    if (a) {
        p = xenevtchn_bind_unbound_port(a, peer);
        xenevtchn_close(a);
    }
    b = xenevtchn_open(NULL, 0);
    if (b) {
        q = xenevtchn_bind_unbound_port(b, peer);
        xenevtchn_close(b);
    }
    conf_check(p >= 0 && q == p, "evtchn-close-frees-port",
               "port %d, then after its handle was closed %d", p, q);
}

/* xenevtchn.h: after fork() a child may close an inherited handle, and
 * that is all.  The close drops the child's copy only: the parent's port
 * stays bound and keeps delivering.  True once the child closed it. */
static bool close_in_child(xenevtchn_handle *xce)
{
    int status = -1;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        xenevtchn_close(xce);
        _exit(0);
    }
    return pid > 0 && waitpid(pid, &status, 0) == pid &&
           WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int role_server(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned peer = conf_peer(xs, "peer");
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenevtchn_port_or_error_t port, spare;
    struct xs_permissions perms[2] = {
        { .id = me, .perms = XS_PERM_NONE },
        { .id = peer, .perms = XS_PERM_READ },
    };
    char val[32];
    int i, got = -1;
    bool forked = false;

    if (!xce)
        conf_die("xenevtchn_open: %s", strerror(errno));
    check_close_frees_port(peer);
    port = xenevtchn_bind_unbound_port(xce, peer);
    spare = xenevtchn_bind_unbound_port(xce, peer);
    if (!conf_check(port >= 0 && spare >= 0, "evtchn-alloc-unbound",
                    "bind_unbound_port(dom%u): %s", peer, strerror(errno)))
        conf_die("no port to offer");
    snprintf(val, sizeof(val), "%d %d", port, spare);
    if (!conf_xs_publish(xs, "data/conf/evtchn-ports", val, perms, 2))
        conf_die("publish data/conf/evtchn-ports: %s", strerror(errno));
    conf_info("ports for dom%u: %d (spare %d)", peer, port, spare);
    conf_ready("evtchn-bound");

    /* Strict ping-pong: the client never notifies twice without an answer,
     * so no notification may be lost or merged. */
    for (i = 0; i < ROUNDS; i++) {
        got = wait_event(xce, conf_timeout_ms());
        if (got != port)
            break;
        if (i == 0)
            conf_pass("evtchn-recv");
        /* Halfway, a child closes its copy of the handle. */
        if (i == ROUNDS / 2)
            forked = close_in_child(xce);
        if (xenevtchn_notify(xce, (evtchn_port_t)port) < 0)
            break;
    }
    if (i == 0)
        conf_fail("evtchn-recv", "no event from dom%u on port %d (got %d)", peer, port, got);
    conf_check(i == ROUNDS, "evtchn-pingpong-server",
               "%d of %d rounds, then got %d: %s", i, ROUNDS, got, strerror(errno));
    conf_check(forked && i == ROUNDS, "evtchn-close-in-child-keeps-port",
               "a child %s its copy of the handle at round %d; then %d of %d "
               "rounds", forked ? "closed" : "failed to close", ROUNDS / 2, i,
               ROUNDS);

    conf_wait_finish(xs);
    xenevtchn_unbind(xce, (evtchn_port_t)port);
    xenevtchn_unbind(xce, (evtchn_port_t)spare);
    xenevtchn_close(xce);
    xs_close(xs);
    return conf_done();
}

static bool read_ports(struct xs_handle *xs, const char *path, int *port, int *spare)
{
    char *v = conf_xs_wait(xs, path, conf_timeout_ms());
    bool ok;

    if (!v)
        return false;
    ok = sscanf(v, "%d %d", port, spare) == 2;
    free(v);
    return ok;
}

static int role_client(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned peer = conf_peer(xs, "peer");
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenevtchn_port_or_error_t local, again;
    char path[96];
    int port, spare, i, got = -1;
    uint64_t t0;

    if (!xce)
        conf_die("xenevtchn_open: %s", strerror(errno));
    snprintf(path, sizeof(path), "/local/domain/%u/data/conf/evtchn-ports", peer);
    if (!read_ports(xs, path, &port, &spare))
        conf_die("no ports readable at %s: %s", path, strerror(errno));

    local = xenevtchn_bind_interdomain(xce, peer, (evtchn_port_t)port);
    if (!conf_check(local >= 0, "evtchn-bind-interdomain",
                    "bind to dom%u port %d: %s", peer, port, strerror(errno)))
        conf_die("no channel");

    /* Xen marks the binder's new port pending (a notification the unbound
     * end may have missed); drain it so that the ping-pong stays strict. */
    got = wait_event(xce, 1000);
    conf_check(got == local, "evtchn-bind-sets-pending",
               "no event pending on the newly bound port %d (Xen sets one)", local);

    t0 = conf_now_ms();
    for (i = 0; i < ROUNDS; i++) {
        if (xenevtchn_notify(xce, (evtchn_port_t)local) < 0)
            break;
        got = wait_event(xce, conf_timeout_ms());
        if (got != local)
            break;
        if (i == 0)
            conf_pass("evtchn-recv-reply");
    }
    if (i == 0)
        conf_fail("evtchn-recv-reply", "no reply from dom%u on port %d (got %d)",
                  peer, local, got);
    conf_check(i == ROUNDS, "evtchn-pingpong-client",
               "%d of %d rounds, then got %d: %s", i, ROUNDS, got, strerror(errno));
    conf_info("%d round trips in %llu ms", i, (unsigned long long)(conf_now_ms() - t0));

    /* A port that is already bound, and one that was never allocated. */
    again = xenevtchn_bind_interdomain(xce, peer, (evtchn_port_t)port);
    conf_check(again < 0, "evtchn-rebind-refused",
               "dom%u port %d bound a second time (local %d)", peer, port, again);
    again = xenevtchn_bind_interdomain(xce, peer, 4000);
    conf_check(again < 0, "evtchn-bogus-port-refused",
               "dom%u port 4000 (never allocated) bound (local %d)", peer, again);

    conf_ready("evtchn-client");
    conf_wait_finish(xs);
    xenevtchn_unbind(xce, (evtchn_port_t)local);
    xenevtchn_close(xce);
    xs_close(xs);
    return conf_done();
}

static int role_intrude(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned target = conf_peer(xs, "target");
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenevtchn_port_or_error_t l1, l2;
    char path[96], *v;
    int port, spare;

    if (!xce)
        conf_die("xenevtchn_open: %s", strerror(errno));
    if (!read_ports(xs, "data/conf/ports", &port, &spare))
        conf_die("dom0 gave no ports in data/conf/ports");

    snprintf(path, sizeof(path), "/local/domain/%u/data/conf/evtchn-ports", target);
    v = xs_read(xs, XBT_NULL, path, NULL);
    conf_check(!v && errno == EACCES, "evtchn-third-ports-unreadable",
               "read %s: %s", path, v ? "allowed" : strerror(errno));
    free(v);

    /* The spare port is still unbound, but reserved for another domain. */
    l1 = xenevtchn_bind_interdomain(xce, target, (evtchn_port_t)spare);
    conf_check(l1 < 0, "evtchn-third-bind-unbound-refused",
               "bound dom%u's port %d that was offered to another domain", target, spare);
    l2 = xenevtchn_bind_interdomain(xce, target, (evtchn_port_t)port);
    conf_check(l2 < 0, "evtchn-third-bind-connected-refused",
               "bound dom%u's connected port %d", target, port);
    xenevtchn_close(xce);
    xs_close(xs);
    return conf_done();
}

int main(int argc, char **argv)
{
    conf_init(argv[0]);
    if (argc == 2 && !strcmp(argv[1], "server"))
        return role_server();
    if (argc == 2 && !strcmp(argv[1], "client"))
        return role_client();
    if (argc == 2 && !strcmp(argv[1], "intrude"))
        return role_intrude();
    fprintf(stderr, "usage: %s server|client|intrude\n", argv[0]);
    return 2;
}
