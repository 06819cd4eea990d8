/* SPDX-License-Identifier: MIT */
/* vipc-bench: clock, quantiles, pinning, data pattern, result rows. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vipc/vchan.h>

#include "bench.h"

int bench_verbose;
int bench_layout = VCHAN_LAYOUT_LINES;

int bench_layout_parse(const char *name)
{
	if (!strcmp(name, "lines"))
		bench_layout = VCHAN_LAYOUT_LINES;
	else if (!strcmp(name, "xenvchan"))
		bench_layout = VCHAN_LAYOUT_XENVCHAN;
	else
		return -EINVAL;
	return 0;
}

const char *bench_layout_name(int layout)
{
	return layout == VCHAN_LAYOUT_LINES ? "lines" : "xenvchan";
}
volatile int bench_stop;

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_quantile(double *v, size_t n, double q)
{
	size_t i;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	/* Nearest rank: the smallest sample with at least q of them <= it. */
	i = (size_t)(q * (double)n + 0.999999);
	if (i > 0)
		i--;
	return v[i < n ? i : n - 1];
}

double bench_median(double *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static cpu_set_t saved_set;
static int saved_ok;

void bench_affinity_save(void)
{
	saved_ok = sched_getaffinity(0, sizeof(saved_set), &saved_set) == 0;
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		int e = errno;

		bench_err("cannot pin to CPU %d: %s", cpu, strerror(e));
		return -e;
	}
	return 0;
}

int bench_unpin(void)
{
	if (!saved_ok)
		return 0;
	return sched_setaffinity(0, sizeof(saved_set), &saved_set) < 0 ?
	       -errno : 0;
}

int bench_ncpus(void)
{
	if (!saved_ok)
		bench_affinity_save();
	return saved_ok ? CPU_COUNT(&saved_set) : 1;
}

int bench_allowed_cpu(int k)
{
	int first = -1;

	if (!saved_ok)
		bench_affinity_save();
	if (!saved_ok)
		return 0;
	/* Only CPUs we were given: a cpuset or taskset may leave out CPU 0. */
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &saved_set))
			continue;
		if (first < 0)
			first = c;
		if (k-- == 0)
			return c;
	}
	return first < 0 ? 0 : first;
}

int bench_peer_check(pid_t peer)
{
	if (bench_stop)
		return -EINTR;
	return peer > 0 && !bench_alive(peer) ? -EPIPE : 0;
}

bool bench_alive(pid_t pid)
{
	siginfo_t si;

	/* WNOWAIT: the caller still reaps it (and reads its status). */
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == EINTR;
	return si.si_pid == 0;
}

void bench_err(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write, so that lines of several processes do not interleave. */
	dprintf(STDERR_FILENO, "%s: %s\n", BENCH_PROG, line);
}

/* --- data pattern --------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return x;
}

void bench_stamp(void *buf, size_t len, uint64_t seq)
{
	memcpy(buf, &seq, len < 8 ? len : 8);
}

int bench_check_stamp(const void *buf, size_t len, uint64_t seq)
{
	uint64_t got = 0;

	memcpy(&got, buf, len < 8 ? len : 8);
	if (len < 8)
		seq &= (1ull << (8 * len)) - 1;
	return got == seq ? 0 : -EBADMSG;
}

/* Word i (from byte 8 on) of message seq. */
static inline uint64_t word(uint64_t base, size_t i)
{
	return base + (uint64_t)i * 0xd1b54a32d192ed03ull;
}

void bench_fill(void *buf, size_t len, uint64_t seq)
{
	uint8_t *p = buf;
	uint64_t base = mix64(seq + 1), w;
	size_t i;

	bench_stamp(buf, len, seq);
	for (i = 8; i < len; i += 8) {
		w = word(base, i / 8);
		memcpy(p + i, &w, len - i < 8 ? len - i : 8);
	}
}

int bench_check(const void *buf, size_t len, uint64_t seq)
{
	const uint8_t *p = buf;
	uint64_t base = mix64(seq + 1), w;
	size_t i;

	if (bench_check_stamp(buf, len, seq))
		return -EBADMSG;
	for (i = 8; i < len; i += 8) {
		w = word(base, i / 8);
		if (memcmp(p + i, &w, len - i < 8 ? len - i : 8))
			return -EBADMSG;
	}
	return 0;
}

/* --- result rows ---------------------------------------------------------- */

static const char *const test_names[] = { "rtt", "stream", "stream-msgs" };
static const char *const test_units[] = { "us", "GB/s", "Mmsg/s" };
static const char *const placement_names[] = { "split", "same-cpu" };

const char *bench_test_name(enum bench_test t)
{
	return test_names[t];
}

const char *bench_test_unit(enum bench_test t)
{
	return test_units[t];
}

const char *bench_placement_name(enum bench_placement p)
{
	return placement_names[p];
}

int bench_results_add(struct bench_results *res, const struct bench_row *row)
{
	if (res->n == res->cap) {
		size_t cap = res->cap ? res->cap * 2 : 64;
		struct bench_row *r = realloc(res->rows, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		res->rows = r;
		res->cap = cap;
	}
	res->rows[res->n++] = *row;
	return 0;
}

void bench_results_free(struct bench_results *res)
{
	free(res->rows);
	res->rows = NULL;
	res->n = res->cap = 0;
}

void bench_row_emit(FILE *f, const struct bench_row *r)
{
	fprintf(f, "ROW %s %s %zu %zu %s %.6g %.6g\n", r->transport,
		bench_test_name(r->test), r->size, r->ring,
		bench_placement_name(r->placement), r->median, r->p99);
	fflush(f);
}

/* The next blank-separated field of a row from *p: its start; *len 0 when
 * the line has no more. */
static const char *row_field(const char **p, size_t *len)
{
	const char *s = *p;
	size_t n = 0;

	while (isspace((unsigned char)*s))
		s++;
	while (s[n] && !isspace((unsigned char)s[n]))
		n++;
	*len = n;
	*p = s + n;
	return s;
}

/* Index of the field among names[], or -1. */
static int row_name(const char *f, size_t len, const char *const *names,
		    int n)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && !memcmp(f, names[i], len))
			return i;
	return -1;
}

/* Decimal digits only: sscanf's %zu took a sign ("-1" as SIZE_MAX). */
static int row_size(const char *f, size_t len, size_t *out)
{
	size_t v = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(f[i] - '0');

		if (d > 9 || v > (SIZE_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* The whole field is the number (strtod stops at a blank, never past). */
static int row_time(const char *f, size_t len, double *out)
{
	char *end;

	*out = strtod(f, &end);
	return end == f + len ? 0 : -EINVAL;
}

/* Field by field rather than sscanf: "%15s" cut a longer transport into
 * two fields, and nothing checked what followed the last one. */
int bench_row_parse(const char *line, struct bench_row *r)
{
	const char *f[8];
	size_t len[8];
	const char *p = line;
	size_t more;
	int t, pl;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 8; i++) {
		f[i] = row_field(&p, &len[i]);
		if (!len[i])
			return -EINVAL;
	}
	row_field(&p, &more);
	if (more || f[0] != line || len[0] != 3 || memcmp(line, "ROW", 3) ||
	    len[1] >= sizeof(r->transport))
		return -EINVAL;
	t = row_name(f[2], len[2], test_names, 3);
	pl = row_name(f[5], len[5], placement_names, 2);
	if (t < 0 || pl < 0 || row_size(f[3], len[3], &r->size) ||
	    row_size(f[4], len[4], &r->ring) ||
	    row_time(f[6], len[6], &r->median) ||
	    row_time(f[7], len[7], &r->p99)) {
		memset(r, 0, sizeof(*r));
		return -EINVAL;
	}
	memcpy(r->transport, f[1], len[1]);
	r->test = (enum bench_test)t;
	r->placement = (enum bench_placement)pl;
	return 0;
}

int bench_read_rows(FILE *f, const char *name, struct bench_results *res)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0, lineno = 0;

	/* Whole lines however long: a fixed buffer read a long one as two, and
	 * its tail could pass for a row of its own. */
	while ((n = getline(&line, &cap, f)) > 0) {
		char *p = line + strspn(line, " \t");
		struct bench_row row;

		lineno++;
		if (strncmp(p, "ROW ", 4))
			continue;
		/* A NUL would hide the rest of the line from the parser. */
		if (memchr(line, '\0', (size_t)n) || bench_row_parse(p, &row) < 0) {
			line[strcspn(line, "\r\n")] = '\0';
			fprintf(stderr, "%s: %s:%d: not a result row: %.200s%s\n",
				BENCH_PROG, name, lineno, p,
				strlen(p) > 200 ? "..." : "");
			r = -EBADMSG;
			continue;
		}
		if (bench_results_add(res, &row) < 0) {
			free(line);
			return -ENOMEM;
		}
	}
	free(line);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s: read error\n", BENCH_PROG, name);
		return -EIO;
	}
	/* getline fails short of the end only when out of memory. */
	if (!feof(f))
		return -ENOMEM;
	return r;
}

const struct bench_row *bench_find(const struct bench_results *res,
				   const char *transport, enum bench_test t,
				   size_t size, size_t ring,
				   enum bench_placement p)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_row *r = &res->rows[i];

		if (!strcmp(r->transport, transport) && r->test == t &&
		    r->size == size && r->ring == ring && r->placement == p)
			return r;
	}
	return NULL;
}

int bench_results_merge(const struct bench_results *per, unsigned n,
			struct bench_results *out)
{
	double med[BENCH_ROUNDS_MAX], p99[BENCH_ROUNDS_MAX];

	*out = (struct bench_results){ 0 };
	if (n > BENCH_ROUNDS_MAX)
		return -EINVAL;
	for (unsigned k = 0; k < n; k++) {
		for (size_t i = 0; i < per[k].n; i++) {
			struct bench_row row = per[k].rows[i];
			size_t nm = 0, np = 0;

			/* Rows are merged where they first appear. */
			if (bench_find(out, row.transport, row.test, row.size,
				       row.ring, row.placement))
				continue;
			for (unsigned j = k; j < n; j++) {
				const struct bench_row *r =
					bench_find(&per[j], row.transport,
						   row.test, row.size, row.ring,
						   row.placement);

				if (!r)
					continue;
				med[nm++] = r->median;
				if (r->p99 >= 0)
					p99[np++] = r->p99;
			}
			row.median = bench_median(med, nm);
			row.p99 = np ? bench_median(p99, np) : -1;
			if (bench_results_add(out, &row) < 0) {
				bench_results_free(out);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

bool bench_selected(const char *only, const char *t)
{
	size_t n = strlen(t);
	const char *s = only;

	if (!only)
		return true;
	while ((s = strstr(s, t))) {
		if ((s == only || s[-1] == ',') && (s[n] == ',' || !s[n]))
			return true;
		s += n;
	}
	return false;
}

/* --- option lists and domain ids ------------------------------------------ */

static const char *const all_transports[] = { "vipc", "libxenvchan", "pipe",
	"unix", "eventfd", "busypoll", "ring", "memcpy" };

/* "rtt,stream" -> mask; -EINVAL on an unknown name. */
int bench_parse_tests(const char *s, unsigned *mask)
{
	char buf[128], *save = NULL, *tok;

	*mask = 0;
	/* Cut, its tail would go unchecked. */
	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "%s: --tests list too long (at most %zu characters)\n",
			BENCH_PROG, sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int t;

		for (t = 0; t < 3 && strcmp(tok, bench_test_name(t)); t++)
			;
		if (t == 3) {
			fprintf(stderr, "%s: unknown test '%s' (rtt, stream, stream-msgs)\n",
				BENCH_PROG, tok);
			return -EINVAL;
		}
		*mask |= 1u << t;
	}
	if (!*mask) {
		fprintf(stderr, "%s: --tests '%s' names no test (rtt, stream, stream-msgs)\n",
			BENCH_PROG, s);
		return -EINVAL;
	}
	return 0;
}

int bench_check_transports(const char *s)
{
	char buf[256], *save = NULL, *tok;
	int n = 0;

	if (strlen(s) >= sizeof(buf)) {
		fprintf(stderr, "%s: --transports list too long (at most %zu characters)\n",
			BENCH_PROG, sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(all_transports) / sizeof(all_transports[0]); i++)
			if (!strcmp(tok, all_transports[i]))
				break;
		if (i == sizeof(all_transports) / sizeof(all_transports[0])) {
			fprintf(stderr, "%s: unknown transport '%s'\n",
				BENCH_PROG, tok);
			return -EINVAL;
		}
		n++;
	}
	/* An empty list would measure nothing and still say all went well. */
	if (!n) {
		fprintf(stderr, "%s: --transports '%s' names no transport\n",
			BENCH_PROG, s);
		return -EINVAL;
	}
	return 0;
}

int bench_parse_domid(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	/* Digits only: strtoul would also take blanks and a sign (so that
	 * "-18446744073709551615" read as 1). */
	errno = 0;
	v = strtoul(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno || *end || v >= 0x7ff0) {
		fprintf(stderr, "%s: bad domain id '%s'\n", BENCH_PROG, s);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}
