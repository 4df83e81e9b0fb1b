/*
 * PCI bus 0: configuration mechanism #1 (ports 0xcf8/0xcfc, PCI Local Bus Specification 3.0
 * section 3.2.2.3.2), type-0 configuration headers, BAR sizing and decoding, INTx routing.
 *
 * The bus carries an Intel 82441FX host bridge at 00.0 and an 82371SB PIIX3 ISA bridge at 01.0
 * whose PIRQ route control registers (0x60-0x63) steer PIRQA-D to ISA IRQs for PIC-mode guests.
 * In APIC mode PIRQn reaches I/O APIC input 16+n, which is what the DSDT's _PRT publishes:
 * slot s, pin p (0 = INTA) -> PIRQ (s + p) & 3 -> GSI 16 + ((s + p) & 3).
 */
#ifndef HOSTVISOR_PCI_H
#define HOSTVISOR_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/bus.h"

#define PCI_CONFIG_SIZE 256
#define PCI_NUM_BARS 6
#define PCI_MAX_DEVFN 256
#define PCI_DEVFN(slot, fn) ((uint8_t)(((slot) << 3) | (fn)))

/* Type-0 header offsets (PCI 3.0 section 6.1). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_CLASS_DEVICE 0x0a
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_ROM_ADDRESS 0x30
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_INTERRUPT 0x8

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_kind kind;
	uint64_t size; /* power of two; I/O >= 4, memory >= 16 */
	bus_read_fn read;
	bus_write_fn write;
	void *opaque;
	uint64_t mapped_at; /* where it is registered on its bus */
	bool mapped;
};

struct pci_bus;

struct pci_device {
	const char *name;
	uint8_t cfg[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CONFIG_SIZE]; /* write-1-to-clear bits (status) */
	struct pci_bar bar[PCI_NUM_BARS];
	/* Optional hooks for device-specific registers, called with the bus lock held. */
	void (*cfg_write_hook)(struct pci_device *dev, unsigned offset, unsigned size,
			       uint32_t value);
	void *opaque;
	/* Owned by the bus. */
	struct pci_bus *bus;
	uint8_t devfn;
	bool intx_asserted; /* the device's request */
	bool intx_driving;  /* counted on its PIRQ (request and not INTx-disabled) */
};

/* Where INTx goes: the router drives the PIC (ISA IRQ) and the I/O APIC (GSI). */
struct pci_irq_ops {
	void (*set_isa_irq)(void *opaque, int irq, int level);
	void (*set_gsi)(void *opaque, int gsi, int level);
};

struct pci_bus *pci_bus_create(struct bus *pio, struct bus *mmio, const struct pci_irq_ops *irq,
			       void *irq_opaque);
void pci_bus_destroy(struct pci_bus *pci);
/* Claims 0xcf8 (CONFADD, dword accesses only; byte 0xcf9 belongs to the reset register) and
 * 0xcfc-0xcff (CONFDATA), and adds the host bridge and the ISA bridge. */
int pci_bus_attach(struct pci_bus *pci);

/* Fills in identity; the device is added at slot/function with pci_device_add. */
void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision);
int pci_device_add(struct pci_bus *pci, struct pci_device *dev, int slot, int fn);
/* Declares BAR n before the device is added; size must be a power of two. */
int pci_bar_define(struct pci_device *dev, int n, enum pci_bar_kind kind, uint64_t size,
		   bus_read_fn read, bus_write_fn write, void *opaque);
/* Interrupt pin 1..4 (INTA..INTD) the device uses; 0 = none. */
void pci_set_interrupt_pin(struct pci_device *dev, int pin);

/* Level of the device's INTx# (asserted = 1). Respects the command register's INTx disable. */
void pci_set_intx(struct pci_device *dev, bool asserted);

/*
 * What a PC firmware does before the OS runs: assigns every BAR an address (I/O from 0xc000,
 * memory from 0xe0000000), enables decoding and bus mastering, programs the PIRQ routes
 * (PIRQA-D -> IRQ 10, 10, 11, 11) with the ELCR level bits (returned in elcr), and writes each
 * device's interrupt line register.
 */
void pci_firmware_setup(struct pci_bus *pci, uint16_t *elcr);

/* The GSI of a device's INTx in APIC mode, -1 if it has no pin. */
int pci_device_gsi(const struct pci_device *dev);

/* Raw configuration access (tests, and the host side). */
uint32_t pci_config_read(struct pci_bus *pci, uint8_t devfn, unsigned offset, unsigned size);
void pci_config_write(struct pci_bus *pci, uint8_t devfn, unsigned offset, unsigned size,
		      uint32_t value);

#endif
