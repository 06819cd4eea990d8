/* xensim daemon: the single-threaded epoll loop every table plugs into.
 *
 * Locking rule: there is none. The daemon is one thread; every callback runs
 * to completion on it, so table code never races with itself. Anything that
 * could block (a slow peer) must use non-blocking fds and queue. */
#ifndef XENSIM_LOOP_H
#define XENSIM_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

struct loop;
typedef void (*loop_cb)(void *ctx, uint32_t events);

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Register fd (EPOLLIN/EPOLLOUT/...); cb(ctx, events) runs when ready. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_cb cb, void *ctx);
int loop_mod(struct loop *l, int fd, uint32_t events);
/* Take fd out of the loop until loop_resume() (no callback, not even for an
 * error or hang-up, also none left from this round); loop_mod() while
 * paused only changes what resume asks for. 0 if already so. */
int loop_pause(struct loop *l, int fd);
int loop_resume(struct loop *l, int fd);
/* Safe to call from inside any callback, also for the fd being served. */
void loop_del(struct loop *l, int fd);
/* Run until loop_stop(); returns 0 or -errno. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* Run fn(ctx) once after the current round of callbacks (deferred work). */
int loop_defer(struct loop *l, void (*fn)(void *ctx), void *ctx);

/* One-shot timers on the monotonic clock, for the rare back-off (a few at
 * a time): the loop keeps the armed ones in a list sorted by deadline and
 * sleeps in epoll_wait no longer than the nearest one; no fd per timer.
 * The caller owns the struct (nothing to allocate, nothing to fail) and
 * must cancel it before freeing it. An expired timer runs after the
 * round's fd callbacks and deferred work; fn may re-arm or cancel any
 * timer. One armed from a timer callback never runs in the same pass. */
struct loop_timer {
    uint64_t due_ns;
    void (*fn)(void *ctx);
    void *ctx;
    struct loop_timer *next;
    bool armed;
};
void loop_timer_init(struct loop_timer *t, void (*fn)(void *ctx), void *ctx);
/* Run t's fn once, ms milliseconds from now; an armed t is moved. */
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint32_t ms);
/* Disarm t; harmless if it is not armed. */
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

#endif
