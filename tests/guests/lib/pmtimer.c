/*
 * The ACPI PM timer (ACPI 6.x section 4.8.3.3): a free-running 3.579545 MHz counter, 24 bits
 * wide unless the FADT sets TMR_VAL_EXT. Also the TSC's frequency, measured against it.
 */
#include "guest.h"

#define TSC_CALIBRATE_US 50000

static uint64_t tsc_hz_cached;

bool pmtimer_present(void)
{
	return acpi()->pm_tmr != 0;
}

static uint32_t pmtimer_mask(void)
{
	return acpi()->pm_tmr_32bit ? 0xffffffffu : 0xffffffu;
}

uint32_t pmtimer_read(void)
{
	return inl((uint16_t)acpi()->pm_tmr) & pmtimer_mask();
}

uint32_t pmtimer_elapsed(uint32_t since)
{
	return (pmtimer_read() - since) & pmtimer_mask();
}

/* us is at most a few seconds: below the 24-bit wrap (4.68 s). */
void pmtimer_delay_us(uint32_t us)
{
	uint32_t start = pmtimer_read();
	uint32_t ticks = (uint32_t)((uint64_t)us * PM_TIMER_HZ / 1000000u);

	while (pmtimer_elapsed(start) < ticks)
		cpu_relax();
}

uint64_t tsc_hz(void)
{
	if (tsc_hz_cached || !pmtimer_present())
		return tsc_hz_cached;
	uint32_t p0 = pmtimer_read();
	uint64_t t0 = rdtsc();

	pmtimer_delay_us(TSC_CALIBRATE_US);
	uint32_t ticks = pmtimer_elapsed(p0);
	uint64_t t1 = rdtsc();

	if (ticks)
		tsc_hz_cached = (t1 - t0) * PM_TIMER_HZ / ticks;
	return tsc_hz_cached;
}
