/* SPDX-License-Identifier: MIT */
/* Raw byte stream (cfg.raw): libxenvchan's stream mode, for peers that do
 * not speak vipc framing (vchan-socket-proxy and the like). */
#include "config.h"

#include <errno.h>

#include "vchan_priv.h"

int vchan_write(struct vchan *v, const void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	const uint8_t *p = buf;
	uint32_t space = 0;
	size_t done = 0;
	int r;

	if (!v || (!buf && len))
		return -EINVAL;
	if (!(v->rights & VCHAN_RIGHT_SEND))
		return -EPERM;
	if (!v->raw)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (len > INT32_MAX)
		len = INT32_MAX;
	pthread_mutex_lock(&v->tx.mu);
	r = vchan_state(v, true);
	while (!r) {
		r = vchan_ring_space(&v->tx.ring, &space);
		if (r < 0) {
			r = vchan_fail(v, r);
			break;
		}
		if (space)
			break;
		r = vchan_wait(v, VCHAN_WANT_SPACE, 1, &deadline);
	}
	while (!r && space && done < len) {
		size_t n = len - done;

		if (n > space)
			n = space;
		if (n > v->tx.ring.quarter)
			n = v->tx.ring.quarter;
		vchan_ring_write(&v->tx.ring, p + done, n);
		done += n;
		space -= (uint32_t)n;
		if (vchan_ring_publish_due(&v->tx.ring))
			r = vchan_tx_finish(v, true);
	}
	if (!r)
		r = vchan_tx_finish(v, true);
	if (done) {
		__atomic_fetch_add(&v->bytes_sent, done, __ATOMIC_RELAXED);
		r = (int)done;
	}
	pthread_mutex_unlock(&v->tx.mu);
	return r;
}

int vchan_read(struct vchan *v, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	uint8_t *p = buf;
	uint32_t ready = 0;
	size_t done = 0;
	int r;

	if (!v || (!buf && len))
		return -EINVAL;
	if (!(v->rights & VCHAN_RIGHT_RECV))
		return -EPERM;
	if (!v->raw)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (len > INT32_MAX)
		len = INT32_MAX;
	pthread_mutex_lock(&v->rx.mu);
	/* Bytes the peer left before going away are still read. */
	r = vchan_state(v, false);
	while (!r) {
		r = vchan_ring_ready(&v->rx.ring, &ready);
		if (r < 0) {
			r = vchan_fail(v, r);
			break;
		}
		if (ready)
			break;
		r = vchan_wait(v, VCHAN_WANT_READ, 1, &deadline);
	}
	while (!r && ready && done < len) {
		size_t n = len - done;

		if (n > ready)
			n = ready;
		if (n > v->rx.ring.quarter)
			n = v->rx.ring.quarter;
		vchan_ring_read(&v->rx.ring, p + done, n);
		done += n;
		ready -= (uint32_t)n;
		if (vchan_ring_publish_due(&v->rx.ring))
			r = vchan_rx_finish(v, true);
	}
	if (!r)
		r = vchan_rx_finish(v, true);
	if (done) {
		__atomic_fetch_add(&v->bytes_recv, done, __ATOMIC_RELAXED);
		r = (int)done;
	}
	pthread_mutex_unlock(&v->rx.mu);
	return r;
}
