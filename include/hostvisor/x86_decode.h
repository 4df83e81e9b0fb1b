/*
 * x86 instruction decoder for the emu engine (Intel SDM vol. 2 ch. 2 "Instruction Format",
 * appendix A "Opcode Map"; AMD APM vol. 3 ch. 1). It finds the length and the parts of one
 * instruction and names it; it does not execute anything. Only the CPU of DESIGN.md section 2
 * is decoded: instructions of features that CPU does not advertise decode as #UD.
 *
 * Where Intel and AMD differ, Intel is followed (e.g. near branches in 64-bit mode ignore 0x66).
 */
#ifndef HOSTVISOR_X86_DECODE_H
#define HOSTVISOR_X86_DECODE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Code-segment kind: decides default operand/address size and 64-bit rules. */
enum x86_mode {
	X86_MODE_REAL16,
	X86_MODE_PROT16,
	X86_MODE_PROT32,
	X86_MODE_LONG64,
};

/* Results of x86_decode besides a length of 1..15. */
#define X86_DECODE_MORE (-EAGAIN) /* the instruction runs past avail: fetch more and retry */
#define X86_DECODE_UD (-EILSEQ)	  /* invalid opcode: raise #UD */
#define X86_DECODE_GP (-E2BIG)	  /* longer than 15 bytes: raise #GP(0) (SDM 2.3.11) */

#define X86_MAX_INSN_LEN 15

enum x86_map {
	X86_MAP_1B,
	X86_MAP_0F,
	X86_MAP_0F38,
	X86_MAP_0F3A,
};

enum x86_seg {
	X86_SEG_ES,
	X86_SEG_CS,
	X86_SEG_SS,
	X86_SEG_DS,
	X86_SEG_FS,
	X86_SEG_GS,
	X86_SEG_NONE,
};

/* Every instruction of the emu CPU. Variants that differ only in operand form share a name. */
#define X86_OPS(X)                                                                                 \
	X(INVALID) X(ADD) X(OR) X(ADC) X(SBB) X(AND) X(SUB) X(XOR) X(CMP) X(PUSH) X(POP)          \
	X(PUSH_SEG) X(POP_SEG) X(DAA) X(DAS) X(AAA) X(AAS) X(INC) X(DEC) X(PUSHA) X(POPA)          \
	X(BOUND) X(ARPL) X(MOVSXD) X(IMUL) X(INS) X(OUTS) X(JCC) X(TEST) X(XCHG) X(MOV)            \
	X(MOV_FROM_SEG) X(MOV_TO_SEG) X(LEA) X(NOP) X(PAUSE) X(CBW) X(CWD) X(CALLF) X(FWAIT) \
	X(PUSHF) X(POPF) X(SAHF) X(LAHF) X(MOVS) X(CMPS) X(STOS) X(LODS) X(SCAS) X(ROL) X(ROR)     \
	X(RCL) X(RCR) X(SHL) X(SHR) X(SAR) X(RET) X(LES) X(LDS) X(ENTER) X(LEAVE) X(RETF) X(INT3)  \
	X(INT) X(INTO) X(IRET) X(AAM) X(AAD) X(XLAT) X(LOOPNE) X(LOOPE) X(LOOP) X(JCXZ) X(IN)      \
	X(OUT) X(CALL) X(JMP) X(JMPF) X(INT1) X(HLT) X(CMC) X(NOT) X(NEG) X(MUL) X(DIV) X(IDIV)    \
	X(CLC) X(STC) X(CLI) X(STI) X(CLD) X(STD)                                                  \
	/* 0F map: system and integer */                                                           \
	X(SLDT) X(STR) X(LLDT) X(LTR) X(VERR) X(VERW) X(SGDT) X(SIDT) X(LGDT) X(LIDT) X(SMSW)      \
	X(LMSW) X(INVLPG) X(SWAPGS) X(RDTSCP) X(LAR) X(LSL) X(SYSCALL) X(CLTS) X(SYSRET) X(INVD)   \
	X(WBINVD) X(UD0) X(UD1) X(UD2) X(PREFETCHW) X(PREFETCH) X(MOV_FROM_CR) X(MOV_FROM_DR)      \
	X(MOV_TO_CR) X(MOV_TO_DR) X(WRMSR) X(RDTSC) X(RDMSR) X(RDPMC) X(CMOVCC) X(SETCC) X(CPUID)  \
	X(BT) X(BTS) X(BTR) X(BTC) X(SHLD) X(SHRD) X(RSM) X(CMPXCHG) X(LSS) X(LFS) X(LGS)          \
	X(MOVZX) X(MOVSX) X(BSF) X(BSR) X(XADD) X(CMPXCHG8B) X(CMPXCHG16B) X(BSWAP) X(MOVNTI)      \
	X(FXSAVE) X(FXRSTOR) X(LDMXCSR) X(STMXCSR) X(CLFLUSH) X(LFENCE) X(MFENCE) X(SFENCE)        \
	/* x87 */                                                                                  \
	X(FADD) X(FMUL) X(FCOM) X(FCOMP) X(FSUB) X(FSUBR) X(FDIV) X(FDIVR) X(FLD) X(FST) X(FSTP)   \
	X(FLDENV) X(FLDCW) X(FNSTENV) X(FNSTCW) X(FXCH) X(FNOP) X(FCHS) X(FABS) X(FTST) X(FXAM)    \
	X(FLD1) X(FLDL2T) X(FLDL2E) X(FLDPI) X(FLDLG2) X(FLDLN2) X(FLDZ) X(F2XM1) X(FYL2X)         \
	X(FPTAN) X(FPATAN) X(FXTRACT) X(FPREM1) X(FDECSTP) X(FINCSTP) X(FPREM) X(FYL2XP1) X(FSQRT) \
	X(FSINCOS) X(FRNDINT) X(FSCALE) X(FSIN) X(FCOS) X(FIADD) X(FIMUL) X(FICOM) X(FICOMP)       \
	X(FISUB) X(FISUBR) X(FIDIV) X(FIDIVR) X(FCMOVB) X(FCMOVE) X(FCMOVBE) X(FCMOVU) X(FUCOMPP)  \
	X(FILD) X(FIST) X(FISTP) X(FCMOVNB) X(FCMOVNE) X(FCMOVNBE) X(FCMOVNU) X(FNCLEX) X(FNINIT)  \
	X(FUCOMI) X(FCOMI) X(FRSTOR) X(FNSAVE) X(FNSTSW) X(FFREE) X(FUCOM) X(FUCOMP) X(FADDP)      \
	X(FMULP) X(FCOMPP) X(FSUBRP) X(FSUBP) X(FDIVRP) X(FDIVP) X(FBLD) X(FBSTP) X(FUCOMIP)       \
	X(FCOMIP)                                                                                  \
	/* SSE / SSE2 floating point */                                                            \
	X(MOVUPS) X(MOVUPD) X(MOVSS) X(MOVSD) X(MOVLPS) X(MOVHLPS) X(MOVLPD) X(UNPCKLPS)           \
	X(UNPCKLPD) X(UNPCKHPS) X(UNPCKHPD) X(MOVHPS) X(MOVLHPS) X(MOVHPD) X(MOVAPS) X(MOVAPD)     \
	X(CVTPI2PS) X(CVTPI2PD) X(CVTSI2SS) X(CVTSI2SD) X(MOVNTPS) X(MOVNTPD) X(CVTTPS2PI)         \
	X(CVTTPD2PI) X(CVTTSS2SI) X(CVTTSD2SI) X(CVTPS2PI) X(CVTPD2PI) X(CVTSS2SI) X(CVTSD2SI)     \
	X(UCOMISS) X(UCOMISD) X(COMISS) X(COMISD) X(MOVMSKPS) X(MOVMSKPD) X(SQRTPS) X(SQRTPD)      \
	X(SQRTSS) X(SQRTSD) X(RSQRTPS) X(RSQRTSS) X(RCPPS) X(RCPSS) X(ANDPS) X(ANDPD) X(ANDNPS)    \
	X(ANDNPD) X(ORPS) X(ORPD) X(XORPS) X(XORPD) X(ADDPS) X(ADDPD) X(ADDSS) X(ADDSD) X(MULPS)   \
	X(MULPD) X(MULSS) X(MULSD) X(CVTPS2PD) X(CVTPD2PS) X(CVTSS2SD) X(CVTSD2SS) X(CVTDQ2PS)     \
	X(CVTPS2DQ) X(CVTTPS2DQ) X(SUBPS) X(SUBPD) X(SUBSS) X(SUBSD) X(MINPS) X(MINPD) X(MINSS)    \
	X(MINSD) X(DIVPS) X(DIVPD) X(DIVSS) X(DIVSD) X(MAXPS) X(MAXPD) X(MAXSS) X(MAXSD)           \
	X(CMPPS) X(CMPPD) X(CMPSS) X(CMPSD) X(SHUFPS) X(SHUFPD) X(CVTTPD2DQ) X(CVTDQ2PD)           \
	X(CVTPD2DQ)                                                                                \
	/* MMX and SSE2 integer: mandatory prefix none means MMX, 0x66 XMM registers */  \
	X(PUNPCKLBW) X(PUNPCKLWD) X(PUNPCKLDQ) X(PACKSSWB) X(PCMPGTB) X(PCMPGTW) X(PCMPGTD)        \
	X(PACKUSWB) X(PUNPCKHBW) X(PUNPCKHWD) X(PUNPCKHDQ) X(PACKSSDW) X(PUNPCKLQDQ)               \
	X(PUNPCKHQDQ) X(MOVD) X(MOVQ) X(MOVDQA) X(MOVDQU) X(PSHUFW) X(PSHUFD) X(PSHUFHW)           \
	X(PSHUFLW) X(PSRLW) X(PSRAW) X(PSLLW) X(PSRLD) X(PSRAD) X(PSLLD) X(PSRLQ) X(PSRLDQ)        \
	X(PSLLQ) X(PSLLDQ) X(PCMPEQB) X(PCMPEQW) X(PCMPEQD) X(EMMS) X(PINSRW) X(PEXTRW) X(PADDQ)   \
	X(PMULLW) X(MOVQ2DQ) X(MOVDQ2Q) X(PMOVMSKB) X(PSUBUSB) X(PSUBUSW) X(PMINUB) X(PAND)        \
	X(PADDUSB) X(PADDUSW) X(PMAXUB) X(PANDN) X(PAVGB) X(PAVGW) X(PMULHUW) X(PMULHW) X(MOVNTQ)  \
	X(MOVNTDQ) X(PSUBSB) X(PSUBSW) X(PMINSW) X(POR) X(PADDSB) X(PADDSW) X(PMAXSW) X(PXOR)      \
	X(PMULUDQ) X(PMADDWD) X(PSADBW) X(MASKMOVQ) X(MASKMOVDQU) X(PSUBB) X(PSUBW) X(PSUBD)       \
	X(PSUBQ) X(PADDB) X(PADDW) X(PADDD)

#define X86_OP_ENUM_ENTRY(name) X86_OP_##name,
enum x86_op { X86_OPS(X86_OP_ENUM_ENTRY) X86_OP_COUNT };
#undef X86_OP_ENUM_ENTRY

/* Legacy prefixes seen (SDM 2.1.1). */
#define X86_PFX_OPSIZE 0x01 /* 66 */
#define X86_PFX_ADDRSIZE 0x02 /* 67 */
#define X86_PFX_LOCK 0x04  /* F0 */
#define X86_PFX_REPNE 0x08 /* F2 */
#define X86_PFX_REP 0x10   /* F3 */

struct x86_insn {
	uint8_t len;	 /* total length in bytes */
	uint8_t mode;	 /* enum x86_mode it was decoded in */
	uint16_t op;	 /* enum x86_op */
	uint8_t map;	 /* enum x86_map */
	uint8_t opcode;	 /* the opcode byte within map */
	uint8_t prefixes;	 /* X86_PFX_* */
	uint8_t rep;	 /* 0, 0xF2 or 0xF3: the last of the two given, 0 if it is mandatory */
	uint8_t seg;	 /* enum x86_seg override (ES/CS/SS/DS overrides are ignored in 64-bit) */
	uint8_t mandatory; /* SSE/MMX opcodes: 0, 0x66, 0xF3 or 0xF2 selecting the instruction */
	uint8_t rex;	 /* the REX byte in effect (0 if none) */
	bool rex_w, rex_r, rex_x, rex_b;
	uint8_t opsize;	 /* effective operand size in bytes: 1 (byte forms), 2, 4 or 8 */
	uint8_t addrsize; /* effective address size in bytes: 2, 4 or 8 */
	uint8_t opreg;	 /* register in the low opcode bits (+r forms, Jcc/SETcc/CMOVcc cond) */

	bool has_modrm;
	uint8_t modrm, mod, reg, rm; /* reg and rm include REX.R / REX.B */

	bool has_sib;
	uint8_t sib, scale, index, base; /* index and base include REX.X / REX.B */
	bool no_index;			 /* SIB index 100 without REX.X */
	bool no_base;			 /* mod=00 and SIB base 101 (or rm=110 16-bit): disp only */
	bool rip_rel;			 /* 64-bit, mod=00 rm=101: RIP (EIP with 0x67) + disp32 */

	int64_t disp; /* sign-extended displacement */
	uint8_t disp_size;

	uint64_t imm; /* zero-extended immediate (moffs offset, far pointer offset, ENTER size) */
	uint8_t imm_size;
	uint64_t imm2; /* second immediate: ENTER nesting level, far pointer selector */
	uint8_t imm2_size;
};

/*
 * Decode the instruction at bytes[0..avail) for a code segment of the given kind.
 * Returns its length (1..15), X86_DECODE_MORE, X86_DECODE_UD or X86_DECODE_GP.
 * Never reads bytes[avail] or beyond. On error *out holds what was decoded so far.
 */
int x86_decode(const uint8_t *bytes, size_t avail, enum x86_mode mode, struct x86_insn *out);

/* The immediate sign-extended from its encoded size (Ib of 83, 6B, Jcc rel8, ...). */
int64_t x86_insn_simm(const struct x86_insn *insn);

/* "ADD", "MOVUPS", ... for logs and tests; "?" for an out-of-range value. */
const char *x86_op_name(unsigned op);

#endif
