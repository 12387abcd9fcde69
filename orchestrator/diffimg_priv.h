/* SPDX-License-Identifier: Apache-2.0 */
/*
 * diffimg_priv: the pure parts of diffimg.c, for tests and the fuzzer
 * (tests/fuzz/fuzz_diffimg.c). qemu-img's output describes the user's overlay
 * file, so it is read as untrusted text.
 */
#ifndef VMRUN_DIFFIMG_PRIV_H
#define VMRUN_DIFFIMG_PRIV_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

/* What diffimg_check_pair needs from `qemu-img info --output=json`. The
 * strings point into the parsed document. */
struct diffimg_info {
    const char *format;         /* "format": always "qcow2" on success */
    const char *backing;        /* "full-backing-filename", or NULL */
    const char *backing_format; /* "backing-filename-format", or NULL */
};

/* Parse the info text of `overlay` (named in messages only): a JSON object
 * whose format is qcow2. On success *doc holds
 * the document (json_decref it) and *info points into it; on failure *doc is
 * NULL and *errp says why (usage for an image that is not an overlay, infra
 * for text that is not qemu-img's JSON). */
int diffimg_parse_info(const char *text, size_t len, const char *overlay, json_t **doc,
                       struct diffimg_info *info, struct vr_error **errp);

#endif
