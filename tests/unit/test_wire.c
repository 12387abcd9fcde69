/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the frame codec shared by host and agent. */
#include <string.h>

#include "../tap.h"
#include "wire.h"

static size_t
encode(const char *json, const void *body, size_t blen, unsigned char **out)
{
    json_t *h = json_loads(json, 0, NULL);
    const char *why = NULL;
    size_t len = 0;

    TAP_CHECK(h != NULL);
    TAP_CHECK_MSG(wire_encode(h, body, blen, out, &len, &why) == 0, "encode: %s", why);
    json_decref(h);
    return len;
}

static void
test_roundtrip(void)
{
    struct wire_decoder d;
    struct wire_frame f;
    unsigned char *buf;
    const char *why = NULL;
    size_t len = encode("{\"type\":\"output\",\"id\":7}", "a\0b", 3, &buf);

    TAP_CHECK_INT_EQ(len, WIRE_PREFIX_LEN + strlen("{\"type\":\"output\",\"id\":7}") + 3);
    TAP_CHECK(memcmp(buf, "VRMF", 4) == 0);
    TAP_CHECK(wire_decoder_init(&d, WIRE_STRICT) == 0);
    /* byte by byte: every partial frame must say "need more" */
    for (size_t i = 0; i + 1 < len; i++) {
        TAP_CHECK_INT_EQ(wire_decoder_feed(&d, buf + i, 1), 1);
        TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), 0);
    }
    wire_decoder_feed(&d, buf + len - 1, 1);
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), 1);
    TAP_CHECK_STR_EQ(f.type, "output");
    TAP_CHECK_INT_EQ(wire_get_int(f.header, "id", -1), 7);
    TAP_CHECK_INT_EQ(f.body_len, 3);
    TAP_CHECK(memcmp(f.body, "a\0b", 3) == 0);
    TAP_CHECK_INT_EQ(d.len, 0);
    wire_frame_clear(&f);
    free(buf);
    wire_decoder_free(&d);
}

static void
test_strict_rejects_garbage(void)
{
    struct wire_decoder d;
    struct wire_frame f;
    const char *why = NULL;

    wire_decoder_init(&d, WIRE_STRICT);
    wire_decoder_feed(&d, "hello world", 11);
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), -1);
    TAP_CHECK_STR_CONTAINS(why, "magic");
    /* stays failed */
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), -1);
    wire_decoder_free(&d);
}

static void
test_length_caps(void)
{
    static const unsigned char huge[] = {'V',  'R',  'M',  'F',  0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char bigbody[] = {'V', 'R', 'M', 'F', 0, 0, 0, 2, 0, 0x10, 0, 1};
    static const unsigned char nohdr[] = {'V', 'R', 'M', 'F', 0, 0, 0, 0, 0, 0, 0, 0};
    struct wire_decoder d;
    struct wire_frame f;
    const char *why = NULL;

    wire_decoder_init(&d, WIRE_STRICT);
    wire_decoder_feed(&d, huge, sizeof(huge));
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), -1);
    TAP_CHECK_STR_CONTAINS(why, "header length");
    wire_decoder_free(&d);

    wire_decoder_init(&d, WIRE_STRICT);
    wire_decoder_feed(&d, bigbody, sizeof(bigbody));
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), -1);
    TAP_CHECK_STR_CONTAINS(why, "body length");
    wire_decoder_free(&d);

    wire_decoder_init(&d, WIRE_STRICT);
    wire_decoder_feed(&d, nohdr, sizeof(nohdr));
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), -1);
    wire_decoder_free(&d);
}

static void
test_bad_headers(void)
{
    static const char *bad[] = {
        "[1,2]",
        "{\"id\":1}",
        "{\"type\":5}",
        "{\"type\":\"\"}",
        "{\"type\":\"a\",\"type\":\"b\"}",
        "{\"type\":\"a\",\"x\":[[[[[[[[[[1]]]]]]]]]]}",
        "{\"type\":\"a\"",
        "\xff\xfe",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wire_decoder d;
        struct wire_frame f;
        const char *why = NULL;
        unsigned char pre[12] = {'V', 'R', 'M', 'F'};
        uint32_t h = (uint32_t)strlen(bad[i]);

        pre[4] = (unsigned char)(h >> 24);
        pre[5] = (unsigned char)(h >> 16);
        pre[6] = (unsigned char)(h >> 8);
        pre[7] = (unsigned char)h;
        wire_decoder_init(&d, WIRE_STRICT);
        wire_decoder_feed(&d, pre, sizeof(pre));
        wire_decoder_feed(&d, bad[i], h);
        TAP_CHECK_MSG(wire_decoder_next(&d, &f, &why) == -1, "header %zu accepted: %s", i, bad[i]);
        wire_decoder_free(&d);
    }
}

static void
test_resync(void)
{
    static const unsigned char huge[] = {'V',  'R',  'M',  'F',  0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct wire_decoder d;
    struct wire_frame f;
    unsigned char *buf;
    const char *why = NULL;
    size_t len = encode("{\"type\":\"hello\",\"id\":1}", NULL, 0, &buf);

    wire_decoder_init(&d, WIRE_RESYNC);
    wire_decoder_feed(&d, "junkVRM", 7);
    wire_decoder_feed(&d, huge, sizeof(huge));
    wire_decoder_feed(&d, buf, len / 2); /* a half-written frame */
    wire_decoder_feed(&d, buf, len);
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), 1);
    TAP_CHECK_STR_EQ(f.type, "hello");
    TAP_CHECK(d.skipped >= 7 + sizeof(huge));
    TAP_CHECK_INT_EQ(d.len, 0);
    wire_frame_clear(&f);
    free(buf);
    wire_decoder_free(&d);
}

static void
test_encode_limits(void)
{
    json_t *h = json_pack("{s:s}", "type", "file");
    json_t *notype = json_pack("{s:i}", "id", 1);
    unsigned char *out = NULL;
    size_t len = 0;
    const char *why = NULL;

    TAP_CHECK_INT_EQ(wire_encode(h, "", (size_t)WIRE_BODY_MAX + 1, &out, &len, &why), -1);
    TAP_CHECK_INT_EQ(wire_encode(notype, NULL, 0, &out, &len, &why), -1);
    json_decref(h);
    json_decref(notype);
}

static void
test_full_buffer_is_drainable(void)
{
    /* A maximal frame fills the buffer exactly and must still decode. */
    struct wire_decoder d;
    struct wire_frame f;
    const char *why = NULL;
    unsigned char *body = calloc(1, WIRE_BODY_MAX), *buf;
    size_t len = encode("{\"type\":\"output\"}", body, WIRE_BODY_MAX, &buf);

    wire_decoder_init(&d, WIRE_STRICT);
    TAP_CHECK_INT_EQ(wire_decoder_feed(&d, buf, len), len);
    TAP_CHECK_INT_EQ(wire_decoder_next(&d, &f, &why), 1);
    TAP_CHECK_INT_EQ(f.body_len, WIRE_BODY_MAX);
    wire_frame_clear(&f);
    free(buf);
    free(body);
    wire_decoder_free(&d);
}

static const struct tap_test tests[] = {
    TAP_TEST(test_roundtrip),
    TAP_TEST(test_strict_rejects_garbage),
    TAP_TEST(test_length_caps),
    TAP_TEST(test_bad_headers),
    TAP_TEST(test_resync),
    TAP_TEST(test_encode_limits),
    TAP_TEST(test_full_buffer_is_drainable),
};

int
main(int argc, char **argv)
{
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
