/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doctor: what `vmrun doctor` checks, as library functions that never print.
 *
 * Each check fills one struct doctor_check: its name, ok/warn/fail/skip, what
 * was found (detail) and, when not ok, the exact fix. A check is "essential"
 * when its failure means vmrun cannot run at all (no QEMU or qemu-img, no
 * guest kernel or initramfs, no accelerator that boots the guest, libvirt
 * unreachable, no usable state or runtime directory); the others (no default
 * image, libguestfs, little free disk, TCG instead of KVM) only degrade it.
 *
 * The accelerator is proven, not guessed: the real guest kernel and initramfs
 * are booted with qemu-system-x86_64 directly (microvm, as a run does) until
 * the agent's first console line shows that guest userspace ran. Under KVM
 * when accel.c thinks it might work, else (and when that boot fails) under
 * TCG, whose boot time is measured and reported.
 */
#ifndef VMRUN_DOCTOR_H
#define VMRUN_DOCTOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL, DOCTOR_SKIP };

struct doctor_check {
    const char *name; /* static: qemu, qemu-img, kernel, initramfs, accel, ... */
    enum doctor_status status;
    int essential; /* failing means vmrun cannot run at all */
    char *detail;  /* what was found (NULL only when memory ran out) */
    char *fix;     /* the exact fix, NULL when there is nothing to fix */
    double elapsed_ms;
};

#define DOCTOR_MAX_CHECKS 12
/* Below this much free space a run may not even fit its overlay (fail);
 * below the second, long or write-heavy runs may run out (warn). */
#define DOCTOR_DISK_FAIL_BYTES (64ULL << 20)
#define DOCTOR_DISK_WARN_BYTES (2ULL << 30)
/* Oldest QEMU with the microvm machine, and the oldest libvirt 9 accepts. */
#define DOCTOR_QEMU_MIN_MAJOR 4
#define DOCTOR_QEMU_MIN_MINOR 2
/* Marker of guest userspace: every line the agent writes on the console
 * starts with it (guest-agent/agent.c), and vmrun.debug=1 makes it write one
 * as soon as it starts. */
#define DOCTOR_AGENT_MARKER "vmrun-agent: "

struct doctor_options {
    const char *connect_uri; /* NULL: the embedded driver in a temporary root */
    int appliance;           /* 0: do not launch the libguestfs appliance */
    double kvm_boot_limit_s; /* the KVM proof (default 15) */
    double tcg_boot_limit_s; /* the TCG boot (default 60, as a run's boot timeout) */
    double appliance_limit_s;
    /* Called after each check (e.g. to print it as it completes), or NULL. */
    void (*progress)(void *opaque, const struct doctor_check *c);
    void *opaque;
};

struct doctor_report {
    struct doctor_check checks[DOCTOR_MAX_CHECKS];
    size_t n;
    int accel_known;          /* 0: no guest could be booted to tell */
    int kvm;                  /* 1: runs will use KVM, 0: TCG */
    const char *accel_reason; /* accel.c's reason (static text) */
    double boot_ms;           /* QEMU start to agent running, < 0: not measured */
    double tcg_boot_ms;       /* the same under TCG, < 0: not measured */
    unsigned qemu_version[3]; /* all 0 when unknown */
};

/* Run every check, in order; never fails as a whole (a check that cannot be
 * done says so). Free with doctor_report_clear(). */
void doctor_run(const struct doctor_options *o, struct doctor_report *r);
void doctor_report_clear(struct doctor_report *r);

/* 1 unless an essential check failed. */
int doctor_can_run(const struct doctor_report *r);

/* The report as JSON: {ok, accel, accel_reason, boot_ms, tcg_boot_ms,
 * qemu_version, checks: [{name, status, essential, detail, fix, elapsed_ms}]}. */
json_t *doctor_report_json(const struct doctor_report *r);

const char *doctor_status_name(enum doctor_status s);

/* Pure parts, for tests. */

/* "QEMU emulator version 7.2.22 (Debian ...)" -> {7, 2, 22}; a missing micro
 * is 0. Returns 0, or -1 when the text has no version. */
int doctor_parse_qemu_version(const char *text, unsigned v[3]);
int doctor_version_at_least(const unsigned v[3], unsigned major, unsigned minor);

/* The verdict on free bytes in vmrun's directories. */
enum doctor_status doctor_disk_status(uint64_t free_bytes);

/* The probe's kernel command line: the one a run uses (console on ttyS0,
 * quiet, panic=-1 reboot=t, tsc_early_khz under TCG when known) plus
 * vmrun.debug=1 so the agent announces itself. Caller frees. */
char *doctor_probe_cmdline(int kvm, unsigned long tsc_khz);

/* The last at most max bytes of text as one printable line: control bytes
 * and non-ASCII become '?', line breaks " | ", blank ends trimmed. Caller
 * frees. */
char *doctor_tail_line(const char *text, size_t len, size_t max);

#endif
