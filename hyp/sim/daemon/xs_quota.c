/* xensim xenstore: quota defaults, those of xenstored (-N -W -t -S) and the
 * wire limits of xs_wire.h. Checks live where the resource is taken:
 * xs_tree.c (nodes, value size), xs_watch.c, xs_txn.c, xs_wire.c (output).
 * A guest's txn that created a node is checked again at commit, against the
 * live counts then (ENOSPC; at 4.17's ">=", see xs_txn.c over_quota). */
#include "xs_server.h"

#include <xen/io/xs_wire.h>

void xs_limits_default(struct xs_limits *lim)
{
    lim->nodes_per_domain = 1000;
    lim->watches_per_domain = 128;
    lim->transactions_per_domain = 10;
    lim->max_value_size = 2048;
    lim->max_path_len = XENSTORE_ABS_PATH_MAX;
    lim->max_outstanding_per_conn = 1024;
}
