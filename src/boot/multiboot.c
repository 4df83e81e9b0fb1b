/*
 * Multiboot v1 loader (Multiboot Specification 0.6.96).
 *
 * The OS image carries a header (section 3.1.1) in its first 8192 bytes. Its flags bits 0-15 are
 * requirements the loader must meet or refuse the image (3.1.2); our decisions, per bit:
 *   0 (modules page-aligned): met, every module starts on a 4 KiB boundary.
 *   1 (memory information):   met, mem_lower/mem_upper and the memory map are always passed.
 *   2 (video mode table):     refused: the machine has no display adapter to describe.
 *   3-15 (undefined):         refused, as 3.1.2 requires for requirements we do not know.
 * Bits 16-31 are optional; bit 16 (address fields valid, "a.out kludge") is honoured and then
 * takes precedence over the executable's own headers. Without it the image must be ELF32
 * (i386, executable); ELF64 kernels need bit 16, as with other multiboot loaders.
 *
 * The machine state at entry is 3.2's: EAX = 0x2BADB002, EBX = the information structure
 * (3.3), flat 32-bit protected mode, paging off. The engine sets the rest from boot_entry.
 *
 * The image is untrusted input: every field is checked against the file length and every
 * address range against the E820 RAM map, the information area and the command line area.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hostvisor/boot.h"
#include "hostvisor/le.h"
#include "boot_error.h"

/* The OS image header (3.1.1-3.1.5). */
#define MB_HEADER_MAGIC 0x1badb002u
#define MB_BOOTLOADER_MAGIC 0x2badb002u
#define MB_SEARCH_LIMIT 8192u
#define MB_HEADER_BASE_LEN 12u  /* magic, flags, checksum */
#define MB_HEADER_AOUT_LEN 32u  /* + header/load/load_end/bss_end/entry addresses */
#define MB_HEADER_VIDEO_LEN 48u /* + mode_type, width, height, depth */
#define MB_FLAG_PAGE_ALIGN (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_FLAGS_REQUIRED 0xffffu
#define MB_FLAGS_SUPPORTED (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO)

/* The information structure (3.3), offsets of the fields we fill. */
#define MBI_FLAGS 0u
#define MBI_MEM_LOWER 4u
#define MBI_MEM_UPPER 8u
#define MBI_CMDLINE 16u
#define MBI_MODS_COUNT 20u
#define MBI_MODS_ADDR 24u
#define MBI_MMAP_LENGTH 44u
#define MBI_MMAP_ADDR 48u
#define MBI_BOOT_LOADER_NAME 64u
#define MBI_INFO_MEMORY (1u << 0)
#define MBI_INFO_CMDLINE (1u << 2)
#define MBI_INFO_MODS (1u << 3)
#define MBI_INFO_MMAP (1u << 6)
#define MBI_INFO_LOADER_NAME (1u << 9)
#define MBI_MOD_SIZE 16u       /* mod_start, mod_end, string, reserved */
#define MBI_MMAP_ENTRY_SIZE 24u /* size (= 20, not counting itself), base, length, type */
#define MBI_MMAP_SIZE_FIELD 20u

/* Layout of the information area at BOOT_MBI_ADDR: structure, module list, strings, map. */
#define MBI_AREA_SIZE 0x1000u
#define MBI_OFF_MODS 0x80u
#define MBI_OFF_LOADER_NAME 0xa0u
#define MBI_OFF_MOD_STRING 0xb0u
#define MBI_OFF_MMAP 0x100u
_Static_assert(MBI_OFF_MMAP + E820_MAX_ENTRIES * MBI_MMAP_ENTRY_SIZE <= MBI_AREA_SIZE,
	       "the memory map fits the information area");

/* ELF32 (System V ABI, Intel386 supplement): the fields we read. */
#define ELF_EHDR_SIZE 52u
#define ELF_PHDR_SIZE 32u
#define ELF_EI_CLASS 4u
#define ELF_EI_DATA 5u
#define ELF_CLASS32 1u
#define ELF_CLASS64 2u
#define ELF_DATA_LSB 1u
#define ELF_ET_EXEC 2u
#define ELF_EM_386 3u
#define ELF_PT_LOAD 1u
#define EH_TYPE 16u
#define EH_MACHINE 18u
#define EH_ENTRY 24u
#define EH_PHOFF 28u
#define EH_PHENTSIZE 42u
#define EH_PHNUM 44u
#define PH_TYPE 0u
#define PH_OFFSET 4u
#define PH_VADDR 8u
#define PH_PADDR 12u
#define PH_FILESZ 16u
#define PH_MEMSZ 20u

#define MB_MAX_SEGMENTS 32
#define PAGE_SIZE_4K 0x1000ull
#define KIB 1024ull

static const char loader_name[] = "hostvisor";
static const char initrd_name[] = "initrd";

struct mb_header {
	uint32_t offset; /* in the image */
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/* One piece of the kernel: filesz bytes from the image, then zeroes up to memsz. */
struct mb_segment {
	uint64_t paddr;
	uint64_t file_off;
	uint64_t filesz;
	uint64_t memsz;
};

struct mb_kernel {
	struct mb_segment seg[MB_MAX_SEGMENTS];
	int nseg;
	uint32_t entry;
	uint64_t end; /* highest byte + 1 of any segment */
};

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* 3.1.2: 32-bit aligned, completely inside the first 8192 bytes; magic + flags + checksum = 0. */
static bool mb_header_search(const uint8_t *image, size_t len, uint32_t *offset)
{
	size_t limit = len < MB_SEARCH_LIMIT ? len : MB_SEARCH_LIMIT;

	if (!image)
		return false;
	for (size_t off = 0; off + MB_HEADER_BASE_LEN <= limit; off += 4) {
		uint32_t magic = get32(image + off);
		uint32_t flags = get32(image + off + 4);
		uint32_t sum = get32(image + off + 8);

		if (magic == MB_HEADER_MAGIC && (uint32_t)(magic + flags + sum) == 0) {
			*offset = (uint32_t)off;
			return true;
		}
	}
	return false;
}

bool multiboot_find_header(const uint8_t *image, size_t len)
{
	uint32_t offset;

	return mb_header_search(image, len, &offset);
}

static int mb_header_parse(const uint8_t *image, size_t len, struct mb_header *hdr, char *err,
			   size_t errlen)
{
	size_t limit = len < MB_SEARCH_LIMIT ? len : MB_SEARCH_LIMIT;
	uint32_t need = MB_HEADER_BASE_LEN;
	const uint8_t *p;

	if (!mb_header_search(image, len, &hdr->offset))
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: no valid header in the first 8 KiB");
	p = image + hdr->offset;
	hdr->flags = get32(p + 4);
	if (hdr->flags & MB_FLAG_VIDEO_MODE)
		return boot_fail(err, errlen, -ENOTSUP,
				 "multiboot: kernel requires a video mode (flag bit 2)");
	if (hdr->flags & MB_FLAGS_REQUIRED & ~MB_FLAGS_SUPPORTED)
		return boot_fail(err, errlen, -ENOTSUP,
				 "multiboot: kernel requires unknown features (flags %#x)",
				 hdr->flags & MB_FLAGS_REQUIRED & ~MB_FLAGS_SUPPORTED);
	if (hdr->flags & MB_FLAG_AOUT_KLUDGE)
		need = MB_HEADER_AOUT_LEN;
	if (hdr->offset + need > limit)
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: header at %#x runs past the first 8 KiB or the file",
				 hdr->offset);
	if (!(hdr->flags & MB_FLAG_AOUT_KLUDGE))
		return 0;
	hdr->header_addr = get32(p + 12);
	hdr->load_addr = get32(p + 16);
	hdr->load_end_addr = get32(p + 20);
	hdr->bss_end_addr = get32(p + 24);
	hdr->entry_addr = get32(p + 28);
	return 0;
}

/* 3.1.5: the address fields place one piece of the file, followed by bss. */
static int mb_aout_layout(const struct mb_header *hdr, size_t len, struct mb_kernel *k, char *err,
			  size_t errlen)
{
	uint64_t delta = (uint64_t)hdr->header_addr - hdr->load_addr;
	struct mb_segment *s = &k->seg[0];

	if (hdr->load_addr > hdr->header_addr || delta > hdr->offset)
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: load_addr %#x not at or before header_addr %#x",
				 hdr->load_addr, hdr->header_addr);
	s->paddr = hdr->load_addr;
	s->file_off = hdr->offset - delta;
	if (hdr->load_end_addr == 0)
		s->filesz = len - s->file_off;
	else if (hdr->load_end_addr > hdr->load_addr)
		s->filesz = (uint64_t)hdr->load_end_addr - hdr->load_addr;
	else
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: load_end_addr %#x not above load_addr",
				 hdr->load_end_addr);
	if (s->filesz > len - s->file_off)
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: load range (%#llx bytes) runs past the file",
				 (unsigned long long)s->filesz);
	s->memsz = s->filesz;
	if (hdr->bss_end_addr) {
		if (hdr->bss_end_addr < s->paddr + s->filesz)
			return boot_fail(err, errlen, -EINVAL,
					 "multiboot: bss_end_addr %#x below the end of the data",
					 hdr->bss_end_addr);
		s->memsz = hdr->bss_end_addr - s->paddr;
	}
	if (hdr->entry_addr < s->paddr || hdr->entry_addr - s->paddr >= s->filesz)
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: entry_addr %#x outside the image",
				 hdr->entry_addr);
	k->nseg = 1;
	k->entry = hdr->entry_addr;
	return 0;
}

static int elf_check_ehdr(const uint8_t *image, size_t len, char *err, size_t errlen)
{
	if (len < ELF_EHDR_SIZE || memcmp(image, "\177ELF", 4) != 0)
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: not ELF and no address fields (flag bit 16)");
	if (image[ELF_EI_CLASS] == ELF_CLASS64)
		return boot_fail(err, errlen, -ENOTSUP,
				 "multiboot: ELF64 kernel needs the address fields (flag bit 16)");
	if (image[ELF_EI_CLASS] != ELF_CLASS32 || image[ELF_EI_DATA] != ELF_DATA_LSB)
		return boot_fail(err, errlen, -EINVAL, "multiboot: not a little-endian ELF32 file");
	if (get16(image + EH_TYPE) != ELF_ET_EXEC || get16(image + EH_MACHINE) != ELF_EM_386)
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: ELF file is not an i386 executable");
	return 0;
}

static int elf_add_segment(const uint8_t *ph, size_t len, struct mb_kernel *k, char *err,
			   size_t errlen)
{
	struct mb_segment *s;
	uint64_t off = get32(ph + PH_OFFSET), filesz = get32(ph + PH_FILESZ);
	uint64_t memsz = get32(ph + PH_MEMSZ);

	if (memsz == 0)
		return 0;
	if (filesz > memsz || off > len || filesz > len - off)
		return boot_fail(err, errlen, -EINVAL,
				 "multiboot: ELF segment (at %#llx, %#llx/%#llx bytes) malformed",
				 (unsigned long long)off, (unsigned long long)filesz,
				 (unsigned long long)memsz);
	if (k->nseg >= MB_MAX_SEGMENTS)
		return boot_fail(err, errlen, -E2BIG, "multiboot: more than %d ELF load segments",
				 MB_MAX_SEGMENTS);
	s = &k->seg[k->nseg++];
	*s = (struct mb_segment){ .paddr = get32(ph + PH_PADDR), .file_off = off,
				  .filesz = filesz, .memsz = memsz };
	return 0;
}

/*
 * The entry point is a virtual address; like the segments, it is translated to the physical
 * address of the load segment whose virtual range holds it (identity for most kernels).
 */
static int elf_entry(const uint8_t *image, uint64_t phoff, unsigned phentsize, unsigned phnum,
		     struct mb_kernel *k, char *err, size_t errlen)
{
	uint32_t entry = get32(image + EH_ENTRY);

	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = image + phoff + (uint64_t)i * phentsize;
		uint32_t vaddr = get32(ph + PH_VADDR);

		if (get32(ph + PH_TYPE) != ELF_PT_LOAD || entry < vaddr ||
		    entry - vaddr >= get32(ph + PH_MEMSZ))
			continue;
		k->entry = entry - vaddr + get32(ph + PH_PADDR);
		return 0;
	}
	return boot_fail(err, errlen, -EINVAL, "multiboot: ELF entry %#x outside every segment",
			 entry);
}

static int mb_elf_layout(const uint8_t *image, size_t len, struct mb_kernel *k, char *err,
			 size_t errlen)
{
	uint64_t phoff;
	unsigned phentsize, phnum;
	int rc = elf_check_ehdr(image, len, err, errlen);

	if (rc)
		return rc;
	phoff = get32(image + EH_PHOFF);
	phentsize = get16(image + EH_PHENTSIZE);
	phnum = get16(image + EH_PHNUM);
	if (phentsize < ELF_PHDR_SIZE || phnum == 0 || phoff > len ||
	    (uint64_t)phnum * phentsize > len - phoff)
		return boot_fail(err, errlen, -EINVAL, "multiboot: ELF program headers malformed");
	k->nseg = 0;
	for (unsigned i = 0; i < phnum; i++) {
		const uint8_t *ph = image + phoff + (uint64_t)i * phentsize;

		if (get32(ph + PH_TYPE) != ELF_PT_LOAD)
			continue;
		rc = elf_add_segment(ph, len, k, err, errlen);
		if (rc)
			return rc;
	}
	if (k->nseg == 0)
		return boot_fail(err, errlen, -EINVAL, "multiboot: ELF file has nothing to load");
	return elf_entry(image, phoff, phentsize, phnum, k, err, errlen);
}

/* A range the loader writes: E820 RAM, backed by guest memory, clear of the boot data. */
static bool mb_range_usable(const struct gmem *gm, const struct e820_map *map, uint64_t addr,
			    uint64_t len)
{
	return e820_range_is_ram(map, addr, len) && gmem_ptr(gm, addr, len) &&
	       !ranges_overlap(addr, len, BOOT_MBI_ADDR, MBI_AREA_SIZE) &&
	       !ranges_overlap(addr, len, BOOT_CMDLINE, BOOT_CMDLINE_MAX);
}

static int mb_check_segments(const struct gmem *gm, const struct e820_map *map,
			     struct mb_kernel *k, char *err, size_t errlen)
{
	k->end = 0;
	for (int i = 0; i < k->nseg; i++) {
		const struct mb_segment *s = &k->seg[i];

		if (!mb_range_usable(gm, map, s->paddr, s->memsz))
			return boot_fail(err, errlen, -E2BIG,
					 "multiboot: kernel range %#llx+%#llx not free RAM",
					 (unsigned long long)s->paddr,
					 (unsigned long long)s->memsz);
		if (s->paddr + s->memsz > k->end)
			k->end = s->paddr + s->memsz;
	}
	return 0;
}

/* Module 0 (the initrd): page-aligned (header bit 0), above the kernel and above 1 MiB. */
static int mb_place_module(const struct gmem *gm, const struct e820_map *map,
			   const struct mb_kernel *k, uint64_t len, uint64_t *addrp, char *err,
			   size_t errlen)
{
	uint64_t addr = k->end > MEM_HIGH_START ? k->end : MEM_HIGH_START;

	addr = (addr + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	if (!mb_range_usable(gm, map, addr, len) || addr + len > UINT32_MAX)
		return boot_fail(err, errlen, -E2BIG,
				 "multiboot: initrd of %#llx bytes does not fit above the kernel",
				 (unsigned long long)len);
	*addrp = addr;
	return 0;
}

static void mbi_fill_memory(uint8_t *mbi, const struct e820_map *map)
{
	uint64_t low_end = e820_ram_end(map, 0);
	uint64_t high_end = e820_ram_end(map, MEM_HIGH_START);
	uint8_t *mm = mbi + MBI_OFF_MMAP;
	int n = map->n < 0 ? 0 : map->n;

	if (n > E820_MAX_ENTRIES)
		n = E820_MAX_ENTRIES;
	put32(mbi + MBI_MEM_LOWER, (uint32_t)(low_end / KIB));
	put32(mbi + MBI_MEM_UPPER, high_end ? (uint32_t)((high_end - MEM_HIGH_START) / KIB) : 0);
	for (int i = 0; i < n; i++, mm += MBI_MMAP_ENTRY_SIZE) {
		put32(mm, MBI_MMAP_SIZE_FIELD);
		put64(mm + 4, map->entry[i].addr);
		put64(mm + 12, map->entry[i].size);
		put32(mm + 20, map->entry[i].type);
	}
	put32(mbi + MBI_MMAP_LENGTH, (uint32_t)n * MBI_MMAP_ENTRY_SIZE);
	put32(mbi + MBI_MMAP_ADDR, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_MMAP));
}

static void mbi_fill(uint8_t *mbi, const struct e820_map *map, uint64_t mod_addr,
		     uint64_t mod_len)
{
	memset(mbi, 0, MBI_AREA_SIZE);
	put32(mbi + MBI_FLAGS, MBI_INFO_MEMORY | MBI_INFO_CMDLINE | MBI_INFO_MODS |
				       MBI_INFO_MMAP | MBI_INFO_LOADER_NAME);
	mbi_fill_memory(mbi, map);
	put32(mbi + MBI_CMDLINE, (uint32_t)BOOT_CMDLINE);
	memcpy(mbi + MBI_OFF_LOADER_NAME, loader_name, sizeof(loader_name));
	put32(mbi + MBI_BOOT_LOADER_NAME, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_LOADER_NAME));
	put32(mbi + MBI_MODS_ADDR, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_MODS));
	if (!mod_len)
		return;
	put32(mbi + MBI_MODS_COUNT, 1);
	put32(mbi + MBI_OFF_MODS, (uint32_t)mod_addr);
	put32(mbi + MBI_OFF_MODS + 4, (uint32_t)(mod_addr + mod_len));
	put32(mbi + MBI_OFF_MODS + 8, (uint32_t)(BOOT_MBI_ADDR + MBI_OFF_MOD_STRING));
	memcpy(mbi + MBI_OFF_MOD_STRING, initrd_name, sizeof(initrd_name));
}

/* Everything was checked: copy the segments, zero their bss. */
static int mb_write_kernel(const struct gmem *gm, const uint8_t *image, const struct mb_kernel *k)
{
	for (int i = 0; i < k->nseg; i++) {
		const struct mb_segment *s = &k->seg[i];
		uint8_t *bss;

		if (gmem_write(gm, s->paddr, image + s->file_off, s->filesz))
			return -EFAULT;
		bss = gmem_ptr(gm, s->paddr + s->filesz, s->memsz - s->filesz);
		if (!bss)
			return -EFAULT;
		memset(bss, 0, s->memsz - s->filesz);
	}
	return 0;
}

static int mb_layout(const struct gmem *gm, const struct e820_map *map,
		     const struct boot_images *img, struct mb_kernel *k, char *err, size_t errlen)
{
	struct mb_header hdr = { 0 };
	int rc = mb_header_parse(img->kernel, img->kernel_len, &hdr, err, errlen);

	if (rc)
		return rc;
	if (hdr.flags & MB_FLAG_AOUT_KLUDGE)
		rc = mb_aout_layout(&hdr, img->kernel_len, k, err, errlen);
	else
		rc = mb_elf_layout(img->kernel, img->kernel_len, k, err, errlen);
	if (rc)
		return rc;
	return mb_check_segments(gm, map, k, err, errlen);
}

int multiboot_load(const struct gmem *gm, const struct e820_map *map,
		   const struct boot_images *img, struct boot_entry *entry, char *err,
		   size_t errlen)
{
	static const char empty[] = "";
	uint8_t mbi[MBI_AREA_SIZE];
	struct mb_kernel k = { 0 };
	uint64_t mod_addr = 0, mod_len = 0;
	size_t cmdline_len;
	int rc;

	if (!gm || !map || !img || !entry || !img->kernel)
		return boot_fail(err, errlen, -EINVAL, "multiboot: no kernel image");
	rc = mb_layout(gm, map, img, &k, err, errlen);
	if (rc)
		return rc;
	if (img->initrd && img->initrd_len) {
		mod_len = img->initrd_len;
		rc = mb_place_module(gm, map, &k, mod_len, &mod_addr, err, errlen);
		if (rc)
			return rc;
	}
	cmdline_len = img->cmdline ? strnlen(img->cmdline, BOOT_CMDLINE_MAX) : 0;
	if (cmdline_len >= BOOT_CMDLINE_MAX)
		return boot_fail(err, errlen, -E2BIG,
				 "multiboot: command line longer than %llu bytes",
				 BOOT_CMDLINE_MAX - 1);
	if (!e820_range_is_ram(map, BOOT_MBI_ADDR, MBI_AREA_SIZE) ||
	    !e820_range_is_ram(map, BOOT_CMDLINE, cmdline_len + 1))
		return boot_fail(err, errlen, -E2BIG, "multiboot: no RAM for the boot information");
	mbi_fill(mbi, map, mod_addr, mod_len);
	if (mb_write_kernel(gm, img->kernel, &k) ||
	    (mod_len && gmem_write(gm, mod_addr, img->initrd, mod_len)) ||
	    gmem_write(gm, BOOT_CMDLINE, img->cmdline ? img->cmdline : empty, cmdline_len) ||
	    gmem_write(gm, BOOT_CMDLINE + cmdline_len, empty, 1) ||
	    gmem_write(gm, BOOT_MBI_ADDR, mbi, MBI_AREA_SIZE))
		return boot_fail(err, errlen, -EFAULT,
				 "multiboot: E820 RAM not backed by guest memory");
	*entry = (struct boot_entry){ .eip = k.entry, .eax = MB_BOOTLOADER_MAGIC,
				      .ebx = (uint32_t)BOOT_MBI_ADDR };
	return 0;
}
