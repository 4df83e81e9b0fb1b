/* --net parsing; see include/hostvisor/nic.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostvisor/nic.h"

static const char *const known_models[] = { "pcnet" };

static bool model_known(const char *m)
{
	for (size_t i = 0; i < sizeof(known_models) / sizeof(known_models[0]); i++)
		if (!strcmp(m, known_models[i]))
			return true;
	return false;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_parse(const char *s, uint8_t mac[6])
{
	uint8_t m[6];

	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	if (*s || (m[0] & 1) || !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
		return -EINVAL;
	memcpy(mac, m, 6);
	return 0;
}

/* Appends word to the backend spec, comma-separated; false when it does not fit. */
static bool backend_append(struct nic_config *nic, const char *word, size_t len)
{
	size_t used = strlen(nic->backend);

	if (used + len + 2 > sizeof(nic->backend))
		return false;
	if (used)
		nic->backend[used++] = ',';
	memcpy(nic->backend + used, word, len);
	nic->backend[used + len] = '\0';
	return true;
}

static int parse_word(struct nic_config *nic, const char *w, size_t len, char *err, size_t errlen)
{
	char buf[PATH_MAX + 16];

	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "--net: option too long");
		return -EINVAL;
	}
	memcpy(buf, w, len);
	buf[len] = '\0';
	if (!strncmp(buf, "mac=", 4)) {
		if (mac_parse(buf + 4, nic->mac) < 0) {
			snprintf(err, errlen, "--net %s: not a unicast MAC address", buf);
			return -EINVAL;
		}
		nic->mac_set = true;
		return 0;
	}
	if (!strncmp(buf, "capture=", 8)) {
		if (!buf[8] || len - 8 >= sizeof(nic->capture)) {
			snprintf(err, errlen, "--net %s: needs a file name", buf);
			return -EINVAL;
		}
		memcpy(nic->capture, buf + 8, len - 8 + 1);
		return 0;
	}
	if (!backend_append(nic, buf, len)) {
		snprintf(err, errlen, "--net: backend options too long");
		return -EINVAL;
	}
	return 0;
}

int nic_config_parse(const char *spec, struct nic_config *nic, char *err, size_t errlen)
{
	const char *comma = strchr(spec, ','), *p;
	size_t mlen = comma ? (size_t)(comma - spec) : strlen(spec);

	memset(nic, 0, sizeof(*nic));
	if (mlen == 0 || mlen >= sizeof(nic->model)) {
		snprintf(err, errlen, "--net %s: expected MODEL,BACKEND (e.g. pcnet,tap=hv0)", spec);
		return -EINVAL;
	}
	memcpy(nic->model, spec, mlen);
	if (!model_known(nic->model)) {
		snprintf(err, errlen, "--net %s: unknown NIC model '%s' (known: pcnet)", spec,
			 nic->model);
		return -EINVAL;
	}
	for (p = comma; p && *p;) {
		const char *start = p + 1, *end = strchr(start, ',');
		size_t len = end ? (size_t)(end - start) : strlen(start);
		int rc;

		if (len == 0) {
			snprintf(err, errlen, "--net %s: empty option", spec);
			return -EINVAL;
		}
		rc = parse_word(nic, start, len, err, errlen);
		if (rc < 0)
			return rc;
		p = end;
	}
	if (!nic->backend[0]) {
		snprintf(err, errlen, "--net %s: no backend (tap=NAME or user)", spec);
		return -EINVAL;
	}
	return 0;
}

/* FNV-1a: small, stable across builds and hosts, good enough to spread seeds over 40 bits. */
static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

void nic_default_mac(const char *seed, int index, uint8_t mac[6])
{
	uint64_t h = fnv1a(seed ? seed : "", 0xcbf29ce484222325ull);

	h ^= (uint64_t)index * 0x9e3779b97f4a7c15ull;
	h *= 0x100000001b3ull;
	mac[0] = 0x02; /* locally administered, unicast */
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}
