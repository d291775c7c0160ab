/* libvirt domain XML: an i440FX PC (what NT-era systems ran on), IDE disks
 * in boot order, the chosen NIC model, VGA and VNC. Written with libxml2's
 * text writer so that names and paths are escaped. */
#include <errno.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "migrate/migrate.h"

#define W(call)                  \
    do {                         \
        if ((call) < 0)          \
            goto fail;           \
    } while (0)

static int elem_attr(xmlTextWriterPtr w, const char *name, const char *attr, const char *value)
{
    if (xmlTextWriterStartElement(w, BAD_CAST name) < 0 ||
        xmlTextWriterWriteAttribute(w, BAD_CAST attr, BAD_CAST value) < 0)
        return -1;
    return xmlTextWriterEndElement(w);
}

int mig_write_libvirt(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp)
{
    snprintf(def, def_len, "%s.xml", vm->name);
    char tmp[4400];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", outdir, def);
    xmlTextWriterPtr w = xmlNewTextWriterFilename(tmp, 0);
    if (!w)
        return vd_error_set(errp, -EIO, "cannot create %s", tmp);
    char num[32];
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, BAD_CAST "  ");
    W(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
    /* kvm on a KVM host; a host without KVM needs type='qemu' (TCG). */
    W(xmlTextWriterStartElement(w, BAD_CAST "domain"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "kvm"));
    W(xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST vm->name));
    W(xmlTextWriterWriteFormatElement(w, BAD_CAST "description", "p2v migrate: %s%s%s", vm->product[0] ? vm->product : vm->os,
                                      vm->hal[0] ? ", HAL " : "", vm->hal));
    snprintf(num, sizeof(num), "%llu", (unsigned long long)vm->memory_mib);
    W(xmlTextWriterStartElement(w, BAD_CAST "memory"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "MiB"));
    W(xmlTextWriterWriteString(w, BAD_CAST num));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, BAD_CAST "currentMemory"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "MiB"));
    W(xmlTextWriterWriteString(w, BAD_CAST num));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterWriteFormatElement(w, BAD_CAST "vcpu", "%d", vm->vcpus));

    W(xmlTextWriterStartElement(w, BAD_CAST "os"));
    W(xmlTextWriterStartElement(w, BAD_CAST "type"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "arch", BAD_CAST "i686"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "machine", BAD_CAST "pc"));
    W(xmlTextWriterWriteString(w, BAD_CAST "hvm"));
    W(xmlTextWriterEndElement(w));
    /* Boot order is on the disks (<boot order=>), not here: libvirt
     * refuses both at once. */
    W(xmlTextWriterEndElement(w));

    W(xmlTextWriterStartElement(w, BAD_CAST "features"));
    if (vm->acpi)
        W(xmlTextWriterWriteElement(w, BAD_CAST "acpi", NULL));
    if (vm->apic)
        W(xmlTextWriterWriteElement(w, BAD_CAST "apic", NULL));
    W(xmlTextWriterWriteElement(w, BAD_CAST "pae", NULL));
    W(xmlTextWriterEndElement(w));
    W(elem_attr(w, "clock", "offset", vm->localtime ? "localtime" : "utc"));
    W(xmlTextWriterWriteElement(w, BAD_CAST "on_poweroff", BAD_CAST "destroy"));
    W(xmlTextWriterWriteElement(w, BAD_CAST "on_reboot", BAD_CAST "restart"));
    W(xmlTextWriterWriteElement(w, BAD_CAST "on_crash", BAD_CAST "restart"));

    W(xmlTextWriterStartElement(w, BAD_CAST "devices"));
    for (int i = 0; i < vm->n_disks; i++) {
        const struct mig_disk *d = &vm->disks[i];
        char dev[8];
        snprintf(dev, sizeof(dev), "hd%c", 'a' + i);    /* primary master, slave, secondary ... */
        W(xmlTextWriterStartElement(w, BAD_CAST "disk"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "device", BAD_CAST "disk"));
        W(xmlTextWriterStartElement(w, BAD_CAST "driver"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "qemu"));
        /* QEMU calls VHD "vpc". */
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST(strcmp(d->format, "vhd") ? d->format : "vpc")));
        W(xmlTextWriterEndElement(w));
        W(elem_attr(w, "source", "file", d->path));
        W(xmlTextWriterStartElement(w, BAD_CAST "target"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST dev));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "bus", BAD_CAST "ide"));
        W(xmlTextWriterEndElement(w));
        if (d->boot_order) {
            snprintf(num, sizeof(num), "%d", d->boot_order);
            W(elem_attr(w, "boot", "order", num));
        }
        W(xmlTextWriterEndElement(w));
    }
    W(elem_attr(w, "controller", "type", "ide"));
    for (int i = 0; i < vm->n_nics; i++) {
        const struct mig_nic *n = &vm->nics[i];
        W(xmlTextWriterStartElement(w, BAD_CAST "interface"));
        /* --network user: QEMU's user-mode network, which needs no host setup. */
        bool user = !vm->bridge && !strcmp(vm->network, "user");
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST(vm->bridge ? "bridge" : user ? "user" : "network")));
        if (n->mac[0])
            W(elem_attr(w, "mac", "address", n->mac));
        if (!user)
            W(elem_attr(w, "source", vm->bridge ? "bridge" : "network", vm->network));
        W(elem_attr(w, "model", "type", mig_nic_qemu_name(n->model)));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterStartElement(w, BAD_CAST "serial"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "pty"));
    W(elem_attr(w, "target", "port", "0"));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, BAD_CAST "console"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "pty"));
    W(xmlTextWriterStartElement(w, BAD_CAST "target"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "serial"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "port", BAD_CAST "0"));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    W(elem_attr(w, "input", "type", "mouse"));     /* bus ps2 is the default on i440FX */
    W(xmlTextWriterStartElement(w, BAD_CAST "graphics"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "vnc"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "autoport", BAD_CAST "yes"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "listen", BAD_CAST "127.0.0.1"));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, BAD_CAST "video"));
    W(xmlTextWriterStartElement(w, BAD_CAST "model"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "vga"));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "vram", BAD_CAST "16384"));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));  /* devices */
    W(xmlTextWriterEndElement(w));  /* domain */
    W(xmlTextWriterEndDocument(w));
    xmlFreeTextWriter(w);
    w = NULL;
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s", outdir, def);
    if (rename(tmp, path) != 0)
        return vd_error_set_errno(errp, -errno, "cannot rename %s to %s", tmp, path);
    return 0;
fail:
    xmlFreeTextWriter(w);
    remove(tmp);
    return vd_error_set(errp, -EIO, "cannot write %s", tmp);
}
