/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report: the JSON record of a run (schema in docs/report-schema.md) and the
 * exit status derived from it.
 */
#ifndef VMRUN_REPORT_H
#define VMRUN_REPORT_H

#include <jansson.h>
#include <stdio.h>
#include <stddef.h>

#include "cli.h"
#include "run.h"

#define REPORT_EXIT_FAILURE 125
#define REPORT_EXIT_TIMEOUT 124
#define REPORT_EXIT_INTERRUPTED 130
#define REPORT_EXIT_DISK_LIMIT (128 + 25) /* as a shell shows death by SIGXFSZ */
/* --fail-on-violation and the module changed what it was not allowed to. */
#define REPORT_EXIT_VIOLATION 123

json_t *report_build(const struct vr_options *opts, const struct run_result *res);
/* The module's verdict alone (see also report_final_status). */
int report_exit_status(const struct run_result *res);
/* What vmrun exits with: the verdict, unless the disk diff failed (125) or
 * found violations under --fail-on-violation (123). */
int report_final_status(const struct vr_options *opts, const struct run_result *res);
const char *report_status_name(enum run_status s);

/* Put bytes into obj as a JSON string under key: as they are when valid
 * UTF-8 (NUL included, escaped by JSON), else with each invalid byte replaced
 * by U+FFFD under key and the exact bytes in base64 under key_base64. */
int report_set_bytes(json_t *obj, const char *key, const unsigned char *data, size_t len);

/* Length of the valid UTF-8 sequence at s (1..4 bytes, at most left), or 0
 * when the bytes there are not one (shared with diffpath.c). */
size_t report_utf8_seq(const unsigned char *s, size_t left);

/* Helpers exposed for tests. */
int report_utf8_valid(const unsigned char *s, size_t len);
char *report_base64(const unsigned char *data, size_t len);

/* Write text for a terminal: valid UTF-8 as it is, except control
 * characters (newline and tab kept) and invalid bytes, written as \xNN, so
 * that nothing the guest said (an agent's error, its console) can send
 * escape sequences to the operator's terminal. */
void report_print_text(FILE *out, const char *s);

#endif
