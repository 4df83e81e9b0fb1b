/* PCI configuration mechanism #1, BAR sizing and decoding, INTx routing through PIRQ. */
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hostvisor/pci.h"

struct irq_log {
	int isa[16];
	int gsi[24];
};

static void log_isa(void *opaque, int irq, int level)
{
	((struct irq_log *)opaque)->isa[irq] = level;
}

static void log_gsi(void *opaque, int gsi, int level)
{
	((struct irq_log *)opaque)->gsi[gsi] = level;
}

static const struct pci_irq_ops irq_ops = { .set_isa_irq = log_isa, .set_gsi = log_gsi };

struct fixture {
	struct bus pio, mmio;
	struct pci_bus *pci;
	struct irq_log irqs;
	struct pci_device dev;
	uint64_t bar_last_offset;
	int bar_writes;
};

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque;
	(void)size;
	return 0xa0 + offset;
}

static void bar_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct fixture *f = opaque;

	(void)size;
	(void)value;
	f->bar_last_offset = offset;
	f->bar_writes++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	f->pci = pci_bus_create(&f->pio, &f->mmio, &irq_ops, &f->irqs);
	assert_int_equal(pci_bus_attach(f->pci), 0);
	pci_device_init(&f->dev, "nic", 0x1022, 0x2000, 0x020000, 0x10);
	assert_int_equal(pci_bar_define(&f->dev, 0, PCI_BAR_IO, 32, bar_read, bar_write, f), 0);
	assert_int_equal(pci_bar_define(&f->dev, 1, PCI_BAR_MEM32, 4096, bar_read, bar_write, f), 0);
	pci_set_interrupt_pin(&f->dev, 1);
	assert_int_equal(pci_device_add(f->pci, &f->dev, 3, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pci_bus_destroy(f->pci);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	free(f);
	return 0;
}

static uint32_t cfg_read(struct fixture *f, int slot, int fn, unsigned reg, unsigned size)
{
	uint64_t v;

	bus_write(&f->pio, 0xcf8, 4, 0x80000000u | (slot << 11) | (fn << 8) | (reg & 0xfc));
	bus_read(&f->pio, 0xcfc + (reg & 3), size, &v);
	return (uint32_t)v;
}

static void cfg_write(struct fixture *f, int slot, int fn, unsigned reg, unsigned size,
		      uint32_t v)
{
	bus_write(&f->pio, 0xcf8, 4, 0x80000000u | (slot << 11) | (fn << 8) | (reg & 0xfc));
	bus_write(&f->pio, 0xcfc + (reg & 3), size, v);
}

static void test_bridges_and_absent_devices(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cfg_read(f, 0, 0, 0, 4), 0x12378086);
	assert_int_equal(cfg_read(f, 0, 0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(cfg_read(f, 1, 0, 0, 4), 0x70008086);
	assert_int_equal(cfg_read(f, 1, 0, 0x0a, 2), 0x0601);
	assert_int_equal(cfg_read(f, 2, 0, 0, 4), 0xffffffffu);
	assert_int_equal(cfg_read(f, 3, 1, 0, 2), 0xffff);
	assert_int_equal(cfg_read(f, 3, 0, 0, 4), 0x20001022);
	assert_int_equal(cfg_read(f, 3, 0, 0x0b, 1), 0x02);
	/* Bus 1 does not exist; an address with the enable bit clear reaches nothing. */
	bus_write(&f->pio, 0xcf8, 4, 0x80010000u);
	{
		uint64_t v;
		bus_read(&f->pio, 0xcfc, 4, &v);
		assert_int_equal(v, 0xffffffffu);
		bus_write(&f->pio, 0xcf8, 4, 0x00000000u);
		bus_read(&f->pio, 0xcfc, 4, &v);
		assert_int_equal(v, 0xffffffffu);
	}
}

static void test_confadd_dword_only(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	bus_write(&f->pio, 0xcf8, 4, 0x8000180cu);
	bus_read(&f->pio, 0xcf8, 4, &v);
	assert_int_equal(v, 0x8000180cu);
	/* A byte write to 0xcf8 is not a CONFADD access and leaves it alone. */
	bus_write(&f->pio, 0xcf8, 1, 0);
	bus_read(&f->pio, 0xcf8, 4, &v);
	assert_int_equal(v, 0x8000180cu);
	/* Reserved bits 30:24 and 1:0 read as zero. */
	bus_write(&f->pio, 0xcf8, 4, 0xff00ff03u);
	bus_read(&f->pio, 0xcf8, 4, &v);
	assert_int_equal(v, 0x8000ff00u);
}

static void test_bar_sizing(void **state)
{
	struct fixture *f = *state;

	cfg_write(f, 3, 0, 0x10, 4, 0xffffffffu);
	assert_int_equal(cfg_read(f, 3, 0, 0x10, 4), 0xffffffe1u); /* 32 bytes, I/O */
	cfg_write(f, 3, 0, 0x14, 4, 0xffffffffu);
	assert_int_equal(cfg_read(f, 3, 0, 0x14, 4), 0xfffff000u); /* 4 KiB, memory */
	cfg_write(f, 3, 0, 0x18, 4, 0xffffffffu);
	assert_int_equal(cfg_read(f, 3, 0, 0x18, 4), 0); /* unimplemented BAR */
	cfg_write(f, 3, 0, 0x30, 4, 0xffffffffu);
	assert_int_equal(cfg_read(f, 3, 0, 0x30, 4), 0); /* no expansion ROM */
}

static void test_bar_decode_follows_command(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	cfg_write(f, 3, 0, 0x10, 4, 0xd000);
	cfg_write(f, 3, 0, 0x14, 4, 0xe1000000);
	assert_int_equal(bus_read(&f->pio, 0xd004, 1, &v), BUS_UNCLAIMED);
	cfg_write(f, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_true(bus_read(&f->pio, 0xd004, 1, &v) >= 0);
	assert_int_equal(v, 0xa4);
	assert_int_equal(bus_read(&f->mmio, 0xe1000010, 4, &v), BUS_UNCLAIMED);
	cfg_write(f, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	bus_write(&f->mmio, 0xe1000010, 4, 1);
	assert_int_equal(f->bar_last_offset, 0x10);
	/* Moving a BAR moves its decoding. */
	cfg_write(f, 3, 0, 0x10, 4, 0xd100);
	assert_int_equal(bus_read(&f->pio, 0xd004, 1, &v), BUS_UNCLAIMED);
	assert_true(bus_read(&f->pio, 0xd104, 1, &v) >= 0);
	/* Disabling I/O space stops decoding. */
	cfg_write(f, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(bus_read(&f->pio, 0xd104, 1, &v), BUS_UNCLAIMED);
	/* A BAR over an existing range is left undecoded rather than stealing it. */
	cfg_write(f, 3, 0, 0x10, 4, 0xcf8);
	cfg_write(f, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_IO);
	bus_write(&f->pio, 0xcf8, 4, 0x80001800u);
	bus_read(&f->pio, 0xcfc, 4, &v);
	assert_int_equal(v, 0x20001022);
}

static void test_firmware_setup_and_intx(void **state)
{
	struct fixture *f = *state;
	uint16_t elcr;
	uint32_t bar0;

	pci_firmware_setup(f->pci, &elcr);
	assert_int_equal(elcr, (1 << 10) | (1 << 11));
	bar0 = cfg_read(f, 3, 0, 0x10, 4);
	assert_int_equal(bar0 & 1, 1);
	assert_true((bar0 & ~3u) >= 0xc000);
	assert_int_equal((bar0 & ~3u) % 32, 0);
	assert_true(cfg_read(f, 3, 0, 0x14, 4) >= 0xe0000000u);
	/* Slot 3 INTA -> PIRQ (3 + 0) & 3 = D -> IRQ 11, GSI 19. */
	assert_int_equal(pci_device_gsi(&f->dev), 19);
	assert_int_equal(cfg_read(f, 3, 0, PCI_INTERRUPT_LINE, 1), 11);
	pci_set_intx(&f->dev, true);
	assert_int_equal(f->irqs.isa[11], 1);
	assert_int_equal(f->irqs.gsi[19], 1);
	assert_int_equal(cfg_read(f, 3, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	/* INTx disable masks the pin but keeps the status bit (PCI 3.0 6.2.2, 6.2.3). */
	cfg_write(f, 3, 0, PCI_COMMAND, 2, cfg_read(f, 3, 0, PCI_COMMAND, 2) | PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(f->irqs.gsi[19], 0);
	assert_int_equal(cfg_read(f, 3, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
	cfg_write(f, 3, 0, PCI_COMMAND, 2, cfg_read(f, 3, 0, PCI_COMMAND, 2) & ~PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(f->irqs.gsi[19], 1);
	/* Re-routing PIRQD in the PIIX3 moves the ISA line. */
	cfg_write(f, 1, 0, 0x63, 1, 5);
	assert_int_equal(f->irqs.isa[11], 0);
	assert_int_equal(f->irqs.isa[5], 1);
	/* Disabled routing (bit 7) and reserved IRQs drive no ISA line. */
	cfg_write(f, 1, 0, 0x63, 1, 0x85);
	assert_int_equal(f->irqs.isa[5], 0);
	cfg_write(f, 1, 0, 0x63, 1, 0x02);
	assert_int_equal(f->irqs.isa[2], 0);
	pci_set_intx(&f->dev, false);
	assert_int_equal(f->irqs.gsi[19], 0);
	assert_int_equal(cfg_read(f, 3, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT, 0);
}

static void test_shared_pirq_is_wired_or(void **state)
{
	struct fixture *f = *state;
	struct pci_device other;
	uint16_t elcr;

	/* Slot 7 INTA -> PIRQ (7 & 3) = D as well. */
	pci_device_init(&other, "other", 0x1af4, 0x1000, 0x020000, 0);
	pci_set_interrupt_pin(&other, 1);
	assert_int_equal(pci_device_add(f->pci, &other, 7, 0), 0);
	pci_firmware_setup(f->pci, &elcr);
	pci_set_intx(&f->dev, true);
	pci_set_intx(&other, true);
	pci_set_intx(&f->dev, false);
	assert_int_equal(f->irqs.gsi[19], 1);
	pci_set_intx(&other, false);
	assert_int_equal(f->irqs.gsi[19], 0);
}

static void test_bad_accesses_ignored(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pci_config_read(f->pci, PCI_DEVFN(3, 0), 0x101, 1), 0xffffffffu);
	assert_int_equal(pci_config_read(f->pci, PCI_DEVFN(3, 0), 0x3, 2), 0xffffffffu);
	pci_config_write(f->pci, PCI_DEVFN(3, 0), 0xff, 4, 0);
	/* Read-only identity and class stay. */
	cfg_write(f, 3, 0, 0, 4, 0);
	cfg_write(f, 3, 0, 8, 4, 0);
	assert_int_equal(cfg_read(f, 3, 0, 0, 4), 0x20001022);
	assert_int_equal(cfg_read(f, 3, 0, 8, 4), 0x02000010);
	assert_int_equal(pci_device_add(f->pci, &f->dev, 3, 0), -EEXIST);
	assert_int_equal(pci_device_add(f->pci, &f->dev, 32, 0), -EINVAL);
	assert_int_equal(pci_bar_define(&f->dev, 6, PCI_BAR_IO, 32, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(pci_bar_define(&f->dev, 0, PCI_BAR_IO, 24, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(pci_bar_define(&f->dev, 5, PCI_BAR_MEM64, 4096, NULL, NULL, NULL), -EINVAL);
}

static void test_multifunction_bit(void **state)
{
	struct fixture *f = *state;
	struct pci_device fn1;

	assert_int_equal(cfg_read(f, 3, 0, PCI_HEADER_TYPE, 1), 0);
	pci_device_init(&fn1, "fn1", 0x8086, 0x7010, 0x010180, 0);
	assert_int_equal(pci_device_add(f->pci, &fn1, 3, 1), 0);
	assert_int_equal(cfg_read(f, 3, 0, PCI_HEADER_TYPE, 1), 0x80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bridges_and_absent_devices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confadd_dword_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_decode_follows_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_firmware_setup_and_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_pirq_is_wired_or, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_accesses_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multifunction_bit, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
