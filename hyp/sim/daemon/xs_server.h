/* xensim daemon: the xenstore server (xenstored's job), speaking the real
 * wire protocol of xen/io/xs_wire.h on a unix stream socket so that Debian's
 * unmodified libxenstore (XENSTORED_PATH) connects to it.
 *
 * Owned by the xs_*.c files. The domain table tells it which domains exist;
 * it learns who a connection is from ident_socket_domid(), never from what the
 * client sends. */
#ifndef XENSIM_XS_SERVER_H
#define XENSIM_XS_SERVER_H

#include <stdint.h>

struct loop;
struct xs_server;

/* Per-domain quotas, as xenstored's defaults (dom0 is exempt, as in Xen). */
struct xs_limits {
    unsigned nodes_per_domain;        /* xenstored -N: 1000 */
    unsigned watches_per_domain;      /* -W: 128 */
    unsigned kernel_watches;          /* of those, a guest's kernel holds: 5
                                         (Xen 4.17, Linux 6.1 guests: a
                                         process took 123; conformance
                                         scenario store-quota) */
    unsigned transactions_per_domain; /* -t: 10 (Xen 4.17 lets a guest
                                         open one more: see xs_txn_start) */
    unsigned txn_nodes;               /* nodes a guest's transaction may
                                         touch, read (even missing) or
                                         written: quota transaction-nodes,
                                         1024 */
    unsigned max_entry_size;          /* -S: 2048, a node's record: see
                                         xs_entry_size_check() */
    unsigned max_path_len;            /* XENSTORE_ABS_PATH_MAX: 3072 */
    unsigned max_outstanding_per_conn;/* replies, and events, queued for
                                         a guest's connection: 1024 each;
                                         past it a reply cuts it, an
                                         event is dropped */
};
void xs_limits_default(struct xs_limits *lim);

struct xs_server *xs_server_new(struct loop *loop, const struct xs_limits *lim);
void xs_server_free(struct xs_server *s);

/* Charge each connection's descriptor to its domain at accept, give it
 * back at close: the daemon passes fd_charge/fd_uncharge (fd_budget.h). A
 * refused connection is closed unanswered. Unset: nothing is charged. */
void xs_server_set_fd_budget(struct xs_server *s,
                             int (*charge)(uint32_t, uint32_t, const char *),
                             void (*uncharge)(uint32_t, uint32_t));

/* Listen on a unix stream socket at path (created 0666: every local process
 * may connect; what it may do depends on the domain it is). */
int xs_server_listen(struct xs_server *s, const char *path);

/* Domain lifecycle. introduce makes /local/domain/<domid> as libxl does
 * (name, domid, data/ writable by the domain ...) and fires @introduceDomain;
 * release removes it, drops the domain's watches and transactions, and fires
 * @releaseDomain. Dom0 is introduced by the daemon at start. */
int xs_domain_introduce(struct xs_server *s, uint32_t domid, const char *name,
                        const uint8_t uuid[16]);
int xs_domain_release(struct xs_server *s, uint32_t domid);

#endif
