/* test_vchan_xen.c: libvchan-cap's Xen transport (transport_xen.c), set up
 * and torn down against the faked Xen libraries of test_hyp_mock.c: the
 * library's sources are compiled into this program, so that their Xen calls
 * bind to the fakes (-Wl,--wrap).  The peer is whatever the test puts in the
 * store and in the "mapped" page: every value it hands us is checked, every
 * handle, mapping and grant is released once, whatever fails.
 *
 * The fakes hand out one page (mock_pages) for every mapping: the tests use
 * in-page rings (orders 10 and 11), so that no ring page is mapped. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_hyp_mock.h"
#include "vchan_priv.h"
#include "live_reap.h"
#include "store_conn.h"

#define PATH "/local/domain/5/data/vipc-vchan"
#define PEER 5
/* Our domain (3)'s liveness nodes, in shards named by a hex digit. */
#define LIVE_DIR "/local/domain/3/data/vipc-vchan-live"
/* The server's channel id, and the name of our liveness node and claim for
 * its offer (ring-ref 200, port 7), in the shard of the id's first digit. */
#define CID "0123456789abcdef"
#define LIVE LIVE_DIR "/0/5-7-200-" CID
#define CLAIM LIVE "-claim"
/* Our domain's offer records (servers). */
#define OFFER_DIR "/local/domain/3/data/vipc-vchan-offers"

static char last_log[512];
static int logs;
/* Every line of the test (or case), each ending with a newline, cut at
 * the end of the buffer. */
static char all_logs[4096];
/* Store connections the peer watch (peer_watch.c) opened: its first, and
 * a fresh one after each refused watch.  Each is closed once. */
static int watch_opens;

/* The fakes refuse unshare(), so gntalloc's open falls back to the old way,
 * which the library logs once per process: counted apart, for the whole
 * run (test_old_open_logged_once), not among a test's lines. */
#define OLD_OPEN "gntalloc opened the old way (unshare(CLONE_FILES): "
static int old_open_logs;
static char old_open_log[512];

static void logger(void *arg, const char *line)
{
	(void)arg;
	if (strstr(line, OLD_OPEN)) {
		snprintf(old_open_log, sizeof(old_open_log), "%s", line);
		old_open_logs++;
		return;
	}
	snprintf(last_log, sizeof(last_log), "%s", line);
	logs++;
	snprintf(all_logs + strlen(all_logs), sizeof(all_logs) -
		 strlen(all_logs), "%s\n", line);
}

static int setup(void **state)
{
	mock_reset(state);
	/* The transport's fd goes into the endpoint's epoll set: a real one. */
	mock.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(mock.fd >= 0);
	last_log[0] = all_logs[0] = '\0';
	logs = 0;
	watch_opens = 0;
	vchan_set_logger(logger, NULL);
	vchan_reap_sweep_all();   /* each test's first: a whole sweep */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(mock.fd);
	vchan_set_logger(NULL, NULL);
	return 0;
}

/* A fresh server page (libxenvchan's layout), as the server leaves it. */
static struct vchan_interface *server_page(unsigned lo, unsigned ro)
{
	struct vchan_interface *pg = (struct vchan_interface *)mock_pages[0];

	memset(mock_pages, 0, sizeof(mock_pages));
	pg->left_order = (uint16_t)lo;
	pg->right_order = (uint16_t)ro;
	pg->cli_live = 2;
	pg->srv_live = 1;
	pg->cli_notify = VCHAN_NOTIFY_WRITE;
	return pg;
}

/* The client reads the server's offer: ring-ref, event-channel and the
 * channel id (NULL: none, a stock server), in one transaction (id),
 * committed. */
static void offer_id(xs_transaction_t id, const char *ref, const char *port,
		     const char *cid)
{
	MOCK_RET(xs_transaction_start, id);
	MOCK_RET(xs_read, ref);
	MOCK_RET(xs_read, port);
	if (cid)
		MOCK_RET(xs_read, cid);
	else
		MOCK_FAIL(xs_read, ENOENT);
	MOCK_OK(xs_transaction_end);
}

static void offer(xs_transaction_t id, const char *ref, const char *port)
{
	offer_id(id, ref, port, CID);
}

/* The claim's transaction (id): neither our liveness node nor a claim is
 * there; ours is written. */
static void claim_txn(xs_transaction_t id)
{
	MOCK_RET(xs_transaction_start, id);
	MOCK_FAIL(xs_read, ENOENT);             /* the liveness node */
	MOCK_FAIL(xs_read, ENOENT);             /* a claim */
	MOCK_OK(xs_write);
	MOCK_OK(xs_set_permissions);
	MOCK_OK(xs_transaction_end);
}

/* After the offer: our domid, no liveness nodes to clean up, the claim. */
static void claim(void)
{
	MOCK_RET(xs_read, "3");                 /* our domid */
	MOCK_FAIL(xs_directory, ENOENT);        /* no liveness nodes yet */
	claim_txn(70);
}


/* A client open up to its bind: the server's page (orders lo, ro), the
 * store, the offer (ring-ref 200, port 7), the claim, the event channel
 * device. */
static void client_start(unsigned lo, unsigned ro)
{
	server_page(lo, ro);
	MOCK_OK(xs_open);
	offer(5, "200", "7");
	claim();
	MOCK_OK(xenevtchn_open);
}

/* Between the cases of one test: a fresh script and log count. */
static void next_case(void)
{
	memset(&mock, 0, offsetof(struct mock_state, fd));
	mock.txn_starts = mock.txn_commits = mock.txn_aborts = 0;
	mock.writes = mock.set_perms = 0;
	logs = 0;
	all_logs[0] = '\0';
	watch_opens = 0;
}

/* A fresh case up to the claim's transaction, which the caller goes on
 * with. */
static void claim_start(void)
{
	next_case();
	server_page(10, 11);
	MOCK_OK(xs_open);
	offer(5, "200", "7");
	MOCK_RET(xs_read, "3");
	MOCK_FAIL(xs_directory, ENOENT);
	MOCK_RET(xs_transaction_start, 70);
}

/* Our liveness node published, the claim removed, no store watch (the
 * fake refuses it, which the transport takes in its stride: a refused
 * watch may have closed a guest's connection, so the peer watch opens a
 * fresh one), connected. */
static void client_connected(void)
{
	MOCK_RET(xs_transaction_start, 77);     /* liveness node */
	MOCK_OK(xs_write);
	MOCK_OK(xs_set_permissions);
	MOCK_OK(xs_transaction_end);
	MOCK_OK(xs_rm);                         /* the claim */
	MOCK_OK(xs_open);                       /* the peer watch's */
	MOCK_FAIL(xs_watch, EACCES);
	MOCK_OK(xs_open);                       /* a fresh one */
	watch_opens += 2;
	MOCK_OK(xenevtchn_notify);              /* connected */
}

/* Everything after client_start, up to a connected client. */
static void client_rest(evtchn_port_t local)
{
	MOCK_RET(xenevtchn_bind_interdomain, local);
	MOCK_OK(xengnttab_open);
	MOCK_OK(xengnttab_map_grant_ref_notify);
	client_connected();
}

static void client_close(struct vchan *v)
{
	MOCK_OK(xenevtchn_notify);              /* revoke tells the peer */
	MOCK_OK(xs_rm);                         /* the liveness node */
	MOCK_OK(xengnttab_unmap);               /* the control page */
	vchan_close(v);
}

/* Every handle the client opened was closed once; the page unmapped once. */
static void client_released(int evtchn, int gnttab)
{
	assert_int_equal(mock.xs_close, 1 + watch_opens);
	assert_int_equal(mock.evtchn_close, evtchn);
	assert_int_equal(mock.gnttab_close, gnttab);
	assert_int_equal(mock.gntshr_close, 0);
}

/* A client connected to ring-ref 200 and port 7 (bound as our 9), with
 * libxenvchan's unmap-notify: our live byte, our (local) port. */
static void client_mapped(const struct vchan_interface *pg)
{
	assert_int_equal(mock.refs[0], 200);
	assert_int_equal(mock.remote_port, 7);
	assert_int_equal(mock.notify_offset,
			 offsetof(struct vchan_interface, cli_live));
	assert_int_equal(mock.notify_port, 9);
	assert_int_equal(pg->cli_live, 1);
}

static void test_client_connects(void **state)
{
	struct vchan_interface *pg;
	struct vchan *v = NULL;

	(void)state;
	client_start(10, 11);
	pg = (struct vchan_interface *)mock_pages[0];
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	assert_non_null(v);
	/* Claimed under the channel id, then the liveness node holds it. */
	assert_int_equal(mock.rms, 1);
	assert_string_equal(mock.rm_paths[0], CLAIM);
	client_mapped(pg);
	assert_true(pg->srv_notify & VCHAN_NOTIFY_WRITE);
	assert_int_equal(vchan_ring_size(v, 1), 1024);   /* left: we write */
	assert_int_equal(vchan_ring_size(v, 0), 2048);
	client_close(v);
	assert_int_equal(mock.rms, 2);
	assert_string_equal(mock.rm_paths[1], LIVE);
	assert_ptr_equal(mock.unmap_addr, (void *)mock_pages);
	assert_int_equal(mock.unmap_count, 1);
	assert_int_equal(pg->cli_live, 0);
	client_released(1, 1);
}

/*
 * fork(): Xen's handles and mappings stay the parent's.  In the child the
 * inherited channel refuses every call (EBADF) and its close only closes
 * the child's handles (libxenstore's post-fork close, which joins no reader
 * thread and says nothing to xenstored): no notify, no store node removed,
 * no unmap, the page not even mapped there (MADV_DONTFORK).  From the
 * fork on, the child holds no reference to the devices (evtchn, gntdev):
 * /dev/null is on their descriptors.  The parent's channel is untouched and
 * closes as usual.
 */
static bool is_dev_null(int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat("/dev/null", &b) == 0 &&
	       S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev;
}

static int forked_child_checks(struct vchan *v)
{
	struct vchan_msg m = { .buf = NULL, .len = 0 };
	unsigned char vec;
	int bad = 0;

	bad += !is_dev_null(mock.fd) || !is_dev_null(mock.gnttab_fd);

	bad += vchan_send(v, 1, 0, "x", 1, 0) != -EBADF;
	bad += vchan_recv(v, &m, 0) != -EBADF;
	bad += vchan_fd(v) != -EBADF;
	bad += vchan_events(v) != -EBADF;
	bad += vchan_revoke(v) != -EBADF;
	bad += vchan_is_connected(v) != -EBADF;
	/* Refused, and said so once. */
	bad += logs != 1 || !strstr(last_log, "fork()");
	bad += mincore(mock_pages[0], 1, &vec) == 0 || errno != ENOMEM;
	vchan_close(v);
	/* The channel's store connection and the peer watch's, the child's
	 * way; the watch's first went before fork(). */
	bad += mock.xs_postfork != 2 || mock.xs_close != watch_opens - 1;
	bad += mock.evtchn_close != 1 || mock.gnttab_close != 1;
	bad += mock.rms != 1 || mock.unmap_count != 0;
	return bad;
}

static void test_client_forked_child(void **state)
{
	struct vchan_interface *pg;
	struct vchan *v = NULL;
	int status = -1;
	pid_t pid;

	(void)state;
	mock.gnttab_fd = eventfd(0, EFD_CLOEXEC);
	assert_true(mock.gnttab_fd >= 0);
	client_start(10, 11);
	pg = (struct vchan_interface *)mock_pages[0];
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	assert_int_equal(mock.rms, 1);                  /* the claim */
	logs = 0;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(forked_child_checks(v));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent's channel: the page as it was, usable, closed as ever;
	 * its descriptors its own. */
	assert_false(is_dev_null(mock.fd) || is_dev_null(mock.gnttab_fd));
	assert_int_equal(pg->cli_live, 1);
	assert_int_equal(logs, 0);
	assert_int_equal(vchan_is_connected(v), 1);
	client_close(v);
	assert_int_equal(mock.rms, 2);
	assert_string_equal(mock.rm_paths[1], LIVE);
	assert_int_equal(mock.xs_postfork, 0);
	client_released(1, 1);
	close(mock.gnttab_fd);
	/* Later tests' children see the mock's pages again. */
	assert_int_equal(madvise(mock_pages, sizeof(mock_pages), MADV_DOFORK),
			 0);
}

/*
 * ring-ref and event-channel are one publication (the server writes both in
 * one transaction).  Read apart, a server offering a new channel on the same
 * path between the two reads (vipc's handoff; or a hostile one) hands us
 * one channel's page with another channel's port: we would map the first
 * and wake the second, and the first's server would never hear from us.
 * The store tells a transaction that saw both change (EAGAIN at commit):
 * the client must read the pair again, and use the new one whole.
 */
static void test_client_offer_is_one_snapshot(void **state)
{
	struct vchan *v = NULL;

	(void)state;
	server_page(10, 11);
	MOCK_OK(xs_open);
	/* First look: the old ring-ref, then the new port; the store refuses
	 * the commit. */
	MOCK_RET(xs_transaction_start, 5);
	MOCK_RET(xs_read, "200");
	MOCK_RET(xs_read, "8");
	MOCK_RET(xs_read, CID);
	MOCK_FAIL(xs_transaction_end, EAGAIN);
	offer(6, "201", "8");
	claim();
	MOCK_OK(xenevtchn_open);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	assert_int_equal(mock.refs[0], 201);
	assert_int_equal(mock.remote_port, 8);
	client_close(v);
	client_released(1, 1);
}

/* Is s a plain decimal number of at most max? */
static bool num_ok(const char *s, unsigned long long max)
{
	return s[0] && strspn(s, "0123456789") == strlen(s) && strlen(s) < 11 &&
	       strtoull(s, NULL, 10) <= max;
}

/* Peer-written store values: anything but a plain decimal number in range
 * (or a channel id of another form) is the peer's protocol error (-EPROTO,
 * a log line), before any handle beyond the store's is opened. */
static void test_client_offer_malformed(void **state)
{
	static const struct {
		const char *ref, *port;
	} bad[] = {
		{ "4294967296", "7" },            /* ref beyond 32 bits */
		{ "99999999999999999999999", "7" },
		{ "200", "4294967295" },          /* port beyond evtchn_port_t */
		{ "-1", "7" },
		{ "200", "+7" },
		{ "0x10", "7" },
		{ " 200", "7" },
		{ "200", "7 " },
		{ "", "7" },
		{ "0", "7" },                     /* no such grant */
		{ "200", "0" },                   /* no such port */
	};
	static const char *const bad_id[] = {
		"", "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0",
		"0123456789abcdeg", "-123456789abcdef", " 123456789abcdef",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vchan *v = NULL;
		bool ref_ok = num_ok(bad[i].ref, UINT32_MAX);

		next_case();
		MOCK_OK(xs_open);
		MOCK_RET(xs_transaction_start, 5);
		MOCK_RET(xs_read, bad[i].ref);
		if (ref_ok)
			MOCK_RET(xs_read, bad[i].port);
		if (ref_ok && num_ok(bad[i].port, UINT32_MAX - 1))
			MOCK_RET(xs_read, CID);
		/* A bad value aborts the transaction; a zero (well-formed)
		 * commits it first. */
		MOCK_OK(xs_transaction_end);
		print_message("ring-ref \"%s\", event-channel \"%s\"\n",
			      bad[i].ref, bad[i].port);
		assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v),
				 -EPROTO);
		assert_null(v);
		assert_true(logs >= 1);
		client_released(0, 0);
	}
	/* The channel id, ours, stock peers ignore: exactly its form. */
	for (i = 0; i < sizeof(bad_id) / sizeof(bad_id[0]); i++) {
		struct vchan *v = NULL;

		next_case();
		MOCK_OK(xs_open);
		offer_id(5, "200", "7", bad_id[i]);
		print_message("channel id \"%s\"\n", bad_id[i]);
		assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v),
				 -EPROTO);
		assert_null(v);
		assert_int_equal(logs, 1);
		assert_non_null(strstr(last_log, "peer protocol error: " PATH
				       "/vipc-channel-id is not 16"));
		client_released(0, 0);
	}
}

/* A hostile page: impossible orders fail the open with -EPROTO and a log
 * line, after which everything is released once (the page unmapped, which
 * tells the server through unmap-notify). */
static void test_client_hostile_page(void **state)
{
	static const unsigned orders[][2] = {
		{ 9, 11 }, { 10, 21 }, { 10, 10 }, { 11, 11 }, { 10, 20 },
		{ 65535, 12 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		struct vchan *v = NULL;

		next_case();
		client_start(orders[i][0], orders[i][1]);
		MOCK_RET(xenevtchn_bind_interdomain, 9);
		MOCK_OK(xengnttab_open);
		MOCK_OK(xengnttab_map_grant_ref_notify);
		MOCK_OK(xs_rm);                 /* our claim */
		MOCK_OK(xengnttab_unmap);
		assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v),
				 -EPROTO);
		assert_null(v);
		assert_int_equal(logs, 1);
		assert_non_null(strstr(last_log, "control page is invalid"));
		assert_int_equal(mock.unmap_count, 1);
		assert_int_equal(mock.rms, 1);
		assert_string_equal(mock.rm_paths[0], CLAIM);
		client_released(1, 1);
	}
}

/*
 * An offer a client took before: its page's cli_live is not 2 (0: that
 * client's process is gone, its unmap-notify cleared it; 1: connected).
 * Its port binds again once that client's port is closed, but the server's
 * end is still that client's channel, with what it left in the rings: the
 * open fails with -EPIPE and a line naming the offer, and releases what it
 * took once.  Read from the store or handed over alike.  Any other value
 * is a malformed page: -EPROTO.
 */
static void used_offer_case(bool store, uint8_t live, int want)
{
	struct vchan_offer o = { .ring_ref = 200, .port = 7 };
	char line[160];
	struct vchan *v = NULL;

	next_case();
	if (store) {
		client_start(10, 11);
	} else {
		server_page(10, 11);
		MOCK_OK(xenevtchn_open);
	}
	((struct vchan_interface *)mock_pages[0])->cli_live = live;
	MOCK_RET(xenevtchn_bind_interdomain, 9);
	MOCK_OK(xengnttab_open);
	MOCK_OK(xengnttab_map_grant_ref_notify);
	if (store)
		MOCK_OK(xs_rm);                 /* our claim */
	MOCK_OK(xengnttab_unmap);
	assert_int_equal(store ? vchan_client_open(NULL, PEER, PATH, &v) :
			 vchan_client_open_offer(NULL, PEER, &o, &v), want);
	assert_null(v);
	assert_int_equal(logs, 1);
	snprintf(line, sizeof(line), "%sring-ref 200 of domain 5%s its page "
		 "says cli_live %u, not 2", store ? PATH ": " : "",
		 want == -EPIPE ? " was used already:" : ":", live);
	assert_non_null(strstr(last_log, line));
	assert_int_equal(mock.unmap_count, 1);
	if (store) {
		assert_int_equal(mock.rms, 1);
		assert_string_equal(mock.rm_paths[0], CLAIM);
		client_released(1, 1);
	} else {
		assert_int_equal(mock.xs_close, 0);
		assert_int_equal(mock.evtchn_close, 1);
		assert_int_equal(mock.gnttab_close, 1);
	}
}

static void test_client_used_offer(void **state)
{
	(void)state;
	for (int store = 0; store < 2; store++) {
		used_offer_case(store, 0, -EPIPE);
		used_offer_case(store, 1, -EPIPE);
		used_offer_case(store, 3, -EPROTO);
	}
}

/* This process's pid namespace inode and start time, as /proc tells. */
static void self_id(unsigned long *ns, unsigned long long *start)
{
	char buf[1024], *p;
	struct stat sb;
	size_t n;
	FILE *f;
	int i;

	assert_int_equal(stat("/proc/self/ns/pid", &sb), 0);
	*ns = (unsigned long)sb.st_ino;
	f = fopen("/proc/self/stat", "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	assert_non_null(p);
	for (i = 2; i < 22; i++) {       /* field 22: the start time */
		p = strchr(p + 1, ' ');
		assert_non_null(p);
	}
	*start = strtoull(p + 1, NULL, 10);
}

/* This kernel's boot id (37 bytes). */
static void boot_id(char *buf)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, 37, f));
	fclose(f);
	assert_int_equal(strlen(buf), 36);
}

/* The pid of a process that has come and gone. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return pid;
}

/* This process as liveness values name it, and a pid that is gone. */
struct proc_ids {
	unsigned long ns;
	unsigned long long start;
	char boot[40];
	pid_t gone;
};

static void proc_ids(struct proc_ids *p, pid_t gone)
{
	self_id(&p->ns, &p->start);
	boot_id(p->boot);
	p->gone = gone;
}

/* The client runs into a dead process's node: a transaction that finds the
 * value it judged still there removes it. */
static void reap(xs_transaction_t id, const char *val)
{
	MOCK_RET(xs_read, val);
	MOCK_RET(xs_transaction_start, id);
	MOCK_RET(xs_read, val);
	MOCK_OK(xs_rm);
	MOCK_OK(xs_transaction_end);
}

/*
 * Leaked liveness nodes (a client process killed in a living domain): before
 * it claims the offer, a client removes those of its domain whose process is
 * provably gone: from its pid namespace, dead, or its pid now another
 * process's (another start time); or any process of an earlier boot of its
 * kernel (another boot id: a soft reset keeps the domain's store nodes).
 * Kept: a live process's (ours, in both formats), one of another pid
 * namespace, and values it cannot read (an older client's bare offer path,
 * garbage, a malformed boot id).  Its own node names this process and this
 * boot.
 */
static void test_client_reaps_dead_nodes(void **state)
{
	static const char *const names[] = {
		"5-7-200", "5-8-201", "5-9-202", "5-10-203", "5-11-204",
		"5-12-205", "5-13-206", "5-14-207", "5-15-208", NULL,
	};
	/* Shard 0, and a name that is no shard (left alone, not listed). */
	static const char *const shards[] = { "0", "5-1-1", NULL };
	char dead[128], live[128], reused[128], foreign[128], want[160];
	char old_boot[160], this_boot[160], bad_boot[160], boot[40];
	unsigned long long start;
	struct vchan *v = NULL;
	unsigned long ns;
	pid_t gone = dead_pid();

	(void)state;
	self_id(&ns, &start);
	boot_id(boot);
	snprintf(dead, sizeof(dead), "v1 %d %lu %llu /x", (int)gone, ns, start);
	snprintf(live, sizeof(live), "v1 %d %lu %llu /x", (int)getpid(), ns,
		 start);
	snprintf(reused, sizeof(reused), "v1 %d %lu %llu /x", (int)getpid(),
		 ns, start + 1);
	snprintf(foreign, sizeof(foreign), "v1 %d %lu %llu /x", (int)gone,
		 ns + 1, start);
	/* Our very pid, namespace and start time, under another boot. */
	snprintf(old_boot, sizeof(old_boot),
		 "v2 %d %lu %llu 00000000-1111-2222-3333-444444444444 /x",
		 (int)getpid(), ns, start);
	snprintf(this_boot, sizeof(this_boot), "v2 %d %lu %llu %s /x",
		 (int)getpid(), ns, start, boot);
	snprintf(bad_boot, sizeof(bad_boot), "v2 %d %lu %llu %.35s /x",
		 (int)gone, ns, start, boot);
	server_page(10, 11);
	MOCK_OK(xs_open);
	offer(5, "200", "7");
	MOCK_RET(xs_read, "3");                 /* our domid */
	MOCK_RET(xs_directory, shards);
	MOCK_RET(xs_directory, names);          /* shard 0's */
	reap(80, dead);
	MOCK_RET(xs_read, live);
	reap(81, reused);
	MOCK_RET(xs_read, foreign);
	MOCK_RET(xs_read, PATH);                /* an older client's */
	MOCK_RET(xs_read, "v1 12x 3 4 /x");
	reap(82, old_boot);
	MOCK_RET(xs_read, this_boot);
	MOCK_RET(xs_read, bad_boot);
	claim_txn(70);
	MOCK_OK(xenevtchn_open);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	assert_int_equal(mock.rms, 4);
	assert_string_equal(mock.rm_paths[0], LIVE_DIR "/0/5-7-200");
	assert_string_equal(mock.rm_paths[1], LIVE_DIR "/0/5-9-202");
	assert_string_equal(mock.rm_paths[2], LIVE_DIR "/0/5-13-206");
	assert_string_equal(mock.rm_paths[3], CLAIM);
	snprintf(want, sizeof(want), "v2 %d %lu %llu %s " PATH, (int)getpid(),
		 ns, start, boot);
	assert_string_equal(mock.value, want);
	client_close(v);
	assert_int_equal(mock.rms, 5);
	client_released(1, 1);
}

/* Best effort: a node rewritten between the look and the removal (a new
 * channel of the same name) stays; a store error ends the scan with one log
 * line; the open succeeds either way. */
static void test_client_reap_best_effort(void **state)
{
	static const char *const names[] = { "5-7-200", "5-8-201", NULL };
	static const char *const shards[] = { "0", NULL };
	unsigned long long start;
	struct vchan *v = NULL;
	unsigned long ns;
	char dead[128];

	(void)state;
	self_id(&ns, &start);
	snprintf(dead, sizeof(dead), "v1 %d %lu %llu /x", (int)dead_pid(), ns,
		 start);
	server_page(10, 11);
	MOCK_OK(xs_open);
	offer(5, "200", "7");
	MOCK_RET(xs_read, "3");
	MOCK_RET(xs_directory, shards);
	MOCK_RET(xs_directory, names);
	MOCK_RET(xs_read, dead);
	MOCK_RET(xs_transaction_start, 80);
	MOCK_RET(xs_read, PATH);                /* rewritten meanwhile */
	MOCK_OK(xs_transaction_end);            /* its abort */
	MOCK_FAIL(xs_read, EIO);                /* the next one: lost */
	claim_txn(70);
	MOCK_OK(xenevtchn_open);
	client_rest(9);
	logs = 0;
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	assert_int_equal(mock.rms, 1);          /* the claim, once connected */
	assert_int_equal(mock.txn_aborts, 1);
	assert_non_null(strstr(last_log, "cannot clean up " LIVE_DIR));
	assert_int_equal(logs, 1);
	client_close(v);
	client_released(1, 1);
}

/*
 * An offer whose port or ring-ref does not work.  Xen's bind: -ESRCH, no
 * such domain; -EINVAL, the port is not unbound for us.  Linux's gntdev:
 * -EINVAL for any failed grant (bad domain or ref).  -ESRCH, or -EINVAL with
 * the offer gone or changed when read again, is a stale offer: the peer is
 * gone, -EPIPE; so is another channel id on the same port and ring-ref
 * (the server offered anew).  -EINVAL with the same offer is -EPIPE too
 * (a killed server process's offer, most likely; or one not ours), logged
 * naming the path, the value, the domain and both readings.  Our claim
 * goes, whatever the outcome.
 */
static void test_client_stale_or_bad_offer(void **state)
{
	static const struct {
		bool map;             /* fail the map, else the bind */
		int err;
		const char *ref, *port;   /* read again; NULL: gone */
		const char *cid;
		int want;
		const char *log;
		int gone_err;         /* the re-read's when gone (0: ENOENT) */
	} c[] = {
		{ false, ESRCH, NULL, NULL, CID, -EPIPE,
		  "of the offer is gone", 0 },
		{ false, EINVAL, "200", "7", CID, -EPIPE,
		  PATH ": event-channel 7 of domain 5 does not work though "
		  "still offered: its server process is gone", 0 },
		{ false, EINVAL, NULL, NULL, CID, -EPIPE,
		  "event-channel 7 of ", 0 },
		{ false, EINVAL, "200", "8", CID, -EPIPE, "another one now", 0 },
		{ false, EINVAL, "200", "7", "0123456789abcdee", -EPIPE,
		  "another one now", 0 },
		{ false, EINVAL, "200", "7", NULL, -EPIPE, "another one now", 0 },
		{ true, EINVAL, "200", "7", CID, -EPIPE,
		  PATH ": ring-ref 200 of domain 5 does not work though still "
		  "offered: its server process is gone", 0 },
		{ true, EINVAL, "201", "7", CID, -EPIPE, "ring-ref 200 of ", 0 },
		{ true, EINVAL, NULL, NULL, CID, -EPIPE,
		  "the offer is gone", 0 },
		/* Gone, and its directory too, which we may not read:
		 * xenstored says EACCES. */
		{ false, EINVAL, NULL, NULL, CID, -EPIPE,
		  "the offer is gone", EACCES },
		/* Read again, the offer is garbage now. */
		{ false, EINVAL, "x", "7", CID, -EPROTO,
		  "offer reads malformed now", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct vchan *v = NULL;

		next_case();
		client_start(10, 11);
		if (c[i].map) {
			MOCK_RET(xenevtchn_bind_interdomain, 9);
			MOCK_OK(xengnttab_open);
			MOCK_FAIL(xengnttab_map_grant_ref_notify, c[i].err);
		} else {
			MOCK_FAIL(xenevtchn_bind_interdomain, c[i].err);
		}
		if (c[i].err == EINVAL && c[i].ref &&
		    !num_ok(c[i].ref, UINT32_MAX)) {
			MOCK_RET(xs_transaction_start, 6);
			MOCK_RET(xs_read, c[i].ref);
			MOCK_OK(xs_transaction_end);    /* its abort */
		} else if (c[i].err == EINVAL && c[i].ref) {
			offer_id(6, c[i].ref, c[i].port, c[i].cid);
		} else if (c[i].err == EINVAL) {
			MOCK_RET(xs_transaction_start, 6);
			MOCK_FAIL(xs_read, c[i].gone_err ? c[i].gone_err
							 : ENOENT);
			MOCK_OK(xs_transaction_end);    /* its abort */
		}
		MOCK_OK(xs_rm);                         /* our claim */
		print_message("%s fails with %d\n", c[i].map ? "map" : "bind",
			      c[i].err);
		assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v),
				 c[i].want);
		assert_null(v);
		assert_int_equal(logs, 1);
		assert_non_null(strstr(last_log, c[i].log));
		assert_int_equal(mock.unmap_count, 0);
		assert_int_equal(mock.rms, 1);
		assert_string_equal(mock.rm_paths[0], CLAIM);
		client_released(1, c[i].map);
	}
}

/* Nothing offered to us under the path: absent, or (xenstored's answer
 * for a node missing under a directory we may not read, or an offer made
 * to another domain) unreadable.  Either way -ENOENT, as vchan.h says,
 * and a line that says so. */
static void test_client_nothing_offered(void **state)
{
	static const int errs[2] = { ENOENT, EACCES };
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct vchan *v = NULL;

		next_case();
		MOCK_OK(xs_open);
		MOCK_RET(xs_transaction_start, 5);
		MOCK_FAIL(xs_read, errs[i]);
		MOCK_OK(xs_transaction_end);            /* its abort */
		assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v),
				 -ENOENT);
		assert_null(v);
		assert_int_equal(logs, 1);
		assert_non_null(strstr(last_log, PATH ": nothing offered to "
				       "this domain (yet)"));
		client_released(0, 0);
	}
}

/* The page maps but a ring's grant does not (refs the server never
 * granted us, or gone with it since): gntdev's EINVAL is looked into as
 * for the page's ref: still offered, -EPIPE with the line that says what
 * it may be; the page is unmapped. */
static void test_client_ring_grant_fails(void **state)
{
	struct vchan_interface *pg;
	struct vchan *v = NULL;

	(void)state;
	next_case();
	client_start(12, 12);
	pg = (struct vchan_interface *)mock_pages[0];
	pg->grants[0] = 300;
	pg->grants[1] = 301;
	MOCK_RET(xenevtchn_bind_interdomain, 9);
	MOCK_OK(xengnttab_open);
	MOCK_OK(xengnttab_map_grant_ref_notify);
	MOCK_FAIL(xengnttab_map_domain_grant_refs, EINVAL);
	offer_id(6, "200", "7", CID);
	MOCK_OK(xs_rm);                                 /* our claim */
	MOCK_OK(xengnttab_unmap);                       /* the page */
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), -EPIPE);
	assert_null(v);
	assert_int_equal(mock.refs[0], 300);
	assert_int_equal(logs, 1);
	assert_non_null(strstr(last_log, PATH ": ring grant 300 of domain 5 "
			       "does not work though still offered"));
	assert_int_equal(mock.unmap_count, 1);
	client_released(1, 1);
}

/*
 * Two client processes of one domain racing for one offer.  Xen lets one
 * bind; the other's bind fails with -EINVAL, which alone reads as an offer
 * whose server is gone (-EPIPE).  So a client claims the offer first, in one
 * transaction: its liveness node or a claim held by a live process of our
 * pid namespace (here: this very process) gives -EBUSY at once, nothing
 * bound, nothing written, a log line naming the process.  A claim of a dead
 * process is taken over.  A holder it cannot judge (another pid namespace)
 * lets it try: a failed bind with the offer unchanged then gives -EBUSY,
 * not -EPIPE; and a stock server's offer (no channel id) names the nodes
 * without one.
 */
static void test_client_claim(void **state)
{
	char live[160], dead[160], foreign[160], want[64], boot[40];
	unsigned long long start;
	struct vchan *v = NULL;
	unsigned long ns;
	int which;

	(void)state;
	self_id(&ns, &start);
	boot_id(boot);
	snprintf(live, sizeof(live), "v2 %d %lu %llu %s /x", (int)getpid(),
		 ns, start, boot);
	snprintf(dead, sizeof(dead), "v2 %d %lu %llu %s /x", (int)dead_pid(),
		 ns, start, boot);
	snprintf(foreign, sizeof(foreign), "v2 %d %lu %llu %s /x",
		 (int)getpid(), ns + 1, start, boot);
	snprintf(want, sizeof(want), "taken by process %d of this domain",
		 (int)getpid());
	/* Held: the liveness node (0) or a claim (1). */
	for (which = 0; which < 2; which++) {
		claim_start();
		if (which)
			MOCK_FAIL(xs_read, ENOENT);
		MOCK_RET(xs_read, live);
		MOCK_OK(xs_transaction_end);            /* its abort */
		assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v),
				 -EBUSY);
		assert_null(v);
		assert_int_equal(logs, 1);
		assert_non_null(strstr(last_log, want));
		assert_int_equal(mock.writes, 0);
		assert_int_equal(mock.rms, 0);
		assert_int_equal(mock.txn_aborts, 1);
		client_released(0, 0);
	}

	/* A dead process's claim: ours now. */
	claim_start();
	MOCK_FAIL(xs_read, ENOENT);
	MOCK_RET(xs_read, dead);
	MOCK_OK(xs_write);
	MOCK_OK(xs_set_permissions);
	MOCK_OK(xs_transaction_end);
	MOCK_OK(xenevtchn_open);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	assert_int_equal(mock.rms, 1);
	assert_string_equal(mock.rm_paths[0], CLAIM);
	client_close(v);
	client_released(1, 1);

	/* Another pid namespace's liveness node: not claimed; the bind fails,
	 * the offer is unchanged: -EBUSY. */
	claim_start();
	MOCK_RET(xs_read, foreign);
	MOCK_FAIL(xs_read, ENOENT);
	MOCK_OK(xs_transaction_end);                    /* its abort */
	MOCK_OK(xenevtchn_open);
	MOCK_FAIL(xenevtchn_bind_interdomain, EINVAL);
	offer(6, "200", "7");
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), -EBUSY);
	assert_int_equal(logs, 1);
	assert_non_null(strstr(last_log, "event-channel 7 of domain 5 is "
			       "taken by another client of this domain"));
	assert_int_equal(mock.writes, 0);
	assert_int_equal(mock.rms, 0);
	client_released(1, 0);

	/* A stock server: no channel id (absent, or unreadable: xenstored's
	 * answer for a node missing under a directory we may not read), none
	 * in our nodes' names. */
	for (which = 0; which < 2; which++) {
		next_case();
		server_page(10, 11);
		MOCK_OK(xs_open);
		MOCK_RET(xs_transaction_start, 5);
		MOCK_RET(xs_read, "200");
		MOCK_RET(xs_read, "7");
		MOCK_FAIL(xs_read, which ? EACCES : ENOENT);
		MOCK_OK(xs_transaction_end);
		claim();
		MOCK_OK(xenevtchn_open);
		client_rest(9);
		assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
		/* Sharded by the ring-ref: 200 % 16 = 8. */
		assert_string_equal(mock.rm_paths[0],
				    LIVE_DIR "/8/5-7-200-claim");
		client_close(v);
		assert_string_equal(mock.rm_paths[1], LIVE_DIR "/8/5-7-200");
		client_released(1, 1);
	}
}

/* A client that cannot bind the peer's port or map its page gives up with
 * everything it took released once. */
static void test_client_setup_failures_release_once(void **state)
{
	struct vchan *v = NULL;

	(void)state;
	client_start(10, 11);
	MOCK_FAIL(xenevtchn_bind_interdomain, ENOSPC);
	MOCK_OK(xs_rm);                         /* our claim */
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), -ENOSPC);
	assert_int_equal(mock.rms, 1);
	client_released(1, 0);

	next_case();
	client_start(10, 11);
	MOCK_RET(xenevtchn_bind_interdomain, 9);
	MOCK_OK(xengnttab_open);
	MOCK_FAIL(xengnttab_map_grant_ref_notify, ENOMEM);
	MOCK_OK(xs_rm);                         /* our claim */
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), -ENOMEM);
	assert_null(v);
	assert_int_equal(mock.unmap_count, 0);
	assert_int_equal(mock.rms, 1);
	client_released(1, 1);
}

/* Our offer's record, written in a transaction of its own. */
static void record_txn(void)
{
	MOCK_RET(xs_transaction_start, 60);
	MOCK_OK(xs_write);
	MOCK_OK(xs_set_permissions);
	MOCK_OK(xs_transaction_end);
}

/* A server open up to its first Xen call: no offer records to clean up,
 * ours recorded. */
static void server_record(void)
{
	MOCK_FAIL(xs_directory, ENOENT);
	record_txn();
}

/* Who we are, and the v1 value of a process of our namespace that has
 * exited. */
static void me_and_dead(struct vchan_proc_id *me, char *dead, size_t n)
{
	assert_int_equal(vchan_proc_self(me), 0);
	snprintf(dead, n, "v1 %d %lu %llu /x", (int)dead_pid(), me->pidns,
		 me->start);
}

/* A store handle of the test's, to call the clean-up with. */
static struct hyp_store *test_store(void)
{
	struct hyp_store *st = NULL;

	MOCK_OK(xs_open);
	assert_int_equal(hyp_store_open(&st), 0);
	return st;
}

/* The forked child (which checks in its own copy) exited with 0. */
static void child_passed(pid_t child)
{
	int status = -1;

	assert_true(child > 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * vchan_fork_guard() (fork.c): a guarded mutex that another thread holds
 * when fork() is called is waited for, so the child's copy is never left
 * locked (and the state it guards is whole).  A thread takes one and holds
 * it for 200 ms; the main thread forks meanwhile: the child must find it
 * free.  Unguarded, the child's copy stays locked.
 */
static pthread_mutex_t guarded_mu = PTHREAD_MUTEX_INITIALIZER;
static sem_t guarded_held;

static void *hold_guarded(void *arg)
{
	pthread_mutex_lock(&guarded_mu);
	sem_post(&guarded_held);
	usleep(200 * 1000);     /* the fork() comes meanwhile */
	pthread_mutex_unlock(&guarded_mu);
	return arg;
}

static void test_fork_guard_waits_for_holder(void **state)
{
	pthread_t holder;
	pid_t child;

	(void)state;
	vchan_fork_guard(&guarded_mu);
	assert_int_equal(sem_init(&guarded_held, 0, 0), 0);
	assert_int_equal(pthread_create(&holder, NULL, hold_guarded, NULL), 0);
	while (sem_wait(&guarded_held) < 0)
		assert_int_equal(errno, EINTR);
	child = fork();
	if (child == 0)
		_exit(pthread_mutex_trylock(&guarded_mu) == 0 ? 0 : 1);
	child_passed(child);
	assert_int_equal(pthread_join(holder, NULL), 0);
	sem_destroy(&guarded_held);
}

/*
 * The guarded mutexes are leaves (lock_order.c): a thread holding one that
 * takes another, takes fork.c's list lock, or calls fork() is logged, once
 * per place, and with VCHAN_LOCK_CHECK=abort (as every test tier runs)
 * aborts.  Taking them one after the other is no breach.  The mutexes here
 * are not registered with fork(), so a breach cannot deadlock the test.
 * Each case runs in a child, which sets the environment its way.
 */
static pthread_mutex_t order_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t order_b = PTHREAD_MUTEX_INITIALIZER;

static int nested_in_child(bool abort_on_breach)
{
	struct vchan_fork_hold h = { .fd = { -1, -1 } };
	pid_t grandchild;
	int status;

	if (abort_on_breach)
		setenv("VCHAN_LOCK_CHECK", "abort", 1);
	else
		unsetenv("VCHAN_LOCK_CHECK");
	/* In turn: no breach. */
	vchan_guard_lock(&order_a);
	vchan_guard_unlock(&order_a);
	vchan_guard_lock(&order_b);
	vchan_guard_unlock(&order_b);
	if (logs != 0)
		return 1;
	/* Nested: a breach (or the abort). */
	vchan_guard_lock(&order_a);
	vchan_guard_lock(&order_b);
	if (logs != 1 || !strstr(last_log, "lock order broken: a fork-guarded"))
		return 2;
	vchan_guard_unlock(&order_b);
	vchan_guard_lock(&order_b);      /* the same place: not again */
	vchan_guard_unlock(&order_b);
	if (logs != 1)
		return 3;
	vchan_fork_hold(&h);             /* the list lock, under order_a */
	vchan_fork_unhold(&h);
	if (logs != 2 || !strstr(last_log, "list lock taken"))
		return 4;
	grandchild = fork();             /* fork() under order_a */
	if (grandchild == 0)
		_exit(0);
	if (grandchild < 0 || waitpid(grandchild, &status, 0) != grandchild ||
	    logs != 3 || !strstr(last_log, "fork() called"))
		return 5;
	vchan_guard_unlock(&order_a);
	/* Nothing held: none of them is a breach. */
	vchan_guard_lock(&order_b);
	vchan_guard_unlock(&order_b);
	vchan_fork_hold(&h);
	vchan_fork_unhold(&h);
	return logs == 3 ? 0 : 6;
}

static void test_guard_nesting_caught(void **state)
{
	int status = -1;
	pid_t child;

	(void)state;
	child = fork();
	if (child == 0)
		_exit(nested_in_child(false));
	child_passed(child);

	child = fork();
	if (child == 0) {
		/* cmocka may catch SIGABRT: this child must die of it */
		signal(SIGABRT, SIG_DFL);
		_exit(nested_in_child(true) + 100);
	}
	assert_true(child > 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_int_equal(logs, 0);       /* the children logged in their copies */
}

/*
 * Sweeps: a process's first clean-up of a directory lists it and every
 * shard; each later one lists one shard, in turn, every shard within 16;
 * the offer records have turns of their own; a forked child starts over
 * with a whole sweep.
 */
static void test_reap_sweeps_in_turn(void **state)
{
	static const char *const shards[] = { "0", "7", NULL };
	static const char *const names[] = { "5-8-201", NULL };
	static const char digits[] = "0123456789abcdef";
	struct vchan_proc_id me;
	struct hyp_store *st;
	char dead[128];
	unsigned seen = 0, t;
	pid_t child;

	(void)state;
	me_and_dead(&me, dead, sizeof(dead));
	st = test_store();

	/* The whole sweep: the directory, then both shards. */
	MOCK_RET(xs_directory, shards);
	MOCK_RET(xs_directory, names);
	reap(80, dead);
	MOCK_RET(xs_directory, names);
	reap(81, dead);
	vchan_live_reap(st, "test", 3, &me);
	assert_int_equal(mock.rms, 2);

	/* Then one shard per clean-up, each of the 16 once in 16. */
	for (t = 1; t <= 16; t++) {
		MOCK_FAIL(xs_directory, ENOENT);
		vchan_live_reap(st, "test", 3, &me);
		assert_int_equal(strncmp(mock.path, LIVE_DIR "/",
					 strlen(LIVE_DIR) + 1), 0);
		assert_int_equal(strlen(mock.path), strlen(LIVE_DIR) + 2);
		seen |= 1u << (strchr(digits, mock.path[strlen(LIVE_DIR) + 1]) -
			       digits);
	}
	assert_int_equal(seen, 0xffff);

	/* The offer records' first clean-up is a whole sweep. */
	MOCK_FAIL(xs_directory, ENOENT);
	vchan_offer_reap(st, "test", 3, &me);
	assert_string_equal(mock.path, OFFER_DIR);

	/* A child starts over. */
	child = fork();
	if (child == 0) {
		MOCK_FAIL(xs_directory, ENOENT);
		vchan_live_reap(st, "test", 3, &me);
		_exit(strcmp(mock.path, LIVE_DIR) ? 1 : 0);
	}
	child_passed(child);
	hyp_store_close(st);
}

/*
 * The channels of a process share one store connection (store_conn.c): a
 * second open while one channel lives opens none, and its failure closes
 * none; the last channel's close closes it.  A forked child drops its copy
 * once, the one way a child may, and a parent's channel closed in the child
 * takes nothing from the child's own connection.
 */
static void test_channels_share_store(void **state)
{
	struct vchan *v = NULL, *w = NULL;
	pid_t child;

	(void)state;
	client_start(10, 11);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	/* A second open on the same connection, refused (port 0). */
	offer(6, "200", "0");
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &w), -EPROTO);
	assert_int_equal(mock.xs_close, watch_opens - 1);

	child = fork();
	if (child == 0) {
		struct hyp_store *mine;
		unsigned long ep;
		int ok;

		mock.xs_postfork = mock.xs_close = 0;
		MOCK_OK(xs_open);               /* the child's own */
		ok = vchan_store_get(&mine, &ep) == 0;
		ok = ok && mock.xs_postfork == 1;   /* the parent's, dropped */
		vchan_close(v);                 /* the parent's channel */
		ok = ok && mock.xs_close == 0;  /* ours stays */
		vchan_store_put(mine, ep);
		_exit(ok && mock.xs_close == 1 ? 0 : 1);
	}
	child_passed(child);

	client_close(v);
	client_released(1, 1);
}

/*
 * A process's own nodes: its connected client's liveness node is skipped,
 * unread, by its later clean-ups (a process with many channels would read
 * each of its own on every open); read again once the channel is closed,
 * and in a forked child, whose set is empty (the node is its parent's).
 */
static void test_reap_skips_own_nodes(void **state)
{
	static const char *const names[] = { "5-7-200-" CID, "5-8-201", NULL };
	static const char *const shards[] = { "0", NULL };
	struct vchan_proc_id me;
	struct hyp_store *st;
	struct vchan *v = NULL;
	char dead[128], ours[128];
	pid_t child;

	(void)state;
	me_and_dead(&me, dead, sizeof(dead));
	snprintf(ours, sizeof(ours), "v1 %d %lu %llu /x", (int)getpid(),
		 me.pidns, me.start);
	client_start(10, 11);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	st = test_store();

	/* The one read is 5-8-201's: ours is skipped. */
	vchan_reap_sweep_all();
	mock.rms = 0;
	MOCK_RET(xs_directory, shards);
	MOCK_RET(xs_directory, names);
	reap(80, dead);
	vchan_live_reap(st, "test", 3, &me);
	assert_int_equal(mock.rms, 1);
	assert_string_equal(mock.rm_paths[0], LIVE_DIR "/0/5-8-201");

	/* A forked child reads it (here a dead process's value, so that
	 * the child's removal shows the read). */
	child = fork();
	if (child == 0) {
		mock.rms = 0;
		MOCK_RET(xs_directory, shards);
		MOCK_RET(xs_directory, names);
		reap(81, dead);
		MOCK_FAIL(xs_read, ENOENT);     /* 5-8-201: gone */
		vchan_live_reap(st, "test", 3, &me);
		_exit(mock.rms == 1 && !strcmp(mock.rm_paths[0], LIVE) ? 0 : 1);
	}
	child_passed(child);

	/* Closed, it is no longer ours: read (and here judged alive). */
	client_close(v);
	vchan_reap_sweep_all();
	mock.rms = 0;
	MOCK_RET(xs_directory, shards);
	MOCK_RET(xs_directory, names);
	MOCK_RET(xs_read, ours);
	MOCK_FAIL(xs_read, ENOENT);             /* 5-8-201: gone */
	vchan_live_reap(st, "test", 3, &me);
	assert_int_equal(mock.rms, 0);
	hyp_store_close(st);
}

/*
 * A server process killed in a living domain leaves its offer, which no one
 * would remove: each server records its offer (OFFER_DIR/<channel id>, the
 * value naming its process and the offer's path) before offering it, and a
 * server's open removes the records of dead processes, and with each the
 * offer at its path if that still carries the record's channel id.  Kept:
 * a live process's record, and an offer with another id (a newer server's
 * at the same path); a record rewritten meanwhile stays.
 */
static void test_server_reaps_dead_offers(void **state)
{
	static const char *const names[] = {
		"00000000000000a1", "00000000000000a2", "00000000000000a3",
		"00000000000000a4", NULL,
	};
	static const char *const shards[] = { "0", NULL };
	char dead1[160], dead2[160], live[160];
	struct vchan_config cfg;
	struct vchan *v = NULL;
	struct proc_ids me;

	(void)state;
	proc_ids(&me, dead_pid());
	snprintf(dead1, sizeof(dead1), "v2 %d %lu %llu %s /local/domain/3/x",
		 (int)me.gone, me.ns, me.start, me.boot);
	snprintf(dead2, sizeof(dead2), "v2 %d %lu %llu %s /local/domain/3/y",
		 (int)me.gone, me.ns, me.start, me.boot);
	snprintf(live, sizeof(live), "v2 %d %lu %llu %s /local/domain/3/z",
		 (int)getpid(), me.ns, me.start, me.boot);
	vchan_config_init(&cfg);
	MOCK_OK(xs_open);
	MOCK_RET(xs_read, "3");
	MOCK_FAIL(xc_interface_open, EACCES);
	MOCK_RET(xs_directory, shards);
	MOCK_RET(xs_directory, names);          /* shard 0's */
	/* a1: dead, its offer still carries a1: both go. */
	MOCK_RET(xs_read, dead1);
	MOCK_RET(xs_transaction_start, 61);
	MOCK_RET(xs_read, dead1);
	MOCK_RET(xs_read, "00000000000000a1");
	MOCK_OK(xs_rm);
	MOCK_OK(xs_rm);
	MOCK_OK(xs_transaction_end);
	/* a2: dead, another offer at its path now: the record goes. */
	MOCK_RET(xs_read, dead2);
	MOCK_RET(xs_transaction_start, 62);
	MOCK_RET(xs_read, dead2);
	MOCK_RET(xs_read, "00000000000000ff");
	MOCK_OK(xs_rm);
	MOCK_OK(xs_transaction_end);
	/* a3: a live process's: kept. */
	MOCK_RET(xs_read, live);
	/* a4: dead, rewritten meanwhile: kept. */
	MOCK_RET(xs_read, dead1);
	MOCK_RET(xs_transaction_start, 63);
	MOCK_RET(xs_read, live);
	MOCK_OK(xs_transaction_end);                   /* its abort */
	record_txn();
	MOCK_FAIL(xenevtchn_open, EMFILE);
	MOCK_OK(xs_rm);                                /* our record */
	assert_int_equal(vchan_server_open(&cfg, PEER, PATH, &v), -EMFILE);
	assert_int_equal(mock.rms, 4);
	assert_string_equal(mock.rm_paths[0], "/local/domain/3/x");
	assert_string_equal(mock.rm_paths[1], OFFER_DIR "/0/00000000000000a1");
	assert_string_equal(mock.rm_paths[2], OFFER_DIR "/0/00000000000000a2");
	assert_true(!strncmp(mock.rm_paths[3], OFFER_DIR "/",
			     strlen(OFFER_DIR) + 1));
	/* Ours names this process and the offer's path. */
	assert_non_null(strstr(mock.value, " " PATH));
	assert_int_equal(strncmp(mock.value, live, strchr(live + 3, ' ') -
				 live), 0);
}

/* A server's open up to its control page shared (domain 3, port 7),
 * with rings of these orders. */
static void server_shared(struct vchan_config *cfg, unsigned read_order,
			  unsigned write_order)
{
	vchan_config_init(cfg);
	cfg->read_order = read_order;
	cfg->write_order = write_order;
	MOCK_OK(xs_open);
	MOCK_RET(xs_read, "3");                        /* our domid */
	MOCK_FAIL(xc_interface_open, EACCES);          /* a guest */
	server_record();
	MOCK_OK(xenevtchn_open);
	MOCK_RET(xenevtchn_bind_unbound_port, 7);
	MOCK_OK(xengntshr_open);
	MOCK_OK(xengntshr_share_page_notify);
}

/* The server's page unshared once, and every handle closed once: its
 * store connections (xs_closes), the event channel and gntalloc's. */
static void server_released(int xs_closes)
{
	assert_int_equal(mock.unmap_count, 1);
	assert_int_equal(mock.xs_close, xs_closes);
	assert_int_equal(mock.evtchn_close, 1);
	assert_int_equal(mock.gntshr_close, 1);
	assert_int_equal(mock.gnttab_close, 0);
}

/* After server_shared: the peer watch (its watch refused, a fresh one),
 * the publication failing with err (its abort with abort_err, 0: none),
 * and its undoing (over a fresh store connection first if `fresh`): the
 * offer there not ours, our record removed, the page unshared. */
static void server_publish_fails(int err, int abort_err, bool fresh)
{
	MOCK_OK(xs_open);                              /* the peer watch's */
	MOCK_FAIL(xs_watch, EACCES);
	MOCK_OK(xs_open);                              /* a fresh one */
	MOCK_RET(xs_transaction_start, 5);             /* publish */
	MOCK_FAIL(xs_write, err);
	if (abort_err)                                 /* its abort */
		MOCK_FAIL(xs_transaction_end, abort_err);
	else
		MOCK_OK(xs_transaction_end);
	if (fresh)
		MOCK_OK(xs_open);
	MOCK_RET(xs_transaction_start, 6);             /* unpublish */
	MOCK_FAIL(xs_read, ENOENT);
	MOCK_OK(xs_transaction_end);
	MOCK_OK(xs_rm);                                /* our record */
	MOCK_OK(xengntshr_unshare);
}

/* The server: srv_live's unmap-notify on its own port; a failed publish
 * releases the grant, the port and the handles once. */
static void test_server_publish_fails_release_once(void **state)
{
	struct vchan_config cfg;
	struct vchan *v = NULL;

	(void)state;
	server_shared(&cfg, 10, 11);
	server_publish_fails(EACCES, 0, false);
	assert_int_equal(vchan_server_open(&cfg, PEER, PATH, &v), -EACCES);
	assert_null(v);
	assert_int_equal(mock.rms, 1);
	assert_true(!strncmp(mock.rm_paths[0], OFFER_DIR "/", strlen(OFFER_DIR) + 1));
	assert_int_equal(mock.notify_offset,
			 offsetof(struct vchan_interface, srv_live));
	assert_int_equal(mock.notify_port, 7);
	/* The channel's connection and both of the peer watch's. */
	server_released(3);
}

/*
 * Past gntalloc's limit (1024 pages per domain by default) a share fails
 * with -ENOSPC: the open fails so, and its log line says how many pages
 * the channel takes and which limit to raise.
 */
static void test_server_grant_limit(void **state)
{
	struct vchan_config cfg;
	struct vchan *v = NULL;

	(void)state;
	server_shared(&cfg, 15, 15);
	MOCK_FAIL(xengntshr_share_pages, ENOSPC);
	MOCK_RET(xs_transaction_start, 6);             /* unpublish */
	MOCK_FAIL(xs_read, ENOENT);
	MOCK_OK(xs_transaction_end);
	MOCK_OK(xs_rm);                                /* our record */
	MOCK_OK(xengntshr_unshare);
	assert_int_equal(vchan_server_open(&cfg, PEER, PATH, &v), -ENOSPC);
	assert_null(v);
	assert_int_equal(logs, 1);
	assert_non_null(strstr(last_log, "cannot share 17 pages with domain "
			       "5: this domain's grants are used up"));
	assert_non_null(strstr(last_log, "xen_gntalloc.limit"));
	assert_int_equal(mock.rms, 1);
	server_released(1);
}

/*
 * Opening without the store (vchan_*_open_offer): the server shares and
 * offers as ever and hands the offer back; the client maps and binds it.
 * Neither makes a store call (an unplanned one fails the test), and each
 * releases what it took once.
 */
static void test_offer_without_store(void **state)
{
	struct vchan_config cfg;
	struct vchan_offer o = { 0, 0 };
	struct vchan_interface *pg;
	struct vchan *v = NULL;

	(void)state;
	vchan_config_init(&cfg);
	cfg.read_order = 10;
	cfg.write_order = 11;
	MOCK_FAIL(xc_interface_open, EACCES);          /* a guest */
	MOCK_OK(xenevtchn_open);
	MOCK_RET(xenevtchn_bind_unbound_port, 7);
	MOCK_OK(xengntshr_open);
	MOCK_OK(xengntshr_share_page_notify);
	assert_int_equal(vchan_server_open_offer(&cfg, PEER, &o, &v), 0);
	assert_int_equal(o.ring_ref, 200);
	assert_int_equal(o.port, 7);
	assert_int_equal(mock.domid, PEER);
	assert_int_equal(mock.notify_offset,
			 offsetof(struct vchan_interface, srv_live));
	assert_int_equal(mock.notify_port, 7);
	pg = (struct vchan_interface *)mock_pages[0];
	assert_int_equal(pg->left_order, 10);
	assert_int_equal(pg->right_order, 11);
	assert_int_equal(vchan_is_connected(v), 0);
	MOCK_OK(xenevtchn_notify);                     /* revoke */
	MOCK_OK(xengntshr_unshare);
	vchan_close(v);
	server_released(0);
	assert_int_equal(logs, 0);

	next_case();
	pg = server_page(10, 11);
	MOCK_OK(xenevtchn_open);
	MOCK_RET(xenevtchn_bind_interdomain, 9);
	MOCK_OK(xengnttab_open);
	MOCK_OK(xengnttab_map_grant_ref_notify);
	MOCK_OK(xenevtchn_notify);                     /* connected */
	o = (struct vchan_offer){ .ring_ref = 200, .port = 7 };
	v = NULL;
	assert_int_equal(vchan_client_open_offer(NULL, PEER, &o, &v), 0);
	client_mapped(pg);
	assert_int_equal(vchan_ring_size(v, 1), 1024);
	MOCK_OK(xenevtchn_notify);                     /* revoke */
	MOCK_OK(xengnttab_unmap);
	vchan_close(v);
	assert_int_equal(pg->cli_live, 0);
	assert_int_equal(mock.unmap_count, 1);
	assert_int_equal(mock.xs_close, 0);
	assert_int_equal(mock.evtchn_close, 1);
	assert_int_equal(mock.gnttab_close, 1);
	assert_int_equal(logs, 0);
}

/* A server's open that fell back to the old way of opening gntalloc logs
 * it with the reason, once per process: this open, the run's earlier ones
 * and a second one here log one line in all. */
static void test_old_open_logged_once(void **state)
{
	struct vchan_config cfg;
	struct vchan_offer o = { 0, 0 };
	struct vchan *v = NULL;
	int i;

	(void)state;
	vchan_config_init(&cfg);
	cfg.read_order = 10;
	cfg.write_order = 10;
	for (i = 0; i < 2; i++) {
		MOCK_FAIL(xc_interface_open, EACCES);  /* a guest */
		MOCK_OK(xenevtchn_open);
		MOCK_RET(xenevtchn_bind_unbound_port, 7);
		MOCK_OK(xengntshr_open);
		MOCK_OK(xengntshr_share_page_notify);
		assert_int_equal(vchan_server_open_offer(&cfg, PEER, &o, &v),
				 0);
		MOCK_OK(xenevtchn_notify);             /* revoke */
		MOCK_OK(xengntshr_unshare);
		vchan_close(v);
		v = NULL;
	}
	assert_int_equal(old_open_logs, 1);
	assert_non_null(strstr(old_open_log, "vchan server: " OLD_OPEN
			       "Operation not permitted): a program another "
			       "thread starts then with posix_spawn() or "
			       "vfork() may inherit it"));
	assert_int_equal(logs, 0);
}

/* A client handed an offer that does not work: -EINVAL before any call
 * for zeros, -EPIPE with a line naming what failed for a port or ring-ref
 * Xen refuses, -EPROTO for a malformed page; each releases once. */
static void test_offer_client_failures(void **state)
{
	static const struct { int err; const char *what, *line; } bad[] = {
		{ ESRCH, "event-channel", "domain 5 of the offer does not "
		  "exist (any more)" },
		{ EINVAL, "event-channel", "event-channel 7 of domain 5 does "
		  "not work: its server closed the channel or is gone, a "
		  "client took it already (an offer is for one), or it was "
		  "not offered to this domain" },
		{ EINVAL, "ring-ref", "ring-ref 200 of domain 5 does not "
		  "work" },
	};
	struct vchan_offer o = { .ring_ref = 200, .port = 7 };
	struct vchan_offer zero[2] = { { 0, 7 }, { 200, 0 } };
	struct vchan *v = NULL;

	(void)state;
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(vchan_client_open_offer(NULL, PEER, &zero[i],
							 &v), -EINVAL);
	assert_int_equal(vchan_client_open_offer(NULL, PEER, NULL, &v),
			 -EINVAL);
	/* No handle at all: as bad an argument for vchan_fd() as for the
	 * other calls. */
	assert_int_equal(vchan_fd(NULL), -EINVAL);
	assert_int_equal(vchan_events(NULL), -EINVAL);
	assert_int_equal(vchan_is_connected(NULL), -EINVAL);
	assert_int_equal(vchan_client_open_offer(NULL, 0x7ff0, &o, &v),
			 -EINVAL);
	assert_int_equal(mock.evtchn_close, 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bool map = !strcmp(bad[i].what, "ring-ref");

		next_case();
		server_page(10, 11);
		MOCK_OK(xenevtchn_open);
		if (!map) {
			MOCK_FAIL(xenevtchn_bind_interdomain, bad[i].err);
		} else {
			MOCK_RET(xenevtchn_bind_interdomain, 9);
			MOCK_OK(xengnttab_open);
			MOCK_FAIL(xengnttab_map_grant_ref_notify, bad[i].err);
		}
		assert_int_equal(vchan_client_open_offer(NULL, PEER, &o, &v),
				 -EPIPE);
		assert_null(v);
		assert_int_equal(logs, 1);
		assert_non_null(strstr(last_log, bad[i].line));
		assert_int_equal(mock.evtchn_close, 1);
		assert_int_equal(mock.gnttab_close, map ? 1 : 0);
		assert_int_equal(mock.xs_close, 0);
	}
	/* The peer's page names orders out of range. */
	next_case();
	server_page(10, 11)->left_order = 21;
	MOCK_OK(xenevtchn_open);
	MOCK_RET(xenevtchn_bind_interdomain, 9);
	MOCK_OK(xengnttab_open);
	MOCK_OK(xengnttab_map_grant_ref_notify);
	MOCK_OK(xengnttab_unmap);
	assert_int_equal(vchan_client_open_offer(NULL, PEER, &o, &v), -EPROTO);
	assert_null(v);
	assert_int_equal(logs, 1);
	assert_int_equal(mock.unmap_count, 1);
	assert_int_equal(mock.evtchn_close, 1);
	assert_int_equal(mock.gnttab_close, 1);
}

/*
 * A lost store connection (libxenstore gave it up: xenstored restarted,
 * say).  A client's open that it makes fail goes once more, on a fresh
 * connection; a channel that holds the lost one removes its liveness node
 * over a fresh one when it closes.  Said once.
 */
static void test_client_store_lost(void **state)
{
	struct vchan *v = NULL, *w = NULL;

	(void)state;
	client_start(10, 11);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	/* The store goes under the next open's read of the offer. */
	MOCK_FAIL(xs_transaction_start, ECONNRESET);
	/* Once more on a fresh one, which reads a bad offer (port 0). */
	MOCK_OK(xs_open);
	offer(6, "200", "0");
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &w), -EPROTO);
	assert_null(w);
	assert_non_null(strstr(all_logs, "the connection to the store was "
			       "lost: channels go on over a fresh one\n"));
	assert_non_null(strstr(last_log, "event-channel 0 invalid"));
	/* v's close: its node goes over a fresh connection. */
	MOCK_OK(xs_open);
	client_close(v);
	assert_string_equal(mock.path, LIVE);
	assert_int_equal(strstr(strstr(all_logs, "was lost") + 1, "was lost"),
			 NULL);
	/* The lost one, the retry's and the close's went; none is left. */
	watch_opens += 2;
	client_released(1, 1);
}

/* A loss met by an open's best-effort steps (the claim, the liveness
 * node), where the open goes on: each such step is done once more, on a
 * fresh connection, and the channel connects with both. */
static void test_client_steps_store_lost(void **state)
{
	struct vchan *v = NULL;

	(void)state;
	server_page(10, 11);
	MOCK_OK(xs_open);
	offer(5, "200", "7");
	MOCK_RET(xs_read, "3");                 /* our domid */
	MOCK_FAIL(xs_directory, ENOENT);        /* no liveness nodes yet */
	MOCK_FAIL(xs_transaction_start, ECONNRESET);   /* the claim: lost */
	MOCK_OK(xs_open);                       /* a fresh connection */
	claim_txn(71);
	MOCK_OK(xenevtchn_open);
	MOCK_RET(xenevtchn_bind_interdomain, 9);
	MOCK_OK(xengnttab_open);
	MOCK_OK(xengnttab_map_grant_ref_notify);
	MOCK_RET(xs_transaction_start, 76);     /* liveness node: lost */
	MOCK_FAIL(xs_write, ECONNRESET);
	MOCK_FAIL(xs_transaction_end, EBADF);   /* its abort */
	MOCK_OK(xs_open);                       /* a fresh connection */
	client_connected();                     /* liveness node, and on */
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	/* The offer's read, the claim, the node. */
	assert_int_equal(mock.txn_commits, 3);
	assert_null(strstr(all_logs, "cannot claim"));
	assert_null(strstr(all_logs, "cannot publish"));
	client_close(v);
	assert_string_equal(mock.path, LIVE);
	watch_opens += 2;                       /* the two lost ones */
	client_released(1, 1);
}

/* A claim whose commit landed but whose answer was lost with the
 * connection: the claim found on the fresh one is this process's own, not
 * another's (no EBUSY). */
static void test_client_claim_landed_before_loss(void **state)
{
	char own[160], boot[40];
	unsigned long long start;
	struct vchan *v = NULL;
	unsigned long ns;

	(void)state;
	self_id(&ns, &start);
	boot_id(boot);
	snprintf(own, sizeof(own), "v2 %d %lu %llu %s /x", (int)getpid(), ns,
		 start, boot);
	server_page(10, 11);
	MOCK_OK(xs_open);
	offer(5, "200", "7");
	MOCK_RET(xs_read, "3");                 /* our domid */
	MOCK_FAIL(xs_directory, ENOENT);        /* no liveness nodes yet */
	MOCK_RET(xs_transaction_start, 70);     /* the claim */
	MOCK_FAIL(xs_read, ENOENT);
	MOCK_FAIL(xs_read, ENOENT);
	MOCK_OK(xs_write);
	MOCK_OK(xs_set_permissions);
	MOCK_FAIL(xs_transaction_end, ECONNRESET);   /* landed, unanswered */
	MOCK_OK(xs_open);                       /* a fresh connection */
	MOCK_RET(xs_transaction_start, 71);     /* the claim once more */
	MOCK_FAIL(xs_read, ENOENT);             /* the liveness node */
	MOCK_RET(xs_read, own);                 /* the claim: ours */
	MOCK_OK(xs_transaction_end);            /* its abort */
	MOCK_OK(xenevtchn_open);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	assert_null(strstr(all_logs, "taken by"));
	assert_string_equal(mock.rm_paths[0], CLAIM);   /* ours: removed */
	client_close(v);
	watch_opens += 1;                       /* the lost one */
	client_released(1, 1);
}

/* The same for a server's record of its offer. */
static void test_server_record_store_lost(void **state)
{
	struct vchan_config cfg;
	struct vchan *v = NULL;

	(void)state;
	vchan_config_init(&cfg);
	MOCK_OK(xs_open);
	MOCK_RET(xs_read, "3");                        /* our domid */
	MOCK_FAIL(xc_interface_open, EACCES);          /* a guest */
	MOCK_FAIL(xs_directory, ENOENT);               /* no records */
	MOCK_RET(xs_transaction_start, 60);            /* ours: lost */
	MOCK_FAIL(xs_write, ECONNRESET);
	MOCK_FAIL(xs_transaction_end, EBADF);          /* its abort */
	MOCK_OK(xs_open);                              /* a fresh one */
	record_txn();
	MOCK_FAIL(xenevtchn_open, EMFILE);
	MOCK_OK(xs_rm);                                /* our record */
	assert_int_equal(vchan_server_open(&cfg, PEER, PATH, &v), -EMFILE);
	assert_int_equal(mock.rms, 1);
	assert_null(strstr(all_logs, "cannot record"));
	assert_int_equal(mock.xs_close, 2);
}

/* A loss first found by a channel's close: its removals go once more, on
 * a fresh connection. */
static void test_client_close_finds_store_lost(void **state)
{
	struct vchan *v = NULL;

	(void)state;
	client_start(10, 11);
	client_rest(9);
	assert_int_equal(vchan_client_open(NULL, PEER, PATH, &v), 0);
	MOCK_OK(xenevtchn_notify);              /* revoke tells the peer */
	MOCK_FAIL(xs_rm, ECONNRESET);           /* the liveness node */
	MOCK_OK(xs_open);                       /* a fresh connection */
	MOCK_OK(xs_rm);                         /* the liveness node */
	MOCK_OK(xengnttab_unmap);               /* the control page */
	vchan_close(v);
	assert_string_equal(mock.path, LIVE);
	assert_int_equal(mock.rms, 3);          /* the claim, then these */
	watch_opens += 1;
	client_released(1, 1);
}

/*
 * The same for a server's open: a publication the lost connection made
 * fail is undone over a fresh one (the record removed, the port and page
 * given back), and the open goes once more on a fresh one.
 */
static void test_server_store_lost(void **state)
{
	struct vchan_config cfg;
	struct vchan *v = NULL;

	(void)state;
	server_shared(&cfg, 10, 11);
	server_publish_fails(ECONNRESET, EBADF, true);
	/* Once more: a fresh connection; it fails on its own. */
	MOCK_OK(xs_open);
	MOCK_RET(xs_read, "3");
	MOCK_FAIL(xc_interface_open, EACCES);
	server_record();
	MOCK_FAIL(xenevtchn_open, EMFILE);
	MOCK_OK(xs_rm);                                /* our record */
	assert_int_equal(vchan_server_open(&cfg, PEER, PATH, &v), -EMFILE);
	assert_null(v);
	assert_int_equal(mock.rms, 2);
	/* (The loss is said once per process: test_client_store_lost.) */
}

#if !defined(__SANITIZE_THREAD__)   /* see main() */
/* A judge in another time namespace (a container's with its own boot
 * time, a process restored by CRIU) reads a live process's start time
 * with its own boottime offset, not the writer's: it must not take the
 * difference for another process.  Before, it judged the live owner gone,
 * and removed its liveness node or offer, or ignored its claim. */
static void test_owner_in_another_time_ns(void **state)
{
	struct vchan_proc_id me;
	char *val;
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(vchan_proc_self(&me), 0);
	val = vchan_live_value(&me, "/local/domain/3/data/x");
	assert_non_null(val);
	assert_int_equal(vchan_live_owner(&me, val, NULL), VCHAN_OWNER_ALIVE);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A time namespace whose boot time is a day off; its first
		 * child lives in it, and judges us. */
		static const char off[] = "boottime 86400 0\n";
		struct vchan_proc_id judge;
		int fd, st;
		pid_t g;

		/* The syscall: unshare() is the mocks' (hyp_gnt.c's). */
		if (syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWTIME) < 0) {
			fprintf(stderr, "unshare: %s\n", strerror(errno));
			_exit(77);
		}
		fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, off, sizeof(off) - 1) < 0) {
			fprintf(stderr, "timens_offsets: %s\n", strerror(errno));
			_exit(77);
		}
		close(fd);
		g = fork();
		if (g < 0)
			_exit(2);
		if (g == 0) {
			if (vchan_proc_self(&judge) < 0 ||
			    judge.start == me.start)
				_exit(3);      /* not another view */
			judge.pidns = me.pidns;
			_exit(vchan_live_owner(&judge, val, NULL) ==
			      VCHAN_OWNER_UNKNOWN ? 0 : 4);
		}
		if (waitpid(g, &st, 0) != g || !WIFEXITED(st))
			_exit(5);
		_exit(WEXITSTATUS(st));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		free(val);
		skip();     /* said as skipped: no time namespaces here */
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	free(val);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_client_forked_child,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_skips_own_nodes,
						setup, teardown),
#if !defined(__SANITIZE_THREAD__)
		/* Not under ThreadSanitizer: its runtime's own thread makes
		 * unshare(CLONE_NEWUSER) fail (EINVAL: not single-threaded),
		 * and the case has no threads to check; the plain and ASan
		 * tiers run it. */
		cmocka_unit_test(test_owner_in_another_time_ns),
#endif
		cmocka_unit_test_setup_teardown(test_client_store_lost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_store_lost, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_client_close_finds_store_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_steps_store_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_server_record_store_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_claim_landed_before_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channels_share_store,
						setup, teardown),
		cmocka_unit_test(test_fork_guard_waits_for_holder),
		cmocka_unit_test_setup_teardown(test_guard_nesting_caught,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_grant_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_old_open_logged_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_sweeps_in_turn,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_connects, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_client_offer_is_one_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_nothing_offered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_ring_grant_fails,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_offer_malformed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_used_offer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_hostile_page,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_reaps_dead_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_reap_best_effort, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_client_stale_or_bad_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_claim, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_client_setup_failures_release_once, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_server_reaps_dead_offers, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_server_publish_fails_release_once, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_offer_without_store,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_client_failures,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
