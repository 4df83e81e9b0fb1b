/*
 * The emu engine's CPU: architectural state and one-instruction execution (Intel SDM vol. 1
 * ch. 3 "Basic Execution Environment", vol. 2 instruction pages; AMD APM vol. 1 ch. 2-3).
 *
 * The CPU reaches memory, ports, MSRs outside the core and the clock only through struct
 * x86_mem_ops, so a test can give it a flat buffer and the engine (src/emu/engine.c) gives it
 * guest RAM and the device buses. Paging and the TLB are in x86_mmu.h.
 */
#ifndef HOSTVISOR_X86_CPU_H
#define HOSTVISOR_X86_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvisor/x86_decode.h"

/* GPR numbers as encoded in ModRM/SIB/opcode with REX (SDM table 3-1). */
enum x86_gpr {
	X86_RAX,
	X86_RCX,
	X86_RDX,
	X86_RBX,
	X86_RSP,
	X86_RBP,
	X86_RSI,
	X86_RDI,
	X86_R8,
	X86_R9,
	X86_R10,
	X86_R11,
	X86_R12,
	X86_R13,
	X86_R14,
	X86_R15,
	X86_GPR_COUNT,
};

/* RFLAGS bits (SDM 3.4.3). */
#define X86_FLAG_CF (1ull << 0)
#define X86_FLAG_FIXED1 (1ull << 1) /* always 1 */
#define X86_FLAG_PF (1ull << 2)
#define X86_FLAG_AF (1ull << 4)
#define X86_FLAG_ZF (1ull << 6)
#define X86_FLAG_SF (1ull << 7)
#define X86_FLAG_TF (1ull << 8)
#define X86_FLAG_IF (1ull << 9)
#define X86_FLAG_DF (1ull << 10)
#define X86_FLAG_OF (1ull << 11)
#define X86_FLAGS_ARITH                                                                            \
	(X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF)

#define X86_FLAG_IOPL (3ull << 12)
#define X86_FLAG_NT (1ull << 14)
#define X86_FLAG_RF (1ull << 16)
#define X86_FLAG_VM (1ull << 17)
#define X86_FLAG_AC (1ull << 18)
#define X86_FLAG_VIF (1ull << 19)
#define X86_FLAG_VIP (1ull << 20)
#define X86_FLAG_ID (1ull << 21)

/* Control register bits (SDM 2.5) and EFER (SDM 2.2.1). */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_EM (1ull << 2)
#define X86_CR0_TS (1ull << 3)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_VME (1ull << 0)
#define X86_CR4_PVI (1ull << 1)
#define X86_CR4_TSD (1ull << 2)
#define X86_CR4_DE (1ull << 3)
#define X86_CR4_PSE (1ull << 4)
#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_MCE (1ull << 6)
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_PCE (1ull << 8)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)

/*
 * Exceptions x86_step and the memory callbacks return: X86_EXC(vector), never 0, so that
 * vector 0 (#DE) is distinct from success. The error code of #TS #NP #SS #GP #PF #AC (#DF: 0)
 * is in cpu->fault_error_code, the #PF linear address in cpu->fault_addr; whoever returns such
 * an exception sets those first (0 unless the SDM says otherwise).
 */
#define X86_EXC(vector) (0x100 | (vector))
#define X86_EXC_VECTOR(exc) ((exc)&0xff)
#define X86_EXC_DE X86_EXC(0)
#define X86_EXC_DB X86_EXC(1)
#define X86_EXC_BP X86_EXC(3)
#define X86_EXC_OF X86_EXC(4)
#define X86_EXC_BR X86_EXC(5)
#define X86_EXC_UD X86_EXC(6)
#define X86_EXC_NM X86_EXC(7)
#define X86_EXC_DF X86_EXC(8)
#define X86_EXC_TS X86_EXC(10)
#define X86_EXC_NP X86_EXC(11)
#define X86_EXC_SS X86_EXC(12)
#define X86_EXC_GP X86_EXC(13)
#define X86_EXC_PF X86_EXC(14)
#define X86_EXC_MF X86_EXC(16)
#define X86_EXC_AC X86_EXC(17)
#define X86_EXC_XM X86_EXC(19)
/* Not an exception: x86_deliver_event found a fault while delivering a double fault. */
#define X86_TRIPLE_FAULT 0x200

/* #PF error code bits (SDM 4.7). */
#define X86_PF_P (1u << 0)
#define X86_PF_W (1u << 1)
#define X86_PF_U (1u << 2)
#define X86_PF_RSVD (1u << 3)
#define X86_PF_I (1u << 4)

/*
 * A segment register with its hidden descriptor cache (SDM 3.4.3). attr holds descriptor bits
 * 40-47 in bits 0-7 (type, S, DPL, P) and bits 52-55 in bits 8-11 (AVL, L, D/B, G); limit is
 * already scaled by G.
 */
struct x86_segment {
	uint16_t selector;
	uint64_t base;
	uint32_t limit;
	uint32_t attr;
};
#define X86_SEGA_TYPE 0x00f
#define X86_SEGA_ACCESSED 0x001
#define X86_SEGA_S 0x010 /* code/data (1) or system (0) */
#define X86_SEGA_DPL_SHIFT 5
#define X86_SEGA_DPL (3u << X86_SEGA_DPL_SHIFT)
#define X86_SEGA_P 0x080
#define X86_SEGA_AVL 0x100
#define X86_SEGA_L 0x200
#define X86_SEGA_DB 0x400
#define X86_SEGA_G 0x800
#define X86_SEGA_UNUSABLE 0x10000 /* a null selector was loaded (SDM 3.4.3) */

/* GDTR / IDTR (SDM 2.4.1). */
struct x86_dtr {
	uint64_t base;
	uint16_t limit;
};

/* An x87 register as stored: 64-bit significand and sign|15-bit exponent (SDM 4.2.2). */
struct x86_f80 {
	uint64_t mant;
	uint16_t sexp;
};

union x86_xmm {
	uint8_t b[16];
	uint16_t w[8];
	uint32_t d[4];
	uint64_t q[2];
	float f[4];
	double df[2];
};

/*
 * x87, MMX and SSE state (SDM 8.1, 9.2, 10.2). fpr[] are the physical registers R0..R7: ST(i)
 * is fpr[(TOP + i) & 7] with TOP in fsw bits 13:11; MMi is fpr[i].mant. ftw is the abridged
 * tag of FXSAVE: bit i set means R(i) is not empty.
 */
struct x86_fpu {
	uint16_t fcw, fsw;
	uint8_t ftw;
	uint16_t fop;
	uint64_t fip, fdp;
	uint16_t fcs, fds;
	uint32_t mxcsr;
	struct x86_f80 fpr[8];
	union x86_xmm xmm[16];
};
#define X86_MXCSR_MASK 0x0000ffffu /* MXCSR_MASK of FXSAVE: DAZ supported (SDM 10.5.1, MXCSR_MASK) */

/* The MSRs the CPU core keeps (SDM vol. 4); others go to x86_mem_ops rdmsr/wrmsr. */
struct x86_msrs {
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint64_t pat, misc_enable;
	uint64_t mtrr_def_type, mtrr_fixed[11], mtrr_var[16]; /* var: base0, mask0, base1, ... */
	int64_t tsc_offset; /* guest TSC = virtual clock TSC + tsc_offset (IA32_TSC writes) */
};
/* IA32_MISC_ENABLE (SDM vol. 4 table 2-2): fast strings on, BTS and PEBS unavailable. */
#define X86_MISC_ENABLE_FAST_STRING (1ull << 0)
#define X86_MISC_ENABLE_BTS_UNAVAIL (1ull << 11)
#define X86_MISC_ENABLE_PEBS_UNAVAIL (1ull << 12)
#define X86_MISC_ENABLE_LIMIT_CPUID (1ull << 22)
#define X86_MISC_ENABLE_XTPR_DISABLE (1ull << 23)
#define X86_MISC_ENABLE_RESET                                                                      \
	(X86_MISC_ENABLE_FAST_STRING | X86_MISC_ENABLE_BTS_UNAVAIL | X86_MISC_ENABLE_PEBS_UNAVAIL)

/*
 * Software TLB (src/emu/mmu.c; the hit path is in src/emu/mmu_fast.h). Direct-mapped, with
 * one set per access kind (read, write, fetch) and privilege (supervisor, user): an entry is
 * only put in a set whose accesses its translation allows, so a hit is one tag compare and
 * the permission check is the choice of set. Large pages are cached as 4 KiB pieces. All zero
 * is an empty TLB (x86_cpu_init's memset).
 */
#define X86_TLB_BITS 8
#define X86_TLB_SIZE (1u << X86_TLB_BITS)
#define X86_TLB_LARGE_WORDS 16 /* 1024-bit filter of the 2 MiB regions holding large pages */
struct x86_tlb_entry {
	uint64_t tag;  /* linear page address | 1; 0 = invalid */
	uint8_t *host; /* host address of the page if it is RAM, else NULL (MMIO) */
	uint64_t phys; /* physical page address | X86_TLBF_* */
};
#define X86_TLBF_GLOBAL 1u /* G with CR4.PGE: survives x86_tlb_flush(cpu, false) */
#define X86_TLBF_2M 2u	   /* a piece of a 2 MiB page */
#define X86_TLBF_4M 4u	   /* a piece of a 4 MiB page (32-bit paging, CR4.PSE) */
#define X86_TLBF_MASK 0xfffu
struct x86_tlb {
	/* [kind: X86_ACC_READ, X86_ACC_WRITE, X86_ACC_FETCH][0 supervisor, 1 user][page] */
	struct x86_tlb_entry set[3][2][X86_TLB_SIZE];
	/* Which 2 MiB linear regions may hold pieces of large pages (a hash filter), so that
	 * INVLPG of an address outside them needs no search for other pieces. */
	uint64_t large[X86_TLB_LARGE_WORDS];
	/* Counts flushes and INVLPGs, so that a user of a translation (the emu engine's decoded
	 * instruction cache) can tell it is still the TLB's; also writes to code_pages. */
	uint32_t flushes;
	/* NULL, or the physical pages holding translated code (the emu engine's translation
	 * cache, a hashed bitmap of X86_CODE_PAGE_WORDS words): writes to them are never cached
	 * in the write sets, and each one counts as a flush, so translated code sees them. */
	const uint64_t *code_pages;
};
#define X86_CODE_PAGE_BITS 20
#define X86_CODE_PAGE_WORDS ((1u << X86_CODE_PAGE_BITS) / 64)

static inline unsigned x86_code_page_bit(uint64_t phys)
{
	return (unsigned)((phys >> 12) & ((1u << X86_CODE_PAGE_BITS) - 1));
}

static inline bool x86_code_page_test(const uint64_t *bits, uint64_t phys)
{
	unsigned b = x86_code_page_bit(phys);

	return bits[b / 64] & (1ull << (b % 64));
}

static inline void x86_code_page_mark(uint64_t *bits, uint64_t phys)
{
	unsigned b = x86_code_page_bit(phys);

	bits[b / 64] |= 1ull << (b % 64);
}

struct x86_cpu {
	/* What x86_step saves and restores when an instruction faults. */
	uint64_t gpr[X86_GPR_COUNT];
	uint64_t rip;
	uint64_t rflags;

	struct x86_segment seg[X86_SEG_NONE]; /* by enum x86_seg: ES CS SS DS FS GS */
	struct x86_segment ldtr, tr;
	struct x86_dtr gdtr, idtr;
	enum x86_mode mode; /* decoder mode, from CR0.PE, EFER.LMA and CS.L/D (x86_update_mode) */
	uint8_t cpl;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t dr[8];
	struct x86_msrs msr;
	struct x86_fpu fpu;
	uint32_t apic_id; /* CPUID 1 EBX[31:24] and leaf 0xb */

	/* Event state (SDM 6.8.3, 6.9). */
	bool halted;
	bool intr_shadow; /* after STI / MOV SS / POP SS: no interrupt before the next instruction */
	bool nmi_blocked; /* from NMI delivery until the next IRET */

	/* Details of the exception being returned (see X86_EXC). */
	uint32_t fault_error_code;
	uint64_t fault_addr;

	struct x86_tlb tlb; /* last: large, and not part of what tests compare */
};

/*
 * What the CPU reaches outside itself. read/write are physical-memory accesses (linear ones
 * while CR0.PG is clear, as the conformance tests' interpreter runs have it; their JIT runs
 * page); len is 1..16 and never
 * crosses a 4 KiB page. Each returns 0 or an X86_EXC_*. The optional callbacks may be NULL:
 * the CPU then behaves as if the thing were absent (port reads give all ones, unknown MSRs
 * #GP, the clock stands still).
 */
struct x86_mem_ops {
	int (*read)(void *opaque, uint64_t addr, void *buf, size_t len);
	int (*write)(void *opaque, uint64_t addr, const void *buf, size_t len);
	/* If memory at addr holds *expected, store *desired; *swapped says which. For LOCK and
	 * page-table A/D updates: atomic against other vCPUs. NULL: read and write. */
	int (*cmpxchg)(void *opaque, uint64_t addr, const void *expected, const void *desired,
		       size_t len, bool *swapped);
	/* The host address of the 4 KiB physical page at page_addr if it is plain RAM, else NULL:
	 * the TLB then accesses it without calling read/write. */
	uint8_t *(*ram_page)(void *opaque, uint64_t page_addr);
	int (*pio_in)(void *opaque, uint16_t port, unsigned size, uint32_t *val);
	int (*pio_out)(void *opaque, uint16_t port, unsigned size, uint32_t val);
	/* MSRs outside the core: APIC base, the KVM clock, ... Return 0 or X86_EXC_GP. */
	int (*rdmsr)(void *opaque, uint32_t msr, uint64_t *val);
	int (*wrmsr)(void *opaque, uint32_t msr, uint64_t val);
	/* CR8 is the local APIC's TPR[7:4] (SDM 10.8.6, CR8). */
	uint64_t (*cr8_read)(void *opaque);
	void (*cr8_write)(void *opaque, uint64_t val);
	/* The virtual clock in ns (monotonic); the TSC runs at X86_TSC_KHZ from it. */
	uint64_t (*clock_ns)(void *opaque);
};
#define X86_TSC_KHZ 2000000ull

/* 64-bit user-mode state for tests: flat segments, CPL 3, RFLAGS 2, no paging. */
void x86_cpu_init(struct x86_cpu *cpu);
/* The power-on state of SDM 9.1.1 table 9-1 (real mode at F000:FFF0), for INIT as well. */
void x86_cpu_reset(struct x86_cpu *cpu);

/*
 * Fetch, decode and execute one instruction at cpu->rip. Returns 0, or an X86_EXC_* with the
 * general registers, RIP and RFLAGS unchanged (a fault commits nothing: every other piece of
 * state an instruction changes is written after its last possible fault). A REP string
 * instruction runs at most 4096 iterations per call and then leaves RIP on itself, as an
 * interrupted REP does, so a hostile RCX cannot hold the caller. INT n, INT3, INTO, SYSCALL,
 * SYSRET and IRET are executed completely (their event delivery included).
 */
int x86_step(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque);
/* x86_step in two halves, for a caller that keeps decoded instructions: fetch and decode at
 * cpu->rip (0 or X86_EXC_*), and execute an instruction decoded at cpu->rip in cpu->mode. */
int x86_fetch_decode(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		     struct x86_insn *in);
int x86_execute(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		const struct x86_insn *in);
/* x86_execute with a dispatch hint kept beside a cached instruction: start it at 0, and it
 * learns which part of the CPU runs the instruction. */
int x86_execute_hinted(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		       const struct x86_insn *in, uint8_t *hint);

/* Kinds of event for x86_deliver_event (SDM 6.4, 6.5). */
enum x86_event_kind {
	X86_EVENT_EXCEPTION, /* a fault or trap from x86_step: exc and error code as returned */
	X86_EVENT_EXTERNAL,  /* an interrupt from the APIC or PIC */
	X86_EVENT_NMI,
};

/*
 * Delivers an exception or interrupt through the IDT (the IVT in real mode) with the stack
 * switches of SDM 6.12 / 6.14: privilege change through the TSS, IST in 64-bit mode. A fault
 * during delivery becomes #DF, a fault delivering #DF a triple fault. vector_or_exc is an
 * X86_EXC_* for X86_EVENT_EXCEPTION (error code and CR2 from cpu->fault_*), the vector
 * otherwise. Returns 0 or X86_TRIPLE_FAULT (the engine then resets the machine).
 */
int x86_deliver_event(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		      enum x86_event_kind kind, int vector_or_exc);

/* CPUID of the emu CPU (DESIGN.md section 2); apic_id from cpu. */
void x86_cpuid(const struct x86_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* The derived decoder mode after CR0, EFER or CS changed (SDM 2.2, 9.8.5). */
void x86_update_mode(struct x86_cpu *cpu);

#endif
