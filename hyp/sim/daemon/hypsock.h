/* xensim daemon: the hypervisor socket ($XENSIM_DIR/hyp.sock) the drop-in
 * libxenevtchn / libxengnttab / libxenctrl talk to (protocol: proto.h).
 * Each library handle is one connection; the peer's domain is fixed at
 * accept from its PID namespace (ident.h). Closing a connection releases
 * everything its handle held.
 *
 * Two layers: hypsock_sock.c listens, accepts and moves messages and fds
 * over the sockets; hypsock.c handles the requests of a connection apart
 * from any socket (struct hypsock_conn below), so that a fuzz target can
 * drive it in-process. */
#ifndef XENSIM_HYPSOCK_H
#define XENSIM_HYPSOCK_H

#include <stddef.h>
#include <stdint.h>

struct loop;

/* Listen on path (replacing a stale socket there); 0 or -errno. Call once,
 * after ident_init() and domain_table_init(), before loop_run(). */
int hypsock_listen(struct loop *loop, const char *path);
/* Close the listener and every connection (daemon shutdown). */
void hypsock_shutdown(void);
/* Close every connection of domain domid (called by the table hooks when a
 * domain's processes are all dead). */
void hypsock_domain_gone(uint32_t domid);

/* ---- one connection, apart from its socket ---- */

struct hypsock_conn;

struct hypsock_transport {
    /* Send one reply, as xsp_send_reply() does (the fds are borrowed, not
     * closed). 0, or -errno if it could not go: the request is then undone
     * and the connection must close. */
    int (*send)(void *ctx, uint32_t op, int err, const void *body,
                size_t len, const int *fds, unsigned nfds);
    /* The connection was closed and released: free what ctx stands for.
     * Runs from hypsock_conn_close(), also inside hypsock_domain_gone(). */
    void (*closed)(void *ctx);
};

/* A new connection of domain domid, before its HELLO; NULL on ENOMEM. t
 * must outlive it. */
struct hypsock_conn *hypsock_conn_new(uint32_t domid,
                                      const struct hypsock_transport *t,
                                      void *ctx);
/* Handle one request message msg[0..len) that came with fds[0..nfds): at
 * most one reply goes out through t->send. The fds the request hands over
 * are set to -1; the caller closes the rest. Returns 0, or -1 when the
 * connection must be closed (a protocol violation, or a reply that could
 * not be sent). */
int hypsock_conn_request(struct hypsock_conn *c, const void *msg, size_t len,
                         int *fds, unsigned nfds);
/* Release everything the connection held (unmap-notifies fire), then call
 * t->closed(ctx) and free it. */
void hypsock_conn_close(struct hypsock_conn *c);
/* Close every connection. */
void hypsock_conn_close_all(void);

#endif
