/*
 * CPU conformance in 32-bit code: each case is one instruction run natively in compatibility
 * mode of this (64-bit) process and on the emu engine in X86_MODE_PROT32, from the same
 * registers, flags and scratch memory; EAX..EDI, the arithmetic flags and DF, and the scratch
 * buffer must match (flags the SDM calls undefined are left out).
 *
 * Native side: Linux x86-64 has a flat 32-bit user code segment (selector 0x23). A 64-bit entry trampoline
 * in a MAP_32BIT page switches to a stack below 4 GiB and far-calls a 32-bit trampoline that
 * loads the registers, runs the instruction, stores them and far-returns. Cases with 16-bit
 * addressing use a data segment in the LDT (modify_ldt) whose base is the scratch buffer, so
 * small offsets reach memory; the same LDT gives limit and expand-down fault cases. A #DE
 * (SIGFPE) or a segment fault (SIGSEGV) comes back through siglongjmp.
 *
 * Usage: compat32_conformance [seed [random-cases-per-class]].
 * Prints PASS:/FAIL: cpu32/<class>, or SKIPPED: cpu32 (reason) if 32-bit code cannot run.
 */
#include <asm/ldt.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostvisor/x86_cpu.h"
#include "emu_memory.h"

#define SCRATCH_SIZE 65536
#define STACK_OFFSET 32768
#define DATA_OFFSET 16384
#define PAGE 4096
#define CMP_FLAGS (X86_FLAGS_ARITH | X86_FLAG_DF)
#define MAX_FAIL_REPORTS 5
#define USER_CS32 0x23
#define USER_DS 0x2b
#define LDT_SEL(i) ((uint16_t)(((i) << 3) | 7))
#define U_CF X86_FLAG_CF
#define U_PF X86_FLAG_PF
#define U_AF X86_FLAG_AF
#define U_ZF X86_FLAG_ZF
#define U_SF X86_FLAG_SF
#define U_OF X86_FLAG_OF

enum { EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI };

/* The code page: slots, the register block, the 64-bit entry trampoline, the 32-bit trampoline. */
#define SLOT_RSP 0
#define SLOT_DS 8
#define SLOT_ES 10
#define SLOT_ESP32 12
#define SLOT_FARPTR 16 /* offset32, selector16 */
#define STATE 64       /* uint32_t gpr[8], eflags */
#define STUB 128
#define TRAMP 512

/* Data segments of the DS/ES of a case. */
enum dseg {
	DS_FLAT,     /* USER_DS */
	DS_LDT64K,   /* base scratch, limit 0xffff, expand-up, writable */
	DS_LDT_DOWN, /* base scratch, limit 0xfff, expand-down, 32-bit (offsets 0x1000..) */
	DS_LDT_RO,   /* base scratch, limit 0xffff, read-only */
};

struct tcase {
	uint8_t b[16];
	unsigned n;
	uint32_t gpr[8];
	uint32_t eflags;
	uint64_t undef_flags;
	enum dseg ds;
	bool rep;
	int want_exc; /* a directed fault case: the emu's exception (native: SIGSEGV) */
	const char *what;
	/* scratch set-up applied to both copies */
	uint32_t poke_at[2], poke_val[2]; /* scratch offsets (0: none) */
};

struct harness {
	uint64_t rng;
	uint8_t *code, *stack32, *scratch, *emu_scratch, *init_scratch;
	uint32_t scratch32;
	bool have_ldt;
	unsigned cases, failures, class_cases, class_failures;
	uint32_t *state;
};

static struct harness H;
static struct emu_memory EM; /* the emu's view of the case's memory */
static sigjmp_buf native_jmp;
static volatile sig_atomic_t native_signal;

/* ---- random values ---- */

static uint64_t rnd(void)
{
	H.rng ^= H.rng >> 12;
	H.rng ^= H.rng << 25;
	H.rng ^= H.rng >> 27;
	return H.rng * 0x2545f4914f6cdd1dull;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static uint32_t rnd_value(void)
{
	static const uint32_t edges[] = {0,	 1,	 2,	 0xffffffff, 0xfffffffe, 0x7f,
					 0x80,	 0xff,	 0x7fff, 0x8000,     0xffff,	 0x7fffffff,
					 0x80000000, 0x0f0f0f0f, 0x99, 0x909, 0x0a0f};

	switch (rnd_below(4)) {
	case 0:
		return edges[rnd_below(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return (uint32_t)rnd() & 0xff;
	default:
		return (uint32_t)rnd();
	}
}

static unsigned rnd_size(void)
{
	static const unsigned sizes[] = {1, 2, 4};

	return sizes[rnd_below(3)];
}

/* ---- encoding ---- */

static void put(struct tcase *c, uint8_t b)
{
	if (c->n < sizeof(c->b))
		c->b[c->n++] = b;
}

static void put_le(struct tcase *c, uint64_t v, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		put(c, (uint8_t)(v >> (8 * i)));
}

static void init_case(struct tcase *c, const char *what)
{
	memset(c, 0, sizeof(*c));
	for (unsigned r = 0; r < 8; r++)
		c->gpr[r] = rnd_value();
	c->gpr[ESP] = H.scratch32 + STACK_OFFSET - 4 * rnd_below(64);
	c->eflags = (uint32_t)(X86_FLAG_FIXED1 | (rnd() & CMP_FLAGS));
	c->what = what;
}

/*
 * A ModRM operand (register, or memory in scratch[DATA_OFFSET, +4096)). addr16 selects the
 * 16-bit forms, which need a DS whose base is the scratch buffer (the case's ds is set); BP
 * forms then get a DS override, as SS stays flat. avoid: a register the operand must not use.
 */
struct operand {
	uint8_t modrm_rm; /* mod and rm bits (reg added later) */
	uint8_t tail[6];  /* SIB and displacement */
	unsigned tail_n;
	bool ds_override;
};

static struct operand rnd_reg_operand(void)
{
	return (struct operand){.modrm_rm = (uint8_t)(0xc0 | rnd_below(8))};
}

static struct operand mem32_operand(struct tcase *c, int avoid, uint32_t target)
{
	static const unsigned bases[] = {EAX, ECX, EDX, EBX, EBP, ESI, EDI};
	struct operand o = {0};
	unsigned base, index = 0;
	int8_t disp = (int8_t)rnd();
	bool sib = rnd_below(3) == 0;

	do
		base = bases[rnd_below(7)];
	while ((int)base == avoid);
	if (sib) {
		unsigned scale = rnd_below(4);

		do
			index = bases[rnd_below(7)];
		while (index == base || (int)index == avoid);
		c->gpr[index] = rnd_below(16);
		target -= c->gpr[index] << scale;
		o.modrm_rm = 0x44;
		o.tail[o.tail_n++] = (uint8_t)((scale << 6) | (index << 3) | base);
	} else {
		o.modrm_rm = (uint8_t)(0x40 | base);
	}
	o.tail[o.tail_n++] = (uint8_t)disp;
	c->gpr[base] = target - (uint32_t)(int32_t)disp;
	/* EBP bases use SS, which stays flat: reach an LDT DS with an override */
	o.ds_override = base == EBP && c->ds != DS_FLAT;
	return o;
}

/* 16-bit forms (SDM table 2-1) reaching DS offset target; the upper register halves are
 * random and must be ignored; the 16-bit sum may wrap. */
static struct operand mem16_operand(struct tcase *c, int avoid, uint16_t target)
{
	static const int8_t base16[8] = {EBX, EBX, EBP, EBP, ESI, EDI, EBP, EBX};
	static const int8_t index16[8] = {ESI, EDI, ESI, EDI, -1, -1, -1, -1};
	struct operand o = {0};
	unsigned rm, mod;
	uint16_t disp;

	do
		rm = rnd_below(8);
	while ((int)base16[rm] == avoid || (int)index16[rm] == avoid);
	mod = rnd_below(3);
	disp = mod == 1 ? (uint16_t)(int16_t)(int8_t)rnd() : mod == 2 ? (uint16_t)rnd() : 0;
	if (mod == 0 && rm == 6) { /* disp16 alone */
		disp = target;
		o.modrm_rm = 0x06;
		o.tail[o.tail_n++] = (uint8_t)disp;
		o.tail[o.tail_n++] = (uint8_t)(disp >> 8);
		return o;
	}
	o.modrm_rm = (uint8_t)((mod << 6) | rm);
	if (mod == 1)
		o.tail[o.tail_n++] = (uint8_t)disp;
	if (mod == 2) {
		o.tail[o.tail_n++] = (uint8_t)disp;
		o.tail[o.tail_n++] = (uint8_t)(disp >> 8);
	}
	uint16_t rest = (uint16_t)(target - disp);

	if (index16[rm] >= 0) {
		uint16_t b = (uint16_t)rnd();

		c->gpr[base16[rm]] = (c->gpr[base16[rm]] & 0xffff0000u) | b;
		c->gpr[index16[rm]] =
		    (c->gpr[index16[rm]] & 0xffff0000u) | (uint16_t)(rest - b);
	} else {
		c->gpr[base16[rm]] = (c->gpr[base16[rm]] & 0xffff0000u) | rest;
	}
	o.ds_override = base16[rm] == EBP;
	return o;
}

/*
 * A random operand: register, 32-bit memory (flat DS) or, with the LDT, 16-bit memory (0x67)
 * or 32-bit memory through the LDT segment. Returns the operand; sets c->ds and *a16.
 */
static struct operand rnd_operand(struct tcase *c, int avoid, bool *a16)
{
	unsigned kind = rnd_below(H.have_ldt ? 4 : 2);
	uint32_t off = DATA_OFFSET + rnd_below(4096 - 64);

	*a16 = false;
	switch (kind) {
	case 0:
		return rnd_reg_operand();
	case 1:
		return mem32_operand(c, avoid, H.scratch32 + off);
	case 2:
		c->ds = DS_LDT64K;
		*a16 = true;
		return mem16_operand(c, avoid, (uint16_t)off);
	default:
		c->ds = DS_LDT64K;
		return mem32_operand(c, avoid, off);
	}
}

/* [66] [67] [3E] opcode... modrm tail imm */
static void encode(struct tcase *c, unsigned size, bool a16, const uint8_t *op, unsigned oplen,
		   unsigned reg, struct operand o, uint64_t imm, unsigned immlen)
{
	if (size == 2)
		put(c, 0x66);
	if (a16)
		put(c, 0x67);
	if (o.ds_override)
		put(c, 0x3e);
	for (unsigned i = 0; i < oplen; i++)
		put(c, op[i]);
	put(c, (uint8_t)(o.modrm_rm | ((reg & 7) << 3)));
	for (unsigned i = 0; i < o.tail_n; i++)
		put(c, o.tail[i]);
	put_le(c, imm, immlen);
}

/* ---- the native side ---- */

static void on_signal(int sig)
{
	native_signal = sig;
	siglongjmp(native_jmp, 1);
}

static size_t emit_at;
static size_t insn_at; /* where build_trampoline put the case's bytes */

static void emit(const void *b, size_t len)
{
	memcpy(H.code + emit_at, b, len);
	emit_at += len;
}

static void emit1(uint8_t b)
{
	emit(&b, 1);
}

static void emit32(uint32_t v)
{
	emit(&v, 4);
}

/* 64-bit: op [rip + slot] */
static void emit_rip(const uint8_t *op, size_t oplen, uint8_t modrm_reg, unsigned slot)
{
	emit(op, oplen);
	emit1((uint8_t)((modrm_reg << 3) | 5));
	emit32((uint32_t)(slot - (emit_at + 4)));
}

/* 32-bit: ss: op [abs32] */
static void emit_abs(uint8_t op, uint8_t modrm_reg, uint32_t addr)
{
	emit1(0x36);
	emit1(op);
	emit1((uint8_t)((modrm_reg << 3) | 5));
	emit32(addr);
}

static uint32_t code32(unsigned off)
{
	return (uint32_t)(uintptr_t)H.code + off;
}

static void build_code_page(void)
{
	static const uint8_t save[] = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57};
	static const uint8_t restore[] = {0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
					  0x41, 0x5c, 0x5d, 0x5b, 0xc3};
	static const uint8_t mov_store64[] = {0x48, 0x89}, mov_load64[] = {0x48, 0x8b};
	static const uint8_t mov_store16[] = {0x66, 0x89}, mov_load16[] = {0x66, 0x8b};
	static const uint8_t call_far[] = {0xff};
	uint32_t far_off = code32(TRAMP);
	uint16_t far_sel = USER_CS32;

	emit_at = STUB;
	emit(save, sizeof(save));
	emit_rip(mov_store64, 2, 4, SLOT_RSP);
	emit1(0x8c), emit1(0xd8); /* mov eax, ds */
	emit_rip(mov_store16, 2, 0, SLOT_DS);
	emit1(0x8c), emit1(0xc0); /* mov eax, es */
	emit_rip(mov_store16, 2, 0, SLOT_ES);
	emit1(0xbc); /* mov esp, imm32: the 32-bit-reachable stack */
	emit32((uint32_t)(uintptr_t)H.stack32 + PAGE - 64);
	emit_rip(call_far, 1, 3, SLOT_FARPTR);
	emit_rip(mov_load64, 2, 4, SLOT_RSP);
	emit_rip(mov_load16, 2, 0, SLOT_DS);
	emit1(0x8e), emit1(0xd8); /* mov ds, ax */
	emit_rip(mov_load16, 2, 0, SLOT_ES);
	emit1(0x8e), emit1(0xc0); /* mov es, ax */
	emit1(0xfc);
	emit(restore, sizeof(restore));
	memcpy(H.code + SLOT_FARPTR, &far_off, 4);
	memcpy(H.code + SLOT_FARPTR + 4, &far_sel, 2);
}

static uint16_t ds_selector(enum dseg ds)
{
	switch (ds) {
	case DS_LDT64K:
		return LDT_SEL(0);
	case DS_LDT_DOWN:
		return LDT_SEL(1);
	case DS_LDT_RO:
		return LDT_SEL(2);
	default:
		return USER_DS;
	}
}

/* The 32-bit trampoline around the case's bytes. */
static void build_trampoline(const struct tcase *c)
{
	uint32_t st = code32(STATE);
	uint16_t sel = ds_selector(c->ds);

	emit_at = TRAMP;
	emit_abs(0x89, 4, code32(SLOT_ESP32)); /* mov [esp32], esp */
	emit1(0x66), emit1(0xb8), emit(&sel, 2); /* mov ax, sel */
	emit1(0x8e), emit1(0xd8);		  /* mov ds, ax */
	emit1(0x8e), emit1(0xc0);		  /* mov es, ax */
	emit_abs(0xff, 6, st + 32);		  /* push dword [eflags] */
	emit1(0x9d);				  /* popfd */
	for (unsigned r = 0; r < 8; r++)
		if (r != ESP)
			emit_abs(0x8b, (uint8_t)r, st + 4 * r);
	emit_abs(0x8b, ESP, st + 4 * ESP);
	insn_at = emit_at;
	emit(c->b, c->n);
	for (unsigned r = 0; r < 8; r++)
		emit_abs(0x89, (uint8_t)r, st + 4 * r);
	emit_abs(0x8b, ESP, code32(SLOT_ESP32));
	emit1(0x9c);			/* pushfd */
	emit_abs(0x8f, 0, st + 32); /* pop dword [eflags] */
	emit1(0xfc);			/* cld */
	emit1(0xcb);			/* retf */
}

static int native_run(const struct tcase *c, uint32_t *gpr, uint32_t *eflags)
{
	void (*fn)(void) = (void (*)(void))(void *)(H.code + STUB);

	build_trampoline(c);
	memcpy(H.state, c->gpr, 32);
	H.state[8] = c->eflags;
	native_signal = 0;
	if (sigsetjmp(native_jmp, 1))
		return native_signal;
	fn();
	memcpy(gpr, H.state, 32);
	*eflags = H.state[8];
	return 0;
}

static uint32_t insn_address(void)
{
	return code32((unsigned)insn_at);
}

/* ---- the emu side ---- */





#define DATA_RW (X86_SEGA_P | X86_SEGA_S | (3u << X86_SEGA_DPL_SHIFT) | 0x3)

static void emu_data_seg(struct x86_segment *s, enum dseg ds)
{
	s->selector = ds_selector(ds);
	switch (ds) {
	case DS_FLAT:
		s->base = 0;
		s->limit = 0xffffffff;
		s->attr = DATA_RW | X86_SEGA_DB | X86_SEGA_G;
		break;
	case DS_LDT64K:
		s->base = H.scratch32;
		s->limit = 0xffff;
		s->attr = DATA_RW | X86_SEGA_DB;
		break;
	case DS_LDT_DOWN:
		s->base = H.scratch32;
		s->limit = 0xfff;
		s->attr = DATA_RW | X86_SEGA_DB | 0x4;
		break;
	case DS_LDT_RO:
		s->base = H.scratch32;
		s->limit = 0xffff;
		s->attr = (DATA_RW & ~0x2u) | X86_SEGA_DB;
		break;
	}
}

static int emu_run(const struct tcase *c, struct x86_cpu *emu)
{
	uint64_t rip;
	int exc;

	x86_cpu_init(emu);
	emu->seg[X86_SEG_CS].selector = USER_CS32;
	emu->seg[X86_SEG_CS].attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_DB |
				    (3u << X86_SEGA_DPL_SHIFT) | 0xb;
	emu->seg[X86_SEG_SS].selector = USER_DS;
	emu_data_seg(&emu->seg[X86_SEG_DS], c->ds);
	emu_data_seg(&emu->seg[X86_SEG_ES], c->ds);
	x86_update_mode(emu);
	for (unsigned r = 0; r < 8; r++)
		emu->gpr[r] = c->gpr[r];
	emu->rflags = c->eflags | X86_FLAG_IF; /* user code always runs with IF set */
	emu->rip = rip = insn_address();
	exc = x86_step(emu, &emu_memory_ops, &EM);
	for (unsigned i = 0; c->rep && exc == 0 && emu->rip == rip && i < 64; i++)
		exc = x86_step(emu, &emu_memory_ops, &EM);
	return exc;
}

/* ---- running and comparing ---- */

static void print_case(const struct tcase *c, const uint32_t *nat, uint32_t nat_fl,
		       const struct x86_cpu *emu)
{
	static const char *const names[8] = {"eax", "ecx", "edx", "ebx",
					     "esp", "ebp", "esi", "edi"};

	printf("  %s: bytes", c->what);
	for (unsigned i = 0; i < c->n; i++)
		printf(" %02x", c->b[i]);
	printf(" (ds %d)\n  flags in %03x native %03x emu %03" PRIx64 " (ignored %03" PRIx64 ")\n",
	       (int)c->ds, c->eflags & (unsigned)CMP_FLAGS, nat_fl & (unsigned)CMP_FLAGS,
	       (uint64_t)(emu->rflags & CMP_FLAGS), c->undef_flags);
	for (unsigned r = 0; r < 8; r++)
		if (nat[r] != (uint32_t)emu->gpr[r] || c->gpr[r] != nat[r])
			printf("  %s in %08x native %08x emu %08x%s\n", names[r], c->gpr[r], nat[r],
			       (uint32_t)emu->gpr[r],
			       nat[r] != (uint32_t)emu->gpr[r] ? "  <--" : "");
}

static void fail(const struct tcase *c, const char *why, const uint32_t *nat, uint32_t nat_fl,
		 const struct x86_cpu *emu)
{
	H.class_failures++;
	if (H.class_failures > MAX_FAIL_REPORTS)
		return;
	printf("  mismatch (%s)\n", why);
	print_case(c, nat, nat_fl, emu);
}

static void prepare_memory(const struct tcase *c)
{
	memcpy(H.scratch, H.init_scratch, SCRATCH_SIZE);
	memcpy(H.emu_scratch, H.init_scratch, SCRATCH_SIZE);
	for (unsigned i = 0; i < 2; i++) {
		if (!c->poke_at[i] || c->poke_at[i] > SCRATCH_SIZE - 4)
			continue;
		memcpy(H.scratch + c->poke_at[i], &c->poke_val[i], 4);
		memcpy(H.emu_scratch + c->poke_at[i], &c->poke_val[i], 4);
	}
}

static bool exc_matches_signal(int exc, int sig)
{
	if (sig == SIGFPE)
		return exc == X86_EXC_DE;
	if (sig == SIGSEGV || sig == SIGBUS)
		return exc == X86_EXC_GP || exc == X86_EXC_SS || exc == X86_EXC_BR;
	return false;
}

static bool gpr_differ(const uint32_t *nat, const struct x86_cpu *emu)
{
	for (unsigned r = 0; r < 8; r++)
		if (nat[r] != (uint32_t)emu->gpr[r])
			return true;
	return false;
}

static void run_case(const struct tcase *c)
{
	uint32_t nat[8] = {0}, nat_fl = 0;
	struct x86_cpu emu;
	uint64_t cmp = CMP_FLAGS & ~c->undef_flags;
	int sig, exc;

	H.class_cases++;
	prepare_memory(c);
	sig = native_run(c, nat, &nat_fl);
	exc = emu_run(c, &emu);
	if (sig || exc) {
		if (!exc_matches_signal(exc, sig))
			fail(c, sig ? (exc ? "different faults" : "native faulted") : "emu faulted",
			     nat, nat_fl, &emu);
		else if (c->want_exc && exc != c->want_exc)
			fail(c, "wrong exception", nat, nat_fl, &emu);
		else if (emu.rip != insn_address())
			fail(c, "emu fault moved rip", nat, nat_fl, &emu);
		else
			for (unsigned r = 0; r < 8; r++)
				if ((uint32_t)emu.gpr[r] != c->gpr[r]) {
					fail(c, "emu fault changed registers", nat, nat_fl, &emu);
					break;
				}
		return;
	}
	if (c->want_exc)
		fail(c, "no fault", nat, nat_fl, &emu);
	else if (emu.rip != insn_address() + c->n)
		fail(c, "eip", nat, nat_fl, &emu);
	else if (gpr_differ(nat, &emu))
		fail(c, "gpr", nat, nat_fl, &emu);
	else if ((emu.rflags ^ nat_fl) & cmp)
		fail(c, "flags", nat, nat_fl, &emu);
	else if (memcmp(H.scratch, H.emu_scratch, SCRATCH_SIZE))
		fail(c, "memory", nat, nat_fl, &emu);
}

/* ---- the classes ---- */

static const uint8_t alu_ops[8] = {0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38};

static void gen_alu(struct tcase *c)
{
	unsigned size = rnd_size(), r = rnd_below(8), form = rnd_below(4);
	bool a16;
	struct operand o;
	uint8_t op;

	init_case(c, "alu");
	o = rnd_operand(c, -1, &a16);
	if (r == 1 || r == 4 || r == 6)
		c->undef_flags = U_AF;
	if (form < 2) { /* r/m,reg or reg,r/m */
		op = (uint8_t)(alu_ops[r] + form * 2 + (size == 1 ? 0 : 1));
		encode(c, size, a16, &op, 1, rnd_below(8), o, 0, 0);
	} else if (form == 2) { /* 80/81/83 */
		op = size == 1 ? 0x80 : rnd_below(2) ? 0x83 : 0x81;
		unsigned immlen = op == 0x81 ? size : 1;

		encode(c, size, a16, &op, 1, r, o, rnd(), immlen);
	} else { /* TEST */
		op = size == 1 ? 0x84 : 0x85;
		c->undef_flags = U_AF;
		encode(c, size, a16, &op, 1, rnd_below(8), o, 0, 0);
	}
}

static void gen_unary(struct tcase *c)
{
	unsigned size = rnd_size(), kind = rnd_below(5);
	bool a16;
	struct operand o;
	uint8_t op;

	init_case(c, "unary");
	if (kind == 4 && size == 1)
		kind = rnd_below(4);
	if (kind == 4) { /* 40+r / 48+r: INC/DEC r16/r32 */
		if (size == 2)
			put(c, 0x66);
		put(c, (uint8_t)((rnd_below(2) ? 0x40 : 0x48) + rnd_below(8)));
		return;
	}
	o = rnd_operand(c, -1, &a16);
	if (kind < 2) {
		op = size == 1 ? 0xf6 : 0xf7;
		encode(c, size, a16, &op, 1, 2 + kind, o, 0, 0); /* NOT, NEG */
	} else {
		op = size == 1 ? 0xfe : 0xff;
		encode(c, size, a16, &op, 1, kind - 2, o, 0, 0); /* INC, DEC */
	}
}

static void gen_shift(struct tcase *c)
{
	unsigned size = rnd_size(), r = rnd_below(8), form = rnd_below(3);
	unsigned count = rnd_below(3) ? rnd_below(34) : (unsigned)rnd() & 0xff, masked;
	bool a16;
	struct operand o;
	uint8_t op;

	init_case(c, "shift");
	if (form == 0)
		count = 1;
	masked = count & 31;
	if (size == 2 && masked > 16 && (r == 2 || r == 3 || r >= 4))
		count = masked = 16; /* above 16 for 16-bit shifts: undefined */
	if (masked > 1)
		c->undef_flags |= U_OF;
	if (r >= 4 && masked)
		c->undef_flags |= U_AF;
	if ((r == 4 || r == 5 || r == 6) && masked >= size * 8)
		c->undef_flags |= U_CF;
	if (form == 1)
		c->gpr[ECX] = (c->gpr[ECX] & ~0xffu) | count;
	o = rnd_operand(c, form == 1 ? ECX : -1, &a16);
	op = (uint8_t)((form == 0 ? 0xd0 : form == 1 ? 0xd2 : 0xc0) + (size == 1 ? 0 : 1));
	encode(c, size, a16, &op, 1, r, o, count, form == 2 ? 1 : 0);
}

static void gen_muldiv(struct tcase *c)
{
	unsigned size = rnd_size(), r = 4 + rnd_below(4), form = rnd_below(4);
	bool a16;
	struct operand o;
	uint8_t op;

	init_case(c, "muldiv");
	if (r >= 6 && rnd_below(2)) /* make most divisions succeed */
		c->gpr[EDX] = rnd_below(2) ? 0 : 0xffffffff;
	o = rnd_operand(c, EDX, &a16);
	if (form >= 2 && size != 1) { /* IMUL r, r/m (0F AF) or IMUL r, r/m, imm (69/6B) */
		static const uint8_t imul2[] = {0x0f, 0xaf};

		c->undef_flags = U_SF | U_ZF | U_AF | U_PF;
		if (form == 2) {
			encode(c, size, a16, imul2, 2, rnd_below(8), o, 0, 0);
		} else {
			op = rnd_below(2) ? 0x6b : 0x69;
			encode(c, size, a16, &op, 1, rnd_below(8), o, rnd(), op == 0x6b ? 1 : size);
		}
		return;
	}
	c->undef_flags = r < 6 ? (U_SF | U_ZF | U_AF | U_PF) : X86_FLAGS_ARITH;
	op = size == 1 ? 0xf6 : 0xf7;
	encode(c, size, a16, &op, 1, r, o, 0, 0);
}

/* DAA DAS AAA AAS AAM AAD with the undefined flags of their SDM pages left out. */
static void gen_bcd(struct tcase *c)
{
	static const uint8_t ops[] = {0x27, 0x2f, 0x37, 0x3f, 0xd4, 0xd5};
	unsigned k = rnd_below(6);

	init_case(c, "bcd");
	put(c, ops[k]);
	if (k < 2)
		c->undef_flags = U_OF;
	else if (k < 4)
		c->undef_flags = U_OF | U_SF | U_ZF | U_PF;
	else
		c->undef_flags = U_OF | U_AF | U_CF;
	if (k >= 4) {
		unsigned imm = rnd_below(4) ? 10 : rnd_below(8) == 0 ? 0 : (unsigned)rnd() & 0xff;

		put(c, (uint8_t)imm);
	}
}

/*
 * MOVS STOS LODS CMPS SCAS, sizes 1/2/4, DF either way, with or without REP/REPE/REPNE, with
 * 32-bit addresses in flat segments or 16-bit ones (0x67) in the LDT segment.
 */
static void gen_string(struct tcase *c)
{
	static const uint8_t ops[] = {0xa4, 0xaa, 0xac, 0xa6, 0xae};
	unsigned size = rnd_size(), k = rnd_below(5), rep = rnd_below(3);
	bool a16 = H.have_ldt && rnd_below(2);
	uint32_t base = a16 ? 0 : H.scratch32, count = rnd_below(20);

	init_case(c, "string");
	c->ds = a16 ? DS_LDT64K : DS_FLAT;
	c->rep = rep != 0;
	c->gpr[ECX] = a16 ? (c->gpr[ECX] & 0xffff0000u) | count : count;
	uint32_t si = DATA_OFFSET + 256 + rnd_below(1024), di = DATA_OFFSET + 2048 + rnd_below(1024);

	if (a16) {
		c->gpr[ESI] = (c->gpr[ESI] & 0xffff0000u) | si;
		c->gpr[EDI] = (c->gpr[EDI] & 0xffff0000u) | di;
	} else {
		c->gpr[ESI] = base + si;
		c->gpr[EDI] = base + di;
	}
	if (k >= 3 && rnd_below(2)) /* some equal data for REPE */
		c->poke_at[0] = si, c->poke_val[0] = 0, c->poke_at[1] = di, c->poke_val[1] = 0;
	if (size == 2)
		put(c, 0x66);
	if (a16)
		put(c, 0x67);
	if (rep)
		put(c, rep == 1 ? 0xf3 : 0xf2);
	if (k == 2 && rnd_below(2) && !a16)
		put(c, 0x36); /* SS override of the source: SS is flat too */
	put(c, (uint8_t)(ops[k] + (size == 1 ? 0 : 1)));
}

static void gen_pusha(struct tcase *c)
{
	init_case(c, "pusha");
	if (rnd_below(2))
		put(c, 0x66);
	put(c, rnd_below(2) ? 0x60 : 0x61);
}

/* PUSH/POP r, imm, r/m; PUSHF/POPF (the popped value keeps TF clear); ENTER/LEAVE. */
static void gen_stack(struct tcase *c)
{
	unsigned k = rnd_below(8), size = rnd_below(2) ? 2 : 4;
	bool a16;
	struct operand o;
	uint8_t op;

	init_case(c, "stack");
	switch (k) {
	case 0:
		if (size == 2)
			put(c, 0x66);
		put(c, (uint8_t)(0x50 + rnd_below(8)));
		break;
	case 1:
		if (size == 2)
			put(c, 0x66);
		put(c, (uint8_t)(0x58 + rnd_below(8)));
		break;
	case 2:
		if (size == 2)
			put(c, 0x66);
		if (rnd_below(2)) {
			put(c, 0x6a);
			put(c, (uint8_t)rnd());
		} else {
			put(c, 0x68);
			put_le(c, rnd(), size);
		}
		break;
	case 3:
		op = 0xff;
		o = rnd_operand(c, ESP, &a16);
		if (o.modrm_rm >= 0xc0)
			o.modrm_rm = (uint8_t)(0xc0 | rnd_below(8));
		encode(c, size, a16, &op, 1, 6, o, 0, 0);
		break;
	case 4:
		op = 0x8f;
		o = rnd_operand(c, ESP, &a16);
		encode(c, size, a16, &op, 1, 0, o, 0, 0);
		break;
	case 5:
		if (size == 2)
			put(c, 0x66);
		put(c, 0x9c);
		break;
	case 6: {
		uint32_t at = c->gpr[ESP] - H.scratch32;

		c->poke_at[0] = at;
		c->poke_val[0] = ((uint32_t)rnd() & 0x0cd5) | 0x2; /* arith, DF, no TF/IF/IOPL */
		if (size == 2)
			put(c, 0x66);
		put(c, 0x9d);
		break;
	}
	default:
		c->gpr[EBP] = c->gpr[ESP] + 4 * rnd_below(16);
		if (size == 2)
			put(c, 0x66);
		if (rnd_below(2)) {
			put(c, 0xc9); /* LEAVE */
		} else {
			put(c, 0xc8); /* ENTER imm16, level */
			put_le(c, rnd_below(64), 2);
			put(c, (uint8_t)(rnd_below(4) ? rnd_below(4) : rnd_below(40)));
		}
		break;
	}
}

/* LEA with 16/32-bit addressing and operand sizes: the address arithmetic alone. */
static void gen_lea(struct tcase *c)
{
	unsigned size = rnd_below(2) ? 2 : 4;
	bool a16 = rnd_below(2);
	struct operand o;
	uint8_t op = 0x8d;

	init_case(c, "lea");
	if (a16) {
		o = mem16_operand(c, -1, (uint16_t)rnd());
		o.ds_override = false;
	} else {
		o = mem32_operand(c, -1, (uint32_t)rnd());
	}
	encode(c, size, a16, &op, 1, rnd_below(8), o, 0, 0);
}

/* MOV/MOVZX/MOVSX/XCHG/BT through every addressing form. */
static void gen_mov(struct tcase *c)
{
	static const uint8_t movzx[] = {0x0f, 0xb6}, movsx[] = {0x0f, 0xbf}, bt[] = {0x0f, 0xa3};
	unsigned size = rnd_size(), k = rnd_below(6), reg = rnd_below(8);
	bool a16;
	struct operand o;
	uint8_t op;

	init_case(c, "mov");
	if (k == 5) { /* BT r/m, reg: a small signed bit offset in a register the address avoids */
		while (reg == ESP)
			reg = rnd_below(8);
		o = rnd_operand(c, (int)reg, &a16);
		c->gpr[reg] = (uint32_t)((int32_t)rnd_below(512) - 256);
		c->undef_flags = U_OF | U_SF | U_AF | U_PF;
		encode(c, size == 1 ? 4 : size, a16, bt, 2, reg, o, 0, 0);
		return;
	}
	o = rnd_operand(c, -1, &a16);
	switch (k) {
	case 0:
	case 1:
		op = (uint8_t)(0x88 + 2 * k + (size == 1 ? 0 : 1));
		encode(c, size, a16, &op, 1, reg, o, 0, 0);
		break;
	case 2:
		op = size == 1 ? 0xc6 : 0xc7;
		encode(c, size, a16, &op, 1, 0, o, rnd(), size);
		break;
	case 3:
		encode(c, size == 1 ? 4 : size, a16, rnd_below(2) ? movzx : movsx, 2, reg, o, 0, 0);
		break;
	default:
		op = size == 1 ? 0x86 : 0x87;
		encode(c, size, a16, &op, 1, reg, o, 0, 0);
		break;
	}
}

/* XLAT, moffs MOV A0-A3, LAHF/SAHF, CBW/CWD, BOUND (inside and outside: #BR is SIGSEGV). */
static void gen_misc(struct tcase *c)
{
	unsigned k = rnd_below(6);
	bool a16 = H.have_ldt && rnd_below(2);
	uint32_t off = DATA_OFFSET + rnd_below(4000);

	init_case(c, "misc");
	switch (k) {
	case 0: /* XLAT */
		c->ds = a16 ? DS_LDT64K : DS_FLAT;
		if (a16) {
			put(c, 0x67);
			c->gpr[EBX] = (c->gpr[EBX] & 0xffff0000u) | (off - 128);
		} else {
			c->gpr[EBX] = H.scratch32 + off - 128;
		}
		put(c, 0xd7);
		break;
	case 1: { /* MOV AL/eAX, moffs / moffs, AL/eAX */
		unsigned size = rnd_size();

		c->ds = a16 ? DS_LDT64K : DS_FLAT;
		if (size == 2)
			put(c, 0x66);
		if (a16)
			put(c, 0x67);
		put(c, (uint8_t)(0xa0 + 2 * rnd_below(2) + (size == 1 ? 0 : 1)));
		put_le(c, a16 ? off : H.scratch32 + off, a16 ? 2 : 4);
		break;
	}
	case 2:
		put(c, rnd_below(2) ? 0x9f : 0x9e);
		break;
	case 3:
		if (rnd_below(2))
			put(c, 0x66);
		put(c, rnd_below(2) ? 0x98 : 0x99);
		break;
	default: { /* BOUND r, m: bounds around the index, sometimes not */
		unsigned size = rnd_below(2) ? 2 : 4, reg;
		struct operand o;
		uint8_t op = 0x62;
		int32_t lo = (int32_t)rnd_value(), hi;

		c->ds = DS_FLAT;
		do
			reg = rnd_below(8);
		while (reg == ESP);
		o = mem32_operand(c, (int)reg, H.scratch32 + off);
		if (size == 2)
			lo = (int16_t)lo;
		if (lo > 0x7fff0000)
			lo = 0x7fff0000; /* room above for hi and the index, no overflow */
		hi = lo + (int32_t)rnd_below(100);
		if (size == 2 && hi > 32767)
			hi = 32767;
		c->poke_at[0] = off;
		c->poke_at[1] = off + size;
		c->poke_val[0] = (uint32_t)lo;
		c->poke_val[1] = (uint32_t)hi;
		if (size == 2) {
			c->poke_val[0] = ((uint32_t)lo & 0xffff) | ((uint32_t)hi << 16);
			c->poke_at[1] = 0;
		}
		c->gpr[reg] = (uint32_t)lo + rnd_below(120) - 10; /* wraps like the register */
		c->want_exc = 0;
		encode(c, size, false, &op, 1, reg, o, 0, 0);
		break;
	}
	}
}

/* Directed segment checks through the LDT: limits, expand-down, read-only. */
static void gen_limits(struct tcase *c)
{
	unsigned k = rnd_below(5), size = rnd_size();
	uint8_t op;
	uint32_t off;

	init_case(c, "limits");
	switch (k) {
	case 0: /* expand-up 64K: offsets near the limit, some straddling it */
		c->ds = DS_LDT64K;
		off = 0x10000 - rnd_below(8);
		break;
	case 1: /* expand-down, limit 0xfff: valid from 0x1000 */
		c->ds = DS_LDT_DOWN;
		off = 0x1000 - 4 + rnd_below(8);
		break;
	case 2: /* expand-down reads well inside */
		c->ds = DS_LDT_DOWN;
		off = DATA_OFFSET + rnd_below(4000);
		break;
	case 3: /* read-only: loads work, stores fault */
		c->ds = DS_LDT_RO;
		off = DATA_OFFSET + rnd_below(4000);
		break;
	default: /* 16-bit addresses wrap inside the 64K segment (no fault) */
		c->ds = DS_LDT64K;
		off = DATA_OFFSET;
		break;
	}
	bool store = rnd_below(2);

	op = (uint8_t)((store ? 0x88 : 0x8a) + (size == 1 ? 0 : 1));
	if (k == 4) {
		struct operand o = mem16_operand(c, -1, (uint16_t)(off + rnd_below(4000)));

		encode(c, size, true, &op, 1, rnd_below(8), o, 0, 0);
		return;
	}
	if (size == 2)
		put(c, 0x66);
	put(c, op);
	put(c, (uint8_t)(0x80 | (rnd_below(8) << 3) | EBX)); /* [ebx + disp32] */
	put_le(c, 0, 4);
	c->gpr[EBX] = off;
	if (k == 0 && off + size - 1 > 0xffff)
		c->want_exc = X86_EXC_GP;
	if (k == 1 && off < 0x1000)
		c->want_exc = X86_EXC_GP;
	if (k == 3 && store)
		c->want_exc = X86_EXC_GP;
}

struct class {
	const char *name;
	void (*gen)(struct tcase *c);
	bool needs_ldt;
};

static const struct class classes[] = {
    {"alu", gen_alu, false},	   {"unary", gen_unary, false},
    {"shift", gen_shift, false},   {"muldiv", gen_muldiv, false},
    {"bcd", gen_bcd, false},	   {"string", gen_string, false},
    {"pusha", gen_pusha, false},   {"stack", gen_stack, false},
    {"lea", gen_lea, false},	   {"mov", gen_mov, false},
    {"misc", gen_misc, false},	   {"limits", gen_limits, true},
};

/* Every BCD input: AL 0..255 with AF and CF in all combinations. */
static void run_bcd_sweep(void)
{
	static const uint8_t ops[] = {0x27, 0x2f, 0x37, 0x3f};
	struct tcase c;

	H.class_cases = H.class_failures = 0;
	for (unsigned k = 0; k < 4; k++)
		for (unsigned v = 0; v < 4096; v++) {
			init_case(&c, "bcd-sweep");
			c.gpr[EAX] = (c.gpr[EAX] & 0xffff0000u) | (v & 0xffff);
			c.eflags = (uint32_t)(X86_FLAG_FIXED1 | ((v >> 8) & 1 ? X86_FLAG_AF : 0) |
					      ((v >> 9) & 1 ? X86_FLAG_CF : 0));
			c.gpr[EAX] = (c.gpr[EAX] & 0xffff0000u) | (v & 0xff) | ((v >> 10) << 8);
			c.undef_flags = k < 2 ? U_OF : (U_OF | U_SF | U_ZF | U_PF);
			put(&c, ops[k]);
			run_case(&c);
		}
	H.cases += H.class_cases;
	H.failures += H.class_failures;
	printf("%s: cpu32/bcd-sweep (%u cases, %u failed)\n", H.class_failures ? "FAIL" : "PASS",
	       H.class_cases, H.class_failures);
}

static void run_classes(unsigned per_class)
{
	struct tcase c;

	for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
		if (classes[k].needs_ldt && !H.have_ldt) {
			printf("SKIPPED: cpu32/%s (modify_ldt not available)\n", classes[k].name);
			continue;
		}
		H.class_cases = H.class_failures = 0;
		for (unsigned i = 0; i < per_class; i++) {
			classes[k].gen(&c);
			run_case(&c);
		}
		H.cases += H.class_cases;
		H.failures += H.class_failures;
		printf("%s: cpu32/%s (%u cases, %u failed)\n", H.class_failures ? "FAIL" : "PASS",
		       classes[k].name, H.class_cases, H.class_failures);
	}
}

/* ---- set-up ---- */

static void *map32(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static bool ldt_entry(unsigned n, uint32_t base, uint32_t limit, unsigned contents,
		      bool read_only)
{
	struct user_desc d = {
	    .entry_number = n,
	    .base_addr = base,
	    .limit = limit,
	    .seg_32bit = 1,
	    .contents = contents,
	    .read_exec_only = read_only,
	    .limit_in_pages = 0,
	    .seg_not_present = 0,
	    .useable = 1,
	};

	return syscall(SYS_modify_ldt, 1, &d, sizeof(d)) == 0;
}

static bool setup(void)
{
	static uint8_t altstack[65536];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa;

	H.code = map32(PAGE, PROT_READ | PROT_WRITE | PROT_EXEC);
	H.stack32 = map32(PAGE, PROT_READ | PROT_WRITE);
	H.scratch = map32(SCRATCH_SIZE, PROT_READ | PROT_WRITE);
	H.emu_scratch = malloc(SCRATCH_SIZE);
	H.init_scratch = malloc(SCRATCH_SIZE);
	if (!H.code || !H.stack32 || !H.scratch || !H.emu_scratch || !H.init_scratch)
		return false;
	H.scratch32 = (uint32_t)(uintptr_t)H.scratch;
	EM = (struct emu_memory){.code_at = (uint64_t)(uintptr_t)H.code, .code_len = PAGE,
				 .code = H.code, .data_at = H.scratch32,
				 .data_len = SCRATCH_SIZE, .data = H.emu_scratch};
	H.state = (uint32_t *)(void *)(H.code + STATE);
	if (sigaltstack(&ss, NULL))
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER;
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGTRAP, &sa, NULL);
	build_code_page();
	H.have_ldt = ldt_entry(0, H.scratch32, 0xffff, 0, false) &&
		     ldt_entry(1, H.scratch32, 0xfff, 1, false) &&
		     ldt_entry(2, H.scratch32, 0xffff, 0, true);
	return true;
}

/* A NOP case: tells whether 32-bit code runs at all. */
static const char *probe(void)
{
	struct tcase c;
	uint32_t gpr[8], fl;
	int sig;

	init_case(&c, "probe");
	put(&c, 0x90);
	sig = native_run(&c, gpr, &fl);
	if (sig)
		return "the far call into the 32-bit code segment faulted";
	if (memcmp(gpr, c.gpr, sizeof(gpr)))
		return "the 32-bit trampoline did not round-trip the registers";
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed1234abcdull;
	unsigned per_class = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 2000;
	const char *why;

	H.rng = seed ? seed : 1;
	if (!setup()) {
		printf("SKIPPED: cpu32 (no memory below 4 GiB for the 32-bit trampoline)\n");
		printf("############ cpu32 conformance NOT RUN ############\n");
		return 0;
	}
	for (unsigned i = 0; i < SCRATCH_SIZE; i++)
		H.init_scratch[i] = (uint8_t)rnd();
	why = probe();
	if (why) {
		printf("SKIPPED: cpu32 (%s)\n", why);
		printf("############ cpu32 conformance NOT RUN ############\n");
		return 0;
	}
	printf("# cpu32: seed 0x%" PRIx64 ", %u random cases per class, LDT %s\n", seed, per_class,
	       H.have_ldt ? "available" : "not available (16-bit addressing and limits skipped)");
	run_bcd_sweep();
	run_classes(per_class);
	printf("# cpu32: %u cases, %u failed\n", H.cases, H.failures);
	return H.failures ? 1 : 0;
}
