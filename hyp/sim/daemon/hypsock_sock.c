/* xensim daemon: the hyp.sock listener and the socket side of each
 * connection: receive a request with its fds, hand it to hypsock.c, send
 * the reply back. See hypsock.h. */
#include "hypsock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd_accept.h"
#include "fd_budget.h"
#include "ident.h"
#include "loop.h"
#include "proto.h"

/* A connection's socket side. */
struct sock_conn {
    int fd;
    uint32_t domid; /* charged for fd (fd_budget.h) */
    struct hypsock_conn *c;
};

static struct loop *g_loop;
static int g_listen_fd = -1;
static struct fd_listener g_listener;
/* One request at a time (single thread): a shared buffer. */
static unsigned char g_req[XSP_MSG_MAX];

static int sock_send(void *ctx, uint32_t op, int err, const void *body,
                     size_t len, const int *fds, unsigned nfds)
{
    struct sock_conn *s = ctx;
    return xsp_send_reply(s->fd, op, err, body, len, fds, nfds);
}

static void sock_closed(void *ctx)
{
    struct sock_conn *s = ctx;
    loop_del(g_loop, s->fd);
    close(s->fd);
    fd_uncharge(s->domid, 1);
    free(s);
}

static const struct hypsock_transport sock_transport = {
    .send = sock_send, .closed = sock_closed,
};

/* Whether the client still holds a reply unread.  The protocol is one
 * request at a time: a client that sends the next before it reads the
 * last (proto.h) could fill the socket and make the daemon, one thread,
 * wait on every send to it while no other domain is served. */
static bool reply_unread(int fd)
{
    int queued = 0;
    return ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 0;
}

static void on_conn(void *ctx, uint32_t events)
{
    struct sock_conn *s = ctx;
    int fds[2];
    unsigned nfds = 0;
    long n = xsp_recv(s->fd, g_req, sizeof(g_req), fds, 2, &nfds);
    if (n == -EAGAIN)
        return;
    bool ok = n > 0 && !reply_unread(s->fd) &&
              hypsock_conn_request(s->c, g_req, (size_t)n, fds, nfds) == 0;
    for (unsigned i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    /* EOF, error, hang-up or a protocol violation: release everything. */
    if (!ok || (events & (EPOLLHUP | EPOLLERR) && n <= 0))
        hypsock_conn_close(s->c);
}

static void on_listen(void *ctx, uint32_t events)
{
    (void)ctx;
    (void)events;
    for (;;) {
        int fd = fd_listener_accept(&g_listener);
        if (fd == -ECONNABORTED)
            continue;
        if (fd < 0)
            return; /* EAGAIN, or paused for a back-off (fd_accept.h) */
        /* Who it is, from what the process is; never from what it says. */
        int domid = ident_socket_domid(fd);
        /* Over budget: closed unanswered; the library's HELLO sees EOF. */
        if (domid < 0 || fd_charge((uint32_t)domid, 1, "hyp.sock connection")) {
            close(fd);
            continue;
        }
        struct sock_conn *s = calloc(1, sizeof(*s));
        if (!s) {
            fd_uncharge((uint32_t)domid, 1);
            close(fd);
            continue;
        }
        s->fd = fd;
        s->domid = (uint32_t)domid;
        s->c = hypsock_conn_new((uint32_t)domid, &sock_transport, s);
        if (!s->c || loop_add(g_loop, fd, EPOLLIN, on_conn, s) < 0) {
            if (s->c)
                hypsock_conn_close(s->c); /* closes fd, frees s */
            else {
                fd_uncharge(s->domid, 1);
                close(fd);
                free(s);
            }
            continue;
        }
    }
}

void hypsock_shutdown(void)
{
    hypsock_conn_close_all();
    if (g_listen_fd >= 0) {
        fd_listener_del(&g_listener);
        close(g_listen_fd);
        g_listen_fd = -1;
    }
}

int hypsock_listen(struct loop *loop, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, 0600) < 0 || listen(fd, 128) < 0)
        rc = -errno;
    if (!rc) {
        g_loop = loop;
        rc = fd_listener_add(&g_listener, loop, fd, "hypervisor", on_listen, NULL);
    }
    if (rc) {
        close(fd);
        return rc;
    }
    g_listen_fd = fd;
    return 0;
}
