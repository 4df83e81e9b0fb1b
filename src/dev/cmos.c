/*
 * Motorola MC146818A real-time clock plus RAM, as wired in the PC: index port 0x70 (bit 7 masks
 * NMI), data port 0x71, and the chipset's upper 128-byte bank behind 0x72/0x73. Datasheet:
 * Motorola MC146818A ("the datasheet" below); register C/D and century (0x32) as on the PC/AT.
 *
 * The clock is not ticked. While it runs, the guest's time is
 *     sec_base + floor((now - origin) / 1 s)
 * with `origin` the phase of the divider chain (updates happen at origin + k s) and now the event
 * loop's clock; the time and date registers are computed from it on every read (gmtime_r). When
 * the clock stops (SET in register B, or a divider other than 010 in register A) the registers
 * are frozen into RAM and become plain storage the guest may write; when it runs again they are
 * converted back (timegm) and sec_base is chosen so that the clock continues from them. The day
 * of week is whatever the guest wrote, advanced once per day.
 *
 * Register C's flags are also evaluated lazily: every access first accounts for the periodic
 * edges, update cycles and alarm matches between the last evaluation and now. A timer is armed
 * only when an enabled interrupt would raise IRQ 8, and not while IRQF is already set (the line
 * cannot rise again before register C is read), so the guest paces its own interrupts. A timer
 * that fires late sets the flags once and re-arms for the next event after now: missed periods
 * are skipped, never delivered as a burst. Periodic deadlines are on the grid of the divider
 * chain, so they do not drift.
 *
 * Simplifications (documented, deliberate):
 * - The update is instantaneous at the second boundary; UIP reads 1 during the 244 us before it
 *   (the datasheet's minimum warning time), UF and AF are set at the boundary.
 * - Time and date values the guest writes out of range (or with non-BCD digits) are clamped
 *   into range when the clock starts from them; the datasheet leaves the result undefined.
 * - DSE (daylight saving) is stored but does nothing; SQWE is stored (the SQW pin is not wired).
 * - Changing DM or 24/12 while the clock runs reformats the registers at once; on the chip the
 *   stored bytes would go stale until rewritten. Frozen bytes are not converted (as on the chip).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostvisor/cmos.h"

#define CMOS_PORT_BASE 0x70
#define CMOS_PORT_COUNT 4
#define CMOS_PORT_INDEX 0
#define CMOS_PORT_DATA 1
#define CMOS_PORT_UPPER_INDEX 2
#define CMOS_PORT_UPPER_DATA 3
#define CMOS_INDEX_MASK 0x7fu
#define CMOS_UPPER_BANK 0x80u

#define NS_PER_SEC 1000000000ull
#define SECS_PER_DAY 86400
#define RTC_TIME_BASE_HZ 32768u
/* UIP rises this long before the update: 8 periods of the 32.768 kHz time base (244 us). */
#define RTC_UIP_LEAD_NS 244141ull
/* Leaving divider reset, the first update comes half a second later. */
#define RTC_FIRST_UPDATE_NS 500000000ull
#define RTC_NONE INT64_MAX

enum rtc_register {
	RTC_SECONDS = 0x00,
	RTC_SECONDS_ALARM = 0x01,
	RTC_MINUTES = 0x02,
	RTC_MINUTES_ALARM = 0x03,
	RTC_HOURS = 0x04,
	RTC_HOURS_ALARM = 0x05,
	RTC_DAY_OF_WEEK = 0x06,
	RTC_DAY_OF_MONTH = 0x07,
	RTC_MONTH = 0x08,
	RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a,
	RTC_REG_B = 0x0b,
	RTC_REG_C = 0x0c,
	RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};

#define REG_A_UIP 0x80u
#define REG_A_DV_MASK 0x70u
#define REG_A_DV_32K 0x20u /* 010: 32.768 kHz time base, the only one that runs the clock */
#define REG_A_RS_MASK 0x0fu

#define REG_B_SET 0x80u
#define REG_B_PIE 0x40u
#define REG_B_AIE 0x20u
#define REG_B_UIE 0x10u
#define REG_B_DM_BINARY 0x04u
#define REG_B_24H 0x02u

/* Register C's flags sit at the same bit positions as their enables in register B. */
#define REG_C_IRQF 0x80u
#define REG_C_PF 0x40u
#define REG_C_AF 0x20u
#define REG_C_UF 0x10u
#define REG_C_FLAGS (REG_C_PF | REG_C_AF | REG_C_UF)

#define REG_D_VRT 0x80u

#define RTC_HOUR_PM 0x80u
#define RTC_ALARM_DONT_CARE 0xc0u

struct cmos {
	pthread_mutex_t lock;
	struct evloop *loop;
	struct irq_line irq8;
	struct timer *timer;

	uint8_t ram[CMOS_NVRAM_SIZE]; /* NVRAM; the time registers while the clock is stopped */
	uint8_t index;		      /* port 0x70 as written: bit 7 NMI disable */
	uint8_t upper_index;	      /* port 0x72 */
	uint8_t reg_a;		      /* bits 6-0; UIP is computed */
	uint8_t reg_b;
	uint8_t flags; /* register C: PF, AF, UF; IRQF is irq_level */
	bool irq_level;

	uint64_t origin_ns; /* phase of the divider chain */
	int64_t sec_base;   /* guest time at origin_ns, seconds since 1970 UTC */
	uint8_t dow_raw;    /* day-of-week byte as last written... */
	int dow_value;	    /* ...decoded... */
	int64_t dow_day;    /* ...on this day (days since 1970) */
	uint64_t eval_ns;   /* register C is up to date through this time */
};

/* ---- Arithmetic ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int clamp_int(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static bool cmos_binary(const struct cmos *c)
{
	return c->reg_b & REG_B_DM_BINARY;
}

/* Register bytes per DM: BCD takes nibbles at face value (0xab decodes as 10 * 10 + 11). */
static int cmos_decode(const struct cmos *c, uint8_t b)
{
	return cmos_binary(c) ? b : (b >> 4) * 10 + (b & 0xf);
}

static uint8_t cmos_encode(const struct cmos *c, int v)
{
	v = clamp_int(v, 0, 255);
	if (cmos_binary(c))
		return (uint8_t)v;
	v %= 100;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

/* 12-hour mode: 1-12 with bit 7 set for PM (datasheet, "Time, Calendar and Alarm"). */
static uint8_t cmos_encode_hour(const struct cmos *c, int h24)
{
	int h12 = h24 % 12 ? h24 % 12 : 12;

	if (c->reg_b & REG_B_24H)
		return cmos_encode(c, h24);
	return cmos_encode(c, h12) | (h24 >= 12 ? RTC_HOUR_PM : 0);
}

static int cmos_decode_hour(const struct cmos *c, uint8_t b)
{
	if (c->reg_b & REG_B_24H)
		return clamp_int(cmos_decode(c, b), 0, 23);
	return clamp_int(cmos_decode(c, b & ~RTC_HOUR_PM), 1, 12) % 12 + (b & RTC_HOUR_PM ? 12 : 0);
}

/* ---- Clock state ---- */

static bool cmos_divider_running(const struct cmos *c)
{
	return (c->reg_a & REG_A_DV_MASK) == REG_A_DV_32K;
}

static bool cmos_clock_running(const struct cmos *c)
{
	return cmos_divider_running(c) && !(c->reg_b & REG_B_SET);
}

static uint64_t cmos_elapsed(const struct cmos *c, uint64_t now)
{
	return now > c->origin_ns ? now - c->origin_ns : 0;
}

static int64_t cmos_secs(const struct cmos *c, uint64_t now)
{
	return c->sec_base + (int64_t)(cmos_elapsed(c, now) / NS_PER_SEC);
}

static bool cmos_is_time_register(unsigned idx)
{
	switch (idx) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	default:
		return false;
	}
}

static bool cmos_is_clock_register(unsigned idx)
{
	return idx <= RTC_REG_D || idx == RTC_CENTURY;
}

static int cmos_day_of_week(const struct cmos *c, int64_t secs)
{
	int64_t days = floor_div(secs, SECS_PER_DAY) - c->dow_day;

	if (c->dow_value >= 1 && c->dow_value <= 7)
		return (int)((c->dow_value - 1 + days % 7 + 7) % 7) + 1;
	return (int)(((days - 1) % 7 + 7) % 7) + 1; /* 7 wraps to 1 on the first day change */
}

static void cmos_gmtime(int64_t secs, struct tm *tm)
{
	time_t t = (time_t)secs;

	if (!gmtime_r(&t, tm) || tm->tm_year < -1900)
		*tm = (struct tm){.tm_mday = 1, .tm_year = -1900};
}

/* A time or date register of the running clock. */
static uint8_t cmos_clock_read(const struct cmos *c, unsigned idx, uint64_t now)
{
	int64_t secs = cmos_secs(c, now);
	struct tm tm;
	int year;

	cmos_gmtime(secs, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case RTC_SECONDS:
		return cmos_encode(c, tm.tm_sec);
	case RTC_MINUTES:
		return cmos_encode(c, tm.tm_min);
	case RTC_HOURS:
		return cmos_encode_hour(c, tm.tm_hour);
	case RTC_DAY_OF_WEEK:
		if (floor_div(secs, SECS_PER_DAY) == c->dow_day)
			return c->dow_raw;
		return cmos_encode(c, cmos_day_of_week(c, secs));
	case RTC_DAY_OF_MONTH:
		return cmos_encode(c, tm.tm_mday);
	case RTC_MONTH:
		return cmos_encode(c, tm.tm_mon + 1);
	case RTC_YEAR:
		return cmos_encode(c, year % 100);
	default: /* RTC_CENTURY */
		return cmos_encode(c, year / 100 % 100);
	}
}

/* Stops the clock: its registers become storage holding the time of `now`. */
static void cmos_clock_freeze(struct cmos *c, uint64_t now)
{
	static const uint8_t regs[] = {RTC_SECONDS,	 RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_WEEK,
				       RTC_DAY_OF_MONTH, RTC_MONTH,   RTC_YEAR,	 RTC_CENTURY};

	for (size_t i = 0; i < sizeof(regs); i++)
		c->ram[regs[i]] = cmos_clock_read(c, regs[i], now);
}

/* Starts the clock from the stored registers; the phase of the divider is kept. */
static void cmos_clock_thaw(struct cmos *c, uint64_t now)
{
	struct tm tm = {0};
	int64_t secs;

	tm.tm_sec = clamp_int(cmos_decode(c, c->ram[RTC_SECONDS]), 0, 59);
	tm.tm_min = clamp_int(cmos_decode(c, c->ram[RTC_MINUTES]), 0, 59);
	tm.tm_hour = cmos_decode_hour(c, c->ram[RTC_HOURS]);
	tm.tm_mday = clamp_int(cmos_decode(c, c->ram[RTC_DAY_OF_MONTH]), 1, 31);
	tm.tm_mon = clamp_int(cmos_decode(c, c->ram[RTC_MONTH]), 1, 12) - 1;
	tm.tm_year = clamp_int(cmos_decode(c, c->ram[RTC_CENTURY]), 0, 99) * 100 +
		     clamp_int(cmos_decode(c, c->ram[RTC_YEAR]), 0, 99) - 1900;
	secs = (int64_t)timegm(&tm);
	c->sec_base = secs - (int64_t)(cmos_elapsed(c, now) / NS_PER_SEC);
	c->dow_raw = c->ram[RTC_DAY_OF_WEEK];
	c->dow_value = cmos_decode(c, c->dow_raw);
	c->dow_day = floor_div(secs, SECS_PER_DAY);
}

/* ---- Alarm ---- */

static bool cmos_alarm_field_matches(uint8_t alarm, uint8_t value)
{
	return (alarm & RTC_ALARM_DONT_CARE) == RTC_ALARM_DONT_CARE || alarm == value;
}

/*
 * The first second after `secs` whose hours, minutes and seconds registers match the alarm
 * registers (compared as bytes, in the current format, as the chip does), or RTC_NONE. The
 * pattern repeats daily, so one day is searched, minute by minute: at most 1441 minutes and
 * 120 seconds are looked at.
 */
static int64_t cmos_next_alarm(const struct cmos *c, int64_t secs)
{
	bool hour_ok[24], min_ok[60], sec_ok[60], any_sec = false;
	int64_t day_start = floor_div(secs, SECS_PER_DAY) * SECS_PER_DAY;
	int64_t first = secs + 1 - day_start; /* second of the day to start at, may be 86400 */

	for (int h = 0; h < 24; h++)
		hour_ok[h] =
		    cmos_alarm_field_matches(c->ram[RTC_HOURS_ALARM], cmos_encode_hour(c, h));
	for (int i = 0; i < 60; i++) {
		min_ok[i] = cmos_alarm_field_matches(c->ram[RTC_MINUTES_ALARM], cmos_encode(c, i));
		sec_ok[i] = cmos_alarm_field_matches(c->ram[RTC_SECONDS_ALARM], cmos_encode(c, i));
		any_sec |= sec_ok[i];
	}
	if (!any_sec)
		return RTC_NONE;
	for (int64_t minute = first / 60; minute <= first / 60 + 24 * 60; minute++) {
		int s = minute == first / 60 ? (int)(first % 60) : 0;
		if (!hour_ok[minute / 60 % 24] || !min_ok[minute % 60])
			continue;
		for (; s < 60; s++)
			if (sec_ok[s])
				return day_start + minute * 60 + s;
	}
	return RTC_NONE;
}

/* ---- Periodic interrupt ---- */

/* Period in cycles of the 32.768 kHz base, as a power of two; 0 when off (datasheet, RS). */
static unsigned cmos_periodic_shift(const struct cmos *c)
{
	unsigned rs = c->reg_a & REG_A_RS_MASK;

	if (rs == 0 || !cmos_divider_running(c))
		return 0;
	if (rs < 3) /* 0001 and 0010 give 256 and 128 Hz with a 32.768 kHz time base */
		rs += 7;
	return rs - 1;
}

static uint64_t cmos_cycles(const struct cmos *c, uint64_t now)
{
	return (uint64_t)((unsigned __int128)cmos_elapsed(c, now) * RTC_TIME_BASE_HZ / NS_PER_SEC);
}

static uint64_t cmos_next_periodic_ns(const struct cmos *c, uint64_t now, unsigned shift)
{
	uint64_t j = (cmos_cycles(c, now) >> shift) + 1;
	unsigned __int128 ns =
	    ((unsigned __int128)(j << shift) * NS_PER_SEC + RTC_TIME_BASE_HZ - 1) /
	    RTC_TIME_BASE_HZ;

	ns += c->origin_ns;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* ---- Register C and IRQ 8 ---- */

static void cmos_update_irq(struct cmos *c)
{
	bool level = (c->flags & c->reg_b & REG_C_FLAGS) != 0;

	if (level == c->irq_level)
		return;
	c->irq_level = level;
	irq_set(&c->irq8, level);
}

/* Accounts for what happened in (eval_ns, now]. */
static void cmos_advance(struct cmos *c, uint64_t now)
{
	uint64_t from = c->eval_ns;
	unsigned shift = cmos_periodic_shift(c);
	int64_t s_from, s_to, alarm;

	if (now <= from)
		return;
	c->eval_ns = now;
	if (shift && cmos_cycles(c, now) >> shift > cmos_cycles(c, from) >> shift)
		c->flags |= REG_C_PF;
	if (cmos_clock_running(c)) {
		s_from = cmos_secs(c, from);
		s_to = cmos_secs(c, now);
		if (s_to > s_from) {
			c->flags |= REG_C_UF;
			alarm = cmos_next_alarm(c, s_from);
			if (alarm != RTC_NONE && alarm <= s_to)
				c->flags |= REG_C_AF;
		}
	}
	cmos_update_irq(c);
}

static uint64_t cmos_second_boundary_ns(const struct cmos *c, int64_t secs)
{
	return c->origin_ns + (uint64_t)(secs - c->sec_base) * NS_PER_SEC;
}

/* Arms the timer for the first event that would raise IRQ 8. */
static void cmos_rearm(struct cmos *c, uint64_t now)
{
	uint64_t deadline = UINT64_MAX, t;
	unsigned shift = cmos_periodic_shift(c);
	int64_t secs, alarm;

	if (!c->irq_level && (c->reg_b & REG_B_PIE) && shift)
		deadline = cmos_next_periodic_ns(c, now, shift);
	if (!c->irq_level && cmos_clock_running(c)) {
		secs = cmos_secs(c, now);
		if (c->reg_b & REG_B_UIE) {
			t = cmos_second_boundary_ns(c, secs + 1);
			deadline = t < deadline ? t : deadline;
		}
		alarm = (c->reg_b & REG_B_AIE) ? cmos_next_alarm(c, secs) : RTC_NONE;
		if (alarm != RTC_NONE) {
			t = cmos_second_boundary_ns(c, alarm);
			deadline = t < deadline ? t : deadline;
		}
	}
	if (deadline == UINT64_MAX)
		timer_del(c->timer);
	else
		timer_mod(c->timer, deadline);
}

static void cmos_timer_fire(void *opaque)
{
	struct cmos *c = opaque;
	uint64_t now;

	pthread_mutex_lock(&c->lock);
	now = evloop_now_ns(c->loop);
	cmos_advance(c, now);
	cmos_rearm(c, now);
	pthread_mutex_unlock(&c->lock);
}

/* ---- Register access ---- */

static void cmos_write_reg_a(struct cmos *c, uint8_t val, uint64_t now)
{
	bool was_dividing = cmos_divider_running(c), was_running = cmos_clock_running(c);

	if (was_running && (val & REG_A_DV_MASK) != REG_A_DV_32K)
		cmos_clock_freeze(c, now);
	c->reg_a = val & ~REG_A_UIP;
	if (was_dividing || !cmos_divider_running(c))
		return;
	c->origin_ns = now > RTC_FIRST_UPDATE_NS ? now + RTC_FIRST_UPDATE_NS - NS_PER_SEC : 0;
	if (cmos_clock_running(c))
		cmos_clock_thaw(c, now);
}

/* SET going high ends any update and clears UIE (datasheet, register B). */
static void cmos_write_reg_b(struct cmos *c, uint8_t val, uint64_t now)
{
	bool was_running = cmos_clock_running(c);

	if ((val & REG_B_SET) && !(c->reg_b & REG_B_SET))
		val &= ~REG_B_UIE;
	if (was_running && (val & REG_B_SET))
		cmos_clock_freeze(c, now);
	c->reg_b = val;
	if (!was_running && cmos_clock_running(c))
		cmos_clock_thaw(c, now);
}

static void cmos_write_time_register(struct cmos *c, unsigned idx, uint8_t val, uint64_t now)
{
	if (!cmos_clock_running(c)) {
		c->ram[idx] = val;
		return;
	}
	cmos_clock_freeze(c, now);
	c->ram[idx] = val;
	cmos_clock_thaw(c, now);
}

static void cmos_register_write(struct cmos *c, unsigned idx, uint8_t val)
{
	uint64_t now = evloop_now_ns(c->loop);

	if (!cmos_is_clock_register(idx)) {
		c->ram[idx] = val;
		return;
	}
	cmos_advance(c, now);
	switch (idx) {
	case RTC_REG_A:
		cmos_write_reg_a(c, val, now);
		break;
	case RTC_REG_B:
		cmos_write_reg_b(c, val, now);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		if (cmos_is_time_register(idx))
			cmos_write_time_register(c, idx, val, now);
		else
			c->ram[idx] = val; /* alarm registers */
		break;
	}
	cmos_update_irq(c);
	cmos_rearm(c, now);
}

/* Register C: reading returns and clears the flags, which lowers IRQ 8. */
static uint8_t cmos_read_reg_c(struct cmos *c, uint64_t now)
{
	uint8_t v;

	cmos_advance(c, now);
	v = c->flags | (c->irq_level ? REG_C_IRQF : 0);
	c->flags = 0;
	cmos_update_irq(c);
	cmos_rearm(c, now);
	return v;
}

/* peek: no side effects (register C is not cleared), for the platform. */
static uint8_t cmos_register_read(struct cmos *c, unsigned idx, bool peek)
{
	uint64_t now = evloop_now_ns(c->loop);
	bool uip;

	switch (idx) {
	case RTC_REG_A:
		uip = cmos_clock_running(c) &&
		      cmos_elapsed(c, now) % NS_PER_SEC >= NS_PER_SEC - RTC_UIP_LEAD_NS;
		return c->reg_a | (uip ? REG_A_UIP : 0);
	case RTC_REG_B:
		return c->reg_b;
	case RTC_REG_C:
		if (!peek)
			return cmos_read_reg_c(c, now);
		cmos_advance(c, now);
		return c->flags | (c->irq_level ? REG_C_IRQF : 0);
	case RTC_REG_D:
		return REG_D_VRT; /* the battery is always good */
	default:
		if (cmos_is_time_register(idx) && cmos_clock_running(c))
			return cmos_clock_read(c, idx, now);
		return c->ram[idx];
	}
}

static uint8_t cmos_port_read(struct cmos *c, unsigned port)
{
	switch (port) {
	case CMOS_PORT_DATA:
		return cmos_register_read(c, c->index & CMOS_INDEX_MASK, false);
	case CMOS_PORT_UPPER_DATA:
		return c->ram[CMOS_UPPER_BANK | (c->upper_index & CMOS_INDEX_MASK)];
	default:
		return 0xff; /* the index ports are write-only on the PC/AT */
	}
}

static void cmos_port_write(struct cmos *c, unsigned port, uint8_t val)
{
	switch (port) {
	case CMOS_PORT_INDEX:
		c->index = val; /* bit 7 masks NMI: kept, nothing here raises NMI */
		break;
	case CMOS_PORT_DATA:
		cmos_register_write(c, c->index & CMOS_INDEX_MASK, val);
		break;
	case CMOS_PORT_UPPER_INDEX:
		c->upper_index = val;
		break;
	default:
		c->ram[CMOS_UPPER_BANK | (c->upper_index & CMOS_INDEX_MASK)] = val;
		break;
	}
}

/* An access wider than a byte reaches consecutive ports, as the AT bus splits it. */
static uint64_t cmos_io_read(void *opaque, uint64_t offset, unsigned size)
{
	struct cmos *c = opaque;
	uint64_t v = 0;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < size; i++) {
		uint8_t b =
		    offset + i < CMOS_PORT_COUNT ? cmos_port_read(c, (unsigned)offset + i) : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&c->lock);
	return v;
}

static void cmos_io_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct cmos *c = opaque;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < size && offset + i < CMOS_PORT_COUNT; i++)
		cmos_port_write(c, (unsigned)offset + i, (uint8_t)(value >> (8 * i)));
	pthread_mutex_unlock(&c->lock);
}

/* ---- Life cycle ---- */

struct cmos *cmos_create(struct evloop *loop, struct irq_line irq8, time_t base_utc,
			 long base_frac_ns)
{
	struct cmos *c = calloc(1, sizeof(*c));
	struct tm tm;

	if (!c)
		return NULL;
	if (pthread_mutex_init(&c->lock, NULL)) {
		free(c);
		return NULL;
	}
	c->loop = loop;
	c->irq8 = irq8;
	c->timer = timer_new(loop, cmos_timer_fire, c);
	if (!c->timer) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	/* What a PC BIOS leaves: 32.768 kHz divider, 1024 Hz rate, 24-hour BCD, no interrupts. */
	c->reg_a = REG_A_DV_32K | 0x06;
	c->reg_b = REG_B_24H;
	c->eval_ns = evloop_now_ns(loop);
	/* The divider chain's phase: the next update comes when the host's second turns. */
	if (base_frac_ns < 0 || base_frac_ns >= 1000000000L || (uint64_t)base_frac_ns > c->eval_ns)
		base_frac_ns = 0;
	c->origin_ns = c->eval_ns - (uint64_t)base_frac_ns;
	c->sec_base = (int64_t)base_utc;
	cmos_gmtime(c->sec_base, &tm);
	c->dow_value = tm.tm_wday + 1; /* 1 = Sunday */
	c->dow_raw = cmos_encode(c, c->dow_value);
	c->dow_day = floor_div(c->sec_base, SECS_PER_DAY);
	return c;
}

void cmos_destroy(struct cmos *cmos)
{
	if (!cmos)
		return;
	timer_del(cmos->timer);
	timer_free(cmos->timer);
	pthread_mutex_destroy(&cmos->lock);
	free(cmos);
}

int cmos_attach(struct cmos *cmos, struct bus *pio)
{
	int rc = bus_register(pio, "cmos", CMOS_PORT_BASE, CMOS_PORT_COUNT, cmos_io_read,
			      cmos_io_write, cmos);

	return rc < 0 ? rc : 0;
}

/* Indices 0x00-0x0d and 0x32 belong to the clock and behave as a guest write/read would. */
void cmos_nvram_set(struct cmos *cmos, unsigned index, uint8_t value)
{
	if (index >= CMOS_NVRAM_SIZE)
		return;
	pthread_mutex_lock(&cmos->lock);
	if (index < CMOS_UPPER_BANK)
		cmos_register_write(cmos, index, value);
	else
		cmos->ram[index] = value;
	pthread_mutex_unlock(&cmos->lock);
}

uint8_t cmos_nvram_get(struct cmos *cmos, unsigned index)
{
	uint8_t v;

	if (index >= CMOS_NVRAM_SIZE)
		return 0xff;
	pthread_mutex_lock(&cmos->lock);
	v = index < CMOS_UPPER_BANK ? cmos_register_read(cmos, index, true) : cmos->ram[index];
	pthread_mutex_unlock(&cmos->lock);
	return v;
}
