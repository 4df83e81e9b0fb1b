/*
 * Intel 8254 PIT and port 0x61 on the fake clock: OUT waveforms and CE readings of every mode at
 * chosen CLK ticks, latch and read-back, BCD, gates, port 0x61, IRQ 0 counts over a simulated
 * second, the rate cap and the late-host policy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "fake_evloop.h"
#include "irq_recorder.h"
#include "hostvisor/bus.h"
#include "hostvisor/pit.h"

#define PORT_C0 0x40
#define PORT_C1 0x41
#define PORT_C2 0x42
#define PORT_CTRL 0x43
#define PORT_NMI_SC 0x61

struct fx {
	struct evloop *loop;
	struct bus bus;
	struct irq_recorder rec;
	struct pit *pit;
	uint64_t epoch;
	/* late-host simulation: stall the clock this long inside the first delivered pulse */
	uint64_t stall_ns;
};

static struct fx *stall_fx;

static void stalling_irq_set(void *opaque, int line, int level)
{
	struct fx *f = opaque;

	irq_recorder_set(&f->rec, line, level);
	if (level && f->stall_ns) {
		uint64_t ns = f->stall_ns;
		f->stall_ns = 0;
		fake_evloop_advance(f->loop, ns);
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = evloop_create();
	assert_non_null(f->loop);
	assert_int_equal(bus_init(&f->bus, "pio"), 0);
	f->epoch = evloop_now_ns(f->loop);
	f->pit = pit_create(f->loop, (struct irq_line){.set = stalling_irq_set, .opaque = f});
	assert_non_null(f->pit);
	assert_int_equal(pit_attach(f->pit, &f->bus), 0);
	stall_fx = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pit_destroy(f->pit);
	bus_destroy(&f->bus);
	evloop_destroy(f->loop);
	free(f);
	return 0;
}

static void outb(struct fx *f, uint16_t port, uint8_t v)
{
	assert_true(bus_write(&f->bus, port, 1, v) >= 0);
}

static uint8_t inb(struct fx *f, uint16_t port)
{
	uint64_t v;

	assert_true(bus_read(&f->bus, port, 1, &v) >= 0);
	return (uint8_t)v;
}

/* The first ns of CLK tick k (the PIT's tick 0 is its creation). */
static uint64_t ns_of_tick(struct fx *f, uint64_t k)
{
	return f->epoch +
	       (uint64_t)(((unsigned __int128)k * 1000000000ull + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ);
}

static uint64_t now_tick(struct fx *f)
{
	return (uint64_t)((unsigned __int128)(evloop_now_ns(f->loop) - f->epoch) * PIT_FREQ_HZ /
			  1000000000ull);
}

static void goto_tick(struct fx *f, uint64_t k)
{
	uint64_t t = ns_of_tick(f, k), now = evloop_now_ns(f->loop);

	assert_true(t >= now);
	fake_evloop_advance(f->loop, t - now);
	assert_int_equal(now_tick(f), k);
}

/* Writes a 16-bit count LSB then MSB. */
static void load16(struct fx *f, uint16_t port, uint16_t count)
{
	outb(f, port, count & 0xff);
	outb(f, port, count >> 8);
}

/* Counter value through a counter latch command, for a counter in LSB-then-MSB mode. */
static uint16_t latched(struct fx *f, unsigned counter)
{
	uint16_t v;

	outb(f, PORT_CTRL, (uint8_t)(counter << 6));
	v = inb(f, (uint16_t)(PORT_C0 + counter));
	return (uint16_t)(v | inb(f, (uint16_t)(PORT_C0 + counter)) << 8);
}

static uint8_t status(struct fx *f, unsigned counter)
{
	outb(f, PORT_CTRL, (uint8_t)(0xe0 | 2u << counter)); /* read-back, status only */
	return inb(f, (uint16_t)(PORT_C0 + counter));
}

static bool out_of(struct fx *f, unsigned counter)
{
	return status(f, counter) & 0x80;
}

static bool null_count(struct fx *f, unsigned counter)
{
	return status(f, counter) & 0x40;
}

/* ---- Mode 0 ---- */

static void test_mode0_waveform(void **state)
{
	struct fx *f = *state;

	goto_tick(f, 100);
	outb(f, PORT_CTRL, 0x30); /* counter 0, LSB/MSB, mode 0, binary */
	assert_false(out_of(f, 0));
	assert_true(null_count(f, 0));
	load16(f, PORT_C0, 10);
	assert_true(null_count(f, 0)); /* loaded on the next CLK */
	goto_tick(f, 101);
	assert_false(null_count(f, 0));
	assert_int_equal(latched(f, 0), 10); /* the loading pulse does not count */
	goto_tick(f, 110);
	assert_int_equal(latched(f, 0), 1);
	assert_false(out_of(f, 0));
	assert_int_equal(f->rec.raises, 0);
	goto_tick(f, 111); /* N + 1 pulses after the write */
	assert_int_equal(latched(f, 0), 0);
	assert_true(out_of(f, 0));
	assert_int_equal(f->rec.raises, 1);
	goto_tick(f, 112);
	assert_int_equal(latched(f, 0), 0xffff); /* wraps and goes on counting */
	assert_true(out_of(f, 0));
	fake_evloop_advance(f->loop, 100000000);
	assert_int_equal(f->rec.raises, 1); /* one interrupt only */
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_mode0_first_byte_stops_counting(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x30);
	load16(f, PORT_C0, 1000);
	goto_tick(f, now_tick(f) + 21);
	assert_int_equal(latched(f, 0), 980);
	outb(f, PORT_C0, 0x05); /* LSB only: counting stops, OUT stays low */
	goto_tick(f, now_tick(f) + 50);
	assert_int_equal(latched(f, 0), 980);
	assert_false(out_of(f, 0));
	outb(f, PORT_C0, 0x00); /* MSB: count 5 loads on the next pulse */
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 5);
	goto_tick(f, now_tick(f) + 5);
	assert_true(out_of(f, 0));
	assert_int_equal(f->rec.raises, 1);
}

static void test_mode0_rewrite_after_terminal_count(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x10); /* counter 0, LSB only, mode 0 */
	outb(f, PORT_C0, 3);
	goto_tick(f, now_tick(f) + 4);
	assert_true(out_of(f, 0));
	assert_int_equal(f->rec.raises, 1);
	outb(f, PORT_C0, 3); /* a new count: OUT low again, a new interrupt */
	assert_false(out_of(f, 0));
	goto_tick(f, now_tick(f) + 4);
	assert_true(out_of(f, 0));
	assert_int_equal(f->rec.raises, 2);
}

static void test_mode0_gate_pauses(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0xb0); /* counter 2, LSB/MSB, mode 0 */
	load16(f, PORT_C2, 100);  /* gate 2 is low: loaded but held */
	t = now_tick(f);
	goto_tick(f, t + 30);
	assert_int_equal(latched(f, 2), 100);
	outb(f, PORT_NMI_SC, 0x01); /* gate high: counts from the next pulse */
	goto_tick(f, t + 40);
	assert_int_equal(latched(f, 2), 90);
	outb(f, PORT_NMI_SC, 0x00);
	goto_tick(f, t + 1000);
	assert_int_equal(latched(f, 2), 90);
	assert_false(inb(f, PORT_NMI_SC) & 0x20);
	outb(f, PORT_NMI_SC, 0x01);
	goto_tick(f, t + 1090);
	assert_int_equal(latched(f, 2), 0);
	assert_true(inb(f, PORT_NMI_SC) & 0x20); /* OUT2 high at terminal count */
	assert_int_equal(f->rec.raises, 0);	 /* counter 2 is not IRQ 0 */
}

/* ---- Mode 1 ---- */

static void test_mode1_one_shot(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0xb2); /* counter 2, LSB/MSB, mode 1 */
	assert_true(out_of(f, 2));
	load16(f, PORT_C2, 5);
	goto_tick(f, now_tick(f) + 10);
	assert_true(out_of(f, 2)); /* no trigger yet */
	assert_true(null_count(f, 2));
	t = now_tick(f);
	outb(f, PORT_NMI_SC, 0x01); /* trigger */
	assert_true(out_of(f, 2));
	goto_tick(f, t + 1);
	assert_false(out_of(f, 2)); /* low on the pulse after the trigger */
	assert_false(null_count(f, 2));
	assert_int_equal(latched(f, 2), 5);
	goto_tick(f, t + 5);
	assert_false(out_of(f, 2));
	assert_int_equal(latched(f, 2), 1);
	goto_tick(f, t + 6);
	assert_true(out_of(f, 2));
	goto_tick(f, t + 8);
	assert_int_equal(latched(f, 2), 0xfffe);
	/* retrigger in the middle of a one-shot restarts it */
	outb(f, PORT_NMI_SC, 0x00);
	outb(f, PORT_NMI_SC, 0x01);
	goto_tick(f, t + 9);
	assert_false(out_of(f, 2));
	goto_tick(f, t + 12);
	outb(f, PORT_NMI_SC, 0x00);
	outb(f, PORT_NMI_SC, 0x01);
	goto_tick(f, t + 17);
	assert_false(out_of(f, 2));
	goto_tick(f, t + 18);
	assert_true(out_of(f, 2));
}

static void test_mode1_counter0_never_triggers(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x32); /* counter 0 gate is tied high: no rising edge */
	load16(f, PORT_C0, 10);
	fake_evloop_advance(f->loop, 1000000);
	assert_true(out_of(f, 0));
	assert_int_equal(f->rec.raises, 1); /* only the control word's mode 0 -> 1 OUT rise */
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

/* ---- Mode 2 ---- */

static void test_mode2_waveform(void **state)
{
	struct fx *f = *state;
	static const uint16_t ce[] = {4, 3, 2, 1, 4, 3, 2, 1, 4};
	static const bool out[] = {1, 1, 1, 0, 1, 1, 1, 0, 1};
	uint64_t t;

	outb(f, PORT_CTRL, 0x30);
	outb(f, PORT_CTRL, 0x34); /* mode 0 -> mode 2: OUT rises at once, an edge */
	assert_int_equal(f->rec.raises, 1);
	load16(f, PORT_C0, 4);
	t = now_tick(f);
	for (unsigned i = 0; i < sizeof(ce) / sizeof(ce[0]); i++) {
		goto_tick(f, t + 1 + i);
		assert_int_equal(latched(f, 0), ce[i]);
		assert_int_equal(out_of(f, 0), out[i]);
	}
	/* edges 3.4 us apart are under the rate cap: IRQ 0 only every 24th pulse (6 periods) */
	assert_int_equal(f->rec.raises, 1);
	goto_tick(f, t + 24);
	assert_int_equal(f->rec.raises, 1);
	goto_tick(f, t + 25);
	assert_int_equal(f->rec.raises, 2);
}

static unsigned count_edges(uint64_t load_tick, uint64_t period, uint64_t end_tick)
{
	return end_tick < load_tick ? 0 : (unsigned)((end_tick - load_tick) / period);
}

static void test_mode2_interrupts_per_second(void **state)
{
	struct fx *f = *state;
	uint64_t load;

	outb(f, PORT_CTRL, 0x34);
	f->rec.raises = 0;
	load16(f, PORT_C0, 11932); /* ~100 Hz */
	load = now_tick(f) + 1;
	fake_evloop_advance(f->loop, 1000000000);
	assert_int_equal(f->rec.raises, count_edges(load, 11932, now_tick(f)));
	assert_true(f->rec.raises >= 99 && f->rec.raises <= 100);
	/* 1 kHz, as Linux programs it: 10 more seconds, no drift */
	outb(f, PORT_CTRL, 0x34);
	f->rec.raises = 0;
	load16(f, PORT_C0, 1193);
	load = now_tick(f) + 1;
	fake_evloop_advance(f->loop, 10000000000ull);
	assert_int_equal(f->rec.raises, count_edges(load, 1193, now_tick(f)));
}

static void test_mode2_new_count_at_cycle_end(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0x34);
	load16(f, PORT_C0, 10);
	t = now_tick(f) + 1; /* load tick */
	goto_tick(f, t + 3);
	assert_int_equal(latched(f, 0), 7);
	load16(f, PORT_C0, 5);
	assert_true(null_count(f, 0));
	goto_tick(f, t + 9);
	assert_int_equal(latched(f, 0), 1); /* current cycle undisturbed */
	assert_true(null_count(f, 0));
	goto_tick(f, t + 10);
	assert_int_equal(latched(f, 0), 5); /* new count from the reload */
	assert_false(null_count(f, 0));
	goto_tick(f, t + 14);
	assert_int_equal(latched(f, 0), 1);
	assert_false(out_of(f, 0));
	goto_tick(f, t + 15);
	assert_int_equal(latched(f, 0), 5);
}

static void test_mode2_gate_synchronises(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_NMI_SC, 0x01);
	outb(f, PORT_CTRL, 0xb4); /* counter 2, mode 2 */
	load16(f, PORT_C2, 10);
	t = now_tick(f) + 1;
	goto_tick(f, t + 9);
	assert_false(inb(f, PORT_NMI_SC) & 0x20); /* OUT2 low while CE = 1 */
	outb(f, PORT_NMI_SC, 0x00);		  /* gate low: OUT high at once */
	assert_true(inb(f, PORT_NMI_SC) & 0x20);
	goto_tick(f, t + 30);
	assert_int_equal(latched(f, 2), 1); /* held */
	outb(f, PORT_NMI_SC, 0x01);	    /* trigger: reload on the next pulse */
	goto_tick(f, t + 31);
	assert_int_equal(latched(f, 2), 10);
	goto_tick(f, t + 40);
	assert_int_equal(latched(f, 2), 1);
}

/* ---- Mode 3 ---- */

static void test_mode3_even(void **state)
{
	struct fx *f = *state;
	static const uint16_t ce[] = {6, 4, 2, 6, 4, 2, 6};
	static const bool out[] = {1, 1, 1, 0, 0, 0, 1};
	uint64_t t;

	outb(f, PORT_CTRL, 0x36);
	load16(f, PORT_C0, 6);
	t = now_tick(f) + 1;
	for (unsigned i = 0; i < sizeof(ce) / sizeof(ce[0]); i++) {
		goto_tick(f, t + i);
		assert_int_equal(latched(f, 0), ce[i]);
		assert_int_equal(out_of(f, 0), out[i]);
	}
}

static void test_mode3_odd(void **state)
{
	struct fx *f = *state;
	/* odd N: high (N+1)/2, low (N-1)/2; -1 then -2 in the high half, -3 then -2 in the low */
	static const uint16_t ce[] = {5, 4, 2, 5, 2, 5, 4, 2};
	static const bool out[] = {1, 1, 1, 0, 0, 1, 1, 1};
	uint64_t t;

	outb(f, PORT_CTRL, 0x36);
	load16(f, PORT_C0, 5);
	t = now_tick(f) + 1;
	for (unsigned i = 0; i < sizeof(ce) / sizeof(ce[0]); i++) {
		goto_tick(f, t + i);
		assert_int_equal(latched(f, 0), ce[i]);
		assert_int_equal(out_of(f, 0), out[i]);
	}
}

static void test_mode3_interrupts_per_second(void **state)
{
	struct fx *f = *state;
	uint64_t load;

	outb(f, PORT_CTRL, 0x36); /* the BIOS setting: mode 3, count 0 = 65536, 18.2 Hz */
	f->rec.raises = 0;
	load16(f, PORT_C0, 0);
	load = now_tick(f) + 1;
	assert_int_equal(latched(f, 0), 0);
	fake_evloop_advance(f->loop, 1000000000);
	assert_int_equal(f->rec.raises, count_edges(load, 65536, now_tick(f)));
	assert_int_equal(f->rec.raises, 18);
}

static void test_mode3_new_count_at_half_cycle(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0x36);
	load16(f, PORT_C0, 8);
	t = now_tick(f) + 1;
	goto_tick(f, t + 1);
	load16(f, PORT_C0, 4); /* takes effect when the high half ends at t + 4 */
	goto_tick(f, t + 3);
	assert_int_equal(latched(f, 0), 2);
	assert_true(out_of(f, 0));
	goto_tick(f, t + 4);
	assert_false(out_of(f, 0));
	assert_int_equal(latched(f, 0), 4); /* low half of the new count */
	goto_tick(f, t + 6);
	assert_true(out_of(f, 0));
	goto_tick(f, t + 8);
	assert_false(out_of(f, 0));
}

/* ---- Modes 4 and 5 ---- */

static void test_mode4_strobe(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0x38);
	assert_int_equal(f->rec.raises, 1); /* mode 0 -> 4: OUT goes high */
	load16(f, PORT_C0, 3);
	t = now_tick(f) + 1;
	goto_tick(f, t + 2);
	assert_true(out_of(f, 0));
	assert_int_equal(latched(f, 0), 1);
	goto_tick(f, t + 3);
	assert_false(out_of(f, 0)); /* low for one pulse, N + 1 after the write */
	assert_int_equal(f->rec.raises, 1);
	goto_tick(f, t + 4);
	assert_true(out_of(f, 0));
	assert_int_equal(f->rec.raises, 2);
	assert_int_equal(latched(f, 0), 0xffff);
	fake_evloop_advance(f->loop, 1000000000);
	assert_int_equal(f->rec.raises, 2);
}

static void test_mode5_hardware_strobe(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0xba); /* counter 2, mode 5 */
	load16(f, PORT_C2, 4);
	goto_tick(f, now_tick(f) + 20);
	assert_true(out_of(f, 2));
	t = now_tick(f);
	outb(f, PORT_NMI_SC, 0x01);
	goto_tick(f, t + 1);
	assert_int_equal(latched(f, 2), 4);
	goto_tick(f, t + 5);
	assert_false(out_of(f, 2));
	goto_tick(f, t + 6);
	assert_true(out_of(f, 2));
}

/* ---- Reading ---- */

static void test_latch_holds_and_second_latch_ignored(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x34);
	load16(f, PORT_C0, 1000);
	goto_tick(f, now_tick(f) + 101);
	outb(f, PORT_CTRL, 0x00);
	goto_tick(f, now_tick(f) + 50);
	outb(f, PORT_CTRL, 0x00); /* ignored: the first latch was not read */
	assert_int_equal(inb(f, PORT_C0), 900 & 0xff);
	goto_tick(f, now_tick(f) + 50);
	assert_int_equal(inb(f, PORT_C0), 900 >> 8);
	/* unlatched: each byte from the live count */
	assert_int_equal(inb(f, PORT_C0) | inb(f, PORT_C0) << 8, 800);
}

static void test_lsb_only_and_msb_only(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x14); /* LSB only, mode 2 */
	outb(f, PORT_C0, 200);
	goto_tick(f, now_tick(f) + 11);
	assert_int_equal(inb(f, PORT_C0), 190);
	assert_int_equal(inb(f, PORT_C0), 190);
	assert_int_equal(status(f, 0) & 0x3f, 0x14);
	outb(f, PORT_CTRL, 0x24); /* MSB only: count = 0x0300 */
	outb(f, PORT_C0, 3);
	goto_tick(f, now_tick(f) + 1);
	outb(f, PORT_CTRL, 0x00);
	goto_tick(f, now_tick(f) + 256);
	assert_int_equal(inb(f, PORT_C0), 0x03); /* latched: one byte releases the latch */
	assert_int_equal(inb(f, PORT_C0), 0x02);
	outb(f, PORT_CTRL, 0x30);
	outb(f, PORT_CTRL, 0x24);
	outb(f, PORT_C0, 3);
	goto_tick(f, now_tick(f) + 257);
	assert_int_equal(inb(f, PORT_C0), 0x02);
}

static void test_read_back(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x34);
	load16(f, PORT_C0, 0x1234);
	outb(f, PORT_CTRL, 0x76); /* counter 1: LSB/MSB, mode 3 */
	load16(f, PORT_C1, 0x0100);
	goto_tick(f, now_tick(f) + 17);
	outb(f, PORT_CTRL, 0xc6); /* latch count and status of counters 0 and 1 */
	goto_tick(f, now_tick(f) + 100);
	assert_int_equal(inb(f, PORT_C0), 0xb4); /* status first: OUT, RW=3, mode 2, binary */
	assert_int_equal(inb(f, PORT_C0), (0x1234 - 16) & 0xff);
	assert_int_equal(inb(f, PORT_C0), (0x1234 - 16) >> 8);
	assert_int_equal(inb(f, PORT_C1), 0xb6);
	assert_int_equal(inb(f, PORT_C1), (0x100 - 32) & 0xff);
	assert_int_equal(inb(f, PORT_C1), 0x00);
	/* count only */
	outb(f, PORT_CTRL, 0xd2);
	assert_int_equal(inb(f, PORT_C0) | inb(f, PORT_C0) << 8, 0x1234 - 116);
	/* status latched twice: the second is ignored; status then count when both latched */
	outb(f, PORT_CTRL, 0xe2);
	goto_tick(f, now_tick(f) + 0x1234);
	outb(f, PORT_CTRL, 0xe2);
	outb(f, PORT_CTRL, 0x00);
	assert_int_equal(inb(f, PORT_C0), 0xb4);
	assert_int_equal(inb(f, PORT_C0), (0x1234 - 116) & 0xff);
	assert_int_equal(inb(f, PORT_C0), (0x1234 - 116) >> 8);
	/* null count right after a count is written, and mode 6 reads back as written */
	outb(f, PORT_CTRL, 0x3c); /* mode 6 = mode 2 */
	assert_int_equal(status(f, 0), 0x80 | 0x40 | 0x3c);
	load16(f, PORT_C0, 100);
	assert_int_equal(status(f, 0) & 0x40, 0x40);
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(status(f, 0), 0x80 | 0x3c);
	goto_tick(f, now_tick(f) + 98);
	assert_int_equal(status(f, 0), 0x80 | 0x3c); /* CE = 2 */
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(status(f, 0), 0x3c); /* CE = 1: OUT low */
}

static void test_bcd(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x31); /* mode 0, BCD */
	load16(f, PORT_C0, 0x0010);
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 0x0010);
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 0x0009);
	goto_tick(f, now_tick(f) + 9);
	assert_int_equal(latched(f, 0), 0x0000);
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 0x9999); /* BCD wraps to 9999 */
	assert_int_equal(status(f, 0) & 1, 1);
	/* 0 is 10000 in BCD */
	outb(f, PORT_CTRL, 0x35); /* mode 2, BCD */
	load16(f, PORT_C0, 0x0000);
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 0x0000);
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 0x9999);
	goto_tick(f, now_tick(f) + 4321);
	assert_int_equal(latched(f, 0), 0x5678);
	f->rec.raises = 0;
	fake_evloop_advance(f->loop, 1000000000);
	assert_true(f->rec.raises >= 119 && f->rec.raises <= 120); /* 1193182 / 10000 */
	/* hostile: non-BCD digits do not leave the 0..10000 range */
	outb(f, PORT_CTRL, 0x35);
	load16(f, PORT_C0, 0xffff);
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 0x6665); /* 16665 mod 10000 */
	goto_tick(f, now_tick(f) + 6665);
	assert_int_equal(latched(f, 0), 0x6665);
}

static void test_binary_count_zero_is_65536(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0x30);
	load16(f, PORT_C0, 0);
	t = now_tick(f) + 1;
	goto_tick(f, t);
	assert_int_equal(latched(f, 0), 0);
	goto_tick(f, t + 1);
	assert_int_equal(latched(f, 0), 0xffff);
	goto_tick(f, t + 65535);
	assert_false(out_of(f, 0));
	goto_tick(f, t + 65536);
	assert_true(out_of(f, 0));
	assert_int_equal(f->rec.raises, 1);
}

static void test_gate_edge_cases(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	/* a gate edge before any count is written does nothing */
	outb(f, PORT_CTRL, 0xb2); /* mode 1 */
	outb(f, PORT_NMI_SC, 0x01);
	goto_tick(f, now_tick(f) + 5);
	assert_true(out_of(f, 2));
	assert_true(null_count(f, 2));
	outb(f, PORT_NMI_SC, 0x00);
	outb(f, PORT_CTRL, 0xb0); /* mode 0 */
	outb(f, PORT_NMI_SC, 0x01);
	outb(f, PORT_NMI_SC, 0x00);
	assert_false(out_of(f, 2));
	assert_true(null_count(f, 2));
	/* mode 2: a count written while the gate is low waits for the trigger */
	outb(f, PORT_NMI_SC, 0x01);
	outb(f, PORT_CTRL, 0xb4);
	load16(f, PORT_C2, 10);
	goto_tick(f, now_tick(f) + 4);
	outb(f, PORT_NMI_SC, 0x00);
	load16(f, PORT_C2, 20);
	goto_tick(f, now_tick(f) + 50);
	assert_true(null_count(f, 2));
	assert_int_equal(latched(f, 2), 7);
	t = now_tick(f);
	outb(f, PORT_NMI_SC, 0x01);
	goto_tick(f, t + 1);
	assert_false(null_count(f, 2));
	assert_int_equal(latched(f, 2), 20);
	/* a pending count dropped by gate low is loaded by the next trigger instead */
	load16(f, PORT_C2, 30);
	assert_true(null_count(f, 2));
	outb(f, PORT_NMI_SC, 0x00);
	goto_tick(f, t + 100);
	assert_true(null_count(f, 2));
	outb(f, PORT_NMI_SC, 0x01);
	goto_tick(f, t + 101);
	assert_int_equal(latched(f, 2), 30);
	goto_tick(f, t + 131);
	assert_int_equal(latched(f, 2), 30);
}

/* ---- Port 0x61 ---- */

static void test_port61(void **state)
{
	struct fx *f = *state;
	uint64_t now;
	uint8_t v, v2;

	outb(f, PORT_NMI_SC, 0xff);
	v = inb(f, PORT_NMI_SC);
	assert_int_equal(v & 0xcf, 0x0f); /* bits 0-3 stored, 6-7 read 0 */
	outb(f, PORT_NMI_SC, 0x0a);
	assert_int_equal(inb(f, PORT_NMI_SC) & 0x0f, 0x0a);
	/* refresh toggle: flips every 15.085 us */
	now = evloop_now_ns(f->loop) - f->epoch;
	fake_evloop_advance(f->loop, 15085 - now % 15085 + 100); /* into the next half */
	v = inb(f, PORT_NMI_SC) & 0x10;
	fake_evloop_advance(f->loop, 15085);
	v2 = inb(f, PORT_NMI_SC) & 0x10;
	assert_int_not_equal(v, v2);
	fake_evloop_advance(f->loop, 15085);
	assert_int_equal(inb(f, PORT_NMI_SC) & 0x10, v);
	fake_evloop_advance(f->loop, 7000);
	assert_int_equal(inb(f, PORT_NMI_SC) & 0x10, v);
	/* OUT2: speaker square wave on counter 2, started by the gate */
	outb(f, PORT_CTRL, 0xb6);
	load16(f, PORT_C2, 4);
	outb(f, PORT_NMI_SC, 0x03);
	goto_tick(f, now_tick(f) + 1);
	assert_true(inb(f, PORT_NMI_SC) & 0x20);
	goto_tick(f, now_tick(f) + 2);
	assert_false(inb(f, PORT_NMI_SC) & 0x20);
	goto_tick(f, now_tick(f) + 2);
	assert_true(inb(f, PORT_NMI_SC) & 0x20);
	/* a wide access reaches 0x61 only */
	uint64_t w;
	bus_read(&f->bus, PORT_NMI_SC, 2, &w);
	assert_int_equal(w >> 8, 0xff);
}

/* ---- IRQ 0 pacing ---- */

static void test_rate_cap(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	outb(f, PORT_CTRL, 0x34);
	f->rec.raises = 0;
	load16(f, PORT_C0, 2); /* 596 kHz asked for */
	t = now_tick(f) + 1;
	fake_evloop_advance(f->loop, 10000000); /* 10 ms: every 24th pulse, 20.1 us apart */
	assert_int_equal(f->rec.raises, count_edges(t, 24, now_tick(f)));
	assert_true(f->rec.raises >= 490 && f->rec.raises <= 500);
	/* reads stay exact */
	goto_tick(f, now_tick(f) + 1 + (now_tick(f) + 1 - t) % 2);
	assert_int_equal(latched(f, 0), 2);
	assert_true(out_of(f, 0));
	goto_tick(f, now_tick(f) + 1);
	assert_int_equal(latched(f, 0), 1);
	assert_false(out_of(f, 0));
	/* count 1 (below the minimum) and mode 3 are capped the same */
	outb(f, PORT_CTRL, 0x36);
	f->rec.raises = 0;
	load16(f, PORT_C0, 1);
	fake_evloop_advance(f->loop, 10000000);
	assert_true(f->rec.raises >= 490 && f->rec.raises <= 500);
	assert_true(out_of(f, 0));
	assert_int_equal(latched(f, 0), 1);
}

static void test_late_host_skips_missed_periods(void **state)
{
	struct fx *f = *state;

	outb(f, PORT_CTRL, 0x34);
	f->rec.raises = 0;
	load16(f, PORT_C0, 1193); /* 1 kHz */
	f->stall_ns = 50000000;	  /* the host stalls 50 ms while delivering the first pulse */
	fake_evloop_advance(f->loop, 1000000000);
	/* ~1000 edges; the ~49 that fell in the stall are one interrupt, not a burst */
	assert_true(f->rec.raises >= 945 && f->rec.raises <= 955);
}

static void test_reset_and_hostile_accesses(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	outb(f, PORT_CTRL, 0x34);
	load16(f, PORT_C0, 100);
	pit_reset(f->pit);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
	assert_int_equal(status(f, 0), 0x40 | 0x30);
	assert_int_equal(inb(f, PORT_CTRL), 0xff); /* write-only */
	/* wide accesses are split into byte accesses to consecutive ports */
	bus_write(&f->bus, PORT_CTRL, 4, 0xffffff34);
	bus_write(&f->bus, PORT_C0, 2, 0x0010); /* LSB 0x10 to 0x40, 0x00 to 0x41 */
	goto_tick(f, now_tick(f) + 1);
	bus_read(&f->bus, PORT_C0, 8, &v);
	assert_int_equal(v >> 24, 0xffffffffffull); /* 0x43 and beyond read 0xff */
	bus_write(&f->bus, PORT_CTRL, 8, ~0ull);
	bus_read(&f->bus, PORT_C1, 4, &v);
	for (unsigned i = 0; i < 256; i++)
		outb(f, PORT_CTRL, (uint8_t)i);
	for (unsigned i = 0; i < 300; i++)
		outb(f, (uint16_t)(PORT_C0 + i % 3), (uint8_t)(i * 37));
	fake_evloop_advance(f->loop, 100000000);
	assert_true(f->rec.raises < 100000000 / 20000 + 600);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_mode0_waveform, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode0_first_byte_stops_counting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode0_rewrite_after_terminal_count, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_mode0_gate_pauses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode1_one_shot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode1_counter0_never_triggers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode2_waveform, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode2_interrupts_per_second, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode2_new_count_at_cycle_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode2_gate_synchronises, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode3_even, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode3_odd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode3_interrupts_per_second, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode3_new_count_at_half_cycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode4_strobe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mode5_hardware_strobe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_latch_holds_and_second_latch_ignored, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_lsb_only_and_msb_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bcd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binary_count_zero_is_65536, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gate_edge_cases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_port61, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_cap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_late_host_skips_missed_periods, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_and_hostile_accesses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
