/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_wire: the frame decoder on hostile byte streams (everything the guest
 * sends goes through it).
 *
 * The input is one byte stream. It is decoded four times: strict and resync
 * mode, each fed at once and in chunks whose sizes come from the input. Every
 * frame is re-encoded with wire_encode and decoded again strictly, and must
 * come back equal. Decoding is a function of the stream alone, so the four
 * runs must agree: chunking changes nothing, and the frames strict mode takes
 * before it fails are the first frames resync mode takes.
 *
 * The decoders are allocated once and reset between runs: each holds a
 * WIRE_FRAME_MAX buffer, and mapping and unmapping that per input costs more
 * than all the decoding (TLB shootdowns), which starved the fuzzer.
 */
#include <string.h>

#include "fuzz.h"
#include "wire.h"

/* What one decoding run produced: a hash per frame, in order. */
struct fuzz_wire_trace {
    uint64_t *hash;
    size_t n, cap;
    int failed;       /* strict mode rejected the stream */
    uint64_t skipped; /* resync mode: bytes dropped */
};

/* Back to the state wire_decoder_init leaves, keeping the buffer. */
static void
fuzz_wire_reset(struct wire_decoder *d, enum wire_mode mode)
{
    unsigned char *buf = d->buf;

    memset(d, 0, sizeof(*d));
    d->mode = mode;
    d->buf = buf;
}

static uint64_t
fuzz_wire_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    while (n--)
        h = (h ^ *s++) * 0x100000001b3ULL;
    return h;
}

static uint64_t
fuzz_wire_frame_hash(const struct wire_frame *f)
{
    char *text = json_dumps(f->header, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = 0xcbf29ce484222325ULL;
    uint64_t blen = f->body_len;

    FUZZ_CHECK(text != NULL);
    h = fuzz_wire_fnv(h, f->type, strlen(f->type) + 1);
    h = fuzz_wire_fnv(h, &blen, sizeof(blen));
    if (f->body_len)
        h = fuzz_wire_fnv(h, f->body, f->body_len);
    h = fuzz_wire_fnv(h, text, strlen(text));
    free(text);
    return h;
}

/* Re-encode f and decode it strictly on rt (empty before and after). */
static void
fuzz_wire_roundtrip(struct wire_decoder *rt, const struct wire_frame *f)
{
    unsigned char *buf = NULL;
    const char *why = NULL;
    struct wire_frame g;
    size_t len = 0;

    if (wire_encode(f->header, f->body, f->body_len, &buf, &len, &why) < 0) {
        /* Legitimate only when the re-serialised header outgrew the cap
         * (1e9 comes back as 1000000000.0). */
        FUZZ_CHECK(why && strcmp(why, "frame header too large") == 0);
        return;
    }
    FUZZ_CHECK(len >= WIRE_PREFIX_LEN + f->body_len && len <= WIRE_FRAME_MAX);
    FUZZ_CHECK(rt->len == 0);
    FUZZ_CHECK(wire_decoder_feed(rt, buf, len) == len);
    FUZZ_CHECK(wire_decoder_next(rt, &g, &why) == 1);
    FUZZ_CHECK(rt->len == 0);
    FUZZ_CHECK(strcmp(g.type, f->type) == 0);
    FUZZ_CHECK(g.body_len == f->body_len);
    FUZZ_CHECK(f->body_len == 0 || memcmp(g.body, f->body, f->body_len) == 0);
    FUZZ_CHECK(json_equal(g.header, f->header));
    wire_frame_clear(&g);
    free(buf);
}

/* Take every complete frame. Returns how many frames or rejections. */
static size_t
fuzz_wire_drain(struct wire_decoder *d, struct fuzz_wire_trace *t, struct wire_decoder *rt)
{
    struct wire_frame f;
    const char *why = NULL;
    size_t n = 0;

    for (;;) {
        uint64_t skipped = d->skipped;
        int r = wire_decoder_next(d, &f, &why);

        FUZZ_CHECK(d->len <= WIRE_FRAME_MAX);
        FUZZ_CHECK(d->skipped >= skipped);
        FUZZ_CHECK(d->mode == WIRE_RESYNC || d->skipped == 0);
        if (r == 0) {
            FUZZ_CHECK(f.header == NULL && f.body == NULL);
            return n;
        }
        if (r < 0) {
            FUZZ_CHECK(d->mode == WIRE_STRICT);
            FUZZ_CHECK(why != NULL && d->failed == why);
            FUZZ_CHECK(f.header == NULL && f.body == NULL);
            t->failed = 1;
            return n + 1;
        }
        FUZZ_CHECK(r == 1);
        FUZZ_CHECK(json_is_object(f.header));
        FUZZ_CHECK(f.type && f.type[0] &&
                   f.type == json_string_value(json_object_get(f.header, "type")));
        FUZZ_CHECK(f.body_len <= WIRE_BODY_MAX && (f.body_len == 0) == (f.body == NULL));
        FUZZ_CHECK(t->n < t->cap);
        t->hash[t->n++] = fuzz_wire_frame_hash(&f);
        fuzz_wire_roundtrip(rt, &f);
        wire_frame_clear(&f);
        n++;
    }
}

/* Size of the step-th chunk: mostly tiny, sometimes a few KiB. */
static size_t
fuzz_wire_chunk(const uint8_t *data, size_t size, size_t step)
{
    uint8_t b = data[(step * 131 + size) % size];

    return (b & 0x80) ? 1 + (size_t)(b & 0x7f) * 37 : 1 + (size_t)(b & 0x0f);
}

static void
fuzz_wire_decode(struct wire_decoder *d, enum wire_mode mode, const uint8_t *data, size_t size,
                 int chunked, struct fuzz_wire_trace *t, struct wire_decoder *rt)
{
    struct wire_frame f;
    const char *why = NULL;
    size_t off = 0, step = 0;

    fuzz_wire_reset(d, mode);
    while (off < size && !t->failed) {
        size_t want = chunked ? fuzz_wire_chunk(data, size, step++) : size - off;
        size_t took;

        if (want > size - off)
            want = size - off;
        took = wire_decoder_feed(d, data + off, want);
        FUZZ_CHECK(took <= want && d->len <= WIRE_FRAME_MAX);
        off += took;
        /* A full buffer always holds a complete or a rejected frame. */
        if (fuzz_wire_drain(d, t, rt) == 0)
            FUZZ_CHECK(took > 0);
    }
    if (t->failed) {
        /* Once failed, strict mode stays failed, whatever comes next. */
        const char *first = d->failed;
        static const char good[] = "VRMF\0\0\0\x0c\0\0\0\0{\"type\":\"x\"}";

        FUZZ_CHECK(first != NULL);
        FUZZ_CHECK(wire_decoder_next(d, &f, &why) == -1 && why == first);
        wire_decoder_feed(d, good, sizeof(good) - 1);
        FUZZ_CHECK(wire_decoder_next(d, &f, &why) == -1 && why == first);
        FUZZ_CHECK(f.header == NULL && f.body == NULL);
    }
    t->skipped = d->skipped;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wire_decoder dec, rt;
    struct fuzz_wire_trace tr[4]; /* strict, strict chunked, resync, resync chunked */
    size_t cap = size / 12 + 2, i, k;

    if (size == 0)
        return 0;
    if (!dec.buf) {
        FUZZ_CHECK(wire_decoder_init(&dec, WIRE_STRICT) == 0);
        FUZZ_CHECK(wire_decoder_init(&rt, WIRE_STRICT) == 0);
    }
    fuzz_wire_reset(&rt, WIRE_STRICT);
    for (k = 0; k < 4; k++) {
        memset(&tr[k], 0, sizeof(tr[k]));
        tr[k].cap = cap;
        tr[k].hash = calloc(cap, sizeof(*tr[k].hash));
        FUZZ_CHECK(tr[k].hash != NULL);
        fuzz_wire_decode(&dec, k < 2 ? WIRE_STRICT : WIRE_RESYNC, data, size, k & 1, &tr[k], &rt);
    }
    FUZZ_CHECK(!tr[2].failed && !tr[3].failed);
    for (k = 0; k < 4; k += 2) {
        FUZZ_CHECK(tr[k].n == tr[k + 1].n && tr[k].failed == tr[k + 1].failed);
        FUZZ_CHECK(tr[k].skipped == tr[k + 1].skipped);
        FUZZ_CHECK(memcmp(tr[k].hash, tr[k + 1].hash, tr[k].n * sizeof(*tr[k].hash)) == 0);
    }
    FUZZ_CHECK(tr[0].n <= tr[2].n);
    for (i = 0; i < tr[0].n; i++)
        FUZZ_CHECK(tr[0].hash[i] == tr[2].hash[i]);
    /* A stream strict mode accepts is one resync mode takes the same way. */
    if (!tr[0].failed)
        FUZZ_CHECK(tr[0].n == tr[2].n && tr[2].skipped == 0);
    for (k = 0; k < 4; k++)
        free(tr[k].hash);
    return 0;
}
