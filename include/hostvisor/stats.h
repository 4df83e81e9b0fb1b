/* Exit accounting (DESIGN.md section 7): per vCPU, by reason and by bus registration. */
#ifndef HOSTVISOR_STATS_H
#define HOSTVISOR_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "hostvisor/bus.h"

enum exit_reason {
	EXIT_PIO,
	EXIT_MMIO,
	EXIT_HLT,
	EXIT_IRQ_WINDOW,
	EXIT_INTR,       /* KVM_RUN interrupted by a signal (a kick) */
	EXIT_EOI,        /* split irqchip: EOI of a level-triggered IOAPIC vector */
	EXIT_SHUTDOWN,   /* triple fault */
	EXIT_SYSTEM_EVENT,
	EXIT_OTHER,
	EXIT_REASONS
};

struct bus_counter {
	uint64_t reads, writes;
};

struct vcpu_stats {
	uint64_t exits[EXIT_REASONS];
	uint64_t interrupts_injected; /* by the VMM: ExtINT from the PIC (kvm), all (emu) */
	uint64_t instructions;        /* emu engine: guest instructions executed */
	uint64_t decodes;             /* emu engine: of those, decoded afresh (cache misses) */
	uint64_t translated;          /* emu engine: of those, run in translated code */
	uint64_t blocks;              /* emu engine: blocks translated */
	struct bus_counter pio[BUS_MAX_IDS];
	struct bus_counter mmio[BUS_MAX_IDS];
	struct bus_counter pio_unclaimed, mmio_unclaimed;
};

const char *exit_reason_name(enum exit_reason r);
void stats_count_bus(struct bus_counter *by_id, struct bus_counter *unclaimed, int id,
		     int is_write);
/* Prints the per-vCPU and total tables for n vCPUs. */
void stats_print(FILE *out, struct vcpu_stats *const *per_vcpu, int n, const struct bus *pio,
		 const struct bus *mmio, uint64_t msi_delivered);

#endif
