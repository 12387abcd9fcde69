/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cli: the command line parser and its value parsers.
 *
 * The input is split on NUL bytes into at most 63 arguments after a fixed
 * argv[0], each in its own exact-size allocation so that ASan sees a read past
 * any of them. cli_parse must either fail with a usage error or return
 * options within the ranges --help documents, pointing into argv; it is
 * called twice on the same argv (as the unit tests do) and must agree.
 */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "fuzz.h"

#define FUZZ_CLI_ARGS 64

/* p points into one of the arguments (--opt=VALUE gives a pointer past '='). */
static int
fuzz_cli_in_argv(const char *p, char **argv, int argc)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (p >= argv[i] && p <= argv[i] + strlen(argv[i]))
            return 1;
    }
    return 0;
}

static void
fuzz_cli_check_values(const char *s)
{
    uint64_t u = 0;
    double d = 0;

    if (cli_parse_seconds(s, &d) == 0)
        FUZZ_CHECK(isfinite(d) && d > 0 && d <= 7 * 24 * 3600.0);
    if (cli_parse_uint(s, 1000, &u) == 0)
        FUZZ_CHECK(u <= 1000 && s[0] >= '0' && s[0] <= '9');
    if (cli_parse_size(s, &u) == 0)
        FUZZ_CHECK(s[0] >= '0' && s[0] <= '9');
}

static void
fuzz_cli_check_options(const struct vr_options *o, char **argv, int argc)
{
    size_t i;

    FUZZ_CHECK(o->action == ACTION_RUN || o->action == ACTION_HELP || o->action == ACTION_VERSION);
    if (o->action != ACTION_RUN)
        return;
    FUZZ_CHECK(fuzz_cli_in_argv(o->image, argv, argc));
    FUZZ_CHECK(fuzz_cli_in_argv(o->module, argv, argc));
    FUZZ_CHECK(o->args >= argv + 1 && o->args + o->n_args == argv + argc);
    FUZZ_CHECK(o->format == IMAGE_QCOW2 || o->format == IMAGE_RAW);
    FUZZ_CHECK(o->accel == ACCEL_AUTO || o->accel == ACCEL_KVM || o->accel == ACCEL_TCG);
    FUZZ_CHECK(o->timeout_s > 0 && o->timeout_s <= 7 * 24 * 3600.0);
    FUZZ_CHECK(o->boot_timeout_s > 0 && o->boot_timeout_s <= 7 * 24 * 3600.0);
    FUZZ_CHECK(o->output_limit <= (1ULL << 30));
    FUZZ_CHECK(o->memory_mib >= 64 && o->memory_mib <= 65536);
    FUZZ_CHECK(o->cpus >= 1 && o->cpus <= 64);
    FUZZ_CHECK(o->limit_cpu_s <= (1u << 30) && o->limit_nproc <= (1u << 30) &&
               o->limit_nofile <= (1u << 30));
    if (o->root_dev)
        FUZZ_CHECK(strncmp(o->root_dev, "/dev/vd", 7) == 0 && !strpbrk(o->root_dev + 5, "/. "));
    for (i = 0; i < o->n_env; i++) {
        const char *eq = strchr(o->env[i], '=');
        FUZZ_CHECK(eq != NULL && eq != o->env[i] && fuzz_cli_in_argv(o->env[i], argv, argc));
    }
    for (i = 0; i < o->n_inputs; i++)
        FUZZ_CHECK(fuzz_cli_in_argv(o->inputs[i], argv, argc));
}

static int
fuzz_cli_parse(int argc, char **argv, struct vr_options *o)
{
    struct vr_error *err = NULL;
    int r = cli_parse(argc, argv, o, &err);

    if (r < 0) {
        FUZZ_CHECK(r == -1 && err != NULL && err->message != NULL);
        vr_error_free(err);
        cli_options_free(o);
        return -1;
    }
    FUZZ_CHECK(r == 0 && err == NULL);
    fuzz_cli_check_options(o, argv, argc);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[FUZZ_CLI_ARGS + 1];
    struct vr_options a, b;
    size_t off = 0;
    int argc = 1, i, ra, rb;

    argv[0] = strdup("vmrun");
    FUZZ_CHECK(argv[0] != NULL);
    while (off < size && argc < FUZZ_CLI_ARGS) {
        const uint8_t *nul = memchr(data + off, 0, size - off);
        size_t n = nul ? (size_t)(nul - (data + off)) : size - off;

        argv[argc] = malloc(n + 1);
        FUZZ_CHECK(argv[argc] != NULL);
        memcpy(argv[argc], data + off, n);
        argv[argc][n] = '\0';
        fuzz_cli_check_values(argv[argc]);
        argc++;
        off += n + 1;
    }
    argv[argc] = NULL;

    ra = fuzz_cli_parse(argc, argv, &a);
    rb = fuzz_cli_parse(argc, argv, &b);
    FUZZ_CHECK(ra == rb);
    if (ra == 0) {
        FUZZ_CHECK(a.action == b.action && a.image == b.image && a.module == b.module &&
                   a.n_args == b.n_args && a.n_env == b.n_env && a.n_inputs == b.n_inputs);
        cli_options_free(&a);
        cli_options_free(&b);
    }
    for (i = 0; i < argc; i++)
        free(argv[i]);
    return 0;
}
