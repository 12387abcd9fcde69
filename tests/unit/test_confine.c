/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of confine.c: the QEMU identity, its qemu.conf, the access
 * check done under that identity, and what /proc says about a process. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "confine.h"

static void
test_qemu_conf(void)
{
    const char *s = confine_qemu_conf;

    TAP_CHECK_STR_CONTAINS(s, "seccomp_sandbox = 1\n");
    TAP_CHECK_STR_CONTAINS(s, "namespaces = [ \"mount\" ]");
    TAP_CHECK_STR_CONTAINS(s, "dynamic_ownership = 0\n");
    TAP_CHECK_STR_CONTAINS(s, "clear_emulator_capabilities = 1\n");
}

static void
test_inspect_self(void)
{
    struct confine_proof p;

    TAP_CHECK_INT_EQ(confine_inspect(getpid(), &p), 0);
    TAP_CHECK(p.valid);
    TAP_CHECK_INT_EQ(p.uid, (long)geteuid());
    TAP_CHECK_INT_EQ(p.gid, (long)getegid());
    TAP_CHECK(!p.own_mount_ns);
    TAP_CHECK_INT_EQ(confine_inspect(0x7ffffff0, &p), -1);
    TAP_CHECK(!p.valid);
}

static void
test_count_processes(void)
{
    TAP_CHECK(confine_count_processes(geteuid()) >= 1);
    TAP_CHECK_INT_EQ(confine_count_processes(CONFINE_UID_BASE + CONFINE_UID_COUNT - 1), 0);
}

/* As root: two reservations never get the same uid, the uid is released,
 * and the access check answers with the kernel's view of that uid. */
static void
test_acquire_and_access(void)
{
    char dir[] = "/tmp/vmrun-confine.XXXXXX";
    char secret[256], open_file[256];
    struct confine a, b;
    struct vr_error *err = NULL;
    int fd;

    if (geteuid() != 0)
        TAP_SKIP("needs root");
    TAP_CHECK(mkdtemp(dir) != NULL);
    chmod(dir, 0711);
    confine_init(&a);
    confine_init(&b);
    TAP_CHECK_INT_EQ(confine_acquire(&a, dir, 0, &err), 0);
    TAP_CHECK_INT_EQ(confine_acquire(&b, dir, 0, &err), 0);
    TAP_CHECK(a.active && b.active);
    TAP_CHECK(a.uid != b.uid);
    TAP_CHECK(a.uid >= CONFINE_UID_BASE && a.uid < CONFINE_UID_BASE + CONFINE_UID_COUNT);
    TAP_CHECK_INT_EQ(a.gid, (long)a.uid);

    snprintf(secret, sizeof(secret), "%s/secret", dir);
    snprintf(open_file, sizeof(open_file), "%s/open", dir);
    fd = open(secret, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    TAP_CHECK(fd >= 0);
    close(fd);
    fd = open(open_file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    TAP_CHECK(fd >= 0);
    close(fd);
    TAP_CHECK_INT_EQ(
        confine_check_access(&a, open_file, R_OK, "base image", CONFINE_FIX_READ, &err), 0);
    TAP_CHECK_INT_EQ(confine_check_access(&a, secret, R_OK, "base image", CONFINE_FIX_READ, &err),
                     -1);
    TAP_CHECK_STR_CONTAINS(err->message, "cannot read the base image");
    TAP_CHECK_STR_CONTAINS(err->message, "chmod o+r");
    TAP_CHECK_INT_EQ(err->kind, VR_ERR_USAGE);
    vr_error_free(err);
    err = NULL;
    /* handing the file over makes it QEMU's, and only QEMU's */
    TAP_CHECK_INT_EQ(confine_give(&a, secret, &err), 0);
    TAP_CHECK_INT_EQ(
        confine_check_access(&a, secret, R_OK | W_OK, "overlay", CONFINE_FIX_VMRUN_DIR, &err), 0);
    TAP_CHECK_INT_EQ(confine_check_access(&b, secret, R_OK, "overlay", CONFINE_FIX_VMRUN_DIR, &err),
                     -1);
    vr_error_free(err);
    err = NULL;

    confine_release(&a);
    confine_release(&b);
    unlink(secret);
    unlink(open_file);
    {
        char uids[300];
        snprintf(uids, sizeof(uids), "%s/uids", dir);
        TAP_CHECK_INT_EQ(rmdir(uids), 0); /* empty: release removed the lock files */
        TAP_CHECK_INT_EQ(rmdir(dir), 0);
    }
}

int
main(int argc, char **argv)
{
    static const struct tap_test tests[] = {
        TAP_TEST(test_qemu_conf),
        TAP_TEST(test_inspect_self),
        TAP_TEST(test_count_processes),
        TAP_TEST(test_acquire_and_access),
    };
    return tap_main(argc, argv, tests, TAP_COUNT(tests));
}
