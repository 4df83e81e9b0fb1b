/*
 * The Multiboot v1 loader against synthetic kernels: an a.out-kludge image, an ELF32 image
 * (identity and higher-half), then every header and program header field broken in turn.
 * Images are heap copies of exactly their length so ASan sees reads past the end; a failed load
 * must leave guest memory untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot_load.h"
#include "hostvisor/boot.h"
#include "hostvisor/le.h"

#define MIB (1024ull * 1024)
#define RAM_SIZE (16 * MIB)
#define IMAGE_MAX 0x4000u
#define MB_MAGIC 0x1badb002u
#define MB_AOUT (1u << 16)

/* The a.out-kludge image: header at AOUT_HDR_OFF, loaded at 1 MiB, bss after it. */
#define AOUT_LEN 0x2000u
#define AOUT_HDR_OFF 0x40u
#define AOUT_BSS 0x3000u
#define AOUT_ENTRY 0x100100u

/* The ELF image: two load segments, the second with bss; header inside the first. */
#define ELF_LEN 0x1a00u
#define ELF_SEG1_OFF 0x1000u
#define ELF_SEG1_SIZE 0x800u
#define ELF_SEG1_PADDR 0x100000u
#define ELF_SEG2_OFF 0x1800u
#define ELF_SEG2_FILESZ 0x200u
#define ELF_SEG2_MEMSZ 0x2000u
#define ELF_SEG2_PADDR 0x102000u
#define ELF_PH1 52u
#define ELF_PH2 (52u + 32u)

struct fixture {
	uint8_t *ram;
	struct gmem gm;
	struct e820_map map;
	uint8_t image[IMAGE_MAX];
	size_t len;
	char err[256];
};

static void put_mb_header(uint8_t *p, uint32_t flags)
{
	put32(p, MB_MAGIC);
	put32(p + 4, flags);
	put32(p + 8, (uint32_t)-(MB_MAGIC + flags));
}

static void fill_pattern(struct fixture *f)
{
	for (size_t i = 0; i < IMAGE_MAX; i++)
		f->image[i] = (uint8_t)(i * 13 + 5);
}

static void make_aout(struct fixture *f, uint32_t flags)
{
	uint8_t *h = f->image + AOUT_HDR_OFF;

	fill_pattern(f);
	f->len = AOUT_LEN;
	put_mb_header(h, flags | MB_AOUT);
	put32(h + 12, 0x100000 + AOUT_HDR_OFF); /* header_addr */
	put32(h + 16, 0x100000);                /* load_addr */
	put32(h + 20, 0);                       /* load_end_addr: the whole file */
	put32(h + 24, 0x100000 + AOUT_LEN + AOUT_BSS);
	put32(h + 28, AOUT_ENTRY);
}

static void put_phdr(uint8_t *ph, uint32_t off, uint32_t vaddr, uint32_t paddr, uint32_t filesz,
		     uint32_t memsz)
{
	memset(ph, 0, 32);
	put32(ph, 1); /* PT_LOAD */
	put32(ph + 4, off);
	put32(ph + 8, vaddr);
	put32(ph + 12, paddr);
	put32(ph + 16, filesz);
	put32(ph + 20, memsz);
	put32(ph + 24, 7);
	put32(ph + 28, 0x1000);
}

/* vbase: virtual minus physical address (0 for identity, 0xc0000000 for a higher-half kernel). */
static void make_elf(struct fixture *f, uint32_t vbase)
{
	uint8_t *e = f->image;

	fill_pattern(f);
	f->len = ELF_LEN;
	memset(e, 0, 0x100);
	memcpy(e, "\177ELF", 4);
	e[4] = 1; /* ELFCLASS32 */
	e[5] = 1; /* little-endian */
	e[6] = 1;
	put16(e + 16, 2); /* ET_EXEC */
	put16(e + 18, 3); /* EM_386 */
	put32(e + 20, 1);
	put32(e + 24, vbase + ELF_SEG1_PADDR + 0x10);
	put32(e + 28, ELF_PH1);
	put16(e + 40, 52);
	put16(e + 42, 32);
	put16(e + 44, 2);
	put_phdr(e + ELF_PH1, ELF_SEG1_OFF, vbase + ELF_SEG1_PADDR, ELF_SEG1_PADDR, ELF_SEG1_SIZE,
		 ELF_SEG1_SIZE);
	put_phdr(e + ELF_PH2, ELF_SEG2_OFF, vbase + ELF_SEG2_PADDR, ELF_SEG2_PADDR,
		 ELF_SEG2_FILESZ, ELF_SEG2_MEMSZ);
	put_mb_header(e + ELF_SEG1_OFF + 8, 0x3);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	assert_int_equal(gmem_add_region(&f->gm, 0, RAM_SIZE, f->ram), 0);
	e820_build(&f->map, RAM_SIZE);
	make_aout(f, 0x3);
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

static int load_len(struct fixture *f, size_t len, const struct boot_images *extra,
		    struct boot_entry *entry)
{
	return boot_load_copy(multiboot_load, &f->gm, &f->map, f->image, len, extra, entry, f->err,
			      sizeof(f->err));
}

static int load(struct fixture *f, const struct boot_images *extra, struct boot_entry *entry)
{
	return load_len(f, f->len, extra, entry);
}

static bool ram_untouched(const struct fixture *f)
{
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		if (f->ram[i])
			return false;
	return true;
}

static void expect_reject(struct fixture *f, int rc)
{
	struct boot_entry entry;

	assert_int_equal(load(f, NULL, &entry), rc);
	assert_true(strlen(f->err) > 0);
	assert_true(ram_untouched(f));
}

static const uint8_t *mbi(const struct fixture *f)
{
	return f->ram + BOOT_MBI_ADDR;
}

static void test_find_header(void **state)
{
	struct fixture *f = *state;

	assert_true(multiboot_find_header(f->image, f->len));
	assert_false(multiboot_find_header(NULL, 0));
	assert_false(multiboot_find_header(f->image, AOUT_HDR_OFF + 11));
	assert_true(multiboot_find_header(f->image, AOUT_HDR_OFF + 12));
	/* Bad checksum. */
	f->image[AOUT_HDR_OFF + 8] ^= 1;
	assert_false(multiboot_find_header(f->image, f->len));
	/* Not 32-bit aligned. */
	memset(f->image, 0, IMAGE_MAX);
	put_mb_header(f->image + 2, 0);
	assert_false(multiboot_find_header(f->image, IMAGE_MAX));
	/* The last aligned spot inside the first 8 KiB, and just past it. */
	memset(f->image, 0, IMAGE_MAX);
	put_mb_header(f->image + 8192 - 12, 0);
	assert_true(multiboot_find_header(f->image, IMAGE_MAX));
	memset(f->image, 0, IMAGE_MAX);
	put_mb_header(f->image + 8192, 0);
	assert_false(multiboot_find_header(f->image, IMAGE_MAX));
}

static void test_aout_kludge(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;
	const uint64_t bss = 0x100000 + AOUT_LEN;

	memset(f->ram + bss, 0xcc, AOUT_BSS);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(entry.eip, AOUT_ENTRY);
	assert_int_equal(entry.eax, 0x2badb002);
	assert_int_equal(entry.ebx, BOOT_MBI_ADDR);
	assert_memory_equal(f->ram + 0x100000, f->image, AOUT_LEN);
	for (unsigned i = 0; i < AOUT_BSS; i++)
		assert_int_equal(f->ram[bss + i], 0);
	assert_int_equal(f->ram[bss + AOUT_BSS], 0); /* past bss untouched (was 0) */
}

/* load_end_addr below the end of the file: the rest of the file is not loaded. */
static void test_aout_load_end(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;
	uint8_t *h = f->image + AOUT_HDR_OFF;

	put32(h + 20, 0x100000 + 0x800);
	put32(h + 24, 0);
	memset(f->ram + 0x100800, 0xcc, 16);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_memory_equal(f->ram + 0x100000, f->image, 0x800);
	assert_int_equal(f->ram[0x100800], 0xcc); /* no bss: nothing written past the data */
}

/* The loaded file part starts before the header: the header's file offset minus the delta. */
static void test_aout_load_offset(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;
	uint8_t *h = f->image + AOUT_HDR_OFF;

	put32(h + 12, 0x200000 + 0x20); /* the file from offset 0x20 goes to 2 MiB */
	put32(h + 16, 0x200000);
	put32(h + 24, 0);
	put32(h + 28, 0x200000);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_memory_equal(f->ram + 0x200000, f->image + 0x20, AOUT_LEN - 0x20);
	assert_int_equal(entry.eip, 0x200000);
}

static void test_aout_malformed(void **state)
{
	struct fixture *f = *state;
	uint8_t *h = f->image + AOUT_HDR_OFF;

	put32(h + 16, 0x100000 + AOUT_HDR_OFF + 4); /* load_addr above header_addr */
	expect_reject(f, -EINVAL);
	put32(h + 16, 0x100000 - 4); /* would start 4 bytes before the file */
	expect_reject(f, -EINVAL);
	make_aout(f, 0x3);
	put32(h + 20, 0x100000); /* load_end_addr == load_addr */
	expect_reject(f, -EINVAL);
	put32(h + 20, 0x100000 - 1);
	expect_reject(f, -EINVAL);
	put32(h + 20, 0x100000 + AOUT_LEN + 1); /* past the end of the file */
	expect_reject(f, -EINVAL);
	make_aout(f, 0x3);
	put32(h + 24, 0x100000 + AOUT_LEN - 1); /* bss ends inside the data */
	expect_reject(f, -EINVAL);
	make_aout(f, 0x3);
	put32(h + 28, 0x100000 + AOUT_LEN); /* entry past the loaded data */
	expect_reject(f, -EINVAL);
	put32(h + 28, 0xfffff);
	expect_reject(f, -EINVAL);
	make_aout(f, 0x3);
	put32(h + 24, 0xffffffff); /* bss to 4 GiB */
	expect_reject(f, -E2BIG);
}

static void test_aout_header_past_8k(void **state)
{
	struct fixture *f = *state;
	uint8_t *h = f->image + 8192 - 12;

	memset(f->image, 0, IMAGE_MAX);
	f->len = IMAGE_MAX;
	put_mb_header(h, MB_AOUT);
	expect_reject(f, -EINVAL);
	/* Past the end of a short file. */
	f->len = 8192 - 4;
	memset(f->image, 0, IMAGE_MAX);
	put_mb_header(f->image + 8192 - 16, MB_AOUT);
	expect_reject(f, -EINVAL);
}

static void test_no_header(void **state)
{
	struct fixture *f = *state;

	f->image[AOUT_HDR_OFF + 8] ^= 0x80;
	expect_reject(f, -EINVAL);
	memset(f->image, 0, IMAGE_MAX);
	f->len = IMAGE_MAX;
	put_mb_header(f->image + 8192, MB_AOUT);
	expect_reject(f, -EINVAL);
}

static void test_required_flags(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	make_aout(f, 0x4); /* video mode */
	expect_reject(f, -ENOTSUP);
	make_aout(f, 0x8);
	expect_reject(f, -ENOTSUP);
	make_aout(f, 0x8000);
	expect_reject(f, -ENOTSUP);
	/* Optional bits we do not know are ignored; bits 0 and 1 are met. */
	make_aout(f, 0x3 | (1u << 17) | (1u << 31));
	assert_int_equal(load(f, NULL, &entry), 0);
	make_aout(f, 0);
	assert_int_equal(load(f, NULL, &entry), 0);
}

static void test_elf32(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	make_elf(f, 0);
	memset(f->ram + ELF_SEG2_PADDR, 0xcc, ELF_SEG2_MEMSZ + 16);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(entry.eip, ELF_SEG1_PADDR + 0x10);
	assert_int_equal(entry.eax, 0x2badb002);
	assert_int_equal(entry.ebx, BOOT_MBI_ADDR);
	assert_memory_equal(f->ram + ELF_SEG1_PADDR, f->image + ELF_SEG1_OFF, ELF_SEG1_SIZE);
	assert_memory_equal(f->ram + ELF_SEG2_PADDR, f->image + ELF_SEG2_OFF, ELF_SEG2_FILESZ);
	for (unsigned i = ELF_SEG2_FILESZ; i < ELF_SEG2_MEMSZ; i++)
		assert_int_equal(f->ram[ELF_SEG2_PADDR + i], 0);
	assert_int_equal(f->ram[ELF_SEG2_PADDR + ELF_SEG2_MEMSZ], 0xcc);
}

/* Segments go to p_paddr; the entry (virtual) is translated through its segment. */
static void test_elf32_higher_half(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	make_elf(f, 0xc0000000);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(entry.eip, ELF_SEG1_PADDR + 0x10);
	assert_memory_equal(f->ram + ELF_SEG1_PADDR, f->image + ELF_SEG1_OFF, ELF_SEG1_SIZE);
}

static void test_elf32_skips_other_segments(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	make_elf(f, 0);
	put32(f->image + ELF_PH2, 4); /* PT_NOTE: not loaded, its addresses not checked */
	put32(f->image + ELF_PH2 + 12, 0xfffff000);
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(f->ram[ELF_SEG2_PADDR], 0);
	make_elf(f, 0);
	put32(f->image + ELF_PH2 + 20, 0); /* memsz 0: nothing to load */
	put32(f->image + ELF_PH2 + 16, 0);
	put32(f->image + ELF_PH2 + 12, 0xfffff000);
	assert_int_equal(load(f, NULL, &entry), 0);
}

static void test_elf_malformed_header(void **state)
{
	struct fixture *f = *state;

	make_elf(f, 0);
	f->image[4] = 2; /* ELF64 without the address fields */
	expect_reject(f, -ENOTSUP);
	assert_non_null(strstr(f->err, "ELF64"));
	f->image[4] = 3;
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	f->image[5] = 2; /* big-endian */
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put16(f->image + 16, 3); /* ET_DYN */
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put16(f->image + 18, 62); /* EM_X86_64 */
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	f->image[1] = 'e'; /* not ELF at all, no address fields */
	expect_reject(f, -EINVAL);
}

static void test_elf_malformed_phdrs(void **state)
{
	struct fixture *f = *state;

	make_elf(f, 0);
	put16(f->image + 42, 31); /* phentsize too small */
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put16(f->image + 44, 0); /* no program headers */
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put16(f->image + 44, 0xffff); /* table past the end of the file */
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put32(f->image + 28, 0xfffffff0);
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put32(f->image + ELF_PH1, 6); /* no PT_LOAD left */
	put32(f->image + ELF_PH2, 6);
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put32(f->image + ELF_PH2 + 16, ELF_SEG2_MEMSZ + 1); /* filesz > memsz */
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put32(f->image + ELF_PH2 + 4, ELF_LEN - ELF_SEG2_FILESZ + 1); /* data past the file */
	expect_reject(f, -EINVAL);
	put32(f->image + ELF_PH2 + 4, 0xffffffff);
	expect_reject(f, -EINVAL);
	make_elf(f, 0);
	put32(f->image + 24, 0x90000000); /* entry in no segment */
	expect_reject(f, -EINVAL);
}

static void test_elf_too_many_segments(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;
	uint8_t *e = f->image;

	make_elf(f, 0);
	/* 40 tiny load segments: the table at 0x100, all pointing into the first segment. */
	put32(e + 28, 0x100);
	put16(e + 44, 40);
	for (unsigned i = 0; i < 40; i++)
		put_phdr(e + 0x100 + i * 32, ELF_SEG1_OFF, ELF_SEG1_PADDR, ELF_SEG1_PADDR, 0x20,
			 0x20);
	expect_reject(f, -E2BIG);
	put16(e + 44, 32); /* 32 is the limit */
	assert_int_equal(load(f, NULL, &entry), 0);
}

static void expect_segment_rejected(struct fixture *f, uint32_t paddr, uint32_t memsz)
{
	make_elf(f, 0);
	put32(f->image + ELF_PH2 + 8, paddr);
	put32(f->image + ELF_PH2 + 12, paddr);
	put32(f->image + ELF_PH2 + 16, 0); /* all bss, so only the address range matters */
	put32(f->image + ELF_PH2 + 20, memsz);
	expect_reject(f, -E2BIG);
}

static void test_segments_outside_ram(void **state)
{
	struct fixture *f = *state;

	expect_segment_rejected(f, RAM_SIZE - 0x1000, 0x2000);    /* runs past RAM */
	expect_segment_rejected(f, 0xfffff000, 0x2000);           /* would wrap */
	expect_segment_rejected(f, 0xfec00000, 0x1000);           /* I/O APIC */
	expect_segment_rejected(f, BOOT_MBI_ADDR - 0x100, 0x200); /* information area */
	expect_segment_rejected(f, BOOT_MBI_ADDR + 0xff0, 0x200);
	expect_segment_rejected(f, BOOT_CMDLINE + 0x100, 0x200);  /* command line area */
	expect_segment_rejected(f, 0xe8000, 0x200);               /* BIOS/ACPI area */
	expect_segment_rejected(f, 0x9fc00, 0x10);                /* EBDA */
	expect_segment_rejected(f, 0x9f000, 0x1000);              /* into the EBDA */
}

static void test_modules(void **state)
{
	struct fixture *f = *state;
	uint8_t initrd[3000];
	struct boot_images img = { .initrd = initrd, .initrd_len = sizeof(initrd) };
	struct boot_entry entry;
	const uint8_t *mod;
	uint32_t start;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 3);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_true(get32(mbi(f)) & (1u << 3));
	assert_int_equal(get32(mbi(f) + 20), 1);
	mod = f->ram + get32(mbi(f) + 24);
	start = get32(mod);
	/* Page aligned (header bit 0), above the kernel's bss. */
	assert_int_equal(start % 4096, 0);
	assert_true(start >= 0x100000 + AOUT_LEN + AOUT_BSS);
	assert_true(start < 0x100000 + AOUT_LEN + AOUT_BSS + 4096);
	assert_int_equal(get32(mod + 4), start + sizeof(initrd));
	assert_string_equal((const char *)f->ram + get32(mod + 8), "initrd");
	assert_memory_equal(f->ram + start, initrd, sizeof(initrd));
}

static void test_no_modules(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .initrd = f->image, .initrd_len = 0 };
	struct boot_entry entry;

	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(mbi(f) + 20), 0);
}

static void test_module_too_big(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .initrd = f->image, .initrd_len = RAM_SIZE - 0x100000 };
	struct boot_entry entry;

	assert_int_equal(load(f, &img, &entry), -E2BIG);
	img.initrd_len = SIZE_MAX;
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	assert_true(ram_untouched(f));
}

static void test_info_structure(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .cmdline = "root=/dev/sda quiet" };
	struct boot_entry entry;
	const uint8_t *m = mbi(f), *mm;
	uint32_t flags;

	assert_int_equal(load(f, &img, &entry), 0);
	flags = get32(m);
	assert_int_equal(flags, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	assert_int_equal(get32(m + 4), 639);
	assert_int_equal(get32(m + 8), (RAM_SIZE - MIB) / 1024);
	assert_int_equal(get32(m + 16), BOOT_CMDLINE);
	assert_string_equal((const char *)f->ram + BOOT_CMDLINE, "root=/dev/sda quiet");
	assert_string_equal((const char *)f->ram + get32(m + 64), "hostvisor");
	/* Memory map: one 24-byte record per E820 entry, size field 20. */
	assert_int_equal(get32(m + 44), (uint32_t)f->map.n * 24);
	mm = f->ram + get32(m + 48);
	assert_true(get32(m + 48) >= BOOT_MBI_ADDR && get32(m + 48) < BOOT_MBI_ADDR + 0x1000);
	for (int i = 0; i < f->map.n; i++, mm += 24) {
		assert_int_equal(get32(mm), 20);
		assert_int_equal(get64(mm + 4), f->map.entry[i].addr);
		assert_int_equal(get64(mm + 12), f->map.entry[i].size);
		assert_int_equal(get32(mm + 20), f->map.entry[i].type);
	}
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
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	assert_true(ram_untouched(f));
	line[BOOT_CMDLINE_MAX - 1] = 0;
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(strlen((char *)f->ram + BOOT_CMDLINE), BOOT_CMDLINE_MAX - 1);
	free(line);
}

static void test_small_ram(void **state)
{
	struct fixture *f = *state;
	struct e820_map map;
	struct boot_images img = { .kernel = f->image, .kernel_len = f->len };
	struct boot_entry entry;

	e820_build(&map, MIB + 0x2000);
	assert_int_equal(multiboot_load(&f->gm, &map, &img, &entry, f->err, sizeof(f->err)),
			 -E2BIG);
	e820_build(&map, 0x8000); /* no room for the information area */
	make_aout(f, 0x3);
	put32(f->image + AOUT_HDR_OFF + 12, 0x1000 + AOUT_HDR_OFF);
	put32(f->image + AOUT_HDR_OFF + 16, 0x1000);
	put32(f->image + AOUT_HDR_OFF + 24, 0);
	put32(f->image + AOUT_HDR_OFF + 28, 0x1000);
	assert_int_equal(multiboot_load(&f->gm, &map, &img, &entry, f->err, sizeof(f->err)),
			 -E2BIG);
	assert_true(ram_untouched(f));
}

static void test_null_arguments(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .kernel = f->image, .kernel_len = f->len };
	struct boot_entry entry;

	assert_true(boot_rejects_null_arguments(multiboot_load, &f->gm, &f->map, &img));
	img.kernel = NULL;
	assert_int_equal(multiboot_load(&f->gm, &f->map, &img, &entry, f->err, sizeof(f->err)),
			 -EINVAL);
}

/* Every prefix of the ELF image fails (its last segment ends at the end of the file). */
static void test_every_truncation(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	make_elf(f, 0);
	for (size_t len = 0; len < ELF_LEN; len++) {
		assert_true(load_len(f, len, NULL, &entry) < 0);
		assert_true(strlen(f->err) > 0);
	}
	assert_true(ram_untouched(f));
	assert_int_equal(load_len(f, ELF_LEN, NULL, &entry), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_find_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aout_kludge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aout_load_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aout_load_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aout_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aout_header_past_8k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf32, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf32_higher_half, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf32_skips_other_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_malformed_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_malformed_phdrs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_too_many_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segments_outside_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_modules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_module_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_structure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
