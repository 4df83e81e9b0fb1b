/* Fuzzes port 0x80 and its neighbours with accesses of every size: the latch must always hold
 * the low byte of the last write to 0x80. */
#include <stdint.h>
#include <stdlib.h>

#include "hostvisor/port80.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	struct bus pio;
	struct port80 *p = port80_create();
	int expect = 0;

	bus_init(&pio, "pio");
	port80_attach(p, &pio);
	for (; len >= 3; data += 3, len -= 3) {
		uint16_t port = (uint16_t)(0x7e + (data[0] & 3));
		unsigned size = sizes[data[1] & 3];
		uint64_t v;

		if (data[0] & 0x80) {
			bus_read(&pio, port, size, &v);
			continue;
		}
		bus_write(&pio, port, size, data[2]);
		if (port == 0x80)
			expect = data[2];
		if (port80_last_code(p) != expect)
			abort();
	}
	bus_destroy(&pio);
	port80_destroy(p);
	return 0;
}
