/* hyp_evtchn.c: event channels over libxenevtchn. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>

#include <xenevtchn.h>

#include "vipc/hyp.h"
#include "hyp_internal.h"

struct hyp_evtchn {
	xenevtchn_handle *xce;
	/* The handle's fd was made non-blocking (nb_fd is the fd it was done
	 * on): a read then answers EAGAIN when nothing is pending, so taking an
	 * event needs no poll(0) first.  Set on the first hyp_evtchn_pending(). */
	int nb_fd;
};

int hyp_evtchn_open(struct hyp_evtchn **out)
{
	struct hyp_evtchn *ev;

	if (!out)
		return -EINVAL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	errno = 0;
	/* NULL logger: the library logs to stderr, which suits daemons and tools. */
	ev->xce = xenevtchn_open(NULL, 0);
	if (!ev->xce) {
		int err = hyp_neg_errno();

		free(ev);
		return err;
	}
	ev->nb_fd = -1;
	*out = ev;
	return 0;
}

void hyp_evtchn_close(struct hyp_evtchn *ev)
{
	if (!ev)
		return;
	xenevtchn_close(ev->xce);
	free(ev);
}

int hyp_evtchn_fd(struct hyp_evtchn *ev)
{
	int fd;

	if (!ev)
		return -EINVAL;
	fd = xenevtchn_fd(ev->xce);
	return fd >= 0 ? fd : -EBADF;
}

int hyp_evtchn_alloc_unbound(struct hyp_evtchn *ev, domid_t remote,
			     evtchn_port_t *port)
{
	xenevtchn_port_or_error_t p;

	if (!ev || !port)
		return -EINVAL;
	errno = 0;
	p = xenevtchn_bind_unbound_port(ev->xce, remote);
	if (p < 0)
		return hyp_neg_errno();
	*port = (evtchn_port_t)p;
	return 0;
}

int hyp_evtchn_bind(struct hyp_evtchn *ev, domid_t remote,
		    evtchn_port_t remote_port, evtchn_port_t *local_port)
{
	xenevtchn_port_or_error_t p;

	if (!ev || !local_port)
		return -EINVAL;
	errno = 0;
	p = xenevtchn_bind_interdomain(ev->xce, remote, remote_port);
	if (p < 0)
		return hyp_neg_errno();
	*local_port = (evtchn_port_t)p;
	return 0;
}

int hyp_evtchn_notify(struct hyp_evtchn *ev, evtchn_port_t port)
{
	if (!ev)
		return -EINVAL;
	errno = 0;
	if (xenevtchn_notify(ev->xce, port) < 0)
		return hyp_neg_errno();
	return 0;
}

int hyp_evtchn_unbind(struct hyp_evtchn *ev, evtchn_port_t port)
{
	if (!ev)
		return -EINVAL;
	errno = 0;
	if (xenevtchn_unbind(ev->xce, port) < 0)
		return hyp_neg_errno();
	return 0;
}

int hyp_evtchn_ack(struct hyp_evtchn *ev, evtchn_port_t port)
{
	if (!ev)
		return -EINVAL;
	errno = 0;
	if (xenevtchn_unmask(ev->xce, port) < 0)
		return hyp_neg_errno();
	return 0;
}

/*
 * Poll the handle's fd for up to timeout_ms (-1: forever), restarting after
 * signals with the time that is left.  0 when readable, -ETIMEDOUT, -EIO.
 */
static int evtchn_poll(struct hyp_evtchn *ev, int timeout_ms)
{
	struct pollfd pfd = { .events = POLLIN };
	struct timespec start, now;
	int left = timeout_ms;

	pfd.fd = xenevtchn_fd(ev->xce);
	if (pfd.fd < 0)
		return -EBADF;
	if (timeout_ms > 0)
		clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int n = poll(&pfd, 1, left);

		if (n > 0) {
			if (pfd.revents & POLLIN)
				return 0;
			/* POLLERR/POLLHUP/POLLNVAL without data: the device is gone. */
			return -EIO;
		}
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return hyp_neg_errno();
		if (timeout_ms > 0) {
			long spent;

			clock_gettime(CLOCK_MONOTONIC, &now);
			spent = (now.tv_sec - start.tv_sec) * 1000L +
				(now.tv_nsec - start.tv_nsec) / 1000000L;
			if (spent >= timeout_ms)
				return -ETIMEDOUT;
			left = timeout_ms - (int)spent;
		}
	}
}

/* Consume one pending port.  Either the caller made sure the fd is readable,
 * or the fd is non-blocking: xenevtchn_pending() (a read on Linux) does not
 * block.  -EAGAIN when another reader took the event first. */
static int evtchn_take(struct hyp_evtchn *ev, evtchn_port_t *port)
{
	xenevtchn_port_or_error_t p;

	errno = 0;
	p = xenevtchn_pending(ev->xce);
	if (p < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : hyp_neg_errno();
	*port = (evtchn_port_t)p;
	return 0;
}

/* Make the handle's fd non-blocking once; false if it cannot be (then a
 * poll(0) has to guard every read). */
static bool evtchn_nonblock(struct hyp_evtchn *ev, int fd)
{
	int fl;

	if (ev->nb_fd == fd)
		return true;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) &&
		       fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return false;
	ev->nb_fd = fd;
	return true;
}

int hyp_evtchn_pending(struct hyp_evtchn *ev, evtchn_port_t *port)
{
	int rc, fd;

	if (!ev || !port)
		return -EINVAL;
	fd = xenevtchn_fd(ev->xce);
	if (fd < 0)
		return -EBADF;
	/* One system call on the event path (an event loop calls this each
	 * time its poll wakes), not a poll(0) and then a read. */
	if (evtchn_nonblock(ev, fd))
		return evtchn_take(ev, port);
	rc = evtchn_poll(ev, 0);
	if (rc == -ETIMEDOUT)
		return -EAGAIN;
	if (rc < 0)
		return rc;
	return evtchn_take(ev, port);
}

int hyp_evtchn_wait(struct hyp_evtchn *ev, int timeout_ms,
		    evtchn_port_t *port)
{
	evtchn_port_t p;
	int rc;

	if (!ev || timeout_ms < -1)
		return -EINVAL;
	/* A non-blocking fd (see hyp_evtchn_pending) can be found empty after
	 * poll said readable, when another reader of the handle was faster:
	 * poll again then (a finite timeout restarts; rare). */
	do {
		rc = evtchn_poll(ev, timeout_ms);
		if (rc < 0)
			return rc;
		rc = evtchn_take(ev, &p);
	} while (rc == -EAGAIN && timeout_ms != 0);
	if (rc == -EAGAIN)
		rc = -ETIMEDOUT;
	if (rc < 0)
		return rc;
	rc = hyp_evtchn_ack(ev, p);
	if (rc < 0)
		return rc;
	if (port)
		*port = p;
	return 0;
}
