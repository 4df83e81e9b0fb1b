/*
 * Data movement and the stack (Intel SDM vol. 2 pages of MOV, MOVZX, MOVSX/MOVSXD, LEA, XCHG,
 * CMPXCHG, XADD, BSWAP, SETcc, CMOVcc, NOP, PAUSE, PUSH, POP).
 */
#include "exec_internal.h"

/* A0-A3: the offset is the immediate, as wide as the address size, DS unless overridden
 * (SDM "MOV", moffs). */
static unsigned moffs_seg(const struct x86_insn *in)
{
	return in->seg != X86_SEG_NONE ? in->seg : X86_SEG_DS;
}

static int exec_mov(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t v;
	int rc;

	switch (in->opcode) {
	case 0x88:
	case 0x89:
		return x86_rm_write(x, size, x86_reg_get(x, in->reg, size));
	case 0x8a:
	case 0x8b:
		if ((rc = x86_rm_read(x, size, &v)))
			return rc;
		x86_reg_set(x, in->reg, size, v);
		return 0;
	case 0xa0:
	case 0xa1:
		if ((rc = x86_seg_read(x, moffs_seg(in), in->imm, size, &v)))
			return rc;
		x86_reg_set(x, X86_RAX, size, v);
		return 0;
	case 0xa2:
	case 0xa3:
		return x86_seg_write(x, moffs_seg(in), in->imm, size, x86_reg_get(x, X86_RAX, size));
	case 0xc6:
	case 0xc7:
		return x86_rm_write(x, size, (uint64_t)x86_insn_simm(in));
	default: /* B0-BF: imm8 / imm16 / imm32 / imm64, never sign-extended */
		x86_reg_set(x, in->opreg, size, in->imm);
		return 0;
	}
}

/* MOVZX/MOVSX 0F B6 B7 BE BF; MOVSXD 63 reads 32 bits at most (SDM "MOVSX/MOVSXD"). */
static int exec_extend(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned src_size, size = in->opsize;
	uint64_t v;
	int rc;

	if (in->op == X86_OP_MOVSXD)
		src_size = size < 4 ? size : 4;
	else
		src_size = (in->opcode & 1) ? 2 : 1;
	if ((rc = x86_rm_read(x, src_size, &v)))
		return rc;
	if (in->op != X86_OP_MOVZX)
		v = (uint64_t)x86_sext(v, src_size);
	x86_reg_set(x, in->reg, size, v);
	return 0;
}

static int exec_xchg(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t a, b;
	int rc;

	if (!in->has_modrm) { /* 90+r: rAX with the opcode register */
		a = x86_reg_get(x, X86_RAX, size);
		b = x86_reg_get(x, in->opreg, size);
		x86_reg_set(x, X86_RAX, size, b);
		x86_reg_set(x, in->opreg, size, a);
		return 0;
	}
	if ((rc = x86_rm_read(x, size, &a)))
		return rc;
	b = x86_reg_get(x, in->reg, size);
	if ((rc = x86_rm_write(x, size, b)))
		return rc;
	x86_reg_set(x, in->reg, size, a);
	return 0;
}

/*
 * SDM "CMPXCHG": TEMP <- DEST; equal: DEST <- SRC; else accumulator <- TEMP, DEST <- TEMP.
 * The failing write-back matters for memory only (the processor always writes, SDM); a register
 * destination is left untouched, upper half included (AMD APM vol. 3 "CMPXCHG": "otherwise,
 * copies the destination into the accumulator"; what the host CPU does).
 */
static int exec_cmpxchg(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t dest, acc, res, flags;
	int rc;

	if ((rc = x86_rm_read(x, size, &dest)))
		return rc;
	acc = x86_reg_get(x, X86_RAX, size);
	flags = x86_flags_sub(acc, dest, 0, size, &res);
	if (acc == dest) {
		rc = x86_rm_write(x, size, x86_reg_get(x, in->reg, size));
	} else {
		rc = in->mod == 3 ? 0 : x86_rm_write(x, size, dest);
		x86_reg_set(x, X86_RAX, size, dest);
	}
	if (rc)
		return rc;
	x86_flags_update(x->cpu, X86_FLAGS_ARITH, flags);
	return 0;
}

/* SDM "XADD": TEMP <- SRC + DEST; SRC <- DEST; DEST <- TEMP. */
static int exec_xadd(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t dest, sum, flags;
	int rc;

	if ((rc = x86_rm_read(x, size, &dest)))
		return rc;
	flags = x86_flags_add(x86_reg_get(x, in->reg, size), dest, 0, size, &sum);
	if (in->mod == 3) { /* same register twice: DEST is written last and wins */
		x86_reg_set(x, in->reg, size, dest);
		x86_reg_set(x, in->rm, size, sum);
	} else {
		/* the address is formed before SRC changes: it may be the base or index */
		if ((rc = x86_rm_write(x, size, sum)))
			return rc;
		x86_reg_set(x, in->reg, size, dest);
	}
	x86_flags_update(x->cpu, X86_FLAGS_ARITH, flags);
	return 0;
}

/* SDM "BSWAP": with a 16-bit operand the result is undefined; we store 0 in the low word. */
static int exec_bswap(struct x86_exec *x)
{
	unsigned size = x->in->opsize;
	uint64_t v = x86_reg_get(x, x->in->opreg, size);

	if (size == 8)
		v = __builtin_bswap64(v);
	else if (size == 4)
		v = __builtin_bswap32((uint32_t)v);
	else
		v = 0;
	x86_reg_set(x, x->in->opreg, size, v);
	return 0;
}

static int exec_setcc_cmovcc(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	bool taken = x86_cond(x->cpu->rflags, in->opreg);
	uint64_t v;
	int rc;

	if (in->op == X86_OP_SETCC)
		return x86_rm_write(x, 1, taken ? 1 : 0);
	/* The source is read either way; a 32-bit CMOVcc always zero-extends (SDM "CMOVcc"). */
	if ((rc = x86_rm_read(x, in->opsize, &v)))
		return rc;
	if (!taken)
		v = x86_reg_get(x, in->reg, in->opsize);
	x86_reg_set(x, in->reg, in->opsize, v);
	return 0;
}

static int exec_push(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t v;
	int rc;

	if (in->opcode == 0x68 || in->opcode == 0x6a)
		v = (uint64_t)x86_insn_simm(in);
	else if (!in->has_modrm)
		v = x86_reg_get(x, in->opreg, size);
	else if ((rc = x86_rm_read(x, size, &v)))
		return rc;
	return x86_push(x, size, v);
}

/* SDM "POP": rSP is incremented (stack address size) before a memory destination's address is computed. */
static int exec_pop(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t v;
	int rc;

	if ((rc = x86_pop(x, size, &v)))
		return rc;
	if (in->has_modrm)
		return x86_rm_write(x, size, v);
	x86_reg_set(x, in->opreg, size, v);
	return 0;
}

int x86_exec_move(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;

	switch (in->op) {
	case X86_OP_MOV:
		return exec_mov(x);
	case X86_OP_MOVZX:
	case X86_OP_MOVSX:
	case X86_OP_MOVSXD:
		return exec_extend(x);
	case X86_OP_LEA:
		x86_reg_set(x, in->reg, in->opsize, x86_ea_offset(x));
		return 0;
	case X86_OP_XCHG:
		return exec_xchg(x);
	case X86_OP_CMPXCHG:
		return exec_cmpxchg(x);
	case X86_OP_XADD:
		return exec_xadd(x);
	case X86_OP_BSWAP:
		return exec_bswap(x);
	case X86_OP_SETCC:
	case X86_OP_CMOVCC:
		return exec_setcc_cmovcc(x);
	case X86_OP_NOP:
	case X86_OP_PAUSE:
		return 0;
	case X86_OP_PUSH:
		return exec_push(x);
	case X86_OP_POP:
		return exec_pop(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
