/* MountedDevices: drive letters are keyed by (MBR disk signature,
 * partition byte offset) (KB 234048). A new MBR, a changed signature or a
 * partition moved off LBA 63 breaks \DosDevices\C: and Windows reassigns
 * letters; a system volume that is not C: fails at logon. Entries of this
 * disk are rewritten to the current signature and offsets; a disk whose
 * signature was zeroed gets the recorded one back in its MBR. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/endian.h"
#include "drivers-inject/hive.h"

static bool applies(const struct inject *ctx)
{
    return guest_is_nt5(&ctx->g) && ctx->g.n_mounted > 0 && ctx->pt.scheme == VD_PART_MBR;
}

static bool offset_is_partition(const struct inject *ctx, uint64_t off)
{
    for (int i = 0; i < ctx->pt.count; i++)
        if (!ctx->pt.parts[i].extended && ctx->pt.parts[i].start == off)
            return true;
    return false;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    struct guest *g = &ctx->g;
    uint64_t sys_off = ctx->pt.parts[g->system_part].start;
    char sys_name[32];
    snprintf(sys_name, sizeof(sys_name), "\\DosDevices\\%c:", guest_system_letter(ctx));
    const struct mounted_device *sys = NULL;
    for (int i = 0; i < g->n_mounted; i++)
        if (strcasecmp(g->mounted[i].name, sys_name) == 0 && g->mounted[i].len == 12)
            sys = &g->mounted[i];
    if (!sys)
        return inject_note(ctx, "MountedDevices has no 12-byte %s entry; Windows will assign letters at boot",
                           sys_name) < 0 ? -ENOMEM : 0;
    uint32_t old_sig = get_le32(sys->data);
    uint64_t old_off = get_le64(sys->data + 4);
    uint32_t sig = g->disk_signature;
    if (sig == 0 && old_sig != 0) {
        int ret = inject_restore_signature(ctx, old_sig, "MountedDevices", errp);
        if (ret < 0)
            return ret;
        sig = old_sig;
    }
    if (old_sig == sig && old_off == sys_off)
        return 0;
    for (int i = 0; i < g->n_mounted; i++) {
        struct mounted_device *m = &g->mounted[i];
        if (m->len != 12 || get_le32(m->data) != old_sig)
            continue;   /* another disk, or a GPT/CD-ROM entry */
        uint64_t off = get_le64(m->data + 4);
        uint64_t new_off = off;
        if (off == old_off)
            new_off = sys_off;  /* the system volume, wherever it is now */
        else if (!offset_is_partition(ctx, off)) {
            int ret = inject_note(ctx, "MountedDevices %s points at offset %llu, where this disk has no "
                                  "partition; left as is", m->name, (unsigned long long)off);
            if (ret < 0)
                return -ENOMEM;
            continue;
        }
        uint8_t blob[12];
        put_le32(blob, sig);
        put_le64(blob + 4, new_off);
        int ret = hive_set_binary(ctx, ctx->system, "MountedDevices", m->name, hive_t_REG_BINARY, blob, 12, errp);
        if (ret < 0)
            return ret;
        memcpy(m->data, blob, 12);
    }
    return 0;
}

static const char *describe(const struct inject *ctx)
{
    return "MountedDevices: match the \\DosDevices and \\??\\Volume entries to the disk signature and partition offsets";
}

const struct fixup fixup_mounted_devices = {
    .name = "mounted-devices", .applies = applies, .apply = apply, .describe = describe,
};
