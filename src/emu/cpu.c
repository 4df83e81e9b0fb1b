/*
 * The emu engine's CPU: fetch, decode, operand access and dispatch of one instruction
 * (Intel SDM vol. 1 ch. 3, vol. 2 ch. 2 and 3.1; AMD APM vol. 1 ch. 2-3).
 */
#include <string.h>

#include "exec_internal.h"

void x86_cpu_init(struct x86_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->rflags = X86_FLAG_FIXED1;
	cpu->mode = X86_MODE_LONG64;
}

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

int x86_mem_read(struct x86_exec *x, uint64_t linear, unsigned size, uint64_t *val)
{
	uint8_t b[8];
	uint64_t v = 0;
	int rc = x->mem->read(x->opaque, linear, b, size);

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
	return x->mem->write(x->opaque, linear, b, size);
}

int x86_rm_read(struct x86_exec *x, unsigned size, uint64_t *val)
{
	if (x->in->mod == 3) {
		*val = x86_reg_get(x, x->in->rm, size);
		return 0;
	}
	return x86_mem_read(x, x86_ea(x), size, val);
}

int x86_rm_write(struct x86_exec *x, unsigned size, uint64_t val)
{
	if (x->in->mod == 3) {
		x86_reg_set(x, x->in->rm, size, val);
		return 0;
	}
	return x86_mem_write(x, x86_ea(x), size, val);
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

static int decode_result(int rc)
{
	if (rc > 0)
		return 0;
	return rc == X86_DECODE_GP ? X86_EXC_GP : X86_EXC_UD;
}

/*
 * Read and decode the instruction: 15 bytes at once, or byte by byte if that runs into a fault,
 * so that only a fault on a byte the instruction really has is reported. Returns 0 or X86_EXC_*.
 */
static int fetch_decode(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			struct x86_insn *in)
{
	uint8_t bytes[X86_MAX_INSN_LEN];
	size_t avail;
	int rc;

	if (mem->read(opaque, cpu->rip, bytes, sizeof(bytes)) == 0)
		return decode_result(x86_decode(bytes, sizeof(bytes), cpu->mode, in));
	for (avail = 1; avail <= sizeof(bytes); avail++) {
		rc = mem->read(opaque, cpu->rip + avail - 1, &bytes[avail - 1], 1);
		if (rc)
			return rc; /* a fetch fault from the memory callback */
		rc = x86_decode(bytes, avail, cpu->mode, in);
		if (rc != X86_DECODE_MORE)
			return decode_result(rc);
	}
	return X86_EXC_GP;
}

int x86_step(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque)
{
	int (*const units[])(struct x86_exec *) = {
	    x86_exec_alu, x86_exec_shift, x86_exec_muldiv, x86_exec_bit, x86_exec_move,
	    x86_exec_flow, x86_exec_string,
	};
	struct x86_insn in;
	struct x86_cpu saved = *cpu;
	struct x86_exec x = {.cpu = cpu, .mem = mem, .opaque = opaque, .in = &in};
	int rc;

	if (cpu->mode != X86_MODE_LONG64)
		return X86_EXC_UD; /* not in this step */
	rc = fetch_decode(cpu, mem, opaque, &in);
	if (rc)
		return rc;
	if (in.prefixes & X86_PFX_LOCK)
		return X86_EXC_UD; /* not in this step */
	x.next_rip = cpu->rip + in.len;
	rc = X86_EXEC_UNHANDLED;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && rc == X86_EXEC_UNHANDLED; i++)
		rc = units[i](&x);
	if (rc == X86_EXEC_UNHANDLED)
		rc = X86_EXC_UD; /* not in this step */
	if (rc) {
		*cpu = saved; /* a fault commits nothing */
		return rc;
	}
	cpu->rip = x.next_rip;
	return 0;
}
