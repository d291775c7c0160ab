/* Bootloader configuration (GRUB legacy menu.lst/grub.conf and
 * device.map, GRUB 2 grub.cfg and /etc/default/grub, LILO, SYSLINUX and
 * EXTLINUX): root=,
 * resume= and disk names of the source controller rewritten to the names
 * the target's kernel will give the disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/linux-guest.h"

static const char *const configs[] = {
    "/boot/grub/menu.lst", "/boot/grub/grub.conf", "/boot/grub/device.map",
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/etc/default/grub", "/etc/lilo.conf",
    "/boot/syslinux.cfg", "/boot/syslinux/syslinux.cfg", "/boot/extlinux.conf", "/boot/extlinux/extlinux.conf",
    NULL,
};

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_LINUX;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    for (int i = 0; configs[i]; i++) {
        char *text, *out;
        size_t len, out_len;
        int changes, ret = linux_read(ctx, configs[i], &text, &len, errp);
        if (ret == -ENOENT)
            continue;
        if (ret < 0)
            return ret;
        ret = linux_rewrite_devices(ctx, text, len, false, &out, &out_len, &changes, errp);
        free(text);
        if (ret < 0)
            return ret;
        if (changes == 0) {
            free(out);
            continue;
        }
        if ((ret = inject_stage_file(ctx, configs[i], (uint8_t *)out, out_len)) < 0 ||
            (ret = inject_change(ctx, "%s: %d device name%s rewritten to the target's names", configs[i],
                                 changes, changes == 1 ? "" : "s")) < 0)
            return vd_error_set(errp, ret, "out of memory");
    }
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "Linux: bootloader root=/resume= and device.map names rewritten for the target";
}

const struct fixup fixup_linux_bootloader = {
    .name = "linux-bootloader", .applies = applies, .apply = apply, .describe = describe,
};
