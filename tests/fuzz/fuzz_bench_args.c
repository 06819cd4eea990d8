/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what vipc-bench reads from others (tools/bench_util.c).
 * The input is taken whole as a file of result rows (`vipc-bench ratios`
 * reads those that workers and local runs printed), and up to its first
 * NUL as the argument of --tests, of --transports and as a domain id.
 *
 * A line is a row exactly when a reference reading (ref_row) takes it:
 * eight blank-separated fields and nothing after them, "ROW" first, a
 * transport of 1-15 characters, known test and placement names, sizes in
 * decimal digits that fit, times that strtod takes whole; and the row then
 * holds what the fields say.  Every row must round-trip: bench_row_emit()
 * then bench_row_parse() gives the identical row, its times exactly what
 * "%.6g" keeps of them, and a second emit prints the identical line.  A
 * file is read as its lines: the rows of those that are rows, in order,
 * and refused with a message naming it when a line that starts "ROW " is
 * not one.  Fixed cases run first (LLVMFuzzerInitialize).  An option list is accepted exactly when each
 * of its comma-separated names is known, there is one, and the list is
 * not over its length (127 characters for --tests, 255 for --transports),
 * and then gives the set it names; a domain id exactly when it is decimal digits below
 * 0x7ff0, and then gives their value; each refusal says why on stderr.
 * A violation abort()s. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "fuzz_stderr.h"

#define FAIL(...) do { \
	cap_end(); \
	fprintf(stderr, "fuzz_bench_args: " __VA_ARGS__); \
	fputc('\n', stderr); \
	abort(); \
} while (0)

/* --- rows ------------------------------------------------------------------ */

/* The same double, bit for bit (a NaN's sign too). */
static bool same_bits(double a, double b)
{
	return !memcmp(&a, &b, sizeof(a));
}

/* What a row carries of a time: "%.6g" of it, read back. */
static double six_digits(double v)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.6g", v);
	return strtod(buf, NULL);
}

static bool same_row(const struct bench_row *a, const struct bench_row *b)
{
	return !strcmp(a->transport, b->transport) && a->test == b->test &&
	       a->size == b->size && a->ring == b->ring &&
	       a->placement == b->placement &&
	       same_bits(a->median, b->median) && same_bits(a->p99, b->p99);
}

/* --- the reference reading of a line --------------------------------------- */

static int ref_index(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static bool ref_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

static bool ref_time(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return end != s && !*end;
}

/* The row line (NUL-terminated) holds, or false. */
static bool ref_row(const char *line, struct bench_row *r)
{
	static const char *const tests[] = { "rtt", "stream", "stream-msgs" };
	static const char *const places[] = { "split", "same-cpu" };
	char *copy = strdup(line), *tok[9] = { 0 }, *save = NULL, *t;
	unsigned n = 0;
	bool ok;
	int ti = -1, pi = -1;

	if (!copy)
		abort();
	/* Every isspace() byte separates, as a blank does. */
	for (t = strtok_r(copy, " \t\n\v\f\r", &save); t && n < 9;
	     t = strtok_r(NULL, " \t\n\v\f\r", &save))
		tok[n++] = t;
	memset(r, 0, sizeof(*r));
	ok = n == 8 && tok[0] == copy && !strcmp(tok[0], "ROW") &&
	     strlen(tok[1]) < sizeof(r->transport);
	if (ok) {
		ti = ref_index(tok[2], tests, 3);
		pi = ref_index(tok[5], places, 2);
		ok = ti >= 0 && pi >= 0 && ref_size(tok[3], &r->size) &&
		     ref_size(tok[4], &r->ring) &&
		     ref_time(tok[6], &r->median) && ref_time(tok[7], &r->p99);
	}
	if (ok) {
		snprintf(r->transport, sizeof(r->transport), "%s", tok[1]);
		r->test = (enum bench_test)ti;
		r->placement = (enum bench_placement)pi;
	}
	free(copy);
	return ok;
}

/* --- one line, then a file of them ----------------------------------------- */

static void emit(const struct bench_row *r, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	if (!f)
		abort();
	bench_row_emit(f, r);
	fclose(f);
}

static void check_row(const struct bench_row *r)
{
	char line[256], again[256];
	struct bench_row r2, r3, want = *r;
	size_t n = strnlen(r->transport, sizeof(r->transport));

	if (n == 0 || n == sizeof(r->transport))
		FAIL("row with an empty or unterminated transport");
	for (size_t i = 0; i < n; i++)
		if (isspace((unsigned char)r->transport[i]))
			FAIL("transport '%s' holds a blank", r->transport);
	if ((unsigned)r->test > BENCH_MSGS ||
	    (unsigned)r->placement > BENCH_SAME)
		FAIL("row with test %d, placement %d", (int)r->test,
		     (int)r->placement);
	emit(r, line, sizeof(line));
	if (bench_row_parse(line, &r2) < 0)
		FAIL("emitted row does not parse: %s", line);
	want.median = six_digits(r->median);
	want.p99 = six_digits(r->p99);
	if (!same_row(&r2, &want))
		FAIL("row changed on its way through %s", line);
	emit(&r2, again, sizeof(again));
	if (strcmp(line, again))
		FAIL("row printed as %s then as %s", line, again);
	if (bench_row_parse(again, &r3) < 0 || !same_row(&r2, &r3))
		FAIL("row changed on its second way through %s", again);
}

/* One line (NUL-terminated): bench_row_parse() takes it exactly when the
 * reference does, and then gives the row the reference read.  Returns
 * whether it is a row. */
static bool check_line(const char *line, struct bench_row *out)
{
	struct bench_row got, want;
	bool ok = ref_row(line, &want);
	int r = bench_row_parse(line, &got);

	if (r && r != -EINVAL)
		FAIL("bench_row_parse: %d", r);
	if (ok != !r)
		FAIL("line %s: '%.300s'", r ? "refused" : "accepted", line);
	if (!ok)
		return false;
	if (!same_row(&got, &want))
		FAIL("line '%.300s' read as ROW %s %d %zu %zu %d %g %g", line,
		     got.transport, (int)got.test, got.size, got.ring,
		     (int)got.placement, got.median, got.p99);
	check_row(&got);
	*out = got;
	return true;
}

static void rows(const uint8_t *data, size_t size)
{
	struct bench_results res = { 0 }, want = { 0 };
	const uint8_t *at = data, *end = data + size;
	bool bad = false;
	FILE *f;
	const char *msg;
	int r;

	if (!size)
		return;
	/* The lines as bench_read_rows must see them. */
	while (at < end) {
		const uint8_t *nl = memchr(at, '\n', (size_t)(end - at));
		size_t len = nl ? (size_t)(nl - at) + 1 : (size_t)(end - at);
		char *line = strndup((const char *)at, len);
		const char *p;
		struct bench_row row;

		if (!line)
			abort();
		p = line + strspn(line, " \t");
		if (!strncmp(p, "ROW ", 4)) {
			if (memchr(at, '\0', len) || !check_line(p, &row))
				bad = true;
			else if (bench_results_add(&want, &row) < 0)
				abort();
		}
		free(line);
		at += len;
	}
	f = fmemopen((void *)data, size, "r");
	if (!f)
		abort();
	cap_begin();
	r = bench_read_rows(f, "rows.txt", &res);
	msg = cap_end();
	fclose(f);
	if (r && r != -EBADMSG && r != -ENOMEM)
		FAIL("bench_read_rows: %d", r);
	if (r != -ENOMEM && (r == -EBADMSG) != bad)
		FAIL("file %s", bad ? "with a bad row accepted" : "refused");
	if (r == -EBADMSG && !strstr(msg, "rows.txt:"))
		FAIL("bad row refused without naming the file: '%s'", msg);
	if (!r && msg[0])
		FAIL("rows accepted with a message: '%s'", msg);
	if (r != -ENOMEM && res.n != want.n)
		FAIL("%zu rows read, the file has %zu", res.n, want.n);
	for (size_t i = 0; i < res.n && i < want.n; i++)
		if (!same_row(&res.rows[i], &want.rows[i]))
			FAIL("row %zu read otherwise than its line says", i + 1);
	bench_results_free(&res);
	bench_results_free(&want);
}

/* --- option lists and domain ids --------------------------------------------- */

/* Which of names[] the comma-separated list s names (bit i for names[i]);
 * -1 when it names something else or nothing, or is longer than max. */
static long ref_set(const char *s, const char *const *names, unsigned n,
		    size_t max)
{
	long set = 0;

	if (strlen(s) > max)
		return -1;
	while (*s) {
		size_t len = strcspn(s, ",");
		unsigned i;

		if (len) {
			for (i = 0; i < n; i++)
				if (strlen(names[i]) == len &&
				    !strncmp(s, names[i], len))
					break;
			if (i == n)
				return -1;
			set |= 1l << i;
		}
		s += len + (s[len] == ',');
	}
	return set ? set : -1;
}

static void tests(const char *s)
{
	static const char *const names[] = { "rtt", "stream", "stream-msgs" };
	long want = ref_set(s, names, 3, 127);
	unsigned mask = 0;
	const char *msg;
	int r;

	cap_begin();
	r = bench_parse_tests(s, &mask);
	msg = cap_end();
	if (r && r != -EINVAL)
		FAIL("bench_parse_tests: %d", r);
	if (want < 0 && !r)
		FAIL("--tests '%s' accepted (mask %#x)", s, mask);
	if (want >= 0 && r)
		FAIL("--tests '%s' refused: %s", s, msg);
	if (!r && mask != (unsigned)want)
		FAIL("--tests '%s' gave mask %#x, not %#lx", s, mask, want);
	if (r && !strstr(msg, BENCH_PROG ": "))
		FAIL("--tests '%s' refused without a message", s);
}

static void transports(const char *s)
{
	static const char *const names[] = { "vipc", "libxenvchan", "pipe",
		"unix", "eventfd", "busypoll", "ring", "memcpy" };
	long want = ref_set(s, names, 8, 255);
	const char *msg;
	int r;

	cap_begin();
	r = bench_check_transports(s);
	msg = cap_end();
	if (r && r != -EINVAL)
		FAIL("bench_check_transports: %d", r);
	if ((want < 0) != (r < 0))
		FAIL("--transports '%s' %s", s, r ? "refused" : "accepted");
	if (r && !strstr(msg, BENCH_PROG ": "))
		FAIL("--transports '%s' refused without a message", s);
	/* What the runs then select by (bench_selected). */
	for (unsigned i = 0; !r && i < 8; i++)
		if (bench_selected(s, names[i]) != !!(want & (1l << i)))
			FAIL("--transports '%s' %s %s", s,
			     want & (1l << i) ? "does not select" : "selects",
			     names[i]);
}

static void domid(const char *s)
{
	unsigned long want = 0;
	unsigned got = 0;
	bool ok = *s;
	const char *msg;
	int r;

	for (const char *p = s; *p && ok; p++) {
		ok = *p >= '0' && *p <= '9';
		want = want * 10 + (unsigned long)(*p - '0');
		if (want >= 0x7ff0)
			ok = false;
	}
	cap_begin();
	r = bench_parse_domid(s, &got);
	msg = cap_end();
	if (r && r != -EINVAL)
		FAIL("bench_parse_domid: %d", r);
	if (ok != !r)
		FAIL("domain id '%s' %s", s, r ? "refused" : "accepted");
	if (!r && got != want)
		FAIL("domain id '%s' read as %u", s, got);
	if (r && !strstr(msg, "bad domain id"))
		FAIL("domain id '%s' refused without a message", s);
}

/* --- fixed cases --------------------------------------------------------------- */

/* Lines an earlier parser (sscanf) read wrong, and their neighbours that
 * are rows: checked against the reference as any input is, and against
 * what is known of them, so the reference cannot drift either. */
static const struct {
	const char *line;
	bool row;
} fixed[] = {
	{ "ROW vipc rtt 64 65536 split 1.5 2.25\n", true },
	{ "ROW pipe stream 4096 0 same-cpu 3.14159265 -1\r\n", true },
	{ "ROW aaaaaaaaaaaaaaa rtt 64 0 split 1 2", true },
	/* "%15s" cut this transport into "aaaaaaaaaaaaaaa" and "rtt". */
	{ "ROW aaaaaaaaaaaaaaartt 64 0 split 1 2", false },
	{ "ROW vipc rtt 64 0 split 1 2 junk", false },
	{ "ROW vipc rtt 64 0 split 1 2x", false },
	{ "ROW vipc rtt 64 0 split 1 2 3", false },
	{ "ROW vipc rtt -1 0 split 1 2", false },
	{ "ROW vipc rtt 18446744073709551616 0 split 1 2", false },
	{ "ROWvipc rtt 64 0 split 1 2 3", false },
	{ "ROW vipc rtt 64 0 split 1", false },
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* One line longer than bench_read_rows' old 512-byte buffer: its
	 * tail, a row by itself, was read as a second row. */
	static char longline[700];
	struct bench_results res = { 0 };
	struct bench_row row;
	FILE *f;
	int r;

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (check_line(fixed[i].line, &row) != fixed[i].row)
			FAIL("fixed line '%s' %s", fixed[i].line,
			     fixed[i].row ? "refused" : "accepted");
	snprintf(longline, sizeof(longline), "%-600s%s",
		 "ROW vipc rtt 64 0 split 1 2", "ROW pipe rtt 64 0 split 1 2\n");
	rows((const uint8_t *)longline, strlen(longline));
	f = fmemopen(longline, strlen(longline), "r");
	if (!f)
		abort();
	cap_begin();
	r = bench_read_rows(f, "rows.txt", &res);
	cap_end();
	fclose(f);
	if (r != -EBADMSG || res.n)
		FAIL("a 630-character line read as %zu row(s) (%d)", res.n, r);
	bench_results_free(&res);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	rows(data, size);
	s = strndup((const char *)data, size);
	if (!s)
		return 0;
	tests(s);
	transports(s);
	domid(s);
	free(s);
	return 0;
}
