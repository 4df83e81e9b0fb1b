/*
 * The bzImage loader against synthetic images: a well-formed protocol 2.15 header, then every
 * field broken in turn. Images are heap copies of exactly their length so ASan sees any read
 * past the end. A failed load must leave guest memory untouched.
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
#define KERNEL_LEN 0x3000u
#define SETUP_SECTS 4u
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512u)
#define IMAGE_LEN (SETUP_SIZE + KERNEL_LEN)
#define HDR_END 0x26cu /* what a 2.15 kernel's jump at 0x200 points past */
#define PREF_ADDRESS 0x400000u
#define INIT_SIZE 0x200000u /* so the kernel decompresses into [4 MiB, 6 MiB) */

struct fixture {
	uint8_t *ram;
	struct gmem gm;
	struct e820_map map;
	uint8_t image[IMAGE_LEN];
	char err[256];
};

static void make_bzimage(uint8_t *img)
{
	memset(img, 0, IMAGE_LEN);
	img[0x1f1] = SETUP_SECTS;
	put16(img + 0x1f2, 1);     /* root_flags: copied through untouched */
	put32(img + 0x1f4, KERNEL_LEN / 16);
	put16(img + 0x1fa, 0xfffd); /* vid_mode "ask": the loader sets normal */
	put16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = HDR_END - 0x202;
	memcpy(img + 0x202, "HdrS", 4);
	put16(img + 0x206, 0x020f);
	img[0x211] = 0x01; /* LOADED_HIGH */
	put32(img + 0x214, 0x100000);
	put32(img + 0x22c, 0x7fffffff); /* initrd_addr_max */
	put32(img + 0x230, 0x200000);   /* kernel_alignment */
	img[0x234] = 1;
	put32(img + 0x238, 2047);      /* cmdline_size */
	put32(img + 0x258, PREF_ADDRESS);
	put32(img + 0x260, INIT_SIZE);
	for (unsigned i = 0; i < KERNEL_LEN; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	assert_int_equal(gmem_add_region(&f->gm, 0, RAM_SIZE, f->ram), 0);
	e820_build(&f->map, RAM_SIZE);
	make_bzimage(f->image);
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

/* Loads a heap copy of exactly len bytes of the fixture image. */
static int load_len(struct fixture *f, size_t len, const struct boot_images *extra,
		    struct boot_entry *entry)
{
	return boot_load_copy(linux_load, &f->gm, &f->map, f->image, len, extra, entry, f->err,
			      sizeof(f->err));
}

static int load(struct fixture *f, const struct boot_images *extra, struct boot_entry *entry)
{
	return load_len(f, IMAGE_LEN, extra, entry);
}

static bool ram_untouched(const struct fixture *f)
{
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		if (f->ram[i])
			return false;
	return true;
}

/* The load fails with rc, says why, and writes nothing. */
static void expect_reject(struct fixture *f, int rc)
{
	struct boot_entry entry;

	assert_int_equal(load(f, NULL, &entry), rc);
	assert_true(strlen(f->err) > 0);
	assert_true(ram_untouched(f));
}

static void test_recognise(void **state)
{
	struct fixture *f = *state;

	assert_true(linux_is_bzimage(f->image, IMAGE_LEN));
	assert_false(linux_is_bzimage(f->image, 0x205));
	assert_false(linux_is_bzimage(NULL, 0));
	f->image[0x202] = 'h';
	assert_false(linux_is_bzimage(f->image, IMAGE_LEN));
	f->image[0x202] = 'H';
	f->image[0x1fe] = 0;
	assert_false(linux_is_bzimage(f->image, IMAGE_LEN));
}

static void test_good_image(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .cmdline = "console=ttyS0 quiet", .rsdp_addr = 0xe0000 };
	struct boot_entry entry;
	const uint8_t *zp = f->ram + BOOT_ZERO_PAGE;

	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(entry.eip, 0x100000);
	assert_int_equal(entry.esi, BOOT_ZERO_PAGE);
	assert_int_equal(entry.ebx, 0);
	/* The protected-mode kernel, byte for byte, at 1 MiB. */
	assert_memory_equal(f->ram + 0x100000, f->image + SETUP_SIZE, KERNEL_LEN);
	/* The header copied from the image; the fields the loader owns overwritten. */
	assert_int_equal(zp[0x1f1], SETUP_SECTS);
	assert_int_equal(get16(zp + 0x1f2), 1);
	assert_int_equal(get16(zp + 0x1fa), 0xffff);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(get16(zp + 0x206), 0x020f);
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(zp[0x211], 0x81);
	assert_int_equal(get32(zp + 0x214), 0x100000);
	assert_int_equal(get16(zp + 0x224), 0xde00);
	assert_int_equal(get32(zp + 0x228), BOOT_CMDLINE);
	assert_int_equal(get32(zp + 0x238), 2047);
	assert_int_equal(get32(zp + 0x258), PREF_ADDRESS);
	assert_int_equal(get32(zp + 0x260), INIT_SIZE);
	assert_int_equal(get32(zp + 0x218), 0);
	assert_int_equal(get32(zp + 0x21c), 0);
	assert_string_equal((const char *)f->ram + BOOT_CMDLINE, "console=ttyS0 quiet");
	assert_int_equal(get64(zp + 0x070), 0xe0000);
	/* Nothing past the header in its area, and the sentinel clear. */
	assert_int_equal(zp[0x1ef], 0);
	for (unsigned i = HDR_END; i < 0x290; i++)
		assert_int_equal(zp[i], 0);
}

static void test_e820_in_zero_page(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;
	const uint8_t *zp = f->ram + BOOT_ZERO_PAGE;

	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(zp[0x1e8], f->map.n);
	for (int i = 0; i < f->map.n; i++) {
		const uint8_t *e = zp + 0x2d0 + i * 20;

		assert_int_equal(get64(e), f->map.entry[i].addr);
		assert_int_equal(get64(e + 8), f->map.entry[i].size);
		assert_int_equal(get32(e + 16), f->map.entry[i].type);
	}
	assert_int_equal(get64(zp + 0x2d0 + f->map.n * 20), 0);
}

static void test_null_cmdline_is_empty(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	f->ram[BOOT_CMDLINE] = 'x';
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_int_equal(f->ram[BOOT_CMDLINE], 0);
	assert_int_equal(get32(f->ram + BOOT_ZERO_PAGE + 0x228), BOOT_CMDLINE);
}

static void test_rsdp_needs_protocol_2_14(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .rsdp_addr = 0xe0000 };
	struct boot_entry entry;

	put16(f->image + 0x206, 0x020d);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get64(f->ram + BOOT_ZERO_PAGE + 0x070), 0);
	put16(f->image + 0x206, 0x020e);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get64(f->ram + BOOT_ZERO_PAGE + 0x070), 0xe0000);
}

static void test_setup_sects_zero_means_four(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	f->image[0x1f1] = 0;
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_memory_equal(f->ram + 0x100000, f->image + 5 * 512, KERNEL_LEN);
}

static void test_initrd_high_and_aligned(void **state)
{
	struct fixture *f = *state;
	uint8_t initrd[5000];
	struct boot_images img = { .initrd = initrd, .initrd_len = sizeof(initrd) };
	struct boot_entry entry;
	const uint8_t *zp = f->ram + BOOT_ZERO_PAGE;
	uint32_t addr;

	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(load(f, &img, &entry), 0);
	addr = get32(zp + 0x218);
	assert_int_equal(get32(zp + 0x21c), sizeof(initrd));
	assert_int_equal(addr % 4096, 0);
	assert_true(addr + sizeof(initrd) <= RAM_SIZE);
	assert_true(addr + sizeof(initrd) + 4096 > RAM_SIZE); /* as high as possible */
	assert_memory_equal(f->ram + addr, initrd, sizeof(initrd));

	/* initrd_addr_max is the highest byte the initrd may occupy. */
	put32(f->image + 0x22c, 0x7fffff);
	assert_int_equal(load(f, &img, &entry), 0);
	addr = get32(zp + 0x218);
	assert_true(addr + sizeof(initrd) - 1 <= 0x7fffff);
	assert_true(addr + sizeof(initrd) + 4096 > 0x800000);
	assert_int_equal(addr % 4096, 0);
}

static void test_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .initrd = f->image, .initrd_len = RAM_SIZE };
	struct boot_entry entry;

	assert_int_equal(load(f, &img, &entry), -E2BIG);
	assert_true(ram_untouched(f));
	/* It fits in RAM but not under initrd_addr_max. */
	img.initrd_len = 2 * MIB;
	put32(f->image + 0x22c, 0x1fffff);
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	/* initrd_addr_max 0: nowhere to put it. */
	put32(f->image + 0x22c, 0);
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	assert_true(ram_untouched(f));
}

/* The initrd must stay clear of the memory the kernel decompresses into (init_size). */
static void test_initrd_respects_init_size(void **state)
{
	struct fixture *f = *state;
	uint8_t *initrd = calloc(1, PREF_ADDRESS);
	struct boot_images img = { .initrd = initrd, .initrd_len = 4096 };
	struct boot_entry entry;
	const uint8_t *zp = f->ram + BOOT_ZERO_PAGE;

	assert_non_null(initrd);

	/* The runtime area ends one page below the top of RAM: the initrd takes that page. */
	put32(f->image + 0x260, RAM_SIZE - PREF_ADDRESS - 4096);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(zp + 0x218), RAM_SIZE - 4096);
	/* No page left above: the gap between the loaded image and 4 MiB is used. */
	put32(f->image + 0x260, RAM_SIZE - PREF_ADDRESS - 4095);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(zp + 0x218), PREF_ADDRESS - 4096);
	/* Too big for the gap (1 MiB + kernel up to 4 MiB) as well. */
	memset(f->ram, 0, RAM_SIZE);
	img.initrd_len = PREF_ADDRESS - 0x100000 - KERNEL_LEN + 1;
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	assert_true(ram_untouched(f));
	img.initrd_len = PREF_ADDRESS - 0x100000 - KERNEL_LEN - 4096;
	assert_int_equal(load(f, &img, &entry), 0);
	assert_true(get32(zp + 0x218) >= 0x100000 + KERNEL_LEN);
	assert_true(get32(zp + 0x218) + img.initrd_len <= PREF_ADDRESS);
	free(initrd);
}

/* boot.rst runtime start: relocatable kernels go up to pref_address, then kernel_alignment. */
static void test_runtime_address(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .initrd = f->image, .initrd_len = 4096 };
	struct boot_entry entry;
	const uint8_t *zp = f->ram + BOOT_ZERO_PAGE;

	/* pref_address below the load address: the load address aligned up, 2 MiB here. */
	put32(f->image + 0x258, 0);
	put32(f->image + 0x260, RAM_SIZE - 0x200000 - 4096);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(zp + 0x218), RAM_SIZE - 4096);
	/* Aligned up to 4 MiB instead, the same init_size runs past the end of RAM. */
	put32(f->image + 0x230, 0x400000);
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	assert_non_null(strstr(f->err, "0x400000"));
	/* Not relocatable: runs at pref_address whatever the alignment says. */
	f->image[0x234] = 0;
	put32(f->image + 0x230, 3);
	put32(f->image + 0x258, 0x800000);
	put32(f->image + 0x260, 0x800000);
	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(zp + 0x218), 0x800000 - 4096); /* [8, 16) MiB taken */
	put32(f->image + 0x260, 0x800001);
	assert_int_equal(load(f, &img, &entry), -E2BIG);
}

static void test_reject_runtime_fields(void **state)
{
	struct fixture *f = *state;

	put32(f->image + 0x230, 0); /* relocatable, alignment 0 */
	expect_reject(f, -EINVAL);
	put32(f->image + 0x230, 0x300000);
	expect_reject(f, -EINVAL);
	put32(f->image + 0x230, 0x200000);
	put32(f->image + 0x25c, 1); /* pref_address above 4 GiB */
	expect_reject(f, -EINVAL);
	put32(f->image + 0x25c, 0);
	f->image[0x234] = 0;
	put32(f->image + 0x258, 0x80000); /* not relocatable, runs below 1 MiB */
	expect_reject(f, -EINVAL);
	put32(f->image + 0x258, 0xfff00000); /* runs past 4 GiB */
	expect_reject(f, -EINVAL);
	put32(f->image + 0x258, PREF_ADDRESS);
	f->image[0x201] = 0x5f; /* a 2.10+ header ending before init_size */
	expect_reject(f, -EINVAL);
}

static void test_empty_initrd_ignored(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .initrd = f->image, .initrd_len = 0 };
	struct boot_entry entry;

	assert_int_equal(load(f, &img, &entry), 0);
	assert_int_equal(get32(f->ram + BOOT_ZERO_PAGE + 0x218), 0);
}

static void test_cmdline_limits(void **state)
{
	struct fixture *f = *state;
	char *line = malloc(BOOT_CMDLINE_MAX + 1);
	struct boot_images img = { .cmdline = line };
	struct boot_entry entry;

	assert_non_null(line);
	memset(line, 'a', 2047);
	line[2047] = 0;
	assert_int_equal(load(f, &img, &entry), 0); /* exactly cmdline_size */
	assert_int_equal(strlen((char *)f->ram + BOOT_CMDLINE), 2047);
	memset(f->ram, 0, RAM_SIZE);
	line[2047] = 'a';
	line[2048] = 0;
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	assert_true(ram_untouched(f));
	/* Longer than our own area, whatever the kernel says. */
	put32(f->image + 0x238, 0xffffffff);
	memset(line, 'b', BOOT_CMDLINE_MAX);
	line[BOOT_CMDLINE_MAX] = 0;
	assert_int_equal(load(f, &img, &entry), -E2BIG);
	line[BOOT_CMDLINE_MAX - 1] = 0;
	assert_int_equal(load(f, &img, &entry), 0);
	free(line);
}

static void test_reject_magic(void **state)
{
	struct fixture *f = *state;

	f->image[0x205] = 'T';
	expect_reject(f, -EINVAL);
	f->image[0x205] = 'S';
	put16(f->image + 0x1fe, 0x55aa);
	expect_reject(f, -EINVAL);
}

static void test_reject_old_protocol(void **state)
{
	struct fixture *f = *state;

	put16(f->image + 0x206, 0x0205);
	expect_reject(f, -ENOTSUP);
	assert_non_null(strstr(f->err, "2.05"));
	put16(f->image + 0x206, 0x0100);
	expect_reject(f, -ENOTSUP);
}

static void test_reject_header_extent(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	f->image[0x200] = 0xe9; /* not a short jump */
	expect_reject(f, -EINVAL);
	f->image[0x200] = 0xeb;
	f->image[0x201] = 0x39; /* header would end before cmdline_size */
	expect_reject(f, -EINVAL);
	f->image[0x201] = 0x8f; /* 0x291: into edd_mbr_sig_buffer */
	expect_reject(f, -EINVAL);
	f->image[0x201] = 0xff;
	expect_reject(f, -EINVAL);
	f->image[0x201] = 0x8e; /* 0x290: the largest header that fits */
	assert_int_equal(load(f, NULL, &entry), 0);
}

/* One setup sector plus the boot sector: the kernel starts at 0x400. */
static void test_setup_sects_one(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	f->image[0x1f1] = 1;
	assert_int_equal(load(f, NULL, &entry), 0);
	assert_memory_equal(f->ram + 0x100000, f->image + 0x400, IMAGE_LEN - 0x400);
}

static void test_reject_setup_beyond_file(void **state)
{
	struct fixture *f = *state;

	f->image[0x1f1] = 0xff; /* 256 sectors of setup: longer than the file */
	expect_reject(f, -EINVAL);
	f->image[0x1f1] = (IMAGE_LEN / 512) - 1; /* exactly the file: no kernel left */
	expect_reject(f, -EINVAL);
}

static void test_reject_zimage(void **state)
{
	struct fixture *f = *state;

	f->image[0x211] = 0x80;
	expect_reject(f, -ENOTSUP);
}

static void test_reject_kernel_too_big(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	put32(f->image + 0x260, RAM_SIZE - PREF_ADDRESS + 1); /* init_size beyond RAM */
	expect_reject(f, -E2BIG);
	put32(f->image + 0x260, 0xffffffff);
	expect_reject(f, -EINVAL); /* would run past 4 GiB */
	/* pref_address and init_size of a 2.09 header are not defined and not read. */
	put16(f->image + 0x206, 0x0209);
	assert_int_equal(load(f, NULL, &entry), 0);
}

static void test_reject_small_ram(void **state)
{
	struct fixture *f = *state;
	struct e820_map map;
	struct boot_images img = { .kernel = f->image, .kernel_len = IMAGE_LEN };
	struct boot_entry entry;

	e820_build(&map, MIB);
	assert_int_equal(linux_load(&f->gm, &map, &img, &entry, f->err, sizeof(f->err)), -E2BIG);
	e820_build(&map, MIB + 0x3000);
	assert_int_equal(linux_load(&f->gm, &map, &img, &entry, f->err, sizeof(f->err)), -E2BIG);
	assert_true(ram_untouched(f));
	/* A map claiming RAM the VM does not back is caught by the guest memory accessors. */
	e820_build(&map, 64 * MIB);
	put32(f->image + 0x260, 32 * MIB);
	img.initrd = f->image;
	img.initrd_len = 100;
	assert_int_equal(linux_load(&f->gm, &map, &img, &entry, f->err, sizeof(f->err)), -EFAULT);
}

static void test_null_arguments(void **state)
{
	struct fixture *f = *state;
	struct boot_images img = { .kernel = f->image, .kernel_len = IMAGE_LEN };
	struct boot_entry entry;
	char small[4] = "zzz";

	assert_int_equal(linux_load(NULL, &f->map, &img, &entry, f->err, sizeof(f->err)), -EINVAL);
	assert_true(boot_rejects_null_arguments(linux_load, &f->gm, &f->map, &img));
	img.kernel = NULL;
	assert_int_equal(linux_load(&f->gm, &f->map, &img, &entry, NULL, 0), -EINVAL);
	/* A tiny error buffer is filled and terminated, never overrun. */
	img.kernel = f->image;
	img.kernel_len = 10;
	assert_int_equal(linux_load(&f->gm, &f->map, &img, &entry, small, 3), -EINVAL);
	assert_int_equal(small[2], 0);
	assert_int_equal(small[3], 0);
}

/* Every prefix of a good image is rejected cleanly (ASan watches the reads). */
static void test_every_truncation(void **state)
{
	struct fixture *f = *state;
	struct boot_entry entry;

	for (size_t len = 0; len <= SETUP_SIZE; len++) {
		assert_int_equal(load_len(f, len, NULL, &entry), -EINVAL);
		assert_true(strlen(f->err) > 0);
	}
	assert_true(ram_untouched(f));
	/* One byte of protected-mode kernel is a (silly) valid image. */
	assert_int_equal(load_len(f, SETUP_SIZE + 1, NULL, &entry), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_recognise, setup, teardown),
		cmocka_unit_test_setup_teardown(test_good_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_e820_in_zero_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_cmdline_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rsdp_needs_protocol_2_14, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_zero_means_four, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_high_and_aligned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_respects_init_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_runtime_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_initrd_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_old_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_header_extent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_sects_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_setup_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_zimage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_kernel_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject_small_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
