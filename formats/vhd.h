/* VHD (Microsoft Virtual Hard Disk Image Format Specification v1.0):
 * on-disk layout and what vhd.c, vhd-create.c and vhd-check.c share.
 * Every on-disk field is big-endian except the UTF-16LE parent locators. */
#ifndef FORMATS_VHD_H
#define FORMATS_VHD_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "formats/format.h"

#define VHD_SECTOR 512u
#define VHD_FOOTER_SIZE 512u
#define VHD_HEADER_SIZE 1024u
#define VHD_UNALLOCATED 0xffffffffu
#define VHD_DEFAULT_BLOCK (2u << 20)
/* Hard limits: qemu's and Hyper-V's maximum for creation, and what we accept
 * when reading (the BAT's 32-bit sector offsets cap the file at 2 TiB). */
#define VHD_MAX_CREATE_SIZE (2040ull << 30)
#define VHD_MAX_READ_SIZE (2048ull << 30)
#define VHD_MIN_BLOCK 4096u
#define VHD_MAX_BLOCK (256u << 20)
/* 16M entries = a 64 MiB BAT: far above any real disk, and it keeps memory
 * bounded against a crafted header. */
#define VHD_MAX_BAT_ENTRIES (16u << 20)
/* Blocks being allocated at once (one per writer thread). */
#define VHD_MAX_PENDING 32
/* CHS 65535/16/255: "the geometry cannot describe this size; use the
 * footer's current_size" (qemu's force_size and every reader agree). */
#define VHD_MAX_CHS_SECTORS (65535ull * 16 * 255)

enum vhd_type {
    VHD_TYPE_FIXED = 2,
    VHD_TYPE_DYNAMIC = 3,
    VHD_TYPE_DIFF = 4,
};

/* Footer field offsets. */
enum {
    VHD_F_COOKIE = 0, VHD_F_FEATURES = 8, VHD_F_VERSION = 12,
    VHD_F_DATA_OFFSET = 16, VHD_F_TIMESTAMP = 24, VHD_F_CREATOR_APP = 28,
    VHD_F_CREATOR_VER = 32, VHD_F_CREATOR_OS = 36, VHD_F_ORIG_SIZE = 40,
    VHD_F_CUR_SIZE = 48, VHD_F_GEOMETRY = 56, VHD_F_TYPE = 60,
    VHD_F_CHECKSUM = 64, VHD_F_UUID = 68, VHD_F_SAVED_STATE = 84,
};

/* Dynamic header field offsets. */
enum {
    VHD_H_COOKIE = 0, VHD_H_DATA_OFFSET = 8, VHD_H_TABLE_OFFSET = 16,
    VHD_H_VERSION = 24, VHD_H_MAX_ENTRIES = 28, VHD_H_BLOCK_SIZE = 32,
    VHD_H_CHECKSUM = 36, VHD_H_PARENT_UUID = 40, VHD_H_PARENT_TIME = 56,
    VHD_H_PARENT_NAME = 64, VHD_H_LOCATORS = 576,
};
#define VHD_PARENT_NAME_LEN 512u
#define VHD_LOCATOR_COUNT 8
#define VHD_LOCATOR_SIZE 24u
/* Seconds from the Unix epoch to the VHD epoch, 2000-01-01 00:00:00 UTC. */
#define VHD_EPOCH 946684800

struct vhd_geometry {
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors;
};

/* The driver's per-image state (img->opaque). */
struct vhd_state {
    uint8_t footer[VHD_FOOTER_SIZE];
    uint8_t header[VHD_HEADER_SIZE];
    enum vhd_type type;
    bool footer_from_copy;      /* the end footer was damaged: read-only */
    uint64_t data_end;          /* where the footer is: new blocks go here */
    /* Dynamic and differencing disks. */
    uint64_t bat_offset;
    uint32_t max_entries;
    uint32_t block_size;
    uint32_t bitmap_size;       /* bytes before each block's data */
    uint32_t sectors_per_block;
    /* In-memory BAT (sector offsets, host order). Entries are read and
     * published with atomics so that readers need no lock. */
    uint32_t *bat;
    /* Serialises space reservation, footer moves and bitmap updates. A
     * block being filled is listed in pending[]; other writers to it wait
     * on alloc_done until its BAT entry is published. */
    pthread_mutex_t lock;
    pthread_cond_t alloc_done;
    uint64_t pending[VHD_MAX_PENDING];
    int npending;
    /* Serialises writes that cover part of a sector (read-modify-write). */
    pthread_mutex_t rmw_lock;
    bool lock_ready;
};

/* Checksum: one's complement of the byte sum, skipping the checksum field. */
uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t checksum_at);
/* A footer buffer is a plausible VHD footer: cookie and checksum. */
bool vhd_footer_valid(const uint8_t *footer);
/* Reads the footer at the end of a SIZE-byte file (the 512-byte one, or the
 * 511-byte one old Virtual PC versions wrote). Sets *footer_off; returns 0,
 * or -EINVAL when neither is a valid footer. */
int vhd_read_end_footer(int fd, const char *path, uint64_t size,
                        uint8_t footer[VHD_FOOTER_SIZE], uint64_t *footer_off,
                        struct vd_error **errp);

struct vhd_geometry vhd_geometry_of(const uint8_t *footer);
/* The spec's CHS for a sector count (rounds down). */
struct vhd_geometry vhd_chs_for(uint64_t total_sectors);
uint64_t vhd_chs_bytes(struct vhd_geometry g);

/* Block size sanity shared by open and check; NULL when fine, else why not. */
const char *vhd_block_size_problem(uint32_t block_size);
uint32_t vhd_bitmap_size(uint32_t block_size);

/* UTF-16LE (IN_LEN bytes, stopping at NUL) to UTF-8 (also for VHDX). */
void vhd_utf16le_to_utf8(const uint8_t *in, size_t in_len, char *buf, size_t len);
/* A parent path as a locator holds it ('\\' separators, relative to the
 * child's folder) as a host path; malloc()ed, NULL when out of memory. */
char *vhd_resolve_path(const char *child_path, const char *name);

/* PARENT as an absolute path (ABS) and relative to the folder of the child
 * PATH, written the Windows way (REL: ".\\p.vhd", "..\\base\\p.vhd"). */
int vhd_parent_paths(const char *path, const char *parent, char abs[PATH_MAX],
                     char rel[PATH_MAX], struct vd_error **errp);
/* UTF-8 to UTF-16LE, at most CAP bytes; returns the bytes written. */
size_t vhd_utf8_to_utf16le(const char *in, uint8_t *out, size_t cap);

/* Parent locators: decodes the locator I of HEADER into a host path
 * resolved relative to CHILD_PATH's directory. Returns 0 with *out
 * malloc()ed, -ENOENT when the locator is empty or not a path kind we read,
 * or another negative errno with errp set. */
int vhd_locator_path(int fd, const char *child_path, uint64_t file_size,
                     const uint8_t *header, int i, char **out,
                     struct vd_error **errp);
/* The parent name field (UTF-16BE) as UTF-8 in BUF. */
void vhd_parent_name(const uint8_t *header, char *buf, size_t len);
/* Finds the parent of a differencing disk: tries W2ru, W2ku, then the
 * parent name, relative to the child. Returns 0 with *out malloc()ed, or
 * -ENOENT with an error naming every path tried. */
int vhd_find_parent(int fd, const char *child_path, uint64_t file_size,
                    const uint8_t *header, char **out, struct vd_error **errp);

void vhd_format_uuid(const uint8_t *uuid, char *buf, size_t len);

/* The set_backing hook (vhd-create.c, which lays out parent locators). */
int vhd_set_backing(struct vd_image *img, struct vd_image *parent, const char *parent_arg,
                    struct vd_error **errp);
/* The measure hook (vhd-create.c, which knows the layout). */
int vhd_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                uint64_t *full, struct vd_error **errp);
int vhd_create(const char *path, const struct vd_create_args *args,
               struct vd_error **errp);
int vhd_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
              struct vd_error **errp);

#endif
