/* SPDX-License-Identifier: MIT */
/* libvchan-cap: the store connection a process's channels over Xen share for
 * their nodes (store_conn.c). */
#ifndef VCHAN_STORE_CONN_H
#define VCHAN_STORE_CONN_H

#include <vipc/hyp.h>

/* A reference to the process's connection (opened with the first; a lost
 * one is replaced by a fresh one): 0 and *st, *epoch (give both back to
 * vchan_store_put), or -errno. */
int vchan_store_get(struct hyp_store **st, unsigned long *epoch);
/* Give the reference to st back; the last closes the connection.  In a
 * forked child the inherited connections are dropped (the one way a child
 * may) and a reference of the parent's is not counted. */
void vchan_store_put(struct hyp_store *st, unsigned long epoch);
/* If the connection of reference *st is lost (hyp_store_lost()), swap the
 * reference for one to a fresh connection: 0 (*st, *epoch updated, or the
 * connection was not lost), or -errno (the reference unchanged). */
int vchan_store_renew(struct hyp_store **st, unsigned long *epoch);

#endif
