/*
 * The 8259A pair of the PC (Intel 8259A datasheet, "Initialization Command Words"): master at
 * 0x20/0x21, slave at 0xa0/0xa1 on the master's IR2.
 */
#include "guest.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define ICW1_INIT_ICW4 0x11 /* edge triggered, cascade, ICW4 follows */
#define ICW4_8086 0x01

void pic_init(uint8_t vector_base)
{
	outb(PIC1_CMD, ICW1_INIT_ICW4);
	outb(PIC2_CMD, ICW1_INIT_ICW4);
	outb(PIC1_DATA, vector_base);	  /* ICW2: vectors base..base+7 */
	outb(PIC2_DATA, vector_base + 8); /* ICW2: vectors base+8..base+15 */
	outb(PIC1_DATA, 0x04);		  /* ICW3: a slave on IR2 */
	outb(PIC2_DATA, 0x02);		  /* ICW3: slave identity 2 */
	outb(PIC1_DATA, ICW4_8086);
	outb(PIC2_DATA, ICW4_8086);
	pic_set_mask(0xffff);
}

/* OCW1: bit n masks IRn; the slave's bits are 15:8. */
void pic_set_mask(uint16_t mask)
{
	outb(PIC1_DATA, (uint8_t)mask);
	outb(PIC2_DATA, (uint8_t)(mask >> 8));
}
