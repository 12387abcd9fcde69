/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command: run a helper program (qemu-img, QEMU, vmrun-diff) and capture its
 * output; the one place vmrun spawns a program and reads it.
 *
 * How it works (command.c). posix_spawnp with stdin from /dev/null and
 * stdout and stderr on O_CLOEXEC pipes (stderr on stdout's pipe when merged),
 * so no other child inherits them. One poll loop reads both pipes until end
 * of file on both, the deadline (CLOCK_MONOTONIC, deadline.h) or the marker
 * on stdout. Memory is bounded: stdout keeps out_max bytes at most, stderr
 * its last COMMAND_OUTPUT_MAX. A child still running at the deadline, after
 * its marker, or once the head of its output is kept is SIGKILLed, and it is
 * always reaped before the call returns, on every path. After end of file it
 * is waited for under the deadline too (pidfd), so one that closes its output
 * and lingers cannot outlast the deadline.
 */
#ifndef VMRUN_COMMAND_H
#define VMRUN_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define COMMAND_OUTPUT_MAX 4096
/* The longest marker command_capture_opts() watches for. */
#define COMMAND_MARKER_MAX 256

/* What happens to standard output past out_max bytes. */
enum command_overflow {
    COMMAND_OVERFLOW_FAIL, /* an error (EFBIG); the child is read to its end */
    COMMAND_OVERFLOW_HEAD, /* the first out_max bytes are kept and the child is killed */
    COMMAND_OVERFLOW_TAIL, /* the last out_max bytes are kept; the child runs on */
};

struct command_opts {
    size_t out_max; /* standard output kept at most */
    enum command_overflow overflow;
    int merge;          /* stderr goes to stdout's pipe */
    int64_t deadline;   /* on deadline_now()'s clock; 0: none */
    const char *marker; /* stop as soon as it shows on stdout; NULL or "": never */
};

struct command_result {
    char *out; /* standard output (and stderr when merged), NUL-terminated */
    size_t out_len;
    char *err; /* the last COMMAND_OUTPUT_MAX bytes of stderr, NUL-terminated */
    size_t err_len;
    int status;       /* exit status, 128+N for signal N (128+SIGKILL when killed here) */
    int signal;       /* the signal that ended it, 0 when it exited */
    int truncated;    /* stdout went past out_max (COMMAND_OVERFLOW_HEAD or _TAIL) */
    int timed_out;    /* the deadline came first: the child was killed */
    int marker_seen;  /* the marker showed first: the child was killed */
    double marker_ms; /* from the spawn to the marker, when marker_seen */
};

/* Run argv (argv[0] looked up in PATH) with stdin from /dev/null, stdout and
 * stderr captured (the last COMMAND_OUTPUT_MAX bytes kept). The child is always
 * reaped. Returns 0 when it exited 0; otherwise -1 with an error that quotes
 * its output. */
int command_run(const char *const argv[], struct vr_error **errp);

/* Run argv (argv[0] looked up in PATH) as *o says and fill *r (free it with
 * command_result_clear()). The child is always reaped. Returns 0 whatever the
 * program did (exit status, killed at the deadline or at the marker), or -1
 * when it could not be run, waited for, or its output was too large: then *r
 * holds nothing to free. */
int command_capture_opts(const char *const argv[], const struct command_opts *o,
                         struct command_result *r, struct vr_error **errp);
void command_result_clear(struct command_result *r);

/* Run argv (argv[0] looked up in PATH) and collect its standard output into
 * *out (NUL-terminated); standard error's last COMMAND_OUTPUT_MAX bytes go to
 * *err_tail. Output past out_max bytes is an error, unless truncated is
 * given: then the first out_max bytes are kept, the child is killed and
 * *truncated is set. The child is always reaped. Returns 0 with *status set
 * to its exit status (128+N for a signal), or -1 when it could not be run or
 * its output was too large. No deadline: command_capture_opts() with
 * COMMAND_OVERFLOW_FAIL or _HEAD. */
int command_capture(const char *const argv[], size_t out_max, char **out, size_t *out_len,
                    char **err_tail, int *status, int *truncated, struct vr_error **errp);

#endif
