/* SPDX-License-Identifier: Apache-2.0 */
#include "diffimg.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "command.h"
#include "diffimg_priv.h"

/* Run argv with stdout captured (at most DIFFIMG_OUTPUT_MAX bytes: the rest
 * is cut and the child killed, as the caller has enough) and stderr kept for
 * the error message. Returns 0 when it exited 0 or was cut, and sets *capped
 * when it was cut. */
static int
diffimg_capture(const char *const argv[], char **out, size_t *out_len, int *capped,
                struct vr_error **errp)
{
    _cleanup_free_ char *buf = NULL, *err = NULL;
    size_t len = 0, n;
    int status = 0;

    if (command_capture(argv, DIFFIMG_OUTPUT_MAX, &buf, &len, &err, &status, capped, errp) < 0)
        return -1;
    if (status != 0 && !*capped) {
        n = err ? strlen(err) : 0;
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
        return vr_usage(errp, "%s failed: %s", argv[0], n ? err : "(no message)");
    }
    *out = steal_ptr(&buf);
    *out_len = len;
    return 0;
}

int
diffimg_parse_info(const char *text, size_t len, const char *overlay, json_t **doc,
                   struct diffimg_info *info, struct vr_error **errp)
{
    _cleanup_json_ json_t *d = NULL;
    json_error_t jerr;

    *doc = NULL;
    d = json_loadb(text, len, 0, &jerr);
    if (!d)
        return vr_fail(errp, 0, "cannot parse qemu-img info for '%s': %s", overlay, jerr.text);
    if (!json_is_object(d))
        return vr_fail(errp, 0, "cannot parse qemu-img info for '%s': not a JSON object", overlay);
    info->format = json_string_value(json_object_get(d, "format"));
    info->backing = json_string_value(json_object_get(d, "full-backing-filename"));
    info->backing_format = json_string_value(json_object_get(d, "backing-filename-format"));
    if (!info->format || strcmp(info->format, "qcow2") != 0)
        return vr_usage(errp, "overlay '%s' is not a qcow2 image", overlay);
    *doc = steal_ptr(&d);
    return 0;
}

int
diffimg_check_pair(const char *base, const char *base_format, const char *overlay,
                   struct vr_error **errp)
{
    const char *argv[] = {"qemu-img", "info", "--output=json", "-f", "qcow2", overlay, NULL};
    _cleanup_free_ char *out = NULL, *base_real = NULL, *back_real = NULL;
    _cleanup_json_ json_t *doc = NULL;
    struct diffimg_info info;
    size_t len = 0;
    int capped = 0; /* a cut info document fails to parse below */

    base_real = realpath(base, NULL);
    if (!base_real)
        return vr_error_set(errp, VR_ERR_USAGE, errno, "cannot open base image '%s'", base);
    if (access(overlay, R_OK) < 0)
        return vr_error_set(errp, VR_ERR_USAGE, errno, "cannot open overlay '%s'", overlay);
    if (diffimg_capture(argv, &out, &len, &capped, errp) < 0)
        return vr_error_prefix(errp, "overlay '%s' is not a readable qcow2 image", overlay);
    if (diffimg_parse_info(out, len, overlay, &doc, &info, errp) < 0)
        return -1;
    if (!info.backing)
        return vr_usage(errp, "overlay '%s' has no backing file; it is not an overlay of '%s'",
                        overlay, base);
    back_real = realpath(info.backing, NULL);
    if (!back_real || strcmp(back_real, base_real) != 0)
        return vr_usage(errp,
                        "overlay '%s' is backed by '%s', not by the base '%s'; refusing to compare",
                        overlay, info.backing, base);
    if (!info.backing_format || strcmp(info.backing_format, base_format) != 0)
        return vr_usage(errp,
                        "overlay '%s' does not pin its backing format to %s (it says '%s'); "
                        "refusing to compare",
                        overlay, base_format,
                        info.backing_format ? info.backing_format : "nothing");
    return 0;
}

int
diffimg_map_has_depth0(const char *json, size_t len)
{
    static const char key[] = "\"depth\":";
    const char *p = json, *end = json + len;

    while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
        p += sizeof(key) - 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '0' && (p + 1 == end || p[1] < '0' || p[1] > '9'))
            return 1;
    }
    return 0;
}

int
diffimg_overlay_written(const char *overlay, int *written, struct vr_error **errp)
{
    const char *argv[] = {"qemu-img", "map", "--output=json", "-f", "qcow2", overlay, NULL};
    _cleanup_free_ char *out = NULL;
    size_t len = 0;
    int capped = 0;

    if (diffimg_capture(argv, &out, &len, &capped, errp) < 0)
        return vr_error_prefix(errp, "cannot read the allocation map of overlay '%s'", overlay);
    /* A map cut at the cap may miss the answer: assume written. */
    *written = capped || diffimg_map_has_depth0(out, len);
    return 0;
}
