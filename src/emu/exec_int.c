/*
 * Integer arithmetic, logic and data movement (Intel SDM vol. 2 instruction pages of ADD ... XOR,
 * INC, DEC, NEG, NOT, MOV, MOVZX, MOVSX, MOVSXD, LEA, XCHG, CMPXCHG, XADD, BSWAP, SETcc, CMOVcc,
 * CBW/CWDE/CDQE, CWD/CDQ/CQO, CLC/STC/CMC/CLD/STD, NOP, PUSH, POP).
 */
#include "exec_internal.h"

enum operand_form {
	FORM_RM_REG,  /* destination r/m, source ModRM.reg */
	FORM_REG_RM,  /* destination ModRM.reg, source r/m */
	FORM_ACC_IMM, /* AL/AX/EAX/RAX, immediate */
	FORM_RM_IMM,  /* r/m, immediate (80 81 83 F6 F7) */
};

static enum operand_form alu_form(const struct x86_insn *in)
{
	if (in->opcode >= 0x80 && in->opcode <= 0x83)
		return FORM_RM_IMM;
	if (in->opcode == 0xf6 || in->opcode == 0xf7)
		return FORM_RM_IMM;
	if (in->opcode == 0x84 || in->opcode == 0x85)
		return FORM_RM_REG;
	if (in->opcode == 0xa8 || in->opcode == 0xa9)
		return FORM_ACC_IMM;
	switch (in->opcode & 7) {
	case 0:
	case 1:
		return FORM_RM_REG;
	case 2:
	case 3:
		return FORM_REG_RM;
	default:
		return FORM_ACC_IMM;
	}
}

/* Computes dst OP src; returns the new arithmetic flags. CMP and TEST write nothing back. */
static uint64_t alu_compute(struct x86_exec *x, uint64_t a, uint64_t b, unsigned size,
			    uint64_t *res)
{
	unsigned cf = (x->cpu->rflags & X86_FLAG_CF) ? 1 : 0;

	switch (x->in->op) {
	case X86_OP_ADD:
		return x86_flags_add(a, b, 0, size, res);
	case X86_OP_ADC:
		return x86_flags_add(a, b, cf, size, res);
	case X86_OP_SUB:
	case X86_OP_CMP:
		return x86_flags_sub(a, b, 0, size, res);
	case X86_OP_SBB:
		return x86_flags_sub(a, b, cf, size, res);
	case X86_OP_OR:
		*res = (a | b) & x86_size_mask(size);
		break;
	case X86_OP_XOR:
		*res = (a ^ b) & x86_size_mask(size);
		break;
	default: /* AND, TEST */
		*res = a & b & x86_size_mask(size);
		break;
	}
	return x86_flags_logic(*res, size);
}

static int exec_binary(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	enum operand_form form = alu_form(in);
	uint64_t a, b, res, flags;
	int rc;

	switch (form) {
	case FORM_RM_REG:
		rc = x86_rm_read(x, size, &a);
		b = x86_reg_get(x, in->reg, size);
		break;
	case FORM_REG_RM:
		a = x86_reg_get(x, in->reg, size);
		rc = x86_rm_read(x, size, &b);
		break;
	case FORM_ACC_IMM:
		a = x86_reg_get(x, X86_RAX, size);
		b = (uint64_t)x86_insn_simm(in);
		rc = 0;
		break;
	default:
		rc = x86_rm_read(x, size, &a);
		b = (uint64_t)x86_insn_simm(in);
		break;
	}
	if (rc)
		return rc;
	flags = alu_compute(x, a, b & x86_size_mask(size), size, &res);
	if (in->op != X86_OP_CMP && in->op != X86_OP_TEST) {
		if (form == FORM_REG_RM)
			x86_reg_set(x, in->reg, size, res);
		else if (form == FORM_ACC_IMM)
			x86_reg_set(x, X86_RAX, size, res);
		else if ((rc = x86_rm_write(x, size, res)))
			return rc;
	}
	x86_flags_update(x->cpu, X86_FLAGS_ARITH, flags);
	return 0;
}

/* INC/DEC keep CF (SDM "INC"); NEG sets CF unless the source is 0 (SDM "NEG"); NOT: no flags. */
static int exec_unary(struct x86_exec *x)
{
	unsigned size = x->in->opsize;
	uint64_t a, res, flags, mask = X86_FLAGS_ARITH;
	int rc = x86_rm_read(x, size, &a);

	if (rc)
		return rc;
	switch (x->in->op) {
	case X86_OP_INC:
		flags = x86_flags_add(a, 1, 0, size, &res);
		mask &= ~X86_FLAG_CF;
		break;
	case X86_OP_DEC:
		flags = x86_flags_sub(a, 1, 0, size, &res);
		mask &= ~X86_FLAG_CF;
		break;
	case X86_OP_NEG:
		flags = x86_flags_sub(0, a, 0, size, &res);
		break;
	default: /* NOT */
		res = ~a;
		mask = 0;
		flags = 0;
		break;
	}
	if ((rc = x86_rm_write(x, size, res)))
		return rc;
	x86_flags_update(x->cpu, mask, flags);
	return 0;
}

/* CBW/CWDE/CDQE and CWD/CDQ/CQO (SDM "CBW/CWDE/CDQE", "CWD/CDQ/CQO"). */
static int exec_convert(struct x86_exec *x)
{
	unsigned size = x->in->opsize;
	uint64_t a;

	if (x->in->op == X86_OP_CBW) {
		a = x86_reg_get(x, X86_RAX, size / 2);
		x86_reg_set(x, X86_RAX, size, (uint64_t)x86_sext(a, size / 2));
		return 0;
	}
	a = x86_reg_get(x, X86_RAX, size);
	x86_reg_set(x, X86_RDX, size, (a & x86_sign_bit(size)) ? ~0ull : 0);
	return 0;
}

static int exec_flag_op(struct x86_exec *x)
{
	uint64_t *f = &x->cpu->rflags;

	switch (x->in->op) {
	case X86_OP_CLC:
		*f &= ~X86_FLAG_CF;
		break;
	case X86_OP_STC:
		*f |= X86_FLAG_CF;
		break;
	case X86_OP_CMC:
		*f ^= X86_FLAG_CF;
		break;
	case X86_OP_CLD:
		*f &= ~X86_FLAG_DF;
		break;
	default:
		*f |= X86_FLAG_DF;
		break; /* STD */
	}
	return 0;
}

int x86_exec_alu(struct x86_exec *x)
{
	switch (x->in->op) {
	case X86_OP_ADD:
	case X86_OP_OR:
	case X86_OP_ADC:
	case X86_OP_SBB:
	case X86_OP_AND:
	case X86_OP_SUB:
	case X86_OP_XOR:
	case X86_OP_CMP:
	case X86_OP_TEST:
		return exec_binary(x);
	case X86_OP_INC:
	case X86_OP_DEC:
	case X86_OP_NEG:
	case X86_OP_NOT:
		return exec_unary(x);
	case X86_OP_CBW:
	case X86_OP_CWD:
		return exec_convert(x);
	case X86_OP_CLC:
	case X86_OP_STC:
	case X86_OP_CMC:
	case X86_OP_CLD:
	case X86_OP_STD:
		return exec_flag_op(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
