/* SPDX-License-Identifier: Apache-2.0 */
/* command: run a helper program (qemu-img) to completion, capturing its output. */
#ifndef VMRUN_COMMAND_H
#define VMRUN_COMMAND_H

#include <stddef.h>

#include "error.h"

#define COMMAND_OUTPUT_MAX 4096

/* Run argv (argv[0] looked up in PATH) with stdin from /dev/null, stdout and
 * stderr captured (the last COMMAND_OUTPUT_MAX bytes kept). The child is always
 * reaped. Returns 0 when it exited 0; otherwise -1 with an error that quotes
 * its output. */
int command_run(const char *const argv[], struct vr_error **errp);

/* Run argv (argv[0] looked up in PATH) and collect its standard output into
 * *out (NUL-terminated); standard error's last COMMAND_OUTPUT_MAX bytes go to
 * *err_tail. Output past out_max bytes is an error, unless truncated is
 * given: then the first out_max bytes are kept, the child is killed and
 * *truncated is set. The child is always reaped. Returns 0 with *status set
 * to its exit status (128+N for a signal), or -1 when it could not be run or
 * its output was too large. */
int command_capture(const char *const argv[], size_t out_max, char **out, size_t *out_len,
                    char **err_tail, int *status, int *truncated, struct vr_error **errp);

#endif
