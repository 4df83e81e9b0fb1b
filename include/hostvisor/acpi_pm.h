/*
 * ACPI fixed hardware of the PC (ACPI 6.x section 4.8): PM1a event block (PM1_STS/PM1_EN),
 * PM1a control block (SCI_EN, SLP_TYP, SLP_EN), the 24-bit PM timer at 3.579545 MHz, GPE0, and
 * the reset register at 0xcf9 (Intel PIIX4 reset control). The SCI is ISA IRQ 9.
 * The port numbers here are the ones the FADT (src/boot/acpi.c) publishes.
 */
#ifndef HOSTVISOR_ACPI_PM_H
#define HOSTVISOR_ACPI_PM_H

#include <stdint.h>

#include "hostvisor/bus.h"
#include "hostvisor/evloop.h"
#include "hostvisor/irq.h"

#define ACPI_PM1A_EVT_BLK 0x600 /* 4 bytes: PM1_STS, PM1_EN */
#define ACPI_PM1A_CNT_BLK 0x604 /* 2 bytes */
#define ACPI_PM_TMR_BLK 0x608   /* 4 bytes */
#define ACPI_GPE0_BLK 0x620     /* 8 bytes: 4 status + 4 enable */
#define ACPI_GPE0_BLK_LEN 8
#define ACPI_RESET_PORT 0xcf9
#define ACPI_RESET_VALUE 0x06
#define ACPI_SCI_IRQ 9
#define ACPI_SMI_CMD 0   /* no SMM: the OS finds SCI_EN already set */
#define ACPI_S5_SLP_TYP 5 /* must match \_S5 in src/boot/dsdt.asl */
#define ACPI_PM_TIMER_HZ 3579545ull

struct acpi_pm_ops {
	void (*poweroff)(void *opaque); /* SLP_EN with SLP_TYP = S5 */
	void (*reset)(void *opaque);    /* reset register */
};

struct acpi_pm;

struct acpi_pm *acpi_pm_create(struct evloop *loop, struct irq_line sci,
			       const struct acpi_pm_ops *ops, void *opaque);
void acpi_pm_destroy(struct acpi_pm *pm);
int acpi_pm_attach(struct acpi_pm *pm, struct bus *pio);
/* Power-on state of every register; the PM timer restarts from 0. For the platform's reset. */
void acpi_pm_reset(struct acpi_pm *pm);
/* A press of the fixed-feature power button: sets PWRBTN_STS (an SCI when PWRBTN_EN is set),
 * which an ACPI OS takes as a request to shut down. For a graceful stop asked by the host. */
void acpi_pm_power_button(struct acpi_pm *pm);

#endif
