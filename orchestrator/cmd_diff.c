/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_diff: `vmrun diff [OPTIONS] BASE OVERLAY`, the disk diff of any base and
 * overlay pair (e.g. an overlay kept with --keep-overlay). A subcommand's
 * main: it parses its own options, prints, and returns the exit status.
 */
#include "cmd_diff.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "changes.h"
#include "cleanup.h"
#include "cli.h"
#include "diff.h"
#include "fileio.h"

#define CMD_DIFF_EXIT_FAILURE 125

static const char cmd_diff_usage_text[] =
    "Usage: vmrun diff [OPTIONS] BASE OVERLAY\n"
    "       vmrun diff --check [--accel auto|kvm|tcg] [--json]\n"
    "Report what differs between a base image and a qcow2 overlay backed by it.\n"
    "With --check, launch one libguestfs appliance set up as a diff sets it up\n"
    "(direct backend, TCG forced unless KVM really works) and report the time.\n"
    "\n"
    "  --format qcow2|raw       format of BASE (default qcow2)\n"
    "  --diff full|meta|none    full: hash changed regular files (default); meta: no hashing\n"
    "  --diff-max-entries N     list at most N changes (default 10000); counts stay exact\n"
    "  --diff-times             mtime/ctime changes count, directories included\n"
    "  --extract DIR            copy added and modified regular files into DIR\n"
    "  --extract-limit SIZE     at most SIZE bytes extracted (default 256M)\n"
    "  --allow-write PATTERN    allowed guest paths (repeatable; fnmatch with FNM_LEADING_DIR)\n"
    "  --fail-on-violation      exit 123 when a change is outside every --allow-write pattern\n"
    "  --root DEV               root filesystem (/dev/vda or /dev/vdaN); default: found\n"
    "  --accel auto|kvm|tcg     accelerator for the libguestfs appliance (default auto)\n"
    "  --check                  only launch the appliance once (used by 'vmrun doctor')\n"
    "  --json                   print the changes object (JSON) on stdout\n"
    "  --report FILE            write the changes object (JSON) to FILE\n"
    "  -q, --quiet              no summary on stderr\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: 0 compared (with or without changes) or, with --check, launched;\n"
    "123 violations with --fail-on-violation; 125 vmrun failed (bad option, image\n"
    "or appliance).\n";

enum {
    OPT_FORMAT = 256,
    OPT_DIFF,
    OPT_MAX,
    OPT_TIMES,
    OPT_EXTRACT,
    OPT_EXTRACT_LIMIT,
    OPT_ALLOW,
    OPT_FAIL,
    OPT_ROOT,
    OPT_ACCEL,
    OPT_JSON,
    OPT_REPORT,
    OPT_CHECK,
};

static const struct option cmd_diff_long[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"diff", required_argument, NULL, OPT_DIFF},
    {"diff-max-entries", required_argument, NULL, OPT_MAX},
    {"diff-times", no_argument, NULL, OPT_TIMES},
    {"extract", required_argument, NULL, OPT_EXTRACT},
    {"extract-limit", required_argument, NULL, OPT_EXTRACT_LIMIT},
    {"allow-write", required_argument, NULL, OPT_ALLOW},
    {"fail-on-violation", no_argument, NULL, OPT_FAIL},
    {"root", required_argument, NULL, OPT_ROOT},
    {"accel", required_argument, NULL, OPT_ACCEL},
    {"json", no_argument, NULL, OPT_JSON},
    {"report", required_argument, NULL, OPT_REPORT},
    {"check", no_argument, NULL, OPT_CHECK},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

__attribute__((format(printf, 1, 2))) static int
cmd_diff_bad(const char *fmt, ...)
{
    va_list ap;

    fputs("vmrun diff: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(see 'vmrun diff --help')\n", stderr);
    return CMD_DIFF_EXIT_FAILURE;
}

static int
cmd_diff_write(json_t *changes, const char *report, int json)
{
    _cleanup_free_ char *text = json_dumps(changes, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    size_t len;

    if (!text)
        return -1;
    len = strlen(text);
    if (report) {
        text[len] = '\n';
        if (fileio_write_atomic(report, text, len + 1, 0644) < 0) {
            fprintf(stderr, "vmrun diff: cannot write the report to '%s': %s\n", report,
                    strerror(errno));
            return -1;
        }
        text[len] = '\0';
    }
    if (json) {
        fputs(text, stdout);
        fputc('\n', stdout);
        if (fflush(stdout) != 0)
            return -1;
    }
    return 0;
}

/* --check: one appliance launch; the result on stdout (one line, or one JSON
 * object with --json), the error on stderr. */
static int
cmd_diff_check(int kvm, int json)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_json_ json_t *out = NULL;
    _cleanup_free_ char *text = NULL;
    double ms = 0;
    int r = diff_check_appliance(kvm, &ms, &err);

    if (r < 0)
        fprintf(stderr, "vmrun diff: error: %s\n", err->message);
    else if (!json)
        printf("libguestfs appliance launched in %.1f s (backend direct%s)\n", ms / 1000.0,
               kvm ? ", KVM" : ", TCG forced");
    if (json) {
        out = json_pack("{s:b, s:s, s:b}", "launched", r == 0, "backend", "direct", "force_tcg",
                        !kvm);
        if (!out)
            return CMD_DIFF_EXIT_FAILURE;
        json_object_set_new(out, "launch_ms", r == 0 ? json_integer((json_int_t)ms) : json_null());
        json_object_set_new(out, "error", r == 0 ? json_null() : json_string(err->message));
        text = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (text)
            printf("%s\n", text);
    }
    if (fflush(stdout) != 0)
        return CMD_DIFF_EXIT_FAILURE;
    return r == 0 ? 0 : CMD_DIFF_EXIT_FAILURE;
}

int
cmd_diff(int argc, char **argv)
{
    struct diff_options o = {.mode = DIFF_FULL,
                             .max_entries = DIFF_DEFAULT_MAX_ENTRIES,
                             .extract_limit = DIFF_DEFAULT_EXTRACT_LIMIT};
    _cleanup_free_ const char **allow = NULL;
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_json_ json_t *changes = NULL;
    enum vr_accel_choice accel = ACCEL_AUTO;
    struct accel_result ar;
    const char *format = "qcow2", *report = NULL;
    int quiet = 0, json = 0, fail = 0, check = 0, c;

    allow = calloc((size_t)argc + 1, sizeof(*allow));
    if (!allow)
        return CMD_DIFF_EXIT_FAILURE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+qh", cmd_diff_long, NULL)) != -1) {
        switch (c) {
        case OPT_FORMAT:
            if (strcmp(optarg, "qcow2") != 0 && strcmp(optarg, "raw") != 0)
                return cmd_diff_bad("--format must be qcow2 or raw, not '%s'", optarg);
            format = optarg;
            break;
        case OPT_DIFF:
            if (diff_mode_parse(optarg, &o.mode) < 0)
                return cmd_diff_bad("--diff must be full, meta or none, not '%s'", optarg);
            break;
        case OPT_MAX:
            if (cli_parse_uint(optarg, UINT32_MAX, &o.max_entries) < 0)
                return cmd_diff_bad("--diff-max-entries: '%s' is not a number", optarg);
            break;
        case OPT_TIMES: o.times = 1; break;
        case OPT_EXTRACT: o.extract_dir = optarg; break;
        case OPT_EXTRACT_LIMIT:
            if (cli_parse_size(optarg, &o.extract_limit) < 0)
                return cmd_diff_bad("--extract-limit: '%s' is not a size", optarg);
            break;
        case OPT_ALLOW:
            if (optarg[0] != '/')
                return cmd_diff_bad("--allow-write: '%s' must start with '/'", optarg);
            allow[o.n_allow++] = optarg;
            break;
        case OPT_FAIL: fail = 1; break;
        case OPT_ROOT: o.root_dev = optarg; break;
        case OPT_ACCEL:
            if (strcmp(optarg, "auto") == 0)
                accel = ACCEL_AUTO;
            else if (strcmp(optarg, "kvm") == 0)
                accel = ACCEL_KVM;
            else if (strcmp(optarg, "tcg") == 0)
                accel = ACCEL_TCG;
            else
                return cmd_diff_bad("--accel must be auto, kvm or tcg, not '%s'", optarg);
            break;
        case OPT_JSON: json = 1; break;
        case OPT_REPORT: report = optarg; break;
        case OPT_CHECK: check = 1; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(cmd_diff_usage_text, stdout); return 0;
        default: return cmd_diff_bad("%s", "bad option");
        }
    }
    if (check && argc - optind != 0)
        return cmd_diff_bad("%s", "--check takes no BASE or OVERLAY");
    if (!check && argc - optind != 2)
        return cmd_diff_bad("%s", "expected BASE and OVERLAY");
    o.allow = allow;
    if (accel_choose(accel, &ar, &err) < 0) {
        fprintf(stderr, "vmrun diff: %s\n", err->message);
        return CMD_DIFF_EXIT_FAILURE;
    }
    if (check)
        return cmd_diff_check(ar.kvm, json);
    o.kvm = ar.kvm;
    if (diff_images(argv[optind], format, argv[optind + 1], &o, &changes, &err) < 0) {
        fprintf(stderr, "vmrun diff: error: %s\n", err->message);
        return CMD_DIFF_EXIT_FAILURE;
    }
    if (!quiet)
        changes_summary(changes, stderr);
    if ((report || json) && cmd_diff_write(changes, report, json) < 0)
        return CMD_DIFF_EXIT_FAILURE;
    if (fail && changes_has_violations(changes))
        return DIFF_EXIT_VIOLATION;
    return 0;
}
