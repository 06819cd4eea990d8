/* SPDX-License-Identifier: MIT */
/* vipc-bench: one vipc (libvchan-cap) end inside a simulated domain.
 *
 * For every measurement of the plan a fresh channel: the server (in the
 * first domain, the receiving and echoing end) publishes under its own
 * xenstore home for the client's domain, the client waits for the
 * publication and connects.  Both use vchan_config_init()'s defaults
 * (framed messages, adaptive spin) with both rings of the measured size,
 * the server in the layout of --layout (LINES unless told);
 * the process gets back its full CPU set before opening and is pinned
 * only once the channel is up (the library does not look at the set: its
 * spinning goes by the machine's online CPUs, sysconf(_SC_NPROCESSORS_ONLN)).
 * Messages go through vchan_send()/vchan_recv(), batches through
 * vchan_sendv() and vchan_recvv(). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <vipc/hyp.h>
#include <vipc/vchan.h>

#include "bench.h"

#define TIMEOUT_MS 30000
#define MSG_TYPE 0x62656e63u   /* "benc" */

static int v_send(void *ctx, const void *buf, size_t len)
{
	return vchan_send(ctx, MSG_TYPE, 0, buf, len, TIMEOUT_MS);
}

static int v_recv(void *ctx, void *buf, size_t len)
{
	struct vchan_msg m = { .buf = buf, .len = len };
	int r = vchan_recv(ctx, &m, TIMEOUT_MS);

	if (r < 0)
		return r;
	return m.len == len && m.type == MSG_TYPE ? 0 : -EPROTO;
}

static int v_send_batch(void *ctx, const void *buf, size_t msg, size_t n)
{
	struct vchan_msg m[BENCH_BATCH];

	if (n > BENCH_BATCH)
		n = BENCH_BATCH;
	for (size_t i = 0; i < n; i++)
		m[i] = (struct vchan_msg){ .type = MSG_TYPE,
			.buf = (uint8_t *)(uintptr_t)buf + i * msg,
			.len = msg };
	return vchan_sendv(ctx, m, n, TIMEOUT_MS);
}

static int v_recv_batch(void *ctx, void *buf, size_t msg, size_t n)
{
	struct vchan_msg m[BENCH_BATCH];
	int r;

	if (n > BENCH_BATCH)
		n = BENCH_BATCH;
	for (size_t i = 0; i < n; i++)
		m[i] = (struct vchan_msg){ .buf = (uint8_t *)buf + i * msg,
					   .len = msg };
	r = vchan_recvv(ctx, m, n, TIMEOUT_MS);
	for (int i = 0; i < r; i++)
		if (m[i].len != msg || m[i].type != MSG_TYPE)
			return -EPROTO;
	return r;
}

static unsigned order_of(size_t ring)
{
	unsigned o = 0;

	while (((size_t)1 << o) < ring)
		o++;
	return o;
}

static int open_end(const struct bench_spec *s, bool client,
		    unsigned server, unsigned peer, size_t i,
		    struct vchan **out)
{
	struct vchan_config cfg;
	char path[128], ev[160];
	int r;

	vchan_config_init(&cfg);
	cfg.read_order = cfg.write_order = order_of(s->ring);
	cfg.name = client ? "bench-client" : "bench-server";
	cfg.layout = bench_layout;     /* the server's choice */
	bench_xs_path(path, sizeof(path), "vipc", server, i);
	if (!client) {
		r = vchan_server_open(&cfg, (int)peer, path, out);
		if (r < 0) {
			bench_err("vipc: vchan_server_open(%s, peer %u): %s",
				  path, peer, strerror(-r));
			return r;
		}
		/* The first receive needs the client there. */
		for (int t = 0; t < TIMEOUT_MS; t++) {
			r = vchan_is_connected(*out);
			if (r != 0 || bench_stop)
				break;
			usleep(1000);
		}
		if (r <= 0) {
			bench_err("vipc: no client on %s: %s", path,
				  r ? strerror(-r) : "timed out");
			vchan_close(*out);
			return r ? r : -ETIMEDOUT;
		}
		return 0;
	}
	snprintf(ev, sizeof(ev), "%s/event-channel", path);
	r = bench_xs_wait(ev, TIMEOUT_MS);
	if (r == 0)
		r = vchan_client_open(&cfg, (int)peer, path, out);
	if (r < 0)
		bench_err("vipc: vchan_client_open(%s, server %u): %s", path,
			  peer, strerror(-r));
	return r;
}

static void show_stats(struct vchan *v, bool client, const struct bench_spec *s)
{
	struct vchan_stats st;

	if (vchan_get_stats(v, &st) < 0)
		return;
	bench_err("vipc %s %s %zu B ring %zu %s: msgs %llu/%llu notifies %llu sleeps %llu spin %llu hit %llu miss yield %llu hit %llu miss (%s)",
		  client ? "client" : "server", bench_test_name(s->test),
		  s->size, s->ring, bench_placement_name(s->placement),
		  (unsigned long long)st.msgs_sent,
		  (unsigned long long)st.msgs_recv,
		  (unsigned long long)st.notifies,
		  (unsigned long long)st.sleeps,
		  (unsigned long long)st.spin_hits,
		  (unsigned long long)st.spin_misses,
		  (unsigned long long)st.yield_hits,
		  (unsigned long long)st.yield_misses,
		  st.spin_enabled ? "on" : "off");
}

int bench_vipc_worker(const struct bench_plan *p, bool client,
		      unsigned server_domid, unsigned client_domid)
{
	struct bench_spec specs[32];
	size_t n = bench_channel_specs(p, specs, 32);
	unsigned peer = client ? server_domid : client_domid;

	for (size_t i = 0; i < n; i++) {
		struct bench_row row = { .p99 = -1 };
		struct vchan *v = NULL;
		struct bench_io io;
		int r;

		bench_unpin();
		r = open_end(&specs[i], client, server_domid, peer, i, &v);
		if (r < 0)
			return r;
		r = bench_pin(bench_cpu(specs[i].placement, client));
		io = (struct bench_io){ v, v_send, v_recv, v_send_batch,
					v_recv_batch };
		if (!r)
			r = bench_run_spec(&io, p, &specs[i], client, &row);
		if (bench_verbose)
			show_stats(v, client, &specs[i]);
		vchan_close(v);
		if (r < 0) {
			bench_err("vipc %s %zu B ring %zu %s: failed",
				  bench_test_name(specs[i].test),
				  specs[i].size, specs[i].ring,
				  bench_placement_name(specs[i].placement));
			return r;
		}
		if (client) {
			snprintf(row.transport, sizeof(row.transport), "vipc");
			bench_row_emit(stdout, &row);
		}
	}
	return 0;
}

void bench_xs_path(char *buf, size_t len, const char *transport,
		   unsigned server_domid, size_t i)
{
	snprintf(buf, len, "/local/domain/%u/data/vipc-bench/%s-%zu",
		 server_domid, transport, i);
}

int bench_xs_wait(const char *path, int timeout_ms)
{
	struct hyp_store *st;
	unsigned long v;
	int r;

	if ((r = hyp_store_open(&st)) < 0) {
		bench_err("xenstore: %s", strerror(-r));
		return r;
	}
	for (int t = 0; t < timeout_ms && !bench_stop; t++) {
		r = hyp_store_read_uint(st, HYP_TXN_NONE, path, UINT32_MAX,
					&v);
		if (r != -ENOENT && r != -EACCES)
			break;
		usleep(1000);
	}
	hyp_store_close(st);
	if (r == -ENOENT || r == -EACCES)
		r = -ETIMEDOUT;
	if (r < 0)
		bench_err("waiting for %s: %s", path, strerror(-r));
	return r;
}

int bench_grant_release(unsigned a, unsigned b)
{
	/* As vipcd does at startup: let both domains read @releaseDomain,
	 * so that xenstored sends them its events and a channel end learns
	 * that its peer's domain is gone. */
	struct xs_permissions perms[3] = {
		{ .id = 0, .perms = XS_PERM_NONE },
		{ .id = (domid_t)a, .perms = XS_PERM_READ },
		{ .id = (domid_t)b, .perms = XS_PERM_READ },
	};
	struct hyp_store *st;
	int r = hyp_store_open(&st);

	if (r == 0) {
		r = hyp_store_set_perms(st, HYP_TXN_NONE, HYP_WATCH_RELEASE,
					perms, 3);
		hyp_store_close(st);
	}
	if (r < 0)
		bench_err("cannot let domains %u and %u read %s: %s", a, b,
			  HYP_WATCH_RELEASE, strerror(-r));
	return r;
}

int bench_store_domids(unsigned *self, unsigned *peer, int timeout_ms)
{
	struct hyp_store *st;
	unsigned long v = 0;
	int r, t;

	if ((r = hyp_store_open(&st)) < 0) {
		bench_err("xenstore: %s", strerror(-r));
		return r;
	}
	if (self) {
		domid_t d;

		r = hyp_self_domid(st, &d);
		if (r < 0) {
			bench_err("our domain id (store node domid): %s",
				  strerror(-r));
			goto out;
		}
		*self = d;
	}
	if (!peer)
		goto out;
	/* dom0 writes the peer once both domains exist: wait for it. */
	for (t = 0;; t += 100) {
		r = hyp_store_read_uint(st, HYP_TXN_NONE, "data/conf/peer",
					0x7fef, &v);
		if (r != -ENOENT)
			break;
		if (bench_stop) {
			r = -EINTR;
			goto out;
		}
		if (t >= timeout_ms) {
			r = -ETIMEDOUT;
			break;
		}
		usleep(100000);
	}
	if (r == 0)
		*peer = (unsigned)v;
	else
		bench_err("the peer's domain id (store node data/conf/peer): %s",
			  strerror(-r));
out:
	hyp_store_close(st);
	return r;
}
