/* Bounds-checked guest memory access; see include/hostvisor/gmem.h. */
#include <errno.h>
#include <string.h>

#include "hostvisor/gmem.h"

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gmem_add_region(struct gmem *gm, uint64_t gpa, uint64_t size, void *hva)
{
	if (size == 0 || gpa + size < gpa || !hva)
		return -EINVAL;
	if (gm->nregions >= GMEM_MAX_REGIONS)
		return -ENOSPC;
	for (int i = 0; i < gm->nregions; i++)
		if (ranges_overlap(gpa, size, gm->region[i].gpa, gm->region[i].size))
			return -EINVAL;
	gm->region[gm->nregions++] = (struct gmem_region){ .gpa = gpa, .size = size, .hva = hva };
	return 0;
}

static const struct gmem_region *region_of(const struct gmem *gm, uint64_t gpa)
{
	for (int i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->region[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *gmem_ptr(const struct gmem *gm, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = region_of(gm, gpa);

	if (!r)
		return NULL;
	/* Written so that no sum can wrap: the offset is below size here. */
	if (len > r->size - (gpa - r->gpa))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

int gmem_iov(const struct gmem *gm, uint64_t gpa, uint64_t len, struct iovec *iov, int max_iov)
{
	int n = 0;

	if (gpa + len < gpa)
		return -EFAULT;
	while (len > 0) {
		const struct gmem_region *r = region_of(gm, gpa);
		uint64_t chunk;

		if (!r)
			return -EFAULT;
		if (n >= max_iov)
			return -ENOBUFS;
		chunk = r->size - (gpa - r->gpa);
		if (chunk > len)
			chunk = len;
		iov[n].iov_base = r->hva + (gpa - r->gpa);
		iov[n].iov_len = chunk;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return n;
}

int gmem_read(const struct gmem *gm, uint64_t gpa, void *buf, size_t len)
{
	struct iovec iov[GMEM_MAX_REGIONS];
	int n = gmem_iov(gm, gpa, len, iov, GMEM_MAX_REGIONS);
	uint8_t *dst = buf;

	if (n < 0)
		return -EFAULT;
	for (int i = 0; i < n; i++) {
		memcpy(dst, iov[i].iov_base, iov[i].iov_len);
		dst += iov[i].iov_len;
	}
	return 0;
}

int gmem_write(const struct gmem *gm, uint64_t gpa, const void *buf, size_t len)
{
	struct iovec iov[GMEM_MAX_REGIONS];
	int n = gmem_iov(gm, gpa, len, iov, GMEM_MAX_REGIONS);
	const uint8_t *src = buf;

	if (n < 0)
		return -EFAULT;
	for (int i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, src, iov[i].iov_len);
		src += iov[i].iov_len;
	}
	return 0;
}

/* x86 hosts are little-endian like the PC bus, so the helpers are plain copies. */
int gmem_read16(const struct gmem *gm, uint64_t gpa, uint16_t *v)
{
	return gmem_read(gm, gpa, v, sizeof(*v));
}

int gmem_read32(const struct gmem *gm, uint64_t gpa, uint32_t *v)
{
	return gmem_read(gm, gpa, v, sizeof(*v));
}

int gmem_write16(const struct gmem *gm, uint64_t gpa, uint16_t v)
{
	return gmem_write(gm, gpa, &v, sizeof(v));
}

int gmem_write32(const struct gmem *gm, uint64_t gpa, uint32_t v)
{
	return gmem_write(gm, gpa, &v, sizeof(v));
}

uint64_t gmem_size(const struct gmem *gm)
{
	uint64_t total = 0;

	for (int i = 0; i < gm->nregions; i++)
		total += gm->region[i].size;
	return total;
}
