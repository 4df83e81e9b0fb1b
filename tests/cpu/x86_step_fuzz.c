/*
 * libFuzzer harness for x86_step: the input is the initial state (16 GPRs, RFLAGS, GS base)
 * followed by code, placed in a small flat memory; up to 64 instructions run. Registers are
 * hostile, so addresses land anywhere: the callbacks fault outside the buffer. Checks: no crash,
 * no sanitizer report, a fault never changes the state, RIP advances by 1..15 on success.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"

#define MEM_BASE 0x10000ull
#define MEM_SIZE 8192

struct flat {
	uint8_t mem[MEM_SIZE];
};

static int flat_at(uint64_t a, size_t len, uint64_t *off)
{
	if (a < MEM_BASE || a - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (a - MEM_BASE))
		return X86_EXC_PF;
	*off = a - MEM_BASE;
	return 0;
}

static int flat_read(void *opaque, uint64_t a, void *buf, size_t len)
{
	struct flat *f = opaque;
	uint64_t off;
	int rc = flat_at(a, len, &off);

	if (rc == 0)
		memcpy(buf, f->mem + off, len);
	return rc;
}

static int flat_write(void *opaque, uint64_t a, const void *buf, size_t len)
{
	struct flat *f = opaque;
	uint64_t off;
	int rc = flat_at(a, len, &off);

	if (rc == 0)
		memcpy(f->mem + off, buf, len);
	return rc;
}

/* Field by field: struct x86_segment has padding. */
static int cpu_differs(const struct x86_cpu *a, const struct x86_cpu *b)
{
	if (memcmp(a->gpr, b->gpr, sizeof(a->gpr)) || a->rip != b->rip || a->rflags != b->rflags)
		return 1;
	for (int i = 0; i < X86_SEG_NONE; i++)
		if (a->seg[i].selector != b->seg[i].selector || a->seg[i].base != b->seg[i].base)
			return 1;
	return a->mode != b->mode;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Branches and REP strings (which may stop on themselves) move RIP anywhere. */
static bool may_redirect(const struct x86_cpu *cpu, struct flat *f)
{
	uint8_t b[X86_MAX_INSN_LEN] = {0};
	struct x86_insn in;
	size_t avail;

	for (avail = 0; avail < sizeof(b); avail++)
		if (flat_read(f, cpu->rip + avail, &b[avail], 1))
			break;
	if (x86_decode(b, avail, X86_MODE_LONG64, &in) <= 0)
		return false;
	switch (in.op) {
	case X86_OP_JMP: case X86_OP_JCC: case X86_OP_CALL: case X86_OP_RET:
	case X86_OP_LOOP: case X86_OP_LOOPE: case X86_OP_LOOPNE: case X86_OP_JCXZ:
	case X86_OP_SYSCALL: case X86_OP_SYSRET: case X86_OP_INT: case X86_OP_INT3:
	case X86_OP_INT1: case X86_OP_INTO: case X86_OP_IRET: case X86_OP_JMPF:
	case X86_OP_CALLF: case X86_OP_RETF:
		return true;
	case X86_OP_INS: case X86_OP_OUTS:
	case X86_OP_MOVS: case X86_OP_STOS: case X86_OP_LODS: case X86_OP_CMPS: case X86_OP_SCAS:
		return in.rep != 0;
	default:
		return false;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct x86_mem_ops ops = {.read = flat_read, .write = flat_write};
	struct flat *f;
	struct x86_cpu cpu, before;
	size_t head = sizeof(cpu.gpr) + 16;

	if (size < head)
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f)
		return 0;
	x86_cpu_init(&cpu);
	memcpy(cpu.gpr, data, sizeof(cpu.gpr));
	memcpy(&cpu.rflags, data + sizeof(cpu.gpr), 8);
	memcpy(&cpu.seg[X86_SEG_GS].base, data + sizeof(cpu.gpr) + 8, 8);
	cpu.rflags = (cpu.rflags & (X86_FLAGS_ARITH | X86_FLAG_DF)) | X86_FLAG_FIXED1;
	memcpy(f->mem, data + head, size - head < MEM_SIZE ? size - head : MEM_SIZE);
	cpu.rip = MEM_BASE;
	for (int i = 0; i < 64; i++) {
		before = cpu;
		if (x86_step(&cpu, &ops, f)) {
			if (cpu_differs(&cpu, &before))
				abort(); /* a fault must commit nothing */
			break;
		}
		if (!may_redirect(&before, f) &&
		    (cpu.rip - before.rip < 1 || cpu.rip - before.rip > 15))
			abort();
	}
	free(f);
	return 0;
}
