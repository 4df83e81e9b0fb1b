/*
 * The emu engine's CPU: architectural state and one-instruction execution (Intel SDM vol. 1
 * ch. 3 "Basic Execution Environment", vol. 2 instruction pages; AMD APM vol. 1 ch. 2-3).
 *
 * It executes the user-level integer, control-flow and string instructions in 64-bit mode (see
 * x86_step). There is no
 * paging and no segment limit check yet: every access goes through struct x86_mem_ops with a
 * linear address, so a test can give a flat buffer.
 */
#ifndef HOSTVISOR_X86_CPU_H
#define HOSTVISOR_X86_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "hostvisor/x86_decode.h"

/* GPR numbers as encoded in ModRM/SIB/opcode with REX (SDM table 3-1). */
enum x86_gpr {
	X86_RAX,
	X86_RCX,
	X86_RDX,
	X86_RBX,
	X86_RSP,
	X86_RBP,
	X86_RSI,
	X86_RDI,
	X86_R8,
	X86_R9,
	X86_R10,
	X86_R11,
	X86_R12,
	X86_R13,
	X86_R14,
	X86_R15,
	X86_GPR_COUNT,
};

/* RFLAGS bits (SDM 3.4.3). */
#define X86_FLAG_CF (1ull << 0)
#define X86_FLAG_FIXED1 (1ull << 1) /* always 1 */
#define X86_FLAG_PF (1ull << 2)
#define X86_FLAG_AF (1ull << 4)
#define X86_FLAG_ZF (1ull << 6)
#define X86_FLAG_SF (1ull << 7)
#define X86_FLAG_TF (1ull << 8)
#define X86_FLAG_IF (1ull << 9)
#define X86_FLAG_DF (1ull << 10)
#define X86_FLAG_OF (1ull << 11)
#define X86_FLAGS_ARITH                                                                            \
	(X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF)

/*
 * Exceptions x86_step and the memory callbacks return: X86_EXC(vector), never 0, so that
 * vector 0 (#DE) is distinct from success.
 */
#define X86_EXC(vector) (0x100 | (vector))
#define X86_EXC_VECTOR(exc) ((exc)&0xff)
#define X86_EXC_DE X86_EXC(0)
#define X86_EXC_UD X86_EXC(6)
#define X86_EXC_SS X86_EXC(12)
#define X86_EXC_GP X86_EXC(13)
#define X86_EXC_PF X86_EXC(14)

struct x86_segment {
	uint16_t selector;
	uint64_t base;
};

struct x86_cpu {
	uint64_t gpr[X86_GPR_COUNT];
	uint64_t rip;
	uint64_t rflags;
	struct x86_segment seg[X86_SEG_NONE]; /* by enum x86_seg: ES CS SS DS FS GS */
	enum x86_mode mode;
	/* Control registers, MSRs, x87/SSE state: later steps. */
};

/*
 * Linear-address memory access. Each returns 0 or an X86_EXC_* (e.g. X86_EXC_PF) that x86_step
 * hands back unchanged; the callback records fault details (CR2, error code) in its own state.
 * An access is never split by x86_step; len is 1..16.
 */
struct x86_mem_ops {
	int (*read)(void *opaque, uint64_t linear, void *buf, size_t len);
	int (*write)(void *opaque, uint64_t linear, const void *buf, size_t len);
};

/* Power-on-like state for 64-bit user code: all zero, RFLAGS 2, mode 64-bit. */
void x86_cpu_init(struct x86_cpu *cpu);

/*
 * Fetch, decode and execute one instruction at cpu->rip. Returns 0, or an X86_EXC_* with the
 * architectural state unchanged (faults are reported before anything is committed; a memory
 * write is always the last thing an instruction does before its register updates). A REP string
 * instruction runs at most 4096 iterations per call and then leaves RIP on itself, as an
 * interrupted REP does, so a hostile RCX cannot hold the caller.
 *
 * Implemented so far, in 64-bit mode only: ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT
 * MUL IMUL DIV IDIV ROL ROR RCL RCR SHL SHR SAR SHLD SHRD MOV MOVZX MOVSX MOVSXD LEA XCHG
 * CMPXCHG XADD BSWAP BT BTS BTR BTC BSF BSR SETcc CMOVcc CBW/CWDE/CDQE CWD/CDQ/CQO CLC STC CMC
 * CLD STD NOP PAUSE PUSH POP; JMP Jcc CALL RET LOOP/LOOPE/LOOPNE JRCXZ; MOVS STOS LODS CMPS SCAS
 * with REP/REPE/REPNE; PUSHF POPF ENTER LEAVE XLAT. Everything else (and LOCK, other modes)
 * returns X86_EXC_UD until the engine grows it.
 */
int x86_step(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque);

#endif
