/* SPDX-License-Identifier: Apache-2.0 */
#include "diffcmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "diffpath.h"
#include "fileio.h"

/* An added directory holding at least this many files to hash is hashed with
 * one checksums_out call instead of one call per file. */
#define DIFFCMP_BULK_HASH_MIN 8

enum diffcmp_kind { DC_ADDED, DC_DELETED, DC_MODIFIED, DC_METADATA, DC_NKINDS };
static const char *const diffcmp_kind_names[DC_NKINDS] = {"added", "deleted", "modified",
                                                          "metadata"};

enum {
    CH_TYPE = 1 << 0,
    CH_CONTENT = 1 << 1,
    CH_SIZE = 1 << 2,
    CH_MODE = 1 << 3,
    CH_UID = 1 << 4,
    CH_GID = 1 << 5,
    CH_TARGET = 1 << 6,
    CH_NLINK = 1 << 7,
    CH_RDEV = 1 << 8,
    CH_INODE = 1 << 9,
    CH_MTIME = 1 << 10,
    CH_CTIME = 1 << 11,
    CH_PENDING = 1 << 12, /* content unknown until hashed */
};
static const char *const diffcmp_ch_names[] = {"type", "content", "size",   "mode",
                                               "uid",  "gid",     "target", "nlink",
                                               "rdev", "inode",   "mtime",  "ctime"};

struct diffcmp_change {
    enum diffcmp_kind kind;
    struct difftree_entry *a, *b; /* base and overlay entries (NULL when absent) */
    unsigned changed;
    int listed, extracted;
};

const char *
diffcmp_type_name(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "symlink";
    case S_IFCHR:
    case S_IFBLK: return "device";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    default: return "unknown";
    }
}

static int
diffcmp_is(const struct difftree_entry *e, uint32_t type)
{
    return e && (e->mode & S_IFMT) == type;
}

/* What differs between two entries of one path, before any hashing. */
static unsigned
diffcmp_stat_changes(const struct difftree_entry *a, const struct difftree_entry *b, int times)
{
    unsigned c = 0;
    int mtime = a->mtime_s != b->mtime_s || a->mtime_ns != b->mtime_ns;
    int ctime = a->ctime_s != b->ctime_s || a->ctime_ns != b->ctime_ns;

    if ((a->mode & S_IFMT) != (b->mode & S_IFMT))
        return CH_TYPE;
    if ((a->mode & 07777) != (b->mode & 07777))
        c |= CH_MODE;
    if (a->uid != b->uid)
        c |= CH_UID;
    if (a->gid != b->gid)
        c |= CH_GID;
    if (times && mtime)
        c |= CH_MTIME;
    if (times && ctime)
        c |= CH_CTIME;
    switch (b->mode & S_IFMT) {
    case S_IFDIR:
        /* nlink and times of directories follow their children */
        if (a->size != b->size)
            c |= CH_SIZE;
        break;
    case S_IFREG:
        if (a->nlink != b->nlink)
            c |= CH_NLINK;
        if (a->size != b->size)
            c |= CH_CONTENT | CH_SIZE;
        else if (mtime || ctime || a->ino != b->ino)
            c |= CH_PENDING;
        break;
    case S_IFLNK:
        if (a->nlink != b->nlink)
            c |= CH_NLINK;
        if (a->ino != b->ino || a->size != b->size || ctime)
            c |= CH_PENDING; /* compare targets */
        break;
    default:
        if (a->nlink != b->nlink)
            c |= CH_NLINK;
        if (a->rdev != b->rdev)
            c |= CH_RDEV;
        if (a->ino != b->ino)
            c |= CH_INODE;
        break;
    }
    return c;
}

/* 1 when s starts with a sha256 as sha256sum writes it: 64 lowercase hex
 * digits. Anything else from the appliance is not a checksum. */
static int
diffcmp_is_sha256(const char *s)
{
    for (int i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

static int
diffcmp_hash_one(guestfs_h *g, const char *mnt, struct difftree_entry *e, struct vr_error **errp)
{
    _cleanup_free_ char *path = NULL;
    char *sum;

    if (e->sha256[0])
        return 0;
    if (asprintf(&path, "%s%s", mnt, e->path) < 0)
        return vr_fail(errp, ENOMEM, "cannot hash a guest file");
    sum = guestfs_checksum(g, "sha256", path);
    if (!sum)
        return vr_fail(errp, 0, "cannot hash a guest file: %s", guestfs_last_error(g));
    if (!diffcmp_is_sha256(sum) || sum[64] != '\0') {
        free(sum);
        return vr_fail(errp, 0, "the appliance returned a malformed checksum");
    }
    memcpy(e->sha256, sum, sizeof(e->sha256));
    free(sum);
    return 0;
}

/* Undo sha256sum's escaping of a file name ("\\" and "\n"); in place. */
static size_t
diffcmp_unescape(char *s, size_t len)
{
    size_t i, o = 0;
    for (i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len) {
            i++;
            s[o++] = s[i] == 'n' ? '\n' : s[i] == 'r' ? '\r' : s[i];
        } else {
            s[o++] = s[i];
        }
    }
    return o;
}

/* Hash every regular file below an added directory of the overlay with one
 * checksums_out call, and store the sums into the entries of b. */
static int
diffcmp_hash_dir(guestfs_h *g, struct difftree *b, const struct difftree_entry *dir,
                 const char *tmpdir, struct vr_error **errp)
{
    _cleanup_free_ char *path = NULL, *sums = NULL, *out = NULL, *full = NULL;
    size_t len = 0, pos = 0;

    if (asprintf(&path, "%s%s", b->mnt, dir->path) < 0 || asprintf(&sums, "%s/sums", tmpdir) < 0)
        return vr_fail(errp, ENOMEM, "cannot hash guest files");
    if (guestfs_checksums_out(g, "sha256", path, sums) < 0)
        return vr_fail(errp, 0, "cannot hash guest files: %s", guestfs_last_error(g));
    if (fileio_read_all(sums, DIFFTREE_MAX_LIST, &out, &len) < 0)
        return vr_fail(errp, errno, "cannot read the guest checksums");
    unlink(sums);
    full = malloc(dir->len + 4097 + 1);
    if (!full)
        return vr_fail(errp, ENOMEM, "cannot hash guest files");
    while (pos < len) {
        char *line = out + pos, *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos, nlen;
        int esc = ll > 0 && line[0] == '\\';
        struct difftree_entry *e;
        char *name;

        pos += ll + 1;
        if (esc) {
            line++;
            ll--;
        }
        /* "<64 hex>  ./name" */
        if (ll < 64 + 2 + 2 || memcmp(line + 64, "  ./", 4) != 0 || !diffcmp_is_sha256(line))
            continue;
        name = line + 67; /* "/name..." after "  ." */
        nlen = ll - 67;
        if (esc)
            nlen = diffcmp_unescape(name, nlen);
        if (nlen > 4096)
            continue;
        memcpy(full, dir->path, dir->len);
        memcpy(full + (dir->len == 1 ? 0 : dir->len), name, nlen);
        e = difftree_find(b, full, (dir->len == 1 ? 0 : dir->len) + nlen);
        if (e && diffcmp_is(e, S_IFREG))
            snprintf(e->sha256, sizeof(e->sha256), "%.64s", line);
    }
    return 0;
}

static int
diffcmp_change_cmp(const void *x, const void *y)
{
    const struct diffcmp_change *p = x, *q = y;
    const struct difftree_entry *a = p->b ? p->b : p->a, *b = q->b ? q->b : q->a;
    return difftree_cmp(a->path, a->len, b->path, b->len);
}

static json_t *
diffcmp_entry_json(const struct difftree_entry *e, int with_hash, int with_path)
{
    json_t *j = json_object();

    if (!j)
        return NULL;
    if (with_path && diffpath_json_set(j, "path", e->path, e->len) < 0)
        goto oom;
    json_object_set_new(j, "type", json_string(diffcmp_type_name(e->mode)));
    json_object_set_new(j, "size", json_integer(e->size));
    json_object_set_new(j, "mode", json_integer(e->mode & 07777));
    json_object_set_new(j, "uid", json_integer(e->uid));
    json_object_set_new(j, "gid", json_integer(e->gid));
    if (diffcmp_is(e, S_IFLNK) && e->target &&
        diffpath_json_set(j, "target", e->target, e->target_len) < 0)
        goto oom;
    if (diffcmp_is(e, S_IFREG) && with_hash)
        json_object_set_new(j, "sha256", e->sha256[0] ? json_string(e->sha256) : json_null());
    return j;
oom:
    json_decref(j);
    return NULL;
}

static json_t *
diffcmp_change_json(const struct diffcmp_change *c, int hashes, int extract)
{
    json_t *j, *old, *ch;

    if (c->kind == DC_DELETED)
        return diffcmp_entry_json(c->a, 0, 1);
    j = diffcmp_entry_json(c->b, hashes, 1);
    if (!j || c->kind == DC_ADDED) {
        if (j && extract && diffcmp_is(c->b, S_IFREG))
            json_object_set_new(j, "extracted", json_boolean(c->extracted));
        return j;
    }
    old = diffcmp_entry_json(c->a, hashes && c->kind == DC_MODIFIED, 0);
    ch = json_array();
    for (size_t i = 0; i < sizeof(diffcmp_ch_names) / sizeof(*diffcmp_ch_names); i++) {
        if (c->changed & (1u << i))
            json_array_append_new(ch, json_string(diffcmp_ch_names[i]));
    }
    json_object_set_new(j, "old", old);
    json_object_set_new(j, "changed", ch);
    if (extract && c->kind == DC_MODIFIED && diffcmp_is(c->b, S_IFREG))
        json_object_set_new(j, "extracted", json_boolean(c->extracted));
    return j;
}

/* Copy added and modified regular files out, in path order, within the limit. */
static int
diffcmp_extract(guestfs_h *g, struct diffcmp_change *v, size_t n, const struct diff_options *o,
                json_t *changes, struct vr_error **errp)
{
    _cleanup_close_ int dirfd = -1;
    uint64_t bytes = 0, files = 0, skipped = 0;
    json_t *x;

    if (mkdir(o->extract_dir, 0755) < 0 && errno != EEXIST)
        return vr_error_set(errp, VR_ERR_USAGE, errno, "cannot create the extract directory '%s'",
                            o->extract_dir);
    dirfd = open(o->extract_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return vr_error_set(errp, VR_ERR_USAGE, errno, "cannot open the extract directory '%s'",
                            o->extract_dir);
    for (size_t i = 0; i < n; i++) {
        struct diffcmp_change *c = &v[i];
        _cleanup_free_ char *remote = NULL, *local = NULL;
        _cleanup_close_ int fd = -1;
        _cleanup_error_ struct vr_error *perr = NULL;

        if ((c->kind != DC_ADDED && c->kind != DC_MODIFIED) || !diffcmp_is(c->b, S_IFREG))
            continue;
        if ((uint64_t)c->b->size > o->extract_limit - bytes || !diffpath_safe(c->b->path)) {
            skipped++;
            continue;
        }
        fd = diffpath_create_under(dirfd, c->b->path, &perr);
        if (fd < 0) {
            /* e.g. a file where a directory of another path must go: skip it */
            skipped++;
            continue;
        }
        if (asprintf(&remote, "%s%s", "/b", c->b->path) < 0 ||
            asprintf(&local, "/dev/fd/%d", fd) < 0)
            return vr_fail(errp, ENOMEM, "cannot extract files");
        if (c->b->size > 0 && guestfs_download_offset(g, remote, local, 0, c->b->size) < 0)
            return vr_fail(errp, 0, "cannot extract a file from the guest: %s",
                           guestfs_last_error(g));
        c->extracted = 1;
        bytes += (uint64_t)c->b->size;
        files++;
    }
    x = json_pack("{s:s, s:I, s:I, s:I, s:I, s:b}", "dir", o->extract_dir, "files",
                  (json_int_t)files, "bytes", (json_int_t)bytes, "limit",
                  (json_int_t)o->extract_limit, "skipped", (json_int_t)skipped, "truncated",
                  skipped > 0);
    return json_object_set_new(changes, "extract", x) < 0
               ? vr_fail(errp, ENOMEM, "cannot build the report")
               : 0;
}

/* Hash what the report lists: new content of added and modified files, old
 * content of modified ones. */
static int
diffcmp_hash_listed(guestfs_h *g, struct difftree *a, struct difftree *b, struct diffcmp_change *v,
                    size_t n, const char *tmpdir, struct vr_error **errp)
{
    size_t i = 0;

    while (i < n) {
        struct diffcmp_change *c = &v[i];
        /* A listed added directory with many files: one bulk call. */
        if (c->listed && c->kind == DC_ADDED && diffcmp_is(c->b, S_IFDIR)) {
            size_t j = i + 1, files = 0;
            while (j < n && v[j].kind == DC_ADDED && v[j].b->len > c->b->len &&
                   memcmp(v[j].b->path, c->b->path, c->b->len) == 0 &&
                   (c->b->len == 1 || v[j].b->path[c->b->len] == '/')) {
                files += v[j].listed && diffcmp_is(v[j].b, S_IFREG);
                j++;
            }
            if (files >= DIFFCMP_BULK_HASH_MIN) {
                if (diffcmp_hash_dir(g, b, c->b, tmpdir, errp) < 0)
                    return -1;
                /* what the bulk call missed is hashed one by one below */
                for (size_t k = i + 1; k < j; k++) {
                    if (v[k].listed && diffcmp_is(v[k].b, S_IFREG) &&
                        diffcmp_hash_one(g, b->mnt, v[k].b, errp) < 0)
                        return -1;
                }
                i = j;
                continue;
            }
            i++;
            continue;
        }
        if (c->listed && (c->kind == DC_ADDED || c->kind == DC_MODIFIED) &&
            diffcmp_is(c->b, S_IFREG) && diffcmp_hash_one(g, b->mnt, c->b, errp) < 0)
            return -1;
        if (c->listed && c->kind == DC_MODIFIED && diffcmp_is(c->a, S_IFREG) &&
            diffcmp_hash_one(g, a->mnt, c->a, errp) < 0)
            return -1;
        i++;
    }
    return 0;
}

int
diffcmp_run(guestfs_h *g, struct difftree *a, struct difftree *b, const struct diff_options *o,
            const char *tmpdir, json_t *changes, struct vr_error **errp)
{
    _cleanup_free_ struct diffcmp_change *v = NULL;
    _cleanup_free_ size_t *la = NULL, *lb = NULL;
    size_t n = 0, i = 0, j = 0, nla = 0, nlb = 0, listed = 0, nviol = 0;
    size_t counts[DC_NKINDS] = {0};
    json_t *lists[DC_NKINDS], *viol = NULL;
    int full = o->mode == DIFF_FULL;

    v = calloc(a->n + b->n, sizeof(*v));
    la = calloc(a->n + 1, sizeof(*la));
    lb = calloc(b->n + 1, sizeof(*lb));
    if (!v || !la || !lb)
        return vr_fail(errp, ENOMEM, "cannot compare the trees");
    /* Merge the two sorted trees. */
    while (i < a->n || j < b->n) {
        int r = i == a->n   ? 1
                : j == b->n ? -1
                            : difftree_cmp(a->v[i].path, a->v[i].len, b->v[j].path, b->v[j].len);
        if (r < 0) {
            v[n++] = (struct diffcmp_change){.kind = DC_DELETED, .a = &a->v[i++]};
        } else if (r > 0) {
            if (diffcmp_is(&b->v[j], S_IFLNK))
                lb[nlb++] = j;
            v[n++] = (struct diffcmp_change){.kind = DC_ADDED, .b = &b->v[j++]};
        } else {
            unsigned c = diffcmp_stat_changes(&a->v[i], &b->v[j], o->times);
            if (c) {
                if (diffcmp_is(&a->v[i], S_IFLNK) && diffcmp_is(&b->v[j], S_IFLNK)) {
                    la[nla++] = i;
                    lb[nlb++] = j;
                }
                v[n++] = (struct diffcmp_change){
                    .kind = DC_METADATA, .a = &a->v[i], .b = &b->v[j], .changed = c};
            }
            i++;
            j++;
        }
    }
    if (difftree_readlinks(g, a, la, nla, errp) < 0 || difftree_readlinks(g, b, lb, nlb, errp) < 0)
        return -1;
    /* Resolve what metadata alone could not tell. */
    for (i = 0, j = 0; i < n; i++) {
        struct diffcmp_change *c = &v[i];
        if (c->kind == DC_METADATA && (c->changed & CH_PENDING)) {
            c->changed &= ~(unsigned)CH_PENDING;
            if (diffcmp_is(c->b, S_IFLNK)) {
                if (c->a->target_len != c->b->target_len || !c->a->target || !c->b->target ||
                    memcmp(c->a->target, c->b->target, c->a->target_len) != 0)
                    c->changed |= CH_TARGET;
                else if (c->a->ino != c->b->ino)
                    c->changed |= CH_INODE;
            } else if (full) {
                if (diffcmp_hash_one(g, a->mnt, c->a, errp) < 0 ||
                    diffcmp_hash_one(g, b->mnt, c->b, errp) < 0)
                    return -1;
                if (strcmp(c->a->sha256, c->b->sha256) != 0)
                    c->changed |= CH_CONTENT;
                else if (c->a->ino != c->b->ino)
                    c->changed |= CH_INODE;
            } else {
                /* meta: no hashing; a new mtime, inode or an unexplained
                 * ctime means the content may have changed */
                int explained = c->changed & (CH_MODE | CH_UID | CH_GID | CH_NLINK);
                if (c->a->mtime_s != c->b->mtime_s || c->a->mtime_ns != c->b->mtime_ns ||
                    c->a->ino != c->b->ino || !explained)
                    c->changed |= CH_CONTENT;
            }
        }
        if (c->kind == DC_METADATA && (c->changed & (CH_TYPE | CH_CONTENT)))
            c->kind = DC_MODIFIED;
        if (c->kind == DC_METADATA && c->changed == 0)
            continue; /* e.g. a touched file whose content and metadata are the same */
        v[j++] = *c;
    }
    n = j;
    qsort(v, n, sizeof(*v), diffcmp_change_cmp);
    for (i = 0; i < n; i++) {
        counts[v[i].kind]++;
        if (listed < o->max_entries) {
            v[i].listed = 1;
            listed++;
        }
    }
    if (full && diffcmp_hash_listed(g, a, b, v, n, tmpdir, errp) < 0)
        return -1;
    if (o->extract_dir && diffcmp_extract(g, v, n, o, changes, errp) < 0)
        return -1;
    for (int k = 0; k < DC_NKINDS; k++)
        lists[k] = json_array();
    if (o->n_allow)
        viol = json_array();
    for (i = 0; i < n; i++) {
        const struct difftree_entry *e = v[i].b ? v[i].b : v[i].a;
        if (v[i].listed)
            json_array_append_new(lists[v[i].kind],
                                  diffcmp_change_json(&v[i], full, o->extract_dir != NULL));
        if (viol && !diffpath_allowed(o->allow, o->n_allow, e->path)) {
            if (nviol < o->max_entries) {
                json_t *x = json_object();
                diffpath_json_set(x, "path", e->path, e->len);
                json_object_set_new(x, "change", json_string(diffcmp_kind_names[v[i].kind]));
                json_array_append_new(viol, x);
            }
            nviol++;
        }
    }
    for (int k = 0; k < DC_NKINDS; k++)
        json_object_set_new(changes, diffcmp_kind_names[k], lists[k]);
    json_object_set_new(changes, "counts",
                        json_pack("{s:I, s:I, s:I, s:I}", "added", (json_int_t)counts[DC_ADDED],
                                  "deleted", (json_int_t)counts[DC_DELETED], "modified",
                                  (json_int_t)counts[DC_MODIFIED], "metadata",
                                  (json_int_t)counts[DC_METADATA]));
    json_object_set_new(changes, "total", json_integer((json_int_t)n));
    json_object_set_new(changes, "truncated", json_boolean(listed < n));
    json_object_set_new(changes, "violations", viol ? viol : json_null());
    json_object_set_new(changes, "violations_total",
                        viol ? json_integer((json_int_t)nviol) : json_null());
    return 0;
}
