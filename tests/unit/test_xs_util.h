/* Helpers for the xenstore server's unit tests: a server without a loop,
 * "detached" connections (no socket) of chosen domains, requests sent as
 * real wire bytes, with the reply (and any watch events) read back, and
 * the cmocka group fixtures that make a test file's server and
 * connections (t_group). */
#ifndef TEST_XS_UTIL_H
#define TEST_XS_UTIL_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <xen/io/xs_wire.h>

#include "xs_core.h"

/* The server asks ident only on accept, which these tests never do. */
int ident_socket_domid(int fd);
int ident_socket_domid(int fd)
{
    (void)fd;
    return 0;
}

/* Bounded copy (snprintf "%s" trips -Wformat-truncation). */
static inline void t_copy(char *dst, size_t cap, const char *src)
{
    size_t l = strlen(src);
    if (l >= cap)
        l = cap - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

struct tev {
    char path[256];
    char token[64];
};

struct tconn {
    struct xs_conn *c;
    uint32_t next_req;
    struct tev ev[128];
    int nev;
    /* Last reply. */
    uint32_t type;
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    int len;
};

static inline struct xs_server *t_server(const struct xs_limits *lim)
{
    struct xs_server *s = xs_server_new(NULL, lim);
    if (!s || xs_domain_introduce(s, 0, "Domain-0", NULL) < 0)
        abort();
    return s;
}

static inline struct tconn *t_conn(struct xs_server *s, uint32_t domid)
{
    struct tconn *t = calloc(1, sizeof(*t));
    t->c = xs_conn_new(s, -1, domid);
    if (!t->c)
        abort();
    t->next_req = 100;
    return t;
}

/*
 * What each test of a group starts from, made by t_group_setup() and freed
 * by t_group_teardown() (the group's cmocka fixtures): the server S, with
 * the default limits changed by `limits` if set and guest domains
 * 1..guests introduced as "guest1", "guest2", ..., and one connection of
 * domain conns[i].domid in each *conns[i].conn.  A test file that runs
 * these fixtures defines t_group.
 */
#define T_GROUP_CONNS 4

struct tgroup {
    void (*limits)(struct xs_limits *lim);
    uint32_t guests;
    struct {
        struct tconn **conn;
        uint32_t domid;
    } conns[T_GROUP_CONNS];
};

extern const struct tgroup t_group;

/* The group's server, which the tests use by this name. */
static struct xs_server *S;

static inline int t_group_setup(void **st)
{
    struct xs_limits lim;
    char name[16];

    (void)st;
    xs_limits_default(&lim);
    if (t_group.limits)
        t_group.limits(&lim);
    S = t_server(&lim);
    for (uint32_t d = 1; d <= t_group.guests; d++) {
        snprintf(name, sizeof(name), "guest%u", (unsigned)d);
        assert_int_equal(xs_domain_introduce(S, d, name, NULL), 0);
    }
    for (int i = 0; i < T_GROUP_CONNS && t_group.conns[i].conn; i++)
        *t_group.conns[i].conn = t_conn(S, t_group.conns[i].domid);
    return 0;
}

static inline int t_group_teardown(void **st)
{
    (void)st;
    xs_server_free(S);
    for (int i = 0; i < T_GROUP_CONNS && t_group.conns[i].conn; i++)
        free(*t_group.conns[i].conn);
    return 0;
}

static inline int t_errno_of(const char *name)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (strcmp(xsd_errors[i].errstring, name) == 0)
            return xsd_errors[i].errnum;
    return 9999;
}

/* Pop everything queued: events are kept, the last other message is the
 * reply. Returns how many non-event messages came. */
static inline int t_drain(struct tconn *t)
{
    unsigned char hdr[16];
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    int replies = 0, n;
    while ((n = xs_conn_pop(t->c, hdr, buf, sizeof(buf) - 1)) >= 0) {
        struct xsd_sockmsg h;
        memcpy(&h, hdr, sizeof(h));
        buf[n] = '\0';
        if (h.type == XS_WATCH_EVENT) {
            if (t->nev < 128) {
                t_copy(t->ev[t->nev].path, sizeof(t->ev[0].path), buf);
                t_copy(t->ev[t->nev].token, sizeof(t->ev[0].token),
                       buf + strlen(buf) + 1);
                t->nev++;
            }
            continue;
        }
        t->type = h.type;
        memcpy(t->buf, buf, (size_t)n + 1);
        t->len = n;
        replies++;
    }
    return replies;
}

/* Send raw payload; returns reply length, or -errno for an XS_ERROR. */
static inline int t_raw(struct tconn *t, uint32_t type, uint32_t tx,
                        const void *payload, size_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = t->next_req++,
                            .tx_id = tx, .len = (uint32_t)len};
    unsigned char msg[16 + XENSTORE_PAYLOAD_MAX + 64];
    memcpy(msg, &h, 16);
    memcpy(msg + 16, payload, len);
    xs_conn_feed(t->c, msg, 16 + len);
    t->type = 0xffff;
    t->len = -1;
    t_drain(t);
    if (t->type == XS_ERROR)
        return -t_errno_of(t->buf);
    return t->len;
}

/* Payload made of NUL-terminated strings, NULL-ended. */
static inline int t_req(struct tconn *t, uint32_t type, uint32_t tx, ...)
{
    char p[XENSTORE_PAYLOAD_MAX + 64];
    size_t len = 0;
    va_list ap;
    va_start(ap, tx);
    for (const char *s; (s = va_arg(ap, const char *));) {
        size_t l = strlen(s) + 1;
        memcpy(p + len, s, l);
        len += l;
    }
    va_end(ap);
    return t_raw(t, type, tx, p, len);
}

static inline int t_write(struct tconn *t, uint32_t tx, const char *path,
                          const char *val)
{
    char p[XENSTORE_PAYLOAD_MAX + 64];
    size_t pl = strlen(path) + 1, vl = strlen(val);
    memcpy(p, path, pl);
    memcpy(p + pl, val, vl);
    int rc = t_raw(t, XS_WRITE, tx, p, pl + vl);
    return rc < 0 ? rc : 0;
}

/* Read into t->buf (NUL-terminated); returns length or -errno. */
static inline int t_read(struct tconn *t, uint32_t tx, const char *path)
{
    return t_req(t, XS_READ, tx, path, NULL);
}

static inline int t_ok(struct tconn *t, uint32_t type, uint32_t tx,
                       const char *path)
{
    int rc = t_req(t, type, tx, path, NULL);
    return rc < 0 ? rc : 0;
}

static inline uint32_t t_txstart(struct tconn *t)
{
    int rc = t_req(t, XS_TRANSACTION_START, 0, "", NULL);
    return rc < 0 ? 0 : (uint32_t)strtoul(t->buf, NULL, 10);
}

static inline int t_txend(struct tconn *t, uint32_t tx, bool commit)
{
    int rc = t_req(t, XS_TRANSACTION_END, tx, commit ? "T" : "F", NULL);
    return rc < 0 ? rc : 0;
}

/* GET_PERMS joined with spaces into out. */
static inline int t_getperms(struct tconn *t, const char *path, char *out,
                             size_t outsz)
{
    int rc = t_req(t, XS_GET_PERMS, 0, path, NULL);
    if (rc < 0)
        return rc;
    out[0] = '\0';
    for (int off = 0; off < rc;) {
        const char *s = t->buf + off;
        if (out[0])
            strncat(out, " ", outsz - strlen(out) - 1);
        strncat(out, s, outsz - strlen(out) - 1);
        off += (int)strlen(s) + 1;
    }
    return 0;
}

static inline bool t_has_event(struct tconn *t, const char *path,
                               const char *token)
{
    for (int i = 0; i < t->nev; i++)
        if (strcmp(t->ev[i].path, path) == 0 &&
            (!token || strcmp(t->ev[i].token, token) == 0))
            return true;
    return false;
}

static inline void t_clear_events(struct tconn *t)
{
    t_drain(t);
    t->nev = 0;
}

#endif
