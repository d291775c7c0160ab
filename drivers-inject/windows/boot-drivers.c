/* Every boot-start service must have its driver file: a Start=0 service
 * whose .sys is missing is a classic cause of STOP 0x7B after P2V. Runs
 * after the fixups that add files, so it checks the final state; it
 * changes nothing and reports what it finds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers-inject/hive.h"

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS;
}

/* ImagePath forms: "System32\DRIVERS\x.sys", "\SystemRoot\System32\...",
 * or none (then system32\drivers\<service>.sys). */
static void driver_file(struct inject *ctx, const char *svc, const char *image, char *out, size_t len)
{
    if (!image || !image[0]) {
        char rel[128];
        snprintf(rel, sizeof(rel), "system32\\drivers\\%s.sys", svc);
        sysroot_path(ctx, rel, out, len);
        return;
    }
    const char *p = image;
    if (strncasecmp(p, "\\SystemRoot\\", 12) == 0)
        p += 12;
    else if (strncasecmp(p, "%SystemRoot%\\", 13) == 0)
        p += 13;
    sysroot_path(ctx, p, out, len);
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    char cs[32], path[256];
    control_set_name(ctx->g.current_set, cs, sizeof(cs));
    snprintf(path, sizeof(path), "%s\\Services", cs);
    char **svcs = hive_children(ctx->system, path);
    int ret = 0;
    for (size_t i = 0; svcs && svcs[i] && ret == 0; i++) {
        uint32_t start, type = 1;
        snprintf(path, sizeof(path), "%s\\Services\\%s", cs, svcs[i]);
        if (!hive_get_dword(ctx->system, path, "Start", &start) || start != 0)
            continue;
        hive_get_dword(ctx->system, path, "Type", &type);
        if (!(type & 3))
            continue;   /* not a kernel or filesystem driver */
        char *image = hive_get_string(ctx->system, path, "ImagePath");
        char file[256];
        driver_file(ctx, svcs[i], image, file, sizeof(file));
        free(image);
        if (!inject_file_exists(ctx, file))
            ret = inject_note(ctx, "boot-start service %s has no driver file %s", svcs[i], file);
    }
    hive_free_strings(svcs);
    return ret < 0 ? vd_error_set(errp, -ENOMEM, "out of memory") : 0;
}

static const char *describe(const struct inject *ctx)
{
    return "check that every boot-start service has its driver file";
}

const struct fixup fixup_boot_drivers = {
    .name = "boot-drivers", .applies = applies, .apply = apply, .describe = describe,
};
