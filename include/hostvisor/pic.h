/*
 * Intel 8259A programmable interrupt controller, master/slave pair as wired on the PC
 * (slave INT -> master IR2), plus the edge/level control registers (ELCR, ports 0x4d0/0x4d1,
 * Intel 82371 PIIX datasheet). Datasheet: Intel 8259A, order number 231468.
 */
#ifndef HOSTVISOR_PIC_H
#define HOSTVISOR_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/bus.h"

struct pic;

/* intr: the master's INT pin towards the CPU, called with the new level whenever it changes. */
struct pic *pic_create(void (*intr)(void *opaque, int level), void *opaque);
void pic_destroy(struct pic *pic);
/* Claims 0x20-0x21, 0xa0-0xa1 and 0x4d0-0x4d1. */
int pic_attach(struct pic *pic, struct bus *pio);
void pic_reset(struct pic *pic);

/* Drives ISA IRQ 0..15. Edge mode latches a rising edge; level mode (ELCR) follows the level. */
void pic_set_irq(struct pic *pic, int irq, int level);

/*
 * The CPU's interrupt-acknowledge cycle: returns the vector of the highest-priority request and
 * moves it to in-service, or the spurious vector (IR7 of the master / slave) if the request went
 * away, as the datasheet's INTA sequence does.
 */
uint8_t pic_ack(struct pic *pic);

/* True while the master's INT pin is high. */
bool pic_intr_pending(struct pic *pic);

#endif
