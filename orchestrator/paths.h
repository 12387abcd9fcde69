/* SPDX-License-Identifier: Apache-2.0 */
/* paths: where vmrun keeps its state and finds its guest kernel and agent. */
#ifndef VMRUN_PATHS_H
#define VMRUN_PATHS_H

#include "error.h"

/* The state directory (created 0700, 0711 as root): VMRUN_STATE_DIR, else /var/lib/vmrun
 * for root, else $XDG_STATE_HOME/vmrun or ~/.local/state/vmrun. */
int paths_state_dir(char **out, struct vr_error **errp);

/* The runtime directory for short-lived per-run files: sockets, libvirt's
 * embedded root, the console log (created 0700, 0711 as root). Short on purpose: Unix
 * socket paths inside it must fit in 108 bytes. VMRUN_RUNTIME_DIR, else
 * /run/vmrun for root, else $XDG_RUNTIME_DIR/vmrun, else /tmp/vmrun-UID. */
int paths_runtime_dir(char **out, struct vr_error **errp);

/* Locate a guest file (vmlinux, initramfs.cpio): $VMRUN_GUEST_DIR, then
 * <dir of the vmrun binary>/guest (the build tree), then
 * <dir of the binary>/../share/vmrun, then the compiled-in data directory. */
int paths_guest_file(const char *name, char **out, struct vr_error **errp);

/* Locate vmrun's helper program NAME (vmrun-diff): $VMRUN_LIBEXEC_DIR, then
 * next to the vmrun binary (the build tree), then <dir of the binary>/
 * ../libexec/vmrun, then the compiled-in libexec directory. */
int paths_helper(const char *name, char **out, struct vr_error **errp);

#endif
