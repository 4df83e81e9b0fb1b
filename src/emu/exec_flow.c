/*
 * Near control transfers and the stack-frame/flags instructions in every mode: JMP, Jcc, CALL,
 * RET, LOOP/LOOPE/LOOPNE, JRCXZ/JECXZ (Intel SDM vol. 2 instruction pages; vol. 1 6.3 "Calling
 * procedures using CALL and RET"), PUSHF/POPF, ENTER/LEAVE, XLAT.
 */
#include "exec_internal.h"

/* A 64-bit linear address is canonical if bits 63:47 are all equal (SDM 3.3.7.1). */
static bool is_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int gp0(struct x86_exec *x)
{
	x->cpu->fault_error_code = 0;
	return X86_EXC_GP;
}

/*
 * The checked target of a near branch (SDM JMP/Jcc/CALL/RET "Operation"). In 64-bit mode the
 * operand size is 64 (Intel ignores 0x66) and a non-canonical target is #GP(0). Elsewhere the
 * target is truncated to the operand size (IP & 0xffff with 16 bits) and must lie within the
 * CS limit (#GP(0)). Checked before anything changes.
 */
static int near_target(struct x86_exec *x, uint64_t target, uint64_t *out)
{
	const struct x86_cpu *cpu = x->cpu;

	if (cpu->mode == X86_MODE_LONG64) {
		if (!is_canonical(target))
			return gp0(x);
	} else {
		target &= x->in->opsize == 2 ? 0xffffull : 0xffffffffull;
		if (target > cpu->seg[X86_SEG_CS].limit)
			return gp0(x);
	}
	*out = target;
	return 0;
}

static int branch_to(struct x86_exec *x, uint64_t target)
{
	return near_target(x, target, &x->next_rip);
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
	rc = x86_rm_read(x, x->in->opsize, &target);
	return rc ? rc : branch_to(x, target);
}

/* CALL: the target is read (FF /2 may read through rSP) and checked before the return address
 * is pushed with the operand size. */
static int exec_call(struct x86_exec *x)
{
	unsigned size = x->in->opsize;
	uint64_t target, ret = x->next_rip;
	int rc;

	if (!x->in->has_modrm) {
		target = rel_target(x);
	} else {
		rc = x86_rm_read(x, size, &target);
		if (rc)
			return rc;
	}
	rc = near_target(x, target, &target);
	if (rc == 0)
		rc = x86_push(x, size, ret);
	if (rc)
		return rc;
	x->next_rip = target;
	return 0;
}

/* RET / RET imm16: pop rIP (operand size), then release imm16 more bytes (SDM "RET"). */
static int exec_ret(struct x86_exec *x)
{
	uint64_t target;
	int rc = x86_pop(x, x->in->opsize, &target);

	if (rc == 0)
		rc = near_target(x, target, &target);
	if (rc)
		return rc;
	if (x->in->imm_size)
		x86_sp_add(x, x->in->imm & 0xffff);
	x->next_rip = target;
	return 0;
}

/*
 * LOOP/LOOPE/LOOPNE decrement the count register (CX/ECX/RCX by the address size) without
 * touching the flags, then branch if the count is not zero (and ZF is 1 / 0). JCXZ/JECXZ/JRCXZ
 * test the count without changing it.
 */
static int exec_loop(struct x86_exec *x)
{
	unsigned asize = x->in->addrsize;
	uint64_t count = x86_reg_get(x, X86_RCX, asize), target;
	bool zf = (x->cpu->rflags & X86_FLAG_ZF) != 0, taken;
	int rc;

	if (x->in->op == X86_OP_JCXZ)
		return count == 0 ? branch_to(x, rel_target(x)) : 0;
	count = (count - 1) & x86_size_mask(asize);
	taken = count != 0;
	if (x->in->op == X86_OP_LOOPE)
		taken = taken && zf;
	else if (x->in->op == X86_OP_LOOPNE)
		taken = taken && !zf;
	if (taken && (rc = near_target(x, rel_target(x), &target)))
		return rc;
	x86_reg_set(x, X86_RCX, asize, count);
	if (taken)
		x->next_rip = target;
	return 0;
}

static unsigned iopl(const struct x86_cpu *cpu)
{
	return (unsigned)((cpu->rflags & X86_FLAG_IOPL) >> 12);
}

/*
 * PUSHF/PUSHFD/PUSHFQ: the flags with VM and RF cleared, operand-sized. In virtual-8086 mode
 * with IOPL < 3 (CR4.VME is not advertised) it is #GP(0) (SDM "PUSHF").
 */
static int exec_pushf(struct x86_exec *x)
{
	uint64_t v = x->cpu->rflags & ~(X86_FLAG_VM | X86_FLAG_RF);

	if ((x->cpu->rflags & X86_FLAG_VM) && iopl(x->cpu) < 3)
		return gp0(x);
	return x86_push(x, x->in->opsize, v & x86_size_mask(x->in->opsize));
}

/*
 * POPF/POPFD/POPFQ (SDM "POPF" operation). Real mode and CPL 0: every flag but VIP, VIF, VM;
 * CPL <= IOPL: all but IOPL; CPL > IOPL: all but IOPL and IF (no fault). Virtual-8086 mode:
 * IOPL 3 pops all but IOPL, IOPL < 3 is #GP(0) (no CR4.VME). A 16-bit pop only reaches bits
 * 15:0; a 32/64-bit one clears RF. Reserved bits keep their fixed values.
 */
static int exec_popf(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned size = x->in->opsize;
	bool real = !(cpu->cr0 & X86_CR0_PE), v86 = !real && (cpu->rflags & X86_FLAG_VM);
	uint64_t v, mask;
	int rc;

	if (v86 && iopl(cpu) < 3)
		return gp0(x);
	rc = x86_pop(x, size, &v);
	if (rc)
		return rc;
	mask = X86_FLAGS_ARITH | X86_FLAG_TF | X86_FLAG_DF | X86_FLAG_NT | X86_FLAG_AC | X86_FLAG_ID;
	if (real || (!v86 && cpu->cpl == 0))
		mask |= X86_FLAG_IOPL | X86_FLAG_IF;
	else if (v86 || cpu->cpl <= iopl(cpu))
		mask |= X86_FLAG_IF;
	mask &= x86_size_mask(size);
	if (size > 2)
		mask |= X86_FLAG_RF; /* taken out of v below: cleared */
	cpu->rflags = (cpu->rflags & ~mask) | (v & mask & ~X86_FLAG_RF) | X86_FLAG_FIXED1;
	return 0;
}

/*
 * ENTER imm16, imm8 (SDM "ENTER"): push rBP, copy level-1 frame pointers from the old frame
 * (read through SS at rBP - i * size, with the stack address size), push the frame pointer,
 * rBP = frame (operand size), rSP -= imm16 (stack address size). The level is taken modulo
 * 32, so the copy loop is bounded. All stack writes are checked before the first.
 */
static int exec_enter(struct x86_exec *x)
{
	unsigned size = x->in->opsize, level = (unsigned)(x->in->imm2 & 31);
	unsigned asize = x86_stack_asize(x->cpu);
	uint64_t amask = x86_size_mask(asize);
	struct x86_cpu *cpu = x->cpu;
	uint64_t bp = cpu->gpr[X86_RBP], sp = cpu->gpr[X86_RSP], frame, v, lin;
	unsigned pushes = 1 + level; /* rBP, level - 1 copies, the frame pointer */
	int rc;

	/* every slot of the pushed area is checked before the first write */
	for (unsigned i = 1; i <= pushes; i++) {
		rc = x86_seg_linear(x, X86_SEG_SS, (sp - i * size) & amask, size, X86_ACC_WRITE,
				    &lin);
		if (rc == 0)
			rc = x86_lin_probe_write(x, lin, size);
		if (rc)
			return rc;
	}
	rc = x86_push(x, size, bp & x86_size_mask(size));
	if (rc)
		return rc;
	frame = cpu->gpr[X86_RSP];
	if (level > 0) {
		for (unsigned i = 1; i < level; i++) {
			bp -= size;
			rc = x86_seg_read(x, X86_SEG_SS, bp & amask, size, &v);
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
	x86_sp_add(x, -(x->in->imm & 0xffff));
	return 0;
}

/* LEAVE: rSP = rBP (stack address size), then pop rBP (operand size) (SDM "LEAVE"). */
static int exec_leave(struct x86_exec *x)
{
	unsigned size = x->in->opsize;
	uint64_t v;
	int rc;

	x86_sp_add(x, x->cpu->gpr[X86_RBP] - x->cpu->gpr[X86_RSP]);
	rc = x86_pop(x, size, &v);
	if (rc)
		return rc;
	x86_reg_set(x, X86_RBP, size, v);
	return 0;
}

/* XLAT: AL = seg:[rBX + AL] with the address size, DS by default (SDM "XLAT/XLATB"). */
static int exec_xlat(struct x86_exec *x)
{
	uint64_t off = x->cpu->gpr[X86_RBX] + (x->cpu->gpr[X86_RAX] & 0xff), v;
	unsigned seg = x->in->seg != X86_SEG_NONE ? x->in->seg : X86_SEG_DS;
	int rc = x86_seg_read(x, seg, off & x86_size_mask(x->in->addrsize), 1, &v);

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
