/* SPDX-License-Identifier: Apache-2.0 */
#include "difftree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fileio.h"

/* One lstatnslist reply must stay well under the 4 MiB protocol message. */
#define DIFFTREE_BATCH_NAMES 4000
#define DIFFTREE_BATCH_BYTES (1u << 20)

int
difftree_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r)
        return r;
    return alen < blen ? -1 : alen > blen;
}

static int
difftree_entry_cmp(const void *x, const void *y)
{
    const struct difftree_entry *a = x, *b = y;
    return difftree_cmp(a->path, a->len, b->path, b->len);
}

/* Length of the parent part of a path ("/" for top-level entries: 0). */
static size_t
difftree_parent_len(const struct difftree_entry *e)
{
    const char *s = memrchr(e->path, '/', e->len);
    return s ? (size_t)(s - e->path) : 0;
}

static int
difftree_parent_cmp(const void *x, const void *y, void *opaque)
{
    const struct difftree *t = opaque;
    const struct difftree_entry *a = &t->v[*(const size_t *)x];
    const struct difftree_entry *b = &t->v[*(const size_t *)y];
    int r = difftree_cmp(a->path, difftree_parent_len(a), b->path, difftree_parent_len(b));
    if (r)
        return r;
    return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

typedef int (*difftree_batch_fn)(guestfs_h *g, struct difftree *t, const char *dir, char **names,
                                 const size_t *idx, size_t n, struct vr_error **errp);

/* Call fn once per batch of entries that share a parent directory. idx is
 * reordered. */
static int
difftree_by_parent(guestfs_h *g, struct difftree *t, size_t *idx, size_t n, difftree_batch_fn fn,
                   struct vr_error **errp)
{
    _cleanup_free_ char **names = calloc(DIFFTREE_BATCH_NAMES + 1, sizeof(char *));
    size_t i = 0;

    if (!names)
        return vr_fail(errp, ENOMEM, "cannot walk the guest filesystem");
    qsort_r(idx, n, sizeof(*idx), difftree_parent_cmp, t);
    while (i < n) {
        const struct difftree_entry *first = &t->v[idx[i]];
        size_t plen = difftree_parent_len(first), j = i, bytes = 0, k;
        _cleanup_free_ char *dir = NULL;

        if (asprintf(&dir, "%s%.*s", t->mnt, (int)plen, first->path) < 0)
            return vr_fail(errp, ENOMEM, "cannot walk the guest filesystem");
        while (j < n && j - i < DIFFTREE_BATCH_NAMES && bytes < DIFFTREE_BATCH_BYTES) {
            const struct difftree_entry *e = &t->v[idx[j]];
            if (difftree_parent_len(e) != plen || memcmp(e->path, first->path, plen) != 0)
                break;
            names[j - i] = e->path + plen + 1;
            bytes += e->len - plen;
            j++;
        }
        names[j - i] = NULL;
        /* names point into paths that are NUL-terminated in t->names */
        k = j - i;
        if (fn(g, t, dir, names, idx + i, k, errp) < 0)
            return -1;
        i = j;
    }
    return 0;
}

static void
difftree_set_stat(struct difftree_entry *e, const struct guestfs_statns *s)
{
    e->mode = (uint32_t)s->st_mode;
    e->size = s->st_size;
    e->uid = s->st_uid;
    e->gid = s->st_gid;
    e->ino = s->st_ino;
    e->nlink = s->st_nlink;
    e->rdev = s->st_rdev;
    e->mtime_s = s->st_mtime_sec;
    e->mtime_ns = s->st_mtime_nsec;
    e->ctime_s = s->st_ctime_sec;
    e->ctime_ns = s->st_ctime_nsec;
}

static int
difftree_stat_batch(guestfs_h *g, struct difftree *t, const char *dir, char **names,
                    const size_t *idx, size_t n, struct vr_error **errp)
{
    struct guestfs_statns_list *l = guestfs_lstatnslist(g, dir, names);

    if (!l)
        return vr_fail(errp, 0, "cannot stat files in the guest: %s", guestfs_last_error(g));
    if (l->len != n) {
        uint32_t got = l->len; /* read before the list is freed */
        guestfs_free_statns_list(l);
        return vr_fail(errp, 0, "the appliance returned %u stat records for %zu files", got, n);
    }
    for (size_t i = 0; i < n; i++)
        difftree_set_stat(&t->v[idx[i]], &l->val[i]);
    guestfs_free_statns_list(l);
    return 0;
}

static int
difftree_link_batch(guestfs_h *g, struct difftree *t, const char *dir, char **names,
                    const size_t *idx, size_t n, struct vr_error **errp)
{
    char **l = guestfs_readlinklist(g, dir, names);
    size_t i;

    if (!l)
        return vr_fail(errp, 0, "cannot read symlinks in the guest: %s", guestfs_last_error(g));
    for (i = 0; i < n && l[i]; i++) {
        struct difftree_entry *e = &t->v[idx[i]];
        free(e->target);
        e->target = l[i];
        e->target_len = strnlen(l[i], 4096);
        l[i] = NULL;
    }
    for (size_t k = i; l[k]; k++)
        free(l[k]);
    free(l);
    if (i != n)
        return vr_fail(errp, 0, "the appliance returned %zu symlink targets for %zu links", i, n);
    return 0;
}

int
difftree_readlinks(guestfs_h *g, struct difftree *t, const size_t *idx, size_t n,
                   struct vr_error **errp)
{
    _cleanup_free_ size_t *copy = NULL;

    if (n == 0)
        return 0;
    copy = malloc(n * sizeof(*copy));
    if (!copy)
        return vr_fail(errp, ENOMEM, "cannot read symlinks");
    memcpy(copy, idx, n * sizeof(*copy));
    return difftree_by_parent(g, t, copy, n, difftree_link_batch, errp);
}

int
difftree_load(guestfs_h *g, const char *mnt, const char *tmpdir, struct difftree *t,
              struct vr_error **errp)
{
    _cleanup_free_ char *list = NULL;
    _cleanup_free_ size_t *idx = NULL;
    _cleanup_free_ char *listpath = NULL;
    struct guestfs_statns *root;
    size_t len = 0, n = 0, i, start;

    memset(t, 0, sizeof(*t));
    t->mnt = mnt;
    if (asprintf(&listpath, "%s/list%s", tmpdir, mnt[0] == '/' ? mnt + 1 : mnt) < 0)
        return vr_fail(errp, ENOMEM, "cannot walk the guest filesystem");
    if (guestfs_find0(g, mnt, listpath) < 0)
        return vr_fail(errp, 0, "cannot list the guest filesystem: %s", guestfs_last_error(g));
    if (fileio_read_all(listpath, DIFFTREE_MAX_LIST, &list, &len) < 0)
        return vr_fail(errp, errno, "cannot read the guest file list (at most %u MiB)",
                       DIFFTREE_MAX_LIST >> 20);
    unlink(listpath);
    for (i = 0; i < len; i++)
        n += list[i] == '\0';
    if (len && list[len - 1] != '\0')
        n++;
    if (n + 1 > DIFFTREE_MAX_ENTRIES)
        return vr_fail(errp, 0, "the guest filesystem holds more than %d entries",
                       DIFFTREE_MAX_ENTRIES);
    /* +2: the list, possibly unterminated, gets a final NUL and the root "/" */
    t->names = realloc(list, len + 3);
    if (!t->names)
        return vr_fail(errp, ENOMEM, "cannot walk the guest filesystem");
    list = NULL;
    t->names[len] = '\0';
    memcpy(t->names + len + 1, "/", 2);
    t->v = calloc(n + 1, sizeof(*t->v));
    if (!t->v)
        return vr_fail(errp, ENOMEM, "cannot walk the guest filesystem");
    for (i = 0, start = 0; i <= len; i++) {
        if (t->names[i] != '\0')
            continue;
        if (i > start && t->names[start] == '/') {
            t->v[t->n].path = t->names + start;
            t->v[t->n].len = i - start;
            t->n++;
        }
        start = i + 1;
    }
    root = guestfs_lstatns(g, mnt);
    if (!root)
        return vr_fail(errp, 0, "cannot stat the guest root: %s", guestfs_last_error(g));
    t->v[t->n].path = t->names + len + 1;
    t->v[t->n].len = 1;
    difftree_set_stat(&t->v[t->n], root);
    guestfs_free_statns(root);
    t->n++;
    qsort(t->v, t->n, sizeof(*t->v), difftree_entry_cmp);

    idx = malloc(t->n * sizeof(*idx));
    if (!idx)
        return vr_fail(errp, ENOMEM, "cannot walk the guest filesystem");
    for (i = n = 0; i < t->n; i++) {
        if (t->v[i].len > 1)
            idx[n++] = i;
    }
    return difftree_by_parent(g, t, idx, n, difftree_stat_batch, errp);
}

struct difftree_entry *
difftree_find(struct difftree *t, const char *path, size_t len)
{
    size_t lo = 0, hi = t->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = difftree_cmp(t->v[mid].path, t->v[mid].len, path, len);
        if (r == 0)
            return &t->v[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void
difftree_free(struct difftree *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].target);
    free(t->v);
    free(t->names);
    memset(t, 0, sizeof(*t));
}
