/*
 * NS16550A UART against a real port bus, a recording irq line, the fake clock, and a real chardev
 * over a socketpair (chardev_open_fd), so flow control runs through the code the VM uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_evloop.h"
#include "irq_recorder.h"
#include "hostvisor/bus.h"
#include "hostvisor/chardev.h"
#include "hostvisor/uart.h"

#define BASE UART_COM1_BASE

#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI 0x04
#define IER_EDSSI 0x08

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_FIFO_ERR 0x80

#define FCR_ENABLE 0x01
#define FCR_RX_RESET 0x02
#define FCR_TX_RESET 0x04

/* 9600 baud, 8N1: ten bits per character, 4 characters = 40 / 9600 s. */
#define DIVISOR_9600 12
#define FOUR_CHARS_9600_NS (40ull * 1000000000ull / 9600)

struct fixture {
	struct evloop *loop;
	struct bus bus;
	struct irq_recorder rec;
	struct uart *uart;
	struct chardev *chr;
	int chr_fd; /* the chardev's end of the socketpair */
	int peer;   /* the "terminal" end */
};

static int setup_with_backend(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	f->loop = evloop_create();
	assert_non_null(f->loop);
	assert_int_equal(bus_init(&f->bus, "pio"), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->chr_fd = sv[0];
	f->peer = sv[1];
	f->chr = chardev_open_fd(f->loop, sv[0], sv[0]);
	assert_non_null(f->chr);
	f->uart = uart_create(f->loop, irq_recorder_line(&f->rec), f->chr);
	assert_non_null(f->uart);
	assert_int_equal(uart_attach(f->uart, &f->bus, BASE), 0);
	*state = f;
	return 0;
}

static int setup_without_backend(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->loop = evloop_create();
	assert_int_equal(bus_init(&f->bus, "pio"), 0);
	f->chr_fd = f->peer = -1;
	f->uart = uart_create(f->loop, irq_recorder_line(&f->rec), NULL);
	assert_non_null(f->uart);
	assert_int_equal(uart_attach(f->uart, &f->bus, BASE), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uart_destroy(f->uart);
	chardev_close(f->chr);
	if (f->peer >= 0)
		close(f->peer);
	bus_destroy(&f->bus);
	evloop_destroy(f->loop);
	free(f);
	return 0;
}

static uint8_t inb(struct fixture *f, unsigned reg)
{
	uint64_t v;

	assert_int_not_equal(bus_read(&f->bus, BASE + reg, 1, &v), BUS_UNCLAIMED);
	return (uint8_t)v;
}

static void outb(struct fixture *f, unsigned reg, uint8_t v)
{
	assert_int_not_equal(bus_write(&f->bus, BASE + reg, 1, v), BUS_UNCLAIMED);
}

static void set_divisor(struct fixture *f, uint16_t divisor, uint8_t lcr)
{
	outb(f, LCR, 0x80);
	outb(f, DLL, divisor & 0xff);
	outb(f, DLM, divisor >> 8);
	outb(f, LCR, lcr);
}

/* The host types: bytes reach the chardev's socket and the event loop reports it readable. */
static void host_types(struct fixture *f, const void *buf, size_t len)
{
	assert_int_equal(write(f->peer, buf, len), (ssize_t)len);
	fake_evloop_fire_fd(f->loop, f->chr_fd, EPOLLIN);
}

/* Lets the I/O thread run whatever is due now (the chardev's resume after input_ready). */
static void io_thread_runs(struct fixture *f)
{
	fake_evloop_advance(f->loop, 0);
}

static size_t host_reads(struct fixture *f, uint8_t *buf, size_t len)
{
	ssize_t n = recv(f->peer, buf, len, MSG_DONTWAIT);

	return n < 0 ? 0 : (size_t)n;
}

/* ---- reset values and plain registers ---- */

static void test_reset_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(f, IER), 0);
	assert_int_equal(inb(f, IIR), 0x01);
	assert_int_equal(inb(f, LCR), 0);
	assert_int_equal(inb(f, MCR), 0);
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
	/* A backend reports CTS, DSR and DCD asserted, RI off, no deltas. */
	assert_int_equal(inb(f, MSR), 0xb0);
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(f->rec.sets, 0);
}

static void test_no_backend_modem_lines_off(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(f, MSR), 0);
	outb(f, THR, 'a'); /* dropped, harmless */
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
	outb(f, IER, IER_ETBEI);
	outb(f, MCR, MCR_OUT2);
	assert_int_equal(inb(f, IIR), 0x02);
}

static void test_scratch_and_masks(void **state)
{
	struct fixture *f = *state;

	outb(f, SCR, 0x5a);
	assert_int_equal(inb(f, SCR), 0x5a);
	outb(f, IER, 0xff);
	assert_int_equal(inb(f, IER), 0x0f);
	outb(f, MCR, 0xff);
	assert_int_equal(inb(f, MCR), 0x1f);
	outb(f, LCR, 0x1b);
	assert_int_equal(inb(f, LCR), 0x1b);
	/* LSR and MSR writes are ignored. */
	outb(f, MCR, 0);
	outb(f, LSR, 0xff);
	outb(f, MSR, 0x00);
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, MSR) & 0xf0, 0xb0);
}

static void test_divisor_latch(void **state)
{
	struct fixture *f = *state;
	uint8_t out[4];

	outb(f, IER, 0x05);
	outb(f, LCR, 0x83);
	outb(f, DLL, 0x34);
	outb(f, DLM, 0x12);
	assert_int_equal(inb(f, DLL), 0x34);
	assert_int_equal(inb(f, DLM), 0x12);
	assert_int_equal(inb(f, LCR), 0x83);
	/* Nothing was transmitted and IER kept its value. */
	assert_int_equal(host_reads(f, out, sizeof(out)), 0);
	outb(f, LCR, 0x03);
	assert_int_equal(inb(f, IER), 0x05);
	outb(f, LCR, 0x80);
	assert_int_equal(inb(f, DLL), 0x34);
}

static void test_wide_accesses_split_into_bytes(void **state)
{
	struct fixture *f = *state;
	uint64_t v;

	outb(f, LCR, 0x80);
	bus_write(&f->bus, BASE, 2, 0x0c01);
	assert_int_equal(inb(f, DLL), 0x01);
	assert_int_equal(inb(f, DLM), 0x0c);
	outb(f, LCR, 0x03);
	outb(f, SCR, 0x77);
	/* MSR, SCR, then two bytes past the UART. */
	bus_read(&f->bus, BASE + 6, 4, &v);
	assert_int_equal(v, 0xffff77b0);
	bus_write(&f->bus, BASE + 7, 8, 0x1122334455667788ull);
	assert_int_equal(inb(f, SCR), 0x88);
	bus_read(&f->bus, BASE + 3, 8, &v);
	assert_int_equal(v & 0xff, 0x03);
}

/* ---- transmitter ---- */

static void test_transmit_goes_to_backend(void **state)
{
	struct fixture *f = *state;
	uint8_t out[8];

	outb(f, THR, 'h');
	outb(f, THR, 'i');
	assert_int_equal(inb(f, LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	assert_int_equal(host_reads(f, out, sizeof(out)), 2);
	assert_memory_equal(out, "hi", 2);
}

static void test_thre_on_etbei_enable(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_OUT2);
	assert_int_equal(inb(f, IIR), 0x01);
	outb(f, IER, IER_ETBEI);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(inb(f, IIR), 0x02);
	/* Reading IIR while THRE is the source clears it. */
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(inb(f, IIR), 0x01);
	/* Rewriting IER with ETBEI still set is not an enable edge. */
	outb(f, IER, IER_ETBEI | IER_ERBFI);
	assert_int_equal(inb(f, IIR), 0x01);
	/* Off and on again is. */
	outb(f, IER, 0);
	outb(f, IER, IER_ETBEI);
	assert_int_equal(inb(f, IIR), 0x02);
}

static void test_thre_after_each_write(void **state)
{
	struct fixture *f = *state;
	uint8_t out[4];

	outb(f, MCR, MCR_OUT2);
	outb(f, IER, IER_ETBEI);
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(f->rec.raises, 1);
	/* Write after the IIR read: the transmitter empties and interrupts again. */
	outb(f, THR, 'a');
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(f->rec.raises, 2);
	/* Write while THRE is still pending: the write clears it, so the line makes a new edge. */
	outb(f, THR, 'b');
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(f->rec.raises, 3);
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(inb(f, IIR), 0x01);
	assert_int_equal(host_reads(f, out, sizeof(out)), 2);
	/* Disabling ETBEI drops the request. */
	outb(f, THR, 'c');
	assert_int_equal(f->rec.level, 1);
	outb(f, IER, 0);
	assert_int_equal(f->rec.level, 0);
}

static void test_thre_not_cleared_by_iir_when_not_source(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_OUT2);
	outb(f, IER, IER_ETBEI | IER_ERBFI);
	host_types(f, "z", 1);
	/* Received data outranks THRE; reading IIR then must not clear THRE. */
	assert_int_equal(inb(f, IIR), 0x04);
	assert_int_equal(inb(f, RBR), 'z');
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(inb(f, IIR), 0x01);
}

static void test_irq_set_only_on_change(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_OUT2);
	outb(f, SCR, 1);
	outb(f, LCR, 3);
	inb(f, LSR);
	assert_int_equal(f->rec.sets, 0);
	outb(f, IER, IER_ETBEI);
	assert_int_equal(f->rec.sets, 1);
	outb(f, IER, IER_ETBEI | IER_EDSSI);
	outb(f, SCR, 2);
	assert_int_equal(f->rec.sets, 1);
	inb(f, IIR);
	assert_int_equal(f->rec.sets, 2);
	assert_int_equal(f->rec.level, 0);
}

/* ---- OUT2 gate and loop mode ---- */

static void test_out2_gates_irq(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, IER_ETBEI);
	assert_int_equal(f->rec.level, 0);
	/* The interrupt is pending inside the chip all the same. */
	outb(f, MCR, MCR_DTR | MCR_RTS);
	assert_int_equal(f->rec.level, 0);
	outb(f, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	assert_int_equal(f->rec.level, 1);
	outb(f, MCR, MCR_DTR | MCR_RTS);
	assert_int_equal(f->rec.level, 0);
	/* Loop mode forces the OUT2 output inactive: no interrupt on the bus. */
	outb(f, MCR, MCR_OUT2 | MCR_LOOP);
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(inb(f, IIR) & 0x0f, 0x02);
	outb(f, IER, 0);
	outb(f, MCR, MCR_OUT2);
	assert_int_equal(f->rec.level, 0);
}

static void test_loop_modem_lines(void **state)
{
	struct fixture *f = *state;

	/* Linux's probe: LOOP | OUT2 | RTS must read back CTS | DCD. */
	outb(f, MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
	assert_int_equal(inb(f, MSR) & 0xf0, 0x90);
	outb(f, MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
	assert_int_equal(inb(f, MSR), 0x60 | 0x0b); /* DSR, RI; DCTS, DDSR, DDCD */
	/* RI going off is a trailing edge: TERI. */
	outb(f, MCR, MCR_LOOP | MCR_DTR);
	assert_int_equal(inb(f, MSR), 0x20 | 0x04);
	/* RI going on is not. */
	outb(f, MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
	assert_int_equal(inb(f, MSR), 0x60);
	/* Leaving loop mode: back to the backend's CTS, DSR, DCD. */
	outb(f, MCR, 0);
	assert_int_equal(inb(f, MSR), 0xb0 | 0x01 | 0x08 | 0x04);
	assert_int_equal(inb(f, MSR), 0xb0);
}

static void test_modem_status_interrupt(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, IER_EDSSI);
	outb(f, MCR, MCR_OUT2);
	assert_int_equal(inb(f, IIR), 0x01);
	outb(f, MCR, MCR_LOOP | MCR_RTS);
	assert_int_equal(inb(f, IIR), 0x00);
	/* IIR does not clear it; reading MSR does. */
	assert_int_equal(inb(f, IIR), 0x00);
	inb(f, MSR);
	assert_int_equal(inb(f, IIR), 0x01);
	/* The delta shows on the bus once out of loop mode with OUT2 set. */
	outb(f, MCR, MCR_OUT2);
	assert_int_equal(f->rec.level, 1);
	inb(f, MSR);
	assert_int_equal(f->rec.level, 0);
}

static void test_loopback_data(void **state)
{
	struct fixture *f = *state;
	uint8_t out[4];

	outb(f, MCR, MCR_LOOP);
	outb(f, THR, 0x42);
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, RBR), 0x42);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
	/* Nothing went out to the host. */
	assert_int_equal(host_reads(f, out, sizeof(out)), 0);
}

static void test_loopback_overrun_16450(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_LOOP);
	outb(f, IER, IER_ELSI | IER_ERBFI);
	outb(f, THR, 1);
	outb(f, THR, 2);
	assert_int_equal(inb(f, IIR), 0x06);
	assert_int_equal(inb(f, LSR), LSR_OE | LSR_DR | LSR_THRE | LSR_TEMT);
	/* OE is cleared by the read; in 16450 mode the new character replaced the old. */
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, IIR), 0x04);
	assert_int_equal(inb(f, RBR), 2);
}

static void test_loopback_overrun_fifo(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, FCR_ENABLE);
	outb(f, MCR, MCR_LOOP);
	for (int i = 0; i < 17; i++)
		outb(f, THR, (uint8_t)i);
	assert_int_equal(inb(f, LSR) & LSR_OE, LSR_OE);
	assert_int_equal(inb(f, LSR) & LSR_OE, 0);
	/* The FIFO kept its 16 characters; the 17th was lost. */
	for (int i = 0; i < 16; i++)
		assert_int_equal(inb(f, RBR), i);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
}

static void test_loopback_break_and_fifo_error(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, FCR_ENABLE);
	outb(f, MCR, MCR_LOOP);
	outb(f, IER, IER_ELSI);
	outb(f, THR, 'a');
	outb(f, LCR, 0x43); /* break on */
	outb(f, LCR, 0x43); /* still on: no second break character */
	outb(f, LCR, 0x03);
	/* BI shows only when the break character reaches the top; bit 7 while it is in the FIFO. */
	assert_int_equal(inb(f, IIR) & 0x0f, 0x01);
	assert_int_equal(inb(f, LSR), LSR_FIFO_ERR | LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, RBR), 'a');
	assert_int_equal(inb(f, IIR) & 0x0f, 0x06);
	assert_int_equal(inb(f, LSR), LSR_FIFO_ERR | LSR_BI | LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, IIR) & 0x0f, 0x01);
	assert_int_equal(inb(f, RBR), 0);
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
}

static void test_input_held_in_loop_mode(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_LOOP);
	host_types(f, "q", 1);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
	outb(f, MCR, 0);
	io_thread_runs(f);
	assert_int_equal(inb(f, LSR) & LSR_DR, LSR_DR);
	assert_int_equal(inb(f, RBR), 'q');
}

/* ---- receiver, FIFO, flow control ---- */

static void test_receive_16450_mode(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_OUT2);
	outb(f, IER, IER_ERBFI);
	host_types(f, "abc", 3);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(inb(f, IIR), 0x04);
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, RBR), 'a');
	assert_int_equal(f->rec.level, 0);
	/* The held bytes come on the I/O thread after the guest made room; no overrun. */
	io_thread_runs(f);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(inb(f, RBR), 'b');
	io_thread_runs(f);
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, RBR), 'c');
	io_thread_runs(f);
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
	/* An empty receiver reads the last character again. */
	assert_int_equal(inb(f, RBR), 'c');
}

static void test_flow_control_no_loss(void **state)
{
	struct fixture *f = *state;
	uint8_t in[200], got[200];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	outb(f, FCR, FCR_ENABLE | 0xc0);
	host_types(f, in, sizeof(in));
	for (int round = 0; round < 1000 && n < sizeof(got); round++) {
		while ((inb(f, LSR) & LSR_DR) && n < sizeof(got))
			got[n++] = inb(f, RBR);
		io_thread_runs(f);
	}
	assert_int_equal(n, sizeof(in));
	assert_memory_equal(got, in, sizeof(in));
	assert_int_equal(inb(f, LSR) & LSR_OE, 0);
}

static void test_fifo_takes_16(void **state)
{
	struct fixture *f = *state;
	uint8_t in[20];

	memset(in, 'x', sizeof(in));
	outb(f, FCR, FCR_ENABLE);
	assert_int_equal(inb(f, IIR), 0xc1);
	host_types(f, in, sizeof(in));
	for (int i = 0; i < 16; i++)
		assert_int_equal(inb(f, RBR), 'x');
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
	io_thread_runs(f);
	for (int i = 0; i < 4; i++)
		assert_int_equal(inb(f, RBR), 'x');
	assert_int_equal(inb(f, LSR) & (LSR_DR | LSR_OE), 0);
}

static void test_fifo_trigger_levels(void **state)
{
	struct fixture *f = *state;
	static const struct {
		uint8_t bits;
		unsigned level;
	} triggers[] = { { 0x00, 1 }, { 0x40, 4 }, { 0x80, 8 }, { 0xc0, 14 } };
	uint8_t in[16];

	memset(in, 'y', sizeof(in));
	outb(f, IER, IER_ERBFI);
	for (size_t t = 0; t < 4; t++) {
		outb(f, FCR, FCR_ENABLE | FCR_RX_RESET | triggers[t].bits);
		assert_int_equal(inb(f, LSR) & LSR_DR, 0);
		if (triggers[t].level > 1) {
			host_types(f, in, triggers[t].level - 1);
			assert_int_equal(inb(f, IIR), 0xc1);
		}
		host_types(f, in, 1);
		assert_int_equal(inb(f, IIR), 0xc4);
		/* Reading one drops below the trigger (level 1: the FIFO is empty). */
		inb(f, RBR);
		assert_int_equal(inb(f, IIR), 0xc1);
	}
}

static void test_fcr_resets_and_mode_switch(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, FCR_ENABLE);
	host_types(f, "abcd", 4);
	outb(f, FCR, FCR_ENABLE | FCR_TX_RESET);
	assert_int_equal(inb(f, LSR) & LSR_DR, LSR_DR);
	outb(f, FCR, FCR_ENABLE | FCR_RX_RESET);
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
	host_types(f, "ef", 2);
	/* Leaving FIFO mode empties the FIFO; IIR bits 6-7 follow FCR bit 0. */
	outb(f, FCR, 0);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
	assert_int_equal(inb(f, IIR), 0x01);
	/* Bits other than 0 are not programmed while bit 0 is clear. */
	outb(f, FCR, 0xc0);
	outb(f, FCR, FCR_ENABLE);
	outb(f, IER, IER_ERBFI);
	host_types(f, "g", 1);
	assert_int_equal(inb(f, IIR), 0xc4); /* trigger level 1 */
	/* Entering FIFO mode empties the receiver too. */
	outb(f, FCR, 0);
	host_types(f, "h", 1);
	outb(f, FCR, FCR_ENABLE);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
}

static void test_character_timeout(void **state)
{
	struct fixture *f = *state;

	set_divisor(f, DIVISOR_9600, 0x03);
	outb(f, FCR, FCR_ENABLE | 0xc0);
	outb(f, IER, IER_ERBFI);
	outb(f, MCR, MCR_OUT2);
	host_types(f, "abc", 3);
	assert_int_equal(inb(f, IIR), 0xc1);
	fake_evloop_advance(f->loop, FOUR_CHARS_9600_NS - 1000);
	assert_int_equal(inb(f, IIR), 0xc1);
	fake_evloop_advance(f->loop, 1000);
	assert_int_equal(inb(f, IIR), 0xcc);
	assert_int_equal(f->rec.level, 1);
	/* IIR does not clear it; reading a character does, and restarts the timer. */
	assert_int_equal(inb(f, IIR), 0xcc);
	assert_int_equal(inb(f, RBR), 'a');
	assert_int_equal(inb(f, IIR), 0xc1);
	assert_int_equal(f->rec.level, 0);
	fake_evloop_advance(f->loop, FOUR_CHARS_9600_NS);
	assert_int_equal(inb(f, IIR), 0xcc);
	inb(f, RBR);
	inb(f, RBR);
	/* Empty FIFO: no timeout. */
	fake_evloop_advance(f->loop, 10 * FOUR_CHARS_9600_NS);
	assert_int_equal(inb(f, IIR), 0xc1);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_timeout_restarted_by_new_character(void **state)
{
	struct fixture *f = *state;

	set_divisor(f, DIVISOR_9600, 0x03);
	outb(f, FCR, FCR_ENABLE | 0xc0);
	outb(f, IER, IER_ERBFI);
	host_types(f, "a", 1);
	fake_evloop_advance(f->loop, FOUR_CHARS_9600_NS / 2);
	host_types(f, "b", 1);
	fake_evloop_advance(f->loop, FOUR_CHARS_9600_NS / 2 + 1000);
	assert_int_equal(inb(f, IIR), 0xc1);
	fake_evloop_advance(f->loop, FOUR_CHARS_9600_NS / 2);
	assert_int_equal(inb(f, IIR), 0xcc);
	/* A new character after the timeout occurred does not clear it. */
	host_types(f, "c", 1);
	assert_int_equal(inb(f, IIR), 0xcc);
}

static void test_timeout_follows_line_settings(void **state)
{
	struct fixture *f = *state;
	/* 5 data bits, parity, 1.5 stop bits: 1 + 5 + 1 + 1.5 = 8.5 bits; divisor 1. */
	uint64_t four_chars = 4ull * 85 * 16 * 1000000000ull / (10 * 1843200ull);

	set_divisor(f, 1, 0x0c);
	outb(f, FCR, FCR_ENABLE | 0x40);
	outb(f, IER, IER_ERBFI);
	host_types(f, "a", 1);
	fake_evloop_advance(f->loop, four_chars - 10);
	assert_int_equal(inb(f, IIR), 0xc1);
	fake_evloop_advance(f->loop, 10);
	assert_int_equal(inb(f, IIR), 0xcc);
	/* Reaching the trigger level: the timeout keeps priority while it is flagged. */
	host_types(f, "bcd", 3);
	assert_int_equal(inb(f, IIR), 0xcc);
	inb(f, RBR);
	assert_int_equal(inb(f, IIR), 0xc1);
	host_types(f, "e", 1);
	assert_int_equal(inb(f, IIR), 0xc4);
}

static void test_no_timeout_in_16450_mode(void **state)
{
	struct fixture *f = *state;

	set_divisor(f, DIVISOR_9600, 0x03);
	outb(f, IER, IER_ERBFI);
	host_types(f, "a", 1);
	fake_evloop_advance(f->loop, 10 * FOUR_CHARS_9600_NS);
	assert_int_equal(inb(f, IIR), 0x04);
	assert_int_equal(fake_evloop_pending(f->loop), 0);
}

static void test_zero_divisor_is_bounded(void **state)
{
	struct fixture *f = *state;

	set_divisor(f, 0, 0x3f);
	outb(f, FCR, FCR_ENABLE | 0xc0);
	outb(f, IER, IER_ERBFI);
	host_types(f, "a", 1);
	fake_evloop_advance(f->loop, 1000000000ull);
	assert_int_equal(inb(f, IIR), 0xc1);
	fake_evloop_advance(f->loop, 60ull * 1000000000ull);
	assert_int_equal(inb(f, IIR), 0xcc);
}

/* ---- priorities ---- */

static void test_interrupt_priorities(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, IER_ERBFI | IER_ETBEI | IER_ELSI | IER_EDSSI);
	/* Loop mode: an overrun (line status), data, THRE, and modem deltas all at once. */
	outb(f, MCR, MCR_LOOP | MCR_RTS);
	outb(f, THR, 1);
	outb(f, THR, 2);
	assert_int_equal(inb(f, IIR), 0x06);
	inb(f, LSR);
	assert_int_equal(inb(f, IIR), 0x04);
	inb(f, RBR);
	assert_int_equal(inb(f, IIR), 0x02);
	assert_int_equal(inb(f, IIR), 0x00);
	inb(f, MSR);
	assert_int_equal(inb(f, IIR), 0x01);
}

static void test_disabled_sources_do_not_interrupt(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_LOOP | MCR_RTS);
	outb(f, THR, 1);
	outb(f, THR, 2);
	assert_int_equal(inb(f, IIR), 0x01);
	outb(f, IER, IER_EDSSI);
	assert_int_equal(inb(f, IIR), 0x00);
}

/* ---- reset ---- */

static void test_uart_reset(void **state)
{
	struct fixture *f = *state;

	set_divisor(f, 0x1234, 0x1b);
	outb(f, SCR, 0x99);
	outb(f, FCR, FCR_ENABLE);
	outb(f, IER, 0x0f);
	outb(f, MCR, MCR_OUT2);
	host_types(f, "ab", 2);
	assert_int_equal(f->rec.level, 1);
	uart_reset(f->uart);
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(inb(f, IER), 0);
	assert_int_equal(inb(f, IIR), 0x01);
	assert_int_equal(inb(f, LCR), 0);
	assert_int_equal(inb(f, MCR), 0);
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, MSR), 0xb0);
	/* Scratch and divisor are not in the reset table. */
	assert_int_equal(inb(f, SCR), 0x99);
	outb(f, LCR, 0x80);
	assert_int_equal(inb(f, DLL), 0x34);
	assert_int_equal(inb(f, DLM), 0x12);
}

static void test_attach_conflict(void **state)
{
	struct fixture *f = *state;
	struct uart *other = uart_create(f->loop, irq_recorder_line(&f->rec), NULL);

	assert_non_null(other);
	assert_int_equal(uart_attach(other, &f->bus, BASE + 4), -EEXIST);
	assert_int_equal(uart_attach(other, &f->bus, UART_COM2_BASE), 0);
	assert_int_equal(bus_unregister(&f->bus, UART_COM2_BASE, other), 0);
	uart_destroy(other);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_with_backend, teardown)
#define T0(fn) cmocka_unit_test_setup_teardown(fn, setup_without_backend, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_values),
		T0(test_no_backend_modem_lines_off),
		T(test_scratch_and_masks),
		T(test_divisor_latch),
		T(test_wide_accesses_split_into_bytes),
		T(test_transmit_goes_to_backend),
		T(test_thre_on_etbei_enable),
		T(test_thre_after_each_write),
		T(test_thre_not_cleared_by_iir_when_not_source),
		T(test_irq_set_only_on_change),
		T(test_out2_gates_irq),
		T(test_loop_modem_lines),
		T(test_modem_status_interrupt),
		T(test_loopback_data),
		T(test_loopback_overrun_16450),
		T(test_loopback_overrun_fifo),
		T(test_loopback_break_and_fifo_error),
		T(test_input_held_in_loop_mode),
		T(test_receive_16450_mode),
		T(test_flow_control_no_loss),
		T(test_fifo_takes_16),
		T(test_fifo_trigger_levels),
		T(test_fcr_resets_and_mode_switch),
		T(test_character_timeout),
		T(test_timeout_restarted_by_new_character),
		T(test_timeout_follows_line_settings),
		T(test_no_timeout_in_16450_mode),
		T(test_zero_divisor_is_bounded),
		T(test_interrupt_priorities),
		T(test_disabled_sources_do_not_interrupt),
		T(test_uart_reset),
		T0(test_attach_conflict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
