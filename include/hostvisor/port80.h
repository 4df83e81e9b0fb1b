/* Port 0x80, the POST diagnostic port: firmware and kernels write progress codes (and Linux
 * uses it as an I/O delay). It latches the last byte written; a read returns it. */
#ifndef HOSTVISOR_PORT80_H
#define HOSTVISOR_PORT80_H

#include <stdint.h>

#include "hostvisor/bus.h"

struct port80;

struct port80 *port80_create(void);
void port80_destroy(struct port80 *p);
int port80_attach(struct port80 *p, struct bus *pio);
uint8_t port80_last_code(struct port80 *p);

#endif
