/* xensim xenstore: the server's shared state (server, connections, domains,
 * transactions, watches) and the calls the xs_*.c files make on each other. */
#ifndef XENSIM_XS_CORE_H
#define XENSIM_XS_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fd_accept.h"
#include "xs_server.h"
#include "xs_store.h"

/* xenstored -A default: permission entries per node for unprivileged
 * domains. */
#define XS_MAX_PERMS_PER_NODE 5
/* A node's database record in Xen 4.17's xenstored: the header, and each
 * permission entry (see xs_entry_size_check). */
#define XS_ENTRY_HEADER 24
#define XS_ENTRY_PERM 8
/* Dom0 is exempt from the output quota, but not without bound. */
#define XS_DOM0_OUTPUT_CAP (1u << 20)

struct xs_dom {
    struct xs_dom *next;
    uint32_t domid;
    uint64_t gen;          /* store generation when introduced */
    char name[64];
    char vm_path[64];      /* /vm/<uuid> made at introduce */
    bool has_target;
    uint32_t target;       /* SET_TARGET: acts as this domain for perms */
    /* Quota counters. */
    unsigned nodes;
    unsigned watches;
    unsigned transactions;
};

struct xs_watch {
    struct xs_watch *next;
    char *path;            /* canonical path or @special */
    char *token;
    bool relative;         /* events strip /local/domain/<domid>/ */
};

struct xs_event {
    struct xs_event *next;
    char *path;
    bool exact;
    struct xs_perm *perms; /* perms of a removed node, or the old perms */
    unsigned nperms;
    uint64_t gen;          /* the generation those perms hold for */
};

struct xs_txn {
    struct xs_txn *next;
    uint32_t id;
    struct xs_store nodes;     /* copies of every node the txn touched */
    struct xs_event *events, **events_tail;
    /* Node-count changes per owner, applied at commit; keyed by the
     * owner's introduction generation too: a domain released and
     * introduced again under the same id during the txn is another owner. */
    struct xs_txn_acc { uint32_t domid; uint64_t dom_gen; int delta; } *acc;
    unsigned nacc;
    /* The txn created a node: a guest's commit re-checks the node quota
     * (Xen's trans->node_created). */
    bool node_created;
    /* A request failed at the txn's node quota, maybe half done: the
     * commit fails with ENOMEM (Xen's trans->fail). */
    bool failed;
};

struct xs_out {
    struct xs_out *next;
    size_t len, off;
    bool event;                /* a watch event (else a reply) */
    char data[];
};

struct xs_conn {
    struct xs_conn *next;
    struct xs_server *s;
    int fd;                    /* -1: detached (unit tests) */
    uint32_t domid;
    bool closed;
    bool refused;              /* xs_conn_refuse() */
    bool want_out;             /* EPOLLOUT registered */
    /* Input: header, then payload. */
    unsigned char hdrbuf[16];
    size_t hdr_got;
    char *in;
    size_t in_len, in_got;
    /* Output queue. */
    struct xs_out *out_head, **out_tail;
    size_t out_count;          /* messages queued */
    size_t out_events;         /* of which watch events */
    struct xs_watch *watches;
    struct xs_txn *txns;
    uint32_t next_txid;
};

/* A listening socket (the daemon may open more than one). */
struct xs_listener {
    struct xs_listener *next;
    struct xs_server *s;
    int fd;
    char *path;
    struct fd_listener fl; /* fd in the loop, paused when it cannot accept */
};

struct xs_server {
    struct loop *loop;
    struct xs_limits lim;
    struct xs_listener *listeners;
    struct xs_store tree;
    uint64_t generation;       /* next node generation; starts at 1 */
    struct xs_dom *doms;
    struct xs_conn *conns;
    struct xs_conn *dead;      /* closed, freed after the current round */
    bool reap_pending;
    struct xs_perm *intro_perms, *release_perms;
    unsigned n_intro_perms, n_release_perms;
    /* Watch events dropped past a connection's quota since the last log
     * line, and when that went (xs_conn_send_event). */
    unsigned long long events_dropped;
    uint64_t drop_log_ns;
    /* Descriptor budget hooks (xs_server_set_fd_budget); NULL: none. */
    int (*charge_fd)(uint32_t domid, uint32_t n, const char *what);
    void (*uncharge_fd)(uint32_t domid, uint32_t n);
};

/* What one request acts as: a domain, maybe inside a transaction. conn is
 * NULL for the server's own writes (introduce/release), which are dom0's. */
struct xs_view {
    struct xs_server *s;
    struct xs_conn *conn;
    uint32_t domid;
    struct xs_txn *txn;
};

/* xs_domain.c */
struct xs_dom *xs_dom_find(struct xs_server *s, uint32_t domid);
void xs_dom_free_all(struct xs_server *s);
/* Node-ownership counter (no-op for unknown domains). */
void xs_dom_count_nodes(struct xs_server *s, uint32_t domid, int delta);

/* xs_quota.c: -ENOSPC if writer (not dom0) may not make a node of these
 * sizes. */
int xs_entry_size_check(const struct xs_server *s, uint32_t writer,
                        unsigned nperms, size_t value_len, size_t child_bytes);

/* xs_perms.c */
/* Does permission entry domid hold for a node of generation gen? */
bool xs_perm_entry_valid(struct xs_server *s, uint32_t domid, uint64_t gen);
uint32_t xs_perm_owner(struct xs_server *s, const struct xs_perm *p,
                       uint64_t gen);
/* XS_ACC_* bits that domid has on a node with these perms. */
unsigned xs_perm_access(struct xs_server *s, uint32_t domid,
                        const struct xs_perm *p, unsigned np, uint64_t gen);
unsigned xs_node_access(struct xs_server *s, uint32_t domid,
                        const struct xs_node *n);
/* Before a node changes: drop entries that no longer hold (owner of a gone
 * domain becomes dom0, entries of gone or younger domains are ignored). */
void xs_perm_settle(struct xs_server *s, struct xs_node *n);
/* Parse "r5\0b0\0..." (count strings); -EINVAL on bad syntax. */
int xs_perm_parse(const char *strings, unsigned count, struct xs_perm *out);
/* Format as strings; returns bytes written or -E2BIG. */
int xs_perm_format(const struct xs_perm *p, unsigned np, char *out,
                   size_t outsz);

/* xs_tree.c: the operations, in the live tree or a transaction. All return
 * 0 or -errno, with xenstored's choice of errno. */
int xs_tree_get(struct xs_view *v, const char *path, unsigned want,
                struct xs_node **out);
int xs_tree_write(struct xs_view *v, const char *path, const void *val,
                  uint32_t len);
int xs_tree_mkdir(struct xs_view *v, const char *path);
int xs_tree_rm(struct xs_view *v, const char *path);
int xs_tree_set_perms(struct xs_view *v, const char *path,
                      struct xs_perm *p, unsigned np);
/* Raw lookup in the view (no permission check); 0, -ENOENT or -ENOMEM. */
int xs_tree_lookup(struct xs_view *v, const char *path, struct xs_node **out);
int xs_tree_init(struct xs_server *s);

/* xs_txn.c */
int xs_txn_start(struct xs_conn *c, uint32_t *id);
struct xs_txn *xs_txn_find(struct xs_conn *c, uint32_t id);
/* Commit (true) or abort; frees the txn. Commit: 0, -ENOMEM (t->failed,
 * checked first), -ENOSPC (the node quota) or -EAGAIN (a conflict). */
int xs_txn_end(struct xs_conn *c, struct xs_txn *t, bool commit);
void xs_txn_free_all(struct xs_conn *c);
/* Queue a watch event for commit time; p holds for generation gen. One
 * per node the txn touched, as xenstored keeps a flag per node: a later
 * one for the same path only makes it non-exact if it is, and gives it
 * perms if it had none. */
int xs_txn_queue_event(struct xs_txn *t, const char *path, bool exact,
                       const struct xs_perm *p, unsigned np, uint64_t gen);
/* Nodes domain domid, as it exists now, gains (or loses) in the txn. */
int xs_txn_acc_get(struct xs_server *s, const struct xs_txn *t,
                   uint32_t domid);
int xs_txn_acc_add(struct xs_server *s, struct xs_txn *t, uint32_t domid,
                   int delta);

/* xs_watch.c */
int xs_watch_add(struct xs_conn *c, const char *path, bool relative,
                 const char *token);
int xs_watch_remove(struct xs_conn *c, const char *path, const char *token);
void xs_watch_free_all(struct xs_conn *c);
/* A change at path: send events to every watch it matches and whose
 * connection may see it (XSA-115). perms: those of a removed node, or a
 * node's perms before a SET_PERMS (may be NULL). */
void xs_watch_fire(struct xs_server *s, const char *path, bool exact,
                   const struct xs_perm *perms, unsigned np, uint64_t gen);

/* xs_wire.c */
struct xs_conn *xs_conn_new(struct xs_server *s, int fd, uint32_t domid);
void xs_conn_close(struct xs_conn *c);
/* A guest's request refused as Linux's xenbus device reports it (the
 * failure of write(), on which libxenstore gives the handle up): from now
 * on every request is answered EIO and no event is sent, but the
 * connection and its watches stay, and count, until the process closes
 * it, as on Xen 4.17. */
void xs_conn_refuse(struct xs_conn *c);
/* Give back now what connections of domid that their processes closed
 * still hold: on Xen a guest's kernel unwatches as the process closes the
 * handle, before the process's next request; here the close may still
 * wait in the loop.  Called before refusing a watch past the quota. */
void xs_conns_settle(struct xs_server *s, uint32_t domid);
/* Queue one message (header + a + b); cuts the connection past its quota. */
int xs_conn_send(struct xs_conn *c, uint32_t type, uint32_t req_id,
                 uint32_t tx_id, const void *a, size_t alen,
                 const void *b, size_t blen);
/* Queue a watch event, unless an identical one is still queued (but for
 * "@..." paths) or the connection is past its quota (then dropped, and
 * logged at most once per LOG_INTERVAL_NS): as Xen 4.17.  0 queued or
 * merged; -ENOSPC dropped; -E2BIG too big; -EPIPE closed. */
int xs_conn_send_event(struct xs_conn *c, const char *path,
                       const char *token);
/* Bytes from the peer (the socket reader and unit tests use this):
 * parses and runs complete requests. -EPROTO: the connection was cut. */
int xs_conn_feed(struct xs_conn *c, const void *buf, size_t len);
/* Unit tests: pop the oldest queued message of a detached connection. */
int xs_conn_pop(struct xs_conn *c, void *hdr16, char *payload, size_t cap);
/* Unit tests and the fuzzer: unlink a detached connection's whole output
 * queue, oldest first, as queued (header and payload in data[0..len));
 * the caller frees each message. */
struct xs_out *xs_conn_take_out(struct xs_conn *c);
void xs_conn_reap(struct xs_server *s);

/* xs_ops.c: run one complete request. */
void xs_ops_dispatch(struct xs_conn *c, uint32_t type, uint32_t req_id,
                     uint32_t tx_id, const char *payload, uint32_t len);

#endif
