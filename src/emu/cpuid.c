/*
 * CPUID of the emu CPU (Intel SDM vol. 2A "CPUID", Intel SDM vol. 3A 9.11 for the signature;
 * the KVM paravirtual leaves of Linux Documentation/virt/kvm/x86/cpuid.rst). The feature set is
 * the one of DESIGN.md section 2: whatever is set here is implemented exactly, everything else
 * raises the fault the SDM gives for an absent feature.
 *
 * Vendor and model. The CPU says GenuineIntel, family 6, model 0x1c (Atom "Bonnell", the
 * 64-bit Atom 330 / D510 generation), stepping 10:
 *  - an unknown vendor string makes Linux complain; of the two known ones, Intel's init path
 *    touches the fewest MSRs without rdmsr_safe (MISC_ENABLE and the microcode revision MSR;
 *    AMD family 0xf+ adds HWCR and friends, and AMD's 64-bit parts are never family 6);
 *  - Bonnell is on Linux's cpu_vuln_whitelist as NO_SPECULATION: no Spectre/Meltdown/MDS/L1TF
 *    mitigations, so no page-table isolation (a CR3 switch and full TLB flush on every kernel
 *    entry would cost an interpreter dearly) and no VERW on return to user;
 *  - model >= 0xe gives CONSTANT_TSC and model >= 15 keeps PAT (Linux drops PAT below 15 for
 *    a Pentium III / Core Duo erratum); stepping 10 is past the Atom PSE erratum (stepping <= 2);
 *  - no model-specific TSC calibration MSR (tsc_msr.c lists later Atoms only) and no RAPL,
 *    intel_pstate or PMU model tables that would go further than printing "unsupported".
 * The caches reported (leaf 4, 0x80000006) are Bonnell's: L1i 32 KiB 8-way, L1d 24 KiB 6-way,
 * L2 512 KiB 8-way, 64-byte lines.
 */
#include <string.h>

#include "hostvisor/x86_cpu.h"

/* Highest basic leaf: 7 (structured features, all zero); 0xa (PMU), 0xb (x2APIC topology)
 * and 0xd (XSAVE) are left out, as on a part without those features. */
#define CPUID_MAX_BASIC 7u
#define CPUID_MAX_BASIC_LIMITED 2u /* IA32_MISC_ENABLE.LIMIT_CPUID (SDM vol. 4 table 2-2) */
#define CPUID_MAX_EXT 0x80000008u
#define CPUID_HV_BASE 0x40000000u
#define CPUID_MAX_HV 0x40000001u

/* family 6, model 0x1c (extended model 1, model 0xc), stepping 0xa: SDM figure 3-6 */
#define CPUID_SIGNATURE 0x000106cau

/* CPUID.1:EDX (SDM vol. 2A table 3-11) */
#define F1D_FPU (1u << 0)
#define F1D_PSE (1u << 3)
#define F1D_TSC (1u << 4)
#define F1D_MSR (1u << 5)
#define F1D_PAE (1u << 6)
#define F1D_CX8 (1u << 8)
#define F1D_APIC (1u << 9)
#define F1D_PGE (1u << 13)
#define F1D_CMOV (1u << 15)
#define F1D_PAT (1u << 16)
#define F1D_CLFSH (1u << 19)
#define F1D_MMX (1u << 23)
#define F1D_FXSR (1u << 24)
#define F1D_SSE (1u << 25)
#define F1D_SSE2 (1u << 26)
#define F1C_HYPERVISOR (1u << 31)

#define CPUID_1_EDX                                                                                \
	(F1D_FPU | F1D_PSE | F1D_TSC | F1D_MSR | F1D_PAE | F1D_CX8 | F1D_APIC | F1D_PGE |          \
	 F1D_CMOV | F1D_PAT | F1D_CLFSH | F1D_MMX | F1D_FXSR | F1D_SSE | F1D_SSE2)

/* CPUID.80000001h:EDX */
#define F81D_SYSCALL (1u << 11)
#define F81D_NX (1u << 20)
#define F81D_LM (1u << 29)

/* KVM paravirtual features (CPUID 0x40000001 EAX) */
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)

#define CLFLUSH_LINE_QWORDS 8u /* CLFLUSH line size in 8-byte units: 64 bytes */
#define PHYS_ADDR_BITS 40u
#define LINEAR_ADDR_BITS 48u

static const char brand[48] = "hostvisor emu CPU";

/* Four little-endian characters as a register value. */
static uint32_t chars4(const char *s)
{
	return (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[1] << 8 |
	       (uint32_t)(uint8_t)s[2] << 16 | (uint32_t)(uint8_t)s[3] << 24;
}

static void set(uint32_t out[4], uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	out[0] = a;
	out[1] = b;
	out[2] = c;
	out[3] = d;
}

/* Leaf 4, deterministic cache parameters (SDM vol. 2A table 3-8): one core, one thread. */
static void cache_leaf(uint32_t subleaf, uint32_t out[4])
{
	static const struct {
		uint8_t type, level, ways;
		uint16_t sets;
	} caches[] = {
	    {1, 1, 6, 64},   /* L1 data: 24 KiB */
	    {2, 1, 8, 64},   /* L1 instruction: 32 KiB */
	    {3, 2, 8, 1024}, /* L2 unified: 512 KiB */
	};
	const unsigned line = 64;

	if (subleaf >= sizeof(caches) / sizeof(caches[0])) {
		set(out, 0, 0, 0, 0); /* type 0: no more caches */
		return;
	}
	set(out, caches[subleaf].type | (uint32_t)caches[subleaf].level << 5 | 1u << 8,
	    (uint32_t)(caches[subleaf].ways - 1) << 22 | (line - 1), caches[subleaf].sets - 1u, 0);
}

static uint32_t max_basic(const struct x86_cpu *cpu)
{
	if (cpu->msr.misc_enable & X86_MISC_ENABLE_LIMIT_CPUID)
		return CPUID_MAX_BASIC_LIMITED;
	return CPUID_MAX_BASIC;
}

static void basic_leaf(const struct x86_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	switch (leaf) {
	case 0:
		set(out, max_basic(cpu), chars4("Genu"), chars4("ntel"), chars4("ineI"));
		return;
	case 1:
		/* EBX: brand index 0, CLFLUSH line size, logical processor count 1, APIC ID. */
		set(out, CPUID_SIGNATURE,
		    (cpu->apic_id & 0xffu) << 24 | 1u << 16 | CLFLUSH_LINE_QWORDS << 8,
		    F1C_HYPERVISOR, CPUID_1_EDX);
		return;
	case 2:
		/* AL = 1 (one call), descriptor FFh: "use leaf 4 for cache parameters". */
		set(out, 0x0000ff01u, 0, 0, 0);
		return;
	case 4:
		cache_leaf(subleaf, out);
		return;
	default:
		/* 3 (no serial number), 5 (no MONITOR), 6 (no thermal/power features), 7 (no
		 * structured extended features; subleaf 0 EAX = 0: no further subleaves). */
		set(out, 0, 0, 0, 0);
		return;
	}
}

static void extended_leaf(uint32_t leaf, uint32_t out[4])
{
	unsigned i;

	switch (leaf) {
	case 0x80000000u:
		set(out, CPUID_MAX_EXT, 0, 0, 0);
		return;
	case 0x80000001u:
		set(out, 0, 0, 0, F81D_SYSCALL | F81D_NX | F81D_LM);
		return;
	case 0x80000002u:
	case 0x80000003u:
	case 0x80000004u:
		i = (leaf - 0x80000002u) * 16;
		set(out, chars4(&brand[i]), chars4(&brand[i + 4]), chars4(&brand[i + 8]),
		    chars4(&brand[i + 12]));
		return;
	case 0x80000006u:
		/* L2: size in KiB, associativity code 6 = 8-way, line size (SDM table 3-8). */
		set(out, 0, 0, 512u << 16 | 6u << 12 | 64u, 0);
		return;
	case 0x80000008u:
		set(out, LINEAR_ADDR_BITS << 8 | PHYS_ADDR_BITS, 0, 0, 0);
		return;
	default: /* 80000005h and 80000007h: reserved on Intel / no invariant TSC */
		set(out, 0, 0, 0, 0);
		return;
	}
}

void x86_cpuid(const struct x86_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	uint32_t max = max_basic(cpu);

	if (leaf <= max) {
		basic_leaf(cpu, leaf, subleaf, out);
	} else if (leaf >= 0x80000000u && leaf <= CPUID_MAX_EXT) {
		extended_leaf(leaf, out);
	} else if (leaf == CPUID_HV_BASE) {
		/* max hypervisor leaf and the signature "KVMKVMKVM\0\0\0" */
		set(out, CPUID_MAX_HV, chars4("KVMK"), chars4("VMKV"), chars4("M\0\0\0"));
	} else if (leaf == CPUID_MAX_HV) {
		set(out, KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT, 0, 0, 0);
	} else {
		/* SDM CPUID: a leaf above the maximum returns the highest basic leaf's data. */
		basic_leaf(cpu, max, subleaf, out);
	}
}
