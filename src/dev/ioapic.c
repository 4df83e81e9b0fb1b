/*
 * Intel 82093AA I/O APIC (datasheet 290566): 24 input pins, each with a 64-bit redirection
 * entry; interrupts leave as MSI-format messages (Intel SDM vol. 3, section 11.11).
 *
 * Register window (82093AA section 3.0): IOREGSEL at base + 0x00 selects a register, IOWIN at
 * base + 0x10 reads or writes it. Both are 32-bit registers. Choices for other accesses:
 * - Reads assemble byte lanes: bytes 0x00-0x03 are IOREGSEL (zero-extended index), bytes
 *   0x10-0x13 are the selected register, every other byte reads 0 as reserved space does. Reads
 *   have no side effects, so a narrow or wide read simply sees those bytes.
 * - A write at offset 0x00 of any size sets IOREGSEL from its low byte (bits 7:0 are the only
 *   defined bits). IOWIN takes only a 4-byte write at 0x10: a partial write to a 32-bit register
 *   through a window has no defined merge, so it is ignored, as are writes anywhere else.
 * - No EOI register at 0x40: our version register says 0x11 (the 82093AA), and EOI registers
 *   came with version 0x20. Guests that see 0x11 clear remote IRR by toggling the entry to edge
 *   and back, which is supported (writing trigger mode = edge clears remote IRR).
 *
 * Semantics:
 * - Pin polarity is applied first: an active-low pin is asserted when its input is low.
 * - Edge entries send one message per asserted edge of the input while unmasked; an edge on a
 *   masked pin is lost ("Edge-sensitive interrupts signaled on a masked interrupt pin are
 *   ignored"). Reprogramming an entry is not an input edge.
 * - Level entries send while asserted, unmasked and remote IRR clear, setting remote IRR;
 *   ioapic_eoi() clears it and re-sends if the pin is still asserted. Writing or unmasking an
 *   entry whose pin is asserted sends too.
 * - SMI, NMI, INIT and ExtINT are treated as edge whatever the trigger bit says (82093AA,
 *   delivery mode field: they "require" or are "treated as" edge), so they never set remote IRR.
 * - The reserved delivery modes 011b and 110b send nothing and are reported as masked.
 * - Vectors 0x00-0x0f are sent as programmed: the SDM (11.5.3) makes the receiving local APIC
 *   the one that rejects them ("Received Illegal Vector"), and a level entry stays with remote
 *   IRR set until the guest reprograms it, as on hardware.
 * - Delivery status (bit 12) always reads 0: messages are handed over synchronously.
 * - MSI address: destination ID in bits 19:12, destination mode (logical) in bit 2, and the
 *   redirection hint (bit 3) set for lowest-priority delivery, the mode that asks for
 *   redirection (SDM 11.11.1).
 *
 * Locking: one mutex; ops->deliver and ops->route_changed run with it held, so messages and
 * route updates stay in order. They must not call back into the IOAPIC.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/ioapic.h"

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WINDOW 0x10
#define IOAPIC_REG_BYTES 4

/* Register indices (82093AA section 3.2). */
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDIR_FIRST 0x10
#define IOAPIC_REG_REDIR_END (IOAPIC_REG_REDIR_FIRST + 2 * IOAPIC_PINS)

/* Maximum redirection entry (23) in bits 23:16, version 0x11 in bits 7:0. */
#define IOAPIC_VERSION (((uint32_t)(IOAPIC_PINS - 1) << 16) | 0x11)
#define IOAPIC_ID_SHIFT 24
#define IOAPIC_ID_MASK 0x0f

/* Redirection entry fields (82093AA section 3.2.4). */
#define REDIR_VECTOR_MASK 0xffull
#define REDIR_DELMODE_SHIFT 8
#define REDIR_DELMODE_MASK 0x7ull
#define REDIR_DESTMODE_LOGICAL (1ull << 11)
#define REDIR_DELIVERY_STATUS (1ull << 12)
#define REDIR_POLARITY_LOW (1ull << 13)
#define REDIR_REMOTE_IRR (1ull << 14)
#define REDIR_TRIGGER_LEVEL (1ull << 15)
#define REDIR_MASKED (1ull << 16)
#define REDIR_DEST_SHIFT 56
#define REDIR_DEST_MASK 0xffull
/* Guest-writable bits: everything but delivery status, remote IRR and reserved bits 55:17. */
#define REDIR_LOW_WRITABLE (0xfffull | REDIR_POLARITY_LOW | REDIR_TRIGGER_LEVEL | REDIR_MASKED)
#define REDIR_HIGH_WRITABLE (REDIR_DEST_MASK << REDIR_DEST_SHIFT)

enum ioapic_delivery_mode {
	DELMODE_FIXED = 0,
	DELMODE_LOWEST = 1,
	DELMODE_SMI = 2,
	DELMODE_RESERVED3 = 3,
	DELMODE_NMI = 4,
	DELMODE_INIT = 5,
	DELMODE_RESERVED6 = 6,
	DELMODE_EXTINT = 7,
};

/* MSI format (SDM 11.11.1, 11.11.2). */
#define MSI_ADDR_BASE 0xfee00000ull
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_REDIRECTION_HINT (1ull << 3)
#define MSI_ADDR_DEST_MODE_LOGICAL (1ull << 2)
#define MSI_DATA_DELMODE_SHIFT 8
#define MSI_DATA_LEVEL_ASSERT (1u << 14)
#define MSI_DATA_TRIGGER_LEVEL (1u << 15)

struct ioapic {
	pthread_mutex_t lock;
	struct ioapic_ops ops;
	void *opaque;
	uint8_t reset_id;
	uint8_t id, arb;
	uint8_t regsel;
	uint32_t lines; /* input pin levels, before polarity */
	uint64_t redir[IOAPIC_PINS];
};

static enum ioapic_delivery_mode entry_delivery_mode(uint64_t e)
{
	return (enum ioapic_delivery_mode)((e >> REDIR_DELMODE_SHIFT) & REDIR_DELMODE_MASK);
}

static bool entry_deliverable(uint64_t e)
{
	enum ioapic_delivery_mode mode = entry_delivery_mode(e);

	return mode != DELMODE_RESERVED3 && mode != DELMODE_RESERVED6;
}

/* Level semantics (remote IRR, EOI) apply to fixed and lowest-priority entries only. */
static bool entry_is_level(uint64_t e)
{
	enum ioapic_delivery_mode mode = entry_delivery_mode(e);

	return (e & REDIR_TRIGGER_LEVEL) && (mode == DELMODE_FIXED || mode == DELMODE_LOWEST);
}

static bool entry_masked(uint64_t e)
{
	return (e & REDIR_MASKED) || !entry_deliverable(e);
}

static void entry_to_msi(uint64_t e, uint64_t *addr, uint32_t *data)
{
	uint64_t dest = (e >> REDIR_DEST_SHIFT) & REDIR_DEST_MASK;
	enum ioapic_delivery_mode mode = entry_delivery_mode(e);

	*addr = MSI_ADDR_BASE | dest << MSI_ADDR_DEST_SHIFT;
	if (e & REDIR_DESTMODE_LOGICAL)
		*addr |= MSI_ADDR_DEST_MODE_LOGICAL;
	if (mode == DELMODE_LOWEST)
		*addr |= MSI_ADDR_REDIRECTION_HINT;
	*data = (uint32_t)(e & REDIR_VECTOR_MASK) | (uint32_t)mode << MSI_DATA_DELMODE_SHIFT |
		MSI_DATA_LEVEL_ASSERT;
	if (entry_is_level(e))
		*data |= MSI_DATA_TRIGGER_LEVEL;
}

static bool ioapic_pin_asserted(const struct ioapic *io, int pin)
{
	bool high = (io->lines >> pin) & 1;

	return high != !!(io->redir[pin] & REDIR_POLARITY_LOW);
}

static void ioapic_send(struct ioapic *io, int pin)
{
	uint64_t addr;
	uint32_t data;

	entry_to_msi(io->redir[pin], &addr, &data);
	if (io->ops.deliver)
		io->ops.deliver(io->opaque, addr, data);
}

static void ioapic_route_changed(struct ioapic *io, int pin)
{
	uint64_t addr;
	uint32_t data;

	if (!io->ops.route_changed)
		return;
	entry_to_msi(io->redir[pin], &addr, &data);
	io->ops.route_changed(io->opaque, pin, addr, data, entry_masked(io->redir[pin]));
}

/* A level entry sends while its pin is asserted and the last message was not yet EOI'd. */
static void ioapic_service_level(struct ioapic *io, int pin)
{
	uint64_t e = io->redir[pin];

	if (!entry_is_level(e) || entry_masked(e) || (e & REDIR_REMOTE_IRR))
		return;
	if (!ioapic_pin_asserted(io, pin))
		return;
	io->redir[pin] |= REDIR_REMOTE_IRR;
	ioapic_send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, int pin, int level)
{
	bool was_asserted;
	uint64_t e;

	if (pin < 0 || pin >= IOAPIC_PINS)
		return;
	pthread_mutex_lock(&io->lock);
	was_asserted = ioapic_pin_asserted(io, pin);
	if (level)
		io->lines |= 1u << pin;
	else
		io->lines &= ~(1u << pin);
	e = io->redir[pin];
	if (entry_is_level(e))
		ioapic_service_level(io, pin);
	else if (!was_asserted && ioapic_pin_asserted(io, pin) && !entry_masked(e))
		ioapic_send(io, pin);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];

		if (!(e & REDIR_REMOTE_IRR) || (e & REDIR_VECTOR_MASK) != vector)
			continue;
		io->redir[pin] &= ~REDIR_REMOTE_IRR;
		ioapic_service_level(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static void ioapic_write_redir(struct ioapic *io, unsigned reg, uint32_t val)
{
	int pin = (int)(reg - IOAPIC_REG_REDIR_FIRST) / 2;
	uint64_t e = io->redir[pin];

	if (reg & 1)
		e = (e & ~REDIR_HIGH_WRITABLE) | (((uint64_t)val << 32) & REDIR_HIGH_WRITABLE);
	else
		e = (e & ~REDIR_LOW_WRITABLE) | (val & REDIR_LOW_WRITABLE);
	/*
	 * Remote IRR has no meaning for an edge entry; switching to edge clears it. Guests of a
	 * version 0x11 IOAPIC rely on this to recover a pin (edge then level again).
	 */
	if (!entry_is_level(e))
		e &= ~REDIR_REMOTE_IRR;
	io->redir[pin] = e;
	ioapic_route_changed(io, pin);
	ioapic_service_level(io, pin);
}

static uint32_t ioapic_read_reg(const struct ioapic *io, unsigned reg)
{
	if (reg >= IOAPIC_REG_REDIR_FIRST && reg < IOAPIC_REG_REDIR_END) {
		uint64_t e = io->redir[(reg - IOAPIC_REG_REDIR_FIRST) / 2];

		return (uint32_t)(reg & 1 ? e >> 32 : e);
	}
	switch (reg) {
	case IOAPIC_REG_ID:
		return (uint32_t)io->id << IOAPIC_ID_SHIFT;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION;
	case IOAPIC_REG_ARB:
		return (uint32_t)io->arb << IOAPIC_ID_SHIFT;
	default:
		return 0; /* reserved register */
	}
}

static void ioapic_write_reg(struct ioapic *io, unsigned reg, uint32_t val)
{
	if (reg >= IOAPIC_REG_REDIR_FIRST && reg < IOAPIC_REG_REDIR_END) {
		ioapic_write_redir(io, reg, val);
		return;
	}
	if (reg == IOAPIC_REG_ID) {
		/* The arbitration ID is loaded from the ID whenever the ID is written. */
		io->id = (val >> IOAPIC_ID_SHIFT) & IOAPIC_ID_MASK;
		io->arb = io->id;
	}
	/* VER and ARB are read-only; other indices are reserved. */
}

/* One byte of the register window, for reads of any size and alignment. */
static uint8_t ioapic_window_byte(const struct ioapic *io, uint64_t offset)
{
	if (offset - IOAPIC_REGSEL < IOAPIC_REG_BYTES)
		return offset == IOAPIC_REGSEL ? io->regsel : 0;
	if (offset - IOAPIC_WINDOW < IOAPIC_REG_BYTES)
		return (uint8_t)(ioapic_read_reg(io, io->regsel) >> (8 * (offset - IOAPIC_WINDOW)));
	return 0;
}

static uint64_t ioapic_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct ioapic *io = opaque;
	uint64_t val = 0;

	if (size > 8)
		return 0;
	pthread_mutex_lock(&io->lock);
	for (unsigned i = 0; i < size; i++)
		val |= (uint64_t)ioapic_window_byte(io, offset + i) << (8 * i);
	pthread_mutex_unlock(&io->lock);
	return val;
}

static void ioapic_mmio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct ioapic *io = opaque;

	pthread_mutex_lock(&io->lock);
	if (offset == IOAPIC_REGSEL && size >= 1)
		io->regsel = (uint8_t)value;
	else if (offset == IOAPIC_WINDOW && size == IOAPIC_REG_BYTES)
		ioapic_write_reg(io, io->regsel, (uint32_t)value);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_reset(struct ioapic *io)
{
	pthread_mutex_lock(&io->lock);
	io->id = io->reset_id;
	io->arb = io->reset_id;
	io->regsel = 0;
	/* Every entry masked (82093AA: mask bit resets to 1); the pins keep their levels. */
	for (int pin = 0; pin < IOAPIC_PINS; pin++) {
		io->redir[pin] = REDIR_MASKED;
		ioapic_route_changed(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

struct ioapic *ioapic_create(const struct ioapic_ops *ops, void *opaque, uint8_t id)
{
	struct ioapic *io = calloc(1, sizeof(*io));

	if (!io)
		return NULL;
	if (pthread_mutex_init(&io->lock, NULL)) {
		free(io);
		return NULL;
	}
	if (ops)
		io->ops = *ops;
	io->opaque = opaque;
	io->reset_id = id & IOAPIC_ID_MASK;
	ioapic_reset(io);
	return io;
}

void ioapic_destroy(struct ioapic *io)
{
	if (!io)
		return;
	pthread_mutex_destroy(&io->lock);
	free(io);
}

int ioapic_attach(struct ioapic *io, struct bus *mmio, uint64_t base)
{
	int id = bus_register(mmio, "ioapic", base, IOAPIC_MMIO_SIZE, ioapic_mmio_read,
			      ioapic_mmio_write, io);

	return id < 0 ? id : 0;
}
