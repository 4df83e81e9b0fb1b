/*
 * The emu engine's translation cache (see jit.h): the code buffer, the table of blocks and the
 * way into and out of translated code. The translator itself is jit_translate.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hostvisor/x86_mmu.h"
#include "jit.h"
#include "jit_internal.h"
#include "mmu_fast.h"

#define PAGE_SIZE 4096u
#define CODE_BUFFER_SIZE (32u << 20)
#define BLOCK_ROOM (64u << 10) /* the most one block's code and guest bytes can take */
#define TABLE_ENTRIES 16384    /* a power of two */

enum block_state {
	BLOCK_COUNTING, /* not yet hot */
	BLOCK_READY,
	BLOCK_NEVER,	/* its first instruction is not translated */
};

struct jit_block {
	uint64_t rip;
	const uint8_t *host;  /* where its guest bytes were, in guest RAM */
	const uint8_t *bytes; /* a copy of them, in the code buffer */
	void *code;
	uint32_t gen; /* the code buffer's generation it belongs to */
	uint16_t len; /* guest bytes */
	uint16_t heat;
	uint8_t cpl;
	uint8_t state;
};

typedef int (*jit_enter_fn)(struct x86_cpu *cpu, struct jit_ctx *ctx, void *code);

struct x86_jit {
	uint8_t *buf;
	size_t used;	   /* the prologue, then blocks */
	size_t prologue_end;
	jit_enter_fn enter;
	const uint8_t *exit_stub;
	uint32_t gen;
	unsigned hot, max_insns;
	struct x86_jit_stats stats;
	struct jit_block table[TABLE_ENTRIES];
};

int jit_slow_step(struct jit_ctx *ctx)
{
	ctx->slow_steps++;
	return x86_step(ctx->cpu, ctx->mem, ctx->opaque);
}

/*
 * enter(cpu, ctx, code): saves the callee-saved registers the blocks use, RBX = cpu,
 * R12 = ctx, and jumps to the block; every block leaves through the exit stub with EAX its
 * result. The stack stays 16-byte aligned for the helper calls.
 */
static void emit_prologue(struct x86_jit *jit)
{
	static const uint8_t pushes[] = {HR_RBX, HR_RBP, HR_R12, HR_R13, HR_R14, HR_R15};
	struct jit_emit e = {.p = jit->buf, .start = jit->buf, .end = jit->buf + PAGE_SIZE};

	for (unsigned i = 0; i < sizeof(pushes); i++) {
		e_rex(&e, false, 0, 0, pushes[i]);
		eb(&e, (uint8_t)(0x50 | (pushes[i] & 7)));
	}
	e_alu_ri(&e, true, 5, HR_RSP, 8);			/* sub rsp, 8 */
	e_op_rr(&e, true, 0x89, HR_RDI, HR_RBX);		/* mov rbx, rdi */
	e_op_rr(&e, true, 0x89, HR_RSI, HR_R12);		/* mov r12, rsi */
	e_op_rr(&e, false, 0xff, 4, HR_RDX);			/* jmp rdx */
	jit->exit_stub = e.p;
	e_alu_ri(&e, true, 0, HR_RSP, 8); /* add rsp, 8 */
	for (unsigned i = sizeof(pushes); i-- > 0;) {
		e_rex(&e, false, 0, 0, pushes[i]);
		eb(&e, (uint8_t)(0x58 | (pushes[i] & 7)));
	}
	eb(&e, 0xc3);
	jit->enter = (jit_enter_fn)(void *)jit->buf;
	jit->prologue_end = (size_t)(e.p - jit->buf);
}

struct x86_jit *x86_jit_create(unsigned hot, unsigned max_insns)
{
	struct x86_jit *jit = calloc(1, sizeof(*jit));

	if (!jit)
		return NULL;
	jit->buf = mmap(NULL, CODE_BUFFER_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (jit->buf == MAP_FAILED) {
		int err = errno;

		free(jit);
		errno = err;
		return NULL;
	}
	jit->hot = hot;
	jit->max_insns = max_insns < 1 ? 1 : max_insns > X86_JIT_MAX_INSNS ? X86_JIT_MAX_INSNS :
									    max_insns;
	jit->gen = 1;
	emit_prologue(jit);
	jit->used = jit->prologue_end;
	return jit;
}

void x86_jit_destroy(struct x86_jit *jit)
{
	if (!jit)
		return;
	munmap(jit->buf, CODE_BUFFER_SIZE);
	free(jit);
}

void x86_jit_flush(struct x86_jit *jit)
{
	jit->gen++;
	jit->used = jit->prologue_end;
	/* the old code is never entered again: its pages can go */
	madvise(jit->buf + PAGE_SIZE, CODE_BUFFER_SIZE - PAGE_SIZE, MADV_DONTNEED);
}

void x86_jit_stats(const struct x86_jit *jit, struct x86_jit_stats *out)
{
	*out = jit->stats;
}

static unsigned slot_of(uint64_t rip)
{
	return (unsigned)((rip ^ (rip >> 13)) & (TABLE_ENTRIES - 1));
}

/* The host address of the guest code at rip (for at least one byte), or NULL. */
static const uint8_t *code_at(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			      uint64_t rip, unsigned len)
{
	const uint8_t *host = x86_tlb_host(cpu, rip, len, X86_ACC_FETCH);
	uint8_t *walked;
	uint64_t phys;

	if (host)
		return host;
	if ((uint64_t)((int64_t)(rip << 16) >> 16) != rip)
		return NULL;
	if (x86_mmu_translate(cpu, mem, opaque, rip, X86_ACC_FETCH, &phys, &walked) || !walked)
		return NULL;
	return (phys & (PAGE_SIZE - 1)) + len <= PAGE_SIZE ? walked : NULL;
}

/* Translates the block at cpu->rip into b; false if it cannot be. */
static bool translate(struct x86_jit *jit, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		      void *opaque, struct jit_block *b)
{
	const uint8_t *host = code_at(cpu, mem, opaque, cpu->rip, 1);
	struct jit_emit e;
	unsigned len, n;

	if (!host)
		return false;
	if (CODE_BUFFER_SIZE - jit->used < BLOCK_ROOM) {
		x86_jit_flush(jit);
		jit->stats.flushes++;
	}
	e = (struct jit_emit){.p = jit->buf + jit->used, .start = jit->buf + jit->used,
			      .end = jit->buf + jit->used + BLOCK_ROOM - PAGE_SIZE};
	len = jit_translate(&e, host, host - (cpu->rip & (PAGE_SIZE - 1)) + PAGE_SIZE, cpu->rip,
			    cpu->cpl, jit->max_insns, jit->exit_stub, &n);
	if (!len || e.full) {
		b->state = BLOCK_NEVER;
		return false;
	}
	*b = (struct jit_block){.rip = cpu->rip, .host = host, .code = e.start, .gen = jit->gen,
				.len = (uint16_t)len, .cpl = cpu->cpl, .state = BLOCK_READY};
	memcpy(e.p, host, len);
	b->bytes = e.p;
	jit->used = (size_t)(e.p + len - jit->buf + 15) & ~(size_t)15;
	jit->stats.blocks++;
	return true;
}

/* Translated code runs only in 64-bit mode, one instruction after an STI or MOV SS. */
static bool may_run(const struct x86_cpu *cpu)
{
	return cpu->mode == X86_MODE_LONG64 && !cpu->intr_shadow &&
	       !(cpu->rflags & (X86_FLAG_TF | X86_FLAG_RF)) &&
	       !((cpu->rflags & X86_FLAG_AC) && (cpu->cr0 & X86_CR0_AM) && cpu->cpl == 3);
}

/* The block for cpu->rip, translated now if it just became hot; NULL: interpret. */
static struct jit_block *block_for(struct x86_jit *jit, struct x86_cpu *cpu,
				   const struct x86_mem_ops *mem, void *opaque)
{
	struct jit_block *b = &jit->table[slot_of(cpu->rip)];
	const uint8_t *host;

	if (b->rip != cpu->rip || b->cpl != cpu->cpl || b->gen != jit->gen) {
		*b = (struct jit_block){.rip = cpu->rip, .cpl = cpu->cpl, .gen = jit->gen,
					.state = BLOCK_COUNTING};
	}
	if (b->state == BLOCK_NEVER)
		return NULL;
	if (b->state == BLOCK_COUNTING) {
		if (b->heat++ < jit->hot)
			return NULL;
		return translate(jit, cpu, mem, opaque, b) ? b : NULL;
	}
	host = code_at(cpu, mem, opaque, cpu->rip, b->len);
	if (host == b->host && !memcmp(host, b->bytes, b->len))
		return b;
	/* the code or its mapping changed: translate it afresh */
	return host && translate(jit, cpu, mem, opaque, b) ? b : NULL;
}

int x86_jit_run(struct x86_jit *jit, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		void *opaque, unsigned *count)
{
	struct jit_ctx ctx = {.cpu = cpu, .mem = mem, .opaque = opaque};
	struct jit_block *b;
	int rc;

	*count = 0;
	if (!may_run(cpu))
		return X86_JIT_NONE;
	b = block_for(jit, cpu, mem, opaque);
	if (!b)
		return X86_JIT_NONE;
	rc = jit->enter(cpu, &ctx, b->code);
	*count = ctx.count;
	jit->stats.runs++;
	jit->stats.insns += ctx.count;
	jit->stats.slow_steps += ctx.slow_steps;
	return rc;
}
