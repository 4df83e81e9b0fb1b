/*
 * An uncompressed ELF64 kernel (Linux's vmlinux) entered through its PVH entry point: the x86
 * HVM direct boot ABI of Xen's public headers (arch-x86/hvm/start_info.h, docs/misc/pvh.pandoc),
 * which Linux implements for any hypervisor (arch/x86/platform/pvh/). The kernel names its
 * 32-bit entry in an ELF note (owner "Xen", type XEN_ELFNOTE_PHYS32_ENTRY); the loader copies
 * the PT_LOAD segments to their physical addresses, builds struct hvm_start_info (version 1, with
 * the memory map) and enters in flat 32-bit protected mode with %ebx pointing to it.
 *
 * Why: on a software CPU the bzImage's XZ decompressor costs more than the rest of the boot
 * (DESIGN.md section 6), and the vmlinux needs none.
 *
 * The image is untrusted input: every header field is checked against the image length, every
 * segment and structure against the E820 map before anything is written.
 */
#include <errno.h>
#include <string.h>

#include "hostvisor/boot.h"
#include "hostvisor/le.h"
#include "boot_error.h"

/* ELF-64 Object File Format 1.5, "File header" and "Program header table". */
#define EI_NIDENT 16
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define EM_X86_64 62
#define EHDR_SIZE 64u
#define EH_MACHINE 18u
#define EH_PHOFF 32u
#define EH_PHENTSIZE 54u
#define EH_PHNUM 56u
#define PHDR_SIZE 56u
#define PH_TYPE 0u
#define PH_OFFSET 8u
#define PH_PADDR 24u
#define PH_FILESZ 32u
#define PH_MEMSZ 40u
#define PT_LOAD 1u
#define PT_NOTE 4u
#define PHNUM_MAX 64u /* vmlinux has 5; more is not a kernel we boot */

/* Xen's public elfnote.h: the note owner and the 32-bit physical entry point. */
#define XEN_NOTE_NAME "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY 18u

/* start_info.h: struct hvm_start_info, hvm_modlist_entry, hvm_memmap_table_entry. */
#define HVM_START_MAGIC 0x336ec578u
#define HVM_START_VERSION 1u
#define SI_MAGIC 0u
#define SI_VERSION 4u
#define SI_NR_MODULES 12u
#define SI_MODLIST_PADDR 16u
#define SI_CMDLINE_PADDR 24u
#define SI_RSDP_PADDR 32u
#define SI_MEMMAP_PADDR 40u
#define SI_MEMMAP_ENTRIES 48u
#define SI_SIZE 56u
#define MOD_SIZE 32u
#define MEMMAP_ENTRY_SIZE 24u

/* Our layout of the start-of-day data, in the low page the bzImage loader uses for boot_params. */
#define PVH_START_INFO BOOT_ZERO_PAGE
#define PVH_MODLIST (PVH_START_INFO + 0x100u)
#define PVH_MEMMAP (PVH_START_INFO + 0x200u)
#define PVH_INFO_SIZE (0x200u + E820_MAX_ENTRIES * MEMMAP_ENTRY_SIZE)

/* Linux's default initrd_addr_max (boot.rst): the initrd ends below 2 GiB. */
#define INITRD_LIMIT 0x80000000ull
#define PAGE_4K 0x1000ull

struct elf_image {
	const uint8_t *data;
	size_t len;
	uint64_t phoff;
	unsigned phnum;
	uint32_t entry;   /* from the PVH note */
	uint64_t top;     /* end of the highest segment in guest memory */
};

static bool range_in_image(const struct elf_image *e, uint64_t off, uint64_t len)
{
	return off <= e->len && len <= e->len - off;
}

static const uint8_t *phdr(const struct elf_image *e, unsigned i)
{
	return e->data + e->phoff + (uint64_t)i * PHDR_SIZE;
}

bool pvh_is_elf_kernel(const uint8_t *image, size_t len)
{
	static const uint8_t magic[4] = { 0x7f, 'E', 'L', 'F' };

	return image && len >= EHDR_SIZE && !memcmp(image, magic, sizeof(magic)) &&
	       image[4] == ELFCLASS64 && image[5] == ELFDATA2LSB &&
	       get16(image + EH_MACHINE) == EM_X86_64;
}

static int elf_parse_header(struct elf_image *e, char *err, size_t errlen)
{
	if (!pvh_is_elf_kernel(e->data, e->len))
		return boot_fail(err, errlen, -EINVAL, "pvh: not an x86-64 ELF image");
	e->phoff = get64(e->data + EH_PHOFF);
	e->phnum = get16(e->data + EH_PHNUM);
	if (get16(e->data + EH_PHENTSIZE) != PHDR_SIZE || e->phnum == 0 || e->phnum > PHNUM_MAX)
		return boot_fail(err, errlen, -EINVAL, "pvh: bad ELF program header table");
	if (!range_in_image(e, e->phoff, (uint64_t)e->phnum * PHDR_SIZE))
		return boot_fail(err, errlen, -EINVAL, "pvh: ELF program headers beyond the file");
	return 0;
}

/* Walks one PT_NOTE segment for the PVH entry; notes are 4-byte aligned (ELF-64, "Note"). */
static bool note_find_entry(const struct elf_image *e, uint64_t off, uint64_t len, uint32_t *entry)
{
	uint64_t end = off + len;

	while (end - off >= 12) {
		uint32_t namesz = get32(e->data + off), descsz = get32(e->data + off + 4);
		uint32_t type = get32(e->data + off + 8);
		uint64_t name = off + 12, desc = name + ((namesz + 3ull) & ~3ull);
		uint64_t next = desc + ((descsz + 3ull) & ~3ull);

		if (next > end)
			return false;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == sizeof(XEN_NOTE_NAME) &&
		    !memcmp(e->data + name, XEN_NOTE_NAME, sizeof(XEN_NOTE_NAME)) && descsz >= 4) {
			*entry = get32(e->data + desc);
			return true;
		}
		off = next;
	}
	return false;
}

static int elf_find_entry(struct elf_image *e, char *err, size_t errlen)
{
	for (unsigned i = 0; i < e->phnum; i++) {
		const uint8_t *ph = phdr(e, i);
		uint64_t off = get64(ph + PH_OFFSET), len = get64(ph + PH_FILESZ);

		if (get32(ph + PH_TYPE) != PT_NOTE || !range_in_image(e, off, len))
			continue;
		if (note_find_entry(e, off, len, &e->entry))
			return 0;
	}
	return boot_fail(err, errlen, -EINVAL,
			 "pvh: the ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

/* Every PT_LOAD must lie in the file and in one RAM range of the map. */
static int elf_check_segments(struct elf_image *e, const struct e820_map *map, char *err,
			      size_t errlen)
{
	bool any = false;

	e->top = 0;
	for (unsigned i = 0; i < e->phnum; i++) {
		const uint8_t *ph = phdr(e, i);
		uint64_t paddr = get64(ph + PH_PADDR), filesz = get64(ph + PH_FILESZ);
		uint64_t memsz = get64(ph + PH_MEMSZ);

		if (get32(ph + PH_TYPE) != PT_LOAD || memsz == 0)
			continue;
		if (filesz > memsz || !range_in_image(e, get64(ph + PH_OFFSET), filesz))
			return boot_fail(err, errlen, -EINVAL, "pvh: ELF segment %u beyond the file",
					 i);
		if (!e820_range_is_ram(map, paddr, memsz) || paddr < MEM_HIGH_START)
			return boot_fail(err, errlen, -E2BIG,
					 "pvh: ELF segment %u (%#llx bytes at %#llx) is not in RAM",
					 i, (unsigned long long)memsz, (unsigned long long)paddr);
		if (paddr + memsz > e->top)
			e->top = paddr + memsz;
		any = true;
	}
	if (!any)
		return boot_fail(err, errlen, -EINVAL, "pvh: ELF kernel has no loadable segment");
	return 0;
}

/* The initrd as high as it fits below 2 GiB, in the RAM range above the kernel. */
static int initrd_place(const struct e820_map *map, uint64_t kernel_top, uint64_t len,
			uint64_t *addrp, char *err, size_t errlen)
{
	uint64_t bottom = (kernel_top + PAGE_4K - 1) & ~(PAGE_4K - 1);
	uint64_t top = e820_ram_end(map, bottom);

	if (top > INITRD_LIMIT)
		top = INITRD_LIMIT;
	if (top <= bottom || len > top - bottom)
		return boot_fail(err, errlen, -E2BIG,
				 "pvh: initrd of %#llx bytes does not fit in RAM above the kernel",
				 (unsigned long long)len);
	*addrp = (top - len) & ~(PAGE_4K - 1);
	return 0;
}

static int write_segments(const struct gmem *gm, const struct elf_image *e)
{
	static const uint8_t zeros[4096];

	for (unsigned i = 0; i < e->phnum; i++) {
		const uint8_t *ph = phdr(e, i);
		uint64_t paddr = get64(ph + PH_PADDR), filesz = get64(ph + PH_FILESZ);
		uint64_t memsz = get64(ph + PH_MEMSZ);

		if (get32(ph + PH_TYPE) != PT_LOAD || memsz == 0)
			continue;
		if (gmem_write(gm, paddr, e->data + get64(ph + PH_OFFSET), filesz))
			return -EFAULT;
		/* The .bss part: RAM may hold a previous boot's bytes after a reset. */
		for (uint64_t at = filesz; at < memsz; at += sizeof(zeros)) {
			uint64_t n = memsz - at < sizeof(zeros) ? memsz - at : sizeof(zeros);

			if (gmem_write(gm, paddr + at, zeros, n))
				return -EFAULT;
		}
	}
	return 0;
}

static void start_info_fill(uint8_t *si, const struct e820_map *map,
			    const struct boot_images *img, uint64_t initrd_addr)
{
	int n = map->n < 0 ? 0 : map->n > E820_MAX_ENTRIES ? E820_MAX_ENTRIES : map->n;
	uint8_t *mod = si + (PVH_MODLIST - PVH_START_INFO);
	uint8_t *mm = si + (PVH_MEMMAP - PVH_START_INFO);

	memset(si, 0, PVH_INFO_SIZE);
	put32(si + SI_MAGIC, HVM_START_MAGIC);
	put32(si + SI_VERSION, HVM_START_VERSION);
	put64(si + SI_CMDLINE_PADDR, BOOT_CMDLINE);
	put64(si + SI_RSDP_PADDR, img->rsdp_addr);
	put64(si + SI_MEMMAP_PADDR, PVH_MEMMAP);
	put32(si + SI_MEMMAP_ENTRIES, (uint32_t)n);
	/* start_info.h: Linux takes module 0 as its initrd. */
	if (initrd_addr) {
		put32(si + SI_NR_MODULES, 1);
		put64(si + SI_MODLIST_PADDR, PVH_MODLIST);
		put64(mod, initrd_addr);
		put64(mod + 8, img->initrd_len);
	}
	for (int i = 0; i < n; i++) {
		put64(mm + i * MEMMAP_ENTRY_SIZE, map->entry[i].addr);
		put64(mm + i * MEMMAP_ENTRY_SIZE + 8, map->entry[i].size);
		put32(mm + i * MEMMAP_ENTRY_SIZE + 16, map->entry[i].type);
	}
}

static int check_low_data(const struct e820_map *map, size_t cmdline_len, char *err,
			  size_t errlen)
{
	if (cmdline_len >= BOOT_CMDLINE_MAX)
		return boot_fail(err, errlen, -E2BIG, "pvh: command line longer than %llu bytes",
				 BOOT_CMDLINE_MAX - 1);
	if (!e820_range_is_ram(map, BOOT_CMDLINE, cmdline_len + 1) ||
	    !e820_range_is_ram(map, PVH_START_INFO, PVH_INFO_SIZE))
		return boot_fail(err, errlen, -E2BIG, "pvh: no low RAM for the start-of-day data");
	return 0;
}

int pvh_load(const struct gmem *gm, const struct e820_map *map, const struct boot_images *img,
	     struct boot_entry *entry, char *err, size_t errlen)
{
	static const char empty[] = "";
	uint8_t si[PVH_INFO_SIZE];
	struct elf_image e = { 0 };
	const char *cmdline;
	uint64_t initrd_addr = 0;
	size_t cmdline_len;
	int rc;

	if (!gm || !map || !img || !entry || !img->kernel)
		return boot_fail(err, errlen, -EINVAL, "pvh: no kernel image");
	cmdline = img->cmdline ? img->cmdline : empty;
	cmdline_len = strnlen(cmdline, BOOT_CMDLINE_MAX);
	e.data = img->kernel;
	e.len = img->kernel_len;
	rc = elf_parse_header(&e, err, errlen);
	if (!rc)
		rc = elf_find_entry(&e, err, errlen);
	if (!rc)
		rc = elf_check_segments(&e, map, err, errlen);
	if (!rc)
		rc = check_low_data(map, cmdline_len, err, errlen);
	if (!rc && img->initrd && img->initrd_len)
		rc = initrd_place(map, e.top, img->initrd_len, &initrd_addr, err, errlen);
	if (rc)
		return rc;
	start_info_fill(si, map, img, initrd_addr);
	if (write_segments(gm, &e) ||
	    (initrd_addr && gmem_write(gm, initrd_addr, img->initrd, img->initrd_len)) ||
	    gmem_write(gm, BOOT_CMDLINE, cmdline, cmdline_len) ||
	    gmem_write(gm, BOOT_CMDLINE + cmdline_len, empty, 1) ||
	    gmem_write(gm, PVH_START_INFO, si, sizeof(si)))
		return boot_fail(err, errlen, -EFAULT, "pvh: E820 RAM not backed by guest memory");
	/* pvh.pandoc: flat 32-bit protected mode, paging off, %ebx = start_info. */
	*entry = (struct boot_entry){ .eip = e.entry, .ebx = (uint32_t)PVH_START_INFO };
	return 0;
}
