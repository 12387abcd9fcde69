/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec.h: running the module for a `run` request (see exec.c).
 */
#ifndef VMRUN_EXEC_H
#define VMRUN_EXEC_H

#include "agent.h"

/* Runs the module for a `run` request: validates it, sends `started`, the
 * `output` frames and `exit`. Returns 0 when `exit` was sent; -1 with *errp
 * when the request could not be carried out before `started` (the caller
 * answers `error`); -2 when the channel went away during the run (test mode;
 * the module was killed and reaped). */
int exec_run(struct agent *a, const json_t *hdr, struct agent_error **errp);

#endif
