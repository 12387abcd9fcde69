/* SPDX-License-Identifier: Apache-2.0 */
/* fileio: small EINTR- and short-read-safe file helpers. */
#ifndef VMRUN_FILEIO_H
#define VMRUN_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* pread until len bytes or end of file; returns bytes read or -1. */
ssize_t fileio_pread_full(int fd, void *buf, size_t len, off_t off);
/* Read at most max bytes of a small file into buf, NUL-terminated (buf has
 * max+1 bytes); returns bytes read or -1. */
ssize_t fileio_read_small(const char *path, char *buf, size_t max);
/* Write a file via a temporary and rename(2). Returns 0 or -1 with errno. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Read a whole file of at most max bytes into a fresh buffer. Returns 0, or
 * -1 with errno (EFBIG when larger than max). */
int fileio_read_all(const char *path, size_t max, char **out, size_t *out_len);
/* rm -rf of a directory tree we created (does not follow symlinks). */
int fileio_remove_tree(const char *path);
/* mkdir -p with mode for the created components. */
int fileio_mkdirs(const char *path, mode_t mode);

#endif
