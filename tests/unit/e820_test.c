/* The E820 map against the RAM layout the VM maps: [0, min(ram, 3G)) and [4G, 4G + rest). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hostvisor/acpi.h"
#include "hostvisor/e820.h"
#include "hostvisor/ioapic.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)

static void expect_entry(const struct e820_map *map, int i, uint64_t addr, uint64_t size,
			 uint32_t type)
{
	assert_true(i < map->n);
	assert_int_equal(map->entry[i].addr, addr);
	assert_int_equal(map->entry[i].size, size);
	assert_int_equal(map->entry[i].type, type);
}

static void expect_fixed_low(const struct e820_map *map)
{
	expect_entry(map, 0, 0, 0x9fc00, E820_RAM);
	expect_entry(map, 1, 0x9fc00, 0x400, E820_RESERVED);
	expect_entry(map, 2, 0xe0000, 0x20000, E820_RESERVED);
}

static void expect_apic_pages(const struct e820_map *map, int first)
{
	expect_entry(map, first, IOAPIC_DEFAULT_BASE, 0x1000, E820_RESERVED);
	expect_entry(map, first + 1, LAPIC_DEFAULT_BASE, 0x1000, E820_RESERVED);
}

static void test_512m(void **state)
{
	struct e820_map map;

	(void)state;
	e820_build(&map, 512 * MIB);
	assert_int_equal(map.n, 6);
	expect_fixed_low(&map);
	expect_entry(&map, 3, MIB, 511 * MIB, E820_RAM);
	expect_apic_pages(&map, 4);
}

static void test_exactly_3g(void **state)
{
	struct e820_map map;

	(void)state;
	e820_build(&map, 3 * GIB);
	assert_int_equal(map.n, 6);
	expect_entry(&map, 3, MIB, 3 * GIB - MIB, E820_RAM);
}

static void test_above_3g_goes_above_4g(void **state)
{
	struct e820_map map;

	(void)state;
	e820_build(&map, 5 * GIB);
	assert_int_equal(map.n, 7);
	expect_fixed_low(&map);
	expect_entry(&map, 3, MIB, 3 * GIB - MIB, E820_RAM);
	expect_apic_pages(&map, 4);
	expect_entry(&map, 6, 4 * GIB, 2 * GIB, E820_RAM);
}

static void test_tiny_ram(void **state)
{
	struct e820_map map;

	(void)state;
	e820_build(&map, 256 * 1024);
	expect_entry(&map, 0, 0, 256 * 1024, E820_RAM);
	for (int i = 1; i < map.n; i++)
		assert_int_not_equal(map.entry[i].type, E820_RAM);

	e820_build(&map, MIB);
	expect_fixed_low(&map);
	assert_int_equal(map.n, 5); /* no RAM above 1 MiB */

	e820_build(&map, 0);
	for (int i = 0; i < map.n; i++)
		assert_int_not_equal(map.entry[i].type, E820_RAM);
}

/* Sorted, no overlaps, nothing of zero size: what the kernel's sanitizer would otherwise fix. */
static void test_sorted_disjoint(void **state)
{
	static const uint64_t sizes[] = { 0, 4096, 640 * 1024, MIB, MIB + 1, 64 * MIB,
					  3 * GIB - 1, 3 * GIB, 3 * GIB + 4096, 64 * GIB };
	struct e820_map map;

	(void)state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t ram = 0;

		e820_build(&map, sizes[s]);
		assert_true(map.n <= E820_MAX_ENTRIES);
		for (int i = 0; i < map.n; i++) {
			assert_true(map.entry[i].size > 0);
			if (i > 0)
				assert_true(map.entry[i - 1].addr + map.entry[i - 1].size <=
					    map.entry[i].addr);
			if (map.entry[i].type == E820_RAM)
				ram += map.entry[i].size;
		}
		/* Everything but the EBDA and BIOS area is reported as RAM. */
		if (sizes[s] >= MIB)
			assert_int_equal(ram, sizes[s] - 0x400 - 0x60000);
	}
}

static void test_range_helpers(void **state)
{
	struct e820_map map;

	(void)state;
	e820_build(&map, 5 * GIB);
	assert_true(e820_range_is_ram(&map, 0, 0x9fc00));
	assert_false(e820_range_is_ram(&map, 0, 0x9fc01));
	assert_false(e820_range_is_ram(&map, 0x9fc00, 1));
	assert_false(e820_range_is_ram(&map, 0xe0000, 1));
	assert_true(e820_range_is_ram(&map, MIB, 3 * GIB - MIB));
	assert_false(e820_range_is_ram(&map, MIB, 3 * GIB - MIB + 1));
	assert_false(e820_range_is_ram(&map, MIB, 0));
	assert_false(e820_range_is_ram(&map, 4 * GIB, UINT64_MAX));
	assert_false(e820_range_is_ram(&map, UINT64_MAX, 2));
	assert_true(e820_range_is_ram(&map, 6 * GIB - 1, 1));
	assert_false(e820_range_is_ram(&map, 6 * GIB, 1));
	assert_int_equal(e820_ram_end(&map, 0x1234), 0x9fc00);
	assert_int_equal(e820_ram_end(&map, 2 * MIB), 3 * GIB);
	assert_int_equal(e820_ram_end(&map, 3 * GIB), 0);

	/* A corrupt count is clamped, never trusted. */
	map.n = 1000;
	assert_true(e820_range_is_ram(&map, 0, 1));
	map.n = -5;
	assert_false(e820_range_is_ram(&map, 0, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_512m),
		cmocka_unit_test(test_exactly_3g),
		cmocka_unit_test(test_above_3g_goes_above_4g),
		cmocka_unit_test(test_tiny_ram),
		cmocka_unit_test(test_sorted_disjoint),
		cmocka_unit_test(test_range_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
