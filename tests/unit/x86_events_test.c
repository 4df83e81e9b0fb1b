/*
 * Event delivery of the emu CPU (Intel SDM vol. 3A ch. 6, 20.1.4; vol. 2 INT n, IRET, SYSCALL,
 * SYSRET): real-mode IVT, protected-mode and IA-32e gates with stack switches and IST, error
 * codes and the EXT bit, #DF and triple fault, CR2, NMI blocking, SYSCALL/SYSRET.
 */
#include "x86_sys_env.h"

static void idt32(struct env *e, unsigned vector, uint32_t off, uint16_t sel, unsigned type,
		  unsigned dpl)
{
	put64(e, IDT + vector * 8, gate_lo(off, sel, SYS(dpl, type), 0));
}

static void idt64(struct env *e, unsigned vector, uint64_t off, uint16_t sel, unsigned type,
		  unsigned dpl, unsigned ist)
{
	put64(e, IDT + vector * 16, gate_lo(off, sel, SYS(dpl, type), ist));
	put64(e, IDT + vector * 16 + 8, off >> 32);
}

static int deliver(struct env *e, enum x86_event_kind kind, int v)
{
	return x86_deliver_event(&e->cpu, &e->ops, e, kind, v);
}

/* ---- real mode ---- */

static void test_real_mode_int_iret(void **state)
{
	struct env *e = *state;

	real_mode(e);
	put16(e, 0x21 * 4, 0x0100);	/* IP */
	put16(e, 0x21 * 4 + 2, 0x3000); /* CS */
	e->cpu.rflags = 0x2 | X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_AC | X86_FLAG_CF;
	assert_int_equal(RUN(e, 0xcd, 0x21), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, 0x3000);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].base, 0x30000);
	assert_int_equal(e->cpu.rip, 0x100);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_CF);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 6);
	assert_int_equal(get16(e, STACK0 - 2), (0x2 | X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_CF));
	assert_int_equal(get16(e, STACK0 - 4), CODE >> 4);
	assert_int_equal(get16(e, STACK0 - 6), 2);
	/* iret */
	e->mem[0x30100] = 0xcf;
	e->cpu.nmi_blocked = true;
	assert_int_equal(x86_step(&e->cpu, &e->ops, e), 0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].base, CODE);
	assert_int_equal(e->cpu.rip, 2);
	assert_int_equal(e->cpu.gpr[4], STACK0);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_CF);
	assert_false(e->cpu.nmi_blocked);
	/* an external interrupt pushes the current IP and wakes a halted CPU */
	e->cpu.halted = true;
	e->cpu.rip = 0x55;
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x21), 0);
	assert_false(e->cpu.halted);
	assert_int_equal(get16(e, STACK0 - 6), 0x55);
	/* IVT limit: #GP, which is then delivered through vector 13 */
	real_mode(e);
	e->cpu.idtr.limit = 0x83;
	put16(e, 13 * 4, 0x0200);
	put16(e, 13 * 4 + 2, 0x3000);
	assert_int_equal(RUN(e, 0xcd, 0x21), 0);
	assert_int_equal(e->cpu.rip, 0x200);
	assert_int_equal(get16(e, STACK0 - 6), 0); /* the INT instruction itself */
	/* 32-bit IRET in real mode: EIP above the CS limit is #GP */
	real_mode(e);
	e->cpu.gpr[4] = STACK0 - 12;
	put32(e, STACK0 - 12, 0x10000);
	put32(e, STACK0 - 8, 0x1000);
	put32(e, STACK0 - 4, 0x2);
	assert_int_equal(RUN(e, 0x66, 0xcf), X86_EXC_GP);
	put32(e, STACK0 - 12, 0xfff0);
	assert_int_equal(RUN(e, 0x66, 0xcf), 0);
	assert_int_equal(e->cpu.rip, 0xfff0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].base, 0x10000);
}

/* ---- protected mode ---- */

static void test_prot32_int_privilege_change_and_iret(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	idt32(e, 0x80, 0x40000, SEL_CODE0, 0xe, 3);
	e->cpu.rflags = 0x2 | X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_NT | X86_FLAG_ZF;
	assert_int_equal(RUN(e, 0xcd, 0x80), 0);
	assert_int_equal(e->cpu.cpl, 0);
	assert_int_equal(e->cpu.rip, 0x40000);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, SEL_CODE0);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA0);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 20);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_ZF); /* IF TF NT cleared */
	assert_int_equal(get32(e, STACK0 - 4), SEL_DATA3 | 3);
	assert_int_equal(get32(e, STACK0 - 8), STACK3);
	assert_int_equal(get32(e, STACK0 - 12),
			 0x2 | X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_NT | X86_FLAG_ZF);
	assert_int_equal(get32(e, STACK0 - 16), SEL_CODE3 | 3);
	assert_int_equal(get32(e, STACK0 - 20), CODE + 2);
	assert_true(gdt_get(e, SEL_DATA0) & (1ull << 40));
	/* iret to CPL 3 (NT cleared in the frame so that it is not a task return) */
	put32(e, STACK0 - 12, 0x2 | X86_FLAG_IF | X86_FLAG_IOPL | X86_FLAG_CF);
	load(e, X86_SEG_DS, SEL_DATA0);
	e->mem[0x40000] = 0xcf;
	assert_int_equal(x86_step(&e->cpu, &e->ops, e), 0);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.rip, CODE + 2);
	assert_int_equal(e->cpu.gpr[4], STACK3);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA3 | 3);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_IF | X86_FLAG_IOPL | X86_FLAG_CF);
	assert_int_equal(e->cpu.seg[X86_SEG_DS].selector, 0); /* DPL 0 data nulled */
	/* at CPL 3 with IOPL 0, IRET can change neither IF nor IOPL */
	prot32(e, 3);
	e->cpu.rflags = 0x2;
	e->cpu.gpr[4] = STACK3 - 12;
	put32(e, STACK3 - 12, 0x1234);
	put32(e, STACK3 - 8, SEL_CODE3 | 3);
	put32(e, STACK3 - 4, 0x2 | X86_FLAG_IF | X86_FLAG_IOPL | X86_FLAG_OF);
	assert_int_equal(RUN(e, 0xcf), 0);
	assert_int_equal(e->cpu.rip, 0x1234);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_OF);
	assert_int_equal(e->cpu.gpr[4], STACK3);
	/* iret to a more privileged level: #GP(selector) */
	e->cpu.gpr[4] = STACK3 - 12;
	put32(e, STACK3 - 8, SEL_CODE0);
	assert_int_equal(RUN(e, 0xcf), X86_EXC_GP);
	assert_int_equal(e->cpu.fault_error_code, SEL_CODE0);
	/* NT set: task return, not supported -> #GP(0) */
	e->cpu.rflags |= X86_FLAG_NT;
	assert_int_equal(RUN(e, 0xcf), X86_EXC_GP);
}

static void test_prot32_same_level_error_code(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	idt32(e, 13, 0x41000, SEL_CODE0, 0xf, 0); /* trap gate: IF kept */
	e->cpu.rflags = 0x2 | X86_FLAG_IF;
	e->cpu.rip = 0x1234;
	e->cpu.fault_error_code = 0x58;
	assert_int_equal(deliver(e, X86_EVENT_EXCEPTION, X86_EXC_GP), 0);
	assert_int_equal(e->cpu.rip, 0x41000);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_IF);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 16);
	assert_int_equal(get32(e, STACK0 - 12), 0x1234);
	assert_int_equal(get32(e, STACK0 - 16), 0x58);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA0);
	/* a 16-bit interrupt gate pushes 16-bit values */
	prot32(e, 0);
	idt32(e, 0x30, 0x2345, SEL_CODE16_0, 0x6, 0);
	e->cpu.rip = 0x100;
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x30), 0);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 6);
	assert_int_equal(get16(e, STACK0 - 6), 0x100);
	assert_int_equal(e->cpu.rip, 0x2345);
	assert_int_equal(e->cpu.mode, X86_MODE_PROT16);
	/* a conforming handler runs at the current CPL on the current stack */
	prot32(e, 3);
	idt32(e, 0x31, 0x5000, SEL_CONF0, 0xe, 3);
	assert_int_equal(RUN(e, 0xcd, 0x31), 0);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, SEL_CONF0 | 3);
	assert_int_equal(e->cpu.gpr[4], STACK3 - 12);
}

/* INT n checks the gate DPL against CPL: #GP(vector * 8 + 2), delivered through vector 13. */
static void test_int_dpl_check(void **state)
{
	struct env *e = *state;

	prot32(e, 3);
	idt32(e, 0x81, 0x40000, SEL_CODE0, 0xe, 0);
	idt32(e, 13, 0x41000, SEL_CODE0, 0xe, 0);
	assert_int_equal(RUN(e, 0xcd, 0x81), 0);
	assert_int_equal(e->cpu.rip, 0x41000);
	assert_int_equal(get32(e, STACK0 - 24), 0x81 * 8 + 2); /* no EXT: software */
	assert_int_equal(get32(e, STACK0 - 20), CODE);	      /* the INT instruction */
	/* a hardware interrupt ignores the gate DPL */
	prot32(e, 3);
	e->cpu.rip = 0x777;
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x81), 0);
	assert_int_equal(e->cpu.rip, 0x40000);
	assert_int_equal(get32(e, STACK0 - 20), 0x777);
	/* INT3 checks DPL too; INT1 (ICEBP) does not */
	prot32(e, 3);
	idt32(e, 3, 0x42000, SEL_CODE0, 0xe, 0);
	idt32(e, 1, 0x43000, SEL_CODE0, 0xe, 0);
	assert_int_equal(RUN(e, 0xcc), 0);
	assert_int_equal(e->cpu.rip, 0x41000);
	assert_int_equal(get32(e, STACK0 - 24), 3 * 8 + 2);
	prot32(e, 3);
	assert_int_equal(RUN(e, 0xf1), 0);
	assert_int_equal(e->cpu.rip, 0x43000);
	assert_int_equal(get32(e, STACK0 - 20), CODE + 1);
	/* INTO: nothing without OF; #OF with it */
	prot32(e, 3);
	idt32(e, 4, 0x44000, SEL_CODE0, 0xe, 3);
	assert_int_equal(RUN(e, 0xce), 0);
	assert_int_equal(e->cpu.rip, CODE + 1);
	e->cpu.rflags |= X86_FLAG_OF;
	assert_int_equal(RUN(e, 0xce), 0);
	assert_int_equal(e->cpu.rip, 0x44000);
	/* INTO is #UD in 64-bit mode */
	long64(e, 3);
	assert_int_equal(RUN(e, 0xce), X86_EXC_UD);
}

/* An external interrupt whose gate is not present: #NP(vector*8 + 2 + EXT). */
static void test_ext_bit(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	idt32(e, 11, 0x45000, SEL_CODE0, 0xe, 0);
	put64(e, IDT + 0x40 * 8, gate_lo(0x1000, SEL_CODE0, SYS(0, 0xe) & ~0x80u, 0));
	e->cpu.rip = 0x999;
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x40), 0);
	assert_int_equal(e->cpu.rip, 0x45000);
	assert_int_equal(get32(e, STACK0 - 16), 0x40 * 8 + 2 + 1);
	assert_int_equal(get32(e, STACK0 - 12), 0x999);
	/* handler CS not present: #NP(sel + EXT) */
	prot32(e, 0);
	idt32(e, 11, 0x45000, SEL_CODE0, 0xe, 0);
	idt32(e, 0x41, 0x1000, SEL_NPCODE0, 0xe, 0);
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x41), 0);
	assert_int_equal(get32(e, STACK0 - 16), SEL_NPCODE0 | 1);
	/* IDT limit exceeded by an NMI: #GP(2*8+2+1); NMI blocking set */
	prot32(e, 0);
	idt32(e, 13, 0x46000, SEL_CODE0, 0xe, 0);
	idt32(e, 2, 0x47000, SEL_CODE0, 0xe, 0);
	assert_int_equal(deliver(e, X86_EVENT_NMI, 2), 0);
	assert_int_equal(e->cpu.rip, 0x47000);
	assert_true(e->cpu.nmi_blocked);
	/* IRET clears it */
	e->mem[0x47000] = 0xcf;
	assert_int_equal(x86_step(&e->cpu, &e->ops, e), 0);
	assert_false(e->cpu.nmi_blocked);
	/* task gate in the IDT: unsupported, #GP(vector*8+2+EXT) */
	prot32(e, 0);
	idt32(e, 13, 0x46000, SEL_CODE0, 0xe, 0);
	idt32(e, 0x50, 0, SEL_TSS, 0x5, 0);
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x50), 0);
	assert_int_equal(e->cpu.rip, 0x46000);
	assert_int_equal(get32(e, STACK0 - 16), 0x50 * 8 + 3);
}

/* #GP while delivering #GP: #DF (error code 0); a fault delivering #DF: triple fault. */
static void test_double_and_triple_fault(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	idt32(e, 8, 0x48000, SEL_CODE0, 0xe, 0);
	put64(e, IDT + 13 * 8, 0); /* #GP gate not present -> #NP: contributory twice */
	e->cpu.rip = 0x1111;
	e->cpu.fault_error_code = 0;
	assert_int_equal(deliver(e, X86_EVENT_EXCEPTION, X86_EXC_GP), 0);
	assert_int_equal(e->cpu.rip, 0x48000);
	assert_int_equal(get32(e, STACK0 - 16), 0);
	assert_int_equal(get32(e, STACK0 - 12), 0x1111);
	/* benign first (#UD), then #NP: handled one after the other, no #DF */
	prot32(e, 0);
	idt32(e, 8, 0x48000, SEL_CODE0, 0xe, 0);
	idt32(e, 11, 0x49000, SEL_CODE0, 0xe, 0);
	put64(e, IDT + 6 * 8, gate_lo(0x1000, SEL_CODE0, SYS(0, 0xe) & ~0x80u, 0));
	assert_int_equal(deliver(e, X86_EVENT_EXCEPTION, X86_EXC_UD), 0);
	assert_int_equal(e->cpu.rip, 0x49000);
	assert_int_equal(get32(e, STACK0 - 16), 6 * 8 + 3);
	/* #DF gate missing too: triple fault, state unchanged apart from nothing committed */
	prot32(e, 0);
	put64(e, IDT + 13 * 8, 0);
	put64(e, IDT + 8 * 8, 0);
	e->cpu.rip = 0x2222;
	assert_int_equal(deliver(e, X86_EVENT_EXCEPTION, X86_EXC_GP), X86_TRIPLE_FAULT);
	assert_int_equal(e->cpu.rip, 0x2222);
	assert_int_equal(e->cpu.gpr[4], STACK0);
	/* a CPL 0 stack that cannot take the frame: #SS(SS0) (serial after INT n), #SS again
	 * while delivering it (#DF), and #DF needs that stack as well: triple fault */
	prot32(e, 3);
	idt32(e, 0x80, 0x40000, SEL_CODE0, 0xe, 3);
	idt32(e, 8, 0x48000, SEL_CODE0, 0xe, 0);
	idt32(e, 12, 0x4a000, SEL_CODE0, 0xe, 0);
	gdt_set(e, SEL_DATA0, seg_desc(0, 0xffff, ACC(0, 0x3), F_DB));
	put32(e, TSS + 4, 0x20000);
	assert_int_equal(RUN(e, 0xcd, 0x80), X86_TRIPLE_FAULT);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.rip, CODE);
	assert_int_equal(e->cpu.gpr[4], STACK3);
	/* the same with an expand-down stack segment whose valid offsets start above ESP0 */
	gdt_set(e, SEL_DATA0, seg_desc(0, 0x8fff, ACC(0, 0x7), F_DB)); /* expand-down: >0x8fff */
	put32(e, TSS + 4, 0x8ff0);
	idt32(e, 12, 0x4a000, SEL_CODE0, 0xe, 3);
	assert_int_equal(RUN(e, 0xcd, 0x80), X86_TRIPLE_FAULT);
	/* a conforming #SS handler runs on the user stack: #SS(SS0 selector), no EXT after INT n,
	 * and the saved EIP is the INT instruction */
	idt32(e, 12, 0x4a000, SEL_CONF0, 0xe, 0);
	assert_int_equal(RUN(e, 0xcd, 0x80), 0);
	assert_int_equal(e->cpu.rip, 0x4a000);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(get32(e, STACK3 - 16), SEL_DATA0);
	assert_int_equal(get32(e, STACK3 - 12), CODE);
}

static void test_page_fault_cr2(void **state)
{
	struct env *e = *state;

	prot32(e, 0);
	idt32(e, 14, 0x4b000, SEL_CODE0, 0xe, 0);
	e->cpu.fault_addr = 0xdeadb000;
	e->cpu.fault_error_code = X86_PF_W | X86_PF_U;
	e->cpu.rip = 0x3333;
	assert_int_equal(deliver(e, X86_EVENT_EXCEPTION, X86_EXC_PF), 0);
	assert_int_equal(e->cpu.cr2, 0xdeadb000);
	assert_int_equal(get32(e, STACK0 - 16), X86_PF_W | X86_PF_U);
	assert_int_equal(e->cpu.rip, 0x4b000);
	/* software INT 14 does not touch CR2 and pushes no error code */
	prot32(e, 0);
	idt32(e, 14, 0x4b000, SEL_CODE0, 0xe, 0);
	e->cpu.cr2 = 5;
	e->cpu.fault_addr = 0x1234;
	assert_int_equal(RUN(e, 0xcd, 0x0e), 0);
	assert_int_equal(e->cpu.cr2, 5);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 12);
	/* paging on with empty page tables: every access #PF -> PF during PF -> #DF -> triple */
	long64(e, 0);
	e->cpu.cr0 |= X86_CR0_PG;
	e->cpu.cr3 = 0x200000;
	e->cpu.rip = 0x4444;
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x20), X86_TRIPLE_FAULT);
	assert_int_equal(e->cpu.cr2 & ~0xfffull, IDT & ~0xfffull); /* the IDT read faulted */
}

/* ---- IA-32e mode ---- */

static void test_long_mode_delivery(void **state)
{
	struct env *e = *state;

	long64(e, 3);
	idt64(e, 0x80, 0xffffffff81000000ull, SEL_CODE64_0, 0xe, 3, 0);
	e->cpu.gpr[4] = STACK3 - 3; /* unaligned user RSP */
	e->cpu.rflags = 0x2 | X86_FLAG_IF | X86_FLAG_RF;
	put64(e, TSS + 4, STACK0 - 8); /* RSP0 not 16-byte aligned */
	assert_int_equal(RUN(e, 0xcd, 0x80), 0);
	assert_int_equal(e->cpu.rip, 0xffffffff81000000ull);
	assert_int_equal(e->cpu.cpl, 0);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, 0);
	assert_true(e->cpu.seg[X86_SEG_SS].attr & X86_SEGA_UNUSABLE);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 16 - 40);
	assert_int_equal(get64(e, STACK0 - 16 - 8), SEL_DATA3 | 3);
	assert_int_equal(get64(e, STACK0 - 16 - 16), STACK3 - 3);
	assert_int_equal(get64(e, STACK0 - 16 - 24), 0x2 | X86_FLAG_IF | X86_FLAG_RF);
	assert_int_equal(get64(e, STACK0 - 16 - 32), SEL_CODE64_3 | 3);
	assert_int_equal(get64(e, STACK0 - 16 - 40), CODE + 2);
	assert_int_equal(e->cpu.rflags, 0x2);
	/* IRETQ back to CPL 3 */
	e->cpu.rip = 0x50000;
	e->cpu.seg[X86_SEG_CS].base = 0;
	memcpy(e->mem + 0x50000, (uint8_t[]){0x48, 0xcf}, 2);
	assert_int_equal(x86_step(&e->cpu, &e->ops, e), 0);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.rip, CODE + 2);
	assert_int_equal(e->cpu.gpr[4], STACK3 - 3);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA3 | 3);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_IF | X86_FLAG_RF);
	/* same level: RSP aligned, SS:RSP still pushed, error code */
	long64(e, 0);
	idt64(e, 13, 0x52000, SEL_CODE64_0, 0xe, 0, 0);
	e->cpu.gpr[4] = STACK0 - 0x104;
	e->cpu.fault_error_code = 0x10;
	e->cpu.rip = 0x6666;
	assert_int_equal(deliver(e, X86_EVENT_EXCEPTION, X86_EXC_GP), 0);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 0x110 - 48);
	assert_int_equal(get64(e, STACK0 - 0x110 - 8), SEL_DATA0);
	assert_int_equal(get64(e, STACK0 - 0x110 - 16), STACK0 - 0x104);
	assert_int_equal(get64(e, STACK0 - 0x110 - 40), 0x6666);
	assert_int_equal(get64(e, STACK0 - 0x110 - 48), 0x10);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, SEL_DATA0);
	/* IST: the stack comes from IST1 even without a privilege change */
	long64(e, 0);
	idt64(e, 2, 0x53000, SEL_CODE64_0, 0xe, 0, 1);
	assert_int_equal(deliver(e, X86_EVENT_NMI, 2), 0);
	assert_int_equal(e->cpu.gpr[4], STACK_IST - 40);
	assert_int_equal(get64(e, STACK_IST - 16), STACK0);
	assert_true(e->cpu.nmi_blocked);
	/* a 32-bit gate type is invalid in the 64-bit IDT; a 32-bit handler segment too */
	long64(e, 0);
	idt64(e, 13, 0x52000, SEL_CODE64_0, 0xe, 0, 0);
	idt64(e, 8, 0x54000, SEL_CODE64_0, 0xe, 0, 0);
	idt64(e, 0x22, 0x1000, SEL_CODE0, 0xe, 0, 0);
	assert_int_equal(deliver(e, X86_EVENT_EXTERNAL, 0x22), 0);
	assert_int_equal(e->cpu.rip, 0x52000);
	assert_int_equal(get64(e, STACK0 - 48), SEL_CODE0 | 1);
	/* from compatibility mode to a 64-bit handler */
	long64(e, 3);
	load(e, X86_SEG_CS, SEL_CODE3 | 3);
	x86_update_mode(&e->cpu);
	idt64(e, 0x80, 0x55000, SEL_CODE64_0, 0xe, 3, 0);
	assert_int_equal(RUN(e, 0xcd, 0x80), 0);
	assert_int_equal(e->cpu.mode, X86_MODE_LONG64);
	assert_int_equal(get64(e, STACK0 - 32), SEL_CODE3 | 3);
	/* IRETQ at the same level pops SS:RSP; a null SS is fine at CPL 0 */
	long64(e, 0);
	e->cpu.gpr[4] = STACK0 - 40;
	put64(e, STACK0 - 40, 0x56000);
	put64(e, STACK0 - 32, SEL_CODE64_0);
	put64(e, STACK0 - 24, 0x2 | X86_FLAG_IF);
	put64(e, STACK0 - 16, 0x7000);
	put64(e, STACK0 - 8, 0);
	assert_int_equal(RUN(e, 0x48, 0xcf), 0);
	assert_int_equal(e->cpu.gpr[4], 0x7000);
	assert_int_equal(e->cpu.rip, 0x56000);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, 0);
	assert_true(e->cpu.rflags & X86_FLAG_IF);
	/* IRETQ to a non-canonical RIP: #GP(0), nothing changed */
	long64(e, 0);
	e->cpu.gpr[4] = STACK0 - 40;
	put64(e, STACK0 - 40, 0x8000000000000000ull);
	assert_int_equal(RUN(e, 0x48, 0xcf), X86_EXC_GP);
	assert_int_equal(e->cpu.gpr[4], STACK0 - 40);
	/* IRETQ to compatibility mode at CPL 3 */
	long64(e, 0);
	e->cpu.gpr[4] = STACK0 - 40;
	put64(e, STACK0 - 40, 0x1234);
	put64(e, STACK0 - 32, SEL_CODE3 | 3);
	put64(e, STACK0 - 24, 0x2);
	put64(e, STACK0 - 16, 0x9abc);
	put64(e, STACK0 - 8, SEL_DATA3 | 3);
	assert_int_equal(RUN(e, 0x48, 0xcf), 0);
	assert_int_equal(e->cpu.mode, X86_MODE_PROT32);
	assert_int_equal(e->cpu.gpr[4], 0x9abc);
}

/* ---- SYSCALL / SYSRET ---- */

static void test_syscall_sysret(void **state)
{
	struct env *e = *state;

	long64(e, 3);
	e->cpu.msr.star = (0x23ull << 48) | (0x10ull << 32);
	e->cpu.msr.lstar = 0xffffffff81800000ull;
	e->cpu.msr.sfmask = X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_DF;
	e->cpu.rflags = 0x2 | X86_FLAG_IF | X86_FLAG_DF | X86_FLAG_CF;
	assert_int_equal(RUN(e, 0x0f, 0x05), 0);
	assert_int_equal(e->cpu.gpr[1], CODE + 2);
	assert_int_equal(e->cpu.gpr[11], 0x2 | X86_FLAG_IF | X86_FLAG_DF | X86_FLAG_CF);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_CF);
	assert_int_equal(e->cpu.rip, 0xffffffff81800000ull);
	assert_int_equal(e->cpu.cpl, 0);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, 0x10);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, 0x18);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].attr & (X86_SEGA_L | X86_SEGA_DPL), X86_SEGA_L);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].attr & 0xff, 0x93);
	assert_int_equal(e->cpu.mode, X86_MODE_LONG64);
	/* SYSRET (REX.W) to 64-bit user mode */
	e->cpu.gpr[1] = 0x401000;
	e->cpu.gpr[11] = 0x2 | X86_FLAG_IF | X86_FLAG_RF | X86_FLAG_VM;
	e->cpu.seg[X86_SEG_CS].base = 0;
	assert_int_equal(RUN(e, 0x48, 0x0f, 0x07), 0);
	assert_int_equal(e->cpu.rip, 0x401000);
	assert_int_equal(e->cpu.cpl, 3);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, 0x33);
	assert_int_equal(e->cpu.seg[X86_SEG_SS].selector, 0x2b);
	assert_int_equal(e->cpu.rflags, 0x2 | X86_FLAG_IF); /* RF and VM cleared */
	assert_int_equal(e->cpu.mode, X86_MODE_LONG64);
	assert_int_equal((e->cpu.seg[X86_SEG_CS].attr & X86_SEGA_DPL) >> 5, 3);
	/* SYSRET without REX.W: compatibility mode, EIP from ECX */
	e->cpu.cpl = 0;
	e->cpu.gpr[1] = 0xffffffff00001234ull;
	assert_int_equal(RUN(e, 0x0f, 0x07), 0);
	assert_int_equal(e->cpu.rip, 0x1234);
	assert_int_equal(e->cpu.seg[X86_SEG_CS].selector, 0x23);
	assert_int_equal(e->cpu.mode, X86_MODE_PROT32);
	/* faults: SYSRET at CPL 3, non-canonical RCX, SCE clear */
	long64(e, 3);
	e->cpu.msr.star = (0x23ull << 48) | (0x10ull << 32);
	assert_int_equal(RUN(e, 0x48, 0x0f, 0x07), X86_EXC_GP);
	e->cpu.cpl = 0;
	e->cpu.gpr[1] = 0x0000800000000000ull;
	assert_int_equal(RUN(e, 0x48, 0x0f, 0x07), X86_EXC_GP);
	assert_int_equal(e->cpu.cpl, 0);
	e->cpu.efer &= ~X86_EFER_SCE;
	assert_int_equal(RUN(e, 0x0f, 0x05), X86_EXC_UD);
	assert_int_equal(RUN(e, 0x48, 0x0f, 0x07), X86_EXC_UD);
	/* SYSCALL outside 64-bit mode: #UD (Intel) */
	prot32(e, 3);
	e->cpu.efer = X86_EFER_SCE;
	assert_int_equal(RUN(e, 0x0f, 0x05), X86_EXC_UD);
	/* SYSENTER is not advertised */
	assert_int_equal(RUN(e, 0x0f, 0x34), X86_EXC_UD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_real_mode_int_iret, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prot32_int_privilege_change_and_iret, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_prot32_same_level_error_code, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_int_dpl_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ext_bit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_double_and_triple_fault, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_page_fault_cr2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_long_mode_delivery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syscall_sysret, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
