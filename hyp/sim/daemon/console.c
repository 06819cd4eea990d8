/* xensim daemon: a domain's console log through a pipe (see console.h). */
#include "console.h"
#include "domain_ops.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a destroy copies at most from a pipe: a pipe holds 1 MiB at most
 * unless root raised pipe-max-size, and a writer outside the domain (one
 * it passed the pipe to) must not keep the destroy going. */
#define CONSOLE_DRAIN_READS 16

struct console {
    int rfd, logfd;
    uint32_t domid;
    uint64_t generation; /* the domain's, never reused: names this one */
    char name[SIM_NAME_MAX];
    bool warned; /* a log write failed and the daemon log said so */
    struct console *next;
};

static struct loop *g_loop;
static struct console *g_consoles;
static char g_buf[CONSOLE_CHUNK]; /* one loop thread: one buffer */

static struct console *find(uint64_t generation)
{
    for (struct console *c = g_consoles; c; c = c->next)
        if (c->generation == generation)
            return c;
    return NULL;
}

static void console_close(struct console *c)
{
    struct console **pp = &g_consoles;
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    loop_del(g_loop, c->rfd);
    close(c->rfd);
    close(c->logfd);
    free(c);
}

/* The log is a regular file: a write never waits. One that fails drops
 * what it had (said once in the daemon log); the next is tried again. */
static void append(struct console *c, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(c->logfd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!c->warned)
                fprintf(stderr, "xensim: domain %u (%s): cannot write its console log: %s; "
                        "its output is dropped while that lasts\n", c->domid, c->name,
                        w < 0 ? strerror(errno) : "nothing written");
            c->warned = true;
            return;
        }
        buf += w;
        n -= (size_t)w;
    }
}

/* One read, or false at the pipe's end (EOF, or an error). */
static bool copy_once(struct console *c)
{
    ssize_t n = read(c->rfd, g_buf, sizeof(g_buf));
    if (n > 0) {
        append(c, g_buf, (size_t)n);
        return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* What the domain wrote before it was gone, bounded; then closed. */
static void drain_and_close(struct console *c)
{
    for (int i = 0; i < CONSOLE_DRAIN_READS; i++) {
        ssize_t n = read(c->rfd, g_buf, sizeof(g_buf));
        if (n <= 0)
            break;
        append(c, g_buf, (size_t)n);
    }
    console_close(c);
}

static void on_console(void *ctx, uint32_t events)
{
    (void)events;
    struct console *c = ctx;
    /* Gone without console_destroy (its monitor died): what is left is its
     * last words; a writer it passed the pipe to must not outlive it. */
    struct sim_domain *d = domain_by_id(c->domid);
    if (!d || d->generation != c->generation) {
        drain_and_close(c);
        return;
    }
    if (!copy_once(c))
        console_close(c);
}

int console_start(struct loop *l, const struct sim_domain *d, int logfd, int *wfd)
{
    g_loop = l;
    struct console *c = calloc(1, sizeof(*c));
    int p[2];
    if (!c || pipe2(p, O_CLOEXEC) < 0) {
        int e = c ? errno : ENOMEM;
        free(c);
        close(logfd);
        return -e;
    }
    /* Only the daemon's end waits for nothing; the guest's writes block
     * as on any pipe. */
    int r = fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
    if (!r)
        r = loop_add(l, p[0], EPOLLIN, on_console, c);
    if (r) {
        close(p[0]);
        close(p[1]);
        close(logfd);
        free(c);
        return r;
    }
    *c = (struct console){ .rfd = p[0], .logfd = logfd, .domid = d->domid,
                           .generation = d->generation, .next = g_consoles };
    snprintf(c->name, sizeof(c->name), "%s", d->name);
    g_consoles = c;
    *wfd = p[1];
    return 0;
}

struct gone {
    uint64_t generation;
    void (*done)(void *ctx);
    void *ctx;
};

static void on_gone(void *ctx)
{
    struct gone *g = ctx;
    /* Looked up, not kept: the console may have ended at its EOF. */
    struct console *c = find(g->generation);
    if (c)
        drain_and_close(c);
    if (g->done)
        g->done(g->ctx);
    free(g);
}

int console_destroy(struct sim_domain *d, void (*done)(void *ctx), void *ctx)
{
    struct gone *g = find(d->generation) ? malloc(sizeof(*g)) : NULL;
    /* Without one (no console, or no memory) the console ends at its EOF,
     * which the domain's end brings. */
    if (!g)
        return domain_destroy(d, done, ctx);
    *g = (struct gone){ .generation = d->generation, .done = done, .ctx = ctx };
    int r = domain_destroy(d, on_gone, g);
    if (r)
        free(g);
    return r;
}
