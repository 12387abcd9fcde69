/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reaper: no QEMU outlives the vmrun that started it.
 *
 * How it works: libvirt's embedded driver daemonises QEMU, so QEMU is not our
 * child and `kill -9 vmrun` would orphan it (libvirt's auto-destroy runs only
 * when the connection is closed by a living process). Before it opens libvirt,
 * vmrun forks a small watchdog in its own session (so Ctrl-C does not reach
 * it) holding the read end of a pipe. vmrun tells it QEMU's pid over the pipe
 * and, when it finishes normally, a "done" byte. If the pipe instead reaches
 * end of file without "done", vmrun died: the watchdog SIGKILLs QEMU (after
 * checking /proc/PID/cmdline names this run's domain, so a recycled pid is
 * never hit) and removes the run directory and the overlay.
 *
 * A second line of defence, reaper_sweep(), runs at every vmrun start: a run
 * directory whose owner process is gone (both vmrun and its watchdog killed,
 * e.g. kill -9 of the whole process group) has its QEMU killed and is removed.
 */
#ifndef VMRUN_REAPER_H
#define VMRUN_REAPER_H

#include <sys/types.h>

#include "error.h"

struct reaper {
    pid_t pid; /* the watchdog */
    int fd;    /* write end of its pipe */
};

/* Record this process as the owner of run_dir (and of the overlay file, when
 * it is to be removed, and of the lock file reserving QEMU's uid, if any) and
 * start the watchdog. */
int reaper_start(struct reaper *r, const char *run_dir, const char *domain_name,
                 const char *overlay, const char *uid_lock, struct vr_error **errp);
/* Tell the watchdog (and any later sweep) which QEMU belongs to this run. */
void reaper_set_qemu(struct reaper *r, const char *run_dir, pid_t qemu);
/* Normal end: dismiss the watchdog and reap it. */
void reaper_finish(struct reaper *r);
/* Clean up after dead runs under runs_dir. Returns how many were reaped. */
int reaper_sweep(const char *runs_dir);

/* Kill pid if its command line mentions domain_name; wait up to 2 s for it
 * to be gone. Returns 1 if a process was killed. */
int reaper_kill_qemu(pid_t pid, const char *domain_name);

/* Parent pid of pid (0 when it does not exist). */
pid_t reaper_parent_of(pid_t pid);

#endif
