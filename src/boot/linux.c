/*
 * The Linux x86 boot protocol for bzImage, 32-bit entry (Documentation/arch/x86/boot.rst,
 * "32-bit boot protocol"; field layout in "The real-mode kernel header" and
 * Documentation/arch/x86/zero-page.rst). Protocol 2.06 or later is required: it is the first
 * with cmdline_size, so every field used here is defined.
 *
 * The real-mode setup code is not run: the protected-mode kernel goes to 1 MiB, the zero page
 * (struct boot_params) is filled as the setup code would have left it, and the vCPU starts at
 * the 32-bit entry with %esi pointing to the zero page.
 *
 * The image is untrusted input: every field is checked before it is used, every offset against
 * the image length, every guest address against the E820 map and guest RAM.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hostvisor/boot.h"
#include "hostvisor/le.h"
#include "boot_error.h"

/* struct boot_params (zero-page.rst): offsets of the fields we fill. */
#define BP_SIZE 0x1000u
#define BP_ACPI_RSDP_ADDR 0x070u
#define BP_E820_ENTRIES 0x1e8u
#define BP_HDR 0x1f1u        /* struct setup_header, copied from the same offset of the image */
#define BP_HDR_LIMIT 0x290u  /* edd_mbr_sig_buffer: the header area ends here */
#define BP_E820_TABLE 0x2d0u /* 128 entries of {u64 addr, u64 size, u32 type}, packed */
#define BP_E820_ENTRY_SIZE 20u
#define BP_E820_MAX 128

/* The setup header (boot.rst), at the same offsets in the image and in the zero page. */
#define HDR_SETUP_SECTS 0x1f1u
#define HDR_VID_MODE 0x1fau
#define HDR_BOOT_FLAG 0x1feu
#define HDR_JUMP 0x200u /* 0xeb, then the offset of the first byte after the header from 0x202 */
#define HDR_MAGIC 0x202u
#define HDR_VERSION 0x206u
#define HDR_TYPE_OF_LOADER 0x210u
#define HDR_LOADFLAGS 0x211u
#define HDR_CODE32_START 0x214u
#define HDR_RAMDISK_IMAGE 0x218u
#define HDR_RAMDISK_SIZE 0x21cu
#define HDR_HEAP_END_PTR 0x224u
#define HDR_CMD_LINE_PTR 0x228u
#define HDR_INITRD_ADDR_MAX 0x22cu
#define HDR_CMDLINE_SIZE 0x238u
#define HDR_KERNEL_ALIGNMENT 0x230u
#define HDR_RELOCATABLE_KERNEL 0x234u
#define HDR_CMDLINE_SIZE_END 0x23cu /* a 2.06 header reaches at least this far */
#define HDR_PREF_ADDRESS 0x258u     /* protocol 2.10 */
#define HDR_INIT_SIZE 0x260u        /* protocol 2.10 */

#define BOOT_FLAG_MAGIC 0xaa55u
#define HDR_MAGIC_HDRS 0x53726448u /* "HdrS" */
#define PROTOCOL_MIN 0x0206u
#define PROTOCOL_RUNTIME 0x020au /* pref_address and init_size */
#define PROTOCOL_RSDP 0x020eu
#define JMP_SHORT_OPCODE 0xebu

#define LOADFLAG_LOADED_HIGH 0x01u
#define LOADFLAG_CAN_USE_HEAP 0x80u
#define LOADER_TYPE_UNDEFINED 0xffu
#define VID_MODE_NORMAL 0xffffu
/* boot.rst's example for a modern kernel: the setup heap ends at 0xe000 (field is minus 0x200). */
#define HEAP_END_PTR 0xde00u

#define SECTOR_SIZE 512u
#define SETUP_SECTS_DEFAULT 4u /* "if this field is 0, the real value is 4" */
#define KERNEL_LOAD_ADDR MEM_HIGH_START
#define PAGE_SIZE_4K 0x1000ull

struct bzimage {
	uint16_t version;
	uint32_t hdr_end;      /* first byte after the setup header, image offset */
	uint64_t setup_size;   /* real-mode part incl. boot sector: skipped */
	uint64_t kernel_len;   /* protected-mode kernel bytes after the setup */
	uint64_t run_start;    /* where it decompresses itself and runs (boot.rst, init_size) */
	uint64_t run_size;     /* init_size: contiguous RAM it needs there (0: not given) */
	uint32_t cmdline_size; /* longest command line, without the NUL */
	uint32_t initrd_addr_max;
};

static uint64_t page_up(uint64_t a)
{
	return (a + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
}

static uint64_t page_down(uint64_t a)
{
	return a & ~(PAGE_SIZE_4K - 1);
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

bool linux_is_bzimage(const uint8_t *image, size_t len)
{
	if (!image || len < HDR_MAGIC + 4)
		return false;
	return get16(image + HDR_BOOT_FLAG) == BOOT_FLAG_MAGIC &&
	       get32(image + HDR_MAGIC) == HDR_MAGIC_HDRS;
}

/* The header itself: magic numbers, protocol version and the extent of the header. */
static int bzimage_parse_header(const uint8_t *image, size_t len, struct bzimage *bz, char *err,
				size_t errlen)
{
	if (!linux_is_bzimage(image, len))
		return boot_fail(err, errlen, -EINVAL, "linux: not a bzImage (no HdrS/0xaa55)");
	if (len < HDR_CMDLINE_SIZE_END)
		return boot_fail(err, errlen, -EINVAL,
				 "linux: image truncated inside the setup header");
	bz->version = get16(image + HDR_VERSION);
	if (bz->version < PROTOCOL_MIN)
		return boot_fail(err, errlen, -ENOTSUP,
				 "linux: boot protocol %u.%02u too old, 2.06 or later required",
				 bz->version >> 8, bz->version & 0xff);
	if (image[HDR_JUMP] != JMP_SHORT_OPCODE)
		return boot_fail(err, errlen, -EINVAL, "linux: no short jump at 0x200");
	bz->hdr_end = HDR_MAGIC + image[HDR_JUMP + 1];
	if (bz->hdr_end < HDR_CMDLINE_SIZE_END || bz->hdr_end > BP_HDR_LIMIT)
		return boot_fail(err, errlen, -EINVAL,
				 "linux: setup header ends at %#x, outside %#x-%#x", bz->hdr_end,
				 HDR_CMDLINE_SIZE_END, BP_HDR_LIMIT);
	if (bz->hdr_end > len)
		return boot_fail(err, errlen, -EINVAL,
				 "linux: image truncated inside the setup header");
	if (!(image[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return boot_fail(err, errlen, -ENOTSUP,
				 "linux: zImage (not loaded high) unsupported");
	return 0;
}

/* Sizes: where the protected-mode kernel starts in the file and how long it is. */
static int bzimage_parse_sizes(const uint8_t *image, size_t len, struct bzimage *bz, char *err,
			       size_t errlen)
{
	uint32_t setup_sects = image[HDR_SETUP_SECTS];

	if (setup_sects == 0)
		setup_sects = SETUP_SECTS_DEFAULT;
	/* At least two sectors, so the header (below BP_HDR_LIMIT) always lies inside the setup. */
	bz->setup_size = (uint64_t)(setup_sects + 1) * SECTOR_SIZE;
	if (bz->setup_size >= len)
		return boot_fail(err, errlen, -EINVAL,
				 "linux: setup_sects %u leaves no kernel in %zu bytes",
				 setup_sects, len);
	bz->kernel_len = len - bz->setup_size;
	bz->cmdline_size = get32(image + HDR_CMDLINE_SIZE);
	bz->initrd_addr_max = get32(image + HDR_INITRD_ADDR_MAX);
	return 0;
}

/*
 * boot.rst, init_size: the kernel decompresses itself at its runtime start address, which for a
 * relocatable kernel is the load address raised to pref_address and aligned up to
 * kernel_alignment, and otherwise pref_address; it needs init_size bytes there. Before 2.10
 * neither field exists and the kernel runs where it was loaded.
 */
static int bzimage_parse_runtime(const uint8_t *image, struct bzimage *bz, char *err,
				 size_t errlen)
{
	uint64_t pref, align;

	bz->run_start = KERNEL_LOAD_ADDR;
	bz->run_size = 0;
	if (bz->version < PROTOCOL_RUNTIME)
		return 0;
	if (bz->hdr_end < HDR_INIT_SIZE + 4)
		return boot_fail(err, errlen, -EINVAL,
				 "linux: protocol 2.10+ header ends before init_size");
	pref = get64(image + HDR_PREF_ADDRESS);
	bz->run_size = get32(image + HDR_INIT_SIZE);
	if (pref >= MEM_4G)
		return boot_fail(err, errlen, -EINVAL, "linux: pref_address %#llx above 4 GiB",
				 (unsigned long long)pref);
	if (!image[HDR_RELOCATABLE_KERNEL]) {
		bz->run_start = pref;
	} else {
		align = get32(image + HDR_KERNEL_ALIGNMENT);
		if (align == 0 || (align & (align - 1)))
			return boot_fail(err, errlen, -EINVAL,
					 "linux: kernel_alignment %#llx not a power of two",
					 (unsigned long long)align);
		bz->run_start = (max_u64(pref, KERNEL_LOAD_ADDR) + align - 1) & ~(align - 1);
	}
	/* The 32-bit entry runs the decompressor with 32-bit addresses. */
	if (bz->run_start < KERNEL_LOAD_ADDR || bz->run_start + bz->run_size > MEM_4G)
		return boot_fail(err, errlen, -EINVAL,
				 "linux: kernel would run at %#llx, outside 1 MiB-4 GiB",
				 (unsigned long long)bz->run_start);
	return 0;
}

static int bzimage_check_fit(const struct e820_map *map, const struct bzimage *bz, char *err,
			     size_t errlen)
{
	if (!e820_range_is_ram(map, KERNEL_LOAD_ADDR, bz->kernel_len))
		return boot_fail(err, errlen, -E2BIG,
				 "linux: kernel of %#llx bytes does not fit in RAM at 1 MiB",
				 (unsigned long long)bz->kernel_len);
	if (bz->run_size && !e820_range_is_ram(map, bz->run_start, bz->run_size))
		return boot_fail(err, errlen, -E2BIG,
				 "linux: kernel needs %#llx bytes of RAM at %#llx, not available",
				 (unsigned long long)bz->run_size,
				 (unsigned long long)bz->run_start);
	return 0;
}

static int cmdline_check(const struct e820_map *map, const struct bzimage *bz, const char *cmdline,
			 size_t *lenp, char *err, size_t errlen)
{
	size_t len = cmdline ? strnlen(cmdline, BOOT_CMDLINE_MAX) : 0;

	if (len >= BOOT_CMDLINE_MAX)
		return boot_fail(err, errlen, -E2BIG, "linux: command line longer than %llu bytes",
				 BOOT_CMDLINE_MAX - 1);
	if (len > bz->cmdline_size)
		return boot_fail(err, errlen, -E2BIG,
				 "linux: command line of %zu bytes, kernel accepts %u", len,
				 bz->cmdline_size);
	if (!e820_range_is_ram(map, BOOT_CMDLINE, len + 1))
		return boot_fail(err, errlen, -E2BIG, "linux: no RAM for the command line");
	*lenp = len;
	return 0;
}

/* The highest page-aligned spot for len bytes in [bottom, top); bottom is page-aligned. */
static bool initrd_fits(uint64_t bottom, uint64_t top, uint64_t len, uint64_t *addrp)
{
	if (top < bottom || len > top - bottom)
		return false;
	*addrp = page_down(top - len);
	return true;
}

/*
 * boot.rst: the initrd goes as high as possible, its last byte at most initrd_addr_max, inside
 * low RAM, clear of the loaded kernel and of the memory it decompresses into. If that leaves no
 * room above the kernel, the gap between the loaded image and its runtime address will do.
 */
static int initrd_place(const struct e820_map *map, const struct bzimage *bz, uint64_t initrd_len,
			uint64_t *addrp, char *err, size_t errlen)
{
	uint64_t load_end = page_up(KERNEL_LOAD_ADDR + bz->kernel_len);
	uint64_t run_end = page_up(bz->run_start + bz->run_size);
	uint64_t limit = min_u64((uint64_t)bz->initrd_addr_max + 1,
				 e820_ram_end(map, KERNEL_LOAD_ADDR));

	if (initrd_fits(max_u64(load_end, run_end), limit, initrd_len, addrp))
		return 0;
	if (bz->run_size && bz->run_start > load_end &&
	    initrd_fits(load_end, min_u64(limit, page_down(bz->run_start)), initrd_len, addrp))
		return 0;
	return boot_fail(err, errlen, -E2BIG,
			 "linux: initrd of %#llx bytes does not fit in RAM below %#llx beside the "
			 "kernel",
			 (unsigned long long)initrd_len, (unsigned long long)limit);
}

static void zero_page_e820(uint8_t *zp, const struct e820_map *map)
{
	int n = map->n < 0 ? 0 : map->n;

	if (n > E820_MAX_ENTRIES)
		n = E820_MAX_ENTRIES;
	if (n > BP_E820_MAX)
		n = BP_E820_MAX;
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *e = zp + BP_E820_TABLE + (size_t)i * BP_E820_ENTRY_SIZE;

		put64(e, map->entry[i].addr);
		put64(e + 8, map->entry[i].size);
		put32(e + 16, map->entry[i].type);
	}
}

static void zero_page_fill(uint8_t *zp, const uint8_t *image, const struct bzimage *bz,
			   const struct e820_map *map, const struct boot_images *img,
			   uint64_t initrd_addr)
{
	memset(zp, 0, BP_SIZE);
	memcpy(zp + BP_HDR, image + BP_HDR, bz->hdr_end - BP_HDR);
	put16(zp + HDR_VID_MODE, VID_MODE_NORMAL);
	zp[HDR_TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
	zp[HDR_LOADFLAGS] |= LOADFLAG_LOADED_HIGH | LOADFLAG_CAN_USE_HEAP;
	put32(zp + HDR_CODE32_START, (uint32_t)KERNEL_LOAD_ADDR);
	put16(zp + HDR_HEAP_END_PTR, HEAP_END_PTR);
	put32(zp + HDR_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE);
	put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
	put32(zp + HDR_RAMDISK_SIZE, initrd_addr ? (uint32_t)img->initrd_len : 0);
	if (bz->version >= PROTOCOL_RSDP && img->rsdp_addr)
		put64(zp + BP_ACPI_RSDP_ADDR, img->rsdp_addr);
	zero_page_e820(zp, map);
}

static int linux_write(const struct gmem *gm, const struct boot_images *img,
		       const struct bzimage *bz, const uint8_t *zp, size_t cmdline_len,
		       uint64_t initrd_addr, char *err, size_t errlen)
{
	static const char empty[] = "";
	const char *cmdline = img->cmdline ? img->cmdline : empty;

	if (gmem_write(gm, KERNEL_LOAD_ADDR, img->kernel + bz->setup_size, bz->kernel_len) ||
	    (initrd_addr && gmem_write(gm, initrd_addr, img->initrd, img->initrd_len)) ||
	    gmem_write(gm, BOOT_CMDLINE, cmdline, cmdline_len) ||
	    gmem_write(gm, BOOT_CMDLINE + cmdline_len, empty, 1) ||
	    gmem_write(gm, BOOT_ZERO_PAGE, zp, BP_SIZE))
		return boot_fail(err, errlen, -EFAULT,
				 "linux: E820 RAM not backed by guest memory");
	return 0;
}

int linux_load(const struct gmem *gm, const struct e820_map *map, const struct boot_images *img,
	       struct boot_entry *entry, char *err, size_t errlen)
{
	uint8_t zp[BP_SIZE];
	struct bzimage bz = { 0 };
	uint64_t initrd_addr = 0;
	size_t cmdline_len = 0;
	int rc;

	if (!gm || !map || !img || !entry || !img->kernel)
		return boot_fail(err, errlen, -EINVAL, "linux: no kernel image");
	rc = bzimage_parse_header(img->kernel, img->kernel_len, &bz, err, errlen);
	if (!rc)
		rc = bzimage_parse_sizes(img->kernel, img->kernel_len, &bz, err, errlen);
	if (!rc)
		rc = bzimage_parse_runtime(img->kernel, &bz, err, errlen);
	if (!rc)
		rc = bzimage_check_fit(map, &bz, err, errlen);
	if (!rc)
		rc = cmdline_check(map, &bz, img->cmdline, &cmdline_len, err, errlen);
	if (!rc && img->initrd && img->initrd_len)
		rc = initrd_place(map, &bz, img->initrd_len, &initrd_addr, err, errlen);
	if (rc)
		return rc;
	if (!e820_range_is_ram(map, BOOT_ZERO_PAGE, BP_SIZE))
		return boot_fail(err, errlen, -E2BIG, "linux: no RAM for the zero page");
	zero_page_fill(zp, img->kernel, &bz, map, img, initrd_addr);
	rc = linux_write(gm, img, &bz, zp, cmdline_len, initrd_addr, err, errlen);
	if (rc)
		return rc;
	/* boot.rst, 32-bit boot protocol: %esi = boot_params, %ebx (and %ebp, %edi) zero. */
	*entry = (struct boot_entry){ .eip = (uint32_t)KERNEL_LOAD_ADDR, .esi = BOOT_ZERO_PAGE };
	return 0;
}
