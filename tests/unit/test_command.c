/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of orchestrator/command.c's deadline, marker and output modes
 * (command_capture's size cap is tested in test_host.c): real children, each
 * of which must be reaped by the time the call returns. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>

#include "../tap.h"
#include "command_priv.h"
#include "deadline.h"

/* No child of ours is left, running or a zombie (the runner forks each test:
 * the children here are the ones the test started). */
#define CHECK_ALL_REAPED()                                                                         \
    do {                                                                                           \
        errno = 0;                                                                                 \
        TAP_CHECK_INT_EQ(waitpid(-1, NULL, WNOHANG), -1);                                          \
        TAP_CHECK_INT_EQ(errno, ECHILD);                                                           \
    } while (0)

/* The marker is found however the output is chunked, and only once. */
static void
test_marker_chunks(void)
{
    static const char marker[] = "vmrun-agent: ";
    char chunk[4096], longer[COMMAND_MARKER_MAX + 2];
    struct command_marker m;

    TAP_CHECK_INT_EQ(command_marker_init(&m, marker), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "boot... vmrun-ag", 16), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "e", 1), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "nt", 2), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, ": debug", 7), 1);
    /* already seen: not found again in bytes that do not complete one */
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "x", 1), 0);
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 4; i++)
        TAP_CHECK_INT_EQ(command_marker_feed(&m, chunk, sizeof(chunk)), 0);
    /* one byte at a time, and whole in one chunk */
    for (size_t i = 0; i < sizeof(marker) - 1; i++)
        TAP_CHECK_INT_EQ(command_marker_feed(&m, marker + i, 1), i == sizeof(marker) - 2);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "a vmrun-agent: b", 16), 1);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "", 0), 0);

    TAP_CHECK_INT_EQ(command_marker_init(&m, NULL), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "abc", 3), 0);
    TAP_CHECK_INT_EQ(command_marker_init(&m, ""), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, "abc", 3), 0);
    memset(longer, 'm', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    TAP_CHECK_INT_EQ(command_marker_init(&m, longer), -1);
    longer[COMMAND_MARKER_MAX] = '\0';
    TAP_CHECK_INT_EQ(command_marker_init(&m, longer), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, longer, 100), 0);
    TAP_CHECK_INT_EQ(command_marker_feed(&m, longer, COMMAND_MARKER_MAX - 100), 1);
}

/* Run argv as o says, which must succeed; how long it took, in ms. */
static double
run_timed(const char *const argv[], const struct command_opts *o, struct command_result *r)
{
    struct vr_error *e = NULL;
    int64_t t0 = deadline_now();

    TAP_CHECK_MSG(command_capture_opts(argv, o, r, &e) == 0, "%s", e ? e->message : "?");
    return deadline_ms_between(t0, deadline_now());
}

/* argv, still running at a deadline 0.3 s away, is killed there and reaped,
 * long before it would end; it said out. */
static void
check_killed_at_deadline(const char *const argv[], const char *out)
{
    struct command_opts o = {.out_max = 1024, .deadline = deadline_after_s(0.3)};
    struct command_result r;
    double ms = run_timed(argv, &o, &r);

    TAP_CHECK_MSG(ms >= 290 && ms < 2000, "returned after %.0f ms", ms);
    TAP_CHECK_INT_EQ(r.timed_out, 1);
    TAP_CHECK_INT_EQ(r.marker_seen, 0);
    TAP_CHECK_INT_EQ(r.signal, SIGKILL);
    TAP_CHECK_INT_EQ(r.status, 128 + SIGKILL);
    TAP_CHECK_STR_EQ(r.out, out);
    CHECK_ALL_REAPED();
    command_result_clear(&r);
}

static void
test_deadline(void)
{
    const char *sleeper[] = {"sleep", "5", NULL};
    const char *quiet[] = {"sh", "-c", "echo bye; exec sleep 5 >&- 2>&-", NULL};
    const char *quick[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    struct command_opts o = {.out_max = 1024, .deadline = deadline_after_s(10)};
    struct command_result r;

    check_killed_at_deadline(sleeper, "");
    /* one that closes its output and lingers does not outlast it either */
    check_killed_at_deadline(quiet, "bye\n");
    /* a quick one is not hurried by it */
    run_timed(quick, &o, &r);
    TAP_CHECK_INT_EQ(r.timed_out, 0);
    TAP_CHECK_INT_EQ(r.status, 3);
    TAP_CHECK_INT_EQ(r.signal, 0);
    TAP_CHECK_STR_EQ(r.out, "out\n");
    TAP_CHECK_STR_EQ(r.err, "err\n");
    CHECK_ALL_REAPED();
    command_result_clear(&r);
}

/* The marker stops the run at once, written in two pieces or not. */
static void
test_marker(void)
{
    const char *ready[] = {"sh", "-c",
                           "echo booting; printf 'vmrun-ag'; sleep 0.1; printf 'ent: up\\n'; "
                           "sleep 5; echo late",
                           NULL};
    const char *now[] = {"sh", "-c", "echo vmrun-agent: hi; exec sleep 5", NULL};
    struct command_opts o = {.out_max = 1024,
                             .overflow = COMMAND_OVERFLOW_TAIL,
                             .merge = 1,
                             .deadline = deadline_after_s(20),
                             .marker = "vmrun-agent: "};
    struct command_result r;
    double ms = run_timed(ready, &o, &r);

    TAP_CHECK_MSG(ms < 2000, "returned after %.0f ms", ms);
    TAP_CHECK_INT_EQ(r.marker_seen, 1);
    TAP_CHECK_INT_EQ(r.timed_out, 0);
    TAP_CHECK_MSG(r.marker_ms >= 90 && r.marker_ms <= ms, "marker after %.0f ms", r.marker_ms);
    TAP_CHECK(strstr(r.out, "booting\nvmrun-agent: up") != NULL);
    TAP_CHECK(strstr(r.out, "late") == NULL);
    TAP_CHECK_INT_EQ(r.status, 128 + SIGKILL);
    CHECK_ALL_REAPED();
    command_result_clear(&r);

    /* no deadline: the marker alone ends it */
    o.deadline = 0;
    ms = run_timed(now, &o, &r);
    TAP_CHECK_MSG(ms < 2000, "returned after %.0f ms", ms);
    TAP_CHECK_INT_EQ(r.marker_seen, 1);
    CHECK_ALL_REAPED();
    command_result_clear(&r);
}

/* COMMAND_OVERFLOW_TAIL keeps the end of a long output, stderr merged in. */
static void
test_tail_and_merge(void)
{
    const char *flood[] = {"sh", "-c", "yes | head -c 200000; echo the end >&2", NULL};
    const char *missing[] = {"/nonexistent/vmrun-test", NULL};
    struct command_opts o = {.out_max = 1000, .overflow = COMMAND_OVERFLOW_TAIL, .merge = 1};
    struct command_result r;
    struct vr_error *e = NULL;
    size_t len;

    TAP_CHECK_INT_EQ(command_capture_opts(flood, &o, &r, &e), 0);
    TAP_CHECK_INT_EQ(r.status, 0);
    TAP_CHECK_INT_EQ(r.truncated, 1);
    TAP_CHECK_INT_EQ(r.out_len, 1000);
    len = strlen(r.out);
    TAP_CHECK_INT_EQ(len, 1000);
    TAP_CHECK(len > 10 && strcmp(r.out + len - 10, "y\nthe end\n") == 0);
    TAP_CHECK_STR_EQ(r.err, "");
    CHECK_ALL_REAPED();
    command_result_clear(&r);

    TAP_CHECK_INT_EQ(command_capture_opts(missing, &o, &r, &e), -1);
    TAP_CHECK(e != NULL && e->errnum == ENOENT);
    TAP_CHECK(strstr(e->message, "'/nonexistent/vmrun-test'") != NULL);
    TAP_CHECK(r.out == NULL && r.err == NULL);
    vr_error_free(e);
}

static void
test_command_run(void)
{
    const char *ok[] = {"true", NULL};
    const char *fails[] = {"sh", "-c", "echo first; echo 'it broke ' >&2; exit 3", NULL};
    const char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
    struct vr_error *e = NULL;

    TAP_CHECK_INT_EQ(command_run(ok, &e), 0);
    TAP_CHECK(e == NULL);
    TAP_CHECK_INT_EQ(command_run(fails, &e), -1);
    TAP_CHECK_STR_EQ(e->message, "sh failed (exit status 3): first\nit broke");
    vr_error_free(e);
    e = NULL;
    TAP_CHECK_INT_EQ(command_run(killed, &e), -1);
    TAP_CHECK_STR_EQ(e->message, "sh was killed by signal 15");
    vr_error_free(e);
    CHECK_ALL_REAPED();
}

static const struct tap_test tests[] = {
    TAP_TEST(test_marker_chunks),  TAP_TEST(test_deadline),    TAP_TEST(test_marker),
    TAP_TEST(test_tail_and_merge), TAP_TEST(test_command_run),
};

int
main(int argc, char **argv)
{
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
