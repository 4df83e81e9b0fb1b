/*
 * System instructions of the emu CPU (Intel SDM vol. 2 instruction pages; vol. 3A 2.5 "Control
 * registers", 9.8.5 "Initializing IA-32e mode", 17.2 "Debug registers", 19.5 "Protection and
 * I/O", 6.8.3 for the STI shadow): MOV to/from CRn and DRn, CLTS, LMSW, SMSW, INVLPG,
 * INVD/WBINVD, CLFLUSH, the fences, PREFETCH, RDMSR/WRMSR (msr.c), RDTSC, RDPMC, CPUID
 * (cpuid.c), HLT, CLI/STI, IN/OUT/INS/OUTS, SWAPGS, MOVNTI, and the always-#UD UD0/UD1/UD2,
 * RSM and RDTSCP.
 *
 * Absent features behave as the SDM says for them: CR4.DE is not supported (DR4/DR5 alias
 * DR6/DR7, CR4.DE is a reserved bit), there are no performance counters (RDPMC #GP), no RDTSCP,
 * no VME/PVI (CLI/STI follow IOPL only), no SMM (RSM #UD).
 *
 * Fault first, commit last: every check comes before the first change of CPU state.
 */
#include "exec_internal.h"

#define IO_STRING_CHUNK 4096u /* REP INS/OUTS iterations per step, as exec_string.c */

/* CR0 bits that exist; the other bits of CR0[31:0] read as zero and ignore writes, bits
 * 63:32 must be written as zero (SDM vol. 3A 2.5, MOV CRn). */
#define CR0_VALID                                                                                  \
	(X86_CR0_PE | X86_CR0_MP | X86_CR0_EM | X86_CR0_TS | X86_CR0_ET | X86_CR0_NE |             \
	 X86_CR0_WP | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD | X86_CR0_PG)
/* CR4 bits of the advertised features (TSC: TSD; PSE; PAE; PGE; PCE; FXSR: OSFXSR; SSE:
 * OSXMMEXCPT). VME/PVI, DE, MCE, UMIP, LA57, VMXE, SMXE, FSGSBASE, PCIDE, OSXSAVE, SMEP,
 * SMAP, PKE... are reserved here: setting them is #GP. */
#define CR4_VALID                                                                                  \
	(X86_CR4_TSD | X86_CR4_PSE | X86_CR4_PAE | X86_CR4_PGE | X86_CR4_PCE | X86_CR4_OSFXSR |    \
	 X86_CR4_OSXMMEXCPT)
#define CR3_RESERVED_LONG (~0ull << 40) /* bits 63:MAXPHYADDR (40) */

#define DR6_FIXED1 0xffff0ff0ull   /* bits 4-11 and 16-31 read as 1 (SDM vol. 3A 17.2.3) */
#define DR6_WRITABLE 0x0000e00full /* B0-B3, BD, BS, BT */
#define DR6_BD (1ull << 13)
#define DR7_FIXED1 0x400ull
#define DR7_WRITABLE 0xffff23ffull /* L0-G3, LE, GE, GD, R/W and LEN fields */
#define DR7_GD (1ull << 13)

static int gp0(struct x86_cpu *cpu)
{
	cpu->fault_error_code = 0;
	return X86_EXC_GP;
}

static int ud(struct x86_cpu *cpu)
{
	cpu->fault_error_code = 0;
	return X86_EXC_UD;
}

static bool long64(const struct x86_cpu *cpu)
{
	return cpu->mode == X86_MODE_LONG64;
}

/* ---- control registers ---- */

static int write_cr0(struct x86_exec *x, uint64_t val)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t old = cpu->cr0, efer = cpu->efer;

	if (val >> 32)
		return gp0(cpu);
	val = (val & CR0_VALID) | X86_CR0_ET; /* ET is hardwired to 1 since the P6 */
	if ((val & X86_CR0_PG) && !(val & X86_CR0_PE))
		return gp0(cpu);
	if ((val & X86_CR0_NW) && !(val & X86_CR0_CD))
		return gp0(cpu);
	if ((val & X86_CR0_PG) && !(old & X86_CR0_PG) && (efer & X86_EFER_LME)) {
		/* SDM 9.8.5: activating IA-32e mode needs PAE and must not start in a 64-bit CS. */
		if (!(cpu->cr4 & X86_CR4_PAE) || (cpu->seg[X86_SEG_CS].attr & X86_SEGA_L))
			return gp0(cpu);
		efer |= X86_EFER_LMA;
	}
	if (!(val & X86_CR0_PG) && (old & X86_CR0_PG) && (efer & X86_EFER_LMA)) {
		/* SDM 9.8.5.4: leave long mode from compatibility mode only (AMD APM 14.7). */
		if (long64(cpu))
			return gp0(cpu);
		efer &= ~X86_EFER_LMA;
	}
	cpu->cr0 = val;
	cpu->efer = efer;
	if ((old ^ val) & (X86_CR0_PG | X86_CR0_WP | X86_CR0_PE))
		x86_tlb_flush(cpu, true);
	x86_update_mode(cpu);
	x->sys_changed = true;
	return 0;
}

static int write_cr4(struct x86_exec *x, uint64_t val)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t old = cpu->cr4;

	if (val & ~CR4_VALID)
		return gp0(cpu);
	if (!(val & X86_CR4_PAE) && (cpu->efer & X86_EFER_LMA))
		return gp0(cpu); /* PAE cannot be cleared in IA-32e mode */
	cpu->cr4 = val;
	if ((old ^ val) & (X86_CR4_PGE | X86_CR4_PAE | X86_CR4_PSE))
		x86_tlb_flush(cpu, true);
	x->sys_changed = true;
	return 0;
}

int x86_cr_write(struct x86_exec *x, unsigned cr, uint64_t val)
{
	struct x86_cpu *cpu = x->cpu;

	switch (cr) {
	case 0:
		return write_cr0(x, val);
	case 2:
		cpu->cr2 = val;
		return 0;
	case 3:
		if ((cpu->efer & X86_EFER_LMA) && (val & CR3_RESERVED_LONG))
			return gp0(cpu);
		cpu->cr3 = val;
		x86_tlb_flush(cpu, false); /* global entries survive (SDM 4.10.4.1) */
		x->sys_changed = true;
		return 0;
	case 4:
		return write_cr4(x, val);
	case 8:
		if (val >> 4)
			return gp0(cpu); /* bits 63:4 reserved */
		if (x->mem->cr8_write)
			x->mem->cr8_write(x->opaque, val);
		return 0;
	default:
		return ud(cpu);
	}
}

static int mov_to_cr(struct x86_exec *x)
{
	const struct x86_insn *in = x->in;

	if (x->cpu->cpl)
		return gp0(x->cpu);
	return x86_cr_write(x, in->reg, x86_reg_get(x, in->rm, in->opsize));
}

static int mov_from_cr(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t v;

	if (cpu->cpl)
		return gp0(cpu);
	switch (x->in->reg) {
	case 0:
		v = cpu->cr0;
		break;
	case 2:
		v = cpu->cr2;
		break;
	case 3:
		v = cpu->cr3;
		break;
	case 4:
		v = cpu->cr4;
		break;
	case 8:
		v = x->mem->cr8_read ? x->mem->cr8_read(x->opaque) & 0xf : 0;
		break;
	default:
		return ud(cpu);
	}
	x86_reg_set(x, x->in->rm, x->in->opsize, v);
	return 0;
}

/* LMSW loads CR0[3:0] but cannot clear PE (SDM LMSW). */
static int lmsw(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t src, old = cpu->cr0;
	int rc;

	if (cpu->cpl)
		return gp0(cpu);
	rc = x86_rm_read(x, 2, &src);
	if (rc)
		return rc;
	cpu->cr0 = (old & ~0xeull) | (src & 0xf) | (old & X86_CR0_PE);
	if ((old ^ cpu->cr0) & X86_CR0_PE) {
		x86_tlb_flush(cpu, true);
		x86_update_mode(cpu);
		x->sys_changed = true;
	}
	return 0;
}

/* SMSW: a register gets CR0 at the operand size, memory its low 16 bits (SDM SMSW). */
static int smsw(struct x86_exec *x)
{
	if (x->in->mod == 3) {
		x86_reg_set(x, x->in->rm, x->in->opsize, x->cpu->cr0);
		return 0;
	}
	return x86_rm_write(x, 2, x->cpu->cr0 & 0xffff);
}

/* ---- debug registers ---- */

/* SDM MOV DRn: CPL 0; DR4/DR5 are DR6/DR7 while CR4.DE is clear (always, DE is not
 * supported); DR7.GD turns every access into a #DB with DR6.BD set. */
static int dr_access_check(struct x86_exec *x, unsigned *dr)
{
	struct x86_cpu *cpu = x->cpu;

	if (cpu->cpl)
		return gp0(cpu);
	if (*dr == 4 || *dr == 5) {
		if (cpu->cr4 & X86_CR4_DE)
			return ud(cpu);
		*dr += 2;
	}
	if (cpu->dr[7] & DR7_GD) {
		cpu->dr[6] |= DR6_BD;
		cpu->dr[7] &= ~DR7_GD; /* the processor clears GD on entry to the handler */
		cpu->fault_error_code = 0;
		return X86_EXC_DB;
	}
	return 0;
}

static int mov_dr(struct x86_exec *x, bool to_dr)
{
	struct x86_cpu *cpu = x->cpu;
	unsigned dr = x->in->reg & 7;
	uint64_t v;
	int rc = dr_access_check(x, &dr);

	if (rc)
		return rc;
	if (!to_dr) {
		x86_reg_set(x, x->in->rm, x->in->opsize, cpu->dr[dr]);
		return 0;
	}
	v = x86_reg_get(x, x->in->rm, x->in->opsize);
	if (dr < 4) {
		cpu->dr[dr] = v;
		return 0;
	}
	if (v >> 32)
		return gp0(cpu); /* DR6/DR7 bits 63:32 must be zero */
	if (dr == 6)
		cpu->dr[6] = (v & DR6_WRITABLE) | DR6_FIXED1;
	else
		cpu->dr[7] = (v & DR7_WRITABLE) | DR7_FIXED1;
	return 0;
}

/* ---- interrupt flag, halt ---- */

/* SDM CLI/STI (no VME/PVI): real mode always; protected mode if CPL <= IOPL; virtual-8086
 * mode if IOPL = 3. */
static bool if_change_allowed(const struct x86_cpu *cpu)
{
	unsigned iopl = (unsigned)((cpu->rflags & X86_FLAG_IOPL) >> 12);

	if (!(cpu->cr0 & X86_CR0_PE))
		return true;
	if (cpu->rflags & X86_FLAG_VM)
		return iopl == 3;
	return cpu->cpl <= iopl;
}

static int cli_sti(struct x86_exec *x, bool set)
{
	struct x86_cpu *cpu = x->cpu;

	if (!if_change_allowed(cpu))
		return gp0(cpu);
	if (!set) {
		cpu->rflags &= ~X86_FLAG_IF;
		return 0;
	}
	/* SDM 6.8.3: STI that sets IF holds interrupts off until after the next instruction. */
	if (!(cpu->rflags & X86_FLAG_IF))
		cpu->intr_shadow = true;
	cpu->rflags |= X86_FLAG_IF;
	return 0;
}

static int hlt(struct x86_exec *x)
{
	if (x->cpu->cpl)
		return gp0(x->cpu);
	x->cpu->halted = true; /* RIP moves past HLT; the engine waits for an event */
	return 0;
}

/* ---- I/O ---- */

static int tss_read(struct x86_exec *x, uint32_t offset, void *buf, size_t len)
{
	uint64_t linear = x->cpu->tr.base + offset;

	if (!(x->cpu->efer & X86_EFER_LMA))
		linear &= 0xffffffffull;
	return x86_lin_read(x, linear, buf, len, X86_ACC_READ | X86_ACC_SUPERVISOR);
}

/*
 * The I/O permission bitmap of SDM 19.5.2: in the 32-bit or 64-bit TSS at the 16-bit offset
 * stored at byte 102; every bit of the accessed ports must be clear. The processor reads two
 * bytes, both within the TSS limit, else #GP(0).
 */
static int io_bitmap_check(struct x86_exec *x, uint16_t port, unsigned size)
{
	const struct x86_segment *tr = &x->cpu->tr;
	unsigned type = tr->attr & X86_SEGA_TYPE;
	uint8_t b[2];
	uint32_t offset;
	int rc;

	if ((tr->attr & X86_SEGA_UNUSABLE) || (type != 9 && type != 11) || tr->limit < 103)
		return gp0(x->cpu);
	rc = tss_read(x, 102, b, 2);
	if (rc)
		return rc;
	offset = (uint32_t)(b[0] | b[1] << 8) + port / 8u;
	if (offset + 1 > tr->limit)
		return gp0(x->cpu);
	rc = tss_read(x, offset, b, 2);
	if (rc)
		return rc;
	if ((unsigned)(b[0] | b[1] << 8) >> (port & 7) & ((1u << size) - 1))
		return gp0(x->cpu);
	return 0;
}

/* SDM 19.5.1: I/O is free in real mode and at CPL <= IOPL; otherwise (and always in
 * virtual-8086 mode) the bitmap decides. */
static int io_permitted(struct x86_exec *x, uint16_t port, unsigned size)
{
	const struct x86_cpu *cpu = x->cpu;
	unsigned iopl = (unsigned)((cpu->rflags & X86_FLAG_IOPL) >> 12);

	if (!(cpu->cr0 & X86_CR0_PE))
		return 0;
	if (!(cpu->rflags & X86_FLAG_VM) && cpu->cpl <= iopl)
		return 0;
	return io_bitmap_check(x, port, size);
}

/* IN/OUT/INS/OUTS move 1, 2 or 4 bytes; REX.W does not make them 8 (SDM IN). */
static unsigned io_size(const struct x86_insn *in)
{
	return in->opsize > 4 ? 4 : in->opsize;
}

static int port_in(struct x86_exec *x, uint16_t port, unsigned size, uint32_t *val)
{
	*val = 0xffffffffu; /* nothing there: the bus floats high */
	if (!x->mem->pio_in)
		return 0;
	return x->mem->pio_in(x->opaque, port, size, val);
}

static int port_out(struct x86_exec *x, uint16_t port, unsigned size, uint32_t val)
{
	if (!x->mem->pio_out)
		return 0;
	return x->mem->pio_out(x->opaque, port, size, val & (uint32_t)x86_size_mask(size));
}

static int in_out(struct x86_exec *x, bool out)
{
	const struct x86_insn *in = x->in;
	unsigned size = io_size(in);
	uint16_t port = in->imm_size ? (uint16_t)in->imm : (uint16_t)x->cpu->gpr[X86_RDX];
	uint32_t v;
	int rc = io_permitted(x, port, size);

	if (rc)
		return rc;
	if (out)
		return port_out(x, port, size, (uint32_t)x->cpu->gpr[X86_RAX]);
	rc = port_in(x, port, size, &v);
	if (rc == 0)
		x86_reg_set(x, X86_RAX, size, v);
	return rc;
}

/* seg:offset as a linear address. In 64-bit mode only FS and GS have a base (SDM 3.3.7.1);
 * segment limits are not checked here. */
static uint64_t seg_linear(const struct x86_exec *x, unsigned seg, uint64_t offset)
{
	const struct x86_cpu *cpu = x->cpu;

	if (long64(cpu))
		return (seg == X86_SEG_FS || seg == X86_SEG_GS) ? offset + cpu->seg[seg].base
								: offset;
	return (cpu->seg[seg].base + offset) & 0xffffffffull;
}

struct io_string {
	uint16_t port;
	unsigned size, asize;
	int64_t step;
};

/* INS stores to ES:rDI. The destination is translated before the port is read, so that a
 * #PF does not swallow a device's data. */
static int ins_once(struct x86_exec *x, const struct io_string *s)
{
	uint64_t dst = seg_linear(x, X86_SEG_ES, x86_reg_get(x, X86_RDI, s->asize)), phys;
	uint32_t v;
	int rc = x86_mmu_translate(x->cpu, x->mem, x->opaque, dst, X86_ACC_WRITE, &phys, NULL);

	if (rc == 0)
		rc = x86_mmu_translate(x->cpu, x->mem, x->opaque, dst + s->size - 1, X86_ACC_WRITE,
				       &phys, NULL);
	if (rc == 0)
		rc = port_in(x, s->port, s->size, &v);
	if (rc == 0)
		rc = x86_mem_write(x, dst, s->size, v);
	if (rc)
		return rc;
	x86_reg_set(x, X86_RDI, s->asize, x86_reg_get(x, X86_RDI, s->asize) + (uint64_t)s->step);
	return 0;
}

/* OUTS reads seg:rSI (DS unless overridden). */
static int outs_once(struct x86_exec *x, const struct io_string *s)
{
	unsigned seg = x->in->seg == X86_SEG_NONE ? X86_SEG_DS : x->in->seg;
	uint64_t src = seg_linear(x, seg, x86_reg_get(x, X86_RSI, s->asize)), v;
	int rc = x86_mem_read(x, src, s->size, &v);

	if (rc == 0)
		rc = port_out(x, s->port, s->size, (uint32_t)v);
	if (rc)
		return rc;
	x86_reg_set(x, X86_RSI, s->asize, x86_reg_get(x, X86_RSI, s->asize) + (uint64_t)s->step);
	return 0;
}

/* REP INS/OUTS: at most IO_STRING_CHUNK iterations per step, then RIP stays on the
 * instruction with rCX/rSI/rDI updated, as for an interrupted REP (SDM REP). */
static int io_string(struct x86_exec *x, bool out)
{
	const struct x86_insn *in = x->in;
	struct io_string s = {
	    .port = (uint16_t)x->cpu->gpr[X86_RDX], .size = io_size(in), .asize = in->addrsize};
	uint64_t count;
	int rc;

	s.step = (x->cpu->rflags & X86_FLAG_DF) ? -(int64_t)s.size : (int64_t)s.size;
	if (in->rep && x86_reg_get(x, X86_RCX, s.asize) == 0)
		return 0; /* REP checks the count before the instruction runs at all */
	rc = io_permitted(x, s.port, s.size);
	if (rc)
		return rc;
	if (!in->rep)
		return out ? outs_once(x, &s) : ins_once(x, &s);
	for (unsigned done = 0;; done++) {
		count = x86_reg_get(x, X86_RCX, s.asize);
		if (count == 0)
			return 0;
		if (done == IO_STRING_CHUNK) {
			x->next_rip = x->cpu->rip;
			return 0;
		}
		rc = out ? outs_once(x, &s) : ins_once(x, &s);
		if (rc) {
			if (done == 0)
				return rc;
			x->next_rip = x->cpu->rip; /* keep what was done; the fault comes again */
			return 0;
		}
		x86_reg_set(x, X86_RCX, s.asize, count - 1);
	}
}

/* ---- the rest ---- */

static int rdtsc(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t tsc;

	if ((cpu->cr4 & X86_CR4_TSD) && cpu->cpl)
		return gp0(cpu);
	tsc = x86_tsc_read(cpu, x->mem, x->opaque);
	x86_reg_set(x, X86_RAX, 4, tsc & 0xffffffffull);
	x86_reg_set(x, X86_RDX, 4, tsc >> 32);
	return 0;
}

static int rdmsr_wrmsr(struct x86_exec *x, bool write)
{
	struct x86_cpu *cpu = x->cpu;
	uint32_t msr = (uint32_t)cpu->gpr[X86_RCX];
	uint64_t v;
	int rc;

	if (cpu->cpl)
		return gp0(cpu);
	if (write)
		return x86_msr_write(
		    x, msr, (cpu->gpr[X86_RDX] << 32) | (cpu->gpr[X86_RAX] & 0xffffffffull));
	rc = x86_msr_read(x, msr, &v);
	if (rc)
		return rc;
	x86_reg_set(x, X86_RAX, 4, v & 0xffffffffull);
	x86_reg_set(x, X86_RDX, 4, v >> 32);
	return 0;
}

static int cpuid(struct x86_exec *x)
{
	uint32_t r[4];

	x86_cpuid(x->cpu, (uint32_t)x->cpu->gpr[X86_RAX], (uint32_t)x->cpu->gpr[X86_RCX], r);
	x86_reg_set(x, X86_RAX, 4, r[0]);
	x86_reg_set(x, X86_RBX, 4, r[1]);
	x86_reg_set(x, X86_RCX, 4, r[2]);
	x86_reg_set(x, X86_RDX, 4, r[3]);
	return 0;
}

static int swapgs(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;
	uint64_t t;

	if (cpu->cpl)
		return gp0(cpu);
	t = cpu->seg[X86_SEG_GS].base;
	cpu->seg[X86_SEG_GS].base = cpu->msr.kernel_gs_base;
	cpu->msr.kernel_gs_base = t;
	return 0;
}

static int invlpg(struct x86_exec *x)
{
	if (x->cpu->cpl)
		return gp0(x->cpu);
	x86_tlb_flush_page(x->cpu, x86_ea(x));
	return 0;
}

/* CLFLUSH is checked like a byte read (SDM CLFLUSH) but reads nothing. */
static int clflush(struct x86_exec *x)
{
	uint64_t phys;

	return x86_mmu_translate(x->cpu, x->mem, x->opaque, x86_ea(x), X86_ACC_READ, &phys, NULL);
}

static int privileged_nop(struct x86_exec *x)
{
	return x->cpu->cpl ? gp0(x->cpu) : 0;
}

static int movnti(struct x86_exec *x)
{
	unsigned size = x->in->rex_w ? 8 : 4;

	return x86_rm_write(x, size, x86_reg_get(x, x->in->reg, size));
}

static int exec_privileged(struct x86_exec *x)
{
	struct x86_cpu *cpu = x->cpu;

	switch (x->in->op) {
	case X86_OP_MOV_TO_CR:
		return mov_to_cr(x);
	case X86_OP_MOV_FROM_CR:
		return mov_from_cr(x);
	case X86_OP_MOV_TO_DR:
		return mov_dr(x, true);
	case X86_OP_MOV_FROM_DR:
		return mov_dr(x, false);
	case X86_OP_CLTS:
		if (cpu->cpl)
			return gp0(cpu);
		cpu->cr0 &= ~X86_CR0_TS;
		return 0;
	case X86_OP_LMSW:
		return lmsw(x);
	case X86_OP_INVLPG:
		return invlpg(x);
	case X86_OP_INVD:
	case X86_OP_WBINVD:
		return privileged_nop(x); /* no caches to write back */
	case X86_OP_HLT:
		return hlt(x);
	case X86_OP_RDMSR:
		return rdmsr_wrmsr(x, false);
	case X86_OP_WRMSR:
		return rdmsr_wrmsr(x, true);
	case X86_OP_SWAPGS:
		return swapgs(x);
	default:
		return X86_EXEC_UNHANDLED;
	}
}

int x86_exec_system(struct x86_exec *x)
{
	switch (x->in->op) {
	case X86_OP_CPUID:
		return cpuid(x);
	case X86_OP_RDTSC:
		return rdtsc(x);
	case X86_OP_IN:
		return in_out(x, false);
	case X86_OP_OUT:
		return in_out(x, true);
	case X86_OP_INS:
		return io_string(x, false);
	case X86_OP_OUTS:
		return io_string(x, true);
	case X86_OP_CLI:
		return cli_sti(x, false);
	case X86_OP_STI:
		return cli_sti(x, true);
	case X86_OP_SMSW:
		return smsw(x);
	case X86_OP_CLFLUSH:
		return clflush(x);
	case X86_OP_MFENCE:
		__atomic_thread_fence(__ATOMIC_SEQ_CST); /* other vCPUs see stores in order */
		return 0;
	case X86_OP_LFENCE:
	case X86_OP_SFENCE:
	case X86_OP_PREFETCH:
	case X86_OP_PREFETCHW:
		return 0;
	case X86_OP_MOVNTI:
		return movnti(x);
	case X86_OP_RDPMC:
		return gp0(x->cpu); /* no performance counters: every ECX is out of range */
	case X86_OP_UD0:
	case X86_OP_UD1:
	case X86_OP_UD2:
	case X86_OP_RSM:    /* not in SMM */
	case X86_OP_RDTSCP: /* not advertised */
		return ud(x->cpu);
	default:
		return exec_privileged(x);
	}
}
