/*
 * AMD Am79C970A PCnet-PCI II, from the datasheet (AMD publication 19436). Section names below
 * are the datasheet's: "Software Access" (I/O resources, WIO and DWIO), "Control and Status
 * Registers" (CSRn), "Bus Configuration Registers" (BCRn), "Initialization Block", "Descriptor
 * Rings" (RMDn/TMDn), "Buffer Management Unit", "Media Access Control" (address matching, FCS).
 * This file has the registers, the commands, the resets and the PCI function; pcnet_ring.c has
 * the rings, transmit, receive and the address filter.
 *
 * Model choices (what the chip does, or the nearest thing a host-side model can do):
 * - DMA is instantaneous and there are no FIFOs. A TDMD, STRT, the end of a suspend or the
 *   transmit poll walks the transmit ring at once, on the calling thread; a frame from the
 *   backend is written straight into the receive ring. The only underflow/overflow errors are
 *   the ones the datasheet ties to descriptor ownership: BUFF+UFLO when a transmit chain runs
 *   into a descriptor we do not own before ENP, BUFF when a received frame does.
 * - Transmit is zero-copy: the STP..ENP buffers become an iovec over guest RAM (gmem_iov) that
 *   the backend consumes before net_backend_send returns; only then are descriptors given back.
 * - No receive buffer (the current RMD not owned): the frame is refused and the backend holds
 *   it, where the chip would drop it and count MISS. We call net_backend_rx_ready() once the
 *   current RMD is ours again, noticed at the next register write or the descriptor poll.
 *   MISS and CSR112 count only frames we really cannot hold: internal loopback frames.
 * - Frames from the backend carry no FCS and may be short: we pad them to 60 bytes as the
 *   sending MAC would have, and append the FCS we compute, so MCNT = length + 4 as on a wire.
 * - The longest frame handled is 4095 bytes with FCS, the largest MCNT (12 bits). Longer
 *   frames from the backend are dropped; longer transmit chains are walked and given back with
 *   BABL but not sent. Nothing is staged except internal loopback frames (one, bounded).
 * - Internal loopback (CSR15 LOOP+INTL): the transmitted frame is staged and delivered to the
 *   receive ring after its transmit descriptors were given back, in the same walk, never by
 *   calling our receiver recursively. External loopback (LOOP alone) goes to the backend.
 * - A PCI master abort (an address outside guest RAM, or bus mastering disabled) is the
 *   datasheet's bus error: MERR, and the DMA channel that hit it halts (TXON or RXON cleared,
 *   IDON not set for the initialization block), so nothing ever loops on a bad address. The
 *   driver recovers with STOP and INIT.
 * - Ring walks are bounded by the ring length, which is 1..65536 by encoding (CSR76/CSR78 hold
 *   its two's complement; 0 means 65536), and every chain by the ring length too.
 * - The lock is error-checking: a backend that calls our receiver from inside our own send is
 *   refused (the frame is held and delivered after the transmit) instead of deadlocking.
 * - Not modelled: the EEPROM interface (the PROM and PADR are loaded as if from a valid
 *   EEPROM), LAPP, auto pad stripping on receive, Magic Packet, SRAM, collisions (the link is a
 *   full-duplex one: ONE/MORE/DEF/LCOL/RTRY never set).
 * - The descriptor poll (transmit, and the receive ring while the backend holds a frame) runs
 *   on the I/O thread every ~2 ms while TXON is set and DPOLL clear, as the chip polls.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/le.h"
#include "pcnet_internal.h"

#define PCNET_REVISION 0x10	 /* PCI Revision ID of the Am79C970A (1xh) */
#define PCNET_CHIP_ID 0x12621003u /* CSR89:CSR88: version 1, part 2621h, AMD (003h) */
#define PCNET_POLL_NS 1966000ull /* descriptor poll: 65536 clocks of a 33 MHz bus */
/* Descriptors one poll tick may walk on the I/O thread; a TDMD walks the whole ring on the
 * guest's own vCPU. A ring of 65536 descriptors that are all ours and none a frame start would
 * otherwise cost the I/O thread a full walk every tick. */
#define PCNET_POLL_BUDGET 256
#define PCNET_PHY_ADDR 1

/* Software Access: the I/O map in WIO and DWIO mode. */
#define IO_WIO_RDP 0x10
#define IO_WIO_RAP 0x12
#define IO_WIO_RESET 0x14
#define IO_WIO_BDP 0x16
#define IO_DWIO_RDP 0x10
#define IO_DWIO_RAP 0x14
#define IO_DWIO_RESET 0x18
#define IO_DWIO_BDP 0x1c

/* BCRs. */
#define BCR2_DEFAULT 0x0002 /* ASEL */
#define BCR2_APROMWE 0x0100
#define BCR4_LEDOUT 0x8000
#define BCR18_DWIO 0x0080
#define BCR18_DEFAULT 0x9001
#define BCR19_PVALID 0x8000
#define BCR20_SSIZE32 0x0100
#define BCR20_CSRPCNET 0x0200
#define BCR20_APERREN 0x0400
#define BCR22_DEFAULT 0xff06 /* MAX_LAT FFh, MIN_GNT 06h */

/* MII (IEEE 802.3 clause 22) registers of the PHY behind BCR33/BCR34. */
#define MII_BMCR 0
#define MII_BMSR 1
#define MII_PHYID1 2
#define MII_PHYID2 3
#define MII_ANAR 4
#define MII_ANLPAR 5
#define MII_ANER 6
#define BMCR_RESET 0x8000
#define BMCR_ANRESTART 0x0200
#define BMCR_DEFAULT 0x3100 /* 100 Mb/s, autonegotiation on, full duplex */
#define BMSR_CAPS 0x7809    /* 100TX FD/HD, 10 FD/HD, autonegotiation able, extended regs */
#define BMSR_ANEGCOMPLETE 0x0020
#define BMSR_LSTATUS 0x0004
#define ANAR_DEFAULT 0x01e1
#define ANLPAR_PARTNER 0x45e1 /* acknowledge, 100TX FD/HD, 10 FD/HD, 802.3 */

/* ---- interrupts ---- */

static bool intr_pending(const struct pcnet *s)
{
	uint16_t c4 = s->csr4, c5 = s->csr5;

	if (s->csr0 & CSR0_INT_FLAGS & ~s->csr3)
		return true;
	if (((c4 & CSR4_MFCO) && !(c4 & CSR4_MFCOM)) || (c4 & CSR4_UINT) ||
	    ((c4 & CSR4_RCVCCO) && !(c4 & CSR4_RCVCCOM)) ||
	    ((c4 & CSR4_TXSTRT) && !(c4 & CSR4_TXSTRTM)) || ((c4 & CSR4_JAB) && !(c4 & CSR4_JABM)))
		return true;
	return ((c5 & CSR5_SINT) && (c5 & CSR5_SINTE)) ||
	       ((c5 & CSR5_EXDINT) && (c5 & CSR5_EXDINTE)) ||
	       ((c5 & CSR5_MPINT) && (c5 & CSR5_MPINTE));
}

static uint16_t csr0_value(const struct pcnet *s)
{
	uint16_t v = s->csr0;

	if (v & (CSR0_BABL | CSR0_CERR | CSR0_MISS | CSR0_MERR))
		v |= CSR0_ERR;
	if (intr_pending(s))
		v |= CSR0_INTR;
	return v;
}

/* INTA follows INTR gated by IENA (CSR0). Called at the end of every locked section. */
static void irq_update(struct pcnet *s)
{
	bool level = (s->csr0 & CSR0_IENA) && intr_pending(s);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	pci_set_intx(&s->pci, level);
}

/* ---- polling and the backend's held frame ---- */

static bool poll_wanted(const struct pcnet *s)
{
	if (tx_active(s) && !(s->csr4 & CSR4_DPOLL))
		return true;
	return s->rx_blocked && rx_active(s);
}

static void poll_update(struct pcnet *s)
{
	if (s->poll_timer && poll_wanted(s) && !timer_pending(s->poll_timer))
		timer_mod(s->poll_timer, evloop_now_ns(s->loop) + PCNET_POLL_NS);
}

/* Ends a locked section: interrupt line, poll timer, and whether the backend is owed a kick. */
static bool unlock_and_settle(struct pcnet *s)
{
	bool kick = pcnet_rx_kick_due(s);

	irq_update(s);
	poll_update(s);
	pthread_mutex_unlock(&s->lock);
	return kick;
}

static void poll_fire(void *opaque)
{
	struct pcnet *s = opaque;

	pthread_mutex_lock(&s->lock);
	if (!(s->csr4 & CSR4_DPOLL))
		pcnet_tx_process(s, PCNET_POLL_BUDGET);
	if (unlock_and_settle(s) && s->be)
		net_backend_rx_ready(s->be);
}

static bool pcnet_receive(void *opaque, const struct iovec *iov, int iovcnt, size_t len)
{
	struct pcnet *s = opaque;
	bool taken;

	if (pthread_mutex_lock(&s->lock) == EDEADLK) {
		/* Our own transmit is on this stack (a backend that answers within send): the
		 * rings are mid-walk. The frame is held; the transmit's end delivers it. */
		s->rx_blocked = true;
		return false;
	}
	taken = pcnet_rx_from_backend(s, iov, iovcnt, len);
	if (unlock_and_settle(s) && s->be)
		net_backend_rx_ready(s->be);
	return taken;
}

/* ---- CSR0 commands ---- */

static void cmd_stop(struct pcnet *s)
{
	/* STOP clears every other CSR0 bit, the CSR4 interrupt flags and SPND; it keeps the
	 * ring registers (CSR72-78 "unaffected by setting the STOP bit"). */
	s->csr0 = CSR0_STOP;
	s->csr4 &= (uint16_t)~CSR4_W1C;
	s->csr5 &= (uint16_t)~CSR5_SPND;
	s->loop_len = 0;
}

/* Reads the initialization block at IADR: 24 bytes (SSIZE32 clear) or 28. */
static int init_block_read(struct pcnet *s)
{
	uint8_t ib[28];
	unsigned rlen, tlen;

	if (!s->bus_master)
		return -EFAULT;
	if (ssize32(s)) {
		if (gmem_read(s->gm, s->iadr, ib, 28) < 0)
			return -EFAULT;
		rlen = ib[2] >> 4;
		tlen = ib[3] >> 4;
		for (int i = 0; i < 3; i++)
			s->padr[i] = get16(ib + 4 + 2 * i);
		for (int i = 0; i < 4; i++)
			s->ladrf[i] = get16(ib + 12 + 2 * i);
		s->rdra = get32(ib + 20);
		s->tdra = get32(ib + 24);
		/* RLEN/TLEN above 9 select 512 descriptors. */
		rlen = rlen > 9 ? 9 : rlen;
		tlen = tlen > 9 ? 9 : tlen;
	} else {
		if (gmem_read(s->gm, s->iadr, ib, 24) < 0)
			return -EFAULT;
		for (int i = 0; i < 3; i++)
			s->padr[i] = get16(ib + 2 + 2 * i);
		for (int i = 0; i < 4; i++)
			s->ladrf[i] = get16(ib + 8 + 2 * i);
		s->rdra = dma_addr24(s, get16(ib + 16) | (uint32_t)ib[18] << 16);
		s->tdra = dma_addr24(s, get16(ib + 20) | (uint32_t)ib[22] << 16);
		rlen = ib[19] >> 5;
		tlen = ib[23] >> 5;
	}
	s->mode = get16(ib);
	s->csr6 = (uint16_t)(tlen << 12 | rlen << 8);
	s->rcvrl = (uint16_t)(0x10000u - (1u << rlen));
	s->xmtrl = (uint16_t)(0x10000u - (1u << tlen));
	s->rx_idx = 0;
	s->tx_idx = 0;
	return 0;
}

static void cmd_init(struct pcnet *s)
{
	s->csr0 &= (uint16_t)~CSR0_STOP;
	s->csr0 |= CSR0_INIT;
	if (init_block_read(s) < 0) {
		s->csr0 &= (uint16_t)~CSR0_INIT;
		dma_fault(s, 0);
		return;
	}
	s->csr0 |= CSR0_IDON;
}

static void cmd_start(struct pcnet *s)
{
	s->csr0 &= (uint16_t)~CSR0_STOP;
	s->csr0 |= CSR0_STRT;
	if (!(s->mode & MODE_DTX))
		s->csr0 |= CSR0_TXON;
	if (!(s->mode & MODE_DRX))
		s->csr0 |= CSR0_RXON;
	pcnet_tx_process(s, UINT32_MAX);
}

/*
 * CSR0 write: the status flags are write-one-to-clear; STOP wins over INIT and STRT; INIT and
 * STRT act when they go from 0 to 1 and then read back 1 until STOP; TDMD polls the transmit
 * ring now (and is dropped when TXON is clear). IENA is plain read/write.
 */
static void csr0_write(struct pcnet *s, uint16_t v)
{
	s->csr0 &= (uint16_t)~(v & CSR0_W1C);
	if (v & CSR0_STOP) {
		cmd_stop(s);
		return;
	}
	s->csr0 = (uint16_t)((s->csr0 & ~CSR0_IENA) | (v & CSR0_IENA));
	if ((v & CSR0_INIT) && !(s->csr0 & CSR0_INIT))
		cmd_init(s);
	if ((v & CSR0_STRT) && !(s->csr0 & CSR0_STRT))
		cmd_start(s);
	if (v & CSR0_TDMD)
		pcnet_tx_process(s, UINT32_MAX);
}

static void csr5_write(struct pcnet *s, uint16_t v)
{
	bool was_suspended = s->csr5 & CSR5_SPND;

	s->csr5 &= (uint16_t)~(v & CSR5_W1C);
	s->csr5 = (uint16_t)((s->csr5 & CSR5_W1C) | (v & CSR5_WMASK));
	/* SPND: with no FIFOs the chip is suspended at once and reads SPND back as 1. Leaving
	 * suspend resumes the transmit walk. */
	if (was_suspended && !(s->csr5 & CSR5_SPND))
		pcnet_tx_process(s, UINT32_MAX);
}

static void csr4_write(struct pcnet *s, uint16_t v)
{
	s->csr4 &= (uint16_t)~(v & CSR4_W1C);
	s->csr4 = (uint16_t)((s->csr4 & CSR4_W1C) | (v & CSR4_WMASK));
	if (v & CSR4_UINTCMD)
		s->csr4 |= CSR4_UINT; /* user interrupt command */
}

/* CSR72/CSR74 count down to 0 at the last descriptor. */
static uint16_t ring_counter(const struct pcnet *s, enum ring r)
{
	return (uint16_t)(ring_len(s, r) - 1 - ring_index(s, r));
}

static uint32_t ring_index_from_counter(const struct pcnet *s, enum ring r, uint16_t v)
{
	uint32_t len = ring_len(s, r);

	return v < len ? len - 1 - v : 0;
}

static uint16_t bcr20_value(const struct pcnet *s)
{
	uint16_t v = s->swstyle;

	if (ssize32(s))
		v |= BCR20_SSIZE32;
	if (sw_style(s) != 1)
		v |= BCR20_CSRPCNET;
	return v;
}

static uint16_t csr_read(struct pcnet *s, unsigned n)
{
	switch (n) {
	case 0:
		return csr0_value(s);
	case 1:
	case 16:
		return (uint16_t)s->iadr;
	case 2:
	case 17:
		return (uint16_t)(s->iadr >> 16);
	case 3:
		return s->csr3;
	case 4:
		return s->csr4;
	case 5:
		return s->csr5;
	case 6:
		return s->csr6;
	case 8 ... 11:
		return s->ladrf[n - 8];
	case 12 ... 14:
		return s->padr[n - 12];
	case 15:
		return s->mode;
	case 24:
		return (uint16_t)s->rdra;
	case 25:
		return (uint16_t)(s->rdra >> 16);
	case 28:
		return (uint16_t)pcnet_desc_gpa(s, RING_RX, ring_index(s, RING_RX));
	case 29:
		return (uint16_t)(pcnet_desc_gpa(s, RING_RX, ring_index(s, RING_RX)) >> 16);
	case 30:
		return (uint16_t)s->tdra;
	case 31:
		return (uint16_t)(s->tdra >> 16);
	case 34:
		return (uint16_t)pcnet_desc_gpa(s, RING_TX, ring_index(s, RING_TX));
	case 35:
		return (uint16_t)(pcnet_desc_gpa(s, RING_TX, ring_index(s, RING_TX)) >> 16);
	case 47:
		return s->csr47;
	case 58:
		return bcr20_value(s);
	case 72:
		return ring_counter(s, RING_RX);
	case 74:
		return ring_counter(s, RING_TX);
	case 76:
		return s->rcvrl;
	case 78:
		return s->xmtrl;
	case 80:
		return s->csr80;
	case 82:
		return s->csr82;
	case 88:
		return (uint16_t)PCNET_CHIP_ID;
	case 89:
		return (uint16_t)(PCNET_CHIP_ID >> 16);
	case 100:
		return s->csr100;
	case 112:
		return s->missed;
	case 122:
		return s->csr122;
	case 124:
		return s->csr124;
	default:
		return 0;
	}
}

static void set_swstyle(struct pcnet *s, uint16_t v)
{
	s->swstyle = v & (0xff | BCR20_APERREN);
}

/* CSRs the datasheet makes writable only with STOP set (IADR, ring bases, CSR58, timers). */
static void csr_write_stopped(struct pcnet *s, unsigned n, uint16_t v)
{
	switch (n) {
	case 1:
	case 16:
		s->iadr = (s->iadr & 0xffff0000u) | v;
		break;
	case 2:
	case 17:
		s->iadr = (s->iadr & 0xffffu) | (uint32_t)v << 16;
		break;
	case 24:
		s->rdra = (s->rdra & 0xffff0000u) | v;
		break;
	case 25:
		s->rdra = (s->rdra & 0xffffu) | (uint32_t)v << 16;
		break;
	case 30:
		s->tdra = (s->tdra & 0xffff0000u) | v;
		break;
	case 31:
		s->tdra = (s->tdra & 0xffffu) | (uint32_t)v << 16;
		break;
	case 47:
		s->csr47 = v;
		break;
	case 58:
		set_swstyle(s, v);
		break;
	case 80:
		s->csr80 = v;
		break;
	case 82:
		s->csr82 = v;
		break;
	case 100:
		s->csr100 = v;
		break;
	case 122:
		s->csr122 = v & 0x0001;
		break;
	case 124:
		s->csr124 = v & 0x0018;
		break;
	default:
		break;
	}
}

/* CSRs writable with STOP or SPND set: the filter, the mode, the ring counters and lengths. */
static void csr_write_quiet(struct pcnet *s, unsigned n, uint16_t v)
{
	switch (n) {
	case 8 ... 11:
		s->ladrf[n - 8] = v;
		break;
	case 12 ... 14:
		s->padr[n - 12] = v;
		break;
	case 15:
		s->mode = v;
		break;
	case 72:
		s->rx_idx = ring_index_from_counter(s, RING_RX, v);
		break;
	case 74:
		s->tx_idx = ring_index_from_counter(s, RING_TX, v);
		break;
	case 76:
		s->rcvrl = v;
		s->rx_idx %= ring_len(s, RING_RX);
		break;
	case 78:
		s->xmtrl = v;
		s->tx_idx %= ring_len(s, RING_TX);
		break;
	case 112:
		s->missed = v;
		break;
	default:
		break;
	}
}

static void csr_write(struct pcnet *s, unsigned n, uint16_t v)
{
	bool stopped = s->csr0 & CSR0_STOP;

	switch (n) {
	case 0:
		csr0_write(s, v);
		return;
	case 3:
		s->csr3 = v & CSR3_WMASK;
		return;
	case 4:
		csr4_write(s, v);
		return;
	case 5:
		csr5_write(s, v);
		return;
	default:
		break;
	}
	if (stopped)
		csr_write_stopped(s, n, v);
	if (stopped || (s->csr5 & CSR5_SPND))
		csr_write_quiet(s, n, v);
}

/* ---- MII PHY (BCR32-34) ---- */

static uint16_t mii_read(const struct pcnet *s, unsigned phy, unsigned reg)
{
	bool link = link_up(s);

	if (phy != PCNET_PHY_ADDR)
		return 0xffff; /* nobody drives MDIO: the pull-up reads as all ones */
	switch (reg) {
	case MII_BMCR:
		return s->phy_bmcr;
	case MII_BMSR:
		return BMSR_CAPS | (link ? BMSR_LSTATUS | BMSR_ANEGCOMPLETE : 0);
	case MII_PHYID1:
		return 0x0022; /* an AMD OUI PHY (Am79C874 NetPHY-1LP identifier) */
	case MII_PHYID2:
		return 0x561b;
	case MII_ANAR:
		return s->phy_anar;
	case MII_ANLPAR:
		return link ? ANLPAR_PARTNER : 0;
	case MII_ANER:
		return link ? 0x0001 : 0;
	default:
		return 0;
	}
}

static void mii_write(struct pcnet *s, unsigned phy, unsigned reg, uint16_t v)
{
	if (phy != PCNET_PHY_ADDR)
		return;
	if (reg == MII_BMCR) {
		if (v & BMCR_RESET) {
			s->phy_bmcr = BMCR_DEFAULT;
			s->phy_anar = ANAR_DEFAULT;
			return;
		}
		s->phy_bmcr = v & (uint16_t)~(BMCR_RESET | BMCR_ANRESTART); /* self-clearing */
	} else if (reg == MII_ANAR) {
		s->phy_anar = (uint16_t)((v & 0x3fe0) | 0x0001); /* selector: 802.3 */
	}
}

/* ---- BCRs ---- */

static uint16_t bcr_read(struct pcnet *s, unsigned n)
{
	switch (n) {
	case 0:
	case 1:
		return 0x0005; /* MSRDA, MSWRA: reserved, read as 5 */
	case 2:
		return s->bcr2;
	case 4:
		/* LEDOUT follows the enabled status signals: the link (LNKSTE, bit 6). */
		return (uint16_t)(s->bcr4 | ((s->bcr4 & 0x0040) && link_up(s) ? BCR4_LEDOUT : 0));
	case 5:
		return s->bcr5;
	case 6:
		return s->bcr6;
	case 7:
		return s->bcr7;
	case 9:
		return s->bcr9;
	case 18:
		return (uint16_t)(s->bcr18 | (s->dwio ? BCR18_DWIO : 0));
	case 19:
		return BCR19_PVALID;
	case 20:
		return bcr20_value(s);
	case 22:
		return s->bcr22;
	case 32:
		return s->bcr32;
	case 33:
		return s->bcr33;
	case 34:
		return mii_read(s, (s->bcr33 >> 5) & 0x1f, s->bcr33 & 0x1f);
	default:
		return 0;
	}
}

static void bcr_write(struct pcnet *s, unsigned n, uint16_t v)
{
	bool stopped = s->csr0 & CSR0_STOP;

	switch (n) {
	case 2:
		s->bcr2 = v;
		break;
	case 4:
		s->bcr4 = v & (uint16_t)~BCR4_LEDOUT;
		break;
	case 5:
		s->bcr5 = v & (uint16_t)~BCR4_LEDOUT;
		break;
	case 6:
		s->bcr6 = v & (uint16_t)~BCR4_LEDOUT;
		break;
	case 7:
		s->bcr7 = v & (uint16_t)~BCR4_LEDOUT;
		break;
	case 9:
		s->bcr9 = v & 0x0007; /* FDEN, AUIFD, FDRPAD */
		break;
	case 18:
		s->bcr18 = v & (uint16_t)~BCR18_DWIO;
		break;
	case 20:
		if (stopped)
			set_swstyle(s, v);
		break;
	case 22:
		if (stopped)
			s->bcr22 = v;
		break;
	case 32:
		s->bcr32 = v;
		break;
	case 33:
		s->bcr33 = v & 0x03ff; /* PHYAD, REGAD */
		break;
	case 34:
		mii_write(s, (s->bcr33 >> 5) & 0x1f, s->bcr33 & 0x1f, v);
		break;
	default:
		break;
	}
}

/* ---- resets ---- */

static void prom_load(struct pcnet *s)
{
	uint16_t sum = 0;

	memset(s->prom, 0, sizeof(s->prom));
	memcpy(s->prom, s->mac, ETH_ALEN);
	s->prom[14] = 'W';
	s->prom[15] = 'W';
	/* Bytes 12-13: the 16-bit sum of bytes 0-11 and 14-15. */
	for (int i = 0; i < PCNET_PROM_SIZE; i++)
		if (i != 12 && i != 13)
			sum = (uint16_t)(sum + s->prom[i]);
	put16(s->prom + 12, sum);
}

/* S_RESET (a read of RESET): the CSRs to their reset values, SWSTYLE to 0. DWIO, the BCRs and
 * the PCI configuration stay. */
static void soft_reset(struct pcnet *s)
{
	s->rap = 0;
	s->csr0 = CSR0_STOP;
	s->csr3 = 0;
	s->csr4 = CSR4_DEFAULT;
	s->csr5 = 0;
	s->csr47 = 0;
	s->csr80 = 0x2810;
	s->csr82 = 0;
	s->csr100 = 0x0600;
	s->csr122 = 0;
	s->csr124 = 0;
	s->missed = 0;
	s->swstyle = 0;
	s->loop_len = 0;
}

/* H_RESET: everything, as after power-up with a valid EEPROM. */
static void hard_reset(struct pcnet *s)
{
	soft_reset(s);
	s->dwio = false;
	prom_load(s);
	for (int i = 0; i < 3; i++)
		s->padr[i] = get16(s->mac + 2 * i);
	memset(s->ladrf, 0, sizeof(s->ladrf));
	s->mode = 0;
	s->iadr = 0;
	s->rdra = 0;
	s->tdra = 0;
	s->csr6 = 0;
	s->rcvrl = 0xffff; /* one descriptor until an initialization */
	s->xmtrl = 0xffff;
	s->rx_idx = 0;
	s->tx_idx = 0;
	s->bcr2 = BCR2_DEFAULT;
	s->bcr4 = 0x00c0;
	s->bcr5 = 0x0084;
	s->bcr6 = 0x0088;
	s->bcr7 = 0x0090;
	s->bcr9 = 0;
	s->bcr18 = BCR18_DEFAULT;
	s->bcr22 = BCR22_DEFAULT;
	s->bcr32 = 0;
	s->bcr33 = 0;
	s->phy_bmcr = BMCR_DEFAULT;
	s->phy_anar = ANAR_DEFAULT;
}

/* ---- I/O resources ---- */

static uint64_t prom_read(const struct pcnet *s, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	if (off + size > PCNET_PROM_SIZE)
		return ~0ull;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)s->prom[off + i] << (8 * i);
	return v;
}

/* The PROM is a shadow RAM loaded from the EEPROM, writable with BCR2 APROMWE. */
static void prom_write(struct pcnet *s, uint64_t off, unsigned size, uint64_t v)
{
	if (off + size > PCNET_PROM_SIZE || !(s->bcr2 & BCR2_APROMWE))
		return;
	for (unsigned i = 0; i < size; i++)
		s->prom[off + i] = (uint8_t)(v >> (8 * i));
}

/* Software Access: word accesses at 10h-17h in WIO mode, dword accesses at 10h-1Fh in DWIO
 * mode; other sizes there are ignored (read as all ones). The PROM takes any size. */
static uint64_t io_read(struct pcnet *s, uint64_t off, unsigned size)
{
	if (off < PCNET_PROM_SIZE)
		return prom_read(s, off, size);
	if (s->dwio && size == 4) {
		switch (off) {
		case IO_DWIO_RDP:
			return csr_read(s, s->rap);
		case IO_DWIO_RAP:
			return s->rap;
		case IO_DWIO_RESET:
			soft_reset(s);
			return 0;
		case IO_DWIO_BDP:
			return bcr_read(s, s->rap);
		default:
			return ~0ull;
		}
	}
	if (s->dwio || size != 2)
		return ~0ull;
	switch (off) {
	case IO_WIO_RDP:
		return csr_read(s, s->rap);
	case IO_WIO_RAP:
		return s->rap;
	case IO_WIO_RESET:
		soft_reset(s);
		return 0;
	case IO_WIO_BDP:
		return bcr_read(s, s->rap);
	default:
		return ~0ull;
	}
}

static void io_write(struct pcnet *s, uint64_t off, unsigned size, uint64_t v)
{
	if (off < PCNET_PROM_SIZE) {
		prom_write(s, off, size, v);
		return;
	}
	/* A dword write to RDP enters DWIO mode; only H_RESET leaves it. */
	if (!s->dwio && size == 4 && off == IO_DWIO_RDP)
		s->dwio = true;
	if (s->dwio) {
		if (size != 4)
			return;
		if (off == IO_DWIO_RDP)
			csr_write(s, s->rap, (uint16_t)v);
		else if (off == IO_DWIO_RAP)
			s->rap = (uint16_t)(v & 0xff);
		else if (off == IO_DWIO_BDP)
			bcr_write(s, s->rap, (uint16_t)v);
		return;
	}
	if (size != 2)
		return;
	if (off == IO_WIO_RDP)
		csr_write(s, s->rap, (uint16_t)v);
	else if (off == IO_WIO_RAP)
		s->rap = (uint16_t)(v & 0xff);
	else if (off == IO_WIO_BDP)
		bcr_write(s, s->rap, (uint16_t)v);
}

/* The I/O BAR and the memory BAR decode the same 32 bytes. */
static uint64_t pcnet_bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct pcnet *s = opaque;
	uint64_t v;

	pthread_mutex_lock(&s->lock);
	v = io_read(s, off, size);
	if (unlock_and_settle(s) && s->be)
		net_backend_rx_ready(s->be);
	return v;
}

static void pcnet_bar_write(void *opaque, uint64_t off, unsigned size, uint64_t v)
{
	struct pcnet *s = opaque;

	pthread_mutex_lock(&s->lock);
	io_write(s, off, size, v);
	if (unlock_and_settle(s) && s->be)
		net_backend_rx_ready(s->be);
}

/* Called with the PCI bus lock held on configuration writes: mirrors bus mastering. */
static void pcnet_cfg_write(struct pci_device *dev, unsigned off, unsigned size, uint32_t v)
{
	struct pcnet *s = dev->opaque;
	bool master = dev->cfg[PCI_COMMAND] & PCI_COMMAND_MASTER;

	(void)off;
	(void)size;
	(void)v;
	pthread_mutex_lock(&s->lock);
	s->bus_master = master;
	pthread_mutex_unlock(&s->lock);
}

/* ---- life cycle ---- */

static void pci_identity(struct pcnet *s)
{
	struct pci_device *dev = &s->pci;

	pci_device_init(dev, "pcnet", PCNET_VENDOR_ID, PCNET_DEVICE_ID, 0x020000, PCNET_REVISION);
	put16(dev->cfg + PCI_STATUS, 0x0280); /* fast back-to-back capable, medium DEVSEL */
	put16(dev->cfg + PCI_SUBSYSTEM_VENDOR_ID, PCNET_VENDOR_ID);
	put16(dev->cfg + PCI_SUBSYSTEM_ID, PCNET_DEVICE_ID);
	dev->cfg[0x3e] = (uint8_t)BCR22_DEFAULT;	/* MIN_GNT */
	dev->cfg[0x3f] = (uint8_t)(BCR22_DEFAULT >> 8); /* MAX_LAT */
	dev->opaque = s;
	dev->cfg_write_hook = pcnet_cfg_write;
	pci_set_interrupt_pin(dev, 1);
}

struct pcnet *pcnet_create(struct evloop *loop, const struct gmem *gm, struct net_backend *be,
			   const uint8_t mac[6])
{
	pthread_mutexattr_t attr;
	struct pcnet *s;

	if (!loop || !gm || !mac || (mac[0] & 1))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->poll_timer = timer_new(loop, poll_fire, s);
	if (!s->poll_timer) {
		free(s);
		return NULL;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&s->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	s->loop = loop;
	s->gm = gm;
	s->be = be;
	memcpy(s->mac, mac, ETH_ALEN);
	pcnet_crc_table_init(s->crc_table);
	pci_identity(s);
	pci_bar_define(&s->pci, 0, PCI_BAR_IO, PCNET_IO_SIZE, pcnet_bar_read, pcnet_bar_write, s);
	pci_bar_define(&s->pci, 1, PCI_BAR_MEM32, PCNET_MMIO_SIZE, pcnet_bar_read,
		       pcnet_bar_write, s);
	hard_reset(s);
	if (be)
		net_backend_set_receiver(be, pcnet_receive, s);
	return s;
}

int pcnet_attach(struct pcnet *nic, struct pci_bus *pci, int slot)
{
	return pci_device_add(pci, &nic->pci, slot, 0);
}

void pcnet_reset(struct pcnet *nic)
{
	pthread_mutex_lock(&nic->lock);
	hard_reset(nic);
	if (unlock_and_settle(nic) && nic->be)
		net_backend_rx_ready(nic->be);
}

void pcnet_destroy(struct pcnet *nic)
{
	if (!nic)
		return;
	if (nic->be)
		net_backend_set_receiver(nic->be, NULL, NULL);
	timer_del(nic->poll_timer);
	timer_free(nic->poll_timer);
	pthread_mutex_destroy(&nic->lock);
	free(nic);
}

struct pci_device *pcnet_pci(struct pcnet *nic)
{
	return &nic->pci;
}
