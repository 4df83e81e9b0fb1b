/*
 * Segment loads, far control transfers and descriptor-table instructions of the emu CPU
 * (Intel SDM vol. 2 pages "MOV", "PUSH", "POP", "LDS/LES/LFS/LGS/LSS", "JMP", "CALL", "RET",
 * "LGDT/LIDT", "SGDT", "SIDT", "LLDT", "SLDT", "LTR", "STR", "LAR", "LSL", "VERR/VERW", "ARPL";
 * vol. 3A ch. 5 "Protection", 5.8 "Privilege level checking when transferring program control").
 *
 * Task gates and TSS descriptors as far JMP/CALL targets raise #GP(selector): hardware task
 * switching is not supported (Linux never uses it).
 */
#include "exec_internal.h"

static bool real_like(const struct x86_cpu *cpu)
{
	return !(cpu->cr0 & X86_CR0_PE) || (cpu->rflags & X86_FLAG_VM);
}

/* A far pointer m16:16/32/64 in memory: offset of the operand size, then the selector. */
static int read_far_ptr(struct x86_exec *x, uint64_t *off, uint16_t *sel)
{
	unsigned size = x->in->opsize;
	uint64_t ea = x86_ea(x), s;
	int rc = x86_mem_read(x, ea, size, off);

	if (rc == 0)
		rc = x86_mem_read(x, ea + size, 2, &s);
	if (rc == 0)
		*sel = (uint16_t)s;
	return rc;
}

/* The segment register of PUSH/POP Sreg from the opcode (SDM A.2). */
static enum x86_seg push_pop_seg(const struct x86_insn *in)
{
	if (in->map == X86_MAP_0F)
		return in->opcode >= 0xa8 ? X86_SEG_GS : X86_SEG_FS;
	return (enum x86_seg)((in->opcode >> 3) & 3);
}

/* ---- segment register loads and stores ---- */

static int exec_mov_to_seg(struct x86_exec *x)
{
	enum x86_seg seg = (enum x86_seg)(x->in->reg & 7);
	uint64_t sel;
	int rc = x86_rm_read(x, 2, &sel);

	if (rc == 0)
		rc = x86_load_data_seg(x, seg, (uint16_t)sel);
	if (rc == 0 && seg == X86_SEG_SS)
		x->cpu->intr_shadow = true; /* SDM 6.8.3 */
	return rc;
}

/* A register destination gets the selector zero-extended (32/64-bit operand), memory 16 bits. */
static int store_selector(struct x86_exec *x, uint16_t sel)
{
	if (x->in->mod == 3) {
		x86_reg_set(x, x->in->rm, x->in->opsize, sel);
		return 0;
	}
	return x86_rm_write(x, 2, sel);
}

/* PUSH Sreg: with a 32/64-bit operand size only the low 16 bits are written (SDM "PUSH"). */
static int exec_push_seg(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	struct x86_stack st;
	int rc;

	x86_stack_current(&st, cpu);
	rc = x86_stack_push(cpu, &st, x->in->opsize, cpu->seg[push_pop_seg(x->in)].selector);
	if (rc)
		return rc;
	st.item[0].size = 2;
	rc = x86_stack_write(x, &st);
	if (rc == 0)
		cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	return rc;
}

static int exec_pop_seg(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	enum x86_seg seg = push_pop_seg(x->in);
	struct x86_segment s;
	struct x86_stack st;
	uint64_t sel;
	int rc;

	x86_stack_current(&st, cpu);
	rc = x86_stack_pop(x, &st, x->in->opsize, &sel);
	if (rc == 0)
		rc = x86_seg_prepare_data(x, seg, (uint16_t)sel, &s);
	if (rc)
		return rc;
	cpu->seg[seg] = s;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	if (seg == X86_SEG_SS)
		cpu->intr_shadow = true;
	return 0;
}

/* LDS LES LSS LFS LGS: the segment load is the last thing that can fault. */
static int exec_load_far_ptr(struct x86_exec *x, enum x86_seg seg)
{
	struct x86_segment s;
	uint64_t off;
	uint16_t sel;
	int rc = read_far_ptr(x, &off, &sel);

	if (rc == 0)
		rc = x86_seg_prepare_data(x, seg, sel, &s);
	if (rc)
		return rc;
	x->cpu->seg[seg] = s;
	x86_reg_set(x, x->in->reg, x->in->opsize, off);
	return 0;
}

/* ---- far JMP and CALL ---- */

static uint64_t ip_mask(unsigned size)
{
	return x86_size_mask(size);
}

/* Real mode and virtual-8086 mode: CS base = selector << 4, IP within the CS limit. */
static int far_real(struct x86_exec *x, uint16_t sel, uint64_t ip, bool call)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned size = x->in->opsize;
	struct x86_stack st;
	int rc;

	if (ip > cpu->seg[X86_SEG_CS].limit)
		return x86_fault(cpu, X86_EXC_GP, 0);
	if (call) {
		x86_stack_current(&st, cpu);
		rc = x86_stack_push(cpu, &st, size, cpu->seg[X86_SEG_CS].selector);
		if (rc == 0)
			rc = x86_stack_push(cpu, &st, size, x->next_rip & ip_mask(size));
		if (rc == 0)
			rc = x86_stack_write(x, &st);
		if (rc)
			return rc;
		cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	}
	x86_seg_load_real(&cpu->seg[X86_SEG_CS], sel);
	x->next_rip = ip;
	x->sys_changed = true;
	return 0;
}

/* Pushes the return CS:IP (operand size size) on st and writes the stack. */
static int push_return(struct x86_exec *x, struct x86_stack *st, unsigned size)
{
	struct x86_cpu *cpu = x->cpu;
	int rc = x86_stack_push(cpu, st, size, cpu->seg[X86_SEG_CS].selector);

	if (rc == 0)
		rc = x86_stack_push(cpu, st, size, x->next_rip & ip_mask(size));
	return rc;
}

/* JMP/CALL to a code segment descriptor (SDM 5.8.1, "CONFORMING/NONCONFORMING-CODE-SEGMENT"). */
static int far_direct(struct x86_exec *x, uint16_t sel, uint64_t desc, uint64_t ip, bool call)
{
	struct x86_cpu *cpu = x->cpu;
	uint32_t attr = x86_desc_attr(desc);
	unsigned dpl = (attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;
	struct x86_stack st;
	int rc;

	if ((attr & 0x4) ? dpl > cpu->cpl : ((sel & 3u) > cpu->cpl || dpl != cpu->cpl))
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_NP, sel & 0xfffc);
	if (x86_long_mode(cpu) && (attr & X86_SEGA_L) && (attr & X86_SEGA_DB))
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	ip &= ip_mask(x->in->opsize);
	rc = x86_check_far_ip(cpu, desc, ip);
	if (rc)
		return rc;
	x86_stack_current(&st, cpu);
	if (call) {
		rc = push_return(x, &st, x->in->opsize);
		if (rc)
			return rc;
	}
	rc = x86_desc_set_type_bit(x, sel, &desc, X86_SEGA_ACCESSED);
	if (rc == 0)
		rc = x86_stack_write(x, &st);
	if (rc)
		return rc;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	x86_commit_cs(x, sel, desc, cpu->cpl);
	x->next_rip = ip;
	return 0;
}

struct call_gate {
	uint16_t sel;	 /* the gate's own selector */
	uint16_t target; /* code segment selector */
	uint64_t ip;
	unsigned size;	 /* 2, 4 or 8: the gate's push size */
	unsigned params; /* parameter count (16/32-bit gates) */
};

/* CALL through a call gate to a more privileged non-conforming segment (SDM 5.8.5, 5.8.6). */
static int call_gate_inner(struct x86_exec *x, const struct call_gate *g, uint64_t desc,
			   unsigned new_cpl)
{
	struct x86_cpu *cpu = x->cpu;
	bool lm = x86_long_mode(cpu);
	struct x86_segment ss;
	struct x86_stack st, old;
	uint64_t rsp, param[32];
	int rc;

	if (lm) {
		rc = x86_tss_rsp64(x, new_cpl, 0, &rsp);
		x86_seg_load_null(&ss, (uint16_t)new_cpl);
	} else {
		rc = x86_tss_stack(x, new_cpl, &ss, &rsp);
	}
	if (rc)
		return rc;
	x86_stack_init(&st, cpu, &ss, rsp, lm, new_cpl, lm ? 0 : ss.selector & 0xfffc);
	rc = x86_stack_push(cpu, &st, g->size, cpu->seg[X86_SEG_SS].selector);
	if (rc == 0)
		rc = x86_stack_push(cpu, &st, g->size, cpu->gpr[X86_RSP]);
	if (rc)
		return rc;
	/* The parameters keep their order: read from the old stack, pushed last one first. */
	x86_stack_current(&old, cpu);
	for (unsigned i = 0; i < g->params && rc == 0; i++)
		rc = x86_stack_pop(x, &old, g->size, &param[i]);
	for (unsigned i = g->params; i > 0 && rc == 0; i--)
		rc = x86_stack_push(cpu, &st, g->size, param[i - 1]);
	if (rc == 0)
		rc = push_return(x, &st, g->size);
	if (rc == 0)
		rc = x86_desc_set_type_bit(x, g->target, &desc, X86_SEGA_ACCESSED);
	if (rc == 0)
		rc = x86_stack_write(x, &st);
	if (rc)
		return rc;
	cpu->seg[X86_SEG_SS] = ss;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, rsp);
	x86_commit_cs(x, g->target, desc, new_cpl);
	x->next_rip = g->ip;
	return 0;
}

static int read_call_gate(struct x86_exec *x, uint16_t sel, uint64_t d0, struct call_gate *g)
{
	struct x86_cpu *cpu = x->cpu;
	uint32_t attr = x86_desc_attr(d0);
	unsigned type = attr & 0xf, dpl = (attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;
	uint64_t d[2];
	int rc;

	/* Only call gates: 16/32-bit ones in legacy mode, 64-bit ones (type 0xc) in IA-32e mode.
	 * Task gates and TSS descriptors (task switches) are not supported: #GP(selector). */
	if (type != 0xc && (type != 0x4 || x86_long_mode(cpu)))
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	rc = x86_read_system_descriptor(x, sel, d);
	if (rc)
		return rc;
	if (dpl < cpu->cpl || dpl < (sel & 3u))
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_NP, sel & 0xfffc);
	g->sel = sel;
	g->target = (uint16_t)(d[0] >> 16);
	g->ip = (d[0] & 0xffff) | ((d[0] >> 32) & 0xffff0000ull);
	g->params = (unsigned)(d[0] >> 32) & 0x1f;
	if (x86_long_mode(cpu)) {
		g->ip |= d[1] << 32;
		g->size = 8;
		g->params = 0;
	} else {
		g->size = type == 0xc ? 4 : 2;
		g->ip &= ip_mask(g->size);
	}
	return 0;
}

/* JMP/CALL through a call gate (SDM "CALL", "CALL-GATE"; "JMP", "CALL-GATE"). */
static int far_gate(struct x86_exec *x, uint16_t sel, uint64_t gate_desc, bool call)
{
	struct x86_cpu *cpu = x->cpu;
	struct call_gate g = {0};
	struct x86_stack st;
	uint64_t desc;
	uint32_t attr;
	unsigned dpl;
	int rc = read_call_gate(x, sel, gate_desc, &g);

	if (rc)
		return rc;
	if ((g.target & 0xfffc) == 0)
		return x86_fault(cpu, X86_EXC_GP, 0);
	rc = x86_read_descriptor(x, g.target, &desc);
	if (rc)
		return rc;
	attr = x86_desc_attr(desc);
	dpl = (attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;
	if ((attr & 0x18) != 0x18 || dpl > cpu->cpl ||
	    (!call && !(attr & 0x4) && dpl != cpu->cpl))
		return x86_fault(cpu, X86_EXC_GP, g.target & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_NP, g.target & 0xfffc);
	if (x86_long_mode(cpu) && (attr & (X86_SEGA_L | X86_SEGA_DB)) != X86_SEGA_L)
		return x86_fault(cpu, X86_EXC_GP, g.target & 0xfffc);
	rc = x86_check_far_ip(cpu, desc, g.ip);
	if (rc)
		return rc;
	if (call && !(attr & 0x4) && dpl < cpu->cpl)
		return call_gate_inner(x, &g, desc, dpl);
	x86_stack_current(&st, cpu);
	if (call) {
		rc = push_return(x, &st, g.size);
		if (rc)
			return rc;
	}
	rc = x86_desc_set_type_bit(x, g.target, &desc, X86_SEGA_ACCESSED);
	if (rc == 0)
		rc = x86_stack_write(x, &st);
	if (rc)
		return rc;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	x86_commit_cs(x, g.target, desc, cpu->cpl);
	x->next_rip = g.ip;
	return 0;
}

static int exec_far_jmp_call(struct x86_exec *x, bool call)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t ip, desc;
	uint16_t sel;
	int rc;

	if (x->in->has_modrm) {
		rc = read_far_ptr(x, &ip, &sel);
		if (rc)
			return rc;
	} else {
		ip = x->in->imm;
		sel = (uint16_t)x->in->imm2;
	}
	if (real_like(cpu))
		return far_real(x, sel, ip & ip_mask(x->in->opsize), call);
	if ((sel & 0xfffc) == 0)
		return x86_fault(cpu, X86_EXC_GP, 0);
	rc = x86_read_descriptor(x, sel, &desc);
	if (rc)
		return rc;
	if (!(x86_desc_attr(desc) & X86_SEGA_S))
		return far_gate(x, sel, desc, call);
	if (!(x86_desc_attr(desc) & 0x8))
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	return far_direct(x, sel, desc, ip, call);
}

/* ---- far RET (SDM "RET", protected-mode sections) ---- */

static int retf_outer(struct x86_exec *x, struct x86_stack *st, uint16_t sel, uint64_t desc,
		      uint64_t ip, uint64_t imm)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned size = x->in->opsize, rpl = sel & 3u;
	bool to64 = x86_desc_is_64bit_code(cpu, desc);
	struct x86_segment ss;
	uint64_t rsp, ss_sel, mask;
	int rc;

	st->sp = (st->sp + imm) & st->mask;
	rc = x86_stack_pop(x, st, size, &rsp);
	if (rc == 0)
		rc = x86_stack_pop(x, st, size, &ss_sel);
	if (rc == 0)
		rc = x86_prepare_return_ss(x, (uint16_t)ss_sel, rpl, to64, &ss);
	if (rc == 0)
		rc = x86_check_far_ip(cpu, desc, ip);
	if (rc == 0)
		rc = x86_desc_set_type_bit(x, sel, &desc, X86_SEGA_ACCESSED);
	if (rc)
		return rc;
	mask = to64 ? ~0ull : (ss.attr & X86_SEGA_DB) ? 0xffffffffull : 0xffffull;
	rsp = (rsp + imm) & mask;
	if (mask == 0xffff)
		rsp |= cpu->gpr[X86_RSP] & ~0xffffull;
	cpu->gpr[X86_RSP] = rsp;
	cpu->seg[X86_SEG_SS] = ss;
	x86_commit_cs(x, sel, desc, rpl);
	x86_seg_null_inaccessible(cpu);
	x->next_rip = ip;
	return 0;
}

static int exec_retf(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned size = x->in->opsize;
	uint64_t imm = x->in->imm_size ? (x->in->imm & 0xffff) : 0, ip, sel, desc;
	struct x86_stack st;
	int rc;

	x86_stack_current(&st, cpu);
	rc = x86_stack_pop(x, &st, size, &ip);
	if (rc == 0)
		rc = x86_stack_pop(x, &st, size, &sel);
	if (rc)
		return rc;
	if (real_like(cpu)) {
		if (ip > cpu->seg[X86_SEG_CS].limit)
			return x86_fault(cpu, X86_EXC_GP, 0);
		st.sp = (st.sp + imm) & st.mask;
		cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
		x86_seg_load_real(&cpu->seg[X86_SEG_CS], (uint16_t)sel);
		x->next_rip = ip;
		x->sys_changed = true;
		return 0;
	}
	rc = x86_check_return_cs(x, (uint16_t)sel, &desc);
	if (rc)
		return rc;
	if ((sel & 3u) > cpu->cpl)
		return retf_outer(x, &st, (uint16_t)sel, desc, ip, imm);
	rc = x86_check_far_ip(cpu, desc, ip);
	if (rc == 0)
		rc = x86_desc_set_type_bit(x, (uint16_t)sel, &desc, X86_SEGA_ACCESSED);
	if (rc)
		return rc;
	st.sp = (st.sp + imm) & st.mask;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	x86_commit_cs(x, (uint16_t)sel, desc, cpu->cpl);
	x->next_rip = ip;
	return 0;
}

/* ---- descriptor-table registers ---- */

static int exec_load_dtr(struct x86_exec *x, struct x86_dtr *dtr)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t ea = x86_ea(x), limit, base;
	unsigned base_size = cpu->mode == X86_MODE_LONG64 ? 8 : 4;
	int rc;

	if (cpu->cpl != 0)
		return x86_fault(cpu, X86_EXC_GP, 0);
	rc = x86_mem_read(x, ea, 2, &limit);
	if (rc == 0)
		rc = x86_mem_read(x, ea + 2, base_size, &base);
	if (rc)
		return rc;
	if (x->in->opsize == 2 && base_size == 4)
		base &= 0xffffff; /* SDM "LGDT/LIDT": a 16-bit operand loads a 24-bit base */
	dtr->limit = (uint16_t)limit;
	dtr->base = base;
	return 0;
}

/* SGDT/SIDT store the limit and a 32-bit (64-bit in 64-bit mode) base in one write. */
static int exec_store_dtr(struct x86_exec *x, const struct x86_dtr *dtr)
{
	unsigned base_size = x->cpu->mode == X86_MODE_LONG64 ? 8 : 4;
	uint8_t b[10];

	b[0] = (uint8_t)dtr->limit;
	b[1] = (uint8_t)(dtr->limit >> 8);
	for (unsigned i = 0; i < base_size; i++)
		b[2 + i] = (uint8_t)(dtr->base >> (8 * i));
	return x86_lin_write(x, x86_ea(x), b, 2 + base_size, X86_ACC_WRITE);
}

/* LLDT and LTR: a GDT system descriptor (16 bytes in IA-32e mode, SDM 7.2.3). */
static int load_system_seg(struct x86_exec *x, bool tr)
{
	struct x86_cpu *cpu = x->cpu;
	bool lm = x86_long_mode(cpu);
	struct x86_segment s;
	uint64_t d[2], sel;
	unsigned type;
	int rc;

	if (cpu->cpl != 0)
		return x86_fault(cpu, X86_EXC_GP, 0);
	rc = x86_rm_read(x, 2, &sel);
	if (rc)
		return rc;
	if ((sel & 0xfffc) == 0) {
		if (tr)
			return x86_fault(cpu, X86_EXC_GP, 0);
		cpu->ldtr.selector = (uint16_t)sel;
		cpu->ldtr.attr = X86_SEGA_UNUSABLE;
		return 0;
	}
	if (sel & 4)
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	rc = x86_read_system_descriptor(x, (uint16_t)sel, d);
	if (rc)
		return rc;
	type = (unsigned)(d[0] >> 40) & 0x1f; /* with S */
	if (tr ? !(type == 0x9 || (type == 0x1 && !lm)) : type != 0x2)
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	if (!((d[0] >> 47) & 1))
		return x86_fault(cpu, X86_EXC_NP, sel & 0xfffc);
	x86_seg_from_descriptor(&s, (uint16_t)sel, d[0]);
	if (lm) {
		s.base |= d[1] << 32;
		if (!x86_is_canonical(s.base))
			return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	}
	if (tr) {
		rc = x86_desc_set_type_bit(x, (uint16_t)sel, &d[0], 0x2); /* busy */
		if (rc)
			return rc;
		s.attr |= 0x2;
		cpu->tr = s;
	} else {
		cpu->ldtr = s;
	}
	return 0;
}

/* ---- LAR LSL VERR VERW ARPL ---- */

/* The descriptor of a selector for LAR/LSL/VERR/VERW, or false (ZF := 0) for a null or out of
 * limit selector. */
static int probe_descriptor(struct x86_exec *x, uint16_t *sel, uint64_t *desc, bool *ok)
{
	uint64_t v;
	int rc = x86_rm_read(x, 2, &v);

	*ok = false;
	if (rc)
		return rc;
	*sel = (uint16_t)v;
	if ((v & 0xfffc) == 0)
		return 0;
	rc = x86_read_descriptor(x, *sel, desc);
	if (rc == X86_EXC_GP)
		return 0;
	*ok = rc == 0;
	return rc;
}

/* Visible at CPL and RPL unless conforming code (SDM "LAR"/"LSL" operation). */
static bool desc_visible(const struct x86_cpu *cpu, uint16_t sel, uint32_t attr)
{
	unsigned dpl = (attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;

	if ((attr & 0x1c) == 0x1c)
		return true;
	return dpl >= cpu->cpl && dpl >= (sel & 3u);
}

static bool system_type_ok(const struct x86_cpu *cpu, unsigned type, bool lar)
{
	/* SDM "LAR" / "LSL": the system types each accepts, fewer in IA-32e mode. */
	static const uint16_t legacy_lar = 0x1a3e, legacy_lsl = 0x0a0e; /* 1-5,9,B,C / 1-3,9,B */
	static const uint16_t long_lar = 0x1a04, long_lsl = 0x0a04;	/* 2,9,B,C / 2,9,B */
	uint16_t set = x86_long_mode(cpu) ? (lar ? long_lar : long_lsl)
					  : (lar ? legacy_lar : legacy_lsl);

	return (set >> type) & 1;
}

static int exec_lar_lsl(struct x86_exec *x, bool lar)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t desc, val;
	uint16_t sel;
	uint32_t attr;
	bool ok;
	int rc = probe_descriptor(x, &sel, &desc, &ok);

	if (rc)
		return rc;
	attr = ok ? x86_desc_attr(desc) : 0;
	if (ok && !(attr & X86_SEGA_S) && !system_type_ok(cpu, attr & 0xf, lar))
		ok = false;
	if (ok && !desc_visible(cpu, sel, attr))
		ok = false;
	x86_flags_update(cpu, X86_FLAG_ZF, ok ? X86_FLAG_ZF : 0);
	if (!ok)
		return 0;
	if (lar)
		val = (desc >> 32) & (x->in->opsize == 2 ? 0xff00 : 0x00f0ff00);
	else
		val = x86_desc_limit(desc);
	x86_reg_set(x, x->in->reg, x->in->opsize, val);
	return 0;
}

static int exec_verr_verw(struct x86_exec *x, bool write)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t desc;
	uint16_t sel;
	uint32_t attr;
	bool ok;
	int rc = probe_descriptor(x, &sel, &desc, &ok);

	if (rc)
		return rc;
	attr = ok ? x86_desc_attr(desc) : 0;
	if (ok && !(attr & X86_SEGA_S))
		ok = false;
	else if (ok && write)
		ok = (attr & 0xa) == 0x2 && desc_visible(cpu, sel, attr);
	else if (ok)
		ok = (!(attr & 0x8) || (attr & 0x2)) && desc_visible(cpu, sel, attr);
	x86_flags_update(cpu, X86_FLAG_ZF, ok ? X86_FLAG_ZF : 0);
	return 0;
}

static int exec_arpl(struct x86_exec *x)
{
	uint64_t dest, src = x86_reg_get(x, x->in->reg, 2);
	int rc = x86_rm_read(x, 2, &dest);

	if (rc)
		return rc;
	if ((dest & 3) < (src & 3)) {
		rc = x86_rm_write(x, 2, (dest & ~3ull) | (src & 3));
		if (rc)
			return rc;
		x86_flags_update(x->cpu, X86_FLAG_ZF, X86_FLAG_ZF);
	} else {
		x86_flags_update(x->cpu, X86_FLAG_ZF, 0);
	}
	return 0;
}

int x86_exec_far(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;

	switch (x->in->op) {
	case X86_OP_MOV_TO_SEG:
		return exec_mov_to_seg(x);
	case X86_OP_MOV_FROM_SEG:
		return store_selector(x, cpu->seg[x->in->reg & 7].selector);
	case X86_OP_PUSH_SEG:
		return exec_push_seg(x);
	case X86_OP_POP_SEG:
		return exec_pop_seg(x);
	case X86_OP_LES:
		return exec_load_far_ptr(x, X86_SEG_ES);
	case X86_OP_LDS:
		return exec_load_far_ptr(x, X86_SEG_DS);
	case X86_OP_LSS:
		return exec_load_far_ptr(x, X86_SEG_SS);
	case X86_OP_LFS:
		return exec_load_far_ptr(x, X86_SEG_FS);
	case X86_OP_LGS:
		return exec_load_far_ptr(x, X86_SEG_GS);
	case X86_OP_JMPF:
		return exec_far_jmp_call(x, false);
	case X86_OP_CALLF:
		return exec_far_jmp_call(x, true);
	case X86_OP_RETF:
		return exec_retf(x);
	case X86_OP_LGDT:
		return exec_load_dtr(x, &cpu->gdtr);
	case X86_OP_LIDT:
		return exec_load_dtr(x, &cpu->idtr);
	case X86_OP_SGDT:
		return exec_store_dtr(x, &cpu->gdtr);
	case X86_OP_SIDT:
		return exec_store_dtr(x, &cpu->idtr);
	case X86_OP_LLDT:
		return load_system_seg(x, false);
	case X86_OP_LTR:
		return load_system_seg(x, true);
	case X86_OP_SLDT:
		return store_selector(x, cpu->ldtr.selector);
	case X86_OP_STR:
		return store_selector(x, cpu->tr.selector);
	case X86_OP_LAR:
		return exec_lar_lsl(x, true);
	case X86_OP_LSL:
		return exec_lar_lsl(x, false);
	case X86_OP_VERR:
		return exec_verr_verw(x, false);
	case X86_OP_VERW:
		return exec_verr_verw(x, true);
	case X86_OP_ARPL:
		return exec_arpl(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
