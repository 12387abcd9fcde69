/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diffimg: the host-side checks of a base/overlay pair before any appliance
 * starts, with qemu-img reading only qcow2 metadata: the overlay must be a
 * qcow2 whose backing file is the base with its format pinned, and its
 * allocation map tells whether the guest wrote anything at all.
 */
#ifndef VMRUN_DIFFIMG_H
#define VMRUN_DIFFIMG_H

#include <stddef.h>

#include "error.h"

/* qemu-img's JSON output beyond this is not needed: the map scan stops early. */
#define DIFFIMG_OUTPUT_MAX (64u << 20)

/* Check that overlay's backing file is base (same file after resolving
 * symlinks and relative names) with backing format base_format. Usage error
 * when not, or when either image is unreadable or corrupt. */
int diffimg_check_pair(const char *base, const char *base_format, const char *overlay,
                       struct vr_error **errp);

/* *written = 1 when the overlay has at least one cluster of its own (data or
 * zero) according to its allocation map, 0 when the guest wrote nothing. */
int diffimg_overlay_written(const char *overlay, int *written, struct vr_error **errp);

/* Pure: scan `qemu-img map --output=json` text for an extent at depth 0. */
int diffimg_map_has_depth0(const char *json, size_t len);

#endif
