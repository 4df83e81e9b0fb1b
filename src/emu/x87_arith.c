/*
 * x87 arithmetic of the emu CPU, done by the host's x87 unit (see x87_internal.h).
 *
 * Exactness comes for free: the guest's registers, tags, TOP, FCW and FSW are loaded with
 * FXRSTOR, the very instruction form the guest executes runs on them, and FXSAVE brings back
 * the result, C0-C3, the exception flags and the new TOP and tags - stack faults, unmasked
 * exceptions (ES set, destination left or bias-adjusted as SDM 8.5 says), precision and
 * rounding control included. FXSAVE is not a waiting instruction, so an unmasked exception
 * raised on the host stays pending there until the FNINIT that follows clears it; the emu
 * raises the guest's #MF itself on the guest's next waiting instruction.
 *
 * The instruction table holds every D8-DF register form (ModRM C0-FF) and every memory form
 * with the operand at (%rsi), each followed by RET; only forms the decoder accepts are called.
 */
#include <string.h>

#include "x87_internal.h"

uint64_t hv_x87_host_asm(void *image, void *mem, uint64_t entry, uint64_t rflags);

__asm__("	.text\n"
	"	.p2align 4\n"
	"hv_x87_host_entries:\n"
	"	.set hv_x87_n, 0\n"
	"	.rept 512\n"
	"	.byte 0xd8 + (hv_x87_n >> 6), 0xc0 + (hv_x87_n & 63), 0xc3, 0xcc\n"
	"	.set hv_x87_n, hv_x87_n + 1\n"
	"	.endr\n"
	"	.set hv_x87_n, 0\n"
	"	.rept 64\n"
	"	.byte 0xd8 + (hv_x87_n >> 3), ((hv_x87_n & 7) << 3) | 6, 0xc3, 0xcc\n"
	"	.set hv_x87_n, hv_x87_n + 1\n"
	"	.endr\n"
	"	.p2align 4\n"
	"	.globl hv_x87_host_asm\n"
	"	.hidden hv_x87_host_asm\n"
	"	.type hv_x87_host_asm, @function\n"
	/* rdi: FXSAVE64 image, rsi: memory operand, rdx: entry index, rcx: RFLAGS in */
	"hv_x87_host_asm:\n"
	"	sub $8, %rsp\n"
	"	fnstcw (%rsp)\n"
	"	fxrstor64 (%rdi)\n"
	"	lea hv_x87_host_entries(%rip), %rax\n"
	"	lea (%rax,%rdx,4), %rdx\n"
	"	push %rcx\n"
	"	popfq\n"
	"	call *%rdx\n"
	"	pushfq\n"
	"	pop %rax\n"
	"	fxsave64 (%rdi)\n"
	"	fninit\n"
	"	fldcw (%rsp)\n"
	"	add $8, %rsp\n"
	"	ret\n"
	"	.size hv_x87_host_asm, . - hv_x87_host_asm\n");

/* FXSAVE64 image offsets (SDM vol. 1 table 10-2). */
#define IMG_FCW 0
#define IMG_FSW 2
#define IMG_FTW 4
#define IMG_MXCSR 24
#define IMG_ST 32

#define HOST_RFLAGS_IN 0x8d5ull /* CF PF AF ZF SF OF */

uint64_t x87_host_run(struct x87_regs *r, unsigned entry, void *mem, uint64_t rflags)
{
	_Alignas(16) uint8_t img[512];
	uint32_t mxcsr = __builtin_ia32_stmxcsr();
	unsigned top = x87_top(r->fsw);
	uint16_t fsw = (uint16_t)(r->fsw & ~(X87_FSW_ES | X87_FSW_B));

	memset(img, 0, IMG_ST + 8 * 16);
	memcpy(img + IMG_FCW, &r->fcw, 2);
	memcpy(img + IMG_FSW, &fsw, 2);
	img[IMG_FTW] = r->ftw;
	memcpy(img + IMG_MXCSR, &mxcsr, 4);
	for (unsigned i = 0; i < 8; i++) {
		const struct x86_f80 *f = &r->fpr[(top + i) & 7];

		memcpy(img + IMG_ST + 16 * i, &f->mant, 8);
		memcpy(img + IMG_ST + 16 * i + 8, &f->sexp, 2);
	}
	rflags = hv_x87_host_asm(img, mem, entry, (rflags & HOST_RFLAGS_IN) | 2);
	memcpy(&r->fsw, img + IMG_FSW, 2);
	r->ftw = img[IMG_FTW];
	top = x87_top(r->fsw);
	for (unsigned i = 0; i < 8; i++) {
		struct x86_f80 *f = &r->fpr[(top + i) & 7];

		memcpy(&f->mant, img + IMG_ST + 16 * i, 8);
		memcpy(&f->sexp, img + IMG_ST + 16 * i + 8, 2);
	}
	return rflags & HOST_RFLAGS_IN;
}

unsigned x87_tag_of(const struct x86_f80 *f)
{
	unsigned exp = f->sexp & 0x7fffu;

	if (exp == 0x7fff)
		return 2;
	if (exp == 0)
		return f->mant ? 2 : 1;
	return (f->mant >> 63) ? 0 : 2; /* an unnormal is special */
}

uint16_t x87_full_tag(const struct x86_fpu *fpu)
{
	uint16_t tw = 0;

	for (unsigned i = 0; i < 8; i++) {
		unsigned t = (fpu->ftw >> i) & 1 ? x87_tag_of(&fpu->fpr[i]) : 3;

		tw |= (uint16_t)(t << (2 * i));
	}
	return tw;
}

uint8_t x87_abridged_tag(uint16_t ftw)
{
	uint8_t a = 0;

	for (unsigned i = 0; i < 8; i++)
		if (((ftw >> (2 * i)) & 3) != 3)
			a |= (uint8_t)(1u << i);
	return a;
}
