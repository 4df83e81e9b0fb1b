/*
 * libFuzzer harness for the MC146818A RTC and CMOS RAM. The input is a sequence of operations on
 * a fresh device: port reads and writes of any size around 0x70-0x73, register writes and reads
 * (index then data), the platform's nvram_set/nvram_get, and clock advances from nanoseconds to
 * hours (at most 30 days of guest time per input). Besides the sanitizers, it checks that IRQ 8
 * follows IRQF in register C and that the line never rises again before C is read or B written.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fake_evloop.h"
#include "irq_recorder.h"
#include "hostvisor/bus.h"
#include "hostvisor/cmos.h"

#define TIME_BUDGET_NS (30ull * 86400 * 1000000000ull)

static const uint16_t ports[] = {0x70, 0x71, 0x71, 0x72, 0x73, 0x6f, 0x74};

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
	struct cmos *cmos;
	uint64_t time_ns, accesses;
};

static void run_advance(struct run *r, uint64_t ns)
{
	if (r->time_ns + ns > TIME_BUDGET_NS)
		ns = TIME_BUDGET_NS - r->time_ns;
	r->time_ns += ns;
	fake_evloop_advance(r->loop, ns);
}

static void run_op(struct run *r, struct input *in)
{
	uint8_t op = (uint8_t)take(in, 1), idx;
	unsigned size = 1u << (op >> 4 & 3);
	uint16_t port;
	uint64_t v;

	switch (op & 15) {
	case 0:
	case 1:
		port = ports[take(in, 1) % (sizeof(ports) / sizeof(ports[0]))];
		bus_write(&r->bus, port, size, take(in, size));
		r->accesses++;
		break;
	case 2:
	case 3:
		port = ports[take(in, 1) % (sizeof(ports) / sizeof(ports[0]))];
		bus_read(&r->bus, port, size, &v);
		r->accesses++;
		break;
	case 4:
	case 5:
		/* mostly the clock's registers; sometimes any index, NMI bit included */
		idx = (uint8_t)take(in, 1);
		bus_write(&r->bus, 0x70, 1, idx < 224 ? idx % 14 : idx < 240 ? 0x32 : idx);
		bus_write(&r->bus, 0x71, 1, take(in, 1));
		r->accesses++;
		break;
	case 6:
	case 7:
		bus_write(&r->bus, 0x70, 1, take(in, 1) & 0x8f);
		bus_read(&r->bus, 0x71, 1, &v);
		r->accesses++;
		break;
	case 8:
		run_advance(r, take(in, 2));
		break;
	case 9:
		run_advance(r, take(in, 2) * 1000);
		break;
	case 10:
		run_advance(r, take(in, 2) * 1000000);
		break;
	case 11:
		run_advance(r, take(in, 2) * 1000000000ull);
		break;
	case 12:
		cmos_nvram_set(r->cmos, (unsigned)take(in, 2) % 300, (uint8_t)take(in, 1));
		r->accesses++;
		break;
	default:
		cmos_nvram_get(r->cmos, (unsigned)take(in, 2) % 300);
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
	r.cmos = cmos_create(r.loop, irq_recorder_line(&r.rec), (time_t)1709214356, 0);
	if (!r.cmos || cmos_attach(r.cmos, &r.bus))
		abort();
	while (in.n) {
		run_op(&r, &in);
		if (!!(cmos_nvram_get(r.cmos, 0x0c) & 0x80) != r.rec.level)
			abort(); /* IRQ 8 must follow IRQF */
	}
	if ((uint64_t)r.rec.raises > r.accesses + 1)
		abort(); /* the line only falls on a C read or a B write */
	cmos_destroy(r.cmos);
	bus_destroy(&r.bus);
	evloop_destroy(r.loop);
	return 0;
}
