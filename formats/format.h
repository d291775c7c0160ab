/* The format driver contract: one static const struct vd_format per format,
 * listed in formats/registry.c. Only format drivers and the core include it. */
#ifndef FORMATS_FORMAT_H
#define FORMATS_FORMAT_H

#include <pthread.h>
#include <sys/types.h>

#include "formats/image.h"

struct vd_check;

/* The core's handle; drivers keep their own state in `opaque`. */
struct vd_image {
    const struct vd_format *drv;
    void *opaque;               /* drv->instance_size zeroed bytes */
    char *path;
    int fd;
    int direct_fd;              /* O_DIRECT twin of fd (VD_OPEN_DIRECT), or -1 */
    /* The host file's last extent found by SEEK_DATA/SEEK_HOLE, read-only
     * images only: tmpfs answers those by walking every page up to the
     * next change, so a copy asking chunk by chunk would walk a long data
     * run again for each chunk (and 8 workers queue on the inode lock). */
    pthread_mutex_t seek_lock;
    uint64_t seek_start, seek_end;  /* [start, end), empty when end == 0 */
    enum vd_extent_kind seek_kind;
    bool direct_refused;        /* a direct write got EINVAL: use fd only */
    bool writable;
    /* Set by a driver's open when it can only append: pwrite must then come
     * from one thread at a time, in increasing offset order, each range
     * once (streamOptimized VMDK). The driver spreads its own work (such
     * as compression) over the cores. Read with vd_image_sequential(). */
    bool sequential_write;
    uint64_t size;              /* virtual size: set by drv->open */
    struct vd_image *backing;   /* parent, opened by vd_image_open_backing */
    char *backing_path;         /* resolved parent path, set by the driver */
    const struct vd_image *child;   /* while opening a chain: loop detection */
    /* vd_image_open_snapshot: the internal snapshot to open (id or name);
     * a driver that opens it sets this back to NULL. */
    const char *snapshot;
    dev_t st_dev;               /* identity of the file, for loop detection */
    ino_t st_ino;
    struct image_lock *lock;    /* this process's lock on the file, or NULL */
    int lock_use;               /* how the lock counts this handle */
};

/* What a probe sees: the first bytes of the file and its last 1 KiB. */
struct vd_probe {
    const char *path;
    uint64_t file_size;
    const uint8_t *head;        /* file start */
    size_t head_len;            /* up to 64 KiB, less for smaller files */
    const uint8_t *tail;        /* the last tail_len bytes of the file */
    size_t tail_len;            /* up to 1024 */
};

/* A parsed -o option list; drivers read keys with vd_options_get(). */
struct vd_option {
    const char *key;
    const char *value;
};

struct vd_options {
    int count;
    struct vd_option items[32];
};

/* Returns the value of KEY, or NULL when not given. */
const char *vd_options_get(const struct vd_options *opts, const char *key);

/* A create option a driver accepts; the core rejects any other key. */
struct vd_option_desc {
    const char *key;
    const char *help;
};

struct vd_create_args {
    uint64_t size;                  /* requested virtual size in bytes */
    const struct vd_options *opts;
    /* Differencing child: the parent, opened read-only (NULL: none). */
    struct vd_image *backing;
    const char *backing_arg;        /* the parent path as the user gave it */
};

struct vd_format {
    const char *name;                   /* "vhd" */
    const char *const *aliases;         /* NULL-terminated, or NULL */
    const char *description;
    size_t instance_size;               /* bytes of img->opaque */
    /* create takes a backing image (a differencing child). */
    bool differencing;
    /* pwrite compresses whole clusters when opened with VD_OPEN_COMPRESS. */
    bool compression;
    /* The -o options of a new whole-disk copy target (p2v serve), or NULL. */
    const char *target_options;

    /* Scores 0..100 how surely the file is this format, from magic numbers
     * only (100: certain; raw answers 1). Must not trust any field. A
     * format with a probe and no pread is recognised only (foreign.c): the
     * core refuses its files by name instead of reading them as raw. */
    int (*probe)(const struct vd_probe *p);

    /* Validates all metadata before trusting it, sets img->size, and for a
     * differencing image sets img->backing_path and, unless
     * VD_OPEN_NO_BACKING, calls vd_image_open_backing(). img->fd is open
     * (O_RDWR when img->writable). */
    int (*open)(struct vd_image *img, unsigned flags, struct vd_error **errp);
    /* Frees driver state; called once after a successful open. */
    void (*close)(struct vd_image *img);

    /* OFF + LEN is within img->size; may run concurrently from several
     * threads. Read the parent for ranges left to it. */
    int (*pread)(struct vd_image *img, void *buf, size_t len, uint64_t off,
                 struct vd_error **errp);
    /* NULL for a read-only format. Concurrent calls touch disjoint ranges;
     * the driver serialises its own metadata updates. Must be crash-safe:
     * data reaches the file before metadata that points at it. */
    int (*pwrite)(struct vd_image *img, const void *buf, size_t len,
                  uint64_t off, struct vd_error **errp);
    /* May be NULL: the core then writes zero buffers through pwrite. */
    int (*write_zeroes)(struct vd_image *img, uint64_t len, uint64_t off,
                        struct vd_error **errp);
    /* May be NULL: the core then fdatasync()s the file. */
    int (*flush)(struct vd_image *img, struct vd_error **errp);

    /* Makes IMG (writable) SIZE bytes, more than img->size; the new range
     * reads as zeros (or as the parent reads it). No other I/O runs on IMG
     * meanwhile. May be NULL: the format cannot grow. */
    int (*grow)(struct vd_image *img, uint64_t size, struct vd_error **errp);
    /* Makes IMG (writable) SIZE bytes, less than img->size; the core has
     * checked that the dropped tail reads as zeros. No other I/O runs on
     * IMG meanwhile. May be NULL: the format cannot shrink (vdisk resize
     * --shrink then says "not supported for FORMAT"). */
    int (*shrink)(struct vd_image *img, uint64_t size, struct vd_error **errp);
    /* Makes IMG (writable, a differencing child) name PARENT (open
     * read-only; PARENT_ARG is its path as the user gave it) as its parent,
     * changing nothing else: the caller has already copied whatever must
     * stay (rebase's safe mode). Crash-safe: IMG names the old parent or
     * the new one. May be NULL: vdisk rebase then says "not supported for
     * FORMAT". */
    int (*set_backing)(struct vd_image *img, struct vd_image *parent,
                       const char *parent_arg, struct vd_error **errp);

    /* Longest single-kind run at OFF, at most LEN bytes, describing this
     * image only: ranges left to the parent are VD_EXTENT_BACKING (the core
     * resolves them). May be NULL: everything is data. */
    int (*block_status)(struct vd_image *img, uint64_t off, uint64_t len,
                        struct vd_extent *ext, struct vd_error **errp);

    /* Creates PATH (which does not exist yet) from ARGS. */
    int (*create)(const char *path, const struct vd_create_args *args,
                  struct vd_error **errp);
    const struct vd_option_desc *create_options;   /* {NULL} terminated */

    /* Changes in place the create options OPTS names (keys already checked
     * against create_options) where the format can; an option that cannot
     * change in place is an error naming it. May be NULL: vdisk amend then
     * says "not supported for FORMAT". */
    int (*amend)(struct vd_image *img, const struct vd_options *opts,
                 struct vd_error **errp);

    /* How many bytes an image of this format takes when created from ARGS
     * (args->backing NULL) and filled with SRC's content (NULL: empty):
     * *required with SRC's data, *full with every byte allocated. Count
     * SRC's data with vd_image_count_data(). May be NULL: vdisk measure
     * says "not supported for FORMAT". */
    int (*measure)(const struct vd_create_args *args, struct vd_image *src,
                   uint64_t *required, uint64_t *full, struct vd_error **errp);

    /* Format-specific fields for vdisk info. May be NULL. */
    void (*info)(struct vd_image *img, struct vd_info *info);

    /* Where the bytes at OFF are stored as they are in img->fd: sets
     * *file_off and *run (1..LEN contiguous bytes of this image's own
     * data). -ENOENT when they are not (unallocated, the parent's, or
     * encoded). May be NULL: never. Lets a copy read the file in place. */
    int (*file_extent)(struct vd_image *img, uint64_t off, uint64_t len,
                       uint64_t *file_off, uint64_t *run);

    /* Structural check of an unopened file of SIZE bytes: reports every
     * problem with vd_check_problem() and must not trust any field. Returns
     * 0, or a negative errno (with errp set) when it cannot check at all.
     * May be NULL: the format has no structure to check. */
    int (*check)(int fd, const char *path, uint64_t size, struct vd_check *chk,
                 struct vd_error **errp);
};

/* Problem reporting for drivers' check hooks. */
struct vd_check {
    vd_check_report_fn *report;
    void *ctx;
    int problems;
    uint64_t leaks;             /* clusters counted but unused (qcow2) */
};

void vd_check_problem(struct vd_check *chk, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* For drivers: opens the parent at img->backing_path (probing its format)
 * with the flags the child was opened with, and refuses loops. */
int vd_image_open_backing(struct vd_image *img, unsigned flags,
                          struct vd_error **errp);

/* For drivers: full pread/pwrite on img->fd with EINTR and short-transfer
 * handling; errors name the file and offset. vd_file_pwrite goes direct
 * (VD_OPEN_DIRECT) when the buffer, length and offset are aligned. */
int vd_file_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                  struct vd_error **errp);
int vd_file_pwrite(struct vd_image *img, const void *buf, size_t len,
                   uint64_t off, struct vd_error **errp);
/* Whether aligned writes of IMG bypass the cache; a driver then lays its
 * data out on VD_DIRECT_ALIGN boundaries where it can. */
bool vd_file_direct(const struct vd_image *img);
/* The same on a bare descriptor (create, check). */
int vd_fd_pread(int fd, const char *path, void *buf, size_t len, uint64_t off,
                struct vd_error **errp);
int vd_fd_pwrite(int fd, const char *path, const void *buf, size_t len,
                 uint64_t off, struct vd_error **errp);

/* For measure hooks: how many UNIT-sized, UNIT-aligned pieces of SRC hold
 * data (anything but zeros, as block status says). */
int vd_image_count_data(struct vd_image *src, uint64_t unit, uint64_t *count,
                        struct vd_error **errp);

/* For drivers whose bytes sit in the file as they are (raw, fixed VHD):
 * host holes are ZERO, everything else DATA. */
int vd_file_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                         struct vd_extent *ext);

/* Adds a format-specific field to INFO (printf-style value). */
void vd_info_add(struct vd_info *info, const char *key, bool is_number,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void vd_info_warn(struct vd_info *info, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The registry (formats/registry.c): every driver, in probe order. */
extern const struct vd_format *const vd_formats[];
const struct vd_format *vd_format_find(const char *name);
/* 0 when DRV can be opened; for a recognised-only format, the error
 * "PATH: NAME images are not supported yet" (PATH may be NULL). */
int vd_format_refuse_foreign(const struct vd_format *drv, const char *path,
                             struct vd_error **errp);

extern const struct vd_format vd_format_raw;
extern const struct vd_format vd_format_vhd;
extern const struct vd_format vd_format_vmdk;
extern const struct vd_format vd_format_vhdx;
/* Recognised, not supported (foreign.c). */
extern const struct vd_format vd_format_qcow2;
extern const struct vd_format vd_format_vdi;
/* Recognised, not supported (foreign.c). */
extern const struct vd_format vd_format_qcow_foreign, vd_format_cowd_foreign,
    vd_format_parallels_foreign, vd_format_qed_foreign, vd_format_dmg_foreign,
    vd_format_luks_foreign;

#endif
