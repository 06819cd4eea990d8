/* xensim: sending and receiving hyp.sock messages with their fds (see
 * proto.h). Linked into the daemon and into every drop-in library. */
#include "proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fallback when XENSIM_DIR is not set in the environment. */
#define XSP_DEFAULT_DIR "/run/xensim"

int xsp_send(int sock, const void *buf, size_t len, const int *fds,
             unsigned nfds)
{
    if (nfds > XSP_FDS_PER_MSG || len > XSP_MSG_MAX)
        return -EINVAL;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    size_t ctl_len = CMSG_SPACE(sizeof(int) * XSP_FDS_PER_MSG);
    char *ctl = NULL;
    if (nfds) {
        ctl = calloc(1, ctl_len);
        if (!ctl)
            return -ENOMEM;
        mh.msg_control = ctl;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    int waits = 0;
    for (;;) {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n >= 0)
            break;
        if (errno == EINTR)
            continue;
        /* A non-blocking sender (the daemon) waits a little for a slow
         * reader (a reply spread over several messages), never forever. */
        if (errno != EAGAIN || waits++ >= 4)
            break;
        struct pollfd p = { .fd = sock, .events = POLLOUT };
        poll(&p, 1, 50);
    }
    int err = n < 0 ? -errno : 0;
    free(ctl);
    if (!err && (size_t)n != len)
        err = -EMSGSIZE; /* cannot happen on SEQPACKET, but never trust it */
    return err;
}

static void close_fds(int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
}

long xsp_recv(int sock, void *buf, size_t cap, int *fds, unsigned maxfds,
              unsigned *nfds)
{
    /* Room for the most fds a sender may attach, so that a sender sending
     * more than we want does not truncate (and leak) silently: we close the
     * surplus ourselves. */
    union {
        char buf[CMSG_SPACE(sizeof(int) * XSP_FDS_PER_MSG)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
    };
    *nfds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    unsigned got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (got < maxfds)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        close_fds(fds, got);
        return -EMSGSIZE;
    }
    *nfds = got;
    return n;
}

int xsp_send_reply(int sock, uint32_t op, int err, const void *body,
                   size_t body_len, const int *fds, unsigned nfds)
{
    size_t len = sizeof(struct xsp_rep_hdr) + body_len;
    if (len > XSP_MSG_MAX)
        return -EMSGSIZE;
    char *msg = malloc(len);
    if (!msg)
        return -ENOMEM;
    struct xsp_rep_hdr h = {
        .op = op, .err = err, .len = (uint32_t)len, .nr_fds = nfds,
    };
    memcpy(msg, &h, sizeof(h));
    if (body_len)
        memcpy(msg + sizeof(h), body, body_len);
    unsigned first = nfds < XSP_FDS_PER_MSG ? nfds : XSP_FDS_PER_MSG;
    int rc = xsp_send(sock, msg, len, fds, first);
    free(msg);
    for (unsigned sent = first; !rc && sent < nfds;) {
        unsigned k = nfds - sent;
        if (k > XSP_FDS_PER_MSG)
            k = XSP_FDS_PER_MSG;
        struct xsp_rep_hdr more = {
            .op = XSP_OP_MORE_FDS, .len = sizeof(more), .nr_fds = k,
        };
        rc = xsp_send(sock, &more, sizeof(more), fds + sent, k);
        sent += k;
    }
    return rc;
}

static void close_all(const int *fds, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        close(fds[i]);
}

static int call(int sock, uint32_t op, const void *req, size_t req_len,
                const int *send_fds, unsigned send_nfds, bool give, void *rep,
                size_t rep_cap, size_t *rep_len, int *fds, unsigned max_fds,
                unsigned *nfds);

int xsp_call(int sock, uint32_t op, const void *req, size_t req_len,
             const int *send_fds, unsigned send_nfds, void *rep, size_t rep_cap,
             size_t *rep_len, int *fds, unsigned max_fds, unsigned *nfds)
{
    return call(sock, op, req, req_len, send_fds, send_nfds, false, rep,
                rep_cap, rep_len, fds, max_fds, nfds);
}

int xsp_call_give(int sock, uint32_t op, const void *req, size_t req_len,
                  const int *send_fds, unsigned send_nfds, void *rep,
                  size_t rep_cap, size_t *rep_len, int *fds,
                  unsigned max_fds, unsigned *nfds)
{
    return call(sock, op, req, req_len, send_fds, send_nfds, true, rep,
                rep_cap, rep_len, fds, max_fds, nfds);
}

static int call(int sock, uint32_t op, const void *req, size_t req_len,
                const int *send_fds, unsigned send_nfds, bool give, void *rep,
                size_t rep_cap, size_t *rep_len, int *fds, unsigned max_fds,
                unsigned *nfds)
{
    size_t len = sizeof(struct xsp_req_hdr) + req_len;
    char *msg = len > XSP_MSG_MAX ? NULL : malloc(XSP_MSG_MAX);
    if (!msg) { /* msg: also receives the reply */
        if (give)
            close_all(send_fds, send_nfds);
        return len > XSP_MSG_MAX ? -E2BIG : -ENOMEM;
    }
    struct xsp_req_hdr h = { .op = op, .len = (uint32_t)len };
    memcpy(msg, &h, sizeof(h));
    if (req_len)
        memcpy(msg + sizeof(h), req, req_len);
    unsigned got_fds = 0;
    *nfds = 0;
    if (rep_len)
        *rep_len = 0;
    int rc = xsp_send(sock, msg, len, send_fds, send_nfds);
    /* Given: gone from here once sent (the daemon has its copy). */
    if (give)
        close_all(send_fds, send_nfds);
    if (rc)
        goto out;
    long n = xsp_recv(sock, msg, XSP_MSG_MAX, fds, max_fds, &got_fds);
    if (n == 0) {
        rc = -EPIPE;
        goto out;
    }
    if (n < 0) {
        rc = n == -ECONNRESET ? -EPIPE : (int)n;
        goto out;
    }
    struct xsp_rep_hdr rh;
    if ((size_t)n < sizeof(rh)) {
        rc = -EPROTO;
        goto out_fds;
    }
    memcpy(&rh, msg, sizeof(rh));
    if (rh.op != op || rh.len != (uint32_t)n || rh.nr_fds > max_fds ||
        got_fds > rh.nr_fds) {
        rc = -EPROTO;
        goto out_fds;
    }
    /* Continuation messages carry the rest of the fds. */
    while (got_fds < rh.nr_fds) {
        struct xsp_rep_hdr more;
        unsigned k = 0;
        long m = xsp_recv(sock, &more, sizeof(more), fds + got_fds,
                          rh.nr_fds - got_fds, &k);
        if (m <= 0) {
            rc = m == 0 ? -EPIPE : (int)m;
            goto out_fds;
        }
        got_fds += k;
        if ((size_t)m != sizeof(more) || more.op != XSP_OP_MORE_FDS ||
            k != more.nr_fds || k == 0) {
            rc = -EPROTO;
            goto out_fds;
        }
    }
    if (rh.err) {
        rc = rh.err > 0 ? -rh.err : -EPROTO;
        goto out_fds;
    }
    size_t body = (size_t)n - sizeof(rh);
    if (body > rep_cap) {
        rc = -EPROTO;
        goto out_fds;
    }
    if (body)
        memcpy(rep, msg + sizeof(rh), body);
    if (rep_len)
        *rep_len = body;
    *nfds = got_fds;
    free(msg);
    return 0;
out_fds:
    close_fds(fds, got_fds);
out:
    free(msg);
    return rc;
}

int xsp_connect(uint32_t kind, struct xsp_hello_rep *rep, int *gen_fd)
{
    const char *dir = getenv("XENSIM_DIR");
    if (!dir || !*dir)
        dir = XSP_DEFAULT_DIR;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int w = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
                     XSP_SOCK_NAME);
    if (w < 0 || (size_t)w >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(s);
        /* No daemon = no device: what the real library reports. */
        return e == ECONNREFUSED ? -ENOENT : -e;
    }
    struct xsp_hello hello = {
        .magic = XSP_MAGIC, .version = XSP_VERSION, .kind = kind,
    };
    int fd[1];
    unsigned nfds = 0;
    size_t got = 0;
    int rc = xsp_call(s, XSP_OP_HELLO, &hello, sizeof(hello), NULL, 0, rep,
                      sizeof(*rep), &got, fd, 1, &nfds);
    if (!rc && got != sizeof(*rep)) {
        close_fds(fd, nfds);
        rc = -EPROTO;
    }
    if (rc) {
        close(s);
        return rc;
    }
    if (gen_fd)
        *gen_fd = nfds ? fd[0] : -1;
    else if (nfds)
        close(fd[0]);
    return s;
}
