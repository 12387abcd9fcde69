/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reply: what the host believes of the agent's messages: which messages it
 * accepts while the module runs, the agent's hello, and its `exit`. Every
 * field is checked for type and range; anything else makes the whole message
 * invalid (the run then ends with status error). Pure: no I/O, fuzzed.
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

enum reply_kind {
    REPLY_OUTPUT_STDOUT,
    REPLY_OUTPUT_STDERR,
    REPLY_STARTED,
    REPLY_ALIVE,
    REPLY_EXIT,
    REPLY_ERROR, /* the agent could not run the module; header "message" says why */
};

/* A message the agent sent while the module of request run_id runs.
 * Returns its kind, or -1 with *why (static text) when the agent broke the
 * protocol: another request's id, an unknown type or stream. */
int reply_classify(const char *type, const json_t *header, json_int_t run_id, const char **why);

/* The agent's hello, answering request id: the protocol version must be
 * WIRE_PROTO_VERSION. Returns 0 with *agent and *root pointing into header
 * (strings of at most 64 bytes kept by the caller, "unknown" when absent), or
 * -1 with *why. */
int reply_parse_hello(const json_t *header, json_int_t id, const char **agent, const char **root,
                      const char **why);

/* Parse an `exit` header. Returns 0, or -1 with *why (static text). */
int reply_parse_exit(const json_t *header, int import_mode, struct reply_exit *out,
                     const char **why);
void reply_exit_clear(struct reply_exit *e);

#endif
