/* Inspection: which partition holds Windows, which version and service
 * pack, which control sets, HAL, boot controller, boot.ini, disk
 * signature and MountedDevices. Read-only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/endian.h"
#include "drivers-inject/driverpack.h"
#include "drivers-inject/bootini.h"
#include "drivers-inject/hive.h"
#include "drivers-inject/inspect.h"
#include "drivers-inject/linux-guest.h"
#include "drivers-inject/volume.h"

#define MAX_BOOT_INI 65536
#define MAX_CAB (256u << 20)

static const char *const systemroots[] = { "WINDOWS", "WINNT", "WIN32", "WIN", NULL };

/* HAL hardware IDs (Enum\Root\ACPI_HAL or PCI_HAL) and original files. */
static const struct {
    const char *id, *file, *name;
    bool acpi, apic, mp;
} hals[] = {
    { "acpiapic_mp", "halmacpi.dll", "ACPI Multiprocessor PC", true, true, true },
    { "acpiapic_up", "halaacpi.dll", "ACPI Uniprocessor PC", true, true, false },
    { "acpipic_up", "halacpi.dll", "Advanced Configuration and Power Interface (ACPI) PC", true, false, false },
    { "mps_mp", "halmps.dll", "MPS Multiprocessor PC", false, true, true },
    { "mps_up", "halapic.dll", "MPS Uniprocessor PC", false, true, false },
    { "e_isa_up", "hal.dll", "Standard PC", false, false, false },
};

static void set_hal(struct hal_info *h, size_t i)
{
    snprintf(h->id, sizeof(h->id), "%s", hals[i].id);
    snprintf(h->file, sizeof(h->file), "%s", hals[i].file);
    snprintf(h->name, sizeof(h->name), "%s", hals[i].name);
    h->acpi = hals[i].acpi;
    h->apic = hals[i].apic;
    h->mp = hals[i].mp;
    h->known = true;
}

/* The OriginalFilename in hal.dll's VERSIONINFO (UTF-16LE), for NT 4.0 and
 * images whose Enum key does not name the HAL. */
static void hal_from_file(const uint8_t *data, size_t len, struct hal_info *h)
{
    static const char key[] = "OriginalFilename";
    size_t klen = sizeof(key) - 1;
    for (size_t i = 0; i + 2 * klen <= len; i++) {
        size_t k = 0;
        while (k < klen && data[i + 2 * k] == (uint8_t)key[k] && data[i + 2 * k + 1] == 0)
            k++;
        if (k < klen)
            continue;
        size_t p = i + 2 * klen;
        while (p + 1 < len && data[p] == 0 && data[p + 1] == 0)
            p += 2;     /* NUL terminator and padding */
        char name[32];
        size_t n = 0;
        while (p + 1 < len && n + 1 < sizeof(name) && data[p] && !data[p + 1]) {
            name[n++] = (char)data[p];
            p += 2;
        }
        name[n] = '\0';
        for (size_t j = 0; j < sizeof(hals) / sizeof(hals[0]); j++)
            if (strcasecmp(name, hals[j].file) == 0) {
                set_hal(h, j);
                return;
            }
        return;
    }
}

static void detect_hal(struct inject *ctx)
{
    struct guest *g = &ctx->g;
    char cs[32], path[160];
    control_set_name(g->current_set, cs, sizeof(cs));
    const char *roots[] = { "ACPI_HAL", "PCI_HAL", NULL };
    for (int r = 0; roots[r] && !g->hal.known; r++) {
        snprintf(path, sizeof(path), "%s\\Enum\\Root\\%s\\0000", cs, roots[r]);
        char **ids = hive_get_multi(ctx->system, path, "HardwareID");
        for (size_t i = 0; ids && ids[i] && !g->hal.known; i++)
            for (size_t j = 0; j < sizeof(hals) / sizeof(hals[0]); j++)
                if (strcasecmp(ids[i], hals[j].id) == 0) {
                    set_hal(&g->hal, j);
                    break;
                }
        hive_free_strings(ids);
    }
    if (g->hal.known)
        return;
    char file[160];
    sysroot_path(ctx, "system32\\hal.dll", file, sizeof(file));
    uint8_t *data;
    size_t len;
    struct vd_error *err = NULL;
    if (vol_read(ctx->vol, file, 8u << 20, &data, &len, &err) == 0) {
        hal_from_file(data, len, &g->hal);
        free(data);
    }
    vd_error_clear(&err);
}

/* ARC numbering: non-empty, non-extended primaries first, then logicals. */
static int arc_partition_number(const struct vd_partition_table *pt, int index)
{
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < pt->count; i++) {
            const struct vd_partition *p = &pt->parts[i];
            if (p->extended || (pass == 0) != (p->number <= 4))
                continue;
            n++;
            if (i == index)
                return n;
        }
    return index + 1;
}

static void read_mounted_devices(struct inject *ctx)
{
    struct guest *g = &ctx->g;
    hive_h *h = ctx->system->h;
    hive_node_h node = hive_node(ctx->system, "MountedDevices");
    if (!node)
        return;
    hive_value_h *vals = hivex_node_values(h, node);
    for (size_t i = 0; vals && vals[i] && g->n_mounted < MAX_MOUNTED; i++) {
        char *key = hivex_value_key(h, vals[i]);
        hive_type t;
        size_t len;
        char *data = hivex_value_value(h, vals[i], &t, &len);
        if (key && data) {
            struct mounted_device *m = &g->mounted[g->n_mounted++];
            snprintf(m->name, sizeof(m->name), "%s", key);
            m->len = len < sizeof(m->data) ? len : sizeof(m->data);
            memcpy(m->data, data, m->len);
        }
        free(key);
        free(data);
    }
    free(vals);
}

/* NT 4.0's drive letters: a malformed value is noted, not fatal (the
 * fixup then leaves it alone). */
static int read_disk_registry(struct inject *ctx)
{
    size_t len;
    hive_type t;
    uint8_t *data = hive_get_binary(ctx->system, "DISK", "Information", &len, &t);
    if (!data)
        return 0;
    struct vd_error *err = NULL;
    int ret = 0;
    if (disk_registry_parse(data, len, &ctx->g.disk_reg, &err) < 0)
        ret = inject_note(ctx, "%s; left as is", err->msg) < 0 ? -ENOMEM : 0;
    vd_error_free(err);
    free(data);
    return ret;
}

/* IDE and disk-class services are not the captured machine's controller. */
static bool generic_storage_service(const char *s)
{
    static const char *const generic[] = { "atapi", "intelide", "pciide", "pciidex", "disk",
                                           "viaide", "aliide", "cmdide", "toside", NULL };
    for (int i = 0; generic[i]; i++)
        if (strcasecmp(s, generic[i]) == 0)
            return true;
    return false;
}

static void detect_boot_controller(struct inject *ctx)
{
    struct guest *g = &ctx->g;
    char cs[32], path[256];
    control_set_name(g->current_set, cs, sizeof(cs));
    snprintf(path, sizeof(path), "%s\\Services", cs);
    char **svcs = hive_children(ctx->system, path);
    for (size_t i = 0; svcs && svcs[i]; i++) {
        uint32_t start;
        snprintf(path, sizeof(path), "%s\\Services\\%s", cs, svcs[i]);
        char *group = hive_get_string(ctx->system, path, "Group");
        if (hive_get_dword(ctx->system, path, "Start", &start) && start == 0 && group &&
            strcasecmp(group, "SCSI miniport") == 0 && !generic_storage_service(svcs[i]) &&
            g->n_boot_services < MAX_NAMES)
            snprintf(g->boot_services[g->n_boot_services++], sizeof(g->boot_services[0]), "%s", svcs[i]);
        free(group);
    }
    hive_free_strings(svcs);
    snprintf(path, sizeof(path), "%s\\Control\\CriticalDeviceDatabase", cs);
    char **ids = hive_children(ctx->system, path);
    for (size_t i = 0; ids && ids[i]; i++) {
        char key[600];
        snprintf(key, sizeof(key), "%s\\%s", path, ids[i]);
        char *svc = hive_get_string(ctx->system, key, "Service");
        for (int j = 0; svc && j < g->n_boot_services; j++)
            if (strcasecmp(svc, g->boot_services[j]) == 0 && g->n_boot_devices < MAX_NAMES)
                snprintf(g->boot_devices[g->n_boot_devices++], sizeof(g->boot_devices[0]),
                         "%.60s -> %.30s", ids[i], svc);
        free(svc);
    }
    hive_free_strings(ids);
}

/* Adds the image's own cabinets: newest service pack first, then driver.cab. */
static int add_image_cabs(struct inject *ctx, struct vd_error **errp)
{
    char path[256], name[32];
    for (int sp = 6; sp >= 0; sp--) {
        if (sp)
            snprintf(name, sizeof(name), "Driver Cache\\i386\\sp%d.cab", sp);
        else
            snprintf(name, sizeof(name), "Driver Cache\\i386\\driver.cab");
        sysroot_path(ctx, name, path, sizeof(path));
        uint8_t *data;
        size_t len;
        struct vd_error *err = NULL;
        int ret = vol_read(ctx->vol, path, MAX_CAB, &data, &len, &err);
        vd_error_clear(&err);
        if (ret < 0)
            continue;
        char label[300];
        snprintf(label, sizeof(label), "the image's %.256s", path);
        ret = packs_add_memory(ctx->packs, label, data, len, true, &err);
        if (ret < 0) {
            /* A damaged cabinet in the image is noted, not fatal. */
            inject_note(ctx, "%s", err->msg);
            vd_error_clear(&err);
        }
    }
    return 0;
}

static int find_systemroot(struct inject *ctx)
{
    for (int i = 0; systemroots[i]; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s\\system32\\config\\SYSTEM", systemroots[i]);
        if (vol_exists(ctx->vol, p)) {
            snprintf(ctx->g.systemroot, sizeof(ctx->g.systemroot), "%s", systemroots[i]);
            return 0;
        }
    }
    return -ENOENT;
}

static int open_volume(struct inject *ctx, const struct vd_partition *part, struct vd_error **errp)
{
    return vol_open(ctx->img, part->start, part->length, false, &ctx->vol, errp);
}

static bool has_magic(struct vd_image *img, const struct vd_partition *part, uint64_t off,
                      const char *magic, size_t len)
{
    uint8_t buf[8];
    if (len > sizeof(buf) || part->length < off + len ||
        vd_image_pread(img, buf, len, part->start + off, NULL) < 0)
        return false;
    return memcmp(buf, magic, len) == 0;
}

/* A partition libguestfs's inspection should look at: a Linux filesystem
 * by its magic (ext2/3/4, XFS, btrfs), or a Linux, LVM or Linux RAID
 * partition by its type (an LVM physical volume holds the root of many
 * old distributions, and /boot may be XFS). */
static bool is_linux_part(struct vd_image *img, const struct vd_partition *part)
{
    static const uint8_t gpt_linux_types[][16] = {
        /* 0FC63DAF-8483-4772-8E79-3D69D8477DE4: Linux filesystem */
        { 0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4 },
        /* E6D6D379-F507-44C2-A23C-238F2A3DF928: Linux LVM */
        { 0x79, 0xD3, 0xD6, 0xE6, 0x07, 0xF5, 0xC2, 0x44, 0xA2, 0x3C, 0x23, 0x8F, 0x2A, 0x3D, 0xF9, 0x28 },
        /* A19D880F-05FC-4D3B-A006-743F0F84911E: Linux RAID */
        { 0x0F, 0x88, 0x9D, 0xA1, 0xFC, 0x05, 0x3B, 0x4D, 0xA0, 0x06, 0x74, 0x3F, 0x0F, 0x84, 0x91, 0x1E },
    };
    if (part->mbr_type == 0x83 || part->mbr_type == 0x8E || part->mbr_type == 0xFD)
        return true;
    for (size_t i = 0; i < sizeof(gpt_linux_types) / sizeof(gpt_linux_types[0]); i++)
        if (memcmp(part->gpt_type, gpt_linux_types[i], 16) == 0)
            return true;
    return has_magic(img, part, 1024 + 56, "\x53\xEF", 2) ||      /* ext2/3/4 */
           has_magic(img, part, 0, "XFSB", 4) ||
           has_magic(img, part, 65536 + 64, "_BHRfS_M", 8);        /* btrfs */
}

int inspect_guest(struct inject *ctx, struct vd_error **errp)
{
    struct guest *g = &ctx->g;
    const char *path = vd_image_path(ctx->img);
    int ret = vd_partition_table_read(ctx->img, &ctx->pt, errp);
    if (ret < 0)
        return ret;
    if (ctx->pt.scheme == VD_PART_NONE) {
        /* A bare volume: treat the whole disk as one partition. */
        ctx->pt.count = 1;
        memset(&ctx->pt.parts[0], 0, sizeof(ctx->pt.parts[0]));
        ctx->pt.parts[0].number = 1;
        ctx->pt.parts[0].length = vd_image_size(ctx->img);
    }
    g->disk_signature = ctx->pt.mbr_signature;
    bool saw_linux = false;
    for (int i = 0; i < ctx->pt.count; i++) {
        const struct vd_partition *part = &ctx->pt.parts[i];
        if (part->extended || part->length == 0)
            continue;
        struct vd_error *err = NULL;
        ret = open_volume(ctx, part, &err);
        if (ret == -ENOTSUP) {
            saw_linux |= is_linux_part(ctx->img, part);
            continue;
        }
        if (ret < 0) {
            vd_error_prefix(&err, "partition %d", part->number);
            inject_note(ctx, "%s", err->msg);
            vd_error_clear(&err);
            continue;
        }
        if (find_systemroot(ctx) == 0) {
            g->system_part = i;
            g->arc_partition = arc_partition_number(&ctx->pt, i);
            break;
        }
        vol_close(ctx->vol, NULL);
        ctx->vol = NULL;
    }
    if (!ctx->vol) {
        if (saw_linux)
            return linux_inspect(ctx, errp);
        /* A volume that would not mount is the likelier cause: say so. */
        if (ctx->n_notes)
            return vd_error_set(errp, -EIO, "%s: no Windows volume could be read: %s", path, ctx->notes[0]);
        return vd_error_set(errp, -ENOENT, "%s: no NTFS or FAT volume with a Windows directory "
                            "(WINDOWS or WINNT with system32\\config\\SYSTEM) found", path);
    }
    g->kind = OS_WINDOWS;

    char hp[160];
    sysroot_path(ctx, "system32\\config\\SYSTEM", hp, sizeof(hp));
    ret = hive_load(ctx->vol, hp, "HKLM\\SYSTEM", &ctx->system, errp);
    if (ret < 0)
        return ret;
    sysroot_path(ctx, "system32\\config\\SOFTWARE", hp, sizeof(hp));
    ret = hive_load(ctx->vol, hp, "HKLM\\SOFTWARE", &ctx->software, errp);
    if (ret < 0)
        return ret;

    const char *cv = "Microsoft\\Windows NT\\CurrentVersion";
    char *s = hive_get_string(ctx->software, cv, "ProductName");
    snprintf(g->product, sizeof(g->product), "%s", s ? s : "");
    free(s);
    s = hive_get_string(ctx->software, cv, "CurrentVersion");
    if (!s || sscanf(s, "%d.%d", &g->major, &g->minor) != 2) {
        free(s);
        return vd_error_set(errp, -EINVAL, "%s: SOFTWARE\\%s has no CurrentVersion", path, cv);
    }
    free(s);
    if (g->major < 4 || g->major > 5) {
        return vd_error_set(errp, -ENOTSUP, "%s: Windows %d.%d is not an NT 4.0/2000/XP/2003 guest",
                            path, g->major, g->minor);
    }
    s = hive_get_string(ctx->software, cv, "CurrentBuildNumber");
    snprintf(g->build, sizeof(g->build), "%s", s ? s : "");
    free(s);
    s = hive_get_string(ctx->software, cv, "CSDVersion");
    snprintf(g->service_pack, sizeof(g->service_pack), "%s", s ? s : "");
    if (s)
        sscanf(s, "Service Pack %d", &g->sp);
    free(s);

    uint32_t cur = 0, lkg = 0;
    if (!hive_get_dword(ctx->system, "Select", "Current", &cur) || cur == 0 || cur > 999)
        return vd_error_set(errp, -EINVAL, "%s: SYSTEM\\Select\\Current is missing or invalid", path);
    g->current_set = (int)cur;
    if (hive_get_dword(ctx->system, "Select", "LastKnownGood", &lkg) && lkg > 0 && lkg < 1000)
        g->lkg_set = (int)lkg;
    char cs[32];
    control_set_name(g->current_set, cs, sizeof(cs));
    if (!hive_node(ctx->system, cs))
        return vd_error_set(errp, -EINVAL, "%s: SYSTEM\\%s (Select\\Current) does not exist", path, cs);
    if (g->lkg_set) {
        control_set_name(g->lkg_set, cs, sizeof(cs));
        if (!hive_node(ctx->system, cs))
            g->lkg_set = 0;
    }

    uint8_t *ini;
    size_t len;
    struct vd_error *err = NULL;
    if (vol_read(ctx->vol, "boot.ini", MAX_BOOT_INI, &ini, &len, &err) == 0) {
        g->boot_ini = malloc(len + 1);
        if (!g->boot_ini) {
            free(ini);
            return vd_error_set(errp, -ENOMEM, "out of memory");
        }
        memcpy(g->boot_ini, ini, len);
        g->boot_ini[len] = '\0';
        free(ini);
        boot_ini_parse(g);
    }
    vd_error_clear(&err);

    detect_hal(ctx);
    detect_boot_controller(ctx);
    read_mounted_devices(ctx);
    if (read_disk_registry(ctx) < 0)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    ret = add_image_cabs(ctx, errp);
    if (ret == 0)
        inspect_net_drivers(ctx);
    return ret;
}
