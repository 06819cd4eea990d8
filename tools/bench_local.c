/* SPDX-License-Identifier: MIT */
/* vipc-bench: the peers on the host, measured with the same loops as the
 * channels (bench_loops.c).  Each measurement forks: the child is the
 * server (receiver, echo) on the first CPU we may use, the parent the
 * client on the second (split) or the first (same CPU).  Either end that
 * outlives the other ends its measurement with an error instead of
 * waiting for ever: each holds only its own descriptors (a read sees EOF,
 * a write EPIPE), the client's spinning loops and eventfd waits watch the
 * child, and the child dies with the parent (PR_SET_PDEATHSIG).
 *   pipe      two pipes (one per direction); for streams the pipe's
 *             capacity is set to the ring size (F_SETPIPE_SZ)
 *   unix      an AF_UNIX stream socket pair, default buffers
 *   eventfd   the 64 B message goes through a shared page, an eventfd per
 *             direction wakes the reader (round trip only)
 *   busypoll  the 64 B message sits in one shared cache line; the reader
 *             spins until its first word (a sequence stamp written last,
 *             with release order) changes: the lower bound (round trip,
 *             split only: spinning against a peer on the same CPU only
 *             measures the scheduler's time slice)
 *   ring      the bare ring of bench_ring.c: the channel's layout and
 *             wake-up barrier without the channel (split only, spins). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* --- byte streams over file descriptors ---------------------------------- */

struct fdio {
	int rfd, wfd;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR && !bench_stop)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR && !bench_stop)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fd_send(void *ctx, const void *buf, size_t len)
{
	return write_all(((struct fdio *)ctx)->wfd, buf, len);
}

static int fd_recv(void *ctx, void *buf, size_t len)
{
	return read_full(((struct fdio *)ctx)->rfd, buf, len);
}

static int fd_send_batch(void *ctx, const void *buf, size_t msg, size_t n)
{
	int r = write_all(((struct fdio *)ctx)->wfd, buf, msg * n);

	return r < 0 ? r : (int)n;
}

static int fd_recv_batch(void *ctx, void *buf, size_t msg, size_t n)
{
	int r = read_full(((struct fdio *)ctx)->rfd, buf, msg * n);

	return r < 0 ? r : (int)n;
}

/* --- eventfd: shared slot + eventfd per direction ------------------------- */

struct slot {
	uint8_t data[BENCH_RTT_SIZE];
} __attribute__((aligned(64)));

struct efdio {
	struct slot *out, *in;
	int wfd, rfd;
	pid_t peer;             /* the child, watched by the client         */
	bool gone;              /* it died: nothing more can come           */
};

/* An eventfd never sees EOF.  While the client waits for its child, the
 * child's SIGCHLD adds EFD_GONE to the eventfd the client reads, so that
 * the read returns whenever the child dies, even before the read began. */
#define EFD_GONE ((uint64_t)1 << 32)
static volatile int efd_wake = -1;

static void on_child(int sig)
{
	int saved = errno, fd = efd_wake;
	uint64_t v = EFD_GONE;
	ssize_t n = fd >= 0 ? write(fd, &v, sizeof(v)) : 0;

	(void)sig;
	(void)n;
	errno = saved;
}

static int efd_send(void *ctx, const void *buf, size_t len)
{
	struct efdio *e = ctx;
	uint64_t one = 1;

	memcpy(e->out->data, buf, len);
	return write(e->wfd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static int efd_recv(void *ctx, void *buf, size_t len)
{
	struct efdio *e = ctx;
	uint64_t v;

	for (;;) {
		if (e->gone)
			return -EPIPE;
		if (read(e->rfd, &v, sizeof(v)) == sizeof(v)) {
			/* Everything the child wrote before it died came
			 * with its EFD_GONE, in this read or an earlier one. */
			if (v >= EFD_GONE && e->peer > 0 && !bench_alive(e->peer))
				e->gone = true;
			if (v % EFD_GONE)
				break;
			continue;
		}
		if (errno != EINTR || bench_stop)
			return -errno;
	}
	memcpy(buf, e->in->data, len);
	return 0;
}

/* --- busy-poll: the message's first word is the flag ----------------------- */

struct pollio {
	struct slot *out, *in;
	uint64_t last;
	pid_t peer;             /* the child, watched by the client         */
};

static int poll_send(void *ctx, const void *buf, size_t len)
{
	struct pollio *b = ctx;
	uint64_t w;

	memcpy(b->out->data + 8, (const uint8_t *)buf + 8, len - 8);
	memcpy(&w, buf, 8);
	__atomic_store_n((uint64_t *)(void *)b->out->data, w, __ATOMIC_RELEASE);
	return 0;
}

static int poll_recv(void *ctx, void *buf, size_t len)
{
	struct pollio *b = ctx;
	uint64_t w;
	unsigned i = 0;
	int e;

	while ((w = __atomic_load_n((uint64_t *)(void *)b->in->data,
				    __ATOMIC_ACQUIRE)) == b->last) {
		__builtin_ia32_pause();
		if (++i % BENCH_SPIN_CHECK == 0 &&
		    (e = bench_peer_check(b->peer)) < 0)
			return e;
	}
	b->last = w;
	memcpy(buf, &w, 8);
	memcpy((uint8_t *)buf + 8, b->in->data + 8, len - 8);
	return 0;
}

/* --- one measurement --------------------------------------------------------- */

enum local_kind { L_PIPE, L_UNIX, L_EVENTFD, L_BUSYPOLL, L_RING };
static const char *const kind_names[] = { "pipe", "unix", "eventfd",
					  "busypoll", "ring" };

struct local_end {
	struct fdio fd;
	struct efdio efd;
	struct pollio bp;
	struct bench_io io;
};

/* Descriptors and shared pages of one measurement, both ends. */
struct local_setup {
	int c2s[2], s2c[2];     /* pipe/eventfd: [0] read, [1] write; unix: [0] */
	struct slot *slots;     /* shared: [0] client->server, [1] back         */
	void *ring_map;         /* ring: control page and both rings            */
	size_t ring, ring_len;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void teardown(struct local_setup *s)
{
	for (int i = 0; i < 2; i++) {
		close_fd(&s->c2s[i]);
		close_fd(&s->s2c[i]);
	}
	if (s->slots)
		munmap(s->slots, 4096);
	s->slots = NULL;
	if (s->ring_map)
		munmap(s->ring_map, s->ring_len);
	s->ring_map = NULL;
}

static int setup(enum local_kind k, size_t ring, struct local_setup *s)
{
	int r = 0;

	s->c2s[0] = s->c2s[1] = s->s2c[0] = s->s2c[1] = -1;
	s->slots = NULL;
	s->ring_map = NULL;
	switch (k) {
	case L_RING:
		/* Round trips: the ring vipc's round trips use. */
		s->ring = ring ? ring : BENCH_RTT_RING;
		s->ring_len = bench_ring_map_size(s->ring);
		s->ring_map = mmap(NULL, s->ring_len, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (s->ring_map == MAP_FAILED) {
			s->ring_map = NULL;
			r = -errno;
			bench_err("mmap of the bare ring: %s", strerror(-r));
		}
		break;
	case L_PIPE:
		if (pipe2(s->c2s, O_CLOEXEC) || pipe2(s->s2c, O_CLOEXEC)) {
			r = -errno;
			bench_err("pipe: %s", strerror(-r));
			break;
		}
		if (ring && fcntl(s->c2s[1], F_SETPIPE_SZ, (int)ring) < 0) {
			r = -errno;
			bench_err("pipe: cannot set its capacity to %zu bytes (F_SETPIPE_SZ): %s",
				  ring, strerror(-r));
		}
		break;
	case L_UNIX:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			       s->c2s)) {
			r = -errno;
			bench_err("socketpair(AF_UNIX): %s", strerror(-r));
		}
		break;
	case L_EVENTFD:
	case L_BUSYPOLL:
		s->slots = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (s->slots == MAP_FAILED) {
			s->slots = NULL;
			r = -errno;
			bench_err("mmap of the shared slots: %s", strerror(-r));
			break;
		}
		memset(s->slots, 0xff, 2 * sizeof(struct slot));
		if (k == L_EVENTFD) {
			s->c2s[0] = eventfd(0, EFD_CLOEXEC);
			s->s2c[0] = eventfd(0, EFD_CLOEXEC);
			if (s->c2s[0] < 0 || s->s2c[0] < 0) {
				r = -errno;
				bench_err("eventfd: %s", strerror(-r));
			}
		}
		break;
	}
	if (r)
		teardown(s);
	return r;
}

/* After the fork: close the other end's descriptors, so that ours see
 * EOF or EPIPE once that end is gone. */
static void keep_end(enum local_kind k, struct local_setup *s, bool client)
{
	if (k == L_PIPE) {
		close_fd(client ? &s->c2s[0] : &s->c2s[1]);
		close_fd(client ? &s->s2c[1] : &s->s2c[0]);
	} else if (k == L_UNIX) {
		close_fd(client ? &s->c2s[1] : &s->c2s[0]);
	}
}

/* peer: the child at the other end (client), 0 in the child. */
static int make_end(enum local_kind k, struct local_setup *s, bool client,
		    pid_t peer, struct local_end *e)
{
	memset(e, 0, sizeof(*e));
	switch (k) {
	case L_RING:
		return bench_ring_end(s->ring_map, s->ring, client, peer,
				      &e->io);
	case L_PIPE:
		e->fd.rfd = client ? s->s2c[0] : s->c2s[0];
		e->fd.wfd = client ? s->c2s[1] : s->s2c[1];
		break;
	case L_UNIX:
		e->fd.rfd = e->fd.wfd = client ? s->c2s[0] : s->c2s[1];
		break;
	case L_EVENTFD:
		e->efd.out = &s->slots[client ? 0 : 1];
		e->efd.in = &s->slots[client ? 1 : 0];
		e->efd.wfd = client ? s->c2s[0] : s->s2c[0];
		e->efd.rfd = client ? s->s2c[0] : s->c2s[0];
		e->efd.peer = peer;
		e->io = (struct bench_io){ &e->efd, efd_send, efd_recv, NULL,
					   NULL };
		return 0;
	case L_BUSYPOLL:
		e->bp.out = &s->slots[client ? 0 : 1];
		e->bp.in = &s->slots[client ? 1 : 0];
		e->bp.last = UINT64_MAX;
		e->bp.peer = peer;
		e->io = (struct bench_io){ &e->bp, poll_send, poll_recv, NULL,
					   NULL };
		return 0;
	}
	e->io = (struct bench_io){ &e->fd, fd_send, fd_recv, fd_send_batch,
				   fd_recv_batch };
	return 0;
}

/* The receiving end's fate, when it did not end well by itself. */
static void child_failed(enum local_kind k, int st)
{
	if (WIFEXITED(st))
		bench_err("%s: the receiving end failed (exit status %d)",
			  kind_names[k], WEXITSTATUS(st));
	else
		bench_err("%s: the receiving end was killed by signal %d",
			  kind_names[k], WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* The server end, in the child. */
static __attribute__((noreturn)) void serve(enum local_kind k,
					    const struct bench_plan *p,
					    const struct bench_spec *spec,
					    struct local_setup *s,
					    pid_t parent)
{
	struct local_end e;

	signal(SIGCHLD, SIG_DFL);
	/* A client killed outright leaves nobody to end a spinning or
	 * eventfd-waiting server: it goes with its parent. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	keep_end(k, s, false);
	if (bench_pin(bench_cpu(spec->placement, false)) < 0)
		_exit(1);
	if (make_end(k, s, false, 0, &e) < 0)
		_exit(1);
	_exit(bench_run_spec(&e.io, p, spec, false, NULL) ? 1 : 0);
}

static int measure(enum local_kind k, const struct bench_plan *p,
		   const struct bench_spec *spec, struct bench_results *res)
{
	struct local_setup s;
	struct local_end e;
	struct bench_row row = { .p99 = -1 };
	struct sigaction sa, old_sa;
	pid_t parent = getpid(), pid;
	bool died = false;
	int r, st = 0;

	if ((r = setup(k, spec->ring, &s)) < 0)
		return r;
	if (k == L_EVENTFD) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_child;
		sa.sa_flags = SA_NOCLDSTOP;
		efd_wake = s.s2c[0];
		sigaction(SIGCHLD, &sa, &old_sa);
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		bench_err("fork: %s", strerror(-r));
	} else if (pid == 0) {
		serve(k, p, spec, &s, parent);
	} else {
		keep_end(k, &s, true);
		r = bench_pin(bench_cpu(spec->placement, true));
		if (!r)
			r = make_end(k, &s, true, pid, &e);
		if (!r) {
			r = bench_run_spec(&e.io, p, spec, true, &row);
			if (k == L_RING)
				bench_ring_end_free(&e.io);
		}
		bench_unpin();
		if (r) {
			died = !bench_alive(pid);
			kill(pid, SIGKILL);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (k == L_EVENTFD) {
		sigaction(SIGCHLD, &old_sa, NULL);
		efd_wake = -1;
	}
	teardown(&s);
	if (pid < 0)
		return r;
	/* The child's own end is the news; SIGKILL after a failure is ours. */
	if ((!r || (died && !bench_stop)) &&
	    !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		child_failed(k, st);
		if (!r)
			r = -EPROTO;
	}
	if (r) {
		bench_err("%s %s %zu B: not measured", kind_names[k],
			  bench_test_name(spec->test), spec->size);
		return r;
	}
	snprintf(row.transport, sizeof(row.transport), "%s", kind_names[k]);
	if (k == L_RING)
		row.ring = s.ring;
	else if (k != L_PIPE)
		row.ring = 0;
	if (bench_verbose)
		bench_row_emit(stderr, &row);
	return bench_results_add(res, &row);
}

int bench_local_all(const struct bench_plan *p, const char *only,
		    struct bench_results *res)
{
	enum bench_placement stream_pl = p->split_ok ? BENCH_SPLIT : BENCH_SAME;
	int fails = 0;

	for (int k = L_PIPE; k <= L_RING; k++) {
		struct bench_spec specs[32];
		size_t n = 0;

		if (!bench_selected(only, kind_names[k]))
			continue;
		/* Spinning ends need a CPU each. */
		if (k == L_RING && !p->split_ok)
			continue;
		if (p->tests & 1u << BENCH_RTT) {
			if (p->split_ok)
				specs[n++] = (struct bench_spec){
					BENCH_RTT, BENCH_RTT_SIZE, 0,
					BENCH_SPLIT };
			if (k != L_BUSYPOLL && k != L_RING)
				specs[n++] = (struct bench_spec){
					BENCH_RTT, BENCH_RTT_SIZE, 0,
					BENCH_SAME };
		}
		for (int ri = 0; ri < BENCH_NRINGS; ri++) {
			size_t ring = bench_rings[ri];

			if (k == L_EVENTFD || k == L_BUSYPOLL)
				break;
			if (k == L_UNIX) {
				if (ri > 0)
					break;
				ring = 0;
			}
			for (int si = 0; si < BENCH_NSIZES; si++)
				if (p->tests & 1u << BENCH_STREAM)
					specs[n++] = (struct bench_spec){
						BENCH_STREAM, bench_sizes[si],
						ring, stream_pl };
			if (p->tests & 1u << BENCH_MSGS)
				specs[n++] = (struct bench_spec){
					BENCH_MSGS, BENCH_RTT_SIZE, ring,
					stream_pl };
		}
		for (size_t i = 0; i < n && !bench_stop; i++)
			if (measure((enum local_kind)k, p, &specs[i], res) < 0)
				fails++;
	}
	return bench_stop ? -EINTR : fails ? -EIO : 0;
}
