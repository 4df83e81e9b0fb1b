/*
 * The I/O APIC (Intel 82093AA datasheet, section 3): IOREGSEL at +0x00, IOWIN at +0x10;
 * redirection entry n is registers 0x10 + 2n (low) and 0x11 + 2n (high, destination in 63:56).
 */
#include "guest.h"

#define IOREGSEL 0x00
#define IOWIN 0x10
#define REDIR_LOW(pin) (0x10 + 2 * (pin))
#define REDIR_HIGH(pin) (0x11 + 2 * (pin))
#define REDIR_MASKED (1u << 16)

uint32_t ioapic_read(uint64_t base, uint8_t reg)
{
	mmio_write32(base + IOREGSEL, reg);
	return mmio_read32(base + IOWIN);
}

void ioapic_write(uint64_t base, uint8_t reg, uint32_t v)
{
	mmio_write32(base + IOREGSEL, reg);
	mmio_write32(base + IOWIN, v);
}

/* Fixed delivery, physical destination, edge triggered, active high, unmasked. */
void ioapic_route(uint64_t base, unsigned pin, uint8_t vector, uint8_t dest_apic_id)
{
	ioapic_write(base, REDIR_HIGH(pin), (uint32_t)dest_apic_id << 24);
	ioapic_write(base, REDIR_LOW(pin), vector);
}

void ioapic_mask(uint64_t base, unsigned pin)
{
	ioapic_write(base, REDIR_LOW(pin), ioapic_read(base, REDIR_LOW(pin)) | REDIR_MASKED);
}
