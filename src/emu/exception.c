/* Scaffold: event delivery is being written. */
#include "exec_internal.h"

int x86_deliver(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		enum x86_event_kind kind, int vector_or_exc, bool software, uint64_t return_rip)
{
	(void)cpu;
	(void)mem;
	(void)opaque;
	(void)kind;
	(void)vector_or_exc;
	(void)software;
	(void)return_rip;
	return X86_TRIPLE_FAULT;
}

int x86_deliver_event(struct x86_cpu *cpu, const struct x86_mem_ops *mem, void *opaque,
		      enum x86_event_kind kind, int vector_or_exc)
{
	return x86_deliver(cpu, mem, opaque, kind, vector_or_exc, false, cpu->rip);
}
