/* xensim: string-list messages with fds (see strmsg.h). */
#include "strmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void strmsg_init(struct strmsg *m)
{
    m->len = 0;
}

int strmsg_add(struct strmsg *m, const char *s)
{
    size_t n = strlen(s) + 1;
    if (n > sizeof(m->buf) - m->len)
        return -E2BIG;
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    return 0;
}

int strmsg_addf(struct strmsg *m, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -E2BIG;
    return strmsg_add(m, tmp);
}

int strmsg_send(int sock, const struct strmsg *m, const int *fds, int nfds)
{
    if (nfds < 0 || nfds > STRMSG_MAX_FDS)
        return -EINVAL;
    struct iovec iov = { .iov_base = (void *)m->buf, .iov_len = m->len };
    union {
        char buf[CMSG_SPACE(sizeof(int) * STRMSG_MAX_FDS)];
        struct cmsghdr align;
    } cmsgbuf;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        mh.msg_control = cmsgbuf.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    ssize_t r;
    do
        r = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    return (size_t)r == m->len ? 0 : -EIO;
}

int strmsg_recv(int sock, struct strmsg *m, int *fds, int *nfds)
{
    int room = nfds ? *nfds : 0;
    if (nfds)
        *nfds = 0;
    struct iovec iov = { .iov_base = m->buf, .iov_len = sizeof(m->buf) };
    union {
        char buf[CMSG_SPACE(sizeof(int) * STRMSG_MAX_FDS)];
        struct cmsghdr align;
    } cmsgbuf;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = cmsgbuf.buf, .msg_controllen = sizeof(cmsgbuf.buf),
    };
    ssize_t r;
    do
        r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    /* Take every passed fd first, so none leaks whatever we decide. */
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *p = (int *)CMSG_DATA(c);
        for (int i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, p + i, sizeof(fd));
            if (got < room)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    if (nfds)
        *nfds = got;
    m->len = (size_t)r;
    if (r == 0)
        return 0;
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || m->buf[r - 1] != '\0') {
        for (int i = 0; i < got; i++)
            close(fds[i]);
        if (nfds)
            *nfds = 0;
        return -EPROTO;
    }
    return (int)r;
}

int strmsg_split(struct strmsg *m, char **argv, int max)
{
    int argc = 0;
    size_t off = 0;
    while (off < m->len) {
        if (argc >= max - 1)
            return -E2BIG;
        argv[argc++] = m->buf + off;
        off += strlen(m->buf + off) + 1;
    }
    argv[argc] = NULL;
    return argc;
}
