/*
 * Unit tests for the emu CPU's MMU (src/emu/mmu.c): page tables built in a flat fake physical
 * memory, every #PF kind and error code of SDM 4.7 in 32-bit, PAE and 4-level paging, large
 * pages, A/D bits (SDM 4.8), the TLB's caching and invalidation (SDM 4.10.4), page-crossing
 * accesses, MMIO pages and page tables, compare-exchange, and the mmu_fast.h hit path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"
#include "hostvisor/x86_mmu.h"
#include "../../src/emu/mmu_fast.h"

#define RAM_SIZE (4u << 20)
#define MMIO_PAGE 0x3ff000ull /* not RAM: goes to read/write */
#define TABLES 0x100000ull    /* page tables are allocated from here */

#define P 0x1ull
#define RW 0x2ull
#define US 0x4ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define G 0x100ull
#define XD (1ull << 63)

#define RD X86_ACC_READ
#define WR X86_ACC_WRITE
#define EX X86_ACC_FETCH
#define SUP X86_ACC_SUPERVISOR

struct fake {
	uint8_t *ram;
	uint64_t next_table;
	bool no_ram_page; /* everything through read/write (page tables in "MMIO") */
	bool with_cmpxchg;
	int cmpxchg_fail; /* so many cmpxchg calls report a lost race (-1: all) */
	int cmpxchg_calls;
	int mmio_reads, mmio_writes;
	uint64_t mmio_last_addr;
	size_t mmio_max_len;
	uint8_t mmio[4096];
};

struct env {
	struct x86_cpu cpu;
	struct fake f;
	struct x86_mem_ops ops;
};

static int fake_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = opaque;

	assert_true(len >= 1 && len <= 16);
	assert_true((addr & 0xfff) + len <= 4096);
	if ((addr & ~0xfffull) == MMIO_PAGE) {
		f->mmio_reads++;
		f->mmio_last_addr = addr;
		f->mmio_max_len = len > f->mmio_max_len ? len : f->mmio_max_len;
		memcpy(buf, f->mmio + (addr & 0xfff), len);
		return 0;
	}
	if (addr >= RAM_SIZE) {
		memset(buf, 0xff, len);
		return 0;
	}
	memcpy(buf, f->ram + addr, len);
	return 0;
}

static int fake_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct fake *f = opaque;

	assert_true(len >= 1 && len <= 16);
	assert_true((addr & 0xfff) + len <= 4096);
	if ((addr & ~0xfffull) == MMIO_PAGE) {
		f->mmio_writes++;
		f->mmio_last_addr = addr;
		f->mmio_max_len = len > f->mmio_max_len ? len : f->mmio_max_len;
		memcpy(f->mmio + (addr & 0xfff), buf, len);
		return 0;
	}
	if (addr < RAM_SIZE)
		memcpy(f->ram + addr, buf, len);
	return 0;
}

static int fake_cmpxchg(void *opaque, uint64_t addr, const void *expected, const void *desired,
			size_t len, bool *swapped)
{
	struct fake *f = opaque;
	uint8_t cur[16];

	f->cmpxchg_calls++;
	if (f->cmpxchg_fail) {
		if (f->cmpxchg_fail > 0)
			f->cmpxchg_fail--;
		*swapped = false;
		return 0;
	}
	fake_read(f, addr, cur, len);
	*swapped = memcmp(cur, expected, len) == 0;
	if (*swapped)
		fake_write(f, addr, desired, len);
	return 0;
}

static uint8_t *fake_ram_page(void *opaque, uint64_t page)
{
	struct fake *f = opaque;

	if (f->no_ram_page || page == MMIO_PAGE || page >= RAM_SIZE)
		return NULL;
	return f->ram + page;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->f.ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(e->f.ram);
	memset(e->f.ram, 0, RAM_SIZE);
	e->f.next_table = TABLES;
	e->ops.read = fake_read;
	e->ops.write = fake_write;
	e->ops.ram_page = fake_ram_page;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	free(e->f.ram);
	free(e);
	return 0;
}

/* Page-table formats: index shifts and masks per level, entry width. */
struct fmt {
	int levels;
	int shift[4];
	uint64_t idx[4];
	unsigned width;
};
static const struct fmt FMT_4L = {4, {39, 30, 21, 12}, {0x1ff, 0x1ff, 0x1ff, 0x1ff}, 8};
static const struct fmt FMT_PAE = {3, {30, 21, 12}, {3, 0x1ff, 0x1ff}, 8};
static const struct fmt FMT_32 = {2, {22, 12}, {0x3ff, 0x3ff}, 4};

static uint64_t get_ent(struct env *e, uint64_t addr, unsigned width)
{
	uint64_t v = 0;

	memcpy(&v, e->f.ram + addr, width);
	return v;
}

static void set_ent(struct env *e, uint64_t addr, unsigned width, uint64_t v)
{
	memcpy(e->f.ram + addr, &v, width);
}

static uint64_t alloc_table(struct env *e)
{
	uint64_t p = e->f.next_table;

	e->f.next_table += 4096;
	assert_true(e->f.next_table < MMIO_PAGE);
	memset(e->f.ram + p, 0, 4096);
	return p;
}

static const struct fmt *cur_fmt(struct env *e)
{
	if (e->cpu.efer & X86_EFER_LMA)
		return &FMT_4L;
	return (e->cpu.cr4 & X86_CR4_PAE) ? &FMT_PAE : &FMT_32;
}

static uint64_t root(struct env *e)
{
	return (e->cpu.efer & X86_EFER_LMA) ? (e->cpu.cr3 & ~0xfffull)
	       : (e->cpu.cr4 & X86_CR4_PAE) ? (e->cpu.cr3 & ~0x1full)
					    : (e->cpu.cr3 & ~0xfffull);
}

/* The address of the entry at level (0 = top) for linear; the tables above must exist. */
static uint64_t ent_addr(struct env *e, uint64_t linear, int level)
{
	const struct fmt *fm = cur_fmt(e);
	uint64_t table = root(e);

	for (int l = 0; l < level; l++) {
		uint64_t v = get_ent(e, table + ((linear >> fm->shift[l]) & fm->idx[l]) * fm->width,
				     fm->width);
		table = v & (fm->width == 4 ? 0xfffff000ull : 0xffffffffff000ull);
	}
	return table + ((linear >> fm->shift[level]) & fm->idx[level]) * fm->width;
}

static uint64_t ent(struct env *e, uint64_t linear, int level)
{
	return get_ent(e, ent_addr(e, linear, level), cur_fmt(e)->width);
}

static void set(struct env *e, uint64_t linear, int level, uint64_t v)
{
	set_ent(e, ent_addr(e, linear, level), cur_fmt(e)->width, v);
}

/* Maps linear with a leaf entry val at level leaf (tables above: tflags, or P for PAE
 * PDPTEs). */
static void map_at(struct env *e, uint64_t linear, int leaf, uint64_t val, uint64_t tflags)
{
	const struct fmt *fm = cur_fmt(e);
	uint64_t table = root(e);

	for (int l = 0; l < leaf; l++) {
		uint64_t a = table + ((linear >> fm->shift[l]) & fm->idx[l]) * fm->width;
		uint64_t v = get_ent(e, a, fm->width);

		if (!(v & P)) {
			bool pdpte = fm == &FMT_PAE && l == 0;

			v = alloc_table(e) | (pdpte ? P : tflags);
			set_ent(e, a, fm->width, v);
		}
		table = v & (fm->width == 4 ? 0xfffff000ull : 0xffffffffff000ull);
	}
	set_ent(e, table + ((linear >> fm->shift[leaf]) & fm->idx[leaf]) * fm->width, fm->width,
		val);
}

static void map(struct env *e, uint64_t linear, uint64_t val)
{
	map_at(e, linear, cur_fmt(e)->levels - 1, val, P | RW | US);
}

static void mode_4level(struct env *e)
{
	e->cpu.cr0 = X86_CR0_PE | X86_CR0_PG;
	e->cpu.cr4 = X86_CR4_PAE;
	e->cpu.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	e->cpu.cpl = 0;
	e->cpu.cr3 = alloc_table(e);
	x86_tlb_flush(&e->cpu, true);
}

static void mode_pae(struct env *e)
{
	e->cpu.cr0 = X86_CR0_PE | X86_CR0_PG;
	e->cpu.cr4 = X86_CR4_PAE;
	e->cpu.efer = X86_EFER_NXE;
	e->cpu.cpl = 0;
	e->cpu.cr3 = alloc_table(e) + 0x40; /* 32-byte aligned, not page aligned */
	x86_tlb_flush(&e->cpu, true);
}

static void mode_32(struct env *e, bool pse)
{
	e->cpu.cr0 = X86_CR0_PE | X86_CR0_PG;
	e->cpu.cr4 = pse ? X86_CR4_PSE : 0;
	e->cpu.efer = 0;
	e->cpu.cpl = 0;
	e->cpu.cr3 = alloc_table(e);
	x86_tlb_flush(&e->cpu, true);
}

static int xlate(struct env *e, uint64_t linear, unsigned acc, uint64_t *phys)
{
	uint8_t *host;

	return x86_mmu_translate(&e->cpu, &e->ops, &e->f, linear, acc, phys, &host);
}

/* Expects a #PF with the given error code and CR2 for an access. */
static void expect_pf(struct env *e, uint64_t linear, unsigned acc, uint32_t ec)
{
	uint64_t phys;

	e->cpu.fault_addr = 0;
	e->cpu.fault_error_code = 0xdead;
	assert_int_equal(xlate(e, linear, acc, &phys), X86_EXC_PF);
	assert_int_equal(e->cpu.fault_error_code, ec);
	assert_int_equal(e->cpu.fault_addr, linear);
}

static void expect_ok(struct env *e, uint64_t linear, unsigned acc, uint64_t want_phys)
{
	uint64_t phys = 0;

	assert_int_equal(xlate(e, linear, acc, &phys), 0);
	assert_int_equal(phys, want_phys);
}

static uint64_t rd64(struct env *e, uint64_t linear, int *rc)
{
	uint64_t v = 0;

	*rc = x86_linear_read(&e->cpu, &e->ops, &e->f, linear, &v, 8, RD);
	return v;
}

/* ---- paging off ---- */

static void test_paging_off(void **state)
{
	struct env *e = *state;
	uint64_t v = 0x1122334455667788ull, r = 0;

	e->cpu.cr0 = X86_CR0_PE;
	e->cpu.efer = 0;
	expect_ok(e, 0x12345, RD, 0x12345);
	expect_ok(e, 0x100012345ull, WR, 0x12345); /* 32-bit linear addresses outside long mode */
	assert_int_equal(x86_linear_write(&e->cpu, &e->ops, &e->f, 0x2000, &v, 8, WR), 0);
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, 0x2000, &r, 8, RD), 0);
	assert_int_equal(r, v);
	assert_memory_equal(e->f.ram + 0x2000, &v, 8);
	/* user (CPL 3) may do anything without paging */
	e->cpu.cpl = 3;
	expect_ok(e, 0x5000, EX, 0x5000);
}

/* ---- 4-level paging ---- */

static void test_4level_translate_and_ad(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x00007f1234567abcull;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW | US);
	expect_ok(e, lin, RD, 0x200abc);
	for (int l = 0; l < 4; l++)
		assert_true(ent(e, lin, l) & A);
	assert_false(ent(e, lin, 3) & D);
	for (int l = 0; l < 3; l++)
		assert_false(ent(e, lin, l) & D); /* D only in the entry that maps the page */
	expect_ok(e, lin + 1, WR, 0x200abd);
	assert_true(ent(e, lin, 3) & D);
	for (int l = 0; l < 3; l++)
		assert_false(ent(e, lin, l) & D);
	/* high half, and the host pointer for RAM */
	uint64_t hi = 0xffff888000001000ull, phys;
	uint8_t *host;

	map(e, hi, 0x201000 | P | RW);
	assert_int_equal(x86_mmu_translate(&e->cpu, &e->ops, &e->f, hi + 8, RD, &phys, &host), 0);
	assert_int_equal(phys, 0x201008);
	assert_ptr_equal(host, e->f.ram + 0x201008);
}

static void test_4level_not_present_each_level(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x0000123456789000ull;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW | US);
	for (int l = 3; l >= 0; l--) {
		uint64_t saved = ent(e, lin, l);

		set(e, lin, l, saved & ~P);
		x86_tlb_flush(&e->cpu, true);
		expect_pf(e, lin, RD, 0);
		expect_pf(e, lin + 0x10, WR, X86_PF_W);
		e->cpu.cpl = 3;
		expect_pf(e, lin, WR, X86_PF_W | X86_PF_U);
		expect_pf(e, lin, EX, X86_PF_U | X86_PF_I);
		expect_pf(e, lin, RD | SUP, 0); /* implicit supervisor access: U clear */
		e->cpu.cpl = 0;
		/* a not-present entry's other bits are ignored: no RSVD */
		set(e, lin, l, (saved & ~P) | (1ull << 45) | XD | PS);
		expect_pf(e, lin, RD, 0);
		set(e, lin, l, saved);
	}
	expect_ok(e, lin, RD, 0x200000);
}

static void test_4level_write_protect(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x400000;

	mode_4level(e);
	map(e, lin, 0x200000 | P | US); /* read-only user page */
	expect_ok(e, lin, RD, 0x200000);
	expect_ok(e, lin, WR, 0x200000); /* CPL 0, WP = 0: supervisor writes anything */
	e->cpu.cr0 |= X86_CR0_WP;
	x86_tlb_flush(&e->cpu, true); /* MOV CR0 changing WP */
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W);
	expect_pf(e, lin, WR | SUP, X86_PF_P | X86_PF_W);
	e->cpu.cpl = 3;
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_ok(e, lin, RD, 0x200000);
	/* R/W clear in an upper level only */
	e->cpu.cpl = 0;
	map(e, lin, 0x200000 | P | RW | US);
	set(e, lin, 1, ent(e, lin, 1) & ~RW);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W);
	e->cpu.cr0 &= ~X86_CR0_WP;
	x86_tlb_flush(&e->cpu, true);
	expect_ok(e, lin, WR, 0x200000);
	e->cpu.cpl = 3;
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W | X86_PF_U); /* WP does not matter at CPL 3 */
}

static void test_4level_user_supervisor(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x600000;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW); /* supervisor page */
	expect_ok(e, lin, RD, 0x200000);
	e->cpu.cpl = 3;
	expect_pf(e, lin, RD, X86_PF_P | X86_PF_U); /* even though CPL 0 has it cached */
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_pf(e, lin, EX, X86_PF_P | X86_PF_U | X86_PF_I);
	/* implicit supervisor accesses (GDT, IDT, TSS) from CPL 3 */
	expect_ok(e, lin, RD | SUP, 0x200000);
	expect_ok(e, lin, WR | SUP, 0x200000);
	/* U/S clear only in the PML4E */
	e->cpu.cpl = 0;
	map(e, lin, 0x200000 | P | RW | US);
	set(e, lin, 0, ent(e, lin, 0) & ~US);
	x86_tlb_flush(&e->cpu, true);
	e->cpu.cpl = 3;
	expect_pf(e, lin, RD, X86_PF_P | X86_PF_U);
	e->cpu.cpl = 2; /* CPL 0-2 are supervisor */
	expect_ok(e, lin, RD, 0x200000);
	/* an implicit supervisor access that faults has U clear */
	e->cpu.cpl = 3;
	e->cpu.cr0 |= X86_CR0_WP;
	set(e, lin, 3, 0x200000 | P | US);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, WR | SUP, X86_PF_P | X86_PF_W);
}

static void test_4level_nx(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x800000;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW | US | XD);
	expect_ok(e, lin, RD, 0x200000);
	expect_pf(e, lin, EX, X86_PF_P | X86_PF_I);
	e->cpu.cpl = 3;
	expect_pf(e, lin, EX, X86_PF_P | X86_PF_U | X86_PF_I);
	/* XD in the PDPTE only */
	e->cpu.cpl = 0;
	set(e, lin, 3, 0x200000 | P | RW | US);
	set(e, lin, 1, ent(e, lin, 1) | XD);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, EX, X86_PF_P | X86_PF_I);
	set(e, lin, 1, ent(e, lin, 1) & ~XD);
	x86_tlb_flush(&e->cpu, true);
	expect_ok(e, lin, EX, 0x200000);
}

static void test_4level_reserved_bits(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0xa00000, big = 0x40000000ull * 3;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW | US);
	for (int l = 0; l < 4; l++) {
		uint64_t saved = ent(e, lin, l);

		/* bit MAXPHYADDR and bit 51 */
		for (int bit = X86_MAXPHYADDR; bit <= 51; bit += 51 - X86_MAXPHYADDR) {
			set(e, lin, l, saved | (1ull << bit));
			x86_tlb_flush(&e->cpu, true);
			expect_pf(e, lin, RD, X86_PF_P | X86_PF_RSVD);
			expect_pf(e, lin, WR, X86_PF_P | X86_PF_W | X86_PF_RSVD);
			e->cpu.cpl = 3;
			expect_pf(e, lin, EX, X86_PF_P | X86_PF_U | X86_PF_RSVD | X86_PF_I);
			e->cpu.cpl = 0;
		}
		/* bits 62:52 are ignored */
		set(e, lin, l, saved | (1ull << 52) | (1ull << 62));
		x86_tlb_flush(&e->cpu, true);
		expect_ok(e, lin, RD, 0x200000);
		/* XD is reserved without EFER.NXE; I is then clear */
		set(e, lin, l, saved | XD);
		e->cpu.efer &= ~X86_EFER_NXE;
		x86_tlb_flush(&e->cpu, true);
		expect_pf(e, lin, RD, X86_PF_P | X86_PF_RSVD);
		expect_pf(e, lin, EX, X86_PF_P | X86_PF_RSVD);
		e->cpu.efer |= X86_EFER_NXE;
		x86_tlb_flush(&e->cpu, true);
		expect_ok(e, lin, RD, 0x200000);
		set(e, lin, l, saved);
	}
	/* PS in a PML4E is reserved; PS in a PDPTE too (no 1 GiB pages) */
	set(e, lin, 0, ent(e, lin, 0) | PS);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, RD, X86_PF_P | X86_PF_RSVD);
	set(e, lin, 0, ent(e, lin, 0) & ~PS);
	map_at(e, big, 1, 0x40000000 | P | RW | PS, P | RW);
	expect_pf(e, big, RD, X86_PF_P | X86_PF_RSVD);
	/* 2 MiB PDE: bits 20:13 reserved, bit 12 (PAT) not */
	map_at(e, 0x40000000ull * 5, 2, 0x200000 | P | RW | PS | (1ull << 13), P | RW);
	expect_pf(e, 0x40000000ull * 5, RD, X86_PF_P | X86_PF_RSVD);
	map_at(e, 0x40000000ull * 5, 2, 0x200000 | P | RW | PS | (1ull << 20), P | RW);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, 0x40000000ull * 5, RD, X86_PF_P | X86_PF_RSVD);
	map_at(e, 0x40000000ull * 5, 2, 0x200000 | P | RW | PS | (1ull << 12), P | RW);
	x86_tlb_flush(&e->cpu, true);
	expect_ok(e, 0x40000000ull * 5 + 0x12345, RD, 0x212345);
	/* reserved bits win over a permission violation */
	e->cpu.cpl = 3;
	map(e, lin, 0x200000 | P | (1ull << 41)); /* supervisor, read-only, reserved */
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W | X86_PF_U | X86_PF_RSVD);
}

static void test_4level_2m_pages(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x7fe00000ull, pde;

	mode_4level(e);
	map_at(e, lin, 2, 0x200000 | P | RW | US | PS, P | RW | US);
	expect_ok(e, lin + 0x1234, RD, 0x201234);
	expect_ok(e, lin + 0x1fffff, RD, 0x3fffff);
	pde = ent(e, lin, 2);
	assert_true(pde & A);
	assert_false(pde & D);
	expect_ok(e, lin + 0x100000, WR, 0x300000);
	assert_true(ent(e, lin, 2) & D);
	/* write-protected large page */
	e->cpu.cpl = 3;
	set(e, lin, 2, 0x200000 | P | US | PS);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin + 0x5000, WR, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_ok(e, lin + 0x5000, RD, 0x205000);
}

/* ---- PAE paging ---- */

static void test_pae(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0xc0123456, pdpte_addr;

	mode_pae(e);
	map(e, lin, 0x250000 | P | RW | XD);
	expect_ok(e, lin, RD, 0x250456);
	pdpte_addr = ent_addr(e, lin, 0);
	assert_int_equal(pdpte_addr, root(e) + 3 * 8);
	assert_false(ent(e, lin, 0) & A); /* PAE PDPTEs have no A flag */
	assert_true(ent(e, lin, 1) & A);
	assert_true(ent(e, lin, 2) & A);
	expect_pf(e, lin, EX, X86_PF_P | X86_PF_I);
	e->cpu.cpl = 3;
	expect_pf(e, lin, RD, X86_PF_P | X86_PF_U);
	e->cpu.cpl = 0;
	/* PDPTE reserved bits: 2:1, 8:5, 63:M (XD included, even with NXE) */
	const uint64_t bad[] = {RW, US, A, PS, 1ull << 8, 1ull << 40, XD, 1ull << 55};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t saved = ent(e, lin, 0);

		set(e, lin, 0, saved | bad[i]);
		x86_tlb_flush(&e->cpu, true);
		expect_pf(e, lin, RD, X86_PF_P | X86_PF_RSVD);
		set(e, lin, 0, saved);
	}
	set(e, lin, 0, ent(e, lin, 0) & ~P);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, WR, X86_PF_W);
	set(e, lin, 0, ent(e, lin, 0) | P);
	/* 2 MiB page (PS honoured without CR4.PSE), XD reserved without NXE */
	map_at(e, 0x00600000, 1, 0x400000 | P | RW | PS, P | RW);
	x86_tlb_flush(&e->cpu, true);
	expect_ok(e, 0x00654321, WR, 0x454321);
	assert_true(ent(e, 0x00600000, 1) & D);
	e->cpu.efer = 0;
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, RD, X86_PF_P | X86_PF_RSVD);
	expect_pf(e, lin, EX, X86_PF_P | X86_PF_RSVD); /* no I without NXE */
	/* linear addresses are 32 bits */
	expect_ok(e, 0x100654321ull, RD, 0x454321);
}

/* ---- 32-bit paging ---- */

static void test_32bit(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x80401abc;

	mode_32(e, false);
	map(e, lin, 0x123000 | P | RW | US);
	expect_ok(e, lin, RD, 0x123abc);
	assert_true(ent(e, lin, 0) & A);
	assert_true(ent(e, lin, 1) & A);
	assert_false(ent(e, lin, 1) & D);
	expect_ok(e, lin, WR, 0x123abc);
	assert_true(ent(e, lin, 1) & D);
	expect_ok(e, lin, EX, 0x123abc); /* no NX in 32-bit paging */
	/* not-present at each level: I never set */
	set(e, lin, 1, 0);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, EX, 0);
	set(e, lin, 0, ent(e, lin, 0) & ~P);
	e->cpu.cpl = 3;
	expect_pf(e, lin, WR, X86_PF_W | X86_PF_U);
	set(e, lin, 0, ent(e, lin, 0) | P);
	set(e, lin, 1, 0x123000 | P | US | (1u << 7) /* PAT */ | 0xe00 /* avail */);
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W | X86_PF_U);
	expect_ok(e, lin, RD, 0x123abc);
	/* supervisor page, upper level */
	set(e, lin, 0, ent(e, lin, 0) & ~US);
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin, RD, X86_PF_P | X86_PF_U);
	expect_ok(e, lin, RD | SUP, 0x123abc);
}

static void test_32bit_pse(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x80c00000, pde_addr;

	mode_32(e, true);
	pde_addr = root(e) + (lin >> 22) * 4;
	set_ent(e, pde_addr, 4, 0x00c00000 | P | RW | PS);
	expect_ok(e, lin + 0x3ffffe, RD, 0x00fffffe);
	assert_true(get_ent(e, pde_addr, 4) & A);
	expect_ok(e, lin + 0x10, WR, 0x00c00010);
	assert_true(get_ent(e, pde_addr, 4) & D);
	/* bits 21:13 are reserved (no PSE-36: M = 32), bit 12 (PAT) is not */
	for (int bit = 13; bit <= 21; bit++) {
		set_ent(e, pde_addr, 4, 0x00c00000 | P | RW | PS | (1u << bit));
		x86_tlb_flush(&e->cpu, true);
		expect_pf(e, lin, RD, X86_PF_P | X86_PF_RSVD);
	}
	set_ent(e, pde_addr, 4, 0x00c00000 | P | RW | PS | (1u << 12));
	x86_tlb_flush(&e->cpu, true);
	expect_ok(e, lin + 0x1000, RD, 0x00c01000);
	/* without CR4.PSE the PS bit is ignored: the PDE points to a page table */
	e->cpu.cr4 = 0;
	x86_tlb_flush(&e->cpu, true);
	set_ent(e, pde_addr, 4, 0x00380000 | P | RW | PS);
	set_ent(e, 0x00380000 + ((lin >> 12) & 0x3ff) * 4, 4, 0x00345000 | P);
	expect_ok(e, lin + 0x12, RD, 0x00345012);
}

/* ---- the TLB ---- */

static void test_tlb_caches_until_invalidated(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x10000000, other = lin + 0x1000;
	int rc;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW);
	map(e, other, 0x201000 | P | RW);
	memset(e->f.ram + 0x200000, 0x11, 8);
	memset(e->f.ram + 0x201000, 0x22, 8);
	memset(e->f.ram + 0x202000, 0x33, 8);
	assert_int_equal(rd64(e, lin, &rc), 0x1111111111111111ull);
	assert_int_equal(rd64(e, other, &rc), 0x2222222222222222ull);
	set(e, lin, 3, 0x202000 | P | RW | A);
	set(e, other, 3, 0);
	/* stale entries are used */
	assert_int_equal(rd64(e, lin, &rc), 0x1111111111111111ull);
	assert_int_equal(rd64(e, other, &rc), 0x2222222222222222ull);
	assert_int_equal(rc, 0);
	/* INVLPG of one page */
	x86_tlb_flush_page(&e->cpu, lin + 0x123);
	assert_int_equal(rd64(e, lin, &rc), 0x3333333333333333ull);
	assert_int_equal(rd64(e, other, &rc), 0x2222222222222222ull);
	x86_tlb_flush_page(&e->cpu, other);
	rd64(e, other, &rc);
	assert_int_equal(rc, X86_EXC_PF);
	assert_int_equal(e->cpu.fault_addr, other);
}

static void test_tlb_global(void **state)
{
	struct env *e = *state;
	uint64_t glob = 0xffffffff81000000ull, loc = 0x405000, nopge = 0x406000; /* other slots */
	int rc;

	mode_4level(e);
	e->cpu.cr4 |= X86_CR4_PGE;
	map(e, glob, 0x200000 | P | RW | G);
	map(e, loc, 0x201000 | P | RW);
	memset(e->f.ram + 0x200000, 0x11, 8);
	memset(e->f.ram + 0x201000, 0x22, 8);
	memset(e->f.ram + 0x202000, 0x33, 8);
	rd64(e, glob, &rc);
	rd64(e, loc, &rc);
	set(e, glob, 3, 0x202000 | P | RW | G);
	set(e, loc, 3, 0x202000 | P | RW);
	x86_tlb_flush(&e->cpu, false); /* MOV CR3 */
	assert_int_equal(rd64(e, glob, &rc), 0x1111111111111111ull);
	assert_int_equal(rd64(e, loc, &rc), 0x3333333333333333ull);
	x86_tlb_flush(&e->cpu, true);
	assert_int_equal(rd64(e, glob, &rc), 0x3333333333333333ull);
	/* INVLPG drops global entries too */
	set(e, glob, 3, 0x201000 | P | RW | G);
	x86_tlb_flush_page(&e->cpu, glob);
	assert_int_equal(rd64(e, glob, &rc), 0x2222222222222222ull);
	/* G without CR4.PGE is not global */
	e->cpu.cr4 &= ~X86_CR4_PGE;
	x86_tlb_flush(&e->cpu, true);
	map(e, nopge, 0x200000 | P | RW | G);
	rd64(e, nopge, &rc);
	set(e, nopge, 3, 0x202000 | P | RW | G);
	x86_tlb_flush(&e->cpu, false);
	assert_int_equal(rd64(e, nopge, &rc), 0x3333333333333333ull);
}

static void test_tlb_large_page_invlpg(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0xffff888000000000ull, small = 0x40000000ull;
	uint64_t phys;

	mode_4level(e);
	e->cpu.cr4 |= X86_CR4_PGE;
	map_at(e, lin, 2, 0x200000 | P | RW | PS | G, P | RW);
	map(e, small, 0x300000 | P | RW);
	expect_ok(e, lin + 0x5000, RD, 0x205000);
	expect_ok(e, lin + 0x1ff000, WR, 0x3ff000);
	expect_ok(e, lin + 0x7000, EX, 0x207000);
	set(e, lin, 2, 0x000000 | P | RW | PS | G);
	/* still cached, across a non-global flush too */
	x86_tlb_flush(&e->cpu, false);
	expect_ok(e, lin + 0x5000, RD, 0x205000);
	expect_ok(e, lin + 0x1ff000, WR, 0x3ff000);
	expect_ok(e, small, RD, 0x300000);
	set(e, small, 3, 0x301000 | P | RW);
	/* INVLPG of any address inside drops every piece, in every set */
	x86_tlb_flush_page(&e->cpu, lin + 0x123456);
	expect_ok(e, lin + 0x5000, RD, 0x005000);
	expect_ok(e, lin + 0x1ff000, WR, 0x1ff000);
	expect_ok(e, lin + 0x7000, EX, 0x007000);
	/* the small page was not touched (its stale entry is still there) */
	assert_int_equal(xlate(e, small, RD, &phys), 0);
	assert_int_equal(phys, 0x300000);
	/* an INVLPG elsewhere keeps the large pieces */
	set(e, lin, 2, 0x200000 | P | RW | PS | G);
	x86_tlb_flush_page(&e->cpu, lin + 0x200000);
	expect_ok(e, lin + 0x5000, RD, 0x005000);
	/* 4 MiB pages of 32-bit paging: all of the 4 MiB, both 2 MiB halves */
	mode_32(e, true);
	set_ent(e, root(e) + (0x80000000u >> 22) * 4, 4, 0x00400000 | P | RW | PS);
	expect_ok(e, 0x80001000, RD, 0x00401000);
	expect_ok(e, 0x803ff000, RD, 0x007ff000);
	set_ent(e, root(e) + (0x80000000u >> 22) * 4, 4, 0x00800000 | P | RW | PS);
	x86_tlb_flush_page(&e->cpu, 0x80200000);
	expect_ok(e, 0x80001000, RD, 0x00801000);
	expect_ok(e, 0x803ff000, RD, 0x00bff000);
}

static void test_tlb_sets_and_dirty(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x20000000;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW | US);
	expect_ok(e, lin, RD, 0x200000);
	assert_false(ent(e, lin, 3) & D);
	/* a read's entry does not allow writes: the write walks and sets D */
	expect_ok(e, lin, WR, 0x200000);
	assert_true(ent(e, lin, 3) & D);
	/* if the guest clears D and invalidates, the next write sets it again */
	set(e, lin, 3, ent(e, lin, 3) & ~D);
	x86_tlb_flush_page(&e->cpu, lin);
	expect_ok(e, lin, RD, 0x200000);
	assert_false(ent(e, lin, 3) & D);
	expect_ok(e, lin, WR, 0x200000);
	assert_true(ent(e, lin, 3) & D);
	/* a faulting access sets neither A nor D */
	map(e, lin + 0x1000, 0x201000 | P | US);
	e->cpu.cr0 |= X86_CR0_WP;
	x86_tlb_flush(&e->cpu, true);
	expect_pf(e, lin + 0x1000, WR, X86_PF_P | X86_PF_W);
	assert_false(ent(e, lin + 0x1000, 3) & (A | D));
	e->cpu.cpl = 3;
	map(e, lin + 0x2000, 0x202000 | P | RW);
	expect_pf(e, lin + 0x2000, RD, X86_PF_P | X86_PF_U);
	assert_false(ent(e, lin + 0x2000, 3) & A);
}

static void test_tlb_fault_drops_stale_entry(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x30000000;

	mode_4level(e);
	e->cpu.cr0 |= X86_CR0_WP;
	map(e, lin, 0x200000 | P);
	expect_ok(e, lin, RD, 0x200000);
	/* the guest remaps and makes it writable without INVLPG: a write is allowed at once
	 * (it walks), and the #PF of an earlier write dropped the stale read entry */
	expect_pf(e, lin, WR, X86_PF_P | X86_PF_W);
	set(e, lin, 3, 0x201000 | P | RW);
	expect_ok(e, lin, RD, 0x201000);
	expect_ok(e, lin, WR, 0x201000);
}

/* ---- accesses ---- */

static void test_page_crossing(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x50000000;
	uint8_t buf[16], zero[16] = {0};

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW);
	map(e, lin + 0x1000, 0x280000 | P | RW);
	for (int i = 0; i < 16; i++)
		buf[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(x86_linear_write(&e->cpu, &e->ops, &e->f, lin + 0xff8, buf, 16, WR), 0);
	assert_memory_equal(e->f.ram + 0x200ff8, buf, 8);
	assert_memory_equal(e->f.ram + 0x280000, buf + 8, 8);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, lin + 0xffa, buf, 10, RD), 0);
	assert_int_equal(buf[0], 0xa2);
	assert_int_equal(buf[9], 0xab);
	/* second page read-only (WP): nothing written, CR2 = start of the second page */
	set(e, lin + 0x1000, 3, 0x280000 | P);
	e->cpu.cr0 |= X86_CR0_WP;
	x86_tlb_flush(&e->cpu, true);
	memset(buf, 0x55, sizeof(buf));
	assert_int_equal(x86_linear_write(&e->cpu, &e->ops, &e->f, lin + 0xff8, buf, 16, WR),
			 X86_EXC_PF);
	assert_int_equal(e->cpu.fault_addr, lin + 0x1000);
	assert_int_equal(e->cpu.fault_error_code, X86_PF_P | X86_PF_W);
	assert_int_equal(e->f.ram[0x200ff8], 0xa0);
	/* second page not present: read fails too, with CR2 on the second page */
	set(e, lin + 0x1000, 3, 0);
	x86_tlb_flush(&e->cpu, true);
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, lin + 0xfff, buf, 2, RD),
			 X86_EXC_PF);
	assert_int_equal(e->cpu.fault_addr, lin + 0x1000);
	assert_int_equal(e->cpu.fault_error_code, 0);
	/* a long write over three pages with the third missing writes nothing */
	set(e, lin + 0x1000, 3, 0x280000 | P | RW);
	x86_tlb_flush(&e->cpu, true);
	static uint8_t big[6000];

	memset(big, 0x77, sizeof(big));
	memset(e->f.ram + 0x200000, 0, 4096);
	memset(e->f.ram + 0x280000, 0, 4096);
	assert_int_equal(
	    x86_linear_write(&e->cpu, &e->ops, &e->f, lin + 0xc00, big, sizeof(big), WR),
	    X86_EXC_PF);
	assert_int_equal(e->cpu.fault_addr, lin + 0x2000);
	assert_memory_equal(e->f.ram + 0x200c00, zero, 16);
	assert_memory_equal(e->f.ram + 0x280000, zero, 16);
	map(e, lin + 0x2000, 0x290000 | P | RW);
	assert_int_equal(
	    x86_linear_write(&e->cpu, &e->ops, &e->f, lin + 0xc00, big, sizeof(big), WR), 0);
	assert_int_equal(e->f.ram[0x200bff], 0);
	assert_int_equal(e->f.ram[0x200c00], 0x77);
	assert_int_equal(e->f.ram[0x280fff], 0x77);
	assert_int_equal(e->f.ram[0x290000 + 6000 - 0x400 - 0x1000 - 1], 0x77);
	assert_int_equal(e->f.ram[0x290000 + 6000 - 0x400 - 0x1000], 0);
	/* 32-bit linear addresses wrap at 4 GiB */
	e->cpu.cr0 = X86_CR0_PE;
	e->cpu.efer = 0;
	x86_tlb_flush(&e->cpu, true);
	e->f.ram[0] = 0x99;
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, 0xffffffffull, buf, 2, RD), 0);
	assert_int_equal(buf[1], 0x99);
}

static void test_mmio_pages(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0xfee00000ull, v = 0;
	uint8_t buf[40];

	mode_4level(e);
	map(e, lin, MMIO_PAGE | P | RW);
	map(e, lin - 0x1000, 0x200000 | P | RW);
	e->f.mmio[0x30] = 0x5a;
	e->f.mmio[0x10] = 0x77;
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, lin + 0x30, &v, 4, RD), 0);
	assert_int_equal(v, 0x5a);
	assert_int_equal(e->f.mmio_reads, 1);
	assert_int_equal(e->f.mmio_last_addr, MMIO_PAGE + 0x30);
	v = 0xcafe;
	assert_int_equal(x86_linear_write(&e->cpu, &e->ops, &e->f, lin + 0xb0, &v, 4, WR), 0);
	assert_int_equal(e->f.mmio_writes, 1);
	assert_int_equal(e->f.mmio[0xb0], 0xfe);
	/* cached translation: still the callbacks */
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, lin + 0x30, &v, 4, RD), 0);
	assert_int_equal(e->f.mmio_reads, 2);
	/* long accesses are split into pieces of at most 16 bytes; RAM + MMIO across pages */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, lin - 8, buf, 40, RD), 0);
	assert_int_equal(e->f.mmio_max_len, 16);
	assert_int_equal(buf[8 + 0x10], 0x77);
	/* translate gives no host pointer */
	uint64_t phys;
	uint8_t *host = (uint8_t *)1;

	assert_int_equal(x86_mmu_translate(&e->cpu, &e->ops, &e->f, lin + 4, RD, &phys, &host), 0);
	assert_null(host);
	assert_int_equal(phys, MMIO_PAGE + 4);
}

static void test_tables_in_mmio(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x1234000;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW);
	e->f.no_ram_page = true;
	/* without cmpxchg: plain writes */
	expect_ok(e, lin, WR, 0x200000);
	assert_true(ent(e, lin, 0) & A);
	assert_true(ent(e, lin, 3) & D);
	/* with cmpxchg: used for A/D; a lost race walks again */
	e->ops.cmpxchg = fake_cmpxchg;
	map(e, lin + 0x1000, 0x201000 | P | RW);
	e->f.cmpxchg_fail = 3;
	expect_ok(e, lin + 0x1000, WR, 0x201000);
	assert_true(ent(e, lin + 0x1000, 3) & D);
	assert_int_equal(e->f.cmpxchg_calls, 4);
	/* a guest that always wins the race cannot hold the walk: the access goes ahead, not
	 * cached and without D */
	map(e, lin + 0x2000, 0x202000 | P | RW);
	e->f.cmpxchg_fail = -1;
	e->f.cmpxchg_calls = 0;
	expect_ok(e, lin + 0x2000, WR, 0x202000);
	assert_true(e->f.cmpxchg_calls >= 16 && e->f.cmpxchg_calls <= 32);
	assert_false(ent(e, lin + 0x2000, 3) & D);
	e->f.cmpxchg_calls = 0;
	expect_ok(e, lin + 0x2000, WR, 0x202000);
	assert_true(e->f.cmpxchg_calls > 0); /* walked again: it was not cached */
}

static void test_cmpxchg(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x60000000, exp, des;
	uint8_t e16[16], d16[16];
	bool swapped;

	mode_4level(e);
	map(e, lin, 0x200000 | P | RW);
	map(e, lin + 0x1000, 0x280000 | P | RW);
	for (size_t len = 1; len <= 8; len *= 2) {
		uint64_t mem = 0x1122334455667788ull;

		memcpy(e->f.ram + 0x200100, &mem, 8);
		exp = 0;
		des = 0xffffffffffffffffull;
		assert_int_equal(x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 0x100, &exp,
						    &des, len, &swapped),
				 0);
		assert_false(swapped);
		assert_memory_equal(e->f.ram + 0x200100, &mem, 8);
		exp = mem;
		assert_int_equal(x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 0x100, &exp,
						    &des, len, &swapped),
				 0);
		assert_true(swapped);
		assert_memory_equal(e->f.ram + 0x200100, &des, len);
		assert_memory_equal(e->f.ram + 0x200100 + len, (uint8_t *)&mem + len, 8 - len);
	}
	assert_true(ent(e, lin, 3) & D);
	/* 16 bytes, misaligned, and across a page */
	memset(e16, 0x42, 16);
	memset(d16, 0x24, 16);
	memset(e->f.ram + 0x200ff8, 0x42, 8);
	memset(e->f.ram + 0x280000, 0x42, 8);
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 0xff8, e16, d16, 16, &swapped), 0);
	assert_true(swapped);
	assert_int_equal(e->f.ram[0x280007], 0x24);
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 0xffe, e16, d16, 4, &swapped), 0);
	assert_false(swapped);
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 0x203, d16, e16, 8, &swapped), 0);
	assert_false(swapped);
	memset(e->f.ram + 0x200203, 0x24, 8);
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 0x203, d16, e16, 8, &swapped), 0);
	assert_true(swapped);
	assert_int_equal(e->f.ram[0x20020a], 0x42);
	/* read-only page: a #PF for a write, even if the compare would fail */
	e->cpu.cr0 |= X86_CR0_WP;
	set(e, lin, 3, 0x200000 | P);
	x86_tlb_flush(&e->cpu, true);
	assert_int_equal(x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin, e16, d16, 4, &swapped),
			 X86_EXC_PF);
	assert_int_equal(e->cpu.fault_error_code, X86_PF_P | X86_PF_W);
	/* page-crossing with the second page read-only: nothing written */
	set(e, lin, 3, 0x200000 | P | RW);
	set(e, lin + 0x1000, 3, 0x280000 | P);
	x86_tlb_flush(&e->cpu, true);
	memset(e->f.ram + 0x200ffc, 0x42, 4);
	memset(e->f.ram + 0x280000, 0x42, 4);
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 0xffc, e16, d16, 8, &swapped),
	    X86_EXC_PF);
	assert_int_equal(e->cpu.fault_addr, lin + 0x1000);
	assert_int_equal(e->f.ram[0x200ffc], 0x42);
	/* bad lengths */
	assert_int_equal(x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin, e16, d16, 3, &swapped),
			 X86_EXC_GP);
	assert_int_equal(x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin, e16, d16, 32, &swapped),
			 X86_EXC_GP);
}

static void test_cmpxchg_mmio(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x70000000;
	uint32_t exp = 0, des = 0x12345678;
	bool swapped;

	mode_4level(e);
	map(e, lin, MMIO_PAGE | P | RW);
	/* without mem->cmpxchg: read-compare-write through the callbacks */
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 8, &exp, &des, 4, &swapped), 0);
	assert_true(swapped);
	assert_int_equal(e->f.mmio_writes, 1);
	assert_int_equal(e->f.mmio[8], 0x78);
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 8, &exp, &des, 4, &swapped), 0);
	assert_false(swapped);
	assert_int_equal(e->f.mmio_writes, 1);
	/* with it: one call at the physical address */
	e->ops.cmpxchg = fake_cmpxchg;
	exp = des;
	des = 0;
	assert_int_equal(
	    x86_linear_cmpxchg(&e->cpu, &e->ops, &e->f, lin + 8, &exp, &des, 4, &swapped), 0);
	assert_true(swapped);
	assert_int_equal(e->f.cmpxchg_calls, 1);
	assert_int_equal(e->f.mmio_last_addr, MMIO_PAGE + 8);
}

static void test_fast_path(void **state)
{
	struct env *e = *state;
	uint64_t lin = 0x90000000, v = 0;

	mode_4level(e);
	e->cpu.cpl = 3;
	map(e, lin, 0x200000 | P | RW | US);
	map(e, lin + 0x1000, MMIO_PAGE | P | RW | US);
	memcpy(e->f.ram + 0x200010, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	/* a miss goes through the slow path and fills the TLB */
	assert_null(x86_tlb_host(&e->cpu, lin + 0x10, 8, RD));
	assert_int_equal(x86_fast_read(&e->cpu, &e->ops, &e->f, lin + 0x10, 8, RD, &v), 0);
	assert_int_equal(v, 0x0807060504030201ull);
	assert_ptr_equal(x86_tlb_host(&e->cpu, lin + 0x10, 8, RD), e->f.ram + 0x200010);
	for (unsigned size = 1; size <= 8; size *= 2) {
		assert_int_equal(x86_fast_read(&e->cpu, &e->ops, &e->f, lin + 0x11, size, RD, &v),
				 0);
		assert_int_equal(v, 0x0807060504030201ull >> 8 & (~0ull >> (64 - 8 * size)));
	}
	/* the read entry is no write entry: the first write walks and sets D */
	assert_null(x86_tlb_host(&e->cpu, lin, 4, WR));
	assert_false(ent(e, lin, 3) & D);
	assert_int_equal(x86_fast_write(&e->cpu, &e->ops, &e->f, lin + 0x20, 2, WR, 0xbeef), 0);
	assert_true(ent(e, lin, 3) & D);
	assert_int_equal(e->f.ram[0x200020], 0xef);
	assert_int_equal(e->f.ram[0x200021], 0xbe);
	assert_int_equal(e->f.ram[0x200022], 0);
	assert_non_null(x86_tlb_host(&e->cpu, lin, 4, WR));
	for (unsigned size = 1; size <= 8; size *= 2)
		assert_int_equal(
		    x86_fast_write(&e->cpu, &e->ops, &e->f, lin + 0x40, size, WR, ~0ull), 0);
	assert_int_equal(e->f.ram[0x200047], 0xff);
	assert_int_equal(e->f.ram[0x200048], 0);
	/* the user set is not the supervisor set */
	assert_null(x86_tlb_host(&e->cpu, lin, 4, RD | SUP));
	/* page-crossing and MMIO take the slow path */
	assert_null(x86_tlb_host(&e->cpu, lin + 0xffe, 4, WR));
	assert_int_equal(x86_fast_write(&e->cpu, &e->ops, &e->f, lin + 0xffe, 4, WR, 0x11223344),
			 0);
	assert_int_equal(e->f.ram[0x200fff], 0x33);
	assert_int_equal(e->f.mmio[0], 0x22);
	assert_int_equal(e->f.mmio[1], 0x11);
	assert_null(x86_tlb_host(&e->cpu, lin + 0x1000, 4, WR));
	assert_int_equal(x86_fast_read(&e->cpu, &e->ops, &e->f, lin + 0x1000, 2, RD, &v), 0);
	assert_int_equal(v, 0x1122);
	/* a fault from the slow path */
	assert_int_equal(x86_fast_read(&e->cpu, &e->ops, &e->f, lin + 0x5000, 4, RD, &v),
			 X86_EXC_PF);
	assert_int_equal(e->cpu.fault_error_code, X86_PF_U);
	/* after a flush the fast path misses */
	x86_tlb_flush(&e->cpu, false);
	assert_null(x86_tlb_host(&e->cpu, lin + 0x10, 8, RD));
}

static void test_odd_access_kind(void **state)
{
	struct env *e = *state;
	uint64_t phys;
	uint8_t *host;

	mode_4level(e);
	map(e, 0x1000, 0x200000 | P | RW);
	assert_int_equal(x86_mmu_translate(&e->cpu, &e->ops, &e->f, 0x1000, 3, &phys, &host), 0);
	assert_int_equal(phys, 0x200000);
	assert_int_equal(x86_linear_read(&e->cpu, &e->ops, &e->f, 0x1000, NULL, 0, RD), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_paging_off),
	    T(test_4level_translate_and_ad),
	    T(test_4level_not_present_each_level),
	    T(test_4level_write_protect),
	    T(test_4level_user_supervisor),
	    T(test_4level_nx),
	    T(test_4level_reserved_bits),
	    T(test_4level_2m_pages),
	    T(test_pae),
	    T(test_32bit),
	    T(test_32bit_pse),
	    T(test_tlb_caches_until_invalidated),
	    T(test_tlb_global),
	    T(test_tlb_large_page_invlpg),
	    T(test_tlb_sets_and_dirty),
	    T(test_tlb_fault_drops_stale_entry),
	    T(test_page_crossing),
	    T(test_mmio_pages),
	    T(test_tables_in_mmio),
	    T(test_cmpxchg),
	    T(test_cmpxchg_mmio),
	    T(test_fast_path),
	    T(test_odd_access_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
