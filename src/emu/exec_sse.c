/*
 * SSE and SSE2 floating point of the emu CPU (Intel SDM vol. 1 ch. 10-11, vol. 2 instruction
 * pages, vol. 3A 13.x), and the availability rules the MMX / SSE2-integer half
 * (exec_sse_int.c) shares.
 *
 * Every operation that can raise a SIMD floating-point exception is done by the host CPU itself
 * (the host is x86-64, so it has SSE2): the guest MXCSR is loaded with every exception masked,
 * the instruction runs on host XMM registers, and the sticky flags it leaves are merged into the
 * guest MXCSR. That gives results, rounding, DAZ/FTZ and flags exactly as the hardware does. An
 * unmasked exception then leaves the destination alone and raises #XM (or #UD when
 * CR4.OSXMMEXCPT is clear, SDM 11.5.1 / 13.1.4). The host MXCSR is restored inside the same
 * asm statement, so no C code ever runs with the guest's rounding mode.
 */
#include <string.h>

#include "exec_internal.h"

#define MXCSR_IE 0x01u
#define MXCSR_DE 0x02u
#define MXCSR_ZE 0x04u
#define MXCSR_UE 0x10u
#define MXCSR_FLAGS 0x3fu
#define MXCSR_MASKS 0x1f80u
#define MXCSR_UM 0x0800u
#define MXCSR_FTZ 0x8000u
#define MXCSR_PRECOMP (MXCSR_IE | MXCSR_DE | MXCSR_ZE)
#define FSW_ES 0x0080u
#define FSW_TOP 0x3800u

/* ---- shared with exec_sse_int.c ---- */

/*
 * SDM vol. 3A table 13-? ("Action taken for combinations of OSFXSR, OSXMMEXCPT, SSE, SSE2, EM,
 * MP, TS") and the exception sections of the instruction pages: CR0.EM gives #UD for SSE and
 * MMX alike; CR4.OSFXSR clear gives #UD only to instructions that name XMM registers (the
 * 64-bit MMX forms of the SSE integer additions work without it); CR0.TS gives #NM; an
 * instruction that touches MMX registers first takes a pending x87 exception (#MF).
 */
int x86_sse_check(struct x86_exec *x, unsigned use)
{
	const struct x86_cpu *cpu = x->cpu;

	x->cpu->fault_error_code = 0;
	if (cpu->cr0 & X86_CR0_EM)
		return X86_EXC_UD;
	if ((use & X86_SSE_USE_XMM) && !(cpu->cr4 & X86_CR4_OSFXSR))
		return X86_EXC_UD;
	if (cpu->cr0 & X86_CR0_TS)
		return X86_EXC_NM;
	if ((use & X86_SSE_USE_MMX) && (cpu->fpu.fsw & FSW_ES))
		return X86_EXC_MF;
	return 0;
}

/* The r/m operand: XMM register rm, or size bytes of memory zero-extended to 128 bits. Legacy
 * SSE 128-bit memory operands must be 16-byte aligned except for the unaligned moves (#GP(0)). */
int x86_sse_load(struct x86_exec *x, union x86_xmm *v, unsigned size, bool align16)
{
	uint64_t ea;

	if (x->in->mod == 3) {
		*v = x->cpu->fpu.xmm[x->in->rm];
		return 0;
	}
	ea = x86_ea(x);
	if (align16 && (ea & 15)) {
		x->cpu->fault_error_code = 0;
		return X86_EXC_GP;
	}
	memset(v, 0, sizeof(*v));
	return x86_lin_read(x, ea, v->b, size, X86_ACC_READ);
}

/* Stores size bytes to the memory operand. */
int x86_sse_store(struct x86_exec *x, const void *buf, unsigned size, bool align16)
{
	uint64_t ea = x86_ea(x);

	if (align16 && (ea & 15)) {
		x->cpu->fault_error_code = 0;
		return X86_EXC_GP;
	}
	return x86_lin_write(x, ea, buf, size, X86_ACC_WRITE);
}

/* SDM vol. 1 9.5.1: an MMX instruction sets TOP to 0 and every tag to valid. */
void x86_mmx_enter(struct x86_cpu *cpu)
{
	cpu->fpu.fsw &= (uint16_t)~FSW_TOP;
	cpu->fpu.ftw = 0xff;
}

/* ---- host operations ---- */

typedef void (*host_fn)(union x86_xmm *d, const union x86_xmm *s, uint32_t *csr);

/* d = d op s on host XMM0/XMM1 with MXCSR *csr; *csr gets the MXCSR afterwards. */
#define HOST_OP(name, text)                                                                        \
	static void host_##name(union x86_xmm *d, const union x86_xmm *s, uint32_t *csr)          \
	{                                                                                          \
		uint32_t saved = 0;                                                                \
		__asm__ volatile("stmxcsr %[sv]\n\t"                                               \
				 "movdqu %[d], %%xmm0\n\t"                                         \
				 "movdqu %[s], %%xmm1\n\t"                                         \
				 "ldmxcsr %[c]\n\t" text "\n\t"                                    \
				 "stmxcsr %[c]\n\t"                                                \
				 "ldmxcsr %[sv]\n\t"                                               \
				 "movdqu %%xmm0, %[d]"                                             \
				 : [d] "+m"(*d), [c] "+m"(*csr), [sv] "+m"(saved)                  \
				 : [s] "m"(*s)                                                     \
				 : "xmm0", "xmm1");                                                \
	}

/* d->q[0] = a GPR result of text (source XMM1, destination %[r]). */
#define HOST_TO_GPR(name, text)                                                                    \
	static void host_##name(union x86_xmm *d, const union x86_xmm *s, uint32_t *csr)          \
	{                                                                                          \
		uint32_t saved = 0;                                                                \
		uint64_t r = 0;                                                                    \
		__asm__ volatile("stmxcsr %[sv]\n\t"                                               \
				 "movdqu %[s], %%xmm1\n\t"                                         \
				 "ldmxcsr %[c]\n\t" text "\n\t"                                    \
				 "stmxcsr %[c]\n\t"                                                \
				 "ldmxcsr %[sv]"                                                   \
				 : [r] "+r"(r), [c] "+m"(*csr), [sv] "+m"(saved)                   \
				 : [s] "m"(*s)                                                     \
				 : "xmm1");                                                        \
		d->q[0] = r;                                                                       \
		d->q[1] = 0;                                                                       \
	}

/* XMM0 = convert(GPR s->q[0]). */
#define HOST_FROM_GPR(name, text)                                                                  \
	static void host_##name(union x86_xmm *d, const union x86_xmm *s, uint32_t *csr)          \
	{                                                                                          \
		uint32_t saved = 0;                                                                \
		__asm__ volatile("stmxcsr %[sv]\n\t"                                               \
				 "movdqu %[d], %%xmm0\n\t"                                         \
				 "ldmxcsr %[c]\n\t" text "\n\t"                                    \
				 "stmxcsr %[c]\n\t"                                                \
				 "ldmxcsr %[sv]\n\t"                                               \
				 "movdqu %%xmm0, %[d]"                                             \
				 : [d] "+m"(*d), [c] "+m"(*csr), [sv] "+m"(saved)                  \
				 : [g] "r"(s->q[0])                                                \
				 : "xmm0");                                                        \
	}

/* (U)COMIS: d->q[0] = ZF | PF | CF as RFLAGS bits. */
#define HOST_COMI(name, text)                                                                      \
	static void host_##name(union x86_xmm *d, const union x86_xmm *s, uint32_t *csr)          \
	{                                                                                          \
		uint32_t saved = 0;                                                                \
		uint8_t z, p, c;                                                                   \
		__asm__ volatile("stmxcsr %[sv]\n\t"                                               \
				 "movdqu %[d], %%xmm0\n\t"                                         \
				 "movdqu %[s], %%xmm1\n\t"                                         \
				 "ldmxcsr %[c]\n\t" text "\n\t"                                    \
				 "setz %[z]\n\t"                                                   \
				 "setp %[p]\n\t"                                                   \
				 "setc %[cf]\n\t"                                                  \
				 "stmxcsr %[c]\n\t"                                                \
				 "ldmxcsr %[sv]"                                                   \
				 : [z] "=&q"(z), [p] "=&q"(p), [cf] "=&q"(c), [c] "+m"(*csr),         \
				   [sv] "+m"(saved)                                                \
				 : [d] "m"(*d), [s] "m"(*s)                                        \
				 : "xmm0", "xmm1", "cc");                                          \
		d->q[0] = (z ? X86_FLAG_ZF : 0) | (p ? X86_FLAG_PF : 0) | (c ? X86_FLAG_CF : 0);   \
		d->q[1] = 0;                                                                       \
	}

#define HOST_OP_RR(insn) HOST_OP(insn, #insn " %%xmm1, %%xmm0")
HOST_OP_RR(sqrtps)
HOST_OP_RR(sqrtpd)
HOST_OP_RR(sqrtss)
HOST_OP_RR(sqrtsd)
HOST_OP_RR(rsqrtps)
HOST_OP_RR(rsqrtss)
HOST_OP_RR(rcpps)
HOST_OP_RR(rcpss)
HOST_OP_RR(addps)
HOST_OP_RR(addpd)
HOST_OP_RR(addss)
HOST_OP_RR(addsd)
HOST_OP_RR(mulps)
HOST_OP_RR(mulpd)
HOST_OP_RR(mulss)
HOST_OP_RR(mulsd)
HOST_OP_RR(subps)
HOST_OP_RR(subpd)
HOST_OP_RR(subss)
HOST_OP_RR(subsd)
HOST_OP_RR(minps)
HOST_OP_RR(minpd)
HOST_OP_RR(minss)
HOST_OP_RR(minsd)
HOST_OP_RR(divps)
HOST_OP_RR(divpd)
HOST_OP_RR(divss)
HOST_OP_RR(divsd)
HOST_OP_RR(maxps)
HOST_OP_RR(maxpd)
HOST_OP_RR(maxss)
HOST_OP_RR(maxsd)
HOST_OP_RR(cvtps2pd)
HOST_OP_RR(cvtpd2ps)
HOST_OP_RR(cvtss2sd)
HOST_OP_RR(cvtsd2ss)
HOST_OP_RR(cvtdq2ps)
HOST_OP_RR(cvtps2dq)
HOST_OP_RR(cvttps2dq)
HOST_OP_RR(cvttpd2dq)
HOST_OP_RR(cvtdq2pd)
HOST_OP_RR(cvtpd2dq)

#define HOST_CMP8(insn)                                                                            \
	HOST_OP(insn##0, #insn " $0, %%xmm1, %%xmm0")                                              \
	HOST_OP(insn##1, #insn " $1, %%xmm1, %%xmm0")                                              \
	HOST_OP(insn##2, #insn " $2, %%xmm1, %%xmm0")                                              \
	HOST_OP(insn##3, #insn " $3, %%xmm1, %%xmm0")                                              \
	HOST_OP(insn##4, #insn " $4, %%xmm1, %%xmm0")                                              \
	HOST_OP(insn##5, #insn " $5, %%xmm1, %%xmm0")                                              \
	HOST_OP(insn##6, #insn " $6, %%xmm1, %%xmm0")                                              \
	HOST_OP(insn##7, #insn " $7, %%xmm1, %%xmm0")                                              \
	static const host_fn host_##insn[8] = {host_##insn##0, host_##insn##1, host_##insn##2,     \
					       host_##insn##3, host_##insn##4, host_##insn##5,     \
					       host_##insn##6, host_##insn##7};
HOST_CMP8(cmpps)
HOST_CMP8(cmppd)
HOST_CMP8(cmpss)
HOST_CMP8(cmpsd)

HOST_FROM_GPR(cvtsi2ss32, "cvtsi2ssl %k[g], %%xmm0")
HOST_FROM_GPR(cvtsi2ss64, "cvtsi2ssq %q[g], %%xmm0")
HOST_FROM_GPR(cvtsi2sd32, "cvtsi2sdl %k[g], %%xmm0")
HOST_FROM_GPR(cvtsi2sd64, "cvtsi2sdq %q[g], %%xmm0")

HOST_TO_GPR(cvtss2si32, "cvtss2si %%xmm1, %k[r]")
HOST_TO_GPR(cvtss2si64, "cvtss2si %%xmm1, %q[r]")
HOST_TO_GPR(cvttss2si32, "cvttss2si %%xmm1, %k[r]")
HOST_TO_GPR(cvttss2si64, "cvttss2si %%xmm1, %q[r]")
HOST_TO_GPR(cvtsd2si32, "cvtsd2si %%xmm1, %k[r]")
HOST_TO_GPR(cvtsd2si64, "cvtsd2si %%xmm1, %q[r]")
HOST_TO_GPR(cvttsd2si32, "cvttsd2si %%xmm1, %k[r]")
HOST_TO_GPR(cvttsd2si64, "cvttsd2si %%xmm1, %q[r]")

HOST_COMI(ucomiss, "ucomiss %%xmm1, %%xmm0")
HOST_COMI(ucomisd, "ucomisd %%xmm1, %%xmm0")
HOST_COMI(comiss, "comiss %%xmm1, %%xmm0")
HOST_COMI(comisd, "comisd %%xmm1, %%xmm0")

/* ---- floating-point operations through the host ---- */

enum fp_kind {
	FK_NONE,
	FK_XMM,		/* xmm(reg) = fn(xmm(reg), xmm/m) */
	FK_CMP,		/* the same with the predicate in imm8[2:0] */
	FK_COMI,	/* RFLAGS = compare(xmm(reg), xmm/m) */
	FK_TO_GPR,	/* r32/64(reg) = fn(xmm/m) */
	FK_FROM_GPR,	/* xmm(reg) = fn(xmm(reg), r/m32/64) */
	FK_TO_MMX,	/* mm(reg) = low 64 bits of fn(xmm/m) */
	FK_FROM_MMX_PS, /* xmm(reg).q[0] = fn(mm/m64) */
	FK_FROM_MMX_PD, /* xmm(reg) = fn(mm/m64) */
};

/* Element kind of a computed floating-point result, for the unmasked-underflow rule (see
 * fp_flags); MIN/MAX return an operand and RCP/RSQRT flush tiny results, so they have none. */
enum fp_result {
	RK_NONE,
	RK_PS,
	RK_SS,
	RK_PD,
	RK_SD,
};

struct fp_desc {
	host_fn fn, fn64;    /* fn64: the REX.W form of a GPR conversion */
	const host_fn *cmp;  /* CMPxx: by predicate */
	uint8_t kind;	     /* enum fp_kind */
	uint8_t msize;	     /* bytes of a memory source */
	uint8_t align;	     /* 16-byte aligned memory source */
	uint8_t result;	     /* enum fp_result */
};

#define FP_PS(o, f) [X86_OP_##o] = {.fn = host_##f, .kind = FK_XMM, .msize = 16, .align = 1, .result = RK_PS}
#define FP_PD(o, f) [X86_OP_##o] = {.fn = host_##f, .kind = FK_XMM, .msize = 16, .align = 1, .result = RK_PD}
#define FP_SS(o, f) [X86_OP_##o] = {.fn = host_##f, .kind = FK_XMM, .msize = 4, .result = RK_SS}
#define FP_SD(o, f) [X86_OP_##o] = {.fn = host_##f, .kind = FK_XMM, .msize = 8, .result = RK_SD}
#define FP_X(o, f, size, al, rk) [X86_OP_##o] = {.fn = host_##f, .kind = FK_XMM, .msize = size, .align = al, .result = rk}

static const struct fp_desc fp_table[X86_OP_COUNT] = {
    FP_PS(SQRTPS, sqrtps),   FP_PD(SQRTPD, sqrtpd),   FP_SS(SQRTSS, sqrtss),
    FP_SD(SQRTSD, sqrtsd),   FP_X(RSQRTPS, rsqrtps, 16, 1, RK_NONE),
    FP_X(RSQRTSS, rsqrtss, 4, 0, RK_NONE), FP_X(RCPPS, rcpps, 16, 1, RK_NONE),
    FP_X(RCPSS, rcpss, 4, 0, RK_NONE), FP_PS(ADDPS, addps),
    FP_PD(ADDPD, addpd),     FP_SS(ADDSS, addss),     FP_SD(ADDSD, addsd),
    FP_PS(MULPS, mulps),     FP_PD(MULPD, mulpd),     FP_SS(MULSS, mulss),
    FP_SD(MULSD, mulsd),     FP_PS(SUBPS, subps),     FP_PD(SUBPD, subpd),
    FP_SS(SUBSS, subss),     FP_SD(SUBSD, subsd),     FP_X(MINPS, minps, 16, 1, RK_NONE),
    FP_X(MINPD, minpd, 16, 1, RK_NONE),     FP_X(MINSS, minss, 4, 0, RK_NONE),     FP_X(MINSD, minsd, 8, 0, RK_NONE),
    FP_PS(DIVPS, divps),     FP_PD(DIVPD, divpd),     FP_SS(DIVSS, divss),
    FP_SD(DIVSD, divsd),     FP_X(MAXPS, maxps, 16, 1, RK_NONE),     FP_X(MAXPD, maxpd, 16, 1, RK_NONE),
    FP_X(MAXSS, maxss, 4, 0, RK_NONE),     FP_X(MAXSD, maxsd, 8, 0, RK_NONE),
    FP_X(CVTPS2PD, cvtps2pd, 8, 0, RK_NONE),
    FP_X(CVTPD2PS, cvtpd2ps, 16, 1, RK_PS),
    FP_X(CVTSS2SD, cvtss2sd, 4, 0, RK_NONE),
    FP_X(CVTSD2SS, cvtsd2ss, 8, 0, RK_SS),
    FP_X(CVTDQ2PS, cvtdq2ps, 16, 1, RK_NONE),
    FP_X(CVTPS2DQ, cvtps2dq, 16, 1, RK_NONE),
    FP_X(CVTTPS2DQ, cvttps2dq, 16, 1, RK_NONE),
    FP_X(CVTTPD2DQ, cvttpd2dq, 16, 1, RK_NONE),
    FP_X(CVTDQ2PD, cvtdq2pd, 8, 0, RK_NONE),
    FP_X(CVTPD2DQ, cvtpd2dq, 16, 1, RK_NONE),
    [X86_OP_CMPPS] = {.cmp = host_cmpps, .kind = FK_CMP, .msize = 16, .align = 1},
    [X86_OP_CMPPD] = {.cmp = host_cmppd, .kind = FK_CMP, .msize = 16, .align = 1},
    [X86_OP_CMPSS] = {.cmp = host_cmpss, .kind = FK_CMP, .msize = 4},
    [X86_OP_CMPSD] = {.cmp = host_cmpsd, .kind = FK_CMP, .msize = 8},
    [X86_OP_UCOMISS] = {.fn = host_ucomiss, .kind = FK_COMI, .msize = 4},
    [X86_OP_UCOMISD] = {.fn = host_ucomisd, .kind = FK_COMI, .msize = 8},
    [X86_OP_COMISS] = {.fn = host_comiss, .kind = FK_COMI, .msize = 4},
    [X86_OP_COMISD] = {.fn = host_comisd, .kind = FK_COMI, .msize = 8},
    [X86_OP_CVTSI2SS] = {.fn = host_cvtsi2ss32, .fn64 = host_cvtsi2ss64, .kind = FK_FROM_GPR,
			 .result = RK_NONE},
    [X86_OP_CVTSI2SD] = {.fn = host_cvtsi2sd32, .fn64 = host_cvtsi2sd64, .kind = FK_FROM_GPR},
    [X86_OP_CVTSS2SI] = {.fn = host_cvtss2si32, .fn64 = host_cvtss2si64, .kind = FK_TO_GPR,
			 .msize = 4},
    [X86_OP_CVTTSS2SI] = {.fn = host_cvttss2si32, .fn64 = host_cvttss2si64, .kind = FK_TO_GPR,
			  .msize = 4},
    [X86_OP_CVTSD2SI] = {.fn = host_cvtsd2si32, .fn64 = host_cvtsd2si64, .kind = FK_TO_GPR,
			 .msize = 8},
    [X86_OP_CVTTSD2SI] = {.fn = host_cvttsd2si32, .fn64 = host_cvttsd2si64, .kind = FK_TO_GPR,
			  .msize = 8},
    /* The MMX conversions are their XMM counterparts on two elements (SDM CVTPI2PS etc.). */
    [X86_OP_CVTPS2PI] = {.fn = host_cvtps2dq, .kind = FK_TO_MMX, .msize = 8},
    [X86_OP_CVTTPS2PI] = {.fn = host_cvttps2dq, .kind = FK_TO_MMX, .msize = 8},
    [X86_OP_CVTPD2PI] = {.fn = host_cvtpd2dq, .kind = FK_TO_MMX, .msize = 16, .align = 1},
    [X86_OP_CVTTPD2PI] = {.fn = host_cvttpd2dq, .kind = FK_TO_MMX, .msize = 16, .align = 1},
    [X86_OP_CVTPI2PS] = {.fn = host_cvtdq2ps, .kind = FK_FROM_MMX_PS, .msize = 8},
    [X86_OP_CVTPI2PD] = {.fn = host_cvtdq2pd, .kind = FK_FROM_MMX_PD, .msize = 8},
};

/* A nonzero denormal among the result's elements. */
static bool has_tiny(const union x86_xmm *r, unsigned rk)
{
	unsigned n = rk == RK_PS ? 4 : rk == RK_PD ? 2 : 1;

	for (unsigned i = 0; i < n; i++) {
		if ((rk == RK_PS || rk == RK_SS) && (r->d[i] & 0x7f800000u) == 0 &&
		    (r->d[i] & 0x7fffffu))
			return true;
		if ((rk == RK_PD || rk == RK_SD) && (r->q[i] & 0x7ff0000000000000ull) == 0 &&
		    (r->q[i] & 0xfffffffffffffull))
			return true;
	}
	return false;
}

/* The MXCSR the host runs a guest operation with: the guest's rounding, DAZ and FTZ, every
 * exception masked, no flags. FTZ only applies while underflow is masked (SDM 10.2.3, FTZ). */
static uint32_t host_mxcsr(uint32_t guest)
{
	uint32_t m = (guest & 0xffffu & ~MXCSR_FLAGS) | MXCSR_MASKS;

	if (!(guest & MXCSR_UM))
		m &= ~MXCSR_FTZ;
	return m;
}

/*
 * Merges the flags of a host run into the guest MXCSR. SDM 11.5.2: with an unmasked exception
 * the destination is not written; unmasked pre-computation exceptions (invalid, denormal,
 * divide) stop the operation before the post-computation ones are looked for. An unmasked
 * underflow is raised for any tiny result, exact or not (SDM 11.5.2.4), while the masked run
 * only flags tiny and inexact ones: a denormal in the (FTZ-free) result shows the exact case.
 * Known difference: with an unmasked overflow or underflow the hardware's PE says whether the
 * result rounded with an unbounded exponent was inexact; here it is the masked run's PE.
 */
static int fp_flags(struct x86_exec *x, uint32_t csr, const union x86_xmm *res, unsigned rk)
{
	struct x86_cpu *cpu = x->cpu;
	uint32_t guest = cpu->fpu.mxcsr, flags = csr & MXCSR_FLAGS, unmasked;

	if (!(guest & MXCSR_UM) && rk != RK_NONE && !(flags & MXCSR_PRECOMP & ~(guest >> 7)) &&
	    has_tiny(res, rk))
		flags |= MXCSR_UE;
	unmasked = flags & ~(guest >> 7) & MXCSR_FLAGS;
	if (unmasked & MXCSR_PRECOMP)
		flags &= MXCSR_PRECOMP;
	cpu->fpu.mxcsr |= flags;
	if (!unmasked)
		return 0;
	cpu->fault_error_code = 0;
	return (cpu->cr4 & X86_CR4_OSXMMEXCPT) ? X86_EXC_XM : X86_EXC_UD;
}

static bool fp_uses_mmx(const struct x86_insn *in, unsigned kind)
{
	return kind == FK_TO_MMX || ((kind == FK_FROM_MMX_PS || kind == FK_FROM_MMX_PD) &&
				     in->mod == 3);
}

/* The source operand of a host operation. */
static int fp_source(struct x86_exec *x, const struct fp_desc *d, union x86_xmm *src)
{
	const struct x86_insn *in = x->in;
	uint64_t v;
	int rc;

	switch (d->kind) {
	case FK_FROM_GPR:
		src->q[1] = 0;
		if (in->mod == 3) {
			src->q[0] = x86_reg_get(x, in->rm, in->opsize);
			return 0;
		}
		rc = x86_mem_read(x, x86_ea(x), in->opsize, &v);
		src->q[0] = v;
		return rc;
	case FK_FROM_MMX_PS:
	case FK_FROM_MMX_PD:
		src->q[1] = 0;
		if (in->mod == 3) {
			src->q[0] = x->cpu->fpu.fpr[in->rm & 7].mant;
			return 0;
		}
		rc = x86_mem_read(x, x86_ea(x), 8, &v);
		src->q[0] = v;
		return rc;
	default:
		rc = x86_sse_load(x, src, d->msize, d->align);
		/* Only the low two singles are converted: no flags from the upper ones. */
		if (d->kind == FK_TO_MMX && d->msize == 8)
			src->q[1] = 0;
		return rc;
	}
}

static int exec_fp(struct x86_exec *x, const struct fp_desc *d)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	union x86_xmm dst, src;
	uint32_t csr = host_mxcsr(cpu->fpu.mxcsr);
	bool mmx = fp_uses_mmx(in, d->kind);
	host_fn fn = d->fn;
	int rc = x86_sse_check(x, X86_SSE_USE_XMM | (mmx ? X86_SSE_USE_MMX : 0));

	if (rc)
		return rc;
	rc = fp_source(x, d, &src);
	if (rc)
		return rc;
	dst = cpu->fpu.xmm[in->reg];
	if (d->kind == FK_CMP)
		fn = d->cmp[in->imm & 7];
	else if (d->fn64 && in->opsize == 8)
		fn = d->fn64;
	fn(&dst, &src, &csr);
	rc = fp_flags(x, csr, &dst, d->result);
	if (rc)
		return rc;
	if (mmx)
		x86_mmx_enter(cpu);
	switch (d->kind) {
	case FK_COMI:
		/* SDM COMISS: ZF PF CF from the comparison, OF SF AF cleared. */
		x86_flags_update(cpu, X86_FLAGS_ARITH, dst.q[0]);
		break;
	case FK_TO_GPR:
		x86_reg_set(x, in->reg, in->opsize == 8 ? 8 : 4, dst.q[0]);
		break;
	case FK_TO_MMX:
		cpu->fpu.fpr[in->reg & 7].mant = dst.q[0];
		cpu->fpu.fpr[in->reg & 7].sexp = 0xffff;
		break;
	case FK_FROM_MMX_PS:
		cpu->fpu.xmm[in->reg].q[0] = dst.q[0];
		break;
	default:
		cpu->fpu.xmm[in->reg] = dst;
	}
	return 0;
}

/* ---- moves, logic, shuffles: no floating-point exceptions ---- */

static bool is_aligned_move(unsigned op)
{
	return op == X86_OP_MOVAPS || op == X86_OP_MOVAPD;
}

/* MOVUPS MOVUPD MOVAPS MOVAPD (0F 10/11, 28/29), MOVNTPS MOVNTPD (0F 2B). */
static int exec_move128(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	bool align = is_aligned_move(in->op) || in->op == X86_OP_MOVNTPS || in->op == X86_OP_MOVNTPD;
	union x86_xmm v;
	int rc;

	if (in->opcode == 0x10 || in->opcode == 0x28) {
		rc = x86_sse_load(x, &v, 16, align);
		if (rc == 0)
			cpu->fpu.xmm[in->reg] = v;
		return rc;
	}
	if (in->mod == 3) {
		cpu->fpu.xmm[in->rm] = cpu->fpu.xmm[in->reg];
		return 0;
	}
	return x86_sse_store(x, &cpu->fpu.xmm[in->reg], 16, align);
}

/* MOVSS MOVSD (F3/F2 0F 10/11): a register source merges, a memory source zero-extends. */
static int exec_move_scalar(struct x86_exec *x, unsigned size)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	union x86_xmm *r = &cpu->fpu.xmm[in->reg];
	union x86_xmm v;
	int rc;

	if (in->mod == 3) {
		union x86_xmm *from = in->opcode == 0x10 ? &cpu->fpu.xmm[in->rm] : r;
		union x86_xmm *to = in->opcode == 0x10 ? r : &cpu->fpu.xmm[in->rm];

		memcpy(to->b, from->b, size);
		return 0;
	}
	if (in->opcode == 0x11)
		return x86_sse_store(x, r->b, size, false);
	rc = x86_sse_load(x, &v, size, false);
	if (rc == 0)
		*r = v;
	return rc;
}

/* MOVLPS MOVLPD MOVHPS MOVHPD (0F 12/13/16/17 memory), MOVHLPS MOVLHPS (12/16 registers). */
static int exec_move_half(struct x86_exec *x, unsigned half)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	union x86_xmm *r = &cpu->fpu.xmm[in->reg];
	uint64_t v;
	int rc;

	if (in->op == X86_OP_MOVHLPS) {
		r->q[0] = cpu->fpu.xmm[in->rm].q[1];
		return 0;
	}
	if (in->op == X86_OP_MOVLHPS) {
		r->q[1] = cpu->fpu.xmm[in->rm].q[0];
		return 0;
	}
	if (in->opcode & 1)
		return x86_sse_store(x, &r->q[half], 8, false);
	rc = x86_mem_read(x, x86_ea(x), 8, &v);
	if (rc == 0)
		r->q[half] = v;
	return rc;
}

/* Two-operand operations with a 128-bit (aligned) source: logic, unpacks, shuffles. */
static int exec_packed_misc(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	union x86_xmm a = cpu->fpu.xmm[in->reg], b, r;
	unsigned imm = (unsigned)in->imm;
	int rc = x86_sse_load(x, &b, 16, true);

	if (rc)
		return rc;
	switch (in->op) {
	case X86_OP_ANDPS:
	case X86_OP_ANDPD:
		r.q[0] = a.q[0] & b.q[0];
		r.q[1] = a.q[1] & b.q[1];
		break;
	case X86_OP_ANDNPS:
	case X86_OP_ANDNPD:
		r.q[0] = ~a.q[0] & b.q[0];
		r.q[1] = ~a.q[1] & b.q[1];
		break;
	case X86_OP_ORPS:
	case X86_OP_ORPD:
		r.q[0] = a.q[0] | b.q[0];
		r.q[1] = a.q[1] | b.q[1];
		break;
	case X86_OP_XORPS:
	case X86_OP_XORPD:
		r.q[0] = a.q[0] ^ b.q[0];
		r.q[1] = a.q[1] ^ b.q[1];
		break;
	case X86_OP_UNPCKLPS:
		r.d[0] = a.d[0], r.d[1] = b.d[0], r.d[2] = a.d[1], r.d[3] = b.d[1];
		break;
	case X86_OP_UNPCKHPS:
		r.d[0] = a.d[2], r.d[1] = b.d[2], r.d[2] = a.d[3], r.d[3] = b.d[3];
		break;
	case X86_OP_UNPCKLPD:
		r.q[0] = a.q[0], r.q[1] = b.q[0];
		break;
	case X86_OP_UNPCKHPD:
		r.q[0] = a.q[1], r.q[1] = b.q[1];
		break;
	case X86_OP_SHUFPS:
		r.d[0] = a.d[imm & 3];
		r.d[1] = a.d[(imm >> 2) & 3];
		r.d[2] = b.d[(imm >> 4) & 3];
		r.d[3] = b.d[(imm >> 6) & 3];
		break;
	default: /* SHUFPD */
		r.q[0] = a.q[imm & 1];
		r.q[1] = b.q[(imm >> 1) & 1];
		break;
	}
	cpu->fpu.xmm[in->reg] = r;
	return 0;
}

/* MOVMSKPS MOVMSKPD: the sign bits into a GPR, zero-extended (SDM MOVMSKPS). */
static int exec_movmsk(struct x86_exec *x)
{
	const union x86_xmm *s = &x->cpu->fpu.xmm[x->in->rm];
	uint64_t m;

	if (x->in->op == X86_OP_MOVMSKPS)
		m = (s->d[0] >> 31) | (s->d[1] >> 31) << 1 | (s->d[2] >> 31) << 2 |
		    (s->d[3] >> 31) << 3;
	else
		m = (s->q[0] >> 63) | (s->q[1] >> 63) << 1;
	x86_reg_set(x, x->in->reg, 8, m);
	return 0;
}

static int exec_fp_other(struct x86_exec *x)
{
	int rc;

	switch (x->in->op) {
	case X86_OP_MOVUPS:
	case X86_OP_MOVUPD:
	case X86_OP_MOVAPS:
	case X86_OP_MOVAPD:
	case X86_OP_MOVNTPS:
	case X86_OP_MOVNTPD:
	case X86_OP_MOVSS:
	case X86_OP_MOVSD:
	case X86_OP_MOVLPS:
	case X86_OP_MOVLPD:
	case X86_OP_MOVHPS:
	case X86_OP_MOVHPD:
	case X86_OP_MOVHLPS:
	case X86_OP_MOVLHPS:
	case X86_OP_ANDPS:
	case X86_OP_ANDPD:
	case X86_OP_ANDNPS:
	case X86_OP_ANDNPD:
	case X86_OP_ORPS:
	case X86_OP_ORPD:
	case X86_OP_XORPS:
	case X86_OP_XORPD:
	case X86_OP_UNPCKLPS:
	case X86_OP_UNPCKHPS:
	case X86_OP_UNPCKLPD:
	case X86_OP_UNPCKHPD:
	case X86_OP_SHUFPS:
	case X86_OP_SHUFPD:
	case X86_OP_MOVMSKPS:
	case X86_OP_MOVMSKPD:
		break;
	default:
		return X86_EXEC_UNHANDLED;
	}
	rc = x86_sse_check(x, X86_SSE_USE_XMM);
	if (rc)
		return rc;
	switch (x->in->op) {
	case X86_OP_MOVSS:
		return exec_move_scalar(x, 4);
	case X86_OP_MOVSD:
		return exec_move_scalar(x, 8);
	case X86_OP_MOVLPS:
	case X86_OP_MOVLPD:
	case X86_OP_MOVHLPS:
		return exec_move_half(x, 0);
	case X86_OP_MOVHPS:
	case X86_OP_MOVHPD:
	case X86_OP_MOVLHPS:
		return exec_move_half(x, 1);
	case X86_OP_MOVMSKPS:
	case X86_OP_MOVMSKPD:
		return exec_movmsk(x);
	case X86_OP_MOVUPS:
	case X86_OP_MOVUPD:
	case X86_OP_MOVAPS:
	case X86_OP_MOVAPD:
	case X86_OP_MOVNTPS:
	case X86_OP_MOVNTPD:
		return exec_move128(x);
	default:
		return exec_packed_misc(x);
	}
}

int x86_exec_sse(struct x86_exec *x)
{
	unsigned op = x->in->op;

	if (op < X86_OP_COUNT && fp_table[op].kind != FK_NONE)
		return exec_fp(x, &fp_table[op]);
	if (op >= X86_OP_MOVUPS && op <= X86_OP_CVTPD2DQ)
		return exec_fp_other(x);
	return x86_exec_sse_int(x);
}
