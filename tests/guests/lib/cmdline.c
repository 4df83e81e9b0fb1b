/*
 * The Multiboot command line as words separated by spaces; options are key=value words.
 * Loaders differ in whether the kernel's file name comes first (QEMU puts it there), so only
 * key=value words are looked at.
 */
#include "guest.h"

#define CMDLINE_MAX 1024

static char line[CMDLINE_MAX];

void cmdline_set(const char *s)
{
	size_t i = 0;

	for (; s && s[i] && i < CMDLINE_MAX - 1; i++)
		line[i] = s[i];
	line[i] = '\0';
}

const char *cmdline(void)
{
	return line;
}

static uint64_t parse_u64(const char *s)
{
	uint64_t v = 0;
	unsigned base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return v;
		v = v * base + d;
	}
}

uint64_t cmdline_u64(const char *key, uint64_t dflt)
{
	size_t klen = strlen(key);

	for (const char *w = line; *w;) {
		while (*w == ' ')
			w++;
		if (!strncmp(w, key, klen) && w[klen] == '=')
			return parse_u64(w + klen + 1);
		while (*w && *w != ' ')
			w++;
	}
	return dflt;
}
