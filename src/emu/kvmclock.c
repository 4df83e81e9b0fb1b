/*
 * KVM paravirtual clock structures (Linux Documentation/virt/kvm/x86/msr.rst and
 * arch/x86/include/asm/pvclock-abi.h, both describing the ABI: field layout and the odd/even
 * version protocol).
 */
#include <errno.h>

#include "hostvisor/kvmclock.h"
#include "hostvisor/le.h"

#define TIME_INFO_SIZE 32
#define WALL_CLOCK_SIZE 12

bool kvmclock_is_msr(uint32_t msr)
{
	return msr == MSR_KVM_WALL_CLOCK || msr == MSR_KVM_SYSTEM_TIME ||
	       msr == MSR_KVM_WALL_CLOCK_NEW || msr == MSR_KVM_SYSTEM_TIME_NEW;
}

/*
 * Picks shift so that the ratio 10^6 / tsc_khz, scaled by 2^shift, lies in [0.5, 1), then
 * mul = ratio * 2^32: the most precise 32-bit multiplier (pvclock-abi.h).
 */
void kvmclock_scale(uint64_t tsc_khz, uint32_t *mul, int8_t *shift)
{
	uint64_t num = 1000000, den = tsc_khz ? tsc_khz : 1;
	int s = 0;

	while (num >= den && s < 31) { /* ratio >= 1: shift the TSC left */
		den <<= 1;
		s++;
	}
	while (num * 2 < den && s > -31) { /* ratio < 0.5: shift the TSC right */
		num <<= 1;
		s--;
	}
	*shift = (int8_t)s;
	*mul = (uint32_t)((num << 32) / den);
}

static int write_time_info(const struct gmem *gm, uint64_t gpa, const struct kvmclock_now *now)
{
	uint8_t b[TIME_INFO_SIZE] = { 0 };
	uint32_t mul;
	int8_t shift;

	kvmclock_scale(now->tsc_khz, &mul, &shift);
	/* version: even means consistent; a fresh structure is written whole, so 2 will do. */
	put32(b + 0, 2);
	put64(b + 8, now->tsc);
	put64(b + 16, now->system_ns);
	put32(b + 24, mul);
	b[28] = (uint8_t)shift;
	b[29] = PVCLOCK_TSC_STABLE_BIT;
	return gmem_write(gm, gpa, b, sizeof(b));
}

static int write_wall_clock(const struct gmem *gm, uint64_t gpa, const struct kvmclock_now *now)
{
	uint8_t b[WALL_CLOCK_SIZE] = { 0 };
	uint64_t boot = now->realtime_ns - now->system_ns;

	put32(b + 0, 2);
	put32(b + 4, (uint32_t)(boot / 1000000000ull));
	put32(b + 8, (uint32_t)(boot % 1000000000ull));
	return gmem_write(gm, gpa, b, sizeof(b));
}

int kvmclock_write_msr(const struct gmem *gm, uint32_t msr, uint64_t value,
		       const struct kvmclock_now *now)
{
	switch (msr) {
	case MSR_KVM_SYSTEM_TIME:
	case MSR_KVM_SYSTEM_TIME_NEW:
		if (!(value & 1))
			return 0; /* disabled */
		return write_time_info(gm, value & ~1ull, now);
	case MSR_KVM_WALL_CLOCK:
	case MSR_KVM_WALL_CLOCK_NEW:
		return write_wall_clock(gm, value, now);
	default:
		return -EINVAL;
	}
}
