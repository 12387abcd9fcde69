/* SPDX-License-Identifier: Apache-2.0 */
#include "reply.h"

#include <string.h>

#include "wire.h"

#define REPLY_TEXT_MAX 65536

static int
reply_parse_import(const json_t *imp, json_t **out, const char **why)
{
    const char *outcome = wire_get_str(imp, "outcome", "");
    json_t *info;
    json_t *exc, *tb;

    if (!json_is_object(imp) ||
        (strcmp(outcome, "completed") != 0 && strcmp(outcome, "raised") != 0 &&
         strcmp(outcome, "exited") != 0)) {
        *why = "bad import outcome";
        return -1;
    }
    info = json_pack("{s:s}", "outcome", outcome);
    if (!info) {
        *why = "out of memory";
        return -1;
    }
    exc = json_object_get(imp, "exception");
    tb = json_object_get(imp, "traceback");
    if (json_is_string(exc) && json_string_length(exc) <= 256)
        json_object_set(info, "exception", exc);
    if (json_is_string(tb) && json_string_length(tb) <= REPLY_TEXT_MAX)
        json_object_set(info, "traceback", tb);
    *out = info;
    return 0;
}

int
reply_parse_exit(const json_t *h, int import_mode, struct reply_exit *out, const char **why)
{
    const char *status = wire_get_str(h, "status", "");
    json_int_t code = wire_get_int(h, "exit_code", -1);
    json_int_t sig = wire_get_int(h, "signal", -1);
    json_int_t cpu = wire_get_int(h, "cpu_ms", -1);
    json_int_t rss = wire_get_int(h, "maxrss_kb", -1);

    memset(out, 0, sizeof(*out));
    out->exit_code = out->signal = -1;
    if (strcmp(status, "exited") == 0 && code >= 0 && code <= 255) {
        out->status = RUN_EXITED;
        out->exit_code = (int)code;
    } else if (strcmp(status, "signaled") == 0 && sig >= 1 && sig <= 64) {
        out->status = RUN_SIGNALED;
        out->signal = (int)sig;
    } else if (strcmp(status, "oom") == 0) {
        out->status = RUN_OOM;
        out->signal = 9;
    } else {
        *why = "malformed 'exit' message";
        return -1;
    }
    if (cpu >= 0 && rss >= 0) {
        out->have_usage = 1;
        out->cpu_ms = (uint64_t)cpu;
        out->maxrss_kb = (uint64_t)rss;
    }
    out->stdout_truncated = wire_get_bool(h, "stdout_truncated", 0);
    out->stderr_truncated = wire_get_bool(h, "stderr_truncated", 0);
    if (import_mode && reply_parse_import(json_object_get(h, "import"), &out->import_info, why) < 0)
        return -1;
    return 0;
}

void
reply_exit_clear(struct reply_exit *e)
{
    json_decref(e->import_info);
    e->import_info = NULL;
}

int
reply_classify(const char *type, const json_t *header, json_int_t run_id, const char **why)
{
    const char *stream;

    if (wire_get_int(header, "id", -1) != run_id) {
        *why = "reply to unknown request";
        return -1;
    }
    if (strcmp(type, "output") == 0) {
        stream = wire_get_str(header, "stream", "");
        if (strcmp(stream, "stdout") == 0)
            return REPLY_OUTPUT_STDOUT;
        if (strcmp(stream, "stderr") == 0)
            return REPLY_OUTPUT_STDERR;
        *why = "unknown stream";
        return -1;
    }
    if (strcmp(type, "started") == 0)
        return REPLY_STARTED;
    if (strcmp(type, "alive") == 0)
        return REPLY_ALIVE;
    if (strcmp(type, "exit") == 0)
        return REPLY_EXIT;
    if (strcmp(type, "error") == 0)
        return REPLY_ERROR;
    *why = "unexpected message";
    return -1;
}

int
reply_parse_hello(const json_t *header, json_int_t id, const char **agent, const char **root,
                  const char **why)
{
    if (wire_get_int(header, "id", -1) != id) {
        *why = "hello for another request";
        return -1;
    }
    if (wire_get_int(header, "proto", -1) != WIRE_PROTO_VERSION) {
        *why = "the guest agent speaks another protocol version; rebuild the initramfs";
        return -1;
    }
    *agent = wire_get_str(header, "agent", "unknown");
    *root = wire_get_str(header, "root", "unknown");
    return 0;
}
