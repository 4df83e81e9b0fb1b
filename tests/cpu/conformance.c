/*
 * CPU conformance: each case is one instruction run on the host CPU (native.c) and on the emu
 * engine (x86_step) from the same registers, flags and scratch memory; all 16 GPRs, the RIP
 * advance, the arithmetic flags and DF, and the scratch buffer must match. Flags the SDM calls
 * undefined for an instruction are left out of the comparison (see undefined_flags()).
 *
 * Each case then runs a second time, on a fresh CPU and its own copy of the scratch memory,
 * through the translation cache (src/emu/jit.h) with blocks of one instruction, x86_step doing
 * what it does not translate; that run is held to the same comparison. It runs with paging on
 * (jit_memory.h), so that the TLB has host pointers for the code and the data; every other
 * case has its data pages as MMIO instead, so that the slow paths are taken too.
 *
 * Usage: cpu_conformance [seed [random-cases-per-class]]. Prints PASS:/FAIL: cpu/<class>, with
 * how many cases a translated block ran ("jit ran N"), and a "# jit ran" summary line.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"
#include "../../src/emu/jit.h"
#include "emu_memory.h"
#include "jit_memory.h"
#include "native.h"

#define SCRATCH_SIZE 65536
#define STACK_OFFSET 32768
#define DATA_OFFSET 16384
#define CMP_FLAGS (X86_FLAGS_ARITH | X86_FLAG_DF)
#define MAX_FAIL_REPORTS 5

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct tcase {
	uint8_t b[16];
	unsigned n;
	struct native_state init;
	uint64_t undef_flags; /* flags left out of the comparison */
	int mem_base;	      /* base register of a memory operand, -1 if none */
	const char *what;
	/* branch cases (native_prepare_branch): 0 none, 1 taken pad after, 2 taken pad before */
	int branch;
	unsigned rel_size;  /* trailing displacement bytes to patch with the taken pad's offset */
	int target_reg;	    /* register that gets the taken pad's address, -1 if none */
	uint64_t target_at; /* scratch address that gets the taken pad's address, 0 if none */
	bool rep;	    /* a REP string: x86_step may need several calls (bounded chunks) */
	/* scratch set-up applied to both copies before running */
	struct {
		uint64_t at, len;
		uint8_t byte;
	} fill[3];
	uint64_t poke_at, poke_val; /* 8-byte store if poke_at != 0 */
	uint64_t poke16_at;	    /* 16-byte store of poke16 if != 0 (SSE memory operands) */
	uint8_t poke16[16];
	bool fp; /* compare the x87/MMX, MXCSR and XMM state too (classes_sse.inc) */
};

struct harness {
	uint64_t rng;
	uint8_t *scratch;      /* the host CPU's memory */
	uint8_t *emu_scratch;  /* the emulator's copy, at the same linear address */
	uint8_t *jit_scratch;  /* the JIT run's copy, page-aligned */
	uint8_t *init_scratch; /* initial contents */
	uint64_t gs_base;      /* GS base of the host thread and the emulator (0: not set) */
	unsigned cases, failures;
	unsigned class_cases, class_failures;
	struct x86_jit *jit;
	/* cases given to the JIT, those where x86_jit_run ran a block, those that failed */
	unsigned jit_cases, jit_ran, jit_failures;
	unsigned class_jit_cases, class_jit_ran, class_jit_failures;
	bool page_cross; /* rnd_mem puts operands across the page line at DATA_OFFSET + 4096 */
};

static struct harness H;
static struct emu_memory EM; /* the emu's view of the case's memory */
static struct jit_memory JM; /* the JIT run's, through page tables */

/* One engine's run of a case: the CPU it left, and its copy of the scratch region. */
struct run {
	const char *engine; /* "emu" (x86_step) or "jit" */
	bool jit;
	struct x86_cpu *cpu;
	const uint8_t *scratch;
};

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

static const uint64_t edge_values[] = {
    0,
    1,
    2,
    ~0ull,
    ~0ull - 1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0x100000000ull,
    0x7fffffffffffffffull,
    0x8000000000000000ull,
    0xffffffffffffff80ull,
    0xffffffffffff8000ull,
    0xffffffff80000000ull,
    0x0f0f0f0f0f0f0f0full,
};

static uint64_t rnd_value(void)
{
	switch (rnd_below(4)) {
	case 0:
		return edge_values[rnd_below(sizeof(edge_values) / sizeof(edge_values[0]))];
	case 1:
		return rnd() & 0xff;
	default:
		return rnd();
	}
}

static uint64_t rnd_flags(void)
{
	return X86_FLAG_FIXED1 | (rnd() & CMP_FLAGS);
}

static unsigned rnd_count(unsigned size)
{
	static const unsigned counts[] = {0,  1,  2,  7,  8,  9,  15, 16,
					  17, 31, 32, 33, 63, 64, 65, 255};

	if (rnd_below(3) == 0)
		return rnd() & 0xff;
	if (rnd_below(4) == 0)
		return size * 8 - 1;
	return counts[rnd_below(sizeof(counts) / sizeof(counts[0]))];
}

static unsigned rnd_size(void)
{
	static const unsigned sizes[] = {1, 2, 4, 8};

	return sizes[rnd_below(4)];
}

/* ---- encoding ---- */

struct modrm_spec {
	bool mem;
	unsigned rm; /* register, or base register for memory */
	int index;   /* -1: no SIB */
	unsigned scale;
	int8_t disp;
};

static const unsigned base_regs[] = {RBX, RBP, RSI, RDI, R8, R9, R10, R11, R13, R14, R15};

static void put(struct tcase *c, uint8_t b)
{
	if (c->n < sizeof(c->b))
		c->b[c->n++] = b;
}

/*
 * A memory operand at scratch + DATA_OFFSET + [0, 4096), by base (+ index*scale) + disp8; with
 * H.page_cross 1..7 bytes before the page's end, so that most operands straddle the line.
 */
static struct modrm_spec rnd_mem(struct tcase *c, int avoid)
{
	struct modrm_spec m = {.mem = true, .index = -1};
	uint64_t data = (uint64_t)(uintptr_t)H.scratch + DATA_OFFSET;
	uint64_t target = H.page_cross ? data + 4095 - rnd_below(7) : data + rnd_below(4096 - 64);

	do
		m.rm = base_regs[rnd_below(sizeof(base_regs) / sizeof(base_regs[0]))];
	while ((int)m.rm == avoid);
	m.disp = (int8_t)rnd();
	if (rnd_below(4) == 0) {
		do
			m.index =
			    (int)base_regs[rnd_below(sizeof(base_regs) / sizeof(base_regs[0]))];
		while (m.index == (int)m.rm || m.index == avoid);
		m.scale = rnd_below(4);
		c->init.gpr[m.index] = rnd_below(16);
		target -= c->init.gpr[m.index] << m.scale;
	}
	c->init.gpr[m.rm] = target - (uint64_t)(int64_t)m.disp;
	return m;
}

static struct modrm_spec rnd_reg(void)
{
	return (struct modrm_spec){.rm = rnd_below(16), .index = -1};
}

/*
 * prefixes, REX, opcode bytes, ModRM (+SIB, disp8), immediate. size 2 adds 0x66, size 8 REX.W;
 * byte forms sometimes get an empty REX so that registers 4-7 are SPL..DIL instead of AH..BH.
 */
static void encode(struct tcase *c, unsigned size, const uint8_t *op, unsigned oplen, unsigned reg,
		   struct modrm_spec m, uint64_t imm, unsigned immlen)
{
	uint8_t rex = 0x40;

	if (size == 2)
		put(c, 0x66);
	if (size == 8)
		rex |= 8;
	if (reg & 8)
		rex |= 4;
	if (m.index >= 8)
		rex |= 2;
	if (m.rm & 8)
		rex |= 1;
	if (rex != 0x40 || (size == 1 && rnd_below(2)))
		put(c, rex);
	for (unsigned i = 0; i < oplen; i++)
		put(c, op[i]);
	if (!m.mem) {
		put(c, (uint8_t)(0xc0 | ((reg & 7) << 3) | (m.rm & 7)));
	} else if (m.index < 0) {
		c->mem_base = (int)m.rm;
		put(c, (uint8_t)(0x40 | ((reg & 7) << 3) | (m.rm & 7)));
		put(c, (uint8_t)m.disp);
	} else {
		c->mem_base = (int)m.rm;
		put(c, (uint8_t)(0x44 | ((reg & 7) << 3)));
		put(c, (uint8_t)((m.scale << 6) | ((m.index & 7) << 3) | (m.rm & 7)));
		put(c, (uint8_t)m.disp);
	}
	for (unsigned i = 0; i < immlen; i++)
		put(c, (uint8_t)(imm >> (8 * i)));
}

static struct modrm_spec rnd_rm(struct tcase *c, int avoid)
{
	return rnd_below(2) ? rnd_mem(c, avoid) : rnd_reg();
}

/* FXSAVE image offsets (SDM vol. 2 FXSAVE, table 3-53). */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_MXCSR 24
#define FX_ST 32
#define FX_XMM 160

static void fx_put16(uint8_t *fx, unsigned at, uint16_t v)
{
	memcpy(fx + at, &v, 2);
}

static void fx_put32(uint8_t *fx, unsigned at, uint32_t v)
{
	memcpy(fx + at, &v, 4);
}

static uint32_t fx_get32(const uint8_t *fx, unsigned at)
{
	uint32_t v;

	memcpy(&v, fx + at, 4);
	return v;
}

static uint16_t fx_get16(const uint8_t *fx, unsigned at)
{
	uint16_t v;

	memcpy(&v, fx + at, 2);
	return v;
}

/* The state of a fresh process: x87 empty, FCW 0x37f, MXCSR 0x1f80, XMM zero. */
static void fx_default(uint8_t *fx)
{
	memset(fx, 0, 512);
	fx_put16(fx, FX_FCW, 0x37f);
	fx_put32(fx, FX_MXCSR, 0x1f80);
}

/* The emu's x87/SSE state from an FXSAVE image: ST(i) is physical R[(TOP + i) & 7]. */
static void fx_to_emu(const uint8_t *fx, struct x86_fpu *f)
{
	unsigned top;

	f->fcw = fx_get16(fx, FX_FCW);
	f->fsw = fx_get16(fx, FX_FSW);
	f->ftw = fx[FX_FTW];
	f->mxcsr = fx_get32(fx, FX_MXCSR);
	top = (f->fsw >> 11) & 7;
	for (unsigned i = 0; i < 8; i++) {
		memcpy(&f->fpr[(top + i) & 7].mant, fx + FX_ST + 16 * i, 8);
		memcpy(&f->fpr[(top + i) & 7].sexp, fx + FX_ST + 16 * i + 8, 2);
	}
	memcpy(f->xmm, fx + FX_XMM, 256);
}

static void emu_to_fx(const struct x86_fpu *f, uint8_t *fx)
{
	unsigned top = (f->fsw >> 11) & 7;

	memset(fx, 0, 512);
	fx_put16(fx, FX_FCW, f->fcw);
	fx_put16(fx, FX_FSW, f->fsw);
	fx[FX_FTW] = f->ftw;
	fx_put32(fx, FX_MXCSR, f->mxcsr);
	for (unsigned i = 0; i < 8; i++) {
		memcpy(fx + FX_ST + 16 * i, &f->fpr[(top + i) & 7].mant, 8);
		memcpy(fx + FX_ST + 16 * i + 8, &f->fpr[(top + i) & 7].sexp, 2);
	}
	memcpy(fx + FX_XMM, f->xmm, 256);
}

/* The parts of two FXSAVE images an instruction can change: "" if they match. */
static const char *fx_diff(const uint8_t *a, const uint8_t *b)
{
	if (fx_get16(a, FX_FCW) != fx_get16(b, FX_FCW))
		return "fcw";
	if (fx_get16(a, FX_FSW) != fx_get16(b, FX_FSW))
		return "fsw";
	if (a[FX_FTW] != b[FX_FTW])
		return "ftw";
	if (fx_get32(a, FX_MXCSR) != fx_get32(b, FX_MXCSR))
		return "mxcsr";
	for (unsigned i = 0; i < 8; i++)
		if (memcmp(a + FX_ST + 16 * i, b + FX_ST + 16 * i, 10))
			return "st/mm";
	if (memcmp(a + FX_XMM, b + FX_XMM, 256))
		return "xmm";
	return "";
}

static void init_case(struct tcase *c, const char *what)
{
	memset(c, 0, sizeof(*c));
	fx_default(c->init.fx);
	for (unsigned r = 0; r < 16; r++)
		c->init.gpr[r] = rnd_value();
	c->init.gpr[RSP] = (uint64_t)(uintptr_t)H.scratch + STACK_OFFSET - 8 * rnd_below(64);
	c->init.rflags = rnd_flags();
	c->what = what;
	c->mem_base = -1;
	c->target_reg = -1;
}

static bool t_has_mem(const struct tcase *c, unsigned *base)
{
	if (c->mem_base < 0)
		return false;
	*base = (unsigned)c->mem_base;
	return true;
}

/* ---- running and comparing ---- */





static void print_case(const struct tcase *c, const struct native_state *nat, const struct run *r)
{
	static const char *const names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
					      "rsi", "rdi", "r8",  "r9",  "r10", "r11",
					      "r12", "r13", "r14", "r15"};
	const struct x86_cpu *emu = r->cpu;

	printf("  %s: bytes", c->what);
	for (unsigned i = 0; i < c->n; i++)
		printf(" %02x", c->b[i]);
	printf("\n  flags in %03" PRIx64 " native %03" PRIx64 " %s %03" PRIx64
	       " (ignored %03" PRIx64 ")\n",
	       (uint64_t)(c->init.rflags & CMP_FLAGS), (uint64_t)(nat->rflags & CMP_FLAGS),
	       r->engine, (uint64_t)(emu->rflags & CMP_FLAGS), c->undef_flags);
	for (unsigned i = 0; i < 16; i++)
		if (nat->gpr[i] != emu->gpr[i] || c->init.gpr[i] != nat->gpr[i])
			printf("  %-3s in %016" PRIx64 " native %016" PRIx64 " %s %016" PRIx64
			       "%s\n",
			       names[i], c->init.gpr[i], nat->gpr[i], r->engine, emu->gpr[i],
			       nat->gpr[i] != emu->gpr[i] ? "  <--" : "");
}

static void print_fx(const struct tcase *c, const uint8_t *nat, const struct x86_cpu *emu)
{
	uint8_t e[512];

	emu_to_fx(&emu->fpu, e);
	printf("  fsw in %04x native %04x emu %04x; ftw in %02x native %02x emu %02x\n",
	       fx_get16(c->init.fx, FX_FSW), fx_get16(nat, FX_FSW), fx_get16(e, FX_FSW),
	       c->init.fx[FX_FTW], nat[FX_FTW], e[FX_FTW]);
	printf("  mxcsr in %08x native %08x emu %08x\n", fx_get32(c->init.fx, FX_MXCSR),
	       fx_get32(nat, FX_MXCSR), fx_get32(e, FX_MXCSR));
	for (unsigned i = 0; i < 8; i++)
		if (memcmp(nat + FX_ST + 16 * i, e + FX_ST + 16 * i, 10) ||
		    memcmp(nat + FX_ST + 16 * i, c->init.fx + FX_ST + 16 * i, 10))
			printf("  st%u in %04x:%016" PRIx64 " native %04x:%016" PRIx64
			       " emu %04x:%016" PRIx64 "\n",
			       i, fx_get16(c->init.fx, FX_ST + 16 * i + 8),
			       (uint64_t)fx_get32(c->init.fx, FX_ST + 16 * i) |
				   (uint64_t)fx_get32(c->init.fx, FX_ST + 16 * i + 4) << 32,
			       fx_get16(nat, FX_ST + 16 * i + 8),
			       (uint64_t)fx_get32(nat, FX_ST + 16 * i) |
				   (uint64_t)fx_get32(nat, FX_ST + 16 * i + 4) << 32,
			       fx_get16(e, FX_ST + 16 * i + 8),
			       (uint64_t)fx_get32(e, FX_ST + 16 * i) |
				   (uint64_t)fx_get32(e, FX_ST + 16 * i + 4) << 32);
	for (unsigned i = 0; i < 16; i++) {
		const uint8_t *in = c->init.fx + FX_XMM + 16 * i, *n = nat + FX_XMM + 16 * i,
			      *m = e + FX_XMM + 16 * i;
		uint64_t q[6];

		if (!memcmp(n, m, 16) && !memcmp(n, in, 16) && !memcmp(in, m, 16) && !getenv("ALLXMM"))
			continue;
		memcpy(q, in, 16);
		memcpy(q + 2, n, 16);
		memcpy(q + 4, m, 16);
		printf("  xmm%-2u in %016" PRIx64 "%016" PRIx64 " native %016" PRIx64 "%016" PRIx64
		       " emu %016" PRIx64 "%016" PRIx64 "%s\n",
		       i, q[1], q[0], q[3], q[2], q[5], q[4], memcmp(n, m, 16) ? "  <--" : "");
	}
}

static void fail(const struct tcase *c, const struct run *r, const char *why,
		 const struct native_state *nat)
{
	unsigned *failures = r->jit ? &H.class_jit_failures : &H.class_failures;

	if (++*failures > MAX_FAIL_REPORTS)
		return;
	printf("  %s mismatch (%s)\n", r->engine, why);
	print_case(c, nat, r);
	if (c->fp)
		print_fx(c, nat->fx, r->cpu);
	if (c->fp && c->poke16_at)
		printf("  m128 %016" PRIx64 "%016" PRIx64 "\n", ((const uint64_t *)c->poke16)[1],
		       ((const uint64_t *)c->poke16)[0]);
}

/*
 * A fault both sides agree on: #DE (SIGFPE), #XM (SIGFPE, trap 19: the MXCSR flags of the
 * signal frame must match) or #GP (SIGSEGV, trap 13, e.g. a misaligned SSE operand). The emu
 * must have left every register but MXCSR as it was.
 */
static bool same_fault(const struct tcase *c, int sig, int exc, const struct run *r, uint64_t rip,
		       const struct native_state *nat)
{
	const struct x86_cpu *emu = r->cpu;
	uint8_t e[512];

	if (sig == SIGFPE && exc == X86_EXC_DE && native_fault_trapno() == 0) {
	} else if (sig == SIGFPE && exc == X86_EXC_XM && native_fault_trapno() == 19) {
		uint32_t n = fx_get32(native_fault_fx(), FX_MXCSR), m = emu->fpu.mxcsr;

		/* Known difference (exec_sse.c): with an unmasked overflow/underflow the host's
		 * PE tells whether the result with an unbounded exponent was inexact. */
		if (n != m && !((n ^ m) == 0x20 && (m & 0x18 & ~(m >> 7)))) {
			fail(c, r, "#XM mxcsr", nat);
			return true;
		}
	} else if (sig == SIGSEGV && exc == X86_EXC_GP && native_fault_trapno() == 13 && c->fp) {
	} else {
		return false;
	}
	emu_to_fx(&emu->fpu, e);
	fx_put32(e, FX_MXCSR, fx_get32(c->init.fx, FX_MXCSR));
	if (memcmp(emu->gpr, c->init.gpr, sizeof(emu->gpr)) || emu->rip != rip)
		fail(c, r, "its fault changed state", nat);
	else if (c->fp && *fx_diff(e, c->init.fx))
		fail(c, r, "its fault changed x87/SSE state", nat);
	return true;
}

static void scratch_store(uint64_t at, const void *p, size_t len)
{
	uint64_t off = at - (uint64_t)(uintptr_t)H.scratch;

	if (at < (uint64_t)(uintptr_t)H.scratch || off + len > SCRATCH_SIZE)
		return; /* a generator bug: leave memory alone, the case will show it */
	memcpy(H.scratch + off, p, len);
	memcpy(H.emu_scratch + off, p, len);
	memcpy(H.jit_scratch + off, p, len);
}

static void prepare_memory(const struct tcase *c)
{
	memcpy(H.scratch, H.init_scratch, SCRATCH_SIZE);
	memcpy(H.emu_scratch, H.init_scratch, SCRATCH_SIZE);
	memcpy(H.jit_scratch, H.init_scratch, SCRATCH_SIZE);
	for (unsigned i = 0; i < 3; i++) {
		uint8_t buf[8192];

		if (!c->fill[i].len || c->fill[i].len > sizeof(buf))
			continue;
		memset(buf, c->fill[i].byte, c->fill[i].len);
		scratch_store(c->fill[i].at, buf, c->fill[i].len);
	}
	if (c->poke_at)
		scratch_store(c->poke_at, &c->poke_val, 8);
	if (c->poke16_at)
		scratch_store(c->poke16_at, c->poke16, 16);
}

/* Branch cases: lay out the pads, aim the register/memory target at the taken pad. */
static uint64_t prepare_code(struct tcase *c, uint64_t *taken)
{
	uint64_t rip;

	*taken = 0;
	if (!c->branch)
		return native_prepare(c->b, c->n);
	rip = native_prepare_branch(c->b, c->n, c->rel_size, c->branch == 2, taken);
	memcpy(c->b, (const void *)(uintptr_t)rip, c->n); /* the patched bytes, for reports */
	if (c->target_reg >= 0)
		c->init.gpr[c->target_reg] = *taken;
	if (c->target_at)
		scratch_store(c->target_at, taken, 8);
	return rip;
}

/* Where the host CPU went: the pad it reached (branch cases) or the next instruction. */
static bool native_next_rip(const struct tcase *c, uint64_t rip, uint64_t taken, uint64_t *next)
{
	if (!c->branch) {
		*next = rip + c->n;
		return true;
	}
	switch (native_pad_reached()) {
	case NATIVE_PAD_FALLTHROUGH:
		*next = rip + c->n;
		return true;
	case NATIVE_PAD_TAKEN:
		*next = taken;
		return true;
	default:
		return false;
	}
}

static int emu_run(const struct tcase *c, struct x86_cpu *emu, uint64_t rip)
{
	int exc = x86_step(emu, &emu_memory_ops, &EM);

	/* an unfinished REP string leaves RIP on itself; 64 chunks are plenty for the cases */
	for (unsigned i = 0; c->rep && exc == 0 && emu->rip == rip && i < 64; i++)
		exc = x86_step(emu, &emu_memory_ops, &EM);
	return exc;
}

/* What the JIT did with a case: whether a block ran, whether *count kept to jit.h. */
struct jit_outcome {
	bool ran;
	bool count_wrong;
};

/* One instruction through the JIT: its block (of at most one instruction), else x86_step. */
static int jit_step(struct x86_cpu *cpu, struct jit_outcome *o)
{
	unsigned count = 0;
	int rc = x86_jit_run(H.jit, cpu, &jit_memory_ops, &JM, &count);

	/* nothing ran: count 0; the instruction ran: 1; it faulted: 0 done before it */
	if (count != (rc == 0 ? 1u : 0u))
		o->count_wrong = true;
	if (rc == X86_JIT_NONE)
		return x86_step(cpu, &jit_memory_ops, &JM);
	o->ran = true;
	return rc;
}

/* The case through the JIT, as emu_run does it through x86_step (REP chunks included). */
static int jit_run(const struct tcase *c, struct x86_cpu *cpu, uint64_t rip, struct jit_outcome *o)
{
	int exc = jit_step(cpu, o);

	for (unsigned i = 0; c->rep && exc == 0 && cpu->rip == rip && i < 64; i++)
		exc = jit_step(cpu, o);
	return exc;
}

/* The emu CPU at the start of a case: the case's registers, at CPL 3 as the host runs it. */
static void case_cpu(const struct tcase *c, uint64_t rip, struct x86_cpu *cpu)
{
	x86_cpu_init(cpu);
	memcpy(cpu->gpr, c->init.gpr, sizeof(cpu->gpr));
	cpu->rflags = c->init.rflags;
	cpu->rip = rip;
	cpu->seg[X86_SEG_GS].base = H.gs_base;
	cpu->seg[X86_SEG_CS].selector = 0x33;
	fx_to_emu(c->init.fx, &cpu->fpu);
}

/* One engine's result (exc from its run) against the host CPU's (sig from native_run). */
static void check_run(const struct tcase *c, const struct run *r, int exc, int sig, uint64_t rip,
		      uint64_t taken, const struct native_state *nat)
{
	const struct x86_cpu *emu = r->cpu;
	uint64_t cmp = CMP_FLAGS & ~c->undef_flags;
	uint64_t next;

	if (sig == SIGFPE || exc) {
		if (!same_fault(c, sig, exc, r, rip, nat))
			fail(c, r, sig ? "native faulted" : "it faulted", nat);
		return;
	}
	if (sig) {
		fail(c, r, "native signal", nat);
		return;
	}
	if (!native_next_rip(c, rip, taken, &next))
		fail(c, r, "native reached no pad", nat);
	else if (emu->rip != next)
		fail(c, r, "rip", nat);
	else if (memcmp(emu->gpr, nat->gpr, sizeof(nat->gpr)))
		fail(c, r, "gpr", nat);
	else if ((emu->rflags ^ nat->rflags) & cmp)
		fail(c, r, "flags", nat);
	else if (memcmp(H.scratch, r->scratch, SCRATCH_SIZE))
		fail(c, r, "memory", nat);
	else if (c->fp) {
		uint8_t e[512];

		emu_to_fx(&emu->fpu, e);
		if (*fx_diff(nat->fx, e))
			fail(c, r, fx_diff(nat->fx, e), nat);
	}
}

/*
 * What the JIT's run of a case adds to the CPU the interpreter's starts with: paging on
 * (jit_memory.h), and an empty translation cache (the cases reuse the code page's addresses).
 * Every other case has its data pages as MMIO, a counter rather than rnd() choosing, so the
 * cases generated stay the same.
 */
static void jit_begin(struct x86_cpu *cpu)
{
	cpu->cr0 |= X86_CR0_PG;
	cpu->cr3 = jit_memory_cr3();
	JM.data_mmio = H.class_jit_cases & 1;
	H.class_jit_cases++;
	x86_jit_flush(H.jit);
}

static void run_case_jit(const struct tcase *c, int sig, uint64_t rip, uint64_t taken,
			 const struct native_state *nat)
{
	struct x86_cpu cpu;
	struct run r = {.engine = "jit", .jit = true, .cpu = &cpu, .scratch = H.jit_scratch};
	struct jit_outcome o = {0};
	int exc;

	case_cpu(c, rip, &cpu);
	jit_begin(&cpu);
	exc = jit_run(c, &cpu, rip, &o);
	H.class_jit_ran += o.ran;
	/* a REP string's chunks may count either way: its RIP is not the next instruction's */
	if (o.count_wrong && !c->rep)
		fail(c, &r, "x86_jit_run's *count", nat);
	else
		check_run(c, &r, exc, sig, rip, taken, nat);
}

static void run_case(struct tcase *c)
{
	struct native_state nat;
	struct x86_cpu emu;
	struct run r = {.engine = "emu", .cpu = &emu, .scratch = H.emu_scratch};
	uint64_t rip, taken;
	int sig, exc;

	H.class_cases++;
	prepare_memory(c);
	rip = prepare_code(c, &taken);
	nat = c->init;
	case_cpu(c, rip, &emu);
	sig = native_run(&nat);
	exc = emu_run(c, &emu, rip);
	check_run(c, &r, exc, sig, rip, taken, &nat);
	run_case_jit(c, sig, rip, taken, &nat);
}

/* ---- reporting by class ---- */

static void class_begin(void)
{
	H.class_cases = H.class_failures = 0;
	H.class_jit_cases = H.class_jit_ran = H.class_jit_failures = 0;
}

/* Adds the class to the totals and prints its line, with its JIT pass if it had one. */
static void class_end(const char *name)
{
	bool failed = H.class_failures || H.class_jit_failures;

	H.cases += H.class_cases;
	H.failures += H.class_failures;
	H.jit_cases += H.class_jit_cases;
	H.jit_ran += H.class_jit_ran;
	H.jit_failures += H.class_jit_failures;
	if (!H.class_jit_cases) {
		printf("%s: cpu/%s (%u cases, %u failed)\n", failed ? "FAIL" : "PASS", name,
		       H.class_cases, H.class_failures);
		return;
	}
	printf("%s: cpu/%s (%u cases, %u failed; jit ran %u of %u, %u failed)\n",
	       failed ? "FAIL" : "PASS", name, H.class_cases, H.class_failures, H.class_jit_ran,
	       H.class_jit_cases, H.class_jit_failures);
}

/* ---- x86_step itself: faults commit nothing, instructions not advertised are #UD ---- */

/* A step check that failed on the interpreter or (jit) on the JIT's run of it. */
__attribute__((format(printf, 3, 4))) static void step_fail(bool jit, const char *what,
							    const char *fmt, ...)
{
	va_list ap;

	++*(jit ? &H.class_jit_failures : &H.class_failures);
	printf("  %s%s: ", jit ? "jit: " : "", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * A step check's instruction on the interpreter, or (jit) through the JIT as a case's is, on a
 * CPU that jit_begin prepared. The JIT side sees the same code page at the same address.
 */
static int step_on(struct x86_cpu *cpu, bool jit, const char *what)
{
	struct jit_outcome o = {0};
	int rc;

	if (!jit)
		return x86_step(cpu, &emu_memory_ops, &EM);
	rc = jit_step(cpu, &o);
	H.class_jit_ran += o.ran;
	if (o.count_wrong)
		step_fail(true, what, "x86_jit_run's *count");
	return rc;
}

static void step_check(const char *what, const uint8_t *b, unsigned n, uint64_t at_offset,
		       uint64_t rbx, int want)
{
	uint8_t *page = native_code_page();

	H.class_cases++;
	memset(page, 0xcc, NATIVE_PAGE_SIZE);
	memcpy(page + at_offset, b, n);
	for (int jit = 0; jit < 2; jit++) {
		struct x86_cpu emu, before;
		int rc;

		x86_cpu_init(&emu);
		for (unsigned r = 0; r < 16; r++)
			emu.gpr[r] = (uint64_t)(uintptr_t)H.scratch + STACK_OFFSET;
		emu.gpr[RBX] = rbx;
		emu.rip = (uint64_t)(uintptr_t)page + at_offset;
		if (jit)
			jit_begin(&emu);
		before = emu;
		rc = step_on(&emu, jit, what);
		if (rc != want)
			step_fail(jit, what, "returned %#x, want %#x", (unsigned)rc,
				  (unsigned)want);
		else if (rc && (memcmp(emu.gpr, before.gpr, sizeof(emu.gpr)) ||
				emu.rip != before.rip || emu.rflags != before.rflags))
			step_fail(jit, what, "state changed by a faulting instruction");
		else if (!rc && emu.rip != before.rip + n)
			step_fail(jit, what, "rip");
	}
}

static void run_step_checks(void)
{
	static const uint8_t mov_store[] = {0x89, 0x03}, push_rbx[] = {0x53},
			     cpuid[] = {0x0f, 0xa2};
	static const uint8_t hlt[] = {0xf4}, lahf[] = {0x9f}, sahf[] = {0x9e}, lock_add[] = {0xf0, 0x01, 0x03};
	static const uint8_t movbe[] = {0x0f, 0x38, 0xf0, 0x03};
	static const uint8_t nop[] = {0x90}, xor_eax[] = {0x31, 0xc0}, ud2[] = {0x0f, 0x0b};
	static const uint8_t long_insn[] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90};
	uint64_t in_scratch = (uint64_t)(uintptr_t)H.scratch + DATA_OFFSET;
	struct x86_cpu emu;

	class_begin();
	step_check("store to unmapped memory: #PF", mov_store, 2, 64, 0x1000, X86_EXC_PF);
	step_check("load/store in scratch", mov_store, 2, 64, in_scratch, 0);
	step_check("lock add", lock_add, 3, 64, in_scratch, 0);
	step_check("cpuid at CPL 3", cpuid, 2, 64, 0, 0);
	step_check("hlt at CPL 3: #GP", hlt, 1, 64, 0, X86_EXC_GP);
	step_check("lahf: #UD in 64-bit mode (no LAHF_LM)", lahf, 1, 64, 0, X86_EXC_UD);
	step_check("sahf: #UD in 64-bit mode (no LAHF_LM)", sahf, 1, 64, 0, X86_EXC_UD);
	step_check("movbe: #UD (not advertised)", movbe, 4, 64, in_scratch, X86_EXC_UD);
	step_check("ud2", ud2, 2, 64, 0, X86_EXC_UD);
	step_check("16 bytes: #GP", long_insn, 16, 64, 0, X86_EXC_GP);
	step_check("nop in the page's last byte", nop, 1, NATIVE_PAGE_SIZE - 1, 0, 0);
	step_check("insn running off the page: #PF", xor_eax, 1, NATIVE_PAGE_SIZE - 1, 0,
		   X86_EXC_PF);
	step_check("push, stack fine", push_rbx, 1, 64, 0, 0);
	/* a push with RSP outside memory faults and leaves RSP */
	H.class_cases++;
	memcpy(native_code_page() + 64, push_rbx, 1);
	x86_cpu_init(&emu);
	emu.rip = (uint64_t)(uintptr_t)native_code_page() + 64;
	emu.gpr[RSP] = 0x2000;
	if (x86_step(&emu, &emu_memory_ops, &EM) != X86_EXC_PF || emu.gpr[RSP] != 0x2000 ||
	    emu.rip != (uint64_t)(uintptr_t)native_code_page() + 64) {
		H.class_failures++;
		printf("  push to unmapped stack\n");
	}
	class_end("step");
}

/* ---- the instruction classes ---- */

#include "classes.inc"
#include "classes_sse.inc"

/*
 * Memory operands across a page line (rnd_mem with H.page_cross): the TLB's hit path takes only
 * accesses within one page, so these take the slow paths of the interpreter and the JIT. Run
 * after every other class, so that those classes' cases stay what they were. No XCHG with
 * memory: its implicit LOCK across a cache line is a split lock, which the host kernel may
 * slow down or kill (split_lock_detect).
 */
static void run_page_cross_class(unsigned per_class)
{
	static void (*const gens[])(struct tcase *) = {
	    gen_alu,	gen_test, gen_unary, gen_mul,	  gen_div,    gen_shift,
	    gen_shiftd, gen_mov,  gen_movx,  gen_cmpxchg, gen_xadd,   gen_bt,
	    gen_bscan,	gen_cond, gen_stack, gen_branch,  gen_sse_fp, gen_sse_int,
	};
	struct tcase c;

	class_begin();
	H.page_cross = true;
	for (unsigned k = 0; k < per_class; k++) {
		gens[k % N_ELEMS(gens)](&c);
		run_case(&c);
	}
	H.page_cross = false;
	class_end("page-cross");
}

static void print_jit_summary(void)
{
	struct x86_jit_stats st;

	x86_jit_stats(H.jit, &st);
	printf("# jit ran %u of %u cases, %u failed (%" PRIu64 " blocks translated, %" PRIu64
	       " entered, %" PRIu64 " instructions in translated code, %" PRIu64
	       " handed to the interpreter)\n",
	       H.jit_ran, H.jit_cases, H.jit_failures, st.blocks, st.runs, st.insns, st.slow_steps);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed1234abcdull;
	unsigned per_class = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 2000;

	H.rng = seed ? seed : 1;
	H.scratch = aligned_alloc(4096, SCRATCH_SIZE);
	H.emu_scratch = malloc(SCRATCH_SIZE);
	H.jit_scratch = aligned_alloc(4096, SCRATCH_SIZE);
	H.init_scratch = malloc(SCRATCH_SIZE);
	H.jit = x86_jit_create(0, 1); /* translate at once, one instruction per block */
	if (!H.scratch || !H.emu_scratch || !H.jit_scratch || !H.init_scratch || !H.jit ||
	    native_init() ||
	    jit_memory_init(&JM, (uint64_t)(uintptr_t)native_code_page(), native_code_page(),
			    (uint64_t)(uintptr_t)H.scratch, SCRATCH_SIZE, H.jit_scratch)) {
		printf("FAIL: cpu/setup\n");
		return 1;
	}
	EM = (struct emu_memory){.code_at = (uint64_t)(uintptr_t)native_code_page(),
				 .code_len = NATIVE_PAGE_SIZE, .code = native_code_page(),
				 .data_at = (uint64_t)(uintptr_t)H.scratch, .data_len = SCRATCH_SIZE,
				 .data = H.emu_scratch};
	for (unsigned i = 0; i < SCRATCH_SIZE; i++)
		H.init_scratch[i] = (uint8_t)rnd();
	H.gs_base = native_set_gs_base((uint64_t)(uintptr_t)H.scratch + DATA_OFFSET)
			? 0
			: (uint64_t)(uintptr_t)H.scratch + DATA_OFFSET;
	printf("# seed 0x%" PRIx64 ", %u random cases per class, GS base %s\n", seed, per_class,
	       H.gs_base ? "set" : "not settable (cpu/gs runs plain cases)");
	run_step_checks();
	run_sweeps();
	run_classes(per_class);
	run_sse_step_checks();
	run_sse_classes(per_class);
	run_page_cross_class(per_class);
	printf("# %u cases, %u failed\n", H.cases, H.failures);
	print_jit_summary();
	x86_jit_destroy(H.jit);
	jit_memory_free(&JM);
	free(H.scratch);
	free(H.emu_scratch);
	free(H.jit_scratch);
	free(H.init_scratch);
	return H.failures || H.jit_failures ? 1 : 0;
}
