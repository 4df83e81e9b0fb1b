/*
 * COM1 as an NS16550A (PC16550D datasheet, National Semiconductor): scratch register, divisor
 * latch, IER, IIR with the THR-empty interrupt, FIFO enable, loopback with the modem signals,
 * and test lines written only after LSR says THRE. The test script checks the lines arrive whole.
 */
#include "guest.h"

const char guest_name[] = "uart";

#define THR (COM1 + 0)
#define RBR (COM1 + 0)
#define DLL (COM1 + 0)
#define DLM (COM1 + 1)
#define IER (COM1 + 1)
#define IIR (COM1 + 2)
#define FCR (COM1 + 2)
#define LCR (COM1 + 3)
#define MCR (COM1 + 4)
#define LSR (COM1 + 5)
#define MSR (COM1 + 6)
#define SCR (COM1 + 7)

#define LCR_8N1 0x03
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_DTR_RTS 0x03
#define MCR_LOOP 0x10
#define IER_ETBEI 0x02
#define IIR_NO_INT 0x01
#define IIR_THRE 0x02
#define IIR_FIFO_BITS 0xc0
#define POLLS 100000

static const char *const test_lines[] = {
    "UART line 1: The quick brown fox jumps over the lazy dog 0123456789",
    "UART line 2: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ abcdefghijklmnopqrstuvwxyz",
    "UART line 3: ABCDEFGHIJKLMNOPQRSTUVWXYZ end",
};

static void check_scratch(void)
{
	static const uint8_t values[] = {0x00, 0xff, 0x55, 0xaa, 0x01, 0x80, 0x5a, 0xa5};

	for (unsigned i = 0; i < sizeof(values); i++) {
		outb(SCR, values[i]);
		uint8_t got = inb(SCR);

		if (got != values[i]) {
			fail("uart.scratch", "wrote 0x%x, read 0x%x", values[i], got);
			return;
		}
	}
	pass("uart.scratch");
}

static void check_divisor_latch(void)
{
	outb(LCR, LCR_DLAB | LCR_8N1);
	outb(DLL, 0x0c); /* 9600 baud */
	outb(DLM, 0x00);
	uint8_t lo = inb(DLL), hi = inb(DLM);

	outb(DLL, 0x01); /* back to 115200 */
	outb(DLM, 0x00);
	outb(LCR, LCR_8N1);
	uint8_t lcr = inb(LCR);

	check(lo == 0x0c && hi == 0 && lcr == LCR_8N1, "uart.dlab",
	      "divisor read 0x%x%02x, LCR 0x%x", hi, lo, lcr);
}

/* IER bits 7:4 read as zero; with ETBEI set and THR empty, IIR reports THRE, and reading IIR
 * clears that interrupt (datasheet, Table II "Interrupt Control Functions"). */
static void check_ier_iir(void)
{
	outb(IER, 0xff);
	uint8_t ier = inb(IER);

	outb(IER, 0);
	uint8_t idle = inb(IIR);

	check(ier == 0x0f && (idle & 0x0f) == IIR_NO_INT, "uart.ier", "IER read 0x%x, IIR 0x%x",
	      ier, idle);
	outb(IER, IER_ETBEI);
	uint8_t first = inb(IIR), second = inb(IIR);

	outb(IER, 0);
	check((first & 0x0f) == IIR_THRE && (second & 0x0f) == IIR_NO_INT, "uart.iir.thre",
	      "IIR 0x%x then 0x%x with ETBEI", first, second);
}

static void check_fifo(void)
{
	outb(FCR, 0x07); /* enable, clear both FIFOs */
	uint8_t on = inb(IIR);

	outb(FCR, 0x00);
	uint8_t off = inb(IIR);

	check((on & IIR_FIFO_BITS) == IIR_FIFO_BITS && (off & IIR_FIFO_BITS) == 0, "uart.fifo",
	      "IIR 0x%x with FIFOs on, 0x%x off", on, off);
}

/* Loopback (datasheet, MCR bit 4): the modem outputs show in MSR bits 7:4, THR comes back. */
static void check_loopback(void)
{
	outb(MCR, MCR_LOOP);
	uint8_t none = inb(MSR) & 0xf0;

	outb(MCR, MCR_LOOP | 0x0f);
	uint8_t all = inb(MSR) & 0xf0;

	/* Still in loopback: report only after MCR is restored, or the report loops back too. */
	while (inb(LSR) & LSR_DR)
		(void)inb(RBR);
	outb(THR, 0xa5);
	int polls = 0;

	while (!(inb(LSR) & LSR_DR) && ++polls < POLLS)
		;
	uint8_t got = inb(RBR);

	outb(MCR, MCR_DTR_RTS);
	check(none == 0 && all == 0xf0, "uart.loopback.msr", "MSR 0x%x and 0x%x", none, all);
	check(polls < POLLS && got == 0xa5, "uart.loopback.data", "DR after %d polls, read 0x%x",
	      polls, got);
}

/* Writes a line byte by byte, each after THRE; returns false if THRE never came. */
static bool write_line_after_thre(const char *s)
{
	bool ok = true;

	for (;; s++) {
		char c = *s ? *s : '\n';
		int polls = 0;

		while (!(inb(LSR) & LSR_THRE) && ++polls < POLLS)
			;
		ok &= polls < POLLS;
		if (c == '\n')
			outb(THR, '\r');
		outb(THR, (uint8_t)c);
		if (!*s)
			return ok;
	}
}

static void check_thre_lines(void)
{
	bool ok = true;

	for (unsigned i = 0; i < sizeof(test_lines) / sizeof(test_lines[0]); i++)
		ok &= write_line_after_thre(test_lines[i]);
	int polls = 0;

	while (!(inb(LSR) & LSR_TEMT) && ++polls < POLLS)
		;
	check(ok && polls < POLLS, "uart.thre", "THRE or TEMT never set");
}

void guest_main(void)
{
	check_scratch();
	check_divisor_latch();
	check_ier_iir();
	check_fifo();
	check_loopback();
	check_thre_lines();
}
