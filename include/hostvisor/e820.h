/* The PC memory map as the firmware reports it (ACPI 6.x section 15, INT 15h E820). */
#ifndef HOSTVISOR_E820_H
#define HOSTVISOR_E820_H

#include <stdbool.h>
#include <stdint.h>

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_MAX_ENTRIES 16

/* Guest physical layout shared by every part of the machine. */
#define MEM_EBDA_START 0x9fc00ull
#define MEM_BIOS_START 0xe0000ull /* ACPI tables live in 0xe0000-0xfffff */
#define MEM_HIGH_START 0x100000ull
#define MEM_PCI_HOLE_START 0xc0000000ull /* 3 GiB: 32-bit PCI BARs, IOAPIC, LAPIC */
#define MEM_4G 0x100000000ull

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct e820_map {
	struct e820_entry entry[E820_MAX_ENTRIES];
	int n;
};

/* The map for ram_size bytes of guest RAM: low RAM below the PCI hole, the rest above 4 GiB. */
void e820_build(struct e820_map *map, uint64_t ram_size);

/* Helpers for the kernel loaders, which place data only where the map says RAM. */
/* True if [addr, addr + len) lies inside one RAM entry; false for len 0 or a range that wraps. */
bool e820_range_is_ram(const struct e820_map *map, uint64_t addr, uint64_t len);
/* End (exclusive) of the RAM entry containing addr, or 0 if addr is not RAM. */
uint64_t e820_ram_end(const struct e820_map *map, uint64_t addr);

#endif
