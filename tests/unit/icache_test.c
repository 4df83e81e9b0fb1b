/*
 * Unit tests for the emu engine's decoded-instruction cache (src/emu/icache.c) and the hinted
 * dispatch it feeds (x86_execute_hinted in src/emu/step.c, the short paths of exec_fast.c).
 *
 * The CPU runs in 64-bit mode with 4-level paging over a flat fake RAM whose ram_page hands out
 * host pointers, and every test drives icache_fetch + x86_execute_hinted the way run_burst in
 * src/emu/emu_vcpu.c does. What is checked: hits return the same decoded entry and are counted;
 * loops decode only on their first pass; code changed behind the cache (by the test, by the
 * guest's own stores, including the very next instruction and single bytes anywhere in a long
 * instruction) runs as changed; a code page remapped with INVLPG / a TLB flush runs the new
 * page even at the RIP the cache's last translation came from; a CPL change does not reuse a
 * supervisor translation for CPL 3; windows and instructions crossing a page end; undecodable
 * bytes; MMIO code; compatibility mode (not cached); two instructions sharing a hash slot; and
 * the dispatch hint, including wrong hints.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"
#include "hostvisor/x86_mmu.h"
#include "../../src/emu/exec_internal.h"
#include "../../src/emu/icache.h"

#define RAM_SIZE (4u << 20)
#define PML4 0x1000ull
#define PDPT 0x2000ull
#define PD 0x3000ull
#define PT 0x4000ull /* maps linear 0..2 MiB; identity except where a test remaps */
#define STACK_TOP 0x9000ull
#define CODE 0x100000ull /* code pages, linear == physical */
#define CODE_END 0x140000ull
#define ALT 0x200000ull	      /* physical pages mapped only where a test says */
#define MMIO_PHYS 0x300000ull /* a physical page that is not RAM: read through mem->read */

#define P 0x1ull
#define RW 0x2ull
#define US 0x4ull
#define XD (1ull << 63)

/* Mirrors icache.c: ICACHE_ENTRIES = 16384, slot_of(key) = (key ^ (key >> 14)) & 16383. */
#define ICACHE_SLOTS 16384u

struct env {
	struct x86_cpu cpu;
	uint8_t *ram;
	struct x86_mem_ops ops;
	struct icache *ic;
	const struct x86_insn *in; /* of the last fetch */
	uint8_t *unit;
	int mmio_reads;
	uint8_t mmio[4096];
};

static int mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct env *e = opaque;

	assert_true(len >= 1 && len <= 16 && (addr & 0xfff) + len <= 4096);
	if ((addr & ~0xfffull) == MMIO_PHYS) {
		e->mmio_reads++;
		memcpy(buf, e->mmio + (addr & 0xfff), len);
	} else if (addr >= RAM_SIZE) {
		memset(buf, 0xff, len);
	} else {
		memcpy(buf, e->ram + addr, len);
	}
	return 0;
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct env *e = opaque;

	assert_true(len >= 1 && len <= 16 && (addr & 0xfff) + len <= 4096);
	if ((addr & ~0xfffull) == MMIO_PHYS)
		memcpy(e->mmio + (addr & 0xfff), buf, len);
	else if (addr < RAM_SIZE)
		memcpy(e->ram + addr, buf, len);
	return 0;
}

static uint8_t *mem_ram_page(void *opaque, uint64_t page)
{
	struct env *e = opaque;

	if (page >= RAM_SIZE || page == MMIO_PHYS)
		return NULL;
	return e->ram + page;
}

static void put64(struct env *e, uint64_t phys, uint64_t v)
{
	memcpy(e->ram + phys, &v, 8);
}

/* The page-table entry of linear (< 2 MiB). */
static void map(struct env *e, uint64_t linear, uint64_t entry)
{
	assert_true(linear < (2ull << 20));
	put64(e, PT + ((linear >> 12) & 511) * 8, entry);
}

/* 64-bit code at cpl: the segment caches a correct far transfer would have loaded. */
static void set_cpl(struct env *e, unsigned cpl)
{
	struct x86_cpu *c = &e->cpu;
	uint32_t dpl = cpl << X86_SEGA_DPL_SHIFT;

	c->seg[X86_SEG_CS].selector = cpl ? 0x33 : 0x08;
	c->seg[X86_SEG_CS].attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_L | dpl | 0xb;
	c->seg[X86_SEG_SS].selector = cpl ? 0x2b : 0x10;
	c->seg[X86_SEG_SS].attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_DB | dpl | 0x3;
	c->cpl = (uint8_t)cpl;
	x86_update_mode(c);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct x86_cpu *c;

	assert_non_null(e);
	e->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(e->ram);
	memset(e->ram, 0, RAM_SIZE);
	e->ops.read = mem_read;
	e->ops.write = mem_write;
	e->ops.ram_page = mem_ram_page;
	e->ic = icache_create();
	assert_non_null(e->ic);

	put64(e, PML4, PDPT | P | RW | US);
	put64(e, PDPT, PD | P | RW | US);
	put64(e, PD, PT | P | RW | US);
	for (uint64_t lin = 0x1000; lin < (2ull << 20); lin += 0x1000)
		map(e, lin, lin | P | RW | US);

	c = &e->cpu;
	x86_cpu_init(c);
	c->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	c->cr3 = PML4;
	c->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_SCE | X86_EFER_NXE;
	set_cpl(e, 0);
	c->gpr[X86_RSP] = STACK_TOP;
	x86_tlb_flush(c, true);
	assert_int_equal(c->mode, X86_MODE_LONG64);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	icache_destroy(e->ic);
	free(e->ram);
	free(e);
	return 0;
}

/* One instruction as run_burst runs it. */
static int step(struct env *e)
{
	int rc = icache_fetch(e->ic, &e->cpu, &e->ops, e, &e->in, &e->unit);

	if (rc == 0)
		rc = x86_execute_hinted(&e->cpu, &e->ops, e, e->in, e->unit);
	return rc;
}

/* Runs from start until RIP is stop, each instruction without a fault, at most max of them. */
static void run(struct env *e, uint64_t start, uint64_t stop, unsigned max)
{
	unsigned n;

	e->cpu.rip = start;
	for (n = 0; n < max && e->cpu.rip != stop; n++)
		assert_int_equal(step(e), 0);
	assert_int_equal(e->cpu.rip, stop);
}

static uint64_t hits(struct env *e)
{
	uint64_t h, m;

	icache_counts(e->ic, &h, &m);
	return h;
}

static uint64_t misses(struct env *e)
{
	uint64_t h, m;

	icache_counts(e->ic, &h, &m);
	return m;
}

/* A tiny assembler: bytes placed at a linear address (host bytes at a physical one). */
struct as {
	struct env *e;
	uint64_t lin;  /* where the next byte goes */
	uint64_t phys; /* and its physical address */
};

static struct as as_at(struct env *e, uint64_t lin, uint64_t phys)
{
	return (struct as){.e = e, .lin = lin, .phys = phys};
}

/* Emits n bytes; returns the linear address of the first. */
static uint64_t emit(struct as *a, const uint8_t *b, size_t n)
{
	uint64_t at = a->lin;

	assert_true(a->phys + n <= RAM_SIZE);
	memcpy(a->e->ram + a->phys, b, n);
	a->lin += n;
	a->phys += n;
	return at;
}

#define EMIT(a, ...) emit(a, (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static uint64_t emit_imm(struct as *a, uint64_t v, size_t n)
{
	uint8_t b[8];

	memcpy(b, &v, 8);
	return emit(a, b, n);
}

/* An opcode followed by a rel32 to target. */
static uint64_t emit_rel32(struct as *a, const uint8_t *op, size_t n, uint64_t target)
{
	uint64_t at = emit(a, op, n);

	emit_imm(a, target - (a->lin + 4), 4);
	return at;
}

static uint64_t emit_rel8(struct as *a, uint8_t op, uint64_t target)
{
	int64_t rel = (int64_t)(target - (a->lin + 2));

	assert_true(rel >= -128 && rel <= 127);
	return EMIT(a, op, (uint8_t)rel);
}

static uint64_t mov_r32_imm(struct as *a, unsigned reg, uint32_t imm)
{
	uint64_t at = EMIT(a, (uint8_t)(0xb8 + reg));

	emit_imm(a, imm, 4);
	return at;
}

static uint64_t jmp_rel32(struct as *a, uint64_t target)
{
	return emit_rel32(a, (const uint8_t[]){0xe9}, 1, target);
}

static uint64_t call_rel32(struct as *a, uint64_t target)
{
	return emit_rel32(a, (const uint8_t[]){0xe8}, 1, target);
}

static uint64_t jnz_rel32(struct as *a, uint64_t target)
{
	return emit_rel32(a, (const uint8_t[]){0x0f, 0x85}, 2, target);
}

/* ---- 1. hits, straight-line code, loops ---- */

static void test_hit_returns_same_entry(void **state)
{
	struct env *e = *state;
	struct as a = as_at(e, CODE, CODE);
	const struct x86_insn *first;
	uint8_t *first_unit;

	mov_r32_imm(&a, X86_RAX, 0x1234);
	e->cpu.rip = CODE;
	assert_int_equal(icache_fetch(e->ic, &e->cpu, &e->ops, e, &e->in, &e->unit), 0);
	assert_int_equal(hits(e), 0);
	assert_int_equal(misses(e), 1);
	assert_int_equal(e->in->len, 5);
	assert_int_equal(e->in->op, X86_OP_MOV);
	first = e->in;
	first_unit = e->unit;
	/* Fetched again without running it: the cursor serves the same page. */
	assert_int_equal(icache_fetch(e->ic, &e->cpu, &e->ops, e, &e->in, &e->unit), 0);
	assert_ptr_equal(e->in, first);
	assert_ptr_equal(e->unit, first_unit);
	assert_int_equal(hits(e), 1);
	assert_int_equal(misses(e), 1);
	assert_int_equal(x86_execute_hinted(&e->cpu, &e->ops, e, e->in, e->unit), 0);
	assert_int_equal(e->cpu.gpr[X86_RAX], 0x1234);
	assert_int_equal(e->cpu.rip, CODE + 5);
	/* And after a full TLB flush, through the hash: still the same entry. */
	x86_tlb_flush(&e->cpu, true);
	e->cpu.rip = CODE;
	assert_int_equal(icache_fetch(e->ic, &e->cpu, &e->ops, e, &e->in, &e->unit), 0);
	assert_ptr_equal(e->in, first);
	assert_int_equal(hits(e), 2);
	assert_int_equal(misses(e), 1);
}

static void test_straight_line_decodes_once(void **state)
{
	struct env *e = *state;
	struct as a = as_at(e, CODE + 0x200, CODE + 0x200);
	struct x86_cpu *c = &e->cpu;
	uint64_t end;

	mov_r32_imm(&a, X86_RAX, 7);
	mov_r32_imm(&a, X86_RBX, 5);
	EMIT(&a, 0x01, 0xd8);		  /* add eax, ebx */
	EMIT(&a, 0x48, 0x8d, 0x0c, 0x40); /* lea rcx, [rax + rax*2] */
	EMIT(&a, 0x48, 0x89, 0xca);	  /* mov rdx, rcx */
	EMIT(&a, 0xd1, 0xe2);		  /* shl edx, 1 */
	EMIT(&a, 0x0f, 0xaf, 0xd3);	  /* imul edx, ebx */
	EMIT(&a, 0x48, 0xf7, 0xd8);	  /* neg rax */
	end = a.lin;
	for (int pass = 0; pass < 3; pass++) {
		memset(c->gpr, 0, sizeof(c->gpr));
		c->gpr[X86_RSP] = STACK_TOP;
		run(e, CODE + 0x200, end, 8);
		assert_int_equal(c->gpr[X86_RAX], (uint64_t)-12);
		assert_int_equal(c->gpr[X86_RCX], 36);
		assert_int_equal(c->gpr[X86_RDX], 360);
		assert_int_equal(misses(e), 8);
		assert_int_equal(hits(e), 8 * (uint64_t)pass);
	}
}

/* A loop with a call to another page: decodes on the first pass only. */
static void test_loop_decodes_once(void **state)
{
	struct env *e = *state;
	struct as a = as_at(e, CODE + 0x1000, CODE + 0x1000),
		  f = as_at(e, CODE + 0x5000, CODE + 0x5000);
	struct x86_cpu *c = &e->cpu;
	uint64_t back, end;

	EMIT(&f, 0x83, 0xc2, 0x02); /* add edx, 2 */
	EMIT(&f, 0xc3);		    /* ret */
	mov_r32_imm(&a, X86_RCX, 1000);
	EMIT(&a, 0x31, 0xc0);		   /* xor eax, eax */
	EMIT(&a, 0x31, 0xdb);		   /* xor ebx, ebx */
	back = EMIT(&a, 0x83, 0xc0, 0x03); /* add eax, 3 */
	EMIT(&a, 0x48, 0x01, 0xc3);	   /* add rbx, rax */
	call_rel32(&a, CODE + 0x5000);
	EMIT(&a, 0xff, 0xc9);	   /* dec ecx */
	emit_rel8(&a, 0x75, back); /* jnz back */
	end = a.lin;
	run(e, CODE + 0x1000, end, 10000);
	assert_int_equal(c->gpr[X86_RAX], 3000);
	assert_int_equal(c->gpr[X86_RBX], 1501500);
	assert_int_equal(c->gpr[X86_RCX], 0);
	assert_int_equal(c->gpr[X86_RDX], 2000);
	assert_int_equal(c->gpr[X86_RSP], STACK_TOP);
	assert_int_equal(misses(e), 3 + 7);
	assert_int_equal(hits(e), 3 + 7 * 1000 - 10);
}

/* ---- 2. self-modifying code ---- */

/* Runs the one instruction at lin and returns RAX. */
static uint64_t run_one(struct env *e, uint64_t lin, unsigned len)
{
	e->cpu.gpr[X86_RAX] = 0;
	run(e, lin, lin + len, 1);
	return e->cpu.gpr[X86_RAX];
}

static void test_smc_direct(void **state)
{
	struct env *e = *state;
	uint64_t add = CODE + 0x2000, movabs = CODE + 0x2100, lea = CODE + 0x2200;
	struct as a = as_at(e, add, add);
	uint64_t m;

	EMIT(&a, 0x05, 0x44, 0x33, 0x22, 0x11); /* add eax, 0x11223344 */
	a = as_at(e, movabs, movabs);
	EMIT(&a, 0x48, 0xb8, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* mov rax, imm64 */
	     0x90);
	/* 15 bytes: seven (ignored) CS overrides, lea rax, [rsp + 0x12345678] */
	a = as_at(e, lea, lea);
	EMIT(&a, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x48, 0x8d, 0x84, 0x24, 0x78, 0x56, 0x34,
	     0x12);

	/* The last byte of a 5-byte instruction (first 8-byte half of the window). */
	assert_int_equal(run_one(e, add, 5), 0x11223344);
	assert_int_equal(run_one(e, add, 5), 0x11223344);
	assert_int_equal(misses(e), 1);
	e->ram[add + 4] = 0x55;
	assert_int_equal(run_one(e, add, 5), 0x55223344);
	assert_int_equal(misses(e), 2);
	/* The opcode: now mov ebx, imm32. */
	e->ram[add] = 0xbb;
	e->cpu.gpr[X86_RBX] = 0;
	assert_int_equal(run_one(e, add, 5), 0);
	assert_int_equal(e->cpu.gpr[X86_RBX], 0x55223344);

	/* The last byte of a 10-byte instruction (second half of the window). */
	assert_int_equal(run_one(e, movabs, 10), 0x8877665544332211ull);
	e->ram[movabs + 9] = 0x99;
	m = misses(e);
	assert_int_equal(run_one(e, movabs, 10), 0x9977665544332211ull);
	assert_int_equal(misses(e), m + 1);
	/* A byte after it is not part of it: still a hit. */
	e->ram[movabs + 10] = 0xcc;
	assert_int_equal(run_one(e, movabs, 10), 0x9977665544332211ull);
	assert_int_equal(misses(e), m + 1);

	/* The last byte of a 15-byte instruction. */
	e->cpu.gpr[X86_RSP] = STACK_TOP;
	assert_int_equal(run_one(e, lea, 15), STACK_TOP + 0x12345678);
	e->ram[lea + 14] = 0x13;
	assert_int_equal(run_one(e, lea, 15), STACK_TOP + 0x13345678);
	/* A prefix byte in the middle: now an SS override (also ignored), same result. */
	e->ram[lea + 3] = 0x36;
	m = misses(e);
	assert_int_equal(run_one(e, lea, 15), STACK_TOP + 0x13345678);
	assert_int_equal(misses(e), m + 1);
}

/*
 * A loop whose first instruction stores DL into its own next instruction (at offset patch of
 * it), which the cache holds from the pass before: every pass must run the new bytes.
 */
static void run_store_loop(struct env *e, const uint8_t *store, size_t store_len,
			   const uint8_t *next, size_t next_len, unsigned patch)
{
	uint64_t g = CODE + 0x3000, stored;
	struct as a = as_at(e, g, g);

	/* store: e.g. mov [rip + disp32], dl with disp32 = patch */
	emit(&a, store, store_len - 4);
	emit_imm(&a, patch, 4);
	emit(&a, next, next_len);
	EMIT(&a, 0x48, 0x01, 0xc3); /* add rbx, rax */
	EMIT(&a, 0xff, 0xc2);	    /* inc edx */
	EMIT(&a, 0xff, 0xc9);	    /* dec ecx */
	emit_rel8(&a, 0x75, g);	    /* jnz g */
	stored = a.lin;
	e->cpu.gpr[X86_RBX] = 0;
	e->cpu.gpr[X86_RCX] = 10;
	e->cpu.gpr[X86_RDX] = 1;
	run(e, g, stored, 100);
	assert_int_equal(e->cpu.gpr[X86_RCX], 0);
	/* The instruction was decoded on the first pass and again after each later store. */
	assert_int_equal(misses(e), 6 + 9);
	assert_int_equal(hits(e), 6 * 10 - 15);
}

static void test_smc_guest_store_next_insn(void **state)
{
	struct env *e = *state;

	/* mov [rip + 1], dl (a byte store: the general path) into mov eax, imm32's low byte */
	run_store_loop(e, (const uint8_t[]){0x88, 0x15, 0, 0, 0, 0}, 6,
		       (const uint8_t[]){0xb8, 0, 0, 0, 0}, 5, 1);
	assert_int_equal(e->cpu.gpr[X86_RBX], 55);
}

static void test_smc_guest_store_fast_path(void **state)
{
	struct env *e = *state;

	/* mov [rip + 1], edx (a 32-bit store: exec_fast.c) over the whole imm32 */
	run_store_loop(e, (const uint8_t[]){0x89, 0x15, 0, 0, 0, 0}, 6,
		       (const uint8_t[]){0xb8, 0, 0, 0, 0}, 5, 1);
	assert_int_equal(e->cpu.gpr[X86_RBX], 55);
}

static void test_smc_guest_store_last_byte_of_movabs(void **state)
{
	struct env *e = *state;

	/* mov [rip + 9], dl into the top byte of mov rax, 5 (10 bytes) */
	run_store_loop(e, (const uint8_t[]){0x88, 0x15, 0, 0, 0, 0}, 6,
		       (const uint8_t[]){0x48, 0xb8, 5, 0, 0, 0, 0, 0, 0, 0}, 10, 9);
	assert_int_equal(e->cpu.gpr[X86_RBX], 50 + (55ull << 56));
}

static void test_smc_guest_store_last_byte_of_add_imm32(void **state)
{
	struct env *e = *state;
	uint64_t rax = 0, rbx = 0;

	/* mov [rip + 4], dl into the top byte of add eax, imm32 (RAX accumulates) */
	run_store_loop(e, (const uint8_t[]){0x88, 0x15, 0, 0, 0, 0}, 6,
		       (const uint8_t[]){0x05, 0, 0, 0, 0}, 5, 4);
	for (uint64_t i = 1; i <= 10; i++) {
		rax = (uint32_t)(rax + (i << 24));
		rbx += rax;
	}
	assert_int_equal(e->cpu.gpr[X86_RBX], rbx);
}

/*
 * The store rewrites the next instruction's opcode, alternating between a short-path
 * instruction (01 d8: add eax, ebx) and one of the general units (87 d8: xchg eax, ebx): the
 * dispatch hint learned for one must not be used for the other.
 */
static void test_smc_opcode_change_resets_hint(void **state)
{
	struct env *e = *state;
	uint64_t g = CODE + 0x4000, end, ma = 1, mb = 3;
	struct as a = as_at(e, g, g);
	struct x86_cpu *c = &e->cpu;

	EMIT(&a, 0x88, 0x15, 0, 0, 0, 0); /* mov [rip + 0], dl */
	EMIT(&a, 0x01, 0xd8);		  /* add eax, ebx | xchg eax, ebx */
	EMIT(&a, 0x80, 0xf2, 0x86);	  /* xor dl, 0x86: 0x01 <-> 0x87 */
	EMIT(&a, 0xff, 0xce);		  /* dec esi */
	emit_rel8(&a, 0x75, g);
	end = a.lin;
	c->gpr[X86_RAX] = 1;
	c->gpr[X86_RBX] = 3;
	c->gpr[X86_RDX] = 0x01;
	c->gpr[X86_RSI] = 8;
	run(e, g, end, 100);
	for (int i = 0; i < 8; i++) {
		uint64_t t = ma;

		ma = i % 2 ? mb : ma + mb;
		mb = i % 2 ? t : mb;
	}
	assert_int_equal(c->gpr[X86_RAX], ma);
	assert_int_equal(c->gpr[X86_RBX], mb);
	assert_int_equal(e->ram[g + 6], 0x87); /* the eighth store's */
}

/* ---- 3. remapping ---- */

#define REMAP_LIN (CODE + 0x30000)
#define REMAP_P1 ALT
#define REMAP_P2 (ALT + 0x1000)

static void remap(struct env *e, uint64_t phys)
{
	map(e, REMAP_LIN, phys | P | RW | US);
}

/* mov eax, tag at the same offset of both physical pages. */
static void remap_pages(struct env *e, unsigned off)
{
	struct as a1 = as_at(e, REMAP_LIN + off, REMAP_P1 + off);
	struct as a2 = as_at(e, REMAP_LIN + off, REMAP_P2 + off);

	mov_r32_imm(&a1, X86_RAX, 0x11);
	mov_r32_imm(&a2, X86_RAX, 0x22);
	remap(e, REMAP_P1);
}

static void test_remap_invlpg_api(void **state)
{
	struct env *e = *state;
	uint64_t h;

	remap_pages(e, 0x40);
	assert_int_equal(run_one(e, REMAP_LIN + 0x40, 5), 0x11);
	assert_int_equal(run_one(e, REMAP_LIN + 0x40, 5), 0x11);
	/* The cursor now holds REMAP_LIN's translation: INVLPG must end it. */
	remap(e, REMAP_P2);
	x86_tlb_flush_page(&e->cpu, REMAP_LIN);
	assert_int_equal(run_one(e, REMAP_LIN + 0x40, 5), 0x22);
	/* Back to the first page with a full flush: its entry is still good (a hit). */
	remap(e, REMAP_P1);
	x86_tlb_flush(&e->cpu, true);
	h = hits(e);
	assert_int_equal(run_one(e, REMAP_LIN + 0x40, 5), 0x11);
	assert_int_equal(hits(e), h + 1);
	/* A flush that keeps global entries (MOV CR3 with CR4.PGE) ends the cursor too. */
	remap(e, REMAP_P2);
	x86_tlb_flush(&e->cpu, false);
	assert_int_equal(run_one(e, REMAP_LIN + 0x40, 5), 0x22);
}

/*
 * Without INVLPG the emu keeps using the translation its TLB (and the cursor, which is a copy
 * of it) holds, as a real CPU may: SDM 4.10.4.3 leaves it open whether a stale entry is used.
 * Here that is the old page (the TLB entry is not evicted in between), but nothing promises
 * it, so only "one of the two pages" is checked.
 */
static void test_remap_without_flush(void **state)
{
	struct env *e = *state;
	uint64_t rax;

	remap_pages(e, 0x80);
	assert_int_equal(run_one(e, REMAP_LIN + 0x80, 5), 0x11);
	remap(e, REMAP_P2);
	rax = run_one(e, REMAP_LIN + 0x80, 5);
	assert_true(rax == 0x11 || rax == 0x22);
	x86_tlb_flush_page(&e->cpu, REMAP_LIN);
	assert_int_equal(run_one(e, REMAP_LIN + 0x80, 5), 0x22);
}

/*
 * The guest remaps the page it runs on (a store into its page table), then INVLPG / MOV CR3
 * (both serializing, SDM 8.3): the instruction right after, on the same page, comes from the
 * new physical page.
 */
static void remap_by_guest(struct env *e, bool by_cr3)
{
	static const uint8_t invlpg[] = {0x0f, 0x01, 0x38}, mov_cr3[] = {0x0f, 0x22, 0xda};
	uint64_t phys[2] = {REMAP_P1, REMAP_P2};
	struct x86_cpu *c = &e->cpu;

	for (int i = 0; i < 2; i++) {
		struct as a = as_at(e, REMAP_LIN, phys[i]);

		EMIT(&a, 0x48, 0x89, 0x0b); /* mov [rbx], rcx: the PTE */
		emit(&a, by_cr3 ? mov_cr3 : invlpg, 3);
		mov_r32_imm(&a, X86_RAX, i ? 0x22 : 0x11);
	}
	remap(e, REMAP_P1);
	for (int round = 0; round < 4; round++) {
		uint64_t to = phys[(round + 1) % 2];

		c->gpr[X86_RAX] = REMAP_LIN;
		c->gpr[X86_RBX] = PT + ((REMAP_LIN >> 12) & 511) * 8;
		c->gpr[X86_RCX] = to | P | RW | US;
		c->gpr[X86_RDX] = PML4;
		run(e, REMAP_LIN, REMAP_LIN + 11, 3);
		assert_int_equal(c->gpr[X86_RAX], to == REMAP_P1 ? 0x11 : 0x22);
	}
}

static void test_remap_guest_invlpg(void **state)
{
	remap_by_guest(*state, false);
}

static void test_remap_guest_mov_cr3(void **state)
{
	remap_by_guest(*state, true);
}

/* ---- 4. privilege ---- */

static void test_cpl3_cannot_reuse_supervisor_translation(void **state)
{
	struct env *e = *state;
	uint64_t s = CODE + 0x10000;
	struct as a = as_at(e, s, s);
	struct x86_cpu *c = &e->cpu;

	map(e, s, s | P | RW); /* supervisor only */
	mov_r32_imm(&a, X86_RAX, 5);
	mov_r32_imm(&a, X86_RBX, 6);
	run(e, s, s + 10, 2);
	run(e, s, s + 5, 1);
	/* CPL 3 at the RIP of the last fetch, and at the next instruction (the linked one). */
	set_cpl(e, 3);
	for (uint64_t rip = s; rip <= s + 5; rip += 5) {
		c->rip = rip;
		assert_int_equal(step(e), X86_EXC_PF);
		assert_int_equal(c->fault_error_code, X86_PF_P | X86_PF_U | X86_PF_I);
		assert_int_equal(c->fault_addr, rip);
		assert_int_equal(c->rip, rip);
	}
	/* Back at CPL 0 it runs from the cache. */
	set_cpl(e, 0);
	c->gpr[X86_RAX] = 0;
	run(e, s, s + 5, 1);
	assert_int_equal(c->gpr[X86_RAX], 5);
	assert_int_equal(misses(e), 2);
}

/* A user page runs at CPL 0 and then at CPL 3 from the same entries. */
static void test_user_page_both_cpls(void **state)
{
	struct env *e = *state;
	uint64_t u = CODE + 0x11000;
	struct as a = as_at(e, u, u);

	mov_r32_imm(&a, X86_RAX, 5);
	run(e, u, u + 5, 1);
	set_cpl(e, 3);
	e->cpu.gpr[X86_RAX] = 0;
	run(e, u, u + 5, 1);
	assert_int_equal(e->cpu.gpr[X86_RAX], 5);
	assert_int_equal(misses(e), 1);
	assert_int_equal(hits(e), 1);
}

static void test_nx_page(void **state)
{
	struct env *e = *state;
	uint64_t n = CODE + 0x12000;
	struct as a = as_at(e, n, n);

	mov_r32_imm(&a, X86_RAX, 5);
	run(e, n, n + 5, 1);
	map(e, n, n | P | RW | US | XD);
	x86_tlb_flush_page(&e->cpu, n);
	e->cpu.rip = n;
	assert_int_equal(step(e), X86_EXC_PF);
	assert_int_equal(e->cpu.fault_error_code, X86_PF_P | X86_PF_I);
	assert_int_equal(e->cpu.fault_addr, n);
}

/* ---- 5. page ends, undecodable bytes, MMIO code, other modes ---- */

static void test_page_end(void **state)
{
	struct env *e = *state;
	uint64_t x = CODE + 0x20000, next = ALT + 0x2000;
	struct as a = as_at(e, x + 0xff0, x + 0xff0);
	struct x86_cpu *c = &e->cpu;

	/* The next linear page is not the next physical one; that one holds junk. */
	map(e, x + 0x1000, next | P | RW | US);
	memset(e->ram + x + 0x1000, 0xee, 0x1000);
	mov_r32_imm(&a, X86_RAX, 0x12345678);	      /* window ends at the page end exactly */
	mov_r32_imm(&a, X86_RBX, 0x11223344);	      /* window crosses */
	EMIT(&a, 0x48, 0xb9, 0x11, 0x22, 0x33, 0x44); /* mov rcx, imm64: crosses */
	a = as_at(e, x + 0x1000, next);
	EMIT(&a, 0x55, 0x66, 0x77, 0x88);
	mov_r32_imm(&a, X86_RDX, 7);
	for (int pass = 0; pass < 2; pass++) {
		memset(c->gpr, 0, sizeof(c->gpr));
		run(e, x + 0xff0, x + 0x1009, 4);
		assert_int_equal(c->gpr[X86_RAX], 0x12345678);
		assert_int_equal(c->gpr[X86_RBX], 0x11223344);
		assert_int_equal(c->gpr[X86_RCX], 0x8877665544332211ull);
		assert_int_equal(c->gpr[X86_RDX], 7);
	}
	/* Cached: the first and the last; the two with a window past the page end are not. */
	assert_int_equal(hits(e), 2);
	assert_int_equal(misses(e), 6);
	/* A changed byte on the second page is seen. */
	e->ram[next + 3] = 0x99;
	run(e, x + 0xffa, x + 0x1004, 1);
	assert_int_equal(c->gpr[X86_RCX], 0x9977665544332211ull);
}

/* An instruction running into a not-present page faults on that page; a shorter one does not. */
static void test_page_end_not_present(void **state)
{
	struct env *e = *state;
	uint64_t y = CODE + 0x24000;
	struct x86_cpu *c = &e->cpu;

	map(e, y + 0x1000, 0);
	e->ram[y + 0xffe] = 0xb8; /* mov eax, imm32: 3 bytes missing */
	e->ram[y + 0xfff] = 0x90;
	c->rip = y + 0xffe;
	assert_int_equal(step(e), X86_EXC_PF);
	assert_int_equal(c->fault_addr, y + 0x1000);
	assert_int_equal(c->fault_error_code, X86_PF_I);
	assert_int_equal(c->rip, y + 0xffe);
	run(e, y + 0xfff, y + 0x1000, 1); /* nop */
	assert_int_equal(step(e), X86_EXC_PF);
	assert_int_equal(c->fault_addr, y + 0x1000);
	assert_int_equal(c->fault_error_code, X86_PF_I);
}

static void test_undecodable(void **state)
{
	struct env *e = *state;
	uint64_t u = CODE + 0x28000, g = CODE + 0x28100;
	struct x86_cpu *c = &e->cpu;

	e->ram[u] = 0x06; /* PUSH ES: invalid in 64-bit mode */
	for (int i = 0; i < 2; i++) {
		c->rip = u;
		assert_int_equal(step(e), X86_EXC_UD);
		assert_int_equal(c->rip, u);
		assert_int_equal(c->gpr[X86_RSP], STACK_TOP);
	}
	assert_int_equal(misses(e), 4); /* the failed decode and the uncached path's, twice */
	assert_int_equal(hits(e), 0);
	/* Fixed, it runs (the slot was not left holding anything). */
	{
		struct as a = as_at(e, u, u);

		mov_r32_imm(&a, X86_RAX, 9);
	}
	run(e, u, u + 5, 1);
	assert_int_equal(c->gpr[X86_RAX], 9);
	/* Longer than 15 bytes: #GP(0) (SDM 2.3.11). */
	memset(e->ram + g, 0x66, 15);
	e->ram[g + 15] = 0x90;
	c->rip = g;
	c->fault_error_code = 0x15; /* what an earlier #PF left */
	assert_int_equal(step(e), X86_EXC_GP);
	assert_int_equal(c->fault_error_code, 0);
	assert_int_equal(c->rip, g);
	/* #UD at a page end (the uncached path alone). */
	e->ram[u + 0xfff] = 0x06;
	c->rip = u + 0xfff;
	assert_int_equal(step(e), X86_EXC_UD);
}

static void test_mmio_code(void **state)
{
	struct env *e = *state;
	uint64_t lin = CODE + 0x38000, m;
	static const uint8_t mov_eax[] = {0xb8, 0x33, 0, 0, 0};

	map(e, lin, MMIO_PHYS | P | RW | US);
	memcpy(e->mmio + 0x10, mov_eax, sizeof(mov_eax));
	assert_int_equal(run_one(e, lin + 0x10, 5), 0x33);
	m = misses(e);
	assert_int_equal(run_one(e, lin + 0x10, 5), 0x33);
	assert_int_equal(misses(e), m + 1); /* never cached */
	assert_true(e->mmio_reads > 0);
	e->mmio[0x11] = 0x44;
	assert_int_equal(run_one(e, lin + 0x10, 5), 0x44);
}

/* 48 05 imm32 is add rax, imm32 in 64-bit code, dec eax; add eax, imm32 in 32-bit code. */
static void test_compat_mode_not_cached(void **state)
{
	struct env *e = *state;
	uint64_t x = CODE + 0x3c000, h, m;
	struct x86_cpu *c = &e->cpu;
	struct as a = as_at(e, x, x);

	EMIT(&a, 0x48, 0x05, 0x01, 0, 0, 0);
	c->gpr[X86_RAX] = 10;
	run(e, x, x + 6, 1);
	assert_int_equal(c->gpr[X86_RAX], 11);
	/* Compatibility mode at the same RIP (CS.L clear, CS.D set). */
	c->seg[X86_SEG_CS].attr = (c->seg[X86_SEG_CS].attr & ~X86_SEGA_L) | X86_SEGA_DB;
	x86_update_mode(c);
	assert_int_equal(c->mode, X86_MODE_PROT32);
	h = hits(e);
	m = misses(e);
	c->rip = x;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(icache_fetch(e->ic, c, &e->ops, e, &e->in, &e->unit), 0);
		assert_int_equal(*e->unit, 0); /* a scratch hint, cleared for each instruction */
		assert_int_equal(x86_execute_hinted(c, &e->ops, e, e->in, e->unit), 0);
	}
	assert_int_equal(c->rip, x + 6);
	assert_int_equal(c->gpr[X86_RAX], 11); /* dec eax; add eax, 1 */
	assert_int_equal(hits(e), h);
	assert_int_equal(misses(e), m + 2);
	/* Back in 64-bit mode: the old entry serves. */
	set_cpl(e, 0);
	run(e, x, x + 6, 1);
	assert_int_equal(c->gpr[X86_RAX], 12);
	assert_int_equal(hits(e), h + 1);
}

/*
 * The top of the lower canonical half: code that runs up to 0x0000800000000000 must not go on
 * there. A fetch from a non-canonical address is #GP(0) (SDM vol. 1 3.3.7.1, vol. 3A 6.15
 * "#GP"); the page tables would otherwise map it like 0xffff800000000000 (PML4 entry 256),
 * which here holds other code.
 */
static void test_noncanonical_fetch(void **state)
{
	struct env *e = *state;
	const uint64_t top = 0x00007ffffffff000ull, nc = 0x0000800000000000ull;
	const uint64_t pdpt2 = 0x5000, pd2 = 0x6000, pt2 = 0x7000;
	const uint64_t code_top = CODE + 0x3e000, code_alias = CODE + 0x3f000;
	struct x86_cpu *c = &e->cpu;
	struct as a;

	put64(e, PML4 + 255 * 8, pdpt2 | P | RW | US);
	put64(e, PML4 + 256 * 8, pdpt2 | P | RW | US);
	put64(e, pdpt2 + 511 * 8, pd2 | P | RW | US);
	put64(e, pdpt2, pd2 | P | RW | US);
	put64(e, pd2 + 511 * 8, pt2 | P | RW | US);
	put64(e, pd2, pt2 | P | RW | US);
	put64(e, pt2 + 511 * 8, code_top | P | RW | US);
	put64(e, pt2, code_alias | P | RW | US);
	a = as_at(e, nc, code_alias);
	mov_r32_imm(&a, X86_RAX, 0x66);

	/* Ends at the boundary: runs; the next fetch faults. */
	a = as_at(e, top + 0xffb, code_top + 0xffb);
	mov_r32_imm(&a, X86_RAX, 1);
	run(e, top + 0xffb, nc, 1);
	assert_int_equal(c->gpr[X86_RAX], 1);
	for (int i = 0; i < 2; i++) {
		c->fault_error_code = 0x15;
		assert_int_equal(step(e), X86_EXC_GP);
		assert_int_equal(c->fault_error_code, 0);
		assert_int_equal(c->rip, nc);
		assert_int_equal(c->gpr[X86_RAX], 1);
	}
	/* Runs over it: its last bytes are not fetched. */
	a = as_at(e, top + 0xffd, code_top + 0xffd);
	mov_r32_imm(&a, X86_RAX, 2);
	c->rip = top + 0xffd;
	c->fault_error_code = 0x15;
	assert_int_equal(step(e), X86_EXC_GP);
	assert_int_equal(c->fault_error_code, 0);
	assert_int_equal(c->rip, top + 0xffd);
	assert_int_equal(c->gpr[X86_RAX], 1);
}

/* ---- 6. hash-slot collisions ---- */

static unsigned slot_of(uintptr_t key)
{
	return (unsigned)((key ^ (key >> 14)) & (ICACHE_SLOTS - 1));
}

/*
 * Two code addresses x and y on different pages, not near a page end, whose host addresses
 * share a slot, while x + 3, y + 3 and y + 5 (the instructions after them in
 * test_slot_collision) each have a slot of their own.
 */
static void find_collision(struct env *e, uint64_t from, uint64_t *x, uint64_t *y)
{
	for (uint64_t p = from; p < from + 0xf00; p += 0x40) {
		unsigned s = slot_of((uintptr_t)(e->ram + p));

		for (uint64_t q = (p & ~0xfffull) + 0x2000; q < CODE_END; q++) {
			unsigned o[4] = {s, slot_of((uintptr_t)(e->ram + p + 3)),
					 slot_of((uintptr_t)(e->ram + q + 3)),
					 slot_of((uintptr_t)(e->ram + q + 5))};
			bool distinct = true;

			if ((q & 0xfff) > 0xf00 || slot_of((uintptr_t)(e->ram + q)) != s)
				continue;
			for (int i = 0; i < 4; i++)
				for (int j = i + 1; j < 4; j++)
					distinct = distinct && o[i] != o[j];
			if (!distinct)
				continue;
			*x = p;
			*y = q;
			return;
		}
	}
	fail_msg("no colliding pair");
}

static void test_slot_collision(void **state)
{
	struct env *e = *state;
	struct x86_cpu *c = &e->cpu;
	uint64_t x, y, end;
	struct as a;

	find_collision(e, CODE + 0x8000, &x, &y);
	assert_int_equal(slot_of((uintptr_t)(e->ram + x)), slot_of((uintptr_t)(e->ram + y)));
	/* x: add eax, 1; jmp y.  y: add ebx, 2; dec ecx; jnz x. */
	a = as_at(e, x, x);
	EMIT(&a, 0x83, 0xc0, 0x01);
	jmp_rel32(&a, y);
	a = as_at(e, y, y);
	EMIT(&a, 0x83, 0xc3, 0x02);
	EMIT(&a, 0xff, 0xc9);
	jnz_rel32(&a, x);
	end = a.lin;
	c->gpr[X86_RCX] = 100;
	run(e, x, end, 1000);
	assert_int_equal(c->gpr[X86_RAX], 100);
	assert_int_equal(c->gpr[X86_RBX], 200);
	/* The two first instructions evicted each other every time. */
	assert_int_equal(misses(e), 2 * 100 + 3);
	assert_int_equal(hits(e), 5 * 100 - (2 * 100 + 3));
}

/* Same bytes at both addresses: an entry must not serve the other address. */
static void test_slot_collision_same_bytes(void **state)
{
	struct env *e = *state;
	struct x86_cpu *c = &e->cpu;
	uint64_t x, y;
	struct as a;

	find_collision(e, CODE + 0x9000, &x, &y);
	/* lea rax, [rip + 0]: the result says where it ran. */
	a = as_at(e, x, x);
	EMIT(&a, 0x48, 0x8d, 0x05, 0, 0, 0, 0);
	a = as_at(e, y, y);
	EMIT(&a, 0x48, 0x8d, 0x05, 0, 0, 0, 0);
	for (int i = 0; i < 4; i++) {
		uint64_t at = i % 2 ? y : x;

		run(e, at, at + 7, 1);
		assert_int_equal(c->gpr[X86_RAX], at + 7);
	}
}

/* ---- 7. the dispatch hint ---- */

static void test_hint_learned(void **state)
{
	struct env *e = *state;
	uint64_t x = CODE + 0xa000;
	struct as a = as_at(e, x, x);

	EMIT(&a, 0x01, 0xd8); /* add eax, ebx: a short path */
	EMIT(&a, 0xd1, 0xe0); /* shl eax, 1: a general unit */
	e->cpu.rip = x;
	assert_int_equal(icache_fetch(e->ic, &e->cpu, &e->ops, e, &e->in, &e->unit), 0);
	assert_int_equal(*e->unit, 0);
	assert_int_equal(x86_execute_hinted(&e->cpu, &e->ops, e, e->in, e->unit), 0);
	assert_true(*e->unit & X86_HINT_FAST);
	assert_int_equal(icache_fetch(e->ic, &e->cpu, &e->ops, e, &e->in, &e->unit), 0);
	assert_int_equal(*e->unit, 0);
	assert_int_equal(x86_execute_hinted(&e->cpu, &e->ops, e, e->in, e->unit), 0);
	assert_int_not_equal(*e->unit, 0);
	assert_false(*e->unit & X86_HINT_FAST);
	/* Kept by the entries. */
	e->cpu.rip = x;
	assert_int_equal(icache_fetch(e->ic, &e->cpu, &e->ops, e, &e->in, &e->unit), 0);
	assert_true(*e->unit & X86_HINT_FAST);
}

/* Runs `shl eax, 1` and `add eax, ebx` with the hint byte forced to wrong values. */
static void test_hint_wrong_unit(void **state)
{
	struct env *e = *state;
	uint64_t x = CODE + 0xb000;
	struct as a = as_at(e, x, x);
	struct x86_cpu *c = &e->cpu;
	/* Units of other ops (1..13 name the units in step.c's order; 0x7f names none). */
	static const uint8_t wrong[] = {1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x7f};
	uint8_t learned;

	EMIT(&a, 0xd1, 0xe0); /* shl eax, 1 */
	EMIT(&a, 0x01, 0xd8); /* add eax, ebx */
	c->gpr[X86_RAX] = 1;
	run(e, x, x + 2, 1);
	learned = *e->unit;
	assert_int_not_equal(learned, 0);
	for (size_t i = 0; i < sizeof(wrong); i++) {
		if (wrong[i] == learned)
			continue;
		c->gpr[X86_RAX] = 3;
		c->rip = x;
		assert_int_equal(icache_fetch(e->ic, c, &e->ops, e, &e->in, &e->unit), 0);
		*e->unit = wrong[i];
		assert_int_equal(x86_execute_hinted(c, &e->ops, e, e->in, e->unit), 0);
		assert_int_equal(c->gpr[X86_RAX], 6);
		assert_int_equal(c->rip, x + 2);
		assert_int_equal(*e->unit, learned); /* the chain found it again */
	}
	/* A short-path instruction given a unit hint runs the general way, correctly. */
	for (uint8_t h = 1; h <= 13; h++) {
		c->gpr[X86_RAX] = 3;
		c->gpr[X86_RBX] = 4;
		c->rip = x + 2;
		assert_int_equal(icache_fetch(e->ic, c, &e->ops, e, &e->in, &e->unit), 0);
		*e->unit = h;
		assert_int_equal(x86_execute_hinted(c, &e->ops, e, e->in, e->unit), 0);
		assert_int_equal(c->gpr[X86_RAX], 7);
		assert_int_equal(c->rip, x + 4);
	}
}

/* A short path that declines (RET to a non-canonical address) leaves it to the general path,
 * which raises #GP(0) with nothing changed; the hint stays. */
static void test_fast_path_declines(void **state)
{
	struct env *e = *state;
	uint64_t x = CODE + 0xc000;
	struct x86_cpu *c = &e->cpu;
	uint8_t hint;

	e->ram[x] = 0xc3; /* ret */
	c->gpr[X86_RSP] = STACK_TOP - 8;
	put64(e, STACK_TOP - 8, x + 0x100);
	e->ram[x + 0x100] = 0x90;
	run(e, x, x + 0x100, 1);
	assert_int_equal(c->gpr[X86_RSP], STACK_TOP);
	hint = *e->unit;
	assert_true(hint & X86_HINT_FAST);
	c->gpr[X86_RSP] = STACK_TOP - 8;
	put64(e, STACK_TOP - 8, 0x8000000000000000ull);
	c->rip = x;
	assert_int_equal(step(e), X86_EXC_GP);
	assert_int_equal(c->fault_error_code, 0);
	assert_int_equal(c->rip, x);
	assert_int_equal(c->gpr[X86_RSP], STACK_TOP - 8);
	assert_int_equal(*e->unit, hint);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_hit_returns_same_entry),
	    T(test_straight_line_decodes_once),
	    T(test_loop_decodes_once),
	    T(test_smc_direct),
	    T(test_smc_guest_store_next_insn),
	    T(test_smc_guest_store_fast_path),
	    T(test_smc_guest_store_last_byte_of_movabs),
	    T(test_smc_guest_store_last_byte_of_add_imm32),
	    T(test_smc_opcode_change_resets_hint),
	    T(test_remap_invlpg_api),
	    T(test_remap_without_flush),
	    T(test_remap_guest_invlpg),
	    T(test_remap_guest_mov_cr3),
	    T(test_cpl3_cannot_reuse_supervisor_translation),
	    T(test_user_page_both_cpls),
	    T(test_nx_page),
	    T(test_page_end),
	    T(test_page_end_not_present),
	    T(test_undecodable),
	    T(test_mmio_code),
	    T(test_compat_mode_not_cached),
	    T(test_noncanonical_fetch),
	    T(test_slot_collision),
	    T(test_slot_collision_same_bytes),
	    T(test_hint_learned),
	    T(test_hint_wrong_unit),
	    T(test_fast_path_declines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
