/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_doctor: `vmrun doctor [--json] [--no-appliance] [--connect URI]`, what
 * on this host keeps vmrun from running or slows it down, each failure with
 * its exact fix. A subcommand's main: doctor.c checks, this file prints (a
 * table, each row as its check completes, or one JSON object) and chooses
 * the exit status.
 */
#include "cmd_doctor.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "doctor.h"

/* The table: status, name, then text wrapped under its own column. */
#define CMD_DOCTOR_WIDTH 100
#define CMD_DOCTOR_INDENT 18

static const char cmd_doctor_usage_text[] =
    "Usage: vmrun doctor [--json] [--no-appliance] [--connect URI]\n"
    "Check that this host can run vmrun, and print the exact fix for each failure:\n"
    "QEMU and its version, qemu-img, the guest kernel and initramfs, the\n"
    "accelerator (the guest is booted under KVM to prove it works, else under TCG\n"
    "and its boot time measured), libvirt (driver reachable, microvm described),\n"
    "the libguestfs appliance of the disk diff, the default image, free disk.\n"
    "\n"
    "  --json           print one JSON object on stdout instead of the table\n"
    "  --no-appliance   do not launch the libguestfs appliance (it takes seconds to\n"
    "                   a minute under TCG; only the disk diff, --diff, needs it)\n"
    "  --connect URI    check this libvirt URI instead of the embedded driver\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0 vmrun can run here (warnings allowed: TCG instead of KVM, no\n"
    "default image, no libguestfs, little free disk); 1 it cannot run at all\n"
    "(QEMU missing or older than 4.2, qemu-img missing, guest kernel or initramfs\n"
    "missing, the guest boots under no accelerator, libvirt unreachable, state or\n"
    "runtime directory unusable or full); 2 bad option.\n";

enum { OPT_JSON = 256, OPT_NO_APPLIANCE, OPT_CONNECT };

static const struct option cmd_doctor_long[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"no-appliance", no_argument, NULL, OPT_NO_APPLIANCE},
    {"connect", required_argument, NULL, OPT_CONNECT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* text, wrapped at spaces, every line after the first indented */
static void
cmd_doctor_wrapped(const char *prefix, const char *text)
{
    size_t room = CMD_DOCTOR_WIDTH - CMD_DOCTOR_INDENT;
    size_t col = 0;

    fputs(prefix, stdout);
    col = strlen(prefix);
    while (*text) {
        size_t word = strcspn(text, " ");
        if (col > 0 && col + 1 + word > room) {
            printf("\n%*s", CMD_DOCTOR_INDENT, "");
            col = 0;
        } else if (col > 0) {
            fputc(' ', stdout);
            col++;
        }
        fwrite(text, 1, word, stdout);
        col += word;
        text += word;
        while (*text == ' ')
            text++;
    }
    fputc('\n', stdout);
}

static void
cmd_doctor_row(void *opaque, const struct doctor_check *c)
{
    static const char *const shown[] = {"ok", "WARN", "FAIL", "skip"};

    (void)opaque;
    printf("%-5s %-11s ", shown[c->status], c->name);
    cmd_doctor_wrapped("", c->detail ? c->detail : "(out of memory)");
    if (c->fix) {
        printf("%*s", CMD_DOCTOR_INDENT, "");
        cmd_doctor_wrapped("fix:", c->fix);
    }
    fflush(stdout);
}

int
cmd_doctor(int argc, char **argv)
{
    struct doctor_options o = {
        .appliance = 1,
        .kvm_boot_limit_s = 15,
        .tcg_boot_limit_s = 60,
        .appliance_limit_s = 300,
    };
    struct doctor_report r;
    int json = 0, c, can_run, warnings = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", cmd_doctor_long, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = 1; break;
        case OPT_NO_APPLIANCE: o.appliance = 0; break;
        case OPT_CONNECT: o.connect_uri = optarg; break;
        case 'h': fputs(cmd_doctor_usage_text, stdout); return CMD_DOCTOR_EXIT_OK;
        default: fputs("(see 'vmrun doctor --help')\n", stderr); return CMD_DOCTOR_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "vmrun doctor: unexpected argument '%s'\n(see 'vmrun doctor --help')\n",
                argv[optind]);
        return CMD_DOCTOR_EXIT_USAGE;
    }
    if (!json) {
        o.progress = cmd_doctor_row;
        printf("vmrun doctor: checking this host (booting a guest%s takes a while)\n",
               o.appliance ? " and a libguestfs appliance" : "");
        fflush(stdout);
    }
    doctor_run(&o, &r);
    can_run = doctor_can_run(&r);
    if (json) {
        _cleanup_json_ json_t *j = doctor_report_json(&r);
        _cleanup_free_ char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
        if (!text) {
            fprintf(stderr, "vmrun doctor: cannot serialise the report\n");
            doctor_report_clear(&r);
            return CMD_DOCTOR_EXIT_CANNOT_RUN;
        }
        puts(text);
    } else {
        for (size_t i = 0; i < r.n; i++)
            warnings += r.checks[i].status == DOCTOR_WARN;
        if (can_run)
            printf("\nvmrun can run here (%s, %d warning%s).\n",
                   !r.accel_known ? "accelerator not proven"
                   : r.kvm        ? "KVM"
                                  : "TCG",
                   warnings, warnings == 1 ? "" : "s");
        else
            printf("\nvmrun cannot run here: apply the fixes of the FAIL lines above.\n");
    }
    doctor_report_clear(&r);
    if (fflush(stdout) != 0)
        return CMD_DOCTOR_EXIT_CANNOT_RUN;
    return can_run ? CMD_DOCTOR_EXIT_OK : CMD_DOCTOR_EXIT_CANNOT_RUN;
}
