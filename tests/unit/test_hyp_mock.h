/*
 * test_hyp_mock.h: link-time fakes of the Xen library calls hyp/ makes.
 *
 * Every fake that can fail takes its outcome from cmocka's queue, so a test
 * that reaches an unplanned Xen call fails:
 *   MOCK_OK(fn)          the call succeeds (default result)
 *   MOCK_RET(fn, v)      the call succeeds with result v (see each fake)
 *   MOCK_FAIL(fn, err)   the call fails with errno = err
 *   MOCK_FAIL(fn, MOCK_NO_ERRNO)  it fails and leaves errno at 0
 * Calls that cannot fail (close, fd) only count or record, in `mock`.
 */
#ifndef TEST_HYP_MOCK_H
#define TEST_HYP_MOCK_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "vipc/hyp.h"

#define MOCK_NO_ERRNO (-1)

#define MOCK_OK(fn) will_return(__wrap_##fn, 0)
#define MOCK_RET(fn, v) \
	do { will_return(__wrap_##fn, 0); will_return(__wrap_##fn, (v)); } while (0)
#define MOCK_FAIL(fn, err) will_return(__wrap_##fn, (err))

/* xs_get_permissions' result of one entry: owner id, its perms. */
#define MOCK_OWNER(id, perms) (0x1000000u | (unsigned)(id) << 8 | (perms))
#define MOCK_PAGES 8
#define MOCK_DOMS 64
#define MOCK_RMS 4

/* A fake domain for xc_domain_getinfo. */
struct mock_dom {
	uint32_t domid;
	unsigned dying:1, shutdown:1, crashed:1, paused:1;
	unsigned shutdown_reason;
};

/* What the fakes saw, and what the non-failing ones return. */
struct mock_state {
	/* closes per library */
	int evtchn_close, gntshr_close, gnttab_close, xs_close, xc_close;
	int xs_postfork;         /* xs_daemon_destroy_postfork() calls */
	/* xs_rm calls, and the paths of the first MOCK_RMS */
	int rms;
	char rm_paths[MOCK_RMS][128];
	/* descriptor returned by xenevtchn_fd / xs_fileno (set errno if < 0) */
	int fd, fd_errno;
	/* an eventfd that a failing xs_check_watch drains, as libxenstore's
	 * pipe is empty once its events are (-1: none) */
	int watch_pipe;
	/* For a thread of the code under test (cmocka's queue belongs to
	 * the test's thread): xs_check_watch returns plan_event[], then
	 * fails with EAGAIN; xs_get_permissions fails with ENOENT, or with
	 * plan_owner > 0 gives that domain as owner; each counts in
	 * plan_perms.  plan_events, plan_owner, plan_perms: atomic. */
	bool thread_plan;               /* atomic: set last, after the plan */
	const char *const *plan_event[8];
	int plan_events, plan_next, plan_owner, plan_perms;
	/* Also with thread_plan: while plan_broken, xs_check_watch fails
	 * with EINVAL (libxenstore gave the connection up); xs_open then
	 * succeeds and clears it, xs_watch succeeds, xs_close counts in
	 * xs_close; plan_opens and plan_watches count.  All atomic. */
	int plan_broken, plan_opens, plan_watches;
	/* The test's thread (mock_reset's caller): another thread's
	 * xs_check_watch without a plan finds no event, as cmocka's queue
	 * is not its to take. */
	pthread_t test_thread;
	/* xs_get_domain_path, hyp_store's look at a connection after an
	 * error that may mean its loss: the path of domain 0, or with
	 * probe_errno set a failure with it; from any thread (nothing
	 * queued), each counted in probes (atomic). */
	int probe_errno, probes;
	int gntshr_fd, gnttab_fd; /* xengnt{shr,tab}_fd()'s (-1: none) */
	void (*in_gntshr_open)(void); /* called inside xengntshr_open */
	/* hyp_gnt.c's open in a thread of its own with an unshared table:
	 * off, unshare() fails (EPERM) and the fallback runs in the test's
	 * thread.  On, the real unshare() runs, and xengntshr_open, then in
	 * that thread, plans nothing (cmocka's queue is the test thread's):
	 * it opens /dev/null without O_CLOEXEC, as the library opens
	 * gntalloc, into gntshr_fd. */
	bool gntshr_unseen;
	/* last arguments */
	uint32_t domid;
	evtchn_port_t port, remote_port;
	uint32_t count;
	int writable, prot;
	uint32_t notify_offset;
	evtchn_port_t notify_port;
	uint32_t refs[MOCK_PAGES];
	void *unmap_addr;
	uint32_t unmap_count;
	int unmask_calls;
	char path[256], token[64], value[256];
	unsigned int value_len;
	xs_transaction_t txn;
	int txn_abort;
	int txn_starts, txn_commits, txn_aborts, writes, set_perms;
	struct xs_permissions perms[4];
	unsigned int nperms;
	uint32_t first_domid;
	unsigned int max_doms;
	/* results */
	struct xs_permissions perms_out[4];
	struct mock_dom doms[MOCK_DOMS];
	unsigned int ndoms;
};

extern struct mock_state mock;
/* Page-aligned memory handed out as "shared" or "mapped" pages. */
extern unsigned char mock_pages[MOCK_PAGES][HYP_PAGE_SIZE];
/* Fake library handles. */
extern xenevtchn_handle *const mock_xce;
extern xengntshr_handle *const mock_xgs;
extern xengnttab_handle *const mock_xgt;
extern struct xs_handle *const mock_xsh;
extern xc_interface *const mock_xch;

/* cmocka setup: clear `mock` (fd = -1). */
int mock_reset(void **state);

#endif /* TEST_HYP_MOCK_H */
