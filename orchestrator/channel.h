/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel: the host end of the agent's virtio-serial port.
 *
 * How it works: vmrun listens on a Unix socket in its private run directory
 * before the VM starts; QEMU connects to it as the port's backend. The
 * connection is non-blocking: every read and write waits in poll(2) under a
 * deadline, so a guest that stops reading or floods cannot stall the host.
 * Frames are decoded with the shared codec; up to CHANNEL_NOISE_MAX bytes of
 * noise are tolerated before the agent's hello, none after (strict mode).
 */
#ifndef VMRUN_CHANNEL_H
#define VMRUN_CHANNEL_H

#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "wire.h"

#define CHANNEL_NOISE_MAX (64 * 1024)

struct channel {
    int listen_fd;
    int fd;
    pid_t peer_pid;
    struct wire_decoder dec;
    int eof;
};

void channel_init(struct channel *ch);
int channel_listen(struct channel *ch, const char *path, struct vr_error **errp);
/* Wait for QEMU's connection until deadline. */
int channel_accept(struct channel *ch, int64_t deadline, struct vr_error **errp);
/* Send one frame, waiting for room until deadline. */
int channel_send(struct channel *ch, const json_t *header, const void *body, size_t body_len,
                 int64_t deadline, struct vr_error **errp);
/* Read what is available (call when poll says the fd is readable).
 * Returns 0, or 1 at end of file (the VM closed the port or is gone). */
int channel_pump(struct channel *ch, struct vr_error **errp);
/* Next decoded frame: 1 and *f filled, 0 when none is complete yet, -1 when
 * the agent broke the protocol. */
int channel_next(struct channel *ch, struct wire_frame *f, struct vr_error **errp);
/* After the agent's hello: no more noise is tolerated. */
void channel_handshake_done(struct channel *ch);
void channel_close(struct channel *ch);

#endif
