/* VMDK (VMware Virtual Disk Format 5.0): on-disk layout and what vmdk.c,
 * vmdk-desc.c, vmdk-stream.c and vmdk-create.c share. Sparse extent
 * headers, grain tables and markers are little-endian; the descriptor is
 * text ("key=value" lines and extent lines). */
#ifndef FORMATS_VMDK_H
#define FORMATS_VMDK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/format.h"

#define VMDK_SECTOR 512u
#define VMDK_MAGIC 0x564d444bu          /* "KDMV" */
#define VMDK_GD_AT_END UINT64_MAX       /* streamOptimized: see the footer */
#define VMDK_FLAG_NL_TEST (1u << 0)
#define VMDK_FLAG_RGD (1u << 1)
#define VMDK_FLAG_ZERO_GRAIN (1u << 2)
#define VMDK_FLAG_COMPRESSED (1u << 16)
#define VMDK_FLAG_MARKERS (1u << 17)
#define VMDK_COMPRESS_DEFLATE 1
#define VMDK_GTE_ZERO 1u                /* a zeroed grain (with VMDK_FLAG_ZERO_GRAIN) */
#define VMDK_DEFAULT_GRAIN (64u << 10)
#define VMDK_GT_ENTRIES 512u
/* Limits against crafted headers: a 64 TiB disk is far beyond any VMDK
 * in use (ESXi stops at 62 TiB), a descriptor is a few hundred bytes. */
#define VMDK_MAX_SIZE (64ull << 40)
#define VMDK_MAX_GRAIN (1u << 20)
#define VMDK_MAX_DESC (1u << 20)
#define VMDK_MAX_EXTENTS 4096
/* Grain directory entries: 64 TiB in 64 KiB grains, 512 per table, needs
 * 2M; the bound keeps a crafted header from sizing the directory. */
#define VMDK_MAX_GD (4u << 20)
#define VMDK_CID_NONE 0xffffffffu

/* Sparse extent header field offsets (512 bytes). */
enum {
    VMDK_H_MAGIC = 0, VMDK_H_VERSION = 4, VMDK_H_FLAGS = 8, VMDK_H_CAPACITY = 12,
    VMDK_H_GRAIN = 20, VMDK_H_DESC_OFF = 28, VMDK_H_DESC_SIZE = 36,
    VMDK_H_GT_ENTRIES = 44, VMDK_H_RGD_OFF = 48, VMDK_H_GD_OFF = 56,
    VMDK_H_OVERHEAD = 64, VMDK_H_UNCLEAN = 72, VMDK_H_NL_CHARS = 73,
    VMDK_H_COMPRESS = 77,
};

/* Stream markers: {u64 val; u32 size; u32 type}; size != 0 is a grain
 * marker (val = LBA in sectors, then SIZE compressed bytes), else a
 * metadata marker of one sector followed by VAL sectors of metadata. */
enum { VMDK_MARKER_EOS = 0, VMDK_MARKER_GT = 1, VMDK_MARKER_GD = 2, VMDK_MARKER_FOOTER = 3 };
#define VMDK_GRAIN_MARKER 12u

/* ---- descriptor (vmdk-desc.c) ---- */

/* SESPARSE is read through the SPARSE paths once open. */
enum vmdk_ext_type { VMDK_EXT_FLAT, VMDK_EXT_SPARSE, VMDK_EXT_ZERO, VMDK_EXT_SESPARSE };

struct vmdk_desc_extent {
    bool read_only;
    uint64_t sectors;
    enum vmdk_ext_type type;
    char *file;                 /* as written (NULL for ZERO) */
    uint64_t offset;            /* FLAT: first sector in the file */
};

struct vmdk_desc {
    uint32_t cid, parent_cid;
    char create_type[40];
    char *parent_hint;          /* parentFileNameHint, or NULL */
    char adapter[24];           /* ddb.adapterType */
    char hwversion[12];         /* ddb.virtualHWVersion */
    char uuid[64];              /* ddb.uuid */
    uint32_t cylinders, heads, sectors;
    int n_extents;
    struct vmdk_desc_extent *extents;
};

/* Parses descriptor TEXT (LEN bytes, need not be terminated). Returns 0, or
 * -EINVAL with WHY set to what is wrong (naming the line). Extents are
 * checked for syntax only; vmdk_desc_free() in every case. */
int vmdk_desc_parse(const char *text, size_t len, struct vmdk_desc *d, char *why,
                    size_t why_len);
void vmdk_desc_free(struct vmdk_desc *d);
/* Whether TEXT looks like a descriptor file (for the probe). */
bool vmdk_desc_probe(const uint8_t *text, size_t len);

/* ---- the open image (vmdk.c) ---- */

struct vmdk_extent {
    enum vmdk_ext_type type;
    bool read_only;             /* RDONLY or NOACCESS in the descriptor */
    uint64_t start, length;     /* bytes of the virtual disk */
    int fd;                     /* -1 for ZERO; may be img->fd */
    char *path;
    uint64_t file_size;
    uint64_t flat_offset;       /* FLAT: byte offset of the data in the file */
    /* SPARSE */
    uint8_t header[VMDK_SECTOR];
    uint32_t version, flags;
    uint32_t grain;             /* bytes */
    uint32_t gt_entries;
    uint64_t gd_off, rgd_off;   /* bytes; rgd 0 when none */
    uint32_t gd_count;
    uint32_t *gd, *rgd;         /* host order, sectors */
    bool compressed, markers, zero_grain;
    uint64_t data_end;          /* where new grains go */
    /* seSparse: 64-bit directory, table and grain areas (bytes) */
    uint64_t *gd64;
    uint64_t gt_base, grains_base;
};

struct vmdk_stream;

struct vmdk_state {
    struct vmdk_desc desc;
    bool embedded;              /* the descriptor is inside a sparse extent */
    int n_ext;
    struct vmdk_extent *ext;
    struct vmdk_stream *stream; /* streamOptimized being written */
    uint64_t cid_at;            /* file offset of the CID's hex digits, 0: none */
    unsigned cid_digits;        /* how many there are (1-8) */
    bool cid_changed;           /* a new CID was written for this open */
    pthread_mutex_t lock;       /* grain and grain table allocation */
    bool lock_ready;
};

/* ---- seSparse (vmdk-sesparse.c) ---- */

/* Validates the headers of the seSparse extent E (fd, path, file_size and
 * length set) and loads its directory; E then reads as a SPARSE extent. */
int vmdk_sesparse_setup(struct vmdk_extent *e, struct vd_error **errp);
/* Grain table entries of N grains from G, as read_gtes in vmdk.c gives
 * them: 0 unallocated, VMDK_GTE_ZERO, else the grain's sector. */
int vmdk_sesparse_gtes(struct vmdk_extent *e, uint64_t g, uint32_t n, uint64_t *out,
                       struct vd_error **errp);

/* ---- streamOptimized writer (vmdk-stream.c) ---- */

/* Starts writing a freshly created streamOptimized extent E of IMG. */
int vmdk_stream_start(struct vd_image *img, struct vmdk_extent *e, struct vd_error **errp);
/* Appends data at OFF (not before earlier writes). */
int vmdk_stream_write(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                      struct vd_error **errp);
/* Writes what is pending and the tables, footer and end-of-stream marker;
 * a later write continues the stream from before the tables. */
int vmdk_stream_flush(struct vd_image *img, struct vd_error **errp);
void vmdk_stream_free(struct vmdk_stream *st);
/* Writes the grain directory GD (NULL: all empty), the footer (HEADER with
 * the directory's offset) and the end-of-stream marker at POS, and ends the
 * file there. */
int vmdk_stream_tail(int fd, const char *path, const uint8_t header[VMDK_SECTOR],
                     const uint32_t *gd, uint32_t gd_count, uint64_t pos,
                     struct vd_error **errp);

/* Fills a sparse extent header. */
void vmdk_header_init(uint8_t h[VMDK_SECTOR], uint32_t version, uint32_t flags,
                      uint64_t capacity_sectors, uint32_t grain_sectors,
                      uint64_t desc_off, uint64_t desc_size, uint64_t rgd_off,
                      uint64_t gd_off, uint64_t overhead);

/* vdisk measure (format.h's measure hook; vmdk-create.c knows the layout). */
int vmdk_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                 uint64_t *full, struct vd_error **errp);
int vmdk_create(const char *path, const struct vd_create_args *args,
                struct vd_error **errp);
int vmdk_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
               struct vd_error **errp);

/* The parent's path as a child at CHILD names it (parentFileNameHint): its
 * bare name when both share a folder, else its absolute path. *OUT is
 * malloc'd. (vmdk-create.c) */
int vmdk_parent_hint(const char *child, const char *parent, char **out,
                     struct vd_error **errp);

#endif
