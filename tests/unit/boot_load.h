/* Runs a kernel loader on a heap copy of exactly len image bytes, so ASan catches any read past
 * the image: shared by the Linux and Multiboot loader tests. */
#ifndef TESTS_BOOT_LOAD_H
#define TESTS_BOOT_LOAD_H

#include <stdlib.h>
#include <string.h>

#include "hostvisor/boot.h"

typedef int (*boot_loader_fn)(const struct gmem *gm, const struct e820_map *map,
			      const struct boot_images *img, struct boot_entry *entry, char *err,
			      size_t errlen);

static inline int boot_load_copy(boot_loader_fn loader, const struct gmem *gm,
				 const struct e820_map *map, const uint8_t *image, size_t len,
				 const struct boot_images *extra, struct boot_entry *entry, char *err,
				 size_t errlen)
{
	struct boot_images img = { 0 };
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	if (!copy)
		return -12; /* ENOMEM */
	memcpy(copy, image, len);
	if (extra)
		img = *extra;
	img.kernel = copy;
	img.kernel_len = len;
	err[0] = 0;
	rc = loader(gm, map, &img, entry, err, errlen);
	free(copy);
	return rc;
}

#endif
