/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire.c: frame codec shared by host and agent (see wire.h, docs/protocol.md).
 *
 * How it works: a decoder owns one buffer of WIRE_FRAME_MAX bytes, allocated
 * once. Bytes are appended to it; wire_decoder_next() looks at the front: it
 * checks the magic, then both lengths against their caps, and only when the
 * whole frame is present parses the header with jansson and copies the body
 * out. Nothing the peer sends can make it allocate more than one frame's worth.
 *
 * Resync rule: in WIRE_RESYNC mode a frame that fails any check loses its
 * first byte and the decoder scans for the next "VRMF"; the bytes dropped are
 * counted. This recovers from a half-written frame (a peer that restarted
 * mid-frame) at the cost of at most one lost frame.
 */
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t
wire_get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void
wire_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

int
wire_decoder_init(struct wire_decoder *d, enum wire_mode mode)
{
    memset(d, 0, sizeof(*d));
    d->mode = mode;
    d->buf = malloc(WIRE_FRAME_MAX);
    if (!d->buf) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void
wire_decoder_free(struct wire_decoder *d)
{
    if (!d)
        return;
    free(d->buf);
    d->buf = NULL;
    d->len = 0;
}

ssize_t
wire_decoder_read(struct wire_decoder *d, int fd)
{
    size_t room = WIRE_FRAME_MAX - d->len;
    ssize_t n;

    if (room == 0) {
        /* A full buffer always holds a complete or a rejected frame, so the
         * caller must drain with wire_decoder_next() before reading again. */
        errno = ENOBUFS;
        return -1;
    }
    do {
        n = read(fd, d->buf + d->len, room);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        d->len += (size_t)n;
    return n;
}

size_t
wire_decoder_feed(struct wire_decoder *d, const void *data, size_t len)
{
    size_t room = WIRE_FRAME_MAX - d->len;
    size_t take = len < room ? len : room;

    memcpy(d->buf + d->len, data, take);
    d->len += take;
    return take;
}

static void
wire_decoder_drop(struct wire_decoder *d, size_t n)
{
    memmove(d->buf, d->buf + n, d->len - n);
    d->len -= n;
}

static int
wire_json_depth_ok(const json_t *v, int depth)
{
    const char *key;
    json_t *item;
    size_t i;

    if (depth > WIRE_JSON_DEPTH_MAX)
        return 0;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, item)
        {
            if (!wire_json_depth_ok(item, depth + 1))
                return 0;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, item)
        {
            if (!wire_json_depth_ok(item, depth + 1))
                return 0;
        }
    }
    return 1;
}

/* Checks the frame at the front of the buffer.
 * Returns 1 (frame taken), 0 (need more bytes) or -1 (malformed, *why set). */
static int
wire_decoder_take(struct wire_decoder *d, struct wire_frame *out, const char **why)
{
    uint32_t hlen, blen;
    json_t *header;
    json_t *type;

    if (d->len < WIRE_MAGIC_LEN) {
        if (memcmp(d->buf, WIRE_MAGIC, d->len) != 0) {
            *why = "bad frame magic";
            return -1;
        }
        return 0;
    }
    if (memcmp(d->buf, WIRE_MAGIC, WIRE_MAGIC_LEN) != 0) {
        *why = "bad frame magic";
        return -1;
    }
    if (d->len < WIRE_PREFIX_LEN)
        return 0;
    hlen = wire_get_be32(d->buf + 4);
    blen = wire_get_be32(d->buf + 8);
    if (hlen == 0 || hlen > WIRE_HEADER_MAX) {
        *why = "frame header length out of bounds";
        return -1;
    }
    if (blen > WIRE_BODY_MAX) {
        *why = "frame body length out of bounds";
        return -1;
    }
    if (d->len < WIRE_PREFIX_LEN + (size_t)hlen + blen)
        return 0;

    header = json_loadb((const char *)d->buf + WIRE_PREFIX_LEN, hlen, JSON_REJECT_DUPLICATES, NULL);
    if (!header || !json_is_object(header)) {
        json_decref(header);
        *why = "frame header is not a JSON object";
        return -1;
    }
    type = json_object_get(header, "type");
    if (!json_is_string(type) || json_string_length(type) == 0) {
        json_decref(header);
        *why = "frame header has no \"type\" string";
        return -1;
    }
    if (!wire_json_depth_ok(header, 0)) {
        json_decref(header);
        *why = "frame header nested too deeply";
        return -1;
    }
    out->header = header;
    out->type = json_string_value(type);
    out->body = NULL;
    out->body_len = blen;
    if (blen > 0) {
        out->body = malloc(blen);
        if (!out->body) {
            json_decref(header);
            out->header = NULL;
            *why = "out of memory";
            return -1;
        }
        memcpy(out->body, d->buf + WIRE_PREFIX_LEN + hlen, blen);
    }
    wire_decoder_drop(d, WIRE_PREFIX_LEN + (size_t)hlen + blen);
    return 1;
}

/* Resync: drop the first byte and everything up to the next possible magic. */
static void
wire_decoder_skip(struct wire_decoder *d)
{
    size_t i;

    for (i = 1; i < d->len; i++) {
        size_t left = d->len - i;
        size_t cmp = left < WIRE_MAGIC_LEN ? left : WIRE_MAGIC_LEN;
        if (memcmp(d->buf + i, WIRE_MAGIC, cmp) == 0)
            break;
    }
    d->skipped += i;
    wire_decoder_drop(d, i);
}

int
wire_decoder_next(struct wire_decoder *d, struct wire_frame *out, const char **why)
{
    const char *reason = NULL;
    int r;

    memset(out, 0, sizeof(*out));
    if (d->failed) {
        *why = d->failed;
        return -1;
    }
    for (;;) {
        if (d->len == 0)
            return 0;
        r = wire_decoder_take(d, out, &reason);
        if (r >= 0)
            return r;
        if (d->mode == WIRE_STRICT) {
            d->failed = reason;
            *why = reason;
            return -1;
        }
        wire_decoder_skip(d);
    }
}

void
wire_frame_clear(struct wire_frame *f)
{
    if (!f)
        return;
    json_decref(f->header);
    free(f->body);
    memset(f, 0, sizeof(*f));
}

int
wire_encode(const json_t *header, const void *body, size_t body_len, unsigned char **out,
            size_t *out_len, const char **why)
{
    char *text;
    size_t hlen;
    unsigned char *buf;

    if (!json_is_object(header) || !json_is_string(json_object_get(header, "type"))) {
        *why = "frame header has no \"type\" string";
        return -1;
    }
    if (body_len > WIRE_BODY_MAX) {
        *why = "frame body too large";
        return -1;
    }
    text = json_dumps(header, JSON_COMPACT);
    if (!text) {
        *why = "cannot serialise frame header";
        return -1;
    }
    hlen = strlen(text);
    if (hlen == 0 || hlen > WIRE_HEADER_MAX) {
        free(text);
        *why = "frame header too large";
        return -1;
    }
    buf = malloc(WIRE_PREFIX_LEN + hlen + body_len);
    if (!buf) {
        free(text);
        *why = "out of memory";
        return -1;
    }
    memcpy(buf, WIRE_MAGIC, WIRE_MAGIC_LEN);
    wire_put_be32(buf + 4, (uint32_t)hlen);
    wire_put_be32(buf + 8, (uint32_t)body_len);
    memcpy(buf + WIRE_PREFIX_LEN, text, hlen);
    if (body_len)
        memcpy(buf + WIRE_PREFIX_LEN + hlen, body, body_len);
    free(text);
    *out = buf;
    *out_len = WIRE_PREFIX_LEN + hlen + body_len;
    return 0;
}

int
wire_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
wire_send(int fd, const json_t *header, const void *body, size_t body_len)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    const char *why = NULL;
    int r, saved;

    if (wire_encode(header, body, body_len, &buf, &len, &why) < 0) {
        errno = EMSGSIZE;
        return -1;
    }
    r = wire_write_all(fd, buf, len);
    saved = errno;
    free(buf);
    errno = saved;
    return r;
}

const char *
wire_get_str(const json_t *header, const char *key, const char *fallback)
{
    json_t *v = json_object_get(header, key);
    return json_is_string(v) ? json_string_value(v) : fallback;
}

json_int_t
wire_get_int(const json_t *header, const char *key, json_int_t fallback)
{
    json_t *v = json_object_get(header, key);
    return json_is_integer(v) ? json_integer_value(v) : fallback;
}

int
wire_get_bool(const json_t *header, const char *key, int fallback)
{
    json_t *v = json_object_get(header, key);
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}
