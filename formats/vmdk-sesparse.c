/* seSparse extents (ESXi 6.5+ snapshots, read-only here): a constant
 * header (magic 0xcafebabe, version 2.1, 4 KiB grains, 16 MiB per grain
 * table), a volatile header (0xcafecafe; a journal left to replay is
 * refused), a 64-bit grain directory and 64-bit grain table entries whose
 * top nibble is the kind: 0 unallocated (the parent's), 1 unmapped and
 * 2 zeroed (zeros), 3 allocated with the grain number's bits shuffled.
 * Once set up, the extent is read through vmdk.c's sparse paths. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "formats/vmdk.h"

/* seSparse (ESXi 6.5+): a grain table entry's top nibble is its kind. */
int vmdk_sesparse_gtes(struct vmdk_extent *e, uint64_t g, uint32_t n, uint64_t *out,
                       struct vd_error **errp)
{
    uint64_t gt = e->gd64[g / e->gt_entries];
    if (!gt) {
        memset(out, 0, (size_t)n * 8);
        return 0;
    }
    uint64_t off = e->gt_base + (gt & 0xffffffffu) * e->gt_entries * 8 +
                   (g % e->gt_entries) * 8;
    int ret = vd_fd_pread(e->fd, e->path, out, (size_t)n * 8, off, errp);
    for (uint32_t i = 0; i < n && ret == 0; i++) {
        uint64_t v = get_le64(&out[i]);
        switch (v >> 60) {
        case 0:     /* unallocated: the parent's */
            out[i] = 0;
            if (v)
                ret = -EINVAL;
            break;
        case 1:     /* unmapped (SCSI UNMAP) */
        case 2:     /* zeroed */
            out[i] = VMDK_GTE_ZERO;
            break;
        case 3: {   /* allocated: the grain number's bits are shuffled */
            uint64_t grain = (v & 0x0fff000000000000ull) >> 48 |
                             (v & 0x0000ffffffffffffull) << 12;
            uint64_t sector = e->grains_base / VMDK_SECTOR + grain * (e->grain / VMDK_SECTOR);
            if (grain > VMDK_MAX_SIZE / VMDK_SECTOR || sector * VMDK_SECTOR >= e->file_size)
                ret = -EINVAL;
            out[i] = sector;
            break;
        }
        default:
            ret = -EINVAL;
        }
        if (ret == -EINVAL)
            return vd_error_set(errp, -EINVAL, "%s: bad seSparse grain table entry 0x%016llx "
                                "at offset %llu", e->path, (unsigned long long)v,
                                (unsigned long long)(off + i * 8));
    }
    return ret;
}

/* seSparse constant header: little-endian u64 fields, by index. */
enum {
    SES_MAGIC, SES_VERSION, SES_CAPACITY, SES_GRAIN, SES_GT_SIZE, SES_FLAGS,
    SES_VOL_OFF = 10, SES_VOL_SIZE, SES_JH_OFF, SES_JH_SIZE, SES_J_OFF, SES_J_SIZE,
    SES_GD_OFF, SES_GD_SIZE, SES_GT_OFF, SES_GT_SIZE_ALL, SES_FB_OFF, SES_FB_SIZE,
    SES_BM_OFF, SES_BM_SIZE, SES_GRAINS_OFF, SES_GRAINS_SIZE,
};
#define SES_CONST_MAGIC 0xcafebabeull
#define SES_VOLATILE_MAGIC 0xcafecafeull
#define SES_VERSION_2_1 0x0000000200000001ull

static uint64_t ses(const uint8_t *h, int field)
{
    return get_le64(h + field * 8);
}

/* An area [OFF, OFF + SIZE) sectors inside the file. */
static bool area_ok(const struct vmdk_extent *e, uint64_t off, uint64_t size)
{
    uint64_t max = e->file_size / VMDK_SECTOR;
    return off <= max && size <= max - off;
}

int vmdk_sesparse_setup(struct vmdk_extent *e, struct vd_error **errp)
{
    const char *path = e->path;
    int ret = vd_fd_pread(e->fd, path, e->header, VMDK_SECTOR, 0, errp);
    if (ret < 0)
        return ret;
    const uint8_t *h = e->header;
    if (ses(h, SES_MAGIC) != SES_CONST_MAGIC)
        return vd_error_set(errp, -EINVAL, "%s: not a seSparse extent (no 0xcafebabe magic)",
                            path);
    if (ses(h, SES_VERSION) != SES_VERSION_2_1)
        return vd_error_set(errp, -ENOTSUP, "%s: seSparse version 0x%016llx is not supported "
                            "(2.1 is)", path, (unsigned long long)ses(h, SES_VERSION));
    if (ses(h, SES_GRAIN) != 8 || ses(h, SES_GT_SIZE) != 64 || ses(h, SES_FLAGS) != 0)
        return vd_error_set(errp, -ENOTSUP, "%s: seSparse grain of %llu sectors, tables of "
                            "%llu, flags 0x%llx: only 8, 64 and 0 (ESXi's) are read", path,
                            (unsigned long long)ses(h, SES_GRAIN),
                            (unsigned long long)ses(h, SES_GT_SIZE),
                            (unsigned long long)ses(h, SES_FLAGS));
    uint64_t capacity = ses(h, SES_CAPACITY);
    if (capacity > VMDK_MAX_SIZE / VMDK_SECTOR)
        return vd_error_set(errp, -EFBIG, "%s: capacity of %llu sectors is beyond the "
                            "64 TiB vdisk reads", path, (unsigned long long)capacity);
    if (capacity * VMDK_SECTOR < e->length)
        return vd_error_set(errp, -EINVAL, "%s: the seSparse extent holds %llu sectors, the "
                            "descriptor says %llu", path, (unsigned long long)capacity,
                            (unsigned long long)(e->length / VMDK_SECTOR));
    static const int areas[][2] = {
        { SES_VOL_OFF, SES_VOL_SIZE }, { SES_GD_OFF, SES_GD_SIZE },
        { SES_GT_OFF, SES_GT_SIZE_ALL }, { SES_GRAINS_OFF, SES_GRAINS_SIZE },
    };
    for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++)
        if (!area_ok(e, ses(h, areas[i][0]), ses(h, areas[i][1])))
            return vd_error_set(errp, -EINVAL, "%s: seSparse area at header field %d "
                                "(sector %llu, %llu sectors) lies beyond the end of the file",
                                path, areas[i][0] * 8, (unsigned long long)ses(h, areas[i][0]),
                                (unsigned long long)ses(h, areas[i][1]));
    uint8_t vol[32];
    if (ses(h, SES_VOL_SIZE) == 0)
        return vd_error_set(errp, -EINVAL, "%s: seSparse without a volatile header", path);
    ret = vd_fd_pread(e->fd, path, vol, sizeof(vol), ses(h, SES_VOL_OFF) * VMDK_SECTOR, errp);
    if (ret < 0)
        return ret;
    if (get_le64(vol) != SES_VOLATILE_MAGIC)
        return vd_error_set(errp, -EINVAL, "%s: bad seSparse volatile header magic at sector "
                            "%llu", path, (unsigned long long)ses(h, SES_VOL_OFF));
    if (get_le64(vol + 24) != 0)
        return vd_error_set(errp, -ENOTSUP, "%s: the seSparse journal must be replayed first "
                            "(open the disk in ESXi once)", path);
    e->grain = 4096;
    e->gt_entries = 4096;
    e->zero_grain = true;
    e->version = 2;
    e->gt_base = ses(h, SES_GT_OFF) * VMDK_SECTOR;
    e->grains_base = ses(h, SES_GRAINS_OFF) * VMDK_SECTOR;
    uint64_t grains = (capacity + 7) / 8;
    e->gd_count = (uint32_t)((grains + e->gt_entries - 1) / e->gt_entries);
    if ((uint64_t)e->gd_count * 8 > ses(h, SES_GD_SIZE) * VMDK_SECTOR)
        return vd_error_set(errp, -EINVAL, "%s: the seSparse grain directory (%llu sectors) "
                            "is too small for %llu sectors", path,
                            (unsigned long long)ses(h, SES_GD_SIZE), (unsigned long long)capacity);
    e->gd64 = malloc((size_t)e->gd_count * 8 + 8);
    if (!e->gd64)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    ret = vd_fd_pread(e->fd, path, e->gd64, (size_t)e->gd_count * 8,
                      ses(h, SES_GD_OFF) * VMDK_SECTOR, errp);
    uint64_t tables = ses(h, SES_GT_SIZE_ALL) / 64;
    for (uint32_t i = 0; i < e->gd_count && ret == 0; i++) {
        uint64_t v = get_le64(&e->gd64[i]);
        e->gd64[i] = v;
        /* Allocated: top nibble 1 and a table index that fits 32 bits
         * (64 TiB / 16 MiB per table), inside the table area. */
        if (v && ((v >> 32) != 0x10000000u || (v & 0xffffffffu) >= tables))
            ret = vd_error_set(errp, -EINVAL, "%s: bad seSparse grain directory entry %u "
                               "(0x%016llx)", path, i, (unsigned long long)v);
    }
    e->type = VMDK_EXT_SPARSE;
    return ret;
}
