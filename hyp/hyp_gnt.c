/* hyp_gnt.c: grant tables over libxengnttab (gntshr: share, gnttab: map).
 *
 * The two kinds of handle do the same things through different library
 * calls, so what they share is written once in the helpers below and the
 * public functions stand side by side, operation by operation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <xengnttab.h>

#include "vipc/hyp.h"
#include "hyp_internal.h"

struct hyp_gntshr {
	xengntshr_handle *xgs;
};

struct hyp_gnttab {
	xengnttab_handle *xgt;
};

/*
 * Check the arguments sharing and mapping both take, and translate an
 * optional unmap notification into the library's (offset, port) pair,
 * where -1 (all ones) means "none".
 */
static int grant_args(const void *handle, const grant_ref_t *refs,
		      void **addr, uint32_t count,
		      const struct hyp_unmap_notify *notify,
		      uint32_t *offset, evtchn_port_t *port)
{
	if (!handle || !refs || !addr || count == 0)
		return -EINVAL;
	*offset = HYP_NOTIFY_NONE;
	*port = HYP_NOTIFY_NONE;
	if (!notify)
		return 0;
	/* Xen implements unmap-notify on single pages only. */
	if (count != 1)
		return -EINVAL;
	if (notify->offset != HYP_NOTIFY_NONE && notify->offset >= HYP_PAGE_SIZE)
		return -EINVAL;
	*offset = notify->offset;
	*port = notify->port;
	return 0;
}

/* The result of a library call that returns the pages it set up, or NULL
 * with errno set (cleared by the caller before the call). */
static int pages_result(void *p, void **addr)
{
	if (!p)
		return hyp_neg_errno();
	*addr = p;
	return 0;
}

/* The result of a library call that returns < 0 with errno set (cleared by
 * the caller before the call) on failure. */
static int call_result(int r)
{
	return r < 0 ? hyp_neg_errno() : 0;
}

/*
 * Both kinds of handle are a box around one library handle, opened alike:
 * a zeroed box of `size` bytes, then the library into it by `lib_open`
 * (false with errno set when it cannot).  Like the library calls, this
 * answers NULL with errno set on failure, and frees what it took; `out` is
 * only checked, the caller stores the box there with its type.
 */
static void *box_open(const void *out, size_t size, bool (*lib_open)(void *))
{
	void *box;
	int err;

	if (!out) {
		errno = EINVAL;
		return NULL;
	}
	box = calloc(1, size);
	if (!box) {
		errno = ENOMEM;
		return NULL;
	}
	errno = 0;
	if (lib_open(box))
		return box;
	err = hyp_neg_errno();
	free(box);
	errno = -err;
	return NULL;
}

/* Xen 4.17's library opens /dev/xen/gntalloc without O_CLOEXEC (its
 * gntdev and evtchn, and libxenstore's descriptors, with it): a program a
 * child execs would inherit the device, and could share pages with any
 * domain through it.  We set the flag after the open; cloexec_mu, held
 * from before the open until the flag is set and taken by fork()'s prepare
 * handler, keeps a thread's fork() from copying the descriptor in between.
 * vfork() and posix_spawn() (hence system() and popen()) run no fork
 * handlers: a program they start in that window still inherits it, which
 * the library leaves us no way to prevent.  A leaf: nothing else is taken
 * under it. */
static pthread_mutex_t cloexec_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cloexec_once = PTHREAD_ONCE_INIT;

static void cloexec_lock(void)
{
	pthread_mutex_lock(&cloexec_mu);
}

static void cloexec_unlock(void)
{
	pthread_mutex_unlock(&cloexec_mu);
}

static void cloexec_install(void)
{
	/* Without the handlers (no memory) the flag is still set, later. */
	(void)pthread_atfork(cloexec_lock, cloexec_unlock, cloexec_unlock);
}

static bool gntshr_lib_open(void *box)
{
	struct hyp_gntshr *gs = box;
	int fd, fl, err;

	pthread_once(&cloexec_once, cloexec_install);
	cloexec_lock();
	gs->xgs = xengntshr_open(NULL, 0);
	err = errno;
	if (gs->xgs) {
		fd = xengntshr_fd(gs->xgs);
		if (fd >= 0 && (fl = fcntl(fd, F_GETFD)) >= 0 &&
		    !(fl & FD_CLOEXEC))
			(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	cloexec_unlock();
	errno = err;
	return gs->xgs != NULL;
}

static bool gnttab_lib_open(void *box)
{
	struct hyp_gnttab *gt = box;

	gt->xgt = xengnttab_open(NULL, 0);
	return gt->xgt != NULL;
}

int hyp_gntshr_open(struct hyp_gntshr **out)
{
	struct hyp_gntshr *gs = box_open(out, sizeof(*gs), gntshr_lib_open);

	if (gs)
		*out = gs;
	return gs ? 0 : hyp_neg_errno();
}

int hyp_gnttab_open(struct hyp_gnttab **out)
{
	struct hyp_gnttab *gt = box_open(out, sizeof(*gt), gnttab_lib_open);

	if (gt)
		*out = gt;
	return gt ? 0 : hyp_neg_errno();
}

void hyp_gntshr_close(struct hyp_gntshr *gs)
{
	if (!gs)
		return;
	xengntshr_close(gs->xgs);
	free(gs);
}

int hyp_gntshr_fd(struct hyp_gntshr *gs)
{
	int fd;

	if (!gs)
		return -EINVAL;
	fd = xengntshr_fd(gs->xgs);
	return fd >= 0 ? fd : -EBADF;
}

int hyp_gnttab_fd(struct hyp_gnttab *gt)
{
	int fd;

	if (!gt)
		return -EINVAL;
	fd = xengnttab_fd(gt->xgt);
	return fd >= 0 ? fd : -EBADF;
}

void hyp_gnttab_close(struct hyp_gnttab *gt)
{
	if (!gt)
		return;
	xengnttab_close(gt->xgt);
	free(gt);
}

int hyp_gntshr_share(struct hyp_gntshr *gs, domid_t peer, uint32_t count,
		     bool writable, const struct hyp_unmap_notify *notify,
		     grant_ref_t *refs, void **addr)
{
	uint32_t off;
	evtchn_port_t port;
	void *p;
	int rc;

	/* The library counts shared pages in an int. */
	if (count > INT32_MAX)
		return -EINVAL;
	rc = grant_args(gs, refs, addr, count, notify, &off, &port);
	if (rc < 0)
		return rc;
	errno = 0;
	if (notify)
		p = xengntshr_share_page_notify(gs->xgs, peer, refs, writable,
						off, port);
	else
		p = xengntshr_share_pages(gs->xgs, peer, (int)count, refs,
					  writable);
	return pages_result(p, addr);
}

int hyp_gnttab_map(struct hyp_gnttab *gt, domid_t peer, uint32_t count,
		   const grant_ref_t *refs, bool writable,
		   const struct hyp_unmap_notify *notify, void **addr)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint32_t off;
	evtchn_port_t port;
	void *p;
	int rc;

	rc = grant_args(gt, refs, addr, count, notify, &off, &port);
	if (rc < 0)
		return rc;
	errno = 0;
	if (notify)
		p = xengnttab_map_grant_ref_notify(gt->xgt, peer, refs[0], prot,
						   off, port);
	else
		/* The library only reads refs; its prototype just lacks const. */
		p = xengnttab_map_domain_grant_refs(gt->xgt, count, peer,
						    (uint32_t *)refs, prot);
	return pages_result(p, addr);
}

int hyp_gntshr_unshare(struct hyp_gntshr *gs, void *addr, uint32_t count)
{
	if (!gs || !addr || count == 0)
		return -EINVAL;
	errno = 0;
	return call_result(xengntshr_unshare(gs->xgs, addr, count));
}

int hyp_gnttab_unmap(struct hyp_gnttab *gt, void *addr, uint32_t count)
{
	if (!gt || !addr || count == 0)
		return -EINVAL;
	errno = 0;
	return call_result(xengnttab_unmap(gt->xgt, addr, count));
}
