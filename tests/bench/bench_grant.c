/* Benchmark: grant share (gntshr) and map (gnttab) of N pages between two
 * domains.
 *
 *   bench-grant share DIR PEER_DOMID NPAGES ITERS   (in domain A)
 *   bench-grant map   DIR PEER_DOMID NPAGES ITERS   (in domain B)
 * share times share+unshare of NPAGES, then shares once and publishes the
 * refs in DIR/refs; map times map+unmap of those refs (checking the content
 * once), then writes DIR/done. Each prints one JSON line. */
#include "bench_stats.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>

#define PAGE 4096

static void report(const char *what, int npages, double *t, size_t n)
{
    double med = bench_quantile(t, n, 0.5), p99 = bench_quantile(t, n, 0.99);
    printf("{\"test\": \"%s\", \"pages\": %d, \"iters\": %zu, \"median_us\": %.3f, \"p99_us\": %.3f}\n",
           what, npages, n, med, p99);
}

static int do_share(const char *dir, int peer, int npages, long iters)
{
    xengntshr_handle *s = xengntshr_open(NULL, 0);
    if (!s) {
        fprintf(stderr, "bench-grant: xengntshr_open: %s\n", strerror(errno));
        return 1;
    }
    uint32_t *refs = calloc((size_t)npages, sizeof(*refs));
    double *t = calloc((size_t)iters, sizeof(double));
    if (!refs || !t)
        return 1;
    for (long i = 0; i < iters; i++) {
        uint64_t t0 = bench_now_ns();
        void *p = xengntshr_share_pages(s, (uint32_t)peer, npages, refs, 1);
        if (!p) {
            fprintf(stderr, "bench-grant: share %d pages: %s\n", npages, strerror(errno));
            return 1;
        }
        xengntshr_unshare(s, p, (size_t)npages);
        t[i] = (double)(bench_now_ns() - t0) / 1000.0;
    }
    report("grant-share", npages, t, (size_t)iters);
    uint8_t *p = xengntshr_share_pages(s, (uint32_t)peer, npages, refs, 1);
    if (!p) {
        fprintf(stderr, "bench-grant: share: %s\n", strerror(errno));
        return 1;
    }
    for (int i = 0; i < npages; i++)
        p[(size_t)i * PAGE] = (uint8_t)(i * 7 + 1);
    char path[4096];
    size_t len = (size_t)npages * 12 + 16;
    char *txt = calloc(len, 1);
    if (!txt)
        return 1;
    size_t off = 0;
    for (int i = 0; i < npages; i++)
        off += (size_t)snprintf(txt + off, len - off, "%u\n", refs[i]);
    snprintf(path, sizeof(path), "%s/refs", dir);
    if (bench_put_file(path, txt))
        return 1;
    snprintf(path, sizeof(path), "%s/done", dir);
    if (bench_wait_file(path, 60000)) {
        fprintf(stderr, "bench-grant: the mapper never finished\n");
        return 1;
    }
    xengntshr_unshare(s, p, (size_t)npages);
    xengntshr_close(s);
    free(txt);
    free(t);
    free(refs);
    return 0;
}

static int do_map(const char *dir, int peer, int npages, long iters)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/refs", dir);
    if (bench_wait_file(path, 60000)) {
        fprintf(stderr, "bench-grant: no refs published in %s\n", path);
        return 1;
    }
    uint32_t *refs = calloc((size_t)npages, sizeof(*refs));
    double *t = calloc((size_t)iters, sizeof(double));
    FILE *f = fopen(path, "r");
    if (!refs || !t || !f)
        return 1;
    for (int i = 0; i < npages; i++)
        if (fscanf(f, "%u", &refs[i]) != 1) {
            fprintf(stderr, "bench-grant: short refs file\n");
            return 1;
        }
    fclose(f);
    xengnttab_handle *g = xengnttab_open(NULL, 0);
    if (!g) {
        fprintf(stderr, "bench-grant: xengnttab_open: %s\n", strerror(errno));
        return 1;
    }
    for (long i = 0; i < iters; i++) {
        uint64_t t0 = bench_now_ns();
        uint8_t *p = xengnttab_map_domain_grant_refs(g, (uint32_t)npages, (uint32_t)peer, refs,
                                                     PROT_READ | PROT_WRITE);
        if (!p) {
            fprintf(stderr, "bench-grant: map %d refs: %s\n", npages, strerror(errno));
            return 1;
        }
        if (i == 0)
            for (int k = 0; k < npages; k++)
                if (p[(size_t)k * PAGE] != (uint8_t)(k * 7 + 1)) {
                    fprintf(stderr, "bench-grant: page %d has the wrong content\n", k);
                    return 1;
                }
        xengnttab_unmap(g, p, (uint32_t)npages);
        t[i] = (double)(bench_now_ns() - t0) / 1000.0;
    }
    report("grant-map", npages, t, (size_t)iters);
    snprintf(path, sizeof(path), "%s/done", dir);
    bench_put_file(path, "done\n");
    xengnttab_close(g);
    free(t);
    free(refs);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "share"))
        return do_share(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]));
    if (argc == 6 && !strcmp(argv[1], "map"))
        return do_map(argv[2], atoi(argv[3]), atoi(argv[4]), atol(argv[5]));
    fprintf(stderr, "usage: bench-grant share|map DIR PEER_DOMID NPAGES ITERS\n");
    return 2;
}
