/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of `vmrun doctor`'s checks (orchestrator/doctor.c): the pure
 * parts, and whole runs against a fake QEMU (a shell script in a private
 * PATH) so that the boot probe's marker, deadline and exit handling are
 * tested without booting anything. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../tap.h"
#include "doctor.h"
#include "fileio.h"

static void
test_qemu_version(void)
{
    unsigned v[3];

    TAP_CHECK_INT_EQ(doctor_parse_qemu_version("QEMU emulator version 7.2.22 (Debian "
                                               "1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003\n",
                                               v),
                     0);
    TAP_CHECK(v[0] == 7 && v[1] == 2 && v[2] == 22);
    TAP_CHECK_INT_EQ(doctor_parse_qemu_version("QEMU emulator version 8.2.0\n", v), 0);
    TAP_CHECK(v[0] == 8 && v[1] == 2 && v[2] == 0);
    TAP_CHECK_INT_EQ(doctor_parse_qemu_version("QEMU emulator version 9.1 (v9.1)", v), 0);
    TAP_CHECK(v[0] == 9 && v[1] == 1 && v[2] == 0);
    TAP_CHECK_INT_EQ(doctor_parse_qemu_version("qemu-system-x86_64: command not found", v), -1);
    TAP_CHECK_INT_EQ(doctor_parse_qemu_version("QEMU emulator version x.y", v), -1);
    TAP_CHECK_INT_EQ(doctor_parse_qemu_version("", v), -1);
    TAP_CHECK(v[0] == 0 && v[1] == 0 && v[2] == 0);

    TAP_CHECK(doctor_version_at_least((unsigned[3]){4, 2, 0}, 4, 2));
    TAP_CHECK(doctor_version_at_least((unsigned[3]){7, 0, 0}, 4, 2));
    TAP_CHECK(!doctor_version_at_least((unsigned[3]){4, 1, 9}, 4, 2));
    TAP_CHECK(!doctor_version_at_least((unsigned[3]){3, 9, 0}, 4, 2));
}

static void
test_disk_status(void)
{
    TAP_CHECK_INT_EQ(doctor_disk_status(0), DOCTOR_FAIL);
    TAP_CHECK_INT_EQ(doctor_disk_status(DOCTOR_DISK_FAIL_BYTES - 1), DOCTOR_FAIL);
    TAP_CHECK_INT_EQ(doctor_disk_status(DOCTOR_DISK_FAIL_BYTES), DOCTOR_WARN);
    TAP_CHECK_INT_EQ(doctor_disk_status(DOCTOR_DISK_WARN_BYTES - 1), DOCTOR_WARN);
    TAP_CHECK_INT_EQ(doctor_disk_status(DOCTOR_DISK_WARN_BYTES), DOCTOR_OK);
    TAP_CHECK_INT_EQ(doctor_disk_status(UINT64_MAX), DOCTOR_OK);
}

static void
test_probe_cmdline(void)
{
    char *s = doctor_probe_cmdline(0, 2400000);

    TAP_CHECK_STR_EQ(s, "console=ttyS0 quiet loglevel=3 panic=-1 reboot=t tsc_early_khz=2400000 "
                        "vmrun.debug=1");
    free(s);
    /* KVM tells the guest its TSC rate; an unknown rate is not passed */
    s = doctor_probe_cmdline(1, 2400000);
    TAP_CHECK_STR_EQ(s, "console=ttyS0 quiet loglevel=3 panic=-1 reboot=t vmrun.debug=1");
    free(s);
    s = doctor_probe_cmdline(0, 0);
    TAP_CHECK_STR_EQ(s, "console=ttyS0 quiet loglevel=3 panic=-1 reboot=t vmrun.debug=1");
    free(s);
}

static void
test_tail_line(void)
{
    const char text[] = "\n  first\r\nsecond\x01\xff\n\n  third  \n";
    char *s = doctor_tail_line(text, sizeof(text) - 1, 1000);

    TAP_CHECK_STR_EQ(s, "first | second?? | third");
    free(s);
    s = doctor_tail_line(text, sizeof(text) - 1, 9);
    TAP_CHECK_STR_EQ(s, "third");
    free(s);
    s = doctor_tail_line("", 0, 10);
    TAP_CHECK_STR_EQ(s, "");
    free(s);
}

static void
test_report_json(void)
{
    struct doctor_report r = {0};
    json_t *j, *c0;

    r.checks[0] = (struct doctor_check){
        .name = "qemu", .status = DOCTOR_OK, .essential = 1, .detail = strdup("QEMU 7.2.22")};
    r.checks[1] = (struct doctor_check){.name = "image",
                                        .status = DOCTOR_FAIL,
                                        .essential = 0,
                                        .detail = strdup("none"),
                                        .fix = strdup("make image")};
    r.n = 2;
    r.accel_known = 1;
    r.kvm = 0;
    r.accel_reason = "no vmx";
    r.boot_ms = r.tcg_boot_ms = 1234.4;
    r.qemu_version[0] = 7;
    r.qemu_version[1] = 2;
    r.qemu_version[2] = 22;
    /* a failure of a check that is not essential leaves vmrun runnable */
    TAP_CHECK_INT_EQ(doctor_can_run(&r), 1);
    j = doctor_report_json(&r);
    TAP_CHECK(j != NULL);
    TAP_CHECK(json_is_true(json_object_get(j, "ok")));
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "accel")), "tcg");
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(j, "qemu_version")), "7.2.22");
    TAP_CHECK_INT_EQ(json_integer_value(json_object_get(j, "boot_ms")), 1234);
    TAP_CHECK_INT_EQ(json_array_size(json_object_get(j, "checks")), 2);
    c0 = json_array_get(json_object_get(j, "checks"), 0);
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(c0, "name")), "qemu");
    TAP_CHECK_STR_EQ(json_string_value(json_object_get(c0, "status")), "ok");
    TAP_CHECK(json_is_true(json_object_get(c0, "essential")));
    TAP_CHECK(json_is_null(json_object_get(c0, "fix")));
    TAP_CHECK_STR_EQ(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "checks"), 1), "fix")),
        "make image");
    json_decref(j);

    r.checks[1].essential = 1;
    TAP_CHECK_INT_EQ(doctor_can_run(&r), 0);
    r.accel_known = 0;
    r.boot_ms = -1;
    j = doctor_report_json(&r);
    TAP_CHECK(json_is_false(json_object_get(j, "ok")));
    TAP_CHECK(json_is_null(json_object_get(j, "accel")));
    TAP_CHECK(json_is_null(json_object_get(j, "boot_ms")));
    json_decref(j);
    doctor_report_clear(&r);
}

/* ---- whole runs in a private environment -------------------------------- */

static char env_dir[64];

static void
env_file(const char *sub, const char *content, mode_t mode)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", env_dir, sub);
    f = fopen(path, "w");
    TAP_CHECK(f != NULL);
    fputs(content, f);
    fclose(f);
    TAP_CHECK_INT_EQ(chmod(path, mode), 0);
}

/* PATH, guest, state and runtime directories of our own under /tmp; a QEMU
 * script that answers --version and otherwise runs boot_body. */
static void
env_setup(const char *boot_body)
{
    char path[256];
    char script[1024];

    snprintf(env_dir, sizeof(env_dir), "/tmp/vmrun-doctor-test.XXXXXX");
    TAP_CHECK(mkdtemp(env_dir) != NULL);
    snprintf(path, sizeof(path), "%s/bin", env_dir);
    mkdir(path, 0700);
    setenv("PATH", path, 1);
    snprintf(path, sizeof(path), "%s/guest", env_dir);
    mkdir(path, 0700);
    setenv("VMRUN_GUEST_DIR", path, 1);
    snprintf(path, sizeof(path), "%s/state", env_dir);
    setenv("VMRUN_STATE_DIR", path, 1);
    snprintf(path, sizeof(path), "%s/run", env_dir);
    setenv("VMRUN_RUNTIME_DIR", path, 1);
    if (boot_body) {
        snprintf(script, sizeof(script),
                 "#!/bin/sh\n"
                 "if [ \"$1\" = --version ]; then echo 'QEMU emulator version 7.2.0'; exit 0; fi\n"
                 "%s\n",
                 boot_body);
        env_file("bin/qemu-system-x86_64", script, 0755);
        env_file("bin/qemu-img", "#!/bin/sh\nexit 0\n", 0755);
        env_file("guest/vmlinux", "not really a kernel", 0644);
        env_file("guest/initramfs.cpio", "not really an initramfs", 0644);
    }
}

static void
env_cleanup(void)
{
    fileio_remove_tree(env_dir);
}

static const struct doctor_check *
find_check(const struct doctor_report *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->checks[i].name, name) == 0)
            return &r->checks[i];
    }
    tap_fail(__FILE__, __LINE__, "no check named '%s'", name);
}

static void
test_run_without_qemu(void)
{
    struct doctor_options o = {.kvm_boot_limit_s = 1, .tcg_boot_limit_s = 1};
    struct doctor_report r;
    const struct doctor_check *c;

    env_setup(NULL);
    doctor_run(&o, &r);
    TAP_CHECK_INT_EQ(doctor_can_run(&r), 0);
    c = find_check(&r, "qemu");
    TAP_CHECK_INT_EQ(c->status, DOCTOR_FAIL);
    TAP_CHECK(c->essential);
    TAP_CHECK(c->fix && strstr(c->fix, "apt-get install qemu-system-x86"));
    c = find_check(&r, "qemu-img");
    TAP_CHECK_INT_EQ(c->status, DOCTOR_FAIL);
    TAP_CHECK(c->fix && strstr(c->fix, "qemu-utils"));
    if (access("/usr/local/share/vmrun/vmlinux", F_OK) != 0) {
        c = find_check(&r, "kernel");
        TAP_CHECK_INT_EQ(c->status, DOCTOR_FAIL);
        TAP_CHECK(c->fix && strstr(c->fix, "make guest"));
    }
    TAP_CHECK_INT_EQ(find_check(&r, "accel")->status, DOCTOR_SKIP);
    TAP_CHECK_INT_EQ(find_check(&r, "libvirt")->status, DOCTOR_SKIP);
    TAP_CHECK_INT_EQ(find_check(&r, "libguestfs")->status, DOCTOR_SKIP);
    TAP_CHECK_INT_EQ(find_check(&r, "disk")->status, DOCTOR_OK);
    doctor_report_clear(&r);
    env_cleanup();
}

/* The boot's proof is the agent's first console line; the time to it is
 * what is reported. Whichever accelerator this host picks, the fake boots. */
static void
test_boot_marker_seen(void)
{
    struct doctor_options o = {
        .connect_uri = "test:///default", .kvm_boot_limit_s = 10, .tcg_boot_limit_s = 10};
    struct doctor_report r;
    const struct doctor_check *c;

    env_setup(
        "echo 'some kernel line'; /bin/sleep 0.2; printf 'vmrun-agent: debug: vmrun-agent 1.0 "
        "starting\\n'; exec /bin/sleep 100");
    doctor_run(&o, &r);
    c = find_check(&r, "qemu");
    TAP_CHECK_INT_EQ(c->status, DOCTOR_OK);
    TAP_CHECK(strstr(c->detail, "QEMU 7.2.0"));
    TAP_CHECK_INT_EQ(find_check(&r, "kernel")->status, DOCTOR_OK);
    c = find_check(&r, "accel");
    TAP_CHECK_MSG(c->status == DOCTOR_OK || c->status == DOCTOR_WARN, "accel: %s", c->detail);
    TAP_CHECK(r.accel_known);
    TAP_CHECK(r.boot_ms >= 150 && r.boot_ms < 5000);
    if (!r.kvm) {
        TAP_CHECK(strstr(c->detail, "measured here"));
        TAP_CHECK(r.tcg_boot_ms == r.boot_ms);
    }
    /* the probe was killed at the marker, not left to its 100 s sleep */
    TAP_CHECK(c->elapsed_ms < 5000);
    doctor_report_clear(&r);
    env_cleanup();
}

static void
test_boot_deadline_and_exit(void)
{
    struct doctor_options o = {
        .connect_uri = "test:///default", .kvm_boot_limit_s = 0.5, .tcg_boot_limit_s = 0.5};
    struct doctor_report r;
    const struct doctor_check *c;

    env_setup("echo 'silent guest'; exec /bin/sleep 100");
    doctor_run(&o, &r);
    c = find_check(&r, "accel");
    TAP_CHECK_INT_EQ(c->status, DOCTOR_FAIL);
    TAP_CHECK(c->essential);
    TAP_CHECK_MSG(strstr(c->detail, "did not start within 0.5 s") &&
                      strstr(c->detail, "silent guest"),
                  "detail: %s", c->detail);
    TAP_CHECK(c->fix && strstr(c->fix, "make guest"));
    TAP_CHECK(c->elapsed_ms < 3000);
    TAP_CHECK_INT_EQ(doctor_can_run(&r), 0);
    doctor_report_clear(&r);
    env_cleanup();

    env_setup("echo 'qemu-system-x86_64: failed to set MSR 0x10a' >&2; exit 1");
    doctor_run(&o, &r);
    c = find_check(&r, "accel");
    TAP_CHECK_INT_EQ(c->status, DOCTOR_FAIL);
    TAP_CHECK_MSG(strstr(c->detail, "QEMU exited (status 1)") &&
                      strstr(c->detail, "failed to set MSR"),
                  "detail: %s", c->detail);
    doctor_report_clear(&r);
    env_cleanup();
}

static void
test_old_qemu(void)
{
    struct doctor_options o = {.connect_uri = "test:///default"};
    struct doctor_report r;
    const struct doctor_check *c;

    env_setup("exit 1");
    env_file("bin/qemu-system-x86_64", "#!/bin/sh\necho 'QEMU emulator version 4.1.1'\n", 0755);
    o.kvm_boot_limit_s = o.tcg_boot_limit_s = 0.5;
    doctor_run(&o, &r);
    c = find_check(&r, "qemu");
    TAP_CHECK_INT_EQ(c->status, DOCTOR_FAIL);
    TAP_CHECK(strstr(c->detail, "4.1.1") && strstr(c->detail, "4.2 or later"));
    doctor_report_clear(&r);
    env_cleanup();
}

static const struct tap_test tests[] = {
    TAP_TEST(test_qemu_version),     TAP_TEST(test_disk_status),
    TAP_TEST(test_probe_cmdline),    TAP_TEST(test_tail_line),
    TAP_TEST(test_report_json),      TAP_TEST(test_run_without_qemu),
    TAP_TEST(test_boot_marker_seen), TAP_TEST(test_boot_deadline_and_exit),
    TAP_TEST(test_old_qemu),
};

int
main(int argc, char **argv)
{
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
