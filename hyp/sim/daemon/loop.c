/* xensim daemon: single-threaded epoll loop. See loop.h for the rules. */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "ratelimit.h"

/* One registration per fd. Deleted entries are parked on a free list and
 * only reclaimed between rounds, so an epoll event already fetched for an
 * fd deleted earlier in the same round finds a dead entry, not freed memory. */
struct watch {
    int fd;
    bool dead;
    bool paused;      /* out of the epoll set (loop_pause) */
    uint32_t events;  /* what to ask for again on loop_resume */
    loop_cb cb;
    void *ctx;
    struct watch *next_dead;
};

struct deferred {
    void (*fn)(void *);
    void *ctx;
    struct deferred *next;
};

struct loop {
    int epfd;
    bool stop;
    struct watch **by_fd; /* index: fd */
    size_t by_fd_len;
    struct watch *dead;
    struct deferred *defer_head, **defer_tail;
    struct loop_timer *timers; /* armed, soonest first */
    uint64_t expiring_ns;      /* while running timers: their "now" */
};

struct loop *loop_new(void)
{
    struct loop *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        free(l);
        return NULL;
    }
    l->defer_tail = &l->defer_head;
    return l;
}

static void reap_dead(struct loop *l)
{
    while (l->dead) {
        struct watch *w = l->dead;
        l->dead = w->next_dead;
        free(w);
    }
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->by_fd_len; i++)
        free(l->by_fd[i]);
    reap_dead(l);
    while (l->defer_head) {
        struct deferred *d = l->defer_head;
        l->defer_head = d->next;
        free(d);
    }
    free(l->by_fd);
    close(l->epfd);
    free(l);
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_cb cb, void *ctx)
{
    if (fd < 0 || !cb)
        return -EINVAL;
    if ((size_t)fd >= l->by_fd_len) {
        size_t n = l->by_fd_len ? l->by_fd_len : 64;
        while (n <= (size_t)fd)
            n *= 2;
        struct watch **t = realloc(l->by_fd, n * sizeof(*t));
        if (!t)
            return -ENOMEM;
        for (size_t i = l->by_fd_len; i < n; i++)
            t[i] = NULL;
        l->by_fd = t;
        l->by_fd_len = n;
    }
    if (l->by_fd[fd])
        return -EEXIST;
    struct watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    *w = (struct watch){ .fd = fd, .cb = cb, .ctx = ctx, .events = events };
    struct epoll_event ev = { .events = events, .data.ptr = w };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        free(w);
        return -e;
    }
    l->by_fd[fd] = w;
    return 0;
}

/* The registered watch of fd, or NULL. */
static struct watch *watch_of(const struct loop *l, int fd)
{
    return fd >= 0 && (size_t)fd < l->by_fd_len ? l->by_fd[fd] : NULL;
}

int loop_mod(struct loop *l, int fd, uint32_t events)
{
    struct watch *w = watch_of(l, fd);
    if (!w)
        return -ENOENT;
    w->events = events;
    if (w->paused)
        return 0;
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

/* Out of the set, not just asking for nothing: epoll reports an error or a
 * hang-up whatever the events asked for, level-triggered, so a paused fd
 * that hangs up would make the loop spin. */
int loop_pause(struct loop *l, int fd)
{
    struct watch *w = watch_of(l, fd);
    if (!w)
        return -ENOENT;
    if (w->paused)
        return 0;
    if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
        return -errno;
    w->paused = true;
    return 0;
}

int loop_resume(struct loop *l, int fd)
{
    struct watch *w = watch_of(l, fd);
    if (!w)
        return -ENOENT;
    if (!w->paused)
        return 0;
    struct epoll_event ev = { .events = w->events, .data.ptr = w };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    w->paused = false;
    return 0;
}

void loop_del(struct loop *l, int fd)
{
    struct watch *w = watch_of(l, fd);
    if (!w)
        return;
    if (!w->paused)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    l->by_fd[fd] = NULL;
    w->dead = true;
    w->next_dead = l->dead;
    l->dead = w;
}

int loop_defer(struct loop *l, void (*fn)(void *ctx), void *ctx)
{
    struct deferred *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->fn = fn;
    d->ctx = ctx;
    *l->defer_tail = d;
    l->defer_tail = &d->next;
    return 0;
}

static void run_deferred(struct loop *l)
{
    /* Work deferred by deferred work runs in the next round, not now, so
     * one producer cannot starve the fds. */
    struct deferred *d = l->defer_head;
    l->defer_head = NULL;
    l->defer_tail = &l->defer_head;
    while (d) {
        struct deferred *next = d->next;
        d->fn(d->ctx);
        free(d);
        d = next;
    }
}

void loop_timer_init(struct loop_timer *t, void (*fn)(void *ctx), void *ctx)
{
    *t = (struct loop_timer){ .fn = fn, .ctx = ctx };
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (!t->armed)
        return;
    struct loop_timer **pp = &l->timers;
    while (*pp != t)
        pp = &(*pp)->next;
    *pp = t->next;
    t->next = NULL;
    t->armed = false;
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint32_t ms)
{
    loop_timer_cancel(l, t);
    t->due_ns = mono_ns() + (uint64_t)ms * 1000000ull;
    /* Armed by a timer callback: due after the pass that runs it, so that
     * a 0 ms re-arm cannot keep the pass going forever. */
    if (l->expiring_ns && t->due_ns <= l->expiring_ns)
        t->due_ns = l->expiring_ns + 1;
    struct loop_timer **pp = &l->timers;
    while (*pp && (*pp)->due_ns <= t->due_ns) /* FIFO among equal deadlines */
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    t->armed = true;
}

static void run_timers(struct loop *l)
{
    uint64_t now = mono_ns();
    l->expiring_ns = now;
    while (l->timers && l->timers->due_ns <= now && !l->stop) {
        struct loop_timer *t = l->timers;
        l->timers = t->next;
        t->next = NULL;
        t->armed = false;
        t->fn(t->ctx);
    }
    l->expiring_ns = 0;
}

/* epoll_wait's timeout: 0 with work pending, up to the nearest timer,
 * rounded up so that the timer has expired when the wait ends. */
static int wait_ms(const struct loop *l)
{
    if (l->defer_head)
        return 0;
    if (!l->timers)
        return -1;
    uint64_t now = mono_ns();
    if (l->timers->due_ns <= now)
        return 0;
    uint64_t ms = (l->timers->due_ns - now + 999999ull) / 1000000ull;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

int loop_run(struct loop *l)
{
    struct epoll_event evs[64];
    l->stop = false;
    while (!l->stop) {
        int timeout = wait_ms(l);
        int n = epoll_wait(l->epfd, evs, 64, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n && !l->stop; i++) {
            struct watch *w = evs[i].data.ptr;
            if (!w->dead && !w->paused) /* paused in this round */
                w->cb(w->ctx, evs[i].events);
        }
        run_deferred(l);
        run_timers(l);
        reap_dead(l);
    }
    return 0;
}

void loop_stop(struct loop *l)
{
    l->stop = true;
}
