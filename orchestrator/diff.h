/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff: what the untrusted code did to the disk, computed after the VM is
 * gone by comparing the throwaway qcow2 overlay with its read-only base.
 *
 * The guest filesystem is only ever read inside one libguestfs appliance
 * (both disks added read-only, formats pinned, one launch); the host parses
 * nothing of it but the lists and stat records the appliance daemon returns.
 * The host itself reads only qcow2 metadata of our own overlay (qemu-img info
 * and map), which lets a run whose overlay has no allocated cluster skip the
 * appliance entirely. See docs/diff.md for the `changes` object.
 */
#ifndef VMRUN_DIFF_H
#define VMRUN_DIFF_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

enum diff_mode { DIFF_NONE, DIFF_META, DIFF_FULL };

#define DIFF_DEFAULT_MAX_ENTRIES 10000
#define DIFF_DEFAULT_EXTRACT_LIMIT (256ULL << 20)
/* Exit status of `vmrun diff --fail-on-violation` (and of a run) when a change
 * falls outside every --allow-write pattern. */
#define DIFF_EXIT_VIOLATION 123

struct diff_options {
    enum diff_mode mode;
    uint64_t max_entries; /* entries listed over all four lists; 0: none listed */
    int times;            /* --diff-times: mtime/ctime changes count, directories included */
    const char *extract_dir;
    uint64_t extract_limit;   /* bytes */
    const char *const *allow; /* fnmatch(pattern, path, FNM_LEADING_DIR) on guest paths */
    size_t n_allow;
    int kvm;              /* from accel_choose(); 0 forces TCG in libguestfs */
    const char *root_dev; /* NULL: whole disk, else the first partition with python3 */
};

/* base_format "qcow2" or "raw"; overlay is a qcow2 whose backing file must be
 * base with that format pinned. Fills *changes with the `changes` object.
 * A guest filesystem that cannot be mounted is reported in *changes (status
 * "unreadable"), not as a failure. Errors: usage for bad images, infra else. */
int diff_images(const char *base, const char *base_format, const char *overlay,
                const struct diff_options *o, json_t **changes, struct vr_error **errp);

/* Launch one appliance configured exactly as diff_images() does (a small
 * scratch disk instead of the images) and shut it down: whether the disk diff
 * can work on this host, and what a launch costs (*launch_ms). */
int diff_check_appliance(int kvm, double *launch_ms, struct vr_error **errp);

const char *diff_mode_name(enum diff_mode m);
int diff_mode_parse(const char *s, enum diff_mode *out);

#endif
