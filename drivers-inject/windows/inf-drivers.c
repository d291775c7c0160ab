/* Storage drivers from --drivers packages (INF + .sys, or txtsetup.oem):
 * each storage service is installed boot-start with its files and HKR
 * values, and on 2000/XP/2003 bound to every PCI hardware ID it lists
 * through the CriticalDeviceDatabase, so targets with other controllers
 * boot too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/driverpack.h"
#include "drivers-inject/hive.h"
#include "drivers-inject/inf.h"

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS && ctx->opts.n_drivers > 0;
}

static const hive_type reg_types[] = {
    [1] = hive_t_REG_SZ, [2] = hive_t_REG_EXPAND_SZ, [3] = hive_t_REG_BINARY,
    [4] = hive_t_REG_DWORD, [7] = hive_t_REG_MULTI_SZ,
};

static int write_service(struct inject *ctx, const struct inf_driver *d, const char *cs,
                         struct vd_error **errp)
{
    char path[256], image[96];
    snprintf(path, sizeof(path), "%s\\Services\\%s", cs, d->service);
    snprintf(image, sizeof(image), "System32\\DRIVERS\\%s", d->binary);
    int ret;
    if ((ret = hive_set_dword(ctx, ctx->system, path, "Type", d->type ? d->type : 1, errp)) < 0 ||
        (ret = hive_set_dword(ctx, ctx->system, path, "Start", 0, errp)) < 0 ||
        (ret = hive_set_dword(ctx, ctx->system, path, "ErrorControl", d->error_control, errp)) < 0 ||
        (ret = hive_set_string(ctx, ctx->system, path, "Group", hive_t_REG_SZ,
                               d->group[0] ? d->group : "SCSI miniport", errp)) < 0 ||
        (ret = hive_set_string(ctx, ctx->system, path, "ImagePath", hive_t_REG_EXPAND_SZ, image, errp)) < 0)
        return ret;
    for (int i = 0; i < d->n_regs; i++) {
        const struct inf_reg *r = &d->regs[i];
        char key[400];
        snprintf(key, sizeof(key), "%s%s%s", path, r->subkey[0] ? "\\" : "", r->subkey);
        hive_type t = r->type < sizeof(reg_types) / sizeof(reg_types[0]) && reg_types[r->type] ?
                      reg_types[r->type] : hive_t_REG_SZ;
        if (t == hive_t_REG_DWORD)
            ret = hive_set_binary(ctx, ctx->system, key, r->name, t, r->data, 4, errp);
        else if (t == hive_t_REG_MULTI_SZ) {
            const char *one[] = { (const char *)r->data, NULL };
            ret = hive_set_multi(ctx, ctx->system, key, r->name, one, errp);
        } else if (t == hive_t_REG_BINARY)
            ret = hive_set_binary(ctx, ctx->system, key, r->name, t, r->data, r->len, errp);
        else
            ret = hive_set_string(ctx, ctx->system, key, r->name, t, (const char *)r->data, errp);
        if (ret < 0)
            return ret;
    }
    if (guest_is_nt4(&ctx->g))
        return 0;
    for (int i = 0; i < d->n_hwids; i++) {
        if (strncasecmp(d->hwids[i], "PCI\\", 4) != 0)
            continue;
        char id[160];
        snprintf(id, sizeof(id), "%s", d->hwids[i]);
        for (char *c = id; *c; c++)
            *c = *c == '\\' ? '#' : (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        snprintf(path, sizeof(path), "%s\\Control\\CriticalDeviceDatabase\\%s", cs, id);
        if ((ret = hive_set_string(ctx, ctx->system, path, "Service", hive_t_REG_SZ, d->service, errp)) < 0 ||
            (ret = hive_set_string(ctx, ctx->system, path, "ClassGUID", hive_t_REG_SZ, d->class_guid, errp)) < 0)
            return ret;
    }
    return 0;
}

static int copy_files(struct inject *ctx, const struct inf_driver *d, struct vd_error **errp)
{
    bool found;
    int ret = inject_ensure_driver(ctx, d->binary, &found, errp);
    for (int i = 0; i < d->n_files && ret == 0; i++) {
        const struct inf_file *f = &d->files[i];
        if (strcasecmp(f->name, d->binary) == 0)
            continue;
        char rel[128], path[256];
        snprintf(rel, sizeof(rel), "%s%s%s", f->dest, f->dest[0] ? "\\" : "", f->name);
        sysroot_path(ctx, rel, path, sizeof(path));
        if (inject_file_exists(ctx, path))
            continue;
        uint8_t *data;
        size_t len;
        const char *label;
        ret = packs_find(ctx->packs, f->name, &data, &len, &label, errp);
        if (ret == -ENOENT) {
            ret = inject_note(ctx, "%s (listed by the %s package) not found; skipped", f->name, d->service) < 0 ? -ENOMEM : 0;
            continue;
        }
        if (ret < 0)
            return ret;
        if ((ret = inject_stage_file(ctx, path, data, len)) < 0 ||
            (ret = inject_change(ctx, "copied %s from %s to %s", f->name, label, path)) < 0)
            return vd_error_set(errp, ret, "out of memory");
    }
    return ret;
}

static int install_one(void *opaque, const char *label, const char *name, const uint8_t *data,
                       size_t len, struct vd_error **errp)
{
    struct inject *ctx = opaque;
    struct inf_driver *drivers = NULL;
    int n = 0;
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    int ret = strcasecmp(base, "txtsetup.oem") == 0
              ? txtsetup_parse(name, (const char *)data, len, &drivers, &n, errp)
              : inf_parse(name, (const char *)data, len, ctx->g.major, ctx->g.minor, &drivers, &n, errp);
    if (ret < 0) {
        vd_error_prefix(errp, "%s", label);
        return ret;
    }
    int sets[2], ns = control_sets(ctx, sets);
    for (int i = 0; i < n && ret == 0; i++) {
        ret = copy_files(ctx, &drivers[i], errp);
        for (int s = 0; s < ns && ret == 0; s++) {
            char cs[32];
            control_set_name(sets[s], cs, sizeof(cs));
            ret = write_service(ctx, &drivers[i], cs, errp);
        }
    }
    free(drivers);
    return ret;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    return packs_for_each_inf(ctx->packs, install_one, ctx, errp);
}

static const char *describe(const struct inject *ctx)
{
    return "install storage drivers from --drivers INF/txtsetup.oem packages as boot-start, bound to their PCI IDs";
}

const struct fixup fixup_inf_drivers = {
    .name = "inf-drivers", .applies = applies, .apply = apply, .describe = describe,
};
