/*
 * The JIT run's memory in cpu_conformance: the code page and the JIT's own copy of the scratch
 * region at the linear addresses the host runs the case at, as in emu_memory.h, but reached
 * through 4-level paging (SDM vol. 3A 4.5). The translation cache's inline paths need the TLB
 * to hold host pointers (x86_mem_ops.ram_page) for the code page and the data, and ram_page
 * cannot tell a write from a read; paging keeps the code page read-only anyway: its leaf entry
 * has R/W clear, so a CPL-3 write to it is a #PF whatever CR0.WP says (SDM 4.6.1), as the
 * unmapped-for-writes code region of emu_memory.h is. The scratch pages are no-execute (XD,
 * EFER.NXE is set by x86_cpu_init), as the host's heap is.
 *
 * The physical layout is made up (the linear addresses of a user process do not fit the emu
 * CPU's 40 physical address bits): page tables at JM_PHYS_TABLES, the code page at
 * JM_PHYS_CODE, the scratch region at JM_PHYS_DATA. Every other physical address is absent
 * (X86_EXC_PF from read/write, as emu_memory.h answers; no page maps there anyway).
 *
 * With data_mmio set the scratch pages are not RAM (ram_page NULL): the TLB then has no host
 * pointer for them and every data access goes through read/write, the way MMIO does.
 */
#ifndef HOSTVISOR_TEST_CPU_JIT_MEMORY_H
#define HOSTVISOR_TEST_CPU_JIT_MEMORY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"

#define JM_PAGE 4096ull
#define JM_TABLES 16 /* PML4 + two chains of 3, and more if the scratch crosses a 2 MiB line */
#define JM_PHYS_TABLES 0x100000ull
#define JM_PHYS_CODE 0x200000ull
#define JM_PHYS_DATA 0x400000ull

/* Paging-structure entry bits (SDM vol. 3A table 4-19 and following) */
#define JM_P (1ull << 0)
#define JM_RW (1ull << 1)
#define JM_US (1ull << 2)
#define JM_XD (1ull << 63)
#define JM_ADDR 0x000ffffffffff000ull

struct jit_memory {
	uint8_t *tables; /* JM_TABLES pages, the first one the PML4 */
	unsigned tables_used;
	uint64_t code_at;
	uint8_t *code; /* one page */
	uint64_t data_at, data_len;
	uint8_t *data;
	bool data_mmio;
};

static inline uint64_t *jit_memory_table(const struct jit_memory *m, uint64_t phys)
{
	return (uint64_t *)(void *)(m->tables + (phys - JM_PHYS_TABLES));
}

/* Points linear's 4 KiB page at leaf, making the missing tables on the way (user, writable:
 * the leaf alone decides). 0, or -1 when JM_TABLES are not enough. */
static inline int jit_memory_map(struct jit_memory *m, uint64_t linear, uint64_t leaf)
{
	uint64_t *table = jit_memory_table(m, JM_PHYS_TABLES);

	for (unsigned shift = 39; shift > 12; shift -= 9) {
		uint64_t *e = &table[(linear >> shift) & 511];

		if (!(*e & JM_P)) {
			if (m->tables_used == JM_TABLES)
				return -1;
			*e = (JM_PHYS_TABLES + JM_PAGE * m->tables_used++) | JM_P | JM_RW | JM_US;
		}
		table = jit_memory_table(m, *e & JM_ADDR);
	}
	table[(linear >> 12) & 511] = leaf;
	return 0;
}

/* code_at and data_at page-aligned, data_len a multiple of the page size; 0 or -1. */
static inline int jit_memory_init(struct jit_memory *m, uint64_t code_at, uint8_t *code,
				  uint64_t data_at, uint64_t data_len, uint8_t *data)
{
	int rc;

	*m = (struct jit_memory){.code_at = code_at,
				 .code = code,
				 .data_at = data_at,
				 .data_len = data_len,
				 .data = data,
				 .tables_used = 1};
	if ((code_at | data_at | data_len) & (JM_PAGE - 1))
		return -1;
	m->tables = aligned_alloc(JM_PAGE, JM_TABLES * JM_PAGE);
	if (!m->tables)
		return -1;
	memset(m->tables, 0, JM_TABLES * JM_PAGE);
	rc = jit_memory_map(m, code_at, JM_PHYS_CODE | JM_P | JM_US);
	for (uint64_t off = 0; rc == 0 && off < data_len; off += JM_PAGE)
		rc = jit_memory_map(m, data_at + off,
				    (JM_PHYS_DATA + off) | JM_P | JM_RW | JM_US | JM_XD);
	return rc;
}

static inline void jit_memory_free(struct jit_memory *m)
{
	free(m->tables);
	m->tables = NULL;
}

/* CR3 for a CPU running on this memory. */
static inline uint64_t jit_memory_cr3(void)
{
	return JM_PHYS_TABLES;
}

static inline bool jit_memory_within(uint64_t a, size_t len, uint64_t at, uint64_t size)
{
	return a >= at && a + len >= a && a + len <= at + size;
}

/* The host address of [phys, phys + len), or NULL if absent (or the code page, for a write). */
static inline uint8_t *jit_memory_host(const struct jit_memory *m, uint64_t phys, size_t len,
				       bool write)
{
	if (jit_memory_within(phys, len, JM_PHYS_TABLES, JM_TABLES * JM_PAGE))
		return m->tables + (phys - JM_PHYS_TABLES);
	if (!write && jit_memory_within(phys, len, JM_PHYS_CODE, JM_PAGE))
		return m->code + (phys - JM_PHYS_CODE);
	if (jit_memory_within(phys, len, JM_PHYS_DATA, m->data_len))
		return m->data + (phys - JM_PHYS_DATA);
	return NULL;
}

static inline int jit_memory_read(void *opaque, uint64_t a, void *buf, size_t len)
{
	const uint8_t *p = jit_memory_host(opaque, a, len, false);

	if (!p)
		return X86_EXC_PF;
	memcpy(buf, p, len);
	return 0;
}

static inline int jit_memory_write(void *opaque, uint64_t a, const void *buf, size_t len)
{
	uint8_t *p = jit_memory_host(opaque, a, len, true);

	if (!p)
		return X86_EXC_PF;
	memcpy(p, buf, len);
	return 0;
}

/* Every page is RAM but the scratch pages with data_mmio set. */
static inline uint8_t *jit_memory_ram_page(void *opaque, uint64_t page)
{
	const struct jit_memory *m = opaque;

	if (m->data_mmio && jit_memory_within(page, JM_PAGE, JM_PHYS_DATA, m->data_len))
		return NULL;
	return jit_memory_host(m, page, JM_PAGE, false);
}

static const struct x86_mem_ops jit_memory_ops = {
    .read = jit_memory_read, .write = jit_memory_write, .ram_page = jit_memory_ram_page};

#endif
