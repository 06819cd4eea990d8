/* evtchn-sim: xensim's drop-in libxenevtchn against the daemon, for real
 * (cmocka). Runs in dom0 of a private xensim host (evtchn-sim.sh), where the
 * library path loads the drop-in; every channel is a loopback in dom0.
 *
 * - A hostile port owner (a child process) makes every fd it holds
 *   blocking, fills its port's pipe through a writer it opened itself and
 *   never reads: its peer's xenevtchn_notify() must still return, every
 *   time, and once the owner takes its event (pending, unmask) it must get
 *   the next notify.
 * - A flood of notifies that the owner does not read loses no later
 *   wake-up after a pending()+unmask cycle; pending() drains the pipe of
 *   the port it returns (boundedly).
 * - An event that comes while the port is masked does not make the fd
 *   readable (Linux disables the port; its ring stays empty): a blocking
 *   pending() returns another port's event instead, and unmask() delivers
 *   the held one at once.
 * - Threads notifying one port while its peer changes, or while it is
 *   unbound, write only to the port's peers: a canary thread's pipes,
 *   opened and closed meanwhile, never get a byte and are never closed
 *   under it; no notify fails but with ENOTCONN for a port unbound.
 * - A blocking pending() fails with EINTR when a signal handler without
 *   SA_RESTART interrupts it, as Linux's read() of the device; it waits on
 *   through handlers with SA_RESTART and through a stop and SIGCONT.
 * - XENEVTCHN_NO_CLOEXEC: the handle's fd, and its ports, outlive exec.
 * - On the wire (proto.h): a bind reply carries the port's read end; a
 *   bind request that brings an fd is a protocol violation.
 * Watchdogs (alarm()) turn a notify that blocks into a failure. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <xenctrl.h>
#include <xenevtchn.h>

#include "proto.h"
#include "../../test_clock.h"

#define HOSTILE_NOTIFIES 200000
#define FLOOD_NOTIFIES 100000
/* Generous: 200000 non-blocking writes take well under a second. */
#define WATCHDOG_S 60
/* How long a wake-up may take to arrive. */
#define WAKE_MS 5000
/* How long to watch for a wake-up that must not come. */
#define QUIET_MS 200
/* How long each race runs. */
#define RACE_MS 1500

/* ---- parent <-> hostile child: one small message at a time ---- */

struct msg {
    char tag;
    int val;
};

static void say(int s, char tag, int val)
{
    struct msg m = { .tag = tag, .val = val };
    if (send(s, &m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
        _exit(99);
}

/* The next message, or tag 0 on EOF or error. */
static struct msg hear(int s)
{
    struct msg m = { 0 };
    if (recv(s, &m, sizeof(m), 0) != (ssize_t)sizeof(m))
        m.tag = 0;
    return m;
}

/* ---- the hostile owner (child process) ---- */

/* The fd the handle's epoll set watches: our port's read end, as
 * /proc/self/fdinfo of the epoll fd names it. */
static int epoll_target(int epfd)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", epfd);
    FILE *f = fopen(path, "re");
    int fd = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "tfd: %d", &fd) == 1)
            break;
    if (f)
        fclose(f);
    return fd;
}

/* Clear O_NONBLOCK on every fd we hold; how many we changed. */
static int make_all_blocking(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == dirfd(d))
            continue;
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK) &&
            fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
            n++;
    }
    closedir(d);
    return n;
}

/* Fill what rfd reads from through a writer of our own, then make that
 * writer blocking too and keep it. (Should the object not reopen, as an
 * eventfd does not, fill it through rfd itself: the bug this test is for.)
 * Returns the bytes written, or -1. */
static long fill_own_pipe(int rfd, int *keep)
{
    char path[64], buf[4096] = { 0 };
    snprintf(path, sizeof(path), "/proc/self/fd/%d", rfd);
    int w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w < 0) {
        uint64_t full = UINT64_MAX - 1;
        return write(rfd, &full, sizeof(full)) == sizeof(full) ? 8 : -1;
    }
    long total = 0;
    ssize_t n;
    while ((n = write(w, buf, sizeof(buf))) > 0)
        total += n;
    while ((n = write(w, buf, 1)) > 0)
        total += n;
    if (errno != EAGAIN || fcntl(w, F_SETFL, 0) < 0)
        return -1;
    *keep = w;
    return total;
}

/* Messages: -> 'P' port; <- 'B' peer bound; -> 'F' bytes filled (or -1);
 * <- 'D' take the event; -> 'R' port pending() returned (or -1); -> 'Q' 1
 * if nothing else was queued after unmask; -> 'W' the port of the next
 * event within WAKE_MS (or -1). Exit status 0. */
static int hostile_owner(int s)
{
    xenevtchn_handle *x = xenevtchn_open(NULL, 0);
    if (!x)
        return 1;
    xenevtchn_port_or_error_t port = xenevtchn_bind_unbound_port(x, 0);
    say(s, 'P', port);
    if (port < 0 || hear(s).tag != 'B')
        return 1;
    int epfd = xenevtchn_fd(x);
    int rfd = epoll_target(epfd), w = -1;
    long filled = -1;
    if (rfd >= 0 && make_all_blocking() >= 0)
        filled = fill_own_pipe(rfd, &w);
    say(s, 'F', (int)filled);
    if (hear(s).tag != 'D')
        return 1;
    /* Only now, with the pipe full all along, does the owner look. */
    xenevtchn_port_or_error_t got = xenevtchn_pending(x);
    say(s, 'R', got);
    if (got < 0 || xenevtchn_unmask(x, (evtchn_port_t)got) < 0)
        return 1;
    struct pollfd pfd = { .fd = epfd, .events = POLLIN };
    say(s, 'Q', poll(&pfd, 1, 0) == 0);
    int woke = poll(&pfd, 1, WAKE_MS) == 1 ? xenevtchn_pending(x) : -1;
    say(s, 'W', woke);
    if (w >= 0)
        close(w);
    xenevtchn_close(x);
    return 0;
}

static void test_hostile_owner_cannot_block_notify(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv),
                     0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Before anything of the notifier's exists: nothing shared. Ends
         * with us, whatever happens. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(sv[0]);
        _exit(hostile_owner(sv[1]));
    }
    close(sv[1]);
    /* Anything that hangs (a notify, the owner) fails the test. */
    alarm(WATCHDOG_S);
    struct msg m = hear(sv[0]);
    assert_int_equal(m.tag, 'P');
    assert_true(m.val > 0);
    int remote = m.val;
    xenevtchn_handle *x = xenevtchn_open(NULL, 0);
    assert_non_null(x);
    xenevtchn_port_or_error_t lp = xenevtchn_bind_interdomain(x, 0, remote);
    assert_true(lp > 0);
    say(sv[0], 'B', lp);
    m = hear(sv[0]);
    assert_int_equal(m.tag, 'F');
    assert_true(m.val > 0); /* the owner did fill its pipe */

    /* The attack is in place: every notify must still return at once. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int failed = 0;
    for (int i = 0; i < HOSTILE_NOTIFIES; i++)
        if (xenevtchn_notify(x, (evtchn_port_t)lp) < 0)
            failed++;
    assert_int_equal(failed, 0);
    print_message("%d notifies against a full, blocking pipe: %ld ms\n",
                  HOSTILE_NOTIFIES, test_ms_since(&t0));

    /* The owner takes its event; then a later notify must wake it. */
    say(sv[0], 'D', 0);
    m = hear(sv[0]);
    assert_int_equal(m.tag, 'R');
    assert_int_equal(m.val, remote);
    m = hear(sv[0]);
    assert_int_equal(m.tag, 'Q');
    assert_int_equal(m.val, 1); /* no stale event: the next one is ours */
    assert_int_equal(xenevtchn_notify(x, (evtchn_port_t)lp), 0);
    m = hear(sv[0]);
    assert_int_equal(m.tag, 'W');
    assert_int_equal(m.val, remote);

    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    alarm(0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(sv[0]);
    assert_int_equal(xenevtchn_close(x), 0);
}

/* ---- one process, two handles: owner a, notifier b ---- */

struct chan {
    xenevtchn_handle *a, *b;
    evtchn_port_t pa, pb; /* a's port, b's port (bound to pa) */
};

/* Whether h's fd becomes readable within ms. */
static bool readable(xenevtchn_handle *h, int ms)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(h), .events = POLLIN };
    return poll(&pfd, 1, ms) == 1;
}

static int chan_setup(void **state)
{
    static struct chan c;
    c.a = xenevtchn_open(NULL, 0);
    c.b = xenevtchn_open(NULL, 0);
    if (!c.a || !c.b)
        return -1;
    xenevtchn_port_or_error_t pa = xenevtchn_bind_unbound_port(c.a, 0);
    xenevtchn_port_or_error_t pb =
        pa > 0 ? xenevtchn_bind_interdomain(c.b, 0, (evtchn_port_t)pa) : -1;
    if (pb <= 0)
        return -1;
    c.pa = (evtchn_port_t)pa;
    c.pb = (evtchn_port_t)pb;
    /* b's bind left b's port pending, as on Xen: take it. */
    if (!readable(c.b, WAKE_MS) || xenevtchn_pending(c.b) != pb ||
        xenevtchn_unmask(c.b, c.pb) < 0)
        return -1;
    *state = &c;
    return 0;
}

static int chan_teardown(void **state)
{
    struct chan *c = *state;
    alarm(0); /* a failed test's watchdog */
    xenevtchn_close(c->a);
    xenevtchn_close(c->b);
    return 0;
}

/* What a's port's pipe holds unread (its read end is what a's epoll fd
 * watches): pending() must drain it before it returns the port, never
 * while the port is masked. */
static int unread(xenevtchn_handle *a)
{
    int rfd = epoll_target(xenevtchn_fd(a)), n = -1;
    assert_true(rfd >= 0);
    assert_int_equal(ioctl(rfd, FIONREAD, &n), 0);
    return n;
}

static void test_flood_loses_no_later_wakeup(void **state)
{
    struct chan *c = *state;
    alarm(WATCHDOG_S);
    for (int i = 0; i < FLOOD_NOTIFIES; i++)
        assert_int_equal(xenevtchn_notify(c->b, c->pb), 0);
    alarm(0);
    assert_true(readable(c->a, WAKE_MS));
    int before = unread(c->a);
    assert_true(before > 0);
    assert_int_equal(xenevtchn_pending(c->a), c->pa);
    assert_true(unread(c->a) < before); /* drained, within its bound */
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
    /* The flood was one event; nothing is left queued ... */
    assert_false(readable(c->a, 0));
    /* ... and the next notify wakes the owner again. */
    assert_int_equal(xenevtchn_notify(c->b, c->pb), 0);
    assert_true(readable(c->a, WAKE_MS));
    assert_int_equal(xenevtchn_pending(c->a), c->pa);
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
    assert_false(readable(c->a, 0));
    /* Until the pipe is empty, each round drains some; a small burst is
     * drained whole. */
    for (int r = 0; unread(c->a) > 0; r++) {
        assert_true(r < 64);
        assert_int_equal(xenevtchn_notify(c->b, c->pb), 0);
        assert_true(readable(c->a, WAKE_MS));
        assert_int_equal(xenevtchn_pending(c->a), c->pa);
        assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(xenevtchn_notify(c->b, c->pb), 0);
    assert_true(readable(c->a, WAKE_MS));
    assert_int_equal(unread(c->a), 1000);
    assert_int_equal(xenevtchn_pending(c->a), c->pa);
    assert_int_equal(unread(c->a), 0);
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
    assert_false(readable(c->a, 0));
}

/* A second channel a <- b, for a's fd to have another port to report. */
static void second_port(struct chan *c, evtchn_port_t *qa, evtchn_port_t *qb)
{
    xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(c->a, 0);
    assert_true(p > 0);
    xenevtchn_port_or_error_t q =
        xenevtchn_bind_interdomain(c->b, 0, (evtchn_port_t)p);
    assert_true(q > 0);
    assert_true(readable(c->b, WAKE_MS)); /* pending at bind: take it */
    assert_int_equal(xenevtchn_pending(c->b), q);
    assert_int_equal(xenevtchn_unmask(c->b, (evtchn_port_t)q), 0);
    *qa = (evtchn_port_t)p;
    *qb = (evtchn_port_t)q;
}

static void test_masked_event_waits_for_unmask(void **state)
{
    struct chan *c = *state;
    alarm(WATCHDOG_S); /* a pending() that hangs fails the test */
    int fd = xenevtchn_fd(c->a);
    int fl = fcntl(fd, F_GETFL);
    assert_false(fl & O_NONBLOCK); /* blocking, as xenevtchn_open leaves it */
    assert_int_equal(xenevtchn_notify(c->b, c->pb), 0);
    assert_true(readable(c->a, WAKE_MS));
    assert_int_equal(xenevtchn_pending(c->a), c->pa); /* now masked */
    /* Events while masked: the fd stays quiet, the event is kept. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(xenevtchn_notify(c->b, c->pb), 0);
    assert_false(readable(c->a, QUIET_MS));
    assert_int_equal(unread(c->a), 100);
    /* Non-blocking, pending() finds nothing, as in an empty ring. */
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
    assert_int_equal(xenevtchn_pending(c->a), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(fcntl(fd, F_SETFL, fl), 0);
    /* Blocking, pending() returns another port's event, not waiting for
     * the masked one's. */
    evtchn_port_t qa, qb;
    second_port(c, &qa, &qb);
    assert_false(readable(c->a, 0));
    assert_int_equal(xenevtchn_notify(c->b, qb), 0);
    assert_true(readable(c->a, WAKE_MS));
    assert_int_equal(xenevtchn_pending(c->a), qa);
    assert_int_equal(xenevtchn_unmask(c->a, qa), 0);
    assert_false(readable(c->a, QUIET_MS));
    assert_int_equal(xenevtchn_unbind(c->b, qb), 0);
    assert_int_equal(xenevtchn_unbind(c->a, qa), 0);
    /* Unmask delivers the held event at once; a blocking pending() takes
     * it without waiting, and drains it. */
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
    assert_true(readable(c->a, 0));
    assert_int_equal(xenevtchn_pending(c->a), c->pa);
    assert_int_equal(unread(c->a), 0);
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
    assert_false(readable(c->a, QUIET_MS));
    /* Unmasking a port that is not masked is a no-op, as on Linux. */
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
    assert_false(readable(c->a, 0));
    alarm(0);
}

/* ---- signals during a blocking pending() ---- */

static volatile sig_atomic_t g_ticks;
static int g_ticks_max;
static sigjmp_buf g_stuck;

/* Past g_ticks_max, pending() is stuck: out of it, to fail the test. */
static void on_tick(int sig)
{
    (void)sig;
    if (++g_ticks >= g_ticks_max)
        siglongjmp(g_stuck, 1);
}

/* SIGALRM every ms to on_tick, installed with flags (SA_RESTART or 0). */
static void ticks_start(int flags, int ms, int max)
{
    struct sigaction sa = { .sa_handler = on_tick, .sa_flags = flags };
    sigemptyset(&sa.sa_mask);
    g_ticks = 0;
    g_ticks_max = max;
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = { .it_interval = { 0, ms * 1000 },
                            .it_value = { 0, ms * 1000 } };
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void ticks_stop(void)
{
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
}

static void sleep_ms(int ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* A SIGALRM timeout without SA_RESTART ends a blocking wait, as it ends
 * Linux's read() of /dev/xen/evtchn. */
static void test_pending_interrupted_by_signal(void **state)
{
    struct chan *c = *state;
    assert_false(readable(c->a, 0));
    if (sigsetjmp(g_stuck, 1)) {
        ticks_stop();
        fail_msg("pending() waited on through %d signals", (int)g_ticks);
    }
    ticks_start(0, 100, 20);
    errno = 0;
    xenevtchn_port_or_error_t p = xenevtchn_pending(c->a);
    int e = errno;
    ticks_stop();
    assert_int_equal(p, -1);
    assert_int_equal(e, EINTR);
    /* The handle is as it was: the next event comes. */
    assert_int_equal(xenevtchn_notify(c->b, c->pb), 0);
    assert_int_equal(xenevtchn_pending(c->a), c->pa);
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
}

struct later {
    xenevtchn_handle *x;
    evtchn_port_t port;
    int ms;
};

static void *notify_later(void *arg)
{
    struct later *l = arg;
    sleep_ms(l->ms);
    xenevtchn_notify(l->x, l->port);
    return NULL;
}

static void on_one_shot(int sig)
{
    (void)sig;
    g_ticks++;
}

/* A one-shot handler (SA_RESETHAND, no SA_RESTART, as signal() gives in a
 * strict C build) is gone by the time the interrupted wait looks at the
 * handlers; Linux's read() still fails with EINTR.  The handle is opened
 * with the handler in place. */
static void test_pending_interrupted_by_one_shot_handler(void **state)
{
    struct chan *c = *state;
    struct sigaction sa = { .sa_handler = on_one_shot, .sa_flags = SA_RESETHAND };
    sigemptyset(&sa.sa_mask);
    g_ticks = 0;
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    xenevtchn_handle *h = xenevtchn_open(NULL, 0);
    assert_non_null(h);
    xenevtchn_port_or_error_t ph = xenevtchn_bind_unbound_port(h, 0);
    assert_true(ph > 0);
    xenevtchn_port_or_error_t pw = xenevtchn_bind_interdomain(c->b, 0, (evtchn_port_t)ph);
    assert_true(pw > 0);
    /* The bind left b's port pending, as on Xen: take it. */
    assert_true(readable(c->b, WAKE_MS));
    assert_int_equal(xenevtchn_pending(c->b), pw);
    assert_int_equal(xenevtchn_unmask(c->b, (evtchn_port_t)pw), 0);
    /* A wait that misses the signal still ends, at the watchdog's event. */
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    struct later l = { c->b, (evtchn_port_t)pw, 1500 };
    pthread_t t;
    int rc = pthread_create(&t, NULL, notify_later, &l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_int_equal(rc, 0);
    struct itimerval once = { { 0, 0 }, { 0, 100000 } };
    assert_int_equal(setitimer(ITIMER_REAL, &once, NULL), 0);
    errno = 0;
    xenevtchn_port_or_error_t p = xenevtchn_pending(h);
    int e = errno;
    pthread_join(t, NULL);
    signal(SIGALRM, SIG_DFL);
    assert_int_equal(xenevtchn_unbind(c->b, (evtchn_port_t)pw), 0);
    xenevtchn_close(h);
    if (p != -1 || e != EINTR)
        fail_msg("pending(): %d (%s) after %d signal(s), not EINTR", p, strerror(e),
                 (int)g_ticks);
    assert_int_equal(g_ticks, 1);
}

/* Handlers with SA_RESTART restart Linux's read(): pending() waits on. */
static void test_pending_waits_through_restarting_signal(void **state)
{
    struct chan *c = *state;
    assert_false(readable(c->a, 0));
    if (sigsetjmp(g_stuck, 1)) {
        ticks_stop();
        fail_msg("pending() waited on through %d signals", (int)g_ticks);
    }
    /* The ticks go to this thread, the one waiting. */
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    struct later l = { c->b, c->pb, 500 };
    pthread_t t;
    int rc = pthread_create(&t, NULL, notify_later, &l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_int_equal(rc, 0);
    ticks_start(SA_RESTART, 50, 200);
    errno = 0;
    xenevtchn_port_or_error_t p = xenevtchn_pending(c->a);
    int e = errno, ticks = g_ticks;
    ticks_stop();
    pthread_join(t, NULL);
    if (p != (xenevtchn_port_or_error_t)c->pa)
        fail_msg("pending(): %d (%s) after %d signals", p, strerror(e),
                 ticks);
    assert_true(ticks >= 2); /* signals did come during the wait */
    assert_int_equal(xenevtchn_unmask(c->a, c->pa), 0);
}

/* A process stopped and continued in a blocking pending() waits on, as in
 * Linux's read() (epoll_wait() itself fails with EINTR then), even with a
 * crash handler (a sanitizer's) installed without SA_RESTART. */
static void test_pending_waits_through_stop(void **state)
{
    (void)state;
    int pp[2];
    assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(pp[0]);
        struct sigaction sa = { .sa_handler = on_tick };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
        xenevtchn_handle *x = xenevtchn_open(NULL, 0);
        int msg[2] = { x ? xenevtchn_bind_unbound_port(x, 0) : -1, 0 };
        if (write(pp[1], msg, sizeof(msg)) != sizeof(msg) || msg[0] < 0)
            _exit(1);
        msg[0] = xenevtchn_pending(x);
        msg[1] = msg[0] < 0 ? errno : 0;
        _exit(write(pp[1], msg, sizeof(msg)) == sizeof(msg) ? 0 : 1);
    }
    close(pp[1]);
    alarm(WATCHDOG_S);
    int msg[2];
    assert_int_equal(read(pp[0], msg, sizeof(msg)), sizeof(msg));
    assert_true(msg[0] > 0);
    int remote = msg[0];
    xenevtchn_handle *x = xenevtchn_open(NULL, 0);
    assert_non_null(x);
    xenevtchn_port_or_error_t lp = xenevtchn_bind_interdomain(x, 0, remote);
    assert_true(lp > 0);
    sleep_ms(300); /* the child is in its wait by now */
    int st;
    assert_int_equal(kill(pid, SIGSTOP), 0);
    assert_int_equal(waitpid(pid, &st, WUNTRACED), pid);
    assert_true(WIFSTOPPED(st));
    assert_int_equal(kill(pid, SIGCONT), 0);
    assert_int_equal(waitpid(pid, &st, WCONTINUED), pid);
    assert_true(WIFCONTINUED(st));
    sleep_ms(200); /* time to wake, and fail if it would */
    assert_int_equal(xenevtchn_notify(x, (evtchn_port_t)lp), 0);
    assert_int_equal(read(pp[0], msg, sizeof(msg)), sizeof(msg));
    if (msg[0] != remote)
        fail_msg("pending() after a stop: %d (%s)", msg[0],
                 strerror(msg[1]));
    assert_int_equal(waitpid(pid, &st, 0), pid);
    alarm(0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(pp[0]);
    assert_int_equal(xenevtchn_close(x), 0);
}

/* ---- exec ---- */

static int port_status(xc_interface *xch, evtchn_port_t port)
{
    xc_evtchn_status_t st = { .dom = 0, .port = port };
    return xc_evtchn_status(xch, &st) == 0 ? (int)st.status : -1;
}

/* Xen 4.17 opens the device without O_CLOEXEC when asked: the fd, and
 * with it the handle's ports, outlive an exec (until that program ends). */
static void test_no_cloexec_handle_outlives_exec(void **state)
{
    (void)state;
    xenevtchn_handle *d = xenevtchn_open(NULL, 0);
    assert_non_null(d);
    assert_true(fcntl(xenevtchn_fd(d), F_GETFD) & FD_CLOEXEC);
    assert_int_equal(xenevtchn_close(d), 0);
    int pp[2];
    assert_int_equal(pipe2(pp, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(pp[0]);
        xenevtchn_handle *x = xenevtchn_open(NULL, XENEVTCHN_NO_CLOEXEC);
        int msg[2] = { x ? xenevtchn_bind_unbound_port(x, 0) : -1,
                       x ? fcntl(xenevtchn_fd(x), F_GETFD) : -1 };
        if (write(pp[1], msg, sizeof(msg)) != sizeof(msg) || msg[0] < 0)
            _exit(1);
        execlp("sleep", "sleep", "60", (char *)NULL);
        _exit(127);
    }
    close(pp[1]);
    alarm(WATCHDOG_S);
    int msg[2];
    char b;
    assert_int_equal(read(pp[0], msg, sizeof(msg)), sizeof(msg));
    assert_true(msg[0] > 0);
    assert_int_equal(msg[1] & FD_CLOEXEC, 0);
    assert_int_equal(read(pp[0], &b, 1), 0); /* exec'd: its end closed */
    close(pp[0]);
    sleep_ms(200); /* a connection closed at exec would be gone by now */
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    assert_non_null(xch);
    assert_int_equal(port_status(xch, (evtchn_port_t)msg[0]),
                     EVTCHNSTAT_unbound);
    /* The program's end closes it. */
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    int i = 0;
    while (port_status(xch, (evtchn_port_t)msg[0]) != EVTCHNSTAT_closed &&
           i++ < 100)
        sleep_ms(50);
    assert_int_equal(port_status(xch, (evtchn_port_t)msg[0]),
                     EVTCHNSTAT_closed);
    alarm(0);
    xc_interface_close(xch);
}

/* ---- threads: notify against a peer change and against unbind ---- */

/* Opens pipes, holds each a moment, and checks that nothing wrote to it
 * and nobody closed or replaced it: a notify that used a stale descriptor
 * number would. */
struct canary {
    bool stop;
    long rounds, stray, lost;
};

static bool same_file(int fd, const struct stat *was)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_ino == was->st_ino &&
           st.st_dev == was->st_dev;
}

static void *canary_run(void *arg)
{
    struct canary *k = arg;
    while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
        int p[2];
        struct stat s0, s1;
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) {
            k->lost++;
            break;
        }
        fstat(p[0], &s0);
        fstat(p[1], &s1);
        for (int i = 0; i < 20; i++)
            sched_yield();
        char b;
        if (read(p[0], &b, 1) != -1 || errno != EAGAIN)
            k->stray++;
        if (!same_file(p[0], &s0) || !same_file(p[1], &s1)) {
            k->lost++;
            break; /* not ours any more: do not close them */
        }
        close(p[0]);
        close(p[1]);
        k->rounds++;
    }
    return NULL;
}

struct notifier {
    xenevtchn_handle *x;
    const evtchn_port_t *port; /* read atomically: the test may move it */
    bool unbound_ok;           /* ENOTCONN is what a port unbound gives */
    const bool *stop;
    long sent, failed;
    int err;
};

static void *notifier_run(void *arg)
{
    struct notifier *n = arg;
    while (!__atomic_load_n(n->stop, __ATOMIC_ACQUIRE)) {
        evtchn_port_t p = __atomic_load_n(n->port, __ATOMIC_ACQUIRE);
        if (xenevtchn_notify(n->x, p) == 0) /* one writer; the test reads */
            __atomic_store_n(&n->sent, n->sent + 1, __ATOMIC_RELAXED);
        else if (!(n->unbound_ok && errno == ENOTCONN)) {
            n->failed++;
            n->err = errno;
        }
    }
    return NULL;
}

#define NOTIFIERS 2

struct race {
    struct canary k;
    bool stop;
    evtchn_port_t port;
    struct notifier n[NOTIFIERS];
    pthread_t kt, nt[NOTIFIERS];
};

static void race_start(struct race *r, xenevtchn_handle *x, evtchn_port_t p,
                       bool unbound_ok)
{
    r->port = p;
    assert_int_equal(pthread_create(&r->kt, NULL, canary_run, &r->k), 0);
    for (int i = 0; i < NOTIFIERS; i++) {
        r->n[i] = (struct notifier){ .x = x, .port = &r->port,
                                     .unbound_ok = unbound_ok,
                                     .stop = &r->stop };
        assert_int_equal(pthread_create(&r->nt[i], NULL, notifier_run,
                                        &r->n[i]), 0);
    }
}

static void race_stop(struct race *r)
{
    __atomic_store_n(&r->stop, true, __ATOMIC_RELEASE);
    __atomic_store_n(&r->k.stop, true, __ATOMIC_RELEASE);
    for (int i = 0; i < NOTIFIERS; i++)
        assert_int_equal(pthread_join(r->nt[i], NULL), 0);
    assert_int_equal(pthread_join(r->kt, NULL), 0);
    for (int i = 0; i < NOTIFIERS; i++) {
        print_message("notifier %d: %ld sent, %ld failed (last: %s)\n", i,
                      r->n[i].sent, r->n[i].failed, strerror(r->n[i].err));
        assert_int_equal(r->n[i].failed, 0);
        assert_true(r->n[i].sent > 0);
    }
    print_message("canary: %ld pipes, %ld written to, %ld closed under it\n",
                  r->k.rounds, r->k.stray, r->k.lost);
    assert_int_equal(r->k.stray, 0);
    assert_int_equal(r->k.lost, 0);
    assert_true(r->k.rounds > 0);
}

static long race_sent(struct race *r)
{
    long n = 0;
    for (int i = 0; i < NOTIFIERS; i++)
        n += __atomic_load_n(&r->n[i].sent, __ATOMIC_RELAXED);
    return n;
}

/* Let the notifiers use a new binding (or peer) a little before it
 * goes: most of a loop's time is the daemon's. */
static void race_pause(struct race *r)
{
    long want = race_sent(r) + 2 * NOTIFIERS;
    for (int i = 0; i < 1000 && race_sent(r) < want; i++)
        sched_yield();
}

/* b's port pb, bound to a's pa afresh. */
static evtchn_port_t rebind(struct chan *c)
{
    xenevtchn_port_or_error_t q = xenevtchn_bind_interdomain(c->b, 0, c->pa);
    assert_true(q > 0);
    return (evtchn_port_t)q;
}

/* The channel still carries a notify from a to b, and only that. */
static void a_wakes_b(struct chan *c, evtchn_port_t pb)
{
    while (readable(c->b, 0)) { /* what the race left */
        xenevtchn_port_or_error_t p = xenevtchn_pending(c->b);
        assert_true(p > 0);
        assert_int_equal(xenevtchn_unmask(c->b, (evtchn_port_t)p), 0);
    }
    assert_int_equal(xenevtchn_notify(c->a, c->pa), 0);
    assert_true(readable(c->b, WAKE_MS));
    assert_int_equal(xenevtchn_pending(c->b), pb);
    assert_int_equal(xenevtchn_unmask(c->b, pb), 0);
}

/* Two threads notify a's port while b unbinds and binds its end again and
 * again: every bind changes the peer, so the notifiers fetch it anew. */
static void test_notify_threads_while_peer_changes(void **state)
{
    struct chan *c = *state;
    alarm(WATCHDOG_S);
    static struct race r;
    memset(&r, 0, sizeof(r));
    race_start(&r, c->a, c->pa, false);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long changes = 0;
    evtchn_port_t pb = c->pb;
    while (test_ms_since(&t0) < RACE_MS) {
        assert_int_equal(xenevtchn_unbind(c->b, pb), 0);
        pb = rebind(c);
        changes++;
    }
    race_stop(&r);
    print_message("%ld peer changes\n", changes);
    c->pb = pb;
    a_wakes_b(c, pb);
    alarm(0);
}

/* Two threads notify b's port while the test unbinds it and binds it
 * again (the same number, mostly): a notify finds the port bound, and
 * writes to its peer, or not (ENOTCONN). */
static void test_notify_threads_while_unbound(void **state)
{
    struct chan *c = *state;
    alarm(WATCHDOG_S);
    static struct race r;
    memset(&r, 0, sizeof(r));
    race_start(&r, c->b, c->pb, true);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long unbinds = 0;
    while (test_ms_since(&t0) < RACE_MS) {
        assert_int_equal(xenevtchn_unbind(c->b, r.port), 0);
        __atomic_store_n(&r.port, rebind(c), __ATOMIC_RELEASE);
        unbinds++;
        race_pause(&r);
    }
    race_stop(&r);
    print_message("%ld unbinds\n", unbinds);
    c->pb = r.port;
    a_wakes_b(c, c->pb);
    alarm(0);
}

/* ---- the protocol itself ---- */

static void test_bind_reply_carries_the_read_end(void **state)
{
    (void)state;
    struct xsp_hello_rep hello;
    int gen = -1;
    int s = xsp_connect(XSP_KIND_EVTCHN, &hello, &gen);
    assert_true(s >= 0);
    assert_true(gen >= 0);
    close(gen);
    struct xsp_evtchn_bind b = { .remote_dom = 0 };
    struct xsp_evtchn_port rep;
    size_t got;
    int fds[2];
    unsigned n;
    assert_int_equal(xsp_call(s, XSP_OP_EVTCHN_BIND_UNBOUND, &b, sizeof(b),
                              NULL, 0, &rep, sizeof(rep), &got, fds, 2, &n),
                     0);
    assert_int_equal(got, sizeof(rep));
    assert_true(rep.port > 0);
    assert_int_equal(n, 1);
    struct stat st;
    assert_int_equal(fstat(fds[0], &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(fcntl(fds[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK),
                     O_RDONLY | O_NONBLOCK);
    close(fds[0]);
    /* A bind that brings an fd of its own: the daemon drops the
     * connection, as for any malformed request. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(xsp_call(s, XSP_OP_EVTCHN_BIND_UNBOUND, &b, sizeof(b),
                              &p[0], 1, &rep, sizeof(rep), &got, fds, 2, &n),
                     -EPIPE);
    assert_int_equal(n, 0);
    close(p[0]);
    close(p[1]);
    close(s);
}

/* One request at a time: a client that sends another before it reads a
 * reply is cut off (it could otherwise fill the socket and hold the daemon
 * in its sends), and the daemon goes on serving others. */
static void test_unread_reply_ends_the_connection(void **state)
{
    (void)state;
    struct xsp_hello_rep hello;
    int gen = -1, other_gen = -1;
    int s = xsp_connect(XSP_KIND_EVTCHN, &hello, &gen);
    int other = xsp_connect(XSP_KIND_EVTCHN, &hello, &other_gen);
    assert_true(s >= 0 && other >= 0);
    close(gen);
    close(other_gen);
    struct {
        struct xsp_req_hdr h;
        struct xsp_evtchn_port p;
    } req = { .h = { XSP_OP_EVTCHN_UNBIND, sizeof(req) },
              .p = { .port = 99999 } };
    assert_int_equal(xsp_send(s, &req, sizeof(req), NULL, 0), 0);
    assert_int_equal(xsp_send(s, &req, sizeof(req), NULL, 0), 0);
    char buf[256];
    int fds[2];
    unsigned n;
    /* Nothing read yet: the daemon hangs up on the second (reading the
     * first reply now could let the second pass legitimately). */
    struct pollfd p = { .fd = s, .events = POLLRDHUP };
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(p.revents & (POLLRDHUP | POLLHUP));
    /* The first was answered; then the connection ends. */
    assert_true(xsp_recv(s, buf, sizeof(buf), fds, 2, &n) > 0);
    long r = xsp_recv(s, buf, sizeof(buf), fds, 2, &n);
    if (r != 0 && r != -ECONNRESET)
        fail_msg("after the second request: %ld (%s)", r,
                 r < 0 ? strerror((int)-r) : "a reply");
    close(s);
    /* Another connection is served as before. */
    struct xsp_evtchn_port port = { .port = 0x7fffffff }, rep;
    size_t got;
    assert_int_equal(xsp_call(other, XSP_OP_EVTCHN_UNBIND, &port, sizeof(port),
                              NULL, 0, &rep, sizeof(rep), &got, fds, 2, &n),
                     -EINVAL);
    close(other);
}

/* Xen gives Domain-0 no port limit of its own (a guest gets libxl's
 * 1023): it binds past that, as a dom0 backend of many channels does.
 * (Here each port is a descriptor: the test raises its own limit.) */
static void test_dom0_ports_past_guest_limit(void **state)
{
    (void)state;
    enum { N = 1100 };
    static xenevtchn_port_or_error_t ports[N];
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < N + 64) {
        rl.rlim_cur = rl.rlim_max < N + 256 ? rl.rlim_max : N + 256;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    assert_true(rl.rlim_cur >= N + 64);
    xenevtchn_handle *h = xenevtchn_open(NULL, 0);
    assert_non_null(h);
    for (int i = 0; i < N; i++) {
        ports[i] = xenevtchn_bind_unbound_port(h, 0);
        if (ports[i] < 0)
            fail_msg("port %d of %d: %s", i + 1, N, strerror(errno));
    }
    assert_true(ports[N - 1] > 1023);
    for (int i = 0; i < N; i++)
        assert_int_equal(xenevtchn_unbind(h, (evtchn_port_t)ports[i]), 0);
    assert_int_equal(xenevtchn_close(h), 0);
}

/* The drop-in libxenctrl's handle is reentrant, as xenctrl.h says (the
 * daemon cuts off a connection that sends before it read its reply). */
struct xc_thread {
    xc_interface *xch;
    int fails;
};

static void *xc_loop(void *arg)
{
    struct xc_thread *t = arg;
    for (int i = 0; i < 2000; i++) {
        xc_dominfo_t info;
        if (xc_domain_getinfo(t->xch, 0, 1, &info) != 1)
            t->fails++;
    }
    return NULL;
}

static void test_xc_handle_shared_by_threads(void **state)
{
    (void)state;
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    assert_non_null(xch);
    struct xc_thread t[2] = { { xch, 0 }, { xch, 0 } };
    pthread_t id[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&id[i], NULL, xc_loop, &t[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(id[i], NULL);
    assert_int_equal(t[0].fails + t[1].fails, 0);
    xc_interface_close(xch);
}

/* Xen 4.17's xc_domain_getinfo asks nothing for max_doms 0 and returns
 * 0; both list calls take the first domid as a domid_t (16 bits). */
static void test_xc_getinfo_edges(void **state)
{
    (void)state;
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    assert_non_null(xch);
    xc_dominfo_t info[2];
    errno = 0;
    assert_int_equal(xc_domain_getinfo(xch, 0, 0, info), 0);
    assert_int_equal(xc_domain_getinfo(xch, 0x10000, 1, info), 1);
    assert_int_equal(info[0].domid, 0);
    /* This host has Domain-0 alone. */
    assert_int_equal(xc_domain_getinfo(xch, 0x10001, 1, info), -1);
    assert_int_equal(errno, ESRCH);
    xc_domaininfo_t li[2];
    assert_int_equal(xc_domain_getinfolist(xch, 0x10000, 2, li), 1);
    assert_int_equal(li[0].domain, 0);
    xc_interface_close(xch);
}

int main(void)
{
    /* Whatever we inherit: a notify that raised SIGPIPE must end us. */
    signal(SIGPIPE, SIG_DFL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_owner_cannot_block_notify),
        cmocka_unit_test_setup_teardown(test_flood_loses_no_later_wakeup,
                                        chan_setup, chan_teardown),
        cmocka_unit_test_setup_teardown(test_masked_event_waits_for_unmask,
                                        chan_setup, chan_teardown),
        cmocka_unit_test_setup_teardown(test_pending_interrupted_by_signal,
                                        chan_setup, chan_teardown),
        cmocka_unit_test_setup_teardown(test_pending_interrupted_by_one_shot_handler,
                                        chan_setup, chan_teardown),
        cmocka_unit_test_setup_teardown(
            test_pending_waits_through_restarting_signal, chan_setup,
            chan_teardown),
        cmocka_unit_test(test_pending_waits_through_stop),
        cmocka_unit_test(test_no_cloexec_handle_outlives_exec),
        cmocka_unit_test_setup_teardown(test_notify_threads_while_peer_changes,
                                        chan_setup, chan_teardown),
        cmocka_unit_test_setup_teardown(test_notify_threads_while_unbound,
                                        chan_setup, chan_teardown),
        cmocka_unit_test(test_bind_reply_carries_the_read_end),
        cmocka_unit_test(test_unread_reply_ends_the_connection),
        cmocka_unit_test(test_dom0_ports_past_guest_limit),
        cmocka_unit_test(test_xc_handle_shared_by_threads),
        cmocka_unit_test(test_xc_getinfo_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
