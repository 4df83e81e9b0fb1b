/* Command-line parsing into struct vm_config; every error is one line naming the bad value. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/nic.h"
#include "hostvisor/options.h"

#define DEFAULT_MEM (512ull << 20)
#define MAX_MEM (1ull << 40)

enum {
	OPT_ENGINE = 256,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_APPEND,
	OPT_MEM,
	OPT_CPUS,
	OPT_SERIAL,
	OPT_NET,
	OPT_NO_REBOOT,
	OPT_STATS,
	OPT_NO_JIT,
	OPT_VERBOSE,
	OPT_HELP,
};

static const struct option long_options[] = {
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "net", required_argument, NULL, OPT_NET },
	{ "no-reboot", no_argument, NULL, OPT_NO_REBOOT },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "no-jit", no_argument, NULL, OPT_NO_JIT },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

const char *options_usage(void)
{
	return "usage: hostvisor run [--engine auto|kvm|emu] [--kernel FILE [--initrd FILE] "
	       "[--append ARGS]]\n"
	       "                     [--mem SIZE] [--cpus N] [--serial stdio|file:PATH|unix:PATH|"
	       "null]...\n"
	       "                     [--net MODEL,BACKEND[,mac=MAC][,capture=FILE]]...\n"
	       "                     [--no-reboot] [--stats] [--no-jit] [--verbose]\n"
	       "       hostvisor probe      (can /dev/kvm run an unmodified kernel here?)\n"
	       "       hostvisor --version\n"
	       "Without --kernel, run boots the default guest built by `make` (build/guest/).\n"
	       "COM1 is on the terminal by default; type Ctrl-A x to quit.\n";
}

uint64_t options_parse_size(const char *s)
{
	char *end;
	uint64_t v, mult = 1;

	if (!s || !*s || *s == '-')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'K': case 'k': mult = 1ull << 10; end++; break;
	case 'M': case 'm': mult = 1ull << 20; end++; break;
	case 'G': case 'g': mult = 1ull << 30; end++; break;
	case 'T': case 't': mult = 1ull << 40; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || v > UINT64_MAX / mult)
		return 0;
	return v * mult;
}

static int parse_cpus(const char *s, int *n)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > VM_MAX_CPUS)
		return -EINVAL;
	*n = (int)v;
	return 0;
}

static int check_mem(uint64_t mem, const char *arg, uint64_t host_ram, char *err, size_t errlen)
{
	if (mem == 0) {
		snprintf(err, errlen, "--mem %s: not a size (e.g. 512M, 2G)", arg);
		return -EINVAL;
	}
	if (mem < VM_MIN_MEM) {
		snprintf(err, errlen, "--mem %s: too small; the minimum is %llu MiB", arg,
			 VM_MIN_MEM >> 20);
		return -EINVAL;
	}
	if (mem > MAX_MEM || (host_ram && mem > host_ram)) {
		snprintf(err, errlen, "--mem %s: more than the host's %" PRIu64 " MiB of RAM", arg,
			 host_ram >> 20);
		return -EINVAL;
	}
	if (mem & 0xfff) {
		snprintf(err, errlen, "--mem %s: must be a multiple of 4 KiB", arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_option(int opt, const char *arg, uint64_t host_ram, struct vm_config *cfg,
			int *nserial, char *err, size_t errlen)
{
	switch (opt) {
	case OPT_ENGINE:
		if (strcmp(arg, "auto") && strcmp(arg, "kvm") && strcmp(arg, "emu")) {
			snprintf(err, errlen, "--engine %s: expected auto, kvm or emu", arg);
			return -EINVAL;
		}
		cfg->engine = arg;
		return 0;
	case OPT_KERNEL: cfg->kernel = arg; return 0;
	case OPT_INITRD: cfg->initrd = arg; return 0;
	case OPT_APPEND: cfg->append = arg; return 0;
	case OPT_MEM:
		cfg->mem_size = options_parse_size(arg);
		return check_mem(cfg->mem_size, arg, host_ram, err, errlen);
	case OPT_CPUS:
		if (parse_cpus(arg, &cfg->ncpus) == 0)
			return 0;
		snprintf(err, errlen, "--cpus %s: expected a number from 1 to %d", arg, VM_MAX_CPUS);
		return -EINVAL;
	case OPT_SERIAL:
		if (*nserial >= VM_MAX_SERIAL) {
			snprintf(err, errlen, "--serial %s: at most %d serial ports", arg,
				 VM_MAX_SERIAL);
			return -EINVAL;
		}
		cfg->serial[(*nserial)++] = arg;
		return 0;
	case OPT_NET: {
		struct nic_config nic;

		if (cfg->nnet >= VM_MAX_NICS) {
			snprintf(err, errlen, "--net %s: at most %d NICs", arg, VM_MAX_NICS);
			return -EINVAL;
		}
		if (nic_config_parse(arg, &nic, err, errlen) < 0)
			return -EINVAL;
		cfg->net[cfg->nnet++] = arg;
		return 0;
	}
	case OPT_NO_REBOOT: cfg->no_reboot = true; return 0;
	case OPT_STATS: cfg->stats = true; return 0;
	case OPT_NO_JIT: cfg->no_jit = true; return 0;
	case OPT_VERBOSE: cfg->verbose++; return 0;
	default:
		return -EINVAL;
	}
}

static void defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->engine = "auto";
	cfg->mem_size = DEFAULT_MEM;
	cfg->ncpus = 1;
}

int options_parse(int argc, char **argv, uint64_t host_ram, struct vm_config *cfg, char *err,
		  size_t errlen)
{
	int nserial = 0, opt, rc;
	const char *cmd = argc > 1 ? argv[1] : NULL;

	defaults(cfg);
	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
		return CMD_HELP;
	if (!strcmp(cmd, "--version"))
		return CMD_VERSION;
	if (strcmp(cmd, "run") && strcmp(cmd, "probe")) {
		snprintf(err, errlen, "unknown command '%s' (try: hostvisor --help)", cmd);
		return -EINVAL;
	}
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, "", long_options, NULL)) != -1) {
		if (opt == OPT_HELP)
			return CMD_HELP;
		if (opt == '?') {
			/* getopt ran over argv + 1, so the offending word is argv[optind]. */
			const char *bad = optind < argc ? argv[optind] : argv[argc - 1];
			if (optopt)
				snprintf(err, errlen, "option '%s' needs a value", bad);
			else
				snprintf(err, errlen, "unknown option '%s' (try: hostvisor --help)",
					 bad);
			return -EINVAL;
		}
		rc = parse_option(opt, optarg, host_ram, cfg, &nserial, err, errlen);
		if (rc < 0)
			return rc;
	}
	if (optind + 1 < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind + 1]);
		return -EINVAL;
	}
	if (!cfg->kernel && cfg->initrd) {
		snprintf(err, errlen, "--initrd needs --kernel");
		return -EINVAL;
	}
	if (nserial == 0)
		cfg->serial[0] = "stdio";
	return !strcmp(cmd, "probe") ? CMD_PROBE : CMD_RUN;
}
