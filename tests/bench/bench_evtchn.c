/* Benchmark: event-channel notify-to-wakeup round trip between two domains,
 * and the raw eventfd ping-pong it is compared with, in the same run.
 *
 *   bench-evtchn serve DIR PEER_DOMID ITERS [CPU]   (in domain A)
 *   bench-evtchn ping  DIR PEER_DOMID ITERS [CPU]   (in domain B; prints JSON)
 *   bench-evtchn eventfd ITERS CPU_A CPU_B          (anywhere; prints JSON)
 * DIR is a folder both can see, used only to pass the port number. Uses the
 * raw Xen library, so it runs unchanged on xensim and on real Xen. */
#include "bench_stats.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenevtchn.h>

#define WARMUP 1000

static void report(const char *what, double *t, size_t n)
{
    double med = bench_quantile(t, n, 0.5), p99 = bench_quantile(t, n, 0.99);
    printf("{\"test\": \"%s\", \"iters\": %zu, \"median_us\": %.3f, \"p99_us\": %.3f}\n",
           what, n, med, p99);
}

/* Wait for the next event and re-arm the port, as any consumer must.
 * (Blocking pending, the shortest path; run_xen's watchdog bounds it.) */
static int wait_event(xenevtchn_handle *x, evtchn_port_t port)
{
    xenevtchn_port_or_error_t p = xenevtchn_pending(x);
    if (p < 0)
        return -errno;
    if ((evtchn_port_t)p != port) {
        fprintf(stderr, "bench-evtchn: event on unexpected port %d\n", p);
        return -EPROTO;
    }
    return xenevtchn_unmask(x, (evtchn_port_t)p) < 0 ? -errno : 0;
}

static int run_xen(int serve, const char *dir, int peer, long iters, int cpu)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/port", dir);
    bench_pin(cpu);
    /* Watchdog: a benchmark must never hang (SIGALRM ends the process). */
    alarm((unsigned)(60 + iters / 1000));
    xenevtchn_handle *x = xenevtchn_open(NULL, 0);
    if (!x) {
        fprintf(stderr, "bench-evtchn: xenevtchn_open: %s\n", strerror(errno));
        return 1;
    }
    evtchn_port_t port;
    if (serve) {
        xenevtchn_port_or_error_t p = xenevtchn_bind_unbound_port(x, (uint32_t)peer);
        if (p < 0) {
            fprintf(stderr, "bench-evtchn: bind_unbound_port(%d): %s\n", peer, strerror(errno));
            return 1;
        }
        port = (evtchn_port_t)p;
        char txt[32];
        snprintf(txt, sizeof(txt), "%u\n", port);
        if (bench_put_file(path, txt)) {
            perror("bench-evtchn: write port");
            return 1;
        }
        for (long i = 0; i < iters + WARMUP; i++) {
            if (wait_event(x, port) || xenevtchn_notify(x, port) < 0) {
                fprintf(stderr, "bench-evtchn: serve: round %ld failed\n", i);
                return 1;
            }
        }
    } else {
        if (bench_wait_file(path, 20000)) {
            fprintf(stderr, "bench-evtchn: no port published in %s\n", path);
            return 1;
        }
        FILE *f = fopen(path, "r");
        unsigned rp = 0;
        if (!f || fscanf(f, "%u", &rp) != 1) {
            fprintf(stderr, "bench-evtchn: cannot read %s\n", path);
            return 1;
        }
        fclose(f);
        xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(x, (uint32_t)peer, rp);
        if (p < 0) {
            fprintf(stderr, "bench-evtchn: bind_interdomain(%d, %u): %s\n", peer, rp, strerror(errno));
            return 1;
        }
        port = (evtchn_port_t)p;
        /* Xen leaves the binder's new port pending (so that nothing sent
         * before the bind is lost): take that event first, or every round
         * would run one event ahead and the peer's coalesced replies
         * would leave the last one waiting. */
        if (wait_event(x, port)) {
            fprintf(stderr, "bench-evtchn: no event pending after bind_interdomain\n");
            return 1;
        }
        double *t = calloc((size_t)iters, sizeof(double));
        if (!t)
            return 1;
        for (long i = 0; i < iters + WARMUP; i++) {
            uint64_t t0 = bench_now_ns();
            if (xenevtchn_notify(x, port) < 0 || wait_event(x, port)) {
                fprintf(stderr, "bench-evtchn: ping: round %ld failed\n", i);
                return 1;
            }
            if (i >= WARMUP)
                t[i - WARMUP] = (double)(bench_now_ns() - t0) / 1000.0;
        }
        report("evtchn-rtt", t, (size_t)iters);
        free(t);
    }
    xenevtchn_unbind(x, port);
    xenevtchn_close(x);
    return 0;
}

static int run_eventfd(long iters, int cpu_a, int cpu_b)
{
    int a = eventfd(0, EFD_CLOEXEC), b = eventfd(0, EFD_CLOEXEC);
    if (a < 0 || b < 0) {
        perror("bench-evtchn: eventfd");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    uint64_t v = 1;
    if (pid == 0) {
        bench_pin(cpu_b);
        for (long i = 0; i < iters + WARMUP; i++) {
            if (read(a, &v, 8) != 8 || write(b, &v, 8) != 8)
                _exit(1);
        }
        _exit(0);
    }
    bench_pin(cpu_a);
    double *t = calloc((size_t)iters, sizeof(double));
    if (!t)
        return 1;
    for (long i = 0; i < iters + WARMUP; i++) {
        uint64_t t0 = bench_now_ns();
        if (write(a, &v, 8) != 8 || read(b, &v, 8) != 8)
            return 1;
        if (i >= WARMUP)
            t[i - WARMUP] = (double)(bench_now_ns() - t0) / 1000.0;
    }
    int st;
    waitpid(pid, &st, 0);
    report("eventfd-rtt", t, (size_t)iters);
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && (!strcmp(argv[1], "serve") || !strcmp(argv[1], "ping")))
        return run_xen(!strcmp(argv[1], "serve"), argv[2], atoi(argv[3]), atol(argv[4]),
                       argc > 5 ? atoi(argv[5]) : -1);
    if (argc == 5 && !strcmp(argv[1], "eventfd"))
        return run_eventfd(atol(argv[2]), atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "usage: bench-evtchn serve|ping DIR PEER_DOMID ITERS [CPU]\n"
                    "       bench-evtchn eventfd ITERS CPU_A CPU_B\n");
    return 2;
}
