/*
 * Guest resets: the keyboard controller's reset pulse, the PIIX4 reset control register and a
 * triple fault, one per boot. A reset reboots the PC; RAM starts over, the CMOS RAM does not
 * (it is battery-backed, MC146818A datasheet "Static CMOS RAM"), so the stage counter lives
 * there: index 0x40, in the bytes no BIOS assigns on a PC/AT.
 *
 *   stage 0: "RESET stage 0", KBC command 0xfe (pulse output port bit 0, the reset line low)
 *   stage 1: "RESET stage 1", 0x06 into port 0xcf9 (PIIX4 "Reset Control Register": bit 1
 *            hard reset, bit 2 reset CPU)
 *   stage 2: "RESET stage 2", a triple fault: every IDT gate not present, then #UD
 *   stage 3: "RESET stage 3", "PASS reset" if each boot found RAM cleared, then power off
 *
 * Before each reset a marker goes to a fixed RAM address outside the kernel image; the next
 * boot checks that it reads 0 (hostvisor clears RAM on reset; QEMU and real PCs do not).
 *
 * With method=kbc|cf9|triple on the command line the guest makes one reset of that kind and
 * nothing else, for the VMM's --no-reboot check (the VMM exits; the guest never comes back).
 */
#include "guest.h"

const char guest_name[] = "reset";

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define NV_STAGE 0x40	  /* STAGE_TAG | stage, or 0 on a fresh machine */
#define NV_STAGE_CHK 0x41 /* ~NV_STAGE: tells our value from a leftover */
#define NV_DIRTY 0x42	  /* bit n: boot n found the RAM marker still set */
#define STAGE_TAG 0xa0
#define STAGE_LAST 3

#define KBC_STATUS 0x64
#define KBC_CMD 0x64
#define KBC_STATUS_IBF 0x02  /* input buffer full: the controller has not taken the last byte */
#define KBC_PULSE_RESET 0xfe /* pulse output port bit 0 (8042 "Pulse Output Port" 0xf0-0xff) */
#define KBC_POLLS 100000

#define PIIX_RESET_CONTROL 0xcf9
#define PIIX_RST_HARD_CPU 0x06 /* SRST (bit 1) and RCPU (bit 2, acts on 0 -> 1) */

#define RAM_MARKER_ADDR 0x800000u /* 8 MiB: above the kernel image and the boot data */
#define RAM_MARKER 0x5245534554214d4bull
#define RESET_WAIT_US 500000

/* IDT gate layout (SDM vol. 3A 6.14.1) as entry.S fills it: selector 0x10, P | DPL 0 | type 0xe. */
#define IDT_GATES 256
#define IDT_GATE_SIZE 16
#define GATE_SEL_KCODE 0x10
#define GATE_ATTR_INTR 0x8e00

enum reset_method {
	METHOD_NONE,
	METHOD_KBC,
	METHOD_CF9,
	METHOD_TRIPLE,
	METHOD_BAD,
};

static const char *const method_names[] = {"", "kbc", "cf9", "triple"};

static uint8_t cmos_read(uint8_t index)
{
	outb(CMOS_INDEX, index);
	return inb(CMOS_DATA);
}

static void cmos_write(uint8_t index, uint8_t v)
{
	outb(CMOS_INDEX, index);
	outb(CMOS_DATA, v);
}

/* The asm hides the constant address from gcc, whose -Warray-bounds rejects it. */
static volatile uint64_t *ram_marker(void)
{
	uint64_t a = RAM_MARKER_ADDR;

	__asm__("" : "+r"(a));
	return (volatile uint64_t *)(uintptr_t)a;
}

/* The value of the method= word; METHOD_NONE without one. */
static enum reset_method method_from_cmdline(void)
{
	static const char key[] = "method=";
	const size_t klen = sizeof(key) - 1;

	for (const char *w = cmdline(); *w;) {
		while (*w == ' ')
			w++;
		size_t n = 0;

		while (w[n] && w[n] != ' ')
			n++;
		if (n > klen && !strncmp(w, key, klen)) {
			for (unsigned m = METHOD_KBC; m <= METHOD_TRIPLE; m++) {
				if (n - klen == strlen(method_names[m]) &&
				    !strncmp(w + klen, method_names[m], n - klen))
					return (enum reset_method)m;
			}
			return METHOD_BAD;
		}
		w += n;
	}
	return METHOD_NONE;
}

/* The stage this boot is in: 0 on a fresh machine or over anything that is not our own. */
static unsigned stage_load(void)
{
	uint8_t v = cmos_read(NV_STAGE), chk = cmos_read(NV_STAGE_CHK);

	if (v == 0 && chk == 0)
		return 0;
	if ((v & 0xf0) == STAGE_TAG && (v & 0x0f) <= STAGE_LAST && (uint8_t)(chk ^ v) == 0xff)
		return v & 0x0f;
	gprintf("reset: CMOS 0x%x/0x%x hold 0x%x/0x%x, not a stage; starting over\n", NV_STAGE,
		NV_STAGE_CHK, v, chk);
	return 0;
}

static void stage_store(unsigned stage)
{
	uint8_t v = stage ? (uint8_t)(STAGE_TAG | stage) : 0;

	cmos_write(NV_STAGE, v);
	cmos_write(NV_STAGE_CHK, stage ? (uint8_t)~v : 0);
}

static void nvram_clear(void)
{
	stage_store(0);
	cmos_write(NV_DIRTY, 0);
}

static void reset_by_kbc(void)
{
	for (int i = 0; i < KBC_POLLS && (inb(KBC_STATUS) & KBC_STATUS_IBF); i++)
		cpu_relax();
	outb(KBC_CMD, KBC_PULSE_RESET);
}

static void reset_by_cf9(void)
{
	outb(PIIX_RESET_CONTROL, PIIX_RST_HARD_CPU);
}

/* Checks that entry.S's IDT holds its gates before the test wipes it. */
static volatile uint8_t *idt_find(void)
{
	uint32_t off0 =
	    idt[0] | (uint32_t)idt[1] << 8 | (uint32_t)idt[6] << 16 | (uint32_t)idt[7] << 24;
	uint32_t off1 =
	    idt[16] | (uint32_t)idt[17] << 8 | (uint32_t)idt[22] << 16 | (uint32_t)idt[23] << 24;
	uint16_t sel = (uint16_t)(idt[2] | idt[3] << 8), attr = (uint16_t)(idt[4] | idt[5] << 8);

	if (sel != GATE_SEL_KCODE || attr != GATE_ATTR_INTR || off1 != off0 + 16) {
		gprintf("reset: no IDT gates (selector 0x%x, attributes 0x%x)\n", sel, attr);
		return NULL;
	}
	return idt;
}

/*
 * A #UD finds its gate not present: #GP (SDM 3A 6.12.1.2); the #GP gate is not present either,
 * a second contributory fault: #DF; the #DF gate too: shutdown (6.15, table 6-5, "Interrupt
 * 8"), which the PC's chipset turns into a reset. No handler of ours runs on the way.
 */
static void reset_by_triple_fault(void)
{
	volatile uint8_t *gates = idt_find();

	if (!gates)
		return;
	for (unsigned i = 0; i < IDT_GATES * IDT_GATE_SIZE; i++)
		gates[i] = 0;
	__asm__ volatile("ud2" ::: "memory");
}

/* Makes the reset; returns only if the machine is still running afterwards. */
static void reset_by(enum reset_method m)
{
	*ram_marker() = RAM_MARKER;
	switch (m) {
	case METHOD_KBC:
		reset_by_kbc();
		break;
	case METHOD_CF9:
		reset_by_cf9();
		break;
	case METHOD_TRIPLE:
		reset_by_triple_fault();
		break;
	default:
		return;
	}
	/* The VMM may stop the vCPU a little after the exit; do not cry wolf at once. */
	if (pmtimer_present())
		pmtimer_delay_us(RESET_WAIT_US);
	fail("reset.method", "%s: the machine is still running", method_names[m]);
}

static void run_one_method(enum reset_method m)
{
	if (m == METHOD_BAD) {
		fail("reset.cmdline", "method= is kbc, cf9 or triple");
		return;
	}
	gprintf("RESET method %s\n", method_names[m]);
	reset_by(m);
}

/* Stage 3: report what the earlier boots recorded, and leave the CMOS as a fresh one. */
static void finish(uint8_t dirty)
{
	if (dirty)
		fail("reset", "RAM not cleared by the reset before boot(s) mask 0x%x", dirty);
	else
		pass("reset");
	nvram_clear();
}

void guest_main(void)
{
	enum reset_method m = method_from_cmdline();

	if (m != METHOD_NONE) {
		run_one_method(m);
		return;
	}
	unsigned stage = stage_load();
	uint8_t dirty = stage ? cmos_read(NV_DIRTY) : 0;
	uint64_t marker = *ram_marker();

	gprintf("RESET stage %u\n", stage);
	if (marker) {
		gprintf("reset: RAM at 0x%x holds 0x%lx after the reset\n", RAM_MARKER_ADDR,
			marker);
		dirty |= (uint8_t)(1u << stage);
	}
	if (stage == STAGE_LAST) {
		finish(dirty);
		return;
	}
	cmos_write(NV_DIRTY, dirty);
	stage_store(stage + 1);
	reset_by((enum reset_method)(METHOD_KBC + stage));
	nvram_clear(); /* the reset did not happen: the next run starts over */
}
