/*
 * libFuzzer harness for the 8254 PIT and port 0x61. The input is a sequence of operations on a
 * fresh device: port reads and writes of any size (around 0x40-0x43 and 0x61), control words,
 * clock advances (bounded to 2 s of guest time per input) and resets. Besides the sanitizers,
 * it checks that IRQ 0 is not pulsed faster than the rate cap allows.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fake_evloop.h"
#include "irq_recorder.h"
#include "hostvisor/bus.h"
#include "hostvisor/pit.h"

#define TIME_BUDGET_NS 2000000000ull

static const uint16_t ports[] = {0x40, 0x41, 0x42, 0x43, 0x43, 0x43,
				 0x61, 0x61, 0x3f, 0x44, 0x60, 0x62};

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->n--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

struct run {
	struct evloop *loop;
	struct bus bus;
	struct irq_recorder rec;
	struct pit *pit;
	uint64_t time_ns, writes, advances;
};

static void run_advance(struct run *r, uint64_t ns)
{
	if (r->time_ns + ns > TIME_BUDGET_NS)
		ns = TIME_BUDGET_NS - r->time_ns;
	r->time_ns += ns;
	r->advances++;
	fake_evloop_advance(r->loop, ns);
}

static void run_op(struct run *r, struct input *in)
{
	uint8_t op = (uint8_t)take(in, 1);
	unsigned size = 1u << (op >> 3 & 3);
	uint16_t port = ports[take(in, 1) % (sizeof(ports) / sizeof(ports[0]))];
	uint64_t v;

	switch (op & 7) {
	case 0:
	case 1:
		bus_write(&r->bus, port, size, take(in, size));
		r->writes += size;
		break;
	case 2:
	case 3:
		bus_read(&r->bus, port, size, &v);
		break;
	case 4:
		run_advance(r, take(in, 2));
		break;
	case 5:
		run_advance(r, take(in, 2) * 1000);
		break;
	case 6:
		run_advance(r, take(in, 1) * 1000000);
		break;
	default:
		if ((op >> 3) == 0x1f) {
			pit_reset(r->pit);
		} else {
			bus_write(&r->bus, 0x43, 1, op >> 3 | take(in, 1) << 5);
			r->writes++;
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct run r = {0};

	r.loop = evloop_create();
	if (!r.loop || bus_init(&r.bus, "pio"))
		abort();
	r.pit = pit_create(r.loop, irq_recorder_line(&r.rec));
	if (!r.pit || pit_attach(r.pit, &r.bus))
		abort();
	while (in.n)
		run_op(&r, &in);
	run_advance(&r, 1000000);
	/*
	 * Each byte written can make at most two pulses (a late edge and an immediate OUT rise);
	 * timer pulses are at least 24 CLK (20.1 us) apart in periodic modes, and one-shot modes
	 * need a write per pulse.
	 */
	if ((uint64_t)r.rec.raises > 2 * r.writes + r.time_ns / 20000 + r.advances + 2)
		abort();
	pit_destroy(r.pit);
	bus_destroy(&r.bus);
	evloop_destroy(r.loop);
	return 0;
}
