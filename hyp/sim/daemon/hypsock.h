/* xensim daemon: the hypervisor socket ($XENSIM_DIR/hyp.sock) the drop-in
 * libxenevtchn / libxengnttab / libxenctrl talk to (protocol: proto.h).
 * Each library handle is one connection; the peer's domain is fixed at
 * accept from its PID namespace (ident.h). Closing a connection releases
 * everything its handle held. */
#ifndef XENSIM_HYPSOCK_H
#define XENSIM_HYPSOCK_H

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

#endif
