/* SPDX-License-Identifier: MIT */
/* vipc-bench: the readable table (with ratios and targets) and the JSON. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const char *const peers[] = { "libxenvchan", "busypoll", "eventfd",
				     "pipe", "unix", "ring", "memcpy" };
#define NPEERS (sizeof(peers) / sizeof(peers[0]))

/* The peer row a vipc row is compared with: same test, size, placement
 * and ring (or the peer's only ring-less row); memcpy: a 1 MiB copy. */
static const struct bench_row *peer_row(const struct bench_results *res,
					const char *peer,
					const struct bench_row *v)
{
	const struct bench_row *r;

	if (!strcmp(peer, "memcpy"))
		return v->test == BENCH_STREAM ?
		       bench_find(res, peer, BENCH_STREAM, 1u << 20, 0,
				  BENCH_SAME) : NULL;
	r = bench_find(res, peer, v->test, v->size, v->ring, v->placement);
	if (!r)
		r = bench_find(res, peer, v->test, v->size, 0, v->placement);
	return r;
}

/* peer_row(), or with cross the peer's row of the other placement when it
 * has none of v's (*crossed then says so). */
static const struct bench_row *peer_row_x(const struct bench_results *res,
					  const char *peer,
					  const struct bench_row *v,
					  bool cross, bool *crossed)
{
	const struct bench_row *r = peer_row(res, peer, v);
	struct bench_row other;

	*crossed = false;
	if (r || !cross || !strcmp(peer, "memcpy"))
		return r;
	other = *v;
	other.placement = v->placement == BENCH_SPLIT ? BENCH_SAME :
							BENCH_SPLIT;
	r = peer_row(res, peer, &other);
	*crossed = r != NULL;
	return r;
}

static const char *size_str(size_t n, char *buf, size_t len)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, len, "%zu MiB", n >> 20);
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(buf, len, "%zu KiB", n >> 10);
	else if (n)
		snprintf(buf, len, "%zu B", n);
	else
		snprintf(buf, len, "-");
	return buf;
}

/* --- targets -------------------------------------------------------------- */

struct target {
	char name[96];
	double value, peer, ratio, limit;
	bool at_most;          /* ratio <= limit (else >=)                    */
	bool met;
	bool measured;
};

static void add(struct target *t, size_t max, size_t *n,
		const struct bench_row *v, const struct bench_row *p,
		double lim, bool most, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));

static void add(struct target *t, size_t max, size_t *n,
		const struct bench_row *v, const struct bench_row *p,
		double lim, bool most, const char *fmt, ...)
{
	struct target *x;
	va_list ap;

	if (*n >= max)
		return;
	x = &t[(*n)++];
	va_start(ap, fmt);
	vsnprintf(x->name, sizeof(x->name), fmt, ap);
	va_end(ap);
	x->measured = v && p;
	x->value = v ? v->median : NAN;
	x->peer = p ? p->median : NAN;
	x->limit = lim;
	x->at_most = most;
	x->ratio = x->measured ? x->value / x->peer : NAN;
	x->met = x->measured && (most ? x->ratio <= lim : x->ratio >= lim);
}

static size_t targets(const struct bench_results *res, struct target *t,
		      size_t max)
{
	size_t n = 0;
	char a[24], b[24];

	{
		const struct bench_row *v = bench_find(res, "vipc", BENCH_RTT,
			BENCH_RTT_SIZE, BENCH_RTT_RING, BENCH_SPLIT);

		add(t, max, &n, v, bench_find(res, "busypoll", BENCH_RTT, BENCH_RTT_SIZE,
				  0, BENCH_SPLIT), 1.5, true,
		    "64 B round trip, split: vipc <= 1.5x busypoll");
		v = bench_find(res, "vipc", BENCH_RTT, BENCH_RTT_SIZE,
			       BENCH_RTT_RING, BENCH_SAME);
		add(t, max, &n, v, bench_find(res, "eventfd", BENCH_RTT, BENCH_RTT_SIZE,
				  0, BENCH_SAME), 1.2, true,
		    "64 B round trip, same CPU: vipc <= 1.2x eventfd");
	}
	for (int ri = 0; ri < BENCH_NRINGS; ri++)
		for (int si = 1; si < BENCH_NSIZES; si++) {
			const struct bench_row *v = NULL;

			for (int pl = 0; pl < 2 && !v; pl++)
				v = bench_find(res, "vipc", BENCH_STREAM,
					       bench_sizes[si], bench_rings[ri],
					       (enum bench_placement)pl);
			add(t, max, &n, v, bench_find(res, "memcpy", BENCH_STREAM, 1u << 20,
					  0, BENCH_SAME), 0.6, false,
			    "stream %s, ring %s: vipc >= 0.6x memcpy 1 MiB",
			    size_str(bench_sizes[si], a, sizeof(a)),
			    size_str(bench_rings[ri], b, sizeof(b)));
		}
	for (int ri = 0; ri < BENCH_NRINGS; ri++) {
		const struct bench_row *v = NULL;
		static const struct bench_row floor_row = { .median = 25.0 };

		for (int pl = 0; pl < 2 && !v; pl++)
			v = bench_find(res, "vipc", BENCH_MSGS, BENCH_RTT_SIZE,
				       bench_rings[ri],
				       (enum bench_placement)pl);
		add(t, max, &n, v, &floor_row, 1.0, false,
		    "64 B batched, ring %s: vipc >= 25 Mmsg/s",
		    size_str(bench_rings[ri], b, sizeof(b)));
	}
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_row *v = &res->rows[i], *x;

		if (strcmp(v->transport, "vipc"))
			continue;
		x = bench_find(res, "libxenvchan", v->test, v->size, v->ring,
			       v->placement);
		if (v->test == BENCH_RTT)
			add(t, max, &n, v, x, 0.5, true,
			    "64 B round trip, %s: vipc <= 0.5x libxenvchan",
			    bench_placement_name(v->placement));
		else
			add(t, max, &n, v, x, 2.0, false,
			    "%s %s, ring %s: vipc >= 2x libxenvchan",
			    bench_test_name(v->test),
			    size_str(v->size, a, sizeof(a)),
			    size_str(v->ring, b, sizeof(b)));
	}
	return n < max ? n : max;
}

/* --- table --------------------------------------------------------------- */

static void num(FILE *f, int w, double v, int prec)
{
	if (isnan(v) || v < 0)
		fprintf(f, "%*s", w, "-");
	else
		fprintf(f, "%*.*f", w, prec, v);
}

static void rtt_table(FILE *f, const struct bench_results *res)
{
	static const char *const order[] = { "vipc", "libxenvchan",
		"busypoll", "eventfd", "pipe", "unix", "ring" };

	fprintf(f, "64 B round trip, us        split median       p99   same-cpu median       p99\n");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct bench_row *s = bench_find(res, order[i], BENCH_RTT,
			BENCH_RTT_SIZE, 0, BENCH_SPLIT);
		const struct bench_row *c = bench_find(res, order[i], BENCH_RTT,
			BENCH_RTT_SIZE, 0, BENCH_SAME);

		if (!s)
			s = bench_find(res, order[i], BENCH_RTT, BENCH_RTT_SIZE,
				       BENCH_RTT_RING, BENCH_SPLIT);
		if (!c)
			c = bench_find(res, order[i], BENCH_RTT, BENCH_RTT_SIZE,
				       BENCH_RTT_RING, BENCH_SAME);
		if (!s && !c)
			continue;
		fprintf(f, "  %-24s", order[i]);
		num(f, 14, s ? s->median : NAN, 2);
		num(f, 10, s ? s->p99 : NAN, 2);
		num(f, 18, c ? c->median : NAN, 2);
		num(f, 10, c ? c->p99 : NAN, 2);
		fprintf(f, "\n");
	}
}

static void stream_table(FILE *f, const struct bench_results *res)
{
	static const char *const order[] = { "vipc", "libxenvchan", "pipe",
		"unix", "ring", "memcpy" };
	char a[24];

	fprintf(f, "One-way throughput, GB/s   ring      64 B     4 KiB    64 KiB     1 MiB   64 B batched, Mmsg/s\n");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		for (int ri = -1; ri < BENCH_NRINGS; ri++) {
			size_t ring = ri < 0 ? 0 : bench_rings[ri];
			bool any = false;
			const struct bench_row *r[BENCH_NSIZES], *m = NULL;
			enum bench_placement pl = BENCH_SPLIT;

			for (int tries = 0; tries < 2 && !any; tries++) {
				pl = (enum bench_placement)tries;
				for (int si = 0; si < BENCH_NSIZES; si++) {
					r[si] = bench_find(res, order[i],
						BENCH_STREAM, bench_sizes[si],
						ring, pl);
					any |= r[si] != NULL;
				}
				m = bench_find(res, order[i], BENCH_MSGS,
					       BENCH_RTT_SIZE, ring, pl);
				any |= m != NULL;
			}
			if (!any)
				continue;
			fprintf(f, "  %-24s %-7s", order[i],
				size_str(ring, a, sizeof(a)));
			for (int si = 0; si < BENCH_NSIZES; si++)
				num(f, 10, r[si] ? r[si]->median : NAN, 2);
			num(f, 23, m ? m->median : NAN, 1);
			fprintf(f, "\n");
		}
	}
}

static void ratio_table(FILE *f, const struct bench_results *res, bool cross)
{
	char a[24], b[24];
	bool any_crossed = false;

	fprintf(f, "vipc / peer (median over median; > 1 means vipc is slower for round trips, faster for throughput)\n");
	fprintf(f, "  %-34s", "vipc row");
	for (size_t k = 0; k < NPEERS; k++)
		fprintf(f, "%12s", peers[k]);
	fprintf(f, "\n");
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_row *v = &res->rows[i];
		char label[64];

		if (strcmp(v->transport, "vipc"))
			continue;
		snprintf(label, sizeof(label), "%s %s %s ring %s",
			 bench_test_name(v->test),
			 size_str(v->size, a, sizeof(a)),
			 bench_placement_name(v->placement),
			 size_str(v->ring, b, sizeof(b)));
		fprintf(f, "  %-34s", label);
		for (size_t k = 0; k < NPEERS; k++) {
			bool crossed;
			const struct bench_row *p = peer_row_x(res, peers[k], v,
							       cross, &crossed);
			double q = p && p->median > 0 ? v->median / p->median :
						       NAN;

			if (crossed && !isnan(q)) {
				num(f, 11, q, 2);
				fputc('*', f);
				any_crossed = true;
			} else {
				num(f, 12, q, 2);
			}
		}
		fprintf(f, "\n");
	}
	fprintf(f, "  (memcpy: against one thread copying 1 MiB; pipe: same pipe capacity as the ring; unix: default buffers)\n");
	if (any_crossed)
		fprintf(f, "  (*: the peer has no row of this placement; compared with its row of the other one)\n");
}

void bench_report_ratios(FILE *f, const struct bench_results *res, bool cross)
{
	ratio_table(f, res, cross);
}

void bench_report_values(FILE *f, const struct bench_results *res)
{
	rtt_table(f, res);
	fprintf(f, "\n");
	stream_table(f, res);
}

void bench_report_table(FILE *f, const struct bench_results *res,
			const struct bench_meta *m)
{
	struct target t[64];
	size_t nt = targets(res, t, 64), met = 0, measured = 0;
	const struct bench_plan *p = m->plan;
	int srv_cpu = bench_cpu(BENCH_SAME, false);
	char where[96];

	fprintf(f, "vipc-bench channel  %s  %d CPUs  %s run: %ld round trips (+%ld warm-up), %d timed passes per stream\n",
		m->date, m->ncpus,
		p->tiny ? "tiny" : p->quick ? "quick" : "full", p->rtt_iters,
		p->rtt_warmup, p->reps);
	if (m->rounds > 1)
		fprintf(f, "%u rounds, every transport measured in each: each figure is the median of the rounds' figures\n",
			m->rounds);
	fprintf(f, "vipc and libxenvchan: server (receiver) in xensim domain %u on CPU %d, client in domain %u on CPU %d (split) or %d (same-cpu)\n",
		m->dom_server, srv_cpu, m->dom_client,
		bench_cpu(BENCH_SPLIT, true), srv_cpu);
	fprintf(f, "vipc and the bare ring: indices in the %s layout (--layout)\n\n",
		bench_layout_name(bench_layout));
	rtt_table(f, res);
	fprintf(f, "\n");
	stream_table(f, res);
	if (p->split_ok)
		snprintf(where, sizeof(where), "sender on CPU %d, receiver on CPU %d",
			 bench_cpu(BENCH_SPLIT, true), srv_cpu);
	else
		snprintf(where, sizeof(where), "both ends on CPU %d", srv_cpu);
	fprintf(f, "  (streams: %s; memcpy: one thread on CPU %d, message-sized buffers)\n\n",
		where, srv_cpu);
	ratio_table(f, res, false);
	fprintf(f, "\nTargets\n");
	for (size_t i = 0; i < nt; i++) {
		const char *state = !t[i].measured ? "n/a " :
				    t[i].met ? "met " : "MISS";

		measured += t[i].measured;
		met += t[i].met;
		fprintf(f, "  [%s] %-56s", state, t[i].name);
		if (t[i].measured) {
			fprintf(f, " %8.3g / %-8.3g = %5.2fx", t[i].value,
				t[i].peer, t[i].ratio);
			if (!t[i].met)
				fprintf(f, "  (off by %.0f%%)",
					100.0 * fabs(t[i].ratio / t[i].limit - 1));
		}
		fprintf(f, "\n");
	}
	fprintf(f, "  %zu of %zu measured targets met", met, measured);
	if (m->failures)
		fprintf(f, "; %d measurement group(s) FAILED (see above)",
			m->failures);
	fprintf(f, "\n");
}

/* --- JSON ----------------------------------------------------------------- */

static void jnum(FILE *f, double v)
{
	if (isnan(v) || isinf(v) || v < 0)
		fprintf(f, "null");
	else
		fprintf(f, "%.6g", v);
}

/* The transports the JSON's results and ratios may name (its consumers'
 * contract); rows of any other (the bare ring) go to extra_results and
 * extra_ratios, of the same shape. */
static bool in_contract(const char *transport)
{
	static const char *const contract[] = { "vipc", "libxenvchan", "pipe",
		"unix", "eventfd", "busypoll", "memcpy" };

	for (size_t i = 0; i < sizeof(contract) / sizeof(contract[0]); i++)
		if (!strcmp(transport, contract[i]))
			return true;
	return false;
}

static void json_rows(FILE *f, const char *key, const struct bench_results *res,
		      bool contract)
{
	const char *sep = "";

	fprintf(f, " \"%s\": [", key);
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_row *r = &res->rows[i];

		if (in_contract(r->transport) != contract)
			continue;
		fprintf(f, "%s\n  {\"transport\": \"%s\", \"test\": \"%s\", \"size\": %zu, \"ring\": ",
			sep, r->transport, bench_test_name(r->test), r->size);
		if (r->ring)
			fprintf(f, "%zu", r->ring);
		else
			fprintf(f, "null");
		fprintf(f, ", \"placement\": \"%s\", \"median\": ",
			bench_placement_name(r->placement));
		jnum(f, r->median);
		fprintf(f, ", \"p99\": ");
		jnum(f, r->p99);
		fprintf(f, ", \"unit\": \"%s\"}", bench_test_unit(r->test));
		sep = ",";
	}
	fprintf(f, "\n ]");
}

static void json_ratios(FILE *f, const char *key,
			const struct bench_results *res, bool contract)
{
	const char *sep = "";

	fprintf(f, " \"%s\": [", key);
	for (size_t i = 0; i < res->n; i++) {
		const struct bench_row *v = &res->rows[i];

		if (strcmp(v->transport, "vipc"))
			continue;
		for (size_t k = 0; k < NPEERS; k++) {
			const struct bench_row *pr;

			if (in_contract(peers[k]) != contract)
				continue;
			pr = peer_row(res, peers[k], v);
			if (!pr || pr->median <= 0)
				continue;
			fprintf(f, "%s\n  {\"test\": \"%s\", \"size\": %zu, \"ring\": %zu, \"placement\": \"%s\", \"peer\": \"%s\", \"peer_size\": %zu, \"ratio\": %.4g}",
				sep, bench_test_name(v->test), v->size, v->ring,
				bench_placement_name(v->placement), peers[k],
				pr->size, v->median / pr->median);
			sep = ",";
		}
	}
	fprintf(f, "\n ]");
}

void bench_report_json(FILE *f, const struct bench_results *res,
		       const struct bench_meta *m)
{
	struct target t[64];
	size_t nt = targets(res, t, 64);
	const struct bench_plan *p = m->plan;
	const char *sep = "";

	fprintf(f, "{\"benchmark\": \"vipc-bench channel\", \"version\": \"%s\", \"date\": \"%s\", \"cpus\": %d, \"mode\": \"%s\", \"quick\": %s, \"rounds\": %u,\n",
		PACKAGE_VERSION, m->date, m->ncpus,
		p->tiny ? "tiny" : p->quick ? "quick" : "full",
		p->quick ? "true" : "false", m->rounds ? m->rounds : 1);
	fprintf(f, " \"plan\": {\"rtt_iters\": %ld, \"rtt_warmup\": %ld, \"stream_passes\": %d, \"stream_bytes_small\": %llu, \"stream_bytes_large\": %llu, \"verify_bytes\": %llu, \"batch\": %u, \"batch_msgs\": %llu},\n",
		p->rtt_iters, p->rtt_warmup, p->reps,
		(unsigned long long)p->stream_small,
		(unsigned long long)p->stream_large,
		(unsigned long long)p->verify_bytes, BENCH_BATCH,
		(unsigned long long)p->batch_msgs);
	fprintf(f, " \"domains\": {\"server\": %u, \"client\": %u}, \"layout\": \"%s\", \"failures\": %d,\n",
		m->dom_server, m->dom_client, bench_layout_name(bench_layout),
		m->failures);
	json_rows(f, "results", res, true);
	fprintf(f, ",\n");
	json_ratios(f, "ratios", res, true);
	fprintf(f, ",\n \"targets\": [");
	sep = "";
	for (size_t i = 0; i < nt; i++) {
		fprintf(f, "%s\n  {\"name\": \"%s\", \"ratio\": ", sep, t[i].name);
		jnum(f, t[i].ratio);
		fprintf(f, ", \"limit\": %.3g, \"bound\": \"%s\", \"met\": %s}",
			t[i].limit, t[i].at_most ? "max" : "min",
			!t[i].measured ? "null" : t[i].met ? "true" : "false");
		sep = ",";
	}
	fprintf(f, "\n ],\n");
	json_rows(f, "extra_results", res, false);
	fprintf(f, ",\n");
	json_ratios(f, "extra_ratios", res, false);
	fprintf(f, "}\n");
}
