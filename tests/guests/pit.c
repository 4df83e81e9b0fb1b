/*
 * The 8254 PIT's counter 0 at ~1000 Hz (Intel 8254 datasheet: mode 2, rate generator), taken
 * two ways and counted against the ACPI PM timer:
 *  1. I/O APIC: ISA IRQ 0 at the GSI the MADT's override names (pin 2 on a PC), fixed delivery
 *     to this CPU's local APIC, software-enabled through SVR (SDM 3A 11.4.7.2); 8259s masked.
 *  2. 8259: ICW1-4 with vectors 0x20-0x2f, IRQ 0 unmasked, LAPIC LVT0 in ExtINT mode
 *     (virtual-wire, SDM 3A 11.5.1); the I/O APIC pin masked.
 * Each phase must see 1000 Hz within 10%, and nothing on the other path's vector.
 */
#include "guest.h"

const char guest_name[] = "pit";

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_CH0_LOHI_MODE2 0x34
#define PIT_CH0_MODE0 0x30
#define PIT_HZ 1193182u
#define PIT_DIVISOR 1193u /* 1000.15 Hz */
#define VEC_IOAPIC 0x40
#define VEC_PIC 0x20
#define VEC_SPURIOUS 0xff
#define LVT_MASKED 0x10000u
#define LVT_EXTINT 0x700u
#define PHASE_US 500000u
#define RATE_TOLERANCE_PCT 10

/* Counts interrupts on vec over about PHASE_US with IF set; returns the rate in Hz. */
static uint64_t measure_rate(uint8_t vec, uint8_t other_vec, uint64_t *other)
{
	uint64_t hz = tsc_hz();
	uint64_t n0 = irq_count[vec], o0 = irq_count[other_vec];
	uint32_t p0 = pmtimer_read();
	uint64_t t0 = rdtsc();

	irq_enable();
	/* Spin on the TSC at ring 3 rather than on the PM timer, whose every read is an exit. */
	if (hz) {
		while (rdtsc() - t0 < hz / 1000000 * PHASE_US)
			cpu_relax();
	} else {
		pmtimer_delay_us(PHASE_US);
	}
	irq_disable();
	uint32_t ticks = pmtimer_elapsed(p0);
	uint64_t n = irq_count[vec] - n0;

	*other = irq_count[other_vec] - o0;
	return ticks ? n * PM_TIMER_HZ / ticks : 0;
}

/*
 * An interrupt the source sent after IF was cleared but before it was masked waits in the local
 * APIC (or the 8259) and would be taken in the next phase, on the other path's vector: let it in
 * now, with the source masked, so that each phase counts only its own.
 */
static void drain_pending(void)
{
	uint64_t hz = tsc_hz(), t0 = rdtsc();

	irq_enable();
	if (hz) {
		while (rdtsc() - t0 < hz / 1000)
			cpu_relax();
	} else {
		pmtimer_delay_us(1000);
	}
	irq_disable();
}

static bool rate_ok(uint64_t rate)
{
	uint64_t want = PIT_HZ / PIT_DIVISOR;

	return rate * 100 >= want * (100 - RATE_TOLERANCE_PCT) &&
	       rate * 100 <= want * (100 + RATE_TOLERANCE_PCT);
}

static void pit_start(uint16_t divisor)
{
	outb(PIT_CMD, PIT_CH0_LOHI_MODE2);
	outb(PIT_CH0, (uint8_t)divisor);
	outb(PIT_CH0, (uint8_t)(divisor >> 8));
}

/* A control word stops the counter until a new count is written (datasheet, "Write Operations"). */
static void pit_stop(void)
{
	outb(PIT_CMD, PIT_CH0_MODE0);
}

static void phase_ioapic(uint64_t lapic, uint64_t ioapic, unsigned gsi)
{
	uint32_t ver = ioapic_read(ioapic, 1);
	unsigned pins = ((ver >> 16) & 0xff) + 1;
	uint64_t other;

	gprintf("PIT IOAPIC id %u version 0x%x pins %u; ISA IRQ0 -> GSI %u -> vector 0x%x\n",
		ioapic_read(ioapic, 0) >> 24, ver & 0xff, pins, gsi, VEC_IOAPIC);
	if (!check(gsi < pins, "pit.ioapic.pin", "GSI %u beyond the %u pins", gsi, pins))
		return;
	ioapic_route(ioapic, gsi, VEC_IOAPIC, lapic_id(lapic));
	uint64_t rate = measure_rate(VEC_IOAPIC, VEC_PIC, &other);

	ioapic_mask(ioapic, gsi);
	drain_pending();
	gprintf("PIT via IOAPIC: %lu Hz (8259 vector: %lu)\n", rate, other);
	check(rate_ok(rate) && !other, "pit.ioapic", "%lu Hz, want %u +- %u%%; %lu on 0x%x", rate,
	      PIT_HZ / PIT_DIVISOR, RATE_TOLERANCE_PCT, other, VEC_PIC);
}

static void phase_pic(uint64_t lapic)
{
	uint64_t other;

	lapic_write(lapic, LAPIC_LVT0, LVT_EXTINT);
	pic_set_mask(0xfffe);
	uint64_t rate = measure_rate(VEC_PIC, VEC_IOAPIC, &other);

	pic_set_mask(0xffff);
	drain_pending();
	lapic_write(lapic, LAPIC_LVT0, LVT_MASKED | LVT_EXTINT);
	gprintf("PIT via 8259: %lu Hz (IOAPIC vector: %lu)\n", rate, other);
	check(rate_ok(rate) && !other, "pit.pic", "%lu Hz, want %u +- %u%%; %lu on 0x%x", rate,
	      PIT_HZ / PIT_DIVISOR, RATE_TOLERANCE_PCT, other, VEC_IOAPIC);
}

void guest_main(void)
{
	const struct acpi_info *a = acpi();
	uint64_t lapic = a->lapic_addr ? a->lapic_addr : 0xfee00000u;
	uint64_t ioapic = a->ioapic_addr ? a->ioapic_addr : 0xfec00000u;
	unsigned gsi = a->madt ? (unsigned)a->irq0_gsi : 2;

	if (!check(pmtimer_present(), "pit.pm_tmr", "no ACPI PM timer to measure against"))
		return;
	gprintf("PIT TSC %lu Hz; LAPIC 0x%lx id %u version 0x%x\n", tsc_hz(), lapic,
		lapic_id(lapic), lapic_read(lapic, LAPIC_VERSION));
	irq_disable();
	pic_init(VEC_PIC);
	lapic_enable(lapic, VEC_SPURIOUS);
	lapic_write(lapic, LAPIC_LVT0, LVT_MASKED | LVT_EXTINT);
	pit_start(PIT_DIVISOR);
	phase_ioapic(lapic, ioapic, gsi);
	phase_pic(lapic);
	pit_stop();
	gprintf("PIT spurious interrupts: %lu\n", irq_count[VEC_SPURIOUS]);
}
