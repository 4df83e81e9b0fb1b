/* Decoded-instruction cache of the emu engine; see icache.h. */
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_mmu.h"
#include "mmu_fast.h"
#include "icache.h"

#define ICACHE_ENTRIES 16384 /* a power of two */
#define PAGE_SIZE 4096u
/* A hit compares the 16 bytes at RIP, masked to the instruction's length, with two loads. */
#define ICACHE_WINDOW 16u

struct icache_entry {
	uintptr_t key; /* host address of the instruction's first byte in guest RAM; 0: empty */
	uint8_t mode;
	uint8_t unit;      /* x86_execute_hinted's dispatch hint */
	uint64_t bytes[2]; /* the ICACHE_WINDOW bytes at key when it was decoded */
	uint64_t mask[2];  /* ones over the instruction's own bytes */
	/* The entries last run after this one, straight on and by a jump: a guess that saves the
	 * hash lookup, checked by key like any other. */
	struct icache_entry *next, *target;
	struct x86_insn in;
};

/*
 * The last instruction fetched. While the TLB has not been flushed since, the CPL and mode are
 * the same and RIP stays on the same linear page, that page still maps to the same host page:
 * the next fetch needs no translation.
 */
struct icache_cursor {
	struct icache_entry *e; /* NULL: no translation to reuse */
	uint64_t rip;
	const uint8_t *host;
	uint32_t flushes;
	uint8_t cpl;
};

struct icache {
	struct x86_insn scratch; /* instructions the cache does not keep */
	uint8_t scratch_unit;
	uint64_t hits, misses;
	struct icache_cursor last;
	struct icache_entry e[ICACHE_ENTRIES];
};

struct icache *icache_create(void)
{
	struct icache *ic = calloc(1, sizeof(*ic));

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

static unsigned slot_of(uintptr_t key)
{
	return (unsigned)((key ^ (key >> 14)) & (ICACHE_ENTRIES - 1));
}

static int uncached(struct icache *ic, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		    void *opaque, const struct x86_insn **in)
{
	int rc = x86_fetch_decode(cpu, mem, opaque, &ic->scratch);

	ic->scratch_unit = 0;
	ic->misses++;
	*in = &ic->scratch;
	return rc;
}

/* The window at RIP through the cursor's translation, or NULL if that may be stale. */
static const uint8_t *window_by_cursor(const struct icache_cursor *c, const struct x86_cpu *cpu)
{
	uint64_t off = cpu->rip & (PAGE_SIZE - 1);

	if (!c->e || c->flushes != cpu->tlb.flushes || c->cpl != cpu->cpl ||
	    ((c->rip ^ cpu->rip) & ~(uint64_t)(PAGE_SIZE - 1)) || off > PAGE_SIZE - ICACHE_WINDOW)
		return NULL;
	return c->host - (c->rip & (PAGE_SIZE - 1)) + off;
}

static void entry_fill(struct icache_entry *e, const uint8_t *host, const uint64_t w[2],
		       enum x86_mode mode)
{
	unsigned len = e->in.len;

	e->key = (uintptr_t)host;
	e->mode = (uint8_t)mode;
	e->unit = 0;
	e->next = e->target = NULL;
	e->bytes[0] = w[0];
	e->bytes[1] = w[1];
	e->mask[0] = len >= 8 ? ~0ull : (1ull << (8 * len)) - 1;
	e->mask[1] = len <= 8 ? 0 : len >= 16 ? ~0ull : (1ull << (8 * (len - 8))) - 1;
}

static bool entry_holds(const struct icache_entry *e, const uint8_t *host, const uint64_t w[2])
{
	return e->key == (uintptr_t)host && e->mode == X86_MODE_LONG64 &&
	       !(((w[0] ^ e->bytes[0]) & e->mask[0]) | ((w[1] ^ e->bytes[1]) & e->mask[1]));
}

/* The entry the last instruction's links guess for host, else its hash slot. */
static struct icache_entry *entry_for(struct icache *ic, const struct x86_cpu *cpu,
				      const uint8_t *host, bool linked)
{
	struct icache_entry *prev = ic->last.e;
	struct icache_entry *guess;

	if (!linked)
		return &ic->e[slot_of((uintptr_t)host)];
	guess = cpu->rip == ic->last.rip + prev->in.len ? prev->next : prev->target;
	if (guess && guess->key == (uintptr_t)host)
		return guess;
	guess = &ic->e[slot_of((uintptr_t)host)];
	if (cpu->rip == ic->last.rip + prev->in.len)
		prev->next = guess;
	else
		prev->target = guess;
	return guess;
}

static void cursor_set(struct icache *ic, const struct x86_cpu *cpu, struct icache_entry *e,
		       const uint8_t *host)
{
	ic->last = (struct icache_cursor){ .e = e, .rip = cpu->rip, .host = host,
					   .flushes = cpu->tlb.flushes, .cpl = cpu->cpl };
}

int icache_fetch(struct icache *ic, struct x86_cpu *cpu, const struct x86_mem_ops *mem,
		 void *opaque, const struct x86_insn **in, uint8_t **unit)
{
	struct icache_entry *e;
	const uint8_t *host;
	uint64_t w[2];
	bool linked;
	int rc;

	/* Outside 64-bit mode the CS base and limit take part in every fetch: not cached. */
	if (cpu->mode != X86_MODE_LONG64) {
		ic->last.e = NULL;
		*unit = &ic->scratch_unit;
		return uncached(ic, cpu, mem, opaque, in);
	}
	host = window_by_cursor(&ic->last, cpu);
	linked = host != NULL;
	if (!linked)
		host = x86_code_host(cpu, mem, opaque, cpu->rip, ICACHE_WINDOW, &rc);
	if (!host) {
		ic->last.e = NULL;
		*unit = &ic->scratch_unit;
		return rc ? rc : uncached(ic, cpu, mem, opaque, in);
	}
	memcpy(w, host, sizeof(w));
	e = entry_for(ic, cpu, host, linked);
	if (__builtin_expect(entry_holds(e, host, w), 1)) {
		ic->hits++;
		cursor_set(ic, cpu, e, host);
		*in = &e->in;
		*unit = &e->unit;
		return 0;
	}
	ic->misses++;
	rc = x86_decode((const uint8_t *)w, X86_MAX_INSN_LEN, cpu->mode, &e->in);
	if (rc <= 0) {
		e->key = 0;
		ic->last.e = NULL;
		*unit = &ic->scratch_unit;
		return uncached(ic, cpu, mem, opaque, in); /* reports the #UD / #GP exactly */
	}
	entry_fill(e, host, w, cpu->mode);
	cursor_set(ic, cpu, e, host);
	*in = &e->in;
	*unit = &e->unit;
	return 0;
}
