/* SPDX-License-Identifier: Apache-2.0 */
/*
 * overlay: the throwaway qcow2 disk the guest writes to. Its backing file is
 * the base image, by absolute path and with the backing format pinned in the
 * header, so QEMU never probes the base's format and only ever reads it.
 */
#ifndef VMRUN_OVERLAY_H
#define VMRUN_OVERLAY_H

#include "error.h"
#include "image.h"

/* Create a new overlay at path (which must not exist). */
int overlay_create(const struct image_info *base, const char *path, struct vr_error **errp);

#endif
