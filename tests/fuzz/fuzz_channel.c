/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_channel: the host end of the agent's port (orchestrator/channel.c) on
 * what a hostile guest writes to it: reads from a real socket, the noise
 * tolerated before the agent's hello (at most CHANNEL_NOISE_MAX bytes), and
 * strict decoding after it.
 *
 * Input: 4 bytes of set-up, then the stream. The set-up asks for generated
 * noise ahead of the stream (be16 length, plus 64 KiB when the third byte is
 * odd, of the fourth byte repeated), so that the noise cap is reached without
 * 64 KiB inputs. The stream is written into a socketpair in chunks whose sizes
 * come from the input; the harness drives the channel as run.c does: pump when
 * readable, take frames, and after the first frame (which must be a hello, or
 * the host gives up) switch to strict mode.
 *
 * What must hold: frames come out exactly as a decoder fed the whole stream at
 * once gives them (chunking and the socket lose and add nothing); no frame is
 * accepted once more than CHANNEL_NOISE_MAX bytes were skipped, and skipping
 * past it is an error; nothing is skipped after the hello; a protocol error is
 * final; end of file is seen once all was read.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel.h"
#include "fuzz.h"

#define FUZZ_CHANNEL_FRAMES 256

struct fuzz_channel_run {
    uint64_t hash[FUZZ_CHANNEL_FRAMES];
    size_t n;
    int failed;  /* the channel (or the model) rejected the stream */
    int stopped; /* the first frame was not a hello */
};

static uint64_t
fuzz_channel_hash(const struct wire_frame *f)
{
    char *text = json_dumps(f->header, JSON_COMPACT | JSON_SORT_KEYS);
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *p;

    FUZZ_CHECK(text != NULL);
    for (p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    for (p = f->body; p && p < f->body + f->body_len; p++)
        h = (h ^ *p) * 0x100000001b3ULL;
    free(text);
    return h ^ f->body_len;
}

/* What run.c does with a frame: the first must be the agent's hello. Returns
 * 0 to go on, 1 to stop. */
static int
fuzz_channel_took(struct fuzz_channel_run *r, struct wire_frame *f)
{
    int first = r->n == 0;

    if (r->n < FUZZ_CHANNEL_FRAMES)
        r->hash[r->n] = fuzz_channel_hash(f);
    r->n++;
    if (first && strcmp(f->type, "hello") != 0) {
        r->stopped = 1;
        return 1;
    }
    return 0;
}

/* The same rules on a decoder fed the whole stream at once. */
static void
fuzz_channel_model(struct wire_decoder *d, const uint8_t *s, size_t len, struct fuzz_channel_run *r)
{
    size_t off = 0;

    d->mode = WIRE_RESYNC;
    d->len = 0;
    d->skipped = 0;
    d->failed = NULL;
    for (;;) {
        struct wire_frame f;
        const char *why = NULL;
        int k;

        off += wire_decoder_feed(d, s + off, len - off);
        k = wire_decoder_next(d, &f, &why);
        if (k == 1 && d->mode == WIRE_RESYNC && d->skipped > CHANNEL_NOISE_MAX)
            k = -1, wire_frame_clear(&f);
        if (k == 0 && d->mode == WIRE_RESYNC && d->skipped > CHANNEL_NOISE_MAX)
            k = -1;
        if (k < 0) {
            r->failed = 1;
            break;
        }
        if (k == 0) {
            if (off == len)
                break;
            continue;
        }
        if (fuzz_channel_took(r, &f)) {
            wire_frame_clear(&f);
            break;
        }
        d->mode = WIRE_STRICT;
        wire_frame_clear(&f);
    }
}

static size_t
fuzz_channel_chunk(const uint8_t *data, size_t size, size_t step)
{
    uint8_t b = data[(step * 131 + size) % size];

    return (b & 0x80) ? 1 + (size_t)(b & 0x7f) * 97 : 1 + (size_t)(b & 0x0f);
}

/* Drain the channel: pump what is readable, take every frame. Returns 1 when
 * the run is over (error, stop, or end of file). */
static int
fuzz_channel_drain(struct channel *ch, struct fuzz_channel_run *r, int *handshake)
{
    for (;;) {
        struct vr_error *err = NULL;
        struct wire_frame f;
        uint64_t skipped = ch->dec.skipped;
        int k = channel_pump(ch, &err);

        FUZZ_CHECK(k == 0 || k == 1);
        FUZZ_CHECK(err == NULL);
        for (;;) {
            int n = channel_next(ch, &f, &err);

            if (*handshake)
                FUZZ_CHECK(ch->dec.skipped == skipped); /* strict: nothing skipped */
            if (n < 0) {
                FUZZ_CHECK(n == -1 && err != NULL && err->message != NULL);
                FUZZ_CHECK(f.header == NULL && f.body == NULL);
                /* Noise past the cap, or a malformed frame after the hello. */
                FUZZ_CHECK(*handshake || ch->dec.skipped > CHANNEL_NOISE_MAX);
                vr_error_free(err);
                r->failed = 1;
                return 1;
            }
            FUZZ_CHECK(err == NULL);
            if (n == 0)
                break;
            FUZZ_CHECK(n == 1 && json_is_object(f.header) && f.type != NULL);
            FUZZ_CHECK(ch->dec.skipped <= CHANNEL_NOISE_MAX);
            if (fuzz_channel_took(r, &f)) {
                wire_frame_clear(&f);
                return 1;
            }
            wire_frame_clear(&f);
            if (!*handshake) {
                channel_handshake_done(ch);
                *handshake = 1;
                skipped = ch->dec.skipped;
            }
        }
        if (k == 1) {
            FUZZ_CHECK(ch->eof == 1);
            return 1;
        }
        if (ch->dec.len < WIRE_FRAME_MAX) {
            /* Nothing more to read now? */
            char c;
            ssize_t peek = recv(ch->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (peek < 0 && errno == EAGAIN)
                return 0;
        }
    }
}

static void
fuzz_channel_write(int fd, const uint8_t *p, size_t len, struct channel *ch,
                   struct fuzz_channel_run *r, int *handshake, int *over)
{
    while (len > 0 && !*over) {
        ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        /* The reader closed (we stopped) or the socket is full: drain. */
        if (n < 0 && errno == EPIPE) {
            *over = 1;
            return;
        }
        FUZZ_CHECK(n < 0 && (errno == EAGAIN || errno == EINTR));
        *over = fuzz_channel_drain(ch, r, handshake);
    }
    if (!*over)
        *over = fuzz_channel_drain(ch, r, handshake);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct channel ch;
    static struct wire_decoder model;
    static uint8_t *noise;
    struct fuzz_channel_run got, want;
    size_t noise_len, off = 0, step = 0, i;
    int sv[2], handshake = 0, over = 0;
    uint8_t *stream;

    if (size < 4)
        return 0;
    if (!model.buf) {
        FUZZ_CHECK(wire_decoder_init(&model, WIRE_RESYNC) == 0);
        channel_init(&ch);
        FUZZ_CHECK(wire_decoder_init(&ch.dec, WIRE_RESYNC) == 0);
        noise = malloc(2 * CHANNEL_NOISE_MAX);
        FUZZ_CHECK(noise != NULL);
    }
    noise_len = (size_t)data[0] << 8 | data[1];
    if (data[2] & 1)
        noise_len += CHANNEL_NOISE_MAX;
    memset(noise, data[3], noise_len);
    data += 4;
    size -= 4;

    /* The model sees noise and stream as one. */
    stream = malloc(noise_len + size + 1);
    FUZZ_CHECK(stream != NULL);
    memcpy(stream, noise, noise_len);
    if (size)
        memcpy(stream + noise_len, data, size);
    memset(&want, 0, sizeof(want));
    fuzz_channel_model(&model, stream, noise_len + size, &want);

    /* The channel, as run.c has it after channel_accept. */
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    FUZZ_CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
    ch.fd = sv[0];
    ch.eof = 0;
    ch.dec.mode = WIRE_RESYNC;
    ch.dec.len = 0;
    ch.dec.skipped = 0;
    ch.dec.failed = NULL;
    memset(&got, 0, sizeof(got));
    fuzz_channel_write(sv[1], noise, noise_len, &ch, &got, &handshake, &over);
    while (off < size && !over) {
        size_t want_len = size ? fuzz_channel_chunk(data, size, step++) : 0;

        if (want_len > size - off)
            want_len = size - off;
        fuzz_channel_write(sv[1], data + off, want_len, &ch, &got, &handshake, &over);
        off += want_len;
    }
    close(sv[1]);
    if (!over)
        over = fuzz_channel_drain(&ch, &got, &handshake);
    FUZZ_CHECK(over);
    /* A failed channel stays failed. */
    if (got.failed) {
        struct vr_error *err = NULL;
        struct wire_frame f;
        FUZZ_CHECK(channel_next(&ch, &f, &err) == -1 && err != NULL);
        vr_error_free(err);
    }
    close(sv[0]);
    ch.fd = -1;

    FUZZ_CHECK(got.n == want.n);
    FUZZ_CHECK(got.failed == want.failed && got.stopped == want.stopped);
    for (i = 0; i < got.n && i < FUZZ_CHANNEL_FRAMES; i++)
        FUZZ_CHECK(got.hash[i] == want.hash[i]);
    if (!got.failed && !got.stopped)
        FUZZ_CHECK(ch.eof == 1 && ch.dec.skipped == model.skipped);
    free(stream);
    return 0;
}
