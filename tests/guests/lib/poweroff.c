/*
 * Soft-off through the ACPI fixed hardware (ACPI 6.x section 7.4.2 and 4.8.3.2.1): write the
 * \_S5 SLP_TYPa into PM1a_CNT.SLP_TYP (bits 12:10) together with SLP_EN (bit 13).
 */
#include "guest.h"

#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP_MASK (7u << PM1_SLP_TYP_SHIFT)
#define PM1_SLP_EN (1u << 13)
#define POWEROFF_WAIT_US 200000

void acpi_poweroff(void)
{
	const struct acpi_info *a = acpi();

	if (!a->pm1a_cnt || a->s5_typ < 0) {
		gprintf("poweroff: no PM1a_CNT (0x%x) or \\_S5 (%d)\n", a->pm1a_cnt, a->s5_typ);
		return;
	}
	uint16_t v = inw((uint16_t)a->pm1a_cnt);

	v = (uint16_t)((v & ~PM1_SLP_TYP_MASK) | ((unsigned)a->s5_typ << PM1_SLP_TYP_SHIFT) |
		       PM1_SLP_EN);
	outw((uint16_t)a->pm1a_cnt, v);
	/* The VMM stops at the write; a little grace for one that stops asynchronously. */
	if (pmtimer_present())
		pmtimer_delay_us(POWEROFF_WAIT_US);
	gprintf("poweroff: still running after writing 0x%x to port 0x%x\n", v, a->pm1a_cnt);
}
