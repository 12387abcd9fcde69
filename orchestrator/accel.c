/* SPDX-License-Identifier: Apache-2.0 */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"

static int
accel_has_flag(const char *cpuinfo, const char *flag)
{
    size_t n = strlen(flag);
    const char *p = cpuinfo;

    while ((p = strstr(p, flag)) != NULL) {
        if ((p == cpuinfo || p[-1] == ' ' || p[-1] == '\t') &&
            (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
            return 1;
        p += n;
    }
    return 0;
}

int
accel_kvm_usable(const char *cpuinfo, int api_ok, int pvm_loaded, const char **reason)
{
    if (!api_ok) {
        *reason = "/dev/kvm is missing or does not answer KVM's API version";
        return 0;
    }
    if (pvm_loaded) {
        *reason = "/dev/kvm is served by the paravirtual kvm_pvm module, which cannot run a stock "
                  "guest kernel";
        return 0;
    }
    if (!accel_has_flag(cpuinfo, "vmx") && !accel_has_flag(cpuinfo, "svm")) {
        *reason = "the CPU offers no hardware virtualisation (no vmx/svm flag), so /dev/kvm cannot "
                  "run a stock guest kernel";
        return 0;
    }
    *reason = "KVM is available (vmx/svm present, /dev/kvm answers)";
    return 1;
}

unsigned long
accel_parse_cpu_mhz(const char *cpuinfo)
{
    const char *p = strstr(cpuinfo, "cpu MHz");
    double mhz;

    if (!p || !(p = strchr(p, ':')))
        return 0;
    if (sscanf(p + 1, "%lf", &mhz) != 1 || mhz < 100 || mhz > 100000)
        return 0;
    return (unsigned long)(mhz * 1000.0);
}

unsigned long
accel_tsc_khz(void)
{
    static char cpuinfo[16384];

    if (fileio_read_small("/proc/cpuinfo", cpuinfo, sizeof(cpuinfo) - 1) < 0)
        return 0;
    return accel_parse_cpu_mhz(cpuinfo);
}

int
accel_choose(enum vr_accel_choice want, struct accel_result *out, struct vr_error **errp)
{
    _cleanup_close_ int fd = -1;
    static char cpuinfo[16384];
    int api_ok = 0, pvm;

    if (want == ACCEL_TCG) {
        out->kvm = 0;
        out->reason = "TCG requested with --accel tcg";
        return 0;
    }
    fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd >= 0)
        api_ok = ioctl(fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION;
    if (want == ACCEL_KVM) {
        if (fd < 0)
            return vr_error_set(errp, VR_ERR_USAGE, errno,
                                "--accel kvm was requested but /dev/kvm cannot be opened");
        out->kvm = 1;
        out->reason = "KVM requested with --accel kvm";
        return 0;
    }
    /* The first CPU's entry holds the flags line; 16 KiB covers it. */
    if (fileio_read_small("/proc/cpuinfo", cpuinfo, sizeof(cpuinfo) - 1) < 0)
        cpuinfo[0] = '\0';
    pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
    out->kvm = accel_kvm_usable(cpuinfo, api_ok, pvm, &out->reason);
    return 0;
}
