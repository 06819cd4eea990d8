/* xensim daemon: who is on the other end of a socket.
 *
 * A domain is a PID namespace whose init (the domain monitor) the daemon
 * started. A peer's domain is read from what the peer process is (its PID
 * namespace, via SO_PEERPIDFD / SO_PEERCRED), never from anything it sends:
 * a process cannot leave its PID namespace, so it cannot act as another
 * domain. Processes in the host's namespace are domain 0. */
#ifndef XENSIM_IDENT_H
#define XENSIM_IDENT_H

#include <stdint.h>
#include <sys/types.h>

/* Remember the daemon's own PID namespace (= dom0's). Call once at start. */
int ident_init(void);
/* Domain id of the process connected on unix socket fd, or -errno
 * (-ESRCH: the process is gone; -EPERM: it is in a namespace that is no
 * domain of this host). */
int ident_socket_domid(int fd);
/* Same, for a pid. */
int ident_pid_domid(pid_t pid);
/* The PID-namespace inode of pid (for the domain table), or 0 on error. */
uint64_t ident_pidns_of(pid_t pid);

#endif
