/*
 * The translator of the emu engine's translation cache (see jit.h): one block of 64-bit guest
 * code to host code.
 *
 * Register use in translated code: RBX = struct x86_cpu, R12 = struct jit_ctx (callee-saved,
 * set by the prologue in jit.c). Guest registers live in cpu->gpr[]; for each instruction its
 * register operands are loaded into host RDX (the ModRM.reg operand) and RAX (a register r/m
 * operand, the accumulator or +r register), a memory operand's host address into RSI, the count
 * of a shift by CL into RCX, and the guest's opcode is emitted on those. RDI and RCX are the
 * scratch of address translation and flag handling.
 *
 * Arithmetic flags: after an instruction that sets them, the ones a later instruction may read
 * (a backward liveness pass over the block; all are live at its end) are merged from the host's
 * RFLAGS into cpu->rflags. Instructions that read flags take them from cpu->rflags: Jcc, SETcc
 * and CMOVcc through a TEST that turns the guest condition into host ZF, ADC and SBB through a
 * BT of CF. The host's RFLAGS is never loaded from the guest's (no POPF: TF, AC and DF are the
 * guest's business, not the translated code's).
 */
#include <stddef.h>

#include "hostvisor/x86_decode.h"
#include "hostvisor/x86_mmu.h"
#include "exec_internal.h"
#include "jit.h"
#include "jit_internal.h"

#define PAGE_SIZE 4096u

#define CPU_GPR(n) ((int32_t)(offsetof(struct x86_cpu, gpr) + 8 * (unsigned)(n)))
#define CPU_RIP ((int32_t)offsetof(struct x86_cpu, rip))
#define CPU_RFLAGS ((int32_t)offsetof(struct x86_cpu, rflags))
#define CPU_SEG_BASE(s)                                                                            \
	((int32_t)(offsetof(struct x86_cpu, seg) + (s) * sizeof(struct x86_segment) +              \
		   offsetof(struct x86_segment, base)))
#define CTX_COUNT ((int32_t)offsetof(struct jit_ctx, count))
#define CTX_LINK ((int32_t)offsetof(struct jit_ctx, link))
#define CTX_BUDGET ((int32_t)offsetof(struct jit_ctx, budget))
#define CPU_TLB_FLUSHES ((int32_t)offsetof(struct x86_cpu, tlb.flushes))

#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u
#define FL_OF 0x800u
#define FL_ALL 0x8d5u

/* How an instruction is translated. */
enum jit_kind {
	JK_NONE,     /* not translated: the block ends before it */
	JK_NATIVE,   /* the guest's opcode on host registers (see the file comment) */
	JK_NOP,      /* NOP, multi-byte NOP, PAUSE (which also ends the block) */
	JK_LEA,
	JK_PUSH,     /* register or immediate */
	JK_POP,
	JK_LEAVE,
	JK_FLAG_OP,  /* CLC STC CMC CLD STD */
	JK_JCC, /* from here on: branches, which end the block with their own exits */
	JK_JMP,
	JK_CALL,
	JK_RET,
	JK_JMP_IND,
	JK_CALL_IND,
};

/* Operand forms of JK_NATIVE. */
enum jit_form {
	JF_MODRM, /* opcode, ModRM (reg: RDX or the digit; r/m: RAX or [RSI]), immediate */
	JF_OPREG, /* opcode | register (RAX), immediate: MOV r, imm and BSWAP */
	JF_ACC,   /* opcode with implied RAX (and RDX: CBW, CWD), immediate */
};

#define MEM_R 1u
#define MEM_W 2u

struct jit_insn {
	struct x86_insn in;
	uint64_t rip, next;
	uint8_t kind, form;
	bool read_reg, write_reg; /* the ModRM.reg register operand */
	bool write_rm;		  /* the r/m register operand (RAX side) */
	bool reg_dest_only, rm_dest_only; /* written without being read (MOV, MOVZX, ...) */
	bool rdx_implied;	  /* CWD/CQO, one-operand MUL/IMUL: RDX is an operand too */
	bool rm_in_rcx;		  /* one-operand MUL/IMUL: a register r/m goes to RCX (RAX is taken) */
	bool count_in_cl;	  /* shift or SHLD/SHRD by CL */
	bool carry_in;		  /* ADC/SBB: host CF from the guest's first */
	bool cond;		  /* SETcc/CMOVcc/Jcc: the condition evaluated into host ZF */
	bool ends;		  /* the block ends after it */
	uint8_t mem;		  /* MEM_R | MEM_W for a memory operand */
	uint8_t msize;		  /* its size in bytes */
	uint16_t fl_read, fl_write, fl_spill, live_out;
	uint8_t count_mask;	  /* shifts by CL: the count mask (0x1f or 0x3f) */
};

/* ---- classification ---- */

/* Flags a condition code reads (SDM vol. 1 table B-1). */
static uint16_t cond_flags(unsigned cc)
{
	static const uint16_t by_pair[8] = {
		FL_OF, FL_CF, FL_ZF, FL_CF | FL_ZF, FL_SF, FL_PF, FL_SF | FL_OF,
		FL_SF | FL_OF | FL_ZF,
	};

	return by_pair[(cc >> 1) & 7];
}

static unsigned digit_of(const struct x86_insn *in)
{
	return (in->modrm >> 3) & 7;
}

/* The ALU group: ADD OR ADC SBB AND SUB XOR CMP, in either ModRM direction or with imm. */
static bool classify_alu(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;
	bool is_cmp = in->op == X86_OP_CMP;

	j->fl_write = j->fl_spill = FL_ALL;
	j->carry_in = in->op == X86_OP_ADC || in->op == X86_OP_SBB;
	if (j->carry_in)
		j->fl_read = FL_CF;
	if (in->map != X86_MAP_1B)
		return false;
	if (in->opcode < 0x40 && (in->opcode & 7) >= 4) { /* AL/eAX, imm */
		j->form = JF_ACC;
		j->write_rm = !is_cmp;
		return true;
	}
	if (in->opcode < 0x40) { /* bit 1: the register is the destination */
		j->read_reg = true;
		j->write_reg = !is_cmp && (in->opcode & 2);
		j->write_rm = !is_cmp && !(in->opcode & 2);
		j->mem = in->opcode & 2 ? MEM_R : is_cmp ? MEM_R : MEM_R | MEM_W;
		return true;
	}
	/* 80 81 83: r/m, imm (82 is #UD in 64-bit mode) */
	j->write_rm = !is_cmp;
	j->mem = is_cmp ? MEM_R : MEM_R | MEM_W;
	return true;
}

/* Shifts and rotates by 1, an immediate or CL; SHLD/SHRD. RCL/RCR are not translated. */
static bool classify_shift(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;
	uint8_t mask = in->opsize == 8 ? 0x3f : 0x1f;
	bool rotate = in->op == X86_OP_ROL || in->op == X86_OP_ROR;
	bool by_cl = (in->map == X86_MAP_1B && (in->opcode == 0xd2 || in->opcode == 0xd3)) ||
		     (in->map == X86_MAP_0F && (in->opcode == 0xa5 || in->opcode == 0xad));
	unsigned count;

	j->write_rm = true;
	j->mem = MEM_R | MEM_W;
	if (in->op == X86_OP_SHLD || in->op == X86_OP_SHRD)
		j->read_reg = true;
	j->fl_spill = rotate ? FL_CF | FL_OF : FL_ALL;
	if (by_cl) {
		/* a count of 0 changes nothing: the earlier flags stay live (fl_write 0) */
		j->count_in_cl = true;
		j->count_mask = mask;
		return true;
	}
	count = in->map == X86_MAP_1B && (in->opcode == 0xd0 || in->opcode == 0xd1) ? 1 :
										 (unsigned)in->imm;
	if (!(count & mask))
		j->fl_spill = 0;
	j->fl_write = j->fl_spill;
	return true;
}

/* Group 3 (F6/F7): TEST imm, NOT, NEG, MUL, IMUL; DIV/IDIV are left to the interpreter (#DE). */
static bool classify_group3(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;

	switch (in->op) {
	case X86_OP_TEST:
		j->mem = MEM_R;
		j->fl_write = j->fl_spill = FL_ALL;
		return true;
	case X86_OP_NOT:
		j->write_rm = true;
		j->mem = MEM_R | MEM_W;
		return true;
	case X86_OP_NEG:
		j->write_rm = true;
		j->mem = MEM_R | MEM_W;
		j->fl_write = j->fl_spill = FL_ALL;
		return true;
	case X86_OP_MUL:
	case X86_OP_IMUL:
		j->rdx_implied = j->rm_in_rcx = true;
		j->mem = MEM_R;
		j->fl_write = j->fl_spill = FL_ALL;
		return true;
	default:
		return false;
	}
}

/* Instructions of the 0F map run natively. */
static bool classify_0f(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;

	switch (in->op) {
	case X86_OP_MOVZX:
	case X86_OP_MOVSX:
		j->read_reg = j->write_reg = j->reg_dest_only = true;
		j->mem = MEM_R;
		j->msize = in->opcode & 1 ? 2 : 1;
		return true;
	case X86_OP_IMUL: /* 0F AF */
		j->read_reg = j->write_reg = true;
		j->mem = MEM_R;
		j->fl_write = j->fl_spill = FL_ALL;
		return true;
	case X86_OP_CMOVCC:
		j->read_reg = j->write_reg = j->cond = true;
		j->mem = MEM_R;
		j->fl_read = cond_flags(in->opreg);
		return true;
	case X86_OP_SETCC:
		j->write_rm = j->cond = true;
		j->mem = MEM_W;
		j->msize = 1;
		j->fl_read = cond_flags(in->opreg);
		return true;
	case X86_OP_BSF:
	case X86_OP_BSR:
		j->read_reg = j->write_reg = true;
		j->mem = MEM_R;
		j->fl_write = j->fl_spill = FL_ALL;
		return true;
	case X86_OP_BT:
	case X86_OP_BTS:
	case X86_OP_BTR:
	case X86_OP_BTC:
		/* register forms only: with memory a register offset reaches outside the operand */
		if (in->mod != 3)
			return false;
		j->read_reg = in->opcode != 0xba;
		j->write_rm = in->op != X86_OP_BT;
		/* CF is the bit, ZF is left alone, OF SF AF PF are undefined */
		j->fl_write = j->fl_spill = FL_ALL & ~FL_ZF;
		return true;
	case X86_OP_SHLD:
	case X86_OP_SHRD:
		return classify_shift(j);
	case X86_OP_BSWAP:
		j->form = JF_OPREG;
		j->write_rm = true;
		return true;
	case X86_OP_NOP:
		j->kind = JK_NOP;
		return true;
	default:
		return false;
	}
}

static bool classify_flow(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;
	uint64_t target = j->next + (uint64_t)x86_insn_simm(in);

	j->ends = true;
	switch (in->op) {
	case X86_OP_JCC:
		j->kind = JK_JCC;
		j->fl_read = cond_flags(in->opreg);
		break;
	case X86_OP_JMP:
		j->kind = in->opcode == 0xff ? JK_JMP_IND : JK_JMP;
		break;
	case X86_OP_CALL:
		j->kind = in->opcode == 0xff ? JK_CALL_IND : JK_CALL;
		break;
	case X86_OP_RET:
		j->kind = JK_RET;
		return in->opsize == 8; /* REP RET is RET */
	default:
		return false;
	}
	if (in->opsize != 8)
		return false;
	if (j->kind == JK_JMP_IND || j->kind == JK_CALL_IND) {
		j->mem = MEM_R;
		return true;
	}
	/* a direct branch to a non-canonical address faults: left to the interpreter */
	return x86_is_canonical(target);
}

static bool classify_stack(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;

	if (in->opsize != 8)
		return false;
	switch (in->op) {
	case X86_OP_PUSH:
		j->kind = JK_PUSH;
		return in->opcode != 0xff || in->mod == 3;
	case X86_OP_POP:
		j->kind = JK_POP;
		return in->opcode != 0x8f;
	case X86_OP_LEAVE:
		j->kind = JK_LEAVE;
		return true;
	default:
		return false;
	}
}

static bool classify_misc(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;

	switch (in->op) {
	case X86_OP_MOV:
		j->rm_dest_only = true;
		if (in->opcode >= 0xb0 && in->opcode <= 0xbf) {
			j->form = JF_OPREG;
			j->write_rm = true;
			return true;
		}
		if (in->opcode == 0xc6 || in->opcode == 0xc7) {
			j->write_rm = true;
			j->mem = MEM_W;
			return true;
		}
		if (in->opcode < 0x88 || in->opcode > 0x8b)
			return false; /* moffs forms */
		j->read_reg = true;
		j->write_reg = j->reg_dest_only = in->opcode & 2;
		j->write_rm = !(in->opcode & 2);
		j->rm_dest_only = j->write_rm;
		j->mem = in->opcode & 2 ? MEM_R : MEM_W;
		return true;
	case X86_OP_TEST: /* 84 85 A8 A9 */
		j->fl_write = j->fl_spill = FL_ALL;
		if (in->opcode == 0xa8 || in->opcode == 0xa9) {
			j->form = JF_ACC;
			return true;
		}
		j->read_reg = true;
		j->mem = MEM_R;
		return true;
	case X86_OP_XCHG: /* register forms: with memory XCHG is locked */
		if (in->opcode >= 0x91 && in->opcode <= 0x97)
			return false;
		if (in->mod != 3)
			return false;
		/* both operands are stored: AH and AL would be two copies of RAX */
		if (in->opsize == 1 && !in->rex)
			return false;
		j->read_reg = j->write_reg = j->write_rm = true;
		return true;
	case X86_OP_MOVSXD:
		j->read_reg = j->write_reg = j->reg_dest_only = true;
		j->mem = MEM_R;
		j->msize = 4;
		return true;
	case X86_OP_IMUL: /* 69 6B */
		j->read_reg = j->write_reg = j->reg_dest_only = true;
		j->mem = MEM_R;
		j->fl_write = j->fl_spill = FL_ALL;
		return true;
	case X86_OP_INC:
	case X86_OP_DEC:
		j->write_rm = true;
		j->mem = MEM_R | MEM_W;
		j->fl_write = j->fl_spill = FL_ALL & ~FL_CF;
		return true;
	case X86_OP_CBW:
	case X86_OP_CWD:
		j->form = JF_ACC;
		j->write_rm = j->rdx_implied = true;
		return true;
	case X86_OP_LEA:
		j->kind = JK_LEA;
		return in->mod != 3;
	case X86_OP_NOP:
		j->kind = JK_NOP;
		return true;
	case X86_OP_PAUSE:
		j->kind = JK_NOP;
		j->ends = true; /* a spin loop: let the run loop look at its events */
		return true;
	case X86_OP_CLC:
	case X86_OP_STC:
	case X86_OP_CMC:
	case X86_OP_CLD:
	case X86_OP_STD:
		j->kind = JK_FLAG_OP;
		j->fl_read = in->op == X86_OP_CMC ? FL_CF : 0;
		j->fl_write = in->op == X86_OP_CLD || in->op == X86_OP_STD ? 0 : FL_CF;
		return true;
	default:
		return false;
	}
}

/* Decides how j->in is translated; false: it is not. */
static bool classify(struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;

	j->kind = JK_NATIVE;
	j->form = JF_MODRM;
	j->msize = in->opsize;
	if (in->prefixes & X86_PFX_LOCK)
		return false;
	if (in->has_modrm && in->mod != 3 && in->addrsize != 8 && in->addrsize != 4)
		return false;
	switch (in->op) {
	case X86_OP_ADD:
	case X86_OP_OR:
	case X86_OP_ADC:
	case X86_OP_SBB:
	case X86_OP_AND:
	case X86_OP_SUB:
	case X86_OP_XOR:
	case X86_OP_CMP:
		return classify_alu(j);
	case X86_OP_ROL:
	case X86_OP_ROR:
	case X86_OP_SHL:
	case X86_OP_SHR:
	case X86_OP_SAR:
		return in->map == X86_MAP_1B && classify_shift(j);
	case X86_OP_JCC:
	case X86_OP_JMP:
	case X86_OP_CALL:
	case X86_OP_RET:
		return classify_flow(j);
	case X86_OP_PUSH:
	case X86_OP_POP:
	case X86_OP_LEAVE:
		return classify_stack(j);
	default:
		break;
	}
	if (in->map == X86_MAP_0F)
		return classify_0f(j);
	if (in->map != X86_MAP_1B)
		return false;
	if (in->opcode == 0xf6 || in->opcode == 0xf7)
		return classify_group3(j);
	return classify_misc(j);
}

/* Backward liveness of the arithmetic flags; everything is live after the block. */
static void flags_liveness(struct jit_insn *j, unsigned n)
{
	uint16_t live = FL_ALL;

	for (unsigned i = n; i-- > 0;) {
		j[i].live_out = live;
		live = (uint16_t)((live & ~j[i].fl_write) | j[i].fl_read);
	}
}

/* ---- code generation ---- */

struct slow_path {
	uint8_t *from[6]; /* rel32s that jump here: two per TLB lookup, one per canonical check */
	unsigned n_from;
	uint8_t *resume;  /* where the block goes on (NULL: it ends after the instruction) */
};

struct gen {
	struct jit_emit *e;
	const uint32_t *valid; /* the block's header */
	const uint8_t *epilogue;
	unsigned cpl;
	struct slow_path slow[X86_JIT_MAX_INSNS];
};

static void slow_from(struct gen *g, unsigned i, uint8_t *rel)
{
	struct slow_path *s = &g->slow[i];

	if (s->n_from < sizeof(s->from) / sizeof(s->from[0]))
		s->from[s->n_from++] = rel;
	else
		g->e->full = true; /* cannot happen: at most two lookups and a check */
}

/* add dword [r12 + count], n: chained blocks add up their instructions */
static void emit_count(struct jit_emit *e, unsigned n)
{
	if (!n)
		return;
	e_op_mem(e, false, 0x81, 0, HR_R12, CTX_COUNT);
	ed(e, n);
}

/*
 * Leaves the block for rip after n instructions, through a jump that the dispatcher can later
 * point straight at the block for rip (jit.c, chaining). Until then it falls through to the
 * way out, which tells the dispatcher where that jump's rel32 is.
 */
static void emit_exit(struct gen *g, uint64_t rip, unsigned n)
{
	struct jit_emit *e = g->e;
	uint8_t *link;

	emit_count(e, n);
	/* RAX = where the jump's rel32 is, for the dispatcher (also when the jump is chained:
	 * the next block's way in hands it back if that block cannot run) */
	eb(e, 0x48); /* lea rax, [rip + 1]: the jmp's opcode byte follows */
	eb(e, 0x8d);
	eb(e, 0x05);
	ed(e, 1);
	link = e_jmp32(e);
	e_patch(e, link, e->p);
	e_store(e, HR_R12, CTX_LINK, HR_RAX);
	e_store_imm(e, HR_RBX, CPU_RIP, rip, HR_RAX);
	e_op_rr(e, false, 0x31, HR_RAX, HR_RAX); /* xor eax, eax */
	e_jmp_to(e, g->epilogue);
}

/* Leaves the block with the RIP already in cpu->rip. */
static void emit_exit_here(struct gen *g, unsigned n)
{
	emit_count(g->e, n);
	e_op_rr(g->e, false, 0x31, HR_RAX, HR_RAX);
	e_jmp_to(g->e, g->epilogue);
}

/* RSI = the linear address of the memory operand (segment base included unless lea). */
static void emit_address(struct gen *g, const struct jit_insn *j, bool lea)
{
	const struct x86_insn *in = &j->in;
	struct jit_emit *e = g->e;
	int64_t disp = in->disp;

	if (in->rip_rel) {
		e_mov_imm(e, HR_RSI, j->next + (uint64_t)disp);
	} else {
		if (in->no_base) {
			e_mov_imm(e, HR_RSI, (uint64_t)disp);
			disp = 0;
		} else {
			e_load(e, HR_RSI, HR_RBX, CPU_GPR(in->has_sib ? in->base : in->rm));
		}
		if (in->has_sib && !in->no_index) {
			e_load(e, HR_RDI, HR_RBX, CPU_GPR(in->index));
			e_op_mem_index(e, true, 0x8d, HR_RSI, HR_RSI, HR_RDI, in->scale, (int32_t)disp);
		} else if (disp) {
			e_op_mem(e, true, 0x8d, HR_RSI, HR_RSI, (int32_t)disp);
		}
	}
	if (in->addrsize == 4)
		e_op_rr(e, false, 0x89, HR_RSI, HR_RSI); /* mov esi, esi */
	if (!lea && (in->seg == X86_SEG_FS || in->seg == X86_SEG_GS))
		e_op_mem(e, true, 0x03, HR_RSI, HR_RBX, CPU_SEG_BASE(in->seg));
}

/*
 * RSI (a linear address) becomes the host address of the size bytes there, through the TLB's
 * hit path for the access kind; anything else jumps to instruction i's slow path. The tag of
 * the last byte's page is compared in the first byte's slot, so an access that crosses a page
 * never hits. Clobbers RDI, RCX and the host flags.
 */
static void emit_tlb(struct gen *g, unsigned i, unsigned size, bool write)
{
	struct jit_emit *e = g->e;
	unsigned kind = write ? X86_ACC_WRITE : X86_ACC_READ;
	int32_t set = (int32_t)(offsetof(struct x86_cpu, tlb.set) +
				(kind * 2 + (g->cpl == 3)) * X86_TLB_SIZE *
					sizeof(struct x86_tlb_entry));

	e_op_rr(e, true, 0x89, HR_RSI, HR_RDI);		 /* mov rdi, rsi */
	e_shift_ri(e, true, 5, HR_RDI, 12);		 /* shr rdi, 12 */
	e_alu_ri(e, false, 4, HR_RDI, X86_TLB_SIZE - 1); /* and edi, 255 */
	e_op_mem_index(e, true, 0x8d, HR_RDI, HR_RDI, HR_RDI, 1, 0); /* lea rdi, [rdi + rdi*2] */
	e_op_mem(e, true, 0x8d, HR_RCX, HR_RSI, (int32_t)size - 1);  /* lea rcx, [rsi + size-1] */
	e_alu_ri(e, true, 4, HR_RCX, -(int32_t)PAGE_SIZE);	    /* and rcx, -4096 */
	e_alu_ri(e, true, 1, HR_RCX, 1);			    /* or rcx, 1 */
	e_op_mem_index(e, true, 0x3b, HR_RCX, HR_RBX, HR_RDI, 3,
		       set + (int32_t)offsetof(struct x86_tlb_entry, tag)); /* cmp rcx, tag */
	slow_from(g, i, e_jcc32(e, CC_NE));
	e_op_mem_index(e, true, 0x8b, HR_RDI, HR_RBX, HR_RDI, 3,
		       set + (int32_t)offsetof(struct x86_tlb_entry, host)); /* mov rdi, host */
	e_op_rr(e, true, 0x85, HR_RDI, HR_RDI);				     /* test rdi, rdi */
	slow_from(g, i, e_jcc32(e, CC_E)); /* MMIO */
	e_alu_ri(e, false, 4, HR_RSI, PAGE_SIZE - 1); /* and esi, 4095 */
	e_op_rr(e, true, 0x01, HR_RDI, HR_RSI);	      /* add rsi, rdi */
}

/* Jumps to instruction i's slow path unless RAX is canonical (a branch target). */
static void emit_canonical_check(struct gen *g, unsigned i)
{
	struct jit_emit *e = g->e;

	e_op_rr(e, true, 0x89, HR_RAX, HR_RCX); /* mov rcx, rax */
	e_shift_ri(e, true, 4, HR_RCX, 16);
	e_shift_ri(e, true, 7, HR_RCX, 16);
	e_op_rr(e, true, 0x39, HR_RAX, HR_RCX); /* cmp rcx, rax */
	slow_from(g, i, e_jcc32(e, CC_NE));
}

/*
 * Sets host ZF from the guest condition cc in cpu->rflags and returns the host condition that
 * holds exactly when the guest's does. Clobbers RCX and RDI.
 */
static unsigned emit_cond(struct jit_emit *e, unsigned cc)
{
	static const uint16_t test_bits[8] = {
		FL_OF, FL_CF, FL_ZF, FL_CF | FL_ZF, FL_SF, FL_PF, 0, 0,
	};
	unsigned pair = (cc >> 1) & 7;

	if (pair < 6) {
		e_op_mem(e, false, 0xf7, 0, HR_RBX, CPU_RFLAGS); /* test dword [rflags], bits */
		ed(e, test_bits[pair]);
	} else {
		/* L: SF != OF; LE: ZF or SF != OF. OF (bit 11) >> 4 lands on SF (bit 7). */
		e_load(e, HR_RCX, HR_RBX, CPU_RFLAGS);
		e_op_rr(e, false, 0x89, HR_RCX, HR_RDI); /* mov edi, ecx */
		e_shift_ri(e, false, 5, HR_RDI, 4);
		e_op_rr(e, false, 0x31, HR_RCX, HR_RDI); /* xor edi, ecx */
		e_alu_ri(e, false, 4, HR_RDI, FL_SF);
		if (pair == 7) {
			e_alu_ri(e, false, 4, HR_RCX, FL_ZF);
			e_op_rr(e, false, 0x09, HR_RDI, HR_RCX); /* or ecx, edi: sets ZF */
		}
	}
	return cc & 1 ? CC_E : CC_NE;
}

/* Merges the host flags in mask into cpu->rflags (pushfq; pop rdi; ...). */
static void emit_spill_from_rdi(struct jit_emit *e, uint16_t mask)
{
	e_alu_ri(e, false, 4, HR_RDI, mask);			      /* and edi, mask */
	e_alu_mi(e, true, 4, HR_RBX, CPU_RFLAGS, ~(int32_t)mask); /* and [rflags], ~mask */
	e_op_mem(e, true, 0x09, HR_RDI, HR_RBX, CPU_RFLAGS);	      /* or [rflags], rdi */
}

static void emit_spill(struct gen *g, const struct jit_insn *j)
{
	struct jit_emit *e = g->e;
	uint16_t mask = j->fl_spill & j->live_out;
	uint8_t *skip;

	if (!mask)
		return;
	eb(e, 0x9c);		 /* pushfq */
	eb(e, 0x58 | HR_RDI); /* pop rdi */
	if (!j->count_in_cl) {
		emit_spill_from_rdi(e, mask);
		return;
	}
	/* a count of 0 leaves the flags alone */
	eb(e, 0xf6);
	eb(e, 0xc0 | HR_RCX); /* test cl, mask */
	eb(e, j->count_mask);
	skip = e_jcc32(e, CC_E);
	emit_spill_from_rdi(e, mask);
	e_patch(e, skip, e->p);
}

/* A guest byte register without REX numbered 4-7 is AH CH DH BH: the high byte of reg - 4. */
static bool high_byte(const struct x86_insn *in, unsigned reg, bool byte_operand)
{
	return byte_operand && !in->rex && reg >= 4 && reg < 8;
}

/* Is the r/m operand (or the +r register) a byte? */
static bool rm_is_byte(const struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;

	if (in->op == X86_OP_MOVZX || in->op == X86_OP_MOVSX)
		return !(in->opcode & 1);
	return in->op == X86_OP_SETCC || in->opsize == 1;
}

/*
 * Loads guest register reg into host register host (unless it is only written whole); returns
 * the host code to encode.
 */
static unsigned load_operand(struct jit_emit *e, const struct x86_insn *in, unsigned reg,
			     bool byte_operand, unsigned host, unsigned *guest, bool dest_only)
{
	bool high = high_byte(in, reg, byte_operand);

	*guest = high ? reg - 4 : reg;
	if (!dest_only)
		e_load(e, host, HR_RBX, CPU_GPR(*guest));
	return high ? host + 4 : host;
}

/* The guest's opcode bytes, with its operand size, on the host operands. */
static void emit_native_op(struct jit_emit *e, const struct jit_insn *j, unsigned reg_field,
			   unsigned rm_field, bool rm_mem, unsigned cc)
{
	const struct x86_insn *in = &j->in;
	uint8_t opcode = in->opcode;

	if (in->opsize == 2)
		eb(e, 0x66);
	if (in->opsize == 8)
		eb(e, 0x48);
	if (in->map == X86_MAP_0F)
		eb(e, 0x0f);
	if (j->cond)
		opcode = (uint8_t)((opcode & 0xf0) | cc);
	if (j->form == JF_OPREG)
		opcode = (uint8_t)((opcode & ~7u) | rm_field);
	eb(e, opcode);
	if (j->form == JF_MODRM)
		eb(e, (uint8_t)(rm_mem ? (reg_field & 7) << 3 | HR_RSI :
					 0xc0 | (reg_field & 7) << 3 | (rm_field & 7)));
	for (unsigned k = 0; k < in->imm_size; k++)
		eb(e, (uint8_t)(in->imm >> (8 * k)));
}

/*
 * ALU (00-3B) on two registers of 2 to 8 bytes: the destination is loaded into RAX and the
 * source taken straight from cpu->gpr as a memory operand, in the opcode's r, r/m direction
 * (bit 1 set): "dest op= src" either way, so results and flags are those of the guest's form.
 */
static bool emit_alu_rr(struct gen *g, const struct jit_insn *j)
{
	const struct x86_insn *in = &j->in;
	struct jit_emit *e = g->e;
	unsigned dest, src;

	if (j->form != JF_MODRM || in->map != X86_MAP_1B || in->opcode >= 0x40 || in->mod != 3 ||
	    in->opsize < 2 || j->carry_in)
		return false;
	dest = in->opcode & 2 ? in->reg : in->rm;
	src = in->opcode & 2 ? in->rm : in->reg;
	e_load(e, HR_RAX, HR_RBX, CPU_GPR(dest));
	if (in->opsize == 2)
		eb(e, 0x66);
	e_op_mem(e, in->opsize == 8, (unsigned)(in->opcode | 2), HR_RAX, HR_RBX, CPU_GPR(src));
	if (j->write_reg || j->write_rm)
		e_store(e, HR_RBX, CPU_GPR(dest), HR_RAX);
	emit_spill(g, j);
	return true;
}

static void emit_native(struct gen *g, const struct jit_insn *j, unsigned i)
{
	const struct x86_insn *in = &j->in;
	struct jit_emit *e = g->e;
	bool rm_mem = j->form == JF_MODRM && in->mod != 3;
	unsigned reg_field = digit_of(in), rm_field = 0, reg_guest = 0, rm_guest = X86_RAX;
	unsigned rm_host = j->rm_in_rcx ? HR_RCX : HR_RAX, cc = 0;

	if (rm_mem) {
		emit_address(g, j, false);
		emit_tlb(g, i, j->msize, j->mem & MEM_W);
	}
	/* a destination of 4 or 8 bytes is written whole (4 zero-extends): no need to load it */
	bool whole = in->opsize >= 4;

	if (j->read_reg || j->write_reg)
		reg_field = load_operand(e, in, in->reg, in->opsize == 1, HR_RDX, &reg_guest,
					 j->reg_dest_only && whole);
	if (j->form == JF_OPREG)
		rm_field = load_operand(e, in, in->opreg, in->opsize == 1, HR_RAX, &rm_guest,
					j->rm_dest_only && whole);
	else if (j->form == JF_ACC)
		e_load(e, HR_RAX, HR_RBX, CPU_GPR(X86_RAX));
	else if (!rm_mem)
		rm_field = load_operand(e, in, in->rm, rm_is_byte(j), rm_host, &rm_guest,
					j->rm_dest_only && whole);
	if (j->rdx_implied) {
		e_load(e, HR_RAX, HR_RBX, CPU_GPR(X86_RAX));
		e_load(e, HR_RDX, HR_RBX, CPU_GPR(X86_RDX));
	}
	if (j->count_in_cl)
		e_load(e, HR_RCX, HR_RBX, CPU_GPR(X86_RCX));
	if (j->carry_in) {
		e_op_mem(e, false, 0x0fba, 4, HR_RBX, CPU_RFLAGS); /* bt dword [rflags], 0 */
		eb(e, 0);
	}
	if (j->cond)
		cc = emit_cond(e, in->opreg);
	emit_native_op(e, j, reg_field, rm_field, rm_mem, cc);
	if (j->write_reg)
		e_store(e, HR_RBX, CPU_GPR(reg_guest), HR_RDX);
	if (j->write_rm && !rm_mem)
		e_store(e, HR_RBX, CPU_GPR(rm_guest), rm_host);
	if (j->rdx_implied) {
		e_store(e, HR_RBX, CPU_GPR(X86_RAX), HR_RAX);
		e_store(e, HR_RBX, CPU_GPR(X86_RDX), HR_RDX);
	}
	emit_spill(g, j);
}

static void emit_lea(struct gen *g, const struct jit_insn *j)
{
	struct jit_emit *e = g->e;
	unsigned reg = j->in.reg;

	emit_address(g, j, true);
	if (j->in.opsize == 4)
		e_op_rr(e, false, 0x89, HR_RSI, HR_RSI); /* mov esi, esi */
	if (j->in.opsize == 2) {
		e_load(e, HR_RDX, HR_RBX, CPU_GPR(reg));
		eb(e, 0x66);
		e_op_rr(e, false, 0x89, HR_RSI, HR_RDX); /* mov dx, si */
		e_store(e, HR_RBX, CPU_GPR(reg), HR_RDX);
		return;
	}
	e_store(e, HR_RBX, CPU_GPR(reg), HR_RSI);
}

/* RSI = host address of the 8 bytes at RSP + delta (delta -8: a push). */
static void emit_stack_slot(struct gen *g, unsigned i, int32_t delta, bool write)
{
	e_load(g->e, HR_RSI, HR_RBX, CPU_GPR(X86_RSP));
	if (delta)
		e_op_mem(g->e, true, 0x8d, HR_RSI, HR_RSI, delta);
	emit_tlb(g, i, 8, write);
}

static void emit_rsp_add(struct jit_emit *e, int32_t n)
{
	e_alu_mi(e, true, 0, HR_RBX, CPU_GPR(X86_RSP), n);
}

static void emit_push(struct gen *g, const struct jit_insn *j, unsigned i)
{
	const struct x86_insn *in = &j->in;
	struct jit_emit *e = g->e;

	emit_stack_slot(g, i, -8, true);
	if (in->opcode == 0x68 || in->opcode == 0x6a)
		e_mov_imm(e, HR_RAX, (uint64_t)x86_insn_simm(in));
	else
		e_load(e, HR_RAX, HR_RBX, CPU_GPR(in->opcode == 0xff ? in->rm : in->opreg));
	e_store(e, HR_RSI, 0, HR_RAX);
	emit_rsp_add(e, -8);
}

static void emit_pop(struct gen *g, const struct jit_insn *j, unsigned i)
{
	struct jit_emit *e = g->e;

	emit_stack_slot(g, i, 0, false);
	e_load(e, HR_RAX, HR_RSI, 0);
	emit_rsp_add(e, 8);
	e_store(e, HR_RBX, CPU_GPR(j->in.opreg), HR_RAX); /* after RSP: POP RSP takes the value */
}

/* LEAVE: RSP = RBP, then POP RBP. */
static void emit_leave(struct gen *g, unsigned i)
{
	struct jit_emit *e = g->e;

	e_load(e, HR_RSI, HR_RBX, CPU_GPR(X86_RBP));
	emit_tlb(g, i, 8, false);
	e_load(e, HR_RAX, HR_RSI, 0);
	e_load(e, HR_RCX, HR_RBX, CPU_GPR(X86_RBP));
	e_op_mem(e, true, 0x8d, HR_RCX, HR_RCX, 8);
	e_store(e, HR_RBX, CPU_GPR(X86_RSP), HR_RCX);
	e_store(e, HR_RBX, CPU_GPR(X86_RBP), HR_RAX);
}

static void emit_flag_op(struct jit_emit *e, const struct x86_insn *in)
{
	switch (in->op) {
	case X86_OP_CLC:
		e_op_mem(e, false, 0x80, 4, HR_RBX, CPU_RFLAGS), eb(e, 0xfe);
		break;
	case X86_OP_STC:
		e_op_mem(e, false, 0x80, 1, HR_RBX, CPU_RFLAGS), eb(e, 0x01);
		break;
	case X86_OP_CMC:
		e_op_mem(e, false, 0x80, 6, HR_RBX, CPU_RFLAGS), eb(e, 0x01);
		break;
	case X86_OP_CLD:
		e_op_mem(e, false, 0x80, 4, HR_RBX, CPU_RFLAGS + 1), eb(e, 0xfb);
		break;
	default: /* STD */
		e_op_mem(e, false, 0x80, 1, HR_RBX, CPU_RFLAGS + 1), eb(e, 0x04);
		break;
	}
}

/* RAX = the target of an indirect JMP/CALL, checked canonical. */
static void emit_indirect_target(struct gen *g, const struct jit_insn *j, unsigned i)
{
	struct jit_emit *e = g->e;

	if (j->in.mod == 3) {
		e_load(e, HR_RAX, HR_RBX, CPU_GPR(j->in.rm));
	} else {
		emit_address(g, j, false);
		emit_tlb(g, i, 8, false);
		e_load(e, HR_RAX, HR_RSI, 0);
	}
	emit_canonical_check(g, i);
}

/* Pushes the return address (clobbers RSI RDI RCX; RAX is kept). */
static void emit_push_return(struct gen *g, const struct jit_insn *j, unsigned i)
{
	struct jit_emit *e = g->e;

	emit_stack_slot(g, i, -8, true);
	e_mov_imm(e, HR_RCX, j->next);
	e_store(e, HR_RSI, 0, HR_RCX);
	emit_rsp_add(e, -8);
}

static void emit_flow(struct gen *g, const struct jit_insn *j, unsigned i)
{
	const struct x86_insn *in = &j->in;
	struct jit_emit *e = g->e;
	uint64_t target = j->next + (uint64_t)x86_insn_simm(in);
	uint8_t *taken;

	switch (j->kind) {
	case JK_JCC:
		taken = e_jcc32(e, emit_cond(e, in->opreg));
		emit_exit(g, j->next, i + 1);
		e_patch(e, taken, e->p);
		emit_exit(g, target, i + 1);
		return;
	case JK_JMP:
		emit_exit(g, target, i + 1);
		return;
	case JK_CALL:
		emit_push_return(g, j, i);
		emit_exit(g, target, i + 1);
		return;
	case JK_RET:
		emit_stack_slot(g, i, 0, false);
		e_load(e, HR_RAX, HR_RSI, 0);
		emit_canonical_check(g, i);
		emit_rsp_add(e, 8 + (in->opcode == 0xc2 ? (int32_t)in->imm : 0));
		e_store(e, HR_RBX, CPU_RIP, HR_RAX);
		emit_exit_here(g, i + 1);
		return;
	case JK_JMP_IND:
		emit_indirect_target(g, j, i);
		e_store(e, HR_RBX, CPU_RIP, HR_RAX);
		emit_exit_here(g, i + 1);
		return;
	default: /* JK_CALL_IND */
		emit_indirect_target(g, j, i);
		emit_push_return(g, j, i);
		e_store(e, HR_RBX, CPU_RIP, HR_RAX);
		emit_exit_here(g, i + 1);
		return;
	}
}

static void emit_insn(struct gen *g, const struct jit_insn *j, unsigned i)
{
	switch (j->kind) {
	case JK_NATIVE:
		if (!emit_alu_rr(g, j))
			emit_native(g, j, i);
		break;
	case JK_NOP:
		break;
	case JK_LEA:
		emit_lea(g, j);
		break;
	case JK_PUSH:
		emit_push(g, j, i);
		break;
	case JK_POP:
		emit_pop(g, j, i);
		break;
	case JK_LEAVE:
		emit_leave(g, i);
		break;
	case JK_FLAG_OP:
		emit_flag_op(g->e, &j->in);
		break;
	default:
		emit_flow(g, j, i);
		break;
	}
}

/* ZF = the block's guest bytes still count as checked: cpu->tlb.flushes == its header. */
static void emit_valid_check(struct jit_emit *e, const uint32_t *valid)
{
	e_op_mem(e, false, 0x8b, HR_RCX, HR_RBX, CPU_TLB_FLUSHES); /* mov ecx, [flushes] */
	eb(e, 0x3b);						  /* cmp ecx, [rip + valid] */
	eb(e, 0x0d);
	ed(e, (uint32_t)(int32_t)((const uint8_t *)valid - (e->p + 4)));
}

/*
 * Instruction i's slow path: the interpreter runs it (cpu->rip = its address), then the block
 * goes on after it, or leaves if it was the last one or faulted.
 */
static void emit_slow_path(struct gen *g, const struct jit_insn *j, unsigned i)
{
	struct slow_path *s = &g->slow[i];
	struct jit_emit *e = g->e;
	uint8_t *fault;

	if (!s->n_from)
		return;
	for (unsigned k = 0; k < s->n_from; k++)
		e_patch(e, s->from[k], e->p);
	e_store_imm(e, HR_RBX, CPU_RIP, j->rip, HR_RAX);
	e_op_rr(e, true, 0x89, HR_R12, HR_RDI); /* mov rdi, r12 */
	e_mov_imm(e, HR_RAX, (uint64_t)(uintptr_t)jit_slow_step);
	e_op_rr(e, false, 0xff, 2, HR_RAX); /* call rax */
	e_op_rr(e, false, 0x85, HR_RAX, HR_RAX);
	fault = e_jcc32(e, CC_NE);
	if (s->resume) {
		/* a store to this page's code (it counts as a flush): the rest of the block may be
		 * stale, so leave with RIP on the next instruction (x86_step moved it there) */
		emit_valid_check(e, g->valid);
		e_jcc_to(e, CC_E, s->resume);
		emit_count(e, i + 1);
		e_op_rr(e, false, 0x31, HR_RAX, HR_RAX);
		e_jmp_to(e, g->epilogue);
	} else {
		emit_count(e, i + 1);
		e_jmp_to(e, g->epilogue); /* EAX is 0 */
	}
	e_patch(e, fault, e->p);
	emit_count(e, i);
	e_jmp_to(e, g->epilogue); /* EAX: the exception */
}

/* Decodes and classifies the block's instructions: how many are translated. */
static unsigned scan(struct jit_insn *j, const uint8_t *host, const uint8_t *page_end,
		     uint64_t rip, unsigned max_insns, unsigned *bytes)
{
	unsigned n = 0, off = 0;

	while (n < max_insns) {
		struct jit_insn *cur = &j[n];
		size_t avail = (size_t)(page_end - host) - off;
		int len;

		*cur = (struct jit_insn){0};
		len = x86_decode(host + off, avail < X86_MAX_INSN_LEN ? avail : X86_MAX_INSN_LEN,
				 X86_MODE_LONG64, &cur->in);
		if (len <= 0)
			break;
		cur->rip = rip + off;
		cur->next = cur->rip + (unsigned)len;
		if (!classify(cur))
			break;
		off += (unsigned)len;
		n++;
		if (cur->ends)
			break;
	}
	*bytes = off;
	return n;
}

/*
 * The way in from another block (chaining), with RAX = the rel32 of the jump that came here:
 * the entry spends one unit of the run's budget and checks that the block's guest bytes were
 * found unchanged since the last TLB flush (the dispatcher stores that flush count in the
 * block's header when it checks them); otherwise it leaves for the dispatcher, which checks
 * them itself and points that jump at the block now translated for this RIP.
 */
static void emit_chain_entry(struct gen *g, uint32_t *valid, uint8_t **to_c)
{
	struct jit_emit *e = g->e;

	e_op_mem(e, false, 0x83, 5, HR_R12, CTX_BUDGET); /* sub dword [r12 + budget], 1 */
	eb(e, 1);
	to_c[0] = e_jcc32(e, CC_E);
	emit_valid_check(e, valid);
	to_c[1] = e_jcc32(e, CC_NE);
}

unsigned jit_translate(struct jit_emit *e, const uint8_t *host, const uint8_t *page_end,
		       uint64_t rip, unsigned cpl, unsigned max_insns, const uint8_t *epilogue,
		       struct jit_code *out)
{
	struct jit_insn insns[X86_JIT_MAX_INSNS];
	struct gen g = {.e = e, .epilogue = epilogue, .cpl = cpl};
	uint8_t *to_c[2];
	unsigned n, bytes;

	if (max_insns > X86_JIT_MAX_INSNS)
		max_insns = X86_JIT_MAX_INSNS;
	n = scan(insns, host, page_end, rip, max_insns, &bytes);
	out->n_insns = n;
	if (!n)
		return 0;
	flags_liveness(insns, n);
	/* the header: the flush count at the last check of the guest bytes */
	out->valid = (uint32_t *)(void *)e->p;
	g.valid = out->valid;
	ed(e, 0);
	ed(e, 0);
	out->chain_entry = e->p;
	emit_chain_entry(&g, out->valid, to_c);
	out->body = e->p;
	for (unsigned i = 0; i < n; i++) {
		emit_insn(&g, &insns[i], i);
		g.slow[i].resume = insns[i].kind >= JK_JCC ? NULL : e->p;
	}
	if (insns[n - 1].kind < JK_JCC) /* the branches leave by themselves */
		emit_exit(&g, insns[n - 1].next, n);
	for (unsigned i = 0; i < n; i++)
		emit_slow_path(&g, &insns[i], i);
	out->to_c = e->p;
	e_patch(e, to_c[0], e->p);
	e_patch(e, to_c[1], e->p);
	e_store(e, HR_R12, CTX_LINK, HR_RAX); /* the link that led here, to be pointed afresh */
	e_store_imm(e, HR_RBX, CPU_RIP, rip, HR_RAX);
	e_op_rr(e, false, 0x31, HR_RAX, HR_RAX);
	e_jmp_to(e, epilogue);
	return bytes;
}
