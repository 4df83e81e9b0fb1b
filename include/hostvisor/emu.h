/*
 * The emu engine (DESIGN.md section 2): hostvisor's own x86-64 CPU runs the guest, with a local
 * APIC per vCPU; the devices, buses and boot code are the ones the kvm engine uses.
 */
#ifndef HOSTVISOR_EMU_H
#define HOSTVISOR_EMU_H

#include "hostvisor/vm.h"

extern const struct engine_ops emu_engine_ops;

#endif
