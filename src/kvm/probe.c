/*
 * The engine probe (DESIGN.md section 2): a tiny guest runs a counted loop at ring 0 in 32-bit
 * protected mode and signals the end with an OUT. With VT-x or AMD-V that takes microseconds;
 * a /dev/kvm that emulates ring-0 code (PVM) takes a large fraction of a second. The rate
 * decides whether an unmodified kernel can run on the kvm engine.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hostvisor/kvm.h"
#include "kvm_internal.h"

#define PROBE_MEM 0x10000
#define PROBE_CODE 0x1000
#define PROBE_LOOPS 50000u       /* 2 instructions each: 100,000 instructions */
#define PROBE_DONE_PORT 0x80
#define PROBE_FAST_MIPS 50.0     /* hardware virtualization runs thousands of MIPS */
#define PROBE_MAX_EXITS 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mov ecx, PROBE_LOOPS; 1: dec ecx; jnz 1b; out PROBE_DONE_PORT, al; hlt */
static void write_probe_code(uint8_t *mem)
{
	uint8_t code[] = { 0xb9, 0, 0, 0, 0, 0x49, 0x75, 0xfd, 0xe6, PROBE_DONE_PORT, 0xf4 };
	uint32_t loops = PROBE_LOOPS;

	memcpy(&code[1], &loops, sizeof(loops));
	memcpy(mem + PROBE_CODE, code, sizeof(code));
}

static int probe_vcpu_state(int vcpu_fd)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = PROBE_CODE, .rflags = 0x2 };
	struct kvm_segment code = { .limit = 0xffffffffu, .selector = 0x8, .type = 0xb, .present = 1,
				    .db = 1, .s = 1, .g = 1 };
	struct kvm_segment data = code;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	data.type = 0x3;
	data.selector = 0x10;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr0 = 0x11;
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	return ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}

/* Runs the probe until its OUT; returns seconds, or negative errno with why filled in. */
static double probe_run(int vcpu_fd, struct kvm_run *run, char *why, size_t whylen)
{
	double start = now_s();

	for (int i = 0; i < PROBE_MAX_EXITS; i++) {
		if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			snprintf(why, whylen, "/dev/kvm cannot run ring-0 guest code: KVM_RUN: %s",
				 strerror(errno));
			return -1;
		}
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == PROBE_DONE_PORT)
			return now_s() - start;
		if (run->exit_reason != KVM_EXIT_IO && run->exit_reason != KVM_EXIT_MMIO &&
		    run->exit_reason != KVM_EXIT_INTR) {
			snprintf(why, whylen,
				 "/dev/kvm cannot run ring-0 guest code: unexpected exit %u",
				 run->exit_reason);
			return -1;
		}
	}
	snprintf(why, whylen, "/dev/kvm cannot run ring-0 guest code: the probe did not finish");
	return -1;
}

static bool probe_with_vm(int kvm_fd, int vm_fd, uint8_t *mem, char *why, size_t whylen)
{
	struct kvm_userspace_memory_region slot = {
		.memory_size = PROBE_MEM, .userspace_addr = (uint64_t)(uintptr_t)mem
	};
	int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	int vcpu_fd;
	struct kvm_run *run;
	double secs, mips;
	bool fast = false;

	write_probe_code(mem);
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0 ||
	    (vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0)) < 0) {
		snprintf(why, whylen, "/dev/kvm cannot set up a probe VM: %s", strerror(errno));
		return false;
	}
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	if (run == MAP_FAILED) {
		snprintf(why, whylen, "/dev/kvm: cannot map the vCPU: %s", strerror(errno));
		close(vcpu_fd);
		return false;
	}
	if (probe_vcpu_state(vcpu_fd) < 0) {
		snprintf(why, whylen, "/dev/kvm: cannot set the probe's registers");
	} else if ((secs = probe_run(vcpu_fd, run, why, whylen)) >= 0) {
		mips = 2.0 * PROBE_LOOPS / (secs > 1e-9 ? secs : 1e-9) / 1e6;
		fast = mips >= PROBE_FAST_MIPS;
		snprintf(why, whylen,
			 fast ? "/dev/kvm runs ring-0 guest code at %.0f M instructions/s: using kvm"
			      : "/dev/kvm runs ring-0 guest code at only %.1f M instructions/s "
				"(emulated, e.g. PVM; hardware virtualization runs thousands): too "
				"slow for an unmodified kernel",
			 mips);
	}
	munmap(run, (size_t)size);
	close(vcpu_fd);
	return fast;
}

bool kvm_probe(char *why, size_t whylen)
{
	int kvm_fd = kvm_open_checked(why, whylen);
	int vm_fd;
	uint8_t *mem;
	bool fast;

	if (kvm_fd < 0)
		return false;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0) {
		snprintf(why, whylen, "/dev/kvm: cannot create a VM: %s", strerror(errno));
		close(kvm_fd);
		return false;
	}
	mem = mmap(NULL, PROBE_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fast = mem != MAP_FAILED && probe_with_vm(kvm_fd, vm_fd, mem, why, whylen);
	if (mem != MAP_FAILED)
		munmap(mem, PROBE_MEM);
	close(vm_fd);
	close(kvm_fd);
	return fast;
}
