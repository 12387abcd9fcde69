/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: the command line of `vmrun`, parsed into struct vr_options.
 * Parsing validates every value (ranges, formats, files that must exist are
 * checked later by the modules that open them) and never prints.
 */
#ifndef VMRUN_CLI_H
#define VMRUN_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum vr_accel_choice { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };
enum vr_image_format { IMAGE_QCOW2, IMAGE_RAW };
enum vr_action { ACTION_RUN, ACTION_HELP, ACTION_VERSION };
/* Same values as diff.h's enum diff_mode. */
enum vr_diff_choice { CLI_DIFF_NONE, CLI_DIFF_META, CLI_DIFF_FULL };

#define CLI_DISK_LIMIT_MIN (1ULL << 20)

struct vr_options {
    enum vr_action action;

    const char *image;
    const char *module;
    char **args; /* module arguments (points into argv), n_args of them */
    size_t n_args;

    enum vr_image_format format;
    int allow_backing;
    const char *connect_uri; /* NULL: private embedded driver */
    enum vr_accel_choice accel;
    double timeout_s;       /* wall clock for the module, from its start */
    double boot_timeout_s;  /* start of the domain to agent ready */
    double agent_timeout_s; /* longest silence from the agent while the module runs */
    uint64_t output_limit;  /* bytes per stream */
    const char *keep_overlay;
    uint64_t disk_limit; /* bytes the overlay may reach on the host; 0 = the default */
    unsigned memory_mib;
    unsigned cpus;
    const char *stdin_file;
    const char **inputs; /* --input FILE, n_inputs of them */
    size_t n_inputs;
    const char **env; /* "K=V" strings, n_env of them */
    size_t n_env;
    int user_root;
    const char *report_file;
    int json;
    int import_mode;
    const char *root_dev;
    const char *kernel;
    const char *initrd;
    /* rlimits inside the guest; 0 = no limit */
    uint64_t limit_cpu_s;
    uint64_t limit_nproc;
    uint64_t limit_nofile;
    uint64_t limit_fsize;
    /* the disk diff after the run (docs/diff.md) */
    enum vr_diff_choice diff;
    uint64_t diff_max_entries;
    int diff_times;
    const char *extract_dir;
    uint64_t extract_limit;
    const char **allow_write; /* --allow-write PATTERN, n_allow_write of them */
    size_t n_allow_write;
    int fail_on_violation;
    int quiet;
    int verbose;
};

/* Parse argv (argv[0] is the program). On success fills *opts (which keeps
 * pointers into argv) and returns 0. Errors are VR_ERR_USAGE. */
int cli_parse(int argc, char **argv, struct vr_options *opts, struct vr_error **errp);
void cli_options_free(struct vr_options *opts);

/* The text of `vmrun --help`. */
const char *cli_usage(void);

/* Parsers shared with tests: they accept exactly what --help documents. */
int cli_parse_seconds(const char *s, double *out);
int cli_parse_size(const char *s, uint64_t *out);
int cli_parse_uint(const char *s, uint64_t max, uint64_t *out);

#endif
