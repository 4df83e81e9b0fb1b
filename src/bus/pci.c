/*
 * PCI bus 0 with configuration mechanism #1, BAR decoding and INTx routing through the PIIX3's
 * PIRQ route control registers. References: PCI Local Bus Specification 3.0 (sections 3.2.2.3.2
 * configuration mechanism, 6.1 header, 6.2.5 base address registers); Intel 82371FB/SB PIIX/PIIX3
 * datasheet (PIRQRC[A:D] at 0x60-0x63); Intel 82441FX PMC datasheet (host bridge identity).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/log.h"
#include "hostvisor/pci.h"

#define CONFADD_PORT 0xcf8
#define CONFDATA_PORT 0xcfc
#define CONFADD_ENABLE 0x80000000u

#define PIIX3_PIRQRC 0x60
#define PIIX3_PIRQ_DISABLE 0x80
#define PCI_IO_WINDOW_START 0xc000ull
#define PCI_IO_WINDOW_END 0x10000ull
#define PCI_MEM_WINDOW_START 0xe0000000ull
#define PCI_MEM_WINDOW_END 0xfec00000ull

struct pci_bus {
	pthread_mutex_t lock;     /* configuration space and BAR mappings */
	pthread_mutex_t irq_lock; /* PIRQ levels; taken from device context */
	struct bus *pio, *mmio;
	const struct pci_irq_ops *irq;
	void *irq_opaque;
	struct pci_device *dev[PCI_MAX_DEVFN];
	uint32_t confadd;
	int pirq_asserted[4]; /* devices asserting each PIRQ (shared, wired-OR) */
	int pirq_isa_irq[4];  /* ISA IRQ each PIRQ currently drives, -1 none */
	struct pci_device host_bridge, isa_bridge;
};

/* Little-endian field access in a configuration-space byte array (config, masks). */
static uint32_t le_get(const uint8_t *a, unsigned off, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)a[off + i] << (8 * i);
	return v;
}

static void le_put(uint8_t *a, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		a[off + i] = (uint8_t)(v >> (8 * i));
}

void pci_device_init(struct pci_device *dev, const char *name, uint16_t vendor, uint16_t device,
		     uint32_t class_code, uint8_t revision)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	le_put(dev->cfg, PCI_VENDOR_ID, 2, vendor);
	le_put(dev->cfg, PCI_DEVICE_ID, 2, device);
	dev->cfg[PCI_REVISION_ID] = revision;
	le_put(dev->cfg, PCI_CLASS_PROG, 3, class_code);
	/* Command: I/O, memory, bus master, and INTx disable are the guest's (PCI 3.0 6.2.2). */
	le_put(dev->wmask, PCI_COMMAND, 2,
		PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	/* Status: the error bits are write-1-to-clear. */
	le_put(dev->w1cmask, PCI_STATUS, 2, 0xf900);
	dev->wmask[0x0c] = 0xff; /* cache line size */
	dev->wmask[0x0d] = 0xff; /* latency timer */
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

void pci_set_interrupt_pin(struct pci_device *dev, int pin)
{
	dev->cfg[PCI_INTERRUPT_PIN] = (uint8_t)(pin >= 1 && pin <= 4 ? pin : 0);
}

int pci_bar_define(struct pci_device *dev, int n, enum pci_bar_kind kind, uint64_t size,
		   bus_read_fn read, bus_write_fn write, void *opaque)
{
	uint32_t type, mask;
	unsigned off = PCI_BAR0 + 4u * (unsigned)n;

	if (n < 0 || n >= PCI_NUM_BARS || (size & (size - 1)) || kind == PCI_BAR_NONE)
		return -EINVAL;
	if ((kind == PCI_BAR_IO && (size < 4 || size > 256)) || (kind != PCI_BAR_IO && size < 16))
		return -EINVAL;
	if (kind == PCI_BAR_MEM64 && n == PCI_NUM_BARS - 1)
		return -EINVAL;
	if (kind == PCI_BAR_MEM32 && size > 0x80000000ull)
		return -EINVAL;
	dev->bar[n] = (struct pci_bar){
		.kind = kind, .size = size, .read = read, .write = write, .opaque = opaque
	};
	/* The low bits encode the type and are read-only; the size shows as read-only zero
	 * address bits (PCI 3.0 section 6.2.5.1). */
	type = kind == PCI_BAR_IO ? 0x1 : kind == PCI_BAR_MEM64 ? 0x4 : 0x0;
	mask = (uint32_t)~(size - 1) & (kind == PCI_BAR_IO ? ~0x3u : ~0xfu);
	le_put(dev->cfg, off, 4, type);
	le_put(dev->wmask, off, 4, mask);
	if (kind == PCI_BAR_MEM64)
		le_put(dev->wmask, off + 4, 4, (uint32_t)(~(size - 1) >> 32));
	return 0;
}

/* Decoded address of BAR n, 0 when unset. */
static uint64_t bar_address(const struct pci_device *dev, int n)
{
	uint32_t lo = le_get(dev->cfg, PCI_BAR0 + 4u * (unsigned)n, 4);

	switch (dev->bar[n].kind) {
	case PCI_BAR_IO:
		return lo & 0xfffcu;
	case PCI_BAR_MEM32:
		return lo & ~0xfu;
	case PCI_BAR_MEM64:
		return (lo & ~0xfull) |
		       ((uint64_t)le_get(dev->cfg, PCI_BAR0 + 4u * (unsigned)n + 4, 4) << 32);
	default:
		return 0;
	}
}

static struct bus *bar_bus(struct pci_bus *pci, const struct pci_bar *bar)
{
	return bar->kind == PCI_BAR_IO ? pci->pio : pci->mmio;
}

static bool bar_should_decode(const struct pci_device *dev, int n, uint64_t addr)
{
	const struct pci_bar *bar = &dev->bar[n];
	uint16_t cmd = (uint16_t)le_get(dev->cfg, PCI_COMMAND, 2);

	if (addr == 0)
		return false;
	if (bar->kind == PCI_BAR_IO)
		return (cmd & PCI_COMMAND_IO) && addr + bar->size <= PCI_IO_WINDOW_END;
	/* An address at the top of the space is what sizing leaves behind: not a placement. */
	return (cmd & PCI_COMMAND_MEMORY) && addr + bar->size > addr &&
	       addr + bar->size <= 0x100000000000ull;
}

/* Brings the bus registrations of a device's BARs in line with its config space. */
static void bars_update(struct pci_bus *pci, struct pci_device *dev)
{
	for (int n = 0; n < PCI_NUM_BARS; n++) {
		struct pci_bar *bar = &dev->bar[n];
		uint64_t addr;
		bool want;
		int rc;

		if (bar->kind == PCI_BAR_NONE)
			continue;
		addr = bar_address(dev, n);
		want = bar_should_decode(dev, n, addr);
		if (bar->mapped && (!want || bar->mapped_at != addr)) {
			bus_unregister(bar_bus(pci, bar), bar->mapped_at, bar->opaque);
			bar->mapped = false;
		}
		if (!want || bar->mapped)
			continue;
		rc = bus_register(bar_bus(pci, bar), dev->name, addr, bar->size, bar->read,
				  bar->write, bar->opaque);
		if (rc < 0) {
			/* A guest may program overlapping BARs; real hardware would decode both and
			 * conflict on the bus. We leave this one undecoded instead. */
			log_debug("pci: %s BAR%d at 0x%llx not mapped: %s", dev->name, n,
				  (unsigned long long)addr, strerror(-rc));
			continue;
		}
		bar->mapped = true;
		bar->mapped_at = addr;
	}
}

int pci_device_gsi(const struct pci_device *dev)
{
	int pin = dev->cfg[PCI_INTERRUPT_PIN];

	if (pin < 1 || pin > 4)
		return -1;
	return 16 + (((dev->devfn >> 3) + pin - 1) & 3);
}

/* PIRQ index (0 = PIRQA) of a device's pin, -1 if none. */
static int device_pirq(const struct pci_device *dev)
{
	int gsi = pci_device_gsi(dev);

	return gsi < 0 ? -1 : gsi - 16;
}

/* ISA IRQ the PIIX3 routes PIRQ idx to, -1 when routing is disabled or the IRQ is reserved
 * (PIIX3 datasheet, PIRQRC: IRQ 0-2, 8 and 13 are reserved). */
static int pirq_route(const struct pci_bus *pci, int idx)
{
	uint8_t v = pci->isa_bridge.cfg[PIIX3_PIRQRC + idx];
	int irq = v & 0x0f;

	if (v & PIIX3_PIRQ_DISABLE)
		return -1;
	if (irq <= 2 || irq == 8 || irq == 13)
		return -1;
	return irq;
}

/* Re-drives PIRQ idx on the PIC and I/O APIC after a level or routing change. */
static void pirq_update(struct pci_bus *pci, int idx)
{
	int level = pci->pirq_asserted[idx] > 0;
	int isa = pirq_route(pci, idx);

	if (pci->pirq_isa_irq[idx] >= 0 && pci->pirq_isa_irq[idx] != isa)
		pci->irq->set_isa_irq(pci->irq_opaque, pci->pirq_isa_irq[idx], 0);
	pci->pirq_isa_irq[idx] = isa;
	if (isa >= 0)
		pci->irq->set_isa_irq(pci->irq_opaque, isa, level);
	pci->irq->set_gsi(pci->irq_opaque, 16 + idx, level);
}

/* Recomputes a device's contribution to its PIRQ; caller holds irq_lock. */
static void intx_apply(struct pci_bus *pci, struct pci_device *dev)
{
	uint16_t cmd = (uint16_t)le_get(dev->cfg, PCI_COMMAND, 2);
	bool drive = dev->intx_asserted && !(cmd & PCI_COMMAND_INTX_DISABLE);
	int idx = device_pirq(dev);

	/* Interrupt status shows the device's request even while INTx is disabled (PCI 3.0
	 * section 6.2.3). */
	if (dev->intx_asserted)
		dev->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		dev->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	if (idx < 0 || drive == dev->intx_driving)
		return;
	dev->intx_driving = drive;
	pci->pirq_asserted[idx] += drive ? 1 : -1;
	pirq_update(pci, idx);
}

void pci_set_intx(struct pci_device *dev, bool asserted)
{
	struct pci_bus *pci = dev->bus;

	if (!pci)
		return;
	pthread_mutex_lock(&pci->irq_lock);
	dev->intx_asserted = asserted;
	intx_apply(pci, dev);
	pthread_mutex_unlock(&pci->irq_lock);
}

/* Generic config write with the write and write-1-to-clear masks; caller holds the lock. */
static void config_write_locked(struct pci_bus *pci, struct pci_device *dev, unsigned off,
				unsigned size, uint32_t value)
{
	bool touches_decode = false, touches_pirq = false;

	for (unsigned i = 0; i < size; i++) {
		unsigned o = off + i;
		uint8_t b = (uint8_t)(value >> (8 * i));

		dev->cfg[o] = (uint8_t)((dev->cfg[o] & ~dev->wmask[o]) | (b & dev->wmask[o]));
		dev->cfg[o] &= (uint8_t)~(b & dev->w1cmask[o]);
		if (o == PCI_COMMAND || (o >= PCI_BAR0 && o < PCI_BAR0 + 24))
			touches_decode = true;
		if (o == PCI_COMMAND + 1 || (dev == &pci->isa_bridge && o >= PIIX3_PIRQRC &&
					     o < PIIX3_PIRQRC + 4))
			touches_pirq = true;
	}
	if (dev->cfg_write_hook)
		dev->cfg_write_hook(dev, off, size, value);
	if (touches_decode)
		bars_update(pci, dev);
	if (!touches_pirq)
		return;
	pthread_mutex_lock(&pci->irq_lock);
	if (dev == &pci->isa_bridge) {
		for (int idx = 0; idx < 4; idx++)
			pirq_update(pci, idx);
	} else {
		intx_apply(pci, dev);
	}
	pthread_mutex_unlock(&pci->irq_lock);
}

static bool access_ok(unsigned offset, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && offset < PCI_CONFIG_SIZE &&
	       (offset & (size - 1)) == 0;
}

uint32_t pci_config_read(struct pci_bus *pci, uint8_t devfn, unsigned offset, unsigned size)
{
	struct pci_device *dev;
	uint32_t v;

	if (!access_ok(offset, size))
		return 0xffffffffu;
	pthread_mutex_lock(&pci->lock);
	dev = pci->dev[devfn];
	/* No device: the master aborts and the host bridge returns all-ones (PCI 3.0 6.1). */
	v = dev ? le_get(dev->cfg, offset, size) : (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
	pthread_mutex_unlock(&pci->lock);
	return v;
}

void pci_config_write(struct pci_bus *pci, uint8_t devfn, unsigned offset, unsigned size,
		      uint32_t value)
{
	struct pci_device *dev;

	if (!access_ok(offset, size))
		return;
	pthread_mutex_lock(&pci->lock);
	dev = pci->dev[devfn];
	if (dev)
		config_write_locked(pci, dev, offset, size, value);
	pthread_mutex_unlock(&pci->lock);
}

/*
 * CONFADD at 0xcf8 is a dword register; a byte or word access there is an ordinary I/O cycle
 * (the PIIX's reset control register sits at 0xcf9), so only the dword form is taken here. The
 * registration covers port 0xcf8 alone so that 0xcf9 stays free for the reset register.
 */
static uint64_t confadd_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_bus *pci = opaque;
	uint32_t v;

	if (offset != 0 || size != 4)
		return ~0ull;
	pthread_mutex_lock(&pci->lock);
	v = pci->confadd;
	pthread_mutex_unlock(&pci->lock);
	return v;
}

static void confadd_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_bus *pci = opaque;

	if (offset != 0 || size != 4)
		return;
	pthread_mutex_lock(&pci->lock);
	/* Bits 30:24 are reserved and read as 0; bits 1:0 are zero for type-0 cycles. */
	pci->confadd = (uint32_t)value & 0x80fffffcu;
	pthread_mutex_unlock(&pci->lock);
}

/* Decodes CONFADD into a bus-0 devfn and register; false when the cycle goes nowhere. */
static bool confdata_target(struct pci_bus *pci, uint64_t offset, unsigned size, uint8_t *devfn,
			    unsigned *reg)
{
	uint32_t ca;

	pthread_mutex_lock(&pci->lock);
	ca = pci->confadd;
	pthread_mutex_unlock(&pci->lock);
	if (!(ca & CONFADD_ENABLE) || ((ca >> 16) & 0xff) != 0)
		return false;
	if (offset + size > 4)
		return false;
	*devfn = (uint8_t)(ca >> 8);
	*reg = (ca & 0xfc) + (unsigned)offset;
	return true;
}

static uint64_t confdata_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_bus *pci = opaque;
	uint8_t devfn;
	unsigned reg;

	if (!confdata_target(pci, offset, size, &devfn, &reg))
		return ~0ull;
	return pci_config_read(pci, devfn, reg, size);
}

static void confdata_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_bus *pci = opaque;
	uint8_t devfn;
	unsigned reg;

	if (confdata_target(pci, offset, size, &devfn, &reg))
		pci_config_write(pci, devfn, reg, size, (uint32_t)value);
}

int pci_device_add(struct pci_bus *pci, struct pci_device *dev, int slot, int fn)
{
	uint8_t devfn;

	if (slot < 0 || slot > 31 || fn < 0 || fn > 7)
		return -EINVAL;
	devfn = PCI_DEVFN(slot, fn);
	pthread_mutex_lock(&pci->lock);
	if (pci->dev[devfn]) {
		pthread_mutex_unlock(&pci->lock);
		return -EEXIST;
	}
	dev->bus = pci;
	dev->devfn = devfn;
	pci->dev[devfn] = dev;
	/* Function 0 announces further functions with the multi-function bit (PCI 3.0 6.2.1). */
	if (fn != 0 && pci->dev[PCI_DEVFN(slot, 0)])
		pci->dev[PCI_DEVFN(slot, 0)]->cfg[PCI_HEADER_TYPE] |= 0x80;
	if (fn == 0)
		for (int f = 1; f < 8; f++)
			if (pci->dev[PCI_DEVFN(slot, f)])
				dev->cfg[PCI_HEADER_TYPE] |= 0x80;
	pthread_mutex_unlock(&pci->lock);
	return 0;
}

struct pci_bus *pci_bus_create(struct bus *pio, struct bus *mmio, const struct pci_irq_ops *irq,
			       void *irq_opaque)
{
	struct pci_bus *pci = calloc(1, sizeof(*pci));

	if (!pci)
		return NULL;
	pthread_mutex_init(&pci->lock, NULL);
	pthread_mutex_init(&pci->irq_lock, NULL);
	pci->pio = pio;
	pci->mmio = mmio;
	pci->irq = irq;
	pci->irq_opaque = irq_opaque;
	for (int i = 0; i < 4; i++)
		pci->pirq_isa_irq[i] = -1;

	/* 00.0: Intel 82441FX PMC (host bridge), class 06 00 00. */
	pci_device_init(&pci->host_bridge, "host-bridge", 0x8086, 0x1237, 0x060000, 0x02);
	/* 01.0: Intel 82371SB PIIX3 function 0 (PCI-to-ISA bridge), class 06 01 00. PIRQRC
	 * registers default to 0x80, routing disabled (PIIX3 datasheet 2.2.9). */
	pci_device_init(&pci->isa_bridge, "isa-bridge", 0x8086, 0x7000, 0x060100, 0x00);
	for (int i = 0; i < 4; i++) {
		pci->isa_bridge.cfg[PIIX3_PIRQRC + i] = PIIX3_PIRQ_DISABLE;
		pci->isa_bridge.wmask[PIIX3_PIRQRC + i] = 0x8f;
	}
	/* Bridges do not interrupt: the line register is not used. */
	pci->host_bridge.wmask[PCI_INTERRUPT_LINE] = 0;
	pci->isa_bridge.wmask[PCI_INTERRUPT_LINE] = 0;
	pci_device_add(pci, &pci->host_bridge, 0, 0);
	pci_device_add(pci, &pci->isa_bridge, 1, 0);
	return pci;
}

void pci_bus_destroy(struct pci_bus *pci)
{
	if (!pci)
		return;
	pthread_mutex_destroy(&pci->lock);
	pthread_mutex_destroy(&pci->irq_lock);
	free(pci);
}

int pci_bus_attach(struct pci_bus *pci)
{
	int rc = bus_register(pci->pio, "pci-confadd", CONFADD_PORT, 1, confadd_read, confadd_write,
			      pci);

	if (rc < 0)
		return rc;
	rc = bus_register(pci->pio, "pci-confdata", CONFDATA_PORT, 4, confdata_read, confdata_write,
			  pci);
	return rc < 0 ? rc : 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Places every BAR of one device, each aligned to its own size as the specification requires
 * (6.2.5.1); a first-fit walk is enough for the handful of devices a PC has. */
static void place_bars(struct pci_device *dev, uint64_t *io_next, uint64_t *mem_next)
{
	for (int n = 0; n < PCI_NUM_BARS; n++) {
		struct pci_bar *bar = &dev->bar[n];
		uint64_t *next = bar->kind == PCI_BAR_IO ? io_next : mem_next;
		uint64_t end = bar->kind == PCI_BAR_IO ? PCI_IO_WINDOW_END : PCI_MEM_WINDOW_END;
		uint64_t addr;
		uint32_t mask;
		unsigned off = PCI_BAR0 + 4u * (unsigned)n;

		if (bar->kind == PCI_BAR_NONE)
			continue;
		addr = align_up(*next, bar->size);
		if (addr + bar->size > end) {
			log_warn("pci: no room for %s BAR%d (%llu bytes)", dev->name, n,
				 (unsigned long long)bar->size);
			continue;
		}
		*next = addr + bar->size;
		mask = le_get(dev->wmask, off, 4);
		le_put(dev->cfg, off, 4, (le_get(dev->cfg, off, 4) & ~mask) | ((uint32_t)addr & mask));
		if (bar->kind == PCI_BAR_MEM64)
			le_put(dev->cfg, off + 4, 4, (uint32_t)(addr >> 32));
	}
}

void pci_firmware_setup(struct pci_bus *pci, uint16_t *elcr)
{
	static const uint8_t pirq_irq[4] = { 10, 10, 11, 11 };
	uint64_t io_next = PCI_IO_WINDOW_START, mem_next = PCI_MEM_WINDOW_START;

	*elcr = 0;
	pthread_mutex_lock(&pci->lock);
	for (int i = 0; i < 4; i++) {
		pci->isa_bridge.cfg[PIIX3_PIRQRC + i] = pirq_irq[i];
		*elcr |= (uint16_t)(1u << pirq_irq[i]);
	}
	for (int devfn = 0; devfn < PCI_MAX_DEVFN; devfn++) {
		struct pci_device *dev = pci->dev[devfn];
		int pirq;

		if (!dev)
			continue;
		place_bars(dev, &io_next, &mem_next);
		pirq = device_pirq(dev);
		if (pirq >= 0)
			dev->cfg[PCI_INTERRUPT_LINE] = pirq_irq[pirq];
		config_write_locked(pci, dev, PCI_COMMAND, 2,
				    le_get(dev->cfg, PCI_COMMAND, 2) | PCI_COMMAND_IO |
					    PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	}
	pthread_mutex_unlock(&pci->lock);
	pthread_mutex_lock(&pci->irq_lock);
	for (int idx = 0; idx < 4; idx++)
		pirq_update(pci, idx);
	pthread_mutex_unlock(&pci->irq_lock);
}
