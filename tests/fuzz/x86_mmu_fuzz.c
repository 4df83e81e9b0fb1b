/*
 * Fuzzer for the emu CPU's MMU (src/emu/mmu.c, mmu_fast.h). The input is a paging mode, an
 * initial image of a small physical memory (page tables and data: every physical address
 * wraps into it, so random entries point somewhere real; one page in 16 is MMIO), then a
 * sequence of accesses, compare-exchanges, translations, TLB flushes, page-table pokes and
 * mode changes. Checks: no crash/UB/leak, only 0 or #PF come back, a #PF reports the address
 * and only SDM 4.7 error-code bits, a translation is stable until something changes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"
#include "hostvisor/x86_mmu.h"
#include "../../src/emu/mmu_fast.h"

#define RAM_PAGES 16u
#define RAM_SIZE (RAM_PAGES * 4096u)

struct fuzz_mem {
	uint8_t *ram;
};

static bool is_mmio(uint64_t addr)
{
	return ((addr >> 12) % RAM_PAGES) == RAM_PAGES - 1;
}

static int fz_read(void *opaque, uint64_t addr, void *buf, size_t len)
{
	struct fuzz_mem *m = opaque;

	if (len < 1 || len > 16 || (addr & 0xfff) + len > 4096)
		abort(); /* the x86_mem_ops contract */
	if (is_mmio(addr))
		memset(buf, (int)(addr & 0xff), len);
	else
		memcpy(buf, m->ram + (addr % RAM_SIZE), len);
	return 0;
}

static int fz_write(void *opaque, uint64_t addr, const void *buf, size_t len)
{
	struct fuzz_mem *m = opaque;

	if (len < 1 || len > 16 || (addr & 0xfff) + len > 4096)
		abort();
	if (!is_mmio(addr))
		memcpy(m->ram + (addr % RAM_SIZE), buf, len);
	return 0;
}

static int fz_cmpxchg(void *opaque, uint64_t addr, const void *expected, const void *desired,
		      size_t len, bool *swapped)
{
	uint8_t cur[16];

	if (len > 16)
		abort();
	fz_read(opaque, addr, cur, len);
	*swapped = memcmp(cur, expected, len) == 0;
	if (*swapped)
		fz_write(opaque, addr, desired, len);
	return 0;
}

static uint8_t *fz_ram_page(void *opaque, uint64_t page)
{
	struct fuzz_mem *m = opaque;

	if (page & 0xfff)
		abort();
	return is_mmio(page) ? NULL : m->ram + (page % RAM_SIZE);
}

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}

/* Mode byte: bit 0 PG, 1 PAE, 2 LMA, 3 NXE, 4 WP, 5 PSE, 6 PGE. */
static void set_mode(struct x86_cpu *cpu, uint8_t mode, uint64_t cr3)
{
	cpu->cr0 = X86_CR0_PE | ((mode & 1) ? X86_CR0_PG : 0) | ((mode & 16) ? X86_CR0_WP : 0);
	cpu->cr4 = ((mode & 2) ? X86_CR4_PAE : 0) | ((mode & 32) ? X86_CR4_PSE : 0) |
		   ((mode & 64) ? X86_CR4_PGE : 0);
	cpu->efer = (mode & 8) ? X86_EFER_NXE : 0;
	if ((mode & 5) == 5) { /* long mode needs paging and PAE */
		cpu->efer |= X86_EFER_LME | X86_EFER_LMA;
		cpu->cr4 |= X86_CR4_PAE;
	}
	cpu->cr3 = cr3;
	x86_tlb_flush(cpu, true); /* what MOV CR0/CR4/WRMSR EFER must do */
}

static void check_rc(const struct x86_cpu *cpu, int rc, uint64_t linear, bool exact_addr)
{
	if (rc == 0)
		return;
	if (rc != X86_EXC_PF)
		abort();
	if (cpu->fault_error_code & ~0x1fu)
		abort();
	/* CR2 is the access's address, or the start of a later page it crosses into */
	if (!(cpu->efer & X86_EFER_LMA))
		linear &= 0xffffffffull;
	if (exact_addr && cpu->fault_addr != linear)
		abort();
	if (!exact_addr && (cpu->fault_addr - linear) > 8192)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
	struct fuzz_mem m = {.ram = ram};
	struct x86_mem_ops ops = {.read = fz_read, .write = fz_write, .ram_page = fz_ram_page};
	struct input in = {data, size};
	struct x86_cpu *cpu = calloc(1, sizeof(*cpu));
	uint8_t mode, buf[64], buf2[64];
	size_t image;

	if (!cpu)
		return 0;
	memset(ram, 0, sizeof(ram));
	mode = (uint8_t)take(&in, 1);
	cpu->cpl = (uint8_t)(take(&in, 1) & 3);
	if (mode & 0x80)
		ops.cmpxchg = fz_cmpxchg;
	set_mode(cpu, mode, take(&in, 8));
	image = take(&in, 2);
	if (image > in.n)
		image = in.n;
	if (image > RAM_SIZE)
		image = RAM_SIZE;
	memcpy(ram, in.p, image);
	in.p += image;
	in.n -= image;

	for (unsigned steps = 0; in.n && steps < 512; steps++) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint64_t linear = take(&in, 8), v = 0, phys, phys2;
		unsigned acc = op >> 4 & 7, len = (unsigned)(take(&in, 1) % sizeof(buf)) + 1;
		uint8_t *host;
		bool swapped;
		int rc;

		switch (op & 15) {
		case 0:
			rc = x86_linear_read(cpu, &ops, &m, linear, buf, len, acc);
			check_rc(cpu, rc, linear, false);
			break;
		case 1:
			memset(buf, op, len);
			rc = x86_linear_write(cpu, &ops, &m, linear, buf, len, acc);
			check_rc(cpu, rc, linear, false);
			break;
		case 2:
			len = 1u << (len % 5);
			memset(buf, op, len);
			memset(buf2, ~op, len);
			rc = x86_linear_cmpxchg(cpu, &ops, &m, linear, buf, buf2, len, &swapped);
			check_rc(cpu, rc, linear, false);
			break;
		case 3:
			rc = x86_mmu_translate(cpu, &ops, &m, linear, acc, &phys, &host);
			check_rc(cpu, rc, linear, true);
			if (rc == 0) {
				/* nothing changed: the same answer, now from the TLB */
				if (x86_mmu_translate(cpu, &ops, &m, linear, acc, &phys2, &host) ||
				    phys2 != phys || (phys & 0xfff) != (linear & 0xfff))
					abort();
			}
			break;
		case 4:
			x86_tlb_flush(cpu, op & 0x10);
			break;
		case 5:
			x86_tlb_flush_page(cpu, linear);
			break;
		case 6: /* the guest edits memory (page tables) */
			memcpy(ram + (linear % (RAM_SIZE - 8)), &linear, len % 8 + 1);
			break;
		case 7:
			cpu->cpl = op >> 4 & 3; /* CPL changes need no flush */
			break;
		case 8:
			set_mode(cpu, (uint8_t)linear, linear >> 8);
			break;
		case 9:
			len = 1u << (len % 4);
			rc = x86_fast_read(cpu, &ops, &m, linear, len, acc % 3 | (acc & 4), &v);
			check_rc(cpu, rc, linear, false);
			break;
		case 10:
			len = 1u << (len % 4);
			rc = x86_fast_write(cpu, &ops, &m, linear, len, X86_ACC_WRITE | (acc & 4),
					    linear);
			check_rc(cpu, rc, linear, false);
			break;
		default:
			break;
		}
	}
	free(cpu);
	return 0;
}
