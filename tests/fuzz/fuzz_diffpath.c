/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_diffpath: guest paths on the host (orchestrator/diffpath.c). The bytes
 * are a guest file name as the appliance listed it, or what vmrun reads back
 * from the changes JSON of the vmrun-diff helper.
 *
 * The input is used three ways:
 *  - as a path: diffpath_json_set must give JSON that serialises, parses back
 *    and yields exactly the same bytes through diffpath_json_get; a plain path
 *    is one member, anything else a display form that is itself plain plus an
 *    exact "_base64" member; diffpath_print must give one line of printable
 *    text that unescapes to the same bytes; diffpath_safe is checked against
 *    an independent reading of its rule;
 *  - split at its first NUL into an --allow-write pattern and a path for
 *    diffpath_allowed, which must allow a path that the pattern names
 *    literally, and everything below what it allows;
 *  - as JSON text (an entry of a changes object): diffpath_json_get must
 *    either refuse or return bytes whose canonical encoding is what was read.
 */
#include <string.h>

#include "diffpath.h"
#include "fuzz.h"
#include "report.h"

static int
fuzz_diffpath_plain(const uint8_t *s, size_t len)
{
    size_t i = 0;

    /* report_utf8_seq is checked on its own by fuzz_report. */
    while (i < len) {
        size_t n = report_utf8_seq(s + i, len - i);
        if (n == 0 || (n == 1 && (s[i] < 0x20 || s[i] == 0x7f)))
            return 0;
        i += n;
    }
    return 1;
}

static void
fuzz_diffpath_json(const uint8_t *data, size_t size)
{
    json_t *obj = json_object(), *parsed, *disp;
    size_t len = 0;
    char *text, *back;
    int plain = diffpath_is_plain((const char *)data, size);

    FUZZ_CHECK(obj != NULL);
    FUZZ_CHECK(plain == fuzz_diffpath_plain(data, size));
    FUZZ_CHECK(diffpath_json_set(obj, "path", (const char *)data, size) == 0);
    text = json_dumps(obj, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    parsed = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(parsed != NULL && json_equal(parsed, obj));
    disp = json_object_get(parsed, "path");
    FUZZ_CHECK(json_is_string(disp));
    if (plain) {
        FUZZ_CHECK(json_object_size(parsed) == 1);
    } else {
        FUZZ_CHECK(json_object_size(parsed) == 2);
        FUZZ_CHECK(json_is_string(json_object_get(parsed, "path_base64")));
        FUZZ_CHECK(diffpath_is_plain(json_string_value(disp), json_string_length(disp)));
    }
    back = diffpath_json_get(parsed, "path", &len);
    FUZZ_CHECK(back != NULL && len == size && back[len] == '\0');
    FUZZ_CHECK(size == 0 || memcmp(back, data, size) == 0);
    free(back);
    free(text);
    json_decref(parsed);
    json_decref(obj);
}

static int
fuzz_diffpath_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void
fuzz_diffpath_printed(const uint8_t *data, size_t size)
{
    char *out = NULL;
    size_t olen = 0, i, o = 0;
    FILE *f = open_memstream(&out, &olen);
    uint8_t *back;

    FUZZ_CHECK(f != NULL);
    diffpath_print(f, (const char *)data, size);
    FUZZ_CHECK(fclose(f) == 0);
    /* One path, one line of printable, valid UTF-8 text. */
    FUZZ_CHECK(fuzz_diffpath_plain((const uint8_t *)out, olen));
    back = malloc(olen + 1);
    FUZZ_CHECK(back != NULL);
    for (i = 0; i < olen; i++) {
        if (out[i] == '\\') {
            FUZZ_CHECK(i + 3 < olen && out[i + 1] == 'x');
            FUZZ_CHECK(fuzz_diffpath_hex(out[i + 2]) >= 0 && fuzz_diffpath_hex(out[i + 3]) >= 0);
            back[o++] =
                (uint8_t)(fuzz_diffpath_hex(out[i + 2]) << 4 | fuzz_diffpath_hex(out[i + 3]));
            i += 3;
        } else {
            back[o++] = (uint8_t)out[i];
        }
    }
    FUZZ_CHECK(o == size && (size == 0 || memcmp(back, data, size) == 0));
    free(back);
    free(out);
}

/* The rule of diffpath_safe, read independently: "/" then components
 * separated by single slashes, none of them "" "." or "..", at most 4096
 * bytes in all. */
static int
fuzz_diffpath_safe_model(const char *p)
{
    size_t len = strlen(p), i, start;

    if (len == 0 || len > 4096 || p[0] != '/')
        return 0;
    for (i = start = 1; i <= len; i++) {
        if (i < len && p[i] != '/')
            continue;
        if (i == start || (i - start == 1 && p[start] == '.') ||
            (i - start == 2 && p[start] == '.' && p[start + 1] == '.'))
            return 0;
        start = i + 1;
    }
    return 1;
}

static void
fuzz_diffpath_allowed(const char *pattern, const char *path)
{
    const char *const pats[] = {pattern};
    char *quoted = malloc(strlen(path) * 2 + 1), *q = quoted, *below = NULL;
    const char *const qp[] = {quoted};
    int allowed = diffpath_allowed(pats, 1, path);

    FUZZ_CHECK(allowed == 0 || allowed == 1);
    FUZZ_CHECK(diffpath_allowed(pats, 0, path) == 0);
    /* A path is allowed by itself, its specials quoted. */
    FUZZ_CHECK(quoted != NULL);
    for (const char *s = path; *s; s++) {
        if (strchr("*?[]\\", *s))
            *q++ = '\\';
        *q++ = *s;
    }
    *q = '\0';
    FUZZ_CHECK(diffpath_allowed(qp, 1, path) == 1);
    /* What a pattern allows, it allows with everything below it. */
    if (allowed && path[0] && asprintf(&below, "%s/x", path) >= 0) {
        FUZZ_CHECK(diffpath_allowed(pats, 1, below) == 1);
        free(below);
    }
    free(quoted);
}

/* Read back what a changes object says, whatever it says. */
static void
fuzz_diffpath_read_json(const uint8_t *data, size_t size)
{
    json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    const json_t *b64;
    size_t len = 0;
    char *back, *enc;

    if (!json_is_object(obj)) {
        json_decref(obj);
        return;
    }
    back = diffpath_json_get(obj, "path", &len);
    b64 = json_object_get(obj, "path_base64");
    if (back) {
        FUZZ_CHECK(back[len] == '\0');
        if (json_is_string(b64)) {
            /* Accepted base64 decodes to bytes that encode back to it. */
            enc = report_base64((const unsigned char *)back, len);
            FUZZ_CHECK(enc != NULL && strcmp(enc, json_string_value(b64)) == 0);
            free(enc);
        } else {
            FUZZ_CHECK(json_is_string(json_object_get(obj, "path")));
            FUZZ_CHECK(len == json_string_length(json_object_get(obj, "path")));
        }
        free(back);
    }
    json_decref(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    const uint8_t *nul;

    FUZZ_CHECK(s != NULL);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    fuzz_diffpath_json(data, size);
    fuzz_diffpath_printed(data, size);
    FUZZ_CHECK(diffpath_safe(s) == fuzz_diffpath_safe_model(s));
    nul = memchr(data, 0, size);
    if (nul)
        fuzz_diffpath_allowed(s, s + (nul - data) + 1);
    if (size && data[0] == '{')
        fuzz_diffpath_read_json(data, size);
    free(s);
    return 0;
}
