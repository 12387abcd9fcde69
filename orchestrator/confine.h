/* SPDX-License-Identifier: Apache-2.0 */
/* confine: the unprivileged identity each run's QEMU runs under, and the
 * host-side limits put on it (docs/security.md). */
#ifndef VMRUN_CONFINE_H
#define VMRUN_CONFINE_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* The uids handed to QEMU processes when vmrun runs as root: one per run, in
 * [CONFINE_UID_BASE, CONFINE_UID_BASE + CONFINE_UID_COUNT). Chosen above the
 * ranges distributions give to users, systemd's dynamic users and the usual
 * /etc/subuid allocations. */
#define CONFINE_UID_BASE 0x2f000000u
#define CONFINE_UID_COUNT 65536u

struct confine {
    int active; /* QEMU runs as uid/gid below: vmrun is root, embedded driver */
    uid_t uid;
    gid_t gid;
    int lock_fd; /* holds the uid for this run (flock) */
    char lock_path[4096];
};

void confine_init(struct confine *cf);

/* Reserve a uid for this run's QEMU under RUNTIME_DIR/uids. Does nothing
 * (active stays 0) when vmrun is not root: QEMU then runs as the user. With
 * kvm, the group is the one that owns /dev/kvm, so QEMU can open it. */
int confine_acquire(struct confine *cf, const char *runtime_dir, int kvm, struct vr_error **errp);

/* Whether QEMU, under the run's uid and gid, can access PATH with MODE
 * (access(2) bits), asked of the kernel from a child that takes the
 * identity. Fails with a usage error naming WHAT and saying FIX. */
int confine_check_access(const struct confine *cf, const char *path, int mode, const char *what,
                         const char *fix, struct vr_error **errp);
#define CONFINE_FIX_READ                                                                           \
    "make it readable by others (chmod o+r) and every directory above it searchable (chmod "       \
    "o+x), or copy it somewhere that is"
#define CONFINE_FIX_VMRUN_DIR                                                                      \
    "every directory above it must be searchable by others (chmod o+x), or set VMRUN_STATE_DIR "   \
    "and VMRUN_RUNTIME_DIR to directories that are"

/* Hand PATH (a file vmrun made for QEMU: the overlay, the agent socket) to
 * the run's uid and gid, mode 0600. */
int confine_give(const struct confine *cf, const char *path, struct vr_error **errp);

/* The embedded libvirt driver's qemu.conf. */
extern const char confine_qemu_conf[];

void confine_release(struct confine *cf);

/* What the kernel says about a running QEMU (read from /proc, not assumed
 * from the configuration): the report's "confinement" object. */
struct confine_proof {
    int valid;
    unsigned long uid, gid; /* effective */
    int n_groups;           /* supplementary groups other than gid */
    int caps_none;          /* no effective, permitted or ambient capability */
    int no_new_privs;
    int seccomp_mode; /* 2: a seccomp filter is installed */
    int own_mount_ns; /* a mount namespace of its own (libvirt's private /dev) */
};
int confine_inspect(pid_t pid, struct confine_proof *out);

/* Remove the lock file at PATH (RUNTIME/uids/UID.lock) of a run that died,
 * if nobody holds it and no process runs as UID. Returns 1 if removed. */
int confine_drop_stale_lock(const char *path);

/* The number of live (not zombie) processes whose real, effective or saved
 * uid is UID. */
int confine_count_processes(uid_t uid);

#endif
