/* SPDX-License-Identifier: MIT */
/* Raw byte stream (cfg.raw): libxenvchan's stream mode, for peers that do
 * not speak vipc framing (vchan-socket-proxy and the like).  Writing and
 * reading are one loop over a direction: room is free space outbound and
 * ready bytes inbound. */
#include "config.h"

#include <errno.h>

#include "vchan_priv.h"

static int raw_finish(struct vchan *v, bool tx)
{
	return tx ? vchan_tx_finish(v, true) : vchan_rx_finish(v, true);
}

/* Bytes moved since *counted into the statistics (as they are published,
 * so a long write shows its progress). */
static void raw_count(struct vchan *v, bool tx, size_t done, size_t *counted)
{
	if (done == *counted)
		return;
	__atomic_fetch_add(tx ? &v->bytes_sent : &v->bytes_recv,
			   done - *counted, __ATOMIC_RELAXED);
	*counted = done;
}

/* Move up to len bytes: from src into the outbound ring (tx), or from the
 * inbound ring into dst.  A read takes what is there, waiting (up to the
 * timeout) only while nothing is; a blocking write, as libxenvchan's,
 * goes on waiting for room until all is written or the deadline, while a
 * non-blocking one writes what fits.  Returns the bytes moved, or -errno
 * when none did. */
static int raw_io(struct vchan *v, bool tx, const uint8_t *src, uint8_t *dst,
		  size_t len, int timeout_ms)
{
	uint64_t deadline = vchan_deadline(timeout_ms);
	struct vchan_ring *ring;
	struct vchan_lock *mu;
	uint32_t room = 0;
	size_t done = 0, counted = 0;
	int r;

	if (!v || (!(tx ? (const void *)src : (const void *)dst) && len))
		return -EINVAL;
	if (vchan_inherited(v))
		return vchan_fork_refuse(v);
	if (!(v->rights & (tx ? VCHAN_RIGHT_SEND : VCHAN_RIGHT_RECV)))
		return -EPERM;
	if (!v->raw)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (len > INT32_MAX)
		len = INT32_MAX;
	ring = tx ? &v->tx.ring : &v->rx.ring;
	mu = tx ? &v->tx.mu : &v->rx.mu;
	r = vchan_lock_enter(mu, &deadline);
	if (r < 0)
		return r;
	/* Reading: bytes the peer left before going away are still read,
	 * up to the bound its leaving fixed (peer_left.c). */
	r = vchan_state(v, tx);
	if (!r && !tx)
		r = vchan_rx_capped(v);
	while (!r && done < len) {
		r = tx ? vchan_ring_space(ring, &room)
		       : vchan_ring_ready(ring, &room);
		if (r < 0) {
			r = vchan_fail(v, r);
			break;
		}
		if (!room) {
			/* Only a blocking write waits again once it moved
			 * some; what it wrote goes out first, or the peer
			 * would never make the room it waits for. */
			if (done && (!tx || timeout_ms == 0))
				break;
			if (done) {
				r = raw_finish(v, tx);
				raw_count(v, tx, done, &counted);
				if (r < 0)
					break;
			}
			r = vchan_wait(v, tx ? VCHAN_WANT_SPACE
					     : VCHAN_WANT_READ, 1, &deadline);
			continue;
		}
		while (!r && room && done < len) {
			size_t n = len - done;

			if (n > room)
				n = room;
			if (n > ring->quarter)
				n = ring->quarter;
			if (tx)
				vchan_ring_write(ring, src + done, n);
			else
				vchan_ring_read(ring, dst + done, n);
			done += n;
			room -= (uint32_t)n;
			if (vchan_ring_publish_due(ring))
				r = raw_finish(v, tx);
		}
		if (!tx)
			break;
	}
	if (!r)
		r = raw_finish(v, tx);
	/* Out of time, or the channel ended, part way: the count says what
	 * went (a libxenvchan caller checks it too). */
	raw_count(v, tx, done, &counted);
	if (done)
		r = (int)done;
	vchan_unlock(mu);
	return r;
}

int vchan_write(struct vchan *v, const void *buf, size_t len, int timeout_ms)
{
	return raw_io(v, true, buf, NULL, len, timeout_ms);
}

int vchan_read(struct vchan *v, void *buf, size_t len, int timeout_ms)
{
	return raw_io(v, false, NULL, buf, len, timeout_ms);
}
