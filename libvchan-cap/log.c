/* SPDX-License-Identifier: MIT */
/* One clear line per problem, to the application's logger or stderr. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "vchan_priv.h"

static vchan_log_fn *log_fn;
static void *log_arg;

void vchan_set_logger(vchan_log_fn *fn, void *arg)
{
	__atomic_store_n(&log_arg, arg, __ATOMIC_RELAXED);
	__atomic_store_n(&log_fn, fn, __ATOMIC_RELEASE);
}

void vchan_log(const char *who, const char *fmt, ...)
{
	char line[512];
	int n;
	va_list ap;
	vchan_log_fn *fn = __atomic_load_n(&log_fn, __ATOMIC_ACQUIRE);

	n = snprintf(line, sizeof(line), "vchan %s: ", who ? who : "?");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (fn)
		fn(__atomic_load_n(&log_arg, __ATOMIC_RELAXED), line);
	else
		fprintf(stderr, "%s\n", line);
}
