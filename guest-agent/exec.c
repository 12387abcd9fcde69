/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec.c: runs the module for a `run` request and reports on it.
 *
 * How it works. The request is validated and everything the child needs
 * (argv, envp, descriptors) is prepared before fork, so the child only makes
 * system calls: reset signals, setsid (its own session and process group),
 * stdin/stdout/stderr (and fd 3, the import outcome) in place, chdir to the
 * working directory and chroot into the image (not in test mode), rlimits,
 * then drop to uid/gid 65534 for "nobody" (numbers, no NSS: the agent is
 * static), mark every other fd close-on-exec, and execve python3 from a short
 * list of paths. A close-on-exec pipe tells the parent why the child failed
 * before exec ("python3 not found in the image" is the agent's failure, so it
 * becomes an `error` reply, never an exit status); EOF on it means exec
 * succeeded and `started` is sent.
 *
 * The parent then runs one poll loop over the channel (a request during a run
 * is answered with `error`), the stdout and stderr pipes, the outcome pipe in
 * import mode, and the SIGCHLD signalfd. Output is forwarded as soon as it is
 * read (at most 64 KiB per frame); beyond output_limit it is still read and
 * counted, but dropped, so the module never blocks on a full pipe. wait4 gives
 * the exit status and rusage. After the module exits, the pipes are drained
 * until EOF or for 200 ms (a background child may hold them open), then the
 * process group is killed (as PID 1, every process but init), and `exit` goes
 * out. OOM: SIGKILL while /proc/vmstat oom_kill went up during the run.
 *
 * Import mode runs `python3 -c HARNESS MODULE ARGS...`; the harness imports
 * the module from its file with importlib and writes "completed" or
 * "raised\0NAME\0TRACEBACK" to fd 3. No outcome (os._exit, a signal) means
 * `exited`.
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define EXEC_CHUNK (64 * 1024)
#define EXEC_OUTCOME_MAX (64 * 1024)
#define EXEC_DRAIN_MS 200
/* While the module runs the agent says `alive` this often, so the host can
 * tell a long-running module from an agent that stopped (docs/protocol.md). */
#define EXEC_ALIVE_MS 1000

static const char exec_harness[] =
    "import sys, os\n"
    "os.set_inheritable(3, False)\n"
    "def _vmrun_report(b):\n"
    "    try:\n"
    "        while b:\n"
    "            b = b[os.write(3, b):]\n"
    "    except OSError:\n"
    "        pass\n"
    "def _vmrun_import():\n"
    "    import importlib.util, traceback\n"
    "    path = sys.argv[1]\n"
    "    name = path[:-3]\n"
    "    sys.argv = sys.argv[1:]\n"
    "    sys.path.insert(0, '.')\n"
    "    try:\n"
    "        spec = importlib.util.spec_from_file_location(name, path)\n"
    "        mod = importlib.util.module_from_spec(spec)\n"
    "        sys.modules[name] = mod\n"
    "        spec.loader.exec_module(mod)\n"
    "    except BaseException as e:\n"
    "        tb = traceback.format_exc()\n"
    "        try:\n"
    "            sys.stderr.write(tb)\n"
    "            sys.stderr.flush()\n"
    "        except BaseException:\n"
    "            pass\n"
    "        t = tb.encode('utf-8', 'backslashreplace')[-60000:].decode('utf-8', 'ignore')\n"
    "        n = type(e).__name__[:200].encode('utf-8', 'backslashreplace')\n"
    "        _vmrun_report(b'raised\\0' + n + b'\\0' + t.encode())\n"
    "        return 1\n"
    "    _vmrun_report(b'completed')\n"
    "    return 0\n"
    "sys.exit(_vmrun_import())\n";

static const char *const exec_pythons[] = {"/usr/bin/python3", "/bin/python3",
                                           "/usr/local/bin/python3"};

struct exec_request {
    json_int_t id;
    int import_mode;
    int as_nobody;
    const char *module;
    const char *stdin_name; /* NULL: closed stdin (/dev/null) */
    uint64_t output_limit;  /* 0: no limit */
    uint64_t cpu_s, nproc, nofile, fsize;
    char **argv; /* for execve; strings point into the request header */
    char **envp; /* owned strings */
};

/* Why the child failed before exec; sent on the close-on-exec pipe. */
enum exec_stage {
    EXEC_STAGE_SETSID,
    EXEC_STAGE_FDS,
    EXEC_STAGE_CHDIR,
    EXEC_STAGE_CHROOT,
    EXEC_STAGE_RLIMIT,
    EXEC_STAGE_USER,
    EXEC_STAGE_NO_PYTHON,
    EXEC_STAGE_EXEC,
};
struct exec_failure {
    int stage;
    int err;
};

struct exec_stream {
    const char *name;
    int fd;
    uint64_t total; /* bytes the module wrote */
    uint64_t sent;  /* bytes forwarded */
    int truncated;
};

static void
exec_request_free(struct exec_request *r)
{
    char **p;

    free(r->argv);
    if (r->envp)
        for (p = r->envp; *p; p++)
            free(*p);
    free(r->envp);
}

static int
exec_string_ok(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int
exec_get_limit(const json_t *limits, const char *key, uint64_t *out, struct agent_error **errp)
{
    json_t *v = json_object_get(limits, key);

    *out = 0;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return agent_error_set(errp, EINVAL, "run: limits.%s must be an integer >= 0", key);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Adds or replaces KEY=VALUE in a NULL-terminated envp with room for it. */
static int
exec_env_set(char **envp, size_t *n, const char *key, const char *value)
{
    size_t klen = strlen(key), i;
    char *kv;

    if (asprintf(&kv, "%s=%s", key, value) < 0)
        return -1;
    for (i = 0; i < *n; i++) {
        if (strncmp(envp[i], key, klen) == 0 && envp[i][klen] == '=') {
            free(envp[i]);
            envp[i] = kv;
            return 0;
        }
    }
    envp[(*n)++] = kv;
    envp[*n] = NULL;
    return 0;
}

static int
exec_build_env(struct exec_request *r, const json_t *env, const char *home,
               struct agent_error **errp)
{
    const char *key;
    json_t *v;
    size_t n = 0;

    if (env && !json_is_object(env))
        return agent_error_set(errp, EINVAL, "run: \"env\" must be an object");
    r->envp = calloc(6 + json_object_size(env) + 1, sizeof(char *));
    if (!r->envp)
        return agent_error_set(errp, ENOMEM, "out of memory");
    if (exec_env_set(r->envp, &n, "PATH", "/usr/local/bin:/usr/bin:/bin") < 0 ||
        exec_env_set(r->envp, &n, "HOME", home) < 0 ||
        exec_env_set(r->envp, &n, "LANG", "C.UTF-8") < 0 ||
        exec_env_set(r->envp, &n, "PYTHONUNBUFFERED", "1") < 0 ||
        exec_env_set(r->envp, &n, "PYTHONDONTWRITEBYTECODE", "1") < 0)
        return agent_error_set(errp, ENOMEM, "out of memory");
    json_object_foreach((json_t *)env, key, v)
    {
        if (key[0] == '\0' || strchr(key, '=') || !exec_string_ok(v))
            return agent_error_set(errp, EINVAL,
                                   "run: env: invalid variable '%.64s' (a name without '=' and "
                                   "a string without NUL are required)",
                                   key);
        if (exec_env_set(r->envp, &n, key, json_string_value(v)) < 0)
            return agent_error_set(errp, ENOMEM, "out of memory");
    }
    return 0;
}

static int
exec_parse(const json_t *hdr, const char *home, struct exec_request *r, struct agent_error **errp)
{
    json_t *argv = json_object_get(hdr, "argv");
    json_t *jstdin = json_object_get(hdr, "stdin");
    json_t *limits = json_object_get(hdr, "limits");
    json_t *jmodule = json_object_get(hdr, "module");
    json_t *jlimit = json_object_get(hdr, "output_limit");
    const char *mode = wire_get_str(hdr, "mode", "");
    const char *user = wire_get_str(hdr, "user", "");
    size_t i, n = 0, nargs;

    r->id = wire_get_int(hdr, "id", 0);
    if (strcmp(mode, "run") != 0 && strcmp(mode, "import") != 0)
        return agent_error_set(errp, EINVAL, "run: \"mode\" must be \"run\" or \"import\"");
    r->import_mode = strcmp(mode, "import") == 0;
    if (strcmp(user, "root") != 0 && strcmp(user, "nobody") != 0)
        return agent_error_set(errp, EINVAL, "run: \"user\" must be \"root\" or \"nobody\"");
    r->as_nobody = strcmp(user, "nobody") == 0;
    if (!json_is_string(jmodule) ||
        !files_name_ok(json_string_value(jmodule), json_string_length(jmodule)))
        return agent_error_set(errp, EINVAL, "run: \"module\" must be a valid file name");
    r->module = json_string_value(jmodule);
    if (r->import_mode) {
        size_t len = strlen(r->module);
        /* The harness imports by name: NAME.py, NAME without dots. */
        if (len < 4 || strcmp(r->module + len - 3, ".py") != 0 || memchr(r->module, '.', len - 3) ||
            strcmp(r->module, "__main__.py") == 0)
            return agent_error_set(errp, EINVAL,
                                   "run: import mode needs a module file NAME.py with no '.' "
                                   "in NAME, got '%s'",
                                   r->module);
    }
    if (jstdin && !json_is_null(jstdin)) {
        if (!json_is_string(jstdin) ||
            !files_name_ok(json_string_value(jstdin), json_string_length(jstdin)))
            return agent_error_set(errp, EINVAL, "run: \"stdin\" must be a file name or null");
        r->stdin_name = json_string_value(jstdin);
    }
    if (!json_is_integer(jlimit) || json_integer_value(jlimit) < 0)
        return agent_error_set(errp, EINVAL, "run: \"output_limit\" must be an integer >= 0");
    r->output_limit = (uint64_t)json_integer_value(jlimit);
    if (limits && !json_is_object(limits))
        return agent_error_set(errp, EINVAL, "run: \"limits\" must be an object");
    if (exec_get_limit(limits, "cpu_s", &r->cpu_s, errp) < 0 ||
        exec_get_limit(limits, "nproc", &r->nproc, errp) < 0 ||
        exec_get_limit(limits, "nofile", &r->nofile, errp) < 0 ||
        exec_get_limit(limits, "fsize_bytes", &r->fsize, errp) < 0)
        return -1;
    if (!json_is_array(argv) || json_array_size(argv) == 0)
        return agent_error_set(errp, EINVAL, "run: \"argv\" must be a non-empty array");
    nargs = json_array_size(argv);
    for (i = 0; i < nargs; i++)
        if (!exec_string_ok(json_array_get(argv, i)))
            return agent_error_set(errp, EINVAL, "run: argv[%zu] must be a string without NUL", i);
    /* python3 [-c HARNESS] MODULE ARGS... NULL; argv[0] names the module. */
    r->argv = calloc(nargs + 4, sizeof(char *));
    if (!r->argv)
        return agent_error_set(errp, ENOMEM, "out of memory");
    r->argv[n++] = (char *)"python3";
    if (r->import_mode) {
        r->argv[n++] = (char *)"-c";
        r->argv[n++] = (char *)exec_harness;
    }
    r->argv[n++] = (char *)r->module;
    for (i = 1; i < nargs; i++)
        r->argv[n++] = (char *)json_string_value(json_array_get(argv, i));
    return exec_build_env(r, json_object_get(hdr, "env"), home, errp);
}

static uint64_t
exec_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The kernel's count of OOM kills so far (0 when unknown). */
static uint64_t
exec_oom_kills(void)
{
    _cleanup_close_ int fd = open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
    static char buf[16384];
    size_t len = 0;
    ssize_t n;
    char *p;

    if (fd < 0)
        return 0;
    while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    p = strstr(buf, "\noom_kill ");
    return p ? strtoull(p + 10, NULL, 10) : 0;
}

static _Noreturn void
exec_child_fail(int fd, enum exec_stage stage, int err)
{
    struct exec_failure e = {stage, err};
    (void)wire_write_all(fd, &e, sizeof(e));
    _exit(127);
}

static void
exec_setrlimit(int resource, uint64_t value, uint64_t hard, int report)
{
    struct rlimit rl = {.rlim_cur = value, .rlim_max = hard};

    if (value != 0 && setrlimit(resource, &rl) < 0)
        exec_child_fail(report, EXEC_STAGE_RLIMIT, errno);
}

/* The child between fork and exec: system calls only. */
static _Noreturn void
exec_child(const struct exec_request *r, const char *root, const char *python_override, int workdir,
           int in, int out, int err, int outcome, int report)
{
    const char *one[1] = {python_override};
    const char *const *pythons = python_override ? one : exec_pythons;
    size_t npythons = python_override ? 1 : sizeof(exec_pythons) / sizeof(exec_pythons[0]);
    int drop = r->as_nobody && geteuid() == 0;
    int exec_err = ENOENT;
    sigset_t none;
    size_t i;
    int sig;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    report = fcntl(report, F_DUPFD_CLOEXEC, 10);
    if (report < 0)
        _exit(127);
    if (setsid() < 0)
        exec_child_fail(report, EXEC_STAGE_SETSID, errno);
    /* the agent runs at AGENT_NICE; the module gets the default priority */
    (void)setpriority(PRIO_PROCESS, 0, 0);
    /* Move everything above 10 first so that no dup2 below clobbers a source. */
    in = fcntl(in, F_DUPFD_CLOEXEC, 10);
    out = fcntl(out, F_DUPFD_CLOEXEC, 10);
    err = fcntl(err, F_DUPFD_CLOEXEC, 10);
    if (outcome >= 0)
        outcome = fcntl(outcome, F_DUPFD_CLOEXEC, 10);
    if (in < 0 || out < 0 || err < 0 || (r->import_mode && outcome < 0) || dup2(in, 0) < 0 ||
        dup2(out, 1) < 0 || dup2(err, 2) < 0 || (outcome >= 0 && dup2(outcome, 3) < 0))
        exec_child_fail(report, EXEC_STAGE_FDS, errno);
    if (fchdir(workdir) < 0)
        exec_child_fail(report, EXEC_STAGE_CHDIR, errno);
    /* cwd is already inside the new root, so chroot needs no chdir after it. */
    if (root && chroot(root) < 0)
        exec_child_fail(report, EXEC_STAGE_CHROOT, errno);
    umask(022);
    /* CPU: SIGXCPU at the limit, SIGKILL a second later if it is caught. */
    exec_setrlimit(RLIMIT_CPU, r->cpu_s, r->cpu_s + 1, report);
    exec_setrlimit(RLIMIT_NPROC, r->nproc, r->nproc, report);
    exec_setrlimit(RLIMIT_NOFILE, r->nofile, r->nofile, report);
    exec_setrlimit(RLIMIT_FSIZE, r->fsize, r->fsize, report);
    if (drop &&
        (setgroups(0, NULL) < 0 || setgid(AGENT_NOBODY_ID) < 0 || setuid(AGENT_NOBODY_ID) < 0))
        exec_child_fail(report, EXEC_STAGE_USER, errno);
    if (close_range(r->import_mode ? 4 : 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        int fd;
        for (fd = r->import_mode ? 4 : 3; fd < 1024; fd++)
            (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    for (i = 0; i < npythons; i++) {
        execve(pythons[i], r->argv, r->envp);
        if (errno != ENOENT && errno != ENOTDIR)
            exec_err = errno;
    }
    if (exec_err == ENOENT)
        exec_child_fail(report, EXEC_STAGE_NO_PYTHON, ENOENT);
    exec_child_fail(report, EXEC_STAGE_EXEC, exec_err);
}

static int
exec_failure_error(const struct exec_failure *f, struct agent_error **errp)
{
    static const char *const stages[] = {
        [EXEC_STAGE_SETSID] = "setsid",    [EXEC_STAGE_FDS] = "setting up descriptors",
        [EXEC_STAGE_CHDIR] = "chdir",      [EXEC_STAGE_CHROOT] = "chroot",
        [EXEC_STAGE_RLIMIT] = "setrlimit", [EXEC_STAGE_USER] = "dropping to nobody",
        [EXEC_STAGE_NO_PYTHON] = "",       [EXEC_STAGE_EXEC] = "execve python3",
    };

    if (f->stage == EXEC_STAGE_NO_PYTHON)
        return agent_error_set(errp, ENOENT, "python3 not found in the image");
    if (f->stage < 0 || f->stage > EXEC_STAGE_EXEC)
        return agent_error_set(errp, EIO, "cannot start the module");
    return agent_error_set(errp, f->err, "cannot start the module: %s: %s", stages[f->stage],
                           strerror(f->err));
}

/* A JSON string from bytes the module controls: invalid UTF-8 becomes '?'. */
static json_t *
exec_json_text(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    char *copy;
    size_t i;

    if (j)
        return j;
    copy = malloc(n + 1);
    if (!copy)
        return json_string("");
    for (i = 0; i < n; i++)
        copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

static json_t *
exec_outcome(const char *buf, size_t len)
{
    const char *name, *tb, *end = buf + len, *nul;

    if (len == 9 && memcmp(buf, "completed", 9) == 0)
        return json_pack("{s:s}", "outcome", "completed");
    if (len > 7 && memcmp(buf, "raised\0", 7) == 0) {
        name = buf + 7;
        nul = memchr(name, '\0', (size_t)(end - name));
        if (nul) {
            tb = nul + 1;
            return json_pack("{s:s, s:o, s:o}", "outcome", "raised", "exception",
                             exec_json_text(name, (size_t)(nul - name)), "traceback",
                             exec_json_text(tb, (size_t)(end - tb)));
        }
    }
    return json_pack("{s:s}", "outcome", "exited");
}

/* Reads once from a stream and forwards what fits under the limit.
 * Returns 0, or -1 when the channel is gone (test mode). */
static int
exec_forward(struct agent *a, const struct exec_request *r, struct exec_stream *s)
{
    static unsigned char buf[EXEC_CHUNK];
    ssize_t n;
    size_t fwd;

    n = read(s->fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        close(s->fd);
        s->fd = -1;
        return 0;
    }
    s->total += (uint64_t)n;
    fwd = (size_t)n;
    if (r->output_limit && s->sent + fwd > r->output_limit) {
        fwd = (size_t)(r->output_limit - s->sent);
        s->truncated = 1;
    }
    if (fwd == 0)
        return 0;
    s->sent += fwd;
    agent_send(a, json_pack("{s:s, s:I, s:s}", "type", "output", "id", r->id, "stream", s->name),
               buf, fwd);
    return a->chan_eof ? -1 : 0;
}

/* Reaps every child that has exited; records the module's status. */
static void
exec_reap(struct agent *a, pid_t pid, int *done, int *status, struct rusage *ru)
{
    struct signalfd_siginfo si;
    struct rusage any;
    int st;
    pid_t got;

    while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    while ((got = wait4(-1, &st, WNOHANG, &any)) > 0) {
        if (got == pid) {
            *done = 1;
            *status = st;
            *ru = any;
        }
    }
}

/* Kills what is left of the run: the module's process group, and as PID 1
 * every process but init (a daemon that left the group). */
static void
exec_kill_leftovers(const struct agent *a, pid_t pgid)
{
    (void)kill(-pgid, SIGKILL);
    if (a->pid1)
        (void)kill(-1, SIGKILL);
}

static int
exec_read_outcome(int fd, char *buf, size_t *len)
{
    char scratch[4096];
    ssize_t n;

    if (*len < EXEC_OUTCOME_MAX)
        n = read(fd, buf + *len, EXEC_OUTCOME_MAX - *len);
    else
        n = read(fd, scratch, sizeof(scratch)); /* over the cap: dropped */
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return -1;
    if (*len < EXEC_OUTCOME_MAX)
        *len += (size_t)n;
    return 0;
}

static int
exec_send_exit(struct agent *a, const struct exec_request *r, int status, const struct rusage *ru,
               uint64_t oom_before, const struct exec_stream *out, const struct exec_stream *err,
               const char *outcome, size_t outcome_len)
{
    const char *how = "exited";
    json_t *code = json_null(), *sig = json_null();
    uint64_t cpu_ms = (uint64_t)ru->ru_utime.tv_sec * 1000 + (uint64_t)ru->ru_utime.tv_usec / 1000 +
                      (uint64_t)ru->ru_stime.tv_sec * 1000 + (uint64_t)ru->ru_stime.tv_usec / 1000;
    json_t *hdr;

    if (WIFEXITED(status)) {
        code = json_integer(WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        sig = json_integer(WTERMSIG(status));
        how = WTERMSIG(status) == SIGKILL && exec_oom_kills() > oom_before ? "oom" : "signaled";
    }
    hdr = json_pack("{s:s, s:I, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:b, s:b}", "type", "exit", "id",
                    r->id, "status", how, "exit_code", code, "signal", sig, "cpu_ms",
                    (json_int_t)cpu_ms, "maxrss_kb", (json_int_t)ru->ru_maxrss, "stdout_bytes",
                    (json_int_t)out->total, "stderr_bytes", (json_int_t)err->total,
                    "stdout_truncated", out->truncated, "stderr_truncated", err->truncated);
    if (hdr && r->import_mode)
        json_object_set_new(hdr, "import", exec_outcome(outcome, outcome_len));
    /* The host kills QEMU as soon as it reads `exit`: what the module wrote
     * must be on the virtual disk first (the overlay is diffed afterwards). */
    if (a->pid1)
        sync();
    return agent_send(a, hdr, NULL, 0);
}

/* The module runs: forward output, serve the channel, reap. Returns 0 when
 * exit was sent, -2 when the channel went away. */
static int
exec_supervise(struct agent *a, const struct exec_request *r, pid_t pid, int out_fd, int err_fd,
               int outcome_fd, uint64_t oom_before)
{
    struct exec_stream out = {.name = "stdout", .fd = out_fd};
    struct exec_stream err = {.name = "stderr", .fd = err_fd};
    static char outcome[EXEC_OUTCOME_MAX];
    size_t outcome_len = 0;
    struct rusage ru = {0};
    uint64_t deadline = 0, next_alive = exec_now_ms() + EXEC_ALIVE_MS;
    int done = 0, status = 0, gone = 0;

    while (out.fd >= 0 || err.fd >= 0 || outcome_fd >= 0 || !done) {
        struct pollfd p[5] = {
            {.fd = gone ? -1 : a->chan, .events = POLLIN},
            {.fd = a->sigfd, .events = POLLIN},
            {.fd = out.fd, .events = POLLIN},
            {.fd = err.fd, .events = POLLIN},
            {.fd = outcome_fd, .events = POLLIN},
        };
        uint64_t now = exec_now_ms();
        int timeout;

        if (done && now >= deadline)
            break;
        if (!gone && now >= next_alive) {
            if (agent_send(a, json_pack("{s:s, s:I}", "type", "alive", "id", r->id), NULL, 0) < 0)
                gone = 1;
            next_alive = now + EXEC_ALIVE_MS;
        }
        if (gone)
            break;
        timeout = (int)(next_alive - now);
        if (done && deadline - now < next_alive - now)
            timeout = (int)(deadline - now);
        if (poll(p, 5, timeout) < 0) {
            if (errno == EINTR)
                continue;
            agent_log_error("poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents) {
            exec_reap(a, pid, &done, &status, &ru);
            if (done && !deadline)
                deadline = exec_now_ms() + EXEC_DRAIN_MS;
        }
        if (p[2].revents && exec_forward(a, r, &out) < 0)
            gone = 1;
        if (p[3].revents && exec_forward(a, r, &err) < 0)
            gone = 1;
        if (p[4].revents && exec_read_outcome(outcome_fd, outcome, &outcome_len) < 0) {
            close(outcome_fd);
            outcome_fd = -1;
        }
        if (p[0].revents && agent_pump(a) < 0)
            gone = 1;
        if (gone)
            break;
    }
    exec_kill_leftovers(a, pid);
    if (!done) {
        /* Only when the channel is gone or poll failed: the module still runs. */
        struct rusage any;
        while (wait4(pid, &status, 0, &any) < 0 && errno == EINTR)
            ;
        ru = any;
    }
    if (out.fd >= 0)
        close(out.fd);
    if (err.fd >= 0)
        close(err.fd);
    if (outcome_fd >= 0)
        close(outcome_fd);
    if (gone)
        return -2;
    exec_send_exit(a, r, status, &ru, oom_before, &out, &err, outcome, outcome_len);
    return a->chan_eof ? -2 : 0;
}

/* Creates a pipe whose both ends are close-on-exec and whose read end (the
 * parent's) is non-blocking; the child's end stays blocking. */
static int
exec_pipe(int fds[2], int nonblock, struct agent_error **errp)
{
    if (pipe2(fds, O_CLOEXEC) < 0 || (nonblock && fcntl(fds[0], F_SETFL, O_NONBLOCK) < 0))
        return agent_error_set(errp, errno, "pipe: %s", strerror(errno));
    return 0;
}

int
exec_run(struct agent *a, const json_t *hdr, struct agent_error **errp)
{
    struct exec_request r = {0};
    _cleanup_close_ int in = -1;
    _cleanup_close_ int out_r = -1, out_w = -1, err_r = -1, err_w = -1;
    _cleanup_close_ int oc_r = -1, oc_w = -1, rep_r = -1, rep_w = -1;
    int fds[2], ret = -1, drop, status;
    struct exec_failure failure;
    struct stat st;
    uint64_t oom_before;
    ssize_t n;
    pid_t pid;

    if (exec_parse(hdr, a->home, &r, errp) < 0)
        goto cleanup;
    if (files_check_complete(&a->files, errp) < 0 || files_prepare(&a->files, errp) < 0)
        goto cleanup;
    if (fstatat(a->files.dirfd, r.module, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode)) {
        agent_error_set(errp, ENOENT, "module '%s' was not shipped", r.module);
        goto cleanup;
    }
    if (r.stdin_name)
        in = openat(a->files.dirfd, r.stdin_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    else
        in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        agent_error_set(errp, errno, "cannot open stdin '%s': %s",
                        r.stdin_name ? r.stdin_name : "/dev/null", strerror(errno));
        goto cleanup;
    }
    drop = r.as_nobody && geteuid() == 0;
    if (drop && files_chown_all(&a->files, AGENT_NOBODY_ID, AGENT_NOBODY_ID, errp) < 0)
        goto cleanup;
    if (exec_pipe(fds, 1, errp) < 0)
        goto cleanup;
    out_r = fds[0], out_w = fds[1];
    if (exec_pipe(fds, 1, errp) < 0)
        goto cleanup;
    err_r = fds[0], err_w = fds[1];
    if (exec_pipe(fds, 0, errp) < 0)
        goto cleanup;
    rep_r = fds[0], rep_w = fds[1];
    if (r.import_mode) {
        if (exec_pipe(fds, 1, errp) < 0)
            goto cleanup;
        oc_r = fds[0], oc_w = fds[1];
    }
    oom_before = exec_oom_kills();
    pid = fork();
    if (pid < 0) {
        agent_error_set(errp, errno, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0)
        exec_child(&r, a->files.root, a->python_override, a->files.dirfd, in, out_w, err_w, oc_w,
                   rep_w);
    close(agent_steal_fd(&out_w));
    close(agent_steal_fd(&err_w));
    close(agent_steal_fd(&rep_w));
    if (oc_w >= 0)
        close(agent_steal_fd(&oc_w));
    do {
        n = read(rep_r, &failure, sizeof(failure));
    } while (n < 0 && errno == EINTR);
    if (n != 0) {
        /* The child failed before exec (or the report pipe broke). */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (n == (ssize_t)sizeof(failure))
            exec_failure_error(&failure, errp);
        else
            agent_error_set(errp, EIO, "cannot start the module");
        goto cleanup;
    }
    agent_log_debug("module '%s' started, pid %d", r.module, (int)pid);
    agent_send(a,
               json_pack("{s:s, s:I, s:I}", "type", "started", "id", r.id, "pid", (json_int_t)pid),
               NULL, 0);
    ret = exec_supervise(a, &r, pid, agent_steal_fd(&out_r), agent_steal_fd(&err_r),
                         agent_steal_fd(&oc_r), oom_before);
cleanup:
    exec_request_free(&r);
    return ret;
}
