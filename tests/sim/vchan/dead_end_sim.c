/* SPDX-License-Identifier: MIT */
/* dead-end-sim: a channel whose peer process died stays dead, between two
 * domains: simulated (xensim: dead-end-sim.sh) or PV guests of real Xen
 * (tests/xen/scenarios/dead-end.sh), where the same interposed calls reach
 * Debian's libxengnttab and libxenstore.
 *
 *   dead-end-sim fork-server WHEN  offer a channel while another thread
 *                                  forks a child that lingers, at WHEN:
 *                                  "share" (inside gntalloc's share of the
 *                                  control page, before it returns) or
 *                                  "store" (at the first store transaction
 *                                  after it); once connected, send one
 *                                  message and die (SIGKILL).
 *   dead-end-sim fork-client       take that message; the next receive,
 *                                  with a 3 s timeout, must end with EPIPE:
 *                                  the child must not keep the dead
 *                                  server's share alive.
 *   dead-end-sim used-server       offer a channel; once connected, wait
 *                                  for dom0's data/conf/go, then receive:
 *                                  EPIPE, never a message.
 *   dead-end-sim used-client       client A (a child process) connects and
 *                                  starts a message larger than the ring;
 *                                  B (this process) is refused while A
 *                                  lives; A is killed mid-message; B's open
 *                                  of the same offer must fail with EPIPE,
 *                                  not take A's channel over.
 *
 * The peer's domid is read from data/conf/peer in our own home (dom0 writes
 * it).  Lines: VCHAN-OK / VCHAN-FAIL, VCHAN-READY <what>, and at the end
 * VCHAN-DONE failures=N. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xengnttab.h>
#include <xenstore.h>

#include <vipc/hyp.h>
#include <vipc/vchan.h>

#include "sim_ids.h"

#define PATH_FMT "/local/domain/%u/data/dead-end"
#define BIG (200u * 1024)        /* more than the 64 KiB ring */
#define LINGER_S 60              /* the forked child outlives the test */
#define SHARE_HOLD_MS 300        /* time for the fork to land in the share */
#define AFTER_DEATH_MS 3000      /* the client's receive after the death */
/* How long a client tries to open: the server's guest may take 20 s and
 * more to boot under emulation on a busy host (the real-Xen tier). */
#define OPEN_WAIT_MS 90000

static int failures;

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

#define OK(...) say("VCHAN-OK " __VA_ARGS__)
#define FAIL(...) (failures++, say("VCHAN-FAIL " __VA_ARGS__))

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Until dom0 writes data/conf/go in our home (60 s at most). */
static int wait_go(void)
{
	struct hyp_store *st;
	char *val = NULL;
	int r, i;

	if ((r = hyp_store_open(&st)) < 0)
		return r;
	for (i = 0; i < 600; i++) {
		r = hyp_store_read(st, HYP_TXN_NONE, "data/conf/go", &val,
				   NULL);
		free(val);
		val = NULL;
		if (r != -ENOENT)
			break;
		usleep(100000);
	}
	hyp_store_close(st);
	return r == -ENOENT ? -ETIMEDOUT : r;
}

static int server_open(unsigned peer, domid_t self, struct vchan **v)
{
	struct vchan_config cfg;
	char path[64];

	vchan_config_init(&cfg);
	cfg.name = "dead-end server";
	snprintf(path, sizeof(path), PATH_FMT, (unsigned)self);
	return vchan_server_open(&cfg, (int)peer, path, v);
}

/* ENOENT (not offered yet) and EBUSY (another client still holds it) are
 * worth another try, until `ms` passed. */
static int client_open(unsigned server, unsigned ms, struct vchan **v)
{
	struct vchan_config cfg;
	uint64_t end = now_ms() + ms;
	char path[64];
	int r;

	vchan_config_init(&cfg);
	cfg.name = "dead-end client";
	snprintf(path, sizeof(path), PATH_FMT, server);
	while ((r = vchan_client_open(&cfg, (int)server, path, v)) < 0 &&
	       (r == -ENOENT || r == -EBUSY) && now_ms() < end)
		usleep(100000);
	return r;
}

static int wait_connected(struct vchan *v)
{
	uint64_t end = now_ms() + OPEN_WAIT_MS;
	int r;

	while ((r = vchan_is_connected(v)) == 0 && now_ms() < end)
		usleep(10000);
	return r == 0 ? -ETIMEDOUT : r < 0 ? r : 0;
}

/* --- fork during the server's open --------------------------------------- */

/* Where the fork comes, as another thread of an application might fork.
 * Atomic: the library's watcher thread makes store calls too. */
enum { AT_NONE, AT_SHARE, AT_STORE };
static int fork_at;
static int page_shared;
static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fk_cv = PTHREAD_COND_INITIALIZER;
static bool fk_asked, fk_done;
static pid_t fk_child;

static void *forker(void *arg)
{
	pid_t p;

	(void)arg;
	pthread_mutex_lock(&fk_mu);
	while (!fk_asked)
		pthread_cond_wait(&fk_cv, &fk_mu);
	pthread_mutex_unlock(&fk_mu);
	/* Not under fk_mu: the library may hold fork() off meanwhile, and
	 * the thread that asked may want fk_mu. */
	p = fork();
	if (p == 0) {
		sleep(LINGER_S);
		_exit(0);
	}
	pthread_mutex_lock(&fk_mu);
	fk_child = p;
	fk_done = true;
	pthread_cond_broadcast(&fk_cv);
	pthread_mutex_unlock(&fk_mu);
	return NULL;
}

/* Ask the forker to fork; wait for it to have forked only if `wait`. */
static void ask_fork(bool wait)
{
	pthread_mutex_lock(&fk_mu);
	fk_asked = true;
	pthread_cond_broadcast(&fk_cv);
	while (wait && !fk_done)
		pthread_cond_wait(&fk_cv, &fk_mu);
	pthread_mutex_unlock(&fk_mu);
}

/* True once, for the first caller at `at`, the place asked for. */
static bool take_fork(int at)
{
	int want = at;

	return __atomic_compare_exchange_n(&fork_at, &want, AT_NONE, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* The library's share of the control page (it binds here: this program's
 * definition comes first), then the library's own. */
void *xengntshr_share_page_notify(xengntshr_handle *h, uint32_t domid,
				  uint32_t *ref, int writable,
				  uint32_t notify_offset,
				  evtchn_port_t notify_port)
{
	void *(*real)(xengntshr_handle *, uint32_t, uint32_t *, int, uint32_t,
		      evtchn_port_t);
	void *p;

	real = (void *(*)(xengntshr_handle *, uint32_t, uint32_t *, int,
			  uint32_t, evtchn_port_t))
	       dlsym(RTLD_NEXT, "xengntshr_share_page_notify");
	if (!real)
		return NULL;
	p = real(h, domid, ref, writable, notify_offset, notify_port);
	if (p && take_fork(AT_SHARE)) {
		/* Mapped, not yet returned: a fork() now copies the mapping
		 * unless the library holds it off. */
		ask_fork(false);
		usleep(SHARE_HOLD_MS * 1000);
	}
	if (p)
		__atomic_store_n(&page_shared, 1, __ATOMIC_RELEASE);
	return p;
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
	xs_transaction_t (*real)(struct xs_handle *);

	real = (xs_transaction_t (*)(struct xs_handle *))
	       dlsym(RTLD_NEXT, "xs_transaction_start");
	if (!real)
		return XBT_NULL;
	/* Shared, and now a store round trip: the fork lands here. */
	if (__atomic_load_n(&page_shared, __ATOMIC_ACQUIRE) &&
	    take_fork(AT_STORE))
		ask_fork(true);
	return real(h);
}

static void fork_server(unsigned peer, domid_t self, const char *when)
{
	struct timespec ts;
	struct vchan *v = NULL;
	pthread_t t;
	int r;

	__atomic_store_n(&fork_at, !strcmp(when, "share") ? AT_SHARE
							   : AT_STORE,
			 __ATOMIC_RELEASE);
	if (pthread_create(&t, NULL, forker, NULL) != 0) {
		FAIL("fork-%s: no forker thread", when);
		return;
	}
	r = server_open(peer, self, &v);
	if (r < 0) {
		FAIL("fork-%s: server open: %s", when, strerror(-r));
		return;
	}
	/* The forker may have waited for the open to let it fork. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&fk_mu);
	while (!fk_done && pthread_cond_timedwait(&fk_cv, &fk_mu, &ts) == 0)
		;
	pthread_mutex_unlock(&fk_mu);
	if (!fk_done) {
		FAIL("fork-%s: no fork during the open", when);
		return;
	}
	OK("fork-%s: another thread forked child %d during the open", when,
	   (int)fk_child);
	if ((r = wait_connected(v)) < 0) {
		FAIL("fork-%s: no client: %s", when, strerror(-r));
		return;
	}
	r = vchan_send(v, 1, 0, "hello", 5, 5000);
	if (r < 0)
		FAIL("fork-%s: send: %s", when, strerror(-r));
	say("VCHAN-READY dying");
	usleep(200000);
	raise(SIGKILL);
}

static void fork_client(unsigned server)
{
	char buf[64];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	struct vchan *v = NULL;
	uint64_t t0;
	int r;

	if ((r = client_open(server, OPEN_WAIT_MS, &v)) < 0) {
		FAIL("fork: client open: %s", strerror(-r));
		return;
	}
	r = vchan_recv(v, &m, 10000);
	if (r < 0 || m.len != 5 || memcmp(buf, "hello", 5)) {
		FAIL("fork: the server's message: %s", strerror(-r));
	} else {
		m.len = sizeof(buf);
		t0 = now_ms();
		r = vchan_recv(v, &m, AFTER_DEATH_MS);
		if (r == -EPIPE)
			OK("fork: the server's death seen in %llu ms",
			   (unsigned long long)(now_ms() - t0));
		else
			FAIL("fork: after the server's death a %d ms receive "
			     "gave %d (%s), not EPIPE: its forked child keeps "
			     "its page", AFTER_DEATH_MS, r, strerror(-r));
	}
	vchan_close(v);
}

/* --- an offer a killed client used ----------------------------------------- */

static void used_server(unsigned peer, domid_t self)
{
	static char buf[2 * BIG];
	struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };
	size_t a = 0, b = 0, i;
	struct vchan *v = NULL;
	int r, before = failures;

	if ((r = server_open(peer, self, &v)) < 0) {
		FAIL("used: server open: %s", strerror(-r));
		return;
	}
	if ((r = wait_connected(v)) < 0) {
		FAIL("used: no client: %s", strerror(-r));
		vchan_close(v);
		return;
	}
	/* Not a look at the channel until the clients are done: what the
	 * second client's open does must not hang on this end seeing the
	 * first one's death. */
	say("VCHAN-READY connected");
	if ((r = wait_go()) < 0) {
		FAIL("used: no go from dom0: %s", strerror(-r));
		vchan_close(v);
		return;
	}
	for (int k = 0; k < 2; k++) {
		m.len = sizeof(buf);
		r = vchan_recv(v, &m, 5000);
		if (r == -EPIPE)
			continue;
		if (r < 0) {
			FAIL("used: receive %d gave %s, not EPIPE", k,
			     strerror(-r));
			continue;
		}
		for (i = 0; i < m.len; i++) {
			a += buf[i] == 'A';
			b += buf[i] == 'B';
		}
		FAIL("used: received a message of %zu bytes (%zu from the "
		     "killed client, %zu from the next one), not EPIPE",
		     m.len, a, b);
	}
	if (failures == before)
		OK("used: the killed client's channel ended with EPIPE");
	vchan_close(v);
}

/* Client A: connect, say so on `fd`, and send more than the ring holds. */
static void client_a(unsigned server, int fd)
{
	static char buf[BIG];
	struct vchan *v = NULL;
	char c;
	int r = client_open(server, OPEN_WAIT_MS, &v);

	c = r == 0 ? 'o' : 'x';
	if (write(fd, &c, 1) != 1 || r < 0)
		_exit(1);
	memset(buf, 'A', sizeof(buf));
	(void)vchan_send(v, 1, 0, buf, sizeof(buf), -1);
	pause();
	_exit(0);
}

static void used_client(unsigned server)
{
	static char buf[BIG];
	struct vchan *v = NULL;
	int p[2], r;
	pid_t a;
	char c = 0;

	if (pipe(p) < 0) {
		FAIL("used: pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	a = fork();
	if (a < 0) {
		FAIL("used: fork: %s", strerror(errno));
		return;
	}
	if (a == 0)
		client_a(server, p[1]);
	close(p[1]);
	if (read(p[0], &c, 1) != 1 || c != 'o') {
		FAIL("used: client A could not connect");
		kill(a, SIGKILL);
		waitpid(a, NULL, 0);
		return;
	}
	close(p[0]);
	/* The offer is A's while A lives. */
	r = client_open(server, 0, &v);
	if (r == -EBUSY)
		OK("used: a second client is refused while the first lives");
	else
		FAIL("used: a second client's open gave %d (%s) while the "
		     "first lives, not EBUSY", r, strerror(-r));
	if (r == 0)
		vchan_close(v);
	/* A fills the ring and blocks mid-message; then it is killed. */
	usleep(500000);
	kill(a, SIGKILL);
	waitpid(a, NULL, 0);
	r = client_open(server, 3000, &v);
	say("VCHAN-READY b-tried");
	if (r == -EPIPE) {
		OK("used: the killed client's offer refused: EPIPE");
		return;
	}
	FAIL("used: the killed client's offer gave %d (%s), not EPIPE", r,
	     strerror(-r));
	if (r < 0)
		return;
	/* Taken over: what the server now receives shows it. */
	memset(buf, 'B', sizeof(buf));
	(void)vchan_send(v, 2, 0, buf, sizeof(buf), 10000);
	(void)vchan_flush(v, 10000);
	vchan_close(v);
}

int main(int argc, char **argv)
{
	unsigned peer = 0;
	domid_t self = 0;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: dead-end-sim fork-server share|store | "
			"fork-client | used-server | used-client\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((r = sim_ids(&self, &peer)) < 0) {
		FAIL("our and the peer's domid: %s", strerror(-r));
	} else if (!strcmp(argv[1], "fork-server") && argc > 2 &&
		   (!strcmp(argv[2], "share") || !strcmp(argv[2], "store"))) {
		fork_server(peer, self, argv[2]);
	} else if (!strcmp(argv[1], "fork-client")) {
		fork_client(peer);
	} else if (!strcmp(argv[1], "used-server")) {
		used_server(peer, self);
	} else if (!strcmp(argv[1], "used-client")) {
		used_client(peer);
	} else {
		fprintf(stderr, "dead-end-sim: unknown mode %s\n", argv[1]);
		return 2;
	}
	say("VCHAN-DONE failures=%d", failures);
	return failures != 0;
}
