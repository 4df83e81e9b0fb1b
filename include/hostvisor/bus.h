/*
 * Port I/O and MMIO buses: address range -> handler dispatch (DESIGN.md section 5).
 *
 * One mechanism serves both buses. A device registers [base, base+len) with read/write
 * callbacks that get the offset inside the range. Overlapping registrations are refused.
 * An access nobody claims reads as all-ones, is ignored on write, and is counted.
 *
 * Handlers may run concurrently on several vCPU threads; a device guards its state with its own
 * lock. Registration changes (PCI BAR moves) take the bus's write lock and are safe at run time.
 */
#ifndef HOSTVISOR_BUS_H
#define HOSTVISOR_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef uint64_t (*bus_read_fn)(void *opaque, uint64_t offset, unsigned size);
typedef void (*bus_write_fn)(void *opaque, uint64_t offset, unsigned size, uint64_t value);

/* Registration ids are never reused, so per-vCPU exit counters can be indexed by them. */
#define BUS_MAX_IDS 512

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_read_fn read;   /* NULL: reads all-ones */
	bus_write_fn write; /* NULL: writes ignored */
	void *opaque;
	int id;
};

struct bus {
	const char *name; /* "pio" or "mmio" */
	pthread_rwlock_t lock;
	struct bus_range *ranges; /* sorted by base */
	int nranges, capacity;
	int next_id;
	char *id_names[BUS_MAX_IDS]; /* name of each registration, for statistics */
	uint64_t id_base[BUS_MAX_IDS];
};

/* Result of one access: which registration took it (-1: unclaimed). */
#define BUS_UNCLAIMED (-1)

int bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Returns the registration id (>= 0), -EEXIST on overlap, -EINVAL on a bad range, -ENOSPC. */
int bus_register(struct bus *bus, const char *name, uint64_t base, uint64_t len, bus_read_fn read,
		 bus_write_fn write, void *opaque);
/* Removes the registration starting at base owned by opaque; -ENOENT if there is none. */
int bus_unregister(struct bus *bus, uint64_t base, void *opaque);

/* Dispatch. size is 1, 2, 4 or 8. Return the registration id or BUS_UNCLAIMED. */
int bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *value);
int bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t value);

/* Name and base of a registration id, for statistics; NULL if the id was never used. */
const char *bus_id_name(const struct bus *bus, int id, uint64_t *base);

#endif
