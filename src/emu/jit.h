/*
 * The emu engine's translation cache: hot straight-line runs of 64-bit guest code ("blocks")
 * translated to host x86-64 code, as VMware's monitor translated the guest code it could not
 * run directly. Guest and host share the instruction set, so most instructions are re-encoded
 * almost as they are: the guest's operands are loaded into host registers, the same opcode runs
 * on them (its result and flags are the host CPU's, which tests/cpu holds the interpreter to),
 * and the results are stored back. Memory operands go through the software TLB's hit path
 * inline; anything else an instruction needs (a TLB miss, a page-crossing or MMIO access, a
 * fault) is done by the interpreter for that one instruction, after which the block goes on.
 *
 * Guest registers stay in struct x86_cpu between instructions, so the state is exact at every
 * instruction boundary. One exception: an arithmetic flag that a later instruction of the same
 * block overwrites before anything reads it is not stored; a fault between the two shows its
 * older value in RFLAGS. The guest cannot observe that (the flag is dead), only a handler that
 * inspects the saved RFLAGS.
 *
 * Code written by the guest needs no write tracking: a block keeps a copy of its guest bytes and
 * runs only while guest memory holds them, checked at each entry (as the decoded-instruction
 * cache does, icache.h). A block is keyed by its linear RIP and CPL and runs only while that RIP
 * still translates to the same host page.
 */
#ifndef HOSTVISOR_EMU_JIT_H
#define HOSTVISOR_EMU_JIT_H

#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/x86_cpu.h"

struct x86_jit;

/*
 * hot: how many times a block's first instruction must be reached before it is translated
 * (0: at once); max_insns: the most instructions a block takes (1..X86_JIT_MAX_INSNS; tests
 * use 1 to run one instruction). Returns NULL with errno set if the code buffer cannot be
 * mapped.
 */
#define X86_JIT_MAX_INSNS 64
struct x86_jit *x86_jit_create(unsigned hot, unsigned max_insns);
void x86_jit_destroy(struct x86_jit *jit);

/* x86_jit_run's result when no translated block runs at cpu->rip: interpret one instruction. */
#define X86_JIT_NONE (-1)

/*
 * Runs the translated block at cpu->rip, if there is (or now is) one. Returns X86_JIT_NONE
 * (nothing ran, *count 0), 0 (*count instructions ran, cpu->rip is the next one), or an
 * X86_EXC_* from the instruction at cpu->rip, with *count instructions done before it and its
 * state as x86_step leaves it for a fault.
 */
int x86_jit_run(struct x86_jit *jit, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		void *opaque, unsigned *count);

/* Drops every translation (for tests; a full code buffer does so by itself). */
void x86_jit_flush(struct x86_jit *jit);

struct x86_jit_stats {
	uint64_t blocks;     /* translations made */
	uint64_t runs;       /* blocks entered */
	uint64_t insns;      /* guest instructions run in translated code */
	uint64_t slow_steps; /* instructions a block handed to the interpreter */
	uint64_t flushes;    /* full code buffer resets */
};
void x86_jit_stats(const struct x86_jit *jit, struct x86_jit_stats *out);

#endif
