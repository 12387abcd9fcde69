/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_doctor: the `vmrun doctor` subcommand (see cmd_doctor.c). */
#ifndef VMRUN_CMD_DOCTOR_H
#define VMRUN_CMD_DOCTOR_H

/* Exit status of `vmrun doctor`: all checks passed (warnings allowed), an
 * essential check failed (vmrun cannot run here), a bad command line. */
#define CMD_DOCTOR_EXIT_OK 0
#define CMD_DOCTOR_EXIT_CANNOT_RUN 1
#define CMD_DOCTOR_EXIT_USAGE 2

/* argv[0] is "doctor"; returns the process exit status. */
int cmd_doctor(int argc, char **argv);

#endif
