/* SPDX-License-Identifier: Apache-2.0 */
#include "channel.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"
#include "usock.h"

void
channel_init(struct channel *ch)
{
    memset(ch, 0, sizeof(*ch));
    ch->listen_fd = -1;
    ch->fd = -1;
}

int
channel_listen(struct channel *ch, const char *path, struct vr_error **errp)
{
    if (wire_decoder_init(&ch->dec, WIRE_RESYNC) < 0)
        return vr_fail(errp, errno, "cannot allocate the channel buffer");
    ch->listen_fd = usock_listen(path, "agent socket", errp);
    return ch->listen_fd < 0 ? -1 : 0;
}

int
channel_accept(struct channel *ch, int64_t deadline, struct vr_error **errp)
{
    struct pollfd p = {.fd = ch->listen_fd, .events = POLLIN};

    for (;;) {
        int r = poll(&p, 1, deadline_poll_ms(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return vr_fail(errp, errno, "cannot wait for QEMU to open the agent port");
        if (r == 0)
            return vr_fail(errp, 0, "QEMU did not open the agent port in time");
        ch->fd = usock_accept(ch->listen_fd, &ch->peer_pid);
        if (ch->fd >= 0)
            break;
        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
            return vr_fail(errp, errno, "cannot accept QEMU's connection on the agent port");
    }
    /* One connection only: nobody else gets to talk to us as the agent. */
    close(ch->listen_fd);
    ch->listen_fd = -1;
    return 0;
}

int
channel_send(struct channel *ch, const json_t *header, const void *body, size_t body_len,
             int64_t deadline, struct vr_error **errp)
{
    unsigned char *buf = NULL;
    size_t len = 0, off = 0;
    const char *why = NULL;
    int ret = 0;

    if (wire_encode(header, body, body_len, &buf, &len, &why) < 0)
        return vr_fail(errp, 0, "cannot encode a message for the agent: %s", why);
    while (off < len) {
        ssize_t n = send(ch->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = ch->fd, .events = POLLOUT};
            int r = poll(&p, 1, deadline_poll_ms(deadline));
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                ret = vr_fail(errp, 0, "the guest agent stopped reading its port");
                break;
            }
            if (r > 0 && !(p.revents & (POLLERR | POLLHUP)))
                continue;
        }
        ret = vr_fail(errp, errno == EAGAIN ? 0 : errno, "the VM closed the agent port");
        break;
    }
    free(buf);
    return ret;
}

int
channel_pump(struct channel *ch, struct vr_error **errp)
{
    ssize_t n = wire_decoder_read(&ch->dec, ch->fd);

    if (n > 0)
        return 0;
    if (n == 0) {
        ch->eof = 1;
        return 1;
    }
    if (errno == EAGAIN)
        return 0;
    if (errno == ENOBUFS)
        return 0; /* full: the caller drains frames first */
    if (errno == ECONNRESET) {
        ch->eof = 1;
        return 1;
    }
    return vr_fail(errp, errno, "cannot read from the agent port");
}

int
channel_next(struct channel *ch, struct wire_frame *f, struct vr_error **errp)
{
    const char *why = NULL;
    int r = wire_decoder_next(&ch->dec, f, &why);

    if (r < 0)
        return vr_fail(errp, 0, "the guest agent broke the protocol: %s", why);
    if (ch->dec.mode == WIRE_RESYNC && ch->dec.skipped > CHANNEL_NOISE_MAX) {
        wire_frame_clear(f);
        return vr_fail(errp, 0,
                       "the guest sent more than %d bytes of noise before the agent's hello",
                       CHANNEL_NOISE_MAX);
    }
    return r;
}

void
channel_handshake_done(struct channel *ch)
{
    ch->dec.mode = WIRE_STRICT;
}

void
channel_close(struct channel *ch)
{
    if (ch->fd >= 0)
        close(ch->fd);
    if (ch->listen_fd >= 0)
        close(ch->listen_fd);
    ch->fd = ch->listen_fd = -1;
    wire_decoder_free(&ch->dec);
}
