/*
 * Guest physical memory as seen by device models (DESIGN.md section 5).
 *
 * Every DMA goes through these accessors. They check the whole range [gpa, gpa+len) against
 * guest RAM, so a device never touches host memory outside the guest. A range that is not
 * entirely RAM returns -EFAULT, which the device turns into its own error state.
 */
#ifndef HOSTVISOR_GMEM_H
#define HOSTVISOR_GMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define GMEM_MAX_REGIONS 4

struct gmem_region {
	uint64_t gpa;  /* guest physical base */
	uint64_t size; /* bytes */
	uint8_t *hva;  /* host mapping */
};

struct gmem {
	struct gmem_region region[GMEM_MAX_REGIONS];
	int nregions;
};

/* Adds a RAM region; regions must not overlap. Returns 0 or -EINVAL/-ENOSPC. */
int gmem_add_region(struct gmem *gm, uint64_t gpa, uint64_t size, void *hva);

/* Host pointer for [gpa, gpa+len) if it lies inside one region, else NULL. len 0 is allowed. */
void *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len);

/* Copy out of / into guest RAM; 0 or -EFAULT (nothing copied) when any byte is outside RAM. */
int gmem_read(const struct gmem *gm, uint64_t gpa, void *buf, size_t len);
int gmem_write(const struct gmem *gm, uint64_t gpa, const void *buf, size_t len);

/*
 * Builds an iovec over guest RAM for [gpa, gpa+len), split at region boundaries, for zero-copy
 * readv/writev. Returns the number of entries used, -EFAULT if any byte is outside RAM, or
 * -ENOBUFS if more than max_iov entries would be needed.
 */
int gmem_iov(const struct gmem *gm, uint64_t gpa, uint64_t len, struct iovec *iov, int max_iov);

/* Little-endian helpers for descriptors; return -EFAULT like gmem_read/gmem_write. */
int gmem_read16(const struct gmem *gm, uint64_t gpa, uint16_t *v);
int gmem_read32(const struct gmem *gm, uint64_t gpa, uint32_t *v);
int gmem_write16(const struct gmem *gm, uint64_t gpa, uint16_t v);
int gmem_write32(const struct gmem *gm, uint64_t gpa, uint32_t v);

/* Total RAM bytes (sum of regions). */
uint64_t gmem_size(const struct gmem *gm);

#endif
