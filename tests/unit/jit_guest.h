/*
 * A small 64-bit guest for differential tests of the translation cache (src/emu/jit.h) against
 * the interpreter (x86_step): the same program runs on two CPUs with the same start state and
 * separate copies of guest memory, one through x86_step alone and one through x86_jit_run
 * (x86_step where no block runs), and the results must be the same.
 *
 * Memory: JG_RAM_SIZE bytes of physical RAM; linear addresses below 2 MiB map 1:1 through
 * 4-level paging (SDM vol. 3A 4.5) for the pages listed below, everything else is not present.
 * All paging-structure entries are made with A and D set, so that neither run writes them and
 * the whole RAM can be compared. The MMIO page is RAM that ram_page does not give a host
 * pointer for: every access to it goes through read/write, as a device's would.
 *
 *   0x01000-0x04fff  PML4, PDPT, PD, PT (supervisor only: CPL 3 cannot touch them)
 *   0x10000-0x11fff  code, user, writable (self-modifying code), executable
 *   0x20000-0x23fff  data, user, writable, no-execute
 *   0x30000-0x30fff  stack, user, writable, no-execute; RSP starts at 0x31000
 *   0x40000          not present (a #PF)
 *   0x50000          MMIO, user, writable, no-execute
 *
 * The CPU is x86_cpu_init's (64-bit mode, CPL 3, EFER.NXE) with CR0.PG and CR0.WP set. HLT at
 * CPL 3 is #GP(0) (SDM vol. 2 HLT): the test programs end with it.
 */
#ifndef HOSTVISOR_TEST_JIT_GUEST_H
#define HOSTVISOR_TEST_JIT_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"
#include "hostvisor/x86_mmu.h"
#include "../../src/emu/jit.h"

#define JG_PAGE 0x1000ull
#define JG_RAM_SIZE 0x60000ull
#define JG_PML4 0x1000ull
#define JG_CODE 0x10000ull
#define JG_CODE_LEN 0x2000ull
#define JG_DATA 0x20000ull
#define JG_DATA_LEN 0x4000ull
#define JG_STACK 0x30000ull
#define JG_STACK_TOP 0x31000ull
#define JG_UNMAPPED 0x40000ull
#define JG_MMIO 0x50000ull

/* Paging-structure entry bits (SDM vol. 3A table 4-19 and following). */
#define JG_P (1ull << 0)
#define JG_RW (1ull << 1)
#define JG_US (1ull << 2)
#define JG_A (1ull << 5)
#define JG_D (1ull << 6)
#define JG_XD (1ull << 63)

/* The arithmetic flags (SDM vol. 1 3.4.3.1). */
#define JG_FLAGS_ARITH 0x8d5ull

struct jg_mem {
	uint8_t *ram;
	bool strict; /* abort() on a call outside the x86_mem_ops contract (fuzzing) */
};

static inline bool jg_within(uint64_t a, size_t len)
{
	return a < JG_RAM_SIZE && len <= JG_RAM_SIZE - a;
}

static inline void jg_check_contract(const struct jg_mem *m, uint64_t a, size_t len)
{
	/* x86_cpu.h: len is 1..16 and never crosses a 4 KiB page */
	if (m->strict && (len < 1 || len > 16 || (a & (JG_PAGE - 1)) + len > JG_PAGE))
		abort();
}

static inline int jg_read(void *opaque, uint64_t a, void *buf, size_t len)
{
	struct jg_mem *m = opaque;

	jg_check_contract(m, a, len);
	if (!jg_within(a, len))
		return X86_EXC_PF;
	memcpy(buf, m->ram + a, len);
	return 0;
}

static inline int jg_write(void *opaque, uint64_t a, const void *buf, size_t len)
{
	struct jg_mem *m = opaque;

	jg_check_contract(m, a, len);
	if (!jg_within(a, len))
		return X86_EXC_PF;
	memcpy(m->ram + a, buf, len);
	return 0;
}

static inline uint8_t *jg_ram_page(void *opaque, uint64_t page)
{
	struct jg_mem *m = opaque;

	if (m->strict && (page & (JG_PAGE - 1)))
		abort();
	if (page == JG_MMIO || !jg_within(page, JG_PAGE))
		return NULL;
	return m->ram + page;
}

static const struct x86_mem_ops jg_ops = {
    .read = jg_read, .write = jg_write, .ram_page = jg_ram_page};

static inline uint64_t *jg_entry(uint8_t *ram, uint64_t table, unsigned index)
{
	return (uint64_t *)(void *)(ram + table + 8 * index);
}

/* Maps the 4 KiB page at linear (below 2 MiB) to the same physical address. */
static inline void jg_map(uint8_t *ram, uint64_t linear, uint64_t bits)
{
	*jg_entry(ram, 0x4000, (unsigned)(linear >> 12) & 511) = linear | JG_P | JG_A | JG_D | bits;
}

static inline void jg_unmap(uint8_t *ram, uint64_t linear)
{
	*jg_entry(ram, 0x4000, (unsigned)(linear >> 12) & 511) = 0;
}

/* Zeroed RAM with the page tables of the file comment. */
static inline void jg_ram_init(uint8_t *ram)
{
	memset(ram, 0, JG_RAM_SIZE);
	*jg_entry(ram, 0x1000, 0) = 0x2000 | JG_P | JG_RW | JG_US | JG_A;
	*jg_entry(ram, 0x2000, 0) = 0x3000 | JG_P | JG_RW | JG_US | JG_A;
	*jg_entry(ram, 0x3000, 0) = 0x4000 | JG_P | JG_RW | JG_US | JG_A;
	for (uint64_t p = 0x1000; p < 0x5000; p += JG_PAGE)
		jg_map(ram, p, JG_RW);
	for (uint64_t p = 0; p < JG_CODE_LEN; p += JG_PAGE)
		jg_map(ram, JG_CODE + p, JG_RW | JG_US);
	for (uint64_t p = 0; p < JG_DATA_LEN; p += JG_PAGE)
		jg_map(ram, JG_DATA + p, JG_RW | JG_US | JG_XD);
	jg_map(ram, JG_STACK, JG_RW | JG_US | JG_XD);
	jg_map(ram, JG_MMIO, JG_RW | JG_US | JG_XD);
}

static inline void jg_cpu_init(struct x86_cpu *cpu)
{
	x86_cpu_init(cpu);
	cpu->cr0 |= X86_CR0_PG | X86_CR0_WP;
	cpu->cr3 = JG_PML4;
	cpu->rip = JG_CODE;
	cpu->gpr[X86_RSP] = JG_STACK_TOP;
}

/* How a run ended: the exception that stopped it (0: the limit) after insns instructions. */
struct jg_result {
	int exc;
	uint64_t insns;
	uint64_t jit_runs;  /* x86_jit_run calls that ran a block */
	unsigned max_count; /* the most instructions one of them ran */
};

/*
 * Through the translation cache until an exception or at least limit instructions (a run of
 * chained blocks may go past it; the interpreter's run is then given the exact count).
 */
static inline struct jg_result jg_run_jit(struct x86_jit *jit, struct x86_cpu *cpu,
					  struct jg_mem *m, uint64_t limit)
{
	struct jg_result r = {0};

	while (r.insns < limit) {
		unsigned count = 0;
		int rc = x86_jit_run(jit, cpu, &jg_ops, m, &count);

		r.insns += count;
		if (count > r.max_count)
			r.max_count = count;
		if (rc == X86_JIT_NONE) {
			rc = x86_step(cpu, &jg_ops, m);
			r.insns += rc == 0;
		} else {
			r.jit_runs++;
		}
		if (rc) {
			r.exc = rc;
			break;
		}
	}
	return r;
}

/* Through x86_step alone until an exception or limit instructions. */
static inline struct jg_result jg_run_interp(struct x86_cpu *cpu, struct jg_mem *m, uint64_t limit)
{
	struct jg_result r = {0};

	while (r.insns < limit) {
		int rc = x86_step(cpu, &jg_ops, m);

		if (rc) {
			r.exc = rc;
			break;
		}
		r.insns++;
	}
	return r;
}

/*
 * Compares the two runs' ends; NULL if they agree, else what differs (into buf). Arithmetic
 * flags are compared under flag_mask: jit.h lets a fault in the middle of a block show the old
 * value of a flag that a later instruction of the block overwrites, so callers pass 0 after an
 * exception other than at a block boundary they know of.
 */
static inline const char *jg_compare(const struct jg_result *ri, const struct x86_cpu *ci,
				     const uint8_t *ram_i, const struct jg_result *rj,
				     const struct x86_cpu *cj, const uint8_t *ram_j,
				     uint64_t flag_mask, char *buf, size_t size)
{
	static const char *const names[X86_GPR_COUNT] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
							 "rsi", "rdi", "r8",  "r9",  "r10", "r11",
							 "r12", "r13", "r14", "r15"};
	size_t sys_from = offsetof(struct x86_cpu, seg);
	size_t sys_to = offsetof(struct x86_cpu, fault_error_code);
	uint64_t keep = ~JG_FLAGS_ARITH | flag_mask;

	if (ri->exc != rj->exc || ri->insns != rj->insns) {
		snprintf(buf, size, "end: interp exc %#x after %llu, jit exc %#x after %llu",
			 ri->exc, (unsigned long long)ri->insns, rj->exc,
			 (unsigned long long)rj->insns);
		return buf;
	}
	for (unsigned i = 0; i < X86_GPR_COUNT; i++) {
		if (ci->gpr[i] != cj->gpr[i]) {
			snprintf(buf, size, "%s: interp %#llx, jit %#llx", names[i],
				 (unsigned long long)ci->gpr[i], (unsigned long long)cj->gpr[i]);
			return buf;
		}
	}
	if (ci->rip != cj->rip || (ci->rflags & keep) != (cj->rflags & keep)) {
		snprintf(buf, size, "rip/rflags: interp %#llx/%#llx, jit %#llx/%#llx",
			 (unsigned long long)ci->rip, (unsigned long long)ci->rflags,
			 (unsigned long long)cj->rip, (unsigned long long)cj->rflags);
		return buf;
	}
	if (memcmp((const uint8_t *)ci + sys_from, (const uint8_t *)cj + sys_from,
		   sys_to - sys_from)) {
		snprintf(buf, size, "system state (segments, CRs, MSRs, FPU) differs");
		return buf;
	}
	if (ri->exc && (ci->fault_error_code != cj->fault_error_code ||
			(ri->exc == X86_EXC_PF && ci->fault_addr != cj->fault_addr))) {
		snprintf(buf, size, "fault: interp err %#x addr %#llx, jit err %#x addr %#llx",
			 ci->fault_error_code, (unsigned long long)ci->fault_addr,
			 cj->fault_error_code, (unsigned long long)cj->fault_addr);
		return buf;
	}
	for (uint64_t a = 0; a < JG_RAM_SIZE; a++) {
		if (ram_i[a] != ram_j[a]) {
			snprintf(buf, size, "memory at %#llx: interp %#x, jit %#x",
				 (unsigned long long)a, ram_i[a], ram_j[a]);
			return buf;
		}
	}
	return NULL;
}

#endif
