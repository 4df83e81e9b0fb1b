/*
 * The emu engine's CPU: fetch, decode, operand access and dispatch of one instruction
 * (Intel SDM vol. 1 ch. 3, vol. 2 ch. 2 and 3.1; AMD APM vol. 1 ch. 2-3).
 */
#include <string.h>

#include "exec_internal.h"
#include "mmu_fast.h"


/*
 * Byte registers 4-7 name AH CH DH BH without a REX prefix and SPL BPL SIL DIL with one
 * (SDM 3.7.2.1, table 3-2).
 */
static bool is_high_byte(const struct x86_exec *x, unsigned reg, unsigned size)
{
	return size == 1 && !x->in->rex && reg >= 4 && reg < 8;
}

uint64_t x86_reg_get(const struct x86_exec *x, unsigned reg, unsigned size)
{
	if (is_high_byte(x, reg, size))
		return (x->cpu->gpr[reg - 4] >> 8) & 0xff;
	return x->cpu->gpr[reg & 15] & x86_size_mask(size);
}

/* 32-bit results zero-extend into the 64-bit register; 8/16-bit ones merge (SDM 3.4.1.1). */
void x86_reg_set(struct x86_exec *x, unsigned reg, unsigned size, uint64_t val)
{
	uint64_t *r;

	if (is_high_byte(x, reg, size)) {
		r = &x->cpu->gpr[reg - 4];
		*r = (*r & ~0xff00ull) | ((val & 0xff) << 8);
		return;
	}
	r = &x->cpu->gpr[reg & 15];
	if (size >= 4)
		*r = val & x86_size_mask(size);
	else
		*r = (*r & ~x86_size_mask(size)) | (val & x86_size_mask(size));
}

/* A 64-bit linear address is canonical if bits 63:47 are all equal (SDM vol. 1 3.3.7.1). */
static inline bool is_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int seg_fault(struct x86_cpu *cpu, unsigned seg)
{
	cpu->fault_error_code = 0;
	return seg == X86_SEG_SS ? X86_EXC_SS : X86_EXC_GP;
}

/*
 * Type and limit checks outside 64-bit mode (SDM vol. 3A 5.3 "Limit checking", 5.4 "Type
 * checking"). Types are checked in protected mode only: real mode and virtual-8086 mode use
 * the cached limit but no types (CS is writable through an override in real mode).
 */
static int seg_check(struct x86_cpu *cpu, unsigned seg, const struct x86_segment *s,
		     uint64_t offset, unsigned size, unsigned acc)
{
	uint32_t attr = s->attr;
	uint64_t last = offset + size - 1;

	if ((cpu->cr0 & X86_CR0_PE) && !(cpu->rflags & X86_FLAG_VM)) {
		if (attr & X86_SEGA_UNUSABLE)
			return seg_fault(cpu, seg);
		if (attr & 0x8) { /* code: never writable, readable with R */
			if (acc == X86_ACC_WRITE || !(attr & 0x2))
				return seg_fault(cpu, seg);
		} else if (acc == X86_ACC_WRITE && !(attr & 0x2)) {
			return seg_fault(cpu, seg);
		}
	}
	if ((attr & 0xc) == 0x4) {
		/* expand-down data: valid offsets are limit + 1 .. 0xffff or 0xffffffff by D/B */
		uint64_t upper = (attr & X86_SEGA_DB) ? 0xffffffffull : 0xffffull;

		if (offset <= s->limit || last > upper)
			return seg_fault(cpu, seg);
	} else if (last > s->limit) {
		return seg_fault(cpu, seg);
	}
	return 0;
}

int x86_seg_linear(struct x86_exec *x, unsigned seg, uint64_t offset, unsigned size,
		   unsigned acc, uint64_t *linear)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_segment *s;
	int rc;

	if (seg >= X86_SEG_NONE)
		seg = X86_SEG_DS;
	if (cpu->mode == X86_MODE_LONG64) {
		/* Only FS and GS have a base; the checks are canonical ones (SDM 3.3.7.1). */
		uint64_t a = offset;

		if (seg >= X86_SEG_FS)
			a += cpu->seg[seg].base;
		if (!is_canonical(a) || !is_canonical(a + size - 1))
			return seg_fault(cpu, seg);
		*linear = a;
		return 0;
	}
	s = &cpu->seg[seg];
	rc = seg_check(cpu, seg, s, offset, size, acc);
	if (rc)
		return rc;
	*linear = (s->base + offset) & 0xffffffffull;
	return 0;
}

int x86_seg_read(struct x86_exec *x, unsigned seg, uint64_t offset, unsigned size,
		 uint64_t *val)
{
	uint64_t linear;
	int rc = x86_seg_linear(x, seg, offset, size, X86_ACC_READ, &linear);

	return rc ? rc : x86_mem_read(x, linear, size, val);
}

int x86_seg_write(struct x86_exec *x, unsigned seg, uint64_t offset, unsigned size,
		  uint64_t val)
{
	uint64_t linear;
	int rc = x86_seg_linear(x, seg, offset, size, X86_ACC_WRITE, &linear);

	return rc ? rc : x86_mem_write(x, linear, size, val);
}

/*
 * SDM vol. 1 3.7.5 / vol. 2 table 2-1: BP-based 16-bit forms and (E)BP/(E)SP/RBP/RSP bases
 * use SS; everything else DS, unless overridden. R12/R13 bases (REX.B) are not stack forms.
 */
unsigned x86_ea_seg(const struct x86_exec *x)
{
	const struct x86_insn *in = x->in;

	if (in->seg != X86_SEG_NONE)
		return in->seg;
	if (in->addrsize == 2) {
		unsigned rm = in->rm & 7;

		return (rm == 2 || rm == 3 || (rm == 6 && !in->no_base)) ? X86_SEG_SS : X86_SEG_DS;
	}
	if (in->has_sib)
		return (!in->no_base && (in->base == X86_RSP || in->base == X86_RBP)) ? X86_SEG_SS
										     : X86_SEG_DS;
	if (!in->rip_rel && !in->no_base && in->rm == X86_RBP)
		return X86_SEG_SS;
	return X86_SEG_DS;
}

/* Effective address plus segment base, unchecked (what INVLPG and the like need). */
uint64_t x86_ea(const struct x86_exec *x)
{
	unsigned seg = x86_ea_seg(x);
	uint64_t ea = x86_ea_offset(x);

	if (x->cpu->mode == X86_MODE_LONG64)
		return seg >= X86_SEG_FS ? ea + x->cpu->seg[seg].base : ea;
	return (x->cpu->seg[seg].base + ea) & 0xffffffffull;
}

/* SDM vol. 2 table 2-1: [BX+SI] [BX+DI] [BP+SI] [BP+DI] [SI] [DI] [BP]/disp16 [BX]. */
static uint64_t ea_offset16(const struct x86_exec *x)
{
	static const uint8_t base16[8] = {X86_RBX, X86_RBX, X86_RBP, X86_RBP,
					  X86_RSI, X86_RDI, X86_RBP, X86_RBX};
	const struct x86_insn *in = x->in;
	const uint64_t *g = x->cpu->gpr;
	unsigned rm = in->rm & 7;
	uint64_t ea = (uint64_t)in->disp;

	if (!in->no_base) {
		ea += g[base16[rm]];
		if (rm < 4)
			ea += g[(rm & 1) ? X86_RDI : X86_RSI];
	}
	return ea & 0xffff;
}

/* The offset part alone (what LEA stores), truncated to the address size (SDM 3.7.5). */
uint64_t x86_ea_offset(const struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	const uint64_t *g = x->cpu->gpr;
	uint64_t ea = (uint64_t)in->disp;

	if (in->addrsize == 2)
		return ea_offset16(x);
	if (in->rip_rel) {
		ea += x->next_rip;
	} else if (in->has_sib) {
		if (!in->no_base)
			ea += g[in->base];
		if (!in->no_index)
			ea += g[in->index] << in->scale;
	} else if (!in->no_base) {
		ea += g[in->rm];
	}
	if (in->addrsize == 4)
		ea &= 0xffffffffull;
	return ea;
}

int x86_ea_linear(struct x86_exec *x, unsigned size, unsigned acc, uint64_t *linear)
{
	return x86_seg_linear(x, x86_ea_seg(x), x86_ea_offset(x), size, acc, linear);
}

int x86_lin_read(struct x86_exec *x, uint64_t linear, void *buf, size_t len, unsigned acc)
{
	return x86_linear_read(x->cpu, x->mem, x->opaque, linear, buf, len, acc);
}

int x86_lin_write(struct x86_exec *x, uint64_t linear, const void *buf, size_t len, unsigned acc)
{
	return x86_linear_write(x->cpu, x->mem, x->opaque, linear, buf, len, acc);
}

/* Operand accesses take the TLB's inline fast path (mmu_fast.h). */
int x86_mem_read(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t *val)
{
	return x86_fast_read(x->cpu, x->mem, x->opaque, linear, size, X86_ACC_READ, val);
}

static int locked_write(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t val);

/* The store of a LOCKed read-modify-write (the operand recorded in lock_addr) is a
 * compare-exchange; every other store is plain. */
int x86_mem_write(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t val)
{
	if (x->locked && linear == x->lock_addr)
		return locked_write(x, linear, size, val);
	return x86_fast_write(x->cpu, x->mem, x->opaque, linear, size, X86_ACC_WRITE, val);
}

int x86_lin_probe_write(struct x86_exec *x, uint64_t linear, size_t len)
{
	uint64_t phys;
	int rc;

	if (len == 0)
		return 0;
	rc = x86_mmu_translate(x->cpu, x->mem, x->opaque, linear, X86_ACC_WRITE, &phys, NULL);
	if (rc == 0 && ((linear ^ (linear + len - 1)) & ~0xfffull))
		rc = x86_mmu_translate(x->cpu, x->mem, x->opaque, linear + len - 1, X86_ACC_WRITE,
				       &phys, NULL);
	return rc;
}

/* Forms without ModRM that name a register in the opcode (40+r INC/DEC outside 64-bit mode)
 * go through the register path too. */
int x86_rm_read(struct x86_exec *x, unsigned size, uint64_t *val)
{
	uint64_t linear;
	int rc;

	if (x->in->mod == 3 || !x->in->has_modrm) {
		*val = x86_reg_get(x, x->in->has_modrm ? x->in->rm : x->in->opreg, size);
		return 0;
	}
	rc = x86_ea_linear(x, size, x->locked ? X86_ACC_WRITE : X86_ACC_READ, &linear);
	if (rc == 0)
		rc = x86_mem_read(x, linear, size, val);
	if (rc == 0 && x->locked) {
		x->lock_addr = linear;
		x->lock_old = *val;
	}
	return rc;
}

/* A locked read-modify-write stores only if the operand still holds what was read. */
static int locked_write(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t val)
{
	uint8_t expected[8], desired[8];
	bool swapped;
	int rc;

	for (unsigned i = 0; i < size; i++) {
		expected[i] = (uint8_t)(x->lock_old >> (8 * i));
		desired[i] = (uint8_t)(val >> (8 * i));
	}
	rc = x86_linear_cmpxchg(x->cpu, x->mem, x->opaque, linear, expected, desired, size,
				&swapped);
	if (rc == 0 && !swapped)
		x->lock_lost = true;
	return rc;
}

int x86_rm_write(struct x86_exec *x, unsigned size, uint64_t val)
{
	uint64_t linear;
	int rc;

	if (x->in->mod == 3 || !x->in->has_modrm) {
		x86_reg_set(x, x->in->has_modrm ? x->in->rm : x->in->opreg, size, val);
		return 0;
	}
	rc = x86_ea_linear(x, size, X86_ACC_WRITE, &linear);
	if (rc)
		return rc;
	return x86_mem_write(x, linear, size, val);
}

static void set_sp(struct x86_exec *x, unsigned asize, uint64_t sp)
{
	uint64_t *r = &x->cpu->gpr[X86_RSP];

	if (asize == 2)
		*r = (*r & ~0xffffull) | (sp & 0xffff);
	else
		*r = sp & x86_size_mask(asize);
}

void x86_sp_add(struct x86_exec *x, uint64_t delta)
{
	unsigned asize = x86_stack_asize(x->cpu);

	set_sp(x, asize, x->cpu->gpr[X86_RSP] + delta);
}

/*
 * The stack is SS:rSP with the stack address size of SS.B (64-bit in 64-bit mode, SDM 6.2.3);
 * a push checks the new top against SS (#SS(0)) before rSP changes.
 */
int x86_push(struct x86_exec *x, unsigned size, uint64_t val)
{
	unsigned asize = x86_stack_asize(x->cpu);
	uint64_t sp = (x->cpu->gpr[X86_RSP] - size) & x86_size_mask(asize);
	int rc = x86_seg_write(x, X86_SEG_SS, sp, size, val);

	if (rc == 0)
		set_sp(x, asize, sp);
	return rc;
}

int x86_pop(struct x86_exec *x, unsigned size, uint64_t *val)
{
	unsigned asize = x86_stack_asize(x->cpu);
	uint64_t sp = x->cpu->gpr[X86_RSP] & x86_size_mask(asize);
	int rc = x86_seg_read(x, X86_SEG_SS, sp, size, val);

	if (rc == 0)
		set_sp(x, asize, sp + size);
	return rc;
}
