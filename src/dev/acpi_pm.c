/*
 * ACPI fixed hardware: PM1a event and control blocks, PM timer, GPE0 block and the PIIX4 reset
 * control register; see include/hostvisor/acpi_pm.h.
 *
 * Sources: ACPI 6.x section 4.8 (fixed hardware programming model: 4.8.3.1 PM1 event grouping,
 * 4.8.3.2 PM1 control grouping, 4.8.3.3 power management timer, 4.8.4.1 general-purpose event
 * register blocks) and the Intel 82371AB (PIIX4) datasheet, "Reset Control Register (0CF9h)".
 *
 * Every register is decoded byte by byte, so any access size at any offset inside a block
 * touches exactly the bytes it covers (a byte write to the high half of PM1_STS clears
 * PWRBTN_STS, a dword write at PM1_STS also writes PM1_EN). Bytes beyond a block read as
 * all-ones and are not written.
 *
 * What we leave out, on purpose:
 * - Sleep states other than S5: the OS may write SLP_EN with another SLP_TYP (our DSDT offers
 *   only \_S5); we do not sleep and set WAK_STS at once, as if a wake event were already
 *   pending, so an OS waiting for WAK_STS returns to the working state instead of spinning.
 * - SCI_EN reads as 1 and cannot be cleared: there is no SMI_CMD port and no firmware in SMM,
 *   so the machine is always in ACPI mode.
 * - GBL_RLS (the OS asking firmware for the global lock) has no firmware to talk to.
 * - No GPE sources are wired yet; the GPE0 registers hold status and enable bits only.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/acpi_pm.h"

#define PM1_EVT_LEN 4
#define PM1_CNT_LEN 2
#define PM_TMR_LEN 4
#define GPE0_HALF (ACPI_GPE0_BLK_LEN / 2)

/* PM1_STS (ACPI 6.x table 4.16): write-1-to-clear. */
#define TMR_STS 0x0001
#define BM_STS 0x0010
#define GBL_STS 0x0020
#define PWRBTN_STS 0x0100
#define SLPBTN_STS 0x0200
#define RTC_STS 0x0400
#define PCIEXP_WAKE_STS 0x4000
#define WAK_STS 0x8000
#define PM1_STS_BITS                                                                               \
	(TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS | PCIEXP_WAKE_STS | WAK_STS)

/* PM1_EN (table 4.17). PCIEXP_WAKE_DIS is a disable bit, not an SCI enable. */
#define TMR_EN 0x0001
#define GBL_EN 0x0020
#define PWRBTN_EN 0x0100
#define SLPBTN_EN 0x0200
#define RTC_EN 0x0400
#define PCIEXP_WAKE_DIS 0x4000
#define PM1_EN_BITS (TMR_EN | GBL_EN | PWRBTN_EN | SLPBTN_EN | RTC_EN | PCIEXP_WAKE_DIS)
/* The status bits that raise the SCI: those with an enable bit in the same position. */
#define PM1_SCI_BITS (TMR_EN | GBL_EN | PWRBTN_EN | SLPBTN_EN | RTC_EN)

/* PM1_CNT (table 4.18). */
#define SCI_EN 0x0001
#define BM_RLD 0x0002
#define GBL_RLS 0x0004 /* write-only */
#define SLP_TYP_SHIFT 10
#define SLP_TYP_MASK (7u << SLP_TYP_SHIFT)
#define SLP_EN 0x2000 /* write-only */
#define PM1_CNT_STORED (BM_RLD | SLP_TYP_MASK)

/* PM timer: 24 bits; TMR_STS is set each time bit 23 changes (section 4.8.3.3). */
#define PM_TMR_BITS 24
#define PM_TMR_MASK ((1u << PM_TMR_BITS) - 1)
#define PM_TMR_STS_SHIFT 23
#define NS_PER_S 1000000000ull

/* PIIX4 reset control: bit 1 selects a hard reset, bit 2 resets (0 -> 1); bit 2 reads 0. */
#define RST_CPU 0x04

struct acpi_pm {
	pthread_mutex_t lock;
	struct evloop *loop;
	struct timer *timer;
	struct irq_line sci;
	struct acpi_pm_ops ops;
	void *opaque;

	uint64_t tmr_start_ns;
	uint64_t tmr_half_periods; /* ticks >> 23 when last looked at */
	uint64_t tmr_deadline;	   /* when the armed timer fires */
	uint16_t pm1_sts, pm1_en, pm1_cnt;
	uint8_t gpe_sts[GPE0_HALF], gpe_en[GPE0_HALF];
	uint8_t reset_reg;
	bool sci_level;
};

/* What a register write asks of the platform, done after the lock is dropped. */
enum pm_action {
	PM_ACTION_NONE,
	PM_ACTION_POWEROFF,
	PM_ACTION_RESET,
};

/* ---- byte-wise access helpers ---------------------------------------------------------------- */

/* Little-endian bytes of a block, gathered into an access of size bytes at offset. */
static uint64_t block_read(const uint8_t *bytes, unsigned len, uint64_t offset, unsigned size)
{
	uint64_t value = 0;

	if (size > 8)
		size = 8;
	for (unsigned i = 0; i < size; i++) {
		uint64_t b = 0xff;
		if (offset < len && i < len - offset)
			b = bytes[offset + i];
		value |= b << (8 * i);
	}
	return value;
}

/*
 * The part of a write that lands on the 16-bit register at reg_off of a block: its value and a
 * mask of the bytes written.
 */
static void block_write_reg16(uint64_t offset, unsigned size, uint64_t value, unsigned reg_off,
			      uint16_t *reg_value, uint16_t *reg_mask)
{
	*reg_value = 0;
	*reg_mask = 0;
	if (size > 8)
		size = 8;
	for (unsigned i = 0; i < size; i++) {
		if (offset + i < reg_off || offset + i > reg_off + 1u || offset + i < offset)
			continue;
		unsigned shift = 8 * (unsigned)(offset + i - reg_off);
		*reg_value |= (uint16_t)(((value >> (8 * i)) & 0xff) << shift);
		*reg_mask |= (uint16_t)(0xffu << shift);
	}
}

static void put_le16(uint8_t *bytes, uint16_t v)
{
	bytes[0] = (uint8_t)v;
	bytes[1] = (uint8_t)(v >> 8);
}

/* ---- PM timer -------------------------------------------------------------------------------- */

/* Ticks of the 3.579545 MHz clock since the timer started; 128-bit to keep every bit. */
static uint64_t pm_timer_ticks(const struct acpi_pm *pm)
{
	uint64_t elapsed = evloop_now_ns(pm->loop) - pm->tmr_start_ns;

	return (uint64_t)((unsigned __int128)elapsed * ACPI_PM_TIMER_HZ / NS_PER_S);
}

/* The first time at which the tick count reaches ticks (rounded up, so it has been reached). */
static uint64_t pm_timer_deadline(const struct acpi_pm *pm, uint64_t ticks)
{
	unsigned __int128 ns =
	    ((unsigned __int128)ticks * NS_PER_S + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ;

	return pm->tmr_start_ns + (uint64_t)ns;
}

/*
 * TMR_STS is set whenever bit 23 of the counter changes, whether or not TMR_EN is set. We work
 * that out when anyone looks (a register access or the timer), so the timer need only run while
 * the change must raise the SCI.
 */
static void pm_timer_sync(struct acpi_pm *pm)
{
	uint64_t half_periods = pm_timer_ticks(pm) >> PM_TMR_STS_SHIFT;

	if (half_periods != pm->tmr_half_periods) {
		pm->tmr_half_periods = half_periods;
		pm->pm1_sts |= TMR_STS;
	}
}

static void pm_timer_rearm(struct acpi_pm *pm)
{
	if (!pm->timer)
		return;
	if (!(pm->pm1_en & TMR_EN) || (pm->pm1_sts & TMR_STS)) {
		timer_del(pm->timer);
		return;
	}
	uint64_t deadline = pm_timer_deadline(pm, (pm->tmr_half_periods + 1) << PM_TMR_STS_SHIFT);
	/* Every PM1 access passes here; re-arming the host timer each time would cost a syscall. */
	if (timer_pending(pm->timer) && deadline == pm->tmr_deadline)
		return;
	pm->tmr_deadline = deadline;
	timer_mod(pm->timer, deadline);
}

/* ---- SCI ------------------------------------------------------------------------------------- */

static bool pm_gpe_pending(const struct acpi_pm *pm)
{
	for (unsigned i = 0; i < GPE0_HALF; i++)
		if (pm->gpe_sts[i] & pm->gpe_en[i])
			return true;
	return false;
}

/* The SCI is level-triggered: high while an enabled status bit is set (section 4.8.3.1). */
static void pm_update(struct acpi_pm *pm)
{
	bool level = (pm->pm1_sts & pm->pm1_en & PM1_SCI_BITS) || pm_gpe_pending(pm);

	if (level != pm->sci_level) {
		pm->sci_level = level;
		irq_set(&pm->sci, level);
	}
	pm_timer_rearm(pm);
}

static void pm_timer_fire(void *opaque)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	pm_timer_sync(pm);
	pm_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void pm_run_action(struct acpi_pm *pm, enum pm_action action)
{
	if (action == PM_ACTION_POWEROFF && pm->ops.poweroff)
		pm->ops.poweroff(pm->opaque);
	else if (action == PM_ACTION_RESET && pm->ops.reset)
		pm->ops.reset(pm->opaque);
}

/* ---- PM1a event block: PM1_STS at +0, PM1_EN at +2 ------------------------------------------- */

static uint64_t pm1_evt_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint8_t bytes[PM1_EVT_LEN];

	pthread_mutex_lock(&pm->lock);
	pm_timer_sync(pm);
	pm_update(pm);
	put_le16(&bytes[0], pm->pm1_sts);
	put_le16(&bytes[2], pm->pm1_en);
	pthread_mutex_unlock(&pm->lock);
	return block_read(bytes, PM1_EVT_LEN, offset, size);
}

static void pm1_evt_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	uint16_t sts, sts_mask, en, en_mask;

	block_write_reg16(offset, size, value, 0, &sts, &sts_mask);
	block_write_reg16(offset, size, value, 2, &en, &en_mask);
	pthread_mutex_lock(&pm->lock);
	pm_timer_sync(pm);
	pm->pm1_sts &= (uint16_t) ~(sts & sts_mask & PM1_STS_BITS);
	pm->pm1_en = (uint16_t)((pm->pm1_en & ~en_mask) | (en & en_mask & PM1_EN_BITS));
	pm_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

/* ---- PM1a control block ---------------------------------------------------------------------- */

static uint64_t pm1_cnt_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint8_t bytes[PM1_CNT_LEN];

	pthread_mutex_lock(&pm->lock);
	put_le16(bytes, (uint16_t)(pm->pm1_cnt | SCI_EN));
	pthread_mutex_unlock(&pm->lock);
	return block_read(bytes, PM1_CNT_LEN, offset, size);
}

/*
 * Writing SLP_EN starts the transition to the state in SLP_TYP (section 4.8.3.2.1, "Sleeping
 * state"). S5 is soft-off; other states are not entered (see the top of this file).
 */
static enum pm_action pm1_cnt_sleep(struct acpi_pm *pm)
{
	unsigned slp_typ = (pm->pm1_cnt & SLP_TYP_MASK) >> SLP_TYP_SHIFT;

	if (slp_typ == ACPI_S5_SLP_TYP)
		return PM_ACTION_POWEROFF;
	pm->pm1_sts |= WAK_STS;
	return PM_ACTION_NONE;
}

static void pm1_cnt_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	enum pm_action action = PM_ACTION_NONE;
	uint16_t cnt, mask;

	block_write_reg16(offset, size, value, 0, &cnt, &mask);
	pthread_mutex_lock(&pm->lock);
	pm->pm1_cnt = (uint16_t)((pm->pm1_cnt & ~mask) | (cnt & mask & PM1_CNT_STORED));
	if (cnt & mask & SLP_EN)
		action = pm1_cnt_sleep(pm);
	pm_update(pm);
	pthread_mutex_unlock(&pm->lock);
	pm_run_action(pm, action);
}

/* ---- PM timer block -------------------------------------------------------------------------- */

static uint64_t pm_tmr_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint32_t ticks;
	uint8_t bytes[PM_TMR_LEN];

	pthread_mutex_lock(&pm->lock);
	ticks = (uint32_t)(pm_timer_ticks(pm) & PM_TMR_MASK);
	pthread_mutex_unlock(&pm->lock);
	for (unsigned i = 0; i < PM_TMR_LEN; i++)
		bytes[i] = (uint8_t)(ticks >> (8 * i));
	return block_read(bytes, PM_TMR_LEN, offset, size);
}

/* ---- GPE0 block: 4 status bytes (write-1-to-clear), then 4 enable bytes ---------------------- */

static uint64_t gpe0_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint8_t bytes[ACPI_GPE0_BLK_LEN];

	pthread_mutex_lock(&pm->lock);
	memcpy(bytes, pm->gpe_sts, GPE0_HALF);
	memcpy(bytes + GPE0_HALF, pm->gpe_en, GPE0_HALF);
	pthread_mutex_unlock(&pm->lock);
	return block_read(bytes, ACPI_GPE0_BLK_LEN, offset, size);
}

static void gpe0_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(value >> (8 * i));
		if (offset >= ACPI_GPE0_BLK_LEN || i >= ACPI_GPE0_BLK_LEN - offset)
			break;
		unsigned reg = (unsigned)offset + i;
		if (reg < GPE0_HALF)
			pm->gpe_sts[reg] &= (uint8_t)~b;
		else
			pm->gpe_en[reg - GPE0_HALF] = b;
	}
	pm_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

/* ---- reset control register (PIIX4, port 0xcf9) ---------------------------------------------- */

static uint64_t reset_reg_read(void *opaque, uint64_t offset, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint8_t value;

	pthread_mutex_lock(&pm->lock);
	value = pm->reset_reg;
	pthread_mutex_unlock(&pm->lock);
	return block_read(&value, 1, offset, size);
}

static void reset_reg_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct acpi_pm *pm = opaque;
	enum pm_action action = PM_ACTION_NONE;

	if (offset != 0)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->reset_reg = (uint8_t)value & (uint8_t)~RST_CPU;
	if (value & RST_CPU)
		action = PM_ACTION_RESET;
	pthread_mutex_unlock(&pm->lock);
	pm_run_action(pm, action);
}

/* ---- public API ------------------------------------------------------------------------------ */

static void pm_power_on(struct acpi_pm *pm)
{
	pm->tmr_start_ns = evloop_now_ns(pm->loop);
	pm->tmr_half_periods = 0;
	pm->pm1_sts = 0;
	pm->pm1_en = 0;
	pm->pm1_cnt = 0;
	memset(pm->gpe_sts, 0, sizeof(pm->gpe_sts));
	memset(pm->gpe_en, 0, sizeof(pm->gpe_en));
	pm->reset_reg = 0;
	pm_update(pm);
}

struct acpi_pm *acpi_pm_create(struct evloop *loop, struct irq_line sci,
			       const struct acpi_pm_ops *ops, void *opaque)
{
	struct acpi_pm *pm;

	if (!loop)
		return NULL;
	pm = calloc(1, sizeof(*pm));
	if (!pm)
		return NULL;
	if (pthread_mutex_init(&pm->lock, NULL)) {
		free(pm);
		return NULL;
	}
	pm->timer = timer_new(loop, pm_timer_fire, pm);
	if (!pm->timer) {
		pthread_mutex_destroy(&pm->lock);
		free(pm);
		return NULL;
	}
	pm->loop = loop;
	pm->sci = sci;
	if (ops)
		pm->ops = *ops;
	pm->opaque = opaque;
	pm_power_on(pm);
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	timer_del(pm->timer);
	timer_free(pm->timer);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

struct pm_block {
	const char *name;
	uint16_t port, len;
	bus_read_fn read;
	bus_write_fn write;
};

static const struct pm_block pm_blocks[] = {
    {"acpi-pm1a-evt", ACPI_PM1A_EVT_BLK, PM1_EVT_LEN, pm1_evt_read, pm1_evt_write},
    {"acpi-pm1a-cnt", ACPI_PM1A_CNT_BLK, PM1_CNT_LEN, pm1_cnt_read, pm1_cnt_write},
    {"acpi-pm-tmr", ACPI_PM_TMR_BLK, PM_TMR_LEN, pm_tmr_read, NULL},
    {"acpi-gpe0", ACPI_GPE0_BLK, ACPI_GPE0_BLK_LEN, gpe0_read, gpe0_write},
    {"piix4-reset", ACPI_RESET_PORT, 1, reset_reg_read, reset_reg_write},
};

int acpi_pm_attach(struct acpi_pm *pm, struct bus *pio)
{
	const unsigned n = sizeof(pm_blocks) / sizeof(pm_blocks[0]);

	for (unsigned i = 0; i < n; i++) {
		const struct pm_block *b = &pm_blocks[i];
		int rc = bus_register(pio, b->name, b->port, b->len, b->read, b->write, pm);
		if (rc >= 0)
			continue;
		while (i-- > 0)
			bus_unregister(pio, pm_blocks[i].port, pm);
		return rc;
	}
	return 0;
}

void acpi_pm_reset(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm_power_on(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm_timer_sync(pm);
	pm->pm1_sts |= PWRBTN_STS;
	pm_update(pm);
	pthread_mutex_unlock(&pm->lock);
}
