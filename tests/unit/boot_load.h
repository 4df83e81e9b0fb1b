/* Runs a kernel loader on a heap copy of exactly len image bytes, so ASan catches any read past
 * the image, and checks its NULL-argument refusals: shared by the Linux, Multiboot and PVH
 * loader tests. */
#ifndef TESTS_BOOT_LOAD_H
#define TESTS_BOOT_LOAD_H

#include <errno.h>
#include <stdbool.h>
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

/* True if the loader refuses a NULL guest memory, map, image set or entry with -EINVAL. */
static inline bool boot_rejects_null_arguments(boot_loader_fn loader, const struct gmem *gm,
					       const struct e820_map *map,
					       const struct boot_images *img)
{
	struct boot_entry entry;

	return loader(NULL, map, img, &entry, NULL, 0) == -EINVAL &&
	       loader(gm, NULL, img, &entry, NULL, 0) == -EINVAL &&
	       loader(gm, map, NULL, &entry, NULL, 0) == -EINVAL &&
	       loader(gm, map, img, NULL, NULL, 0) == -EINVAL;
}

#endif
