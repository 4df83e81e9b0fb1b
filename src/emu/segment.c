/*
 * Segment registers, descriptors and the stacks of far transfers and event delivery of the emu
 * CPU (Intel SDM vol. 3A ch. 3 "Protected-Mode Memory Management", ch. 5 "Protection", 6.12,
 * 7.2.3; vol. 2 "MOV", "POP"; AMD APM vol. 2 ch. 4).
 *
 * Descriptor-table reads and the accessed/busy bit updates are implicit supervisor accesses
 * (SDM 4.6): they go through the MMU with X86_ACC_SUPERVISOR, whatever the CPL.
 */
#include "exec_internal.h"

#include "hostvisor/x86_mmu.h"

int x86_fault(struct x86_cpu *cpu, int exc, uint32_t error_code)
{
	cpu->fault_error_code = error_code;
	return exc;
}

bool x86_long_mode(const struct x86_cpu *cpu)
{
	return (cpu->efer & X86_EFER_LMA) != 0;
}

bool x86_is_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Base, limit (scaled by G) and attributes of a code/data or system descriptor (SDM 3.4.5). */
static uint32_t desc_base(uint64_t d)
{
	return (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000));
}

uint32_t x86_desc_limit(uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));

	if (d & (1ull << 55))
		limit = (limit << 12) | 0xfff;
	return limit;
}

uint32_t x86_desc_attr(uint64_t d)
{
	return (uint32_t)(((d >> 40) & 0xff) | ((d >> 44) & 0xf00));
}

void x86_seg_from_descriptor(struct x86_segment *s, uint16_t selector, uint64_t desc)
{
	s->selector = selector;
	s->base = desc_base(desc);
	s->limit = x86_desc_limit(desc);
	s->attr = x86_desc_attr(desc);
}

/*
 * Real mode and virtual-8086 mode: base = selector << 4 (SDM 20.1.1). Virtual-8086 mode also
 * makes every segment a 64 KiB read/write DPL 3 segment (SDM 20.2.1).
 */
void x86_seg_load_real(struct x86_segment *s, uint16_t selector)
{
	s->selector = selector;
	s->base = (uint64_t)selector << 4;
}

/* A null selector in a data segment register (SDM 3.4.2): unusable; Intel clears the base. */
void x86_seg_load_null(struct x86_segment *s, uint16_t selector)
{
	s->selector = selector;
	s->base = 0;
	s->limit = 0;
	s->attr = X86_SEGA_UNUSABLE | ((selector & 3u) << X86_SEGA_DPL_SHIFT);
}

/* Reads len (8 or 16) bytes of the GDT or LDT entry of selector; #GP(selector) past the limit. */
static int read_table_entry(struct x86_exec *x, uint16_t selector, uint64_t *desc, unsigned len)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t base, offset = selector & 0xfff8u;
	uint32_t limit;
	uint8_t b[16];
	int rc;

	if (selector & 4) {
		if (cpu->ldtr.attr & X86_SEGA_UNUSABLE || !(cpu->ldtr.attr & X86_SEGA_P))
			return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
		base = cpu->ldtr.base;
		limit = cpu->ldtr.limit;
	} else {
		base = cpu->gdtr.base;
		limit = cpu->gdtr.limit;
	}
	if (offset + len - 1 > limit)
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	base += offset;
	if (!x86_long_mode(cpu))
		base &= 0xffffffffull;
	rc = x86_lin_read(x, base, b, len, X86_ACC_READ | X86_ACC_SUPERVISOR);
	if (rc)
		return rc;
	for (unsigned i = 0; i < len / 8; i++) {
		desc[i] = 0;
		for (unsigned j = 0; j < 8; j++)
			desc[i] |= (uint64_t)b[i * 8 + j] << (8 * j);
	}
	return 0;
}

int x86_read_descriptor(struct x86_exec *x, uint16_t selector, uint64_t *desc)
{
	return read_table_entry(x, selector, desc, 8);
}

/*
 * System descriptors (LDT, TSS, call gates) are 16 bytes in IA-32e mode (SDM 7.2.3, 5.8.3.1);
 * the upper half must have a zero type field, else #GP(selector).
 */
int x86_read_system_descriptor(struct x86_exec *x, uint16_t selector, uint64_t desc[2])
{
	int rc;

	if (!x86_long_mode(x->cpu)) {
		desc[1] = 0;
		return read_table_entry(x, selector, desc, 8);
	}
	rc = read_table_entry(x, selector, desc, 16);
	if (rc == 0 && ((desc[1] >> 40) & 0x1f) != 0)
		return x86_fault(x->cpu, X86_EXC_GP, selector & 0xfffc);
	return rc;
}

/* Sets bit mask in byte 5 (type) of the descriptor (accessed: 1, TSS busy: 2) if it is clear. */
int x86_desc_set_type_bit(struct x86_exec *x, uint16_t selector, uint64_t *desc, uint8_t mask)
{
	const struct x86_segment *table = (selector & 4) ? &x->cpu->ldtr : NULL;
	uint64_t linear = (table ? table->base : x->cpu->gdtr.base) + (selector & 0xfff8u) + 5;
	uint8_t type = (uint8_t)(*desc >> 40);
	int rc;

	if (type & mask)
		return 0;
	if (!x86_long_mode(x->cpu))
		linear &= 0xffffffffull;
	type |= mask;
	rc = x86_lin_write(x, linear, &type, 1, X86_ACC_WRITE | X86_ACC_SUPERVISOR);
	if (rc == 0)
		*desc |= (uint64_t)mask << 40;
	return rc;
}

/* SDM "MOV" (protected mode): the checks of an SS load, without committing anything. */
static int check_stack_seg(struct x86_exec *x, uint16_t selector, uint64_t desc)
{
	struct x86_cpu *cpu = x->cpu;
	uint32_t attr = x86_desc_attr(desc);
	unsigned dpl = (attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;
	bool writable_data = (attr & X86_SEGA_S) && (attr & 0xa) == 0x2;

	if ((selector & 3u) != cpu->cpl || !writable_data || dpl != cpu->cpl)
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_SS, selector & 0xfffc);
	return 0;
}

/* ES/DS/FS/GS: data or readable code, privilege unless conforming, present (#NP). */
static int check_data_seg(struct x86_exec *x, uint16_t selector, uint64_t desc)
{
	struct x86_cpu *cpu = x->cpu;
	uint32_t attr = x86_desc_attr(desc);
	unsigned dpl = (attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;
	bool code = (attr & 0x8) != 0;
	bool conforming = code && (attr & 0x4);

	if (!(attr & X86_SEGA_S) || (code && !(attr & 0x2)))
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	if (!conforming && ((selector & 3u) > dpl || cpu->cpl > dpl))
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_NP, selector & 0xfffc);
	return 0;
}

int x86_seg_prepare_data(struct x86_exec *x, enum x86_seg seg, uint16_t selector,
			 struct x86_segment *out)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t desc;
	int rc;

	if (!(cpu->cr0 & X86_CR0_PE) || (cpu->rflags & X86_FLAG_VM)) {
		*out = cpu->seg[seg];
		x86_seg_load_real(out, selector);
		return 0;
	}
	if ((selector & 0xfffc) == 0) {
		/* SS may be null only in 64-bit mode at CPL < 3 with RPL = CPL (SDM "MOV"). */
		if (seg == X86_SEG_SS && (cpu->mode != X86_MODE_LONG64 || cpu->cpl == 3 ||
					  (selector & 3u) != cpu->cpl))
			return x86_fault(cpu, X86_EXC_GP, 0);
		x86_seg_load_null(out, selector);
		return 0;
	}
	rc = x86_read_descriptor(x, selector, &desc);
	if (rc)
		return rc;
	rc = seg == X86_SEG_SS ? check_stack_seg(x, selector, desc)
			       : check_data_seg(x, selector, desc);
	if (rc)
		return rc;
	rc = x86_desc_set_type_bit(x, selector, &desc, X86_SEGA_ACCESSED);
	if (rc)
		return rc;
	x86_seg_from_descriptor(out, selector, desc);
	return 0;
}

int x86_load_data_seg(struct x86_exec *x, enum x86_seg seg, uint16_t selector)
{
	struct x86_segment s;
	int rc = x86_seg_prepare_data(x, seg, selector, &s);

	if (rc == 0)
		x->cpu->seg[seg] = s;
	return rc;
}

/*
 * After a return to an outer privilege level, data segment registers the new CPL may not use
 * are nulled (SDM "RET" and "IRET": data or non-conforming code with DPL < CPL).
 */
void x86_seg_null_inaccessible(struct x86_cpu *cpu)
{
	static const enum x86_seg segs[] = {X86_SEG_ES, X86_SEG_DS, X86_SEG_FS, X86_SEG_GS};

	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		struct x86_segment *s = &cpu->seg[segs[i]];
		unsigned dpl = (s->attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;
		bool conforming_code = (s->attr & 0xc) == 0xc;

		if (s->attr & X86_SEGA_UNUSABLE)
			continue;
		if ((s->attr & X86_SEGA_S) && !conforming_code && dpl < cpu->cpl)
			x86_seg_load_null(s, 0);
	}
}

/* ---- stacks ---- */

void x86_stack_init(struct x86_stack *st, const struct x86_cpu *cpu, const struct x86_segment *ss,
		    uint64_t rsp, bool long64, unsigned cpl, uint32_t err)
{
	st->long64 = long64;
	st->base = long64 ? 0 : ss->base;
	st->limit = ss->limit;
	st->expand_down = (ss->attr & 0xc) == 0x4; /* data, expand-down */
	if (long64)
		st->mask = ~0ull;
	else if ((ss->attr & X86_SEGA_DB) && !(cpu->rflags & X86_FLAG_VM))
		st->mask = 0xffffffffull;
	else
		st->mask = 0xffff;
	st->sp = rsp & st->mask;
	st->acc = cpl < 3 ? X86_ACC_SUPERVISOR : 0;
	st->err = err;
	st->count = 0;
}

/* The linear address of [off, off + size) on the stack, or #SS(err) (SDM 6.3, 5.3). */
static int stack_linear(struct x86_cpu *cpu, const struct x86_stack *st, uint64_t off,
			unsigned size, uint64_t *linear)
{
	uint64_t last = off + size - 1;

	if (st->long64) {
		if (!x86_is_canonical(off) || !x86_is_canonical(last))
			return x86_fault(cpu, X86_EXC_SS, st->err);
		*linear = off;
		return 0;
	}
	if (last > st->mask)
		return x86_fault(cpu, X86_EXC_SS, st->err);
	if (st->expand_down ? (off <= st->limit) : (last > st->limit))
		return x86_fault(cpu, X86_EXC_SS, st->err);
	*linear = (st->base + off) & 0xffffffffull;
	return 0;
}

int x86_stack_push(struct x86_cpu *cpu, struct x86_stack *st, unsigned size, uint64_t val)
{
	uint64_t off = (st->sp - size) & st->mask, linear;
	int rc;

	if (st->count >= X86_STACK_MAX_ITEMS)
		return x86_fault(cpu, X86_EXC_SS, st->err);
	rc = stack_linear(cpu, st, off, size, &linear);
	if (rc)
		return rc;
	st->item[st->count].linear = linear;
	st->item[st->count].val = val;
	st->item[st->count].size = (uint8_t)size;
	st->count++;
	st->sp = off;
	return 0;
}

int x86_stack_pop(struct x86_exec *x, struct x86_stack *st, unsigned size, uint64_t *val)
{
	uint64_t linear;
	uint8_t b[8];
	int rc = stack_linear(x->cpu, st, st->sp, size, &linear);

	if (rc)
		return rc;
	rc = x86_lin_read(x, linear, b, size, X86_ACC_READ | st->acc);
	if (rc)
		return rc;
	*val = 0;
	for (unsigned i = 0; i < size; i++)
		*val |= (uint64_t)b[i] << (8 * i);
	st->sp = (st->sp + size) & st->mask;
	return 0;
}

/* Every pushed item's pages are translated for writing before the first byte is stored. */
int x86_stack_write(struct x86_exec *x, struct x86_stack *st)
{
	unsigned acc = X86_ACC_WRITE | st->acc;
	uint64_t phys;
	uint8_t b[8];
	int rc;

	for (unsigned i = 0; i < st->count; i++) {
		uint64_t lin = st->item[i].linear;

		rc = x86_mmu_translate(x->cpu, x->mem, x->opaque, lin, acc, &phys, NULL);
		if (rc == 0)
			rc = x86_mmu_translate(x->cpu, x->mem, x->opaque,
					       lin + st->item[i].size - 1, acc, &phys, NULL);
		if (rc)
			return rc;
	}
	for (unsigned i = 0; i < st->count; i++) {
		for (unsigned j = 0; j < st->item[i].size; j++)
			b[j] = (uint8_t)(st->item[i].val >> (8 * j));
		rc = x86_lin_write(x, st->item[i].linear, b, st->item[i].size, acc);
		if (rc)
			return rc;
	}
	st->count = 0;
	return 0;
}

/* RSP after the stack operations: SP only for a 16-bit stack (SDM 6.2.3). */
uint64_t x86_stack_rsp(const struct x86_stack *st, uint64_t old_rsp)
{
	if (st->mask == 0xffff)
		return (old_rsp & ~0xffffull) | st->sp;
	return st->sp;
}

/* The current stack (SS:RSP) at the current CPL. */
void x86_stack_current(struct x86_stack *st, const struct x86_cpu *cpu)
{
	x86_stack_init(st, cpu, &cpu->seg[X86_SEG_SS], cpu->gpr[X86_RSP],
		       cpu->mode == X86_MODE_LONG64, cpu->cpl, 0);
}

/* ---- far returns (SDM "RET" and "IRET" protected-mode sections) ---- */

int x86_check_return_cs(struct x86_exec *x, uint16_t selector, uint64_t *desc)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned rpl = selector & 3u, dpl;
	uint32_t attr;
	int rc;

	if ((selector & 0xfffc) == 0)
		return x86_fault(cpu, X86_EXC_GP, 0);
	rc = x86_read_descriptor(x, selector, desc);
	if (rc)
		return rc;
	attr = x86_desc_attr(*desc);
	dpl = (attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT;
	if ((attr & 0x18) != 0x18 || rpl < cpu->cpl)
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	if ((attr & 0x4) ? dpl > rpl : dpl != rpl)
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_NP, selector & 0xfffc);
	if (x86_long_mode(cpu) && (attr & X86_SEGA_L) && (attr & X86_SEGA_DB))
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	return 0;
}

int x86_prepare_return_ss(struct x86_exec *x, uint16_t selector, unsigned rpl, bool to64,
			  struct x86_segment *out)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t desc;
	uint32_t attr;
	int rc;

	if ((selector & 0xfffc) == 0) {
		/* A null SS is allowed for a return to 64-bit code at CPL < 3 (SDM "IRET"). */
		if (!to64 || rpl == 3 || (selector & 3u) != rpl)
			return x86_fault(cpu, X86_EXC_GP, 0);
		x86_seg_load_null(out, selector);
		return 0;
	}
	rc = x86_read_descriptor(x, selector, &desc);
	if (rc)
		return rc;
	attr = x86_desc_attr(desc);
	if ((selector & 3u) != rpl || (attr & 0x1a) != 0x12 ||
	    ((attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT) != rpl)
		return x86_fault(cpu, X86_EXC_GP, selector & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_SS, selector & 0xfffc);
	rc = x86_desc_set_type_bit(x, selector, &desc, X86_SEGA_ACCESSED);
	if (rc)
		return rc;
	x86_seg_from_descriptor(out, selector, desc);
	return 0;
}

/* Is a far transfer to this code descriptor a transfer to 64-bit code (IA-32e mode, L)? */
bool x86_desc_is_64bit_code(const struct x86_cpu *cpu, uint64_t desc)
{
	return x86_long_mode(cpu) && (x86_desc_attr(desc) & X86_SEGA_L);
}

/* The new RIP of a far transfer: canonical for 64-bit code, else within the limit (#GP(0)). */
int x86_check_far_ip(struct x86_cpu *cpu, uint64_t desc, uint64_t ip)
{
	if (x86_desc_is_64bit_code(cpu, desc))
		return x86_is_canonical(ip) ? 0 : x86_fault(cpu, X86_EXC_GP, 0);
	return ip > x86_desc_limit(desc) ? x86_fault(cpu, X86_EXC_GP, 0) : 0;
}

/* Loads CS from a checked descriptor at privilege cpl (RPL := CPL) and updates the mode. */
void x86_commit_cs(struct x86_exec *x, uint16_t selector, uint64_t desc, unsigned cpl)
{
	struct x86_cpu *cpu = x->cpu;

	x86_seg_from_descriptor(&cpu->seg[X86_SEG_CS], (uint16_t)((selector & 0xfffc) | cpl),
				desc);
	cpu->seg[X86_SEG_CS].attr |= X86_SEGA_ACCESSED;
	cpu->cpl = (uint8_t)cpl;
	x86_update_mode(cpu);
	x->sys_changed = true;
}
