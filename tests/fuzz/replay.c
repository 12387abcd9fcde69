/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replay: runs a fuzz harness over a kept corpus without libFuzzer, so that
 * `make check` replays every input with gcc under ASan+UBSan.
 *
 *     fuzz_wire-replay tests/fuzz/corpus/fuzz_wire [FILE|DIR]...
 *
 * Each file (directories are walked recursively, in name order) is read into
 * an allocation of exactly its size, as libFuzzer would pass it, and given to
 * LLVMFuzzerTestOneInput in this process. A harness that finds a bug crashes
 * (sanitizer report or abort()); that kills the replay, and the file being
 * replayed is named on stderr first. An argument that cannot be read counts as
 * failed, so a missing corpus is not a silent pass. The last line is
 * `N passed, N failed`; the exit status is 0 only when nothing failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* From the sanitizer runtime when linked with one; weak so that replay also
 * links (and runs the harness's own abort() checks) without sanitizers. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static const char *replay_current = "(none)";
static unsigned long replay_passed, replay_failed;

static void
replay_say_current(void)
{
    /* Async-signal-safe: called from a signal handler or a dying sanitizer. */
    static const char pre[] = "replay: crashed on input '";
    static const char post[] = "'\n";

    (void)!write(STDERR_FILENO, pre, sizeof(pre) - 1);
    (void)!write(STDERR_FILENO, replay_current, strlen(replay_current));
    (void)!write(STDERR_FILENO, post, sizeof(post) - 1);
}

static void
replay_on_signal(int sig)
{
    replay_say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int
replay_read(const char *path, uint8_t **data, size_t *size)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || st.st_size < 0) {
        close(fd);
        return -1;
    }
    /* Exact size: a harness reading one byte past the input must trip ASan. */
    buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        close(fd);
        return -1;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            close(fd);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *size = got;
    return 0;
}

static void
replay_path(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
        replay_failed++;
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        struct dirent **names = NULL;
        int n = scandir(path, &names, NULL, alphasort), i;

        if (n < 0) {
            fprintf(stderr, "replay: cannot list '%s': %s\n", path, strerror(errno));
            replay_failed++;
            return;
        }
        for (i = 0; i < n; i++) {
            char *child = NULL;

            if (names[i]->d_name[0] != '.' &&
                asprintf(&child, "%s/%s", path, names[i]->d_name) >= 0) {
                replay_path(child);
                free(child);
            }
            free(names[i]);
        }
        free(names);
        return;
    }
    if (S_ISREG(st.st_mode)) {
        uint8_t *data = NULL;
        size_t size = 0;

        if (replay_read(path, &data, &size) < 0) {
            fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
            replay_failed++;
            return;
        }
        replay_current = path;
        LLVMFuzzerTestOneInput(data, size);
        replay_current = "(none)";
        free(data);
        replay_passed++;
    }
}

int
main(int argc, char **argv)
{
    int i;

    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(replay_say_current);
    signal(SIGABRT, replay_on_signal);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        /* libFuzzer-style flags (-runs=1 ...) are accepted and ignored. */
        if (argv[i][0] == '-')
            continue;
        replay_path(argv[i]);
    }
    printf("%lu passed, %lu failed\n", replay_passed, replay_failed);
    return replay_failed ? 1 : 0;
}
