/*
 * The translation cache (src/emu/jit.h) in blocks of many instructions, against the
 * interpreter: what tests/cpu/conformance.c cannot see with one instruction per block. Flag
 * liveness across instructions (a flag read several instructions after the one that set it,
 * INC/DEC keeping CF, ADC chains, a shift by CL = 0 changing nothing), block exits and chaining
 * (Jcc JMP CALL RET, more chained blocks than one run's budget), slow paths in the middle of a
 * block (TLB misses, MMIO), a fault in the middle of a block (what is committed, RIP, *count),
 * and code that changes: a guest store over translated code, and a write from outside followed
 * by a TLB flush (the cross-modification protocol of SDM vol. 3A 8.1.3 asks for a serializing
 * event; jit.h checks a block's bytes again after one).
 *
 * Each program runs on two CPUs with separate copies of guest memory (jit_guest.h): one through
 * x86_step alone, one through x86_jit_run. The JIT run goes until an exception (programs end in
 * HLT, #GP at CPL 3), the interpreter's for as many instructions, and both must end the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit_guest.h"

#define LIMIT 200000u

struct fixture {
	struct x86_cpu ci, cj; /* the interpreter's CPU, the JIT's */
	struct jg_mem mi, mj;
	struct x86_jit *jit;
	struct jg_result ri, rj;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->mi.ram = malloc(JG_RAM_SIZE);
	f->mj.ram = malloc(JG_RAM_SIZE);
	f->jit = x86_jit_create(0, X86_JIT_MAX_INSNS);
	if (!f->mi.ram || !f->mj.ram || !f->jit)
		return -1;
	f->mi.strict = f->mj.strict = true;
	jg_ram_init(f->mi.ram);
	jg_ram_init(f->mj.ram);
	jg_cpu_init(&f->ci);
	jg_cpu_init(&f->cj);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	x86_jit_destroy(f->jit);
	free(f->mi.ram);
	free(f->mj.ram);
	free(f);
	return 0;
}

/* The same bytes at the same guest-physical address in both copies of memory. */
static void poke(struct fixture *f, uint64_t at, const void *bytes, size_t len)
{
	memcpy(f->mi.ram + at, bytes, len);
	memcpy(f->mj.ram + at, bytes, len);
}

static void poke64(struct fixture *f, uint64_t at, uint64_t v)
{
	poke(f, at, &v, 8);
}

/* Fresh CPUs and memory with code at JG_CODE (the rest of the code pages HLT), a fresh cache. */
static void load(struct fixture *f, const uint8_t *code, size_t len)
{
	jg_ram_init(f->mi.ram);
	memset(f->mi.ram + JG_CODE, 0xf4, JG_CODE_LEN);
	memcpy(f->mi.ram + JG_CODE, code, len);
	memcpy(f->mj.ram, f->mi.ram, JG_RAM_SIZE);
	jg_cpu_init(&f->ci);
	jg_cpu_init(&f->cj);
	x86_jit_flush(f->jit);
}

static void set_reg(struct fixture *f, enum x86_gpr r, uint64_t v)
{
	f->ci.gpr[r] = v;
	f->cj.gpr[r] = v;
}

static void set_flags(struct fixture *f, uint64_t arith)
{
	f->ci.rflags = X86_FLAG_FIXED1 | arith;
	f->cj.rflags = X86_FLAG_FIXED1 | arith;
}

/* Runs both ways from the CPUs' current state and checks they agree (flags under flag_mask). */
static void run_both(struct fixture *f, uint64_t flag_mask)
{
	char why[160];
	const char *diff;

	f->rj = jg_run_jit(f->jit, &f->cj, &f->mj, LIMIT);
	f->ri = jg_run_interp(&f->ci, &f->mi, f->rj.insns);
	if (f->rj.exc && !f->ri.exc && f->ri.insns == f->rj.insns)
		f->ri.exc = x86_step(&f->ci, &jg_ops, &f->mi);
	diff = jg_compare(&f->ri, &f->ci, f->mi.ram, &f->rj, &f->cj, f->mj.ram, flag_mask, why,
			  sizeof(why));
	if (diff)
		fail_msg("interpreter and JIT differ: %s", diff);
}

/* Both ran into the HLT at hlt_at (#GP(0) at CPL 3) with exact flags. */
static void run_to_hlt(struct fixture *f, uint64_t hlt_at)
{
	run_both(f, JG_FLAGS_ARITH);
	assert_int_equal(f->rj.exc, X86_EXC_GP);
	assert_int_equal(f->cj.rip, hlt_at);
}

/* ---- loops and chaining ---- */

/*
 * Sums 512 qwords eight times: 4096 passes through a 4-instruction block that chains to itself,
 * more than one run's chain budget (1024 blocks), so several runs are needed, but few.
 */
static void test_sum_loop_chains(void **state)
{
	static const uint8_t code[] = {
	    0x31, 0xc0,			  /* 10000: xor eax, eax */
	    0xba, 0x08, 0x00, 0x00, 0x00, /* 10002: mov edx, 8 */
	    0xbe, 0x00, 0x00, 0x02, 0x00, /* 10007: mov esi, 0x20000 */
	    0xb9, 0x00, 0x02, 0x00, 0x00, /* 1000c: mov ecx, 512 */
	    0x48, 0x03, 0x06,		  /* 10011: add rax, [rsi] */
	    0x48, 0x83, 0xc6, 0x08,	  /* 10014: add rsi, 8 */
	    0xff, 0xc9,			  /* 10018: dec ecx */
	    0x75, 0xf5,			  /* 1001a: jnz 10011 */
	    0xff, 0xca,			  /* 1001c: dec edx */
	    0x75, 0xe7,			  /* 1001e: jnz 10007 */
	    0xf4,			  /* 10020: hlt */
	};
	struct fixture *f = *state;
	struct x86_jit_stats st;
	uint64_t sum = 0;

	load(f, code, sizeof(code));
	for (uint64_t i = 0; i < 512; i++) {
		uint64_t v = i * 0x9e3779b97f4a7c15ull;

		poke64(f, JG_DATA + 8 * i, v);
		sum += v;
	}
	run_to_hlt(f, 0x10020);
	assert_int_equal(f->cj.gpr[X86_RAX], 8 * sum);
	assert_int_equal(f->rj.insns, 2 + 8 * (2 + 512 * 4 + 2));
	/* chaining: a run goes through many blocks, but at most the budget's worth */
	assert_true(f->rj.max_count >= 4 * 512);
	assert_true(f->rj.max_count <= 4 * 1025 + 16);
	assert_true(f->rj.jit_runs >= 4 && f->rj.jit_runs <= 64);
	x86_jit_stats(f->jit, &st);
	assert_true(st.blocks > 0 && st.blocks < 16);
	assert_true(st.runs > 0);
	assert_true(st.insns > 4 * 4000);
}

/* The same loop reading MMIO: every load is a slow path in the middle of the block. */
static void test_mmio_loop(void **state)
{
	static const uint8_t code[] = {
	    0x31, 0xc0,			  /* 10000: xor eax, eax */
	    0xbe, 0x00, 0x00, 0x05, 0x00, /* 10002: mov esi, 0x50000 */
	    0xb9, 0xff, 0x01, 0x00, 0x00, /* 10007: mov ecx, 511 (the last store is at 0x50ff8) */
	    0x48, 0x03, 0x06,		  /* 1000c: add rax, [rsi] */
	    0x48, 0x01, 0x46, 0x08,	  /* 1000f: add [rsi + 8], rax */
	    0x48, 0x83, 0xc6, 0x08,	  /* 10013: add rsi, 8 */
	    0xff, 0xc9,			  /* 10017: dec ecx */
	    0x75, 0xf1,			  /* 10019: jnz 1000c */
	    0xf4,			  /* 1001b: hlt */
	};
	struct fixture *f = *state;
	struct x86_jit_stats st;

	load(f, code, sizeof(code));
	for (uint64_t i = 0; i < 512; i++)
		poke64(f, JG_MMIO + 8 * i, i * 7 + 1);
	run_to_hlt(f, 0x1001b);
	x86_jit_stats(f->jit, &st);
	assert_true(st.slow_steps >= 2 * 511); /* the load and the store of each pass */
}

/* ---- flags read instructions after they were set ---- */

/*
 * CMP, then a load, a LEA and a store (to RAM or MMIO), then Jcc: each of the 16 conditions
 * with operand pairs that take it and that do not.
 */
static void test_cmp_then_jcc(void **state)
{
	static const uint64_t pairs[][2] = {
	    {1, 2},
	    {2, 1},
	    {2, 2},
	    {0x8000000000000000ull, 1},	    /* OF */
	    {0x7fffffffffffffffull, ~0ull}, /* OF */
	    {3, 0},			    /* PF set (result 3: two bits) */
	    {7, 0},			    /* PF clear */
	    {0, 0x10},			    /* AF clear, borrow */
	    {0x10, 1},			    /* AF */
	    {~0ull, 1},
	};
	uint8_t code[] = {
	    0x48, 0x39, 0xd8,		  /* 10000: cmp rax, rbx */
	    0x48, 0x8b, 0x0e,		  /* 10003: mov rcx, [rsi] */
	    0x48, 0x8d, 0x54, 0x41, 0x05, /* 10006: lea rdx, [rcx + rax*2 + 5] */
	    0x48, 0x89, 0x56, 0x08,	  /* 1000b: mov [rsi + 8], rdx */
	    0x70, 0x06,			  /* 1000f: jcc 10017 (patched) */
	    0xbf, 0x01, 0x00, 0x00, 0x00, /* 10011: mov edi, 1 */
	    0xf4,			  /* 10016: hlt */
	    0xbf, 0x02, 0x00, 0x00, 0x00, /* 10017: mov edi, 2 */
	    0xf4,			  /* 1001c: hlt */
	};
	struct fixture *f = *state;

	for (unsigned cc = 0; cc < 16; cc++) {
		unsigned taken = 0, not_taken = 0;

		code[15] = (uint8_t)(0x70 + cc);
		for (unsigned p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
			for (unsigned mmio = 0; mmio < 2; mmio++) {
				load(f, code, sizeof(code));
				set_reg(f, X86_RAX, pairs[p][0]);
				set_reg(f, X86_RBX, pairs[p][1]);
				set_reg(f, X86_RSI, mmio ? JG_MMIO : JG_DATA);
				poke64(f, mmio ? JG_MMIO : JG_DATA, 0x1234);
				/* twice: the second time the block is translated and the TLB warm
				 */
				for (unsigned pass = 0; pass < 2; pass++) {
					f->ci.rip = f->cj.rip = JG_CODE;
					run_both(f, JG_FLAGS_ARITH);
					assert_int_equal(f->rj.exc, X86_EXC_GP);
				}
				if (f->cj.gpr[X86_RDI] == 2)
					taken++;
				else
					not_taken++;
			}
		}
		assert_true(taken > 0);
		assert_true(not_taken > 0);
	}
}

/*
 * CMP sets CF, INC/DEC between it and the reader keep it (SDM vol. 2 INC: CF not affected) and
 * set ZF: JB must see the CMP's CF, JBE the CMP's CF or the INC's ZF.
 */
static void test_inc_keeps_cf_for_jcc(void **state)
{
	uint8_t code[] = {
	    0x48, 0x39, 0xd8,		  /* 10000: cmp rax, rbx */
	    0x48, 0xff, 0xc1,		  /* 10003: inc rcx */
	    0x48, 0xff, 0xca,		  /* 10006: dec rdx */
	    0x72, 0x06,			  /* 10009: jb / jbe / jz 10011 (patched) */
	    0xbf, 0x01, 0x00, 0x00, 0x00, /* 1000b: mov edi, 1 */
	    0xf4,			  /* 10010: hlt */
	    0xbf, 0x02, 0x00, 0x00, 0x00, /* 10011: mov edi, 2 */
	    0xf4,			  /* 10016: hlt */
	};
	static const uint8_t jccs[] = {0x72, 0x73, 0x76, 0x77, 0x74, 0x75, 0x78, 0x7c};
	struct fixture *f = *state;

	for (unsigned k = 0; k < sizeof(jccs); k++) {
		code[9] = jccs[k];
		for (unsigned v = 0; v < 8; v++) {
			load(f, code, sizeof(code));
			set_reg(f, X86_RAX, v & 1 ? 1 : 5);
			set_reg(f, X86_RBX, 3);
			set_reg(f, X86_RCX, v & 2 ? ~0ull : 7);
			set_reg(f, X86_RDX, v & 4 ? 1 : 0);
			run_both(f, JG_FLAGS_ARITH);
			assert_int_equal(f->rj.exc, X86_EXC_GP);
			assert_int_equal(f->cj.rip, f->cj.gpr[X86_RDI] == 2 ? 0x10016 : 0x10010);
		}
	}
}

/* A multi-word addition: ADD then ADCs, with loads in between, CF into SETC at the end. */
static void test_add_adc_chain(void **state)
{
	static const uint8_t code[] = {
	    0x48, 0x8b, 0x07,	    /* 10000: mov rax, [rdi] */
	    0x48, 0x01, 0x06,	    /* 10003: add [rsi], rax */
	    0x48, 0x8b, 0x47, 0x08, /* 10006: mov rax, [rdi + 8] */
	    0x48, 0x11, 0x46, 0x08, /* 1000a: adc [rsi + 8], rax */
	    0x48, 0x8b, 0x47, 0x10, /* 1000e: mov rax, [rdi + 16] */
	    0x48, 0x11, 0x46, 0x10, /* 10012: adc [rsi + 16], rax */
	    0x48, 0x8b, 0x47, 0x18, /* 10016: mov rax, [rdi + 24] */
	    0x48, 0x11, 0x46, 0x18, /* 1001a: adc [rsi + 24], rax */
	    0x0f, 0x92, 0xc3,	    /* 1001e: setc bl */
	    0xf4,		    /* 10021: hlt */
	};
	static const uint64_t cases[][8] = {
	    {~0ull, ~0ull, ~0ull, 0, 1, 0, 0, 5},
	    {~0ull, ~0ull, ~0ull, ~0ull, 1, 0, 0, 0},
	    {1, 2, 3, 4, 5, 6, 7, 8},
	    {~0ull, 0, ~0ull, 0, 1, ~0ull, 0, ~0ull},
	};
	struct fixture *f = *state;

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		load(f, code, sizeof(code));
		for (unsigned w = 0; w < 4; w++) {
			poke64(f, JG_DATA + 8 * w, cases[c][w]);
			poke64(f, JG_DATA + 0x100 + 8 * w, cases[c][4 + w]);
		}
		set_reg(f, X86_RSI, JG_DATA);
		set_reg(f, X86_RDI, JG_DATA + 0x100);
		set_reg(f, X86_RBX, 0x5500);
		set_flags(f, X86_FLAG_CF); /* ADD must not take it in */
		run_to_hlt(f, 0x10021);
	}
	/* the last case carries through every word and out of the top one */
	assert_int_equal(f->cj.gpr[X86_RBX], 0x5501);
}

/* The bignum loop: ADC through memory, INC/DEC counters keeping CF across the block exit. */
static void test_adc_loop_inc_keeps_cf(void **state)
{
	static const uint8_t code[] = {
	    0xf8,		    /* 10000: clc */
	    0x48, 0x8b, 0x04, 0xd7, /* 10001: mov rax, [rdi + rdx*8] */
	    0x48, 0x11, 0x04, 0xd6, /* 10005: adc [rsi + rdx*8], rax */
	    0x48, 0xff, 0xc2,	    /* 10009: inc rdx */
	    0xff, 0xc9,		    /* 1000c: dec ecx */
	    0x75, 0xf1,		    /* 1000e: jnz 10001 */
	    0x0f, 0x92, 0xc0,	    /* 10010: setc al */
	    0xf4,		    /* 10013: hlt */
	};
	struct fixture *f = *state;

	load(f, code, sizeof(code));
	for (unsigned w = 0; w < 64; w++) {
		poke64(f, JG_DATA + 8 * w, w == 63 ? 7 : ~0ull);
		poke64(f, JG_DATA + 0x1000 + 8 * w, w == 0 ? 1 : 0);
	}
	set_reg(f, X86_RSI, JG_DATA);
	set_reg(f, X86_RDI, JG_DATA + 0x1000);
	set_reg(f, X86_RCX, 64);
	run_to_hlt(f, 0x10013);
	for (unsigned w = 0; w < 63; w++)
		assert_int_equal(*(uint64_t *)(void *)(f->mj.ram + JG_DATA + 8 * w), 0);
	assert_int_equal(*(uint64_t *)(void *)(f->mj.ram + JG_DATA + 8 * 63), 8);
	assert_int_equal(f->cj.gpr[X86_RAX] & 0xff, 0);
}

/*
 * A shift by CL = 0 (or a count masked to 0) leaves every flag alone (SDM vol. 2 SAL/SAR/SHL/SHR:
 * "if the count is 0, the flags are not affected"): the CMP's flags reach the Jcc and the end.
 */
static void test_shift_by_zero_keeps_flags(void **state)
{
	uint8_t code[] = {
	    0x48, 0x39, 0xd8,		  /* 10000: cmp rax, rbx */
	    0x48, 0xd3, 0xe2,		  /* 10003: shl rdx, cl */
	    0x48, 0xd3, 0x26,		  /* 10006: shl qword [rsi], cl */
	    0xd3, 0xfa,			  /* 10009: sar edx, cl */
	    0x72, 0x06,			  /* 1000b: jb 10013 (patched) */
	    0xbf, 0x01, 0x00, 0x00, 0x00, /* 1000d: mov edi, 1 */
	    0xf4,			  /* 10012: hlt */
	    0xbf, 0x02, 0x00, 0x00, 0x00, /* 10013: mov edi, 2 */
	    0xf4,			  /* 10018: hlt */
	};
	static const uint8_t jccs[] = {0x72, 0x74, 0x78, 0x7a, 0x70, 0x7c};
	static const uint64_t counts[] = {0, 0x40, 0x20, 1, 3};
	/* after a shift by a count that is not 0, AF is undefined, and OF unless the count is 1:
	 * the JIT has the host's, the interpreter its own */
	const uint64_t defined = JG_FLAGS_ARITH & ~(X86_FLAG_AF | X86_FLAG_OF);
	struct fixture *f = *state;

	for (unsigned k = 0; k < sizeof(jccs); k++) {
		code[11] = jccs[k];
		for (unsigned c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
			if (jccs[k] == 0x70 && counts[c] & 0x1f)
				continue; /* JO on an OF the SDM leaves undefined */
			for (unsigned v = 0; v < 3; v++) {
				load(f, code, sizeof(code));
				set_reg(f, X86_RAX,
					v == 0	 ? 1
					: v == 1 ? 0x8000000000000000ull
						 : 3);
				set_reg(f, X86_RBX, v == 0 ? 2 : 1);
				set_reg(f, X86_RCX, counts[c]);
				set_reg(f, X86_RDX, 0xc000000000000001ull);
				set_reg(f, X86_RSI, JG_DATA);
				poke64(f, JG_DATA, 0x8000000000000003ull);
				run_both(f, counts[c] & 0x1f ? defined : JG_FLAGS_ARITH);
				assert_int_equal(f->rj.exc, X86_EXC_GP);
			}
		}
	}
}

/* ---- calls, returns and the stack ---- */

/* Nested CALL/RET 1280 times in a loop: returns through blocks, pushes and pops in them. */
static void test_call_ret_nested(void **state)
{
	uint8_t code[0x30];
	static const uint8_t main_part[] = {
	    0xba, 0x00, 0x05, 0x00, 0x00, /* 10000: mov edx, 1280 */
	    0xe8, 0x06, 0x00, 0x00, 0x00, /* 10005: call 10010 */
	    0xff, 0xca,			  /* 1000a: dec edx */
	    0x75, 0xf7,			  /* 1000c: jnz 10005 */
	    0xf4,			  /* 1000e: hlt */
	};
	static const uint8_t f1[] = {
	    0x48, 0x83, 0xc0, 0x10,		/* 10010: add rax, 0x10 */
	    0xe8, 0x07, 0x00, 0x00, 0x00,	/* 10014: call 10020 */
	    0x48, 0x05, 0x00, 0x01, 0x00, 0x00, /* 10019: add rax, 0x100 */
	    0xc3,				/* 1001f: ret */
	};
	static const uint8_t f2[] = {
	    0x53,		    /* 10020: push rbx */
	    0x48, 0x89, 0xc3,	    /* 10021: mov rbx, rax */
	    0x48, 0x83, 0xc3, 0x05, /* 10024: add rbx, 5 */
	    0x48, 0x8d, 0x3c, 0x1b, /* 10028: lea rdi, [rbx + rbx] */
	    0x5b,		    /* 1002c: pop rbx */
	    0xc3,		    /* 1002d: ret */
	};
	struct fixture *f = *state;

	memset(code, 0x90, sizeof(code));
	memcpy(code, main_part, sizeof(main_part));
	memcpy(code + 0x10, f1, sizeof(f1));
	memcpy(code + 0x20, f2, sizeof(f2));
	load(f, code, sizeof(code));
	set_reg(f, X86_RBX, 0x77);
	run_to_hlt(f, 0x1000e);
	assert_int_equal(f->cj.gpr[X86_RAX], 1280 * 0x110);
	assert_int_equal(f->cj.gpr[X86_RBX], 0x77);
	assert_int_equal(f->cj.gpr[X86_RSP], JG_STACK_TOP);
}

/* PUSH/POP of registers, immediates, memory and RSP itself. */
static void test_push_pop(void **state)
{
	static const uint8_t code[] = {
	    0x6a, 0xf0,			  /* 10000: push -16 */
	    0x68, 0x78, 0x56, 0x34, 0x12, /* 10002: push 0x12345678 */
	    0x50,			  /* 10007: push rax */
	    0x41, 0x51,			  /* 10008: push r9 */
	    0x5b,			  /* 1000a: pop rbx */
	    0x41, 0x5a,			  /* 1000b: pop r10 */
	    0x41, 0x5b,			  /* 1000d: pop r11 */
	    0x58,			  /* 1000f: pop rax */
	    0xff, 0x36,			  /* 10010: push qword [rsi] */
	    0x8f, 0x07,			  /* 10012: pop qword [rdi] */
	    0x54,			  /* 10014: push rsp */
	    0x5d,			  /* 10015: pop rbp */
	    0x54,			  /* 10016: push rsp */
	    0x5c,			  /* 10017: pop rsp */
	    0x66, 0x50,			  /* 10018: push ax */
	    0x66, 0x41, 0x58,		  /* 1001a: pop r8w */
	    0x48, 0x8d, 0x6c, 0x24, 0xf0, /* 1001d: lea rbp, [rsp - 16] */
	    0xc9,			  /* 10022: leave (RSP = RBP, pop RBP) */
	    0xf4,			  /* 10023: hlt */
	};
	struct fixture *f = *state;

	load(f, code, sizeof(code));
	set_reg(f, X86_RAX, 0x1111222233334444ull);
	set_reg(f, X86_R8, 0xaaaabbbbccccddddull);
	set_reg(f, X86_R9, 0x9999);
	set_reg(f, X86_RSI, JG_DATA);
	set_reg(f, X86_RDI, JG_DATA + 0x80);
	poke64(f, JG_DATA, 0xfeedfacecafebeefull);
	poke64(f, JG_STACK_TOP - 8, 0x5a5a5a5a5a5a5a5aull);
	run_to_hlt(f, 0x10023);
	assert_int_equal(f->cj.gpr[X86_RBX], 0x9999);
	assert_int_equal(f->cj.gpr[X86_R10], 0x1111222233334444ull);
	assert_int_equal(f->cj.gpr[X86_R11], 0x12345678);
	assert_int_equal(f->cj.gpr[X86_RAX], (uint64_t)-16);
	assert_int_equal(*(uint64_t *)(void *)(f->mj.ram + JG_DATA + 0x80), 0xfeedfacecafebeefull);
}

/* ---- faults in the middle of a block ---- */

/*
 * The fourth instruction of a block reads a page that is not present: the three before are
 * done (registers, the store), RIP is the load's, *count is 3, CR2-to-be is the address.
 */
static void test_fault_mid_block(void **state)
{
	static const uint8_t code[] = {
	    0x48, 0xc7, 0xc0, 0x01, 0x00, 0x00, 0x00, /* 10000: mov rax, 1 */
	    0x48, 0x83, 0xc3, 0x02,		      /* 10007: add rbx, 2 */
	    0x48, 0x89, 0x06,			      /* 1000b: mov [rsi], rax */
	    0x48, 0x8b, 0x0f,			      /* 1000e: mov rcx, [rdi] */
	    0x48, 0x83, 0xc1, 0x01,		      /* 10011: add rcx, 1 */
	    0xf4,				      /* 10015: hlt */
	};
	struct fixture *f = *state;
	unsigned count = 99;
	int rc;

	load(f, code, sizeof(code));
	set_reg(f, X86_RSI, JG_DATA);
	set_reg(f, X86_RDI, JG_UNMAPPED + 8);
	rc = x86_jit_run(f->jit, &f->cj, &jg_ops, &f->mj, &count);
	assert_int_equal(rc, X86_EXC_PF);
	assert_int_equal(count, 3);
	assert_int_equal(f->cj.rip, 0x1000e);
	assert_int_equal(f->cj.gpr[X86_RAX], 1);
	assert_int_equal(f->cj.gpr[X86_RBX], 2);
	assert_int_equal(f->cj.gpr[X86_RCX], 0);
	assert_int_equal(f->mj.ram[JG_DATA], 1);
	assert_int_equal(f->cj.fault_addr, JG_UNMAPPED + 8);
	assert_int_equal(f->cj.fault_error_code, X86_PF_U);

	/* the same against the interpreter, and again with the block translated */
	for (unsigned pass = 0; pass < 2; pass++) {
		load(f, code, sizeof(code));
		set_reg(f, X86_RSI, JG_DATA);
		set_reg(f, X86_RDI, JG_UNMAPPED + 8);
		run_both(f, 0); /* ADD's flags are dead in the block: jit.h allows the old ones */
		assert_int_equal(f->rj.exc, X86_EXC_PF);
		assert_int_equal(f->rj.insns, 3);
	}
}

/*
 * A loop walking RDI up through the data pages faults when it reaches the page after them,
 * in the fifth pass, with the block translated, chained and its TLB entries warm.
 */
static void test_fault_mid_block_warm(void **state)
{
	static const uint8_t code[] = {
	    0xb9, 0x10, 0x00, 0x00, 0x00,	      /* 10000: mov ecx, 16 */
	    0x48, 0x83, 0xc3, 0x01,		      /* 10005: add rbx, 1 */
	    0x48, 0x89, 0x1e,			      /* 10009: mov [rsi], rbx */
	    0x48, 0x8b, 0x07,			      /* 1000c: mov rax, [rdi] */
	    0x48, 0x01, 0xc2,			      /* 1000f: add rdx, rax */
	    0x48, 0x81, 0xc7, 0x00, 0x08, 0x00, 0x00, /* 10012: add rdi, 0x800 */
	    0xff, 0xc9,				      /* 10019: dec ecx */
	    0x75, 0xe8,				      /* 1001b: jnz 10005 */
	    0xf4,				      /* 1001d: hlt */
	};
	struct fixture *f = *state;

	load(f, code, sizeof(code));
	for (unsigned i = 0; i < 8; i++)
		poke64(f, JG_DATA + 0x2000 + 0x800 * i, 0x100 + i);
	set_reg(f, X86_RSI, JG_DATA + 0x100);
	set_reg(f, X86_RDI, JG_DATA + 0x2000);
	run_both(f, 0);
	assert_int_equal(f->rj.exc, X86_EXC_PF);
	assert_int_equal(f->cj.rip, 0x1000c);
	assert_int_equal(f->cj.fault_addr, JG_DATA + JG_DATA_LEN);
	assert_int_equal(f->cj.gpr[X86_RBX], 5);
	assert_int_equal(f->cj.gpr[X86_RDX], 0x100 + 0x101 + 0x102 + 0x103);
	assert_int_equal(f->mj.ram[JG_DATA + 0x100], 5);
	assert_int_equal(f->rj.insns, 1 + 4 * 7 + 2);
}

/* ---- code that changes ---- */

/* A store rewrites the immediate of a function already run (translated), then calls it again. */
static void test_store_rewrites_later_block(void **state)
{
	uint8_t code[0x46];
	static const uint8_t main_part[] = {
	    0x31, 0xdb,			  /* 10000: xor ebx, ebx */
	    0xe8, 0x39, 0x00, 0x00, 0x00, /* 10002: call 10040 */
	    0x01, 0xc3,			  /* 10007: add ebx, eax */
	    0xc7, 0x05, 0x2e, 0x00, 0x00,
	    0x00, 0x64, 0x00, 0x00, 0x00, /* 10009: mov dword [rip + 0x2e], 100 (10041) */
	    0xe8, 0x28, 0x00, 0x00, 0x00, /* 10013: call 10040 */
	    0x01, 0xc3,			  /* 10018: add ebx, eax */
	    0xf4,			  /* 1001a: hlt */
	};
	static const uint8_t fn[] = {
	    0xb8, 0x01, 0x00, 0x00, 0x00, /* 10040: mov eax, 1 */
	    0xc3,			  /* 10045: ret */
	};
	struct fixture *f = *state;

	memset(code, 0x90, sizeof(code));
	memcpy(code, main_part, sizeof(main_part));
	memcpy(code + 0x40, fn, sizeof(fn));
	load(f, code, sizeof(code));
	run_to_hlt(f, 0x1001a);
	assert_int_equal(f->cj.gpr[X86_RBX], 101);
}

/*
 * A store rewrites the very next instruction of its own block. SDM vol. 3A 8.1.3 / 11.6: a
 * write to an instruction already fetched is detected (the prefetch queue is invalidated), so
 * the new instruction runs, as x86_step (which fetches each instruction afresh) has it.
 */
static void test_store_rewrites_next_insn(void **state)
{
	static const uint8_t code[] = {
	    0xc7, 0x05, 0x01, 0x00, 0x00,
	    0x00, 0x64, 0x00, 0x00, 0x00, /* 10000: mov dword [rip + 1], 100 (1000b) */
	    0xb8, 0x01, 0x00, 0x00, 0x00, /* 1000a: mov eax, 1 */
	    0xf4,			  /* 1000f: hlt */
	};
	struct fixture *f = *state;

	load(f, code, sizeof(code));
	run_to_hlt(f, 0x1000f);
	assert_int_equal(f->cj.gpr[X86_RAX], 100);
}

/* A loop whose body a store in it rewrites every pass (the loop counter in an immediate). */
static void test_store_rewrites_own_loop(void **state)
{
	static const uint8_t code[] = {
	    0xb9, 0x20, 0x00, 0x00, 0x00,	/* 10000: mov ecx, 32 */
	    0x48, 0x05, 0x01, 0x00, 0x00, 0x00, /* 10005: add rax, imm32 (1 at first) */
	    0xff, 0x05, 0xf6, 0xff, 0xff, 0xff, /* 1000b: inc dword [rip - 10] (10007) */
	    0xff, 0xc9,				/* 10011: dec ecx */
	    0x75, 0xf0,				/* 10013: jnz 10005 */
	    0xf4,				/* 10015: hlt */
	};
	struct fixture *f = *state;

	load(f, code, sizeof(code));
	run_to_hlt(f, 0x10015);
	assert_int_equal(f->cj.gpr[X86_RAX], 32 * 33 / 2);
}

/*
 * The test rewrites the code between two runs, as another CPU or a device would: after a TLB
 * flush (the serializing event of the cross-modification protocol) the new code runs; a write
 * through the CPU's own memory operations needs nothing more.
 */
static void test_outside_rewrite_then_flush(void **state)
{
	static const uint8_t code[] = {
	    0xb8, 0x01, 0x00, 0x00, 0x00, /* 10000: mov eax, 1 */
	    0x48, 0x83, 0xc3, 0x01,	  /* 10005: add rbx, 1 */
	    0xf4,			  /* 10009: hlt */
	};
	static const uint8_t imm2[] = {0x02}, imm3[] = {0x03};
	struct fixture *f = *state;

	load(f, code, sizeof(code));
	for (unsigned pass = 0; pass < 3; pass++) {
		f->ci.rip = f->cj.rip = JG_CODE;
		run_to_hlt(f, 0x10009);
		assert_int_equal(f->cj.gpr[X86_RAX], 1);
	}
	/* a write from outside, then a flush on both CPUs */
	poke(f, JG_CODE + 1, imm2, 1);
	x86_tlb_flush(&f->ci, true);
	x86_tlb_flush(&f->cj, true);
	f->ci.rip = f->cj.rip = JG_CODE;
	run_to_hlt(f, 0x10009);
	assert_int_equal(f->cj.gpr[X86_RAX], 2);
	/* a write through the CPU (as a supervisor store would be) */
	assert_int_equal(x86_linear_write(&f->ci, &jg_ops, &f->mi, JG_CODE + 1, imm3, 1,
					  X86_ACC_WRITE | X86_ACC_SUPERVISOR),
			 0);
	assert_int_equal(x86_linear_write(&f->cj, &jg_ops, &f->mj, JG_CODE + 1, imm3, 1,
					  X86_ACC_WRITE | X86_ACC_SUPERVISOR),
			 0);
	f->ci.rip = f->cj.rip = JG_CODE;
	run_to_hlt(f, 0x10009);
	assert_int_equal(f->cj.gpr[X86_RAX], 3);
	assert_int_equal(f->cj.gpr[X86_RBX], 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_sum_loop_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmio_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmp_then_jcc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inc_keeps_cf_for_jcc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_adc_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_adc_loop_inc_keeps_cf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shift_by_zero_keeps_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_call_ret_nested, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_pop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_mid_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_mid_block_warm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_rewrites_later_block, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_rewrites_next_insn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_rewrites_own_loop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_outside_rewrite_then_flush, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
