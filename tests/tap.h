/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap.h: a tiny TAP runner for C tests, header only.
 *
 * How it works. Each test runs in its own forked child, in its own process
 * group, under alarm(TAP_TIMEOUT_S) (env TAP_TIMEOUT overrides), so a crash,
 * a hang or a leaked helper process cannot take the run down; whatever the
 * test left in its process group is killed when it ends. A test passes by
 * returning, fails through a TAP_CHECK* macro (which prints where and why and
 * exits the child with 1), and skips with TAP_SKIP (exit 77). The output is
 * TAP ("1..N", "ok 1 - name", "not ok 2 - name", "ok 3 - name # SKIP") and
 * always ends with the line "N passed, N failed" (", N skipped" when some
 * were). Exit status: 0 when nothing failed. Arguments select tests whose
 * name contains one of them.
 *
 *     static void test_sum(void) { TAP_CHECK_INT_EQ(1 + 1, 2); }
 *     static const struct tap_test tests[] = {TAP_TEST(test_sum)};
 *     int main(int argc, char **argv) { return tap_main(argc, argv, tests, TAP_COUNT(tests)); }
 */
#ifndef VMRUN_TAP_H
#define VMRUN_TAP_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TAP_TIMEOUT_S 30
#define TAP_SKIP_STATUS 77

struct tap_test {
    const char *name;
    void (*fn)(void);
};

#define TAP_TEST(fn)                                                                               \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define TAP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

__attribute__((format(printf, 3, 4), noreturn, unused)) static void
tap_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    printf("# %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    _exit(1);
}

#define TAP_CHECK(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tap_fail(__FILE__, __LINE__, "check failed: %s", #cond);                               \
    } while (0)

#define TAP_CHECK_MSG(cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tap_fail(__FILE__, __LINE__, __VA_ARGS__);                                             \
    } while (0)

#define TAP_CHECK_INT_EQ(a, b)                                                                     \
    do {                                                                                           \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                                \
        if (tap_a_ != tap_b_)                                                                      \
            tap_fail(__FILE__, __LINE__, "%s == %s failed: %lld != %lld", #a, #b, tap_a_, tap_b_); \
    } while (0)

#define TAP_CHECK_STR_EQ(a, b)                                                                     \
    do {                                                                                           \
        const char *tap_a_ = (a), *tap_b_ = (b);                                                   \
        if (!tap_a_ || !tap_b_ || strcmp(tap_a_, tap_b_) != 0)                                     \
            tap_fail(__FILE__, __LINE__, "%s == %s failed: '%s' != '%s'", #a, #b,                  \
                     tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)");                      \
    } while (0)

#define TAP_CHECK_STR_CONTAINS(hay, needle)                                                        \
    do {                                                                                           \
        const char *tap_h_ = (hay), *tap_n_ = (needle);                                            \
        if (!tap_h_ || !strstr(tap_h_, tap_n_))                                                    \
            tap_fail(__FILE__, __LINE__, "'%s' not found in %s: '%.2000s'", tap_n_, #hay,          \
                     tap_h_ ? tap_h_ : "(null)");                                                  \
    } while (0)

#define TAP_SKIP(...)                                                                              \
    do {                                                                                           \
        printf("# skip: ");                                                                        \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
        _exit(TAP_SKIP_STATUS);                                                                    \
    } while (0)

__attribute__((unused)) static int
tap_selected(int argc, char **argv, const char *name)
{
    int i;

    if (argc < 2)
        return 1;
    for (i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

/* Runs one test in a child; returns 0 pass, 1 fail, 2 skip. */
__attribute__((unused)) static int
tap_run_one(const struct tap_test *t, unsigned timeout)
{
    int status;
    pid_t pid, got;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        printf("# fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        alarm(timeout);
        t->fn();
        fflush(stdout);
        exit(0);
    }
    setpgid(pid, pid);
    do {
        got = waitpid(pid, &status, 0);
    } while (got < 0 && errno == EINTR);
    /* Whatever the test spawned and left behind. */
    kill(-pid, SIGKILL);
    if (got < 0)
        return 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == TAP_SKIP_STATUS)
        return 2;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        printf("# timed out after %u s\n", timeout);
    else if (WIFSIGNALED(status))
        printf("# killed by signal %d\n", WTERMSIG(status));
    return 1;
}

__attribute__((unused)) static int
tap_main(int argc, char **argv, const struct tap_test *tests, size_t n)
{
    const char *env = getenv("TAP_TIMEOUT");
    unsigned timeout = env && atoi(env) > 0 ? (unsigned)atoi(env) : TAP_TIMEOUT_S;
    size_t i, selected = 0, passed = 0, failed = 0, skipped = 0, num = 0;

    for (i = 0; i < n; i++)
        selected += (size_t)tap_selected(argc, argv, tests[i].name);
    printf("1..%zu\n", selected);
    for (i = 0; i < n; i++) {
        int r;
        if (!tap_selected(argc, argv, tests[i].name))
            continue;
        r = tap_run_one(&tests[i], timeout);
        num++;
        if (r == 0) {
            passed++;
            printf("ok %zu - %s\n", num, tests[i].name);
        } else if (r == 2) {
            skipped++;
            printf("ok %zu - %s # SKIP\n", num, tests[i].name);
        } else {
            failed++;
            printf("not ok %zu - %s\n", num, tests[i].name);
        }
        fflush(stdout);
    }
    if (skipped)
        printf("%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
    else
        printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
