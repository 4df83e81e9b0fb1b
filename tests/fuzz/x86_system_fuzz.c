/*
 * libFuzzer harness for the emu CPU's system unit: the input picks a system state (mode, CPL,
 * IOPL/IF/DF/VM, CR0/CR4/EFER bits, DR7, TR base and limit, a few GPRs), then the rest is
 * code at CODE_ADDR and the TSS contents; up to 32 instructions run through
 * x86_fetch_decode/x86_execute in a 64 KiB flat memory. Port reads return input bytes.
 * Checks: no crash, no sanitizer report, a fault changes no GPR/RIP/RFLAGS, and a successful
 * control-register write never leaves an invalid combination (PG without PE, NW without CD,
 * reserved CR4 bits, LMA without PG).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_cpu.h"

#define MEM_SIZE 0x10000u
#define CODE_ADDR 0x1000u
#define TSS_ADDR 0x8000u
#define MAX_STEPS 32
#define CR4_VALID 0x7b0ull /* TSD PSE PAE PGE PCE OSFXSR OSXMMEXCPT */

struct fuzz_machine {
	uint8_t *mem;
	const uint8_t *pio_data;
	size_t pio_len, pio_pos;
	uint64_t clock, cr8, apic_base;
};

static int fm_read(void *opaque, uint64_t a, void *buf, size_t len)
{
	struct fuzz_machine *m = opaque;

	if (a >= MEM_SIZE || len > MEM_SIZE - a)
		return X86_EXC_PF;
	memcpy(buf, m->mem + a, len);
	return 0;
}

static int fm_write(void *opaque, uint64_t a, const void *buf, size_t len)
{
	struct fuzz_machine *m = opaque;

	if (a >= MEM_SIZE || len > MEM_SIZE - a)
		return X86_EXC_PF;
	memcpy(m->mem + a, buf, len);
	return 0;
}

static int fm_pio_in(void *opaque, uint16_t port, unsigned size, uint32_t *val)
{
	struct fuzz_machine *m = opaque;

	(void)port;
	*val = 0;
	for (unsigned i = 0; i < size && m->pio_len; i++)
		*val |= (uint32_t)m->pio_data[m->pio_pos++ % m->pio_len] << (8 * i);
	return 0;
}

static int fm_pio_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	(void)opaque;
	(void)port;
	(void)size;
	(void)val;
	return 0;
}

static int fm_rdmsr(void *opaque, uint32_t msr, uint64_t *val)
{
	struct fuzz_machine *m = opaque;

	if (msr != 0x1b)
		return X86_EXC_GP;
	*val = m->apic_base;
	return 0;
}

static int fm_wrmsr(void *opaque, uint32_t msr, uint64_t val)
{
	struct fuzz_machine *m = opaque;

	if (msr != 0x1b)
		return X86_EXC_GP;
	m->apic_base = val;
	return 0;
}

static uint64_t fm_cr8_read(void *opaque)
{
	return ((struct fuzz_machine *)opaque)->cr8;
}

static void fm_cr8_write(void *opaque, uint64_t val)
{
	((struct fuzz_machine *)opaque)->cr8 = val;
}

static uint64_t fm_clock(void *opaque)
{
	return ((struct fuzz_machine *)opaque)->clock;
}

static const struct x86_mem_ops fm_ops = {
    .read = fm_read,
    .write = fm_write,
    .pio_in = fm_pio_in,
    .pio_out = fm_pio_out,
    .rdmsr = fm_rdmsr,
    .wrmsr = fm_wrmsr,
    .cr8_read = fm_cr8_read,
    .cr8_write = fm_cr8_write,
    .clock_ns = fm_clock,
};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* A consistent starting state of one of four kinds, then hostile details. */
static void make_state(struct x86_cpu *c, struct input *in)
{
	uint8_t kind = (uint8_t)take(in, 1), fl = (uint8_t)take(in, 1);
	struct x86_segment *cs = &c->seg[X86_SEG_CS];

	x86_cpu_init(c);
	switch (kind & 3) {
	case 0: /* real mode */
		x86_cpu_reset(c);
		cs->base = 0;
		cs->selector = 0;
		break;
	case 1: /* 32-bit protected mode */
		c->cr0 = X86_CR0_PE | X86_CR0_ET;
		c->cr4 = 0;
		c->efer = 0;
		cs->attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_DB | 0xb;
		break;
	case 2: /* compatibility mode */
		cs->attr = X86_SEGA_P | X86_SEGA_S | X86_SEGA_G | X86_SEGA_DB | 0xb;
		break;
	default: /* 64-bit mode */
		break;
	}
	if ((kind & 4) && (c->cr0 & X86_CR0_PE)) {
		c->cpl = 3;
		cs->attr |= X86_SEGA_DPL;
	} else {
		c->cpl = 0;
		cs->attr &= ~X86_SEGA_DPL;
	}
	c->cr4 |= take(in, 1) & CR4_VALID & ~0x20ull; /* PAE stays as the kind set it */
	if (kind & 8)
		c->cr0 |= X86_CR0_TS | X86_CR0_MP;
	if (kind & 0x10)
		c->cr0 |= X86_CR0_CD | X86_CR0_NW;
	c->rflags = X86_FLAG_FIXED1 | ((uint64_t)(fl & 3) << 12) | (fl & 4 ? X86_FLAG_IF : 0) |
		    (fl & 8 ? X86_FLAG_DF : 0);
	if ((fl & 0x10) && (kind & 3) == 1) {
		c->rflags |= X86_FLAG_VM;
		c->cpl = 3;
	}
	c->dr[7] = 0x400 | (fl & 0x20 ? 1u << 13 : 0);
	c->tr.base = TSS_ADDR + take(in, 1);
	c->tr.limit = (uint32_t)take(in, 2);
	c->tr.attr = X86_SEGA_P | (fl & 0x40 ? 0x3 : 0xb);
	c->apic_id = (uint32_t)take(in, 1);
	c->gpr[X86_RAX] = take(in, 8);
	c->gpr[X86_RCX] = take(in, 4);
	c->gpr[X86_RDX] = take(in, 8);
	c->gpr[X86_RBX] = take(in, 2);
	c->gpr[X86_RSI] = take(in, 2);
	c->gpr[X86_RDI] = take(in, 2);
	c->gpr[X86_RSP] = 0x7000;
	c->rip = CODE_ADDR;
	x86_update_mode(c);
}

static void check_invariants(const struct x86_cpu *c)
{
	if ((c->cr0 & X86_CR0_PG) && !(c->cr0 & X86_CR0_PE))
		abort();
	if ((c->cr0 & X86_CR0_NW) && !(c->cr0 & X86_CR0_CD))
		abort();
	if (c->cr4 & ~CR4_VALID)
		abort();
	if ((c->efer & X86_EFER_LMA) && !(c->cr4 & X86_CR4_PAE))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *mem;
	static struct x86_cpu *cpu;
	struct fuzz_machine m = {.apic_base = 0xfee00900};
	struct input in = {data, size};
	size_t code_len;

	if (!mem)
		mem = malloc(MEM_SIZE);
	if (!cpu)
		cpu = malloc(sizeof(*cpu));
	if (!mem || !cpu)
		return 0;
	memset(mem, 0, MEM_SIZE);
	m.mem = mem;
	make_state(cpu, &in);
	/* half of the rest is code, the other half the TSS (and port data) */
	code_len = in.left / 2;
	memcpy(mem + CODE_ADDR, in.p, code_len > 0x1000 ? 0x1000 : code_len);
	in.p += code_len;
	in.left -= code_len;
	memcpy(mem + TSS_ADDR, in.p, in.left > 0x4000 ? 0x4000 : in.left);
	m.pio_data = in.p;
	m.pio_len = in.left;
	check_invariants(cpu);

	for (int i = 0; i < MAX_STEPS && !cpu->halted; i++) {
		struct x86_insn insn;
		uint64_t gpr[X86_GPR_COUNT], rip = cpu->rip, rflags = cpu->rflags;
		int rc;

		memcpy(gpr, cpu->gpr, sizeof(gpr));
		m.clock += 977;
		rc = x86_fetch_decode(cpu, &fm_ops, &m, &insn);
		if (rc)
			break;
		rc = x86_execute(cpu, &fm_ops, &m, &insn);
		if (rc) {
			if (memcmp(gpr, cpu->gpr, sizeof(gpr)) || rip != cpu->rip ||
			    rflags != cpu->rflags)
				abort();
			break;
		}
		check_invariants(cpu);
	}
	return 0;
}
