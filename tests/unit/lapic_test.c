/* Local APIC (xAPIC, SDM vol. 3A ch. 11): register page, priorities, EOI, ESR, ICR, LVT, LINT0,
 * timer, INIT/SIPI, software and hardware disable, APIC base. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fake_evloop.h"
#include "hostvisor/lapic.h"

#define APIC_ID 3
#define MAX_RECORDS 64

#define ID 0x020
#define VERSION 0x030
#define TPR 0x080
#define APR 0x090
#define PPR 0x0a0
#define EOI 0x0b0
#define RRD 0x0c0
#define LDR 0x0d0
#define DFR 0x0e0
#define SVR 0x0f0
#define ISR(i) (0x100 + 0x10 * (i))
#define TMR(i) (0x180 + 0x10 * (i))
#define IRR(i) (0x200 + 0x10 * (i))
#define ESR 0x280
#define LVT_CMCI 0x2f0
#define ICR_LOW 0x300
#define ICR_HIGH 0x310
#define LVT_TIMER 0x320
#define LVT_THERMAL 0x330
#define LVT_PERF 0x340
#define LVT_LINT0 0x350
#define LVT_LINT1 0x360
#define LVT_ERROR 0x370
#define TIMER_INITIAL 0x380
#define TIMER_CURRENT 0x390
#define TIMER_DIVIDE 0x3e0

#define MASKED (1u << 16)
#define PERIODIC (1u << 17)
#define LEVEL (1u << 15)
#define REMOTE_IRR (1u << 14)
#define ACTIVE_LOW (1u << 13)
#define ASSERT (1u << 14)
#define DM(mode) ((uint32_t)(mode) << 8)
#define SHORTHAND(s) ((uint32_t)(s) << 18)

#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)
#define ESR_ILLEGAL_REG (1u << 7)

#define DIV_1 0xb

struct ipi {
	uint32_t icr_low;
	uint8_t dest;
};

struct fixture {
	struct evloop *loop;
	struct lapic *apic;
	struct ipi ipis[MAX_RECORDS];
	int nipis;
	uint8_t eois[MAX_RECORDS];
	int neois;
	int kicks;
	bool route_back; /* the engine routes IPIs and EOIs back into this APIC */
};

static void record_ipi(void *opaque, uint32_t icr_low, uint8_t dest)
{
	struct fixture *f = opaque;

	assert_true(f->nipis < MAX_RECORDS);
	f->ipis[f->nipis++] = (struct ipi){icr_low, dest};
	/* The lock must be dropped: routing to this same APIC would deadlock otherwise. */
	if (f->route_back && lapic_match_dest(f->apic, dest, icr_low & (1u << 11)))
		lapic_accept(f->apic, (enum lapic_delivery)(icr_low >> 8 & 7), icr_low & 0xff,
			     icr_low & LEVEL);
}

static void record_eoi(void *opaque, uint8_t vector)
{
	struct fixture *f = opaque;

	assert_true(f->neois < MAX_RECORDS);
	f->eois[f->neois++] = vector;
	if (f->route_back) /* the I/O APIC re-sends a still-asserted level interrupt */
		lapic_accept(f->apic, LAPIC_DM_FIXED, vector, true);
}

static void record_kick(void *opaque)
{
	struct fixture *f = opaque;

	f->kicks++;
}

static const struct lapic_ops ops = {
    .send_ipi = record_ipi,
    .eoi = record_eoi,
    .kick = record_kick,
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = evloop_create();
	assert_non_null(f->loop);
	f->apic = lapic_create(&ops, f, f->loop, APIC_ID, true);
	assert_non_null(f->apic);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	lapic_destroy(f->apic);
	evloop_destroy(f->loop);
	free(f);
	return 0;
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
	return (uint32_t)lapic_mmio_read(f->apic, off, 4);
}

static void wr(struct fixture *f, uint64_t off, uint32_t value)
{
	lapic_mmio_write(f->apic, off, 4, value);
}

static void sw_enable(struct fixture *f)
{
	wr(f, SVR, 0x1ff);
}

static bool irr_has(struct fixture *f, unsigned vector)
{
	return rd(f, IRR(vector / 32)) >> (vector % 32) & 1;
}

static bool isr_has(struct fixture *f, unsigned vector)
{
	return rd(f, ISR(vector / 32)) >> (vector % 32) & 1;
}

static bool tmr_has(struct fixture *f, unsigned vector)
{
	return rd(f, TMR(vector / 32)) >> (vector % 32) & 1;
}

/* Takes the pending interrupt as the CPU would; returns its vector or -1. */
static int take(struct fixture *f)
{
	int v = lapic_pending_vector(f->apic);

	if (v < 0)
		return -1;
	assert_int_equal(lapic_ack(f->apic, (uint8_t)v), v);
	return v;
}

static uint32_t esr_read(struct fixture *f)
{
	wr(f, ESR, 0);
	return rd(f, ESR);
}

/* ---- reset state and register rules ---- */

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, ID), APIC_ID << 24);
	assert_int_equal(rd(f, VERSION), 0x00050014);
	assert_int_equal(rd(f, TPR), 0);
	assert_int_equal(rd(f, APR), 0);
	assert_int_equal(rd(f, PPR), 0);
	assert_int_equal(rd(f, LDR), 0);
	assert_int_equal(rd(f, DFR), 0xffffffff);
	assert_int_equal(rd(f, SVR), 0xff);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(rd(f, ISR(i)), 0);
		assert_int_equal(rd(f, TMR(i)), 0);
		assert_int_equal(rd(f, IRR(i)), 0);
	}
	assert_int_equal(rd(f, ESR), 0);
	assert_int_equal(rd(f, ICR_LOW), 0);
	assert_int_equal(rd(f, ICR_HIGH), 0);
	for (uint64_t off = LVT_TIMER; off <= LVT_ERROR; off += 0x10)
		assert_int_equal(rd(f, off), MASKED);
	assert_int_equal(rd(f, TIMER_INITIAL), 0);
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
	assert_int_equal(rd(f, TIMER_DIVIDE), 0);
	assert_int_equal(lapic_get_base(f->apic), 0xfee00900);
	assert_true(lapic_mmio_hit(f->apic, 0xfee00000));
	assert_true(lapic_mmio_hit(f->apic, 0xfee00fff));
	assert_false(lapic_mmio_hit(f->apic, 0xfee01000));
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	assert_false(lapic_extint_pending(f->apic));
	assert_int_equal(lapic_take_events(f->apic, NULL), 0);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_ap_base(void **state)
{
	struct fixture *f = *state;
	struct lapic *ap = lapic_create(&ops, f, f->loop, 7, false);

	assert_non_null(ap);
	assert_int_equal(lapic_get_base(ap), 0xfee00800);
	assert_int_equal(lapic_mmio_read(ap, ID, 4), 7u << 24);
	lapic_destroy(ap);
}

static void test_writable_bits(void **state)
{
	struct fixture *f = *state;

	wr(f, ID, 0xffffffff);
	assert_int_equal(rd(f, ID), 0xff000000);
	wr(f, VERSION, 0);
	assert_int_equal(rd(f, VERSION), 0x00050014);
	wr(f, TPR, 0xffffffff);
	assert_int_equal(rd(f, TPR), 0xff);
	wr(f, TPR, 0);
	wr(f, APR, 0xff);
	assert_int_equal(rd(f, APR), 0);
	wr(f, PPR, 0xff);
	assert_int_equal(rd(f, PPR), 0);
	assert_int_equal(rd(f, EOI), 0);
	wr(f, RRD, 0xffffffff);
	assert_int_equal(rd(f, RRD), 0);
	wr(f, LDR, 0xffffffff);
	assert_int_equal(rd(f, LDR), 0xff000000);
	wr(f, DFR, 0);
	assert_int_equal(rd(f, DFR), 0x0fffffff);
	wr(f, DFR, 0x12345678);
	assert_int_equal(rd(f, DFR), 0x1fffffff);
	wr(f, SVR, 0xffffffff);
	assert_int_equal(rd(f, SVR), 0x3ff); /* bits 10-12 and up reserved */
	for (int i = 0; i < 8; i++) {
		wr(f, ISR(i), 0xffffffff);
		wr(f, TMR(i), 0xffffffff);
		wr(f, IRR(i), 0xffffffff);
		assert_int_equal(rd(f, ISR(i)), 0);
		assert_int_equal(rd(f, TMR(i)), 0);
		assert_int_equal(rd(f, IRR(i)), 0);
	}
	wr(f, ICR_HIGH, 0xffffffff);
	assert_int_equal(rd(f, ICR_HIGH), 0xff000000);
	wr(f, LVT_TIMER, 0xffffffff);
	assert_int_equal(rd(f, LVT_TIMER), 0x300ff);
	wr(f, LVT_THERMAL, 0xffffffff);
	assert_int_equal(rd(f, LVT_THERMAL), 0x107ff);
	wr(f, LVT_PERF, 0xffffffff);
	assert_int_equal(rd(f, LVT_PERF), 0x107ff);
	wr(f, LVT_LINT0, 0xffffffff & ~LEVEL);
	assert_int_equal(rd(f, LVT_LINT0), 0x127ff);
	wr(f, LVT_LINT1, 0xffffffff);
	assert_int_equal(rd(f, LVT_LINT1), 0x1a7ff);
	wr(f, LVT_ERROR, 0xffffffff);
	assert_int_equal(rd(f, LVT_ERROR), 0x100ff);
	wr(f, TIMER_DIVIDE, 0xffffffff);
	assert_int_equal(rd(f, TIMER_DIVIDE), 0xb);
	wr(f, TIMER_CURRENT, 1234);
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
	wr(f, TIMER_INITIAL, 0xffffffff);
	assert_int_equal(rd(f, TIMER_INITIAL), 0xffffffff);
	wr(f, TIMER_INITIAL, 0);
	/* No error for any of these: all are implemented registers. */
	assert_int_equal(esr_read(f), 0);
}

static void test_access_sizes_and_offsets(void **state)
{
	struct fixture *f = *state;

	wr(f, TPR, 0x20);
	/* Only aligned 32-bit accesses count (SDM 11.4.1). */
	assert_int_equal(lapic_mmio_read(f->apic, TPR, 1), 0);
	assert_int_equal(lapic_mmio_read(f->apic, TPR, 2), 0);
	assert_int_equal(lapic_mmio_read(f->apic, TPR, 8), 0);
	assert_int_equal(lapic_mmio_read(f->apic, TPR + 4, 4), 0);
	assert_int_equal(lapic_mmio_read(f->apic, TPR + 1, 4), 0);
	assert_int_equal(lapic_mmio_read(f->apic, ID + 0x1000, 4), 0);
	assert_int_equal(lapic_mmio_read(f->apic, UINT64_MAX - 15, 4), 0);
	lapic_mmio_write(f->apic, TPR, 1, 0x30);
	lapic_mmio_write(f->apic, TPR, 2, 0x30);
	lapic_mmio_write(f->apic, TPR, 8, 0x30);
	lapic_mmio_write(f->apic, TPR + 4, 4, 0x30);
	lapic_mmio_write(f->apic, TPR + 0x1000, 4, 0x30);
	lapic_mmio_write(f->apic, TPR, 0, 0x30);
	assert_int_equal(rd(f, TPR), 0x20);
	/* Only the low 32 bits of a 32-bit write's value matter. */
	lapic_mmio_write(f->apic, TPR, 4, 0xffffffff00000040ull);
	assert_int_equal(rd(f, TPR), 0x40);
	assert_int_equal(esr_read(f), 0);
}

static void test_reserved_registers_log_errors(void **state)
{
	struct fixture *f = *state;
	static const uint64_t reserved[] = {0x000, 0x010, 0x040,    0x050, 0x060, 0x070, 0x290,
					    0x2a0, 0x2e0, LVT_CMCI, 0x3a0, 0x3d0, 0x3f0, 0xff0};

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		assert_int_equal(rd(f, reserved[i]), 0);
		/* Write-then-read: the error shows only after the next ESR write. */
		assert_int_equal(rd(f, ESR), 0);
		assert_int_equal(esr_read(f), ESR_ILLEGAL_REG);
		assert_int_equal(esr_read(f), 0);
		wr(f, reserved[i], 0xffffffff);
		assert_int_equal(rd(f, reserved[i]), 0);
		assert_int_equal(esr_read(f), ESR_ILLEGAL_REG);
		assert_int_equal(esr_read(f), 0);
	}
	/* Misaligned or narrow accesses are ignored, not errors. */
	lapic_mmio_read(f->apic, 0x44, 4);
	lapic_mmio_read(f->apic, 0x40, 1);
	assert_int_equal(esr_read(f), 0);
}

static void test_error_interrupt_armed_once(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, LVT_ERROR, 0xfe);
	rd(f, 0x40);
	assert_true(irr_has(f, 0xfe));
	assert_int_equal(take(f), 0xfe);
	/* A second error before the ESR write does not interrupt again. */
	rd(f, 0x40);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	wr(f, EOI, 0);
	assert_int_equal(esr_read(f), ESR_ILLEGAL_REG);
	rd(f, 0x40);
	assert_int_equal(take(f), 0xfe);
	wr(f, EOI, 0);
	/* Masked error LVT: errors logged, no interrupt. */
	wr(f, ESR, 0);
	wr(f, LVT_ERROR, MASKED | 0xfe);
	rd(f, 0x40);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	assert_int_equal(esr_read(f), ESR_ILLEGAL_REG);
}

static void test_illegal_error_vector_does_not_loop(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, LVT_ERROR, 0x05); /* the error interrupt itself has an illegal vector */
	rd(f, 0x40);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(rd(f, IRR(i)), 0);
	assert_int_equal(esr_read(f), ESR_ILLEGAL_REG | ESR_RECV_ILLEGAL);
}

/* ---- acceptance and priorities (SDM 11.8) ---- */

static void test_illegal_vectors_rejected(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	for (unsigned v = 0; v < 16; v++) {
		lapic_accept(f->apic, LAPIC_DM_FIXED, (uint8_t)v, false);
		lapic_accept(f->apic, LAPIC_DM_LOWEST, (uint8_t)v, true);
	}
	assert_int_equal(rd(f, IRR(0)), 0);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	assert_int_equal(esr_read(f), ESR_RECV_ILLEGAL);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 16, false);
	assert_int_equal(rd(f, IRR(0)), 1u << 16);
	assert_int_equal(esr_read(f), 0);
}

static void test_priority_and_nesting(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x31, false);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x52, false);
	assert_true(f->kicks >= 2);
	assert_int_equal(lapic_pending_vector(f->apic), 0x52);
	/* TPR masks classes <= TPR[7:4]. */
	wr(f, TPR, 0x50);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	assert_int_equal(rd(f, PPR), 0x50);
	wr(f, TPR, 0x4f);
	assert_int_equal(lapic_pending_vector(f->apic), 0x52);
	wr(f, TPR, 0);
	assert_int_equal(take(f), 0x52);
	assert_true(isr_has(f, 0x52));
	assert_false(irr_has(f, 0x52));
	assert_int_equal(rd(f, PPR), 0x50);
	/* 0x31 waits behind the in-service class 5; 0x5f too (same class); 0x61 nests. */
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x5f, false);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x61, false);
	assert_int_equal(take(f), 0x61);
	assert_int_equal(rd(f, PPR), 0x60);
	/* EOI clears the highest in-service vector first. */
	wr(f, EOI, 0);
	assert_false(isr_has(f, 0x61));
	assert_true(isr_has(f, 0x52));
	assert_int_equal(rd(f, PPR), 0x50);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	wr(f, EOI, 0);
	assert_int_equal(rd(f, PPR), 0);
	assert_int_equal(take(f), 0x5f);
	wr(f, EOI, 0);
	assert_int_equal(take(f), 0x31);
	wr(f, EOI, 0);
	assert_int_equal(take(f), -1);
	/* EOI with nothing in service does nothing. */
	wr(f, EOI, 0);
	assert_int_equal(f->neois, 0);
}

static void test_ppr_and_apr(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x52, false);
	/* APR with IRR class 5 above TPR class 0: max of the classes. */
	assert_int_equal(rd(f, APR), 0x50);
	take(f);
	wr(f, TPR, 0x57); /* TPR class >= ISR class: PPR = TPR */
	assert_int_equal(rd(f, PPR), 0x57);
	wr(f, TPR, 0x45); /* below: PPR = ISR class */
	assert_int_equal(rd(f, PPR), 0x50);
	assert_int_equal(rd(f, APR), 0x50);
	wr(f, TPR, 0x67);
	assert_int_equal(rd(f, APR), 0x67);
	assert_int_equal(rd(f, PPR), 0x67);
}

static void test_cr8(void **state)
{
	struct fixture *f = *state;

	wr(f, TPR, 0x7c);
	assert_int_equal(lapic_get_cr8(f->apic), 7);
	lapic_set_cr8(f->apic, 0x9);
	assert_int_equal(rd(f, TPR), 0x90);
	lapic_set_cr8(f->apic, 0xfffffffffffffff3ull);
	assert_int_equal(rd(f, TPR), 0x30);
	sw_enable(f);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x35, false);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	f->kicks = 0;
	lapic_set_cr8(f->apic, 2);
	assert_int_equal(lapic_pending_vector(f->apic), 0x35);
	assert_true(f->kicks > 0); /* lowering the priority made something deliverable */
}

static void test_eoi_level_triggered(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x40, true);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x41, false);
	assert_true(tmr_has(f, 0x40));
	assert_false(tmr_has(f, 0x41));
	assert_int_equal(take(f), 0x41);
	wr(f, EOI, 0);
	assert_int_equal(f->neois, 0); /* edge: no EOI message */
	assert_int_equal(take(f), 0x40);
	wr(f, EOI, 0x12345678); /* any value */
	assert_int_equal(f->neois, 1);
	assert_int_equal(f->eois[0], 0x40);
	/* The same vector accepted edge-triggered clears TMR. */
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x40, false);
	assert_false(tmr_has(f, 0x40));
	take(f);
	wr(f, EOI, 0);
	assert_int_equal(f->neois, 1);
}

static void test_eoi_reenters_without_lock(void **state)
{
	struct fixture *f = *state;

	f->route_back = true; /* the I/O APIC answers the EOI with the same interrupt */
	sw_enable(f);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x70, true);
	assert_int_equal(take(f), 0x70);
	wr(f, EOI, 0);
	assert_int_equal(f->neois, 1);
	assert_true(irr_has(f, 0x70));
	assert_int_equal(take(f), 0x70);
}

static void test_spurious_on_vanished_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, SVR, 0x1a7);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x44, false);
	assert_int_equal(lapic_pending_vector(f->apic), 0x44);
	/* TPR raised between the decision and the INTA cycle. */
	wr(f, TPR, 0x40);
	assert_int_equal(lapic_ack(f->apic, 0x44), 0xa7);
	assert_false(isr_has(f, 0x44));
	assert_true(irr_has(f, 0x44)); /* held */
	/* A vector that is not in IRR at all. */
	wr(f, TPR, 0);
	assert_int_equal(lapic_ack(f->apic, 0x99), 0xa7);
	assert_int_equal(lapic_ack(f->apic, 0x05), 0xa7);
	for (int i = 0; i < 8; i++)
		assert_int_equal(rd(f, ISR(i)), 0);
	assert_int_equal(lapic_ack(f->apic, 0x44), 0x44);
}

static void test_ack_lower_vector_still_pending(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x44, false);
	/* A higher interrupt arrived after the CPU chose 0x44: 0x44 is still deliverable. */
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x90, false);
	assert_int_equal(lapic_ack(f->apic, 0x44), 0x44);
	assert_int_equal(lapic_pending_vector(f->apic), 0x90);
}

/* ---- timer (SDM 11.5.4) ---- */

static void test_timer_one_shot(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, 0x40);
	wr(f, TIMER_INITIAL, 1000);
	assert_int_equal(rd(f, TIMER_CURRENT), 1000);
	fake_evloop_advance(f->loop, 400);
	assert_int_equal(rd(f, TIMER_CURRENT), 600);
	fake_evloop_advance(f->loop, 599);
	assert_int_equal(rd(f, TIMER_CURRENT), 1);
	assert_false(irr_has(f, 0x40));
	fake_evloop_advance(f->loop, 1);
	assert_true(irr_has(f, 0x40));
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
	assert_int_equal(take(f), 0x40);
	wr(f, EOI, 0);
	fake_evloop_advance(f->loop, 1000000);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
	assert_int_equal(rd(f, TIMER_INITIAL), 1000);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
	/* Re-writing the initial count restarts it. */
	wr(f, TIMER_INITIAL, 10);
	fake_evloop_advance(f->loop, 10);
	assert_int_equal(take(f), 0x40);
}

static void test_timer_restart_and_stop(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, 0x40);
	wr(f, TIMER_INITIAL, 1000);
	fake_evloop_advance(f->loop, 900);
	wr(f, TIMER_INITIAL, 1000); /* reload */
	fake_evloop_advance(f->loop, 900);
	assert_int_equal(rd(f, TIMER_CURRENT), 100);
	assert_false(irr_has(f, 0x40));
	wr(f, TIMER_INITIAL, 0); /* stop */
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
	fake_evloop_advance(f->loop, 1000000);
	assert_false(irr_has(f, 0x40));
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_timer_periodic(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, 0); /* divide by 2 */
	wr(f, LVT_TIMER, PERIODIC | 0x41);
	wr(f, TIMER_INITIAL, 100000); /* period 200 us */
	for (int i = 0; i < 5; i++) {
		fake_evloop_advance(f->loop, 199999);
		assert_false(irr_has(f, 0x41));
		assert_int_equal(rd(f, TIMER_CURRENT), 1);
		fake_evloop_advance(f->loop, 1);
		assert_int_equal(take(f), 0x41);
		assert_int_equal(rd(f, TIMER_CURRENT), 100000);
		wr(f, EOI, 0);
	}
	fake_evloop_advance(f->loop, 50000);
	assert_int_equal(rd(f, TIMER_CURRENT), 75000);
	/* Switching to one-shot: the running count finishes, then the timer stops. */
	wr(f, LVT_TIMER, 0x41);
	fake_evloop_advance(f->loop, 150000);
	assert_int_equal(take(f), 0x41);
	wr(f, EOI, 0);
	fake_evloop_advance(f->loop, 1000000);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
}

static void test_timer_periodic_current_count(void **state)
{
	struct fixture *f = *state;

	/* The current count comes from the clock, across periods. */
	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, PERIODIC | MASKED | 0x41);
	wr(f, TIMER_INITIAL, 100000);
	fake_evloop_advance(f->loop, 350000);
	assert_int_equal(rd(f, TIMER_CURRENT), 50000);
	fake_evloop_advance(f->loop, 49999);
	assert_int_equal(rd(f, TIMER_CURRENT), 1);
	fake_evloop_advance(f->loop, 1);
	assert_int_equal(rd(f, TIMER_CURRENT), 100000);
}

static void test_timer_divider(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint32_t code;
		unsigned divisor;
	} div[] = {{0x0, 2},  {0x1, 4},	  {0x2, 8}, {0x3, 16}, {0x8, 32},
		   {0x9, 64}, {0xa, 128}, {0xb, 1}, {0x4, 2} /* bit 2 is reserved */};

	sw_enable(f);
	wr(f, LVT_TIMER, 0x42);
	for (size_t i = 0; i < sizeof(div) / sizeof(div[0]); i++) {
		wr(f, TIMER_DIVIDE, div[i].code);
		wr(f, TIMER_INITIAL, 10);
		fake_evloop_advance(f->loop, 10ull * div[i].divisor - 1);
		assert_int_equal(rd(f, TIMER_CURRENT), 1);
		assert_false(irr_has(f, 0x42));
		fake_evloop_advance(f->loop, 1);
		assert_int_equal(take(f), 0x42);
		wr(f, EOI, 0);
	}
}

static void test_timer_divide_change_keeps_count(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, 0x42);
	wr(f, TIMER_INITIAL, 1000);
	fake_evloop_advance(f->loop, 400);
	wr(f, TIMER_DIVIDE, 0x3); /* divide by 16 */
	assert_int_equal(rd(f, TIMER_CURRENT), 600);
	fake_evloop_advance(f->loop, 160);
	assert_int_equal(rd(f, TIMER_CURRENT), 590);
	fake_evloop_advance(f->loop, 590 * 16 - 1);
	assert_false(irr_has(f, 0x42));
	fake_evloop_advance(f->loop, 1);
	assert_true(irr_has(f, 0x42));
}

static void test_timer_masked_counts(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, MASKED | 0x43);
	wr(f, TIMER_INITIAL, 1000);
	fake_evloop_advance(f->loop, 500);
	assert_int_equal(rd(f, TIMER_CURRENT), 500);
	fake_evloop_advance(f->loop, 600);
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
	assert_false(irr_has(f, 0x43));
	/* Unmasking later does not deliver the missed expiry. */
	wr(f, LVT_TIMER, 0x43);
	assert_false(irr_has(f, 0x43));
	/* Periodic, masked: counts on, no interrupt. */
	wr(f, LVT_TIMER, MASKED | PERIODIC | 0x43);
	wr(f, TIMER_INITIAL, 100);
	fake_evloop_advance(f->loop, 1000);
	assert_false(irr_has(f, 0x43));
	assert_int_equal(rd(f, TIMER_CURRENT), 100);
	wr(f, LVT_TIMER, PERIODIC | 0x43);
	fake_evloop_advance(f->loop, 100000);
	assert_true(irr_has(f, 0x43));
}

static void test_timer_illegal_vector(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, 0x0f);
	wr(f, TIMER_INITIAL, 10);
	fake_evloop_advance(f->loop, 10);
	assert_int_equal(rd(f, IRR(0)), 0);
	assert_int_equal(esr_read(f), ESR_RECV_ILLEGAL);
}

static void test_timer_deadline_mode_is_reserved(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, (2u << 17) | 0x44); /* TSC-deadline: not advertised, acts one-shot */
	assert_int_equal(rd(f, LVT_TIMER), 0x44);
	wr(f, TIMER_INITIAL, 100);
	fake_evloop_advance(f->loop, 100);
	assert_int_equal(take(f), 0x44);
	wr(f, EOI, 0);
	fake_evloop_advance(f->loop, 1000);
	assert_int_equal(take(f), -1);
	wr(f, LVT_TIMER, (3u << 17) | 0x44); /* 11b: the periodic bit only */
	assert_int_equal(rd(f, LVT_TIMER), PERIODIC | 0x44);
}

static void test_timer_periodic_rate_is_capped(void **state)
{
	struct fixture *f = *state;
	int taken = 0;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, PERIODIC | 0x45);
	wr(f, TIMER_INITIAL, 1); /* a 1 ns period */
	for (int i = 0; i < 100; i++) {
		fake_evloop_advance(f->loop, 10000);
		if (take(f) == 0x45) {
			taken++;
			wr(f, EOI, 0);
		}
	}
	/* 1 ms of guest time: at most one interrupt per 50 us plus the first. */
	assert_true(taken >= 10 && taken <= 21);
	assert_int_equal(rd(f, TIMER_CURRENT), 1);
}

static void test_timer_reset_by_init(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, LVT_TIMER, 0x46);
	wr(f, TIMER_INITIAL, 100);
	lapic_init_signal(f->apic);
	assert_int_equal(rd(f, TIMER_INITIAL), 0);
	assert_int_equal(rd(f, TIMER_CURRENT), 0);
	fake_evloop_advance(f->loop, 1000);
	assert_int_equal(rd(f, IRR(2)), 0);
}

/* ---- software and hardware disable ---- */

static void test_software_disable(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, LVT_TIMER, 0x40);
	wr(f, LVT_LINT0, DM(7));
	wr(f, LVT_ERROR, 0xfe);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x50, false);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x60, false);
	assert_int_equal(take(f), 0x60);
	wr(f, SVR, 0x0ff); /* software disable */
	for (uint64_t off = LVT_TIMER; off <= LVT_ERROR; off += 0x10)
		assert_true(rd(f, off) & MASKED);
	assert_int_equal(rd(f, LVT_TIMER), MASKED | 0x40);
	/* Masks cannot be cleared while disabled. */
	wr(f, LVT_TIMER, 0x40);
	assert_int_equal(rd(f, LVT_TIMER), MASKED | 0x40);
	/* IRR and ISR held; the held interrupt is still deliverable after EOI. */
	assert_true(isr_has(f, 0x60));
	assert_true(irr_has(f, 0x50));
	wr(f, EOI, 0);
	assert_int_equal(lapic_pending_vector(f->apic), 0x50);
	/* New fixed interrupts are not accepted; NMI, INIT, SIPI are. */
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x70, false);
	assert_false(irr_has(f, 0x70));
	lapic_accept(f->apic, LAPIC_DM_NMI, 0, false);
	assert_int_equal(lapic_take_events(f->apic, NULL), LAPIC_EVENT_NMI);
	/* The timer runs but cannot interrupt. */
	wr(f, TIMER_DIVIDE, DIV_1);
	wr(f, TIMER_INITIAL, 10);
	fake_evloop_advance(f->loop, 100);
	assert_false(irr_has(f, 0x40));
	/* IPIs are still sent. */
	wr(f, ICR_HIGH, 1u << 24);
	wr(f, ICR_LOW, 0x4031);
	assert_int_equal(f->nipis, 1);
	/* Re-enabling leaves the masks set until software clears them. */
	sw_enable(f);
	assert_int_equal(rd(f, LVT_TIMER), MASKED | 0x40);
	wr(f, LVT_TIMER, 0x40);
	assert_int_equal(rd(f, LVT_TIMER), 0x40);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x70, false);
	assert_true(irr_has(f, 0x70));
}

static void test_hardware_disable(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, ID, 0x09000000);
	wr(f, LVT_LINT0, DM(7));
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x50, false);
	assert_int_equal(lapic_set_base(f->apic, 0xfee00000), 0); /* EN = 0 */
	assert_int_equal(lapic_get_base(f->apic), 0xfee00100);	  /* BSP flag stays */
	assert_false(lapic_mmio_hit(f->apic, 0xfee00000));
	assert_int_equal(lapic_mmio_read(f->apic, SVR, 4), 0);
	lapic_mmio_write(f->apic, SVR, 4, 0x1ff);
	assert_int_equal(lapic_pending_vector(f->apic), -1);
	assert_false(lapic_match_dest(f->apic, 9, false));
	assert_false(lapic_match_dest(f->apic, 0xff, false));
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x51, false);
	lapic_accept(f->apic, LAPIC_DM_INIT, 0, false);
	assert_int_equal(lapic_take_events(f->apic, NULL), 0);
	/* LINT0 passes the PIC's INTR straight through. */
	assert_false(lapic_extint_pending(f->apic));
	f->kicks = 0;
	lapic_set_lint0(f->apic, 1);
	assert_true(lapic_extint_pending(f->apic));
	assert_true(f->kicks > 0);
	lapic_set_lint0(f->apic, 0);
	assert_false(lapic_extint_pending(f->apic));
	assert_int_equal(lapic_ack(f->apic, 0x50), 0xff);
	/* Re-enabled: power-up state (ID back to the initial one), base kept. */
	assert_int_equal(lapic_set_base(f->apic, 0xfee00800), 0);
	assert_true(lapic_mmio_hit(f->apic, 0xfee00000));
	assert_int_equal(rd(f, ID), APIC_ID << 24);
	assert_int_equal(rd(f, SVR), 0xff);
	assert_int_equal(rd(f, LVT_LINT0), MASKED);
	assert_int_equal(rd(f, IRR(2)), 0);
	lapic_set_lint0(f->apic, 1);
	assert_false(lapic_extint_pending(f->apic)); /* LINT0 masked now */
}

static void test_base_relocation_and_reserved_bits(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(lapic_set_base(f->apic, 0xfeb00800), 0);
	assert_int_equal(lapic_get_base(f->apic), 0xfeb00900);
	assert_true(lapic_mmio_hit(f->apic, 0xfeb00000));
	assert_true(lapic_mmio_hit(f->apic, 0xfeb00ff0));
	assert_false(lapic_mmio_hit(f->apic, 0xfee00000));
	assert_int_equal(lapic_set_base(f->apic, 0x00ffff000800ull), 0);
	assert_true(lapic_mmio_hit(f->apic, 0xffff000000ull));
	/* Reserved: bits 0-7, 9, 10 (x2APIC not advertised), MAXPHYADDR and above. */
	assert_int_equal(lapic_set_base(f->apic, 0xfee00801), -EINVAL);
	assert_int_equal(lapic_set_base(f->apic, 0xfee00a00), -EINVAL);
	assert_int_equal(lapic_set_base(f->apic, 0xfee00c00), -EINVAL);
	assert_int_equal(lapic_set_base(f->apic, 1ull << LAPIC_PHYS_ADDR_BITS | 0x800), -EINVAL);
	assert_int_equal(lapic_set_base(f->apic, 1ull << 63 | 0x800), -EINVAL);
	assert_true(lapic_mmio_hit(f->apic, 0xffff000000ull));
	/* The guest cannot clear the BSP flag. */
	assert_int_equal(lapic_set_base(f->apic, 0xfee00800), 0);
	assert_int_equal(lapic_get_base(f->apic), 0xfee00900);
	/* lapic_reset restores the default base. */
	lapic_set_base(f->apic, 0xfeb00800);
	lapic_reset(f->apic);
	assert_int_equal(lapic_get_base(f->apic), 0xfee00900);
}

/* ---- LINT0 ---- */

static void test_lint0_extint(void **state)
{
	struct fixture *f = *state;

	lapic_set_lint0(f->apic, 1);
	assert_false(lapic_extint_pending(f->apic)); /* software-disabled: LVT masked */
	sw_enable(f);
	f->kicks = 0;
	wr(f, LVT_LINT0, DM(7)); /* virtual wire: ExtINT, unmasked */
	assert_true(lapic_extint_pending(f->apic));
	assert_true(f->kicks > 0);
	lapic_set_lint0(f->apic, 0);
	assert_false(lapic_extint_pending(f->apic));
	lapic_set_lint0(f->apic, 1);
	assert_true(lapic_extint_pending(f->apic));
	/* ExtINT is not subject to TPR. */
	wr(f, TPR, 0xff);
	assert_true(lapic_extint_pending(f->apic));
	wr(f, LVT_LINT0, MASKED | DM(7));
	assert_false(lapic_extint_pending(f->apic));
	wr(f, LVT_LINT0, DM(0) | 0x30);
	assert_false(lapic_extint_pending(f->apic));
}

static void test_extint_message(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	lapic_accept(f->apic, LAPIC_DM_EXTINT, 0, false);
	assert_true(lapic_extint_pending(f->apic));
	assert_true(lapic_extint_pending(f->apic)); /* a query does not consume it */
	lapic_extint_ack(f->apic);
	assert_false(lapic_extint_pending(f->apic));
}

static void test_lint0_fixed_and_nmi(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	/* Edge-triggered fixed: one interrupt per asserted edge. */
	wr(f, LVT_LINT0, 0x33);
	lapic_set_lint0(f->apic, 1);
	lapic_set_lint0(f->apic, 1);
	assert_int_equal(take(f), 0x33);
	wr(f, EOI, 0);
	assert_int_equal(take(f), -1);
	lapic_set_lint0(f->apic, 0);
	lapic_set_lint0(f->apic, 1);
	assert_int_equal(take(f), 0x33);
	wr(f, EOI, 0);
	lapic_set_lint0(f->apic, 0);
	/* Level-triggered fixed: remote IRR until EOI; re-delivered while asserted. */
	wr(f, LVT_LINT0, LEVEL | 0x34);
	lapic_set_lint0(f->apic, 1);
	assert_true(rd(f, LVT_LINT0) & REMOTE_IRR);
	assert_true(tmr_has(f, 0x34));
	assert_int_equal(take(f), 0x34);
	wr(f, EOI, 0);
	assert_int_equal(f->neois, 1); /* level-triggered EOI is broadcast */
	assert_true(rd(f, LVT_LINT0) & REMOTE_IRR);
	assert_int_equal(take(f), 0x34);
	lapic_set_lint0(f->apic, 0);
	wr(f, EOI, 0);
	assert_false(rd(f, LVT_LINT0) & REMOTE_IRR);
	assert_int_equal(take(f), -1);
	/* Active low. */
	wr(f, LVT_LINT0, ACTIVE_LOW | 0x35);
	lapic_set_lint0(f->apic, 1);
	assert_int_equal(take(f), -1);
	lapic_set_lint0(f->apic, 0);
	assert_int_equal(take(f), 0x35);
	wr(f, EOI, 0);
	/* NMI mode. */
	wr(f, LVT_LINT0, DM(4));
	lapic_set_lint0(f->apic, 1);
	lapic_set_lint0(f->apic, 0);
	assert_int_equal(lapic_take_events(f->apic, NULL), LAPIC_EVENT_NMI);
	/* Masked: nothing. */
	wr(f, LVT_LINT0, MASKED | 0x36);
	lapic_set_lint0(f->apic, 1);
	assert_int_equal(take(f), -1);
}

/* ---- NMI, INIT, SIPI ---- */

static void test_init_sipi_nmi(void **state)
{
	struct fixture *f = *state;
	uint8_t sipi = 0;

	sw_enable(f);
	wr(f, ID, 0x0a000000);
	wr(f, TPR, 0x20);
	wr(f, LDR, 0x01000000);
	wr(f, DFR, 0x0fffffff);
	lapic_accept(f->apic, LAPIC_DM_FIXED, 0x55, true);
	lapic_accept(f->apic, LAPIC_DM_NMI, 0, false);
	f->kicks = 0;
	lapic_accept(f->apic, LAPIC_DM_INIT, 0, false);
	assert_true(f->kicks > 0);
	/* INIT: everything back to power-up state but the ID (SDM 11.4.7.3). */
	assert_int_equal(rd(f, ID), 0x0a000000);
	assert_int_equal(rd(f, TPR), 0);
	assert_int_equal(rd(f, LDR), 0);
	assert_int_equal(rd(f, DFR), 0xffffffff);
	assert_int_equal(rd(f, SVR), 0xff);
	assert_int_equal(rd(f, IRR(2)), 0);
	assert_int_equal(rd(f, TMR(2)), 0);
	assert_int_equal(lapic_get_base(f->apic), 0xfee00900);
	lapic_accept(f->apic, LAPIC_DM_STARTUP, 0x9a, false);
	assert_int_equal(lapic_take_events(f->apic, &sipi), LAPIC_EVENT_INIT | LAPIC_EVENT_SIPI);
	assert_int_equal(sipi, 0x9a);
	assert_int_equal(lapic_take_events(f->apic, &sipi), 0);
	/* The latest SIPI vector wins; NULL is accepted for the vector. */
	lapic_accept(f->apic, LAPIC_DM_STARTUP, 0x10, false);
	lapic_accept(f->apic, LAPIC_DM_STARTUP, 0x11, false);
	assert_int_equal(lapic_take_events(f->apic, &sipi), LAPIC_EVENT_SIPI);
	assert_int_equal(sipi, 0x11);
	lapic_accept(f->apic, LAPIC_DM_STARTUP, 0x12, false);
	assert_int_equal(lapic_take_events(f->apic, NULL), LAPIC_EVENT_SIPI);
	/* SMI and reserved modes do nothing. */
	lapic_accept(f->apic, LAPIC_DM_SMI, 0, false);
	lapic_accept(f->apic, (enum lapic_delivery)3, 0x40, false);
	assert_int_equal(lapic_take_events(f->apic, NULL), 0);
}

static void test_init_signal_keeps_id_base_and_events(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, ID, 0x0b000000);
	lapic_set_base(f->apic, 0xfeb00800);
	lapic_accept(f->apic, LAPIC_DM_STARTUP, 0x20, false);
	lapic_init_signal(f->apic);
	assert_int_equal(lapic_get_base(f->apic), 0xfeb00900);
	assert_int_equal(lapic_mmio_read(f->apic, ID, 4), 0x0b000000);
	assert_int_equal(lapic_mmio_read(f->apic, SVR, 4), 0xff);
	assert_int_equal(lapic_take_events(f->apic, NULL), LAPIC_EVENT_SIPI);
	/* Full reset: ID back, base back, events gone. */
	lapic_accept(f->apic, LAPIC_DM_NMI, 0, false);
	lapic_reset(f->apic);
	assert_int_equal(rd(f, ID), APIC_ID << 24);
	assert_int_equal(lapic_take_events(f->apic, NULL), 0);
}

/* ---- ICR ---- */

static void test_icr_send(void **state)
{
	struct fixture *f = *state;

	wr(f, ICR_HIGH, 0x05ffffff);
	wr(f, ICR_LOW, 0xfff3ffff & ~(7u << 8)); /* fixed, vector 0xff, every bit */
	assert_int_equal(f->nipis, 1);
	assert_int_equal(f->ipis[0].icr_low, 0x000048ff); /* sent edge-triggered */
	assert_int_equal(f->ipis[0].dest, 5);
	assert_int_equal(rd(f, ICR_LOW), 0x0000c8ff); /* delivery status idle */
	assert_int_equal(rd(f, ICR_HIGH), 0x05000000);
	/* Linux's AP start-up: INIT assert, INIT de-assert (not sent), two SIPIs. */
	f->nipis = 0;
	wr(f, ICR_HIGH, 0x01000000);
	wr(f, ICR_LOW, LEVEL | ASSERT | DM(5));
	wr(f, ICR_LOW, LEVEL | DM(5));
	wr(f, ICR_LOW, DM(6) | 0x9a);
	wr(f, ICR_LOW, DM(6) | 0x9a);
	assert_int_equal(f->nipis, 3);
	assert_int_equal(f->ipis[0].icr_low, ASSERT | DM(5));
	assert_int_equal(f->ipis[1].icr_low, DM(6) | 0x9a);
	assert_int_equal(f->ipis[2].dest, 1);
	/* NMI, lowest priority, logical, shorthands "all" and "all but self" pass through. */
	f->nipis = 0;
	wr(f, ICR_LOW, DM(4));
	wr(f, ICR_LOW, DM(1) | (1u << 11) | 0x31);
	wr(f, ICR_LOW, SHORTHAND(2) | 0xfd);
	wr(f, ICR_LOW, SHORTHAND(3) | DM(4));
	assert_int_equal(f->nipis, 4);
	assert_int_equal(f->ipis[2].icr_low, SHORTHAND(2) | 0xfd);
	assert_int_equal(f->ipis[3].icr_low, SHORTHAND(3) | DM(4));
	/* Not sent: SMI, reserved 011b, ExtINT. */
	f->nipis = 0;
	wr(f, ICR_LOW, DM(2));
	wr(f, ICR_LOW, DM(3) | 0x40);
	wr(f, ICR_LOW, DM(7));
	assert_int_equal(f->nipis, 0);
	assert_int_equal(esr_read(f), 0);
}

static void test_icr_illegal_vector(void **state)
{
	struct fixture *f = *state;

	wr(f, ICR_LOW, 0x0f);
	wr(f, ICR_LOW, DM(1) | 0x01);
	assert_int_equal(f->nipis, 0);
	assert_int_equal(esr_read(f), ESR_SEND_ILLEGAL);
	/* Vectors do not matter for NMI and INIT. */
	wr(f, ICR_LOW, DM(4) | 0x02);
	assert_int_equal(f->nipis, 1);
	assert_int_equal(esr_read(f), 0);
}

static void test_icr_self(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, ICR_LOW, SHORTHAND(1) | 0x77);
	assert_int_equal(f->nipis, 0);
	assert_int_equal(take(f), 0x77);
	wr(f, EOI, 0);
	assert_int_equal(f->neois, 0);
	wr(f, ICR_LOW, SHORTHAND(1) | LEVEL | ASSERT | 0x78); /* level overridden: edge */
	assert_true(irr_has(f, 0x78));
	assert_false(tmr_has(f, 0x78));
	wr(f, ICR_LOW, SHORTHAND(1) | DM(4));
	assert_int_equal(lapic_take_events(f->apic, NULL), LAPIC_EVENT_NMI);
	/* INIT and STARTUP to self are invalid and dropped. */
	wr(f, ICR_LOW, SHORTHAND(1) | DM(5) | ASSERT | LEVEL);
	wr(f, ICR_LOW, SHORTHAND(1) | DM(6) | 0x10);
	assert_int_equal(lapic_take_events(f->apic, NULL), 0);
	assert_int_equal(f->nipis, 0);
	assert_int_equal(rd(f, SVR), 0x1ff);
	/* An illegal self vector. */
	wr(f, ICR_LOW, SHORTHAND(1) | 0x03);
	assert_int_equal(esr_read(f), ESR_SEND_ILLEGAL);
}

static void test_icr_routed_back_without_lock(void **state)
{
	struct fixture *f = *state;

	f->route_back = true;
	sw_enable(f);
	wr(f, ICR_HIGH, (uint32_t)APIC_ID << 24);
	wr(f, ICR_LOW, 0x66);
	assert_int_equal(f->nipis, 1);
	assert_int_equal(take(f), 0x66);
	wr(f, EOI, 0);
	wr(f, ICR_LOW, SHORTHAND(2) | 0x67);
	assert_int_equal(take(f), 0x67);
}

/* ---- destinations (SDM 11.6.2) ---- */

static void test_match_dest(void **state)
{
	struct fixture *f = *state;

	assert_true(lapic_match_dest(f->apic, APIC_ID, false));
	assert_false(lapic_match_dest(f->apic, APIC_ID + 1, false));
	assert_true(lapic_match_dest(f->apic, 0xff, false));
	wr(f, ID, 0x20000000);
	assert_true(lapic_match_dest(f->apic, 0x20, false));
	assert_false(lapic_match_dest(f->apic, APIC_ID, false));
	/* Logical, flat: LDR bit mask. */
	assert_false(lapic_match_dest(f->apic, 0x01, true)); /* LDR 0 */
	wr(f, LDR, 0x04000000);
	assert_true(lapic_match_dest(f->apic, 0x04, true));
	assert_true(lapic_match_dest(f->apic, 0x0f, true));
	assert_false(lapic_match_dest(f->apic, 0x0b, true));
	assert_true(lapic_match_dest(f->apic, 0xff, true));
	/* Logical, cluster: cluster 2, member bit 1. */
	wr(f, DFR, 0x0fffffff);
	wr(f, LDR, 0x22000000);
	assert_true(lapic_match_dest(f->apic, 0x22, true));
	assert_true(lapic_match_dest(f->apic, 0x23, true));
	assert_false(lapic_match_dest(f->apic, 0x21, true));
	assert_false(lapic_match_dest(f->apic, 0x32, true));
	assert_true(lapic_match_dest(f->apic, 0xf2, true)); /* all clusters */
	assert_true(lapic_match_dest(f->apic, 0xff, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_reset_state),
	    T(test_ap_base),
	    T(test_writable_bits),
	    T(test_access_sizes_and_offsets),
	    T(test_reserved_registers_log_errors),
	    T(test_error_interrupt_armed_once),
	    T(test_illegal_error_vector_does_not_loop),
	    T(test_illegal_vectors_rejected),
	    T(test_priority_and_nesting),
	    T(test_ppr_and_apr),
	    T(test_cr8),
	    T(test_eoi_level_triggered),
	    T(test_eoi_reenters_without_lock),
	    T(test_spurious_on_vanished_interrupt),
	    T(test_ack_lower_vector_still_pending),
	    T(test_timer_one_shot),
	    T(test_timer_restart_and_stop),
	    T(test_timer_periodic),
	    T(test_timer_periodic_current_count),
	    T(test_timer_divider),
	    T(test_timer_divide_change_keeps_count),
	    T(test_timer_masked_counts),
	    T(test_timer_illegal_vector),
	    T(test_timer_deadline_mode_is_reserved),
	    T(test_timer_periodic_rate_is_capped),
	    T(test_timer_reset_by_init),
	    T(test_software_disable),
	    T(test_hardware_disable),
	    T(test_base_relocation_and_reserved_bits),
	    T(test_lint0_extint),
	    T(test_extint_message),
	    T(test_lint0_fixed_and_nmi),
	    T(test_init_sipi_nmi),
	    T(test_init_signal_keeps_id_base_and_events),
	    T(test_icr_send),
	    T(test_icr_illegal_vector),
	    T(test_icr_self),
	    T(test_icr_routed_back_without_lock),
	    T(test_match_dest),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
