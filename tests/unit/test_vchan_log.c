/* SPDX-License-Identifier: MIT */
/* The logger (log.c): a line reaches the logger set last, with the arg set
 * with it, even while another thread sets another logger; a long line is
 * cut, not overrun; NULL restores stderr. */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_vchan_util.h"

/* Each logger knows its own arg: any other is a torn pair. */
struct sink {
	atomic_ulong lines;
	atomic_ulong wrong_arg;
	char last[600];
};

static struct sink sink_a, sink_b;

static void logger_a(void *arg, const char *line)
{
	(void)line;
	atomic_fetch_add(&sink_a.lines, 1);
	if (arg != &sink_a)
		atomic_fetch_add(&sink_a.wrong_arg, 1);
}

static void logger_b(void *arg, const char *line)
{
	(void)line;
	atomic_fetch_add(&sink_b.lines, 1);
	if (arg != &sink_b)
		atomic_fetch_add(&sink_b.wrong_arg, 1);
}

static void logger_keep(void *arg, const char *line)
{
	struct sink *s = arg;

	snprintf(s->last, sizeof(s->last), "%s", line);
	atomic_fetch_add(&s->lines, 1);
}

static void reset(struct sink *s)
{
	atomic_store(&s->lines, 0);
	atomic_store(&s->wrong_arg, 0);
	s->last[0] = 0;
}

static void test_line_and_prefix(void **state)
{
	(void)state;
	reset(&sink_a);
	vchan_set_logger(logger_keep, &sink_a);
	vchan_log("chan-7", "ring %u is %s", 3u, "broken");
	assert_int_equal(atomic_load(&sink_a.lines), 1);
	assert_string_equal(sink_a.last, "vchan chan-7: ring 3 is broken");
	vchan_log(NULL, "x");
	assert_string_equal(sink_a.last, "vchan ?: x");
	vchan_set_logger(NULL, NULL);
}

static void test_long_line_cut(void **state)
{
	char big[2000];

	(void)state;
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	reset(&sink_a);
	vchan_set_logger(logger_keep, &sink_a);
	vchan_log("w", "%s", big);
	/* The line is cut at the library's 512 bytes (511 and the NUL). */
	assert_int_equal(strlen(sink_a.last), 511);
	assert_memory_equal(sink_a.last, "vchan w: zzz", 12);
	/* A name as long as the line still leaves a line. */
	vchan_log(big, "tail");
	assert_int_equal(strlen(sink_a.last), 4);
	assert_string_equal(sink_a.last, "tail");
	vchan_set_logger(NULL, NULL);
}

/* NULL restores stderr: the line goes there, not to the old logger. */
static void test_null_restores_stderr(void **state)
{
	char buf[256] = "";
	int fds[2], saved;
	ssize_t n;

	(void)state;
	reset(&sink_a);
	vchan_set_logger(logger_keep, &sink_a);
	vchan_set_logger(NULL, &sink_a);
	assert_int_equal(pipe(fds), 0);
	saved = dup(2);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_int_equal(dup2(fds[1], 2), 2);
	vchan_log("s", "to stderr");
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_true(n > 0);
	assert_string_equal(buf, "vchan s: to stderr\n");
	assert_int_equal(atomic_load(&sink_a.lines), 0);
}

#define SWITCHES 2000000

static atomic_bool switching;

static void *switcher(void *arg)
{
	(void)arg;
	for (int i = 0; i < SWITCHES; i++) {
		if (i & 1)
			vchan_set_logger(logger_b, &sink_b);
		else
			vchan_set_logger(logger_a, &sink_a);
	}
	atomic_store(&switching, false);
	return NULL;
}

/* One thread switches between two loggers while another logs: every line
 * must reach a logger with that logger's own arg, never the other's. */
static void test_switch_while_logging(void **state)
{
	pthread_t t;
	unsigned long lines = 0;

	(void)state;
	reset(&sink_a);
	reset(&sink_b);
	vchan_set_logger(logger_a, &sink_a);
	atomic_store(&switching, true);
	assert_int_equal(pthread_create(&t, NULL, switcher, NULL), 0);
	while (atomic_load(&switching) || lines < 1000) {
		vchan_log("r", "line");
		lines++;
	}
	pthread_join(t, NULL);
	vchan_set_logger(NULL, NULL);
	assert_int_equal(atomic_load(&sink_a.lines) +
			 atomic_load(&sink_b.lines), lines);
	assert_int_equal(atomic_load(&sink_a.wrong_arg), 0);
	assert_int_equal(atomic_load(&sink_b.wrong_arg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_and_prefix),
		cmocka_unit_test(test_long_line_cut),
		cmocka_unit_test(test_null_restores_stderr),
		cmocka_unit_test(test_switch_while_logging),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
