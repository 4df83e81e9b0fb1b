/*
 * National Semiconductor NS16550A UART: 16-byte transmit and receive FIFOs, divisor latch,
 * line/modem control and status, interrupt identification with the datasheet's priorities
 * (receiver line status, received data available and character timeout, THR empty, modem status),
 * scratch register, loopback. Datasheet: NS16550A (PC16550D), National Semiconductor.
 */
#ifndef HOSTVISOR_UART_H
#define HOSTVISOR_UART_H

#include <stdint.h>

#include "hostvisor/bus.h"
#include "hostvisor/chardev.h"
#include "hostvisor/evloop.h"
#include "hostvisor/irq.h"

#define UART_COM1_BASE 0x3f8
#define UART_COM2_BASE 0x2f8
#define UART_COM3_BASE 0x3e8
#define UART_COM4_BASE 0x2e8

struct uart;

/* chr may be NULL (no backend: output dropped, no input). */
struct uart *uart_create(struct evloop *loop, struct irq_line irq, struct chardev *chr);
void uart_destroy(struct uart *uart);
/* Claims base..base+7. */
int uart_attach(struct uart *uart, struct bus *pio, uint16_t base);
void uart_reset(struct uart *uart);

#endif
