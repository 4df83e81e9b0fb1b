/*
 * The ACPI tables parsed back out of fake guest memory the way an OS finds them: scan
 * 0xe0000-0xfffff for the RSDP, follow RSDT/XSDT to the FADT and MADT, the FADT to the FACS
 * and DSDT. Checks signatures, lengths, checksums, the fixed hardware against acpi_pm.h and the
 * MADT entries for 1, 16 and 255 CPUs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/acpi.h"
#include "hostvisor/acpi_pm.h"
#include "hostvisor/ioapic.h"
#include "hostvisor/le.h"

#define RAM_SIZE (2 * 1024 * 1024ull)
#define FILL 0xa5

struct fixture {
	uint8_t *ram;
	struct gmem gm;
};

struct tables {
	const uint8_t *rsdp, *rsdt, *xsdt, *fadt, *facs, *dsdt, *madt;
};

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = malloc(RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, FILL, RAM_SIZE);
	assert_int_equal(gmem_add_region(&f->gm, 0, RAM_SIZE, f->ram), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

/* A table the way ACPICA accepts it: inside the area, signature, length, checksum, OEM ids. */
static const uint8_t *table_at(const struct fixture *f, uint64_t addr, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	assert_true(addr >= ACPI_TABLES_BASE && addr + 36 <= ACPI_TABLES_LIMIT);
	t = f->ram + addr;
	assert_memory_equal(t, sig, 4);
	len = get32(t + 4);
	assert_true(len >= 36 && addr + len <= ACPI_TABLES_LIMIT);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "HVISOR", 6);
	assert_memory_equal(t + 16, "HOSTVISR", 8);
	return t;
}

/* Scans the BIOS area on 16-byte boundaries, as ACPI 6.3 section 5.2.5.1 tells an OS to. */
static const uint8_t *rsdp_scan(const struct fixture *f)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(f->ram + a, "RSD PTR ", 8) && sum(f->ram + a, 20) == 0)
			return f->ram + a;
	return NULL;
}

static void parse(const struct fixture *f, uint64_t rsdp_addr, struct tables *t)
{
	t->rsdp = rsdp_scan(f);
	assert_non_null(t->rsdp);
	assert_ptr_equal(t->rsdp, f->ram + rsdp_addr);
	assert_int_equal(rsdp_addr % 16, 0);
	assert_int_equal(t->rsdp[15], 2);
	assert_int_equal(get32(t->rsdp + 20), 36);
	assert_int_equal(sum(t->rsdp, 36), 0);
	assert_memory_equal(t->rsdp + 9, "HVISOR", 6);
	t->rsdt = table_at(f, get32(t->rsdp + 16), "RSDT");
	t->xsdt = table_at(f, get64(t->rsdp + 24), "XSDT");
	assert_int_equal(get32(t->rsdt + 4), 36 + 2 * 4);
	assert_int_equal(get32(t->xsdt + 4), 36 + 2 * 8);
	/* RSDT and XSDT list the same tables. */
	assert_int_equal(get32(t->rsdt + 36), get64(t->xsdt + 36));
	assert_int_equal(get32(t->rsdt + 40), get64(t->xsdt + 44));
	t->fadt = table_at(f, get64(t->xsdt + 36), "FACP");
	t->madt = table_at(f, get64(t->xsdt + 44), "APIC");
	t->dsdt = table_at(f, get64(t->fadt + 140), "DSDT");
	assert_int_equal(get32(t->fadt + 40), get64(t->fadt + 140));
	assert_int_equal(get32(t->fadt + 36), 0); /* FACS only through X_FIRMWARE_CTRL */
	assert_true(get64(t->fadt + 132) != 0);
	t->facs = f->ram + get64(t->fadt + 132);
	assert_int_equal(get64(t->fadt + 132) % 64, 0);
	assert_memory_equal(t->facs, "FACS", 4);
	assert_int_equal(get32(t->facs + 4), 64);
}

static void build(struct fixture *f, int ncpus, struct tables *t)
{
	struct acpi_config cfg = { .ncpus = ncpus, .ioapic_id = (uint8_t)ncpus,
				   .ioapic_addr = IOAPIC_DEFAULT_BASE };
	uint64_t rsdp = 0;

	assert_int_equal(acpi_build(&f->gm, &cfg, &rsdp), 0);
	assert_int_equal(rsdp, ACPI_TABLES_BASE);
	parse(f, rsdp, t);
}

static void expect_gas_io(const uint8_t *g, unsigned width, uint64_t port)
{
	assert_int_equal(g[0], 1); /* system I/O */
	assert_int_equal(g[1], width);
	assert_int_equal(g[2], 0);
	assert_int_equal(get64(g + 4), port);
}

static void test_fadt(void **state)
{
	struct fixture *f = *state;
	struct tables t;
	uint32_t flags;

	build(f, 1, &t);
	assert_int_equal(get32(t.fadt + 4), 276);
	assert_int_equal(t.fadt[8], 6);
	assert_int_equal(get16(t.fadt + 46), ACPI_SCI_IRQ);
	assert_int_equal(get32(t.fadt + 48), ACPI_SMI_CMD);
	assert_int_equal(get32(t.fadt + 56), ACPI_PM1A_EVT_BLK);
	assert_int_equal(get32(t.fadt + 60), 0);
	assert_int_equal(get32(t.fadt + 64), ACPI_PM1A_CNT_BLK);
	assert_int_equal(get32(t.fadt + 68), 0);
	assert_int_equal(get32(t.fadt + 76), ACPI_PM_TMR_BLK);
	assert_int_equal(get32(t.fadt + 80), ACPI_GPE0_BLK);
	assert_int_equal(get32(t.fadt + 84), 0);
	assert_int_equal(t.fadt[88], 4);
	assert_int_equal(t.fadt[89], 2);
	assert_int_equal(t.fadt[91], 4);
	assert_int_equal(t.fadt[92], ACPI_GPE0_BLK_LEN);
	assert_int_equal(t.fadt[93], 0);
	assert_true(get16(t.fadt + 96) > 100);  /* no C2 */
	assert_true(get16(t.fadt + 98) > 1000); /* no C3 */
	assert_int_equal(get16(t.fadt + 109), 0x7); /* LEGACY_DEVICES | 8042 | VGA not present */
	flags = get32(t.fadt + 112);
	assert_true(flags & (1u << 0));   /* WBINVD */
	assert_true(flags & (1u << 2));   /* PROC_C1 */
	assert_true(flags & (1u << 5));   /* SLP_BUTTON: none */
	assert_false(flags & (1u << 8));  /* TMR_VAL_EXT: 24-bit timer */
	assert_true(flags & (1u << 10));  /* RESET_REG_SUP */
	assert_false(flags & (1u << 20)); /* not hardware-reduced */
	expect_gas_io(t.fadt + 116, 8, ACPI_RESET_PORT);
	assert_int_equal(t.fadt[128], ACPI_RESET_VALUE);
	expect_gas_io(t.fadt + 148, 32, ACPI_PM1A_EVT_BLK);
	expect_gas_io(t.fadt + 172, 16, ACPI_PM1A_CNT_BLK);
	expect_gas_io(t.fadt + 208, 32, ACPI_PM_TMR_BLK);
	expect_gas_io(t.fadt + 220, ACPI_GPE0_BLK_LEN * 8, ACPI_GPE0_BLK);
	/* Unused blocks are all-zero generic addresses. */
	for (unsigned off = 160; off < 172; off++)
		assert_int_equal(t.fadt[off], 0);
}

static void test_facs_and_dsdt(void **state)
{
	struct fixture *f = *state;
	struct tables t;
	const uint8_t *s5 = NULL;
	uint32_t len;

	build(f, 1, &t);
	assert_int_equal(t.facs[32], 2);
	len = get32(t.dsdt + 4);
	assert_true(len > 36);
	assert_int_equal(t.dsdt[8], 2); /* 64-bit integers */
	for (uint32_t i = 36; i + 4 <= len && !s5; i++)
		if (!memcmp(t.dsdt + i, "_S5_", 4))
			s5 = t.dsdt + i;
	assert_non_null(s5);
	/* PackageOp, PkgLength, NumElements 4, BytePrefix SLP_TYPa, BytePrefix SLP_TYPb. */
	assert_int_equal(s5[4], 0x12);
	assert_int_equal(s5[6], 4);
	assert_int_equal(s5[7], 0x0a);
	assert_int_equal(s5[8], ACPI_S5_SLP_TYP);
	assert_int_equal(s5[9], 0x0a);
	assert_int_equal(s5[10], ACPI_S5_SLP_TYP);
	assert_non_null(memmem(t.dsdt, len, "PCI0", 4));
	assert_non_null(memmem(t.dsdt, len, "_PRT", 4));
}

struct madt_count {
	int lapic, ioapic, iso, nmi, other;
};

static void check_madt_entry(const uint8_t *e, int ncpus, struct madt_count *c)
{
	switch (e[0]) {
	case 0:
		assert_int_equal(e[1], 8);
		assert_int_equal(e[2], c->lapic); /* UID */
		assert_int_equal(e[3], c->lapic); /* APIC id */
		assert_int_equal(get32(e + 4), 1);
		c->lapic++;
		break;
	case 1:
		assert_int_equal(e[1], 12);
		assert_int_equal(e[2], (uint8_t)ncpus);
		assert_int_equal(get32(e + 4), IOAPIC_DEFAULT_BASE);
		assert_int_equal(get32(e + 8), 0);
		c->ioapic++;
		break;
	case 2:
		assert_int_equal(e[1], 10);
		assert_int_equal(e[2], 0);
		if (e[3] == 0) {
			assert_int_equal(get32(e + 4), 2);
			assert_int_equal(get16(e + 8), 0x5); /* edge, active high */
		} else {
			assert_int_equal(e[3], ACPI_SCI_IRQ);
			assert_int_equal(get32(e + 4), ACPI_SCI_IRQ);
			assert_int_equal(get16(e + 8), 0xd); /* level, active high */
		}
		c->iso++;
		break;
	case 4:
		assert_int_equal(e[1], 6);
		assert_int_equal(e[2], 0xff);
		assert_int_equal(e[5], 1);
		c->nmi++;
		break;
	default:
		c->other++;
	}
}

static void check_madt(struct fixture *f, int ncpus)
{
	struct tables t;
	struct madt_count c = { 0 };
	uint32_t len, off;

	build(f, ncpus, &t);
	len = get32(t.madt + 4);
	assert_int_equal(get32(t.madt + 36), LAPIC_DEFAULT_BASE);
	assert_int_equal(get32(t.madt + 40), 1); /* PCAT_COMPAT */
	for (off = 44; off + 2 <= len; off += t.madt[off + 1]) {
		assert_true(t.madt[off + 1] >= 2);
		assert_true(off + t.madt[off + 1] <= len);
		check_madt_entry(t.madt + off, ncpus, &c);
	}
	assert_int_equal(off, len);
	assert_int_equal(c.lapic, ncpus);
	assert_int_equal(c.ioapic, 1);
	assert_int_equal(c.iso, 2);
	assert_int_equal(c.nmi, 1);
	assert_int_equal(c.other, 0);
}

static void test_madt_1_cpu(void **state)
{
	check_madt(*state, 1);
}

static void test_madt_16_cpus(void **state)
{
	check_madt(*state, 16);
}

static void test_madt_255_cpus(void **state)
{
	check_madt(*state, 255);
}

/* Only the bytes the tables use are written: the rest of the BIOS area stays as it was. */
static void test_writes_only_tables(void **state)
{
	struct fixture *f = *state;
	struct tables t;
	uint64_t end = 0;
	const uint8_t *tabs[6];

	build(f, 4, &t);
	tabs[0] = t.rsdt, tabs[1] = t.xsdt, tabs[2] = t.fadt, tabs[3] = t.madt, tabs[4] = t.dsdt;
	tabs[5] = t.facs;
	for (int i = 0; i < 6; i++) {
		uint64_t e = (uint64_t)(tabs[i] - f->ram) + get32(tabs[i] + 4);

		if (e > end)
			end = e;
	}
	for (uint64_t a = end; a < ACPI_TABLES_LIMIT; a++)
		assert_int_equal(f->ram[a], FILL);
	for (uint64_t a = 0; a < ACPI_TABLES_BASE; a++)
		assert_int_equal(f->ram[a], FILL);
	assert_true(end < 0xf0000); /* leaves the upper 64 KiB to firmware */
}

static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	struct acpi_config cfg = { .ncpus = 1, .ioapic_id = 1, .ioapic_addr = IOAPIC_DEFAULT_BASE };
	uint64_t rsdp = 0;

	assert_int_equal(acpi_build(NULL, &cfg, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(&f->gm, NULL, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(&f->gm, &cfg, NULL), -EINVAL);
	cfg.ncpus = 0;
	assert_int_equal(acpi_build(&f->gm, &cfg, &rsdp), -EINVAL);
	cfg.ncpus = -3;
	assert_int_equal(acpi_build(&f->gm, &cfg, &rsdp), -EINVAL);
	cfg.ncpus = 256;
	assert_int_equal(acpi_build(&f->gm, &cfg, &rsdp), -EINVAL);
	cfg.ncpus = 1;
	cfg.ioapic_addr = 0x100000000ull;
	assert_int_equal(acpi_build(&f->gm, &cfg, &rsdp), -EINVAL);
	assert_int_equal(rsdp, 0);
	for (uint64_t a = ACPI_TABLES_BASE; a < ACPI_TABLES_LIMIT; a++)
		assert_int_equal(f->ram[a], FILL);
}

static void test_no_ram_for_tables(void **state)
{
	struct gmem gm = { 0 };
	uint8_t *ram = calloc(1, 0xa0000);
	struct acpi_config cfg = { .ncpus = 1, .ioapic_id = 1, .ioapic_addr = IOAPIC_DEFAULT_BASE };
	uint64_t rsdp = 0;

	(void)state;
	assert_non_null(ram);
	assert_int_equal(gmem_add_region(&gm, 0, 0xa0000, ram), 0);
	assert_int_equal(acpi_build(&gm, &cfg, &rsdp), -EFAULT);
	assert_int_equal(rsdp, 0);
	free(ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fadt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_facs_and_dsdt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt_1_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt_16_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_madt_255_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writes_only_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
		cmocka_unit_test(test_no_ram_for_tables),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
