/*
 * Intel 82093AA I/O APIC: 24 redirection entries, register window IOREGSEL/IOWIN at its MMIO
 * base, EOI-driven remote IRR for level-triggered pins. Interrupts leave as MSI-format messages
 * (Intel SDM vol. 3, 11.11: address 0xfee00000 | dest << 12 | redirection_hint << 3 |
 * dest_mode << 2, the hint set for lowest-priority delivery; data vector | delivery_mode << 8 |
 * level << 14 | trigger << 15), which the engine hands to its local APICs.
 */
#ifndef HOSTVISOR_IOAPIC_H
#define HOSTVISOR_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/bus.h"

#define IOAPIC_PINS 24
#define IOAPIC_DEFAULT_BASE 0xfec00000ull
#define IOAPIC_MMIO_SIZE 0x1000

struct ioapic_ops {
	/* Sends one interrupt message. */
	void (*deliver)(void *opaque, uint64_t msi_addr, uint32_t msi_data);
	/*
	 * A redirection entry changed. The kvm engine mirrors entries into KVM's GSI routing so that
	 * the kernel LAPIC exits on EOI of level-triggered vectors (split irqchip). May be NULL.
	 */
	void (*route_changed)(void *opaque, int pin, uint64_t msi_addr, uint32_t msi_data,
			      bool masked);
};

struct ioapic;

struct ioapic *ioapic_create(const struct ioapic_ops *ops, void *opaque, uint8_t id);
void ioapic_destroy(struct ioapic *ioapic);
int ioapic_attach(struct ioapic *ioapic, struct bus *mmio, uint64_t base);
void ioapic_reset(struct ioapic *ioapic);

/* Drives input pin 0..23. */
void ioapic_set_irq(struct ioapic *ioapic, int pin, int level);
/* A local APIC signalled EOI for vector: clears remote IRR of matching level pins, re-delivers. */
void ioapic_eoi(struct ioapic *ioapic, uint8_t vector);

#endif
