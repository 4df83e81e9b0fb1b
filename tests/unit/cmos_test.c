/*
 * MC146818A RTC and CMOS RAM on the fake clock: a known base time read in BCD, binary and
 * 12-hour formats, UIP timing, SET and write-back, day of week, century roll-over, alarm,
 * periodic and update-ended interrupts with register C clearing, divider reset, NVRAM banks and
 * hostile register values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "fake_evloop.h"
#include "irq_recorder.h"
#include "hostvisor/bus.h"
#include "hostvisor/cmos.h"

/* 2024-02-29 13:45:56 UTC, a Thursday (day of week 5 with Sunday = 1). */
#define BASE_UTC 1709214356

#define SEC 1000000000ull
#define MS 1000000ull
#define US 1000ull

enum {
	R_SEC = 0x00,
	R_SEC_ALARM = 0x01,
	R_MIN = 0x02,
	R_MIN_ALARM = 0x03,
	R_HOUR = 0x04,
	R_HOUR_ALARM = 0x05,
	R_DOW = 0x06,
	R_MDAY = 0x07,
	R_MON = 0x08,
	R_YEAR = 0x09,
	R_A = 0x0a,
	R_B = 0x0b,
	R_C = 0x0c,
	R_D = 0x0d,
	R_CENTURY = 0x32,
};

struct fx {
	struct evloop *loop;
	struct bus bus;
	struct irq_recorder rec;
	struct cmos *cmos;
	uint64_t origin; /* second boundaries fall on origin + k s */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = evloop_create();
	assert_non_null(f->loop);
	assert_int_equal(bus_init(&f->bus, "pio"), 0);
	f->origin = evloop_now_ns(f->loop);
	f->cmos = cmos_create(f->loop, irq_recorder_line(&f->rec), BASE_UTC, 0);
	assert_non_null(f->cmos);
	assert_int_equal(cmos_attach(f->cmos, &f->bus), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	cmos_destroy(f->cmos);
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

static uint8_t rd(struct fx *f, uint8_t idx)
{
	outb(f, 0x70, idx);
	return inb(f, 0x71);
}

static void wr(struct fx *f, uint8_t idx, uint8_t v)
{
	outb(f, 0x70, idx);
	outb(f, 0x71, v);
}

static void advance(struct fx *f, uint64_t ns)
{
	fake_evloop_advance(f->loop, ns);
}

/* To the next second boundary: the update has just happened. */
static void goto_boundary(struct fx *f)
{
	uint64_t into = (evloop_now_ns(f->loop) - f->origin) % SEC;

	advance(f, SEC - into);
}

/* Sets the time with SET held, from BCD (or binary) register values. */
static void set_time(struct fx *f, const uint8_t v[8])
{
	static const uint8_t regs[8] = {R_SEC,	R_MIN, R_HOUR, R_DOW,
					R_MDAY, R_MON, R_YEAR, R_CENTURY};

	wr(f, R_B, rd(f, R_B) | 0x80);
	for (int i = 0; i < 8; i++)
		wr(f, regs[i], v[i]);
	wr(f, R_B, rd(f, R_B) & 0x7f);
}

static void expect_time(struct fx *f, const uint8_t v[8])
{
	static const uint8_t regs[8] = {R_SEC,	R_MIN, R_HOUR, R_DOW,
					R_MDAY, R_MON, R_YEAR, R_CENTURY};

	for (int i = 0; i < 8; i++)
		assert_int_equal(rd(f, regs[i]), v[i]);
}

/* Steps the clock for `ns`, reading register C whenever IRQ 8 is up; returns the interrupts. */
static int count_interrupts(struct fx *f, uint64_t ns, uint64_t step, uint8_t expect_c)
{
	int n = 0;

	for (uint64_t t = 0; t < ns; t += step) {
		advance(f, step);
		if (f->rec.level) {
			n++;
			assert_int_equal(rd(f, R_C) & expect_c, expect_c);
			assert_int_equal(f->rec.level, 0);
		}
	}
	return n;
}

/* ---- Reading the time ---- */

static void test_base_time_bcd(void **state)
{
	struct fx *f = *state;
	static const uint8_t t[8] = {0x56, 0x45, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20};

	expect_time(f, t);
	assert_int_equal(rd(f, R_A), 0x26);
	assert_int_equal(rd(f, R_B), 0x02);
	assert_int_equal(rd(f, R_C), 0x00);
	assert_int_equal(rd(f, R_D), 0x80);
	advance(f, 4 * SEC);
	assert_int_equal(rd(f, R_SEC), 0x00);
	assert_int_equal(rd(f, R_MIN), 0x46);
}

/* Created 0.999 s into a host second: the seconds turn 1 ms later, with the host's. */
static void test_base_phase(void **state)
{
	struct fx *f = *state;
	struct cmos *c;

	advance(f, 5 * SEC); /* the fake clock stands well past 1 s */
	c = cmos_create(f->loop, irq_recorder_line(&f->rec), BASE_UTC, 999000000L);
	assert_non_null(c);
	cmos_destroy(f->cmos);
	f->cmos = c;
	bus_destroy(&f->bus);
	assert_int_equal(bus_init(&f->bus, "pio"), 0);
	assert_int_equal(cmos_attach(f->cmos, &f->bus), 0);
	assert_int_equal(rd(f, R_SEC), 0x56);
	advance(f, 999000);
	assert_int_equal(rd(f, R_SEC), 0x56);
	advance(f, 1000);
	assert_int_equal(rd(f, R_SEC), 0x57);
	advance(f, SEC - 1);
	assert_int_equal(rd(f, R_SEC), 0x57);
	advance(f, 1);
	assert_int_equal(rd(f, R_SEC), 0x58);
}

static void test_binary_and_12_hour(void **state)
{
	struct fx *f = *state;
	static const uint8_t bin[8] = {56, 45, 13, 5, 29, 2, 24, 20};
	static const uint8_t midnight[8] = {0x00, 0x30, 0x00, 0x01, 0x03, 0x03, 0x24, 0x20};
	static const uint8_t noon[8] = {0x00, 0x30, 0x12, 0x01, 0x03, 0x03, 0x24, 0x20};

	wr(f, R_B, 0x06); /* binary, 24 h */
	expect_time(f, bin);
	wr(f, R_B, 0x04); /* binary, 12 h: 1 PM */
	assert_int_equal(rd(f, R_HOUR), 0x81);
	wr(f, R_B, 0x00); /* BCD, 12 h */
	assert_int_equal(rd(f, R_HOUR), 0x81);
	wr(f, R_B, 0x02);
	set_time(f, midnight);
	wr(f, R_B, 0x00);
	assert_int_equal(rd(f, R_HOUR), 0x12); /* 12 AM */
	wr(f, R_B, 0x02);
	set_time(f, noon);
	wr(f, R_B, 0x00);
	assert_int_equal(rd(f, R_HOUR), 0x92); /* 12 PM */
	/* writing in 12-hour mode: 11 PM */
	wr(f, R_B, 0x80);
	wr(f, R_HOUR, 0x91);
	wr(f, R_B, 0x00);
	assert_int_equal(rd(f, R_HOUR), 0x91);
	wr(f, R_B, 0x02);
	assert_int_equal(rd(f, R_HOUR), 0x23);
	/* binary 12 h: 12 AM is 12 */
	set_time(f, midnight);
	wr(f, R_B, 0x04);
	assert_int_equal(rd(f, R_HOUR), 12);
}

static void test_update_in_progress(void **state)
{
	struct fx *f = *state;

	advance(f, SEC - 300 * US);
	assert_int_equal(rd(f, R_A) & 0x80, 0);
	advance(f, 100 * US); /* 200 us before the update: within the 244 us warning */
	assert_int_equal(rd(f, R_A), 0x80 | 0x26);
	assert_int_equal(rd(f, R_SEC), 0x56);
	wr(f, R_A, 0xa6); /* UIP is read-only */
	assert_int_equal(rd(f, R_A), 0xa6 | 0x80);
	wr(f, R_A, 0x26);
	wr(f, R_B, 0x82); /* SET clears UIP */
	assert_int_equal(rd(f, R_A), 0x26);
	wr(f, R_B, 0x02);
	advance(f, 200 * US);
	assert_int_equal(rd(f, R_A), 0x26);
	assert_int_equal(rd(f, R_SEC), 0x57);
	advance(f, SEC - 245 * US);
	assert_int_equal(rd(f, R_A), 0x26);
	advance(f, 2 * US);
	assert_int_equal(rd(f, R_A), 0xa6);
}

/* ---- Setting the time ---- */

static void test_set_freezes_and_writes_back(void **state)
{
	struct fx *f = *state;
	static const uint8_t t[8] = {0x10, 0x20, 0x08, 0x02, 0x15, 0x06, 0x25, 0x20};
	static const uint8_t t1[8] = {0x11, 0x20, 0x08, 0x02, 0x15, 0x06, 0x25, 0x20};

	wr(f, R_B, 0x12);
	wr(f, R_B, 0x92); /* SET going high clears UIE */
	assert_int_equal(rd(f, R_B), 0x82);
	advance(f, 5 * SEC);
	assert_int_equal(rd(f, R_SEC), 0x56);	/* frozen */
	assert_int_equal(rd(f, R_C) & 0x10, 0); /* no update cycles */
	wr(f, R_SEC, 0x10);
	wr(f, R_MIN, 0x20);
	wr(f, R_HOUR, 0x08);
	wr(f, R_DOW, 0x02);
	wr(f, R_MDAY, 0x15);
	wr(f, R_MON, 0x06);
	wr(f, R_YEAR, 0x25);
	advance(f, 3 * SEC);
	expect_time(f, t);
	goto_boundary(f);
	wr(f, R_B, 0x02);
	advance(f, SEC - 1);
	expect_time(f, t);
	advance(f, 1);
	expect_time(f, t1);
	/* a write while the clock runs sets that field and the clock goes on from there */
	wr(f, R_MIN, 0x59);
	advance(f, 49 * SEC);
	assert_int_equal(rd(f, R_SEC), 0x00);
	assert_int_equal(rd(f, R_MIN), 0x00);
	assert_int_equal(rd(f, R_HOUR), 0x09);
}

static void test_day_of_week_and_century(void **state)
{
	struct fx *f = *state;
	/* 2024-03-03 was a Sunday (1); the guest says 3, and it is its business */
	static const uint8_t t[8] = {0x58, 0x59, 0x23, 0x03, 0x03, 0x03, 0x24, 0x20};
	static const uint8_t end[8] = {0x59, 0x59, 0x23, 0x05, 0x31, 0x12, 0x99, 0x20};
	static const uint8_t next[8] = {0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00, 0x21};
	static const uint8_t junk_dow[8] = {0x59, 0x59, 0x23, 0x09, 0x01, 0x01, 0x00, 0x21};

	goto_boundary(f);
	set_time(f, t);
	advance(f, SEC);
	assert_int_equal(rd(f, R_DOW), 0x03);
	advance(f, SEC);
	assert_int_equal(rd(f, R_MDAY), 0x04);
	assert_int_equal(rd(f, R_DOW), 0x04);
	advance(f, 7 * 86400 * SEC);
	assert_int_equal(rd(f, R_DOW), 0x04);
	assert_int_equal(rd(f, R_MDAY), 0x11);
	/* 2099-12-31 23:59:59 -> 2100-01-01 00:00:00 */
	set_time(f, end);
	advance(f, SEC);
	expect_time(f, next);
	/* a day of week out of range stays as written, then wraps to 1 at midnight */
	set_time(f, junk_dow);
	assert_int_equal(rd(f, R_DOW), 0x09);
	advance(f, SEC);
	assert_int_equal(rd(f, R_DOW), 0x01);
}

/* ---- Interrupts ---- */

static void test_alarm(void **state)
{
	struct fx *f = *state;

	wr(f, R_A, 0x20); /* no periodic flag, to see the others alone */
	wr(f, R_SEC_ALARM, 0x00);
	wr(f, R_MIN_ALARM, 0x46);
	wr(f, R_HOUR_ALARM, 0x13);
	wr(f, R_B, 0x22); /* AIE */
	advance(f, 3 * SEC + 500 * MS);
	assert_int_equal(f->rec.raises, 0);
	assert_int_equal(rd(f, R_C), 0x10); /* UF without UIE: no IRQF */
	advance(f, 500 * MS - 1);
	assert_int_equal(f->rec.raises, 0);
	advance(f, 1); /* 13:46:00 */
	assert_int_equal(f->rec.raises, 1);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(rd(f, R_C), 0xb0); /* IRQF | AF | UF */
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(rd(f, R_C), 0x00);
	advance(f, 3600 * SEC);
	assert_int_equal(f->rec.raises, 1);
	/* "don't care" hours and minutes: every hour at :00 seconds of minute 46 */
	wr(f, R_HOUR_ALARM, 0xc0);
	rd(f, R_C);
	advance(f, 3600 * SEC);
	assert_int_equal(f->rec.raises, 2);
	/* all don't care: every second */
	wr(f, R_SEC_ALARM, 0xff);
	wr(f, R_MIN_ALARM, 0xff);
	rd(f, R_C);
	assert_int_equal(count_interrupts(f, 10 * SEC, 100 * MS, 0xa0), 10);
	/* a 12-hour alarm compares the PM bit too */
	wr(f, R_B, 0x20);
	wr(f, R_SEC_ALARM, 0xff);
	wr(f, R_MIN_ALARM, 0xff);
	wr(f, R_HOUR_ALARM, 0x02); /* 2 AM: no match at 3 PM */
	rd(f, R_C);
	assert_int_equal(count_interrupts(f, 5 * SEC, 100 * MS, 0xa0), 0);
	wr(f, R_HOUR_ALARM, (uint8_t)(rd(f, R_HOUR)));
	rd(f, R_C);
	assert_int_equal(count_interrupts(f, 5 * SEC, 100 * MS, 0xa0), 5);
	/* an alarm that can never match arms nothing */
	wr(f, R_SEC_ALARM, 0x75);
	rd(f, R_C);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_periodic_1024hz(void **state)
{
	struct fx *f = *state;

	goto_boundary(f);
	assert_int_equal(rd(f, R_C), 0x50); /* PF and UF are set without their enables */
	wr(f, R_B, 0x42);		    /* PIE */
	assert_int_equal(count_interrupts(f, SEC, 100 * US, 0xc0), 1024);
	/* 8192 Hz, the fastest rate */
	wr(f, R_A, 0x23);
	rd(f, R_C);
	assert_int_equal(count_interrupts(f, SEC, 10 * US, 0xc0), 8192);
	/* 2 Hz for 10 s: on the divider's grid, no drift */
	wr(f, R_A, 0x2f);
	rd(f, R_C);
	assert_int_equal(count_interrupts(f, 10 * SEC, 10 * MS, 0xc0), 20);
	/* rate 1 is 256 Hz with a 32.768 kHz time base; rate 0 is off */
	wr(f, R_A, 0x21);
	rd(f, R_C);
	assert_int_equal(count_interrupts(f, SEC, 100 * US, 0xc0), 256);
	wr(f, R_A, 0x20);
	rd(f, R_C);
	assert_int_equal(count_interrupts(f, SEC, 100 * US, 0xc0), 0);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_update_ended(void **state)
{
	struct fx *f = *state;

	rd(f, R_C);
	wr(f, R_B, 0x12); /* UIE */
	assert_int_equal(count_interrupts(f, 10 * SEC, 50 * MS, 0x90), 10);
}

static void test_irq_held_until_c_is_read(void **state)
{
	struct fx *f = *state;

	wr(f, R_B, 0x52); /* PIE and UIE: the guest never reads C */
	advance(f, 5 * SEC);
	assert_int_equal(f->rec.raises, 1);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(fake_evloop_pending(f->loop), 0); /* no wake-ups while IRQF is set */
	assert_int_equal(rd(f, R_C), 0xd0);
	assert_int_equal(f->rec.level, 0);
	assert_int_not_equal(fake_evloop_pending(f->loop), 0);
	advance(f, 977 * US);
	assert_int_equal(f->rec.raises, 2); /* one, not a burst for what was missed */
	/* enabling an interrupt whose flag is already set raises IRQ 8 at once */
	wr(f, R_B, 0x02);
	rd(f, R_C);
	advance(f, SEC);
	assert_int_equal(f->rec.level, 0);
	wr(f, R_B, 0x12);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(f->rec.raises, 3);
	/* disabling it again drops the line (IRQF follows the enables) */
	wr(f, R_B, 0x02);
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(cmos_nvram_get(f->cmos, R_C), 0x50); /* peeking does not clear */
	assert_int_equal(rd(f, R_C), 0x50);
}

static void test_divider_reset(void **state)
{
	struct fx *f = *state;

	advance(f, 300 * MS);
	rd(f, R_C);
	wr(f, R_B, 0x42);
	wr(f, R_A, 0x76); /* divider chain in reset: the clock and periodic stop */
	advance(f, 3 * SEC);
	assert_int_equal(rd(f, R_SEC), 0x56);
	assert_int_equal(rd(f, R_C), 0x00);
	assert_int_equal(f->rec.raises, 0);
	wr(f, R_SEC, 0x30); /* stopped: plain storage */
	wr(f, R_A, 0x26);   /* released: first update half a second later */
	advance(f, 500 * MS - 1);
	assert_int_equal(rd(f, R_SEC), 0x30);
	rd(f, R_C);
	advance(f, 1);
	assert_int_equal(rd(f, R_SEC), 0x31);
	advance(f, SEC);
	assert_int_equal(rd(f, R_SEC), 0x32);
	/* other time bases do not run the clock either */
	wr(f, R_A, 0x06);
	advance(f, 2 * SEC);
	assert_int_equal(rd(f, R_SEC), 0x32);
}

/* ---- RAM and ports ---- */

static void test_nvram_banks(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != R_CENTURY)
			wr(f, (uint8_t)i, (uint8_t)(i ^ 0xa5));
	for (unsigned i = 0; i < 0x80; i++) {
		outb(f, 0x72, (uint8_t)i);
		outb(f, 0x73, (uint8_t)(i ^ 0x5a));
	}
	for (unsigned i = 0x0e; i < 0x80; i++)
		if (i != R_CENTURY)
			assert_int_equal(rd(f, (uint8_t)i), i ^ 0xa5);
	for (unsigned i = 0; i < 0x80; i++) {
		outb(f, 0x72, (uint8_t)(i | 0x80)); /* bit 7 of the upper index is ignored */
		assert_int_equal(inb(f, 0x73), i ^ 0x5a);
		assert_int_equal(cmos_nvram_get(f->cmos, 0x80 + i), i ^ 0x5a);
	}
	/* the NMI mask bit does not change the index */
	outb(f, 0x70, 0x80 | 0x10);
	assert_int_equal(inb(f, 0x71), 0x10 ^ 0xa5);
	assert_int_equal(inb(f, 0x70), 0xff); /* index ports are write-only */
	/* the platform's accessors */
	cmos_nvram_set(f->cmos, 0x15, 0x80);
	cmos_nvram_set(f->cmos, 0x16, 0x02);
	cmos_nvram_set(f->cmos, 0xfe, 0x77);
	cmos_nvram_set(f->cmos, 4096, 0x77); /* out of range: ignored */
	assert_int_equal(rd(f, 0x15), 0x80);
	assert_int_equal(cmos_nvram_get(f->cmos, 0x16), 0x02);
	assert_int_equal(cmos_nvram_get(f->cmos, 0xfe), 0x77);
	assert_int_equal(cmos_nvram_get(f->cmos, 4096), 0xff);
	assert_int_equal(cmos_nvram_get(f->cmos, R_SEC), 0x56);
	assert_int_equal(cmos_nvram_get(f->cmos, R_CENTURY), 0x20);
	/* a 16-bit write to 0x70 sets the index and writes the data port */
	bus_write(&f->bus, 0x70, 2, 0x5a0f);
	assert_int_equal(rd(f, 0x0f), 0x5a);
	bus_read(&f->bus, 0x70, 4, &v);
	assert_int_equal(v & 0xff00, 0x5a00);
	/* C and D are read-only */
	wr(f, R_C, 0xff);
	wr(f, R_D, 0x00);
	assert_int_equal(rd(f, R_C), 0x00);
	assert_int_equal(rd(f, R_D), 0x80);
}

static void test_hostile_time_values(void **state)
{
	struct fx *f = *state;
	static const uint8_t junk[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t clamped[8] = {0x59, 0x59, 0x23, 0xff, 0x31, 0x12, 0x99, 0x99};
	static const uint8_t rolled[8] = {0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00};

	goto_boundary(f);
	set_time(f, junk);
	expect_time(f, clamped); /* 9999-12-31 23:59:59 */
	advance(f, SEC);
	expect_time(f, rolled); /* year 10000 shows as century 00, year 00 */
	wr(f, R_B, 0x06);
	set_time(f, junk);
	assert_int_equal(rd(f, R_HOUR), 23);
	assert_int_equal(rd(f, R_CENTURY), 99);
	wr(f, R_B, 0x7f); /* every enable at once, with SET */
	for (unsigned i = 0; i < 256; i++) {
		wr(f, (uint8_t)i, (uint8_t)(i * 7));
		rd(f, (uint8_t)i);
	}
	wr(f, R_A, 0x23);
	wr(f, R_B, 0x72);
	advance(f, 10 * SEC);
	assert_true(f->rec.raises <= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_base_time_bcd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_base_phase, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binary_and_12_hour, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_in_progress, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_freezes_and_writes_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_day_of_week_and_century, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_periodic_1024hz, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_ended, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_irq_held_until_c_is_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_divider_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nvram_banks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_time_values, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
