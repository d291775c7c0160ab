/* LVM2 physical volumes: which logical volumes a PV holds and where, so
 * that capture reads the filesystems inside them by their allocation maps
 * and skips the PV's free extents. Read from the PV label and the text
 * metadata of its first metadata area. */
#ifndef FORMATS_FS_LVM_H
#define FORMATS_FS_LVM_H

#include <stdbool.h>
#include <stdint.h>

#include "formats/fs/fs.h"

#define VD_LVM_MAX_LVS 256
#define VD_LVM_MAX_SEGMENTS 1024    /* over all LVs */

/* A run of one LV that lies on this PV as it is (a linear segment, or a
 * stripe of a striped one). */
struct vd_lvm_segment {
    int lv;                 /* index in vd_lvm_pv.lv */
    uint64_t lv_offset;     /* bytes into the LV; meaningful for linear runs */
    uint64_t pv_offset;     /* bytes into the PV */
    uint64_t length;
};

struct vd_lvm_lv {
    char name[128];
    uint64_t size;          /* bytes */
    /* Shown to the user (status VISIBLE): not a leg, image, metadata or
     * data part of a mirror, RAID, thin pool, cache or snapshot, whose
     * bytes are not a volume's in order even when linear. */
    bool visible;
    /* Visible, and every segment linear on this PV: the LV can be read
     * here as a volume (vd_lvm_lv_source). Otherwise its runs here are
     * read in full. */
    bool linear_here;
};

struct vd_lvm_pv {
    char vg[128];
    uint64_t pe_start;      /* bytes: the first extent */
    uint64_t extent_size;   /* bytes */
    uint64_t pe_count;
    int nlv;
    struct vd_lvm_lv lv[VD_LVM_MAX_LVS];
    int nseg;
    struct vd_lvm_segment seg[VD_LVM_MAX_SEGMENTS];
};

/* Whether HEAD (the volume's first LEN >= 2048 bytes) has an LVM2 label. */
bool vd_lvm_probe(const uint8_t *head, size_t len);

/* Reads the PV behind SRC. -ENOENT (no error set) when it is not an LVM2
 * PV; -EUCLEAN when its label or metadata is inconsistent, -ENOTSUP when
 * it holds more than this reader keeps (the caller then reads it in full). */
int vd_lvm_read(const struct vd_fs_source *src, struct vd_lvm_pv *pv, struct vd_error **errp);

/* A source over logical volume LV (linear_here) of the PV behind PV_SRC;
 * CTX must outlive it. */
struct vd_lvm_lv_ctx {
    const struct vd_fs_source *pv_src;
    const struct vd_lvm_pv *pv;
    int lv;
};
void vd_lvm_lv_source(struct vd_fs_source *src, struct vd_lvm_lv_ctx *ctx,
                      const struct vd_fs_source *pv_src, const struct vd_lvm_pv *pv, int lv);

/* Maps [OFF, OFF + LEN) of LV (linear_here) to PV byte ranges, calling
 * FN for each piece. */
int vd_lvm_lv_to_pv(const struct vd_lvm_pv *pv, int lv, uint64_t off, uint64_t len,
                    int (*fn)(void *arg, uint64_t pv_off, uint64_t len), void *arg);

#endif
