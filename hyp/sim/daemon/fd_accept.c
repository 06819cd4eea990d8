/* xensim daemon: accept with a spare descriptor. See fd_accept.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "fd_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ratelimit.h"

static int g_spare = -1;
static uint64_t g_logged_ns;
static unsigned g_refused;

int fd_accept_init(void)
{
    if (g_spare < 0)
        g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return g_spare < 0 ? -errno : 0;
}

int fd_accept(int listen_fd, const char *what)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK)
        return -EAGAIN;
    if (e == ECONNABORTED || e == EINTR)
        return -ECONNABORTED;
    if ((e != EMFILE && e != ENFILE) || g_spare < 0)
        return -e;
    /* Out of descriptors: the connection would stay pending and the
     * listener readable forever. Free the spare, take the connection with
     * it and close it, then take the spare back. */
    close(g_spare);
    g_spare = -1;
    fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    int e2 = errno;
    if (fd >= 0)
        close(fd);
    g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) /* the kernel says EMFILE before it looks for a connection */
        return e2 == EAGAIN || e2 == EWOULDBLOCK ? -EAGAIN : -e;
    g_refused++;
    if (log_due(&g_logged_ns)) { /* refusals can come fast */
        fprintf(stderr, "xensim: out of descriptors (%s): refused %u %s connection(s)\n",
                strerror(e), g_refused, what);
        g_refused = 0;
    }
    return -ECONNABORTED;
}
