/*
 * The AMD PCnet-PCI II (Am79C970A) driven the way Linux's pcnet32 driver drives it, from the
 * Am79C970A datasheet (AMD publication 19436): find it on PCI (1022:2000), enable I/O decoding and
 * bus mastering, read the MAC from the address PROM, reset, switch to 32-bit I/O (DWIO) and to
 * software style 2 (32-bit descriptors and initialization block), initialize, start, then:
 *   TX: N data frames to the peer on the TAP (tests/guests/pcnet_peer.py), several in flight,
 *       descriptors reused as the card completes them;
 *   RX: M data frames from the peer, each checked byte for byte (and its FCS), descriptors given
 *       back to the card; the peer keeps at most a window of frames unacknowledged, and the
 *       guest acknowledges every ACK_EVERY frames, so the RX ring cannot overflow.
 * Frames follow lib/pcnet_frame.h. Options: tx=N rx=M (default 10000 each), mac=0xXXXXXXXXXXXX
 * (the MAC the address PROM must hold, unchecked if absent), timeout=SECONDS (default 120),
 * fcs=1 (each received frame must end in its correct FCS, which MCNT counts when ASTRP_RCV is
 * off: datasheet RMD2 MCNT, CSR4 ASTRP_RCV; QEMU 7.2 stores no valid FCS, so this is opt-in).
 *
 * Interrupts: 8259 mode (vectors 0x20-0x2f, LAPIC LVT0 ExtINT as in pit.c) on the IRQ of the PCI
 * Interrupt Line register, level-triggered through the ELCR. The ring-0 handler (pcnet_isr)
 * counts, writes CSR0 = 0 (INEA off: INTA deasserts, so the level-triggered line does not fire
 * again at once) and sends the EOI. Ring 3 sees the count change, then does what pcnet32's
 * interrupt handler does: read CSR0, write it back with INIT/STRT/STOP/TDMD/INEA masked off
 * (the status bits are write-1-to-clear, datasheet CSR0), walk the rings, and write INEA (with
 * TDMD when it queued frames, as pcnet32's start_xmit writes INEA|TDMD). Everything but the
 * handler runs at ring 3; RAP stays 0 once the card runs, so each CSR0 access is one port access.
 */
#include "guest.h"
#include "pcnet_frame.h"

const char guest_name[] = "pcnet";

/* PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2). */
#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc
#define PCI_COMMAND 0x04
#define PCI_BAR0 0x10
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_COMMAND_IO 0x01
#define PCI_COMMAND_MASTER 0x04
#define PCNET_VENDOR_DEVICE 0x20001022u

/* I/O resources in DWIO mode (datasheet "I/O Resources", Table "I/O Map In DWIO Mode"). */
#define APROM 0x00
#define WIO_RDP 0x10
#define WIO_RAP 0x12
#define WIO_RESET 0x14
#define DWIO_RDP 0x10
#define DWIO_RAP 0x14
#define DWIO_RESET 0x18
#define DWIO_BDP 0x1c

/* CSR0, controller status (datasheet CSR0). */
#define CSR0_INIT 0x0001
#define CSR0_STRT 0x0002
#define CSR0_STOP 0x0004
#define CSR0_TDMD 0x0008
#define CSR0_TXON 0x0010
#define CSR0_RXON 0x0020
#define CSR0_INEA 0x0040
#define CSR0_IDON 0x0100
#define CSR0_CERR 0x2000
#define CSR0_MISS 0x1000
#define CSR0_MERR 0x0800
#define CSR0_BABL 0x4000
/* What pcnet32 masks off when it writes CSR0 back to acknowledge (INIT STRT STOP TDMD INEA). */
#define CSR0_ACK_KEEP (~0x004fu & 0xffffu)

#define CSR3_DEFAULT 0x0000 /* all interrupts unmasked, as pcnet32 leaves CSR3 */
/* CSR4: APAD_XMT | MFCOM | RCVCCOM | TXSTRTM | JABM, pcnet32's "auto tx pad" value. */
#define CSR4_PCNET32 0x0915
#define BCR20_SWSTYLE2 0x0002 /* 32-bit structures, PCnet-PCI descriptors */
#define BCR20_SSIZE32 0x0100
#define CHIP_ID_AM79C970A 0x2621

/* Descriptors in software style 2 (datasheet "Software Style 2 Descriptors"). */
#define DESC_OWN 0x80000000u
#define DESC_ERR 0x40000000u
#define DESC_STP 0x02000000u
#define DESC_ENP 0x01000000u
#define DESC_ONES 0x0000f000u
#define DESC_BCNT 0x00000fffu
#define RMD2_MCNT 0x00000fffu
#define FCS_LEN 4

#define RING_LOG2 4
#define RING (1u << RING_LOG2)
#define BUF_SIZE 1536
#define ACK_EVERY 4
#define POLL_US 20000u	 /* no interrupt for this long: look at the rings anyway */
#define IDLE_LIMIT_S 10u /* no progress at all for this long: give up */
#define IDON_TIMEOUT_US 1000000u
#define STORM_LIMIT 10000u

#define VEC_PIC 0x20
#define VEC_SPURIOUS 0xff
#define LVT_EXTINT 0x700u
#define ELCR 0x4d0

struct pcnet_desc {
	uint32_t base; /* TMD0 / RMD0: buffer address */
	uint32_t ctl;  /* TMD1 / RMD1: OWN, status, BCNT */
	uint32_t misc; /* TMD2 errors / RMD2 MCNT */
	uint32_t user; /* TMD3 / RMD3: for the driver */
};

/* Initialization block with SSIZE32 = 1 (datasheet "Initialization Block", 28 bytes). */
struct pcnet_init_block {
	uint16_t mode;
	uint8_t rlen; /* bits 7:4: log2 of the RX ring length */
	uint8_t tlen; /* bits 7:4: log2 of the TX ring length */
	uint8_t padr[6];
	uint16_t reserved;
	uint32_t ladrf[2];
	uint32_t rdra;
	uint32_t tdra;
};

static volatile struct pcnet_desc tx_ring[RING] __attribute__((aligned(16)));
static volatile struct pcnet_desc rx_ring[RING] __attribute__((aligned(16)));
static uint8_t tx_buf[RING][BUF_SIZE] __attribute__((aligned(16)));
static uint8_t rx_buf[RING][BUF_SIZE] __attribute__((aligned(16)));
static struct pcnet_init_block init_block __attribute__((aligned(16)));
static uint8_t pool[PF_POOL_SIZE + PF_MAX_LEN];
static uint32_t crc_table[256];
static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Shared with the ring-0 handler below. */
volatile uint64_t pcnet_isr_count;
volatile uint64_t pcnet_isr_limit; /* a storm: the handler masks both 8259s at this count */
volatile uint16_t pcnet_isr_rdp;
volatile uint8_t pcnet_isr_slave;
void pcnet_isr(void);

/*
 * Ring 0, interrupt gate (IF clear). Kept to a dozen instructions: each costs ~2 us on PVM.
 * CSR0 = 0 turns INEA off (the status bits are write-1-to-clear, zeros leave them), which drops
 * INTA before the EOI; RAP is 0 whenever INEA is set. IRQ 8-15 sit on the slave 8259: EOI it first.
 * A device that keeps INTA asserted anyway would re-interrupt at once and starve ring 3 for
 * ever; after STORM_LIMIT interrupts that ring 3 has not seen, the handler masks the 8259s so that
 * the guest can report it.
 */
__asm__(".pushsection .text\n"
	".globl pcnet_isr\n"
	"pcnet_isr:\n"
	"	pushq %rax\n"
	"	pushq %rdx\n"
	"	lock incq pcnet_isr_count(%rip)\n"
	"	movzwl pcnet_isr_rdp(%rip), %edx\n"
	"	xorl %eax, %eax\n"
	"	outl %eax, %dx\n"
	"	movq pcnet_isr_count(%rip), %rax\n"
	"	cmpq pcnet_isr_limit(%rip), %rax\n"
	"	jb 2f\n"
	"	movb $0xff, %al\n"
	"	outb %al, $0xa1\n"
	"	outb %al, $0x21\n"
	"2:	movb $0x20, %al\n"
	"	cmpb $0, pcnet_isr_slave(%rip)\n"
	"	je 1f\n"
	"	outb %al, $0xa0\n"
	"1:	outb %al, $0x20\n"
	"	popq %rdx\n"
	"	popq %rax\n"
	"	iretq\n"
	".popsection\n");

struct nic {
	uint16_t io;
	uint8_t irq;
	uint8_t mac[6];
	uint8_t peer[6];
	bool peer_known;
	uint64_t isr_seen;
	uint64_t hz;
	/* TX ring: descriptors filled and reaped so far (free-running, slot = count % RING). */
	uint32_t tx_head, tx_tail;
	uint8_t tx_kind[RING];
	bool tx_new; /* queued since the last TDMD */
	uint32_t tx_total, tx_queued, tx_done, tx_errors;
	uint32_t tx_first_err_tmd1, tx_first_err_tmd2;
	uint64_t tx_bytes;
	bool ready_due, ready_sent, ready_done;
	uint32_t ack_sent, acks;
	bool ack_due;
	/* RX ring */
	uint32_t rx_cur;
	uint32_t rx_total, rx_count, rx_good, rx_bad, rx_foreign, rx_fcs_bad, rx_desc_err;
	uint32_t rx_next; /* the seq expected next, and what an acknowledgement carries */
	uint64_t rx_bytes;
	/* CSR0 error bits seen, interrupts taken, rounds without one */
	uint32_t miss, merr, babl, cerr;
	uint64_t irqs, polls;
	bool storm; /* the handler masked the 8259s: see pcnet_isr */
	uint64_t t_tx0, t_tx1, t_rx0, t_rx1, t_progress;
};

/* ---- PCI ---- */

static uint32_t cfg_read32(unsigned dev, unsigned reg)
{
	outl(CONFIG_ADDRESS, 0x80000000u | dev << 11 | (reg & 0xfc));
	return inl(CONFIG_DATA);
}

static void cfg_write32(unsigned dev, unsigned reg, uint32_t v)
{
	outl(CONFIG_ADDRESS, 0x80000000u | dev << 11 | (reg & 0xfc));
	outl(CONFIG_DATA, v);
}

/* Bus 0 only, function 0 only: the card is a single-function device. Returns the slot or -1. */
static int pci_find_pcnet(void)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		if (cfg_read32(dev, 0) == PCNET_VENDOR_DEVICE)
			return (int)dev;
	}
	return -1;
}

static bool pci_setup(struct nic *n)
{
	int dev = pci_find_pcnet();

	if (dev < 0) {
		fail("pcnet.pci", "no 1022:2000 on PCI bus 0");
		return false;
	}
	uint32_t bar0 = cfg_read32((unsigned)dev, PCI_BAR0);
	uint32_t line = cfg_read32((unsigned)dev, PCI_INTERRUPT_LINE);
	uint32_t cmd = cfg_read32((unsigned)dev, PCI_COMMAND) & 0xffff;

	cfg_write32((unsigned)dev, PCI_COMMAND, cmd | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	n->io = (uint16_t)(bar0 & ~3u);
	n->irq = (uint8_t)line;
	gprintf("PCNET 00:%02x.0 BAR0 0x%x command 0x%x irq %u (pin %u)\n", dev, bar0, cmd, n->irq,
		(line >> 8) & 0xff);
	return check((bar0 & 1) && n->io && n->irq && n->irq < 16 && n->irq != 2, "pcnet.pci",
		     "BAR0 0x%x is not an assigned I/O BAR, or interrupt line %u is unusable", bar0,
		     n->irq);
}

/* ---- Registers in DWIO mode; RAP selects the CSR or BCR (datasheet "RAP", "RDP", "BDP"). ---- */

static uint32_t csr_read(const struct nic *n, unsigned idx)
{
	outl(n->io + DWIO_RAP, idx);
	return inl(n->io + DWIO_RDP) & 0xffff;
}

static void csr_write(const struct nic *n, unsigned idx, uint32_t v)
{
	outl(n->io + DWIO_RAP, idx);
	outl(n->io + DWIO_RDP, v);
}

static uint32_t bcr_read(const struct nic *n, unsigned idx)
{
	outl(n->io + DWIO_RAP, idx);
	return inl(n->io + DWIO_BDP) & 0xffff;
}

static void bcr_write(const struct nic *n, unsigned idx, uint32_t v)
{
	outl(n->io + DWIO_RAP, idx);
	outl(n->io + DWIO_BDP, v);
}

/* CSR0 with RAP already 0: one port access each. */
static uint32_t csr0_read(const struct nic *n)
{
	return inl(n->io + DWIO_RDP) & 0xffff;
}

static void csr0_write(const struct nic *n, uint32_t v)
{
	outl(n->io + DWIO_RDP, v);
}

/* ---- Bring-up ---- */

static bool read_prom(struct nic *n)
{
	uint64_t want = cmdline_u64("mac", 0);
	uint64_t got = 0;

	for (int i = 0; i < 6; i++) {
		n->mac[i] = inb(n->io + APROM + i);
		got = got << 8 | n->mac[i];
	}
	gprintf("PCNET PROM %02x:%02x:%02x:%02x:%02x:%02x, bytes 14-15 %02x %02x\n", n->mac[0],
		n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5], inb(n->io + APROM + 14),
		inb(n->io + APROM + 15));
	if (want)
		return check(got == want, "pcnet.prom", "PROM MAC 0x%012lx, want 0x%012lx", got,
			     want);
	return check(!(n->mac[0] & 1) && got, "pcnet.prom", "PROM MAC 0x%012lx is not unicast",
		     got);
}

/*
 * S_RESET by reading RESET in word I/O mode (the mode after H_RESET), then DWIO by a 32-bit write
 * to RDP (datasheet "DWIO mode"); with RAP 0 that write also sets CSR0 to 0, which changes
 * nothing. pcnet32 checks the mode by reading back RAP; it then reads the chip ID in CSR88/89.
 */
static bool reset_to_dwio(struct nic *n)
{
	inw(n->io + WIO_RESET);
	outw(n->io + WIO_RAP, 0);
	uint32_t csr0 = inw(n->io + WIO_RDP);

	outl(n->io + DWIO_RDP, 0);
	outl(n->io + DWIO_RAP, 88);
	uint32_t rap = inl(n->io + DWIO_RAP) & 0xffff;
	uint32_t id = (uint32_t)csr_read(n, 88) | (uint32_t)csr_read(n, 89) << 16;

	gprintf("PCNET CSR0 after reset 0x%04x; DWIO RAP reads %u; chip ID 0x%08x\n", csr0, rap,
		id);
	if (!check(csr0 == CSR0_STOP, "pcnet.reset",
		   "CSR0 0x%04x after S_RESET, want STOP (0x0004)", csr0))
		return false;
	if (!check(rap == 88, "pcnet.dwio", "RAP reads %u after writing 88 in DWIO mode", rap))
		return false;
	return check(((id >> 12) & 0xffff) == CHIP_ID_AM79C970A && (id & 0xfff) == 0x003,
		     "pcnet.chipid", "CSR88/89 0x%08x, want part 0x2621 (Am79C970A), AMD 0x003",
		     id);
}

/* BCR20 = 2; SSIZE32 follows SWSTYLE; CSR58 is the same register (datasheet BCR20, CSR58). */
static bool set_swstyle(struct nic *n)
{
	bcr_write(n, 20, BCR20_SWSTYLE2);
	uint32_t bcr20 = bcr_read(n, 20);
	uint32_t csr58 = csr_read(n, 58);

	return check((bcr20 & 0x1ff) == (BCR20_SSIZE32 | BCR20_SWSTYLE2) &&
			 (csr58 & 0x1ff) == (bcr20 & 0x1ff),
		     "pcnet.swstyle", "BCR20 0x%04x, CSR58 0x%04x; want both 0x0102", bcr20, csr58);
}

static void rx_give(uint32_t slot)
{
	rx_ring[slot].misc = 0;
	__asm__ volatile("" ::: "memory");
	rx_ring[slot].ctl = DESC_OWN | DESC_ONES | ((uint32_t)-BUF_SIZE & DESC_BCNT);
}

static void build_rings(struct nic *n)
{
	for (uint32_t i = 0; i < RING; i++) {
		tx_ring[i] = (struct pcnet_desc){.base = (uint32_t)(uintptr_t)tx_buf[i]};
		rx_ring[i] = (struct pcnet_desc){.base = (uint32_t)(uintptr_t)rx_buf[i]};
		rx_give(i);
	}
	init_block = (struct pcnet_init_block){
	    .mode = 0,
	    .rlen = RING_LOG2 << 4,
	    .tlen = RING_LOG2 << 4,
	    .ladrf = {0, 0},
	    .rdra = (uint32_t)(uintptr_t)rx_ring,
	    .tdra = (uint32_t)(uintptr_t)tx_ring,
	};
	memcpy(init_block.padr, n->mac, 6);
}

static void irq_setup(struct nic *n)
{
	const struct acpi_info *a = acpi();
	uint64_t lapic = a->lapic_addr ? a->lapic_addr : 0xfee00000u;
	uint16_t elcr_port = ELCR + (n->irq >> 3);
	uint8_t elcr = inb(elcr_port), bit = (uint8_t)(1u << (n->irq & 7));
	uint64_t gate = (uintptr_t)pcnet_isr;
	volatile uint8_t *g = &idt[(VEC_PIC + n->irq) * 16];

	pcnet_isr_rdp = n->io + DWIO_RDP;
	pcnet_isr_slave = n->irq >= 8;
	/* A 64-bit interrupt gate, DPL 0, selector 0x10 (SDM 3A 6.14.1), as entry.S builds them. */
	*(volatile uint16_t *)(g + 0) = (uint16_t)gate;
	*(volatile uint16_t *)(g + 2) = 0x10;
	*(volatile uint16_t *)(g + 4) = 0x8e00;
	*(volatile uint16_t *)(g + 6) = (uint16_t)(gate >> 16);
	*(volatile uint32_t *)(g + 8) = (uint32_t)(gate >> 32);
	*(volatile uint32_t *)(g + 12) = 0;
	pic_init(VEC_PIC);
	lapic_enable(lapic, VEC_SPURIOUS);
	lapic_write(lapic, LAPIC_LVT0, LVT_EXTINT);
	gprintf("PCNET IRQ %u vector 0x%x, ELCR%u 0x%02x (%s-triggered)\n", n->irq,
		VEC_PIC + n->irq, n->irq >> 3, elcr, elcr & bit ? "level" : "edge");
	pic_set_mask((uint16_t) ~(1u << n->irq | 1u << 2));
}

/* Spins at ring 3 until the handler has run once more, or us microseconds pass. */
static bool wait_isr(struct nic *n, uint64_t us)
{
	uint64_t t0 = rdtsc(), limit = n->hz / 1000000 * us;

	while (pcnet_isr_count == n->isr_seen) {
		if (rdtsc() - t0 > limit)
			return false;
		cpu_relax();
	}
	n->isr_seen = pcnet_isr_count;
	if (n->isr_seen >= pcnet_isr_limit)
		n->storm = true;
	pcnet_isr_limit = n->isr_seen + STORM_LIMIT;
	return true;
}

/*
 * What the card took from the init block (datasheet CSR12-14 PADR, CSR24-25 BADR, CSR30-31 BADX,
 * CSR76 RCVRL and CSR78 XMTRL, the two's complement of the ring lengths). These are defined to
 * read only while STOP or SPND is set, so this runs after STOP and only prints: QEMU 7.2 reads
 * them as zero and the ring lengths as positive numbers.
 */
static void print_init_state(const struct nic *n)
{
	gprintf(
	    "PCNET after STOP: PADR %04x %04x %04x BADR 0x%x BADX 0x%x RCVRL 0x%04x XMTRL 0x%04x "
	    "(init block at 0x%lx: RDRA 0x%x TDRA 0x%x)\n",
	    csr_read(n, 12), csr_read(n, 13), csr_read(n, 14),
	    csr_read(n, 24) | csr_read(n, 25) << 16, csr_read(n, 30) | csr_read(n, 31) << 16,
	    csr_read(n, 76), csr_read(n, 78), (uint64_t)(uintptr_t)&init_block, init_block.rdra,
	    init_block.tdra);
}

/*
 * CSR1/2 = the init block's address, CSR3 masks, CSR4 auto-pad; INIT with INEA; IDON comes as an
 * interrupt (the handler leaves INEA off); acknowledge it, then STRT.
 */
static bool init_and_start(struct nic *n)
{
	uint32_t addr = (uint32_t)(uintptr_t)&init_block;

	csr_write(n, 1, addr & 0xffff);
	csr_write(n, 2, addr >> 16);
	csr_write(n, 3, CSR3_DEFAULT);
	csr_write(n, 4, CSR4_PCNET32);
	outl(n->io + DWIO_RAP, 0);
	n->isr_seen = pcnet_isr_count;
	pcnet_isr_limit = n->isr_seen + STORM_LIMIT;
	irq_enable();
	csr0_write(n, CSR0_INIT | CSR0_INEA);
	bool got = wait_isr(n, IDON_TIMEOUT_US);
	uint32_t csr0 = csr0_read(n);

	if (!check(got && (csr0 & CSR0_IDON), "pcnet.idon", "%s; CSR0 0x%04x after INIT",
		   got ? "interrupt came" : "no interrupt in 1 s", csr0))
		return false;
	csr0_write(n, csr0 & CSR0_ACK_KEEP);
	csr0_write(n, CSR0_STRT | CSR0_INEA);
	csr0 = csr0_read(n);
	return check(
	    (csr0 & (CSR0_TXON | CSR0_RXON | CSR0_STRT)) == (CSR0_TXON | CSR0_RXON | CSR0_STRT) &&
		!(csr0 & (CSR0_IDON | CSR0_STOP)),
	    "pcnet.start", "CSR0 0x%04x after STRT, want TXON RXON STRT and IDON clear", csr0);
}

/* ---- Frames ---- */

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

/* The Ethernet FCS (IEEE 802.3 clause 3.2.9): reflected CRC-32, sent least significant byte first.
 */
static uint32_t fcs(const uint8_t *p, unsigned len)
{
	uint32_t c = 0xffffffffu;

	for (unsigned i = 0; i < len; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return ~c;
}

static unsigned build_frame(struct nic *n, uint8_t *f, uint8_t kind, uint32_t seq)
{
	if (kind != PF_KIND_GUEST_DATA) {
		memset(f, 0, PF_MIN_LEN);
		pf_header(f, broadcast, n->mac, kind, seq, PF_MIN_LEN);
		return PF_MIN_LEN;
	}
	unsigned len = pf_length(kind, seq);

	pf_header(f, broadcast, n->mac, kind, seq, len);
	memcpy(f + PF_HDR_LEN, pool + pf_offset(kind, seq), len - PF_HDR_LEN);
	return len;
}

/* ---- TX ---- */

static void tx_queue(struct nic *n, uint8_t kind, uint32_t seq)
{
	uint32_t slot = n->tx_head % RING;
	unsigned len = build_frame(n, tx_buf[slot], kind, seq);

	n->tx_kind[slot] = kind;
	tx_ring[slot].misc = 0;
	__asm__ volatile("" ::: "memory");
	tx_ring[slot].ctl =
	    DESC_OWN | DESC_STP | DESC_ENP | DESC_ONES | ((uint32_t)-len & DESC_BCNT);
	n->tx_head++;
	n->tx_new = true;
	if (kind == PF_KIND_GUEST_DATA)
		n->tx_bytes += len;
}

static void tx_reap(struct nic *n)
{
	while (n->tx_tail != n->tx_head) {
		uint32_t slot = n->tx_tail % RING;
		uint32_t tmd1 = tx_ring[slot].ctl;

		if (tmd1 & DESC_OWN)
			return;
		if (tmd1 & DESC_ERR && !n->tx_errors++) {
			n->tx_first_err_tmd1 = tmd1;
			n->tx_first_err_tmd2 = tx_ring[slot].misc;
		}
		if (n->tx_kind[slot] == PF_KIND_GUEST_DATA)
			n->tx_done++;
		else if (n->tx_kind[slot] == PF_KIND_READY)
			n->ready_done = true;
		n->tx_tail++;
		n->t_progress = rdtsc();
	}
}

/* Control frames first, then data; never more than RING in flight. */
static void tx_fill(struct nic *n)
{
	if (n->ack_due && n->tx_head - n->tx_tail < RING) {
		tx_queue(n, PF_KIND_ACK, n->rx_next);
		n->ack_sent = n->rx_next;
		n->ack_due = false;
		n->acks++;
	}
	if (n->ready_due && n->tx_head - n->tx_tail < RING) {
		tx_queue(n, PF_KIND_READY, n->tx_total);
		n->ready_due = false;
		n->ready_sent = true;
	}
	while (n->tx_queued < n->tx_total && n->tx_head - n->tx_tail < RING)
		tx_queue(n, PF_KIND_GUEST_DATA, n->tx_queued++);
}

/* ---- RX ---- */

static void rx_bad(struct nic *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps the first mismatch's description for the FAIL line; counts all. */
static void rx_bad(struct nic *n, const char *fmt, ...)
{
	if (n->rx_bad++)
		return;
	/* gprintf has no vsnprintf: print it now, the FAIL line refers to it. */
	va_list ap;

	va_start(ap, fmt);
	gprintf("PCNET first RX mismatch: ");
	gvprintf(fmt, ap);
	gprintf("\n");
	va_end(ap);
}

static unsigned first_difference(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned i = 0;

	while (i < len && a[i] == b[i])
		i++;
	return i;
}

static void rx_check_data(struct nic *n, const uint8_t *f, unsigned len)
{
	uint32_t seq = (uint32_t)f[18] << 24 | f[19] << 16 | f[20] << 8 | f[21];
	unsigned want_len = pf_length(PF_KIND_PEER_DATA, seq);
	uint8_t hdr[PF_HDR_LEN];

	if (!n->peer_known) {
		memcpy(n->peer, f + 6, 6);
		n->peer_known = true;
	}
	uint32_t want_seq = n->rx_next;

	/* Resynchronise on a gap, so that one lost frame counts once. */
	n->rx_count++;
	n->rx_next = seq + 1;
	if (seq != want_seq) {
		rx_bad(n, "frame %u carries seq %u", want_seq, seq);
		return;
	}
	if (len != want_len) {
		rx_bad(n, "seq %u: %u bytes (MCNT - 4), want %u", seq, len, want_len);
		return;
	}
	pf_header(hdr, n->mac, n->peer, PF_KIND_PEER_DATA, seq, len);
	unsigned d = first_difference(f, hdr, PF_HDR_LEN);

	if (d < PF_HDR_LEN) {
		rx_bad(n, "seq %u: header byte %u is 0x%02x, want 0x%02x", seq, d, f[d], hdr[d]);
		return;
	}
	const uint8_t *want = pool + pf_offset(PF_KIND_PEER_DATA, seq) - PF_HDR_LEN;

	d = PF_HDR_LEN + first_difference(f + PF_HDR_LEN, want + PF_HDR_LEN, len - PF_HDR_LEN);
	if (d < len) {
		rx_bad(n, "seq %u len %u: byte %u is 0x%02x, want 0x%02x", seq, len, d, f[d],
		       want[d]);
		return;
	}
	n->rx_good++;
	n->rx_bytes += len;
}

static void rx_frame(struct nic *n, uint32_t slot, uint32_t rmd1)
{
	const uint8_t *f = rx_buf[slot];
	unsigned mcnt = rx_ring[slot].misc & RMD2_MCNT;

	if ((rmd1 & (DESC_ERR | DESC_STP | DESC_ENP)) != (DESC_STP | DESC_ENP)) {
		n->rx_desc_err++;
		rx_bad(n, "RMD1 0x%08x (error, or a frame over several buffers) MCNT %u", rmd1,
		       mcnt);
		return;
	}
	if (mcnt < PF_HDR_LEN + FCS_LEN || mcnt > BUF_SIZE) {
		n->rx_desc_err++;
		rx_bad(n, "MCNT %u with OWN clear (RMD1 0x%08x)", mcnt, rmd1);
		return;
	}
	unsigned len = mcnt - FCS_LEN;

	if ((f[12] << 8 | f[13]) != PF_ETHERTYPE) {
		n->rx_foreign++;
		return;
	}
	uint32_t want_fcs = fcs(f, len);
	uint32_t got_fcs = f[len] | f[len + 1] << 8 | f[len + 2] << 16 | (uint32_t)f[len + 3] << 24;

	if (got_fcs != want_fcs && n->rx_fcs_bad++ < 3)
		gprintf("PCNET bad FCS: %u-byte frame, FCS 0x%08x, want 0x%08x\n", len, got_fcs,
			want_fcs);
	if (f[14] != 'H' || f[15] != 'V' || f[16] != 'P' || f[17] != PF_KIND_PEER_DATA) {
		rx_bad(n, "ethertype 0x88b5 frame without the HVPP magic (%02x %02x %02x %02x)",
		       f[14], f[15], f[16], f[17]);
		return;
	}
	rx_check_data(n, f, len);
}

/* Takes every frame the card has handed over and gives its descriptor back (OWN), in order. */
static void rx_process(struct nic *n)
{
	for (unsigned budget = RING; budget; budget--) {
		uint32_t slot = n->rx_cur % RING;
		uint32_t rmd1 = rx_ring[slot].ctl;

		if (rmd1 & DESC_OWN)
			break;
		__asm__ volatile("" ::: "memory");
		if (!n->rx_count)
			n->t_rx0 = rdtsc();
		rx_frame(n, slot, rmd1);
		rx_give(slot);
		n->rx_cur++;
		n->t_progress = n->t_rx1 = rdtsc();
	}
	if (n->rx_next != n->ack_sent &&
	    (n->rx_next - n->ack_sent >= ACK_EVERY || n->rx_next >= n->rx_total))
		n->ack_due = true;
}

/* ---- The loop ---- */

static void note_csr0(struct nic *n, uint32_t csr0)
{
	n->miss += !!(csr0 & CSR0_MISS);
	n->merr += !!(csr0 & CSR0_MERR);
	n->babl += !!(csr0 & CSR0_BABL);
	n->cerr += !!(csr0 & CSR0_CERR);
}

static void service(struct nic *n)
{
	tx_reap(n);
	rx_process(n);
	if (!n->ready_sent && !n->ready_due && n->tx_done == n->tx_total) {
		n->t_tx1 = rdtsc();
		n->ready_due = true;
	}
	tx_fill(n);
}

static bool finished(const struct nic *n)
{
	return n->ready_done && n->rx_next >= n->rx_total && !n->ack_due &&
	       n->ack_sent == n->rx_next && n->tx_tail == n->tx_head;
}

/* Returns false on the time limits; the caller reports what got through. */
static bool run(struct nic *n, uint64_t timeout_s)
{
	uint64_t start = rdtsc(), idle = n->hz * IDLE_LIMIT_S;

	n->t_tx0 = n->t_progress = start;
	service(n);
	csr0_write(n, CSR0_INEA | CSR0_TDMD);
	n->tx_new = false;
	while (!finished(n)) {
		uint64_t now = rdtsc();

		if (now - start > n->hz * timeout_s || now - n->t_progress > idle || n->storm)
			return false;
		bool irq = wait_isr(n, POLL_US);

		if (irq) {
			uint32_t csr0 = csr0_read(n);

			n->irqs++;
			note_csr0(n, csr0);
			csr0_write(n, csr0 & CSR0_ACK_KEEP);
		} else {
			n->polls++;
			if (n->rx_next != n->ack_sent)
				n->ack_due = true;
		}
		service(n);
		if (irq || n->tx_new)
			csr0_write(n, CSR0_INEA | (n->tx_new ? CSR0_TDMD : 0));
		n->tx_new = false;
	}
	return true;
}

/* ---- Report ---- */

static uint64_t per_second(uint64_t count, uint64_t cycles, uint64_t hz)
{
	return cycles ? count * hz / cycles : 0;
}

static void report(const struct nic *n, bool in_time, bool fcs_checked)
{
	uint64_t tx_end = n->t_tx1 ? n->t_tx1 : n->t_progress;
	uint64_t tx_c = tx_end - n->t_tx0, rx_c = n->rx_count ? n->t_rx1 - n->t_rx0 : 0;

	gprintf(
	    "PCNET interrupts %lu, rounds without one %lu; CSR0 MISS %u MERR %u BABL %u CERR %u\n",
	    n->irqs, n->polls, n->miss, n->merr, n->babl, n->cerr);
	gprintf("PCNET tx %u/%u frames, %lu bytes in %lu ms: %lu frames/s, %lu Mbit/s\n",
		n->tx_done, n->tx_total, n->tx_bytes, tx_c * 1000 / n->hz,
		per_second(n->tx_done, tx_c, n->hz),
		per_second(n->tx_bytes * 8, tx_c, n->hz) / 1000000);
	gprintf("PCNET rx %u/%u frames (%u good, %u bad, %u foreign, %u bad FCS), %lu bytes in %lu "
		"ms: %lu frames/s, %lu Mbit/s; %u acks\n",
		n->rx_count, n->rx_total, n->rx_good, n->rx_bad, n->rx_foreign, n->rx_fcs_bad,
		n->rx_bytes, rx_c * 1000 / n->hz, per_second(n->rx_good, rx_c, n->hz),
		per_second(n->rx_bytes * 8, rx_c, n->hz) / 1000000, n->acks);
	check(n->irqs > 0 && !n->storm, "pcnet.irq",
	      "%lu interrupts after IDON (%lu rounds polled)%s", n->irqs, n->polls,
	      n->storm ? "; an interrupt storm: INTA stayed asserted with INEA off" : "");
	check(n->tx_done == n->tx_total && !n->tx_errors && !n->merr && !n->babl, "pcnet.tx",
	      "%u of %u frames completed; %u descriptor errors (first TMD1 0x%08x TMD2 0x%08x); "
	      "MERR %u BABL %u",
	      n->tx_done, n->tx_total, n->tx_errors, n->tx_first_err_tmd1, n->tx_first_err_tmd2,
	      n->merr, n->babl);
	check(in_time && n->rx_good == n->rx_total && !n->rx_bad && !n->miss, "pcnet.rx",
	      "%u of %u frames good, %u bad (first: see above), %u descriptor errors, MISS %u%s",
	      n->rx_good, n->rx_total, n->rx_bad, n->rx_desc_err, n->miss,
	      in_time ? "" : ", time limit reached");
	if (fcs_checked && n->rx_count)
		check(!n->rx_fcs_bad, "pcnet.rx.fcs", "%u of %u frames with a wrong FCS",
		      n->rx_fcs_bad, n->rx_count);
}

void guest_main(void)
{
	struct nic n = {
	    .tx_total = (uint32_t)cmdline_u64("tx", 10000),
	    .rx_total = (uint32_t)cmdline_u64("rx", 10000),
	    .hz = tsc_hz(),
	};
	uint64_t timeout_s = cmdline_u64("timeout", 120);
	bool fcs_checked = cmdline_u64("fcs", 0) != 0;

	if (!check(n.hz != 0, "pcnet.tsc", "no TSC frequency (no ACPI PM timer)"))
		return;
	pf_pool_fill(pool);
	crc_init();
	if (!pci_setup(&n) || !read_prom(&n) || !reset_to_dwio(&n) || !set_swstyle(&n))
		return;
	build_rings(&n);
	irq_disable();
	irq_setup(&n);
	if (!init_and_start(&n))
		return;
	bool in_time = run(&n, timeout_s);

	csr0_write(&n, CSR0_STOP);
	irq_disable();
	print_init_state(&n);
	report(&n, in_time, fcs_checked);
}
