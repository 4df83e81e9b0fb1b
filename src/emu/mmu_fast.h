/*
 * The TLB-hit fast path of the emu CPU's linear memory accesses (internal to src/emu; the TLB
 * itself is struct x86_tlb in x86_cpu.h, filled and invalidated by mmu.c).
 *
 * A hit is: pick the set from the access kind and the privilege (CPL 3 and not
 * X86_ACC_SUPERVISOR is user), compare one tag, check that the access stays in the page and
 * that the page is RAM, then load/store through the cached host pointer. Everything else (a
 * miss, a page-crossing access, MMIO) goes to the out-of-line x86_linear_read_val /
 * x86_linear_write_val, which walk the page tables, fill the TLB and report faults exactly as
 * x86_linear_read / x86_linear_write do.
 *
 * Usage in cpu.c (x86_mem_read / x86_mem_write):
 *	return x86_fast_read(x->cpu, x->mem, x->opaque, linear, size, X86_ACC_READ, val);
 *	return x86_fast_write(x->cpu, x->mem, x->opaque, linear, size, X86_ACC_WRITE, val);
 * size is 1, 2, 4 or 8; acc one of X86_ACC_READ/WRITE/FETCH, optionally | X86_ACC_SUPERVISOR
 * (a constant, so that the set choice folds). Outside long mode linear must already be
 * truncated to 32 bits (as segmentation produces it); an untruncated address is still
 * correct, it only misses.
 *
 * Values are little-endian; the host is x86-64 (hostvisor runs only there).
 */
#ifndef HOSTVISOR_EMU_MMU_FAST_H
#define HOSTVISOR_EMU_MMU_FAST_H

#include <stdint.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"
#include "hostvisor/x86_mmu.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the emu CPU's memory fast path assumes a little-endian host"
#endif

/* The slow paths (mmu.c): size 1, 2, 4 or 8; the value is little-endian in the low bytes. */
int x86_linear_read_val(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			uint64_t linear, unsigned size, unsigned acc, uint64_t *val);
int x86_linear_write_val(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			 uint64_t linear, unsigned size, unsigned acc, uint64_t val);

/* The TLB slot an access of kind acc at linear looks in. */
static inline struct x86_tlb_entry *x86_tlb_slot(struct x86_cpu *cpu, uint64_t linear, unsigned acc)
{
	unsigned user = cpu->cpl == 3 && !(acc & X86_ACC_SUPERVISOR);

	return &cpu->tlb.set[acc & X86_ACC_KIND_MASK][user][(linear >> 12) & (X86_TLB_SIZE - 1)];
}

/*
 * The host address of the size bytes (1..4096) at linear if one TLB entry allows the access
 * and maps RAM, else NULL (then use the slow path: it reports faults). A non-NULL result
 * stays valid until the next TLB flush.
 */
static inline uint8_t *x86_tlb_host(struct x86_cpu *cpu, uint64_t linear, unsigned size,
				    unsigned acc)
{
	const struct x86_tlb_entry *e = x86_tlb_slot(cpu, linear, acc);
	uint64_t off = linear & 0xfff;

	if (__builtin_expect(e->tag != ((linear - off) | 1) || off + size > 4096 || !e->host, 0))
		return NULL;
	return e->host + off;
}

/* The slow half of x86_code_host (mmu.c): the canonical check and a walk that fills the TLB. */
const uint8_t *x86_code_host_walk(struct x86_cpu *cpu, const struct x86_mem_ops *mem,
				  void *opaque, uint64_t linear, unsigned len, int *rc);

/*
 * The host address of len bytes of code at linear (64-bit mode: no segment base) if they lie
 * within one page of RAM: the fetch TLB's hit path, else a walk. NULL with *rc 0: a
 * non-canonical address (the interpreter raises its #GP), MMIO, or bytes that run into the
 * next page; NULL with *rc set: the walk's fault.
 */
static inline const uint8_t *x86_code_host(struct x86_cpu *cpu, const struct x86_mem_ops *mem,
					   void *opaque, uint64_t linear, unsigned len, int *rc)
{
	const uint8_t *host = x86_tlb_host(cpu, linear, len, X86_ACC_FETCH);

	*rc = 0;
	if (__builtin_expect(host != NULL, 1))
		return host;
	return x86_code_host_walk(cpu, mem, opaque, linear, len, rc);
}

static inline int x86_fast_read(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
				uint64_t linear, unsigned size, unsigned acc, uint64_t *val)
{
	uint8_t *h = x86_tlb_host(cpu, linear, size, acc);

	if (__builtin_expect(h != NULL, 1)) {
		uint16_t v16;
		uint32_t v32;

		switch (size) {
		case 1:
			*val = *h;
			return 0;
		case 2:
			memcpy(&v16, h, 2);
			*val = v16;
			return 0;
		case 4:
			memcpy(&v32, h, 4);
			*val = v32;
			return 0;
		case 8:
			memcpy(val, h, 8);
			return 0;
		default:
			break;
		}
	}
	return x86_linear_read_val(cpu, mem, opaque, linear, size, acc, val);
}

static inline int x86_fast_write(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
				 uint64_t linear, unsigned size, unsigned acc, uint64_t val)
{
	uint8_t *h = x86_tlb_host(cpu, linear, size, acc);

	if (__builtin_expect(h != NULL, 1)) {
		uint16_t v16 = (uint16_t)val;
		uint32_t v32 = (uint32_t)val;

		switch (size) {
		case 1:
			*h = (uint8_t)val;
			return 0;
		case 2:
			memcpy(h, &v16, 2);
			return 0;
		case 4:
			memcpy(h, &v32, 4);
			return 0;
		case 8:
			memcpy(h, &val, 8);
			return 0;
		default:
			break;
		}
	}
	return x86_linear_write_val(cpu, mem, opaque, linear, size, acc, val);
}

#endif
