/*
 * Check results, one line each on COM1: "PASS <check>" or "FAIL <check>: reason". The test
 * script turns them into its own PASS:/FAIL: lines.
 */
#include "guest.h"

static unsigned passes, failures;

void pass(const char *name)
{
	passes++;
	gprintf("PASS %s\n", name);
}

static void vfail(const char *name, const char *fmt, va_list ap)
{
	failures++;
	gprintf("FAIL %s: ", name);
	gvprintf(fmt, ap);
	serial_putc('\n');
}

void fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(name, fmt, ap);
	va_end(ap);
}

bool check(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		pass(name);
		return true;
	}
	va_start(ap, fmt);
	vfail(name, fmt, ap);
	va_end(ap);
	return false;
}

unsigned report_failures(void)
{
	return failures;
}

unsigned report_passes(void)
{
	return passes;
}
