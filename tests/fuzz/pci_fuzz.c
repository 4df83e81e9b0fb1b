/* Fuzzes the PCI bus through its ports: CONFADD/CONFDATA of any size, BAR moves, INTx. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/pci.h"

struct irq_state {
	int isa[16], gsi[24];
};

static void set_isa(void *opaque, int irq, int level)
{
	struct irq_state *s = opaque;

	if (irq < 0 || irq >= 16)
		abort();
	s->isa[irq] = level;
}

static void set_gsi(void *opaque, int gsi, int level)
{
	struct irq_state *s = opaque;

	if (gsi < 16 || gsi >= 24)
		abort();
	s->gsi[gsi] = level;
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque;
	(void)size;
	return offset;
}

static void bar_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)opaque;
	(void)offset;
	(void)size;
	(void)value;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct pci_irq_ops ops = { .set_isa_irq = set_isa, .set_gsi = set_gsi };
	struct irq_state irqs = { 0 };
	struct bus pio, mmio;
	struct pci_bus *pci;
	struct pci_device dev[2];
	uint16_t elcr;

	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	pci = pci_bus_create(&pio, &mmio, &ops, &irqs);
	pci_bus_attach(pci);
	for (int i = 0; i < 2; i++) {
		pci_device_init(&dev[i], "dev", 0x1022, 0x2000, 0x020000, 0);
		pci_bar_define(&dev[i], 0, PCI_BAR_IO, 32, bar_read, bar_write, NULL);
		pci_bar_define(&dev[i], 1, PCI_BAR_MEM32, 4096, bar_read, bar_write, NULL);
		pci_bar_define(&dev[i], 2, PCI_BAR_MEM64, 1 << 20, bar_read, bar_write, NULL);
		pci_set_interrupt_pin(&dev[i], 1 + i);
		pci_device_add(pci, &dev[i], 3 + i * 4, 0);
	}
	if (len && (data[0] & 1))
		pci_firmware_setup(pci, &elcr);
	/* Each op: kind, port/addr low byte, size, 4 value bytes. */
	while (len >= 7) {
		static const unsigned sizes[4] = { 1, 2, 4, 8 };
		uint8_t kind = data[0];
		unsigned size = sizes[data[2] & 3];
		uint32_t value;
		uint64_t v;

		memcpy(&value, data + 3, 4);
		switch (kind % 5) {
		case 0:
			bus_write(&pio, 0xcf8 + (data[1] & 7), size, value);
			break;
		case 1:
			bus_read(&pio, 0xcf8 + (data[1] & 7), size, &v);
			break;
		case 2:
			pci_set_intx(&dev[data[1] & 1], value & 1);
			break;
		case 3:
			bus_read(&pio, 0xc000 + (value & 0x3fff), size, &v);
			bus_read(&mmio, 0xe0000000ull + (value & 0xffffff), size, &v);
			break;
		default:
			bus_write(&pio, 0xcf8, 4, 0x80000000u | (value & 0x00ffff00u) | (data[1] & 0xfc));
			break;
		}
		data += 7;
		len -= 7;
	}
	pci_bus_destroy(pci);
	bus_destroy(&pio);
	bus_destroy(&mmio);
	return 0;
}
