/*
 * The emu CPU's x87 FPU (Intel SDM vol. 1 ch. 8, vol. 2 instruction pages; vol. 3A 2.5 for
 * CR0.EM/MP/TS/NE): dispatch, availability (#NM), pending unmasked exceptions (#MF), the
 * instruction and data pointers, and the control instructions. Every data and arithmetic
 * instruction runs on the host's x87 unit through x87_host_run (x87_arith.c), in the form
 * the guest used, so results, flags, C0-C3, tags and stack faults are the hardware's.
 *
 * An unmasked exception sets ES and B in the guest FSW (the host does it); the guest's next
 * waiting x87 instruction raises #MF (SDM 8.5, 8.7). The engine has no FERR#/IGNNE# lines, so
 * with CR0.NE = 0 the pending exception is reported as #MF too (as if NE were set): the
 * MS-DOS-compatible IRQ 13 path is not modelled.
 *
 * Fault first, commit last: the memory operand is read, the host computes into a copy of the
 * registers, a store is written to guest memory, and only then is the FPU state committed.
 */
#include <string.h>

#include "x87_internal.h"

/* Memory operand sizes of the D8-DF memory forms by [esc][reg]; 0: not a data operand. */
static const uint8_t x87_mem_size[8][8] = {
    {4, 4, 4, 4, 4, 4, 4, 4},	    /* D8: m32fp */
    {4, 0, 4, 4, 0, 0, 0, 0},	    /* D9: FLD/FST/FSTP m32fp (env and CW are control) */
    {4, 4, 4, 4, 4, 4, 4, 4},	    /* DA: m32int */
    {4, 0, 4, 4, 0, 10, 0, 10},	    /* DB: FILD/FIST/FISTP m32int, FLD/FSTP m80fp */
    {8, 8, 8, 8, 8, 8, 8, 8},	    /* DC: m64fp */
    {8, 0, 8, 8, 0, 0, 0, 0},	    /* DD: FLD/FST/FSTP m64fp */
    {2, 2, 2, 2, 2, 2, 2, 2},	    /* DE: m16int */
    {2, 0, 2, 2, 10, 8, 10, 8},	    /* DF: m16int, FBLD/FBSTP m80bcd, m64int */
};

/* The memory forms that store (FST, FSTP, FIST, FISTP, FBSTP): bit reg of [esc]. */
static const uint8_t x87_mem_store[8] = {0, 0x0c, 0, 0x8c, 0, 0x0c, 0, 0xcc};

/* Sentinels for seeing whether the host stored a result (an unmasked exception may stop it). */
#define STORE_SENTINEL_A 0xa5u
#define STORE_SENTINEL_B 0x5au

/*
 * An unmasked exception is pending: ES, which every load of FSW or FCW keeps equal to "a flag
 * is set whose mask is clear" (as the hardware does); both are tested so that a state set from
 * outside (migration, tests) can never make the host's FPU trap in x87_host_run.
 */
static bool x87_pending(const struct x86_fpu *f)
{
	return (f->fsw & X87_FSW_ES) || (f->fsw & ~f->fcw & X87_EXC_MASK);
}

int x87_fpu_check(struct x86_exec *x, bool waiting)
{
	struct x86_cpu *cpu = x->cpu;

	/* SDM vol. 3A table 2-2: EM or TS gives #NM for every x87 instruction. */
	if (cpu->cr0 & (X86_CR0_EM | X86_CR0_TS)) {
		cpu->fault_error_code = 0;
		return X86_EXC_NM;
	}
	/* SDM 8.6: a waiting instruction first reports a pending unmasked exception. */
	if (waiting && x87_pending(&cpu->fpu)) {
		cpu->fault_error_code = 0;
		return X86_EXC_MF;
	}
	return 0;
}

/* The segment of the memory operand: the override, else SS for RSP/RBP bases, else DS. */
static enum x86_seg data_segment(const struct x86_insn *in)
{
	if (in->seg != X86_SEG_NONE)
		return (enum x86_seg)in->seg;
	if (in->addrsize == 2) {
		unsigned rm = in->rm & 7;

		if (rm == 2 || rm == 3 || (rm == 6 && in->mod != 0))
			return X86_SEG_SS;
		return X86_SEG_DS;
	}
	if (in->rip_rel)
		return X86_SEG_DS;
	if (in->has_sib)
		return !in->no_base && ((in->base & 7) == X86_RSP || (in->base & 7) == X86_RBP)
			   ? X86_SEG_SS
			   : X86_SEG_DS;
	return (in->rm & 7) == X86_RBP ? X86_SEG_SS : X86_SEG_DS;
}

/* SDM 8.1.8: the last non-control instruction's address, opcode and memory operand. */
static void record_pointers(struct x86_exec *x, bool mem)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;

	cpu->fpu.fip = cpu->rip;
	cpu->fpu.fcs = cpu->seg[X86_SEG_CS].selector;
	cpu->fpu.fop = (uint16_t)(((in->opcode & 7u) << 8) | in->modrm);
	if (mem) {
		cpu->fpu.fdp = x86_ea_offset(x);
		cpu->fpu.fds = cpu->seg[data_segment(in)].selector;
	}
}

static void regs_from_cpu(struct x87_regs *r, const struct x86_fpu *f)
{
	r->fcw = f->fcw;
	r->fsw = f->fsw;
	r->ftw = f->ftw;
	memcpy(r->fpr, f->fpr, sizeof(r->fpr));
}

static void regs_to_cpu(struct x86_fpu *f, const struct x87_regs *r)
{
	f->fsw = r->fsw;
	f->ftw = r->ftw;
	memcpy(f->fpr, r->fpr, sizeof(r->fpr));
}

static bool is_fcomi(unsigned op)
{
	return op == X86_OP_FCOMI || op == X86_OP_FCOMIP || op == X86_OP_FUCOMI ||
	       op == X86_OP_FUCOMIP;
}

static bool all_bytes(const uint8_t *b, unsigned n, uint8_t v)
{
	for (unsigned i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/*
 * A store form on the host: runs it with the buffer filled with one sentinel and, if the
 * buffer still holds it, once more with another, so a result that happens to equal the
 * sentinel is told apart from "nothing stored" (an unmasked #I, #O, #U, ...).
 */
static uint64_t host_store(struct x87_regs *r, unsigned entry, uint8_t *buf, unsigned size,
			   uint64_t rflags, bool *stored)
{
	struct x87_regs again = *r;
	uint64_t fl;

	memset(buf, STORE_SENTINEL_A, size);
	fl = x87_host_run(r, entry, buf, rflags);
	*stored = true;
	if (!all_bytes(buf, size, STORE_SENTINEL_A))
		return fl;
	memset(buf, STORE_SENTINEL_B, size);
	fl = x87_host_run(&again, entry, buf, rflags);
	*r = again;
	if (all_bytes(buf, size, STORE_SENTINEL_B))
		*stored = false;
	else
		memset(buf, STORE_SENTINEL_A, size);
	return fl;
}

/* A data or arithmetic instruction: run on the host, then store and commit. */
static int exec_host(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	unsigned esc = in->opcode - 0xd8u, reg = in->reg & 7u, size = 0, entry;
	bool mem = in->mod != 3, store = false, stored = false;
	uint8_t buf[16];
	uint64_t linear = 0, fl;
	struct x87_regs r;
	int rc;

	if (mem) {
		size = x87_mem_size[esc][reg];
		if (!size) /* a control form that reached here: cannot happen with the decoder */
			return X86_EXEC_UNHANDLED;
		store = (x87_mem_store[esc] >> reg) & 1;
		linear = x86_ea(x);
		entry = X87_HOST_MEM(esc, reg);
		if (!store) {
			rc = x86_lin_read(x, linear, buf, size, X86_ACC_READ);
			if (rc)
				return rc;
		}
	} else {
		entry = X87_HOST_REG(esc, in->modrm);
	}
	regs_from_cpu(&r, &cpu->fpu);
	if (store)
		fl = host_store(&r, entry, buf, size, cpu->rflags, &stored);
	else
		fl = x87_host_run(&r, entry, buf, cpu->rflags);
	if (stored) {
		rc = x86_lin_write(x, linear, buf, size, X86_ACC_WRITE);
		if (rc)
			return rc;
	}
	regs_to_cpu(&cpu->fpu, &r);
	record_pointers(x, mem);
	if (is_fcomi(in->op))
		cpu->rflags = (cpu->rflags & ~X86_FLAGS_ARITH) | (fl & X86_FLAGS_ARITH);
	return 0;
}

/* FNSTSW AX / m16, FNSTCW m16. */
static int store_word(struct x86_exec *x, uint16_t v)
{
	if (x->in->mod == 3) {
		x86_reg_set(x, X86_RAX, 2, v);
		return 0;
	}
	return x86_mem_write(x, x86_ea(x), 2, v);
}

/* FLDCW: bits 6 and 13-15 are reserved; 6 reads as 1 (SDM 8.1.5). */
static int exec_fldcw(struct x86_exec *x)
{
	struct x86_fpu *f = &x->cpu->fpu;
	uint64_t v;
	int rc = x86_mem_read(x, x86_ea(x), 2, &v);

	if (rc)
		return rc;
	f->fcw = (uint16_t)((v & X87_FCW_VALID) | X87_FCW_FIXED1);
	f->fsw = x87_fsw_summary(f->fsw, f->fcw);
	return 0;
}

/* FNINIT (SDM vol. 2 FINIT): default control word, everything else cleared, all empty. */
void x87_fninit(struct x86_fpu *f)
{
	f->fcw = 0x037f;
	f->fsw = 0;
	f->ftw = 0;
	f->fop = 0;
	f->fip = f->fdp = 0;
	f->fcs = f->fds = 0;
}

/* FWAIT: #NM only with MP and TS both set (SDM vol. 3A table 2-2); reports pending #MF. */
static int exec_fwait(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;

	if ((cpu->cr0 & (X86_CR0_MP | X86_CR0_TS)) == (X86_CR0_MP | X86_CR0_TS)) {
		cpu->fault_error_code = 0;
		return X86_EXC_NM;
	}
	if (x87_pending(&cpu->fpu)) {
		cpu->fault_error_code = 0;
		return X86_EXC_MF;
	}
	return 0;
}

static bool is_x87_op(unsigned op)
{
	return op >= X86_OP_FADD && op <= X86_OP_FCOMIP;
}

/* DB E0, E1, E4 (FNENI, FNDISI, FNSETPM): no-wait no-ops on the 387 and later. */
static bool is_legacy_nop(const struct x86_insn *in)
{
	return in->op == X86_OP_FNOP && in->opcode == 0xdb;
}

int x86_exec_x87(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	struct x86_fpu *f = &x->cpu->fpu;
	unsigned op = in->op;
	int rc;

	if (op == X86_OP_FWAIT)
		return exec_fwait(x);
	if (op >= X86_OP_FXSAVE && op <= X86_OP_STMXCSR)
		return x86_exec_fxsr(x);
	if (!is_x87_op(op))
		return X86_EXEC_UNHANDLED;
	switch (op) {
	case X86_OP_FNINIT:
	case X86_OP_FNCLEX:
	case X86_OP_FNSTSW:
	case X86_OP_FNSTCW:
	case X86_OP_FNSTENV:
	case X86_OP_FNSAVE:
		rc = x87_fpu_check(x, false);
		break;
	case X86_OP_FNOP:
		rc = x87_fpu_check(x, !is_legacy_nop(in));
		break;
	default:
		rc = x87_fpu_check(x, true);
		break;
	}
	if (rc)
		return rc;
	switch (op) {
	case X86_OP_FNINIT:
		x87_fninit(f);
		return 0;
	case X86_OP_FNCLEX:
		f->fsw &= (uint16_t) ~(X87_EXC_MASK | X87_FSW_SF | X87_FSW_ES | X87_FSW_B);
		return 0;
	case X86_OP_FNSTSW:
		return store_word(x, f->fsw);
	case X86_OP_FNSTCW:
		return store_word(x, f->fcw);
	case X86_OP_FLDCW:
		return exec_fldcw(x);
	case X86_OP_FNSTENV:
	case X86_OP_FLDENV:
	case X86_OP_FNSAVE:
	case X86_OP_FRSTOR:
		return x86_exec_fxsr(x);
	case X86_OP_FNOP:
		if (is_legacy_nop(in))
			return 0;
		break;
	default:
		break;
	}
	return exec_host(x);
}
