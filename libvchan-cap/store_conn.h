/* SPDX-License-Identifier: MIT */
/* libvchan-cap: the store connection a process's channels over Xen share for
 * their nodes (store_conn.c). */
#ifndef VCHAN_STORE_CONN_H
#define VCHAN_STORE_CONN_H

#include <vipc/hyp.h>

/* A reference to the process's connection (opened with the first): 0 and
 * *st, *epoch (give both back to vchan_store_put), or -errno. */
int vchan_store_get(struct hyp_store **st, unsigned long *epoch);
/* Give a reference back; the last closes the connection.  In a forked
 * child the inherited connection is dropped (the one way a child may) and
 * a reference of the parent's is not counted. */
void vchan_store_put(unsigned long epoch);

#endif
