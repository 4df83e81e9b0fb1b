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
	uint32_t count;	 /* instructions the blocks completed (each exit adds its own) */
	int32_t budget;	 /* chained block entries left before the dispatcher must look */
	uint8_t *link;	 /* the rel32 of the direct exit taken, NULL: none */
	uint64_t slow_steps;
};

/* Where jit_translate put a block's parts. */
struct jit_code {
	uint32_t *valid;      /* header: TLB flush count when its guest bytes last matched */
	uint8_t *chain_entry; /* the way in from another block (checks valid) */
	uint8_t *body;	      /* the way in from the dispatcher */
	uint8_t *to_c;	      /* leaves for the dispatcher with RIP = the block's */
	unsigned n_insns;
};

/* Called from translated code: the interpreter runs the instruction at cpu->rip. */
int jit_slow_step(struct jit_ctx *ctx);

/*
 * Translates the guest code at host (rip's bytes, which lie within one guest page up to
 * page_end) for CPL cpl into e, leaving through the epilogue (the prologue's way out). Returns the
 * guest bytes covered (0: the first instruction is not translated) and the block's parts in
 * *out; e->full means the buffer ran out.
 */
unsigned jit_translate(struct jit_emit *e, const uint8_t *host, const uint8_t *page_end,
		       uint64_t rip, unsigned cpl, unsigned max_insns, const uint8_t *epilogue,
		       struct jit_code *out);

#endif
