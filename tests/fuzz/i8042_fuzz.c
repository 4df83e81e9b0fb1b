/*
 * libFuzzer harness for the 8042 keyboard controller (src/dev/i8042.c). The input is a sequence
 * of operations on a fresh controller, dispatched through a real port bus: writes and reads of
 * the data and command ports at every access size, host key input, and resets. After each
 * operation the harness checks what must hold whatever the guest did, and at the end that the
 * output path drains in a bounded number of reads.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvisor/bus.h"
#include "hostvisor/i8042.h"
#include "irq_recorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STS_OBF 0x01
#define STS_IBF 0x02
#define STS_AUXB 0x20
#define STS_PARITY 0x80
#define MAX_DRAIN 64

struct harness {
	struct bus pio;
	struct irq_recorder irq1, irq12;
	struct i8042 *kbc;
	int resets;
};

static void on_reset(void *opaque)
{
	struct harness *h = opaque;

	/* The platform resets every device, this one included, from the reset callback. */
	h->resets++;
	i8042_reset(h->kbc);
}

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t next_byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static unsigned access_size(uint8_t b)
{
	static const unsigned sizes[] = {1, 2, 4, 8};

	return sizes[b & 3];
}

static void check_invariants(struct harness *h)
{
	uint64_t st;

	bus_read(&h->pio, 0x64, 1, &st);
	/* Writes complete at once and there is no serial line: IBF and parity never show. */
	if (st & (STS_IBF | STS_PARITY))
		__builtin_trap();
	/* An interrupt line is only high while the output buffer holds a byte of its side. */
	if (h->irq1.level && (!(st & STS_OBF) || (st & STS_AUXB)))
		__builtin_trap();
	if (h->irq12.level && (!(st & STS_OBF) || !(st & STS_AUXB)))
		__builtin_trap();
}

static void run_op(struct harness *h, struct input *in)
{
	uint8_t op = next_byte(in);
	uint16_t port = (op & 0x80) ? 0x64 : 0x60;
	uint64_t v;

	switch (op % 8) {
	case 0:
	case 1: /* the common case: a byte write */
		bus_write(&h->pio, port, 1, next_byte(in));
		break;
	case 2:
	case 3:
		bus_read(&h->pio, port, 1, &v);
		break;
	case 4: { /* host key input, up to 31 bytes */
		uint8_t keys[32];
		size_t n = next_byte(in) % sizeof(keys);
		for (size_t i = 0; i < n; i++)
			keys[i] = next_byte(in);
		i8042_kbd_input(h->kbc, keys, n);
		break;
	}
	case 5: { /* a wide write */
		unsigned sz = access_size(next_byte(in));
		uint64_t val = 0;
		for (unsigned i = 0; i < sz; i++)
			val |= (uint64_t)next_byte(in) << (8 * i);
		bus_write(&h->pio, port, sz, val);
		break;
	}
	case 6:
		bus_read(&h->pio, port, access_size(next_byte(in)), &v);
		break;
	case 7:
		if (op & 0x40)
			i8042_reset(h->kbc);
		else
			bus_write(&h->pio, 0x64, 1,
				  0xd0 | (next_byte(in) & 0x07)); /* aux and outport */
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness h = {0};
	struct input in = {data, size};
	uint64_t st, v;

	if (bus_init(&h.pio, "pio"))
		return 0;
	h.kbc = i8042_create(irq_recorder_line(&h.irq1), irq_recorder_line(&h.irq12), on_reset, &h);
	if (!h.kbc || i8042_attach(h.kbc, &h.pio)) {
		i8042_destroy(h.kbc);
		bus_destroy(&h.pio);
		return 0;
	}
	for (int ops = 0; in.left && ops < 4096; ops++) {
		run_op(&h, &in);
		check_invariants(&h);
	}
	/* Whatever was queued, the output path empties in a bounded number of reads. */
	int reads = 0;
	for (;;) {
		bus_read(&h.pio, 0x64, 1, &st);
		if (!(st & STS_OBF))
			break;
		if (++reads > MAX_DRAIN)
			__builtin_trap();
		bus_read(&h.pio, 0x60, 1, &v);
	}
	if (h.irq1.level || h.irq12.level)
		__builtin_trap();
	i8042_destroy(h.kbc);
	bus_destroy(&h.pio);
	return 0;
}
