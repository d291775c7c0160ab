/* A guest disk: an image opened through formats/ (raw, VHD fixed, dynamic
 * or differencing: whatever vd_image_open probes), optionally under an
 * in-memory copy-on-write overlay so that the image is never written
 * (--check, --snapshot, and CD-ROMs, which are read-only anyway). */
#ifndef VMM_DISK_H
#define VMM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct vmm_disk;
struct vd_image;

enum {
    VMM_DISK_OVERLAY = 1u << 0,     /* writes go to memory, the image is opened read-only */
    VMM_DISK_READ_ONLY = 1u << 1,   /* writes fail (CD-ROM) */
};

int vmm_disk_open(const char *path, unsigned flags, struct vmm_disk **out,
                  struct vd_error **errp);
void vmm_disk_close(struct vmm_disk *d);
uint64_t vmm_disk_size(const struct vmm_disk *d);
bool vmm_disk_read_only(const struct vmm_disk *d);
const char *vmm_disk_path(const struct vmm_disk *d);
int vmm_disk_read(struct vmm_disk *d, void *buf, size_t len, uint64_t off,
                  struct vd_error **errp);
int vmm_disk_write(struct vmm_disk *d, const void *buf, size_t len, uint64_t off,
                   struct vd_error **errp);
int vmm_disk_flush(struct vmm_disk *d, struct vd_error **errp);

/* The copy-on-write overlay (vmm/disk-overlay.c): a sparse map of 64 KiB
 * chunks over a read-only base. */
struct disk_overlay;
typedef int overlay_base_read_fn(void *ctx, void *buf, size_t len, uint64_t off,
                                 struct vd_error **errp);
int overlay_create(struct disk_overlay **out, uint64_t size, overlay_base_read_fn *base,
                   void *ctx, struct vd_error **errp);
void overlay_destroy(struct disk_overlay *o);
int overlay_read(struct disk_overlay *o, void *buf, size_t len, uint64_t off,
                 struct vd_error **errp);
int overlay_write(struct disk_overlay *o, const void *buf, size_t len, uint64_t off,
                  struct vd_error **errp);
/* Bytes of host memory the overlay's chunks hold. */
uint64_t overlay_memory(const struct disk_overlay *o);

#endif
