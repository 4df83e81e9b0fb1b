/*
 * Intel 8042 keyboard controller (IBM PC/AT, PS/2) with a PS/2 keyboard on its first port; see
 * include/hostvisor/i8042.h.
 *
 * Sources: IBM PC/AT Technical Reference (keyboard controller, 1984), IBM PS/2 Hardware
 * Interface Technical Reference ("Keyboard/Auxiliary Device Controller" and "Keyboard" chapters),
 * and the published scan code set 1 and set 2 lists.
 *
 * The model is two state machines: the controller (status, command byte and the rest of its
 * 32-byte RAM, output port, one-byte output buffer) and the keyboard (its command set and its
 * 16-byte transmit buffer). Host writes are processed at once, so the input buffer is never
 * full (IBF reads 0). Bytes reach the guest through the controller's single output buffer, which
 * is refilled, in this order, from the controller's own replies, then the keyboard (only while
 * the keyboard interface is enabled).
 *
 * What we leave out, on purpose:
 * - A20: the output port's gate bit is stored and read back, but guest memory is never wrapped
 *   at 1 MiB (a modern CPU boots with A20 enabled and Linux never turns it off).
 * - The auxiliary port has no device and its lines are not wired: the interface test reports a
 *   stuck clock line, a byte sent with 0xd4 comes back as 0xfe with the time-out status bit (what
 *   a PS/2 controller reports when no device clocks the byte in). The controller's own loopback
 *   (0xd3) works, as it does on a real PS/2 controller with an empty mouse connector.
 * - Scan code sets 1 and 3 can be selected and read back, but the keyboard keeps sending set 2;
 *   with translation on (the PC default) the guest sees set 1 either way.
 * - No timing: the self test, the reset pulse and the keyboard's BAT complete at once.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hostvisor/i8042.h"

#define KBC_DATA_PORT 0x60
#define KBC_CMD_PORT 0x64

/* Status register (PS/2 Hardware Interface Technical Reference, "Status Register"). */
#define STS_OBF 0x01	 /* output buffer full */
#define STS_IBF 0x02	 /* input buffer full: never, writes complete at once */
#define STS_SYS 0x04	 /* system flag, a copy of command byte bit 2 */
#define STS_CMD 0x08	 /* A2: last byte written went to 0x64 (command) */
#define STS_INH 0x10	 /* 1 = keyboard not inhibited (key lock switch open) */
#define STS_AUXB 0x20	 /* output buffer holds auxiliary device data */
#define STS_TIMEOUT 0x40 /* general time-out */
#define STS_PARITY 0x80	 /* parity error: never, there is no serial line */

/* Command byte, controller RAM location 0. */
#define CB_KBD_INT 0x01 /* IRQ 1 when the output buffer is filled with keyboard data */
#define CB_AUX_INT 0x02 /* IRQ 12 when the output buffer is filled with aux data */
#define CB_SYS 0x04	/* system flag */
#define CB_KBD_DIS 0x10 /* keyboard interface disabled (clock held low) */
#define CB_AUX_DIS 0x20 /* auxiliary interface disabled */
#define CB_XLAT 0x40	/* translate keyboard set 2 to set 1 */

/*
 * Command byte at power-on. We have no POST firmware to program the controller, so the machine
 * starts as a PC BIOS leaves it: translation on, keyboard enabled with its interrupt, aux
 * interface disabled, system flag set (self test passed).
 */
#define CB_POWER_ON (CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT)

/* Output port (PS/2 reference, "Output Port"). Bits 4 and 5 are the IRQ 1 and IRQ 12 lines. */
#define OP_RESET_N 0x01 /* 0 = system reset */
#define OP_A20 0x02	/* A20 gate */
#define OP_KBD_OBF 0x10
#define OP_AUX_OBF 0x20
#define OP_POWER_ON 0xcf /* not in reset, A20 on, clock and data lines released */
#define OP_STORED_MASK 0xcf

/* Input port: key lock open (bit 7), no manufacturing jumper (bit 5), keyboard data line high. */
#define INPUT_PORT_VALUE 0xb1

/* Controller replies. */
#define KBC_SELF_TEST_OK 0x55
#define KBC_INTERFACE_OK 0x00
#define KBC_AUX_CLOCK_STUCK_LOW 0x01

/* Keyboard commands and replies (PS/2 keyboard reference, "Commands from the System"). */
#define KBD_ACK 0xfa
#define KBD_RESEND 0xfe
#define KBD_BAT_OK 0xaa
#define KBD_ECHO 0xee
#define KBD_ID0 0xab
#define KBD_ID1 0x83
#define KBD_OVERRUN_SET2 0x00
#define KBD_FIRST_COMMAND 0xed	   /* bytes from here up are commands, never arguments */
#define KBD_TYPEMATIC_DEFAULT 0x2b /* 10.9 characters/s, 500 ms delay */

#define KBD_KEY_BUFFER 16 /* the keyboard's buffer holds 16 bytes, then the overrun code */
#define KBD_REPLY_LIMIT 8
#define KBC_REPLY_LIMIT 8
#define FIFO_CAP 32

/* Flags that travel with a byte in the controller's output path. */
#define OUT_AUX 0x100
#define OUT_TIMEOUT 0x200
/* Marks the overrun code in the keyboard's buffer. */
#define KEY_OVERRUN_MARK 0x400

struct fifo {
	uint16_t data[FIFO_CAP]; /* byte in bits 0-7, OUT_* flags above */
	unsigned head, count;
};

/* What the keyboard waits for after a command that takes an argument. */
enum kbd_arg {
	KBD_ARG_NONE,
	KBD_ARG_LEDS,	   /* 0xed */
	KBD_ARG_TYPEMATIC, /* 0xf3 */
	KBD_ARG_SCANSET,   /* 0xf0 */
	KBD_ARG_KEYLIST,   /* 0xfb-0xfd: set 3 key types, until the next command */
};

struct ps2_kbd {
	struct fifo replies; /* command replies go out before buffered keys */
	struct fifo keys;
	bool overrun; /* the overrun code is queued: keystrokes are discarded */
	enum kbd_arg arg;
	bool scanning;
	uint8_t scanset; /* selected set: stored only, set 2 is sent */
	uint8_t leds;
	uint8_t typematic;
	uint8_t last_sent; /* for the resend command */
};

struct i8042 {
	pthread_mutex_t lock;
	struct irq_line kbd_irq, aux_irq;
	void (*reset_cb)(void *opaque);
	void *opaque;

	uint8_t ram[32]; /* ram[0] is the command byte */
	uint8_t outport;
	uint8_t pending_cmd; /* controller command waiting for its data byte, or 0 */
	bool last_was_cmd;   /* status A2 */
	struct fifo ctl_out; /* controller replies, 0xd2/0xd3 bytes, aux replies */

	uint16_t obuf; /* output buffer, with OUT_* flags */
	bool obf;
	bool xlat_break; /* translation saw 0xf0: the next code is a break */
	bool irq1_level, irq12_level;

	struct ps2_kbd kbd;
};

/*
 * The 8042's translation table, scan code set 2 -> set 1, written from the two published code
 * lists: each set 2 make code maps to the set 1 make code of the same key position. Positions
 * with no key in the standard 101/102/106-key layouts carry the values of the controller's
 * table so that every set 1 code below 0x80 has exactly one set 2 source. Codes from 0x80 up
 * pass unchanged (0xe0/0xe1 prefixes, ACK, BAT, ID, echo), except the two keys whose set 2
 * codes are above 0x7f: F7 (0x83) and Alt+SysRq (0x84).
 */
/* clang-format off */
static const uint8_t set2_to_set1[128] = {
	/* 0x00 */ 0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58,
	/* 0x08 */ 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
	/* 0x10 */ 0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a,
	/* 0x18 */ 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
	/* 0x20 */ 0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c,
	/* 0x28 */ 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
	/* 0x30 */ 0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e,
	/* 0x38 */ 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
	/* 0x40 */ 0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60,
	/* 0x48 */ 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
	/* 0x50 */ 0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e,
	/* 0x58 */ 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
	/* 0x60 */ 0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b,
	/* 0x68 */ 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
	/* 0x70 */ 0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
	/* 0x78 */ 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
};
/* clang-format on */

static uint8_t translate_set2_code(uint8_t code)
{
	if (code < 0x80)
		return set2_to_set1[code];
	if (code == 0x83) /* F7 */
		return 0x41;
	if (code == 0x84) /* Alt+SysRq */
		return 0x54;
	return code;
}

/* ---- small FIFO ------------------------------------------------------------------------------ */

static void fifo_clear(struct fifo *f)
{
	f->head = 0;
	f->count = 0;
}

static bool fifo_push(struct fifo *f, uint16_t v, unsigned limit)
{
	if (limit > FIFO_CAP)
		limit = FIFO_CAP;
	if (f->count >= limit)
		return false;
	f->data[(f->head + f->count) % FIFO_CAP] = v;
	f->count++;
	return true;
}

static uint16_t fifo_pop(struct fifo *f)
{
	uint16_t v = f->data[f->head];

	f->head = (f->head + 1) % FIFO_CAP;
	f->count--;
	return v;
}

/* ---- the keyboard ---------------------------------------------------------------------------- */

static void kbd_reply(struct ps2_kbd *kbd, uint8_t byte)
{
	/* A host that writes commands without reading the answers loses the excess. */
	fifo_push(&kbd->replies, byte, KBD_REPLY_LIMIT);
}

/*
 * A key byte into the 16-byte buffer. When the buffer is full, the keyboard queues the overrun
 * code (0x00 in set 2) after the 16th byte and discards keystrokes until that code has gone out
 * (PS/2 keyboard reference, "Keyboard Buffer").
 */
static void kbd_queue_key(struct ps2_kbd *kbd, uint8_t byte)
{
	if (kbd->overrun)
		return;
	if (fifo_push(&kbd->keys, byte, KBD_KEY_BUFFER))
		return;
	kbd->overrun = true;
	fifo_push(&kbd->keys, KBD_OVERRUN_SET2 | KEY_OVERRUN_MARK, KBD_KEY_BUFFER + 1);
}

static bool kbd_has_output(const struct ps2_kbd *kbd)
{
	return kbd->replies.count || kbd->keys.count;
}

static uint8_t kbd_next_byte(struct ps2_kbd *kbd)
{
	uint16_t entry = kbd->replies.count ? fifo_pop(&kbd->replies) : fifo_pop(&kbd->keys);

	if (entry & KEY_OVERRUN_MARK)
		kbd->overrun = false;
	kbd->last_sent = (uint8_t)entry;
	return (uint8_t)entry;
}

static void kbd_clear_keys(struct ps2_kbd *kbd)
{
	fifo_clear(&kbd->keys);
	kbd->overrun = false;
}

/* Default values of the set default (0xf6), default disable (0xf5) and reset commands. */
static void kbd_set_defaults(struct ps2_kbd *kbd)
{
	kbd->typematic = KBD_TYPEMATIC_DEFAULT;
	kbd->arg = KBD_ARG_NONE;
}

static void kbd_power_on(struct ps2_kbd *kbd)
{
	fifo_clear(&kbd->replies);
	kbd_clear_keys(kbd);
	kbd_set_defaults(kbd);
	kbd->scanning = true;
	kbd->scanset = 2;
	kbd->leds = 0;
	kbd->last_sent = KBD_BAT_OK;
}

/* The argument byte of 0xed, 0xf3, 0xf0 or a key of 0xfb-0xfd. */
static void kbd_take_argument(struct ps2_kbd *kbd, uint8_t byte)
{
	switch (kbd->arg) {
	case KBD_ARG_LEDS:
		/* Bits 0-2: scroll, num, caps lock; the rest are reserved. */
		kbd->leds = byte & 0x07;
		kbd->arg = KBD_ARG_NONE;
		kbd_reply(kbd, KBD_ACK);
		return;
	case KBD_ARG_TYPEMATIC:
		if (byte & 0x80) { /* bit 7 must be 0: ask for the byte again */
			kbd_reply(kbd, KBD_RESEND);
			return;
		}
		kbd->typematic = byte;
		kbd->arg = KBD_ARG_NONE;
		kbd_reply(kbd, KBD_ACK);
		return;
	case KBD_ARG_SCANSET:
		if (byte > 3) {
			kbd_reply(kbd, KBD_RESEND);
			return;
		}
		kbd->arg = KBD_ARG_NONE;
		kbd_reply(kbd, KBD_ACK);
		if (byte == 0)
			kbd_reply(kbd, kbd->scanset);
		else
			kbd->scanset = byte;
		return;
	case KBD_ARG_KEYLIST: /* set 3 key types: accepted and ignored, we send set 2 */
		kbd_reply(kbd, KBD_ACK);
		return;
	case KBD_ARG_NONE:
		return;
	}
}

static void kbd_command(struct ps2_kbd *kbd, uint8_t cmd)
{
	kbd->arg = KBD_ARG_NONE;
	switch (cmd) {
	case 0xff: /* reset: ACK, basic assurance test, then 0xaa */
		kbd_power_on(kbd);
		kbd_reply(kbd, KBD_ACK);
		kbd_reply(kbd, KBD_BAT_OK);
		kbd->last_sent = KBD_BAT_OK;
		return;
	case 0xfe: /* resend the last byte we sent */
		kbd_reply(kbd, kbd->last_sent);
		return;
	case 0xfb: /* set key typematic (set 3) */
	case 0xfc: /* set key make/break (set 3) */
	case 0xfd: /* set key make (set 3) */
		kbd_reply(kbd, KBD_ACK);
		kbd->arg = KBD_ARG_KEYLIST;
		return;
	case 0xf7: /* set all keys typematic / make-break / make / all (set 3) */
	case 0xf8:
	case 0xf9:
	case 0xfa:
		kbd_reply(kbd, KBD_ACK);
		return;
	case 0xf6: /* set default: clear the buffer, defaults, keep scanning */
	case 0xf5: /* default disable: the same, and stop scanning */
	case 0xf4: /* enable: clear the buffer, start scanning */
		kbd_clear_keys(kbd);
		if (cmd != 0xf4)
			kbd_set_defaults(kbd);
		kbd->scanning = cmd != 0xf5;
		kbd_reply(kbd, KBD_ACK);
		return;
	case 0xf3:
		kbd_reply(kbd, KBD_ACK);
		kbd->arg = KBD_ARG_TYPEMATIC;
		return;
	case 0xf2: /* read ID: ACK, 0xab, 0x83 (MF2 keyboard) */
		kbd_reply(kbd, KBD_ACK);
		kbd_reply(kbd, KBD_ID0);
		kbd_reply(kbd, KBD_ID1);
		return;
	case 0xf0:
		kbd_reply(kbd, KBD_ACK);
		kbd->arg = KBD_ARG_SCANSET;
		return;
	case 0xee: /* echo, no ACK */
		kbd_reply(kbd, KBD_ECHO);
		return;
	case 0xed:
		kbd_reply(kbd, KBD_ACK);
		kbd->arg = KBD_ARG_LEDS;
		return;
	default:
		kbd_reply(kbd, KBD_RESEND);
		return;
	}
}

/*
 * A byte from the system. While the keyboard waits for an argument, a byte in the command range
 * cancels the wait and runs as a command (PS/2 keyboard reference, "Commands from the System").
 */
static void kbd_receive(struct ps2_kbd *kbd, uint8_t byte)
{
	if (kbd->arg != KBD_ARG_NONE && byte < KBD_FIRST_COMMAND) {
		kbd_take_argument(kbd, byte);
		return;
	}
	kbd_command(kbd, byte);
}

/* ---- the controller -------------------------------------------------------------------------- */

static uint8_t kbc_cmd_byte(const struct i8042 *kbc)
{
	return kbc->ram[0];
}

/*
 * The 8042 drives IRQ 1 and IRQ 12 from output port bits 4 and 5: high while the output buffer
 * holds a byte of that side and its interrupt is enabled in the command byte. The PIC sees an
 * edge each time the buffer is refilled.
 */
static void kbc_update_irqs(struct i8042 *kbc)
{
	bool aux = kbc->obuf & OUT_AUX;
	bool irq1 = kbc->obf && !aux && (kbc_cmd_byte(kbc) & CB_KBD_INT);
	bool irq12 = kbc->obf && aux && (kbc_cmd_byte(kbc) & CB_AUX_INT);

	if (irq1 != kbc->irq1_level) {
		kbc->irq1_level = irq1;
		irq_set(&kbc->kbd_irq, irq1);
	}
	if (irq12 != kbc->irq12_level) {
		kbc->irq12_level = irq12;
		irq_set(&kbc->aux_irq, irq12);
	}
}

/*
 * With translation on, a set 2 break prefix (0xf0) is swallowed and the next code comes out
 * translated with bit 7 set, which is how set 1 marks a break. Returns false for the prefix.
 */
static bool kbc_translate(struct i8042 *kbc, uint8_t *byte)
{
	if (!(kbc_cmd_byte(kbc) & CB_XLAT))
		return true;
	if (*byte == 0xf0) {
		kbc->xlat_break = true;
		return false;
	}
	*byte = translate_set2_code(*byte);
	if (kbc->xlat_break)
		*byte |= 0x80;
	kbc->xlat_break = false;
	return true;
}

/* Loads the output buffer if it is empty. Each pass takes a byte, so the loop is bounded. */
static void kbc_fill_output(struct i8042 *kbc)
{
	while (!kbc->obf) {
		if (kbc->ctl_out.count) {
			kbc->obuf = fifo_pop(&kbc->ctl_out);
			kbc->obf = true;
			break;
		}
		if ((kbc_cmd_byte(kbc) & CB_KBD_DIS) || !kbd_has_output(&kbc->kbd))
			break;
		uint8_t byte = kbd_next_byte(&kbc->kbd);
		if (!kbc_translate(kbc, &byte))
			continue;
		kbc->obuf = byte;
		kbc->obf = true;
	}
	kbc_update_irqs(kbc);
}

/*
 * A reply of the controller itself, or a byte put in the output path by 0xd2/0xd3/0xd4. Replies
 * leave as keyboard-side data (AUXB clear), so they raise IRQ 1 when it is enabled, as on the
 * real part; 0xd3/0xd4 bytes leave as aux data and raise IRQ 12.
 */
static void kbc_reply(struct i8042 *kbc, uint16_t value)
{
	fifo_push(&kbc->ctl_out, value, KBC_REPLY_LIMIT);
	kbc_fill_output(kbc);
}

static uint8_t kbc_status(const struct i8042 *kbc)
{
	uint8_t s = STS_INH;

	if (kbc->obf)
		s |= STS_OBF;
	if (kbc_cmd_byte(kbc) & CB_SYS)
		s |= STS_SYS;
	if (kbc->last_was_cmd)
		s |= STS_CMD;
	if (kbc->obuf & OUT_AUX)
		s |= STS_AUXB;
	if (kbc->obuf & OUT_TIMEOUT)
		s |= STS_TIMEOUT;
	return s;
}

static uint8_t kbc_output_port(const struct i8042 *kbc)
{
	uint8_t v = kbc->outport & OP_STORED_MASK;

	if (kbc->obf)
		v |= (kbc->obuf & OUT_AUX) ? OP_AUX_OBF : OP_KBD_OBF;
	return v;
}

static void kbc_power_on(struct i8042 *kbc)
{
	for (unsigned i = 0; i < sizeof(kbc->ram); i++)
		kbc->ram[i] = 0;
	kbc->ram[0] = CB_POWER_ON;
	kbc->outport = OP_POWER_ON;
	kbc->pending_cmd = 0;
	kbc->last_was_cmd = false;
	fifo_clear(&kbc->ctl_out);
	kbc->obuf = 0;
	kbc->obf = false;
	kbc->xlat_break = false;
	kbd_power_on(&kbc->kbd);
	kbc_update_irqs(kbc);
}

/*
 * The output port write of 0xd1. Bit 0 low asserts the system reset line; we report one reset
 * and keep the bit released, since the platform resets the whole machine, this controller
 * included. Bit 1 (A20) is stored only. Returns true when a reset must be signalled.
 */
static bool kbc_write_output_port(struct i8042 *kbc, uint8_t value)
{
	kbc->outport = (value & OP_STORED_MASK) | OP_RESET_N;
	return !(value & OP_RESET_N);
}

/* The data byte of a two-byte controller command. Returns true to signal a system reset. */
static bool kbc_command_data(struct i8042 *kbc, uint8_t cmd, uint8_t value)
{
	if (cmd >= 0x60 && cmd <= 0x7f) { /* write controller RAM; 0x60 is the command byte */
		kbc->ram[cmd & 0x1f] = value;
		kbc_fill_output(kbc);
		return false;
	}
	switch (cmd) {
	case 0xd1:
		return kbc_write_output_port(kbc, value);
	case 0xd2: /* as if the keyboard had sent it (not translated) */
		kbc_reply(kbc, value);
		return false;
	case 0xd3: /* as if the aux device had sent it: the loopback Linux probes with */
		kbc_reply(kbc, value | OUT_AUX);
		return false;
	case 0xd4: /* to the aux device: nobody clocks it in, so time-out and 0xfe */
		kbc_reply(kbc, KBD_RESEND | OUT_AUX | OUT_TIMEOUT);
		return false;
	default:
		return false;
	}
}

static bool kbc_command_takes_data(uint8_t cmd)
{
	return (cmd >= 0x60 && cmd <= 0x7f) || (cmd >= 0xd1 && cmd <= 0xd4);
}

/*
 * Self test (0xaa): the controller re-initialises as after power-on, with both interfaces
 * inhibited until the system enables them (real controllers vary here; operating systems
 * rewrite the command byte after the test), and answers 0x55.
 */
static void kbc_self_test(struct i8042 *kbc)
{
	kbc->ram[0] = CB_POWER_ON | CB_KBD_DIS | CB_AUX_DIS;
	kbc->xlat_break = false;
	fifo_clear(&kbc->ctl_out);
	kbc_reply(kbc, KBC_SELF_TEST_OK);
}

static void kbc_set_cmd_bits(struct i8042 *kbc, uint8_t set, uint8_t clear)
{
	kbc->ram[0] = (uint8_t)((kbc->ram[0] | set) & ~clear);
	kbc_fill_output(kbc);
}

/* A byte written to 0x64. Returns true to signal a system reset. */
static bool kbc_command(struct i8042 *kbc, uint8_t cmd)
{
	kbc->pending_cmd = 0; /* a new command abandons one still waiting for data */
	if (kbc_command_takes_data(cmd)) {
		kbc->pending_cmd = cmd;
		return false;
	}
	if (cmd >= 0x20 && cmd <= 0x3f) {
		kbc_reply(kbc, kbc->ram[cmd & 0x1f]);
		return false;
	}
	if (cmd >= 0xf0) /* pulse output port bits low for 6 us; bit 0 is the reset line */
		return !(cmd & OP_RESET_N);
	switch (cmd) {
	case 0xa7:
		kbc_set_cmd_bits(kbc, CB_AUX_DIS, 0);
		break;
	case 0xa8:
		kbc_set_cmd_bits(kbc, 0, CB_AUX_DIS);
		break;
	case 0xa9: /* aux interface test: the aux lines are not wired */
		kbc_reply(kbc, KBC_AUX_CLOCK_STUCK_LOW);
		break;
	case 0xaa:
		kbc_self_test(kbc);
		break;
	case 0xab:
		kbc_reply(kbc, KBC_INTERFACE_OK);
		break;
	case 0xad:
		kbc_set_cmd_bits(kbc, CB_KBD_DIS, 0);
		break;
	case 0xae:
		kbc_set_cmd_bits(kbc, 0, CB_KBD_DIS);
		break;
	case 0xc0:
		kbc_reply(kbc, INPUT_PORT_VALUE);
		break;
	case 0xd0:
		kbc_reply(kbc, kbc_output_port(kbc));
		break;
	case 0xe0: /* test inputs: T0 keyboard clock (low while inhibited), T1 aux clock */
		kbc_reply(kbc, (kbc_cmd_byte(kbc) & CB_KBD_DIS) ? 0x00 : 0x01);
		break;
	default: /* the 8042 ignores commands it does not know */
		break;
	}
	return false;
}

/* A byte written to 0x60: a controller command's data, else a byte for the keyboard. */
static bool kbc_write_data(struct i8042 *kbc, uint8_t value)
{
	uint8_t cmd = kbc->pending_cmd;

	if (cmd) {
		kbc->pending_cmd = 0;
		return kbc_command_data(kbc, cmd, value);
	}
	kbd_receive(&kbc->kbd, value);
	kbc_fill_output(kbc);
	return false;
}

static uint8_t kbc_read_data(struct i8042 *kbc)
{
	uint8_t value = (uint8_t)kbc->obuf; /* an empty buffer reads its last byte again */

	if (!kbc->obf)
		return value;
	kbc->obf = false;
	kbc_update_irqs(kbc); /* lower the line first, so a refill is a new edge */
	kbc_fill_output(kbc);
	return value;
}

/* ---- bus glue -------------------------------------------------------------------------------- */

/* The 8042 decodes single bytes; wider accesses see all-ones above the first byte. */
static uint64_t kbc_widen(uint8_t byte, unsigned size)
{
	if (size <= 1)
		return byte;
	uint64_t ones = size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;

	return (ones & ~0xffull) | byte;
}

static uint64_t kbc_data_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *kbc = opaque;
	uint8_t value;

	(void)offset;
	pthread_mutex_lock(&kbc->lock);
	value = kbc_read_data(kbc);
	pthread_mutex_unlock(&kbc->lock);
	return kbc_widen(value, size);
}

static uint64_t kbc_status_read(void *opaque, uint64_t offset, unsigned size)
{
	struct i8042 *kbc = opaque;
	uint8_t value;

	(void)offset;
	pthread_mutex_lock(&kbc->lock);
	value = kbc_status(kbc);
	pthread_mutex_unlock(&kbc->lock);
	return kbc_widen(value, size);
}

/* The reset callback runs without our lock: the platform may reset this controller from it. */
static void kbc_signal_reset(struct i8042 *kbc, bool reset)
{
	if (reset && kbc->reset_cb)
		kbc->reset_cb(kbc->opaque);
}

static void kbc_data_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct i8042 *kbc = opaque;
	bool reset;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&kbc->lock);
	kbc->last_was_cmd = false;
	reset = kbc_write_data(kbc, (uint8_t)value);
	pthread_mutex_unlock(&kbc->lock);
	kbc_signal_reset(kbc, reset);
}

static void kbc_cmd_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct i8042 *kbc = opaque;
	bool reset;

	(void)offset;
	(void)size;
	pthread_mutex_lock(&kbc->lock);
	kbc->last_was_cmd = true;
	reset = kbc_command(kbc, (uint8_t)value);
	pthread_mutex_unlock(&kbc->lock);
	kbc_signal_reset(kbc, reset);
}

/* ---- public API ------------------------------------------------------------------------------ */

struct i8042 *i8042_create(struct irq_line kbd_irq1, struct irq_line aux_irq12,
			   void (*reset)(void *opaque), void *opaque)
{
	struct i8042 *kbc = calloc(1, sizeof(*kbc));

	if (!kbc)
		return NULL;
	if (pthread_mutex_init(&kbc->lock, NULL)) {
		free(kbc);
		return NULL;
	}
	kbc->kbd_irq = kbd_irq1;
	kbc->aux_irq = aux_irq12;
	kbc->reset_cb = reset;
	kbc->opaque = opaque;
	kbc_power_on(kbc);
	return kbc;
}

void i8042_destroy(struct i8042 *kbc)
{
	if (!kbc)
		return;
	pthread_mutex_destroy(&kbc->lock);
	free(kbc);
}

int i8042_attach(struct i8042 *kbc, struct bus *pio)
{
	int rc =
	    bus_register(pio, "i8042-data", KBC_DATA_PORT, 1, kbc_data_read, kbc_data_write, kbc);

	if (rc < 0)
		return rc;
	rc = bus_register(pio, "i8042-cmd", KBC_CMD_PORT, 1, kbc_status_read, kbc_cmd_write, kbc);
	if (rc < 0) {
		bus_unregister(pio, KBC_DATA_PORT, kbc);
		return rc;
	}
	return 0;
}

void i8042_reset(struct i8042 *kbc)
{
	pthread_mutex_lock(&kbc->lock);
	kbc_power_on(kbc);
	pthread_mutex_unlock(&kbc->lock);
}

void i8042_kbd_input(struct i8042 *kbc, const uint8_t *set2, size_t len)
{
	if (!set2)
		return;
	pthread_mutex_lock(&kbc->lock);
	if (kbc->kbd.scanning) {
		for (size_t i = 0; i < len; i++)
			kbd_queue_key(&kbc->kbd, set2[i]);
		kbc_fill_output(kbc);
	}
	pthread_mutex_unlock(&kbc->lock);
}
