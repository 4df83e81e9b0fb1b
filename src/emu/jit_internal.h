/* Shared by the translation cache's dispatcher (jit.c) and translator (jit_translate.c). */
#ifndef HOSTVISOR_EMU_JIT_INTERNAL_H
#define HOSTVISOR_EMU_JIT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hostvisor/x86_cpu.h"
#include "jit_emit.h"

/*
 * What translated code sees of its caller: the generated code keeps the struct x86_cpu in
 * host RBX and this in R12 (both callee-saved, so helper calls keep them).
 */
struct jit_ctx {
	struct x86_cpu *cpu;
	const struct x86_mem_ops *mem;
	void *opaque;
	uint32_t count; /* instructions the block completed, written at every exit */
	uint64_t slow_steps;
};

/* Called from translated code: the interpreter runs the instruction at cpu->rip. */
int jit_slow_step(struct jit_ctx *ctx);

/*
 * Translates the guest code at host (rip's bytes, which lie within one guest page up to
 * page_end) for CPL cpl into e, entering through the prologue's exit at exit_stub. Returns the
 * guest bytes covered (0: the first instruction is not translated) and the instructions in
 * *n_insns; e->full means the buffer ran out.
 */
unsigned jit_translate(struct jit_emit *e, const uint8_t *host, const uint8_t *page_end,
		       uint64_t rip, unsigned cpl, unsigned max_insns, const uint8_t *exit_stub,
		       unsigned *n_insns);

#endif
