/* The Windows system volume, whatever its filesystem: NTFS through
 * libntfs-3g (ntfs-volume.c) or FAT through mtools (fat-volume.c), both
 * over the image library so that every image format works. Paths are
 * relative to the volume root, '\' or '/' separated, case-insensitive. */
#ifndef DRIVERS_INJECT_VOLUME_H
#define DRIVERS_INJECT_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "formats/image.h"

struct guest_vol;

struct guest_vol_ops {
    const char *name;           /* "NTFS", "FAT" */
    /* Whether the boot sector is this filesystem's. */
    bool (*probe)(const uint8_t *sector);
    int (*open)(struct vd_image *img, uint64_t offset, uint64_t length, bool writable,
                void **privp, struct vd_error **errp);
    bool (*exists)(void *priv, const char *path);
    /* A missing file is -ENOENT. */
    int (*read)(void *priv, const char *path, size_t max, uint8_t **datap, size_t *lenp,
                struct vd_error **errp);
    /* Creates or replaces the file, creating missing directories. */
    int (*write)(void *priv, const char *path, const uint8_t *data, size_t len,
                 struct vd_error **errp);
    /* Flushes a writable volume and frees it. */
    int (*close)(void *priv, struct vd_error **errp);
    /* The filesystem's own checker, run read-only on a copy of the volume
     * as CHECKER -n COPY: exit 0 means clean. */
    const char *checker;
    const char *checker_flag;       /* one more flag before COPY, or NULL */
    const char *checker_package;    /* Debian package that has it */
    /* Our own checks on that copy (NULL for none): 0 clean, 1 damaged with
     * PROBLEM filled in, or -errno. */
    int (*check)(const char *copy, char *problem, size_t len, struct vd_error **errp);
};

/* Opens the volume at OFFSET/LENGTH with the first filesystem whose probe
 * accepts its boot sector; -ENOTSUP when none does. */
int vol_open(struct vd_image *img, uint64_t offset, uint64_t length, bool writable,
             struct guest_vol **volp, struct vd_error **errp);
int vol_close(struct guest_vol *vol, struct vd_error **errp);
const char *vol_fs_name(const struct guest_vol *vol);
bool vol_exists(struct guest_vol *vol, const char *path);
int vol_read(struct guest_vol *vol, const char *path, size_t max, uint8_t **datap,
             size_t *lenp, struct vd_error **errp);
int vol_write(struct guest_vol *vol, const char *path, const uint8_t *data, size_t len,
              struct vd_error **errp);

/*
 * Checks the volume at OFFSET/LENGTH of IMG with its filesystem's own
 * checker (fsck.fat -n, ntfsfix -n, e2fsck -n -f) on a sparse copy in
 * $TMPDIR (only the allocated extents are copied): 0 clean, 1 damaged
 * (PROBLEM says how, in the checker's words), -ENOTSUP for no known
 * filesystem, -EAGAIN for an ext volume whose journal awaits recovery (not
 * judged), other -errno when it cannot check (the checker is not
 * installed, say).
 */
int vol_check(struct vd_image *img, uint64_t offset, uint64_t length, char *problem, size_t len,
              struct vd_error **errp);

/* Copies LENGTH bytes at OFFSET of IMG into the file PATH (created or
 * truncated), leaving holes where the image has none of its own data. */
int vol_export(struct vd_image *img, uint64_t offset, uint64_t length, const char *path,
               struct vd_error **errp);
/* Runs ARGV (no shell) with stdin from /dev/null and stdout and stderr to
 * OUTPUT (NULL: /dev/null); returns its exit status, -errno when it cannot
 * run, 127 when it is not installed. */
int vol_run(const char *const argv[], const char *output);
/* A temporary file name in $TMPDIR: "TMPDIR/p2vkit-WHAT-XXXXXX", created. */
int vol_temp(const char *what, char *buf, size_t len, struct vd_error **errp);

extern const struct guest_vol_ops ntfs_vol_ops, fat_vol_ops;

#endif
