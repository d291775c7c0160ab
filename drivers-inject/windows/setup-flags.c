/* Clears the Setup "in progress" flags that send a captured machine back
 * into GUI-mode setup (KB Q185739), and the setup re-entry command line. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/hive.h"

static const char *const flags[] = {
    "SystemSetupInProgress", "UpgradeInProgress", "MiniSetupInProgress", "OOBEInProgress", NULL,
};

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    for (int i = 0; flags[i]; i++) {
        uint32_t v;
        if (hive_get_dword(ctx->system, "Setup", flags[i], &v) && v != 0) {
            int ret = hive_set_dword(ctx, ctx->system, "Setup", flags[i], 0, errp);
            if (ret < 0)
                return ret;
        }
    }
    /* SetupType 1/2 runs Setup\CmdLine at boot; clear it only when that
     * command is setup itself, since a firstboot hook is legitimate. */
    uint32_t type;
    char *cmd = hive_get_string(ctx->system, "Setup", "CmdLine");
    int ret = 0;
    if (hive_get_dword(ctx->system, "Setup", "SetupType", &type) && type != 0 && cmd &&
        strncasecmp(cmd, "setup", 5) == 0)
        ret = hive_set_dword(ctx, ctx->system, "Setup", "SetupType", 0, errp);
    free(cmd);
    return ret;
}

static const char *describe(const struct inject *ctx)
{
    return "clear HKLM\\SYSTEM\\Setup *InProgress flags so Windows does not re-enter setup";
}

const struct fixup fixup_setup_flags = {
    .name = "setup-flags", .applies = applies, .apply = apply, .describe = describe,
};
