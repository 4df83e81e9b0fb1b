/*
 * The kvm engine's VM: capabilities, guest RAM slots, the split irqchip (KVM's local APICs in
 * the kernel, our PIC and I/O APIC in user space, so both engines share one interrupt model),
 * and interrupt delivery. Kernel API: Documentation/virt/kvm/api.rst.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hostvisor/kvm.h"
#include "hostvisor/log.h"
#include "kvm_internal.h"

/* Addresses KVM needs for Intel real-mode emulation, placed in the top of the PCI hole below
 * the BIOS, away from the IOAPIC and LAPIC pages (api.rst, KVM_SET_TSS_ADDR). */
#define KVM_TSS_ADDR 0xfeffd000ull
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SPLIT_IRQCHIP, "KVM_CAP_SPLIT_IRQCHIP" },
	{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
	{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
};

int kvm_open_checked(char *err, size_t errlen)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		snprintf(err, errlen, "/dev/kvm: %s%s", strerror(errno),
			 errno == ENOENT   ? " (no KVM on this host)"
			 : errno == EACCES ? " (add yourself to the kvm group)"
					   : "");
		return -errno;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm: API version %d, need %d", version, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, required_caps[i].cap) > 0)
			continue;
		snprintf(err, errlen, "/dev/kvm lacks %s", required_caps[i].name);
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

int kvm_check(char *err, size_t errlen)
{
	int fd = kvm_open_checked(err, errlen);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int set_memory(struct vm *vm, struct kvm_vm *k)
{
	for (int i = 0; i < vm->gmem.nregions; i++) {
		const struct gmem_region *r = &vm->gmem.region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = (uint32_t)i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	return 0;
}

static int vm_setup(struct vm *vm, struct kvm_vm *k)
{
	/* Split irqchip: local APICs in KVM, and IOAPIC_PINS GSIs whose routes mirror our I/O
	 * APIC so that KVM exits on EOI of its level-triggered vectors (api.rst 7.x). */
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { IOAPIC_PINS } };
	uint64_t ident = KVM_IDENTITY_MAP_ADDR;
	int max = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max > 0 && vm->ncpus > max) {
		log_error("kvm: --cpus %d exceeds this host's KVM limit of %d", vm->ncpus, max);
		return -EINVAL;
	}
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		return -errno;
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0)
		return -errno;
	if (ioctl(k->vm_fd, KVM_ENABLE_CAP, &split) < 0)
		return -errno;
	return set_memory(vm, k);
}

static int kvm_vm_init(struct vm *vm)
{
	char err[256];
	struct kvm_vm *k = calloc(1, sizeof(*k));
	int rc;

	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->route_lock, NULL);
	k->vm_fd = -1;
	k->kvm_fd = kvm_open_checked(err, sizeof(err));
	vm->engine_vm = k;
	if (k->kvm_fd < 0) {
		log_error("%s", err);
		return k->kvm_fd;
	}
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	k->run_mmap_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vm_fd < 0 || k->run_mmap_size <= 0) {
		log_error("kvm: cannot create a VM: %s", strerror(errno));
		return -errno;
	}
	rc = vm_setup(vm, k);
	if (rc < 0)
		log_error("kvm: VM set-up failed: %s", strerror(-rc));
	return rc;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *k = kvm_of(vm);

	if (!k)
		return;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	pthread_mutex_destroy(&k->route_lock);
	free(k);
	vm->engine_vm = NULL;
}

static void kvm_deliver_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	if (ioctl(kvm_of(vm)->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		log_debug("kvm: KVM_SIGNAL_MSI: %s", strerror(errno));
}

/* The PIC's INT output: the BSP picks it up at its next entry (kvm_vcpu.c). */
static void kvm_set_extint(struct vm *vm, int level)
{
	struct kvm_vm *k = kvm_of(vm);

	if (!k)
		return;
	atomic_store(&k->extint, level);
	if (level && vm->vcpu[0])
		kvm_vcpu_kick(vm->vcpu[0]);
}

static void kvm_ioapic_route(struct vm *vm, int pin, uint64_t addr, uint32_t data, bool masked)
{
	struct kvm_vm *k = kvm_of(vm);
	/* struct kvm_irq_routing ends in a flexible array: reserve room for IOAPIC_PINS entries. */
	union {
		struct kvm_irq_routing hdr;
		uint8_t room[sizeof(struct kvm_irq_routing) +
			     IOAPIC_PINS * sizeof(struct kvm_irq_routing_entry)];
	} table;
	uint32_t n = 0;

	if (!k || pin < 0 || pin >= IOAPIC_PINS)
		return;
	memset(&table, 0, sizeof(table));
	pthread_mutex_lock(&k->route_lock);
	k->route_valid[pin] = !masked;
	k->route[pin] = (struct kvm_irq_routing_entry){
		.gsi = (uint32_t)pin,
		.type = KVM_IRQ_ROUTING_MSI,
		.u.msi = { .address_lo = (uint32_t)addr,
			   .address_hi = (uint32_t)(addr >> 32),
			   .data = data },
	};
	for (int i = 0; i < IOAPIC_PINS; i++)
		if (k->route_valid[i])
			table.hdr.entries[n++] = k->route[i];
	table.hdr.nr = n;
	if (ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, &table) < 0)
		log_warn("kvm: KVM_SET_GSI_ROUTING: %s", strerror(errno));
	pthread_mutex_unlock(&k->route_lock);
}

const struct engine_ops kvm_engine_ops = {
	.name = "kvm",
	.vm_init = kvm_vm_init,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.deliver_msi = kvm_deliver_msi,
	.set_extint = kvm_set_extint,
	.ioapic_route = kvm_ioapic_route,
};
