/*
 * Fuzzer for the emu engine's translation cache (src/emu/jit.h, jit.c, jit_translate.c) against
 * the interpreter. The input is guest code and some start state; it runs on two CPUs with
 * separate copies of the guest of tests/unit/jit_guest.h (paging, a code page the guest may
 * write, data, a stack, an MMIO page, a page that is not present): through x86_jit_run (x86_step
 * where no block runs) for about RUN_LIMIT instructions or until an exception, then through
 * x86_step alone for exactly as many instructions. Both must end the same way: the same
 * exception (or none) after the same count, the same registers, RIP, system state and memory.
 *
 * Input: byte 0 chooses the arithmetic flags and DF at the start, bytes 1..8 the start values
 * of RAX RCX RDX RBX RBP RSI RDI R8 (each from a small table of interesting values: pointers
 * into the data, stack, MMIO and absent pages, edge numbers), then the code, at the start of the
 * two code pages (the rest of them HLT, #GP at CPL 3).
 *
 * Flags: arithmetic flags are compared under FLAGS_COMPARED. AF and OF are left out because
 * many instructions leave them undefined (shifts, rotates, MUL, BSF, ...; SDM vol. 2 per
 * instruction), where the JIT has the host CPU's values and the interpreter its own. After an
 * exception no arithmetic flag is compared: jit.h lets a fault inside a block show the old value
 * of a flag the block overwrites later.
 *
 * JIT_FUZZ_SKIP_SMC=1 in the environment: runs in which the guest wrote its own code pages are
 * only checked for crashes, not compared (to look past a known self-modifying-code bug).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit_guest.h"

#define RUN_LIMIT 2000u
#define FLAGS_COMPARED (X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_ZF | X86_FLAG_SF)

struct fuzz_state {
	struct x86_jit *jit;
	uint8_t *ram_i, *ram_j;
	struct x86_cpu ci, cj;
};

static struct fuzz_state *fuzz_state(void)
{
	static struct fuzz_state *s;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->ram_i = malloc(JG_RAM_SIZE);
	s->ram_j = malloc(JG_RAM_SIZE);
	s->jit = x86_jit_create(0, X86_JIT_MAX_INSNS);
	if (!s->ram_i || !s->ram_j || !s->jit)
		abort();
	return s;
}

static uint64_t start_value(uint8_t b)
{
	uint64_t low = b >> 3;

	switch (b & 7) {
	case 0:
		return low;
	case 1:
		return JG_DATA + low * 0x100; /* into the data pages, some near their end */
	case 2:
		return JG_STACK + 0xf00 + low * 8;
	case 3:
		return JG_MMIO + low * 8;
	case 4:
		return JG_UNMAPPED + low;
	case 5:
		return 0x8000000000000000ull - 16 + low; /* near the non-canonical hole */
	case 6:
		return ~0ull - low;
	default:
		return (low << 59) | 0x7fffffffull;
	}
}

/*
 * The arithmetic flags to compare: none after a fault, but for the #GP of a HLT at CPL 3 that
 * ends most runs (HLT is never translated, so it starts a block and the flags before it are
 * exact).
 */
static uint64_t flags_compared(const struct fuzz_state *s, const struct jg_result *rj)
{
	uint64_t rip = s->cj.rip;

	if (!rj->exc)
		return FLAGS_COMPARED;
	if (rj->exc == X86_EXC_GP && rip >= JG_CODE && rip < JG_CODE + JG_CODE_LEN &&
	    s->ram_j[rip] == 0xf4)
		return FLAGS_COMPARED;
	return 0;
}

static bool skip_smc(void)
{
	static int skip = -1;

	if (skip < 0) {
		const char *v = getenv("JIT_FUZZ_SKIP_SMC");

		skip = v && *v == '1';
	}
	return skip;
}

/* Did the interpreter's run write its code pages? */
static bool code_written(const struct fuzz_state *s, const uint8_t *code, size_t len)
{
	for (uint64_t a = 0; a < JG_CODE_LEN; a++) {
		if (s->ram_i[JG_CODE + a] != (a < len ? code[a] : 0xf4))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum x86_gpr regs[] = {X86_RAX, X86_RCX, X86_RDX, X86_RBX,
					    X86_RBP, X86_RSI, X86_RDI, X86_R8};
	struct fuzz_state *s = fuzz_state();
	struct jg_mem mi = {.ram = s->ram_i, .strict = true};
	struct jg_mem mj = {.ram = s->ram_j, .strict = true};
	struct jg_result ri, rj;
	char why[160];
	const char *diff;

	if (size < 10 || size - 9 > JG_CODE_LEN)
		return 0;
	jg_ram_init(s->ram_i);
	for (uint64_t a = 0; a < JG_DATA_LEN; a++)
		s->ram_i[JG_DATA + a] = (uint8_t)(a * 37 + (a >> 8));
	for (uint64_t a = 0; a < JG_PAGE; a++)
		s->ram_i[JG_MMIO + a] = (uint8_t)(a ^ 0x5a);
	memset(s->ram_i + JG_CODE, 0xf4, JG_CODE_LEN);
	memcpy(s->ram_i + JG_CODE, data + 9, size - 9);
	memcpy(s->ram_j, s->ram_i, JG_RAM_SIZE);

	jg_cpu_init(&s->ci);
	s->ci.rflags |= (data[0] & JG_FLAGS_ARITH) | (data[0] & 2 ? X86_FLAG_DF : 0);
	for (unsigned i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		s->ci.gpr[regs[i]] = start_value(data[1 + i]);
	for (unsigned r = X86_R9; r <= X86_R15; r++)
		s->ci.gpr[r] = JG_DATA + 0x800 * (r - X86_R9);
	s->cj = s->ci;
	x86_jit_flush(s->jit);

	rj = jg_run_jit(s->jit, &s->cj, &mj, RUN_LIMIT);
	ri = jg_run_interp(&s->ci, &mi, rj.insns);
	if (rj.exc && !ri.exc && ri.insns == rj.insns)
		ri.exc = x86_step(&s->ci, &jg_ops, &mi);
	if (skip_smc() && code_written(s, data + 9, size - 9))
		return 0;
	diff = jg_compare(&ri, &s->ci, s->ram_i, &rj, &s->cj, s->ram_j, flags_compared(s, &rj), why,
			  sizeof(why));
	if (diff) {
		fprintf(stderr, "jit_fuzz: interpreter and JIT differ: %s\n", diff);
		abort();
	}
	return 0;
}
