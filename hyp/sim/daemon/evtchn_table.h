/* xensim daemon: event channels (per-domain port tables), as Xen's
 * EVTCHNOP_* and the Linux evtchn driver behave.
 *
 * Every bound port has an eventfd, made by the library of the handle that
 * bound it. A notify never reaches the daemon: the library writes the peer
 * port's eventfd, which it got once with evtchn_peer() and caches until the
 * port's generation (in the handle's read-only generation page) changes.
 * Functions return 0/a port or -errno. */
#ifndef XENSIM_EVTCHN_TABLE_H
#define XENSIM_EVTCHN_TABLE_H

#include <stdint.h>

#include "proto.h"

struct evtchn_handle; /* one library handle (one hyp.sock connection) */
struct evtchn_port;   /* a port, as held by a grant unmap-notify */

/* A new handle of domain domid. *gen_fd: a read-only fd of the generation
 * page (the caller sends and closes it); *gen_bytes its size; *max_port the
 * domain's highest port. */
int evtchn_handle_new(uint32_t domid, struct evtchn_handle **out, int *gen_fd,
                      uint32_t *gen_bytes, uint32_t *max_port);
/* Close every port of the handle (held ones stay until released), free it. */
void evtchn_handle_free(struct evtchn_handle *h);

/* The bind calls take ownership of efd (an eventfd) on success only. */
int evtchn_bind_unbound(struct evtchn_handle *h, uint32_t remote_dom, int efd);
int evtchn_bind_interdomain(struct evtchn_handle *h, uint32_t remote_dom,
                            uint32_t remote_port, int efd);
int evtchn_bind_virq(struct evtchn_handle *h, uint32_t virq, int efd);
int evtchn_unbind(struct evtchn_handle *h, uint32_t port);
int evtchn_restrict(struct evtchn_handle *h, uint32_t domid);
/* The eventfd to write to notify port's peer (borrowed; -1 if the port is
 * not connected) and the port's generation now. */
int evtchn_peer(struct evtchn_handle *h, uint32_t port, uint32_t *gen,
                int *peer_efd);
/* xc_evtchn_status, asked by a process of domain caller. */
int evtchn_status(uint32_t caller, uint32_t domid, uint32_t port,
                  struct xsp_ctrl_evtchn_status_rep *out);

/* Unmap-notify support: keep (domid, port) bound until released, as the
 * Linux driver's evtchn_get() does; the port must be bound now. */
int evtchn_hold(uint32_t domid, uint32_t port, struct evtchn_port **out);
/* Send an event on a held port (to its peer). Never blocks. */
void evtchn_send_held(struct evtchn_port *p);
void evtchn_release(struct evtchn_port *p);

/* Fire a global VIRQ (VIRQ_DOM_EXC) at domain 0's binding of it. */
void evtchn_fire_virq_dom0(uint32_t virq);

/* Is fd an eventfd? (Checked on every fd a library hands us.) */
int evtchn_check_eventfd(int fd);
/* Write 1 to an eventfd without ever blocking the daemon. */
void evtchn_kick(int efd);

/* Supplied by hypsock.c: close every connection of domain domid (its
 * processes are dead); called first by the *_domain_destroyed hooks. */
void hypsock_domain_gone(uint32_t domid);

#endif
