/* SPDX-License-Identifier: Apache-2.0 */
#include "diffpath.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "report.h"

#define DIFFPATH_MAX 4096

static int
diffpath_is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

int
diffpath_is_plain(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t l = report_utf8_seq(u + i, len - i);
        if (l == 0 || (l == 1 && diffpath_is_control(u[i])))
            return 0;
        i += l;
    }
    return 1;
}

int
diffpath_json_set(json_t *obj, const char *key, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    _cleanup_free_ char *disp = NULL, *b64 = NULL, *k64 = NULL;
    size_t i = 0, o = 0;

    if (diffpath_is_plain(s, len))
        return json_object_set_new(obj, key, json_stringn(s, len));
    disp = malloc(len * 3 + 1);
    b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (!disp || !b64 || asprintf(&k64, "%s_base64", key) < 0)
        return -1;
    while (i < len) {
        size_t l = report_utf8_seq(u + i, len - i);
        if (l == 0 || (l == 1 && diffpath_is_control(u[i]))) {
            memcpy(disp + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        memcpy(disp + o, s + i, l);
        o += l;
        i += l;
    }
    EVP_EncodeBlock((unsigned char *)b64, u, (int)len);
    if (json_object_set_new(obj, key, json_stringn(disp, o)) < 0)
        return -1;
    return json_object_set_new(obj, k64, json_string(b64));
}

/* Value of a base64 digit, or -1. */
static int
diffpath_b64_value(char c)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(tbl, c) : NULL;

    return p ? (int)(p - tbl) : -1;
}

/* 1 when s[0..n) is base64 as diffpath_json_set writes it: padded, no
 * whitespace or other bytes, unused bits zero. EVP_DecodeBlock alone skips
 * leading and trailing whitespace and counts padding as zero bytes, so a
 * lenient text would decode to other bytes than it seems to name. */
static int
diffpath_b64_canonical(const char *s, size_t n)
{
    size_t pad = 0, i;

    if (n % 4 != 0)
        return 0;
    if (n >= 1 && s[n - 1] == '=')
        pad++;
    if (n >= 2 && s[n - 2] == '=')
        pad++;
    for (i = 0; i < n - pad; i++) {
        if (diffpath_b64_value(s[i]) < 0)
            return 0;
    }
    if (pad == 1 && (diffpath_b64_value(s[n - 2]) & 3) != 0)
        return 0;
    if (pad == 2 && (diffpath_b64_value(s[n - 3]) & 15) != 0)
        return 0;
    return 1;
}

char *
diffpath_json_get(const json_t *obj, const char *key, size_t *len)
{
    _cleanup_free_ char *k64 = NULL;
    const json_t *v;
    char *out;

    if (asprintf(&k64, "%s_base64", key) < 0)
        return NULL;
    v = json_object_get(obj, k64);
    if (json_is_string(v)) {
        size_t in = json_string_length(v);
        int n;
        if (!diffpath_b64_canonical(json_string_value(v), in) || in > INT_MAX)
            return NULL;
        out = malloc(in / 4 * 3 + 4);
        if (!out)
            return NULL;
        n = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)json_string_value(v),
                            (int)in);
        if (n < 0) {
            free(out);
            return NULL;
        }
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        if (in >= 1 && json_string_value(v)[in - 1] == '=')
            n--;
        if (in >= 2 && json_string_value(v)[in - 2] == '=')
            n--;
        out[n] = '\0';
        *len = (size_t)n;
        return out;
    }
    v = json_object_get(obj, key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    out = malloc(*len + 1);
    if (out) {
        memcpy(out, json_string_value(v), *len);
        out[*len] = '\0';
    }
    return out;
}

void
diffpath_print(FILE *out, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t l = report_utf8_seq(u + i, len - i);
        if (l == 0 || (l == 1 && (diffpath_is_control(u[i]) || u[i] == '\\'))) {
            fprintf(out, "\\x%02x", u[i]);
            i++;
            continue;
        }
        fwrite(s + i, 1, l, out);
        i += l;
    }
}

int
diffpath_allowed(const char *const *patterns, size_t n, const char *path)
{
    for (size_t i = 0; i < n; i++) {
        if (fnmatch(patterns[i], path, FNM_LEADING_DIR) == 0)
            return 1;
    }
    return 0;
}

int
diffpath_safe(const char *path)
{
    const char *p = path, *slash;
    size_t len = strlen(path);

    if (len == 0 || len > DIFFPATH_MAX || path[0] != '/')
        return 0;
    while (*p == '/') {
        size_t clen;
        p++;
        slash = strchr(p, '/');
        clen = slash ? (size_t)(slash - p) : strlen(p);
        if (clen == 0 || (clen == 1 && p[0] == '.') || (clen == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        p += clen;
    }
    return *p == '\0';
}

int
diffpath_create_under(int dirfd, const char *path, struct vr_error **errp)
{
    _cleanup_free_ char *copy = NULL;
    _cleanup_close_ int cur = -1;
    char *comp, *next;
    int fd;

    if (!diffpath_safe(path))
        return vr_usage(errp, "guest path is not safe to extract");
    copy = strdup(path + 1);
    if (!copy)
        return vr_fail(errp, ENOMEM, "cannot extract a file");
    cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return vr_fail(errp, errno, "cannot extract a file");
    comp = copy;
    while ((next = strchr(comp, '/')) != NULL) {
        int sub;
        *next = '\0';
        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
            return vr_fail(errp, errno, "cannot create a directory to extract into");
        /* O_NOFOLLOW|O_DIRECTORY: a symlink or non-directory here is refused. */
        sub = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return vr_fail(errp, errno, "cannot open a directory to extract into");
        close(cur);
        cur = sub;
        comp = next + 1;
    }
    fd = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return vr_fail(errp, errno, "cannot create an extracted file");
    return fd;
}
