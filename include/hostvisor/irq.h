/*
 * An interrupt line from a device to the interrupt controllers (DESIGN.md section 5).
 *
 * A device holds a struct irq_line by value and calls irq_raise/irq_lower (level) or irq_pulse
 * (edge). In the VM the line feeds the IRQ router (PIC + IOAPIC); in unit tests, a recorder.
 */
#ifndef HOSTVISOR_IRQ_H
#define HOSTVISOR_IRQ_H

#include <stddef.h>

struct irq_line {
	void (*set)(void *opaque, int line, int level);
	void *opaque;
	int line;
};

static inline void irq_set(const struct irq_line *irq, int level)
{
	if (irq->set)
		irq->set(irq->opaque, irq->line, level);
}

static inline void irq_raise(const struct irq_line *irq)
{
	irq_set(irq, 1);
}

static inline void irq_lower(const struct irq_line *irq)
{
	irq_set(irq, 0);
}

/* An edge: the line goes high and back low, as an ISA device's edge-triggered request does. */
static inline void irq_pulse(const struct irq_line *irq)
{
	irq_set(irq, 1);
	irq_set(irq, 0);
}

#endif
