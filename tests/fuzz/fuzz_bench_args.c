/* SPDX-License-Identifier: MIT */
/* libFuzzer target: what vipc-bench reads from others (tools/bench_util.c).
 * The input is taken whole as a file of result rows (`vipc-bench ratios`
 * reads those that workers and local runs printed), and up to its first
 * NUL as the argument of --tests, of --transports and as a domain id.
 *
 * Every row read must round-trip: bench_row_emit() then bench_row_parse()
 * gives the same row (the times to the six digits a row carries, so that a
 * second emit prints the same line).  A file with a bad ROW line is refused
 * with a message naming it.  An option list is accepted exactly when each
 * of its comma-separated names is known, there is one, and the list is
 * not over its length (127 characters for --tests, 255 for --transports),
 * and then gives the set it names; a domain id exactly when it is decimal digits below
 * 0x7ff0, and then gives their value; each refusal says why on stderr.
 * A violation abort()s. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
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

static void emit(const struct bench_row *r, char *buf, size_t len)
{
	FILE *f = fmemopen(buf, len, "w");

	if (!f)
		abort();
	bench_row_emit(f, r);
	fclose(f);
}

/* The same time, as far as "%.6g" keeps it. */
static bool same_time(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (isinf(a) || isinf(b))
		return a == b;
	return fabs(a - b) <= 1e-5 * fabs(a);
}

static void check_row(const struct bench_row *r)
{
	char line[256], again[256];
	struct bench_row r2;
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
	if (strcmp(r->transport, r2.transport) || r->test != r2.test ||
	    r->size != r2.size || r->ring != r2.ring ||
	    r->placement != r2.placement ||
	    !same_time(r->median, r2.median) || !same_time(r->p99, r2.p99))
		FAIL("row changed on its way through %s", line);
	emit(&r2, again, sizeof(again));
	if (strcmp(line, again))
		FAIL("row printed as %s then as %s", line, again);
}

static void rows(const uint8_t *data, size_t size)
{
	struct bench_results res = { 0 };
	FILE *f;
	const char *msg;
	int r;

	if (!size)
		return;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		abort();
	cap_begin();
	r = bench_read_rows(f, "rows.txt", &res);
	msg = cap_end();
	fclose(f);
	if (r && r != -EBADMSG && r != -ENOMEM)
		FAIL("bench_read_rows: %d", r);
	if (r == -EBADMSG && !strstr(msg, "rows.txt:"))
		FAIL("bad row refused without naming the file: '%s'", msg);
	if (!r && msg[0])
		FAIL("rows accepted with a message: '%s'", msg);
	for (size_t i = 0; i < res.n; i++)
		check_row(&res.rows[i]);
	bench_results_free(&res);
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
