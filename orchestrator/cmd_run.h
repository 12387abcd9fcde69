/* SPDX-License-Identifier: Apache-2.0 */
#ifndef VMRUN_CMD_RUN_H
#define VMRUN_CMD_RUN_H

/* `vmrun [run] [OPTIONS] IMAGE MODULE [ARGS...]`; returns the exit status. */
int cmd_run(int argc, char **argv);

#endif
