/*
 * The emu side's memory in the conformance programs: a read-only code region and the emu's own
 * copy of the scratch region, each at the linear address the host runs the case at. Any other
 * access is a #PF, as an unmapped page would be for the host.
 */
#ifndef HOSTVISOR_TEST_CPU_EMU_MEMORY_H
#define HOSTVISOR_TEST_CPU_EMU_MEMORY_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"

struct emu_memory {
	uint64_t code_at, code_len;
	const uint8_t *code;
	uint64_t data_at, data_len;
	uint8_t *data;
};

static inline bool emu_memory_within(uint64_t a, size_t len, uint64_t at, uint64_t size)
{
	return a >= at && a + len >= a && a + len <= at + size;
}

static inline int emu_memory_access(const struct emu_memory *m, uint64_t a, size_t len,
				    bool write, uint8_t **p)
{
	if (!write && emu_memory_within(a, len, m->code_at, m->code_len)) {
		*p = (uint8_t *)(uintptr_t)(m->code + (a - m->code_at));
		return 0;
	}
	if (emu_memory_within(a, len, m->data_at, m->data_len)) {
		*p = m->data + (a - m->data_at);
		return 0;
	}
	return X86_EXC_PF;
}

static inline int emu_memory_read(void *opaque, uint64_t a, void *buf, size_t len)
{
	uint8_t *p;
	int rc = emu_memory_access(opaque, a, len, false, &p);

	if (rc == 0)
		memcpy(buf, p, len);
	return rc;
}

static inline int emu_memory_write(void *opaque, uint64_t a, const void *buf, size_t len)
{
	uint8_t *p;
	int rc = emu_memory_access(opaque, a, len, true, &p);

	if (rc == 0)
		memcpy(p, buf, len);
	return rc;
}

static const struct x86_mem_ops emu_memory_ops = {.read = emu_memory_read,
						  .write = emu_memory_write};

#endif
