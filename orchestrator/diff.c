/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diff: how a disk diff runs.
 *
 * 1. Host, no appliance: qemu-img info checks that the overlay's backing file
 *    is the base with its format pinned; qemu-img map reads the overlay's
 *    allocation map. No cluster of its own means the guest wrote nothing:
 *    the answer is "unchanged" without launching anything (both read only
 *    qcow2 metadata of our own overlay, never the guest filesystem).
 * 2. One libguestfs appliance (direct backend, TCG forced when KVM is not
 *    usable), base and overlay added read-only with their formats pinned. The
 *    base's root filesystem is found with the agent's rule (whole disk, else
 *    the first partition holding usr/bin/python3 or bin/python3) and mounted
 *    read-only at /a, the same partition of the overlay at /b. Read-only
 *    drives are backed by a throwaway overlay of libguestfs's own, so the
 *    ext4 journal the killed guest left behind is replayed in the appliance,
 *    never written to our files.
 * 3. difftree lists both trees (find0 + lstatnslist per directory), diffcmp
 *    compares them on the host, metadata first, and hashes in the appliance
 *    only what metadata cannot settle and what the report lists.
 */
#include "diff.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <guestfs.h>

#include "cleanup.h"
#include "deadline.h"
#include "diffcmp.h"
#include "diffimg.h"
#include "diffpath.h"
#include "difftree.h"
#include "fileio.h"
#include "report.h"

/* The appliance only lists, stats and hashes: little memory, one vCPU. */
#define DIFF_APPLIANCE_MEMSIZE 512

static inline void
diff_guestfs_closep(guestfs_h **g)
{
    if (*g)
        guestfs_close(*g);
}
#define _cleanup_guestfs_ __attribute__((cleanup(diff_guestfs_closep)))

static inline void
diff_tmpdir_removep(char **dir)
{
    if (*dir) {
        fileio_remove_tree(*dir);
        free(*dir);
    }
}

static inline void
diff_treep(struct difftree *t)
{
    difftree_free(t);
}

const char *
diff_mode_name(enum diff_mode m)
{
    switch (m) {
    case DIFF_NONE: return "none";
    case DIFF_META: return "meta";
    case DIFF_FULL: return "full";
    }
    return "full";
}

int
diff_mode_parse(const char *s, enum diff_mode *out)
{
    if (strcmp(s, "none") == 0)
        *out = DIFF_NONE;
    else if (strcmp(s, "meta") == 0)
        *out = DIFF_META;
    else if (strcmp(s, "full") == 0)
        *out = DIFF_FULL;
    else
        return -1;
    return 0;
}

/* The empty lists of a diff that found nothing (or did not look). */
static void
diff_set_empty(json_t *c, const struct diff_options *o)
{
    static const char *const lists[] = {"added", "deleted", "modified", "metadata"};
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(c, lists[i], json_array());
    json_object_set_new(
        c, "counts",
        json_pack("{s:i, s:i, s:i, s:i}", "added", 0, "deleted", 0, "modified", 0, "metadata", 0));
    json_object_set_new(c, "total", json_integer(0));
    json_object_set_new(c, "truncated", json_false());
    json_object_set_new(c, "violations", o->n_allow ? json_array() : json_null());
    json_object_set_new(c, "violations_total", o->n_allow ? json_integer(0) : json_null());
}

/* Partition number of a --root device ("/dev/vda", "/dev/vda2", "/dev/sda2"). */
static int
diff_root_partnum(const char *dev, int *partnum, struct vr_error **errp)
{
    const char *p;
    char *end;
    long n;

    if (strncmp(dev, "/dev/vda", 8) == 0 || strncmp(dev, "/dev/sda", 8) == 0)
        p = dev + 8;
    else
        return vr_usage(errp, "root device '%s' is not /dev/vda or /dev/vdaN", dev);
    if (*p == '\0') {
        *partnum = 0;
        return 0;
    }
    errno = 0;
    n = strtol(p, &end, 10);
    if (errno || *end || n < 1 || n > 128)
        return vr_usage(errp, "root device '%s' is not /dev/vda or /dev/vdaN", dev);
    *partnum = (int)n;
    return 0;
}

static int
diff_has_python(guestfs_h *g)
{
    struct guestfs_statns *s;

    /* lstat: an absolute symlink would resolve outside the image. */
    s = guestfs_lstatns(g, "/a/usr/bin/python3");
    if (!s)
        s = guestfs_lstatns(g, "/a/bin/python3");
    if (!s)
        return 0;
    guestfs_free_statns(s);
    return 1;
}

/* Try one base device at /a; 1 when it is the root. */
static int
diff_try_root(guestfs_h *g, const char *dev, int must)
{
    if (guestfs_mount_ro(g, dev, "/a") < 0)
        return 0;
    if (must || diff_has_python(g))
        return 1;
    guestfs_umount(g, "/a");
    return 0;
}

/* Mount the base's root at /a; *partnum: 0 whole disk, else its number. */
static int
diff_mount_base(guestfs_h *g, const struct diff_options *o, int *partnum, struct vr_error **errp)
{
    char **parts;
    int found = 0;

    if (o->root_dev) {
        char dev[32];
        if (diff_root_partnum(o->root_dev, partnum, errp) < 0)
            return -1;
        if (*partnum)
            snprintf(dev, sizeof(dev), "/dev/sda%d", *partnum);
        else
            snprintf(dev, sizeof(dev), "/dev/sda");
        if (!diff_try_root(g, dev, 1))
            return vr_usage(errp, "cannot mount root device '%s' of the base: %s", o->root_dev,
                            guestfs_last_error(g));
        return 0;
    }
    if (diff_try_root(g, "/dev/sda", 0)) {
        *partnum = 0;
        return 0;
    }
    parts = guestfs_list_partitions(g);
    for (size_t i = 0; parts && parts[i]; i++) {
        if (!found && strncmp(parts[i], "/dev/sda", 8) == 0 && diff_try_root(g, parts[i], 0)) {
            *partnum = guestfs_part_to_partnum(g, parts[i]);
            found = *partnum > 0;
        }
        free(parts[i]);
    }
    free(parts);
    if (!found)
        return vr_usage(errp, "no root filesystem with python3 found in the base (whole disk or a "
                              "partition); pass --root");
    return 0;
}

/* A handle set up as every appliance of vmrun's is: the direct backend (the
 * environment is ignored, LIBGUESTFS_BACKEND included), TCG forced unless KVM
 * really works, small, no network. */
static int
diff_handle(guestfs_h **gp, int kvm, struct vr_error **errp)
{
    guestfs_h *g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
    char *tcg[] = {(char *)"force_tcg", NULL};

    if (!g)
        return vr_fail(errp, errno, "cannot create a libguestfs handle");
    *gp = g;
    /* library code never prints: errors are read with guestfs_last_error */
    guestfs_set_error_handler(g, NULL, NULL);
    if (guestfs_set_backend(g, "direct") < 0 ||
        (!kvm && guestfs_set_backend_settings(g, tcg) < 0) ||
        guestfs_set_memsize(g, DIFF_APPLIANCE_MEMSIZE) < 0 || guestfs_set_smp(g, 1) < 0 ||
        guestfs_set_autosync(g, 0) < 0 || guestfs_set_network(g, 0) < 0)
        return vr_fail(errp, 0, "cannot configure libguestfs: %s", guestfs_last_error(g));
    return 0;
}

static int
diff_launch(guestfs_h **gp, const char *base, const char *base_format, const char *overlay,
            const struct diff_options *o, struct vr_error **errp)
{
    guestfs_h *g;

    if (diff_handle(gp, o->kvm, errp) < 0)
        return -1;
    g = *gp;
    if (guestfs_add_drive_opts(g, base, GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
                               GUESTFS_ADD_DRIVE_OPTS_FORMAT, base_format, -1) < 0)
        return vr_usage(errp, "cannot add base image '%s': %s", base, guestfs_last_error(g));
    if (guestfs_add_drive_opts(g, overlay, GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
                               GUESTFS_ADD_DRIVE_OPTS_FORMAT, "qcow2", -1) < 0)
        return vr_usage(errp, "cannot add overlay '%s': %s", overlay, guestfs_last_error(g));
    if (guestfs_launch(g) < 0)
        return vr_fail(errp, 0,
                       "cannot launch the libguestfs appliance (is a base or overlay "
                       "corrupt?): %s",
                       guestfs_last_error(g));
    if (guestfs_mkmountpoint(g, "/a") < 0 || guestfs_mkmountpoint(g, "/b") < 0)
        return vr_fail(errp, 0, "cannot prepare the appliance: %s", guestfs_last_error(g));
    return 0;
}

int
diff_images(const char *base, const char *base_format, const char *overlay,
            const struct diff_options *o, json_t **changes, struct vr_error **errp)
{
    _cleanup_json_ json_t *c = json_object();
    _cleanup_guestfs_ guestfs_h *g = NULL;
    __attribute__((cleanup(diff_tmpdir_removep))) char *tmpdir = NULL;
    __attribute__((cleanup(diff_treep))) struct difftree ta = {0};
    __attribute__((cleanup(diff_treep))) struct difftree tb = {0};
    int64_t t0 = deadline_now();
    char root_name[32], odev[32];
    int written = 1, partnum = 0;

    if (!c)
        return vr_fail(errp, ENOMEM, "cannot build the report");
    if (strcmp(base_format, "qcow2") != 0 && strcmp(base_format, "raw") != 0)
        return vr_usage(errp, "base format must be qcow2 or raw, not '%s'", base_format);
    json_object_set_new(c, "mode", json_string(diff_mode_name(o->mode)));
    json_object_set_new(c, "max_entries", json_integer((json_int_t)o->max_entries));
    json_object_set_new(c, "root_device", json_null());
    json_object_set_new(c, "error", json_null());
    json_object_set_new(c, "extract", json_null());
    if (o->mode == DIFF_NONE) {
        json_object_set_new(c, "status", json_string("skipped"));
        json_object_set_new(c, "method", json_null());
        diff_set_empty(c, o);
        json_object_set_new(c, "elapsed_ms", json_integer(0));
        *changes = steal_ptr(&c);
        return 0;
    }
    if (diffimg_check_pair(base, base_format, overlay, errp) < 0 ||
        diffimg_overlay_written(overlay, &written, errp) < 0)
        return -1;
    if (!written) {
        json_object_set_new(c, "status", json_string("unchanged"));
        json_object_set_new(c, "method", json_string("allocation-map"));
        diff_set_empty(c, o);
        json_object_set_new(c, "elapsed_ms",
                            json_integer((json_int_t)deadline_ms_between(t0, deadline_now())));
        *changes = steal_ptr(&c);
        return 0;
    }
    json_object_set_new(c, "method", json_string("walk"));
    tmpdir = strdup("/tmp/vmrun-diff.XXXXXX");
    if (!tmpdir || !mkdtemp(tmpdir))
        return vr_fail(errp, errno, "cannot create a temporary directory");
    if (diff_launch(&g, base, base_format, overlay, o, errp) < 0 ||
        diff_mount_base(g, o, &partnum, errp) < 0)
        return -1;
    if (partnum) {
        snprintf(root_name, sizeof(root_name), "/dev/vda%d", partnum);
        snprintf(odev, sizeof(odev), "/dev/sdb%d", partnum);
    } else {
        snprintf(root_name, sizeof(root_name), "/dev/vda");
        snprintf(odev, sizeof(odev), "/dev/sdb");
    }
    json_object_set_new(c, "root_device", json_string(root_name));
    if (guestfs_mount_ro(g, odev, "/b") < 0) {
        /* The guest destroyed or corrupted its filesystem: that is the answer. */
        _cleanup_free_ char *why = NULL;

        /* The appliance's message need not be UTF-8: encoded like a run's
         * output (error_base64 then holds the exact bytes). */
        if (asprintf(&why, "the overlay's root filesystem (%s) cannot be mounted: %s", root_name,
                     guestfs_last_error(g)) < 0 ||
            report_set_bytes(c, "error", (const unsigned char *)why, strlen(why)) < 0)
            return vr_fail(errp, ENOMEM, "cannot build the report");
        json_object_set_new(c, "status", json_string("unreadable"));
        diff_set_empty(c, o);
        if (o->n_allow)
            json_object_set_new(c, "violations_total", json_integer(1));
        json_object_set_new(c, "elapsed_ms",
                            json_integer((json_int_t)deadline_ms_between(t0, deadline_now())));
        *changes = steal_ptr(&c);
        return 0;
    }
    if (difftree_load(g, "/a", tmpdir, &ta, errp) < 0 ||
        difftree_load(g, "/b", tmpdir, &tb, errp) < 0)
        return -1;
    if (diffcmp_run(g, &ta, &tb, o, tmpdir, c, errp) < 0)
        return -1;
    json_object_set_new(c, "status", json_string("compared"));
    json_object_set_new(c, "elapsed_ms",
                        json_integer((json_int_t)deadline_ms_between(t0, deadline_now())));
    *changes = steal_ptr(&c);
    return 0;
}

int
diff_check_appliance(int kvm, double *launch_ms, struct vr_error **errp)
{
    _cleanup_guestfs_ guestfs_h *g = NULL;
    int64_t t0;

    if (diff_handle(&g, kvm, errp) < 0)
        return -1;
    /* launch wants a drive: a small sparse scratch disk, as libguestfs-test-tool adds */
    if (guestfs_add_drive_scratch(g, 16 << 20, -1) < 0)
        return vr_fail(errp, 0, "cannot add a scratch disk: %s", guestfs_last_error(g));
    t0 = deadline_now();
    if (guestfs_launch(g) < 0)
        return vr_fail(errp, 0, "cannot launch the libguestfs appliance: %s",
                       guestfs_last_error(g));
    *launch_ms = deadline_ms_between(t0, deadline_now());
    return 0;
}
