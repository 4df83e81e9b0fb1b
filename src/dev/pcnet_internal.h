/*
 * Internals of the Am79C970A PCnet-PCI II model shared by src/dev/pcnet.c (registers, commands,
 * resets, the PCI function) and src/dev/pcnet_ring.c (descriptor rings, transmit, receive, the
 * address filter). Not a public interface: include/hostvisor/pcnet.h is.
 */
#ifndef HOSTVISOR_DEV_PCNET_INTERNAL_H
#define HOSTVISOR_DEV_PCNET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "hostvisor/pcnet.h"

#define PCNET_PROM_SIZE 16
#define PCNET_MAX_FRAME 4095 /* longest frame with FCS: MCNT is 12 bits */
#define PCNET_MIN_FRAME 60   /* shortest frame without FCS */
#define PCNET_FCS_LEN 4
#define PCNET_TX_IOV (PCNET_MAX_FRAME + 2) /* at most one entry per byte, plus the pad */

/* CSR0: Controller Status and Control Register. */
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
#define CSR0_CERR 0x2000
#define CSR0_BABL 0x4000
#define CSR0_ERR 0x8000
#define CSR0_W1C (CSR0_BABL | CSR0_CERR | CSR0_MISS | CSR0_MERR | CSR0_RINT | CSR0_TINT | CSR0_IDON)
/* The interrupt flags; CSR3 holds their masks at the same bit positions. */
#define CSR0_INT_FLAGS (CSR0_BABL | CSR0_MISS | CSR0_MERR | CSR0_RINT | CSR0_TINT | CSR0_IDON)

/* CSR3: Interrupt Masks and Deferral Control. */
#define CSR3_DXSUFLO 0x0040
#define CSR3_WMASK 0x5f7c

/* CSR4: Test and Features Control. */
#define CSR4_DPOLL 0x1000
#define CSR4_APAD_XMT 0x0800
#define CSR4_MFCO 0x0200
#define CSR4_MFCOM 0x0100
#define CSR4_UINTCMD 0x0080
#define CSR4_UINT 0x0040
#define CSR4_RCVCCO 0x0020
#define CSR4_RCVCCOM 0x0010
#define CSR4_TXSTRT 0x0008
#define CSR4_TXSTRTM 0x0004
#define CSR4_JAB 0x0002
#define CSR4_JABM 0x0001
#define CSR4_W1C (CSR4_MFCO | CSR4_UINT | CSR4_RCVCCO | CSR4_TXSTRT | CSR4_JAB)
#define CSR4_WMASK 0x7d15
#define CSR4_DEFAULT 0x0115

/* CSR5: Extended Control and Interrupt. */
#define CSR5_TOKINTD 0x8000
#define CSR5_LTINTEN 0x4000
#define CSR5_SINT 0x0800
#define CSR5_SINTE 0x0400
#define CSR5_EXDINT 0x0080
#define CSR5_EXDINTE 0x0040
#define CSR5_MPINT 0x0010
#define CSR5_MPINTE 0x0008
#define CSR5_SPND 0x0001
#define CSR5_W1C (CSR5_SINT | CSR5_EXDINT | CSR5_MPINT)
#define CSR5_WMASK 0xc46f

/* CSR15: Mode. */
#define MODE_PROM 0x8000
#define MODE_DRCVBC 0x4000
#define MODE_DRCVPA 0x2000
#define MODE_INTL 0x0040
#define MODE_DXMTFCS 0x0008
#define MODE_LOOP 0x0004
#define MODE_DTX 0x0002
#define MODE_DRX 0x0001

enum ring { RING_RX, RING_TX };

struct pcnet {
	/* Error-checking: a receive from inside our own transmit gets EDEADLK, not a hang. */
	pthread_mutex_t lock;
	struct pci_device pci;
	struct evloop *loop;
	const struct gmem *gm;
	struct net_backend *be;
	struct timer *poll_timer;
	uint8_t mac[ETH_ALEN]; /* what the EEPROM holds */

	/* Software Access. */
	uint8_t prom[PCNET_PROM_SIZE];
	bool dwio;
	uint16_t rap;
	bool bus_master; /* PCI command BMEN, mirrored by the config hook */
	bool irq_level;

	/* CSRs with meaning; the rest read as zero. */
	uint16_t csr0; /* without ERR and INTR, which are computed */
	uint32_t iadr; /* CSR1, CSR2 */
	uint16_t csr3, csr4, csr5, csr6;
	uint16_t ladrf[4]; /* CSR8-11 */
	uint16_t padr[3];  /* CSR12-14 */
	uint16_t mode;	   /* CSR15 */
	uint32_t rdra;	   /* CSR24-25 */
	uint32_t tdra;	   /* CSR30-31 */
	uint16_t csr47, csr80, csr82, csr100, csr122, csr124;
	uint16_t rcvrl, xmtrl; /* CSR76, CSR78: two's complement of the ring lengths */
	uint16_t missed;       /* CSR112 */
	uint32_t rx_idx, tx_idx; /* current descriptor, from the ring start */

	/* BCRs. */
	uint16_t bcr2, bcr4, bcr5, bcr6, bcr7, bcr9, bcr18, bcr22, bcr32, bcr33;
	uint16_t swstyle; /* BCR20 bits 7-0 plus APERREN */
	uint16_t phy_bmcr, phy_anar;

	/* The backend holds a frame we refused; we owe it a net_backend_rx_ready(). */
	bool rx_blocked;

	uint32_t crc_table[256];
	struct iovec tx_iov[PCNET_TX_IOV];
	uint8_t pad_zeros[PCNET_MIN_FRAME];
	uint8_t loop_buf[PCNET_MAX_FRAME];
	size_t loop_len; /* a staged internal loopback frame, 0 when none */
	uint64_t tx_oversize, rx_oversize;
};

/* SWSTYLE 0 (LANCE, 16-bit), 1 (ILACC), 2 (PCnet-PCI), 3 (PCnet-PCI, swapped); the reserved
 * values act as 0. */
static inline unsigned sw_style(const struct pcnet *s)
{
	unsigned st = s->swstyle & 0xff;

	return st <= 3 ? st : 0;
}

/* SSIZE32: 32-bit initialization block and descriptors. */
static inline bool ssize32(const struct pcnet *s)
{
	return sw_style(s) != 0;
}

/* With SSIZE32 clear every bus master address is 24 bits from the structures with IADR[31:24]
 * (CSR2 bits 15-8) on top (CSR2 description). */
static inline uint32_t dma_addr24(const struct pcnet *s, uint32_t a)
{
	return (a & 0x00ffffffu) | (s->iadr & 0xff000000u);
}

static inline uint32_t ring_len_of(uint16_t reg)
{
	return reg ? 0x10000u - reg : 0x10000u;
}

static inline uint32_t ring_len(const struct pcnet *s, enum ring r)
{
	return ring_len_of(r == RING_RX ? s->rcvrl : s->xmtrl);
}

static inline uint32_t ring_index(const struct pcnet *s, enum ring r)
{
	return (r == RING_RX ? s->rx_idx : s->tx_idx) % ring_len(s, r);
}

/* A PCI master abort: MERR, and the channel that hit it halts. */
static inline void dma_fault(struct pcnet *s, uint16_t halt)
{
	s->csr0 |= CSR0_MERR;
	s->csr0 &= (uint16_t)~halt;
}

static inline bool rx_active(const struct pcnet *s)
{
	return (s->csr0 & CSR0_RXON) && !(s->csr5 & CSR5_SPND);
}

static inline bool tx_active(const struct pcnet *s)
{
	return (s->csr0 & CSR0_TXON) && !(s->csr5 & CSR5_SPND);
}

static inline bool internal_loopback(const struct pcnet *s)
{
	return (s->mode & (MODE_LOOP | MODE_INTL)) == (MODE_LOOP | MODE_INTL);
}

static inline bool link_up(const struct pcnet *s)
{
	return s->be && net_backend_link_up(s->be);
}

/* pcnet_ring.c */
void pcnet_crc_table_init(uint32_t *table);
uint32_t pcnet_desc_gpa(const struct pcnet *s, enum ring r, uint32_t idx);
/* Walks the transmit ring from the current descriptor, at most once around and at most
 * budget descriptors. */
void pcnet_tx_process(struct pcnet *s, uint32_t budget);
/* A frame from the network: true if it is consumed (taken or lost), false to have it held. */
bool pcnet_rx_from_backend(struct pcnet *s, const struct iovec *iov, int iovcnt, size_t len);
/* True when the backend should be told to deliver again: it holds a frame and the current
 * receive descriptor is ours now. Call net_backend_rx_ready() after unlocking. */
bool pcnet_rx_kick_due(struct pcnet *s);

#endif
