/* Unit tests: xenstore tree, paths and permissions (Xen 4.17 semantics,
 * including the domain-generation rule for permission entries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_xs_util.h"

static struct tconn *D0, *D1, *D2;

/* Guests 1 and 2, and a connection of dom0 and of each guest. */
const struct tgroup t_group = {
    .guests = 2, .conns = {{&D0, 0}, {&D1, 1}, {&D2, 2}},
};

static void test_basic_rw(void **st)
{
    (void)st;
    assert_int_equal(t_write(D0, 0, "/t/a/b", "hello"), 0);
    assert_int_equal(t_read(D0, 0, "/t/a/b"), 5);
    assert_string_equal(D0->buf, "hello");
    /* Intermediate nodes exist, empty. */
    assert_int_equal(t_read(D0, 0, "/t/a"), 0);
    assert_int_equal(t_req(D0, XS_DIRECTORY, 0, "/t/a", NULL), 2);
    assert_string_equal(D0->buf, "b");
    /* dom0's relative paths live under /local/domain/0. */
    assert_int_equal(t_write(D0, 0, "rel", "x"), 0);
    assert_int_equal(t_read(D0, 0, "/local/domain/0/rel"), 1);
    assert_int_equal(t_ok(D0, XS_RM, 0, "/t"), 0);
    assert_int_equal(t_read(D0, 0, "/t/a/b"), -ENOENT);
    assert_int_equal(t_read(D0, 0, "/t"), -ENOENT);
}

static void test_rm_and_mkdir_rules(void **st)
{
    (void)st;
    assert_int_equal(t_write(D0, 0, "/m/v", "keep"), 0);
    assert_int_equal(t_ok(D0, XS_MKDIR, 0, "/m/v"), 0);
    assert_int_equal(t_read(D0, 0, "/m/v"), 4); /* value untouched */
    assert_int_equal(t_ok(D0, XS_RM, 0, "/m/none"), 0);   /* parent there */
    assert_int_equal(t_ok(D0, XS_RM, 0, "/m/no/ne"), -ENOENT);
    assert_int_equal(t_ok(D0, XS_RM, 0, "/"), -EINVAL);
    assert_int_equal(t_ok(D0, XS_RM, 0, "/m"), 0);
}

static void test_invalid_paths(void **st)
{
    (void)st;
    assert_int_equal(t_write(D0, 0, "/bad//x", "1"), -EINVAL);
    assert_int_equal(t_write(D0, 0, "/bad/", "1"), -EINVAL);
    assert_int_equal(t_write(D0, 0, "/bad/sp ace", "1"), -EINVAL);
    assert_int_equal(t_write(D0, 0, "/bad/dot.x", "1"), -EINVAL);
    assert_int_equal(t_read(D0, 0, ""), -EINVAL);
    char longp[3200];
    memset(longp, 'a', sizeof(longp));
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(t_write(D0, 0, longp, "1"), -EINVAL);
    /* Below a domain's home, 2048 bytes of relative path are allowed. */
    char okp[2100];
    int n = snprintf(okp, sizeof(okp), "data/");
    memset(okp + n, 'b', 2000);
    okp[n + 2000] = '\0';
    assert_int_equal(t_write(D1, 0, okp, "1"), 0);
}

static void test_domain_layout(void **st)
{
    (void)st;
    char perms[256];
    assert_int_equal(t_read(D0, 0, "/local/domain/1/name"), 6);
    assert_string_equal(D0->buf, "guest1");
    assert_int_equal(t_read(D0, 0, "/local/domain/1/domid"), 1);
    assert_string_equal(D0->buf, "1");
    assert_int_equal(t_read(D0, 0, "/local/domain/0/name"), 8);
    assert_string_equal(D0->buf, "Domain-0");
    assert_int_equal(t_getperms(D0, "/local/domain/1", perms, sizeof(perms)), 0);
    assert_string_equal(perms, "n0 r1");
    assert_int_equal(t_getperms(D0, "/local/domain/1/data", perms,
                                sizeof(perms)), 0);
    assert_string_equal(perms, "n1");
    /* The domain reads its home, writes data/, not its home itself. */
    assert_int_equal(t_read(D1, 0, "name"), 6);
    assert_int_equal(t_write(D1, 0, "data/k", "v"), 0);
    assert_int_equal(t_read(D1, 0, "/local/domain/1/data/k"), 1);
    assert_int_equal(t_write(D1, 0, "newkey", "v"), -EACCES);
    assert_int_equal(t_read(D1, 0, "/local/domain/2/name"), -EACCES);
    assert_int_equal(t_write(D1, 0, "/local/domain/2/data/x", "v"), -EACCES);
    assert_int_equal(t_req(D1, XS_GET_DOMAIN_PATH, 0, "7", NULL), 16);
    assert_string_equal(D1->buf, "/local/domain/7");
    /* dom0 may ask whether a domain is introduced; a guest may not, even
     * about itself (XS_FLAG_PRIV in Xen 4.17's xenstored). */
    assert_int_equal(t_req(D0, XS_IS_DOMAIN_INTRODUCED, 0, "2", NULL), 2);
    assert_string_equal(D0->buf, "T");
    assert_int_equal(t_req(D0, XS_IS_DOMAIN_INTRODUCED, 0, "9", NULL), 2);
    assert_string_equal(D0->buf, "F");
    assert_int_equal(t_req(D1, XS_IS_DOMAIN_INTRODUCED, 0, "2", NULL), -EACCES);
    assert_int_equal(t_req(D1, XS_IS_DOMAIN_INTRODUCED, 0, "1", NULL), -EACCES);
    assert_int_equal(t_req(D1, XS_IS_DOMAIN_INTRODUCED, 0, "9", NULL), -EACCES);
    assert_int_equal(t_req(D1, XS_INTRODUCE, 0, "9", "0", "1", NULL), -EACCES);
    assert_int_equal(t_req(D1, XS_RELEASE, 0, "2", NULL), -EACCES);
}

static void test_enoent_vs_eacces(void **st)
{
    (void)st;
    /* Missing node below a readable parent: ENOENT; below an unreadable
     * one: EACCES (do not leak what exists). */
    assert_int_equal(t_read(D1, 0, "/local/domain/1/nothere"), -ENOENT);
    assert_int_equal(t_read(D1, 0, "/local/domain/2/nothere"), -EACCES);
    assert_int_equal(t_read(D1, 0, "/nothere"), -EACCES);
}

static void test_inherit_and_owner(void **st)
{
    (void)st;
    char perms[256];
    assert_int_equal(t_ok(D0, XS_MKDIR, 0, "/shared"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/shared", "n0", "b1", "r2",
                           NULL), 3);
    /* dom0's new node inherits the parent's list as is. */
    assert_int_equal(t_write(D0, 0, "/shared/fromdom0", "x"), 0);
    assert_int_equal(t_getperms(D0, "/shared/fromdom0", perms, sizeof(perms)),
                     0);
    assert_string_equal(perms, "n0 b1 r2");
    /* An unprivileged creator becomes the owner; the rest is inherited. */
    assert_int_equal(t_write(D1, 0, "/shared/a/b", "y"), 0);
    assert_int_equal(t_getperms(D0, "/shared/a/b", perms, sizeof(perms)), 0);
    assert_string_equal(perms, "n1 b1 r2");
    assert_int_equal(t_getperms(D0, "/shared/a", perms, sizeof(perms)), 0);
    assert_string_equal(perms, "n1 b1 r2");
    /* dom2 may read but not write. */
    assert_int_equal(t_read(D2, 0, "/shared/a/b"), 1);
    assert_int_equal(t_write(D2, 0, "/shared/a/b", "z"), -EACCES);
    assert_int_equal(t_write(D2, 0, "/shared/new", "z"), -EACCES);
    /* Only the owner (or dom0) sets perms; the owner cannot give it away. */
    assert_int_equal(t_req(D2, XS_SET_PERMS, 0, "/shared/a/b", "b2", NULL),
                     -EACCES);
    assert_int_equal(t_req(D1, XS_SET_PERMS, 0, "/shared/a/b", "n2", NULL),
                     -EPERM);
    assert_int_equal(t_req(D1, XS_SET_PERMS, 0, "/shared/a/b", "n1", "b2",
                           NULL), 3);
    assert_int_equal(t_write(D2, 0, "/shared/a/b", "z"), 0);
    /* Bad perm strings, owner that does not exist. */
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/shared", "x0", NULL),
                     -EINVAL);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/shared", "r", NULL),
                     -EINVAL);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/shared", NULL), -EINVAL);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/shared", "n77", NULL),
                     -ENOENT);
    /* Too many entries for an unprivileged domain. */
    assert_int_equal(t_req(D1, XS_SET_PERMS, 0, "/shared/a", "n1", "r0", "r2",
                           "r0", "r2", "r0", NULL), -ENOSPC);
}

static void test_entry_for_future_domain_ignored(void **st)
{
    (void)st;
    /* Written before domain 5 exists: the r5 entry never grants 5. */
    assert_int_equal(t_write(D0, 0, "/future", "secret"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/future", "n0", "r5", NULL),
                     3);
    assert_int_equal(xs_domain_introduce(S, 5, "late", NULL), 0);
    struct tconn *d5 = t_conn(S, 5);
    assert_int_equal(t_read(d5, 0, "/future"), -EACCES);
    /* Still not after the node's value changes... */
    assert_int_equal(t_write(D0, 0, "/future", "secret2"), 0);
    assert_int_equal(t_read(d5, 0, "/future"), -EACCES);
    /* ...only once dom0 sets the perms again, now that 5 exists. */
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/future", "n0", "r5", NULL),
                     3);
    assert_int_equal(t_read(d5, 0, "/future"), 7);
    assert_int_equal(xs_domain_release(S, 5), 0);
    free(d5);
}

static void test_reused_domid_gets_nothing(void **st)
{
    (void)st;
    assert_int_equal(xs_domain_introduce(S, 3, "old3", NULL), 0);
    assert_int_equal(t_write(D0, 0, "/old3r", "x"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/old3r", "n0", "r3", NULL), 3);
    assert_int_equal(t_write(D0, 0, "/old3own", "x"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/old3own", "n3", NULL), 3);
    struct tconn *a = t_conn(S, 3);
    assert_int_equal(t_read(a, 0, "/old3r"), 1);
    assert_int_equal(t_write(a, 0, "/old3own", "mine"), 0);
    assert_int_equal(xs_domain_release(S, 3), 0);
    assert_true(a->c->closed); /* the dead domain's connection is cut */
    /* A rewrite while 3 is gone must not revive the entry later. */
    assert_int_equal(t_write(D0, 0, "/old3r", "y"), 0);
    assert_int_equal(xs_domain_introduce(S, 3, "new3", NULL), 0);
    struct tconn *b = t_conn(S, 3);
    assert_int_equal(t_read(b, 0, "/old3r"), -EACCES);
    assert_int_equal(t_read(b, 0, "/old3own"), -EACCES);
    assert_int_equal(t_write(b, 0, "/old3own", "hijack"), -EACCES);
    assert_int_equal(xs_domain_release(S, 3), 0);
    xs_conn_reap(S);
    free(a);
    free(b);
}

/* A released domain's nodes go with it wherever they are, each with its
 * subtree (another owner's under it too), as xenstored's
 * domain_tree_remove() (no -K); watchers hear of it. */
static void test_released_domain_nodes_go(void **st)
{
    (void)st;
    assert_int_equal(xs_domain_introduce(S, 3, "gone3", NULL), 0);
    struct tconn *a = t_conn(S, 3);
    assert_int_equal(t_write(D0, 0, "/reg", ""), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/reg", "n0", "b3", NULL), 3);
    assert_int_equal(t_write(a, 0, "/reg/svc", "hello"), 0);
    assert_int_equal(t_write(D0, 0, "/reg/svc/dom0s", "x"), 0);
    assert_int_equal(t_write(D0, 0, "/reg/kept", "k"), 0);
    assert_int_equal(t_req(D0, XS_WATCH, 0, "/reg", "reg", NULL), 3);
    D0->nev = 0;
    assert_int_equal(xs_domain_release(S, 3), 0);
    t_drain(D0);
    assert_true(t_has_event(D0, "/reg/svc", "reg"));
    assert_int_equal(t_read(D0, 0, "/reg/svc"), -ENOENT);
    assert_int_equal(t_read(D0, 0, "/reg/svc/dom0s"), -ENOENT);
    assert_int_equal(t_read(D0, 0, "/reg/kept"), 1);
    assert_int_equal(t_read(D0, 0, "/reg"), 0);
    t_clear_events(D0);
    assert_int_equal(t_req(D0, XS_UNWATCH, 0, "/reg", "reg", NULL), 3);
    xs_conn_reap(S);
    free(a);
}

/* The same inside a transaction: perms set in it name the domain that
 * existed then; one introduced under the same domid before the commit gets
 * nothing from them, and the node counts go to no one (the owner is gone). */
static void test_reused_domid_in_txn_gets_nothing(void **st)
{
    (void)st;
    char perms[64];
    assert_int_equal(xs_domain_introduce(S, 3, "old3", NULL), 0);
    /* A node the old 3 may read, made readable to dom0 only in the txn. */
    assert_int_equal(t_write(D0, 0, "/tx3was", "x"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, 0, "/tx3was", "n0", "r3", NULL),
                     3);
    uint32_t tx = t_txstart(D0);
    assert_true(tx != 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, tx, "/tx3was", "n0", NULL), 3);
    assert_int_equal(t_write(D0, tx, "/tx3r", "x"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, tx, "/tx3r", "n0", "r3", NULL),
                     3);
    assert_int_equal(t_write(D0, tx, "/tx3own", "x"), 0);
    assert_int_equal(t_req(D0, XS_SET_PERMS, tx, "/tx3own", "n3", NULL), 3);
    assert_int_equal(t_write(D0, tx, "/tx3own/child", "c"), 0);
    assert_int_equal(xs_domain_release(S, 3), 0);
    xs_conn_reap(S);
    assert_int_equal(xs_domain_introduce(S, 3, "new3", NULL), 0);
    struct xs_dom *d3 = xs_dom_find(S, 3);
    unsigned nodes0 = d3->nodes;
    /* A change after the new 3 came must not revive the entries. */
    assert_int_equal(t_write(D0, tx, "/tx3r", "y"), 0);
    struct tconn *b = t_conn(S, 3);
    assert_int_equal(t_req(b, XS_WATCH, 0, "/tx3was", "was", NULL), 3);
    b->nev = 0; /* the event a new watch fires at once */
    assert_int_equal(t_txend(D0, tx, true), 0);
    /* The commit's event for /tx3was carries its old perms, "r3" for the
     * old 3: the new 3 must not hear of it. */
    t_drain(b);
    assert_false(t_has_event(b, "/tx3was", NULL));
    assert_int_equal(t_read(b, 0, "/tx3r"), -EACCES);
    assert_int_equal(t_read(b, 0, "/tx3own"), -EACCES);
    assert_int_equal(t_write(b, 0, "/tx3own", "hijack"), -EACCES);
    assert_int_equal(t_read(b, 0, "/tx3own/child"), -EACCES);
    assert_int_equal(t_getperms(D0, "/tx3own", perms, sizeof(perms)), 0);
    assert_string_equal(perms, "n0");
    /* The txn made two nodes for the old 3: the new 3 owns none of them. */
    assert_int_equal(d3->nodes, nodes0);
    assert_int_equal(xs_domain_release(S, 3), 0);
    xs_conn_reap(S);
    free(b);
}

/* DIRECTORY_PART as libxenstore's xs_directory_part() reads it: it asks
 * from the offset of the bytes it holds, appends each chunk after the
 * generation, and stops at the first chunk that leaves its bytes ending
 * in "\0\0" (whose last NUL it drops); a changed generation starts over.
 * Returns the names it would return, or -errno. */
static int libxs_directory_part(struct tconn *t, const char *path,
                                char *out, size_t cap)
{
    char gen[24] = "", offs[16];
    size_t off = 0;
    for (int guard = 0; guard < 64; guard++) {
        snprintf(offs, sizeof(offs), "%zu", off);
        int len = t_req(t, XS_DIRECTORY_PART, 0, path, offs, NULL);
        if (len < 0)
            return len;
        size_t gl = strlen(t->buf) + 1;
        assert_true((size_t)len >= gl);
        if (off && strcmp(gen, t->buf) != 0) {
            off = 0;
            continue;
        }
        t_copy(gen, sizeof(gen), t->buf);
        size_t body = (size_t)len - gl;
        assert_true(off + body <= cap);
        memcpy(out + off, t->buf + gl, body);
        off += body;
        if (off <= 1 || out[off - 2] == '\0')
            break;
    }
    if (off > 1)
        off--;
    int names = 0;
    for (size_t at = 0; at < off; at += strlen(out + at) + 1)
        names++;
    return names;
}

static void test_directory_part(void **st)
{
    (void)st;
    char name[64];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "/big/child-with-a-long-name-%03d", i);
        assert_int_equal(t_write(D0, 0, name, ""), 0);
    }
    /* Too big for one DIRECTORY reply. */
    assert_int_equal(t_req(D0, XS_DIRECTORY, 0, "/big", NULL), -E2BIG);
    static char list[16384];
    assert_int_equal(libxs_directory_part(D0, "/big", list, sizeof(list)),
                     300);
    /* In order, each whole: the first, and the last. */
    assert_string_equal(list, "child-with-a-long-name-000");
    size_t at = 0;
    for (int i = 0; i < 299; i++)
        at += strlen(list + at) + 1;
    assert_string_equal(list + at, "child-with-a-long-name-299");
    /* Only the chunk that reaches the end carries the empty name. */
    int len = t_req(D0, XS_DIRECTORY_PART, 0, "/big", "0", NULL);
    assert_true(len > 2048);
    assert_true(D0->buf[len - 2] != '\0');
    /* Past the end: an empty list, as xenstored. */
    len = t_req(D0, XS_DIRECTORY_PART, 0, "/big", "99999", NULL);
    assert_int_equal(len, (int)strlen(D0->buf) + 2);
    assert_int_equal(D0->buf[len - 1], '\0');
    /* Inside a name: from that byte on, as xenstored copies its flat
     * list ("child-with-a-long-name-000\0" is 27 bytes). */
    len = t_req(D0, XS_DIRECTORY_PART, 0, "/big", "45", NULL);
    assert_true(len > 0);
    assert_string_equal(D0->buf + strlen(D0->buf) + 1, "name-001");
    assert_int_equal(t_ok(D0, XS_RM, 0, "/big"), 0);
}

/* A name starting with "@" is not relative, nor a node's: xenstored
 * leaves it as it is, and it fails the node name check. */
static void test_at_path_not_relative(void **st)
{
    (void)st;
    assert_int_equal(t_write(D1, 0, "@foo", "x"), -EINVAL);
    assert_int_equal(t_read(D1, 0, "@foo"), -EINVAL);
    assert_int_equal(t_ok(D1, XS_MKDIR, 0, "@foo"), -EINVAL);
    assert_int_equal(t_ok(D1, XS_RM, 0, "@foo"), -EINVAL);
    assert_int_equal(t_req(D1, XS_DIRECTORY, 0, "@foo", NULL), -EINVAL);
    assert_int_equal(t_write(D0, 0, "@introduceDomain", "x"), -EINVAL);
    assert_int_equal(t_read(D0, 0, "/local/domain/1/@foo"), -ENOENT);
    /* Within a name, "@" is a valid character still. */
    assert_int_equal(t_write(D1, 0, "data/a@b", "x"), 0);
    assert_int_equal(t_read(D0, 0, "/local/domain/1/data/a@b"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_rw),
        cmocka_unit_test(test_rm_and_mkdir_rules),
        cmocka_unit_test(test_invalid_paths),
        cmocka_unit_test(test_domain_layout),
        cmocka_unit_test(test_enoent_vs_eacces),
        cmocka_unit_test(test_inherit_and_owner),
        cmocka_unit_test(test_entry_for_future_domain_ignored),
        cmocka_unit_test(test_reused_domid_gets_nothing),
        cmocka_unit_test(test_released_domain_nodes_go),
        cmocka_unit_test(test_reused_domid_in_txn_gets_nothing),
        cmocka_unit_test(test_directory_part),
        cmocka_unit_test(test_at_path_not_relative),
    };
    return cmocka_run_group_tests(tests, t_group_setup, t_group_teardown);
}
