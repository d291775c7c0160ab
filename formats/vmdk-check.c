/* VMDK check: the image must open (descriptor, extents, headers, grain
 * directories are validated there), then every grain table entry of each
 * hosted sparse extent is checked: inside the file and past the metadata,
 * a compressed grain's marker naming its own LBA, and the redundant table
 * equal to the primary one. Tables are read one at a time, so memory stays
 * small whatever the size. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "formats/vmdk.h"

#define MAX_REPORTED 1000   /* a wrecked image: enough lines to see the damage */

static void check_table(struct vmdk_extent *e, uint32_t gi, const uint32_t *gt,
                        const uint32_t *rgt, uint64_t overhead, struct vd_check *chk)
{
    for (uint32_t j = 0; j < e->gt_entries && chk->problems < MAX_REPORTED; j++) {
        uint64_t g = (uint64_t)gi * e->gt_entries + j;
        uint64_t v = gt[j];
        if (rgt && rgt[j] != gt[j])
            vd_check_problem(chk, "%s: grain %llu: redundant grain table entry %u differs "
                             "from the primary %llu", e->path, (unsigned long long)g,
                             rgt[j], (unsigned long long)v);
        if (v == 0 || (v == VMDK_GTE_ZERO && e->zero_grain))
            continue;
        uint64_t off = v * VMDK_SECTOR;
        if (v < overhead) {
            vd_check_problem(chk, "%s: grain %llu at offset %llu lies in the metadata",
                             e->path, (unsigned long long)g, (unsigned long long)off);
        } else if (!e->compressed) {
            if (off > e->file_size || e->grain > e->file_size - off)
                vd_check_problem(chk, "%s: grain %llu at offset %llu runs past the end of "
                                 "the file (%llu bytes)", e->path, (unsigned long long)g,
                                 (unsigned long long)off, (unsigned long long)e->file_size);
        } else if (e->markers) {
            uint8_t m[VMDK_GRAIN_MARKER];
            if (off > e->file_size || sizeof(m) > e->file_size - off ||
                vd_fd_pread(e->fd, e->path, m, sizeof(m), off, NULL) < 0) {
                vd_check_problem(chk, "%s: grain %llu at offset %llu is past the end of the "
                                 "file", e->path, (unsigned long long)g, (unsigned long long)off);
                continue;
            }
            uint64_t size = get_le32(m + 8);
            if (get_le64(m) != g * (e->grain / VMDK_SECTOR) || size == 0 ||
                size > e->file_size - off - sizeof(m))
                vd_check_problem(chk, "%s: grain %llu: bad grain marker at offset %llu (LBA "
                                 "%llu, %llu bytes)", e->path, (unsigned long long)g,
                                 (unsigned long long)off, (unsigned long long)get_le64(m),
                                 (unsigned long long)size);
        }
    }
}

static int read_gt(struct vmdk_extent *e, uint32_t sector, uint32_t *gt)
{
    if (vd_fd_pread(e->fd, e->path, gt, (size_t)e->gt_entries * 4,
                    (uint64_t)sector * VMDK_SECTOR, NULL) < 0)
        return -EIO;
    for (uint32_t j = 0; j < e->gt_entries; j++)
        gt[j] = get_le32(&gt[j]);
    return 0;
}

int vmdk_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
               struct vd_error **errp)
{
    (void)fd;
    (void)size;
    struct vd_image *img;
    struct vd_error *err = NULL;
    if (vd_image_open(path, "vmdk", VD_OPEN_NO_BACKING, &img, &err) < 0) {
        vd_check_problem(chk, "%s", err ? err->msg : "cannot be opened");
        vd_error_free(err);
        return 0;
    }
    struct vmdk_state *s = img->opaque;
    uint32_t *gt = malloc(VMDK_GT_ENTRIES * 4), *rgt = malloc(VMDK_GT_ENTRIES * 4);
    int ret = 0;
    if (!gt || !rgt)
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < s->n_ext && ret == 0; i++) {
        struct vmdk_extent *e = &s->ext[i];
        if (e->type != VMDK_EXT_SPARSE || e->gd64)
            continue;
        uint64_t overhead = get_le64(e->header + VMDK_H_OVERHEAD);
        for (uint32_t gi = 0; gi < e->gd_count && chk->problems < MAX_REPORTED; gi++) {
            if (!e->gd[gi])
                continue;
            if (read_gt(e, e->gd[gi], gt) < 0) {
                vd_check_problem(chk, "%s: grain table %u at sector %u cannot be read",
                                 e->path, gi, e->gd[gi]);
                continue;
            }
            bool have_r = e->rgd && e->rgd[gi] && read_gt(e, e->rgd[gi], rgt) == 0;
            if (e->rgd && !have_r)
                vd_check_problem(chk, "%s: redundant grain table %u is missing or cannot be "
                                 "read", e->path, gi);
            check_table(e, gi, gt, have_r ? rgt : NULL, overhead, chk);
        }
    }
    free(gt);
    free(rgt);
    vd_image_close(img, NULL);
    return ret;
}
