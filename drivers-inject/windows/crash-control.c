/* CrashControl AutoReboot=0: a STOP screen stays on screen, where
 * `vmm --check` reads it, instead of a reboot loop. */
#include "drivers-inject/hive.h"

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    int sets[2], n = control_sets(ctx, sets);
    for (int i = 0; i < n; i++) {
        char cs[32], path[96];
        control_set_name(sets[i], cs, sizeof(cs));
        snprintf(path, sizeof(path), "%s\\Control\\CrashControl", cs);
        int ret = hive_set_dword(ctx, ctx->system, path, "AutoReboot", 0, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "CrashControl AutoReboot=0 so a blue screen stays visible";
}

const struct fixup fixup_crash_control = {
    .name = "crash-control", .applies = applies, .apply = apply, .describe = describe,
};
