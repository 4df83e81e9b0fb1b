/*
 * The emu engine's decoded-instruction cache: instructions decoded once are looked up by where
 * they are in guest RAM (the host address of their first byte, one-to-one with the physical
 * address). An entry keeps the instruction's bytes and is used only while guest memory still
 * holds those bytes, so code written by the guest (its own stores, another vCPU, device DMA) is
 * decoded afresh without any write tracking; the check is two masked 8-byte compares.
 *
 * Straight-line code and jumps within a page skip both the TLB and the hash: each entry links
 * to the entries that ran after it, and the last fetch's translation serves the next one while
 * the TLB has not been flushed and RIP stays on the page.
 */
#ifndef HOSTVISOR_EMU_ICACHE_H
#define HOSTVISOR_EMU_ICACHE_H

#include "hostvisor/x86_cpu.h"

struct icache;

struct icache *icache_create(void);
void icache_destroy(struct icache *ic);

/*
 * Fetches and decodes the instruction at cpu->rip, from the cache when it can. Returns 0 with
 * *in and *unit (its dispatch hint for x86_execute_hinted) valid until the next call, or the
 * fetch's X86_EXC_*.
 */
int icache_fetch(struct icache *ic, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		 void *opaque, const struct x86_insn **in, uint8_t **unit);

/* Lookups and decodes so far, for the statistics. */
void icache_counts(const struct icache *ic, uint64_t *hits, uint64_t *misses);

#endif
