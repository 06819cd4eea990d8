/* SPDX-License-Identifier: MIT */
/* Waiting for the peer: an optional adaptive spin, then the notify-bit
 * handshake and a sleep on the event channel's fd.  When a sender thread and
 * a receiver thread wait at once, one polls the fd and the other waits on a
 * condition variable, so that neither consumes the other's wake-up; what
 * the polling thread consumes it also passes on to an event loop on
 * vchan_fd() (relay), which would otherwise sleep through it. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <stdint.h>
#include <time.h>

#include "vchan_priv.h"

uint64_t vchan_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return UINT64_MAX;
	if (timeout_ms == 0)
		return 0;
	return VCHAN_DL_LAZY | (uint64_t)timeout_ms;
}

/* Our request bits are 1 and 2: one grace clock each. */
static uint64_t *grace_slot(struct vchan *v, uint8_t bit)
{
	return &v->grace_at[bit == VCHAN_NOTIFY_READ];
}

uint64_t vchan_request_notify(struct vchan *v, uint8_t bit)
{
	uint8_t old = __atomic_fetch_or(v->peer_notify, bit, __ATOMIC_SEQ_CST);
	uint64_t now, g;

	/* Barrier: the request is visible to the peer before we re-read its
	 * index (pairs with the full barrier in the peer's notify check), so
	 * either it sees our request or we see its progress. */
	vchan_mb();
	if (!vchan_relaxed(v))
		return 0;
	/* Relaxed: a publisher's load that passed its index store may have
	 * missed a request made in the last grace time (VCHAN_GRACE_NS).  A
	 * bit we find set was set earlier, by us: its grace time still
	 * counts.  (The byte is the peer's to clear; a peer that keeps it set
	 * only withholds its own notifications, which it can do anyway.) */
	now = vchan_now_ns();
	if (!(old & bit)) {
		g = now + v->grace_ns;
		__atomic_store_n(grace_slot(v, bit), g, __ATOMIC_RELAXED);
		return g;
	}
	g = __atomic_load_n(grace_slot(v, bit), __ATOMIC_RELAXED);
	return g > now ? g : 0;
}

int vchan_notify_peer(struct vchan *v, uint8_t bits)
{
	uint8_t req;

	/* Barrier: our index stores are ordered before the load of the
	 * request byte (the other half of the handshake in
	 * vchan_request_notify).  A relaxed channel keeps only the compiler
	 * from moving the load up: the store may still be in this CPU's
	 * store buffer when the load runs, and the waiter's grace look covers
	 * that (VCHAN_GRACE_NS). */
	if (vchan_relaxed(v))
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	else
		vchan_mb();
	/* Peer-written request bits: one load; any value only costs us an
	 * extra notification. */
	req = VCHAN_READ_ONCE(*v->my_notify);
	if (!(req & bits))
		return 0;
	__atomic_fetch_and(v->my_notify, (uint8_t)~(req & bits),
			   __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&v->notifies, 1, __ATOMIC_RELAXED);
	return v->ops->notify(v->tp);
}

bool vchan_rx_publish_try(struct vchan *v)
{
	bool pub;

	/* Nothing left by a receive: no lock.  A hint set just after this
	 * load is answered by its setter, which publishes before it waits. */
	if (!__atomic_load_n(&v->rx_unpub, __ATOMIC_RELAXED))
		return false;
	if (!vchan_trylock(&v->rx.mu))
		return false;   /* its holder publishes before it waits */
	__atomic_store_n(&v->rx_unpub, 0, __ATOMIC_RELAXED);
	pub = !v->released &&
	      (vchan_ring_publish(&v->rx.ring) || v->rx.ring.owed);
	v->rx.ring.owed = false;    /* the caller notifies */
	vchan_unlock(&v->rx.mu);
	return pub;
}

void vchan_ack_events(struct vchan *v)
{
	v->ops->ack(v->tp);
}

/* 1 when the wanted bytes are there, 0 not yet, <0 error. */
static int cond_met(struct vchan *v, int want, uint32_t need)
{
	uint32_t n;
	int r;

	if (want == VCHAN_WANT_READ)
		r = vchan_ring_ready(&v->rx.ring, &n);
	else
		r = vchan_ring_space(&v->tx.ring, &n);
	if (r < 0)
		return vchan_fail(v, r);
	return n >= need;
}

static int check(struct vchan *v, int want, uint32_t need)
{
	int r = vchan_state(v, false);	/* revoked or failed: nothing more */

	if (r < 0)
		return r;
	r = vchan_state(v, true);
	if (r == -EPIPE && want == VCHAN_WANT_READ) {
		/* A peer that sent its last messages and then left (or died)
		 * cleared its live byte after writing them: those messages
		 * are still ours.  The live byte was loaded before the ring
		 * indices (fence below), so all it wrote before leaving is
		 * visible; only a message that is not whole is lost.  Read
		 * up to the bound its leaving fixed, not what a process that
		 * took its page over wrote since (peer_left.c; the caller
		 * holds the rx lock). */
		r = vchan_rx_capped(v);
		if (r < 0)
			return r;
		vchan_rmb();
		r = cond_met(v, want, need);
		return r == 0 ? -EPIPE : r;
	}
	if (r < 0)
		return r;
	return cond_met(v, want, need);
}

static struct timespec abs_ts(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};
	return ts;
}

/* The sleeper's clock: one timerfd in the epoll set, armed at an absolute
 * deadline.  A blocking call with a timeout would otherwise arm and cancel
 * a kernel timer on every sleep; the timerfd stays armed across sleeps and
 * calls, and is set again only when a sleep's deadline comes before the
 * armed one (or it has fired).  Waking at an earlier deadline than ours is
 * only spurious: the caller looks again and sleeps on.  So any thread may
 * arm it (under wait_mu), even while another sleeps on it: an event loop's
 * grace or recheck time then wakes the sleeper, which passes it on.
 * Returns the epoll timeout: -1, or (timerfd refused) milliseconds. */
static int timer_arm(struct vchan *v, uint64_t deadline)
{
	struct itimerspec its = { .it_value = abs_ts(deadline) };
	uint64_t now, left;

	if (v->timer_at && v->timer_at <= deadline)
		return -1;
	if (timerfd_settime(v->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0) {
		v->timer_at = deadline;
		return -1;
	}
	now = vchan_now_ns();
	left = deadline > now ? deadline - now : 0;
	/* Rounded up: never wake before the deadline. */
	left = (left + 999999u) / 1000000u;
	return left > INT_MAX ? INT_MAX : (int)left;
}

bool vchan_timer_consume(struct vchan *v)
{
	uint64_t ticks;

	if (v->timer_at && vchan_now_ns() >= v->timer_at &&
	    read(v->timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks)) {
		v->timer_at = 0;
		return true;
	}
	return false;
}

/* The poller consumed something (an event, the timer, the peer watch's
 * news) that an event loop on vchan_fd() may be waiting for: the loop
 * polls the same fds, and one it found readable is read by us before its
 * poll() looks again.  Only once vchan_fd() made the relay. */
static void relay(struct vchan *v)
{
	uint64_t one = 1;
	ssize_t w;

	if (__atomic_load_n(&v->loop_fd, __ATOMIC_ACQUIRE) < 0)
		return;
	w = write(v->relay_fd, &one, sizeof(one));
	(void)w;   /* a full counter is still readable */
	/* The flag after the count: a loop that finds it clear while the
	 * count is there wakes again at once, and finds it set then. */
	__atomic_store_n(&v->relayed, 1, __ATOMIC_RELEASE);
}

void vchan_relay_take(struct vchan *v)
{
	uint64_t n;
	ssize_t r;

	/* Most calls find nothing passed on: no system call for them. */
	if (!__atomic_load_n(&v->relayed, __ATOMIC_RELAXED) ||
	    !__atomic_exchange_n(&v->relayed, 0, __ATOMIC_ACQ_REL))
		return;
	r = read(v->relay_fd, &n, sizeof(n));
	(void)r;   /* EAGAIN: taken with an earlier flag */
}

void vchan_grace_poll(struct vchan *v, uint64_t grace)
{
	if (!vchan_relaxed(v) ||
	    (!grace && !__atomic_load_n(&v->grace_armed, __ATOMIC_RELAXED)))
		return;
	pthread_mutex_lock(&v->wait_mu);
	if (v->released) {
		pthread_mutex_unlock(&v->wait_mu);
		return;
	}
	/* With a thread asleep on it, the timer is that thread's to consume:
	 * it wakes at the grace time and passes that on to vchan_fd().  A
	 * tick we consume is passed on too: an event loop's grace look or
	 * recheck may be what fired, and its poll() may not have seen it. */
	if (!v->poller && vchan_timer_consume(v))
		relay(v);
	if (grace)
		(void)timer_arm(v, grace);
	/* vchan_events() consumes its own recheck timer: not ours to look
	 * after (or every non-blocking call would lock). */
	if (!v->poller)
		__atomic_store_n(&v->grace_armed, v->timer_at != 0 &&
				 v->timer_at != v->recheck_at,
				 __ATOMIC_RELAXED);
	pthread_mutex_unlock(&v->wait_mu);
}

void vchan_recheck_arm(struct vchan *v)
{
	uint64_t at = vchan_now_ns() + VCHAN_RECHECK_NS;

	/* An earlier timer (a grace time) stays: the look comes sooner.  One
	 * that fired was consumed at the start of vchan_events(). */
	(void)timer_arm(v, at);
	if (v->timer_at == at)
		v->recheck_at = at;
}

/* epoll_wait() that also ends at grace (absolute, 0: none) when that
 * comes before the timeout.  Nanoseconds, without arming the timer: a
 * relaxed channel's sleeper passes a grace time on most sleeps. */
static int epoll_until(struct vchan *v, struct epoll_event *evs, int n,
		       int tmo_ms, uint64_t grace)
{
	/* Refused once (before Linux 5.11, or a seccomp filter that does
	 * not know it): whole milliseconds from then on, rounded up. */
	static int no_pwait2;

	if (grace) {
		uint64_t now = vchan_now_ns();
		uint64_t left = grace > now ? grace - now : 0;

		if (tmo_ms < 0 || left < (uint64_t)tmo_ms * 1000000u) {
			struct timespec ts = abs_ts(left);
			int r;

			if (!__atomic_load_n(&no_pwait2, __ATOMIC_RELAXED)) {
				r = epoll_pwait2(v->epoll_fd, evs, n, &ts, NULL);
				if (r >= 0 || (errno != ENOSYS && errno != EPERM))
					return r;
				__atomic_store_n(&no_pwait2, 1,
						 __ATOMIC_RELAXED);
			}
			tmo_ms = (int)((left + 999999u) / 1000000u);
		}
	}
	return epoll_wait(v->epoll_fd, evs, n, tmo_ms);
}

/* Sleep until an event arrives (ev_gen moves past gen) or the deadline.
 * 0: woke (look again); 1: the grace time (0: none) passed first, with no
 * event; -ETIMEDOUT. */
static int sleep_once(struct vchan *v, uint64_t gen, uint64_t deadline,
		      uint64_t grace)
{
	uint64_t wake = grace && grace < deadline ? grace : deadline;
	int ret = 0;

	pthread_mutex_lock(&v->wait_mu);
	for (;;) {
		if (__atomic_load_n(&v->ev_gen, __ATOMIC_ACQUIRE) != gen)
			break;
		if (!v->poller) {
			struct epoll_event evs[4];
			int tmo = -1, n, i;
			bool ev_in = false, ev_peer = false, ev_timer = false;

			if (deadline != UINT64_MAX)
				tmo = timer_arm(v, deadline);
			v->poller = true;
			pthread_mutex_unlock(&v->wait_mu);
			/* Once the peer is connected the transport checks
			 * once that it can watch it (no-op afterwards);
			 * finding it gone makes the kick fd readable. */
			if (v->ops->peer_check &&
			    !__atomic_load_n(&v->peer_confirmed,
					     __ATOMIC_RELAXED))
				vchan_peer_poll(v);
			/* The set: the transport's fd, the kick fd and the
			 * peer watch fd (when the transport has one). */
			n = epoll_until(v, evs, 4, tmo,
					wake < deadline ? wake : 0);
			for (i = 0; i < n; i++) {
				if (evs[i].data.fd == v->kick_fd)
					continue;
				if (evs[i].data.fd == v->timer_fd)
					ev_timer = true;
				else if (evs[i].data.fd == v->ops->fd(v->tp))
					ev_in = true;
				else
					ev_peer = true;
			}
			if (ev_in)
				v->ops->ack(v->tp);
			if (ev_peer)
				vchan_peer_poll(v);
			pthread_mutex_lock(&v->wait_mu);
			if (ev_timer) {
				/* Consumed under wait_mu (another thread may
				 * arm it meanwhile); armed again by the next
				 * sleep. */
				vchan_timer_consume(v);
				if (n == 1 && vchan_now_ns() >= deadline)
					n = 0;   /* our deadline: time is up */
			}
			if (ev_in || ev_peer || ev_timer)
				relay(v);
			v->poller = false;
			if (n != 0)     /* event, kick, or EINTR: re-check */
				__atomic_fetch_add(&v->ev_gen, 1, __ATOMIC_RELEASE);
			pthread_cond_broadcast(&v->wait_cv);
			if (n == 0)
				ret = wake < deadline &&
				      vchan_now_ns() < deadline ? 1
								: -ETIMEDOUT;
			break;
		}
		/* Someone else polls: wait for it to see an event. */
		if (wake == UINT64_MAX) {
			pthread_cond_wait(&v->wait_cv, &v->wait_mu);
		} else {
			struct timespec ts = abs_ts(wake);

			if (pthread_cond_timedwait(&v->wait_cv, &v->wait_mu,
						   &ts) == ETIMEDOUT &&
			    __atomic_load_n(&v->ev_gen, __ATOMIC_ACQUIRE) == gen) {
				ret = wake < deadline ? 1 : -ETIMEDOUT;
				break;
			}
		}
	}
	pthread_mutex_unlock(&v->wait_mu);
	return ret;
}

/* The recheck time passed with no event: look at the peer, as an event
 * loop's vchan_events() does each second.  Taking the store's events finds
 * what sends no event (a broken store connection, when the process has
 * no watcher's thread to find it).  Not while another thread polls: its
 * wake-ups do that. */
static void recheck_peer(struct vchan *v)
{
	pthread_mutex_lock(&v->wait_mu);
	if (!v->poller && !v->released) {
		vchan_peer_poll(v);
		if (__atomic_load_n(&v->peer_gone, __ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&v->ev_gen, 1, __ATOMIC_RELEASE);
			pthread_cond_broadcast(&v->wait_cv);
		}
	}
	pthread_mutex_unlock(&v->wait_mu);
}

/* While spinning, one load of the peer's index per round: the full check
 * runs only when it moved (and every SPIN_CHECK rounds, for revoke, errors
 * and peer death), so the round is short and the line is just read. */
static inline bool peer_moved(struct vchan *v, int want)
{
	const struct vchan_ring *r = want == VCHAN_WANT_READ ? &v->rx.ring
							   : &v->tx.ring;

	return VCHAN_READ_ONCE(*r->theirs) != r->peer;
}

#define SPIN_CHECK 64u

/* Whether a phase with this budget is over: it ends at the budget's end or
 * at the call's deadline, whichever comes first, counted from the first
 * call (*end 0 until then), so the clock is read only from there on. */
static bool phase_over(uint64_t *dlp, long budget, uint64_t *end)
{
	uint64_t now = vchan_now_ns();

	if (!*end) {
		uint64_t dl = vchan_deadline_at(dlp, now);

		*end = now + (uint64_t)budget;
		if (*end > dl)
			*end = dl;
	}
	return now >= *end;
}

/* The busy phase (spin.c); the spin state is held. */
static int busy_phase(struct vchan *v, int want, uint32_t need,
		      uint64_t *dlp)
{
	long budget = vchan_spin_budget(&v->spin);
	uint64_t end = 0;
	unsigned i = 0;
	int r = 0;

	if (!budget)
		return 0;
	for (;;) {
		if (peer_moved(v, want)) {
			r = check(v, want, need);
			if (r != 0)
				break;
		}
		vchan_cpu_relax();
		if ((++i % SPIN_CHECK) == 0) {
			r = check(v, want, need);
			if (r != 0)
				break;
			/* The clock only now: a spin that pays off usually
			 * ends before its first reading. */
			if (phase_over(dlp, budget, &end))
				break;
		}
	}
	vchan_spin_result(&v->spin, r > 0);
	return r;
}

/* The yield phase (spin.c): give the CPU away and look again until the
 * budget is spent; the spin state is held.  The clock only after the first
 * look, as in the busy phase: a peer on our CPU usually answers during the
 * first yield, and a reading costs about 60 ns here. */
static int yield_phase(struct vchan *v, int want, uint32_t need,
		       uint64_t *dlp)
{
	long budget = vchan_yield_budget(&v->spin);
	uint64_t end = 0;
	int r = 0;

	if (!budget)
		return 0;
	for (;;) {
		sched_yield();
		r = check(v, want, need);
		if (r != 0)
			break;
		if (phase_over(dlp, budget, &end))
			break;
	}
	vchan_yield_result(&v->spin, r > 0);
	return r;
}

/* Both phases under one hold of the spin state, which both directions
 * share: the thread that takes it spins and yields, the other goes straight
 * to sleep.  One locked operation per wait, not a mutex's two. */
static int spin(struct vchan *v, int want, uint32_t need, uint64_t *dlp)
{
	int r;

	if (__atomic_exchange_n(&v->spinning, 1, __ATOMIC_ACQUIRE))
		return 0;
	r = busy_phase(v, want, need, dlp);
	if (r == 0)
		r = yield_phase(v, want, need, dlp);
	__atomic_store_n(&v->spinning, 0, __ATOMIC_RELEASE);
	return r;
}

/* The sleeps of one round, after the request for a notification and a
 * check that found nothing: until an event (0), the condition met (1), an
 * error or the deadline (<0). */
static int sleep_round(struct vchan *v, int want, uint32_t need,
		       uint64_t gen, uint64_t deadline, uint64_t grace)
{
	int r;

	r = sleep_once(v, gen, deadline,
		       grace ? grace : vchan_now_ns() + VCHAN_RECHECK_NS);
	while (r == 1) {
		/* The grace time passed with no event (the look that covers
		 * a relaxed publisher, VCHAN_GRACE_NS), or the recheck time
		 * (a live byte cleared without an event, VCHAN_RECHECK_NS):
		 * look, then sleep on. */
		if (!grace)
			recheck_peer(v);
		r = check(v, want, need);
		if (r > 0 && grace)
			__atomic_fetch_add(&v->grace_hits, 1,
					   __ATOMIC_RELAXED);
		if (r != 0)
			return r;
		grace = 0;
		r = sleep_once(v, gen, deadline,
			       vchan_now_ns() + VCHAN_RECHECK_NS);
	}
	if (r < 0) {
		/* Last look, so a wake-up racing the deadline is not lost. */
		int c = check(v, want, need);

		return c != 0 ? c : r;
	}
	return 0;
}

/* One round: check, spin, yield, arm, sleep.  1: condition met; 0: woke, look
 * again; <0: error or out of time. */
static int wait_round(struct vchan *v, int want, uint32_t need,
		      uint64_t *dlp)
{
	struct vchan_lock *mu = want == VCHAN_WANT_READ ? &v->rx.mu
							: &v->tx.mu;
	uint64_t gen, deadline, grace;
	int r;

	r = check(v, want, need);
	if (r != 0)
		return r;
	if (*dlp == 0) {
		/* Not blocking: still ask to be woken, so that the fd turns
		 * readable when the call can make progress. */
		grace = vchan_request_notify(v, want == VCHAN_WANT_READ ?
					     VCHAN_NOTIFY_WRITE :
					     VCHAN_NOTIFY_READ);
		r = check(v, want, need);
		if (r == 0)
			vchan_grace_poll(v, grace);
		return r != 0 ? r : -EAGAIN;
	}
	r = spin(v, want, need, dlp);
	if (r != 0)
		return r;
	deadline = *dlp;
	if (deadline != UINT64_MAX) {
		uint64_t now = vchan_now_ns();

		deadline = vchan_deadline_at(dlp, now);
		if (now >= deadline)
			return -ETIMEDOUT;
	}
	/* Read the event generation before the last check: an event the
	 * other waiter consumes after this point still moves it. */
	gen = __atomic_load_n(&v->ev_gen, __ATOMIC_ACQUIRE);
	grace = vchan_request_notify(v, want == VCHAN_WANT_READ ?
				     VCHAN_NOTIFY_WRITE : VCHAN_NOTIFY_READ);
	r = check(v, want, need);
	if (r != 0)
		return r;
	__atomic_fetch_add(&v->sleeps, 1, __ATOMIC_RELAXED);
	/* Asleep, having asked to be woken: a call of this direction with
	 * timeout 0 that waits for our lock gives up now (the ring has
	 * nothing for it either, and the event that ends our sleep also
	 * makes vchan_fd() readable).  Not while spinning: we may take what
	 * comes then without an event, and leave more behind. */
	vchan_lock_asleep(mu, true);
	r = sleep_round(v, want, need, gen, deadline, grace);
	vchan_lock_asleep(mu, false);
	return r;
}

int vchan_wait(struct vchan *v, int want, uint32_t need, uint64_t *dlp)
{
	int r;

	/* Consumption a receive left unpublished goes out before we wait:
	 * the peer may be waiting for that room to send what we wait for. */
	if (want == VCHAN_WANT_READ)
		r = vchan_rx_finish(v, true);
	else if (vchan_rx_publish_try(v))
		r = vchan_notify_peer(v, VCHAN_NOTIFY_READ);
	else
		r = 0;
	if (r < 0)
		return r;

	/* A lazy deadline is resolved (in place, once) only when the call
	 * reads the clock anyway: after spinning a while, or to sleep. */
	do
		r = wait_round(v, want, need, dlp);
	while (r == 0);
	return r < 0 ? r : 0;
}
