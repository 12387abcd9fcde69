/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_diffimg: what vmrun reads of qemu-img's output about the user's
 * overlay before a disk diff (orchestrator/diffimg.c).
 *
 * The input is qemu-img output. As `qemu-img map --output=json` text,
 * diffimg_map_has_depth0 must read only within it, and must never miss an
 * extent at depth 0 (that would call a written overlay "unchanged"): when the
 * input is a JSON array, it is written back the way qemu-img writes it and a
 * depth-0 extent in the document must be found in that text. As `qemu-img
 * info --output=json` text, diffimg_parse_info must either refuse it with an
 * error and no document, or accept a qcow2 description whose strings are
 * those of the document.
 */
#include <string.h>

#include "diffimg.h"
#include "diffimg_priv.h"
#include "fuzz.h"

/* An exact-size copy, so that ASan sees a read past the end. */
static int
fuzz_diffimg_scan(const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    int r;

    FUZZ_CHECK(copy != NULL);
    if (len)
        memcpy(copy, text, len);
    r = diffimg_map_has_depth0(copy, len);
    free(copy);
    FUZZ_CHECK(r == 0 || r == 1);
    return r;
}

/* The document's answer: an extent object with "depth": 0. */
static int
fuzz_diffimg_model(const json_t *map)
{
    const json_t *e, *d;
    size_t i;

    json_array_foreach(map, i, e)
    {
        d = json_object_get(e, "depth");
        if (json_is_integer(d) && json_integer_value(d) == 0)
            return 1;
    }
    return 0;
}

static void
fuzz_diffimg_map(const uint8_t *data, size_t size)
{
    json_t *map = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    char *text;

    fuzz_diffimg_scan((const char *)data, size);
    if (!json_is_array(map)) {
        json_decref(map);
        return;
    }
    if (fuzz_diffimg_model(map)) {
        /* qemu-img writes ": " after a key; compact JSON nothing. */
        text = json_dumps(map, JSON_INDENT(4));
        FUZZ_CHECK(text != NULL);
        FUZZ_CHECK(fuzz_diffimg_scan(text, strlen(text)) == 1);
        free(text);
        text = json_dumps(map, JSON_COMPACT);
        FUZZ_CHECK(text != NULL);
        FUZZ_CHECK(fuzz_diffimg_scan(text, strlen(text)) == 1);
        free(text);
    }
    json_decref(map);
}

static void
fuzz_diffimg_info(const uint8_t *data, size_t size)
{
    struct vr_error *err = NULL;
    struct diffimg_info info;
    json_t *doc = (json_t *)&info; /* must be reset */
    int r;

    memset(&info, 0xa5, sizeof(info));
    r = diffimg_parse_info((const char *)data, size, "overlay.qcow2", &doc, &info, &err);
    if (r < 0) {
        FUZZ_CHECK(r == -1 && doc == NULL);
        FUZZ_CHECK(err != NULL && err->message != NULL && err->message[0] != '\0');
        vr_error_free(err);
        return;
    }
    FUZZ_CHECK(r == 0 && err == NULL && json_is_object(doc));
    FUZZ_CHECK(info.format != NULL && strcmp(info.format, "qcow2") == 0);
    FUZZ_CHECK(info.format == json_string_value(json_object_get(doc, "format")));
    FUZZ_CHECK(info.backing == json_string_value(json_object_get(doc, "full-backing-filename")));
    FUZZ_CHECK(info.backing_format ==
               json_string_value(json_object_get(doc, "backing-filename-format")));
    json_decref(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_diffimg_map(data, size);
    fuzz_diffimg_info(data, size);
    return 0;
}
