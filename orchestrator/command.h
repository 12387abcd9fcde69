/* SPDX-License-Identifier: Apache-2.0 */
/* command: run a helper program (qemu-img) to completion, capturing its output. */
#ifndef VMRUN_COMMAND_H
#define VMRUN_COMMAND_H

#include "error.h"

#define COMMAND_OUTPUT_MAX 4096

/* Run argv (argv[0] looked up in PATH) with stdin from /dev/null, stdout and
 * stderr captured (the last COMMAND_OUTPUT_MAX bytes kept). The child is always
 * reaped. Returns 0 when it exited 0; otherwise -1 with an error that quotes
 * its output. */
int command_run(const char *const argv[], struct vr_error **errp);

#endif
