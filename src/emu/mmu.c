/*
 * Linear-to-physical translation and linear memory access of the emu CPU (Intel SDM vol. 3A
 * ch. 4 "Paging"; AMD APM vol. 2 ch. 5). See x86_mmu.h; the TLB-hit path is in mmu_fast.h.
 *
 * Design:
 * - The TLB (struct x86_tlb) has a direct-mapped set per access kind and privilege. A walk puts
 *   its result only in the set of the access that walked (and, for a write, also in the read
 *   set of the same privilege: a write permission implies the read one), so a hit needs no
 *   permission check. A write entry is created only by a write walk, i.e. after D was set.
 *   The sets depend on CR0.WP and EFER.NXE; x86_mmu.h makes changing those flush the TLB.
 * - Not-present, reserved-bit and permission faults are never cached, and a #PF drops the
 *   entries of its address (SDM 4.10.4.2), so a guest may upgrade permissions without INVLPG.
 * - A and D are set only by a walk that succeeds (SDM 4.8 allows not setting them on a
 *   fault), with a compare-exchange on the entry: if another vCPU changed it meanwhile, the
 *   walk starts again (at most WALK_RETRIES times; then the access proceeds on the last walk's
 *   result without updating A/D and without caching it, so a hostile guest cannot hold us).
 * - PAE PDPTEs are read at walk time rather than at MOV CR3 (SDM 4.4.1); a reserved bit in a
 *   present PDPTE (which would be a #GP of MOV CR3) is reported as a #PF with RSVD.
 * - Large pages are cached as 4 KiB pieces flagged X86_TLBF_2M/4M. INVLPG must drop every
 *   piece of the large page (SDM 4.10.4.1); to avoid a search on every INVLPG, a hash filter of
 *   2 MiB regions (tlb.large) says where pieces may be, and only a hit searches the sets.
 */
#include <string.h>

#include "hostvisor/x86_mmu.h"
#include "exec_internal.h"
#include "mmu_fast.h"

#define PAGE_SIZE 4096ull
#define PAGE_OFFSET (PAGE_SIZE - 1)
#define PAGE_MASK (~PAGE_OFFSET)

/* Paging-structure entry bits (SDM tables 4-4 to 4-20). */
#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_G (1ull << 8)
#define PTE_XD (1ull << 63)

#define PHYS_LIMIT (1ull << X86_MAXPHYADDR)
#define ADDR_4K ((PHYS_LIMIT - 1) & PAGE_MASK)
#define ADDR_2M ((PHYS_LIMIT - 1) & ~0x1fffffull)
#define ADDR_32_4K 0xfffff000ull
#define ADDR_32_4M 0xffc00000ull
/* Reserved bits: 51:MAXPHYADDR of PAE / 4-level entries; a PAE PDPTE's 2:1, 8:5 and 63:M;
 * 20:13 of a 2 MiB PDE; 21:13 of a 4 MiB PDE (M = 32 without PSE-36, SDM table 4-4). */
#define RSVD_HIGH (((1ull << 52) - 1) & ~(PHYS_LIMIT - 1))
#define RSVD_PAE_PDPTE (0x1e6ull | ~(PHYS_LIMIT - 1))
#define RSVD_2M 0x1fe000ull
#define RSVD_4M 0x3fe000ull

#define WALK_RETRIES 16
#define WALK_LOST 1 /* an A/D update found the entry changed: walk again */

#define LARGE_BITS (X86_TLB_LARGE_WORDS * 64)

enum paging_kind { PAGING_32, PAGING_PAE, PAGING_4LEVEL };

/* One paging-structure entry read by a walk. */
struct pt_entry {
	uint64_t addr;	/* physical address of the entry */
	uint64_t val;	/* as read */
	uint8_t *host;	/* host address if the table is RAM, else NULL (mem->read etc.) */
	unsigned width; /* 4 (32-bit paging) or 8 */
	bool has_flags; /* has A, R/W and U/S (all but a PAE PDPTE) */
};

/* What a walk found for the 4 KiB piece of linear. */
struct walk_result {
	uint64_t phys_page;
	unsigned flags; /* X86_TLBF_* */
	bool cacheable;
};

static unsigned tlb_index(uint64_t linear)
{
	return (linear >> 12) & (X86_TLB_SIZE - 1);
}

static uint64_t tlb_tag(uint64_t linear)
{
	return (linear & PAGE_MASK) | 1;
}

static uint64_t large_size(uint64_t flags)
{
	return (flags & X86_TLBF_4M) ? (4ull << 20) : (2ull << 20);
}

static unsigned large_hash(uint64_t linear)
{
	uint64_t region = linear >> 21;

	return (unsigned)((region ^ (region >> 10) ^ (region >> 20)) & (LARGE_BITS - 1));
}

/* Records that pieces of the large page of a TLB entry may be cached. */
static void large_mark(struct x86_tlb *tlb, const struct x86_tlb_entry *e)
{
	uint64_t size = large_size(e->phys);
	uint64_t base = e->tag & ~(size - 1);

	for (uint64_t off = 0; off < size; off += 2ull << 20) {
		unsigned h = large_hash(base + off);

		tlb->large[h / 64] |= 1ull << (h % 64);
	}
}

static bool large_maybe(const struct x86_tlb *tlb, uint64_t linear)
{
	unsigned h = large_hash(linear);

	return tlb->large[h / 64] & (1ull << (h % 64));
}

/* Linear addresses are 32 bits wide outside long mode (SDM 3.3.6). */
static uint64_t linear_width(const struct x86_cpu *cpu, uint64_t linear)
{
	return (cpu->efer & X86_EFER_LMA) ? linear : (linear & 0xffffffffull);
}

/* Drops the 4 KiB entries of one page from every set. */
static void tlb_drop_slot(struct x86_cpu *cpu, uint64_t linear)
{
	unsigned idx = tlb_index(linear);
	uint64_t tag = tlb_tag(linear);

	for (int k = 0; k < 3; k++)
		for (int u = 0; u < 2; u++)
			if (cpu->tlb.set[k][u][idx].tag == tag)
				cpu->tlb.set[k][u][idx].tag = 0;
}

/*
 * Drops the non-global entries, or the pieces of the large pages containing linear, and
 * rebuilds the large-page filter from what stays.
 */
enum sweep { SWEEP_NON_GLOBAL, SWEEP_LARGE_AT };

static void tlb_sweep(struct x86_cpu *cpu, enum sweep what, uint64_t linear)
{
	struct x86_tlb *tlb = &cpu->tlb;

	memset(tlb->large, 0, sizeof(tlb->large));
	for (int k = 0; k < 3; k++) {
		for (int u = 0; u < 2; u++) {
			for (unsigned i = 0; i < X86_TLB_SIZE; i++) {
				struct x86_tlb_entry *e = &tlb->set[k][u][i];
				bool large = e->phys & (X86_TLBF_2M | X86_TLBF_4M);

				if (!e->tag)
					continue;
				if (what == SWEEP_NON_GLOBAL && !(e->phys & X86_TLBF_GLOBAL))
					e->tag = 0;
				else if (what == SWEEP_LARGE_AT && large &&
					 !((e->tag ^ linear) & ~(large_size(e->phys) - 1)))
					e->tag = 0;
				else if (large)
					large_mark(tlb, e);
			}
		}
	}
}

void x86_tlb_flush(struct x86_cpu *cpu, bool include_global)
{
	uint32_t flushes = cpu->tlb.flushes;

	if (include_global)
		memset(&cpu->tlb, 0, sizeof(cpu->tlb));
	else
		tlb_sweep(cpu, SWEEP_NON_GLOBAL, 0);
	cpu->tlb.flushes = flushes + 1;
}

/* INVLPG (SDM 4.10.4.1): every entry of the page containing linear, global ones included. */
void x86_tlb_flush_page(struct x86_cpu *cpu, uint64_t linear)
{
	linear = linear_width(cpu, linear);
	cpu->tlb.flushes++;
	tlb_drop_slot(cpu, linear);
	if (large_maybe(&cpu->tlb, linear))
		tlb_sweep(cpu, SWEEP_LARGE_AT, linear);
}

/* Reads a paging-structure entry: atomically from RAM, else through mem->read. */
static int pte_read(const struct x86_mem_ops *mem, void *opaque, uint64_t addr, unsigned width,
		    struct pt_entry *e)
{
	uint8_t *page = mem->ram_page ? mem->ram_page(opaque, addr & PAGE_MASK) : NULL;
	uint64_t v = 0;
	int rc;

	e->addr = addr;
	e->width = width;
	e->has_flags = true;
	e->host = NULL;
	/* Entries are naturally aligned in the table; a RAM page not even 8-byte aligned on
	 * the host (never the case with mmap'ed RAM) is treated like MMIO. */
	if (page && !((uintptr_t)page & 7)) {
		e->host = page + (addr & PAGE_OFFSET);
		if (width == 8)
			e->val = __atomic_load_n((uint64_t *)(void *)e->host, __ATOMIC_ACQUIRE);
		else
			e->val = __atomic_load_n((uint32_t *)(void *)e->host, __ATOMIC_ACQUIRE);
		return 0;
	}
	rc = mem->read(opaque, addr, &v, width);
	e->val = v;
	return rc;
}

/* Stores val | bits into an entry if it still holds what the walk read: 0, WALK_LOST or an
 * error of mem->cmpxchg/write. */
static int pte_update(const struct x86_mem_ops *mem, void *opaque, const struct pt_entry *e,
		      uint64_t bits)
{
	uint64_t expected = e->val, desired = e->val | bits;
	bool swapped;
	int rc;

	if (e->host && e->width == 8) {
		swapped =
		    __atomic_compare_exchange_n((uint64_t *)(void *)e->host, &expected, desired,
						false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	} else if (e->host) {
		uint32_t exp32 = (uint32_t)expected;

		swapped = __atomic_compare_exchange_n((uint32_t *)(void *)e->host, &exp32,
						      (uint32_t)desired, false, __ATOMIC_SEQ_CST,
						      __ATOMIC_SEQ_CST);
	} else if (mem->cmpxchg) {
		rc = mem->cmpxchg(opaque, e->addr, &expected, &desired, e->width, &swapped);
		if (rc)
			return rc;
	} else {
		return mem->write(opaque, e->addr, &desired, e->width);
	}
	return swapped ? 0 : WALK_LOST;
}

static int page_fault(struct x86_cpu *cpu, uint64_t linear, uint32_t error_code)
{
	cpu->fault_addr = linear;
	cpu->fault_error_code = error_code;
	tlb_drop_slot(cpu, linear); /* SDM 4.10.4.2: a #PF invalidates the address's entries */
	return X86_EXC_PF;
}

static enum paging_kind paging_kind(const struct x86_cpu *cpu)
{
	if (cpu->efer & X86_EFER_LMA)
		return PAGING_4LEVEL;
	return (cpu->cr4 & X86_CR4_PAE) ? PAGING_PAE : PAGING_32;
}

/*
 * The reserved bits of an entry at the level whose index starts at bit shift, and whether it
 * maps a page (*flags: 0 for 4 KiB, X86_TLBF_2M/4M for a large page) or a table (-1).
 */
static uint64_t entry_rules(const struct x86_cpu *cpu, enum paging_kind pk, struct pt_entry *e,
			    unsigned shift, int *page_flags)
{
	uint64_t rsvd = RSVD_HIGH | ((cpu->efer & X86_EFER_NXE) ? 0 : PTE_XD);

	*page_flags = shift == 12 ? 0 : -1;
	switch (pk) {
	case PAGING_4LEVEL:
		if (shift >= 30)
			return rsvd | PTE_PS; /* PML4E bit 7; PDPTE PS: no 1 GiB pages */
		break;
	case PAGING_PAE:
		if (shift == 30) {
			e->has_flags = false;
			return RSVD_PAE_PDPTE;
		}
		break;
	case PAGING_32:
		if (shift == 22 && (cpu->cr4 & X86_CR4_PSE) && (e->val & PTE_PS)) {
			*page_flags = X86_TLBF_4M;
			return RSVD_4M;
		}
		return 0; /* PS is ignored without CR4.PSE; 32-bit PTEs have no reserved bits */
	}
	if (shift == 21 && (e->val & PTE_PS)) {
		*page_flags = X86_TLBF_2M;
		rsvd |= RSVD_2M;
	}
	return rsvd;
}

/* SDM 4.6: is the access allowed by the combined R/W, U/S and XD of all levels? */
static bool access_allowed(const struct x86_cpu *cpu, unsigned kind, bool user, bool rw, bool us,
			   bool xd)
{
	if (user && !us)
		return false;
	switch (kind) {
	case X86_ACC_WRITE:
		return rw || (!user && !(cpu->cr0 & X86_CR0_WP));
	case X86_ACC_FETCH:
		return !xd;
	default:
		return true;
	}
}

/* The physical address of the 4 KiB piece of linear inside the page a leaf entry maps. */
static uint64_t leaf_page(enum paging_kind pk, uint64_t val, int page_flags, uint64_t linear)
{
	if (page_flags == X86_TLBF_4M)
		return (val & ADDR_32_4M) | (linear & 0x3ff000ull);
	if (page_flags == X86_TLBF_2M)
		return (val & ADDR_2M) | (linear & 0x1ff000ull);
	return val & (pk == PAGING_32 ? ADDR_32_4K : ADDR_4K);
}

/*
 * One page walk (SDM 4.3, 4.4.2, 4.5). Returns 0, X86_EXC_PF (fault details set), WALK_LOST
 * (an A/D update raced with another vCPU) or an error of the memory callbacks.
 */
static int walk_once(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		     uint64_t linear, unsigned kind, bool user, bool update,
		     struct walk_result *res)
{
	static const uint8_t shifts_4level[] = {39, 30, 21, 12}, shifts_pae[] = {30, 21, 12},
			     shifts_32[] = {22, 12};
	enum paging_kind pk = paging_kind(cpu);
	bool nxe = pk != PAGING_32 && (cpu->efer & X86_EFER_NXE);
	uint32_t ec = (kind == X86_ACC_WRITE ? X86_PF_W : 0) | (user ? X86_PF_U : 0) |
		      (kind == X86_ACC_FETCH && nxe ? X86_PF_I : 0);
	const uint8_t *shifts;
	unsigned levels, width = pk == PAGING_32 ? 4 : 8, n;
	uint64_t table;
	struct pt_entry ent[4];
	bool rw = true, us = true, xd = false;
	int page_flags = -1, rc;

	switch (pk) {
	case PAGING_4LEVEL:
		shifts = shifts_4level, levels = 4, table = cpu->cr3 & ADDR_4K;
		break;
	case PAGING_PAE:
		shifts = shifts_pae, levels = 3, table = cpu->cr3 & 0xffffffe0ull;
		break;
	default:
		shifts = shifts_32, levels = 2, table = cpu->cr3 & ADDR_32_4K;
		break;
	}
	for (n = 0; n < levels && page_flags < 0;) {
		unsigned shift = shifts[n];
		uint64_t index_mask = pk == PAGING_32		   ? 0x3ff
				      : shift == 30 && levels == 3 ? 3
								   : 0x1ff;
		struct pt_entry *e = &ent[n++];
		uint64_t rsvd;

		rc = pte_read(mem, opaque, table + ((linear >> shift) & index_mask) * width, width,
			      e);
		if (rc)
			return rc;
		if (!(e->val & PTE_P))
			return page_fault(cpu, linear, ec);
		rsvd = entry_rules(cpu, pk, e, shift, &page_flags);
		if (e->val & rsvd)
			return page_fault(cpu, linear, ec | X86_PF_P | X86_PF_RSVD);
		if (e->has_flags) {
			rw = rw && (e->val & PTE_RW);
			us = us && (e->val & PTE_US);
		}
		xd = xd || (nxe && (e->val & PTE_XD));
		table = e->val & (pk == PAGING_32 ? ADDR_32_4K : ADDR_4K);
	}
	if (!access_allowed(cpu, kind, user, rw, us, xd))
		return page_fault(cpu, linear, ec | X86_PF_P);
	/* SDM 4.8: A on every entry used, D on the one that maps the page for a write. */
	for (unsigned i = 0; update && i < n; i++) {
		uint64_t bits = PTE_A | (i == n - 1 && kind == X86_ACC_WRITE ? PTE_D : 0);

		if (!ent[i].has_flags || (ent[i].val & bits) == bits)
			continue;
		rc = pte_update(mem, opaque, &ent[i], bits);
		if (rc)
			return rc;
	}
	res->phys_page = leaf_page(pk, ent[n - 1].val, page_flags, linear);
	res->flags = (unsigned)page_flags;
	if ((ent[n - 1].val & PTE_G) && (cpu->cr4 & X86_CR4_PGE))
		res->flags |= X86_TLBF_GLOBAL;
	res->cacheable = update;
	return 0;
}

static int walk(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque, uint64_t linear,
		unsigned kind, bool user, struct walk_result *res)
{
	int rc = WALK_LOST;

	for (int i = 0; i < WALK_RETRIES && rc == WALK_LOST; i++)
		rc = walk_once(cpu, mem, opaque, linear, kind, user, true, res);
	if (rc == WALK_LOST)
		rc = walk_once(cpu, mem, opaque, linear, kind, user, false, res);
	return rc;
}

/*
 * Translates the page of linear for an access: the TLB entry (a copy) on success, else the
 * fault. The entry's tag says which linear page it is for.
 */
static int translate(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		     uint64_t linear, unsigned acc, struct x86_tlb_entry *out)
{
	unsigned kind = acc & X86_ACC_KIND_MASK;
	bool user = cpu->cpl == 3 && !(acc & X86_ACC_SUPERVISOR);
	struct walk_result res = {.cacheable = true};
	struct x86_tlb_entry *slot;
	int rc;

	if (kind > X86_ACC_FETCH)
		kind = X86_ACC_READ;
	linear = linear_width(cpu, linear);
	slot = &cpu->tlb.set[kind][user][tlb_index(linear)];
	if (slot->tag == tlb_tag(linear)) {
		*out = *slot;
		return 0;
	}
	if (cpu->cr0 & X86_CR0_PG) {
		rc = walk(cpu, mem, opaque, linear, kind, user, &res);
		if (rc)
			return rc;
	} else {
		res.phys_page = linear & PAGE_MASK;
	}
	out->tag = tlb_tag(linear);
	out->host = mem->ram_page ? mem->ram_page(opaque, res.phys_page) : NULL;
	out->phys = res.phys_page | res.flags;
	if (!res.cacheable)
		return 0;
	if (kind == X86_ACC_WRITE && cpu->tlb.code_pages &&
	    x86_code_page_test(cpu->tlb.code_pages, res.phys_page)) {
		cpu->tlb.flushes++; /* translated code on this page is checked before it runs again */
		return 0;
	}
	*slot = *out;
	if (kind == X86_ACC_WRITE)
		cpu->tlb.set[X86_ACC_READ][user][tlb_index(linear)] = *out;
	if (res.flags & (X86_TLBF_2M | X86_TLBF_4M))
		large_mark(&cpu->tlb, out);
	return 0;
}

int x86_mmu_translate(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		      uint64_t linear, unsigned acc, uint64_t *phys, uint8_t **host)
{
	struct x86_tlb_entry e;
	int rc = translate(cpu, mem, opaque, linear, acc, &e);

	if (rc)
		return rc;
	*phys = (e.phys & PAGE_MASK) | (linear & PAGE_OFFSET);
	if (host)
		*host = e.host ? e.host + (linear & PAGE_OFFSET) : NULL;
	return 0;
}

const uint8_t *x86_code_host_walk(struct x86_cpu *cpu, const struct x86_mem_ops *mem,
				  void *opaque, uint64_t linear, unsigned len, int *rc)
{
	uint8_t *walked;
	uint64_t phys;

	*rc = 0;
	if (!x86_is_canonical(linear)) /* SDM vol. 1 3.3.7.1: the interpreter raises the #GP */
		return NULL;
	*rc = x86_mmu_translate(cpu, mem, opaque, linear, X86_ACC_FETCH, &phys, &walked);
	if (*rc || !walked || (phys & PAGE_OFFSET) + len > PAGE_SIZE)
		return NULL;
	return walked;
}

/* Reads or writes n bytes within one translated page; MMIO in pieces of at most 16 bytes
 * (the x86_mem_ops contract). */
static int page_io(const struct x86_mem_ops *mem, void *opaque, const struct x86_tlb_entry *e,
		   uint64_t linear, void *rbuf, const void *wbuf, size_t n)
{
	uint64_t off = linear & PAGE_OFFSET, phys = (e->phys & PAGE_MASK) | off;
	int rc = 0;

	if (e->host && rbuf) {
		memcpy(rbuf, e->host + off, n);
		return 0;
	}
	if (e->host) {
		memcpy(e->host + off, wbuf, n);
		return 0;
	}
	for (size_t done = 0, piece; done < n && rc == 0; done += piece) {
		piece = n - done < 16 ? n - done : 16;
		if (rbuf)
			rc = mem->read(opaque, phys + done, (uint8_t *)rbuf + done, piece);
		else
			rc = mem->write(opaque, phys + done, (const uint8_t *)wbuf + done, piece);
	}
	return rc;
}

static size_t page_rest(uint64_t linear)
{
	return PAGE_SIZE - (linear & PAGE_OFFSET);
}

/*
 * Accesses [linear, linear + len): every page is translated before the first byte is touched,
 * so a fault on a later page leaves memory (and MMIO devices) untouched. The second pass finds
 * the translations in the TLB. (Only a translation that could not be cached, after
 * WALK_RETRIES lost A/D races, is walked again.)
 */
static int access(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque, uint64_t linear,
		  void *rbuf, const void *wbuf, size_t len, unsigned acc)
{
	struct x86_tlb_entry e;
	size_t done, n;
	int rc;

	if (len == 0)
		return 0;
	if (len > page_rest(linear)) {
		for (done = 0; done < len; done += n) {
			n = page_rest(linear + done);
			rc = translate(cpu, mem, opaque, linear + done, acc, &e);
			if (rc)
				return rc;
		}
	}
	for (done = 0; done < len; done += n) {
		n = page_rest(linear + done);
		if (n > len - done)
			n = len - done;
		rc = translate(cpu, mem, opaque, linear + done, acc, &e);
		if (rc == 0)
			rc = page_io(mem, opaque, &e, linear + done,
				     rbuf ? (uint8_t *)rbuf + done : NULL,
				     wbuf ? (const uint8_t *)wbuf + done : NULL, n);
		if (rc)
			return rc;
	}
	return 0;
}

int x86_linear_read(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		    uint64_t linear, void *buf, size_t len, unsigned acc)
{
	return access(cpu, mem, opaque, linear, buf, NULL, len, acc);
}

int x86_linear_write(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		     uint64_t linear, const void *buf, size_t len, unsigned acc)
{
	return access(cpu, mem, opaque, linear, NULL, buf, len,
		      (acc & ~X86_ACC_KIND_MASK) | X86_ACC_WRITE);
}

int x86_linear_read_val(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			uint64_t linear, unsigned size, unsigned acc, uint64_t *val)
{
	uint64_t v = 0;
	int rc = access(cpu, mem, opaque, linear, &v, NULL, size > 8 ? 8 : size, acc);

	if (rc == 0)
		*val = v;
	return rc;
}

int x86_linear_write_val(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
			 uint64_t linear, unsigned size, unsigned acc, uint64_t val)
{
	return access(cpu, mem, opaque, linear, NULL, &val, size > 8 ? 8 : size,
		      (acc & ~X86_ACC_KIND_MASK) | X86_ACC_WRITE);
}

/* A compare-exchange on host RAM: atomic for naturally aligned 1, 2, 4 and 8 bytes. */
static bool host_cmpxchg(uint8_t *p, const void *expected, const void *desired, size_t len)
{
	uint64_t e = 0, d = 0;

	if (len > 8 || ((uintptr_t)p & (len - 1))) {
		/* CMPXCHG16B is not advertised (no CX16) and split locks are rare: not atomic. */
		if (memcmp(p, expected, len))
			return false;
		memcpy(p, desired, len);
		return true;
	}
	memcpy(&e, expected, len);
	memcpy(&d, desired, len);
	switch (len) {
	case 1:
		return __atomic_compare_exchange_n(p, (uint8_t *)&e, (uint8_t)d, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	case 2:
		return __atomic_compare_exchange_n((uint16_t *)(void *)p, (uint16_t *)&e,
						   (uint16_t)d, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	case 4:
		return __atomic_compare_exchange_n((uint32_t *)(void *)p, (uint32_t *)&e,
						   (uint32_t)d, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	default:
		return __atomic_compare_exchange_n((uint64_t *)(void *)p, &e, d, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
}

int x86_linear_cmpxchg(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		       uint64_t linear, const void *expected, const void *desired, size_t len,
		       bool *swapped)
{
	struct x86_tlb_entry e;
	uint8_t cur[16];
	int rc;

	if (len == 0 || len > sizeof(cur) || (len & (len - 1))) {
		cpu->fault_error_code = 0;
		return X86_EXC_GP;
	}
	*swapped = false;
	if (len <= page_rest(linear)) {
		rc = translate(cpu, mem, opaque, linear, X86_ACC_WRITE, &e);
		if (rc)
			return rc;
		if (e.host) {
			*swapped =
			    host_cmpxchg(e.host + (linear & PAGE_OFFSET), expected, desired, len);
			return 0;
		}
		if (mem->cmpxchg)
			return mem->cmpxchg(opaque, (e.phys & PAGE_MASK) | (linear & PAGE_OFFSET),
					    expected, desired, len, swapped);
	}
	/* MMIO without cmpxchg, or across a page: read-compare-write, both pages checked for
	 * writing first. */
	rc = access(cpu, mem, opaque, linear, cur, NULL, len, X86_ACC_WRITE);
	if (rc || memcmp(cur, expected, len))
		return rc;
	rc = x86_linear_write(cpu, mem, opaque, linear, desired, len, X86_ACC_WRITE);
	*swapped = rc == 0;
	return rc;
}
