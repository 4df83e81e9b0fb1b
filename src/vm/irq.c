/*
 * Interrupt routing of the PC: ISA IRQ n reaches 8259 input n and I/O APIC input n, except
 * IRQ 0 (the PIT), which the MADT overrides to I/O APIC input 2 as on real boards; IRQ 2 is the
 * cascade and reaches no I/O APIC input. GSIs 16-23 are the PCI PIRQ lines (src/bus/pci.c).
 * ISA lines are active high; the I/O APIC applies each entry's polarity to the electrical level.
 * The PIC's INT output and the I/O APIC's messages go to the engine.
 */
#include "hostvisor/ioapic.h"
#include "hostvisor/pic.h"
#include "hostvisor/platform.h"
#include "hostvisor/vm.h"

void vm_set_isa_irq(struct vm *vm, int irq, int level)
{
	struct platform *p = vm->platform;

	if (irq < 0 || irq > 15)
		return;
	pic_set_irq(p->pic, irq, level);
	if (irq == 2)
		return;
	ioapic_set_irq(p->ioapic, irq == 0 ? 2 : irq, level);
}

/* GSIs 16-23 carry PCI INTx#, which is active low (PCI 3.0 section 2.2.6): the I/O APIC input
 * sees the electrical level, and the guest programs those entries active-low. */
void vm_set_gsi(struct vm *vm, int gsi, int level)
{
	if (gsi < 16 || gsi >= IOAPIC_PINS)
		return;
	ioapic_set_irq(vm->platform->ioapic, gsi, !level);
}

static void isa_line_set(void *opaque, int line, int level)
{
	vm_set_isa_irq(opaque, line, level);
}

struct irq_line vm_isa_irq_line(struct vm *vm, int irq)
{
	return (struct irq_line){ .set = isa_line_set, .opaque = vm, .line = irq };
}

uint8_t vm_pic_ack(struct vm *vm)
{
	return pic_ack(vm->platform->pic);
}

bool vm_pic_pending(struct vm *vm)
{
	return pic_intr_pending(vm->platform->pic);
}

void vm_ioapic_eoi(struct vm *vm, uint8_t vector)
{
	ioapic_eoi(vm->platform->ioapic, vector);
}
