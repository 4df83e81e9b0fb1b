/*
 * Arithmetic flags, computed eagerly and exactly (Intel SDM vol. 1 3.4.3.1 "Status Flags",
 * vol. 1 appendix A "EFLAGS Cross-Reference"; AMD APM vol. 1 3.1.4).
 */
#include "exec_internal.h"

/* PF: set if the low byte of the result has an even number of 1 bits (SDM 3.4.3.1). */
static uint64_t parity_flag(uint64_t res)
{
	return (__builtin_popcount((unsigned)(res & 0xff)) & 1) ? 0 : X86_FLAG_PF;
}

uint64_t x86_flags_szp(uint64_t res, unsigned size)
{
	uint64_t f = parity_flag(res);

	res &= x86_size_mask(size);
	if (res == 0)
		f |= X86_FLAG_ZF;
	if (res & x86_sign_bit(size))
		f |= X86_FLAG_SF;
	return f;
}

/* a + b + carry_in; CF is the carry out of the top bit, OF signed overflow, AF carry out of bit 3.
 */
uint64_t x86_flags_add(uint64_t a, uint64_t b, unsigned carry_in, unsigned size, uint64_t *res)
{
	uint64_t m = x86_size_mask(size), sb = x86_sign_bit(size);
	uint64_t r = (a + b + carry_in) & m, f;

	a &= m;
	b &= m;
	f = x86_flags_szp(r, size);
	if (((a & b) | ((a | b) & ~r)) & sb)
		f |= X86_FLAG_CF;
	if ((a ^ r) & (b ^ r) & sb)
		f |= X86_FLAG_OF;
	if ((a ^ b ^ r) & 0x10)
		f |= X86_FLAG_AF;
	*res = r;
	return f;
}

/* a - b - borrow_in; CF is the borrow into the top bit, AF the borrow from bit 4. */
uint64_t x86_flags_sub(uint64_t a, uint64_t b, unsigned borrow_in, unsigned size, uint64_t *res)
{
	uint64_t m = x86_size_mask(size), sb = x86_sign_bit(size);
	uint64_t r = (a - b - borrow_in) & m, f;

	a &= m;
	b &= m;
	f = x86_flags_szp(r, size);
	if (((~a & b) | ((~a | b) & r)) & sb)
		f |= X86_FLAG_CF;
	if ((a ^ b) & (a ^ r) & sb)
		f |= X86_FLAG_OF;
	if ((a ^ b ^ r) & 0x10)
		f |= X86_FLAG_AF;
	*res = r;
	return f;
}

/* AND/OR/XOR/TEST: CF = OF = 0, SF ZF PF by result; AF is undefined, we clear it. */
uint64_t x86_flags_logic(uint64_t res, unsigned size)
{
	return x86_flags_szp(res, size);
}

void x86_flags_update(struct x86_cpu *cpu, uint64_t mask, uint64_t value)
{
	cpu->rflags = (cpu->rflags & ~mask) | (value & mask);
}

/* Condition codes tttn (SDM vol. 2 appendix B.1.4.7, table B-10). */
bool x86_cond(uint64_t f, unsigned cc)
{
	bool cf = f & X86_FLAG_CF, zf = f & X86_FLAG_ZF, sf = f & X86_FLAG_SF;
	bool of = f & X86_FLAG_OF, pf = f & X86_FLAG_PF;
	bool r;

	switch ((cc >> 1) & 7) {
	case 0:
		r = of;
		break;
	case 1:
		r = cf;
		break;
	case 2:
		r = zf;
		break;
	case 3:
		r = cf || zf;
		break;
	case 4:
		r = sf;
		break;
	case 5:
		r = pf;
		break;
	case 6:
		r = sf != of;
		break;
	default:
		r = zf || sf != of;
		break;
	}
	return (cc & 1) ? !r : r;
}
