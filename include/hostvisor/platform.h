/* The PC platform's devices and how they are wired (src/vm/platform.c). */
#ifndef HOSTVISOR_PLATFORM_H
#define HOSTVISOR_PLATFORM_H

#include "hostvisor/vm.h"

struct platform {
	struct pic *pic;
	struct ioapic *ioapic;
	struct pit *pit;
	struct cmos *cmos;
	struct i8042 *kbc;
	struct acpi_pm *pm;
	struct port80 *port80;
	struct pci_bus *pci;
	struct chardev *serial[VM_MAX_SERIAL];
	struct uart *uart[VM_MAX_SERIAL];
	uint16_t elcr; /* level-triggered ISA IRQs the firmware set up for PCI */
};

/* Creates and attaches every platform device; one clear line in err on failure. */
int platform_create(struct vm *vm, char *err, size_t errlen);
void platform_destroy(struct vm *vm);
/* Power-on state of every device, and the firmware's set-up (PCI, ELCR, CMOS, ACPI tables). */
int platform_reset(struct vm *vm, char *err, size_t errlen);

#endif
