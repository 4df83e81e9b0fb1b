/* KVM paravirtual clock structures (src/emu/kvmclock.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hostvisor/kvmclock.h"
#include "hostvisor/le.h"

#define RAM_SIZE 0x4000

static uint8_t ram[RAM_SIZE];
static struct gmem gm;

static int setup(void **state)
{
	(void)state;
	memset(ram, 0xee, sizeof(ram));
	memset(&gm, 0, sizeof(gm));
	return gmem_add_region(&gm, 0, sizeof(ram), ram);
}

/* What the guest computes from the structure (pvclock-abi.h): ns = ((delta << shift) * mul)
 * >> 32, a negative shift shifting right. */
static uint64_t guest_ns(const uint8_t *p, uint64_t tsc)
{
	uint64_t delta = tsc - get64(p + 8);
	int8_t shift = (int8_t)p[28];
	unsigned __int128 prod;

	delta = shift < 0 ? delta >> -shift : delta << shift;
	prod = (unsigned __int128)delta * get32(p + 24);
	return get64(p + 16) + (uint64_t)(prod >> 32);
}

static void test_scale_matches_frequency(void **state)
{
	static const uint64_t khz[] = { 2000000, 1000000, 3000000, 2500000, 123456, 9999999 };

	(void)state;
	for (size_t i = 0; i < sizeof(khz) / sizeof(khz[0]); i++) {
		uint32_t mul;
		int8_t shift;
		uint64_t tsc = khz[i] * 1000ull * 3; /* three seconds of ticks */
		uint64_t delta;
		unsigned __int128 ns;

		kvmclock_scale(khz[i], &mul, &shift);
		assert_true(mul >= 0x80000000u); /* the most precise multiplier */
		delta = shift < 0 ? tsc >> -shift : tsc << shift;
		ns = ((unsigned __int128)delta * mul) >> 32;
		assert_in_range((uint64_t)ns, 3000000000ull - 3000, 3000000000ull + 3000);
	}
}

static void test_system_time_structure(void **state)
{
	struct kvmclock_now now = { .tsc = 5000000, .system_ns = 2500000,
				    .realtime_ns = 1700000000123456789ull, .tsc_khz = 2000000 };
	const uint8_t *p = ram + 0x1000;

	(void)state;
	assert_int_equal(kvmclock_write_msr(&gm, MSR_KVM_SYSTEM_TIME_NEW, 0x1001, &now), 0);
	assert_int_equal(get32(p) & 1, 0); /* even version: consistent */
	assert_int_equal(get64(p + 8), 5000000);
	assert_int_equal(get64(p + 16), 2500000);
	assert_int_equal(p[29] & PVCLOCK_TSC_STABLE_BIT, PVCLOCK_TSC_STABLE_BIT);
	/* one more second of TSC is one more second of time */
	assert_in_range(guest_ns(p, 5000000 + 2000000000ull), 1002500000ull - 2, 1002500000ull + 2);
}

static void test_disabled_writes_nothing(void **state)
{
	struct kvmclock_now now = { .tsc = 1, .system_ns = 1, .tsc_khz = 2000000 };

	(void)state;
	assert_int_equal(kvmclock_write_msr(&gm, MSR_KVM_SYSTEM_TIME_NEW, 0x1000, &now), 0);
	assert_int_equal(ram[0x1000], 0xee);
}

static void test_wall_clock_is_boot_time(void **state)
{
	struct kvmclock_now now = { .system_ns = 3000000000ull,
				    .realtime_ns = 1700000010500000000ull, .tsc_khz = 2000000 };
	const uint8_t *p = ram + 0x2000;

	(void)state;
	assert_int_equal(kvmclock_write_msr(&gm, MSR_KVM_WALL_CLOCK_NEW, 0x2000, &now), 0);
	assert_int_equal(get32(p) & 1, 0);
	assert_int_equal(get32(p + 4), 1700000007u);
	assert_int_equal(get32(p + 8), 500000000u);
}

static void test_outside_ram_is_refused(void **state)
{
	struct kvmclock_now now = { .tsc_khz = 2000000 };

	(void)state;
	assert_int_equal(kvmclock_write_msr(&gm, MSR_KVM_SYSTEM_TIME_NEW, RAM_SIZE - 16 + 1, &now),
			 -EFAULT);
	assert_int_equal(kvmclock_write_msr(&gm, MSR_KVM_WALL_CLOCK_NEW, ~0ull - 4, &now), -EFAULT);
	assert_int_equal(kvmclock_write_msr(&gm, 0x10, 0, &now), -EINVAL);
	assert_true(kvmclock_is_msr(MSR_KVM_SYSTEM_TIME));
	assert_false(kvmclock_is_msr(0x4b564d02));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_scale_matches_frequency, setup),
		cmocka_unit_test_setup(test_system_time_structure, setup),
		cmocka_unit_test_setup(test_disabled_writes_nothing, setup),
		cmocka_unit_test_setup(test_wall_clock_is_boot_time, setup),
		cmocka_unit_test_setup(test_outside_ram_is_refused, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
