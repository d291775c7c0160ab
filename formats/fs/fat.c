/* FAT12/16/32: the reserved area, the FATs and the FAT12/16 root directory
 * are always used; a data cluster is used when its FAT entry is not 0 (free)
 * and not the bad-cluster mark (bad clusters hold nothing worth reading). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "formats/fs/fs.h"

static int is_pow2(uint32_t v) { return v && !(v & (v - 1)); }

static int fat_probe(const uint8_t *b, size_t len)
{
    if (len < 512 || b[510] != 0x55 || b[511] != 0xAA)
        return 0;
    if (b[0] != 0xEB && b[0] != 0xE9)
        return 0;
    uint32_t bps = get_le16(b + 11);
    if (bps < 512 || bps > 4096 || !is_pow2(bps) || !is_pow2(b[13]))
        return 0;
    if (get_le16(b + 14) == 0 || b[16] == 0 || b[16] > 4)
        return 0;
    return memcmp(b + 0x36, "FAT", 3) == 0 || memcmp(b + 0x52, "FAT32", 5) == 0;
}

#define FAT_BLOCK 65536u

static int fat_map(const struct vd_fs_source *src, struct vd_fs_map *map,
                   struct vd_error **errp)
{
    uint8_t b[512];
    int ret = src->pread(src->ctx, b, sizeof(b), 0, errp);
    if (ret < 0)
        return ret;
    uint32_t bps = get_le16(b + 11), spc = b[13], rsvd = get_le16(b + 14);
    uint32_t nfats = b[16], root_ents = get_le16(b + 17);
    uint64_t total = get_le16(b + 19) ? get_le16(b + 19) : get_le32(b + 32);
    uint64_t fatsz = get_le16(b + 22) ? get_le16(b + 22) : get_le32(b + 36);
    if (bps < 512 || bps > 4096 || !is_pow2(bps) || !is_pow2(spc) || rsvd == 0 || nfats == 0)
        return vd_error_set(errp, -EUCLEAN, "FAT boot sector at offset 0: bad geometry");
    uint64_t root_secs = ((uint64_t)root_ents * 32 + bps - 1) / bps;
    uint64_t data_start = rsvd + nfats * fatsz + root_secs;
    if (fatsz == 0 || data_start >= total || total * bps > src->size)
        return vd_error_set(errp, -EUCLEAN,
                            "FAT boot sector at offset 0: geometry does not fit the volume");
    uint64_t clusters = (total - data_start) / spc;
    int bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
    uint64_t need = bits == 12 ? (clusters + 2) * 3 / 2 + 1 : (clusters + 2) * (uint64_t)(bits / 8);
    if (need > fatsz * bps + 1)
        return vd_error_set(errp, -EUCLEAN,
                            "FAT boot sector at offset 0: %llu clusters do not fit a %llu-byte FAT",
                            (unsigned long long)clusters, (unsigned long long)(fatsz * bps));
    if (need > fatsz * bps)
        need = fatsz * bps;
    snprintf(map->fs_name, sizeof(map->fs_name), "fat%d", bits);
    uint64_t csize = (uint64_t)spc * bps;
    map->cluster_size = (uint32_t)csize;
    uint64_t fat_off = (uint64_t)rsvd * bps, data_off = data_start * bps;

    ret = vd_fs_map_add(map, 0, data_off, src->size, errp);
    if (ret < 0)
        return ret;
    /* Space past the last whole cluster is nobody's: read it in full. */
    ret = vd_fs_map_add(map, data_off + clusters * csize, src->size, src->size, errp);
    if (ret < 0)
        return ret;

    uint8_t *fat = malloc(FAT_BLOCK + 2);
    if (!fat)
        return vd_error_set(errp, -ENOMEM, "out of memory reading the FAT");
    uint32_t bad = bits == 12 ? 0xFF7 : bits == 16 ? 0xFFF7 : 0x0FFFFFF7;
    uint64_t block_start = UINT64_MAX;      /* FAT byte offset held in fat[] */
    size_t block_len = 0;
    for (uint64_t c = 2; c < clusters + 2 && ret == 0; c++) {
        uint64_t eoff = bits == 12 ? c * 3 / 2 : c * (uint64_t)(bits / 8);
        size_t esize = bits == 32 ? 4 : 2;
        if (block_start == UINT64_MAX || eoff + esize > block_start + block_len) {
            /* FAT12 entries straddle bytes: every block starts on the
             * entry's own byte, so the entry is always whole in it. */
            block_start = eoff;
            block_len = need - eoff < FAT_BLOCK ? (size_t)(need - eoff) : FAT_BLOCK;
            if (block_len < esize) {
                memset(fat + block_len, 0, esize - block_len);
            }
            ret = src->pread(src->ctx, fat, block_len, fat_off + block_start, errp);
            if (ret < 0)
                break;
            if (block_len < esize)
                block_len = esize;
        }
        const uint8_t *e = fat + (eoff - block_start);
        uint32_t v;
        if (bits == 12)
            v = (c & 1) ? get_le16(e) >> 4 : get_le16(e) & 0xFFF;
        else if (bits == 16)
            v = get_le16(e);
        else
            v = get_le32(e) & 0x0FFFFFFF;
        if (v != 0 && v != bad)
            ret = vd_fs_map_add(map, data_off + (c - 2) * csize, csize, src->size, errp);
    }
    free(fat);
    return ret;
}

const struct vd_fs_driver vd_fs_fat = {
    .name = "fat",
    .probe = fat_probe,
    .map = fat_map,
};
