/* SPDX-License-Identifier: Apache-2.0 */
/*
 * image: what vmrun checks about a base image before QEMU ever sees it.
 * The qcow2 header is parsed here, bounded to its fixed 104 bytes, so that an
 * image naming a backing or external data file (which would make QEMU open a
 * host file of the image author's choosing) is refused up front.
 */
#ifndef VMRUN_IMAGE_H
#define VMRUN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "error.h"

#define IMAGE_HEADER_READ 104

struct image_info {
    char *path; /* absolute, symlinks resolved */
    enum vr_image_format format;
    uint64_t virtual_size; /* qcow2: from the header; raw: the file size */
    uint64_t file_size;
    int qcow2_version;
    int has_backing;   /* backing file named in the header */
    int has_data_file; /* external data file (incompatible feature bit 2) */
    char digest[65];   /* sha256 of the file, hex; filled by image_digest() */
};

/* Parse a qcow2 header from the first bytes of a file. Returns 0 and fills
 * the qcow2 fields of *info, or -1 with *why (static text). Pure: no I/O. */
int image_parse_qcow2(const unsigned char *buf, size_t len, struct image_info *info,
                      const char **why);

/* Open, check and describe IMAGE. Errors: usage for a bad image, infra for I/O. */
int image_inspect(const char *path, enum vr_image_format format, int allow_backing,
                  struct image_info *info, struct vr_error **errp);

/* sha256 of the image file, cached under cache_dir keyed by path, device,
 * inode, size, mtime and ctime so an unchanged image is hashed once. */
int image_digest(struct image_info *info, const char *cache_dir, struct vr_error **errp);

void image_info_clear(struct image_info *info);

#endif
