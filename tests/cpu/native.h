/* The host-CPU side of the conformance harness. */
#ifndef HOSTVISOR_TESTS_CPU_NATIVE_H
#define HOSTVISOR_TESTS_CPU_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#define NATIVE_PAGE_SIZE 4096

struct native_state {
	uint64_t gpr[16];
	uint64_t rflags; /* offset 128: the stub's layout */
};

int native_init(void);
/* Sets the host thread's GS base (arch_prctl); 0 or -1. The C library does not use GS. */
int native_set_gs_base(uint64_t base);
uint8_t *native_code_page(void);
/* Builds the stub around the instruction; returns the instruction's address (its RIP). */
uint64_t native_prepare(const uint8_t *insn, size_t len);
/* 0, or the signal number (SIGFPE for #DE) that ended the instruction. */
int native_run(struct native_state *st);

#endif
