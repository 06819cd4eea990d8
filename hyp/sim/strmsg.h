/* xensim: small string-list messages (argv-like, NUL-separated) with passed
 * fds, one per SOCK_SEQPACKET datagram. Used by the CLI <-> daemon control
 * socket and the daemon <-> domain-monitor socket, both trusted paths (dom0
 * and the daemon's own children); still every field is checked. */
#ifndef XENSIM_STRMSG_H
#define XENSIM_STRMSG_H

#include <stddef.h>

#define STRMSG_MAX (64 * 1024)
#define STRMSG_MAX_ARGS 1024
#define STRMSG_MAX_FDS 8

struct strmsg {
    size_t len;
    char buf[STRMSG_MAX];
};

void strmsg_init(struct strmsg *m);
/* Append one string; -E2BIG if it does not fit. */
int strmsg_add(struct strmsg *m, const char *s);
int strmsg_addf(struct strmsg *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Send m with nfds fds attached. */
int strmsg_send(int sock, const struct strmsg *m, const int *fds, int nfds);
/* Receive one message. *nfds: in = room in fds, out = how many came (extra
 * ones are closed). Returns the byte count, 0 at EOF, or -errno; -EPROTO for
 * a truncated or unterminated message. */
int strmsg_recv(int sock, struct strmsg *m, int *fds, int *nfds);
/* Split into argv (pointers into m->buf, NULL-terminated); returns argc or
 * -E2BIG past max-1 strings. */
int strmsg_split(struct strmsg *m, char **argv, int max);

#endif
