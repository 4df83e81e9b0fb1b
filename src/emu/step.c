/*
 * The emu CPU's instruction cycle: fetch through CS and the MMU, decode, LOCK, dispatch to the
 * executor units, and the all-or-nothing commit of registers (Intel SDM vol. 3A 6.6 "Program
 * or task restart": a fault leaves the state as it was before the instruction).
 */
#include <string.h>

#include "exec_internal.h"

/* The power-on / INIT state of SDM 9.1.1, table 9-1. */
void x86_cpu_reset(struct x86_cpu *cpu)
{
	uint32_t apic_id = cpu->apic_id, id[4];

	memset(cpu, 0, offsetof(struct x86_cpu, tlb));
	cpu->apic_id = apic_id;
	cpu->rflags = X86_FLAG_FIXED1;
	cpu->rip = 0xfff0;
	cpu->cr0 = X86_CR0_ET | X86_CR0_NW | X86_CR0_CD;
	for (int s = 0; s < X86_SEG_NONE; s++) {
		cpu->seg[s].limit = 0xffff;
		cpu->seg[s].attr = X86_SEGA_P | X86_SEGA_S | 0x3; /* read/write data, accessed */
	}
	cpu->seg[X86_SEG_CS].selector = 0xf000;
	cpu->seg[X86_SEG_CS].base = 0xffff0000;
	cpu->seg[X86_SEG_CS].attr = X86_SEGA_P | X86_SEGA_S | 0xb; /* execute/read, accessed */
	cpu->ldtr.limit = cpu->tr.limit = 0xffff;
	cpu->ldtr.attr = X86_SEGA_P | 0x2; /* LDT */
	cpu->tr.attr = X86_SEGA_P | 0xb;   /* busy 32-bit TSS */
	cpu->gdtr.limit = cpu->idtr.limit = 0xffff;
	cpu->dr[6] = 0xffff0ff0;
	cpu->dr[7] = 0x400;
	cpu->fpu.fcw = 0x40;
	cpu->fpu.mxcsr = 0x1f80;
	cpu->msr.pat = 0x0007040600070406ull;
	cpu->msr.misc_enable = X86_MISC_ENABLE_RESET;
	x86_cpuid(cpu, 1, 0, id);
	cpu->gpr[X86_RDX] = id[0]; /* family/model/stepping as CPUID 1 EAX reports it */
	x86_update_mode(cpu);
	x86_tlb_flush(cpu, true);
}

void x86_cpu_init(struct x86_cpu *cpu)
{
	memset(cpu, 0, sizeof(*cpu));
	cpu->rflags = X86_FLAG_FIXED1;
	cpu->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE;
	cpu->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	cpu->efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_SCE | X86_EFER_NXE;
	for (int s = 0; s < X86_SEG_NONE; s++) {
		cpu->seg[s].limit = 0xffffffff;
		cpu->seg[s].attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_DB |
				   (3u << X86_SEGA_DPL_SHIFT) | 0x3;
	}
	cpu->seg[X86_SEG_CS].selector = 0x33;
	cpu->seg[X86_SEG_CS].attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_L |
				    (3u << X86_SEGA_DPL_SHIFT) | 0xb;
	cpu->seg[X86_SEG_SS].selector = 0x2b;
	cpu->cpl = 3;
	cpu->fpu.fcw = 0x37f;
	cpu->fpu.mxcsr = 0x1f80;
	cpu->msr.pat = 0x0007040600070406ull;
	cpu->msr.misc_enable = X86_MISC_ENABLE_RESET;
	x86_update_mode(cpu);
}

/* SDM 2.2 / 9.8.5: long mode is active with EFER.LMA; CS.L picks 64-bit or compatibility. */
void x86_update_mode(struct x86_cpu *cpu)
{
	const struct x86_segment *cs = &cpu->seg[X86_SEG_CS];

	if (!(cpu->cr0 & X86_CR0_PE) || (cpu->rflags & X86_FLAG_VM))
		cpu->mode = X86_MODE_REAL16;
	else if ((cpu->efer & X86_EFER_LMA) && (cs->attr & X86_SEGA_L))
		cpu->mode = X86_MODE_LONG64;
	else if (cs->attr & X86_SEGA_DB)
		cpu->mode = X86_MODE_PROT32;
	else
		cpu->mode = X86_MODE_PROT16;
}

static int decode_result(int rc)
{
	if (rc > 0)
		return 0;
	return rc == X86_DECODE_GP ? X86_EXC_GP : X86_EXC_UD;
}

/* The linear address of CS:IP + offset; outside 64-bit mode the offset must be within the
 * CS limit (SDM 5.3). */
static int fetch_linear(struct x86_cpu *cpu, uint64_t offset, uint64_t *linear)
{
	const struct x86_segment *cs = &cpu->seg[X86_SEG_CS];

	if (cpu->mode == X86_MODE_LONG64) {
		*linear = cpu->rip + offset;
		return 0;
	}
	if (((cpu->rip + offset) & 0xffffffffull) > cs->limit) {
		cpu->fault_error_code = 0;
		return X86_EXC_GP;
	}
	*linear = (cs->base + ((cpu->rip + offset) & 0xffffffffull)) & 0xffffffffull;
	return 0;
}

static int fetch_bytes(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		       uint64_t offset, uint8_t *buf, size_t len)
{
	uint64_t linear;
	int rc = fetch_linear(cpu, offset, &linear);

	if (rc == 0 && cpu->mode != X86_MODE_LONG64 && len > 1)
		rc = fetch_linear(cpu, offset + len - 1, &linear) ?: fetch_linear(cpu, offset, &linear);
	if (rc)
		return rc;
	return x86_linear_read(cpu, mem, opaque, linear, buf, len, X86_ACC_FETCH);
}

/*
 * Reads and decodes the instruction: 15 bytes at once, or byte by byte if that runs into a
 * fault, so that only a fault on a byte the instruction really has is reported.
 */
int x86_fetch_decode(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		     struct x86_insn *in)
{
	uint8_t bytes[X86_MAX_INSN_LEN];
	size_t avail;
	int rc;

	if (fetch_bytes(cpu, mem, opaque, 0, bytes, sizeof(bytes)) == 0)
		return decode_result(x86_decode(bytes, sizeof(bytes), cpu->mode, in));
	for (avail = 1; avail <= sizeof(bytes); avail++) {
		rc = fetch_bytes(cpu, mem, opaque, avail - 1, &bytes[avail - 1], 1);
		if (rc)
			return rc;
		rc = x86_decode(bytes, avail, cpu->mode, in);
		if (rc != X86_DECODE_MORE)
			return decode_result(rc);
	}
	cpu->fault_error_code = 0;
	return X86_EXC_GP;
}

/*
 * Offers the instruction to each unit in turn until one takes it. *hint, if not 0, is 1 + the
 * unit that took this same instruction before: it is asked first, and the chain is still there
 * if it declines.
 */
static int dispatch(struct x86_exec *x, uint8_t *hint)
{
	static int (*const units[])(struct x86_exec *) = {
	    x86_exec_alu,    x86_exec_move,  x86_exec_flow,   x86_exec_bit,    x86_exec_shift,
	    x86_exec_muldiv, x86_exec_string, x86_exec_sse,   x86_exec_x87,    x86_exec_system,
	    x86_exec_far,    x86_exec_intr,  x86_exec_legacy,
	};
	const size_t n = sizeof(units) / sizeof(units[0]);
	int rc = X86_EXEC_UNHANDLED;

	if (*hint && *hint <= n) {
		rc = units[*hint - 1](x);
		if (rc != X86_EXEC_UNHANDLED)
			return rc;
	}
	for (size_t i = 0; i < n && rc == X86_EXEC_UNHANDLED; i++) {
		rc = units[i](x);
		if (rc != X86_EXEC_UNHANDLED)
			*hint = (uint8_t)(i + 1);
	}
	if (rc == X86_EXEC_UNHANDLED) {
		x->cpu->fault_error_code = 0;
		rc = X86_EXC_UD;
	}
	return rc;
}

/* The next instruction's address: IP wraps at 64 KiB in 16-bit code, EIP at 4 GiB in 32-bit
 * code (SDM 3.5 / 20.1.1). */
static uint64_t advance_ip(const struct x86_cpu *cpu, uint64_t rip, unsigned len)
{
	switch (cpu->mode) {
	case X86_MODE_LONG64:
		return rip + len;
	case X86_MODE_PROT32:
		return (rip + len) & 0xffffffffull;
	default:
		return (rip + len) & 0xffffull;
	}
}

static int execute_general(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			   const struct x86_insn *in, uint8_t *hint);

int x86_execute(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		const struct x86_insn *in)
{
	uint8_t hint = 0;

	return x86_execute_hinted(cpu, mem, opaque, in, &hint);
}

int x86_execute_hinted(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		       const struct x86_insn *in, uint8_t *hint)
{
	uint8_t *unit = hint, no_hint = 0;
	int fast_rc;

	/* The hint: X86_HINT_FAST | kind for a short path (exec_fast.c), else the unit. */
	if (*hint == 0) {
		unsigned kind = x86_fast_select(in);

		if (kind)
			*hint = (uint8_t)(X86_HINT_FAST | kind);
	}
	if (*hint & X86_HINT_FAST) {
		fast_rc = x86_fast_exec(cpu, mem, opaque, in, *hint & ~X86_HINT_FAST);
		if (fast_rc != X86_EXEC_UNHANDLED)
			return fast_rc;
		unit = &no_hint;
	}
	return execute_general(cpu, mem, opaque, in, unit);
}

/* The general path: a snapshot of the registers, the units, and the commit. */
static int execute_general(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			   const struct x86_insn *in, uint8_t *hint)
{
	struct x86_exec x = {.cpu = cpu, .mem = mem, .opaque = opaque, .in = in};
	uint64_t saved_gpr[X86_GPR_COUNT], saved_rip = cpu->rip, saved_rflags = cpu->rflags;
	bool shadow = cpu->intr_shadow;
	int rc;

	memcpy(saved_gpr, cpu->gpr, sizeof(saved_gpr));
	/* SDM 8.1.2.2: XCHG with memory is locked without a prefix. */
	x.locked = (in->prefixes & X86_PFX_LOCK) || (in->op == X86_OP_XCHG && in->mod != 3 &&
						     in->has_modrm);
	x.next_rip = advance_ip(cpu, cpu->rip, in->len);
	cpu->intr_shadow = false; /* an STI or MOV SS shadow covers one instruction */
	rc = dispatch(&x, hint);
	if (rc == 0 && !x.lock_lost) {
		cpu->rip = x.next_rip; /* every control transfer sets next_rip */
		return 0;
	}
	memcpy(cpu->gpr, saved_gpr, sizeof(saved_gpr));
	cpu->rip = saved_rip;
	cpu->rflags = saved_rflags;
	cpu->intr_shadow = shadow;
	return x.lock_lost && rc == 0 ? 0 : rc; /* lost the race: run it again */
}

int x86_step(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque)
{
	struct x86_insn in;
	int rc = x86_fetch_decode(cpu, mem, opaque, &in);

	if (rc)
		return rc;
	return x86_execute(cpu, mem, opaque, &in);
}
