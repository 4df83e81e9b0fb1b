/*
 * Kernel loaders: the Linux x86 boot protocol for bzImage (Documentation/arch/x86/boot.rst,
 * protocol 2.06 and later), the PVH direct boot ABI for an uncompressed ELF vmlinux, and
 * Multiboot v1 (the Multiboot Specification 0.6.96). Both leave the
 * CPU in the state their protocol defines at the 32-bit entry: flat protected mode with 4 GiB
 * code and data segments, paging and interrupts off. The engine sets that state from boot_entry.
 *
 * Loaders take the image as bytes, so a fuzzer can feed them; a malformed image returns an error
 * with one clear line in err and writes nothing outside guest RAM.
 */
#ifndef HOSTVISOR_BOOT_H
#define HOSTVISOR_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostvisor/e820.h"
#include "hostvisor/gmem.h"

/* Where the loaders put their data structures (all below the EBDA, above the real-mode IVT). */
#define BOOT_ZERO_PAGE 0x7000ull   /* Linux boot_params */
#define BOOT_MBI_ADDR 0x9000ull    /* multiboot information structure and its memory map */
#define BOOT_CMDLINE 0x20000ull    /* command line, up to BOOT_CMDLINE_MAX bytes */
#define BOOT_CMDLINE_MAX 0x10000ull

struct boot_entry {
	uint32_t eip;
	uint32_t eax, ebx, esi;
};

struct boot_images {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	const char *cmdline; /* may be NULL */
	uint64_t rsdp_addr;  /* ACPI RSDP, 0 if none; passed to Linux in boot_params */
};

/* Recognisers, cheap, for picking the loader. */
bool linux_is_bzimage(const uint8_t *image, size_t len);
bool multiboot_find_header(const uint8_t *image, size_t len);
bool pvh_is_elf_kernel(const uint8_t *image, size_t len);

int linux_load(const struct gmem *gm, const struct e820_map *map, const struct boot_images *img,
	       struct boot_entry *entry, char *err, size_t errlen);
/* An x86-64 ELF kernel (vmlinux) with the PVH entry note; %ebx = struct hvm_start_info. */
int pvh_load(const struct gmem *gm, const struct e820_map *map, const struct boot_images *img,
	     struct boot_entry *entry, char *err, size_t errlen);
/* The initrd, if any, becomes module 0 with the string "initrd". */
int multiboot_load(const struct gmem *gm, const struct e820_map *map,
		   const struct boot_images *img, struct boot_entry *entry, char *err,
		   size_t errlen);

#endif
