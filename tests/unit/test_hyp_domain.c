/* test_hyp_domain.c: own domid, names, and domain facts against faked
 * libxenstore and libxenctrl. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "test_hyp_mock.h"

static struct hyp_store *store_ok(void)
{
	struct hyp_store *st = NULL;

	MOCK_OK(xs_open);
	assert_int_equal(hyp_store_open(&st), 0);
	return st;
}

static struct hyp_ctrl *ctrl_ok(void)
{
	struct hyp_ctrl *xc = NULL;

	MOCK_OK(xc_interface_open);
	assert_int_equal(hyp_ctrl_open(&xc), 0);
	assert_non_null(xc);
	return xc;
}

static void add_dom(uint32_t domid, int dying, int shutdown)
{
	struct mock_dom *d = &mock.doms[mock.ndoms++];

	d->domid = domid;
	d->dying = dying;
	d->shutdown = shutdown;
}

static void test_self_domid(void **state)
{
	struct hyp_store *st = store_ok();
	domid_t d = 999;

	MOCK_RET(xs_read, "12");
	assert_int_equal(hyp_self_domid(st, &d), 0);
	assert_int_equal(d, 12);
	/* relative path, resolved against our own home by xenstored */
	assert_string_equal(mock.path, "domid");
	assert_int_equal(mock.txn, 0);

	MOCK_RET(xs_read, "0");
	assert_int_equal(hyp_self_domid(st, &d), 0);
	assert_int_equal(d, 0);

	d = 999;
	MOCK_FAIL(xs_read, ENOENT);
	assert_int_equal(hyp_self_domid(st, &d), -ENOENT);
	MOCK_RET(xs_read, "32752");   /* DOMID_FIRST_RESERVED: not a domain */
	assert_int_equal(hyp_self_domid(st, &d), -EPROTO);
	MOCK_RET(xs_read, "abc");
	assert_int_equal(hyp_self_domid(st, &d), -EPROTO);
	assert_int_equal(d, 999);
	assert_int_equal(hyp_self_domid(st, NULL), -EINVAL);
	hyp_store_close(st);
}

static void test_domain_name(void **state)
{
	struct hyp_store *st = store_ok();
	char *name = NULL;

	MOCK_RET(xs_read, "web");
	assert_int_equal(hyp_domain_name(st, 7, &name), 0);
	assert_string_equal(name, "web");
	assert_string_equal(mock.path, "/local/domain/7/name");
	free(name);

	MOCK_FAIL(xs_read, ENOENT);
	assert_int_equal(hyp_domain_name(st, 8, &name), -ENOENT);
	assert_string_equal(mock.path, "/local/domain/8/name");
	assert_int_equal(hyp_domain_name(st, 8, NULL), -EINVAL);
	hyp_store_close(st);
}

static void test_ctrl_open_fails(void **state)
{
	struct hyp_ctrl *xc = NULL;

	MOCK_FAIL(xc_interface_open, EPERM);
	assert_int_equal(hyp_ctrl_open(&xc), -EPERM);
	assert_null(xc);
	MOCK_FAIL(xc_interface_open, MOCK_NO_ERRNO);
	assert_int_equal(hyp_ctrl_open(&xc), -EIO);
	assert_int_equal(hyp_ctrl_open(NULL), -EINVAL);
	hyp_ctrl_close(ctrl_ok());
	hyp_ctrl_close(NULL);
	assert_int_equal(mock.xc_close, 1);
}

static void test_info(void **state)
{
	struct hyp_ctrl *xc = ctrl_ok();
	struct hyp_dominfo info;

	add_dom(0, 0, 0);
	add_dom(3, 1, 0);
	add_dom(5, 0, 1);
	mock.doms[2].crashed = 1;
	mock.doms[2].shutdown_reason = 3;

	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_info(xc, 3, &info), 0);
	assert_int_equal(mock.first_domid, 3);
	assert_int_equal(mock.max_doms, 1);
	assert_int_equal(info.domid, 3);
	assert_true(info.dying);
	assert_false(info.shutdown);

	/* Crashed: libxenctrl says crashed and not shut down (the mock as
	 * it); ours says both, and the domain is not alive. */
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_info(xc, 5, &info), 0);
	assert_true(info.shutdown);
	assert_true(info.crashed);
	assert_int_equal(info.shutdown_reason, 3);
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_alive(xc, 5), 0);

	/* the library reports the next domain (5) for 4: that is not 4 */
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_info(xc, 4, &info), -ESRCH);
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_info(xc, 6, &info), -ESRCH);
	MOCK_FAIL(xc_domain_getinfo, EPERM);
	assert_int_equal(hyp_domain_info(xc, 0, &info), -EPERM);
	assert_int_equal(hyp_domain_info(xc, DOMID_SELF, &info), -EINVAL);
	hyp_ctrl_close(xc);
}

static void test_alive(void **state)
{
	struct hyp_ctrl *xc = ctrl_ok();

	add_dom(1, 0, 0);
	add_dom(2, 1, 0);
	add_dom(3, 0, 1);
	add_dom(9, 0, 0);
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_alive(xc, 1), 1);
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_alive(xc, 2), 0);   /* dying */
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_alive(xc, 3), 0);   /* shut down */
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_alive(xc, 4), 0);   /* gone (next is 9) */
	MOCK_FAIL(xc_domain_getinfo, EACCES);
	assert_int_equal(hyp_domain_alive(xc, 1), -EACCES);
	hyp_ctrl_close(xc);
}

static void test_list(void **state)
{
	struct hyp_ctrl *xc = ctrl_ok();
	struct hyp_dominfo info[40];
	unsigned int i;

	for (i = 0; i < 20; i++)
		add_dom(i * 2, 0, 0);   /* 0, 2, ..., 38 */

	/* 20 domains need two batches of 16 */
	MOCK_OK(xc_domain_getinfo);
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_list(xc, 0, info, 40), 20);
	assert_int_equal(info[0].domid, 0);
	assert_int_equal(info[16].domid, 32);
	assert_int_equal(info[19].domid, 38);
	assert_int_equal(mock.first_domid, 31);   /* after 30, the 16th */

	/* bounded by max, starting at first */
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_list(xc, 5, info, 3), 3);
	assert_int_equal(info[0].domid, 6);
	assert_int_equal(info[2].domid, 10);
	assert_int_equal(mock.max_doms, 3);

	/* exactly 16 then nothing: the second batch finds none, which
	 * libxenctrl says as ESRCH */
	mock.ndoms = 16;
	MOCK_OK(xc_domain_getinfo);
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_list(xc, 0, info, 40), 16);
	/* none at or after first: 0, the end of a paged listing */
	MOCK_OK(xc_domain_getinfo);
	assert_int_equal(hyp_domain_list(xc, 31, info, 40), 0);

	MOCK_OK(xc_domain_getinfo);
	MOCK_FAIL(xc_domain_getinfo, EFAULT);
	mock.ndoms = 20;
	assert_int_equal(hyp_domain_list(xc, 0, info, 40), -EFAULT);

	assert_int_equal(hyp_domain_list(xc, 0, info, 0), 0);
	assert_int_equal(hyp_domain_list(xc, 0, NULL, 2), -EINVAL);
	hyp_ctrl_close(xc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_self_domid, mock_reset),
		cmocka_unit_test_setup(test_domain_name, mock_reset),
		cmocka_unit_test_setup(test_ctrl_open_fails, mock_reset),
		cmocka_unit_test_setup(test_info, mock_reset),
		cmocka_unit_test_setup(test_alive, mock_reset),
		cmocka_unit_test_setup(test_list, mock_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
