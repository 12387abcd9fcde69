/* SPDX-License-Identifier: Apache-2.0 */
/*
 * changes: reading the `changes` object of a disk diff (docs/diff.md) without
 * libguestfs, so that both vmrun (after a run) and vmrun-diff can print it.
 */
#include "changes.h"

#include <string.h>

#include "cleanup.h"
#include "diffpath.h"

int
changes_has_violations(const json_t *changes)
{
    const json_t *n = json_object_get(changes, "violations_total");
    return json_is_integer(n) && json_integer_value(n) > 0;
}

/* A string of the changes object, escaped as paths are (it describes the
 * untrusted disk, or comes from the helper that read it): never a control
 * character or a bare byte on the terminal. "?" when it is not a string. */
static void
changes_print_str(FILE *out, const json_t *v)
{
    if (json_is_string(v))
        diffpath_print(out, json_string_value(v), json_string_length(v));
    else
        fputc('?', out);
}

static void
changes_summary_list(const json_t *changes, const char *name, const char *sign, FILE *out)
{
    const json_t *l = json_object_get(changes, name), *e;
    size_t i;

    json_array_foreach(l, i, e)
    {
        _cleanup_free_ char *p = NULL;
        const json_t *type;
        size_t len = 0;
        if (i == 20) {
            fprintf(out, "    ... (%zu more listed in the report)\n", json_array_size(l) - 20);
            break;
        }
        p = diffpath_json_get(e, "path", &len);
        fprintf(out, "  %s ", sign);
        type = json_object_get(e, "type");
        changes_print_str(out, type);
        /* as "%-7s" did, for the type names vmrun-diff writes */
        for (size_t w = json_is_string(type) ? json_string_length(type) : 1; w < 7; w++)
            fputc(' ', out);
        fputc(' ', out);
        if (p)
            diffpath_print(out, p, len);
        if (json_is_array(json_object_get(e, "changed")) && strcmp(name, "added") != 0) {
            const json_t *ch;
            size_t k;
            fputs(" (", out);
            json_array_foreach(json_object_get(e, "changed"), k, ch)
            {
                if (k)
                    fputs(", ", out);
                changes_print_str(out, ch);
            }
            fputc(')', out);
        }
        fputc('\n', out);
    }
}

void
changes_summary(const json_t *changes, FILE *out)
{
    const char *status = json_string_value(json_object_get(changes, "status"));
    const json_t *counts = json_object_get(changes, "counts");

    if (!status)
        return;
    if (strcmp(status, "skipped") == 0) {
        fprintf(out, "disk diff: skipped (--diff=none)\n");
        return;
    }
    if (strcmp(status, "unreadable") == 0) {
        _cleanup_free_ char *why = NULL;
        size_t len = 0;
        /* error_base64, when present, holds the message's exact bytes */
        why = diffpath_json_get(changes, "error", &len);
        fputs("disk diff: ", out);
        if (why)
            diffpath_print(out, why, len);
        else
            fputs("the overlay cannot be read", out);
        fputc('\n', out);
        return;
    }
    if (strcmp(status, "unchanged") == 0) {
        fprintf(out, "disk diff: no changes (the overlay holds no written cluster)\n");
        return;
    }
    fprintf(out,
            "disk diff: %" JSON_INTEGER_FORMAT " added, %" JSON_INTEGER_FORMAT
            " deleted, %" JSON_INTEGER_FORMAT " modified, %" JSON_INTEGER_FORMAT
            " metadata only%s\n",
            json_integer_value(json_object_get(counts, "added")),
            json_integer_value(json_object_get(counts, "deleted")),
            json_integer_value(json_object_get(counts, "modified")),
            json_integer_value(json_object_get(counts, "metadata")),
            json_is_true(json_object_get(changes, "truncated")) ? " (list truncated)" : "");
    changes_summary_list(changes, "added", "+", out);
    changes_summary_list(changes, "deleted", "-", out);
    changes_summary_list(changes, "modified", "M", out);
    changes_summary_list(changes, "metadata", "m", out);
    if (json_is_array(json_object_get(changes, "violations")))
        fprintf(out, "disk diff: %" JSON_INTEGER_FORMAT " change(s) outside --allow-write\n",
                json_integer_value(json_object_get(changes, "violations_total")));
}
