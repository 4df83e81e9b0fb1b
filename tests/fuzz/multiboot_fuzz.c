/*
 * libFuzzer harness for the Multiboot v1 loader: the input is the kernel image (a.out-kludge or
 * ELF), loaded into a 4 MiB guest. Odd-length inputs also get a module. ASan checks that
 * no header or program header field leads to a read outside the image or a write outside guest
 * RAM; the harness checks the loader's promises: an error always says why, a success enters
 * with the multiboot magic, the information structure in %ebx and %eip inside guest RAM.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/boot.h"

#include "fuzz_ram.h"

#define FUZZ_INITRD_SIZE 0x1800u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t initrd[FUZZ_INITRD_SIZE];
	struct boot_images img = { .kernel = data, .kernel_len = size, .cmdline = "hv.fuzz" };
	struct boot_entry entry = { 0 };
	struct gmem gm = { 0 };
	struct e820_map map;
	char err[128] = "";
	uint8_t *ram = fuzz_guest(&gm, &map);
	int rc;

	if (!ram)
		return 0;
	if (size & 1) {
		img.initrd = initrd;
		img.initrd_len = sizeof(initrd);
	}
	(void)multiboot_find_header(data, size);
	rc = multiboot_load(&gm, &map, &img, &entry, err, sizeof(err));
	if (rc < 0 && err[0] == 0)
		abort();
	if (rc == 0 && (entry.eax != 0x2badb002 || entry.ebx != BOOT_MBI_ADDR ||
			!e820_range_is_ram(&map, entry.eip, 1)))
		abort();
	return 0;
}
