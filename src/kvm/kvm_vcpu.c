/*
 * kvm engine vCPUs: creation, CPUID, the 32-bit boot entry state, and the run loop, which is
 * short: enter the guest, then hand each exit to the engine-neutral dispatch (vcpu_pio,
 * vcpu_mmio) or to the platform (EOI, reset, power-off).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hostvisor/log.h"
#include "kvm_internal.h"

#define KICK_SIGNAL SIGUSR1
#define CPUID_MAX_ENTRIES 256

static void kick_handler(int sig)
{
	(void)sig; /* only there to make KVM_RUN return with EINTR */
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));

	if (!c)
		return NULL;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

static unsigned bits_for(int n)
{
	unsigned b = 0;

	while ((1 << b) < n)
		b++;
	return b;
}

/*
 * KVM's supported CPUID, with this vCPU's APIC id and a topology of ncpus single-threaded cores
 * in one package (Intel SDM vol. 2 CPUID leaves 01H and 0BH; AMD APM vol. 3 E.4.7 for
 * 8000_0008H). AMD's extended topology leaf is withheld (TOPOEXT off) so guests use 0BH.
 */
static void cpuid_adjust(struct kvm_cpuid2 *c, int apic_id, int ncpus)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | ((uint32_t)apic_id << 24) |
				 ((uint32_t)ncpus << 16);
			if (ncpus > 1)
				e->edx |= 1u << 28; /* HTT: the count in EBX[23:16] is valid */
			e->ecx |= 1u << 31;         /* running on a hypervisor */
			break;
		case 0xb:
		case 0x1f:
			e->edx = (uint32_t)apic_id;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = 1u << 8; /* level 0: SMT */
			} else if (e->index == 1) {
				e->eax = bits_for(ncpus);
				e->ebx = (uint32_t)ncpus;
				e->ecx = 1u | (2u << 8); /* level 1: core */
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000001:
			e->ecx &= ~(1u << 22); /* TOPOEXT */
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xffu) | (uint32_t)(ncpus - 1);
			break;
		}
	}
}

/*
 * CPUID 0DH.EBX is the XSAVE area size for the XCR0 in force, which KVM recomputes when the guest
 * writes XCR0. Under a nested KVM whose XSETBV never reaches it (QEMU TCG with SVM, measured:
 * the carrier), EBX stays at the x87/SSE size and Linux warns that its xstate sizes disagree.
 * Starting XCR0 with every user component KVM supports gives EBX the size Linux expects; XCR0
 * has no effect until the guest sets CR4.OSXSAVE, and then it writes XCR0 itself.
 */
static void preset_xcr0(struct kvm_vcpu *kv, const struct kvm_cpuid2 *c)
{
	struct kvm_xcrs xcrs = { .nr_xcrs = 1 };

	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != 0xd || e->index != 0 || !(e->eax & 0x3))
			continue;
		xcrs.xcrs[0].xcr = 0;
		xcrs.xcrs[0].value = e->eax | ((uint64_t)e->edx << 32);
		if (ioctl(kv->fd, KVM_SET_XCRS, &xcrs) < 0)
			log_debug("kvm: KVM_SET_XCRS: %s", strerror(errno));
	}
}

static int set_cpuid(struct vcpu *vcpu, struct kvm_vcpu *kv)
{
	struct kvm_cpuid2 *c = supported_cpuid(kvm_of(vcpu->vm)->kvm_fd);
	int rc = 0;

	if (!c)
		return -errno ? -errno : -ENOMEM;
	cpuid_adjust(c, vcpu->id, vcpu->vm->ncpus);
	if (ioctl(kv->fd, KVM_SET_CPUID2, c) < 0)
		rc = -errno;
	else
		preset_xcr0(kv, c);
	free(c);
	return rc;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffffu,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = 1,
		.s = 1,
		.l = 0,
		.g = 1,
	};
}

/* The state both boot protocols define at their 32-bit entry: protected mode, flat 4 GiB
 * segments (0x10 code, 0x18 data in the GDT at VM_BOOT_GDT), paging and interrupts off. */
static int set_boot_state(struct vcpu *vcpu, struct kvm_vcpu *kv)
{
	const struct boot_entry *e = &vcpu->vm->entry;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };

	if (ioctl(kv->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	flat_segment(&sregs.cs, VM_BOOT_CS, 0xb);
	flat_segment(&sregs.ds, VM_BOOT_DS, 0x3);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.gdt.base = VM_BOOT_GDT;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = 0x11; /* PE | ET */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (ioctl(kv->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;
	regs.rip = e->eip;
	regs.rax = e->eax;
	regs.rbx = e->ebx;
	regs.rsi = e->esi;
	regs.rflags = 0x2;
	return ioctl(kv->fd, KVM_SET_REGS, &regs) < 0 ? -errno : 0;
}

int kvm_vcpu_init(struct vcpu *vcpu)
{
	struct kvm_vm *k = kvm_of(vcpu->vm);
	struct kvm_vcpu *kv = calloc(1, sizeof(*kv));
	struct sigaction sa = { .sa_handler = kick_handler };
	int rc;

	if (!kv)
		return -ENOMEM;
	pthread_mutex_init(&kv->kick_lock, NULL);
	vcpu->engine = kv;
	kv->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu->id);
	if (kv->fd < 0) {
		log_error("kvm: cannot create vCPU %d: %s", vcpu->id, strerror(errno));
		return -errno;
	}
	kv->run = mmap(NULL, (size_t)k->run_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, kv->fd,
		       0);
	if (kv->run == MAP_FAILED) {
		kv->run = NULL;
		return -errno;
	}
	/* No SA_RESTART: the kick must interrupt KVM_RUN. */
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
	if ((rc = set_cpuid(vcpu, kv)) < 0) {
		log_error("kvm: vCPU %d: KVM_SET_CPUID2: %s", vcpu->id, strerror(-rc));
		return rc;
	}
	/* APs stay in wait-for-SIPI; KVM's local APIC handles INIT and SIPI from the BSP. */
	if (vcpu->id == 0 && (rc = set_boot_state(vcpu, kv)) < 0) {
		log_error("kvm: cannot set the boot state: %s", strerror(-rc));
		return rc;
	}
	return 0;
}

void kvm_vcpu_destroy(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->engine;

	if (!kv)
		return;
	if (kv->run)
		munmap(kv->run, (size_t)kvm_of(vcpu->vm)->run_mmap_size);
	if (kv->fd >= 0)
		close(kv->fd);
	pthread_mutex_destroy(&kv->kick_lock);
	free(kv);
	vcpu->engine = NULL;
}

void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->engine;

	if (!kv || !kv->run)
		return;
	/* A vCPU kicking itself (its own port write raised the PIC's INT) is between two entries
	 * and looks at interrupts and requests before the next one: a signal would only cost an
	 * extra exit. */
	if (__atomic_load_n(&kv->in_run_loop, __ATOMIC_ACQUIRE) &&
	    pthread_equal(pthread_self(), kv->thread))
		return;
	/* immediate_exit covers a kick that lands just before KVM_RUN is entered (api.rst). */
	__atomic_store_n(&kv->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&kv->kick_lock);
	if (kv->running)
		pthread_kill(kv->thread, KICK_SIGNAL);
	pthread_mutex_unlock(&kv->kick_lock);
}

static void set_running(struct kvm_vcpu *kv, bool running)
{
	pthread_mutex_lock(&kv->kick_lock);
	kv->thread = pthread_self();
	kv->running = running;
	__atomic_store_n(&kv->in_run_loop, running, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&kv->kick_lock);
}

/* ExtINT from the PIC to the BSP: inject when the guest can take it, else ask KVM to exit
 * when it can (interrupt window), as api.rst describes for a user-space PIC. */
static void inject_extint(struct vcpu *vcpu, struct kvm_vcpu *kv)
{
	struct kvm_vm *k = kvm_of(vcpu->vm);
	struct kvm_interrupt irq;

	if (vcpu->id != 0 || !atomic_load(&k->extint) || !vm_pic_pending(vcpu->vm)) {
		kv->run->request_interrupt_window = 0;
		return;
	}
	if (!kv->run->ready_for_interrupt_injection) {
		kv->run->request_interrupt_window = 1;
		return;
	}
	irq.irq = vm_pic_ack(vcpu->vm);
	if (ioctl(kv->fd, KVM_INTERRUPT, &irq) < 0) {
		log_debug("kvm: KVM_INTERRUPT: %s", strerror(errno));
		return;
	}
	vcpu->stats.interrupts_injected++;
	kv->run->request_interrupt_window = vm_pic_pending(vcpu->vm);
}

static void handle_io(struct vcpu *vcpu, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned size = run->io.size;

	/* String I/O arrives as count items back to back in the shared page. */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint64_t v = 0;

		if (is_write)
			memcpy(&v, data, size);
		vcpu_pio(vcpu, run->io.port, size, is_write, &v);
		if (!is_write)
			memcpy(data, &v, size);
	}
}

static void handle_mmio(struct vcpu *vcpu, struct kvm_run *run)
{
	uint64_t v = 0;
	unsigned len = run->mmio.len;

	if (len == 0 || len > 8)
		return;
	if (run->mmio.is_write)
		memcpy(&v, run->mmio.data, len);
	vcpu_mmio(vcpu, run->mmio.phys_addr, len, run->mmio.is_write, &v);
	if (!run->mmio.is_write)
		memcpy(run->mmio.data, &v, len);
}

static void report_failure(struct vcpu *vcpu, struct kvm_run *run)
{
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
		log_error("kvm: vCPU %d: entry failed, hardware reason 0x%llx", vcpu->id,
			  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
	else if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		log_error("kvm: vCPU %d: internal error, suberror %u", vcpu->id,
			  run->internal.suberror);
	else
		log_error("kvm: vCPU %d: unexpected exit reason %u", vcpu->id, run->exit_reason);
}

/* Handles one exit; false when the vCPU must stop. */
static bool handle_exit(struct vcpu *vcpu, struct kvm_run *run)
{
	struct vcpu_stats *st = &vcpu->stats;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu, run);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu, run);
		return true;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		st->exits[EXIT_IRQ_WINDOW]++;
		return true;
	case KVM_EXIT_IOAPIC_EOI:
		st->exits[EXIT_EOI]++;
		vm_ioapic_eoi(vcpu->vm, run->eoi.vector);
		return true;
	case KVM_EXIT_HLT:
		st->exits[EXIT_HLT]++;
		return true;
	case KVM_EXIT_SHUTDOWN:
		/* A triple fault resets the PC (Intel SDM vol. 3, 6.15 #DF, shutdown). */
		st->exits[EXIT_SHUTDOWN]++;
		log_info("vCPU %d: triple fault", vcpu->id);
		vm_request(vcpu->vm, VM_REQ_RESET);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		st->exits[EXIT_SYSTEM_EVENT]++;
		vm_request(vcpu->vm, run->system_event.type == KVM_SYSTEM_EVENT_RESET
					     ? VM_REQ_RESET
					     : VM_REQ_POWEROFF);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
	case KVM_EXIT_INTERNAL_ERROR:
		report_failure(vcpu, run);
		vm_request(vcpu->vm, VM_REQ_ERROR);
		return false;
	default:
		st->exits[EXIT_OTHER]++;
		log_debug("kvm: vCPU %d: exit reason %u ignored", vcpu->id, run->exit_reason);
		return true;
	}
}

int kvm_vcpu_run(struct vcpu *vcpu)
{
	struct kvm_vcpu *kv = vcpu->engine;
	struct kvm_run *run = kv->run;

	set_running(kv, true);
	while (!vm_should_stop(vcpu->vm)) {
		__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (vm_should_stop(vcpu->vm))
			break;
		inject_extint(vcpu, kv);
		if (ioctl(kv->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->stats.exits[EXIT_INTR]++;
				continue;
			}
			int e = errno;

			log_error("kvm: vCPU %d: KVM_RUN: %s", vcpu->id, strerror(e));
			set_running(kv, false);
			return -e;
		}
		if (!handle_exit(vcpu, run))
			break;
	}
	set_running(kv, false);
	return 0;
}
