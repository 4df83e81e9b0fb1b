/*
 * libFuzzer harness for the local APIC. The input is a sequence of operations on a fresh APIC,
 * each an opcode byte (low 4 bits: the operation, high 4 bits: its modifiers) and its operands:
 *   0, 1  register write: [slot] [value u32]; slot * 16 is the offset; modifiers pick the size
 *         (bits 4-5: 1, 2, 4, 8 bytes) and a misalignment (bit 6: +4, bit 7: +1)
 *   2     register read: [slot], same modifiers
 *   3     message: [mode] [vector] [level]
 *   4     the CPU takes the pending interrupt (bit 4: ack a vector from the input instead)
 *   5     EOI
 *   6     clock: [u16] ns, scaled by the modifiers (x1, x1000, x1000000), 2 s per input at most
 *   7     IA32_APIC_BASE: modifiers pick default+EN, EN clear, relocated, or [u64] from the input
 *   8     LINT0 level: bit 4
 *   9     take events, ExtINT query, ExtINT ack
 *   10    CR8: [value]
 *   11    destination match: [dest] [logical]
 *   12    INIT signal (bit 4: full reset)
 *   13    software enable with a spurious vector [vector]
 *   14, 15 write a frequently used register (ICR, LVT, timer, TPR, ESR): [which] [value u32]
 *
 * The engine's side is played by the callbacks: IPIs and EOIs are routed back into the same APIC
 * (so the APIC must have dropped its lock). Checked besides the sanitizers: pending vectors are
 * 16-255 and above PPR, IRR never holds 0-15, acks return the vector or the spurious vector, sent
 * ICR words have no reserved bits, an edge trigger, no "self" shorthand and an idle delivery
 * status, and a clock advance interrupts no more often than the periodic timer's rate cap allows.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fake_evloop.h"
#include "hostvisor/lapic.h"

#define TIME_BUDGET_NS 2000000000ull
#define MIN_PERIOD_NS 50000ull /* LAPIC_TIMER_MIN_PERIOD_NS in src/dev/lapic.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	struct lapic *apic;
	uint64_t time_ns;
	unsigned kicks;
	unsigned depth; /* routing re-entry */
};

static void check(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void route_ipi(void *opaque, uint32_t icr_low, uint8_t dest)
{
	struct run *r = opaque;
	unsigned shorthand = icr_low >> 18 & 3;

	check(!(icr_low & ~0x000c4fffu)); /* no reserved bits, idle, edge-triggered */
	check(shorthand != 1);
	check(r->depth == 0);
	r->depth++;
	if (shorthand == 2 || lapic_match_dest(r->apic, dest, icr_low & (1u << 11)))
		lapic_accept(r->apic, (enum lapic_delivery)(icr_low >> 8 & 7), icr_low & 0xff,
			     icr_low & (1u << 15));
	r->depth--;
}

static void route_eoi(void *opaque, uint8_t vector)
{
	struct run *r = opaque;

	check(vector >= 16);
	check(r->depth == 0);
	r->depth++;
	/* An I/O APIC pin still asserted sends again. */
	if (vector & 1)
		lapic_accept(r->apic, LAPIC_DM_FIXED, vector, true);
	r->depth--;
}

static void count_kick(void *opaque)
{
	struct run *r = opaque;

	r->kicks++;
}

static const struct lapic_ops ops = {
    .send_ipi = route_ipi,
    .eoi = route_eoi,
    .kick = count_kick,
};

static uint32_t reg(struct run *r, uint64_t off)
{
	return (uint32_t)lapic_mmio_read(r->apic, off, 4);
}

static void check_state(struct run *r)
{
	int v = lapic_pending_vector(r->apic);

	if (!lapic_mmio_hit(r->apic, lapic_get_base(r->apic) & ~0xfffull)) {
		check(v == -1);
		return;
	}
	check((reg(r, 0x200) & 0xffff) == 0);
	check((reg(r, 0x100) & 0xffff) == 0);
	if (v >= 0) {
		check(v >= 16 && v <= 255);
		check(((unsigned)v & 0xf0) > (reg(r, 0xa0) & 0xf0));
	}
}

static void run_advance(struct run *r, uint64_t ns)
{
	unsigned before = r->kicks;

	if (r->time_ns + ns > TIME_BUDGET_NS)
		ns = TIME_BUDGET_NS - r->time_ns;
	r->time_ns += ns;
	fake_evloop_advance(r->loop, ns);
	/* One one-shot expiry, periodic ones at most every MIN_PERIOD_NS, one error interrupt. */
	check(r->kicks - before <= 4 + ns / MIN_PERIOD_NS);
}

static void run_access(struct run *r, struct input *in, uint8_t op)
{
	static const unsigned sizes[] = {4, 1, 2, 8};
	uint64_t off = take(in, 1) * 16;

	if (op & 0x40)
		off += 4;
	if (op & 0x80)
		off += 1;
	if ((op & 0xf) == 2)
		lapic_mmio_read(r->apic, off, sizes[op >> 4 & 3]);
	else
		lapic_mmio_write(r->apic, off, sizes[op >> 4 & 3], take(in, 4));
}

static void run_ack(struct run *r, struct input *in, uint8_t op)
{
	int v = lapic_pending_vector(r->apic);
	bool mapped = lapic_mmio_hit(r->apic, lapic_get_base(r->apic) & ~0xfffull);
	/* A hardware-disabled APIC is in its reset state: spurious vector 0xff. */
	uint8_t spurious = mapped ? (uint8_t)reg(r, 0xf0) : 0xff;
	uint8_t want = (op & 0x10) ? (uint8_t)take(in, 1) : (uint8_t)v;
	uint8_t got;

	if (!(op & 0x10) && v < 0)
		return;
	got = lapic_ack(r->apic, want);
	check(got == want || got == spurious);
}

static void run_base(struct run *r, struct input *in, uint8_t op)
{
	static const uint64_t bases[] = {LAPIC_DEFAULT_BASE | LAPIC_BASE_ENABLE, LAPIC_DEFAULT_BASE,
					 0xfeb00000ull | LAPIC_BASE_ENABLE};
	unsigned which = op >> 4 & 3;

	if (which < 3)
		check(lapic_set_base(r->apic, bases[which]) == 0);
	else
		lapic_set_base(r->apic, take(in, 8));
}

static void run_misc(struct run *r, struct input *in, uint8_t op)
{
	uint8_t sipi;

	switch (op & 0xf) {
	case 8:
		lapic_set_lint0(r->apic, op >> 4 & 1);
		break;
	case 9:
		lapic_take_events(r->apic, (op & 0x10) ? &sipi : NULL);
		if (lapic_extint_pending(r->apic) && (op & 0x20))
			lapic_extint_ack(r->apic);
		break;
	case 10:
		lapic_set_cr8(r->apic, take(in, 1));
		check(lapic_get_cr8(r->apic) <= 15);
		break;
	case 11:
		lapic_match_dest(r->apic, (uint8_t)take(in, 1), take(in, 1) & 1);
		break;
	case 12:
		if (op & 0x10)
			lapic_reset(r->apic);
		else
			lapic_init_signal(r->apic);
		break;
	default: /* 13 */
		lapic_mmio_write(r->apic, 0xf0, 4, 0x100 | take(in, 1));
		break;
	}
}

static void run_op(struct run *r, struct input *in)
{
	static const uint16_t hot[] = {0x300, 0x310, 0x320, 0x350, 0x370, 0x380,
				       0x3e0, 0x080, 0x280, 0x0e0, 0x0d0, 0x020};
	uint8_t op = (uint8_t)take(in, 1);
	uint16_t which;

	switch (op & 0xf) {
	case 0:
	case 1:
	case 2:
		run_access(r, in, op);
		break;
	case 3:
		lapic_accept(r->apic, (enum lapic_delivery)(take(in, 1) & 7), (uint8_t)take(in, 1),
			     take(in, 1) & 1);
		break;
	case 4:
		run_ack(r, in, op);
		break;
	case 5:
		lapic_mmio_write(r->apic, 0xb0, 4, 0);
		break;
	case 6: {
		static const uint64_t scale[] = {1, 1000, 1000000, 1};
		run_advance(r, take(in, 2) * scale[op >> 4 & 3]);
		break;
	}
	case 7:
		run_base(r, in, op);
		break;
	case 14:
	case 15:
		which = hot[take(in, 1) % (sizeof(hot) / sizeof(hot[0]))];
		lapic_mmio_write(r->apic, which, 4, take(in, 4));
		break;
	default:
		run_misc(r, in, op);
		break;
	}
	check_state(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct run r = {0};

	r.loop = evloop_create();
	if (!r.loop)
		abort();
	r.apic = lapic_create(&ops, &r, r.loop, 1, true);
	if (!r.apic)
		abort();
	while (in.n)
		run_op(&r, &in);
	run_advance(&r, 1000000);
	lapic_destroy(r.apic);
	evloop_destroy(r.loop);
	return 0;
}
