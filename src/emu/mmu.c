/*
 * Linear-to-physical translation and linear memory access of the emu CPU (Intel SDM vol. 3A
 * ch. 4). See x86_mmu.h.
 */
#include <string.h>

#include "hostvisor/x86_mmu.h"

#define PAGE_SIZE 4096ull
#define PAGE_MASK (~(PAGE_SIZE - 1))

void x86_tlb_flush(struct x86_cpu *cpu, bool include_global)
{
	(void)include_global;
	memset(&cpu->tlb, 0, sizeof(cpu->tlb));
}

void x86_tlb_flush_page(struct x86_cpu *cpu, uint64_t linear)
{
	(void)linear;
	memset(&cpu->tlb, 0, sizeof(cpu->tlb));
}

int x86_mmu_translate(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		      uint64_t linear, unsigned acc, uint64_t *phys, uint8_t **host)
{
	uint8_t *page;

	(void)acc;
	if (cpu->cr0 & X86_CR0_PG) {
		cpu->fault_addr = linear;
		cpu->fault_error_code = 0;
		return X86_EXC_PF; /* the page walk is the next step */
	}
	*phys = (cpu->efer & X86_EFER_LMA) ? linear : (linear & 0xffffffffull);
	if (host) {
		page = mem->ram_page ? mem->ram_page(opaque, *phys & PAGE_MASK) : NULL;
		*host = page ? page + (*phys & ~PAGE_MASK) : NULL;
	}
	return 0;
}

/* Translates every page of [linear, linear + len) before anything is accessed. */
static int access(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		  uint64_t linear, void *rbuf, const void *wbuf, size_t len, unsigned acc)
{
	uint64_t phys[2];
	uint8_t *host[2];
	size_t first = PAGE_SIZE - (linear & ~PAGE_MASK), done = 0;
	int rc;

	if (len > first) {
		/* Two pages at a time at most: callers pass at most one page's worth (FXSAVE 512). */
		if (len - first > PAGE_SIZE)
			return X86_EXC_GP;
	} else {
		first = len;
	}
	rc = x86_mmu_translate(cpu, mem, opaque, linear, acc, &phys[0], &host[0]);
	if (rc == 0 && len > first)
		rc = x86_mmu_translate(cpu, mem, opaque, linear + first, acc, &phys[1], &host[1]);
	if (rc)
		return rc;
	for (int i = 0; i < 2 && done < len; i++) {
		size_t n = i == 0 ? first : len - first;

		if (host[i] && rbuf)
			memcpy((uint8_t *)rbuf + done, host[i], n);
		else if (host[i])
			memcpy(host[i], (const uint8_t *)wbuf + done, n);
		else if (rbuf)
			rc = mem->read(opaque, phys[i], (uint8_t *)rbuf + done, n);
		else
			rc = mem->write(opaque, phys[i], (const uint8_t *)wbuf + done, n);
		if (rc)
			return rc;
		done += n;
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

int x86_linear_cmpxchg(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		       uint64_t linear, const void *expected, const void *desired, size_t len,
		       bool *swapped)
{
	uint8_t cur[16];
	int rc;

	if (len > sizeof(cur))
		return X86_EXC_GP;
	rc = x86_linear_read(cpu, mem, opaque, linear, cur, len, X86_ACC_WRITE);
	if (rc)
		return rc;
	*swapped = memcmp(cur, expected, len) == 0;
	if (!*swapped)
		return 0;
	return x86_linear_write(cpu, mem, opaque, linear, desired, len, X86_ACC_WRITE);
}
