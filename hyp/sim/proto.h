/* xensim: the protocol on the daemon's socket $XENSIM_DIR/hyp.sock.
 *
 * AF_UNIX SOCK_SEQPACKET. Each handle of a drop-in library (xenevtchn,
 * xengnttab, xengntshr, xc) is its own connection, so that a process's death
 * closes it and the daemon releases what the handle held. The daemon learns
 * the peer's domain from the peer process (ident.h) at accept, never from a
 * message.
 *
 * Strictly request/reply, one outstanding request per connection. A request
 * is one message: struct xsp_req_hdr + op-specific fixed struct + (for a few
 * ops) an array. A reply is struct xsp_rep_hdr + op-specific fixed struct +
 * array; file descriptors travel with SCM_RIGHTS, at most XSP_FDS_PER_MSG per
 * message; when a reply carries more, it says how many follow and the rest
 * come in XSP_OP_MORE_FDS messages (header only + fds).
 *
 * Every struct is fixed-size, naturally aligned, no implicit padding, and
 * little-endian (host order: both ends are the same machine).
 * The first request on a connection must be HELLO; it fixes the kind. */
#ifndef XENSIM_PROTO_H
#define XENSIM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define XSP_MAGIC 0x31707378u /* "xsp1" */
#define XSP_VERSION 1u
#define XSP_SOCK_NAME "hyp.sock"

/* SCM_MAX_FD is 253 in Linux. */
#define XSP_FDS_PER_MSG 253u
/* Largest message either side sends (bytes). */
#define XSP_MSG_MAX 65536u
/* Most pages one map/share call may cover (XSP_MSG_MAX / 8). */
#define XSP_MAX_PAGES 8000u
#define XSP_PAGE_SIZE 4096u

enum xsp_kind {
    XSP_KIND_EVTCHN = 1,
    XSP_KIND_GNTTAB = 2,
    XSP_KIND_GNTSHR = 3,
    XSP_KIND_CTRL = 4,
};

enum xsp_op {
    XSP_OP_HELLO = 1,
    XSP_OP_MORE_FDS = 2, /* reply continuation: header + fds only */
    /* evtchn */
    XSP_OP_EVTCHN_BIND_UNBOUND = 10,
    XSP_OP_EVTCHN_BIND_INTERDOMAIN = 11,
    XSP_OP_EVTCHN_BIND_VIRQ = 12,
    XSP_OP_EVTCHN_UNBIND = 13,
    XSP_OP_EVTCHN_PEER = 14,
    XSP_OP_EVTCHN_RESTRICT = 15,
    /* gnttab (mapper) */
    XSP_OP_GNTTAB_SET_MAX = 20,
    XSP_OP_GNTTAB_MAP = 21,
    XSP_OP_GNTTAB_UNMAP = 22,
    XSP_OP_GNTTAB_DISCARD = 23, /* an unmap whose notify does not fire */
    /* gntshr (sharer) */
    XSP_OP_GNTSHR_SHARE = 30,
    XSP_OP_GNTSHR_UNSHARE = 31,
    /* ctrl */
    XSP_OP_CTRL_DOMINFO = 40,
    XSP_OP_CTRL_EVTCHN_STATUS = 41,
};

struct xsp_req_hdr {
    uint32_t op;
    uint32_t len; /* whole message, header included */
};

struct xsp_rep_hdr {
    uint32_t op;      /* echoes the request's op */
    int32_t err;      /* 0 or a positive errno */
    uint32_t len;     /* whole message, header included */
    uint32_t nr_fds;  /* fds of this reply in all, this message and MORE_FDS */
};

/* ---- HELLO: req + fixed; reply + fixed (+ 1 fd for EVTCHN: gen page) ---- */
struct xsp_hello {
    uint32_t magic;
    uint32_t version;
    uint32_t kind;
    uint32_t pad;
};
struct xsp_hello_rep {
    uint32_t version;
    uint32_t domid;
    /* EVTCHN: the generation page (read-only memfd, gen_bytes long): one
     * uint32_t per port number, bumped by the daemon whenever the port's
     * peer changes, so that a cached peer write end is known stale. */
    uint32_t gen_bytes;
    uint32_t max_port;
};

/* ---- EVTCHN: a bind request carries no fd; its reply carries the read
 * end of the new port's pipe (1 fd), which the daemon made. A PEER reply
 * carries a write end of the peer port's pipe when connected (1 fd): a
 * file description of its own, which only the daemon hands out. ---- */
struct xsp_evtchn_bind {
    uint32_t remote_dom; /* BIND_UNBOUND, BIND_INTERDOMAIN */
    uint32_t remote_port; /* BIND_INTERDOMAIN */
    uint32_t virq;        /* BIND_VIRQ */
    uint32_t pad;
};
struct xsp_evtchn_port { /* UNBIND, PEER request; bind replies */
    uint32_t port;
    uint32_t pad;
};
struct xsp_evtchn_peer_rep {
    uint32_t port;
    uint32_t gen;        /* generation at the time of the answer */
    uint32_t connected;  /* 1: a write end of the peer's pipe is attached */
    uint32_t pad;
};
struct xsp_evtchn_restrict {
    uint32_t domid;
    uint32_t pad;
};

/* ---- GNTTAB ---- */
#define XSP_NO_NOTIFY_OFFSET 0xffffffffu
#define XSP_NO_NOTIFY_PORT 0xffffffffu

struct xsp_gnttab_set_max {
    uint32_t count;
    uint32_t pad;
};
/* MAP's writable bits; any other bit makes the request malformed. */
#define XSP_MAP_WRITE 1u    /* PROT_WRITE asked */
/* Answer a refused ref with its reason, as Xen's grant copy tells it
 * apart (gntdev's map says EINVAL for all): ESRCH no such (or dead)
 * domain, ERANGE ref beyond its table, EACCES not granted to the caller
 * or read-only. Only the library's grant copy asks it. */
#define XSP_MAP_WHY 2u
/* MAP request: this, then count x struct xsp_grant_ref. With a byte to
 * clear it may carry one fd: the read end of a pipe whose write end only
 * the mapping process holds (close-on-exec, closed in forked children),
 * so that the byte is cleared when that process's address space goes, as
 * Linux PV's gntdev does (grant_map_watch_owner). */
struct xsp_gnttab_map {
    uint32_t count;
    uint32_t writable;      /* XSP_MAP_* bits */
    uint32_t notify_offset; /* < XSP_PAGE_SIZE: clear this byte of page 0 */
    uint32_t notify_port;   /* XSP_NO_NOTIFY_PORT or a local port */
};
struct xsp_grant_ref {
    uint32_t domid;
    uint32_t ref;
};
/* MAP reply: this, then count x struct xsp_map_page; nr_fds backing fds. */
struct xsp_gnttab_map_rep {
    uint64_t map_id;
    uint32_t count;
    uint32_t pad;
};
struct xsp_map_page {
    uint32_t fd_index;  /* into the reply's fds */
    uint32_t page;      /* page offset within that fd */
};
struct xsp_gnttab_unmap {
    uint64_t map_id;
};

/* ---- GNTSHR ---- */
/* SHARE request: this + the memfd of count pages (MFD_ALLOW_SEALING) +
 * the read end of the share's owner pipe (optional; see gntshr.c). */
struct xsp_gntshr_share {
    uint32_t domid;         /* grantee */
    uint32_t count;
    uint32_t writable;
    uint32_t notify_offset; /* as for map; applies to page 0 */
    uint32_t notify_port;
    uint32_t pad;
};
/* SHARE reply: this, then count x uint32_t refs. */
struct xsp_gntshr_share_rep {
    uint64_t share_id;
    uint32_t count;
    uint32_t pad;
};
struct xsp_gntshr_unshare {
    uint64_t share_id;
    uint32_t first; /* page index within the share */
    uint32_t count;
};

/* ---- CTRL ---- */
struct xsp_ctrl_dominfo {
    uint32_t first_domid;
    uint32_t max; /* at most XSP_DOMINFO_MAX per request */
};
#define XSP_DOMINFO_MAX 256u
#define XSP_DOMINFO_DYING 1u
#define XSP_DOMINFO_SHUTDOWN 2u
/* DOMINFO reply: this, then count x struct xsp_dominfo (domid order). */
struct xsp_ctrl_dominfo_rep {
    uint32_t count;
    uint32_t pad;
};
struct xsp_dominfo {
    uint32_t domid;
    uint32_t flags;
    uint8_t uuid[16];
    uint64_t created_ns;
    uint32_t max_grant_frames;
    uint32_t max_event_channels;
    uint32_t shutdown_reason;
    uint32_t pad;
};
struct xsp_ctrl_evtchn_status {
    uint32_t domid;
    uint32_t port;
};
/* Xen's evtchn_status fields (ECS_* in xen/event_channel.h). */
struct xsp_ctrl_evtchn_status_rep {
    uint32_t status;
    uint32_t vcpu;
    uint32_t dom;   /* UNBOUND: who may bind; INTERDOMAIN: peer domain */
    uint32_t port;  /* INTERDOMAIN: peer port */
    uint32_t virq;  /* VIRQ */
    uint32_t pad;
};

/* ---- I/O helpers (proto_io.c), shared by the daemon and the libraries ---- */

/* Send one message with nfds fds (nfds <= XSP_FDS_PER_MSG). 0 or -errno. */
int xsp_send(int sock, const void *buf, size_t len, const int *fds,
             unsigned nfds);
/* Receive one message into buf (cap bytes) and up to maxfds fds into fds;
 * *nfds gets how many came (extra ones are closed; all received fds are
 * O_CLOEXEC). Returns the message length, 0 on EOF, or -errno; -EMSGSIZE if
 * the message or its control data was truncated (fds received are closed). */
long xsp_recv(int sock, void *buf, size_t cap, int *fds, unsigned maxfds,
              unsigned *nfds);
/* Send a reply with any number of fds: the first XSP_FDS_PER_MSG go with
 * the message, the rest in MORE_FDS messages. Does not close the fds. */
int xsp_send_reply(int sock, uint32_t op, int err, const void *body,
                   size_t body_len, const int *fds, unsigned nfds);
/* Library side: one request/reply round trip. req is the body after the
 * header. On return *rep_len is the body length copied to rep (at most
 * rep_cap), fds[0..*nfds) the fds (caller closes). Returns 0, -errno from the
 * daemon's reply, or -errno of the transport (-EPIPE when the daemon went
 * away, -EPROTO on a malformed reply). */
int xsp_call(int sock, uint32_t op, const void *req, size_t req_len,
             const int *send_fds, unsigned send_nfds, void *rep, size_t rep_cap,
             size_t *rep_len, int *fds, unsigned max_fds, unsigned *nfds);
/* The same, closing send_fds once sent (or on failure), before the reply:
 * the daemon's copies are then the only ones this process had. */
int xsp_call_give(int sock, uint32_t op, const void *req, size_t req_len,
                  const int *send_fds, unsigned send_nfds, void *rep,
                  size_t rep_cap, size_t *rep_len, int *fds,
                  unsigned max_fds, unsigned *nfds);
/* Library side: connect to $XENSIM_DIR/hyp.sock and say HELLO for kind.
 * Returns the socket (O_CLOEXEC) or -errno; *rep filled; *gen_fd gets the
 * fd attached to the HELLO reply or -1 (gen_fd may be NULL). */
int xsp_connect(uint32_t kind, struct xsp_hello_rep *rep, int *gen_fd);

#endif
