/*
 * The emu CPU's linear-to-physical translation (Intel SDM vol. 3A ch. 4 "Paging"; AMD APM
 * vol. 2 ch. 5): 32-bit paging (with CR4.PSE), PAE paging and 4-level paging, A/D bit updates,
 * the permission rules of SDM 4.6 (U/S, R/W with CR0.WP, NX with EFER.NXE), #PF error codes of
 * SDM 4.7, and a software TLB (struct x86_tlb in x86_cpu.h) invalidated as SDM 4.10.4 requires
 * (MOV CR3 keeps global entries when CR4.PGE is set; INVLPG; CR0.PG/WP, CR4.PGE/PAE/PSE changes
 * and EFER.NXE changes flush everything).
 *
 * With CR0.PG clear, linear addresses are physical (truncated to 32 bits outside long mode).
 * Accesses of any length are split at page boundaries; every page is translated before the
 * first byte is written, so a faulting write changes nothing (CR2 is then the first byte of
 * the faulting page).
 *
 * The TLB caches host pointers from mem->ram_page and permissions that depend on CR0.WP and
 * EFER.NXE: whoever changes those, or what ram_page returns for a page (RAM/ROM remapping),
 * must call x86_tlb_flush(cpu, true) on every vCPU it affects. CPL changes need no flush.
 * The inline TLB-hit path for 1/2/4/8-byte accesses is src/emu/mmu_fast.h.
 */
#ifndef HOSTVISOR_X86_MMU_H
#define HOSTVISOR_X86_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvisor/x86_cpu.h"

/* Access kinds. X86_ACC_SUPERVISOR marks an implicit supervisor-mode access (GDT, LDT, IDT,
 * TSS; SDM 4.6): it is checked as CPL 0 even when CPL is 3. */
#define X86_ACC_READ 0u
#define X86_ACC_WRITE 1u
#define X86_ACC_FETCH 2u
#define X86_ACC_KIND_MASK 3u
#define X86_ACC_SUPERVISOR 4u

/* The physical-address width the MMU implements (reserved bits 51:40 of PAE / 4-level paging
 * entries): CPUID 0x80000008 EAX[7:0] must report it. 1 GiB pages are not implemented (no
 * CPUID PDPE1GB): PS in a PDPTE of 4-level paging is a reserved bit; no PSE-36 either. */
#define X86_MAXPHYADDR 40

/*
 * Translates one linear address for an access of the given kind. On success stores the physical
 * address and returns 0; with host != NULL also the host address of that byte if it is RAM
 * (else NULL). On a paging fault sets cpu->fault_addr = linear and cpu->fault_error_code per
 * SDM 4.7 and returns X86_EXC_PF; other errors of mem->read (a page table in MMIO) are returned
 * unchanged.
 */
int x86_mmu_translate(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		      uint64_t linear, unsigned acc, uint64_t *phys, uint8_t **host);

/* Linear-memory access of len bytes (any length), split at page boundaries. */
int x86_linear_read(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		    uint64_t linear, void *buf, size_t len, unsigned acc);
int x86_linear_write(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		     uint64_t linear, const void *buf, size_t len, unsigned acc);
/*
 * Atomic compare-and-exchange of len (1, 2, 4, 8 or 16) bytes for LOCK: if memory holds
 * *expected, stores *desired. Sets *swapped. Atomic against other vCPUs when the memory is RAM
 * and the access stays within one page; otherwise read-compare-write.
 */
int x86_linear_cmpxchg(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		       uint64_t linear, const void *expected, const void *desired, size_t len,
		       bool *swapped);

/* TLB invalidation (SDM 4.10.4): everything, or everything but global entries; one page. */
void x86_tlb_flush(struct x86_cpu *cpu, bool include_global);
void x86_tlb_flush_page(struct x86_cpu *cpu, uint64_t linear);

#endif
