/*
 * Segmentation and far transfers of the emu CPU (Intel SDM vol. 3A ch. 3, 5; vol. 2 MOV, POP,
 * PUSH, LxS, JMP, CALL, RET, LGDT, SGDT, LLDT, LTR, LAR, LSL, VERR/VERW, ARPL): x86_step on
 * small instruction sequences against a hand-built GDT/LDT/TSS in flat fake memory.
 */
#include "x86_sys_env.h"

/* mov ds, ax (8E D8) / mov ss, ax (8E D0) */
static int mov_seg(struct env *e, int seg, uint16_t sel)
{
	uint8_t code[2] = {0x8e, (uint8_t)(0xc0 | (seg << 3))};

	e->cpu.gpr[0] = sel;
	return run(e, code, 2);
}

static void test_mov_ds_loads_cache_and_sets_accessed(void **state)
{
	struct env *e = *state;
	struct x86_segment want;

	prot32(e, 3);
	gdt_set(e, SEL_DATA3, seg_desc(0x12345000, 0x00abc, ACC(3, 0x2), F_DB));
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_DATA3 | 3), 0);
	cache(&want, SEL_DATA3 | 3, gdt_get(e, SEL_DATA3));
	assert_true(gdt_get(e, SEL_DATA3) & (1ull << 40)); /* accessed bit written back */
	assert_int_equal(e->cpu.seg[X86_SEG_DS].base, 0x12345000);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].limit, 0xabc);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].attr, want.attr);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].selector, SEL_DATA3 | 3);
	assert_int_equal(e->cpu.rip, CODE + 2);

	/* G scales the limit: 0xfffff pages -> 4 GiB - 1 */
	assert_int_equal(mov_seg(e, X86_SEG_ES, SEL_RODATA3 | 3), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_ES].limit, 0xffffffffu);
}

static void test_null_selectors(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0), 0);
	assert_true(e->cpu.seg[X86_SEG_DS].attr & X86_SEGA_UNUSABLE);
	assert_int_equal(mov_seg(e, X86_SEG_FS, 3), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_FS].selector, 3);
	assert_true(e->cpu.seg[X86_SEG_FS].attr & X86_SEGA_UNUSABLE);
	/* SS null: #GP(0) outside 64-bit mode */
	prot32(e, 0);
	e->cpu.fault_error_code = 0x55;
	assert_int_equal(mov_seg(e, X86_SEG_SS, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA0);
	/* 64-bit mode: allowed at CPL 0 with RPL = CPL, not at CPL 3 or RPL != CPL */
	long64(e, 0);
	assert_int_equal(mov_seg(e, X86_SEG_SS, 0), 0);
	assert_true(e->cpu.seg[X86_SEG_SS].attr & X86_SEGA_UNUSABLE);
	long64(e, 0);
	assert_int_equal(mov_seg(e, X86_SEG_SS, 1), X86_EXC_GP);
	long64(e, 3);
	assert_int_equal(mov_seg(e, X86_SEG_SS, 3), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0);
}

static void test_out_of_limit_and_ldt(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0x100), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0x100);
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0xfff8 | 3), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0xfff8);
	/* LDT selector with no LDT loaded */
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0x0c), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0x0c);
	/* LLDT, then a data segment from the LDT */
	put64(e, LDT + 8, seg_desc(0x500000, 0xffff, ACC(0, 0x3), 0));
	e->cpu.gpr[0] = SEL_LDTD;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd0), 0); /* lldt ax */
	assert_int_equal(e->cpu.ldtr.base, LDT);
	assert_int_equal(e->cpu.ldtr.limit, 0x1f);
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0x0c), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].base, 0x500000);
	assert_true(get64(e, LDT + 8) & (1ull << 40));
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0x1c), X86_EXC_GP); /* past the LDT limit */
	assert_int_equal(e->cpu.fault_error_code, 0x1c);
	e->cpu.gpr[0] = 0;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd0), 0); /* lldt with null: LDT unusable */
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0x0c), X86_EXC_GP);
}

static void test_wrong_types(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	/* system descriptor, execute-only code into DS */
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_LDTD | 3), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_LDTD);
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_XONLY3 | 3), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_XONLY3);
	/* readable code is fine in DS */
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_CODE3 | 3), 0);
	/* SS needs writable data */
	assert_int_equal(mov_seg(e, X86_SEG_SS, SEL_RODATA3 | 3), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_RODATA3);
	assert_int_equal(mov_seg(e, X86_SEG_SS, SEL_CODE3 | 3), X86_EXC_GP);
	assert_int_equal(mov_seg(e, X86_SEG_SS, SEL_DATA3 | 3), 0);
	assert_true(e->cpu.intr_shadow); /* MOV SS blocks interrupts for one instruction */
}

static void test_privilege_checks(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_DATA0 | 3), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_DATA0);
	/* conforming readable code: no privilege check */
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_CONF0 | 3), 0);
	/* RPL > DPL */
	prot32(e, 0);
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_DATA1 | 2), X86_EXC_GP);
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_DATA1 | 1), 0);
	assert_int_equal(mov_seg(e, X86_SEG_DS, SEL_DATA3 | 3), 0);
	/* SS: RPL and DPL must equal CPL */
	assert_int_equal(mov_seg(e, X86_SEG_SS, SEL_DATA0 | 1), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_DATA0);
	assert_int_equal(mov_seg(e, X86_SEG_SS, SEL_DATA3 | 0), X86_EXC_GP);
	assert_int_equal(mov_seg(e, X86_SEG_SS, SEL_DATA1 | 0), X86_EXC_GP);
}

static void test_not_present(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	assert_int_equal(mov_seg(e, X86_SEG_ES, SEL_NP3 | 3), X86_EXC_NP);
	assert_int_equal(e->cpu.fault_error_code, SEL_NP3);
	assert_int_equal(mov_seg(e, X86_SEG_SS, SEL_NP3 | 3), X86_EXC_SS);
	assert_int_equal(e->cpu.fault_error_code, SEL_NP3);
	/* nothing changed, not even the accessed bit */
	assert_int_equal(e->cpu.seg[X86_SEG_ES].selector, SEL_DATA3 | 3);
	assert_false(gdt_get(e, SEL_NP3) & (1ull << 40));
}

static void test_real_mode_loads(void **state)
{
	struct env *e = *state;

	real_mode(e);
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0x1234), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].base, 0x12340);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].limit, 0xffff);
	/* push es / pop ds: 16-bit stack */
	e->cpu.seg[X86_SEG_ES].selector = 0xbeef;
	assert_int_equal(RUN(e, 0x06), 0);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 2);
	assert_int_equal(get16(e, STACK0 - 2), 0xbeef);
	assert_int_equal(RUN(e, 0x1f), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].base, 0xbeef0);
	assert_int_equal(e->cpu.gpr[4], STACK0);
	/* SP wraps at 64 KiB: push with SP = 0 writes at SS:FFFE */
	e->cpu.gpr[4] = 0x12340000;
	e->cpu.seg[X86_SEG_SS].selector = 0x2000;
	e->cpu.seg[X86_SEG_SS].base = 0x20000;
	assert_int_equal(RUN(e, 0x06), 0);
	assert_int_equal(e->cpu.gpr[4], 0x1234fffe);
	assert_int_equal(get16(e, 0x2fffe), 0xbeef);
	/* lds si, [bx] with DS = 0 (16-bit addressing) */
	assert_int_equal(mov_seg(e, X86_SEG_DS, 0), 0);
	e->cpu.gpr[3] = DATA;
	put16(e, DATA, 0x5678);
	put16(e, DATA + 2, 0x4000);
	assert_int_equal(RUN(e, 0xc5, 0x37), 0);
	assert_int_equal(e->cpu.gpr[6] & 0xffff, 0x5678);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].base, 0x40000);
}

static void test_push_pop_seg_protected(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	put32(e, STACK3 - 4, 0xaaaaaaaa);
	assert_int_equal(RUN(e, 0x1e), 0); /* push ds: 32-bit slot, 16-bit write */
	assert_int_equal(e->cpu.gpr[4], STACK3 - 4);
	assert_int_equal(get32(e, STACK3 - 4), 0xaaaa0000u | (SEL_DATA3 | 3));
	put32(e, STACK3 - 4, SEL_DATA0); /* pop es of a DPL 0 segment at CPL 3 */
	assert_int_equal(RUN(e, 0x07), X86_EXC_GP);
	assert_int_equal(e->cpu.gpr[4], STACK3 - 4);
	put32(e, STACK3 - 4, SEL_NP3 | 3);
	assert_int_equal(RUN(e, 0x07), X86_EXC_NP);
	put32(e, STACK3 - 4, SEL_RODATA3 | 3);
	assert_int_equal(RUN(e, 0x07), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_ES].selector, SEL_RODATA3 | 3);
	assert_int_equal(e->cpu.gpr[4], STACK3);
	/* stack limit: a 16-bit expand-up stack of limit 0xfff */
	gdt_set(e, SEL_DATA3, seg_desc(0, 0xfff, ACC(3, 0x3), 0));
	load(e, X86_SEG_SS, SEL_DATA3 | 3);
	e->cpu.gpr[4] = 0x1002;
	assert_int_equal(RUN(e, 0x66, 0x1e), X86_EXC_SS); /* bytes 0x1000-0x1001 past the limit */
	assert_int_equal(e->cpu.fault_error_code, 0);
	e->cpu.gpr[4] = 0x1000;
	assert_int_equal(RUN(e, 0x66, 0x1e), 0);
	assert_int_equal(e->cpu.gpr[4], 0xffe);
	/* expand-down stack: offsets above the limit are valid */
	gdt_set(e, SEL_DATA3, seg_desc(0, 0xfff, ACC(3, 0x7), F_DB));
	load(e, X86_SEG_SS, SEL_DATA3 | 3);
	e->cpu.gpr[4] = 0x1002;
	assert_int_equal(RUN(e, 0x66, 0x1e), 0);
	e->cpu.gpr[4] = 0x1001;
	assert_int_equal(RUN(e, 0x66, 0x1e), X86_EXC_SS);
}

static void test_push_pop_fs_64(void **state)
{
	struct env *e = *state;

	long64(e, 3);
	e->cpu.seg[X86_SEG_FS].base = 0x7777000;
	put64(e, STACK3 - 8, ~0ull);
	assert_int_equal(RUN(e, 0x0f, 0xa0), 0); /* push fs */
	assert_int_equal(e->cpu.gpr[4], STACK3 - 8);
	assert_int_equal(get64(e, STACK3 - 8), 0xffffffffffff0000ull | (SEL_DATA3 | 3));
	/* push es is #UD in 64-bit mode */
	assert_int_equal(RUN(e, 0x06), X86_EXC_UD);
	/* pop gs with a 32-bit descriptor base: FS/GS bases from descriptors are 32-bit */
	gdt_set(e, SEL_RODATA3, seg_desc(0x89abc000, 0xfffff, ACC(3, 0x1), F_G | F_DB));
	put64(e, STACK3 - 8, SEL_RODATA3 | 3);
	assert_int_equal(RUN(e, 0x0f, 0xa9), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_GS].base, 0x89abc000u);
	assert_int_equal(e->cpu.gpr[4], STACK3);
	/* mov fs, ax with null at CPL 3 in 64-bit mode: unusable, base cleared */
	assert_int_equal(mov_seg(e, X86_SEG_FS, 0), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_FS].base, 0);
}

static void test_mov_from_seg_and_lxs(void **state)
{
	struct env *e = *state;

	long64(e, 0);
	e->cpu.gpr[0] = ~0ull;
	assert_int_equal(RUN(e, 0x8c, 0xd8), 0); /* mov eax, ds: zero-extended */
	assert_int_equal(e->cpu.gpr[0], SEL_DATA0);
	e->cpu.gpr[0] = ~0ull;
	assert_int_equal(RUN(e, 0x66, 0x8c, 0xd8), 0); /* mov ax, ds: merges */
	assert_int_equal(e->cpu.gpr[0], 0xffffffffffff0000ull | SEL_DATA0);
	e->cpu.gpr[3] = DATA;
	put64(e, DATA, 0x1111111122222222ull);
	assert_int_equal(RUN(e, 0x8c, 0x1b), 0); /* mov [rbx], ds: 16-bit store */
	assert_int_equal(get64(e, DATA), 0x1111111122220000ull | SEL_DATA0);
	/* lss esp, [rbx]; REX.W lgs rax, [rbx] */
	put32(e, DATA, 0x9999);
	put16(e, DATA + 4, SEL_DATA0);
	assert_int_equal(RUN(e, 0x0f, 0xb2, 0x23), 0);
	assert_int_equal(e->cpu.gpr[4], 0x9999);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA0);
	assert_false(e->cpu.intr_shadow); /* only MOV SS / POP SS */
	put64(e, DATA, 0x123456789ull);
	put16(e, DATA + 8, SEL_DATA3 | 3);
	assert_int_equal(RUN(e, 0x48, 0x0f, 0xb5, 0x03), 0);
	assert_int_equal(e->cpu.gpr[0], 0x123456789ull);
	assert_int_equal(e->cpu.seg[X86_SEG_GS].selector, SEL_DATA3 | 3);
	/* a failing segment load leaves the register alone */
	put16(e, DATA + 8, SEL_NP3 | 3);
	e->cpu.gpr[0] = 5;
	assert_int_equal(RUN(e, 0x48, 0x0f, 0xb5, 0x03), X86_EXC_NP);
	assert_int_equal(e->cpu.gpr[0], 5);
}

/* ---- far JMP / CALL / RET ---- */

static void test_far_jmp_protected(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	/* jmp far 0x98:0x12345678 (ea ptr16:32) to DPL 1: nonconforming DPL != CPL */
	assert_int_equal(RUN(e, 0xea, 0x78, 0x56, 0x34, 0x12, SEL_CODE1, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_CODE1);
	/* RPL > CPL on a nonconforming segment */
	prot32(e, 1);
	assert_int_equal(RUN(e, 0xea, 0x78, 0x56, 0x34, 0x12, SEL_CODE1 | 2, 0), X86_EXC_GP);
	assert_int_equal(RUN(e, 0xea, 0x78, 0x56, 0x34, 0x12, SEL_CODE1 | 1, 0), 0);
	assert_int_equal(e->cpu.rip, 0x12345678);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, SEL_CODE1 | 1);
	/* conforming DPL 0 from CPL 3: CPL stays 3, RPL := CPL */
	prot32(e, 3);
	assert_int_equal(RUN(e, 0xea, 0x00, 0x10, 0x00, 0x00, SEL_CONF0, 0), 0);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, SEL_CONF0 | 3);
	assert_int_equal(e->cpu.rip, 0x1000);
	/* data segment, null, not present, beyond the limit */
	prot32(e, 0);
	assert_int_equal(RUN(e, 0xea, 0, 0, 0, 0, SEL_DATA0, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_DATA0);
	assert_int_equal(RUN(e, 0xea, 0, 0, 0, 0, 0, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0);
	assert_int_equal(RUN(e, 0xea, 0, 0, 0, 0, SEL_NPCODE0, 0), X86_EXC_NP);
	assert_int_equal(e->cpu.fault_error_code, SEL_NPCODE0);
	assert_int_equal(RUN(e, 0xea, 0, 0, 1, 0, SEL_CODE16_0, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0);
	/* into 16-bit code */
	assert_int_equal(RUN(e, 0xea, 0x34, 0x12, 0, 0, SEL_CODE16_0, 0), 0);
	assert_int_equal(e->cpu.mode, X86_MODE_PROT16);
	assert_int_equal(e->cpu.rip, 0x1234);
	/* TSS as a far JMP target: task switches are not supported */
	prot32(e, 0);
	assert_int_equal(RUN(e, 0xea, 0, 0, 0, 0, SEL_TSS, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_TSS);
}

static void test_far_call_ret_same_level(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	/* call far [ebx] (ff 1b) with m16:32 */
	e->cpu.gpr[3] = DATA;
	put32(e, DATA, 0x20000);
	put16(e, DATA + 4, SEL_CODE3 | 3);
	assert_int_equal(RUN(e, 0xff, 0x1b), 0);
	assert_int_equal(e->cpu.rip, 0x20000);
	assert_int_equal(e->cpu.gpr[4], STACK3 - 8);
	assert_int_equal(get32(e, STACK3 - 4), SEL_CODE3 | 3);
	assert_int_equal(get32(e, STACK3 - 8), CODE + 2);
	/* retf 8 */
	memcpy(e->mem + 0x20000, (uint8_t[]){0xca, 0x08, 0x00}, 3);
	assert_int_equal(x86_step(&e->cpu, &e->ops, e), 0);
	assert_int_equal(e->cpu.rip, CODE + 2);
	assert_int_equal(e->cpu.gpr[4], STACK3 + 8);
	/* retf to a more privileged level is #GP(selector) */
	e->cpu.gpr[4] = STACK3 - 8;
	put32(e, STACK3 - 4, SEL_CODE0);
	assert_int_equal(RUN(e, 0xcb), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_CODE0);
	assert_int_equal(e->cpu.gpr[4], STACK3 - 8);
	/* far call whose push does not fit in the stack: nothing changes */
	gdt_set(e, SEL_DATA3, seg_desc(0, 0xfffff, ACC(3, 0x7), F_DB)); /* expand-down, 1 MiB */
	load(e, X86_SEG_SS, SEL_DATA3 | 3);
	e->cpu.gpr[4] = 0x100004; /* only 4 bytes above the limit */
	assert_int_equal(RUN(e, 0xff, 0x1b), X86_EXC_SS);
	assert_int_equal(e->cpu.gpr[4], 0x100004);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, SEL_CODE3 | 3);
}

/* CALL through a 32-bit call gate from CPL 3 to CPL 0 with 2 parameters, then RETF 8 back. */
static void test_call_gate_32(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	gdt_set(e, SEL_GATE, gate_lo(0x30000, SEL_CODE0, SYS(3, 0xc), 2));
	e->cpu.gpr[4] = STACK3 - 8;
	put32(e, STACK3 - 8, 0x11111111); /* parameter 1 (top of stack) */
	put32(e, STACK3 - 4, 0x22222222);
	/* call far SEL_GATE:0 (offset ignored) */
	assert_int_equal(RUN(e, 0x9a, 0xef, 0xbe, 0, 0, SEL_GATE | 3, 0), 0);
	assert_int_equal(e->cpu.cpl, 0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, SEL_CODE0);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA0);
	assert_int_equal(e->cpu.rip, 0x30000);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 24);
	assert_int_equal(get32(e, STACK0 - 4), SEL_DATA3 | 3);
	assert_int_equal(get32(e, STACK0 - 8), STACK3 - 8);
	assert_int_equal(get32(e, STACK0 - 12), 0x22222222);
	assert_int_equal(get32(e, STACK0 - 16), 0x11111111);
	assert_int_equal(get32(e, STACK0 - 20), SEL_CODE3 | 3);
	assert_int_equal(get32(e, STACK0 - 24), CODE + 7);
	/* retf 8: back to CPL 3, releasing the parameters on both stacks; DS of DPL 0 is nulled */
	load(e, X86_SEG_DS, SEL_DATA0);
	load(e, X86_SEG_ES, SEL_DATA3 | 3);
	memcpy(e->mem + 0x30000, (uint8_t[]){0xca, 0x08, 0x00}, 3);
	assert_int_equal(x86_step(&e->cpu, &e->ops, e), 0);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.rip, CODE + 7);
	assert_int_equal(e->cpu.gpr[4], STACK3);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA3 | 3);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].selector, 0);
	assert_true(e->cpu.seg[X86_SEG_DS].attr & X86_SEGA_UNUSABLE);
	assert_int_equal(e->cpu.seg[X86_SEG_ES].selector, SEL_DATA3 | 3);

	/* gate checks: DPL < CPL, not present, target DPL > CPL, JMP to a lower level */
	prot32(e, 3);
	gdt_set(e, SEL_GATE, gate_lo(0x30000, SEL_CODE0, SYS(0, 0xc), 0));
	assert_int_equal(RUN(e, 0x9a, 0, 0, 0, 0, SEL_GATE | 3, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_GATE);
	gdt_set(e, SEL_GATE, gate_lo(0x30000, SEL_CODE0, SYS(3, 0xc) & ~0x80u, 0));
	assert_int_equal(RUN(e, 0x9a, 0, 0, 0, 0, SEL_GATE | 3, 0), X86_EXC_NP);
	assert_int_equal(e->cpu.fault_error_code, SEL_GATE);
	gdt_set(e, SEL_GATE, gate_lo(0x30000, SEL_CODE0, SYS(3, 0xc), 0));
	assert_int_equal(RUN(e, 0xea, 0, 0, 0, 0, SEL_GATE | 3, 0), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_CODE0);
	gdt_set(e, SEL_GATE, gate_lo(0x30000, SEL_NPCODE0, SYS(3, 0xc), 0));
	assert_int_equal(RUN(e, 0x9a, 0, 0, 0, 0, SEL_GATE | 3, 0), X86_EXC_NP);
	assert_int_equal(e->cpu.fault_error_code, SEL_NPCODE0);
	/* TSS stack of CPL 0 not writable: #TS(SS selector) */
	gdt_set(e, SEL_GATE, gate_lo(0x30000, SEL_CODE0, SYS(3, 0xc), 0));
	put32(e, TSS + 8, SEL_CODE0);
	assert_int_equal(RUN(e, 0x9a, 0, 0, 0, 0, SEL_GATE | 3, 0), X86_EXC_TS);
	assert_int_equal(e->cpu.fault_error_code, SEL_CODE0);
	assert_int_equal(e->cpu.cpl, 3);
	/* a 16-bit call gate at the same level: 16-bit pushes */
	prot32(e, 0);
	gdt_set(e, SEL_GATE, gate_lo(0x1234, SEL_CODE0, SYS(0, 0x4), 0));
	assert_int_equal(RUN(e, 0x9a, 0, 0, 0, 0, SEL_GATE, 0), 0);
	assert_int_equal(e->cpu.rip, 0x1234);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 4);
	assert_int_equal(get16(e, STACK0 - 2), SEL_CODE0);
	assert_int_equal(get16(e, STACK0 - 4), (CODE + 7) & 0xffff);
}

/* 64-bit call gate from CPL 3 to a 64-bit CPL 0 segment; REX.W RETF back (SS:RSP popped). */
static void test_call_gate_64(void **state)
{
	struct env *e = *state;

	long64(e, 3);
	gdt_set(e, SEL_GATE, gate_lo(0x40000, SEL_CODE64_0, SYS(3, 0xc), 0));
	put64(e, GDT + SEL_GATE + 8, 0x1); /* offset bits 63:32 = 1 */
	e->cpu.gpr[3] = DATA;
	put64(e, DATA, 0);
	put16(e, DATA + 4, SEL_GATE | 3);
	assert_int_equal(RUN(e, 0xff, 0x1b), 0); /* call far [rbx] m16:32 */
	assert_int_equal(e->cpu.rip, 0x100040000ull);
	assert_int_equal(e->cpu.cpl, 0);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, 0);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 32);
	assert_int_equal(get64(e, STACK0 - 8), SEL_DATA3 | 3);
	assert_int_equal(get64(e, STACK0 - 16), STACK3);
	assert_int_equal(get64(e, STACK0 - 24), SEL_CODE64_3 | 3);
	assert_int_equal(get64(e, STACK0 - 32), CODE + 2);
	/* the upper type field of a 16-byte gate must be 0 */
	long64(e, 3);
	put64(e, GDT + SEL_GATE + 8, 0x1ull | (0x0cull << 40));
	e->cpu.gpr[3] = DATA;
	assert_int_equal(RUN(e, 0xff, 0x1b), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_GATE);
	/* 64-bit gates to a 32-bit segment are #GP(target) */
	put64(e, GDT + SEL_GATE + 8, 0);
	gdt_set(e, SEL_GATE, gate_lo(0x40000, SEL_CODE0, SYS(3, 0xc), 0));
	assert_int_equal(RUN(e, 0xff, 0x1b), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_CODE0);
	/* 16-bit gate type is invalid in IA-32e mode */
	gdt_set(e, SEL_GATE, gate_lo(0x40000, SEL_CODE64_0, SYS(3, 0x4), 0));
	assert_int_equal(RUN(e, 0xff, 0x1b), X86_EXC_GP);

	/* REX.W RETF from CPL 0 to CPL 3: pops RIP, CS, RSP, SS */
	long64(e, 0);
	e->cpu.gpr[4] = STACK0 - 32;
	put64(e, STACK0 - 32, 0x50000);
	put64(e, STACK0 - 24, SEL_CODE64_3 | 3);
	put64(e, STACK0 - 16, STACK3 - 0x100);
	put64(e, STACK0 - 8, SEL_DATA3 | 3);
	assert_int_equal(RUN(e, 0x48, 0xcb), 0);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.rip, 0x50000);
	assert_int_equal(e->cpu.gpr[4], STACK3 - 0x100);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA3 | 3);
	assert_int_equal(e->cpu.mode, X86_MODE_LONG64);
	/* retf to CPL 3 with a null SS: #GP(0) */
	long64(e, 0);
	e->cpu.gpr[4] = STACK0 - 32;
	put64(e, STACK0 - 8, 0);
	assert_int_equal(RUN(e, 0x48, 0xcb), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0);
	/* non-canonical return RIP into 64-bit code: #GP(0) */
	put64(e, STACK0 - 8, SEL_DATA3 | 3);
	put64(e, STACK0 - 32, 0x0000800000000000ull);
	assert_int_equal(RUN(e, 0x48, 0xcb), X86_EXC_GP);
	/* far jmp m16:64 to compatibility mode */
	long64(e, 0);
	e->cpu.gpr[3] = DATA;
	put64(e, DATA, 0x60000);
	put16(e, DATA + 8, SEL_CODE0);
	assert_int_equal(RUN(e, 0x48, 0xff, 0x2b), 0);
	assert_int_equal(e->cpu.mode, X86_MODE_PROT32);
	assert_int_equal(e->cpu.rip, 0x60000);
}

static void test_far_real_mode(void **state)
{
	struct env *e = *state;

	real_mode(e);
	/* call far 0x2000:0x0010 */
	assert_int_equal(RUN(e, 0x9a, 0x10, 0x00, 0x00, 0x20), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].base, 0x20000);
	assert_int_equal(e->cpu.rip, 0x10);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 4);
	assert_int_equal(get16(e, STACK0 - 2), CODE >> 4);
	assert_int_equal(get16(e, STACK0 - 4), 5);
	/* retf */
	e->mem[0x20010] = 0xcb;
	assert_int_equal(x86_step(&e->cpu, &e->ops, e), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].base, CODE);
	assert_int_equal(e->cpu.rip, 5);
	assert_int_equal(e->cpu.gpr[4], STACK0);
	/* jmp far with a 32-bit offset beyond the CS limit */
	real_mode(e);
	assert_int_equal(RUN(e, 0x66, 0xea, 0, 0, 1, 0, 0, 0x20), X86_EXC_GP);
	assert_int_equal(RUN(e, 0xea, 0x34, 0x12, 0x00, 0xf0), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].base, 0xf0000);
	assert_int_equal(e->cpu.rip, 0x1234);
}

/* ---- descriptor tables ---- */

static void test_lgdt_sgdt(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	e->cpu.gpr[3] = DATA;
	put16(e, DATA, 0x1ff);
	put32(e, DATA + 2, 0xaabbccdd);
	assert_int_equal(RUN(e, 0x0f, 0x01, 0x13), 0); /* lgdt [ebx] */
	assert_int_equal(e->cpu.gdtr.base, 0xaabbccdd);
	assert_int_equal(e->cpu.gdtr.limit, 0x1ff);
	assert_int_equal(RUN(e, 0x66, 0x0f, 0x01, 0x1b), 0); /* o16 lidt: 24-bit base */
	assert_int_equal(e->cpu.idtr.base, 0xbbccdd);
	e->cpu.gpr[3] = DATA + 0x10;
	assert_int_equal(RUN(e, 0x0f, 0x01, 0x03), 0); /* sgdt [ebx] */
	assert_int_equal(get16(e, DATA + 0x10), 0x1ff);
	assert_int_equal(get32(e, DATA + 0x12), 0xaabbccdd);
	/* CPL 3: loads #GP(0), stores allowed */
	e->cpu.cpl = 3;
	assert_int_equal(RUN(e, 0x0f, 0x01, 0x13), X86_EXC_GP);
	assert_int_equal(RUN(e, 0x0f, 0x01, 0x0b), 0); /* sidt */
	assert_int_equal(get32(e, DATA + 0x12), 0xbbccdd);
	/* 64-bit mode: 10 bytes */
	long64(e, 0);
	e->cpu.gpr[3] = DATA;
	put16(e, DATA, 0xfff);
	put64(e, DATA + 2, 0xffff800012345000ull);
	assert_int_equal(RUN(e, 0x0f, 0x01, 0x1b), 0);
	assert_int_equal(e->cpu.idtr.base, 0xffff800012345000ull);
	e->cpu.gpr[3] = DATA + 0x20;
	assert_int_equal(RUN(e, 0x0f, 0x01, 0x0b), 0);
	assert_int_equal(get64(e, DATA + 0x22), 0xffff800012345000ull);
}

static void test_ltr_str_sldt(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	e->cpu.gpr[0] = SEL_TSS;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd8), 0); /* ltr ax */
	assert_int_equal(e->cpu.tr.base, TSS);
	assert_int_equal(e->cpu.tr.attr & 0xf, 0xb);
	assert_int_equal((gdt_get(e, SEL_TSS) >> 40) & 0xf, 0xb); /* marked busy */
	/* loading it again: busy -> #GP(sel) */
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd8), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_TSS);
	e->cpu.gpr[0] = 0;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd8), X86_EXC_GP);
	e->cpu.gpr[0] = SEL_LDTD;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd8), X86_EXC_GP);
	/* str eax: zero-extended; str [ebx]: 16 bits */
	e->cpu.gpr[0] = ~0u;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xc8), 0);
	assert_int_equal(e->cpu.gpr[0], SEL_TSS);
	e->cpu.gpr[3] = DATA;
	put32(e, DATA, 0xffffffff);
	assert_int_equal(RUN(e, 0x0f, 0x00, 0x0b), 0);
	assert_int_equal(get32(e, DATA), 0xffff0000u | SEL_TSS);
	/* LTR/LLDT at CPL 3: #GP(0); LLDT of a TSS: #GP(sel); LLDT not present: #NP */
	e->cpu.cpl = 3;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd8), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, 0);
	e->cpu.cpl = 0;
	e->cpu.gpr[0] = SEL_TSS;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd0), X86_EXC_GP);
	gdt_set(e, SEL_LDTD, seg_desc(LDT, 0x1f, SYS(0, 0x2) & ~0x80u, 0));
	e->cpu.gpr[0] = SEL_LDTD;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd0), X86_EXC_NP);
	assert_int_equal(e->cpu.fault_error_code, SEL_LDTD);
	/* 64-bit mode: 16-byte descriptors with the upper base */
	long64(e, 0);
	gdt_set(e, SEL_TSS, seg_desc(TSS, 0x67, SYS(0, 0x9), 0));
	put64(e, GDT + SEL_TSS + 8, 0xffff8000);
	e->cpu.gpr[0] = SEL_TSS;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd8), 0);
	assert_int_equal(e->cpu.tr.base, 0xffff800000000000ull | TSS);
	gdt_set(e, SEL_LDTD, seg_desc(LDT, 0x1f, SYS(0, 0x2), 0));
	put64(e, GDT + SEL_LDTD + 8, 0x00008000); /* non-canonical base */
	e->cpu.gpr[0] = SEL_LDTD;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd0), X86_EXC_GP);
	put64(e, GDT + SEL_LDTD + 8, 0);
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd0), 0);
	e->cpu.gpr[1] = ~0ull;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xc1), 0); /* sldt ecx */
	assert_int_equal(e->cpu.gpr[1], SEL_LDTD);
	/* a 32-bit TSS type 1 (16-bit) is invalid in IA-32e mode */
	gdt_set(e, SEL_TSS, seg_desc(TSS, 0x67, SYS(0, 0x1), 0));
	put64(e, GDT + SEL_TSS + 8, 0);
	e->cpu.gpr[0] = SEL_TSS;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xd8), X86_EXC_GP);
}

static void test_lar_lsl_verr_verw(void **state)
{
	struct env *e = *state;
	uint64_t zf = X86_FLAG_ZF;

	prot32(e, 3);
	e->cpu.gpr[3] = SEL_DATA3 | 3;
	assert_int_equal(RUN(e, 0x0f, 0x02, 0xc3), 0); /* lar eax, bx */
	assert_true(e->cpu.rflags & zf);
	assert_int_equal(e->cpu.gpr[0], (gdt_get(e, SEL_DATA3) >> 32) & 0x00f0ff00);
	assert_int_equal(RUN(e, 0x0f, 0x03, 0xc3), 0); /* lsl eax, bx */
	assert_int_equal(e->cpu.gpr[0], 0xffffffffu);
	/* DPL 0 at CPL 3: ZF = 0, destination unchanged */
	e->cpu.gpr[3] = SEL_DATA0;
	e->cpu.gpr[0] = 77;
	assert_int_equal(RUN(e, 0x0f, 0x02, 0xc3), 0);
	assert_false(e->cpu.rflags & zf);
	assert_int_equal(e->cpu.gpr[0], 77);
	/* conforming code: visible; null and out of limit: ZF = 0 */
	e->cpu.gpr[3] = SEL_CONF0;
	assert_int_equal(RUN(e, 0x0f, 0x02, 0xc3), 0);
	assert_true(e->cpu.rflags & zf);
	e->cpu.gpr[3] = 0;
	assert_int_equal(RUN(e, 0x0f, 0x02, 0xc3), 0);
	assert_false(e->cpu.rflags & zf);
	e->cpu.gpr[3] = 0x7f8;
	assert_int_equal(RUN(e, 0x0f, 0x03, 0xc3), 0);
	assert_false(e->cpu.rflags & zf);
	/* system types: LDT ok for LSL at CPL 0, a call gate not for LSL but for LAR */
	prot32(e, 0);
	gdt_set(e, SEL_GATE, gate_lo(0x1000, SEL_CODE0, SYS(0, 0xc), 0));
	e->cpu.gpr[3] = SEL_LDTD;
	assert_int_equal(RUN(e, 0x0f, 0x03, 0xc3), 0);
	assert_true(e->cpu.rflags & zf);
	assert_int_equal(e->cpu.gpr[0], 0x1f);
	e->cpu.gpr[3] = SEL_GATE;
	assert_int_equal(RUN(e, 0x0f, 0x03, 0xc3), 0);
	assert_false(e->cpu.rflags & zf);
	assert_int_equal(RUN(e, 0x0f, 0x02, 0xc3), 0);
	assert_true(e->cpu.rflags & zf);
	/* verr/verw */
	prot32(e, 3);
	e->cpu.gpr[3] = SEL_XONLY3 | 3;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xe3), 0); /* verr bx */
	assert_false(e->cpu.rflags & zf);
	e->cpu.gpr[3] = SEL_CODE3 | 3;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xe3), 0);
	assert_true(e->cpu.rflags & zf);
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xeb), 0); /* verw: code is not writable */
	assert_false(e->cpu.rflags & zf);
	e->cpu.gpr[3] = SEL_DATA3 | 3;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xeb), 0);
	assert_true(e->cpu.rflags & zf);
	e->cpu.gpr[3] = SEL_RODATA3 | 3;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xeb), 0);
	assert_false(e->cpu.rflags & zf);
	e->cpu.gpr[3] = SEL_DATA0;
	assert_int_equal(RUN(e, 0x0f, 0x00, 0xe3), 0);
	assert_false(e->cpu.rflags & zf);
	/* LAR in real mode is #UD */
	real_mode(e);
	assert_int_equal(RUN(e, 0x0f, 0x02, 0xc3), X86_EXC_UD);
}

static void test_arpl(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	e->cpu.gpr[0] = 0xffff0010; /* dest RPL 0 */
	e->cpu.gpr[3] = 0x0003;
	assert_int_equal(RUN(e, 0x63, 0xd8), 0); /* arpl ax, bx */
	assert_int_equal(e->cpu.gpr[0], 0xffff0013);
	assert_true(e->cpu.rflags & X86_FLAG_ZF);
	assert_int_equal(RUN(e, 0x63, 0xd8), 0);
	assert_false(e->cpu.rflags & X86_FLAG_ZF);
	assert_int_equal(e->cpu.gpr[0], 0xffff0013);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mov_ds_loads_cache_and_sets_accessed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_null_selectors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_out_of_limit_and_ldt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_privilege_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_present, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_real_mode_loads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_pop_seg_protected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_pop_fs_64, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mov_from_seg_and_lxs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_far_jmp_protected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_far_call_ret_same_level, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_call_gate_32, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_call_gate_64, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_far_real_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lgdt_sgdt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ltr_str_sldt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lar_lsl_verr_verw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_arpl, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
