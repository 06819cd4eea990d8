/* test_hyp_store.c: hyp's store calls against a faked libxenstore. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "test_hyp_mock.h"

static struct hyp_store *open_ok(void)
{
	struct hyp_store *st = NULL;

	MOCK_OK(xs_open);
	assert_int_equal(hyp_store_open(&st), 0);
	assert_non_null(st);
	return st;
}

static void test_open_close(void **state)
{
	struct hyp_store *st = NULL;

	MOCK_FAIL(xs_open, ECONNREFUSED);
	assert_int_equal(hyp_store_open(&st), -ECONNREFUSED);
	assert_null(st);
	MOCK_FAIL(xs_open, MOCK_NO_ERRNO);
	assert_int_equal(hyp_store_open(&st), -EIO);
	assert_int_equal(hyp_store_open(NULL), -EINVAL);
	st = open_ok();
	hyp_store_close(st);
	hyp_store_close(NULL);
	assert_int_equal(mock.xs_close, 1);
}

static void test_read(void **state)
{
	struct hyp_store *st = open_ok();
	char *v = (char *)0x1;
	size_t len = 0;

	MOCK_RET(xs_read, "hello");
	assert_int_equal(hyp_store_read(st, 3, "a/b", &v, &len), 0);
	assert_string_equal(v, "hello");
	assert_int_equal(len, 5);
	assert_int_equal(mock.txn, 3);
	assert_string_equal(mock.path, "a/b");
	free(v);

	v = (char *)0x1;
	MOCK_FAIL(xs_read, ENOENT);
	assert_int_equal(hyp_store_read(st, 0, "nope", &v, &len), -ENOENT);
	assert_ptr_equal(v, (char *)0x1);
	MOCK_FAIL(xs_read, EACCES);
	assert_int_equal(hyp_store_read(st, 0, "secret", &v, NULL), -EACCES);
	MOCK_FAIL(xs_read, MOCK_NO_ERRNO);
	assert_int_equal(hyp_store_read(st, 0, "x", &v, NULL), -EIO);
	assert_int_equal(hyp_store_read(st, 0, NULL, &v, NULL), -EINVAL);
	assert_int_equal(hyp_store_read(st, 0, "x", NULL, NULL), -EINVAL);
	hyp_store_close(st);
}

static void test_read_uint(void **state)
{
	struct hyp_store *st = open_ok();
	unsigned long v = 555;

	MOCK_RET(xs_read, "4096");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 65535, &v), 0);
	assert_int_equal(v, 4096);
	MOCK_RET(xs_read, "0");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 0, &v), 0);
	assert_int_equal(v, 0);

	v = 555;
	/* what a hostile peer might write */
	MOCK_RET(xs_read, "");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 10, &v), -EPROTO);
	MOCK_RET(xs_read, "-1");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 10, &v), -EPROTO);
	MOCK_RET(xs_read, " 7");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 10, &v), -EPROTO);
	MOCK_RET(xs_read, "0x10");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 100, &v), -EPROTO);
	MOCK_RET(xs_read, "7a");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 100, &v), -EPROTO);
	MOCK_RET(xs_read, "9:");   /* the byte after '9' */
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 100, &v), -EPROTO);
	MOCK_RET(xs_read, "1/");   /* the byte before '0' */
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 100, &v), -EPROTO);
	MOCK_RET(xs_read, "11");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 10, &v), -ERANGE);
	MOCK_RET(xs_read, "99999999999999999999999999");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", ULONG_MAX, &v),
			 -ERANGE);
	assert_int_equal(v, 555);
	/* Not a number, whatever its leading digits: -EPROTO, not -ERANGE. */
	MOCK_RET(xs_read, "11x");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 10, &v), -EPROTO);
	MOCK_RET(xs_read, "99999999999999999999999999x");
	assert_int_equal(hyp_store_read_uint(st, 0, "n", ULONG_MAX, &v),
			 -EPROTO);
	assert_int_equal(v, 555);
	MOCK_FAIL(xs_read, ENOENT);
	assert_int_equal(hyp_store_read_uint(st, 0, "n", 10, &v), -ENOENT);
	hyp_store_close(st);
}

static void test_write_mkdir_rm(void **state)
{
	struct hyp_store *st = open_ok();

	MOCK_OK(xs_write);
	assert_int_equal(hyp_store_write_str(st, 2, "k", "v1"), 0);
	assert_string_equal(mock.path, "k");
	assert_string_equal(mock.value, "v1");
	assert_int_equal(mock.value_len, 2);
	assert_int_equal(mock.txn, 2);
	MOCK_OK(xs_write);
	assert_int_equal(hyp_store_write(st, 0, "e", NULL, 0), 0);
	assert_int_equal(mock.value_len, 0);
	MOCK_FAIL(xs_write, EACCES);
	assert_int_equal(hyp_store_write_str(st, 0, "k", "v"), -EACCES);
	MOCK_FAIL(xs_write, E2BIG);
	assert_int_equal(hyp_store_write(st, 0, "k", "v", 1), -E2BIG);
	assert_int_equal(hyp_store_write(st, 0, "k", NULL, 3), -EINVAL);
	assert_int_equal(hyp_store_write_str(st, 0, "k", NULL), -EINVAL);
	/* Over the protocol's payload: refused before libxenstore, whose
	 * 32-bit length a value near 4 GiB would wrap (no call planned). */
	{
		static char big[XENSTORE_PAYLOAD_MAX + 1];

		assert_int_equal(hyp_store_write(st, 0, "k", big,
						 sizeof(big)), -E2BIG);
		assert_int_equal(hyp_store_write(st, 0, "k", big,
						 (size_t)UINT_MAX - 1), -E2BIG);
		MOCK_OK(xs_write);
		assert_int_equal(hyp_store_write(st, 0, "k", big,
						 XENSTORE_PAYLOAD_MAX), 0);
	}

	MOCK_OK(xs_mkdir);
	assert_int_equal(hyp_store_mkdir(st, 0, "d"), 0);
	assert_string_equal(mock.path, "d");
	MOCK_FAIL(xs_mkdir, EACCES);
	assert_int_equal(hyp_store_mkdir(st, 0, "d"), -EACCES);

	MOCK_OK(xs_rm);
	assert_int_equal(hyp_store_rm(st, 0, "d"), 0);
	MOCK_FAIL(xs_rm, ENOENT);
	assert_int_equal(hyp_store_rm(st, 0, "d"), -ENOENT);
	hyp_store_close(st);
}

static void test_directory(void **state)
{
	static const char *const names[] = { "0", "12", "backend", NULL };
	static const char *const none[] = { NULL };
	struct hyp_store *st = open_ok();
	char **v = NULL;
	unsigned int n = 99;

	MOCK_RET(xs_directory, names);
	assert_int_equal(hyp_store_directory(st, 0, "/local/domain", &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[1], "12");
	assert_string_equal(v[2], "backend");
	free(v);

	MOCK_RET(xs_directory, none);
	assert_int_equal(hyp_store_directory(st, 0, "/empty", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);

	n = 99;
	MOCK_FAIL(xs_directory, ENOENT);
	assert_int_equal(hyp_store_directory(st, 0, "/x", &v, &n), -ENOENT);
	assert_int_equal(n, 99);
	assert_int_equal(hyp_store_directory(st, 0, "/x", &v, NULL), -EINVAL);
	hyp_store_close(st);
}

static void test_perms(void **state)
{
	struct hyp_store *st = open_ok();
	const struct xs_permissions set[2] = {
		{ .id = 3, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ },
	};
	struct xs_permissions *got = NULL;
	unsigned int n = 0;

	MOCK_OK(xs_set_permissions);
	assert_int_equal(hyp_store_set_perms(st, 0, "p", set, 2), 0);
	assert_int_equal(mock.nperms, 2);
	assert_int_equal(mock.perms[1].id, 5);
	assert_int_equal(mock.perms[1].perms, XS_PERM_READ);
	MOCK_FAIL(xs_set_permissions, EACCES);
	assert_int_equal(hyp_store_set_perms(st, 0, "p", set, 2), -EACCES);
	assert_int_equal(hyp_store_set_perms(st, 0, "p", set, 0), -EINVAL);
	/* More entries than a request carries: refused before libxenstore
	 * puts an iovec for each on its stack (no call planned). */
	{
		static struct xs_permissions many[XENSTORE_PAYLOAD_MAX / 3 + 1];

		assert_int_equal(hyp_store_set_perms(st, 0, "p", many,
						     XENSTORE_PAYLOAD_MAX / 3 +
						     1), -E2BIG);
		assert_int_equal(hyp_store_set_perms(st, 0, "p", many,
						     1000000), -E2BIG);
	}

	mock.perms_out[0] = set[0];
	mock.perms_out[1] = set[1];
	MOCK_RET(xs_get_permissions, 2);
	assert_int_equal(hyp_store_get_perms(st, 0, "p", &got, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(got[0].id, 3);
	assert_int_equal(got[1].perms, XS_PERM_READ);
	free(got);
	MOCK_FAIL(xs_get_permissions, ENOENT);
	assert_int_equal(hyp_store_get_perms(st, 0, "p", &got, &n), -ENOENT);
	hyp_store_close(st);
}

static void test_transactions(void **state)
{
	struct hyp_store *st = open_ok();
	hyp_txn_t t = 0;

	MOCK_RET(xs_transaction_start, 17);
	assert_int_equal(hyp_store_txn_start(st, &t), 0);
	assert_int_equal(t, 17);
	MOCK_FAIL(xs_transaction_end, EAGAIN);
	assert_int_equal(hyp_store_txn_end(st, t, false), -EAGAIN);
	assert_int_equal(mock.txn, 17);
	assert_false(mock.txn_abort);
	MOCK_OK(xs_transaction_end);
	assert_int_equal(hyp_store_txn_end(st, 18, true), 0);
	assert_true(mock.txn_abort);

	t = 5;
	MOCK_FAIL(xs_transaction_start, ENOSPC);
	assert_int_equal(hyp_store_txn_start(st, &t), -ENOSPC);
	assert_int_equal(t, 5);
	MOCK_FAIL(xs_transaction_start, MOCK_NO_ERRNO);
	assert_int_equal(hyp_store_txn_start(st, &t), -EIO);
	assert_int_equal(hyp_store_txn_end(st, HYP_TXN_NONE, false), -EINVAL);
	hyp_store_close(st);
}

static const struct hyp_store_node nodes[2] = {
	{ "data/vchan/ring-ref", "8" },
	{ "data/vchan/event-channel", "3" },
};
static const struct xs_permissions pub_perms[2] = {
	{ .id = 0, .perms = XS_PERM_NONE },
	{ .id = 7, .perms = XS_PERM_READ },
};

static void test_publish_commits_once(void **state)
{
	struct hyp_store *st = open_ok();

	MOCK_RET(xs_transaction_start, 40);
	MOCK_OK(xs_write);
	MOCK_OK(xs_set_permissions);
	MOCK_OK(xs_write);
	MOCK_OK(xs_set_permissions);
	MOCK_OK(xs_transaction_end);
	assert_int_equal(hyp_store_publish(st, nodes, 2, pub_perms, 2, 5), 0);
	assert_int_equal(mock.txn_starts, 1);
	assert_int_equal(mock.txn_commits, 1);
	assert_int_equal(mock.txn_aborts, 0);
	assert_int_equal(mock.writes, 2);
	assert_int_equal(mock.set_perms, 2);
	assert_int_equal(mock.txn, 40);
	assert_string_equal(mock.path, "data/vchan/event-channel");
	assert_int_equal(mock.perms[1].id, 7);

	/* without perms: no set_permissions */
	MOCK_RET(xs_transaction_start, 41);
	MOCK_OK(xs_write);
	MOCK_OK(xs_transaction_end);
	assert_int_equal(hyp_store_publish(st, nodes, 1, NULL, 0, 1), 0);
	assert_int_equal(mock.set_perms, 2);
	hyp_store_close(st);
}

static void queue_attempt_ending(int end_errno)
{
	MOCK_RET(xs_transaction_start, 50);
	MOCK_OK(xs_write);
	MOCK_OK(xs_write);
	if (end_errno)
		MOCK_FAIL(xs_transaction_end, end_errno);
	else
		MOCK_OK(xs_transaction_end);
}

static void test_publish_retries_conflicts(void **state)
{
	struct hyp_store *st = open_ok();

	queue_attempt_ending(EAGAIN);
	queue_attempt_ending(EAGAIN);
	queue_attempt_ending(0);
	assert_int_equal(hyp_store_publish(st, nodes, 2, NULL, 0, 3), 0);
	assert_int_equal(mock.txn_starts, 3);
	assert_int_equal(mock.txn_commits, 3);
	hyp_store_close(st);
}

static void test_publish_retry_is_bounded(void **state)
{
	struct hyp_store *st = open_ok();

	queue_attempt_ending(EAGAIN);
	queue_attempt_ending(EAGAIN);
	/* a third attempt would find nothing queued and fail the test */
	assert_int_equal(hyp_store_publish(st, nodes, 2, NULL, 0, 2), -EAGAIN);
	assert_int_equal(mock.txn_starts, 2);
	hyp_store_close(st);
}

static void test_publish_aborts_on_error(void **state)
{
	struct hyp_store *st = open_ok();

	/* set_permissions refused: abort, report EACCES, do not retry */
	MOCK_RET(xs_transaction_start, 60);
	MOCK_OK(xs_write);
	MOCK_FAIL(xs_set_permissions, EACCES);
	MOCK_OK(xs_transaction_end);
	assert_int_equal(hyp_store_publish(st, nodes, 2, pub_perms, 2, 5),
			 -EACCES);
	assert_int_equal(mock.txn_starts, 1);
	assert_int_equal(mock.txn_aborts, 1);
	assert_int_equal(mock.txn_commits, 0);
	assert_int_equal(mock.writes, 1);

	/* an EAGAIN inside the transaction is a conflict too: retried */
	MOCK_RET(xs_transaction_start, 61);
	MOCK_FAIL(xs_write, EAGAIN);
	MOCK_OK(xs_transaction_end);
	queue_attempt_ending(0);
	assert_int_equal(hyp_store_publish(st, nodes, 2, NULL, 0, 2), 0);
	assert_int_equal(mock.txn_aborts, 2);
	assert_int_equal(mock.txn_commits, 1);

	/* start fails */
	MOCK_FAIL(xs_transaction_start, EIO);
	assert_int_equal(hyp_store_publish(st, nodes, 2, NULL, 0, 2), -EIO);

	/* argument checks */
	assert_int_equal(hyp_store_publish(st, nodes, 0, NULL, 0, 2), -EINVAL);
	assert_int_equal(hyp_store_publish(st, nodes, 2, NULL, 0, 0), -EINVAL);
	assert_int_equal(hyp_store_publish(st, nodes, 2, pub_perms, 0, 1),
			 -EINVAL);
	assert_int_equal(hyp_store_publish(st,
			 &(struct hyp_store_node){ "p", NULL }, 1, NULL, 0, 1),
			 -EINVAL);
	hyp_store_close(st);
}

static void test_watch(void **state)
{
	static const char *const ev1[2] = { "@introduceDomain", "intro" };
	struct hyp_store *st = open_ok();
	struct hyp_watch_event ev;

	MOCK_OK(xs_watch);
	assert_int_equal(hyp_store_watch(st, HYP_WATCH_INTRODUCE, "intro"), 0);
	assert_string_equal(mock.path, "@introduceDomain");
	assert_string_equal(mock.token, "intro");
	MOCK_FAIL(xs_watch, EEXIST);
	assert_int_equal(hyp_store_watch(st, HYP_WATCH_INTRODUCE, "intro"),
			 -EEXIST);
	assert_int_equal(hyp_store_watch(st, "x", NULL), -EINVAL);

	mock.fd = 6;
	assert_int_equal(hyp_store_fd(st), 6);
	mock.fd = -1;
	mock.fd_errno = EMFILE;
	assert_int_equal(hyp_store_fd(st), -EMFILE);

	MOCK_RET(xs_check_watch, ev1);
	assert_int_equal(hyp_store_next_watch(st, &ev), 0);
	assert_string_equal(ev.path, "@introduceDomain");
	assert_string_equal(ev.token, "intro");
	hyp_watch_event_release(&ev);
	assert_null(ev.path);
	hyp_watch_event_release(&ev);   /* idempotent */

	MOCK_FAIL(xs_check_watch, EAGAIN);
	assert_int_equal(hyp_store_next_watch(st, &ev), -EAGAIN);
	/* libxenstore gave the connection up; an event lost to malloc. */
	MOCK_FAIL(xs_check_watch, EINVAL);
	assert_int_equal(hyp_store_next_watch(st, &ev), -ECONNRESET);
	MOCK_FAIL(xs_check_watch, ENOMEM);
	assert_int_equal(hyp_store_next_watch(st, &ev), -ENOMEM);

	MOCK_OK(xs_unwatch);
	assert_int_equal(hyp_store_unwatch(st, HYP_WATCH_RELEASE, "rel"), 0);
	assert_string_equal(mock.path, "@releaseDomain");
	MOCK_FAIL(xs_unwatch, ENOENT);
	assert_int_equal(hyp_store_unwatch(st, "x", "y"), -ENOENT);
	hyp_store_close(st);
}

/* libxenstore gives a connection up for good when a request's write or
 * read fails: that is -ECONNRESET, remembered; xenstored's own errors are
 * not. */
static void test_lost_connection(void **state)
{
	static const int lost[3] = { ECONNRESET, EPIPE, EBADF };
	struct hyp_store *st;
	hyp_txn_t t = 0;
	char *v = NULL;
	int i;

	assert_false(hyp_store_lost(NULL));
	for (i = 0; i < 3; i++) {
		st = open_ok();
		MOCK_FAIL(xs_read, ENOENT);
		assert_int_equal(hyp_store_read(st, 0, "a", &v, NULL),
				 -ENOENT);
		MOCK_FAIL(xs_transaction_start, EAGAIN);
		assert_int_equal(hyp_store_txn_start(st, &t), -EAGAIN);
		MOCK_FAIL(xs_write, EIO);
		assert_int_equal(hyp_store_write_str(st, 0, "a", "b"), -EIO);
		assert_false(hyp_store_lost(st));
		MOCK_FAIL(xs_rm, lost[i]);
		assert_int_equal(hyp_store_rm(st, 0, "a"), -ECONNRESET);
		assert_true(hyp_store_lost(st));
		/* It stays lost, whatever a later call says. */
		MOCK_RET(xs_read, "x");
		assert_int_equal(hyp_store_read(st, 0, "a", &v, NULL), 0);
		free(v);
		assert_true(hyp_store_lost(st));
		hyp_store_close(st);
	}
	/* The same for a transaction's end and a watch's event. */
	st = open_ok();
	MOCK_FAIL(xs_transaction_end, EBADF);
	assert_int_equal(hyp_store_txn_end(st, 4, false), -ECONNRESET);
	assert_true(hyp_store_lost(st));
	hyp_store_close(st);
	st = open_ok();
	MOCK_FAIL(xs_check_watch, EINVAL);
	{
		struct hyp_watch_event ev;

		assert_int_equal(hyp_store_next_watch(st, &ev), -ECONNRESET);
	}
	assert_true(hyp_store_lost(st));
	hyp_store_close(st);
}

/* A loss that libxenstore says with what xenstored may say too, or with
 * nothing (errno 0): the connection is asked (one more request), and a
 * failure that says it was given up makes it lost.  The error stays the
 * call's own: a guest's refused watch is E2BIG and the loss at once. */
static void test_lost_connection_ambiguous(void **state)
{
	static const int ambiguous[5] = { E2BIG, ENOMEM, EINVAL, EIO,
					  MOCK_NO_ERRNO };
	static const int said[5] = { -E2BIG, -ENOMEM, -EINVAL, -EIO, -EIO };
	struct hyp_store *st;
	char *v = NULL;
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		st = open_ok();
		/* Answered: the error is xenstored's, the connection lives. */
		mock.probe_errno = 0;
		mock.probes = 0;
		MOCK_FAIL(xs_read, ambiguous[i]);
		assert_int_equal(hyp_store_read(st, 0, "a", &v, NULL), said[i]);
		assert_int_equal(mock.probes, 1);
		assert_false(hyp_store_lost(st));
		/* Not answered for want of memory: not a loss either. */
		mock.probe_errno = ENOMEM;
		MOCK_FAIL(xs_write, ambiguous[i]);
		assert_int_equal(hyp_store_write_str(st, 0, "a", "b"), said[i]);
		assert_int_equal(mock.probes, 2);
		assert_false(hyp_store_lost(st));
		/* Given up: lost, the call's error kept. */
		mock.probe_errno = EBADF;
		MOCK_FAIL(xs_rm, ambiguous[i]);
		assert_int_equal(hyp_store_rm(st, 0, "a"), said[i]);
		assert_int_equal(mock.probes, 3);
		assert_true(hyp_store_lost(st));
		hyp_store_close(st);
	}
	/* xenstored's plain refusals ask nothing. */
	st = open_ok();
	mock.probes = 0;
	mock.probe_errno = EBADF;
	MOCK_FAIL(xs_read, ENOENT);
	assert_int_equal(hyp_store_read(st, 0, "a", &v, NULL), -ENOENT);
	MOCK_FAIL(xs_read, EACCES);
	assert_int_equal(hyp_store_read(st, 0, "a", &v, NULL), -EACCES);
	assert_int_equal(mock.probes, 0);
	assert_false(hyp_store_lost(st));
	hyp_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_close, mock_reset),
		cmocka_unit_test_setup(test_read, mock_reset),
		cmocka_unit_test_setup(test_read_uint, mock_reset),
		cmocka_unit_test_setup(test_write_mkdir_rm, mock_reset),
		cmocka_unit_test_setup(test_directory, mock_reset),
		cmocka_unit_test_setup(test_perms, mock_reset),
		cmocka_unit_test_setup(test_transactions, mock_reset),
		cmocka_unit_test_setup(test_publish_commits_once, mock_reset),
		cmocka_unit_test_setup(test_publish_retries_conflicts, mock_reset),
		cmocka_unit_test_setup(test_publish_retry_is_bounded, mock_reset),
		cmocka_unit_test_setup(test_publish_aborts_on_error, mock_reset),
		cmocka_unit_test_setup(test_watch, mock_reset),
		cmocka_unit_test_setup(test_lost_connection, mock_reset),
		cmocka_unit_test_setup(test_lost_connection_ambiguous,
					mock_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
