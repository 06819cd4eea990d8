/* xensim daemon: accepting on a listener when out of descriptors.
 *
 * With a level-triggered listener, a connection that accept() cannot take
 * (EMFILE, ENFILE) keeps the listener readable: the loop would spin on it.
 * A spare descriptor, kept open for this, makes room to take the
 * connection and close it. When even that fails (no spare: ENFILE, another
 * process took the slot; or another error), a listener served through
 * struct fd_listener leaves the loop for a back-off and comes back. */
#ifndef XENSIM_FD_ACCEPT_H
#define XENSIM_FD_ACCEPT_H

#include <stdint.h>

#include "loop.h"

/* Open the spare (once); 0 or -errno. */
int fd_accept_init(void);

/* accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC) that does
 * not leave a pending connection behind when the daemon is out of
 * descriptors: it is taken with the spare and closed (the client sees the
 * connection closed, the refusal is logged), so that the level-triggered
 * listener does not spin. Returns the new fd; -EAGAIN: nothing pending;
 * -ECONNABORTED: one connection is gone (refused, or its client left),
 * call again; another -errno: stop until the next event. */
int fd_accept(int listen_fd, const char *what);

/* A listening socket in the loop that steps out of it while its backlog
 * cannot be drained, instead of spinning. */
struct fd_listener {
    struct loop *loop;
    int fd;
    const char *what;      /* for the log: "hypervisor", "xenstore", ... */
    uint32_t backoff_ms;   /* 0: in the loop; else the current pause */
    uint32_t paused;       /* pauses since the last log line */
    uint64_t logged_ns;
    struct loop_timer rearm;
};

/* Back-off of a listener that cannot accept: first pause, and the cap it
 * doubles to while the trouble lasts; a connection taken resets it. */
#define FD_LISTENER_BACKOFF_MIN_MS 100u
#define FD_LISTENER_BACKOFF_MAX_MS 1000u

/* loop_add(loop, fd, EPOLLIN, cb, ctx), remembering what fl needs. */
int fd_listener_add(struct fd_listener *fl, struct loop *loop, int fd,
                    const char *what, loop_cb cb, void *ctx);
/* loop_del and cancel a pending re-arm; fd stays open. Harmless twice. */
void fd_listener_del(struct fd_listener *fl);
/* fd_accept() on fl->fd, with the same results. On an error that leaves
 * the backlog undrained (anything but -EAGAIN and -ECONNABORTED), fl is
 * out of the loop until the back-off ends (logged, rate-limited): the
 * caller just returns. */
int fd_listener_accept(struct fd_listener *fl);

#endif
