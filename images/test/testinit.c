/*
 * testinit: a throw-away PID 1 that proves a vmrun kernel + image boot.
 *
 * How it works: packed as /init into a test initramfs (images/test/boot-test.sh),
 * it mounts devtmpfs, proc and sysfs, prints what the kernel found (virtio-serial
 * port names, block devices, hwrng), mounts the root named by `vmrun_test.root=`
 * on the kernel command line (default /dev/vda) read-only as ext4 on /newroot,
 * brings up `lo`, says hello on the virtio-serial port named org.vmrun.agent.0,
 * chroots and runs python3, then powers off. Every line starts with
 * "testinit:" and the CLOCK_BOOTTIME uptime so the host can grep and time it.
 * Without ACPI (acpi=off) power-off is impossible, so it reboots instead:
 * with `reboot=t` and QEMU's -no-reboot that ends the VM.
 *
 * This is not the guest agent; it only exercises what the agent will rely on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
    struct timespec ts;
    va_list ap;

    clock_gettime(CLOCK_BOOTTIME, &ts);
    printf("testinit: [%5ld.%06ld] ", (long)ts.tv_sec, ts.tv_nsec / 1000);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void
cat(const char *path)
{
    char buf[512];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        say("%s: %s", path, strerror(errno));
        return;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    say("%s = '%s'", path, buf);
}

static void
mnt(const char *src, const char *dst, const char *type, unsigned long flags, const char *data)
{
    mkdir(dst, 0755);
    if (mount(src, dst, type, flags, data) < 0)
        say("mount %s on %s (%s): %s", src, dst, type, strerror(errno));
}

static void
list(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char line[1024] = "";

    if (!d) {
        say("%s: %s", dir, strerror(errno));
        return;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        if (strlen(line) + strlen(e->d_name) + 2 < sizeof(line)) {
            strcat(line, " ");
            strcat(line, e->d_name);
        }
    }
    closedir(d);
    say("%s/%s*:%s", dir, prefix, line);
}

/* Returns the value of KEY=... on the kernel command line, or DEF. */
static const char *
cmdline_get(const char *key, const char *def)
{
    static char buf[4096];
    char *tok, *save;
    size_t klen = strlen(key);
    ssize_t n;
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return def;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return def;
    buf[n] = '\0';
    for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
        if (strncmp(tok, key, klen) == 0 && tok[klen] == '=')
            return tok + klen + 1;
    return def;
}

static void
virtio_ports(void)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    char path[512], name[256];

    if (!d) {
        say("/sys/class/virtio-ports: %s", strerror(errno));
        return;
    }
    while ((e = readdir(d))) {
        int fd;
        ssize_t n;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
        cat(path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, name, sizeof(name) - 1);
        close(fd);
        if (n <= 0)
            continue;
        name[n] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (strcmp(name, "org.vmrun.agent.0") == 0) {
            static const char hello[] = "hello from testinit\n";

            snprintf(path, sizeof(path), "/dev/%s", e->d_name);
            fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
            if (fd < 0 || write(fd, hello, sizeof(hello) - 1) < 0)
                say("%s: %s", path, strerror(errno));
            else
                say("wrote hello to %s", path);
            if (fd >= 0)
                close(fd);
        }
    }
    closedir(d);
}

static void
lo_up(void)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0))
        say("lo up: %s", strerror(errno));
    if (s >= 0)
        close(s);
}

static int
run(char *const argv[])
{
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int
main(void)
{
    static const char py[] =
        "import socket, os, sys, time; print(42); "
        "s = socket.create_server(('127.0.0.1', 0)); "
        "c = socket.create_connection(s.getsockname()); "
        "print('lo ok', s.getsockname()[1] > 0, 'cpus', os.cpu_count(), "
        "'py', sys.version.split()[0], 'time', int(time.time()))";
    char *py_argv[] = {"/usr/bin/python3", "-c", (char *)py, NULL};
    const char *root;
    int rc;

    say("started, pid %d", (int)getpid());
    mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    cat("/proc/cmdline");
    list("/dev", "vd");
    list("/dev", "vport");
    list("/dev", "hvc");
    virtio_ports();
    cat("/sys/class/misc/hw_random/rng_current");
    lo_up();

    root = cmdline_get("vmrun_test.root", "/dev/vda");
    mnt(root, "/newroot", "ext4", MS_RDONLY, NULL);
    mnt("tmpfs", "/newroot/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mnt("/dev", "/newroot/dev", NULL, MS_BIND | MS_REC, NULL);
    mnt("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    if (chroot("/newroot") < 0 || chdir("/") < 0) {
        say("chroot: %s", strerror(errno));
    } else {
        say("running python3 from %s", root);
        rc = run(py_argv);
        say("python3 exit %d", rc);
        rc = run(py_argv);
        say("python3 (warm) exit %d", rc);
    }
    cat("/proc/sys/kernel/random/entropy_avail");
    sync();
    /*
     * Without ACPI the kernel turns RB_POWER_OFF into a halt that never
     * returns; there, a reboot (triple fault with reboot=t) plus QEMU's
     * -no-reboot or libvirt's on_reboot=destroy is what ends the VM.
     */
    if (access("/sys/firmware/acpi/tables", F_OK) == 0) {
        say("powering off (ACPI)");
        reboot(RB_POWER_OFF);
    } else {
        say("rebooting (no ACPI)");
        reboot(RB_AUTOBOOT);
    }
    say("reboot(): %s", strerror(errno));
    for (;;)
        pause();
}
