/*
 * ACPI tables of the hostvisor PC (ACPI Specification 6.3, section 5.2), written into the BIOS
 * area [ACPI_TABLES_BASE, ACPI_TABLES_LIMIT):
 *   RSDP (5.2.5.3) at ACPI_TABLES_BASE: 16-byte aligned in 0xe0000-0xfffff, where an OS without
 *        a boot-protocol pointer scans for it (5.2.5.1);
 *   FACS (5.2.10), DSDT (5.2.11.1, compiled from src/boot/dsdt.asl), FADT (5.2.9),
 *   MADT (5.2.12), RSDT (5.2.7) and XSDT (5.2.8).
 * Only the bytes the tables use are written, so the rest of the BIOS area is left alone.
 * The fixed hardware published in the FADT is the one include/hostvisor/acpi_pm.h implements.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/acpi.h"
#include "hostvisor/acpi_pm.h"
#include "hostvisor/le.h"

#include "dsdt_aml.h" /* generated: static const unsigned char dsdt_aml_code[] */

#define ACPI_AREA_SIZE (ACPI_TABLES_LIMIT - ACPI_TABLES_BASE)
#define ACPI_OEM_ID "HVISOR"
#define ACPI_OEM_TABLE_ID "HOSTVISR"
#define ACPI_OEM_REVISION 1u
#define ACPI_CREATOR_ID "HVSR"
#define ACPI_CREATOR_REVISION 1u
#define ACPI_MAX_CPUS 255 /* APIC ids and processor UIDs 0..254; 0xff means "all" */

/* System description table header (5.2.6). */
#define SDT_HEADER_SIZE 36u
#define SDT_LENGTH 4u
#define SDT_REVISION 8u
#define SDT_CHECKSUM 9u
#define SDT_OEM_ID 10u
#define SDT_OEM_TABLE_ID 16u
#define SDT_OEM_REVISION 24u
#define SDT_CREATOR_ID 28u
#define SDT_CREATOR_REVISION 32u

/* RSDP (5.2.5.3). */
#define RSDP_SIZE 36u
#define RSDP_CHECKSUM 8u
#define RSDP_CHECKSUM_LEN 20u /* the ACPI 1.0 part */
#define RSDP_OEM_ID 9u
#define RSDP_REVISION 15u
#define RSDP_RSDT_ADDRESS 16u
#define RSDP_LENGTH 20u
#define RSDP_XSDT_ADDRESS 24u
#define RSDP_EXT_CHECKSUM 32u
#define RSDP_REVISION_2 2u

/* FACS (5.2.10): no checksum, 64-byte aligned. */
#define FACS_SIZE 64u
#define FACS_ALIGN 64u
#define FACS_LENGTH 4u
#define FACS_VERSION 32u
#define FACS_VERSION_2 2u

/* FADT (5.2.9, Table 5-33), revision 6 minor 3. */
#define FADT_SIZE 276u
#define FADT_REVISION 6u
#define FADT_MINOR_REVISION 3u
#define FADT_FIRMWARE_CTRL 36u
#define FADT_DSDT 40u
#define FADT_SCI_INT 46u
#define FADT_SMI_CMD 48u
#define FADT_PM1A_EVT_BLK 56u
#define FADT_PM1A_CNT_BLK 64u
#define FADT_PM_TMR_BLK 76u
#define FADT_GPE0_BLK 80u
#define FADT_PM1_EVT_LEN 88u
#define FADT_PM1_CNT_LEN 89u
#define FADT_PM_TMR_LEN 91u
#define FADT_GPE0_BLK_LEN 92u
#define FADT_P_LVL2_LAT 96u
#define FADT_P_LVL3_LAT 98u
#define FADT_CENTURY 108u
#define FADT_IAPC_BOOT_ARCH 109u
#define FADT_FLAGS 112u
#define FADT_RESET_REG 116u
#define FADT_RESET_VALUE 128u
#define FADT_MINOR_VERSION 131u
#define FADT_X_FIRMWARE_CTRL 132u
#define FADT_X_DSDT 140u
#define FADT_X_PM1A_EVT_BLK 148u
#define FADT_X_PM1A_CNT_BLK 172u
#define FADT_X_PM_TMR_BLK 208u
#define FADT_X_GPE0_BLK 220u
#define PM1_EVT_LEN 4u
#define PM1_CNT_LEN 2u
#define PM_TMR_LEN 4u
#define P_LVL2_LAT_NONE 101u  /* > 100: C2 not supported */
#define P_LVL3_LAT_NONE 1001u /* > 1000: C3 not supported */
#define CMOS_CENTURY_INDEX 0x32u /* the PC's century byte in CMOS RAM */

/* FADT fixed feature flags (Table 5-34). TMR_VAL_EXT stays 0: the PM timer is 24 bits. */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4) /* no fixed power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* no fixed sleep button */
#define FADT_F_FIX_RTC (1u << 6)    /* no RTC wake status in PM1 */
#define FADT_F_RESET_REG_SUP (1u << 10)

/* IA-PC boot architecture flags (Table 5-35). */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2) /* no display adapter yet: the OS must not probe VGA */

/* Generic address structure (5.2.3.2). */
#define GAS_SIZE 12u
#define GAS_SPACE_SYSTEM_IO 1u
#define GAS_ACCESS_BYTE 1u
#define GAS_ACCESS_WORD 2u
#define GAS_ACCESS_DWORD 3u

/* MADT (5.2.12) and its interrupt controller structures. */
#define MADT_REVISION 5u
#define MADT_LAPIC_ADDRESS 36u
#define MADT_FLAGS 40u
#define MADT_HEADER_SIZE 44u
#define MADT_PCAT_COMPAT (1u << 0)
#define MADT_TYPE_LAPIC 0u
#define MADT_TYPE_IOAPIC 1u
#define MADT_TYPE_ISO 2u
#define MADT_TYPE_LAPIC_NMI 4u
#define MADT_LAPIC_SIZE 8u
#define MADT_IOAPIC_SIZE 12u
#define MADT_ISO_SIZE 10u
#define MADT_LAPIC_NMI_SIZE 6u
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_ALL_PROCESSORS 0xffu
/* MPS INTI flags (Table 5-48): polarity in bits 0-1, trigger mode in bits 2-3. */
#define MPS_ACTIVE_HIGH 0x1u
#define MPS_EDGE (0x1u << 2)
#define MPS_LEVEL (0x3u << 2)
#define ISA_BUS 0u
#define PIT_ISA_IRQ 0u
#define PIT_GSI 2u /* the 8254 drives I/O APIC input 2, as on every PC */
#define LINT1 1u

#define SDT_REVISION_1 1u
#define TABLE_ALIGN 16u

/* The tables are assembled in a host buffer that mirrors the area, then copied in one write. */
struct acpi_builder {
	uint8_t *buf;
	uint64_t used;
};

struct acpi_addrs {
	uint64_t rsdp, facs, dsdt, fadt, madt, rsdt, xsdt;
};

/* Reserves len bytes aligned to align; returns the guest address, 0 when the area is full. */
static uint64_t acpi_alloc(struct acpi_builder *b, uint64_t len, uint64_t align)
{
	uint64_t off = (b->used + align - 1) & ~(align - 1);

	if (off > ACPI_AREA_SIZE || len > ACPI_AREA_SIZE - off)
		return 0;
	b->used = off + len;
	return ACPI_TABLES_BASE + off;
}

static uint8_t *acpi_at(struct acpi_builder *b, uint64_t gpa)
{
	return b->buf + (gpa - ACPI_TABLES_BASE);
}

static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t revision)
{
	memcpy(t, sig, 4);
	put32(t + SDT_LENGTH, len);
	t[SDT_REVISION] = revision;
	memcpy(t + SDT_OEM_ID, ACPI_OEM_ID, 6);
	memcpy(t + SDT_OEM_TABLE_ID, ACPI_OEM_TABLE_ID, 8);
	put32(t + SDT_OEM_REVISION, ACPI_OEM_REVISION);
	memcpy(t + SDT_CREATOR_ID, ACPI_CREATOR_ID, 4);
	put32(t + SDT_CREATOR_REVISION, ACPI_CREATOR_REVISION);
}

/* Called when the table is complete: the checksum covers every byte of it (5.2.6). */
static void sdt_finish(uint8_t *t, uint32_t len)
{
	t[SDT_CHECKSUM] = 0;
	t[SDT_CHECKSUM] = acpi_checksum(t, len);
}

static void gas_io(uint8_t *g, uint8_t bit_width, uint8_t access_size, uint64_t port)
{
	g[0] = GAS_SPACE_SYSTEM_IO;
	g[1] = bit_width;
	g[2] = 0;
	g[3] = access_size;
	put64(g + 4, port);
}

static void facs_build(struct acpi_builder *b, uint64_t gpa)
{
	uint8_t *t = acpi_at(b, gpa);

	memcpy(t, "FACS", 4);
	put32(t + FACS_LENGTH, FACS_SIZE);
	t[FACS_VERSION] = FACS_VERSION_2;
}

static void fadt_pm_blocks(uint8_t *t)
{
	put32(t + FADT_PM1A_EVT_BLK, ACPI_PM1A_EVT_BLK);
	put32(t + FADT_PM1A_CNT_BLK, ACPI_PM1A_CNT_BLK);
	put32(t + FADT_PM_TMR_BLK, ACPI_PM_TMR_BLK);
	put32(t + FADT_GPE0_BLK, ACPI_GPE0_BLK);
	t[FADT_PM1_EVT_LEN] = PM1_EVT_LEN;
	t[FADT_PM1_CNT_LEN] = PM1_CNT_LEN;
	t[FADT_PM_TMR_LEN] = PM_TMR_LEN;
	t[FADT_GPE0_BLK_LEN] = ACPI_GPE0_BLK_LEN;
	/* The same blocks as generic addresses; PM1 registers are 16 bits wide (4.8.3). */
	gas_io(t + FADT_X_PM1A_EVT_BLK, PM1_EVT_LEN * 8, GAS_ACCESS_WORD, ACPI_PM1A_EVT_BLK);
	gas_io(t + FADT_X_PM1A_CNT_BLK, PM1_CNT_LEN * 8, GAS_ACCESS_WORD, ACPI_PM1A_CNT_BLK);
	gas_io(t + FADT_X_PM_TMR_BLK, PM_TMR_LEN * 8, GAS_ACCESS_DWORD, ACPI_PM_TMR_BLK);
	gas_io(t + FADT_X_GPE0_BLK, ACPI_GPE0_BLK_LEN * 8, GAS_ACCESS_BYTE, ACPI_GPE0_BLK);
}

static void fadt_build(struct acpi_builder *b, const struct acpi_addrs *a)
{
	uint8_t *t = acpi_at(b, a->fadt);

	sdt_header(t, "FACP", FADT_SIZE, FADT_REVISION);
	/* The 64-bit X_FIRMWARE_CTRL alone names the FACS: with both set, ACPI 6.x says OSPM ignores
	 * the 32-bit one, but Linux installs the FACS twice. The 32-bit DSDT stays for old OSes. */
	put32(t + FADT_FIRMWARE_CTRL, 0);
	put32(t + FADT_DSDT, (uint32_t)a->dsdt);
	put16(t + FADT_SCI_INT, ACPI_SCI_IRQ);
	/* No SMM: SMI_CMD 0 tells the OS the machine is already in ACPI mode (SCI_EN set). */
	put32(t + FADT_SMI_CMD, ACPI_SMI_CMD);
	fadt_pm_blocks(t);
	put16(t + FADT_P_LVL2_LAT, P_LVL2_LAT_NONE);
	put16(t + FADT_P_LVL3_LAT, P_LVL3_LAT_NONE);
	t[FADT_CENTURY] = CMOS_CENTURY_INDEX;
	put16(t + FADT_IAPC_BOOT_ARCH, IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT);
	put32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON |
				      FADT_F_SLP_BUTTON | FADT_F_FIX_RTC | FADT_F_RESET_REG_SUP);
	/* Reset register (4.8.3.6): writing 0x06 to port 0xcf9 resets the machine. */
	gas_io(t + FADT_RESET_REG, 8, GAS_ACCESS_BYTE, ACPI_RESET_PORT);
	t[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = FADT_MINOR_REVISION;
	put64(t + FADT_X_FIRMWARE_CTRL, a->facs);
	put64(t + FADT_X_DSDT, a->dsdt);
	sdt_finish(t, FADT_SIZE);
}

static uint32_t madt_size(int ncpus)
{
	return MADT_HEADER_SIZE + (uint32_t)ncpus * MADT_LAPIC_SIZE + MADT_IOAPIC_SIZE +
	       2 * MADT_ISO_SIZE + MADT_LAPIC_NMI_SIZE;
}

static uint8_t *madt_iso(uint8_t *p, uint8_t isa_irq, uint32_t gsi, uint16_t flags)
{
	p[0] = MADT_TYPE_ISO;
	p[1] = MADT_ISO_SIZE;
	p[2] = ISA_BUS;
	p[3] = isa_irq;
	put32(p + 4, gsi);
	put16(p + 8, flags);
	return p + MADT_ISO_SIZE;
}

static void madt_build(struct acpi_builder *b, uint64_t gpa, const struct acpi_config *cfg)
{
	uint32_t len = madt_size(cfg->ncpus);
	uint8_t *t = acpi_at(b, gpa), *p = t + MADT_HEADER_SIZE;

	sdt_header(t, "APIC", len, MADT_REVISION);
	put32(t + MADT_LAPIC_ADDRESS, (uint32_t)LAPIC_DEFAULT_BASE);
	put32(t + MADT_FLAGS, MADT_PCAT_COMPAT);
	for (int i = 0; i < cfg->ncpus; i++, p += MADT_LAPIC_SIZE) {
		p[0] = MADT_TYPE_LAPIC;
		p[1] = MADT_LAPIC_SIZE;
		p[2] = (uint8_t)i; /* ACPI processor UID */
		p[3] = (uint8_t)i; /* APIC id */
		put32(p + 4, MADT_LAPIC_ENABLED);
	}
	p[0] = MADT_TYPE_IOAPIC;
	p[1] = MADT_IOAPIC_SIZE;
	p[2] = cfg->ioapic_id;
	p[3] = 0;
	put32(p + 4, (uint32_t)cfg->ioapic_addr);
	put32(p + 8, 0); /* GSI base */
	p += MADT_IOAPIC_SIZE;
	/* ISA IRQs map 1:1 to GSIs, edge, active high, except the timer and the SCI (5.2.12.5). */
	p = madt_iso(p, PIT_ISA_IRQ, PIT_GSI, MPS_ACTIVE_HIGH | MPS_EDGE);
	p = madt_iso(p, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_ACTIVE_HIGH | MPS_LEVEL);
	/* LINT1 of every local APIC is the NMI input, as the PC wires it (5.2.12.7). */
	p[0] = MADT_TYPE_LAPIC_NMI;
	p[1] = MADT_LAPIC_NMI_SIZE;
	p[2] = MADT_ALL_PROCESSORS;
	put16(p + 3, MPS_ACTIVE_HIGH | MPS_EDGE);
	p[5] = LINT1;
	sdt_finish(t, len);
}

static void rsdt_build(struct acpi_builder *b, const struct acpi_addrs *a)
{
	uint32_t len = SDT_HEADER_SIZE + 2 * 4;
	uint8_t *t = acpi_at(b, a->rsdt);

	sdt_header(t, "RSDT", len, SDT_REVISION_1);
	put32(t + SDT_HEADER_SIZE, (uint32_t)a->fadt);
	put32(t + SDT_HEADER_SIZE + 4, (uint32_t)a->madt);
	sdt_finish(t, len);
}

static void xsdt_build(struct acpi_builder *b, const struct acpi_addrs *a)
{
	uint32_t len = SDT_HEADER_SIZE + 2 * 8;
	uint8_t *t = acpi_at(b, a->xsdt);

	sdt_header(t, "XSDT", len, SDT_REVISION_1);
	put64(t + SDT_HEADER_SIZE, a->fadt);
	put64(t + SDT_HEADER_SIZE + 8, a->madt);
	sdt_finish(t, len);
}

static void rsdp_build(struct acpi_builder *b, const struct acpi_addrs *a)
{
	uint8_t *t = acpi_at(b, a->rsdp);

	memcpy(t, "RSD PTR ", 8);
	memcpy(t + RSDP_OEM_ID, ACPI_OEM_ID, 6);
	t[RSDP_REVISION] = RSDP_REVISION_2;
	put32(t + RSDP_RSDT_ADDRESS, (uint32_t)a->rsdt);
	put32(t + RSDP_LENGTH, RSDP_SIZE);
	put64(t + RSDP_XSDT_ADDRESS, a->xsdt);
	t[RSDP_CHECKSUM] = acpi_checksum(t, RSDP_CHECKSUM_LEN);
	t[RSDP_EXT_CHECKSUM] = acpi_checksum(t, RSDP_SIZE);
}

/* Places every table; the RSDP comes first so that it sits at ACPI_TABLES_BASE. */
static int acpi_layout(struct acpi_builder *b, const struct acpi_config *cfg, struct acpi_addrs *a)
{
	a->rsdp = acpi_alloc(b, RSDP_SIZE, TABLE_ALIGN);
	a->facs = acpi_alloc(b, FACS_SIZE, FACS_ALIGN);
	a->dsdt = acpi_alloc(b, sizeof(dsdt_aml_code), TABLE_ALIGN);
	a->fadt = acpi_alloc(b, FADT_SIZE, TABLE_ALIGN);
	a->madt = acpi_alloc(b, madt_size(cfg->ncpus), TABLE_ALIGN);
	a->rsdt = acpi_alloc(b, SDT_HEADER_SIZE + 2 * 4, TABLE_ALIGN);
	a->xsdt = acpi_alloc(b, SDT_HEADER_SIZE + 2 * 8, TABLE_ALIGN);
	if (!a->rsdp || !a->facs || !a->dsdt || !a->fadt || !a->madt || !a->rsdt || !a->xsdt)
		return -ENOSPC;
	return 0;
}

int acpi_build(const struct gmem *gm, const struct acpi_config *cfg, uint64_t *rsdp_addr)
{
	struct acpi_builder b = { 0 };
	struct acpi_addrs a = { 0 };
	int rc;

	if (!gm || !cfg || !rsdp_addr || cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS ||
	    cfg->ioapic_addr > UINT32_MAX)
		return -EINVAL;
	b.buf = calloc(1, ACPI_AREA_SIZE);
	if (!b.buf)
		return -ENOMEM;
	rc = acpi_layout(&b, cfg, &a);
	if (!rc) {
		facs_build(&b, a.facs);
		memcpy(acpi_at(&b, a.dsdt), dsdt_aml_code, sizeof(dsdt_aml_code));
		fadt_build(&b, &a);
		madt_build(&b, a.madt, cfg);
		rsdt_build(&b, &a);
		xsdt_build(&b, &a);
		rsdp_build(&b, &a);
		rc = gmem_write(gm, ACPI_TABLES_BASE, b.buf, b.used);
	}
	free(b.buf);
	if (!rc)
		*rsdp_addr = a.rsdp;
	return rc;
}
