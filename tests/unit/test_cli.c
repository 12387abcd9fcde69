/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of command-line parsing. */
#include <string.h>

#include "../tap.h"
#include "cli.h"

/* argv must outlive the parse (the options keep pointers into it): static. */
#define ARGS(...)                                                                                  \
    static char *av[] = {"vmrun", __VA_ARGS__, NULL};                                              \
    int ac = (int)(sizeof(av) / sizeof(av[0])) - 1
#define PARSE(o, e) cli_parse(ac, av, (o), (e))

static void
test_defaults_and_operands(void)
{
    struct vr_options o;
    struct vr_error *e = NULL;

    TAP_CHECK_INT_EQ(({
                         ARGS("img.qcow2", "mod.py", "a", "--timeout", "b");
                         PARSE(&o, &e);
                     }),
                     0);
    TAP_CHECK_STR_EQ(o.image, "img.qcow2");
    TAP_CHECK_STR_EQ(o.module, "mod.py");
    /* everything after MODULE belongs to the module, options included */
    TAP_CHECK_INT_EQ(o.n_args, 3);
    TAP_CHECK_STR_EQ(o.args[1], "--timeout");
    TAP_CHECK(o.timeout_s == 60);
    TAP_CHECK_INT_EQ(o.output_limit, 1 << 20);
    TAP_CHECK_INT_EQ(o.memory_mib, 512);
    TAP_CHECK_INT_EQ(o.format, IMAGE_QCOW2);
    TAP_CHECK_INT_EQ(o.user_root, 0);
    cli_options_free(&o);
}

static void
test_options_between_operands(void)
{
    struct vr_options o;
    struct vr_error *e = NULL;

    TAP_CHECK_INT_EQ(({
                         ARGS("--timeout", "2.5", "img", "--format", "raw", "--input", "x",
                              "--input", "y", "--env", "A=1", "mod.py", "-v");
                         PARSE(&o, &e);
                     }),
                     0);
    TAP_CHECK(o.timeout_s == 2.5);
    TAP_CHECK_INT_EQ(o.format, IMAGE_RAW);
    TAP_CHECK_INT_EQ(o.n_inputs, 2);
    TAP_CHECK_STR_EQ(o.inputs[1], "y");
    TAP_CHECK_STR_EQ(o.env[0], "A=1");
    TAP_CHECK_INT_EQ(o.n_args, 1);
    TAP_CHECK_STR_EQ(o.args[0], "-v");
    TAP_CHECK_INT_EQ(o.verbose, 0);
    cli_options_free(&o);
}

static void
test_dashdash(void)
{
    struct vr_options o;
    struct vr_error *e = NULL;

    TAP_CHECK_INT_EQ(({
                         ARGS("--", "-img", "-mod.py", "x");
                         PARSE(&o, &e);
                     }),
                     0);
    TAP_CHECK_STR_EQ(o.image, "-img");
    TAP_CHECK_STR_EQ(o.module, "-mod.py");
    TAP_CHECK_INT_EQ(o.n_args, 1);
    cli_options_free(&o);
}

static void
test_bad_values(void)
{
    static const char *bad[][2] = {
        {"--timeout", "0"},        {"--timeout", "-1"},      {"--timeout", "abc"},
        {"--timeout", "1e3"},      {"--timeout", "nan"},     {"--memory", "12"},
        {"--memory", "99999999"},  {"--cpus", "0"},          {"--accel", "xen"},
        {"--format", "vmdk"},      {"--user", "admin"},      {"--env", "1A=b"},
        {"--env", "noequals"},     {"--output-limit", "2G"}, {"--output-limit", "-5"},
        {"--root", "/etc/passwd"}, {"--max-procs", "x"},     {"--max-file-size", "1T"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vr_options o;
        struct vr_error *e = NULL;
        char *argv[] = {"vmrun", (char *)bad[i][0], (char *)bad[i][1], "img", "mod.py", NULL};

        TAP_CHECK_MSG(cli_parse(5, argv, &o, &e) == -1, "%s %s accepted", bad[i][0], bad[i][1]);
        TAP_CHECK(e != NULL && e->kind == VR_ERR_USAGE);
        TAP_CHECK_STR_CONTAINS(e->message, bad[i][0] + 2);
        vr_error_free(e);
        cli_options_free(&o);
    }
}

static void
test_limits_options(void)
{
    struct vr_options o;
    struct vr_error *e = NULL;

    TAP_CHECK_INT_EQ(({
                         ARGS("img", "m.py");
                         PARSE(&o, &e);
                     }),
                     0);
    TAP_CHECK_INT_EQ(o.disk_limit, 0); /* 0: the image's virtual size, worked out by run.c */
    TAP_CHECK(o.agent_timeout_s == 10);
    cli_options_free(&o);
    TAP_CHECK_INT_EQ(({
                         ARGS("--disk-limit", "64M", "--agent-timeout", "2.5", "img", "m.py");
                         PARSE(&o, &e);
                     }),
                     0);
    TAP_CHECK_INT_EQ(o.disk_limit, 64LL << 20);
    TAP_CHECK(o.agent_timeout_s == 2.5);
    cli_options_free(&o);
    TAP_CHECK_INT_EQ(({
                         ARGS("--disk-limit", "1000", "img", "m.py");
                         PARSE(&o, &e);
                     }),
                     -1);
    TAP_CHECK_STR_CONTAINS(e->message, "--disk-limit must be a size of at least 1M");
    vr_error_free(e);
    e = NULL;
    cli_options_free(&o);
    TAP_CHECK_INT_EQ(({
                         ARGS("--agent-timeout", "0", "img", "m.py");
                         PARSE(&o, &e);
                     }),
                     -1);
    TAP_CHECK_STR_CONTAINS(e->message, "--agent-timeout");
    vr_error_free(e);
    cli_options_free(&o);
}

static void
test_missing_operands_and_unknown(void)
{
    struct vr_options o;
    struct vr_error *e = NULL;

    TAP_CHECK_INT_EQ(({
                         ARGS("img");
                         PARSE(&o, &e);
                     }),
                     -1);
    TAP_CHECK_STR_CONTAINS(e->message, "missing MODULE");
    vr_error_free(e);
    e = NULL;
    cli_options_free(&o);
    TAP_CHECK_INT_EQ(({
                         ARGS("--bogus", "img", "m.py");
                         PARSE(&o, &e);
                     }),
                     -1);
    TAP_CHECK_STR_CONTAINS(e->message, "--bogus");
    vr_error_free(e);
    e = NULL;
    cli_options_free(&o);
    TAP_CHECK_INT_EQ(({
                         ARGS("img", "m.py", "--timeout");
                         PARSE(&o, &e);
                     }),
                     0); /* module's argument */
    cli_options_free(&o);
    TAP_CHECK_INT_EQ(({
                         ARGS("--timeout");
                         PARSE(&o, &e);
                     }),
                     -1);
    vr_error_free(e);
    cli_options_free(&o);
}

static void
test_help_version(void)
{
    struct vr_options o;
    struct vr_error *e = NULL;

    TAP_CHECK_INT_EQ(({
                         ARGS("--help");
                         PARSE(&o, &e);
                     }),
                     0);
    TAP_CHECK_INT_EQ(o.action, ACTION_HELP);
    TAP_CHECK_INT_EQ(({
                         ARGS("-V");
                         PARSE(&o, &e);
                     }),
                     0);
    TAP_CHECK_INT_EQ(o.action, ACTION_VERSION);
    /* --help documents every long option */
    TAP_CHECK_STR_CONTAINS(cli_usage(), "--keep-overlay");
    TAP_CHECK_STR_CONTAINS(cli_usage(), "--import");
    TAP_CHECK_STR_CONTAINS(cli_usage(), "125");
}

static void
test_sizes(void)
{
    uint64_t v = 0;

    TAP_CHECK(cli_parse_size("64K", &v) == 0 && v == 65536);
    TAP_CHECK(cli_parse_size("1M", &v) == 0 && v == 1048576);
    TAP_CHECK(cli_parse_size("7", &v) == 0 && v == 7);
    TAP_CHECK(cli_parse_size("", &v) == -1);
    TAP_CHECK(cli_parse_size("K", &v) == -1);
    TAP_CHECK(cli_parse_size("99999999999999999999", &v) == -1);
    TAP_CHECK(cli_parse_size("17179869184G", &v) == -1); /* overflows */
}

static const struct tap_test tests[] = {
    TAP_TEST(test_defaults_and_operands),
    TAP_TEST(test_options_between_operands),
    TAP_TEST(test_dashdash),
    TAP_TEST(test_bad_values),
    TAP_TEST(test_missing_operands_and_unknown),
    TAP_TEST(test_limits_options),
    TAP_TEST(test_help_version),
    TAP_TEST(test_sizes),
};

int
main(int argc, char **argv)
{
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
