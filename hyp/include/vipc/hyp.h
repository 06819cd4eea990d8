/*
 * hyp.h: vipc's only door to the hypervisor.
 *
 * A small interface over Xen 4.17's user-space libraries: libxenevtchn (event
 * channels), libxengnttab (gntshr: share our pages; gnttab: map a peer's
 * grants), libxenstore (the store) and libxenctrl (domain info).  Only the
 * public Xen APIs are used, so the same binary runs on real Xen and on xensim.
 *
 * Conventions
 *  - Every handle is opaque, created by hyp_*_open() and released by
 *    hyp_*_close() (which accepts NULL).
 *  - Every call returns 0 (or a count, or a descriptor) on success and a
 *    negative errno value on failure; never a raw -1.  The errors listed per
 *    call are the ones hyp itself produces or that the Xen library is known to
 *    report; a library may surface another errno, which is passed on as is.
 *    A library failure that leaves errno at 0 is reported as -EIO.
 *  - Out-parameters are written only on success.
 *  - A handle is not safe for concurrent use from several threads unless
 *    stated; open one handle per thread or lock around it.
 *  - Handles must not be used in a child after fork(); see Xen's headers.
 *
 * See doc/hyp.md for a longer reference.
 */
#ifndef VIPC_HYP_H
#define VIPC_HYP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/event_channel.h> /* evtchn_port_t, domid_t */
#include <xen/grant_table.h>   /* grant_ref_t */
#include <xenstore_lib.h>      /* struct xs_permissions, XS_PERM_* */

#ifdef __cplusplus
extern "C" {
#endif

/* Size of a grant-table page: Xen's ABI, whatever the local page size. */
#define HYP_PAGE_SIZE 4096u

/* ------------------------------------------------------------------------ */
/* Event channels (libxenevtchn)                                             */
/* ------------------------------------------------------------------------ */

struct hyp_evtchn;

/*
 * hyp_evtchn_open: open an event-channel handle.  Ports bound through a
 * handle are unbound when it is closed.
 *   -ENOENT, -EACCES  no event-channel device (not on Xen/xensim, no rights)
 *   -EMFILE, -ENOMEM  out of descriptors or memory
 *   -EINVAL           out == NULL
 */
int hyp_evtchn_open(struct hyp_evtchn **out);

/* hyp_evtchn_close: unbind every port of the handle and free it (NULL ok).
 * In a child of fork(), the one safe call on an inherited handle: it drops
 * the child's copy, the parent's ports stay bound. */
void hyp_evtchn_close(struct hyp_evtchn *ev);

/*
 * hyp_evtchn_fd: a descriptor that polls readable (POLLIN) when an event is
 * pending on one of the handle's ports.  Owned by the handle: do not close.
 *   >= 0     the descriptor
 *   -EINVAL  ev == NULL
 *   -EBADF   the library has no descriptor
 */
int hyp_evtchn_fd(struct hyp_evtchn *ev);

/*
 * hyp_evtchn_alloc_unbound: allocate a local port that domain `remote` (and
 * only it) may bind to with hyp_evtchn_bind(); *port receives the local port
 * to publish to the peer.
 *   -EINVAL  bad arguments
 *   -ESRCH   no domain `remote`
 *   -ENOSPC  no free port
 *   -EPERM   not allowed to offer a port to `remote`
 */
int hyp_evtchn_alloc_unbound(struct hyp_evtchn *ev, domid_t remote,
			     evtchn_port_t *port);

/*
 * hyp_evtchn_bind: connect to port `remote_port` that domain `remote`
 * allocated unbound for us; *local_port receives our end.
 *   -EINVAL  bad arguments, or remote_port is not unbound for us (Xen
 *            4.17: free, closed, bound, or offered to another domain)
 *   -ESRCH   no domain `remote` (no more)
 *   -ENOSPC  no free local port
 *   -EPERM, -EACCES  an XSM policy or the device's restriction forbids it
 */
int hyp_evtchn_bind(struct hyp_evtchn *ev, domid_t remote,
		    evtchn_port_t remote_port, evtchn_port_t *local_port);

/*
 * hyp_evtchn_notify: send an event on local port `port` (to its peer).
 *   -EINVAL  bad handle
 *   -ENOTCONN the port is not bound through this handle (Linux's evtchn
 *            device), or not (or no longer) connected
 */
int hyp_evtchn_notify(struct hyp_evtchn *ev, evtchn_port_t port);

/*
 * hyp_evtchn_unbind: close local port `port`; the peer's end becomes
 * unbound and further notifies from it are lost.
 *   -EINVAL  bad handle
 *   -ENOTCONN the port is not bound through this handle (Linux's evtchn
 *            device; xensim may say -EINVAL)
 */
int hyp_evtchn_unbind(struct hyp_evtchn *ev, evtchn_port_t port);

/*
 * hyp_evtchn_pending: non-blocking: if an event is pending, consume it and
 * store its port in *port.  The port stays masked until hyp_evtchn_ack():
 * the pair lets an event loop drain the fd, act, then re-arm.  The first call
 * makes the handle's fd non-blocking (polling it works as before), so that
 * each later call is a single read.
 *   -EAGAIN  nothing pending
 *   -EINVAL  bad arguments
 *   -EIO     the descriptor reported an error
 */
int hyp_evtchn_pending(struct hyp_evtchn *ev, evtchn_port_t *port);

/*
 * hyp_evtchn_ack: unmask `port` after hyp_evtchn_pending() returned it, so
 * that the next event on it is delivered.
 *   -EINVAL  bad handle (Linux's evtchn device ignores a port that is not
 *            the handle's: no error for it)
 */
int hyp_evtchn_ack(struct hyp_evtchn *ev, evtchn_port_t port);

/*
 * hyp_evtchn_wait: wait up to timeout_ms milliseconds (-1: forever, 0: just
 * check) for an event on any port of the handle; consume and ack it and
 * store its port in *port (port may be NULL).  Signals do not cut the wait
 * short.
 *   -ETIMEDOUT no event within the timeout
 *   -EINVAL    bad arguments
 *   -EIO       the descriptor reported an error
 */
int hyp_evtchn_wait(struct hyp_evtchn *ev, int timeout_ms,
		    evtchn_port_t *port);

/* ------------------------------------------------------------------------ */
/* Grants (libxengnttab)                                                     */
/* ------------------------------------------------------------------------ */

/* "No notification" for either field of struct hyp_unmap_notify. */
#define HYP_NOTIFY_NONE UINT32_MAX

/*
 * Unmap notification: when the mapping goes away (unmap, unshare, close,
 * process death) the kernel zeroes byte `offset` of the page and signals
 * local event-channel port `port`.  Either may be HYP_NOTIFY_NONE.  Xen
 * offers it on single-page shares and mappings only.
 */
struct hyp_unmap_notify {
	uint32_t offset;     /* < HYP_PAGE_SIZE, or HYP_NOTIFY_NONE */
	evtchn_port_t port;  /* a local port, or HYP_NOTIFY_NONE */
};

struct hyp_gntshr;   /* pages we grant to others */
struct hyp_gnttab;   /* grants of others that we map */

/*
 * hyp_gntshr_open: open a handle to share our pages.  Its descriptor is
 * close-on-exec, and no other thread's fork(), vfork() or posix_spawn()
 * sees it without the flag (hyp_gnt.c says how; it takes a short-lived
 * thread and, for the moment, three spare descriptors).
 *   -ENOENT, -EACCES  no gntalloc device; -EMFILE, -ENOMEM; -EINVAL out NULL
 */
int hyp_gntshr_open(struct hyp_gntshr **out);

/* hyp_gntshr_open_fallback: NULL when the handle's open was unseen by
 * other threads; else why it could not be (one line, the handle's), in
 * which case it was opened the old way: the flag set right after the
 * library's open, which fork() waits for and vfork() and posix_spawn() do
 * not. */
const char *hyp_gntshr_open_fallback(const struct hyp_gntshr *gs);

/* hyp_gntshr_close: end every share of the handle and free it (NULL ok).
 * In a child of fork(), the one safe call on an inherited handle (the
 * parent's shares stay). */
void hyp_gntshr_close(struct hyp_gntshr *gs);
/* hyp_gntshr_fd / hyp_gnttab_fd: the handle's descriptor (the device), for
 * nothing but dropping a forked child's reference to it (dup over it);
 * -EBADF when the library has none. */
int hyp_gntshr_fd(struct hyp_gntshr *gs);
int hyp_gnttab_fd(struct hyp_gnttab *gt);

/*
 * hyp_gntshr_share: allocate `count` zeroed pages, grant them to domain
 * `peer` (read-write if `writable`, else read-only) and map them locally:
 * *addr receives the contiguous local mapping, refs[0..count-1] the grant
 * refs to hand to the peer.  `notify` (may be NULL) requests an unmap
 * notification and needs count == 1.  Undo with hyp_gntshr_unshare().
 *   -EINVAL  count == 0, notify with count != 1, notify offset out of page,
 *            NULL refs/addr
 *   -ENOMEM  no memory or no free grant entries
 *   -ENOSPC  the grant table is full (library-dependent)
 */
int hyp_gntshr_share(struct hyp_gntshr *gs, domid_t peer, uint32_t count,
		     bool writable, const struct hyp_unmap_notify *notify,
		     grant_ref_t *refs, void **addr);

/*
 * hyp_gntshr_unshare: unmap `count` pages at `addr` (as returned by one
 * hyp_gntshr_share()) and revoke their grants; an unmap notification set up
 * on them fires.  The peer may keep its mapping until it unmaps; the pages
 * are freed only then.  addr and count must be one share's, whole: on
 * Linux, libxengntshr only munmap()s them, and so would unmap whatever is
 * there (another mapping, or pages next to a share) without a word.
 *   -EINVAL  addr NULL, count 0, or (on xensim) not a share of this handle
 */
int hyp_gntshr_unshare(struct hyp_gntshr *gs, void *addr, uint32_t count);

/*
 * hyp_gnttab_open: open a handle to map other domains' grants.
 *   -ENOENT, -EACCES  no gntdev device; -EMFILE, -ENOMEM; -EINVAL out NULL
 */
int hyp_gnttab_open(struct hyp_gnttab **out);

/* hyp_gnttab_close: unmap every mapping of the handle and free it (NULL ok).
 * In a child of fork(), the one safe call on an inherited handle (the
 * parent's mappings stay). */
void hyp_gnttab_close(struct hyp_gnttab *gt);

/*
 * hyp_gnttab_map: map grant refs refs[0..count-1] of domain `peer` into one
 * contiguous range, stored in *addr; read-write if `writable`, else
 * read-only (a read-only grant can only be mapped read-only).  `notify` (may
 * be NULL) requests an unmap notification and needs count == 1.  Either all
 * pages are mapped or none.
 *   -EINVAL  count == 0, notify with count != 1, notify offset out of page,
 *            NULL refs/addr, or a ref is not granted to us / is read-only
 *            while `writable` was asked, or `peer` does not exist: Linux's
 *            gntdev answers every failed grant status (GNTST_bad_domain,
 *            GNTST_bad_gntref, GNTST_general_error...) with EINVAL
 *   -ENOMEM  no memory or address space
 *   -ENOSPC  over the handle's mapping limit (library-dependent)
 */
int hyp_gnttab_map(struct hyp_gnttab *gt, domid_t peer, uint32_t count,
		   const grant_ref_t *refs, bool writable,
		   const struct hyp_unmap_notify *notify, void **addr);

/*
 * hyp_gnttab_unmap: unmap `count` pages at `addr` (as returned by one
 * hyp_gnttab_map()); an unmap notification set up on them fires.
 *   -EINVAL  addr NULL, count 0, or not a mapping of this handle
 */
int hyp_gnttab_unmap(struct hyp_gnttab *gt, void *addr, uint32_t count);

/* ------------------------------------------------------------------------ */
/* Store (libxenstore)                                                       */
/* ------------------------------------------------------------------------ */

struct hyp_store;

/* A transaction id; HYP_TXN_NONE means "outside any transaction". */
typedef uint32_t hyp_txn_t;
#define HYP_TXN_NONE ((hyp_txn_t)0)

/* Special watch paths: a domain was introduced / released (died). */
#define HYP_WATCH_INTRODUCE "@introduceDomain"
#define HYP_WATCH_RELEASE   "@releaseDomain"

/*
 * hyp_store_open: connect to xenstored (its socket, or XENSTORED_PATH, or
 * the xenbus device in a guest).  The handle is thread-safe (libxenstore
 * locks).
 *   -ENOENT, -ECONNREFUSED, -EACCES  no xenstored reachable; -ENOMEM;
 *   -EINVAL out NULL
 */
int hyp_store_open(struct hyp_store **out);

/* hyp_store_close: close the connection (its watches go) (NULL ok). */
void hyp_store_close(struct hyp_store *st);
/* hyp_store_close_postfork: in a child of fork(), close the connection
 * inherited from the parent without touching the parent's (whose watches
 * and reader thread stay the parent's); hyp_store_close() there could wait
 * for ever on a thread the child does not have (NULL ok). */
void hyp_store_close_postfork(struct hyp_store *st);

/*
 * Common errors of the store calls below (in addition to those listed):
 *   -EINVAL  NULL handle/path/out-parameter, or a path xenstored rejects
 *   -ENOENT  no such node (or a parent is missing, for reads)
 *   -EACCES  permissions forbid it
 *   -EAGAIN  inside a transaction: it conflicted; end it and retry
 *   -E2BIG   value or path over xenstored's limits
 *   -ECONNRESET  the connection to xenstored is lost: libxenstore gave it
 *            up, and every later call on it fails so too (hyp_store_lost()
 *            says it); open a fresh one
 * Relative paths are relative to our home, /local/domain/<own domid>.
 */

/* hyp_store_lost: has a call on st found its connection lost (said
 * -ECONNRESET)?  libxenstore says some losses with errors xenstored may
 * send too (E2BIG for a reply too long, ENOMEM or no errno for want of
 * memory, EINVAL for a reader thread gone): after those the call asks
 * the connection (one more request, XS_GET_DOMAIN_PATH), marks it lost
 * if it was given up, and still returns its own error (in a guest, a
 * watch refused past the quota is E2BIG and the loss at once).  false
 * for NULL. */
bool hyp_store_lost(struct hyp_store *st);

/*
 * hyp_store_read: read node `path` in transaction `t`.  *val receives a
 * malloc'd copy (free() it), NUL-terminated after its *len bytes (len may be
 * NULL; the value may contain NULs).
 */
int hyp_store_read(struct hyp_store *st, hyp_txn_t t, const char *path,
		   char **val, size_t *len);

/*
 * hyp_store_read_uint: read node `path` as an unsigned decimal number of at
 * most `max`: the whole value must be digits (a peer-written node is input
 * to check, not to trust).
 *   -EPROTO  the value is not a plain decimal number
 *   -ERANGE  the number exceeds `max`
 */
int hyp_store_read_uint(struct hyp_store *st, hyp_txn_t t, const char *path,
			unsigned long max, unsigned long *out);

/* hyp_store_write: set node `path` to `len` bytes at `data`, creating it
 * and missing parents (which inherit the parent's permissions).
 *   -E2BIG  len over XENSTORE_PAYLOAD_MAX (4096), before any request */
int hyp_store_write(struct hyp_store *st, hyp_txn_t t, const char *path,
		    const void *data, size_t len);

/* hyp_store_write_str: hyp_store_write() of a C string, without its NUL. */
int hyp_store_write_str(struct hyp_store *st, hyp_txn_t t, const char *path,
			const char *value);

/* hyp_store_mkdir: create node `path` with an empty value; 0 if it exists. */
int hyp_store_mkdir(struct hyp_store *st, hyp_txn_t t, const char *path);

/* hyp_store_rm: remove node `path` and its children.  An absent node whose
 * parent exists is removed already (0, as xenstored answers); -ENOENT when
 * its parent is absent too. */
int hyp_store_rm(struct hyp_store *st, hyp_txn_t t, const char *path);

/*
 * hyp_store_directory: list the children of `path`.  *names receives a
 * malloc'd array of *count names (not full paths); free(*names) once frees
 * array and strings.  Returns 0; *count may be 0.
 */
int hyp_store_directory(struct hyp_store *st, hyp_txn_t t, const char *path,
			char ***names, unsigned int *count);

/*
 * hyp_store_get_perms: read the permissions of `path`: element 0 is the
 * owner and, in its perms field, the access of every domain not listed
 * after it.  *perms is malloc'd (free() it), *count its length.
 */
int hyp_store_get_perms(struct hyp_store *st, hyp_txn_t t, const char *path,
			struct xs_permissions **perms, unsigned int *count);

/*
 * hyp_store_set_perms: replace the permissions of `path` (we must own it,
 * or be dom0) with perms[0..count-1], element 0 as above.
 *   -EINVAL also when count == 0
 *   -E2BIG   more entries than a request can carry (over 1365)
 */
int hyp_store_set_perms(struct hyp_store *st, hyp_txn_t t, const char *path,
			const struct xs_permissions *perms, unsigned int count);

/*
 * hyp_store_txn_start: start a transaction; *t receives its id.
 *   -ENOSPC  too many open transactions (xenstored's quota)
 */
int hyp_store_txn_start(struct hyp_store *st, hyp_txn_t *t);

/*
 * hyp_store_txn_end: commit (abort == false) or discard (abort == true)
 * transaction `t`; the id is dead afterwards either way.
 *   -EAGAIN  commit conflicted with another writer: nothing was applied;
 *            start a new transaction and redo the work
 *   -ENOENT  no such transaction
 */
int hyp_store_txn_end(struct hyp_store *st, hyp_txn_t t, bool abort);

/* One node for hyp_store_publish(). */
struct hyp_store_node {
	const char *path;
	const char *value;   /* C string, written without its NUL */
};

/*
 * hyp_store_publish: in one transaction, write nodes[0..count-1] and, if
 * perms != NULL, set each node's permissions to perms[0..nperms-1]; retry
 * the whole transaction on -EAGAIN at most `attempts` times in all.  Readers
 * see all nodes or none.
 *   -EAGAIN  still conflicting after `attempts` tries
 *   -EINVAL  count == 0, attempts == 0, NULL node fields, perms with
 *            nperms == 0
 *   any error of write/set_perms/txn calls (the transaction is aborted)
 */
int hyp_store_publish(struct hyp_store *st, const struct hyp_store_node *nodes,
		      size_t count, const struct xs_permissions *perms,
		      unsigned int nperms, unsigned int attempts);

/*
 * hyp_store_watch: watch `path` and its children (or a special path, see
 * HYP_WATCH_*); events carry `token`.  xenstored fires every new watch once
 * at once, so a watcher can scan for state it missed.
 *   -EEXIST  same path and token already watched
 */
int hyp_store_watch(struct hyp_store *st, const char *path, const char *token);

/*
 * hyp_store_unwatch: remove the watch on `path` with `token`.
 *   -ENOENT  no such watch
 */
int hyp_store_unwatch(struct hyp_store *st, const char *path,
		      const char *token);

/*
 * hyp_store_fd: a descriptor that polls readable when watch events may be
 * waiting; then call hyp_store_next_watch() until it returns -EAGAIN.
 * Owned by the handle: do not close.
 *   >= 0 the descriptor;  -EINVAL st NULL;  -EMFILE/-ENOMEM/-EBADF
 */
int hyp_store_fd(struct hyp_store *st);

/* A fired watch: `path` that changed and the watch's `token`. */
struct hyp_watch_event {
	const char *path;
	const char *token;
	void *buf_;          /* private: storage of path and token */
};

/*
 * hyp_store_next_watch: non-blocking: take the next fired watch, if any.
 * Release it with hyp_watch_event_release().
 *   -EAGAIN  no event waiting
 *   -ECONNRESET  the connection is lost (libxenstore gave it up: the
 *            store cut it, or a read failed); no event will come on it,
 *            and hyp_store_fd() does not tell: open a fresh one and watch
 *            again
 *   -ENOMEM  an event was lost
 *   -EINVAL  bad arguments
 */
int hyp_store_next_watch(struct hyp_store *st, struct hyp_watch_event *ev);

/* hyp_watch_event_release: free an event's storage (idempotent). */
void hyp_watch_event_release(struct hyp_watch_event *ev);

/* ------------------------------------------------------------------------ */
/* Domains (libxenstore, libxenctrl)                                         */
/* ------------------------------------------------------------------------ */

/*
 * hyp_self_domid: our own domain id, read from the store node "domid"
 * (relative: /local/domain/<self>/domid, written by the toolstack).
 *   -EPROTO  the node is not a domain id
 *   store errors (e.g. -ENOENT if the toolstack did not write it)
 */
int hyp_self_domid(struct hyp_store *st, domid_t *domid);

/*
 * hyp_domain_name: the name of domain `domid` (/local/domain/<domid>/name),
 * malloc'd in *name (free() it).
 *   -ENOENT  no such domain or it has no name (yet)
 */
int hyp_domain_name(struct hyp_store *st, domid_t domid, char **name);

struct hyp_ctrl;   /* privileged control interface (dom0 / vipcd only) */

/*
 * hyp_ctrl_open: open the control interface (needs a privileged domain).
 *   -ENOENT, -EACCES, -EPERM  no privcmd or not privileged; -ENOMEM;
 *   -EINVAL out NULL
 */
int hyp_ctrl_open(struct hyp_ctrl **out);

/* hyp_ctrl_close: close the control interface (NULL ok). */
void hyp_ctrl_close(struct hyp_ctrl *xc);

/* What vipc needs to know about a domain. */
struct hyp_dominfo {
	domid_t domid;
	bool dying;          /* being destroyed */
	bool shutdown;       /* shut down (or crashed, or suspended) */
	bool crashed;
	bool paused;
	unsigned int shutdown_reason; /* SHUTDOWN_* when shutdown */
};

/*
 * hyp_domain_info: facts about domain `domid`.
 *   -ESRCH   no such domain
 *   -EINVAL  bad arguments
 *   -EPERM, -EACCES  not privileged
 */
int hyp_domain_info(struct hyp_ctrl *xc, domid_t domid,
		    struct hyp_dominfo *info);

/*
 * hyp_domain_alive: 1 if domain `domid` exists and is neither dying nor shut
 * down, 0 if it is gone, dying or shut down, or a negative errno.
 */
int hyp_domain_alive(struct hyp_ctrl *xc, domid_t domid);

/*
 * hyp_domain_list: fill info[0..max-1] with the existing domains in
 * domid order; returns how many were filled (at most max; call again from
 * the last domid + 1 for more).  `first` is the lowest domid to report.
 *   -EINVAL  info NULL with max > 0
 */
int hyp_domain_list(struct hyp_ctrl *xc, domid_t first,
		    struct hyp_dominfo *info, unsigned int max);

#ifdef __cplusplus
}
#endif

#endif /* VIPC_HYP_H */
