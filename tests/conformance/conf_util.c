/* Conformance suite: shared helpers (see conf_util.h). */
#include "conf_util.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *prog_name = "conf";
static unsigned failures;

void conf_init(const char *prog)
{
    const char *slash = strrchr(prog, '/');

    prog_name = slash ? slash + 1 : prog;
    /* The console is usually a file or a tty that dom0 greps while we run:
     * every marker must be out as soon as it is printed. */
    setvbuf(stdout, NULL, _IOLBF, 0);
}

void conf_pass(const char *test)
{
    printf("CONF-PASS %s\n", test);
}

static void vfail(const char *test, const char *fmt, va_list ap)
{
    failures++;
    printf("CONF-FAIL %s: ", test);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

void conf_fail(const char *test, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(test, fmt, ap);
    va_end(ap);
}

bool conf_check(bool ok, const char *test, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        conf_pass(test);
        return true;
    }
    va_start(ap, fmt);
    vfail(test, fmt, ap);
    va_end(ap);
    return false;
}

void conf_info(const char *fmt, ...)
{
    va_list ap;

    fputs("CONF-INFO ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void conf_ready(const char *what)
{
    printf("CONF-READY %s\n", what);
}

void conf_die(const char *fmt, ...)
{
    char test[128];
    va_list ap;

    snprintf(test, sizeof(test), "%s-setup", prog_name);
    va_start(ap, fmt);
    vfail(test, fmt, ap);
    va_end(ap);
    printf("CONF-DONE %s failures=%u\n", prog_name, failures);
    exit(2);
}

int conf_done(void)
{
    printf("CONF-DONE %s failures=%u\n", prog_name, failures);
    fflush(stdout);
    return failures ? 1 : 0;
}

uint64_t conf_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void conf_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static int timeout_override = -1;

int conf_timeout_ms(void)
{
    const char *env;

    if (timeout_override > 0)
        return timeout_override;
    env = getenv("CONF_TIMEOUT_MS");
    if (env && atoi(env) > 0)
        return atoi(env);
    return CONF_DEFAULT_TIMEOUT_MS;
}

struct xs_handle *conf_xs_open(void)
{
    struct xs_handle *xs = xs_open(0);
    char *t;

    if (!xs)
        conf_die("xs_open: %s", strerror(errno));
    /* dom0 may give a run-wide timeout (real Xen under emulation is slow). */
    t = xs_read(xs, XBT_NULL, "data/conf/timeout-ms", NULL);
    if (t) {
        if (atoi(t) > 0)
            timeout_override = atoi(t);
        free(t);
    }
    return xs;
}

unsigned conf_my_domid(struct xs_handle *xs)
{
    char *v = xs_read(xs, XBT_NULL, "domid", NULL);
    char *end;
    unsigned long id;

    if (!v)
        conf_die("cannot read my own domid node: %s", strerror(errno));
    id = strtoul(v, &end, 10);
    if (end == v || *end)
        conf_die("my domid node holds '%s', not a number", v);
    free(v);
    return (unsigned)id;
}

char *conf_xs_wait(struct xs_handle *xs, const char *path, int timeout_ms)
{
    uint64_t end = conf_now_ms() + (uint64_t)timeout_ms;
    unsigned pause = 5;
    char *v;

    /* Polling rather than a watch: the node may live in another domain's
     * tree we are not yet allowed to see, and a watch on an unreadable node
     * gives no event; polling works the same in every case. */
    for (;;) {
        v = xs_read(xs, XBT_NULL, path, NULL);
        if (v)
            return v;
        if (conf_now_ms() >= end)
            return NULL;
        conf_sleep_ms(pause);
        if (pause < 100)
            pause *= 2;
    }
}

unsigned conf_xs_wait_uint(struct xs_handle *xs, const char *path, int timeout_ms)
{
    char *v = conf_xs_wait(xs, path, timeout_ms);
    char *end;
    unsigned long n;

    if (!v)
        conf_die("%s did not become readable within %d ms (last error: %s)",
                 path, timeout_ms, strerror(errno));
    n = strtoul(v, &end, 0);
    if (end == v || *end)
        conf_die("%s holds '%s', not a number", path, v);
    free(v);
    return (unsigned)n;
}

bool conf_xs_txn(struct xs_handle *xs,
                 bool (*body)(struct xs_handle *, xs_transaction_t, void *),
                 void *arg)
{
    for (int tries = 0; tries < 20; tries++) {
        xs_transaction_t t = xs_transaction_start(xs);

        if (t == XBT_NULL)
            return false;
        if (!body(xs, t, arg)) {
            int e = errno;

            xs_transaction_end(xs, t, true);
            errno = e;
            return false;
        }
        if (xs_transaction_end(xs, t, false))
            return true;
        if (errno != EAGAIN)
            return false;
    }
    errno = EAGAIN;
    return false;
}

struct publish {
    const char *path, *value;
    struct xs_permissions *perms;
    unsigned nperms;
};

static bool publish_body(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct publish *p = arg;

    return xs_write(xs, t, p->path, p->value, strlen(p->value)) &&
           (!p->nperms || xs_set_permissions(xs, t, p->path, p->perms, p->nperms));
}

bool conf_xs_publish(struct xs_handle *xs, const char *path, const char *value,
                     struct xs_permissions *perms, unsigned nperms)
{
    struct publish p = { path, value, perms, nperms };

    return conf_xs_txn(xs, publish_body, &p);
}

void conf_wait_finish(struct xs_handle *xs)
{
    char *v = conf_xs_wait(xs, "data/conf/finish", conf_timeout_ms());

    if (!v)
        conf_info("no finish from dom0 within %d ms; tearing down anyway",
                  conf_timeout_ms());
    free(v);
}

unsigned conf_peer(struct xs_handle *xs, const char *name)
{
    char path[64], *t;
    unsigned id;

    /* dom0 may still be creating other domains (slow under emulation). */
    snprintf(path, sizeof(path), "data/conf/%s", name);
    id = conf_xs_wait_uint(xs, path, 5 * conf_timeout_ms());
    /* dom0 writes the run's timeout before any peer id: take it now. */
    t = xs_read(xs, XBT_NULL, "data/conf/timeout-ms", NULL);
    if (t) {
        if (atoi(t) > 0)
            timeout_override = atoi(t);
        free(t);
    }
    return id;
}

void conf_prng_seed(struct conf_prng *p, uint64_t seed)
{
    /* xorshift must not start at zero. */
    p->s = seed ? seed : 0x9e3779b97f4a7c15ULL;
    p->avail = 0;
}

static uint64_t prng_next(struct conf_prng *p)
{
    p->s ^= p->s >> 12;
    p->s ^= p->s << 25;
    p->s ^= p->s >> 27;
    return p->s * 0x2545f4914f6cdd1dULL;
}

void conf_prng_fill(struct conf_prng *p, void *dst, size_t n)
{
    unsigned char *d = dst;

    while (n && p->avail) {
        *d++ = (unsigned char)p->buf;
        p->buf >>= 8;
        p->avail--;
        n--;
    }
    while (n >= 8) {
        uint64_t v = prng_next(p);

        memcpy(d, &v, 8);
        d += 8;
        n -= 8;
    }
    if (n) {
        p->buf = prng_next(p);
        p->avail = 8;
        while (n--) {
            *d++ = (unsigned char)p->buf;
            p->buf >>= 8;
            p->avail--;
        }
    }
}

uint64_t conf_hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *d = data;

    while (n--) {
        h ^= *d++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static sigjmp_buf probe_env;
static volatile sig_atomic_t probe_sig;

static void probe_handler(int sig)
{
    probe_sig = sig;
    siglongjmp(probe_env, 1);
}

static int probe(volatile unsigned char *p, bool write, unsigned char v, unsigned char *out)
{
    struct sigaction sa, old_segv, old_bus, old_alrm;
    int got;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = probe_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
    sigaction(SIGALRM, &sa, &old_alrm);
    probe_sig = 0;
    if (sigsetjmp(probe_env, 1) == 0) {
        alarm(5);
        if (write)
            *p = v;
        else
            *out = *p;
        __sync_synchronize();
    }
    alarm(0);
    got = probe_sig;
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    sigaction(SIGALRM, &old_alrm, NULL);
    return got;
}

int conf_probe_write(volatile unsigned char *p, unsigned char v)
{
    return probe(p, true, v, NULL);
}

int conf_probe_read(const volatile unsigned char *p, unsigned char *out)
{
    return probe((volatile unsigned char *)p, false, 0, out);
}
