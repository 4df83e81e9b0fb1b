/*
 * Exception and interrupt delivery of the emu CPU (Intel SDM vol. 3A ch. 6 "Interrupt and
 * Exception Handling", 20.1.4 for real mode; vol. 2 "INT n/INTO/INT3/INT1"): the IVT in real
 * mode, 32-bit/16-bit interrupt and trap gates in protected mode, 64-bit gates with IST in
 * IA-32e mode, stack switches through the TSS, and the double-fault rules of table 6-5.
 *
 * Not supported (Linux never uses them): task gates in the IDT raise #GP(vector*8+2+EXT),
 * and delivery from virtual-8086 mode raises #GP(selector) (VME is not advertised and IRET
 * never enters virtual-8086 mode here); both end in #DF / triple fault, never a crash.
 */
#include "exec_internal.h"

struct event {
	unsigned vector;
	bool has_err;
	uint32_t err;
	bool software;	     /* INT n, INT3, INTO: gate DPL check, no error code */
	uint32_t ext;	     /* EXT bit (SDM 6.13) for faults during this delivery */
	uint64_t return_rip; /* the RIP pushed */
};

enum exc_class { CLASS_BENIGN, CLASS_CONTRIBUTORY, CLASS_PAGE_FAULT };

/* SDM table 6-4: contributory #DE #TS #NP #SS #GP, the page-fault class, benign the rest. */
static enum exc_class class_of(unsigned vector)
{
	if (vector == 14)
		return CLASS_PAGE_FAULT;
	if (vector == 0 || (vector >= 10 && vector <= 13))
		return CLASS_CONTRIBUTORY;
	return CLASS_BENIGN;
}

/* SDM table 6-1: exceptions that push an error code. */
static bool pushes_error_code(unsigned vector)
{
	return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
}

/* SDM table 6-5: does the second exception while delivering the first make a #DF? */
static bool is_double_fault(enum exc_class first, enum exc_class second)
{
	if (first == CLASS_CONTRIBUTORY)
		return second == CLASS_CONTRIBUTORY;
	if (first == CLASS_PAGE_FAULT)
		return second != CLASS_BENIGN;
	return false;
}

static int idt_fault(struct x86_cpu *cpu, int exc, const struct event *ev)
{
	return x86_fault(cpu, exc, ev->vector * 8 + 2);
}

/* ---- real mode (SDM 20.1.4) ---- */

static int deliver_real(struct x86_exec *x, const struct event *ev)
{
	struct x86_cpu *cpu = x->cpu;
	struct x86_stack st;
	uint8_t ivt[4];
	uint16_t ip, cs;
	int rc;

	if (ev->vector * 4 + 3 > cpu->idtr.limit)
		return x86_fault(cpu, X86_EXC_GP, 0);
	rc = x86_lin_read(x, (cpu->idtr.base + ev->vector * 4) & 0xffffffffull, ivt, 4,
			  X86_ACC_READ);
	if (rc)
		return rc;
	ip = (uint16_t)(ivt[0] | ivt[1] << 8);
	cs = (uint16_t)(ivt[2] | ivt[3] << 8);
	x86_stack_current(&st, cpu);
	rc = x86_stack_push(cpu, &st, 2, cpu->rflags & 0xffff);
	if (rc == 0)
		rc = x86_stack_push(cpu, &st, 2, cpu->seg[X86_SEG_CS].selector);
	if (rc == 0)
		rc = x86_stack_push(cpu, &st, 2, ev->return_rip & 0xffff);
	if (rc == 0)
		rc = x86_stack_write(x, &st);
	if (rc)
		return rc;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, cpu->gpr[X86_RSP]);
	cpu->rflags &= ~(X86_FLAG_IF | X86_FLAG_TF | X86_FLAG_AC);
	x86_seg_load_real(&cpu->seg[X86_SEG_CS], cs);
	cpu->rip = ip;
	return 0;
}

/* ---- protected mode and IA-32e mode (SDM 6.10-6.14) ---- */

struct gate {
	unsigned type, dpl, ist;
	uint16_t selector;
	uint64_t offset;
	bool is32; /* 32- or 64-bit gate (else 16-bit) */
	bool interrupt; /* interrupt gate: clears IF */
};

static int read_gate(struct x86_exec *x, const struct event *ev, struct gate *g)
{
	struct x86_cpu *cpu = x->cpu;
	bool lm = x86_long_mode(cpu);
	unsigned size = lm ? 16 : 8;
	uint64_t d[2] = {0, 0};
	uint8_t b[16];
	int rc;

	if ((uint64_t)ev->vector * size + size - 1 > cpu->idtr.limit)
		return idt_fault(cpu, X86_EXC_GP, ev);
	rc = x86_lin_read(x, cpu->idtr.base + (uint64_t)ev->vector * size, b, size,
			  X86_ACC_READ | X86_ACC_SUPERVISOR);
	if (rc)
		return rc;
	for (unsigned i = 0; i < size; i++)
		d[i / 8] |= (uint64_t)b[i] << (8 * (i % 8));
	g->type = (d[0] >> 40) & 0x1f; /* with S: system descriptors have it clear */
	g->dpl = (d[0] >> 45) & 3;
	g->ist = lm ? (d[0] >> 32) & 7 : 0;
	g->selector = (uint16_t)(d[0] >> 16);
	g->offset = (d[0] & 0xffff) | ((d[0] >> 32) & 0xffff0000ull);
	if (lm) {
		g->offset |= d[1] << 32;
		if (g->type != 0xe && g->type != 0xf)
			return idt_fault(cpu, X86_EXC_GP, ev);
	} else if (g->type != 0x6 && g->type != 0x7 && g->type != 0xe && g->type != 0xf) {
		/* 0x5, a task gate, is among them: hardware task switching is not supported. */
		return idt_fault(cpu, X86_EXC_GP, ev);
	}
	g->is32 = (g->type & 0x8) != 0;
	g->interrupt = (g->type & 1) == 0;
	if (!g->is32)
		g->offset &= 0xffff;
	if (ev->software && g->dpl < cpu->cpl)
		return idt_fault(cpu, X86_EXC_GP, ev);
	if (!((d[0] >> 47) & 1))
		return idt_fault(cpu, X86_EXC_NP, ev);
	return 0;
}

/* The handler's code segment (SDM 6.12.1.1 and "INT n" pseudocode). */
static int check_handler_cs(struct x86_exec *x, uint16_t sel, uint64_t *desc)
{
	struct x86_cpu *cpu = x->cpu;
	uint32_t attr;
	int rc;

	if ((sel & 0xfffc) == 0)
		return x86_fault(cpu, X86_EXC_GP, 0);
	rc = x86_read_descriptor(x, sel, desc);
	if (rc)
		return rc;
	attr = x86_desc_attr(*desc);
	if ((attr & 0x18) != 0x18 || ((attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT) > cpu->cpl)
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_NP, sel & 0xfffc);
	if (x86_long_mode(cpu) && ((attr & (X86_SEGA_L | X86_SEGA_DB)) != X86_SEGA_L))
		return x86_fault(cpu, X86_EXC_GP, sel & 0xfffc);
	return 0;
}

/* Reads size bytes at offset of the current TSS; #TS(TR) past its limit (SDM 7.2.1, 7.7). */
int x86_tss_read(struct x86_exec *x, uint32_t offset, unsigned size, uint64_t *val)
{
	struct x86_cpu *cpu = x->cpu;
	uint8_t b[8];
	int rc;

	if ((cpu->tr.attr & X86_SEGA_UNUSABLE) || offset + size - 1 > cpu->tr.limit)
		return x86_fault(cpu, X86_EXC_TS, cpu->tr.selector & 0xfffc);
	rc = x86_lin_read(x, cpu->tr.base + offset, b, size, X86_ACC_READ | X86_ACC_SUPERVISOR);
	if (rc)
		return rc;
	*val = 0;
	for (unsigned i = 0; i < size; i++)
		*val |= (uint64_t)b[i] << (8 * i);
	return 0;
}

/*
 * The stack of privilege level cpl from a 16- or 32-bit TSS, with the checks of SDM 6.12.1
 * ("#TS(SS selector)", "#SS(SS selector)" if not present). Also used by far CALL through a
 * call gate (SDM "CALL", "TSS lookup").
 */
int x86_tss_stack(struct x86_exec *x, unsigned cpl, struct x86_segment *ss, uint64_t *sp)
{
	struct x86_cpu *cpu = x->cpu;
	bool tss32 = (cpu->tr.attr & 0x8) != 0;
	uint64_t sel, desc;
	uint32_t attr;
	int rc;

	if (tss32)
		rc = x86_tss_read(x, 4 + 8 * cpl, 4, sp) ?: x86_tss_read(x, 8 + 8 * cpl, 2, &sel);
	else
		rc = x86_tss_read(x, 2 + 4 * cpl, 2, sp) ?: x86_tss_read(x, 4 + 4 * cpl, 2, &sel);
	if (rc)
		return rc;
	if ((sel & 0xfffc) == 0)
		return x86_fault(cpu, X86_EXC_TS, 0);
	rc = x86_read_descriptor(x, (uint16_t)sel, &desc);
	if (rc == X86_EXC_GP)
		return x86_fault(cpu, X86_EXC_TS, sel & 0xfffc);
	if (rc)
		return rc;
	attr = x86_desc_attr(desc);
	if ((sel & 3) != cpl || ((attr & X86_SEGA_DPL) >> X86_SEGA_DPL_SHIFT) != cpl ||
	    (attr & 0x1a) != 0x12)
		return x86_fault(cpu, X86_EXC_TS, sel & 0xfffc);
	if (!(attr & X86_SEGA_P))
		return x86_fault(cpu, X86_EXC_SS, sel & 0xfffc);
	rc = x86_desc_set_type_bit(x, (uint16_t)sel, &desc, X86_SEGA_ACCESSED);
	if (rc)
		return rc;
	x86_seg_from_descriptor(ss, (uint16_t)sel, desc);
	return 0;
}

/* RSPn (ist = 0) or ISTn of the 64-bit TSS (SDM 7.7, 6.14.5). */
int x86_tss_rsp64(struct x86_exec *x, unsigned cpl, unsigned ist, uint64_t *rsp)
{
	uint32_t offset = ist ? 0x24 + 8 * (ist - 1) : 4 + 8 * cpl;

	return x86_tss_read(x, offset, 8, rsp);
}

static int deliver_protected(struct x86_exec *x, const struct event *ev)
{
	struct x86_cpu *cpu = x->cpu;
	bool lm = x86_long_mode(cpu);
	struct x86_segment new_ss = cpu->seg[X86_SEG_SS];
	struct x86_stack st;
	struct gate g = {0};
	uint64_t desc, rsp = cpu->gpr[X86_RSP];
	unsigned new_cpl, size;
	bool inner;
	int rc;

	rc = read_gate(x, ev, &g);
	if (rc)
		return rc;
	rc = check_handler_cs(x, g.selector, &desc);
	if (rc)
		return rc;
	if (cpu->rflags & X86_FLAG_VM)
		return x86_fault(cpu, X86_EXC_GP, g.selector & 0xfffc);
	/* Conforming code runs at the current CPL; non-conforming at its DPL (SDM 6.12.1). */
	new_cpl = (desc & (1ull << 42)) ? cpu->cpl : (unsigned)((desc >> 45) & 3);
	inner = new_cpl < cpu->cpl;
	size = lm ? 8 : g.is32 ? 4 : 2;
	if (lm) {
		if (inner || g.ist) {
			rc = x86_tss_rsp64(x, new_cpl, g.ist, &rsp);
			if (rc)
				return rc;
		}
		if (inner)
			x86_seg_load_null(&new_ss, (uint16_t)new_cpl);
		rsp &= ~0xfull; /* SDM 6.14.2 */
		if (!x86_is_canonical(g.offset))
			return x86_fault(cpu, X86_EXC_GP, 0);
	} else {
		if (inner) {
			rc = x86_tss_stack(x, new_cpl, &new_ss, &rsp);
			if (rc)
				return rc;
		}
		if (g.offset > x86_desc_limit(desc))
			return x86_fault(cpu, X86_EXC_GP, 0);
	}
	x86_stack_init(&st, cpu, &new_ss, rsp, lm, new_cpl,
		       inner && !lm ? new_ss.selector & 0xfffc : 0);
	if (lm || inner) {
		rc = x86_stack_push(cpu, &st, size, cpu->seg[X86_SEG_SS].selector);
		if (rc == 0)
			rc = x86_stack_push(cpu, &st, size, cpu->gpr[X86_RSP]);
		if (rc)
			return rc;
	}
	rc = x86_stack_push(cpu, &st, size, cpu->rflags);
	if (rc == 0)
		rc = x86_stack_push(cpu, &st, size, cpu->seg[X86_SEG_CS].selector);
	if (rc == 0)
		rc = x86_stack_push(cpu, &st, size, ev->return_rip);
	if (rc == 0 && ev->has_err)
		rc = x86_stack_push(cpu, &st, size, ev->err);
	if (rc == 0)
		rc = x86_desc_set_type_bit(x, g.selector, &desc, X86_SEGA_ACCESSED);
	if (rc == 0)
		rc = x86_stack_write(x, &st);
	if (rc)
		return rc;

	/* Commit (SDM 6.12.1.3): nothing below can fault. */
	x86_seg_from_descriptor(&cpu->seg[X86_SEG_CS], (g.selector & 0xfffc) | (uint16_t)new_cpl,
				desc);
	if (inner)
		cpu->seg[X86_SEG_SS] = new_ss;
	cpu->gpr[X86_RSP] = x86_stack_rsp(&st, rsp);
	cpu->rflags &= ~(X86_FLAG_TF | X86_FLAG_NT | X86_FLAG_RF | X86_FLAG_VM);
	if (g.interrupt)
		cpu->rflags &= ~X86_FLAG_IF;
	cpu->cpl = (uint8_t)new_cpl;
	cpu->rip = g.offset;
	x86_update_mode(cpu);
	return 0;
}

static int deliver_once(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			const struct event *ev)
{
	struct x86_exec x = {.cpu = cpu, .mem = mem, .opaque = opaque};

	if (!(cpu->cr0 & X86_CR0_PE))
		return deliver_real(&x, ev);
	return deliver_protected(&x, ev);
}

/* The first event plus at most a few nested faults: benign, contributory, #PF, #DF, shutdown. */
#define MAX_NESTED_EVENTS 8

int x86_deliver(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		enum x86_event_kind kind, int vector_or_exc, bool software, uint64_t return_rip)
{
	struct event ev = {.software = software, .return_rip = return_rip};
	bool hw_exception = kind == X86_EVENT_EXCEPTION && !software;
	enum exc_class cls;
	int rc;

	ev.vector = (unsigned)(kind == X86_EVENT_EXCEPTION ? X86_EXC_VECTOR(vector_or_exc)
							   : vector_or_exc & 0xff);
	if (kind == X86_EVENT_NMI)
		ev.vector = 2;
	ev.has_err = hw_exception && pushes_error_code(ev.vector);
	ev.err = ev.vector == 8 ? 0 : cpu->fault_error_code;
	ev.ext = software ? 0 : 1;
	cls = hw_exception ? class_of(ev.vector) : CLASS_BENIGN;
	if (hw_exception && ev.vector == 14)
		cpu->cr2 = cpu->fault_addr;
	for (int i = 0; i < MAX_NESTED_EVENTS; i++) {
		unsigned second;

		rc = deliver_once(cpu, mem, opaque, &ev);
		if (rc == 0) {
			cpu->halted = false;
			cpu->intr_shadow = false;
			if (kind == X86_EVENT_NMI)
				cpu->nmi_blocked = true;
			return 0;
		}
		if ((rc & ~0xff) != 0x100)
			return X86_TRIPLE_FAULT; /* not an exception: nothing to deliver */
		second = X86_EXC_VECTOR(rc);
		if (hw_exception && ev.vector == 8)
			return X86_TRIPLE_FAULT; /* SDM 6.15 "Interrupt 8": shutdown */
		if (second != 14)
			cpu->fault_error_code |= ev.ext;
		else
			cpu->cr2 = cpu->fault_addr;
		/* A fault while delivering INT n reports the INT instruction (SDM 6.5). */
		if (ev.software)
			ev.return_rip = cpu->rip;
		if (is_double_fault(cls, class_of(second))) {
			ev.vector = 8;
			ev.err = 0;
		} else {
			ev.vector = second;
			ev.err = cpu->fault_error_code;
		}
		ev.has_err = pushes_error_code(ev.vector);
		ev.software = false;
		ev.ext = 1;
		hw_exception = true;
		cls = class_of(ev.vector);
	}
	return X86_TRIPLE_FAULT;
}

int x86_deliver_event(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		      enum x86_event_kind kind, int vector_or_exc)
{
	return x86_deliver(cpu, mem, opaque, kind, vector_or_exc, false, cpu->rip);
}
