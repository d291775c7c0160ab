/* The image library's public API: every tool reads and writes disk images
 * through a struct vd_image, whatever the format on disk. */
#ifndef FORMATS_IMAGE_H
#define FORMATS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

struct vd_image;

/* Flags for vd_image_open(). Read-only is the default: a source image is
 * never written unless the caller asks for it. */
enum {
    VD_OPEN_WRITE = 1u << 0,       /* open for pwrite/flush */
    VD_OPEN_NO_BACKING = 1u << 1,  /* do not open the backing chain (info) */
    VD_OPEN_WRITE_BACKING = 1u << 2, /* open the backing chain writable too (commit) */
    /* Writes whose buffer, offset and length are multiples of
     * VD_DIRECT_ALIGN bypass the page cache (O_DIRECT) where the file
     * system takes it: no copy into the cache, no write-back later. The
     * rest is written through the cache as usual; flush covers both. */
    VD_OPEN_DIRECT = 1u << 3,
    /* Read-only inspection that takes no lock and so ignores another
     * process's write lock (qemu-img's -U/--force-share). */
    VD_OPEN_FORCE_SHARE = 1u << 4,
    /* A reader that lets another process write the image meanwhile (qemu's
     * share-rw): for a tool whose own helper process (qemu under
     * libguestfs) writes the file it reads. Still refused while another
     * process writes it. */
    VD_OPEN_SHARE_WRITE = 1u << 5,
    /* Whole clusters are written compressed where the format can (qcow2;
     * others ignore it): a smaller file for upload or archive. */
    VD_OPEN_COMPRESS = 1u << 6,
    /* As VD_OPEN_NO_BACKING, and a parent that cannot be found is no error
     * (vd_image_backing_path() is then NULL): for rebase -u, which names a
     * new parent for a child whose old one was moved. Drivers without
     * support fail as usual. */
    VD_OPEN_LOST_BACKING = 1u << 7,
    /* With VD_OPEN_WRITE: also repair what the format can in a clean
     * image, as check -r leaks / -r all ask (qcow2: refcounts above what
     * the tables use; with _ALL also those below it). */
    VD_OPEN_REPAIR_LEAKS = 1u << 8,
    VD_OPEN_REPAIR_ALL = 1u << 9,
    /* With VD_OPEN_WRITE: a file nobody relies on until it is closed (a
     * conversion's temporary target, renamed when complete): metadata
     * updates keep their order, so a killed process still leaves it
     * consistent, but skip the flushes that protect against a power cut
     * (which leaves only a temporary file to delete). */
    VD_OPEN_SCRATCH = 1u << 10,
};

/* The alignment of direct writes, in memory and in the file: the largest
 * logical sector size of common disks, so that one value suits all. */
#define VD_DIRECT_ALIGN 4096u

/*
 * Opens PATH as FORMAT ("raw", "vhd", or an alias such as "vpc"); with
 * FORMAT NULL the format is probed: every driver scores the file and the
 * highest score wins, raw being the fallback. Metadata is validated before
 * anything in it is trusted. A differencing image opens its parent chain
 * (resolved relative to the child) unless VD_OPEN_NO_BACKING.
 */
int vd_image_open(const char *path, const char *format, unsigned flags,
                  struct vd_image **imgp, struct vd_error **errp);

/* Refuses OUTPUT when it is the same file (device and inode, through
 * symlinks and hard links) as one of the N_INPUTS INPUTS or as any member of
 * their backing chains: an output never overwrites an input. An OUTPUT that
 * does not exist yet passes. Returns 0 or -EEXIST with errp naming both. */
int vd_output_check(const char *output, const char *const *inputs,
                    size_t n_inputs, struct vd_error **errp);
/* Opens internal snapshot SNAPSHOT (its id, or else its name) of PATH,
 * read-only: the disk as it was when the snapshot was taken (qcow2). A
 * format without internal snapshots is an error. */
int vd_image_open_snapshot(const char *path, const char *format, const char *snapshot,
                           unsigned flags, struct vd_image **imgp, struct vd_error **errp);

/* Flushes (when writable) and frees the image and its backing chain.
 * Returns the flush error, if any; the image is freed in every case. */
int vd_image_close(struct vd_image *img, struct vd_error **errp);

/* Whole-request I/O at any byte offset and length inside the virtual size;
 * a request that reaches past the end is an error (-EINVAL), never a short
 * read. pread may be called from several threads at once; so may pwrite on
 * disjoint ranges. Unallocated ranges read as zeros, or from the backing
 * image when there is one. */
int vd_image_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                   struct vd_error **errp);
int vd_image_pwrite(struct vd_image *img, const void *buf, size_t len,
                    uint64_t off, struct vd_error **errp);
/* Makes the range read as zeros, deallocating where the format can. */
int vd_image_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                          struct vd_error **errp);
int vd_image_flush(struct vd_image *img, struct vd_error **errp);
/* Grows IMG (open writable, no other I/O on it meanwhile) to SIZE bytes;
 * the new range reads as zeros, or as the parent reads it. A SIZE not above
 * the current size changes nothing. -ENOTSUP when the format or this image
 * cannot grow, with errp saying why. */
int vd_image_grow(struct vd_image *img, uint64_t size, struct vd_error **errp);
/* Makes IMG (open writable, no other I/O on it meanwhile) SIZE bytes:
 * grows as vd_image_grow, or with SHRINK set shrinks, but only over a tail
 * that reads as zeros (-ENOTEMPTY otherwise, naming the first byte of data:
 * a shrink never drops data). -ENOTSUP with "not supported for FORMAT" when
 * the format (its grow or shrink hook) cannot. */
int vd_image_resize(struct vd_image *img, uint64_t size, bool shrink, struct vd_error **errp);
/* Makes IMG (open writable, a differencing child) name PARENT (an image
 * open read-only; PARENT_ARG its path as given) as its parent; only the
 * reference changes (rebase -u). Refuses a parent whose chain holds IMG.
 * -ENOTSUP ("not supported for FORMAT") when the format cannot. */
int vd_image_set_backing(struct vd_image *img, struct vd_image *parent,
                         const char *parent_arg, struct vd_error **errp);
/* Starts writing the file's dirty pages back without waiting, so that a
 * later flush has less to wait for (a long copy calls it as it goes). A
 * hint: does nothing where the host cannot. */
void vd_image_start_writeback(struct vd_image *img);

uint64_t vd_image_size(const struct vd_image *img);
const char *vd_image_path(const struct vd_image *img);
const char *vd_image_format(const struct vd_image *img);
bool vd_image_writable(const struct vd_image *img);
/* Whether IMG must be written in order, by one thread (see format.h). */
bool vd_image_sequential(const struct vd_image *img);
/* The parent of a differencing image, or NULL (also with VD_OPEN_NO_BACKING). */
struct vd_image *vd_image_backing(const struct vd_image *img);
/* The parent's path as resolved from the child (even with
 * VD_OPEN_NO_BACKING), or NULL for an image without a parent. */
const char *vd_image_backing_path(const struct vd_image *img);

/* Block status: what a range holds, without reading its data. */
enum vd_extent_kind {
    VD_EXTENT_DATA,         /* allocated: read it */
    VD_EXTENT_ZERO,         /* known to read as zeros (allocated or not) */
    VD_EXTENT_UNALLOCATED,  /* no storage anywhere in the chain: reads as zeros */
    VD_EXTENT_BACKING,      /* only with VD_STATUS_SHALLOW: left to the parent */
};

struct vd_extent {
    uint64_t offset;
    uint64_t length;
    enum vd_extent_kind kind;
};

enum {
    /* Report the top image's own allocation: ranges it leaves to its
     * parent come back as VD_EXTENT_BACKING instead of being resolved. */
    VD_STATUS_SHALLOW = 1u << 0,
};

/* Fills *ext with the longest run of one kind that starts at OFF, at most
 * LEN bytes (LEN > 0, OFF + LEN within the size). */
int vd_image_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                          unsigned flags, struct vd_extent *ext,
                          struct vd_error **errp);

/* Where IMG's own bytes at OFF lie in its file, stored as they are (raw, a
 * fixed VHD, a present run of a dynamic VHD block): sets *file_off and *run
 * (1..LEN bytes). -ENOENT when they are not stored that way, -ENOTSUP when
 * the format cannot tell. Lets a copy map the file and read it in place. */
int vd_image_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                         uint64_t *file_off, uint64_t *run);

/*
 * Creates a new image. OPTIONS is the text of -o ("key=value,key=value",
 * or NULL); keys the format does not know are an error before anything is
 * written. BACKING (NULL for none) makes a differencing child of that
 * image; SIZE 0 then means the parent's size.
 */
int vd_image_create(const char *path, const char *format, uint64_t size,
                    const char *options, const char *backing,
                    struct vd_error **errp);

/* Changes IMG's (open writable) create options named in the -o text
 * OPTIONS in place. -EINVAL for a key the format does not have,
 * -ENOTSUP ("not supported for FORMAT") when it has no amend. */
int vd_image_amend(struct vd_image *img, const char *options, struct vd_error **errp);

/* The bytes an image of FORMAT (created with the -o OPTIONS text, may be
 * NULL) takes: of SIZE bytes and empty when SRC is NULL, else holding
 * SRC's content (SIZE is then SRC's): *required as SRC's data allocates it,
 * *full fully allocated. -ENOTSUP ("not supported for FORMAT") when the
 * format cannot tell. */
int vd_image_measure(const char *format, const char *options, uint64_t size,
                     struct vd_image *src, uint64_t *required, uint64_t *full,
                     struct vd_error **errp);

/* What `vdisk info` shows. Drivers add format-specific fields. */
#define VD_INFO_MAX_FIELDS 24
#define VD_INFO_MAX_WARNINGS 8

struct vd_info_field {
    char key[32];         /* JSON key, as qemu-img names it where it has one */
    char value[160];
    bool is_number;       /* value is a decimal integer (unquoted in JSON) */
};

struct vd_info {
    const char *format;
    uint64_t virtual_size;
    uint64_t actual_size;       /* bytes the file occupies on the host */
    uint64_t file_length;       /* bytes in the file (apparent size) */
    uint32_t cluster_size;      /* allocation unit, 0 when none */
    const char *backing_file;   /* resolved parent path or NULL */
    const char *backing_stored; /* the parent name as the image stores it
                                 * (NULL: the driver does not say) */
    int n_fields;
    struct vd_info_field fields[VD_INFO_MAX_FIELDS];
    int n_warnings;
    char warnings[VD_INFO_MAX_WARNINGS][200];
};

/* Fills INFO for IMG (which stays owner of the strings it points to). */
void vd_image_info(struct vd_image *img, struct vd_info *info);

/*
 * Structural check of the file at PATH (probed when FORMAT is NULL), without
 * trusting its metadata: every problem found is passed to REPORT, one line
 * each, naming the offset. Returns the number of problems (0: clean), or a
 * negative errno when the file cannot be checked at all. LEAKS (may be
 * NULL) gets the clusters counted but unused: space lost, not a problem.
 */
typedef void vd_check_report_fn(void *ctx, const char *problem);
int vd_image_check(const char *path, const char *format,
                   vd_check_report_fn *report, void *ctx, uint64_t *leaks,
                   struct vd_error **errp);

/* The registered formats' names in probe order ("vhd, raw"), for --help
 * and error messages. Recognised-only formats are not among them. */
void vd_format_list(char *buf, size_t len);
/* Whether NAME (or an alias) is registered, recognised-only ones included
 * (opening or creating those fails naming the format). */
bool vd_format_known(const char *name);

/* What a format can do: the lists every tool shows and accepts are derived
 * from the registry through these, so that no tool names a format. */
enum {
    VD_FORMAT_READ = 1u << 0,       /* opens and reads (not only recognised) */
    VD_FORMAT_CREATE = 1u << 1,     /* vdisk create, convert -O */
    VD_FORMAT_CHILD = 1u << 2,      /* creates a differencing child (-b) */
    VD_FORMAT_TARGET = 1u << 3,     /* created and written in place (p2v serve -O) */
    VD_FORMAT_COMPRESS = 1u << 4,   /* writes compressed clusters (convert -c) */
};
bool vd_format_can(const char *name, unsigned caps);
/* ", "-separated names of the formats that can do all of CAPS, each with
 * its aliases ("vhd (alias vpc)") when ALIASES; 0 CAPS: the recognised-only
 * ones. */
void vd_format_list_caps(unsigned caps, bool aliases, char *buf, size_t len);
/* The output format used when the user names none (p2v serve, the
 * children drivers-inject writes). */
const char *vd_format_default(void);
/* The format whose name or alias is PATH's extension ("x.vpc": vhd) and
 * that can do CAPS, or NULL. */
const char *vd_format_by_extension(const char *path, unsigned caps);
/* The create options of a whole-disk copy target of FORMAT, or NULL. */
const char *vd_format_target_options(const char *format);
/* Prints, for every format that can be created, "FMT options:" and its
 * create options (vdisk create --help). */
void vd_format_print_all_options(FILE *out);

/* Whether OPTIONS (the text of -o, may be NULL) is well formed and every
 * key is a create option of FORMAT: a tool can then call a bad -o a usage
 * error before doing anything. Returns 0 or -EINVAL with errp set. */
int vd_format_check_options(const char *format, const char *options,
                            struct vd_error **errp);
/* Prints the create options FORMAT accepts, one "  key: help" line each;
 * returns -EINVAL for an unknown format. */
int vd_format_print_options(const char *format, FILE *out);

#endif
