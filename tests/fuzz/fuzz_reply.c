/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_reply: what the host believes of the agent's messages.
 *
 * The input is a frame header as the agent would send it; it is parsed as
 * wire.c does (duplicate keys rejected, depth capped) and handed to
 * reply_parse_exit in run and in import mode, to reply_classify (every
 * message type accepted while the module runs) and to reply_parse_hello.
 * Whatever the guest wrote, an accepted `exit` must carry a verdict within
 * the documented ranges, the import record kept for the report must hold
 * only bounded strings, a message is accepted only for the request it
 * answers and only as one of the documented types, and a hello only with
 * this vmrun's protocol version.
 */
#include <string.h>

#include "fuzz.h"
#include "reply.h"
#include "wire.h"

static void
fuzz_reply_check_import(const json_t *info)
{
    const char *key;
    json_t *v;
    const char *outcome;

    FUZZ_CHECK(json_is_object(info));
    outcome = json_string_value(json_object_get(info, "outcome"));
    FUZZ_CHECK(outcome && (strcmp(outcome, "completed") == 0 || strcmp(outcome, "raised") == 0 ||
                           strcmp(outcome, "exited") == 0));
    json_object_foreach((json_t *)info, key, v)
    {
        if (strcmp(key, "exception") == 0)
            FUZZ_CHECK(json_is_string(v) && json_string_length(v) <= 256);
        else if (strcmp(key, "traceback") == 0)
            FUZZ_CHECK(json_is_string(v) && json_string_length(v) <= 65536);
        else
            FUZZ_CHECK(strcmp(key, "outcome") == 0);
    }
}

static void
fuzz_reply_parse(const json_t *header, int import_mode)
{
    struct reply_exit e;
    const char *why = NULL;
    char *text;

    memset(&e, 0xa5, sizeof(e));
    if (reply_parse_exit(header, import_mode, &e, &why) < 0) {
        FUZZ_CHECK(why != NULL && why[0] != '\0');
        FUZZ_CHECK(e.import_info == NULL || json_is_object(e.import_info));
        reply_exit_clear(&e);
        return;
    }
    switch (e.status) {
    case RUN_EXITED: FUZZ_CHECK(e.exit_code >= 0 && e.exit_code <= 255 && e.signal == -1); break;
    case RUN_SIGNALED: FUZZ_CHECK(e.signal >= 1 && e.signal <= 64 && e.exit_code == -1); break;
    case RUN_OOM: FUZZ_CHECK(e.signal == 9 && e.exit_code == -1); break;
    case RUN_TIMEOUT:
    case RUN_DISK_LIMIT:
    case RUN_ERROR:
    default: FUZZ_CHECK(!"the guest cannot claim a timeout or an error"); break;
    }
    FUZZ_CHECK(e.have_usage == 0 || e.have_usage == 1);
    if (!e.have_usage)
        FUZZ_CHECK(e.cpu_ms == 0 && e.maxrss_kb == 0);
    else
        FUZZ_CHECK(e.cpu_ms <= INT64_MAX && e.maxrss_kb <= INT64_MAX);
    FUZZ_CHECK(e.stdout_truncated == 0 || e.stdout_truncated == 1);
    FUZZ_CHECK(e.stderr_truncated == 0 || e.stderr_truncated == 1);
    if (!import_mode) {
        FUZZ_CHECK(e.import_info == NULL);
    } else {
        fuzz_reply_check_import(e.import_info);
        /* It goes into the report as it is. */
        text = json_dumps(e.import_info, JSON_COMPACT);
        FUZZ_CHECK(text != NULL);
        free(text);
    }
    reply_exit_clear(&e);
    FUZZ_CHECK(e.import_info == NULL);
}

static void
fuzz_reply_classify(const json_t *header)
{
    static const char *const types[] = {"output", "started", "alive", "exit",
                                        "error",  "hello",   "ok",    "file"};
    const char *type = wire_get_str(header, "type", "");
    json_int_t id = wire_get_int(header, "id", -1);
    const char *why = NULL;
    int kind = reply_classify(type, header, 3, &why);

    if (kind < 0) {
        FUZZ_CHECK(why && why[0]);
    } else {
        FUZZ_CHECK(id == 3);
        FUZZ_CHECK(kind <= REPLY_ERROR);
        FUZZ_CHECK(strcmp(type, "output") == 0 ? kind <= REPLY_OUTPUT_STDERR
                                               : kind > REPLY_OUTPUT_STDERR);
        if (kind <= REPLY_OUTPUT_STDERR)
            FUZZ_CHECK(strcmp(wire_get_str(header, "stream", ""),
                              kind == REPLY_OUTPUT_STDOUT ? "stdout" : "stderr") == 0);
    }
    /* the same header under every type: only the documented ones pass */
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        kind = reply_classify(types[i], header, id, &why);
        if (i >= 5)
            FUZZ_CHECK(kind < 0);
    }
}

static void
fuzz_reply_hello(const json_t *header)
{
    const char *agent = NULL, *root = NULL, *why = NULL;

    if (reply_parse_hello(header, 1, &agent, &root, &why) < 0) {
        FUZZ_CHECK(why && why[0]);
        return;
    }
    FUZZ_CHECK(wire_get_int(header, "proto", -1) == WIRE_PROTO_VERSION);
    FUZZ_CHECK(wire_get_int(header, "id", -1) == 1);
    FUZZ_CHECK(agent && root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *header;

    if (size > WIRE_HEADER_MAX)
        return 0;
    header = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(header)) {
        json_decref(header);
        return 0;
    }
    fuzz_reply_parse(header, 0);
    fuzz_reply_parse(header, 1);
    fuzz_reply_classify(header);
    fuzz_reply_hello(header);
    json_decref(header);
    return 0;
}
