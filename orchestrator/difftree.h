/* SPDX-License-Identifier: Apache-2.0 */
/*
 * difftree: one guest filesystem tree as the host sees it, read through the
 * appliance in bulk: one find0 for the names, then lstatnslist (and
 * readlinklist for symlinks) per directory in batches. Every length from the
 * appliance is capped before it is used.
 */
#ifndef VMRUN_DIFFTREE_H
#define VMRUN_DIFFTREE_H

#include <guestfs.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define DIFFTREE_MAX_ENTRIES 4000000
#define DIFFTREE_MAX_LIST (512u << 20)

struct difftree_entry {
    char *path; /* guest-absolute ("/" for the root), no NUL inside */
    size_t len;
    uint32_t mode;
    int64_t size, uid, gid, ino, nlink, rdev;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
    char *target; /* symlink target once difftree_readlinks() ran */
    size_t target_len;
    char sha256[65]; /* "" until hashed */
};

struct difftree {
    const char *mnt; /* where it is mounted in the appliance, e.g. "/a" */
    struct difftree_entry *v;
    size_t n;
    char *names; /* the find0 list the paths point into */
};

/* List and stat everything under mnt; entries sorted by difftree_cmp. */
int difftree_load(guestfs_h *g, const char *mnt, const char *tmpdir, struct difftree *t,
                  struct vr_error **errp);
/* Fill target for the given entries (symlinks). */
int difftree_readlinks(guestfs_h *g, struct difftree *t, const size_t *idx, size_t n,
                       struct vr_error **errp);
/* Find an entry by path; NULL when absent. */
struct difftree_entry *difftree_find(struct difftree *t, const char *path, size_t len);
int difftree_cmp(const char *a, size_t alen, const char *b, size_t blen);
void difftree_free(struct difftree *t);

#endif
