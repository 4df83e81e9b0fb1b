/*
 * The emu engine's VM: the virtual clock, and the interrupt fabric between the platform's
 * interrupt controllers and the vCPUs' local APICs: MSI-format messages from the I/O APIC and
 * PCI devices (Intel SDM vol. 3A 11.11), IPIs from an APIC's ICR (11.6), and the 8259's INT
 * line to every APIC's LINT0 (11.5.1, the "virtual wire").
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "emu_internal.h"
#include "hostvisor/emu.h"
#include "hostvisor/log.h"

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t emu_clock_ns(struct emu_vm *ev)
{
	return monotonic_ns() - ev->start_ns;
}

static int emu_vm_init(struct vm *vm)
{
	struct emu_vm *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->vm = vm;
	ev->start_ns = monotonic_ns();
	vm->engine_vm = ev;
	return 0;
}

static void emu_vm_destroy(struct vm *vm)
{
	free(vm->engine_vm);
	vm->engine_vm = NULL;
}

static struct emu_vcpu *emu_vcpu_of(struct vm *vm, int i)
{
	return vm->vcpu[i] ? vm->vcpu[i]->engine : NULL;
}

/* Does a message with this destination and shorthand (ICR bits 19:18) reach APIC i? */
static bool message_reaches(struct vm *vm, struct emu_vcpu *from, int i, uint8_t dest,
			    bool logical, unsigned shorthand)
{
	struct emu_vcpu *to = emu_vcpu_of(vm, i);

	if (!to || !to->apic)
		return false;
	switch (shorthand) {
	case 1: /* self */
		return to == from;
	case 2: /* all including self */
		return true;
	case 3: /* all excluding self */
		return to != from;
	default:
		return lapic_match_dest(to->apic, dest, logical);
	}
}

void emu_route_message(struct vm *vm, struct emu_vcpu *from, uint8_t dest, bool logical,
		       unsigned shorthand, enum lapic_delivery mode, uint8_t vector, bool level)
{
	struct emu_vm *ev = emu_vm_of(vm);
	int targets[VM_MAX_CPUS], n = 0;

	for (int i = 0; i < vm->ncpus; i++)
		if (message_reaches(vm, from, i, dest, logical, shorthand))
			targets[n++] = i;
	if (n == 0)
		return;
	/* Lowest priority: one of the targets. The SDM (11.6.2.4) leaves the arbitration to the
	 * platform; turns are taken so that the load spreads. */
	if (mode == LAPIC_DM_LOWEST) {
		targets[0] = targets[atomic_fetch_add(&ev->lowest_rr, 1) % (unsigned)n];
		n = 1;
		mode = LAPIC_DM_FIXED;
	}
	for (int k = 0; k < n; k++)
		lapic_accept(emu_vcpu_of(vm, targets[k])->apic, mode, vector, level);
}

/* MSI address and data (SDM 11.11.1, 11.11.2). */
static void emu_deliver_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	uint8_t dest = (uint8_t)(addr >> 12);
	bool logical = addr & (1u << 2);
	enum lapic_delivery mode = (enum lapic_delivery)((data >> 8) & 7);
	bool level_trigger = data & (1u << 15);

	if ((addr & 0xfff00000ull) != 0xfee00000ull)
		return; /* not an interrupt message: a real chipset drops the write */
	atomic_fetch_add(&vm->msi_delivered, 1);
	emu_route_message(vm, NULL, dest, logical, 0, mode, (uint8_t)data, level_trigger);
}

static void emu_set_extint(struct vm *vm, int level)
{
	struct emu_vm *ev = emu_vm_of(vm);

	if (!ev)
		return;
	atomic_store(&ev->extint, level);
	for (int i = 0; i < vm->ncpus; i++) {
		struct emu_vcpu *v = emu_vcpu_of(vm, i);

		if (v && v->apic)
			lapic_set_lint0(v->apic, level);
	}
}

const struct engine_ops emu_engine_ops = {
	.name = "emu",
	.vm_init = emu_vm_init,
	.vm_destroy = emu_vm_destroy,
	.vcpu_init = emu_vcpu_init,
	.vcpu_destroy = emu_vcpu_destroy,
	.vcpu_run = emu_vcpu_run,
	.vcpu_kick = emu_vcpu_kick,
	.deliver_msi = emu_deliver_msi,
	.set_extint = emu_set_extint,
	.ioapic_route = NULL,
};
