/* ext2/3/4: a block is used when its group's block bitmap says so. A group
 * whose bitmap was never initialised (BLOCK_UNINIT) holds only metadata:
 * its superblock and descriptor backups, and any group's bitmaps and inode
 * table placed in it (flex_bg), all of which are added for every group.
 * With group checksums, the inode table past the last used inode
 * (bg_itable_unused, or all of it with INODE_UNINIT) is never read by the
 * kernel and may hold stale data from before mkfs: it is left out, and
 * arrives as zeros, which is what lazy inode-table init writes anyway. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "formats/fs/fs.h"

#define EXT_MAGIC 0xEF53
#define EXT_INCOMPAT_META_BG 0x10u
#define EXT_INCOMPAT_64BIT 0x80u
#define EXT_RO_COMPAT_SPARSE_SUPER 0x1u
#define EXT_RO_COMPAT_BIGALLOC 0x200u
#define EXT_BG_INODE_UNINIT 0x1u
#define EXT_BG_BLOCK_UNINIT 0x2u
#define EXT_RO_COMPAT_GDT_CSUM 0x10u
#define EXT_RO_COMPAT_METADATA_CSUM 0x400u

static int ext_probe(const uint8_t *b, size_t len)
{
    return len >= 2048 && get_le16(b + 1024 + 0x38) == EXT_MAGIC;
}

static int is_power_of(uint64_t n, uint64_t base)
{
    while (n > 1 && n % base == 0)
        n /= base;
    return n == 1;
}

static int group_has_super(uint64_t g, uint32_t ro_compat)
{
    if (!(ro_compat & EXT_RO_COMPAT_SPARSE_SUPER) || g <= 1)
        return 1;
    return is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7);
}

static int ext_map(const struct vd_fs_source *src, struct vd_fs_map *map,
                   struct vd_error **errp)
{
    uint8_t sb[1024];
    if (src->size < 2048)
        return vd_error_set(errp, -EUCLEAN, "ext: volume too small for a superblock");
    int ret = src->pread(src->ctx, sb, sizeof(sb), 1024, errp);
    if (ret < 0)
        return ret;
    uint32_t log_bs = get_le32(sb + 0x18);
    uint32_t incompat = get_le32(sb + 0x60), ro_compat = get_le32(sb + 0x64);
    if (log_bs > 6)
        return vd_error_set(errp, -EUCLEAN, "ext superblock at offset 1024: bad block size");
    uint64_t bs = 1024ull << log_bs;
    uint64_t blocks = get_le32(sb + 4);
    if (incompat & EXT_INCOMPAT_64BIT)
        blocks |= (uint64_t)get_le32(sb + 0x150) << 32;
    uint64_t first = get_le32(sb + 0x14);
    uint64_t bpg = get_le32(sb + 0x20), ipg = get_le32(sb + 0x28);
    uint32_t inode_size = get_le32(sb + 0x4C) ? get_le16(sb + 0x58) : 128;
    uint32_t desc_size = (incompat & EXT_INCOMPAT_64BIT) ? get_le16(sb + 0xFE) : 32;
    uint64_t reserved_gdt = get_le16(sb + 0xCE);
    snprintf(map->fs_name, sizeof(map->fs_name), "%s",
             (incompat & 0x40) ? "ext4" : (get_le32(sb + 0x5C) & 0x4) ? "ext3" : "ext2");
    if (incompat & EXT_INCOMPAT_META_BG || ro_compat & EXT_RO_COMPAT_BIGALLOC)
        return vd_error_set(errp, -ENOTSUP, "ext superblock at offset 1024: meta_bg/bigalloc not supported");
    if (blocks == 0 || blocks > src->size / bs || first >= blocks || bpg == 0 ||
        bpg > bs * 8 || ipg == 0 || inode_size < 128 || inode_size > bs ||
        desc_size < 32 || desc_size > 1024 || (desc_size & (desc_size - 1)))
        return vd_error_set(errp, -EUCLEAN, "ext superblock at offset 1024: geometry does not fit the volume");
    map->cluster_size = (uint32_t)bs;
    uint64_t groups = (blocks - first + bpg - 1) / bpg;
    uint64_t gdt_blocks = (groups * desc_size + bs - 1) / bs;
    uint64_t itable_blocks = (ipg * inode_size + bs - 1) / bs;
    if (gdt_blocks + reserved_gdt + 1 > bpg || (first + 1 + gdt_blocks) > blocks)
        return vd_error_set(errp, -EUCLEAN, "ext superblock at offset 1024: descriptors do not fit");

    bool csum = ro_compat & (EXT_RO_COMPAT_GDT_CSUM | EXT_RO_COMPAT_METADATA_CSUM);
    struct vd_fs_map unused_itables = { 0 };
    uint8_t *gdt = malloc(gdt_blocks * bs);
    uint8_t *bitmap = malloc(bs);
    if (!gdt || !bitmap) {
        ret = vd_error_set(errp, -ENOMEM, "out of memory reading ext group descriptors");
        goto out;
    }
    ret = src->pread(src->ctx, gdt, gdt_blocks * bs, (first + 1) * bs, errp);
    if (ret < 0)
        goto out;
    /* Blocks before the first group (the boot block with 1 KiB blocks) and
     * past the last whole block are not the filesystem's: read them. */
    ret = vd_fs_map_add(map, 0, (first + 1) * bs, src->size, errp);
    if (ret == 0)
        ret = vd_fs_map_add(map, blocks * bs, src->size, src->size, errp);

    for (uint64_t g = 0; g < groups && ret == 0; g++) {
        const uint8_t *d = gdt + g * desc_size;
        uint64_t bb = get_le32(d), ib = get_le32(d + 4), it = get_le32(d + 8);
        if (desc_size >= 64) {
            bb |= (uint64_t)get_le32(d + 0x20) << 32;
            ib |= (uint64_t)get_le32(d + 0x24) << 32;
            it |= (uint64_t)get_le32(d + 0x28) << 32;
        }
        if (bb >= blocks || ib >= blocks || it >= blocks || itable_blocks > blocks - it) {
            ret = vd_error_set(errp, -EUCLEAN, "ext group descriptor %llu at offset %llu: metadata outside the volume",
                               (unsigned long long)g, (unsigned long long)((first + 1) * bs + g * desc_size));
            break;
        }
        /* This group's metadata, wherever flex_bg put it. */
        ret = vd_fs_map_add(map, bb * bs, bs, src->size, errp);
        if (ret == 0)
            ret = vd_fs_map_add(map, ib * bs, bs, src->size, errp);
        if (ret == 0)
            ret = vd_fs_map_add(map, it * bs, itable_blocks * bs, src->size, errp);
        uint64_t unused = get_le16(d + 0x1C) | (desc_size >= 64 ? (uint64_t)get_le16(d + 0x32) << 16 : 0);
        if (get_le16(d + 0x12) & EXT_BG_INODE_UNINIT)
            unused = ipg;
        if (ret == 0 && csum && unused > 0 && unused <= ipg) {
            uint64_t keep = ((ipg - unused) * inode_size + bs - 1) / bs;
            ret = vd_fs_map_add(&unused_itables, (it + keep) * bs, (itable_blocks - keep) * bs,
                                src->size, errp);
        }
        uint64_t gstart = first + g * bpg;
        uint64_t glen = blocks - gstart < bpg ? blocks - gstart : bpg;
        if (ret == 0 && group_has_super(g, ro_compat))
            ret = vd_fs_map_add(map, gstart * bs, (1 + gdt_blocks + reserved_gdt) * bs, src->size, errp);
        if (ret < 0 || (get_le16(d + 0x12) & EXT_BG_BLOCK_UNINIT))
            continue;
        ret = src->pread(src->ctx, bitmap, bs, bb * bs, errp);
        for (uint64_t i = 0; i < glen && ret == 0;) {
            if ((i & 7) == 0 && bitmap[i >> 3] == 0) {
                i += 8;
                continue;
            }
            if (!(bitmap[i >> 3] >> (i & 7) & 1)) {
                i++;
                continue;
            }
            uint64_t s = i;
            while (i < glen && (bitmap[i >> 3] >> (i & 7) & 1))
                i++;
            ret = vd_fs_map_add(map, (gstart + s) * bs, (i - s) * bs, src->size, errp);
        }
    }
    if (ret == 0) {
        vd_fs_map_finish(map);
        vd_fs_map_finish(&unused_itables);
        ret = vd_fs_map_subtract(map, &unused_itables, errp);
    }
out:
    vd_fs_map_free(&unused_itables);
    free(gdt);
    free(bitmap);
    return ret;
}

const struct vd_fs_driver vd_fs_ext = {
    .name = "ext",
    .probe = ext_probe,
    .map = ext_map,
};
