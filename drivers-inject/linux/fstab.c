/* /etc/fstab naming devices the target will not have (/dev/cciss/c0d0p2
 * of a Smart Array, /dev/ida/, /dev/hda on a libata kernel): rewritten to
 * UUID=, which does not depend on the controller. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/linux-guest.h"

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_LINUX;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    char *text, *out;
    size_t len, out_len;
    int changes, ret = linux_read(ctx, "/etc/fstab", &text, &len, errp);
    if (ret < 0)
        return ret;
    ret = linux_rewrite_devices(ctx, text, len, true, &out, &out_len, &changes, errp);
    free(text);
    if (ret < 0 || changes == 0) {
        if (ret == 0)
            free(out);
        return ret;
    }
    if ((ret = inject_stage_file(ctx, "/etc/fstab", (uint8_t *)out, out_len)) < 0 ||
        (ret = inject_change(ctx, "/etc/fstab: %d device name%s rewritten to UUID= or the target's names",
                             changes, changes == 1 ? "" : "s")) < 0)
        return vd_error_set(errp, ret, "out of memory");
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "Linux: /etc/fstab device names the target will not have rewritten to UUID=";
}

const struct fixup fixup_linux_fstab = {
    .name = "linux-fstab", .applies = applies, .apply = apply, .describe = describe,
};
