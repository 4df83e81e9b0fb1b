/*
 * The firmware memory map (ACPI 6.3 section 15.1, INT 15h E820). It must agree with the RAM the
 * VM maps: [0, min(ram, 3 GiB)) and, for the rest, [4 GiB, 4 GiB + rest). Inside low RAM the PC
 * convention keeps two ranges from the OS: the EBDA just below 640 KiB and the BIOS area
 * 0xe0000-0xfffff where the ACPI tables live (src/boot/acpi.c); 0xa0000-0xdffff is neither RAM
 * nor reserved (VGA window, option ROMs), as on a real PC.
 *
 * The I/O APIC and local APIC pages inside the PCI hole are reported reserved too. Linux finds
 * them in the MADT and does not need it, but an OS that allocates PCI BARs from the hole using
 * only the E820 map (a multiboot kernel, say) would otherwise see them as free address space.
 * Real PC firmware reserves them the same way.
 */
#include <stddef.h>

#include "hostvisor/acpi.h"
#include "hostvisor/e820.h"
#include "hostvisor/ioapic.h"

#define LAPIC_MMIO_SIZE 0x1000ull

static void e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
	if (size == 0 || map->n >= E820_MAX_ENTRIES)
		return;
	map->entry[map->n++] = (struct e820_entry){ .addr = addr, .size = size, .type = type };
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

void e820_build(struct e820_map *map, uint64_t ram_size)
{
	uint64_t low_top = min_u64(ram_size, MEM_PCI_HOLE_START);

	map->n = 0;
	/* Conventional memory, cut short by tiny RAM sizes. */
	e820_add(map, 0, min_u64(low_top, MEM_EBDA_START), E820_RAM);
	e820_add(map, MEM_EBDA_START, 0xa0000ull - MEM_EBDA_START, E820_RESERVED);
	e820_add(map, MEM_BIOS_START, MEM_HIGH_START - MEM_BIOS_START, E820_RESERVED);
	if (low_top > MEM_HIGH_START)
		e820_add(map, MEM_HIGH_START, low_top - MEM_HIGH_START, E820_RAM);
	e820_add(map, IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE, E820_RESERVED);
	e820_add(map, LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE, E820_RESERVED);
	if (ram_size > MEM_PCI_HOLE_START)
		e820_add(map, MEM_4G, ram_size - MEM_PCI_HOLE_START, E820_RAM);
}

/* The map comes from e820_build, but a count outside the array is never trusted. */
static int e820_count(const struct e820_map *map)
{
	if (map->n < 0)
		return 0;
	return map->n > E820_MAX_ENTRIES ? E820_MAX_ENTRIES : map->n;
}

uint64_t e820_ram_end(const struct e820_map *map, uint64_t addr)
{
	int n = e820_count(map);

	for (int i = 0; i < n; i++) {
		const struct e820_entry *e = &map->entry[i];

		if (e->type == E820_RAM && addr >= e->addr && addr - e->addr < e->size)
			return e->addr + e->size;
	}
	return 0;
}

bool e820_range_is_ram(const struct e820_map *map, uint64_t addr, uint64_t len)
{
	uint64_t end = e820_ram_end(map, addr);

	if (len == 0 || end == 0)
		return false;
	return len <= end - addr;
}
