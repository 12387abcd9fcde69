/* SPDX-License-Identifier: Apache-2.0 */
/* command_priv: command.c's internals that its unit tests drive directly. */
#ifndef VMRUN_COMMAND_PRIV_H
#define VMRUN_COMMAND_PRIV_H

#include <stddef.h>

#include "command.h"

/* Watches a byte stream, fed in chunks of any size, for a marker. */
struct command_marker {
    const char *s;
    size_t len;
    size_t carry_len;
    char carry[COMMAND_MARKER_MAX]; /* the last len-1 bytes fed */
};

/* Watch for marker (NULL or "": never found). -1 when it is longer than
 * COMMAND_MARKER_MAX. */
int command_marker_init(struct command_marker *m, const char *marker);
/* 1 when the marker ends within these n bytes, found across chunk
 * boundaries; a marker that ended in earlier bytes is not found again. */
int command_marker_feed(struct command_marker *m, const char *data, size_t n);

#endif
