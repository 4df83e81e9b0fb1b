/* Guest RAM for the loader fuzzers, allocated once: a loader's result does not depend on what
 * RAM held before, and a fresh 4 MiB per input would cost more than the load itself. */
#ifndef TESTS_FUZZ_RAM_H
#define TESTS_FUZZ_RAM_H

#include <stdint.h>
#include <stdlib.h>

#define FUZZ_RAM_SIZE (4u << 20)

static inline uint8_t *fuzz_ram(void)
{
	static uint8_t *ram;

	if (!ram)
		ram = malloc(FUZZ_RAM_SIZE);
	return ram;
}

#endif
