/*
 * A small x86-64 encoder for the translation cache (Intel SDM vol. 2 ch. 2 "Instruction Format":
 * REX 2.2.1, ModRM/SIB table 2-2/2-3). Only the forms the translator emits; internal to src/emu.
 *
 * Host registers are numbered as in ModRM (HR_RAX 0 .. HR_R15 15). Bytes go to [p, end); an
 * emitter that runs out of room sets full and drops the rest, and the caller discards the block.
 */
#ifndef HOSTVISOR_EMU_JIT_EMIT_H
#define HOSTVISOR_EMU_JIT_EMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum host_reg {
	HR_RAX,
	HR_RCX,
	HR_RDX,
	HR_RBX,
	HR_RSP,
	HR_RBP,
	HR_RSI,
	HR_RDI,
	HR_R8,
	HR_R9,
	HR_R10,
	HR_R11,
	HR_R12,
	HR_R13,
	HR_R14,
	HR_R15,
};

/* Condition codes of Jcc/SETcc/CMOVcc (SDM vol. 1 appendix B). */
#define CC_E 4u
#define CC_NE 5u

struct jit_emit {
	uint8_t *p, *start, *end;
	bool full;
};

static inline void eb(struct jit_emit *e, uint8_t b)
{
	if (e->p < e->end)
		*e->p++ = b;
	else
		e->full = true;
}

static inline void ed(struct jit_emit *e, uint32_t d)
{
	for (int i = 0; i < 4; i++)
		eb(e, (uint8_t)(d >> (8 * i)));
}

static inline void eq(struct jit_emit *e, uint64_t q)
{
	ed(e, (uint32_t)q);
	ed(e, (uint32_t)(q >> 32));
}

static inline bool fits_s8(int64_t v)
{
	return v >= -128 && v <= 127;
}

static inline bool fits_s32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

/* REX with W and the high bits of reg, index and base; nothing when it would be a bare 0x40. */
static inline void e_rex(struct jit_emit *e, bool w, unsigned reg, unsigned index, unsigned base)
{
	uint8_t r = (uint8_t)(0x40 | (w << 3) | ((reg >> 3) & 1) << 2 | ((index >> 3) & 1) << 1 |
			      ((base >> 3) & 1));

	if (r != 0x40)
		eb(e, r);
}

/* ModRM (and SIB, displacement) for reg, [base + index * 2^scale + disp]; index < 0: none. */
static inline void e_modrm_mem(struct jit_emit *e, unsigned reg, unsigned base, int index,
			       unsigned scale, int32_t disp)
{
	unsigned mod = disp == 0 && (base & 7) != HR_RBP ? 0 : fits_s8(disp) ? 1 : 2;

	if (index < 0 && (base & 7) != HR_RSP) {
		eb(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
	} else {
		eb(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
		eb(e, (uint8_t)(scale << 6 | ((index < 0 ? HR_RSP : (unsigned)index) & 7) << 3 |
				(base & 7)));
	}
	if (mod == 1)
		eb(e, (uint8_t)disp);
	else if (mod == 2)
		ed(e, (uint32_t)disp);
}

/* op reg, [base + disp] with a one- or two-byte opcode (0x0f first) and REX.W = w. */
static inline void e_op_mem(struct jit_emit *e, bool w, unsigned opc, unsigned reg, unsigned base,
			    int32_t disp)
{
	e_rex(e, w, reg, 0, base);
	if (opc > 0xff)
		eb(e, (uint8_t)(opc >> 8));
	eb(e, (uint8_t)opc);
	e_modrm_mem(e, reg, base, -1, 0, disp);
}

/* op reg, [base + index * 2^scale + disp]. */
static inline void e_op_mem_index(struct jit_emit *e, bool w, unsigned opc, unsigned reg,
				  unsigned base, unsigned index, unsigned scale, int32_t disp)
{
	e_rex(e, w, reg, index, base);
	if (opc > 0xff)
		eb(e, (uint8_t)(opc >> 8));
	eb(e, (uint8_t)opc);
	e_modrm_mem(e, reg, base, (int)index, scale, disp);
}

/* op reg, rm with two registers (mod 11). */
static inline void e_op_rr(struct jit_emit *e, bool w, unsigned opc, unsigned reg, unsigned rm)
{
	e_rex(e, w, reg, 0, rm);
	if (opc > 0xff)
		eb(e, (uint8_t)(opc >> 8));
	eb(e, (uint8_t)opc);
	eb(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

static inline void e_load(struct jit_emit *e, unsigned reg, unsigned base, int32_t disp)
{
	e_op_mem(e, true, 0x8b, reg, base, disp); /* mov reg, [base + disp] */
}

static inline void e_store(struct jit_emit *e, unsigned base, int32_t disp, unsigned reg)
{
	e_op_mem(e, true, 0x89, reg, base, disp); /* mov [base + disp], reg */
}

static inline void e_mov_imm(struct jit_emit *e, unsigned reg, uint64_t imm)
{
	if (imm <= UINT32_MAX) { /* mov r32, imm32 zero-extends */
		e_rex(e, false, 0, 0, reg);
		eb(e, (uint8_t)(0xb8 | (reg & 7)));
		ed(e, (uint32_t)imm);
		return;
	}
	if (fits_s32((int64_t)imm)) { /* mov r/m64, simm32 */
		e_op_rr(e, true, 0xc7, 0, reg);
		ed(e, (uint32_t)imm);
		return;
	}
	e_rex(e, true, 0, 0, reg);
	eb(e, (uint8_t)(0xb8 | (reg & 7)));
	eq(e, imm);
}

/* mov qword [base + disp], imm (through scratch when it does not fit a simm32). */
static inline void e_store_imm(struct jit_emit *e, unsigned base, int32_t disp, uint64_t imm,
			       unsigned scratch)
{
	if (fits_s32((int64_t)imm)) {
		e_op_mem(e, true, 0xc7, 0, base, disp);
		ed(e, (uint32_t)imm);
		return;
	}
	e_mov_imm(e, scratch, imm);
	e_store(e, base, disp, scratch);
}

/* Group-1 ALU (digit: 0 ADD 1 OR 4 AND 5 SUB 6 XOR 7 CMP) of a register with an immediate. */
static inline void e_alu_ri(struct jit_emit *e, bool w, unsigned digit, unsigned reg, int32_t imm)
{
	if (fits_s8(imm)) {
		e_op_rr(e, w, 0x83, digit, reg);
		eb(e, (uint8_t)imm);
	} else {
		e_op_rr(e, w, 0x81, digit, reg);
		ed(e, (uint32_t)imm);
	}
}

/* Group-1 ALU of memory [base + disp] with an immediate. */
static inline void e_alu_mi(struct jit_emit *e, bool w, unsigned digit, unsigned base,
			    int32_t disp, int32_t imm)
{
	if (fits_s8(imm)) {
		e_op_mem(e, w, 0x83, digit, base, disp);
		eb(e, (uint8_t)imm);
	} else {
		e_op_mem(e, w, 0x81, digit, base, disp);
		ed(e, (uint32_t)imm);
	}
}

/* Shift group (digit 4 SHL, 5 SHR, 7 SAR) of a register by an immediate. */
static inline void e_shift_ri(struct jit_emit *e, bool w, unsigned digit, unsigned reg,
			      uint8_t count)
{
	e_op_rr(e, w, 0xc1, digit, reg);
	eb(e, count);
}

/* A rel32 jump or Jcc whose target is patched later: returns where the rel32 is. */
static inline uint8_t *e_jmp32(struct jit_emit *e)
{
	eb(e, 0xe9);
	ed(e, 0);
	return e->p - 4;
}

static inline uint8_t *e_jcc32(struct jit_emit *e, unsigned cc)
{
	eb(e, 0x0f);
	eb(e, (uint8_t)(0x80 | cc));
	ed(e, 0);
	return e->p - 4;
}

/* Points the rel32 at at to target (both in the same buffer; a dropped emit is left alone). */
static inline void e_patch(struct jit_emit *e, uint8_t *at, const uint8_t *target)
{
	int32_t rel;

	if (e->full || !at || at + 4 > e->end)
		return;
	rel = (int32_t)(target - (at + 4));
	memcpy(at, &rel, 4);
}

/* A jmp rel32 to a known place. */
static inline void e_jmp_to(struct jit_emit *e, const uint8_t *target)
{
	uint8_t *at = e_jmp32(e);

	e_patch(e, at, target);
}

static inline void e_jcc_to(struct jit_emit *e, unsigned cc, const uint8_t *target)
{
	uint8_t *at = e_jcc32(e, cc);

	e_patch(e, at, target);
}

#endif
