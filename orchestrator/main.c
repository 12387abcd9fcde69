/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main: the subcommand table. `vmrun IMAGE MODULE` is `vmrun run IMAGE
 * MODULE`; a first argument naming a subcommand selects it (an image file
 * that happens to be called like one is reached as ./NAME or with `run`).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd_doctor.h"
#include "cmd_run.h"
#include "error.h"
#include "paths.h"

struct main_command {
    const char *name;
    int (*fn)(int argc, char **argv);
};

/* `vmrun diff ...` is the vmrun-diff helper (orchestrator/main_diff.c). */
static int
main_diff(int argc, char **argv)
{
    struct vr_error *err = NULL;
    char *helper = NULL;

    (void)argc;
    if (paths_helper("vmrun-diff", &helper, &err) < 0) {
        fprintf(stderr, "vmrun: error: %s\n", err->message);
        vr_error_free(err);
        return 125;
    }
    execv(helper, argv);
    fprintf(stderr, "vmrun: error: cannot run '%s': %s\n", helper, strerror(errno));
    return 125;
}

static const struct main_command main_commands[] = {
    {"run", cmd_run},
    {"diff", main_diff},
    {"doctor", cmd_doctor},
};

int
main(int argc, char **argv)
{
    size_t i;

    /* A reader that went away must not kill vmrun before it tears the VM
     * down: writes then fail with EPIPE and are handled. */
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1) {
        for (i = 0; i < sizeof(main_commands) / sizeof(main_commands[0]); i++) {
            if (strcmp(argv[1], main_commands[i].name) == 0)
                return main_commands[i].fn(argc - 1, argv + 1);
        }
    }
    return cmd_run(argc, argv);
}
