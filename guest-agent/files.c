/* SPDX-License-Identifier: Apache-2.0 */
/*
 * files.c: the working directory and the files the host ships into it.
 *
 * The directory is created on first use: in the VM /tmp/vmrun in the image's
 * root (any stale one left in the image is removed first, without following
 * symlinks), in test mode the --workdir directory. Every path is resolved
 * relative to a directory fd with O_NOFOLLOW, so nothing in the image can
 * redirect a write. A name is one path component (docs/protocol.md), a file
 * is created with O_EXCL (shipping a name twice is an error), chunks are
 * appended until the one with last: true, which applies the mode. The total of
 * all files is capped (256 MiB). Ownership is given to the run user at `run`,
 * the first time that user is known.
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define FILES_NAME_MAX 255
#define FILES_REMOVE_DEPTH_MAX 64

void
files_init(struct files *f, const char *root, const char *dir_path, int fresh)
{
    memset(f, 0, sizeof(*f));
    f->dirfd = -1;
    f->open_fd = -1;
    f->root = root;
    f->fresh = fresh;
    f->dir_path = strdup(dir_path);
    f->cap = AGENT_FILES_CAP;
}

void
files_free(struct files *f)
{
    if (!f)
        return;
    if (f->open_fd >= 0)
        close(f->open_fd);
    if (f->dirfd >= 0)
        close(f->dirfd);
    free(f->open_name);
    free(f->dir_path);
    memset(f, 0, sizeof(*f));
    f->dirfd = f->open_fd = -1;
}

int
files_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > FILES_NAME_MAX || strlen(name) != len)
        return 0;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    return strchr(name, '/') == NULL;
}

/* Removes name under parent, recursively, never following a symlink. */
static int
files_remove_tree(int parent, const char *name, int depth)
{
    struct stat st;
    struct dirent *d;
    DIR *dir;
    int fd, r = 0;

    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(parent, name, 0);
    if (depth > FILES_REMOVE_DEPTH_MAX) {
        errno = ELOOP;
        return -1;
    }
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return -1;
    }
    while (r == 0 && (d = readdir(dir))) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        r = files_remove_tree(fd, d->d_name, depth + 1);
    }
    closedir(dir);
    return r < 0 ? -1 : unlinkat(parent, name, AT_REMOVEDIR);
}

int
files_prepare(struct files *f, struct agent_error **errp)
{
    _cleanup_close_ int rootfd = -1;
    _cleanup_close_ int tmpfd = -1;

    if (f->dirfd >= 0)
        return 0;
    if (!f->root) {
        if (mkdir(f->dir_path, 0700) < 0 && errno != EEXIST)
            return agent_error_set(errp, errno, "cannot create the working directory '%s': %s",
                                   f->dir_path, strerror(errno));
        f->dirfd = open(f->dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (f->dirfd < 0)
            return agent_error_set(errp, errno, "cannot open the working directory '%s': %s",
                                   f->dir_path, strerror(errno));
        return 0;
    }
    rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return agent_error_set(errp, errno, "cannot open the root '%s': %s", f->root,
                               strerror(errno));
    if (mkdirat(rootfd, "tmp", 01777) == 0 && fchmodat(rootfd, "tmp", 01777, 0) < 0)
        agent_log_error("chmod /tmp in the image: %s", strerror(errno));
    tmpfd = openat(rootfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tmpfd < 0)
        return agent_error_set(errp, errno, "cannot open /tmp in the image: %s", strerror(errno));
    if (f->fresh && files_remove_tree(tmpfd, "vmrun", 0) < 0)
        return agent_error_set(errp, errno, "cannot remove a stale '%s': %s", f->dir_path,
                               strerror(errno));
    if (mkdirat(tmpfd, "vmrun", 0700) < 0)
        return agent_error_set(errp, errno, "cannot create '%s': %s", f->dir_path, strerror(errno));
    f->dirfd = openat(tmpfd, "vmrun", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (f->dirfd < 0)
        return agent_error_set(errp, errno, "cannot open '%s': %s", f->dir_path, strerror(errno));
    return 0;
}

/* Forgets the file being received, removing what was written of it. */
static void
files_abandon(struct files *f)
{
    if (f->open_fd >= 0)
        close(f->open_fd);
    f->open_fd = -1;
    if (f->open_name)
        (void)unlinkat(f->dirfd, f->open_name, 0);
    free(f->open_name);
    f->open_name = NULL;
}

int
files_chunk(struct files *f, const json_t *hdr, const void *body, size_t len,
            struct agent_error **errp)
{
    json_t *jname = json_object_get(hdr, "name");
    json_t *jmode = json_object_get(hdr, "mode");
    json_t *jlast = json_object_get(hdr, "last");
    const char *name;
    json_int_t mode;

    if (!json_is_string(jname) ||
        !files_name_ok(json_string_value(jname), json_string_length(jname)))
        return agent_error_set(errp, EINVAL,
                               "invalid file name: one path component of 1 to 255 bytes, "
                               "not '.' or '..', is required");
    name = json_string_value(jname);
    mode = json_is_integer(jmode) ? json_integer_value(jmode) : -1;
    if (mode < 0 || mode > 07777)
        return agent_error_set(errp, EINVAL, "file '%s': \"mode\" must be an integer 0-07777",
                               name);
    if (!json_is_boolean(jlast))
        return agent_error_set(errp, EINVAL, "file '%s': \"last\" must be a boolean", name);
    if (f->open_name && strcmp(f->open_name, name) != 0)
        return agent_error_set(errp, EINVAL, "file '%s' started before '%s' was finished", name,
                               f->open_name);
    if (len > f->cap || f->total > f->cap - len)
        return agent_error_set(errp, EFBIG, "the files exceed the cap of %llu bytes",
                               (unsigned long long)f->cap);
    if (!f->open_name) {
        if (files_prepare(f, errp) < 0)
            return -1;
        f->open_fd =
            openat(f->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f->open_fd < 0)
            return agent_error_set(errp, errno,
                                   errno == EEXIST ? "file '%s' was already shipped"
                                                   : "cannot create file '%s'",
                                   name);
        f->open_name = strdup(name);
        if (!f->open_name) {
            files_abandon(f);
            return agent_error_set(errp, ENOMEM, "out of memory");
        }
    }
    if (len > 0 && wire_write_all(f->open_fd, body, len) < 0) {
        int saved = errno;
        files_abandon(f);
        return agent_error_set(errp, saved, "cannot write file '%s': %s", name, strerror(saved));
    }
    f->total += len;
    if (!json_is_true(jlast))
        return 0;
    /* Only permission bits: set-id and sticky bits have no business here. */
    if (fchmod(f->open_fd, (mode_t)mode & 0777) < 0 || close(f->open_fd) < 0) {
        int saved = errno;
        f->open_fd = -1;
        files_abandon(f);
        return agent_error_set(errp, saved, "cannot finish file '%s': %s", name, strerror(saved));
    }
    f->open_fd = -1;
    free(f->open_name);
    f->open_name = NULL;
    return 0;
}

int
files_check_complete(const struct files *f, struct agent_error **errp)
{
    if (f->open_name)
        return agent_error_set(errp, EINVAL, "file '%s' was not finished (no chunk with last)",
                               f->open_name);
    return 0;
}

int
files_chown_all(struct files *f, uid_t uid, gid_t gid, struct agent_error **errp)
{
    struct dirent *d;
    DIR *dir;
    int fd, r = 0;

    if (files_prepare(f, errp) < 0)
        return -1;
    if (fchown(f->dirfd, uid, gid) < 0)
        return agent_error_set(errp, errno, "cannot chown '%s': %s", f->dir_path, strerror(errno));
    fd = openat(f->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return agent_error_set(errp, errno, "cannot list '%s': %s", f->dir_path, strerror(errno));
    }
    while ((d = readdir(dir))) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        if (fchownat(f->dirfd, d->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
            r = agent_error_set(errp, errno, "cannot chown '%s': %s", d->d_name, strerror(errno));
            break;
        }
    }
    closedir(dir);
    return r;
}
