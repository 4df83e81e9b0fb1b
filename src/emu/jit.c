/*
 * The emu engine's translation cache (see jit.h): the code buffer, the table of blocks and the
 * way into and out of translated code. The translator itself is jit_translate.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hostvisor/x86_mmu.h"
#include "exec_internal.h"
#include "jit.h"
#include "jit_internal.h"
#include "mmu_fast.h"

#define PAGE_SIZE 4096u
#define CODE_BUFFER_SIZE (32u << 20)
#define BLOCK_ROOM (64u << 10) /* the most one block's code and guest bytes can take */
#define TABLE_ENTRIES 16384    /* a power of two */
#define CHAIN_BUDGET 1024      /* blocks one run may chain through */

enum block_state {
	BLOCK_COUNTING, /* not yet hot */
	BLOCK_READY,
	BLOCK_NEVER,	/* its first instruction is not translated */
};

struct jit_block {
	uint64_t rip;
	const uint8_t *host;  /* where its guest bytes were, in guest RAM */
	const uint8_t *bytes; /* a copy of them, in the code buffer */
	struct jit_code code;
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
	const uint8_t *epilogue;
	uint32_t gen;
	unsigned hot, max_insns;
	/* The direct exit the last run left by, to point at the next block if that is its
	 * target (chaining). */
	uint8_t *pending_link;
	uint64_t pending_rip;
	/* Guest physical pages holding translated code, hashed: writes to them are not cached in
	 * the TLB, so that the CPU notices them (mmu.c) and the blocks are checked again. */
	uint64_t code_pages[X86_CODE_PAGE_WORDS];
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
 * R12 = ctx, and jumps to the block; every block leaves through the epilogue with EAX its
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
	jit->epilogue = e.p;
	e_alu_ri(&e, true, 0, HR_RSP, 8); /* add rsp, 8 */
	for (unsigned i = sizeof(pushes); i-- > 0;) {
		e_rex(&e, false, 0, 0, pushes[i]);
		eb(&e, (uint8_t)(0x58 | (pushes[i] & 7)));
	}
	eb(&e, 0xc3);
	jit->enter = (jit_enter_fn)(void *)jit->buf;
	jit->prologue_end = ((size_t)(e.p - jit->buf) + 15) & ~(size_t)15; /* blocks: aligned */
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
	jit->pending_link = NULL;
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

/* Points a jmp rel32 (at rel) at target. */
static void patch_jump(uint8_t *rel, const uint8_t *target)
{
	int32_t d = (int32_t)(target - (rel + 4));

	memcpy(rel, &d, 4);
}

/* A block replaced by a new translation: its way in from other blocks now leaves at once. */
static void retire(struct x86_jit *jit, struct jit_block *b)
{
	if (b->state != BLOCK_READY || b->gen != jit->gen)
		return;
	b->code.chain_entry[0] = 0xe9;
	patch_jump(b->code.chain_entry + 1, b->code.to_c);
}

/*
 * Marks the physical page as holding code: no TLB entry of this CPU may write it without
 * going through mmu.c's translate() (which then counts a flush), so the ones there are dropped.
 */
static void mark_code_page(struct x86_jit *jit, struct x86_cpu *cpu, uint64_t phys)
{
	uint64_t page = phys & ~(uint64_t)(PAGE_SIZE - 1);

	x86_code_page_mark(jit->code_pages, page);
	for (unsigned user = 0; user < 2; user++) {
		for (unsigned i = 0; i < X86_TLB_SIZE; i++) {
			struct x86_tlb_entry *e = &cpu->tlb.set[X86_ACC_WRITE][user][i];

			if (e->tag && (e->phys & ~(uint64_t)X86_TLBF_MASK) == page)
				e->tag = 0;
		}
	}
}

/* Translates the block at cpu->rip into b; false if it cannot be. */
static bool translate(struct x86_jit *jit, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		      void *opaque, struct jit_block *b)
{
	struct jit_code code;
	struct jit_emit e;
	uint8_t *host;
	uint64_t phys;
	unsigned len;

	/* cold: one translation gives both the host address and the page to mark */
	if (!x86_is_canonical(cpu->rip) ||
	    x86_mmu_translate(cpu, mem, opaque, cpu->rip, X86_ACC_FETCH, &phys, &host) || !host)
		return false;
	retire(jit, b);
	if (CODE_BUFFER_SIZE - jit->used < BLOCK_ROOM) {
		x86_jit_flush(jit);
		jit->stats.flushes++;
	}
	e = (struct jit_emit){.p = jit->buf + jit->used, .start = jit->buf + jit->used,
			      .end = jit->buf + jit->used + BLOCK_ROOM - PAGE_SIZE};
	len = jit_translate(&e, host, host - (cpu->rip & (PAGE_SIZE - 1)) + PAGE_SIZE, cpu->rip,
			    cpu->cpl, jit->max_insns, jit->epilogue, &code);
	if (!len || e.full) {
		*b = (struct jit_block){.rip = cpu->rip, .cpl = cpu->cpl, .gen = jit->gen,
					.state = BLOCK_NEVER};
		return false;
	}
	mark_code_page(jit, cpu, phys);
	*code.valid = cpu->tlb.flushes;
	*b = (struct jit_block){.rip = cpu->rip, .host = host, .code = code, .gen = jit->gen,
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
	int rc;

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
	if (*b->code.valid == cpu->tlb.flushes)
		return b; /* no flush and no write to a code page since the bytes last matched */
	host = x86_code_host(cpu, mem, opaque, cpu->rip, b->len, &rc);
	if (host == b->host && !memcmp(host, b->bytes, b->len)) {
		*b->code.valid = cpu->tlb.flushes;
		return b;
	}
	/* the code or its mapping changed: translate it afresh */
	return host && translate(jit, cpu, mem, opaque, b) ? b : NULL;
}

/* The last run left by a direct exit to this block: from now on it jumps here itself. */
static void chain(struct x86_jit *jit, const struct jit_block *b)
{
	if (jit->pending_link && jit->pending_rip == b->rip)
		patch_jump(jit->pending_link, b->code.chain_entry);
	jit->pending_link = NULL;
}

int x86_jit_run(struct x86_jit *jit, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		void *opaque, unsigned *count)
{
	struct jit_ctx ctx = {.cpu = cpu, .mem = mem, .opaque = opaque, .budget = CHAIN_BUDGET};
	struct jit_block *b;
	int rc;

	*count = 0;
	cpu->tlb.code_pages = jit->code_pages;
	b = may_run(cpu) ? block_for(jit, cpu, mem, opaque) : NULL;
	if (!b) {
		jit->pending_link = NULL;
		return X86_JIT_NONE;
	}
	chain(jit, b);
	rc = jit->enter(cpu, &ctx, b->code.body);
	*count = ctx.count;
	jit->pending_link = rc == 0 ? ctx.link : NULL;
	jit->pending_rip = cpu->rip;
	jit->stats.runs++;
	jit->stats.insns += ctx.count;
	jit->stats.slow_steps += ctx.slow_steps;
	return rc;
}
