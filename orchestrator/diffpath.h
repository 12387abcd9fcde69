/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diffpath: guest paths on the host. Guest paths are arbitrary bytes (no NUL);
 * this module puts them in JSON losslessly, matches them against
 * --allow-write patterns, and opens extraction targets under a host directory
 * so that no guest path can ever name a file outside it.
 */
#ifndef VMRUN_DIFFPATH_H
#define VMRUN_DIFFPATH_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

/* 1 when s[0..len) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF)
 * without C0 control characters or DEL. */
int diffpath_is_plain(const char *s, size_t len);

/* Set obj[key] to the path as a JSON string. When it is not plain (above),
 * obj[key] is a display form (each offending byte replaced by U+FFFD) and
 * obj[key "_base64"] holds the exact bytes: that member, when present, is the
 * path. Returns 0 or -1 (out of memory). */
int diffpath_json_set(json_t *obj, const char *key, const char *s, size_t len);

/* The exact bytes of obj[key], honouring key_base64. Returns a fresh string,
 * or NULL when there is none or key_base64 is not base64 as
 * diffpath_json_set writes it (padded, nothing else, unused bits zero). */
char *diffpath_json_get(const json_t *obj, const char *key, size_t *len);

/* Print a path with control characters, backslash and invalid UTF-8 escaped
 * as \xNN, so that one path is one line. */
void diffpath_print(FILE *out, const char *s, size_t len);

/* 1 when a guest path (absolute, "/..." ) is allowed by one of the patterns:
 * fnmatch(pattern, path, FNM_LEADING_DIR), so '*' also matches '/', a leading
 * '.' needs no explicit match, and a pattern that matches a directory allows
 * everything below it. */
int diffpath_allowed(const char *const *patterns, size_t n, const char *path);

/* 1 when a guest path is safe to recreate under a host directory: absolute,
 * components neither empty, "." nor "..", at most 4096 bytes. */
int diffpath_safe(const char *path);

/* Create the regular file `path` (a guest path, checked with diffpath_safe)
 * under the directory dirfd, creating missing parents with mode 0755. Every
 * component is opened with O_NOFOLLOW relative to its parent, so a symlink
 * anywhere (placed by anyone) is refused rather than followed; the file is
 * created with O_EXCL. Returns the fd, or -1 with *errp. */
int diffpath_create_under(int dirfd, const char *path, struct vr_error **errp);

#endif
