/* The loaders' one way to fail: a negative errno, and one clear line in err (if given). */
#ifndef HOSTVISOR_BOOT_ERROR_H
#define HOSTVISOR_BOOT_ERROR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline int boot_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int boot_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

#endif
