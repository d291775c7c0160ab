/* Filesystem allocation maps: which byte ranges of a volume hold data.
 * Capture reads only these; everything else of the volume is free and is
 * sent as zeros. One driver per filesystem (ntfs.c, fat.c, ext.c), listed
 * in fs.c. Drivers read through a callback so that fuzz harnesses and tests
 * can feed them memory. */
#ifndef FORMATS_FS_FS_H
#define FORMATS_FS_FS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "formats/image.h"

/* The volume being mapped: LEN bytes read through PREAD at volume-relative
 * offsets (a request past SIZE is a driver bug, never made). */
struct vd_fs_source {
    int (*pread)(void *ctx, void *buf, size_t len, uint64_t off,
                 struct vd_error **errp);
    void *ctx;
    uint64_t size;
};

struct vd_fs_extent {
    uint64_t offset;        /* bytes from the start of the volume */
    uint64_t length;
};

/* The used ranges of a volume, sorted, merged, inside [0, volume size). */
struct vd_fs_map {
    char fs_name[16];       /* "ntfs", "fat32", "ext4", ... */
    uint32_t cluster_size;  /* allocation unit in bytes */
    uint64_t used_bytes;    /* sum of the extents' lengths */
    int n_warnings;         /* e.g. $MFT clusters missing from $Bitmap */
    char warning[200];      /* the first warning, for the manifest */
    size_t count;
    size_t capacity;
    struct vd_fs_extent *ext;
};

struct vd_fs_driver {
    const char *name;
    /* Whether BOOT (the volume's first LEN >= 4096 bytes, or fewer when the
     * volume is smaller) carries this filesystem's signature. Trusts nothing. */
    int (*probe)(const uint8_t *boot, size_t len);
    /* Fills MAP (initialised empty by the caller). Every field read from
     * the volume is validated first; an inconsistency is -EUCLEAN with the
     * offset named, and the caller then reads the volume in full. */
    int (*map)(const struct vd_fs_source *src, struct vd_fs_map *map,
               struct vd_error **errp);
};

extern const struct vd_fs_driver vd_fs_ntfs;
extern const struct vd_fs_driver vd_fs_fat;
extern const struct vd_fs_driver vd_fs_ext;

/*
 * Probes the volume and maps it. Returns 0 with MAP filled, -ENOENT (no
 * error set) when no driver recognises the volume, or another negative
 * errno with *errp set when a recognised filesystem is inconsistent.
 * MAP must be freed with vd_fs_map_free() in every case.
 */
int vd_fs_map_volume(const struct vd_fs_source *src, struct vd_fs_map *map,
                     struct vd_error **errp);

/* A source over [OFFSET, OFFSET + LENGTH) of IMG; CTX must outlive it. */
struct vd_fs_image_ctx {
    struct vd_image *img;
    uint64_t offset;
};
void vd_fs_source_image(struct vd_fs_source *src, struct vd_fs_image_ctx *ctx,
                        struct vd_image *img, uint64_t offset, uint64_t length);

/* For drivers: adds [OFF, OFF + LEN) clipped to LIMIT; merges with the
 * previous extent when adjacent. Out of order adds are allowed; call
 * vd_fs_map_finish() at the end to sort and merge. */
int vd_fs_map_add(struct vd_fs_map *map, uint64_t off, uint64_t len,
                  uint64_t limit, struct vd_error **errp);
void vd_fs_map_finish(struct vd_fs_map *map);
/* Removes the extents of CUT (finished) from MAP (finished). */
int vd_fs_map_subtract(struct vd_fs_map *map, const struct vd_fs_map *cut,
                       struct vd_error **errp);
void vd_fs_map_free(struct vd_fs_map *map);
void vd_fs_map_warn(struct vd_fs_map *map, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
