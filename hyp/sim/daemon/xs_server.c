/* xensim xenstore: the server object and its listening socket. Who a
 * client is comes from ident_socket_domid() at accept time only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "xs_core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd_accept.h"
#include "ident.h"
#include "loop.h"

struct xs_server *xs_server_new(struct loop *loop, const struct xs_limits *lim)
{
    struct xs_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->loop = loop;
    if (lim)
        s->lim = *lim;
    else
        xs_limits_default(&s->lim);
    s->generation = 1; /* 0 means "absent" in transaction records */
    /* @introduceDomain / @releaseDomain: dom0's, readable by no one else
     * until dom0 says so. */
    s->intro_perms = calloc(1, sizeof(struct xs_perm));
    s->release_perms = calloc(1, sizeof(struct xs_perm));
    s->n_intro_perms = s->n_release_perms = 1;
    if (!s->intro_perms || !s->release_perms ||
        xs_store_init(&s->tree) < 0 || xs_tree_init(s) < 0) {
        xs_server_free(s);
        return NULL;
    }
    return s;
}

void xs_server_set_fd_budget(struct xs_server *s,
                             int (*charge)(uint32_t, uint32_t, const char *),
                             void (*uncharge)(uint32_t, uint32_t))
{
    s->charge_fd = charge;
    s->uncharge_fd = uncharge;
}

void xs_server_free(struct xs_server *s)
{
    if (!s)
        return;
    for (struct xs_conn *c = s->conns; c; c = c->next)
        xs_conn_close(c);
    xs_conn_reap(s);
    while (s->listeners) {
        struct xs_listener *l = s->listeners;
        s->listeners = l->next;
        fd_listener_del(&l->fl);
        close(l->fd);
        unlink(l->path);
        free(l->path);
        free(l);
    }
    xs_store_clear(&s->tree);
    xs_dom_free_all(s);
    free(s->intro_perms);
    free(s->release_perms);
    free(s);
}

static void on_accept(void *ctx, uint32_t events)
{
    struct xs_listener *l = ctx;
    struct xs_server *s = l->s;
    (void)events;
    for (int i = 0; i < 64; i++) {
        int fd = fd_listener_accept(&l->fl);
        if (fd == -ECONNABORTED)
            continue;
        if (fd < 0)
            return; /* EAGAIN, or paused for a back-off (fd_accept.h) */
        int domid = ident_socket_domid(fd);
        /* Unknown process, or a domain the store was not told about. */
        if (domid < 0 || (domid != 0 && !xs_dom_find(s, (uint32_t)domid)) ||
            (s->charge_fd &&
             s->charge_fd((uint32_t)domid, 1, "xenstore connection"))) {
            close(fd);
            continue;
        }
        if (!xs_conn_new(s, fd, (uint32_t)domid)) {
            if (s->uncharge_fd)
                s->uncharge_fd((uint32_t)domid, 1);
            close(fd);
        }
    }
}

/* May be called more than once: each call adds a listening socket. */
int xs_server_listen(struct xs_server *s, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    struct xs_listener *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->s = s;
    l->path = strdup(path);
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = 0;
    if (!l->path)
        rc = -ENOMEM;
    else if (l->fd < 0)
        rc = -errno;
    if (rc == 0) {
        unlink(path); /* a stale socket of an earlier run */
        if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            chmod(path, 0600) < 0 || listen(l->fd, 128) < 0)
            rc = -errno;
        if (rc == 0 && s->loop)
            rc = fd_listener_add(&l->fl, s->loop, l->fd, "xenstore", on_accept, l);
        if (rc < 0)
            unlink(path);
    }
    if (rc < 0) {
        if (l->fd >= 0)
            close(l->fd);
        free(l->path);
        free(l);
        return rc;
    }
    l->next = s->listeners;
    s->listeners = l;
    return 0;
}
