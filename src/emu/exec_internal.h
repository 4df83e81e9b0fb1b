/* Shared by the emu engine's executor files; not part of the public API. */
#ifndef HOSTVISOR_EMU_EXEC_INTERNAL_H
#define HOSTVISOR_EMU_EXEC_INTERNAL_H

#include <stdbool.h>

#include "hostvisor/x86_cpu.h"
#include "hostvisor/x86_mmu.h"

/* One instruction being executed. */
struct x86_exec {
	struct x86_cpu *cpu;
	const struct x86_mem_ops *mem;
	void *opaque;
	const struct x86_insn *in;
	uint64_t next_rip; /* RIP of the next instruction: RIP-relative addressing and the commit */
	/*
	 * LOCK (and XCHG with memory): x86_rm_read records the operand, and x86_rm_write stores
	 * with a compare-exchange against it. If another vCPU changed it in between, lock_lost is
	 * set and x86_step runs the instruction again (SDM 8.1.2.2).
	 */
	bool locked;
	bool lock_lost;
	uint64_t lock_addr, lock_old;
	/* An instruction that changed what the next one sees beyond registers: a mode switch,
	 * a segment load of CS, CR0/CR3/CR4/EFER writes. The engine drops its decode shortcuts. */
	bool sys_changed;
};

static inline uint64_t x86_size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t x86_sign_bit(unsigned size)
{
	return 1ull << (size * 8 - 1);
}

/* Sign-extend the low size bytes of v to 64 bits. */
static inline int64_t x86_sext(uint64_t v, unsigned size)
{
	unsigned sh = 64 - size * 8;

	return (int64_t)(v << sh) >> sh;
}

/* cpu.c: operands */
uint64_t x86_reg_get(const struct x86_exec *x, unsigned reg, unsigned size);
void x86_reg_set(struct x86_exec *x, unsigned reg, unsigned size, uint64_t val);
uint64_t x86_ea(const struct x86_exec *x);
uint64_t x86_ea_offset(const struct x86_exec *x);
int x86_mem_read(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t *val);
int x86_mem_write(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t val);
int x86_rm_read(struct x86_exec *x, unsigned size, uint64_t *val);
int x86_rm_write(struct x86_exec *x, unsigned size, uint64_t val);
int x86_push(struct x86_exec *x, unsigned size, uint64_t val);
int x86_pop(struct x86_exec *x, unsigned size, uint64_t *val);
/*
 * Segmentation (SDM vol. 3A 3.4, 5.3, 5.4; vol. 1 3.3.7.1): the ONE place a (segment, offset)
 * becomes a linear address. Outside 64-bit mode: the type checks (protected mode only: null
 * segment, write to code or read-only data, read of execute-only code), the limit check of
 * offset .. offset + size - 1 (expand-down data segments: limit + 1 .. 0xffff / 0xffffffff by
 * D/B), base + offset truncated to 32 bits. In 64-bit mode: FS/GS base, canonical check.
 * Faults: #SS(0) for SS references, #GP(0) otherwise (cpu->fault_error_code = 0).
 * acc: X86_ACC_READ or X86_ACC_WRITE. offset must already be truncated to the address size.
 */
int x86_seg_linear(struct x86_exec *x, unsigned seg, uint64_t offset, unsigned size,
		   unsigned acc, uint64_t *linear);
/* seg:offset data access through x86_seg_linear (size 1..8). */
int x86_seg_read(struct x86_exec *x, unsigned seg, uint64_t offset, unsigned size,
		 uint64_t *val);
int x86_seg_write(struct x86_exec *x, unsigned seg, uint64_t offset, unsigned size,
		  uint64_t val);
/* The segment of the ModRM memory operand: the override, else SS for (E)BP/(E)SP/BP-based
 * forms, else DS (SDM vol. 1 3.7.5, table 3-5). */
unsigned x86_ea_seg(const struct x86_exec *x);
/* The checked linear address of the ModRM memory operand (x86_ea is the unchecked one). */
int x86_ea_linear(struct x86_exec *x, unsigned size, unsigned acc, uint64_t *linear);
/* Stack address size: 8 in 64-bit mode, else 4 or 2 by SS.B (SDM 6.2.3). */
static inline unsigned x86_stack_asize(const struct x86_cpu *cpu)
{
	if (cpu->mode == X86_MODE_LONG64)
		return 8;
	return (cpu->seg[X86_SEG_SS].attr & X86_SEGA_DB) ? 4 : 2;
}
/* rSP += delta in the stack address size (the upper bits of ESP stay with a 16-bit stack). */
void x86_sp_add(struct x86_exec *x, uint64_t delta);
/* Checks that a write of len bytes at linear would not fault (paging), without writing: for
 * multi-part writes that must not be left half done. */
int x86_lin_probe_write(struct x86_exec *x, uint64_t linear, size_t len);
/* Linear access through the MMU as the current CPL (acc: X86_ACC_* of x86_mmu.h). */
int x86_lin_read(struct x86_exec *x, uint64_t linear, void *buf, size_t len, unsigned acc);
int x86_lin_write(struct x86_exec *x, uint64_t linear, const void *buf, size_t len,
		  unsigned acc);

/* segment.c: segment registers and descriptors (SDM vol. 3A ch. 3 and 5) */
/* Loads ES/SS/DS/FS/GS from MOV, POP or LxS with the checks of SDM 5.x ("MOV" operation). */
int x86_load_data_seg(struct x86_exec *x, enum x86_seg seg, uint16_t selector);
/* Reads the 8-byte descriptor a selector names from the GDT or LDT; #GP(sel) past the limit. */
int x86_read_descriptor(struct x86_exec *x, uint16_t selector, uint64_t *desc);
/* Fills a segment cache from a selector and a descriptor (SDM 3.4.5). */
void x86_seg_from_descriptor(struct x86_segment *s, uint16_t selector, uint64_t desc);
/* A real-mode / virtual-8086 segment: base selector << 4, limit kept (SDM 20.1.1). */
void x86_seg_load_real(struct x86_segment *s, uint16_t selector);

/* segment.c, added for the far-transfer and event units */
/* Sets cpu->fault_error_code and returns exc. */
int x86_fault(struct x86_cpu *cpu, int exc, uint32_t error_code);
bool x86_long_mode(const struct x86_cpu *cpu); /* IA-32e mode: EFER.LMA */
bool x86_is_canonical(uint64_t a);
/* Descriptor bits 40-47 and 52-55 in the layout of struct x86_segment attr. */
uint32_t x86_desc_attr(uint64_t desc);
uint32_t x86_desc_limit(uint64_t desc); /* scaled by G */
/* A null selector in a data segment register: unusable (SDM 3.4.2). */
void x86_seg_load_null(struct x86_segment *s, uint16_t selector);
/* 16 bytes in IA-32e mode (upper type field must be 0, else #GP(sel)); 8 otherwise. */
int x86_read_system_descriptor(struct x86_exec *x, uint16_t selector, uint64_t desc[2]);
/* Sets the accessed (mask 1) or busy (mask 2) bit of a GDT/LDT descriptor in memory and *desc. */
int x86_desc_set_type_bit(struct x86_exec *x, uint16_t selector, uint64_t *desc, uint8_t mask);
/* x86_load_data_seg without the commit: the checked cache in *out. */
int x86_seg_prepare_data(struct x86_exec *x, enum x86_seg seg, uint16_t selector,
			 struct x86_segment *out);
/* After a return to an outer level: null ES/DS/FS/GS the new CPL may not use. */
void x86_seg_null_inaccessible(struct x86_cpu *cpu);

/* RET/IRET: the return CS checks (#GP(sel), #NP(sel)) and the outer-level SS (#GP, #SS(sel)). */
int x86_check_return_cs(struct x86_exec *x, uint16_t selector, uint64_t *desc);
int x86_prepare_return_ss(struct x86_exec *x, uint16_t selector, unsigned rpl, bool to64,
			  struct x86_segment *out);
bool x86_desc_is_64bit_code(const struct x86_cpu *cpu, uint64_t desc);
/* A far transfer's new RIP: canonical for 64-bit code, else within the CS limit (#GP(0)). */
int x86_check_far_ip(struct x86_cpu *cpu, uint64_t desc, uint64_t ip);
/* Loads CS (RPL := cpl), sets cpu->cpl, x86_update_mode, x->sys_changed. */
void x86_commit_cs(struct x86_exec *x, uint16_t selector, uint64_t desc, unsigned cpl);

/*
 * A stack of a far transfer or event delivery (current or new SS:RSP): pushes are checked
 * (limit, canonical: #SS(err)) and recorded, then x86_stack_write translates every page before
 * writing anything. Pops read at once. The caller commits RSP (x86_stack_rsp) and SS.
 */
#define X86_STACK_MAX_ITEMS 48
struct x86_stack {
	uint64_t base, sp, mask;
	uint32_t limit, err;
	bool expand_down, long64;
	unsigned acc; /* X86_ACC_SUPERVISOR for a stack of CPL 0-2 */
	unsigned count;
	struct {
		uint64_t linear, val;
		uint8_t size;
	} item[X86_STACK_MAX_ITEMS];
};
void x86_stack_init(struct x86_stack *st, const struct x86_cpu *cpu, const struct x86_segment *ss,
		    uint64_t rsp, bool long64, unsigned cpl, uint32_t err);
void x86_stack_current(struct x86_stack *st, const struct x86_cpu *cpu);
int x86_stack_push(struct x86_cpu *cpu, struct x86_stack *st, unsigned size, uint64_t val);
int x86_stack_pop(struct x86_exec *x, struct x86_stack *st, unsigned size, uint64_t *val);
int x86_stack_write(struct x86_exec *x, struct x86_stack *st);
uint64_t x86_stack_rsp(const struct x86_stack *st, uint64_t old_rsp);

/* exception.c: event delivery with an x86_exec (INT n, INT3, INTO, INT1 are software events) */
int x86_deliver(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		enum x86_event_kind kind, int vector_or_exc, bool software, uint64_t return_rip);
/* The current TSS (#TS(TR) past its limit): raw read, the SS:ESP of a privilege level from a
 * 16/32-bit TSS with the new-stack checks, RSPn/ISTn of a 64-bit TSS. */
int x86_tss_read(struct x86_exec *x, uint32_t offset, unsigned size, uint64_t *val);
int x86_tss_stack(struct x86_exec *x, unsigned cpl, struct x86_segment *ss, uint64_t *sp);
int x86_tss_rsp64(struct x86_exec *x, unsigned cpl, unsigned ist, uint64_t *rsp);

/* flags.c: the arithmetic flags of SDM appendix A "EFLAGS Cross-Reference" */
uint64_t x86_flags_szp(uint64_t res, unsigned size);
uint64_t x86_flags_add(uint64_t a, uint64_t b, unsigned carry_in, unsigned size, uint64_t *res);
uint64_t x86_flags_sub(uint64_t a, uint64_t b, unsigned borrow_in, unsigned size, uint64_t *res);
uint64_t x86_flags_logic(uint64_t res, unsigned size);
void x86_flags_update(struct x86_cpu *cpu, uint64_t mask, uint64_t value);
bool x86_cond(uint64_t rflags, unsigned cc);

/* msr.c: RDMSR/WRMSR of the MSRs the core keeps (SDM vol. 4); the others go to
 * mem->rdmsr/wrmsr. Return 0 or X86_EXC_GP (fault_error_code 0). */
int x86_msr_read(struct x86_exec *x, uint32_t msr, uint64_t *val);
int x86_msr_write(struct x86_exec *x, uint32_t msr, uint64_t val);
/* The guest's TSC: the virtual clock at X86_TSC_KHZ plus msr.tsc_offset. */
uint64_t x86_tsc_read(const struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque);

/* exec_system.c: a checked write of CR0, CR2, CR3, CR4 or CR8 as MOV CRn does it (SDM vol. 3A
 * 2.5, 9.8.5), with long-mode (de)activation, TLB flushes and x86_update_mode; for the task
 * switch's CR3 load too. Returns 0 or X86_EXC_GP; commits nothing on a fault. */
int x86_cr_write(struct x86_exec *x, unsigned cr, uint64_t val);

/* exec_*.c: each returns 0, X86_EXC_* or X86_EXEC_UNHANDLED */
#define X86_EXEC_UNHANDLED 1

/* exec_fast.c: short paths for common 64-bit instructions. select: 0 (none) or a kind below
 * X86_HINT_FAST, once per decoded instruction; exec: 0, X86_EXC_* (nothing changed) or
 * X86_EXEC_UNHANDLED (declined, nothing changed: run it the general way). */
#define X86_HINT_FAST 0x80u
unsigned x86_fast_select(const struct x86_insn *in);
int x86_fast_exec(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		  const struct x86_insn *in, unsigned kind);
int x86_exec_alu(struct x86_exec *x);
int x86_exec_shift(struct x86_exec *x);
int x86_exec_muldiv(struct x86_exec *x);
int x86_exec_bit(struct x86_exec *x);
int x86_exec_move(struct x86_exec *x);
int x86_exec_flow(struct x86_exec *x);
int x86_exec_string(struct x86_exec *x);
int x86_exec_legacy(struct x86_exec *x); /* PUSHA/POPA, BCD, BOUND, LAHF/SAHF */
int x86_exec_far(struct x86_exec *x);	 /* segment loads, far JMP/CALL/RET, descriptor tables */
int x86_exec_intr(struct x86_exec *x);	 /* INT n, INT3, INTO, INT1, IRET, SYSCALL, SYSRET */
int x86_exec_system(struct x86_exec *x); /* CRn, DRn, MSRs, CPUID, RDTSC, HLT, I/O, CLI/STI */
int x86_exec_sse(struct x86_exec *x);	 /* SSE, SSE2, MMX */
int x86_exec_x87(struct x86_exec *x);	 /* x87, FXSAVE/FXRSTOR, LDMXCSR/STMXCSR */

/* exec_sse.c / exec_sse_int.c: shared by the SSE/MMX units (x86_exec_sse calls the integer half) */
#define X86_SSE_USE_XMM 1u /* the instruction names an XMM register: needs CR4.OSFXSR */
#define X86_SSE_USE_MMX 2u /* the instruction names an MMX register: x87-to-MMX transition */
int x86_exec_sse_int(struct x86_exec *x);
int x86_sse_check(struct x86_exec *x, unsigned use);
int x86_sse_load(struct x86_exec *x, union x86_xmm *v, unsigned size, bool align16);
int x86_sse_store(struct x86_exec *x, const void *buf, unsigned size, bool align16);
void x86_mmx_enter(struct x86_cpu *cpu);

#endif
