/*
 * Intel 8042 keyboard controller with a PS/2 keyboard on its first port: command byte, self
 * tests, output port (A20, reset), scancode set 2 with translation to set 1, the keyboard's own
 * command set (reset, echo, ID, LEDs, typematic, scan code set), and the 0xfe system reset pulse.
 * The auxiliary (mouse) port is reported absent. Data port 0x60, status/command port 0x64.
 */
#ifndef HOSTVISOR_I8042_H
#define HOSTVISOR_I8042_H

#include <stddef.h>
#include <stdint.h>

#include "hostvisor/bus.h"
#include "hostvisor/irq.h"

struct i8042;

/* reset: the output-port reset line was pulsed (command 0xfe, or bit 0 of the output port). */
struct i8042 *i8042_create(struct irq_line kbd_irq1, struct irq_line aux_irq12,
			   void (*reset)(void *opaque), void *opaque);
void i8042_destroy(struct i8042 *kbc);
int i8042_attach(struct i8042 *kbc, struct bus *pio);
void i8042_reset(struct i8042 *kbc);

/* A key event from the host, as a scancode set 2 sequence (e.g. {0xf0, 0x1c} releases 'A'). */
void i8042_kbd_input(struct i8042 *kbc, const uint8_t *set2, size_t len);

#endif
