/*
 * The PC platform, in the order a reader would look for it: interrupt controllers first, then
 * the timer, clock, keyboard controller, serial ports, ACPI fixed hardware, and the PCI bus.
 * platform_reset() is the power-on state plus what a PC firmware sets up before the OS runs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostvisor/acpi.h"
#include "hostvisor/acpi_pm.h"
#include "hostvisor/chardev.h"
#include "hostvisor/cmos.h"
#include "hostvisor/i8042.h"
#include "hostvisor/ioapic.h"
#include "hostvisor/log.h"
#include "hostvisor/net.h"
#include "hostvisor/nic.h"
#include "hostvisor/pci.h"
#include "hostvisor/pcnet.h"
#include "hostvisor/pic.h"
#include "hostvisor/pit.h"
#include "hostvisor/platform.h"
#include "hostvisor/port80.h"
#include "hostvisor/uart.h"

static const uint16_t uart_base[VM_MAX_SERIAL] = { UART_COM1_BASE, UART_COM2_BASE, UART_COM3_BASE,
						   UART_COM4_BASE };
static const int uart_irq[VM_MAX_SERIAL] = { 4, 3, 4, 3 };

static void pic_intr(void *opaque, int level)
{
	struct vm *vm = opaque;

	vm->engine->set_extint(vm, level);
}

static void ioapic_deliver(void *opaque, uint64_t addr, uint32_t data)
{
	struct vm *vm = opaque;

	atomic_fetch_add_explicit(&vm->msi_delivered, 1, memory_order_relaxed);
	vm->engine->deliver_msi(vm, addr, data);
}

static void ioapic_route(void *opaque, int pin, uint64_t addr, uint32_t data, bool masked)
{
	struct vm *vm = opaque;

	if (vm->engine->ioapic_route)
		vm->engine->ioapic_route(vm, pin, addr, data, masked);
}

static const struct ioapic_ops ioapic_ops = {
	.deliver = ioapic_deliver,
	.route_changed = ioapic_route,
};

static void request_reset(void *opaque)
{
	vm_request(opaque, VM_REQ_RESET);
}

static void request_poweroff(void *opaque)
{
	vm_request(opaque, VM_REQ_POWEROFF);
}

static void request_quit(void *opaque)
{
	vm_request(opaque, VM_REQ_QUIT);
}

static const struct acpi_pm_ops pm_ops = {
	.poweroff = request_poweroff,
	.reset = request_reset,
};

static void pci_isa_irq(void *opaque, int irq, int level)
{
	vm_set_isa_irq(opaque, irq, level);
}

static void pci_gsi(void *opaque, int gsi, int level)
{
	vm_set_gsi(opaque, gsi, level);
}

static const struct pci_irq_ops pci_irq_ops = {
	.set_isa_irq = pci_isa_irq,
	.set_gsi = pci_gsi,
};

static int create_serial(struct vm *vm, struct platform *p, char *err, size_t errlen)
{
	for (int i = 0; i < VM_MAX_SERIAL; i++) {
		const char *spec = vm->cfg.serial[i];
		int rc;

		if (spec) {
			char why[256] = "";

			p->serial[i] = chardev_open(vm->loop, spec, why, sizeof(why));
			if (!p->serial[i]) {
				snprintf(err, errlen, "--serial %s: %s", spec, why);
				return -EINVAL;
			}
			chardev_set_quit_handler(p->serial[i], request_quit, vm);
		}
		/* A port without a backend still exists, as on a board whose connector is empty. */
		p->uart[i] = uart_create(vm->loop, vm_isa_irq_line(vm, uart_irq[i]), p->serial[i]);
		if (!p->uart[i])
			return -ENOMEM;
		rc = uart_attach(p->uart[i], &vm->pio, uart_base[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int create_devices(struct vm *vm, struct platform *p, char *err, size_t errlen)
{
	struct timespec now;
	int rc;

	p->pic = pic_create(pic_intr, vm);
	p->ioapic = ioapic_create(&ioapic_ops, vm, (uint8_t)vm->ncpus);
	p->pit = pit_create(vm->loop, vm_isa_irq_line(vm, 0));
	clock_gettime(CLOCK_REALTIME, &now);
	p->cmos = cmos_create(vm->loop, vm_isa_irq_line(vm, 8), now.tv_sec, now.tv_nsec);
	p->kbc = i8042_create(vm_isa_irq_line(vm, 1), vm_isa_irq_line(vm, 12), request_reset, vm);
	p->pm = acpi_pm_create(vm->loop, vm_isa_irq_line(vm, ACPI_SCI_IRQ), &pm_ops, vm);
	p->port80 = port80_create();
	p->pci = pci_bus_create(&vm->pio, &vm->mmio, &pci_irq_ops, vm);
	if (!p->pic || !p->ioapic || !p->pit || !p->cmos || !p->kbc || !p->pm || !p->port80 ||
	    !p->pci)
		return -ENOMEM;
	if ((rc = pic_attach(p->pic, &vm->pio)) < 0 ||
	    (rc = ioapic_attach(p->ioapic, &vm->mmio, IOAPIC_DEFAULT_BASE)) < 0 ||
	    (rc = pit_attach(p->pit, &vm->pio)) < 0 || (rc = cmos_attach(p->cmos, &vm->pio)) < 0 ||
	    (rc = i8042_attach(p->kbc, &vm->pio)) < 0 || (rc = acpi_pm_attach(p->pm, &vm->pio)) < 0 ||
	    (rc = port80_attach(p->port80, &vm->pio)) < 0 || (rc = pci_bus_attach(p->pci)) < 0)
		return rc;
	return create_serial(vm, p, err, errlen);
}

/* The seed of the default MACs: this host's machine id and the kernel's path. */
static void mac_seed(const struct vm *vm, char *seed, size_t len)
{
	char id[64] = "", path[PATH_MAX];
	FILE *f = fopen("/etc/machine-id", "r");

	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = '\0';
		fclose(f);
	}
	if (!realpath(vm->cfg.kernel, path))
		snprintf(path, sizeof(path), "%s", vm->cfg.kernel);
	snprintf(seed, len, "%s|%s", id, path);
}

/* One NIC: its backend (and capture), then the device on PCI slot NIC_FIRST_SLOT + index. */
static int create_nic(struct vm *vm, struct platform *p, int i, const char *seed, char *err,
		      size_t errlen)
{
	struct nic_config nic;
	char why[256] = "";
	int rc;

	if ((rc = nic_config_parse(vm->cfg.net[i], &nic, err, errlen)) < 0)
		return rc;
	if (!nic.mac_set)
		nic_default_mac(seed, i, nic.mac);
	p->net[i] = net_backend_open(vm->loop, nic.backend, why, sizeof(why));
	if (!p->net[i]) {
		snprintf(err, errlen, "--net %s: %s", vm->cfg.net[i], why);
		return -EINVAL;
	}
	if (nic.capture[0] &&
	    (rc = net_backend_capture(p->net[i], nic.capture, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "--net %s: %s", vm->cfg.net[i], why);
		return rc;
	}
	p->nic[i] = pcnet_create(vm->loop, &vm->gmem, p->net[i], nic.mac);
	if (!p->nic[i])
		return -ENOMEM;
	rc = pcnet_attach(p->nic[i], p->pci, NIC_FIRST_SLOT + i);
	if (rc < 0)
		snprintf(err, errlen, "--net %s: cannot attach to PCI slot %d: %s", vm->cfg.net[i],
			 NIC_FIRST_SLOT + i, strerror(-rc));
	return rc;
}

static int create_nics(struct vm *vm, struct platform *p, char *err, size_t errlen)
{
	char seed[PATH_MAX + 80];
	int rc;

	mac_seed(vm, seed, sizeof(seed));
	for (int i = 0; i < vm->cfg.nnet; i++)
		if ((rc = create_nic(vm, p, i, seed, err, errlen)) < 0)
			return rc;
	return 0;
}

int platform_create(struct vm *vm, char *err, size_t errlen)
{
	struct platform *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	vm->platform = p;
	rc = create_devices(vm, p, err, errlen);
	if (rc == 0)
		rc = create_nics(vm, p, err, errlen);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "platform: cannot create devices: %s", strerror(-rc));
	return rc;
}

void platform_destroy(struct vm *vm)
{
	struct platform *p = vm->platform;

	if (!p)
		return;
	for (int i = 0; i < VM_MAX_SERIAL; i++) {
		uart_destroy(p->uart[i]);
		chardev_close(p->serial[i]);
	}
	for (int i = 0; i < VM_MAX_NICS; i++) {
		if (p->nic[i])
			pcnet_destroy(p->nic[i]);
		if (p->net[i])
			net_backend_close(p->net[i]);
	}
	pci_bus_destroy(p->pci);
	port80_destroy(p->port80);
	acpi_pm_destroy(p->pm);
	i8042_destroy(p->kbc);
	cmos_destroy(p->cmos);
	pit_destroy(p->pit);
	ioapic_destroy(p->ioapic);
	pic_destroy(p->pic);
	free(p);
	vm->platform = NULL;
}

/*
 * CMOS bytes a PC BIOS maintains and some guests read (IBM PC/AT technical reference; the
 * above-16M and above-4G fields are the common extensions): base memory 640 KiB, extended
 * memory in KiB (capped at 0xffff), memory above 16 MiB in 64 KiB units, memory above 4 GiB in
 * 64 KiB units, and the equipment byte (FPU present).
 */
static void cmos_memory_setup(struct vm *vm)
{
	struct cmos *c = vm->platform->cmos;
	uint64_t ext_kb = vm->low_size > MEM_HIGH_START ? (vm->low_size - MEM_HIGH_START) >> 10 : 0;
	uint64_t above16 = vm->low_size > (16ull << 20) ? (vm->low_size - (16ull << 20)) >> 16 : 0;
	uint64_t above4g = vm->high_size >> 16;

	if (ext_kb > 0xffff)
		ext_kb = 0xffff;
	if (above16 > 0xffff)
		above16 = 0xffff;
	cmos_nvram_set(c, 0x14, 0x02);
	cmos_nvram_set(c, 0x15, 640 & 0xff);
	cmos_nvram_set(c, 0x16, 640 >> 8);
	cmos_nvram_set(c, 0x17, (uint8_t)ext_kb);
	cmos_nvram_set(c, 0x18, (uint8_t)(ext_kb >> 8));
	cmos_nvram_set(c, 0x30, (uint8_t)ext_kb);
	cmos_nvram_set(c, 0x31, (uint8_t)(ext_kb >> 8));
	cmos_nvram_set(c, 0x34, (uint8_t)above16);
	cmos_nvram_set(c, 0x35, (uint8_t)(above16 >> 8));
	cmos_nvram_set(c, 0x5b, (uint8_t)above4g);
	cmos_nvram_set(c, 0x5c, (uint8_t)(above4g >> 8));
	cmos_nvram_set(c, 0x5d, (uint8_t)(above4g >> 16));
}

int platform_reset(struct vm *vm, char *err, size_t errlen)
{
	struct platform *p = vm->platform;
	struct acpi_config acfg = {
		.ncpus = vm->ncpus,
		.ioapic_id = (uint8_t)vm->ncpus,
		.ioapic_addr = IOAPIC_DEFAULT_BASE,
	};
	int rc;

	pic_reset(p->pic);
	ioapic_reset(p->ioapic);
	pit_reset(p->pit);
	i8042_reset(p->kbc);
	acpi_pm_reset(p->pm);
	for (int i = 0; i < VM_MAX_NICS; i++)
		if (p->nic[i])
			pcnet_reset(p->nic[i]);
	for (int i = 0; i < VM_MAX_SERIAL; i++)
		uart_reset(p->uart[i]);

	/* PCI INTx# lines idle high; the ones no PIRQ drives must read deasserted too. */
	for (int gsi = 16; gsi < IOAPIC_PINS; gsi++)
		vm_set_gsi(vm, gsi, 0);
	pci_firmware_setup(p->pci, &p->elcr);
	p->elcr |= 1u << ACPI_SCI_IRQ; /* the SCI is a level-triggered interrupt (ACPI 5.2.9) */
	bus_write(&vm->pio, 0x4d0, 1, p->elcr & 0xff);
	bus_write(&vm->pio, 0x4d1, 1, p->elcr >> 8);
	cmos_memory_setup(vm);
	rc = acpi_build(&vm->gmem, &acfg, &vm->rsdp_addr);
	if (rc < 0)
		snprintf(err, errlen, "acpi: cannot build tables: %s", strerror(-rc));
	return rc;
}

void platform_print_stats(struct vm *vm, FILE *out)
{
	struct platform *p = vm->platform;

	for (int i = 0; p && i < VM_MAX_NICS; i++) {
		const struct net_backend *be = p->net[i];

		if (!be)
			continue;
		fprintf(out,
			"  nic%d (%s): tx %llu frames %llu bytes %llu dropped; rx %llu frames %llu "
			"bytes\n",
			i, be->name ? be->name : "?", (unsigned long long)be->tx_frames,
			(unsigned long long)be->tx_bytes, (unsigned long long)be->tx_dropped,
			(unsigned long long)be->rx_frames, (unsigned long long)be->rx_bytes);
	}
}
