/* The local APIC through its xAPIC MMIO page (SDM vol. 3A chapter 11). */
#include "guest.h"

#define SVR_APIC_ENABLE 0x100

uint32_t lapic_read(uint64_t base, uint32_t reg)
{
	return mmio_read32(base + reg);
}

void lapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
	mmio_write32(base + reg, v);
}

uint8_t lapic_id(uint64_t base)
{
	return (uint8_t)(lapic_read(base, LAPIC_ID) >> 24);
}

/* Software enable (SDM 3A 11.4.7.2) and accept every priority class (TPR 0). */
void lapic_enable(uint64_t base, uint8_t spurious_vector)
{
	lapic_write(base, LAPIC_SVR, SVR_APIC_ENABLE | spurious_vector);
	lapic_write(base, LAPIC_TPR, 0);
}
