/* SPDX-License-Identifier: Apache-2.0 */
/*
 * accel: KVM where it really works, TCG where it does not.
 * /dev/kvm opening is not proof: some hosts (paravirtual kvm modules) accept
 * KVM_CREATE_VM but cannot run a stock kernel. KVM is chosen only when the
 * device answers the stable API version and the CPU offers hardware
 * virtualisation (vmx/svm); otherwise TCG, with the reason recorded.
 */
#ifndef VMRUN_ACCEL_H
#define VMRUN_ACCEL_H

#include "cli.h"
#include "error.h"

struct accel_result {
    int kvm;            /* 1: KVM, 0: TCG */
    const char *reason; /* why (static text) */
};

/* Decide. Only fails when KVM is demanded and /dev/kvm cannot be opened. */
int accel_choose(enum vr_accel_choice want, struct accel_result *out, struct vr_error **errp);

/* Under TCG the guest's TSC ticks at the host's rate, but the kernel's
 * calibration of it against the emulated PIT fails now and then (and the boot
 * then hangs), so vmrun tells the guest the rate: the host's TSC frequency in
 * kHz from /proc/cpuinfo's "cpu MHz", or 0 when unknown. */
unsigned long accel_tsc_khz(void);
/* The pure part of it, for tests. */
unsigned long accel_parse_cpu_mhz(const char *cpuinfo);

/* The pure part, for tests: cpu flags line (from /proc/cpuinfo), whether
 * /dev/kvm answered API version 12, whether a paravirtual kvm module is
 * loaded. */
int accel_kvm_usable(const char *cpuinfo, int api_ok, int pvm_loaded, const char **reason);

#endif
