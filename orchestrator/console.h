/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console: the host end of the guest's serial console.
 *
 * How it works: the console is a Unix socket vmrun listens on, like the
 * agent's port, not a file: a guest that writes to its console without end
 * must not fill a host disk (the run directory is on /run, RAM). vmrun reads
 * it in the run's poll loop and keeps only the last CONSOLE_KEEP bytes, shown
 * with -v on failure and searched for a kernel panic. When vmrun does not
 * read, QEMU's serial device waits: the guest slows only itself.
 */
#ifndef VMRUN_CONSOLE_H
#define VMRUN_CONSOLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define CONSOLE_KEEP 8192

struct console {
    int listen_fd;
    int fd; /* QEMU's connection, -1 before it is accepted or after EOF */
    char ring[CONSOLE_KEEP];
    size_t start, len; /* the kept bytes: ring[start..], wrapping */
    uint64_t total;    /* bytes the guest wrote in all */
};

void console_init(struct console *c);
int console_listen(struct console *c, const char *path, struct vr_error **errp);
/* Take QEMU's connection if it is there (QEMU connects while it starts);
 * a peer that is not qemu_pid (when known) is refused. */
void console_accept(struct console *c, pid_t qemu_pid);
/* Read what is available, keeping the tail: returns 0 when all was read, 1
 * at end of file, 2 when it stopped early (64 KiB a call) with more to read. */
int console_pump(struct console *c);
/* After QEMU is gone: read everything left (bounded). */
void console_drain(struct console *c);
/* The kept tail as a string (malloc'd; NUL bytes become '?'). */
char *console_text(const struct console *c);
void console_close(struct console *c);

#endif
