/* SPDX-License-Identifier: Apache-2.0 */
/*
 * usock: the Unix sockets vmrun listens on and QEMU connects to (the agent's
 * port, the serial console): non-blocking, close-on-exec, and the peer's pid
 * is known so that only QEMU is taken.
 */
#ifndef VMRUN_USOCK_H
#define VMRUN_USOCK_H

#include <sys/types.h>

#include "error.h"

/* Bind and listen on path (backlog 1). Returns the fd, or -1 with *errp
 * naming WHAT ("agent socket"...). */
int usock_listen(const char *path, const char *what, struct vr_error **errp);

/* Take one pending connection: the fd (non-blocking, close-on-exec) with
 * *peer_pid (0 when the kernel does not say), or -1 with errno (EAGAIN when
 * none is pending). */
int usock_accept(int listen_fd, pid_t *peer_pid);

#endif
