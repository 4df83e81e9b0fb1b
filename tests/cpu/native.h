/* The host-CPU side of the conformance harness. */
#ifndef HOSTVISOR_TESTS_CPU_NATIVE_H
#define HOSTVISOR_TESTS_CPU_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define NATIVE_PAGE_SIZE 4096

struct native_state {
	uint64_t gpr[16];
	uint64_t rflags; /* offset 128: the trampoline's layout */
	/* offset 144: the FXSAVE image (x87/MMX, MXCSR, XMM0-15) loaded with FXRSTOR before the
	 * instruction and stored with FXSAVE after it */
	_Alignas(16) uint8_t fx[512];
};
#define NATIVE_FX_OFFSET 144

int native_init(void);
/* Sets the host thread's GS base (arch_prctl); 0 or -1. The C library does not use GS. */
int native_set_gs_base(uint64_t base);
uint8_t *native_code_page(void);
/* Builds the trampoline around the instruction; returns the instruction's address (its RIP). */
uint64_t native_prepare(const uint8_t *insn, size_t len);
#define NATIVE_PAD_FALLTHROUGH 1
#define NATIVE_PAD_TAKEN 2
/*
 * Builds the trampoline for a branch case with a fall-through and a taken landing pad (native.c);
 * patches the last rel_size bytes of the instruction with the displacement to the taken pad,
 * stores the taken pad's address in *taken, returns the instruction's address.
 */
uint64_t native_prepare_branch(const uint8_t *insn, size_t len, unsigned rel_size, int backward,
			       uint64_t *taken);
/* After native_run of a branch case: NATIVE_PAD_FALLTHROUGH, NATIVE_PAD_TAKEN or 0. */
uint32_t native_pad_reached(void);
/* 0, or the signal number (SIGFPE for #DE and #XM, SIGSEGV for #GP) that ended the
 * instruction. */
int native_run(struct native_state *st);
/* After a signal: the exception vector (trap number) and the FXSAVE image at the fault. */
int native_fault_trapno(void);
const uint8_t *native_fault_fx(void);

#endif
