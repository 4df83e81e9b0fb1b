/* A small printf onto COM1: %s %c %d %u %x %p, the l and ll modifiers, and a zero-padded width. */
#include "guest.h"

static void print_unsigned(uint64_t v, unsigned base, int width, char pad)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v && n < (int)sizeof(buf));
	while (width-- > n)
		serial_putc(pad);
	while (n)
		serial_putc(buf[--n]);
}

static void print_signed(int64_t v, int width, char pad)
{
	if (v < 0) {
		serial_putc('-');
		print_unsigned(-(uint64_t)v, 10, width - 1, pad);
		return;
	}
	print_unsigned((uint64_t)v, 10, width, pad);
}

/* Reads an argument of the size the conversion's modifiers say. */
static uint64_t next_unsigned(va_list *ap, int longs)
{
	return longs ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned int);
}

static int64_t next_signed(va_list *ap, int longs)
{
	return longs ? va_arg(*ap, long) : va_arg(*ap, int);
}

void gvprintf(const char *fmt, va_list ap)
{
	va_list args;

	va_copy(args, ap);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;

		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
			print_signed(next_signed(&args, longs), width, pad);
			break;
		case 'u':
			print_unsigned(next_unsigned(&args, longs), 10, width, pad);
			break;
		case 'x':
			print_unsigned(next_unsigned(&args, longs), 16, width, pad);
			break;
		case 'p':
			serial_puts("0x");
			print_unsigned((uintptr_t)va_arg(args, void *), 16, width, pad);
			break;
		case 'c':
			serial_putc((char)va_arg(args, int));
			break;
		case 's': {
			const char *s = va_arg(args, const char *);

			serial_puts(s ? s : "(null)");
			break;
		}
		case '\0':
			va_end(args);
			return;
		default:
			serial_putc(*fmt);
			break;
		}
	}
	va_end(args);
}

void gprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gvprintf(fmt, ap);
	va_end(ap);
}
