/*
 * Fuzzes the PCnet-PCI II through its I/O and memory BARs on a real PCI bus, with guest memory
 * the input writes (initialization blocks, descriptors, buffers) and frames the input injects
 * from a fake backend that can also answer from inside send. Guest RAM is two regions with a
 * hole between them, so buffers and rings can straddle RAM, hole and end.
 *
 * Input: a sequence of operations, each an opcode byte and its operands (see run_op).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_evloop.h"
#include "hostvisor/gmem.h"
#include "hostvisor/net.h"
#include "hostvisor/pci.h"
#include "hostvisor/pcnet.h"

#define RAM0_SIZE 0x40000u /* 0 - 256 KiB */
#define RAM1_BASE 0x50000u /* a 64 KiB hole, then 64 KiB more */
#define RAM1_SIZE 0x10000u
#define SLOT 5
#define MAX_FRAME 5000

struct fuzz_be {
	struct net_backend be;
	bool link_down, deliver_on_send, in_send;
	uint8_t held[MAX_FRAME];
	size_t held_len;
	bool held_valid;
	unsigned sink;
};

static int fz_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	struct fuzz_be *fb = (struct fuzz_be *)be;
	size_t n = 0;

	/* Touch every byte, so a bad iovec shows under ASan. */
	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;

		for (size_t k = 0; k < iov[i].iov_len; k++)
			fb->sink += p[k];
		n += iov[i].iov_len;
	}
	if (fb->deliver_on_send && !fb->in_send && n <= sizeof(fb->held)) {
		uint8_t copy[MAX_FRAME];
		struct iovec v = { .iov_base = copy, .iov_len = n };
		size_t off = 0;

		for (int i = 0; i < iovcnt; i++) {
			memcpy(copy + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		fb->in_send = true;
		if (!net_backend_deliver(be, &v, 1, n)) {
			memcpy(fb->held, copy, n);
			fb->held_len = n;
			fb->held_valid = true;
		}
		fb->in_send = false;
	}
	return 0;
}

static void fz_rx_ready(struct net_backend *be)
{
	struct fuzz_be *fb = (struct fuzz_be *)be;
	struct iovec v = { .iov_base = fb->held, .iov_len = fb->held_len };

	if (!fb->held_valid || !be->receive)
		return;
	fb->held_valid = false;
	if (!net_backend_deliver(be, &v, 1, fb->held_len))
		fb->held_valid = true;
}

static bool fz_link_up(struct net_backend *be)
{
	return !((struct fuzz_be *)be)->link_down;
}

static void fz_close(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops fz_ops = {
	.send = fz_send, .rx_ready = fz_rx_ready, .link_up = fz_link_up, .close = fz_close
};

static void no_isa(void *opaque, int irq, int level)
{
	(void)opaque;
	if (irq < 0 || irq >= 16 || level < 0 || level > 1)
		abort();
}

static void no_gsi(void *opaque, int gsi, int level)
{
	(void)opaque;
	if (gsi < 16 || gsi >= 24 || level < 0 || level > 1)
		abort();
}

struct world {
	struct bus pio, mmio;
	struct pci_bus *pci;
	struct evloop *loop;
	struct gmem gm;
	uint8_t *ram0, *ram1;
	struct fuzz_be fb;
	struct pcnet *nic;
	uint16_t io;
	uint64_t mem;
};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t take8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint32_t take(struct input *in, int bytes)
{
	uint32_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint32_t)take8(in) << (8 * i);
	return v;
}

/* An address mostly inside RAM, sometimes in the hole or past the end. */
static uint32_t guest_addr(uint32_t raw)
{
	switch (raw >> 30) {
	case 0:
	case 1:
		return raw % RAM0_SIZE;
	case 2:
		return RAM1_BASE - 0x100 + raw % (RAM1_SIZE + 0x200);
	default:
		return raw;
	}
}

static void guest_write(struct world *w, uint32_t gpa, const uint8_t *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = gmem_ptr(&w->gm, (uint64_t)gpa + i, 1);

		if (p)
			*p = src[i];
	}
}

/* What pcnet32_open does, with the input choosing style, rings and addresses. */
static void linux_like_start(struct world *w, struct input *in)
{
	uint8_t style = take8(in) & 3, rlog = take8(in) & 15, tlog = take8(in) & 15;
	uint32_t ib = guest_addr(take(in, 4)) & ~3u;
	uint32_t rdra = guest_addr(take(in, 4)), tdra = guest_addr(take(in, 4));
	uint16_t mode = (uint16_t)take(in, 2);
	uint8_t blk[28] = { 0 };
	uint64_t v;

	bus_read(&w->pio, w->io + 0x14, 2, &v);
	bus_write(&w->pio, w->io + 0x12, 2, 20);
	bus_write(&w->pio, w->io + 0x16, 2, style);
	if (style) {
		blk[0] = (uint8_t)mode;
		blk[1] = (uint8_t)(mode >> 8);
		blk[2] = (uint8_t)(rlog << 4);
		blk[3] = (uint8_t)(tlog << 4);
		memcpy(blk + 20, &rdra, 4);
		memcpy(blk + 24, &tdra, 4);
	} else {
		blk[0] = (uint8_t)mode;
		blk[1] = (uint8_t)(mode >> 8);
		blk[16] = (uint8_t)rdra;
		blk[17] = (uint8_t)(rdra >> 8);
		blk[18] = (uint8_t)(rdra >> 16);
		blk[19] = (uint8_t)(rlog << 5);
		blk[20] = (uint8_t)tdra;
		blk[21] = (uint8_t)(tdra >> 8);
		blk[22] = (uint8_t)(tdra >> 16);
		blk[23] = (uint8_t)(tlog << 5);
	}
	guest_write(w, ib, blk, sizeof(blk));
	bus_write(&w->pio, w->io + 0x12, 2, 1);
	bus_write(&w->pio, w->io + 0x10, 2, ib & 0xffff);
	bus_write(&w->pio, w->io + 0x12, 2, 2);
	bus_write(&w->pio, w->io + 0x10, 2, ib >> 16);
	bus_write(&w->pio, w->io + 0x12, 2, 4);
	bus_write(&w->pio, w->io + 0x10, 2, 0x0915);
	bus_write(&w->pio, w->io + 0x12, 2, 0);
	bus_write(&w->pio, w->io + 0x10, 2, 0x0001);
	bus_write(&w->pio, w->io + 0x10, 2, 0x0042);
}

/* A descriptor in the 32-bit layout at a ring slot: a fast way to build rings. */
static void put_desc(struct world *w, struct input *in)
{
	uint32_t gpa = guest_addr(take(in, 4)) & ~15u;
	uint32_t buf = guest_addr(take(in, 4));
	uint16_t len = (uint16_t)take(in, 2);
	uint8_t flags = take8(in);
	uint8_t d[16] = { 0 };
	uint32_t word1 = (uint32_t)flags << 24 | 0xf000u | (-(uint32_t)len & 0xfff);

	memcpy(d, &buf, 4);
	memcpy(d + 4, &word1, 4);
	guest_write(w, gpa, d, sizeof(d));
}

static void inject(struct world *w, struct input *in)
{
	static uint8_t frame[MAX_FRAME];
	size_t len = take(in, 2) % MAX_FRAME, claimed = len;
	uint8_t how = take8(in);
	struct iovec v[3];
	int n = 1;

	for (size_t i = 0; i < len; i++)
		frame[i] = (uint8_t)(i * 31 + how);
	/* The destination from the input: our MAC, broadcast, multicast, anything. */
	for (int i = 0; i < 6 && i < (int)len; i++)
		frame[i] = take8(in);
	if (how & 1)
		claimed = how & 2 ? len + 1000 : len / 2;
	v[0] = (struct iovec){ .iov_base = frame, .iov_len = len };
	if (how & 4 && len > 20) {
		v[0].iov_len = 7;
		v[1] = (struct iovec){ .iov_base = frame + 7, .iov_len = 0 };
		v[2] = (struct iovec){ .iov_base = frame + 7, .iov_len = len - 7 };
		n = 3;
	}
	net_backend_deliver(&w->fb.be, v, n, claimed);
}

static void run_op(struct world *w, struct input *in)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	uint8_t op = take8(in);
	uint8_t off = take8(in), sz = take8(in);
	unsigned size = sizes[sz & 3];
	uint64_t v;

	switch (op % 12) {
	case 0:
	case 1:
		bus_write(&w->pio, w->io + (off & 31), size, take(in, 4));
		break;
	case 2:
		bus_read(&w->pio, w->io + (off & 31), size, &v);
		break;
	case 3:
		/* RAP then RDP or BDP, word mode: the common case, made cheap to reach. */
		bus_write(&w->pio, w->io + 0x12, 2, off);
		bus_write(&w->pio, w->io + (sz & 1 ? 0x16 : 0x10), 2, take(in, 2));
		break;
	case 4:
		if (sz & 4)
			bus_write(&w->mmio, w->mem + (off & 31), size, take(in, 4));
		else
			bus_read(&w->mmio, w->mem + (off & 31), size, &v);
		break;
	case 5: {
		uint32_t gpa = guest_addr(take(in, 4));
		uint8_t buf[64];
		size_t n = off % sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = take8(in);
		guest_write(w, gpa, buf, n);
		break;
	}
	case 6:
		put_desc(w, in);
		break;
	case 7:
		inject(w, in);
		break;
	case 8:
		fake_evloop_advance(w->loop, (uint64_t)off * 100000);
		break;
	case 9:
		w->fb.link_down = off & 1;
		w->fb.deliver_on_send = off & 2;
		if (off & 4)
			pcnet_reset(w->nic);
		break;
	case 10:
		linux_like_start(w, in);
		break;
	default:
		pci_config_write(w->pci, PCI_DEVFN(SLOT, 0), PCI_COMMAND, 2, take(in, 2));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct pci_irq_ops irq_ops = { .set_isa_irq = no_isa, .set_gsi = no_gsi };
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
	struct world *w = calloc(1, sizeof(*w));
	struct input in = { .p = data, .left = len };
	uint16_t elcr;

	if (!w)
		return 0;
	w->ram0 = calloc(1, RAM0_SIZE);
	w->ram1 = calloc(1, RAM1_SIZE);
	bus_init(&w->pio, "pio");
	bus_init(&w->mmio, "mmio");
	w->pci = pci_bus_create(&w->pio, &w->mmio, &irq_ops, NULL);
	pci_bus_attach(w->pci);
	gmem_add_region(&w->gm, 0, RAM0_SIZE, w->ram0);
	gmem_add_region(&w->gm, RAM1_BASE, RAM1_SIZE, w->ram1);
	w->loop = evloop_create();
	w->fb.be = (struct net_backend){ .ops = &fz_ops, .name = "fuzz" };
	w->nic = pcnet_create(w->loop, &w->gm, &w->fb.be, mac);
	pcnet_attach(w->nic, w->pci, SLOT);
	pci_firmware_setup(w->pci, &elcr);
	w->io = (uint16_t)(pci_config_read(w->pci, PCI_DEVFN(SLOT, 0), PCI_BAR0, 4) & ~3u);
	w->mem = pci_config_read(w->pci, PCI_DEVFN(SLOT, 0), PCI_BAR0 + 4, 4) & ~15u;
	for (int n = 0; n < 4096 && in.left > 0; n++)
		run_op(w, &in);
	pcnet_destroy(w->nic);
	evloop_destroy(w->loop);
	pci_bus_destroy(w->pci);
	bus_destroy(&w->pio);
	bus_destroy(&w->mmio);
	free(w->ram0);
	free(w->ram1);
	free(w);
	return 0;
}
