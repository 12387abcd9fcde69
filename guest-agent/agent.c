/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.c: the guest agent's main: PID 1 duties and the message loop.
 *
 * How it works. In the VM the agent is the only program of the initramfs and
 * runs as PID 1: it mounts /dev, /proc and /sys, finds the image's root
 * filesystem and mounts it at /newroot (boot.c), opens the virtio-serial port
 * org.vmrun.agent.0 and then serves the protocol of docs/protocol.md:
 *
 *     WAIT_HELLO --hello--> READY --file...--> READY --run--> RUNNING --> DONE
 *
 * Every request outside that order, and every request once a run has started,
 * is answered with `error`. The decoder is in resync mode, so noise on the
 * channel costs at most one frame. A read of 0 bytes from the port means the
 * host end is not connected (yet, or any more): it is not fatal, the agent
 * waits 20 ms and reads again, as qemu-guest-agent does.
 *
 * PID 1 must never exit (the kernel panics): a fatal error is logged on the
 * console, reported over the channel when there is one, and the agent then
 * powers the VM off (or sleeps forever if that fails). SIGCHLD is blocked and
 * read from a signalfd so orphans reparented to PID 1 are reaped in the same
 * poll loop that runs the module (exec.c).
 *
 * Test mode (`--connect SOCKET --workdir DIR`) runs the same loop over a Unix
 * socket, without mounts, chroot or clock setting, so the protocol and the
 * runner are tested without a VM (tests/agent/). There, EOF ends the agent.
 */
#include "agent.h"
#include "exec.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

static int agent_log_fd = 2;
static int agent_log_verbose;

int
agent_error_set(struct agent_error **errp, int code, const char *fmt, ...)
{
    struct agent_error *e;
    va_list ap;

    if (!errp || *errp)
        return -1;
    e = calloc(1, sizeof(*e));
    if (!e)
        return -1;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    *errp = e;
    return -1;
}

void
agent_error_free(struct agent_error *err)
{
    free(err);
}

void
agent_log_init(int fd, int debug)
{
    agent_log_fd = fd;
    agent_log_verbose = debug;
}

static void
agent_log_v(const char *level, const char *fmt, va_list ap)
{
    char line[1200];
    int n;

    if (agent_log_fd < 0)
        return;
    n = snprintf(line, sizeof(line), "vmrun-agent: %s: ", level);
    if (n < 0)
        return;
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    strcat(line, "\n");
    (void)wire_write_all(agent_log_fd, line, strlen(line));
}

void
agent_log_debug(const char *fmt, ...)
{
    va_list ap;

    if (!agent_log_verbose)
        return;
    va_start(ap, fmt);
    agent_log_v("debug", fmt, ap);
    va_end(ap);
}

void
agent_log_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    agent_log_v("error", fmt, ap);
    va_end(ap);
}

int
agent_send(struct agent *a, json_t *hdr, const void *body, size_t len)
{
    _cleanup_json_ json_t *h = hdr;

    if (!h)
        return -1;
    if (a->chan_eof)
        return -1;
    if (wire_send(a->chan, h, body, len) < 0) {
        agent_log_error("cannot send '%s': %s", wire_get_str(h, "type", "?"), strerror(errno));
        if (a->chan_is_socket)
            a->chan_eof = 1;
        return -1;
    }
    return 0;
}

int
agent_send_error(struct agent *a, json_int_t id, const char *message)
{
    agent_log_debug("error for request %lld: %s", (long long)id, message);
    return agent_send(
        a, json_pack("{s:s, s:I, s:s}", "type", "error", "id", id, "message", message), NULL, 0);
}

static void
agent_handle_hello(struct agent *a, const json_t *hdr, json_int_t id)
{
    json_int_t proto = wire_get_int(hdr, "proto", -1);
    json_int_t time_ns = wire_get_int(hdr, "time_ns", -1);

    if (proto != WIRE_PROTO_VERSION) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unsupported protocol version %lld (this agent speaks %d)",
                 (long long)proto, WIRE_PROTO_VERSION);
        agent_send_error(a, id, msg);
        return;
    }
    /* Files written in the guest get sane mtimes only with a sane clock; the
     * microVM has no RTC. Never touch the clock of a test host. */
    if (a->pid1 && time_ns > 0) {
        struct timespec ts = {.tv_sec = time_ns / 1000000000, .tv_nsec = time_ns % 1000000000};
        if (clock_settime(CLOCK_REALTIME, &ts) < 0)
            agent_log_error("cannot set the clock: %s", strerror(errno));
    }
    if (a->root_error) {
        agent_send_error(a, id, a->root_error);
        return;
    }
    a->state = AGENT_READY;
    agent_send(a,
               json_pack("{s:s, s:I, s:i, s:s, s:s}", "type", "hello", "id", id, "proto",
                         WIRE_PROTO_VERSION, "agent", AGENT_VERSION, "root", a->root_dev),
               NULL, 0);
}

static void
agent_handle_file(struct agent *a, const struct wire_frame *f, json_int_t id)
{
    _cleanup_error_ struct agent_error *err = NULL;

    if (files_chunk(&a->files, f->header, f->body, f->body_len, &err) < 0) {
        agent_send_error(a, id, err ? err->message : "cannot store the file");
        return;
    }
    agent_send(a, json_pack("{s:s, s:I}", "type", "ok", "id", id), NULL, 0);
}

/* Returns -1 when the channel went away during the run. */
static int
agent_handle_run(struct agent *a, const json_t *hdr, json_int_t id)
{
    _cleanup_error_ struct agent_error *err = NULL;
    int r;

    a->state = AGENT_RUNNING;
    r = exec_run(a, hdr, &err);
    if (r == -1) {
        /* Nothing ran: the host may still send a corrected request. */
        a->state = AGENT_READY;
        agent_send_error(a, id, err ? err->message : "cannot run the module");
        return 0;
    }
    a->state = AGENT_DONE;
    return r == -2 ? -1 : 0;
}

static int
agent_dispatch(struct agent *a, const struct wire_frame *f)
{
    json_int_t id = wire_get_int(f->header, "id", 0);
    const char *type = f->type;

    agent_log_debug("request '%s' id %lld", type, (long long)id);
    if (a->state == AGENT_RUNNING || a->state == AGENT_DONE) {
        agent_send_error(a, id,
                         a->state == AGENT_RUNNING ? "a module is running: no request accepted"
                                                   : "the run is over: no request accepted");
        return 0;
    }
    if (strcmp(type, "hello") == 0) {
        if (a->state != AGENT_WAIT_HELLO) {
            agent_send_error(a, id, "hello was already received");
            return 0;
        }
        agent_handle_hello(a, f->header, id);
        return 0;
    }
    if (strcmp(type, "file") != 0 && strcmp(type, "run") != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unknown request type '%.64s'", type);
        agent_send_error(a, id, msg);
        return 0;
    }
    if (a->state != AGENT_READY) {
        agent_send_error(a, id, "hello must come first");
        return 0;
    }
    if (strcmp(type, "file") == 0) {
        agent_handle_file(a, f, id);
        return 0;
    }
    return agent_handle_run(a, f->header, id);
}

int
agent_pump(struct agent *a)
{
    struct wire_frame f;
    const char *why = NULL;
    ssize_t n;
    int r;

    if (a->chan_eof)
        return -1;
    n = wire_decoder_read(&a->dec, a->chan);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != ENOBUFS)) {
        if (a->chan_is_socket) {
            a->chan_eof = 1;
            return -1;
        }
        /* The host end of the port is not connected: wait and retry. */
        if (n < 0)
            agent_log_debug("channel read: %s", strerror(errno));
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
        return 0;
    }
    while ((r = wire_decoder_next(&a->dec, &f, &why)) == 1) {
        int d = agent_dispatch(a, &f);
        wire_frame_clear(&f);
        if (d < 0 || a->chan_eof)
            return -1;
    }
    if (a->dec.skipped)
        agent_log_debug("resync: %llu bytes skipped so far", (unsigned long long)a->dec.skipped);
    return 0;
}

static int
agent_connect(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int
agent_signals_init(struct agent *a)
{
    sigset_t set;

    /* A write to a host that went away must be an error, not a death. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    a->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return a->sigfd < 0 ? -1 : 0;
}

/* Reaps orphans while no module runs (PID 1 inherits them). */
static void
agent_reap_orphans(struct agent *a)
{
    struct signalfd_siginfo si;

    while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        ;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static void
agent_loop(struct agent *a)
{
    for (;;) {
        struct pollfd p[2] = {{.fd = a->chan, .events = POLLIN},
                              {.fd = a->sigfd, .events = POLLIN}};

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            agent_log_error("poll: %s", strerror(errno));
            nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
            continue;
        }
        if (p[1].revents)
            agent_reap_orphans(a);
        if (p[0].revents && agent_pump(a) < 0)
            return;
    }
}

static void
agent_usage(void)
{
    fprintf(stderr, "usage: vmrun-agent                (as PID 1 in the VM)\n"
                    "       vmrun-agent --connect SOCKET --workdir DIR [--no-chroot] [--debug]\n"
                    "                   [--python PATH] [--files-cap BYTES]   (test mode)\n");
}

/* PID 1: sets up the machine; on failure reports what it can and halts. */
static void
agent_boot(struct agent *a)
{
    _cleanup_error_ struct agent_error *err = NULL;
    char override[256] = "";
    int debug = 0;

    boot_early();
    boot_cmdline(&debug, override, sizeof(override));
    agent_log_init(boot_console(), debug);
    agent_log_debug("%s starting", AGENT_VERSION);
    boot_loopback_up();
    if (boot_mount_root(override[0] ? override : NULL, a->root_dev, sizeof(a->root_dev), &err) <
        0) {
        /* Not fatal: the host hears why at hello, instead of a timeout. */
        agent_log_error("%s", err->message);
        a->root_error = strdup(err->message);
    }
    agent_error_free(err);
    err = NULL;
    a->chan = boot_open_port(&err);
    if (a->chan < 0) {
        agent_log_error("%s", err->message);
        boot_halt();
    }
    agent_log_debug("root %s, channel open", a->root_error ? "(none)" : a->root_dev);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"workdir", required_argument, NULL, 'w'},
        {"no-chroot", no_argument, NULL, 'n'},
        {"debug", no_argument, NULL, 'd'},
        {"python", required_argument, NULL, 'p'},
        {"files-cap", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    struct agent a = {.chan = -1, .sigfd = -1, .state = AGENT_WAIT_HELLO};
    const char *connect_path = NULL, *workdir = NULL;
    unsigned long long files_cap = AGENT_FILES_CAP;
    int debug = 0, c;

    a.pid1 = getpid() == 1;
    while (!a.pid1 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': connect_path = optarg; break;
        case 'w': workdir = optarg; break;
        case 'n':
            /* Test mode never chroots; accepted for clarity in scripts. */
            break;
        case 'd': debug = 1; break;
        case 'p': a.python_override = optarg; break;
        case 'f': files_cap = strtoull(optarg, NULL, 10); break;
        default: agent_usage(); return 2;
        }
    }
    if (!a.pid1 && (!connect_path || !workdir || optind != argc)) {
        agent_usage();
        return 2;
    }
    if (wire_decoder_init(&a.dec, WIRE_RESYNC) < 0 || agent_signals_init(&a) < 0) {
        agent_log_error("cannot initialise: %s", strerror(errno));
        if (a.pid1)
            boot_halt();
        return 1;
    }
    umask(022);
    if (a.pid1) {
        /* Ahead of the module in the guest's scheduler, so `alive` keeps
         * coming however busy the module keeps the vCPUs; exec_child puts the
         * module back at the default priority. */
        setpriority(PRIO_PROCESS, 0, AGENT_NICE);
        agent_boot(&a);
        files_init(&a.files, AGENT_NEWROOT, AGENT_NEWROOT AGENT_WORKDIR_IN_ROOT, 1);
        a.home = AGENT_WORKDIR_IN_ROOT;
    } else {
        agent_log_init(2, debug);
        snprintf(a.root_dev, sizeof(a.root_dev), "none (test mode)");
        a.chan = agent_connect(connect_path);
        if (a.chan < 0) {
            agent_log_error("cannot connect to '%s': %s", connect_path, strerror(errno));
            wire_decoder_free(&a.dec);
            return 1;
        }
        a.chan_is_socket = 1;
        files_init(&a.files, NULL, workdir, 0);
        a.home = workdir;
    }
    a.files.cap = files_cap;
    agent_loop(&a);
    /* Only test mode gets here. */
    if (a.pid1)
        boot_halt();
    files_free(&a.files);
    wire_decoder_free(&a.dec);
    free(a.root_error);
    close(a.chan);
    close(a.sigfd);
    return 0;
}
