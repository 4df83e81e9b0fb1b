/*
 * Multiply and divide (Intel SDM vol. 2 "MUL", "IMUL", "DIV", "IDIV"). MUL/IMUL define CF and OF
 * only (SF ZF AF PF are undefined: we set SF ZF PF from the stored low result, AF = 0); DIV/IDIV
 * leave all flags undefined: we leave them unchanged.
 */
#include "exec_internal.h"

typedef unsigned __int128 u128;
typedef __int128 s128;

/* The 1-operand forms' implicit register pair: AX for bytes, else rDX:rAX (SDM "MUL", "DIV"). */
static u128 read_dividend(const struct x86_exec *x, unsigned size)
{
	if (size == 1)
		return x86_reg_get(x, X86_RAX, 2);
	return ((u128)x86_reg_get(x, X86_RDX, size) << (size * 8)) | x86_reg_get(x, X86_RAX, size);
}

static void write_pair(struct x86_exec *x, unsigned size, uint64_t lo, uint64_t hi)
{
	if (size == 1) {
		x86_reg_set(x, X86_RAX, 2, (lo & 0xff) | ((hi & 0xff) << 8));
		return;
	}
	x86_reg_set(x, X86_RAX, size, lo);
	x86_reg_set(x, X86_RDX, size, hi);
}

static void set_mul_flags(struct x86_exec *x, uint64_t lo, unsigned size, bool overflow)
{
	uint64_t f = x86_flags_szp(lo, size) | (overflow ? X86_FLAG_CF | X86_FLAG_OF : 0);

	x86_flags_update(x->cpu, X86_FLAGS_ARITH, f);
}

static int exec_mul1(struct x86_exec *x, uint64_t src)
{
	unsigned size = x->in->opsize, bits = size * 8;
	uint64_t m = x86_size_mask(size), lo, hi;
	u128 p;

	if (x->in->op == X86_OP_MUL) {
		p = (u128)x86_reg_get(x, X86_RAX, size) * src;
	} else {
		p = (u128)((s128)x86_sext(x86_reg_get(x, X86_RAX, size), size) *
			   x86_sext(src, size));
	}
	lo = (uint64_t)p & m;
	hi = (uint64_t)(p >> bits) & m;
	write_pair(x, size, lo, hi);
	if (x->in->op == X86_OP_MUL)
		set_mul_flags(x, lo, size, hi != 0);
	else
		set_mul_flags(x, lo, size, (s128)p != (s128)x86_sext(lo, size));
	return 0;
}

/* #DE on a zero divisor or a quotient that does not fit (SDM "DIV", "IDIV"). */
static int exec_div(struct x86_exec *x, uint64_t src)
{
	unsigned size = x->in->opsize;
	u128 n = read_dividend(x, size);
	uint64_t m = x86_size_mask(size);

	if (src == 0)
		return X86_EXC_DE;
	if (x->in->op == X86_OP_DIV) {
		u128 q = n / src;

		if (q > m)
			return X86_EXC_DE;
		write_pair(x, size, (uint64_t)q, (uint64_t)(n % src));
		return 0;
	}
	/* IDIV: the dividend is 2*size bytes, signed. */
	s128 sn = size == 8 ? (s128)n : (s128)x86_sext((uint64_t)n, size * 2);
	s128 sd = x86_sext(src, size), q, r;
	s128 qmax = (s128)(x86_sign_bit(size) - 1), qmin = -qmax - 1;

	if (size == 8 && sd == -1 && (u128)sn == (u128)1 << 127)
		return X86_EXC_DE; /* -2^127 / -1: the quotient overflows, and would overflow s128
				    */
	q = sn / sd;
	r = sn % sd;
	if (q > qmax || q < qmin)
		return X86_EXC_DE;
	write_pair(x, size, (uint64_t)q & m, (uint64_t)r & m);
	return 0;
}

/* 0F AF: reg *= r/m; 69/6B: reg = r/m * imm. CF = OF = the signed result was truncated. */
static int exec_imul_multi(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t src, lo;
	s128 a, p;
	int rc;

	if ((rc = x86_rm_read(x, size, &src)))
		return rc;
	if (in->map == X86_MAP_0F)
		a = x86_sext(x86_reg_get(x, in->reg, size), size);
	else
		a = x86_insn_simm(in);
	p = a * x86_sext(src, size);
	lo = (uint64_t)p & x86_size_mask(size);
	x86_reg_set(x, in->reg, size, lo);
	set_mul_flags(x, lo, size, p != (s128)x86_sext(lo, size));
	return 0;
}

int x86_exec_muldiv(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	uint64_t src;
	int rc;

	switch (in->op) {
	case X86_OP_IMUL:
		if (in->opcode != 0xf6 && in->opcode != 0xf7)
			return exec_imul_multi(x);
		/* fall through */
	case X86_OP_MUL:
	case X86_OP_DIV:
	case X86_OP_IDIV:
		break;
	default:
		return X86_EXEC_UNHANDLED;
	}
	if ((rc = x86_rm_read(x, in->opsize, &src)))
		return rc;
	if (in->op == X86_OP_MUL || in->op == X86_OP_IMUL)
		return exec_mul1(x, src);
	return exec_div(x, src);
}
