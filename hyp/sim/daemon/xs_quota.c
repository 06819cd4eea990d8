/* xensim xenstore: quota defaults, those of xenstored (-N -W -t -S, and
 * transaction-nodes) and the wire limits of xs_wire.h, and the entry size
 * rule. Checks live where the resource is taken: xs_tree.c (nodes, nodes
 * a txn touched, entry size), xs_watch.c, xs_txn.c, xs_wire.c (output).
 * A guest's txn that created a node is checked again at commit, against the
 * live counts then (ENOSPC; at 4.17's ">=", see xs_txn.c over_quota). */
#include "xs_core.h"

#include <errno.h>
#include <xen/io/xs_wire.h>

void xs_limits_default(struct xs_limits *lim)
{
    lim->nodes_per_domain = 1000;
    lim->watches_per_domain = 128;
    lim->kernel_watches = 5;
    lim->transactions_per_domain = 10;
    lim->txn_nodes = 1024;
    lim->max_entry_size = 2048;
    lim->max_path_len = XENSTORE_ABS_PATH_MAX;
    lim->max_outstanding_per_conn = 1024;
}

/* Xen 4.17's xenstored stores each node as one database record, and a guest
 * may not write one of max_entry_size bytes or more: a 24-byte header, 8
 * bytes per permission entry, the value, and each child's name with its
 * NUL. So with one perm entry a guest's value may have 2015 bytes, and a
 * node of its may hold 2015 bytes of child names (both seen on 4.17:
 * conformance scenario store-quota). Dom0 is exempt; removing a child is
 * never refused (XSA-323), so callers check only what grows. */
int xs_entry_size_check(const struct xs_server *s, uint32_t writer,
                        unsigned nperms, size_t value_len, size_t child_bytes)
{
    if (writer == 0)
        return 0;
    size_t size = XS_ENTRY_HEADER + XS_ENTRY_PERM * (size_t)nperms +
                  value_len + child_bytes;
    return size >= s->lim.max_entry_size ? -ENOSPC : 0;
}
