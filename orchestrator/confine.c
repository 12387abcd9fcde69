/* SPDX-License-Identifier: Apache-2.0 */
/*
 * confine.c: who QEMU runs as.
 *
 * How it works: when vmrun runs as root with its embedded libvirt driver,
 * each run's QEMU gets a uid of its own from a reserved range, so a guest
 * that escapes into QEMU holds no privilege on the host and cannot touch
 * another run's QEMU, overlay or socket. A uid is reserved by an flock on
 * RUNTIME/uids/UID.lock held for the whole run (the kernel drops it if vmrun
 * dies); one with a passwd entry or any process still running as it is
 * skipped. The group is the uid's own number, or /dev/kvm's group when KVM
 * is used. The domain's static DAC label makes libvirt start QEMU under that
 * identity with no other group and no capabilities, and the driver's
 * qemu.conf (confine_qemu_conf) puts it in QEMU's seccomp sandbox (spawn,
 * privilege elevation, resource control and obsolete calls denied) and a
 * private mount namespace with a minimal /dev.
 * Whether QEMU can reach the files it needs is asked of the kernel from a
 * child that takes the identity, so a failure is reported before boot with
 * the path and the fix, not as a QEMU error after it.
 */
#include "confine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"

#define CONFINE_TRIES 256

void
confine_init(struct confine *cf)
{
    *cf = (struct confine){.lock_fd = -1};
}

/* The value after "Key:" on a line of a /proc status file, or NULL. */
static const char *
confine_field(const char *status, const char *key)
{
    size_t n = strlen(key);

    for (const char *line = status; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            return line + n + 1;
    }
    return NULL;
}

/* Whether the process whose /proc/PID/status is status is alive (not a
 * zombie: it holds nothing, and here PID 1 may never reap it) and has uid as
 * its real, effective, saved or filesystem uid. */
static int
confine_status_live_uid(const char *status, uid_t uid)
{
    const char *state = confine_field(status, "State");
    const char *v = confine_field(status, "Uid");
    unsigned long ids[4];

    if (!state || !v || sscanf(v, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
        return 0;
    if (state[strspn(state, " \t")] == 'Z')
        return 0;
    for (int i = 0; i < 4; i++) {
        if (ids[i] == (unsigned long)uid)
            return 1;
    }
    return 0;
}

int
confine_count_processes(uid_t uid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[64], status[2048];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%.20s/status", e->d_name);
        if (fileio_read_small(path, status, sizeof(status) - 1) > 0 &&
            confine_status_live_uid(status, uid))
            n++;
    }
    closedir(d);
    return n;
}

/* Take uid if it is free: returns the lock fd, or -1. */
static int
confine_try_uid(const char *dir, uid_t uid)
{
    char path[4096];
    struct passwd pw, *found = NULL;
    struct stat held, now;
    char buf[1024];
    int fd;

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found)
        return -1;
    snprintf(path, sizeof(path), "%s/%lu.lock", dir, (unsigned long)uid);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    /* confine_release unlinks the file: a lock taken on an inode that is no
     * longer at path reserves nothing */
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &held) < 0 || stat(path, &now) < 0 ||
        held.st_ino != now.st_ino || held.st_dev != now.st_dev ||
        confine_count_processes(uid) > 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int
confine_drop_stale_lock(const char *path)
{
    const char *base = strrchr(path, '/');
    unsigned long uid;
    char *end;
    int fd, dropped = 0;

    base = base ? base + 1 : path;
    uid = strtoul(base, &end, 10);
    if (base[0] < '0' || base[0] > '9' || strcmp(end, ".lock") != 0)
        return 0;
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    /* holding the lock while unlinking, with confine_try_uid's inode check,
     * keeps a vmrun reserving the same uid at this moment safe */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && confine_count_processes((uid_t)uid) == 0)
        dropped = unlink(path) == 0;
    close(fd);
    return dropped;
}

/* Remove the lock files of runs that died with nobody to clean up. */
static void
confine_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        confine_drop_stale_lock(path);
    }
    closedir(d);
}

int
confine_acquire(struct confine *cf, const char *runtime_dir, int kvm, struct vr_error **errp)
{
    _cleanup_free_ char *dir = NULL;
    uint32_t start = 0;

    if (geteuid() != 0)
        return 0;
    if (asprintf(&dir, "%s/uids", runtime_dir) < 0)
        return vr_fail(errp, ENOMEM, "cannot build paths");
    if (fileio_mkdirs(dir, 0700) < 0)
        return vr_fail(errp, errno, "cannot create '%s'", dir);
    confine_sweep(dir);
    if (getrandom(&start, sizeof(start), 0) != sizeof(start))
        return vr_fail(errp, errno, "cannot get random bytes");
    for (uint32_t i = 0; i < CONFINE_TRIES; i++) {
        uid_t uid = CONFINE_UID_BASE + (start + i) % CONFINE_UID_COUNT;
        int fd = confine_try_uid(dir, uid);
        if (fd < 0)
            continue;
        cf->active = 1;
        cf->uid = uid;
        cf->gid = (gid_t)uid;
        cf->lock_fd = fd;
        snprintf(cf->lock_path, sizeof(cf->lock_path), "%s/%lu.lock", dir, (unsigned long)uid);
        if (kvm) {
            struct stat st;
            if (stat("/dev/kvm", &st) == 0)
                cf->gid = st.st_gid;
        }
        return 0;
    }
    return vr_fail(errp, 0,
                   "no free uid for QEMU in %u..%u after %d tries (stale lock files in '%s'?)",
                   CONFINE_UID_BASE, CONFINE_UID_BASE + CONFINE_UID_COUNT - 1, CONFINE_TRIES, dir);
}

int
confine_check_access(const struct confine *cf, const char *path, int mode, const char *what,
                     const char *fix, struct vr_error **errp)
{
    int status = 0;
    pid_t pid;

    if (!cf->active)
        return 0;
    pid = fork();
    if (pid < 0)
        return vr_fail(errp, errno, "cannot fork");
    if (pid == 0) {
        if (setgroups(0, NULL) < 0 || setresgid(cf->gid, cf->gid, cf->gid) < 0 ||
            setresuid(cf->uid, cf->uid, cf->uid) < 0)
            _exit(255);
        _exit(access(path, mode) == 0 ? 0 : (errno & 0x7f) + 1);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return vr_fail(errp, errno, "cannot wait for the access check");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 255)
        return vr_fail(errp, 0, "cannot take uid %lu to check what QEMU can reach",
                       (unsigned long)cf->uid);
    return vr_error_set(errp, VR_ERR_USAGE, WIFEXITED(status) ? WEXITSTATUS(status) - 1 : 0,
                        "QEMU runs as the unprivileged uid %lu, which cannot %s the %s '%s': %s "
                        "(docs/security.md)",
                        (unsigned long)cf->uid, mode & W_OK ? "write" : "read", what, path, fix);
}

int
confine_give(const struct confine *cf, const char *path, struct vr_error **errp)
{
    if (!cf->active)
        return 0;
    if (chown(path, cf->uid, cf->gid) < 0 || chmod(path, 0600) < 0)
        return vr_fail(errp, errno, "cannot hand '%s' to uid %lu", path, (unsigned long)cf->uid);
    return 0;
}

/* libvirt's default identity stays root: it probes QEMU's capabilities
 * under it, and a probe under an unprivileged uid both invalidates the
 * shared capabilities cache (libvirt re-checks /dev/kvm for that uid) and
 * leaves daemonised probe processes that nothing reaps where PID 1 does not
 * reap orphans. Each domain's QEMU gets the run's uid from its own static
 * DAC label (domain.c) instead. dynamic_ownership off: libvirt must not
 * chown the shared base image or the kernel; vmrun hands QEMU exactly the
 * files it writes. */
const char confine_qemu_conf[] =
    "# written by vmrun for its private embedded libvirt driver (confine.c)\n"
    "stdio_handler = \"file\"\n"
    "user = \"root\"\n"
    "group = \"root\"\n"
    "dynamic_ownership = 0\n"
    "security_driver = \"none\"\n"
    "clear_emulator_capabilities = 1\n"
    "seccomp_sandbox = 1\n"
    "namespaces = [ \"mount\" ]\n";

int
confine_inspect(pid_t pid, struct confine_proof *out)
{
    char path[64], status[4096], ns_self[64] = "", ns_qemu[64] = "";
    const char *v;
    unsigned long long capeff, capprm, capamb;
    unsigned long ids[4];
    ssize_t n;

    memset(out, 0, sizeof(*out));
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (fileio_read_small(path, status, sizeof(status) - 1) <= 0)
        return -1;
    if (!(v = confine_field(status, "Uid")) || sscanf(v, "%lu %lu", &ids[0], &ids[1]) != 2)
        return -1;
    out->uid = ids[1];
    if (!(v = confine_field(status, "Gid")) || sscanf(v, "%lu %lu", &ids[0], &ids[1]) != 2)
        return -1;
    out->gid = ids[1];
    if ((v = confine_field(status, "Groups"))) {
        /* libvirt lists the primary group there too: count only the others */
        const char *p = v;
        char *end;
        for (;;) {
            unsigned long g = strtoul(p, &end, 10);
            if (end == p)
                break;
            if (g != out->gid)
                out->n_groups++;
            p = end;
        }
    }
    if (!(v = confine_field(status, "CapEff")) || sscanf(v, "%llx", &capeff) != 1 ||
        !(v = confine_field(status, "CapPrm")) || sscanf(v, "%llx", &capprm) != 1 ||
        !(v = confine_field(status, "CapAmb")) || sscanf(v, "%llx", &capamb) != 1)
        return -1;
    out->caps_none = capeff == 0 && capprm == 0 && capamb == 0;
    if ((v = confine_field(status, "NoNewPrivs")))
        out->no_new_privs = atoi(v) == 1;
    if ((v = confine_field(status, "Seccomp")))
        out->seccomp_mode = atoi(v);
    snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", (long)pid);
    n = readlink(path, ns_qemu, sizeof(ns_qemu) - 1);
    if (n > 0)
        ns_qemu[n] = '\0';
    n = readlink("/proc/self/ns/mnt", ns_self, sizeof(ns_self) - 1);
    if (n > 0)
        ns_self[n] = '\0';
    out->own_mount_ns = ns_qemu[0] && ns_self[0] && strcmp(ns_qemu, ns_self) != 0;
    out->valid = 1;
    return 0;
}

void
confine_release(struct confine *cf)
{
    if (cf->lock_fd >= 0) {
        unlink(cf->lock_path);
        close(cf->lock_fd);
    }
    cf->lock_fd = -1;
}
