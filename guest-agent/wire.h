/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire: the frame codec both the host (orchestrator) and the guest agent use.
 * The protocol itself is specified in docs/protocol.md; this header is its C face.
 *
 * A frame is a fixed 12-byte prefix, a JSON object (the header) and an optional
 * binary body:
 *
 *     "VRMF" | u32be header_len | u32be body_len | header (JSON) | body
 *
 * Every length is checked against WIRE_HEADER_MAX / WIRE_BODY_MAX before any
 * memory is reserved for it, so a hostile peer can make a decoder hold at most
 * WIRE_FRAME_MAX bytes.
 */
#ifndef VMRUN_WIRE_H
#define VMRUN_WIRE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WIRE_MAGIC "VRMF"
#define WIRE_MAGIC_LEN 4
#define WIRE_PREFIX_LEN 12
#define WIRE_PROTO_VERSION 2
#define WIRE_HEADER_MAX (64 * 1024)
#define WIRE_BODY_MAX (1024 * 1024)
#define WIRE_FRAME_MAX (WIRE_PREFIX_LEN + WIRE_HEADER_MAX + WIRE_BODY_MAX)
/* Bounds on the JSON itself, so that a header within WIRE_HEADER_MAX cannot
 * still cost unbounded work: nesting depth and members per object/array. */
#define WIRE_JSON_DEPTH_MAX 8

/* Name of the virtio-serial port the agent listens on. */
#define WIRE_PORT_NAME "org.vmrun.agent.0"

/* How a decoder treats a malformed frame. */
enum wire_mode {
    /* Any malformed byte is fatal: wire_decoder_next() returns -1 and the
     * decoder stays failed. The host uses this after the handshake. */
    WIRE_STRICT,
    /* Skip forward to the next magic and go on (the resync rule); the
     * number of bytes skipped is counted. The agent uses this. */
    WIRE_RESYNC,
};

struct wire_frame {
    json_t *header;      /* owned; always a JSON object */
    const char *type;    /* points into header: the "type" member */
    unsigned char *body; /* owned, may be NULL when body_len == 0 */
    size_t body_len;
};

struct wire_decoder {
    enum wire_mode mode;
    unsigned char *buf; /* WIRE_FRAME_MAX bytes, allocated once */
    size_t len;         /* bytes held */
    uint64_t skipped;   /* bytes dropped while resynchronising */
    const char *failed; /* strict mode: why the stream was rejected */
};

/* Initialise; allocates the fixed buffer. Returns 0 or -1 (ENOMEM). */
int wire_decoder_init(struct wire_decoder *d, enum wire_mode mode);
void wire_decoder_free(struct wire_decoder *d);

/* Read once from fd into the decoder's free space (EINTR-safe).
 * Returns bytes read (> 0), 0 on end of file, -1 with errno on error
 * (EAGAIN for a non-blocking fd with nothing to read). */
ssize_t wire_decoder_read(struct wire_decoder *d, int fd);

/* Append bytes already in memory (used by tests and the fuzzer).
 * Returns the number of bytes taken (may be less than len when the buffer
 * is full: call wire_decoder_next() and feed the rest). */
size_t wire_decoder_feed(struct wire_decoder *d, const void *data, size_t len);

/* Take the next complete frame.
 * Returns 1 and fills *out (release with wire_frame_clear), 0 when more bytes
 * are needed, -1 when the stream is malformed in strict mode (*why says how;
 * static string). In resync mode never returns -1. */
int wire_decoder_next(struct wire_decoder *d, struct wire_frame *out, const char **why);

void wire_frame_clear(struct wire_frame *f);

/* Encode one frame into a freshly allocated buffer.
 * Returns 0, or -1 with *why (header too large, body too large, no "type"). */
int wire_encode(const json_t *header, const void *body, size_t body_len, unsigned char **out,
                size_t *out_len, const char **why);

/* Encode and write a whole frame to fd (EINTR- and short-write-safe, blocking fd).
 * Returns 0, or -1 with errno set (EMSGSIZE when the frame is out of bounds). */
int wire_send(int fd, const json_t *header, const void *body, size_t body_len);

/* Write all of buf (EINTR- and short-write-safe). Returns 0 or -1 with errno. */
int wire_write_all(int fd, const void *buf, size_t len);

/* Header accessors that never trust the peer: return the member if it is of
 * the expected type, else the fallback. */
const char *wire_get_str(const json_t *header, const char *key, const char *fallback);
json_int_t wire_get_int(const json_t *header, const char *key, json_int_t fallback);
int wire_get_bool(const json_t *header, const char *key, int fallback);

#endif
