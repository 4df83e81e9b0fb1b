/*
 * Runs one instruction on the host CPU: a code page that loads the 16 GPRs and RFLAGS from a
 * struct, executes the bytes, stores them back and returns. A #DE (SIGFPE) or a stray fault
 * (SIGSEGV/SIGBUS) comes back through siglongjmp.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <asm/prctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "native.h"

#define SLOT_HOST_RSP 0
#define SLOT_STATE 8
#define SLOT_TMP_RDI 16
#define CODE_START 64

struct native {
	uint8_t *page;
	size_t n;
};

static struct native native_page;
static sigjmp_buf native_jmp;
static volatile sig_atomic_t native_signal;

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

static void emit_prologue(void)
{
	static const uint8_t save[] = {0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57};
	static const uint8_t push_flags[] = {0xff, 0xb7, 0x80, 0,
					     0,	   0,	 0x9d}; /* push [rdi+128]; popfq */

	emit(save, sizeof(save));
	emit_rip_slot(0x89, 4, SLOT_HOST_RSP);
	emit_rip_slot(0x89, 7, SLOT_STATE);
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
	for (unsigned r = 0; r < 16; r++)
		if (r != 7)
			emit_rdi_disp(0x89, r, 8 * r);
	emit_rip_slot(0x8b, 4, SLOT_HOST_RSP);
	emit1(0x9c); /* pushfq */
	emit1(0x58); /* pop rax */
	emit_rdi_disp(0x89, 0, 128);
	emit_rip_slot(0x8b, 0, SLOT_TMP_RDI);
	emit_rdi_disp(0x89, 0, 8 * 7);
	emit1(0xfc); /* cld: the C ABI wants DF clear */
	emit(restore, sizeof(restore));
}

static void on_signal(int sig)
{
	native_signal = sig;
	siglongjmp(native_jmp, 1);
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
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER;
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

int native_set_gs_base(uint64_t base)
{
	return syscall(SYS_arch_prctl, ARCH_SET_GS, base) ? -1 : 0;
}
