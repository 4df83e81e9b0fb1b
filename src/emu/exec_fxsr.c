/*
 * Saving and loading the x87/SSE state (Intel SDM vol. 1 8.1.10 and figures 8-9 to 8-12 for
 * the x87 environment, 10.5 and vol. 2 FXSAVE/FXRSTOR table 3-53 for the FXSAVE image,
 * LDMXCSR/STMXCSR): FNSTENV, FLDENV, FNSAVE, FRSTOR in their 16- and 32-bit, real- and
 * protected-mode layouts; FXSAVE and FXRSTOR in the 64-bit (REX.W) and 32-bit layouts.
 *
 * Everything is read, checked and (for stores) written to guest memory before the FPU state
 * is changed, so a fault leaves the FPU as it was.
 */
#include <string.h>

#include "x87_internal.h"

#define FXSAVE_SIZE 512
#define FX_ST 32
#define FX_XMM 160
#define ENV_RESERVED 0xffffu /* the upper halves of the 32-bit layout's FCW/FSW/FTW/FDS words */

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void put_f80(uint8_t *p, const struct x86_f80 *f)
{
	memcpy(p, &f->mant, 8);
	memcpy(p + 8, &f->sexp, 2);
}

static void get_f80(struct x86_f80 *f, const uint8_t *p)
{
	memcpy(&f->mant, p, 8);
	memcpy(&f->sexp, p + 8, 2);
}

/* ---- FNSTENV / FLDENV / FNSAVE / FRSTOR ---- */

static bool env_real(const struct x86_cpu *cpu)
{
	return cpu->mode == X86_MODE_REAL16; /* real mode and virtual-8086 mode */
}

static unsigned env_size(const struct x86_insn *in)
{
	return in->opsize == 2 ? 14 : 28;
}

/* The 20/32-bit linear pointer real mode stores: selector * 16 + offset. */
static uint32_t real_linear(uint16_t sel, uint64_t off)
{
	return ((uint32_t)sel << 4) + (uint32_t)off;
}

static void env_store(const struct x86_cpu *cpu, const struct x86_insn *in, uint8_t *p)
{
	const struct x86_fpu *f = &cpu->fpu;
	uint16_t tag = x87_full_tag(f);
	uint32_t ip = real_linear(f->fcs, f->fip), dp = real_linear(f->fds, f->fdp);

	if (in->opsize == 2) {
		put16(p + 0, f->fcw);
		put16(p + 2, f->fsw);
		put16(p + 4, tag);
		if (env_real(cpu)) {
			put16(p + 6, (uint16_t)ip);
			put16(p + 8, (uint16_t)(((ip >> 16) & 0xf) << 12 | (f->fop & 0x7ff)));
			put16(p + 10, (uint16_t)dp);
			put16(p + 12, (uint16_t)(((dp >> 16) & 0xf) << 12));
		} else {
			put16(p + 6, (uint16_t)f->fip);
			put16(p + 8, f->fcs);
			put16(p + 10, (uint16_t)f->fdp);
			put16(p + 12, f->fds);
		}
		return;
	}
	put32(p + 0, f->fcw | ENV_RESERVED << 16);
	put32(p + 4, f->fsw | ENV_RESERVED << 16);
	put32(p + 8, tag | ENV_RESERVED << 16);
	if (env_real(cpu)) {
		put32(p + 12, (ip & 0xffff) | ENV_RESERVED << 16);
		put32(p + 16, (f->fop & 0x7ffu) | (ip >> 16) << 12);
		put32(p + 20, (dp & 0xffff) | ENV_RESERVED << 16);
		put32(p + 24, (dp >> 16) << 12);
	} else {
		put32(p + 12, (uint32_t)f->fip);
		put32(p + 16, f->fcs | (uint32_t)(f->fop & 0x7ff) << 16);
		put32(p + 20, (uint32_t)f->fdp);
		put32(p + 24, f->fds | ENV_RESERVED << 16);
	}
}

/* Loads the environment into f (a copy: the caller commits). */
static void env_load(const struct x86_cpu *cpu, const struct x86_insn *in, const uint8_t *p,
		     struct x86_fpu *f)
{
	bool small = in->opsize == 2;
	unsigned w = small ? 2 : 4;

	f->fcw = (uint16_t)((get16(p) & X87_FCW_VALID) | X87_FCW_FIXED1);
	f->fsw = get16(p + w);
	f->ftw = x87_abridged_tag(get16(p + 2 * w));
	if (env_real(cpu)) {
		uint32_t ip, dp;

		if (small) {
			ip = get16(p + 6) | (uint32_t)(get16(p + 8) >> 12) << 16;
			f->fop = get16(p + 8) & 0x7ff;
			dp = get16(p + 10) | (uint32_t)(get16(p + 12) >> 12) << 16;
		} else {
			ip = (get32(p + 12) & 0xffff) | ((get32(p + 16) >> 12) & 0xffff) << 16;
			f->fop = get32(p + 16) & 0x7ff;
			dp = (get32(p + 20) & 0xffff) | ((get32(p + 24) >> 12) & 0xffff) << 16;
		}
		f->fip = ip;
		f->fdp = dp;
		f->fcs = f->fds = 0; /* stored back as 0 * 16 + linear */
	} else if (small) {
		f->fop = 0; /* the 16-bit protected-mode layout has no FOP */
		f->fip = get16(p + 6);
		f->fcs = get16(p + 8);
		f->fdp = get16(p + 10);
		f->fds = get16(p + 12);
	} else {
		f->fip = get32(p + 12);
		f->fcs = get16(p + 16);
		f->fop = get16(p + 18) & 0x7ff;
		f->fdp = get32(p + 20);
		f->fds = get16(p + 24);
	}
	f->fsw = x87_fsw_summary(f->fsw, f->fcw);
}

static int exec_fnstenv(struct x86_exec *x, bool save)
{
	struct x86_cpu *cpu = x->cpu;
	struct x86_fpu *f = &cpu->fpu;
	unsigned n = env_size(x->in), top = x87_top(f->fsw);
	uint8_t buf[28 + 80];
	int rc;

	env_store(cpu, x->in, buf);
	if (save)
		for (unsigned i = 0; i < 8; i++)
			put_f80(buf + n + 10 * i, &f->fpr[(top + i) & 7]);
	rc = x86_lin_write(x, x86_ea(x), buf, n + (save ? 80 : 0), X86_ACC_WRITE);
	if (rc)
		return rc;
	if (save) {
		x87_fninit(f);
	} else {
		f->fcw |= X87_EXC_MASK; /* FNSTENV masks all exceptions afterwards */
		f->fsw = x87_fsw_summary(f->fsw, f->fcw);
	}
	return 0;
}

static int exec_fldenv(struct x86_exec *x, bool restore)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned n = env_size(x->in), top;
	uint8_t buf[28 + 80];
	struct x86_fpu f = cpu->fpu;
	int rc = x86_lin_read(x, x86_ea(x), buf, n + (restore ? 80 : 0), X86_ACC_READ);

	if (rc)
		return rc;
	env_load(cpu, x->in, buf, &f);
	top = x87_top(f.fsw);
	if (restore)
		for (unsigned i = 0; i < 8; i++)
			get_f80(&f.fpr[(top + i) & 7], buf + n + 10 * i);
	cpu->fpu = f;
	return 0;
}

/* ---- FXSAVE / FXRSTOR / LDMXCSR / STMXCSR ---- */

/* SDM vol. 2 FXSAVE, LDMXCSR: #UD with CR0.EM (and for LDMXCSR/STMXCSR without CR4.OSFXSR),
 * #NM with CR0.TS. */
static int sse_state_check(struct x86_exec *x, bool need_osfxsr)
{
	struct x86_cpu *cpu = x->cpu;

	cpu->fault_error_code = 0;
	if ((cpu->cr0 & X86_CR0_EM) || (need_osfxsr && !(cpu->cr4 & X86_CR4_OSFXSR)))
		return X86_EXC_UD;
	if (cpu->cr0 & X86_CR0_TS)
		return X86_EXC_NM;
	return 0;
}

/* XMM registers in the image: 16 in 64-bit mode, 8 elsewhere; none without CR4.OSFXSR. */
static unsigned fx_xmm_count(const struct x86_cpu *cpu)
{
	if (!(cpu->cr4 & X86_CR4_OSFXSR))
		return 0;
	return cpu->mode == X86_MODE_LONG64 ? 16 : 8;
}

static bool fx64(const struct x86_exec *x)
{
	return x->in->rex_w && x->cpu->mode == X86_MODE_LONG64;
}

static void fx_build(const struct x86_exec *x, uint8_t *img)
{
	const struct x86_cpu *cpu = x->cpu;
	const struct x86_fpu *f = &cpu->fpu;
	unsigned top = x87_top(f->fsw), nxmm = fx_xmm_count(cpu);

	memset(img, 0, FX_XMM);
	put16(img + 0, f->fcw);
	put16(img + 2, f->fsw);
	img[4] = f->ftw;
	put16(img + 6, f->fop & 0x7ff);
	if (fx64(x)) {
		memcpy(img + 8, &f->fip, 8);
		memcpy(img + 16, &f->fdp, 8);
	} else {
		put32(img + 8, (uint32_t)f->fip);
		put16(img + 12, f->fcs);
		put32(img + 16, (uint32_t)f->fdp);
		put16(img + 20, f->fds);
	}
	if (nxmm) {
		put32(img + 24, f->mxcsr);
		put32(img + 28, X86_MXCSR_MASK);
	}
	for (unsigned i = 0; i < 8; i++)
		put_f80(img + FX_ST + 16 * i, &f->fpr[(top + i) & 7]);
	memcpy(img + FX_XMM, f->xmm, 16 * nxmm);
}

static int fx_address(struct x86_exec *x, uint64_t *linear)
{
	*linear = x86_ea(x);
	if (*linear & 15) { /* #GP(0) for a misaligned m512, whatever the segment */
		x->cpu->fault_error_code = 0;
		return X86_EXC_GP;
	}
	return 0;
}

static int exec_fxsave(struct x86_exec *x)
{
	uint8_t img[FXSAVE_SIZE];
	uint64_t linear;
	int rc = sse_state_check(x, false) ?: fx_address(x, &linear);

	if (rc)
		return rc;
	fx_build(x, img);
	/* bytes 288-511 are reserved or for software: not written */
	return x86_lin_write(x, linear, img, FX_XMM + 16 * fx_xmm_count(x->cpu), X86_ACC_WRITE);
}

static int exec_fxrstor(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned nxmm = fx_xmm_count(cpu), top;
	uint8_t img[FXSAVE_SIZE];
	struct x86_fpu f = cpu->fpu;
	uint64_t linear;
	uint32_t mxcsr;
	int rc = sse_state_check(x, false) ?: fx_address(x, &linear);

	if (rc)
		return rc;
	rc = x86_lin_read(x, linear, img, FX_XMM + 16 * nxmm, X86_ACC_READ);
	if (rc)
		return rc;
	mxcsr = get32(img + 24);
	if (nxmm && (mxcsr & ~X86_MXCSR_MASK)) {
		cpu->fault_error_code = 0;
		return X86_EXC_GP;
	}
	f.fcw = (uint16_t)((get16(img) & X87_FCW_VALID) | X87_FCW_FIXED1);
	f.fsw = x87_fsw_summary(get16(img + 2), f.fcw);
	f.ftw = img[4];
	f.fop = get16(img + 6) & 0x7ff;
	if (fx64(x)) {
		memcpy(&f.fip, img + 8, 8);
		memcpy(&f.fdp, img + 16, 8);
	} else {
		f.fip = get32(img + 8);
		f.fcs = get16(img + 12);
		f.fdp = get32(img + 16);
		f.fds = get16(img + 20);
	}
	top = x87_top(f.fsw);
	for (unsigned i = 0; i < 8; i++)
		get_f80(&f.fpr[(top + i) & 7], img + FX_ST + 16 * i);
	if (nxmm) {
		f.mxcsr = mxcsr;
		memcpy(f.xmm, img + FX_XMM, 16 * nxmm);
	}
	cpu->fpu = f;
	return 0;
}

static int exec_ldmxcsr(struct x86_exec *x)
{
	uint64_t v;
	int rc = sse_state_check(x, true) ?: x86_mem_read(x, x86_ea(x), 4, &v);

	if (rc)
		return rc;
	if (v & ~(uint64_t)X86_MXCSR_MASK) {
		x->cpu->fault_error_code = 0;
		return X86_EXC_GP;
	}
	x->cpu->fpu.mxcsr = (uint32_t)v;
	return 0;
}

static int exec_stmxcsr(struct x86_exec *x)
{
	return sse_state_check(x, true) ?: x86_mem_write(x, x86_ea(x), 4, x->cpu->fpu.mxcsr);
}

int x86_exec_fxsr(struct x86_exec *x)
{
	switch (x->in->op) {
	case X86_OP_FXSAVE:
		return exec_fxsave(x);
	case X86_OP_FXRSTOR:
		return exec_fxrstor(x);
	case X86_OP_LDMXCSR:
		return exec_ldmxcsr(x);
	case X86_OP_STMXCSR:
		return exec_stmxcsr(x);
	case X86_OP_FNSTENV:
		return exec_fnstenv(x, false);
	case X86_OP_FNSAVE:
		return exec_fnstenv(x, true);
	case X86_OP_FLDENV:
		return exec_fldenv(x, false);
	case X86_OP_FRSTOR:
		return exec_fldenv(x, true);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
