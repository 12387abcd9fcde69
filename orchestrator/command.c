/* SPDX-License-Identifier: Apache-2.0 */
#include "command.h"

#include <errno.h>
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
