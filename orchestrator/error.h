/* SPDX-License-Identifier: Apache-2.0 */
/*
 * error: the error object every fallible host function fills.
 *
 * Convention: `int f(..., struct vr_error **errp)` returns a negative value and
 * sets *errp on failure, leaves *errp untouched on success. Library code never
 * prints; main() reports. `kind` keeps apart the two failure classes that a
 * grader must never confuse: vmrun's own failure (infrastructure) and bad
 * input from the user (usage).
 */
#ifndef VMRUN_ERROR_H
#define VMRUN_ERROR_H

enum vr_error_kind {
    VR_ERR_INFRA, /* vmrun, QEMU, libvirt, the image or the agent failed */
    VR_ERR_USAGE, /* the command line or an input file is wrong */
};

struct vr_error {
    enum vr_error_kind kind;
    int errnum;    /* errno when one applies, else 0 */
    char *message; /* complete sentence, no trailing newline */
};

/* Fill *errp (if errp and *errp is still NULL) and return -1. A system error
 * text is appended when errnum != 0. */
__attribute__((format(printf, 4, 5))) int
vr_error_set(struct vr_error **errp, enum vr_error_kind kind, int errnum, const char *fmt, ...);
/* Prefix an existing error's message with context ("while X: "). Returns -1. */
__attribute__((format(printf, 2, 3))) int vr_error_prefix(struct vr_error **errp, const char *fmt,
                                                          ...);
void vr_error_free(struct vr_error *e);

#define vr_fail(errp, errnum, ...) vr_error_set((errp), VR_ERR_INFRA, (errnum), __VA_ARGS__)
#define vr_usage(errp, ...) vr_error_set((errp), VR_ERR_USAGE, 0, __VA_ARGS__)

#endif
