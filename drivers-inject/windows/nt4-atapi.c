/* NT 4.0 has no Plug and Play and no CriticalDeviceDatabase: the IDE
 * driver boots when Services\atapi is a boot-start SCSI miniport and
 * atapi.sys exists. */
#include <stdio.h>

#include "drivers-inject/hive.h"

static bool applies(const struct inject *ctx)
{
    return guest_is_nt4(&ctx->g);
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    bool found;
    int ret = inject_ensure_driver(ctx, "atapi.sys", &found, errp);
    if (ret < 0)
        return ret;
    int sets[2], n = control_sets(ctx, sets);
    for (int i = 0; i < n; i++) {
        char cs[32], path[96];
        control_set_name(sets[i], cs, sizeof(cs));
        snprintf(path, sizeof(path), "%s\\Services\\atapi", cs);
        if ((ret = hive_set_dword(ctx, ctx->system, path, "Type", 1, errp)) < 0 ||
            (ret = hive_set_dword(ctx, ctx->system, path, "Start", 0, errp)) < 0 ||
            (ret = hive_set_dword(ctx, ctx->system, path, "ErrorControl", 1, errp)) < 0 ||
            (ret = hive_set_string(ctx, ctx->system, path, "Group", hive_t_REG_SZ, "SCSI miniport", errp)) < 0)
            return ret;
    }
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "NT 4.0: enable atapi as a boot-start SCSI miniport and make sure atapi.sys is present";
}

const struct fixup fixup_nt4_atapi = {
    .name = "nt4-atapi", .applies = applies, .apply = apply, .describe = describe,
};
