/* qcow2 (QEMU copy-on-write v2 and v3, docs/interop/qcow2.txt in QEMU):
 * on-disk layout and what qcow2.c, qcow2-write.c and qcow2-check.c share.
 * Every on-disk field is big-endian. */
#ifndef FORMATS_QCOW2_H
#define FORMATS_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/format.h"

#define QCOW2_MAGIC 0x514649fbu     /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
/* QEMU's limits: a 32 MiB L1 table and 8 MiB refcount table; we accept
 * the same and no more, so a crafted header cannot make us allocate more. */
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_RT_BYTES (8u << 20)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_BACKING_NAME 1023
/* A virtual size limit that keeps every offset computation far from
 * overflow (QEMU's is 2^61 - 1 - cluster size). */
#define QCOW2_MAX_SIZE (1ull << 61)

/* Header field offsets. */
enum {
    Q_H_MAGIC = 0, Q_H_VERSION = 4, Q_H_BACKING_OFF = 8, Q_H_BACKING_LEN = 16,
    Q_H_CLUSTER_BITS = 20, Q_H_SIZE = 24, Q_H_CRYPT = 32, Q_H_L1_SIZE = 36,
    Q_H_L1_OFF = 40, Q_H_RT_OFF = 48, Q_H_RT_CLUSTERS = 56, Q_H_NB_SNAPSHOTS = 60,
    Q_H_SNAPSHOTS_OFF = 64,
    /* version 3 */
    Q_H_INCOMPAT = 72, Q_H_COMPAT = 80, Q_H_AUTOCLEAR = 88, Q_H_REFCOUNT_ORDER = 96,
    Q_H_HEADER_LEN = 100, Q_H_COMPRESSION = 104,
};
#define QCOW2_V2_HEADER_LEN 72u
#define QCOW2_V3_HEADER_LEN 104u

enum {
    QCOW2_INCOMPAT_DIRTY = 1u << 0,
    QCOW2_INCOMPAT_CORRUPT = 1u << 1,
    QCOW2_INCOMPAT_DATA_FILE = 1u << 2,
    QCOW2_INCOMPAT_COMPRESSION = 1u << 3,
    QCOW2_INCOMPAT_EXTL2 = 1u << 4,
    QCOW2_INCOMPAT_KNOWN = 0x1f,
};
#define QCOW2_COMPAT_LAZY_REFCOUNTS 1u
#define QCOW2_AUTOCLEAR_BITMAPS 1u
#define QCOW2_AUTOCLEAR_DATA_RAW 2u

/* Header extensions. */
enum {
    QCOW2_EXT_END = 0,
    QCOW2_EXT_BACKING_FORMAT = 0xe2792aca,
    QCOW2_EXT_FEATURES = 0x6803f857,
    QCOW2_EXT_BITMAPS = 0x23852875,
    QCOW2_EXT_CRYPTO = 0x0537be77,
    QCOW2_EXT_DATA_FILE = 0x44415441,
};

/* L1 and L2 entries. */
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO 1ull
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_L1_RESERVED 0x7f000000000001ffull
#define QCOW2_SUBCLUSTERS 32

enum qcow2_compression { QCOW2_ZLIB = 0, QCOW2_ZSTD = 1 };

/* An internal snapshot's table entry, as far as we use it. */
struct qcow2_snapshot {
    uint64_t l1_offset;
    uint32_t l1_size;
    uint64_t disk_size;
    uint32_t date_sec;
    uint64_t vm_state_size;
    char id[32];
    char name[96];
};

/* The driver's per-image state (img->opaque). */
struct qcow2_state {
    uint32_t version;
    uint32_t cluster_bits;
    uint32_t cluster_size;
    uint64_t file_size;         /* grows with allocation (atomic: readers clamp to it) */
    bool ext_l2;                /* 16-byte L2 entries with subcluster bitmaps */
    uint32_t l2_entry_size;     /* 8 or 16 */
    uint32_t l2_entries;        /* per L2 table */
    uint32_t subcluster_size;
    enum qcow2_compression compression;
    uint64_t incompat, compat, autoclear;
    uint32_t refcount_order;
    uint64_t header_len;
    /* Active L1 table (host order, with flags), published with atomics. */
    uint64_t *l1;
    uint32_t l1_size;
    uint64_t l1_offset;
    /* Refcount table (host order). */
    uint64_t *rt;
    uint32_t rt_entries;
    uint64_t rt_offset;
    uint32_t rt_clusters;
    /* Snapshots, for info. */
    struct qcow2_snapshot *snapshots;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    char backing_name[QCOW2_MAX_BACKING_NAME + 1];
    char backing_format[64];
    /* External data file: guest data lives there, not in img->fd. */
    int data_fd;
    char *data_path;
    /* Writing: the next free host cluster (append-only allocation), and
     * one lock for every metadata update and cluster allocation. */
    uint64_t next_free;
    /* VD_OPEN_COMPRESS: whole clusters are compressed (outside the lock,
     * so writers compress in parallel) and packed one after the other
     * from comp_pos in the arena, clusters [arena_first, arena_end) taken
     * ahead for them (comp_pos 0: no arena). */
    bool compress;
    uint64_t comp_pos;
    uint64_t arena_first, arena_end;
    pthread_mutex_t lock;
    bool lock_ready;
};

/* Parses and validates the header in BUF (LEN bytes read from offset 0 of a
 * FILE_SIZE-byte file) into S: the fields, extensions, backing name and
 * feature bits. Does not read tables. Errors name PATH. */
int qcow2_parse_header(struct qcow2_state *s, const uint8_t *buf, size_t len,
                       uint64_t file_size, const char *path, struct vd_error **errp);

/* Reads the refcount of host cluster INDEX from a refcount block of S
 * (REFCOUNT_ORDER bits per entry, packed as QEMU packs them). */
uint64_t qcow2_refcount_get(const uint8_t *block, uint32_t order, uint64_t index);
void qcow2_refcount_set(uint8_t *block, uint32_t order, uint64_t index, uint64_t value);

/* Decompresses a compressed cluster: IN (IN_LEN bytes) into OUT
 * (cluster_size bytes). -EIO when the data does not decode to exactly one
 * cluster. */
int qcow2_decompress(enum qcow2_compression type, const uint8_t *in, size_t in_len,
                     uint8_t *out, size_t out_len);

/* The host offset and byte length of a compressed cluster's data. */
void qcow2_compressed_extent(const struct qcow2_state *s, uint64_t l2, uint64_t *off,
                             uint64_t *len);

int qcow2_create(const char *path, const struct vd_create_args *args,
                 struct vd_error **errp);
int qcow2_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                 struct vd_error **errp);
int qcow2_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                       struct vd_error **errp);
/* Prepares S for writing (lock, next free cluster); called by open. */
/* Ends the arena of compressed clusters (see qcow2-write.c), under the
 * lock; the flush before close does it. */
int qcow2_close_arena(struct vd_image *img, struct vd_error **errp);
int qcow2_open_write(struct vd_image *img, struct qcow2_state *s, unsigned flags,
                     struct vd_error **errp);
/* vdisk resize (format.h's grow and shrink hooks). */
int qcow2_grow(struct vd_image *img, uint64_t size, struct vd_error **errp);
int qcow2_shrink(struct vd_image *img, uint64_t size, struct vd_error **errp);
/* vdisk measure: our own layout (format.h's measure hook). */
int qcow2_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                  uint64_t *full, struct vd_error **errp);
/* vdisk amend: compat and lazy_refcounts (format.h's amend hook). */
int qcow2_amend(struct vd_image *img, const struct vd_options *opts, struct vd_error **errp);
/* vdisk rebase (format.h's set_backing hook). */
int qcow2_set_backing(struct vd_image *img, struct vd_image *parent, const char *parent_arg,
                      struct vd_error **errp);
/* Recomputes the refcount of every host cluster of the file (FD, SIZE
 * bytes) from its tables into *refs (malloc()ed, *n entries); problems found
 * on the way go to CHK. */
int qcow2_count_refs(int fd, const char *path, uint64_t size, struct vd_check *chk,
                     uint32_t **refs, uint64_t *n, struct vd_error **errp);
int qcow2_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
                struct vd_error **errp);

/* Reads guest bytes [off, off + len) of one cluster (used by writers for
 * the old content of a partly written cluster). */
int qcow2_read_cluster_part(struct vd_image *img, uint64_t off, uint8_t *buf, size_t len,
                            struct vd_error **errp);
/* The L2 entry (and, with extended L2, its bitmap) for guest cluster CI.
 * *l2_table is the L2 table's host offset (0: none). */
int qcow2_l2_lookup(struct vd_image *img, uint64_t ci, uint64_t *entry, uint64_t *bitmap,
                    uint64_t *l2_table, struct vd_error **errp);

#endif
