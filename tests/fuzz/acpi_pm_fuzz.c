/*
 * libFuzzer harness for the ACPI fixed hardware (src/dev/acpi_pm.c). The input is a sequence of
 * operations on a fresh device with a fake clock, dispatched through a real port bus: reads and
 * writes of every size at and around each register block, clock advances (small and very
 * large), power button presses and resets. After each operation the harness checks that the SCI
 * level is exactly "an enabled status bit is set" and that the PM timer stays within 24 bits.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_evloop.h"
#include "hostvisor/acpi_pm.h"
#include "hostvisor/bus.h"
#include "irq_recorder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PM1_SCI_BITS 0x0721 /* TMR, GBL, PWRBTN, SLPBTN, RTC */

struct harness {
	struct evloop *loop;
	struct bus pio;
	struct irq_recorder sci;
	struct acpi_pm *pm;
	int poweroffs, resets;
};

static void on_poweroff(void *opaque)
{
	struct harness *h = opaque;

	h->poweroffs++;
}

static void on_reset(void *opaque)
{
	struct harness *h = opaque;

	/* The platform resets every device from this callback. */
	h->resets++;
	acpi_pm_reset(h->pm);
}

static const struct acpi_pm_ops ops = {.poweroff = on_poweroff, .reset = on_reset};

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

/* A port at or just around one of the blocks (including bytes past each block's end). */
static uint16_t pick_port(uint8_t b)
{
	static const uint16_t bases[] = {ACPI_PM1A_EVT_BLK, ACPI_PM1A_CNT_BLK, ACPI_PM_TMR_BLK,
					 ACPI_GPE0_BLK, ACPI_RESET_PORT - 1};

	return (uint16_t)(bases[(b >> 4) % 5] + (b & 0x0f) % 10);
}

static unsigned access_size(uint8_t b)
{
	static const unsigned sizes[] = {1, 2, 4, 8};

	return sizes[b & 3];
}

static void check_invariants(struct harness *h)
{
	uint64_t sts, en, gpe_sts, gpe_en, cnt, tmr;

	bus_read(&h->pio, ACPI_PM1A_EVT_BLK, 2, &sts);
	bus_read(&h->pio, ACPI_PM1A_EVT_BLK + 2, 2, &en);
	bus_read(&h->pio, ACPI_GPE0_BLK, 4, &gpe_sts);
	bus_read(&h->pio, ACPI_GPE0_BLK + 4, 4, &gpe_en);
	bus_read(&h->pio, ACPI_PM1A_CNT_BLK, 2, &cnt);
	bus_read(&h->pio, ACPI_PM_TMR_BLK, 4, &tmr);
	bool want = (sts & en & PM1_SCI_BITS) || (gpe_sts & gpe_en);
	if (want != (h->sci.level != 0))
		__builtin_trap();
	if (!(cnt & 1) || (cnt & 0x2000)) /* SCI_EN reads 1, SLP_EN reads 0 */
		__builtin_trap();
	if (tmr >> 24)
		__builtin_trap();
}

static void run_op(struct harness *h, struct input *in)
{
	uint8_t op = next_byte(in);
	uint64_t v = 0;

	switch (op % 6) {
	case 0:
		bus_read(&h->pio, pick_port(next_byte(in)), access_size(op >> 4), &v);
		break;
	case 1:
	case 2: {
		uint16_t port = pick_port(next_byte(in));
		unsigned sz = access_size(op >> 4);
		for (unsigned i = 0; i < sz; i++)
			v |= (uint64_t)next_byte(in) << (8 * i);
		bus_write(&h->pio, port, sz, v);
		break;
	}
	case 3: { /* advance the clock: up to 2^32 ns shifted left by up to 15 bits (about 39 hours) */
		uint32_t ns = 0;
		for (int i = 0; i < 4; i++)
			ns |= (uint32_t)next_byte(in) << (8 * i);
		fake_evloop_advance(h->loop, (uint64_t)ns << ((op >> 4) & 0x0f));
		break;
	}
	case 4:
		acpi_pm_power_button(h->pm);
		break;
	case 5:
		acpi_pm_reset(h->pm);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness h = {0};
	struct input in = {data, size};

	h.loop = evloop_create();
	if (!h.loop)
		return 0;
	if (bus_init(&h.pio, "pio")) {
		evloop_destroy(h.loop);
		return 0;
	}
	h.pm = acpi_pm_create(h.loop, irq_recorder_line(&h.sci), &ops, &h);
	if (h.pm && acpi_pm_attach(h.pm, &h.pio) == 0) {
		for (int n = 0; in.left && n < 4096; n++) {
			run_op(&h, &in);
			check_invariants(&h);
		}
	}
	acpi_pm_destroy(h.pm);
	bus_destroy(&h.pio);
	evloop_destroy(h.loop);
	return 0;
}
