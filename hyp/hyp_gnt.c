/* hyp_gnt.c: grant tables over libxengnttab (gntshr: share, gnttab: map).
 *
 * The two kinds of handle do the same things through different library
 * calls, so what they share is written once in the helpers below and the
 * public functions stand side by side, operation by operation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xengnttab.h>

#include "vipc/hyp.h"
#include "hyp_internal.h"

/* Why an open fell back to the old way (empty: it did not). */
#define FALLBACK_LEN 96

struct hyp_gntshr {
	xengntshr_handle *xgs;
	char fallback[FALLBACK_LEN];
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
 * domain through it; and while it lives, a peer never sees this process's
 * death through the unmap-notify.  Setting the flag after the open leaves
 * a window in which another thread's fork(), vfork() or posix_spawn()
 * (hence system() and popen()) copies the descriptor without it.
 *
 * So the library's open runs where no other thread can see it: in a
 * thread of ours that unshares its descriptor table (unshare(CLONE_FILES)
 * copies it).  The number the library's open will get, P, is held
 * meanwhile in the process's table by a close-on-exec placeholder; the
 * thread fills the holes below P in its copy and frees P there, so the
 * open takes P.  It sends the descriptor back over a socket pair, received
 * close-on-exec (MSG_CMSG_CLOEXEC), and dup3() puts it over the
 * placeholder: the library's handle names P, and P never was without the
 * flag in the process's table.  The thread's table, with its copies, goes
 * when it exits (POSIX locks are its table's own: none of ours is lost).
 *
 * Where that cannot be done (no thread, no unshare(), a library whose
 * descriptor is not at P, no descriptors to spare), the open falls back
 * to the library's own and sets the flag after it, with cloexec_mu held
 * from before the open and taken by fork()'s prepare handler: that closes
 * the window to fork() only.  A leaf: nothing else is taken under it. */
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

/* The fallback: the library's open, then the flag. */
static xengntshr_handle *open_then_cloexec(void)
{
	xengntshr_handle *xgs;
	int fd, fl, err;

	pthread_once(&cloexec_once, cloexec_install);
	cloexec_lock();
	xgs = xengntshr_open(NULL, 0);
	err = errno;
	if (xgs) {
		fd = xengntshr_fd(xgs);
		if (fd >= 0 && (fl = fcntl(fd, F_GETFD)) >= 0 &&
		    !(fl & FD_CLOEXEC))
			(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	cloexec_unlock();
	errno = err;
	return xgs;
}

/* What the unseen open's thread is given and gives back. */
struct unseen_open {
	int placeholder;        /* P, held in the process's table */
	int sock;               /* where the thread sends the descriptor */
	xengntshr_handle *xgs;  /* the library's handle, if it opened */
	int err;                /* errno of the library's failed open */
	bool fall_back;         /* not done here: the fallback's turn */
	char *why;              /* then why, in FALLBACK_LEN bytes */
};

/* Say why the unseen open could not be done; errno is the call's. */
static void say_why(struct unseen_open *u, const char *what)
{
	snprintf(u->why, FALLBACK_LEN, "%s: %s", what, strerror(errno));
}

/* One byte carrying one descriptor (SCM_RIGHTS). */
struct fd_msg {
	char byte;
	struct iovec iov;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg;
};

static void fd_msg_init(struct fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->iov = (struct iovec){ .iov_base = &m->byte, .iov_len = 1 };
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->ctl.buf;
	m->msg.msg_controllen = sizeof(m->ctl.buf);
}

static bool send_fd(int sock, int fd)
{
	struct fd_msg m;
	struct cmsghdr *c;

	fd_msg_init(&m);
	c = CMSG_FIRSTHDR(&m.msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &m.msg, MSG_NOSIGNAL) == 1;
}

static int recv_fd(int sock)
{
	struct fd_msg m;
	struct cmsghdr *c;
	int fd = -1;

	fd_msg_init(&m);
	if (recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m.msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void *unseen_open_thread(void *arg)
{
	struct unseen_open *u = arg;
	int d, fd;

	u->fall_back = true;
	if (unshare(CLONE_FILES) < 0) {
		say_why(u, "unshare(CLONE_FILES)");
		return NULL;
	}
	/* Our copy: fill every hole below P, then free P. */
	while ((d = fcntl(u->placeholder, F_DUPFD, 0)) >= 0 &&
	       d < u->placeholder)
		;
	if (d < 0) {
		say_why(u, "filling the unshared descriptor table");
		return NULL;
	}
	close(d);
	close(u->placeholder);
	errno = 0;
	u->xgs = xengntshr_open(NULL, 0);
	if (!u->xgs) {
		u->err = errno;
		u->fall_back = false;   /* the library's answer stands */
		return NULL;
	}
	fd = xengntshr_fd(u->xgs);
	if (fd < 0) {
		u->fall_back = false;   /* nothing to leak: keep it */
		return NULL;
	}
	if (fd != u->placeholder) {
		snprintf(u->why, FALLBACK_LEN, "the library's descriptor was "
			 "%d, not the free %d", fd, u->placeholder);
	} else if (!send_fd(u->sock, fd)) {
		say_why(u, "passing the descriptor back");
	} else {
		u->fall_back = false;
		return NULL;
	}
	/* Its descriptor lives in our table only: close it here. */
	xengntshr_close(u->xgs);
	u->xgs = NULL;
	return NULL;
}

/* The library's open, unseen by the process's other threads.  Returns the
 * handle, or NULL with errno set; *fall_back when it could not be done
 * this way (errno is then of no interest), and why in why[FALLBACK_LEN]. */
static xengntshr_handle *open_unseen(bool *fall_back, char *why)
{
	struct unseen_open u = { .placeholder = -1, .fall_back = true,
				 .why = why };
	int sv[2] = { -1, -1 }, fd, r;
	sigset_t all, old;
	pthread_t t;

	*fall_back = true;
	u.placeholder = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (u.placeholder < 0) {
		say_why(&u, "opening a placeholder");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0) {
		say_why(&u, "socketpair");
		goto out;
	}
	u.sock = sv[0];
	/* Signals are the application's threads' business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&t, NULL, unseen_open_thread, &u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0)
		r = pthread_join(t, NULL);
	if (r != 0) {
		errno = r;
		say_why(&u, "starting a thread");
		goto out;
	}
	*fall_back = u.fall_back;
	if (u.fall_back || !u.xgs)
		goto out;
	fd = xengntshr_fd(u.xgs);
	if (fd == u.placeholder) {
		int got = recv_fd(sv[1]);

		/* Over the placeholder, flag and all: P is the device now. */
		if (got < 0 || dup3(got, fd, O_CLOEXEC) < 0) {
			/* Cannot happen with the descriptor sent; the
			 * handle closes P, the placeholder. */
			if (got >= 0)
				close(got);
			xengntshr_close(u.xgs);
			u.xgs = NULL;
			u.err = EIO;
		} else {
			close(got);
		}
		u.placeholder = -1;   /* the handle's now */
	}
out:
	if (u.placeholder >= 0)
		close(u.placeholder);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (!u.xgs)
		errno = u.err ? u.err : EIO;
	return u.xgs;
}

static bool gntshr_lib_open(void *box)
{
	struct hyp_gntshr *gs = box;
	bool fall_back;

	/* The box is zeroed: fallback stays empty unless it fell back. */
	gs->xgs = open_unseen(&fall_back, gs->fallback);
	if (fall_back)
		gs->xgs = open_then_cloexec();
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

const char *hyp_gntshr_open_fallback(const struct hyp_gntshr *gs)
{
	return gs && gs->fallback[0] ? gs->fallback : NULL;
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
