/* libvirt domain XML: an i440FX PC (what NT-era systems ran on), IDE disks
 * in boot order, the chosen NIC model, VGA and VNC. Written with libxml2's
 * text writer so that names and paths are escaped. */
#include <errno.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "migrate/migrate.h"

#define XC(s) ((const xmlChar *)(s))

#define W(call)                  \
    do {                         \
        if ((call) < 0)          \
            goto fail;           \
    } while (0)

static int elem_attr(xmlTextWriterPtr w, const char *name, const char *attr, const char *value)
{
    if (xmlTextWriterStartElement(w, XC(name)) < 0 ||
        xmlTextWriterWriteAttribute(w, XC(attr), XC(value)) < 0)
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
    xmlTextWriterSetIndentString(w, XC("  "));
    W(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
    /* kvm on a KVM host; a host without KVM needs type='qemu' (TCG). */
    W(xmlTextWriterStartElement(w, XC("domain")));
    W(xmlTextWriterWriteAttribute(w, XC("type"), XC("kvm")));
    W(xmlTextWriterWriteElement(w, XC("name"), XC(vm->name)));
    W(xmlTextWriterWriteFormatElement(w, XC("description"), "p2v migrate: %s%s%s", vm->product[0] ? vm->product : vm->os,
                                      vm->hal[0] ? ", HAL " : "", vm->hal));
    snprintf(num, sizeof(num), "%llu", (unsigned long long)vm->memory_mib);
    W(xmlTextWriterStartElement(w, XC("memory")));
    W(xmlTextWriterWriteAttribute(w, XC("unit"), XC("MiB")));
    W(xmlTextWriterWriteString(w, XC(num)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, XC("currentMemory")));
    W(xmlTextWriterWriteAttribute(w, XC("unit"), XC("MiB")));
    W(xmlTextWriterWriteString(w, XC(num)));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterWriteFormatElement(w, XC("vcpu"), "%d", vm->vcpus));

    W(xmlTextWriterStartElement(w, XC("os")));
    W(xmlTextWriterStartElement(w, XC("type")));
    W(xmlTextWriterWriteAttribute(w, XC("arch"), XC("i686")));
    W(xmlTextWriterWriteAttribute(w, XC("machine"), XC("pc")));
    W(xmlTextWriterWriteString(w, XC("hvm")));
    W(xmlTextWriterEndElement(w));
    /* Boot order is on the disks (<boot order=>), not here: libvirt
     * refuses both at once. */
    W(xmlTextWriterEndElement(w));

    W(xmlTextWriterStartElement(w, XC("features")));
    if (vm->acpi)
        W(xmlTextWriterWriteElement(w, XC("acpi"), NULL));
    if (vm->apic)
        W(xmlTextWriterWriteElement(w, XC("apic"), NULL));
    W(xmlTextWriterWriteElement(w, XC("pae"), NULL));
    W(xmlTextWriterEndElement(w));
    W(elem_attr(w, "clock", "offset", vm->localtime ? "localtime" : "utc"));
    W(xmlTextWriterWriteElement(w, XC("on_poweroff"), XC("destroy")));
    W(xmlTextWriterWriteElement(w, XC("on_reboot"), XC("restart")));
    W(xmlTextWriterWriteElement(w, XC("on_crash"), XC("restart")));

    W(xmlTextWriterStartElement(w, XC("devices")));
    for (int i = 0; i < vm->n_disks; i++) {
        const struct mig_disk *d = &vm->disks[i];
        char dev[8];
        snprintf(dev, sizeof(dev), "hd%c", 'a' + i);    /* primary master, slave, secondary ... */
        W(xmlTextWriterStartElement(w, XC("disk")));
        W(xmlTextWriterWriteAttribute(w, XC("type"), XC("file")));
        W(xmlTextWriterWriteAttribute(w, XC("device"), XC("disk")));
        W(xmlTextWriterStartElement(w, XC("driver")));
        W(xmlTextWriterWriteAttribute(w, XC("name"), XC("qemu")));
        /* QEMU calls VHD "vpc". */
        W(xmlTextWriterWriteAttribute(w, XC("type"), XC(strcmp(d->format, "vhd") ? d->format : "vpc")));
        W(xmlTextWriterEndElement(w));
        W(elem_attr(w, "source", "file", d->path));
        W(xmlTextWriterStartElement(w, XC("target")));
        W(xmlTextWriterWriteAttribute(w, XC("dev"), XC(dev)));
        W(xmlTextWriterWriteAttribute(w, XC("bus"), XC("ide")));
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
        W(xmlTextWriterStartElement(w, XC("interface")));
        /* --network user: QEMU's user-mode network, which needs no host setup. */
        bool user = !vm->bridge && !strcmp(vm->network, "user");
        W(xmlTextWriterWriteAttribute(w, XC("type"), XC(vm->bridge ? "bridge" : user ? "user" : "network")));
        if (n->mac[0])
            W(elem_attr(w, "mac", "address", n->mac));
        if (!user)
            W(elem_attr(w, "source", vm->bridge ? "bridge" : "network", vm->network));
        W(elem_attr(w, "model", "type", mig_nic_qemu_name(n->model)));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterStartElement(w, XC("serial")));
    W(xmlTextWriterWriteAttribute(w, XC("type"), XC("pty")));
    W(elem_attr(w, "target", "port", "0"));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, XC("console")));
    W(xmlTextWriterWriteAttribute(w, XC("type"), XC("pty")));
    W(xmlTextWriterStartElement(w, XC("target")));
    W(xmlTextWriterWriteAttribute(w, XC("type"), XC("serial")));
    W(xmlTextWriterWriteAttribute(w, XC("port"), XC("0")));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));
    W(elem_attr(w, "input", "type", "mouse"));     /* bus ps2 is the default on i440FX */
    W(xmlTextWriterStartElement(w, XC("graphics")));
    W(xmlTextWriterWriteAttribute(w, XC("type"), XC("vnc")));
    W(xmlTextWriterWriteAttribute(w, XC("autoport"), XC("yes")));
    W(xmlTextWriterWriteAttribute(w, XC("listen"), XC("127.0.0.1")));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterStartElement(w, XC("video")));
    W(xmlTextWriterStartElement(w, XC("model")));
    W(xmlTextWriterWriteAttribute(w, XC("type"), XC("vga")));
    W(xmlTextWriterWriteAttribute(w, XC("vram"), XC("16384")));
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
