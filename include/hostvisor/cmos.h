/*
 * Motorola MC146818 real-time clock and CMOS RAM (ports 0x70/0x71; 0x72/0x73 reach the upper
 * 128-byte bank). Time and date in BCD or binary, 12 or 24 hour, update-in-progress, alarm,
 * periodic and update-ended interrupts on ISA IRQ 8, NMI mask bit in the index port.
 * Datasheet: Motorola MC146818A.
 */
#ifndef HOSTVISOR_CMOS_H
#define HOSTVISOR_CMOS_H

#include <stdint.h>
#include <time.h>

#include "hostvisor/bus.h"
#include "hostvisor/evloop.h"
#include "hostvisor/irq.h"

#define CMOS_NVRAM_SIZE 256

struct cmos;

/* base_utc: the wall-clock time (UTC, seconds) at the moment of creation, and base_frac_ns how far
 * into that second it is (0..999999999), so that the seconds turn with the host's; the clock runs
 * from there on the event loop's clock. */
struct cmos *cmos_create(struct evloop *loop, struct irq_line irq8, time_t base_utc,
			 long base_frac_ns);
void cmos_destroy(struct cmos *cmos);
int cmos_attach(struct cmos *cmos, struct bus *pio);

/* The platform writes configuration bytes (memory size, equipment, century) before boot. */
void cmos_nvram_set(struct cmos *cmos, unsigned index, uint8_t value);
uint8_t cmos_nvram_get(struct cmos *cmos, unsigned index);

#endif
