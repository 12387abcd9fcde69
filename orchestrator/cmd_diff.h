/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_diff: the `vmrun diff` subcommand (see cmd_diff.c). */
#ifndef VMRUN_CMD_DIFF_H
#define VMRUN_CMD_DIFF_H

/* argv[0] is "diff"; returns the process exit status: 0, DIFF_EXIT_VIOLATION
 * (3) with --fail-on-violation, 125 when vmrun failed. */
int cmd_diff(int argc, char **argv);

#endif
