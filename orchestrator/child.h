/* SPDX-License-Identifier: Apache-2.0 */
/*
 * child: run a program under a CLOCK_MONOTONIC deadline, optionally only
 * until a marker shows on its standard output (a guest's console line, say).
 * Unlike command.c's helpers it never waits past the deadline: a program still
 * running at the deadline or after its marker is killed, and it is always
 * reaped before child_run() returns.
 */
#ifndef VMRUN_CHILD_H
#define VMRUN_CHILD_H

#include <stddef.h>

#include "error.h"

/* Output kept per stream: the last CHILD_KEEP bytes. */
#define CHILD_KEEP 16384
#define CHILD_CHUNK 4096

struct child_result {
    char out[CHILD_KEEP + CHILD_CHUNK + 1]; /* stdout (and stderr when merged), NUL-terminated */
    size_t out_len;
    char err[CHILD_KEEP + CHILD_CHUNK + 1]; /* stderr when not merged */
    size_t err_len;
    int status;       /* exit status, 128+N for signal N; -1 when child_run killed it */
    int timed_out;    /* the deadline passed first */
    int marker_seen;  /* the marker showed on stdout first */
    double marker_ms; /* from the start to the marker, when marker_seen */
};

/* Run argv[0] (a path: PATH is not searched) with argv, stdin from /dev/null,
 * for at most limit_s seconds; merge: stderr goes to out as well. Returns 0
 * with *res filled (whatever the program did), or -1 when it could not be
 * run. */
int child_run(const char *const argv[], int merge, const char *marker, double limit_s,
              struct child_result *res, struct vr_error **errp);

/* Append n bytes to buf (of *len bytes, room for CHILD_KEEP + CHILD_CHUNK + 1),
 * keeping its last CHILD_KEEP bytes, NUL-terminated; 1 when marker (or NULL)
 * ends within the appended bytes, found across chunk boundaries. For tests. */
int child_keep(char *buf, size_t *len, const char *chunk, size_t n, const char *marker);

#endif
