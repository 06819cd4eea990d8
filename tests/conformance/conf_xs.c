/* conf-xs: the few xenstore operations a scenario makes from dom0, with the
 * raw libxenstore (so that scenarios need no xenstore-utils in dom0).
 *
 *   conf-xs write PATH VALUE     conf-xs read PATH     conf-xs rm PATH
 *   conf-xs chmod PATH PERM...   (PERM: n|r|w|b then a domid, the first
 *                                 naming the owner and everyone else's
 *                                 access, as xenstore-chmod takes them;
 *                                 PATH may be a special node such as
 *                                 @releaseDomain)
 *   conf-xs perms PATH           (each entry as domid:bits, the bits in
 *                                 hex as the daemon returns them)
 *   conf-xs fill PATH N          (N nodes PATH/0 .. PATH/N-1, one write
 *                                 each: dom0 owning many nodes, in one
 *                                 process rather than N)
 * Exit 0 on success; on failure the error is on stderr and the exit is 1
 * (2 for a usage error). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s write PATH VALUE | read PATH | rm PATH | "
            "chmod PATH PERM... | perms PATH | fill PATH N\n", prog);
}

/* "r5" -> {5, XS_PERM_READ}; false if it is not of that form. */
static bool parse_perm(const char *s, struct xs_permissions *p)
{
    unsigned long id;
    char *end;

    switch (s[0]) {
    case 'n': p->perms = XS_PERM_NONE; break;
    case 'r': p->perms = XS_PERM_READ; break;
    case 'w': p->perms = XS_PERM_WRITE; break;
    case 'b': p->perms = XS_PERM_READ | XS_PERM_WRITE; break;
    default: return false;
    }
    if (s[1] < '0' || s[1] > '9')
        return false;
    errno = 0;
    id = strtoul(s + 1, &end, 10);
    if (errno || *end || id > 0xffff)
        return false;
    p->id = (unsigned)id;
    return true;
}

static bool do_chmod(struct xs_handle *xs, const char *path, int n, char **strs)
{
    struct xs_permissions *perms = calloc((size_t)n, sizeof(*perms));
    bool ok;

    if (!perms) {
        errno = ENOMEM;
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!parse_perm(strs[i], &perms[i])) {
            fprintf(stderr, "conf-xs: '%s' is not a permission (n|r|w|b + domid)\n",
                    strs[i]);
            free(perms);
            errno = EINVAL;
            return false;
        }
    }
    ok = xs_set_permissions(xs, XBT_NULL, path, perms, (unsigned)n);
    free(perms);
    return ok;
}

/* One line: each entry as the daemon returns it, domid and the raw bits
 * in hex (xenstored may add flags of its own, such as "ignore"). */
static bool do_perms(struct xs_handle *xs, const char *path)
{
    unsigned int n = 0, i;
    struct xs_permissions *p = xs_get_permissions(xs, XBT_NULL, path, &n);

    if (!p)
        return false;
    for (i = 0; i < n; i++)
        printf("%s%u:%#x", i ? " " : "", p[i].id, (unsigned)p[i].perms);
    printf("\n");
    free(p);
    return true;
}

/* PATH/0 .. PATH/N-1, each "x"; stops at the first refusal. */
static bool do_fill(struct xs_handle *xs, const char *path, const char *count)
{
    char *end, child[4096];
    unsigned long n;

    errno = 0;
    n = strtoul(count, &end, 10);
    if (errno || end == count || *end || n > 1000000) {
        fprintf(stderr, "conf-xs: fill: '%s' is not a node count (0 to 1000000)\n",
                count);
        errno = EINVAL;
        return false;
    }
    for (unsigned long i = 0; i < n; i++) {
        snprintf(child, sizeof(child), "%s/%lu", path, i);
        if (!xs_write(xs, XBT_NULL, child, "x", 1)) {
            fprintf(stderr, "conf-xs: fill: write %s: %s\n", child, strerror(errno));
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    bool ok = false;
    int need;

    if (argc < 3) {
        usage(argv[0]);
        return 2;
    }
    need = !strcmp(argv[1], "write") || !strcmp(argv[1], "fill") ? 4 : 3;
    if (!strcmp(argv[1], "chmod") ? argc < 4 : argc != need) {
        usage(argv[0]);
        return 2;
    }
    xs = xs_open(0);
    if (!xs) {
        fprintf(stderr, "conf-xs: xs_open: %s\n", strerror(errno));
        return 1;
    }
    if (!strcmp(argv[1], "write")) {
        ok = xs_write(xs, XBT_NULL, argv[2], argv[3], strlen(argv[3]));
    } else if (!strcmp(argv[1], "read")) {
        char *v = xs_read(xs, XBT_NULL, argv[2], NULL);

        if (v)
            printf("%s\n", v);
        ok = v != NULL;
        free(v);
    } else if (!strcmp(argv[1], "rm")) {
        ok = xs_rm(xs, XBT_NULL, argv[2]);
    } else if (!strcmp(argv[1], "chmod")) {
        ok = do_chmod(xs, argv[2], argc - 3, argv + 3);
    } else if (!strcmp(argv[1], "perms")) {
        ok = do_perms(xs, argv[2]);
    } else if (!strcmp(argv[1], "fill")) {
        ok = do_fill(xs, argv[2], argv[3]);
    } else {
        errno = EINVAL;
    }
    if (!ok)
        fprintf(stderr, "conf-xs: %s %s: %s\n", argv[1], argv[2], strerror(errno));
    xs_close(xs);
    return ok ? 0 : 1;
}
