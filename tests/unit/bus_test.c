/* Bus dispatch: registration rules, offsets, all-ones for unclaimed, ids for statistics. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostvisor/bus.h"

struct recorder {
	uint64_t last_offset, last_value;
	unsigned last_size;
	int writes;
};

static uint64_t rec_read(void *opaque, uint64_t offset, unsigned size)
{
	struct recorder *r = opaque;

	r->last_offset = offset;
	r->last_size = size;
	return 0x1122334455667788ull;
}

static void rec_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct recorder *r = opaque;

	r->last_offset = offset;
	r->last_size = size;
	r->last_value = value;
	r->writes++;
}

static void test_overlaps_refused(void **state)
{
	struct bus bus;
	struct recorder r = { 0 };

	(void)state;
	bus_init(&bus, "pio");
	assert_true(bus_register(&bus, "a", 0x60, 1, rec_read, rec_write, &r) >= 0);
	assert_true(bus_register(&bus, "b", 0x64, 1, rec_read, rec_write, &r) >= 0);
	assert_int_equal(bus_register(&bus, "c", 0x5f, 2, rec_read, rec_write, &r), -EEXIST);
	assert_int_equal(bus_register(&bus, "d", 0x64, 1, rec_read, rec_write, &r), -EEXIST);
	assert_int_equal(bus_register(&bus, "e", 0x10, 0x100, rec_read, rec_write, &r), -EEXIST);
	assert_true(bus_register(&bus, "f", 0x61, 3, rec_read, rec_write, &r) >= 0);
	assert_int_equal(bus_register(&bus, "g", ~0ull, 2, rec_read, rec_write, &r), -EINVAL);
	assert_int_equal(bus_register(&bus, "h", 0x100, 0, rec_read, rec_write, &r), -EINVAL);
	bus_destroy(&bus);
}

static void test_dispatch_offsets_and_masks(void **state)
{
	struct bus bus;
	struct recorder r = { 0 };
	uint64_t v;
	int id;

	(void)state;
	bus_init(&bus, "pio");
	id = bus_register(&bus, "uart", 0x3f8, 8, rec_read, rec_write, &r);
	assert_true(id >= 0);
	assert_int_equal(bus_write(&bus, 0x3fb, 1, 0x1ff), id);
	assert_int_equal(r.last_offset, 3);
	assert_int_equal(r.last_value, 0xff); /* value masked to the access size */
	assert_int_equal(bus_read(&bus, 0x3f8, 2, &v), id);
	assert_int_equal(v, 0x7788);
	assert_int_equal(r.last_size, 2);
	bus_destroy(&bus);
}

static void test_unclaimed_reads_all_ones(void **state)
{
	struct bus bus;
	uint64_t v = 0;

	(void)state;
	bus_init(&bus, "pio");
	assert_int_equal(bus_read(&bus, 0x1234, 1, &v), BUS_UNCLAIMED);
	assert_int_equal(v, 0xff);
	assert_int_equal(bus_read(&bus, 0x1234, 4, &v), BUS_UNCLAIMED);
	assert_int_equal(v, 0xffffffffu);
	assert_int_equal(bus_read(&bus, 0x1234, 8, &v), BUS_UNCLAIMED);
	assert_true(v == ~0ull);
	assert_int_equal(bus_write(&bus, 0x1234, 1, 0), BUS_UNCLAIMED);
	bus_destroy(&bus);
}

static void test_unregister_and_ids_not_reused(void **state)
{
	struct bus bus;
	struct recorder r = { 0 }, other = { 0 };
	uint64_t base, v;
	int a, b;

	(void)state;
	bus_init(&bus, "mmio");
	a = bus_register(&bus, "bar", 0xe0000000, 0x1000, rec_read, rec_write, &r);
	assert_int_equal(bus_unregister(&bus, 0xe0000000, &other), -ENOENT);
	assert_int_equal(bus_unregister(&bus, 0xe0000000, &r), 0);
	assert_int_equal(bus_read(&bus, 0xe0000000, 4, &v), BUS_UNCLAIMED);
	b = bus_register(&bus, "bar", 0xe0001000, 0x1000, rec_read, rec_write, &r);
	assert_true(b > a);
	assert_string_equal(bus_id_name(&bus, a, &base), "bar");
	assert_true(base == 0xe0000000);
	assert_null(bus_id_name(&bus, 400, NULL));
	bus_destroy(&bus);
}

static void test_many_ranges_sorted_lookup(void **state)
{
	struct bus bus;
	struct recorder r[64] = { 0 };

	(void)state;
	bus_init(&bus, "pio");
	/* Registered in a scrambled order; each must still be found at its own address. */
	for (int i = 0; i < 64; i++) {
		int k = (i * 37) % 64;
		assert_true(bus_register(&bus, "x", 0x1000 + k * 0x10, 8, rec_read, rec_write,
					 &r[k]) >= 0);
	}
	for (int k = 0; k < 64; k++) {
		assert_true(bus_write(&bus, 0x1000 + k * 0x10 + 7, 1, k) >= 0);
		assert_int_equal(r[k].last_value, k);
		assert_int_equal(r[k].last_offset, 7);
		assert_int_equal(bus_write(&bus, 0x1000 + k * 0x10 + 8, 1, k), BUS_UNCLAIMED);
	}
	bus_destroy(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlaps_refused),
		cmocka_unit_test(test_dispatch_offsets_and_masks),
		cmocka_unit_test(test_unclaimed_reads_all_ones),
		cmocka_unit_test(test_unregister_and_ids_not_reused),
		cmocka_unit_test(test_many_ranges_sorted_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
