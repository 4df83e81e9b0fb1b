/* Port 0x80 POST code latch; see include/hostvisor/port80.h. */
#include <stdatomic.h>
#include <stdlib.h>

#include "hostvisor/port80.h"

struct port80 {
	_Atomic uint8_t code; /* a single byte: no lock needed */
};

static uint64_t port80_read(void *opaque, uint64_t offset, unsigned size)
{
	struct port80 *p = opaque;

	(void)offset;
	(void)size;
	return atomic_load(&p->code);
}

static void port80_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct port80 *p = opaque;

	(void)offset;
	(void)size;
	atomic_store(&p->code, (uint8_t)value);
}

struct port80 *port80_create(void)
{
	return calloc(1, sizeof(struct port80));
}

void port80_destroy(struct port80 *p)
{
	free(p);
}

int port80_attach(struct port80 *p, struct bus *pio)
{
	int rc = bus_register(pio, "post", 0x80, 1, port80_read, port80_write, p);

	return rc < 0 ? rc : 0;
}

uint8_t port80_last_code(struct port80 *p)
{
	return atomic_load(&p->code);
}
