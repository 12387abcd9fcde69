/* SPDX-License-Identifier: Apache-2.0 */
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"

static uint64_t
image_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int
image_parse_qcow2(const unsigned char *buf, size_t len, struct image_info *info, const char **why)
{
    uint64_t incompatible = 0;
    uint32_t version, cluster_bits, crypt;

    if (len < 72 || memcmp(buf, "QFI\xfb", 4) != 0) {
        *why = "not a qcow2 image (no QFI\\xfb magic)";
        return -1;
    }
    version = (uint32_t)image_be(buf + 4, 4);
    if (version != 2 && version != 3) {
        *why = "unsupported qcow2 version (only 2 and 3 exist)";
        return -1;
    }
    cluster_bits = (uint32_t)image_be(buf + 20, 4);
    if (cluster_bits < 9 || cluster_bits > 21) {
        *why = "corrupt qcow2 header (cluster size out of range)";
        return -1;
    }
    crypt = (uint32_t)image_be(buf + 32, 4);
    if (crypt != 0) {
        *why = "encrypted qcow2 images are not supported";
        return -1;
    }
    if (version == 3) {
        if (len < 104) {
            *why = "truncated qcow2 version 3 header";
            return -1;
        }
        incompatible = image_be(buf + 72, 8);
        if (incompatible & 2) {
            *why = "the qcow2 image is marked corrupt";
            return -1;
        }
        if (incompatible & ~(uint64_t)0x1f) {
            *why = "the qcow2 image uses incompatible features this vmrun does not know";
            return -1;
        }
    }
    info->format = IMAGE_QCOW2;
    info->qcow2_version = (int)version;
    info->virtual_size = image_be(buf + 24, 8);
    info->has_backing = image_be(buf + 8, 8) != 0;
    info->has_data_file = (incompatible & 4) != 0;
    return 0;
}

int
image_inspect(const char *path, enum vr_image_format format, int allow_backing,
              struct image_info *info, struct vr_error **errp)
{
    _cleanup_close_ int fd = -1;
    unsigned char buf[IMAGE_HEADER_READ];
    const char *why = NULL;
    struct stat st;
    ssize_t n;

    memset(info, 0, sizeof(*info));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return vr_error_set(errp, VR_ERR_USAGE, errno, "cannot open image '%s'", path);
    if (fstat(fd, &st) < 0)
        return vr_fail(errp, errno, "cannot stat image '%s'", path);
    if (S_ISDIR(st.st_mode))
        return vr_usage(errp, "image '%s' is a directory, not a disk image", path);
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return vr_usage(errp, "image '%s' is not a regular file or block device", path);
    info->path = realpath(path, NULL);
    if (!info->path)
        return vr_fail(errp, errno, "cannot resolve the path of image '%s'", path);
    info->file_size = (uint64_t)st.st_size;
    n = fileio_pread_full(fd, buf, sizeof(buf), 0);
    if (n < 0)
        return vr_fail(errp, errno, "cannot read image '%s'", path);
    if (format == IMAGE_RAW) {
        if (st.st_size == 0)
            return vr_usage(errp, "image '%s' is empty", path);
        info->format = IMAGE_RAW;
        info->virtual_size = info->file_size;
        return 0;
    }
    if (n < 4 || memcmp(buf, "QFI\xfb", 4) != 0)
        return vr_usage(
            errp, "image '%s' is not a qcow2 image; if it is a raw disk image, pass --format raw",
            path);
    if (image_parse_qcow2(buf, (size_t)n, info, &why) < 0)
        return vr_usage(errp, "image '%s': %s", path, why);
    if (!allow_backing && info->has_backing)
        return vr_usage(errp,
                        "image '%s' names a backing file in its qcow2 header; vmrun refuses it so "
                        "that an image cannot make it open a host file (flatten it with 'qemu-img "
                        "convert -O qcow2', or pass --allow-backing if you trust it)",
                        path);
    if (!allow_backing && info->has_data_file)
        return vr_usage(
            errp,
            "image '%s' uses an external qcow2 data file; vmrun refuses it so that an image cannot "
            "make it open a host file (pass --allow-backing if you trust it)",
            path);
    return 0;
}

static int
image_hex_sha256(int fd, char out[65], struct vr_error **errp)
{
    _cleanup_free_ unsigned char *buf = malloc(1 << 20);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    EVP_MD_CTX *ctx;
    int ok = 1;

    if (!buf)
        return vr_fail(errp, ENOMEM, "cannot hash the image");
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return vr_fail(errp, 0, "cannot initialise sha256");
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            EVP_MD_CTX_free(ctx);
            return vr_fail(errp, saved, "cannot read the image to hash it");
        }
        if (n == 0)
            break;
        ok &= EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
    }
    ok &= EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok || mdlen != 32)
        return vr_fail(errp, 0, "sha256 of the image failed");
    for (i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int
image_digest(struct image_info *info, const char *cache_dir, struct vr_error **errp)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *key = NULL;
    _cleanup_free_ char *cache_file = NULL;
    char keyhash[65], cached[65];
    struct stat st;
    ssize_t n;

    fd = open(info->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || fstat(fd, &st) < 0)
        return vr_fail(errp, errno, "cannot open image '%s' to hash it", info->path);
    if (asprintf(&key, "%s\n%ju:%ju:%jd:%jd.%09ld:%jd.%09ld", info->path, (uintmax_t)st.st_dev,
                 (uintmax_t)st.st_ino, (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec, (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec) < 0)
        return vr_fail(errp, ENOMEM, "cannot hash the image");
    if (cache_dir) {
        unsigned char md[32];
        unsigned int mdlen = 0, i;
        if (EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32) {
            for (i = 0; i < 32; i++)
                snprintf(keyhash + 2 * i, 3, "%02x", md[i]);
            if (asprintf(&cache_file, "%s/digest-%s", cache_dir, keyhash) < 0)
                cache_file = NULL;
        }
    }
    if (cache_file) {
        n = fileio_read_small(cache_file, cached, sizeof(cached) - 1);
        if (n == 64 && strspn(cached, "0123456789abcdef") == 64) {
            memcpy(info->digest, cached, 65);
            return 0;
        }
    }
    if (image_hex_sha256(fd, info->digest, errp) < 0)
        return -1;
    if (cache_file)
        (void)fileio_write_atomic(cache_file, info->digest, 64, 0600);
    return 0;
}

void
image_info_clear(struct image_info *info)
{
    free(info->path);
    memset(info, 0, sizeof(*info));
}
