/*
 * Range -> handler dispatch for the port and MMIO buses. A sorted array and binary search: the
 * platform has a few dozen ranges, and lookups are the hot path of every exit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/bus.h"

int bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	return -pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	for (int i = 0; i < BUS_MAX_IDS; i++)
		free(bus->id_names[i]);
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose end is above addr (binary search over sorted ranges). */
static int first_range_ending_after(const struct bus *bus, uint64_t addr)
{
	int lo = 0, hi = bus->nranges;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		const struct bus_range *r = &bus->ranges[mid];
		if (r->base + r->len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int grow(struct bus *bus)
{
	int cap = bus->capacity ? bus->capacity * 2 : 32;
	struct bus_range *r = realloc(bus->ranges, (size_t)cap * sizeof(*r));

	if (!r)
		return -ENOMEM;
	bus->ranges = r;
	bus->capacity = cap;
	return 0;
}

int bus_register(struct bus *bus, const char *name, uint64_t base, uint64_t len, bus_read_fn read,
		 bus_write_fn write, void *opaque)
{
	int idx, err = 0, id;

	if (len == 0 || base + len < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	idx = first_range_ending_after(bus, base);
	if (idx < bus->nranges && bus->ranges[idx].base < base + len)
		err = -EEXIST;
	else if (bus->next_id >= BUS_MAX_IDS)
		err = -ENOSPC;
	else if (bus->nranges == bus->capacity)
		err = grow(bus);
	if (err) {
		pthread_rwlock_unlock(&bus->lock);
		return err;
	}
	id = bus->next_id++;
	bus->id_names[id] = strdup(name ? name : "?");
	bus->id_base[id] = base;
	memmove(&bus->ranges[idx + 1], &bus->ranges[idx],
		(size_t)(bus->nranges - idx) * sizeof(bus->ranges[0]));
	bus->ranges[idx] = (struct bus_range){ .base = base,
					       .len = len,
					       .read = read,
					       .write = write,
					       .opaque = opaque,
					       .id = id };
	bus->nranges++;
	pthread_rwlock_unlock(&bus->lock);
	return id;
}

int bus_unregister(struct bus *bus, uint64_t base, void *opaque)
{
	int idx, err = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	idx = first_range_ending_after(bus, base);
	if (idx < bus->nranges && bus->ranges[idx].base == base && bus->ranges[idx].opaque == opaque) {
		memmove(&bus->ranges[idx], &bus->ranges[idx + 1],
			(size_t)(bus->nranges - idx - 1) * sizeof(bus->ranges[0]));
		bus->nranges--;
		err = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

/* Finds the range holding addr; caller holds the read lock. */
static const struct bus_range *lookup(const struct bus *bus, uint64_t addr)
{
	int idx = first_range_ending_after(bus, addr);

	if (idx < bus->nranges && bus->ranges[idx].base <= addr)
		return &bus->ranges[idx];
	return NULL;
}

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/*
 * The handler runs after the lock is dropped: a handler may itself change the bus (a PCI config
 * write that moves an I/O BAR re-registers it), and devices live until the VM is torn down after
 * the vCPUs stopped, so the copied opaque stays valid.
 */
static int lookup_copy(struct bus *bus, uint64_t addr, struct bus_range *out)
{
	const struct bus_range *r;
	int id = BUS_UNCLAIMED;

	pthread_rwlock_rdlock(&bus->lock);
	r = lookup(bus, addr);
	if (r) {
		*out = *r;
		id = r->id;
	}
	pthread_rwlock_unlock(&bus->lock);
	return id;
}

int bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *value)
{
	struct bus_range r;
	int id = lookup_copy(bus, addr, &r);

	*value = all_ones(size);
	if (id != BUS_UNCLAIMED && r.read)
		*value = r.read(r.opaque, addr - r.base, size) & all_ones(size);
	return id;
}

int bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t value)
{
	struct bus_range r;
	int id = lookup_copy(bus, addr, &r);

	if (id != BUS_UNCLAIMED && r.write)
		r.write(r.opaque, addr - r.base, size, value & all_ones(size));
	return id;
}

const char *bus_id_name(const struct bus *bus, int id, uint64_t *base)
{
	if (id < 0 || id >= BUS_MAX_IDS || !bus->id_names[id])
		return NULL;
	if (base)
		*base = bus->id_base[id];
	return bus->id_names[id];
}
