/*
 * Short paths for the instructions 64-bit code runs most: register and load forms of MOV and
 * of the arithmetic (ADD, SUB, AND, OR, XOR, CMP, TEST), MOV r, imm, LEA, PUSH/POP r, Jcc,
 * JMP/CALL rel and RET. Each computes exactly what the general unit computes (the same flag
 * helpers, the same memory accessors), but without the general path's operand-form choices and
 * register snapshot: an instruction here either faults before it changes anything or cannot
 * fault. What does not fit (prefixes, byte and word sizes, non-canonical targets) is declined
 * and runs the general way, so the choice never changes behaviour.
 *
 * x86_fast_select picks the path once per decoded instruction (x86_execute_hinted keeps the
 * choice beside a cached instruction); x86_fast_exec runs it.
 */
#include "exec_internal.h"

enum fast_kind {
	FAST_NONE,
	FAST_ALU_RR,   /* op r/m, r or op r, r/m with mod = 3 */
	FAST_ALU_LOAD, /* op r, [m]; CMP [m], r; TEST [m], r: memory read only */
	FAST_ALU_RI,   /* 81 / 83 with mod = 3 */
	FAST_MOV_RR,
	FAST_MOV_LOAD,
	FAST_MOV_STORE,
	FAST_MOV_RI, /* B8+r */
	FAST_LEA,
	FAST_PUSH_R,
	FAST_POP_R,
	FAST_JCC,
	FAST_JMP_REL,
	FAST_CALL_REL,
	FAST_RET,
};

static bool alu_op(unsigned op)
{
	switch (op) {
	case X86_OP_ADD:
	case X86_OP_SUB:
	case X86_OP_AND:
	case X86_OP_OR:
	case X86_OP_XOR:
	case X86_OP_CMP:
	case X86_OP_TEST:
		return true;
	default:
		return false;
	}
}

/* The one-byte ALU opcodes of the word forms: 01/03 09/0B 21/23 29/2B 31/33 39/3B, 85. */
static bool alu_word_opcode(unsigned opcode)
{
	return (opcode < 0x40 && (opcode & 7) <= 3 && (opcode & 1)) || opcode == 0x85;
}

/* Reads memory only: op r, r/m (bit 1 set), or CMP/TEST with memory as the destination. */
static bool alu_reads_only_memory(const struct x86_insn *in)
{
	return (in->opcode & 2) || in->op == X86_OP_CMP || in->op == X86_OP_TEST;
}

static enum fast_kind select_1b(const struct x86_insn *in)
{
	unsigned op = in->op, opc = in->opcode;
	bool reg = in->has_modrm && in->mod == 3;

	if (alu_word_opcode(opc) && alu_op(op))
		return reg ? FAST_ALU_RR : alu_reads_only_memory(in) ? FAST_ALU_LOAD : FAST_NONE;
	if ((opc == 0x81 || opc == 0x83) && reg && alu_op(op))
		return FAST_ALU_RI;
	if (opc == 0x89 || opc == 0x8b)
		return reg ? FAST_MOV_RR : opc == 0x8b ? FAST_MOV_LOAD : FAST_MOV_STORE;
	if (opc >= 0xb8 && opc <= 0xbf)
		return FAST_MOV_RI;
	if (opc == 0x8d && !reg && in->addrsize == 8)
		return FAST_LEA;
	if (opc >= 0x50 && opc <= 0x57)
		return FAST_PUSH_R;
	if (opc >= 0x58 && opc <= 0x5f && in->opreg != X86_RSP)
		return FAST_POP_R;
	if (opc >= 0x70 && opc <= 0x7f)
		return FAST_JCC;
	if (opc == 0xe9 || opc == 0xeb)
		return FAST_JMP_REL;
	if (opc == 0xe8)
		return FAST_CALL_REL;
	if (opc == 0xc3)
		return FAST_RET;
	return FAST_NONE;
}

unsigned x86_fast_select(const struct x86_insn *in)
{
	/* 64-bit code without legacy prefixes, word sizes only (no high-byte registers). */
	if (in->mode != X86_MODE_LONG64 || in->prefixes || (in->opsize != 4 && in->opsize != 8))
		return FAST_NONE;
	if (in->map == X86_MAP_0F)
		return in->opcode >= 0x80 && in->opcode <= 0x8f ? FAST_JCC : FAST_NONE;
	if (in->map != X86_MAP_1B)
		return FAST_NONE;
	return select_1b(in);
}

static uint64_t reg_read(const struct x86_cpu *cpu, unsigned reg, unsigned size)
{
	return size == 8 ? cpu->gpr[reg] : (uint32_t)cpu->gpr[reg];
}

/* 32-bit results zero-extend into the 64-bit register (SDM vol. 1 3.4.1.1). */
static void reg_write(struct x86_cpu *cpu, unsigned reg, unsigned size, uint64_t val)
{
	cpu->gpr[reg] = size == 8 ? val : (uint32_t)val;
}

/* dst OP src with its flags; true if the result is written back (not CMP / TEST). */
static bool alu(struct x86_cpu *cpu, unsigned op, uint64_t a, uint64_t b, unsigned size,
		uint64_t *res)
{
	uint64_t flags, mask = x86_size_mask(size);

	b &= mask;
	switch (op) {
	case X86_OP_ADD:
		flags = x86_flags_add(a, b, 0, size, res);
		break;
	case X86_OP_SUB:
	case X86_OP_CMP:
		flags = x86_flags_sub(a, b, 0, size, res);
		break;
	case X86_OP_OR:
		*res = a | b;
		flags = x86_flags_logic(*res, size);
		break;
	case X86_OP_XOR:
		*res = a ^ b;
		flags = x86_flags_logic(*res, size);
		break;
	default: /* AND, TEST */
		*res = a & b;
		flags = x86_flags_logic(*res, size);
		break;
	}
	x86_flags_update(cpu, X86_FLAGS_ARITH, flags);
	return op != X86_OP_CMP && op != X86_OP_TEST;
}

static void exec_alu_rr(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize, dst = (in->opcode & 2) ? in->reg : in->rm;
	unsigned src = (in->opcode & 2) ? in->rm : in->reg;
	uint64_t res;

	if (alu(cpu, in->op, reg_read(cpu, dst, size), reg_read(cpu, src, size), size, &res))
		reg_write(cpu, dst, size, res);
}

static int exec_alu_load(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize;
	uint64_t m, res;
	int rc = x86_rm_read(x, size, &m);

	if (rc)
		return rc;
	if (in->opcode & 2) { /* op r, [m] */
		if (alu(x->cpu, in->op, reg_read(x->cpu, in->reg, size), m, size, &res))
			reg_write(x->cpu, in->reg, size, res);
		return 0;
	}
	alu(x->cpu, in->op, m, reg_read(x->cpu, in->reg, size), size, &res); /* CMP/TEST [m], r */
	return 0;
}

static void exec_alu_ri(struct x86_cpu *cpu, const struct x86_insn *in)
{
	unsigned size = in->opsize;
	uint64_t res;

	if (alu(cpu, in->op, reg_read(cpu, in->rm, size), (uint64_t)x86_insn_simm(in), size, &res))
		reg_write(cpu, in->rm, size, res);
}

static int exec_mov_mem(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	uint64_t v;
	int rc;

	if (in->opcode == 0x89)
		return x86_rm_write(x, in->opsize, reg_read(x->cpu, in->reg, in->opsize));
	rc = x86_rm_read(x, in->opsize, &v);
	if (rc == 0)
		reg_write(x->cpu, in->reg, in->opsize, v);
	return rc;
}

/* The near-branch kinds: the target, checked canonical before anything changes. */
static int exec_branch(struct x86_exec *x, enum fast_kind kind)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t target = x->next_rip + (uint64_t)x86_insn_simm(x->in), ret;
	int rc;

	switch (kind) {
	case FAST_JCC:
		if (!x86_cond(cpu->rflags, x->in->opcode & 0xf))
			return 0;
		/* fall through */
	case FAST_JMP_REL:
		if (!x86_is_canonical(target))
			return X86_EXEC_UNHANDLED;
		x->next_rip = target;
		return 0;
	case FAST_CALL_REL:
		if (!x86_is_canonical(target))
			return X86_EXEC_UNHANDLED;
		rc = x86_push(x, 8, x->next_rip);
		if (rc == 0)
			x->next_rip = target;
		return rc;
	default: /* FAST_RET: read, check, then commit RSP */
		rc = x86_seg_read(x, X86_SEG_SS, cpu->gpr[X86_RSP], 8, &ret);
		if (rc)
			return rc;
		if (!x86_is_canonical(ret))
			return X86_EXEC_UNHANDLED;
		cpu->gpr[X86_RSP] += 8;
		x->next_rip = ret;
		return 0;
	}
}

static int exec_kind(struct x86_exec *x, enum fast_kind kind)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	uint64_t v;
	int rc;

	switch (kind) {
	case FAST_ALU_RR:
		exec_alu_rr(cpu, in);
		return 0;
	case FAST_ALU_LOAD:
		return exec_alu_load(x);
	case FAST_ALU_RI:
		exec_alu_ri(cpu, in);
		return 0;
	case FAST_MOV_RR:
		v = reg_read(cpu, in->opcode == 0x89 ? in->reg : in->rm, in->opsize);
		reg_write(cpu, in->opcode == 0x89 ? in->rm : in->reg, in->opsize, v);
		return 0;
	case FAST_MOV_LOAD:
	case FAST_MOV_STORE:
		return exec_mov_mem(x);
	case FAST_MOV_RI:
		reg_write(cpu, in->opreg, in->opsize, in->imm);
		return 0;
	case FAST_LEA:
		reg_write(cpu, in->reg, in->opsize, x86_ea_offset(x));
		return 0;
	case FAST_PUSH_R: /* the value before the push: PUSH RSP pushes the old RSP */
		return x86_push(x, 8, cpu->gpr[in->opreg]);
	case FAST_POP_R:
		rc = x86_pop(x, 8, &v);
		if (rc == 0)
			cpu->gpr[in->opreg] = v;
		return rc;
	default:
		return exec_branch(x, kind);
	}
}

int x86_fast_exec(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		  const struct x86_insn *in, unsigned kind)
{
	struct x86_exec x = { .cpu = cpu, .mem = mem, .opaque = opaque, .in = in,
			      .next_rip = cpu->rip + in->len };
	int rc;

	if (cpu->mode != X86_MODE_LONG64)
		return X86_EXEC_UNHANDLED;
	rc = exec_kind(&x, (enum fast_kind)kind);
	if (rc == 0) {
		cpu->intr_shadow = false; /* an STI or MOV SS shadow covers one instruction */
		cpu->rip = x.next_rip;
	}
	return rc;
}
