/* Port 0x80: latches the last byte written, reads it back, ignores nothing else on the bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostvisor/port80.h"

static void test_latch_and_read_back(void **state)
{
	struct bus pio;
	struct port80 *p = port80_create();
	uint64_t v;

	(void)state;
	assert_non_null(p);
	bus_init(&pio, "pio");
	assert_int_equal(port80_attach(p, &pio), 0);
	assert_int_equal(port80_last_code(p), 0);
	assert_true(bus_write(&pio, 0x80, 1, 0x5a) >= 0);
	assert_int_equal(port80_last_code(p), 0x5a);
	assert_true(bus_read(&pio, 0x80, 1, &v) >= 0);
	assert_int_equal(v, 0x5a);
	/* A word write latches its low byte, as the byte lane at 0x80 does. */
	bus_write(&pio, 0x80, 2, 0x1234);
	assert_int_equal(port80_last_code(p), 0x34);
	/* The neighbours stay unclaimed. */
	assert_int_equal(bus_read(&pio, 0x81, 1, &v), BUS_UNCLAIMED);
	assert_int_equal(bus_read(&pio, 0x7f, 1, &v), BUS_UNCLAIMED);
	/* A second attach on the same bus is refused, not doubled. */
	assert_true(port80_attach(p, &pio) < 0);
	bus_destroy(&pio);
	port80_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latch_and_read_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
