/*
 * The KVM paravirtual clock the emu engine offers its guests (Linux
 * Documentation/virt/kvm/x86/msr.rst: MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW, and the
 * pvclock structures they point at). With it Linux reads the TSC frequency from the structure
 * and needs no calibration loop, which on an interpreter would take seconds.
 *
 * The emu TSC runs at a fixed rate from the host's monotonic clock, the same for every vCPU, so
 * the structure is written once when the guest enables it and carries the STABLE flag.
 */
#ifndef HOSTVISOR_KVMCLOCK_H
#define HOSTVISOR_KVMCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/gmem.h"

#define MSR_KVM_WALL_CLOCK 0x11
#define MSR_KVM_SYSTEM_TIME 0x12
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

#define PVCLOCK_TSC_STABLE_BIT (1u << 0)

/* The guest's view of time at one instant. */
struct kvmclock_now {
	uint64_t tsc;	       /* guest TSC */
	uint64_t system_ns;    /* guest uptime in ns (what the TSC counts from 0) */
	uint64_t realtime_ns;  /* host wall-clock time, ns since the epoch */
	uint64_t tsc_khz;      /* guest TSC frequency */
};

/* Is msr one of the four kvmclock MSRs? */
bool kvmclock_is_msr(uint32_t msr);

/*
 * A guest write to one of the MSRs: for the system-time MSRs with bit 0 (enable) set, writes
 * struct pvclock_vcpu_time_info at the 32-byte aligned address value & ~1; for the wall-clock
 * MSRs writes struct pvclock_wall_clock (the wall-clock time at guest uptime 0) at value.
 * Returns 0, or -EFAULT if the structure would not lie in guest RAM (the guest gets nothing;
 * a real KVM ignores such a write too).
 */
int kvmclock_write_msr(const struct gmem *gm, uint32_t msr, uint64_t value,
		       const struct kvmclock_now *now);

/* tsc_to_system_mul and tsc_shift for a TSC of tsc_khz (pvclock: ns = ((tsc << shift) * mul)
 * >> 32, a negative shift shifting right). */
void kvmclock_scale(uint64_t tsc_khz, uint32_t *mul, int8_t *shift);

#endif
