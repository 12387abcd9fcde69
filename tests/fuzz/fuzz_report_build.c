/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_report_build: the whole report (orchestrator/report.c report_build)
 * and the disk diff summary (orchestrator/changes.c) fed hostile strings.
 *
 * The input has FUZZ_SEP-separated parts: a few bytes of settings (status,
 * exit code, flags); then the strings a run puts into the report: the module
 * and image paths (the user's bytes, not necessarily UTF-8), the agent's
 * version and root device cut to 64 bytes as run.c keeps them, the kernel and
 * kept-overlay paths, an error message quoting the agent, a diff error, the
 * two output streams; then the import record and the changes object as JSON
 * text (the latter as run.c reads vmrun-diff's output).
 *
 * What must hold: every member docs/report-schema.md lists is present with its
 * type, the report serialises and parses back, the exit status follows the
 * documented rules, and the summary printed from the changes object is valid
 * UTF-8 without control characters other than the newline at the end of each
 * line (a path or a name cannot forge a line or a terminal sequence).
 */
#include <string.h>

#include "changes.h"
#include "fuzz.h"
#include "report.h"

enum {
    P_FLAGS,
    P_MODULE,
    P_IMAGE,
    P_AGENT,
    P_ROOT,
    P_KERNEL,
    P_OVERLAY,
    P_ERROR,
    P_DIFF_ERROR,
    P_STDOUT,
    P_STDERR,
    P_IMPORT,
    P_CHANGES,
    P_N
};

static uint8_t
fuzz_rb_flag(const struct fuzz_part *p, size_t i)
{
    return i < p->len ? p->data[i] : 0;
}

/* A member that holds a string the run was given: present, and a string. */
static void
fuzz_rb_check_str(const json_t *obj, const char *key, int given)
{
    const json_t *v = json_object_get(obj, key);

    FUZZ_CHECK(v != NULL);
    if (given)
        FUZZ_CHECK(json_is_string(v));
    else
        FUZZ_CHECK(json_is_null(v));
}

static void
fuzz_rb_check_bytes(const json_t *obj, const char *key)
{
    char k64[64];
    const json_t *b64;

    snprintf(k64, sizeof(k64), "%s_base64", key);
    b64 = json_object_get(obj, k64);
    FUZZ_CHECK(json_is_string(json_object_get(obj, key)));
    FUZZ_CHECK(b64 == NULL || json_is_string(b64));
}

static void
fuzz_rb_check_summary(const json_t *changes)
{
    char *out = NULL;
    size_t len = 0, i = 0;
    FILE *f = open_memstream(&out, &len);

    FUZZ_CHECK(f != NULL);
    changes_summary(changes, f);
    FUZZ_CHECK(fclose(f) == 0);
    FUZZ_CHECK(report_utf8_valid((const unsigned char *)out, len));
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c == '\n' || (c >= 0x20 && c != 0x7f));
    }
    FUZZ_CHECK(len == 0 || out[len - 1] == '\n');
    free(out);
}

static int
fuzz_rb_has_violations(const json_t *changes)
{
    const json_t *n = json_object_get(changes, "violations_total");

    /* docs/diff.md: --fail-on-violation exits 123 when violations_total > 0 */
    return json_is_integer(n) && json_integer_value(n) > 0;
}

static void
fuzz_rb_check(const json_t *r, const struct vr_options *o, const struct run_result *res)
{
    static const char *const always[] = {"vmrun_version",
                                         "status",
                                         "exit_code",
                                         "signal",
                                         "exit_status",
                                         "mode",
                                         "module",
                                         "stdout",
                                         "stderr",
                                         "stdout_bytes",
                                         "stderr_bytes",
                                         "stdout_truncated",
                                         "stderr_truncated",
                                         "timings",
                                         "accel",
                                         "accel_reason",
                                         "usage",
                                         "image",
                                         "kernel",
                                         "agent_version",
                                         "overlay",
                                         "limits",
                                         "changes",
                                         "diff_error",
                                         "error"};
    const json_t *img = json_object_get(r, "image");
    int expect;
    size_t i;

    FUZZ_CHECK(json_is_object(r));
    for (i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        FUZZ_CHECK(json_object_get(r, always[i]) != NULL);
    FUZZ_CHECK(json_is_object(img));
    fuzz_rb_check_str(r, "module", o->module != NULL);
    fuzz_rb_check_str(img, "path", 1);
    fuzz_rb_check_str(img, "root_device", res->root_device != NULL);
    fuzz_rb_check_str(r, "kernel", res->kernel != NULL);
    fuzz_rb_check_str(r, "agent_version", res->agent_version != NULL);
    fuzz_rb_check_str(r, "overlay", res->overlay_kept != NULL);
    fuzz_rb_check_bytes(r, "stdout");
    fuzz_rb_check_bytes(r, "stderr");
    if (res->diff_error)
        fuzz_rb_check_bytes(r, "diff_error");
    else
        FUZZ_CHECK(json_is_null(json_object_get(r, "diff_error")));
    if (res->status == RUN_ERROR) {
        const json_t *e = json_object_get(r, "error");
        FUZZ_CHECK(json_is_object(e));
        FUZZ_CHECK(json_is_string(json_object_get(e, "kind")));
        fuzz_rb_check_bytes(e, "message");
    } else {
        FUZZ_CHECK(json_is_null(json_object_get(r, "error")));
    }
    FUZZ_CHECK(json_equal(json_object_get(r, "changes"), res->changes) ||
               (!res->changes && json_is_null(json_object_get(r, "changes"))));

    /* Exit status, as docs/report-schema.md and docs/diff.md give it. */
    expect = report_exit_status(res);
    if (res->status != RUN_ERROR && res->diff_error)
        expect = REPORT_EXIT_FAILURE;
    else if (res->status != RUN_ERROR && o->fail_on_violation &&
             fuzz_rb_has_violations(res->changes))
        expect = REPORT_EXIT_VIOLATION;
    FUZZ_CHECK(report_final_status(o, res) == expect);
    FUZZ_CHECK(json_integer_value(json_object_get(r, "exit_status")) == expect);
}

/* The agent's strings as run.c keeps them: at most 64 bytes. */
static char *
fuzz_rb_agent_str(const struct fuzz_part *p)
{
    char *s = fuzz_part_str(p), *cut;

    if (!p->len) {
        free(s);
        return NULL;
    }
    cut = strndup(s, 64);
    FUZZ_CHECK(cut != NULL);
    free(s);
    return cut;
}

static struct vr_error *
fuzz_rb_error(const struct fuzz_part *p, int kind)
{
    struct vr_error *e = calloc(1, sizeof(*e));

    FUZZ_CHECK(e != NULL);
    e->kind = kind ? VR_ERR_USAGE : VR_ERR_INFRA;
    e->message = fuzz_part_str(p);
    return e;
}

static unsigned char *
fuzz_rb_bytes(const struct fuzz_part *p)
{
    unsigned char *b = malloc(p->len ? p->len : 1);

    FUZZ_CHECK(b != NULL);
    if (p->len)
        memcpy(b, p->data, p->len);
    return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_part p[P_N];
    struct vr_options o;
    struct run_result res;
    char *module, *image;
    json_t *r;
    char *text;
    uint8_t f0, f1;

    fuzz_split(data, size, p, P_N);
    f0 = fuzz_rb_flag(&p[P_FLAGS], 0);
    f1 = fuzz_rb_flag(&p[P_FLAGS], 1);
    memset(&o, 0, sizeof(o));
    memset(&res, 0, sizeof(res));
    module = fuzz_part_str(&p[P_MODULE]);
    image = fuzz_part_str(&p[P_IMAGE]);
    o.module = module;
    o.image = image;
    o.format = (f1 & 1) ? IMAGE_RAW : IMAGE_QCOW2;
    o.import_mode = !!(f1 & 2);
    o.fail_on_violation = !!(f1 & 4);
    o.timeout_s = 10;
    o.output_limit = 1 << 20;
    o.memory_mib = 256;
    o.cpus = 1;

    res.status = (enum run_status)(f0 % 5);
    res.exit_code = res.status == RUN_EXITED ? fuzz_rb_flag(&p[P_FLAGS], 2) : -1;
    res.signal = res.status == RUN_SIGNALED ? 1 + fuzz_rb_flag(&p[P_FLAGS], 2) % 64
                 : res.status == RUN_OOM    ? 9
                                            : -1;
    res.interrupted = (f0 & 0x80) ? 2 : 0;
    res.t = (struct run_timings){-1, 1.5, -1, 2, 3.25, 4, 5, -1, -1};
    res.accel_kvm = !!(f1 & 8);
    res.accel_reason = "fuzz";
    res.have_usage = !!(f1 & 16);
    res.cpu_ms = (uint64_t)fuzz_rb_flag(&p[P_FLAGS], 3) << 40;
    res.maxrss_kb = 1234;
    res.out.data = fuzz_rb_bytes(&p[P_STDOUT]);
    res.out.len = p[P_STDOUT].len;
    res.out.total = p[P_STDOUT].len + fuzz_rb_flag(&p[P_FLAGS], 4);
    res.out.truncated = res.out.total > res.out.len;
    res.err.data = fuzz_rb_bytes(&p[P_STDERR]);
    res.err.len = p[P_STDERR].len;
    res.err.total = p[P_STDERR].len;
    res.image.path = (f1 & 32) ? fuzz_part_str(&p[P_IMAGE]) : NULL;
    res.image.format = o.format;
    res.agent_version = fuzz_rb_agent_str(&p[P_AGENT]);
    res.root_device = fuzz_rb_agent_str(&p[P_ROOT]);
    res.kernel = p[P_KERNEL].len ? fuzz_part_str(&p[P_KERNEL]) : NULL;
    res.overlay_kept = p[P_OVERLAY].len ? fuzz_part_str(&p[P_OVERLAY]) : NULL;
    if (res.status == RUN_ERROR)
        res.error = fuzz_rb_error(&p[P_ERROR], f1 & 64);
    if (f1 & 128)
        res.diff_error = fuzz_rb_error(&p[P_DIFF_ERROR], 0);
    if (o.import_mode) {
        res.import_info = json_loadb((const char *)p[P_IMPORT].data, p[P_IMPORT].len,
                                     JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(res.import_info)) {
            json_decref(res.import_info);
            res.import_info = NULL;
        }
    }
    /* As run.c reads the helper's output. */
    res.changes =
        json_loadb((const char *)p[P_CHANGES].data, p[P_CHANGES].len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(res.changes)) {
        json_decref(res.changes);
        res.changes = NULL;
    }

    r = report_build(&o, &res);
    FUZZ_CHECK(r != NULL);
    fuzz_rb_check(r, &o, &res);
    text = json_dumps(r, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    FUZZ_CHECK(text != NULL);
    {
        json_t *back = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
        FUZZ_CHECK(back != NULL && json_equal(back, r));
        json_decref(back);
    }
    free(text);
    json_decref(r);
    if (res.changes) {
        int v = changes_has_violations(res.changes);
        FUZZ_CHECK(v == fuzz_rb_has_violations(res.changes));
        fuzz_rb_check_summary(res.changes);
    }

    free(res.out.data);
    free(res.err.data);
    json_decref(res.import_info);
    free(res.image.path);
    free(res.kernel);
    free(res.agent_version);
    free(res.root_device);
    free(res.overlay_kept);
    vr_error_free(res.error);
    json_decref(res.changes);
    vr_error_free(res.diff_error);
    free(module);
    free(image);
    return 0;
}
