/* SPDX-License-Identifier: Apache-2.0 */
#include "overlay.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cleanup.h"
#include "command.h"

int
overlay_create(const struct image_info *base, const char *path, struct vr_error **errp)
{
    _cleanup_free_ char *opts = NULL;
    struct stat st;
    const char *fmt = base->format == IMAGE_RAW ? "raw" : "qcow2";

    if (lstat(path, &st) == 0)
        return vr_usage(errp, "overlay path '%s' already exists; vmrun will not overwrite it",
                        path);
    /* qemu-img's -o is comma-separated; a comma in a path is written twice. */
    for (const char *p = base->path; *p; p++) {
        if (*p == ',')
            return vr_usage(
                errp,
                "image path '%s' contains a comma, which qemu-img cannot take as a backing file",
                base->path);
    }
    if (asprintf(&opts, "backing_file=%s,backing_fmt=%s", base->path, fmt) < 0)
        return vr_fail(errp, ENOMEM, "cannot create the overlay");
    const char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, path, NULL};
    if (command_run(argv, errp) < 0)
        return vr_error_prefix(errp, "cannot create the overlay disk '%s'", path);
    return 0;
}
