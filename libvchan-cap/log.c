/* SPDX-License-Identifier: MIT */
/* One clear line per problem, to the application's logger or stderr.
 *
 * The logger and its arg go together: a line must never reach one logger
 * with the other's arg (a thread may log while another sets a logger).
 * So each pair set is a node of its own, published by one pointer, and
 * never freed: a line being logged may still use an earlier one.  A pair
 * set again reuses its node, so what stays is a node per distinct pair.
 * Readers take no lock; setters take sinks_mu (fork-guarded: a child's
 * copy is not left locked), under which they only search and allocate. */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vchan_priv.h"

struct sink {
	struct sink *next;
	vchan_log_fn *fn;
	void *arg;
};

static pthread_mutex_t sinks_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t sinks_once = PTHREAD_ONCE_INIT;
static struct sink *sinks;        /* every pair set so far */
static struct sink *current;      /* NULL: stderr */

static void sinks_guard(void)
{
	vchan_fork_guard(&sinks_mu);
}

void vchan_set_logger(vchan_log_fn *fn, void *arg)
{
	struct sink *s = NULL;
	bool no_memory = false;

	pthread_once(&sinks_once, sinks_guard);
	vchan_guard_lock(&sinks_mu);
	if (fn) {
		for (s = sinks; s && (s->fn != fn || s->arg != arg); s = s->next)
			;
		if (!s && (s = malloc(sizeof(*s)))) {
			s->fn = fn;
			s->arg = arg;
			s->next = sinks;
			sinks = s;
		}
		no_memory = !s;
	}
	/* Release: a reader that sees the node sees its fields. */
	__atomic_store_n(&current, s, __ATOMIC_RELEASE);
	vchan_guard_unlock(&sinks_mu);
	if (no_memory)
		vchan_log("log", "no memory to keep the logger: lines go to "
			  "stderr");
}

void vchan_log(const char *who, const char *fmt, ...)
{
	char line[512];
	int n;
	va_list ap;
	const struct sink *s = __atomic_load_n(&current, __ATOMIC_ACQUIRE);

	n = snprintf(line, sizeof(line), "vchan %s: ", who ? who : "?");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (s)
		s->fn(s->arg, line);
	else
		fprintf(stderr, "%s\n", line);
}
