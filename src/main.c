/* hostvisor: command line -> vm config -> engine choice -> run. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostvisor/emu.h"
#include "hostvisor/kvm.h"
#include "hostvisor/log.h"
#include "hostvisor/options.h"
#include "hostvisor/vm.h"

/*
 * cryptomgr.notests: the kernel's self-tests of its crypto algorithms (RSA among them) are half
 * the instructions of the whole boot, a cost without use in a VM's default guest.
 */
#define DEFAULT_GUEST_APPEND "console=ttyS0 quiet cryptomgr.notests"

static uint64_t host_ram_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

/*
 * The default guest lives beside the binary: build/hostvisor -> build/guest/. The emu engine
 * takes the uncompressed vmlinux and initramfs where they are there: on a software CPU the
 * bzImage's decompressor costs more than the rest of the boot (DESIGN.md section 6), and
 * unpacking the zstd initramfs a third of what is left.
 */
static int default_guest(struct vm_config *cfg, bool uncompressed, char *paths, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *dir, *kernel = paths, *initrd = paths + len / 2, *append = paths + len / 4 * 3;

	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	dir = dirname(exe);
	snprintf(kernel, len / 2, "%s/guest/vmlinux", dir);
	if (!uncompressed || access(kernel, R_OK) != 0)
		snprintf(kernel, len / 2, "%s/guest/vmlinuz", dir);
	snprintf(initrd, len / 4, "%s/guest/initrd.cpio", dir);
	if (!uncompressed || access(initrd, R_OK) != 0)
		snprintf(initrd, len / 4, "%s/guest/initrd.img", dir);
	snprintf(append, len / 4, "%s%s%s", DEFAULT_GUEST_APPEND, cfg->append ? " " : "",
		 cfg->append ? cfg->append : "");
	if (access(kernel, R_OK) != 0 || access(initrd, R_OK) != 0) {
		log_error("no --kernel given and no default guest at %s/guest/ (run: make guest)",
			  dir);
		return -ENOENT;
	}
	cfg->kernel = kernel;
	cfg->initrd = initrd;
	cfg->append = append;
	return 0;
}

/* --engine auto|kvm|emu -> the engine to use, or NULL with one line on stderr. */
static const struct engine_ops *choose_engine(const char *name)
{
	char why[512];

	if (!strcmp(name, "emu"))
		return &emu_engine_ops;
	if (!strcmp(name, "kvm")) {
		if (kvm_check(why, sizeof(why)) < 0) {
			log_error("%s", why);
			return NULL;
		}
		return &kvm_engine_ops;
	}
	if (kvm_probe(why, sizeof(why))) {
		log_info("%s", why);
		return &kvm_engine_ops;
	}
	/* DESIGN.md section 2: say in one line why, then take emu. */
	log_warn("%s: using the emu engine", why);
	return &emu_engine_ops;
}

static int probe_command(void)
{
	char why[512];
	bool fast = kvm_probe(why, sizeof(why));

	printf("%s\n", why);
	return fast ? 0 : 1;
}

/* SIGINT, SIGTERM and SIGHUP are read from a signalfd by the I/O loop; block them in every
 * thread, which inherit this mask. */
static void block_quit_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
	static char default_paths[4 * PATH_MAX];
	static struct vm vm;
	struct vm_config cfg;
	const struct engine_ops *engine;
	char err[512] = "";
	int cmd, status;

	cmd = options_parse(argc, argv, host_ram_bytes(), &cfg, err, sizeof(err));
	if (cmd < 0) {
		log_error("%s", err);
		return 2;
	}
	if (cmd == CMD_HELP) {
		fputs(options_usage(), stdout);
		return 0;
	}
	if (cmd == CMD_VERSION) {
		printf("hostvisor %s\n", HOSTVISOR_VERSION);
		return 0;
	}
	log_set_level(cfg.verbose >= 2 ? LOG_DEBUG : cfg.verbose ? LOG_INFO : LOG_WARN);
	if (cmd == CMD_PROBE)
		return probe_command();
	engine = choose_engine(cfg.engine);
	if (!engine)
		return 1;
	if (!cfg.kernel && default_guest(&cfg, engine == &emu_engine_ops, default_paths,
					 sizeof(default_paths)) < 0)
		return 1;
	block_quit_signals();
	if (vm_create(&vm, &cfg, engine) < 0)
		return 1;
	status = vm_run(&vm);
	vm_destroy(&vm);
	return status;
}
