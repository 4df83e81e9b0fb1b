/*
 * Local APIC of one emu vCPU (Intel SDM vol. 3A ch. 11, xAPIC mode only: the emu CPU does not
 * advertise x2APIC). The register page at IA32_APIC_BASE (default 0xfee00000): ID, version,
 * TPR/PPR/APR, EOI, LDR/DFR, SVR, ISR/TMR/IRR, ESR, ICR, the LVT (timer, LINT0, LINT1, error,
 * thermal, performance counter), and the timer (one-shot and periodic; TSC-deadline is not
 * advertised) with its divide configuration. Interrupt acceptance follows SDM 11.8: IRR, ISR,
 * the priority classes against PPR, EOI (broadcast to the I/O APIC for level-triggered
 * vectors), the spurious vector, and software disable via SVR bit 8.
 *
 * The timer counts on the event loop's clock; its callback runs on the I/O thread. Every entry
 * point takes the APIC's own lock. Interrupt messages between APICs (IPIs, I/O APIC and MSI
 * messages) are routed by the engine, which asks each APIC lapic_match_dest() and hands the
 * message to lapic_accept().
 */
#ifndef HOSTVISOR_LAPIC_H
#define HOSTVISOR_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/evloop.h"

#define LAPIC_DEFAULT_BASE 0xfee00000ull
#define LAPIC_MMIO_SIZE 0x1000
#define LAPIC_BASE_BSP (1ull << 8)	 /* IA32_APIC_BASE bits (SDM 11.4.4) */
#define LAPIC_BASE_ENABLE (1ull << 11)
/* MAXPHYADDR for the base address field of IA32_APIC_BASE (bits 12..MAXPHYADDR-1; the rest is
 * reserved). Must equal the emu CPU's CPUID 80000008H EAX[7:0]. */
#define LAPIC_PHYS_ADDR_BITS 40
/* The timer's input clock: the bus clock the divide configuration divides (ns per tick). */
#define LAPIC_BUS_NS 1

/* Delivery modes of the ICR, LVT entries and MSI data (SDM 11.6.1). */
enum lapic_delivery {
	LAPIC_DM_FIXED = 0,
	LAPIC_DM_LOWEST = 1,
	LAPIC_DM_SMI = 2,
	LAPIC_DM_NMI = 4,
	LAPIC_DM_INIT = 5,
	LAPIC_DM_STARTUP = 6,
	LAPIC_DM_EXTINT = 7,
};

/* Events lapic_take_events() reports besides vectors. */
#define LAPIC_EVENT_NMI 0x1
#define LAPIC_EVENT_INIT 0x2
#define LAPIC_EVENT_SIPI 0x4

struct lapic_ops {
	/*
	 * Sends an interrupt message from this APIC's ICR: destination field (ICR bits 63:56),
	 * the ICR low word (vector, delivery mode, destination mode, level, trigger, shorthand).
	 * The engine routes it (shorthands "all" and "all but self"; "self" is handled by the
	 * APIC itself and never sent). Called without the APIC's lock: it may route back here.
	 */
	void (*send_ipi)(void *opaque, uint32_t icr_low, uint8_t dest);
	/* EOI of a level-triggered vector: the engine tells the I/O APIC (SDM 11.8.5). Called
	 * without the APIC's lock. */
	void (*eoi)(void *opaque, uint8_t vector);
	/* Something became pending (an interrupt, NMI, INIT, SIPI, ExtINT): wake the vCPU. Any
	 * thread; called with the APIC's lock held, so it must not call into this APIC. */
	void (*kick)(void *opaque);
};

struct lapic;

struct lapic *lapic_create(const struct lapic_ops *ops, void *opaque, struct evloop *loop,
			   uint8_t apic_id, bool bsp);
void lapic_destroy(struct lapic *apic);
/* Power-on / reset state (SDM 11.4.7.1); INIT keeps the APIC ID and base (11.4.7.3).
 * lapic_init_signal() resets the APIC only and leaves pending events alone; lapic_accept() of an
 * INIT message does that reset itself and reports LAPIC_EVENT_INIT. */
void lapic_reset(struct lapic *apic);
void lapic_init_signal(struct lapic *apic);

/* The register page; offset within it, size 1..8 (only aligned 32-bit accesses do anything,
 * as SDM 11.4.1 requires; others read 0 and are ignored). */
uint64_t lapic_mmio_read(struct lapic *apic, uint64_t offset, unsigned size);
void lapic_mmio_write(struct lapic *apic, uint64_t offset, unsigned size, uint64_t value);

/* IA32_APIC_BASE (SDM 11.4.4). set returns 0 or -EINVAL for reserved bits (the CPU #GPs). */
uint64_t lapic_get_base(struct lapic *apic);
int lapic_set_base(struct lapic *apic, uint64_t value);
/* True if the register page is mapped (enabled) at address. */
bool lapic_mmio_hit(struct lapic *apic, uint64_t addr);

/* CR8 (SDM 10.8.6, CR8): TPR[7:4]. */
uint64_t lapic_get_cr8(struct lapic *apic);
void lapic_set_cr8(struct lapic *apic, uint64_t value);

/* Does a message for destination dest (physical ID, or logical with DFR/LDR) reach this APIC? */
bool lapic_match_dest(struct lapic *apic, uint8_t dest, bool logical);
/* Accepts a message: fixed/lowest (vector into IRR, TMR by trigger), NMI, INIT, STARTUP
 * (vector = start page), ExtINT (noted for the engine). */
void lapic_accept(struct lapic *apic, enum lapic_delivery mode, uint8_t vector, bool level);
/* The LINT0 pin, wired to the 8259's INTR (SDM 11.5.1, "virtual wire"): with LVT LINT0 in
 * ExtINT mode, or the APIC disabled, the CPU takes its vector from the PIC. */
void lapic_set_lint0(struct lapic *apic, int level);
bool lapic_extint_pending(struct lapic *apic);
/* The CPU ran the INTA cycle for an ExtINT (asked the PIC for the vector): clears a latched
 * ExtINT message from lapic_accept(). The LINT0 pin itself stays as the PIC drives it. */
void lapic_extint_ack(struct lapic *apic);

/* The highest fixed interrupt the CPU may take now (IRR priority class > PPR class), or -1. */
int lapic_pending_vector(struct lapic *apic);
/* The CPU took vector: IRR -> ISR (SDM 11.8.4). Returns the vector to deliver: vector, or the
 * spurious vector if it is no longer deliverable. */
uint8_t lapic_ack(struct lapic *apic, uint8_t vector);
/* NMI / INIT / SIPI taken by the engine: LAPIC_EVENT_* bits, cleared; *sipi_vector if SIPI. */
unsigned lapic_take_events(struct lapic *apic, uint8_t *sipi_vector);

#endif
