/*
 * Runs one instruction on the host CPU: a code page that loads the 16 GPRs and RFLAGS from a
 * struct, executes the bytes, stores them back and returns. A #DE (SIGFPE) or a stray fault
 * (SIGSEGV/SIGBUS) comes back through siglongjmp.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* REG_TRAPNO */
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include "native.h"

#define SLOT_HOST_RSP 0
#define SLOT_STATE 8
#define SLOT_TMP_RDI 16
#define SLOT_PAD 24 /* which landing pad a branch case reached */
#define CODE_START 64

struct native {
	uint8_t *page;
	size_t n;
};

static struct native native_page;
static sigjmp_buf native_jmp;
static volatile sig_atomic_t native_signal;
static volatile int native_trapno;
static _Alignas(16) uint8_t native_host_fx[512]; /* the host's x87/SSE state during a case */
static uint8_t native_fault_image[512];

static void emit(const void *b, size_t len)
{
	memcpy(native_page.page + native_page.n, b, len);
	native_page.n += len;
}

static void emit1(uint8_t b)
{
	emit(&b, 1);
}

static void emit32(uint32_t v)
{
	emit(&v, 4);
}

/* REX.W 89/8B with [rip + slot]: mov slot, reg / mov reg, slot. */
static void emit_rip_slot(uint8_t opcode, unsigned reg, unsigned slot)
{
	emit1((uint8_t)(0x48 | (reg >= 8 ? 4 : 0)));
	emit1(opcode);
	emit1((uint8_t)(((reg & 7) << 3) | 5));
	emit32((uint32_t)(slot - (native_page.n + 4)));
}

/* REX.W 89/8B with [rdi + disp32]. */
static void emit_rdi_disp(uint8_t opcode, unsigned reg, uint32_t disp)
{
	emit1((uint8_t)(0x48 | (reg >= 8 ? 4 : 0)));
	emit1(opcode);
	emit1((uint8_t)(0x80 | ((reg & 7) << 3) | 7));
	emit32(disp);
}

static void emit_fx_host(uint8_t modrm_reg)
{
	uint64_t host = (uint64_t)(uintptr_t)native_host_fx;

	emit1(0x48); /* movabs rax, native_host_fx */
	emit1(0xb8);
	emit(&host, 8);
	emit1(0x0f); /* fxsave/fxrstor [rax] */
	emit1(0xae);
	emit1((uint8_t)(modrm_reg << 3));
}

/* fxsave (/0) or fxrstor (/1) [rdi + NATIVE_FX_OFFSET] */
static void emit_fx_state(uint8_t modrm_reg)
{
	emit1(0x0f);
	emit1(0xae);
	emit1((uint8_t)(0x80 | (modrm_reg << 3) | 7));
	emit32(NATIVE_FX_OFFSET);
}

static void emit_prologue(void)
{
	static const uint8_t save[] = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57};
	static const uint8_t push_flags[] = {0xff, 0xb7, 0x80, 0,
					     0,	   0,	 0x9d}; /* push [rdi+128]; popfq */

	emit(save, sizeof(save));
	emit_rip_slot(0x89, 4, SLOT_HOST_RSP);
	emit_rip_slot(0x89, 7, SLOT_STATE);
	emit_fx_host(0);
	emit_fx_state(1);
	emit(push_flags, sizeof(push_flags));
	for (unsigned r = 0; r < 16; r++)
		if (r != 7)
			emit_rdi_disp(0x8b, r, 8 * r);
	emit_rdi_disp(0x8b, 7, 8 * 7);
}

static void emit_epilogue(void)
{
	static const uint8_t restore[] = {0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d,
					  0x41, 0x5c, 0x5d, 0x5b, 0xc3};

	emit_rip_slot(0x89, 7, SLOT_TMP_RDI);
	emit_rip_slot(0x8b, 7, SLOT_STATE);
	emit_fx_state(0);
	for (unsigned r = 0; r < 16; r++)
		if (r != 7)
			emit_rdi_disp(0x89, r, 8 * r);
	emit_rip_slot(0x8b, 4, SLOT_HOST_RSP);
	emit1(0x9c); /* pushfq */
	emit1(0x58); /* pop rax */
	emit_rdi_disp(0x89, 0, 128);
	emit_rip_slot(0x8b, 0, SLOT_TMP_RDI);
	emit_rdi_disp(0x89, 0, 8 * 7);
	emit_fx_host(1);
	emit1(0xfc); /* cld: the C ABI wants DF clear */
	emit(restore, sizeof(restore));
}

/* The kernel gives the handler a fresh x87/SSE state, which is what the host had before the
 * case; the state at the fault is in the signal frame. */
static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)si;
	native_signal = sig;
	native_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	if (uc->uc_mcontext.fpregs)
		memcpy(native_fault_image, uc->uc_mcontext.fpregs, sizeof(native_fault_image));
	siglongjmp(native_jmp, 1);
}

int native_fault_trapno(void)
{
	return native_trapno;
}

const uint8_t *native_fault_fx(void)
{
	return native_fault_image;
}

int native_init(void)
{
	static uint8_t altstack[65536];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa;

	native_page.page = mmap(NULL, NATIVE_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (native_page.page == MAP_FAILED)
		return -1;
	if (sigaltstack(&ss, NULL))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER | SA_SIGINFO;
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	return 0;
}

uint8_t *native_code_page(void)
{
	return native_page.page;
}

uint64_t native_prepare(const uint8_t *insn, size_t len)
{
	uint64_t at;

	native_page.n = CODE_START;
	emit_prologue();
	at = (uint64_t)(uintptr_t)(native_page.page + native_page.n);
	emit(insn, len);
	emit_epilogue();
	return at;
}

int native_run(struct native_state *st)
{
	void (*fn)(struct native_state *) =
	    (void (*)(struct native_state *))(void *)(native_page.page + CODE_START);

	native_signal = 0;
	if (sigsetjmp(native_jmp, 1))
		return native_signal;
	fn(st);
	return 0;
}

/* mov dword [rip + SLOT_PAD], id (C7 /0 id): records the pad without touching GPRs or flags. */
static void emit_pad(uint32_t id)
{
	emit1(0xc7);
	emit1(0x05);
	emit32((uint32_t)(SLOT_PAD - (native_page.n + 8)));
	emit32(id);
}

#define PAD_LEN 10

/*
 * Branch cases: the instruction is followed by the fall-through pad; the taken pad T sits either
 * after it (forward) or before it (backward, jumped over on entry). Both pads record their id
 * and reach the epilogue, so any outcome ends in the store-back code.
 *   forward:  insn; F: pad 1; jmp END; T: pad 2; END: epilogue
 *   backward: jmp INSN; T: pad 2; jmp END; INSN: insn; F: pad 1; END: epilogue
 * rel_size > 0: the instruction's last rel_size bytes get the displacement to T.
 */
uint64_t native_prepare_branch(const uint8_t *insn, size_t len, unsigned rel_size, int backward,
			       uint64_t *taken)
{
	uint8_t *base = native_page.page;
	uint64_t at;
	size_t t;

	native_page.n = CODE_START;
	memset(base + SLOT_PAD, 0, 4);
	emit_prologue();
	if (backward) {
		emit1(0xeb);
		emit1(PAD_LEN + 2);
		t = native_page.n;
		emit_pad(NATIVE_PAD_TAKEN);
		emit1(0xeb);
		emit1((uint8_t)(len + PAD_LEN));
	}
	at = (uint64_t)(uintptr_t)(base + native_page.n);
	emit(insn, len);
	emit_pad(NATIVE_PAD_FALLTHROUGH);
	if (!backward) {
		emit1(0xeb);
		emit1(PAD_LEN);
		t = native_page.n;
		emit_pad(NATIVE_PAD_TAKEN);
	}
	emit_epilogue();
	*taken = (uint64_t)(uintptr_t)(base + t);
	if (rel_size) {
		int64_t rel = (int64_t)(*taken - (at + len));

		memcpy(base + (at - (uint64_t)(uintptr_t)base) + len - rel_size, &rel, rel_size);
	}
	return at;
}

uint32_t native_pad_reached(void)
{
	uint32_t id;

	memcpy(&id, native_page.page + SLOT_PAD, 4);
	return id;
}

int native_set_gs_base(uint64_t base)
{
	return syscall(SYS_arch_prctl, ARCH_SET_GS, base) ? -1 : 0;
}
