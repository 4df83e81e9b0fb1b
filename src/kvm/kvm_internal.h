/* State shared by the kvm engine's files. */
#ifndef HOSTVISOR_KVM_INTERNAL_H
#define HOSTVISOR_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>

#include "hostvisor/ioapic.h"
#include "hostvisor/vm.h"

struct kvm_vm {
	int kvm_fd, vm_fd;
	int run_mmap_size;
	pthread_mutex_t route_lock;
	struct kvm_irq_routing_entry route[IOAPIC_PINS];
	bool route_valid[IOAPIC_PINS];
	_Atomic int extint; /* level of the PIC's INT output */
};

struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
	pthread_mutex_t kick_lock; /* guards running/thread against a kick racing the exit */
	bool running;              /* the thread is in its run loop: kicks may signal it */
	bool in_run_loop;          /* the same, readable without the lock (atomic) */
	pthread_t thread;
};

static inline struct kvm_vm *kvm_of(struct vm *vm)
{
	return vm->engine_vm;
}

int kvm_vcpu_init(struct vcpu *vcpu);
void kvm_vcpu_destroy(struct vcpu *vcpu);
int kvm_vcpu_run(struct vcpu *vcpu);
void kvm_vcpu_kick(struct vcpu *vcpu);
/* Opens /dev/kvm and checks the API version and capabilities (kvm.c). */
int kvm_open_checked(char *err, size_t errlen);

#endif
