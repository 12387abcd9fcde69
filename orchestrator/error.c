/* SPDX-License-Identifier: Apache-2.0 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 1, 0))) static char *
error_vformat(const char *fmt, va_list ap)
{
    char *s = NULL;

    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    return s;
}

int
vr_error_set(struct vr_error **errp, enum vr_error_kind kind, int errnum, const char *fmt, ...)
{
    struct vr_error *e;
    char *msg, *full = NULL;
    va_list ap;

    if (!errp || *errp)
        return -1;
    va_start(ap, fmt);
    msg = error_vformat(fmt, ap);
    va_end(ap);
    if (msg && errnum != 0) {
        if (asprintf(&full, "%s: %s", msg, strerror(errnum)) < 0)
            full = NULL;
        free(msg);
        msg = full;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        free(msg);
        return -1;
    }
    e->kind = kind;
    e->errnum = errnum;
    e->message = msg ? msg : strdup("out of memory while reporting an error");
    *errp = e;
    return -1;
}

int
vr_error_prefix(struct vr_error **errp, const char *fmt, ...)
{
    char *prefix, *full = NULL;
    va_list ap;

    if (!errp || !*errp)
        return -1;
    va_start(ap, fmt);
    prefix = error_vformat(fmt, ap);
    va_end(ap);
    if (prefix && asprintf(&full, "%s: %s", prefix, (*errp)->message) >= 0) {
        free((*errp)->message);
        (*errp)->message = full;
    }
    free(prefix);
    return -1;
}

void
vr_error_free(struct vr_error *e)
{
    if (!e)
        return;
    free(e->message);
    free(e);
}
