/*
 * The one AML construct the guests need (ACPI 6.x section 20.2): Name(\_S5, Package() {typ_a,
 * ...}). The DSDT is searched for the NameSeg "_S5_" after a NameOp (0x08, optionally with the
 * root prefix '\'), followed by PackageOp (0x12), PkgLength (1-4 bytes, 20.2.4), NumElements, and
 * the first element: BytePrefix (0x0a) + byte, WordPrefix (0x0b) + word, DWordPrefix (0x0c) +
 * dword, ZeroOp (0x00), OneOp (0x01) or OnesOp (0xff).
 */
#include "guest.h"

#define AML_NAME_OP 0x08
#define AML_ROOT_CHAR 0x5c
#define AML_PACKAGE_OP 0x12
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_ONES_OP 0xff

static int aml_integer(const uint8_t *p, const uint8_t *end)
{
	if (p >= end)
		return -1;
	switch (p[0]) {
	case AML_ZERO_OP:
		return 0;
	case AML_ONE_OP:
		return 1;
	case AML_ONES_OP:
		return 0xff;
	case AML_BYTE_PREFIX:
	case AML_WORD_PREFIX:
	case AML_DWORD_PREFIX:
		/* SLP_TYP is 3 bits; the low byte carries it whatever the width. */
		return p + 1 < end ? p[1] : -1;
	default:
		return -1;
	}
}

/* p points just after "_S5_"; returns SLP_TYPa or -1. */
static int s5_package(const uint8_t *p, const uint8_t *end)
{
	if (p + 2 > end || p[0] != AML_PACKAGE_OP)
		return -1;
	p++;
	p += 1 + (p[0] >> 6); /* PkgLength: bits 7:6 of the lead byte count the bytes that follow */
	p++;		      /* NumElements */
	return aml_integer(p, end);
}

int aml_find_s5(const uint8_t *aml, uint32_t len)
{
	const uint8_t *end = aml + len;

	for (const uint8_t *p = aml + 1; p + 4 <= end; p++) {
		if (memcmp(p, "_S5_", 4))
			continue;
		bool named = p[-1] == AML_NAME_OP ||
			     (p[-1] == AML_ROOT_CHAR && p - 2 >= aml && p[-2] == AML_NAME_OP);
		if (!named)
			continue;
		int typ = s5_package(p + 4, end);

		if (typ >= 0)
			return typ;
	}
	return -1;
}
