/*
 * The emu engine's CPU: fetch, decode, operand access and dispatch of one instruction
 * (Intel SDM vol. 1 ch. 3, vol. 2 ch. 2 and 3.1; AMD APM vol. 1 ch. 2-3).
 */
#include <string.h>

#include "exec_internal.h"


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

/*
 * Effective address plus segment base (SDM 3.7.5). In 64-bit mode only FS and GS have a base;
 * the ES/CS/SS/DS overrides are ignored (SDM 3.3.7.1). No limit checks in this step.
 */
uint64_t x86_ea(const struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	uint64_t ea = x86_ea_offset(x);

	if (in->seg == X86_SEG_FS || in->seg == X86_SEG_GS)
		ea += x->cpu->seg[in->seg].base;
	return ea;
}

/* The offset part alone (what LEA stores), truncated to the address size (SDM 3.7.5). */
uint64_t x86_ea_offset(const struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	const uint64_t *g = x->cpu->gpr;
	uint64_t ea = (uint64_t)in->disp;

	if (in->rip_rel) {
		ea += x->next_rip;
	} else if (in->has_sib) {
		if (!in->no_base)
			ea += g[in->base];
		if (!in->no_index)
			ea += g[in->index] << in->scale;
	} else {
		ea += g[in->rm];
	}
	if (in->addrsize == 4)
		ea &= 0xffffffffull;
	return ea;
}

int x86_lin_read(struct x86_exec *x, uint64_t linear, void *buf, size_t len, unsigned acc)
{
	return x86_linear_read(x->cpu, x->mem, x->opaque, linear, buf, len, acc);
}

int x86_lin_write(struct x86_exec *x, uint64_t linear, const void *buf, size_t len, unsigned acc)
{
	return x86_linear_write(x->cpu, x->mem, x->opaque, linear, buf, len, acc);
}

int x86_mem_read(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t *val)
{
	uint8_t b[8];
	uint64_t v = 0;
	int rc = x86_lin_read(x, linear, b, size, X86_ACC_READ);

	if (rc)
		return rc;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	*val = v;
	return 0;
}

int x86_mem_write(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t val)
{
	uint8_t b[8];

	for (unsigned i = 0; i < size; i++)
		b[i] = (uint8_t)(val >> (8 * i));
	return x86_lin_write(x, linear, b, size, X86_ACC_WRITE);
}

int x86_rm_read(struct x86_exec *x, unsigned size, uint64_t *val)
{
	uint64_t linear;
	int rc;

	if (x->in->mod == 3) {
		*val = x86_reg_get(x, x->in->rm, size);
		return 0;
	}
	linear = x86_ea(x);
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

	if (x->in->mod == 3) {
		x86_reg_set(x, x->in->rm, size, val);
		return 0;
	}
	linear = x86_ea(x);
	if (x->locked && linear == x->lock_addr)
		return locked_write(x, linear, size, val);
	return x86_mem_write(x, linear, size, val);
}

/* The stack is SS:RSP, 64-bit in 64-bit mode; SS base is 0 there (SDM 6.2, 3.3.7.1). */
int x86_push(struct x86_exec *x, unsigned size, uint64_t val)
{
	uint64_t rsp = x->cpu->gpr[X86_RSP] - size;
	int rc = x86_mem_write(x, rsp, size, val);

	if (rc == 0)
		x->cpu->gpr[X86_RSP] = rsp;
	return rc;
}

int x86_pop(struct x86_exec *x, unsigned size, uint64_t *val)
{
	uint64_t rsp = x->cpu->gpr[X86_RSP];
	int rc = x86_mem_read(x, rsp, size, val);

	if (rc == 0)
		x->cpu->gpr[X86_RSP] = rsp + size;
	return rc;
}
