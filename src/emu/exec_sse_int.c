/*
 * MMX and SSE2 integer instructions of the emu CPU (Intel SDM vol. 1 ch. 9 and 11.4, vol. 2
 * instruction pages). The forms without a mandatory prefix work on the MMX registers (the x87
 * R0-R7 significands, SDM 9.2), those with 0x66 on the XMM registers; the decoder picked which.
 * Every element operation is plain integer arithmetic, so it is done in C on 8 or 16 bytes.
 */
#include <string.h>

#include "exec_internal.h"

/* One operation: destination a (also the first source), source b, result r, n bytes. */
struct simd {
	union x86_xmm a, b, r;
	unsigned n;
	bool xmm;
};

static uint64_t mmx_get(const struct x86_cpu *cpu, unsigned reg)
{
	return cpu->fpu.fpr[reg & 7].mant;
}

/* SDM 9.5.1: writing an MMX register sets bits 79-64 of the x87 register to all ones. */
static void mmx_set(struct x86_cpu *cpu, unsigned reg, uint64_t v)
{
	cpu->fpu.fpr[reg & 7].mant = v;
	cpu->fpu.fpr[reg & 7].sexp = 0xffff;
}

static bool uses_xmm(const struct x86_insn *in)
{
	return in->mandatory != 0;
}

/* Availability (exec_sse.c); every MMX-register form also makes the x87-to-MMX transition,
 * which the caller does when it commits. */
static int check(struct x86_exec *x, bool xmm, bool mmx)
{
	return x86_sse_check(x, (xmm ? X86_SSE_USE_XMM : 0) | (mmx ? X86_SSE_USE_MMX : 0));
}

/* Loads the destination and the r/m source; mem_size: bytes a memory source has. */
static int load_operands(struct x86_exec *x, struct simd *s, unsigned mem_size)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	uint64_t v;
	int rc;

	s->xmm = uses_xmm(in);
	s->n = s->xmm ? 16 : 8;
	rc = check(x, s->xmm, !s->xmm);
	if (rc)
		return rc;
	if (s->xmm) {
		s->a = cpu->fpu.xmm[in->reg];
		return x86_sse_load(x, &s->b, 16, true);
	}
	memset(s, 0, offsetof(struct simd, n));
	s->a.q[0] = mmx_get(cpu, in->reg);
	if (in->mod == 3) {
		s->b.q[0] = mmx_get(cpu, in->rm);
		return 0;
	}
	rc = x86_mem_read(x, x86_ea(x), mem_size, &v);
	s->b.q[0] = v;
	return rc;
}

static void commit(struct x86_exec *x, const struct simd *s)
{
	struct x86_cpu *cpu = x->cpu;

	if (s->xmm) {
		cpu->fpu.xmm[x->in->reg] = s->r;
		return;
	}
	x86_mmx_enter(cpu);
	mmx_set(cpu, x->in->reg, s->r.q[0]);
}

/* ---- element helpers ---- */

static int8_t sat8(int32_t v)
{
	return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
}

static uint8_t usat8(int32_t v)
{
	return (uint8_t)(v > 255 ? 255 : v < 0 ? 0 : v);
}

static int16_t sat16(int32_t v)
{
	return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
}

static uint16_t usat16(int32_t v)
{
	return (uint16_t)(v > 65535 ? 65535 : v < 0 ? 0 : v);
}

#define FOR_B(expr)                                                                                \
	for (unsigned i = 0; i < s->n; i++) {                                                      \
		uint8_t a = s->a.b[i], b = s->b.b[i]; \
		(void)b;                                              \
		s->r.b[i] = (uint8_t)(expr);                                                       \
	}
#define FOR_W(expr)                                                                                \
	for (unsigned i = 0; i < s->n / 2; i++) {                                                  \
		uint16_t a = s->a.w[i], b = s->b.w[i]; \
		(void)b;                                             \
		s->r.w[i] = (uint16_t)(expr);                                                      \
	}
#define FOR_D(expr)                                                                                \
	for (unsigned i = 0; i < s->n / 4; i++) {                                                  \
		uint32_t a = s->a.d[i], b = s->b.d[i]; \
		(void)b;                                             \
		s->r.d[i] = (uint32_t)(expr);                                                      \
	}
#define FOR_Q(expr)                                                                                \
	for (unsigned i = 0; i < s->n / 8; i++) {                                                  \
		uint64_t a = s->a.q[i], b = s->b.q[i]; \
		(void)b;                                             \
		s->r.q[i] = (uint64_t)(expr);                                                      \
	}
#define SB(v) ((int8_t)(v))
#define SW(v) ((int16_t)(v))
#define SD(v) ((int32_t)(v))

/* Add, subtract, saturate, multiply, average, min/max, compare, logic. */
static bool arith(unsigned op, struct simd *s)
{
	switch (op) {
	case X86_OP_PADDB: FOR_B(a + b) break;
	case X86_OP_PADDW: FOR_W(a + b) break;
	case X86_OP_PADDD: FOR_D(a + b) break;
	case X86_OP_PADDQ: FOR_Q(a + b) break;
	case X86_OP_PSUBB: FOR_B(a - b) break;
	case X86_OP_PSUBW: FOR_W(a - b) break;
	case X86_OP_PSUBD: FOR_D(a - b) break;
	case X86_OP_PSUBQ: FOR_Q(a - b) break;
	case X86_OP_PADDSB: FOR_B(sat8(SB(a) + SB(b))) break;
	case X86_OP_PADDSW: FOR_W(sat16(SW(a) + SW(b))) break;
	case X86_OP_PSUBSB: FOR_B(sat8(SB(a) - SB(b))) break;
	case X86_OP_PSUBSW: FOR_W(sat16(SW(a) - SW(b))) break;
	case X86_OP_PADDUSB: FOR_B(usat8(a + b)) break;
	case X86_OP_PADDUSW: FOR_W(usat16(a + b)) break;
	case X86_OP_PSUBUSB: FOR_B(usat8(a - b)) break;
	case X86_OP_PSUBUSW: FOR_W(usat16(a - b)) break;
	case X86_OP_PMULLW: FOR_W(SW(a) * SW(b)) break;
	case X86_OP_PMULHW: FOR_W((SW(a) * SW(b)) >> 16) break;
	case X86_OP_PMULHUW: FOR_W(((uint32_t)a * b) >> 16) break;
	case X86_OP_PAVGB: FOR_B((a + b + 1) >> 1) break;
	case X86_OP_PAVGW: FOR_W((a + b + 1) >> 1) break;
	case X86_OP_PMINUB: FOR_B(a < b ? a : b) break;
	case X86_OP_PMAXUB: FOR_B(a > b ? a : b) break;
	case X86_OP_PMINSW: FOR_W(SW(a) < SW(b) ? a : b) break;
	case X86_OP_PMAXSW: FOR_W(SW(a) > SW(b) ? a : b) break;
	case X86_OP_PCMPEQB: FOR_B(a == b ? 0xff : 0) break;
	case X86_OP_PCMPEQW: FOR_W(a == b ? 0xffff : 0) break;
	case X86_OP_PCMPEQD: FOR_D(a == b ? 0xffffffffu : 0) break;
	case X86_OP_PCMPGTB: FOR_B(SB(a) > SB(b) ? 0xff : 0) break;
	case X86_OP_PCMPGTW: FOR_W(SW(a) > SW(b) ? 0xffff : 0) break;
	case X86_OP_PCMPGTD: FOR_D(SD(a) > SD(b) ? 0xffffffffu : 0) break;
	case X86_OP_PAND: FOR_Q(a & b) break;
	case X86_OP_PANDN: FOR_Q(~a & b) break;
	case X86_OP_POR: FOR_Q(a | b) break;
	case X86_OP_PXOR: FOR_Q(a ^ b) break;
	default:
		return false;
	}
	return true;
}

/* PMULUDQ PMADDWD PSADBW: elements of different widths in and out. */
static bool widening(unsigned op, struct simd *s)
{
	switch (op) {
	case X86_OP_PMULUDQ:
		for (unsigned i = 0; i < s->n / 8; i++)
			s->r.q[i] = (uint64_t)s->a.d[2 * i] * s->b.d[2 * i];
		break;
	case X86_OP_PMADDWD:
		/* -32768 * -32768 twice wraps to 0x80000000 (SDM PMADDWD). */
		for (unsigned i = 0; i < s->n / 4; i++)
			s->r.d[i] = (uint32_t)((int64_t)SW(s->a.w[2 * i]) * SW(s->b.w[2 * i]) +
					       (int64_t)SW(s->a.w[2 * i + 1]) *
						   SW(s->b.w[2 * i + 1]));
		break;
	case X86_OP_PSADBW:
		for (unsigned g = 0; g < s->n / 8; g++) {
			unsigned sum = 0;

			for (unsigned i = 8 * g; i < 8 * g + 8; i++)
				sum += s->a.b[i] > s->b.b[i] ? s->a.b[i] - s->b.b[i]
							     : s->b.b[i] - s->a.b[i];
			s->r.q[g] = sum;
		}
		break;
	default:
		return false;
	}
	return true;
}

/* PACKSSWB PACKSSDW PACKUSWB: a's elements narrowed into the low half, b's into the high. */
static bool pack(unsigned op, struct simd *s)
{
	unsigned h;

	switch (op) {
	case X86_OP_PACKSSWB:
	case X86_OP_PACKUSWB:
		h = s->n / 2;
		for (unsigned i = 0; i < h; i++) {
			int32_t lo = SW(s->a.w[i]), hi = SW(s->b.w[i]);

			s->r.b[i] = op == X86_OP_PACKSSWB ? (uint8_t)sat8(lo) : usat8(lo);
			s->r.b[h + i] = op == X86_OP_PACKSSWB ? (uint8_t)sat8(hi) : usat8(hi);
		}
		return true;
	case X86_OP_PACKSSDW:
		h = s->n / 4;
		for (unsigned i = 0; i < h; i++) {
			s->r.w[i] = (uint16_t)sat16(SD(s->a.d[i]));
			s->r.w[h + i] = (uint16_t)sat16(SD(s->b.d[i]));
		}
		return true;
	default:
		return false;
	}
}

/* PUNPCKL* / PUNPCKH*: interleave elements of size es from the low or high halves. */
static void unpack(struct simd *s, unsigned es, bool high)
{
	unsigned cnt = s->n / es / 2, from = high ? cnt : 0;

	for (unsigned i = 0; i < cnt; i++) {
		memcpy(&s->r.b[2 * i * es], &s->a.b[(from + i) * es], es);
		memcpy(&s->r.b[(2 * i + 1) * es], &s->b.b[(from + i) * es], es);
	}
}

static bool unpack_op(unsigned op, struct simd *s)
{
	switch (op) {
	case X86_OP_PUNPCKLBW: unpack(s, 1, false); break;
	case X86_OP_PUNPCKLWD: unpack(s, 2, false); break;
	case X86_OP_PUNPCKLDQ: unpack(s, 4, false); break;
	case X86_OP_PUNPCKLQDQ: unpack(s, 8, false); break;
	case X86_OP_PUNPCKHBW: unpack(s, 1, true); break;
	case X86_OP_PUNPCKHWD: unpack(s, 2, true); break;
	case X86_OP_PUNPCKHDQ: unpack(s, 4, true); break;
	case X86_OP_PUNPCKHQDQ: unpack(s, 8, true); break;
	default:
		return false;
	}
	return true;
}

/* Shifts of every element by a 64-bit count: past the width, logical shifts give 0 and
 * arithmetic ones the sign (SDM PSRLW etc.). */
static bool shift(unsigned op, struct simd *s, uint64_t c)
{
	switch (op) {
	case X86_OP_PSLLW: FOR_W(c > 15 ? 0 : a << c) break;
	case X86_OP_PSLLD: FOR_D(c > 31 ? 0 : a << c) break;
	case X86_OP_PSLLQ: FOR_Q(c > 63 ? 0 : a << c) break;
	case X86_OP_PSRLW: FOR_W(c > 15 ? 0 : a >> c) break;
	case X86_OP_PSRLD: FOR_D(c > 31 ? 0 : a >> c) break;
	case X86_OP_PSRLQ: FOR_Q(c > 63 ? 0 : a >> c) break;
	case X86_OP_PSRAW: FOR_W(SW(a) >> (c > 15 ? 15 : c)) break;
	case X86_OP_PSRAD: FOR_D(SD(a) >> (c > 31 ? 31 : c)) break;
	case X86_OP_PSRLDQ:
		memset(&s->r, 0, sizeof(s->r));
		if (c < 16)
			memcpy(s->r.b, s->a.b + c, 16 - c);
		break;
	case X86_OP_PSLLDQ:
		memset(&s->r, 0, sizeof(s->r));
		if (c < 16)
			memcpy(s->r.b + c, s->a.b, 16 - c);
		break;
	default:
		return false;
	}
	return true;
}

/* Group 12-14 (0F 71-73 /r ib): the register operand is ModRM.rm. */
static int exec_shift_imm(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	struct simd s;
	int rc;

	s.xmm = uses_xmm(in);
	s.n = s.xmm ? 16 : 8;
	rc = check(x, s.xmm, !s.xmm);
	if (rc)
		return rc;
	if (s.xmm) {
		s.a = cpu->fpu.xmm[in->rm];
	} else {
		memset(&s.a, 0, sizeof(s.a));
		s.a.q[0] = mmx_get(cpu, in->rm);
	}
	memset(&s.b, 0, sizeof(s.b));
	memset(&s.r, 0, sizeof(s.r));
	shift(in->op, &s, in->imm & 0xff);
	if (s.xmm) {
		cpu->fpu.xmm[in->rm] = s.r;
	} else {
		x86_mmx_enter(cpu);
		mmx_set(cpu, in->rm, s.r.q[0]);
	}
	return 0;
}

/* PSHUFW PSHUFD PSHUFHW PSHUFLW: the r/m source rearranged by imm8. */
static void shuffle(unsigned op, struct simd *s, unsigned imm)
{
	s->r = s->b;
	switch (op) {
	case X86_OP_PSHUFW:
	case X86_OP_PSHUFLW:
		for (unsigned i = 0; i < 4; i++)
			s->r.w[i] = s->b.w[(imm >> (2 * i)) & 3];
		break;
	case X86_OP_PSHUFHW:
		for (unsigned i = 0; i < 4; i++)
			s->r.w[4 + i] = s->b.w[4 + ((imm >> (2 * i)) & 3)];
		break;
	default: /* PSHUFD */
		for (unsigned i = 0; i < 4; i++)
			s->r.d[i] = s->b.d[(imm >> (2 * i)) & 3];
		break;
	}
}

/* The packed two-operand instructions: dest op= r/m. */
static int exec_binary(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned op = in->op;
	/* The MMX low unpacks read only 32 bits of memory (SDM PUNPCKLBW "mm/m32"). */
	unsigned mem_size = (op == X86_OP_PUNPCKLBW || op == X86_OP_PUNPCKLWD ||
			     op == X86_OP_PUNPCKLDQ)
				? 4
				: 8;
	struct simd s;
	int rc = load_operands(x, &s, mem_size);

	if (rc)
		return rc;
	memset(&s.r, 0, sizeof(s.r));
	switch (op) {
	case X86_OP_PSLLW:
	case X86_OP_PSLLD:
	case X86_OP_PSLLQ:
	case X86_OP_PSRLW:
	case X86_OP_PSRLD:
	case X86_OP_PSRLQ:
	case X86_OP_PSRAW:
	case X86_OP_PSRAD:
		shift(op, &s, s.b.q[0]);
		break;
	case X86_OP_PSHUFW:
	case X86_OP_PSHUFD:
	case X86_OP_PSHUFHW:
	case X86_OP_PSHUFLW:
		shuffle(op, &s, (unsigned)in->imm);
		break;
	default:
		if (!arith(op, &s) && !widening(op, &s) && !pack(op, &s))
			unpack_op(op, &s);
	}
	commit(x, &s);
	return 0;
}

/* MOVD / MOVQ with a GPR or 32/64-bit memory (0F 6E / 0F 7E, REX.W: 64 bits). */
static int exec_movd(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	unsigned size = in->opsize == 8 ? 8 : 4;
	bool xmm = uses_xmm(in);
	uint64_t v;
	int rc = check(x, xmm, !xmm);

	if (rc)
		return rc;
	if (in->opcode == 0x7e) {
		v = xmm ? cpu->fpu.xmm[in->reg].q[0] : mmx_get(cpu, in->reg);
		v &= x86_size_mask(size);
		if (in->mod == 3)
			x86_reg_set(x, in->rm, size, v);
		else if ((rc = x86_mem_write(x, x86_ea(x), size, v)))
			return rc;
		if (!xmm)
			x86_mmx_enter(cpu);
		return 0;
	}
	if (in->mod == 3)
		v = x86_reg_get(x, in->rm, size);
	else if ((rc = x86_mem_read(x, x86_ea(x), size, &v)))
		return rc;
	if (xmm) {
		cpu->fpu.xmm[in->reg].q[0] = v;
		cpu->fpu.xmm[in->reg].q[1] = 0;
	} else {
		x86_mmx_enter(cpu);
		mmx_set(cpu, in->reg, v);
	}
	return 0;
}

/* MOVQ mm, mm/m64 (0F 6F) and MOVQ mm/m64, mm (0F 7F). */
static int exec_movq_mmx(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	uint64_t v;
	int rc = check(x, false, true);

	if (rc)
		return rc;
	if (in->opcode == 0x7f) {
		v = mmx_get(cpu, in->reg);
		if (in->mod != 3 && (rc = x86_mem_write(x, x86_ea(x), 8, v)))
			return rc;
		x86_mmx_enter(cpu);
		if (in->mod == 3)
			mmx_set(cpu, in->rm, v);
		return 0;
	}
	if (in->mod == 3)
		v = mmx_get(cpu, in->rm);
	else if ((rc = x86_mem_read(x, x86_ea(x), 8, &v)))
		return rc;
	x86_mmx_enter(cpu);
	mmx_set(cpu, in->reg, v);
	return 0;
}

/* MOVQ xmm, xmm/m64 (F3 0F 7E) and MOVQ xmm/m64, xmm (66 0F D6): the upper half becomes 0. */
static int exec_movq_xmm(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	union x86_xmm v;
	int rc = check(x, true, false);

	if (rc)
		return rc;
	if (in->opcode == 0xd6) {
		if (in->mod != 3)
			return x86_sse_store(x, &cpu->fpu.xmm[in->reg].q[0], 8, false);
		cpu->fpu.xmm[in->rm].q[0] = cpu->fpu.xmm[in->reg].q[0];
		cpu->fpu.xmm[in->rm].q[1] = 0;
		return 0;
	}
	rc = x86_sse_load(x, &v, 8, false);
	if (rc)
		return rc;
	v.q[1] = 0;
	cpu->fpu.xmm[in->reg] = v;
	return 0;
}

/* MOVDQA MOVDQU (66/F3 0F 6F load, 7F store), MOVNTDQ (66 0F E7, aligned store). */
static int exec_movdq(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	bool align = in->op != X86_OP_MOVDQU;
	union x86_xmm v;
	int rc = check(x, true, false);

	if (rc)
		return rc;
	if (in->opcode == 0x6f) {
		rc = x86_sse_load(x, &v, 16, align);
		if (rc == 0)
			cpu->fpu.xmm[in->reg] = v;
		return rc;
	}
	if (in->mod == 3) {
		cpu->fpu.xmm[in->rm] = cpu->fpu.xmm[in->reg];
		return 0;
	}
	return x86_sse_store(x, &cpu->fpu.xmm[in->reg], 16, align);
}

/* MOVNTQ m64, mm (0F E7). */
static int exec_movntq(struct x86_exec *x)
{
	uint64_t v = mmx_get(x->cpu, x->in->reg);
	int rc = check(x, false, true);

	if (rc == 0)
		rc = x86_mem_write(x, x86_ea(x), 8, v);
	if (rc == 0)
		x86_mmx_enter(x->cpu);
	return rc;
}

/* MOVQ2DQ xmm, mm (F3 0F D6) and MOVDQ2Q mm, xmm (F2 0F D6). */
static int exec_movq2dq(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	int rc = check(x, true, true);

	if (rc)
		return rc;
	x86_mmx_enter(cpu);
	if (in->op == X86_OP_MOVQ2DQ) {
		cpu->fpu.xmm[in->reg].q[0] = mmx_get(cpu, in->rm);
		cpu->fpu.xmm[in->reg].q[1] = 0;
	} else {
		mmx_set(cpu, in->reg, cpu->fpu.xmm[in->rm].q[0]);
	}
	return 0;
}

/* PINSRW mm/xmm, r32/m16, imm8 (0F C4). */
static int exec_pinsrw(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	bool xmm = uses_xmm(in);
	unsigned idx = (unsigned)in->imm & (xmm ? 7 : 3);
	uint64_t v;
	union x86_xmm r;
	int rc = check(x, xmm, !xmm);

	if (rc)
		return rc;
	if (in->mod == 3)
		v = x86_reg_get(x, in->rm, 4);
	else if ((rc = x86_mem_read(x, x86_ea(x), 2, &v)))
		return rc;
	if (xmm) {
		cpu->fpu.xmm[in->reg].w[idx] = (uint16_t)v;
		return 0;
	}
	r.q[0] = mmx_get(cpu, in->reg);
	r.w[idx] = (uint16_t)v;
	x86_mmx_enter(cpu);
	mmx_set(cpu, in->reg, r.q[0]);
	return 0;
}

/* PEXTRW r32, mm/xmm, imm8 (0F C5) and PMOVMSKB r32, mm/xmm (0F D7): zero-extended. */
static int exec_to_gpr(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	bool xmm = uses_xmm(in);
	union x86_xmm s;
	uint64_t v = 0;
	int rc = check(x, xmm, !xmm);

	if (rc)
		return rc;
	if (xmm) {
		s = cpu->fpu.xmm[in->rm];
	} else {
		s.q[0] = mmx_get(cpu, in->rm);
		s.q[1] = 0;
	}
	if (in->op == X86_OP_PEXTRW) {
		v = s.w[in->imm & (xmm ? 7 : 3)];
	} else {
		for (unsigned i = 0; i < (xmm ? 16u : 8u); i++)
			v |= (uint64_t)(s.b[i] >> 7) << i;
	}
	if (!xmm)
		x86_mmx_enter(cpu);
	x86_reg_set(x, in->reg, 8, v);
	return 0;
}

/* The DS:rDI (segment override allowed) destination of MASKMOVQ / MASKMOVDQU. */
static uint64_t maskmov_address(const struct x86_exec *x)
{
	const struct x86_insn *in = x->in;
	unsigned seg = in->seg == X86_SEG_NONE ? X86_SEG_DS : in->seg;
	uint64_t a = x->cpu->gpr[X86_RDI] & x86_size_mask(in->addrsize);

	if (x->cpu->mode != X86_MODE_LONG64)
		return (a + x->cpu->seg[seg].base) & 0xffffffffull;
	if (seg == X86_SEG_FS || seg == X86_SEG_GS)
		a += x->cpu->seg[seg].base;
	return a;
}

/*
 * MASKMOVQ / MASKMOVDQU (0F F7): the bytes of reg whose mask byte (rm) has bit 7 set are
 * stored at DS:rDI. Every page holding a selected byte is checked for writing first, so a
 * fault stores nothing; then each run of selected bytes is written.
 */
static int exec_maskmov(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	const struct x86_insn *in = x->in;
	bool xmm = uses_xmm(in);
	unsigned n = xmm ? 16 : 8, first = n, last = 0;
	union x86_xmm data = {{0}}, mask = {{0}};
	uint64_t addr = maskmov_address(x), phys;
	int rc = check(x, xmm, !xmm);

	if (rc)
		return rc;
	if (xmm) {
		data = cpu->fpu.xmm[in->reg];
		mask = cpu->fpu.xmm[in->rm];
	} else {
		data.q[0] = mmx_get(cpu, in->reg);
		mask.q[0] = mmx_get(cpu, in->rm);
	}
	for (unsigned i = 0; i < n; i++) {
		if (mask.b[i] & 0x80) {
			first = i < first ? i : first;
			last = i;
		}
	}
	if (first < n) {
		rc = x86_mmu_translate(cpu, x->mem, x->opaque, addr + first, X86_ACC_WRITE,
				       &phys, NULL);
		if (rc == 0)
			rc = x86_mmu_translate(cpu, x->mem, x->opaque, addr + last,
					       X86_ACC_WRITE, &phys, NULL);
		if (rc)
			return rc;
	}
	for (unsigned i = first; i < n;) {
		unsigned j = i;

		while (j < n && (mask.b[j] & 0x80))
			j++;
		if (j > i && (rc = x86_lin_write(x, addr + i, &data.b[i], j - i, X86_ACC_WRITE)))
			return rc;
		i = j + 1;
	}
	if (!xmm)
		x86_mmx_enter(cpu);
	return 0;
}

/* EMMS (0F 77): every x87 tag empty (SDM EMMS); like every MMX instruction it also sets TOP
 * to 0, as the host CPU shows. */
static int exec_emms(struct x86_exec *x)
{
	int rc = check(x, false, true);

	if (rc)
		return rc;
	x86_mmx_enter(x->cpu);
	x->cpu->fpu.ftw = 0;
	return 0;
}

int x86_exec_sse_int(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;

	switch (in->op) {
	case X86_OP_MOVD:
		return exec_movd(x);
	case X86_OP_MOVQ:
		if (in->opcode == 0x7e || in->opcode == 0xd6)
			return exec_movq_xmm(x);
		return exec_movq_mmx(x);
	case X86_OP_MOVDQA:
	case X86_OP_MOVDQU:
	case X86_OP_MOVNTDQ:
		return exec_movdq(x);
	case X86_OP_MOVNTQ:
		return exec_movntq(x);
	case X86_OP_MOVQ2DQ:
	case X86_OP_MOVDQ2Q:
		return exec_movq2dq(x);
	case X86_OP_PINSRW:
		return exec_pinsrw(x);
	case X86_OP_PEXTRW:
	case X86_OP_PMOVMSKB:
		return exec_to_gpr(x);
	case X86_OP_MASKMOVQ:
	case X86_OP_MASKMOVDQU:
		return exec_maskmov(x);
	case X86_OP_EMMS:
		return exec_emms(x);
	case X86_OP_PSRLDQ:
	case X86_OP_PSLLDQ:
		return exec_shift_imm(x);
	case X86_OP_PSRLW:
	case X86_OP_PSRAW:
	case X86_OP_PSLLW:
	case X86_OP_PSRLD:
	case X86_OP_PSRAD:
	case X86_OP_PSLLD:
	case X86_OP_PSRLQ:
	case X86_OP_PSLLQ:
		if (in->opcode >= 0x71 && in->opcode <= 0x73)
			return exec_shift_imm(x);
		return exec_binary(x);
	default:
		break;
	}
	if (in->op >= X86_OP_PUNPCKLBW && in->op <= X86_OP_PADDD)
		return exec_binary(x);
	return X86_EXEC_UNHANDLED;
}
