/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floorinit: PID 1 of the benchmark's floor VM (bench/run.sh, section 1).
 *
 * How it works: it does what vmrun's agent does before and around a run, and
 * nothing else. It mounts devtmpfs, proc and sysfs, mounts /dev/vda read-write
 * as ext4 on /newroot (the fresh overlay, as the agent does), mounts proc,
 * devtmpfs, dev/shm and sysfs inside it, copies /hello.py from the initramfs
 * (appended by run.sh) to /newroot/tmp/vmrun/hello.py (the agent's working
 * directory), and runs `python3 hello.py` there chrooted, as uid/gid 65534,
 * with the agent's environment. The module's stdout and stderr are the serial
 * console, which QEMU writes to a file that run.sh checks. Then it sync()s and
 * ends the VM: the domain has no ACPI, so power-off would only halt the CPU;
 * reboot(RB_AUTOBOOT) with `reboot=t` and QEMU's -no-reboot ends QEMU at once.
 * Lines of its own start with "floor:" and the CLOCK_BOOTTIME uptime.
 * No virtio-serial, no protocol: that is the difference being measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOBODY 65534

static void
say(const char *fmt, ...)
{
    struct timespec ts;
    char line[512];
    va_list ap;
    int n;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    n = snprintf(line, sizeof(line), "floor: [%ld.%06ld] ", (long)ts.tv_sec, ts.tv_nsec / 1000);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(2, line, (size_t)n);
}

static void
mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        say("mkdir %s: %s", dst, strerror(errno));
    if (mount(src, dst, type, flags, data) < 0)
        say("mount %s on %s: %s", type ? type : src, dst, strerror(errno));
}

/* Copies FROM to TO (created, mode 0644, owned by nobody). Returns 0 or -1. */
static int
copy(const char *from, const char *to)
{
    char buf[65536];
    ssize_t n;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int rc = in >= 0 && out >= 0 ? 0 : -1;

    while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0)
        if (n < 0 || write(out, buf, (size_t)n) != n)
            rc = -1;
    if (rc == 0 && fchown(out, NOBODY, NOBODY) < 0)
        rc = -1;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) < 0)
        rc = -1;
    return rc;
}

static int
run_module(void)
{
    static char *const argv[] = {"python3", "hello.py", NULL};
    /* the same environment as guest-agent/exec.c gives a module */
    static char *const envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp/vmrun",
                                 "LANG=C.UTF-8", "PYTHONUNBUFFERED=1",
                                 "PYTHONDONTWRITEBYTECODE=1", NULL};
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        if (chdir("/newroot/tmp/vmrun") < 0 || chroot("/newroot") < 0 || setsid() < 0 ||
            setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(126);
        umask(022);
        execve("/usr/bin/python3", argv, envp);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
main(void)
{
    int rc = -1;

    say("init started");
    mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("/dev/vda", "/newroot", "ext4", 0, NULL);
    mnt("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("devtmpfs", "/newroot/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mnt("tmpfs", "/newroot/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mnt("sysfs", "/newroot/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    if (mkdir("/newroot/tmp/vmrun", 0755) < 0 || chown("/newroot/tmp/vmrun", NOBODY, NOBODY) < 0 ||
        copy("/hello.py", "/newroot/tmp/vmrun/hello.py") < 0) {
        say("cannot set up /tmp/vmrun/hello.py: %s", strerror(errno));
    } else {
        say("running python3 hello.py");
        rc = run_module();
    }
    say("python3 exit %d", rc);
    sync();
    reboot(RB_AUTOBOOT);
    say("reboot: %s", strerror(errno));
    for (;;)
        pause();
}
