/* SPDX-License-Identifier: Apache-2.0 */
/*
 * child.c: how child_run() owns its process. posix_spawn with stdin from
 * /dev/null and its output on pipes (O_CLOEXEC, so no other child inherits
 * them); one poll loop reads both pipes until the deadline, the marker or end
 * of file; a process still alive at the deadline or after its marker is
 * killed with SIGKILL and reaped by a cleanup attribute, on every return
 * path. After end of file on both pipes it is polled with WNOHANG, so a
 * program that closes its output and lingers cannot outlast the deadline.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "deadline.h"

extern char **environ;

static void
child_killp(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
            ;
        *pid = -1;
    }
}
#define _cleanup_child_ __attribute__((cleanup(child_killp)))

int
child_keep(char *buf, size_t *len, const char *chunk, size_t n, const char *marker)
{
    size_t mlen = marker ? strlen(marker) : 0;
    /* only a marker that ends in the new bytes: the old ones were searched */
    size_t from = mlen && *len >= mlen - 1 ? *len - (mlen - 1) : 0;
    int found;

    memcpy(buf + *len, chunk, n);
    *len += n;
    buf[*len] = '\0';
    found = mlen && memmem(buf + from, *len - from, marker, mlen) != NULL;
    if (*len > CHILD_KEEP) {
        memmove(buf, buf + *len - CHILD_KEEP, CHILD_KEEP);
        *len = CHILD_KEEP;
        buf[*len] = '\0';
    }
    return found;
}

int
child_run(const char *const argv[], int merge, const char *marker, double limit_s,
          struct child_result *p, struct vr_error **errp)
{
    _cleanup_child_ pid_t pid = -1;
    _cleanup_close_ int out_r = -1;
    _cleanup_close_ int err_r = -1;
    posix_spawn_file_actions_t fa;
    int outp[2], errp2[2] = {-1, -1};
    int64_t t0 = deadline_now(), deadline = t0 + (int64_t)(limit_s * DEADLINE_NS_PER_S);
    int r, wstatus = 0;

    p->out_len = p->err_len = 0;
    p->out[0] = p->err[0] = '\0';
    p->status = -1;
    p->timed_out = p->marker_seen = 0;
    if (pipe2(outp, O_CLOEXEC) < 0)
        return vr_fail(errp, errno, "cannot create a pipe to run '%s'", argv[0]);
    if (!merge && pipe2(errp2, O_CLOEXEC) < 0) {
        int saved = errno;
        close(outp[0]);
        close(outp[1]);
        return vr_fail(errp, saved, "cannot create a pipe to run '%s'", argv[0]);
    }
    out_r = outp[0];
    err_r = errp2[0];
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, merge ? outp[1] : errp2[1], 2);
    r = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(outp[1]);
    if (errp2[1] >= 0)
        close(errp2[1]);
    if (r != 0) {
        pid = -1;
        return vr_fail(errp, r, "cannot run '%s'", argv[0]);
    }
    while (out_r >= 0 || err_r >= 0) {
        struct pollfd pf[2] = {{.fd = out_r, .events = POLLIN}, {.fd = err_r, .events = POLLIN}};
        int ms = deadline_poll_ms(deadline);

        if (ms == 0) {
            p->timed_out = 1;
            break;
        }
        if (poll(pf, 2, ms) < 0) {
            if (errno == EINTR)
                continue;
            return vr_fail(errp, errno, "cannot wait for '%s'", argv[0]);
        }
        for (int i = 0; i < 2; i++) {
            int *fd = i == 0 ? &out_r : &err_r;
            char chunk[CHILD_CHUNK];
            ssize_t n;

            if (*fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(*fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(*fd);
                *fd = -1;
                continue;
            }
            if (i == 1) {
                child_keep(p->err, &p->err_len, chunk, (size_t)n, NULL);
            } else if (child_keep(p->out, &p->out_len, chunk, (size_t)n, marker)) {
                p->marker_seen = 1;
                p->marker_ms = deadline_ms_between(t0, deadline_now());
            }
        }
        if (p->marker_seen)
            break;
    }
    if (p->marker_seen || p->timed_out)
        return 0; /* the cleanup kills and reaps it */
    /* Both pipes closed: it is exiting, or lingers without its output. */
    for (;;) {
        pid_t w = waitpid(pid, &wstatus, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return vr_fail(errp, errno, "cannot wait for '%s'", argv[0]);
        if (deadline_poll_ms(deadline) == 0) {
            p->timed_out = 1;
            return 0;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    pid = -1;
    p->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return 0;
}
