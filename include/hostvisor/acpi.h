/*
 * ACPI tables (ACPI 6.x section 5.2): RSDP, XSDT (and RSDT), FADT with the fixed hardware of
 * include/hostvisor/acpi_pm.h, FACS, MADT with one local APIC per CPU, the I/O APIC and the ISA
 * interrupt source overrides, and the DSDT compiled from src/boot/dsdt.asl by iasl at build time.
 */
#ifndef HOSTVISOR_ACPI_H
#define HOSTVISOR_ACPI_H

#include <stdint.h>

#include "hostvisor/gmem.h"

#define ACPI_TABLES_BASE 0xe0000ull
#define ACPI_TABLES_LIMIT 0x100000ull
#define LAPIC_DEFAULT_BASE 0xfee00000ull

struct acpi_config {
	int ncpus;            /* local APIC ids 0..ncpus-1 */
	uint8_t ioapic_id;    /* conventionally ncpus */
	uint64_t ioapic_addr; /* IOAPIC_DEFAULT_BASE */
};

/* Writes the tables into [ACPI_TABLES_BASE, ACPI_TABLES_LIMIT); returns 0 and the RSDP address. */
int acpi_build(const struct gmem *gm, const struct acpi_config *cfg, uint64_t *rsdp_addr);

#endif
