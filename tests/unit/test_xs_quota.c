/* Unit tests: xenstore quotas (nodes, watches, transactions, value size,
 * queued output), with xenstored's errors; dom0 is exempt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_xs_util.h"

static struct tconn *D0, *D1;

/* Small quotas, so that the tests reach them. */
static void small_limits(struct xs_limits *lim)
{
    lim->nodes_per_domain = 20;
    lim->watches_per_domain = 3;
    lim->transactions_per_domain = 2;
    lim->max_value_size = 16;
    lim->max_outstanding_per_conn = 8;
}

/* Guest 1, and a connection of dom0 and of guest 1. */
const struct tgroup t_group = {
    .limits = small_limits, .guests = 1,
    .conns = {{&D0, 0}, {&D1, 1}},
};

static void test_defaults(void **st)
{
    (void)st;
    struct xs_limits l;
    xs_limits_default(&l);
    assert_int_equal(l.nodes_per_domain, 1000);
    assert_int_equal(l.watches_per_domain, 128);
    assert_int_equal(l.transactions_per_domain, 10);
    assert_int_equal(l.max_value_size, 2048);
    assert_int_equal(l.max_path_len, 3072);
}

static void test_node_quota(void **st)
{
    (void)st;
    char p[64];
    int rc = 0, made = 0;
    for (int i = 0; i < 40 && rc == 0; i++) {
        snprintf(p, sizeof(p), "data/n%d", i);
        rc = t_write(D1, 0, p, "x");
        made += rc == 0;
    }
    assert_int_equal(rc, -ENOSPC);
    /* 6 nodes of the home (data/, error/ ...) are the domain's already. */
    assert_int_equal(made, 20 - 6);
    assert_int_equal(xs_dom_find(S, 1)->nodes, 20);
    /* Removing frees quota. */
    assert_int_equal(t_ok(D1, XS_RM, 0, "data/n0"), 0);
    assert_int_equal(t_write(D1, 0, "data/again", "x"), 0);
    /* Also counted inside a transaction. */
    uint32_t tx = t_txstart(D1);
    assert_int_equal(t_write(D1, tx, "data/intx", "x"), -ENOSPC);
    assert_int_equal(t_txend(D1, tx, false), 0);
    /* dom0 is exempt. */
    for (int i = 0; i < 40; i++) {
        snprintf(p, sizeof(p), "/dom0stuff/n%d", i);
        assert_int_equal(t_write(D0, 0, p, "x"), 0);
    }
}

static void test_value_size(void **st)
{
    (void)st;
    assert_int_equal(t_write(D1, 0, "data/n1", "0123456789abcdef"), 0);
    assert_int_equal(t_write(D1, 0, "data/n1", "0123456789abcdefg"), -ENOSPC);
    assert_int_equal(t_write(D0, 0, "/big", "0123456789abcdefg"), 0);
}

static void test_watch_quota(void **st)
{
    (void)st;
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/a", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/b", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/c", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/d", "t", NULL), -E2BIG);
    assert_int_equal(t_req(D1, XS_UNWATCH, 0, "data/a", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data/d", "t", NULL), 3);
    assert_int_equal(t_req(D1, XS_RESET_WATCHES, 0, "", NULL), 3);
    assert_int_equal(xs_dom_find(S, 1)->watches, 0);
    for (int i = 0; i < 10; i++) {
        char p[16];
        snprintf(p, sizeof(p), "/w%d", i);
        assert_int_equal(t_req(D0, XS_WATCH, 0, p, "t", NULL), 3);
    }
}

static void test_txn_quota(void **st)
{
    (void)st;
    uint32_t a = t_txstart(D1), b = t_txstart(D1);
    assert_true(a && b);
    assert_int_equal(t_req(D1, XS_TRANSACTION_START, 0, "", NULL), -ENOSPC);
    assert_int_equal(t_txend(D1, a, false), 0);
    uint32_t c = t_txstart(D1);
    assert_true(c != 0);
    assert_int_equal(t_txend(D1, b, false), 0);
    assert_int_equal(t_txend(D1, c, false), 0);
}

static void test_output_quota_cuts_reader(void **st)
{
    (void)st;
    struct tconn *lazy = t_conn(S, 1);
    assert_int_equal(t_req(lazy, XS_WATCH, 0, "data", "t", NULL), 3);
    /* Never drained from here on: the queue grows with every event. */
    for (int i = 0; i < 20 && !lazy->c->closed; i++)
        assert_int_equal(t_write(D0, 0, "/local/domain/1/data/n1", "x"), 0);
    assert_true(lazy->c->closed);
    xs_conn_reap(S);
    assert_int_equal(xs_dom_find(S, 1)->watches, 0);
    free(lazy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_node_quota),
        cmocka_unit_test(test_value_size),
        cmocka_unit_test(test_watch_quota),
        cmocka_unit_test(test_txn_quota),
        cmocka_unit_test(test_output_quota_cuts_reader),
    };
    return cmocka_run_group_tests(tests, t_group_setup, t_group_teardown);
}
