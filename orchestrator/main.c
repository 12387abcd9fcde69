/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main: the subcommand table. `vmrun IMAGE MODULE` is `vmrun run IMAGE
 * MODULE`; a first argument naming a subcommand selects it (an image file
 * that happens to be called like one is reached as ./NAME or with `run`).
 */
#include <signal.h>
#include <string.h>

#include "cmd_run.h"

struct main_command {
    const char *name;
    int (*fn)(int argc, char **argv);
};

static const struct main_command main_commands[] = {
    {"run", cmd_run},
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
