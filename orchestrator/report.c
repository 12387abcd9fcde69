/* SPDX-License-Identifier: Apache-2.0 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "version.h"

const char *
report_status_name(enum run_status s)
{
    switch (s) {
    case RUN_EXITED: return "exited";
    case RUN_SIGNALED: return "signaled";
    case RUN_TIMEOUT: return "timeout";
    case RUN_OOM: return "oom";
    case RUN_DISK_LIMIT: return "disk_limit";
    case RUN_ERROR: return "error";
    }
    return "error";
}

int
report_exit_status(const struct run_result *res)
{
    switch (res->status) {
    case RUN_EXITED: return res->exit_code & 0xff;
    case RUN_SIGNALED: return 128 + (res->signal & 0x7f);
    case RUN_OOM: return 128 + 9;
    case RUN_DISK_LIMIT: return REPORT_EXIT_DISK_LIMIT;
    case RUN_TIMEOUT: return REPORT_EXIT_TIMEOUT;
    case RUN_ERROR: return res->interrupted ? REPORT_EXIT_INTERRUPTED : REPORT_EXIT_FAILURE;
    }
    return REPORT_EXIT_FAILURE;
}

/* Kept here, not in diff.c, so the report needs no libguestfs: violations
 * are a non-empty "violations" list in the changes object. */
static int
report_has_violations(const json_t *changes)
{
    /* The count, not the list: with --diff-max-entries 0 the list is empty
     * (docs/diff.md: --fail-on-violation exits 123 when violations_total > 0). */
    json_t *n = json_object_get(changes, "violations_total");
    return json_is_integer(n) && json_integer_value(n) > 0;
}

static json_t *
report_ull_or_null(unsigned long long v)
{
    return v ? json_integer((json_int_t)v) : json_null();
}

/* What the kernel and libvirt said about the VM process once it ran; null
 * members are limits that were not in force. */
static json_t *
report_confinement(const struct run_confinement *c)
{
    json_t *o = json_object();
    json_t *q = json_null();

    if (c->qemu.valid)
        q = json_pack("{s:I,s:I,s:I,s:b,s:b,s:b,s:b}", "uid", (json_int_t)c->qemu.uid, "gid",
                      (json_int_t)c->qemu.gid, "supplementary_groups", (json_int_t)c->qemu.n_groups,
                      "capabilities_none", c->qemu.caps_none, "no_new_privs", c->qemu.no_new_privs,
                      "seccomp", c->qemu.seccomp_mode == 2, "own_mount_namespace",
                      c->qemu.own_mount_ns);
    json_object_set_new(o, "qemu", q);
    json_object_set_new(o, "cpu_quota_us", report_ull_or_null(c->cpu_quota_us));
    json_object_set_new(o, "cpu_period_us", report_ull_or_null(c->cpu_period_us));
    json_object_set_new(o, "memory_limit_bytes", report_ull_or_null(c->memory_limit_bytes));
    json_object_set_new(o, "disk_limit_bytes", report_ull_or_null(c->disk_limit_bytes));
    return o;
}

int
report_final_status(const struct vr_options *opts, const struct run_result *res)
{
    if (res->status == RUN_ERROR)
        return report_exit_status(res);
    if (res->diff_error)
        return REPORT_EXIT_FAILURE;
    if (opts->fail_on_violation && report_has_violations(res->changes))
        return REPORT_EXIT_VIOLATION;
    return report_exit_status(res);
}

size_t
report_utf8_seq(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n, i;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (left < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

int
report_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t n = report_utf8_seq(s + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

char *
report_base64(const unsigned char *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    size_t i, o = 0;

    if (!out)
        return NULL;
    for (i = 0; i + 2 < len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0);
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

int
report_set_bytes(json_t *obj, const char *key, const unsigned char *data, size_t len)
{
    _cleanup_free_ char *lossy = NULL;
    _cleanup_free_ char *b64 = NULL;
    _cleanup_free_ char *b64key = NULL;
    size_t i = 0, o = 0;

    if (!data)
        data = (const unsigned char *)"";
    if (report_utf8_valid(data, len))
        return json_object_set_new(obj, key, json_stringn((const char *)data, len));
    lossy = malloc(len * 3 + 1);
    b64 = report_base64(data, len);
    if (!lossy || !b64 || asprintf(&b64key, "%s_base64", key) < 0)
        return -1;
    while (i < len) {
        size_t n = report_utf8_seq(data + i, len - i);
        if (n) {
            memcpy(lossy + o, data + i, n);
            o += n;
            i += n;
        } else {
            memcpy(lossy + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    if (json_object_set_new(obj, key, json_stringn(lossy, o)) < 0)
        return -1;
    return json_object_set_new(obj, b64key, json_string(b64));
}

static json_t *
report_ms(double ms)
{
    return ms < 0 ? json_null() : json_real((double)(long long)(ms * 1000.0) / 1000.0);
}

/* A string from outside (a path, what the agent said): null when absent,
 * encoded like output when it is not UTF-8 (json_string would refuse it and
 * the member would be missing). */
static void
report_set_str(json_t *obj, const char *key, const char *s)
{
    if (!s)
        json_object_set_new(obj, key, json_null());
    else
        report_set_bytes(obj, key, (const unsigned char *)s, strlen(s));
}

json_t *
report_build(const struct vr_options *opts, const struct run_result *res)
{
    json_t *r = json_object();
    json_t *t = json_object();
    json_t *img = json_object();
    json_t *usage;

    if (!r || !t || !img) {
        json_decref(r);
        json_decref(t);
        json_decref(img);
        return NULL;
    }
    json_object_set_new(r, "vmrun_version", json_string(VMRUN_VERSION));
    json_object_set_new(r, "status", json_string(report_status_name(res->status)));
    json_object_set_new(r, "exit_code",
                        res->exit_code >= 0 ? json_integer(res->exit_code) : json_null());
    json_object_set_new(r, "signal", res->signal >= 0 ? json_integer(res->signal) : json_null());
    json_object_set_new(r, "exit_status", json_integer(report_final_status(opts, res)));
    json_object_set_new(r, "mode", json_string(opts->import_mode ? "import" : "run"));
    report_set_str(r, "module", opts->module);
    report_set_bytes(r, "stdout", res->out.data, res->out.len);
    report_set_bytes(r, "stderr", res->err.data, res->err.len);
    json_object_set_new(r, "stdout_bytes", json_integer((json_int_t)res->out.total));
    json_object_set_new(r, "stderr_bytes", json_integer((json_int_t)res->err.total));
    json_object_set_new(r, "stdout_truncated", json_boolean(res->out.truncated));
    json_object_set_new(r, "stderr_truncated", json_boolean(res->err.truncated));
    if (res->import_info)
        json_object_set(r, "import", res->import_info);

    json_object_set_new(t, "prepare_ms", report_ms(res->t.prepare_ms));
    json_object_set_new(t, "boot_ms", report_ms(res->t.boot_ms));
    json_object_set_new(t, "agent_ready_ms", report_ms(res->t.agent_ready_ms));
    json_object_set_new(t, "transfer_ms", report_ms(res->t.transfer_ms));
    json_object_set_new(t, "run_ms", report_ms(res->t.run_ms));
    json_object_set_new(t, "teardown_ms", report_ms(res->t.teardown_ms));
    json_object_set_new(t, "total_ms", report_ms(res->t.total_ms));
    json_object_set_new(t, "kill_ms", report_ms(res->t.kill_ms));
    json_object_set_new(t, "diff_ms", report_ms(res->t.diff_ms));
    json_object_set_new(r, "timings", t);

    json_object_set_new(r, "accel", json_string(res->accel_kvm ? "kvm" : "tcg"));
    report_set_str(r, "accel_reason", res->accel_reason);
    if (res->have_usage) {
        usage = json_object();
        json_object_set_new(usage, "cpu_ms", json_integer((json_int_t)res->cpu_ms));
        json_object_set_new(usage, "maxrss_kb", json_integer((json_int_t)res->maxrss_kb));
        json_object_set_new(r, "usage", usage);
    } else {
        json_object_set_new(r, "usage", json_null());
    }
    report_set_str(img, "path", res->image.path ? res->image.path : opts->image);
    json_object_set_new(img, "format", json_string(opts->format == IMAGE_RAW ? "raw" : "qcow2"));
    json_object_set_new(img, "sha256",
                        res->image.digest[0] ? json_string(res->image.digest) : json_null());
    report_set_str(img, "root_device", res->root_device);
    json_object_set_new(r, "image", img);
    report_set_str(r, "kernel", res->kernel);
    report_set_str(r, "agent_version", res->agent_version);
    report_set_str(r, "overlay", res->overlay_kept);
    json_object_set_new(
        r, "limits",
        json_pack("{s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "timeout_s", opts->timeout_s, "output_limit",
                  (json_int_t)opts->output_limit, "memory_mib", (json_int_t)opts->memory_mib,
                  "cpus", (json_int_t)opts->cpus, "cpu_s", (json_int_t)opts->limit_cpu_s, "nproc",
                  (json_int_t)opts->limit_nproc, "nofile", (json_int_t)opts->limit_nofile, "fsize",
                  (json_int_t)opts->limit_fsize));
    json_object_set_new(r, "confinement", report_confinement(&res->confinement));
    json_object_set_new(r, "changes", res->changes ? json_incref(res->changes) : json_null());
    /* Messages quote paths, which need not be UTF-8: encoded like output. */
    if (res->diff_error)
        report_set_bytes(r, "diff_error", (const unsigned char *)res->diff_error->message,
                         strlen(res->diff_error->message));
    else
        json_object_set_new(r, "diff_error", json_null());
    if (res->status == RUN_ERROR && res->error) {
        json_t *e = json_pack("{s:s}", "kind",
                              res->error->kind == VR_ERR_USAGE ? "usage" : "infrastructure");
        report_set_bytes(e, "message", (const unsigned char *)res->error->message,
                         strlen(res->error->message));
        json_object_set_new(r, "error", e);
    } else {
        json_object_set_new(r, "error", json_null());
    }
    return r;
}

void
report_print_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);

    while (left > 0) {
        size_t n = report_utf8_seq(p, left);
        if (n == 0 || (n == 1 && ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f))) {
            fprintf(out, "\\x%02x", *p);
            n = 1;
        } else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
            /* C1 controls (U+0080..U+009F): CSI and friends on some terminals */
            fprintf(out, "\\x%02x\\x%02x", p[0], p[1]);
        } else {
            fwrite(p, 1, n, out);
        }
        p += n;
        left -= n;
    }
}
