/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_run: `vmrun [run] IMAGE MODULE`: parse the command line, run, report.
 * Like every cmd_*.c, a subcommand's main: it prints vmrun's own messages and
 * chooses the exit status; the library below it does neither.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "changes.h"
#include "cleanup.h"
#include "cli.h"
#include "cmd_run.h"
#include "fileio.h"
#include "report.h"
#include "run.h"
#include "version.h"

/* "vmrun: PREFIX MESSAGE" on stderr; messages quote what the guest, an
 * image or a user's file said, so they go through report_print_text. */
static void
main_say(const char *prefix, const char *message)
{
    fprintf(stderr, "vmrun: %s", prefix);
    report_print_text(stderr, message);
    fputc('\n', stderr);
}

static void
main_progress(void *opaque, const char *message)
{
    (void)opaque;
    main_say("", message);
}

static void
main_print_tail(const char *title, const char *text)
{
    if (!text || !*text)
        return;
    fprintf(stderr, "vmrun: ---- %s (last lines) ----\n", title);
    report_print_text(stderr, text);
    if (text[strlen(text) - 1] != '\n')
        fputc('\n', stderr);
}

static int
main_write_report(const struct vr_options *o, json_t *report)
{
    _cleanup_free_ char *text = json_dumps(report, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    int ret = 0;

    if (!text) {
        fprintf(stderr, "vmrun: cannot serialise the report\n");
        return -1;
    }
    if (o->report_file) {
        size_t len = strlen(text);
        text[len] = '\n';
        if (fileio_write_atomic(o->report_file, text, len + 1, 0644) < 0) {
            fprintf(stderr, "vmrun: cannot write the report to '%s': %s\n", o->report_file,
                    strerror(errno));
            ret = -1;
        }
        text[len] = '\0';
    }
    if (o->json) {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    return ret;
}

int
cmd_run(int argc, char **argv)
{
    struct vr_options opts;
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_json_ json_t *report = NULL;
    struct run_result res;
    struct run_io io;
    int status;

    if (cli_parse(argc, argv, &opts, &err) < 0) {
        main_say("", err->message);
        cli_options_free(&opts);
        return REPORT_EXIT_FAILURE;
    }
    if (opts.action == ACTION_HELP) {
        fputs(cli_usage(), stdout);
        cli_options_free(&opts);
        return 0;
    }
    if (opts.action == ACTION_VERSION) {
        printf("vmrun %s\n", VMRUN_VERSION);
        cli_options_free(&opts);
        return 0;
    }

    io = (struct run_io){
        .out_fd = opts.json ? -1 : STDOUT_FILENO,
        .err_fd = opts.json ? -1 : STDERR_FILENO,
        .progress = opts.verbose ? main_progress : NULL,
    };
    run_execute(&opts, &io, &res);
    status = report_final_status(&opts, &res);

    if (res.status == RUN_ERROR) {
        main_say("error: ", res.error ? res.error->message : "unknown failure");
        if (opts.verbose) {
            main_print_tail("guest console", res.console_text);
            main_print_tail("QEMU log", res.qemu_log_text);
        }
    } else if (!opts.quiet) {
        if (res.status == RUN_TIMEOUT)
            fprintf(stderr, "vmrun: timeout: the module ran past %g s; the VM was destroyed\n",
                    opts.timeout_s);
        else if (res.status == RUN_OOM)
            fprintf(stderr, "vmrun: the module ran out of memory (%u MiB guest)\n",
                    opts.memory_mib);
        else if (res.status == RUN_DISK_LIMIT)
            fprintf(stderr,
                    "vmrun: the guest wrote more than its disk limit (%llu bytes); the VM was "
                    "stopped\n",
                    (unsigned long long)res.confinement.disk_limit_bytes);
        if (res.out.truncated || res.err.truncated)
            fprintf(stderr, "vmrun: output truncated at %llu bytes per stream\n",
                    (unsigned long long)opts.output_limit);
        if (res.changes)
            changes_summary(res.changes, stderr);
        if (opts.verbose)
            fprintf(stderr, "vmrun: %s, %s in %.0f ms (boot to agent %.0f ms, run %.0f ms)\n",
                    report_status_name(res.status), res.accel_kvm ? "kvm" : "tcg", res.t.total_ms,
                    res.t.agent_ready_ms, res.t.run_ms);
    }
    if (res.diff_error)
        main_say("error: ", res.diff_error->message);
    if (opts.report_file || opts.json) {
        report = report_build(&opts, &res);
        if (!report || main_write_report(&opts, report) < 0)
            status = REPORT_EXIT_FAILURE;
    }
    run_result_free(&res);
    cli_options_free(&opts);
    return status;
}
