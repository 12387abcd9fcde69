/* SPDX-License-Identifier: Apache-2.0 */
#include "command.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

extern char **environ;

int
command_run(const char *const argv[], struct vr_error **errp)
{
    char out[COMMAND_OUTPUT_MAX + 1];
    size_t out_len = 0;
    posix_spawn_file_actions_t fa;
    int pipefd[2] = {-1, -1};
    int status = 0, r;
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return vr_fail(errp, errno, "cannot create a pipe to run %s", argv[0]);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (r != 0) {
        close(pipefd[0]);
        return vr_fail(errp, r, "cannot run %s", argv[0]);
    }
    for (;;) {
        char chunk[1024];
        ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* keep the tail: the error is usually at the end (chunk < max) */
        if (out_len + (size_t)n > COMMAND_OUTPUT_MAX) {
            size_t drop = out_len + (size_t)n - COMMAND_OUTPUT_MAX;
            memmove(out, out + drop, out_len - drop);
            out_len -= drop;
        }
        memcpy(out + out_len, chunk, (size_t)n);
        out_len += (size_t)n;
    }
    close(pipefd[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return vr_fail(errp, errno, "cannot wait for %s", argv[0]);
    }
    out[out_len] = '\0';
    while (out_len > 0 && (out[out_len - 1] == '\n' || out[out_len - 1] == ' '))
        out[--out_len] = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        return vr_fail(errp, 0, "%s failed (exit status %d): %s", argv[0], WEXITSTATUS(status),
                       out_len ? out : "(no output)");
    return vr_fail(errp, 0, "%s was killed by signal %d", argv[0],
                   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Append n bytes to a tail buffer that keeps the last COMMAND_OUTPUT_MAX. */
static void
command_tail_add(char *tail, size_t *len, const char *data, size_t n)
{
    if (n >= COMMAND_OUTPUT_MAX) {
        memcpy(tail, data + n - COMMAND_OUTPUT_MAX, COMMAND_OUTPUT_MAX);
        *len = COMMAND_OUTPUT_MAX;
        return;
    }
    if (*len + n > COMMAND_OUTPUT_MAX) {
        size_t drop = *len + n - COMMAND_OUTPUT_MAX;
        memmove(tail, tail + drop, *len - drop);
        *len -= drop;
    }
    memcpy(tail + *len, data, n);
    *len += n;
}

/* Grow *buf to hold at least need bytes (+1 for the NUL), doubling, never
 * past max+1. Returns 0, or -1 when need is beyond max or memory is short. */
static int
command_grow(char **buf, size_t *cap, size_t need, size_t max)
{
    size_t want = *cap ? *cap : 65536;
    char *grown;

    if (need > max)
        return -1;
    if (need + 1 <= *cap)
        return 0;
    while (want < need + 1)
        want *= 2;
    if (want > max + 1)
        want = max + 1;
    grown = realloc(*buf, want);
    if (!grown)
        return -1;
    *buf = grown;
    *cap = want;
    return 0;
}

int
command_capture(const char *const argv[], size_t out_max, char **out, size_t *out_len,
                char **err_tail, int *status, int *truncated, struct vr_error **errp)
{
    posix_spawn_file_actions_t fa;
    int outp[2] = {-1, -1}, errp_[2] = {-1, -1};
    char *buf = NULL, tail[COMMAND_OUTPUT_MAX + 1];
    size_t len = 0, cap = 0, tail_len = 0;
    int too_big = 0, no_memory = 0, open_fds = 2, wstatus = 0, r;
    pid_t pid;

    if (truncated)
        *truncated = 0;
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp_, O_CLOEXEC) < 0) {
        int saved = errno;
        if (outp[0] >= 0) {
            close(outp[0]);
            close(outp[1]);
        }
        return vr_fail(errp, saved, "cannot create pipes to run %s", argv[0]);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp_[1], 2);
    r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(outp[1]);
    close(errp_[1]);
    if (r != 0) {
        close(outp[0]);
        close(errp_[0]);
        return vr_fail(errp, r, "cannot run %s", argv[0]);
    }
    if (command_grow(&buf, &cap, 0, out_max) < 0)
        no_memory = 1;
    while (open_fds > 0) {
        struct pollfd p[2] = {{.fd = outp[0], .events = POLLIN},
                              {.fd = errp_[0], .events = POLLIN}};
        char chunk[16384];
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            int *fd = i == 0 ? &outp[0] : &errp_[0];
            ssize_t n;
            if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(*fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(*fd);
                *fd = -1;
                open_fds--;
                continue;
            }
            if (i == 1) {
                command_tail_add(tail, &tail_len, chunk, (size_t)n);
                continue;
            }
            if (too_big || no_memory)
                continue; /* keep draining so the child never blocks */
            if (command_grow(&buf, &cap, len + (size_t)n, out_max) < 0) {
                size_t room = out_max - len;
                if (len + (size_t)n <= out_max) {
                    no_memory = 1;
                    continue;
                }
                too_big = 1;
                if (!truncated || command_grow(&buf, &cap, out_max, out_max) < 0)
                    continue;
                /* keep what fits, and the child has said enough */
                memcpy(buf + len, chunk, room);
                len += room;
                *truncated = 1;
                kill(pid, SIGKILL);
                continue;
            }
            memcpy(buf + len, chunk, (size_t)n);
            len += (size_t)n;
        }
    }
    if (outp[0] >= 0)
        close(outp[0]);
    if (errp_[0] >= 0)
        close(errp_[0]);
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    tail[tail_len] = '\0';
    if (no_memory || (too_big && !(truncated && *truncated))) {
        free(buf);
        return vr_fail(errp, no_memory ? ENOMEM : EFBIG, "the output of %s is too large", argv[0]);
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    *err_tail = strdup(tail);
    *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return 0;
}
