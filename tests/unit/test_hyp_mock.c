/* test_hyp_mock.c: fakes of the Xen calls, bound by -Wl,--wrap=SYM. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_hyp_mock.h"

struct mock_state mock;
unsigned char mock_pages[MOCK_PAGES][HYP_PAGE_SIZE]
	__attribute__((aligned(HYP_PAGE_SIZE)));

static char tag_xce, tag_xgs, tag_xgt, tag_xsh, tag_xch;
xenevtchn_handle *const mock_xce = (xenevtchn_handle *)&tag_xce;
xengntshr_handle *const mock_xgs = (xengntshr_handle *)&tag_xgs;
xengnttab_handle *const mock_xgt = (xengnttab_handle *)&tag_xgt;
struct xs_handle *const mock_xsh = (struct xs_handle *)&tag_xsh;
xc_interface *const mock_xch = (xc_interface *)&tag_xch;

int mock_reset(void **state)
{
	(void)state;
	memset(&mock, 0, sizeof(mock));
	memset(mock_pages, 0, sizeof(mock_pages));
	mock.fd = -1;
	mock.watch_pipe = -1;
	mock.gntshr_fd = mock.gnttab_fd = -1;
	mock.fd_errno = EBADF;
	mock.test_thread = pthread_self();
	return 0;
}

/* Called from a thread of the code under test, with a plan. */
static bool planned(void)
{
	return __atomic_load_n(&mock.thread_plan, __ATOMIC_ACQUIRE) &&
	       !pthread_equal(pthread_self(), mock.test_thread);
}

/*
 * Take the planned outcome of a call: 0 to succeed, else fail with that
 * errno (MOCK_NO_ERRNO: fail leaving errno at 0).  A stray errno from
 * earlier code must not leak into the result, hence the reset.
 */
static int outcome(int planned)
{
	errno = 0;
	if (planned == MOCK_NO_ERRNO)
		return 1;
	if (planned) {
		errno = planned;
		return 1;
	}
	return 0;
}
#define FAILS(fn) outcome(mock_type(int))

static void keep(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "(null)");
}

/* ---- libxenevtchn ---- */
xenevtchn_handle *__wrap_xenevtchn_open(struct xentoollog_logger *l, unsigned f);
int __wrap_xenevtchn_close(xenevtchn_handle *xce);
int __wrap_xenevtchn_fd(xenevtchn_handle *xce);
int __wrap_xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port);
xenevtchn_port_or_error_t __wrap_xenevtchn_bind_unbound_port(
	xenevtchn_handle *xce, uint32_t domid);
xenevtchn_port_or_error_t __wrap_xenevtchn_bind_interdomain(
	xenevtchn_handle *xce, uint32_t domid, evtchn_port_t remote_port);
int __wrap_xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port);
xenevtchn_port_or_error_t __wrap_xenevtchn_pending(xenevtchn_handle *xce);
int __wrap_xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port);

xenevtchn_handle *__wrap_xenevtchn_open(struct xentoollog_logger *l, unsigned f)
{
	return FAILS(xenevtchn_open) ? NULL : mock_xce;
}

int __wrap_xenevtchn_close(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, mock_xce);
	mock.evtchn_close++;
	return 0;
}

int __wrap_xenevtchn_fd(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, mock_xce);
	if (mock.fd < 0)
		errno = mock.fd_errno;
	return mock.fd;
}

int __wrap_xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, mock_xce);
	mock.port = port;
	return FAILS(xenevtchn_notify) ? -1 : 0;
}

xenevtchn_port_or_error_t __wrap_xenevtchn_bind_unbound_port(
	xenevtchn_handle *xce, uint32_t domid)
{
	assert_ptr_equal(xce, mock_xce);
	mock.domid = domid;
	return FAILS(xenevtchn_bind_unbound_port)
		? -1 : mock_type(xenevtchn_port_or_error_t);
}

xenevtchn_port_or_error_t __wrap_xenevtchn_bind_interdomain(
	xenevtchn_handle *xce, uint32_t domid, evtchn_port_t remote_port)
{
	assert_ptr_equal(xce, mock_xce);
	mock.domid = domid;
	mock.remote_port = remote_port;
	return FAILS(xenevtchn_bind_interdomain)
		? -1 : mock_type(xenevtchn_port_or_error_t);
}

int __wrap_xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, mock_xce);
	mock.port = port;
	return FAILS(xenevtchn_unbind) ? -1 : 0;
}

xenevtchn_port_or_error_t __wrap_xenevtchn_pending(xenevtchn_handle *xce)
{
	assert_ptr_equal(xce, mock_xce);
	return FAILS(xenevtchn_pending)
		? -1 : mock_type(xenevtchn_port_or_error_t);
}

int __wrap_xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	assert_ptr_equal(xce, mock_xce);
	mock.port = port;
	mock.unmask_calls++;
	return FAILS(xenevtchn_unmask) ? -1 : 0;
}

/* ---- libxengnttab: gntshr ---- */
xengntshr_handle *__wrap_xengntshr_open(struct xentoollog_logger *l, unsigned f);
int __wrap_xengntshr_close(xengntshr_handle *xgs);
int __wrap_xengntshr_fd(xengntshr_handle *xgs);
int __wrap_xengnttab_fd(xengnttab_handle *xgt);
void *__wrap_xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid,
				   int count, uint32_t *refs, int writable);
void *__wrap_xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
					 uint32_t *ref, int writable,
					 uint32_t notify_offset,
					 evtchn_port_t notify_port);
int __wrap_xengntshr_unshare(xengntshr_handle *xgs, void *start, uint32_t count);

xengntshr_handle *__wrap_xengntshr_open(struct xentoollog_logger *l, unsigned f)
{
	if (mock.gntshr_unseen) {
		mock.gntshr_fd = open("/dev/null", O_RDWR);
		if (mock.in_gntshr_open)
			mock.in_gntshr_open();
		return mock.gntshr_fd < 0 ? NULL : mock_xgs;
	}
	if (mock.in_gntshr_open)
		mock.in_gntshr_open();
	return FAILS(xengntshr_open) ? NULL : mock_xgs;
}

int __real_unshare(int flags);
int __wrap_unshare(int flags);
int __wrap_unshare(int flags)
{
	if (mock.gntshr_unseen)
		return __real_unshare(flags);
	errno = EPERM;
	return -1;
}

int __wrap_xengntshr_fd(xengntshr_handle *xgs)
{
	assert_ptr_equal(xgs, mock_xgs);
	return mock.gntshr_fd;
}

int __wrap_xengnttab_fd(xengnttab_handle *xgt)
{
	assert_ptr_equal(xgt, mock_xgt);
	return mock.gnttab_fd;
}

int __wrap_xengntshr_close(xengntshr_handle *xgs)
{
	assert_ptr_equal(xgs, mock_xgs);
	mock.gntshr_close++;
	return 0;
}

void *__wrap_xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid,
				   int count, uint32_t *refs, int writable)
{
	int i;

	assert_ptr_equal(xgs, mock_xgs);
	assert_true(count > 0 && count <= MOCK_PAGES);
	mock.domid = domid;
	mock.count = (uint32_t)count;
	mock.writable = writable;
	if (FAILS(xengntshr_share_pages))
		return NULL;
	for (i = 0; i < count; i++)
		refs[i] = 100 + (uint32_t)i;
	return mock_pages;
}

void *__wrap_xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid,
					 uint32_t *ref, int writable,
					 uint32_t notify_offset,
					 evtchn_port_t notify_port)
{
	assert_ptr_equal(xgs, mock_xgs);
	mock.domid = domid;
	mock.count = 1;
	mock.writable = writable;
	mock.notify_offset = notify_offset;
	mock.notify_port = notify_port;
	if (FAILS(xengntshr_share_page_notify))
		return NULL;
	*ref = 200;
	return mock_pages;
}

int __wrap_xengntshr_unshare(xengntshr_handle *xgs, void *start, uint32_t count)
{
	assert_ptr_equal(xgs, mock_xgs);
	mock.unmap_addr = start;
	mock.unmap_count = count;
	return FAILS(xengntshr_unshare) ? -1 : 0;
}

/* ---- libxengnttab: gnttab ---- */
xengnttab_handle *__wrap_xengnttab_open(struct xentoollog_logger *l, unsigned f);
int __wrap_xengnttab_close(xengnttab_handle *xgt);
void *__wrap_xengnttab_map_domain_grant_refs(xengnttab_handle *xgt,
					     uint32_t count, uint32_t domid,
					     uint32_t *refs, int prot);
void *__wrap_xengnttab_map_grant_ref_notify(xengnttab_handle *xgt,
					    uint32_t domid, uint32_t ref,
					    int prot, uint32_t notify_offset,
					    evtchn_port_t notify_port);
int __wrap_xengnttab_unmap(xengnttab_handle *xgt, void *start, uint32_t count);

xengnttab_handle *__wrap_xengnttab_open(struct xentoollog_logger *l, unsigned f)
{
	return FAILS(xengnttab_open) ? NULL : mock_xgt;
}

int __wrap_xengnttab_close(xengnttab_handle *xgt)
{
	assert_ptr_equal(xgt, mock_xgt);
	mock.gnttab_close++;
	return 0;
}

void *__wrap_xengnttab_map_domain_grant_refs(xengnttab_handle *xgt,
					     uint32_t count, uint32_t domid,
					     uint32_t *refs, int prot)
{
	assert_ptr_equal(xgt, mock_xgt);
	assert_true(count > 0 && count <= MOCK_PAGES);
	mock.domid = domid;
	mock.count = count;
	mock.prot = prot;
	memcpy(mock.refs, refs, count * sizeof(*refs));
	return FAILS(xengnttab_map_domain_grant_refs) ? NULL : mock_pages;
}

void *__wrap_xengnttab_map_grant_ref_notify(xengnttab_handle *xgt,
					    uint32_t domid, uint32_t ref,
					    int prot, uint32_t notify_offset,
					    evtchn_port_t notify_port)
{
	assert_ptr_equal(xgt, mock_xgt);
	mock.domid = domid;
	mock.count = 1;
	mock.refs[0] = ref;
	mock.prot = prot;
	mock.notify_offset = notify_offset;
	mock.notify_port = notify_port;
	return FAILS(xengnttab_map_grant_ref_notify) ? NULL : mock_pages;
}

int __wrap_xengnttab_unmap(xengnttab_handle *xgt, void *start, uint32_t count)
{
	assert_ptr_equal(xgt, mock_xgt);
	mock.unmap_addr = start;
	mock.unmap_count = count;
	return FAILS(xengnttab_unmap) ? -1 : 0;
}

/* ---- libxenstore ---- */
struct xs_handle *__wrap_xs_open(unsigned long flags);
void __wrap_xs_close(struct xs_handle *h);
void __wrap_xs_daemon_destroy_postfork(struct xs_handle *h);
void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
		     unsigned int *len);
bool __wrap_xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
		     const void *data, unsigned int len);
bool __wrap_xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path);
bool __wrap_xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path);
char **__wrap_xs_directory(struct xs_handle *h, xs_transaction_t t,
			   const char *path, unsigned int *num);
struct xs_permissions *__wrap_xs_get_permissions(struct xs_handle *h,
						 xs_transaction_t t,
						 const char *path,
						 unsigned int *num);
bool __wrap_xs_set_permissions(struct xs_handle *h, xs_transaction_t t,
			       const char *path, struct xs_permissions *perms,
			       unsigned int num);
xs_transaction_t __wrap_xs_transaction_start(struct xs_handle *h);
bool __wrap_xs_transaction_end(struct xs_handle *h, xs_transaction_t t,
			       bool abort);
bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token);
bool __wrap_xs_unwatch(struct xs_handle *h, const char *path,
		       const char *token);
int __wrap_xs_fileno(struct xs_handle *h);
char *__wrap_xs_get_domain_path(struct xs_handle *h, unsigned int domid);
char **__wrap_xs_check_watch(struct xs_handle *h);

struct xs_handle *__wrap_xs_open(unsigned long flags)
{
	assert_int_equal(flags, 0);
	if (planned()) {
		__atomic_store_n(&mock.plan_broken, 0, __ATOMIC_RELEASE);
		__atomic_fetch_add(&mock.plan_opens, 1, __ATOMIC_RELEASE);
		return mock_xsh;
	}
	return FAILS(xs_open) ? NULL : mock_xsh;
}

void __wrap_xs_close(struct xs_handle *h)
{
	assert_ptr_equal(h, mock_xsh);
	__atomic_fetch_add(&mock.xs_close, 1, __ATOMIC_RELEASE);
}

void __wrap_xs_daemon_destroy_postfork(struct xs_handle *h)
{
	assert_ptr_equal(h, mock_xsh);
	mock.xs_postfork++;
}

/* MOCK_RET(xs_read, "text"): succeed with a malloc'd copy of "text". */
void *__wrap_xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
		     unsigned int *len)
{
	const char *v;
	char *copy;

	assert_ptr_equal(h, mock_xsh);
	mock.txn = t;
	keep(mock.path, sizeof(mock.path), path);
	if (FAILS(xs_read))
		return NULL;
	v = mock_ptr_type(const char *);
	copy = strdup(v);
	assert_non_null(copy);
	if (len)
		*len = (unsigned int)strlen(v);
	return copy;
}

bool __wrap_xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
		     const void *data, unsigned int len)
{
	assert_ptr_equal(h, mock_xsh);
	assert_non_null(data);
	mock.txn = t;
	mock.writes++;
	keep(mock.path, sizeof(mock.path), path);
	mock.value_len = len;
	if (len < sizeof(mock.value)) {
		memcpy(mock.value, data, len);
		mock.value[len] = '\0';
	}
	return !FAILS(xs_write);
}

bool __wrap_xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	assert_ptr_equal(h, mock_xsh);
	mock.txn = t;
	keep(mock.path, sizeof(mock.path), path);
	return !FAILS(xs_mkdir);
}

bool __wrap_xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	assert_ptr_equal(h, mock_xsh);
	mock.txn = t;
	keep(mock.path, sizeof(mock.path), path);
	if (mock.rms < MOCK_RMS)
		keep(mock.rm_paths[mock.rms], sizeof(mock.rm_paths[0]), path);
	mock.rms++;
	return !FAILS(xs_rm);
}

/* MOCK_RET(xs_directory, names): names is a NULL-terminated const char *[];
 * the result is one allocation, as libxenstore returns. */
char **__wrap_xs_directory(struct xs_handle *h, xs_transaction_t t,
			   const char *path, unsigned int *num)
{
	const char *const *names;
	size_t n = 0, bytes = 0, i;
	char **out, *p;

	assert_ptr_equal(h, mock_xsh);
	mock.txn = t;
	keep(mock.path, sizeof(mock.path), path);
	if (FAILS(xs_directory))
		return NULL;
	names = mock_ptr_type(const char *const *);
	while (names[n])
		bytes += strlen(names[n++]) + 1;
	out = malloc((n + 1) * sizeof(*out) + bytes);
	assert_non_null(out);
	p = (char *)(out + n + 1);
	for (i = 0; i < n; i++) {
		out[i] = strcpy(p, names[i]);
		p += strlen(names[i]) + 1;
	}
	out[n] = NULL;
	*num = (unsigned int)n;
	return out;
}

/* MOCK_RET(xs_get_permissions, n): return a copy of mock.perms_out[0..n-1];
 * MOCK_RET(xs_get_permissions, MOCK_OWNER(id, perms)): one entry, that. */
struct xs_permissions *__wrap_xs_get_permissions(struct xs_handle *h,
						 xs_transaction_t t,
						 const char *path,
						 unsigned int *num)
{
	struct xs_permissions *p;
	unsigned int n;

	assert_ptr_equal(h, mock_xsh);
	if (__atomic_load_n(&mock.thread_plan, __ATOMIC_ACQUIRE)) {
		int owner = __atomic_load_n(&mock.plan_owner, __ATOMIC_ACQUIRE);

		__atomic_fetch_add(&mock.plan_perms, 1, __ATOMIC_RELEASE);
		if (owner <= 0) {
			errno = ENOENT;
			return NULL;
		}
		p = malloc(sizeof(*p));
		assert_non_null(p);
		p->id = (unsigned)owner;
		p->perms = XS_PERM_NONE;
		*num = 1;
		return p;
	}
	mock.txn = t;
	keep(mock.path, sizeof(mock.path), path);
	if (FAILS(xs_get_permissions))
		return NULL;
	n = mock_type(unsigned int);
	if (n & MOCK_OWNER(0, 0)) {
		p = malloc(sizeof(*p));
		assert_non_null(p);
		p->id = (n >> 8) & 0xffff;
		p->perms = n & 0xff;
		*num = 1;
		return p;
	}
	assert_true(n > 0 && n <= 4);
	p = malloc(n * sizeof(*p));
	assert_non_null(p);
	memcpy(p, mock.perms_out, n * sizeof(*p));
	*num = n;
	return p;
}

bool __wrap_xs_set_permissions(struct xs_handle *h, xs_transaction_t t,
			       const char *path, struct xs_permissions *perms,
			       unsigned int num)
{
	assert_ptr_equal(h, mock_xsh);
	assert_true(num > 0 && num <= 4);
	mock.txn = t;
	mock.set_perms++;
	keep(mock.path, sizeof(mock.path), path);
	memcpy(mock.perms, perms, num * sizeof(*perms));
	mock.nperms = num;
	return !FAILS(xs_set_permissions);
}

/* MOCK_RET(xs_transaction_start, id). */
xs_transaction_t __wrap_xs_transaction_start(struct xs_handle *h)
{
	assert_ptr_equal(h, mock_xsh);
	mock.txn_starts++;
	return FAILS(xs_transaction_start)
		? XBT_NULL : mock_type(xs_transaction_t);
}

bool __wrap_xs_transaction_end(struct xs_handle *h, xs_transaction_t t,
			       bool abort)
{
	assert_ptr_equal(h, mock_xsh);
	mock.txn = t;
	mock.txn_abort = abort;
	if (abort)
		mock.txn_aborts++;
	else
		mock.txn_commits++;
	return !FAILS(xs_transaction_end);
}

bool __wrap_xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	assert_ptr_equal(h, mock_xsh);
	if (planned()) {
		__atomic_fetch_add(&mock.plan_watches, 1, __ATOMIC_RELEASE);
		return true;
	}
	keep(mock.path, sizeof(mock.path), path);
	keep(mock.token, sizeof(mock.token), token);
	return !FAILS(xs_watch);
}

bool __wrap_xs_unwatch(struct xs_handle *h, const char *path,
		       const char *token)
{
	assert_ptr_equal(h, mock_xsh);
	keep(mock.path, sizeof(mock.path), path);
	keep(mock.token, sizeof(mock.token), token);
	return !FAILS(xs_unwatch);
}

char *__wrap_xs_get_domain_path(struct xs_handle *h, unsigned int domid)
{
	char *p;

	assert_ptr_equal(h, mock_xsh);
	__atomic_fetch_add(&mock.probes, 1, __ATOMIC_RELAXED);
	if (mock.probe_errno) {
		errno = mock.probe_errno;
		return NULL;
	}
	if (asprintf(&p, "/local/domain/%u", domid) < 0)
		return NULL;
	return p;
}

int __wrap_xs_fileno(struct xs_handle *h)
{
	assert_ptr_equal(h, mock_xsh);
	if (mock.fd < 0)
		errno = mock.fd_errno;
	return mock.fd;
}

/* No more events: libxenstore's pipe is empty then. */
static void drain_watch_pipe(void)
{
	uint64_t n;
	int e = errno;

	if (mock.watch_pipe >= 0 && read(mock.watch_pipe, &n, sizeof(n)) < 0)
		n = 0;
	errno = e;
}

/* MOCK_RET(xs_check_watch, pair): pair is const char *[2] {path, token}.
 * With mock.thread_plan, its events instead, then EAGAIN. */
char **__wrap_xs_check_watch(struct xs_handle *h)
{
	const char *const *pair;
	size_t lp, lt;
	char **out;
	bool plan;

	assert_ptr_equal(h, mock_xsh);
	/* Acquire: the plan the test's thread wrote before it set the flag. */
	plan = __atomic_load_n(&mock.thread_plan, __ATOMIC_ACQUIRE);
	if (!plan && !pthread_equal(pthread_self(), mock.test_thread)) {
		errno = EAGAIN;   /* cmocka's queue is the test thread's */
		return NULL;
	}
	if (plan && __atomic_load_n(&mock.plan_broken, __ATOMIC_ACQUIRE)) {
		errno = EINVAL;
		return NULL;
	}
	if (plan && __atomic_load_n(&mock.plan_next, __ATOMIC_RELAXED) <
		    __atomic_load_n(&mock.plan_events, __ATOMIC_ACQUIRE)) {
		pair = mock.plan_event[__atomic_fetch_add(&mock.plan_next, 1,
							  __ATOMIC_RELEASE)];
	} else if (plan || FAILS(xs_check_watch)) {
		if (plan)
			errno = EAGAIN;
		drain_watch_pipe();
		return NULL;
	} else {
		pair = mock_ptr_type(const char *const *);
	}
	lp = strlen(pair[0]) + 1;
	lt = strlen(pair[1]) + 1;
	out = malloc(2 * sizeof(*out) + lp + lt);
	assert_non_null(out);
	out[XS_WATCH_PATH] = memcpy((char *)(out + 2), pair[0], lp);
	out[XS_WATCH_TOKEN] = memcpy((char *)(out + 2) + lp, pair[1], lt);
	return out;
}

/* ---- libxenctrl ---- */
xc_interface *__wrap_xc_interface_open(xentoollog_logger *l,
				       xentoollog_logger *dl, unsigned f);
int __wrap_xc_interface_close(xc_interface *xch);
int __wrap_xc_domain_getinfo(xc_interface *xch, uint32_t first,
			     unsigned int max, xc_dominfo_t *info);

xc_interface *__wrap_xc_interface_open(xentoollog_logger *l,
				       xentoollog_logger *dl, unsigned f)
{
	return FAILS(xc_interface_open) ? NULL : mock_xch;
}

int __wrap_xc_interface_close(xc_interface *xch)
{
	assert_ptr_equal(xch, mock_xch);
	mock.xc_close++;
	return 0;
}

/* MOCK_OK: enumerate mock.doms (sorted by domid) like the hypervisor and
 * libxenctrl do: up to max domains with domid >= first, a crashed one
 * (shut down with SHUTDOWN_crash) as crashed and not shut down, and none
 * at all as -1 with ESRCH. */
int __wrap_xc_domain_getinfo(xc_interface *xch, uint32_t first,
			     unsigned int max, xc_dominfo_t *info)
{
	unsigned int i, n = 0;

	assert_ptr_equal(xch, mock_xch);
	mock.first_domid = first;
	mock.max_doms = max;
	if (FAILS(xc_domain_getinfo))
		return -1;
	for (i = 0; i < mock.ndoms && n < max; i++) {
		const struct mock_dom *d = &mock.doms[i];

		if (d->domid < first)
			continue;
		memset(&info[n], 0, sizeof(info[n]));
		info[n].domid = d->domid;
		info[n].dying = d->dying;
		info[n].shutdown = d->shutdown;
		info[n].crashed = d->crashed;
		info[n].paused = d->paused;
		info[n].shutdown_reason = d->shutdown_reason;
		/* As Xen 4.17's library: a crash is not a shutdown. */
		if (d->shutdown && d->shutdown_reason == SHUTDOWN_crash) {
			info[n].shutdown = 0;
			info[n].crashed = 1;
		}
		n++;
	}
	/* And no domain at or after first is an error, not 0. */
	if (n == 0) {
		errno = ESRCH;
		return -1;
	}
	return (int)n;
}
