/* xensim daemon: event channels (per-domain port tables), as Xen's
 * EVTCHNOP_* and the Linux evtchn driver behave.
 *
 * Every bound port has a pipe, made by the daemon at bind. The binder's
 * library gets the read end (in its epoll set); the daemon keeps its own
 * file description of the pipe, reader and writer at once, for its kicks.
 * A notify never reaches the daemon: the library writes the peer port's
 * pipe through a write end that only the daemon hands out (evtchn_peer():
 * a fresh open file description each time, so that no holder can change
 * another's file flags), cached until the port's generation (in the
 * handle's read-only generation page) changes.
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

/* On success (a port), *rfd is the port's read end for the binder: the
 * caller sends it and closes it. */
int evtchn_bind_unbound(struct evtchn_handle *h, uint32_t remote_dom, int *rfd);
int evtchn_bind_interdomain(struct evtchn_handle *h, uint32_t remote_dom,
                            uint32_t remote_port, int *rfd);
int evtchn_bind_virq(struct evtchn_handle *h, uint32_t virq, int *rfd);
int evtchn_unbind(struct evtchn_handle *h, uint32_t port);
int evtchn_restrict(struct evtchn_handle *h, uint32_t domid);
/* The port's generation now, and in *peer_wfd a new fd to write to notify
 * port's peer, which the caller must close; -1 if the port is not
 * connected. The fd is its own open file description of the peer's pipe,
 * non-blocking, opened read-write: while anyone holds it the pipe has a
 * reader, so a write never raises SIGPIPE in the notifier. */
int evtchn_peer(struct evtchn_handle *h, uint32_t port, uint32_t *gen,
                int *peer_wfd);
/* xc_evtchn_status, asked by a process of domain caller. */
int evtchn_status(uint32_t caller, uint32_t domid, uint32_t port,
                  struct xsp_ctrl_evtchn_status_rep *out);

/* Unmap-notify support: keep (domid, port) bound until released, as the
 * Linux driver's evtchn_get() does; the port must be bound now. */
int evtchn_hold(uint32_t domid, uint32_t port, struct evtchn_port **out);
/* Send an event on a held port (to its peer). Never waits for room in
 * the pipe. */
void evtchn_send_held(struct evtchn_port *p);
void evtchn_release(struct evtchn_port *p);

/* Fire a global VIRQ (VIRQ_DOM_EXC) at domain 0's binding of it. */
void evtchn_fire_virq_dom0(uint32_t virq);

/* Supplied by hypsock.c: close every connection of domain domid (its
 * processes are dead); called first by the *_domain_destroyed hooks. */
void hypsock_domain_gone(uint32_t domid);

#endif
