/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char cli_usage_text[] =
    "Usage: vmrun [run] [OPTIONS] IMAGE MODULE [ARGS...]\n"
    "       vmrun diff [OPTIONS] BASE OVERLAY   (see 'vmrun diff --help')\n"
    "       vmrun doctor [OPTIONS]              (see 'vmrun doctor --help')\n"
    "\n"
    "Run the Python file MODULE inside a disposable virtual machine booted from the\n"
    "read-only disk IMAGE (through a throwaway qcow2 overlay), with no network device,\n"
    "a hard wall-clock limit, and stream its output back. As root, QEMU runs under a\n"
    "uid of its own, in its seccomp sandbox and a cgroup holding it to --cpus and\n"
    "--memory (docs/security.md); the report's \"confinement\" says what applied.\n"
    "\n"
    "Image and VM:\n"
    "  --format qcow2|raw     format of IMAGE (default qcow2; raw must be asked for)\n"
    "  --allow-backing        accept a qcow2 IMAGE whose header names a backing or data\n"
    "                         file (refused by default: an image must not make vmrun\n"
    "                         open host files)\n"
    "  --root DEV             guest device of the root filesystem, e.g. /dev/vda2\n"
    "                         (default: /dev/vda, else the first partition with python3)\n"
    "  --memory MIB           guest memory in MiB (default 512, 64..65536)\n"
    "  --cpus N               virtual CPUs (default 1, 1..64)\n"
    "  --accel auto|kvm|tcg   accelerator (default auto: KVM where it really works,\n"
    "                         else TCG software emulation; the report says which ran)\n"
    "  --connect URI          libvirt URI (default: a private embedded QEMU driver,\n"
    "                         no daemon needed)\n"
    "  --kernel FILE          guest kernel (default: the one installed with vmrun)\n"
    "  --initrd FILE          initramfs holding the guest agent (default: installed)\n"
    "  --keep-overlay PATH    keep the overlay disk at PATH instead of deleting it\n"
    "  --disk-limit BYTES     most the overlay may grow on the host (default: the\n"
    "                         image's virtual size plus qcow2 metadata); a guest that\n"
    "                         writes more ends with status disk_limit\n"
    "\n"
    "The module:\n"
    "  --timeout SECONDS      wall-clock limit for the module (default 60); when it\n"
    "                         expires the VM is destroyed from the host\n"
    "  --boot-timeout SECONDS limit for the VM to boot and its agent to answer, and\n"
    "                         for the files to be shipped (default 60)\n"
    "  --agent-timeout SECONDS  while the module runs, the guest agent says it is\n"
    "                         alive every second; silence this long ends the run as\n"
    "                         vmrun's failure, not the module's (default 10)\n"
    "  --stdin FILE           feed FILE to the module's stdin (default: closed, so\n"
    "                         input() gets EOF at once)\n"
    "  --input FILE           ship FILE into the module's working directory under its\n"
    "                         base name (repeatable)\n"
    "  --env K=V              set an environment variable for the module (repeatable)\n"
    "  --user nobody|root     user the module runs as in the guest (default nobody)\n"
    "  --import               import MODULE under its own name instead of running it\n"
    "                         as __main__; the report says whether the import\n"
    "                         completed, raised (with the traceback) or timed out\n"
    "  --output-limit BYTES   cap on each of stdout and stderr (default 1M; K, M, G\n"
    "                         suffixes are powers of 1024)\n"
    "  --cpu-limit SECONDS    RLIMIT_CPU for the module (default 0 = none)\n"
    "  --max-procs N          RLIMIT_NPROC for the module's user (default 256, 0 = none)\n"
    "  --max-files N          RLIMIT_NOFILE (default 256, 0 = none)\n"
    "  --max-file-size BYTES  RLIMIT_FSIZE (default 256M, 0 = none)\n"
    "\n"
    "The disk, after the run (overlay against IMAGE, inside a libguestfs\n"
    "appliance; the host never mounts the guest filesystem):\n"
    "  --diff none|meta|full  none: skip; meta: added, deleted, changed paths with\n"
    "                         their metadata; full (default): also sha256 of changed\n"
    "                         regular files\n"
    "  --diff-max-entries N   entries listed at most (default 10000; the report\n"
    "                         still counts them all)\n"
    "  --diff-times           count mtime/ctime changes too, directories included\n"
    "  --extract DIR          copy added and modified regular files into DIR, under\n"
    "                         their guest paths (never outside DIR)\n"
    "  --extract-limit BYTES  total size extracted at most (default 256M)\n"
    "  --allow-write PATTERN  paths the module may change (fnmatch, a directory\n"
    "                         pattern covers what is below it; repeatable); every\n"
    "                         other change is listed under \"violations\"\n"
    "  --fail-on-violation    exit 123 when there is any violation\n"
    "\n"
    "Output:\n"
    "  --report FILE          write the JSON report to FILE\n"
    "  --json                 print the JSON report on stdout instead of streaming the\n"
    "                         module's output (the output is inside the report)\n"
    "  -q, --quiet            print nothing of vmrun's own (errors still go to stderr)\n"
    "  -v, --verbose          progress on stderr; on failure also the guest console\n"
    "                         and the QEMU log\n"
    "  -h, --help             show this help\n"
    "  -V, --version          show the version\n"
    "\n"
    "Exit status:\n"
    "  the module's own exit status when it ran to completion\n"
    "  124     the module timed out\n"
    "  128+N   the module died of signal N (137 also when it ran out of memory)\n"
    "  153     the guest wrote more than --disk-limit to its disk (128+SIGXFSZ)\n"
    "  125     vmrun itself failed or was used wrongly (bad option, bad image,\n"
    "          libvirt or QEMU error, the guest agent never answered): not the\n"
    "          module's fault; see the message or the report's \"error\"\n"
    "  123     with --fail-on-violation: the module changed files outside every\n"
    "          --allow-write pattern (it ran to completion or timed out)\n"
    "  130     interrupted (Ctrl-C); the VM is destroyed and the overlay removed\n"
    "A module may itself exit with any of these numbers: the JSON report's \"status\"\n"
    "(exited, signaled, timeout, oom, disk_limit, error) is the unambiguous verdict.\n"
    "\n"
    "Environment:\n"
    "  VMRUN_STATE_DIR        overlays and caches (default /var/lib/vmrun as root,\n"
    "                         else $XDG_STATE_HOME/vmrun or ~/.local/state/vmrun)\n"
    "  VMRUN_RUNTIME_DIR      per-run sockets and libvirt's embedded root (default\n"
    "                         /run/vmrun as root, else $XDG_RUNTIME_DIR/vmrun or\n"
    "                         /tmp/vmrun-UID)\n"
    "  VMRUN_GUEST_DIR        where to look first for vmlinux and initramfs.cpio\n"
    "\n"
    "Errors in the command line itself are reported on stderr only (no --report).\n";

const char *
cli_usage(void)
{
    return cli_usage_text;
}

int
cli_parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    double v;

    if (!s || !*s || strspn(s, "0123456789.") != strlen(s))
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v <= 0 || v > 7 * 24 * 3600.0)
        return -1;
    *out = v;
    return 0;
}

int
cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (!s || !*s || strspn(s, "0123456789") != strlen(s))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

int
cli_parse_size(const char *s, uint64_t *out)
{
    size_t n = s ? strlen(s) : 0;
    uint64_t mult = 1, v;
    char buf[32];

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n + 1);
    switch (buf[n - 1]) {
    case 'K':
    case 'k': mult = 1ULL << 10; break;
    case 'M':
    case 'm': mult = 1ULL << 20; break;
    case 'G':
    case 'g': mult = 1ULL << 30; break;
    default: break;
    }
    if (mult != 1)
        buf[n - 1] = '\0';
    if (cli_parse_uint(buf, UINT64_MAX / mult, &v) < 0)
        return -1;
    *out = v * mult;
    return 0;
}

static int
cli_push(const char ***list, size_t *n, const char *item)
{
    const char **grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (!grown)
        return -1;
    grown[(*n)++] = item;
    *list = grown;
    return 0;
}

enum {
    OPT_FORMAT = 256,
    OPT_ALLOW_BACKING,
    OPT_ROOT,
    OPT_MEMORY,
    OPT_CPUS,
    OPT_ACCEL,
    OPT_CONNECT,
    OPT_KERNEL,
    OPT_INITRD,
    OPT_KEEP_OVERLAY,
    OPT_TIMEOUT,
    OPT_BOOT_TIMEOUT,
    OPT_AGENT_TIMEOUT,
    OPT_DISK_LIMIT,
    OPT_STDIN,
    OPT_INPUT,
    OPT_ENV,
    OPT_USER,
    OPT_IMPORT,
    OPT_OUTPUT_LIMIT,
    OPT_CPU_LIMIT,
    OPT_MAX_PROCS,
    OPT_MAX_FILES,
    OPT_MAX_FILE_SIZE,
    OPT_REPORT,
    OPT_JSON,
    OPT_DIFF,
    OPT_DIFF_MAX_ENTRIES,
    OPT_DIFF_TIMES,
    OPT_EXTRACT,
    OPT_EXTRACT_LIMIT,
    OPT_ALLOW_WRITE,
    OPT_FAIL_ON_VIOLATION,
};

static const struct option cli_longopts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"allow-backing", no_argument, NULL, OPT_ALLOW_BACKING},
    {"root", required_argument, NULL, OPT_ROOT},
    {"memory", required_argument, NULL, OPT_MEMORY},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"accel", required_argument, NULL, OPT_ACCEL},
    {"connect", required_argument, NULL, OPT_CONNECT},
    {"kernel", required_argument, NULL, OPT_KERNEL},
    {"initrd", required_argument, NULL, OPT_INITRD},
    {"keep-overlay", required_argument, NULL, OPT_KEEP_OVERLAY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
    {"agent-timeout", required_argument, NULL, OPT_AGENT_TIMEOUT},
    {"disk-limit", required_argument, NULL, OPT_DISK_LIMIT},
    {"stdin", required_argument, NULL, OPT_STDIN},
    {"input", required_argument, NULL, OPT_INPUT},
    {"env", required_argument, NULL, OPT_ENV},
    {"user", required_argument, NULL, OPT_USER},
    {"import", no_argument, NULL, OPT_IMPORT},
    {"output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT},
    {"cpu-limit", required_argument, NULL, OPT_CPU_LIMIT},
    {"max-procs", required_argument, NULL, OPT_MAX_PROCS},
    {"max-files", required_argument, NULL, OPT_MAX_FILES},
    {"max-file-size", required_argument, NULL, OPT_MAX_FILE_SIZE},
    {"report", required_argument, NULL, OPT_REPORT},
    {"json", no_argument, NULL, OPT_JSON},
    {"diff", required_argument, NULL, OPT_DIFF},
    {"diff-max-entries", required_argument, NULL, OPT_DIFF_MAX_ENTRIES},
    {"diff-times", no_argument, NULL, OPT_DIFF_TIMES},
    {"extract", required_argument, NULL, OPT_EXTRACT},
    {"extract-limit", required_argument, NULL, OPT_EXTRACT_LIMIT},
    {"allow-write", required_argument, NULL, OPT_ALLOW_WRITE},
    {"fail-on-violation", no_argument, NULL, OPT_FAIL_ON_VIOLATION},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int
cli_env_valid(const char *kv)
{
    const char *eq = strchr(kv, '=');
    const char *p;

    if (!eq || eq == kv)
        return 0;
    for (p = kv; p < eq; p++) {
        if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (p > kv && *p >= '0' && *p <= '9')))
            return 0;
    }
    return 1;
}

/* One option; returns 0 or -1 with *errp (usage). */
static int
cli_apply(struct vr_options *o, int c, const char *arg, const char *name, struct vr_error **errp)
{
    uint64_t v;

    switch (c) {
    case OPT_FORMAT:
        if (strcmp(arg, "qcow2") == 0)
            o->format = IMAGE_QCOW2;
        else if (strcmp(arg, "raw") == 0)
            o->format = IMAGE_RAW;
        else
            return vr_usage(errp, "--format must be 'qcow2' or 'raw', not '%s'", arg);
        return 0;
    case OPT_ALLOW_BACKING: o->allow_backing = 1; return 0;
    case OPT_ROOT:
        if (strncmp(arg, "/dev/vd", 7) != 0 || strlen(arg) > 32 || strpbrk(arg + 5, "/. "))
            return vr_usage(errp, "--root must name a guest disk device like /dev/vda2, not '%s'",
                            arg);
        o->root_dev = arg;
        return 0;
    case OPT_MEMORY:
        if (cli_parse_uint(arg, 65536, &v) < 0 || v < 64)
            return vr_usage(
                errp, "--memory must be a whole number of MiB from 64 to 65536, not '%s'", arg);
        o->memory_mib = (unsigned)v;
        return 0;
    case OPT_CPUS:
        if (cli_parse_uint(arg, 64, &v) < 0 || v < 1)
            return vr_usage(errp, "--cpus must be a whole number from 1 to 64, not '%s'", arg);
        o->cpus = (unsigned)v;
        return 0;
    case OPT_ACCEL:
        if (strcmp(arg, "auto") == 0)
            o->accel = ACCEL_AUTO;
        else if (strcmp(arg, "kvm") == 0)
            o->accel = ACCEL_KVM;
        else if (strcmp(arg, "tcg") == 0)
            o->accel = ACCEL_TCG;
        else
            return vr_usage(errp, "--accel must be 'auto', 'kvm' or 'tcg', not '%s'", arg);
        return 0;
    case OPT_CONNECT: o->connect_uri = arg; return 0;
    case OPT_KERNEL: o->kernel = arg; return 0;
    case OPT_INITRD: o->initrd = arg; return 0;
    case OPT_KEEP_OVERLAY: o->keep_overlay = arg; return 0;
    case OPT_DISK_LIMIT:
        if (cli_parse_size(arg, &o->disk_limit) < 0 || o->disk_limit < CLI_DISK_LIMIT_MIN)
            return vr_usage(errp, "--disk-limit must be a size of at least 1M, not '%s'", arg);
        return 0;
    case OPT_TIMEOUT:
    case OPT_AGENT_TIMEOUT:
    case OPT_BOOT_TIMEOUT: {
        double s;
        if (cli_parse_seconds(arg, &s) < 0)
            return vr_usage(errp,
                            "--%s must be a positive number of seconds (up to 604800), not '%s'",
                            name, arg);
        if (c == OPT_TIMEOUT)
            o->timeout_s = s;
        else if (c == OPT_AGENT_TIMEOUT)
            o->agent_timeout_s = s;
        else
            o->boot_timeout_s = s;
        return 0;
    }
    case OPT_STDIN: o->stdin_file = arg; return 0;
    case OPT_INPUT:
        if (cli_push(&o->inputs, &o->n_inputs, arg) < 0)
            return vr_fail(errp, ENOMEM, "cannot record --input");
        return 0;
    case OPT_ENV:
        if (!cli_env_valid(arg))
            return vr_usage(
                errp, "--env takes NAME=VALUE with NAME made of letters, digits and '_', not '%s'",
                arg);
        if (cli_push(&o->env, &o->n_env, arg) < 0)
            return vr_fail(errp, ENOMEM, "cannot record --env");
        return 0;
    case OPT_USER:
        if (strcmp(arg, "root") == 0)
            o->user_root = 1;
        else if (strcmp(arg, "nobody") == 0)
            o->user_root = 0;
        else
            return vr_usage(errp, "--user must be 'nobody' or 'root', not '%s'", arg);
        return 0;
    case OPT_IMPORT: o->import_mode = 1; return 0;
    case OPT_OUTPUT_LIMIT:
        if (cli_parse_size(arg, &v) < 0 || v > (1ULL << 30))
            return vr_usage(
                errp, "--output-limit must be a size up to 1G (e.g. 65536, 64K, 1M), not '%s'",
                arg);
        o->output_limit = v;
        return 0;
    case OPT_CPU_LIMIT:
    case OPT_MAX_PROCS:
    case OPT_MAX_FILES:
        if (cli_parse_uint(arg, 1u << 30, &v) < 0)
            return vr_usage(errp, "--%s must be a whole number (0 for no limit), not '%s'", name,
                            arg);
        if (c == OPT_CPU_LIMIT)
            o->limit_cpu_s = v;
        else if (c == OPT_MAX_PROCS)
            o->limit_nproc = v;
        else
            o->limit_nofile = v;
        return 0;
    case OPT_MAX_FILE_SIZE:
        if (cli_parse_size(arg, &v) < 0)
            return vr_usage(
                errp,
                "--max-file-size must be a size (e.g. 1048576, 64M; 0 for no limit), not '%s'",
                arg);
        o->limit_fsize = v;
        return 0;
    case OPT_DIFF:
        if (strcmp(arg, "none") == 0)
            o->diff = CLI_DIFF_NONE;
        else if (strcmp(arg, "meta") == 0)
            o->diff = CLI_DIFF_META;
        else if (strcmp(arg, "full") == 0)
            o->diff = CLI_DIFF_FULL;
        else
            return vr_usage(errp, "--diff must be 'none', 'meta' or 'full', not '%s'", arg);
        return 0;
    case OPT_DIFF_MAX_ENTRIES:
        if (cli_parse_uint(arg, 1u << 24, &v) < 0)
            return vr_usage(
                errp, "--diff-max-entries must be a whole number up to 16777216, not '%s'", arg);
        o->diff_max_entries = v;
        return 0;
    case OPT_DIFF_TIMES: o->diff_times = 1; return 0;
    case OPT_EXTRACT: o->extract_dir = arg; return 0;
    case OPT_EXTRACT_LIMIT:
        if (cli_parse_size(arg, &v) < 0)
            return vr_usage(errp, "--extract-limit must be a size (e.g. 64M), not '%s'", arg);
        o->extract_limit = v;
        return 0;
    case OPT_ALLOW_WRITE:
        if (arg[0] != '/')
            return vr_usage(
                errp, "--allow-write takes an absolute guest path pattern like /tmp/*, not '%s'",
                arg);
        if (cli_push(&o->allow_write, &o->n_allow_write, arg) < 0)
            return vr_fail(errp, ENOMEM, "cannot record --allow-write");
        return 0;
    case OPT_FAIL_ON_VIOLATION: o->fail_on_violation = 1; return 0;
    case OPT_REPORT: o->report_file = arg; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case 'q': o->quiet = 1; return 0;
    case 'v': o->verbose = 1; return 0;
    case 'h': o->action = ACTION_HELP; return 0;
    case 'V': o->action = ACTION_VERSION; return 0;
    default: return vr_usage(errp, "unknown option; see 'vmrun --help'");
    }
}

static const char *
cli_option_name(int c)
{
    const struct option *o;

    for (o = cli_longopts; o->name; o++) {
        if (o->val == c)
            return o->name;
    }
    return "?";
}

int
cli_parse(int argc, char **argv, struct vr_options *o, struct vr_error **errp)
{
    int c;

    memset(o, 0, sizeof(*o));
    o->format = IMAGE_QCOW2;
    o->accel = ACCEL_AUTO;
    o->timeout_s = 60;
    o->boot_timeout_s = 60;
    o->agent_timeout_s = 10;
    o->output_limit = 1ULL << 20;
    o->memory_mib = 512;
    o->cpus = 1;
    o->limit_nproc = 256;
    o->limit_nofile = 256;
    o->limit_fsize = 256ULL << 20;
    o->diff = CLI_DIFF_FULL;
    o->diff_max_entries = 10000;
    o->extract_limit = 256ULL << 20;

    /* "+": stop at the first operand. IMAGE may be followed by more options;
     * everything after MODULE belongs to the module. */
    optind = 0; /* 0, not 1: glibc's getopt keeps hidden state that only 0 resets */
    opterr = 0;
    for (;;) {
        int before = optind ? optind : 1;

        c = getopt_long(argc, argv, "+qvhV", cli_longopts, NULL);
        if (c == -1) {
            /* getopt stopped at an operand, or consumed a "--" after which
             * everything is an operand. */
            int dashdash = optind == before + 1 && strcmp(argv[before], "--") == 0;

            if (optind >= argc)
                break;
            if (!o->image) {
                o->image = argv[optind++];
                if (!dashdash)
                    continue;
            }
            if (optind < argc)
                o->module = argv[optind++];
            break;
        }
        if (c == '?') {
            if (optopt)
                return vr_usage(
                    errp, "option '-%c' is unknown or lacks its value; see 'vmrun --help'", optopt);
            return vr_usage(errp, "option '%s' is unknown or lacks its value; see 'vmrun --help'",
                            argv[optind - 1]);
        }
        if (cli_apply(o, c, optarg, cli_option_name(c), errp) < 0)
            return -1;
    }
    if (o->action != ACTION_RUN)
        return 0;
    if (!o->image)
        return vr_usage(errp,
                        "missing IMAGE and MODULE; usage: vmrun [OPTIONS] IMAGE MODULE [ARGS...]");
    if (!o->module)
        return vr_usage(errp, "missing MODULE; usage: vmrun [OPTIONS] IMAGE MODULE [ARGS...]");
    o->args = argv + optind;
    o->n_args = (size_t)(argc - optind);
    return 0;
}

void
cli_options_free(struct vr_options *o)
{
    free(o->inputs);
    free(o->env);
    free(o->allow_write);
    o->inputs = NULL;
    o->env = NULL;
    o->allow_write = NULL;
}
