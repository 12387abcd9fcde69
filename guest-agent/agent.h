/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent.h: state shared by the guest agent's modules (agent.c: PID 1 and the
 * message loop; boot.c: mounts, root search, port; files.c: the working
 * directory; exec.c: running the module), plus the error object and the
 * cleanup helpers they all use.
 */
#ifndef VMRUN_AGENT_H
#define VMRUN_AGENT_H

#include "wire.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#define AGENT_VERSION "vmrun-agent 1.0"
#define AGENT_NEWROOT "/newroot"
#define AGENT_WORKDIR_IN_ROOT "/tmp/vmrun"
#define AGENT_FILES_CAP (256ULL * 1024 * 1024)
#define AGENT_NOBODY_ID 65534
/* The agent's scheduling priority in the guest (the module runs at 0). */
#define AGENT_NICE (-10)

/* ---- errors: filled by the callee, reported by the caller ---- */
struct agent_error {
    int code; /* errno, or 0 */
    char message[1024];
};

/* Sets *errp (when errp is not NULL and *errp is still NULL) and returns -1,
 * so a failure is one line: return agent_error_set(errp, errno, "...'%s'", x); */
int agent_error_set(struct agent_error **errp, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void agent_error_free(struct agent_error *err);

/* ---- logging: to the console (PID 1) or stderr (test mode) ---- */
void agent_log_init(int fd, int debug);
/* Only with vmrun.debug=1 / --debug. */
void agent_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Always: fatal or unexpected conditions. */
void agent_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- cleanup helpers ---- */
static inline void
agent_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
static inline void
agent_freep(void *p)
{
    free(*(void **)p);
}
static inline void
agent_json_decrefp(json_t **j)
{
    json_decref(*j);
}
static inline void
agent_error_freep(struct agent_error **e)
{
    agent_error_free(*e);
}
static inline int
agent_steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}
#define _cleanup_close_ __attribute__((cleanup(agent_closep)))
#define _cleanup_free_ __attribute__((cleanup(agent_freep)))
#define _cleanup_json_ __attribute__((cleanup(agent_json_decrefp)))
#define _cleanup_error_ __attribute__((cleanup(agent_error_freep)))

/* ---- the working directory and shipped files (files.c) ---- */
struct files {
    int dirfd;        /* the working directory, -1 until created */
    char *dir_path;   /* as this process sees it */
    const char *root; /* chroot directory, or NULL in test mode */
    int fresh;        /* remove a stale working directory first (VM only) */
    char *open_name;  /* file being received, or NULL */
    int open_fd;      /* its descriptor, -1 when none */
    uint64_t total;   /* bytes of all files so far */
    uint64_t cap;     /* AGENT_FILES_CAP unless a test overrides it */
};

/* ---- the agent ---- */
enum agent_state {
    AGENT_WAIT_HELLO, /* nothing but hello is accepted */
    AGENT_READY,      /* files and run */
    AGENT_RUNNING,    /* a module runs: every request is answered with error */
    AGENT_DONE,       /* exit was sent: every request is answered with error */
};

struct agent {
    int pid1;                /* running as init inside the VM */
    int chan;                /* the channel: virtio port or Unix socket */
    int chan_is_socket;      /* test mode: EOF is final */
    int chan_eof;            /* test mode: the host went away */
    struct wire_decoder dec; /* resync mode */
    int sigfd;               /* signalfd for SIGCHLD (SIGCHLD is blocked) */
    enum agent_state state;
    char root_dev[256];          /* device the root filesystem came from */
    char *root_error;            /* why no root filesystem was found, or NULL */
    const char *home;            /* the working directory as the module sees it */
    const char *python_override; /* test mode: --python */
    struct files files;
};

/* Sends one frame; takes ownership of hdr. Returns 0 or -1 (the host is gone
 * or the frame is out of bounds; logged). */
int agent_send(struct agent *a, json_t *hdr, const void *body, size_t len);
/* Sends an error reply for request id. */
int agent_send_error(struct agent *a, json_int_t id, const char *message);
/* Reads what the channel has and handles every complete frame. Returns 0, or
 * -1 when the channel is finished (test mode: the host closed it). */
int agent_pump(struct agent *a);

/* ---- boot.c: PID 1 duties ---- */
/* Mounts /dev, /proc, /sys; makes sure fds 0-2 are open. */
void boot_early(void);
/* Returns the console fd (or -1) for log lines. */
int boot_console(void);
void boot_loopback_up(void);
/* Reads /proc/cmdline: vmrun.debug=1 and vmrun.root=DEV. */
void boot_cmdline(int *debug, char *root, size_t root_size);
/* Finds and mounts the root filesystem at AGENT_NEWROOT, then its /proc,
 * /dev, /dev/shm and /sys. */
int boot_mount_root(const char *override, char *dev, size_t dev_size, struct agent_error **errp);
/* Opens the virtio-serial port named WIRE_PORT_NAME, waiting for it a while. */
int boot_open_port(struct agent_error **errp);
/* Never returns. */
_Noreturn void boot_halt(void);

/* ---- files.c ---- */
void files_init(struct files *f, const char *root, const char *dir_path, int fresh);
void files_free(struct files *f);
/* 1 when name is a single path component the protocol allows, else 0. */
int files_name_ok(const char *name, size_t len);
/* Creates the working directory when it does not exist yet. */
int files_prepare(struct files *f, struct agent_error **errp);
/* Stores one `file` chunk. */
int files_chunk(struct files *f, const json_t *hdr, const void *body, size_t len,
                struct agent_error **errp);
/* Fails when a file was started but not finished. */
int files_check_complete(const struct files *f, struct agent_error **errp);
/* Gives the directory and every file in it to uid/gid. */
int files_chown_all(struct files *f, uid_t uid, gid_t gid, struct agent_error **errp);

#endif
