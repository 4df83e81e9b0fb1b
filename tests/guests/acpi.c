/*
 * ACPI discovery and soft-off: the RSDP, the RSDT/XSDT, the FADT (PM1a_CNT_BLK, PM_TMR_BLK),
 * the DSDT and its \_S5 SLP_TYPa, and the MADT; then, like every guest, power off by writing
 * SLP_TYP | SLP_EN to PM1a_CNT (lib/poweroff.c). The test script checks the VM went away.
 */
#include "guest.h"

const char guest_name[] = "acpi";

struct aml_case {
	const char *what;
	uint8_t bytes[16];
	uint32_t len;
	int want;
};

/* Name(\_S5, Package(n) {first, ...}) encodings the decoder must accept (ACPI 6.x 20.2). */
static const struct aml_case aml_cases[] = {
    {"BytePrefix",
     {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0, 0},
     14,
     5},
    {"ZeroOp", {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00}, 12, 0},
    {"OneOp", {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x01, 0x01, 0, 0}, 13, 1},
    {"2-byte PkgLength",
     {0x08, '_', 'S', '5', '_', 0x12, 0x46, 0x00, 0x02, 0x0a, 0x07, 0x00},
     12,
     7},
    {"not a Name", {0x10, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x01, 0x01, 0, 0}, 12, -1},
    {"truncated", {0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x0a}, 9, -1},
};

static void check_aml_decoder(void)
{
	for (unsigned i = 0; i < sizeof(aml_cases) / sizeof(aml_cases[0]); i++) {
		const struct aml_case *c = &aml_cases[i];
		int got = aml_find_s5(c->bytes, c->len);

		if (got != c->want) {
			fail("acpi.aml", "%s: decoded %d, want %d", c->what, got, c->want);
			return;
		}
	}
	pass("acpi.aml");
}

void guest_main(void)
{
	const struct acpi_info *a = acpi();

	check_aml_decoder();
	gprintf("ACPI RSDP 0x%lx RSDT 0x%lx XSDT 0x%lx FADT 0x%lx DSDT 0x%lx MADT 0x%lx\n", a->rsdp,
		a->rsdt, a->xsdt, a->fadt, a->dsdt, a->madt);
	gprintf("ACPI PM1a_CNT 0x%x PM_TMR 0x%x (%s) century 0x%x \\_S5 SLP_TYPa %d\n", a->pm1a_cnt,
		a->pm_tmr, a->pm_tmr_32bit ? "32-bit" : "24-bit", a->century, a->s5_typ);
	gprintf("ACPI IOAPIC 0x%x LAPIC 0x%x ISA IRQ0 -> GSI %d\n", a->ioapic_addr, a->lapic_addr,
		a->irq0_gsi);
	check(a->rsdp, "acpi.rsdp", "no valid RSDP in the EBDA or at 0xe0000-0xfffff");
	check(a->rsdt || a->xsdt, "acpi.rsdt", "no valid RSDT or XSDT");
	check(a->fadt, "acpi.fadt", "no valid FADT");
	check(a->pm1a_cnt, "acpi.pm1a_cnt", "the FADT has no PM1a_CNT_BLK");
	check(a->dsdt, "acpi.dsdt", "no valid DSDT");
	check(a->s5_typ >= 0, "acpi.s5", "no \\_S5 package in the DSDT");
	check(a->madt && a->ioapic_addr, "acpi.madt", "no valid MADT with an I/O APIC");
	check(pmtimer_present(), "acpi.pm_tmr", "the FADT has no PM_TMR_BLK");
	gprintf("ACPI powering off: SLP_TYP %d | SLP_EN into PM1a_CNT 0x%x\n", a->s5_typ,
		a->pm1a_cnt);
}
