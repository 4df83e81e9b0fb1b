/* Decoded-instruction cache of the emu engine; see icache.h. */
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_mmu.h"
#include "icache.h"

#define ICACHE_ENTRIES 8192 /* a power of two */
#define PAGE_SIZE 4096u

struct icache_entry {
	uint64_t phys; /* ~0: empty */
	uint8_t mode;
	uint8_t bytes[X86_MAX_INSN_LEN];
	struct x86_insn in;
};

struct icache {
	struct x86_insn scratch; /* instructions the cache does not keep */
	uint64_t hits, misses;
	struct icache_entry e[ICACHE_ENTRIES];
};

struct icache *icache_create(void)
{
	struct icache *ic = malloc(sizeof(*ic));

	if (!ic)
		return NULL;
	memset(ic, 0, sizeof(*ic));
	for (unsigned i = 0; i < ICACHE_ENTRIES; i++)
		ic->e[i].phys = ~0ull;
	return ic;
}

void icache_destroy(struct icache *ic)
{
	free(ic);
}

void icache_counts(const struct icache *ic, uint64_t *hits, uint64_t *misses)
{
	*hits = ic->hits;
	*misses = ic->misses;
}

static unsigned slot_of(uint64_t phys)
{
	return (unsigned)((phys ^ (phys >> 13)) & (ICACHE_ENTRIES - 1));
}

static int uncached(struct icache *ic, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		    void *opaque, const struct x86_insn **in)
{
	int rc = x86_fetch_decode(cpu, mem, opaque, &ic->scratch);

	ic->misses++;
	*in = &ic->scratch;
	return rc;
}

int icache_fetch(struct icache *ic, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		 void *opaque, const struct x86_insn **in)
{
	struct icache_entry *e;
	uint64_t phys;
	uint8_t *host;
	int rc;

	/* Outside 64-bit mode the CS base and limit take part in every fetch: not cached. */
	if (cpu->mode != X86_MODE_LONG64)
		return uncached(ic, cpu, mem, opaque, in);
	rc = x86_mmu_translate(cpu, mem, opaque, cpu->rip, X86_ACC_FETCH, &phys, &host);
	if (rc)
		return rc;
	/* MMIO code, or an instruction that may run into the next page: the slow path checks
	 * the second page's translation. */
	if (!host || (phys & (PAGE_SIZE - 1)) > PAGE_SIZE - X86_MAX_INSN_LEN)
		return uncached(ic, cpu, mem, opaque, in);
	e = &ic->e[slot_of(phys)];
	if (e->phys == phys && e->mode == cpu->mode && memcmp(e->bytes, host, e->in.len) == 0) {
		ic->hits++;
		*in = &e->in;
		return 0;
	}
	ic->misses++;
	rc = x86_decode(host, X86_MAX_INSN_LEN, cpu->mode, &e->in);
	if (rc <= 0) {
		e->phys = ~0ull;
		return uncached(ic, cpu, mem, opaque, in); /* reports the #UD / #GP exactly */
	}
	e->phys = phys;
	e->mode = (uint8_t)cpu->mode;
	memcpy(e->bytes, host, X86_MAX_INSN_LEN);
	*in = &e->in;
	return 0;
}
