/* OVA: an OVF 1.x package for vSphere/ESXi (and virt-v2v -i ova). A tar
 * archive in the POSIX ustar layout holding, in this order, the OVF
 * descriptor NAME.ovf (references with the disks' true file sizes, the
 * disk section, the network, the virtual hardware: vmx-04, IDE, the NICs),
 * the manifest NAME.mf (SHA-256 of every other member), then the
 * streamOptimized VMDKs the convert step wrote. OVF 1.1 wants the
 * descriptor first and the manifest right after it, so the disks are read
 * twice: once for their digests, once into the archive. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <libxml/xmlwriter.h>
#include <openssl/evp.h>

#include "migrate/migrate.h"

#define XC(s) ((const xmlChar *)(s))

#define W(call)                  \
    do {                         \
        if ((call) < 0)          \
            goto fail;           \
    } while (0)

#define OVF_NS "http://schemas.dmtf.org/ovf/envelope/1"
#define RASD_NS "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
#define VSSD_NS "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
#define VMW_NS "http://www.vmware.com/schema/ovf"
#define VMDK_STREAM "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"

enum { IO_CHUNK = 1 << 20 };

/* CIM_OperatingSystem OSType and VMware's guest id. */
static void os_ids(const struct mig_vm *vm, int *cim, const char **vmw)
{
    *cim = 1, *vmw = "otherGuest";
    if (!strcmp(vm->os, "linux")) {
        *cim = 36, *vmw = "other26xLinuxGuest";
    } else if (!strcmp(vm->os, "windows")) {
        if (vm->win_major == 4)
            *cim = 18, *vmw = "winNTGuest";
        else if (vm->win_major == 5 && vm->win_minor == 0)
            *cim = 58, *vmw = "win2000ServGuest";
        else if (vm->win_major == 5 && vm->win_minor == 1)
            *cim = 67, *vmw = "winXPProGuest";
        else if (vm->win_major == 5 && vm->win_minor == 2)
            *cim = 69, *vmw = "winNetEnterpriseGuest";
    }
}

/* The rasd children of one Item, in the schema's (alphabetical) order;
 * NULL values are left out. */
struct rasd {
    const char *address, *address_on_parent, *allocation_units, *automatic_allocation, *connection, *description,
        *element_name, *host_resource, *instance_id, *parent, *resource_subtype, *resource_type, *virtual_quantity;
};

static int rasd_el(xmlTextWriterPtr w, const char *name, const char *value)
{
    if (!value)
        return 0;
    return xmlTextWriterWriteElementNS(w, XC("rasd"), XC(name), NULL, XC(value));
}

static int item(xmlTextWriterPtr w, const struct rasd *r)
{
    if (xmlTextWriterStartElement(w, XC("Item")) < 0 || rasd_el(w, "Address", r->address) < 0 ||
        rasd_el(w, "AddressOnParent", r->address_on_parent) < 0 ||
        rasd_el(w, "AllocationUnits", r->allocation_units) < 0 ||
        rasd_el(w, "AutomaticAllocation", r->automatic_allocation) < 0 ||
        rasd_el(w, "Connection", r->connection) < 0 || rasd_el(w, "Description", r->description) < 0 ||
        rasd_el(w, "ElementName", r->element_name) < 0 || rasd_el(w, "HostResource", r->host_resource) < 0 ||
        rasd_el(w, "InstanceID", r->instance_id) < 0 || rasd_el(w, "Parent", r->parent) < 0 ||
        rasd_el(w, "ResourceSubType", r->resource_subtype) < 0 ||
        rasd_el(w, "ResourceType", r->resource_type) < 0 ||
        rasd_el(w, "VirtualQuantity", r->virtual_quantity) < 0)
        return -1;
    return xmlTextWriterEndElement(w);
}

/* The descriptor, into buf; sizes[i] is disk i's file size. */
static int write_ovf(const struct mig_vm *vm, const uint64_t *sizes, xmlBufferPtr buf)
{
    xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
    if (!w)
        return -1;
    char a[64], b[64], c[64], d[64];
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, XC("  "));
    W(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
    W(xmlTextWriterStartElement(w, XC("Envelope")));
    W(xmlTextWriterWriteAttribute(w, XC("xmlns"), XC(OVF_NS)));
    W(xmlTextWriterWriteAttribute(w, XC("xmlns:ovf"), XC(OVF_NS)));
    W(xmlTextWriterWriteAttribute(w, XC("xmlns:rasd"), XC(RASD_NS)));
    W(xmlTextWriterWriteAttribute(w, XC("xmlns:vssd"), XC(VSSD_NS)));
    W(xmlTextWriterWriteAttribute(w, XC("xmlns:vmw"), XC(VMW_NS)));
    W(xmlTextWriterWriteAttribute(w, XC("xmlns:xsi"), XC("http://www.w3.org/2001/XMLSchema-instance")));

    W(xmlTextWriterStartElement(w, XC("References")));
    for (int i = 0; i < vm->n_disks; i++) {
        snprintf(a, sizeof(a), "file%d", i + 1);
        snprintf(b, sizeof(b), "%llu", (unsigned long long)sizes[i]);
        W(xmlTextWriterStartElement(w, XC("File")));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:href"), XC(vm->disks[i].file)));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:id"), XC(a)));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:size"), XC(b)));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterEndElement(w));

    W(xmlTextWriterStartElement(w, XC("DiskSection")));
    W(xmlTextWriterWriteElement(w, XC("Info"), XC("Virtual disk information")));
    for (int i = 0; i < vm->n_disks; i++) {
        snprintf(a, sizeof(a), "file%d", i + 1);
        snprintf(b, sizeof(b), "vmdisk%d", i + 1);
        snprintf(c, sizeof(c), "%llu", (unsigned long long)vm->disks[i].size);
        W(xmlTextWriterStartElement(w, XC("Disk")));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:capacity"), XC(c)));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:capacityAllocationUnits"), XC("byte")));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:diskId"), XC(b)));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:fileRef"), XC(a)));
        W(xmlTextWriterWriteAttribute(w, XC("ovf:format"), XC(VMDK_STREAM)));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterEndElement(w));

    W(xmlTextWriterStartElement(w, XC("NetworkSection")));
    W(xmlTextWriterWriteElement(w, XC("Info"), XC("The logical networks")));
    W(xmlTextWriterStartElement(w, XC("Network")));
    W(xmlTextWriterWriteAttribute(w, XC("ovf:name"), XC(vm->network)));
    W(xmlTextWriterWriteElement(w, XC("Description"), XC("The network the original NICs were on")));
    W(xmlTextWriterEndElement(w));
    W(xmlTextWriterEndElement(w));

    W(xmlTextWriterStartElement(w, XC("VirtualSystem")));
    W(xmlTextWriterWriteAttribute(w, XC("ovf:id"), XC(vm->name)));
    W(xmlTextWriterWriteFormatElement(w, XC("Info"), "p2v migrate: %s%s%s", vm->product[0] ? vm->product : vm->os,
                                      vm->hal[0] ? ", HAL " : "", vm->hal));
    W(xmlTextWriterWriteElement(w, XC("Name"), XC(vm->name)));
    int cim;
    const char *vmw;
    os_ids(vm, &cim, &vmw);
    W(xmlTextWriterStartElement(w, XC("OperatingSystemSection")));
    snprintf(a, sizeof(a), "%d", cim);
    W(xmlTextWriterWriteAttribute(w, XC("ovf:id"), XC(a)));
    W(xmlTextWriterWriteAttribute(w, XC("vmw:osType"), XC(vmw)));
    W(xmlTextWriterWriteElement(w, XC("Info"), XC("The installed guest operating system")));
    W(xmlTextWriterEndElement(w));

    W(xmlTextWriterStartElement(w, XC("VirtualHardwareSection")));
    W(xmlTextWriterWriteElement(w, XC("Info"), XC("Virtual hardware requirements")));
    W(xmlTextWriterStartElement(w, XC("System")));
    W(xmlTextWriterWriteElementNS(w, XC("vssd"), XC("ElementName"), NULL, XC("Virtual Hardware Family")));
    W(xmlTextWriterWriteElementNS(w, XC("vssd"), XC("InstanceID"), NULL, XC("0")));
    W(xmlTextWriterWriteElementNS(w, XC("vssd"), XC("VirtualSystemIdentifier"), NULL, XC(vm->name)));
    W(xmlTextWriterWriteElementNS(w, XC("vssd"), XC("VirtualSystemType"), NULL, XC("vmx-04")));
    W(xmlTextWriterEndElement(w));
    int id = 1;
    snprintf(a, sizeof(a), "%d", vm->vcpus);
    snprintf(b, sizeof(b), "%d virtual CPU(s)", vm->vcpus);
    snprintf(c, sizeof(c), "%d", id++);
    W(item(w, &(struct rasd){ .allocation_units = "hertz * 10^6", .description = "Number of virtual CPUs",
                              .element_name = b, .instance_id = c, .resource_type = "3", .virtual_quantity = a }));
    snprintf(a, sizeof(a), "%llu", (unsigned long long)vm->memory_mib);
    snprintf(b, sizeof(b), "%llu MB of memory", (unsigned long long)vm->memory_mib);
    snprintf(c, sizeof(c), "%d", id++);
    W(item(w, &(struct rasd){ .allocation_units = "byte * 2^20", .description = "Memory size", .element_name = b,
                              .instance_id = c, .resource_type = "4", .virtual_quantity = a }));
    /* Two IDE controllers, master and slave on each: what the VM boots from. */
    int ide[2] = { 0, 0 };
    for (int k = 0; k < 2 && k * 2 < vm->n_disks; k++) {
        ide[k] = id++;
        snprintf(a, sizeof(a), "%d", k);
        snprintf(b, sizeof(b), "ideController%d", k);
        snprintf(c, sizeof(c), "%d", ide[k]);
        W(item(w, &(struct rasd){ .address = a, .description = "IDE Controller", .element_name = b, .instance_id = c,
                                  .resource_type = "5" }));
    }
    for (int i = 0; i < vm->n_disks && i < 4; i++) {
        snprintf(a, sizeof(a), "%d", i % 2);
        snprintf(b, sizeof(b), "ovf:/disk/vmdisk%d", i + 1);
        snprintf(c, sizeof(c), "%d", id++);
        snprintf(d, sizeof(d), "%d", ide[i / 2]);
        char name[32];
        snprintf(name, sizeof(name), "disk%d", i);
        W(item(w, &(struct rasd){ .address_on_parent = a, .element_name = name, .host_resource = b,
                                  .instance_id = c, .parent = d, .resource_type = "17" }));
    }
    for (int i = 0; i < vm->n_nics; i++) {
        const struct mig_nic *n = &vm->nics[i];
        /* vlance is VMware's PCnet, what NT's in-box driver drives. */
        const char *sub = n->model == MIG_NIC_E1000 ? "E1000" : "PCNet32";
        char desc[200], name[32];
        snprintf(desc, sizeof(desc), "%s ethernet adapter on \"%s\"", sub, vm->network);
        snprintf(name, sizeof(name), "ethernet%d", i);
        snprintf(c, sizeof(c), "%d", id++);
        W(item(w, &(struct rasd){ .address = n->mac[0] ? n->mac : NULL, .automatic_allocation = "true",
                                  .connection = vm->network, .description = desc, .element_name = name,
                                  .instance_id = c, .resource_subtype = sub, .resource_type = "10" }));
    }
    W(xmlTextWriterEndElement(w));  /* VirtualHardwareSection */
    W(xmlTextWriterEndElement(w));  /* VirtualSystem */
    W(xmlTextWriterEndElement(w));  /* Envelope */
    W(xmlTextWriterEndDocument(w));
    xmlFreeTextWriter(w);
    return 0;
fail:
    xmlFreeTextWriter(w);
    return -1;
}

static void hex(const unsigned char *md, unsigned len, char *out)
{
    for (unsigned i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* SHA-256 of a file, as hex; *size receives the bytes read. */
static int sha256_file(const char *path, char out[65], uint64_t *size, unsigned char *chunk,
                       struct vd_error **errp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "cannot open %s", path);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        close(fd);
        return vd_error_set(errp, -ENOMEM, "%s: cannot start a SHA-256", path);
    }
    *size = 0;
    ssize_t n;
    while ((n = read(fd, chunk, IO_CHUNK)) > 0) {
        EVP_DigestUpdate(md, chunk, (size_t)n);
        *size += (uint64_t)n;
    }
    int e = n < 0 ? -errno : 0;
    close(fd);
    unsigned char dg[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(md, dg, &len);
    EVP_MD_CTX_free(md);
    if (e)
        return vd_error_set_errno(errp, e, "cannot read %s", path);
    hex(dg, len, out);
    return 0;
}

/* libarchive's error, with the system's reason when it has one
 * ("Write error: File too large"). */
static int ar_fail(struct archive *ar, struct vd_error **errp, const char *verb, const char *path, const char *member)
{
    char ctx[4700];
    if (member)
        snprintf(ctx, sizeof(ctx), "%s %s (member %s)", verb, path, member);
    else
        snprintf(ctx, sizeof(ctx), "%s %s", verb, path);
    int e = archive_errno(ar);
    const char *msg = archive_error_string(ar);
    if (!msg)
        msg = "write failed";
    if (e > 0 && !strstr(msg, strerror(e)))
        return vd_error_set_errno(errp, -e, "%s: %s", ctx, msg);
    return vd_error_set(errp, -EIO, "%s: %s", ctx, msg);
}

static int add_member(struct archive *ar, const char *name, uint64_t size, const char *tmp, struct vd_error **errp)
{
    struct archive_entry *e = archive_entry_new();
    if (!e)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", tmp);
    archive_entry_copy_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, time(NULL), 0);
    int r = archive_write_header(ar, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK)
        return ar_fail(ar, errp, "cannot write", tmp, name);
    return 0;
}

static int add_bytes(struct archive *ar, const char *name, const void *data, size_t len, const char *tmp,
                     struct vd_error **errp)
{
    int ret = add_member(ar, name, len, tmp, errp);
    if (ret < 0)
        return ret;
    if (archive_write_data(ar, data, len) != (la_ssize_t)len)
        return ar_fail(ar, errp, "cannot write", tmp, name);
    return 0;
}

/* Copies a disk into the archive; its size must still be the one the
 * descriptor and the manifest name. */
static int add_file(struct archive *ar, const char *path, const char *name, uint64_t size, unsigned char *chunk,
                    const char *tmp, struct vd_error **errp)
{
    int ret = add_member(ar, name, size, tmp, errp);
    if (ret < 0)
        return ret;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vd_error_set_errno(errp, -errno, "cannot open %s", path);
    uint64_t done = 0;
    ssize_t n;
    while (done < size && (n = read(fd, chunk, IO_CHUNK)) > 0) {
        if ((uint64_t)n > size - done)
            n = (ssize_t)(size - done);
        if (archive_write_data(ar, chunk, (size_t)n) != n) {
            close(fd);
            return ar_fail(ar, errp, "cannot write", tmp, name);
        }
        done += (uint64_t)n;
    }
    close(fd);
    if (done != size)
        return vd_error_set(errp, -EIO, "%s changed while it was packed (%llu of %llu bytes)", path,
                            (unsigned long long)done, (unsigned long long)size);
    return 0;
}

int mig_write_ova(const struct mig_vm *vm, const char *outdir, char *def, size_t def_len, struct vd_error **errp)
{
    snprintf(def, def_len, "%s.ova", vm->name);
    char ovf_name[200], mf_name[200], tmp[4400], path[4400];
    snprintf(ovf_name, sizeof(ovf_name), "%s.ovf", vm->name);
    snprintf(mf_name, sizeof(mf_name), "%s.mf", vm->name);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", outdir, def);
    snprintf(path, sizeof(path), "%s/%s", outdir, def);

    unsigned char *chunk = malloc(IO_CHUNK);
    xmlBufferPtr buf = xmlBufferCreate();
    struct archive *ar = NULL;
    locale_t utf8 = (locale_t)0, old = (locale_t)0;
    char *mf = NULL;
    int ret = 0;
    if (!chunk || !buf) {
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
        goto out;
    }
    uint64_t sizes[MIG_MAX_DISKS];
    char sums[MIG_MAX_DISKS][65];
    for (int i = 0; i < vm->n_disks; i++)
        if ((ret = sha256_file(vm->disks[i].path, sums[i], &sizes[i], chunk, errp)) < 0)
            goto out;
    if (write_ovf(vm, sizes, buf) < 0) {
        ret = vd_error_set(errp, -EIO, "cannot write the OVF descriptor %s", ovf_name);
        goto out;
    }
    const unsigned char *ovf = xmlBufferContent(buf);
    size_t ovf_len = (size_t)xmlBufferLength(buf);
    unsigned char dg[EVP_MAX_MD_SIZE];
    unsigned dg_len = 0;
    char ovf_sum[65];
    if (EVP_Digest(ovf, ovf_len, dg, &dg_len, EVP_sha256(), NULL) != 1) {
        ret = vd_error_set(errp, -EIO, "%s: cannot compute a SHA-256", ovf_name);
        goto out;
    }
    hex(dg, dg_len, ovf_sum);
    /* The manifest, in OpenSSL's dgst format as ovftool writes it. */
    size_t mf_cap = (size_t)(vm->n_disks + 1) * 400, mf_len = 0;
    mf = malloc(mf_cap);
    if (!mf) {
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
        goto out;
    }
    mf_len += (size_t)snprintf(mf + mf_len, mf_cap - mf_len, "SHA256(%s)= %s\n", ovf_name, ovf_sum);
    for (int i = 0; i < vm->n_disks; i++)
        mf_len += (size_t)snprintf(mf + mf_len, mf_cap - mf_len, "SHA256(%s)= %s\n", vm->disks[i].file, sums[i]);

    /* pax_restricted is plain ustar for every member ustar can describe
     * (names under 100 bytes, sizes under 8 GiB); only a bigger one gets an
     * extended header, which tar readers since POSIX.1-2001 take. */
    /* The names are UTF-8 (the VM's name); libarchive converts them from
     * the locale's charset, which in the C locale fails for a non-ASCII
     * name: this thread writes the archive in C.UTF-8. */
    utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (utf8)
        old = uselocale(utf8);
    ar = archive_write_new();
    if (!ar || archive_write_set_format_pax_restricted(ar) != ARCHIVE_OK ||
        archive_write_open_filename(ar, tmp) != ARCHIVE_OK) {
        ret = ar ? ar_fail(ar, errp, "cannot create", tmp, NULL) : vd_error_set(errp, -ENOMEM, "%s: out of memory", tmp);
        goto out;
    }
    if ((ret = add_bytes(ar, ovf_name, ovf, ovf_len, tmp, errp)) < 0 ||
        (ret = add_bytes(ar, mf_name, mf, mf_len, tmp, errp)) < 0)
        goto out;
    for (int i = 0; i < vm->n_disks; i++)
        if ((ret = add_file(ar, vm->disks[i].path, vm->disks[i].file, sizes[i], chunk, tmp, errp)) < 0)
            goto out;
    if (archive_write_close(ar) != ARCHIVE_OK) {
        ret = ar_fail(ar, errp, "cannot write", tmp, NULL);
        goto out;
    }
    if (rename(tmp, path) != 0)
        ret = vd_error_set_errno(errp, -errno, "cannot rename %s to %s", tmp, path);
out:
    if (ar)
        archive_write_free(ar);
    if (utf8) {
        uselocale(old);
        freelocale(utf8);
    }
    if (ret < 0)
        unlink(tmp);
    free(mf);
    xmlBufferFree(buf);
    free(chunk);
    return ret;
}
