/* SPDX-License-Identifier: Apache-2.0 */
#include "reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "confine.h"
#include "fileio.h"

/* Field n (>= 3) of /proc/PID/stat as a number; 0 when unreadable. */
static unsigned long long
reaper_stat_field(pid_t pid, int n)
{
    char path[64], buf[1024];
    unsigned long long v = 0;
    char *p;
    int field;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (fileio_read_small(path, buf, sizeof(buf) - 1) <= 0)
        return 0;
    p = strrchr(buf, ')'); /* the command name may contain spaces and ')' */
    if (!p)
        return 0;
    for (field = 2; *p && field < n; p++) {
        if (*p == ' ')
            field++;
    }
    if (sscanf(p, "%llu", &v) != 1)
        return 0;
    return v;
}

pid_t
reaper_parent_of(pid_t pid)
{
    return (pid_t)reaper_stat_field(pid, 4);
}

/* Field 22 of /proc/PID/stat: the process's start time, to tell a live owner
 * from a recycled pid. 0 when the process does not exist. */
static unsigned long long
reaper_start_time(pid_t pid)
{
    return reaper_stat_field(pid, 22);
}

int
reaper_kill_qemu(pid_t pid, const char *domain_name)
{
    char path[64], cmdline[8192];
    ssize_t n, i;
    int pidfd;

    if (pid <= 1)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    n = fileio_read_small(path, cmdline, sizeof(cmdline) - 1);
    if (n <= 0)
        return 0;
    for (i = 0; i < n; i++) {
        if (cmdline[i] == '\0')
            cmdline[i] = ' ';
    }
    if (!strstr(cmdline, domain_name))
        return 0;
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (kill(pid, SIGKILL) < 0) {
        if (pidfd >= 0)
            close(pidfd);
        return 0;
    }
    if (pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        while (poll(&p, 1, 2000) < 0 && errno == EINTR)
            ;
        close(pidfd);
    }
    return 1;
}

/* Kill the run's QEMU, remove its overlay (named on the owner file's second
 * line, when vmrun was to delete it), the lock file reserving QEMU's uid (the
 * third line) and its run directory. */
static void
reaper_cleanup_dir(const char *run_dir, const char *domain_name, pid_t qemu)
{
    char path[4096], buf[8400];
    char *line, *save = NULL;
    int n = 0;

    if (qemu <= 0) {
        snprintf(path, sizeof(path), "%s/qemu.pid", run_dir);
        if (fileio_read_small(path, buf, 31) > 0)
            qemu = (pid_t)atol(buf);
    }
    reaper_kill_qemu(qemu, domain_name);
    snprintf(path, sizeof(path), "%s/owner", run_dir);
    if (fileio_read_small(path, buf, sizeof(buf) - 1) > 0) {
        /* owner, overlay, uid lock: one per line, empty when there is none */
        for (line = buf; line && n < 3; line = save, n++) {
            save = strchr(line, '\n');
            if (save)
                *save++ = '\0';
            if (n == 1 && line[0] == '/')
                unlink(line);
            else if (n == 2 && line[0] == '/')
                confine_drop_stale_lock(line);
        }
    }
    fileio_remove_tree(run_dir);
}

/* The watchdog's whole life. Never returns. */
__attribute__((noreturn)) static void
reaper_watch(int fd, const char *run_dir, const char *domain_name)
{
    struct sigaction sa = {.sa_handler = SIG_IGN};
    sigset_t none;
    pid_t qemu = 0;
    char buf[64];
    size_t have = 0;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    setsid();
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        /* messages: "p<pid>\n" and "d" */
        for (;;) {
            char *nl;
            if (buf[0] == 'd')
                _exit(0);
            nl = memchr(buf, '\n', have);
            if (!nl)
                break;
            *nl = '\0';
            if (buf[0] == 'p')
                qemu = (pid_t)atol(buf + 1);
            have -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have);
            buf[have] = '\0';
            if (have == 0)
                break;
        }
        if (have >= sizeof(buf) - 1)
            have = 0;
    }
    reaper_cleanup_dir(run_dir, domain_name, qemu);
    _exit(0);
}

int
reaper_start(struct reaper *r, const char *run_dir, const char *domain_name, const char *overlay,
             const char *uid_lock, struct vr_error **errp)
{
    char path[4096], owner[8400];
    int pipefd[2];
    pid_t pid;
    int len;

    r->pid = -1;
    r->fd = -1;
    snprintf(path, sizeof(path), "%s/owner", run_dir);
    len = snprintf(owner, sizeof(owner), "%ld %llu %s\n%s\n%s\n", (long)getpid(),
                   reaper_start_time(getpid()), domain_name, overlay ? overlay : "",
                   uid_lock ? uid_lock : "");
    if (len < 0 || (size_t)len >= sizeof(owner))
        return vr_fail(errp, ENAMETOOLONG, "cannot record the run's owner");
    if (fileio_write_atomic(path, owner, (size_t)len, 0600) < 0)
        return vr_fail(errp, errno, "cannot write '%s'", path);
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return vr_fail(errp, errno, "cannot create the watchdog pipe");
    pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return vr_fail(errp, saved, "cannot start the watchdog process");
    }
    if (pid == 0) {
        /* Keep only the pipe: the watchdog must hold nothing of vmrun's. */
        if (dup2(pipefd[0], 3) < 0)
            _exit(1);
        syscall(SYS_close_range, 4, ~0U, 0);
        for (int fd = 0; fd < 3; fd++) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0 && null != fd) {
                dup2(null, fd);
                close(null);
            }
        }
        reaper_watch(3, run_dir, domain_name);
    }
    close(pipefd[0]);
    r->pid = pid;
    r->fd = pipefd[1];
    return 0;
}

void
reaper_set_qemu(struct reaper *r, const char *run_dir, pid_t qemu)
{
    char msg[32], path[4096];
    int len;

    len = snprintf(msg, sizeof(msg), "p%ld\n", (long)qemu);
    if (r->fd >= 0 && write(r->fd, msg, (size_t)len) < 0) {
        /* the watchdog is gone; the sweep still has qemu.pid */
    }
    snprintf(path, sizeof(path), "%s/qemu.pid", run_dir);
    len = snprintf(msg, sizeof(msg), "%ld\n", (long)qemu);
    (void)fileio_write_atomic(path, msg, (size_t)len, 0600);
}

void
reaper_finish(struct reaper *r)
{
    if (r->fd >= 0) {
        if (write(r->fd, "d", 1) < 0) {
            /* gone already: nothing to dismiss */
        }
        close(r->fd);
        r->fd = -1;
    }
    if (r->pid > 0) {
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        r->pid = -1;
    }
}

int
reaper_sweep(const char *runs_dir)
{
    DIR *d = opendir(runs_dir);
    struct dirent *e;
    int reaped = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char dir[4096], path[4200], owner[4300], name[128] = "";
        unsigned long long start = 0;
        long pid = 0;

        if (strncmp(e->d_name, "vmrun-", 6) != 0)
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", runs_dir, e->d_name);
        snprintf(path, sizeof(path), "%s/owner", dir);
        if (fileio_read_small(path, owner, sizeof(owner) - 1) <= 0)
            continue; /* being set up right now, or not ours */
        if (sscanf(owner, "%ld %llu %127s", &pid, &start, name) != 3)
            continue;
        if (pid > 0 && reaper_start_time((pid_t)pid) == start)
            continue; /* its owner is alive */
        reaper_cleanup_dir(dir, name, 0);
        reaped++;
    }
    closedir(d);
    return reaped;
}
