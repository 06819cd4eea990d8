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
 *   conf-xs try-perms PATH       (the same, or the refusal's errno by
 *                                 name, "EINVAL" say, with exit 0: what
 *                                 the store answers dom0, either way)
 *   conf-xs fill PATH N          (N nodes PATH/0 .. PATH/N-1, one write
 *                                 each: dom0 owning many nodes, in one
 *                                 process rather than N)
 *   conf-xs merge PATH N         (PATH written N times while a second
 *                                 connection, on the wire itself, watches
 *                                 it and reads nothing; then its events
 *                                 are counted: prints "E events for N
 *                                 writes".  Xen 4.17's xenstored drops an
 *                                 event identical to one still queued for
 *                                 a connection (XSA-326): once the socket
 *                                 is full, E stops growing)
 *   conf-xs cut PATH             (PATH written, then this connection's
 *                                 socket shut, as a restarted xenstored
 *                                 leaves it; then a read, a read and a
 *                                 write of PATH: prints the errno of each,
 *                                 by name.  libxenstore gives the
 *                                 connection up at the first failure:
 *                                 "ECONNRESET EBADF EBADF", say, which
 *                                 libvchan-cap's hyp_store.c relies on)
 * Exit 0 on success; on failure the error is on stderr and the exit is 1
 * (2 for a usage error). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

#define MERGE_TOKEN "conf-merge"

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s write PATH VALUE | read PATH | rm PATH | "
            "chmod PATH PERM... | perms PATH | try-perms PATH | fill PATH N | "
            "merge PATH N | cut PATH\n",
            prog);
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

static const char *errno_name(int e);

/* One line: each entry as the daemon returns it, domid and the raw bits
 * in hex (xenstored may add flags of its own, such as "ignore").  With
 * refusal_ok, a refusal is that line too: its errno's name. */
static bool do_perms(struct xs_handle *xs, const char *path, bool refusal_ok)
{
    unsigned int n = 0, i;
    struct xs_permissions *p;

    errno = 0;
    p = xs_get_permissions(xs, XBT_NULL, path, &n);
    if (!p && refusal_ok && errno) {
        printf("%s\n", errno_name(errno));
        return true;
    }
    if (!p)
        return false;
    for (i = 0; i < n; i++)
        printf("%s%u:%#x", i ? " " : "", p[i].id, (unsigned)p[i].perms);
    printf("\n");
    free(p);
    return true;
}

/* A count argument, min to 1000000, in *n; false (said) if it is not one. */
static bool count_arg(const char *what, const char *s, unsigned long min,
                      unsigned long *n)
{
    char *end;

    errno = 0;
    *n = strtoul(s, &end, 10);
    if (errno || end == s || *end || *n < min || *n > 1000000) {
        fprintf(stderr, "conf-xs: %s: '%s' is not a count (%lu to 1000000)\n",
                what, s, min);
        errno = EINVAL;
        return false;
    }
    return true;
}

/* PATH/0 .. PATH/N-1, each "x"; stops at the first refusal. */
static bool do_fill(struct xs_handle *xs, const char *path, const char *count)
{
    char child[4096];
    unsigned long n;

    if (!count_arg("fill", count, 0, &n))
        return false;
    for (unsigned long i = 0; i < n; i++) {
        snprintf(child, sizeof(child), "%s/%lu", path, i);
        if (!xs_write(xs, XBT_NULL, child, "x", 1)) {
            fprintf(stderr, "conf-xs: fill: write %s: %s\n", child, strerror(errno));
            return false;
        }
    }
    return true;
}

/* Read exactly len bytes within timeout_ms; false on EOF, error or time. */
static bool read_exact(int fd, void *buf, size_t len, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char *b = buf;

    while (len) {
        if (poll(&p, 1, timeout_ms) != 1)
            return false;
        ssize_t n = read(fd, b, len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return false;
        }
        b += n;
        len -= (size_t)n;
    }
    return true;
}

/* The next message on the wire: its header, and its payload in buf (NUL
 * ended).  false when none comes within timeout_ms. */
static bool next_msg(int fd, struct xsd_sockmsg *h, char *buf, int timeout_ms)
{
    if (!read_exact(fd, h, sizeof(*h), timeout_ms))
        return false;
    if (h->len > XENSTORE_PAYLOAD_MAX) {
        fprintf(stderr, "conf-xs: merge: a message of %u bytes\n", h->len);
        return false;
    }
    if (!read_exact(fd, buf, h->len, 5000))
        return false;
    buf[h->len] = '\0';
    return true;
}

/* Is this message an event of our watch? */
static bool our_event(const struct xsd_sockmsg *h, const char *buf,
                      const char *path)
{
    size_t pl = strlen(path) + 1;

    return h->type == XS_WATCH_EVENT && h->len == pl + sizeof(MERGE_TOKEN) &&
           !memcmp(buf, path, pl) && !strcmp(buf + pl, MERGE_TOKEN);
}

static bool do_merge(struct xs_handle *xs, const char *path, const char *count)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    const char *sock = xs_daemon_socket();
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    struct xsd_sockmsg h = { .type = XS_WATCH, .req_id = 1 };
    size_t pl = strlen(path) + 1;
    unsigned long n, events = 0;
    bool replied = false, initial = false;
    int fd;

    if (!count_arg("merge", count, 1, &n))
        return false;
    if (!sock || strlen(sock) >= sizeof(sa.sun_path) ||
        pl + sizeof(MERGE_TOKEN) > XENSTORE_PAYLOAD_MAX) {
        errno = ENAMETOOLONG;
        return false;
    }
    if (!xs_write(xs, XBT_NULL, path, "0", 1))
        return false;
    strcpy(sa.sun_path, sock);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "conf-xs: merge: connect %s: %s\n", sock,
                strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    /* XS_WATCH path token, then its reply and the event xenstored fires
     * up front. */
    h.len = (uint32_t)(pl + sizeof(MERGE_TOKEN));
    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), path, pl);
    memcpy(buf + sizeof(h) + pl, MERGE_TOKEN, sizeof(MERGE_TOKEN));
    if (write(fd, buf, sizeof(h) + h.len) != (ssize_t)(sizeof(h) + h.len)) {
        fprintf(stderr, "conf-xs: merge: write: %s\n", strerror(errno));
        close(fd);
        return false;
    }
    while (!(replied && initial) && next_msg(fd, &h, buf, 5000)) {
        if (h.type == XS_WATCH)
            replied = true;
        else if (our_event(&h, buf, path))
            initial = true;
        else if (h.type == XS_ERROR)
            break;
    }
    if (!replied || !initial) {
        fprintf(stderr, "conf-xs: merge: the watch got %s\n",
                h.type == XS_ERROR ? buf : "no reply and first event");
        close(fd);
        errno = EPROTO;
        return false;
    }
    /* Written n times, on the other connection; this one reads nothing. */
    for (unsigned long i = 0; i < n; i++) {
        if (!xs_write(xs, XBT_NULL, path, "x", 1)) {
            fprintf(stderr, "conf-xs: merge: write %lu: %s\n", i,
                    strerror(errno));
            close(fd);
            return false;
        }
    }
    /* Then everything that came, until a second passes with nothing. */
    while (next_msg(fd, &h, buf, 1000))
        events += our_event(&h, buf, path);
    close(fd);
    printf("%lu events for %lu writes\n", events, n);
    return true;
}

/* An errno as its name, for the few a lost connection gives, and those
 * of a refused request. */
static const char *errno_name(int e)
{
    static char num[16];

    switch (e) {
    case 0: return "0";
    case EBADF: return "EBADF";
    case ECONNRESET: return "ECONNRESET";
    case EPIPE: return "EPIPE";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case EIO: return "EIO";
    case ENOENT: return "ENOENT";
    }
    snprintf(num, sizeof(num), "%d", e);
    return num;
}

static bool do_cut(struct xs_handle *xs, const char *path)
{
    const char *sock = xs_daemon_socket();
    struct sockaddr_un sa;
    socklen_t len;
    int fd, shut = 0, e[3];
    char *v;

    if (!sock || !xs_write(xs, XBT_NULL, path, "0", 1))
        return false;
    /* Ours is the one socket of this process connected to the store's. */
    for (fd = 3; fd < 1024; fd++) {
        len = sizeof(sa);
        if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0 &&
            sa.sun_family == AF_UNIX &&
            !strncmp(sa.sun_path, sock, sizeof(sa.sun_path)) &&
            shutdown(fd, SHUT_RDWR) == 0)
            shut++;
    }
    if (shut != 1) {
        fprintf(stderr, "conf-xs: cut: %d connections to %s, not 1\n",
                shut, sock);
        errno = EPROTO;
        return false;
    }
    errno = 0;
    v = xs_read(xs, XBT_NULL, path, NULL);
    e[0] = v ? 0 : errno;
    free(v);
    errno = 0;
    v = xs_read(xs, XBT_NULL, path, NULL);
    e[1] = v ? 0 : errno;
    free(v);
    errno = 0;
    e[2] = xs_write(xs, XBT_NULL, path, "1", 1) ? 0 : errno;
    printf("%s ", errno_name(e[0]));
    printf("%s ", errno_name(e[1]));
    printf("%s\n", errno_name(e[2]));
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
    need = !strcmp(argv[1], "write") || !strcmp(argv[1], "fill") ||
           !strcmp(argv[1], "merge") ? 4 : 3;
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
        ok = do_perms(xs, argv[2], false);
    } else if (!strcmp(argv[1], "try-perms")) {
        ok = do_perms(xs, argv[2], true);
    } else if (!strcmp(argv[1], "fill")) {
        ok = do_fill(xs, argv[2], argv[3]);
    } else if (!strcmp(argv[1], "merge")) {
        ok = do_merge(xs, argv[2], argv[3]);
    } else if (!strcmp(argv[1], "cut")) {
        ok = do_cut(xs, argv[2]);
    } else {
        errno = EINVAL;
    }
    if (!ok)
        fprintf(stderr, "conf-xs: %s %s: %s\n", argv[1], argv[2], strerror(errno));
    xs_close(xs);
    return ok ? 0 : 1;
}
