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

/* exception.c: event delivery with an x86_exec (INT n, INT3, INTO, INT1 are software events) */
int x86_deliver(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		enum x86_event_kind kind, int vector_or_exc, bool software, uint64_t return_rip);

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

#endif
