/*
 * libFuzzer harness for the 82093AA I/O APIC. The input is a sequence of operations against a
 * fresh device, dispatched through a real MMIO bus: accesses of any size at any offset in and
 * just around the 4 KiB window, register writes through IOREGSEL/IOWIN (a shortcut to program
 * entries), pin changes (in and out of range), EOIs, and resets.
 *
 * Checked on every message: the address is in the 0xfee00000 MSI window with no bit outside
 * those the SDM defines, and no more than one message per pin per operation plus one per pin on
 * an EOI (no delivery storms from a single event). Route callbacks name a valid pin.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hostvisor/bus.h"
#include "hostvisor/ioapic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

struct sink {
	unsigned messages; /* during the current operation */
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

static void check_deliver(void *opaque, uint64_t addr, uint32_t data)
{
	struct sink *s = opaque;

	/* 0xfee in 31:20, destination 19:12, RH bit 3, DM bit 2; nothing else. */
	if ((addr & ~0xff00cull) != 0xfee00000ull)
		__builtin_trap();
	/* vector, delivery mode, level, trigger; nothing else. */
	if (data & ~0xc7ffu)
		__builtin_trap();
	s->messages++;
}

static void check_route(void *opaque, int pin, uint64_t addr, uint32_t data, bool masked)
{
	(void)opaque;
	(void)addr;
	(void)data;
	(void)masked;
	if (pin < 0 || pin >= IOAPIC_PINS)
		__builtin_trap();
}

static const struct ioapic_ops fuzz_ops = { .deliver = check_deliver,
					    .route_changed = check_route };

static unsigned next_size(struct input *in)
{
	return 1u << (next_byte(in) & 3);
}

/* Offsets -8 .. 0x1007 around the window: both edges are exercised. */
static uint64_t next_addr(struct input *in)
{
	uint64_t off = next_value(in, 2) % (IOAPIC_MMIO_SIZE + 16);

	return IOAPIC_DEFAULT_BASE - 8 + off;
}

static void run_one(struct ioapic *io, struct bus *mmio, struct input *in)
{
	uint8_t op = next_byte(in);
	uint64_t v;

	switch (op % 6) {
	case 0: {
		uint64_t addr = next_addr(in);
		unsigned size = next_size(in);

		bus_write(mmio, addr, size, next_value(in, size));
		break;
	}
	case 1: {
		uint64_t addr = next_addr(in);

		bus_read(mmio, addr, next_size(in), &v);
		break;
	}
	case 2: {
		/* Mostly the register window, with indices biased to the table. */
		uint8_t reg = next_byte(in);

		bus_write(mmio, IOAPIC_DEFAULT_BASE, 4, reg % 0x48);
		bus_write(mmio, IOAPIC_DEFAULT_BASE + 0x10, 4, next_value(in, 4));
		break;
	}
	case 3:
		/* Pins -4 .. 27: out-of-range ones must be ignored. */
		ioapic_set_irq(io, (int)(next_byte(in) % 32) - 4, next_byte(in) & 1);
		break;
	case 4:
		ioapic_eoi(io, next_byte(in));
		break;
	case 5:
		if ((next_byte(in) & 0x1f) == 0)
			ioapic_reset(io);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { .p = data, .left = size };
	struct sink sink = { 0 };
	struct bus mmio;
	struct ioapic *io;

	if (bus_init(&mmio, "mmio"))
		return 0;
	io = ioapic_create(&fuzz_ops, &sink, data && size ? data[0] : 0);
	if (!io || ioapic_attach(io, &mmio, IOAPIC_DEFAULT_BASE)) {
		ioapic_destroy(io);
		bus_destroy(&mmio);
		return 0;
	}
	while (in.left) {
		sink.messages = 0;
		run_one(io, &mmio, &in);
		/* One event sends at most one message per pin. */
		if (sink.messages > IOAPIC_PINS)
			__builtin_trap();
	}
	ioapic_destroy(io);
	bus_destroy(&mmio);
	return 0;
}
