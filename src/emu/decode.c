/*
 * x86 instruction decoder (Intel SDM vol. 2, chapter 2 and appendix A; AMD APM vol. 3,
 * chapter 1). The tables are in decode_tables.c; this file walks prefixes, opcode, ModRM, SIB,
 * displacement and immediates and applies the validity rules that depend on them.
 */
#include <string.h>

#include "decode_internal.h"

struct cursor {
	const uint8_t *bytes;
	size_t avail;
	unsigned pos;
};

/*
 * SDM 2.3.11: an instruction longer than 15 bytes raises #GP(0); so needing a 16th byte is #GP
 * whatever the caller could still fetch.
 */
static int fetch_byte(struct cursor *c, uint8_t *v)
{
	if (c->pos >= X86_MAX_INSN_LEN)
		return X86_DECODE_GP;
	if (c->pos >= c->avail)
		return X86_DECODE_MORE;
	*v = c->bytes[c->pos++];
	return 0;
}

static int fetch_le(struct cursor *c, unsigned size, uint64_t *v)
{
	uint64_t value = 0;

	for (unsigned i = 0; i < size; i++) {
		uint8_t b;
		int rc = fetch_byte(c, &b);

		if (rc)
			return rc;
		value |= (uint64_t)b << (8 * i);
	}
	*v = value;
	return 0;
}

static int64_t sign_extend(uint64_t v, unsigned size)
{
	if (size == 0 || size >= 8)
		return (int64_t)v;
	unsigned shift = 64 - 8 * size;

	return (int64_t)(v << shift) >> shift;
}

int64_t x86_insn_simm(const struct x86_insn *insn)
{
	return sign_extend(insn->imm, insn->imm_size);
}

#define X86_OP_NAME_ENTRY(name) #name,
static const char *const op_names[X86_OP_COUNT] = {X86_OPS(X86_OP_NAME_ENTRY)};

const char *x86_op_name(unsigned op)
{
	return op < X86_OP_COUNT ? op_names[op] : "?";
}

static bool is_long(const struct x86_insn *in)
{
	return in->mode == X86_MODE_LONG64;
}

static void set_segment(struct x86_insn *in, enum x86_seg seg)
{
	/* SDM 3.3.7.1 (vol. 1): in 64-bit mode CS, DS, ES and SS overrides are ignored. */
	if (is_long(in) && seg != X86_SEG_FS && seg != X86_SEG_GS)
		return;
	in->seg = seg;
}

/* Returns 1 if b was a prefix (consumed), 0 if it is the first opcode byte. */
static int take_prefix(struct x86_insn *in, uint8_t b)
{
	static const uint8_t seg_of[8] = {X86_SEG_ES, X86_SEG_CS, X86_SEG_SS, X86_SEG_DS};

	if (is_long(in) && (b & 0xf0) == 0x40) {
		in->rex = b; /* only the REX right before the opcode counts (SDM 2.2.1) */
		return 1;
	}
	switch (b) {
	case 0x26:
	case 0x2e:
	case 0x36:
	case 0x3e:
		set_segment(in, seg_of[(b >> 3) & 3]);
		break;
	case 0x64:
		set_segment(in, X86_SEG_FS);
		break;
	case 0x65:
		set_segment(in, X86_SEG_GS);
		break;
	case 0x66:
		in->prefixes |= X86_PFX_OPSIZE;
		break;
	case 0x67:
		in->prefixes |= X86_PFX_ADDRSIZE;
		break;
	case 0xf0:
		in->prefixes |= X86_PFX_LOCK;
		break;
	case 0xf2:
		in->prefixes |= X86_PFX_REPNE;
		in->rep = b;
		break;
	case 0xf3:
		in->prefixes |= X86_PFX_REP;
		in->rep = b;
		break;
	default:
		return 0;
	}
	in->rex = 0; /* a REX followed by a legacy prefix is ignored */
	return 1;
}

static int read_prefixes(struct cursor *c, struct x86_insn *in, uint8_t *opcode)
{
	for (;;) {
		uint8_t b;
		int rc = fetch_byte(c, &b);

		if (rc)
			return rc;
		if (!take_prefix(in, b)) {
			*opcode = b;
			break;
		}
	}
	in->rex_w = in->rex & 8;
	in->rex_r = in->rex & 4;
	in->rex_x = in->rex & 2;
	in->rex_b = in->rex & 1;
	return 0;
}

static void set_address_size(struct x86_insn *in)
{
	bool toggle = in->prefixes & X86_PFX_ADDRSIZE;

	if (is_long(in))
		in->addrsize = toggle ? 4 : 8;
	else if (in->mode == X86_MODE_PROT32)
		in->addrsize = toggle ? 2 : 4;
	else
		in->addrsize = toggle ? 4 : 2;
}

/* SDM 2.2.1.2 and table 2-4; opsize_prefix is false when 0x66 was a mandatory prefix. */
static void set_operand_size(struct x86_insn *in, uint32_t flags, bool opsize_prefix)
{
	if (is_long(in)) {
		if ((flags & D_F64) || (in->rex_w && !(flags & D_SSE)))
			in->opsize = 8;
		else if (flags & D_SSE)
			in->opsize = in->rex_w ? 8 : 4;
		else if (opsize_prefix)
			in->opsize = 2;
		else
			in->opsize = (flags & D_DEF64) ? 8 : 4;
	} else if (flags & D_SSE) {
		in->opsize = 4;
	} else {
		bool big = in->mode == X86_MODE_PROT32;

		in->opsize = (big != opsize_prefix) ? 4 : 2;
	}
}

static int read_disp(struct cursor *c, struct x86_insn *in, unsigned size)
{
	uint64_t v;
	int rc = fetch_le(c, size, &v);

	if (rc)
		return rc;
	in->disp = sign_extend(v, size);
	in->disp_size = size;
	return 0;
}

/* SDM table 2-1: 16-bit addressing has no SIB; rm=110 with mod=00 is disp16 alone. */
static int read_mem16(struct cursor *c, struct x86_insn *in)
{
	if (in->mod == 0 && in->rm == 6) {
		in->no_base = true;
		return read_disp(c, in, 2);
	}
	if (in->mod == 1)
		return read_disp(c, in, 1);
	if (in->mod == 2)
		return read_disp(c, in, 2);
	return 0;
}

/* SDM tables 2-2, 2-3 and 2-5 (REX), 2.2.1.6 (RIP-relative). */
static int read_mem32(struct cursor *c, struct x86_insn *in)
{
	unsigned disp_size = in->mod == 1 ? 1 : in->mod == 2 ? 4 : 0;

	if ((in->modrm & 7) == 4) {
		int rc = fetch_byte(c, &in->sib);

		if (rc)
			return rc;
		in->has_sib = true;
		in->scale = in->sib >> 6;
		in->index = ((in->sib >> 3) & 7) | (in->rex_x ? 8 : 0);
		in->base = (in->sib & 7) | (in->rex_b ? 8 : 0);
		in->no_index = in->index == 4;
		if (in->mod == 0 && (in->sib & 7) == 5) {
			in->no_base = true;
			disp_size = 4;
		}
	} else if (in->mod == 0 && (in->modrm & 7) == 5) {
		if (is_long(in))
			in->rip_rel = true;
		else
			in->no_base = true;
		disp_size = 4;
	}
	return disp_size ? read_disp(c, in, disp_size) : 0;
}

static int read_modrm(struct cursor *c, struct x86_insn *in, uint32_t flags)
{
	int rc = fetch_byte(c, &in->modrm);

	if (rc)
		return rc;
	in->has_modrm = true;
	in->mod = in->modrm >> 6;
	in->reg = ((in->modrm >> 3) & 7) | (in->rex_r ? 8 : 0);
	in->rm = (in->modrm & 7) | (in->rex_b ? 8 : 0);
	/* SDM MOV (control/debug registers): "the mod bits are ignored", always registers. */
	if (flags & D_CRDR)
		in->mod = 3;
	if (in->mod == 3)
		return 0;
	if (in->addrsize == 2) {
		in->rm = in->modrm & 7; /* REX does not exist outside 64-bit mode */
		return read_mem16(c, in);
	}
	return read_mem32(c, in);
}

/* 0F 01 with mod=11 (SDM table A-6 group 7). */
static struct x86_opdesc group7_reg(const struct x86_insn *in)
{
	unsigned reg = in->reg & 7, rm = in->modrm & 7;

	if (reg == 7 && rm == 0 && is_long(in))
		return (struct x86_opdesc){X86_OP_SWAPGS, 0};
	if (reg == 7 && rm == 1)
		return (struct x86_opdesc){X86_OP_RDTSCP, 0};
	/* VMX, MONITOR/MWAIT, SMAP, XSAVE and SVM forms are not advertised. */
	return x86_groups[X86_GRP_7].reg[reg];
}

static bool group_prefix_ok(const struct x86_insn *in, unsigned grp)
{
	unsigned reg = in->reg & 7;

	switch (grp) {
	case X86_GRP_12:
	case X86_GRP_13:
	case X86_GRP_14:
		/* None: MMX; 66: XMM; PSRLDQ/PSLLDQ exist only for XMM (SDM table A-6). */
		if (in->mandatory != 0 && in->mandatory != 0x66)
			return false;
		return !(grp == X86_GRP_14 && (reg == 3 || reg == 7) && in->mandatory != 0x66);
	case X86_GRP_15:
		/* F2/F3 forms are FSGSBASE/CET, 66 /6 /7 are CLWB/CLFLUSHOPT: not advertised. */
		if (in->rep)
			return false;
		return !((in->prefixes & X86_PFX_OPSIZE) && (in->mod == 3 || reg >= 4));
	default:
		return true;
	}
}

static int resolve_group(struct x86_insn *in, struct x86_opdesc *d)
{
	unsigned grp = d->op, reg = in->reg & 7;
	struct x86_opdesc e;

	if (grp == X86_GRP_7 && in->mod == 3)
		e = group7_reg(in);
	else if (in->mod == 3)
		e = x86_groups[grp].reg[reg];
	else
		e = x86_groups[grp].mem[reg];
	if (grp == X86_GRP_9 && e.op == X86_OP_CMPXCHG8B && in->rex_w)
		e.op = X86_OP_CMPXCHG16B;
	if (!e.op || !group_prefix_ok(in, grp))
		return X86_DECODE_UD;
	d->op = e.op;
	d->flags = (d->flags & ~D_GRP) | e.flags;
	if (d->flags & D_GIMM)
		d->flags |= (d->flags & D_BYTE) ? D_IB : D_IZ;
	return 0;
}

/* x87 register forms whose meaning depends on ModRM.rm (SDM table ). */
static uint16_t x87_reg_by_rm(unsigned esc, unsigned reg, unsigned rm)
{
	switch (esc) {
	case 1: /* D9 */
		if (reg == 2)
			return rm == 0 ? X86_OP_FNOP : 0;
		return reg >= 4 ? x86_x87_d9[reg - 4][rm] : 0;
	case 2: /* DA E9 */
		return reg == 5 && rm == 1 ? X86_OP_FUCOMPP : 0;
	case 3: /* DB E0-E4: FENI, FDISI and FSETPM do nothing on a 387 and later */
		if (reg != 4)
			return 0;
		if (rm == 2)
			return X86_OP_FNCLEX;
		if (rm == 3)
			return X86_OP_FNINIT;
		return rm == 0 || rm == 1 || rm == 4 ? X86_OP_FNOP : 0;
	case 6: /* DE D9 */
		return reg == 3 && rm == 1 ? X86_OP_FCOMPP : 0;
	case 7: /* DF E0 */
		return reg == 4 && rm == 0 ? X86_OP_FNSTSW : 0;
	default:
		return 0;
	}
}

static int resolve_x87(struct x86_insn *in, struct x86_opdesc *d)
{
	unsigned esc = in->opcode - 0xd8, reg = in->reg & 7;
	uint16_t op;

	if (in->mod != 3)
		op = x86_x87_mem[esc][reg];
	else
		op = x86_x87_reg[esc][reg] ? x86_x87_reg[esc][reg]
					   : x87_reg_by_rm(esc, reg, in->modrm & 7);
	if (!op)
		return X86_DECODE_UD;
	d->op = op;
	return 0;
}

/* The mandatory prefix (SDM 2.1.2): F2/F3 (the last given) before 66. */
static void take_mandatory_prefix(struct x86_insn *in)
{
	if (in->rep) {
		in->mandatory = in->rep;
		in->rep = 0;
	} else if (in->prefixes & X86_PFX_OPSIZE) {
		in->mandatory = 0x66;
	}
}

static int resolve_sse(struct x86_insn *in, struct x86_opdesc *d)
{
	unsigned column = in->mandatory == 0x66	  ? 1
			  : in->mandatory == 0xf3 ? 2
			  : in->mandatory	  ? 3
						  : 0;
	struct x86_opdesc e = x86_sse0f[in->opcode].v[column];

	if (!e.op)
		return X86_DECODE_UD;
	if (in->mandatory == 0 && in->mod == 3 && in->opcode == 0x12)
		e.op = X86_OP_MOVHLPS;
	if (in->mandatory == 0 && in->mod == 3 && in->opcode == 0x16)
		e.op = X86_OP_MOVLHPS;
	d->op = e.op;
	d->flags |= e.flags;
	return 0;
}

/* MOV CRn: CR0, CR2-CR4, and CR8 in 64-bit mode; MOV DRn: DR0-DR7 (SDM MOV, #UD). */
static bool crdr_ok(const struct x86_insn *in)
{
	if (in->op == X86_OP_MOV_FROM_DR || in->op == X86_OP_MOV_TO_DR)
		return in->reg < 8;
	if (in->reg == 8)
		return is_long(in);
	return in->reg == 0 || (in->reg >= 2 && in->reg <= 4);
}

/* SDM MOV (segment registers): only ES..GS exist, and CS cannot be loaded. */
static bool sreg_ok(const struct x86_insn *in)
{
	unsigned sreg = in->reg & 7;

	if (in->op == X86_OP_MOV_TO_SEG && sreg == X86_SEG_CS)
		return false;
	return sreg <= X86_SEG_GS;
}

/* Protected-mode-only instructions: "not recognized in real-address mode" (#UD). */
static bool real_mode_ok(const struct x86_insn *in)
{
	switch (in->op) {
	case X86_OP_SLDT:
	case X86_OP_STR:
	case X86_OP_LLDT:
	case X86_OP_LTR:
	case X86_OP_VERR:
	case X86_OP_VERW:
	case X86_OP_LAR:
	case X86_OP_LSL:
	case X86_OP_ARPL:
		return in->mode != X86_MODE_REAL16;
	default:
		return true;
	}
}

/* SDM LOCK: only listed instructions, and only with a memory destination. */
static bool lock_ok(const struct x86_insn *in, uint32_t flags)
{
	if (!(in->prefixes & X86_PFX_LOCK))
		return true;
	return (flags & D_LOCK) && in->has_modrm && in->mod != 3;
}

static void opcode_fixups(struct x86_insn *in, struct x86_opdesc *d)
{
	if (in->map != X86_MAP_1B)
		return;
	if (in->opcode == 0x63 && is_long(in))
		d->op = X86_OP_MOVSXD;
	if (in->opcode == 0x90 && !in->rex_b) {
		/* F3 90 is PAUSE; 90 is NOP, not XCHG eAX,eAX (which would clear RAX[63:32]). */
		d->op = in->rep == 0xf3 ? X86_OP_PAUSE : X86_OP_NOP;
		if (d->op == X86_OP_PAUSE)
			in->rep = 0;
	}
}

static int read_immediates(struct cursor *c, struct x86_insn *in, uint32_t flags)
{
	unsigned size = 0, size2 = 0;

	switch (flags & D_IMM_MASK) {
	case D_IB:
		size = 1;
		break;
	case D_IW:
		size = 2;
		break;
	case D_IZ:
		size = in->opsize == 2 ? 2 : 4;
		break;
	case D_IV:
		size = in->opsize;
		break;
	case D_IENTER:
		size = 2;
		size2 = 1;
		break;
	case D_IFAR:
		size = in->opsize == 2 ? 2 : 4;
		size2 = 2;
		break;
	case D_IMOFFS:
		size = in->addrsize;
		break;
	}
	int rc = fetch_le(c, size, &in->imm);

	if (rc)
		return rc;
	in->imm_size = size;
	rc = fetch_le(c, size2, &in->imm2);
	in->imm2_size = size2;
	return rc;
}

static int read_opcode(struct cursor *c, struct x86_insn *in, struct x86_opdesc *d)
{
	uint8_t b;
	int rc = read_prefixes(c, in, &b);

	if (rc)
		return rc;
	in->opcode = b;
	if (b != 0x0f) {
		in->map = X86_MAP_1B;
		*d = x86_map1[b];
		return 0;
	}
	rc = fetch_byte(c, &b);
	if (rc)
		return rc;
	in->map = X86_MAP_0F;
	in->opcode = b;
	*d = x86_map0f[b];
	if (d->flags & (D_ESC38 | D_ESC3A)) {
		/* Every 0F38/0F3A instruction is SSSE3 or later: none is advertised. */
		in->map = (d->flags & D_ESC38) ? X86_MAP_0F38 : X86_MAP_0F3A;
		rc = fetch_byte(c, &in->opcode);
		return rc ? rc : X86_DECODE_UD;
	}
	return 0;
}

static bool modrm_kind_ok(const struct x86_insn *in, uint32_t flags)
{
	if ((flags & D_MEM) && in->mod == 3)
		return false;
	return !((flags & D_REG) && in->mod != 3);
}

static bool takes_mandatory_prefix(const struct x86_insn *in, uint32_t flags)
{
	if (flags & D_SSE)
		return true;
	return in->map == X86_MAP_0F && in->opcode >= 0x71 && in->opcode <= 0x73;
}

static int resolve_op(struct x86_insn *in, struct x86_opdesc *d)
{
	if (d->flags & D_GRP)
		return resolve_group(in, d);
	if (d->flags & D_X87)
		return resolve_x87(in, d);
	if (d->flags & D_SSE)
		return resolve_sse(in, d);
	return d->op ? 0 : X86_DECODE_UD;
}

/* Everything after the opcode byte(s). */
static int decode_operands(struct cursor *c, struct x86_insn *in, struct x86_opdesc *d)
{
	int rc;

	if (takes_mandatory_prefix(in, d->flags))
		take_mandatory_prefix(in);
	bool opsize_prefix = (in->prefixes & X86_PFX_OPSIZE) && in->mandatory != 0x66;

	set_operand_size(in, d->flags | (in->mandatory ? D_SSE : 0), opsize_prefix);
	if (d->flags & D_M) {
		rc = read_modrm(c, in, d->flags);
		if (rc)
			return rc;
	}
	bool group = d->flags & D_GRP;

	rc = resolve_op(in, d);
	if (rc)
		return rc;
	/* A group member may have its own 64-bit default (FF /6 PUSH: SDM table A-6 "d64"). */
	if (group)
		set_operand_size(in, d->flags | (in->mandatory ? D_SSE : 0), opsize_prefix);
	opcode_fixups(in, d);
	in->op = d->op;
	if (!modrm_kind_ok(in, d->flags) || !lock_ok(in, d->flags))
		return X86_DECODE_UD;
	if ((d->flags & D_CRDR) && !crdr_ok(in))
		return X86_DECODE_UD;
	if ((in->op == X86_OP_MOV_TO_SEG || in->op == X86_OP_MOV_FROM_SEG) && !sreg_ok(in))
		return X86_DECODE_UD;
	if (!real_mode_ok(in))
		return X86_DECODE_UD;
	if ((d->flags & D_F64) && in->opsize != 8 && is_long(in))
		in->opsize = 8;
	if (d->flags & D_CRDR)
		in->opsize = is_long(in) ? 8 : 4;
	rc = read_immediates(c, in, d->flags);
	if (rc)
		return rc;
	if (d->flags & D_BYTE)
		in->opsize = 1;
	return 0;
}

int x86_decode(const uint8_t *bytes, size_t avail, enum x86_mode mode, struct x86_insn *out)
{
	struct cursor c = {.bytes = bytes, .avail = bytes ? avail : 0};
	struct x86_opdesc d;
	int rc;

	memset(out, 0, sizeof(*out));
	out->mode = mode > X86_MODE_LONG64 ? X86_MODE_LONG64 : mode;
	out->seg = X86_SEG_NONE;
	rc = read_opcode(&c, out, &d);
	if (rc)
		return rc;
	if ((d.flags & D_INV64) && is_long(out))
		return X86_DECODE_UD;
	set_address_size(out);
	out->opreg = (out->opcode & 7) | (out->rex_b ? 8 : 0);
	if ((out->map == X86_MAP_0F && (out->opcode & 0xf0) == 0x80) ||
	    (out->map == X86_MAP_0F && (out->opcode & 0xf0) == 0x90) ||
	    (out->map == X86_MAP_0F && (out->opcode & 0xf0) == 0x40) ||
	    (out->map == X86_MAP_1B && (out->opcode & 0xf0) == 0x70))
		out->opreg = out->opcode & 15; /* the condition code (SDM B.1.4.7) */
	rc = decode_operands(&c, out, &d);
	if (rc)
		return rc;
	out->len = (uint8_t)c.pos;
	return c.pos;
}
