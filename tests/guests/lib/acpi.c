/*
 * Finding the firmware's ACPI tables (ACPI 6.x section 5.2): the RSDP in the EBDA's first KiB
 * or in 0xe0000-0xfffff (5.2.5.1), the RSDT/XSDT, and from them the FADT (5.2.9) and the MADT
 * (5.2.12). Every length read from the tables is bounded before it is used.
 */
#include "guest.h"

#define RSDP_SCAN_START 0xe0000u
#define RSDP_SCAN_END 0x100000u
#define EBDA_SEG_PTR 0x40eu
#define SDT_HEADER_LEN 36u
#define SDT_MAX_LEN 0x100000u
#define SDT_MAX_ENTRIES 256u

/* FADT field offsets (ACPI 6.x table 5.9) */
#define FADT_DSDT 40
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM_TMR_BLK 76
#define FADT_CENTURY 108
#define FADT_FLAGS 112
#define FADT_X_DSDT 140
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_X_PM_TMR_BLK 208
#define FADT_FLAG_TMR_VAL_EXT (1u << 8)
#define GAS_SPACE_SYSTEM_IO 1

/* MADT (ACPI 6.x 5.2.12) */
#define MADT_LAPIC_ADDR 36
#define MADT_ENTRIES 44
#define MADT_IOAPIC 1
#define MADT_ISO 2

static struct acpi_info info;
static bool probed;

/* The asm hides the constant address from gcc, whose -Warray-bounds rejects low addresses. */
static uint8_t rd8(uint64_t a)
{
	__asm__("" : "+r"(a));
	return *(const volatile uint8_t *)(uintptr_t)a;
}

static uint16_t rd16(uint64_t a)
{
	return rd8(a) | (uint16_t)rd8(a + 1) << 8;
}

static uint32_t rd32(uint64_t a)
{
	return rd16(a) | (uint32_t)rd16(a + 2) << 16;
}

static uint64_t rd64(uint64_t a)
{
	return rd32(a) | (uint64_t)rd32(a + 4) << 32;
}

uint8_t acpi_checksum(uint64_t addr, uint32_t len)
{
	uint8_t sum = 0;

	for (uint32_t i = 0; i < len; i++)
		sum += rd8(addr + i);
	return sum;
}

/* Only the low 4 GiB is mapped; a table must lie there whole. */
static bool table_valid(uint64_t addr, const char *sig)
{
	if (!addr || addr >= 0xffffffffull - SDT_MAX_LEN)
		return false;
	if (sig && memcmp((const void *)(uintptr_t)addr, sig, 4))
		return false;
	uint32_t len = rd32(addr + 4);

	return len >= SDT_HEADER_LEN && len <= SDT_MAX_LEN && acpi_checksum(addr, len) == 0;
}

static bool rsdp_at(uint64_t a)
{
	if (memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8) || acpi_checksum(a, 20))
		return false;
	return rd8(a + 15) < 2 || acpi_checksum(a, 36) == 0;
}

static uint64_t rsdp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + 36 <= end; a += 16) {
		if (rsdp_at(a))
			return a;
	}
	return 0;
}

static uint64_t rsdp_find(void)
{
	uint64_t ebda = (uint64_t)rd16(EBDA_SEG_PTR) << 4;

	if (ebda >= 0x80000 && ebda < 0xa0000) {
		uint64_t a = rsdp_scan(ebda, ebda + 1024);

		if (a)
			return a;
	}
	return rsdp_scan(RSDP_SCAN_START, RSDP_SCAN_END);
}

static uint64_t sdt_entry(unsigned i)
{
	if (info.xsdt)
		return rd64(info.xsdt + SDT_HEADER_LEN + 8 * i);
	return rd32(info.rsdt + SDT_HEADER_LEN + 4 * i);
}

static unsigned sdt_count(void)
{
	uint64_t sdt = info.xsdt ? info.xsdt : info.rsdt;
	unsigned n = (rd32(sdt + 4) - SDT_HEADER_LEN) / (info.xsdt ? 8 : 4);

	return n < SDT_MAX_ENTRIES ? n : SDT_MAX_ENTRIES;
}

static uint64_t table_find(const char *sig)
{
	if (!info.xsdt && !info.rsdt)
		return 0;
	for (unsigned i = 0; i < sdt_count(); i++) {
		uint64_t t = sdt_entry(i);

		if (table_valid(t, sig))
			return t;
	}
	return 0;
}

/* A FADT port: the 32-bit block address, else the X_ generic address if it is in I/O space. */
static uint32_t fadt_port(uint32_t legacy_off, uint32_t gas_off)
{
	uint32_t len = rd32(info.fadt + 4);
	uint32_t port = rd32(info.fadt + legacy_off);

	if (port || len < gas_off + 12)
		return port;
	if (rd8(info.fadt + gas_off) != GAS_SPACE_SYSTEM_IO)
		return 0;
	return (uint32_t)rd64(info.fadt + gas_off + 4);
}

static void fadt_parse(void)
{
	uint32_t len = rd32(info.fadt + 4);

	info.pm1a_cnt = fadt_port(FADT_PM1A_CNT_BLK, FADT_X_PM1A_CNT_BLK);
	info.pm_tmr = fadt_port(FADT_PM_TMR_BLK, FADT_X_PM_TMR_BLK);
	if (len > FADT_CENTURY)
		info.century = rd8(info.fadt + FADT_CENTURY);
	if (len >= FADT_FLAGS + 4)
		info.pm_tmr_32bit = rd32(info.fadt + FADT_FLAGS) & FADT_FLAG_TMR_VAL_EXT;
	uint64_t dsdt = 0;

	if (len >= FADT_X_DSDT + 8)
		dsdt = rd64(info.fadt + FADT_X_DSDT);
	if (!dsdt)
		dsdt = rd32(info.fadt + FADT_DSDT);
	if (!table_valid(dsdt, "DSDT"))
		return;
	info.dsdt = dsdt;
	info.s5_typ = aml_find_s5((const uint8_t *)(uintptr_t)(dsdt + SDT_HEADER_LEN),
				  rd32(dsdt + 4) - SDT_HEADER_LEN);
}

static void madt_entry(uint64_t e, uint8_t type, uint8_t len)
{
	if (type == MADT_IOAPIC && len >= 12 && !info.ioapic_addr)
		info.ioapic_addr = rd32(e + 4);
	/* Interrupt source override (5.2.12.5): bus 0 is ISA. */
	if (type == MADT_ISO && len >= 10 && rd8(e + 2) == 0 && rd8(e + 3) == 0)
		info.irq0_gsi = (int)rd32(e + 4);
}

static void madt_parse(void)
{
	uint32_t len = rd32(info.madt + 4);

	info.lapic_addr = rd32(info.madt + MADT_LAPIC_ADDR);
	for (uint32_t off = MADT_ENTRIES; off + 2 <= len;) {
		uint8_t type = rd8(info.madt + off), elen = rd8(info.madt + off + 1);

		if (elen < 2 || off + elen > len)
			break;
		madt_entry(info.madt + off, type, elen);
		off += elen;
	}
}

static void acpi_probe(void)
{
	info.s5_typ = -1;
	info.irq0_gsi = 0;
	info.rsdp = rsdp_find();
	if (!info.rsdp)
		return;
	if (rd8(info.rsdp + 15) >= 2 && table_valid(rd64(info.rsdp + 24), "XSDT"))
		info.xsdt = rd64(info.rsdp + 24);
	if (table_valid(rd32(info.rsdp + 16), "RSDT"))
		info.rsdt = rd32(info.rsdp + 16);
	info.fadt = table_find("FACP");
	if (info.fadt)
		fadt_parse();
	info.madt = table_find("APIC");
	if (info.madt)
		madt_parse();
}

const struct acpi_info *acpi(void)
{
	if (!probed) {
		acpi_probe();
		probed = true;
	}
	return &info;
}
