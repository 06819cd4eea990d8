/* Unit tests: the daemon loop's timers and pause (loop.h) and a listener
 * that cannot drain its backlog (fd_accept.h's fd_listener): out of
 * descriptors with no spare, it leaves the loop for a back-off instead of
 * spinning, and takes the pending connection once descriptors free up. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fd_accept.h"
#include "loop.h"
#include "ratelimit.h"

/* -Wl,--wrap=open: fail the daemon's reopen of its spare (/dev/null) with
 * this errno while it is set, as when another process took the slot: the
 * slot is taken here (into g_taken), so that accept finds no room either. */
static int g_fail_open;
static int g_taken = -1;
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
    if (g_fail_open && !strcmp(path, "/dev/null")) {
        if (g_taken < 0)
            g_taken = dup(2);
        errno = g_fail_open;
        return -1;
    }
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return __real_open(path, flags, mode);
}

static uint64_t ms_since(uint64_t t0)
{
    return (mono_ns() - t0) / 1000000ull;
}

/* Timers: soonest first, not early, a cancelled one never runs. */
struct tick {
    struct loop *l;
    char name;
    char *log;
    uint64_t at_ms, t0;
    bool stop;
};

static void on_tick(void *ctx)
{
    struct tick *t = ctx;
    size_t n = strlen(t->log);
    t->log[n] = t->name;
    t->log[n + 1] = '\0';
    t->at_ms = ms_since(t->t0);
    if (t->stop)
        loop_stop(t->l);
}

static void test_timer_order(void **state)
{
    (void)state;
    struct loop *l = loop_new();
    assert_non_null(l);
    char log[8] = "";
    uint64_t t0 = mono_ns();
    struct tick a = { l, 'a', log, 0, t0, false }, b = { l, 'b', log, 0, t0, false },
                c = { l, 'c', log, 0, t0, false }, s = { l, 's', log, 0, t0, true };
    struct loop_timer ta, tb, tc, ts;
    loop_timer_init(&ta, on_tick, &a);
    loop_timer_init(&tb, on_tick, &b);
    loop_timer_init(&tc, on_tick, &c);
    loop_timer_init(&ts, on_tick, &s);
    loop_timer_arm(l, &ta, 40);
    loop_timer_arm(l, &tb, 10);
    loop_timer_arm(l, &tc, 20);
    loop_timer_arm(l, &ts, 60);
    loop_timer_cancel(l, &tc);
    loop_timer_cancel(l, &tc); /* twice: harmless */
    loop_timer_arm(l, &tb, 30); /* moved, not added twice */
    assert_int_equal(loop_run(l), 0);
    assert_string_equal(log, "bas");
    assert_true(b.at_ms >= 30);
    assert_true(a.at_ms >= 40);
    assert_true(s.at_ms >= 60);
    assert_false(ta.armed || tb.armed || tc.armed || ts.armed);
    loop_free(l);
}

/* A timer re-armed with 0 ms from its own callback runs once per round,
 * not in a loop that starves the fds. */
struct again {
    struct loop *l;
    struct loop_timer t;
    int runs;
    int pipe_rd, pipe_wr;
    bool fd_served;
};

static void on_again(void *ctx)
{
    struct again *g = ctx;
    g->runs++;
    if (g->runs == 1)
        assert_int_equal(write(g->pipe_wr, "x", 1), 1);
    if (g->fd_served || g->runs >= 1000) {
        loop_stop(g->l);
        return;
    }
    loop_timer_arm(g->l, &g->t, 0);
}

static void on_pipe(void *ctx, uint32_t events)
{
    struct again *g = ctx;
    (void)events;
    char b;
    assert_int_equal(read(g->pipe_rd, &b, 1), 1);
    g->fd_served = true;
}

static void test_timer_rearm_zero(void **state)
{
    (void)state;
    struct again g = { .l = loop_new() };
    assert_non_null(g.l);
    int p[2];
    assert_int_equal(pipe(p), 0);
    g.pipe_rd = p[0];
    g.pipe_wr = p[1];
    assert_int_equal(loop_add(g.l, p[0], EPOLLIN, on_pipe, &g), 0);
    loop_timer_init(&g.t, on_again, &g);
    loop_timer_arm(g.l, &g.t, 0);
    assert_int_equal(loop_run(g.l), 0);
    assert_true(g.fd_served);
    assert_true(g.runs <= 3);
    loop_del(g.l, p[0]);
    close(p[0]);
    close(p[1]);
    loop_free(g.l);
}

/* A paused fd that hangs up: epoll reports a hang-up whatever the events
 * asked for, so asking for none would call back (and spin) all along;
 * paused, it is out of the set: no callback until resumed, then one. */
struct hup {
    struct loop *l;
    unsigned calls;
    bool resumed;
    int fd;
    struct loop_timer t;
};

static void on_hup(void *ctx, uint32_t events)
{
    struct hup *h = ctx;
    assert_true(events & EPOLLHUP);
    h->calls++;
    if (h->resumed)
        loop_stop(h->l);
    else
        assert_int_equal(loop_pause(h->l, h->fd), 0);
}

static void on_resume(void *ctx)
{
    struct hup *h = ctx;
    h->resumed = true;
    assert_int_equal(loop_resume(h->l, h->fd), 0);
}

static void test_pause_hangup(void **state)
{
    (void)state;
    struct hup h = { .l = loop_new() };
    assert_non_null(h.l);
    int p[2];
    assert_int_equal(pipe(p), 0);
    h.fd = p[0];
    close(p[1]);                     /* hung up from the start */
    assert_int_equal(loop_add(h.l, p[0], EPOLLIN, on_hup, &h), 0);
    loop_timer_init(&h.t, on_resume, &h);
    loop_timer_arm(h.l, &h.t, 200);
    uint64_t t0 = mono_ns();
    assert_int_equal(loop_run(h.l), 0);
    /* One call before the pause, one after the resume, none between. */
    assert_int_equal(h.calls, 2);
    assert_true(ms_since(t0) >= 200);
    /* Paused again: a change of events only takes effect on resume. */
    assert_int_equal(loop_pause(h.l, p[0]), 0);
    assert_int_equal(loop_pause(h.l, p[0]), 0);
    assert_int_equal(loop_mod(h.l, p[0], EPOLLIN), 0);
    loop_del(h.l, p[0]);             /* deleting a paused fd is fine */
    assert_int_equal(loop_pause(h.l, p[0]), -ENOENT);
    close(p[0]);
    loop_free(h.l);
}

/* The listener test. */
struct lis {
    struct loop *l;
    struct fd_listener fl;
    unsigned calls;
    int accepted;
    uint64_t t0;
};

static void on_listen(void *ctx, uint32_t events)
{
    struct lis *s = ctx;
    (void)events;
    s->calls++;
    for (;;) {
        int fd = fd_listener_accept(&s->fl);
        if (fd == -ECONNABORTED)
            continue;
        if (fd < 0)
            return;
        s->accepted = fd;
        loop_stop(s->l);
        return;
    }
}

struct phase {
    struct lis *s;
    unsigned calls_at_300ms;
    int *held, nheld;
    struct rlimit old;
    uint64_t freed_ns;
};

static void on_300ms(void *ctx)
{
    struct phase *p = ctx;
    p->calls_at_300ms = p->s->calls;
    /* Descriptors free up. */
    for (int i = 0; i < p->nheld; i++)
        close(p->held[i]);
    p->nheld = 0;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &p->old), 0);
    g_fail_open = 0;
    if (g_taken >= 0)
        close(g_taken);
    g_taken = -1;
    p->freed_ns = mono_ns();
}

static void on_give_up(void *ctx)
{
    loop_stop(ctx);
}

static void test_listener_backoff(void **state)
{
    (void)state;
    assert_int_equal(fd_accept_init(), 0);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(l >= 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "loop-test-%d", (int)getpid());
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                strlen(sa.sun_path + 1));
    assert_int_equal(bind(l, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(listen(l, 8), 0);
    /* Two pending: the spare takes the first, the second stays. */
    int c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(c1, (struct sockaddr *)&sa, len), 0);
    assert_int_equal(connect(c2, (struct sockaddr *)&sa, len), 0);

    struct lis s = { .l = loop_new(), .accepted = -1 };
    assert_non_null(s.l);
    assert_int_equal(fd_listener_add(&s.fl, s.l, l, "test", on_listen, &s), 0);
    struct phase p = { .s = &s };
    struct loop_timer t300, tend;
    loop_timer_init(&t300, on_300ms, &p);
    loop_timer_init(&tend, on_give_up, s.l);
    loop_timer_arm(s.l, &t300, 300);
    loop_timer_arm(s.l, &tend, 3000);

    /* At the descriptor limit, and the spare cannot come back. */
    struct rlimit low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &p.old), 0);
    low = p.old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int held[64], x;
    p.held = held;
    while (p.nheld < 64 && (x = dup(l)) >= 0)
        held[p.nheld++] = x;
    assert_int_equal(dup(l), -1);
    assert_int_equal(errno, EMFILE);
    g_fail_open = ENFILE;

    s.t0 = mono_ns();
    assert_int_equal(loop_run(s.l), 0);
    /* Level-triggered and undrainable: without the back-off this is in
     * the hundreds of thousands. 100 ms + 200 ms: at most a few calls. */
    print_message("listener callbacks in the first 300 ms: %u\n", p.calls_at_300ms);
    assert_true(p.calls_at_300ms >= 1);
    assert_true(p.calls_at_300ms <= 5);
    /* Descriptors back: the pending connection is taken at the next
     * re-arm, within the 1 s cap of the back-off. */
    assert_true(s.accepted >= 0);
    assert_true(p.freed_ns && (mono_ns() - p.freed_ns) / 1000000ull <= 1500);
    assert_int_equal(send(c2, "k", 1, 0), 1);
    char b;
    assert_int_equal(recv(s.accepted, &b, 1, 0), 1);
    assert_int_equal(b, 'k');
    /* The first was refused: its client sees the connection closed. */
    assert_int_equal(recv(c1, &b, 1, 0), 0);

    loop_timer_cancel(s.l, &tend);
    fd_listener_del(&s.fl);
    fd_listener_del(&s.fl); /* twice: harmless */
    loop_free(s.l);
    close(s.accepted);
    close(c1);
    close(c2);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_rearm_zero),
        cmocka_unit_test(test_pause_hangup),
        cmocka_unit_test(test_listener_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
