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
    if (fd >= 0) {
        if (g_spare < 0) /* lost to ENFILE: take it back while there is room */
            g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
        return fd;
    }
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK)
        return -EAGAIN;
    if (e == ECONNABORTED || e == EINTR)
        return -ECONNABORTED;
    if (e != EMFILE && e != ENFILE)
        return -e;
    if (g_spare < 0) /* lost earlier: try to take it back first */
        g_spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (g_spare < 0)
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

static void listener_rearm(void *ctx)
{
    struct fd_listener *fl = ctx;
    /* Level-triggered: a connection still pending fires at once. */
    int r = loop_resume(fl->loop, fl->fd);
    if (r < 0) { /* cannot happen for a registered fd; retry rather than lose it */
        fprintf(stderr, "xensim: cannot re-arm the %s listener: %s\n",
                fl->what, strerror(-r));
        loop_timer_arm(fl->loop, &fl->rearm, fl->backoff_ms);
    }
}

int fd_listener_add(struct fd_listener *fl, struct loop *loop, int fd,
                    const char *what, loop_cb cb, void *ctx)
{
    *fl = (struct fd_listener){ .loop = loop, .fd = fd, .what = what };
    loop_timer_init(&fl->rearm, listener_rearm, fl);
    return loop_add(loop, fd, EPOLLIN, cb, ctx);
}

void fd_listener_del(struct fd_listener *fl)
{
    if (!fl->loop)
        return;
    loop_timer_cancel(fl->loop, &fl->rearm);
    loop_del(fl->loop, fl->fd);
    fl->loop = NULL;
}

int fd_listener_accept(struct fd_listener *fl)
{
    int fd = fd_accept(fl->fd, fl->what);
    if (fd >= 0) {
        fl->backoff_ms = 0;
        return fd;
    }
    if (fd == -EAGAIN || fd == -ECONNABORTED)
        return fd;
    /* The pending connection stays, and with it a readable listener: out
     * of the loop until the back-off ends, or the loop would spin. */
    fl->backoff_ms = !fl->backoff_ms ? FD_LISTENER_BACKOFF_MIN_MS
                     : fl->backoff_ms >= FD_LISTENER_BACKOFF_MAX_MS / 2
                         ? FD_LISTENER_BACKOFF_MAX_MS
                         : fl->backoff_ms * 2;
    int r = loop_pause(fl->loop, fl->fd);
    loop_timer_arm(fl->loop, &fl->rearm, fl->backoff_ms);
    fl->paused++;
    if (log_due(&fl->logged_ns)) {
        fprintf(stderr, "xensim: cannot accept %s connections (%s): "
                "listener paused %u time(s), now for %u ms%s%s\n",
                fl->what, strerror(-fd), fl->paused, fl->backoff_ms,
                r < 0 ? "; pausing it failed: " : "", r < 0 ? strerror(-r) : "");
        fl->paused = 0;
    }
    return fd;
}
