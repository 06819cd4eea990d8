/* xensim daemon: a domain's console log through a pipe (see console.h). */
#include "console.h"
#include "domain_ops.h"
#include "loop.h"
#include "ratelimit.h"

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
/* How long an emptied bucket rests: a chunk's worth at CONSOLE_RATE, so a
 * flood costs one read of a full chunk per wakeup. */
#define CONSOLE_REFILL_MS (1000u * CONSOLE_CHUNK / CONSOLE_RATE)

struct console {
    int rfd, logfd;
    uint32_t domid;
    uint64_t generation; /* the domain's, never reused: names this one */
    char name[SIM_NAME_MAX];
    bool warned; /* a log write failed and the daemon log said so */
    bool capped;   /* the limit was passed: its notice is in the log */
    bool mid_line; /* the last byte kept was not a newline */
    uint64_t limit, kept, dropped; /* bytes of the domain's output */
    uint64_t tokens, refill_ns;    /* the bucket, and when it was filled */
    struct loop_timer refilled;    /* armed while the pipe is left unread */
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
    if (c->dropped)
        fprintf(stderr, "xensim: domain %u (%s): console closed; %llu bytes were dropped past "
                "its log limit of %llu bytes\n", c->domid, c->name,
                (unsigned long long)c->dropped, (unsigned long long)c->limit);
    loop_timer_cancel(g_loop, &c->refilled);
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

/* Into the log up to its limit; past it one notice, then only counted. */
static void keep(struct console *c, const char *buf, size_t n)
{
    uint64_t room = c->limit - c->kept;
    size_t k = n < room ? n : (size_t)room;
    if (k) {
        append(c, buf, k);
        c->kept += k;
        c->mid_line = buf[k - 1] != '\n';
    }
    if (k == n)
        return;
    c->dropped += n - k;
    if (c->capped)
        return;
    c->capped = true;
    char note[128];
    int len = snprintf(note, sizeof(note),
                       "%s[xensim: console log limit of %llu bytes reached; further output "
                       "dropped]\n", c->mid_line ? "\n" : "", (unsigned long long)c->limit);
    append(c, note, (size_t)len);
    fprintf(stderr, "xensim: domain %u (%s): console log limit of %llu bytes reached; "
            "its further output is dropped (counted at its end)\n", c->domid, c->name,
            (unsigned long long)c->limit);
}

/* What the bucket earned since it was last filled, up to the burst. The
 * clock is only moved on when a byte was earned, so that wakeups close
 * together do not each lose their fraction of one. */
static void refill(struct console *c)
{
    uint64_t now = mono_ns(), dt = now - c->refill_ns;
    uint64_t add = dt >= 1000000000ull ? CONSOLE_BURST : dt * CONSOLE_RATE / 1000000000ull;
    if (!add && c->tokens < CONSOLE_BURST)
        return;
    c->tokens = c->tokens + add < CONSOLE_BURST ? c->tokens + add : CONSOLE_BURST;
    c->refill_ns = now;
}

/* Leave the pipe unread until the bucket refilled; false if it cannot be. */
static bool rest(struct console *c)
{
    if (loop_pause(g_loop, c->rfd))
        return false;
    loop_timer_arm(g_loop, &c->refilled, CONSOLE_REFILL_MS);
    return true;
}

static void on_refilled(void *ctx)
{
    struct console *c = ctx;
    /* Never left paused for good: the guest would wait on its pipe forever. */
    if (loop_resume(g_loop, c->rfd))
        loop_timer_arm(g_loop, &c->refilled, CONSOLE_REFILL_MS);
}

/* One read, as much as the bucket allows, or false at the pipe's end (EOF,
 * or an error). */
static bool copy_once(struct console *c)
{
    refill(c);
    if (!c->tokens && rest(c))
        return true;
    /* Empty but the pipe could not be paused (no memory in epoll): read on
     * rather than spin on a ready pipe. */
    size_t want = c->tokens && c->tokens < sizeof(g_buf) ? (size_t)c->tokens : sizeof(g_buf);
    ssize_t n = read(c->rfd, g_buf, want);
    if (n > 0) {
        keep(c, g_buf, (size_t)n);
        c->tokens -= (uint64_t)n < c->tokens ? (uint64_t)n : c->tokens;
        if (!c->tokens)
            rest(c);
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
        keep(c, g_buf, (size_t)n);
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

int console_start(struct loop *l, const struct sim_domain *d, int logfd, uint32_t limit,
                  int *wfd)
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
                           .generation = d->generation, .next = g_consoles,
                           .limit = limit ? limit : CONSOLE_LIMIT_DEFAULT,
                           .tokens = CONSOLE_BURST, .refill_ns = mono_ns() };
    loop_timer_init(&c->refilled, on_refilled, c);
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
