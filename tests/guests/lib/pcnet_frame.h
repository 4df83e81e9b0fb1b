/*
 * The test frames of the pcnet guest (tests/guests/pcnet.c) and its host-side peer
 * (tests/guests/pcnet_peer.py). Both sides build the expected frame from this one spec and
 * compare byte for byte; the peer's Python mirrors every function here, name for name.
 *
 * Frame layout (all multi-byte header fields big-endian, as on the wire):
 *    0  destination MAC   guest data and control frames: ff:ff:ff:ff:ff:ff (broadcast);
 *                         peer data frames: the guest's MAC
 *    6  source MAC        the sender's own MAC
 *   12  ethertype 0x88b5  (IEEE 802 local experimental ethertype 1)
 *   14  magic "HVP", then the kind: 'D' guest data, 'P' peer data,
 *                         'R' guest ready (its N data frames are out; seq = N),
 *                         'A' guest acknowledgement (seq = peer frames received so far)
 *   18  seq               u32, 0.. per kind
 *   22  length            u16, the whole frame's length without the FCS
 *   24  payload           data frames: length - 24 bytes of the pattern pool from offset
 *                         pf_offset(kind, seq); control frames ('R', 'A'): zeros
 *
 * Data frame lengths are pf_length(kind, seq), 60..1514 (the Ethernet minimum without FCS up to
 * the maximum); control frames are 60 bytes.
 *
 * The pattern pool is PF_POOL_SIZE + PF_MAX_LEN bytes: the xorshift32 sequence (Marsaglia,
 * "Xorshift RNGs", 2003, shifts 13/17/5) from PF_POOL_SEED, each 32-bit output stored
 * little-endian. Per-frame hashing uses the MurmurHash3 32-bit finaliser ("fmix32").
 */
#ifndef GUEST_PCNET_FRAME_H
#define GUEST_PCNET_FRAME_H

#include <stdint.h>

#define PF_ETHERTYPE 0x88b5
#define PF_HDR_LEN 24
#define PF_MIN_LEN 60
#define PF_MAX_LEN 1514
#define PF_POOL_SIZE 65536u
#define PF_POOL_SEED 0x2545f491u
#define PF_KIND_GUEST_DATA 'D'
#define PF_KIND_PEER_DATA 'P'
#define PF_KIND_READY 'R'
#define PF_KIND_ACK 'A'

static inline uint32_t pf_fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static inline uint32_t pf_hash(uint8_t kind, uint32_t seq)
{
	return pf_fmix32(seq ^ ((uint32_t)kind << 24));
}

static inline unsigned pf_length(uint8_t kind, uint32_t seq)
{
	return PF_MIN_LEN + pf_hash(kind, seq) % (PF_MAX_LEN - PF_MIN_LEN + 1);
}

static inline unsigned pf_offset(uint8_t kind, uint32_t seq)
{
	return pf_fmix32(pf_hash(kind, seq)) % PF_POOL_SIZE;
}

/* pool holds PF_POOL_SIZE + PF_MAX_LEN bytes (a multiple of 4 is not required). */
static inline void pf_pool_fill(uint8_t *pool)
{
	uint32_t x = PF_POOL_SEED;

	for (unsigned i = 0; i < PF_POOL_SIZE + PF_MAX_LEN; i += 4) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		for (unsigned b = 0; b < 4 && i + b < PF_POOL_SIZE + PF_MAX_LEN; b++)
			pool[i + b] = (uint8_t)(x >> (8 * b));
	}
}

static inline void pf_put_be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void pf_put_be32(uint8_t *p, uint32_t v)
{
	pf_put_be16(p, v >> 16);
	pf_put_be16(p + 2, v & 0xffff);
}

/* The 24-byte header of a frame of len bytes. */
static inline void pf_header(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint8_t kind,
			     uint32_t seq, unsigned len)
{
	for (int i = 0; i < 6; i++) {
		f[i] = dst[i];
		f[6 + i] = src[i];
	}
	pf_put_be16(f + 12, PF_ETHERTYPE);
	f[14] = 'H';
	f[15] = 'V';
	f[16] = 'P';
	f[17] = kind;
	pf_put_be32(f + 18, seq);
	pf_put_be16(f + 22, len);
}

#endif
