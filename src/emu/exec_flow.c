/*
 * Near control transfers and the stack-frame/flags instructions in 64-bit mode: JMP, Jcc, CALL,
 * RET, LOOP/LOOPE/LOOPNE, JRCXZ/JECXZ (Intel SDM vol. 2 instruction pages; vol. 1 6.3 "Calling
 * procedures using CALL and RET"), PUSHF/POPF, ENTER/LEAVE, XLAT.
 */
#include "exec_internal.h"

/* A 64-bit linear address is canonical if bits 63:47 are all equal (SDM 3.3.7.1). */
static bool is_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/*
 * Near branches in 64-bit mode have a 64-bit operand size (Intel ignores 0x66, SDM JMP/CALL/RET
 * "64-bit mode" notes) and raise #GP(0) for a non-canonical target before anything changes.
 */
static int branch_to(struct x86_exec *x, uint64_t target)
{
	if (!is_canonical(target))
		return X86_EXC_GP;
	x->next_rip = target;
	return 0;
}

static uint64_t rel_target(const struct x86_exec *x)
{
	return x->next_rip + (uint64_t)x86_insn_simm(x->in);
}

static int exec_jmp(struct x86_exec *x)
{
	uint64_t target;
	int rc;

	if (!x->in->has_modrm)
		return branch_to(x, rel_target(x));
	rc = x86_rm_read(x, 8, &target);
	return rc ? rc : branch_to(x, target);
}

/* CALL: the target is read (FF /2 may read through RSP) before the return address is pushed. */
static int exec_call(struct x86_exec *x)
{
	uint64_t target, ret = x->next_rip;
	int rc;

	if (!x->in->has_modrm) {
		target = rel_target(x);
	} else {
		rc = x86_rm_read(x, 8, &target);
		if (rc)
			return rc;
	}
	if (!is_canonical(target))
		return X86_EXC_GP;
	rc = x86_push(x, 8, ret);
	if (rc)
		return rc;
	x->next_rip = target;
	return 0;
}

/* RET / RET imm16: pop RIP, then release imm16 more bytes (SDM "RET"). */
static int exec_ret(struct x86_exec *x)
{
	uint64_t rsp = x->cpu->gpr[X86_RSP], target;
	int rc = x86_mem_read(x, rsp, 8, &target);

	if (rc)
		return rc;
	if (!is_canonical(target))
		return X86_EXC_GP;
	x->cpu->gpr[X86_RSP] = rsp + 8 + (x->in->imm_size ? (x->in->imm & 0xffff) : 0);
	x->next_rip = target;
	return 0;
}

/*
 * LOOP/LOOPE/LOOPNE decrement RCX (ECX with 0x67) without touching the flags, then branch if
 * the count is not zero (and ZF is 1 / 0). JRCXZ/JECXZ test the count without changing it.
 */
static int exec_loop(struct x86_exec *x)
{
	unsigned asize = x->in->addrsize;
	uint64_t count = x86_reg_get(x, X86_RCX, asize);
	bool zf = (x->cpu->rflags & X86_FLAG_ZF) != 0, taken;

	if (x->in->op == X86_OP_JCXZ)
		return count == 0 ? branch_to(x, rel_target(x)) : 0;
	count = (count - 1) & x86_size_mask(asize);
	taken = count != 0;
	if (x->in->op == X86_OP_LOOPE)
		taken = taken && zf;
	else if (x->in->op == X86_OP_LOOPNE)
		taken = taken && !zf;
	if (taken && !is_canonical(rel_target(x)))
		return X86_EXC_GP;
	x86_reg_set(x, X86_RCX, asize, count);
	if (taken)
		x->next_rip = rel_target(x);
	return 0;
}

/* PUSHF: RFLAGS with VM and RF cleared (SDM "PUSHF/PUSHFD/PUSHFQ"); 0x66 pushes FLAGS. */
#define X86_FLAG_RF (1ull << 16)
#define X86_FLAG_VM (1ull << 17)
#define X86_FLAG_AC (1ull << 18)
#define X86_FLAG_ID (1ull << 21)
#define X86_FLAG_NT (1ull << 14)
#define X86_FLAG_IOPL (3ull << 12)

static int exec_pushf(struct x86_exec *x)
{
	uint64_t v = x->cpu->rflags & ~(X86_FLAG_VM | X86_FLAG_RF);

	return x86_push(x, x->in->opsize, v & x86_size_mask(x->in->opsize));
}

/*
 * POPF (SDM "POPF/POPFD/POPFQ", protected mode with VM=0): CPL is CS.RPL. CPL 0 may change
 * IOPL and IF; CPL <= IOPL may change IF but not IOPL; otherwise neither changes (no fault).
 * VIP, VIF, VM never change; RF is cleared; reserved bits keep their fixed values.
 */
static int exec_popf(struct x86_exec *x)
{
	unsigned size = x->in->opsize, cpl = x->cpu->seg[X86_SEG_CS].selector & 3;
	uint64_t rsp = x->cpu->gpr[X86_RSP], v, mask, iopl;
	int rc = x86_mem_read(x, rsp, size, &v);

	if (rc)
		return rc;
	iopl = (x->cpu->rflags & X86_FLAG_IOPL) >> 12;
	mask = X86_FLAGS_ARITH | X86_FLAG_TF | X86_FLAG_DF | X86_FLAG_NT | X86_FLAG_AC | X86_FLAG_ID;
	if (cpl == 0)
		mask |= X86_FLAG_IOPL | X86_FLAG_IF;
	else if (cpl <= iopl)
		mask |= X86_FLAG_IF;
	mask &= x86_size_mask(size);
	x->cpu->rflags = (x->cpu->rflags & ~mask & ~X86_FLAG_RF) | (v & mask) | X86_FLAG_FIXED1;
	x->cpu->gpr[X86_RSP] = rsp + size;
	return 0;
}

/*
 * ENTER imm16, imm8 (SDM "ENTER", 64-bit stack): push RBP, copy level-1 frame pointers from
 * the old frame, push the new frame pointer, RBP = frame, RSP -= imm16. The level is taken
 * modulo 32, so the copy loop is bounded.
 */
static int exec_enter(struct x86_exec *x)
{
	unsigned size = x->in->opsize, level = (unsigned)(x->in->imm2 & 31);
	struct x86_cpu *cpu = x->cpu;
	uint64_t bp = cpu->gpr[X86_RBP], frame, v;
	int rc = x86_push(x, size, bp & x86_size_mask(size));

	if (rc)
		return rc;
	frame = cpu->gpr[X86_RSP];
	if (level > 0) {
		for (unsigned i = 1; i < level; i++) {
			bp -= size;
			rc = x86_mem_read(x, bp, size, &v);
			if (rc == 0)
				rc = x86_push(x, size, v);
			if (rc)
				return rc;
		}
		rc = x86_push(x, size, frame & x86_size_mask(size));
		if (rc)
			return rc;
	}
	x86_reg_set(x, X86_RBP, size, frame);
	cpu->gpr[X86_RSP] -= x->in->imm & 0xffff;
	return 0;
}

/* LEAVE: RSP = RBP, then pop RBP (BP with 0x66) (SDM "LEAVE"). */
static int exec_leave(struct x86_exec *x)
{
	unsigned size = x->in->opsize;
	uint64_t rsp = x->cpu->gpr[X86_RBP], v;
	int rc = x86_mem_read(x, rsp, size, &v);

	if (rc)
		return rc;
	x->cpu->gpr[X86_RSP] = rsp + size;
	x86_reg_set(x, X86_RBP, size, v);
	return 0;
}

/* XLAT: AL = [seg:RBX + AL] (EBX + AL with 0x67), DS by default (SDM "XLAT/XLATB"). */
static int exec_xlat(struct x86_exec *x)
{
	uint64_t a = (x->cpu->gpr[X86_RBX] + (x->cpu->gpr[X86_RAX] & 0xff)), v;
	int rc;

	a &= x86_size_mask(x->in->addrsize);
	if (x->in->seg == X86_SEG_FS || x->in->seg == X86_SEG_GS)
		a += x->cpu->seg[x->in->seg].base;
	rc = x86_mem_read(x, a, 1, &v);
	if (rc)
		return rc;
	x->cpu->gpr[X86_RAX] = (x->cpu->gpr[X86_RAX] & ~0xffull) | v;
	return 0;
}

int x86_exec_flow(struct x86_exec *x)
{
	switch (x->in->op) {
	case X86_OP_JMP:
		return exec_jmp(x);
	case X86_OP_JCC:
		if (!x86_cond(x->cpu->rflags, x->in->opreg))
			return 0;
		return branch_to(x, rel_target(x));
	case X86_OP_CALL:
		return exec_call(x);
	case X86_OP_RET:
		return exec_ret(x);
	case X86_OP_LOOP:
	case X86_OP_LOOPE:
	case X86_OP_LOOPNE:
	case X86_OP_JCXZ:
		return exec_loop(x);
	case X86_OP_PUSHF:
		return exec_pushf(x);
	case X86_OP_POPF:
		return exec_popf(x);
	case X86_OP_ENTER:
		return exec_enter(x);
	case X86_OP_LEAVE:
		return exec_leave(x);
	case X86_OP_XLAT:
		return exec_xlat(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
