/*
 * The MC146818 RTC behind ports 0x70/0x71 (Motorola MC146818A datasheet): wait for UIP clear,
 * read the time twice until both reads agree, decode per register B (DM: binary or BCD; 24/12),
 * check register D's VRT, and watch the seconds advance. Prints "RTC YYYY-MM-DD HH:MM:SS" for
 * the test script to compare with the host's UTC time.
 */
#include "guest.h"

const char guest_name[] = "rtc";

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_D 0x0d
#define CMOS_CENTURY_DEFAULT 0x32
#define REG_A_UIP 0x80
#define REG_B_24H 0x02
#define REG_B_BINARY 0x04
#define REG_D_VRT 0x80
#define HOUR_PM 0x80
#define UIP_POLLS 1000000
#define TICK_WAIT_US 2500000

struct rtc_time {
	unsigned sec, min, hour, day, mon, year, century;
};

static uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, reg);
	return inb(CMOS_DATA);
}

static bool wait_uip_clear(void)
{
	for (int i = 0; i < UIP_POLLS; i++) {
		if (!(cmos_read(RTC_REG_A) & REG_A_UIP))
			return true;
	}
	return false;
}

static void read_raw(struct rtc_time *t, uint8_t century_reg)
{
	t->sec = cmos_read(RTC_SECONDS);
	t->min = cmos_read(RTC_MINUTES);
	t->hour = cmos_read(RTC_HOURS);
	t->day = cmos_read(RTC_DAY);
	t->mon = cmos_read(RTC_MONTH);
	t->year = cmos_read(RTC_YEAR);
	t->century = cmos_read(century_reg);
}

/* Two reads between update cycles that agree are a consistent snapshot. */
static bool read_stable(struct rtc_time *t, uint8_t century_reg)
{
	struct rtc_time again;

	for (int tries = 0; tries < 10; tries++) {
		if (!wait_uip_clear())
			return false;
		read_raw(t, century_reg);
		if (!wait_uip_clear())
			return false;
		read_raw(&again, century_reg);
		if (!memcmp(t, &again, sizeof(again)))
			return true;
	}
	return false;
}

static unsigned bcd(unsigned v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static void decode(struct rtc_time *t, uint8_t reg_b)
{
	bool pm = !(reg_b & REG_B_24H) && (t->hour & HOUR_PM);

	t->hour &= ~HOUR_PM;
	if (!(reg_b & REG_B_BINARY)) {
		t->sec = bcd(t->sec);
		t->min = bcd(t->min);
		t->hour = bcd(t->hour);
		t->day = bcd(t->day);
		t->mon = bcd(t->mon);
		t->year = bcd(t->year);
		t->century = bcd(t->century);
	}
	if (!(reg_b & REG_B_24H))
		t->hour = (t->hour % 12) + (pm ? 12 : 0);
	if (t->century < 19 || t->century > 99)
		t->century = 20; /* no century register: assume this one */
}

static bool in_range(const struct rtc_time *t)
{
	return t->sec < 60 && t->min < 60 && t->hour < 24 && t->day >= 1 && t->day <= 31 &&
	       t->mon >= 1 && t->mon <= 12 && t->year < 100;
}

/* The seconds register must move within 2.5 s (the update cycle runs once a second). */
static void check_ticks(uint8_t reg_b)
{
	if (!pmtimer_present()) {
		fail("rtc.ticks", "no ACPI PM timer to bound the wait");
		return;
	}
	uint8_t first = cmos_read(RTC_SECONDS);
	uint32_t start = pmtimer_read();
	uint32_t limit = (uint32_t)((uint64_t)TICK_WAIT_US * PM_TIMER_HZ / 1000000);

	while (pmtimer_elapsed(start) < limit) {
		if (cmos_read(RTC_SECONDS) != first) {
			pass("rtc.ticks");
			return;
		}
	}
	fail("rtc.ticks", "seconds stayed at 0x%x for 2.5 s (register B 0x%x)", first, reg_b);
}

void guest_main(void)
{
	uint8_t century_reg = acpi()->century ? acpi()->century : CMOS_CENTURY_DEFAULT;
	uint8_t reg_b = cmos_read(RTC_REG_B);
	struct rtc_time t;

	gprintf("RTC register A 0x%x B 0x%x D 0x%x century index 0x%x\n", cmos_read(RTC_REG_A),
		reg_b, cmos_read(RTC_REG_D), century_reg);
	check(cmos_read(RTC_REG_D) & REG_D_VRT, "rtc.vrt", "register D VRT clear");
	if (!check(read_stable(&t, century_reg), "rtc.read", "UIP never cleared or reads differ"))
		return;
	decode(&t, reg_b);
	gprintf("RTC %u%02u-%02u-%02u %02u:%02u:%02u\n", t.century, t.year, t.mon, t.day, t.hour,
		t.min, t.sec);
	check(in_range(&t), "rtc.range", "a field is out of range");
	check_ticks(reg_b);
}
