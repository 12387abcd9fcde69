/* SPDX-License-Identifier: Apache-2.0 */
#include "domain.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#include "cleanup.h"

/* Write s with XML's five special characters escaped. */
static void
domain_put_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f); break;
        }
    }
}

static void
domain_put_tag(FILE *f, const char *indent, const char *tag, const char *value)
{
    fprintf(f, "%s<%s>", indent, tag);
    domain_put_escaped(f, value);
    fprintf(f, "</%s>\n", tag);
}

static void
domain_put_attr_elem(FILE *f, const char *before, const char *value, const char *after)
{
    fputs(before, f);
    domain_put_escaped(f, value);
    fputs(after, f);
}

char *
domain_xml(const struct domain_config *c)
{
    const char *addr = c->microvm ? "        <address type='virtio-mmio'/>\n" : "";
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    fprintf(f, "<domain type='%s'>\n", c->kvm ? "kvm" : "qemu");
    domain_put_tag(f, "  ", "name", c->name);
    fprintf(f, "  <memory unit='MiB'>%u</memory>\n", c->memory_mib);
    fprintf(f, "  <vcpu>%u</vcpu>\n", c->cpus);
    fprintf(f, "  <os>\n    <type arch='x86_64' machine='%s'>hvm</type>\n",
            c->microvm ? "microvm" : "q35");
    domain_put_tag(f, "    ", "kernel", c->kernel);
    domain_put_tag(f, "    ", "initrd", c->initrd);
    domain_put_tag(f, "    ", "cmdline", c->cmdline);
    fputs("  </os>\n", f);
    if (c->kvm)
        fputs("  <cpu mode='host-passthrough'/>\n", f);
    if (c->cpu_quota_us)
        fprintf(f,
                "  <cputune>\n    <global_period>%llu</global_period>\n"
                "    <global_quota>%llu</global_quota>\n  </cputune>\n",
                DOMAIN_CPU_PERIOD_US, c->cpu_quota_us);
    fputs("  <clock offset='utc'/>\n"
          "  <on_poweroff>destroy</on_poweroff>\n"
          "  <on_reboot>destroy</on_reboot>\n"
          "  <on_crash>destroy</on_crash>\n"
          "  <devices>\n",
          f);
    if (c->emulator)
        domain_put_tag(f, "    ", "emulator", c->emulator);
    /* The overlay is the only writable disk; its backing store is spelled out
     * with its format so libvirt probes nothing and opens the base read-only.
     * A host-side I/O error (a full host disk) pauses the VM and is reported
     * to vmrun instead of reaching the guest as a disk error. */
    fputs("    <disk type='file' device='disk'>\n"
          "      <driver name='qemu' type='qcow2' cache='writeback' discard='unmap'"
          " error_policy='stop' rerror_policy='stop'/>\n",
          f);
    domain_put_attr_elem(f, "      <source file='", c->overlay, "'/>\n");
    fprintf(f, "      <backingStore type='file'>\n        <format type='%s'/>\n",
            c->base->format == IMAGE_RAW ? "raw" : "qcow2");
    domain_put_attr_elem(f, "        <source file='", c->base->path, "'/>\n");
    fputs("        <backingStore/>\n      </backingStore>\n"
          "      <target dev='vda' bus='virtio'/>\n",
          f);
    fputs(c->microvm ? "      <address type='virtio-mmio'/>\n" : "", f);
    fputs("    </disk>\n", f);
    fputs("    <controller type='usb' model='none'/>\n", f);
    fprintf(f, "    <controller type='virtio-serial' index='0'>\n%s    </controller>\n", addr);
    fputs("    <channel type='unix'>\n", f);
    domain_put_attr_elem(f, "      <source mode='connect' path='", c->channel_socket, "'/>\n");
    fputs("      <target type='virtio' name='org.vmrun.agent.0'/>\n"
          "    </channel>\n",
          f);
    if (c->console_socket) {
        fputs("    <serial type='unix'>\n", f);
        domain_put_attr_elem(f, "      <source mode='connect' path='", c->console_socket, "'/>\n");
        fputs("      <target port='0'/>\n    </serial>\n", f);
    }
    fprintf(f,
            "    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n%s"
            "    </rng>\n",
            addr);
    fputs("    <memballoon model='none'/>\n"
          "  </devices>\n",
          f);
    if (c->qemu_uid)
        fprintf(f,
                "  <seclabel type='static' model='dac' relabel='no'>\n"
                "    <label>+%lu:+%lu</label>\n  </seclabel>\n",
                c->qemu_uid, c->qemu_gid);
    fputs("</domain>\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void
domain_silent_error(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

static void *
domain_event_loop(void *arg)
{
    (void)arg;
    for (;;) {
        if (virEventRunDefaultImpl() < 0)
            break;
    }
    return NULL;
}

int
domain_init(const char *log_file, struct vr_error **errp)
{
    _cleanup_free_ char *outputs = NULL;
    static int done;
    pthread_t tid;
    int r;

    if (done)
        return 0;
    /* libvirt reads this once, at initialisation: warnings and errors to a
     * file that -v shows on failure, never onto the module's stderr. */
    if (asprintf(&outputs, "3:file:%s", log_file) >= 0)
        setenv("LIBVIRT_LOG_OUTPUTS", outputs, 0);
    virSetErrorFunc(NULL, domain_silent_error);
    if (virInitialize() < 0)
        return vr_fail(errp, 0, "cannot initialise libvirt: %s", domain_last_error());
    if (virEventRegisterDefaultImpl() < 0)
        return vr_fail(errp, 0, "cannot register libvirt's event loop: %s", domain_last_error());
    r = pthread_create(&tid, NULL, domain_event_loop, NULL);
    if (r != 0)
        return vr_fail(errp, r, "cannot start libvirt's event loop thread");
    pthread_detach(tid);
    done = 1;
    return 0;
}

const char *
domain_last_error(void)
{
    const char *m = virGetLastErrorMessage();
    return m && *m ? m : "unknown libvirt error";
}

int
domain_connect(const char *uri, const char *embed_root, virConnectPtr *out, struct vr_error **errp)
{
    _cleanup_free_ char *embed = NULL;
    virConnectPtr conn;

    if (!uri) {
        if (asprintf(&embed, "qemu:///embed?root=%s", embed_root) < 0)
            return vr_fail(errp, ENOMEM, "cannot build the libvirt URI");
        uri = embed;
    }
    conn = virConnectOpen(uri);
    if (!conn)
        return vr_fail(errp, 0, "cannot connect to libvirt at '%s': %s", uri, domain_last_error());
    *out = conn;
    return 0;
}

int
domain_load_capabilities(virConnectPtr conn, int kvm, struct vr_error **errp)
{
    char *caps =
        virConnectGetDomainCapabilities(conn, NULL, "x86_64", "microvm", kvm ? "kvm" : "qemu", 0);
    if (!caps)
        return vr_fail(errp, 0, "libvirt cannot describe QEMU's microvm machine: %s",
                       domain_last_error());
    free(caps);
    return 0;
}

int
domain_start(virConnectPtr conn, const char *xml, int auto_destroy, int paused, virDomainPtr *out,
             struct vr_error **errp)
{
    unsigned flags =
        (auto_destroy ? VIR_DOMAIN_START_AUTODESTROY : 0) | (paused ? VIR_DOMAIN_START_PAUSED : 0);
    virDomainPtr dom = virDomainCreateXML(conn, xml, flags);

    if (!dom)
        return vr_fail(errp, 0, "libvirt could not start the VM: %s", domain_last_error());
    *out = dom;
    return 0;
}

int
domain_destroy(virDomainPtr dom, struct vr_error **errp)
{
    if (virDomainDestroy(dom) == 0)
        return 0;
    if (virDomainIsActive(dom) == 0)
        return 0;
    return vr_fail(errp, 0, "libvirt could not destroy the VM: %s", domain_last_error());
}

int
domain_resume(virDomainPtr dom, struct vr_error **errp)
{
    if (virDomainResume(dom) < 0)
        return vr_fail(errp, 0, "libvirt could not start the VM's CPUs: %s", domain_last_error());
    return 0;
}

int
domain_set_memory_limit(virDomainPtr dom, unsigned long long bytes, struct vr_error **errp)
{
    virTypedParameter p = {.type = VIR_TYPED_PARAM_ULLONG};

    snprintf(p.field, sizeof(p.field), "%s", VIR_DOMAIN_MEMORY_HARD_LIMIT);
    p.value.ul = bytes / 1024; /* KiB */
    if (virDomainSetMemoryParameters(dom, &p, 1, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return vr_fail(errp, 0, "libvirt could not limit the VM's memory cgroup: %s",
                       domain_last_error());
    return 0;
}

static unsigned long long
domain_param_ull(const virTypedParameter *params, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(params[i].field, name) != 0)
            continue;
        switch (params[i].type) {
        case VIR_TYPED_PARAM_ULLONG: return params[i].value.ul;
        case VIR_TYPED_PARAM_LLONG:
            return params[i].value.l > 0 ? (unsigned long long)params[i].value.l : 0;
        case VIR_TYPED_PARAM_UINT: return params[i].value.ui;
        case VIR_TYPED_PARAM_INT:
            return params[i].value.i > 0 ? (unsigned long long)params[i].value.i : 0;
        case VIR_TYPED_PARAM_DOUBLE:
        case VIR_TYPED_PARAM_BOOLEAN:
        case VIR_TYPED_PARAM_STRING:
        default: return 0;
        }
    }
    return 0;
}

int
domain_get_limits(virDomainPtr dom, struct domain_limits *out, struct vr_error **errp)
{
    virTypedParameter sched[32], mem[8];
    int nsched = 32, nmem = 8;
    unsigned long long hard;

    memset(out, 0, sizeof(*out));
    if (virDomainGetSchedulerParametersFlags(dom, sched, &nsched, VIR_DOMAIN_AFFECT_LIVE) < 0 ||
        virDomainGetMemoryParameters(dom, mem, &nmem, VIR_DOMAIN_AFFECT_LIVE) < 0)
        return vr_fail(errp, 0, "libvirt could not report the VM's cgroup limits: %s",
                       domain_last_error());
    out->cpu_quota_us = domain_param_ull(sched, nsched, VIR_DOMAIN_SCHEDULER_GLOBAL_QUOTA);
    out->cpu_period_us = domain_param_ull(sched, nsched, VIR_DOMAIN_SCHEDULER_GLOBAL_PERIOD);
    hard = domain_param_ull(mem, nmem, VIR_DOMAIN_MEMORY_HARD_LIMIT);
    /* libvirt says "unlimited" with VIR_DOMAIN_MEMORY_PARAM_UNLIMITED (KiB) */
    out->memory_bytes = hard && hard < VIR_DOMAIN_MEMORY_PARAM_UNLIMITED ? hard * 1024 : 0;
    virTypedParamsClear(sched, nsched);
    virTypedParamsClear(mem, nmem);
    return 0;
}

static void
domain_io_error_cb(virConnectPtr conn, virDomainPtr dom, const char *src_path,
                   const char *dev_alias, int action, const char *reason, void *opaque)
{
    struct domain_io_watch *w = opaque;
    uint64_t one = 1;

    (void)conn;
    (void)dom;
    (void)dev_alias;
    (void)action;
    if (w->reason[0])
        return;
    snprintf(w->path, sizeof(w->path), "%s", src_path ? src_path : "");
    snprintf(w->reason, sizeof(w->reason), "%s", reason && *reason ? reason : "unknown");
    /* the eventfd write publishes reason and path to the poll loop's thread */
    while (write(w->notify_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

int
domain_watch_io_errors(virConnectPtr conn, virDomainPtr dom, struct domain_io_watch *w,
                       struct vr_error **errp)
{
    w->reason[0] = w->path[0] = '\0';
    w->callback_id =
        virConnectDomainEventRegisterAny(conn, dom, VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON,
                                         VIR_DOMAIN_EVENT_CALLBACK(domain_io_error_cb), w, NULL);
    if (w->callback_id < 0)
        return vr_fail(errp, 0, "libvirt cannot report the VM's disk errors: %s",
                       domain_last_error());
    return 0;
}

void
domain_unwatch_io_errors(virConnectPtr conn, struct domain_io_watch *w)
{
    if (w->callback_id >= 0)
        virConnectDomainEventDeregisterAny(conn, w->callback_id);
    w->callback_id = -1;
}
