/*
 * libFuzzer harness for the bzImage loader: the input is the kernel image, loaded into a
 * 4 MiB guest. Odd-length inputs also get an initrd, so its placement is exercised. ASan checks
 * that no field of the image leads to a read outside it or a write outside guest RAM; the
 * harness checks the loader's promises: an error always says why, a success enters with the
 * zero page in %esi and the kernel at 1 MiB.
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
	struct boot_images img = { .kernel = data, .kernel_len = size,
				   .cmdline = "console=ttyS0 hv.fuzz", .rsdp_addr = 0xe0000 };
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
	(void)linux_is_bzimage(data, size);
	rc = linux_load(&gm, &map, &img, &entry, err, sizeof(err));
	if (rc < 0 && err[0] == 0)
		abort();
	if (rc == 0 && (entry.esi != BOOT_ZERO_PAGE || entry.eip != 0x100000 || entry.ebx != 0))
		abort();
	return 0;
}
