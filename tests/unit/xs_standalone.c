/* Test driver: the xensim xenstore server alone, on unix sockets in a
 * folder, so that Debian's unmodified libxenstore programs can be pointed
 * at it (XENSTORED_PATH) without the rest of xensim.
 *
 *   xs_standalone DIR
 *
 * DIR/socket is dom0's door; DIR/socket.d1 and DIR/socket.d2 are the doors
 * of two introduced guests, "guest1" and "guest2" (this driver's own ident:
 * the domain is chosen by which socket a client connects to). SIGUSR1
 * releases guest2, SIGUSR2 introduces "guest3" (domid 3) and gives it a
 * door at DIR/socket.d3. SIGTERM/SIGINT stop. Prints "ready" when up. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "loop.h"
#include "xs_server.h"

int ident_socket_domid(int fd);

/* The listening socket a client came through names its domain: "socket"
 * dom0, "socket.d<N>" domain N.  Only the socket's own name counts: the
 * directory is mktemp's (/tmp/xs-test.XXXXXX), and a random name like
 * ".d7xYz1" must not make every dom0 client domain 7. */
int ident_socket_domid(int fd)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    memset(&sa, 0, sizeof(sa));
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return -errno;
    const char *slash = strrchr(sa.sun_path, '/');
    const char *name = slash ? slash + 1 : sa.sun_path;
    if (strcmp(name, "socket") == 0)
        return 0;
    if (strncmp(name, "socket.d", 8) != 0 || name[8] < '0' || name[8] > '9')
        return -EINVAL;
    char *end;
    long id = strtol(name + 8, &end, 10);
    return *end || id > 0x7fef ? -EINVAL : (int)id;
}

struct driver {
    struct loop *loop;
    struct xs_server *xs;
    const char *dir;
    int sfd;
};

static int door(struct driver *d, int domid)
{
    char path[108];
    if (domid)
        snprintf(path, sizeof(path), "%s/socket.d%d", d->dir, domid);
    else
        snprintf(path, sizeof(path), "%s/socket", d->dir);
    return xs_server_listen(d->xs, path);
}

static void on_signal(void *ctx, uint32_t events)
{
    struct driver *d = ctx;
    (void)events;
    struct signalfd_siginfo si;
    if (read(d->sfd, &si, sizeof(si)) != sizeof(si))
        return;
    if (si.ssi_signo == SIGUSR1) {
        fprintf(stderr, "xs_standalone: release guest2: %d\n",
                xs_domain_release(d->xs, 2));
    } else if (si.ssi_signo == SIGUSR2) {
        static const uint8_t uuid[16] = {3};
        int rc = xs_domain_introduce(d->xs, 3, "guest3", uuid);
        if (rc == 0)
            rc = door(d, 3);
        fprintf(stderr, "xs_standalone: introduce guest3: %d\n", rc);
    } else {
        loop_stop(d->loop);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    struct driver d = {.dir = argv[1]};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    d.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    d.loop = loop_new();
    if (d.sfd < 0 || !d.loop) {
        perror("xs_standalone: setup");
        return 1;
    }
    d.xs = xs_server_new(d.loop, NULL);
    static const uint8_t u1[16] = {1}, u2[16] = {2};
    int rc = d.xs ? 0 : -ENOMEM;
    if (rc == 0)
        rc = xs_domain_introduce(d.xs, 0, "Domain-0", NULL);
    if (rc == 0)
        rc = xs_domain_introduce(d.xs, 1, "guest1", u1);
    if (rc == 0)
        rc = xs_domain_introduce(d.xs, 2, "guest2", u2);
    for (int id = 0; rc == 0 && id <= 2; id++)
        rc = door(&d, id);
    if (rc < 0) {
        fprintf(stderr, "xs_standalone: %s\n", strerror(-rc));
        return 1;
    }
    loop_add(d.loop, d.sfd, EPOLLIN, on_signal, &d);
    printf("ready\n");
    fflush(stdout);
    rc = loop_run(d.loop);
    xs_server_free(d.xs);
    loop_free(d.loop);
    return rc < 0 ? 1 : 0;
}
