/*
 * String instructions MOVS STOS LODS CMPS SCAS with REP/REPE/REPNE in every mode (Intel SDM
 * vol. 1 7.3.9 "String operations", vol. 2 "REP/REPE/REPZ/REPNE/REPNZ" and each instruction's
 * page). The source is seg:rSI (DS by default, any override), the destination ES:rDI (no
 * override), both through x86_seg_linear's checks. The address size (16/32/64, 0x67 toggles)
 * picks SI/DI/CX, ESI/EDI/ECX or RSI/RDI/RCX.
 *
 * A repeated instruction runs at most X86_STRING_CHUNK iterations per x86_step and then leaves
 * RIP on itself with RCX/RSI/RDI updated, exactly as the SDM describes an interrupted REP string
 * ("the registers ... are updated so that the instruction can be restarted"): a hostile RCX of
 * 2^64 costs bounded work per call. A fault after some iterations likewise keeps the finished
 * ones and ends the step; the re-executed instruction then reports the fault with nothing done.
 */
#include <string.h>

#include "exec_internal.h"
#include "mmu_fast.h"

#define X86_STRING_CHUNK 4096u

struct string_op {
	unsigned size;	/* element size */
	unsigned asize; /* address size: RSI/RDI/RCX width */
	int64_t step;	/* +size or -size by DF */
};

/* The source is seg:rSI with DS by default; the destination ES:rDI, never overridden. */
static int src_read(struct x86_exec *x, const struct string_op *s, uint64_t *v)
{
	unsigned seg = x->in->seg != X86_SEG_NONE ? x->in->seg : X86_SEG_DS;

	return x86_seg_read(x, seg, x86_reg_get(x, X86_RSI, s->asize), s->size, v);
}

static int dst_read(struct x86_exec *x, const struct string_op *s, uint64_t *v)
{
	return x86_seg_read(x, X86_SEG_ES, x86_reg_get(x, X86_RDI, s->asize), s->size, v);
}

static int dst_write(struct x86_exec *x, const struct string_op *s, uint64_t v)
{
	return x86_seg_write(x, X86_SEG_ES, x86_reg_get(x, X86_RDI, s->asize), s->size, v);
}

static void advance(struct x86_exec *x, const struct string_op *s, unsigned reg)
{
	x86_reg_set(x, reg, s->asize, x86_reg_get(x, reg, s->asize) + (uint64_t)s->step);
}

/* One iteration; returns 0 or the fault of its memory access (nothing changed then). */
static int string_once(struct x86_exec *x, const struct string_op *s)
{
	uint64_t a, b, res, fl;
	int rc;

	switch (x->in->op) {
	case X86_OP_MOVS:
		rc = src_read(x, s, &a);
		if (rc == 0)
			rc = dst_write(x, s, a);
		if (rc)
			return rc;
		advance(x, s, X86_RSI);
		advance(x, s, X86_RDI);
		return 0;
	case X86_OP_STOS:
		rc = dst_write(x, s, x->cpu->gpr[X86_RAX]);
		if (rc)
			return rc;
		advance(x, s, X86_RDI);
		return 0;
	case X86_OP_LODS:
		rc = src_read(x, s, &a);
		if (rc)
			return rc;
		x86_reg_set(x, X86_RAX, s->size, a);
		advance(x, s, X86_RSI);
		return 0;
	case X86_OP_CMPS: /* compares [RSI] - [RDI] */
		rc = src_read(x, s, &a);
		if (rc == 0)
			rc = dst_read(x, s, &b);
		if (rc)
			return rc;
		fl = x86_flags_sub(a, b, 0, s->size, &res);
		x86_flags_update(x->cpu, X86_FLAGS_ARITH, fl);
		advance(x, s, X86_RSI);
		advance(x, s, X86_RDI);
		return 0;
	default: /* SCAS: compares AL/AX/EAX/RAX - [RDI] */
		rc = dst_read(x, s, &b);
		if (rc)
			return rc;
		fl = x86_flags_sub(x->cpu->gpr[X86_RAX] & x86_size_mask(s->size), b, 0, s->size,
				   &res);
		x86_flags_update(x->cpu, X86_FLAGS_ARITH, fl);
		advance(x, s, X86_RDI);
		return 0;
	}
}

/*
 * REP MOVS / REP STOS in 64-bit mode, forward, between RAM pages the TLB holds: up to max
 * elements at once, as many as stay within the source and destination pages. Returns how many
 * were done (0: take the element path, which also reports any fault). A forward MOVS onto an
 * overlapping higher destination repeats a pattern element by element: not done here.
 */
static uint64_t string_bulk(struct x86_exec *x, const struct string_op *s, uint64_t max)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t rdi = cpu->gpr[X86_RDI], rsi = cpu->gpr[X86_RSI], n, bytes;
	bool movs = x->in->op == X86_OP_MOVS;
	uint8_t *dst;
	const uint8_t *src = NULL;

	if (s->asize != 8 || s->step < 0 || cpu->mode != X86_MODE_LONG64 ||
	    (movs && x->in->seg != X86_SEG_NONE && x->in->seg != X86_SEG_DS))
		return 0;
	n = (4096 - (rdi & 4095)) / s->size;
	if (movs && (4096 - (rsi & 4095)) / s->size < n)
		n = (4096 - (rsi & 4095)) / s->size;
	if (max < n)
		n = max;
	bytes = n * s->size;
	if (!n || !(dst = x86_tlb_host(cpu, rdi, (unsigned)bytes, X86_ACC_WRITE)))
		return 0;
	if (movs) {
		src = x86_tlb_host(cpu, rsi, (unsigned)bytes, X86_ACC_READ);
		if (!src || (dst > src && dst < src + bytes))
			return 0;
		memmove(dst, src, bytes);
		cpu->gpr[X86_RSI] = rsi + bytes;
	} else if (s->size == 1) {
		memset(dst, (int)(cpu->gpr[X86_RAX] & 0xff), bytes);
	} else {
		for (uint64_t i = 0; i < bytes; i += s->size)
			memcpy(dst + i, &cpu->gpr[X86_RAX], s->size);
	}
	cpu->gpr[X86_RDI] = rdi + bytes;
	cpu->gpr[X86_RCX] -= n;
	return n;
}

static bool is_compare(const struct x86_insn *in)
{
	return in->op == X86_OP_CMPS || in->op == X86_OP_SCAS;
}

/*
 * The REP loop of the SDM "REP" page: stop when the count is 0 (checked first), else do one
 * iteration, decrement the count, and for CMPS/SCAS stop on ZF=0 (REPE) or ZF=1 (REPNE).
 * F2 on MOVS/STOS/LODS repeats like F3 (the terminating condition applies to compares only).
 */
static int string_rep(struct x86_exec *x, const struct string_op *s)
{
	bool repne = x->in->rep == 0xf2;
	uint64_t count;
	int rc;

	for (uint64_t done = 0;; done++) {
		uint64_t bulk;

		count = x86_reg_get(x, X86_RCX, s->asize);
		if (count == 0)
			return 0;
		if (done >= X86_STRING_CHUNK) {
			x->next_rip = x->cpu->rip; /* resume later, like an interrupted REP */
			return 0;
		}
		bulk = is_compare(x->in) || x->in->op == X86_OP_LODS ?
			       0 :
			       string_bulk(x, s, X86_STRING_CHUNK - done < count ?
							 X86_STRING_CHUNK - done :
							 count);
		if (bulk) {
			done += bulk - 1;
			continue;
		}
		rc = string_once(x, s);
		if (rc) {
			if (done == 0)
				return rc;
			x->next_rip = x->cpu->rip; /* keep the finished iterations */
			return 0;
		}
		x86_reg_set(x, X86_RCX, s->asize, count - 1);
		if (is_compare(x->in) && count - 1 != 0 &&
		    ((x->cpu->rflags & X86_FLAG_ZF) != 0) == repne)
			return 0;
	}
}

int x86_exec_string(struct x86_exec *x)
{
	struct string_op s;

	switch (x->in->op) {
	case X86_OP_MOVS:
	case X86_OP_STOS:
	case X86_OP_LODS:
	case X86_OP_CMPS:
	case X86_OP_SCAS:
		break;
	default:
		return X86_EXEC_UNHANDLED;
	}
	s.size = x->in->opsize;
	s.asize = x->in->addrsize;
	s.step = (x->cpu->rflags & X86_FLAG_DF) ? -(int64_t)s.size : (int64_t)s.size;
	if (x->in->rep)
		return string_rep(x, &s);
	return string_once(x, &s);
}
