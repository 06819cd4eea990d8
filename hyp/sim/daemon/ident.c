/* xensim daemon: who is on the other end of a socket (see ident.h). */
#include "ident.h"
#include "domain.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static uint64_t host_pidns;

uint64_t ident_pidns_of(pid_t pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
    if (stat(path, &st) < 0)
        return 0;
    return (uint64_t)st.st_ino;
}

int ident_init(void)
{
    host_pidns = ident_pidns_of(getpid());
    return host_pidns ? 0 : -ENOSYS;
}

static int domid_of_pidns(uint64_t ns)
{
    if (ns == 0)
        return -ESRCH;
    if (ns == host_pidns)
        return 0;
    struct sim_domain *d = domain_by_pidns(ns);
    return d ? (int)d->domid : -EPERM;
}

int ident_pid_domid(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ESRCH;
    /* A process may nest PID namespaces inside its domain (unshare -p): it
     * is still in that domain, so walk up to the first namespace we know.
     * It can never climb out of its domain's namespace, only deeper.  Only
     * the host's namespace itself is Domain-0: one below it that is no
     * domain of ours (another xensim host's domain, a container) is not,
     * though its walk ends at the host's. */
    int domid = -EPERM;
    for (int depth = 0; depth < 32; depth++) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
            domid = -errno;
            break;
        }
        domid = domid_of_pidns((uint64_t)st.st_ino);
        if (domid == 0 && depth > 0)
            domid = -EPERM;
        if (domid != -EPERM || (depth > 0 && (uint64_t)st.st_ino == host_pidns))
            break;
        int parent = ioctl(fd, NS_GET_PARENT);
        if (parent < 0)
            break; /* top of what we may see: not a domain of this host */
        close(fd);
        fd = parent;
    }
    close(fd);
    return domid;
}

int ident_socket_domid(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    if (cred.pid <= 0)
        return -ESRCH;

    /* The pid in SO_PEERCRED could be reused by another process between the
     * peer's connect and our /proc lookup. A pidfd taken from the socket
     * pins the original process: if it is still alive after the lookup, the
     * namespace we read is really the peer's. */
    int pidfd = -1;
    len = sizeof(pidfd);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
        /* Only a kernel without the option (before 6.5) leaves us the
         * bare pid.  Any other failure (EINVAL from 6.5 to 6.15: the
         * peer was reaped) means its pid may already be another
         * process's, Domain-0's perhaps: no answer but "gone". */
        if (errno != ENOPROTOOPT)
            return -ESRCH;
        pidfd = -1;
    }
    int domid = ident_pid_domid(cred.pid);
    if (pidfd >= 0) {
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
            domid = -ESRCH;
        close(pidfd);
    }
    return domid;
}
