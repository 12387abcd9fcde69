/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main_diff: the vmrun-diff helper, which `vmrun diff` and the run path's
 * disk diff execute. The diff lives in its own process because libguestfs's
 * library constructor initialises libvirt (fixing its logging to stderr before
 * vmrun can redirect it), and because the process that reads what the
 * appliance returns about an untrusted disk should not be the one holding
 * the VM and the user's terminal.
 */
#include "cmd_diff.h"

int
main(int argc, char **argv)
{
    return cmd_diff(argc, argv);
}
