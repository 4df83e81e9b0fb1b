/*
 * NS16550A UART, from the National Semiconductor PC16550D datasheet (June 1995); section
 * numbers below are that datasheet's "8. Registers" subsections and Table II / Table IV.
 *
 * Model choices:
 * - Transmission is instantaneous: a THR write goes to the backend (or, in loop mode, to the
 *   receiver) within the register write, so the THR/TX FIFO and the transmitter shift register
 *   are empty whenever the guest can look: LSR THRE and TEMT always read 1. The THR-empty
 *   interrupt still follows the datasheet: a THR write clears it (the IRQ line drops) and the
 *   transmitter emptying sets it again (the line rises), so each write is a fresh edge.
 * - Reception is paced by the receiver's room, not the baud rate: the backend offers bytes and
 *   we take what fits in the RX FIFO (16 bytes, 1 in 16450 mode). When the guest makes room we
 *   call chardev_input_ready(). So the host never overruns us; overrun happens only in loop mode.
 * - The character timeout (8.5 FCR, "FIFO interrupt mode operation") uses four character times
 *   computed from the divisor and LCR at the PC's 1.8432 MHz clock, on an event loop timer.
 * - On the PC, OUT2 gates the INTR output onto the ISA bus. In loop mode the modem control
 *   outputs (and so OUT2) are forced inactive (8.7 MCR bit 4), so no interrupt reaches the PIC
 *   in loop mode even though the chip's internal interrupt logic keeps working.
 * - Break in loop mode: the datasheet says break acts on SOUT only. We loop a break through to
 *   the receiver (one zero character with BI, 8.6 LSR bit 4) so that drivers' break and
 *   "error in RX FIFO" paths can be exercised; this is a deliberate extension.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "hostvisor/uart.h"

#define UART_NPORTS 8
#define UART_FIFO_SIZE 16
#define UART_CLOCK_HZ 1843200ull /* the PC's UART crystal; baud = clock / (16 * divisor) */

/* Register offsets (Table II). DLAB (LCR bit 7) turns offsets 0 and 1 into DLL and DLM. */
#define UART_RBR_THR 0
#define UART_IER 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_ERBFI 0x01 /* received data available (and character timeout) */
#define UART_IER_ETBEI 0x02 /* transmitter holding register empty */
#define UART_IER_ELSI 0x04  /* receiver line status */
#define UART_IER_EDSSI 0x08 /* modem status */
#define UART_IER_MASK 0x0f

/* IIR (8.4, Table III): bit 0 clear when an interrupt is pending, bits 1-3 its identity. */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_RLS 0x06
#define UART_IIR_RDA 0x04
#define UART_IIR_CTI 0x0c
#define UART_IIR_THRE 0x02
#define UART_IIR_MSR 0x00
#define UART_IIR_FIFO_ENABLED 0xc0

#define UART_FCR_ENABLE 0x01
#define UART_FCR_RX_RESET 0x02
#define UART_FCR_TX_RESET 0x04
#define UART_FCR_DMA_MODE 0x08
#define UART_FCR_TRIGGER 0xc0

#define UART_LCR_WLS 0x03
#define UART_LCR_STB 0x04
#define UART_LCR_PEN 0x08
#define UART_LCR_BREAK 0x40
#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_PE 0x04
#define UART_LSR_FE 0x08
#define UART_LSR_BI 0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_LSR_RX_FIFO_ERR 0x80
#define UART_LSR_CHAR_ERRORS (UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)
#define UART_LSR_LINE_ERRORS (UART_LSR_OE | UART_LSR_CHAR_ERRORS)

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_DELTAS 0x0f
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

struct uart_rx_char {
	uint8_t data;
	uint8_t errors; /* PE/FE/BI that go with this character (8.6: revealed at the FIFO top) */
};

struct uart {
	pthread_mutex_t lock;
	struct evloop *loop;
	struct irq_line irq;
	struct chardev *chr;
	struct timer *timeout_timer;

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;	    /* FIFO enable, DMA mode and trigger bits as last programmed */
	uint8_t lsr_errors; /* OE, and PE/FE/BI of characters that reached the top; LSR read */
	uint8_t msr;	    /* input lines (bits 4-7) and their deltas (bits 0-3) */
	uint8_t rbr_last;   /* what RBR reads when the receiver is empty */

	struct uart_rx_char rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;

	bool thre_pending;    /* THR-empty interrupt (8.4: cleared by IIR read or THR write) */
	bool timeout_pending; /* character timeout indication */
	uint64_t timeout_deadline;
	bool rx_throttled; /* we refused backend input: tell the backend when room appears */
	int irq_level;
};

/* ---- interrupts ---- */

static bool uart_fifo_enabled(const struct uart *uart)
{
	return uart->fcr & UART_FCR_ENABLE;
}

static unsigned uart_rx_capacity(const struct uart *uart)
{
	return uart_fifo_enabled(uart) ? UART_FIFO_SIZE : 1;
}

/* 8.5 FCR bits 6-7: 1, 4, 8 or 14 characters. */
static unsigned uart_rx_trigger_level(const struct uart *uart)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	return levels[(uart->fcr & UART_FCR_TRIGGER) >> 6];
}

static bool uart_rx_data_interrupt(const struct uart *uart)
{
	if (!uart_fifo_enabled(uart))
		return uart->rx_count > 0;
	return uart->rx_count >= uart_rx_trigger_level(uart);
}

/* The highest-priority enabled interrupt (Table III), or UART_IIR_NO_INT. */
static uint8_t uart_pending_interrupt(const struct uart *uart)
{
	if ((uart->ier & UART_IER_ELSI) && (uart->lsr_errors & UART_LSR_LINE_ERRORS))
		return UART_IIR_RLS;
	if ((uart->ier & UART_IER_ERBFI) && uart->timeout_pending)
		return UART_IIR_CTI;
	if ((uart->ier & UART_IER_ERBFI) && uart_rx_data_interrupt(uart))
		return UART_IIR_RDA;
	if ((uart->ier & UART_IER_ETBEI) && uart->thre_pending)
		return UART_IIR_THRE;
	if ((uart->ier & UART_IER_EDSSI) && (uart->msr & UART_MSR_DELTAS))
		return UART_IIR_MSR;
	return UART_IIR_NO_INT;
}

/* Level on the ISA bus: INTR gated by the OUT2 output, which loop mode forces inactive. */
static void uart_update_irq(struct uart *uart)
{
	bool out2 = (uart->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) == UART_MCR_OUT2;
	int level = out2 && uart_pending_interrupt(uart) != UART_IIR_NO_INT;

	if (level == uart->irq_level)
		return;
	uart->irq_level = level;
	irq_set(&uart->irq, level);
}

/* ---- modem status ---- */

/* 8.7 MCR bit 4: in loop mode DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
static uint8_t uart_modem_inputs(const struct uart *uart)
{
	uint8_t in = 0;

	if (uart->mcr & UART_MCR_LOOP) {
		if (uart->mcr & UART_MCR_RTS)
			in |= UART_MSR_CTS;
		if (uart->mcr & UART_MCR_DTR)
			in |= UART_MSR_DSR;
		if (uart->mcr & UART_MCR_OUT1)
			in |= UART_MSR_RI;
		if (uart->mcr & UART_MCR_OUT2)
			in |= UART_MSR_DCD;
		return in;
	}
	/* A backend is a connected modem that is always ready; no backend is an empty connector. */
	return uart->chr ? (UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD) : 0;
}

/* 8.8 MSR: deltas for CTS, DSR, DCD on any change, TERI when RI goes from on to off. */
static void uart_update_modem_status(struct uart *uart)
{
	uint8_t old = uart->msr & ~UART_MSR_DELTAS;
	uint8_t now = uart_modem_inputs(uart);
	uint8_t changed = old ^ now;
	uint8_t deltas = 0;

	if (changed & UART_MSR_CTS)
		deltas |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		deltas |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
		deltas |= UART_MSR_TERI;
	if (changed & UART_MSR_DCD)
		deltas |= UART_MSR_DDCD;
	uart->msr = now | (uart->msr & UART_MSR_DELTAS) | deltas;
}

/* ---- receiver ---- */

/* Four character times: start bit, data bits, parity, stop bits (1, 1.5 or 2), in half bits. */
static uint64_t uart_timeout_ns(const struct uart *uart)
{
	unsigned divisor = (unsigned)uart->dlm << 8 | uart->dll;
	unsigned word = 5 + (uart->lcr & UART_LCR_WLS);
	unsigned half_bits = 2 * (1 + word + !!(uart->lcr & UART_LCR_PEN));

	if (uart->lcr & UART_LCR_STB)
		half_bits += word == 5 ? 3 : 4;
	else
		half_bits += 2;
	/* A zero divisor is not a valid setting; treat it as the counter's full period. */
	if (divisor == 0)
		divisor = 65536;
	return 4ull * half_bits * 16 * divisor * 1000000000ull / (2 * UART_CLOCK_HZ);
}

/*
 * 8.5 FCR, FIFO interrupt mode: the timer restarts whenever a character is received or read;
 * the indication needs at least one character in the FIFO.
 */
static void uart_restart_timeout(struct uart *uart)
{
	if (!uart_fifo_enabled(uart) || uart->rx_count == 0) {
		timer_del(uart->timeout_timer);
		return;
	}
	uart->timeout_deadline = evloop_now_ns(uart->loop) + uart_timeout_ns(uart);
	timer_mod(uart->timeout_timer, uart->timeout_deadline);
}

static void uart_timeout_fire(void *opaque)
{
	struct uart *uart = opaque;

	pthread_mutex_lock(&uart->lock);
	if (!uart_fifo_enabled(uart) || uart->rx_count == 0) {
		pthread_mutex_unlock(&uart->lock);
		return;
	}
	if (evloop_now_ns(uart->loop) < uart->timeout_deadline) {
		/* Restarted after this firing was dispatched. */
		timer_mod(uart->timeout_timer, uart->timeout_deadline);
		pthread_mutex_unlock(&uart->lock);
		return;
	}
	uart->timeout_pending = true;
	uart_update_irq(uart);
	pthread_mutex_unlock(&uart->lock);
}

/* Room appeared: let the backend offer what it held back. */
static void uart_rx_room_made(struct uart *uart)
{
	if (!uart->rx_throttled || uart->rx_count >= uart_rx_capacity(uart))
		return;
	if (uart->mcr & UART_MCR_LOOP)
		return; /* the serial input is disconnected until loop mode ends */
	uart->rx_throttled = false;
	chardev_input_ready(uart->chr);
}

static void uart_rx_clear(struct uart *uart)
{
	uart->rx_head = 0;
	uart->rx_count = 0;
	uart->timeout_pending = false;
	timer_del(uart->timeout_timer);
	uart_rx_room_made(uart);
}

/*
 * A character arrives from the shift register. When there is no room it is an overrun (8.6 LSR
 * bit 1): in FIFO mode the FIFO keeps its contents and the new character is lost; in 16450 mode
 * the new character overwrites RBR.
 */
static void uart_rx_push(struct uart *uart, uint8_t data, uint8_t errors)
{
	unsigned tail;

	if (uart->rx_count >= uart_rx_capacity(uart)) {
		uart->lsr_errors |= UART_LSR_OE;
		if (!uart_fifo_enabled(uart))
			uart->rx[uart->rx_head] = (struct uart_rx_char){ data, errors };
		return;
	}
	tail = (uart->rx_head + uart->rx_count) % UART_FIFO_SIZE;
	uart->rx[tail] = (struct uart_rx_char){ data, errors };
	if (uart->rx_count++ == 0)
		uart->lsr_errors |= errors;
	/* 8.5: a timeout that has occurred stays until the CPU reads a character. */
	if (!uart->timeout_pending)
		uart_restart_timeout(uart);
}

static uint8_t uart_rx_pop(struct uart *uart)
{
	if (uart->rx_count == 0)
		return uart->rbr_last;
	uart->rbr_last = uart->rx[uart->rx_head].data;
	uart->rx_head = (uart->rx_head + 1) % UART_FIFO_SIZE;
	uart->rx_count--;
	if (uart->rx_count)
		uart->lsr_errors |= uart->rx[uart->rx_head].errors;
	uart->timeout_pending = false;
	uart_restart_timeout(uart);
	uart_rx_room_made(uart);
	return uart->rbr_last;
}

static bool uart_rx_fifo_has_error(const struct uart *uart)
{
	for (unsigned i = 0; i < uart->rx_count; i++)
		if (uart->rx[(uart->rx_head + i) % UART_FIFO_SIZE].errors)
			return true;
	return false;
}

/* Backend input, on the I/O thread. Takes what fits; the rest waits for chardev_input_ready. */
static size_t uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart *uart = opaque;
	size_t taken = 0;

	pthread_mutex_lock(&uart->lock);
	if (!(uart->mcr & UART_MCR_LOOP)) {
		while (taken < len && uart->rx_count < uart_rx_capacity(uart))
			uart_rx_push(uart, buf[taken++], 0);
	}
	if (taken < len)
		uart->rx_throttled = true;
	uart_update_irq(uart);
	pthread_mutex_unlock(&uart->lock);
	return taken;
}

/* ---- transmitter ---- */

static void uart_transmit(struct uart *uart, uint8_t data)
{
	/* 8.4: a THR write clears the THR-empty interrupt; the line drops if it was the cause. */
	uart->thre_pending = false;
	uart_update_irq(uart);
	if (uart->mcr & UART_MCR_LOOP)
		uart_rx_push(uart, data, 0);
	else if (uart->chr)
		chardev_write(uart->chr, &data, 1);
	/* The character went out at once: the transmitter is empty again. */
	uart->thre_pending = true;
}

/* ---- registers ---- */

static uint8_t uart_read_iir(struct uart *uart)
{
	uint8_t id = uart_pending_interrupt(uart);

	/* 8.4: reading IIR clears a THR-empty interrupt if that is what it reports. */
	if (id == UART_IIR_THRE)
		uart->thre_pending = false;
	return id | (uart_fifo_enabled(uart) ? UART_IIR_FIFO_ENABLED : 0);
}

static uint8_t uart_read_lsr(struct uart *uart)
{
	uint8_t lsr = UART_LSR_THRE | UART_LSR_TEMT | uart->lsr_errors;

	if (uart->rx_count)
		lsr |= UART_LSR_DR;
	if (uart_fifo_enabled(uart) && uart_rx_fifo_has_error(uart))
		lsr |= UART_LSR_RX_FIFO_ERR;
	/* 8.6: OE, PE, FE and BI are cleared by reading LSR. */
	uart->lsr_errors = 0;
	return lsr;
}

static uint8_t uart_read_msr(struct uart *uart)
{
	uint8_t msr = uart->msr;

	uart->msr &= ~UART_MSR_DELTAS;
	return msr;
}

static uint8_t uart_read_reg(struct uart *uart, unsigned reg)
{
	bool dlab = uart->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		return dlab ? uart->dll : uart_rx_pop(uart);
	case UART_IER:
		return dlab ? uart->dlm : uart->ier;
	case UART_IIR_FCR:
		return uart_read_iir(uart);
	case UART_LCR:
		return uart->lcr;
	case UART_MCR:
		return uart->mcr;
	case UART_LSR:
		return uart_read_lsr(uart);
	case UART_MSR:
		return uart_read_msr(uart);
	default:
		return uart->scr;
	}
}

/* 8.9 IER: enabling ETBEI while THR is empty raises the THR-empty interrupt at once. */
static void uart_write_ier(struct uart *uart, uint8_t value)
{
	uint8_t old = uart->ier;

	uart->ier = value & UART_IER_MASK;
	if ((uart->ier & UART_IER_ETBEI) && !(old & UART_IER_ETBEI))
		uart->thre_pending = true;
}

/*
 * 8.5 FCR: switching the FIFOs on or off empties them; the other bits are programmed only while
 * bit 0 is set. The reset bits self-clear. The transmit FIFO is always empty here.
 */
static void uart_write_fcr(struct uart *uart, uint8_t value)
{
	bool enable = value & UART_FCR_ENABLE;

	if (enable != uart_fifo_enabled(uart)) {
		uart->fcr = enable ? UART_FCR_ENABLE : 0;
		uart_rx_clear(uart);
	}
	if (!enable)
		return;
	uart->fcr = value & (UART_FCR_ENABLE | UART_FCR_DMA_MODE | UART_FCR_TRIGGER);
	if (value & UART_FCR_RX_RESET)
		uart_rx_clear(uart);
	uart_rx_room_made(uart);
}

static void uart_write_lcr(struct uart *uart, uint8_t value)
{
	bool break_starts = (value & UART_LCR_BREAK) && !(uart->lcr & UART_LCR_BREAK);

	uart->lcr = value;
	/* See the file comment: in loop mode a break reaches our own receiver as one 0 with BI. */
	if (break_starts && (uart->mcr & UART_MCR_LOOP))
		uart_rx_push(uart, 0, UART_LSR_BI);
}

static void uart_write_mcr(struct uart *uart, uint8_t value)
{
	uart->mcr = value & UART_MCR_MASK;
	uart_update_modem_status(uart);
	uart_rx_room_made(uart);
}

static void uart_write_reg(struct uart *uart, unsigned reg, uint8_t value)
{
	bool dlab = uart->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			uart->dll = value;
		else
			uart_transmit(uart, value);
		break;
	case UART_IER:
		if (dlab)
			uart->dlm = value;
		else
			uart_write_ier(uart, value);
		break;
	case UART_IIR_FCR:
		uart_write_fcr(uart, value);
		break;
	case UART_LCR:
		uart_write_lcr(uart, value);
		break;
	case UART_MCR:
		uart_write_mcr(uart, value);
		break;
	case UART_SCR:
		uart->scr = value;
		break;
	default:
		/* LSR and MSR: the datasheet reserves writes for factory test; ignored. */
		break;
	}
}

/*
 * An 8-bit ISA device: a wider access becomes byte cycles at consecutive ports, as the chipset
 * splits it. Bytes past our 8 ports read as all-ones and are not written.
 */
static uint64_t uart_pio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct uart *uart = opaque;
	uint64_t value = 0;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&uart->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t port = offset + i;
		uint8_t byte = port < UART_NPORTS ? uart_read_reg(uart, (unsigned)port) : 0xff;

		value |= (uint64_t)byte << (8 * i);
		uart_update_irq(uart);
	}
	pthread_mutex_unlock(&uart->lock);
	return value;
}

static void uart_pio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct uart *uart = opaque;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&uart->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t port = offset + i;

		if (port >= UART_NPORTS)
			break;
		uart_write_reg(uart, (unsigned)port, (uint8_t)(value >> (8 * i)));
		uart_update_irq(uart);
	}
	pthread_mutex_unlock(&uart->lock);
}

/* ---- life cycle ---- */

/* Table IV (master reset). SCR and the divisor latch are not affected. */
static void uart_reset_locked(struct uart *uart)
{
	uart->ier = 0;
	uart->fcr = 0;
	uart->lcr = 0;
	uart->mcr = 0;
	uart->lsr_errors = 0;
	uart->thre_pending = false;
	uart_rx_clear(uart);
	uart->msr = uart_modem_inputs(uart);
	uart_update_irq(uart);
}

void uart_reset(struct uart *uart)
{
	pthread_mutex_lock(&uart->lock);
	uart_reset_locked(uart);
	pthread_mutex_unlock(&uart->lock);
}

struct uart *uart_create(struct evloop *loop, struct irq_line irq, struct chardev *chr)
{
	struct uart *uart;

	if (!loop)
		return NULL;
	uart = calloc(1, sizeof(*uart));
	if (!uart)
		return NULL;
	uart->loop = loop;
	uart->irq = irq;
	uart->chr = chr;
	uart->timeout_timer = timer_new(loop, uart_timeout_fire, uart);
	if (!uart->timeout_timer) {
		free(uart);
		return NULL;
	}
	pthread_mutex_init(&uart->lock, NULL);
	uart_reset_locked(uart);
	if (chr)
		chardev_set_receiver(chr, uart_receive, uart);
	return uart;
}

/* The bus keeps its registration: destroy the bus too, after the vCPUs stopped. */
void uart_destroy(struct uart *uart)
{
	if (!uart)
		return;
	if (uart->chr)
		chardev_set_receiver(uart->chr, NULL, NULL);
	timer_free(uart->timeout_timer);
	pthread_mutex_destroy(&uart->lock);
	free(uart);
}

int uart_attach(struct uart *uart, struct bus *pio, uint16_t base)
{
	int id = bus_register(pio, "uart", base, UART_NPORTS, uart_pio_read, uart_pio_write, uart);

	return id < 0 ? id : 0;
}
