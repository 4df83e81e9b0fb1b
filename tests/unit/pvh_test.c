/*
 * The PVH loader against synthetic ELF64 kernels shaped like a vmlinux: a text segment, a data
 * segment with .bss, and a PT_NOTE whose PVH entry note (owner "Xen", type
 * XEN_ELFNOTE_PHYS32_ENTRY) follows notes of other owners and types, as in a real kernel. Then
 * every header, program header and note field broken in turn. Images are heap copies of exactly
 * their length so ASan sees reads past the end; a failed load must leave guest memory untouched.
 *
 * Layouts checked: struct hvm_start_info, hvm_modlist_entry and hvm_memmap_table_entry from
 * Xen's public arch-x86/hvm/start_info.h; notes and program headers from ELF-64 Object File
 * Format 1.5.
 *
 * If the guest kernel has been built (build/guest/vmlinux, or $HV_VMLINUX), one more test loads
 * it; otherwise that test is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_load.h"
#include "hostvisor/boot.h"
#include "hostvisor/le.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)
#define RAM_SIZE (16 * MIB)
#define IMAGE_MAX 0x4000u
#define PAGE 0x1000u

/* ELF-64: file header fields, program header fields, types. */
#define EHDR_SIZE 64u
#define PHDR_SIZE 56u
#define EH_PHOFF 32u
#define EH_PHENTSIZE 54u
#define EH_PHNUM 56u
#define PH_TYPE 0u
#define PH_OFFSET 8u
#define PH_PADDR 24u
#define PH_FILESZ 32u
#define PH_MEMSZ 40u
#define PT_NULL 0u
#define PT_LOAD 1u
#define PT_NOTE 4u
#define PT_GNU_STACK 0x6474e551u
#define XEN_ELFNOTE_PHYS32_ENTRY 18u

/* The image: headers, then the notes, then the two loaded segments ending the file. */
#define PH_TEXT 0x40u
#define PH_DATA (PH_TEXT + PHDR_SIZE)
#define PH_NOTES (PH_DATA + PHDR_SIZE)
#define NOTES_OFF 0x200u /* room for a fourth program header */
#define NOTES_PADDR 0x400000u /* RAM, but a PT_NOTE is not loaded */
#define TEXT_OFF 0x1000u
#define TEXT_SIZE 0x800u
#define TEXT_PADDR 0x200000u
#define DATA_OFF 0x1800u
#define DATA_FILESZ 0x200u
#define DATA_MEMSZ 0x2345u /* bss over two 4 KiB zeroing chunks, and a partial one */
#define DATA_PADDR 0x203000u
#define KERNEL_TOP (DATA_PADDR + DATA_MEMSZ)
#define ELF_LEN (DATA_OFF + DATA_FILESZ)
#define ENTRY (TEXT_PADDR + 0x40u)

/* start_info.h offsets. */
#define HVM_START_MAGIC 0x336ec578u
#define SI_MAGIC 0u
#define SI_VERSION 4u
#define SI_FLAGS 8u
#define SI_NR_MODULES 12u
#define SI_MODLIST_PADDR 16u
#define SI_CMDLINE_PADDR 24u
#define SI_RSDP_PADDR 32u
#define SI_MEMMAP_PADDR 40u
#define SI_MEMMAP_ENTRIES 48u
#define MODLIST_ADDR (BOOT_ZERO_PAGE + 0x100)
#define MEMMAP_ADDR (BOOT_ZERO_PAGE + 0x200)

struct fixture {
	uint8_t *ram;
	struct gmem gm;
	struct e820_map map;
	uint8_t image[IMAGE_MAX];
	size_t len;
	uint32_t pvh_note; /* file offset of the PVH note */
	uint32_t notes_len;
	char err[256];
};

static void put_phdr(uint8_t *ph, uint32_t type, uint64_t off, uint64_t paddr, uint64_t filesz,
		     uint64_t memsz)
{
	memset(ph, 0, PHDR_SIZE);
	put32(ph + PH_TYPE, type);
	put32(ph + 4, 7); /* p_flags RWX */
	put64(ph + PH_OFFSET, off);
	put64(ph + 16, paddr + 0xffffffff80000000ull); /* p_vaddr: the kernel's, not used */
	put64(ph + PH_PADDR, paddr);
	put64(ph + PH_FILESZ, filesz);
	put64(ph + PH_MEMSZ, memsz);
	put64(ph + 48, type == PT_NOTE ? 4 : 0x1000);
}

/* One note; name and desc are padded to 4 bytes. Returns its length in the file. */
static uint32_t put_note(uint8_t *p, const char *name, uint32_t namesz, uint32_t type,
			 const void *desc, uint32_t descsz)
{
	uint32_t name_pad = (namesz + 3) & ~3u, desc_pad = (descsz + 3) & ~3u;

	put32(p, namesz);
	put32(p + 4, descsz);
	put32(p + 8, type);
	memset(p + 12, 0, name_pad + desc_pad);
	memcpy(p + 12, name, namesz);
	memcpy(p + 12 + name_pad, desc, descsz);
	return 12 + name_pad + desc_pad;
}

/* What Linux's .notes holds around the PVH note: other Xen notes, a GNU build id, a Linux note. */
static void put_notes(struct fixture *f, uint32_t entry)
{
	static const uint8_t build_id[20] = { 0xeb, 0x4f, 0xbc, 0xd0 };
	uint8_t *p = f->image + NOTES_OFF, desc[4];
	uint32_t at = 0;

	at += put_note(p + at, "Xen", 4, 6, "linux", 6); /* XEN_ELFNOTE_GUEST_OS */
	at += put_note(p + at, "GNU", 4, 3, build_id, sizeof(build_id));
	at += put_note(p + at, "Linux", 6, 0x100, "\0\0\0\0", 4);
	f->pvh_note = NOTES_OFF + at;
	put32(desc, entry);
	at += put_note(p + at, "Xen", 4, XEN_ELFNOTE_PHYS32_ENTRY, desc, sizeof(desc));
	f->notes_len = at;
}

static void make_elf(struct fixture *f)
{
	uint8_t *e = f->image;

	for (size_t i = 0; i < IMAGE_MAX; i++)
		e[i] = (uint8_t)(i * 13 + 5);
	f->len = ELF_LEN;
	memset(e, 0, TEXT_OFF);
	memcpy(e, "\177ELF", 4);
	e[4] = 2; /* ELFCLASS64 */
	e[5] = 1; /* ELFDATA2LSB */
	e[6] = 1; /* EV_CURRENT */
	put16(e + 16, 2);  /* ET_EXEC */
	put16(e + 18, 62); /* EM_X86_64 */
	put32(e + 20, 1);
	put64(e + 24, 0xffffffff81000000ull); /* e_entry: the 64-bit entry, not used by PVH */
	put64(e + EH_PHOFF, PH_TEXT);
	put16(e + 52, EHDR_SIZE);
	put16(e + EH_PHENTSIZE, PHDR_SIZE);
	put16(e + EH_PHNUM, 3);
	put_notes(f, ENTRY);
	put_phdr(e + PH_TEXT, PT_LOAD, TEXT_OFF, TEXT_PADDR, TEXT_SIZE, TEXT_SIZE);
	put_phdr(e + PH_DATA, PT_LOAD, DATA_OFF, DATA_PADDR, DATA_FILESZ, DATA_MEMSZ);
	put_phdr(e + PH_NOTES, PT_NOTE, NOTES_OFF, NOTES_PADDR, f->notes_len, f->notes_len);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	assert_int_equal(gmem_add_region(&f->gm, 0, RAM_SIZE, f->ram), 0);
	e820_build(&f->map, RAM_SIZE);
	make_elf(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram);
	free(f);
	return 0;
}

static int load_into(struct fixture *f, const struct gmem *gm, const struct e820_map *map,
		     size_t len, const struct boot_images *extra, struct boot_entry *entry)
{
	return boot_load_copy(pvh_load, gm, map, f->image, len, extra, entry, f->err,
			      sizeof(f->err));
}

static int load_len(struct fixture *f, size_t len, const struct boot_images *extra,
		    struct boot_entry *entry)
{
	return load_into(f, &f->gm, &f->map, len, extra, entry);
}

static int load(struct fixture *f, const struct boot_images *extra, struct boot_entry *entry)
{
	return load_len(f, f->len, extra, entry);
}

static bool ram_untouched(const struct fixture *f)
{
	static const uint8_t zero[PAGE];

	for (uint64_t at = 0; at < RAM_SIZE; at += PAGE)
		if (memcmp(f->ram + at, zero, PAGE))
			return false;
	return true;
}

/* One line that says why: not empty, no newline (the caller prints it as is). */
static void assert_one_line(const char *err)
{
	assert_true(strlen(err) > 0);
	assert_null(strchr(err, '\n'));
}

/* The load fails with rc, says why, and writes nothing. */
static void expect_reject_with(struct fixture *f, const struct boot_images *extra, int rc)
{
	struct boot_entry entry = { 0 };

	assert_int_equal(load(f, extra, &entry), rc);
	assert_one_line(f->err);
	assert_true(ram_untouched(f));
	assert_int_equal(entry.eip, 0);
}

static void expect_reject(struct fixture *f, int rc)
{
	expect_reject_with(f, NULL, rc);
}

static const uint8_t *start_info(const struct fixture *f)
{
	return f->ram + BOOT_ZERO_PAGE;
}

static uint8_t *phdr(struct fixture *f, uint32_t at)
{
	return f->image + at;
}

static void test_recognise(void **state)
{
	struct fixture *f = *state;

	assert_true(pvh_is_elf_kernel(f->image, f->len));
	assert_true(pvh_is_elf_kernel(f->image, EHDR_SIZE));
	assert_false(pvh_is_elf_kernel(f->image, EHDR_SIZE - 1)); /* short file */
	assert_false(pvh_is_elf_kernel(NULL, 0));
	assert_false(pvh_is_elf_kernel(NULL, ELF_LEN));
	f->image[4] = 1; /* ELFCLASS32 */
	assert_false(pvh_is_elf_kernel(f->image, f->len));
	make_elf(f);
	f->image[5] = 2; /* ELFDATA2MSB */
	assert_false(pvh_is_elf_kernel(f->image, f->len));
	make_elf(f);
	put16(f->image + 18, 3); /* EM_386 */
	assert_false(pvh_is_elf_kernel(f->image, f->len));
	make_elf(f);
	f->image[3] = 'f';
	assert_false(pvh_is_elf_kernel(f->image, f->len));
}

/* Segments at p_paddr, .bss cleared even over a previous boot's bytes, and nothing beyond. */
static void test_load_segments(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	memset(f->ram + DATA_PADDR, 0xcc, DATA_MEMSZ + 16);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_memory_equal(f->ram + TEXT_PADDR, f->image + TEXT_OFF, TEXT_SIZE);
	assert_memory_equal(f->ram + DATA_PADDR, f->image + DATA_OFF, DATA_FILESZ);
	for (unsigned i = DATA_FILESZ; i < DATA_MEMSZ; i++)
		assert_int_equal(f->ram[DATA_PADDR + i], 0);
	assert_int_equal(f->ram[DATA_PADDR + DATA_MEMSZ], 0xcc);
	/* The note segment is not loaded, though its p_paddr is RAM. */
	for (unsigned i = 0; i < f->notes_len; i++)
		assert_int_equal(f->ram[NOTES_PADDR + i], 0);
	assert_int_equal(f->ram[TEXT_PADDR + TEXT_SIZE], 0);
}

/* pvh.pandoc: 32-bit entry at the note's address with %ebx = start_info, nothing else. */
static void test_entry_registers(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry = { .eax = 1, .esi = 1 };

	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(entry.eip, ENTRY);
	assert_int_equal(entry.ebx, BOOT_ZERO_PAGE);
	assert_int_equal(entry.eax, 0);
	assert_int_equal(entry.esi, 0);
}

static void test_start_info(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .cmdline = "console=ttyS0 earlyprintk", .rsdp_addr = 0xe0000 };
	const uint8_t *si = start_info(f), *mm;
	struct boot_entry entry;

	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(si + SI_MAGIC), HVM_START_MAGIC);
	assert_int_equal(get32(si + SI_VERSION), 1);
	assert_int_equal(get32(si + SI_FLAGS), 0);
	assert_int_equal(get64(si + SI_CMDLINE_PADDR), BOOT_CMDLINE);
	assert_string_equal((const char *)f->ram + BOOT_CMDLINE, img.cmdline);
	assert_int_equal(get64(si + SI_RSDP_PADDR), 0xe0000);
	/* No initrd: no modules, and no list to point at. */
	assert_int_equal(get32(si + SI_NR_MODULES), 0);
	assert_int_equal(get64(si + SI_MODLIST_PADDR), 0);
	/* The memory map: one 24-byte hvm_memmap_table_entry per E820 entry, same order. */
	assert_int_equal(get64(si + SI_MEMMAP_PADDR), MEMMAP_ADDR);
	assert_int_equal(get32(si + SI_MEMMAP_ENTRIES), (uint32_t)f->map.n);
	assert_true(f->map.n >= 4);
	mm = f->ram + MEMMAP_ADDR;
	for (int i = 0; i < f->map.n; i++, mm += 24) {
		assert_int_equal(get64(mm), f->map.entry[i].addr);
		assert_int_equal(get64(mm + 8), f->map.entry[i].size);
		assert_int_equal(get32(mm + 16), f->map.entry[i].type);
		assert_int_equal(get32(mm + 20), 0);
	}
}

static void test_null_cmdline_is_empty(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	f->ram[BOOT_CMDLINE] = 'x';
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(f->ram[BOOT_CMDLINE], 0);
	assert_int_equal(get64(start_info(f) + SI_CMDLINE_PADDR), BOOT_CMDLINE);
	assert_int_equal(get64(start_info(f) + SI_RSDP_PADDR), 0);
}

static void fill_initrd(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 3 + 1);
}

/* Returns the module's address after checking the list holds exactly it. */
static uint64_t module0(const struct fixture *f, size_t len)
{
	const uint8_t *si = start_info(f), *mod = f->ram + MODLIST_ADDR;

	assert_int_equal(get32(si + SI_NR_MODULES), 1);
	assert_int_equal(get64(si + SI_MODLIST_PADDR), MODLIST_ADDR);
	assert_int_equal(get64(mod + 8), len);
	assert_int_equal(get64(mod + 16), 0); /* no module command line */
	assert_int_equal(get64(mod + 24), 0);
	return get64(mod);
}

/* start_info.h: Linux takes module 0 as its initrd; ours goes page aligned above the kernel. */
static void test_initrd_module(void **state)
{
	struct fixture *f = *state;
	uint8_t initrd[5000];
	struct boot_images img = { .initrd = initrd, .initrd_len = sizeof(initrd) };
	struct boot_entry entry;
	uint64_t addr;

	fill_initrd(initrd, sizeof(initrd));
	assert_int_equal(load(f, &img, &entry), 0);
	addr = module0(f, sizeof(initrd));
	assert_int_equal(addr % PAGE, 0);
	assert_true(addr >= KERNEL_TOP);
	assert_true(addr + sizeof(initrd) <= RAM_SIZE);
	assert_memory_equal(f->ram + addr, initrd, sizeof(initrd));
	/* The kernel stays as loaded. */
	assert_memory_equal(f->ram + DATA_PADDR, f->image + DATA_OFF, DATA_FILESZ);
	assert_int_equal(entry.eip, ENTRY);
}

static void test_empty_initrd_ignored(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .initrd = f->image, .initrd_len = 0 };
	struct boot_entry entry;

	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(start_info(f) + SI_NR_MODULES), 0);
	assert_int_equal(get64(start_info(f) + SI_MODLIST_PADDR), 0);
}

/* A second boot after a reset: nothing of the first start_info survives. */
static void test_start_info_rewritten(void **state)
{
	struct fixture *f = *state;
	uint8_t initrd[100];
	struct boot_images img = { .initrd = initrd, .initrd_len = sizeof(initrd) };
	struct boot_entry entry;

	fill_initrd(initrd, sizeof(initrd));
	assert_int_equal(load(f, &img, &entry), 0);
	memset(f->ram + BOOT_ZERO_PAGE + SI_FLAGS, 0xee, 4);
	memset(f->ram + BOOT_ZERO_PAGE + 52, 0xee, 4); /* reserved after memmap_entries */
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(get32(start_info(f) + SI_FLAGS), 0);
	assert_int_equal(get32(start_info(f) + 52), 0);
	assert_int_equal(get32(start_info(f) + SI_NR_MODULES), 0);
	assert_int_equal(get64(f->ram + MODLIST_ADDR), 0);
	assert_int_equal(get64(f->ram + MODLIST_ADDR + 8), 0);
}

/* With RAM past 2 GiB the initrd ends below 2 GiB (Linux's default initrd_addr_max). */
static void test_initrd_below_2g(void **state)
{
	struct fixture *f = *state;
	uint8_t initrd[0x2345];
	struct boot_images img = { .initrd = initrd, .initrd_len = sizeof(initrd) };
	const uint64_t window = 2 * GIB - MIB;
	uint8_t *high = calloc(1, MIB);
	struct boot_entry entry;
	struct e820_map map;
	struct gmem gm = f->gm;
	uint64_t addr;

	/* A 4 GiB map, backed only where the loader may write: low RAM and the MiB below 2 GiB. */
	assert_non_null(high);
	assert_int_equal(gmem_add_region(&gm, window, MIB, high), 0);
	e820_build(&map, 4 * GIB);
	fill_initrd(initrd, sizeof(initrd));
	assert_int_equal(load_into(f, &gm, &map, f->len, &img, &entry), 0);
	addr = module0(f, sizeof(initrd));
	assert_int_equal(addr % PAGE, 0);
	assert_true(addr >= window);
	assert_true(addr + sizeof(initrd) <= 2 * GIB);
	assert_true(addr + sizeof(initrd) > 2 * GIB - PAGE); /* as high as it fits */
	assert_memory_equal(high + (addr - window), initrd, sizeof(initrd));
	assert_int_equal(get32(start_info(f) + SI_MEMMAP_ENTRIES), (uint32_t)map.n);
	free(high);
}

/* The kernel's .bss ends 0x10 bytes into the third page from the top of RAM. */
static void make_kernel_near_top(struct fixture *f)
{
	put64(phdr(f, PH_DATA) + PH_MEMSZ, RAM_SIZE - 0x3000 + 0x10 - DATA_PADDR);
}

/* The first page boundary above the kernel is the lowest the initrd may start. */
static void test_initrd_tight_fit(void **state)
{
	struct fixture *f = *state;
	uint8_t *initrd = malloc(0x2001);
	struct boot_images img = { .initrd = initrd, .initrd_len = 0x2000 };
	struct boot_entry entry;

	assert_non_null(initrd);
	fill_initrd(initrd, 0x2001);
	make_kernel_near_top(f);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(module0(f, 0x2000), RAM_SIZE - 0x2000);
	assert_memory_equal(f->ram + RAM_SIZE - 0x2000, initrd, 0x2000);
	memset(f->ram, 0, RAM_SIZE);
	img.initrd_len = 0x2001;
	expect_reject_with(f, &img, -E2BIG);
	free(initrd);
}

static void test_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .initrd = f->image, .initrd_len = RAM_SIZE - KERNEL_TOP };

	expect_reject_with(f, &img, -E2BIG);
	img.initrd_len = SIZE_MAX;
	expect_reject_with(f, &img, -E2BIG);
	/* Kernel ends exactly at the end of RAM: nowhere above it. */
	put64(phdr(f, PH_DATA) + PH_MEMSZ, RAM_SIZE - DATA_PADDR);
	img.initrd_len = 1;
	expect_reject_with(f, &img, -E2BIG);
}

/* Note walking: other owners, other types, several PT_NOTE segments, an 8-byte descriptor. */
static void test_note_in_second_segment(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;
	uint8_t desc[8];
	uint32_t len;

	/* The first PT_NOTE holds everything but the PVH note; a second one at 0x400 holds it
	 * with a 64-bit descriptor, as the guest kernel (guest/build.sh) has it. */
	put64(phdr(f, PH_NOTES) + PH_FILESZ, f->pvh_note - NOTES_OFF);
	put64(desc, 0x00201234u);
	len = put_note(f->image + 0x400, "Xen", 4, XEN_ELFNOTE_PHYS32_ENTRY, desc, sizeof(desc));
	put16(f->image + EH_PHNUM, 4);
	put_phdr(f->image + PH_NOTES + PHDR_SIZE, PT_NOTE, 0x400, 0, len, len);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(entry.eip, 0x00201234u);
}

/* The first matching note wins; a note of another type with the same owner is passed over. */
static void test_note_first_match(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	put32(f->image + NOTES_OFF + 8, XEN_ELFNOTE_PHYS32_ENTRY); /* "linux" as the entry */
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(entry.eip, get32((const uint8_t *)"linux"));
}

static void test_reject_no_pvh_note(void **state)
{
	struct fixture *f = *state;
	uint8_t *note = f->image + f->pvh_note;

	put32(note + 8, 17); /* another Xen note type */
	expect_reject(f, -EINVAL);
	assert_non_null(strstr(f->err, "PVH"));
	make_elf(f);
	memcpy(f->image + f->pvh_note + 12, "XEN", 4); /* another owner */
	expect_reject(f, -EINVAL);
	make_elf(f);
	put32(f->image + f->pvh_note, 3); /* "Xen" without its NUL */
	expect_reject(f, -EINVAL);
	make_elf(f);
	put32(f->image + f->pvh_note + 4, 3); /* descriptor shorter than the 32-bit entry */
	expect_reject(f, -EINVAL);
	make_elf(f);
	put32(phdr(f, PH_NOTES) + PH_TYPE, PT_NULL); /* the notes not in a PT_NOTE */
	expect_reject(f, -EINVAL);
	make_elf(f);
	put64(phdr(f, PH_NOTES) + PH_OFFSET, ELF_LEN - 8); /* PT_NOTE past the end: ignored */
	expect_reject(f, -EINVAL);
}

static void test_reject_note_truncated(void **state)
{
	struct fixture *f = *state;

	/* The segment ends inside the PVH note's descriptor, then inside its header. */
	put64(phdr(f, PH_NOTES) + PH_FILESZ, f->notes_len - 1);
	expect_reject(f, -EINVAL);
	put64(phdr(f, PH_NOTES) + PH_FILESZ, f->pvh_note - NOTES_OFF + 11);
	expect_reject(f, -EINVAL);
	/* A size field reaching past the segment, before and at the PVH note. */
	make_elf(f);
	put32(f->image + NOTES_OFF + 4, 0x1000);
	expect_reject(f, -EINVAL);
	make_elf(f);
	put32(f->image + NOTES_OFF, 0xffffffff);
	expect_reject(f, -EINVAL);
	make_elf(f);
	put32(f->image + f->pvh_note + 4, 0xfffffffd);
	expect_reject(f, -EINVAL);
	make_elf(f);
	put32(f->image + f->pvh_note + 4, 8); /* desc 8 needs 4 bytes the segment lacks */
	expect_reject(f, -EINVAL);
}

static void test_reject_phdr_table(void **state)
{
	struct fixture *f = *state;

	put16(f->image + EH_PHENTSIZE, PHDR_SIZE - 1);
	expect_reject(f, -EINVAL);
	put16(f->image + EH_PHENTSIZE, PHDR_SIZE + 8);
	expect_reject(f, -EINVAL);
	put16(f->image + EH_PHENTSIZE, 32); /* the ELF32 size */
	expect_reject(f, -EINVAL);
	make_elf(f);
	put16(f->image + EH_PHNUM, 0);
	expect_reject(f, -EINVAL);
	put16(f->image + EH_PHNUM, 65);
	expect_reject(f, -EINVAL);
	put16(f->image + EH_PHNUM, 0xffff); /* PN_XNUM: the count would be in a section header */
	expect_reject(f, -EINVAL);
}

/* 64 program headers are the most a kernel we boot has; the rest are PT_NULL here. */
static void test_phnum_limit(void **state)
{
	struct fixture *f = *state;
	const uint32_t table = 0x2000;
	struct boot_entry entry;

	f->len = table + 64 * PHDR_SIZE;
	memcpy(f->image + table, f->image + PH_TEXT, 3 * PHDR_SIZE);
	memset(f->image + table + 3 * PHDR_SIZE, 0, 61 * PHDR_SIZE);
	put64(f->image + EH_PHOFF, table);
	put16(f->image + EH_PHNUM, 64);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(entry.eip, ENTRY);
	memset(f->ram, 0, RAM_SIZE);
	put16(f->image + EH_PHNUM, 65);
	f->len += PHDR_SIZE;
	memset(f->image + table + 64 * PHDR_SIZE, 0, PHDR_SIZE);
	expect_reject(f, -EINVAL);
}

static void test_reject_phdrs_beyond_file(void **state)
{
	struct fixture *f = *state;

	put64(f->image + EH_PHOFF, ELF_LEN - 3 * PHDR_SIZE + 1);
	expect_reject(f, -EINVAL);
	put64(f->image + EH_PHOFF, ELF_LEN);
	expect_reject(f, -EINVAL);
	put64(f->image + EH_PHOFF, 0xffffffffffffff00ull); /* offset + size wraps */
	expect_reject(f, -EINVAL);
	put64(f->image + EH_PHOFF, 0x8000000000000000ull);
	expect_reject(f, -EINVAL);
}

static void test_reject_segment_beyond_file(void **state)
{
	struct fixture *f = *state;
	uint8_t *ph = phdr(f, PH_DATA);

	put64(ph + PH_OFFSET, ELF_LEN - DATA_FILESZ + 1); /* data one byte past the end */
	expect_reject(f, -EINVAL);
	put64(ph + PH_OFFSET, ELF_LEN + 1); /* starts past the end */
	expect_reject(f, -EINVAL);
	put64(ph + PH_OFFSET, 0xffffffffffffff00ull); /* offset + filesz wraps */
	expect_reject(f, -EINVAL);
	make_elf(f);
	put64(phdr(f, PH_DATA) + PH_FILESZ, ELF_LEN); /* filesz past the end, memsz bigger */
	put64(phdr(f, PH_DATA) + PH_MEMSZ, 0x10000);
	expect_reject(f, -EINVAL);
}

static void test_reject_filesz_above_memsz(void **state)
{
	struct fixture *f = *state;

	put64(phdr(f, PH_DATA) + PH_MEMSZ, DATA_FILESZ - 1);
	expect_reject(f, -EINVAL);
	put64(phdr(f, PH_TEXT) + PH_MEMSZ, TEXT_SIZE - 1);
	put64(phdr(f, PH_DATA) + PH_MEMSZ, DATA_MEMSZ);
	expect_reject(f, -EINVAL);
}

/* The data segment moved to paddr, all .bss, so only its address range matters. */
static void expect_segment_rejected(struct fixture *f, uint64_t paddr, uint64_t memsz)
{
	make_elf(f);
	put64(phdr(f, PH_DATA) + PH_PADDR, paddr);
	put64(phdr(f, PH_DATA) + PH_FILESZ, 0);
	put64(phdr(f, PH_DATA) + PH_MEMSZ, memsz);
	expect_reject(f, -E2BIG);
	assert_non_null(strstr(f->err, "segment 1"));
}

static void test_reject_segment_outside_ram(void **state)
{
	struct fixture *f = *state;

	expect_segment_rejected(f, RAM_SIZE - 0x1000, 0x1001); /* one byte past RAM */
	expect_segment_rejected(f, RAM_SIZE, 0x1000);          /* above RAM */
	expect_segment_rejected(f, 0xfec00000, 0x1000);        /* I/O APIC */
	expect_segment_rejected(f, 4 * GIB, 0x1000);           /* no high RAM in 16 MiB */
	expect_segment_rejected(f, TEXT_PADDR, 0xffffffffffffffffull);
}

/* Low RAM holds the start-of-day data and the command line; the kernel stays above 1 MiB. */
static void test_reject_segment_below_1m(void **state)
{
	struct fixture *f = *state;

	expect_segment_rejected(f, BOOT_ZERO_PAGE, 0x1000); /* start_info */
	expect_segment_rejected(f, BOOT_CMDLINE, 0x100);    /* command line */
	expect_segment_rejected(f, 0x1000, 0x1000);         /* RAM, but low */
	expect_segment_rejected(f, 0x9f000, 0x1000);        /* into the EBDA */
	expect_segment_rejected(f, 0xff000, 0x2000);        /* BIOS area across 1 MiB */
	expect_segment_rejected(f, 0, 0x100);
}

static void test_reject_segment_wraps(void **state)
{
	struct fixture *f = *state;

	expect_segment_rejected(f, 0xfffffffffffff000ull, 0x2000);
	expect_segment_rejected(f, 0xffffffffffffffffull, 2);
	expect_segment_rejected(f, 0xfffff000, 0x2000); /* wraps in 32 bits only */
}

/* Only PT_LOAD with a size is loaded; other types' fields are not checked. */
static void test_skips_other_segments(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;
	uint8_t *table = f->image + 0x2000;

	f->len = 0x2000 + 6 * PHDR_SIZE;
	memcpy(table, f->image + PH_TEXT, 3 * PHDR_SIZE);
	put_phdr(table + 3 * PHDR_SIZE, PT_LOAD, 0xffffffff00, 0xfffffffffffff000ull, 0, 0);
	put_phdr(table + 4 * PHDR_SIZE, PT_GNU_STACK, 0xffffffff00, 0x8000, 0x10000, 0);
	put_phdr(table + 5 * PHDR_SIZE, PT_NULL, 0xffffffff00, 0, 0xffff, 0xffffffff);
	put64(f->image + EH_PHOFF, 0x2000);
	put16(f->image + EH_PHNUM, 6);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(f->ram[0x8000], 0);
	assert_memory_equal(f->ram + TEXT_PADDR, f->image + TEXT_OFF, TEXT_SIZE);
}

static void test_reject_no_loadable_segment(void **state)
{
	struct fixture *f = *state;

	put64(phdr(f, PH_TEXT) + PH_FILESZ, 0);
	put64(phdr(f, PH_TEXT) + PH_MEMSZ, 0);
	put32(phdr(f, PH_DATA) + PH_TYPE, PT_GNU_STACK);
	expect_reject(f, -EINVAL);
}

static void test_cmdline_limits(void **state)
{
	struct fixture *f = *state;
	char *line = malloc(BOOT_CMDLINE_MAX + 1);
	struct boot_images img = { .cmdline = line };
	struct boot_entry entry;

	assert_non_null(line);
	memset(line, 'a', BOOT_CMDLINE_MAX);
	line[BOOT_CMDLINE_MAX] = 0;
	expect_reject_with(f, &img, -E2BIG);
	line[BOOT_CMDLINE_MAX - 1] = 0;
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(strlen((char *)f->ram + BOOT_CMDLINE), BOOT_CMDLINE_MAX - 1);
	free(line);
}

/* No RAM for start_info or the command line: refused before the kernel is copied. */
static void test_reject_small_ram(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .cmdline = "a command line longer than sixteen bytes" };
	struct boot_entry entry;
	struct e820_map map = f->map;

	map.entry[0].size = BOOT_ZERO_PAGE + 0x100; /* low RAM ends inside start_info's area */
	assert_int_equal(load_into(f, &f->gm, &map, f->len, NULL, &entry), -E2BIG);
	assert_one_line(f->err);
	map.entry[0].size = BOOT_CMDLINE + 0x10; /* start_info fits, the command line does not */
	assert_int_equal(load_into(f, &f->gm, &map, f->len, &img, &entry), -E2BIG);
	assert_one_line(f->err);
	assert_true(ram_untouched(f));
}

static void test_null_arguments(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .kernel = f->image, .kernel_len = f->len };
	struct boot_entry entry;

	assert_true(boot_rejects_null_arguments(pvh_load, &f->gm, &f->map, &img));
	img.kernel = NULL;
	assert_int_equal(pvh_load(&f->gm, &f->map, &img, &entry, f->err, sizeof(f->err)),
			 -EINVAL);
	assert_one_line(f->err);
	assert_true(ram_untouched(f));
}

/* Every prefix of the image fails (its last segment ends at the end of the file). */
static void test_every_truncation(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	for (size_t len = 0; len < ELF_LEN; len++) {
		assert_true(load_len(f, len, NULL, &entry) < 0);
		assert_one_line(f->err);
	}
	assert_true(ram_untouched(f));
	assert_int_equal(load_len(f, ELF_LEN, NULL, &entry), 0);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0) {
		data = malloc((size_t)size);
		if (data && fread(data, 1, (size_t)size, fp) != (size_t)size) {
			free(data);
			data = NULL;
		}
		*len = (size_t)size;
	}
	fclose(fp);
	return data;
}

/* The PVH note found by its bytes alone (4-byte aligned, as notes are), not by the loader's walk
 * through the program headers. 0 if the image has none. */
static uint32_t scan_pvh_note(const uint8_t *image, size_t len)
{
	for (size_t at = 0; at + 20 <= len; at += 4)
		if (get32(image + at) == 4 && get32(image + at + 4) >= 4 &&
		    get32(image + at + 8) == XEN_ELFNOTE_PHYS32_ENTRY &&
		    !memcmp(image + at + 12, "Xen", 4))
			return get32(image + at + 16);
	return 0;
}

/* The first page of every PT_LOAD segment is in guest RAM at its p_paddr. */
static void assert_segments_loaded(const uint8_t *ram, const uint8_t *image)
{
	uint64_t phoff = get64(image + EH_PHOFF);

	for (unsigned i = 0; i < get16(image + EH_PHNUM); i++) {
		const uint8_t *ph = image + phoff + i * PHDR_SIZE;
		uint64_t n = get64(ph + PH_FILESZ) < PAGE ? get64(ph + PH_FILESZ) : PAGE;

		if (get32(ph + PH_TYPE) == PT_LOAD)
			assert_memory_equal(ram + get64(ph + PH_PADDR),
					    image + get64(ph + PH_OFFSET), n);
	}
}

static const char *guest_vmlinux_path(void)
{
	const char *env = getenv("HV_VMLINUX");

#ifdef HV_SOURCE_ROOT
	return env ? env : HV_SOURCE_ROOT "/build/guest/vmlinux";
#else
	return env;
#endif
}

/* The real guest kernel (guest/build.sh) in a 256 MiB guest with its initrd-sized module. */
static void test_guest_vmlinux(void **state)
{
	const uint64_t ram_size = 256 * MIB;
	const char *path = guest_vmlinux_path();
	struct boot_images img = { .cmdline = "console=ttyS0" };
	struct boot_entry entry;
	struct e820_map map;
	struct gmem gm = { 0 };
	uint8_t *image, *ram, initrd[4096];
	char err[256] = "";
	size_t len = 0;
	uint32_t note_entry;

	(void)state;
	image = path ? read_file(path, &len) : NULL;
	if (!image) {
		print_message("SKIPPED: pvh_test: no guest kernel at %s (make guest builds it)\n",
			      path ? path : "build/guest/vmlinux");
		skip();
	}
	note_entry = scan_pvh_note(image, len);
	assert_true(pvh_is_elf_kernel(image, len));
	assert_int_not_equal(note_entry, 0);
	ram = calloc(1, ram_size);
	assert_non_null(ram);
	assert_int_equal(gmem_add_region(&gm, 0, ram_size, ram), 0);
	e820_build(&map, ram_size);
	fill_initrd(initrd, sizeof(initrd));
	img.initrd = initrd;
	img.initrd_len = sizeof(initrd);
	assert_int_equal(boot_load_copy(pvh_load, &gm, &map, image, len, &img, &entry, err,
					sizeof(err)), 0);
	assert_int_equal(entry.eip, note_entry);
	assert_int_equal(entry.ebx, BOOT_ZERO_PAGE);
	assert_int_equal(get32(ram + BOOT_ZERO_PAGE), HVM_START_MAGIC);
	assert_int_equal(get32(ram + BOOT_ZERO_PAGE + SI_NR_MODULES), 1);
	assert_segments_loaded(ram, image);
	free(ram);
	free(image);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recognise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entry_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_cmdline_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_initrd_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_info_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_below_2g, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_tight_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_in_second_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_note_first_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_no_pvh_note, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_note_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_phdr_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phnum_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_phdrs_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_segment_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_filesz_above_memsz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_segment_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_segment_below_1m, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_segment_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skips_other_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_no_loadable_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_small_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
		cmocka_unit_test(test_guest_vmlinux),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
