/* SPDX-License-Identifier: Apache-2.0 */
/* command.c: how it owns its child is told at the top of command.h. */
#include "command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "command_priv.h"
#include "deadline.h"

extern char **environ;

/* ---- the child ---------------------------------------------------------- */

/* SIGKILL *pid and reap it; *wstatus gets its status (may be NULL). */
static void
command_kill(pid_t *pid, int *wstatus)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGKILL);
    while (waitpid(*pid, wstatus, 0) < 0 && errno == EINTR)
        ;
    *pid = -1;
}

static void
command_killp(pid_t *pid)
{
    int saved = errno;

    command_kill(pid, NULL);
    errno = saved;
}
/* A child still owned on a return path is killed and reaped. */
#define _cleanup_command_child_ __attribute__((cleanup(command_killp)))

/* Reap *pid, which has closed its output: 0 with *wstatus, 1 when the
 * deadline (0: none) came first (it still runs), -1 with errno. */
static int
command_wait(pid_t *pid, int64_t deadline, int *wstatus)
{
    /* it may linger after closing its output: a pidfd tells when it ends */
    _cleanup_close_ int pidfd = deadline ? (int)syscall(SYS_pidfd_open, *pid, 0) : -1;

    for (;;) {
        pid_t w = waitpid(*pid, wstatus, deadline ? WNOHANG : 0);
        int ms;

        if (w == *pid) {
            *pid = -1;
            return 0;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            *pid = -1; /* not ours to wait for (ECHILD): nor to kill */
            return -1;
        }
        ms = deadline_poll_ms(deadline);
        if (ms == 0)
            return 1;
        if (pidfd >= 0)
            poll(&(struct pollfd){.fd = pidfd, .events = POLLIN}, 1, ms);
        else /* no pidfd (kernel before 5.3): look again soon */
            nanosleep(&(struct timespec){.tv_nsec = (ms < 10 ? ms : 10) * DEADLINE_NS_PER_MS},
                      NULL);
    }
}

/* Start argv with stdin from /dev/null and its output on new pipes: *out_fd
 * gets stdout (and stderr when merge), *err_fd stderr (else -1). */
static int
command_spawn(const char *const argv[], int merge, pid_t *pid, int *out_fd, int *err_fd,
              struct vr_error **errp)
{
    posix_spawn_file_actions_t fa;
    int outp[2] = {-1, -1}, errp2[2] = {-1, -1};
    int r;

    if (pipe2(outp, O_CLOEXEC) < 0 || (!merge && pipe2(errp2, O_CLOEXEC) < 0)) {
        int saved = errno;
        if (outp[0] >= 0) {
            close(outp[0]);
            close(outp[1]);
        }
        return vr_fail(errp, saved, "cannot create pipes to run '%s'", argv[0]);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, merge ? outp[1] : errp2[1], 2);
    r = posix_spawnp(pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(outp[1]);
    if (errp2[1] >= 0)
        close(errp2[1]);
    if (r != 0) {
        *pid = -1;
        close(outp[0]);
        if (errp2[0] >= 0)
            close(errp2[0]);
        return vr_fail(errp, r, "cannot run '%s'", argv[0]);
    }
    *out_fd = outp[0];
    *err_fd = errp2[0];
    return 0;
}

/* ---- what it says -------------------------------------------------------- */

/* Append n bytes to a buffer that keeps the last max; 1 when bytes were
 * dropped. */
static int
command_tail_add(char *tail, size_t *len, size_t max, const char *data, size_t n)
{
    int dropped = *len + n > max;

    if (n >= max) {
        memcpy(tail, data + n - max, max);
        *len = max;
        return dropped;
    }
    if (dropped) {
        size_t drop = *len + n - max;
        memmove(tail, tail + drop, *len - drop);
        *len -= drop;
    }
    memcpy(tail + *len, data, n);
    *len += n;
    return dropped;
}

/* Grow *buf to hold at least need bytes (+1 for the NUL), doubling, never
 * past max+1. Returns 0, or -1 when need is beyond max or memory is short. */
static int
command_grow(char **buf, size_t *cap, size_t need, size_t max)
{
    size_t want = *cap ? *cap : 65536;
    char *grown;

    if (need > max || need == SIZE_MAX)
        return -1;
    if (need + 1 <= *cap)
        return 0;
    while (want < need + 1)
        want = want <= SIZE_MAX / 2 ? want * 2 : need + 1;
    if (max < SIZE_MAX && want > max + 1)
        want = max + 1;
    grown = realloc(*buf, want);
    if (!grown)
        return -1;
    *buf = grown;
    *cap = want;
    return 0;
}

/* Standard output as it is kept. */
struct command_out {
    char *buf;
    size_t len, cap;
    int too_big;   /* past out_max, and not kept (COMMAND_OVERFLOW_FAIL) */
    int no_memory; /* not kept: memory ran out */
    int truncated; /* past out_max, and cut as o->overflow says */
};

static void
command_out_freep(struct command_out *s)
{
    free(s->buf);
}

/* Keep n more bytes of standard output as o says. 1 when the child has said
 * enough (the head is kept): it is to be killed. */
static int
command_keep(struct command_out *s, const struct command_opts *o, const char *data, size_t n)
{
    size_t room;

    if (s->too_big || s->no_memory || (s->truncated && o->overflow == COMMAND_OVERFLOW_HEAD))
        return 0; /* keep draining so the child never blocks */
    if (o->overflow == COMMAND_OVERFLOW_TAIL) {
        if (command_grow(&s->buf, &s->cap, s->len + n < o->out_max ? s->len + n : o->out_max,
                         o->out_max) < 0) {
            s->no_memory = 1;
            return 0;
        }
        if (command_tail_add(s->buf, &s->len, o->out_max, data, n))
            s->truncated = 1;
        return 0;
    }
    if (command_grow(&s->buf, &s->cap, s->len + n, o->out_max) == 0) {
        memcpy(s->buf + s->len, data, n);
        s->len += n;
        return 0;
    }
    if (s->len + n <= o->out_max) {
        s->no_memory = 1;
        return 0;
    }
    if (o->overflow == COMMAND_OVERFLOW_FAIL) {
        s->too_big = 1;
        return 0;
    }
    if (command_grow(&s->buf, &s->cap, o->out_max, o->out_max) < 0) {
        s->no_memory = 1;
        return 0;
    }
    room = o->out_max - s->len;
    memcpy(s->buf + s->len, data, room);
    s->len += room;
    s->truncated = 1;
    return 1;
}

int
command_marker_init(struct command_marker *m, const char *marker)
{
    size_t len = marker ? strlen(marker) : 0;

    m->s = marker;
    m->len = len;
    m->carry_len = 0;
    return len <= COMMAND_MARKER_MAX ? 0 : -1;
}

int
command_marker_feed(struct command_marker *m, const char *data, size_t n)
{
    char seam[2 * COMMAND_MARKER_MAX];
    size_t keep = m->len ? m->len - 1 : 0, head = n < keep ? n : keep, drop;
    int found;

    if (!m->len)
        return 0;
    /* one that starts in the bytes before ends in the first len-1 of these */
    memcpy(seam, m->carry, m->carry_len);
    memcpy(seam + m->carry_len, data, head);
    found = memmem(seam, m->carry_len + head, m->s, m->len) || memmem(data, n, m->s, m->len);
    if (n >= keep) {
        memcpy(m->carry, data + n - keep, keep);
        m->carry_len = keep;
        return found;
    }
    drop = m->carry_len + n > keep ? m->carry_len + n - keep : 0;
    memmove(m->carry, m->carry + drop, m->carry_len - drop);
    m->carry_len -= drop;
    memcpy(m->carry + m->carry_len, data, n);
    m->carry_len += n;
    return found;
}

/* ---- the whole run ------------------------------------------------------- */

int
command_capture_opts(const char *const argv[], const struct command_opts *o,
                     struct command_result *r, struct vr_error **errp)
{
    _cleanup_command_child_ pid_t pid = -1;
    _cleanup_close_ int out_fd = -1;
    _cleanup_close_ int err_fd = -1;
    __attribute__((cleanup(command_out_freep))) struct command_out s = {0};
    struct command_marker m;
    char tail[COMMAND_OUTPUT_MAX + 1];
    size_t tail_len = 0;
    int stop = 0, wstatus = 0;
    int64_t t0 = deadline_now();

    memset(r, 0, sizeof(*r));
    r->status = -1;
    if (command_marker_init(&m, o->marker) < 0)
        return vr_fail(errp, EINVAL, "the marker to watch for in the output of '%s' is too long",
                       argv[0]);
    if (command_spawn(argv, o->merge, &pid, &out_fd, &err_fd, errp) < 0)
        return -1;
    if (command_grow(&s.buf, &s.cap, 0, o->out_max) < 0)
        s.no_memory = 1;
    while (!stop && (out_fd >= 0 || err_fd >= 0)) {
        struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
        int ms = o->deadline ? deadline_poll_ms(o->deadline) : -1;

        if (ms == 0) {
            r->timed_out = stop = 1;
            break;
        }
        if (poll(p, 2, ms) < 0) {
            if (errno == EINTR)
                continue;
            return vr_fail(errp, errno, "cannot wait for '%s'", argv[0]);
        }
        for (int i = 0; i < 2 && !stop; i++) {
            int *fd = i == 0 ? &out_fd : &err_fd;
            char chunk[16384];
            ssize_t n;

            if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(*fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(steal_fd(fd));
                continue;
            }
            if (i == 1) {
                command_tail_add(tail, &tail_len, COMMAND_OUTPUT_MAX, chunk, (size_t)n);
                continue;
            }
            /* the head is kept: what it wrote before it died is drained */
            if (command_keep(&s, o, chunk, (size_t)n))
                kill(pid, SIGKILL);
            if (command_marker_feed(&m, chunk, (size_t)n)) {
                r->marker_seen = stop = 1;
                r->marker_ms = deadline_ms_between(t0, deadline_now());
            }
        }
    }
    if (!stop) {
        /* end of file on both: it is exiting, or lingers without its output */
        int w = command_wait(&pid, o->deadline, &wstatus);
        if (w < 0)
            return vr_fail(errp, errno, "cannot wait for '%s'", argv[0]);
        r->timed_out = w == 1;
    }
    command_kill(&pid, &wstatus); /* at the deadline or the marker */
    if (s.no_memory || s.too_big)
        return vr_fail(errp, s.no_memory ? ENOMEM : EFBIG, "the output of '%s' is too large",
                       argv[0]);
    tail[tail_len] = '\0';
    r->err = strdup(tail);
    if (!r->err)
        return vr_fail(errp, ENOMEM, "cannot keep the output of '%s'", argv[0]);
    s.buf[s.len] = '\0';
    r->out = steal_ptr(&s.buf);
    r->out_len = s.len;
    r->err_len = tail_len;
    r->truncated = s.truncated;
    r->signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    r->status = r->signal ? 128 + r->signal : WEXITSTATUS(wstatus);
    return 0;
}

void
command_result_clear(struct command_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
    r->status = -1;
}

/* ---- the two classic shapes ------------------------------------------------ */

int
command_capture(const char *const argv[], size_t out_max, char **out, size_t *out_len,
                char **err_tail, int *status, int *truncated, struct vr_error **errp)
{
    struct command_opts o = {
        .out_max = out_max,
        .overflow = truncated ? COMMAND_OVERFLOW_HEAD : COMMAND_OVERFLOW_FAIL,
    };
    struct command_result r;

    if (truncated)
        *truncated = 0;
    if (command_capture_opts(argv, &o, &r, errp) < 0)
        return -1;
    *out = steal_ptr(&r.out);
    *out_len = r.out_len;
    *err_tail = steal_ptr(&r.err);
    *status = r.status;
    if (truncated)
        *truncated = r.truncated;
    return 0;
}

int
command_run(const char *const argv[], struct vr_error **errp)
{
    /* stderr merged: the error is usually at the end of what it says */
    struct command_opts o = {
        .out_max = COMMAND_OUTPUT_MAX, .overflow = COMMAND_OVERFLOW_TAIL, .merge = 1};
    struct command_result r;
    char *out;
    size_t len;
    int rc = 0;

    if (command_capture_opts(argv, &o, &r, errp) < 0)
        return -1;
    out = r.out;
    len = r.out_len;
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
        out[--len] = '\0';
    if (r.signal)
        rc = vr_fail(errp, 0, "%s was killed by signal %d", argv[0], r.signal);
    else if (r.status != 0)
        rc = vr_fail(errp, 0, "%s failed (exit status %d): %s", argv[0], r.status,
                     len ? out : "(no output)");
    command_result_clear(&r);
    return rc;
}
