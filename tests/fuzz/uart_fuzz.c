/*
 * Fuzzes the NS16550A through a real port bus, with a real chardev over a socketpair so that host
 * input, flow control and the resume timer are in play. Each input is a sequence of operations:
 *   0: port write  [offset+size] [8 value bytes]
 *   1: port read   [offset+size]
 *   2: host input  [n] [n bytes]
 *   3: clock       [2 bytes: advance in units of 4 us .. ~260 ms]
 *   4: the I/O thread runs what is due now
 *   5: the host reads the UART's output
 *   6: uart_reset
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_evloop.h"
#include "irq_recorder.h"
#include "hostvisor/bus.h"
#include "hostvisor/chardev.h"
#include "hostvisor/uart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint8_t take_byte(struct cursor *c)
{
	if (!c->left)
		return 0;
	c->left--;
	return *c->p++;
}

static uint64_t take_u64(struct cursor *c)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)take_byte(c) << (8 * i);
	return v;
}

/* Offsets 0-9 (two past the UART, to reach unclaimed ports) and sizes 1, 2, 4, 8. */
static void decode_access(uint8_t b, uint64_t *addr, unsigned *size)
{
	*addr = UART_COM1_BASE + (b & 0x0f) % 10;
	*size = 1u << ((b >> 4) & 3);
}

static void drain_output(int peer)
{
	uint8_t buf[4096];

	for (int i = 0; i < 64 && recv(peer, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
}

static void run_op(struct cursor *c, struct bus *bus, struct evloop *loop, struct uart *uart,
		   int chr_fd, int peer)
{
	uint8_t buf[64];
	uint64_t addr, value;
	unsigned size, n;

	switch (take_byte(c) % 7) {
	case 0:
		decode_access(take_byte(c), &addr, &size);
		bus_write(bus, addr, size, take_u64(c));
		break;
	case 1:
		decode_access(take_byte(c), &addr, &size);
		bus_read(bus, addr, size, &value);
		break;
	case 2:
		n = take_byte(c) % sizeof(buf);
		for (unsigned i = 0; i < n; i++)
			buf[i] = take_byte(c);
		if (n && send(peer, buf, n, MSG_DONTWAIT) > 0)
			fake_evloop_fire_fd(loop, chr_fd, EPOLLIN);
		break;
	case 3:
		value = take_byte(c);
		value |= (uint64_t)take_byte(c) << 8;
		fake_evloop_advance(loop, value * 4000);
		break;
	case 4:
		fake_evloop_advance(loop, 0);
		break;
	case 5:
		drain_output(peer);
		break;
	default:
		uart_reset(uart);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };
	struct irq_recorder rec = { 0 };
	struct evloop *loop = evloop_create();
	struct chardev *chr;
	struct uart *uart;
	struct bus bus;
	int sv[2];

	if (!loop)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		evloop_destroy(loop);
		return 0;
	}
	bus_init(&bus, "pio");
	chr = chardev_open_fd(loop, sv[0], sv[0]);
	uart = uart_create(loop, irq_recorder_line(&rec), chr);
	if (uart && uart_attach(uart, &bus, UART_COM1_BASE) == 0) {
		/* Bounded: every operation consumes at least one byte. */
		while (c.left)
			run_op(&c, &bus, loop, uart, sv[0], sv[1]);
	}
	uart_destroy(uart);
	chardev_close(chr);
	close(sv[1]);
	bus_destroy(&bus);
	evloop_destroy(loop);
	return 0;
}
