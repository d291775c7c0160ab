/* The boot sector's BIOS geometry (NTFS, and FAT the same way, since the
 * BPB fields are at the same offsets): NT-era boot code computes CHS
 * from sectors-per-track and heads (and starts from "hidden sectors",
 * the partition's LBA), so values from the physical RAID BIOS give "A disk
 * read error occurred". They are set to the geometry a BIOS reports for
 * the virtual disk under LBA-assisted translation (SeaBIOS, as vmm and
 * QEMU use; Hyper-V and Virtual Server BIOSes translate the same way),
 * in the boot sector and its backup (NTFS: at the end of the volume;
 * FAT32: the sector its BPB names). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/endian.h"
#include "drivers-inject/inject.h"
#include "drivers-inject/volume.h"

static bool applies(const struct inject *ctx)
{
    return ctx->g.kind == OS_WINDOWS;
}


/* LBA-assisted translation: 16 heads, doubled until the cylinders fit in
 * 1024, at most 255. */
static uint16_t bios_heads(uint64_t disk_bytes)
{
    uint64_t sectors = disk_bytes / 512;
    unsigned heads = 16;
    while (sectors / (heads * 63u) > 1024 && heads < 255)
        heads = heads == 128 ? 255 : heads * 2;
    return (uint16_t)heads;
}

static int fix_sector(struct inject *ctx, uint64_t off, uint16_t heads, uint32_t hidden,
                      const char *which, struct vd_error **errp)
{
    uint8_t bs[512];
    int ret = vd_image_pread(ctx->img, bs, sizeof(bs), off, errp);
    if (ret < 0)
        return ret;
    if (!ntfs_vol_ops.probe(bs) && !fat_vol_ops.probe(bs))
        return 0;
    uint16_t old_spt = get_le16(bs + 0x18), old_heads = get_le16(bs + 0x1A);
    uint32_t old_hidden = get_le32(bs + 0x1C);
    if (old_spt == 63 && old_heads == heads && old_hidden == hidden)
        return 0;
    put_le16(bs + 0x18, 63);
    put_le16(bs + 0x1A, heads);
    put_le32(bs + 0x1C, hidden);
    if ((ret = inject_stage_raw(ctx, off, bs)) < 0 ||
        (ret = inject_change(ctx, "%s: sectors/track %u -> 63, heads %u -> %u, hidden sectors %u -> %u",
                             which, old_spt, old_heads, heads, old_hidden, hidden)) < 0)
        return vd_error_set(errp, ret, "out of memory");
    return 0;
}

static int apply(struct inject *ctx, struct vd_error **errp)
{
    const struct vd_partition *p = &ctx->pt.parts[ctx->g.system_part];
    uint16_t heads = bios_heads(vd_image_size(ctx->img));
    uint64_t lba = p->start / 512;
    if (lba > UINT32_MAX)
        return 0;
    uint8_t bs[512];
    int ret = vd_image_pread(ctx->img, bs, sizeof(bs), p->start, errp);
    if (ret < 0)
        return ret;
    ret = fix_sector(ctx, p->start, heads, (uint32_t)lba, "boot sector", errp);
    uint64_t backup = 0;
    if (ntfs_vol_ops.probe(bs))
        backup = p->start + get_le64(bs + 0x28) * 512;
    else if (memcmp(bs + 82, "FAT32", 5) == 0 && get_le16(bs + 0x32) != 0 && get_le16(bs + 0x32) != 0xFFFF)
        backup = p->start + (uint64_t)get_le16(bs + 0x32) * 512;
    if (ret == 0 && backup > p->start && backup + 512 <= p->start + p->length)
        ret = fix_sector(ctx, backup, heads, (uint32_t)lba, "backup boot sector", errp);
    return ret;
}

static const char *describe(const struct inject *ctx)
{
    return "boot sector geometry (sectors/track, heads, hidden sectors) for the target BIOS (NTFS and FAT)";
}

const struct fixup fixup_ntfs_geometry = {
    .name = "ntfs-geometry", .applies = applies, .apply = apply, .describe = describe,
};
