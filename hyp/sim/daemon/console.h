/* xensim daemon: a domain's console log.
 *
 * The first process writes to a pipe, never to the log: a descriptor of a
 * host file, reopened through /proc/self/fd/N, is the file itself on the
 * host's writable mount, whatever the domain's mounts say, so a guest could
 * truncate or rewrite its log. On Xen a guest's console log only grows. The
 * loop appends what comes through the pipe to the log (O_APPEND, held by the
 * daemon alone), one read of at most CONSOLE_CHUNK bytes per wakeup, until
 * every writer closed the pipe or the domain is destroyed.
 *
 * Bounded, as a guest is on Xen (xenconsoled's rate limit over a 2 KiB
 * ring): the log keeps at most its cap of bytes, then one line saying
 * so; what comes after is read and counted, not kept. A token bucket paces the
 * reads: a domain over its rate is left unread until its bucket refills,
 * so its writes block on the full pipe and it costs the daemon nothing. */
#ifndef XENSIM_CONSOLE_H
#define XENSIM_CONSOLE_H

#include <stdint.h>

#define CONSOLE_CHUNK 65536
/* The log's default cap (xl.cfg xensim_console_limit sets another). */
#define CONSOLE_LIMIT_DEFAULT (16u << 20)
/* 1 MiB/s, bursts of 256 KiB: Xen lets ~300 KiB/s through (30 reads of a
 * 2 KiB ring per 200 ms); a process logs more freely than a kernel, and
 * 1 MiB/s is more than anyone reads yet 16 reads a second for the daemon.
 * The burst lets a start-up banner or a stack dump through at once. */
#define CONSOLE_RATE (1u << 20)
#define CONSOLE_BURST (256u << 10)

struct loop;
struct sim_domain;

/* Relay d's console into logfd, which is taken (closed on failure too),
 * keeping at most limit bytes of it (0: CONSOLE_LIMIT_DEFAULT).
 * *wfd gets the pipe's write end for the first process's stdout and
 * stderr; the caller closes it once handed on. 0 or -errno. */
int console_start(struct loop *l, const struct sim_domain *d, int logfd, uint32_t limit,
                  int *wfd);

/* domain_destroy(d, done, ctx), and once d is gone (its processes dead)
 * the rest of its console is copied and closed, before done runs, so that
 * whoever waits for the destroy finds the log complete. */
int console_destroy(struct sim_domain *d, void (*done)(void *ctx), void *ctx);

#endif
