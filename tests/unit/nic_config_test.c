/* --net parsing and the default MAC. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hostvisor/nic.h"

static void test_tap_with_mac_and_capture(void **state)
{
	struct nic_config nic;
	char err[256];
	const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };

	(void)state;
	assert_int_equal(nic_config_parse("pcnet,tap=hv0,mac=52:54:00:AB:cd:ef,capture=/tmp/x.pcap",
					  &nic, err, sizeof(err)),
			 0);
	assert_string_equal(nic.model, "pcnet");
	assert_string_equal(nic.backend, "tap=hv0");
	assert_true(nic.mac_set);
	assert_memory_equal(nic.mac, want, 6);
	assert_string_equal(nic.capture, "/tmp/x.pcap");
}

static void test_backend_options_kept_in_order(void **state)
{
	struct nic_config nic;
	char err[256];

	(void)state;
	assert_int_equal(nic_config_parse("pcnet,user,hostfwd=tcp:8080-:80,restrict=on", &nic, err,
					  sizeof(err)),
			 0);
	assert_string_equal(nic.backend, "user,hostfwd=tcp:8080-:80,restrict=on");
	assert_false(nic.mac_set);
	assert_string_equal(nic.capture, "");
}

static void test_errors(void **state)
{
	struct nic_config nic;
	char err[256];

	(void)state;
	assert_true(nic_config_parse("e1000,tap=x", &nic, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "e1000"));
	assert_true(nic_config_parse("pcnet", &nic, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "no backend"));
	assert_true(nic_config_parse("", &nic, err, sizeof(err)) < 0);
	assert_true(nic_config_parse("pcnet,,tap=x", &nic, err, sizeof(err)) < 0);
	assert_true(nic_config_parse("pcnet,tap=x,mac=01:00:00:00:00:01", &nic, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "mac="));
	assert_true(nic_config_parse("pcnet,tap=x,mac=52:54:00:00:00", &nic, err, sizeof(err)) < 0);
	assert_true(nic_config_parse("pcnet,tap=x,capture=", &nic, err, sizeof(err)) < 0);
}

static void test_mac_parse(void **state)
{
	uint8_t mac[6];

	(void)state;
	assert_int_equal(mac_parse("02:00:00:00:00:01", mac), 0);
	assert_int_equal(mac_parse("00:00:00:00:00:00", mac), -EINVAL);
	assert_int_equal(mac_parse("ff:ff:ff:ff:ff:ff", mac), -EINVAL);
	assert_int_equal(mac_parse("02:00:00:00:00:01:", mac), -EINVAL);
	assert_int_equal(mac_parse("02-00-00-00-00-01", mac), -EINVAL);
	assert_int_equal(mac_parse("0g:00:00:00:00:01", mac), -EINVAL);
}

static void test_default_mac_stable_and_local(void **state)
{
	uint8_t a[6], b[6], c[6], d[6];

	(void)state;
	nic_default_mac("machine|/boot/vmlinuz", 0, a);
	nic_default_mac("machine|/boot/vmlinuz", 0, b);
	nic_default_mac("machine|/boot/vmlinuz", 1, c);
	nic_default_mac("other|/boot/vmlinuz", 0, d);
	assert_memory_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_memory_not_equal(a, d, 6);
	assert_int_equal(a[0] & 0x03, 0x02); /* locally administered, unicast */
	assert_int_equal(c[0] & 0x03, 0x02);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap_with_mac_and_capture),
		cmocka_unit_test(test_backend_options_kept_in_order),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_mac_parse),
		cmocka_unit_test(test_default_mac_stable_and_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
