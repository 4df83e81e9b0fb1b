/* The PC platform's devices and how they are wired (src/vm/platform.c). */
#ifndef HOSTVISOR_PLATFORM_H
#define HOSTVISOR_PLATFORM_H

#include <stdio.h>

#include "hostvisor/vm.h"

/* NICs take PCI slots from here on (00.0 host bridge, 01.0 ISA bridge). */
#define NIC_FIRST_SLOT 3

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
	struct net_backend *net[VM_MAX_NICS];
	struct pcnet *nic[VM_MAX_NICS];
	uint16_t elcr; /* level-triggered ISA IRQs the firmware set up for PCI */
};

/* Creates and attaches every platform device; one clear line in err on failure. */
int platform_create(struct vm *vm, char *err, size_t errlen);
void platform_destroy(struct vm *vm);
/* Per-NIC packet and byte counts, for --stats. */
void platform_print_stats(struct vm *vm, FILE *out);
/* Power-on state of every device, and the firmware's set-up (PCI, ELCR, CMOS, ACPI tables). */
int platform_reset(struct vm *vm, char *err, size_t errlen);

#endif
