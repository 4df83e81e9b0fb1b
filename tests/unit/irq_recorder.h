/* A recording interrupt line for unit tests: level now, and how many rising edges were seen. */
#ifndef TESTS_IRQ_RECORDER_H
#define TESTS_IRQ_RECORDER_H

#include "hostvisor/irq.h"

struct irq_recorder {
	int level;
	int raises; /* 0 -> 1 transitions */
	int sets;   /* calls of any kind */
};

static inline void irq_recorder_set(void *opaque, int line, int level)
{
	struct irq_recorder *rec = opaque;

	(void)line;
	if (level && !rec->level)
		rec->raises++;
	rec->level = level ? 1 : 0;
	rec->sets++;
}

static inline struct irq_line irq_recorder_line(struct irq_recorder *rec)
{
	return (struct irq_line){ .set = irq_recorder_set, .opaque = rec, .line = 0 };
}

#endif
