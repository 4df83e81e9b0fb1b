/* Shared by the emu engine's VM (engine.c) and vCPU (emu_vcpu.c) code. */
#ifndef HOSTVISOR_EMU_INTERNAL_H
#define HOSTVISOR_EMU_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/lapic.h"
#include "hostvisor/vm.h"
#include "hostvisor/x86_cpu.h"
#include "icache.h"
#include "jit.h"

#define EMU_UD_LOG_MAX 16
#define EMU_TRACE_LEN 32 /* a power of two */

struct emu_vm {
	struct vm *vm;
	uint64_t start_ns; /* the virtual clock's 0: guest TSC and kvmclock count from here */
	atomic_int extint;  /* the 8259's INT output */
	atomic_uint lowest_rr; /* round robin of lowest-priority deliveries */
};

struct emu_vcpu {
	struct vcpu *vcpu;
	struct emu_vm *ev;
	struct lapic *apic;
	struct icache *icache;
	struct x86_jit *jit; /* NULL: --no-jit */
	bool wait_for_sipi;  /* an AP before its STARTUP IPI (SDM 9.4) */
	bool halt_counted;
	atomic_bool kicked;  /* look at interrupts and requests now */
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;
	uint64_t trace[EMU_TRACE_LEN]; /* RIPs of the last instructions, for -vv fault reports */
	unsigned trace_pos;
	uint64_t ud_logged[EMU_UD_LOG_MAX];
	unsigned n_ud_logged;
	struct x86_cpu cpu; /* last: large (the TLB) */
};

static inline struct emu_vm *emu_vm_of(struct vm *vm)
{
	return vm->engine_vm;
}

/* engine.c: interrupt messages from an APIC's ICR or an MSI, routed to the APICs. */
void emu_route_message(struct vm *vm, struct emu_vcpu *from, uint8_t dest, bool logical,
		       unsigned shorthand, enum lapic_delivery mode, uint8_t vector, bool level);
uint64_t emu_clock_ns(struct emu_vm *ev);

/* emu_vcpu.c */
int emu_vcpu_init(struct vcpu *vcpu);
void emu_vcpu_destroy(struct vcpu *vcpu);
int emu_vcpu_run(struct vcpu *vcpu);
void emu_vcpu_kick(struct vcpu *vcpu);

#endif
