/*
 * PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, section 3.2.2.3.2): walk
 * bus 0, print every function, check the host bridge at 00:00.0 and that an ISA bridge exists,
 * size every BAR (6.2.5.1) with decoding off, and check absent functions read all ones.
 */
#include "guest.h"

const char guest_name[] = "pci";

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define CONFIG_ENABLE 0x80000000u
#define PCI_VENDOR 0x00
#define PCI_COMMAND 0x04
#define PCI_CLASS 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_COMMAND_IO 0x01
#define PCI_COMMAND_MEM 0x02
#define HEADER_MULTIFUNCTION 0x80
#define BAR_IO 0x01
#define BAR_MEM_TYPE_64 0x04

struct pci_walk {
	unsigned functions, absent_ok, absent_bad, bars, bad_bars;
	bool host_bridge, isa_bridge, subword_ok;
};

static uint32_t cfg_addr(unsigned dev, unsigned fn, unsigned reg)
{
	return CONFIG_ENABLE | dev << 11 | fn << 8 | (reg & 0xfc);
}

static uint32_t cfg_read32(unsigned dev, unsigned fn, unsigned reg)
{
	outl(CONFIG_ADDRESS, cfg_addr(dev, fn, reg));
	return inl(CONFIG_DATA);
}

static void cfg_write32(unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
	outl(CONFIG_ADDRESS, cfg_addr(dev, fn, reg));
	outl(CONFIG_DATA, v);
}

/* 16-bit accesses use the data port's byte lanes: offset 2 is at 0xcfe. */
static uint16_t cfg_read16(unsigned dev, unsigned fn, unsigned reg)
{
	outl(CONFIG_ADDRESS, cfg_addr(dev, fn, reg));
	return inw(CONFIG_DATA + (reg & 2));
}

static uint32_t bar_probe(unsigned dev, unsigned fn, unsigned reg)
{
	uint32_t orig = cfg_read32(dev, fn, reg);

	cfg_write32(dev, fn, reg, 0xffffffffu);
	uint32_t mask = cfg_read32(dev, fn, reg);

	cfg_write32(dev, fn, reg, orig);
	return mask;
}

/* Returns how many BAR slots this BAR took (2 for a 64-bit memory BAR). */
static unsigned size_bar(struct pci_walk *w, unsigned dev, unsigned fn, unsigned i)
{
	unsigned reg = PCI_BAR0 + 4 * i;
	uint32_t orig = cfg_read32(dev, fn, reg);
	uint32_t mask = bar_probe(dev, fn, reg);
	bool is64 = !(mask & BAR_IO) && (mask & 0x6) == BAR_MEM_TYPE_64 && i < 5;
	uint64_t full;

	if (!mask)
		return 1;
	if (mask & BAR_IO) {
		uint32_t io = mask & ~3u;

		if (!(io >> 16))
			io |= 0xffff0000u; /* the upper 16 bits of an I/O BAR may read as zero */
		full = 0xffffffff00000000ull | io;
	} else if (is64) {
		full = (mask & ~0xfu) | (uint64_t)bar_probe(dev, fn, reg + 4) << 32;
	} else {
		full = 0xffffffff00000000ull | (mask & ~0xfu);
	}
	uint64_t size = ~full + 1;
	bool ok = size && !(size & (size - 1)) && cfg_read32(dev, fn, reg) == orig;

	w->bars++;
	w->bad_bars += !ok;
	gprintf("  BAR%u %s base 0x%x size 0x%lx%s\n", i,
		mask & BAR_IO ? "io" : (is64 ? "mem64" : "mem32"),
		orig & (mask & BAR_IO ? ~3u : ~0xfu), size,
		ok ? "" : " (not a power of two, or not restored)");
	return is64 ? 2 : 1;
}

static void size_bars(struct pci_walk *w, unsigned dev, unsigned fn, unsigned nbars)
{
	uint32_t cmd = cfg_read32(dev, fn, PCI_COMMAND);

	/* Decoding off while a BAR holds all ones (6.2.5.1). */
	cfg_write32(dev, fn, PCI_COMMAND, cmd & 0xffff & ~(PCI_COMMAND_IO | PCI_COMMAND_MEM));
	for (unsigned i = 0; i < nbars;)
		i += size_bar(w, dev, fn, i);
	cfg_write32(dev, fn, PCI_COMMAND, cmd & 0xffff);
}

static void visit_function(struct pci_walk *w, unsigned dev, unsigned fn, uint32_t id)
{
	uint32_t class = cfg_read32(dev, fn, PCI_CLASS);
	uint8_t header = (uint8_t)(cfg_read32(dev, fn, PCI_HEADER_TYPE & ~3u) >> 16);
	unsigned base = class >> 24, sub = (class >> 16) & 0xff;

	w->functions++;
	gprintf("00:%02x.%u %04x:%04x class %02x %02x prog-if %02x header %02x\n", dev, fn,
		id & 0xffff, id >> 16, base, sub, (class >> 8) & 0xff, header);
	if (dev == 0 && fn == 0)
		w->host_bridge = base == 0x06 && sub == 0x00;
	if (base == 0x06 && sub == 0x01)
		w->isa_bridge = true;
	if (cfg_read16(dev, fn, PCI_VENDOR + 2) != id >> 16 ||
	    cfg_read16(dev, fn, PCI_VENDOR) != (id & 0xffff))
		w->subword_ok = false;
	if ((header & 0x7f) <= 1)
		size_bars(w, dev, fn, (header & 0x7f) == 0 ? 6 : 2);
}

static void visit_device(struct pci_walk *w, unsigned dev)
{
	for (unsigned fn = 0; fn < 8; fn++) {
		uint32_t id = cfg_read32(dev, fn, PCI_VENDOR);

		if ((id & 0xffff) == 0xffff) {
			/* Absent: the whole dword reads as ones (master abort). */
			if (id == 0xffffffffu)
				w->absent_ok++;
			else
				w->absent_bad++;
			if (fn == 0)
				return;
			continue;
		}
		visit_function(w, dev, fn, id);
		if (fn == 0 &&
		    !((cfg_read32(dev, 0, PCI_HEADER_TYPE & ~3u) >> 16) & HEADER_MULTIFUNCTION))
			return;
	}
}

void guest_main(void)
{
	struct pci_walk w = {.subword_ok = true};

	outl(CONFIG_ADDRESS, cfg_addr(3, 5, 0x40));
	uint32_t latched = inl(CONFIG_ADDRESS);

	check(latched == cfg_addr(3, 5, 0x40), "pci.address", "CONFIG_ADDRESS read 0x%x", latched);
	for (unsigned dev = 0; dev < 32; dev++)
		visit_device(&w, dev);
	gprintf("PCI bus 0: %u functions, %u BARs\n", w.functions, w.bars);
	check(w.host_bridge, "pci.hostbridge", "00:00.0 is not class 06 00");
	check(w.isa_bridge, "pci.isabridge", "no class 06 01 function on bus 0");
	check(w.absent_ok > 0 && w.absent_bad == 0, "pci.absent",
	      "%u absent functions read all ones, %u did not", w.absent_ok, w.absent_bad);
	check(w.subword_ok, "pci.subword", "16-bit reads of the ID disagree with the dword read");
	check(w.bad_bars == 0, "pci.bars", "%u of %u BARs bad", w.bad_bars, w.bars);
}
