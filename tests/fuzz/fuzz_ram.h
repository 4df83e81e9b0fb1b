/* Guest RAM for the loader fuzzers, allocated once: a loader's result does not depend on what
 * RAM held before, and a fresh 4 MiB per input would cost more than the load itself. */
#ifndef TESTS_FUZZ_RAM_H
#define TESTS_FUZZ_RAM_H

#include <stdint.h>
#include <stdlib.h>

#include "hostvisor/e820.h"
#include "hostvisor/gmem.h"

#define FUZZ_RAM_SIZE (4u << 20)

static inline uint8_t *fuzz_ram(void)
{
	static uint8_t *ram;

	if (!ram)
		ram = malloc(FUZZ_RAM_SIZE);
	return ram;
}

/* The loaders' guest: the shared RAM as one region at 0 and its E820 map; NULL if out of memory. */
static inline uint8_t *fuzz_guest(struct gmem *gm, struct e820_map *map)
{
	uint8_t *ram = fuzz_ram();

	if (!ram)
		return NULL;
	if (gmem_add_region(gm, 0, FUZZ_RAM_SIZE, ram))
		abort();
	e820_build(map, FUZZ_RAM_SIZE);
	return ram;
}

#endif
