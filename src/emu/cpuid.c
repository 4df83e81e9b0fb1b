/* Scaffold: CPUID is being written. */
#include <string.h>

#include "hostvisor/x86_cpu.h"

void x86_cpuid(const struct x86_cpu *cpu, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	(void)cpu;
	(void)leaf;
	(void)subleaf;
	memset(out, 0, 4 * sizeof(out[0]));
}
