/* SPDX-License-Identifier: MIT */
/* vipc-bench: shared declarations.
 *
 * bench_util.c    clock, quantiles, CPU pinning, data pattern, result rows,
 *                 option lists and domain ids
 * bench_plan.c    what a run measures (sizes, rings, iterations, passes)
 * bench_loops.c   round-trip and streaming loops over a message interface
 * bench_local.c   the peers on the host: pipe, AF_UNIX, eventfd, busy-poll
 * bench_memcpy.c  single-thread memcpy
 * bench_vipc.c    a vipc (libvchan-cap) end inside a simulated domain
 * bench_xenvchan.c a Debian libxenvchan end inside a simulated domain
 * bench_xensim.c  the private xensim host and the worker processes
 * bench_report.c  the table, the ratios, the targets and the JSON
 * bench_main.c    command line
 * All functions return 0 (or a count) on success and -errno on failure. */
#ifndef VIPC_TOOLS_BENCH_H
#define VIPC_TOOLS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BENCH_PROG "vipc-bench"

/* --- util ---------------------------------------------------------------- */

uint64_t bench_now_ns(void);
/* Sorts v in place; the q-quantile (0..1), nearest rank. */
double bench_quantile(double *v, size_t n, double q);
double bench_median(double *v, size_t n);
/* Remember the affinity the process started with (call once, first). */
void bench_affinity_save(void);
/* Pin the calling thread to one CPU; bench_unpin() restores the saved set. */
int bench_pin(int cpu);
int bench_unpin(void);
int bench_ncpus(void);
/* CPU k (0: the first) of the saved set; its first when it has fewer. */
int bench_allowed_cpu(int k);
/* Is child pid still running (not exited, not yet reaped)? */
bool bench_alive(pid_t pid);
/* For a loop that spins on shared memory, every few thousand spins:
 * -EINTR once a signal asked us to stop, -EPIPE when the child peer
 * (0: none to watch) has exited, else 0. */
#define BENCH_SPIN_CHECK 4096u
int bench_peer_check(pid_t peer);
/* Log a line to stderr, prefixed with the program name. */
void bench_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int bench_verbose;
/* vipc's layout (VCHAN_LAYOUT_*; --layout): the server's choice, handed
 * to the workers; the bare ring follows it too. */
extern int bench_layout;
int bench_layout_parse(const char *name);
const char *bench_layout_name(int layout);

/* Data pattern: message seq of a pass.  The first 8 bytes carry seq (so the
 * receiver can check order cheaply); the rest is a function of seq. */
void bench_fill(void *buf, size_t len, uint64_t seq);
/* 0 when buf is exactly what bench_fill(seq) wrote, else -EBADMSG. */
int bench_check(const void *buf, size_t len, uint64_t seq);
void bench_stamp(void *buf, size_t len, uint64_t seq);
/* 0 when the stamp is seq, else -EBADMSG. */
int bench_check_stamp(const void *buf, size_t len, uint64_t seq);

/* --- results ------------------------------------------------------------- */

enum bench_placement { BENCH_SPLIT = 0, BENCH_SAME = 1 };
enum bench_test { BENCH_RTT = 0, BENCH_STREAM = 1, BENCH_MSGS = 2 };

struct bench_row {
	char transport[16];     /* vipc libxenvchan pipe unix eventfd ...     */
	enum bench_test test;
	size_t size;            /* message bytes                               */
	size_t ring;            /* bytes; 0: not applicable (JSON null)        */
	enum bench_placement placement;
	double median;
	double p99;             /* < 0: not applicable (JSON null)             */
};

struct bench_results {
	struct bench_row *rows;
	size_t n, cap;
};

const char *bench_test_name(enum bench_test t);
const char *bench_test_unit(enum bench_test t);
const char *bench_placement_name(enum bench_placement p);
int bench_results_add(struct bench_results *res, const struct bench_row *row);
void bench_results_free(struct bench_results *res);
/* The row a worker prints to its stdout, one line, and its parser. */
void bench_row_emit(FILE *f, const struct bench_row *row);
int bench_row_parse(const char *line, struct bench_row *row);
/* Add the rows of f (lines starting "ROW ", leading blanks allowed; name
 * for messages); -EBADMSG after a ROW line that does not parse. */
int bench_read_rows(FILE *f, const char *name, struct bench_results *res);
const struct bench_row *bench_find(const struct bench_results *res,
				   const char *transport, enum bench_test t,
				   size_t size, size_t ring,
				   enum bench_placement p);
/* --rounds: at most this many whole runs; their rows merged into out,
 * each the median of the rounds' medians (and of their p99s). */
#define BENCH_ROUNDS_MAX 20
int bench_results_merge(const struct bench_results *per, unsigned n,
			struct bench_results *out);

/* --- plan ---------------------------------------------------------------- */

#define BENCH_RTT_SIZE 64u
#define BENCH_BATCH 64u
#define BENCH_NSIZES 4
#define BENCH_NRINGS 2
extern const size_t bench_sizes[BENCH_NSIZES];
extern const size_t bench_rings[BENCH_NRINGS];
#define BENCH_RTT_RING ((size_t)65536)

struct bench_plan {
	bool quick;
	bool tiny;              /* smaller still: emulated CPUs (check-xen)    */
	bool split_ok;          /* at least two CPUs                           */
	unsigned tests;         /* mask of 1u << enum bench_test               */
	long rtt_iters, rtt_warmup;
	int reps;               /* timed streaming passes (median of them)     */
	uint64_t stream_small;  /* bytes per pass, 64 B messages               */
	uint64_t stream_large;  /* bytes per pass, 4 KiB and up                */
	uint64_t verify_bytes;  /* the untimed, fully checked first pass       */
	uint64_t batch_msgs;    /* messages per stream-msgs pass               */
	uint64_t pass_ns;       /* later passes last at least this long        */
};

void bench_plan_init(struct bench_plan *p, bool quick);
/* The --tiny run: a quick plan cut down for emulated machines (real Xen
 * under QEMU's TCG), where --quick would take minutes. */
void bench_plan_tiny(struct bench_plan *p);
uint64_t bench_stream_bytes(const struct bench_plan *p, size_t size);

/* One measurement over a two-domain channel. */
struct bench_spec {
	enum bench_test test;
	size_t size;
	size_t ring;
	enum bench_placement placement;
};
/* The measurements of a channel transport, in order; both worker ends
 * compute the same list.  Returns the count (at most max). */
size_t bench_channel_specs(const struct bench_plan *p, struct bench_spec *out,
			   size_t max);
/* CPU of each end for a placement: the server (receiver) on the first
 * CPU the program was allowed, the client on the second (split) or the
 * first (same CPU). */
int bench_cpu(enum bench_placement p, bool client);

/* --- loops --------------------------------------------------------------- */

/* One side of a message transport.  send(): one whole message; recv():
 * exactly len bytes of one message (a framed transport fails with -EPROTO
 * on another length).  send_batch(): up to n messages of msg bytes laid
 * out back to back in buf, returns how many went (>= 1); recv_batch():
 * up to n, returns how many came (>= 1). */
struct bench_io {
	void *ctx;
	int (*send)(void *ctx, const void *buf, size_t len);
	int (*recv)(void *ctx, void *buf, size_t len);
	int (*send_batch)(void *ctx, const void *buf, size_t msg, size_t n);
	int (*recv_batch)(void *ctx, void *buf, size_t msg, size_t n);
};

/* Round trip of BENCH_RTT_SIZE bytes: the client times each; the server
 * echoes.  Results in microseconds. */
int bench_rtt_client(const struct bench_io *io, const struct bench_plan *p,
		     double *median_us, double *p99_us);
int bench_rtt_server(const struct bench_io *io, const struct bench_plan *p);
/* One-way stream of messages of size bytes: the client sends, the server
 * receives and checks, then acknowledges each pass.  GB/s, median of the
 * timed passes. */
int bench_stream_client(const struct bench_io *io, const struct bench_plan *p,
			size_t size, double *gbps);
int bench_stream_server(const struct bench_io *io, const struct bench_plan *p,
			size_t size);
/* 64 B messages in batches of BENCH_BATCH.  Million messages per second. */
int bench_msgs_client(const struct bench_io *io, const struct bench_plan *p,
		      double *mmsgs);
int bench_msgs_server(const struct bench_io *io, const struct bench_plan *p);
/* Run one spec on either end; the client fills row. */
int bench_run_spec(const struct bench_io *io, const struct bench_plan *p,
		   const struct bench_spec *s, bool client,
		   struct bench_row *row);

/* --- peers on the host --------------------------------------------------- */

int bench_local_all(const struct bench_plan *p, const char *only,
		    struct bench_results *res);
/* The bare ring (bench_ring.c): the shared mapping's size for rings of
 * `ring` bytes, and one end over it (zeroed mapping, both ends alike);
 * peer: the child process at the other end, whose exit ends a wait with
 * -EPIPE (0: none to watch). */
size_t bench_ring_map_size(size_t ring);
int bench_ring_end(void *map, size_t ring, bool client, pid_t peer,
		   struct bench_io *io);
void bench_ring_end_free(struct bench_io *io);
/* How many times each direction of such an end stored its index. */
void bench_ring_pubs(const struct bench_io *io, uint64_t *tx, uint64_t *rx);
int bench_memcpy_all(const struct bench_plan *p, struct bench_results *res);
/* Is transport t selected by the comma-separated list only (NULL: all)? */
bool bench_selected(const char *only, const char *t);
/* --transports: 0 when every name of the comma-separated list is a
 * transport (and there is one), else -EINVAL with a message. */
int bench_check_transports(const char *s);
/* --tests "rtt,stream" -> mask of 1u << enum bench_test; -EINVAL with a
 * message on an unknown name or none. */
int bench_parse_tests(const char *s, unsigned *mask);
/* A domain id in decimal, below DOMID_FIRST_RESERVED; -EINVAL with a
 * message otherwise. */
int bench_parse_domid(const char *s, unsigned *out);

/* --- channel transports in simulated domains ----------------------------- */

/* Worker entry points: run every spec of the plan as one end. */
int bench_vipc_worker(const struct bench_plan *p, bool client,
		      unsigned server_domid, unsigned client_domid);
int bench_xenvchan_worker(const struct bench_plan *p, bool client,
			  unsigned server_domid, unsigned client_domid);
/* xenstore rendezvous shared by both: the path of spec i and waiting for
 * a server's publication. */
void bench_xs_path(char *buf, size_t len, const char *transport,
		   unsigned server_domid, size_t i);
int bench_xs_wait(const char *path, int timeout_ms);
/* In dom0: let domains a and b read @releaseDomain (as vipcd does). */
int bench_grant_release(unsigned a, unsigned b);
/* Domain ids from the store, for a worker on a real hypervisor where they
 * are known only once the domains exist: *self from the relative node
 * "domid", *peer from "data/conf/peer" in our own home (written by dom0
 * once both domains exist), waited for up to timeout_ms.  Either pointer
 * may be NULL. */
int bench_store_domids(unsigned *self, unsigned *peer, int timeout_ms);

struct bench_xensim;
/* Start a private xensim host (XENSIM_DIR in a temp folder) with two
 * domains.  xensim: the program, or NULL to search for it. */
int bench_xensim_start(const char *xensim, struct bench_xensim **out);
/* Run both worker ends of transport in the two domains, add the rows. */
int bench_xensim_run(struct bench_xensim *x, const char *transport,
		     const struct bench_plan *p, const char *tests_arg,
		     struct bench_results *res);
void bench_xensim_describe(const struct bench_xensim *x, unsigned *a,
			   unsigned *b);
void bench_xensim_stop(struct bench_xensim *x);
/* Set from a signal handler: stop as soon as possible. */
extern volatile int bench_stop;

/* --- report -------------------------------------------------------------- */

struct bench_meta {
	const struct bench_plan *plan;
	int ncpus;
	unsigned dom_server, dom_client;
	const char *command;
	char date[32];
	int failures;
	unsigned rounds;        /* runs merged (--rounds)                     */
};
void bench_report_table(FILE *f, const struct bench_results *res,
			const struct bench_meta *m);
void bench_report_json(FILE *f, const struct bench_results *res,
		       const struct bench_meta *m);
/* The ratio table of bench_report_table() alone, for rows gathered
 * elsewhere (`vipc-bench ratios`).  cross: where a peer has no row of the
 * vipc row's placement, compare with its row of the other placement,
 * marked with '*'. */
void bench_report_ratios(FILE *f, const struct bench_results *res, bool cross);
/* The round-trip and throughput tables of bench_report_table(). */
void bench_report_values(FILE *f, const struct bench_results *res);

#endif
