/* MergeIDE (MS KB 314082) for Windows 2000/XP/2003: CriticalDeviceDatabase
 * entries that bind every common PCI IDE controller (the target's PIIX3
 * 8086:7010 or PIIX4 8086:7111 among them) and the IDE channels to the
 * inbox drivers, those drivers as boot-start services, and their files.
 * Written to the current and the last-known-good control sets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/hive.h"

#define CLASS_HDC "{4D36E96A-E325-11CE-BFC1-08002BE10318}"
#define CLASS_DISK "{4D36E967-E325-11CE-BFC1-08002BE10318}"

static const struct cddb_entry {
    const char *id, *service, *class_guid;
} cddb[] = {
    { "primary_ide_channel", "atapi", CLASS_HDC },
    { "secondary_ide_channel", "atapi", CLASS_HDC },
    { "*pnp0600", "atapi", CLASS_HDC },
    { "*azt0502", "atapi", CLASS_HDC },
    { "gendisk", "disk", CLASS_DISK },
    { "pci#cc_0101", "pciide", CLASS_HDC },
    { "pci#ven_0e11&dev_ae33", "pciide", CLASS_HDC },
    { "pci#ven_1039&dev_0601", "pciide", CLASS_HDC },
    { "pci#ven_1039&dev_5513", "pciide", CLASS_HDC },
    { "pci#ven_1042&dev_1000", "pciide", CLASS_HDC },
    { "pci#ven_105a&dev_4d33", "pciide", CLASS_HDC },
    { "pci#ven_1095&dev_0640", "pciide", CLASS_HDC },
    { "pci#ven_1095&dev_0646", "pciide", CLASS_HDC },
    { "pci#ven_1095&dev_0646&rev_05", "pciide", CLASS_HDC },
    { "pci#ven_1095&dev_0646&rev_07", "pciide", CLASS_HDC },
    { "pci#ven_1095&dev_0648", "pciide", CLASS_HDC },
    { "pci#ven_1095&dev_0649", "pciide", CLASS_HDC },
    { "pci#ven_1097&dev_0038", "pciide", CLASS_HDC },
    { "pci#ven_10ad&dev_0001", "pciide", CLASS_HDC },
    { "pci#ven_10ad&dev_0150", "pciide", CLASS_HDC },
    { "pci#ven_10b9&dev_5215", "pciide", CLASS_HDC },
    { "pci#ven_10b9&dev_5219", "pciide", CLASS_HDC },
    { "pci#ven_10b9&dev_5229", "pciide", CLASS_HDC },
    { "pci#ven_1106&dev_0571", "pciide", CLASS_HDC },
    { "pci#ven_8086&dev_1222", "intelide", CLASS_HDC },
    { "pci#ven_8086&dev_1230", "intelide", CLASS_HDC },
    { "pci#ven_8086&dev_2411", "intelide", CLASS_HDC },
    { "pci#ven_8086&dev_2421", "intelide", CLASS_HDC },
    { "pci#ven_8086&dev_7010", "intelide", CLASS_HDC },
    { "pci#ven_8086&dev_7111", "intelide", CLASS_HDC },
    { "pci#ven_8086&dev_7199", "intelide", CLASS_HDC },
};

static const struct ide_service {
    const char *name, *group, *file, *display;
    uint32_t tag;
} services[] = {
    { "atapi", "SCSI miniport", "atapi.sys", "Standard IDE/ESDI Hard Disk Controller", 0x19 },
    { "IntelIde", "System Bus Extender", "intelide.sys", "IntelIde", 4 },
    { "PCIIde", "System Bus Extender", "pciide.sys", "PCIIde", 3 },
};

/* pciidex.sys is the library intelide and pciide link against. */
static const char *const files[] = { "atapi.sys", "intelide.sys", "pciide.sys", "pciidex.sys" };

static bool applies(const struct inject *ctx)
{
    return guest_is_nt5(&ctx->g);
}

static int write_set(struct inject *ctx, int set, struct vd_error **errp)
{
    char cs[32], path[256];
    control_set_name(set, cs, sizeof(cs));
    int ret = 0;
    for (size_t i = 0; i < sizeof(cddb) / sizeof(cddb[0]) && ret == 0; i++) {
        snprintf(path, sizeof(path), "%s\\Control\\CriticalDeviceDatabase\\%s", cs, cddb[i].id);
        ret = hive_set_string(ctx, ctx->system, path, "Service", hive_t_REG_SZ, cddb[i].service, errp);
        if (ret == 0)
            ret = hive_set_string(ctx, ctx->system, path, "ClassGUID", hive_t_REG_SZ, cddb[i].class_guid, errp);
    }
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]) && ret == 0; i++) {
        const struct ide_service *s = &services[i];
        char image[64];
        snprintf(image, sizeof(image), "System32\\DRIVERS\\%s", s->file);
        snprintf(path, sizeof(path), "%s\\Services\\%s", cs, s->name);
        if ((ret = hive_set_dword(ctx, ctx->system, path, "Type", 1, errp)) < 0 ||
            (ret = hive_set_dword(ctx, ctx->system, path, "Start", 0, errp)) < 0 ||
            (ret = hive_set_dword(ctx, ctx->system, path, "ErrorControl", 1, errp)) < 0 ||
            (ret = hive_set_dword(ctx, ctx->system, path, "Tag", s->tag, errp)) < 0 ||
            (ret = hive_set_string(ctx, ctx->system, path, "Group", hive_t_REG_SZ, s->group, errp)) < 0 ||
            (ret = hive_set_string(ctx, ctx->system, path, "ImagePath", hive_t_REG_EXPAND_SZ, image, errp)) < 0)
            return ret;
        char *display = hive_get_string(ctx->system, path, "DisplayName");
        if (!display)
            ret = hive_set_string(ctx, ctx->system, path, "DisplayName", hive_t_REG_SZ, s->display, errp);
        free(display);
    }
    return ret;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        bool found;
        int ret = inject_ensure_driver(ctx, files[i], &found, errp);
        if (ret < 0)
            return ret;
    }
    int sets[2], n = control_sets(ctx, sets);
    for (int i = 0; i < n; i++) {
        int ret = write_set(ctx, sets[i], errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "MergeIDE: CriticalDeviceDatabase entries and boot-start atapi/intelide/pciide services "
           "for the target's IDE controller, with their driver files";
}

const struct fixup fixup_mergeide = {
    .name = "mergeide", .applies = applies, .apply = apply, .describe = describe,
};
