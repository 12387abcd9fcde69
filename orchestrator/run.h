/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run: one run of a module end to end — checks, overlay, VM, agent, output,
 * deadline, teardown — producing a struct run_result. It prints nothing of its
 * own; the module's output is streamed to the given file descriptors.
 */
#ifndef VMRUN_RUN_H
#define VMRUN_RUN_H

#include <jansson.h>
#include <stdint.h>

#include "cli.h"
#include "confine.h"
#include "error.h"
#include "image.h"

enum run_status {
    RUN_EXITED,     /* the module ran to completion with an exit status */
    RUN_SIGNALED,   /* it died of a signal */
    RUN_TIMEOUT,    /* the wall-clock limit expired; the VM was destroyed */
    RUN_OOM,        /* the guest kernel killed it for lack of memory */
    RUN_DISK_LIMIT, /* the guest wrote more than --disk-limit; QEMU was stopped */
    RUN_ERROR,      /* vmrun or the VM failed: not the module's fault */
};

struct run_stream {
    unsigned char *data; /* what was kept, at most output_limit bytes */
    size_t len;
    uint64_t total; /* bytes the host received for this stream */
    int truncated;
};

struct run_timings {
    double prepare_ms;     /* checks, overlay, digest */
    double boot_ms;        /* libvirt connect + domain start returned */
    double agent_ready_ms; /* domain start requested -> agent's hello */
    double transfer_ms;    /* module, inputs and stdin shipped */
    double run_ms;         /* run request -> exit (or deadline) */
    double teardown_ms;    /* domain destroyed, files removed */
    double total_ms;
    double kill_ms; /* on timeout: deadline -> QEMU gone; else -1 */
    double diff_ms; /* the disk diff after the VM was gone; -1 when none ran */
};

/* How the VM process was confined, as read back from the kernel and libvirt
 * after it started (the report's "confinement"); zeros where there is none. */
struct run_confinement {
    struct confine_proof qemu;
    unsigned long long cpu_quota_us, cpu_period_us;
    unsigned long long memory_limit_bytes;
    uint64_t disk_limit_bytes;
};

struct run_result {
    enum run_status status;
    int exit_code;   /* -1 when none */
    int signal;      /* -1 when none */
    int interrupted; /* the signal that interrupted vmrun (SIGINT...), else 0 */
    struct run_stream out, err;
    struct run_timings t;
    int accel_kvm;
    const char *accel_reason;
    int have_usage;
    uint64_t cpu_ms;
    uint64_t maxrss_kb;
    json_t *import_info; /* import mode: outcome etc. */
    struct image_info image;
    char *kernel;
    char *agent_version;
    char *root_device;
    char *domain_name;
    char *overlay_kept; /* --keep-overlay path, when the overlay was kept */
    struct run_confinement confinement;
    struct vr_error *error;      /* status == RUN_ERROR */
    json_t *changes;             /* the disk diff (docs/diff.md), or NULL */
    struct vr_error *diff_error; /* the diff failed; the module's verdict stands */
    char *console_text;          /* guest console tail, kept for -v on failure */
    char *qemu_log_text;         /* QEMU's log tail, kept for -v on failure */
};

/* Where the module's output goes while it runs (-1: do not stream). */
struct run_io {
    int out_fd;
    int err_fd;
    /* progress messages for -v; may be NULL */
    void (*progress)(void *opaque, const char *message);
    void *opaque;
};

/* Run. Always fills *res (status RUN_ERROR with res->error on failure);
 * returns 0 when the module's verdict is known, -1 on RUN_ERROR. */
int run_execute(const struct vr_options *opts, const struct run_io *io, struct run_result *res);
void run_result_free(struct run_result *res);

#endif
