/* The kvm engine: guest code on the CPU through /dev/kvm (DESIGN.md section 2). */
#ifndef HOSTVISOR_KVM_H
#define HOSTVISOR_KVM_H

#include <stdbool.h>
#include <stddef.h>

#include "hostvisor/vm.h"

extern const struct engine_ops kvm_engine_ops;

/*
 * Runs a short ring-0 probe guest: true if /dev/kvm runs ring-0 code at hardware speed. why
 * gets one line that says what was found (e.g. the measured instruction rate).
 */
bool kvm_probe(char *why, size_t whylen);

/* Checks that /dev/kvm can be opened and has every capability the engine uses; one clear line
 * in err naming what is missing. */
int kvm_check(char *err, size_t errlen);

#endif
