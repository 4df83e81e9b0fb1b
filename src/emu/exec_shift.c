/*
 * Shifts and rotates (Intel SDM vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count of 0 changes nothing,
 * flags included. OF is defined for a count of 1 only and AF is undefined for shifts: for other
 * counts we store what the count-1 formula gives, and AF = 0. A count of 0 still writes a
 * register destination (32-bit zero extension).
 */
#include "exec_internal.h"

#define F_CF X86_FLAG_CF
#define F_OF X86_FLAG_OF

struct shift_result {
	uint64_t value;
	uint64_t flags;
	uint64_t mask; /* which RFLAGS bits the instruction writes */
};

static unsigned shift_count(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned raw;

	if (in->map == X86_MAP_0F) /* SHLD/SHRD: A4/AC take imm8, A5/AD take CL */
		raw =
		    (in->opcode & 1) ? (unsigned)(x->cpu->gpr[X86_RCX] & 0xff) : (unsigned)in->imm;
	else if (in->opcode == 0xd0 || in->opcode == 0xd1)
		raw = 1;
	else if (in->opcode == 0xd2 || in->opcode == 0xd3)
		raw = (unsigned)(x->cpu->gpr[X86_RCX] & 0xff);
	else
		raw = (unsigned)in->imm;
	return raw & (in->opsize == 8 ? 63 : 31);
}

static uint64_t msb(uint64_t v, unsigned size)
{
	return (v & x86_sign_bit(size)) ? 1 : 0;
}

static struct shift_result shift_linear(unsigned op, uint64_t a, unsigned c, unsigned size)
{
	unsigned bits = size * 8;
	uint64_t m = x86_size_mask(size), cf, of, r;
	int64_t sa = x86_sext(a, size);

	switch (op) {
	case X86_OP_SHL:
		r = c >= 64 ? 0 : (a << c) & m;
		cf = c <= bits ? (a >> (bits - c)) & 1 : 0;
		of = msb(r, size) ^ cf;
		break;
	case X86_OP_SHR:
		r = a >> c;
		cf = (a >> (c - 1)) & 1;
		of = msb(a, size);
		break;
	default: /* SAR */
		r = (uint64_t)(sa >> c) & m;
		cf = (uint64_t)(sa >> (c - 1)) & 1;
		of = 0;
		break;
	}
	return (struct shift_result){
	    .value = r,
	    .flags = x86_flags_szp(r, size) | (cf ? F_CF : 0) | (of ? F_OF : 0),
	    .mask = X86_FLAGS_ARITH,
	};
}

static uint64_t rotl(uint64_t a, unsigned t, unsigned size)
{
	unsigned bits = size * 8;

	return t == 0 ? a : ((a << t) | (a >> (bits - t))) & x86_size_mask(size);
}

/* ROL/ROR rotate modulo the operand width; CF and OF only. */
static struct shift_result rotate(unsigned op, uint64_t a, unsigned c, unsigned size)
{
	unsigned bits = size * 8, t = c % bits;
	uint64_t r, cf, of;

	if (op == X86_OP_ROL) {
		r = rotl(a, t, size);
		cf = r & 1;
		of = msb(r, size) ^ cf;
	} else {
		r = rotl(a, (bits - t) % bits, size);
		cf = msb(r, size);
		of = cf ^ ((r >> (bits - 2)) & 1);
	}
	return (struct shift_result){
	    .value = r, .flags = (cf ? F_CF : 0) | (of ? F_OF : 0), .mask = F_CF | F_OF};
}

/* RCL/RCR rotate through CF: modulo 9 for bytes, 17 for words (SDM pseudo-code tempCOUNT). */
static struct shift_result rotate_carry(unsigned op, uint64_t a, unsigned c, unsigned size,
					uint64_t cf)
{
	unsigned t = size == 1 ? c % 9 : size == 2 ? c % 17 : c;
	uint64_t of = 0, out;

	if (op == X86_OP_RCR)
		of = msb(a, size) ^ cf; /* from the operands before the rotation */
	for (unsigned i = 0; i < t; i++) {
		if (op == X86_OP_RCL) {
			out = msb(a, size);
			a = ((a << 1) | cf) & x86_size_mask(size);
		} else {
			out = a & 1;
			a = (a >> 1) | (cf ? x86_sign_bit(size) : 0);
		}
		cf = out;
	}
	if (op == X86_OP_RCL)
		of = msb(a, size) ^ cf;
	return (struct shift_result){
	    .value = a, .flags = (cf ? F_CF : 0) | (of ? F_OF : 0), .mask = F_CF | F_OF};
}

/* SHLD/SHRD shift dest, filling from src; with a 16-bit operand a count > 16 is undefined. */
static struct shift_result shift_double(unsigned op, uint64_t d, uint64_t s, unsigned c,
					unsigned size)
{
	unsigned bits = size * 8;
	unsigned __int128 both;
	uint64_t r, cf;

	if (op == X86_OP_SHLD) {
		both = ((unsigned __int128)d << bits) | s;
		r = (uint64_t)((both << c) >> bits) & x86_size_mask(size);
		cf = (uint64_t)(both >> (2 * bits - c)) & 1;
	} else {
		both = ((unsigned __int128)s << bits) | d;
		r = (uint64_t)(both >> c) & x86_size_mask(size);
		cf = (uint64_t)(both >> (c - 1)) & 1;
	}
	return (struct shift_result){
	    .value = r,
	    .flags = x86_flags_szp(r, size) | (cf ? F_CF : 0) |
		     ((msb(r, size) ^ msb(d, size)) ? F_OF : 0),
	    .mask = X86_FLAGS_ARITH,
	};
}

int x86_exec_shift(struct x86_exec *x)
{
	unsigned op = x->in->op, size = x->in->opsize, c;
	struct shift_result sr;
	uint64_t a;
	int rc;

	switch (op) {
	case X86_OP_ROL:
	case X86_OP_ROR:
	case X86_OP_RCL:
	case X86_OP_RCR:
	case X86_OP_SHL:
	case X86_OP_SHR:
	case X86_OP_SAR:
	case X86_OP_SHLD:
	case X86_OP_SHRD:
		break;
	default:
		return X86_EXEC_UNHANDLED;
	}
	if ((rc = x86_rm_read(x, size, &a)))
		return rc;
	c = shift_count(x);
	if (c == 0) {
		/*
		 * Flags and value stay, but the register is still written: a 32-bit operand
		 * zero-extends into the 64-bit register (SDM 3.4.1.1; what the host CPU does).
		 */
		return x->in->mod == 3 ? x86_rm_write(x, size, a) : 0;
	}
	if (op == X86_OP_SHLD || op == X86_OP_SHRD)
		sr = shift_double(op, a, x86_reg_get(x, x->in->reg, size), c, size);
	else if (op == X86_OP_ROL || op == X86_OP_ROR)
		sr = rotate(op, a, c, size);
	else if (op == X86_OP_RCL || op == X86_OP_RCR)
		sr = rotate_carry(op, a, c, size, (x->cpu->rflags & X86_FLAG_CF) ? 1 : 0);
	else
		sr = shift_linear(op, a, c, size);
	if ((rc = x86_rm_write(x, size, sr.value)))
		return rc;
	x86_flags_update(x->cpu, sr.mask, sr.flags);
	return 0;
}
