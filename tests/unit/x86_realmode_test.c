/*
 * Unit tests for the emu CPU outside 64-bit mode with a flat fake physical memory: real-mode
 * and 16-bit protected-mode execution, 16-bit ModRM forms and their default segments, segment
 * arithmetic (offsets wrap at 64 KiB, FFFF:FFFF reaches 1 MiB + 64 KiB - 17), limit and type
 * checks (#GP(0) / #SS(0)), expand-down segments, the stack width from SS.B, near branches
 * truncated to the operand size and checked against the CS limit, POPF privilege rules,
 * PUSHA/POPA, BCD, BOUND, LAHF/SAHF, XLAT, moffs, strings, and the 64-bit canonical checks.
 * Intel SDM vol. 1 3.7.5, vol. 2 table 2-1, vol. 3A 5.3-5.4, 20.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"

#define MEM_SIZE 0x200000u

static uint8_t *mem;

static int fake_read(void *opaque, uint64_t a, void *buf, size_t len)
{
	(void)opaque;
	if (a >= MEM_SIZE || len > MEM_SIZE - a)
		return X86_EXC_PF;
	memcpy(buf, mem + a, len);
	return 0;
}

static int fake_write(void *opaque, uint64_t a, const void *buf, size_t len)
{
	(void)opaque;
	if (a >= MEM_SIZE || len > MEM_SIZE - a)
		return X86_EXC_PF;
	memcpy(mem + a, buf, len);
	return 0;
}

static const struct x86_mem_ops ops = {.read = fake_read, .write = fake_write};

static int setup(void **state)
{
	(void)state;
	mem = calloc(1, MEM_SIZE);
	return mem ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

static void seg_real(struct x86_cpu *cpu, int s, uint16_t sel)
{
	cpu->seg[s].selector = sel;
	cpu->seg[s].base = (uint64_t)sel << 4;
}

/* Real mode: CS=1000 IP=0100, DS=2000, SS=3000, ES=4000, SP=FFFE. */
static void real_cpu(struct x86_cpu *cpu)
{
	memset(mem, 0, MEM_SIZE);
	memset(cpu, 0, sizeof(*cpu));
	x86_cpu_reset(cpu);
	seg_real(cpu, X86_SEG_CS, 0x1000);
	seg_real(cpu, X86_SEG_DS, 0x2000);
	seg_real(cpu, X86_SEG_SS, 0x3000);
	seg_real(cpu, X86_SEG_ES, 0x4000);
	cpu->rip = 0x100;
	cpu->gpr[X86_RSP] = 0xfffe;
	cpu->gpr[X86_RDX] = 0;
}

#define DATA16 (X86_SEGA_P | X86_SEGA_S | 0x3)
#define CODE16 (X86_SEGA_P | X86_SEGA_S | 0xb)

/* 16-bit protected mode at CPL 0: CS base 0x10000 limit 0xffff, data/stack segments with the
 * real-mode bases and 64 KiB limits. */
static void prot16_cpu(struct x86_cpu *cpu)
{
	real_cpu(cpu);
	cpu->cr0 |= X86_CR0_PE;
	cpu->seg[X86_SEG_CS].attr = CODE16;
	for (int s = 0; s < X86_SEG_NONE; s++) {
		cpu->seg[s].limit = 0xffff;
		if (s != X86_SEG_CS)
			cpu->seg[s].attr = DATA16;
	}
	cpu->cpl = 0;
	x86_update_mode(cpu);
	assert_int_equal(cpu->mode, X86_MODE_PROT16);
}

static int run(struct x86_cpu *cpu, const uint8_t *code, size_t n)
{
	uint64_t at = ((cpu->seg[X86_SEG_CS].base + cpu->rip) & 0xffffffffu);

	memcpy(mem + at, code, n);
	return x86_step(cpu, &ops, NULL);
}

#define RUN(cpu, ...)                                                                              \
	({                                                                                         \
		static const uint8_t code_[] = {__VA_ARGS__};                                      \
		run(cpu, code_, sizeof(code_));                                                    \
	})

static void put16(uint64_t at, uint16_t v)
{
	memcpy(mem + at, &v, 2);
}

static uint16_t get16(uint64_t at)
{
	uint16_t v;

	memcpy(&v, mem + at, 2);
	return v;
}

/* All eight 16-bit forms of table 2-1, with displacements; BP forms default to SS. */
static void test_modrm16_forms(void **state)
{
	static const struct {
		uint8_t modrm;
		int8_t disp;
		bool ss;
	} forms[] = {
	    {0x40, 3, false}, /* [bx+si+d8] */ {0x41, -2, false}, /* [bx+di+d8] */
	    {0x42, 5, true},  /* [bp+si+d8] */ {0x43, 7, true},	  /* [bp+di+d8] */
	    {0x44, 1, false}, /* [si+d8] */    {0x45, 9, false},  /* [di+d8] */
	    {0x46, -4, true}, /* [bp+d8] */    {0x47, 2, false},  /* [bx+d8] */
	};
	static const uint8_t base_of[8] = {X86_RBX, X86_RBX, X86_RBP, X86_RBP,
					   X86_RSI, X86_RDI, X86_RBP, X86_RBX};
	struct x86_cpu cpu;

	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		unsigned rm = forms[i].modrm & 7;
		uint16_t off;
		uint64_t lin;

		real_cpu(&cpu);
		cpu.gpr[X86_RBX] = 0xabcd1000;
		cpu.gpr[X86_RBP] = 0x12342000;
		cpu.gpr[X86_RSI] = 0x00000300;
		cpu.gpr[X86_RDI] = 0xffff0040;
		off = (uint16_t)(cpu.gpr[base_of[rm]] + (int16_t)forms[i].disp);
		if (rm < 4)
			off = (uint16_t)(off + cpu.gpr[(rm & 1) ? X86_RDI : X86_RSI]);
		lin = (forms[i].ss ? 0x30000 : 0x20000) + off;
		put16(lin, (uint16_t)(0x1111 * (i + 1)));
		{
			uint8_t code[3] = {0x8b, forms[i].modrm, (uint8_t)forms[i].disp};

			assert_int_equal(run(&cpu, code, 3), 0);
		}
		assert_int_equal(cpu.gpr[X86_RAX] & 0xffff, 0x1111 * (i + 1));
		assert_int_equal(cpu.rip, 0x103);
	}
	/* mod=00 rm=110: disp16 alone, DS */
	real_cpu(&cpu);
	put16(0x20000 + 0x1234, 0xbeef);
	assert_int_equal(RUN(&cpu, 0x8b, 0x06, 0x34, 0x12), 0);
	assert_int_equal(cpu.gpr[X86_RAX] & 0xffff, 0xbeef);
	/* [bp+si] with a DS override (3E) uses DS */
	real_cpu(&cpu);
	cpu.gpr[X86_RBP] = 0x10;
	cpu.gpr[X86_RSI] = 0x20;
	put16(0x20030, 0x5a5a);
	assert_int_equal(RUN(&cpu, 0x3e, 0x8b, 0x02), 0);
	assert_int_equal(cpu.gpr[X86_RAX] & 0xffff, 0x5a5a);
	/* LEA with 16-bit addressing keeps 16 bits; with a 32-bit operand zero-extends */
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0xfff0;
	cpu.gpr[X86_RSI] = 0x0020;
	cpu.gpr[X86_RAX] = 0xffffffff;
	assert_int_equal(RUN(&cpu, 0x66, 0x8d, 0x00), 0); /* lea eax, [bx+si] */
	assert_int_equal(cpu.gpr[X86_RAX], 0x10);
}

/* Offsets wrap at 64 KiB; FFFF:FFFF is linear 0x10FFEF (no A20 wrap in the CPU). */
static void test_segment_arithmetic(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0xfff0;
	cpu.gpr[X86_RSI] = 0x0015; /* bx+si = 0x10005 -> 0x0005 */
	mem[0x20005] = 0x77;
	assert_int_equal(RUN(&cpu, 0x8a, 0x00), 0); /* mov al, [bx+si] */
	assert_int_equal(cpu.gpr[X86_RAX] & 0xff, 0x77);

	real_cpu(&cpu);
	seg_real(&cpu, X86_SEG_DS, 0xffff);
	cpu.gpr[X86_RBX] = 0xffff;
	mem[0x10ffef] = 0x42;
	assert_int_equal(RUN(&cpu, 0x8a, 0x07), 0); /* mov al, [bx] */
	assert_int_equal(cpu.gpr[X86_RAX] & 0xff, 0x42);

	/* a 32-bit address (0x67) beyond 0xffff exceeds the real-mode limit: #GP(0) */
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0x10000;
	assert_int_equal(RUN(&cpu, 0x67, 0x8a, 0x03), X86_EXC_GP); /* mov al, [ebx] */
	assert_int_equal(cpu.fault_error_code, 0);
	assert_int_equal(cpu.rip, 0x100);
}

/* A word at offset 0xffff runs past the 64 KiB limit: #GP(0), or #SS(0) through SS. */
static void test_real_limits(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0xffff;
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), X86_EXC_GP); /* mov ax, [bx] */
	real_cpu(&cpu);
	cpu.gpr[X86_RBP] = 0xffff;
	cpu.gpr[X86_RAX] = 0x1234;
	assert_int_equal(RUN(&cpu, 0x89, 0x46, 0x00), X86_EXC_SS); /* mov [bp+0], ax */
	assert_int_equal(get16(0x3ffff), 0);
	/* a byte there is fine */
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0xffff;
	assert_int_equal(RUN(&cpu, 0x8a, 0x07), 0);
	/* real mode has no type checks: a store through CS works */
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0x500;
	cpu.gpr[X86_RAX] = 0x99;
	assert_int_equal(RUN(&cpu, 0x2e, 0x88, 0x07), 0);
	assert_int_equal(mem[0x10500], 0x99);
}

/* The stack: 16-bit SP wraps and keeps ESP[31:16]; SS.B = 1 uses ESP. */
static void test_stack_width(void **state)
{
	struct x86_cpu cpu;
	uint64_t v;

	(void)state;
	real_cpu(&cpu);
	cpu.gpr[X86_RSP] = 0xabcd0000;
	cpu.gpr[X86_RAX] = 0x1234;
	assert_int_equal(RUN(&cpu, 0x50), 0); /* push ax */
	assert_int_equal(cpu.gpr[X86_RSP], 0xabcdfffe);
	assert_int_equal(get16(0x3fffe), 0x1234);
	assert_int_equal(RUN(&cpu, 0x5b), 0); /* pop bx */
	assert_int_equal(cpu.gpr[X86_RSP], 0xabcd0000);
	assert_int_equal(cpu.gpr[X86_RBX] & 0xffff, 0x1234);
	/* push eax (66 50) pushes 4 bytes */
	real_cpu(&cpu);
	cpu.gpr[X86_RAX] = 0xdeadbeef;
	assert_int_equal(RUN(&cpu, 0x66, 0x50), 0);
	assert_int_equal(cpu.gpr[X86_RSP], 0xfffa);
	memcpy(&v, mem + 0x3fffa, 4);
	assert_int_equal(v & 0xffffffff, 0xdeadbeef);
	/* 16-bit protected mode with a 32-bit stack (SS.B = 1) */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_SS].attr |= X86_SEGA_DB;
	cpu.seg[X86_SEG_SS].limit = 0xfffff;
	cpu.gpr[X86_RSP] = 0x20000;
	cpu.gpr[X86_RAX] = 0x4321;
	assert_int_equal(RUN(&cpu, 0x50), 0);
	assert_int_equal(cpu.gpr[X86_RSP], 0x1fffe);
	assert_int_equal(get16(0x30000 + 0x1fffe), 0x4321);
	/* a push below an expand-up stack limit... the top of a 64 KiB 16-bit stack wraps to
	 * 0xfffe, which a limit of 0x7fff refuses: #SS(0), SP kept */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_SS].limit = 0x7fff;
	cpu.gpr[X86_RSP] = 0;
	assert_int_equal(RUN(&cpu, 0x50), X86_EXC_SS);
	assert_int_equal(cpu.gpr[X86_RSP], 0);
}

/* Near branches: IP wraps in 16 bits; the target must be within the CS limit. */
static void test_near_branches(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	cpu.rip = 0xfff0;
	assert_int_equal(RUN(&cpu, 0xe9, 0x20, 0x00), 0); /* jmp +0x20 -> 0x10013 & 0xffff */
	assert_int_equal(cpu.rip, 0x0013);
	real_cpu(&cpu);
	assert_int_equal(RUN(&cpu, 0xe8, 0x00, 0x10), 0); /* call +0x1000 */
	assert_int_equal(cpu.rip, 0x1103);
	assert_int_equal(cpu.gpr[X86_RSP], 0xfffc);
	assert_int_equal(get16(0x3fffc), 0x103);
	assert_int_equal(RUN(&cpu, 0xc2, 0x04, 0x00), 0); /* ret 4 */
	assert_int_equal(cpu.rip, 0x103);
	assert_int_equal(cpu.gpr[X86_RSP], 0x10002 & 0xffff);
	/* a 32-bit operand-size jump (66 E9 rel32) in real mode beyond 0xffff: #GP(0) */
	real_cpu(&cpu);
	assert_int_equal(RUN(&cpu, 0x66, 0xe9, 0x00, 0x00, 0x01, 0x00), X86_EXC_GP);
	assert_int_equal(cpu.rip, 0x100);
	/* 16-bit protected mode, CS limit 0x0fff */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_CS].limit = 0x0fff;
	assert_int_equal(RUN(&cpu, 0xeb, 0x7f), 0); /* jmp short within */
	assert_int_equal(cpu.rip, 0x181);
	assert_int_equal(RUN(&cpu, 0xe9, 0x00, 0x0f), X86_EXC_GP); /* to 0x1084 */
	assert_int_equal(cpu.rip, 0x181);
	/* jmp [bx] reads a 16-bit target */
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0x40;
	put16(0x20040, 0x2345);
	assert_int_equal(RUN(&cpu, 0xff, 0x27), 0);
	assert_int_equal(cpu.rip, 0x2345);
	/* loop with CX (16-bit address size) */
	real_cpu(&cpu);
	cpu.gpr[X86_RCX] = 0x10001;
	assert_int_equal(RUN(&cpu, 0xe2, 0x10), 0); /* cx 1 -> 0: not taken */
	assert_int_equal(cpu.gpr[X86_RCX], 0x10000);
	assert_int_equal(cpu.rip, 0x102);
}

/* Protected-mode type checks and expand-down limits (SDM 5.3, 5.4). */
static void test_prot16_checks(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	/* expand-up limit 0x0fff */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_DS].limit = 0x0fff;
	cpu.gpr[X86_RBX] = 0x0ffe;
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), 0);
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_DS].limit = 0x0fff;
	cpu.gpr[X86_RBX] = 0x0fff;
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), X86_EXC_GP);
	/* expand-down, limit 0x0fff, B = 0: valid 0x1000..0xffff */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_DS].attr = DATA16 | 0x4;
	cpu.seg[X86_SEG_DS].limit = 0x0fff;
	cpu.gpr[X86_RBX] = 0x0800;
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), X86_EXC_GP);
	cpu.gpr[X86_RBX] = 0x1000;
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), 0);
	cpu.rip = 0x100;
	cpu.gpr[X86_RBX] = 0xffff; /* a word at 0xffff runs past 0xffff */
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), X86_EXC_GP);
	/* expand-down with B = 1: the upper bound is 0xffffffff */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_DS].attr = DATA16 | 0x4 | X86_SEGA_DB;
	cpu.seg[X86_SEG_DS].limit = 0x0fff;
	cpu.seg[X86_SEG_DS].base = 0;
	cpu.gpr[X86_RBX] = 0x1ffff;
	assert_int_equal(RUN(&cpu, 0x67, 0x8b, 0x03), 0); /* mov ax, [ebx] */
	/* an expand-down stack: push below the limit is #SS(0) */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_SS].attr = DATA16 | 0x4;
	cpu.seg[X86_SEG_SS].limit = 0x7fff;
	cpu.gpr[X86_RSP] = 0x8001;
	assert_int_equal(RUN(&cpu, 0x50), X86_EXC_SS);
	cpu.gpr[X86_RSP] = 0x8002;
	assert_int_equal(RUN(&cpu, 0x50), 0);
	/* read-only data: loads work, stores #GP(0) */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_DS].attr = DATA16 & ~0x2u;
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), 0);
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_DS].attr = DATA16 & ~0x2u;
	assert_int_equal(RUN(&cpu, 0x89, 0x07), X86_EXC_GP);
	assert_int_equal(RUN(&cpu, 0xff, 0x07), X86_EXC_GP); /* inc word [bx] */
	/* stores through CS: #GP(0); reads of execute/read code work; execute-only: #GP(0) */
	prot16_cpu(&cpu);
	assert_int_equal(RUN(&cpu, 0x2e, 0x89, 0x07), X86_EXC_GP);
	assert_int_equal(RUN(&cpu, 0x2e, 0x8b, 0x07), 0);
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_CS].attr = X86_SEGA_P | X86_SEGA_S | 0x9; /* execute-only */
	assert_int_equal(RUN(&cpu, 0x2e, 0x8b, 0x07), X86_EXC_GP);
	/* a null (unusable) DS: #GP(0); ES for a string store too */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_DS].attr = X86_SEGA_UNUSABLE;
	assert_int_equal(RUN(&cpu, 0x8b, 0x07), X86_EXC_GP);
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_ES].attr = X86_SEGA_UNUSABLE;
	assert_int_equal(RUN(&cpu, 0xaa), X86_EXC_GP); /* stosb */
	assert_int_equal(cpu.fault_error_code, 0);
}

/* String instructions: 16-bit SI/DI/CX, DS:SI with overrides, ES:DI. */
static void test_strings16(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	memcpy(mem + 0x20010, "hello", 5);
	cpu.gpr[X86_RSI] = 0xffff0010;
	cpu.gpr[X86_RDI] = 0x00010020;
	cpu.gpr[X86_RCX] = 0x12340005;
	assert_int_equal(RUN(&cpu, 0xf3, 0xa4), 0); /* rep movsb */
	assert_memory_equal(mem + 0x40020, "hello", 5);
	assert_int_equal(cpu.gpr[X86_RCX], 0x12340000);
	assert_int_equal(cpu.gpr[X86_RSI], 0xffff0015);
	assert_int_equal(cpu.gpr[X86_RDI], 0x00010025);
	/* SI wraps at 64 KiB; a segment override (ES:) on the source */
	real_cpu(&cpu);
	mem[0x4ffff] = 0xab;
	cpu.gpr[X86_RSI] = 0xffff;
	assert_int_equal(RUN(&cpu, 0x26, 0xac), 0); /* lodsb es: */
	assert_int_equal(cpu.gpr[X86_RAX] & 0xff, 0xab);
	assert_int_equal(cpu.gpr[X86_RSI], 0);
	/* a word at DI = 0xffff is past the ES limit: #GP(0) and nothing changes */
	real_cpu(&cpu);
	cpu.gpr[X86_RDI] = 0xffff;
	cpu.gpr[X86_RCX] = 3;
	assert_int_equal(RUN(&cpu, 0xf3, 0xab), X86_EXC_GP);
	assert_int_equal(cpu.gpr[X86_RCX], 3);
}

/* POPF (SDM "POPF"): real mode changes IOPL; CPL 3 keeps IF and IOPL; V86 IOPL < 3: #GP. */
static void test_popf(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	put16(0x3fffe, 0x3202 | 0x1);
	assert_int_equal(RUN(&cpu, 0x9d), 0);
	assert_int_equal(cpu.rflags & 0xffff, 0x3203);
	/* 32-bit protected mode at CPL 3 with IOPL 0 */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_CS].attr |= X86_SEGA_DB | (3u << X86_SEGA_DPL_SHIFT);
	cpu.cpl = 3;
	x86_update_mode(&cpu);
	cpu.rflags = 0x202;
	cpu.gpr[X86_RSP] = 0xfff0;
	memcpy(mem + 0x3fff0, &(uint32_t){0x00013cd7}, 4); /* RF, IOPL 3, DF, arith, no IF */
	assert_int_equal(RUN(&cpu, 0x9d), 0);
	assert_int_equal(cpu.rflags, 0x00000ed7 | 0x200);
	assert_int_equal(cpu.gpr[X86_RSP], 0xfff4);
	/* virtual-8086 mode with IOPL 0: #GP(0) */
	prot16_cpu(&cpu);
	cpu.rflags = 0x2 | X86_FLAG_VM;
	x86_update_mode(&cpu);
	assert_int_equal(RUN(&cpu, 0x9d), X86_EXC_GP);
	assert_int_equal(RUN(&cpu, 0x9c), X86_EXC_GP);
}

/* PUSHA/POPA round trip; a PUSHA that does not fit faults before writing anything. */
static void test_pusha_popa(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	for (unsigned r = 0; r < 8; r++)
		cpu.gpr[r] = 0x11110000u * (r + 1) + r;
	cpu.gpr[X86_RSP] = 0x1000;
	assert_int_equal(RUN(&cpu, 0x60), 0);
	assert_int_equal(cpu.gpr[X86_RSP], 0x1000 - 16);
	assert_int_equal(get16(0x30000 + 0x1000 - 2), 0); /* AX = 0x0000 low word: r=0 */
	assert_int_equal(get16(0x30000 + 0x1000 - 10), 0x1000); /* the original SP */
	assert_int_equal(get16(0x30000 + 0x1000 - 16), 7);	/* DI */
	cpu.gpr[X86_RAX] = cpu.gpr[X86_RDI] = 0;
	cpu.rip = 0x100;
	assert_int_equal(RUN(&cpu, 0x61), 0);
	assert_int_equal(cpu.gpr[X86_RSP], 0x1000);
	assert_int_equal(cpu.gpr[X86_RDI], 7);
	/* 16-bit protected mode, expand-down SS with limit 0x0ff7: only 8 bytes fit below
	 * SP = 0x1000; the 16-byte PUSHA is #SS(0) with memory untouched */
	prot16_cpu(&cpu);
	cpu.seg[X86_SEG_SS].attr = DATA16 | 0x4;
	cpu.seg[X86_SEG_SS].limit = 0x0ff7;
	cpu.gpr[X86_RSP] = 0x1000;
	cpu.gpr[X86_RAX] = 0xffff;
	assert_int_equal(RUN(&cpu, 0x60), X86_EXC_SS);
	assert_int_equal(get16(0x30000 + 0x0ffe), 0);
	assert_int_equal(cpu.gpr[X86_RSP], 0x1000);
	/* 66 60: PUSHAD, 32 bytes */
	real_cpu(&cpu);
	cpu.gpr[X86_RSP] = 0x1000;
	assert_int_equal(RUN(&cpu, 0x66, 0x60), 0);
	assert_int_equal(cpu.gpr[X86_RSP], 0x1000 - 32);
}

/* ENTER/LEAVE with a 16-bit stack and operand size. */
static void test_enter_leave(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	cpu.gpr[X86_RSP] = 0x2000;
	cpu.gpr[X86_RBP] = 0xffff3000;
	put16(0x30000 + 0x3000 - 2, 0xaaaa);
	assert_int_equal(RUN(&cpu, 0xc8, 0x10, 0x00, 0x02), 0); /* enter 16, 2 */
	assert_int_equal(get16(0x30000 + 0x1ffe), 0x3000);	 /* old BP */
	assert_int_equal(get16(0x30000 + 0x1ffc), 0xaaaa);	 /* copied frame pointer */
	assert_int_equal(get16(0x30000 + 0x1ffa), 0x1ffe);	 /* new frame pointer */
	assert_int_equal(cpu.gpr[X86_RBP], 0xffff1ffe);
	assert_int_equal(cpu.gpr[X86_RSP], 0x1ffa - 0x10);
	assert_int_equal(RUN(&cpu, 0xc9), 0); /* leave */
	assert_int_equal(cpu.gpr[X86_RSP], 0x2000);
	assert_int_equal(cpu.gpr[X86_RBP], 0xffff3000);
}

/* BCD, BOUND, LAHF/SAHF, XLAT and moffs MOV in real mode. */
static void test_legacy_misc(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	real_cpu(&cpu);
	cpu.gpr[X86_RAX] = 0x1234;
	assert_int_equal(RUN(&cpu, 0xd4, 0x00), X86_EXC_DE); /* aam 0 */
	assert_int_equal(cpu.gpr[X86_RAX], 0x1234);
	assert_int_equal(RUN(&cpu, 0xd4, 0x0a), 0); /* aam: 0x34 = 52 -> 05 02 */
	assert_int_equal(cpu.gpr[X86_RAX], 0x0502);
	cpu.rip = 0x100;
	assert_int_equal(RUN(&cpu, 0xd5, 0x0a), 0); /* aad: 5 * 10 + 2 */
	assert_int_equal(cpu.gpr[X86_RAX], 52);
	/* daa after 0x19 + 0x28 = 0x41 with AF: 0x47 */
	real_cpu(&cpu);
	cpu.gpr[X86_RAX] = 0x41;
	cpu.rflags |= X86_FLAG_AF;
	assert_int_equal(RUN(&cpu, 0x27), 0);
	assert_int_equal(cpu.gpr[X86_RAX], 0x47);
	/* bound ax, [bx]: [10, 20] */
	real_cpu(&cpu);
	put16(0x20100, 10);
	put16(0x20102, 20);
	cpu.gpr[X86_RBX] = 0x100;
	cpu.gpr[X86_RAX] = 20;
	assert_int_equal(RUN(&cpu, 0x62, 0x07), 0);
	cpu.rip = 0x100;
	cpu.gpr[X86_RAX] = 21;
	assert_int_equal(RUN(&cpu, 0x62, 0x07), X86_EXC_BR);
	cpu.gpr[X86_RAX] = 0xfff0; /* -16 */
	assert_int_equal(RUN(&cpu, 0x62, 0x07), X86_EXC_BR);
	/* lahf / sahf */
	real_cpu(&cpu);
	cpu.rflags = 0x2 | X86_FLAG_CF | X86_FLAG_ZF | X86_FLAG_OF;
	assert_int_equal(RUN(&cpu, 0x9f), 0);
	assert_int_equal((cpu.gpr[X86_RAX] >> 8) & 0xff, 0x43);
	cpu.gpr[X86_RAX] = 0xd500;
	cpu.rip = 0x100;
	assert_int_equal(RUN(&cpu, 0x9e), 0);
	assert_int_equal(cpu.rflags, 0x2 | 0xd5 | X86_FLAG_OF);
	/* xlat: DS:[BX + AL], 16-bit BX */
	real_cpu(&cpu);
	cpu.gpr[X86_RBX] = 0xffff0200;
	cpu.gpr[X86_RAX] = 0x05;
	mem[0x20205] = 0x66;
	assert_int_equal(RUN(&cpu, 0xd7), 0);
	assert_int_equal(cpu.gpr[X86_RAX], 0x66);
	/* mov ax, [moffs16] with an SS override; mov [moffs16], al */
	real_cpu(&cpu);
	put16(0x30000 + 0x4444, 0x1357);
	assert_int_equal(RUN(&cpu, 0x36, 0xa1, 0x44, 0x44), 0);
	assert_int_equal(cpu.gpr[X86_RAX], 0x1357);
	cpu.rip = 0x100;
	assert_int_equal(RUN(&cpu, 0xa2, 0xff, 0xff), 0);
	assert_int_equal(mem[0x2ffff], 0x57);
	cpu.rip = 0x100;
	assert_int_equal(RUN(&cpu, 0xa3, 0xff, 0xff), X86_EXC_GP); /* word at 0xffff */
}

/* 64-bit mode: non-canonical data addresses are #GP(0), through RSP/RBP #SS(0). */
static void test_canonical(void **state)
{
	struct x86_cpu cpu;

	(void)state;
	memset(mem, 0, MEM_SIZE);
	x86_cpu_init(&cpu);
	cpu.rip = 0x1000;
	cpu.gpr[X86_RBX] = 0x0000800000000000ull;
	assert_int_equal(RUN(&cpu, 0x8b, 0x03), X86_EXC_GP); /* mov eax, [rbx] */
	cpu.gpr[X86_RBP] = 0x0000800000000000ull;
	assert_int_equal(RUN(&cpu, 0x8b, 0x45, 0x00), X86_EXC_SS); /* mov eax, [rbp] */
	cpu.gpr[X86_RSP] = 0x0000800000000004ull;
	assert_int_equal(RUN(&cpu, 0x50), X86_EXC_SS); /* push rax */
	/* an access that crosses into the non-canonical range */
	cpu.gpr[X86_RBX] = 0x00007ffffffffffeull;
	assert_int_equal(RUN(&cpu, 0x8b, 0x03), X86_EXC_GP);
	assert_int_equal(cpu.fault_error_code, 0);
	/* the ES/DS bases do not apply in 64-bit mode */
	cpu.seg[X86_SEG_DS].base = 0x100000;
	cpu.gpr[X86_RBX] = 0x2000;
	mem[0x2000] = 0x5c;
	assert_int_equal(RUN(&cpu, 0x8a, 0x03), 0);
	assert_int_equal(cpu.gpr[X86_RAX] & 0xff, 0x5c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_modrm16_forms),   cmocka_unit_test(test_segment_arithmetic),
	    cmocka_unit_test(test_real_limits),	    cmocka_unit_test(test_stack_width),
	    cmocka_unit_test(test_near_branches),   cmocka_unit_test(test_prot16_checks),
	    cmocka_unit_test(test_strings16),	    cmocka_unit_test(test_popf),
	    cmocka_unit_test(test_pusha_popa),	    cmocka_unit_test(test_enter_leave),
	    cmocka_unit_test(test_legacy_misc),	    cmocka_unit_test(test_canonical),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
