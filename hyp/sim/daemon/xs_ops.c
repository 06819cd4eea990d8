/* xensim xenstore: one request, from payload to reply, per request type
 * (docs/misc/xenstore.txt). Errors go back as XS_ERROR with the errno's
 * name from xs_wire.h's xsd_errors. A connection's domain comes from the
 * connection (ident at accept), never from the payload. */
#include "xs_core.h"
#include "xs_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xs_wire.h>

#define DOMID_SELF_VALUE 0x7ff0u

struct req {
    struct xs_conn *c;
    uint32_t type, req_id, tx_id;
    const char *p;
    uint32_t len;
    struct xs_txn *txn;
};

static void reply(struct req *r, const void *data, size_t len)
{
    xs_conn_send(r->c, r->type, r->req_id, r->tx_id, data, len, NULL, 0);
}

static void reply_ok(struct req *r)
{
    reply(r, "OK", 3);
}

static void reply_err(struct req *r, int err)
{
    if (err < 0)
        err = -err;
    const char *name = "EINVAL"; /* as xenstored, for untranslatable ones */
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
        if (xsd_errors[i].errnum == err) {
            name = xsd_errors[i].errstring;
            break;
        }
    }
    xs_conn_send(r->c, XS_ERROR, r->req_id, r->tx_id, name, strlen(name) + 1,
                 NULL, 0);
}

static void finish(struct req *r, int rc)
{
    if (rc < 0)
        reply_err(r, rc);
    else
        reply_ok(r);
}

/* The payload is exactly one NUL-terminated string. */
static const char *one_arg(const struct req *r)
{
    if (!r->len || memchr(r->p, '\0', r->len) != r->p + r->len - 1)
        return NULL;
    return r->p;
}

/* Up to max NUL-terminated strings from the start of the payload; data
 * after the last NUL is ignored, as xenstored's get_strings does. */
static unsigned split(const struct req *r, const char **vec, unsigned max)
{
    unsigned n = 0;
    uint32_t off = 0;
    while (n < max && off < r->len) {
        const char *e = memchr(r->p + off, '\0', r->len - off);
        if (!e)
            break;
        vec[n++] = r->p + off;
        off = (uint32_t)(e - r->p) + 1;
    }
    return n;
}

static unsigned count_strings(const struct req *r)
{
    unsigned n = 0;
    for (uint32_t i = 0; i < r->len; i++)
        n += r->p[i] == '\0';
    return n;
}

/* Decimal domid as xenstored reads it (atoi): leading digits, else 0. */
static uint32_t parse_domid(const char *s)
{
    unsigned long v = 0;
    for (; *s >= '0' && *s <= '9' && v <= 0xffffffffu; s++)
        v = v * 10 + (unsigned long)(*s - '0');
    return v > 0xffffffffu ? 0xffffffffu : (uint32_t)v;
}

static struct xs_view view_of(struct req *r)
{
    struct xs_view v = {.s = r->c->s, .conn = r->c, .domid = r->c->domid,
                        .txn = r->txn};
    return v;
}

static int canon(struct req *r, const char *in, char *out, bool *relative)
{
    return xs_path_canonical(r->c->domid, in, r->c->s->lim.max_path_len, out,
                             XS_PATH_BUF, relative);
}

static void op_read(struct req *r)
{
    const char *arg = one_arg(r);
    char path[XS_PATH_BUF];
    if (!arg || canon(r, arg, path, NULL) < 0)
        { reply_err(r, EINVAL); return; }
    struct xs_view v = view_of(r);
    struct xs_node *n;
    int rc = xs_tree_get(&v, path, XS_ACC_READ, &n);
    if (rc < 0)
        { reply_err(r, rc); return; }
    reply(r, n->value, n->len);
}

static void op_write(struct req *r)
{
    const char *vec[1];
    char path[XS_PATH_BUF];
    if (split(r, vec, 1) < 1 || canon(r, vec[0], path, NULL) < 0)
        { reply_err(r, EINVAL); return; }
    uint32_t off = (uint32_t)strlen(vec[0]) + 1;
    struct xs_view v = view_of(r);
    finish(r, xs_tree_write(&v, path, r->p + off, r->len - off));
}

static void op_mkdir(struct req *r)
{
    const char *arg = one_arg(r);
    char path[XS_PATH_BUF];
    if (!arg || canon(r, arg, path, NULL) < 0)
        { reply_err(r, EINVAL); return; }
    struct xs_view v = view_of(r);
    finish(r, xs_tree_mkdir(&v, path));
}

static void op_rm(struct req *r)
{
    const char *arg = one_arg(r);
    char path[XS_PATH_BUF];
    if (!arg || canon(r, arg, path, NULL) < 0)
        { reply_err(r, EINVAL); return; }
    struct xs_view v = view_of(r);
    finish(r, xs_tree_rm(&v, path));
}

static int get_readable(struct req *r, const char *arg, struct xs_node **n)
{
    char path[XS_PATH_BUF];
    if (!arg || canon(r, arg, path, NULL) < 0)
        return -EINVAL;
    struct xs_view v = view_of(r);
    return xs_tree_get(&v, path, XS_ACC_READ, n);
}

static void op_directory(struct req *r)
{
    struct xs_node *n;
    int rc = get_readable(r, one_arg(r), &n);
    if (rc < 0)
        { reply_err(r, rc); return; }
    size_t total = xs_node_children_bytes(n);
    if (total > XENSTORE_PAYLOAD_MAX)
        { reply_err(r, E2BIG); return; } /* the client then uses DIRECTORY_PART */
    char *buf = malloc(total + 1);
    if (!buf)
        { reply_err(r, ENOMEM); return; }
    size_t at = 0;
    for (unsigned i = 0; i < n->nchildren; i++) {
        size_t l = strlen(n->children[i]) + 1;
        memcpy(buf + at, n->children[i], l);
        at += l;
    }
    reply(r, buf, total);
    free(buf);
}

/* <gencnt>\0 then the whole children names from byte <offset> of the
 * list that fit; the chunk that reaches the end of the list gets one more
 * NUL (an empty name), and only that one: libxenstore takes a chunk ending
 * in "\0\0" as the last (xenstored's send_directory_part). An offset at
 * or past the end gets an empty list. */
static void op_directory_part(struct req *r)
{
    const char *vec[2];
    if (split(r, vec, 2) < 2 || !vec[1][0] ||
        strspn(vec[1], "0123456789") != strlen(vec[1]))
        { reply_err(r, EINVAL); return; }
    struct xs_node *n;
    int rc = get_readable(r, vec[0], &n);
    if (rc < 0)
        { reply_err(r, rc); return; }
    unsigned long off = strtoul(vec[1], NULL, 10);
    char *buf = malloc(XENSTORE_PAYLOAD_MAX);
    if (!buf)
        { reply_err(r, ENOMEM); return; }
    size_t at = (size_t)snprintf(buf, 32, "%llu",
                                 (unsigned long long)n->gen) + 1;
    size_t pos = 0;
    bool end = true;
    for (unsigned i = 0; i < n->nchildren; i++) {
        size_t l = strlen(n->children[i]) + 1;
        if (pos + l > off) {
            /* An offset inside a name starts there, as xenstored copies
             * from its flat list at that byte. */
            size_t skip = off > pos ? off - pos : 0;
            /* Keep room for the end mark, as xenstored does. */
            if (at + l - skip + 1 > XENSTORE_PAYLOAD_MAX) {
                end = false;
                break;
            }
            memcpy(buf + at, n->children[i] + skip, l - skip);
            at += l - skip;
        }
        pos += l;
    }
    if (end)
        buf[at++] = '\0';
    reply(r, buf, at);
    free(buf);
}

/* A special name ("@releaseDomain") is no node here: EINVAL, to everyone
 * (dom0 too), granted read or not.  Xen 4.17's xenstored keeps the special
 * nodes' perms outside its tree: do_get_perms looks the name up as a path,
 * which must start with '/'.  Only SET_PERMS and the events use them. */
static void op_get_perms(struct req *r)
{
    struct xs_node *n;
    int rc = get_readable(r, one_arg(r), &n);
    if (rc < 0)
        { reply_err(r, rc); return; }
    char buf[XENSTORE_PAYLOAD_MAX];
    int len = xs_perm_format(n->perms, n->nperms, buf, sizeof(buf));
    if (len < 0)
        { reply_err(r, len); return; }
    reply(r, buf, (size_t)len);
}

static void op_set_perms(struct req *r)
{
    unsigned n = count_strings(r);
    if (n < 2)
        { reply_err(r, EINVAL); return; }
    unsigned np = n - 1;
    const char *name = r->p;
    struct xs_perm *perms = calloc(np, sizeof(*perms));
    if (!perms)
        { reply_err(r, ENOMEM); return; }
    int rc = xs_perm_parse(name + strlen(name) + 1, np, perms);
    char path[XS_PATH_BUF];
    if (rc == 0 && name[0] != '@' && canon(r, name, path, NULL) < 0)
        rc = -EINVAL;
    if (rc == 0) {
        struct xs_view v = view_of(r);
        rc = xs_tree_set_perms(&v, name[0] == '@' ? name : path, perms, np);
    }
    free(perms);
    finish(r, rc);
}

/* <path>\0<token>\0: a special name, or a path (maybe relative). */
static int watch_args(struct req *r, const char **vec, char *path,
                      bool *relative)
{
    if (split(r, vec, 2) < 2)
        return -EINVAL;
    *relative = false;
    if (vec[0][0] == '@') {
        if (strlen(vec[0]) > XENSTORE_REL_PATH_MAX)
            return -EINVAL;
        snprintf(path, XS_PATH_BUF, "%s", vec[0]);
        return 0;
    }
    return canon(r, vec[0], path, relative);
}

static void op_watch(struct req *r)
{
    const char *vec[2];
    char path[XS_PATH_BUF];
    bool relative;
    /* In a Linux guest, /dev/xen/xenbus answers a request without its
     * two strings itself, and registers any other watch itself: it
     * reports xenstored's refusal (a bad path, a duplicate, E2BIG past the
     * domain's 128) as the failure of write(), on which libxenstore
     * closes the handle (xs_talkv), and every later call on it fails
     * with EBADF; its watches count until the process closes it, which
     * releases the device file (seen on Xen 4.17: a 62nd channel's open
     * in one process). Here the refusal is answered, then a guest's
     * connection refused (xs_conn_refuse). */
    if (split(r, vec, 2) < 2) {
        reply_err(r, EINVAL);
        return;
    }
    int rc = watch_args(r, vec, path, &relative);
    if (rc == 0)
        rc = xs_watch_add(r->c, path, relative, vec[1]);
    finish(r, rc);
    if (rc == 0) /* fired once up front, as xenstored does */
        xs_conn_send_event(r->c, vec[0], vec[1]);
    else if (r->c->domid != 0)
        xs_conn_refuse(r->c);
}

static void op_unwatch(struct req *r)
{
    const char *vec[2];
    char path[XS_PATH_BUF];
    bool relative;
    int rc = watch_args(r, vec, path, &relative);
    if (rc == 0)
        rc = xs_watch_remove(r->c, path, vec[1]);
    finish(r, rc);
}

static void op_reset_watches(struct req *r)
{
    xs_watch_free_all(r->c);
    xs_txn_free_all(r->c);
    reply_ok(r);
}

static void op_transaction_start(struct req *r)
{
    if (r->txn)
        { reply_err(r, EBUSY); return; } /* no nesting */
    uint32_t id;
    int rc = xs_txn_start(r->c, &id);
    if (rc < 0)
        { reply_err(r, rc); return; }
    char buf[16];
    int len = snprintf(buf, sizeof(buf), "%u", id);
    reply(r, buf, (size_t)len + 1);
}

static void op_transaction_end(struct req *r)
{
    const char *arg = one_arg(r);
    if (!r->txn)
        { reply_err(r, ENOENT); return; }
    if (!arg || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
        { reply_err(r, EINVAL); return; }
    finish(r, xs_txn_end(r->c, r->txn, arg[0] == 'T'));
}

static void op_get_domain_path(struct req *r)
{
    const char *arg = one_arg(r);
    if (!arg)
        { reply_err(r, EINVAL); return; }
    char buf[48];
    int len = snprintf(buf, sizeof(buf), "/local/domain/%u", parse_domid(arg));
    reply(r, buf, (size_t)len + 1);
}

/* Privileged, as in Xen 4.17's xenstored (XS_FLAG_PRIV since XSA-115):
 * a guest gets EACCES, and learns of a peer's death only through
 * @releaseDomain, if dom0 opened it to it. */
static void op_is_domain_introduced(struct req *r)
{
    if (r->c->domid != 0)
        { reply_err(r, EACCES); return; }
    const char *arg = one_arg(r);
    if (!arg)
        { reply_err(r, EINVAL); return; }
    uint32_t domid = parse_domid(arg);
    bool yes = domid == DOMID_SELF_VALUE || xs_dom_find(r->c->s, domid);
    reply(r, yes ? "T" : "F", 2);
}

/* INTRODUCE, RELEASE, RESUME, SET_TARGET: dom0 only. The daemon owns the
 * domains' lifecycle (xs_domain_introduce/release), so for dom0 these only
 * check their arguments and acknowledge; SET_TARGET takes effect. */
static void op_domain_control(struct req *r)
{
    if (r->c->domid != 0)
        { reply_err(r, EACCES); return; }
    struct xs_server *s = r->c->s;
    const char *vec[3];
    unsigned need = r->type == XS_INTRODUCE ? 3
                    : r->type == XS_SET_TARGET ? 2 : 1;
    if (split(r, vec, need) < need)
        { reply_err(r, EINVAL); return; }
    uint32_t domid = parse_domid(vec[0]);
    if (r->type != XS_INTRODUCE && domid == 0)
        { reply_err(r, EINVAL); return; }
    struct xs_dom *d = xs_dom_find(s, domid);
    if (!d)
        { reply_err(r, ENOENT); return; }
    if (r->type == XS_SET_TARGET) {
        uint32_t target = parse_domid(vec[1]);
        if (!xs_dom_find(s, target))
            { reply_err(r, ENOENT); return; }
        d->has_target = true;
        d->target = target;
    }
    reply_ok(r);
}

static void op_control(struct req *r)
{
    if (r->c->domid != 0)
        { reply_err(r, EACCES); return; }
    const char *vec[1];
    if (split(r, vec, 1) < 1)
        { reply_err(r, EINVAL); return; }
    static const char help[] =
        "Supported commands:\ncheck\nhelp\nlog\nprint\n";
    if (strcmp(vec[0], "help") == 0)
        { reply(r, help, sizeof(help)); return; }
    if (strcmp(vec[0], "check") == 0 || strcmp(vec[0], "log") == 0 ||
        strcmp(vec[0], "print") == 0)
        { reply_ok(r); return; }
    reply_err(r, EINVAL);
}

void xs_ops_dispatch(struct xs_conn *c, uint32_t type, uint32_t req_id,
                     uint32_t tx_id, const char *payload, uint32_t len)
{
    struct req r = {.c = c, .type = type, .req_id = req_id, .tx_id = tx_id,
                    .p = payload, .len = len, .txn = NULL};
    if (c->refused)
        { reply_err(&r, EIO); return; } /* Xen: EBADF, in the library */
    /* In xenstored 4.17's order (process_message): an unknown type, then
     * a guest asking for a privileged one, then the transaction id, which
     * every type but WATCH and UNWATCH looks up (an unknown id: ENOENT;
     * TRANSACTION_START with a known one: EBUSY). */
    bool priv = false;
    switch (type) {
    case XS_INTRODUCE: case XS_RELEASE: case XS_RESUME: case XS_SET_TARGET:
    case XS_IS_DOMAIN_INTRODUCED: case XS_CONTROL:
        priv = true;
        break;
    case XS_READ: case XS_WRITE: case XS_MKDIR: case XS_RM:
    case XS_DIRECTORY: case XS_DIRECTORY_PART: case XS_GET_PERMS:
    case XS_SET_PERMS: case XS_TRANSACTION_END: case XS_TRANSACTION_START:
    case XS_WATCH: case XS_UNWATCH: case XS_RESET_WATCHES:
    case XS_GET_DOMAIN_PATH:
        break;
    default:
        reply_err(&r, ENOSYS);
        return;
    }
    if (priv && c->domid != 0)
        { reply_err(&r, EACCES); return; }
    if (tx_id && type != XS_WATCH && type != XS_UNWATCH) {
        r.txn = xs_txn_find(c, tx_id);
        if (!r.txn)
            { reply_err(&r, ENOENT); return; }
    }
    switch (type) {
    case XS_READ: { op_read(&r); return; }
    case XS_WRITE: { op_write(&r); return; }
    case XS_MKDIR: { op_mkdir(&r); return; }
    case XS_RM: { op_rm(&r); return; }
    case XS_DIRECTORY: { op_directory(&r); return; }
    case XS_DIRECTORY_PART: { op_directory_part(&r); return; }
    case XS_GET_PERMS: { op_get_perms(&r); return; }
    case XS_SET_PERMS: { op_set_perms(&r); return; }
    case XS_WATCH: { op_watch(&r); return; }
    case XS_UNWATCH: { op_unwatch(&r); return; }
    case XS_RESET_WATCHES: { op_reset_watches(&r); return; }
    case XS_TRANSACTION_START: { op_transaction_start(&r); return; }
    case XS_TRANSACTION_END: { op_transaction_end(&r); return; }
    case XS_GET_DOMAIN_PATH: { op_get_domain_path(&r); return; }
    case XS_IS_DOMAIN_INTRODUCED: { op_is_domain_introduced(&r); return; }
    case XS_INTRODUCE: case XS_RELEASE: case XS_RESUME: case XS_SET_TARGET:
        { op_domain_control(&r); return; }
    case XS_CONTROL: { op_control(&r); return; }
    default: { reply_err(&r, ENOSYS); return; }
    }
}
