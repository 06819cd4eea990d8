/* conf-store: xenstore permissions, watches and transactions through the raw
 * libxenstore API, as a guest sees them.
 *
 *   conf-store owner    data/conf/peer is the reader. Publishes under
 *                       data/conf/store/: secret (owner only), shared (reader
 *                       may read), mailbox (reader may write, not read), and
 *                       late/<id> naming each domain in data/conf/late (ids
 *                       that do not exist yet). Checks own access, perms
 *                       read back, a watch, transaction conflict/commit/abort.
 *                       Then, on dom0's word: data/conf/refresh=<id> publishes
 *                       fresh/<id> for that (now existing) domain;
 *                       data/conf/poke rewrites secret (for the watch-leak check).
 *   conf-store reader   what the reader may and may not do.
 *   conf-store intrude  a domain named in no perm: every access refused, and
 *                       its watch on secret must not report the rewrite.
 *   conf-store late     a domain created after late/<id> was written: the
 *                       entry naming it must be ignored, fresh/<id> must work.
 *   conf-store quota    the node quota as a guest meets it: plain writes until
 *                       ENOSPC, then transactions one below and at the quota,
 *                       and one over it (dom0 having added a node, written in
 *                       data/conf/over, that the guest owns by inheritance);
 *                       then (dom0 having filled its own count past the quota
 *                       and named a node of its own in data/conf/victim) a
 *                       transaction that creates a node and removes dom0's.
 *   conf-store esize    the entry size as a guest meets it: its largest value,
 *                       the most child names a node holds, perm entries; then
 *                       (dom0 having given data/conf/esize/kids a value past
 *                       it) removing a child works and adding one does not.
 *   conf-store watches N  the watch quota as a guest process meets it: one
 *                       connection takes watches until one is refused, which
 *                       must be the (N+1)th, with E2BIG; the refusal closes
 *                       the connection (Linux's xenbus device and
 *                       libxenstore); its watches count until it is closed.
 *   conf-store special  the special nodes' perms as a guest asks for them:
 *                       XS_GET_PERMS of @releaseDomain and @introduceDomain,
 *                       then (dom0 having let it read @releaseDomain and
 *                       written data/conf/special-open) of @releaseDomain
 *                       again.  Xen 4.17 answers EINVAL each time. */
#include "conf_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char base[96]; /* /local/domain/<owner>/data/conf/store */

static void set_base(unsigned owner)
{
    snprintf(base, sizeof(base), "/local/domain/%u/data/conf/store", owner);
}

static const char *node(const char *leaf)
{
    static char buf[4][160];
    static unsigned next;
    char *b = buf[next++ % 4];

    snprintf(b, sizeof(buf[0]), "%s/%s", base, leaf);
    return b;
}

static bool write_str(struct xs_handle *xs, const char *path, const char *v)
{
    return xs_write(xs, XBT_NULL, path, v, strlen(v));
}

/* The value equals want, or NULL-with-errno check (want == NULL). */
static bool read_is(struct xs_handle *xs, const char *path, const char *want)
{
    char *v = xs_read(xs, XBT_NULL, path, NULL);
    bool ok = v && want && !strcmp(v, want);

    free(v);
    return ok;
}

/* A refused access: false returned with errno EACCES. */
static void expect_eacces(bool result, const char *test, const char *what)
{
    int e = errno;

    conf_check(!result && e == EACCES, test, "%s: %s", what,
               result ? "allowed" : strerror(e));
}

static void expect_read_eacces(struct xs_handle *xs, const char *test, const char *path)
{
    char *v = xs_read(xs, XBT_NULL, path, NULL);
    int e = errno;

    conf_check(!v && e == EACCES, test, "read %s: %s", path,
               v ? "allowed" : strerror(e));
    free(v);
}

/* Next watch event for token within timeout_ms; its path (malloc'd) or NULL. */
static char *wait_watch(struct xs_handle *xs, const char *token, int timeout_ms)
{
    uint64_t end = conf_now_ms() + (uint64_t)timeout_ms;
    struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };

    for (;;) {
        char **ev = xs_check_watch(xs);
        uint64_t now;

        if (ev) {
            char *path = NULL;

            if (!strcmp(ev[XS_WATCH_TOKEN], token))
                path = strdup(ev[XS_WATCH_PATH]);
            free(ev);
            if (path)
                return path;
            continue;
        }
        now = conf_now_ms();
        if (now >= end)
            return NULL;
        poll(&pfd, 1, (int)(end - now));
    }
}

static void owner_transactions(struct xs_handle *xs)
{
    const char *tx = node("tx");
    xs_transaction_t t;
    bool ok;

    write_str(xs, tx, "1");
    /* Conflict: the node the transaction read changes underneath it. */
    t = xs_transaction_start(xs);
    if (t == XBT_NULL) {
        conf_fail("store-tx-conflict-eagain", "transaction_start: %s", strerror(errno));
        return;
    }
    free(xs_read(xs, t, tx, NULL));
    write_str(xs, tx, "2");
    xs_write(xs, t, tx, "3", 1);
    ok = xs_transaction_end(xs, t, false);
    conf_check(!ok && errno == EAGAIN, "store-tx-conflict-eagain",
               "conflicting transaction ended with %s", ok ? "success" : strerror(errno));
    conf_check(read_is(xs, tx, "2"), "store-tx-conflict-no-effect",
               "the failed transaction's write is visible");

    t = xs_transaction_start(xs);
    ok = t != XBT_NULL && xs_write(xs, t, tx, "4", 1) && xs_transaction_end(xs, t, false);
    conf_check(ok && read_is(xs, tx, "4"), "store-tx-commit",
               "transaction without conflict: %s", ok ? "value not visible" : strerror(errno));

    t = xs_transaction_start(xs);
    ok = t != XBT_NULL && xs_write(xs, t, tx, "5", 1) && xs_transaction_end(xs, t, true);
    conf_check(ok && read_is(xs, tx, "4"), "store-tx-abort",
               "aborted transaction: %s", ok ? "its write is visible" : strerror(errno));
}

static int role_owner(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned peer = conf_peer(xs, "peer");
    struct xs_permissions only_me[1] = { { .id = me, .perms = XS_PERM_NONE } };
    struct xs_permissions me_r[2] = {
        { .id = me, .perms = XS_PERM_NONE }, { .id = peer, .perms = XS_PERM_READ } };
    struct xs_permissions me_w[2] = {
        { .id = me, .perms = XS_PERM_NONE }, { .id = peer, .perms = XS_PERM_WRITE } };
    struct xs_permissions *got;
    unsigned n, fresh_for;
    char *late, *tok, *save, *p, want[64];
    bool ok;

    set_base(me);
    ok = write_str(xs, "data/conf/store/own", "mine") &&
         read_is(xs, "data/conf/store/own", "mine");
    conf_check(ok, "store-own-rw", "write+read under my data/: %s", strerror(errno));

    if (!xs_watch(xs, node("mailbox"), "mbox"))
        conf_die("watch %s: %s", node("mailbox"), strerror(errno));
    p = wait_watch(xs, "mbox", conf_timeout_ms());
    conf_check(p != NULL, "store-watch-initial-event",
               "no event on registering a watch (Xen fires one at once)");
    free(p);

    /* The mailbox before shared: the reader writes it once shared appears. */
    if (!conf_xs_publish(xs, node("secret"), "s3cret", only_me, 1) ||
        !conf_xs_publish(xs, node("mailbox"), "empty", me_w, 2) ||
        !conf_xs_publish(xs, node("shared"), "for-reader", me_r, 2))
        conf_die("publish under %s: %s", base, strerror(errno));
    got = xs_get_permissions(xs, XBT_NULL, node("shared"), &n);
    conf_check(got && n == 2 && got[0].id == me && got[0].perms == XS_PERM_NONE &&
               got[1].id == peer && got[1].perms == XS_PERM_READ,
               "store-perms-roundtrip", "get_permissions(shared) gave %u entries: %s",
               got ? n : 0, got ? "different ones" : strerror(errno));
    free(got);

    /* Entries naming domains that do not exist yet (dom0 chose the ids). */
    late = conf_xs_wait(xs, "data/conf/late", conf_timeout_ms());
    for (tok = late ? strtok_r(late, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save)) {
        struct xs_permissions lp[2] = {
            { .id = me, .perms = XS_PERM_NONE },
            { .id = (unsigned)atoi(tok), .perms = XS_PERM_READ } };
        char leaf[32];

        snprintf(leaf, sizeof(leaf), "late/%u", lp[1].id);
        if (conf_xs_publish(xs, node(leaf), "late", lp, 2))
            conf_info("perm naming absent dom%u: accepted", lp[1].id);
        else
            conf_info("perm naming absent dom%u: refused (%s)", lp[1].id, strerror(errno));
    }
    if (!late)
        conf_fail("store-late-setup", "dom0 wrote no data/conf/late");
    free(late);

    owner_transactions(xs);
    conf_ready("store-owner");

    /* The reader writes its greeting into the mailbox; the watch must say so. */
    snprintf(want, sizeof(want), "hello-from-%u", peer);
    ok = false;
    for (uint64_t end = conf_now_ms() + (uint64_t)conf_timeout_ms(); !ok && conf_now_ms() < end;) {
        p = wait_watch(xs, "mbox", (int)(end - conf_now_ms()));
        if (!p)
            break;
        ok = read_is(xs, node("mailbox"), want);
        free(p);
    }
    conf_check(ok, "store-watch-fires", "no watch event with the mailbox holding '%s'", want);

    fresh_for = conf_peer(xs, "refresh");
    {
        struct xs_permissions fp[2] = {
            { .id = me, .perms = XS_PERM_NONE }, { .id = fresh_for, .perms = XS_PERM_READ } };
        char leaf[32];

        snprintf(leaf, sizeof(leaf), "fresh/%u", fresh_for);
        conf_check(conf_xs_publish(xs, node(leaf), "fresh", fp, 2), "store-perm-existing-domain",
                   "publish %s for dom%u: %s", leaf, fresh_for, strerror(errno));
    }
    conf_ready("store-refreshed");

    free(conf_xs_wait(xs, "data/conf/poke", conf_timeout_ms()));
    conf_check(conf_xs_publish(xs, node("secret"), "s3cret-2", only_me, 1), "store-secret-rewrite",
               "%s", strerror(errno));
    conf_ready("store-poked");

    conf_wait_finish(xs);
    xs_close(xs);
    return conf_done();
}

static int role_reader(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned owner = conf_peer(xs, "peer");
    struct xs_permissions try_perms[1] = { { .id = me, .perms = XS_PERM_READ } };
    char hello[64], outside[64], *v;

    set_base(owner);
    v = conf_xs_wait(xs, node("shared"), conf_timeout_ms());
    conf_check(v && !strcmp(v, "for-reader"), "store-read-granted",
               "read %s: %s", node("shared"), v ? v : strerror(errno));
    free(v);

    expect_eacces(write_str(xs, node("shared"), "x"), "store-write-readonly-refused",
                  "write to a node I may only read");
    expect_read_eacces(xs, "store-read-secret-refused", node("secret"));
    expect_eacces(write_str(xs, node("secret"), "x"), "store-write-secret-refused",
                  "write to a node with no perm for me");
    snprintf(hello, sizeof(hello), "hello-from-%u", me);
    conf_check(write_str(xs, node("mailbox"), hello), "store-write-granted",
               "write to a node I may write: %s", strerror(errno));
    expect_read_eacces(xs, "store-read-writeonly-refused", node("mailbox"));
    expect_eacces(xs_rm(xs, XBT_NULL, node("shared")), "store-rm-refused",
                  "remove a node I may only read");
    expect_eacces(xs_set_permissions(xs, XBT_NULL, node("shared"), try_perms, 1),
                  "store-setperm-refused", "set perms on a node I do not own");
    snprintf(outside, sizeof(outside), "/conf-outside-%u", me);
    expect_eacces(write_str(xs, outside, "x"), "store-write-outside-home-refused",
                  "create a node at the root");
    expect_eacces(write_str(xs, "/local/domain/0/data/conf-intruder", "x"),
                  "store-write-dom0-refused", "create a node in dom0's data/");
    conf_check(write_str(xs, "data/conf/mine", "ok") && read_is(xs, "data/conf/mine", "ok"),
               "store-reader-own-rw", "write+read under my data/: %s", strerror(errno));

    xs_close(xs);
    return conf_done();
}

static int role_intrude(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned owner = conf_peer(xs, "target");
    char *p;

    set_base(owner);
    /* Wait until the owner has published: then every refusal below is a
     * refusal of an existing node, not a missing one. */
    free(conf_xs_wait(xs, "data/conf/owner-ready", conf_timeout_ms()));
    expect_read_eacces(xs, "store-third-read-shared-refused", node("shared"));
    expect_read_eacces(xs, "store-third-read-secret-refused", node("secret"));
    expect_eacces(write_str(xs, node("mailbox"), "intruder"), "store-third-write-refused",
                  "write to another domain's mailbox");
    expect_eacces(xs_rm(xs, XBT_NULL, node("secret")), "store-third-rm-refused",
                  "remove another domain's node");
    {
        unsigned n;
        char **d = xs_directory(xs, XBT_NULL, base, &n);

        expect_eacces(d != NULL, "store-third-list-refused", "list another domain's dir");
        free(d);
    }

    /* A watch on a node it cannot read must not tell it when the node changes. */
    if (!xs_watch(xs, node("secret"), "leak"))
        conf_die("watch %s: %s", node("secret"), strerror(errno));
    p = wait_watch(xs, "leak", 2000);   /* the initial event, if any */
    conf_info("initial event for a watch on an unreadable node: %s", p ? "yes" : "no");
    free(p);
    conf_ready("store-intruder-watching");
    free(conf_xs_wait(xs, "data/conf/poked", conf_timeout_ms()));
    p = wait_watch(xs, "leak", 1500);
    conf_check(p == NULL, "store-third-watch-no-leak",
               "got an event for %s, which it may not read", p);
    free(p);
    xs_close(xs);
    return conf_done();
}

static int role_late(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned owner = conf_peer(xs, "target");
    char leaf[32], *v;

    set_base(owner);
    snprintf(leaf, sizeof(leaf), "late/%u", me);
    expect_read_eacces(xs, "store-late-perm-ignored", node(leaf));
    snprintf(leaf, sizeof(leaf), "fresh/%u", me);
    v = conf_xs_wait(xs, node(leaf), conf_timeout_ms());
    conf_check(v && !strcmp(v, "fresh"), "store-perm-after-create-works",
               "read %s: %s", node(leaf), v ? v : strerror(errno));
    free(v);
    xs_close(xs);
    return conf_done();
}

struct txn_write {
    const char *path, *rm_path;
};

static bool txn_write_body(struct xs_handle *xs, xs_transaction_t t, void *arg)
{
    struct txn_write *w = arg;

    return (!w->path || xs_write(xs, t, w->path, "t", 1)) &&
           (!w->rm_path || xs_rm(xs, t, w->rm_path));
}

/* One transaction: write "t" at path and remove rm_path, each if given;
 * true if it committed, else false with errno. */
static bool txn_write(struct xs_handle *xs, const char *path, const char *rm_path)
{
    struct txn_write w = { path, rm_path };

    return conf_xs_txn(xs, txn_write_body, &w);
}

static bool absent(struct xs_handle *xs, const char *path)
{
    char *v = xs_read(xs, XBT_NULL, path, NULL);
    bool gone = !v && errno == ENOENT;

    free(v);
    return gone;
}

/* Plain writes of one node each until the store refuses one; the count of
 * nodes made, and in last[] the last two leaves made. Leaves go 50 to a
 * directory: one directory holding every name would first hit the entry
 * size limit, which counts the children's names. */
static unsigned long fill_own_quota(struct xs_handle *xs, const char *dir,
                                    char last[2][160], int *err)
{
    char sub[128], leaf[160];
    unsigned long made = 0;

    *err = 0;
    for (unsigned long i = 0; i < 100000; i++) {
        snprintf(sub, sizeof(sub), "%s/d%lu", dir, i / 50);
        if (i % 50 == 0) {
            if (!xs_mkdir(xs, XBT_NULL, sub)) {
                *err = errno;
                break;
            }
            made++;
        }
        snprintf(leaf, sizeof(leaf), "%s/f%lu", sub, i % 50);
        if (!write_str(xs, leaf, "x")) {
            *err = errno;
            break;
        }
        made++;
        memcpy(last[0], last[1], sizeof(last[0]));
        memcpy(last[1], leaf, sizeof(last[1]));
    }
    return made;
}

static int role_quota(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    char dir[96], mine[128], last[2][160] = { "", "" }, made_s[32], *victim;
    unsigned long made;
    int e;
    bool ok, gone;

    snprintf(dir, sizeof(dir), "/local/domain/%u/data/conf/quota", me);
    made = fill_own_quota(xs, dir, last, &e);
    conf_info("own node quota met after %lu new nodes (%s)", made,
              e ? strerror(e) : "never refused");
    if (!conf_check(e == ENOSPC && last[0][0], "store-quota-write-enospc",
                    "%lu new nodes written, then %s", made,
                    e ? strerror(e) : "no refusal"))
        goto out;
    /* At the quota Q now. Two leaves fewer: Q - 2. */
    if (!xs_rm(xs, XBT_NULL, last[0]) || !xs_rm(xs, XBT_NULL, last[1]))
        conf_die("rm %s, %s: %s", last[0], last[1], strerror(errno));

    ok = txn_write(xs, last[0], NULL);
    conf_check(ok, "store-quota-txn-below",
               "a transaction creating one node at Q - 2: %s", strerror(errno));
    /* At Q - 1: Xen 4.17 refuses a commit that would end at the quota. */
    ok = txn_write(xs, last[1], NULL);
    e = errno;
    gone = absent(xs, last[1]);
    conf_check(!ok && e == ENOSPC && gone, "store-quota-txn-commit-enospc",
               "a transaction creating one node at Q - 1: %s, node %s",
               ok ? "committed" : strerror(e), gone ? "absent" : "there");
    ok = write_str(xs, last[1], "x");
    conf_check(ok, "store-quota-write-reaches",
               "a plain write creating one node at Q - 1: %s", strerror(errno));
    /* At Q: a transaction creating nothing is not checked. */
    ok = txn_write(xs, last[0], NULL);
    conf_check(ok, "store-quota-txn-modify-at-quota",
               "a transaction changing one value at Q: %s", strerror(errno));

    /* dom0 adds a node under dir, which the guest then owns: Q + 1. A
     * transaction that creates nothing is not checked, even over the
     * quota (it removes one node here, ending at Q). */
    conf_ready("store-quota-full");
    free(conf_xs_wait(xs, "data/conf/over", conf_timeout_ms()));
    ok = txn_write(xs, NULL, last[0]);
    e = errno;
    gone = absent(xs, last[0]);
    conf_check(ok && gone, "store-quota-txn-remove-over-quota",
               "a transaction removing one node at Q + 1: %s, node %s",
               ok ? "committed" : strerror(e), gone ? "absent" : "there");

    if (!xs_rm(xs, XBT_NULL, dir))
        conf_die("rm %s: %s", dir, strerror(errno));
    snprintf(made_s, sizeof(made_s), "%lu", made);
    if (!write_str(xs, "data/conf/quota-made", made_s))
        conf_die("write data/conf/quota-made: %s", strerror(errno));
    conf_ready("store-quota-own");

    /* dom0 now owns more nodes than the quota. Its count is not checked
     * when a guest's transaction changes it. */
    victim = conf_xs_wait(xs, "data/conf/victim", conf_timeout_ms());
    if (!victim)
        conf_die("dom0 named no node in data/conf/victim");
    snprintf(mine, sizeof(mine), "%s/new", dir);
    /* dom0 checks that the node went: the guest may not read its parent. */
    ok = txn_write(xs, mine, victim);
    conf_check(ok, "store-quota-dom0-exempt",
               "a transaction creating a node and removing dom0's %s: %s",
               victim, strerror(errno));
    free(victim);
    xs_rm(xs, XBT_NULL, dir);
out:
    xs_close(xs);
    return conf_done();
}

/* The largest value of at most hi bytes that a write of path takes. */
static unsigned largest_value(struct xs_handle *xs, const char *path, unsigned hi)
{
    static char buf[4096];
    unsigned lo = 0;

    memset(buf, 'a', sizeof(buf));
    if (hi > sizeof(buf))
        hi = sizeof(buf);
    while (lo < hi) {
        unsigned mid = (lo + hi + 1) / 2;

        if (xs_write(xs, XBT_NULL, path, buf, mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* What Xen 4.17 lets a guest's node record hold past its 24-byte header and
 * its np perm entries of 8 bytes: value and child names, below 2048. */
static unsigned record_room(unsigned np)
{
    return 2047 - 24 - 8 * np;
}

static unsigned count_perms(struct xs_handle *xs, const char *path)
{
    unsigned n = 0;

    free(xs_get_permissions(xs, XBT_NULL, path, &n));
    return n;
}

/* Children named c0, c1 ... under dir until the store refuses one; the
 * bytes of their names (each with its NUL), the refusal's errno in *err. */
static unsigned long fill_children(struct xs_handle *xs, const char *dir, int *err,
                                   char *refused, size_t cap)
{
    unsigned long bytes = 0;

    *err = 0;
    for (unsigned i = 0; i < 5000; i++) {
        snprintf(refused, cap, "%s/c%u", dir, i);
        if (!write_str(xs, refused, "")) {
            *err = errno;
            break;
        }
        bytes += strlen(refused) - strlen(dir);  /* the name and its NUL */
    }
    return bytes;
}

static int role_esize(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs), np, room, got;
    char dir[96], v[128], kids[128], refused[160], c0[160];
    unsigned long bytes;
    int e;
    bool ok;

    snprintf(dir, sizeof(dir), "/local/domain/%u/data/conf/esize", me);
    snprintf(v, sizeof(v), "%s/v", dir);
    snprintf(kids, sizeof(kids), "%s/kids", dir);
    if (!write_str(xs, v, "a") || !xs_mkdir(xs, XBT_NULL, kids))
        conf_die("write %s, mkdir %s: %s", v, kids, strerror(errno));
    np = count_perms(xs, v);
    room = record_room(np);
    got = largest_value(xs, v, 4096);
    conf_check(got == room, "store-esize-value",
               "largest value %u bytes with %u perm entries, not %u", got, np, room);

    bytes = fill_children(xs, kids, &e, refused, sizeof(refused));
    conf_check(e == ENOSPC && bytes == record_room(count_perms(xs, kids)) &&
               absent(xs, refused), "store-esize-children",
               "%lu bytes of child names, then %s (%s %s)", bytes,
               e ? strerror(e) : "no refusal", refused,
               absent(xs, refused) ? "absent" : "there");

    /* Each perm entry takes 8 bytes of the record too. */
    {
        struct xs_permissions two[2] = {
            { .id = me, .perms = XS_PERM_NONE }, { .id = 0, .perms = XS_PERM_READ } };
        struct xs_permissions three[3] = {
            { .id = me, .perms = XS_PERM_NONE }, { .id = 0, .perms = XS_PERM_READ },
            { .id = 0, .perms = XS_PERM_WRITE } };
        static char val[4096];

        memset(val, 'b', sizeof(val));
        ok = np == 1 && xs_write(xs, XBT_NULL, v, val, room - 8) &&
             xs_set_permissions(xs, XBT_NULL, v, two, 2);
        e = errno;
        conf_check(ok, "store-esize-perms-fit",
                   "a %u-byte value with 2 perm entries: %s", room - 8,
                   np != 1 ? "the node did not start with 1 entry" : strerror(e));
        ok = xs_set_permissions(xs, XBT_NULL, v, three, 3);
        e = errno;
        conf_check(!ok && e == ENOSPC && count_perms(xs, v) == 2,
                   "store-esize-perms-refused",
                   "a %u-byte value with 3 perm entries: %s, %u entries now",
                   room - 8, ok ? "accepted" : strerror(e), count_perms(xs, v));
    }

    /* dom0 gives kids a value, taking it past the entry size (dom0 may). A
     * child may still be removed (XSA-323), none added. */
    conf_ready("store-esize-full");
    free(conf_xs_wait(xs, "data/conf/over", conf_timeout_ms()));
    snprintf(c0, sizeof(c0), "%s/c0", kids);
    ok = xs_rm(xs, XBT_NULL, c0);
    conf_check(ok && absent(xs, c0), "store-esize-rm-over",
               "removing a child of a node past the entry size: %s",
               ok ? "child still there" : strerror(errno));
    ok = write_str(xs, c0, "");
    e = errno;
    conf_check(!ok && e == ENOSPC, "store-esize-add-over",
               "adding a child to a node past the entry size: %s",
               ok ? "accepted" : strerror(e));
    xs_rm(xs, XBT_NULL, dir);
    xs_close(xs);
    return conf_done();
}

static int role_watches(unsigned want)
{
    struct xs_handle *xs = conf_xs_open(), *fresh;
    unsigned me = conf_my_domid(xs), n = 0;
    char path[96], token[32];
    int e = 0;
    bool ok;

    /* Distinct paths: a duplicate watch is refused for that alone. */
    for (; n < 1000; n++) {
        snprintf(path, sizeof(path), "/local/domain/%u/data/conf/w%u", me, n);
        snprintf(token, sizeof(token), "w%u", n);
        if (!xs_watch(xs, path, token)) {
            e = errno;
            break;
        }
    }
    conf_info("%u watches taken, then %s", n, e ? strerror(e) : "none refused");
    conf_check(n == want && e == E2BIG, "store-watch-quota",
               "%u watches taken (expected %u), then %s", n, want,
               e ? strerror(e) : "none refused");
    snprintf(path, sizeof(path), "/local/domain/%u/data/conf/after", me);
    ok = write_str(xs, path, "1");
    e = errno;
    conf_check(!ok, "store-watch-refusal-closes",
               "the connection still works after its watch was refused");
    if (!ok)
        conf_info("after the refusal: %s", strerror(e));
    /* On Xen 4.17 its watches count until it is closed (without this
     * close a fresh connection's first watch got E2BIG; libxenstore's
     * reader thread, blocked in read(), likely holds the device); then a
     * fresh connection has the quota again. */
    xs_close(xs);
    fresh = conf_xs_open();
    for (n = 0; n < want; n++) {
        snprintf(path, sizeof(path), "/local/domain/%u/data/conf/w%u", me, n);
        snprintf(token, sizeof(token), "v%u", n);
        if (!xs_watch(fresh, path, token))
            break;
    }
    conf_check(n == want, "store-watch-quota-returned",
               "a fresh connection took %u watches, not %u: %s (the closed one's "
               "still count?)", n, want,
               strerror(errno));
    xs_close(fresh);
    return conf_done();
}

/* What XS_GET_PERMS of path answers: the entries as xenstore-ls shows
 * them ("n0 r5"), or the refusal's errno name. */
static const char *perms_answer(struct xs_handle *xs, const char *path)
{
    static const char letter[] = "nrwb";
    static char buf[128];
    struct xs_permissions *p;
    unsigned n = 0, i;
    size_t at = 0;

    errno = 0;
    p = xs_get_permissions(xs, XBT_NULL, path, &n);
    if (!p) {
        switch (errno) {
        case EINVAL: return "EINVAL";
        case EACCES: return "EACCES";
        case ENOENT: return "ENOENT";
        }
        snprintf(buf, sizeof(buf), "errno %d (%s)", errno, strerror(errno));
        return buf;
    }
    buf[0] = '\0';
    for (i = 0; i < n && at < sizeof(buf); i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%c%u",
                               i ? " " : "", letter[p[i].perms & 3], p[i].id);
    free(p);
    return buf;
}

/* One GET_PERMS, said (CONF-INFO: what the store answered) and checked
 * against Xen 4.17's answer. */
static void expect_perms_einval(struct xs_handle *xs, const char *test,
                                const char *path, const char *when)
{
    const char *got = perms_answer(xs, path);

    conf_info("GET_PERMS %s %s: %s", path, when, got);
    conf_check(!strcmp(got, "EINVAL"), test,
               "GET_PERMS %s %s answered '%s', not EINVAL (Xen 4.17)", path,
               when, got);
}

static int role_special(void)
{
    struct xs_handle *xs = conf_xs_open();
    char *v;

    expect_perms_einval(xs, "store-special-release-perms-ungranted",
                        "@releaseDomain", "before dom0's grant");
    expect_perms_einval(xs, "store-special-introduce-perms",
                        "@introduceDomain", "never granted");
    conf_ready("store-special-asked");
    v = conf_xs_wait(xs, "data/conf/special-open", conf_timeout_ms());
    if (!v)
        conf_die("dom0 never wrote data/conf/special-open: %s",
                 strerror(errno));
    free(v);
    expect_perms_einval(xs, "store-special-release-perms-granted",
                        "@releaseDomain", "after dom0's grant");
    xs_close(xs);
    return conf_done();
}

int main(int argc, char **argv)
{
    conf_init(argv[0]);
    if (argc == 2 && !strcmp(argv[1], "owner"))
        return role_owner();
    if (argc == 2 && !strcmp(argv[1], "reader"))
        return role_reader();
    if (argc == 2 && !strcmp(argv[1], "intrude"))
        return role_intrude();
    if (argc == 2 && !strcmp(argv[1], "late"))
        return role_late();
    if (argc == 2 && !strcmp(argv[1], "esize"))
        return role_esize();
    if (argc == 2 && !strcmp(argv[1], "quota"))
        return role_quota();
    if (argc == 3 && !strcmp(argv[1], "watches"))
        return role_watches((unsigned)strtoul(argv[2], NULL, 10));
    if (argc == 2 && !strcmp(argv[1], "special"))
        return role_special();
    fprintf(stderr, "usage: %s owner|reader|intrude|late|quota|esize|"
            "watches N|special\n", argv[0]);
    return 2;
}
