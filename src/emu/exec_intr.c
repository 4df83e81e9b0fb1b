/*
 * Software interrupts, IRET and SYSCALL/SYSRET of the emu CPU (Intel SDM vol. 2 pages
 * "INT n/INTO/INT3/INT1", "IRET/IRETD/IRETQ", "SYSCALL", "SYSRET"; vol. 3A 6.14.3 for IRET in
 * IA-32e mode, 5.8.8 for SYSCALL/SYSRET).
 *
 * Not supported (Linux never uses them; none is advertised): IRET with NT = 1 (a task return)
 * and IRET back to virtual-8086 mode raise #GP(0); SYSENTER/SYSEXIT are #UD in the decoder
 * (CPUID.1:EDX.SEP = 0).
 */
#include "exec_internal.h"

/* INT n, INT3, INTO, INT1: the whole delivery happens here, RIP is the handler's afterwards. */
static int software_event(struct x86_exec *x, unsigned vector, bool software)
{
	struct x86_cpu *cpu = x->cpu;
	int rc = x86_deliver(cpu, x->mem, x->opaque, X86_EVENT_EXCEPTION, X86_EXC(vector), software,
			 x->next_rip);
	if (rc)
		return rc;
	x->next_rip = cpu->rip;
	x->sys_changed = true;
	return 0;
}

/* ---- IRET ---- */

/* Real mode (and virtual-8086 mode at IOPL 3): pop IP, CS, FLAGS (SDM "IRET", REAL-ADDRESS-MODE). */
static int iret_real(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned size = x->in->opsize;
	uint64_t ip, cs, flags, mask;
	struct x86_stack st;
	int rc;

	x86_stack_current(&st, cpu);
	rc = x86_stack_pop(x, &st, size, &ip);
	if (rc == 0)
		rc = x86_stack_pop(x, &st, size, &cs);
	if (rc == 0)
		rc = x86_stack_pop(x, &st, size, &flags);
	if (rc)
		return rc;
	if (ip > cpu->seg[X86_SEG_CS].limit)
		return x86_fault(cpu, X86_EXC_GP, 0);
	/* VIF, VIP and VM are kept; in virtual-8086 mode IOPL too. */
	mask = size == 2 ? 0x7fd5 : 0x257fd5;
	if (cpu->rflags & X86_FLAG_VM)
		mask &= ~X86_FLAG_IOPL;
	cpu->rflags = (cpu->rflags & ~mask) | (flags & mask) | X86_FLAG_FIXED1;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	x86_seg_load_real(&cpu->seg[X86_SEG_CS], (uint16_t)cs);
	cpu->nmi_blocked = false;
	x->next_rip = ip;
	x->sys_changed = true;
	return 0;
}

/* The RFLAGS bits IRET may change at the current CPL and IOPL (SDM "IRET" operation). */
static uint64_t iret_flags_mask(const struct x86_cpu *cpu, unsigned size)
{
	uint64_t mask = X86_FLAGS_ARITH | X86_FLAG_TF | X86_FLAG_DF | X86_FLAG_NT;
	unsigned iopl = (unsigned)((cpu->rflags & X86_FLAG_IOPL) >> 12);

	if (cpu->cpl <= iopl)
		mask |= X86_FLAG_IF;
	if (cpu->cpl == 0)
		mask |= X86_FLAG_IOPL;
	if (size == 2)
		return mask;
	mask |= X86_FLAG_RF | X86_FLAG_AC | X86_FLAG_ID;
	if (cpu->cpl == 0)
		mask |= X86_FLAG_VIF | X86_FLAG_VIP;
	return mask;
}

static int iret_protected(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned size = x->in->opsize, rpl;
	bool pop_stack, to64;
	uint64_t ip, cs, flags, rsp = 0, ss_sel = 0, desc, mask;
	struct x86_segment ss = cpu->seg[X86_SEG_SS];
	struct x86_stack st;
	int rc;

	if (cpu->rflags & X86_FLAG_NT)
		return x86_fault(cpu, X86_EXC_GP, 0); /* task return: not supported / #GP in IA-32e */
	x86_stack_current(&st, cpu);
	rc = x86_stack_pop(x, &st, size, &ip);
	if (rc == 0)
		rc = x86_stack_pop(x, &st, size, &cs);
	if (rc == 0)
		rc = x86_stack_pop(x, &st, size, &flags);
	if (rc)
		return rc;
	if (!x86_long_mode(cpu) && (flags & X86_FLAG_VM) && size == 4 && cpu->cpl == 0)
		return x86_fault(cpu, X86_EXC_GP, 0); /* return to virtual-8086 mode: unsupported */
	rc = x86_check_return_cs(x, (uint16_t)cs, &desc);
	if (rc)
		return rc;
	rpl = cs & 3u;
	to64 = x86_desc_is_64bit_code(cpu, desc);
	/* 64-bit mode always pops SS:RSP (SDM 6.14.3); otherwise only for an outer level. */
	pop_stack = cpu->mode == X86_MODE_LONG64 || rpl > cpu->cpl;
	if (pop_stack) {
		rc = x86_stack_pop(x, &st, size, &rsp);
		if (rc == 0)
			rc = x86_stack_pop(x, &st, size, &ss_sel);
		if (rc == 0)
			rc = x86_prepare_return_ss(x, (uint16_t)ss_sel, rpl, to64, &ss);
		if (rc)
			return rc;
	}
	rc = x86_check_far_ip(cpu, desc, ip);
	if (rc == 0)
		rc = x86_desc_set_type_bit(x, (uint16_t)cs, &desc, X86_SEGA_ACCESSED);
	if (rc)
		return rc;

	mask = iret_flags_mask(cpu, size);
	cpu->rflags = (cpu->rflags & ~mask) | (flags & mask) | X86_FLAG_FIXED1;
	if (pop_stack) {
		uint64_t smask = to64 ? ~0ull : (ss.attr & X86_SEGA_DB) ? 0xffffffffull : 0xffff;

		rsp &= smask;
		if (smask == 0xffff)
			rsp |= cpu->gpr[X86_RSP] & ~0xffffull;
		cpu->gpr[X86_RSP] = rsp;
		cpu->seg[X86_SEG_SS] = ss;
	} else {
		cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	}
	x86_commit_cs(x, (uint16_t)cs, desc, rpl);
	x86_seg_null_inaccessible(cpu);
	cpu->nmi_blocked = false;
	x->next_rip = ip;
	return 0;
}

static int exec_iret(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;

	if (!(cpu->cr0 & X86_CR0_PE))
		return iret_real(x);
	if (cpu->rflags & X86_FLAG_VM) {
		if ((cpu->rflags & X86_FLAG_IOPL) != X86_FLAG_IOPL)
			return x86_fault(cpu, X86_EXC_GP, 0);
		return iret_real(x);
	}
	return iret_protected(x);
}

/* ---- SYSCALL / SYSRET (SDM "SYSCALL", "SYSRET"; Intel: 64-bit mode only) ---- */

/* The flat segments SYSCALL/SYSRET load without reading descriptors. */
static void flat_seg(struct x86_segment *s, uint16_t sel, uint32_t attr)
{
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->attr = attr | X86_SEGA_P | X86_SEGA_S | X86_SEGA_G;
}

static int exec_syscall(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint16_t sel = (uint16_t)(cpu->msr.star >> 32);

	if (cpu->mode != X86_MODE_LONG64 || !(cpu->efer & X86_EFER_SCE))
		return x86_fault(cpu, X86_EXC_UD, 0);
	cpu->gpr[X86_RCX] = x->next_rip;
	cpu->gpr[X86_R11] = cpu->rflags & ~X86_FLAG_RF;
	cpu->rflags = (cpu->rflags & ~(cpu->msr.sfmask | X86_FLAG_RF)) | X86_FLAG_FIXED1;
	flat_seg(&cpu->seg[X86_SEG_CS], sel & 0xfffc, 0xb | X86_SEGA_L);
	flat_seg(&cpu->seg[X86_SEG_SS], (uint16_t)(sel + 8), 0x3 | X86_SEGA_DB);
	cpu->cpl = 0;
	x86_update_mode(cpu);
	x->sys_changed = true;
	x->next_rip = cpu->msr.lstar;
	return 0;
}

static int exec_sysret(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint16_t sel = (uint16_t)(cpu->msr.star >> 48);
	bool to64 = x->in->opsize == 8;
	uint64_t rip = to64 ? cpu->gpr[X86_RCX] : cpu->gpr[X86_RCX] & 0xffffffffull;
	uint32_t dpl3 = 3u << X86_SEGA_DPL_SHIFT;

	if (cpu->mode != X86_MODE_LONG64 || !(cpu->efer & X86_EFER_SCE))
		return x86_fault(cpu, X86_EXC_UD, 0);
	if (cpu->cpl != 0 || !x86_is_canonical(rip))
		return x86_fault(cpu, X86_EXC_GP, 0);
	cpu->rflags = (cpu->gpr[X86_R11] & 0x3c7fd7) | X86_FLAG_FIXED1;
	if (to64)
		flat_seg(&cpu->seg[X86_SEG_CS], (uint16_t)((sel + 16) | 3), 0xb | dpl3 | X86_SEGA_L);
	else
		flat_seg(&cpu->seg[X86_SEG_CS], sel | 3, 0xb | dpl3 | X86_SEGA_DB);
	flat_seg(&cpu->seg[X86_SEG_SS], (uint16_t)((sel + 8) | 3), 0x3 | dpl3 | X86_SEGA_DB);
	cpu->cpl = 3;
	x86_update_mode(cpu);
	x->sys_changed = true;
	x->next_rip = rip;
	return 0;
}

int x86_exec_intr(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;

	switch (x->in->op) {
	case X86_OP_INT:
		/* Virtual-8086 mode without VME: INT n at IOPL < 3 is #GP(0) (SDM 20.3.3). */
		if ((cpu->rflags & X86_FLAG_VM) && (cpu->rflags & X86_FLAG_IOPL) != X86_FLAG_IOPL)
			return x86_fault(cpu, X86_EXC_GP, 0);
		return software_event(x, x->in->imm & 0xff, true);
	case X86_OP_INT3:
		return software_event(x, 3, true);
	case X86_OP_INTO:
		if (!(cpu->rflags & X86_FLAG_OF))
			return 0;
		return software_event(x, 4, true);
	case X86_OP_INT1:
		/* ICEBP: a #DB delivered like a hardware exception, no gate DPL check (SDM "INT1"). */
		return software_event(x, 1, false);
	case X86_OP_IRET:
		return exec_iret(x);
	case X86_OP_SYSCALL:
		return exec_syscall(x);
	case X86_OP_SYSRET:
		return exec_sysret(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}
