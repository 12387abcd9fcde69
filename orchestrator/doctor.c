/* SPDX-License-Identifier: Apache-2.0 */
/*
 * doctor.c: the checks of `vmrun doctor` (see doctor.h for what each means).
 *
 * How it works. Checks run in order, cheap ones first, and later ones use
 * what earlier ones found: the QEMU binary found in PATH boots the guest
 * kernel and initramfs found by paths.c; the accelerator that booted it is
 * the one libvirt's capabilities and the libguestfs appliance are checked
 * with. Programs (QEMU for its version and for the boots, the vmrun-diff
 * helper for the appliance) run through command.c under a CLOCK_MONOTONIC
 * deadline, are killed at the deadline (or as soon as the boot's marker
 * shows) and are always reaped. libvirt is checked in a temporary embedded
 * root that is removed afterwards; nothing else is written but vmrun's own
 * state and runtime directories, created as a run would.
 */
#include "doctor.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "accel.h"
#include "cleanup.h"
#include "command.h"
#include "confine.h"
#include "deadline.h"
#include "domain.h"
#include "fileio.h"
#include "image.h"
#include "paths.h"

/* How much of a failing program's output a detail quotes. */
#define DOCTOR_TAIL 400
/* How much of a program's standard output is kept: its end. */
#define DOCTOR_KEEP 16384

static const char doctor_qemu_fix[] = "apt-get install qemu-system-x86";

/* ---- small helpers ------------------------------------------------------ */

const char *
doctor_status_name(enum doctor_status s)
{
    switch (s) {
    case DOCTOR_OK: return "ok";
    case DOCTOR_WARN: return "warn";
    case DOCTOR_FAIL: return "fail";
    case DOCTOR_SKIP: return "skip";
    }
    return "fail";
}

__attribute__((format(printf, 3, 4))) static void
doctor_say(struct doctor_check *c, enum doctor_status st, const char *fmt, ...)
{
    va_list ap;

    free(c->detail);
    c->detail = NULL;
    c->status = st;
    va_start(ap, fmt);
    if (vasprintf(&c->detail, fmt, ap) < 0)
        c->detail = NULL;
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void
doctor_fix(struct doctor_check *c, const char *fmt, ...)
{
    va_list ap;

    free(c->fix);
    c->fix = NULL;
    va_start(ap, fmt);
    if (vasprintf(&c->fix, fmt, ap) < 0)
        c->fix = NULL;
    va_end(ap);
}

/* "79.0 GiB", "512 MiB" */
static void
doctor_human(uint64_t bytes, char *buf, size_t size)
{
    if (bytes >= (1ULL << 30))
        snprintf(buf, size, "%.1f GiB", (double)bytes / (double)(1ULL << 30));
    else
        snprintf(buf, size, "%llu MiB", (unsigned long long)(bytes >> 20));
}

/* The executable name in PATH, as a fresh absolute path, or NULL. */
static char *
doctor_which(const char *name)
{
    const char *path = getenv("PATH");
    _cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *dir, *save = NULL;

    if (!copy)
        return NULL;
    for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX];
        struct stat st;
        if (snprintf(full, sizeof(full), "%s/%s", dir, name) >= (int)sizeof(full))
            continue;
        if (access(full, X_OK) == 0 && stat(full, &st) == 0 && S_ISREG(st.st_mode))
            return strdup(full);
    }
    return NULL;
}

int
doctor_parse_qemu_version(const char *text, unsigned v[3])
{
    const char *p = strstr(text, "version ");
    unsigned a = 0, b = 0, c = 0;
    int n;

    v[0] = v[1] = v[2] = 0;
    if (!p)
        return -1;
    n = sscanf(p + 8, "%u.%u.%u", &a, &b, &c);
    if (n < 2 || a > 1000 || b > 1000 || c > 100000)
        return -1;
    v[0] = a;
    v[1] = b;
    v[2] = n == 3 ? c : 0;
    return 0;
}

int
doctor_version_at_least(const unsigned v[3], unsigned major, unsigned minor)
{
    return v[0] > major || (v[0] == major && v[1] >= minor);
}

enum doctor_status
doctor_disk_status(uint64_t free_bytes)
{
    if (free_bytes < DOCTOR_DISK_FAIL_BYTES)
        return DOCTOR_FAIL;
    if (free_bytes < DOCTOR_DISK_WARN_BYTES)
        return DOCTOR_WARN;
    return DOCTOR_OK;
}

char *
doctor_probe_cmdline(int kvm, unsigned long tsc_khz)
{
    char *s = NULL;
    char tsc[48] = "";

    /* As a run's (run.c): under TCG the guest is told its TSC rate, or its
     * calibration may fail and the boot hang. */
    if (!kvm && tsc_khz)
        snprintf(tsc, sizeof(tsc), " tsc_early_khz=%lu", tsc_khz);
    if (asprintf(&s, "console=ttyS0 quiet loglevel=3 panic=-1 reboot=t%s vmrun.debug=1", tsc) < 0)
        return NULL;
    return s;
}

char *
doctor_tail_line(const char *text, size_t len, size_t max)
{
    const char *p = len > max ? text + len - max : text;
    const char *end = text + len;
    char *out = malloc((size_t)(end - p) * 4 + 1), *o = out;
    int sep = 0;

    if (!out)
        return NULL;
    for (; p < end; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\n' || ch == '\r') {
            sep = o > out;
            continue;
        }
        if (ch == ' ' && (o == out || sep))
            continue; /* no blanks at the start of the text or of a line */
        if (sep) {
            memcpy(o, " | ", 3);
            o += 3;
            sep = 0;
        }
        *o++ = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    while (o > out && o[-1] == ' ')
        o--;
    *o = '\0';
    return out;
}

/* ---- the checks --------------------------------------------------------- */

struct doctor_ctx {
    const struct doctor_options *o;
    struct doctor_report *r;
    char *qemu;                 /* qemu-system-x86_64 in PATH */
    char *kernel;               /* vmlinux */
    char *initrd;               /* initramfs.cpio */
    struct command_result proc; /* the last program run */
};

/* Run argv (a path) for at most limit_s seconds, stdin from /dev/null, into
 * x->proc; merge: stderr goes to its out as well. 0 whatever the program
 * did, -1 when it could not be run. */
static int
doctor_spawn(struct doctor_ctx *x, const char *const argv[], int merge, const char *marker,
             double limit_s, struct vr_error **errp)
{
    struct command_opts o = {.out_max = DOCTOR_KEEP,
                             .overflow = COMMAND_OVERFLOW_TAIL,
                             .merge = merge,
                             .deadline = deadline_after_s(limit_s),
                             .marker = marker};

    command_result_clear(&x->proc);
    return command_capture_opts(argv, &o, &x->proc, errp);
}

static void
doctor_check_qemu(struct doctor_ctx *x, struct doctor_check *c)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_free_ char *line = NULL;
    const char *argv[3];
    unsigned *v = x->r->qemu_version;

    c->essential = !x->o->connect_uri;
    x->qemu = doctor_which("qemu-system-x86_64");
    if (!x->qemu) {
        doctor_say(c, x->o->connect_uri ? DOCTOR_WARN : DOCTOR_FAIL,
                   "qemu-system-x86_64 is not in PATH%s",
                   x->o->connect_uri
                       ? " (the libvirt behind --connect may have its own; no guest can be booted "
                         "here to prove the accelerator)"
                       : "");
        doctor_fix(c, "%s", doctor_qemu_fix);
        return;
    }
    argv[0] = x->qemu;
    argv[1] = "--version";
    argv[2] = NULL;
    if (doctor_spawn(x, argv, 1, NULL, 10, &err) < 0 || x->proc.status != 0) {
        if (!err)
            line = doctor_tail_line(x->proc.out, x->proc.out_len, DOCTOR_TAIL);
        doctor_say(c, DOCTOR_FAIL, "'%s --version' failed: %s", x->qemu,
                   err             ? err->message
                   : line && *line ? line
                                   : "no output");
        doctor_fix(c, "reinstall QEMU: apt-get install --reinstall qemu-system-x86");
        return;
    }
    line = doctor_tail_line(x->proc.out, strcspn(x->proc.out, "\n"), DOCTOR_TAIL);
    if (doctor_parse_qemu_version(x->proc.out, v) < 0) {
        doctor_say(c, DOCTOR_WARN, "%s: cannot read a version in '%s'", x->qemu, line ? line : "");
        return;
    }
    if (!doctor_version_at_least(v, DOCTOR_QEMU_MIN_MAJOR, DOCTOR_QEMU_MIN_MINOR)) {
        doctor_say(c, DOCTOR_FAIL, "%s is QEMU %u.%u.%u; vmrun needs %d.%d or later (microvm)",
                   x->qemu, v[0], v[1], v[2], DOCTOR_QEMU_MIN_MAJOR, DOCTOR_QEMU_MIN_MINOR);
        doctor_fix(c, "install QEMU %d.%d or later (Debian 12: apt-get install qemu-system-x86)",
                   DOCTOR_QEMU_MIN_MAJOR, DOCTOR_QEMU_MIN_MINOR);
        return;
    }
    doctor_say(c, DOCTOR_OK, "QEMU %u.%u.%u at %s", v[0], v[1], v[2], x->qemu);
}

static void
doctor_check_qemu_img(struct doctor_ctx *x, struct doctor_check *c)
{
    _cleanup_free_ char *path = doctor_which("qemu-img");

    (void)x;
    c->essential = 1;
    if (!path) {
        doctor_say(c, DOCTOR_FAIL, "qemu-img is not in PATH (each run's overlay is made with it)");
        doctor_fix(c, "apt-get install qemu-utils");
        return;
    }
    doctor_say(c, DOCTOR_OK, "%s", path);
}

static void
doctor_check_guest_file(const char *name, char **out, struct doctor_check *c)
{
    _cleanup_error_ struct vr_error *err = NULL;
    struct stat st;
    char size[32];

    c->essential = 1;
    if (paths_guest_file(name, out, &err) < 0) {
        doctor_say(c, DOCTOR_FAIL, "%s", err->message);
        doctor_fix(c, "make guest (in the source tree; or make install)");
        return;
    }
    if (stat(*out, &st) < 0 || st.st_size == 0) {
        doctor_say(c, DOCTOR_FAIL, "'%s' is empty or unreadable", *out);
        doctor_fix(c, "make guest (in the source tree; or make install)");
        free(*out);
        *out = NULL;
        return;
    }
    doctor_human((uint64_t)st.st_size, size, sizeof(size));
    doctor_say(c, DOCTOR_OK, "%s (%s)", *out, size);
}

/* Boot the guest with QEMU directly; 0 with *ms when the agent spoke, else
 * -1 with *why (caller frees). */
static int
doctor_boot(struct doctor_ctx *x, int kvm, double limit_s, double *ms, char **why)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_free_ char *cmdline = doctor_probe_cmdline(kvm, kvm ? 0 : accel_tsc_khz());
    _cleanup_free_ char *tail = NULL;
    const char *argv[32];
    size_t n = 0;
    int r;

    *why = NULL;
    if (!cmdline) {
        *why = strdup("out of memory");
        return -1;
    }
    /* The machine of a run (domain.c: microvm, virtio-mmio) with no devices
     * but the serial console: the agent's first line comes before it looks
     * for disks or its port. KVM gets the host CPU as libvirt's
     * host-passthrough does. */
    argv[n++] = x->qemu;
    argv[n++] = "-M";
    argv[n++] = "microvm,x-option-roms=off,isa-serial=on";
    argv[n++] = "-nodefaults";
    argv[n++] = "-no-user-config";
    argv[n++] = "-display";
    argv[n++] = "none";
    argv[n++] = "-no-reboot";
    argv[n++] = "-m";
    argv[n++] = "256";
    argv[n++] = "-smp";
    argv[n++] = "1";
    argv[n++] = "-accel";
    argv[n++] = kvm ? "kvm" : "tcg,thread=multi";
    if (kvm) {
        argv[n++] = "-cpu";
        argv[n++] = "host";
    }
    argv[n++] = "-kernel";
    argv[n++] = x->kernel;
    argv[n++] = "-initrd";
    argv[n++] = x->initrd;
    argv[n++] = "-append";
    argv[n++] = cmdline;
    argv[n++] = "-serial";
    argv[n++] = "stdio";
    argv[n] = NULL;
    r = doctor_spawn(x, argv, 1, DOCTOR_AGENT_MARKER, limit_s, &err);
    if (r == 0 && x->proc.marker_seen) {
        *ms = x->proc.marker_ms;
        return 0;
    }
    if (r == 0)
        tail = doctor_tail_line(x->proc.out, x->proc.out_len, DOCTOR_TAIL);
    if (r < 0)
        r = asprintf(why, "%s", err->message);
    else if (x->proc.timed_out)
        r = asprintf(why, "the guest agent did not start within %g s (console and QEMU: %s)",
                     limit_s, tail && *tail ? tail : "no output");
    else
        r = asprintf(why, "QEMU exited (status %d) before the guest agent started: %s",
                     x->proc.status, tail && *tail ? tail : "no output");
    if (r < 0)
        *why = NULL;
    return -1;
}

static void
doctor_check_accel(struct doctor_ctx *x, struct doctor_check *c)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_free_ char *kvm_why = NULL;
    _cleanup_free_ char *tcg_why = NULL;
    struct accel_result ar;
    double ms = 0;

    c->essential = 1;
    if (accel_choose(ACCEL_AUTO, &ar, &err) < 0) {
        ar.kvm = 0;
        ar.reason = "cannot tell";
    }
    x->r->kvm = ar.kvm;
    x->r->accel_reason = ar.reason;
    if (!x->qemu || !x->kernel || !x->initrd) {
        doctor_say(c, DOCTOR_SKIP,
                   "no guest booted (needs QEMU, the kernel and the initramfs); "
                   "vmrun would choose %s: %s",
                   ar.kvm ? "KVM" : "TCG", ar.reason);
        return;
    }
    if (ar.kvm) {
        if (doctor_boot(x, 1, x->o->kvm_boot_limit_s, &ms, &kvm_why) == 0) {
            x->r->accel_known = 1;
            x->r->boot_ms = ms;
            doctor_say(c, DOCTOR_OK,
                       "KVM works: the guest agent started %.2f s after QEMU started (%s)",
                       ms / 1000.0, ar.reason);
            return;
        }
    }
    if (doctor_boot(x, 0, x->o->tcg_boot_limit_s, &ms, &tcg_why) < 0) {
        doctor_say(c, DOCTOR_FAIL, "the guest does not start under %s: %s%s%s",
                   ar.kvm ? "KVM or TCG" : "TCG", tcg_why ? tcg_why : "?",
                   kvm_why ? "; under KVM: " : "", kvm_why ? kvm_why : "");
        doctor_fix(c, "rebuild the guest kernel and initramfs (make guest); 'vmrun -v IMAGE "
                      "MODULE' then shows the guest console");
        return;
    }
    x->r->accel_known = 1;
    x->r->kvm = 0;
    x->r->boot_ms = x->r->tcg_boot_ms = ms;
    if (ar.kvm) {
        doctor_say(c, DOCTOR_WARN,
                   "vmrun's automatic choice is KVM here (%s), but a KVM guest did not start: "
                   "%s. Under TCG the guest agent started %.2f s after QEMU started (measured "
                   "here)",
                   ar.reason, kvm_why ? kvm_why : "?", ms / 1000.0);
        doctor_fix(c, "pass --accel tcg to vmrun until KVM works (see 'dmesg' for KVM errors; "
                      "in a VM, enable nested virtualisation)");
        return;
    }
    doctor_say(c, DOCTOR_WARN,
               "KVM is not usable: %s. TCG (software emulation) will be used: the guest agent "
               "started %.2f s after QEMU started (measured here); a KVM boot is typically "
               "about 10x faster, and the module runs slower too",
               ar.reason, ms / 1000.0);
    doctor_fix(c, "for KVM, run vmrun on a host whose CPU offers hardware virtualisation (vmx or "
                  "svm in /proc/cpuinfo) with /dev/kvm from kvm_intel or kvm_amd, readable and "
                  "writable by this user (in a VM: nested virtualisation); TCG needs no fix");
}

/* The embedded driver's configuration: the one every run writes. */
static int
doctor_seed_embed_root(const char *root)
{
    _cleanup_free_ char *etc = NULL, *conf = NULL;

    if (asprintf(&etc, "%s/etc", root) < 0 || asprintf(&conf, "%s/etc/qemu.conf", root) < 0)
        return -1;
    if (fileio_mkdirs(etc, 0700) < 0)
        return -1;
    return fileio_write_atomic(conf, confine_qemu_conf, strlen(confine_qemu_conf), 0600);
}

static void
doctor_libvirt_fix(struct doctor_ctx *x, struct doctor_check *c, int connected, const char *message)
{
    if (connected && x->o->connect_uri) {
        doctor_fix(c, "connect to a libvirt QEMU driver whose QEMU (4.2 or later) has the microvm "
                      "machine, or leave --connect out to use the embedded driver");
    } else if (connected) {
        doctor_fix(c, "apt-get install qemu-system-x86 (QEMU 4.2 or later, with the microvm "
                      "machine); if it is installed, the error above says what libvirt could not "
                      "do");
    } else if (x->o->connect_uri) {
        doctor_fix(c,
                   "start the libvirt daemon behind '%s' and let this user connect to it "
                   "(virsh -c '%s' version), or leave --connect out to use the embedded driver",
                   x->o->connect_uri, x->o->connect_uri);
    } else if (!getpwnam("libvirt-qemu")) {
        doctor_fix(c, "apt-get install libvirt-daemon-system (it creates the libvirt-qemu user "
                      "that libvirt's QEMU driver needs)");
    } else if (strstr(message, "no connection driver") || strstr(message, "no driver")) {
        doctor_fix(c, "apt-get install libvirt-daemon-driver-qemu");
    } else {
        doctor_fix(c, "apt-get install libvirt-daemon-driver-qemu libvirt-daemon-system qemu-"
                      "system-x86; if they are installed, the error above says what libvirt "
                      "could not do");
    }
}

static void
doctor_check_libvirt(struct doctor_ctx *x, struct doctor_check *c)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_free_ char *runtime = NULL, *tmp = NULL, *root = NULL, *log = NULL;
    virConnectPtr conn = NULL;
    int kvm = x->r->kvm;
    int r, connected;

    c->essential = 1;
    if (!x->qemu && !x->o->connect_uri) {
        doctor_say(c, DOCTOR_SKIP, "not tried: the embedded driver needs QEMU");
        return;
    }
    if (paths_runtime_dir(&runtime, &err) < 0) {
        doctor_say(c, DOCTOR_FAIL, "%s", err->message);
        doctor_fix(c, "set VMRUN_RUNTIME_DIR to a private directory of this user");
        return;
    }
    if (asprintf(&tmp, "%s/doctor-XXXXXX", runtime) < 0 || !mkdtemp(tmp)) {
        doctor_say(c, DOCTOR_FAIL, "cannot create a temporary directory under '%s': %s", runtime,
                   strerror(errno));
        doctor_fix(c, "make '%s' writable, or set VMRUN_RUNTIME_DIR", runtime);
        return;
    }
    if (asprintf(&root, "%s/libvirt", tmp) < 0 || asprintf(&log, "%s/libvirt.log", tmp) < 0) {
        fileio_remove_tree(tmp);
        doctor_say(c, DOCTOR_FAIL, "out of memory");
        return;
    }
    r = x->o->connect_uri ? 0 : doctor_seed_embed_root(root);
    if (r < 0)
        vr_fail(&err, errno, "cannot write the embedded driver's configuration in '%s'", root);
    if (r == 0)
        r = domain_init(log, &err);
    if (r == 0)
        r = domain_connect(x->o->connect_uri, root, &conn, &err);
    if (r == 0)
        r = domain_load_capabilities(conn, kvm, &err);
    connected = conn != NULL;
    if (conn)
        virConnectClose(conn);
    fileio_remove_tree(tmp);
    if (r < 0) {
        doctor_say(c, DOCTOR_FAIL, "%s", err->message);
        doctor_libvirt_fix(x, c, connected, err->message);
        return;
    }
    doctor_say(c, DOCTOR_OK, "%s answers and describes QEMU's microvm machine (%s)",
               x->o->connect_uri ? x->o->connect_uri
                                 : "the embedded QEMU driver (qemu:///embed, temporary root)",
               kvm ? "kvm" : "qemu/TCG");
}

static void
doctor_check_appliance(struct doctor_ctx *x, struct doctor_check *c)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_free_ char *helper = NULL, *tail = NULL;
    _cleanup_json_ json_t *res = NULL;
    const char *tcg_env = x->r->kvm ? "" : " LIBGUESTFS_BACKEND_SETTINGS=force_tcg";
    const char *argv[6];
    json_t *ms;

    c->essential = 0;
    if (!x->o->appliance) {
        doctor_say(c, DOCTOR_SKIP, "not tried (--no-appliance)");
        return;
    }
    if (paths_helper("vmrun-diff", &helper, &err) < 0) {
        doctor_say(c, DOCTOR_FAIL, "%s (the disk diff, --diff, needs it)", err->message);
        doctor_fix(c, "make (in the source tree; or make install)");
        return;
    }
    argv[0] = helper;
    argv[1] = "--check";
    argv[2] = "--accel";
    argv[3] = x->r->kvm ? "kvm" : "tcg";
    argv[4] = "--json";
    argv[5] = NULL;
    if (doctor_spawn(x, argv, 0, NULL, x->o->appliance_limit_s, &err) < 0) {
        doctor_say(c, DOCTOR_FAIL, "%s", err->message);
        doctor_fix(c, "make (in the source tree; or make install)");
        return;
    }
    res = json_loads(x->proc.out, 0, NULL);
    ms = res ? json_object_get(res, "launch_ms") : NULL;
    if (x->proc.status == 0 && json_is_true(json_object_get(res, "launched")) &&
        json_is_integer(ms)) {
        doctor_say(c, DOCTOR_OK, "the appliance launched in %.1f s (backend direct%s)",
                   (double)json_integer_value(ms) / 1000.0, x->r->kvm ? ", KVM" : ", TCG forced");
        return;
    }
    if (json_is_string(json_object_get(res, "error")))
        tail = strdup(json_string_value(json_object_get(res, "error")));
    else
        tail = doctor_tail_line(x->proc.err, x->proc.err_len, DOCTOR_TAIL);
    if (x->proc.timed_out)
        doctor_say(c, DOCTOR_FAIL, "the appliance did not launch within %g s%s%s",
                   x->o->appliance_limit_s, tail && *tail ? ": " : "", tail ? tail : "");
    else
        doctor_say(c, DOCTOR_FAIL, "the appliance did not launch (vmrun-diff --check exit %d): %s",
                   x->proc.status, tail && *tail ? tail : "no output");
    doctor_fix(c,
               "apt-get install libguestfs-tools linux-image-amd64 (the appliance is built from a "
               "kernel in /boot); LIBGUESTFS_BACKEND=direct%s libguestfs-test-tool shows why it "
               "fails; runs without --diff do not need it",
               tcg_env);
}

static void
doctor_check_image(struct doctor_ctx *x, struct doctor_check *c)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_free_ char *path = NULL;
    struct image_info info = {0};
    char exe[PATH_MAX], vsize[32];
    ssize_t n;

    (void)x;
    c->essential = 0;
    /* vmrun has no installed default image: the one `make image` builds sits
     * next to the vmrun binary of the build tree (build/images/). */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        doctor_say(c, DOCTOR_WARN, "cannot tell where the vmrun binary is: %s", strerror(errno));
        return;
    }
    exe[n] = '\0';
    if (asprintf(&path, "%s/images/default.qcow2", dirname(exe)) < 0) {
        doctor_say(c, DOCTOR_WARN, "out of memory");
        return;
    }
    if (access(path, F_OK) < 0) {
        doctor_say(c, DOCTOR_WARN,
                   "no default image at '%s' (checked there only: vmrun installs none, and runs "
                   "the IMAGE given on its command line)",
                   path);
        doctor_fix(c, "make image (builds build/images/default.qcow2), or pass any qcow2 image "
                      "with python3 as IMAGE");
        return;
    }
    if (image_inspect(path, IMAGE_QCOW2, 0, &info, &err) < 0) {
        doctor_say(c, DOCTOR_WARN, "the default image '%s' is not usable: %s", path, err->message);
        doctor_fix(c, "rm '%s' && make image", path);
        return;
    }
    doctor_human(info.virtual_size, vsize, sizeof(vsize));
    doctor_say(c, DOCTOR_OK, "%s (qcow2 v%d, %s virtual)", info.path, info.qcow2_version, vsize);
    image_info_clear(&info);
}

static void
doctor_check_disk(struct doctor_ctx *x, struct doctor_check *c)
{
    _cleanup_error_ struct vr_error *err = NULL;
    _cleanup_free_ char *state = NULL, *runtime = NULL;
    struct statvfs s1, s2;
    uint64_t f1, f2;
    enum doctor_status st;
    char h1[32], h2[32];
    const char *low;

    (void)x;
    c->essential = 1;
    if (paths_state_dir(&state, &err) < 0 || paths_runtime_dir(&runtime, &err) < 0) {
        doctor_say(c, DOCTOR_FAIL, "%s", err->message);
        doctor_fix(c, "set VMRUN_STATE_DIR and VMRUN_RUNTIME_DIR to writable directories of "
                      "this user");
        return;
    }
    if (statvfs(state, &s1) < 0 || statvfs(runtime, &s2) < 0) {
        doctor_say(c, DOCTOR_FAIL, "cannot read the free space of '%s' or '%s': %s", state, runtime,
                   strerror(errno));
        return;
    }
    f1 = (uint64_t)s1.f_bavail * s1.f_frsize;
    f2 = (uint64_t)s2.f_bavail * s2.f_frsize;
    doctor_human(f1, h1, sizeof(h1));
    doctor_human(f2, h2, sizeof(h2));
    st = doctor_disk_status(f1 < f2 ? f1 : f2);
    doctor_say(c, st,
               "%s free in the state directory '%s' (overlays, caches); %s free in the "
               "runtime directory '%s'",
               h1, state, h2, runtime);
    if (st == DOCTOR_OK)
        return;
    low = f1 < f2 ? state : runtime;
    doctor_fix(c,
               "free space on the filesystem of '%s' (vmrun wants %llu MiB at least, %llu GiB to "
               "be comfortable), or set %s to a directory on a larger one",
               low, DOCTOR_DISK_FAIL_BYTES >> 20, DOCTOR_DISK_WARN_BYTES >> 30,
               low == state ? "VMRUN_STATE_DIR" : "VMRUN_RUNTIME_DIR");
}

static void
doctor_check_kernel(struct doctor_ctx *x, struct doctor_check *c)
{
    doctor_check_guest_file("vmlinux", &x->kernel, c);
}

static void
doctor_check_initramfs(struct doctor_ctx *x, struct doctor_check *c)
{
    doctor_check_guest_file("initramfs.cpio", &x->initrd, c);
}

void
doctor_run(const struct doctor_options *o, struct doctor_report *r)
{
    static const struct {
        const char *name;
        void (*fn)(struct doctor_ctx *x, struct doctor_check *c);
    } checks[] = {
        {"qemu", doctor_check_qemu},
        {"qemu-img", doctor_check_qemu_img},
        {"kernel", doctor_check_kernel},
        {"initramfs", doctor_check_initramfs},
        {"accel", doctor_check_accel},
        {"libvirt", doctor_check_libvirt},
        {"libguestfs", doctor_check_appliance},
        {"image", doctor_check_image},
        {"disk", doctor_check_disk},
    };
    struct doctor_ctx x = {.o = o, .r = r};

    memset(r, 0, sizeof(*r));
    r->boot_ms = r->tcg_boot_ms = -1;
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]) && i < DOCTOR_MAX_CHECKS; i++) {
        struct doctor_check *c = &r->checks[r->n++];
        int64_t t0 = deadline_now();

        c->name = checks[i].name;
        checks[i].fn(&x, c);
        c->elapsed_ms = deadline_ms_between(t0, deadline_now());
        if (o->progress)
            o->progress(o->opaque, c);
    }
    command_result_clear(&x.proc);
    free(x.qemu);
    free(x.kernel);
    free(x.initrd);
}

void
doctor_report_clear(struct doctor_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->checks[i].detail);
        free(r->checks[i].fix);
    }
    r->n = 0;
}

int
doctor_can_run(const struct doctor_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->checks[i].essential && r->checks[i].status == DOCTOR_FAIL)
            return 0;
    }
    return 1;
}

static json_t *
doctor_ms_json(double ms)
{
    return ms < 0 ? json_null() : json_integer((json_int_t)(ms + 0.5));
}

json_t *
doctor_report_json(const struct doctor_report *r)
{
    _cleanup_json_ json_t *j = json_object();
    json_t *checks = json_array();
    const unsigned *v = r->qemu_version;

    if (!j || !checks || json_object_set_new(j, "checks", checks) < 0)
        return NULL;
    json_object_set_new(j, "ok", json_boolean(doctor_can_run(r)));
    json_object_set_new(j, "accel",
                        r->accel_known ? json_string(r->kvm ? "kvm" : "tcg") : json_null());
    json_object_set_new(j, "accel_reason",
                        r->accel_reason ? json_string(r->accel_reason) : json_null());
    json_object_set_new(j, "boot_ms", doctor_ms_json(r->boot_ms));
    json_object_set_new(j, "tcg_boot_ms", doctor_ms_json(r->tcg_boot_ms));
    json_object_set_new(j, "qemu_version",
                        v[0] ? json_sprintf("%u.%u.%u", v[0], v[1], v[2]) : json_null());
    for (size_t i = 0; i < r->n; i++) {
        const struct doctor_check *c = &r->checks[i];
        json_t *e = json_pack("{s:s, s:s, s:b}", "name", c->name, "status",
                              doctor_status_name(c->status), "essential", c->essential);
        if (!e)
            return NULL;
        json_object_set_new(e, "detail", c->detail ? json_string(c->detail) : json_null());
        json_object_set_new(e, "fix", c->fix ? json_string(c->fix) : json_null());
        json_object_set_new(e, "elapsed_ms", json_integer((json_int_t)(c->elapsed_ms + 0.5)));
        json_array_append_new(checks, e);
    }
    return steal_ptr(&j);
}
