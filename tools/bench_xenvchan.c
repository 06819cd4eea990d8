/* SPDX-License-Identifier: MIT */
/* vipc-bench: one end of Debian's stock libxenvchan inside a simulated
 * domain, the same plan as the vipc worker (bench_vipc.c).  The server
 * shares both rings at the measured size; both ends block (ctrl->blocking)
 * and use the stream calls: libxenvchan_write() writes a whole message,
 * libxenvchan_read() is called until the message is complete (a packet
 * larger than the ring could not go through libxenvchan_send/recv).  A
 * batch is one write of the messages laid out back to back.  libxenvchan
 * has no timeouts: the worker's alarm (bench_xensim.c) bounds a hang. */
#include "config.h"

#include <errno.h>
#include <libxenvchan.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define TIMEOUT_MS 30000

static int x_write(struct libxenvchan *c, const void *buf, size_t len)
{
	int n = libxenvchan_write(c, buf, len);

	if (n < 0 || (size_t)n != len)
		return libxenvchan_is_open(c) ? -EIO : -EPIPE;
	return 0;
}

static int x_read(struct libxenvchan *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		int n = libxenvchan_read(c, p, len);

		if (n <= 0)
			return libxenvchan_is_open(c) ? -EIO : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int xv_send(void *ctx, const void *buf, size_t len)
{
	return x_write(ctx, buf, len);
}

static int xv_recv(void *ctx, void *buf, size_t len)
{
	return x_read(ctx, buf, len);
}

static int xv_send_batch(void *ctx, const void *buf, size_t msg, size_t n)
{
	int r = x_write(ctx, buf, msg * n);

	return r < 0 ? r : (int)n;
}

static int xv_recv_batch(void *ctx, void *buf, size_t msg, size_t n)
{
	int r = x_read(ctx, buf, msg * n);

	return r < 0 ? r : (int)n;
}

static struct libxenvchan *open_end(const struct bench_spec *s, bool client,
				    unsigned server, unsigned peer, size_t i)
{
	struct libxenvchan *c;
	char path[128], ev[160];

	bench_xs_path(path, sizeof(path), "libxenvchan", server, i);
	if (!client) {
		c = libxenvchan_server_init(NULL, (int)peer, path, s->ring,
					    s->ring);
		if (!c)
			bench_err("libxenvchan: libxenvchan_server_init(%s, peer %u, %zu): %s",
				  path, peer, s->ring, strerror(errno));
	} else {
		snprintf(ev, sizeof(ev), "%s/event-channel", path);
		if (bench_xs_wait(ev, TIMEOUT_MS) < 0)
			return NULL;
		c = libxenvchan_client_init(NULL, (int)peer, path);
		if (!c)
			bench_err("libxenvchan: libxenvchan_client_init(%s, server %u): %s",
				  path, peer, strerror(errno));
	}
	if (c)
		c->blocking = 1;
	return c;
}

int bench_xenvchan_worker(const struct bench_plan *p, bool client,
			  unsigned server_domid, unsigned client_domid)
{
	struct bench_spec specs[32];
	size_t n = bench_channel_specs(p, specs, 32);
	unsigned peer = client ? server_domid : client_domid;

	for (size_t i = 0; i < n; i++) {
		struct bench_row row = { .p99 = -1 };
		struct libxenvchan *c;
		struct bench_io io;
		int r;

		bench_unpin();
		c = open_end(&specs[i], client, server_domid, peer, i);
		if (!c)
			return -EIO;
		r = bench_pin(bench_cpu(specs[i].placement, client));
		io = (struct bench_io){ c, xv_send, xv_recv, xv_send_batch,
					xv_recv_batch };
		if (!r)
			r = bench_run_spec(&io, p, &specs[i], client, &row);
		libxenvchan_close(c);
		if (r < 0) {
			bench_err("libxenvchan %s %zu B ring %zu %s: failed",
				  bench_test_name(specs[i].test),
				  specs[i].size, specs[i].ring,
				  bench_placement_name(specs[i].placement));
			return r;
		}
		if (client) {
			snprintf(row.transport, sizeof(row.transport),
				 "libxenvchan");
			bench_row_emit(stdout, &row);
		}
	}
	return 0;
}
