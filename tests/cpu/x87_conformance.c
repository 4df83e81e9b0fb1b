/*
 * x87 conformance: every x87 instruction form the decoder accepts (D8-DF register forms, memory
 * forms with [rbx + disp8]), FWAIT, FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, run on the host CPU and on
 * the emu engine (x86_step) from the same x87/SSE state, RAX, RFLAGS and memory.
 *
 * The native runner (x87_native_run below) loads the state with FXRSTOR64, calls the
 * instruction (followed by RET on an executable page), and saves it with FXSAVE64; the emu
 * starts from the same image (img_to_fpu) and its state is turned back into an FXSAVE64 image
 * (fpu_to_img). The two 512-byte images are compared whole, except what legitimately differs:
 *  - bytes 288-511 (reserved / available to software): FXSAVE does not write them, and the
 *    runner leaves them zero on both sides; they are compared anyway.
 * Also compared: RAX (FNSTSW AX), CF PF AF ZF SF OF (FCOMI family, FCMOVcc inputs), the data
 * memory, and the outcome: SIGFPE (#MF), SIGSEGV (#GP) and SIGILL (#UD) against the emu's
 * exception, after which the emu's state must be unchanged.
 *
 * States are random with edge values: +-0, +-inf, QNaN/SNaN/indefinite, denormals,
 * pseudo-denormals, unnormals, pseudo-NaN/inf (unsupported), extreme and near-one exponents,
 * integer-sized values; every precision and rounding control, random masks (and so unmasked
 * exceptions and pending #MF), random TOP and tags (stack empty, full, partial).
 *
 * Then checks the emu alone can do (CR0 and modes a user process cannot set): #NM with CR0.EM,
 * CR0.TS, FWAIT with MP+TS, #UD for FXSAVE with EM, faults that leave the FPU unchanged, the
 * real-mode FNSTENV layouts.
 *
 * Usage: x87_conformance [seed [random-cases-per-form]]. Prints PASS:/FAIL: x87/<class>.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostvisor/x86_cpu.h"
#include "emu_memory.h"

#define DATA_SIZE 4096
#define DATA_BASE_OFF 1024 /* RBX points here; memory operands are [rbx + disp8] */
#define MAX_CLASSES 256
#define MAX_FAIL_REPORTS 3

/* The runner's context: offsets are used by the assembly below. */
struct native_ctx {
	_Alignas(64) uint8_t in[512]; /* 0 */
	uint8_t out[512];	      /* 512 */
	uint64_t rax;		      /* 1024 */
	uint64_t rbx;		      /* 1032 */
	uint64_t rflags;	      /* 1040 */
};

void x87_native_run(struct native_ctx *c, void *code);
__asm__("	.text\n"
	"	.p2align 4\n"
	"	.type x87_native_run, @function\n"
	"x87_native_run:\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	sub $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	mov %rdi, %r12\n"
	"	fxrstor64 (%r12)\n"
	"	mov 1032(%r12), %rbx\n"
	"	mov 1024(%r12), %rax\n"
	"	pushq 1040(%r12)\n"
	"	popfq\n"
	"	call *%rsi\n"
	"	pushfq\n"
	"	popq 1040(%r12)\n"
	"	mov %rax, 1024(%r12)\n"
	"	fxsave64 512(%r12)\n"
	"	fninit\n"
	"	fldcw 4(%rsp)\n"
	"	ldmxcsr (%rsp)\n"
	"	add $8, %rsp\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	ret\n"
	"	.size x87_native_run, . - x87_native_run\n");

struct klass {
	char name[40];
	unsigned cases, failures;
};

struct harness {
	uint64_t rng;
	uint8_t *code;	   /* executable page: instruction + RET */
	uint8_t *data;	   /* the host's data page */
	uint8_t *emu_data; /* the emu's copy (same linear addresses) */
	struct klass classes[MAX_CLASSES];
	unsigned nclasses;
	unsigned cases, failures;
	unsigned faulted[32]; /* cases where both sides faulted, by signal */
};

static struct harness H;
static struct emu_memory EM; /* the emu's view of the case's memory */
static sigjmp_buf jmp_env;
static volatile sig_atomic_t got_signal;

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

static void put_f80(uint8_t *p, uint64_t mant, uint16_t sexp)
{
	memcpy(p, &mant, 8);
	memcpy(p + 8, &sexp, 2);
}

/* An 80-bit value of a random class (SDM 4.2.2, 8.2.2 table 8-3). */
static void rnd_f80(uint8_t *p)
{
	uint16_t sign = rnd_below(2) ? 0x8000 : 0;
	uint64_t m = rnd(), j = 1ull << 63;

	switch (rnd_below(18)) {
	case 0: /* zero */
		put_f80(p, 0, sign);
		break;
	case 1: /* infinity */
		put_f80(p, j, sign | 0x7fff);
		break;
	case 2: /* QNaN / indefinite */
		put_f80(p, rnd_below(2) ? (3ull << 62) : ((3ull << 62) | (m >> 2)), sign | 0x7fff);
		break;
	case 3: /* SNaN */
		put_f80(p, j | ((m >> 2) | 1), sign | 0x7fff);
		break;
	case 4: /* denormal */
		put_f80(p, (m >> rnd_below(64)) & ~j, sign);
		break;
	case 5: /* pseudo-denormal */
		put_f80(p, j | (m >> 1), sign);
		break;
	case 6: /* unnormal */
		put_f80(p, m >> 1 >> rnd_below(8), (uint16_t)(sign | (1 + rnd_below(0x7ffe))));
		break;
	case 7: /* pseudo-NaN / pseudo-infinity */
		put_f80(p, (m >> 1) & (rnd_below(2) ? ~0ull : 0), sign | 0x7fff);
		break;
	case 8: /* extremes: largest, smallest normal, around the single/double limits */
	{
		static const uint16_t exps[] = {0x7ffe, 0x0001, 0x3fff + 127, 0x3fff - 126,
						0x3fff + 1023, 0x3fff - 1022, 0x3fff - 149,
						0x3fff - 1074, 0x3fff + 128, 0x3fff + 1024};

		put_f80(p, rnd_below(2) ? ~0ull : j | (m & rnd()), sign | exps[rnd_below(10)]);
		break;
	}
	case 9: /* small integers, exact */
	{
		long double v = (long double)(int64_t)(rnd() % 2001) - 1000;

		memcpy(p, &v, 10);
		break;
	}
	case 10:
	case 11: /* near one, transcendental ranges */
		put_f80(p, j | m, (uint16_t)(sign | (0x3fff - 8 + rnd_below(12))));
		break;
	case 12:
	case 13: /* integer-sized magnitudes (FIST, FRNDINT, FBSTP) */
		put_f80(p, j | (m & (rnd_below(2) ? ~0ull : ~0ull << rnd_below(64))),
			(uint16_t)(sign | (0x3fff + rnd_below(68))));
		break;
	case 14: /* tiny and huge: underflow / overflow */
		put_f80(p, j | m, (uint16_t)(sign | (rnd_below(2) ? rnd_below(200) + 1
								 : 0x7ffe - rnd_below(200))));
		break;
	default: /* any normal */
		put_f80(p, j | m, (uint16_t)(sign | (1 + rnd_below(0x7ffe))));
		break;
	}
}

static uint32_t rnd_f32(void)
{
	static const uint32_t edge[] = {0,	    0x80000000, 0x7f800000, 0xff800000,
					0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000,
					0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff,
					0x3f800000, 0xbf800000, 0x4b000000, 0x3f000000};
	uint32_t m = (uint32_t)rnd();

	switch (rnd_below(4)) {
	case 0:
		return edge[rnd_below(16)];
	case 1:
		return (m & 0x807fffff) | ((uint32_t)(127 - 8 + rnd_below(40)) << 23);
	case 2:
		return m & 0x807fffff; /* denormal or zero */
	default:
		return m;
	}
}

static uint64_t rnd_f64(void)
{
	static const uint64_t edge[] = {0,
					0x8000000000000000ull,
					0x7ff0000000000000ull,
					0xfff0000000000000ull,
					0x7ff8000000000000ull,
					0xfff8000000000000ull,
					0x7ff0000000000001ull,
					0x7ff4000000000000ull,
					1,
					0x000fffffffffffffull,
					0x0010000000000000ull,
					0x7fefffffffffffffull,
					0x3ff0000000000000ull,
					0xbff0000000000000ull,
					0x4330000000000000ull,
					0x3fe0000000000000ull};
	uint64_t m = rnd();

	switch (rnd_below(4)) {
	case 0:
		return edge[rnd_below(16)];
	case 1:
		return (m & 0x800fffffffffffffull) | ((uint64_t)(1023 - 8 + rnd_below(80)) << 52);
	case 2:
		return m & 0x800fffffffffffffull;
	default:
		return m;
	}
}

static uint64_t rnd_int(unsigned bytes)
{
	static const int64_t edge[] = {0, 1, -1, 2, -2, 0x7fff, -0x8000, 0x7fffffff,
				       -0x7fffffff - 1, INT64_MAX, INT64_MIN, 1000000};

	if (rnd_below(3) == 0)
		return (uint64_t)edge[rnd_below(12)];
	return rnd() >> rnd_below(8 * bytes);
}

/* 18 BCD digits and a sign byte; sometimes invalid digits or sign bytes. */
static void rnd_bcd(uint8_t *p)
{
	for (unsigned i = 0; i < 9; i++) {
		unsigned lo = rnd_below(10), hi = rnd_below(10);

		if (rnd_below(40) == 0)
			lo = 10 + rnd_below(6);
		p[i] = (uint8_t)(lo | hi << 4);
	}
	if (rnd_below(3) == 0)
		memset(p + 1 + rnd_below(8), 0, 1);
	p[9] = rnd_below(10) == 0 ? (uint8_t)rnd() : (rnd_below(2) ? 0x80 : 0);
}

/* A random memory operand at p for the form esc/reg (load forms). */
static void rnd_operand(uint8_t *p, unsigned esc, unsigned reg)
{
	uint32_t v32;
	uint64_t v64;

	switch (esc) {
	case 0:
	case 1:
		v32 = rnd_f32();
		memcpy(p, &v32, 4);
		break;
	case 2:
	case 3:
		if (esc == 3 && reg == 5) {
			rnd_f80(p);
			break;
		}
		v32 = (uint32_t)rnd_int(4);
		memcpy(p, &v32, 4);
		break;
	case 4:
	case 5:
		v64 = rnd_f64();
		memcpy(p, &v64, 8);
		break;
	default:
		if (esc == 7 && reg == 4) {
			rnd_bcd(p);
		} else if (esc == 7 && reg == 5) {
			v64 = rnd_int(8);
			memcpy(p, &v64, 8);
		} else {
			v64 = rnd_int(2);
			memcpy(p, &v64, 2);
		}
		break;
	}
}

/* ---- FXSAVE64 images and struct x86_fpu ---- */

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void img_to_fpu(const uint8_t *img, struct x86_fpu *f)
{
	unsigned top;

	f->fcw = get16(img);
	f->fsw = get16(img + 2);
	f->ftw = img[4];
	f->fop = get16(img + 6);
	memcpy(&f->fip, img + 8, 8);
	memcpy(&f->fdp, img + 16, 8);
	memcpy(&f->mxcsr, img + 24, 4);
	top = (f->fsw >> 11) & 7;
	for (unsigned i = 0; i < 8; i++) {
		memcpy(&f->fpr[(top + i) & 7].mant, img + 32 + 16 * i, 8);
		memcpy(&f->fpr[(top + i) & 7].sexp, img + 40 + 16 * i, 2);
	}
	memcpy(f->xmm, img + 160, 256);
}

static void fpu_to_img(const struct x86_fpu *f, uint8_t *img)
{
	unsigned top = (f->fsw >> 11) & 7;
	uint32_t mask = X86_MXCSR_MASK;

	memset(img, 0, 512);
	put16(img, f->fcw);
	put16(img + 2, f->fsw);
	img[4] = f->ftw;
	put16(img + 6, f->fop);
	memcpy(img + 8, &f->fip, 8);
	memcpy(img + 16, &f->fdp, 8);
	memcpy(img + 24, &f->mxcsr, 4);
	memcpy(img + 28, &mask, 4);
	for (unsigned i = 0; i < 8; i++) {
		memcpy(img + 32 + 16 * i, &f->fpr[(top + i) & 7].mant, 8);
		memcpy(img + 40 + 16 * i, &f->fpr[(top + i) & 7].sexp, 2);
	}
	memcpy(img + 160, f->xmm, 256);
}

/* Instruction and data pointers are addresses: canonical (AMD keeps 48 bits of them). */
static uint64_t canonical(uint64_t v)
{
	return (uint64_t)((int64_t)(v << 16) >> 16);
}

/* A random state; pending unmasked exceptions only when allow_pending. */
static void rnd_state(uint8_t *img, bool allow_pending)
{
	uint16_t fcw, fsw, flags;
	uint32_t mxcsr = 0x1f80 | ((uint32_t)rnd() & 0x3f);
	uint64_t v;

	memset(img, 0, 512);
	fcw = (uint16_t)(0x40 | (rnd_below(4) << 8) | (rnd_below(4) << 10) |
			 (rnd_below(2) ? 0x3f : (rnd() & 0x3f)) | (rnd_below(4) == 0 ? 0x1000 : 0));
	flags = rnd_below(2) ? 0 : (uint16_t)(rnd() & 0x7f);
	if (!allow_pending)
		flags &= fcw & 0x3f;
	fsw = (uint16_t)(flags | (rnd() & 0x4700) | (rnd_below(8) << 11));
	if (fsw & ~fcw & 0x3f)
		fsw |= 0x8080;
	put16(img, fcw);
	put16(img + 2, fsw);
	switch (rnd_below(5)) {
	case 0:
		img[4] = 0xff;
		break;
	case 1:
		img[4] = 0;
		break;
	default:
		img[4] = (uint8_t)rnd();
		break;
	}
	put16(img + 6, (uint16_t)(rnd() & 0x7ff));
	v = canonical(rnd());
	memcpy(img + 8, &v, 8);
	v = canonical(rnd());
	memcpy(img + 16, &v, 8);
	memcpy(img + 24, &mxcsr, 4);
	for (unsigned i = 0; i < 8; i++)
		rnd_f80(img + 32 + 16 * i);
	for (unsigned i = 0; i < 256; i += 8) {
		v = rnd();
		memcpy(img + 160 + i, &v, 8);
	}
}

/* ---- the emu's memory: the code page and the data page at their host addresses ---- */





/* ---- classes ---- */

static struct klass *klass(const char *name)
{
	for (unsigned i = 0; i < H.nclasses; i++)
		if (!strcmp(H.classes[i].name, name))
			return &H.classes[i];
	if (H.nclasses == MAX_CLASSES)
		return &H.classes[MAX_CLASSES - 1];
	snprintf(H.classes[H.nclasses].name, sizeof(H.classes[0].name), "%s", name);
	return &H.classes[H.nclasses++];
}

static void dump_img_diff(const uint8_t *nat, const uint8_t *emu)
{
	for (unsigned i = 0; i < 512; i += 16) {
		if (!memcmp(nat + i, emu + i, 16))
			continue;
		printf("    %3u nat:", i);
		for (unsigned k = 0; k < 16; k++)
			printf(" %02x", nat[i + k]);
		printf("\n        emu:");
		for (unsigned k = 0; k < 16; k++)
			printf(" %02x", emu[i + k]);
		printf("\n");
	}
}

static void dump_mem_diff(const struct klass *k)
{
	unsigned shown = 0;

	if (k->failures > MAX_FAIL_REPORTS)
		return;
	for (unsigned i = 0; i < DATA_SIZE && shown < 24; i++) {
		if (H.data[i] == H.emu_data[i])
			continue;
		printf("    [rbx%+d] nat %02x emu %02x\n", (int)i - DATA_BASE_OFF, H.data[i],
		       H.emu_data[i]);
		shown++;
	}
}

struct xcase {
	uint8_t insn[16];
	unsigned len;
	uint8_t img[512];
	uint64_t rax, rflags;
	int fx_off; /* FXSAVE: data offset of the stored image, else -1 */
	bool gs;    /* GS override: GS base is the data page, RBX the offset DATA_BASE_OFF */
};

static void report(struct klass *k, const struct xcase *c, const char *why,
		   const uint8_t *in, const uint8_t *nat, const uint8_t *emu)
{
	k->failures++;
	if (k->failures > MAX_FAIL_REPORTS)
		return;
	printf("  %s: %s, insn", k->name, why);
	for (unsigned i = 0; i < c->len; i++)
		printf(" %02x", c->insn[i]);
	printf("\n");
	if (in) {
		printf("   in:\n");
		for (unsigned i = 0; i < 160; i += 16) {
			printf("    %3u    :", i);
			for (unsigned b = 0; b < 16; b++)
				printf(" %02x", in[i + b]);
			printf("\n");
		}
	}
	if (nat && emu)
		dump_img_diff(nat, emu);
}

static void on_signal(int sig)
{
	got_signal = sig;
	siglongjmp(jmp_env, 1);
}

static int native(struct native_ctx *ctx)
{
	got_signal = 0;
	if (sigsetjmp(jmp_env, 1))
		return got_signal;
	x87_native_run(ctx, H.code);
	return 0;
}

static bool exc_matches(int sig, int exc)
{
	switch (sig) {
	case SIGFPE:
		return exc == X86_EXC_MF;
	case SIGSEGV:
		return exc == X86_EXC_GP || exc == X86_EXC_PF;
	case SIGILL:
		return exc == X86_EXC_UD;
	default:
		return false;
	}
}

#define ARITH_FLAGS 0x8d5ull

/*
 * What may differ between the host's FXSAVE image and the emu's:
 *  - MXCSR_MASK: the emu reports 0xffff (DAZ, no misaligned-SSE mode); AMD hosts add bit 17 (MM).
 *  - FOP, FIP, FDP: AMD's FXSAVE stores them as zero unless an unmasked exception is pending
 *    (FSW.ES = 1; AMD APM vol. 5 FXSAVE). Then the emu's (Intel) values are not comparable;
 *    with ES = 1, or on a host that stores them, they are compared.
 */
static void legit_differences(const uint8_t *nat, uint8_t *emu)
{
	static const uint8_t zero[18];

	emu[30] |= nat[30] & 0x02;
	if (!(nat[2] & 0x80) && !memcmp(nat + 6, zero, 18))
		memset(emu + 6, 0, 18);
}

/* Runs one case on both sides; the data pages must already hold the same bytes. */
static void run_case(const char *cls, const struct xcase *c)
{
	static struct native_ctx ctx;
	struct klass *k = klass(cls);
	struct x86_cpu emu, before;
	uint8_t emu_img[512];
	int sig, exc;

	k->cases++;
	memcpy(H.code, c->insn, c->len);
	H.code[c->len] = 0xc3;
	memcpy(ctx.in, c->img, 512);
	memset(ctx.out, 0, 512);
	ctx.rax = c->rax;
	ctx.rbx = (c->gs ? 0 : (uint64_t)(uintptr_t)H.data) + DATA_BASE_OFF;
	ctx.rflags = (c->rflags & ARITH_FLAGS) | 2;

	x86_cpu_init(&emu);
	img_to_fpu(c->img, &emu.fpu);
	emu.gpr[X86_RAX] = ctx.rax;
	emu.gpr[X86_RBX] = ctx.rbx;
	emu.rflags = ctx.rflags;
	emu.rip = (uint64_t)(uintptr_t)H.code;
	emu.seg[X86_SEG_GS].base = (uint64_t)(uintptr_t)H.data;
	before = emu;

	sig = native(&ctx);
	exc = x86_step(&emu, &emu_memory_ops, &EM);
	if (sig || exc) {
		if (exc_matches(sig, exc))
			H.faulted[sig & 31]++;
		if (!exc_matches(sig, exc)) {
			char why[64];

			snprintf(why, sizeof(why), "native signal %d, emu exception %#x", sig, exc);
			report(k, c, why, c->img, NULL, NULL);
		} else if (memcmp(&emu.fpu, &before.fpu, sizeof(emu.fpu)) ||
			   memcmp(emu.gpr, before.gpr, sizeof(emu.gpr)) || emu.rip != before.rip) {
			report(k, c, "emu state changed by a fault", c->img, NULL, NULL);
		}
		return;
	}
	fpu_to_img(&emu.fpu, emu_img);
	legit_differences(ctx.out, emu_img);
	if (c->fx_off >= 0)
		legit_differences(H.data + c->fx_off, H.emu_data + c->fx_off);
	if (emu.rip != before.rip + c->len)
		report(k, c, "rip", c->img, NULL, NULL);
	else if (memcmp(ctx.out, emu_img, 512))
		report(k, c, "fxsave image", c->img, ctx.out, emu_img);
	else if (emu.gpr[X86_RAX] != ctx.rax)
		report(k, c, "rax", c->img, NULL, NULL);
	else if ((emu.rflags ^ ctx.rflags) & ARITH_FLAGS)
		report(k, c, "rflags", c->img, NULL, NULL);
	else if (memcmp(H.data, H.emu_data, DATA_SIZE)) {
		report(k, c, "memory", NULL, NULL, NULL);
		dump_mem_diff(k);
	}
}

static void fill_data(void)
{
	for (unsigned i = 0; i < DATA_SIZE; i += 8) {
		uint64_t v = rnd();

		memcpy(H.data + i, &v, 8);
	}
	memcpy(H.emu_data, H.data, DATA_SIZE);
}

static void data_store(unsigned off, const void *p, size_t n)
{
	memcpy(H.data + off, p, n);
	memcpy(H.emu_data + off, p, n);
}

/* ---- the instruction forms ---- */

static bool decodes(const uint8_t *b, unsigned n, struct x86_insn *in)
{
	return x86_decode(b, n, X86_MODE_LONG64, in) == (int)n;
}

/* Register forms: every D8-DF C0-FF the decoder accepts. */
static void run_reg_forms(unsigned per_form)
{
	for (unsigned esc = 0; esc < 8; esc++) {
		for (unsigned m = 0xc0; m <= 0xff; m++) {
			struct xcase c = {
			    .insn = {(uint8_t)(0xd8 + esc), (uint8_t)m}, .len = 2, .fx_off = -1};
			struct x86_insn in;
			char name[40];

			if (!decodes(c.insn, 2, &in))
				continue;
			snprintf(name, sizeof(name), "%s", x86_op_name(in.op));
			for (unsigned i = 0; i < per_form; i++) {
				rnd_state(c.img, rnd_below(16) == 0);
				c.rax = rnd();
				c.rflags = rnd();
				fill_data();
				run_case(name, &c);
			}
		}
	}
}

static const char *const mem_kind[8][8] = {
    {"m32fp", "m32fp", "m32fp", "m32fp", "m32fp", "m32fp", "m32fp", "m32fp"},
    {"m32fp", "", "m32fp", "m32fp", "env", "m16", "env", "m16"},
    {"m32int", "m32int", "m32int", "m32int", "m32int", "m32int", "m32int", "m32int"},
    {"m32int", "", "m32int", "m32int", "", "m80fp", "", "m80fp"},
    {"m64fp", "m64fp", "m64fp", "m64fp", "m64fp", "m64fp", "m64fp", "m64fp"},
    {"m64fp", "", "m64fp", "m64fp", "save", "", "save", "m16"},
    {"m16int", "m16int", "m16int", "m16int", "m16int", "m16int", "m16int", "m16int"},
    {"m16int", "", "m16int", "m16int", "m80bcd", "m64int", "m80bcd", "m64int"},
};

/* A random x87 environment / FNSAVE image at data offset off (for FLDENV / FRSTOR). */
static void rnd_env(unsigned off, bool small, bool save)
{
	uint8_t st[512], env[108];
	unsigned w = small ? 2 : 4, n = small ? 14 : 28;
	uint16_t tag = 0;

	rnd_state(st, rnd_below(8) == 0);
	for (unsigned i = 0; i < n; i++)
		env[i] = (uint8_t)rnd();
	memcpy(env, st, 2);
	memcpy(env + w, st + 2, 2);
	for (unsigned i = 0; i < 8; i++)
		tag |= (uint16_t)((rnd_below(3) ? rnd_below(3) : 3) << (2 * i));
	memcpy(env + 2 * w, &tag, 2);
	if (rnd_below(4) == 0) { /* raw random control and status words too */
		uint16_t cw = (uint16_t)rnd(), sw = (uint16_t)rnd();

		memcpy(env, &cw, 2);
		memcpy(env + w, &sw, 2);
	}
	for (unsigned i = 0; save && i < 8; i++) {
		uint8_t v[16];

		rnd_f80(v);
		memcpy(env + n + 10 * i, v, 10);
	}
	data_store(off, env, n + (save ? 80 : 0));
}

/* Memory forms [rbx + disp8], with and without 66 (the 16-bit environment layouts). */
static void run_mem_forms(unsigned per_form)
{
	for (unsigned esc = 0; esc < 8; esc++) {
		for (unsigned reg = 0; reg < 8; reg++) {
			const char *kind = mem_kind[esc][reg];

			for (unsigned p66 = 0; p66 < 2; p66++) {
				bool env = !strcmp(kind, "env") || !strcmp(kind, "save");
				struct xcase c = {.len = 0, .fx_off = -1};
				struct x86_insn in;
				char name[48];

				if (p66 && !env)
					continue;
				if (p66)
					c.insn[c.len++] = 0x66;
				c.insn[c.len++] = (uint8_t)(0xd8 + esc);
				c.insn[c.len++] = (uint8_t)(0x43 | reg << 3); /* [rbx + disp8] */
				c.insn[c.len++] = 0;
				if (!decodes(c.insn, c.len, &in))
					continue;
				snprintf(name, sizeof(name), "%s.%s%s", x86_op_name(in.op), kind,
					 p66 ? "16" : "");
				for (unsigned i = 0; i < per_form; i++) {
					int8_t disp = (int8_t)(rnd_below(200) - 100);
					unsigned off = (unsigned)(DATA_BASE_OFF + disp);
					bool load = in.op == X86_OP_FLDENV || in.op == X86_OP_FRSTOR;

					c.insn[c.len - 1] = (uint8_t)disp;
					rnd_state(c.img, rnd_below(16) == 0);
					c.rax = rnd();
					c.rflags = rnd();
					fill_data();
					if (load)
						rnd_env(off, p66, in.op == X86_OP_FRSTOR);
					else if (in.op == X86_OP_FLDCW) {
						uint16_t cw = (uint16_t)rnd();

						data_store(off, &cw, 2);
					} else if (!env && strcmp(kind, "m16"))
						rnd_operand(H.data + off, esc, reg),
						    memcpy(H.emu_data + off, H.data + off, 10);
					run_case(name, &c);
				}
			}
		}
	}
}

/* An MXCSR bit reserved on the emu and on the host (AMD's bit 17, MM, is not reserved there). */
static uint32_t reserved_mxcsr_bit(void)
{
	unsigned b = 16 + rnd_below(16);

	return 1u << (b == 17 ? 16 : b);
}

/* A GS override: FDP is the offset, not the linear address (compared when ES = 1). */
static void run_gs_forms(unsigned per_form)
{
	static const uint8_t forms[][4] = {
	    {0x65, 0xd8, 0x43}, {0x65, 0xdd, 0x53}, {0x65, 0xdf, 0x6b}, {0x65, 0xdb, 0x7b}};

	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)(uintptr_t)H.data))
		return;
	for (unsigned f = 0; f < 4; f++) {
		for (unsigned i = 0; i < per_form; i++) {
			struct xcase c = {.len = 4, .fx_off = -1, .gs = true};
			unsigned off = DATA_BASE_OFF + (unsigned)(int8_t)(rnd_below(64) - 32);

			memcpy(c.insn, forms[f], 3);
			c.insn[3] = (uint8_t)(off - DATA_BASE_OFF);
			rnd_state(c.img, rnd_below(8) == 0);
			if (rnd_below(2)) { /* unmask everything: ES = 1 after most operations */
				c.img[0] &= 0xc0;
			}
			fill_data();
			rnd_operand(H.data + off, forms[f][1] - 0xd8u, (forms[f][2] >> 3) & 7);
			memcpy(H.emu_data + off, H.data + off, 10);
			run_case("gs-override", &c);
		}
	}
}

/* FWAIT, FXSAVE/FXRSTOR (both layouts), LDMXCSR/STMXCSR. */
static void run_sse_state_forms(unsigned per_form)
{
	static const struct {
		const char *name;
		uint8_t b[5];
		unsigned n;
	} forms[] = {
	    {"FWAIT", {0x9b}, 1},
	    {"FXSAVE", {0x0f, 0xae, 0x43, 0}, 4},
	    {"FXSAVE64", {0x48, 0x0f, 0xae, 0x43, 0}, 5},
	    {"FXRSTOR", {0x0f, 0xae, 0x4b, 0}, 4},
	    {"FXRSTOR64", {0x48, 0x0f, 0xae, 0x4b, 0}, 5},
	    {"LDMXCSR", {0x0f, 0xae, 0x53, 0}, 4},
	    {"STMXCSR", {0x0f, 0xae, 0x5b, 0}, 4},
	};

	for (unsigned f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		for (unsigned i = 0; i < per_form; i++) {
			struct xcase c = {.len = forms[f].n, .fx_off = -1};
			bool fx = forms[f].name[1] == 'X';
			int8_t disp = (int8_t)((fx && rnd_below(8) ? 16 * rnd_below(8) : rnd_below(64)) -
					       32);
			unsigned off = (unsigned)(DATA_BASE_OFF + disp);

			memcpy(c.insn, forms[f].b, c.len);
			if (c.len > 1)
				c.insn[c.len - 1] = (uint8_t)disp;
			rnd_state(c.img, rnd_below(4) == 0);
			c.rax = rnd();
			c.rflags = rnd();
			fill_data();
			if (!strncmp(forms[f].name, "FXRSTOR", 7)) {
				uint8_t img[512];
				uint32_t mx;

				rnd_state(img, true);
				memcpy(&mx, img + 24, 4);
				if (rnd_below(8) == 0)
					mx |= reserved_mxcsr_bit();
				memcpy(img + 24, &mx, 4);
				if (rnd_below(4) == 0) { /* raw control/status/tag words */
					uint64_t v = rnd();

					memcpy(img, &v, 5);
				}
				data_store(off, img, 512);
			} else if (!strcmp(forms[f].name, "LDMXCSR")) {
				uint32_t mx = (uint32_t)rnd() & 0xffff;

				if (rnd_below(8) == 0)
					mx |= reserved_mxcsr_bit();
				data_store(off, &mx, 4);
			}
			if (!strncmp(forms[f].name, "FXSAVE", 6))
				c.fx_off = (int)off;
			run_case(forms[f].name, &c);
		}
	}
}

/* ---- emu-only checks: CR0, modes, faults ---- */

static void emu_check(const char *what, bool ok)
{
	struct klass *k = klass("emu-only");

	k->cases++;
	if (!ok) {
		k->failures++;
		printf("  emu-only: %s\n", what);
	}
}

static int emu_one(struct x86_cpu *emu, const uint8_t *b, unsigned n)
{
	memcpy(H.code, b, n);
	x86_cpu_init(emu);
	emu->gpr[X86_RBX] = (uint64_t)(uintptr_t)H.data + DATA_BASE_OFF;
	emu->rip = (uint64_t)(uintptr_t)H.code;
	return x86_step(emu, &emu_memory_ops, &EM);
}

static int emu_again(struct x86_cpu *emu, const uint8_t *b, unsigned n)
{
	memcpy(H.code, b, n);
	emu->rip = (uint64_t)(uintptr_t)H.code;
	return x86_step(emu, &emu_memory_ops, &EM);
}

static void run_emu_checks(void)
{
	static const uint8_t fld1[] = {0xd9, 0xe8}, fwait[] = {0x9b}, fninit[] = {0xdb, 0xe3},
			     fxsave[] = {0x0f, 0xae, 0x03}, ldmxcsr[] = {0x0f, 0xae, 0x13},
			     fstp_m64[] = {0xdd, 0x1b}, fnstenv[] = {0xd9, 0x33},
			     fdiv_st0[] = {0xd8, 0xf1}, fxsave_mis[] = {0x0f, 0xae, 0x43, 0x01};
	struct x86_cpu emu, saved;
	int rc;

	/* CR0.EM / CR0.TS: #NM for ESC instructions (SDM vol. 3A table 2-2) */
	x86_cpu_init(&emu);
	emu_one(&emu, fld1, 2);
	emu.cr0 |= X86_CR0_EM;
	emu_check("FLD1 with CR0.EM: #NM", emu_again(&emu, fld1, 2) == X86_EXC_NM);
	emu_check("FNINIT with CR0.EM: #NM", emu_again(&emu, fninit, 2) == X86_EXC_NM);
	emu_check("FWAIT with CR0.EM only: runs", emu_again(&emu, fwait, 1) == 0);
	emu_check("FXSAVE with CR0.EM: #UD", emu_again(&emu, fxsave, 3) == X86_EXC_UD);
	emu_check("LDMXCSR with CR0.EM: #UD", emu_again(&emu, ldmxcsr, 3) == X86_EXC_UD);
	emu.cr0 &= ~X86_CR0_EM;
	emu.cr0 |= X86_CR0_TS;
	emu_check("FLD1 with CR0.TS: #NM", emu_again(&emu, fld1, 2) == X86_EXC_NM);
	emu_check("FWAIT with TS, MP clear: runs", emu_again(&emu, fwait, 1) == 0);
	emu.cr0 |= X86_CR0_MP;
	emu_check("FWAIT with TS and MP: #NM", emu_again(&emu, fwait, 1) == X86_EXC_NM);
	emu_check("FXSAVE with CR0.TS: #NM", emu_again(&emu, fxsave, 3) == X86_EXC_NM);
	emu.cr0 &= ~(X86_CR0_TS | X86_CR0_MP);
	emu_check("FXSAVE misaligned: #GP", emu_again(&emu, fxsave_mis, 4) == X86_EXC_GP);
	emu.cr4 &= ~X86_CR4_OSFXSR;
	emu_check("LDMXCSR without CR4.OSFXSR: #UD", emu_again(&emu, ldmxcsr, 3) == X86_EXC_UD);

	/* an unmasked zero divide: ES set, next waiting instruction #MF, FNINIT clears it;
	 * with CR0.NE clear it is reported as #MF as well (no FERR# line) */
	x86_cpu_init(&emu);
	emu.gpr[X86_RBX] = (uint64_t)(uintptr_t)H.data + DATA_BASE_OFF;
	emu.cr0 &= ~X86_CR0_NE;
	emu.fpu.fcw = 0x037b; /* ZM clear */
	emu_again(&emu, fld1, 2);
	memcpy(H.code, (const uint8_t[]){0xd9, 0xee}, 2); /* FLDZ */
	emu.rip = (uint64_t)(uintptr_t)H.code;
	x86_step(&emu, &emu_memory_ops, &EM);
	rc = emu_again(&emu, fdiv_st0, 2); /* st0 = 0 / 1? no: fdiv st0, st1 = 0/1 */
	emu_check("FDIV 0/1 runs", rc == 0);
	memcpy(H.code, (const uint8_t[]){0xd8, 0xf1}, 2);
	emu.fpu.fpr[(emu.fpu.fsw >> 11) & 7].mant = 1ull << 63; /* st0 = 1 */
	emu.fpu.fpr[(emu.fpu.fsw >> 11) & 7].sexp = 0x3fff;
	emu.fpu.fpr[((emu.fpu.fsw >> 11) + 1) & 7].mant = 0; /* st1 = 0 */
	emu.fpu.fpr[((emu.fpu.fsw >> 11) + 1) & 7].sexp = 0;
	rc = emu_again(&emu, (const uint8_t[]){0xd8, 0xf1}, 2); /* FDIV st0, st1: 1/0 */
	emu_check("FDIV 1/0 unmasked: no fault yet, ZE+ES", rc == 0 && (emu.fpu.fsw & 0x8084) == 0x8084);
	saved = emu;
	emu_check("next waiting instruction: #MF", emu_again(&emu, fld1, 2) == X86_EXC_MF);
	emu_check("#MF changes nothing", !memcmp(&saved.fpu, &emu.fpu, sizeof(emu.fpu)));
	emu_check("FNSTENV does not wait", emu_again(&emu, fnstenv, 2) == 0);
	emu_check("FNSTENV masks: no more pending", emu_again(&emu, fld1, 2) == 0);

	/* a store to an unmapped page leaves the FPU unchanged */
	x86_cpu_init(&emu);
	emu_again(&emu, fld1, 2);
	saved = emu;
	emu.gpr[X86_RBX] = 0x1000;
	saved.gpr[X86_RBX] = 0x1000;
	rc = emu_again(&emu, fstp_m64, 2);
	emu_check("FSTP to unmapped memory: #PF, FPU unchanged",
		  rc == X86_EXC_PF && !memcmp(&saved.fpu, &emu.fpu, sizeof(emu.fpu)));
	rc = emu_again(&emu, fnstenv, 2);
	emu_check("FNSTENV to unmapped memory: #PF, FPU unchanged",
		  rc == X86_EXC_PF && !memcmp(&saved.fpu, &emu.fpu, sizeof(emu.fpu)));
	rc = emu_again(&emu, (const uint8_t[]){0xdd, 0x33}, 2); /* FNSAVE */
	emu_check("FNSAVE to unmapped memory: #PF, FPU unchanged",
		  rc == X86_EXC_PF && !memcmp(&saved.fpu, &emu.fpu, sizeof(emu.fpu)));
	rc = emu_again(&emu, fxsave, 3);
	emu_check("FXSAVE to unmapped memory: #PF", rc == X86_EXC_PF);
	rc = emu_again(&emu, (const uint8_t[]){0x0f, 0xae, 0x0b}, 3); /* FXRSTOR */
	emu_check("FXRSTOR from unmapped memory: #PF, FPU unchanged",
		  rc == X86_EXC_PF && !memcmp(&saved.fpu, &emu.fpu, sizeof(emu.fpu)));
}

/* FXRSTOR64 then FXSAVE64 on the emu gives the image back (FCW bit 6 and reserved bits set
 * as the hardware keeps them; the reserved area is not written). */
static void run_fx_round_trips(unsigned n)
{
	static const uint8_t rstor[] = {0x48, 0x0f, 0xae, 0x0b}, save[] = {0x48, 0x0f, 0xae, 0x03};
	struct klass *k = klass("FXSAVE-round-trip");

	for (unsigned i = 0; i < n; i++) {
		struct x86_cpu emu;
		uint8_t img[512];
		int rc;

		rnd_state(img, true);
		data_store(DATA_BASE_OFF, img, 512);
		rc = emu_one(&emu, rstor, 4);
		memset(H.emu_data + DATA_BASE_OFF, 0, 512);
		rc = rc ?: emu_again(&emu, save, 4);
		memset(img + 416, 0, 96); /* XMM0-15 end at 416 */
		img[28] = img[29] = 0xff; /* MXCSR_MASK 0xffff */
		k->cases++;
		if (rc || memcmp(img, H.emu_data + DATA_BASE_OFF, 512)) {
			k->failures++;
			if (k->failures <= MAX_FAIL_REPORTS)
				printf("  FXSAVE-round-trip: rc %#x or image differs\n", rc);
		}
	}
}

/* Real-mode environment layouts (SDM vol. 1 figures 8-10, 8-12): emu only, flat 1 MiB. */
static uint8_t *real_mem;

static int real_read(void *opaque, uint64_t a, void *buf, size_t len)
{
	(void)opaque;
	if (a >= (1u << 20) || a + len > (1u << 20))
		return X86_EXC_PF;
	memcpy(buf, real_mem + a, len);
	return 0;
}

static int real_write(void *opaque, uint64_t a, const void *buf, size_t len)
{
	(void)opaque;
	if (a >= (1u << 20) || a + len > (1u << 20))
		return X86_EXC_PF;
	memcpy(real_mem + a, buf, len);
	return 0;
}

static const struct x86_mem_ops real_ops = {.read = real_read, .write = real_write};

static void run_real_mode_checks(void)
{
	/* at 1000:0100: FLD1 (d9 e8); FSTP qword [0x20] (dd 1e 20 00); o32 FNSTENV [0x40];
	 * FNSTENV [0x80]; FNINIT; FLDENV [0x80]. DS is 0: the test does not depend on
	 * segment bases in data addressing. */
	static const uint8_t prog[] = {0xd9, 0xe8, 0xdd, 0x1e, 0x20, 0x00, 0x66, 0xd9, 0x36,
				       0x40, 0x00, 0xd9, 0x36, 0x80, 0x00, 0xdb, 0xe3, 0xd9,
				       0x26, 0x80, 0x00};
	struct x86_cpu emu;
	uint32_t d[7];
	uint16_t w[7];
	uint32_t ip = 0x10000 + 0x102, dp = 0x20;
	bool ok = true;

	real_mem = calloc(1, 1u << 20);
	if (!real_mem)
		return;
	memcpy(real_mem + 0x10100, prog, sizeof(prog));
	x86_cpu_reset(&emu);
	emu.cr0 |= X86_CR0_NE;
	emu.seg[X86_SEG_CS].selector = 0x1000;
	emu.seg[X86_SEG_CS].base = 0x10000;
	emu.seg[X86_SEG_DS].selector = 0;
	emu.seg[X86_SEG_DS].base = 0;
	emu.rip = 0x100;
	for (unsigned i = 0; i < 6 && ok; i++)
		ok = x86_step(&emu, &real_ops, NULL) == 0;
	emu_check("real mode: FLD1, FSTP, FNSTENV x2, FNINIT, FLDENV run", ok);
	memcpy(d, real_mem + 0x40, 28);
	memcpy(w, real_mem + 0x80, 14);
	emu_check("real mode 32-bit env: FIP[15:0], FOP | FIP[31:16] << 12",
		  (d[3] & 0xffff) == (ip & 0xffff) && d[4] == ((ip >> 16) << 12 | 0x51e));
	emu_check("real mode 32-bit env: FDP", (d[5] & 0xffff) == (dp & 0xffff) &&
						     d[6] == (dp >> 16) << 12);
	emu_check("real mode 16-bit env: FIP, FOP, FDP",
		  w[3] == (uint16_t)ip && w[4] == (uint16_t)((ip >> 16) << 12 | 0x51e) &&
		      w[5] == (uint16_t)dp && w[6] == (uint16_t)((dp >> 16) << 12));
	if (emu.fpu.fop != 0x51e || emu.fpu.fcs * 16u + emu.fpu.fip != ip)
		printf("  real mode: fop %#x fcs %#x fip %#" PRIx64 " fds %#x fdp %#" PRIx64 " fcw %#x\n",
		       emu.fpu.fop, emu.fpu.fcs, emu.fpu.fip, emu.fpu.fds, emu.fpu.fdp, emu.fpu.fcw);
	emu_check("real mode FLDENV: pointers round trip",
		  emu.fpu.fop == 0x51e && emu.fpu.fcs * 16u + emu.fpu.fip == ip &&
		      emu.fpu.fds * 16u + emu.fpu.fdp == dp && emu.fpu.fcw == 0x7f);
	free(real_mem);
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x87f0123456789ull;
	unsigned per_form = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 60;
	static uint8_t altstack[65536];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa;

	H.rng = seed ? seed : 1;
	H.code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	H.data = aligned_alloc(4096, DATA_SIZE);
	H.emu_data = malloc(DATA_SIZE);
	EM = (struct emu_memory){.code_at = (uint64_t)(uintptr_t)H.code, .code_len = 4096,
				 .code = H.code, .data_at = (uint64_t)(uintptr_t)H.data,
				 .data_len = DATA_SIZE, .data = H.emu_data};
	if (H.code == MAP_FAILED || !H.data || !H.emu_data || sigaltstack(&ss, NULL)) {
		printf("FAIL: x87/setup\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER;
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	printf("# seed 0x%" PRIx64 ", %u random cases per form\n", seed, per_form);
	run_reg_forms(per_form);
	run_mem_forms(per_form * 4);
	run_sse_state_forms(per_form * 20);
	run_gs_forms(per_form * 20);
	run_fx_round_trips(per_form * 20);
	run_emu_checks();
	run_real_mode_checks();
	for (unsigned i = 0; i < H.nclasses; i++) {
		struct klass *k = &H.classes[i];

		printf("%s: x87/%s (%u cases, %u failed)\n", k->failures ? "FAIL" : "PASS",
		       k->name, k->cases, k->failures);
		H.cases += k->cases;
		H.failures += k->failures;
	}
	printf("# faulted on both sides: %u #MF, %u #GP/#PF, %u #UD\n", H.faulted[SIGFPE],
	       H.faulted[SIGSEGV], H.faulted[SIGILL]);
	printf("# %u cases, %u failed\n", H.cases, H.failures);
	munmap(H.code, 4096);
	free(H.data);
	free(H.emu_data);
	return H.failures ? 1 : 0;
}
