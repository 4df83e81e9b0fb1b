/* Shared between the decoder and its opcode tables; not part of the public API. */
#ifndef HOSTVISOR_EMU_DECODE_INTERNAL_H
#define HOSTVISOR_EMU_DECODE_INTERNAL_H

#include "hostvisor/x86_decode.h"

/* Descriptor flags. */
enum {
	D_M = 1u << 0,	    /* has a ModRM byte */
	D_IMM_SHIFT = 1,    /* 3-bit immediate kind */
	D_IB = 1u << 1,	    /* imm8 */
	D_IW = 2u << 1,	    /* imm16 */
	D_IZ = 3u << 1,	    /* imm16/32 by operand size (imm32 for 64-bit operands) */
	D_IV = 4u << 1,	    /* imm16/32/64 by operand size (B8+r) */
	D_IENTER = 5u << 1, /* imm16 then imm8 */
	D_IFAR = 6u << 1,   /* offset16/32 then selector16 */
	D_IMOFFS = 7u << 1, /* offset by address size */
	D_IMM_MASK = 7u << 1,
	D_INV64 = 1u << 4, /* #UD in 64-bit mode */
	D_DEF64 = 1u << 5, /* operand size 64 by default in 64-bit mode (0x66 gives 16) */
	D_F64 = 1u << 6,   /* operand size always 64 in 64-bit mode (Intel) */
	D_LOCK = 1u << 7,  /* LOCK allowed with a memory destination */
	D_BYTE = 1u << 8,  /* byte operands */
	D_MEM = 1u << 9,   /* ModRM must name memory (mod != 11) */
	D_REG = 1u << 10,  /* ModRM must name a register (mod == 11) */
	D_GRP = 1u << 11,  /* op is an x86_group index, resolved by ModRM.reg */
	D_SSE = 1u << 12,  /* resolved through x86_sse0f by the mandatory prefix */
	D_X87 = 1u << 13,  /* D8-DF */
	D_CRDR = 1u << 14, /* MOV to/from CRn/DRn: mod is ignored, always registers */
	D_GIMM = 1u << 15, /* group entry: Ib for byte forms, Iz otherwise (F6/F7 TEST) */
	D_ESC38 = 1u << 16,
	D_ESC3A = 1u << 17,
};

enum x86_group {
	X86_GRP_NONE,
	X86_GRP_1,
	X86_GRP_1A,
	X86_GRP_2,
	X86_GRP_3,
	X86_GRP_4,
	X86_GRP_5,
	X86_GRP_6,
	X86_GRP_7,
	X86_GRP_8,
	X86_GRP_9,
	X86_GRP_11,
	X86_GRP_12,
	X86_GRP_13,
	X86_GRP_14,
	X86_GRP_15,
	X86_GRP_16,
	X86_GRP_COUNT,
};

struct x86_opdesc {
	uint16_t op;
	uint32_t flags;
};

struct x86_sse_desc {
	struct x86_opdesc v[4]; /* none, 66, F3, F2 */
};

struct x86_group_desc {
	struct x86_opdesc mem[8]; /* by ModRM.reg, memory operand */
	struct x86_opdesc reg[8]; /* by ModRM.reg, mod=11 */
};

extern const struct x86_opdesc x86_map1[256];
extern const struct x86_opdesc x86_map0f[256];
extern const struct x86_sse_desc x86_sse0f[256];
extern const struct x86_group_desc x86_groups[X86_GRP_COUNT];
extern const uint16_t x86_x87_mem[8][8];
extern const uint16_t x86_x87_reg[8][8];
extern const uint16_t x86_x87_d9[4][8];

#endif
