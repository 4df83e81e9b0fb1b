/*
 * Intel 8259A programmable interrupt controller pair as wired on the PC/AT: the slave's INT
 * output drives the master's IR2, the slave answers the master's cascade address 2. Plus the
 * edge/level control registers of the Intel 82371 PIIX (ELCR1 0x4d0, ELCR2 0x4d1).
 *
 * Sources: Intel 8259A datasheet (231468): "Interrupt Sequence", "Initialization Command Words",
 * "Operation Command Words", "End of Interrupt", "Automatic Rotation", "Special Mask Mode",
 * "Poll Command", "Edge and Level Triggered Modes", "The Special Fully Nested Mode",
 * "Cascade Mode". Intel 82371FB/SB PIIX/PIIX3 datasheet, "ELCR1/ELCR2".
 *
 * Choices where the datasheets leave room, or where the emulation contract differs:
 * - Edge-triggered inputs latch the rising edge in IRR. The datasheet wants an edge IR to stay
 *   high until the first INTA, but our devices signal an edge as irq_pulse() (high, then low at
 *   once), so a falling line does not withdraw an edge request. A request still "vanishes" (and
 *   INTA then returns the default IR7) when a level input falls, when the IR is masked, or when
 *   ICW1 resets the edge sense latches before the INTA.
 * - ICW1 bit 3 (LTIM) is ignored, as on the PIIX where the ELCR replaces it per IR.
 * - ICW4 bit 0 (uPM) is ignored: vectors are always delivered in 8086 format. The PIIX requires
 *   uPM = 1 and MCS-80 call sequences make no sense to an x86 CPU. Buffered mode and M/S are
 *   ignored too (no bus transceivers to drive).
 * - ICW1 does not clear ISR: the datasheet's list of what ICW1 does (edge sense reset, IMR
 *   cleared, IR7 lowest priority, slave address 7, special mask off, read IRR, ICW4 functions
 *   zeroed when IC4 = 0) does not include it.
 * - The poll command is an interrupt acknowledge (datasheet), so AEOI and rotate-in-AEOI apply
 *   to it as to an INTA.
 * - Hardware reset leaves the pair initialized in cascade mode as a PC BIOS programs it (vector
 *   bases 0x08/0x70, master ICW3 0x04, slave ID 2) with every IR masked, so nothing is delivered
 *   with a vector the guest never chose.
 *
 * Locking: one mutex for the pair, taken in the bus callbacks and the public functions. The INT
 * callback runs with it held (so successive INT levels reach the CPU in order); it must not call
 * back into the PIC.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/pic.h"

#define PIC_MASTER_PORT 0x20
#define PIC_SLAVE_PORT 0xa0
#define PIC_ELCR_PORT 0x4d0
#define PIC_PORTS_PER_CHIP 2
#define PIC_ELCR_PORTS 2

/* The PC/AT wiring: slave INT on master IR2, slave cascade ID 2. */
#define PIC_CASCADE_IR 2
#define PIC_SPURIOUS_IR 7

/*
 * PIIX ELCR1/ELCR2: IRQ 0, 1, 2 (master) and IRQ 8, 13 (slave) are always edge; their bits are
 * reserved and read 0.
 */
#define ELCR_MASTER_WRITABLE 0xf8
#define ELCR_SLAVE_WRITABLE 0xde

/* Command word bits (8259A datasheet, figures "Initialization Command Word Format" and
 * "Operation Command Word Format"). */
#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_SELECT 0x10      /* A0 = 0, D4 = 1: ICW1 */
#define ICW2_VECTOR_MASK 0xf8 /* T7-T3; the low 3 bits come from the IR in 8086 mode */
#define ICW3_SLAVE_ID_MASK 0x07
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
#define OCW3_SELECT 0x08 /* A0 = 0, D4 = 0, D3 = 1: OCW3 (else OCW2) */
#define OCW3_RIS 0x01
#define OCW3_RR 0x02
#define OCW3_POLL 0x04
#define OCW3_SMM 0x20
#define OCW3_ESMM 0x40
#define POLL_WORD_INT 0x80

/* OCW2 R/SL/EOI (bits 7-5). */
enum ocw2_command {
	OCW2_ROTATE_AEOI_CLEAR = 0,
	OCW2_NONSPECIFIC_EOI = 1,
	OCW2_NOP = 2,
	OCW2_SPECIFIC_EOI = 3,
	OCW2_ROTATE_AEOI_SET = 4,
	OCW2_ROTATE_NONSPECIFIC_EOI = 5,
	OCW2_SET_PRIORITY = 6,
	OCW2_ROTATE_SPECIFIC_EOI = 7,
};

/* Which initialization command word the next A0 = 1 write is. */
enum pic_init_step {
	PIC_INIT_DONE,
	PIC_INIT_ICW2,
	PIC_INIT_ICW3,
	PIC_INIT_ICW4,
};

struct pic_chip {
	struct pic *pic;
	bool is_master; /* the SP/EN pin: fixed by the board wiring */
	uint8_t line;	/* IR input pin levels */
	uint8_t irr, isr, imr;
	uint8_t elcr, elcr_writable;
	uint8_t vector_base;
	uint8_t icw3;	   /* master: IRs with a slave; slave: its cascade ID */
	uint8_t lowest_ir; /* the IR with the lowest priority; rotation moves it */
	enum pic_init_step init_step;
	bool need_icw4, single, auto_eoi, rotate_in_aeoi, sfnm;
	bool special_mask, read_isr, poll;
	bool int_out;
};

struct pic {
	pthread_mutex_t lock;
	struct pic_chip chip[2]; /* [0] master, [1] slave */
	void (*intr)(void *opaque, int level);
	void *opaque;
};

static inline struct pic_chip *pic_master(struct pic *pic)
{
	return &pic->chip[0];
}

static inline struct pic_chip *pic_slave(struct pic *pic)
{
	return &pic->chip[1];
}

static inline uint8_t ir_bit(int ir)
{
	return (uint8_t)(1u << ir);
}

/* 0 is the highest priority; the IR after lowest_ir has it ("Automatic Rotation"). */
static int chip_priority(const struct pic_chip *c, int ir)
{
	return (ir - c->lowest_ir - 1) & 7;
}

/* The highest-priority IR among bits, or -1. */
static int chip_highest_ir(const struct pic_chip *c, uint8_t bits)
{
	for (int p = 0; p < 8; p++) {
		int ir = (c->lowest_ir + 1 + p) & 7;

		if (bits & ir_bit(ir))
			return ir;
	}
	return -1;
}

/* IRs whose requests come from a slave (master in cascade mode only). */
static uint8_t chip_cascade_mask(const struct pic_chip *c)
{
	return c->is_master && !c->single ? c->icw3 : 0;
}

/*
 * In-service levels that hold off lower priorities. In special mask mode a masked level does
 * not: "it inhibits further interrupts at that level and enables interrupts from all other
 * levels (lower as well as higher) that are not masked".
 */
static uint8_t chip_blocking_isr(const struct pic_chip *c)
{
	return c->special_mask ? c->isr & ~c->imr : c->isr;
}

/*
 * The IR the priority resolver would hand out now, or -1: the highest unmasked request above
 * every blocking in-service level. In special fully nested mode the master also takes a new
 * request from a slave whose IR is already in service (higher priority inside the slave).
 */
static int chip_pending_ir(const struct pic_chip *c)
{
	int req = chip_highest_ir(c, c->irr & ~c->imr);
	int svc;

	if (req < 0)
		return -1;
	svc = chip_highest_ir(c, chip_blocking_isr(c));
	if (svc < 0 || chip_priority(c, req) < chip_priority(c, svc))
		return req;
	if (req == svc && c->sfnm && (chip_cascade_mask(c) & ir_bit(req)))
		return req;
	return -1;
}

/* An input pin moved. Edge mode latches a rising edge; level mode IRR follows the pin. */
static void chip_set_line(struct pic_chip *c, int ir, bool level)
{
	uint8_t bit = ir_bit(ir);
	bool was = c->line & bit;

	if (level)
		c->line |= bit;
	else
		c->line &= ~bit;
	if (c->elcr & bit)
		c->irr = (c->irr & ~bit) | (c->line & bit);
	else if (level && !was)
		c->irr |= bit;
}

/*
 * INTA (or poll) accepted ir: set its ISR bit and reset its IRR bit. A level input that is still
 * high requests again at once; the new request waits behind its own in-service bit.
 */
static void chip_accept(struct pic_chip *c, int ir)
{
	uint8_t bit = ir_bit(ir);

	c->isr |= bit;
	c->irr = (c->irr & ~bit) | (c->line & c->elcr & bit);
}

/* "Automatic End of Interrupt Mode": EOI at the end of the INTA sequence, rotation if set. */
static void chip_auto_eoi(struct pic_chip *c, int ir)
{
	if (!c->auto_eoi)
		return;
	c->isr &= ~ir_bit(ir);
	if (c->rotate_in_aeoi)
		c->lowest_ir = (uint8_t)ir;
}

/* Recomputes the slave's INT (master IR2) and the master's INT, telling the CPU of a change. */
static void pic_update(struct pic *pic)
{
	struct pic_chip *master = pic_master(pic), *slave = pic_slave(pic);
	bool level;

	slave->int_out = chip_pending_ir(slave) >= 0;
	chip_set_line(master, PIC_CASCADE_IR, slave->int_out);
	level = chip_pending_ir(master) >= 0;
	if (level == master->int_out)
		return;
	master->int_out = level;
	if (pic->intr)
		pic->intr(pic->opaque, level);
}

/*
 * The slave's in-service bit is set during its INTA pulses, so its INT falls then, and rises
 * again afterwards if it has another request (AEOI): a fresh edge for the master's IR2.
 */
static void pic_slave_acknowledged(struct pic *pic)
{
	chip_set_line(pic_master(pic), PIC_CASCADE_IR, false);
}

/* "Poll Command": the read is an acknowledge and returns I (bit 7) and W2-W0. */
static uint8_t chip_poll(struct pic_chip *c)
{
	int ir = chip_pending_ir(c);

	c->poll = false;
	if (ir < 0)
		return 0;
	chip_accept(c, ir);
	chip_auto_eoi(c, ir);
	if (!c->is_master)
		pic_slave_acknowledged(c->pic);
	return (uint8_t)(POLL_WORD_INT | ir);
}

static void chip_nonspecific_eoi(struct pic_chip *c, bool rotate)
{
	/* In special mask mode a masked in-service level is not the one cleared (datasheet). */
	int ir = chip_highest_ir(c, chip_blocking_isr(c));

	if (ir < 0)
		return;
	c->isr &= ~ir_bit(ir);
	if (rotate)
		c->lowest_ir = (uint8_t)ir;
}

static void chip_write_ocw2(struct pic_chip *c, uint8_t val)
{
	int level = val & 7;

	switch ((enum ocw2_command)(val >> 5)) {
	case OCW2_ROTATE_AEOI_CLEAR:
		c->rotate_in_aeoi = false;
		break;
	case OCW2_ROTATE_AEOI_SET:
		c->rotate_in_aeoi = true;
		break;
	case OCW2_NONSPECIFIC_EOI:
		chip_nonspecific_eoi(c, false);
		break;
	case OCW2_ROTATE_NONSPECIFIC_EOI:
		chip_nonspecific_eoi(c, true);
		break;
	case OCW2_SPECIFIC_EOI:
		c->isr &= ~ir_bit(level);
		break;
	case OCW2_ROTATE_SPECIFIC_EOI:
		c->isr &= ~ir_bit(level);
		c->lowest_ir = (uint8_t)level;
		break;
	case OCW2_SET_PRIORITY:
		c->lowest_ir = (uint8_t)level;
		break;
	case OCW2_NOP:
		break;
	}
}

static void chip_write_ocw3(struct pic_chip *c, uint8_t val)
{
	if (val & OCW3_ESMM)
		c->special_mask = val & OCW3_SMM;
	if (val & OCW3_RR)
		c->read_isr = val & OCW3_RIS;
	c->poll = val & OCW3_POLL;
}

/*
 * ICW1 starts (or restarts, at any point of a sequence) initialization. Exactly what the
 * datasheet lists: edge sense latches reset (an edge input held high must go low and high
 * again), IMR cleared, IR7 lowest priority, slave address 7, special mask mode off, status read
 * set to IRR, ICW4 functions zeroed if no ICW4 follows.
 */
static void chip_write_icw1(struct pic_chip *c, uint8_t val)
{
	c->need_icw4 = val & ICW1_IC4;
	c->single = val & ICW1_SNGL;
	c->init_step = PIC_INIT_ICW2;
	c->irr = c->line & c->elcr;
	c->imr = 0;
	c->lowest_ir = 7;
	if (!c->is_master)
		c->icw3 = 7;
	c->special_mask = false;
	c->read_isr = false;
	c->poll = false;
	if (!c->need_icw4) {
		c->auto_eoi = false;
		c->sfnm = false;
	}
}

static enum pic_init_step chip_step_after_icw3(const struct pic_chip *c)
{
	return c->need_icw4 ? PIC_INIT_ICW4 : PIC_INIT_DONE;
}

static void chip_write_icw(struct pic_chip *c, uint8_t val)
{
	switch (c->init_step) {
	case PIC_INIT_ICW2:
		c->vector_base = val & ICW2_VECTOR_MASK;
		c->init_step = c->single ? chip_step_after_icw3(c) : PIC_INIT_ICW3;
		break;
	case PIC_INIT_ICW3:
		c->icw3 = c->is_master ? val : val & ICW3_SLAVE_ID_MASK;
		c->init_step = chip_step_after_icw3(c);
		break;
	case PIC_INIT_ICW4:
		c->auto_eoi = val & ICW4_AEOI;
		c->sfnm = val & ICW4_SFNM;
		c->init_step = PIC_INIT_DONE;
		break;
	case PIC_INIT_DONE:
		break;
	}
}

static void chip_write_port(struct pic_chip *c, unsigned port, uint8_t val)
{
	if (port == 1) {
		if (c->init_step != PIC_INIT_DONE)
			chip_write_icw(c, val);
		else
			c->imr = val; /* OCW1 */
		return;
	}
	if (val & ICW1_SELECT)
		chip_write_icw1(c, val);
	else if (val & OCW3_SELECT)
		chip_write_ocw3(c, val);
	else
		chip_write_ocw2(c, val);
}

static uint8_t chip_read_port(struct pic_chip *c, unsigned port)
{
	if (c->poll)
		return chip_poll(c);
	if (port == 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

/*
 * The ports are 8 bits wide; a wider access is split into byte cycles at consecutive ports, as
 * the ISA bus does for an 8-bit device. Bytes past the chip's two ports float (0xff).
 */
static uint64_t pic_chip_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pic_chip *c = opaque;
	struct pic *pic = c->pic;
	uint64_t val = 0;

	if (size > 8)
		return ~0ull;
	pthread_mutex_lock(&pic->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t port = offset + i;
		uint8_t byte = port < PIC_PORTS_PER_CHIP ? chip_read_port(c, (unsigned)port) : 0xff;

		val |= (uint64_t)byte << (8 * i);
	}
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
	return val;
}

static void pic_chip_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pic_chip *c = opaque;
	struct pic *pic = c->pic;

	if (size > 8)
		return;
	pthread_mutex_lock(&pic->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t port = offset + i;

		if (port < PIC_PORTS_PER_CHIP)
			chip_write_port(c, (unsigned)port, (uint8_t)(value >> (8 * i)));
	}
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
}

static void chip_write_elcr(struct pic_chip *c, uint8_t val)
{
	c->elcr = val & c->elcr_writable;
	/* A level IR's request is its pin; an edge IR keeps whatever it latched. */
	c->irr = (c->irr & ~c->elcr) | (c->line & c->elcr);
}

static uint64_t pic_elcr_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pic *pic = opaque;
	uint64_t val = 0;

	if (size > 8)
		return ~0ull;
	pthread_mutex_lock(&pic->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t port = offset + i;
		uint8_t byte = port < PIC_ELCR_PORTS ? pic->chip[port].elcr : 0xff;

		val |= (uint64_t)byte << (8 * i);
	}
	pthread_mutex_unlock(&pic->lock);
	return val;
}

static void pic_elcr_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pic *pic = opaque;

	if (size > 8)
		return;
	pthread_mutex_lock(&pic->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t port = offset + i;

		if (port < PIC_ELCR_PORTS)
			chip_write_elcr(&pic->chip[port], (uint8_t)(value >> (8 * i)));
	}
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
}

/* The slave's half of a cascaded INTA: its vector, or its default IR7 if nothing is pending. */
static uint8_t pic_slave_inta(struct pic *pic)
{
	struct pic_chip *slave = pic_slave(pic);
	int ir = chip_pending_ir(slave);

	if (ir < 0)
		return slave->vector_base | PIC_SPURIOUS_IR;
	chip_accept(slave, ir);
	chip_auto_eoi(slave, ir);
	pic_slave_acknowledged(pic);
	return (uint8_t)(slave->vector_base | ir);
}

/*
 * The master drives the cascade lines with the IR it accepted when ICW3 says a slave sits
 * there; the slave answers only its own ID. If no slave answers, nobody drives the data bus
 * and the CPU reads 0xff.
 */
static uint8_t pic_cascade_inta(struct pic *pic, int cascade_address)
{
	struct pic_chip *slave = pic_slave(pic);

	if (slave->single || slave->icw3 != cascade_address)
		return 0xff;
	return pic_slave_inta(pic);
}

uint8_t pic_ack(struct pic *pic)
{
	struct pic_chip *master = pic_master(pic);
	uint8_t vector;
	int ir;

	pthread_mutex_lock(&pic->lock);
	ir = chip_pending_ir(master);
	if (ir < 0) {
		/* The request went away before INTA: default IR7, no in-service bit set. */
		vector = master->vector_base | PIC_SPURIOUS_IR;
	} else {
		chip_accept(master, ir);
		if (chip_cascade_mask(master) & ir_bit(ir))
			vector = pic_cascade_inta(pic, ir);
		else
			vector = (uint8_t)(master->vector_base | ir);
		chip_auto_eoi(master, ir);
	}
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
	return vector;
}

bool pic_intr_pending(struct pic *pic)
{
	bool level;

	pthread_mutex_lock(&pic->lock);
	level = pic_master(pic)->int_out;
	pthread_mutex_unlock(&pic->lock);
	return level;
}

void pic_set_irq(struct pic *pic, int irq, int level)
{
	/* IRQ 2 is the master's cascade input, driven by the slave alone (ISA IRQ2 is IRQ9). */
	if (irq < 0 || irq > 15 || irq == PIC_CASCADE_IR)
		return;
	pthread_mutex_lock(&pic->lock);
	chip_set_line(&pic->chip[irq >> 3], irq & 7, level != 0);
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
}

static void chip_reset(struct pic_chip *c, bool is_master)
{
	struct pic *pic = c->pic;
	uint8_t line = c->line;

	memset(c, 0, sizeof(*c));
	c->pic = pic;
	c->is_master = is_master;
	c->line = line; /* the pins belong to the devices driving them */
	c->imr = 0xff;
	c->lowest_ir = 7;
	c->vector_base = is_master ? 0x08 : 0x70;
	c->icw3 = is_master ? ir_bit(PIC_CASCADE_IR) : PIC_CASCADE_IR;
	c->elcr_writable = is_master ? ELCR_MASTER_WRITABLE : ELCR_SLAVE_WRITABLE;
}

void pic_reset(struct pic *pic)
{
	bool int_was;

	pthread_mutex_lock(&pic->lock);
	int_was = pic_master(pic)->int_out;
	chip_reset(pic_master(pic), true);
	chip_reset(pic_slave(pic), false);
	/* Keep the old INT level so pic_update reports the fall to the CPU. */
	pic_master(pic)->int_out = int_was;
	pic_update(pic);
	pthread_mutex_unlock(&pic->lock);
}

struct pic *pic_create(void (*intr)(void *opaque, int level), void *opaque)
{
	struct pic *pic = calloc(1, sizeof(*pic));

	if (!pic)
		return NULL;
	if (pthread_mutex_init(&pic->lock, NULL)) {
		free(pic);
		return NULL;
	}
	pic->intr = intr;
	pic->opaque = opaque;
	pic->chip[0].pic = pic;
	pic->chip[1].pic = pic;
	pic_reset(pic);
	return pic;
}

void pic_destroy(struct pic *pic)
{
	if (!pic)
		return;
	pthread_mutex_destroy(&pic->lock);
	free(pic);
}

int pic_attach(struct pic *pic, struct bus *pio)
{
	int err;

	err = bus_register(pio, "pic-master", PIC_MASTER_PORT, PIC_PORTS_PER_CHIP, pic_chip_read,
			   pic_chip_write, pic_master(pic));
	if (err < 0)
		return err;
	err = bus_register(pio, "pic-slave", PIC_SLAVE_PORT, PIC_PORTS_PER_CHIP, pic_chip_read,
			   pic_chip_write, pic_slave(pic));
	if (err < 0)
		goto undo_master;
	err = bus_register(pio, "pic-elcr", PIC_ELCR_PORT, PIC_ELCR_PORTS, pic_elcr_read,
			   pic_elcr_write, pic);
	if (err < 0)
		goto undo_slave;
	return 0;

undo_slave:
	bus_unregister(pio, PIC_SLAVE_PORT, pic_slave(pic));
undo_master:
	bus_unregister(pio, PIC_MASTER_PORT, pic_master(pic));
	return err;
}
