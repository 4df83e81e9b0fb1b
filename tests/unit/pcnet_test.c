/*
 * AMD Am79C970A PCnet-PCI II: PCI identity, the address PROM, WIO/DWIO register access, resets,
 * the initialization block, transmit and receive rings in every software style, the address
 * filter, interrupts, STOP/STRT/SPND, internal loopback, the MII PHY, the Linux pcnet32 probe
 * and open sequences, and the regression tests of device-bug-classes.md B-1 and C.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_evloop.h"
#include "hostvisor/gmem.h"
#include "hostvisor/net.h"
#include "hostvisor/pci.h"
#include "hostvisor/pcnet.h"

#define RAM_SIZE (4u << 20)
#define SLOT 3

/* Guest memory layout used by the tests. */
#define IB_ADDR 0x1000u
#define RX_RING 0x2000u
#define TX_RING 0x6000u
#define RX_BUF 0x100000u /* + i * BUF_STRIDE */
#define TX_BUF 0x200000u
#define BUF_STRIDE 0x1000u
#define BUF_SIZE 1544u /* pcnet32's PKT_BUF_SZ */

/* WIO/DWIO offsets. */
#define WIO_RDP 0x10
#define WIO_RAP 0x12
#define WIO_RESET 0x14
#define WIO_BDP 0x16
#define DWIO_RDP 0x10
#define DWIO_RAP 0x14
#define DWIO_RESET 0x18
#define DWIO_BDP 0x1c

#define CSR0_INIT 0x0001
#define CSR0_STRT 0x0002
#define CSR0_STOP 0x0004
#define CSR0_TDMD 0x0008
#define CSR0_TXON 0x0010
#define CSR0_RXON 0x0020
#define CSR0_IENA 0x0040
#define CSR0_INTR 0x0080
#define CSR0_IDON 0x0100
#define CSR0_TINT 0x0200
#define CSR0_RINT 0x0400
#define CSR0_MERR 0x0800
#define CSR0_MISS 0x1000
#define CSR0_BABL 0x4000
#define CSR0_ERR 0x8000

#define OWN 0x8000
#define ERR 0x4000
#define STP 0x0200
#define ENP 0x0100
#define RMD_CRC 0x0800
#define RMD_BUFF 0x0400
#define RMD_PAM 0x0040
#define RMD_LAFM 0x0020
#define RMD_BAM 0x0010
#define TMD_ADD_FCS 0x2000
#define TMD_LTINT 0x1000
#define TMD2_BUFF 0x80000000u
#define TMD2_UFLO 0x40000000u
#define TMD2_LCAR 0x08000000u

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- a fake backend ---- */

struct fake_be {
	struct net_backend be;
	int sent;
	uint8_t last[70000];
	size_t last_len;
	int last_iovcnt;
	const void *last_iov_base0;
	int rx_ready_calls;
	bool link_down;
	bool deliver_on_send; /* answers each frame from inside send (re-entrancy) */
	bool held;	      /* the frame our receiver refused, kept for rx_ready */
	uint8_t held_frame[2048];
	size_t held_len;
};

static int fb_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct fake_be *fb = (struct fake_be *)be;
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++) {
		assert_true(n + iov[i].iov_len <= sizeof(fb->last));
		memcpy(fb->last + n, iov[i].iov_base, iov[i].iov_len);
		n += iov[i].iov_len;
	}
	fb->sent++;
	fb->last_len = n;
	fb->last_iovcnt = iovcnt;
	fb->last_iov_base0 = iovcnt ? iov[0].iov_base : NULL;
	if (fb->deliver_on_send && n <= sizeof(fb->held_frame)) {
		struct iovec v = { .iov_base = fb->last, .iov_len = n };

		if (!net_backend_deliver(be, &v, 1, n)) {
			memcpy(fb->held_frame, fb->last, n);
			fb->held_len = n;
			fb->held = true;
		}
	}
	return 0;
}

static void fb_rx_ready(struct net_backend *be)
{
	struct fake_be *fb = (struct fake_be *)be;

	fb->rx_ready_calls++;
	if (fb->held && be->receive) {
		struct iovec v = { .iov_base = fb->held_frame, .iov_len = fb->held_len };

		fb->held = false;
		if (!net_backend_deliver(be, &v, 1, fb->held_len))
			fb->held = true;
	}
}

static bool fb_link_up(struct net_backend *be)
{
	return !((struct fake_be *)be)->link_down;
}

static void fb_close(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops fb_ops = {
	.send = fb_send, .rx_ready = fb_rx_ready, .link_up = fb_link_up, .close = fb_close
};

/* ---- fixture ---- */

struct irq_log {
	int gsi[24];
};

static void log_isa(void *opaque, int irq, int level)
{
	(void)opaque;
	(void)irq;
	(void)level;
}

static void log_gsi(void *opaque, int gsi, int level)
{
	((struct irq_log *)opaque)->gsi[gsi] = level;
}

static const struct pci_irq_ops irq_ops = { .set_isa_irq = log_isa, .set_gsi = log_gsi };

struct fx {
	struct bus pio, mmio;
	struct pci_bus *pci;
	struct irq_log irqs;
	struct evloop *loop;
	struct gmem gm;
	uint8_t *ram;
	struct fake_be fb;
	struct pcnet *nic;
	uint16_t io;
	uint64_t mem;
	bool dwio;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint16_t elcr;

	assert_non_null(f);
	bus_init(&f->pio, "pio");
	bus_init(&f->mmio, "mmio");
	f->pci = pci_bus_create(&f->pio, &f->mmio, &irq_ops, &f->irqs);
	assert_int_equal(pci_bus_attach(f->pci), 0);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(gmem_add_region(&f->gm, 0, RAM_SIZE, f->ram), 0);
	f->loop = evloop_create();
	f->fb.be = (struct net_backend){ .ops = &fb_ops, .name = "fake" };
	f->nic = pcnet_create(f->loop, &f->gm, &f->fb.be, MAC);
	assert_non_null(f->nic);
	assert_int_equal(pcnet_attach(f->nic, f->pci, SLOT), 0);
	pci_firmware_setup(f->pci, &elcr);
	f->io = (uint16_t)(pci_config_read(f->pci, PCI_DEVFN(SLOT, 0), PCI_BAR0, 4) & ~3u);
	f->mem = pci_config_read(f->pci, PCI_DEVFN(SLOT, 0), PCI_BAR0 + 4, 4) & ~15u;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pcnet_destroy(f->nic);
	evloop_destroy(f->loop);
	pci_bus_destroy(f->pci);
	bus_destroy(&f->pio);
	bus_destroy(&f->mmio);
	free(f->ram);
	free(f);
	return 0;
}

/* ---- register access ---- */

static uint64_t in(struct fx *f, unsigned off, unsigned size)
{
	uint64_t v;

	bus_read(&f->pio, f->io + off, size, &v);
	return v;
}

static void out(struct fx *f, unsigned off, unsigned size, uint64_t v)
{
	bus_write(&f->pio, f->io + off, size, v);
}

static uint16_t csr_rd(struct fx *f, unsigned n)
{
	if (f->dwio) {
		out(f, DWIO_RAP, 4, n);
		return (uint16_t)in(f, DWIO_RDP, 4);
	}
	out(f, WIO_RAP, 2, n);
	return (uint16_t)in(f, WIO_RDP, 2);
}

static void csr_wr(struct fx *f, unsigned n, uint16_t v)
{
	if (f->dwio) {
		out(f, DWIO_RAP, 4, n);
		out(f, DWIO_RDP, 4, v);
		return;
	}
	out(f, WIO_RAP, 2, n);
	out(f, WIO_RDP, 2, v);
}

static uint16_t bcr_rd(struct fx *f, unsigned n)
{
	if (f->dwio) {
		out(f, DWIO_RAP, 4, n);
		return (uint16_t)in(f, DWIO_BDP, 4);
	}
	out(f, WIO_RAP, 2, n);
	return (uint16_t)in(f, WIO_BDP, 2);
}

static void bcr_wr(struct fx *f, unsigned n, uint16_t v)
{
	if (f->dwio) {
		out(f, DWIO_RAP, 4, n);
		out(f, DWIO_BDP, 4, v);
		return;
	}
	out(f, WIO_RAP, 2, n);
	out(f, WIO_BDP, 2, v);
}

static int irq(struct fx *f)
{
	return f->irqs.gsi[pci_device_gsi(pcnet_pci(f->nic))];
}

/* ---- guest memory ---- */

static void w16(struct fx *f, uint32_t a, uint16_t v)
{
	f->ram[a] = (uint8_t)v;
	f->ram[a + 1] = (uint8_t)(v >> 8);
}

static void w32(struct fx *f, uint32_t a, uint32_t v)
{
	w16(f, a, (uint16_t)v);
	w16(f, a + 2, (uint16_t)(v >> 16));
}

static uint16_t r16(struct fx *f, uint32_t a)
{
	return (uint16_t)(f->ram[a] | f->ram[a + 1] << 8);
}

static uint32_t r32(struct fx *f, uint32_t a)
{
	return r16(f, a) | (uint32_t)r16(f, a + 2) << 16;
}

/* Bitwise CRC-32 (ISO 8802-3), independent of the device's table. */
static uint32_t ref_crc(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320u : 0);
	}
	return crc;
}

static uint32_t ref_fcs(const uint8_t *p, size_t n)
{
	return ~ref_crc(0xffffffffu, p, n);
}

/* ---- 32-bit (SWSTYLE 2) rings ---- */

static void rx_desc(struct fx *f, unsigned i, uint32_t buf, unsigned len, bool own)
{
	uint32_t d = RX_RING + 16 * i;

	w32(f, d, buf);
	w32(f, d + 8, 0);
	w32(f, d + 4, (own ? 0x80000000u : 0) | 0xf000u | ((-(uint32_t)len) & 0xfff));
}

static void tx_desc(struct fx *f, unsigned i, uint32_t buf, unsigned len, uint16_t status)
{
	uint32_t d = TX_RING + 16 * i;

	w32(f, d, buf);
	w32(f, d + 8, 0);
	w32(f, d + 4, (uint32_t)status << 16 | 0xf000u | ((-(uint32_t)len) & 0xfff));
}

static uint16_t rx_status(struct fx *f, unsigned i)
{
	return r16(f, RX_RING + 16 * i + 6);
}

static uint16_t tx_status(struct fx *f, unsigned i)
{
	return r16(f, TX_RING + 16 * i + 6);
}

static unsigned rx_mcnt(struct fx *f, unsigned i)
{
	return r32(f, RX_RING + 16 * i + 8) & 0xfff;
}

/* A 32-bit initialization block at IB_ADDR. */
static void write_ib32(struct fx *f, uint16_t mode, unsigned rlog, unsigned tlog,
		       const uint16_t *ladrf)
{
	memset(f->ram + IB_ADDR, 0, 28);
	w16(f, IB_ADDR, mode);
	f->ram[IB_ADDR + 2] = (uint8_t)(rlog << 4);
	f->ram[IB_ADDR + 3] = (uint8_t)(tlog << 4);
	memcpy(f->ram + IB_ADDR + 4, MAC, 6);
	for (int i = 0; ladrf && i < 4; i++)
		w16(f, IB_ADDR + 12 + 2 * i, ladrf[i]);
	w32(f, IB_ADDR + 20, RX_RING);
	w32(f, IB_ADDR + 24, TX_RING);
}

/*
 * What pcnet32_open does: S_RESET, BCR20 = 2, CSR1/2 = init block, CSR4 = 0x0915 (auto pad),
 * CSR0 = INIT, wait for IDON, CSR0 = STRT | IENA; with nrx receive buffers given.
 */
static void start32(struct fx *f, uint16_t mode, unsigned rlog, unsigned tlog, unsigned nrx)
{
	in(f, f->dwio ? DWIO_RESET : WIO_RESET, f->dwio ? 4 : 2);
	bcr_wr(f, 20, 2);
	write_ib32(f, mode, rlog, tlog, NULL);
	for (unsigned i = 0; i < (1u << rlog); i++)
		rx_desc(f, i, RX_BUF + i * BUF_STRIDE, BUF_SIZE, i < nrx);
	for (unsigned i = 0; i < (1u << tlog); i++)
		tx_desc(f, i, TX_BUF + i * BUF_STRIDE, 0, 0);
	csr_wr(f, 1, IB_ADDR & 0xffff);
	csr_wr(f, 2, IB_ADDR >> 16);
	csr_wr(f, 4, 0x0915);
	csr_wr(f, 0, CSR0_INIT);
	assert_true(csr_rd(f, 0) & CSR0_IDON);
	csr_wr(f, 0, CSR0_STRT | CSR0_IENA);
	assert_int_equal(csr_rd(f, 0) & (CSR0_TXON | CSR0_RXON | CSR0_STRT),
			 CSR0_TXON | CSR0_RXON | CSR0_STRT);
	csr_wr(f, 0, CSR0_IDON | CSR0_IENA); /* acknowledge IDON */
}

/* A frame to dst from src (a test host), length len, filled with a pattern seeded by seed. */
static void make_frame(uint8_t *buf, size_t len, const uint8_t *dst, uint8_t seed)
{
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
	if (len >= 14) {
		memcpy(buf, dst, 6);
		memcpy(buf + 6, src, 6);
		buf[12] = 0x88;
		buf[13] = 0xb5;
	}
}

static bool inject(struct fx *f, const uint8_t *frame, size_t len)
{
	struct iovec v = { .iov_base = (void *)frame, .iov_len = len };

	return net_backend_deliver(&f->fb.be, &v, 1, len);
}

/* Queues a frame in TX descriptor i and sends TDMD as pcnet32's start_xmit does. */
static void send_one(struct fx *f, unsigned i, const uint8_t *frame, size_t len)
{
	memcpy(f->ram + TX_BUF + i * BUF_STRIDE, frame, len);
	tx_desc(f, i, TX_BUF + i * BUF_STRIDE, (unsigned)len, OWN | STP | ENP);
	csr_wr(f, 0, CSR0_IENA | CSR0_TDMD);
}

/* ================= PCI, PROM, register access ================= */

static void test_pci_identity(void **state)
{
	struct fx *f = *state;
	uint8_t devfn = PCI_DEVFN(SLOT, 0);

	assert_int_equal(pci_config_read(f->pci, devfn, PCI_VENDOR_ID, 2), 0x1022);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_DEVICE_ID, 2), 0x2000);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_REVISION_ID, 1) & 0xf0, 0x10);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_REVISION_ID, 4) >> 8, 0x020000);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1022);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_SUBSYSTEM_ID, 2), 0x2000);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(pci_config_read(f->pci, devfn, 0x3e, 1), 0x06);
	assert_int_equal(pci_config_read(f->pci, devfn, 0x3f, 1), 0xff);
	/* BAR sizing: 32 bytes of I/O, 32 bytes of memory. */
	pci_config_write(f->pci, devfn, PCI_BAR0, 4, 0xffffffffu);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_BAR0, 4), 0xffffffe1u);
	pci_config_write(f->pci, devfn, PCI_BAR0 + 4, 4, 0xffffffffu);
	assert_int_equal(pci_config_read(f->pci, devfn, PCI_BAR0 + 4, 4), 0xffffffe0u);
}

static void test_prom(void **state)
{
	struct fx *f = *state;
	uint16_t sum = 0;

	for (int i = 0; i < 6; i++)
		assert_int_equal(in(f, i, 1), MAC[i]);
	assert_int_equal(in(f, 14, 1), 'W');
	assert_int_equal(in(f, 15, 1), 'W');
	for (int i = 0; i < 16; i++)
		if (i != 12 && i != 13)
			sum = (uint16_t)(sum + in(f, i, 1));
	assert_int_equal(in(f, 12, 2), sum);
	assert_int_equal(in(f, 0, 4), 0x12005452u);
	assert_int_equal(in(f, 4, 2), 0x5634);
	/* Read-only until BCR2 APROMWE. */
	out(f, 0, 1, 0xaa);
	assert_int_equal(in(f, 0, 1), 0x52);
	bcr_wr(f, 2, bcr_rd(f, 2) | 0x0100);
	out(f, 0, 1, 0xaa);
	assert_int_equal(in(f, 0, 1), 0xaa);
	/* H_RESET reloads it from the EEPROM. */
	pcnet_reset(f->nic);
	assert_int_equal(in(f, 0, 1), 0x52);
	/* A read that straddles the PROM and RDP is not a PROM read. */
	assert_int_equal(in(f, 14, 4), 0xffffffffu);
}

static void test_wio_registers(void **state)
{
	struct fx *f = *state;

	assert_int_equal(csr_rd(f, 0), CSR0_STOP);
	out(f, WIO_RAP, 2, 88);
	assert_int_equal(in(f, WIO_RAP, 2), 88);
	assert_int_equal(csr_rd(f, 88) & 0xfff, 0x003);
	/* RAP is 8 bits. */
	out(f, WIO_RAP, 2, 0x1234);
	assert_int_equal(in(f, WIO_RAP, 2), 0x34);
	/* CSR round trip through RDP, BCR through BDP. */
	csr_wr(f, 15, 0x8003);
	assert_int_equal(csr_rd(f, 15), 0x8003);
	bcr_wr(f, 9, 1);
	assert_int_equal(bcr_rd(f, 9), 1);
	/* In word mode only word accesses reach RAP/RDP/BDP. */
	out(f, WIO_RAP, 1, 15);
	assert_int_equal(in(f, WIO_RAP, 2), 9);
	assert_int_equal(in(f, WIO_RDP, 1), 0xff);
	assert_int_equal(in(f, WIO_RDP, 4), 0xffffffffu);
	assert_int_equal(in(f, 0x18, 2), 0xffff); /* reserved */
	/* Reading RESET is S_RESET: CSR0 back to STOP, RAP 0. */
	csr_wr(f, 3, 0x5f00);
	out(f, WIO_RAP, 2, 3);
	in(f, WIO_RESET, 2);
	assert_int_equal(in(f, WIO_RAP, 2), 0);
	assert_int_equal(csr_rd(f, 3), 0);
	assert_int_equal(csr_rd(f, 4), 0x0115);
	/* Writing RESET does nothing. */
	csr_wr(f, 3, 0x0400);
	out(f, WIO_RESET, 2, 0);
	assert_int_equal(csr_rd(f, 3), 0x0400);
}

static void test_dwio_mode(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bcr_rd(f, 18) & 0x80, 0);
	/* A dword write to RDP switches to DWIO (and writes CSR0 through RAP 0: nothing). */
	out(f, DWIO_RDP, 4, 0);
	f->dwio = true;
	out(f, DWIO_RAP, 4, 88);
	assert_int_equal(in(f, DWIO_RAP, 4) & 0xffff, 88);
	assert_int_equal((csr_rd(f, 88) | (uint32_t)csr_rd(f, 89) << 16) >> 12 & 0xffff, 0x2621);
	assert_int_equal(bcr_rd(f, 18) & 0x80, 0x80);
	/* Word accesses are ignored now. */
	out(f, WIO_RAP, 2, 15);
	assert_int_equal(in(f, DWIO_RAP, 4), 18);
	assert_int_equal(in(f, WIO_RDP, 2), 0xffff);
	/* The PROM still reads bytewise (pcnet32 reads it with inb in both modes). */
	assert_int_equal(in(f, 0, 1), MAC[0]);
	assert_int_equal(in(f, 4, 4), (uint32_t)MAC[5] << 8 | MAC[4]);
	assert_int_equal(in(f, 12, 4) >> 16, 0x5757);
	/* S_RESET keeps DWIO... */
	in(f, DWIO_RESET, 4);
	assert_int_equal(csr_rd(f, 0), CSR0_STOP);
	assert_int_equal(bcr_rd(f, 18) & 0x80, 0x80);
	/* ...only H_RESET leaves it. */
	pcnet_reset(f->nic);
	f->dwio = false;
	assert_int_equal(bcr_rd(f, 18) & 0x80, 0);
	assert_int_equal(csr_rd(f, 0), CSR0_STOP);
}

static void test_mmio_bar(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	assert_true(f->mem != 0);
	bus_read(&f->mmio, f->mem, 1, &v);
	assert_int_equal(v, MAC[0]);
	bus_write(&f->mmio, f->mem + WIO_RAP, 2, 88);
	bus_read(&f->mmio, f->mem + WIO_RDP, 2, &v);
	assert_int_equal(v & 0xfff, 0x003);
	/* One device: the I/O BAR sees the same RAP. */
	assert_int_equal(in(f, WIO_RAP, 2), 88);
}

static void test_odd_accesses(void **state)
{
	struct fx *f = *state;

	/* Every size at every offset of the window, including ones that run past its end. */
	for (unsigned off = 0; off < 32; off++) {
		for (unsigned size = 1; size <= 8; size *= 2) {
			in(f, off, size);
			if (off != WIO_RDP && off != DWIO_RDP)
				out(f, off, size, 0xffffffffffffffffull);
		}
	}
	/* A dword write at 10h did switch to DWIO; an 8-byte one does not. */
	pcnet_reset(f->nic);
	out(f, DWIO_RDP, 8, 0);
	assert_int_equal(bcr_rd(f, 18) & 0x80, 0);
}

static void test_soft_and_hard_reset(void **state)
{
	struct fx *f = *state;

	bcr_wr(f, 20, 2);
	assert_int_equal(bcr_rd(f, 20) & 0x3ff, 0x0302);
	assert_int_equal(csr_rd(f, 58) & 0x3ff, 0x0302);
	csr_wr(f, 12, 0x1111);
	bcr_wr(f, 9, 1);
	in(f, WIO_RESET, 2);
	assert_int_equal(bcr_rd(f, 20) & 0xff, 0); /* SWSTYLE back to 0 */
	assert_int_equal(bcr_rd(f, 9), 1);	   /* BCRs stay */
	assert_int_equal(csr_rd(f, 12), 0x1111);   /* PADR is not reset by S_RESET */
	pcnet_reset(f->nic);
	assert_int_equal(bcr_rd(f, 9), 0);
	assert_int_equal(bcr_rd(f, 2), 0x0002);
	/* H_RESET loads PADR from the EEPROM. */
	assert_int_equal(csr_rd(f, 12), 0x5452);
	assert_int_equal(csr_rd(f, 13), 0x1200);
	assert_int_equal(csr_rd(f, 14), 0x5634);
}

/* pcnet32_probe1 and the PCI part of pcnet32_probe_pci, step by step. */
static void test_linux_probe(void **state)
{
	struct fx *f = *state;
	uint32_t chip;
	uint8_t addr[6];

	/* pcnet32_wio_reset; read_csr(0) == 4 && wio_check */
	in(f, WIO_RESET, 2);
	assert_int_equal(csr_rd(f, 0), 4);
	out(f, WIO_RAP, 2, 88);
	assert_int_equal(in(f, WIO_RAP, 2), 88);
	chip = csr_rd(f, 88) | (uint32_t)csr_rd(f, 89) << 16;
	assert_int_equal(chip & 0xfff, 0x003);
	assert_int_equal((chip >> 12) & 0xffff, 0x2621); /* "PCnet/PCI II 79C970A" */
	/* The address from CSR12-14 agrees with the PROM. */
	for (int i = 0; i < 3; i++) {
		uint16_t v = csr_rd(f, 12 + i);

		addr[2 * i] = (uint8_t)v;
		addr[2 * i + 1] = (uint8_t)(v >> 8);
	}
	assert_memory_equal(addr, MAC, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(in(f, i, 1), MAC[i]);
	/* init block mode 0x0003, BCR20 = 2, CSR1/2, then BCR2 |= LEDPE. */
	bcr_wr(f, 20, 2);
	csr_wr(f, 1, IB_ADDR & 0xffff);
	csr_wr(f, 2, IB_ADDR >> 16);
	assert_int_equal(csr_rd(f, 1), IB_ADDR & 0xffff);
	bcr_wr(f, 2, bcr_rd(f, 2) | 0x1000);
	assert_int_equal(bcr_rd(f, 2), 0x1002);
	/* pcnet32_get_link on a 79C970A with autoselect: link always up; the LED register shows
	 * it too (BCR4 != 0xc0). */
	assert_int_not_equal(bcr_rd(f, 4), 0xc0);
	assert_int_equal(irq(f), 0);
}

/* ================= initialization ================= */

static void test_init_block_16(void **state)
{
	struct fx *f = *state;
	uint32_t ib = 0x3000;
	uint16_t words[12] = {
		0x8000,			/* mode: PROM */
		0x2211, 0x4433, 0x6655, /* PADR */
		0x1111, 0x2222, 0x3333, 0x4444, /* LADRF */
		0x2000, (uint16_t)(5u << 13 | 0x12), /* RDRA 12_2000h, 32 descriptors */
		0x6000, (uint16_t)(3u << 13 | 0x12), /* TDRA 12_6000h, 8 descriptors */
	};

	for (int i = 0; i < 12; i++)
		w16(f, ib + 2 * i, words[i]);
	assert_int_equal(bcr_rd(f, 20) & 0x1ff, 0); /* SWSTYLE 0, SSIZE32 clear */
	/* CSR2 bits 15-8 are IADR[31:24], used above every 24-bit address; keep them 0 here. */
	csr_wr(f, 1, (uint16_t)ib);
	csr_wr(f, 2, 0);
	csr_wr(f, 3, 0);
	csr_wr(f, 0, CSR0_INIT);
	assert_int_equal(csr_rd(f, 0), CSR0_INIT | CSR0_IDON | CSR0_INTR);
	assert_int_equal(irq(f), 0); /* IENA clear */
	assert_int_equal(csr_rd(f, 15), 0x8000);
	assert_int_equal(csr_rd(f, 12), 0x2211);
	assert_int_equal(csr_rd(f, 14), 0x6655);
	assert_int_equal(csr_rd(f, 8), 0x1111);
	assert_int_equal(csr_rd(f, 11), 0x4444);
	assert_int_equal(csr_rd(f, 24) | (uint32_t)csr_rd(f, 25) << 16, 0x122000);
	assert_int_equal(csr_rd(f, 30) | (uint32_t)csr_rd(f, 31) << 16, 0x126000);
	assert_int_equal(csr_rd(f, 76), (uint16_t)-32);
	assert_int_equal(csr_rd(f, 78), (uint16_t)-8);
	assert_int_equal(csr_rd(f, 6), 3u << 12 | 5u << 8);
	/* IENA raises INTA for the pending IDON, masking IDON drops it. */
	csr_wr(f, 0, CSR0_IENA);
	assert_int_equal(irq(f), 1);
	csr_wr(f, 3, 0x0100);
	assert_int_equal(irq(f), 0);
	assert_int_equal(csr_rd(f, 0) & CSR0_INTR, 0);
}

static void test_init_block_32(void **state)
{
	struct fx *f = *state;
	const uint16_t ladrf[4] = { 1, 2, 3, 4 };

	bcr_wr(f, 20, 2);
	write_ib32(f, 0x0003, 12, 9, ladrf); /* RLEN above 9 means 512 */
	csr_wr(f, 1, IB_ADDR & 0xffff);
	csr_wr(f, 2, IB_ADDR >> 16);
	csr_wr(f, 0, CSR0_INIT);
	assert_true(csr_rd(f, 0) & CSR0_IDON);
	assert_int_equal(csr_rd(f, 15), 0x0003);
	assert_int_equal(csr_rd(f, 12), 0x5452);
	assert_int_equal(csr_rd(f, 13), 0x1200);
	assert_int_equal(csr_rd(f, 14), 0x5634);
	assert_int_equal(csr_rd(f, 10), 3);
	assert_int_equal(csr_rd(f, 24) | (uint32_t)csr_rd(f, 25) << 16, RX_RING);
	assert_int_equal(csr_rd(f, 30) | (uint32_t)csr_rd(f, 31) << 16, TX_RING);
	assert_int_equal(csr_rd(f, 76), (uint16_t)-512);
	assert_int_equal(csr_rd(f, 78), (uint16_t)-512);
	/* DTX and DRX: STRT turns neither channel on. */
	csr_wr(f, 0, CSR0_STRT);
	assert_int_equal(csr_rd(f, 0) & (CSR0_TXON | CSR0_RXON), 0);
	/* The ring counters count down to 0 at the last descriptor. */
	assert_int_equal(csr_rd(f, 72), 511);
	assert_int_equal(csr_rd(f, 28) | (uint32_t)csr_rd(f, 29) << 16, RX_RING);
}

/* CVE-2016-7909: a ring length of 0 cannot exist; every value written decodes to 1..65536. */
static void test_ring_length_encoding(void **state)
{
	struct fx *f = *state;

	start32(f, 0, 2, 2, 4);
	csr_wr(f, 0, CSR0_STOP);
	/* Written directly (with STOP): 0 is 65536 descriptors, FFFFh is 1. */
	csr_wr(f, 78, 0);
	assert_int_equal(csr_rd(f, 78), 0);
	assert_int_equal(csr_rd(f, 74), 65535);
	csr_wr(f, 76, 0xffff);
	assert_int_equal(csr_rd(f, 72), 0);
	/* A full walk of a 65536-descriptor ring of owned, never-STP descriptors ends. */
	for (unsigned i = 0; i < 4; i++)
		tx_desc(f, i, TX_BUF, 10, OWN);
	memset(f->ram + TX_RING, 0, 65536 * 16);
	for (unsigned i = 0; i < 65536; i++)
		f->ram[TX_RING + 16 * i + 7] = 0x80; /* OWN, no STP */
	csr_wr(f, 0, CSR0_STRT);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.sent, 0);
	assert_true(csr_rd(f, 0) & CSR0_TXON);
	/* Receive into a ring of one descriptor. */
	rx_desc(f, 0, RX_BUF, BUF_SIZE, true);
	{
		uint8_t fr[100];

		make_frame(fr, sizeof(fr), MAC, 1);
		assert_true(inject(f, fr, sizeof(fr)));
		assert_int_equal(rx_status(f, 0), STP | ENP | RMD_PAM);
		assert_int_equal(csr_rd(f, 72), 0);
	}
}

/* CSR15 and the filter registers change only with STOP or SPND set. */
static void test_csr_write_protection(void **state)
{
	struct fx *f = *state;

	start32(f, 0, 2, 2, 4);
	csr_wr(f, 15, 0x8000);
	assert_int_equal(csr_rd(f, 15), 0);
	csr_wr(f, 8, 0xffff);
	assert_int_equal(csr_rd(f, 8), 0);
	csr_wr(f, 1, 0x1234);
	assert_int_equal(csr_rd(f, 1), IB_ADDR);
	bcr_wr(f, 20, 0);
	assert_int_equal(bcr_rd(f, 20) & 0xff, 2);
	/* Suspended: the filter and mode are writable, IADR is not. */
	csr_wr(f, 5, 0x0001);
	assert_int_equal(csr_rd(f, 5) & 1, 1);
	csr_wr(f, 15, 0x8000);
	assert_int_equal(csr_rd(f, 15), 0x8000);
	csr_wr(f, 1, 0x1234);
	assert_int_equal(csr_rd(f, 1), IB_ADDR);
	csr_wr(f, 5, 0);
	assert_int_equal(csr_rd(f, 5), 0);
}

/* ================= transmit ================= */

static void test_tx_single(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	start32(f, 0, 3, 3, 8);
	assert_int_equal(irq(f), 0);
	make_frame(fr, sizeof(fr), BCAST, 3);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(f->fb.sent, 1);
	assert_int_equal(f->fb.last_len, sizeof(fr));
	assert_memory_equal(f->fb.last, fr, sizeof(fr));
	/* Zero-copy: the backend was handed guest memory itself. */
	assert_ptr_equal(f->fb.last_iov_base0, f->ram + TX_BUF);
	assert_int_equal(tx_status(f, 0), STP | ENP);
	assert_true(csr_rd(f, 0) & CSR0_TINT);
	assert_true(csr_rd(f, 0) & CSR0_INTR);
	assert_int_equal(irq(f), 1);
	/* TXSTRT was set but is masked by pcnet32's CSR4. */
	assert_int_equal(csr_rd(f, 4) & 0x0008, 0x0008);
	/* pcnet32's interrupt acknowledge: write CSR0 back without INIT/STRT/STOP/TDMD/IENA. */
	csr_wr(f, 0, csr_rd(f, 0) & ~0x004f);
	assert_int_equal(irq(f), 0);
	assert_int_equal(csr_rd(f, 0) & CSR0_TINT, 0);
	/* The next frame goes from the next descriptor. */
	send_one(f, 1, fr, 60);
	assert_int_equal(f->fb.sent, 2);
	assert_int_equal(tx_status(f, 1), STP | ENP);
	assert_int_equal(csr_rd(f, 74), 8 - 1 - 2);
}

static void test_tx_auto_pad(void **state)
{
	struct fx *f = *state;
	uint8_t fr[20], want[60] = { 0 };

	start32(f, 0, 2, 2, 4);
	make_frame(fr, sizeof(fr), BCAST, 9);
	memcpy(want, fr, sizeof(fr));
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(f->fb.last_len, 60);
	assert_memory_equal(f->fb.last, want, 60);
	/* Without APAD_XMT a short frame goes as it is. */
	csr_wr(f, 4, 0x0115);
	send_one(f, 1, fr, sizeof(fr));
	assert_int_equal(f->fb.last_len, sizeof(fr));
}

static void test_tx_chain(void **state)
{
	struct fx *f = *state;
	uint8_t fr[300];

	start32(f, 0, 3, 3, 8);
	make_frame(fr, sizeof(fr), BCAST, 5);
	memcpy(f->ram + TX_BUF, fr, 100);
	memcpy(f->ram + TX_BUF + BUF_STRIDE, fr + 100, 150);
	memcpy(f->ram + TX_BUF + 2 * BUF_STRIDE, fr + 250, 50);
	/* OWN on the later descriptors first, the STP one last (datasheet advice). */
	tx_desc(f, 1, TX_BUF + BUF_STRIDE, 150, OWN);
	tx_desc(f, 2, TX_BUF + 2 * BUF_STRIDE, 50, OWN | ENP);
	tx_desc(f, 0, TX_BUF, 100, OWN | STP);
	csr_wr(f, 0, CSR0_IENA | CSR0_TDMD);
	assert_int_equal(f->fb.sent, 1);
	assert_int_equal(f->fb.last_len, 300);
	assert_memory_equal(f->fb.last, fr, 300);
	assert_int_equal(f->fb.last_iovcnt, 3);
	assert_int_equal(tx_status(f, 0), STP);
	assert_int_equal(tx_status(f, 1), 0);
	assert_int_equal(tx_status(f, 2), ENP);
	assert_int_equal(csr_rd(f, 74), 8 - 1 - 3);
}

/* Chain into a descriptor we do not own: BUFF+UFLO in the last one we had, TXON off. */
static void test_tx_underflow(void **state)
{
	struct fx *f = *state;
	uint8_t fr[60];

	start32(f, 0, 3, 3, 8);
	tx_desc(f, 0, TX_BUF, 100, OWN | STP);
	tx_desc(f, 1, TX_BUF + BUF_STRIDE, 100, OWN);
	csr_wr(f, 0, CSR0_IENA | CSR0_TDMD);
	assert_int_equal(f->fb.sent, 0);
	assert_int_equal(tx_status(f, 0), STP);
	assert_int_equal(tx_status(f, 1), ERR);
	assert_int_equal(r32(f, TX_RING + 16 + 8), TMD2_BUFF | TMD2_UFLO);
	assert_true(csr_rd(f, 0) & CSR0_TINT);
	assert_int_equal(csr_rd(f, 0) & CSR0_TXON, 0);
	/* TDMD with TXON clear does nothing. */
	make_frame(fr, sizeof(fr), BCAST, 1);
	send_one(f, 2, fr, sizeof(fr));
	assert_int_equal(f->fb.sent, 0);
	assert_int_equal(csr_rd(f, 0) & CSR0_TDMD, 0);

	/* With DXSUFLO the transmitter goes on with the next frame. */
	start32(f, 0, 3, 3, 8);
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 3, 0x0040);
	csr_wr(f, 0, CSR0_INIT);
	csr_wr(f, 0, CSR0_STRT);
	tx_desc(f, 0, TX_BUF, 100, OWN | STP);
	tx_desc(f, 1, TX_BUF + BUF_STRIDE, 100, 0);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(tx_status(f, 0), STP | ERR);
	assert_true(csr_rd(f, 0) & CSR0_TXON);
	send_one(f, 1, fr, sizeof(fr));
	assert_int_equal(f->fb.sent, 1);
}

/*
 * CVE-2015-3209: a chain of descriptors whose buffers add up to far more than any staging
 * buffer (here 512 x 4095 bytes). Nothing is staged: the chain is walked, given back with BABL
 * and not sent.
 */
static void test_tx_chain_longer_than_any_buffer(void **state)
{
	struct fx *f = *state;

	start32(f, 0, 2, 9, 4);
	for (unsigned i = 0; i < 512; i++)
		tx_desc(f, i, TX_BUF + (i % 64) * BUF_STRIDE, 4095,
			OWN | (i == 0 ? STP : 0) | (i == 511 ? ENP : 0));
	csr_wr(f, 0, CSR0_IENA | CSR0_TDMD);
	assert_int_equal(f->fb.sent, 0);
	assert_true(csr_rd(f, 0) & CSR0_BABL);
	assert_true(csr_rd(f, 0) & CSR0_ERR);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(tx_status(f, i) & (OWN | ERR), 0);
	assert_true(csr_rd(f, 0) & CSR0_TXON);
	/* Exactly at the edges: 4095 bytes in one buffer goes out (with BABL)... */
	csr_wr(f, 0, CSR0_BABL);
	tx_desc(f, 0, TX_BUF, 4095, OWN | STP | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.sent, 1);
	assert_int_equal(f->fb.last_len, 4095);
	assert_true(csr_rd(f, 0) & CSR0_BABL);
	/* ...4096 in two does not. */
	tx_desc(f, 1, TX_BUF, 4095, OWN | STP);
	tx_desc(f, 2, TX_BUF, 1, OWN | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.sent, 1);
	assert_int_equal(tx_status(f, 2), ENP);
}

/* A ring in which every descriptor is ours and none ends the frame, or none starts one: each
 * walk ends after one pass. */
static void test_tx_ring_loops_forever(void **state)
{
	struct fx *f = *state;

	start32(f, 0, 2, 4, 4);
	for (unsigned i = 0; i < 16; i++)
		tx_desc(f, i, TX_BUF, 0, OWN | (i == 5 ? STP : 0));
	csr_wr(f, 0, CSR0_IENA | CSR0_TDMD);
	assert_int_equal(f->fb.sent, 0);
	/* The chain ran from 5 all the way round to 4: the error is in 4, every one released. */
	assert_int_equal(tx_status(f, 4), ERR);
	assert_int_equal(r32(f, TX_RING + 4 * 16 + 8), TMD2_BUFF | TMD2_UFLO);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(tx_status(f, i) & OWN, 0);
	/* Zero-length, never-STP descriptors, all owned: skipped, still owned, walk ends. */
	start32(f, 0, 2, 4, 4);
	for (unsigned i = 0; i < 16; i++)
		tx_desc(f, i, 0xfffffff0u, 0, OWN);
	csr_wr(f, 0, CSR0_TDMD);
	csr_wr(f, 0, CSR0_TDMD);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(tx_status(f, i), OWN);
	assert_int_equal(csr_rd(f, 0) & CSR0_MERR, 0);
	/* ENP without STP is skipped the same way; the next STP frame still goes. */
	tx_desc(f, 0, TX_BUF, 60, OWN | ENP);
	tx_desc(f, 1, TX_BUF, 60, OWN | STP | ENP);
	for (unsigned i = 2; i < 16; i++)
		tx_desc(f, i, TX_BUF, 60, 0);
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 74, 15); /* counter 15: descriptor 0 */
	csr_wr(f, 0, CSR0_STRT);
	assert_int_equal(f->fb.sent, 1);
	assert_int_equal(tx_status(f, 0), OWN | ENP);
	assert_int_equal(tx_status(f, 1), STP | ENP);
}

static void test_tx_babl(void **state)
{
	struct fx *f = *state;
	uint8_t fr[1515];

	start32(f, 0, 2, 2, 4);
	csr_wr(f, 3, 0x4000); /* BABLM */
	make_frame(fr, 1514, BCAST, 1);
	send_one(f, 0, fr, 1514); /* 1518 bytes with FCS */
	assert_int_equal(csr_rd(f, 0) & CSR0_BABL, 0);
	make_frame(fr, 1515, BCAST, 1);
	send_one(f, 1, fr, 1515); /* 1519 */
	assert_true(csr_rd(f, 0) & CSR0_BABL);
	assert_int_equal(f->fb.sent, 2);
	/* Masked: ERR shows it, INTR does not (TINT is acknowledged first). */
	csr_wr(f, 0, CSR0_TINT | CSR0_IENA);
	assert_int_equal(csr_rd(f, 0) & (CSR0_INTR | CSR0_ERR), CSR0_ERR);
}

static void test_tx_poll(void **state)
{
	struct fx *f = *state;
	uint8_t fr[60];

	start32(f, 0, 2, 2, 4);
	make_frame(fr, sizeof(fr), BCAST, 1);
	memcpy(f->ram + TX_BUF, fr, sizeof(fr));
	tx_desc(f, 0, TX_BUF, sizeof(fr), OWN | STP | ENP);
	assert_int_equal(f->fb.sent, 0);
	fake_evloop_advance(f->loop, 3000000);
	assert_int_equal(f->fb.sent, 1);
	/* DPOLL: only TDMD sends. */
	csr_wr(f, 4, 0x0915 | 0x1000);
	tx_desc(f, 1, TX_BUF, sizeof(fr), OWN | STP | ENP);
	fake_evloop_advance(f->loop, 10000000);
	assert_int_equal(f->fb.sent, 1);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.sent, 2);
	/* One tick walks at most 256 descriptors: 300 skipped ones take two. */
	start32(f, 0, 2, 9, 4);
	for (unsigned i = 0; i < 512; i++)
		tx_desc(f, i, TX_BUF, sizeof(fr), OWN | (i == 300 ? STP | ENP : 0));
	fake_evloop_advance(f->loop, 2000000);
	assert_int_equal(f->fb.sent, 2);
	fake_evloop_advance(f->loop, 2000000);
	assert_int_equal(f->fb.sent, 3);
}

static void test_tx_link_down(void **state)
{
	struct fx *f = *state;
	uint8_t fr[60];

	start32(f, 0, 2, 2, 4);
	f->fb.link_down = true;
	make_frame(fr, sizeof(fr), BCAST, 1);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(f->fb.sent, 0);
	assert_int_equal(tx_status(f, 0), STP | ENP | ERR);
	assert_int_equal(r32(f, TX_RING + 8), TMD2_LCAR);
	assert_true(csr_rd(f, 0) & CSR0_TXON);
	/* BCR4's LEDOUT follows the link. */
	assert_int_equal(bcr_rd(f, 4), 0x00c0);
}

static void test_tx_interrupt_options(void **state)
{
	struct fx *f = *state;
	uint8_t fr[60];

	start32(f, 0, 2, 2, 4);
	make_frame(fr, sizeof(fr), BCAST, 1);
	/* TOKINTD: no TINT for frames sent fine. */
	csr_wr(f, 5, 0x8000);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(csr_rd(f, 0) & CSR0_TINT, 0);
	/* LTINTEN: TINT for a frame with LTINT, which stays in the descriptor. */
	csr_wr(f, 5, 0xc000);
	memcpy(f->ram + TX_BUF + BUF_STRIDE, fr, sizeof(fr));
	tx_desc(f, 1, TX_BUF + BUF_STRIDE, sizeof(fr), OWN | STP | ENP | TMD_LTINT);
	csr_wr(f, 0, CSR0_TDMD);
	assert_true(csr_rd(f, 0) & CSR0_TINT);
	assert_int_equal(tx_status(f, 1), STP | ENP | TMD_LTINT);
	/* UINTCMD raises UINT, which interrupts and is write-one-to-clear. */
	csr_wr(f, 0, CSR0_TINT | CSR0_IENA);
	assert_int_equal(irq(f), 0);
	csr_wr(f, 4, 0x0915 | 0x0080);
	assert_int_equal(csr_rd(f, 4) & 0x00c0, 0x0040);
	assert_int_equal(irq(f), 1);
	csr_wr(f, 4, 0x0915 | 0x0040);
	assert_int_equal(irq(f), 0);
}

/* FCS generation off (DXMTFCS, no auto pad): the guest's buffers end in its own FCS, which a
 * backend does not take. ADD_FCS, or NO_FCS in the ILACC style, decide per frame. */
static void test_tx_fcs_control(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	start32(f, 0x0008, 2, 2, 4);
	csr_wr(f, 4, 0x0115);
	make_frame(fr, sizeof(fr), BCAST, 1);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(f->fb.last_len, 96);
	assert_memory_equal(f->fb.last, fr, 96);
	memcpy(f->ram + TX_BUF + BUF_STRIDE, fr, sizeof(fr));
	tx_desc(f, 1, TX_BUF + BUF_STRIDE, sizeof(fr), OWN | STP | ENP | TMD_ADD_FCS);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.last_len, 100);
	/* Split over descriptors, the FCS straddling them. */
	tx_desc(f, 2, TX_BUF, 98, OWN | STP);
	tx_desc(f, 3, TX_BUF + 98, 2, OWN | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.sent, 3);
	assert_int_equal(f->fb.last_len, 96);
	assert_memory_equal(f->fb.last, fr, 96);
	/* Nothing but an FCS: nothing to send. */
	tx_desc(f, 0, TX_BUF, 4, OWN | STP | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.sent, 3);
	assert_int_equal(tx_status(f, 0), STP | ENP);

	/* SWSTYLE 1 (ILACC): bit 29 of the ENP descriptor is NO_FCS. */
	in(f, WIO_RESET, 2);
	bcr_wr(f, 20, 1);
	assert_int_equal(bcr_rd(f, 20) & 0x3ff, 0x0101);
	write_ib32(f, 0, 2, 2, NULL);
	csr_wr(f, 1, IB_ADDR);
	csr_wr(f, 2, 0);
	csr_wr(f, 0, CSR0_INIT | CSR0_STRT);
	tx_desc(f, 0, TX_BUF, sizeof(fr), OWN | STP | ENP | TMD_ADD_FCS);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.last_len, 96);
	tx_desc(f, 1, TX_BUF, sizeof(fr), OWN | STP | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.last_len, 100);
}

/* Reset values of the registers drivers read, the storage of the rest, the ring counters. */
static void test_register_defaults(void **state)
{
	static const unsigned stored[] = { 47, 80, 82, 100 };
	struct fx *f = *state;
	uint8_t fr[60];

	assert_int_equal(csr_rd(f, 4), 0x0115);
	assert_int_equal(csr_rd(f, 5), 0);
	assert_int_equal(csr_rd(f, 88), 0x1003);
	assert_int_equal(csr_rd(f, 89) & 0x0fff, 0x0262);
	assert_int_equal(csr_rd(f, 100), 0x0600);
	assert_int_equal(csr_rd(f, 112), 0);
	assert_int_equal(csr_rd(f, 127), 0);
	assert_int_equal(csr_rd(f, 200), 0);
	assert_int_equal(bcr_rd(f, 0), 5);
	assert_int_equal(bcr_rd(f, 1), 5);
	assert_int_equal(bcr_rd(f, 2), 0x0002);
	assert_int_equal(bcr_rd(f, 5), 0x0084);
	assert_int_equal(bcr_rd(f, 6), 0x0088);
	assert_int_equal(bcr_rd(f, 7), 0x0090);
	assert_int_equal(bcr_rd(f, 19) & 0x8000, 0x8000);
	assert_int_equal(bcr_rd(f, 22), 0xff06);
	assert_int_equal(bcr_rd(f, 50), 0);
	/* Stored while stopped. */
	for (unsigned i = 0; i < 4; i++) {
		csr_wr(f, stored[i], 0x1234);
		assert_int_equal(csr_rd(f, stored[i]), 0x1234);
	}
	csr_wr(f, 122, 0xffff);
	assert_int_equal(csr_rd(f, 122), 1);
	csr_wr(f, 124, 0xffff);
	assert_int_equal(csr_rd(f, 124), 0x0018);
	bcr_wr(f, 5, 0xffff);
	assert_int_equal(bcr_rd(f, 5), 0x7fff);
	bcr_wr(f, 18, 0xffff);
	assert_int_equal(bcr_rd(f, 18), 0xff7f);
	bcr_wr(f, 22, 0x1806);
	assert_int_equal(bcr_rd(f, 22), 0x1806);
	bcr_wr(f, 33, 1 << 5 | 4);
	bcr_wr(f, 34, 0xffff);
	assert_int_equal(bcr_rd(f, 34), 0x3fe1);
	bcr_wr(f, 33, 1 << 5 | 6);
	assert_int_equal(bcr_rd(f, 34), 1);
	/* ...but not while running. */
	start32(f, 0, 2, 2, 4);
	csr_wr(f, 100, 0x4321);
	assert_int_equal(csr_rd(f, 100), 0x0600);
	bcr_wr(f, 22, 0x0101);
	assert_int_equal(bcr_rd(f, 22), 0x1806);
	/* CSR74 places the transmit ring: 4 descriptors, counter 1 is descriptor 2. */
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 74, 1);
	assert_int_equal(csr_rd(f, 34) | (uint32_t)csr_rd(f, 35) << 16, TX_RING + 2 * 16);
	csr_wr(f, 72, 0);
	assert_int_equal(csr_rd(f, 28) | (uint32_t)csr_rd(f, 29) << 16, RX_RING + 3 * 16);
	csr_wr(f, 72, 1000); /* beyond the ring: the first descriptor */
	assert_int_equal(csr_rd(f, 72), 3);
	csr_wr(f, 0, CSR0_STRT);
	make_frame(fr, sizeof(fr), BCAST, 1);
	send_one(f, 2, fr, sizeof(fr));
	assert_int_equal(f->fb.sent, 1);
	assert_int_equal(tx_status(f, 2), STP | ENP);
	/* H_RESET while running: stopped, the line down. */
	assert_int_equal(irq(f), 1);
	pcnet_reset(f->nic);
	assert_int_equal(csr_rd(f, 0), CSR0_STOP);
	assert_int_equal(irq(f), 0);
}

/* ================= receive ================= */

static void test_rx_single(void **state)
{
	struct fx *f = *state;
	uint8_t fr[200];
	uint32_t fcs;

	start32(f, 0, 3, 3, 8);
	make_frame(fr, sizeof(fr), MAC, 7);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP | ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 0), 204); /* with the FCS; pcnet32 subtracts 4 */
	assert_memory_equal(f->ram + RX_BUF, fr, sizeof(fr));
	fcs = ref_fcs(fr, sizeof(fr));
	assert_int_equal(r32(f, RX_BUF + 200), fcs);
	/* The FCS makes the CRC register over frame + FCS the residue DEBB20E3h. */
	assert_int_equal(ref_crc(0xffffffffu, f->ram + RX_BUF, 204), 0xdebb20e3u);
	assert_true(csr_rd(f, 0) & CSR0_RINT);
	assert_int_equal(irq(f), 1);
	assert_int_equal(rx_status(f, 1), OWN);
	assert_int_equal(csr_rd(f, 72), 8 - 1 - 1);
}

static void test_rx_short_frame_padded(void **state)
{
	struct fx *f = *state;
	uint8_t fr[42], want[60] = { 0 };

	start32(f, 0, 3, 3, 8);
	make_frame(fr, sizeof(fr), BCAST, 2);
	memcpy(want, fr, sizeof(fr));
	memset(f->ram + RX_BUF, 0xee, 100);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP | ENP | RMD_BAM);
	assert_int_equal(rx_mcnt(f, 0), 64);
	assert_memory_equal(f->ram + RX_BUF, want, 60);
	assert_int_equal(r32(f, RX_BUF + 60), ref_fcs(want, 60));
	assert_int_equal(f->ram[RX_BUF + 64], 0xee);
}

static void test_rx_chain(void **state)
{
	struct fx *f = *state;
	uint8_t fr[250], got[254];

	start32(f, 0, 3, 3, 8);
	for (unsigned i = 0; i < 8; i++)
		rx_desc(f, i, RX_BUF + i * BUF_STRIDE, 100, true);
	make_frame(fr, sizeof(fr), MAC, 4);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP);
	assert_int_equal(rx_status(f, 1), 0);
	assert_int_equal(rx_status(f, 2), ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 2), 254);
	memcpy(got, f->ram + RX_BUF, 100);
	memcpy(got + 100, f->ram + RX_BUF + BUF_STRIDE, 100);
	memcpy(got + 200, f->ram + RX_BUF + 2 * BUF_STRIDE, 54);
	assert_memory_equal(got, fr, 250);
	assert_int_equal(got[250] | got[251] << 8 | got[252] << 16 | (uint32_t)got[253] << 24,
			 ref_fcs(fr, 250));
	assert_int_equal(csr_rd(f, 72), 8 - 1 - 3);
}

/* CVE-2015-7512: a frame longer than every buffer offered. It fills what it may and stops
 * with BUFF; nothing is written past a buffer. */
static void test_rx_larger_than_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t fr[1000];

	start32(f, 0, 2, 2, 0);
	memset(f->ram + RX_BUF, 0xcc, 4 * BUF_STRIDE);
	rx_desc(f, 0, RX_BUF, 100, true);
	rx_desc(f, 1, RX_BUF + BUF_STRIDE, 100, true);
	make_frame(fr, sizeof(fr), MAC, 3);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP);
	assert_int_equal(rx_status(f, 1), ERR | RMD_BUFF);
	assert_int_equal(rx_mcnt(f, 1), 0);
	assert_memory_equal(f->ram + RX_BUF, fr, 100);
	assert_memory_equal(f->ram + RX_BUF + BUF_STRIDE, fr + 100, 100);
	assert_int_equal(f->ram[RX_BUF + 100], 0xcc);
	assert_int_equal(f->ram[RX_BUF + BUF_STRIDE + 100], 0xcc);
	assert_int_equal(f->ram[RX_BUF + 2 * BUF_STRIDE], 0xcc);
	assert_true(csr_rd(f, 0) & CSR0_RINT);
	assert_int_equal(csr_rd(f, 72), 4 - 1 - 2);

	/* The whole ring is ours but too small: the walk goes round once and stops. */
	start32(f, 0, 2, 2, 0);
	for (unsigned i = 0; i < 4; i++)
		rx_desc(f, i, RX_BUF + i * BUF_STRIDE, 100, true);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP);
	assert_int_equal(rx_status(f, 3), ERR | RMD_BUFF);
	assert_int_equal(csr_rd(f, 72), 3);
	/* Zero-length buffers everywhere: the same. */
	start32(f, 0, 2, 2, 0);
	for (unsigned i = 0; i < 4; i++)
		rx_desc(f, i, 0xfffff000u, 0, true);
	assert_true(inject(f, fr, 60));
	assert_int_equal(rx_status(f, 3), ERR | RMD_BUFF);
	assert_int_equal(csr_rd(f, 0) & CSR0_MERR, 0);
}

/* Class C-1: lengths at and around the limits, and lengths the backend gets wrong. */
static void test_rx_lengths(void **state)
{
	struct fx *f = *state;
	static uint8_t fr[8192];
	struct iovec v[4];

	start32(f, 0, 2, 2, 0);
	rx_desc(f, 0, RX_BUF, 4095, true);
	memset(f->ram + RX_BUF, 0xcc, 2 * BUF_STRIDE);
	make_frame(fr, sizeof(fr), MAC, 1);
	/* 4091 + FCS = 4095, the largest MCNT. */
	assert_true(inject(f, fr, 4091));
	assert_int_equal(rx_status(f, 0), STP | ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 0), 4095);
	assert_int_equal(f->ram[RX_BUF + 4095], 0xcc);
	/* 4092, 4096, 4100, 65535: dropped (taken, nothing written). */
	rx_desc(f, 1, RX_BUF + BUF_STRIDE, 4095, true);
	assert_true(inject(f, fr, 4092));
	assert_true(inject(f, fr, 4096));
	assert_true(inject(f, fr, 4100));
	v[0] = (struct iovec){ .iov_base = fr, .iov_len = sizeof(fr) };
	assert_true(net_backend_deliver(&f->fb.be, v, 1, 0xffff));
	/* A length above INT_MAX with less behind it: only what the iovec holds counts. */
	v[0].iov_len = 100;
	assert_true(net_backend_deliver(&f->fb.be, v, 1, (size_t)INT32_MAX + 100));
	assert_int_equal(rx_status(f, 1), STP | ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 1), 104);
	/* Nothing at all. */
	rx_desc(f, 2, RX_BUF + 2 * BUF_STRIDE, 4095, true);
	assert_true(net_backend_deliver(&f->fb.be, v, 1, 0));
	assert_true(net_backend_deliver(&f->fb.be, v, 0, 100));
	assert_int_equal(rx_status(f, 2), OWN);
	/* Scattered, with empty pieces. */
	v[0] = (struct iovec){ .iov_base = fr, .iov_len = 10 };
	v[1] = (struct iovec){ .iov_base = fr + 10, .iov_len = 0 };
	v[2] = (struct iovec){ .iov_base = fr + 10, .iov_len = 1 };
	v[3] = (struct iovec){ .iov_base = fr + 11, .iov_len = 89 };
	assert_true(net_backend_deliver(&f->fb.be, v, 4, 100));
	assert_int_equal(rx_status(f, 2), STP | ENP | RMD_PAM);
	assert_memory_equal(f->ram + RX_BUF + 2 * BUF_STRIDE, fr, 100);
	assert_int_equal(r32(f, RX_BUF + 2 * BUF_STRIDE + 100), ref_fcs(fr, 100));
}

/* No buffer: the frame is held by the backend (no MISS), and the backend hears when a buffer
 * comes back, from the descriptor poll or the next register write. */
static void test_rx_no_buffer_held(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];
	int calls;

	start32(f, 0, 2, 2, 0);
	make_frame(fr, sizeof(fr), MAC, 1);
	calls = f->fb.rx_ready_calls;
	assert_false(inject(f, fr, sizeof(fr)));
	assert_int_equal(csr_rd(f, 0) & (CSR0_MISS | CSR0_RINT), 0);
	assert_int_equal(csr_rd(f, 112), 0);
	fake_evloop_advance(f->loop, 10000000);
	assert_int_equal(f->fb.rx_ready_calls, calls);
	/* The guest gives a buffer back without telling the chip: the poll notices. */
	rx_desc(f, 0, RX_BUF, BUF_SIZE, true);
	fake_evloop_advance(f->loop, 3000000);
	assert_int_equal(f->fb.rx_ready_calls, calls + 1);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP | ENP | RMD_PAM);
	/* Again, noticed at pcnet32's CSR0 write at the end of its poll. */
	assert_false(inject(f, fr, sizeof(fr)));
	rx_desc(f, 1, RX_BUF + BUF_STRIDE, BUF_SIZE, true);
	csr_wr(f, 0, CSR0_IENA);
	assert_int_equal(f->fb.rx_ready_calls, calls + 2);
	/* Once is enough. */
	csr_wr(f, 0, CSR0_IENA);
	assert_int_equal(f->fb.rx_ready_calls, calls + 2);
}

static bool rx_accepts(struct fx *f, const uint8_t *dst, uint16_t *status)
{
	uint8_t fr[64];
	unsigned idx = 3 - csr_rd(f, 72);

	make_frame(fr, sizeof(fr), dst, 0);
	rx_desc(f, idx, RX_BUF + idx * BUF_STRIDE, BUF_SIZE, true);
	assert_true(inject(f, fr, sizeof(fr)));
	*status = rx_status(f, idx);
	return !(*status & OWN);
}

/* pcnet32's set_multicast_list: suspend, write CSR15 and CSR8-11, resume. */
static void set_filter(struct fx *f, uint16_t mode, const uint16_t *ladrf)
{
	csr_wr(f, 5, csr_rd(f, 5) | 1);
	assert_int_equal(csr_rd(f, 5) & 1, 1);
	csr_wr(f, 15, mode);
	for (int i = 0; i < 4; i++)
		csr_wr(f, 8 + i, ladrf ? ladrf[i] : 0);
	csr_wr(f, 5, csr_rd(f, 5) & ~1);
}

static void test_rx_filter(void **state)
{
	struct fx *f = *state;
	static const uint8_t other[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static const uint8_t mcast2[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	/* CRC-32 of 01:00:5e:00:00:01 is D9B4C5FEh: hash 54 = CSR11 bit 6; 33:33:00:00:00:01
	 * hashes to 23 = CSR9 bit 7; the broadcast address to 47 = CSR10 bit 15. */
	const uint16_t ladrf54[4] = { 0, 0, 0, 0x0040 };
	const uint16_t ladrf47[4] = { 0, 0, 0x8000, 0 };
	uint16_t st;

	start32(f, 0, 2, 2, 0);
	assert_true(rx_accepts(f, MAC, &st));
	assert_int_equal(st, STP | ENP | RMD_PAM);
	assert_false(rx_accepts(f, other, &st));
	assert_true(rx_accepts(f, BCAST, &st));
	assert_int_equal(st, STP | ENP | RMD_BAM);
	assert_false(rx_accepts(f, mcast, &st));
	set_filter(f, 0, ladrf54);
	assert_true(rx_accepts(f, mcast, &st));
	assert_int_equal(st, STP | ENP | RMD_LAFM);
	assert_false(rx_accepts(f, mcast2, &st));
	/* DRCVBC: broadcasts only through the hash. */
	set_filter(f, 0x4000, NULL);
	assert_false(rx_accepts(f, BCAST, &st));
	set_filter(f, 0x4000, ladrf47);
	assert_true(rx_accepts(f, BCAST, &st));
	assert_int_equal(st, STP | ENP | RMD_LAFM);
	/* DRCVPA: not even our own address. */
	set_filter(f, 0x2000, NULL);
	assert_false(rx_accepts(f, MAC, &st));
	/* PROM: everything, with no match bit for what matched nothing. */
	set_filter(f, 0x8000, NULL);
	assert_true(rx_accepts(f, other, &st));
	assert_int_equal(st, STP | ENP);
	assert_true(rx_accepts(f, mcast2, &st));
	assert_true(rx_accepts(f, MAC, &st));
	assert_int_equal(st, STP | ENP | RMD_PAM);
}

/* The hash the Linux driver computes (ether_crc_le(6, addr) >> 26) selects the same bit. */
static void test_multicast_hash_known_crc(void **state)
{
	struct fx *f = *state;
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	uint16_t ladrf[4] = { 0 };
	uint32_t crc = ref_crc(0xffffffffu, mcast, 6);
	uint16_t st;

	assert_int_equal(crc, 0xd9b4c5feu);
	ladrf[(crc >> 26) >> 4] |= (uint16_t)(1u << ((crc >> 26) & 0xf));
	start32(f, 0, 2, 2, 0);
	set_filter(f, 0, ladrf);
	assert_true(rx_accepts(f, mcast, &st));
	/* Every other single bit rejects it. */
	for (unsigned bit = 0; bit < 64; bit++) {
		uint16_t l[4] = { 0 };

		if (bit == 54)
			continue;
		l[bit >> 4] = (uint16_t)(1u << (bit & 15));
		set_filter(f, 0, l);
		assert_false(rx_accepts(f, mcast, &st));
	}
}

/* ================= interrupts, STOP/STRT, SPND ================= */

static void test_interrupts_napi(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];
	uint16_t csr0;

	start32(f, 0, 3, 3, 8);
	make_frame(fr, sizeof(fr), MAC, 1);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(irq(f), 1);
	/* pcnet32_interrupt: acknowledge (IENA off), mask everything in CSR3. */
	csr0 = csr_rd(f, 0);
	assert_int_equal(csr0 & (CSR0_INTR | CSR0_RINT), CSR0_INTR | CSR0_RINT);
	csr_wr(f, 0, csr0 & ~0x004f);
	assert_int_equal(irq(f), 0);
	csr_wr(f, 3, csr_rd(f, 3) | 0x5f00);
	csr_wr(f, 0, CSR0_IENA);
	/* A frame during the poll: RINT, but masked. */
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(csr_rd(f, 0) & (CSR0_RINT | CSR0_INTR), CSR0_RINT);
	assert_int_equal(irq(f), 0);
	/* pcnet32_poll ends: unmask, IENA; the pending RINT interrupts at once. */
	csr_wr(f, 3, csr_rd(f, 3) & 0x00ff);
	assert_int_equal(irq(f), 1);
	csr_wr(f, 0, CSR0_IENA);
	assert_int_equal(irq(f), 1);
	/* Writing zeros to the flags changes nothing; ones clear them. */
	csr_wr(f, 0, CSR0_IENA);
	assert_true(csr_rd(f, 0) & CSR0_RINT);
	csr_wr(f, 0, CSR0_RINT | CSR0_IENA);
	assert_int_equal(irq(f), 0);
	/* INTx disable in the PCI command register hides the line, not the request. */
	assert_true(inject(f, fr, sizeof(fr)));
	pci_config_write(f->pci, PCI_DEVFN(SLOT, 0), PCI_COMMAND, 2,
			 PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
				 PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(irq(f), 0);
	assert_true(pci_config_read(f->pci, PCI_DEVFN(SLOT, 0), PCI_STATUS, 2) & 0x8);
}

static void test_stop_start(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	start32(f, 0, 3, 3, 8);
	make_frame(fr, sizeof(fr), MAC, 1);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(irq(f), 1);
	/* STOP clears everything else, the interrupt too. */
	csr_wr(f, 0, CSR0_STOP);
	assert_int_equal(csr_rd(f, 0), CSR0_STOP);
	assert_int_equal(irq(f), 0);
	/* Stopped: the wire is not listened to, TDMD does nothing. */
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 1), OWN);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(f->fb.sent, 0);
	/* STRT alone resumes where the rings were. */
	csr_wr(f, 0, CSR0_STRT | CSR0_IENA);
	assert_int_equal(f->fb.sent, 1); /* the descriptor queued while stopped */
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 1), STP | ENP | RMD_PAM);
	/* STOP wins over INIT and STRT in the same write. */
	csr_wr(f, 0, CSR0_STOP | CSR0_STRT | CSR0_INIT);
	assert_int_equal(csr_rd(f, 0), CSR0_STOP);
	/* INIT and STRT together: initialization first, rings from the start. */
	csr_wr(f, 0, CSR0_INIT | CSR0_STRT);
	assert_int_equal(csr_rd(f, 0) & 0x01ff & ~CSR0_INTR,
			 CSR0_IDON | CSR0_RXON | CSR0_TXON | CSR0_STRT | CSR0_INIT);
	assert_int_equal(csr_rd(f, 72), 7);
	assert_int_equal(csr_rd(f, 74), 7);
	/* DRX: STRT leaves the receiver off. */
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 15, 0x0001);
	csr_wr(f, 0, CSR0_STRT);
	assert_int_equal(csr_rd(f, 0) & (CSR0_RXON | CSR0_TXON), CSR0_TXON);
}

static void test_suspend(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];
	int calls;

	start32(f, 0, 3, 3, 8);
	make_frame(fr, sizeof(fr), MAC, 1);
	csr_wr(f, 5, 1);
	assert_int_equal(csr_rd(f, 5), 1);
	send_one(f, 0, fr, sizeof(fr));
	fake_evloop_advance(f->loop, 10000000);
	assert_int_equal(f->fb.sent, 0);
	calls = f->fb.rx_ready_calls;
	assert_false(inject(f, fr, sizeof(fr)));
	/* Resume: the queued frame goes, the held one is asked for. */
	csr_wr(f, 5, 0);
	assert_int_equal(f->fb.sent, 1);
	assert_int_equal(f->fb.rx_ready_calls, calls + 1);
	/* STOP ends a suspend. */
	csr_wr(f, 5, 1);
	csr_wr(f, 0, CSR0_STOP);
	assert_int_equal(csr_rd(f, 5), 0);
}

/* ================= internal loopback ================= */

static void test_loopback(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	/* pcnet32's loopback self-test: descriptors first, then BCR32 MIILP and CSR15
	 * LOOP|INTL with STOP set, then STRT alone. */
	start32(f, 0, 3, 3, 8);
	csr_wr(f, 0, CSR0_STOP);
	make_frame(fr, sizeof(fr), MAC, 1);
	for (unsigned i = 0; i < 4; i++) {
		fr[14] = (uint8_t)i;
		memcpy(f->ram + TX_BUF + i * BUF_STRIDE, fr, sizeof(fr));
		tx_desc(f, i, TX_BUF + i * BUF_STRIDE, sizeof(fr), OWN | STP | ENP);
	}
	bcr_wr(f, 32, bcr_rd(f, 32) | 0x0002);
	csr_wr(f, 15, (csr_rd(f, 15) & 0xfffc) | 0x0044);
	csr_wr(f, 0, CSR0_STRT);
	assert_int_equal(f->fb.sent, 0);
	for (unsigned i = 0; i < 4; i++) {
		fr[14] = (uint8_t)i;
		assert_int_equal(rx_status(f, i), STP | ENP | RMD_PAM);
		assert_int_equal(rx_mcnt(f, i), 104);
		assert_memory_equal(f->ram + RX_BUF + i * BUF_STRIDE, fr, sizeof(fr));
		assert_int_equal(r32(f, RX_BUF + i * BUF_STRIDE + 100), ref_fcs(fr, 100));
		assert_int_equal(tx_status(f, i), STP | ENP);
	}
	assert_int_equal(csr_rd(f, 0) & (CSR0_TINT | CSR0_RINT), CSR0_TINT | CSR0_RINT);
	/* The wire is not heard in internal loopback. */
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 4), OWN);
}

/* CVE-2015-7504: the FCS lands at the very end of the buffers, or does not fit. */
static void test_loopback_fcs_at_buffer_end(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	start32(f, 0x0044, 2, 2, 0);
	memset(f->ram + RX_BUF, 0xcc, 4 * BUF_STRIDE);
	rx_desc(f, 0, RX_BUF, 100, true);
	rx_desc(f, 1, RX_BUF + BUF_STRIDE, 4, true);
	make_frame(fr, sizeof(fr), MAC, 1);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(rx_status(f, 0), STP);
	assert_int_equal(rx_status(f, 1), ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 1), 104);
	assert_int_equal(r32(f, RX_BUF + BUF_STRIDE), ref_fcs(fr, 100));
	assert_int_equal(f->ram[RX_BUF + 100], 0xcc);
	assert_int_equal(f->ram[RX_BUF + BUF_STRIDE + 4], 0xcc);
	/* Exactly frame + FCS in one buffer. */
	rx_desc(f, 2, RX_BUF + 2 * BUF_STRIDE, 104, true);
	send_one(f, 1, fr, sizeof(fr));
	assert_int_equal(rx_status(f, 2), STP | ENP | RMD_PAM);
	assert_int_equal(f->ram[RX_BUF + 2 * BUF_STRIDE + 104], 0xcc);
	/* Room for the frame but not its FCS: BUFF, and nothing past the buffer. */
	rx_desc(f, 3, RX_BUF + 3 * BUF_STRIDE, 100, true);
	send_one(f, 2, fr, sizeof(fr));
	assert_int_equal(rx_status(f, 3), STP | ERR | RMD_BUFF);
	assert_int_equal(f->ram[RX_BUF + 3 * BUF_STRIDE + 100], 0xcc);
}

/* Class C-1 in loopback: frame sizes at the buffer size, with and without FCS generation. */
static void test_loopback_sizes(void **state)
{
	struct fx *f = *state;
	static uint8_t fr[4100];
	uint32_t fcs;

	start32(f, 0x0044, 2, 2, 0);
	make_frame(fr, sizeof(fr), MAC, 1);
	memset(f->ram + RX_BUF, 0xcc, 4 * BUF_STRIDE);
	for (unsigned i = 0; i < 4; i++)
		rx_desc(f, i, RX_BUF + i * BUF_STRIDE, 4095, true);
	/* 4091 + FCS fits the largest MCNT. */
	send_one(f, 0, fr, 4091);
	assert_int_equal(rx_status(f, 0), STP | ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 0), 4095);
	assert_int_equal(f->ram[RX_BUF + 4095], 0xcc);
	/* 4092 and 4095 (+ FCS) are not received; the transmit completes with BABL. */
	send_one(f, 1, fr, 4092);
	send_one(f, 2, fr, 4095);
	assert_int_equal(rx_status(f, 1), OWN);
	assert_true(csr_rd(f, 0) & CSR0_BABL);
	assert_int_equal(tx_status(f, 2), STP | ENP);
	/* 4096 (two buffers) is never gathered. */
	memcpy(f->ram + TX_BUF + 3 * BUF_STRIDE, fr, 4095);
	tx_desc(f, 3, TX_BUF + 3 * BUF_STRIDE, 4095, OWN | STP);
	tx_desc(f, 0, TX_BUF, 1, OWN | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(rx_status(f, 1), OWN);
	assert_int_equal(tx_status(f, 0), ENP);
	assert_int_equal(f->ram[RX_BUF + BUF_STRIDE], 0xcc);
	/* DXMTFCS without auto pad: the guest's buffer ends in its own FCS, 4095 in all. */
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 15, 0x004c);
	csr_wr(f, 4, 0x0115);
	csr_wr(f, 0, CSR0_STRT);
	fcs = ref_fcs(fr, 4091);
	fr[4091] = (uint8_t)fcs;
	fr[4092] = (uint8_t)(fcs >> 8);
	fr[4093] = (uint8_t)(fcs >> 16);
	fr[4094] = (uint8_t)(fcs >> 24);
	send_one(f, 1, fr, 4095);
	assert_int_equal(rx_status(f, 1), STP | ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 1), 4095);
	assert_memory_equal(f->ram + RX_BUF + BUF_STRIDE, fr, 4095);
	assert_int_equal(f->ram[RX_BUF + BUF_STRIDE + 4095], 0xcc);
	/* A wrong FCS: received with CRC. */
	fr[4094] ^= 1;
	send_one(f, 2, fr, 4095);
	assert_int_equal(rx_status(f, 2), STP | ENP | ERR | RMD_CRC | RMD_PAM);
	/* ADD_FCS asks for one anyway: 60 bytes + FCS. */
	memcpy(f->ram + TX_BUF + 3 * BUF_STRIDE, fr, 60);
	tx_desc(f, 3, TX_BUF + 3 * BUF_STRIDE, 60, OWN | STP | ENP | TMD_ADD_FCS);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(rx_status(f, 3), STP | ENP | RMD_PAM);
	assert_int_equal(rx_mcnt(f, 3), 64);
}

/* A looped-back frame with no buffer to go to is really lost: MISS and CSR112. */
static void test_loopback_miss(void **state)
{
	struct fx *f = *state;
	uint8_t fr[60];

	start32(f, 0x0044, 2, 2, 0);
	make_frame(fr, sizeof(fr), MAC, 1);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(csr_rd(f, 0) & (CSR0_MISS | CSR0_ERR), CSR0_MISS | CSR0_ERR);
	assert_int_equal(csr_rd(f, 112), 1);
	/* MISSM keeps it out of INTR. */
	csr_wr(f, 0, CSR0_TINT | CSR0_IENA);
	assert_int_equal(irq(f), 1);
	csr_wr(f, 3, 0x1000);
	assert_int_equal(irq(f), 0);
	/* CSR112 wraps into MFCO. */
	csr_wr(f, 5, 1);
	csr_wr(f, 112, 0xffff);
	csr_wr(f, 5, 0);
	send_one(f, 1, fr, sizeof(fr));
	assert_int_equal(csr_rd(f, 112), 0);
	assert_true(csr_rd(f, 4) & 0x0200);
}

/* Class C-6: a backend that answers inside send. Our receiver refuses to run inside our own
 * transmit (no recursion, no deadlock); the frame is delivered right after it. */
static void test_reentrant_backend(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	start32(f, 0, 3, 3, 8);
	f->fb.deliver_on_send = true;
	make_frame(fr, sizeof(fr), MAC, 1);
	send_one(f, 0, fr, sizeof(fr));
	assert_int_equal(f->fb.sent, 1);
	assert_false(f->fb.held);
	assert_int_equal(rx_status(f, 0), STP | ENP | RMD_PAM);
	assert_memory_equal(f->ram + RX_BUF, fr, sizeof(fr));
	assert_int_equal(tx_status(f, 0), STP | ENP);
}

/* ================= bus errors ================= */

static void test_dma_outside_ram(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	make_frame(fr, sizeof(fr), MAC, 1);
	/* The initialization block outside RAM: MERR, no IDON. */
	bcr_wr(f, 20, 2);
	csr_wr(f, 1, 0);
	csr_wr(f, 2, 0x7fff);
	csr_wr(f, 0, CSR0_INIT | CSR0_IENA);
	assert_int_equal(csr_rd(f, 0) & (CSR0_MERR | CSR0_IDON | CSR0_INIT | CSR0_ERR),
			 CSR0_MERR | CSR0_ERR);
	assert_int_equal(irq(f), 1);
	/* With SSIZE32 clear, IADR[31:24] is the top of every address: 0100_1000h is not RAM. */
	bcr_wr(f, 20, 0);
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 1, IB_ADDR);
	csr_wr(f, 2, 0x0100);
	csr_wr(f, 0, CSR0_INIT);
	assert_true(csr_rd(f, 0) & CSR0_MERR);

	/* A transmit ring outside RAM. */
	start32(f, 0, 2, 2, 4);
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 30, 0);
	csr_wr(f, 31, 0x8000);
	csr_wr(f, 0, CSR0_STRT);
	assert_int_equal(csr_rd(f, 0) & (CSR0_MERR | CSR0_TXON), CSR0_MERR);
	/* A transmit buffer outside RAM: MERR, the transmitter halts, the descriptor stays. */
	start32(f, 0, 2, 2, 4);
	tx_desc(f, 0, 0x7ffffff0u, 100, OWN | STP | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(csr_rd(f, 0) & (CSR0_MERR | CSR0_TXON), CSR0_MERR);
	assert_int_equal(tx_status(f, 0), OWN | STP | ENP);
	assert_int_equal(f->fb.sent, 0);
	/* A buffer that starts in RAM and runs out of it. */
	start32(f, 0, 2, 2, 4);
	tx_desc(f, 0, RAM_SIZE - 50, 100, OWN | STP | ENP);
	csr_wr(f, 0, CSR0_TDMD);
	assert_true(csr_rd(f, 0) & CSR0_MERR);
	/* A receive buffer outside RAM: MERR, the receiver halts, nothing is written. */
	start32(f, 0, 2, 2, 0);
	rx_desc(f, 0, RAM_SIZE - 50, BUF_SIZE, true);
	memset(f->ram + RAM_SIZE - 50, 0xcc, 50);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(csr_rd(f, 0) & (CSR0_MERR | CSR0_RXON), CSR0_MERR);
	assert_int_equal(rx_status(f, 0), OWN);
	assert_int_equal(f->ram[RAM_SIZE - 50], 0xcc);
	assert_true(inject(f, fr, sizeof(fr))); /* receiver off: lost, not held */
	/* A receive ring that runs off the end of RAM. */
	start32(f, 0, 2, 2, 0);
	csr_wr(f, 0, CSR0_STOP);
	csr_wr(f, 24, (uint16_t)(RAM_SIZE - 16));
	csr_wr(f, 25, (uint16_t)((RAM_SIZE - 16) >> 16));
	csr_wr(f, 0, CSR0_STRT);
	w32(f, RAM_SIZE - 16 + 4, 0x8000f000u | (-BUF_SIZE & 0xfff));
	w32(f, RAM_SIZE - 16, RX_BUF);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), 0); /* the real ring was never touched */
	assert_int_equal(csr_rd(f, 0) & CSR0_MERR, 0);
	assert_int_equal(r16(f, RAM_SIZE - 16 + 6), STP | ENP | RMD_PAM);
	assert_true(inject(f, fr, sizeof(fr))); /* descriptor 1 is past the end */
	assert_int_equal(csr_rd(f, 0) & (CSR0_MERR | CSR0_RXON), CSR0_MERR);
	/* A receive buffer that is the descriptor itself: odd, harmless. */
	start32(f, 0, 2, 2, 0);
	rx_desc(f, 0, RX_RING, 16, true);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP | ERR | RMD_BUFF);
}

static void test_bus_master_disabled(void **state)
{
	struct fx *f = *state;
	uint8_t devfn = PCI_DEVFN(SLOT, 0);

	pci_config_write(f->pci, devfn, PCI_COMMAND, 2, PCI_COMMAND_IO);
	bcr_wr(f, 20, 2);
	write_ib32(f, 0, 2, 2, NULL);
	csr_wr(f, 1, IB_ADDR);
	csr_wr(f, 2, 0);
	csr_wr(f, 0, CSR0_INIT);
	assert_int_equal(csr_rd(f, 0) & (CSR0_MERR | CSR0_IDON), CSR0_MERR);
	pci_config_write(f->pci, devfn, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	csr_wr(f, 0, CSR0_MERR | CSR0_INIT);
	assert_int_equal(csr_rd(f, 0) & (CSR0_MERR | CSR0_IDON), CSR0_IDON);
}

/* ================= software styles 0 and 3 ================= */

static void test_style0_rings(void **state)
{
	struct fx *f = *state;
	uint32_t ib = IB_ADDR;
	uint8_t fr[100];

	/* 16-bit init block: 4 receive and 4 transmit descriptors of 8 bytes. */
	memset(f->ram + ib, 0, 24);
	memcpy(f->ram + ib + 2, MAC, 6);
	w16(f, ib + 16, RX_RING & 0xffff);
	w16(f, ib + 18, (uint16_t)(2u << 13 | RX_RING >> 16));
	w16(f, ib + 20, TX_RING & 0xffff);
	w16(f, ib + 22, (uint16_t)(2u << 13 | TX_RING >> 16));
	for (unsigned i = 0; i < 4; i++) {
		uint32_t d = RX_RING + 8 * i, b = RX_BUF + i * BUF_STRIDE;

		w16(f, d, (uint16_t)b);
		w16(f, d + 2, (uint16_t)(0x8000 | b >> 16)); /* OWN, HADR */
		w16(f, d + 4, (uint16_t)(0xf000 | (-BUF_SIZE & 0xfff)));
		w16(f, d + 6, 0);
	}
	csr_wr(f, 1, (uint16_t)ib);
	csr_wr(f, 2, 0);
	csr_wr(f, 4, 0x0915);
	csr_wr(f, 0, CSR0_INIT | CSR0_STRT | CSR0_IENA);
	assert_true(csr_rd(f, 0) & CSR0_RXON);
	make_frame(fr, sizeof(fr), MAC, 2);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(r16(f, RX_RING + 2), (STP | ENP) | (RX_BUF >> 16));
	assert_int_equal(r16(f, RX_RING + 6), 104);
	assert_memory_equal(f->ram + RX_BUF, fr, sizeof(fr));
	/* Transmit from a 16-bit TMD. */
	memcpy(f->ram + TX_BUF, fr, sizeof(fr));
	w16(f, TX_RING, (uint16_t)TX_BUF);
	w16(f, TX_RING + 4, (uint16_t)(0xf000 | (-100 & 0xfff)));
	w16(f, TX_RING + 6, 0);
	w16(f, TX_RING + 2, (uint16_t)(0x8000 | STP | ENP | TX_BUF >> 16));
	csr_wr(f, 0, CSR0_TDMD | CSR0_IENA);
	assert_int_equal(f->fb.sent, 1);
	assert_memory_equal(f->fb.last, fr, sizeof(fr));
	assert_int_equal(r16(f, TX_RING + 2), (STP | ENP) | (TX_BUF >> 16));
	/* Underflow: the error word is TMD3. */
	w16(f, TX_RING + 8 + 4, (uint16_t)(0xf000 | (-100 & 0xfff)));
	w16(f, TX_RING + 8 + 2, (uint16_t)(0x8000 | STP | TX_BUF >> 16));
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(r16(f, TX_RING + 8 + 2), (ERR | STP) | (TX_BUF >> 16));
	assert_int_equal(r16(f, TX_RING + 8 + 6), 0xc000);
}

static void test_style3_rings(void **state)
{
	struct fx *f = *state;
	uint8_t fr[100];

	in(f, WIO_RESET, 2);
	bcr_wr(f, 20, 3);
	assert_int_equal(bcr_rd(f, 20) & 0x3ff, 0x0303);
	write_ib32(f, 0, 2, 2, NULL);
	/* Style 3: RMD0 MCNT, RMD1 status and BCNT, RMD2 buffer address. */
	for (unsigned i = 0; i < 4; i++) {
		uint32_t d = RX_RING + 16 * i;

		w32(f, d, 0);
		w32(f, d + 8, RX_BUF + i * BUF_STRIDE);
		w32(f, d + 4, 0x8000f000u | (-BUF_SIZE & 0xfff));
	}
	csr_wr(f, 1, IB_ADDR);
	csr_wr(f, 2, 0);
	csr_wr(f, 0, CSR0_INIT | CSR0_STRT);
	make_frame(fr, sizeof(fr), MAC, 3);
	assert_true(inject(f, fr, sizeof(fr)));
	assert_int_equal(rx_status(f, 0), STP | ENP | RMD_PAM);
	assert_int_equal(r32(f, RX_RING) & 0xfff, 104);
	assert_memory_equal(f->ram + RX_BUF, fr, sizeof(fr));
	/* TMD0 errors, TMD1 status, TMD2 address. */
	memcpy(f->ram + TX_BUF, fr, sizeof(fr));
	w32(f, TX_RING, 0);
	w32(f, TX_RING + 8, TX_BUF);
	w32(f, TX_RING + 4, (uint32_t)(OWN | STP | ENP) << 16 | 0xf000u | (-100u & 0xfff));
	w32(f, TX_RING + 16 + 8, TX_BUF);
	w32(f, TX_RING + 16 + 4, (uint32_t)(OWN | STP) << 16 | 0xf000u | (-100u & 0xfff));
	csr_wr(f, 0, CSR0_TDMD);
	assert_int_equal(f->fb.sent, 1);
	assert_memory_equal(f->fb.last, fr, sizeof(fr));
	assert_int_equal(tx_status(f, 0), STP | ENP);
	assert_int_equal(tx_status(f, 1), STP | ERR);
	assert_int_equal(r32(f, TX_RING + 16), TMD2_BUFF | TMD2_UFLO);
}

/* ================= MII and link ================= */

static uint16_t mii_rd(struct fx *f, unsigned phy, unsigned reg)
{
	bcr_wr(f, 33, (uint16_t)(phy << 5 | reg));
	return bcr_rd(f, 34);
}

static void test_mii_phy(void **state)
{
	struct fx *f = *state;

	assert_int_equal(mii_rd(f, 1, 1), 0x782d); /* link up, autonegotiation complete */
	assert_int_equal(mii_rd(f, 1, 0), 0x3100); /* 100 Mb/s full duplex, autonegotiation */
	assert_int_equal(mii_rd(f, 1, 2), 0x0022);
	assert_int_equal(mii_rd(f, 1, 3), 0x561b);
	assert_int_equal(mii_rd(f, 1, 4), 0x01e1);
	assert_int_equal(mii_rd(f, 1, 5) & 0x0100, 0x0100); /* partner: 100TX full duplex */
	assert_int_equal(mii_rd(f, 0, 1), 0xffff);
	assert_int_equal(mii_rd(f, 31, 2), 0xffff);
	assert_int_equal(bcr_rd(f, 33), 31 << 5 | 2);
	/* BMCR: writable, self-clearing reset. */
	bcr_wr(f, 33, 1 << 5 | 0);
	bcr_wr(f, 34, 0x0100);
	assert_int_equal(mii_rd(f, 1, 0), 0x0100);
	bcr_wr(f, 33, 1 << 5 | 0);
	bcr_wr(f, 34, 0x8000);
	assert_int_equal(mii_rd(f, 1, 0), 0x3100);
	/* Link down shows in BMSR and BCR4. */
	f->fb.link_down = true;
	assert_int_equal(mii_rd(f, 1, 1), 0x7809);
	assert_int_equal(bcr_rd(f, 4), 0x00c0);
	f->fb.link_down = false;
	assert_int_equal(bcr_rd(f, 4), 0x80c0);
}

/* ================= the Linux driver, end to end, in both I/O modes ================= */

static void traffic(struct fx *f)
{
	uint8_t fr[1514];

	start32(f, 0, 4, 4, 16);
	for (unsigned n = 0; n < 40; n++) {
		unsigned t = n % 16, len = 60 + (n * 97) % 1455;
		uint16_t csr0;

		make_frame(fr, len, BCAST, (uint8_t)n);
		send_one(f, t, fr, len);
		assert_int_equal(f->fb.last_len, len);
		assert_memory_equal(f->fb.last, fr, len);
		make_frame(fr, len, MAC, (uint8_t)~n);
		assert_true(inject(f, fr, len));
		assert_int_equal(irq(f), 1);
		csr0 = csr_rd(f, 0);
		csr_wr(f, 0, csr0 & ~0x004f);
		assert_int_equal(rx_status(f, t), STP | ENP | RMD_PAM);
		assert_int_equal(rx_mcnt(f, t) - 4, len);
		assert_memory_equal(f->ram + RX_BUF + t * BUF_STRIDE, fr, len);
		assert_int_equal(tx_status(f, t), STP | ENP);
		rx_desc(f, t, RX_BUF + t * BUF_STRIDE, BUF_SIZE, true);
		csr_wr(f, 0, CSR0_IENA);
	}
	assert_int_equal(f->fb.sent, 40);
	assert_int_equal(csr_rd(f, 0) & CSR0_ERR, 0);
}

static void test_linux_traffic_wio(void **state)
{
	traffic(*state);
}

static void test_linux_traffic_dwio(void **state)
{
	struct fx *f = *state;

	out(f, DWIO_RDP, 4, 0);
	f->dwio = true;
	traffic(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pci_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wio_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dwio_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_bar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_soft_and_hard_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_block_16, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_block_32, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_length_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csr_write_protection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_auto_pad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_underflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_chain_longer_than_any_buffer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tx_ring_loops_forever, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_babl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_poll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_link_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_interrupt_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_fcs_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_short_frame_padded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_larger_than_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_no_buffer_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multicast_hash_known_crc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupts_napi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suspend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_fcs_at_buffer_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback_miss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reentrant_backend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_master_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_style0_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_style3_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mii_phy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_traffic_wio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_traffic_dwio, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
