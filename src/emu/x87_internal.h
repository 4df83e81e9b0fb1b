/*
 * Shared by the emu CPU's x87 files (exec_x87.c, x87_arith.c, exec_fxsr.c); not public API.
 *
 * The x87 data and arithmetic instructions are executed on the host's own x87 unit (x87_arith.c)
 * so that results, rounding, C0-C3 and every exception flag are those of real hardware: the
 * guest's x87 registers, FCW, FSW and tags are loaded into the host FPU, the same instruction
 * form runs there (its memory operand in a host buffer), and the state is saved back.
 */
#ifndef HOSTVISOR_EMU_X87_INTERNAL_H
#define HOSTVISOR_EMU_X87_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "exec_internal.h"

/* FSW bits (SDM 8.1.3). */
#define X87_FSW_IE 0x0001u
#define X87_FSW_DE 0x0002u
#define X87_FSW_ZE 0x0004u
#define X87_FSW_OE 0x0008u
#define X87_FSW_UE 0x0010u
#define X87_FSW_PE 0x0020u
#define X87_FSW_SF 0x0040u
#define X87_FSW_ES 0x0080u
#define X87_FSW_C0 0x0100u
#define X87_FSW_C1 0x0200u
#define X87_FSW_C2 0x0400u
#define X87_FSW_TOP_SHIFT 11
#define X87_FSW_TOP (7u << X87_FSW_TOP_SHIFT)
#define X87_FSW_C3 0x4000u
#define X87_FSW_B 0x8000u
#define X87_EXC_MASK 0x3fu /* the six exception flags / masks */

/* FCW: the bits that exist (SDM 8.1.5); bit 6 reads as 1. */
#define X87_FCW_VALID 0x1f3fu
#define X87_FCW_FIXED1 0x0040u

/* The x87 part of struct x86_fpu that an instruction works on (physical registers). */
struct x87_regs {
	uint16_t fcw, fsw;
	uint8_t ftw; /* abridged: bit i set = R(i) not empty */
	struct x86_f80 fpr[8];
};

/*
 * Host entry points (x87_arith.c): a register form is opcode D8+esc with ModRM C0-FF, a memory
 * form opcode D8+esc with ModRM.reg = reg and the operand at *mem (up to 10 bytes).
 */
#define X87_HOST_REG(esc, modrm) ((unsigned)(esc) * 64u + ((modrm)&0x3fu))
#define X87_HOST_MEM(esc, reg) (512u + (unsigned)(esc) * 8u + ((reg)&7u))

/*
 * Runs the host entry on r (in/out) with mem as the memory operand. rflags supplies and
 * returns CF PF AF ZF SF OF (FCOMI and friends). The host FPU is left as it was found
 * (initialised, FCW restored). r->fsw must have no unmasked exception pending.
 */
uint64_t x87_host_run(struct x87_regs *r, unsigned entry, void *mem, uint64_t rflags);

/* ES and B from the exception flags and the masks (SDM 8.1.3.4). */
static inline uint16_t x87_fsw_summary(uint16_t fsw, uint16_t fcw)
{
	fsw &= (uint16_t) ~(X87_FSW_ES | X87_FSW_B);
	if (fsw & ~fcw & X87_EXC_MASK)
		fsw |= X87_FSW_ES | X87_FSW_B;
	return fsw;
}

static inline unsigned x87_top(uint16_t fsw)
{
	return (fsw >> X87_FSW_TOP_SHIFT) & 7u;
}

/* The full 2-bit tag of a non-empty register from its contents (SDM 8.1.7). */
unsigned x87_tag_of(const struct x86_f80 *f);
/* The full tag word from the abridged one and the registers. */
uint16_t x87_full_tag(const struct x86_fpu *fpu);
/* The abridged tag from a full tag word: empty only for 11b. */
uint8_t x87_abridged_tag(uint16_t ftw);

/* exec_x87.c: #NM for CR0.EM/TS, then (waiting forms) #MF for a pending exception. */
int x87_fpu_check(struct x86_exec *x, bool waiting);
/* FNINIT's state (SDM vol. 2 FINIT). */
void x87_fninit(struct x86_fpu *f);

/* exec_fxsr.c: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, FNSTENV, FLDENV, FNSAVE, FRSTOR. */
int x86_exec_fxsr(struct x86_exec *x);

#endif
