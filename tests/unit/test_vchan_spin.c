/* SPDX-License-Identifier: MIT */
/* The adaptive wait: the busy and yield phases' scores (spin.c), and the
 * yield phase at work when both ends share one CPU (wait.c). */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vchan_priv.h"

/* One CPU: the busy phase is off from the start, the yield phase on. */
static void test_busy_phase_off_on_one_cpu(void **state)
{
	struct vchan_spin s;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	vchan_spin_init(&s, 1000, true);
	/* spin.c counts 2 when the count is unknown. */
	assert_int_equal(s.budget_ns, cpus == 1 ? 0 : 1000);
	assert_int_equal(vchan_yield_budget(&s), 1000);
	/* A fixed spin is what was asked for, whatever the CPUs. */
	vchan_spin_init(&s, 1000, false);
	assert_int_equal(vchan_spin_budget(&s), 1000);
}

/* Misses switch a phase off for 64 waits, then it is probed again.  The
 * score does not depend on the CPUs: on a one-CPU machine the budget is
 * put back by hand, so that this runs there too instead of skipping. */
static void test_busy_phase_backs_off_and_probes(void **state)
{
	struct vchan_spin s;
	int i;

	(void)state;
	vchan_spin_init(&s, 1000, true);
	s.budget_ns = 1000;
	for (i = 0; i < 4; i++) {
		assert_int_equal(vchan_spin_budget(&s), 1000);
		vchan_spin_result(&s, false);
	}
	for (i = 0; i < 64; i++)
		assert_int_equal(vchan_spin_budget(&s), 0);
	assert_int_equal(vchan_spin_budget(&s), 1000);
	assert_int_equal(s.busy.misses, 4);
	/* The yield phase keeps its own score. */
	assert_int_equal(vchan_yield_budget(&s), 1000);
}

static void test_yield_phase_backs_off_doubling(void **state)
{
	struct vchan_spin s;
	int i;

	(void)state;
	vchan_spin_init(&s, 500, true);
	for (i = 0; i < 4; i++)
		vchan_yield_result(&s, false);
	for (i = 0; i < 64; i++)
		assert_int_equal(vchan_yield_budget(&s), 0);
	assert_int_equal(vchan_yield_budget(&s), 500);
	for (i = 0; i < 4; i++)
		vchan_yield_result(&s, false);
	for (i = 0; i < 128; i++)
		assert_int_equal(vchan_yield_budget(&s), 0);
	assert_int_equal(vchan_yield_budget(&s), 500);
	/* Hits keep it on. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(vchan_yield_budget(&s), 500);
		vchan_yield_result(&s, true);
	}
	assert_int_equal(s.yield.hits, 100);
}

static void test_fixed_spin_never_yields(void **state)
{
	struct vchan_spin s;
	int i;

	(void)state;
	vchan_spin_init(&s, 1000, false);
	assert_int_equal(vchan_yield_budget(&s), 0);
	for (i = 0; i < 100; i++) {
		assert_int_equal(vchan_spin_budget(&s), 1000);
		vchan_spin_result(&s, false);
	}
	vchan_spin_init(&s, 0, true);
	assert_int_equal(vchan_spin_budget(&s), 0);
	assert_int_equal(vchan_yield_budget(&s), 0);
	assert_false(vchan_spin_enabled(&s));
}

#define ROUNDS 2000

static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	assert_int_equal(pthread_setaffinity_np(pthread_self(), sizeof(set),
						&set), 0);
}

static void *echo(void *arg)
{
	struct vchan *v = arg;
	uint8_t buf[64];
	int i;

	pin_cpu0();
	for (i = 0; i < ROUNDS; i++) {
		struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

		if (vchan_recv(v, &m, 10000) < 0 ||
		    vchan_send(v, m.type, 0, buf, m.len, 10000) < 0)
			break;
	}
	return NULL;
}

/* Both ends on one CPU: after the busy phase has switched itself off, the
 * round trips go by yielding, not by notifications and sleeps. */
static void test_one_cpu_round_trips_yield(void **state)
{
	struct vchan_config cfg;
	struct vchan *srv, *cli;
	struct vchan_stats st;
	pthread_t t;
	uint8_t buf[64] = { 1 };
	int i;

	(void)state;
	vchan_config_init(&cfg);
	assert_int_equal(vchan_shm_pair(&cfg, &cfg, &srv, &cli), 0);
	assert_int_equal(pthread_create(&t, NULL, echo, srv), 0);
	pin_cpu0();
	for (i = 0; i < ROUNDS; i++) {
		struct vchan_msg m = { .buf = buf, .len = sizeof(buf) };

		assert_int_equal(vchan_send(cli, 7, 0, buf, sizeof(buf),
					    10000), 0);
		assert_int_equal(vchan_recv(cli, &m, 10000), 0);
		assert_int_equal(m.type, 7);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(vchan_get_stats(cli, &st), 0);
	/* Loose bounds: other work on the CPU may steal some yields. */
	assert_true(st.yield_hits >= ROUNDS / 4);
	assert_true(st.notifies < ROUNDS / 2);
	vchan_close(cli);
	vchan_close(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_busy_phase_off_on_one_cpu),
		cmocka_unit_test(test_busy_phase_backs_off_and_probes),
		cmocka_unit_test(test_yield_phase_backs_off_doubling),
		cmocka_unit_test(test_fixed_spin_never_yields),
		cmocka_unit_test(test_one_cpu_round_trips_yield),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
