/*
 * Am79C970A PCnet-PCI II, the Buffer Management Unit: descriptor rings in the three software
 * styles, transmit with data chaining, receive with data chaining, the address filter, the FCS,
 * internal loopback. Datasheet: AMD publication 19436, sections "Descriptor Rings", "Buffer
 * Management Unit", "Media Access Control", "Loopback Operation". The model choices are listed
 * at the top of pcnet.c; the ones that live here:
 * - no staging except one internal loopback frame: transmit gathers an iovec over guest RAM,
 *   receive copies from the backend's iovec straight into the buffers;
 * - every walk and every chain is bounded by the ring length, every frame by 4095 bytes (MCNT);
 * - descriptors are read status word first (acquire) and given back status word last, in one
 *   store (release), so a guest polling OWN never sees a half-written descriptor.
 */
#include <errno.h>
#include <string.h>

#include "hostvisor/le.h"
#include "pcnet_internal.h"

#define PCNET_BABL_LEN 1519 /* CSR0 BABL: "set if 1519 bytes or greater are transmitted" */

/* RMD1/TMD1 bits 31-16 (the 16-bit styles keep bits 31-24 in RMD1/TMD1 bits 15-8). */
#define DESC_OWN 0x8000
#define DESC_ERR 0x4000
#define DESC_STP 0x0200
#define DESC_ENP 0x0100
#define RMD_FRAM 0x2000
#define RMD_OFLO 0x1000
#define RMD_CRC 0x0800
#define RMD_BUFF 0x0400
#define RMD_PAM 0x0040
#define RMD_LAFM 0x0020
#define RMD_BAM 0x0010
#define TMD_ADD_FCS 0x2000 /* NO_FCS in SWSTYLE 1 */
#define TMD_LTINT 0x1000   /* MORE unless CSR5 LTINTEN */
/* TMD2 bits 31-16 (TMD3 in the 16-bit style). */
#define TMD_BUFF 0x8000
#define TMD_UFLO 0x4000
#define TMD_LCAR 0x0800

/* The receive address filter's verdict: 0 (reject) or the RMD1 match bits, with ACCEPT for a
 * promiscuous accept that matched nothing. */
#define RX_ACCEPT 0x0001

enum rx_result { RX_TAKEN, RX_DROPPED, RX_NO_BUFFER };

/* A chain of transmit descriptors, STP to ENP. */
struct tx_frame {
	uint32_t first, count;
	size_t len; /* bytes in the buffers */
	int iovcnt;
	uint16_t stp_status, last_status;
	uint16_t err; /* TMD2 error bits for the last descriptor */
	bool ended, fault;
};

/* What goes into receive buffers: the frame's bytes, zero padding, then a computed FCS. */
struct rx_source {
	const struct iovec *iov;
	int iovcnt, i;
	size_t off;
	size_t data_left, pad_left;
	bool gen_fcs;
	uint32_t crc;
	uint8_t fcs[PCNET_FCS_LEN];
	size_t fcs_off;
};

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- CRC-32 (ISO 8802-3 FCS, and the logical address filter's hash) ---- */

void pcnet_crc_table_init(uint32_t *table)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
		table[i] = c;
	}
}

static uint32_t crc_update(const uint32_t *table, uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---- guest memory: descriptor fields with the ordering OWN needs ---- */

static int load8_acquire(const struct gmem *gm, uint64_t gpa, uint8_t *v)
{
	uint8_t *p = gmem_ptr(gm, gpa, 1);

	if (!p)
		return -EFAULT;
	*v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	return 0;
}

/* The guest fills a descriptor, then sets OWN: reading the status word first, with acquire
 * order, makes what we read after it at least as new. */
static int load16_acquire(const struct gmem *gm, uint64_t gpa, uint16_t *v)
{
	uint16_t *p = gmem_ptr(gm, gpa, 2);

	if (!p)
		return -EFAULT;
	if ((uintptr_t)p & 1) {
		memcpy(v, p, 2);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		return 0;
	}
	*v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
	return 0;
}

static int store8_release(const struct gmem *gm, uint64_t gpa, uint8_t v)
{
	uint8_t *p = gmem_ptr(gm, gpa, 1);

	if (!p)
		return -EFAULT;
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	return 0;
}

/* The status word goes out in one store, after everything else: a guest polling OWN never
 * sees it clear before ENP, MCNT and the error bits. */
static int store16_release(const struct gmem *gm, uint64_t gpa, uint16_t v)
{
	uint16_t *p = gmem_ptr(gm, gpa, 2);

	if (!p)
		return -EFAULT;
	if ((uintptr_t)p & 1) {
		__atomic_thread_fence(__ATOMIC_RELEASE);
		memcpy(p, &v, 2);
		return 0;
	}
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	return 0;
}

/* ---- descriptors ---- */

uint32_t pcnet_desc_gpa(const struct pcnet *s, enum ring r, uint32_t idx)
{
	uint32_t base = r == RING_RX ? s->rdra : s->tdra;

	if (!ssize32(s))
		return dma_addr24(s, (base & ~7u) + idx * 8);
	/* Rings of 16-byte descriptors start on a 16-byte boundary; the 32-bit address counter
	 * wraps like the chip's. */
	return (base & ~15u) + idx * 16;
}

struct pcnet_desc {
	uint32_t gpa;	 /* where the descriptor is */
	uint32_t buf;	 /* buffer address */
	uint16_t status; /* RMD1/TMD1 bits 31-16 */
	uint16_t len;	 /* buffer length from the two's complement BCNT */
};

static int desc_load_status(const struct pcnet *s, struct pcnet_desc *d)
{
	uint8_t st;

	if (!s->bus_master)
		return -EFAULT;
	if (ssize32(s))
		return load16_acquire(s->gm, d->gpa + 6, &d->status);
	if (load8_acquire(s->gm, d->gpa + 3, &st) < 0)
		return -EFAULT;
	d->status = (uint16_t)(st << 8);
	return 0;
}

/* Reads descriptor idx; its buffer fields only when we own it. 0 or -EFAULT. */
static int desc_read(const struct pcnet *s, enum ring r, uint32_t idx, struct pcnet_desc *d)
{
	uint16_t bcnt, ladr;
	uint32_t buf;
	uint8_t hadr;

	d->gpa = pcnet_desc_gpa(s, r, idx);
	d->buf = 0;
	d->len = 0;
	if (desc_load_status(s, d) < 0)
		return -EFAULT;
	if (!(d->status & DESC_OWN))
		return 0;
	if (gmem_read16(s->gm, d->gpa + 4, &bcnt) < 0)
		return -EFAULT;
	if (!ssize32(s)) {
		if (gmem_read16(s->gm, d->gpa, &ladr) < 0 || gmem_read(s->gm, d->gpa + 2, &hadr, 1))
			return -EFAULT;
		buf = dma_addr24(s, (uint32_t)hadr << 16 | ladr);
	} else if (gmem_read32(s->gm, d->gpa + (sw_style(s) == 3 ? 8 : 0), &buf) < 0) {
		return -EFAULT;
	}
	d->buf = buf;
	/* BCNT is the two's complement of the length in 12 bits; 0 is a zero-length buffer. */
	d->len = (uint16_t)(-(int)bcnt & 0xfff);
	return 0;
}

static int desc_write_status(const struct pcnet *s, const struct pcnet_desc *d, uint16_t status)
{
	if (ssize32(s))
		return store16_release(s->gm, d->gpa + 6, status);
	return store8_release(s->gm, d->gpa + 3, (uint8_t)(status >> 8));
}

/* The word that is not the address, BCNT or status: RMD2/TMD2 (RMD0/TMD0 in style 3). */
static uint64_t desc_misc_gpa(const struct pcnet *s, const struct pcnet_desc *d)
{
	if (!ssize32(s))
		return d->gpa + 6;
	return d->gpa + (sw_style(s) == 3 ? 0 : 8);
}

static int desc_write_mcnt(const struct pcnet *s, const struct pcnet_desc *d, size_t mcnt)
{
	uint16_t v = (uint16_t)(mcnt & 0xfff);

	if (!ssize32(s))
		return gmem_write16(s->gm, desc_misc_gpa(s, d), v);
	return gmem_write32(s->gm, desc_misc_gpa(s, d), v); /* RPC and RCC are zero */
}

static int desc_write_tx_err(const struct pcnet *s, const struct pcnet_desc *d, uint16_t err)
{
	if (!ssize32(s))
		return gmem_write16(s->gm, desc_misc_gpa(s, d), err);
	return gmem_write32(s->gm, desc_misc_gpa(s, d), (uint32_t)err << 16);
}

/* ---- receive ---- */

static bool ladrf_match(const struct pcnet *s, const uint8_t *dst)
{
	/* The top 6 bits of the CRC of the destination address pick one of 64 filter bits. */
	uint32_t bit = crc_update(s->crc_table, 0xffffffffu, dst, ETH_ALEN) >> 26;

	return s->ladrf[bit >> 4] & (1u << (bit & 15));
}

/* Media Access Control, address matching: the RMD1 match bits, RX_ACCEPT, or 0. */
static uint16_t rx_filter(const struct pcnet *s, const uint8_t *dst)
{
	static const uint8_t bcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t padr[ETH_ALEN];

	for (int i = 0; i < 3; i++)
		put16(padr + 2 * i, s->padr[i]);
	if (dst[0] & 1) {
		/* With DRCVBC clear a broadcast is taken as a broadcast (BAM), never by the hash
		 * (RMD1 LAFM note); with it set, only the logical filter can take it. */
		if (!memcmp(dst, bcast, ETH_ALEN) && !(s->mode & MODE_DRCVBC))
			return RMD_BAM;
		if (ladrf_match(s, dst))
			return RMD_LAFM;
	} else if (!(s->mode & MODE_DRCVPA) && !memcmp(dst, padr, ETH_ALEN)) {
		return RMD_PAM;
	}
	return (s->mode & MODE_PROM) ? RX_ACCEPT : 0;
}

/* The next piece of the frame's own bytes, at most n, in *p; 0 when they are used up. */
static size_t rx_source_data(struct rx_source *src, size_t n, const uint8_t **p)
{
	while (src->data_left > 0 && src->i < src->iovcnt) {
		const struct iovec *v = &src->iov[src->i];
		size_t chunk = v->iov_len - src->off;

		if (chunk == 0) {
			src->i++;
			src->off = 0;
			continue;
		}
		chunk = min_size(min_size(chunk, src->data_left), n);
		*p = (const uint8_t *)v->iov_base + src->off;
		src->off += chunk;
		src->data_left -= chunk;
		return chunk;
	}
	return 0;
}

/* The next piece of the source, at most n bytes, in *p: the frame, its padding (both covered
 * by the FCS), then the FCS. 0 when it is used up. */
static size_t rx_source_next(struct pcnet *s, struct rx_source *src, size_t n, const uint8_t **p)
{
	size_t chunk = rx_source_data(src, n, p);

	if (chunk == 0 && src->pad_left > 0) {
		chunk = min_size(min_size(src->pad_left, n), sizeof(s->pad_zeros));
		*p = s->pad_zeros;
		src->pad_left -= chunk;
	}
	if (chunk > 0) {
		if (src->gen_fcs)
			src->crc = crc_update(s->crc_table, src->crc, *p, chunk);
		return chunk;
	}
	if (!src->gen_fcs || src->fcs_off >= PCNET_FCS_LEN)
		return 0;
	if (src->fcs_off == 0)
		put32(src->fcs, ~src->crc);
	chunk = min_size(PCNET_FCS_LEN - src->fcs_off, n);
	*p = src->fcs + src->fcs_off;
	src->fcs_off += chunk;
	return chunk;
}

/* Copies the next n bytes of the source (or what is left of it) to guest memory at gpa. */
static int rx_source_copy(struct pcnet *s, struct rx_source *src, uint64_t gpa, size_t n)
{
	while (n > 0) {
		const uint8_t *p;
		size_t chunk = rx_source_next(s, src, n, &p);

		if (chunk == 0)
			return 0;
		if (gmem_write(s->gm, gpa, p, chunk) < 0)
			return -EFAULT;
		gpa += chunk;
		n -= chunk;
	}
	return 0;
}

/* Gives the filled descriptors back, STP first, each in one status store. */
static int rx_release(struct pcnet *s, uint32_t first, uint32_t count, size_t wire_len,
		      uint16_t last_flags)
{
	uint32_t len = ring_len(s, RING_RX);

	for (uint32_t i = 0; i < count; i++) {
		struct pcnet_desc d = { .gpa = pcnet_desc_gpa(s, RING_RX, (first + i) % len) };
		uint16_t st = i == 0 ? DESC_STP : 0;

		if (i + 1 == count) {
			st |= last_flags;
			/* MCNT before the status that makes it valid (RMD2 MCNT). */
			if ((st & DESC_ENP) && desc_write_mcnt(s, &d, wire_len) < 0)
				return -EFAULT;
		}
		if (!ssize32(s))
			st &= 0xff00; /* PAM, LAFM and BAM exist only in the 32-bit RMD1 */
		if (desc_write_status(s, &d, st) < 0)
			return -EFAULT;
	}
	return 0;
}

/*
 * Buffer Management Unit, receive: the frame goes into the current RMD's buffer and, while it
 * does not fit, the next ones (data chaining). Running into a descriptor we do not own, or
 * around the whole ring, before the end is a BUFF error in the last buffer filled; the rest
 * of the frame is lost. enp_flags are the RMD1 bits for a complete frame.
 */
static enum rx_result rx_store(struct pcnet *s, struct rx_source *src, size_t wire_len,
			       uint16_t enp_flags)
{
	uint32_t len = ring_len(s, RING_RX), first = ring_index(s, RING_RX), count = 0;
	size_t left = wire_len;
	uint16_t last = DESC_ENP | enp_flags;
	struct pcnet_desc d;

	if (desc_read(s, RING_RX, first, &d) < 0)
		goto fault;
	if (!(d.status & DESC_OWN))
		return RX_NO_BUFFER;
	for (;;) {
		size_t chunk = min_size(d.len, left);

		if (rx_source_copy(s, src, d.buf, chunk) < 0)
			goto fault;
		left -= chunk;
		count++;
		if (left == 0)
			break;
		if (count == len) {
			last = DESC_ERR | RMD_BUFF;
			break;
		}
		if (desc_read(s, RING_RX, (first + count) % len, &d) < 0)
			goto fault;
		if (!(d.status & DESC_OWN)) {
			last = DESC_ERR | RMD_BUFF;
			break;
		}
	}
	if (rx_release(s, first, count, wire_len, last) < 0)
		goto fault;
	s->rx_idx = (first + count) % len;
	s->csr0 |= CSR0_RINT;
	return RX_TAKEN;
fault:
	dma_fault(s, CSR0_RXON);
	return RX_DROPPED;
}

static size_t iov_bytes(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - n)
			return SIZE_MAX;
		n += iov[i].iov_len;
	}
	return n;
}

/* Copies the first n bytes of an iovec into buf (n no more than it holds). */
static void iov_copy_out(const struct iovec *iov, int iovcnt, uint8_t *buf, size_t n)
{
	for (int i = 0; i < iovcnt && n > 0; i++) {
		size_t chunk = min_size(iov[i].iov_len, n);

		memcpy(buf, iov[i].iov_base, chunk);
		buf += chunk;
		n -= chunk;
	}
}

static void rx_missed(struct pcnet *s)
{
	s->csr0 |= CSR0_MISS;
	if (++s->missed == 0)
		s->csr4 |= CSR4_MFCO; /* CSR112 wrapped */
}

/* A frame from the network: true if it is consumed (taken or lost), false to have it held. */
bool pcnet_rx_from_backend(struct pcnet *s, const struct iovec *iov, int iovcnt, size_t len)
{
	uint8_t dst[ETH_ALEN] = { 0 };
	struct rx_source src;
	size_t data, wire;
	uint16_t match;
	enum rx_result r;

	/* A stopped receiver, or one looped back inside the chip, does not see the wire. */
	if (!(s->csr0 & CSR0_RXON) || internal_loopback(s))
		return true;
	if (s->csr5 & CSR5_SPND) {
		s->rx_blocked = true;
		return false;
	}
	data = iovcnt > 0 && iov ? iov_bytes(iov, iovcnt) : 0;
	if (len < data)
		data = len;
	if (data == 0)
		return true;
	wire = (data < PCNET_MIN_FRAME ? PCNET_MIN_FRAME : data) + PCNET_FCS_LEN;
	if (wire > PCNET_MAX_FRAME) {
		s->rx_oversize++;
		return true;
	}
	iov_copy_out(iov, iovcnt, dst, min_size(data, ETH_ALEN));
	match = rx_filter(s, dst);
	if (!match)
		return true;
	src = (struct rx_source){ .iov = iov, .iovcnt = iovcnt, .data_left = data,
				  .pad_left = wire - PCNET_FCS_LEN - data, .gen_fcs = true,
				  .crc = 0xffffffffu };
	r = rx_store(s, &src, wire, match & ~RX_ACCEPT);
	if (r != RX_NO_BUFFER)
		return true;
	s->rx_blocked = true;
	return false;
}

/* Delivers the staged internal loopback frame; it cannot be held, so no buffer is MISS. */
static void rx_loopback(struct pcnet *s)
{
	size_t wire = s->loop_len;
	struct iovec iov = { .iov_base = s->loop_buf, .iov_len = wire };
	uint8_t dst[ETH_ALEN] = { 0 };
	struct rx_source src = { .iov = &iov, .iovcnt = 1, .data_left = wire };
	uint16_t match, flags;
	uint32_t crc;

	s->loop_len = 0;
	if (!rx_active(s) || wire == 0)
		return;
	memcpy(dst, s->loop_buf, min_size(wire, ETH_ALEN));
	match = rx_filter(s, dst);
	if (!match)
		return;
	flags = match & ~RX_ACCEPT;
	/* The receiver checks the last four bytes as the FCS (FRAM is not valid in loopback). */
	crc = wire < PCNET_FCS_LEN ? 0
				   : ~crc_update(s->crc_table, 0xffffffffu, s->loop_buf,
						 wire - PCNET_FCS_LEN);
	if (wire < PCNET_FCS_LEN || get32(s->loop_buf + wire - PCNET_FCS_LEN) != crc)
		flags |= DESC_ERR | RMD_CRC;
	if (rx_store(s, &src, wire, flags) == RX_NO_BUFFER)
		rx_missed(s);
}

/* ---- transmit ---- */

/* Collects the chain that starts at the STP descriptor d into s->tx_iov, bounded by the ring
 * length in descriptors and by PCNET_MAX_FRAME in bytes gathered. */
static void tx_gather(struct pcnet *s, struct tx_frame *f, uint32_t first, struct pcnet_desc d)
{
	uint32_t len = ring_len(s, RING_TX);

	*f = (struct tx_frame){ .first = first, .stp_status = d.status };
	for (;;) {
		if (f->len + d.len <= PCNET_MAX_FRAME) {
			int n = gmem_iov(s->gm, d.buf, d.len, &s->tx_iov[f->iovcnt],
					 PCNET_TX_IOV - 1 - f->iovcnt);

			if (n < 0) {
				f->fault = true;
				return;
			}
			f->iovcnt += n;
		}
		f->len += d.len;
		f->count++;
		f->last_status = d.status;
		if (d.status & DESC_ENP) {
			f->ended = true;
			return;
		}
		if (f->count == len)
			return; /* every descriptor in the ring is ours and none ends the frame */
		if (desc_read(s, RING_TX, (first + f->count) % len, &d) < 0) {
			f->fault = true;
			return;
		}
		if (!(d.status & DESC_OWN))
			return;
	}
}

/* FCS generation: ADD_FCS (STP descriptor) or NO_FCS (ILACC, ENP descriptor) against DXMTFCS;
 * APAD_XMT pads and so always appends a fresh FCS. */
static bool tx_fcs_enabled(const struct pcnet *s, const struct tx_frame *f)
{
	if (s->csr4 & CSR4_APAD_XMT)
		return true;
	if (sw_style(s) == 1)
		return !(f->last_status & TMD_ADD_FCS) && !(s->mode & MODE_DXMTFCS);
	return (f->stp_status & TMD_ADD_FCS) || !(s->mode & MODE_DXMTFCS);
}

/* Drops the last n bytes of an iovec (the FCS the guest put in its own buffers). */
static void iov_trim_tail(struct iovec *iov, int *iovcnt, size_t n)
{
	while (n > 0 && *iovcnt > 0) {
		struct iovec *v = &iov[*iovcnt - 1];

		if (v->iov_len > n) {
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		(*iovcnt)--;
	}
}

static void tx_stage_loopback(struct pcnet *s, const struct tx_frame *f, size_t data, bool fcs,
			      size_t wire)
{
	if (wire > sizeof(s->loop_buf))
		return; /* no receiver could report it (MCNT) */
	iov_copy_out(s->tx_iov, f->iovcnt, s->loop_buf, data);
	if (fcs)
		put32(s->loop_buf + data, ~crc_update(s->crc_table, 0xffffffffu, s->loop_buf, data));
	s->loop_len = wire;
}

/* Puts a complete chain on the wire: the backend, or the receive side in internal loopback. */
static void tx_send(struct pcnet *s, struct tx_frame *f)
{
	bool fcs = tx_fcs_enabled(s, f);
	size_t pad = 0, data, wire;

	if ((s->csr4 & CSR4_APAD_XMT) && f->len < PCNET_MIN_FRAME)
		pad = PCNET_MIN_FRAME - f->len;
	data = f->len + pad;
	wire = data + (fcs ? PCNET_FCS_LEN : 0);
	if (wire >= PCNET_BABL_LEN)
		s->csr0 |= CSR0_BABL;
	if (f->len > PCNET_MAX_FRAME) {
		s->tx_oversize++; /* its buffers were never gathered */
		return;
	}
	if (pad)
		s->tx_iov[f->iovcnt++] = (struct iovec){ .iov_base = s->pad_zeros, .iov_len = pad };
	if (internal_loopback(s)) {
		tx_stage_loopback(s, f, data, fcs, wire);
		return;
	}
	if (!s->be || !net_backend_link_up(s->be)) {
		f->err = TMD_LCAR; /* "set when the T-MAU was in Link Fail state" */
		return;
	}
	if (!fcs) {
		/* The guest's own FCS ends its buffers; a backend takes frames without one. */
		if (data <= PCNET_FCS_LEN)
			return;
		iov_trim_tail(s->tx_iov, &f->iovcnt, PCNET_FCS_LEN);
	}
	if (f->iovcnt > 0)
		net_backend_send(s->be, s->tx_iov, f->iovcnt);
}

/* Gives the chain's descriptors back in ring order; the error goes in the last one. */
static int tx_release(struct pcnet *s, const struct tx_frame *f)
{
	uint32_t len = ring_len(s, RING_TX);
	uint16_t keep = TMD_ADD_FCS | DESC_STP | DESC_ENP;

	if (s->csr5 & CSR5_LTINTEN)
		keep |= TMD_LTINT; /* otherwise the bit is MORE, which we never set */
	for (uint32_t i = 0; i < f->count; i++) {
		struct pcnet_desc d = { .gpa = pcnet_desc_gpa(s, RING_TX, (f->first + i) % len) };
		uint16_t st;

		if (desc_load_status(s, &d) < 0)
			return -EFAULT;
		st = d.status & keep;
		if (i + 1 == f->count && f->err) {
			if (desc_write_tx_err(s, &d, f->err) < 0)
				return -EFAULT;
			st |= DESC_ERR;
		}
		if (desc_write_status(s, &d, st) < 0)
			return -EFAULT;
	}
	return 0;
}

static void tx_interrupt(struct pcnet *s, const struct tx_frame *f)
{
	bool tint;

	if (f->err)
		tint = true;
	else if ((s->csr5 & CSR5_LTINTEN) && (f->last_status & TMD_LTINT))
		tint = true;
	else
		tint = !(s->csr5 & CSR5_TOKINTD);
	if (tint)
		s->csr0 |= CSR0_TINT;
}

/* One step of the transmit walk: returns the descriptors it used, 0 when there is nothing to
 * send (or the channel halted). */
static uint32_t tx_one(struct pcnet *s)
{
	uint32_t len = ring_len(s, RING_TX), idx = ring_index(s, RING_TX);
	struct pcnet_desc d;
	struct tx_frame f;

	if (desc_read(s, RING_TX, idx, &d) < 0) {
		dma_fault(s, CSR0_TXON);
		return 0;
	}
	if (!(d.status & DESC_OWN))
		return 0;
	if (!(d.status & DESC_STP)) {
		/* "the controller will skip over the descriptor and poll the next" (TMD1 STP) */
		s->tx_idx = (idx + 1) % len;
		return 1;
	}
	s->csr4 |= CSR4_TXSTRT;
	tx_gather(s, &f, idx, d);
	if (f.fault) {
		dma_fault(s, CSR0_TXON);
		return 0;
	}
	if (f.ended)
		tx_send(s, &f);
	else
		f.err = TMD_BUFF | TMD_UFLO; /* TMD2 BUFF: the next buffer was not ours */
	if (tx_release(s, &f) < 0) {
		s->loop_len = 0;
		dma_fault(s, CSR0_TXON);
		return 0;
	}
	s->tx_idx = (idx + f.count) % len;
	tx_interrupt(s, &f);
	/* TMD2 UFLO: the transmitter turns off unless DXSUFLO, which goes on with the next STP. */
	if ((f.err & TMD_UFLO) && !(s->csr3 & CSR3_DXSUFLO))
		s->csr0 &= (uint16_t)~CSR0_TXON;
	if (s->loop_len)
		rx_loopback(s);
	return f.count;
}

/* Walks the transmit ring from the current descriptor, at most once around and at most
 * budget descriptors. */
void pcnet_tx_process(struct pcnet *s, uint32_t budget)
{
	if (budget > ring_len(s, RING_TX))
		budget = ring_len(s, RING_TX);
	while (budget > 0 && tx_active(s)) {
		uint32_t used = tx_one(s);

		if (used == 0)
			break;
		budget -= used < budget ? used : budget;
	}
}

/* True when the backend should be told to deliver again: it holds a frame and the current
 * receive descriptor is ours now. Call net_backend_rx_ready() after unlocking. */
bool pcnet_rx_kick_due(struct pcnet *s)
{
	struct pcnet_desc d;

	if (!s->rx_blocked || !rx_active(s))
		return false;
	d.gpa = pcnet_desc_gpa(s, RING_RX, ring_index(s, RING_RX));
	if (desc_load_status(s, &d) < 0 || !(d.status & DESC_OWN))
		return false;
	s->rx_blocked = false;
	return true;
}
