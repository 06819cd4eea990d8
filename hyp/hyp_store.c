/* hyp_store.c: the store over libxenstore. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "vipc/hyp.h"
#include "hyp_internal.h"

struct hyp_store {
	struct xs_handle *xsh;
	atomic_bool lost;       /* libxenstore gave the connection up */
};

/* Is st's connection given up?  A request answered says no: the cheapest
 * one, XS_GET_DOMAIN_PATH, which any domain may make.  libxenstore makes
 * a given-up connection's requests fail with EBADF at once. */
static bool probe_lost(struct hyp_store *st)
{
	char *p;

	errno = 0;
	p = xs_get_domain_path(st->xsh, 0);
	if (p) {
		free(p);
		return false;
	}
	return errno == EBADF || errno == ECONNRESET || errno == EPIPE;
}

/* A call on st failed: -errno, with the connection's loss remembered.
 * libxenstore closes its socket for good when a request's write or read
 * fails, or a reply is not the request's, and every later call fails with
 * EBADF: EBADF, ECONNRESET and EPIPE are that (xenstored sends none of
 * them as an error), said as -ECONNRESET.  Some of its losses say what
 * xenstored may also say, or nothing: a reply too long (E2BIG), no memory
 * for one (ENOMEM, or errno 0: -EIO here), a reader thread gone while a
 * request waited (EINVAL).  After those we ask the connection itself (one
 * more request), and keep the error: in a guest, xenbus refuses a watch
 * past the quota by failing its write, so E2BIG is both xenstored's
 * refusal and the loss, and the caller needs the refusal. */
static int store_err(struct hyp_store *st)
{
	int err = hyp_neg_errno();

	if (err == -EBADF || err == -ECONNRESET || err == -EPIPE) {
		atomic_store(&st->lost, true);
		return -ECONNRESET;
	}
	if ((err == -E2BIG || err == -ENOMEM || err == -EIO ||
	     err == -EINVAL) && probe_lost(st))
		atomic_store(&st->lost, true);
	return err;
}

int hyp_store_open(struct hyp_store **out)
{
	struct hyp_store *st;

	if (!out)
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	errno = 0;
	/* Flags 0: socket (XENSTORED_PATH honoured) or, failing that, xenbus. */
	st->xsh = xs_open(0);
	if (!st->xsh) {
		int err = hyp_neg_errno();

		free(st);
		return err;
	}
	*out = st;
	return 0;
}

void hyp_store_close(struct hyp_store *st)
{
	if (!st)
		return;
	xs_close(st->xsh);
	free(st);
}

bool hyp_store_lost(struct hyp_store *st)
{
	return st && atomic_load(&st->lost);
}

void hyp_store_close_postfork(struct hyp_store *st)
{
	if (!st)
		return;
	/* Closes our copy of the connection only: no reader thread to join
	 * (the parent's), nothing said to xenstored. */
	xs_daemon_destroy_postfork(st->xsh);
	free(st);
}

int hyp_store_read(struct hyp_store *st, hyp_txn_t t, const char *path,
		   char **val, size_t *len)
{
	unsigned int n = 0;
	char *v;

	if (!st || !path || !val)
		return -EINVAL;
	errno = 0;
	v = xs_read(st->xsh, t, path, &n);
	if (!v)
		return store_err(st);
	*val = v;
	if (len)
		*len = n;
	return 0;
}

int hyp_store_read_uint(struct hyp_store *st, hyp_txn_t t, const char *path,
			unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t len, i;
	char *s;
	int rc;

	if (!out)
		return -EINVAL;
	rc = hyp_store_read(st, t, path, &s, &len);
	if (rc < 0)
		return rc;
	/* Digits only: no sign, space, or base prefix that strtoul would take.
	 * All of them looked at first: what is no number says so, however
	 * large its leading digits. */
	rc = len ? 0 : -EPROTO;
	for (i = 0; i < len && rc == 0; i++)
		if ((unsigned)((unsigned char)s[i] - '0') > 9u)
			rc = -EPROTO;
	for (i = 0; i < len && rc == 0; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (v > (ULONG_MAX - d) / 10 || v * 10 + d > max)
			rc = -ERANGE;
		else
			v = v * 10 + d;
	}
	free(s);
	if (rc == 0)
		*out = v;
	return rc;
}

int hyp_store_write(struct hyp_store *st, hyp_txn_t t, const char *path,
		    const void *data, size_t len)
{
	if (!st || !path || (!data && len))
		return -EINVAL;
	/* Checked here, not left to libxenstore: a length near 4 GiB wraps
	 * its 32-bit message length. */
	if (len > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	errno = 0;
	if (!xs_write(st->xsh, t, path, data ? data : "", (unsigned int)len))
		return store_err(st);
	return 0;
}

int hyp_store_write_str(struct hyp_store *st, hyp_txn_t t, const char *path,
			const char *value)
{
	if (!value)
		return -EINVAL;
	return hyp_store_write(st, t, path, value, strlen(value));
}

int hyp_store_mkdir(struct hyp_store *st, hyp_txn_t t, const char *path)
{
	if (!st || !path)
		return -EINVAL;
	errno = 0;
	if (!xs_mkdir(st->xsh, t, path))
		return store_err(st);
	return 0;
}

int hyp_store_rm(struct hyp_store *st, hyp_txn_t t, const char *path)
{
	if (!st || !path)
		return -EINVAL;
	errno = 0;
	if (!xs_rm(st->xsh, t, path))
		return store_err(st);
	return 0;
}

int hyp_store_directory(struct hyp_store *st, hyp_txn_t t, const char *path,
			char ***names, unsigned int *count)
{
	unsigned int n = 0;
	char **v;

	if (!st || !path || !names || !count)
		return -EINVAL;
	errno = 0;
	v = xs_directory(st->xsh, t, path, &n);
	if (!v)
		return store_err(st);
	*names = v;
	*count = n;
	return 0;
}

int hyp_store_get_perms(struct hyp_store *st, hyp_txn_t t, const char *path,
			struct xs_permissions **perms, unsigned int *count)
{
	struct xs_permissions *p;
	unsigned int n = 0;

	if (!st || !path || !perms || !count)
		return -EINVAL;
	errno = 0;
	p = xs_get_permissions(st->xsh, t, path, &n);
	if (!p)
		return store_err(st);
	*perms = p;
	*count = n;
	return 0;
}

int hyp_store_set_perms(struct hyp_store *st, hyp_txn_t t, const char *path,
			const struct xs_permissions *perms, unsigned int count)
{
	if (!st || !path || !perms || count == 0)
		return -EINVAL;
	/* Each entry takes 3 bytes at least ("n0" and a NUL) of the request;
	 * libxenstore puts an iovec per entry on its stack. */
	if (count > XENSTORE_PAYLOAD_MAX / 3)
		return -E2BIG;
	errno = 0;
	/* The library only reads perms; its prototype just lacks const. */
	if (!xs_set_permissions(st->xsh, t, path,
				(struct xs_permissions *)perms, count))
		return store_err(st);
	return 0;
}

int hyp_store_txn_start(struct hyp_store *st, hyp_txn_t *t)
{
	xs_transaction_t id;

	if (!st || !t)
		return -EINVAL;
	errno = 0;
	id = xs_transaction_start(st->xsh);
	if (id == XBT_NULL)
		return store_err(st);
	*t = id;
	return 0;
}

int hyp_store_txn_end(struct hyp_store *st, hyp_txn_t t, bool abort)
{
	if (!st || t == HYP_TXN_NONE)
		return -EINVAL;
	errno = 0;
	if (!xs_transaction_end(st->xsh, t, abort))
		return store_err(st);
	return 0;
}

/* One try of hyp_store_publish(): write everything in a fresh transaction. */
static int publish_once(struct hyp_store *st,
			const struct hyp_store_node *nodes, size_t count,
			const struct xs_permissions *perms, unsigned int nperms)
{
	hyp_txn_t t;
	size_t i;
	int rc;

	rc = hyp_store_txn_start(st, &t);
	if (rc < 0)
		return rc;
	for (i = 0; i < count && rc == 0; i++) {
		rc = hyp_store_write_str(st, t, nodes[i].path, nodes[i].value);
		if (rc == 0 && perms)
			rc = hyp_store_set_perms(st, t, nodes[i].path, perms,
						 nperms);
	}
	if (rc < 0) {
		/* The first error is the one worth reporting; the abort only
		 * releases the transaction. */
		(void)hyp_store_txn_end(st, t, true);
		return rc;
	}
	return hyp_store_txn_end(st, t, false);
}

int hyp_store_publish(struct hyp_store *st, const struct hyp_store_node *nodes,
		      size_t count, const struct xs_permissions *perms,
		      unsigned int nperms, unsigned int attempts)
{
	unsigned int a;
	size_t i;
	int rc = -EAGAIN;

	if (!st || !nodes || count == 0 || attempts == 0 ||
	    (perms && nperms == 0))
		return -EINVAL;
	for (i = 0; i < count; i++)
		if (!nodes[i].path || !nodes[i].value)
			return -EINVAL;
	/* A conflict can surface from any call inside the transaction as well
	 * as from its end; either way the whole set is redone. */
	for (a = 0; a < attempts; a++) {
		rc = publish_once(st, nodes, count, perms, nperms);
		if (rc != -EAGAIN)
			break;
	}
	return rc;
}

int hyp_store_watch(struct hyp_store *st, const char *path, const char *token)
{
	if (!st || !path || !token)
		return -EINVAL;
	errno = 0;
	if (!xs_watch(st->xsh, path, token))
		return store_err(st);
	return 0;
}

int hyp_store_unwatch(struct hyp_store *st, const char *path,
		      const char *token)
{
	if (!st || !path || !token)
		return -EINVAL;
	errno = 0;
	if (!xs_unwatch(st->xsh, path, token))
		return store_err(st);
	return 0;
}

int hyp_store_fd(struct hyp_store *st)
{
	int fd;

	if (!st)
		return -EINVAL;
	errno = 0;
	fd = xs_fileno(st->xsh);
	if (fd < 0)
		return hyp_neg_errno();
	return fd;
}

int hyp_store_next_watch(struct hyp_store *st, struct hyp_watch_event *ev)
{
	char **v;

	if (!st || !ev)
		return -EINVAL;
	errno = 0;
	v = xs_check_watch(st->xsh);
	/* With its arguments good, libxenstore's EINVAL means it gave the
	 * connection up (its reader thread closes the socket on a read
	 * error, and tells no one): no event will come on it. */
	if (!v && errno == EINVAL) {
		atomic_store(&st->lost, true);
		return -ECONNRESET;
	}
	if (!v)
		return hyp_neg_errno();
	/* Path and token live in the one allocation the library returned. */
	ev->path = v[XS_WATCH_PATH];
	ev->token = v[XS_WATCH_TOKEN];
	ev->buf_ = v;
	return 0;
}

void hyp_watch_event_release(struct hyp_watch_event *ev)
{
	if (!ev)
		return;
	free(ev->buf_);
	ev->buf_ = NULL;
	ev->path = NULL;
	ev->token = NULL;
}
