/* Shared by the emu engine's executor files; not part of the public API. */
#ifndef HOSTVISOR_EMU_EXEC_INTERNAL_H
#define HOSTVISOR_EMU_EXEC_INTERNAL_H

#include <stdbool.h>

#include "hostvisor/x86_cpu.h"

/* One instruction being executed. */
struct x86_exec {
	struct x86_cpu *cpu;
	const struct x86_mem_ops *mem;
	void *opaque;
	const struct x86_insn *in;
	uint64_t next_rip; /* RIP of the next instruction: RIP-relative addressing and the commit */
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

/* flags.c: the arithmetic flags of SDM appendix A "EFLAGS Cross-Reference" */
uint64_t x86_flags_szp(uint64_t res, unsigned size);
uint64_t x86_flags_add(uint64_t a, uint64_t b, unsigned carry_in, unsigned size, uint64_t *res);
uint64_t x86_flags_sub(uint64_t a, uint64_t b, unsigned borrow_in, unsigned size, uint64_t *res);
uint64_t x86_flags_logic(uint64_t res, unsigned size);
void x86_flags_update(struct x86_cpu *cpu, uint64_t mask, uint64_t value);
bool x86_cond(uint64_t rflags, unsigned cc);

/* exec_*.c: each returns 0, X86_EXC_* or X86_EXEC_UNHANDLED */
#define X86_EXEC_UNHANDLED 1
int x86_exec_alu(struct x86_exec *x);
int x86_exec_shift(struct x86_exec *x);
int x86_exec_muldiv(struct x86_exec *x);
int x86_exec_bit(struct x86_exec *x);
int x86_exec_move(struct x86_exec *x);
int x86_exec_flow(struct x86_exec *x);
int x86_exec_string(struct x86_exec *x);

#endif
