/*
 * Shared by the emu CPU's system-architecture unit tests (x86_segment_test.c,
 * x86_events_test.c): flat physical memory, a GDT/IDT/TSS built by hand, and helpers.
 * Included once per test program.
 */
#ifndef HOSTVISOR_TEST_X86_SYS_ENV_H
#define HOSTVISOR_TEST_X86_SYS_ENV_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"

#define MEM_SIZE (4u << 20)
#define GDT 0x1000u
#define IDT 0x2000u
#define TSS 0x3000u
#define LDT 0x4000u
#define STACK3 0x8000u
#define STACK0 0x9000u
#define STACK_IST 0xa000u
#define DATA 0xc000u
#define CODE 0x10000u

enum {
	SEL_CODE0 = 0x08,
	SEL_DATA0 = 0x10,
	SEL_CODE3 = 0x18,
	SEL_DATA3 = 0x20,
	SEL_CODE64_0 = 0x28,
	SEL_CODE64_3 = 0x30,
	SEL_TSS = 0x38, /* 16 bytes in IA-32e mode */
	SEL_CONF0 = 0x48,
	SEL_NP3 = 0x50,
	SEL_GATE = 0x58, /* 16 bytes in IA-32e mode */
	SEL_LDTD = 0x68, /* 16 bytes in IA-32e mode */
	SEL_RODATA3 = 0x78,
	SEL_XONLY3 = 0x80,
	SEL_CODE16_0 = 0x88,
	SEL_DATA1 = 0x90,
	SEL_CODE1 = 0x98,
	SEL_NPCODE0 = 0xa0,
};

struct env {
	uint8_t *mem;
	struct x86_cpu cpu;
	struct x86_mem_ops ops;
};

static int mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct env *e = opaque;

	if (addr >= MEM_SIZE || len > MEM_SIZE - addr)
		memset(buf, 0xff, len);
	else
		memcpy(buf, e->mem + addr, len);
	return 0;
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct env *e = opaque;

	if (addr < MEM_SIZE && len <= MEM_SIZE - addr)
		memcpy(e->mem + addr, buf, len);
	return 0;
}

static uint8_t *mem_page(void *opaque, uint64_t page)
{
	struct env *e = opaque;

	return page < MEM_SIZE ? e->mem + page : NULL;
}

#define ACC(dpl, type) (0x90u | ((dpl) << 5) | (type)) /* present code/data */
#define SYS(dpl, type) (0x80u | ((dpl) << 5) | (type)) /* present system */
#define F_G 0x8u
#define F_DB 0x4u
#define F_L 0x2u

static uint64_t seg_desc(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
	return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)flags << 52) | ((uint64_t)(base >> 24) << 56);
}

static uint64_t gate_lo(uint64_t off, uint16_t sel, unsigned access, unsigned extra)
{
	return (off & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)extra << 32) |
	       ((uint64_t)access << 40) | (((off >> 16) & 0xffff) << 48);
}

static void put64(struct env *e, uint64_t addr, uint64_t v)
{
	memcpy(e->mem + addr, &v, 8);
}

static void put32(struct env *e, uint64_t addr, uint32_t v)
{
	memcpy(e->mem + addr, &v, 4);
}

static void put16(struct env *e, uint64_t addr, uint16_t v)
{
	memcpy(e->mem + addr, &v, 2);
}

static uint64_t get64(struct env *e, uint64_t addr)
{
	uint64_t v;

	memcpy(&v, e->mem + addr, 8);
	return v;
}

static uint32_t get32(struct env *e, uint64_t addr)
{
	uint32_t v;

	memcpy(&v, e->mem + addr, 4);
	return v;
}

static uint16_t get16(struct env *e, uint64_t addr)
{
	uint16_t v;

	memcpy(&v, e->mem + addr, 2);
	return v;
}

static void gdt_set(struct env *e, uint16_t sel, uint64_t d)
{
	put64(e, GDT + (sel & ~7u), d);
}

static uint64_t gdt_get(struct env *e, uint16_t sel)
{
	return get64(e, GDT + (sel & ~7u));
}

/* The cache a correct segment load would produce (test-side decoding). */
static void cache(struct x86_segment *s, uint16_t sel, uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	if (d & (1ull << 55))
		limit = (limit << 12) | 0xfff;
	s->selector = sel;
	s->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	s->limit = limit;
	s->attr = (uint32_t)(((d >> 40) & 0xff) | ((d >> 44) & 0xf00));
}

static void load(struct env *e, int seg, uint16_t sel)
{
	cache(&e->cpu.seg[seg], sel, gdt_get(e, sel));
}

static void build_gdt(struct env *e, bool lm)
{
	memset(e->mem + GDT, 0, 0x100);
	gdt_set(e, SEL_CODE0, seg_desc(0, 0xfffff, ACC(0, 0xb), F_G | F_DB));
	gdt_set(e, SEL_DATA0, seg_desc(0, 0xfffff, ACC(0, 0x3), F_G | F_DB));
	gdt_set(e, SEL_CODE3, seg_desc(0, 0xfffff, ACC(3, 0xb), F_G | F_DB));
	gdt_set(e, SEL_DATA3, seg_desc(0, 0xfffff, ACC(3, 0x3), F_G | F_DB));
	gdt_set(e, SEL_CODE64_0, seg_desc(0, 0xfffff, ACC(0, 0xb), F_G | F_L));
	gdt_set(e, SEL_CODE64_3, seg_desc(0, 0xfffff, ACC(3, 0xb), F_G | F_L));
	gdt_set(e, SEL_TSS, seg_desc(TSS, lm ? 0x67 : 0x67, SYS(0, 0x9), 0));
	gdt_set(e, SEL_CONF0, seg_desc(0, 0xfffff, ACC(0, 0xf), F_G | F_DB));
	gdt_set(e, SEL_NP3, seg_desc(0, 0xfffff, ACC(3, 0x2) & ~0x80u, F_G | F_DB));
	gdt_set(e, SEL_LDTD, seg_desc(LDT, 0x1f, SYS(0, 0x2), 0));
	gdt_set(e, SEL_RODATA3, seg_desc(0, 0xfffff, ACC(3, 0x1), F_G | F_DB));
	gdt_set(e, SEL_XONLY3, seg_desc(0, 0xfffff, ACC(3, 0x9), F_G | F_DB));
	gdt_set(e, SEL_CODE16_0, seg_desc(0, 0xffff, ACC(0, 0xb), 0));
	gdt_set(e, SEL_DATA1, seg_desc(0, 0xfffff, ACC(1, 0x3), F_G | F_DB));
	gdt_set(e, SEL_CODE1, seg_desc(0, 0xfffff, ACC(1, 0xb), F_G | F_DB));
	gdt_set(e, SEL_NPCODE0, seg_desc(0, 0xfffff, ACC(0, 0xb) & ~0x80u, F_G | F_DB));
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->mem = calloc(1, MEM_SIZE);
	e->ops.read = mem_read;
	e->ops.write = mem_write;
	e->ops.ram_page = mem_page;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	free(e->mem);
	free(e);
	return 0;
}

/* 32-bit protected mode (no paging) at cpl, flat segments, a 32-bit TSS with SS0:ESP0. */
static void prot32(struct env *e, unsigned cpl)
{
	struct x86_cpu *c = &e->cpu;

	x86_cpu_init(c);
	c->efer = 0;
	c->cr4 = 0;
	c->cr0 = 0x11 | 0x20; /* PE ET NE */
	build_gdt(e, false);
	c->gdtr.base = GDT;
	c->gdtr.limit = 0xff;
	c->idtr.base = IDT;
	c->idtr.limit = 0x7ff;
	load(e, X86_SEG_CS, cpl ? SEL_CODE3 | 3 : SEL_CODE0);
	for (int s = 0; s < 6; s++)
		if (s != X86_SEG_CS)
			load(e, s, cpl ? SEL_DATA3 | 3 : SEL_DATA0);
	c->cpl = (uint8_t)cpl;
	put32(e, TSS + 4, STACK0);
	put32(e, TSS + 8, SEL_DATA0);
	cache(&c->tr, SEL_TSS, gdt_get(e, SEL_TSS) | (2ull << 40)); /* busy */
	c->ldtr.attr = 0x10000;
	c->gpr[4] = cpl ? STACK3 : STACK0;
	x86_update_mode(c);
}

/* 64-bit mode at cpl with a 64-bit TSS (RSP0, IST1). */
static void long64(struct env *e, unsigned cpl)
{
	struct x86_cpu *c = &e->cpu;

	x86_cpu_init(c);
	build_gdt(e, true);
	put64(e, GDT + SEL_TSS + 8, 0);
	c->cr0 = 0x11 | 0x20;
	c->gdtr.base = GDT;
	c->gdtr.limit = 0xff;
	c->idtr.base = IDT;
	c->idtr.limit = 0xfff;
	load(e, X86_SEG_CS, cpl ? SEL_CODE64_3 | 3 : SEL_CODE64_0);
	for (int s = 0; s < 6; s++)
		if (s != X86_SEG_CS)
			load(e, s, cpl ? SEL_DATA3 | 3 : SEL_DATA0);
	c->cpl = (uint8_t)cpl;
	put64(e, TSS + 4, STACK0);
	put64(e, TSS + 0x24, STACK_IST);
	cache(&c->tr, SEL_TSS, gdt_get(e, SEL_TSS) | (2ull << 40));
	c->ldtr.attr = 0x10000;
	c->gpr[4] = cpl ? STACK3 : STACK0;
	x86_update_mode(c);
}

/* Real mode with CS = CODE >> 4, IP 0, SS:SP = 0:STACK0, DS = 0. */
static void real_mode(struct env *e)
{
	struct x86_cpu *c = &e->cpu;

	x86_cpu_reset(c);
	c->seg[X86_SEG_CS].selector = CODE >> 4;
	c->seg[X86_SEG_CS].base = CODE;
	for (int s = 0; s < 6; s++) {
		if (s == X86_SEG_CS)
			continue;
		c->seg[s].selector = 0;
		c->seg[s].base = 0;
	}
	c->rip = 0;
	c->gpr[4] = STACK0;
	c->idtr.base = 0;
	c->idtr.limit = 0x3ff;
	x86_update_mode(c);
}

/* Runs one instruction placed at linear address CODE (CS base 0 except in real mode). */
static int run(struct env *e, const uint8_t *code, size_t len)
{
	memcpy(e->mem + CODE, code, len);
	if (e->cpu.seg[X86_SEG_CS].base == 0)
		e->cpu.rip = CODE;
	else
		e->cpu.rip = CODE - e->cpu.seg[X86_SEG_CS].base;
	return x86_step(&e->cpu, &e->ops, e);
}

#define RUN(e, ...)                                                                                \
	({                                                                                         \
		static const uint8_t code_[] = {__VA_ARGS__};                                      \
		run(e, code_, sizeof(code_));                                                      \
	})

#endif
