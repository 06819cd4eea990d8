/* SPDX-License-Identifier: MIT */
/* vipc-bench: a private xensim host for the channel transports.
 *
 * `xensim up` with XENSIM_DIR in a fresh temp folder, then two domains
 * (server, client) created before any worker runs, so that every
 * publication names a domain that exists; dom0 lets both read
 * @releaseDomain, as vipcd does.  For each transport this
 * program runs itself in both domains (`xensim exec DOM -- SELF worker
 * ...`); the client worker prints its result rows on stdout, collected
 * here.  `xensim down` and the folder's removal end it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct bench_xensim {
	char xensim[PATH_MAX];
	char self[PATH_MAX];
	char dir[PATH_MAX];
	unsigned dom_srv, dom_cli;
	bool up;                /* `up` was started: `down` at the end       */
};

/* Run argv; its stdout into out (NUL-terminated, may be NULL: to our
 * stderr); returns the exit status, or -errno if it could not run. */
static int run(char *const argv[], char *out, size_t outlen)
{
	int fds[2] = { -1, -1 }, st, r = 0;
	size_t got = 0;
	pid_t pid;

	if (out && pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	if (pid == 0) {
		if (out)
			dup2(fds[1], STDOUT_FILENO);
		else
			dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", BENCH_PROG,
			argv[0], strerror(errno));
		_exit(127);
	}
	if (out) {
		close(fds[1]);
		fds[1] = -1;
		for (;;) {
			ssize_t n = read(fds[0], out + got,
					 got + 1 < outlen ? outlen - got - 1 : 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		out[got] = '\0';
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			goto out;
		}
	r = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return r;
}

static bool executable(const char *p)
{
	return access(p, X_OK) == 0;
}

/* --xensim, $XENSIM, the build tree next to this program, the installed
 * program next to it, then PATH. */
static void find_xensim(struct bench_xensim *x, const char *given)
{
	char dir[PATH_MAX];
	const char *env = getenv("XENSIM");
	static const char *const rel[] = { "../hyp/sim/xensim",
					   "../../hyp/sim/xensim", "xensim" };
	char *slash;

	if (given || (env && *env)) {
		snprintf(x->xensim, sizeof(x->xensim), "%s", given ? given : env);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", x->self);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(x->xensim, sizeof(x->xensim), "%.*s/%s",
				 (int)(sizeof(dir) - 32), dir, rel[i]);
			if (executable(x->xensim))
				return;
		}
	}
	snprintf(x->xensim, sizeof(x->xensim), "xensim");
}

static int create(struct bench_xensim *x, const char *name, unsigned *domid)
{
	char cfg[PATH_MAX], out[256];
	char *argv[] = { x->xensim, "create", cfg, NULL };
	FILE *f;
	int r;

	snprintf(cfg, sizeof(cfg), "%.*s/%s.cfg", PATH_MAX - 64, x->dir, name);
	f = fopen(cfg, "w");
	if (!f)
		return -errno;
	fprintf(f, "name = \"%s\"\nmemory = 64\nvcpus = 1\n", name);
	if (fclose(f))
		return -errno;
	r = run(argv, out, sizeof(out));
	if (r != 0 || sscanf(out, "%u", domid) != 1) {
		bench_err("xensim create %s failed (status %d)", name, r);
		return -EIO;
	}
	return 0;
}

int bench_xensim_start(const char *xensim, struct bench_xensim **out)
{
	struct bench_xensim *x = calloc(1, sizeof(*x));
	const char *tmp = getenv("TMPDIR");
	char host[PATH_MAX], buf[512];
	char *up[] = { NULL, "up", NULL };
	ssize_t n;
	int r;

	if (!x)
		return -ENOMEM;
	n = readlink("/proc/self/exe", x->self, sizeof(x->self) - 1);
	if (n <= 0) {
		r = -errno;
		bench_err("cannot find this program (/proc/self/exe): %s",
			  strerror(-r));
		free(x);
		return r;
	}
	x->self[n] = '\0';
	find_xensim(x, xensim);
	snprintf(x->dir, sizeof(x->dir), "%s/vipc-bench.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(x->dir)) {
		r = -errno;
		bench_err("mkdtemp %s: %s", x->dir, strerror(-r));
		free(x);
		return r;
	}
	snprintf(host, sizeof(host), "%.*s/host", PATH_MAX - 8, x->dir);
	if (mkdir(host, 0700) < 0 || setenv("XENSIM_DIR", host, 1) < 0) {
		r = -errno;
		bench_err("%s: %s", host, strerror(-r));
		bench_xensim_stop(x);
		return r;
	}
	up[0] = x->xensim;
	/* Up from the moment `up` runs: interrupted after its daemon left
	 * on its own, only `down` (a no-op on a host not running) ends it. */
	x->up = true;
	r = run(up, buf, sizeof(buf));
	if (r == 127 || r < 0)
		x->up = false;  /* the program could not even be run */
	if (r != 0) {
		bench_err("'%s up' failed (status %d); give the program with --xensim or XENSIM",
			  x->xensim, r);
		bench_xensim_stop(x);
		return -EIO;
	}
	/* Both domains exist before either worker publishes anything. */
	r = create(x, "vipc-bench-srv", &x->dom_srv);
	if (!r)
		r = create(x, "vipc-bench-cli", &x->dom_cli);
	if (!r) {
		char a[16], b[16];
		char *grant[] = { x->xensim, "exec", "0", "--", x->self,
				  "grant-release", a, b, NULL };

		snprintf(a, sizeof(a), "%u", x->dom_srv);
		snprintf(b, sizeof(b), "%u", x->dom_cli);
		if (run(grant, NULL, 0) != 0) {
			bench_err("dom0 could not let the domains read @releaseDomain");
			r = -EIO;
		}
	}
	if (r) {
		bench_xensim_stop(x);
		return r;
	}
	*out = x;
	return 0;
}

void bench_xensim_describe(const struct bench_xensim *x, unsigned *a,
			   unsigned *b)
{
	*a = x ? x->dom_srv : 0;
	*b = x ? x->dom_cli : 0;
}

static pid_t spawn_worker(struct bench_xensim *x, const char *transport,
			  bool client, const struct bench_plan *p,
			  const char *tests_arg, int out_fd)
{
	char dom[16], srv[16], cli[16];
	char *argv[20];
	int k = 0;
	pid_t pid;

	snprintf(dom, sizeof(dom), "%u", client ? x->dom_cli : x->dom_srv);
	snprintf(srv, sizeof(srv), "%u", x->dom_srv);
	snprintf(cli, sizeof(cli), "%u", x->dom_cli);
	argv[k++] = x->xensim;
	argv[k++] = "exec";
	argv[k++] = dom;
	argv[k++] = "--";
	argv[k++] = x->self;
	argv[k++] = "worker";
	argv[k++] = (char *)transport;
	argv[k++] = client ? "client" : "server";
	argv[k++] = srv;
	argv[k++] = cli;
	if (p->tiny)
		argv[k++] = "--tiny";
	else if (p->quick)
		argv[k++] = "--quick";
	if (bench_verbose)
		argv[k++] = "--verbose";
	argv[k++] = "--layout";
	argv[k++] = (char *)bench_layout_name(bench_layout);
	if (tests_arg) {
		argv[k++] = "--tests";
		argv[k++] = (char *)tests_arg;
	}
	argv[k] = NULL;
	pid = fork();
	if (pid == 0) {
		dup2(out_fd, STDOUT_FILENO);
		execvp(argv[0], argv);
		dprintf(STDERR_FILENO, "%s: cannot run %s: %s\n", BENCH_PROG,
			argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Wait for pid up to ms (or for ever, ms < 0); its status or -ETIMEDOUT. */
static int wait_for(pid_t pid, int ms)
{
	int st;

	for (int t = 0; ms < 0 || t < ms; t += 10) {
		pid_t r = waitpid(pid, &st, ms < 0 ? 0 : WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
					       128 + WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (ms >= 0)
			usleep(10000);
	}
	return -ETIMEDOUT;
}

int bench_xensim_run(struct bench_xensim *x, const char *transport,
		     const struct bench_plan *p, const char *tests_arg,
		     struct bench_results *res)
{
	int fds[2], rows = 0, bad = 0, cst, sst;
	pid_t srv, cli;
	char buf[8192];
	size_t got = 0;
	FILE *in;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	srv = spawn_worker(x, transport, false, p, tests_arg, STDERR_FILENO);
	cli = srv > 0 ? spawn_worker(x, transport, true, p, tests_arg,
				     fds[1]) : -1;
	close(fds[1]);
	if (srv < 0 || cli < 0) {
		close(fds[0]);
		if (srv > 0)
			kill(srv, SIGTERM);
		return -errno;
	}
	in = fdopen(fds[0], "r");
	while (in && fgets(buf + got, (int)(sizeof(buf) - got), in)) {
		struct bench_row row;

		if (bench_row_parse(buf, &row) == 0) {
			if (bench_results_add(res, &row) == 0)
				rows++;
			if (bench_verbose)
				bench_row_emit(stderr, &row);
		} else {
			bad++;
			bench_err("%s worker: unexpected output: %s", transport,
				  buf);
		}
	}
	if (in)
		fclose(in);
	else
		close(fds[0]);
	if (bench_stop) {
		kill(cli, SIGTERM);
		kill(srv, SIGTERM);
	}
	cst = wait_for(cli, -1);
	/* The server ends right after the client; libxenvchan cannot time
	 * out on its own, so a server left blocked is told to stop. */
	sst = wait_for(srv, cst == 0 ? 30000 : 3000);
	if (sst == -ETIMEDOUT) {
		kill(srv, SIGTERM);
		sst = wait_for(srv, -1);
		bench_err("%s server worker did not end by itself", transport);
	}
	if (cst != 0 || sst != 0 || bad) {
		bench_err("%s workers failed (client status %d, server status %d); %d row(s) measured",
			  transport, cst, sst, rows);
		return -EIO;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void bench_xensim_stop(struct bench_xensim *x)
{
	if (!x)
		return;
	if (x->up) {
		char *down[] = { x->xensim, "down", NULL };
		char buf[512];

		if (run(down, buf, sizeof(buf)) != 0)
			bench_err("'%s down' failed; XENSIM_DIR=%s/host", x->xensim,
				  x->dir);
	}
	if (x->dir[0])
		nftw(x->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(x);
}
