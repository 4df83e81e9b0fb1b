/* The command line (DESIGN.md section 6): hostvisor run [options]. */
#ifndef HOSTVISOR_OPTIONS_H
#define HOSTVISOR_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "hostvisor/vm.h"

enum command { CMD_RUN, CMD_PROBE, CMD_HELP, CMD_VERSION };

/*
 * Parses argv into cfg. host_ram is the host's RAM in bytes (0: unknown), for the --mem check.
 * Returns the command, or a negative errno with one clear line in err.
 */
int options_parse(int argc, char **argv, uint64_t host_ram, struct vm_config *cfg, char *err,
		  size_t errlen);
/* "512M", "2G", "65536K", "1048576": bytes, or 0 when malformed or zero. */
uint64_t options_parse_size(const char *s);
const char *options_usage(void);

#endif
