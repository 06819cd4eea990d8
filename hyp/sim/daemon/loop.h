/* xensim daemon: the single-threaded epoll loop every table plugs into.
 *
 * Locking rule: there is none. The daemon is one thread; every callback runs
 * to completion on it, so table code never races with itself. Anything that
 * could block (a slow peer) must use non-blocking fds and queue. */
#ifndef XENSIM_LOOP_H
#define XENSIM_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct loop;
typedef void (*loop_cb)(void *ctx, uint32_t events);

struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Register fd (EPOLLIN/EPOLLOUT/...); cb(ctx, events) runs when ready. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_cb cb, void *ctx);
int loop_mod(struct loop *l, int fd, uint32_t events);
/* Safe to call from inside any callback, also for the fd being served. */
void loop_del(struct loop *l, int fd);
/* Run until loop_stop(); returns 0 or -errno. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* Run fn(ctx) once after the current round of callbacks (deferred work). */
int loop_defer(struct loop *l, void (*fn)(void *ctx), void *ctx);

#endif
