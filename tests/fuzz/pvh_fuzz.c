/*
 * libFuzzer harness for the PVH loader: the input is an ELF64 kernel image, loaded into a 4 MiB
 * guest. Odd-length inputs also get an initrd, so its placement is exercised. ASan checks that
 * no header, program header or note field leads to a read outside the image or a write outside
 * guest RAM; the harness checks the loader's promises: an error always says why, in one line; a
 * success enters with %ebx = struct hvm_start_info (version 1, the memory map, the initrd as
 * module 0, page aligned above 1 MiB and inside RAM).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/boot.h"
#include "hostvisor/le.h"

#include "fuzz_ram.h"

#define FUZZ_INITRD_SIZE 0x1800u
#define FUZZ_CMDLINE "console=ttyS0 hv.fuzz"
#define FUZZ_RSDP 0xe0000u
#define HVM_START_MAGIC 0x336ec578u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A pattern, so that a module pointing at the wrong bytes is caught. */
static const uint8_t *fuzz_initrd(void)
{
	static uint8_t initrd[FUZZ_INITRD_SIZE];

	if (!initrd[0])
		for (size_t i = 0; i < sizeof(initrd); i++)
			initrd[i] = (uint8_t)(i * 7 + 1);
	return initrd;
}

/* The initrd (if any) as module 0: page aligned, in high RAM, holding the initrd's bytes. */
static bool module_ok(const uint8_t *ram, const uint8_t *si, const struct boot_images *img)
{
	const uint8_t *mod;
	uint64_t addr;

	if (!img->initrd)
		return get32(si + 12) == 0;
	if (get32(si + 12) != 1 || get64(si + 16) != BOOT_ZERO_PAGE + 0x100)
		return false;
	mod = ram + BOOT_ZERO_PAGE + 0x100;
	addr = get64(mod);
	if (get64(mod + 8) != img->initrd_len || addr % 4096 || addr < MEM_HIGH_START ||
	    addr > FUZZ_RAM_SIZE - img->initrd_len)
		return false;
	return !memcmp(ram + addr, img->initrd, img->initrd_len);
}

static bool start_info_ok(const uint8_t *ram, const struct e820_map *map,
			  const struct boot_images *img)
{
	const uint8_t *si = ram + BOOT_ZERO_PAGE;

	return get32(si) == HVM_START_MAGIC && get32(si + 4) == 1 &&
	       get64(si + 24) == BOOT_CMDLINE && get64(si + 32) == FUZZ_RSDP &&
	       get32(si + 48) == (uint32_t)map->n &&
	       !strcmp((const char *)ram + BOOT_CMDLINE, FUZZ_CMDLINE) && module_ok(ram, si, img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_images img = { .kernel = data, .kernel_len = size, .cmdline = FUZZ_CMDLINE,
				   .rsdp_addr = FUZZ_RSDP };
	struct boot_entry entry = { 0 };
	struct gmem gm = { 0 };
	struct e820_map map;
	char err[128] = "";
	uint8_t *ram = fuzz_guest(&gm, &map);
	int rc;

	if (!ram)
		return 0;
	if (size & 1) {
		img.initrd = fuzz_initrd();
		img.initrd_len = FUZZ_INITRD_SIZE;
	}
	(void)pvh_is_elf_kernel(data, size);
	rc = pvh_load(&gm, &map, &img, &entry, err, sizeof(err));
	if (rc < 0 && (err[0] == 0 || strchr(err, '\n')))
		abort();
	if (rc == 0 && (entry.ebx != BOOT_ZERO_PAGE || entry.eax || entry.esi ||
			!start_info_ok(ram, &map, &img)))
		abort();
	return 0;
}
