/* SPDX-License-Identifier: Apache-2.0 */
#include "paths.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"

#ifndef VMRUN_DATADIR
#define VMRUN_DATADIR "/usr/local/share/vmrun"
#endif
#ifndef VMRUN_LIBEXECDIR
#define VMRUN_LIBEXECDIR "/usr/local/libexec/vmrun"
#endif

int
paths_state_dir(char **out, struct vr_error **errp)
{
    const char *env = getenv("VMRUN_STATE_DIR");
    char *dir = NULL;
    int r;

    if (env && *env)
        r = asprintf(&dir, "%s", env);
    else if (geteuid() == 0)
        r = asprintf(&dir, "/var/lib/vmrun");
    else if ((env = getenv("XDG_STATE_HOME")) && *env)
        r = asprintf(&dir, "%s/vmrun", env);
    else if ((env = getenv("HOME")) && *env)
        r = asprintf(&dir, "%s/.local/state/vmrun", env);
    else
        return vr_fail(errp, 0, "cannot find a state directory: set VMRUN_STATE_DIR or HOME");
    if (r < 0)
        return vr_fail(errp, ENOMEM, "cannot build the state directory path");
    /* As root, QEMU runs under a uid of its own that must walk to its
     * overlay below this directory (confine.c): search permission only. */
    if (fileio_mkdirs(dir, geteuid() == 0 ? 0711 : 0700) < 0 ||
        (geteuid() == 0 && !(env && *env) && chmod(dir, 0711) < 0)) {
        int saved = errno;
        vr_fail(errp, saved, "cannot create the state directory '%s'", dir);
        free(dir);
        return -1;
    }
    *out = dir;
    return 0;
}

int
paths_runtime_dir(char **out, struct vr_error **errp)
{
    const char *env = getenv("VMRUN_RUNTIME_DIR");
    char *dir = NULL;
    struct stat st;
    int r;

    if (env && *env)
        r = asprintf(&dir, "%s", env);
    else if (geteuid() == 0)
        r = asprintf(&dir, "/run/vmrun");
    else if ((env = getenv("XDG_RUNTIME_DIR")) && *env)
        r = asprintf(&dir, "%s/vmrun", env);
    else
        r = asprintf(&dir, "/tmp/vmrun-%lu", (unsigned long)geteuid());
    if (r < 0)
        return vr_fail(errp, ENOMEM, "cannot build the runtime directory path");
    /* 0711 as root, for QEMU's own uid to reach its socket (confine.c) */
    if (fileio_mkdirs(dir, geteuid() == 0 ? 0711 : 0700) < 0 ||
        (geteuid() == 0 && !(env && *env) && chmod(dir, 0711) < 0) || lstat(dir, &st) < 0) {
        int saved = errno;
        vr_fail(errp, saved, "cannot create the runtime directory '%s'", dir);
        free(dir);
        return -1;
    }
    /* in a shared directory such as /tmp, refuse one someone else made */
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0066)) {
        vr_fail(errp, 0,
                "the runtime directory '%s' is not a private directory of this user (set "
                "VMRUN_RUNTIME_DIR)",
                dir);
        free(dir);
        return -1;
    }
    *out = dir;
    return 0;
}

/* The first accessible (with mode) of: env/name, <binary's dir>/sub[1]name,
 * <binary's dir>/sub[2]name, builtin/name. */
static int
paths_first(const char *const sub[4], const char *env, const char *builtin, const char *name,
            int mode, char **out)
{
    char exe[PATH_MAX];
    char *candidates[4] = {NULL, NULL, NULL, NULL};
    const char *dir = NULL;
    ssize_t n;
    int i, found = -1;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        dir = dirname(exe);
    }
    for (i = 0; i < 4; i++) {
        const char *base = i == 0 ? env : i == 3 ? builtin : dir;
        if (base && *base && asprintf(&candidates[i], "%s/%s%s", base, sub[i], name) < 0)
            candidates[i] = NULL;
    }
    for (i = 0; i < 4 && found < 0; i++) {
        if (candidates[i] && access(candidates[i], mode) == 0)
            found = i;
    }
    if (found >= 0)
        *out = realpath(candidates[found], NULL);
    for (i = 0; i < 4; i++)
        free(candidates[i]);
    return found >= 0 && *out ? 0 : -1;
}

int
paths_guest_file(const char *name, char **out, struct vr_error **errp)
{
    static const char *const sub[4] = {"", "guest/", "../share/vmrun/", ""};

    if (paths_first(sub, getenv("VMRUN_GUEST_DIR"), VMRUN_DATADIR, name, R_OK, out) < 0)
        return vr_fail(errp, 0,
                       "cannot find the guest file '%s' (looked in $VMRUN_GUEST_DIR, next to the "
                       "vmrun binary and in %s); run 'make guest' or 'make install'",
                       name, VMRUN_DATADIR);
    return 0;
}

int
paths_helper(const char *name, char **out, struct vr_error **errp)
{
    static const char *const sub[4] = {"", "", "../libexec/vmrun/", ""};

    if (paths_first(sub, getenv("VMRUN_LIBEXEC_DIR"), VMRUN_LIBEXECDIR, name, X_OK, out) < 0)
        return vr_fail(errp, 0,
                       "cannot find vmrun's helper '%s' (looked in $VMRUN_LIBEXEC_DIR, next to the "
                       "vmrun binary and in %s); run 'make' or 'make install'",
                       name, VMRUN_LIBEXECDIR);
    return 0;
}
