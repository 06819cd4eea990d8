/* Unit tests: the xenstore wire parser against malformed input: error
 * replies or a cut connection, never a crash or hang. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_xs_util.h"

/* Only the server: each test makes the connections it needs. */
const struct tgroup t_group = {0};

static void test_error_reply_echoes_ids(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    struct xsd_sockmsg h = {.type = XS_READ, .req_id = 4242, .tx_id = 77,
                            .len = 3};
    unsigned char msg[19];
    memcpy(msg, &h, 16);
    memcpy(msg + 16, "/x", 3);
    xs_conn_feed(c->c, msg, sizeof(msg));
    unsigned char hdr[16];
    char buf[64];
    assert_int_equal(xs_conn_pop(c->c, hdr, buf, sizeof(buf)), 7);
    struct xsd_sockmsg r;
    memcpy(&r, hdr, 16);
    assert_int_equal(r.type, XS_ERROR);
    assert_int_equal(r.req_id, 4242);
    assert_int_equal(r.tx_id, 77);
    assert_string_equal(buf, "ENOENT"); /* no such transaction */
    free(c);
}

static void test_malformed_payloads(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    assert_int_equal(t_raw(c, XS_READ, 0, "/nonul", 6), -EINVAL);
    assert_int_equal(t_raw(c, XS_READ, 0, "", 0), -EINVAL);
    assert_int_equal(t_raw(c, XS_READ, 0, "/a\0/b\0", 6), -EINVAL);
    assert_int_equal(t_raw(c, XS_WRITE, 0, "/nonul", 6), -EINVAL);
    assert_int_equal(t_raw(c, XS_MKDIR, 0, "", 0), -EINVAL);
    assert_int_equal(t_raw(c, XS_SET_PERMS, 0, "/a\0", 3), -EINVAL);
    assert_int_equal(t_raw(c, XS_SET_PERMS, 0, "/a\0r", 4), -EINVAL);
    assert_int_equal(t_raw(c, XS_WATCH, 0, "/a\0", 3), -EINVAL);
    assert_int_equal(t_raw(c, XS_DIRECTORY_PART, 0, "/\0x1\0", 5), -EINVAL);
    assert_int_equal(t_raw(c, XS_GET_DOMAIN_PATH, 0, "1", 1), -EINVAL);
    assert_int_equal(t_raw(c, XS_TRANSACTION_END, 0, "T\0", 2), -ENOENT);
    assert_int_equal(t_raw(c, 999, 0, "", 0), -ENOSYS);
    assert_int_equal(t_raw(c, XS_WATCH_EVENT, 0, "", 0), -ENOSYS);
    assert_int_equal(t_raw(c, XS_ERROR, 0, "", 0), -ENOSYS);
    /* Binary values with NULs are fine. */
    assert_int_equal(t_raw(c, XS_WRITE, 0, "/bin\0a\0b", 8), 3);
    assert_int_equal(t_read(c, 0, "/bin"), 3);
    assert_memory_equal(c->buf, "a\0b", 3);
    assert_false(c->c->closed);
    free(c);
}

static void test_oversize_cuts(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 1,
                            .len = XENSTORE_PAYLOAD_MAX + 1};
    assert_int_equal(xs_conn_feed(c->c, &h, sizeof(h)), -EPROTO);
    assert_true(c->c->closed);
    free(c);
}

static void test_byte_at_a_time(void **st)
{
    (void)st;
    struct tconn *c = t_conn(S, 0);
    unsigned char msg[64];
    struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 5, .len = 6};
    memcpy(msg, &h, 16);
    memcpy(msg + 16, "/b1\0hi", 6);
    /* Then a zero-length request right behind it. */
    struct xsd_sockmsg h2 = {.type = XS_READ, .req_id = 6, .len = 0};
    memcpy(msg + 22, &h2, 16);
    for (size_t i = 0; i < 38; i++)
        xs_conn_feed(c->c, msg + i, 1);
    unsigned char hdr[16];
    char buf[64];
    struct xsd_sockmsg r;
    assert_int_equal(xs_conn_pop(c->c, hdr, buf, sizeof(buf)), 3);
    memcpy(&r, hdr, 16);
    assert_int_equal(r.type, XS_WRITE);
    assert_int_equal(r.req_id, 5);
    assert_string_equal(buf, "OK");
    assert_int_equal(xs_conn_pop(c->c, hdr, buf, sizeof(buf)), 7);
    memcpy(&r, hdr, 16);
    assert_int_equal(r.type, XS_ERROR);
    assert_int_equal(r.req_id, 6);
    free(c);
}

/* Garbage payloads are shorter than this: each request goes out as one
 * whole frame, so the server never sits on a partial header or payload
 * waiting for more bytes, and every request must get its answer (or the
 * cut) before the next one is sent. */
#define GARBAGE_MAX 300

/* The domain-control and debug requests: dom0's alone. */
static bool dom0_only(uint32_t type)
{
    return type == XS_INTRODUCE || type == XS_RELEASE ||
           type == XS_RESUME || type == XS_SET_TARGET ||
           type == XS_CONTROL || type == XS_IS_DOMAIN_INTRODUCED;
}

/* Send one whole garbage frame and take everything queued for c: exactly
 * one reply echoing its type (or XS_ERROR), req_id and tx_id, or none and
 * the connection cut; watch events (req_id 0) may come along.  Returns 1
 * when answered, 0 when cut; the reply is left in c->type and c->buf. */
static int garbage_request(struct tconn *c, uint32_t type, uint32_t tx,
                           const void *payload, size_t len)
{
    uint32_t id = c->next_req++;
    struct xsd_sockmsg h = {.type = type, .req_id = id, .tx_id = tx,
                            .len = (uint32_t)len};
    unsigned char msg[16 + GARBAGE_MAX], hdr[16];
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    int replies = 0, n;

    assert_true(len < GARBAGE_MAX);
    memcpy(msg, &h, 16);
    memcpy(msg + 16, payload, len);
    xs_conn_feed(c->c, msg, 16 + len);
    while ((n = xs_conn_pop(c->c, hdr, buf, sizeof(buf) - 1)) >= 0) {
        struct xsd_sockmsg r;

        memcpy(&r, hdr, sizeof(r));
        buf[n] = '\0';
        if (r.type == XS_WATCH_EVENT) {
            assert_int_equal(r.req_id, 0);
            continue;
        }
        assert_int_equal(r.req_id, id);
        assert_int_equal(r.tx_id, tx);
        assert_true(r.type == type || r.type == XS_ERROR);
        c->type = r.type;
        memcpy(c->buf, buf, (size_t)n + 1);
        c->len = n;
        replies++;
    }
    assert_true(replies <= 1);
    if (!replies)
        assert_true(c->c->closed);
    return replies;
}

/* Rounds of random requests on fresh connections of domid: every one is
 * answered or cut, a guest's dom0-only requests are refused, every request
 * after a guest's refused watch fails with EIO, and dom0 is still served
 * afterwards. */
static void garbage_rounds(uint32_t domid, unsigned seed)
{
    int answered = 0;

    srand(seed);
    for (int round = 0; round < 150; round++) {
        struct tconn *c = t_conn(S, domid);
        for (int k = 0; k < 20 && !c->c->closed; k++) {
            unsigned char p[GARBAGE_MAX - 1];
            size_t len = (size_t)(rand() % (int)sizeof(p));
            for (size_t i = 0; i < len; i++) {
                int r = rand() % 8;
                p[i] = r == 0 ? 0 : r == 1 ? '/' : r == 2 ? '@'
                     : (unsigned char)("abTF01rnbw"[rand() % 10]);
            }
            uint32_t type = (uint32_t)(rand() % (XS_TYPE_COUNT + 2));
            uint32_t tx = (rand() % 4 == 0) ? (uint32_t)(rand() % 3) : 0;
            bool refused = c->c->refused;  /* a guest's watch refused */
            if (!garbage_request(c, type, tx, p, len))
                continue;
            answered++;
            if (refused) {
                assert_int_equal(c->type, XS_ERROR);
                assert_string_equal(c->buf, "EIO");
            } else if (domid != 0 && dom0_only(type)) {
                assert_int_equal(c->type, XS_ERROR);
                assert_string_equal(c->buf, "EACCES");
            }
        }
        xs_conn_close(c->c);
        free(c);
        if (round % 50 == 0)
            xs_conn_reap(S);
    }
    xs_conn_reap(S);
    /* Not a run where everything was cut at once. */
    assert_true(answered > 150 * 20 / 2);
    struct tconn *d0 = t_conn(S, 0);
    assert_int_equal(t_write(d0, 0, "/alive", "yes"), 0);
    assert_int_equal(t_read(d0, 0, "/alive"), 3);
    free(d0);
}

static void test_random_garbage_unprivileged(void **st)
{
    (void)st;
    assert_int_equal(xs_domain_introduce(S, 4, "fuzz", NULL), 0);
    garbage_rounds(4, 12345);
}

static void test_random_garbage_dom0(void **st)
{
    (void)st;
    garbage_rounds(0, 54321);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_reply_echoes_ids),
        cmocka_unit_test(test_malformed_payloads),
        cmocka_unit_test(test_oversize_cuts),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_random_garbage_unprivileged),
        cmocka_unit_test(test_random_garbage_dom0),
    };
    return cmocka_run_group_tests(tests, t_group_setup, t_group_teardown);
}
