/*
 * Bit test and bit scan (Intel SDM vol. 2 "BT", "BTS", "BTR", "BTC", "BSF", "BSR").
 */
#include "exec_internal.h"

/*
 * The bit offset: an immediate is taken modulo the operand width; a register offset is signed
 * and, with a memory operand, selects the operand-sized unit at EA + size * (offset DIV width)
 * (SDM "BT", "Operation" and table 3-2 "bit offset"; AMD APM vol. 3 "BT").
 */
static int bit_operand(struct x86_exec *x, unsigned acc, uint64_t *addr, unsigned *bit)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize, bits = size * 8;
	uint64_t offset;
	int64_t off;

	if (in->opcode == 0xba) {
		*bit = (unsigned)in->imm & (bits - 1);
		return in->mod == 3 ? 0 : x86_ea_linear(x, size, acc, addr);
	}
	off = x86_sext(x86_reg_get(x, in->reg, size), size);
	*bit = (unsigned)(off & (bits - 1));
	if (in->mod == 3)
		return 0;
	/* floor(off / bits) * size, with an arithmetic shift (floor for negative offsets), added
	 * to the offset in the address size */
	offset = x86_ea_offset(x) + (uint64_t)((off >> (__builtin_ctz(bits))) * (int64_t)size);
	offset &= x86_size_mask(in->addrsize);
	return x86_seg_linear(x, x86_ea_seg(x), offset, size, acc, addr);
}

static int exec_bt(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize, bit;
	uint64_t addr, v, nv;
	int rc;

	rc = bit_operand(x, in->op == X86_OP_BT ? X86_ACC_READ : X86_ACC_WRITE, &addr, &bit);
	if (rc)
		return rc;
	if (in->mod == 3)
		v = x86_reg_get(x, in->rm, size);
	else if ((rc = x86_mem_read(x, addr, size, &v)))
		return rc;
	if (x->locked && in->mod != 3) { /* LOCK BTS/BTR/BTC: the store is a compare-exchange */
		x->lock_addr = addr;
		x->lock_old = v;
	}
	switch (in->op) {
	case X86_OP_BTS:
		nv = v | (1ull << bit);
		break;
	case X86_OP_BTR:
		nv = v & ~(1ull << bit);
		break;
	case X86_OP_BTC:
		nv = v ^ (1ull << bit);
		break;
	default:
		nv = v;
		break;
	}
	if (in->op != X86_OP_BT) {
		if (in->mod == 3)
			x86_reg_set(x, in->rm, size, nv);
		else if ((rc = x86_mem_write(x, addr, size, nv)))
			return rc;
	}
	/* CF = the bit; ZF unchanged; OF SF AF PF undefined: left unchanged. */
	x86_flags_update(x->cpu, X86_FLAG_CF, ((v >> bit) & 1) ? X86_FLAG_CF : 0);
	return 0;
}

/*
 * A zero source sets ZF and leaves the destination unchanged (Intel: "undefined"; AMD APM:
 * unchanged). CF OF SF AF PF are undefined: left unchanged.
 */
static int exec_bscan(struct x86_exec *x)
{
	unsigned size = x->in->opsize;
	uint64_t v;
	int rc;

	if ((rc = x86_rm_read(x, size, &v)))
		return rc;
	if (v == 0) {
		x86_flags_update(x->cpu, X86_FLAG_ZF, X86_FLAG_ZF);
		return 0;
	}
	x86_reg_set(x, x->in->reg, size,
		    x->in->op == X86_OP_BSF ? (uint64_t)__builtin_ctzll(v)
					    : (uint64_t)(63 - __builtin_clzll(v)));
	x86_flags_update(x->cpu, X86_FLAG_ZF, 0);
	return 0;
}

int x86_exec_bit(struct x86_exec *x)
{
	switch (x->in->op) {
	case X86_OP_BT:
	case X86_OP_BTS:
	case X86_OP_BTR:
	case X86_OP_BTC:
		return exec_bt(x);
	case X86_OP_BSF:
	case X86_OP_BSR:
		return exec_bscan(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
