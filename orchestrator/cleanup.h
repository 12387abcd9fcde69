/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cleanup: scope-bound release of resources with __attribute__((cleanup)),
 * and steal_ptr()/steal_fd() to hand ownership on.
 */
#ifndef VMRUN_CLEANUP_H
#define VMRUN_CLEANUP_H

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "error.h"

static inline void
cleanup_freep(void *p)
{
    free(*(void **)p);
}

static inline void
cleanup_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

static inline void
cleanup_fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

static inline void
cleanup_json_decrefp(json_t **j)
{
    json_decref(*j);
}

static inline void
cleanup_errorp(struct vr_error **e)
{
    vr_error_free(*e);
}

#define _cleanup_free_ __attribute__((cleanup(cleanup_freep)))
#define _cleanup_close_ __attribute__((cleanup(cleanup_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(cleanup_fclosep)))
#define _cleanup_json_ __attribute__((cleanup(cleanup_json_decrefp)))
#define _cleanup_error_ __attribute__((cleanup(cleanup_errorp)))

#define steal_ptr(pp)                                                                              \
    ({                                                                                             \
        __typeof__(*(pp)) steal_tmp_ = *(pp);                                                      \
        *(pp) = NULL;                                                                              \
        steal_tmp_;                                                                                \
    })

static inline int
steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}

#endif
