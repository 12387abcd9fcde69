/* SPDX-License-Identifier: Apache-2.0 */
/*
 * run.c: one run of a module, end to end.
 *
 * How it works:
 *  1. prepare: check the image (format, no backing file), the module, inputs
 *     and stdin; make a private run directory under the state directory;
 *     create the qcow2 overlay; pick the accelerator.
 *  2. boot: start the watchdog (reaper.c), open libvirt (by default an
 *     embedded QEMU driver rooted in the run directory, seeded with a shared
 *     capabilities cache so it does not re-probe QEMU), listen on the agent
 *     socket, start a transient domain that libvirt auto-destroys, accept
 *     QEMU's connection and exchange hellos under --boot-timeout.
 *  3. transfer: ship the module, inputs and stdin as `file` messages.
 *  4. run: send `run`, then forward `output` frames to the terminal as they
 *     arrive until `exit`. The deadline (--timeout after `run` was sent) is
 *     enforced here with poll(2) on CLOCK_MONOTONIC: when it passes, QEMU is
 *     SIGKILLed (pid from libvirt's pid file) and the domain destroyed,
 *     whatever the guest is doing. SIGINT/SIGTERM/SIGHUP arrive through a
 *     signalfd in the same poll and end the run the same way.
 *  5. teardown: destroy the domain (gracefully when the agent finished, so
 *     QEMU flushes the overlay), close libvirt, remove the run directory
 *     (and with it the overlay, unless --keep-overlay), dismiss the watchdog.
 * Every byte from the guest goes through the strict frame decoder and the
 * checks below; nothing it says can make the host allocate without bound.
 */
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accel.h"
#include "channel.h"
#include "cleanup.h"
#include "command.h"
#include "confine.h"
#include "console.h"
#include "deadline.h"
#include "domain.h"
#include "fileio.h"
#include "overlay.h"
#include "paths.h"
#include "reaper.h"
#include "reply.h"
#include "version.h"
#include "wire.h"

#define RUN_FILE_TOTAL_MAX (256ULL << 20) /* module + inputs + stdin */
#define RUN_LOG_TAIL 8192
/* A guest flooding its serial console arrives in tiny writes; reading them as
 * they come would cost vmrun a core. Unread, they wait in the socket and the
 * guest's UART waits for them. */
#define RUN_CONSOLE_NS (100 * 1000 * 1000)
#define RUN_STDIN_NAME ".vmrun-stdin"

struct run_file {
    const char *path; /* on the host */
    const char *name; /* in the guest's working directory */
    uint64_t size;
    mode_t mode;
};

struct run_ctx {
    const struct vr_options *o;
    struct run_io io;
    struct run_result *res;
    struct vr_error *err;

    struct run_file *files;
    size_t n_files;
    const char *module_name;
    int stdin_index; /* index in files, or -1 */

    char *state_dir;
    char *run_dir;
    char *overlay;
    char *socket_path;
    char *console_path;
    char *embed_root;
    char *cache_dir;
    char *initrd;

    struct reaper reaper;
    int reaper_started;
    struct confine cf;
    struct domain_io_watch iow; /* host-side disk errors, signalled on iow.notify_fd */
    struct channel ch;
    struct console con;
    int64_t con_next; /* the console is read at most every RUN_CONSOLE_NS */
    virConnectPtr conn;
    virDomainPtr dom;
    pid_t qemu_pid;
    int sigfd;
    json_int_t next_id;
    int killed;         /* QEMU was killed and reaped */
    int disk_limit_hit; /* QEMU's writes went past the disk limit */
    int qemu_status;    /* its wait status once reaped by us, else -1 */
    int64_t t_start;
    int64_t t_run; /* when the run request was sent; 0 before */
};

static void run_progress(struct run_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
run_progress(struct run_ctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (!c->io.progress)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->io.progress(c->io.opaque, msg);
}

/* ---- prepare ----------------------------------------------------------- */

static int
run_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= 255 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           !strchr(name, '/');
}

static int
run_import_name_ok(const char *name)
{
    size_t n = strlen(name), i;

    if (n < 4 || strcmp(name + n - 3, ".py") != 0)
        return 0;
    for (i = 0; i < n - 3; i++) {
        char ch = name[i];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (i > 0 && ch >= '0' && ch <= '9')))
            return 0;
    }
    return 1;
}

static int
run_add_file(struct run_ctx *c, const char *what, const char *path, const char *name,
             int allow_empty, uint64_t *total)
{
    struct run_file *grown;
    struct stat st;

    if (stat(path, &st) < 0)
        return vr_error_set(&c->err, VR_ERR_USAGE, errno, "cannot read %s '%s'", what, path);
    if (S_ISDIR(st.st_mode))
        return vr_usage(&c->err, "%s '%s' is a directory, not a file", what, path);
    if (!S_ISREG(st.st_mode))
        return vr_usage(&c->err, "%s '%s' is not a regular file", what, path);
    if (access(path, R_OK) < 0)
        return vr_error_set(&c->err, VR_ERR_USAGE, errno, "cannot read %s '%s'", what, path);
    if (st.st_size == 0 && !allow_empty)
        return vr_usage(&c->err, "%s '%s' is empty", what, path);
    if (!run_name_ok(name))
        return vr_usage(&c->err, "%s '%s' has a name the guest cannot take", what, path);
    for (size_t i = 0; i < c->n_files; i++) {
        if (strcmp(c->files[i].name, name) == 0)
            return vr_usage(&c->err,
                            "%s '%s' would be shipped as '%s', which another file already uses",
                            what, path, name);
    }
    *total += (uint64_t)st.st_size;
    if (*total > RUN_FILE_TOTAL_MAX)
        return vr_usage(&c->err, "the module, inputs and stdin together exceed %llu MiB",
                        RUN_FILE_TOTAL_MAX >> 20);
    grown = realloc(c->files, (c->n_files + 1) * sizeof(*grown));
    if (!grown)
        return vr_fail(&c->err, ENOMEM, "cannot record %s '%s'", what, path);
    c->files = grown;
    c->files[c->n_files++] = (struct run_file){
        .path = path, .name = name, .size = (uint64_t)st.st_size, .mode = st.st_mode & 0755};
    return 0;
}

static const char *
run_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int
run_check_inputs(struct run_ctx *c)
{
    const struct vr_options *o = c->o;
    uint64_t total = 0;
    size_t i;

    c->module_name = run_basename(o->module);
    if (o->import_mode && !run_import_name_ok(c->module_name))
        return vr_usage(&c->err,
                        "--import needs a module file named like NAME.py with NAME a Python "
                        "identifier, not '%s'",
                        c->module_name);
    if (run_add_file(c, "module", o->module, c->module_name, 0, &total) < 0)
        return -1;
    for (i = 0; i < o->n_inputs; i++) {
        if (run_add_file(c, "input file", o->inputs[i], run_basename(o->inputs[i]), 1, &total) < 0)
            return -1;
    }
    /* The protocol carries arguments and the environment as JSON strings. */
    for (i = 0; i < o->n_args + o->n_env; i++) {
        const char *s = i < o->n_args ? o->args[i] : o->env[i - o->n_args];
        json_t *probe = json_string(s);
        if (!probe)
            return i < o->n_args
                       ? vr_usage(&c->err, "module argument %zu is not valid UTF-8", i + 1)
                       : vr_usage(&c->err, "--env '%s' is not valid UTF-8", s);
        json_decref(probe);
    }
    c->stdin_index = -1;
    if (o->stdin_file) {
        if (run_add_file(c, "stdin file", o->stdin_file, RUN_STDIN_NAME, 1, &total) < 0)
            return -1;
        c->stdin_index = (int)c->n_files - 1;
    }
    return 0;
}

static int
run_make_dirs(struct run_ctx *c)
{
    _cleanup_free_ char *runtime = NULL;
    _cleanup_free_ char *overlays = NULL;
    unsigned char rnd[4] = {0};
    char name[32];

    if (paths_state_dir(&c->state_dir, &c->err) < 0 || paths_runtime_dir(&runtime, &c->err) < 0)
        return -1;
    if (asprintf(&overlays, "%s/overlays", c->state_dir) < 0 ||
        asprintf(&c->cache_dir, "%s/cache", c->state_dir) < 0)
        return vr_fail(&c->err, ENOMEM, "cannot build paths");
    if (fileio_mkdirs(overlays, 0700) < 0 || fileio_mkdirs(c->cache_dir, 0700) < 0)
        return vr_fail(&c->err, errno, "cannot create directories under '%s'", c->state_dir);
    if (reaper_sweep(runtime) > 0)
        run_progress(c, "cleaned up after a vmrun that died");
    if (!c->o->connect_uri && confine_acquire(&c->cf, runtime, c->res->accel_kvm, &c->err) < 0)
        return -1;
    /* QEMU's own uid must be able to walk to its overlay: names are random,
     * each overlay is 0600 and owned by its run's uid */
    if (c->cf.active && chmod(overlays, 0711) < 0)
        return vr_fail(&c->err, errno, "cannot set the mode of '%s'", overlays);
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
        return vr_fail(&c->err, errno, "cannot get random bytes");
    /* short: libvirt builds socket paths from the run directory and name */
    snprintf(name, sizeof(name), "vmrun-%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    c->res->domain_name = strdup(name);
    if (!c->res->domain_name || asprintf(&c->run_dir, "%s/%s", runtime, name) < 0)
        return vr_fail(&c->err, ENOMEM, "cannot build paths");
    if (mkdir(c->run_dir, c->cf.active ? 0711 : 0700) < 0)
        return vr_fail(&c->err, errno, "cannot create the run directory '%s'", c->run_dir);
    if (asprintf(&c->socket_path, "%s/agent.sock", c->run_dir) < 0 ||
        asprintf(&c->console_path, "%s/console.sock", c->run_dir) < 0 ||
        asprintf(&c->embed_root, "%s/libvirt", c->run_dir) < 0)
        return vr_fail(&c->err, ENOMEM, "cannot build paths");
    if (c->o->keep_overlay) {
        _cleanup_free_ char *copy = strdup(c->o->keep_overlay);
        _cleanup_free_ char *dir = NULL;
        if (!copy)
            return vr_fail(&c->err, ENOMEM, "cannot build paths");
        dir = realpath(dirname(copy), NULL);
        if (!dir)
            return vr_error_set(&c->err, VR_ERR_USAGE, errno,
                                "the directory of --keep-overlay '%s' does not exist",
                                c->o->keep_overlay);
        if (asprintf(&c->overlay, "%s/%s", dir, run_basename(c->o->keep_overlay)) < 0)
            return vr_fail(&c->err, ENOMEM, "cannot build paths");
    } else if (asprintf(&c->overlay, "%s/%s.qcow2", overlays, name) < 0) {
        return vr_fail(&c->err, ENOMEM, "cannot build paths");
    }
    /* From here the watchdog owns clean-up should vmrun die. */
    return reaper_start(&c->reaper, c->run_dir, name, c->o->keep_overlay ? NULL : c->overlay,
                        c->cf.active ? c->cf.lock_path : NULL, &c->err) < 0
               ? -1
               : (c->reaper_started = 1, 0);
}

static int
run_have_program(const char *name)
{
    const char *path = getenv("PATH");
    _cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *dir, *save = NULL;

    if (!copy)
        return 1; /* cannot tell: let the real attempt report */
    for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", dir, name);
        if (access(full, X_OK) == 0)
            return 1;
    }
    return 0;
}

/* The most the overlay may grow: --disk-limit, else what a guest that
 * rewrote its whole disk would need: the virtual size plus qcow2 metadata
 * (an L2 entry per 64 KiB cluster, refcounts, headers), rounded up. */
static uint64_t
run_disk_limit(const struct run_ctx *c)
{
    uint64_t v = c->res->image.virtual_size;

    if (c->o->disk_limit)
        return c->o->disk_limit;
    return v + v / 64 + (16ULL << 20);
}

static int
run_prepare(struct run_ctx *c)
{
    const struct vr_options *o = c->o;
    struct accel_result accel;

    if (image_inspect(o->image, o->format, o->allow_backing, &c->res->image, &c->err) < 0)
        return -1;
    if (run_check_inputs(c) < 0)
        return -1;
    if (o->kernel) {
        c->res->kernel = realpath(o->kernel, NULL);
        if (!c->res->kernel)
            return vr_error_set(&c->err, VR_ERR_USAGE, errno, "cannot use --kernel '%s'",
                                o->kernel);
    } else if (paths_guest_file("vmlinux", &c->res->kernel, &c->err) < 0) {
        return -1;
    }
    if (o->initrd) {
        c->initrd = realpath(o->initrd, NULL);
        if (!c->initrd)
            return vr_error_set(&c->err, VR_ERR_USAGE, errno, "cannot use --initrd '%s'",
                                o->initrd);
    } else if (paths_guest_file("initramfs.cpio", &c->initrd, &c->err) < 0) {
        return -1;
    }
    if (!o->connect_uri && !run_have_program("qemu-system-x86_64"))
        return vr_fail(&c->err, 0,
                       "QEMU is not installed: qemu-system-x86_64 is not in PATH (on Debian: "
                       "apt-get install qemu-system-x86)");
    if (!run_have_program("qemu-img"))
        return vr_fail(&c->err, 0,
                       "qemu-img is not installed (on Debian: apt-get install qemu-utils)");
    if (accel_choose(o->accel, &accel, &c->err) < 0)
        return -1;
    c->res->accel_kvm = accel.kvm;
    c->res->accel_reason = accel.reason;
    if (run_make_dirs(c) < 0)
        return -1;
    if (image_digest(&c->res->image, c->cache_dir, &c->err) < 0)
        return -1;
    if (overlay_create(&c->res->image, c->overlay, &c->err) < 0)
        return -1;
    if (o->keep_overlay)
        c->res->overlay_kept = strdup(c->overlay);
    c->res->confinement.disk_limit_bytes = o->connect_uri ? 0 : run_disk_limit(c);
    if (confine_give(&c->cf, c->overlay, &c->err) < 0 ||
        confine_check_access(&c->cf, c->res->kernel, R_OK, "guest kernel", CONFINE_FIX_READ,
                             &c->err) < 0 ||
        confine_check_access(&c->cf, c->initrd, R_OK, "initramfs", CONFINE_FIX_READ, &c->err) < 0 ||
        confine_check_access(&c->cf, c->res->image.path, R_OK, "base image", CONFINE_FIX_READ,
                             &c->err) < 0 ||
        confine_check_access(&c->cf, c->overlay, R_OK | W_OK, "overlay", CONFINE_FIX_VMRUN_DIR,
                             &c->err) < 0)
        return -1;
    return 0;
}

/* ---- boot -------------------------------------------------------------- */

/* Copy the QEMU capabilities files (*.xml) from src to dst; with
 * keep_existing, files already in dst are left alone. Best effort: a cache
 * that cannot be copied only costs a probe. */
static void
run_copy_capabilities(const char *src, const char *dst, int keep_existing)
{
    DIR *d = opendir(src);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        char from[4096], to[4096], *data = NULL;
        size_t len = 0;
        struct stat st;
        if (!strstr(e->d_name, ".xml") || e->d_name[0] == '.')
            continue;
        snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
        if (keep_existing && stat(to, &st) == 0)
            continue;
        if (fileio_read_all(from, 16 << 20, &data, &len) == 0)
            (void)fileio_write_atomic(to, data, len, 0600);
        free(data);
    }
    closedir(d);
}

/* The embedded driver's config and a copy of the shared QEMU capabilities
 * cache, so a fresh root does not spend seconds probing QEMU. */
static int
run_seed_embed_root(struct run_ctx *c)
{
    _cleanup_free_ char *etc = NULL, *conf = NULL, *src = NULL, *dst = NULL;

    if (asprintf(&etc, "%s/etc", c->embed_root) < 0 ||
        asprintf(&conf, "%s/etc/qemu.conf", c->embed_root) < 0 ||
        asprintf(&src, "%s/qemu-capabilities", c->cache_dir) < 0 ||
        asprintf(&dst, "%s/cache/qemu/capabilities", c->embed_root) < 0)
        return vr_fail(&c->err, ENOMEM, "cannot build paths");
    if (fileio_mkdirs(etc, 0700) < 0 || fileio_mkdirs(dst, 0700) < 0)
        return vr_fail(&c->err, errno, "cannot create '%s'", c->embed_root);
    /* QEMU's uid reads the master key libvirt puts in its domain directory
     * (chowned to that uid) below this root */
    if (c->cf.active && chmod(c->embed_root, 0711) < 0)
        return vr_fail(&c->err, errno, "cannot set the mode of '%s'", c->embed_root);
    if (fileio_write_atomic(conf, confine_qemu_conf, strlen(confine_qemu_conf), 0600) < 0)
        return vr_fail(&c->err, errno, "cannot write '%s'", conf);
    /* none yet on the first run: libvirt probes and we save the result after */
    run_copy_capabilities(src, dst, 0);
    return 0;
}

/* After a run that probed QEMU, keep its capabilities for the next ones. */
static void
run_save_capabilities(struct run_ctx *c)
{
    _cleanup_free_ char *src = NULL, *dst = NULL;

    if (asprintf(&src, "%s/cache/qemu/capabilities", c->embed_root) < 0 ||
        asprintf(&dst, "%s/qemu-capabilities", c->cache_dir) < 0)
        return;
    if (fileio_mkdirs(dst, 0700) < 0)
        return;
    run_copy_capabilities(src, dst, 1);
}

static pid_t
run_read_qemu_pid(struct run_ctx *c)
{
    char path[4096], buf[32];

    snprintf(path, sizeof(path), "%s/run/qemu/%s.pid", c->embed_root, c->res->domain_name);
    if (fileio_read_small(path, buf, sizeof(buf) - 1) <= 0)
        return 0;
    return (pid_t)atol(buf);
}

static char *
run_cmdline(const struct vr_options *o, int kvm)
{
    unsigned long tsc = kvm ? 0 : accel_tsc_khz();
    char tsc_arg[48] = "";
    char *s = NULL;

    /* Under KVM the hypervisor tells the guest its TSC rate; under TCG the
     * guest must be told, or its calibration may fail and the boot hang. */
    if (tsc)
        snprintf(tsc_arg, sizeof(tsc_arg), " tsc_early_khz=%lu", tsc);
    /* panic=-1: a guest kernel panic reboots at once, and the domain's
     * on_reboot=destroy ends it; reboot=t: no ACPI/keyboard-controller
     * reboot dance. */
    if (asprintf(&s, "console=ttyS0 quiet loglevel=3 panic=-1 reboot=t%s%s%s%s", tsc_arg,
                 o->root_dev ? " vmrun.root=" : "", o->root_dev ? o->root_dev : "",
                 o->verbose ? " vmrun.debug=1" : "") < 0)
        return NULL;
    return s;
}

/* QEMU stopped the VM on a host-side error writing or reading its disk. */
static int
run_fail_io_error(struct run_ctx *c)
{
    uint64_t limit = c->res->confinement.disk_limit_bytes;
    uint64_t margin = limit / 2 < (8ULL << 20) ? limit / 2 : (8ULL << 20);
    int enospc = strcmp(c->iow.reason, "enospc") == 0;
    struct stat st;

    /* Past RLIMIT_FSIZE QEMU's write fails with EFBIG (QEMU ignores
     * SIGXFSZ) and the disk stops: the overlay is then within one write of
     * the limit. That is the module's doing, not a host failure. */
    if (limit && !enospc && stat(c->overlay, &st) == 0 && (uint64_t)st.st_size + margin > limit) {
        c->disk_limit_hit = 1;
        return vr_fail(&c->err, EFBIG, "the guest wrote past the disk limit");
    }
    if (enospc)
        return vr_fail(&c->err, ENOSPC,
                       "the host filesystem holding the overlay '%s' is full: QEMU could not "
                       "write the VM's disk and the VM was stopped (free space there, or point "
                       "VMRUN_STATE_DIR elsewhere)",
                       c->overlay);
    return vr_fail(&c->err, 0,
                   "QEMU hit a host I/O error (%s) on '%s' and the VM was stopped; the host "
                   "disk may be failing",
                   c->iow.reason, c->iow.path[0] ? c->iow.path : c->overlay);
}

/* Wait for one frame until deadline. Returns 1 with *f, 0 when the deadline
 * passed, -1 on error (c->err set; interruption sets res->interrupted). */
static int
run_next_frame(struct run_ctx *c, int64_t deadline, struct wire_frame *f)
{
    for (;;) {
        struct pollfd p[4] = {
            {.fd = c->ch.fd, .events = POLLIN},
            {.fd = c->sigfd, .events = POLLIN},
            {.fd = c->iow.notify_fd, .events = POLLIN},
            {.fd = deadline_now() >= c->con_next ? c->con.fd : -1, .events = POLLIN}};
        int r = channel_next(&c->ch, f, &c->err);

        if (r != 0)
            return r;
        if (c->ch.eof)
            return vr_fail(&c->err, 0,
                           "the VM stopped unexpectedly (the guest closed the agent port: kernel "
                           "panic, crash or power-off)");
        r = poll(p, 4, deadline_poll_ms(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return vr_fail(&c->err, errno, "poll failed");
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(c->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                c->res->interrupted = (int)si.ssi_signo;
                return vr_fail(&c->err, 0, "interrupted by signal %s",
                               sigabbrev_np((int)si.ssi_signo));
            }
        }
        if (p[2].revents & POLLIN)
            return run_fail_io_error(c);
        if (p[3].revents) {
            (void)console_pump(&c->con);
            c->con_next = deadline_now() + RUN_CONSOLE_NS;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (channel_pump(&c->ch, &c->err) < 0)
                return -1;
            continue;
        }
        if (r == 0 && deadline_now() >= deadline)
            return 0;
    }
}

static json_t *
run_header(struct run_ctx *c, const char *type)
{
    return json_pack("{s:s,s:I}", "type", type, "id", ++c->next_id);
}

/* Expect a reply of type `want` to request `id`; an agent `error` is
 * reported as such. */
static int
run_expect(struct run_ctx *c, int64_t deadline, const char *want, json_int_t id,
           struct wire_frame *f, const char *waiting_for)
{
    int r = run_next_frame(c, deadline, f);

    if (r == 0)
        return vr_fail(&c->err, 0, "the guest agent did not answer in time (waiting for %s)",
                       waiting_for);
    if (r < 0)
        return -1;
    if (strcmp(f->type, "error") == 0) {
        vr_fail(&c->err, 0, "the guest agent reported an error: %s",
                wire_get_str(f->header, "message", "(no message)"));
        wire_frame_clear(f);
        return -1;
    }
    if (strcmp(f->type, want) != 0 || wire_get_int(f->header, "id", -1) != id) {
        vr_fail(&c->err, 0,
                "the guest agent broke the protocol: expected '%s' for request %lld, got '%.32s'",
                want, (long long)id, f->type);
        wire_frame_clear(f);
        return -1;
    }
    return 0;
}

/* What QEMU may use on top of the guest's RAM before its cgroup's memory
 * limit stops it: its own heap, the device emulation and, under TCG, the
 * translated code cache. Measured at ~110 MiB under TCG (bench/). */
#define RUN_QEMU_OVERHEAD_MIB_KVM 256ULL
#define RUN_QEMU_OVERHEAD_MIB_TCG 512ULL

/* While libvirt starts the domain, QEMU is already vmrun's child (vmrun is a
 * subreaper). Should QEMU die during the start, libvirt waits for it to be
 * gone before it returns; only its parent can make it gone. This thread
 * reaps QEMU then, and only if it has already exited. */
struct run_start_watch {
    struct run_ctx *c;
    atomic_int stop;
};

static void *
run_start_watch_main(void *arg)
{
    struct run_start_watch *w = arg;
    struct run_ctx *c = w->c;

    while (!atomic_load(&w->stop)) {
        pid_t pid = run_read_qemu_pid(c);
        siginfo_t si = {0};

        if (pid > 0 && waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            si.si_pid == pid) {
            int st = 0;
            if (waitpid(pid, &st, 0) == pid) {
                c->qemu_status = st;
                c->killed = 1;
            }
            break;
        }
        usleep(20 * 1000);
    }
    return NULL;
}

/* Start the domain paused, put it inside its limits, and only then let its
 * vCPUs run, so nothing the guest does happens outside them. */
static int
run_start_domain(struct run_ctx *c, const char *xml)
{
    const struct vr_options *o = c->o;
    struct run_confinement *cn = &c->res->confinement;
    struct domain_limits dl;
    struct rlimit saved = {0}, lim;
    int r;

    /* RLIMIT_FSIZE is inherited by QEMU, which the embedded driver forks
     * from this process: a write that would take any file QEMU writes (the
     * overlay) past the disk limit fails.
     * vmrun's own soft limit is restored as soon as QEMU exists. */
    if (cn->disk_limit_bytes && getrlimit(RLIMIT_FSIZE, &saved) == 0) {
        lim = saved;
        if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > cn->disk_limit_bytes)
            lim.rlim_cur = cn->disk_limit_bytes;
        if (setrlimit(RLIMIT_FSIZE, &lim) < 0)
            return vr_fail(&c->err, errno, "cannot set the disk limit");
    }
    {
        struct run_start_watch w = {.c = c};
        pthread_t tid;
        int watching = !o->connect_uri && pthread_create(&tid, NULL, run_start_watch_main, &w) == 0;

        r = domain_start(c->conn, xml, o->connect_uri != NULL, 1, &c->dom, &c->err);
        if (watching) {
            atomic_store(&w.stop, 1);
            pthread_join(tid, NULL);
        }
    }
    if (cn->disk_limit_bytes)
        (void)setrlimit(RLIMIT_FSIZE, &saved);
    if (r < 0)
        return -1;
    if (!o->connect_uri) {
        c->qemu_pid = run_read_qemu_pid(c);
        if (c->qemu_pid > 0)
            reaper_set_qemu(&c->reaper, c->run_dir, c->qemu_pid);
        run_save_capabilities(c);
    }
    if (domain_watch_io_errors(c->conn, c->dom, &c->iow, &c->err) < 0)
        return -1;
    if (c->cf.active) {
        unsigned long long mib = o->memory_mib + (c->res->accel_kvm ? RUN_QEMU_OVERHEAD_MIB_KVM
                                                                    : RUN_QEMU_OVERHEAD_MIB_TCG);
        if (domain_set_memory_limit(c->dom, mib << 20, &c->err) < 0 ||
            domain_get_limits(c->dom, &dl, &c->err) < 0)
            return -1;
        cn->cpu_quota_us = dl.cpu_quota_us;
        cn->cpu_period_us = dl.cpu_period_us;
        cn->memory_limit_bytes = dl.memory_bytes;
    }
    if (c->qemu_pid > 0)
        (void)confine_inspect(c->qemu_pid, &cn->qemu);
    /* QEMU connected its console while it started, before any guest code ran */
    console_accept(&c->con, c->qemu_pid);
    return domain_resume(c->dom, &c->err);
}

static int
run_boot(struct run_ctx *c)
{
    const struct vr_options *o = c->o;
    _cleanup_free_ char *cmdline = run_cmdline(o, c->res->accel_kvm);
    _cleanup_free_ char *xml = NULL;
    _cleanup_free_ char *log = NULL;
    _cleanup_json_ json_t *hello = NULL;
    struct wire_frame f = {0};
    struct domain_config dc;
    int64_t t_boot, deadline;
    const char *agent = NULL, *root = NULL, *why = NULL;
    json_int_t id;

    if (!cmdline)
        return vr_fail(&c->err, ENOMEM, "cannot build the kernel command line");
    if (!o->connect_uri && run_seed_embed_root(c) < 0)
        return -1;
    if (channel_listen(&c->ch, c->socket_path, &c->err) < 0 ||
        console_listen(&c->con, c->console_path, &c->err) < 0 ||
        confine_give(&c->cf, c->console_path, &c->err) < 0 ||
        confine_give(&c->cf, c->socket_path, &c->err) < 0 ||
        confine_check_access(&c->cf, c->socket_path, R_OK | W_OK, "agent socket",
                             CONFINE_FIX_VMRUN_DIR, &c->err) < 0)
        return -1;
    dc = (struct domain_config){
        .name = c->res->domain_name,
        .kernel = c->res->kernel,
        .initrd = c->initrd,
        .cmdline = cmdline,
        .overlay = c->overlay,
        .base = &c->res->image,
        .channel_socket = c->socket_path,
        .console_socket = c->console_path,
        .memory_mib = o->memory_mib,
        .cpus = o->cpus,
        .kvm = c->res->accel_kvm,
        .microvm = 1,
        /* the whole VM process gets the host CPU it was given, no more */
        .cpu_quota_us = c->cf.active ? o->cpus * DOMAIN_CPU_PERIOD_US : 0,
        .qemu_uid = c->cf.active ? c->cf.uid : 0,
        .qemu_gid = c->cf.active ? c->cf.gid : 0,
    };
    xml = domain_xml(&dc);
    if (!xml)
        return vr_fail(&c->err, ENOMEM, "cannot build the domain XML");

    t_boot = deadline_now();
    deadline = t_boot + (int64_t)(o->boot_timeout_s * (double)DEADLINE_NS_PER_S);
    if (asprintf(&log, "%s/libvirt.log", c->run_dir) < 0)
        return vr_fail(&c->err, ENOMEM, "cannot build paths");
    if (domain_init(log, &c->err) < 0)
        return -1;
    if (domain_connect(o->connect_uri, c->embed_root, &c->conn, &c->err) < 0)
        return -1;
    /* libvirt daemonises QEMU. As a child subreaper vmrun inherits it and can
     * reap it the moment it is killed, instead of libvirt waiting for init to.
     * Only after the capabilities are loaded: libvirt's own probe processes
     * must stay init's to reap, or libvirt waits on them forever. */
    if (domain_load_capabilities(c->conn, c->res->accel_kvm, &c->err) < 0)
        return -1;
    if (!o->connect_uri)
        prctl(PR_SET_CHILD_SUBREAPER, 1);
    run_progress(c, "starting the VM (%s)", c->res->accel_kvm ? "KVM" : "TCG");
    if (run_start_domain(c, xml) < 0)
        return -1;
    c->res->t.boot_ms = deadline_ms_between(t_boot, deadline_now());
    if (channel_accept(&c->ch, deadline, &c->err) < 0)
        return -1;
    if (c->qemu_pid > 0 && c->ch.peer_pid != c->qemu_pid)
        return vr_fail(&c->err, 0, "process %ld, not QEMU (%ld), connected to the agent socket",
                       (long)c->ch.peer_pid, (long)c->qemu_pid);

    hello = run_header(c, "hello");
    id = c->next_id;
    {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        json_object_set_new(hello, "proto", json_integer(WIRE_PROTO_VERSION));
        json_object_set_new(hello, "time_ns",
                            json_integer((json_int_t)now.tv_sec * DEADLINE_NS_PER_S + now.tv_nsec));
    }
    if (channel_send(&c->ch, hello, NULL, 0, deadline, &c->err) < 0)
        return -1;
    if (run_expect(c, deadline, "hello", id, &f,
                   "the agent's hello; the guest may not have booted") < 0)
        return -1;
    c->res->t.agent_ready_ms = deadline_ms_between(t_boot, deadline_now());
    if (reply_parse_hello(f.header, id, &agent, &root, &why) < 0) {
        wire_frame_clear(&f);
        return vr_fail(&c->err, 0, "the guest agent's hello: %s (this vmrun speaks protocol %d)",
                       why, WIRE_PROTO_VERSION);
    }
    c->res->agent_version = strndup(agent, 64);
    c->res->root_device = strndup(root, 64);
    wire_frame_clear(&f);
    channel_handshake_done(&c->ch);
    run_progress(c, "agent ready after %.0f ms", c->res->t.agent_ready_ms);
    return 0;
}

/* ---- transfer ---------------------------------------------------------- */

static int
run_send_file(struct run_ctx *c, const struct run_file *rf, int64_t deadline)
{
    _cleanup_close_ int fd = open(rf->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    _cleanup_free_ unsigned char *buf = NULL;
    struct wire_frame f = {0};
    uint64_t sent = 0;
    json_int_t id = 0;

    if (fd < 0)
        return vr_error_set(&c->err, VR_ERR_USAGE, errno, "cannot read '%s'", rf->path);
    buf = malloc(WIRE_BODY_MAX);
    if (!buf)
        return vr_fail(&c->err, ENOMEM, "cannot allocate a transfer buffer");
    do {
        size_t want = rf->size - sent > WIRE_BODY_MAX ? WIRE_BODY_MAX : (size_t)(rf->size - sent);
        ssize_t n = fileio_pread_full(fd, buf, want, (off_t)sent);
        _cleanup_json_ json_t *h = NULL;

        if (n < 0)
            return vr_fail(&c->err, errno, "cannot read '%s'", rf->path);
        if ((size_t)n != want)
            return vr_usage(&c->err, "'%s' changed size while it was being shipped", rf->path);
        sent += (uint64_t)n;
        h = run_header(c, "file");
        id = c->next_id;
        json_object_set_new(h, "name", json_string(rf->name));
        json_object_set_new(h, "mode", json_integer(rf->mode));
        json_object_set_new(h, "last", json_boolean(sent == rf->size));
        if (channel_send(&c->ch, h, buf, (size_t)n, deadline, &c->err) < 0)
            return -1;
        /* every chunk is acknowledged: the agent is never more than one
         * chunk behind, and a refusal stops the transfer at once */
        if (run_expect(c, deadline, "ok", id, &f, "the agent to store a file") < 0)
            return -1;
        wire_frame_clear(&f);
    } while (sent < rf->size);
    return 0;
}

static int
run_transfer(struct run_ctx *c)
{
    int64_t t0 = deadline_now();
    int64_t deadline = t0 + (int64_t)(c->o->boot_timeout_s * (double)DEADLINE_NS_PER_S);

    for (size_t i = 0; i < c->n_files; i++) {
        if (run_send_file(c, &c->files[i], deadline) < 0)
            return -1;
    }
    c->res->t.transfer_ms = deadline_ms_between(t0, deadline_now());
    return 0;
}

/* ---- run --------------------------------------------------------------- */

static int
run_send_request(struct run_ctx *c, int64_t deadline, json_int_t *id_out)
{
    const struct vr_options *o = c->o;
    _cleanup_json_ json_t *h = run_header(c, "run");
    json_t *argv = json_array(), *env = json_object();
    size_t i;

    *id_out = c->next_id;
    json_array_append_new(argv, json_string(c->module_name));
    for (i = 0; i < o->n_args; i++) {
        json_t *s = json_string(o->args[i]);
        if (!s) {
            json_decref(argv);
            json_decref(env);
            return vr_usage(&c->err, "module argument %zu is not valid UTF-8", i + 1);
        }
        json_array_append_new(argv, s);
    }
    for (i = 0; i < o->n_env; i++) {
        const char *eq = strchr(o->env[i], '=');
        _cleanup_free_ char *k = strndup(o->env[i], (size_t)(eq - o->env[i]));
        json_t *v = json_string(eq + 1);
        if (!k || !v) {
            json_decref(v);
            json_decref(argv);
            json_decref(env);
            return vr_usage(&c->err, "--env '%s' is not valid UTF-8", o->env[i]);
        }
        json_object_set_new(env, k, v);
    }
    json_object_set_new(h, "argv", argv);
    json_object_set_new(h, "env", env);
    json_object_set_new(h, "user", json_string(o->user_root ? "root" : "nobody"));
    json_object_set_new(h, "stdin",
                        c->stdin_index >= 0 ? json_string(RUN_STDIN_NAME) : json_null());
    json_object_set_new(h, "mode", json_string(o->import_mode ? "import" : "run"));
    json_object_set_new(h, "module", json_string(c->module_name));
    json_object_set_new(h, "output_limit", json_integer((json_int_t)o->output_limit));
    json_object_set_new(h, "limits",
                        json_pack("{s:I,s:I,s:I,s:I}", "cpu_s", (json_int_t)o->limit_cpu_s, "nproc",
                                  (json_int_t)o->limit_nproc, "nofile", (json_int_t)o->limit_nofile,
                                  "fsize_bytes", (json_int_t)o->limit_fsize));
    return channel_send(&c->ch, h, NULL, 0, deadline, &c->err);
}

static void
run_stream_output(struct run_ctx *c, struct run_stream *s, int *fd, const unsigned char *data,
                  size_t len)
{
    uint64_t limit = c->o->output_limit;
    size_t keep = 0;

    if (s->total < limit)
        keep = (uint64_t)len > limit - s->total ? (size_t)(limit - s->total) : len;
    s->total += len;
    if (keep < len)
        s->truncated = 1;
    if (keep == 0)
        return;
    if (!s->data) {
        /* at most output_limit bytes per stream, ever */
        s->data = malloc(limit ? limit : 1);
        if (!s->data) {
            s->truncated = 1;
            return;
        }
    }
    memcpy(s->data + s->len, data, keep);
    s->len += keep;
    if (*fd >= 0 && wire_write_all(*fd, data, keep) < 0)
        *fd = -1; /* the reader went away (EPIPE): stop forwarding, keep recording */
}

static int
run_check_exit(struct run_ctx *c, const json_t *h)
{
    struct run_result *res = c->res;
    struct reply_exit e;
    const char *why = NULL;

    if (reply_parse_exit(h, c->o->import_mode, &e, &why) < 0)
        return vr_fail(&c->err, 0, "the guest agent broke the protocol: %s", why);
    res->status = e.status;
    res->exit_code = e.exit_code;
    res->signal = e.signal;
    res->have_usage = e.have_usage;
    res->cpu_ms = e.cpu_ms;
    res->maxrss_kb = e.maxrss_kb;
    /* truncation the host saw itself stays set whatever the agent says */
    res->out.truncated |= e.stdout_truncated;
    res->err.truncated |= e.stderr_truncated;
    res->import_info = steal_ptr(&e.import_info);
    return 0;
}

/* SIGKILL QEMU now. vmrun is a child subreaper (see run_execute), so the
 * daemonised QEMU is our child and is reaped here at once; otherwise libvirt
 * would wait for whoever reaps orphans before it calls the domain gone. */
static double
run_kill_now(struct run_ctx *c, int64_t since)
{
    double ms;

    if (c->killed)
        return 0;
    c->killed = 1;
    if (c->qemu_pid > 0 && reaper_parent_of(c->qemu_pid) == getpid()) {
        /* our child: its pid cannot be reused before we reap it */
        kill(c->qemu_pid, SIGKILL);
        while (waitpid(c->qemu_pid, &c->qemu_status, 0) < 0 && errno == EINTR)
            ;
    } else if (c->qemu_pid > 0) {
        reaper_kill_qemu(c->qemu_pid, c->res->domain_name);
    }
    ms = deadline_ms_between(since, deadline_now());
    if (c->dom)
        (void)domain_destroy(c->dom, NULL);
    return ms;
}

static int
run_module(struct run_ctx *c)
{
    struct run_result *res = c->res;
    int64_t t_run, deadline, silence;
    const char *why = NULL;
    json_int_t id;

    t_run = c->t_run = deadline_now();
    deadline = t_run + (int64_t)(c->o->timeout_s * (double)DEADLINE_NS_PER_S);
    silence = (int64_t)(c->o->agent_timeout_s * (double)DEADLINE_NS_PER_S);
    if (run_send_request(c, deadline, &id) < 0)
        return -1;
    for (;;) {
        struct wire_frame f = {0};
        int64_t heard = deadline_now();
        int64_t until = heard + silence < deadline ? heard + silence : deadline;
        int r = run_next_frame(c, until, &f);

        if (r == 0 && until < deadline) {
            /* the module's timeout cannot tell a hung agent from a slow
             * module: the agent's `alive` every second can */
            run_kill_now(c, deadline_now());
            return vr_fail(&c->err, 0,
                           "the guest agent went silent for %g s while the module ran (the "
                           "guest is hung or its agent was stopped); the VM was destroyed",
                           c->o->agent_timeout_s);
        }
        if (r == 0) {
            int64_t hit = deadline_now();
            res->t.kill_ms = run_kill_now(c, deadline < hit ? deadline : hit);
            res->status = RUN_TIMEOUT;
            res->t.run_ms = deadline_ms_between(t_run, hit);
            if (c->o->import_mode)
                res->import_info = json_pack("{s:s}", "outcome", "timeout");
            return 0;
        }
        if (r < 0)
            return -1;
        switch (reply_classify(f.type, f.header, id, &why)) {
        case REPLY_OUTPUT_STDOUT:
            run_stream_output(c, &res->out, &c->io.out_fd, f.body, f.body_len);
            break;
        case REPLY_OUTPUT_STDERR:
            run_stream_output(c, &res->err, &c->io.err_fd, f.body, f.body_len);
            break;
        case REPLY_STARTED: run_progress(c, "module started"); break;
        case REPLY_ALIVE:
            /* a sign of life, nothing more: any frame resets the silence */
            break;
        case REPLY_EXIT:
            r = run_check_exit(c, f.header);
            wire_frame_clear(&f);
            if (r < 0)
                return -1;
            res->t.run_ms = deadline_ms_between(t_run, deadline_now());
            return 0;
        case REPLY_ERROR:
            r = vr_fail(&c->err, 0, "the guest agent could not run the module: %s",
                        wire_get_str(f.header, "message", "(no message)"));
            break;
        default:
            r = vr_fail(&c->err, 0, "the guest agent broke the protocol: %s ('%.32s')", why,
                        f.type);
            break;
        }
        wire_frame_clear(&f);
        if (r < 0)
            return -1;
    }
}

/* ---- the disk diff ------------------------------------------------------ */

#define RUN_DIFF_OUTPUT_MAX (64U << 20) /* the changes JSON, entries capped */
#define RUN_DIFF_EXIT_VIOLATION 123

/* Compare the overlay with the base now that the VM is gone, in the
 * vmrun-diff helper process (orchestrator/main_diff.c says why). A failure
 * here leaves the module's verdict as it is and is reported on its own. */
static void
run_diff(struct run_ctx *c)
{
    static const char *const modes[] = {"none", "meta", "full"};
    const struct vr_options *o = c->o;
    _cleanup_free_ char *helper = NULL, *out = NULL, *err = NULL;
    char max[32], limit[32];
    const char *argv[32 + 2 * 64];
    size_t n = 0, len = 0, i;
    int64_t t0 = deadline_now();
    int status = 0;

    if (o->n_allow_write > 64) {
        vr_usage(&c->res->diff_error, "at most 64 --allow-write patterns");
        return;
    }
    if (paths_helper("vmrun-diff", &helper, &c->res->diff_error) < 0)
        return;
    snprintf(max, sizeof(max), "%llu", (unsigned long long)o->diff_max_entries);
    snprintf(limit, sizeof(limit), "%llu", (unsigned long long)o->extract_limit);
    argv[n++] = helper;
    argv[n++] = "-q";
    argv[n++] = "--json";
    argv[n++] = "--format";
    argv[n++] = c->res->image.format == IMAGE_RAW ? "raw" : "qcow2";
    argv[n++] = "--diff";
    argv[n++] = modes[o->diff];
    argv[n++] = "--diff-max-entries";
    argv[n++] = max;
    argv[n++] = "--accel";
    argv[n++] = c->res->accel_kvm ? "kvm" : "tcg";
    if (o->diff_times)
        argv[n++] = "--diff-times";
    if (o->root_dev) {
        argv[n++] = "--root";
        argv[n++] = o->root_dev;
    }
    if (o->extract_dir) {
        argv[n++] = "--extract";
        argv[n++] = o->extract_dir;
        argv[n++] = "--extract-limit";
        argv[n++] = limit;
    }
    for (i = 0; i < o->n_allow_write; i++) {
        argv[n++] = "--allow-write";
        argv[n++] = o->allow_write[i];
    }
    argv[n++] = "--";
    argv[n++] = c->res->image.path;
    argv[n++] = c->overlay;
    argv[n] = NULL;

    run_progress(c, "comparing the disk with the base image");
    if (command_capture(argv, RUN_DIFF_OUTPUT_MAX, &out, &len, &err, &status, NULL,
                        &c->res->diff_error) < 0)
        goto cleanup;
    if (status != 0 && status != RUN_DIFF_EXIT_VIOLATION) {
        size_t l = err ? strlen(err) : 0;
        while (l > 0 && err[l - 1] == '\n')
            err[--l] = '\0';
        vr_fail(&c->res->diff_error, 0, "the disk diff failed (exit status %d): %s", status,
                l ? err : "(no message)");
        goto cleanup;
    }
    c->res->changes = json_loadb(out, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(c->res->changes)) {
        json_decref(c->res->changes);
        c->res->changes = NULL;
        vr_fail(&c->res->diff_error, 0, "the disk diff printed no valid JSON");
    }
cleanup:
    c->res->t.diff_ms = deadline_ms_between(t0, deadline_now());
}

/* ---- teardown ---------------------------------------------------------- */

static char *
run_read_tail(const char *path)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    char *buf;
    off_t off;
    ssize_t n;

    if (fd < 0 || fstat(fd, &st) < 0)
        return NULL;
    off = st.st_size > RUN_LOG_TAIL ? st.st_size - RUN_LOG_TAIL : 0;
    buf = malloc(RUN_LOG_TAIL + 1);
    if (!buf)
        return NULL;
    n = fileio_pread_full(fd, buf, RUN_LOG_TAIL, off);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    return buf;
}

#define RUN_QEMU_EXIT_WAIT_MS 3000

/* The run failed while the VM existed. If QEMU itself is gone, wait for it
 * briefly and say how it ended: SIGXFSZ is the disk limit (the module's
 * doing, like a timeout); a guest kernel panic is read off the console. */
static void
run_explain_vm_end(struct run_ctx *c)
{
    _cleanup_free_ char *console = NULL;
    const char *panic;
    struct vr_error *why = NULL;
    int st = 0;

    if (c->qemu_pid <= 0 || reaper_parent_of(c->qemu_pid) != getpid())
        goto console;
    if (!c->killed) {
        int pfd = (int)syscall(SYS_pidfd_open, c->qemu_pid, 0);
        if (pfd >= 0) {
            struct pollfd p = {.fd = pfd, .events = POLLIN};
            while (poll(&p, 1, RUN_QEMU_EXIT_WAIT_MS) < 0 && errno == EINTR)
                ;
            close(pfd);
        }
        if (waitpid(c->qemu_pid, &st, WNOHANG) != c->qemu_pid)
            goto console;
        c->killed = 1;
        c->qemu_status = st;
    } else if (c->qemu_status < 0) {
        goto console;
    }
    st = c->qemu_status;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXFSZ) {
        /* a QEMU that does not ignore SIGXFSZ dies of the same limit */
        c->disk_limit_hit = 1;
        return;
    }
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && !c->res->interrupted &&
        !strstr(c->err->message, "went silent")) {
        vr_fail(&why, 0,
                "QEMU was killed (SIGKILL) from outside vmrun, or by its cgroup's memory limit "
                "(%llu MiB): %s",
                c->res->confinement.memory_limit_bytes >> 20, c->err->message);
        goto replace;
    }
console:
    /* The kernel's last words, when it panicked (the agent dying is one way:
     * PID 1 exiting panics the kernel). */
    console_drain(&c->con);
    console = console_text(&c->con);
    panic = console ? strstr(console, "Kernel panic - not syncing: ") : NULL;
    if (!panic)
        return;
    panic += strlen("Kernel panic - not syncing: ");
    vr_fail(&why, 0, "the guest kernel panicked (%.*s)%s; the VM was destroyed",
            (int)strcspn(panic, "\r\n"), panic,
            strstr(panic, "Attempted to kill init") ? ": the guest agent (PID 1) died" : "");
replace:
    why->kind = c->err->kind;
    vr_error_free(c->err);
    c->err = why;
}

static void
run_teardown(struct run_ctx *c)
{
    int64_t t0 = deadline_now();
    int failed = c->res->status == RUN_ERROR || c->err;

    if (c->dom) {
        run_kill_now(c, t0);
        domain_unwatch_io_errors(c->conn, &c->iow);
        virDomainFree(c->dom);
        c->dom = NULL;
    }
    if (c->conn) {
        virConnectClose(c->conn);
        c->conn = NULL;
    }
    channel_close(&c->ch);
    /* Only a run whose module ran has changes worth a verdict. */
    if (!failed && c->o->diff != CLI_DIFF_NONE && c->overlay)
        run_diff(c);
    if (failed && c->console_path) {
        char path[4096];
        console_drain(&c->con);
        c->res->console_text = console_text(&c->con);
        snprintf(path, sizeof(path), "%s/log/qemu/%s.log", c->embed_root ? c->embed_root : "",
                 c->res->domain_name ? c->res->domain_name : "");
        c->res->qemu_log_text = run_read_tail(path);
    }
    if (c->run_dir)
        fileio_remove_tree(c->run_dir);
    if (c->overlay && !c->o->keep_overlay)
        unlink(c->overlay);
    if (c->reaper_started)
        reaper_finish(&c->reaper);
    console_close(&c->con);
    /* QEMU is gone (killed and reaped above, or by the watchdog): the uid is free */
    confine_release(&c->cf);
    c->res->t.teardown_ms = deadline_ms_between(t0, deadline_now());
}

int
run_execute(const struct vr_options *opts, const struct run_io *io, struct run_result *res)
{
    struct run_ctx c = {.o = opts,
                        .io = *io,
                        .res = res,
                        .sigfd = -1,
                        .stdin_index = -1,
                        .qemu_status = -1,
                        .iow = {.callback_id = -1, .notify_fd = -1}};
    sigset_t mask;
    int64_t t_prep;

    memset(res, 0, sizeof(*res));
    res->exit_code = res->signal = -1;
    res->t = (struct run_timings){-1, -1, -1, -1, -1, -1, -1, -1, -1};
    c.t_start = deadline_now();
    channel_init(&c.ch);
    console_init(&c.con);
    confine_init(&c.cf);

    /* Blocked before libvirt starts any thread, so every thread inherits it
     * and the signals arrive only through the signalfd. */
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    c.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    c.iow.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c.sigfd < 0 || c.iow.notify_fd < 0) {
        vr_fail(&c.err, errno, "cannot create a signalfd or an eventfd");
        goto out;
    }

    t_prep = deadline_now();
    if (run_prepare(&c) < 0)
        goto out;
    res->t.prepare_ms = deadline_ms_between(t_prep, deadline_now());
    if (run_boot(&c) < 0 || run_transfer(&c) < 0 || run_module(&c) < 0)
        goto out;
out:
    if (c.err && !c.disk_limit_hit && !res->interrupted)
        run_explain_vm_end(&c);
    if (c.disk_limit_hit && !res->interrupted) {
        vr_error_free(c.err);
        c.err = NULL;
        res->status = RUN_DISK_LIMIT;
    }
    if (c.err)
        res->status = RUN_ERROR;
    /* a run that failed after the module started still ran this long */
    if (c.t_run && res->t.run_ms < 0)
        res->t.run_ms = deadline_ms_between(c.t_run, deadline_now());
    run_teardown(&c);
    res->t.total_ms = deadline_ms_between(c.t_start, deadline_now());
    res->error = steal_ptr(&c.err);
    free(c.files);
    free(c.state_dir);
    free(c.run_dir);
    free(c.overlay);
    free(c.socket_path);
    free(c.console_path);
    free(c.embed_root);
    free(c.cache_dir);
    free(c.initrd);
    if (c.sigfd >= 0)
        close(c.sigfd);
    if (c.iow.notify_fd >= 0)
        close(c.iow.notify_fd);
    return res->status == RUN_ERROR ? -1 : 0;
}

void
run_result_free(struct run_result *res)
{
    free(res->out.data);
    free(res->err.data);
    json_decref(res->import_info);
    image_info_clear(&res->image);
    free(res->kernel);
    free(res->agent_version);
    free(res->root_device);
    free(res->domain_name);
    free(res->overlay_kept);
    vr_error_free(res->error);
    json_decref(res->changes);
    vr_error_free(res->diff_error);
    free(res->console_text);
    free(res->qemu_log_text);
    memset(res, 0, sizeof(*res));
}
