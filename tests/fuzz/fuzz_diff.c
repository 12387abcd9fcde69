/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_diff: the disk diff (orchestrator/diff.c, difftree.c, diffcmp.c,
 * diffimg.c, diffpath.c) end to end, against a fake libguestfs appliance and a
 * fake qemu-img whose every answer comes from the input. Everything the
 * appliance says derives from the untrusted disk, and a guest that subverted
 * the appliance could say anything, so the host must survive any answer: the
 * find0 lists, stat records (counts, types, sizes, times), symlink targets,
 * checksums and checksums_out files, partition lists and numbers, mount
 * failures and their messages, and qemu-img's info and map output.
 *
 * The input has FUZZ_SEP-separated parts:
 *   opts     settings: [0] mode, --diff-times, --extract, kvm, --root,
 *            --allow-write, raw base; [1] --diff-max-entries (255: 10000);
 *            [2] --extract-limit in 64-byte units
 *   root     the --root value
 *   allow    --allow-write patterns, NUL-separated (at most 8)
 *   info     `qemu-img info` text ("@BASE@" stands for the base's path;
 *            empty: a valid overlay description)
 *   map      `qemu-img map` text (empty: one extent at depth 0)
 *   parts    list_partitions, NUL-separated
 *   list_a   find0 of the base's tree, list_b of the overlay's
 *   call     one byte per qemu-img run, set-up call, mount, lstatns (the
 *            root, python3) and partition call
 *   stat     one byte per stat record: bits alter size, mode, uid, times,
 *            inode, type, or make it hostile (negative size, any mode...)
 *   walk     one byte per find0, lstatnslist and readlinklist call
 *   hash     one byte per checksum, checksums_out and download_offset call
 *            In call, walk and hash, 0 is a normal answer (also once a part
 *            is used up), 1 a failure, others a hostile or altered answer.
 *   text     NUL-separated strings for error messages, hostile checksums,
 *            symlink targets and checksums_out lines
 * A stat record is a function of the path (so both trees agree unless told
 * otherwise) altered by its stat byte.
 *
 * What must hold: either an error, or a changes object as docs/diff.md
 * specifies it (every member, types, counts that add up, lists sorted and
 * within max_entries, violations outside every pattern, checksums that are
 * checksums), that serialises and parses back; extraction writes nothing
 * outside its directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <guestfs.h>

#include "command.h"
#include "diff.h"
#include "diffpath.h"
#include "fuzz.h"

enum {
    P_OPTS,
    P_ROOT,
    P_ALLOW,
    P_INFO,
    P_MAP,
    P_PARTS,
    P_LIST_A,
    P_LIST_B,
    P_CALL, /* ctl bytes: qemu-img, set-up, mounts, partitions */
    P_STAT, /* ctl bytes: one per stat record */
    P_WALK, /* ctl bytes: find0, lstatnslist, readlinklist */
    P_HASH, /* ctl bytes: checksum, checksums_out, download_offset */
    P_TEXT,
    P_N
};

#define FUZZ_DIFF_ALLOW_MAX 8

static struct {
    struct fuzz_part p[P_N];
    size_t ctl_off[P_N];
    size_t text_off;
    char *last_error;
    char root[64];
    char base[96];
    char overlay[96];
    char extract[96];
    int raw; /* the base's format is raw */
} fz;

static char fuzz_diff_handle; /* what guestfs_h * points to */

/* The next ctl byte of one stream; 0 (a normal answer) once it is used up. */
static uint8_t
fuzz_diff_ctl(int part)
{
    const struct fuzz_part *c = &fz.p[part];

    return fz.ctl_off[part] < c->len ? c->data[fz.ctl_off[part]++] : 0;
}

/* The next string of the text pool (round robin), fresh. */
static char *
fuzz_diff_text(size_t *len)
{
    const struct fuzz_part *t = &fz.p[P_TEXT];
    const uint8_t *s, *nul;
    size_t n;
    char *out;

    if (fz.text_off >= t->len)
        fz.text_off = 0;
    s = t->data + fz.text_off;
    nul = memchr(s, 0, t->len - fz.text_off);
    n = nul ? (size_t)(nul - s) : t->len - fz.text_off;
    fz.text_off += n + 1;
    out = malloc(n + 1);
    FUZZ_CHECK(out != NULL);
    if (n)
        memcpy(out, s, n);
    out[n] = '\0';
    if (len)
        *len = n;
    return out;
}

static uint64_t
fuzz_diff_fnv(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    while (n--)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
    return h;
}

/* "/a/x/y" -> "/x/y"; "/a" -> "/". */
static const char *
fuzz_diff_rel(const char *path)
{
    if ((strncmp(path, "/a", 2) == 0 || strncmp(path, "/b", 2) == 0) &&
        (path[2] == '/' || path[2] == '\0'))
        return path[2] ? path + 2 : "/";
    return path;
}

static void
fuzz_diff_hex64(uint64_t h, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    int i;

    for (i = 0; i < 64; i++) {
        out[i] = hex[h & 15];
        h = h >> 4 | h << 60;
        if (i % 16 == 15)
            h = h * 0x9e3779b97f4a7c15ULL + 1;
    }
    out[64] = '\0';
}

static void
fuzz_diff_stat(const char *path, struct guestfs_statns *s)
{
    const char *rel = fuzz_diff_rel(path);
    uint64_t h = fuzz_diff_fnv(rel, strlen(rel));
    static const uint32_t odd[] = {S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK};
    uint32_t type;
    uint8_t p = fuzz_diff_ctl(P_STAT);

    memset(s, 0, sizeof(*s));
    switch (h % 16) {
    case 8:
    case 9:
    case 10:
    case 11: type = S_IFDIR; break;
    case 12:
    case 13: type = S_IFLNK; break;
    case 14:
    case 15: type = odd[(h >> 4) & 3]; break;
    default: type = S_IFREG; break;
    }
    if (strcmp(rel, "/") == 0)
        type = S_IFDIR;
    s->st_mode = type | ((h >> 8) & 07777);
    s->st_size = (int64_t)((h >> 20) % 5000);
    s->st_uid = (int64_t)((h >> 32) % 3);
    s->st_gid = s->st_uid;
    s->st_ino = (int64_t)(h & 0xffff);
    s->st_nlink = 1;
    s->st_rdev = type == S_IFCHR || type == S_IFBLK ? 259 : 0;
    s->st_mtime_sec = 1700000000 + (int64_t)(h % 1000);
    s->st_mtime_nsec = (int64_t)(h % 1000000000);
    s->st_ctime_sec = s->st_mtime_sec;
    s->st_ctime_nsec = s->st_mtime_nsec;
    if (p & 1)
        s->st_size += 1 + p;
    if (p & 2)
        s->st_mode ^= 0111;
    if (p & 4)
        s->st_uid++;
    if (p & 8)
        s->st_mtime_sec++;
    if (p & 16)
        s->st_ctime_nsec++;
    if (p & 32)
        s->st_ino++;
    if (p & 64)
        s->st_mode = (type == S_IFREG ? S_IFDIR : S_IFREG) | 0644;
    if (p & 128) {
        /* hostile: what no filesystem says */
        s->st_size = (p & 1) ? -1 : INT64_MAX;
        s->st_mode = (int64_t)h;
        s->st_nlink = -5;
        s->st_rdev = INT64_MIN;
        s->st_mtime_nsec = (p & 2) ? INT64_MAX : -1;
    }
}

/* ---- the fake libguestfs --------------------------------------------------- */

guestfs_h *
guestfs_create_flags(unsigned flags, ...)
{
    (void)flags;
    return fuzz_diff_ctl(P_CALL) == 1 ? NULL : (guestfs_h *)&fuzz_diff_handle;
}

void
guestfs_close(guestfs_h *g)
{
    FUZZ_CHECK(g == (guestfs_h *)&fuzz_diff_handle);
}

void
guestfs_set_error_handler(guestfs_h *g, guestfs_error_handler_cb cb, void *opaque)
{
    (void)g;
    (void)cb;
    (void)opaque;
}

const char *
guestfs_last_error(guestfs_h *g)
{
    (void)g;
    free(fz.last_error);
    fz.last_error = fuzz_diff_text(NULL);
    return fz.last_error;
}

static int
fuzz_diff_ok(void)
{
    return fuzz_diff_ctl(P_CALL) == 1 ? -1 : 0;
}

int
guestfs_set_backend(guestfs_h *g, const char *backend)
{
    (void)g;
    FUZZ_CHECK(strcmp(backend, "direct") == 0);
    return fuzz_diff_ok();
}

int
guestfs_set_backend_settings(guestfs_h *g, char *const *settings)
{
    (void)g;
    (void)settings;
    return fuzz_diff_ok();
}

int
guestfs_set_memsize(guestfs_h *g, int memsize)
{
    (void)g;
    (void)memsize;
    return fuzz_diff_ok();
}

int
guestfs_set_smp(guestfs_h *g, int smp)
{
    (void)g;
    (void)smp;
    return fuzz_diff_ok();
}

int
guestfs_set_autosync(guestfs_h *g, int autosync)
{
    (void)g;
    (void)autosync;
    return fuzz_diff_ok();
}

int
guestfs_set_network(guestfs_h *g, int network)
{
    (void)g;
    FUZZ_CHECK(network == 0);
    return fuzz_diff_ok();
}

int
guestfs_add_drive_opts(guestfs_h *g, const char *filename, ...)
{
    (void)g;
    (void)filename;
    return fuzz_diff_ok();
}

int
guestfs_add_drive_scratch(guestfs_h *g, int64_t size, ...)
{
    (void)g;
    (void)size;
    return fuzz_diff_ok();
}

int
guestfs_launch(guestfs_h *g)
{
    (void)g;
    return fuzz_diff_ok();
}

int
guestfs_mkmountpoint(guestfs_h *g, const char *exemptpath)
{
    (void)g;
    (void)exemptpath;
    return fuzz_diff_ok();
}

int
guestfs_mount_ro(guestfs_h *g, const char *mountable, const char *mountpoint)
{
    (void)g;
    (void)mountable;
    (void)mountpoint;
    return fuzz_diff_ok();
}

int
guestfs_umount(guestfs_h *g, const char *pathordevice)
{
    (void)g;
    (void)pathordevice;
    return 0;
}

char **
guestfs_list_partitions(guestfs_h *g)
{
    const struct fuzz_part *p = &fz.p[P_PARTS];
    char **v;
    size_t n = 0, off = 0;

    (void)g;
    if (fuzz_diff_ctl(P_CALL) == 1)
        return NULL;
    v = calloc(65, sizeof(*v));
    FUZZ_CHECK(v != NULL);
    while (off < p->len && n < 64) {
        const uint8_t *nul = memchr(p->data + off, 0, p->len - off);
        size_t len = nul ? (size_t)(nul - (p->data + off)) : p->len - off;
        v[n] = strndup((const char *)p->data + off, len);
        FUZZ_CHECK(v[n] != NULL);
        n++;
        off += len + 1;
    }
    return v;
}

int
guestfs_part_to_partnum(guestfs_h *g, const char *partition)
{
    const char *d = partition + strlen(partition);

    (void)g;
    switch (fuzz_diff_ctl(P_CALL)) {
    case 1: return -1;
    case 2: return 0;
    case 3: return 4096;
    case 4: return INT_MAX;
    default: break;
    }
    while (d > partition && d[-1] >= '0' && d[-1] <= '9')
        d--;
    return *d ? (int)strtol(d, NULL, 10) % 1000 : -1;
}

struct guestfs_statns *
guestfs_lstatns(guestfs_h *g, const char *path)
{
    struct guestfs_statns *s;

    (void)g;
    if (fuzz_diff_ctl(P_CALL) == 1)
        return NULL;
    s = malloc(sizeof(*s));
    FUZZ_CHECK(s != NULL);
    fuzz_diff_stat(path, s);
    return s;
}

void
guestfs_free_statns(struct guestfs_statns *s)
{
    free(s);
}

void
guestfs_free_statns_list(struct guestfs_statns_list *l)
{
    if (l)
        free(l->val);
    free(l);
}

static char *
fuzz_diff_join(const char *dir, const char *name)
{
    char *s = NULL;

    FUZZ_CHECK(asprintf(&s, "%s/%s", dir, name) >= 0);
    return s;
}

struct guestfs_statns_list *
guestfs_lstatnslist(guestfs_h *g, const char *path, char *const *names)
{
    struct guestfs_statns_list *l;
    size_t n = 0, i;
    uint8_t c = fuzz_diff_ctl(P_WALK);

    (void)g;
    while (names[n])
        n++;
    if (c == 1)
        return NULL;
    l = calloc(1, sizeof(*l));
    FUZZ_CHECK(l != NULL);
    l->len = (uint32_t)(c == 2 && n ? n - 1 : c == 3 ? n + 1 : n);
    l->val = calloc(l->len + 1, sizeof(*l->val));
    FUZZ_CHECK(l->val != NULL);
    for (i = 0; i < l->len; i++) {
        char *full = fuzz_diff_join(path, names[i < n ? i : 0] ? names[i < n ? i : 0] : "x");
        fuzz_diff_stat(full, &l->val[i]);
        free(full);
    }
    return l;
}

char **
guestfs_readlinklist(guestfs_h *g, const char *path, char *const *names)
{
    size_t n = 0, i, k;
    uint8_t c = fuzz_diff_ctl(P_WALK);
    char **v;

    (void)g;
    while (names[n])
        n++;
    if (c == 1)
        return NULL;
    k = c == 2 && n ? n - 1 : c == 3 ? n + 1 : n;
    v = calloc(k + 1, sizeof(*v));
    FUZZ_CHECK(v != NULL);
    for (i = 0; i < k; i++) {
        char *full = fuzz_diff_join(path, i < n ? names[i] : "extra");
        const char *rel = fuzz_diff_rel(full);
        uint64_t h = fuzz_diff_fnv(rel, strlen(rel));

        if (c == 4) {
            v[i] = fuzz_diff_text(NULL);
        } else {
            /* the overlay's differs when its walk byte says so */
            FUZZ_CHECK(asprintf(&v[i], "../t%llx%s", (unsigned long long)h,
                                c == 5 && full[1] == 'b' ? "-new" : "") >= 0);
        }
        free(full);
    }
    return v;
}

char *
guestfs_checksum(guestfs_h *g, const char *csumtype, const char *path)
{
    const char *rel = fuzz_diff_rel(path);
    uint64_t h = fuzz_diff_fnv(rel, strlen(rel));
    char hex[65];
    uint8_t c = fuzz_diff_ctl(P_HASH);

    (void)g;
    FUZZ_CHECK(strcmp(csumtype, "sha256") == 0);
    if (c == 1)
        return NULL;
    if (c == 2)
        return fuzz_diff_text(NULL);
    if (c == 3 && path[1] == 'b')
        h = ~h;
    fuzz_diff_hex64(h, hex);
    return strdup(hex);
}

static void
fuzz_diff_write_file(const char *file, const void *data, size_t len)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(len == 0 || write(fd, data, len) == (ssize_t)len);
    close(fd);
}

int
guestfs_find0(guestfs_h *g, const char *directory, const char *files)
{
    const struct fuzz_part *l = &fz.p[strcmp(directory, "/a") == 0 ? P_LIST_A : P_LIST_B];

    (void)g;
    FUZZ_CHECK(strcmp(directory, "/a") == 0 || strcmp(directory, "/b") == 0);
    if (fuzz_diff_ctl(P_WALK) == 1)
        return -1;
    fuzz_diff_write_file(files, l->data, l->len);
    return 0;
}

/* sha256sum's line for one file: a name with a newline or a backslash is
 * escaped and the line starts with a backslash. */
static void
fuzz_diff_sum_line(FILE *f, const char *path, size_t plen, const char *name, size_t len)
{
    char hex[65];
    int esc = memchr(name, '\n', len) || memchr(name, '\\', len) || memchr(name, '\r', len);
    size_t i;

    /* the checksum guestfs_checksum gives for the same file */
    fuzz_diff_hex64(fuzz_diff_fnv(path, plen), hex);
    if (esc)
        fputc('\\', f);
    fputs(hex, f);
    fputs("  .", f);
    for (i = 0; i < len; i++) {
        if (name[i] == '\n')
            fputs("\\n", f);
        else if (name[i] == '\r')
            fputs("\\r", f);
        else if (name[i] == '\\')
            fputs("\\\\", f);
        else
            fputc(name[i], f);
    }
    fputc('\n', f);
}

int
guestfs_checksums_out(guestfs_h *g, const char *csumtype, const char *directory,
                      const char *sumsfile)
{
    const struct fuzz_part *l = &fz.p[P_LIST_B];
    const char *rel = fuzz_diff_rel(directory);
    size_t rlen = strcmp(rel, "/") == 0 ? 0 : strlen(rel), off = 0;
    uint8_t c = fuzz_diff_ctl(P_HASH);
    char *out = NULL, *extra;
    size_t olen = 0, elen = 0;
    FILE *f;

    (void)g;
    FUZZ_CHECK(strcmp(csumtype, "sha256") == 0 && directory[1] == 'b');
    if (c == 1)
        return -1;
    f = open_memstream(&out, &olen);
    FUZZ_CHECK(f != NULL);
    /* Every name of the overlay's list below directory, as "./rest". */
    while (c != 3 && off < l->len) {
        const char *s = (const char *)l->data + off;
        const uint8_t *nul = memchr(s, 0, l->len - off);
        size_t len = nul ? (size_t)((const char *)nul - s) : l->len - off;

        if (len > rlen + 1 && memcmp(s, rel, rlen) == 0 && s[rlen] == '/')
            fuzz_diff_sum_line(f, s, len, s + rlen, len - rlen);
        off += len + 1;
    }
    if (c == 2 || c == 3) {
        extra = fuzz_diff_text(&elen);
        fwrite(extra, 1, elen, f);
        free(extra);
    }
    FUZZ_CHECK(fclose(f) == 0);
    fuzz_diff_write_file(sumsfile, out, olen);
    free(out);
    return 0;
}

int
guestfs_download_offset(guestfs_h *g, const char *remotefilename, const char *filename,
                        int64_t offset, int64_t size)
{
    static const char junk[256] = "guest bytes";
    int fd;

    (void)g;
    FUZZ_CHECK(strncmp(remotefilename, "/b/", 3) == 0);
    FUZZ_CHECK(offset == 0 && size > 0);
    if (fuzz_diff_ctl(P_HASH) == 1)
        return -1;
    fd = open(filename, O_WRONLY | O_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, junk, size < 256 ? (size_t)size : 256) >= 0);
    close(fd);
    return 0;
}

/* ---- the fake qemu-img ----------------------------------------------------- */

/* The info text: the input's with "@BASE@" replaced by the base's path, or a
 * valid description of the overlay when the input has none. */
static char *
fuzz_diff_info_text(size_t *len)
{
    const struct fuzz_part *p = &fz.p[P_INFO];
    const char *at = (const char *)p->data, *end = at + p->len;
    char *out = NULL;
    size_t olen = 0;
    FILE *f = open_memstream(&out, &olen);

    FUZZ_CHECK(f != NULL);
    if (p->len == 0)
        fprintf(f,
                "{\"format\": \"qcow2\", \"full-backing-filename\": \"%s\", "
                "\"backing-filename-format\": \"%s\"}",
                fz.base, fz.raw ? "raw" : "qcow2");
    while (at < end) {
        const char *m = memmem(at, (size_t)(end - at), "@BASE@", 6);
        size_t n = m ? (size_t)(m - at) : (size_t)(end - at);

        fwrite(at, 1, n, f);
        if (!m)
            break;
        fputs(fz.base, f);
        at = m + 6;
    }
    FUZZ_CHECK(fclose(f) == 0);
    *len = olen;
    return out;
}

int
command_capture(const char *const argv[], size_t out_max, char **out, size_t *out_len,
                char **err_tail, int *status, int *truncated, struct vr_error **errp)
{
    int info = strcmp(argv[1], "info") == 0;
    uint8_t c = fuzz_diff_ctl(P_CALL);
    char *text;
    size_t len = 0;

    FUZZ_CHECK(strcmp(argv[0], "qemu-img") == 0);
    FUZZ_CHECK(info || strcmp(argv[1], "map") == 0);
    if (c == 1)
        return vr_fail(errp, 0, "cannot run '%s'", argv[0]);
    if (info) {
        text = fuzz_diff_info_text(&len);
    } else if (fz.p[P_MAP].len) {
        len = fz.p[P_MAP].len;
        text = malloc(len + 1);
        FUZZ_CHECK(text != NULL);
        memcpy(text, fz.p[P_MAP].data, len);
        text[len] = '\0';
    } else {
        text = strdup("[{ \"start\": 0, \"length\": 65536, \"depth\": 0, \"present\": true }]");
        FUZZ_CHECK(text != NULL);
        len = strlen(text);
    }
    FUZZ_CHECK(text != NULL);
    *status = 0;
    *err_tail = NULL;
    if (c == 2) {
        *status = 1;
        *err_tail = fuzz_diff_text(NULL);
    }
    if (len > out_max || (c == 3 && truncated)) {
        FUZZ_CHECK(truncated != NULL);
        if (len > out_max)
            len = out_max;
        len /= 2;
        text[len] = '\0';
        *truncated = 1;
    }
    *out = text;
    *out_len = len;
    return 0;
}

/* ---- checks ---------------------------------------------------------------- */

static int
fuzz_diff_is_hex64(const char *s)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return s[64] == '\0';
}

static void
fuzz_diff_check_entry(const json_t *e, int top)
{
    static const char *const types[] = {"file", "dir",    "symlink", "device",
                                        "fifo", "socket", "unknown"};
    const char *type = json_string_value(json_object_get(e, "type"));
    const json_t *sha = json_object_get(e, "sha256");
    int known = 0;
    size_t i;

    FUZZ_CHECK(json_is_object(e));
    FUZZ_CHECK(type != NULL);
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        known |= strcmp(type, types[i]) == 0;
    FUZZ_CHECK(known);
    if (top)
        FUZZ_CHECK(json_is_string(json_object_get(e, "path")));
    FUZZ_CHECK(json_is_integer(json_object_get(e, "size")));
    FUZZ_CHECK(json_is_integer(json_object_get(e, "mode")));
    FUZZ_CHECK(json_is_integer(json_object_get(e, "uid")));
    FUZZ_CHECK(json_is_integer(json_object_get(e, "gid")));
    /* A checksum is one: 64 lowercase hex digits, or null. */
    if (sha)
        FUZZ_CHECK(json_is_null(sha) ||
                   (json_is_string(sha) && fuzz_diff_is_hex64(json_string_value(sha))));
    if (json_object_get(e, "path_base64"))
        FUZZ_CHECK(json_is_string(json_object_get(e, "path_base64")));
}

static void
fuzz_diff_check_list(const json_t *l, size_t *listed)
{
    static const char *const changed[] = {"type",   "content", "size", "mode",  "uid",   "gid",
                                          "target", "nlink",   "rdev", "inode", "mtime", "ctime"};
    char *prev = NULL;
    size_t prev_len = 0, i, k;
    const json_t *e, *c;

    FUZZ_CHECK(json_is_array(l));
    json_array_foreach(l, i, e)
    {
        size_t len = 0;
        char *path = diffpath_json_get(e, "path", &len);

        fuzz_diff_check_entry(e, 1);
        FUZZ_CHECK(path != NULL);
        /* sorted by path bytes */
        if (prev) {
            int r = memcmp(prev, path, prev_len < len ? prev_len : len);
            FUZZ_CHECK(r < 0 || (r == 0 && prev_len <= len));
        }
        free(prev);
        prev = path;
        prev_len = len;
        if (json_object_get(e, "old"))
            fuzz_diff_check_entry(json_object_get(e, "old"), 0);
        json_array_foreach(json_object_get(e, "changed"), k, c)
        {
            int known = 0;
            for (size_t m = 0; m < sizeof(changed) / sizeof(changed[0]); m++)
                known |= json_is_string(c) && strcmp(json_string_value(c), changed[m]) == 0;
            FUZZ_CHECK(known);
        }
    }
    free(prev);
    *listed += json_array_size(l);
}

static void
fuzz_diff_check(const json_t *c, const struct diff_options *o)
{
    static const char *const members[] = {
        "status",      "method",    "mode",      "root_device", "error",
        "max_entries", "added",     "deleted",   "modified",    "metadata",
        "counts",      "total",     "truncated", "violations",  "violations_total",
        "extract",     "elapsed_ms"};
    static const char *const lists[] = {"added", "deleted", "modified", "metadata"};
    const char *status = json_string_value(json_object_get(c, "status"));
    const json_t *counts = json_object_get(c, "counts");
    const json_t *viol = json_object_get(c, "violations");
    const json_t *ex = json_object_get(c, "extract");
    json_int_t sum = 0;
    size_t listed = 0, i;
    char *text;
    json_t *back;

    for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
        FUZZ_CHECK(json_object_get(c, members[i]) != NULL);
    FUZZ_CHECK(status != NULL);
    FUZZ_CHECK(strcmp(status, "compared") == 0 || strcmp(status, "unchanged") == 0 ||
               strcmp(status, "skipped") == 0 || strcmp(status, "unreadable") == 0);
    FUZZ_CHECK(strcmp(json_string_value(json_object_get(c, "mode")), diff_mode_name(o->mode)) == 0);
    FUZZ_CHECK(json_integer_value(json_object_get(c, "max_entries")) == (json_int_t)o->max_entries);
    /* "error": why, with unreadable; null otherwise */
    if (strcmp(status, "unreadable") == 0)
        FUZZ_CHECK(json_is_string(json_object_get(c, "error")));
    else
        FUZZ_CHECK(json_is_null(json_object_get(c, "error")));
    for (i = 0; i < 4; i++) {
        const json_t *n = json_object_get(counts, lists[i]);
        FUZZ_CHECK(json_is_integer(n) && json_integer_value(n) >= 0);
        sum += json_integer_value(n);
        fuzz_diff_check_list(json_object_get(c, lists[i]), &listed);
        FUZZ_CHECK((json_int_t)json_array_size(json_object_get(c, lists[i])) <=
                   json_integer_value(n));
    }
    FUZZ_CHECK(json_integer_value(json_object_get(c, "total")) == sum);
    FUZZ_CHECK(listed <= o->max_entries);
    FUZZ_CHECK(json_is_boolean(json_object_get(c, "truncated")));
    FUZZ_CHECK(json_is_true(json_object_get(c, "truncated")) == ((json_int_t)listed < sum));
    if (!o->n_allow) {
        FUZZ_CHECK(json_is_null(viol) && json_is_null(json_object_get(c, "violations_total")));
    } else {
        const json_t *v;
        json_int_t total = json_integer_value(json_object_get(c, "violations_total"));

        FUZZ_CHECK(json_is_array(viol) && json_is_integer(json_object_get(c, "violations_total")));
        FUZZ_CHECK((json_int_t)json_array_size(viol) <= total);
        FUZZ_CHECK(json_array_size(viol) <= o->max_entries);
        json_array_foreach(viol, i, v)
        {
            size_t len = 0;
            char *path = diffpath_json_get(v, "path", &len);
            FUZZ_CHECK(path != NULL);
            if (strlen(path) == len)
                FUZZ_CHECK(!diffpath_allowed(o->allow, o->n_allow, path));
            FUZZ_CHECK(json_is_string(json_object_get(v, "change")));
            free(path);
        }
    }
    if (json_is_object(ex)) {
        FUZZ_CHECK(o->extract_dir && strcmp(status, "compared") == 0);
        FUZZ_CHECK(json_integer_value(json_object_get(ex, "bytes")) <=
                   (json_int_t)o->extract_limit);
    } else {
        FUZZ_CHECK(json_is_null(ex));
    }
    text = json_dumps(c, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(back != NULL && json_equal(back, c));
    json_decref(back);
    free(text);
}

/* Remove the extraction directory without long paths or an fd per level:
 * guest paths nest up to 2048 directories deep. */
static void
fuzz_diff_empty_cwd(void)
{
    for (;;) {
        DIR *d = opendir(".");
        struct dirent *e;
        char sub[NAME_MAX + 1] = "";

        FUZZ_CHECK(d != NULL);
        while ((e = readdir(d)) != NULL) {
            struct stat st;

            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            FUZZ_CHECK(fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
            /* extraction makes directories and regular files, nothing else */
            FUZZ_CHECK(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode));
            if (S_ISDIR(st.st_mode)) {
                snprintf(sub, sizeof(sub), "%s", e->d_name);
                break;
            }
            FUZZ_CHECK(unlinkat(dirfd(d), e->d_name, 0) == 0);
        }
        closedir(d);
        if (!sub[0])
            return;
        FUZZ_CHECK(chdir(sub) == 0);
        fuzz_diff_empty_cwd();
        FUZZ_CHECK(chdir("..") == 0);
        FUZZ_CHECK(rmdir(sub) == 0);
    }
}

static void
fuzz_diff_clean(void)
{
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;

    FUZZ_CHECK(here >= 0);
    if (chdir(fz.extract) == 0) {
        fuzz_diff_empty_cwd();
        FUZZ_CHECK(fchdir(here) == 0);
        FUZZ_CHECK(rmdir(fz.extract) == 0);
    }
    close(here);
    /* Nothing was written next to the extraction directory. */
    d = opendir(fz.root);
    FUZZ_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL)
        FUZZ_CHECK(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                   strcmp(e->d_name, "base") == 0 || strcmp(e->d_name, "overlay") == 0);
    closedir(d);
}

/* At exit (libFuzzer's and the replay's): the scratch directory goes. */
static void
fuzz_diff_teardown(void)
{
    unlink(fz.base);
    unlink(fz.overlay);
    rmdir(fz.root);
}

static void
fuzz_diff_setup(void)
{
    int fd;

    snprintf(fz.root, sizeof(fz.root), "/tmp/vmrun-fuzz-diff.XXXXXX");
    FUZZ_CHECK(mkdtemp(fz.root) != NULL);
    snprintf(fz.base, sizeof(fz.base), "%s/base", fz.root);
    snprintf(fz.overlay, sizeof(fz.overlay), "%s/overlay", fz.root);
    snprintf(fz.extract, sizeof(fz.extract), "%s/x", fz.root);
    fd = open(fz.base, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    close(fd);
    fd = open(fz.overlay, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    close(fd);
    atexit(fuzz_diff_teardown);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum diff_mode modes[] = {DIFF_FULL, DIFF_META, DIFF_FULL, DIFF_NONE};
    const char *allow[FUZZ_DIFF_ALLOW_MAX];
    struct diff_options o;
    struct vr_error *err = NULL;
    json_t *changes = NULL;
    char *root_dev = NULL, *patterns = NULL;
    uint8_t f0, f1, f2;
    int r;

    if (!fz.root[0])
        fuzz_diff_setup();
    fuzz_split(data, size, fz.p, P_N);
    memset(fz.ctl_off, 0, sizeof(fz.ctl_off));
    fz.text_off = 0;
    f0 = fz.p[P_OPTS].len > 0 ? fz.p[P_OPTS].data[0] : 0;
    f1 = fz.p[P_OPTS].len > 1 ? fz.p[P_OPTS].data[1] : 255;
    f2 = fz.p[P_OPTS].len > 2 ? fz.p[P_OPTS].data[2] : 255;

    memset(&o, 0, sizeof(o));
    o.mode = modes[f0 & 3];
    o.times = !!(f0 & 4);
    o.extract_dir = (f0 & 8) ? fz.extract : NULL;
    o.extract_limit = (uint64_t)f2 * 64;
    o.kvm = !!(f0 & 16);
    o.max_entries = f1 == 255 ? DIFF_DEFAULT_MAX_ENTRIES : f1;
    if (f0 & 32) {
        root_dev = fuzz_part_str(&fz.p[P_ROOT]);
        o.root_dev = root_dev;
    }
    if (f0 & 64) {
        /* patterns start with '/' (cmd_diff refuses others) */
        const struct fuzz_part *a = &fz.p[P_ALLOW];
        size_t off = 0;

        patterns = malloc(a->len + 1);
        FUZZ_CHECK(patterns != NULL);
        if (a->len)
            memcpy(patterns, a->data, a->len);
        patterns[a->len] = '\0';
        while (off < a->len && o.n_allow < FUZZ_DIFF_ALLOW_MAX) {
            size_t len = strlen(patterns + off);
            if (patterns[off] == '/')
                allow[o.n_allow++] = patterns + off;
            off += len + 1;
        }
        o.allow = allow;
    }

    fz.raw = !!(f0 & 128);
    r = diff_images(fz.base, fz.raw ? "raw" : "qcow2", fz.overlay, &o, &changes, &err);
    if (r < 0) {
        FUZZ_CHECK(r == -1 && err != NULL && err->message != NULL && changes == NULL);
        vr_error_free(err);
    } else {
        FUZZ_CHECK(r == 0 && err == NULL && json_is_object(changes));
        fuzz_diff_check(changes, &o);
        json_decref(changes);
    }
    fuzz_diff_clean();
    free(fz.last_error);
    fz.last_error = NULL;
    free(root_dev);
    free(patterns);
    return 0;
}
