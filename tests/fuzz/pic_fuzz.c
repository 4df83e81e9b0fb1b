/*
 * libFuzzer harness for the 8259A pair + ELCR. The input is a sequence of operations against a
 * fresh device, dispatched through a real port bus: port reads and writes of any size at and
 * around the claimed ports, IRQ line changes (in and out of range), INTA, reset, and a shortcut
 * that runs a whole ICW sequence so deep states are reached quickly.
 *
 * Checked on every step: the INT callback only reports changes, and it agrees with
 * pic_intr_pending().
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hostvisor/bus.h"
#include "hostvisor/pic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

struct intr_state {
	int level;
};

static uint8_t next_byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint64_t next_value(struct input *in, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)next_byte(in) << (8 * i);
	return v;
}

static void check_intr(void *opaque, int level)
{
	struct intr_state *s = opaque;

	if (!!level == s->level)
		__builtin_trap(); /* the callback must only report changes */
	s->level = !!level;
}

/* Ports the PIC claims, plus neighbours on both sides. */
static const uint16_t fuzz_ports[] = { 0x1f, 0x20, 0x21, 0x22, 0x9f, 0xa0, 0xa1, 0xa2,
				       0x4cf, 0x4d0, 0x4d1, 0x4d2 };

static uint16_t next_port(struct input *in)
{
	return fuzz_ports[next_byte(in) % (sizeof(fuzz_ports) / sizeof(fuzz_ports[0]))];
}

static unsigned next_size(struct input *in)
{
	return 1u << (next_byte(in) & 3);
}

static void run_init_sequence(struct bus *pio, struct input *in)
{
	uint16_t chip = next_byte(in) & 1 ? 0xa0 : 0x20;
	uint8_t icw1 = 0x10 | (next_byte(in) & 0x0f);

	bus_write(pio, chip, 1, icw1);
	for (int i = 0; i < 4; i++)
		bus_write(pio, chip + 1, 1, next_byte(in));
}

static void run_one(struct pic *pic, struct bus *pio, struct input *in)
{
	uint8_t op = next_byte(in);
	uint64_t v;

	switch (op % 7) {
	case 0: {
		uint16_t port = next_port(in);
		unsigned size = next_size(in);

		bus_write(pio, port, size, next_value(in, size));
		break;
	}
	case 1: {
		uint16_t port = next_port(in);

		bus_read(pio, port, next_size(in), &v);
		break;
	}
	case 2:
		/* IRQ numbers from -8 to 23: the out-of-range ones must be ignored. */
		pic_set_irq(pic, (int)(next_byte(in) % 32) - 8, next_byte(in) & 1);
		break;
	case 3:
		(void)pic_ack(pic);
		break;
	case 4:
		run_init_sequence(pio, in);
		break;
	case 5:
		if ((next_byte(in) & 0x1f) == 0)
			pic_reset(pic);
		break;
	case 6:
		/* Unmask everything on both chips (guests do this a lot). */
		bus_write(pio, 0x21, 1, 0);
		bus_write(pio, 0xa1, 1, 0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .p = data, .left = size };
	struct intr_state intr = { 0 };
	struct bus pio;
	struct pic *pic;

	if (bus_init(&pio, "pio"))
		return 0;
	pic = pic_create(check_intr, &intr);
	if (!pic || pic_attach(pic, &pio)) {
		pic_destroy(pic);
		bus_destroy(&pio);
		return 0;
	}
	/* Bounded: every operation consumes at least one byte. */
	while (in.left) {
		run_one(pic, &pio, &in);
		if (pic_intr_pending(pic) != (intr.level != 0))
			__builtin_trap();
	}
	pic_destroy(pic);
	bus_destroy(&pio);
	return 0;
}
