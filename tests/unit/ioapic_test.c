/* 82093AA I/O APIC: register window, redirection entries, edge/level delivery, EOI, MSI format. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hostvisor/bus.h"
#include "hostvisor/ioapic.h"

#define BASE IOAPIC_DEFAULT_BASE
#define REGSEL (BASE + 0x00)
#define IOWIN (BASE + 0x10)
#define REDIR(pin) (0x10 + 2 * (pin))
#define MAX_MSGS 64

#define MASKED (1u << 16)
#define LEVEL (1u << 15)
#define REMOTE_IRR (1u << 14)
#define ACTIVE_LOW (1u << 13)
#define LOGICAL (1u << 11)
#define DM(mode) ((uint32_t)(mode) << 8)

struct msg {
	uint64_t addr;
	uint32_t data;
};

struct route {
	int calls;
	int pin;
	uint64_t addr;
	uint32_t data;
	bool masked;
};

struct fixture {
	struct bus mmio;
	struct ioapic *io;
	struct msg msgs[MAX_MSGS];
	int nmsgs;
	struct route route;
	int route_calls_per_pin[IOAPIC_PINS];
};

static void record_deliver(void *opaque, uint64_t addr, uint32_t data)
{
	struct fixture *f = opaque;

	assert_true(f->nmsgs < MAX_MSGS);
	f->msgs[f->nmsgs++] = (struct msg){ .addr = addr, .data = data };
}

static void record_route(void *opaque, int pin, uint64_t addr, uint32_t data, bool masked)
{
	struct fixture *f = opaque;

	assert_true(pin >= 0 && pin < IOAPIC_PINS);
	f->route = (struct route){ .calls = f->route.calls + 1,
				   .pin = pin,
				   .addr = addr,
				   .data = data,
				   .masked = masked };
	f->route_calls_per_pin[pin]++;
}

static const struct ioapic_ops ops = { .deliver = record_deliver, .route_changed = record_route };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(bus_init(&f->mmio, "mmio"), 0);
	f->io = ioapic_create(&ops, f, 0x5);
	assert_non_null(f->io);
	assert_int_equal(ioapic_attach(f->io, &f->mmio, BASE), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ioapic_destroy(f->io);
	bus_destroy(&f->mmio);
	free(f);
	return 0;
}

static void reg_write(struct fixture *f, uint8_t reg, uint32_t val)
{
	assert_true(bus_write(&f->mmio, REGSEL, 4, reg) >= 0);
	assert_true(bus_write(&f->mmio, IOWIN, 4, val) >= 0);
}

static uint32_t reg_read(struct fixture *f, uint8_t reg)
{
	uint64_t v;

	assert_true(bus_write(&f->mmio, REGSEL, 4, reg) >= 0);
	assert_true(bus_read(&f->mmio, IOWIN, 4, &v) >= 0);
	return (uint32_t)v;
}

static void set_entry(struct fixture *f, int pin, uint32_t low, uint8_t dest)
{
	reg_write(f, REDIR(pin) + 1, (uint32_t)dest << 24);
	reg_write(f, REDIR(pin), low);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(reg_read(f, 0x00), 0x05000000);
	assert_int_equal(reg_read(f, 0x01), 0x00170011);
	assert_int_equal(reg_read(f, 0x02), 0x05000000);
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		assert_int_equal(reg_read(f, REDIR(pin)), MASKED);
		assert_int_equal(reg_read(f, REDIR(pin) + 1), 0);
		/* create announced every route, masked */
		assert_int_equal(f->route_calls_per_pin[pin], 1);
	}
	assert_true(f->route.masked);
	assert_int_equal(f->nmsgs, 0);
}

static void test_id_ver_arb(void **state)
{
	struct fixture *f = *state;

	reg_write(f, 0x00, 0xffffffff);
	assert_int_equal(reg_read(f, 0x00), 0x0f000000);
	/* ARB is loaded from the ID when the ID is written; ARB itself is read-only. */
	assert_int_equal(reg_read(f, 0x02), 0x0f000000);
	reg_write(f, 0x02, 0x03000000);
	assert_int_equal(reg_read(f, 0x02), 0x0f000000);
	reg_write(f, 0x01, 0);
	assert_int_equal(reg_read(f, 0x01), 0x00170011);
	reg_write(f, 0x00, 0x0a000000);
	assert_int_equal(reg_read(f, 0x00), 0x0a000000);
	assert_int_equal(reg_read(f, 0x02), 0x0a000000);
	/* Reset restores the ID given at creation. */
	ioapic_reset(f->io);
	assert_int_equal(reg_read(f, 0x00), 0x05000000);
}

static void test_reserved_registers(void **state)
{
	struct fixture *f = *state;

	for (int reg = 0x03; reg < 0x10; reg++) {
		reg_write(f, (uint8_t)reg, 0xffffffff);
		assert_int_equal(reg_read(f, (uint8_t)reg), 0);
	}
	for (int reg = 0x40; reg < 0x100; reg++) {
		reg_write(f, (uint8_t)reg, 0xffffffff);
		assert_int_equal(reg_read(f, (uint8_t)reg), 0);
	}
	/* None of that reached an entry. */
	for (int pin = 0; pin < IOAPIC_PINS; pin++)
		assert_int_equal(reg_read(f, REDIR(pin)), MASKED);
}

static void test_redir_writable_bits(void **state)
{
	struct fixture *f = *state;

	reg_write(f, REDIR(7), 0xffffffff);
	/* Delivery status (12), remote IRR (14) and bits 31:17 are not writable. */
	assert_int_equal(reg_read(f, REDIR(7)), 0x0001afff);
	reg_write(f, REDIR(7) + 1, 0xffffffff);
	assert_int_equal(reg_read(f, REDIR(7) + 1), 0xff000000);
	reg_write(f, REDIR(7), 0);
	assert_int_equal(reg_read(f, REDIR(7)), 0);
	assert_int_equal(reg_read(f, REDIR(7) + 1), 0xff000000);
	/* Neighbours untouched. */
	assert_int_equal(reg_read(f, REDIR(6)), MASKED);
	assert_int_equal(reg_read(f, REDIR(8)), MASKED);
	assert_int_equal(reg_read(f, REDIR(23)), MASKED);
}

static void test_route_changed_on_every_write(void **state)
{
	struct fixture *f = *state;
	int calls = f->route.calls;

	reg_write(f, REDIR(4) + 1, 0x03000000);
	assert_int_equal(f->route.calls, calls + 1);
	assert_int_equal(f->route.pin, 4);
	assert_true(f->route.masked);
	reg_write(f, REDIR(4), 0x31 | LEVEL);
	assert_int_equal(f->route.calls, calls + 2);
	assert_int_equal(f->route.addr, 0xfee03000);
	assert_int_equal(f->route.data, 0xc031);
	assert_false(f->route.masked);
	/* Even a write that changes nothing is reported. */
	reg_write(f, REDIR(4), 0x31 | LEVEL);
	assert_int_equal(f->route.calls, calls + 3);
	ioapic_reset(f->io);
	assert_int_equal(f->route.calls, calls + 3 + IOAPIC_PINS);
	assert_true(f->route.masked);
}

static void test_edge_delivery(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 1, 0x30, 3);
	ioapic_set_irq(f->io, 1, 1);
	assert_int_equal(f->nmsgs, 1);
	assert_int_equal(f->msgs[0].addr, 0xfee03000);
	assert_int_equal(f->msgs[0].data, 0x4030);
	/* Held high: one message only. */
	ioapic_set_irq(f->io, 1, 1);
	assert_int_equal(f->nmsgs, 1);
	ioapic_set_irq(f->io, 1, 0);
	assert_int_equal(f->nmsgs, 1);
	ioapic_set_irq(f->io, 1, 1);
	ioapic_set_irq(f->io, 1, 0);
	assert_int_equal(f->nmsgs, 2);
	/* No remote IRR for edge entries; EOI does nothing. */
	assert_int_equal(reg_read(f, REDIR(1)) & REMOTE_IRR, 0);
	ioapic_eoi(f->io, 0x30);
	assert_int_equal(f->nmsgs, 2);
}

static void test_edge_masked_is_lost(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 2, 0x31 | MASKED, 0);
	ioapic_set_irq(f->io, 2, 1);
	ioapic_set_irq(f->io, 2, 0);
	assert_int_equal(f->nmsgs, 0);
	reg_write(f, REDIR(2), 0x31);
	assert_int_equal(f->nmsgs, 0);
	/* Unmasking while the pin is high is not an edge either. */
	ioapic_set_irq(f->io, 2, 1);
	assert_int_equal(f->nmsgs, 1);
	reg_write(f, REDIR(2), 0x31 | MASKED);
	reg_write(f, REDIR(2), 0x31);
	assert_int_equal(f->nmsgs, 1);
}

static void test_active_low(void **state)
{
	struct fixture *f = *state;

	/* An active-low edge pin: the input falling is the asserting edge. */
	ioapic_set_irq(f->io, 5, 1);
	set_entry(f, 5, 0x40 | ACTIVE_LOW, 0);
	ioapic_set_irq(f->io, 5, 1);
	assert_int_equal(f->nmsgs, 0);
	ioapic_set_irq(f->io, 5, 0);
	assert_int_equal(f->nmsgs, 1);
	ioapic_set_irq(f->io, 5, 1);
	assert_int_equal(f->nmsgs, 1);
	/* Active-low level: asserted while the input is low. */
	set_entry(f, 9, 0x41 | ACTIVE_LOW | LEVEL, 0);
	assert_int_equal(f->nmsgs, 2); /* pin 9 input is low: asserted */
	assert_int_equal(f->msgs[1].data, 0xc041);
	ioapic_set_irq(f->io, 9, 1);
	ioapic_eoi(f->io, 0x41);
	assert_int_equal(f->nmsgs, 2);
	assert_int_equal(reg_read(f, REDIR(9)) & REMOTE_IRR, 0);
}

static void test_level_remote_irr_and_eoi(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 10, 0x50 | LEVEL, 1);
	ioapic_set_irq(f->io, 10, 1);
	assert_int_equal(f->nmsgs, 1);
	assert_int_equal(f->msgs[0].data, 0xc050);
	assert_true(reg_read(f, REDIR(10)) & REMOTE_IRR);
	/* Remote IRR holds further messages, however the line moves. */
	ioapic_set_irq(f->io, 10, 0);
	ioapic_set_irq(f->io, 10, 1);
	assert_int_equal(f->nmsgs, 1);
	/* EOI with the line still asserted: sent again. */
	ioapic_eoi(f->io, 0x50);
	assert_int_equal(f->nmsgs, 2);
	assert_true(reg_read(f, REDIR(10)) & REMOTE_IRR);
	/* Remote IRR is read-only: writing the entry keeps it. */
	reg_write(f, REDIR(10), 0x50 | LEVEL);
	assert_true(reg_read(f, REDIR(10)) & REMOTE_IRR);
	assert_int_equal(f->nmsgs, 2);
	/* Deassert then EOI: cleared, nothing sent. */
	ioapic_set_irq(f->io, 10, 0);
	ioapic_eoi(f->io, 0x50);
	assert_int_equal(f->nmsgs, 2);
	assert_int_equal(reg_read(f, REDIR(10)) & REMOTE_IRR, 0);
	ioapic_set_irq(f->io, 10, 1);
	assert_int_equal(f->nmsgs, 3);
}

static void test_eoi_vector_matching(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 3, 0x60 | LEVEL, 0);
	set_entry(f, 4, 0x60 | LEVEL, 0);
	set_entry(f, 6, 0x61 | LEVEL, 0);
	ioapic_set_irq(f->io, 3, 1);
	ioapic_set_irq(f->io, 4, 1);
	ioapic_set_irq(f->io, 6, 1);
	assert_int_equal(f->nmsgs, 3);
	ioapic_set_irq(f->io, 3, 0);
	ioapic_set_irq(f->io, 4, 0);
	ioapic_eoi(f->io, 0x62);
	assert_true(reg_read(f, REDIR(3)) & REMOTE_IRR);
	/* One EOI clears every level entry with that vector. */
	ioapic_eoi(f->io, 0x60);
	assert_int_equal(reg_read(f, REDIR(3)) & REMOTE_IRR, 0);
	assert_int_equal(reg_read(f, REDIR(4)) & REMOTE_IRR, 0);
	assert_true(reg_read(f, REDIR(6)) & REMOTE_IRR);
	assert_int_equal(f->nmsgs, 3);
}

static void test_level_masked_then_unmasked(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 11, 0x70 | LEVEL | MASKED, 2);
	ioapic_set_irq(f->io, 11, 1);
	assert_int_equal(f->nmsgs, 0);
	assert_int_equal(reg_read(f, REDIR(11)) & REMOTE_IRR, 0);
	reg_write(f, REDIR(11), 0x70 | LEVEL);
	assert_int_equal(f->nmsgs, 1);
	assert_int_equal(f->msgs[0].addr, 0xfee02000);
	/* Masked with remote IRR set: the EOI still clears it, and nothing is sent. */
	reg_write(f, REDIR(11), 0x70 | LEVEL | MASKED);
	ioapic_eoi(f->io, 0x70);
	assert_int_equal(reg_read(f, REDIR(11)) & REMOTE_IRR, 0);
	assert_int_equal(f->nmsgs, 1);
	/* A level asserted and dropped while masked leaves no trace. */
	ioapic_set_irq(f->io, 11, 0);
	reg_write(f, REDIR(11), 0x70 | LEVEL);
	assert_int_equal(f->nmsgs, 1);
}

static void test_edge_switch_clears_remote_irr(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 12, 0x80 | LEVEL, 0);
	ioapic_set_irq(f->io, 12, 1);
	assert_true(reg_read(f, REDIR(12)) & REMOTE_IRR);
	/* The version-0x11 recovery: mask + edge, then level again. */
	ioapic_set_irq(f->io, 12, 0);
	reg_write(f, REDIR(12), 0x80 | MASKED);
	assert_int_equal(reg_read(f, REDIR(12)) & REMOTE_IRR, 0);
	reg_write(f, REDIR(12), 0x80 | LEVEL);
	assert_int_equal(f->nmsgs, 1);
	/* Edge -> level with the line asserted sends at once. */
	set_entry(f, 13, 0x81, 0);
	ioapic_set_irq(f->io, 13, 1);
	assert_int_equal(f->nmsgs, 2);
	reg_write(f, REDIR(13), 0x81 | LEVEL);
	assert_int_equal(f->nmsgs, 3);
	assert_true(reg_read(f, REDIR(13)) & REMOTE_IRR);
}

static void test_msi_format(void **state)
{
	struct fixture *f = *state;

	/* Logical destination: bit 2. */
	set_entry(f, 0, 0x90 | LOGICAL, 0x0f);
	ioapic_set_irq(f->io, 0, 1);
	assert_int_equal(f->msgs[0].addr, 0xfee0f004);
	assert_int_equal(f->msgs[0].data, 0x4090);
	/* Lowest priority: delivery mode 001 and the redirection hint, bit 3. */
	set_entry(f, 1, 0x91 | DM(1) | LOGICAL | LEVEL, 0xff);
	ioapic_set_irq(f->io, 1, 1);
	assert_int_equal(f->msgs[1].addr, 0xfeeff00c);
	assert_int_equal(f->msgs[1].data, 0xc191);
	set_entry(f, 2, 0x92 | DM(1), 0x12);
	ioapic_set_irq(f->io, 2, 1);
	assert_int_equal(f->msgs[2].addr, 0xfee12008);
	assert_int_equal(f->msgs[2].data, 0x4192);
	/* Full 8-bit physical destination. */
	set_entry(f, 3, 0x93, 0xfe);
	ioapic_set_irq(f->io, 3, 1);
	assert_int_equal(f->msgs[3].addr, 0xfeefe000);
}

static void test_nmi_init_smi_extint_are_edge(void **state)
{
	struct fixture *f = *state;
	static const int modes[] = { 2, 4, 5, 7 };

	for (int i = 0; i < 4; i++) {
		int pin = 14 + i;

		/* Programmed level: treated as edge, trigger bit clear in the message. */
		set_entry(f, pin, 0xa0 | DM(modes[i]) | LEVEL, 0);
		ioapic_set_irq(f->io, pin, 1);
		assert_int_equal(f->nmsgs, i + 1);
		assert_int_equal(f->msgs[i].data, 0x40a0 | DM(modes[i]));
		assert_int_equal(reg_read(f, REDIR(pin)) & REMOTE_IRR, 0);
		ioapic_set_irq(f->io, pin, 1);
		assert_int_equal(f->nmsgs, i + 1);
	}
}

static void test_reserved_delivery_modes(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 18, 0xb0 | DM(3), 0);
	assert_true(f->route.masked);
	ioapic_set_irq(f->io, 18, 1);
	set_entry(f, 19, 0xb1 | DM(6) | LEVEL, 0);
	assert_true(f->route.masked);
	ioapic_set_irq(f->io, 19, 1);
	assert_int_equal(f->nmsgs, 0);
	assert_int_equal(reg_read(f, REDIR(19)) & REMOTE_IRR, 0);
	/* Fixing the mode makes the asserted level pin send. */
	reg_write(f, REDIR(19), 0xb1 | LEVEL);
	assert_int_equal(f->nmsgs, 1);
}

static void test_illegal_vector_sent_as_programmed(void **state)
{
	struct fixture *f = *state;

	/* Vectors below 16 are the receiving local APIC's to reject (SDM 11.5.3). */
	set_entry(f, 20, 0x02, 0);
	ioapic_set_irq(f->io, 20, 1);
	assert_int_equal(f->nmsgs, 1);
	assert_int_equal(f->msgs[0].data, 0x4002);
	set_entry(f, 21, 0x00 | LEVEL, 0);
	ioapic_set_irq(f->io, 21, 1);
	assert_int_equal(f->nmsgs, 2);
	ioapic_eoi(f->io, 0x00);
	assert_int_equal(f->nmsgs, 3);
}

static void test_bad_pins_ignored(void **state)
{
	struct fixture *f = *state;

	for (int pin = 0; pin < IOAPIC_PINS; pin++)
		set_entry(f, pin, 0x20 + pin, 0);
	ioapic_set_irq(f->io, -1, 1);
	ioapic_set_irq(f->io, IOAPIC_PINS, 1);
	ioapic_set_irq(f->io, 1 << 30, 1);
	assert_int_equal(f->nmsgs, 0);
	/* Any non-zero level is high. */
	ioapic_set_irq(f->io, 23, 7);
	assert_int_equal(f->nmsgs, 1);
	assert_int_equal(f->msgs[0].data, 0x4037);
}

static void test_mmio_sizes_and_offsets(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	/* IOREGSEL: a byte write selects; reads return the index, bits 31:8 zero. */
	assert_true(bus_write(&f->mmio, REGSEL, 1, 0x01) >= 0);
	assert_true(bus_read(&f->mmio, REGSEL, 4, &v) >= 0);
	assert_int_equal(v, 0x01);
	assert_true(bus_write(&f->mmio, REGSEL, 4, 0xffffff01) >= 0);
	assert_true(bus_read(&f->mmio, REGSEL, 4, &v) >= 0);
	assert_int_equal(v, 0x01);
	/* Byte and word reads of IOWIN see its byte lanes; an 8-byte read sees zero above. */
	assert_true(bus_read(&f->mmio, IOWIN + 2, 1, &v) >= 0);
	assert_int_equal(v, 0x17);
	assert_true(bus_read(&f->mmio, IOWIN, 2, &v) >= 0);
	assert_int_equal(v, 0x0011);
	assert_true(bus_read(&f->mmio, IOWIN, 8, &v) >= 0);
	assert_int_equal(v, 0x00170011);
	assert_true(bus_read(&f->mmio, IOWIN + 3, 2, &v) >= 0);
	assert_int_equal(v, 0x0000);
	assert_true(bus_read(&f->mmio, BASE + 0x0e, 4, &v) >= 0);
	assert_int_equal(v, 0x00110000);
	/* Other offsets read 0, the last byte of the window included. */
	assert_true(bus_read(&f->mmio, BASE + 0x20, 4, &v) >= 0);
	assert_int_equal(v, 0);
	assert_true(bus_read(&f->mmio, BASE + 0xfff, 8, &v) >= 0);
	assert_int_equal(v, 0);
	/* IOWIN writes other than a dword at 0x10 are ignored. */
	assert_true(bus_write(&f->mmio, REGSEL, 4, REDIR(0)) >= 0);
	assert_true(bus_write(&f->mmio, IOWIN, 1, 0x20) >= 0);
	assert_true(bus_write(&f->mmio, IOWIN, 2, 0x20) >= 0);
	assert_true(bus_write(&f->mmio, IOWIN, 8, 0x20) >= 0);
	assert_true(bus_write(&f->mmio, IOWIN + 1, 4, 0x20) >= 0);
	assert_true(bus_write(&f->mmio, BASE + 0x14, 4, 0x20) >= 0);
	assert_int_equal(reg_read(f, REDIR(0)), MASKED);
	/* Writes at IOREGSEL + 1..3 do not select. */
	assert_true(bus_write(&f->mmio, REGSEL + 1, 1, 0x02) >= 0);
	assert_true(bus_read(&f->mmio, REGSEL, 1, &v) >= 0);
	assert_int_equal(v, REDIR(0));
}

static void test_no_eoi_register(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	set_entry(f, 8, 0x55 | LEVEL, 0);
	ioapic_set_irq(f->io, 8, 1);
	ioapic_set_irq(f->io, 8, 0);
	assert_true(bus_write(&f->mmio, BASE + 0x40, 4, 0x55) >= 0);
	assert_true(reg_read(f, REDIR(8)) & REMOTE_IRR);
	assert_true(bus_read(&f->mmio, BASE + 0x40, 4, &v) >= 0);
	assert_int_equal(v, 0);
}

static void test_reset_keeps_lines(void **state)
{
	struct fixture *f = *state;

	set_entry(f, 22, 0x66 | LEVEL, 0);
	ioapic_set_irq(f->io, 22, 1);
	assert_int_equal(f->nmsgs, 1);
	ioapic_reset(f->io);
	assert_int_equal(reg_read(f, REDIR(22)), MASKED);
	/* The device still holds its line up: the new entry sends at once. */
	set_entry(f, 22, 0x67 | LEVEL, 0);
	assert_int_equal(f->nmsgs, 2);
	assert_int_equal(f->msgs[1].data, 0xc067);
}

static void test_attach_conflict(void **state)
{
	struct fixture *f = *state;
	struct ioapic *io = ioapic_create(NULL, NULL, 0xff);

	assert_non_null(io);
	assert_int_equal(ioapic_attach(io, &f->mmio, BASE + 0x800), -EEXIST);
	/* NULL ops: nothing to call, nothing breaks; the ID keeps 4 bits. */
	ioapic_set_irq(io, 0, 1);
	ioapic_eoi(io, 0);
	ioapic_destroy(io);
	ioapic_destroy(NULL);
}

static void test_eoi_storm_is_bounded(void **state)
{
	struct fixture *f = *state;

	/* Every pin level, same vector, all asserted: one EOI re-sends each exactly once. */
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		set_entry(f, pin, 0x77 | LEVEL, 0);
		ioapic_set_irq(f->io, pin, 1);
	}
	assert_int_equal(f->nmsgs, IOAPIC_PINS);
	ioapic_eoi(f->io, 0x77);
	assert_int_equal(f->nmsgs, 2 * IOAPIC_PINS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_reset_state),
		T(test_id_ver_arb),
		T(test_reserved_registers),
		T(test_redir_writable_bits),
		T(test_route_changed_on_every_write),
		T(test_edge_delivery),
		T(test_edge_masked_is_lost),
		T(test_active_low),
		T(test_level_remote_irr_and_eoi),
		T(test_eoi_vector_matching),
		T(test_level_masked_then_unmasked),
		T(test_edge_switch_clears_remote_irr),
		T(test_msi_format),
		T(test_nmi_init_smi_extint_are_edge),
		T(test_reserved_delivery_modes),
		T(test_illegal_vector_sent_as_programmed),
		T(test_bad_pins_ignored),
		T(test_mmio_sizes_and_offsets),
		T(test_no_eoi_register),
		T(test_reset_keeps_lines),
		T(test_attach_conflict),
		T(test_eoi_storm_is_bounded),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
