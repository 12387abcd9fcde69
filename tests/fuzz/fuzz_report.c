/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_report: how the module's output bytes (the guest's, so hostile) get
 * into the JSON report.
 *
 * The input is one output stream. report_set_bytes puts it into a report
 * object; the object must serialise and parse back. Valid UTF-8 must come back
 * byte for byte (NULs included); anything else must come back exactly through
 * the "_base64" member, next to a lossy text that is valid UTF-8. Validity is
 * judged again here by an independent decoder (the Unicode table of
 * well-formed byte sequences) so that a validator that lets a surrogate or an
 * overlong form through is caught.
 */
#include <string.h>

#include "fuzz.h"
#include "report.h"

/* Length of the well-formed sequence at s, or 0 (Unicode 15, table 3-7). */
static size_t
fuzz_report_seq(const uint8_t *s, size_t left)
{
    static const struct {
        uint8_t first_lo, first_hi, second_lo, second_hi, len;
    } forms[] = {
        {0x00, 0x7f, 0, 0, 1},       {0xc2, 0xdf, 0x80, 0xbf, 2}, {0xe0, 0xe0, 0xa0, 0xbf, 3},
        {0xe1, 0xec, 0x80, 0xbf, 3}, {0xed, 0xed, 0x80, 0x9f, 3}, {0xee, 0xef, 0x80, 0xbf, 3},
        {0xf0, 0xf0, 0x90, 0xbf, 4}, {0xf1, 0xf3, 0x80, 0xbf, 4}, {0xf4, 0xf4, 0x80, 0x8f, 4},
    };
    size_t k, i;

    for (k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
        if (s[0] < forms[k].first_lo || s[0] > forms[k].first_hi)
            continue;
        if (forms[k].len == 1)
            return 1;
        if (left < forms[k].len || s[1] < forms[k].second_lo || s[1] > forms[k].second_hi)
            return 0;
        for (i = 2; i < forms[k].len; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
        }
        return forms[k].len;
    }
    return 0;
}

static int
fuzz_report_utf8(const uint8_t *s, size_t len)
{
    size_t i = 0, n;

    while (i < len) {
        n = fuzz_report_seq(s + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

static int
fuzz_report_b64val(char c)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(tbl, c) : NULL;

    return p ? (int)(p - tbl) : -1;
}

/* Strict RFC 4648 decoding: padded, canonical. Returns a malloc'd buffer
 * (at least one byte) and *len, or NULL when the text is not such base64. */
static uint8_t *
fuzz_report_unbase64(const char *text, size_t *len)
{
    size_t tlen = strlen(text), i, o = 0;
    uint8_t *out;

    if (tlen % 4)
        return NULL;
    out = malloc(tlen / 4 * 3 + 1);
    FUZZ_CHECK(out != NULL);
    for (i = 0; i < tlen; i += 4) {
        int v[4], k, pad = 0;
        int last = i + 4 == tlen;
        uint32_t bits = 0;

        for (k = 0; k < 4; k++) {
            v[k] = fuzz_report_b64val(text[i + k]);
            if (text[i + k] == '=' && last && k >= 2)
                pad++;
            else if (v[k] < 0 || pad)
                goto bad;
            bits = bits << 6 | (uint32_t)(v[k] < 0 ? 0 : v[k]);
        }
        /* "x=y=" is not padding; leftover bits must be zero. */
        if ((pad == 1 && (bits & 0xff)) || (pad == 2 && (bits & 0xffff)) ||
            (pad && text[i + 3] != '='))
            goto bad;
        out[o++] = (uint8_t)(bits >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(bits >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)bits;
    }
    *len = o;
    return out;
bad:
    free(out);
    return NULL;
}

static void
fuzz_report_check_base64(const char *text, const uint8_t *data, size_t size)
{
    size_t len = 0;
    uint8_t *back = fuzz_report_unbase64(text, &len);

    FUZZ_CHECK(back != NULL);
    FUZZ_CHECK(len == size && (size == 0 || memcmp(back, data, size) == 0));
    free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *obj = json_object();
    json_t *parsed, *text, *b64;
    char *dumped, *enc;
    int valid = report_utf8_valid(data, size);

    FUZZ_CHECK(obj != NULL);
    FUZZ_CHECK(valid == fuzz_report_utf8(data, size));
    enc = report_base64(data, size);
    FUZZ_CHECK(enc != NULL && strlen(enc) == (size + 2) / 3 * 4);
    fuzz_report_check_base64(enc, data, size);
    free(enc);

    FUZZ_CHECK(report_set_bytes(obj, "stdout", data, size) == 0);
    dumped = json_dumps(obj, JSON_COMPACT);
    FUZZ_CHECK(dumped != NULL);
    /* JSON_ALLOW_NUL: the module's NULs are written as \u0000, as they must be. */
    parsed = json_loads(dumped, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(parsed != NULL && json_equal(parsed, obj));
    text = json_object_get(parsed, "stdout");
    b64 = json_object_get(parsed, "stdout_base64");
    FUZZ_CHECK(json_is_string(text));
    if (valid) {
        FUZZ_CHECK(b64 == NULL && json_object_size(parsed) == 1);
        FUZZ_CHECK(json_string_length(text) == size);
        FUZZ_CHECK(size == 0 || memcmp(json_string_value(text), data, size) == 0);
    } else {
        const char *lossy = json_string_value(text);
        size_t llen = json_string_length(text);

        FUZZ_CHECK(json_is_string(b64) && json_object_size(parsed) == 2);
        fuzz_report_check_base64(json_string_value(b64), data, size);
        /* The lossy text is valid, marks the damage, and loses nothing else:
         * each bad byte becomes one 3-byte U+FFFD. */
        FUZZ_CHECK(fuzz_report_utf8((const uint8_t *)lossy, llen));
        FUZZ_CHECK(memmem(lossy, llen, "\xef\xbf\xbd", 3) != NULL);
        FUZZ_CHECK(llen > size && llen <= size * 3);
    }
    json_decref(parsed);
    free(dumped);
    json_decref(obj);
    return 0;
}
