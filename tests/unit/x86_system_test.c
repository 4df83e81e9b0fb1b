/*
 * Unit tests for the emu CPU's system unit (src/emu/exec_system.c, msr.c, cpuid.c): control
 * and debug register writes with every #GP rule of SDM vol. 3A 2.5 / MOV CRn, the long-mode
 * activation sequence of SDM 9.8.5, TLB invalidation (observed as dropped TLB entries), MSRs,
 * CPUID values, RDTSC from a fake clock, the TSS I/O permission bitmap, REP INS/OUTS bounding,
 * HLT/CLI/STI privilege rules. Instructions are decoded and run with x86_execute, so that a
 * test can run in any mode without code fetch through paging.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"
#include "hostvisor/x86_decode.h"
#include "hostvisor/x86_mmu.h"

#define RAM_SIZE (1u << 20)
#define CODE_ADDR 0x1000u
#define DATA_ADDR 0x4000u
#define TSS_ADDR 0x8000u
#define TSS_IOMAP 0x68u
#define MAX_PIO 8192

#define MSR_TSC 0x10u
#define MSR_APIC_BASE 0x1bu
#define MSR_FEATURE_CONTROL 0x3au
#define MSR_UCODE_REV 0x8bu
#define MSR_MISC_ENABLE 0x1a0u
#define MSR_DEBUGCTL 0x1d9u
#define MSR_PAT 0x277u
#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_FMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_SYSENTER_CS 0x174u

struct pio_rec {
	uint16_t port;
	uint8_t size;
	bool out;
	uint32_t val;
};

struct tctx {
	struct x86_cpu cpu;
	struct x86_mem_ops ops;
	uint8_t ram[RAM_SIZE];
	uint64_t clock;
	uint64_t cr8;
	unsigned cr8_writes;
	uint64_t apic_base;
	unsigned npio;
	struct pio_rec pio[MAX_PIO];
	uint32_t pio_next;
};

static int t_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct tctx *t = opaque;

	if (addr >= RAM_SIZE || len > RAM_SIZE - addr)
		return X86_EXC_GP;
	memcpy(buf, &t->ram[addr], len);
	return 0;
}

static int t_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct tctx *t = opaque;

	if (addr >= RAM_SIZE || len > RAM_SIZE - addr)
		return X86_EXC_GP;
	memcpy(&t->ram[addr], buf, len);
	return 0;
}

static int t_pio_in(void *opaque, uint16_t port, unsigned size, uint32_t *val)
{
	struct tctx *t = opaque;

	*val = t->pio_next++ & (uint32_t)((1ull << (8 * size)) - 1);
	if (t->npio < MAX_PIO)
		t->pio[t->npio++] = (struct pio_rec){port, (uint8_t)size, false, *val};
	return 0;
}

static int t_pio_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct tctx *t = opaque;

	if (t->npio < MAX_PIO)
		t->pio[t->npio++] = (struct pio_rec){port, (uint8_t)size, true, val};
	return 0;
}

static int t_rdmsr(void *opaque, uint32_t msr, uint64_t *val)
{
	struct tctx *t = opaque;

	if (msr != MSR_APIC_BASE)
		return X86_EXC_GP;
	*val = t->apic_base;
	return 0;
}

static int t_wrmsr(void *opaque, uint32_t msr, uint64_t val)
{
	struct tctx *t = opaque;

	if (msr != MSR_APIC_BASE)
		return X86_EXC_GP;
	t->apic_base = val;
	return 0;
}

static uint64_t t_cr8_read(void *opaque)
{
	return ((struct tctx *)opaque)->cr8;
}

static void t_cr8_write(void *opaque, uint64_t val)
{
	struct tctx *t = opaque;

	t->cr8 = val;
	t->cr8_writes++;
}

static uint64_t t_clock(void *opaque)
{
	return ((struct tctx *)opaque)->clock;
}

/* 64-bit kernel mode: CPL 0, flat segments. CR0.PG stays clear as in x86_cpu_init, so that
 * memory operands are physical addresses without page tables. */
static void kernel64(struct tctx *t)
{
	struct x86_cpu *c = &t->cpu;

	x86_cpu_init(c);
	for (int s = 0; s < X86_SEG_NONE; s++)
		c->seg[s].attr &= ~X86_SEGA_DPL;
	c->seg[X86_SEG_CS].selector = 0x10;
	c->seg[X86_SEG_SS].selector = 0x18;
	c->cpl = 0;
	c->tr.base = TSS_ADDR;
	c->tr.limit = 0x67;
	c->tr.attr = X86_SEGA_P | 0xb;
	x86_update_mode(c);
	c->rip = CODE_ADDR;
}

static void user64(struct tctx *t)
{
	kernel64(t);
	t->cpu.cpl = 3;
	t->cpu.seg[X86_SEG_CS].attr |= X86_SEGA_DPL;
}

/* 32-bit protected mode, paging off, CPL 0. */
static void prot32(struct tctx *t)
{
	struct x86_cpu *c = &t->cpu;

	x86_cpu_init(c);
	c->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	c->cr4 = 0;
	c->efer = 0;
	for (int s = 0; s < X86_SEG_NONE; s++)
		c->seg[s].attr &= ~X86_SEGA_DPL;
	c->seg[X86_SEG_CS].attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_DB | 0xb;
	c->cpl = 0;
	x86_update_mode(c);
	c->rip = CODE_ADDR;
}

static void real16(struct tctx *t)
{
	x86_cpu_reset(&t->cpu);
	t->cpu.seg[X86_SEG_CS].base = 0;
	t->cpu.seg[X86_SEG_CS].selector = 0;
	t->cpu.rip = CODE_ADDR;
}

static int setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->ops = (struct x86_mem_ops){
	    .read = t_read,
	    .write = t_write,
	    .pio_in = t_pio_in,
	    .pio_out = t_pio_out,
	    .rdmsr = t_rdmsr,
	    .wrmsr = t_wrmsr,
	    .cr8_read = t_cr8_read,
	    .cr8_write = t_cr8_write,
	    .clock_ns = t_clock,
	};
	t->apic_base = 0xfee00900;
	kernel64(t);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Decodes bytes in the current mode and executes them at cpu.rip. */
static int exec_bytes(struct tctx *t, const uint8_t *b, size_t n)
{
	struct x86_insn in;
	int len = x86_decode(b, n, t->cpu.mode, &in);

	assert_int_equal(len, (int)n);
	return x86_execute(&t->cpu, &t->ops, t, &in);
}

#define EXEC(t, ...)                                                                               \
	exec_bytes((t), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

/* RCX = msr, EDX:EAX = val, WRMSR */
static int wrmsr(struct tctx *t, uint32_t msr, uint64_t val)
{
	t->cpu.gpr[X86_RCX] = msr;
	t->cpu.gpr[X86_RAX] = val & 0xffffffff;
	t->cpu.gpr[X86_RDX] = val >> 32;
	return EXEC(t, 0x0f, 0x30);
}

static int rdmsr(struct tctx *t, uint32_t msr, uint64_t *val)
{
	int rc;

	t->cpu.gpr[X86_RCX] = msr;
	t->cpu.gpr[X86_RAX] = 0xdeadbeefdeadbeefull;
	t->cpu.gpr[X86_RDX] = 0xdeadbeefdeadbeefull;
	rc = EXEC(t, 0x0f, 0x32);
	if (rc == 0) {
		assert_int_equal(t->cpu.gpr[X86_RAX] >> 32, 0);
		assert_int_equal(t->cpu.gpr[X86_RDX] >> 32, 0);
		*val = t->cpu.gpr[X86_RAX] | t->cpu.gpr[X86_RDX] << 32;
	}
	return rc;
}

static int mov_cr(struct tctx *t, unsigned cr, uint64_t val)
{
	uint8_t rex = 0x48 | (cr >= 8 ? 0x04 : 0);

	t->cpu.gpr[X86_RAX] = val;
	if (t->cpu.mode != X86_MODE_LONG64)
		return EXEC(t, 0x0f, 0x22, (uint8_t)(0xc0 | (cr & 7) << 3));
	return EXEC(t, rex, 0x0f, 0x22, (uint8_t)(0xc0 | (cr & 7) << 3));
}

static void cpuid(const struct x86_cpu *c, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	x86_cpuid(c, leaf, sub, r);
}

static void assert_regs4(const uint32_t r[4], uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	assert_int_equal(r[0], a);
	assert_int_equal(r[1], b);
	assert_int_equal(r[2], c);
	assert_int_equal(r[3], d);
}

/* ---- CPUID ---- */

static void test_cpuid_values(void **state)
{
	struct tctx *t = *state;
	uint32_t r[4];
	char s[49] = {0};

	t->cpu.apic_id = 5;
	cpuid(&t->cpu, 0, 0, r);
	assert_int_equal(r[0], 7);
	memcpy(s, &r[1], 4);
	memcpy(s + 4, &r[3], 4);
	memcpy(s + 8, &r[2], 4);
	assert_string_equal(s, "GenuineIntel");
	cpuid(&t->cpu, 1, 0, r);
	/* family 6 model 0x1c stepping 10; APIC ID 5, 1 logical CPU, 64-byte CLFLUSH lines;
	 * hypervisor; FPU PSE TSC MSR PAE CX8 APIC PGE CMOV PAT CLFSH MMX FXSR SSE SSE2 */
	assert_regs4(r, 0x000106ca, 0x05010800, 0x80000000u, 0x0789a379);
	cpuid(&t->cpu, 7, 0, r);
	assert_regs4(r, 0, 0, 0, 0);
	cpuid(&t->cpu, 2, 0, r);
	assert_int_equal(r[0] & 0xff, 1);
	cpuid(&t->cpu, 4, 0, r);
	assert_int_equal(r[0] & 0x1f, 1); /* L1 data */
	assert_int_equal((r[1] >> 22) + 1, 6);
	assert_int_equal(((r[1] >> 22) + 1) * ((r[1] & 0xfff) + 1) * (r[2] + 1), 24 * 1024);
	cpuid(&t->cpu, 4, 2, r);
	assert_int_equal(r[0] & 0x1f, 3);
	assert_int_equal(((r[1] >> 22) + 1) * ((r[1] & 0xfff) + 1) * (r[2] + 1), 512 * 1024);
	assert_int_equal((r[0] >> 26) & 0x3f, 0);
	cpuid(&t->cpu, 4, 3, r);
	assert_int_equal(r[0] & 0x1f, 0);
	cpuid(&t->cpu, 0x80000000u, 0, r);
	assert_int_equal(r[0], 0x80000008u);
	cpuid(&t->cpu, 0x80000001u, 0, r);
	assert_regs4(r, 0, 0, 0, (1u << 11) | (1u << 20) | (1u << 29));
	for (uint32_t l = 0; l < 3; l++) {
		cpuid(&t->cpu, 0x80000002u + l, 0, r);
		memcpy(s + 16 * l, r, 16);
	}
	assert_string_equal(s, "hostvisor emu CPU");
	cpuid(&t->cpu, 0x80000006u, 0, r);
	assert_int_equal(r[2] >> 16, 512);
	assert_int_equal(r[2] & 0xff, 64);
	cpuid(&t->cpu, 0x80000008u, 0, r);
	assert_int_equal(r[0], 0x3028);
	cpuid(&t->cpu, 0x40000000u, 0, r);
	assert_int_equal(r[0], 0x40000001u);
	memcpy(s, &r[1], 4);
	memcpy(s + 4, &r[2], 4);
	memcpy(s + 8, &r[3], 4);
	assert_memory_equal(s, "KVMKVMKVM\0\0\0", 12);
	cpuid(&t->cpu, 0x40000001u, 0, r);
	assert_regs4(r, (1u << 3) | (1u << 24), 0, 0, 0);
	/* beyond every range: the highest basic leaf (7: zeros) */
	cpuid(&t->cpu, 0x40000100u, 0, r);
	assert_regs4(r, 0, 0, 0, 0);
	cpuid(&t->cpu, 0x80000009u, 0, r);
	assert_regs4(r, 0, 0, 0, 0);
	cpuid(&t->cpu, 0x12345678u, 0, r);
	assert_regs4(r, 0, 0, 0, 0);
	/* after RESET, EDX holds the signature (SDM 9.1.4) and MISC_ENABLE its default */
	x86_cpu_reset(&t->cpu);
	assert_int_equal(t->cpu.gpr[X86_RDX], 0x000106ca);
	assert_int_equal(t->cpu.msr.misc_enable, X86_MISC_ENABLE_RESET);
	assert_int_equal(t->cpu.apic_id, 5);
}

static void test_cpuid_instruction_cpl3(void **state)
{
	struct tctx *t = *state;

	user64(t);
	t->cpu.gpr[X86_RAX] = 0xffffffff00000001ull;
	t->cpu.gpr[X86_RBX] = t->cpu.gpr[X86_RCX] = t->cpu.gpr[X86_RDX] = ~0ull;
	assert_int_equal(EXEC(t, 0x0f, 0xa2), 0);
	assert_int_equal(t->cpu.gpr[X86_RAX], 0x106ca);
	assert_int_equal(t->cpu.gpr[X86_RCX], 0x80000000u);
	assert_int_equal(t->cpu.gpr[X86_RDX], 0x0789a379);
	assert_int_equal(t->cpu.rip, CODE_ADDR + 2);
}

static void test_cpuid_limit_by_misc_enable(void **state)
{
	struct tctx *t = *state;
	uint64_t v;
	uint32_t r[4];

	assert_int_equal(rdmsr(t, MSR_MISC_ENABLE, &v), 0);
	assert_int_equal(v, X86_MISC_ENABLE_RESET);
	assert_int_equal(wrmsr(t, MSR_MISC_ENABLE, v | X86_MISC_ENABLE_LIMIT_CPUID), 0);
	cpuid(&t->cpu, 0, 0, r);
	assert_int_equal(r[0], 2);
	cpuid(&t->cpu, 7, 0, r); /* above the limit: leaf 2's data */
	assert_int_equal(r[0] & 0xff, 1);
	assert_int_equal(wrmsr(t, MSR_MISC_ENABLE, v), 0);
	cpuid(&t->cpu, 0, 0, r);
	assert_int_equal(r[0], 7);
}

/* ---- control registers ---- */

static void test_cr_cpl3_gp(void **state)
{
	struct tctx *t = *state;
	struct x86_cpu before;

	user64(t);
	before = t->cpu;
	t->cpu.gpr[X86_RAX] = 0x1234;
	assert_int_equal(EXEC(t, 0x0f, 0x20, 0xc0), X86_EXC_GP); /* mov rax, cr0 */
	assert_int_equal(t->cpu.gpr[X86_RAX], 0x1234);
	assert_int_equal(mov_cr(t, 0, before.cr0 & ~X86_CR0_WP), X86_EXC_GP);
	assert_int_equal(mov_cr(t, 3, 0x5000), X86_EXC_GP);
	assert_int_equal(t->cpu.cr0, before.cr0);
	assert_int_equal(t->cpu.cr3, before.cr3);
	assert_int_equal(EXEC(t, 0x0f, 0x06), X86_EXC_GP);	 /* clts */
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0xf0), X86_EXC_GP); /* lmsw ax */
	assert_int_equal(t->cpu.rip, CODE_ADDR);
}

static void test_cr0_rules(void **state)
{
	struct tctx *t = *state;
	uint64_t cr0;

	prot32(t);
	cr0 = t->cpu.cr0;
	assert_int_equal(mov_cr(t, 0, X86_CR0_PG | X86_CR0_ET), X86_EXC_GP); /* PG without PE */
	assert_int_equal(mov_cr(t, 0, cr0 | X86_CR0_NW), X86_EXC_GP);	     /* NW without CD */
	assert_int_equal(t->cpu.cr0, cr0);
	assert_int_equal(mov_cr(t, 0, cr0 | X86_CR0_NW | X86_CR0_CD), 0);
	/* reserved bits of CR0[31:0] are ignored, ET reads 1 */
	assert_int_equal(mov_cr(t, 0, X86_CR0_PE | 0x1ffaffc0u), 0);
	assert_int_equal(t->cpu.cr0, X86_CR0_PE | X86_CR0_ET);
	/* clearing PE goes to real mode */
	assert_int_equal(mov_cr(t, 0, X86_CR0_ET), 0);
	assert_int_equal(t->cpu.mode, X86_MODE_REAL16);
	assert_int_equal(mov_cr(t, 0, X86_CR0_ET | X86_CR0_PE), 0);
	assert_int_equal(t->cpu.mode, X86_MODE_PROT32);
	/* 64-bit mode: bits 63:32 must be zero */
	kernel64(t);
	cr0 = t->cpu.cr0;
	assert_int_equal(mov_cr(t, 0, cr0 | (1ull << 32)), X86_EXC_GP);
	assert_int_equal(mov_cr(t, 0, cr0 | X86_CR0_TS | X86_CR0_MP), 0);
	assert_int_equal(t->cpu.cr0, cr0 | X86_CR0_TS | X86_CR0_MP);
	assert_int_equal(EXEC(t, 0x0f, 0x20, 0xc0), 0);
	assert_int_equal(t->cpu.gpr[X86_RAX], cr0 | X86_CR0_TS | X86_CR0_MP);
	assert_int_equal(EXEC(t, 0x0f, 0x06), 0); /* clts */
	assert_int_equal(t->cpu.cr0, cr0 | X86_CR0_MP);
	/* clearing PG in 64-bit mode */
	t->cpu.cr0 |= X86_CR0_PG;
	assert_int_equal(mov_cr(t, 0, cr0 & ~X86_CR0_PG), X86_EXC_GP);
	assert_true(t->cpu.cr0 & X86_CR0_PG);
}

static void test_cr4_rules(void **state)
{
	struct tctx *t = *state;
	static const unsigned reserved[] = {0,	1,  3,	6,  11, 12, 13, 14,
					    16, 17, 18, 20, 21, 22, 23, 63};
	uint64_t cr4 = t->cpu.cr4;

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		assert_int_equal(mov_cr(t, 4, cr4 | 1ull << reserved[i]), X86_EXC_GP);
		assert_int_equal(t->cpu.cr4, cr4);
	}
	/* every supported bit */
	cr4 = X86_CR4_TSD | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_PCE | X86_CR4_OSFXSR |
	      X86_CR4_OSXMMEXCPT;
	assert_int_equal(mov_cr(t, 4, cr4), 0);
	assert_int_equal(t->cpu.cr4, cr4);
	/* PAE cannot be cleared while long mode is active */
	assert_int_equal(mov_cr(t, 4, cr4 & ~X86_CR4_PAE), X86_EXC_GP);
	assert_int_equal(t->cpu.cr4, cr4);
	assert_int_equal(EXEC(t, 0x0f, 0x20, 0xe0), 0); /* mov rax, cr4 */
	assert_int_equal(t->cpu.gpr[X86_RAX], cr4);
	/* outside long mode PAE may go */
	prot32(t);
	assert_int_equal(mov_cr(t, 4, X86_CR4_PAE), 0);
	assert_int_equal(mov_cr(t, 4, 0), 0);
}

static void test_cr2_cr3_cr8(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(mov_cr(t, 2, 0xffff800012345678ull), 0);
	assert_int_equal(t->cpu.cr2, 0xffff800012345678ull);
	assert_int_equal(mov_cr(t, 3, 0xff00001000ull), 0); /* bit 39: within 40 bits */
	assert_int_equal(t->cpu.cr3, 0xff00001000ull);
	assert_int_equal(mov_cr(t, 3, 1ull << 40), X86_EXC_GP);
	assert_int_equal(mov_cr(t, 3, 1ull << 63), X86_EXC_GP); /* no PCIDE: reserved */
	assert_int_equal(t->cpu.cr3, 0xff00001000ull);
	assert_int_equal(mov_cr(t, 8, 0x10), X86_EXC_GP);
	assert_int_equal(t->cr8_writes, 0);
	assert_int_equal(mov_cr(t, 8, 0xa), 0);
	assert_int_equal(t->cr8, 0xa);
	t->cr8 = 7;
	assert_int_equal(EXEC(t, 0x44, 0x0f, 0x20, 0xc1), 0); /* mov rcx, cr8 */
	assert_int_equal(t->cpu.gpr[X86_RCX], 7);
	/* 32-bit mode: a 32-bit CR3 */
	prot32(t);
	assert_int_equal(mov_cr(t, 3, 0xfffff018u), 0);
	assert_int_equal(t->cpu.cr3, 0xfffff018u);
	/* CR1 does not exist (and CR8 needs REX, so 64-bit mode) */
	{
		struct x86_insn in;

		assert_int_equal(
		    x86_decode((const uint8_t[]){0x0f, 0x22, 0xc8}, 3, X86_MODE_PROT32, &in),
		    X86_DECODE_UD);
	}
}

/* SDM 9.8.5: PAE, EFER.LME, then CR0.PG; LMA follows. And back (9.8.5.4). */
static void test_long_mode_activation(void **state)
{
	struct tctx *t = *state;
	uint64_t efer;

	prot32(t);
	/* PG with LME but without PAE */
	assert_int_equal(wrmsr(t, MSR_EFER, X86_EFER_LME), 0);
	assert_int_equal(mov_cr(t, 0, t->cpu.cr0 | X86_CR0_PG), X86_EXC_GP);
	assert_int_equal(t->cpu.efer & X86_EFER_LMA, 0);
	/* CS.L set at activation */
	assert_int_equal(mov_cr(t, 4, X86_CR4_PAE), 0);
	t->cpu.seg[X86_SEG_CS].attr |= X86_SEGA_L;
	t->cpu.seg[X86_SEG_CS].attr &= ~X86_SEGA_DB;
	assert_int_equal(mov_cr(t, 0, t->cpu.cr0 | X86_CR0_PG), X86_EXC_GP);
	t->cpu.seg[X86_SEG_CS].attr &= ~X86_SEGA_L;
	t->cpu.seg[X86_SEG_CS].attr |= X86_SEGA_DB;
	assert_int_equal(t->cpu.cr0 & X86_CR0_PG, 0);
	/* the real thing */
	assert_int_equal(mov_cr(t, 0, t->cpu.cr0 | X86_CR0_PG), 0);
	assert_true(t->cpu.efer & X86_EFER_LMA);
	assert_true(t->cpu.cr0 & X86_CR0_PG);
	assert_int_equal(t->cpu.mode, X86_MODE_PROT32); /* compatibility mode until a far jump */
	/* LME cannot change while paging is on; LMA is not writable */
	assert_int_equal(wrmsr(t, MSR_EFER, 0), X86_EXC_GP);
	assert_int_equal(rdmsr(t, MSR_EFER, &efer), 0);
	assert_int_equal(efer, X86_EFER_LME | X86_EFER_LMA);
	assert_int_equal(wrmsr(t, MSR_EFER, X86_EFER_LME | X86_EFER_NXE | X86_EFER_SCE), 0);
	assert_int_equal(t->cpu.efer, X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE | X86_EFER_SCE);
	/* a 64-bit CS now gives 64-bit mode */
	t->cpu.seg[X86_SEG_CS].attr |= X86_SEGA_L;
	t->cpu.seg[X86_SEG_CS].attr &= ~X86_SEGA_DB;
	x86_update_mode(&t->cpu);
	assert_int_equal(t->cpu.mode, X86_MODE_LONG64);
	/* leaving: not from 64-bit mode */
	assert_int_equal(mov_cr(t, 0, t->cpu.cr0 & ~X86_CR0_PG), X86_EXC_GP);
	assert_true(t->cpu.efer & X86_EFER_LMA);
	/* from compatibility mode: LMA clears */
	t->cpu.seg[X86_SEG_CS].attr &= ~X86_SEGA_L;
	t->cpu.seg[X86_SEG_CS].attr |= X86_SEGA_DB;
	x86_update_mode(&t->cpu);
	assert_int_equal(mov_cr(t, 0, t->cpu.cr0 & ~X86_CR0_PG), 0);
	assert_int_equal(t->cpu.efer & X86_EFER_LMA, 0);
	assert_int_equal(t->cpu.mode, X86_MODE_PROT32);
	/* LME may change again with paging off */
	assert_int_equal(wrmsr(t, MSR_EFER, 0), 0);
	assert_int_equal(t->cpu.efer, 0);
	/* legacy paging without LME: no LMA */
	assert_int_equal(mov_cr(t, 0, t->cpu.cr0 | X86_CR0_PG), 0);
	assert_int_equal(t->cpu.efer & X86_EFER_LMA, 0);
}

/* ---- TLB invalidation, seen as dropped entries ---- */

static void tlb_fill(struct x86_cpu *c, uint64_t page)
{
	for (int k = 0; k < 3; k++)
		for (int u = 0; u < 2; u++)
			for (unsigned i = 0; i < X86_TLB_SIZE; i++)
				c->tlb.set[k][u][i] = (struct x86_tlb_entry){
				    .tag = (page & ~0xfffull) | 1, .phys = page};
}

static unsigned tlb_live(const struct x86_cpu *c)
{
	unsigned n = 0;

	for (int k = 0; k < 3; k++)
		for (int u = 0; u < 2; u++)
			for (unsigned i = 0; i < X86_TLB_SIZE; i++)
				n += c->tlb.set[k][u][i].tag != 0;
	return n;
}

#define TLB_ALL (2u * 3u * X86_TLB_SIZE)

static void test_tlb_flushes(void **state)
{
	struct tctx *t = *state;
	uint64_t cr0 = t->cpu.cr0, cr4 = t->cpu.cr4;

	tlb_fill(&t->cpu, 0x7000);
	assert_int_equal(mov_cr(t, 3, 0x2000), 0);
	assert_int_equal(tlb_live(&t->cpu), 0);
	tlb_fill(&t->cpu, 0x7000);
	assert_int_equal(mov_cr(t, 4, cr4 ^ X86_CR4_OSXMMEXCPT), 0); /* no paging bit */
	assert_int_equal(tlb_live(&t->cpu), TLB_ALL);
	assert_int_equal(mov_cr(t, 4, cr4 | X86_CR4_PGE), 0);
	assert_int_equal(tlb_live(&t->cpu), 0);
	tlb_fill(&t->cpu, 0x7000);
	assert_int_equal(mov_cr(t, 4, cr4 | X86_CR4_PGE | X86_CR4_PSE), 0);
	assert_int_equal(tlb_live(&t->cpu), 0);
	tlb_fill(&t->cpu, 0x7000);
	assert_int_equal(mov_cr(t, 0, cr0 | X86_CR0_TS), 0); /* no paging bit */
	assert_int_equal(tlb_live(&t->cpu), TLB_ALL);
	assert_int_equal(mov_cr(t, 0, cr0 | X86_CR0_WP), 0);
	assert_int_equal(tlb_live(&t->cpu), 0);
	tlb_fill(&t->cpu, 0x7000);
	assert_int_equal(wrmsr(t, MSR_EFER, t->cpu.efer & ~X86_EFER_NXE), 0);
	assert_int_equal(tlb_live(&t->cpu), 0);
	tlb_fill(&t->cpu, 0x7000);
	assert_int_equal(wrmsr(t, MSR_EFER, t->cpu.efer), 0); /* unchanged: no flush */
	assert_int_equal(tlb_live(&t->cpu), TLB_ALL);
	/* INVLPG drops (at least) that page */
	t->cpu.gpr[X86_RBX] = 0x7123;
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0x3b), 0);
	assert_true(tlb_live(&t->cpu) < TLB_ALL);
	user64(t);
	tlb_fill(&t->cpu, 0x7000);
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0x3b), X86_EXC_GP);
	assert_int_equal(tlb_live(&t->cpu), TLB_ALL);
}

/* ---- LMSW, SMSW ---- */

static void test_lmsw_smsw(void **state)
{
	struct tctx *t = *state;

	real16(t);
	t->cpu.cr0 = X86_CR0_ET;
	t->cpu.gpr[X86_RAX] = 0xfff1; /* PE; the upper bits are ignored */
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0xf0), 0);
	assert_int_equal(t->cpu.cr0, X86_CR0_ET | X86_CR0_PE);
	assert_int_equal(t->cpu.mode, X86_MODE_PROT16);
	t->cpu.cpl = 0;
	t->cpu.gpr[X86_RAX] = 0xe; /* MP EM TS, and no PE: PE stays */
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0xf0), 0);
	assert_int_equal(t->cpu.cr0, X86_CR0_ET | X86_CR0_PE | 0xe);
	kernel64(t);
	t->cpu.gpr[X86_RAX] = ~0ull;
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0xe0), 0); /* smsw eax */
	assert_int_equal(t->cpu.gpr[X86_RAX], t->cpu.cr0);
	t->cpu.gpr[X86_RAX] = ~0ull;
	assert_int_equal(EXEC(t, 0x66, 0x0f, 0x01, 0xe0), 0); /* smsw ax */
	assert_int_equal(t->cpu.gpr[X86_RAX], 0xffffffffffff0000ull | (t->cpu.cr0 & 0xffff));
	t->cpu.gpr[X86_RBX] = DATA_ADDR;
	memset(&t->ram[DATA_ADDR], 0xee, 4);
	user64(t); /* SMSW is not privileged (no UMIP) */
	t->cpu.gpr[X86_RBX] = DATA_ADDR;
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0x23), 0); /* smsw [rbx] */
	assert_int_equal(t->ram[DATA_ADDR] | t->ram[DATA_ADDR + 1] << 8, t->cpu.cr0 & 0xffff);
	assert_int_equal(t->ram[DATA_ADDR + 2], 0xee);
}

/* ---- debug registers ---- */

static void test_debug_registers(void **state)
{
	struct tctx *t = *state;

	t->cpu.dr[6] = 0xffff0ff0;
	t->cpu.dr[7] = 0x400;
	t->cpu.gpr[X86_RAX] = 0xffff800000001000ull;
	assert_int_equal(EXEC(t, 0x0f, 0x23, 0xc0), 0); /* mov dr0, rax */
	assert_int_equal(t->cpu.dr[0], 0xffff800000001000ull);
	t->cpu.gpr[X86_RAX] = 0xffffdfff;
	assert_int_equal(EXEC(t, 0x0f, 0x23, 0xf8), 0); /* mov dr7, rax: reserved bits fixed */
	assert_int_equal(t->cpu.dr[7], 0xffff07ffull);
	t->cpu.gpr[X86_RAX] = 0;
	assert_int_equal(EXEC(t, 0x0f, 0x23, 0xf8), 0);
	assert_int_equal(t->cpu.dr[7], 0x400);
	t->cpu.gpr[X86_RAX] = 1ull << 32;
	assert_int_equal(EXEC(t, 0x0f, 0x23, 0xf0), X86_EXC_GP); /* dr6 bits 63:32 */
	t->cpu.gpr[X86_RAX] = 0x0000400f;
	assert_int_equal(EXEC(t, 0x0f, 0x23, 0xe8), 0); /* mov dr5 = dr7 */
	assert_int_equal(t->cpu.dr[7], 0x40f);
	assert_int_equal(EXEC(t, 0x0f, 0x23, 0xe0), 0); /* mov dr4 = dr6 */
	assert_int_equal(t->cpu.dr[6], 0xffff4fffull);
	assert_int_equal(EXEC(t, 0x0f, 0x21, 0xe1), 0); /* mov rcx, dr4 */
	assert_int_equal(t->cpu.gpr[X86_RCX], 0xffff4fffull);
	/* GD: any access is a #DB with BD */
	t->cpu.dr[7] |= 1u << 13;
	t->cpu.dr[6] = 0xffff0ff0;
	assert_int_equal(EXEC(t, 0x0f, 0x21, 0xc1), X86_EXC_DB);
	assert_true(t->cpu.dr[6] & (1u << 13));
	assert_int_equal(t->cpu.dr[7] & (1u << 13), 0);
	assert_int_equal(EXEC(t, 0x0f, 0x21, 0xc1), 0);
	user64(t);
	assert_int_equal(EXEC(t, 0x0f, 0x21, 0xc1), X86_EXC_GP);
}

/* ---- MSRs ---- */

static void test_msr_syscall_and_bases(void **state)
{
	struct tctx *t = *state;
	static const uint32_t canon[] = {MSR_LSTAR, MSR_CSTAR, MSR_FS_BASE, MSR_GS_BASE,
					 MSR_KERNEL_GS_BASE};
	uint64_t v;

	for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
		assert_int_equal(wrmsr(t, canon[i], 0xffff800012345678ull), 0);
		assert_int_equal(rdmsr(t, canon[i], &v), 0);
		assert_int_equal(v, 0xffff800012345678ull);
		assert_int_equal(wrmsr(t, canon[i], 0x0000800000000000ull), X86_EXC_GP);
		assert_int_equal(wrmsr(t, canon[i], 0xfff0000000000000ull), X86_EXC_GP);
		assert_int_equal(rdmsr(t, canon[i], &v), 0);
		assert_int_equal(v, 0xffff800012345678ull);
	}
	assert_int_equal(t->cpu.seg[X86_SEG_FS].base, 0xffff800012345678ull);
	assert_int_equal(wrmsr(t, MSR_STAR, 0x0023001000000000ull), 0);
	assert_int_equal(t->cpu.msr.star, 0x0023001000000000ull);
	assert_int_equal(wrmsr(t, MSR_FMASK, 0x47700), 0);
	assert_int_equal(t->cpu.msr.sfmask, 0x47700);
	assert_int_equal(wrmsr(t, MSR_FMASK, 1ull << 32), X86_EXC_GP);
	assert_int_equal(t->cpu.msr.sfmask, 0x47700);
	/* a faulting RDMSR leaves RAX/RDX */
	t->cpu.rip = CODE_ADDR;
	t->cpu.gpr[X86_RCX] = 0x12345;
	t->cpu.gpr[X86_RAX] = 1;
	t->cpu.gpr[X86_RDX] = 2;
	assert_int_equal(EXEC(t, 0x0f, 0x32), X86_EXC_GP);
	assert_int_equal(t->cpu.gpr[X86_RAX], 1);
	assert_int_equal(t->cpu.gpr[X86_RDX], 2);
	assert_int_equal(t->cpu.rip, CODE_ADDR);
}

static void test_msr_efer_pat_misc(void **state)
{
	struct tctx *t = *state;
	uint64_t v;

	assert_int_equal(wrmsr(t, MSR_EFER, t->cpu.efer | (1ull << 1)), X86_EXC_GP);
	assert_int_equal(wrmsr(t, MSR_EFER, t->cpu.efer | (1ull << 12)), X86_EXC_GP); /* SVME */
	assert_int_equal(wrmsr(t, MSR_EFER, t->cpu.efer | (1ull << 14)), X86_EXC_GP); /* FFXSR */
	assert_int_equal(rdmsr(t, MSR_PAT, &v), 0);
	assert_int_equal(v, 0x0007040600070406ull);
	assert_int_equal(wrmsr(t, MSR_PAT, 0x0007010600070106ull), 0);
	assert_int_equal(t->cpu.msr.pat, 0x0007010600070106ull);
	assert_int_equal(wrmsr(t, MSR_PAT, 0x0007040600070402ull), X86_EXC_GP);
	assert_int_equal(wrmsr(t, MSR_PAT, 0x0307040600070406ull), X86_EXC_GP);
	assert_int_equal(wrmsr(t, MSR_PAT, 0x0807040600070406ull), X86_EXC_GP);
	assert_int_equal(t->cpu.msr.pat, 0x0007010600070106ull);
	/* MISC_ENABLE: fast strings can go, BTS/PEBS unavailable stay, XD disable is refused */
	assert_int_equal(wrmsr(t, MSR_MISC_ENABLE, 0), 0);
	assert_int_equal(rdmsr(t, MSR_MISC_ENABLE, &v), 0);
	assert_int_equal(v, X86_MISC_ENABLE_BTS_UNAVAIL | X86_MISC_ENABLE_PEBS_UNAVAIL);
	assert_int_equal(wrmsr(t, MSR_MISC_ENABLE, v | 1ull << 34), X86_EXC_GP);
	assert_int_equal(wrmsr(t, MSR_MISC_ENABLE, v | 1ull << 18), X86_EXC_GP);
	/* the microcode revision (Linux: write 0, CPUID, read) */
	assert_int_equal(wrmsr(t, MSR_UCODE_REV, 0), 0);
	assert_int_equal(rdmsr(t, MSR_UCODE_REV, &v), 0);
	assert_int_equal(v & 0xffffffff, 0);
	assert_true(v >> 32);
	assert_int_equal(rdmsr(t, MSR_FEATURE_CONTROL, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(wrmsr(t, MSR_FEATURE_CONTROL, 5), X86_EXC_GP);
	assert_int_equal(rdmsr(t, MSR_DEBUGCTL, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(wrmsr(t, MSR_DEBUGCTL, 0), 0);
	assert_int_equal(wrmsr(t, MSR_DEBUGCTL, 2), X86_EXC_GP);
}

static void test_msr_outside_core(void **state)
{
	struct tctx *t = *state;
	uint64_t v;

	assert_int_equal(rdmsr(t, MSR_APIC_BASE, &v), 0);
	assert_int_equal(v, 0xfee00900);
	assert_int_equal(wrmsr(t, MSR_APIC_BASE, 0xfee00800), 0);
	assert_int_equal(t->apic_base, 0xfee00800);
	/* absent features and unknown MSRs */
	assert_int_equal(rdmsr(t, MSR_SYSENTER_CS, &v), X86_EXC_GP);
	assert_int_equal(rdmsr(t, 0xc0000103u, &v), X86_EXC_GP); /* TSC_AUX: no RDTSCP */
	assert_int_equal(rdmsr(t, 0xfe, &v), X86_EXC_GP);	 /* MTRRCAP: no MTRR */
	assert_int_equal(wrmsr(t, 0x48, 1), X86_EXC_GP);	 /* SPEC_CTRL */
	t->ops.rdmsr = NULL;
	t->ops.wrmsr = NULL;
	assert_int_equal(rdmsr(t, MSR_APIC_BASE, &v), X86_EXC_GP);
	assert_int_equal(wrmsr(t, MSR_APIC_BASE, 0), X86_EXC_GP);
	assert_int_equal(rdmsr(t, MSR_STAR, &v), 0);
	/* CPL 3 */
	user64(t);
	assert_int_equal(rdmsr(t, MSR_STAR, &v), X86_EXC_GP);
	assert_int_equal(wrmsr(t, MSR_STAR, 0), X86_EXC_GP);
}

/* ---- TSC ---- */

static void test_rdtsc(void **state)
{
	struct tctx *t = *state;
	uint64_t v;

	t->clock = 1000000; /* 1 ms at 2 GHz */
	assert_int_equal(EXEC(t, 0x0f, 0x31), 0);
	assert_int_equal(t->cpu.gpr[X86_RAX], 2000000);
	assert_int_equal(t->cpu.gpr[X86_RDX], 0);
	t->clock = 5000000000ull; /* 10^10 ticks: EDX gets the high part */
	assert_int_equal(EXEC(t, 0x0f, 0x31), 0);
	assert_int_equal(t->cpu.gpr[X86_RAX] | t->cpu.gpr[X86_RDX] << 32, 10000000000ull);
	/* IA32_TSC write: later reads continue from the value written */
	assert_int_equal(wrmsr(t, MSR_TSC, 0x100), 0);
	t->clock += 500;
	assert_int_equal(rdmsr(t, MSR_TSC, &v), 0);
	assert_int_equal(v, 0x100 + 1000);
	assert_int_equal(EXEC(t, 0x0f, 0x31), 0);
	assert_int_equal(t->cpu.gpr[X86_RAX], 0x100 + 1000);
	/* huge clock values do not overflow the scaling */
	t->cpu.msr.tsc_offset = 0;
	t->clock = 1ull << 62;
	assert_int_equal(rdmsr(t, MSR_TSC, &v), 0);
	assert_int_equal(v, 1ull << 63);
	/* TSD: CPL 3 faults, CPL 0 does not */
	t->cpu.cr4 |= X86_CR4_TSD;
	assert_int_equal(EXEC(t, 0x0f, 0x31), 0);
	user64(t);
	assert_int_equal(EXEC(t, 0x0f, 0x31), 0);
	t->cpu.cr4 |= X86_CR4_TSD;
	assert_int_equal(EXEC(t, 0x0f, 0x31), X86_EXC_GP);
	/* no clock: the TSC stands still at the offset */
	kernel64(t);
	t->ops.clock_ns = NULL;
	t->cpu.msr.tsc_offset = 77;
	assert_int_equal(EXEC(t, 0x0f, 0x31), 0);
	assert_int_equal(t->cpu.gpr[X86_RAX], 77);
}

/* ---- HLT, CLI, STI ---- */

static void test_hlt(void **state)
{
	struct tctx *t = *state;

	user64(t);
	assert_int_equal(EXEC(t, 0xf4), X86_EXC_GP);
	assert_false(t->cpu.halted);
	assert_int_equal(t->cpu.rip, CODE_ADDR);
	kernel64(t);
	assert_int_equal(EXEC(t, 0xf4), 0);
	assert_true(t->cpu.halted);
	assert_int_equal(t->cpu.rip, CODE_ADDR + 1);
}

static void test_cli_sti(void **state)
{
	struct tctx *t = *state;

	user64(t);
	t->cpu.rflags = X86_FLAG_FIXED1 | X86_FLAG_IF;
	assert_int_equal(EXEC(t, 0xfa), X86_EXC_GP);
	assert_true(t->cpu.rflags & X86_FLAG_IF);
	t->cpu.rflags = X86_FLAG_FIXED1 | (2ull << 12);
	assert_int_equal(EXEC(t, 0xfb), X86_EXC_GP);
	t->cpu.rflags = X86_FLAG_FIXED1 | X86_FLAG_IOPL | X86_FLAG_IF; /* IOPL 3 */
	assert_int_equal(EXEC(t, 0xfa), 0);
	assert_int_equal(t->cpu.rflags & X86_FLAG_IF, 0);
	assert_int_equal(EXEC(t, 0xfb), 0);
	assert_true(t->cpu.rflags & X86_FLAG_IF);
	assert_true(t->cpu.intr_shadow);
	/* STI with IF already set: no shadow */
	assert_int_equal(EXEC(t, 0xfb), 0);
	assert_false(t->cpu.intr_shadow);
	/* CPL 0, IOPL 0 */
	kernel64(t);
	assert_int_equal(EXEC(t, 0xfb), 0);
	assert_true(t->cpu.intr_shadow);
	assert_int_equal(EXEC(t, 0xfa), 0);
	/* real mode: always */
	real16(t);
	assert_int_equal(EXEC(t, 0xfb), 0);
	assert_true(t->cpu.rflags & X86_FLAG_IF);
	/* virtual-8086 mode needs IOPL 3 */
	prot32(t);
	t->cpu.rflags = X86_FLAG_FIXED1 | X86_FLAG_VM | (2ull << 12);
	t->cpu.cpl = 3;
	x86_update_mode(&t->cpu);
	assert_int_equal(EXEC(t, 0xfb), X86_EXC_GP);
	t->cpu.rflags |= X86_FLAG_IOPL;
	assert_int_equal(EXEC(t, 0xfb), 0);
}

/* ---- I/O ---- */

/* A 64-bit TSS with an I/O bitmap that allows ports 0x3f8-0x3ff only. */
static void make_tss(struct tctx *t)
{
	uint8_t *tss = &t->ram[TSS_ADDR];

	memset(tss, 0, TSS_IOMAP);
	tss[102] = TSS_IOMAP;
	memset(tss + TSS_IOMAP, 0xff, 8192 + 1);
	tss[TSS_IOMAP + 0x3f8 / 8] = 0;
	t->cpu.tr.limit = TSS_IOMAP + 8192;
}

static void test_io_basic(void **state)
{
	struct tctx *t = *state;

	t->cpu.gpr[X86_RAX] = 0x11223344;
	t->cpu.gpr[X86_RDX] = 0x3f8;
	assert_int_equal(EXEC(t, 0xee), 0); /* out dx, al */
	assert_int_equal(EXEC(t, 0x66, 0xef), 0);
	assert_int_equal(EXEC(t, 0xef), 0);
	assert_int_equal(EXEC(t, 0xe6, 0x80), 0); /* out 0x80, al */
	assert_int_equal(t->npio, 4);
	assert_int_equal(t->pio[0].size, 1);
	assert_int_equal(t->pio[0].val, 0x44);
	assert_int_equal(t->pio[1].val, 0x3344);
	assert_int_equal(t->pio[2].val, 0x11223344);
	assert_int_equal(t->pio[3].port, 0x80);
	assert_true(t->pio[3].out);
	t->pio_next = 0xa5;
	t->cpu.gpr[X86_RAX] = ~0ull;
	assert_int_equal(EXEC(t, 0xec), 0); /* in al, dx: merges */
	assert_int_equal(t->cpu.gpr[X86_RAX], 0xffffffffffffffa5ull);
	assert_int_equal(EXEC(t, 0xed), 0); /* in eax, dx: zero-extends */
	assert_int_equal(t->cpu.gpr[X86_RAX], 0xa6);
	assert_int_equal(EXEC(t, 0x48, 0xed), 0); /* REX.W: still 32 bits */
	assert_int_equal(t->pio[t->npio - 1].size, 4);
	assert_int_equal(EXEC(t, 0xe5, 0x71), 0);
	assert_int_equal(t->pio[t->npio - 1].port, 0x71);
	/* no device callbacks: reads float to all ones, writes vanish */
	t->ops.pio_in = NULL;
	t->ops.pio_out = NULL;
	assert_int_equal(EXEC(t, 0x66, 0xed), 0);
	assert_int_equal(t->cpu.gpr[X86_RAX] & 0xffff, 0xffff);
	assert_int_equal(EXEC(t, 0xee), 0);
}

static void test_io_bitmap(void **state)
{
	struct tctx *t = *state;
	unsigned n;

	user64(t);
	make_tss(t);
	t->cpu.gpr[X86_RDX] = 0x3f8;
	assert_int_equal(EXEC(t, 0xee), 0);
	assert_int_equal(EXEC(t, 0xef), 0); /* 0x3f8-0x3fb */
	t->cpu.gpr[X86_RDX] = 0x3fe;
	assert_int_equal(EXEC(t, 0x66, 0xef), 0); /* 0x3fe-0x3ff */
	t->cpu.gpr[X86_RDX] = 0x3ff;
	n = t->npio;
	assert_int_equal(EXEC(t, 0x66, 0xef), X86_EXC_GP); /* 0x400 is denied */
	assert_int_equal(EXEC(t, 0xec), 0);
	t->cpu.gpr[X86_RDX] = 0x3f7;
	assert_int_equal(EXEC(t, 0xed), X86_EXC_GP);
	assert_int_equal(EXEC(t, 0xe4, 0x60), X86_EXC_GP);
	assert_int_equal(t->npio, n + 1);
	/* the last port needs the byte after the bitmap within the limit */
	t->cpu.gpr[X86_RDX] = 0xffff;
	assert_int_equal(EXEC(t, 0xec), X86_EXC_GP);
	t->ram[TSS_ADDR + TSS_IOMAP + 8191] = 0x7f; /* port 0xffff allowed */
	assert_int_equal(EXEC(t, 0xec), 0);
	assert_int_equal(EXEC(t, 0x66, 0xed), X86_EXC_GP); /* 0xffff and 0x10000 (byte 8192) */
	t->cpu.tr.limit--;
	assert_int_equal(EXEC(t, 0xec), X86_EXC_GP);
	t->cpu.tr.limit++;
	/* I/O map base beyond the limit: everything denied */
	t->ram[TSS_ADDR + 102] = 0xff;
	t->ram[TSS_ADDR + 103] = 0xff;
	t->cpu.gpr[X86_RDX] = 0x3f8;
	assert_int_equal(EXEC(t, 0xee), X86_EXC_GP);
	make_tss(t);
	/* a 16-bit TSS or a short one has no bitmap */
	t->cpu.tr.attr = X86_SEGA_P | 0x3;
	assert_int_equal(EXEC(t, 0xee), X86_EXC_GP);
	t->cpu.tr.attr = X86_SEGA_P | 0x9;
	assert_int_equal(EXEC(t, 0xee), 0);
	t->cpu.tr.limit = 102;
	assert_int_equal(EXEC(t, 0xee), X86_EXC_GP);
	/* IOPL 3: no bitmap needed */
	t->cpu.rflags |= X86_FLAG_IOPL;
	t->cpu.gpr[X86_RDX] = 0x60;
	assert_int_equal(EXEC(t, 0xee), 0);
	/* IOPL 2 < CPL 3 again: denied */
	t->cpu.rflags = X86_FLAG_FIXED1 | (2ull << 12);
	assert_int_equal(EXEC(t, 0xee), X86_EXC_GP);
	/* CPL 0 with IOPL 0 */
	kernel64(t);
	t->cpu.tr.limit = 0;
	assert_int_equal(EXEC(t, 0xee), 0);
	/* real mode: no checks at all */
	real16(t);
	t->cpu.tr.limit = 0;
	assert_int_equal(EXEC(t, 0xee), 0);
	/* virtual-8086 mode: the bitmap even with IOPL 3 */
	prot32(t);
	t->cpu.tr.base = TSS_ADDR;
	t->cpu.tr.attr = X86_SEGA_P | 0xb;
	make_tss(t);
	t->cpu.rflags = X86_FLAG_FIXED1 | X86_FLAG_VM | X86_FLAG_IOPL;
	t->cpu.cpl = 3;
	x86_update_mode(&t->cpu);
	t->cpu.gpr[X86_RDX] = 0x60;
	assert_int_equal(EXEC(t, 0xee), X86_EXC_GP);
	t->cpu.gpr[X86_RDX] = 0x3f9;
	assert_int_equal(EXEC(t, 0xee), 0);
}

static void test_rep_outs_ins(void **state)
{
	struct tctx *t = *state;

	for (unsigned i = 0; i < 8192; i++)
		t->ram[DATA_ADDR + i] = (uint8_t)(i * 7);
	t->cpu.gpr[X86_RSI] = DATA_ADDR;
	t->cpu.gpr[X86_RCX] = 5000;
	t->cpu.gpr[X86_RDX] = 0x3f8;
	assert_int_equal(EXEC(t, 0xf3, 0x6e), 0); /* rep outsb */
	assert_int_equal(t->npio, 4096);
	assert_int_equal(t->cpu.rip, CODE_ADDR); /* bounded: stays on the instruction */
	assert_int_equal(t->cpu.gpr[X86_RCX], 5000 - 4096);
	assert_int_equal(t->cpu.gpr[X86_RSI], DATA_ADDR + 4096);
	assert_int_equal(EXEC(t, 0xf3, 0x6e), 0);
	assert_int_equal(t->cpu.rip, CODE_ADDR + 2);
	assert_int_equal(t->cpu.gpr[X86_RCX], 0);
	assert_int_equal(t->npio, 5000);
	for (unsigned i = 0; i < 5000; i++) {
		assert_int_equal(t->pio[i].val, (uint8_t)(i * 7));
		assert_true(t->pio[i].out);
	}
	/* RCX = 0: nothing */
	t->npio = 0;
	t->cpu.rip = CODE_ADDR;
	assert_int_equal(EXEC(t, 0xf3, 0x6e), 0);
	assert_int_equal(t->npio, 0);
	/* rep insw backwards with a 32-bit address size: ECX, EDI */
	t->cpu.rflags |= X86_FLAG_DF;
	t->cpu.gpr[X86_RDI] = 0xffffffff00000000ull | (DATA_ADDR + 0x100);
	t->cpu.gpr[X86_RCX] = 0xffffffff00000003ull;
	t->pio_next = 0x1000;
	assert_int_equal(EXEC(t, 0x67, 0x66, 0xf3, 0x6d), 0);
	assert_int_equal(t->cpu.gpr[X86_RCX], 0);
	assert_int_equal(t->cpu.gpr[X86_RDI], DATA_ADDR + 0x100 - 6);
	assert_int_equal(t->ram[DATA_ADDR + 0x100] | t->ram[DATA_ADDR + 0x101] << 8, 0x1000);
	assert_int_equal(t->ram[DATA_ADDR + 0xfe] | t->ram[DATA_ADDR + 0xff] << 8, 0x1001);
	assert_int_equal(t->ram[DATA_ADDR + 0xfc] | t->ram[DATA_ADDR + 0xfd] << 8, 0x1002);
	/* a single INSD */
	t->cpu.rflags &= ~X86_FLAG_DF;
	t->cpu.gpr[X86_RDI] = DATA_ADDR;
	assert_int_equal(EXEC(t, 0x6d), 0);
	assert_int_equal(t->cpu.gpr[X86_RDI], DATA_ADDR + 4);
	assert_int_equal(t->ram[DATA_ADDR], 0x03);
	assert_int_equal(t->ram[DATA_ADDR + 1], 0x10);
	/* the permission check comes first: a denied port does nothing */
	user64(t);
	make_tss(t);
	t->npio = 0;
	t->cpu.gpr[X86_RDX] = 0x60;
	t->cpu.gpr[X86_RCX] = 10;
	t->cpu.gpr[X86_RSI] = DATA_ADDR;
	assert_int_equal(EXEC(t, 0xf3, 0x6e), X86_EXC_GP);
	assert_int_equal(t->npio, 0);
	assert_int_equal(t->cpu.gpr[X86_RCX], 10);
	t->cpu.gpr[X86_RCX] = 0; /* nothing to do: no permission check either */
	assert_int_equal(EXEC(t, 0xf3, 0x6e), 0);
	assert_int_equal(EXEC(t, 0x6e), X86_EXC_GP);
	/* a source that is not memory: the first iteration's fault, nothing done */
	kernel64(t);
	t->cpu.gpr[X86_RDX] = 0x3f8;
	t->cpu.gpr[X86_RCX] = 10;
	t->cpu.gpr[X86_RSI] = RAM_SIZE - 4; /* the 5th byte is past RAM */
	assert_int_equal(EXEC(t, 0xf3, 0x6e), 0);
	assert_int_equal(t->cpu.gpr[X86_RCX], 6);
	assert_int_equal(t->cpu.rip, CODE_ADDR);
	assert_int_equal(EXEC(t, 0xf3, 0x6e), X86_EXC_GP);
	assert_int_equal(t->cpu.gpr[X86_RCX], 6);
}

/* ---- the rest ---- */

static void test_swapgs(void **state)
{
	struct tctx *t = *state;

	t->cpu.seg[X86_SEG_GS].base = 0x1111;
	t->cpu.msr.kernel_gs_base = 0xffff888000000000ull;
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0xf8), 0);
	assert_int_equal(t->cpu.seg[X86_SEG_GS].base, 0xffff888000000000ull);
	assert_int_equal(t->cpu.msr.kernel_gs_base, 0x1111);
	user64(t);
	t->cpu.seg[X86_SEG_GS].base = 0x2222;
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0xf8), X86_EXC_GP);
	assert_int_equal(t->cpu.seg[X86_SEG_GS].base, 0x2222);
}

static void test_misc_ops(void **state)
{
	struct tctx *t = *state;

	assert_int_equal(EXEC(t, 0x0f, 0x0b), X86_EXC_UD);	 /* ud2 */
	assert_int_equal(EXEC(t, 0x0f, 0xff, 0xc0), X86_EXC_UD); /* ud0 */
	assert_int_equal(EXEC(t, 0x0f, 0xb9, 0xc0), X86_EXC_UD); /* ud1 */
	assert_int_equal(EXEC(t, 0x0f, 0xaa), X86_EXC_UD);	 /* rsm */
	assert_int_equal(EXEC(t, 0x0f, 0x01, 0xf9), X86_EXC_UD); /* rdtscp */
	assert_int_equal(EXEC(t, 0x0f, 0x33), X86_EXC_GP);	 /* rdpmc */
	assert_int_equal(EXEC(t, 0x0f, 0x09), 0);		 /* wbinvd */
	assert_int_equal(EXEC(t, 0x0f, 0x08), 0);		 /* invd */
	assert_int_equal(EXEC(t, 0x0f, 0xae, 0xf0), 0);		 /* mfence */
	assert_int_equal(EXEC(t, 0x0f, 0xae, 0xe8), 0);		 /* lfence */
	assert_int_equal(EXEC(t, 0x0f, 0xae, 0xf8), 0);		 /* sfence */
	t->cpu.gpr[X86_RBX] = DATA_ADDR;
	assert_int_equal(EXEC(t, 0x0f, 0xae, 0x3b), 0); /* clflush [rbx] */
	assert_int_equal(EXEC(t, 0x0f, 0x18, 0x0b), 0); /* prefetcht0 [rbx] */
	assert_int_equal(EXEC(t, 0x0f, 0x0d, 0x0b), 0); /* prefetchw [rbx] */
	t->cpu.gpr[X86_RAX] = 0x1122334455667788ull;
	memset(&t->ram[DATA_ADDR], 0, 16);
	assert_int_equal(EXEC(t, 0x0f, 0xc3, 0x03), 0); /* movnti [rbx], eax */
	assert_int_equal(t->ram[DATA_ADDR + 3], 0x55);
	assert_int_equal(t->ram[DATA_ADDR + 4], 0);
	assert_int_equal(EXEC(t, 0x48, 0x0f, 0xc3, 0x03), 0); /* movnti [rbx], rax */
	assert_int_equal(t->ram[DATA_ADDR + 7], 0x11);
	user64(t);
	assert_int_equal(EXEC(t, 0x0f, 0x09), X86_EXC_GP);
	assert_int_equal(EXEC(t, 0x0f, 0x08), X86_EXC_GP);
	assert_int_equal(EXEC(t, 0x0f, 0x33), X86_EXC_GP);
	t->cpu.gpr[X86_RBX] = DATA_ADDR;
	assert_int_equal(EXEC(t, 0x0f, 0xae, 0x3b), 0); /* clflush is not privileged */
}

/* Through x86_step: the same rules with code fetch. */
static void test_step_cpl3(void **state)
{
	struct tctx *t = *state;

	user64(t);
	t->ram[CODE_ADDR] = 0xf4;
	assert_int_equal(x86_step(&t->cpu, &t->ops, t), X86_EXC_GP);
	t->ram[CODE_ADDR] = 0x0f;
	t->ram[CODE_ADDR + 1] = 0xa2;
	t->cpu.gpr[X86_RAX] = 0;
	assert_int_equal(x86_step(&t->cpu, &t->ops, t), 0);
	assert_int_equal(t->cpu.rip, CODE_ADDR + 2);
	assert_int_equal(t->cpu.gpr[X86_RBX], 0x756e6547);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cpuid_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cpuid_instruction_cpl3, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cpuid_limit_by_misc_enable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cr_cpl3_gp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cr0_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cr4_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cr2_cr3_cr8, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_mode_activation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tlb_flushes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lmsw_smsw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_debug_registers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msr_syscall_and_bases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msr_efer_pat_misc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msr_outside_core, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rdtsc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hlt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_sti, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_basic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io_bitmap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rep_outs_ins, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_swapgs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_misc_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_step_cpl3, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
