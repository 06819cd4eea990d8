/* xensim daemon: a domain's console log.
 *
 * The first process writes to a pipe, never to the log: a descriptor of a
 * host file, reopened through /proc/self/fd/N, is the file itself on the
 * host's writable mount, whatever the domain's mounts say, so a guest could
 * truncate or rewrite its log. On Xen a guest's console log only grows. The
 * loop appends what comes through the pipe to the log (O_APPEND, held by the
 * daemon alone), one read of at most CONSOLE_CHUNK bytes per wakeup, until
 * every writer closed the pipe or the domain is destroyed. */
#ifndef XENSIM_CONSOLE_H
#define XENSIM_CONSOLE_H

#define CONSOLE_CHUNK 65536

struct loop;
struct sim_domain;

/* Relay d's console into logfd, which is taken (closed on failure too).
 * *wfd gets the pipe's write end for the first process's stdout and
 * stderr; the caller closes it once handed on. 0 or -errno. */
int console_start(struct loop *l, const struct sim_domain *d, int logfd, int *wfd);

/* domain_destroy(d, done, ctx), and once d is gone (its processes dead)
 * the rest of its console is copied and closed, before done runs, so that
 * whoever waits for the destroy finds the log complete. */
int console_destroy(struct sim_domain *d, void (*done)(void *ctx), void *ctx);

#endif
