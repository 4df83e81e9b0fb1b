/* Unit tests for the 8042 keyboard controller and its PS/2 keyboard (src/dev/i8042.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/bus.h"
#include "hostvisor/i8042.h"
#include "irq_recorder.h"

#define DATA 0x60
#define CMD 0x64

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_A2 0x08
#define STS_INH 0x10
#define STS_AUXB 0x20
#define STS_TIMEOUT 0x40

#define CB_KBD_INT 0x01
#define CB_AUX_INT 0x02
#define CB_SYS 0x04
#define CB_KBD_DIS 0x10
#define CB_AUX_DIS 0x20
#define CB_XLAT 0x40

struct fixture {
	struct bus pio;
	struct irq_recorder irq1, irq12;
	struct i8042 *kbc;
	int resets;
	bool reset_reenters; /* the reset callback resets the controller, as the platform will */
};

static void on_reset(void *opaque)
{
	struct fixture *f = opaque;

	f->resets++;
	if (f->reset_reenters)
		i8042_reset(f->kbc);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(bus_init(&f->pio, "pio"), 0);
	f->kbc =
	    i8042_create(irq_recorder_line(&f->irq1), irq_recorder_line(&f->irq12), on_reset, f);
	assert_non_null(f->kbc);
	assert_int_equal(i8042_attach(f->kbc, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	i8042_destroy(f->kbc);
	bus_destroy(&f->pio);
	free(f);
	return 0;
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
	uint64_t v;

	assert_true(bus_read(&f->pio, port, 1, &v) >= 0);
	return (uint8_t)v;
}

static void outb(struct fixture *f, uint16_t port, uint8_t v)
{
	assert_true(bus_write(&f->pio, port, 1, v) >= 0);
}

static uint8_t status(struct fixture *f)
{
	return inb(f, CMD);
}

/* Reads one byte that must be there. */
static uint8_t read_byte(struct fixture *f)
{
	assert_true(status(f) & STS_OBF);
	return inb(f, DATA);
}

static void expect_bytes(struct fixture *f, const uint8_t *bytes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(read_byte(f), bytes[i]);
	assert_false(status(f) & STS_OBF);
}

#define EXPECT(f, ...)                                                                             \
	do {                                                                                       \
		const uint8_t want_[] = {__VA_ARGS__};                                             \
		expect_bytes(f, want_, sizeof(want_));                                             \
	} while (0)

static void expect_empty(struct fixture *f)
{
	assert_false(status(f) & STS_OBF);
}

static uint8_t read_ctr(struct fixture *f)
{
	outb(f, CMD, 0x20);
	return read_byte(f);
}

static void write_ctr(struct fixture *f, uint8_t ctr)
{
	outb(f, CMD, 0x60);
	outb(f, DATA, ctr);
}

static void input(struct fixture *f, const uint8_t *bytes, size_t n)
{
	i8042_kbd_input(f->kbc, bytes, n);
}

#define INPUT(f, ...)                                                                              \
	do {                                                                                       \
		const uint8_t in_[] = {__VA_ARGS__};                                               \
		input(f, in_, sizeof(in_));                                                        \
	} while (0)

/* Drops every byte waiting, as Linux's i8042_flush does (bounded). */
static int flush(struct fixture *f)
{
	int n = 0;

	while ((status(f) & STS_OBF) && n < 64) {
		inb(f, DATA);
		n++;
	}
	return n;
}

/* ---- power-on state -------------------------------------------------------------------------- */

static void test_power_on_state(void **state)
{
	struct fixture *f = *state;

	/* Not inhibited, system flag set, nothing to read, no input pending. */
	assert_int_equal(status(f), STS_INH | STS_SYS);
	assert_int_equal(read_ctr(f), CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT);
	assert_int_equal(f->irq1.level, 0);
	assert_int_equal(f->irq12.level, 0);
	assert_int_equal(flush(f), 0);
}

static void test_a2_bit_follows_last_port_written(void **state)
{
	struct fixture *f = *state;

	outb(f, CMD, 0xab);
	assert_true(status(f) & STS_A2);
	EXPECT(f, 0x00); /* interface test passes */
	outb(f, DATA, 0xee);
	assert_false(status(f) & STS_A2);
	EXPECT(f, 0xee);
}

/* ---- the Linux i8042 + atkbd probe ----------------------------------------------------------- */

static void test_linux_probe_sequence(void **state)
{
	struct fixture *f = *state;
	uint8_t ctr, ctr2;

	/* i8042_controller_check: a flush sees a status that is not 0xff. */
	assert_int_not_equal(status(f), 0xff);
	flush(f);

	/* i8042_controller_selftest. */
	outb(f, CMD, 0xaa);
	EXPECT(f, 0x55);

	/* i8042_controller_init: read the CTR until two reads agree, then disable the keyboard. */
	ctr = read_ctr(f);
	ctr2 = read_ctr(f);
	assert_int_equal(ctr, ctr2);
	assert_true(ctr & CB_XLAT); /* the BIOS-style default: translated mode */
	assert_true(ctr & CB_KBD_DIS);
	ctr = (uint8_t)((ctr | CB_KBD_DIS) & ~CB_KBD_INT);
	write_ctr(f, ctr);
	assert_int_equal(read_ctr(f), ctr);
	assert_int_equal(flush(f), 0);

	/* i8042_enable_kbd_port. */
	ctr = (uint8_t)((ctr & ~CB_KBD_DIS) | CB_KBD_INT);
	write_ctr(f, ctr);
	int edges = f->irq1.raises;

	/* atkbd_probe: GETID. With translation the second ID byte reads 0x41 (0x83 translated). */
	outb(f, DATA, 0xf2);
	assert_int_equal(f->irq1.level, 1);
	EXPECT(f, 0xfa, 0xab, 0x41);
	assert_int_equal(f->irq1.raises, edges + 3); /* one edge per byte */
	assert_int_equal(f->irq1.level, 0);

	/* atkbd_activate and friends: reset-disable, typematic, LEDs, enable. */
	outb(f, DATA, 0xf5);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0xf3);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0x20);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0xed);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0x02);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0xf4);
	EXPECT(f, 0xfa);

	/* Keyboard reset with BAT. */
	outb(f, DATA, 0xff);
	EXPECT(f, 0xfa, 0xaa);

	/* A key now arrives translated, with IRQ 1. */
	INPUT(f, 0x1c);
	assert_int_equal(f->irq1.level, 1);
	EXPECT(f, 0x1e);
}

static void test_linux_aux_probe_without_device(void **state)
{
	struct fixture *f = *state;
	uint8_t ctr;

	/* AUX_LOOP (0xd3) is the controller's own loopback: answered as aux data. */
	outb(f, CMD, 0xd3);
	outb(f, DATA, 0x5a);
	assert_true(status(f) & STS_AUXB);
	EXPECT(f, 0x5a);

	/* The active-multiplexing probe gets its bytes back unchanged: not a MUX controller. */
	const uint8_t mux_probe[] = {0xf0, 0x56, 0xa4};
	for (unsigned i = 0; i < sizeof(mux_probe); i++) {
		outb(f, CMD, 0xd3);
		outb(f, DATA, mux_probe[i]);
		EXPECT(f, mux_probe[i]);
	}

	/* AUX_TEST: the aux lines are not wired, the clock line is stuck low. */
	outb(f, CMD, 0xa9);
	assert_false(status(f) & STS_AUXB);
	EXPECT(f, 0x01);

	/* AUX disable/enable is visible in the CTR. */
	outb(f, CMD, 0xa7);
	assert_true(read_ctr(f) & CB_AUX_DIS);
	outb(f, CMD, 0xa8);
	assert_false(read_ctr(f) & CB_AUX_DIS);

	/* A byte for the aux device: nobody there, so 0xfe with the time-out bit, as aux data. */
	ctr = read_ctr(f);
	write_ctr(f, (uint8_t)(ctr | CB_AUX_INT));
	outb(f, CMD, 0xd4);
	outb(f, DATA, 0xff);
	assert_int_equal(status(f) & (STS_OBF | STS_AUXB | STS_TIMEOUT),
			 STS_OBF | STS_AUXB | STS_TIMEOUT);
	assert_int_equal(f->irq12.level, 1);
	assert_int_equal(f->irq1.level, 0);
	EXPECT(f, 0xfe);
	assert_int_equal(f->irq12.level, 0);

	/* The next keyboard byte carries no time-out. */
	outb(f, DATA, 0xee);
	assert_int_equal(status(f) & (STS_AUXB | STS_TIMEOUT), 0);
	EXPECT(f, 0xee);
}

static void test_aux_irq12_only_when_enabled(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS);
	outb(f, CMD, 0xd3);
	outb(f, DATA, 0x11);
	assert_int_equal(f->irq12.raises, 0);
	EXPECT(f, 0x11);
	write_ctr(f, CB_SYS | CB_AUX_INT);
	outb(f, CMD, 0xd3);
	outb(f, DATA, 0x22);
	assert_int_equal(f->irq12.raises, 1);
	assert_int_equal(f->irq1.raises, 0);
	EXPECT(f, 0x22);
	assert_int_equal(f->irq12.level, 0);
}

/* ---- controller commands --------------------------------------------------------------------- */

static void test_self_test_resets_command_byte(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, 0x00);
	assert_int_equal(read_ctr(f), 0x00);
	assert_false(status(f) & STS_SYS);
	outb(f, CMD, 0xaa);
	EXPECT(f, 0x55);
	assert_int_equal(read_ctr(f), CB_XLAT | CB_AUX_DIS | CB_KBD_DIS | CB_SYS | CB_KBD_INT);
	assert_true(status(f) & STS_SYS);
}

static void test_controller_ram(void **state)
{
	struct fixture *f = *state;

	for (unsigned i = 1; i < 32; i++) {
		outb(f, CMD, (uint8_t)(0x60 + i));
		outb(f, DATA, (uint8_t)(0x80 + i));
	}
	for (unsigned i = 1; i < 32; i++) {
		outb(f, CMD, (uint8_t)(0x20 + i));
		EXPECT(f, (uint8_t)(0x80 + i));
	}
	/* Location 0 is still the command byte, and its bit 2 is the status system flag. */
	write_ctr(f, CB_SYS | CB_XLAT);
	assert_int_equal(read_ctr(f), CB_SYS | CB_XLAT);
	assert_true(status(f) & STS_SYS);
	write_ctr(f, CB_XLAT);
	assert_false(status(f) & STS_SYS);
}

static void test_ports_and_test_inputs(void **state)
{
	struct fixture *f = *state;

	outb(f, CMD, 0xc0);
	assert_true(read_byte(f) & 0x80); /* key lock open */
	outb(f, CMD, 0xab);
	EXPECT(f, 0x00);
	outb(f, CMD, 0xe0);
	EXPECT(f, 0x01); /* keyboard clock released */
	outb(f, CMD, 0xad);
	outb(f, CMD, 0xe0);
	EXPECT(f, 0x00); /* held low while inhibited */
}

static void test_output_port_a20_stored(void **state)
{
	struct fixture *f = *state;

	outb(f, CMD, 0xd0);
	assert_int_equal(read_byte(f) & 0x03, 0x03); /* not in reset, A20 on */
	outb(f, CMD, 0xd1);
	outb(f, DATA, 0xdd); /* A20 off, reset line high */
	assert_int_equal(f->resets, 0);
	outb(f, CMD, 0xd0);
	assert_int_equal(read_byte(f) & 0x03, 0x01);
	outb(f, CMD, 0xd1);
	outb(f, DATA, 0xdf);
	outb(f, CMD, 0xd0);
	assert_int_equal(read_byte(f) & 0x03, 0x03);
	assert_int_equal(f->resets, 0);
}

static void test_output_port_obf_bits(void **state)
{
	struct fixture *f = *state;

	/* Bit 4 is the keyboard-side output buffer full line. With the buffer holding a key and a
	 * reply queued behind it, 0xd0 sees bit 4 set. */
	write_ctr(f, CB_SYS | CB_KBD_INT);
	INPUT(f, 0x1c);
	outb(f, CMD, 0xd0);
	EXPECT(f, 0x1c, 0xdf);
	outb(f, CMD, 0xd0);
	assert_int_equal(read_byte(f) & 0x30, 0x00);
	/* Bit 5 is the aux side. */
	outb(f, CMD, 0xd3);
	outb(f, DATA, 0x42);
	outb(f, CMD, 0xd0);
	EXPECT(f, 0x42, 0xef);
}

static void test_write_keyboard_output_buffer(void **state)
{
	struct fixture *f = *state;

	outb(f, CMD, 0xd2);
	outb(f, DATA, 0xf0); /* not translated, not swallowed as a break prefix */
	assert_int_equal(f->irq1.level, 1);
	assert_false(status(f) & STS_AUXB);
	EXPECT(f, 0xf0);
	assert_int_equal(f->irq1.level, 0);
}

static void test_new_command_abandons_pending_one(void **state)
{
	struct fixture *f = *state;

	outb(f, CMD, 0x60); /* waits for a command byte ... */
	outb(f, CMD, 0x20); /* ... but a new command comes */
	EXPECT(f, CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT);
	outb(f, DATA, 0xee); /* this goes to the keyboard */
	EXPECT(f, 0xee);
	assert_int_equal(read_ctr(f), CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT);
}

static void test_unknown_controller_commands_ignored(void **state)
{
	struct fixture *f = *state;

	const uint8_t unknown[] = {0x00, 0x1f, 0x80, 0xa0, 0xa1, 0xa4,
				   0xc1, 0xc2, 0xd5, 0xdf, 0xef};
	for (unsigned i = 0; i < sizeof(unknown); i++)
		outb(f, CMD, unknown[i]);
	expect_empty(f);
	assert_int_equal(f->resets, 0);
	assert_int_equal(read_ctr(f), CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT);
}

/* ---- the reset line -------------------------------------------------------------------------- */

static void test_reset_pulse(void **state)
{
	struct fixture *f = *state;

	outb(f, CMD, 0xfe);
	assert_int_equal(f->resets, 1);
	outb(f, CMD, 0xff); /* pulses nothing */
	assert_int_equal(f->resets, 1);
	outb(f, CMD, 0xf0); /* pulses bits 0-3, bit 0 included */
	assert_int_equal(f->resets, 2);
	outb(f, CMD, 0xf1); /* bits 1-3 only */
	assert_int_equal(f->resets, 2);
	outb(f, CMD, 0xd1);
	outb(f, DATA, 0xfe); /* output port bit 0 low */
	assert_int_equal(f->resets, 3);
	outb(f, CMD, 0xd0);
	assert_true(read_byte(f) & 0x01); /* the line is released again */
}

static void test_reset_callback_may_reset_controller(void **state)
{
	struct fixture *f = *state;

	f->reset_reenters = true;
	write_ctr(f, 0x00);
	INPUT(f, 0x1c);
	outb(f, CMD, 0xfe); /* would deadlock if the callback ran under the lock */
	assert_int_equal(f->resets, 1);
	assert_int_equal(read_ctr(f), CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT);
	expect_empty(f);
}

static void test_i8042_reset_restores_power_on(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_KBD_INT);
	outb(f, DATA, 0xf5); /* keyboard stops scanning */
	outb(f, DATA, 0xf0); /* and waits for a scan code set */
	assert_int_equal(f->irq1.level, 1);
	i8042_reset(f->kbc);
	assert_int_equal(f->irq1.level, 0);
	assert_int_equal(status(f), STS_INH | STS_SYS);
	assert_int_equal(read_ctr(f), CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT);
	/* The keyboard scans again and waits for no argument. */
	INPUT(f, 0x1c);
	EXPECT(f, 0x1e);
	outb(f, DATA, 0x02); /* not an argument: an unknown command */
	EXPECT(f, 0xfe);
}

/* ---- translation ----------------------------------------------------------------------------- */

static void test_translation_make_break(void **state)
{
	struct fixture *f = *state;

	INPUT(f, 0x1c, 0xf0, 0x1c); /* A pressed, released */
	EXPECT(f, 0x1e, 0x9e);
	INPUT(f, 0xe0, 0x75, 0xe0, 0xf0, 0x75); /* cursor up */
	EXPECT(f, 0xe0, 0x48, 0xe0, 0xc8);
	INPUT(f, 0x83, 0xf0, 0x83); /* F7: the set 2 code above 0x7f */
	EXPECT(f, 0x41, 0xc1);
	INPUT(f, 0x84); /* Alt+SysRq */
	EXPECT(f, 0x54);
	INPUT(f, 0x76, 0x5a, 0x29, 0x12, 0x59, 0x14, 0x11, 0x66, 0x0d, 0x58, 0x77, 0x7e);
	EXPECT(f, 0x01, 0x1c, 0x39, 0x2a, 0x36, 0x1d, 0x38, 0x0e, 0x0f, 0x3a, 0x45, 0x46);
	INPUT(f, 0x05, 0x06, 0x04, 0x0c, 0x03, 0x0b, 0x02, 0x0a, 0x01, 0x09, 0x78, 0x07);
	EXPECT(f, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x57, 0x58);
	/* Pause: e1 14 77 e1 f0 14 f0 77 -> e1 1d 45 e1 9d c5 */
	INPUT(f, 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77);
	EXPECT(f, 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5);
	/* Keyboard replies above 0x7f pass unchanged. */
	outb(f, DATA, 0xee);
	EXPECT(f, 0xee);
}

static void test_translation_is_a_permutation(void **state)
{
	struct fixture *f = *state;
	bool seen[256] = {false};

	/* Every set 2 code below 0x80 maps to a distinct set 1 make code (or 0xff for 0x00). */
	for (unsigned code = 0; code < 0x80; code++) {
		uint8_t b = (uint8_t)code;
		input(f, &b, 1);
		uint8_t out = read_byte(f);
		assert_false(seen[out]);
		seen[out] = true;
		assert_true(code == 0 ? out == 0xff : out < 0x80);
	}
}

static void test_translation_off_passes_set2(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_KBD_INT);
	INPUT(f, 0x1c, 0xf0, 0x1c, 0x83);
	EXPECT(f, 0x1c, 0xf0, 0x1c, 0x83);
	outb(f, DATA, 0xf2);
	EXPECT(f, 0xfa, 0xab, 0x83);
}

static void test_translation_break_prefix_alone_gives_nothing(void **state)
{
	struct fixture *f = *state;

	INPUT(f, 0xf0);
	expect_empty(f); /* the prefix alone gives nothing */
	INPUT(f, 0x1c);
	EXPECT(f, 0x9e);
}

/* ---- keyboard commands ----------------------------------------------------------------------- */

static void test_keyboard_commands(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_KBD_INT); /* untranslated, to see the raw replies */
	outb(f, DATA, 0xee);
	EXPECT(f, 0xee);
	outb(f, DATA, 0x42); /* unknown */
	EXPECT(f, 0xfe);
	outb(f, DATA, 0xf2);
	EXPECT(f, 0xfa, 0xab, 0x83);
	outb(f, DATA, 0xfe); /* resend: the last byte sent */
	EXPECT(f, 0x83);
	outb(f, DATA, 0xf7); /* set 3 all-keys commands: acknowledged */
	EXPECT(f, 0xfa);
	outb(f, DATA, 0xfb); /* set 3 per-key: each key acknowledged until a command */
	EXPECT(f, 0xfa);
	outb(f, DATA, 0x1c);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0x1b);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0xee);
	EXPECT(f, 0xee);
	outb(f, DATA, 0x1c); /* no longer an argument */
	EXPECT(f, 0xfe);
}

static void test_scan_code_set(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_KBD_INT);
	outb(f, DATA, 0xf0);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0x00);
	EXPECT(f, 0xfa, 0x02);
	outb(f, DATA, 0xf0);
	outb(f, DATA, 0x03);
	EXPECT(f, 0xfa, 0xfa);
	outb(f, DATA, 0xf0);
	outb(f, DATA, 0x00);
	EXPECT(f, 0xfa, 0xfa, 0x03);
	/* Set 3 is stored, but the keys still come in set 2. */
	INPUT(f, 0xf0, 0x1c);
	EXPECT(f, 0xf0, 0x1c);
	/* An invalid set asks for the argument again; the keyboard still waits for it. */
	outb(f, DATA, 0xf0);
	outb(f, DATA, 0x07);
	EXPECT(f, 0xfa, 0xfe);
	outb(f, DATA, 0x01);
	EXPECT(f, 0xfa);
	outb(f, DATA, 0xf0);
	outb(f, DATA, 0x00);
	EXPECT(f, 0xfa, 0xfa, 0x01);
	/* Reset returns to set 2. */
	outb(f, DATA, 0xff);
	EXPECT(f, 0xfa, 0xaa);
	outb(f, DATA, 0xf0);
	outb(f, DATA, 0x00);
	EXPECT(f, 0xfa, 0xfa, 0x02);
}

static void test_argument_commands(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_KBD_INT);
	outb(f, DATA, 0xf3);
	outb(f, DATA, 0x80); /* bit 7 must be 0 */
	EXPECT(f, 0xfa, 0xfe);
	outb(f, DATA, 0x7f);
	EXPECT(f, 0xfa);
	/* A command byte in place of the LED argument runs as a command. */
	outb(f, DATA, 0xed);
	outb(f, DATA, 0xf2);
	EXPECT(f, 0xfa, 0xfa, 0xab, 0x83);
	outb(f, DATA, 0xed);
	outb(f, DATA, 0xff); /* a command, not an LED argument: reset */
	EXPECT(f, 0xfa, 0xfa, 0xaa);
	outb(f, DATA, 0xed);
	outb(f, DATA, 0x07);
	EXPECT(f, 0xfa, 0xfa);
}

static void test_scanning_disable_enable(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_KBD_INT);
	outb(f, DATA, 0xf5);
	EXPECT(f, 0xfa);
	INPUT(f, 0x1c);
	expect_empty(f);
	outb(f, DATA, 0xf4);
	EXPECT(f, 0xfa);
	INPUT(f, 0x1c);
	EXPECT(f, 0x1c);
	outb(f, DATA, 0xf5);
	outb(f, DATA, 0xf6); /* set default: scanning again */
	EXPECT(f, 0xfa, 0xfa);
	INPUT(f, 0x1b);
	EXPECT(f, 0x1b);
}

static void test_commands_clear_key_buffer(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_KBD_INT | CB_KBD_DIS);
	INPUT(f, 0x1c, 0x1b, 0x23);
	outb(f, DATA, 0xf4);
	write_ctr(f, CB_SYS | CB_KBD_INT);
	EXPECT(f, 0xfa); /* the buffered keys were dropped */
}

static void test_reply_goes_before_buffered_keys(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_KBD_INT | CB_KBD_DIS);
	INPUT(f, 0x1c, 0x1b);
	outb(f, DATA, 0xed);
	write_ctr(f, CB_SYS | CB_KBD_INT);
	EXPECT(f, 0xfa, 0x1c, 0x1b);
}

/* ---- keyboard buffer ------------------------------------------------------------------------- */

static void test_queue_overflow(void **state)
{
	struct fixture *f = *state;
	uint8_t keys[40];

	write_ctr(f, CB_SYS | CB_KBD_INT | CB_KBD_DIS); /* hold the bytes in the keyboard */
	for (unsigned i = 0; i < sizeof(keys); i++)
		keys[i] = (uint8_t)(0x10 + i);
	input(f, keys, sizeof(keys));
	expect_empty(f);
	write_ctr(f, CB_SYS | CB_KBD_INT);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(read_byte(f), keys[i]);
	assert_int_equal(read_byte(f), 0x00); /* overrun */
	expect_empty(f);
	/* Keys are accepted again once the overrun code is out. */
	INPUT(f, 0x1c);
	EXPECT(f, 0x1c);
}

static void test_queue_overflow_translated(void **state)
{
	struct fixture *f = *state;
	uint8_t keys[20];

	outb(f, CMD, 0xad);
	memset(keys, 0x1c, sizeof(keys));
	input(f, keys, sizeof(keys));
	outb(f, CMD, 0xae);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(read_byte(f), 0x1e);
	assert_int_equal(read_byte(f), 0xff); /* set 1 overrun */
	expect_empty(f);
}

static void test_overrun_only_once_while_full(void **state)
{
	struct fixture *f = *state;
	uint8_t keys[17];

	write_ctr(f, CB_SYS | CB_KBD_DIS);
	memset(keys, 0x1c, sizeof(keys));
	input(f, keys, sizeof(keys));
	write_ctr(f, CB_SYS); /* one byte moves to the output buffer, making room */
	INPUT(f, 0x1b);	      /* still discarded: the overrun code has not gone out */
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(read_byte(f), 0x1c);
	EXPECT(f, 0x00);
}

static void test_host_flood_of_commands_is_bounded(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < 10000; i++) {
		outb(f, DATA, 0xf2);
		outb(f, CMD, 0x20);
	}
	int n = flush(f);
	assert_true(n > 0 && n < 64);
	expect_empty(f);
	/* Still working afterwards. */
	outb(f, DATA, 0xee);
	EXPECT(f, 0xee);
}

/* ---- IRQ 1 ----------------------------------------------------------------------------------- */

static void test_irq1_raise_on_fill_lower_on_read(void **state)
{
	struct fixture *f = *state;

	INPUT(f, 0x1c);
	assert_int_equal(f->irq1.level, 1);
	assert_int_equal(f->irq1.raises, 1);
	assert_int_equal(inb(f, DATA), 0x1e);
	assert_int_equal(f->irq1.level, 0);

	/* Two bytes: reading the first lowers the line and the refill raises it again. */
	INPUT(f, 0xe0, 0x75);
	assert_int_equal(f->irq1.raises, 2);
	assert_int_equal(inb(f, DATA), 0xe0);
	assert_int_equal(f->irq1.level, 1);
	assert_int_equal(f->irq1.raises, 3);
	assert_int_equal(inb(f, DATA), 0x48);
	assert_int_equal(f->irq1.level, 0);
	assert_int_equal(f->irq12.raises, 0);
}

static void test_irq1_follows_enable_bit(void **state)
{
	struct fixture *f = *state;

	write_ctr(f, CB_SYS | CB_XLAT);
	INPUT(f, 0x1c);
	assert_true(status(f) & STS_OBF);
	assert_int_equal(f->irq1.level, 0);
	write_ctr(f, CB_SYS | CB_XLAT | CB_KBD_INT); /* the line follows the enable */
	assert_int_equal(f->irq1.level, 1);
	EXPECT(f, 0x1e);
	assert_int_equal(f->irq1.level, 0);
}

static void test_keyboard_disabled_holds_data(void **state)
{
	struct fixture *f = *state;

	outb(f, CMD, 0xad);
	INPUT(f, 0x1c);
	outb(f, DATA, 0xee); /* the keyboard answers, but the reply waits too */
	expect_empty(f);
	assert_int_equal(f->irq1.level, 0);
	assert_true(read_ctr(f) & CB_KBD_DIS); /* controller replies still come */
	outb(f, CMD, 0xae);
	assert_int_equal(f->irq1.level, 1);
	EXPECT(f, 0xee, 0x1e);
}

/* ---- hostile and odd accesses ---------------------------------------------------------------- */

static void test_read_empty_buffer_returns_last_byte(void **state)
{
	struct fixture *f = *state;

	INPUT(f, 0x1c);
	assert_int_equal(inb(f, DATA), 0x1e);
	assert_int_equal(inb(f, DATA), 0x1e);
	assert_int_equal(f->irq1.raises, 1);
	expect_empty(f);
}

static void test_wide_accesses(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	bus_read(&f->pio, CMD, 2, &v);
	assert_int_equal(v, 0xff00 | STS_INH | STS_SYS);
	bus_read(&f->pio, CMD, 4, &v);
	assert_int_equal(v, 0xffffff00u | STS_INH | STS_SYS);
	bus_write(&f->pio, CMD, 4, 0xffffff20); /* the low byte is the command */
	bus_read(&f->pio, DATA, 2, &v);
	assert_int_equal(v & 0xff, CB_XLAT | CB_AUX_DIS | CB_SYS | CB_KBD_INT);
	assert_int_equal(f->resets, 0);
}

static void test_kbd_input_null_and_empty(void **state)
{
	struct fixture *f = *state;

	i8042_kbd_input(f->kbc, NULL, 10);
	i8042_kbd_input(f->kbc, (const uint8_t *)"", 0);
	expect_empty(f);
}

static void test_attach_twice_refused(void **state)
{
	struct fixture *f = *state;
	struct i8042 *other = i8042_create((struct irq_line){0}, (struct irq_line){0}, NULL, NULL);

	assert_non_null(other);
	assert_true(i8042_attach(other, &f->pio) < 0);
	i8042_destroy(other);
	/* The first one still owns both ports. */
	outb(f, DATA, 0xee);
	EXPECT(f, 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_power_on_state),
	    T(test_a2_bit_follows_last_port_written),
	    T(test_linux_probe_sequence),
	    T(test_linux_aux_probe_without_device),
	    T(test_aux_irq12_only_when_enabled),
	    T(test_self_test_resets_command_byte),
	    T(test_controller_ram),
	    T(test_ports_and_test_inputs),
	    T(test_output_port_a20_stored),
	    T(test_output_port_obf_bits),
	    T(test_write_keyboard_output_buffer),
	    T(test_new_command_abandons_pending_one),
	    T(test_unknown_controller_commands_ignored),
	    T(test_reset_pulse),
	    T(test_reset_callback_may_reset_controller),
	    T(test_i8042_reset_restores_power_on),
	    T(test_translation_make_break),
	    T(test_translation_is_a_permutation),
	    T(test_translation_off_passes_set2),
	    T(test_translation_break_prefix_alone_gives_nothing),
	    T(test_keyboard_commands),
	    T(test_scan_code_set),
	    T(test_argument_commands),
	    T(test_scanning_disable_enable),
	    T(test_commands_clear_key_buffer),
	    T(test_reply_goes_before_buffered_keys),
	    T(test_queue_overflow),
	    T(test_queue_overflow_translated),
	    T(test_overrun_only_once_while_full),
	    T(test_host_flood_of_commands_is_bounded),
	    T(test_irq1_raise_on_fill_lower_on_read),
	    T(test_irq1_follows_enable_bit),
	    T(test_keyboard_disabled_holds_data),
	    T(test_read_empty_buffer_returns_last_byte),
	    T(test_wide_accesses),
	    T(test_kbd_input_null_and_empty),
	    T(test_attach_twice_refused),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
