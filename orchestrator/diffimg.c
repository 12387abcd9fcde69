/* SPDX-License-Identifier: Apache-2.0 */
#include "diffimg.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

extern char **environ;

/* Run argv with stdout captured (at most DIFFIMG_OUTPUT_MAX bytes) and stderr
 * kept in a memfd for the error message. Returns 0 when it exited 0. */
static int
diffimg_capture(const char *const argv[], char **out, size_t *out_len, struct vr_error **errp)
{
    _cleanup_close_ int errfd = memfd_create("qemu-img-stderr", MFD_CLOEXEC);
    _cleanup_free_ char *buf = NULL;
    posix_spawn_file_actions_t fa;
    int pipefd[2], status = 0, r, capped = 0;
    size_t len = 0, cap = 0;
    pid_t pid;

    if (errfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
        return vr_fail(errp, errno, "cannot run %s", argv[0]);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (r != 0) {
        close(pipefd[0]);
        return vr_fail(errp, r, "cannot run %s", argv[0]);
    }
    for (;;) {
        ssize_t n;
        if (cap - len < 65536) {
            char *nb;
            if (cap >= DIFFIMG_OUTPUT_MAX) {
                capped = 1;
                break;
            }
            cap = cap ? cap * 2 : 262144;
            nb = realloc(buf, cap + 1);
            if (!nb)
                break;
            buf = nb;
        }
        n = read(pipefd[0], buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(pipefd[0]);
    /* Output past the cap: the caller has enough; do not let it block. */
    if (capped)
        kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return vr_fail(errp, errno, "cannot wait for %s", argv[0]);
    }
    if (!buf)
        buf = calloc(1, 1);
    if (!buf)
        return vr_fail(errp, ENOMEM, "cannot run %s", argv[0]);
    buf[len] = '\0';
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !(capped && WIFSIGNALED(status))) {
        char msg[1024];
        ssize_t n = pread(errfd, msg, sizeof(msg) - 1, 0);
        n = n < 0 ? 0 : n;
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            n--;
        msg[n] = '\0';
        return vr_usage(errp, "%s failed: %s", argv[0], n ? msg : "(no message)");
    }
    *out = steal_ptr(&buf);
    *out_len = len;
    return 0;
}

int
diffimg_check_pair(const char *base, const char *base_format, const char *overlay,
                   struct vr_error **errp)
{
    const char *argv[] = {"qemu-img", "info", "--output=json", "-f", "qcow2", overlay, NULL};
    _cleanup_free_ char *out = NULL, *base_real = NULL, *back_real = NULL;
    _cleanup_json_ json_t *info = NULL;
    const char *fmt, *back, *back_fmt;
    json_error_t jerr;
    size_t len = 0;

    base_real = realpath(base, NULL);
    if (!base_real)
        return vr_error_set(errp, VR_ERR_USAGE, errno, "cannot open base image '%s'", base);
    if (access(overlay, R_OK) < 0)
        return vr_error_set(errp, VR_ERR_USAGE, errno, "cannot open overlay '%s'", overlay);
    if (diffimg_capture(argv, &out, &len, errp) < 0)
        return vr_error_prefix(errp, "overlay '%s' is not a readable qcow2 image", overlay);
    info = json_loadb(out, len, 0, &jerr);
    if (!json_is_object(info))
        return vr_fail(errp, 0, "cannot parse qemu-img info for '%s': %s", overlay, jerr.text);
    fmt = json_string_value(json_object_get(info, "format"));
    back = json_string_value(json_object_get(info, "full-backing-filename"));
    back_fmt = json_string_value(json_object_get(info, "backing-filename-format"));
    if (!fmt || strcmp(fmt, "qcow2") != 0)
        return vr_usage(errp, "overlay '%s' is not a qcow2 image", overlay);
    if (!back)
        return vr_usage(errp, "overlay '%s' has no backing file; it is not an overlay of '%s'",
                        overlay, base);
    back_real = realpath(back, NULL);
    if (!back_real || strcmp(back_real, base_real) != 0)
        return vr_usage(errp,
                        "overlay '%s' is backed by '%s', not by the base '%s'; refusing to compare",
                        overlay, back, base);
    if (!back_fmt || strcmp(back_fmt, base_format) != 0)
        return vr_usage(errp,
                        "overlay '%s' does not pin its backing format to %s (it says '%s'); "
                        "refusing to compare",
                        overlay, base_format, back_fmt ? back_fmt : "nothing");
    return 0;
}

int
diffimg_map_has_depth0(const char *json, size_t len)
{
    static const char key[] = "\"depth\":";
    const char *p = json, *end = json + len;

    while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
        p += sizeof(key) - 1;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p == '0' && (p + 1 == end || p[1] < '0' || p[1] > '9'))
            return 1;
    }
    return 0;
}

int
diffimg_overlay_written(const char *overlay, int *written, struct vr_error **errp)
{
    const char *argv[] = {"qemu-img", "map", "--output=json", "-f", "qcow2", overlay, NULL};
    _cleanup_free_ char *out = NULL;
    size_t len = 0;

    if (diffimg_capture(argv, &out, &len, errp) < 0)
        return vr_error_prefix(errp, "cannot read the allocation map of overlay '%s'", overlay);
    /* A map cut at the cap may miss the answer: assume written. */
    *written = len >= DIFFIMG_OUTPUT_MAX || diffimg_map_has_depth0(out, len);
    return 0;
}
