/* SPDX-License-Identifier: Apache-2.0 */
/*
 * domain: the libvirt side of a run. Builds the transient domain's XML (a
 * microVM with no network device at all: one virtio-blk overlay disk, one
 * virtio-serial port for the agent, a virtio RNG, a serial console to a file)
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
    const char *console_log;       /* guest serial console, or NULL */
    const char *emulator;          /* QEMU binary, or NULL for libvirt's default */
    unsigned memory_mib;
    unsigned cpus;
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

/* Create and start a transient domain. With auto_destroy libvirt destroys it
 * when the connection closes (daemon drivers; the embedded driver does not
 * support it, and reaper.c covers that case). */
int domain_start(virConnectPtr conn, const char *xml, int auto_destroy, virDomainPtr *out,
                 struct vr_error **errp);

/* Destroy the domain (libvirt's bookkeeping; run.c has usually killed and
 * reaped QEMU already). Returns 0 when the domain is gone. */
int domain_destroy(virDomainPtr dom, struct vr_error **errp);

/* libvirt's last error message, or a fallback. */
const char *domain_last_error(void);

#endif
