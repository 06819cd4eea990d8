/* xensim: string-list messages with fds (see strmsg.h). */
#include "strmsg.h"
#include "proto.h"

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
    /* The fd-passing itself is hyp.sock's (proto_io.c): one implementation. */
    return xsp_send(sock, m->buf, m->len, fds, (unsigned)nfds);
}

int strmsg_recv(int sock, struct strmsg *m, int *fds, int *nfds)
{
    unsigned room = nfds && *nfds > 0 ? (unsigned)*nfds : 0, got = 0;
    int scratch[1];
    if (nfds)
        *nfds = 0;
    long r = xsp_recv(sock, m->buf, sizeof(m->buf), room ? fds : scratch, room, &got);
    if (r == -EMSGSIZE)
        return -EPROTO; /* truncated: a bad message, not a dead peer */
    if (r < 0)
        return (int)r;
    m->len = (size_t)r;
    if (r > 0 && m->buf[r - 1] != '\0') {
        for (unsigned i = 0; i < got; i++)
            close(fds[i]);
        return -EPROTO;
    }
    if (nfds)
        *nfds = (int)got;
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
