/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diffcmp: compare two loaded trees (base at /a, overlay at /b in the
 * appliance), metadata first; hash in the appliance only regular files whose
 * size, mtime, ctime or inode differ (and the added ones), then build the
 * lists of the `changes` object, the violations and the extraction.
 */
#ifndef VMRUN_DIFFCMP_H
#define VMRUN_DIFFCMP_H

#include <guestfs.h>
#include <jansson.h>

#include "diff.h"
#include "difftree.h"
#include "error.h"

/* Adds added/deleted/modified/metadata, counts, total, truncated,
 * violations and extract members to `changes`. */
int diffcmp_run(guestfs_h *g, struct difftree *a, struct difftree *b, const struct diff_options *o,
                const char *tmpdir, json_t *changes, struct vr_error **errp);

/* The `type` name of a st_mode. */
const char *diffcmp_type_name(uint32_t mode);

#endif
