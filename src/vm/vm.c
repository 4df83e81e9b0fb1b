/*
 * The machine's life cycle: guest RAM and buses for the life of the process, then boot cycles
 * (firmware set-up, kernel load, engine, vCPU threads, the I/O loop on the main thread) until
 * the guest powers off, the user quits, or an error ends it. A guest reset starts a new cycle
 * with the same devices and backends, so COM1 on the terminal stays as it is across reboots.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostvisor/log.h"
#include "hostvisor/platform.h"
#include "hostvisor/vm.h"

#define KERNEL_MAX_BYTES (512ull << 20)

/* Reads a whole file; one clear line in err on failure. */
/*
 * Maps a kernel or initrd file read-only. A mapping, not a copy: once the loader has put the
 * bytes into guest RAM, image_release() gives the pages back, so they stay out of the VMM's
 * resident memory until a reset loads them again from the page cache.
 */
static int read_file(const char *what, const char *path, uint64_t max, uint8_t **data,
		     size_t *len, char *err, size_t errlen)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s %s: %s", what, path,
			 !S_ISREG(st.st_mode) ? "not a regular file"
			 : st.st_size <= 0    ? "empty file"
					      : "too large for guest memory");
		close(fd);
		return -EINVAL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s %s: cannot map: %s", what, path, strerror(errno));
		return -errno;
	}
	*data = map;
	*len = (size_t)st.st_size;
	return 0;
}

/* After a load: the file's pages leave the resident set (they come back from the page cache). */
static void image_release(uint8_t *data, size_t len)
{
	if (data)
		madvise(data, len, MADV_DONTNEED);
}

static int ram_create(struct vm *vm, char *err, size_t errlen)
{
	int rc;

	vm->ram_size = vm->cfg.mem_size;
	vm->low_size = vm->ram_size < MEM_PCI_HOLE_START ? vm->ram_size : MEM_PCI_HOLE_START;
	vm->high_size = vm->ram_size - vm->low_size;
	/* MAP_NORESERVE: guest RAM is touched on demand, like a process's own heap. */
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		snprintf(err, errlen, "cannot map %llu MiB of guest RAM: %s",
			 (unsigned long long)(vm->ram_size >> 20), strerror(errno));
		return -ENOMEM;
	}
	rc = gmem_add_region(&vm->gmem, 0, vm->low_size, vm->ram);
	if (rc == 0 && vm->high_size)
		rc = gmem_add_region(&vm->gmem, MEM_4G, vm->high_size,
				     (uint8_t *)vm->ram + vm->low_size);
	e820_build(&vm->e820, vm->ram_size);
	return rc;
}

/* SIGINT, SIGTERM and SIGHUP end the VM cleanly through the I/O loop (terminal restored,
 * sockets removed); main() blocks them in every thread before any thread starts. */
static void signal_ready(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) != sizeof(si))
		return;
	vm->quit_signal = (int)si.ssi_signo;
	vm_request(vm, VM_REQ_QUIT);
}

static int signals_watch(struct vm *vm)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0)
		return -errno;
	return evloop_add_fd(vm->loop, vm->signal_fd, EPOLLIN, signal_ready, vm);
}

int vm_create(struct vm *vm, const struct vm_config *cfg, const struct engine_ops *engine)
{
	char err[512] = "";
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->signal_fd = -1;
	vm->cfg = *cfg;
	vm->engine = engine;
	vm->ncpus = cfg->ncpus;
	if ((rc = bus_init(&vm->pio, "pio")) < 0 || (rc = bus_init(&vm->mmio, "mmio")) < 0)
		goto fail;
	vm->loop = evloop_create();
	if (!vm->loop) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "cannot create the event loop");
		goto fail;
	}
	if ((rc = signals_watch(vm)) < 0) {
		snprintf(err, sizeof(err), "cannot watch signals: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = ram_create(vm, err, sizeof(err))) < 0)
		goto fail;
	rc = read_file("kernel", cfg->kernel, KERNEL_MAX_BYTES, &vm->kernel, &vm->kernel_len, err,
		       sizeof(err));
	if (rc < 0)
		goto fail;
	if (cfg->initrd) {
		rc = read_file("initrd", cfg->initrd, vm->ram_size, &vm->initrd, &vm->initrd_len,
			       err, sizeof(err));
		if (rc < 0)
			goto fail;
	}
	if (!linux_is_bzimage(vm->kernel, vm->kernel_len) &&
	    !multiboot_find_header(vm->kernel, vm->kernel_len) &&
	    !pvh_is_elf_kernel(vm->kernel, vm->kernel_len)) {
		snprintf(err, sizeof(err),
			 "kernel %s: neither a Linux bzImage, an x86-64 ELF kernel nor a Multiboot "
			 "kernel",
			 cfg->kernel);
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = platform_create(vm, err, sizeof(err))) < 0)
		goto fail;
	return 0;
fail:
	log_error("%s", err[0] ? err : strerror(-rc));
	vm_destroy(vm);
	return rc;
}

void vm_destroy(struct vm *vm)
{
	for (int i = 0; i < VM_MAX_CPUS; i++) {
		free(vm->vcpu[i]);
		vm->vcpu[i] = NULL;
	}
	if (vm->signal_fd >= 0 && vm->loop)
		evloop_del_fd(vm->loop, vm->signal_fd);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	vm->signal_fd = -1;
	platform_destroy(vm);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	if (vm->kernel)
		munmap(vm->kernel, vm->kernel_len);
	if (vm->initrd)
		munmap(vm->initrd, vm->initrd_len);
	vm->kernel = vm->initrd = NULL;
	evloop_destroy(vm->loop);
	vm->loop = NULL;
	if (vm->pio.name)
		bus_destroy(&vm->pio);
	if (vm->mmio.name)
		bus_destroy(&vm->mmio);
}

void vm_request(struct vm *vm, enum vm_request req)
{
	int none = VM_REQ_NONE;

	if (!atomic_compare_exchange_strong(&vm->request, &none, (int)req))
		return;
	for (int i = 0; i < vm->ncpus; i++)
		if (vm->vcpu[i] && vm->engine->vcpu_kick)
			vm->engine->vcpu_kick(vm->vcpu[i]);
	evloop_stop(vm->loop);
}

void vcpu_pio(struct vcpu *vcpu, uint16_t port, unsigned size, bool is_write, uint64_t *value)
{
	struct vm *vm = vcpu->vm;
	int id;

	vcpu->stats.exits[EXIT_PIO]++;
	if (is_write)
		id = bus_write(&vm->pio, port, size, *value);
	else
		id = bus_read(&vm->pio, port, size, value);
	stats_count_bus(vcpu->stats.pio, &vcpu->stats.pio_unclaimed, id, is_write);
}

void vcpu_mmio(struct vcpu *vcpu, uint64_t addr, unsigned size, bool is_write, uint64_t *value)
{
	struct vm *vm = vcpu->vm;
	int id;

	vcpu->stats.exits[EXIT_MMIO]++;
	if (is_write)
		id = bus_write(&vm->mmio, addr, size, *value);
	else
		id = bus_read(&vm->mmio, addr, size, value);
	stats_count_bus(vcpu->stats.mmio, &vcpu->stats.mmio_unclaimed, id, is_write);
}

/* Puts the boot images into RAM and computes the entry state. */
static int load_kernel(struct vm *vm, char *err, size_t errlen)
{
	struct boot_images img = {
		.kernel = vm->kernel,
		.kernel_len = vm->kernel_len,
		.initrd = vm->initrd,
		.initrd_len = vm->initrd_len,
		.cmdline = vm->cfg.append,
		.rsdp_addr = vm->rsdp_addr,
	};

	/* Null, null, 4 GiB flat code (0x10), 4 GiB flat data (0x18) (Intel SDM vol. 3, 3.4.5). */
	static const uint64_t gdt[4] = { 0, 0, 0x00cf9a000000ffffull, 0x00cf92000000ffffull };

	if (gmem_write(&vm->gmem, VM_BOOT_GDT, gdt, sizeof(gdt)) < 0) {
		snprintf(err, errlen, "cannot write the boot GDT");
		return -EFAULT;
	}
	if (linux_is_bzimage(vm->kernel, vm->kernel_len))
		return linux_load(&vm->gmem, &vm->e820, &img, &vm->entry, err, errlen);
	if (!multiboot_find_header(vm->kernel, vm->kernel_len))
		return pvh_load(&vm->gmem, &vm->e820, &img, &vm->entry, err, errlen);
	return multiboot_load(&vm->gmem, &vm->e820, &img, &vm->entry, err, errlen);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;

	vcpu->run_result = vcpu->vm->engine->vcpu_run(vcpu);
	if (vcpu->run_result < 0)
		vm_request(vcpu->vm, VM_REQ_ERROR);
	return NULL;
}

/* Stops and frees the vCPUs and the engine's VM of one boot cycle. */
static void teardown_cycle(struct vm *vm, int started)
{
	for (int i = 0; i < started; i++)
		pthread_join(vm->vcpu[i]->thread, NULL);
	for (int i = 0; i < vm->ncpus; i++) {
		if (!vm->vcpu[i])
			continue;
		if (vm->vcpu[i]->engine)
			vm->engine->vcpu_destroy(vm->vcpu[i]);
	}
	if (vm->engine_vm)
		vm->engine->vm_destroy(vm);
}

static int start_vcpus(struct vm *vm, int *started)
{
	int rc;

	for (int i = 0; i < vm->ncpus; i++) {
		if (!vm->vcpu[i]) {
			vm->vcpu[i] = calloc(1, sizeof(struct vcpu));
			if (!vm->vcpu[i])
				return -ENOMEM;
			vm->vcpu[i]->vm = vm;
			vm->vcpu[i]->id = i;
		}
		if ((rc = vm->engine->vcpu_init(vm->vcpu[i])) < 0)
			return rc;
	}
	for (int i = 0; i < vm->ncpus; i++) {
		rc = pthread_create(&vm->vcpu[i]->thread, NULL, vcpu_thread, vm->vcpu[i]);
		if (rc)
			return -rc;
		(*started)++;
	}
	return 0;
}

/* One boot cycle: returns the request that ended it, or VM_REQ_ERROR. */
static enum vm_request boot_cycle(struct vm *vm)
{
	char err[512] = "";
	int started = 0, rc;

	atomic_store(&vm->request, VM_REQ_NONE);
	if (vm->boots++ > 0)
		madvise(vm->ram, vm->ram_size, MADV_DONTNEED); /* RAM reads as zero again */
	if ((rc = platform_reset(vm, err, sizeof(err))) < 0 ||
	    (rc = load_kernel(vm, err, sizeof(err))) < 0) {
		log_error("%s", err);
		return VM_REQ_ERROR;
	}
	image_release(vm->kernel, vm->kernel_len);
	image_release(vm->initrd, vm->initrd_len);
	rc = vm->engine->vm_init(vm);
	if (rc == 0)
		rc = start_vcpus(vm, &started);
	if (rc < 0) {
		vm_request(vm, VM_REQ_ERROR);
	} else {
		rc = evloop_run(vm->loop);
		if (rc < 0)
			vm_request(vm, VM_REQ_ERROR);
	}
	teardown_cycle(vm, started);
	return (enum vm_request)atomic_load(&vm->request);
}

static void print_stats(struct vm *vm)
{
	struct vcpu_stats *v[VM_MAX_CPUS];
	int n = 0;

	for (int i = 0; i < vm->ncpus; i++)
		if (vm->vcpu[i])
			v[n++] = &vm->vcpu[i]->stats;
	stats_print(stderr, v, n, &vm->pio, &vm->mmio, atomic_load(&vm->msi_delivered));
	platform_print_stats(vm, stderr);
}

/* Exit status: 0 for power-off, a quit, or a reset under --no-reboot; 128+N for signal N;
 * 1 for an error. */
static int cycle_outcome(struct vm *vm, enum vm_request req, bool *again)
{
	*again = false;
	switch (req) {
	case VM_REQ_POWEROFF:
		return 0;
	case VM_REQ_QUIT:
		return vm->quit_signal ? 128 + vm->quit_signal : 0;
	case VM_REQ_RESET:
		if (vm->cfg.no_reboot) {
			log_warn("guest reset; exiting (--no-reboot)");
			return 0;
		}
		log_info("guest reset; rebooting");
		*again = true;
		return 0;
	default:
		return 1;
	}
}

int vm_run(struct vm *vm)
{
	bool again = true;
	int status = 0;

	while (again)
		status = cycle_outcome(vm, boot_cycle(vm), &again);
	if (vm->cfg.stats)
		print_stats(vm);
	return status;
}
