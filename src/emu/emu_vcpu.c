/*
 * emu engine vCPUs: the CPU's window on the machine (x86_mem_ops over guest RAM, the local
 * APIC page, the MMIO and port buses, MSRs outside the core, the virtual clock), the boot
 * entry state, and the run loop: interrupts and INIT/SIPI/NMI from the local APIC, HLT, bursts
 * of instructions, exceptions into the guest, a triple fault into a machine reset.
 *
 * Every MMIO and port access the guest makes goes through vcpu_mmio / vcpu_pio, the dispatch
 * the kvm engine uses, and is counted there as an exit, so both engines' device figures compare.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu_internal.h"
#include "hostvisor/kvmclock.h"
#include "hostvisor/log.h"
#include "hostvisor/x86_mmu.h"

#define BURST_INSNS 16384
#define JIT_HOT 8 /* entries into a block before it is translated */
#define HALT_WAIT_NS 100000000ull /* re-check requests at least every 100 ms */
#define MSR_IA32_APIC_BASE 0x1b
#define PAGE_SIZE 4096ull

/* ---- physical memory ---- */

static bool in_apic_page(struct emu_vcpu *v, uint64_t addr)
{
	return v->apic && lapic_mmio_hit(v->apic, addr);
}

/* MMIO in pieces of at most 8 bytes, naturally sized (SSE moves can be 16 bytes). */
static void mmio_access(struct emu_vcpu *v, uint64_t addr, uint8_t *buf, size_t len,
			bool is_write)
{
	while (len) {
		unsigned n = len >= 8 ? 8 : len >= 4 ? 4 : len >= 2 ? 2 : 1;
		uint64_t val = 0;

		if (is_write)
			memcpy(&val, buf, n);
		if (in_apic_page(v, addr)) {
			if (is_write)
				lapic_mmio_write(v->apic, addr & (PAGE_SIZE - 1), n, val);
			else
				val = lapic_mmio_read(v->apic, addr & (PAGE_SIZE - 1), n);
		} else {
			vcpu_mmio(v->vcpu, addr, n, is_write, &val);
		}
		if (!is_write)
			memcpy(buf, &val, n);
		addr += n;
		buf += n;
		len -= n;
	}
}

static int mem_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct emu_vcpu *v = opaque;
	void *p = in_apic_page(v, addr) ? NULL : gmem_ptr(&v->vcpu->vm->gmem, addr, len);

	if (p)
		memcpy(buf, p, len);
	else
		mmio_access(v, addr, buf, len, false);
	return 0;
}

static int mem_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct emu_vcpu *v = opaque;
	void *p = in_apic_page(v, addr) ? NULL : gmem_ptr(&v->vcpu->vm->gmem, addr, len);

	if (p)
		memcpy(p, buf, len);
	else
		mmio_access(v, addr, (uint8_t *)buf, len, true);
	return 0;
}

static bool cmpxchg_host(void *p, const void *expected, const void *desired, size_t len)
{
	switch (len) {
	case 1: {
		uint8_t e, d;

		memcpy(&e, expected, 1);
		memcpy(&d, desired, 1);
		return __atomic_compare_exchange_n((uint8_t *)p, &e, d, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
	case 2: {
		uint16_t e, d;

		memcpy(&e, expected, 2);
		memcpy(&d, desired, 2);
		return __atomic_compare_exchange_n((uint16_t *)p, &e, d, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
	case 4: {
		uint32_t e, d;

		memcpy(&e, expected, 4);
		memcpy(&d, desired, 4);
		return __atomic_compare_exchange_n((uint32_t *)p, &e, d, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
	case 8: {
		uint64_t e, d;

		memcpy(&e, expected, 8);
		memcpy(&d, desired, 8);
		return __atomic_compare_exchange_n((uint64_t *)p, &e, d, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
	default: { /* 16: CMPXCHG16B on the host, which every x86-64 host with KVM-era CPUs has */
		uint64_t e[2], d[2];
		bool ok;

		memcpy(e, expected, 16);
		memcpy(d, desired, 16);
		__asm__ volatile("lock cmpxchg16b %1\n\tsete %0"
				 : "=q"(ok), "+m"(*(volatile unsigned __int128 *)p), "+a"(e[0]),
				   "+d"(e[1])
				 : "b"(d[0]), "c"(d[1])
				 : "memory", "cc");
		return ok;
	}
	}
}

static int mem_cmpxchg(void *opaque, uint64_t addr, const void *expected, const void *desired,
		       size_t len, bool *swapped)
{
	struct emu_vcpu *v = opaque;
	uint8_t cur[16];
	void *p = in_apic_page(v, addr) ? NULL : gmem_ptr(&v->vcpu->vm->gmem, addr, len);

	if (len != 1 && len != 2 && len != 4 && len != 8 && len != 16)
		return X86_EXC_GP;
	/* The host's cmpxchg16b needs 16-byte alignment; unaligned 16-byte operands are #GP
	 * in the guest anyway (SDM CMPXCHG16B). */
	if (p && (len != 16 || ((uintptr_t)p & 15) == 0)) {
		*swapped = cmpxchg_host(p, expected, desired, len);
		return 0;
	}
	mem_read(opaque, addr, cur, len);
	*swapped = memcmp(cur, expected, len) == 0;
	if (*swapped)
		mem_write(opaque, addr, desired, len);
	return 0;
}

static uint8_t *mem_ram_page(void *opaque, uint64_t page_addr)
{
	struct emu_vcpu *v = opaque;

	if (in_apic_page(v, page_addr))
		return NULL;
	return gmem_ptr(&v->vcpu->vm->gmem, page_addr, PAGE_SIZE);
}

/* ---- ports, MSRs, CR8, clock ---- */

static int pio_in(void *opaque, uint16_t port, unsigned size, uint32_t *val)
{
	struct emu_vcpu *v = opaque;
	uint64_t x = 0;

	vcpu_pio(v->vcpu, port, size, false, &x);
	*val = (uint32_t)x;
	return 0;
}

static int pio_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	struct emu_vcpu *v = opaque;
	uint64_t x = val;

	vcpu_pio(v->vcpu, port, size, true, &x);
	return 0;
}

static uint64_t clock_ns(void *opaque)
{
	struct emu_vcpu *v = opaque;

	return emu_clock_ns(v->ev);
}

static uint64_t host_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int msr_read(void *opaque, uint32_t msr, uint64_t *val)
{
	struct emu_vcpu *v = opaque;

	if (msr == MSR_IA32_APIC_BASE) {
		*val = lapic_get_base(v->apic);
		return 0;
	}
	if (kvmclock_is_msr(msr)) {
		*val = 0; /* write-only in practice; KVM returns the last value */
		return 0;
	}
	return X86_EXC_GP;
}

static int msr_write(void *opaque, uint32_t msr, uint64_t val)
{
	struct emu_vcpu *v = opaque;

	if (msr == MSR_IA32_APIC_BASE)
		return lapic_set_base(v->apic, val) < 0 ? X86_EXC_GP : 0;
	if (kvmclock_is_msr(msr)) {
		uint64_t ns = emu_clock_ns(v->ev);
		struct kvmclock_now now = {
			.system_ns = ns,
			/* 128-bit: ns * 2e6 passes 2^64 after 2.56 h (as x86_tsc_read computes it) */
			.tsc = (uint64_t)((unsigned __int128)ns * X86_TSC_KHZ / 1000000u) +
			       (uint64_t)v->cpu.msr.tsc_offset,
			.realtime_ns = host_realtime_ns(),
			.tsc_khz = X86_TSC_KHZ,
		};

		if (kvmclock_write_msr(&v->vcpu->vm->gmem, msr, val, &now) < 0)
			log_debug("emu: vCPU %d: kvmclock structure outside RAM", v->vcpu->id);
		return 0;
	}
	return X86_EXC_GP;
}

static uint64_t cr8_read(void *opaque)
{
	struct emu_vcpu *v = opaque;

	return lapic_get_cr8(v->apic);
}

static void cr8_write(void *opaque, uint64_t val)
{
	struct emu_vcpu *v = opaque;

	lapic_set_cr8(v->apic, val);
}

static const struct x86_mem_ops emu_mem_ops = {
	.read = mem_read,
	.write = mem_write,
	.cmpxchg = mem_cmpxchg,
	.ram_page = mem_ram_page,
	.pio_in = pio_in,
	.pio_out = pio_out,
	.rdmsr = msr_read,
	.wrmsr = msr_write,
	.cr8_read = cr8_read,
	.cr8_write = cr8_write,
	.clock_ns = clock_ns,
};

/* ---- the local APIC's way out ---- */

static void apic_send_ipi(void *opaque, uint32_t icr_low, uint8_t dest)
{
	struct emu_vcpu *v = opaque;
	enum lapic_delivery mode = (enum lapic_delivery)((icr_low >> 8) & 7);
	bool level_assert = icr_low & (1u << 14), level_trigger = icr_low & (1u << 15);

	/* INIT level de-assert only synchronises arbitration IDs (SDM 11.6.1). */
	if (mode == LAPIC_DM_INIT && level_trigger && !level_assert)
		return;
	emu_route_message(v->vcpu->vm, v, dest, icr_low & (1u << 11), (icr_low >> 18) & 3, mode,
			  (uint8_t)icr_low, level_trigger);
}

static void apic_eoi(void *opaque, uint8_t vector)
{
	struct emu_vcpu *v = opaque;

	v->vcpu->stats.exits[EXIT_EOI]++;
	vm_ioapic_eoi(v->vcpu->vm, vector);
}

static void apic_kick(void *opaque)
{
	struct emu_vcpu *v = opaque;

	emu_vcpu_kick(v->vcpu);
}

static const struct lapic_ops emu_lapic_ops = {
	.send_ipi = apic_send_ipi,
	.eoi = apic_eoi,
	.kick = apic_kick,
};

/* ---- set-up ---- */

static void flat_segment(struct x86_segment *s, uint16_t selector, uint32_t type)
{
	s->selector = selector;
	s->base = 0;
	s->limit = 0xffffffffu;
	s->attr = type | X86_SEGA_S | X86_SEGA_P | X86_SEGA_DB | X86_SEGA_G;
}

/* The state both boot protocols define at their 32-bit entry (see kvm_vcpu.c). */
static void set_boot_state(struct emu_vcpu *v)
{
	const struct boot_entry *e = &v->vcpu->vm->entry;
	struct x86_cpu *cpu = &v->cpu;

	flat_segment(&cpu->seg[X86_SEG_CS], VM_BOOT_CS, 0xb);
	for (int s = 0; s < X86_SEG_NONE; s++)
		if (s != X86_SEG_CS)
			flat_segment(&cpu->seg[s], VM_BOOT_DS, 0x3);
	cpu->gdtr.base = VM_BOOT_GDT;
	cpu->gdtr.limit = 4 * 8 - 1;
	cpu->idtr.base = 0;
	cpu->idtr.limit = 0;
	cpu->cr0 = X86_CR0_PE | X86_CR0_ET;
	cpu->rip = e->eip;
	cpu->gpr[X86_RAX] = e->eax;
	cpu->gpr[X86_RBX] = e->ebx;
	cpu->gpr[X86_RSI] = e->esi;
	cpu->gpr[X86_RDX] = 0;
	cpu->rflags = X86_FLAG_FIXED1;
	cpu->cpl = 0;
	x86_update_mode(cpu);
	x86_tlb_flush(cpu, true);
}

/*
 * What PC firmware leaves in the BSP's local APIC and what the boot protocols assume with no
 * firmware in between: the APIC software-enabled and LINT0 in ExtINT mode, so that the 8259's
 * interrupts reach the CPU ("virtual wire mode", MultiProcessor Specification 1.4 section 3.6.2.2;
 * Intel SDM vol. 3A 11.5.1).
 */
static void set_virtual_wire(struct emu_vcpu *v)
{
	lapic_mmio_write(v->apic, 0xf0, 4, 0x1ff); /* SVR: enabled, spurious vector 0xff */
	lapic_mmio_write(v->apic, 0x350, 4, 0x700); /* LVT LINT0: ExtINT, unmasked */
	lapic_mmio_write(v->apic, 0x360, 4, 0x400); /* LVT LINT1: NMI */
}

int emu_vcpu_init(struct vcpu *vcpu)
{
	struct emu_vcpu *v = aligned_alloc(64, (sizeof(*v) + 63) & ~(size_t)63);
	pthread_condattr_t attr;

	if (!v)
		return -ENOMEM;
	memset(v, 0, sizeof(*v));
	v->vcpu = vcpu;
	v->ev = emu_vm_of(vcpu->vm);
	pthread_mutex_init(&v->wait_lock, NULL);
	/* wait_for_kick's deadline is on CLOCK_MONOTONIC; the default clock is CLOCK_REALTIME, with
	 * which every deadline lies in the past and a halted vCPU spins. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&v->wait_cond, &attr);
	pthread_condattr_destroy(&attr);
	vcpu->engine = v;
	v->icache = icache_create();
	v->apic = lapic_create(&emu_lapic_ops, v, vcpu->vm->loop, (uint8_t)vcpu->id,
			       vcpu->id == 0);
	if (!v->icache || !v->apic) {
		log_error("emu: vCPU %d: out of memory", vcpu->id);
		return -ENOMEM;
	}
	if (!vcpu->vm->cfg.no_jit) {
		v->jit = x86_jit_create(JIT_HOT, X86_JIT_MAX_INSNS);
		if (!v->jit) {
			log_error("emu: vCPU %d: cannot map the translation cache: %s", vcpu->id,
				  strerror(errno));
			return -ENOMEM;
		}
	}
	v->cpu.apic_id = (uint32_t)vcpu->id;
	x86_cpu_reset(&v->cpu);
	if (vcpu->id == 0) {
		set_boot_state(v);
		set_virtual_wire(v);
	} else {
		v->wait_for_sipi = true;
	}
	return 0;
}

void emu_vcpu_destroy(struct vcpu *vcpu)
{
	struct emu_vcpu *v = vcpu->engine;

	if (!v)
		return;
	if (v->apic)
		lapic_destroy(v->apic);
	icache_destroy(v->icache);
	x86_jit_destroy(v->jit);
	pthread_cond_destroy(&v->wait_cond);
	pthread_mutex_destroy(&v->wait_lock);
	free(v);
	vcpu->engine = NULL;
}

void emu_vcpu_kick(struct vcpu *vcpu)
{
	struct emu_vcpu *v = vcpu->engine;

	if (!v)
		return;
	atomic_store(&v->kicked, true);
	pthread_mutex_lock(&v->wait_lock);
	pthread_cond_signal(&v->wait_cond);
	pthread_mutex_unlock(&v->wait_lock);
}

/* ---- the run loop ---- */

/* Sleeps until kicked (or HALT_WAIT_NS passed). */
static void wait_for_kick(struct emu_vcpu *v)
{
	struct timespec ts;
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + HALT_WAIT_NS;
	ts.tv_sec += (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	pthread_mutex_lock(&v->wait_lock);
	while (!atomic_load(&v->kicked) && !vm_should_stop(v->vcpu->vm))
		if (pthread_cond_timedwait(&v->wait_cond, &v->wait_lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&v->wait_lock);
}

/* INIT, STARTUP and NMI from the local APIC (SDM 9.4.3, 11.6.1). */
static void take_apic_events(struct emu_vcpu *v)
{
	uint8_t sipi_vector = 0;
	unsigned ev = lapic_take_events(v->apic, &sipi_vector);
	struct x86_cpu *cpu = &v->cpu;

	if (ev & LAPIC_EVENT_INIT) {
		x86_cpu_reset(cpu);
		lapic_init_signal(v->apic);
		v->wait_for_sipi = v->vcpu->id != 0;
		if (v->vcpu->id == 0)
			v->wait_for_sipi = true; /* an INIT to the BSP parks it too */
	}
	if ((ev & LAPIC_EVENT_SIPI) && v->wait_for_sipi) {
		x86_cpu_reset(cpu);
		cpu->seg[X86_SEG_CS].selector = (uint16_t)(sipi_vector << 8);
		cpu->seg[X86_SEG_CS].base = (uint64_t)sipi_vector << 12;
		cpu->rip = 0;
		v->wait_for_sipi = false;
	}
	if ((ev & LAPIC_EVENT_NMI) && !v->wait_for_sipi && !cpu->nmi_blocked) {
		if (x86_deliver_event(cpu, &emu_mem_ops, v, X86_EVENT_NMI, 2) == X86_TRIPLE_FAULT)
			vm_request(v->vcpu->vm, VM_REQ_RESET);
	}
}

/* An external interrupt if the CPU can take one now (SDM 6.8.1): the APIC's, or the PIC's
 * through LINT0. Returns true if one was delivered. */
static bool inject_interrupt(struct emu_vcpu *v)
{
	struct x86_cpu *cpu = &v->cpu;
	int vector;

	if (!(cpu->rflags & X86_FLAG_IF) || cpu->intr_shadow)
		return false;
	/* ExtINT is not subject to the TPR (SDM 11.8.3.1 covers fixed interrupts only). */
	if (lapic_extint_pending(v->apic) && vm_pic_pending(v->vcpu->vm)) {
		vector = vm_pic_ack(v->vcpu->vm);
		lapic_extint_ack(v->apic);
	} else if ((vector = lapic_pending_vector(v->apic)) >= 0) {
		vector = lapic_ack(v->apic, (uint8_t)vector);
	} else {
		return false;
	}
	v->vcpu->stats.interrupts_injected++;
	if (x86_deliver_event(cpu, &emu_mem_ops, v, X86_EVENT_EXTERNAL, vector) ==
	    X86_TRIPLE_FAULT) {
		log_info("vCPU %d: triple fault", v->vcpu->id);
		vm_request(v->vcpu->vm, VM_REQ_RESET);
	}
	return true;
}

static bool interrupt_waiting(struct emu_vcpu *v)
{
	return lapic_pending_vector(v->apic) >= 0 ||
	       (lapic_extint_pending(v->apic) && vm_pic_pending(v->vcpu->vm));
}

/* An instruction the CPU does not implement: said once per address, with its bytes. */
static void log_undefined(struct emu_vcpu *v)
{
	struct x86_cpu *cpu = &v->cpu;
	uint8_t b[X86_MAX_INSN_LEN] = { 0 };
	char hex[3 * X86_MAX_INSN_LEN + 1] = "";
	size_t n = 0;

	for (unsigned i = 0; i < v->n_ud_logged; i++)
		if (v->ud_logged[i] == cpu->rip)
			return;
	if (v->n_ud_logged == EMU_UD_LOG_MAX)
		return;
	v->ud_logged[v->n_ud_logged++] = cpu->rip;
	for (unsigned i = 0; i < sizeof(b); i++) {
		uint64_t at = cpu->rip + i;

		if (cpu->mode != X86_MODE_LONG64)
			at = (cpu->seg[X86_SEG_CS].base + (at & 0xffffffffull)) & 0xffffffffull;
		if (x86_linear_read(cpu, &emu_mem_ops, v, at, &b[i], 1, X86_ACC_FETCH))
			break;
		n += (size_t)snprintf(hex + n, sizeof(hex) - n, " %02x", b[i]);
	}
	/* UD2 (0f 0b) is the guest's own choice (Linux BUG()): not worth a line. */
	if (b[0] == 0x0f && b[1] == 0x0b)
		return;
	log_warn("emu: vCPU %d: #UD at %04x:%#llx, bytes%s%s", v->vcpu->id,
		 cpu->seg[X86_SEG_CS].selector, (unsigned long long)cpu->rip, hex,
		 v->n_ud_logged == EMU_UD_LOG_MAX ? " (further #UD addresses not logged)" : "");
}

/* With -vv: the exception and the instructions that led to it. */
static void trace_exception(struct emu_vcpu *v, int exc)
{
	const struct x86_cpu *cpu = &v->cpu;

	log_debug("emu: vCPU %d: exception %#x error %#x at %#llx rsp %#llx cr2 %#llx", v->vcpu->id,
		  exc, cpu->fault_error_code, (unsigned long long)cpu->rip,
		  (unsigned long long)cpu->gpr[X86_RSP], (unsigned long long)cpu->fault_addr);
	for (unsigned i = 0; i < EMU_TRACE_LEN; i += 4) {
		const uint64_t *t = v->trace;
		unsigned p = v->trace_pos + i;

		log_debug("  before: %#llx %#llx %#llx %#llx",
			  (unsigned long long)t[p % EMU_TRACE_LEN],
			  (unsigned long long)t[(p + 1) % EMU_TRACE_LEN],
			  (unsigned long long)t[(p + 2) % EMU_TRACE_LEN],
			  (unsigned long long)t[(p + 3) % EMU_TRACE_LEN]);
	}
}

/* A fault or trap from an instruction goes into the guest; a triple fault resets. */
static bool raise_exception(struct emu_vcpu *v, int exc)
{
	if (v->vcpu->vm->cfg.verbose >= 2 && exc != X86_EXC_PF)
		trace_exception(v, exc);
	if (exc == X86_EXC_UD)
		log_undefined(v);
	/* INT n and friends deliver their own event and may end in a triple fault themselves. */
	if (exc != X86_TRIPLE_FAULT &&
	    x86_deliver_event(&v->cpu, &emu_mem_ops, v, X86_EVENT_EXCEPTION, exc) !=
		    X86_TRIPLE_FAULT)
		return true;
	v->vcpu->stats.exits[EXIT_SHUTDOWN]++;
	log_info("vCPU %d: triple fault", v->vcpu->id);
	vm_request(v->vcpu->vm, VM_REQ_RESET);
	return false;
}

/* Whether run_burst stops after an instruction: a HLT, a kick, an interrupt window opening. */
static bool burst_ends(struct emu_vcpu *v, bool want_window)
{
	const struct x86_cpu *cpu = &v->cpu;

	if (cpu->halted || atomic_load_explicit(&v->kicked, memory_order_relaxed))
		return true;
	return want_window && (cpu->rflags & X86_FLAG_IF) && !cpu->intr_shadow;
}

/*
 * Serializing instructions (SDM 8.2.5): after one, modified code must be seen, also code
 * another vCPU or a device wrote (the cross-modification protocol of SDM 8.1.3). Counting one
 * as a TLB flush makes translated code check its guest bytes again before it runs.
 */
static bool serializing(const struct x86_insn *in)
{
	switch (in->op) {
	case X86_OP_IRET:
	case X86_OP_CPUID:
	case X86_OP_MOV_TO_CR:
	case X86_OP_MOV_TO_DR:
	case X86_OP_WBINVD:
	case X86_OP_INVD:
	case X86_OP_LGDT:
	case X86_OP_LIDT:
	case X86_OP_LLDT:
	case X86_OP_LTR:
	case X86_OP_WRMSR:
	case X86_OP_RSM:
		return true;
	default:
		return false;
	}
}

/* One translated block at RIP if there is one: false if none ran (interpret instead). */
static bool run_block(struct emu_vcpu *v, int *rc, unsigned *count)
{
	*rc = x86_jit_run(v->jit, &v->cpu, &emu_mem_ops, v, count);
	if (*rc == X86_JIT_NONE)
		return false;
	v->trace[v->trace_pos++ % EMU_TRACE_LEN] = v->cpu.rip;
	return true;
}

/* Up to BURST_INSNS instructions, until a kick, a HLT, or an interrupt window opening. */
static void run_burst(struct emu_vcpu *v, bool want_window)
{
	struct x86_cpu *cpu = &v->cpu;
	const struct x86_insn *in;
	uint8_t *unit;

	for (unsigned i = 0; i < BURST_INSNS;) {
		unsigned count = 1;
		int rc;

		if (!v->jit || !run_block(v, &rc, &count)) {
			v->trace[v->trace_pos++ % EMU_TRACE_LEN] = cpu->rip;
			rc = icache_fetch(v->icache, cpu, &emu_mem_ops, v, &in, &unit);
			if (rc == 0) {
				rc = x86_execute_hinted(cpu, &emu_mem_ops, v, in, unit);
				if (serializing(in))
					cpu->tlb.flushes++;
			}
		}
		i += count ? count : 1;
		v->vcpu->stats.instructions += count;
		if (rc && !raise_exception(v, rc))
			return;
		if (burst_ends(v, want_window))
			return;
	}
}

int emu_vcpu_run(struct vcpu *vcpu)
{
	struct emu_vcpu *v = vcpu->engine;
	struct x86_cpu *cpu = &v->cpu;
	uint64_t hits, misses;

	while (!vm_should_stop(vcpu->vm)) {
		atomic_store(&v->kicked, false);
		take_apic_events(v);
		if (v->wait_for_sipi) {
			wait_for_kick(v);
			continue;
		}
		if (inject_interrupt(v))
			cpu->halted = false;
		if (cpu->halted) {
			if (!v->halt_counted)
				vcpu->stats.exits[EXIT_HLT]++;
			v->halt_counted = true;
			if (!interrupt_waiting(v) || !(cpu->rflags & X86_FLAG_IF))
				wait_for_kick(v);
			continue;
		}
		v->halt_counted = false;
		run_burst(v, interrupt_waiting(v));
	}
	icache_counts(v->icache, &hits, &misses);
	vcpu->stats.decodes += misses;
	if (v->jit) {
		struct x86_jit_stats js;

		x86_jit_stats(v->jit, &js);
		vcpu->stats.translated += js.insns - js.slow_steps;
		vcpu->stats.blocks += js.blocks;
	}
	log_debug("emu: vCPU %d stops at %04x:%#llx (mode %d, CR0 %#llx, CR3 %#llx, EFER %#llx)",
		  vcpu->id, cpu->seg[X86_SEG_CS].selector, (unsigned long long)cpu->rip, cpu->mode,
		  (unsigned long long)cpu->cr0, (unsigned long long)cpu->cr3,
		  (unsigned long long)cpu->efer);
	return 0;
}
