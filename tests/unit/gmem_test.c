/* Guest memory accessors: every range check, across region boundaries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hostvisor/gmem.h"

static uint8_t low[4096], high[4096];

static struct gmem two_regions(void)
{
	struct gmem gm = { 0 };

	assert_int_equal(gmem_add_region(&gm, 0, sizeof(low), low), 0);
	assert_int_equal(gmem_add_region(&gm, 0x10000, sizeof(high), high), 0);
	return gm;
}

static void test_add_region_rejects_overlap_and_wrap(void **state)
{
	struct gmem gm = two_regions();

	(void)state;
	assert_int_equal(gmem_add_region(&gm, 0x800, 0x1000, low), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, ~0ull - 10, 100, low), -EINVAL);
	assert_int_equal(gmem_add_region(&gm, 0x20000, 0, low), -EINVAL);
	assert_int_equal(gmem_size(&gm), sizeof(low) + sizeof(high));
}

static void test_ptr_checks_whole_range(void **state)
{
	struct gmem gm = two_regions();

	(void)state;
	assert_ptr_equal(gmem_ptr(&gm, 0, 4096), low);
	assert_ptr_equal(gmem_ptr(&gm, 4095, 1), low + 4095);
	assert_null(gmem_ptr(&gm, 4095, 2));
	assert_null(gmem_ptr(&gm, 4096, 1));
	assert_null(gmem_ptr(&gm, 0x10000, ~0ull));
	assert_ptr_equal(gmem_ptr(&gm, 0x10000 + 4096 - 8, 8), high + 4096 - 8);
	assert_null(gmem_ptr(&gm, ~0ull, 1));
}

static void test_read_write_round_trip_and_fault(void **state)
{
	struct gmem gm = two_regions();
	uint8_t buf[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }, out[16];
	uint32_t v;

	(void)state;
	assert_int_equal(gmem_write(&gm, 0x10010, buf, sizeof(buf)), 0);
	assert_int_equal(gmem_read(&gm, 0x10010, out, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));
	memset(out, 0xee, sizeof(out));
	assert_int_equal(gmem_read(&gm, 4090, out, 16), -EFAULT);
	assert_int_equal(out[0], 0xee); /* nothing copied on a fault */
	assert_int_equal(gmem_write32(&gm, 0x10000, 0xdeadbeef), 0);
	assert_int_equal(gmem_read32(&gm, 0x10000, &v), 0);
	assert_int_equal(v, 0xdeadbeef);
	assert_int_equal(gmem_read32(&gm, 0x10000 + 4094, &v), -EFAULT);
}

static void test_iov_splits_adjacent_regions(void **state)
{
	static uint8_t a[64], b[64];
	struct gmem gm = { 0 };
	struct iovec iov[2];

	(void)state;
	assert_int_equal(gmem_add_region(&gm, 0, 64, a), 0);
	assert_int_equal(gmem_add_region(&gm, 64, 64, b), 0);
	assert_int_equal(gmem_iov(&gm, 60, 10, iov, 2), 2);
	assert_ptr_equal(iov[0].iov_base, a + 60);
	assert_int_equal(iov[0].iov_len, 4);
	assert_ptr_equal(iov[1].iov_base, b);
	assert_int_equal(iov[1].iov_len, 6);
	assert_int_equal(gmem_iov(&gm, 60, 10, iov, 1), -ENOBUFS);
	assert_int_equal(gmem_iov(&gm, 120, 10, iov, 2), -EFAULT);
	assert_int_equal(gmem_iov(&gm, ~0ull - 2, 10, iov, 2), -EFAULT);
	assert_int_equal(gmem_iov(&gm, 5, 0, iov, 2), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_region_rejects_overlap_and_wrap),
		cmocka_unit_test(test_ptr_checks_whole_range),
		cmocka_unit_test(test_read_write_round_trip_and_fault),
		cmocka_unit_test(test_iov_splits_adjacent_regions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
