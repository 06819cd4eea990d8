/* Unit tests: xenstore watches (matching, initial event, removal, relative
 * paths, XSA-115 permission filter, special @introduceDomain and
 * @releaseDomain watches, identical queued events merged as XSA-326). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_xs_util.h"

static struct tconn *D0, *D1, *W0;

/* Guests 1 and 2; a connection of dom0, one of guest 1, and a second one
 * of dom0 (W0) that watches. */
const struct tgroup t_group = {
    .guests = 2, .conns = {{&D0, 0}, {&D1, 1}, {&W0, 0}},
};

static void test_initial_and_matching(void **st)
{
    (void)st;
    assert_int_equal(t_req(W0, XS_WATCH, 0, "/w/a", "T1", NULL), 3);
    assert_true(t_has_event(W0, "/w/a", "T1")); /* fired once up front */
    assert_int_equal(t_req(W0, XS_WATCH, 0, "/w/a", "T1", NULL), -EEXIST);
    t_clear_events(W0);
    assert_int_equal(t_write(D0, 0, "/w/a/b/c", "1"), 0);
    assert_int_equal(t_write(D0, 0, "/w/ab", "1"), 0);   /* not a child */
    assert_int_equal(t_write(D0, 0, "/w/other", "1"), 0);
    t_drain(W0);
    assert_true(t_has_event(W0, "/w/a/b/c", "T1"));
    assert_false(t_has_event(W0, "/w/ab", NULL));
    assert_false(t_has_event(W0, "/w/other", NULL));
    t_clear_events(W0);
    /* Removing an ancestor fires the watch on the removed descendant. */
    assert_int_equal(t_ok(D0, XS_RM, 0, "/w"), 0);
    t_drain(W0);
    assert_true(t_has_event(W0, "/w/a", "T1"));
    assert_int_equal(t_req(W0, XS_UNWATCH, 0, "/w/a", "T1", NULL), 3);
    assert_int_equal(t_req(W0, XS_UNWATCH, 0, "/w/a", "T1", NULL), -ENOENT);
    t_clear_events(W0);
    assert_int_equal(t_write(D0, 0, "/w/a", "1"), 0);
    t_drain(W0);
    assert_int_equal(W0->nev, 0);
}

static void test_relative_watch(void **st)
{
    (void)st;
    assert_int_equal(t_req(D1, XS_WATCH, 0, "data", "rel", NULL), 3);
    assert_true(t_has_event(D1, "data", "rel"));
    t_clear_events(D1);
    assert_int_equal(t_write(D0, 0, "/local/domain/1/data/k", "v"), 0);
    t_drain(D1);
    assert_true(t_has_event(D1, "data/k", "rel"));
    assert_int_equal(t_req(D1, XS_UNWATCH, 0, "data", "rel", NULL), 3);
}

static void test_xsa115_filter(void **st)
{
    (void)st;
    assert_int_equal(t_ok(D0, XS_MKDIR, 0, "/pub"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/pub", "n0", "r1", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "/", "all", NULL), 3);
    t_clear_events(D1);
    assert_int_equal(t_write(D0, 0, "/local/domain/2/data/secret", "s"), 0);
    assert_int_equal(t_write(D0, 0, "/pub/news", "n"), 0);
    t_drain(D1);
    assert_false(t_has_event(D1, "/local/domain/2/data/secret", NULL));
    assert_true(t_has_event(D1, "/pub/news", "all"));
    t_clear_events(D1);
    /* Removal of a node it could read: still told. */
    assert_int_equal(t_ok(D0, XS_RM, 0, "/pub/news"), 0);
    t_drain(D1);
    assert_true(t_has_event(D1, "/pub/news", "all"));
    assert_int_equal(t_req(D1, XS_UNWATCH, 0, "/", "all", NULL), 3);
}

static void test_special_watches(void **st)
{
    (void)st;
    assert_int_equal(t_req(W0, XS_WATCH, 0, "@introduceDomain", "in", NULL), 3);
    assert_int_equal(t_req(W0, XS_WATCH, 0, "@releaseDomain", "out", NULL), 3);
    assert_int_equal(t_req(D1, XS_WATCH, 0, "@introduceDomain", "in1", NULL), 3);
    t_clear_events(W0);
    t_clear_events(D1);
    assert_int_equal(xs_domain_introduce(S, 7, "seven", NULL), 0);
    t_drain(W0);
    t_drain(D1);
    assert_true(t_has_event(W0, "@introduceDomain", "in"));
    assert_false(t_has_event(D1, "@introduceDomain", NULL)); /* dom0 only */
    /* Only dom0 (the owner) may open the special node to others. */
    assert_int_equal(t_req(D1, XS_SET_PERMS, 0, "@introduceDomain", "n0", "r1",
                           NULL), -EACCES);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "@introduceDomain", "n0", "r1",
                           NULL), 3);
    /* Whose perms no one may read back, not even dom0 (Xen 4.17). */
    char perms[64];
    assert_int_equal(t_getperms(D0, "@introduceDomain", perms, sizeof(perms)),
                     -EINVAL);
    assert_int_equal(t_getperms(D1, "@introduceDomain", perms, sizeof(perms)),
                     -EINVAL);
    t_clear_events(D1);
    assert_int_equal(xs_domain_introduce(S, 8, "eight", NULL), 0);
    t_drain(D1);
    assert_true(t_has_event(D1, "@introduceDomain", "in1"));
    t_clear_events(W0);
    assert_int_equal(xs_domain_release(S, 7), 0);
    t_drain(W0);
    assert_true(t_has_event(W0, "@releaseDomain", "out"));
    assert_int_equal(t_read(D0, 0, "/local/domain/7"), -ENOENT);
    assert_int_equal(xs_domain_release(S, 7), -ENOENT);
    assert_int_equal(xs_domain_release(S, 8), 0);
}

/* What conformance scenario domain-death relies on, as in Xen 4.17: a guest
 * may set a @releaseDomain watch (and gets its initial event) but is sent
 * no death until dom0 gives it read on the special node; it may not open
 * the node itself, nor ask IS_DOMAIN_INTRODUCED; a dead peer's node then
 * reads as EACCES (its home is gone, /local/domain is not the guest's). */
static void test_release_needs_read_perm(void **st)
{
    (void)st;
    assert_int_equal(t_req(D1, XS_WATCH, 0, "@releaseDomain", "rel1", NULL), 3);
    assert_true(t_has_event(D1, "@releaseDomain", "rel1"));
    t_clear_events(D1);
    assert_int_equal(xs_domain_introduce(S, 11, "eleven", NULL), 0);
    assert_int_equal(xs_domain_release(S, 11), 0);
    t_drain(D1);
    assert_false(t_has_event(D1, "@releaseDomain", NULL));
    assert_int_equal(t_req(D1, XS_SET_PERMS, 0, "@releaseDomain", "n0", "r1",
                           NULL), -EACCES);
    /* Nor may it learn whether it may read the node: EINVAL, granted or
     * not (below), as to dom0. */
    char perms[64];
    assert_int_equal(t_getperms(D1, "@releaseDomain", perms, sizeof(perms)),
                     -EINVAL);
    assert_int_equal(t_getperms(D0, "@releaseDomain", perms, sizeof(perms)),
                     -EINVAL);
    assert_int_equal(t_req(D1, XS_IS_DOMAIN_INTRODUCED, 0, "2", NULL), -EACCES);

    assert_int_equal(xs_domain_introduce(S, 12, "twelve", NULL), 0);
    struct tconn *d12 = t_conn(S, 12);
    assert_int_equal(t_write(d12, 0, "data/alive", "1"), 0);
    assert_int_equal(t_req(d12, XS_SET_PERMS, 0, "data/alive", "n12", "r1",
                           NULL), 3);
    assert_int_equal(t_read(D1, 0, "/local/domain/12/data/alive"), 1);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "@releaseDomain", "n0", "r1",
                           NULL), 3);
    assert_int_equal(t_getperms(D1, "@releaseDomain", perms, sizeof(perms)),
                     -EINVAL);
    t_clear_events(D1);
    assert_int_equal(xs_domain_release(S, 12), 0);
    t_drain(D1);
    assert_true(t_has_event(D1, "@releaseDomain", "rel1"));
    assert_int_equal(t_read(D1, 0, "/local/domain/12/data/alive"), -EACCES);
    xs_conn_reap(S);
    free(d12);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "@releaseDomain", "n0", NULL),
                     3);
    assert_int_equal(t_req(D1, XS_UNWATCH, 0, "@releaseDomain", "rel1", NULL),
                     3);
}

static void test_release_drops_watches(void **st)
{
    (void)st;
    assert_int_equal(xs_domain_introduce(S, 9, "nine", NULL), 0);
    struct tconn *d9 = t_conn(S, 9);
    assert_int_equal(t_req(d9, XS_WATCH, 0, "data", "x", NULL), 3);
    assert_int_equal(xs_dom_find(S, 9)->watches, 1);
    assert_int_equal(xs_domain_release(S, 9), 0);
    assert_true(d9->c->closed);
    xs_conn_reap(S);
    /* A new domain 9 starts with a clean slate. */
    assert_int_equal(xs_domain_introduce(S, 9, "nine-again", NULL), 0);
    assert_int_equal(xs_dom_find(S, 9)->watches, 0);
    assert_int_equal(xs_domain_release(S, 9), 0);
    free(d9);
}

/* The daemon may release a domain and introduce one of the same id in one
 * round of its loop, before the cut connections are reaped: what they held
 * must not be taken from the new domain's counters when they are. */
static void test_release_then_introduce_before_reap(void **st)
{
    (void)st;
    assert_int_equal(xs_domain_introduce(S, 10, "ten", NULL), 0);
    struct tconn *old = t_conn(S, 10);
    assert_int_equal(t_req(old, XS_WATCH, 0, "data", "old", NULL), 3);
    assert_true(t_txstart(old) != 0);
    assert_int_equal(xs_domain_release(S, 10), 0);
    assert_int_equal(xs_domain_introduce(S, 10, "ten-again", NULL), 0);
    struct tconn *now = t_conn(S, 10);
    assert_int_equal(t_req(now, XS_WATCH, 0, "data", "new", NULL), 3);
    assert_true(t_txstart(now) != 0);
    xs_conn_reap(S);
    assert_int_equal(xs_dom_find(S, 10)->watches, 1);
    assert_int_equal(xs_dom_find(S, 10)->transactions, 1);
    assert_int_equal(xs_domain_release(S, 10), 0);
    xs_conn_reap(S);
    free(old);
    free(now);
}

static void test_reset_watches(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    assert_int_equal(t_req(c, XS_WATCH, 0, "/rw", "t", NULL), 3);
    assert_int_equal(t_req(c, XS_RESET_WATCHES, 0, "", NULL), 3);
    t_clear_events(c);
    assert_int_equal(t_write(D0, 0, "/rw/x", "1"), 0);
    t_drain(c);
    assert_int_equal(c->nev, 0);
    free(c);
}

/* Events of a path (and token, unless NULL) that t has taken. */
static int count_events(const struct tconn *t, const char *path,
                        const char *token)
{
    int n = 0;
    for (int i = 0; i < t->nev; i++)
        n += strcmp(t->ev[i].path, path) == 0 &&
             (!token || strcmp(t->ev[i].token, token) == 0);
    return n;
}

/* Xen 4.17 (XSA-326): an event identical to one still queued for the
 * connection is dropped; one already taken is not there to merge with, a
 * different path or token is not identical, and the order of the queue
 * is that of the first of each. */
static void test_identical_queued_events_merge(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    assert_int_equal(t_req(c, XS_WATCH, 0, "/m", "a", NULL), 3);
    assert_int_equal(t_req(c, XS_WATCH, 0, "/m/x", "b", NULL), 3);
    t_clear_events(c);
    for (int i = 0; i < 10; i++)
        assert_int_equal(t_write(D0, 0, "/m/x", "1"), 0);
    assert_int_equal(t_write(D0, 0, "/m/y", "1"), 0);
    assert_int_equal(t_write(D0, 0, "/m/x", "2"), 0);
    assert_int_equal((int)c->c->out_count, 3);  /* x for a and b, y */
    t_drain(c);
    assert_int_equal(c->nev, 3);
    assert_int_equal(count_events(c, "/m/x", "a"), 1);
    assert_int_equal(count_events(c, "/m/x", "b"), 1);
    assert_string_equal(c->ev[2].path, "/m/y");
    /* Taken: the next change is queued again. */
    assert_int_equal(t_write(D0, 0, "/m/x", "3"), 0);
    t_drain(c);
    assert_int_equal(count_events(c, "/m/x", "a"), 2);
    /* A removal while a write's event is queued: one event, after it. */
    t_clear_events(c);
    assert_int_equal(t_write(D0, 0, "/m/x", "4"), 0);
    assert_int_equal(t_ok(D0, XS_RM, 0, "/m/x"), 0);
    t_drain(c);
    assert_int_equal(count_events(c, "/m/x", "a"), 1);
    assert_int_equal(t_read(c, 0, "/m/x"), -ENOENT);
    assert_int_equal(t_ok(D0, XS_RM, 0, "/m"), 0);
    free(c);
}

/* Events of special nodes are never merged: their watchers count them
 * (one @releaseDomain per dead domain). */
static void test_special_events_not_merged(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    assert_int_equal(t_req(c, XS_WATCH, 0, "@releaseDomain", "r", NULL), 3);
    t_clear_events(c);
    assert_int_equal(xs_domain_introduce(S, 11, "eleven", NULL), 0);
    assert_int_equal(xs_domain_introduce(S, 12, "twelve", NULL), 0);
    assert_int_equal(xs_domain_release(S, 11), 0);
    assert_int_equal(xs_domain_release(S, 12), 0);
    t_drain(c);
    assert_int_equal(count_events(c, "@releaseDomain", "r"), 2);
    xs_conn_reap(S);
    free(c);
}

/* Special events fire only the watches on exactly their name, as Xen's
 * fire_special_watches: a watch on "/" sees the domain's nodes come and
 * go, never @introduceDomain or @releaseDomain. */
static void test_special_events_exact(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    assert_int_equal(t_req(c, XS_WATCH, 0, "/", "all", NULL), 3);
    assert_int_equal(t_req(c, XS_WATCH, 0, "@introduceDomain", "in", NULL),
                     3);
    assert_int_equal(t_req(c, XS_WATCH, 0, "@releaseDomain", "out", NULL),
                     3);
    t_clear_events(c);
    assert_int_equal(xs_domain_introduce(S, 13, "thirteen", NULL), 0);
    t_drain(c);
    assert_true(t_has_event(c, "/local/domain/13", "all"));
    assert_int_equal(count_events(c, "@introduceDomain", "in"), 1);
    assert_int_equal(count_events(c, "@introduceDomain", NULL), 1);
    t_clear_events(c);
    assert_int_equal(xs_domain_release(S, 13), 0);
    t_drain(c);
    assert_true(t_has_event(c, "/local/domain/13", "all"));
    assert_int_equal(count_events(c, "@releaseDomain", "out"), 1);
    assert_int_equal(count_events(c, "@releaseDomain", NULL), 1);
    xs_conn_reap(S);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_and_matching),
        cmocka_unit_test(test_relative_watch),
        cmocka_unit_test(test_xsa115_filter),
        cmocka_unit_test(test_special_watches),
        cmocka_unit_test(test_release_needs_read_perm),
        cmocka_unit_test(test_release_drops_watches),
        cmocka_unit_test(test_release_then_introduce_before_reap),
        cmocka_unit_test(test_reset_watches),
        cmocka_unit_test(test_identical_queued_events_merge),
        cmocka_unit_test(test_special_events_not_merged),
        cmocka_unit_test(test_special_events_exact),
    };
    return cmocka_run_group_tests(tests, t_group_setup, t_group_teardown);
}
