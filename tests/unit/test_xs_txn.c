/* Unit tests: xenstore transactions (commit, conflict -> EAGAIN, abort,
 * isolation, watches at commit only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_xs_util.h"

static struct tconn *A, *B, *W;

/* Three connections of dom0: two writers and a watcher. */
const struct tgroup t_group = {
    .conns = {{&A, 0}, {&B, 0}, {&W, 0}},
};

static void test_commit_and_isolation(void **st)
{
    (void)st;
    assert_int_equal(t_write(A, 0, "/c/x", "old"), 0);
    uint32_t tx = t_txstart(A);
    assert_true(tx != 0);
    assert_int_equal(t_write(A, tx, "/c/x", "new"), 0);
    assert_int_equal(t_write(A, tx, "/c/y/z", "made"), 0);
    /* Read your own writes; others see nothing yet. */
    assert_int_equal(t_read(A, tx, "/c/x"), 3);
    assert_string_equal(A->buf, "new");
    assert_int_equal(t_read(B, 0, "/c/x"), 3);
    assert_string_equal(B->buf, "old");
    assert_int_equal(t_read(B, 0, "/c/y/z"), -ENOENT);
    /* A txn id belongs to its connection. */
    assert_int_equal(t_read(B, tx, "/c/x"), -ENOENT);
    assert_int_equal(t_txend(A, tx, true), 0);
    assert_int_equal(t_read(B, 0, "/c/x"), 3);
    assert_string_equal(B->buf, "new");
    assert_int_equal(t_read(B, 0, "/c/y/z"), 4);
    /* The id is gone after the end. */
    assert_int_equal(t_read(A, tx, "/c/x"), -ENOENT);
    assert_int_equal(t_txend(A, tx, true), -ENOENT);
}

static void test_conflict_eagain(void **st)
{
    (void)st;
    assert_int_equal(t_write(A, 0, "/k/v", "a"), 0);
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_read(A, tx, "/k/v"), 1);
    /* Someone else changes what the txn read. */
    assert_int_equal(t_write(B, 0, "/k/v", "b"), 0);
    /* The txn keeps its snapshot... */
    assert_int_equal(t_read(A, tx, "/k/v"), 1);
    assert_string_equal(A->buf, "a");
    assert_int_equal(t_write(A, tx, "/k/v", "c"), 0);
    /* ...and fails to commit. */
    assert_int_equal(t_txend(A, tx, true), -EAGAIN);
    assert_int_equal(t_read(B, 0, "/k/v"), 1);
    assert_string_equal(B->buf, "b");
}

static void test_conflict_on_created_node(void **st)
{
    (void)st;
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_read(A, tx, "/k/late"), -ENOENT);
    assert_int_equal(t_write(B, 0, "/k/late", "x"), 0);
    assert_int_equal(t_txend(A, tx, true), -EAGAIN);
}

static void test_unrelated_change_commits(void **st)
{
    (void)st;
    assert_int_equal(t_write(A, 0, "/u/one", "1"), 0);
    assert_int_equal(t_write(A, 0, "/u2/two", "2"), 0);
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_write(A, tx, "/u/one", "11"), 0);
    assert_int_equal(t_write(B, 0, "/u2/two", "22"), 0);
    assert_int_equal(t_txend(A, tx, true), 0);
    assert_int_equal(t_read(B, 0, "/u/one"), 2);
}

static void test_abort_discards(void **st)
{
    (void)st;
    assert_int_equal(t_write(A, 0, "/ab/v", "keep"), 0);
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_write(A, tx, "/ab/v", "drop"), 0);
    assert_int_equal(t_ok(A, XS_RM, tx, "/ab"), 0);
    assert_int_equal(t_read(A, tx, "/ab/v"), -ENOENT);
    assert_int_equal(t_txend(A, tx, false), 0);
    assert_int_equal(t_read(A, 0, "/ab/v"), 4);
    assert_string_equal(A->buf, "keep");
}

static void test_rm_in_txn(void **st)
{
    (void)st;
    assert_int_equal(t_write(A, 0, "/r/a/b", "1"), 0);
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_ok(A, XS_RM, tx, "/r/a"), 0);
    assert_int_equal(t_read(B, 0, "/r/a/b"), 1);
    assert_int_equal(t_txend(A, tx, true), 0);
    assert_int_equal(t_read(B, 0, "/r/a/b"), -ENOENT);
    assert_int_equal(t_read(B, 0, "/r/a"), -ENOENT);
    assert_int_equal(t_req(B, XS_DIRECTORY, 0, "/r", NULL), 0);
}

static void test_watches_fire_at_commit_only(void **st)
{
    (void)st;
    assert_int_equal(t_req(W, XS_WATCH, 0, "/wt", "tok", NULL), 3);
    t_clear_events(W);
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_write(A, tx, "/wt/x", "1"), 0);
    t_drain(W);
    assert_int_equal(W->nev, 0);
    assert_int_equal(t_txend(A, tx, true), 0);
    t_drain(W);
    assert_true(t_has_event(W, "/wt/x", "tok"));
    t_clear_events(W);
    tx = t_txstart(A);
    assert_int_equal(t_write(A, tx, "/wt/y", "1"), 0);
    assert_int_equal(t_txend(A, tx, false), 0);
    t_drain(W);
    assert_int_equal(W->nev, 0);
}

/* xenstored 4.17 keeps one watch flag per node a txn touched, so a
 * commit fires once per node however often the txn changed it (and keeps
 * one queued event per node meanwhile, not one per write). */
static void test_one_event_per_node(void **st)
{
    (void)st;
    assert_int_equal(t_write(A, 0, "/ev/x", "0"), 0);
    assert_int_equal(t_req(W, XS_WATCH, 0, "/ev", "tok", NULL), 3);
    t_clear_events(W);
    uint32_t tx = t_txstart(A);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(t_write(A, tx, "/ev/x", "1"), 0);
    assert_int_equal(t_write(A, tx, "/ev/y", "1"), 0);
    assert_int_equal(t_write(A, tx, "/ev/x", "2"), 0);
    struct xs_txn *t = xs_txn_find(A->c, tx);
    int queued = 0;
    for (struct xs_event *e = t->events; e; e = e->next)
        queued++;
    assert_int_equal(queued, 2);
    assert_int_equal(t_txend(A, tx, true), 0);
    t_drain(W);
    assert_int_equal(W->nev, 2);
    assert_string_equal(W->ev[0].path, "/ev/x");
    assert_string_equal(W->ev[1].path, "/ev/y");
    assert_int_equal(t_req(W, XS_UNWATCH, 0, "/ev", "tok", NULL), 3);
    assert_int_equal(t_ok(A, XS_RM, 0, "/ev"), 0);
}

/* A descendant's removal is an exact event, a write is not: merged, the
 * non-exact one wins, so a watch above still hears of the node. */
static void test_merged_event_non_exact_wins(void **st)
{
    (void)st;
    assert_int_equal(t_write(A, 0, "/ex/c", "0"), 0);
    assert_int_equal(t_req(W, XS_WATCH, 0, "/ex", "up", NULL), 3);
    t_clear_events(W);
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_ok(A, XS_RM, tx, "/ex"), 0);
    assert_int_equal(t_write(A, tx, "/ex/c", "1"), 0);
    assert_int_equal(t_txend(A, tx, true), 0);
    t_drain(W);
    assert_true(t_has_event(W, "/ex/c", "up"));
    assert_true(t_has_event(W, "/ex", "up"));
    assert_int_equal(W->nev, 2);
    assert_int_equal(t_req(W, XS_UNWATCH, 0, "/ex", "up", NULL), 3);
    assert_int_equal(t_ok(A, XS_RM, 0, "/ex"), 0);
}

/* A node a guest may read, written then removed in one txn: its merged
 * event keeps the removed node's perms, so the guest (who may not read
 * the parent) is still told it went (XSA-115 filter). */
static void test_merged_event_keeps_perms(void **st)
{
    (void)st;
    assert_int_equal(xs_domain_introduce(S, 5, "five", NULL), 0);
    struct tconn *g = t_conn(S, 5);
    assert_int_equal(t_write(A, 0, "/pv/n", "0"), 0);
    assert_int_equal(t_req(A, XS_SET_PERMS, 0, "/pv/n", "n0", "r5", NULL), 3);
    assert_int_equal(t_req(g, XS_WATCH, 0, "/pv/n", "g", NULL), 3);
    t_clear_events(g);
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_write(A, tx, "/pv/n", "1"), 0);
    assert_int_equal(t_ok(A, XS_RM, tx, "/pv/n"), 0);
    assert_int_equal(t_txend(A, tx, true), 0);
    t_drain(g);
    assert_int_equal(g->nev, 1);
    assert_string_equal(g->ev[0].path, "/pv/n");
    assert_int_equal(xs_domain_release(S, 5), 0);
    xs_conn_reap(S);
    free(g);
    assert_int_equal(t_ok(A, XS_RM, 0, "/pv"), 0);
}

/* Nodes a txn changed while a guest owned them or had an entry in them:
 * the guest goes and a new one of the same id comes before the commit.
 * The nodes it owned went with it (xs_domain_release), so a txn that
 * changed one conflicts; one that changed only a node with its entry
 * commits, and the new guest gets nothing from the old one's entries,
 * and its node count stays what it owns. */
static void test_commit_after_domid_reused(void **st)
{
    (void)st;
    char perms[64];
    assert_int_equal(xs_domain_introduce(S, 7, "old7", NULL), 0);
    assert_int_equal(t_write(A, 0, "/ru/own", "x"), 0);
    assert_int_equal(t_req(A, XS_SET_PERMS, 0, "/ru/own", "n7", NULL), 3);
    assert_int_equal(t_write(A, 0, "/ru/ent", "x"), 0);
    assert_int_equal(t_req(A, XS_SET_PERMS, 0, "/ru/ent", "n0", "r7", NULL),
                     3);
    uint32_t tx = t_txstart(A), tx2 = t_txstart(A);
    assert_int_equal(t_write(A, tx, "/ru/own", "y"), 0);
    assert_int_equal(t_write(A, tx2, "/ru/ent", "y"), 0);
    assert_int_equal(t_write(A, tx2, "/ru2/new", "y"), 0);
    assert_int_equal(t_req(A, XS_SET_PERMS, tx2, "/ru2/new", "n7", NULL), 3);
    assert_int_equal(xs_domain_release(S, 7), 0);
    assert_int_equal(t_read(A, 0, "/ru/own"), -ENOENT);
    assert_int_equal(xs_domain_introduce(S, 7, "new7", NULL), 0);
    unsigned nodes = xs_dom_find(S, 7)->nodes;
    assert_int_equal(t_txend(A, tx, true), -EAGAIN);
    assert_int_equal(t_txend(A, tx2, true), 0);
    /* Made in the txn for the old 7: nobody's now, so dom0's. */
    assert_int_equal(t_getperms(A, "/ru2/new", perms, sizeof(perms)), 0);
    assert_string_equal(perms, "n0");
    assert_int_equal(xs_dom_find(S, 7)->nodes, nodes);
    struct tconn *g = t_conn(S, 7);
    assert_int_equal(t_read(g, 0, "/ru/ent"), -EACCES);
    assert_int_equal(xs_domain_release(S, 7), 0);
    xs_conn_reap(S);
    free(g);
}

/* Xen 4.17 looks the request's txn up first: an id that is not open is
 * ENOENT, one that is cannot nest (EBUSY). */
static void test_start_inside_txn_busy(void **st)
{
    (void)st;
    uint32_t tx = t_txstart(A);
    assert_int_equal(t_req(A, XS_TRANSACTION_START, tx, "", NULL), -EBUSY);
    assert_int_equal(t_req(A, XS_TRANSACTION_START, tx + 1000, "", NULL),
                     -ENOENT);
    assert_int_equal(t_req(B, XS_TRANSACTION_START, tx, "", NULL), -ENOENT);
    assert_int_equal(t_req(A, XS_TRANSACTION_END, tx, "X", NULL), -EINVAL);
    assert_int_equal(t_txend(A, tx, false), 0);
}

/* Every type but WATCH and UNWATCH looks its transaction id up (ENOENT
 * for an unknown one); a guest's privileged request is refused first;
 * an unknown type before anything. */
static void test_unknown_txid_order(void **st)
{
    (void)st;
    uint32_t bad = 4242;
    assert_int_equal(t_req(A, XS_GET_DOMAIN_PATH, bad, "0", NULL), -ENOENT);
    assert_int_equal(t_req(A, XS_RESET_WATCHES, bad, "", NULL), -ENOENT);
    assert_int_equal(t_req(A, XS_IS_DOMAIN_INTRODUCED, bad, "0", NULL),
                     -ENOENT);
    assert_int_equal(t_req(A, XS_WATCH, bad, "/o", "tok", NULL), 3);
    assert_int_equal(t_req(A, XS_UNWATCH, bad, "/o", "tok", NULL), 3);
    assert_int_equal(t_raw(A, 999, bad, "", 0), -ENOSYS);
    assert_int_equal(xs_domain_introduce(S, 6, "six", NULL), 0);
    struct tconn *g = t_conn(S, 6);
    assert_int_equal(t_req(g, XS_IS_DOMAIN_INTRODUCED, bad, "0", NULL),
                     -EACCES);
    assert_int_equal(t_req(g, XS_GET_DOMAIN_PATH, bad, "6", NULL), -ENOENT);
    assert_int_equal(xs_domain_release(S, 6), 0);
    xs_conn_reap(S);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_isolation),
        cmocka_unit_test(test_conflict_eagain),
        cmocka_unit_test(test_conflict_on_created_node),
        cmocka_unit_test(test_unrelated_change_commits),
        cmocka_unit_test(test_abort_discards),
        cmocka_unit_test(test_rm_in_txn),
        cmocka_unit_test(test_watches_fire_at_commit_only),
        cmocka_unit_test(test_start_inside_txn_busy),
        cmocka_unit_test(test_unknown_txid_order),
        cmocka_unit_test(test_commit_after_domid_reused),
        cmocka_unit_test(test_one_event_per_node),
        cmocka_unit_test(test_merged_event_non_exact_wins),
        cmocka_unit_test(test_merged_event_keeps_perms),
    };
    return cmocka_run_group_tests(tests, t_group_setup, t_group_teardown);
}
