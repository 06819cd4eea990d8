/* SPDX-License-Identifier: MIT */
/* Ring arithmetic, layout and header checks against hostile values. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "test_vchan_util.h"

struct fake {
	struct ring_shared shr;
	uint8_t buf[1024];
};

static void setup_ring(struct fake *f, struct vchan_ring *r, bool tx,
		       uint32_t cons, uint32_t prod)
{
	memset(f, 0, sizeof(*f));
	f->shr.cons = cons;
	f->shr.prod = prod;
	assert_int_equal(vchan_ring_init(r, &f->shr.prod, &f->shr.cons, f->buf, 10, tx, "t"), 0);
}

static void test_ready_normal_and_wrap(void **state)
{
	struct fake f;
	struct vchan_ring r;
	uint32_t n;

	(void)state;
	tv_capture_logs();
	setup_ring(&f, &r, false, 0, 0);
	assert_int_equal(vchan_ring_ready(&r, &n), 0);
	assert_int_equal(n, 0);
	f.shr.prod = 1024;
	assert_int_equal(vchan_ring_ready(&r, &n), 0);
	assert_int_equal(n, 1024);
	/* Indices close to 2^32 wrap with unsigned arithmetic. */
	setup_ring(&f, &r, false, UINT32_MAX - 10, UINT32_MAX - 10);
	f.shr.prod = 100;   /* 111 bytes past the wrap */
	assert_int_equal(vchan_ring_ready(&r, &n), 0);
	assert_int_equal(n, 111);
	assert_int_equal(tv_log_count, 0);
}

static void test_ready_hostile(void **state)
{
	struct fake f;
	struct vchan_ring r;
	uint32_t n = 77;

	(void)state;
	tv_capture_logs();
	/* More than the ring holds. */
	setup_ring(&f, &r, false, 0, 0);
	f.shr.prod = 1025;
	assert_int_equal(vchan_ring_ready(&r, &n), -EPROTO);
	assert_int_equal(n, 77);
	assert_non_null(strstr(tv_last_log, "inbound prod 1025"));
	/* prod behind cons ("negative" ready, XSA-86). */
	f.shr.prod = UINT32_MAX;
	assert_int_equal(vchan_ring_ready(&r, &n), -EPROTO);
	/* prod moving backwards inside the window. */
	setup_ring(&f, &r, false, 0, 0);
	f.shr.prod = 500;
	assert_int_equal(vchan_ring_ready(&r, &n), 0);
	f.shr.prod = 400;
	assert_int_equal(vchan_ring_ready(&r, &n), -EPROTO);
	/* Impossible from the start. */
	memset(&f, 0, sizeof(f));
	f.shr.prod = 5000;
	assert_int_equal(vchan_ring_init(&r, &f.shr.prod, &f.shr.cons, f.buf, 10, false, "t"),
			 -EPROTO);
	f.shr.prod = 0;
	f.shr.cons = 5000;   /* tx side: prod - cons wraps huge */
	assert_int_equal(vchan_ring_init(&r, &f.shr.prod, &f.shr.cons, f.buf, 10, true, "t"),
			 -EPROTO);
}

static void test_space_hostile(void **state)
{
	struct fake f;
	struct vchan_ring r;
	uint32_t n;
	uint8_t data[600] = { 0 };

	(void)state;
	tv_capture_logs();
	setup_ring(&f, &r, true, 0, 0);
	assert_int_equal(vchan_ring_space(&r, &n), 0);
	assert_int_equal(n, 1024);
	vchan_ring_write(&r, data, 600);
	assert_true(vchan_ring_publish(&r));
	assert_int_equal(f.shr.prod, 600);
	assert_int_equal(vchan_ring_space(&r, &n), 0);
	assert_int_equal(n, 424);
	f.shr.cons = 300;
	assert_int_equal(vchan_ring_space(&r, &n), 0);
	assert_int_equal(n, 724);
	/* cons past prod. */
	f.shr.cons = 601;
	assert_int_equal(vchan_ring_space(&r, &n), -EPROTO);
	assert_non_null(strstr(tv_last_log, "outbound cons 601"));
	/* cons backwards. */
	f.shr.cons = 200;
	assert_int_equal(vchan_ring_space(&r, &n), -EPROTO);
	/* Wild values. */
	f.shr.cons = 0x80000000u;
	assert_int_equal(vchan_ring_space(&r, &n), -EPROTO);
	/* Our own index in the page is never read back: the peer scribbling
	 * over it changes nothing. */
	f.shr.prod = 12345;
	f.shr.cons = 600;
	assert_int_equal(vchan_ring_space(&r, &n), 0);
	assert_int_equal(n, 1024);
}

static void test_copy_wraps(void **state)
{
	struct fake f;
	struct vchan_ring w, r;
	uint8_t in[700], out[700];
	uint32_t n;

	(void)state;
	tv_capture_logs();
	memset(&f, 0, sizeof(f));
	assert_int_equal(vchan_ring_init(&w, &f.shr.prod, &f.shr.cons, f.buf, 10, true, "w"), 0);
	assert_int_equal(vchan_ring_init(&r, &f.shr.prod, &f.shr.cons, f.buf, 10, false, "r"),
			 0);
	for (int round = 0; round < 10; round++) {
		tv_fill(in, sizeof(in), (uint32_t)round);
		assert_int_equal(vchan_ring_space(&w, &n), 0);
		assert_true(n >= sizeof(in));
		vchan_ring_write(&w, in, sizeof(in));
		vchan_ring_publish(&w);
		assert_int_equal(vchan_ring_ready(&r, &n), 0);
		assert_int_equal(n, sizeof(in));
		vchan_ring_read(&r, out, sizeof(out));
		vchan_ring_publish(&r);
		assert_memory_equal(in, out, sizeof(in));
	}
}

static void test_layout(void **state)
{
	/* A page, aligned as one (the LINES slots are whole cache lines). */
	static uint8_t pagebuf[4096] __attribute__((aligned(4096)));
	struct vchan_interface *p = (struct vchan_interface *)pagebuf;
	unsigned lo, ro;
	int lay = -1;

	(void)state;
	tv_capture_logs();
	assert_int_equal(vchan_layout_inpage_offset(10), 1024);
	assert_int_equal(vchan_layout_inpage_offset(11), 2048);
	assert_int_equal(vchan_layout_inpage_offset(12), 0);
	assert_int_equal(vchan_layout_pages(11), 0);
	assert_int_equal(vchan_layout_pages(12), 1);
	assert_int_equal(vchan_layout_pages(20), 256);

	lo = ro = 0;
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_XENVCHAN), 0);
	assert_int_equal(lo, 16);
	assert_int_equal(ro, 16);
	lo = ro = 10;
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_XENVCHAN), 0);
	assert_int_equal(lo, 10);
	assert_int_equal(ro, 11);
	lo = 20;
	ro = 20;
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_XENVCHAN), 0);
	lo = 10;
	ro = 20;   /* 256 grants run into the ring at 1024 */
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_XENVCHAN), -EINVAL);
	lo = 9;
	ro = 12;
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_XENVCHAN), -EINVAL);

	memset(pagebuf, 0, sizeof(pagebuf));
	vchan_layout_server_init(p, 10, 11, VCHAN_LAYOUT_XENVCHAN);
	assert_int_equal(p->cli_live, 2);
	assert_int_equal(p->srv_live, 1);
	assert_int_equal(p->cli_notify, VCHAN_NOTIFY_WRITE);
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), 0);
	assert_int_equal(lo, 10);
	assert_int_equal(ro, 11);
	/* Hostile orders. */
	p->left_order = 21;
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), -EPROTO);
	assert_non_null(strstr(tv_last_log, "outside 10..20"));
	p->left_order = 0xffff;
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), -EPROTO);
	p->left_order = 11;
	p->right_order = 11;
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), -EPROTO);
	p->left_order = 10;
	p->right_order = 20;
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), -EPROTO);
	assert_non_null(strstr(tv_last_log, "grant list"));
	p->left_order = 20;
	p->right_order = 20;
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), 0);
	assert_int_equal(lay, VCHAN_LAYOUT_XENVCHAN);
}

static unsigned line_of(const void *page, const void *slot)
{
	return (unsigned)(((uintptr_t)slot - (uintptr_t)page) / 64);
}

static void test_layout_lines(void **state)
{
	static uint8_t pagebuf[4096] __attribute__((aligned(4096)));
	struct vchan_interface *p = (struct vchan_interface *)pagebuf;
	struct vchan_slots sl;
	unsigned lo, ro, lines[6];
	int lay = -1;

	(void)state;
	tv_capture_logs();
	/* Two 1 KiB rings: the right one goes to a page of its own, not to
	 * the order-11 slot where LINES keeps the indices. */
	lo = ro = 10;
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_LINES), 0);
	assert_int_equal(ro, 12);
	lo = 11;
	ro = 16;
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_LINES),
			 -EINVAL);
	assert_non_null(strstr(tv_last_log, "order-11 ring"));
	lo = ro = 16;
	assert_int_equal(vchan_layout_choose(&lo, &ro, 7), -EINVAL);
	assert_non_null(strstr(tv_last_log, "unknown layout 7"));
	lo = ro = 20;   /* the longest grant list still ends below 3072 */
	assert_int_equal(vchan_layout_choose(&lo, &ro, VCHAN_LAYOUT_LINES), 0);

	memset(pagebuf, 0, sizeof(pagebuf));
	vchan_layout_server_init(p, 10, 16, VCHAN_LAYOUT_LINES);
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), 0);
	assert_int_equal(lay, VCHAN_LAYOUT_LINES);
	assert_int_equal(lo, 10);
	assert_int_equal(ro, 16);
	/* Every slot on a line of its own, above the grants and clear of
	 * the order-10 ring (1024..2047); nothing in libxenvchan's places. */
	vchan_layout_slots(p, VCHAN_LAYOUT_LINES, &sl);
	lines[0] = line_of(p, sl.left_prod);
	lines[1] = line_of(p, sl.left_cons);
	lines[2] = line_of(p, sl.right_prod);
	lines[3] = line_of(p, sl.right_cons);
	lines[4] = line_of(p, sl.srv_notify);
	lines[5] = line_of(p, sl.cli_notify);
	for (int i = 0; i < 6; i++) {
		assert_true(lines[i] >= 3072 / 64 && lines[i] < 4096 / 64);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(lines[i], lines[j]);
	}
	assert_int_equal(*sl.cli_notify, VCHAN_NOTIFY_WRITE);
	assert_int_equal(*sl.srv_notify, 0);
	assert_int_equal(p->cli_notify, 0);
	assert_int_equal(p->cli_live, 2);
	assert_int_equal(p->srv_live, 1);
	/* libxenvchan's layout of the same page: the first line. */
	vchan_layout_slots(p, VCHAN_LAYOUT_XENVCHAN, &sl);
	assert_ptr_equal(sl.left_prod, &p->left.prod);
	assert_ptr_equal(sl.cli_notify, &p->cli_notify);

	/* A mark under an order-11 ring is that ring's bytes: the page is
	 * read as libxenvchan's. */
	p->right_order = 11;
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), 0);
	assert_int_equal(lay, VCHAN_LAYOUT_XENVCHAN);
	/* Without the mark, libxenvchan's. */
	memset(pagebuf, 0, sizeof(pagebuf));
	vchan_layout_server_init(p, 12, 12, VCHAN_LAYOUT_XENVCHAN);
	assert_int_equal(vchan_layout_client_read(p, "c", &lo, &ro, &lay), 0);
	assert_int_equal(lay, VCHAN_LAYOUT_XENVCHAN);
	assert_int_equal(pagebuf[3072], 0);
}

static void test_frame_check(void **state)
{
	struct vchan_frame_hdr h = { .len = 10, .type = 1, .flags = 0x1234,
				     .seq = 5 };

	(void)state;
	tv_capture_logs();
	assert_int_equal(vchan_frame_check(&h, 0, 1024, 100, 5, "t"), 0);
	assert_int_equal(vchan_frame_check(&h, 0, 1024, 100, 6, "t"), -EPROTO);
	assert_non_null(strstr(tv_last_log, "sequence 5, expected 6"));
	h.len = 101;
	assert_int_equal(vchan_frame_check(&h, 0, 1024, 100, 5, "t"), -EPROTO);
	assert_non_null(strstr(tv_last_log, "exceeds"));
	h.len = 10;
	h.flags = 0x00010000;
	assert_int_equal(vchan_frame_check(&h, 0, 1024, 100, 5, "t"), -EPROTO);
	assert_non_null(strstr(tv_last_log, "unknown framing flags"));
	h.flags = VCHAN_FRAME_PAD;
	h.len = 1024 - 512 - 16;
	assert_int_equal(vchan_frame_check(&h, 512, 1024, 100, 5, "t"), 0);
	/* or VCHAN_PAD_PAST bytes into the ring's first line */
	h.len = 1024 - 512 - 16 + 48;
	assert_int_equal(vchan_frame_check(&h, 512, 1024, 100, 5, "t"), 0);
	h.len = 1024 - 512 - 16 + 32;
	assert_int_equal(vchan_frame_check(&h, 512, 1024, 100, 5, "t"),
			 -EPROTO);
	assert_non_null(strstr(tv_last_log, "or 48 bytes past it"));
	h.len = 100;
	assert_int_equal(vchan_frame_check(&h, 512, 1024, 100, 5, "t"),
			 -EPROTO);
	h.len = UINT32_MAX;
	assert_int_equal(vchan_frame_check(&h, 512, 1024, 100, 5, "t"),
			 -EPROTO);
	/* The 48-byte form from the ring's start would be longer than the
	 * ring: it could never be whole, and its receiver would wait for
	 * ever. */
	h.len = 1024 - 16 + 48;
	assert_int_equal(vchan_frame_check(&h, 0, 1024, 100, 5, "t"),
			 -EPROTO);
	h.len = 1024 - 32 - 16 + 48;
	assert_int_equal(vchan_frame_check(&h, 32, 1024, 100, 5, "t"),
			 -EPROTO);
	h.len = 1024 - 48 - 16 + 48;
	assert_int_equal(vchan_frame_check(&h, 48, 1024, 100, 5, "t"), 0);
	/* Off a 16-byte boundary, or with no room for its own header. */
	h.len = 1024 - 520 - 16;
	assert_int_equal(vchan_frame_check(&h, 520, 1024, 100, 5, "t"),
			 -EPROTO);
	h.len = 0;
	assert_int_equal(vchan_frame_check(&h, 1016, 1024, 100, 5, "t"),
			 -EPROTO);
	h.len = UINT32_MAX - 7;   /* 1024 - 1016 - 16, wrapped */
	assert_int_equal(vchan_frame_check(&h, 1016, 1024, 100, 5, "t"),
			 -EPROTO);
	assert_int_equal(vchan_frame_size(0), 16);
	assert_int_equal(vchan_frame_size(1), 32);
	assert_int_equal(vchan_frame_size(16), 32);
	assert_int_equal(vchan_frame_size(17), 48);
}

/* Large frames end where the next payload starts on a cache line; small
 * ones keep 16-byte steps; a span never shrinks as the payload grows. */
static void test_frame_span(void **state)
{
	uint32_t pos;
	size_t len;

	(void)state;
	assert_int_equal(vchan_frame_span(64, 0), 80);
	assert_int_equal(vchan_frame_span(64, 48), 80);
	assert_int_equal(vchan_frame_span(4096, 0), 4144);   /* ends at 48 */
	assert_int_equal(vchan_frame_span(4096, 4144), 4160);
	for (pos = 0; pos < 256; pos += 16) {
		size_t prev = 0;

		for (len = 0; len < 1200; len++) {
			size_t n = vchan_frame_span(len, pos);

			assert_true(n >= vchan_frame_size(len));
			assert_true(n <= vchan_frame_span_max(len));
			assert_true(n % 16 == 0);
			assert_true(n >= prev);
			prev = n;
			if (len >= VCHAN_FRAME_ALIGN_MIN)
				/* the next header fills a line's last 16 */
				assert_int_equal((pos + n) % 64, 48);
		}
	}
}

static void test_frame_count(void **state)
{
	struct fake f;
	struct vchan_ring w, r;
	struct vchan_frame_hdr h = { .len = 20 };
	uint8_t pay[32] = { 0 };
	uint32_t n;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(vchan_ring_init(&w, &f.shr.prod, &f.shr.cons, f.buf, 10, true, "w"), 0);
	assert_int_equal(vchan_ring_init(&r, &f.shr.prod, &f.shr.cons, f.buf, 10, false, "r"),
			 0);
	for (int i = 0; i < 3; i++) {
		vchan_ring_write(&w, &h, sizeof(h));
		vchan_ring_write(&w, pay, 32);
	}
	vchan_ring_write(&w, &h, sizeof(h));   /* a torn fourth */
	vchan_ring_publish(&w);
	assert_int_equal(vchan_ring_ready(&r, &n), 0);
	assert_int_equal(vchan_frame_count(&r, n, 0, 0), 4);   /* 3 + a torn one */
	/* A hostile huge length only ends the count. */
	h.len = UINT32_MAX;
	memcpy(f.buf, &h, sizeof(h));
	assert_int_equal(vchan_frame_count(&r, n, 0, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_normal_and_wrap),
		cmocka_unit_test(test_ready_hostile),
		cmocka_unit_test(test_space_hostile),
		cmocka_unit_test(test_copy_wraps),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_layout_lines),
		cmocka_unit_test(test_frame_check),
		cmocka_unit_test(test_frame_count),
		cmocka_unit_test(test_frame_span),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
