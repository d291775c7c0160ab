/* The hardware inventory and the XML manifest (docs/manifest.md,
 * docs/manifest.xsd): what the conversion host needs to size the VM and
 * to check the capture. Read from /proc and /sys; what cannot be read is
 * left out, never invented. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

/* libxml2 strings without casting away const (BAD_CAST does). */
#define XC(s) ((const xmlChar *)(s))

#include "p2v/agent/agent.h"
#include "p2v/proto/auth.h"

static void read_line(const char *path, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (fgets(out, (int)len, f))
        out[strcspn(out, "\n")] = 0;
    fclose(f);
}

/* XML 1.0 cannot carry control characters: replace them. */
static void clean(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F || *p >= 0x80)
            *p = '?';
}

static void attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    if (value && value[0])
        xmlTextWriterWriteAttribute(w, XC(name), XC(value));
}

static void attr_u64(xmlTextWriterPtr w, const char *name, uint64_t v)
{
    xmlTextWriterWriteFormatAttribute(w, XC(name), "%llu", (unsigned long long)v);
}

static void write_cpu(xmlTextWriterPtr w)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return;
    char line[8192], model[256] = "", vendor[64] = "", flags[8192] = "";
    int count = 0;
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *val = colon + 1;
        while (*val == ' ')
            val++;
        val[strcspn(val, "\n")] = 0;
        if (!strncmp(line, "processor", 9))
            count++;
        else if (!strncmp(line, "model name", 10) && !model[0])
            snprintf(model, sizeof(model), "%s", val);
        else if (!strncmp(line, "vendor_id", 9) && !vendor[0])
            snprintf(vendor, sizeof(vendor), "%s", val);
        else if (!strncmp(line, "flags", 5) && !flags[0])
            snprintf(flags, sizeof(flags), "%s", val);
    }
    fclose(f);
    clean(model);
    clean(vendor);
    clean(flags);
    xmlTextWriterStartElement(w, XC("cpu"));
    xmlTextWriterWriteFormatAttribute(w, XC("count"), "%d", count > 0 ? count : 1);
    attr(w, "vendor", vendor);
    attr(w, "model", model);
    xmlTextWriterWriteElement(w, XC("flags"), XC(flags));
    xmlTextWriterEndElement(w);
}

static void write_memory(xmlTextWriterPtr w)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            break;
    fclose(f);
    if (kb) {
        xmlTextWriterStartElement(w, XC("memory"));
        attr_u64(w, "bytes", kb * 1024);
        xmlTextWriterEndElement(w);
    }
}

static void write_system(xmlTextWriterPtr w)
{
    static const char *const fields[][2] = {
        { "vendor", "sys_vendor" }, { "model", "product_name" },
        { "serial", "product_serial" }, { "uuid", "product_uuid" },
        { "bios-vendor", "bios_vendor" }, { "bios-version", "bios_version" },
    };
    xmlTextWriterStartElement(w, XC("system"));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char path[128], val[256];
        snprintf(path, sizeof(path), "/sys/class/dmi/id/%s", fields[i][1]);
        read_line(path, val, sizeof(val));
        clean(val);
        attr(w, fields[i][0], val);
    }
    xmlTextWriterEndElement(w);
}

static void write_nics(xmlTextWriterPtr w)
{
    DIR *dir = opendir("/sys/class/net");
    if (!dir)
        return;
    struct dirent *de;
    while ((de = readdir(dir))) {
        char path[PATH_MAX], link[PATH_MAX], mac[64];
        if (de->d_name[0] == '.')
            continue;
        /* Only interfaces with a device behind them: no lo, bridges, tunnels. */
        snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver", de->d_name);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = 0;
        const char *drv = strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
        snprintf(path, sizeof(path), "/sys/class/net/%s/address", de->d_name);
        read_line(path, mac, sizeof(mac));
        char name[256];
        snprintf(name, sizeof(name), "%s", de->d_name);
        clean(name);
        clean(mac);
        xmlTextWriterStartElement(w, XC("nic"));
        attr(w, "name", name);
        attr(w, "mac", mac);
        attr(w, "driver", drv);
        xmlTextWriterEndElement(w);
    }
    closedir(dir);
}

static void write_disk(xmlTextWriterPtr w, struct agent_disk *d, int index, bool final,
                       bool no_digest)
{
    char buf[PATH_MAX];
    xmlTextWriterStartElement(w, XC("disk"));
    xmlTextWriterWriteFormatAttribute(w, XC("index"), "%d", index);
    snprintf(buf, sizeof(buf), "%s", d->path);
    clean(buf);
    attr(w, "source", buf);
    attr(w, "kind", d->dev[0] ? "device" : "file");
    attr_u64(w, "size", d->size);
    xmlTextWriterWriteFormatAttribute(w, XC("sector-size"), "%u", d->sector_size);
    clean(d->model);
    clean(d->serial);
    attr(w, "model", d->model);
    attr(w, "serial", d->serial);

    xmlTextWriterStartElement(w, XC("partition-table"));
    attr(w, "scheme", d->pt_status < 0 ? "unreadable" : vd_part_scheme_name(d->pt.scheme));
    if (d->pt_status == 0 && d->pt.scheme != VD_PART_NONE)
        xmlTextWriterWriteFormatAttribute(w, XC("mbr-signature"), "0x%08x", d->pt.mbr_signature);
    if (d->pt.count == 0) {     /* no table: the whole disk as one volume */
        attr(w, "filesystem", d->whole.fs[0] ? d->whole.fs : "unknown");
        attr_u64(w, "used-bytes", d->whole.used_bytes);
        clean(d->whole.note);
        attr(w, "note", d->whole.note);
    }
    for (int i = 0; i < d->pt.count; i++)
        if (d->pt.parts[i].bootable) {   /* the active partition the BIOS boots */
            xmlTextWriterWriteFormatAttribute(w, XC("boot-partition"), "%d", d->pt.parts[i].number);
            break;
        }
    for (int i = 0; i < d->pt.count; i++) {
        const struct vd_partition *p = &d->pt.parts[i];
        xmlTextWriterStartElement(w, XC("partition"));
        xmlTextWriterWriteFormatAttribute(w, XC("number"), "%d", p->number);
        attr_u64(w, "start", p->start);
        attr_u64(w, "length", p->length);
        if (d->pt.scheme == VD_PART_MBR)
            xmlTextWriterWriteFormatAttribute(w, XC("type"), "0x%02x", p->mbr_type);
        else {
            char g[33];
            p2v_hex(p->gpt_type, 16, g);
            attr(w, "type", g);
        }
        attr(w, "bootable", p->bootable ? "true" : "false");
        if (p->extended) {
            attr(w, "extended", "true");
        } else {
            attr(w, "filesystem", d->vol[i].fs[0] ? d->vol[i].fs : "unknown");
            attr_u64(w, "used-bytes", d->vol[i].used_bytes);
            clean(d->vol[i].note);
            attr(w, "note", d->vol[i].note);
        }
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterEndElement(w);

    xmlTextWriterStartElement(w, XC("capture"));
    attr_u64(w, "read-bytes", d->plan.used_bytes);
    xmlTextWriterWriteFormatAttribute(w, XC("chunk-size"), "%u", P2V_CHUNK_SIZE);
    if (final) {
        char hex[65];
        p2v_hex(d->sha256, 32, hex);
        if (!no_digest)
            attr(w, "sha256", hex);
        attr(w, "digest", no_digest ? "none" : "sha256");
        attr(w, "verified", d->verified ? "true" : "false");
    }
    xmlTextWriterEndElement(w);

    if (d->nbad) {
        uint64_t total = 0;
        for (size_t i = 0; i < d->nbad; i++)
            total += d->bad[i].count;
        xmlTextWriterStartElement(w, XC("bad-sectors"));
        attr_u64(w, "count", total);
        for (size_t i = 0; i < d->nbad; i++) {
            xmlTextWriterStartElement(w, XC("range"));
            attr_u64(w, "first", d->bad[i].first);
            attr_u64(w, "count", d->bad[i].count);
            xmlTextWriterEndElement(w);
        }
        xmlTextWriterEndElement(w);
    }
    xmlTextWriterEndElement(w);
}

int agent_manifest_build(struct agent_disk *disks, int ndisks, const char *name,
                         bool final, bool no_digest, uint8_t **xml, int *len,
                         struct vd_error **errp)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (!w) {
        xmlBufferFree(buf);
        return vd_error_set(errp, -ENOMEM, "out of memory building the manifest");
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
    xmlTextWriterStartElement(w, XC("p2v-manifest"));
    attr(w, "version", "1");
    attr(w, "name", name);
    attr(w, "created", stamp);
    attr(w, "state", final ? "final" : "initial");
    xmlTextWriterStartElement(w, XC("firmware"));
    attr(w, "type", access("/sys/firmware/efi", F_OK) == 0 ? "uefi" : "bios");
    xmlTextWriterEndElement(w);
    write_cpu(w);
    write_memory(w);
    write_system(w);
    write_nics(w);
    for (int i = 0; i < ndisks; i++)
        write_disk(w, &disks[i], i, final, no_digest);
    xmlTextWriterEndElement(w);
    int ret = xmlTextWriterEndDocument(w);
    xmlFreeTextWriter(w);
    if (ret < 0 || (size_t)xmlBufferLength(buf) > P2V_MAX_MANIFEST) {
        xmlBufferFree(buf);
        return vd_error_set(errp, -E2BIG, "the manifest is larger than %u bytes", P2V_MAX_MANIFEST);
    }
    *len = xmlBufferLength(buf);
    *xml = malloc((size_t)*len + 1);
    if (!*xml) {
        xmlBufferFree(buf);
        return vd_error_set(errp, -ENOMEM, "out of memory building the manifest");
    }
    memcpy(*xml, xmlBufferContent(buf), (size_t)*len + 1);
    xmlBufferFree(buf);
    return 0;
}
