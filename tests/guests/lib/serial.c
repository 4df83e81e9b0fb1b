/*
 * Console output on COM1 (NS16550A: THR at +0, LSR at +5 with THRE = bit 5). Waiting for THRE is
 * bounded so that a broken UART model cannot hang a guest: the byte is written anyway.
 */
#include "guest.h"

#define LSR 5
#define LSR_THRE 0x20
#define THRE_POLLS 100000

void serial_putc(char c)
{
	if (c == '\n')
		serial_putc('\r');
	for (int i = 0; i < THRE_POLLS; i++) {
		if (inb(COM1 + LSR) & LSR_THRE)
			break;
	}
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}
