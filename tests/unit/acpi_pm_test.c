/* Unit tests for the ACPI fixed hardware and the PIIX4 reset register (src/dev/acpi_pm.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>

#include "fake_evloop.h"
#include "hostvisor/acpi_pm.h"
#include "hostvisor/bus.h"
#include "irq_recorder.h"

#define PM1_STS ACPI_PM1A_EVT_BLK
#define PM1_EN (ACPI_PM1A_EVT_BLK + 2)
#define PM1_CNT ACPI_PM1A_CNT_BLK
#define PM_TMR ACPI_PM_TMR_BLK
#define GPE0_STS ACPI_GPE0_BLK
#define GPE0_EN (ACPI_GPE0_BLK + 4)

#define TMR_STS 0x0001
#define PWRBTN_STS 0x0100
#define WAK_STS 0x8000
#define TMR_EN 0x0001
#define GBL_EN 0x0020
#define PWRBTN_EN 0x0100
#define SLPBTN_EN 0x0200
#define RTC_EN 0x0400
#define SCI_EN 0x0001
#define GBL_RLS 0x0004
#define SLP_EN 0x2000
#define SLP_TYP(x) ((x) << 10)

#define NS_PER_S 1000000000ull
/* 2^23 ticks of 3.579545 MHz: the time between two changes of bit 23, about 2.34 s. */
#define HALF_PERIOD_NS ((8388608ull * NS_PER_S + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ)

struct fixture {
	struct evloop *loop;
	struct bus pio;
	struct irq_recorder sci;
	struct acpi_pm *pm;
	int poweroffs, resets;
	bool reenter; /* callbacks reset the PM block, as the platform will */
};

static void on_poweroff(void *opaque)
{
	struct fixture *f = opaque;

	f->poweroffs++;
	if (f->reenter)
		acpi_pm_reset(f->pm);
}

static void on_reset(void *opaque)
{
	struct fixture *f = opaque;

	f->resets++;
	if (f->reenter)
		acpi_pm_reset(f->pm);
}

static const struct acpi_pm_ops test_ops = {.poweroff = on_poweroff, .reset = on_reset};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = evloop_create();
	assert_non_null(f->loop);
	assert_int_equal(bus_init(&f->pio, "pio"), 0);
	f->pm = acpi_pm_create(f->loop, irq_recorder_line(&f->sci), &test_ops, f);
	assert_non_null(f->pm);
	assert_int_equal(acpi_pm_attach(f->pm, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	acpi_pm_destroy(f->pm);
	bus_destroy(&f->pio);
	evloop_destroy(f->loop);
	free(f);
	return 0;
}

static uint64_t in(struct fixture *f, uint16_t port, unsigned size)
{
	uint64_t v;

	assert_true(bus_read(&f->pio, port, size, &v) >= 0);
	return v;
}

static void out(struct fixture *f, uint16_t port, unsigned size, uint64_t v)
{
	assert_true(bus_write(&f->pio, port, size, v) >= 0);
}

static uint32_t pm_timer(struct fixture *f)
{
	return (uint32_t)in(f, PM_TMR, 4);
}

static uint32_t expected_ticks(uint64_t ns)
{
	return (uint32_t)(((unsigned __int128)ns * ACPI_PM_TIMER_HZ / NS_PER_S) & 0xffffff);
}

/* ---- power-on state -------------------------------------------------------------------------- */

static void test_power_on_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f, PM1_STS, 2), 0);
	assert_int_equal(in(f, PM1_EN, 2), 0);
	assert_int_equal(in(f, PM1_CNT, 2), SCI_EN);
	assert_int_equal(in(f, GPE0_STS, 4), 0);
	assert_int_equal(in(f, GPE0_EN, 4), 0);
	assert_int_equal(in(f, ACPI_RESET_PORT, 1), 0);
	assert_int_equal(pm_timer(f), 0);
	assert_int_equal(f->sci.level, 0);
	assert_int_equal(f->sci.sets, 0);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

/* ---- PM timer -------------------------------------------------------------------------------- */

static void test_pm_timer_counts_at_3_579545_mhz(void **state)
{
	struct fixture *f = *state;
	uint64_t t = 0;

	fake_evloop_advance(f->loop, 279); /* one tick is 279.37 ns */
	t += 279;
	assert_int_equal(pm_timer(f), 0);
	fake_evloop_advance(f->loop, 1);
	t += 1;
	assert_int_equal(pm_timer(f), 1);
	fake_evloop_advance(f->loop, NS_PER_S - t);
	assert_int_equal(pm_timer(f), 3579545);
	t = NS_PER_S;
	/* 24 bits: 5 s is 17897725 ticks, which wraps to 1120509. */
	fake_evloop_advance(f->loop, 4 * NS_PER_S);
	t += 4 * NS_PER_S;
	assert_int_equal(pm_timer(f), 17897725 - (1u << 24));
	/* Exact over a long run too (one hour, then one day). */
	fake_evloop_advance(f->loop, 3600 * NS_PER_S);
	t += 3600 * NS_PER_S;
	assert_int_equal(pm_timer(f), expected_ticks(t));
	fake_evloop_advance(f->loop, 86400 * NS_PER_S + 12345);
	t += 86400 * NS_PER_S + 12345;
	assert_int_equal(pm_timer(f), expected_ticks(t));
}

static void test_pm_timer_byte_and_word_reads(void **state)
{
	struct fixture *f = *state;

	fake_evloop_advance(f->loop, 3 * NS_PER_S + 777);
	uint32_t v = pm_timer(f);
	assert_int_equal(in(f, PM_TMR, 1), v & 0xff);
	assert_int_equal(in(f, PM_TMR + 1, 1), (v >> 8) & 0xff);
	assert_int_equal(in(f, PM_TMR + 2, 1), (v >> 16) & 0xff);
	assert_int_equal(in(f, PM_TMR + 3, 1), 0); /* 24-bit timer: the top byte is 0 */
	assert_int_equal(in(f, PM_TMR, 2), v & 0xffff);
	assert_int_equal(in(f, PM_TMR + 2, 2), v >> 16);
	/* Writes are ignored. */
	out(f, PM_TMR, 4, 0);
	assert_int_equal(pm_timer(f), v);
}

static void test_tmr_sts_without_enable(void **state)
{
	struct fixture *f = *state;

	fake_evloop_advance(f->loop, HALF_PERIOD_NS - 1);
	assert_int_equal(in(f, PM1_STS, 2) & TMR_STS, 0);
	fake_evloop_advance(f->loop, 1);
	assert_int_equal(in(f, PM1_STS, 2) & TMR_STS, TMR_STS);
	/* No enable: no SCI, and no timer is kept running for it. */
	assert_int_equal(f->sci.level, 0);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
	out(f, PM1_STS, 2, TMR_STS);
	assert_int_equal(in(f, PM1_STS, 2) & TMR_STS, 0);
}

static void test_tmr_sts_raises_sci_when_enabled(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, 2, TMR_EN);
	assert_int_equal(fake_evloop_pending(f->loop), 1);
	fake_evloop_advance(f->loop, HALF_PERIOD_NS - 1);
	assert_int_equal(f->sci.level, 0);
	fake_evloop_advance(f->loop, 1); /* bit 23 goes 0 -> 1: the timer fires */
	assert_int_equal(f->sci.level, 1);
	assert_int_equal(f->sci.raises, 1);
	assert_true(in(f, PM_TMR, 4) & 0x800000);
	/* The OS clears TMR_STS: the SCI drops and the next change of bit 23 is awaited. */
	out(f, PM1_STS, 2, TMR_STS);
	assert_int_equal(f->sci.level, 0);
	assert_int_equal(fake_evloop_pending(f->loop), 1);
	fake_evloop_advance(f->loop, HALF_PERIOD_NS - 2);
	assert_int_equal(f->sci.level, 0);
	fake_evloop_advance(f->loop, 2); /* bit 23 goes 1 -> 0 (the counter wraps) */
	assert_int_equal(f->sci.level, 1);
	assert_int_equal(f->sci.raises, 2);
	assert_false(in(f, PM_TMR, 4) & 0x800000);
}

static void test_tmr_disable_stops_timer(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, 2, TMR_EN);
	out(f, PM1_EN, 2, 0);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
	fake_evloop_advance(f->loop, 10 * HALF_PERIOD_NS);
	assert_int_equal(f->sci.level, 0);
	/* The status bit is set all the same; enabling now raises the SCI at once. */
	out(f, PM1_EN, 2, TMR_EN);
	assert_int_equal(f->sci.level, 1);
}

static void test_tmr_sts_many_periods(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, 2, TMR_EN);
	for (int i = 1; i <= 20; i++) {
		fake_evloop_advance(f->loop, HALF_PERIOD_NS);
		assert_int_equal(f->sci.level, 1);
		out(f, PM1_STS, 2, TMR_STS);
		assert_int_equal(f->sci.level, 0);
	}
	assert_int_equal(f->sci.raises, 20);
}

/* ---- PM1 status and enable ------------------------------------------------------------------- */

static void test_pm1_sts_write_one_to_clear(void **state)
{
	struct fixture *f = *state;

	acpi_pm_power_button(f->pm);
	assert_int_equal(in(f, PM1_STS, 2), PWRBTN_STS);
	out(f, PM1_STS, 2, 0); /* zeros leave bits alone */
	assert_int_equal(in(f, PM1_STS, 2), PWRBTN_STS);
	out(f, PM1_STS, 2, 0x7eff); /* ones elsewhere neither clear nor set */
	assert_int_equal(in(f, PM1_STS, 2), PWRBTN_STS);
	out(f, PM1_STS, 1, 0xff); /* the low byte does not hold PWRBTN_STS */
	assert_int_equal(in(f, PM1_STS, 2), PWRBTN_STS);
	out(f, PM1_STS + 1, 1, 0x01); /* the high byte alone clears it */
	assert_int_equal(in(f, PM1_STS, 2), 0);
	/* A write never sets a status bit. */
	out(f, PM1_STS, 2, 0xffff);
	assert_int_equal(in(f, PM1_STS, 2), 0);
}

static void test_pm1_en_read_write(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, 2, 0xffff);
	assert_int_equal(in(f, PM1_EN, 2),
			 TMR_EN | GBL_EN | PWRBTN_EN | SLPBTN_EN | RTC_EN | 0x4000);
	out(f, PM1_EN + 1, 1, 0x00); /* high byte only */
	assert_int_equal(in(f, PM1_EN, 2), TMR_EN | GBL_EN);
	out(f, PM1_EN, 1, 0x00);
	assert_int_equal(in(f, PM1_EN, 2), 0);
}

static void test_dword_access_covers_sts_and_en(void **state)
{
	struct fixture *f = *state;

	acpi_pm_power_button(f->pm);
	/* One dword write: clear PWRBTN_STS and set PWRBTN_EN. */
	out(f, PM1_STS, 4, ((uint64_t)PWRBTN_EN << 16) | PWRBTN_STS);
	assert_int_equal(in(f, PM1_STS, 4), (uint64_t)PWRBTN_EN << 16);
	acpi_pm_power_button(f->pm);
	assert_int_equal(in(f, PM1_STS, 4), ((uint64_t)PWRBTN_EN << 16) | PWRBTN_STS);
	/* A word at offset 1 straddles STS high byte and EN low byte. */
	assert_int_equal(in(f, PM1_STS + 1, 2), 0x0001);
	/* A dword at offset 3 has one byte inside the block; the rest read all-ones. */
	assert_int_equal(in(f, PM1_STS + 3, 4), 0xffffff01);
	/* 8-byte access. */
	assert_int_equal(in(f, PM1_STS, 8), 0xffffffff01000100ull);
}

static void test_sci_level_follows_status_and_enable(void **state)
{
	struct fixture *f = *state;

	acpi_pm_power_button(f->pm);
	assert_int_equal(f->sci.level, 0); /* status without enable */
	out(f, PM1_EN, 2, PWRBTN_EN);
	assert_int_equal(f->sci.level, 1);
	out(f, PM1_EN, 2, 0);
	assert_int_equal(f->sci.level, 0);
	out(f, PM1_EN, 2, PWRBTN_EN);
	assert_int_equal(f->sci.level, 1);
	acpi_pm_power_button(f->pm); /* already high: no new edge */
	assert_int_equal(f->sci.raises, 2);
	out(f, PM1_STS, 2, PWRBTN_STS);
	assert_int_equal(f->sci.level, 0);
	/* WAK_STS has no enable bit and never raises the SCI. */
	out(f, PM1_EN, 2, 0xffff);
	out(f, PM1_CNT, 2, SLP_TYP(1) | SLP_EN);
	assert_true(in(f, PM1_STS, 2) & WAK_STS);
	assert_int_equal(f->sci.level, 0);
}

/* ---- PM1 control ----------------------------------------------------------------------------- */

static void test_sci_en_reads_one(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_CNT, 2, 0);
	assert_int_equal(in(f, PM1_CNT, 2) & SCI_EN, SCI_EN);
	out(f, PM1_CNT, 2, GBL_RLS | 0x0002); /* GBL_RLS is write-only; BM_RLD sticks */
	assert_int_equal(in(f, PM1_CNT, 2), SCI_EN | 0x0002);
	/* Reserved bits read 0. */
	out(f, PM1_CNT, 2, 0xc3f8);
	assert_int_equal(in(f, PM1_CNT, 2), SCI_EN);
}

static void test_s5_powers_off(void **state)
{
	struct fixture *f = *state;

	/* Linux writes SLP_TYP first, then SLP_TYP | SLP_EN. */
	out(f, PM1_CNT, 2, SLP_TYP(ACPI_S5_SLP_TYP) | SCI_EN);
	assert_int_equal(f->poweroffs, 0);
	assert_int_equal(in(f, PM1_CNT, 2), SLP_TYP(ACPI_S5_SLP_TYP) | SCI_EN);
	out(f, PM1_CNT, 2, SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN | SCI_EN);
	assert_int_equal(f->poweroffs, 1);
	assert_int_equal(f->resets, 0);
	/* SLP_EN is write-only. */
	assert_int_equal(in(f, PM1_CNT, 2), SLP_TYP(ACPI_S5_SLP_TYP) | SCI_EN);
}

static void test_s5_byte_write(void **state)
{
	struct fixture *f = *state;

	/* SLP_TYP and SLP_EN both sit in the high byte. */
	out(f, PM1_CNT + 1, 1, (SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN) >> 8);
	assert_int_equal(f->poweroffs, 1);
	/* A byte write to the low half leaves SLP_TYP alone and does not sleep. */
	out(f, PM1_CNT, 1, 0xff);
	assert_int_equal(f->poweroffs, 1);
	assert_int_equal(in(f, PM1_CNT, 2), SLP_TYP(ACPI_S5_SLP_TYP) | 0x0002 | SCI_EN);
	/* A dword write at PM1_CNT: the upper bytes are outside the block. */
	out(f, PM1_CNT, 4, 0xffff0000u | SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN);
	assert_int_equal(f->poweroffs, 2);
	assert_int_equal(in(f, PM1_CNT, 4), 0xffff0000u | SLP_TYP(ACPI_S5_SLP_TYP) | SCI_EN);
}

static void test_other_sleep_types_wake_at_once(void **state)
{
	struct fixture *f = *state;

	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == ACPI_S5_SLP_TYP)
			continue;
		out(f, PM1_STS, 2, WAK_STS);
		out(f, PM1_CNT, 2, SLP_TYP(typ) | SLP_EN);
		assert_int_equal(f->poweroffs, 0);
		assert_true(in(f, PM1_STS, 2) & WAK_STS);
	}
	out(f, PM1_STS, 2, WAK_STS);
	assert_int_equal(in(f, PM1_STS, 2) & WAK_STS, 0);
}

static void test_poweroff_callback_may_reset(void **state)
{
	struct fixture *f = *state;

	f->reenter = true;
	out(f, PM1_EN, 2, PWRBTN_EN);
	acpi_pm_power_button(f->pm);
	assert_int_equal(f->sci.level, 1);
	out(f, PM1_CNT, 2, SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN); /* no deadlock */
	assert_int_equal(f->poweroffs, 1);
	assert_int_equal(in(f, PM1_EN, 2), 0);
	assert_int_equal(in(f, PM1_CNT, 2), SCI_EN);
	assert_int_equal(f->sci.level, 0);
}

/* ---- GPE0 ------------------------------------------------------------------------------------ */

static void test_gpe0_registers(void **state)
{
	struct fixture *f = *state;

	out(f, GPE0_EN, 4, 0x04030201);
	assert_int_equal(in(f, GPE0_EN, 4), 0x04030201);
	assert_int_equal(in(f, GPE0_EN + 2, 1), 0x03);
	out(f, GPE0_EN + 1, 1, 0xaa);
	assert_int_equal(in(f, GPE0_EN, 4), 0x0403aa01);
	/* Status bits are write-1-to-clear; no source sets them yet. */
	out(f, GPE0_STS, 4, 0xffffffff);
	assert_int_equal(in(f, GPE0_STS, 4), 0);
	/* One 8-byte access spans the whole block. */
	assert_int_equal(in(f, GPE0_STS, 8), 0x0403aa0100000000ull);
	out(f, GPE0_STS, 8, 0x1111111122222222ull);
	assert_int_equal(in(f, GPE0_STS, 8), 0x1111111100000000ull);
	/* Past the end of the block. */
	assert_int_equal(in(f, GPE0_EN + 3, 2), 0xff11);
	out(f, GPE0_EN + 3, 4, 0);
	assert_int_equal(in(f, GPE0_EN, 4), 0x00111111);
	assert_int_equal(f->sci.level, 0);
}

/* ---- reset register -------------------------------------------------------------------------- */

static void test_reset_register(void **state)
{
	struct fixture *f = *state;

	out(f, ACPI_RESET_PORT, 1, 0x02); /* hard reset selected, not yet requested */
	assert_int_equal(f->resets, 0);
	assert_int_equal(in(f, ACPI_RESET_PORT, 1), 0x02);
	out(f, ACPI_RESET_PORT, 1, ACPI_RESET_VALUE);
	assert_int_equal(f->resets, 1);
	assert_int_equal(in(f, ACPI_RESET_PORT, 1), 0x02); /* bit 2 reads 0 */
	out(f, ACPI_RESET_PORT, 1, 0x0e);
	assert_int_equal(f->resets, 2);
	assert_int_equal(in(f, ACPI_RESET_PORT, 1), 0x0a);
	out(f, ACPI_RESET_PORT, 1, 0x04);
	assert_int_equal(f->resets, 3);
	out(f, ACPI_RESET_PORT, 1, 0x00);
	assert_int_equal(f->resets, 3);
	assert_int_equal(f->poweroffs, 0);
}

static void test_reset_callback_may_reset(void **state)
{
	struct fixture *f = *state;

	f->reenter = true;
	out(f, PM1_EN, 2, TMR_EN);
	fake_evloop_advance(f->loop, NS_PER_S);
	out(f, ACPI_RESET_PORT, 1, ACPI_RESET_VALUE);
	assert_int_equal(f->resets, 1);
	assert_int_equal(in(f, ACPI_RESET_PORT, 1), 0);
	assert_int_equal(in(f, PM1_EN, 2), 0);
	assert_int_equal(pm_timer(f), 0);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_acpi_pm_reset(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, 2, PWRBTN_EN | TMR_EN);
	acpi_pm_power_button(f->pm);
	out(f, GPE0_EN, 4, 0xffffffff);
	out(f, PM1_CNT, 2, SLP_TYP(3));
	fake_evloop_advance(f->loop, 3 * NS_PER_S);
	assert_int_equal(f->sci.level, 1);
	acpi_pm_reset(f->pm);
	assert_int_equal(f->sci.level, 0);
	assert_int_equal(in(f, PM1_STS, 2), 0);
	assert_int_equal(in(f, PM1_EN, 2), 0);
	assert_int_equal(in(f, PM1_CNT, 2), SCI_EN);
	assert_int_equal(in(f, GPE0_EN, 4), 0);
	assert_int_equal(pm_timer(f), 0);
	fake_evloop_advance(f->loop, NS_PER_S);
	assert_int_equal(pm_timer(f), 3579545);
}

static void test_no_ops(void **state)
{
	struct fixture *f = *state;
	struct bus pio;
	struct irq_recorder sci = {0};
	struct acpi_pm *pm = acpi_pm_create(f->loop, irq_recorder_line(&sci), NULL, NULL);

	assert_non_null(pm);
	assert_int_equal(bus_init(&pio, "pio"), 0);
	assert_int_equal(acpi_pm_attach(pm, &pio), 0);
	assert_true(bus_write(&pio, PM1_CNT, 2, SLP_TYP(ACPI_S5_SLP_TYP) | SLP_EN) >= 0);
	assert_true(bus_write(&pio, ACPI_RESET_PORT, 1, ACPI_RESET_VALUE) >= 0);
	/* A second attach on the same bus is refused and leaves nothing behind. */
	struct acpi_pm *pm2 = acpi_pm_create(f->loop, irq_recorder_line(&sci), NULL, NULL);
	assert_non_null(pm2);
	assert_true(acpi_pm_attach(pm2, &pio) < 0);
	acpi_pm_destroy(pm2);
	bus_destroy(&pio);
	acpi_pm_destroy(pm);
}

static void test_create_without_loop_fails(void **state)
{
	(void)state;
	assert_null(acpi_pm_create(NULL, (struct irq_line){0}, NULL, NULL));
}

static void test_partial_attach_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct bus pio;
	struct acpi_pm *pm = acpi_pm_create(f->loop, (struct irq_line){0}, NULL, NULL);

	assert_non_null(pm);
	assert_int_equal(bus_init(&pio, "pio"), 0);
	/* Somebody already owns the GPE0 block: everything registered before it is undone. */
	assert_true(bus_register(&pio, "other", ACPI_GPE0_BLK, 1, NULL, NULL, &pio) >= 0);
	assert_true(acpi_pm_attach(pm, &pio) < 0);
	assert_int_equal(bus_read(&pio, PM1_STS, 2, &(uint64_t){0}), BUS_UNCLAIMED);
	assert_int_equal(bus_read(&pio, PM_TMR, 4, &(uint64_t){0}), BUS_UNCLAIMED);
	bus_destroy(&pio);
	acpi_pm_destroy(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_power_on_state),
	    T(test_pm_timer_counts_at_3_579545_mhz),
	    T(test_pm_timer_byte_and_word_reads),
	    T(test_tmr_sts_without_enable),
	    T(test_tmr_sts_raises_sci_when_enabled),
	    T(test_tmr_disable_stops_timer),
	    T(test_tmr_sts_many_periods),
	    T(test_pm1_sts_write_one_to_clear),
	    T(test_pm1_en_read_write),
	    T(test_dword_access_covers_sts_and_en),
	    T(test_sci_level_follows_status_and_enable),
	    T(test_sci_en_reads_one),
	    T(test_s5_powers_off),
	    T(test_s5_byte_write),
	    T(test_other_sleep_types_wake_at_once),
	    T(test_poweroff_callback_may_reset),
	    T(test_gpe0_registers),
	    T(test_reset_register),
	    T(test_reset_callback_may_reset),
	    T(test_acpi_pm_reset),
	    T(test_no_ops),
	    T(test_partial_attach_rolls_back),
	    cmocka_unit_test(test_create_without_loop_fails),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
