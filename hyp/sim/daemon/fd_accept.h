/* xensim daemon: accepting on a listener when out of descriptors.
 *
 * With a level-triggered listener, a connection that accept() cannot take
 * (EMFILE, ENFILE) keeps the listener readable: the loop would spin on it.
 * A spare descriptor, kept open for this, makes room to take the
 * connection and close it. */
#ifndef XENSIM_FD_ACCEPT_H
#define XENSIM_FD_ACCEPT_H

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

#endif
