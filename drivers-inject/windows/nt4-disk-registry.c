/* NT 4.0 keeps drive letters in HKLM\SYSTEM\DISK\Information, keyed by
 * (disk signature, partition offset, partition length) (ftdisk's
 * GetAssignedDriveLetter matches all three). A new MBR, a changed
 * signature or a moved or resized partition loses them: the system volume
 * may come up under another letter. The entry of this disk (found by its
 * signature, else as the disk holding the system letter) is rewritten in
 * place to the MBR's signature and partition offsets and lengths; a zeroed
 * MBR signature gets the recorded one back. FT sets (mirrors, stripes) are
 * reported, not rebuilt. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "drivers-inject/hive.h"

static bool applies(const struct inject *ctx)
{
    return guest_is_nt4(&ctx->g) && ctx->g.disk_reg.present && ctx->g.disk_reg.n_disks > 0 &&
           ctx->pt.scheme == VD_PART_MBR;
}

/* The disk's volumes (not the extended containers), in table order. */
static int volumes(const struct inject *ctx, const struct vd_partition *vols[])
{
    int n = 0;
    for (int i = 0; i < ctx->pt.count; i++)
        if (!ctx->pt.parts[i].extended)
            vols[n++] = &ctx->pt.parts[i];
    return n;
}

static const struct disk_reg_disk *this_disk(const struct inject *ctx, const struct disk_registry *dr,
                                             char sys_letter)
{
    for (int d = 0; d < dr->n_disks; d++)
        if (ctx->g.disk_signature && dr->disks[d].signature == ctx->g.disk_signature)
            return &dr->disks[d];
    for (int i = 0; i < dr->n_parts; i++)
        if (dr->parts[i].letter == sys_letter)
            return &dr->disks[dr->parts[i].disk];
    return NULL;
}

static int oom(struct vd_error **errp)
{
    return vd_error_set(errp, -ENOMEM, "out of memory");
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    struct guest *g = &ctx->g;
    size_t len;
    hive_type type;
    uint8_t *data = hive_get_binary(ctx->system, "DISK", "Information", &len, &type);
    if (!data)
        return vd_error_set(errp, -EIO, "SYSTEM\\DISK\\Information: cannot read it again");
    /* Parsed again here, so every offset written below is known to lie inside DATA. */
    struct disk_registry dr;
    int ret = disk_registry_parse(data, len, &dr, errp);
    char sys_letter = guest_system_letter(ctx);
    const struct disk_reg_disk *disk = ret < 0 ? NULL : this_disk(ctx, &dr, sys_letter);
    if (!disk) {
        free(data);
        if (ret < 0)
            return ret;
        return inject_note(ctx, "DISK\\Information has no entry for this disk (signature 0x%08X) or for %c:; "
                           "NT 4.0 will assign letters at boot", g->disk_signature, sys_letter) < 0 ? oom(errp) : 0;
    }
    if (g->disk_signature == 0 && disk->signature != 0 &&
        (ret = inject_restore_signature(ctx, disk->signature, "DISK\\Information", errp)) < 0) {
        free(data);
        return ret;
    }
    if (disk->signature != g->disk_signature) {
        put_le32(data + disk->at + 4, g->disk_signature);
        ret = inject_change(ctx, "DISK\\Information: disk signature 0x%08X -> 0x%08X", disk->signature,
                            g->disk_signature);
    }
    const struct vd_partition *vols[VD_MAX_PARTITIONS];
    int n_vols = volumes(ctx, vols);
    const struct vd_partition *sys = &ctx->pt.parts[g->system_part];
    for (int j = 0; j < disk->count && ret == 0; j++) {
        const struct disk_reg_partition *p = &dr.parts[disk->first + j];
        const struct vd_partition *v = NULL;
        for (int k = 0; k < n_vols && !v; k++)
            if (vols[k]->start == p->offset)
                v = vols[k];
        if (!v && p->letter && p->letter == sys_letter)
            v = sys;    /* the system volume, wherever it is now */
        else if (!v && disk->count == n_vols)
            v = vols[j];    /* NT lists a disk's partitions in table order */
        if (!v) {
            ret = inject_note(ctx, "DISK\\Information partition at offset %llu has no counterpart on this "
                              "disk; left as is", (unsigned long long)p->offset);
            continue;
        }
        if (v->start == p->offset && v->length == p->length)
            continue;
        put_le64(data + p->at + DISK_REG_PART_OFFSET, v->start);
        put_le64(data + p->at + DISK_REG_PART_LENGTH, v->length);
        if (get_le64(data + p->at + DISK_REG_PART_FT_LENGTH) == p->length)
            put_le64(data + p->at + DISK_REG_PART_FT_LENGTH, v->length);    /* not an FT member: the same */
        char letter[4] = "-";
        if (p->letter)
            snprintf(letter, sizeof(letter), "%c:", p->letter);
        ret = inject_change(ctx, "DISK\\Information: partition %s offset %llu length %llu -> offset %llu "
                            "length %llu", letter, (unsigned long long)p->offset, (unsigned long long)p->length,
                            (unsigned long long)v->start, (unsigned long long)v->length);
    }
    if (ret < 0) {
        free(data);
        return oom(errp);
    }
    ret = hive_set_binary(ctx, ctx->system, "DISK", "Information", type, data, len, errp);
    /* The reported facts follow the value as it is now (same layout). */
    if (ret == 0)
        ret = disk_registry_parse(data, len, &g->disk_reg, errp);
    free(data);
    return ret;
}

static const char *describe(const struct inject *ctx)
{
    return "NT 4.0: DISK\\Information (drive letters) matched to the disk signature and partition offsets";
}

const struct fixup fixup_nt4_disk_registry = {
    .name = "nt4-disk-registry", .applies = applies, .apply = apply, .describe = describe,
};
