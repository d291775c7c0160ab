/* VHDX (MS-VHDX v4.0) on-disk layout and the state shared by vhdx.c and
 * vhdx-log.c. Every field is little-endian; GUIDs are stored in Windows'
 * mixed form (first three fields little-endian). */
#ifndef FORMATS_VHDX_H
#define FORMATS_VHDX_H

#include "formats/format.h"

#define VHDX_MIB (1024u * 1024u)
#define VHDX_HEADER1_OFF (64u * 1024u)
#define VHDX_HEADER2_OFF (128u * 1024u)
#define VHDX_HEADER_SIZE 4096u
#define VHDX_REGION1_OFF (192u * 1024u)
#define VHDX_REGION2_OFF (256u * 1024u)
#define VHDX_REGION_SIZE (64u * 1024u)
#define VHDX_REGION_MAX 2047u
#define VHDX_META_TABLE_SIZE (64u * 1024u)
#define VHDX_META_MAX 2047u
#define VHDX_MAX_SIZE (64ull << 40)         /* 64 TiB */

/* Header fields. */
#define VHDX_H_CHECKSUM 4
#define VHDX_H_SEQUENCE 8
#define VHDX_H_FILE_GUID 16
#define VHDX_H_DATA_GUID 32
#define VHDX_H_LOG_GUID 48
#define VHDX_H_LOG_VERSION 64
#define VHDX_H_VERSION 66
#define VHDX_H_LOG_LENGTH 68
#define VHDX_H_LOG_OFFSET 72

/* BAT entry: state in bits 0-2, file offset in MiB in bits 20-63. */
enum {
    VHDX_PAYLOAD_NOT_PRESENT = 0,
    VHDX_PAYLOAD_UNDEFINED = 1,
    VHDX_PAYLOAD_ZERO = 2,
    VHDX_PAYLOAD_UNMAPPED = 3,
    VHDX_PAYLOAD_FULLY_PRESENT = 6,
    VHDX_PAYLOAD_PARTIALLY_PRESENT = 7,
    VHDX_SB_NOT_PRESENT = 0,
    VHDX_SB_PRESENT = 6,
};
#define VHDX_BAT_STATE(e) ((unsigned)((e) & 7))
#define VHDX_BAT_OFFSET(e) ((e) & ~(uint64_t)(VHDX_MIB - 1))

/* File bytes the replayed log changes (read-only open: kept in memory). */
struct vhdx_patch {
    uint64_t off, len;
    uint8_t *data;              /* NULL: zeros */
};

struct vhdx_log_state {
    struct vhdx_patch *patches;
    size_t n_patches;
    uint64_t file_end;          /* the log's last file offset, or 0 */
    uint64_t entries;           /* entries replayed */
    uint64_t last_seq;
};

struct vhdx_state {
    uint8_t header[VHDX_HEADER_SIZE];   /* the current header */
    int header_slot;                    /* 0: at 64 KiB, 1: at 128 KiB */
    uint64_t file_size;
    uint64_t bat_off, meta_off;
    uint32_t bat_len, meta_len;
    uint64_t vsize;
    uint64_t size_item_off;     /* file offset of the virtual disk size item */
    uint32_t block_size, logical_sector, physical_sector;
    bool has_parent, leave_allocated;
    uint8_t page83[16];
    uint64_t chunk_ratio;       /* payload blocks per sector bitmap block */
    uint64_t data_blocks;
    uint64_t bat_entries;
    uint64_t *bat;
    bool log_dirty;             /* the file's log had to be replayed */
    struct vhdx_log_state log;
    char parent_linkage[40];    /* "{...}" as the locator has it, or "" */
    char parent_linkage2[40];   /* the other DataWriteGuid a parent may have, or "" */
    /* Writing (vhdx-write.c). The lock serialises allocation and every
     * metadata update; BAT entries are published with atomics so that
     * readers and writers of allocated blocks need no lock. */
    pthread_mutex_t lock;
    bool lock_ready;
    bool log_active;            /* the header names our log: updates pending */
    bool guids_fresh;           /* new File/DataWriteGuid written this session */
    /* Opened as the parent a commit writes into: the child's sectors land
     * here unchanged in content, so the DataWriteGuid the child links to
     * is kept (as a VHD parent keeps its UUID). */
    bool keep_data_guid;
    bool scratch;                       /* VD_OPEN_SCRATCH: no flush in the log */
    uint32_t log_head;          /* where the next log entry goes */
    uint64_t log_seq;           /* its sequence number */
    uint64_t alloc_end;         /* new blocks go here (1 MiB aligned) */
    char parent_locators[3][160];   /* what `vdisk info` shows */
    int n_locators;
};

/* BAT entry I, as published by a writer (see vhdx_state.lock). */
static inline uint64_t vhdx_bat_get(const struct vhdx_state *s, uint64_t i)
{
    return __atomic_load_n(&s->bat[i], __ATOMIC_ACQUIRE);
}

uint32_t vhdx_crc32c(uint32_t crc, const void *buf, size_t len);
/* CRC-32C of LEN bytes with the 4-byte checksum at CSUM_AT read as zero. */
uint32_t vhdx_checksum(const uint8_t *buf, size_t len, size_t csum_at);
/* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" (Windows form) of a stored GUID. */
void vhdx_guid_str(const uint8_t *g, char *buf, size_t len);

/* Reads IMG's file bytes as the replayed log left them: bytes between the
 * file's end and the log's last file offset read as zeros. */
int vhdx_file_read(int fd, const char *path, const struct vhdx_state *s,
                   void *buf, size_t len, uint64_t off, struct vd_error **errp);

/* Finds the active log sequence of the file (LOG_GUID non-zero in the
 * header) and replays it into LOG's patches; never writes. */
int vhdx_log_load(int fd, const char *path, uint64_t file_size, const uint8_t *header,
                  struct vhdx_log_state *log, struct vd_error **errp);
void vhdx_log_free(struct vhdx_log_state *log);

/* vhdx-write.c */
/* A read-write open: replays a pending log into the file and prepares
 * allocation. */
int vhdx_open_write(struct vd_image *img, struct vhdx_state *s, struct vd_error **errp);
int vhdx_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                struct vd_error **errp);
int vhdx_flush(struct vd_image *img, struct vd_error **errp);
int vhdx_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off, struct vd_error **errp);
/* vdisk resize: grows a dynamic or fixed VHDX within its BAT region;
 * shrinks it. */
int vhdx_grow(struct vd_image *img, uint64_t size, struct vd_error **errp);
int vhdx_shrink(struct vd_image *img, uint64_t size, struct vd_error **errp);
/* vdisk measure (format.h's measure hook). */
int vhdx_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                 uint64_t *full, struct vd_error **errp);
/* vdisk rebase: a differencing VHDX names another VHDX parent. */
int vhdx_set_backing(struct vd_image *img, struct vd_image *parent, const char *parent_arg,
                     struct vd_error **errp);
int vhdx_create(const char *path, const struct vd_create_args *args, struct vd_error **errp);
extern const struct vd_option_desc vhdx_create_options[];
/* Shared with vhdx.c. */
uint64_t vhdx_bat_index(const struct vhdx_state *s, uint64_t blk);
uint64_t vhdx_bitmap_index(const struct vhdx_state *s, uint64_t blk);
int vhdx_read_below(struct vd_image *img, const struct vhdx_state *s, uint8_t *buf,
                    size_t len, uint64_t off, struct vd_error **errp);
void vhdx_guid_parse(const char *text, uint8_t g[16]);
#define VHDX_GUID_BAT "2DC27766-F623-4200-9D64-115E9BFD4A08"
#define VHDX_GUID_METADATA "8B7CA206-4790-4B9A-B8FE-575F050F886E"
#define VHDX_GUID_FILE_PARAMS "CAA16737-FA36-4D43-B3B6-33F0AA44E76B"
#define VHDX_GUID_DISK_SIZE "2FA54224-CD1B-4876-B211-5DBED83BF4B8"
#define VHDX_GUID_PAGE83 "BECA12AB-B2E6-4523-93EF-C309E000C746"
#define VHDX_GUID_LOGICAL_SECTOR "8141BF1D-A96F-4709-BA47-F233A8FAAB5F"
#define VHDX_GUID_PHYSICAL_SECTOR "CDA348C7-445D-4471-9CC9-E9885251C556"
#define VHDX_GUID_PARENT_LOCATOR "A8D35F2D-B30B-454D-ABF7-D3D84834AB0C"
#define VHDX_GUID_LOCATOR_TYPE "B04AEFB7-D19E-4A81-B789-25B8E9445913"

#endif
