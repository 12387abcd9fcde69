/* SPDX-License-Identifier: Apache-2.0 */
#include "domain.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    fputs("  <clock offset='utc'/>\n"
          "  <on_poweroff>destroy</on_poweroff>\n"
          "  <on_reboot>destroy</on_reboot>\n"
          "  <on_crash>destroy</on_crash>\n"
          "  <devices>\n",
          f);
    if (c->emulator)
        domain_put_tag(f, "    ", "emulator", c->emulator);
    /* The overlay is the only writable disk; its backing store is spelled out
     * with its format so libvirt probes nothing and opens the base read-only. */
    fputs("    <disk type='file' device='disk'>\n"
          "      <driver name='qemu' type='qcow2' cache='writeback' discard='unmap'/>\n",
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
    if (c->console_log) {
        fputs("    <serial type='file'>\n", f);
        domain_put_attr_elem(f, "      <source path='", c->console_log, "'/>\n");
        fputs("      <target port='0'/>\n    </serial>\n", f);
    }
    fprintf(f,
            "    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n%s"
            "    </rng>\n",
            addr);
    fputs("    <memballoon model='none'/>\n"
          "  </devices>\n"
          "</domain>\n",
          f);
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
domain_start(virConnectPtr conn, const char *xml, int auto_destroy, virDomainPtr *out,
             struct vr_error **errp)
{
    virDomainPtr dom =
        virDomainCreateXML(conn, xml, auto_destroy ? VIR_DOMAIN_START_AUTODESTROY : 0);

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
