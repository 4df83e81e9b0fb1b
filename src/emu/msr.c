/*
 * The model-specific registers the emu CPU core keeps (Intel SDM vol. 4 "Model-Specific
 * Registers", tables 2-2 and 2-3 for family 6; SDM vol. 3A 2.2.1 for EFER). MSRs of devices
 * (IA32_APIC_BASE for the local APIC, the KVM clock MSRs) and everything unknown go to
 * mem->rdmsr / mem->wrmsr; if those are missing or refuse, RDMSR/WRMSR raise #GP(0) as a CPU
 * without the MSR does.
 *
 * Besides the architectural ones, this covers every MSR Linux 6.1 reads or writes on this CPU
 * model (cpuid.c) without rdmsr_safe/wrmsr_safe, so that its boot shows no "unchecked MSR
 * access" warning: IA32_MISC_ENABLE (early_init_intel, verify_cpu), IA32_BIOS_SIGN_ID (the
 * microcode revision read by early_init_intel), IA32_PAT (init_cache_modes), STAR/LSTAR/CSTAR/
 * FMASK (syscall_init), FS/GS/KERNEL_GS_BASE (cpu_init, context switch) and EFER. Linux's
 * accesses to MSRs of features this CPU does not advertise (SYSENTER, MTRR, MCE, TSC_AUX,
 * SPEC_CTRL, FEATURE_CONTROL's VMX bits, MISC_FEATURES_ENABLES...) either are skipped by CPUID
 * checks or use the _safe accessors, and get #GP here like on a CPU without the feature.
 */
#include "exec_internal.h"

#define MSR_IA32_TSC 0x10u
#define MSR_IA32_PLATFORM_ID 0x17u
#define MSR_IA32_FEATURE_CONTROL 0x3au
#define MSR_IA32_BIOS_SIGN_ID 0x8bu
#define MSR_IA32_MISC_ENABLE 0x1a0u
#define MSR_IA32_DEBUGCTL 0x1d9u
#define MSR_IA32_PAT 0x277u
#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_FMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

/* The microcode revision IA32_BIOS_SIGN_ID reports in bits 63:32 after a CPUID. */
#define UCODE_REVISION 0x1ull
/* IA32_FEATURE_CONTROL: locked, VMX and SMX off (no VMX/SMX in CPUID). */
#define FEATURE_CONTROL_LOCKED 0x1ull

/* Bits software may change; BTS/PEBS_UNAVAIL are read-only ones, all others read-only zeros
 * (XD disable, MONITOR enable, EIST... belong to features this CPU does not have). */
#define MISC_ENABLE_WRITABLE                                                                       \
	(X86_MISC_ENABLE_FAST_STRING | X86_MISC_ENABLE_LIMIT_CPUID | X86_MISC_ENABLE_XTPR_DISABLE)
#define MISC_ENABLE_RO_ONES (X86_MISC_ENABLE_BTS_UNAVAIL | X86_MISC_ENABLE_PEBS_UNAVAIL)

#define EFER_VALID (X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)

static int gp(struct x86_cpu *cpu)
{
	cpu->fault_error_code = 0;
	return X86_EXC_GP;
}

/* 48-bit linear addresses: bits 63:47 equal (SDM 3.3.7.1). */
static bool canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16) == v;
}

uint64_t x86_tsc_read(const struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque)
{
	uint64_t ns = mem->clock_ns ? mem->clock_ns(opaque) : 0;
	uint64_t ticks = (uint64_t)((unsigned __int128)ns * X86_TSC_KHZ / 1000000u);

	return ticks + (uint64_t)cpu->msr.tsc_offset;
}

/* PAT entries may hold UC(0) WC(1) WT(4) WP(5) WB(6) UC-(7) (SDM vol. 3A 11.12.2). */
static bool pat_valid(uint64_t pat)
{
	for (unsigned i = 0; i < 8; i++) {
		uint8_t type = (uint8_t)(pat >> (8 * i));

		if (type > 7 || type == 2 || type == 3)
			return false;
	}
	return true;
}

/* SDM vol. 3A 2.2.1 and 9.8.5: LMA is set by the processor (writes keep it); LME cannot
 * change while paging is on. */
static int write_efer(struct x86_exec *x, uint64_t val)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t old = cpu->efer, efer;

	if (val & ~EFER_VALID)
		return gp(cpu);
	efer = (val & ~X86_EFER_LMA) | (old & X86_EFER_LMA);
	if ((cpu->cr0 & X86_CR0_PG) && ((efer ^ old) & X86_EFER_LME))
		return gp(cpu);
	cpu->efer = efer;
	if ((efer ^ old) & X86_EFER_NXE)
		x86_tlb_flush(cpu, true); /* cached translations carry the old XD meaning */
	x86_update_mode(cpu);
	x->sys_changed = true;
	return 0;
}

static int core_read(struct x86_exec *x, uint32_t msr, uint64_t *val)
{
	struct x86_cpu *cpu = x->cpu;

	switch (msr) {
	case MSR_IA32_TSC:
		*val = x86_tsc_read(cpu, x->mem, x->opaque);
		return 0;
	case MSR_IA32_PLATFORM_ID:
	case MSR_IA32_DEBUGCTL:
		*val = 0;
		return 0;
	case MSR_IA32_FEATURE_CONTROL:
		*val = FEATURE_CONTROL_LOCKED;
		return 0;
	case MSR_IA32_BIOS_SIGN_ID:
		*val = UCODE_REVISION << 32;
		return 0;
	case MSR_IA32_MISC_ENABLE:
		*val = cpu->msr.misc_enable;
		return 0;
	case MSR_IA32_PAT:
		*val = cpu->msr.pat;
		return 0;
	case MSR_EFER:
		*val = cpu->efer;
		return 0;
	case MSR_STAR:
		*val = cpu->msr.star;
		return 0;
	case MSR_LSTAR:
		*val = cpu->msr.lstar;
		return 0;
	case MSR_CSTAR:
		*val = cpu->msr.cstar;
		return 0;
	case MSR_FMASK:
		*val = cpu->msr.sfmask;
		return 0;
	case MSR_FS_BASE:
		*val = cpu->seg[X86_SEG_FS].base;
		return 0;
	case MSR_GS_BASE:
		*val = cpu->seg[X86_SEG_GS].base;
		return 0;
	case MSR_KERNEL_GS_BASE:
		*val = cpu->msr.kernel_gs_base;
		return 0;
	default:
		return X86_EXEC_UNHANDLED;
	}
}

/* The FS/GS/KERNEL_GS_BASE, LSTAR and CSTAR writes: canonical or #GP (SDM vol. 4 table 2-2). */
static int write_canonical(struct x86_cpu *cpu, uint64_t *reg, uint64_t val)
{
	if (!canonical(val))
		return gp(cpu);
	*reg = val;
	return 0;
}

static int core_write(struct x86_exec *x, uint32_t msr, uint64_t val)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t now;

	switch (msr) {
	case MSR_IA32_TSC:
		now = x86_tsc_read(cpu, x->mem, x->opaque) - (uint64_t)cpu->msr.tsc_offset;
		cpu->msr.tsc_offset = (int64_t)(val - now);
		return 0;
	case MSR_IA32_BIOS_SIGN_ID:
		return 0; /* software writes 0 before reading the revision (SDM vol. 3A 9.11.7) */
	case MSR_IA32_DEBUGCTL:
		return val ? gp(cpu) : 0; /* LBR/BTF/BTS are not implemented */
	case MSR_IA32_MISC_ENABLE:
		if (val & ~(MISC_ENABLE_WRITABLE | MISC_ENABLE_RO_ONES))
			return gp(cpu);
		cpu->msr.misc_enable = (val & MISC_ENABLE_WRITABLE) | MISC_ENABLE_RO_ONES;
		return 0;
	case MSR_IA32_PAT:
		if (!pat_valid(val))
			return gp(cpu);
		cpu->msr.pat = val;
		return 0;
	case MSR_EFER:
		return write_efer(x, val);
	case MSR_STAR:
		cpu->msr.star = val;
		return 0;
	case MSR_LSTAR:
		return write_canonical(cpu, &cpu->msr.lstar, val);
	case MSR_CSTAR:
		return write_canonical(cpu, &cpu->msr.cstar, val);
	case MSR_FMASK:
		if (val >> 32)
			return gp(cpu); /* bits 63:32 reserved */
		cpu->msr.sfmask = val;
		return 0;
	case MSR_FS_BASE:
		return write_canonical(cpu, &cpu->seg[X86_SEG_FS].base, val);
	case MSR_GS_BASE:
		return write_canonical(cpu, &cpu->seg[X86_SEG_GS].base, val);
	case MSR_KERNEL_GS_BASE:
		return write_canonical(cpu, &cpu->msr.kernel_gs_base, val);
	case MSR_IA32_PLATFORM_ID:
	case MSR_IA32_FEATURE_CONTROL: /* locked */
		return gp(cpu);
	default:
		return X86_EXEC_UNHANDLED;
	}
}

int x86_msr_read(struct x86_exec *x, uint32_t msr, uint64_t *val)
{
	int rc = core_read(x, msr, val);

	if (rc != X86_EXEC_UNHANDLED)
		return rc;
	if (!x->mem->rdmsr || x->mem->rdmsr(x->opaque, msr, val))
		return gp(x->cpu);
	return 0;
}

int x86_msr_write(struct x86_exec *x, uint32_t msr, uint64_t val)
{
	int rc = core_write(x, msr, val);

	if (rc != X86_EXEC_UNHANDLED)
		return rc;
	if (!x->mem->wrmsr || x->mem->wrmsr(x->opaque, msr, val))
		return gp(x->cpu);
	return 0;
}
