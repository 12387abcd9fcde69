/* SPDX-License-Identifier: Apache-2.0 */
/*
 * domain: the libvirt side of a run. Builds the transient domain's XML (a
 * microVM with no network device at all: one virtio-blk overlay disk, one
 * virtio-serial port for the agent, a virtio RNG, a serial console to a socket)
 * and starts and destroys it.
 */
#ifndef VMRUN_DOMAIN_H
#define VMRUN_DOMAIN_H

#include <libvirt/libvirt.h>

#include "error.h"
#include "image.h"

struct domain_config {
    const char *name;
    const char *kernel;
    const char *initrd;
    const char *cmdline;
    const char *overlay;           /* qcow2, backed by base */
    const struct image_info *base; /* read-only backing image */
    const char *channel_socket;    /* vmrun listens, QEMU connects */
    const char *console_socket;    /* guest serial console: vmrun listens, or NULL */
    const char *emulator;          /* QEMU binary, or NULL for libvirt's default */
    unsigned memory_mib;
    unsigned cpus;
    /* CPU time the whole QEMU process (vCPUs, emulator and I/O threads) may
     * use per period, in microseconds; 0: no cgroup CPU limit */
    unsigned long long cpu_quota_us;
    /* QEMU's identity (a static DAC label, no relabelling); 0: libvirt's */
    unsigned long qemu_uid, qemu_gid;
    int kvm;
    int microvm; /* 1: QEMU's microvm machine (virtio-mmio); 0: q35 (virtio-pci) */
};

/* The domain XML; caller frees. Pure, for tests. */
char *domain_xml(const struct domain_config *c);

/* Quiet libvirt (vmrun reports errors itself): errors are not printed, and
 * its log goes to log_file unless LIBVIRT_LOG_OUTPUTS says otherwise. Start
 * the event loop thread the embedded driver needs. Once per process. */
int domain_init(const char *log_file, struct vr_error **errp);

/* Open the connection: uri, or the embedded driver rooted at embed_root. */
int domain_connect(const char *uri, const char *embed_root, virConnectPtr *out,
                   struct vr_error **errp);

/* Make libvirt load (or probe, seconds) QEMU's capabilities now. */
int domain_load_capabilities(virConnectPtr conn, int kvm, struct vr_error **errp);

#define DOMAIN_CPU_PERIOD_US 100000ULL

/* Create and start a transient domain, paused when asked (its vCPUs wait for
 * domain_resume). With auto_destroy libvirt destroys it when the connection
 * closes (daemon drivers; the embedded driver does not support it, and
 * reaper.c covers that case). */
int domain_start(virConnectPtr conn, const char *xml, int auto_destroy, int paused,
                 virDomainPtr *out, struct vr_error **errp);
int domain_resume(virDomainPtr dom, struct vr_error **errp);

/* Cap the memory of the domain's cgroup (QEMU's RSS, guest RAM included).
 * Set on the running domain rather than in the XML: libvirt also raises
 * RLIMIT_MEMLOCK to an XML hard limit at start, which needs CAP_SYS_RESOURCE. */
int domain_set_memory_limit(virDomainPtr dom, unsigned long long bytes, struct vr_error **errp);

/* The cgroup limits libvirt reports for the running domain (read back, not
 * what was asked for); 0 where there is none. */
struct domain_limits {
    unsigned long long cpu_quota_us, cpu_period_us;
    unsigned long long memory_bytes;
};
int domain_get_limits(virDomainPtr dom, struct domain_limits *out, struct vr_error **errp);

/* An I/O error QEMU hit on the host side of the VM's disk. The disk stops on
 * errors (error_policy='stop'), so the guest never sees them; libvirt
 * reports them as an event, which domain_watch_io_errors turns into a write
 * of 1 to notify_fd (an eventfd the run's poll loop watches). */
struct domain_io_watch {
    int callback_id;
    int notify_fd;
    char reason[64]; /* "enospc", ...: set once, before notify_fd is written */
    char path[512];
};
int domain_watch_io_errors(virConnectPtr conn, virDomainPtr dom, struct domain_io_watch *w,
                           struct vr_error **errp);
void domain_unwatch_io_errors(virConnectPtr conn, struct domain_io_watch *w);

/* Destroy the domain (libvirt's bookkeeping; run.c has usually killed and
 * reaped QEMU already). Returns 0 when the domain is gone. */
int domain_destroy(virDomainPtr dom, struct vr_error **errp);

/* libvirt's last error message, or a fallback. */
const char *domain_last_error(void);

#endif
