/* xensim: what a domain's processes may reach of the machine.
 *
 * A domain's processes are the host's uid 0 with no capability. Without
 * more, uid 0 owns every root-owned file: /etc, the kernel's sysctls
 * (core_pattern runs a program as the host's root), sysfs, raw disks in
 * /dev, root's sockets in /run. So, in the domain's own mount and network
 * namespaces, before the capabilities go:
 *   - every mount is read-only, /sys included;
 *   - /proc is the domain's own, writable for its processes' own files,
 *     read-only for sysctls, sysrq-trigger and the like, root's keys
 *     masked;
 *   - /dev is a small tmpfs: null, zero, full, random, urandom, tty, a
 *     devpts of its own (ptmx) and a /dev/shm of its own;
 *   - /run is a tmpfs of its own (root's daemons' sockets are not there);
 *   - /tmp and /var/tmp are there read-only (tests and CI keep there the
 *     programs a domain runs), but for the folder holding the host's
 *     folder when it is one of its own below them (a test's work folder):
 *     writable, and the folders above the host's folder are mount points,
 *     which a domain cannot rename away;
 *   - /dev/shm (64 MiB), /run (16 MiB) and devpts (64 ptys) are bounded;
 *   - at the host folder's path (even under /run) a read-only tmpfs with
 *     the daemon's three sockets only: no console log of another domain,
 *     no daemon's log;
 *   - the network is a namespace with only a loopback;
 *   - its processes and threads number below DOM_PID_MAX: the pid_max
 *     of its PID namespace (Linux 6.14; before, pid_max is the
 *     machine's, and only the domain's cgroup bounds them: dom_cgroup.h,
 *     which bounds its memory too).
 * What is left: sockets of root's daemons in the work folder or under
 * /var/lib accept a guest's connection as root's; per-user kernel limits
 * (inotify instances, say) are counted with the host root's. */
#ifndef XENSIM_DOM_ISOLATE_H
#define XENSIM_DOM_ISOLATE_H

#include <stdbool.h>

/* A domain's pid_max: room for a guest's daemons and jobs, well below a
 * host's (32768 and up). The kernel's least is 301. */
#define DOM_PID_MAX 1024

/* Run as pid 1 of a new domain, in new mount and network namespaces, with
 * every capability still held. 0, or -errno with *what naming the step.
 * On 0, *pids is 0 when pid_max bounds the domain's processes, else why
 * not: -ECANCELED when pid_max is false (not to be used), -EOPNOTSUPP on
 * a kernel before 6.14, or the write's -errno. */
int dom_isolate_mounts(const char *host_dir, bool pid_max, const char **what, int *pids);

#endif
