/*
 * Instructions that exist outside 64-bit mode only (the decoder makes them #UD there):
 * PUSHA/PUSHAD, POPA/POPAD, the BCD adjustments DAA DAS AAA AAS AAM AAD, BOUND, LAHF/SAHF
 * (CPUID 8000_0001h:ECX.LAHF-SAHF is not advertised, so they are #UD in 64-bit mode too).
 * Intel SDM vol. 2 instruction pages; vol. 1 7.3.5 "Decimal arithmetic instructions".
 * Flags the SDM calls undefined are left as they were.
 */
#include "exec_internal.h"

static void set_al(struct x86_cpu *cpu, uint64_t al)
{
	cpu->gpr[X86_RAX] = (cpu->gpr[X86_RAX] & ~0xffull) | (al & 0xff);
}

static void set_ax(struct x86_cpu *cpu, uint64_t ax)
{
	cpu->gpr[X86_RAX] = (cpu->gpr[X86_RAX] & ~0xffffull) | (ax & 0xffff);
}

/*
 * PUSHA/PUSHAD: push AX CX DX BX, the SP from before the instruction, BP SI DI (SDM "PUSHA").
 * Every slot is checked against SS and translated before the first write, so a fault leaves
 * memory untouched.
 */
static int exec_pusha(struct x86_exec *x)
{
	static const uint8_t order[8] = {X86_RAX, X86_RCX, X86_RDX, X86_RBX,
					 X86_RSP, X86_RBP, X86_RSI, X86_RDI};
	struct x86_cpu *cpu = x->cpu;
	unsigned size = x->in->opsize, asize = x86_stack_asize(cpu);
	uint64_t sp = cpu->gpr[X86_RSP], lin[8];
	int rc;

	for (unsigned i = 0; i < 8; i++) {
		uint64_t off = (sp - (i + 1) * size) & x86_size_mask(asize);

		rc = x86_seg_linear(x, X86_SEG_SS, off, size, X86_ACC_WRITE, &lin[i]);
		if (rc == 0)
			rc = x86_lin_probe_write(x, lin[i], size);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < 8; i++) {
		rc = x86_mem_write(x, lin[i], size, cpu->gpr[order[i]]);
		if (rc)
			return rc;
	}
	x86_sp_add(x, -(uint64_t)(8 * size));
	return 0;
}

/* POPA/POPAD: pop DI SI BP, skip the saved SP, pop BX DX CX AX (SDM "POPA"). */
static int exec_popa(struct x86_exec *x)
{
	static const uint8_t order[8] = {X86_RDI, X86_RSI, X86_RBP, X86_RSP,
					 X86_RBX, X86_RDX, X86_RCX, X86_RAX};
	unsigned size = x->in->opsize;
	uint64_t v[8];
	int rc;

	for (unsigned i = 0; i < 8; i++) {
		rc = x86_pop(x, size, &v[i]);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < 8; i++)
		if (order[i] != X86_RSP)
			x86_reg_set(x, order[i], size, v[i]);
	return 0;
}

/* SDM "DAA" / "DAS": adjust AL after a packed-BCD add / subtract; OF is undefined (kept). */
static int exec_daa_das(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	bool sub = x->in->op == X86_OP_DAS;
	uint64_t al = cpu->gpr[X86_RAX] & 0xff, old_al = al, f = 0;
	bool old_cf = cpu->rflags & X86_FLAG_CF;

	if ((al & 0xf) > 9 || (cpu->rflags & X86_FLAG_AF)) {
		if (sub) {
			if (al < 6)
				f |= X86_FLAG_CF; /* the borrow of AL - 6 */
			al = (al - 6) & 0xff;
		} else {
			if (al > 0xf9)
				f |= X86_FLAG_CF; /* the carry of AL + 6 */
			al = (al + 6) & 0xff;
		}
		if (old_cf)
			f |= X86_FLAG_CF;
		f |= X86_FLAG_AF;
	}
	if (old_al > 0x99 || old_cf) {
		al = (sub ? al - 0x60 : al + 0x60) & 0xff;
		f |= X86_FLAG_CF;
	} else if (!sub) {
		f &= ~X86_FLAG_CF;
	}
	f |= x86_flags_szp(al, 1);
	set_al(cpu, al);
	x86_flags_update(cpu, X86_FLAGS_ARITH & ~X86_FLAG_OF, f);
	return 0;
}

/*
 * SDM "AAA" / "AAS": adjust AX after an unpacked-BCD add / subtract. AAA adds 106h to AX,
 * AAS subtracts 6 from AX and 1 from AH; AL keeps its low nibble. AF = CF = the adjustment;
 * OF SF ZF PF are undefined: kept.
 */
static int exec_aaa_aas(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t ax = cpu->gpr[X86_RAX] & 0xffff, f = 0;

	if ((ax & 0xf) > 9 || (cpu->rflags & X86_FLAG_AF)) {
		if (x->in->op == X86_OP_AAA)
			ax += 0x106;
		else
			ax = (ax - 6 - 0x100) & 0xffff; /* AX - 6, then AH - 1 */
		f = X86_FLAG_AF | X86_FLAG_CF;
	}
	ax = (ax & 0xff00) | (ax & 0x0f);
	set_ax(cpu, ax);
	x86_flags_update(cpu, X86_FLAG_AF | X86_FLAG_CF, f);
	return 0;
}

/* SDM "AAM": AH = AL / imm8, AL = AL mod imm8; imm8 = 0 is #DE. SF ZF PF from AL. */
static int exec_aam(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned base = (unsigned)(x->in->imm & 0xff), al = cpu->gpr[X86_RAX] & 0xff;

	if (base == 0)
		return X86_EXC_DE;
	set_ax(cpu, ((uint64_t)(al / base) << 8) | (al % base));
	x86_flags_update(cpu, X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_PF,
			 x86_flags_szp(al % base, 1));
	return 0;
}

/* SDM "AAD": AL = (AL + AH * imm8) & 0xff, AH = 0. SF ZF PF from AL. */
static int exec_aad(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t ax = cpu->gpr[X86_RAX];
	uint64_t al = ((ax & 0xff) + ((ax >> 8) & 0xff) * (x->in->imm & 0xff)) & 0xff;

	set_ax(cpu, al);
	x86_flags_update(cpu, X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_PF, x86_flags_szp(al, 1));
	return 0;
}

/*
 * SDM "BOUND": the signed index in the register must lie within [lower, upper], the pair of
 * operand-sized words at the memory operand; otherwise #BR.
 */
static int exec_bound(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize, seg = x86_ea_seg(x);
	uint64_t off = x86_ea_offset(x), lo, hi;
	int64_t idx = x86_sext(x86_reg_get(x, in->reg, size), size);
	int rc = x86_seg_read(x, seg, off, size, &lo);

	if (rc == 0)
		rc = x86_seg_read(x, seg, (off + size) & x86_size_mask(in->addrsize), size, &hi);
	if (rc)
		return rc;
	if (idx < x86_sext(lo, size) || idx > x86_sext(hi, size))
		return X86_EXC_BR;
	return 0;
}

/* SDM "LAHF" / "SAHF": AH <-> SF:ZF:0:AF:0:PF:1:CF. */
#define LAHF_FLAGS (X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF | X86_FLAG_CF)

static int exec_lahf_sahf(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t *rax = &cpu->gpr[X86_RAX];

	if (x->in->op == X86_OP_LAHF) {
		uint64_t ah = (cpu->rflags & LAHF_FLAGS) | X86_FLAG_FIXED1;

		*rax = (*rax & ~0xff00ull) | (ah << 8);
		return 0;
	}
	x86_flags_update(cpu, LAHF_FLAGS, (*rax >> 8) & LAHF_FLAGS);
	return 0;
}

int x86_exec_legacy(struct x86_exec *x)
{
	switch (x->in->op) {
	case X86_OP_PUSHA:
		return exec_pusha(x);
	case X86_OP_POPA:
		return exec_popa(x);
	case X86_OP_DAA:
	case X86_OP_DAS:
		return exec_daa_das(x);
	case X86_OP_AAA:
	case X86_OP_AAS:
		return exec_aaa_aas(x);
	case X86_OP_AAM:
		return exec_aam(x);
	case X86_OP_AAD:
		return exec_aad(x);
	case X86_OP_BOUND:
		return exec_bound(x);
	case X86_OP_LAHF:
	case X86_OP_SAHF:
		return exec_lahf_sahf(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
