/*
 * The engine-neutral machine (DESIGN.md sections 2 and 4): guest RAM, the port and MMIO buses,
 * the platform devices, interrupt routing, vCPU threads, and the engine that executes guest code.
 * struct vm owns all mutable state of a VM.
 */
#ifndef HOSTVISOR_VM_H
#define HOSTVISOR_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hostvisor/boot.h"
#include "hostvisor/bus.h"
#include "hostvisor/e820.h"
#include "hostvisor/evloop.h"
#include "hostvisor/gmem.h"
#include "hostvisor/irq.h"
#include "hostvisor/stats.h"

#define VM_MAX_CPUS 16
#define VM_MAX_SERIAL 4
#define VM_MAX_NICS 4
#define VM_MIN_MEM (16ull << 20)
/* A flat GDT the VMM writes for the 32-bit boot entry: selector 0x10 code, 0x18 data, as the
 * Linux boot protocol names them (__BOOT_CS, __BOOT_DS). */
#define VM_BOOT_GDT 0x500ull
#define VM_BOOT_CS 0x10
#define VM_BOOT_DS 0x18

struct vm_config {
	const char *engine; /* "auto", "kvm", "emu" */
	const char *kernel;
	const char *initrd;
	const char *append;
	uint64_t mem_size;
	int ncpus;
	const char *serial[VM_MAX_SERIAL]; /* chardev specs for COM1..COM4; NULL = none */
	const char *net[VM_MAX_NICS];      /* --net specs, validated by nic_config_parse */
	int nnet;
	bool no_reboot;
	bool stats;
	bool no_jit; /* emu engine: interpret every instruction (no translation cache) */
	int verbose;
};

/* Why the VM stopped running (or is about to). */
enum vm_request {
	VM_REQ_NONE,
	VM_REQ_POWEROFF, /* ACPI S5: exit 0 */
	VM_REQ_RESET,    /* keyboard controller, ACPI reset register, or triple fault */
	VM_REQ_QUIT,     /* the user asked (Ctrl-A x, SIGTERM) */
	VM_REQ_ERROR,    /* an engine failure: exit non-zero */
};

struct vm;
struct vcpu;

/* What an engine provides (src/kvm/ now; src/emu/ later). */
struct engine_ops {
	const char *name;
	/* Creates the engine's VM for one boot cycle, maps guest RAM. */
	int (*vm_init)(struct vm *vm);
	void (*vm_destroy)(struct vm *vm);
	/* Creates a vCPU; the BSP starts at vm->entry, APs wait for INIT/SIPI. */
	int (*vcpu_init)(struct vcpu *vcpu);
	void (*vcpu_destroy)(struct vcpu *vcpu);
	/* Runs guest code and dispatches exits until vm_should_stop(); 0 or negative errno. */
	int (*vcpu_run)(struct vcpu *vcpu);
	/* Makes vcpu_run look at vm state soon (from any thread). */
	void (*vcpu_kick)(struct vcpu *vcpu);
	/* Interrupt delivery from the platform's interrupt controllers. */
	void (*deliver_msi)(struct vm *vm, uint64_t addr, uint32_t data);
	void (*set_extint)(struct vm *vm, int level);
	void (*ioapic_route)(struct vm *vm, int pin, uint64_t addr, uint32_t data, bool masked);
};

struct vcpu {
	struct vm *vm;
	int id;
	pthread_t thread;
	struct vcpu_stats stats;
	void *engine; /* the engine's per-vCPU state */
	int run_result;
};

struct platform; /* src/vm/platform.c */

struct vm {
	struct vm_config cfg;

	/* Guest RAM: [0, low_size) and [4 GiB, 4 GiB + high_size). */
	void *ram;
	uint64_t ram_size, low_size, high_size;
	struct gmem gmem;
	struct e820_map e820;

	struct bus pio, mmio;
	struct evloop *loop;
	struct platform *platform;

	/* Boot images, read once and loaded again on every reset. */
	uint8_t *kernel, *initrd;
	size_t kernel_len, initrd_len;
	struct boot_entry entry;
	uint64_t rsdp_addr;

	const struct engine_ops *engine;
	void *engine_vm;
	struct vcpu *vcpu[VM_MAX_CPUS];
	int ncpus;

	_Atomic int request; /* enum vm_request */
	int quit_signal;     /* the signal that ended the VM, 0 if none */
	int signal_fd;
	atomic_ullong msi_delivered;
	int boots;
};

/* Set-up and tear-down of the process-lifetime parts (RAM, buses, devices, backends). */
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct engine_ops *engine);
void vm_destroy(struct vm *vm);
/* Boots and runs until power-off, error or quit; reboots in between unless --no-reboot.
 * Returns the process exit status. */
int vm_run(struct vm *vm);

/* Called from any thread: stop the vCPUs and act on req (the first request wins). */
void vm_request(struct vm *vm, enum vm_request req);
static inline bool vm_should_stop(struct vm *vm)
{
	return atomic_load_explicit(&vm->request, memory_order_relaxed) != VM_REQ_NONE;
}

/* The one exit-dispatch path, shared by the engines: counts, then goes to the bus. */
void vcpu_pio(struct vcpu *vcpu, uint16_t port, unsigned size, bool is_write, uint64_t *value);
void vcpu_mmio(struct vcpu *vcpu, uint64_t addr, unsigned size, bool is_write, uint64_t *value);

/* Interrupt routing of the platform (src/vm/irq.c): ISA IRQs and GSIs to PIC and IOAPIC. */
void vm_set_isa_irq(struct vm *vm, int irq, int level);
void vm_set_gsi(struct vm *vm, int gsi, int level);
/* An irq_line for ISA IRQ n (feeds the PIC and IOAPIC as the PC wires it). */
struct irq_line vm_isa_irq_line(struct vm *vm, int irq);

/* Engines: the PIC's interrupt acknowledge and the IOAPIC's EOI, through the platform. */
uint8_t vm_pic_ack(struct vm *vm);
bool vm_pic_pending(struct vm *vm);
void vm_ioapic_eoi(struct vm *vm, uint8_t vector);

#endif
