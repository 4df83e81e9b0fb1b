/* Command-line parsing: sizes, limits, and one clear error per bad flag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hostvisor/options.h"

#define HOST_RAM (24ull << 30)

static int parse(struct vm_config *cfg, char *err, size_t errlen, int argc, char **argv)
{
	err[0] = '\0';
	return options_parse(argc, argv, HOST_RAM, cfg, err, errlen);
}

#define PARSE(cfg, err, ...)                                                                      \
	parse(cfg, err, sizeof(err), (int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)),   \
	      (char *[]){ __VA_ARGS__ })

static void test_sizes(void **state)
{
	(void)state;
	assert_true(options_parse_size("512M") == 512ull << 20);
	assert_true(options_parse_size("2G") == 2ull << 30);
	assert_true(options_parse_size("2GiB") == 2ull << 30);
	assert_true(options_parse_size("65536K") == 64ull << 20);
	assert_true(options_parse_size("1048576") == 1048576);
	assert_true(options_parse_size("") == 0);
	assert_true(options_parse_size("-1G") == 0);
	assert_true(options_parse_size("12X") == 0);
	assert_true(options_parse_size("99999999999999999999") == 0);
	assert_true(options_parse_size("99999999999T") == 0);
}

static void test_defaults(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&cfg, err, "hostvisor", "run"), CMD_RUN);
	assert_string_equal(cfg.engine, "auto");
	assert_true(cfg.mem_size == 512ull << 20);
	assert_int_equal(cfg.ncpus, 1);
	assert_string_equal(cfg.serial[0], "stdio");
	assert_null(cfg.kernel);
}

static void test_full_command(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&cfg, err, "hostvisor", "run", "--engine", "kvm", "--kernel", "k",
			       "--initrd", "i", "--append", "a b", "--mem", "1G", "--cpus", "4",
			       "--serial", "null", "--serial", "file:/tmp/x", "--no-reboot",
			       "--stats"),
			 CMD_RUN);
	assert_string_equal(cfg.engine, "kvm");
	assert_string_equal(cfg.kernel, "k");
	assert_string_equal(cfg.append, "a b");
	assert_true(cfg.mem_size == 1ull << 30);
	assert_int_equal(cfg.ncpus, 4);
	assert_string_equal(cfg.serial[0], "null");
	assert_string_equal(cfg.serial[1], "file:/tmp/x");
	assert_true(cfg.no_reboot && cfg.stats);
}

static void test_errors_name_the_value(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--bogus") < 0);
	assert_non_null(strstr(err, "--bogus"));
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--mem", "1M") < 0);
	assert_non_null(strstr(err, "too small"));
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--mem", "100G") < 0);
	assert_non_null(strstr(err, "host"));
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--mem", "lots") < 0);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--cpus", "0") < 0);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--cpus", "17") < 0);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--cpus", "2x") < 0);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--engine", "xen") < 0);
	assert_non_null(strstr(err, "xen"));
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--initrd", "i") < 0);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--kernel") < 0);
	assert_non_null(strstr(err, "--kernel"));
	assert_true(PARSE(&cfg, err, "hostvisor", "fly") < 0);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "extra") < 0);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--serial", "null", "--serial", "null",
			  "--serial", "null", "--serial", "null", "--serial", "null") < 0);
	assert_true(strchr(err, '\n') == NULL);
	assert_true(PARSE(&cfg, err, "hostvisor", "run", "--net", "e1000,tap=x") < 0);
	assert_non_null(strstr(err, "e1000"));
}

static void test_net(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&cfg, err, "hostvisor", "run", "--net", "pcnet,tap=hv0", "--net",
			       "pcnet,user,mac=02:00:00:00:00:02"),
			 CMD_RUN);
	assert_int_equal(cfg.nnet, 2);
	assert_string_equal(cfg.net[1], "pcnet,user,mac=02:00:00:00:00:02");
}

static void test_commands(void **state)
{
	struct vm_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&cfg, err, "hostvisor"), CMD_HELP);
	assert_int_equal(PARSE(&cfg, err, "hostvisor", "--help"), CMD_HELP);
	assert_int_equal(PARSE(&cfg, err, "hostvisor", "run", "--help"), CMD_HELP);
	assert_int_equal(PARSE(&cfg, err, "hostvisor", "--version"), CMD_VERSION);
	assert_int_equal(PARSE(&cfg, err, "hostvisor", "probe"), CMD_PROBE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_command),
		cmocka_unit_test(test_errors_name_the_value),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_net),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
