/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reply: what the host believes of the agent's `exit` message. Every field is
 * checked for type and range; anything else makes the whole message invalid
 * (the run then ends with status error). Pure: no I/O, fuzzed.
 */
#ifndef VMRUN_REPLY_H
#define VMRUN_REPLY_H

#include <jansson.h>
#include <stdint.h>

#include "run.h"

struct reply_exit {
    enum run_status status; /* RUN_EXITED, RUN_SIGNALED or RUN_OOM */
    int exit_code;          /* -1 when none */
    int signal;             /* -1 when none */
    int have_usage;
    uint64_t cpu_ms;
    uint64_t maxrss_kb;
    int stdout_truncated;
    int stderr_truncated;
    json_t *import_info; /* import mode: {outcome, exception?, traceback?}; owned */
};

/* Parse an `exit` header. Returns 0, or -1 with *why (static text). */
int reply_parse_exit(const json_t *header, int import_mode, struct reply_exit *out,
                     const char **why);
void reply_exit_clear(struct reply_exit *e);

#endif
