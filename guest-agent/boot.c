/* SPDX-License-Identifier: Apache-2.0 */
/*
 * boot.c: what the agent does as PID 1 before it can talk to the host.
 *
 * How it works. The kernel starts the agent with nothing mounted. It mounts
 * devtmpfs, proc and sysfs, then looks for the image's root filesystem: the
 * device named by vmrun.root= on the kernel command line, else /dev/vda itself
 * and then its partitions in order (from /sys/block/vda), each mounted
 * read-write as ext4 at /newroot and kept if it holds usr/bin/python3 or
 * bin/python3. The module later runs chrooted there, so proc, devtmpfs (with a
 * tmpfs on dev/shm) and sysfs are mounted inside it where the image has the
 * mount points; the image is not otherwise changed. Devices and the
 * virtio-serial port may show up a little after init starts, so both are
 * waited for (a few seconds, polling every 20 ms). No udev: the port is found
 * by scanning /sys/class/virtio-ports/<dev>/name and opening /dev/<dev>.
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#define BOOT_WAIT_MS 5000
#define BOOT_POLL_MS 20

static void
boot_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void
boot_mount(const char *src, const char *dst, const char *type, unsigned long flags,
           const char *data)
{
    if (mkdir(dst, 0755) < 0 && errno != EEXIST)
        agent_log_error("mkdir '%s': %s", dst, strerror(errno));
    if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
        agent_log_error("mount %s on '%s': %s", type, dst, strerror(errno));
}

void
boot_early(void)
{
    int fd;

    boot_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    boot_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    boot_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    /* Without /dev/console in the initramfs the kernel leaves fds 0-2 closed;
     * fill them so no descriptor we open later can land there. */
    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 3)
        ;
    if (fd >= 3)
        close(fd);
}

int
boot_console(void)
{
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        fd = open("/dev/ttyS0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    return fd;
}

void
boot_loopback_up(void)
{
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};

    if (fd < 0) {
        agent_log_debug("no AF_INET socket (%s): lo left down", strerror(errno));
        return;
    }
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        agent_log_debug("SIOCGIFFLAGS lo: %s", strerror(errno));
        return;
    }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        agent_log_debug("SIOCSIFFLAGS lo: %s", strerror(errno));
}

void
boot_cmdline(int *debug, char *root, size_t root_size)
{
    _cleanup_close_ int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    char buf[4096];
    ssize_t n;
    char *tok, *save = NULL;

    if (fd < 0)
        return;
    do {
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n < 0 && errno == EINTR);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (tok = strtok_r(buf, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
        if (strcmp(tok, "vmrun.debug=1") == 0)
            *debug = 1;
        else if (strncmp(tok, "vmrun.root=", 11) == 0 && strncmp(tok + 11, "/dev/", 5) == 0 &&
                 !strstr(tok, "..") && strlen(tok + 11) < root_size)
            strcpy(root, tok + 11);
    }
}

static int
boot_has_python(void)
{
    struct stat st;

    /* lstat: an absolute symlink would resolve outside the image from here. */
    return fstatat(AT_FDCWD, AGENT_NEWROOT "/usr/bin/python3", &st, AT_SYMLINK_NOFOLLOW) == 0 ||
           fstatat(AT_FDCWD, AGENT_NEWROOT "/bin/python3", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int
boot_is_dir(const char *path)
{
    struct stat st;
    return fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* Appends "DEV (why)" to the list of devices tried. */
static void
boot_tried(char *tried, size_t size, const char *dev, const char *why)
{
    size_t used = strlen(tried);
    snprintf(tried + used, size - used, "%s%s (%s)", used ? ", " : "", dev, why);
}

/* Tries one device; 1 when it is the root, 0 when not. */
static int
boot_try_root(const char *dev, char *tried, size_t tried_size)
{
    if (mount(dev, AGENT_NEWROOT, "ext4", 0, NULL) < 0) {
        boot_tried(tried, tried_size, dev, strerror(errno));
        return 0;
    }
    if (boot_has_python())
        return 1;
    boot_tried(tried, tried_size, dev, "no python3");
    if (umount(AGENT_NEWROOT) < 0)
        agent_log_error("umount '%s': %s", AGENT_NEWROOT, strerror(errno));
    return 0;
}

static int
boot_wait_for(const char *path)
{
    struct stat st;
    int waited;

    for (waited = 0; waited < BOOT_WAIT_MS; waited += BOOT_POLL_MS) {
        if (stat(path, &st) == 0)
            return 1;
        boot_sleep_ms(BOOT_POLL_MS);
    }
    return stat(path, &st) == 0;
}

static int
boot_partition_filter(const struct dirent *d)
{
    return strncmp(d->d_name, "vda", 3) == 0 && d->d_name[3] != '\0';
}

/* Mounts what the module's root needs, where the image has the mount point. */
static void
boot_mount_inside(void)
{
    if (boot_is_dir(AGENT_NEWROOT "/proc"))
        boot_mount("proc", AGENT_NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    if (boot_is_dir(AGENT_NEWROOT "/dev")) {
        boot_mount("devtmpfs", AGENT_NEWROOT "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
        /* dev/shm lives in devtmpfs, not in the image. */
        boot_mount("tmpfs", AGENT_NEWROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    }
    if (boot_is_dir(AGENT_NEWROOT "/sys"))
        boot_mount("sysfs", AGENT_NEWROOT "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

int
boot_mount_root(const char *override, char *dev, size_t dev_size, struct agent_error **errp)
{
    struct dirent **parts = NULL;
    char tried[768] = "";
    int n, i, found = 0;

    if (mkdir(AGENT_NEWROOT, 0755) < 0 && errno != EEXIST)
        return agent_error_set(errp, errno, "cannot create '%s': %s", AGENT_NEWROOT,
                               strerror(errno));
    if (override) {
        if (!boot_wait_for(override))
            return agent_error_set(errp, ENOENT, "root device '%s' (vmrun.root) did not appear",
                                   override);
        if (!boot_try_root(override, tried, sizeof(tried)))
            return agent_error_set(errp, ENOENT, "no root filesystem with python3 on '%s': %s",
                                   override, tried);
        snprintf(dev, dev_size, "%s", override);
        boot_mount_inside();
        return 0;
    }
    if (!boot_wait_for("/sys/block/vda"))
        return agent_error_set(errp, ENOENT,
                               "no root filesystem with python3 found on /dev/vda: the disk "
                               "did not appear");
    if (boot_try_root("/dev/vda", tried, sizeof(tried))) {
        snprintf(dev, dev_size, "/dev/vda");
        found = 1;
    } else {
        n = scandir("/sys/block/vda", &parts, boot_partition_filter, versionsort);
        for (i = 0; i < n; i++) {
            char path[300];
            snprintf(path, sizeof(path), "/dev/%s", parts[i]->d_name);
            if (!found && boot_try_root(path, tried, sizeof(tried))) {
                snprintf(dev, dev_size, "%s", path);
                found = 1;
            }
            free(parts[i]);
        }
        free(parts);
    }
    if (!found)
        return agent_error_set(
            errp, ENOENT, "no root filesystem with python3 found on /dev/vda: tried %s", tried);
    boot_mount_inside();
    return 0;
}

/* Returns the open port, -1 when it is not there (yet). */
static int
boot_find_port(void)
{
    DIR *dir = opendir("/sys/class/virtio-ports");
    struct dirent *d;
    int fd = -1;

    if (!dir)
        return -1;
    while (fd < 0 && (d = readdir(dir))) {
        char path[512], name[128];
        _cleanup_close_ int nfd = -1;
        ssize_t n;

        if (d->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", d->d_name);
        nfd = open(path, O_RDONLY | O_CLOEXEC);
        if (nfd < 0)
            continue;
        do {
            n = read(nfd, name, sizeof(name) - 1);
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            continue;
        name[n] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (strcmp(name, WIRE_PORT_NAME) != 0)
            continue;
        snprintf(path, sizeof(path), "/dev/%s", d->d_name);
        fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
            agent_log_debug("open '%s': %s", path, strerror(errno));
    }
    closedir(dir);
    return fd;
}

int
boot_open_port(struct agent_error **errp)
{
    int waited, fd;

    for (waited = 0; waited <= BOOT_WAIT_MS; waited += BOOT_POLL_MS) {
        fd = boot_find_port();
        if (fd >= 0)
            return fd;
        boot_sleep_ms(BOOT_POLL_MS);
    }
    return agent_error_set(errp, ENOENT, "virtio-serial port '%s' not found after %d ms",
                           WIRE_PORT_NAME, BOOT_WAIT_MS);
}

_Noreturn void
boot_halt(void)
{
    sync();
    reboot(RB_POWER_OFF);
    /* Without ACPI the VM may not power off: wait for the host to destroy it. */
    for (;;)
        boot_sleep_ms(3600 * 1000);
}
