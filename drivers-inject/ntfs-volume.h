/* An NTFS volume inside a disk image, through libntfs-3g with a device
 * backed by the image library (so raw, VHD and differencing chains all
 * work, and nothing is mounted on the host). Paths use '\' or '/',
 * are relative to the volume root and are looked up case-insensitively. */
#ifndef DRIVERS_INJECT_NTFS_VOLUME_H
#define DRIVERS_INJECT_NTFS_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "formats/image.h"

struct ntfs_vol;

/* Silences libntfs-3g's own logging: errors reach the user once, as
 * vd_error. Call once at start-up. */
void ntfs_vol_quiet(void);

/* Whether the 512-byte sector is an NTFS boot sector. */
bool ntfs_boot_sector_is_ntfs(const uint8_t *sector);

/* Mounts the volume at OFFSET/LENGTH of IMG; WRITABLE needs IMG writable.
 * A read-only mount never writes a byte. */
int ntfs_vol_open(struct vd_image *img, uint64_t offset, uint64_t length,
                  bool writable, struct ntfs_vol **volp, struct vd_error **errp);
/* Unmounts (flushing when writable). */
int ntfs_vol_close(struct ntfs_vol *vol, struct vd_error **errp);

bool ntfs_vol_exists(struct ntfs_vol *vol, const char *path);
bool ntfs_vol_is_dir(struct ntfs_vol *vol, const char *path);
/* Reads a whole file (at most MAX bytes) into a malloc'd buffer. A missing
 * file is -ENOENT. */
int ntfs_vol_read(struct ntfs_vol *vol, const char *path, size_t max,
                  uint8_t **datap, size_t *lenp, struct vd_error **errp);
/* Creates or replaces the file's contents; missing parent directories are
 * created. */
int ntfs_vol_write(struct ntfs_vol *vol, const char *path, const uint8_t *data,
                   size_t len, struct vd_error **errp);
int ntfs_vol_mkdir_p(struct ntfs_vol *vol, const char *path, struct vd_error **errp);

#endif
