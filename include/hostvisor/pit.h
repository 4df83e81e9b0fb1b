/*
 * Intel 8254 programmable interval timer (3 counters, all 6 modes, BCD, latch and read-back
 * commands) clocked at 1.193182 MHz, and the PC's port 0x61 (NMI status and control: counter 2
 * gate, speaker data, OUT2 and refresh-toggle status). Datasheet: Intel 8254, order 231164.
 * Counter 0's OUT drives ISA IRQ 0. Time comes from the event loop; nothing ticks while idle.
 */
#ifndef HOSTVISOR_PIT_H
#define HOSTVISOR_PIT_H

#include <stdint.h>

#include "hostvisor/bus.h"
#include "hostvisor/evloop.h"
#include "hostvisor/irq.h"

#define PIT_FREQ_HZ 1193182ull

struct pit;

struct pit *pit_create(struct evloop *loop, struct irq_line irq0);
void pit_destroy(struct pit *pit);
/* Claims 0x40-0x43 and 0x61. */
int pit_attach(struct pit *pit, struct bus *pio);
void pit_reset(struct pit *pit);

#endif
