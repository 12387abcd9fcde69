/* SPDX-License-Identifier: Apache-2.0 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

ssize_t
fileio_pread_full(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

ssize_t
fileio_read_small(const char *path, char *buf, size_t max)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    ssize_t n;

    if (fd < 0)
        return -1;
    n = fileio_pread_full(fd, buf, max, 0);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

int
fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    _cleanup_free_ char *tmp = NULL;
    const char *p = data;
    int fd, saved;

    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto cleanup;
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) < 0) {
        fd = -1;
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto cleanup;
    return 0;
cleanup:
    saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
    return -1;
}

int
fileio_read_all(const char *path, size_t max, char **out, size_t *out_len)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    _cleanup_free_ char *buf = NULL;
    struct stat st;
    ssize_t n;

    if (fd < 0 || fstat(fd, &st) < 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        errno = EFBIG;
        return -1;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return -1;
    n = fileio_pread_full(fd, buf, (size_t)st.st_size, 0);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    *out_len = (size_t)n;
    *out = steal_ptr(&buf);
    return 0;
}

static int
fileio_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
fileio_remove_tree(const char *path)
{
    if (nftw(path, fileio_remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
        return errno == ENOENT ? 0 : -1;
    return 0;
}

int
fileio_mkdirs(const char *path, mode_t mode)
{
    _cleanup_free_ char *copy = strdup(path);
    char *p;

    if (!copy)
        return -1;
    for (p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}
