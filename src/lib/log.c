/* Logging to stderr. The level is the only process-wide setting, written once at start-up. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hostvisor/log.h"

static enum log_level max_level = LOG_WARN;

void log_set_level(enum log_level level)
{
	max_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	n = snprintf(line, sizeof(line), "hostvisor: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	/* The terminal may be in raw mode (COM1 on stdio): end lines with CR LF so they stay readable. */
	if (isatty(STDERR_FILENO))
		line[n++] = '\r';
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
