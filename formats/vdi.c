/* VDI (VirtualBox Disk Image, header version 1.1): static and dynamic
 * images, read and write. Every field is little-endian. The layout: a
 * 512-byte header (pre-header text and signature, then the 1.1 header),
 * the block map (one 32-bit entry per block: the block's index in the data
 * area, or "not allocated" / "zero"), then the data area of whole blocks.
 *
 * A new block of a dynamic image is written at the end of the data area
 * before its block map entry, then the header's allocated count: a kill
 * leaves at worst a block nothing points at, and a count one short (which
 * VirtualBox and qemu-img check flag). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/format.h"

#define VDI_HEADER_SIZE 512u
#define VDI_SIGNATURE 0xbeda107fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_UNALLOCATED 0xffffffffu
#define VDI_ZERO 0xfffffffeu    /* "discarded": reads as zeros */
#define VDI_DEFAULT_BLOCK (1u << 20)
#define VDI_DATA_ALIGN (1u << 20)   /* where VirtualBox starts the data area */
/* 2^28 blocks of 1 MiB is 256 TiB: far beyond any real image, and a 1 GiB
 * block map at most against a crafted header. */
#define VDI_MAX_BLOCKS (1u << 28)

static const char vdi_text[] = "<<< Oracle VM VirtualBox Disk Image >>>\n";

enum vdi_type { VDI_TYPE_NORMAL = 1, VDI_TYPE_FIXED = 2, VDI_TYPE_UNDO = 3, VDI_TYPE_DIFF = 4 };

/* Header field offsets (after the 64-byte text). */
enum {
    VDI_H_SIGNATURE = 64, VDI_H_VERSION = 68, VDI_H_HEADER_SIZE = 72, VDI_H_TYPE = 76,
    VDI_H_FLAGS = 80, VDI_H_DESCRIPTION = 84, VDI_H_OFFSET_BMAP = 340,
    VDI_H_OFFSET_DATA = 344, VDI_H_CYLINDERS = 348, VDI_H_HEADS = 352, VDI_H_SECTORS = 356,
    VDI_H_SECTOR_SIZE = 360, VDI_H_DISK_SIZE = 368, VDI_H_BLOCK_SIZE = 376,
    VDI_H_BLOCK_EXTRA = 380, VDI_H_BLOCKS = 384, VDI_H_ALLOCATED = 388,
    VDI_H_UUID_IMAGE = 392, VDI_H_UUID_SNAP = 408, VDI_H_UUID_LINK = 424,
    VDI_H_UUID_PARENT = 440,
};

struct vdi_state {
    uint8_t header[VDI_HEADER_SIZE];
    enum vdi_type type;
    uint32_t block_size;
    uint32_t blocks;
    uint32_t allocated;         /* the header's count */
    uint32_t next_index;        /* first data-area index no entry uses */
    uint64_t offset_bmap, offset_data;
    uint32_t *bmap;             /* host order; entries published with atomics */
    pthread_mutex_t lock;       /* block allocation and header updates */
    bool lock_ready;
};

static int vdi_probe(const struct vd_probe *p)
{
    if (p->head_len < VDI_HEADER_SIZE || get_le32(p->head + VDI_H_SIGNATURE) != VDI_SIGNATURE)
        return 0;
    return get_le32(p->head + VDI_H_VERSION) == VDI_VERSION_1_1 ? 100 : 60;
}

static uint32_t bmap_get(const struct vdi_state *s, uint32_t i)
{
    return __atomic_load_n(&s->bmap[i], __ATOMIC_ACQUIRE);
}

/* Validates the header; *why names the first bad field, or NULL. */
static const char *header_problem(const uint8_t *h, uint64_t file_size)
{
    if (get_le32(h + VDI_H_SIGNATURE) != VDI_SIGNATURE)
        return "no VDI signature at offset 64";
    if (get_le32(h + VDI_H_VERSION) != VDI_VERSION_1_1)
        return "header version at offset 68 is not 1.1 (the only one vdisk reads)";
    uint32_t hs = get_le32(h + VDI_H_HEADER_SIZE);
    if (hs < 0x180 || hs > VDI_HEADER_SIZE - VDI_H_TYPE)
        return "header size at offset 72 is not valid";
    uint32_t type = get_le32(h + VDI_H_TYPE);
    if (type == VDI_TYPE_UNDO || type == VDI_TYPE_DIFF)
        return "a differencing (snapshot) VDI: vdisk reads base images only; merge it "
               "in VirtualBox first";
    if (type != VDI_TYPE_NORMAL && type != VDI_TYPE_FIXED)
        return "unknown image type at offset 76";
    if (get_le32(h + VDI_H_SECTOR_SIZE) != 512)
        return "sector size at offset 360 is not 512";
    uint32_t bs = get_le32(h + VDI_H_BLOCK_SIZE);
    if (bs < 512 || bs > (256u << 20) || (bs & (bs - 1)))
        return "block size at offset 376 is not a power of two from 512 B to 256 MiB";
    if (get_le32(h + VDI_H_BLOCK_EXTRA) != 0)
        return "block extra data at offset 380 is not 0 (not supported)";
    uint32_t blocks = get_le32(h + VDI_H_BLOCKS);
    uint64_t disk_size = get_le64(h + VDI_H_DISK_SIZE);
    if (blocks > VDI_MAX_BLOCKS)
        return "block count at offset 384 is absurd";
    if (disk_size > (uint64_t)blocks * bs)
        return "disk size at offset 368 exceeds the blocks at offset 384";
    if (get_le32(h + VDI_H_ALLOCATED) > blocks)
        return "allocated block count at offset 388 exceeds the block count";
    uint64_t bmap = get_le32(h + VDI_H_OFFSET_BMAP), data = get_le32(h + VDI_H_OFFSET_DATA);
    if (bmap < VDI_HEADER_SIZE || bmap % 512 || bmap + (uint64_t)blocks * 4 > data)
        return "block map offset at offset 340 is not valid";
    if (data % 512 || data > file_size)
        return "data offset at offset 344 lies off a sector or beyond the end of the file";
    return NULL;
}

static void vdi_close(struct vd_image *img)
{
    struct vdi_state *s = img->opaque;
    free(s->bmap);
    s->bmap = NULL;
    if (s->lock_ready)
        pthread_mutex_destroy(&s->lock);
    s->lock_ready = false;
}

static int vdi_open(struct vd_image *img, unsigned flags, struct vd_error **errp)
{
    struct vdi_state *s = img->opaque;
    struct stat st;
    if (fstat(img->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", img->path);
    uint64_t file_size = (uint64_t)st.st_size;
    if (file_size < VDI_HEADER_SIZE)
        return vd_error_set(errp, -EINVAL, "%s: too short for a VDI header", img->path);
    int ret = vd_file_pread(img, s->header, VDI_HEADER_SIZE, 0, errp);
    if (ret < 0)
        return ret;
    const char *why = header_problem(s->header, file_size);
    if (why)
        return vd_error_set(errp, -EINVAL, "%s: %s", img->path, why);
    const uint8_t *h = s->header;
    s->type = (enum vdi_type)get_le32(h + VDI_H_TYPE);
    s->block_size = get_le32(h + VDI_H_BLOCK_SIZE);
    s->blocks = get_le32(h + VDI_H_BLOCKS);
    s->allocated = get_le32(h + VDI_H_ALLOCATED);
    s->offset_bmap = get_le32(h + VDI_H_OFFSET_BMAP);
    s->offset_data = get_le32(h + VDI_H_OFFSET_DATA);
    img->size = get_le64(h + VDI_H_DISK_SIZE);
    s->bmap = malloc(s->blocks ? (size_t)s->blocks * 4 : 1);
    if (!s->bmap)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory for the block map", img->path);
    if (s->blocks && (ret = vd_file_pread(img, s->bmap, (size_t)s->blocks * 4,
                                          s->offset_bmap, errp)) < 0)
        goto err;
    uint64_t in_file = (file_size - s->offset_data) / s->block_size;
    s->next_index = 0;
    for (uint32_t i = 0; i < s->blocks; i++) {
        uint32_t e = s->bmap[i] = get_le32(&s->bmap[i]);
        if (e >= VDI_ZERO)
            continue;
        /* Only blocks wholly in the file: a dynamic image always has them
         * (data before the map entry); a shorter file is truncated. */
        if (e >= s->blocks || e >= in_file) {
            ret = vd_error_set(errp, -EINVAL, "%s: block map entry %u points to data block "
                               "%u, beyond the %llu whole blocks in the file (truncated or "
                               "corrupt)", img->path, i, e, (unsigned long long)in_file);
            goto err;
        }
        if (e + 1 > s->next_index)
            s->next_index = e + 1;
    }
    if (s->allocated > s->next_index)
        s->next_index = s->allocated;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        ret = vd_error_set(errp, -ENOMEM, "%s: cannot create a lock", img->path);
        goto err;
    }
    s->lock_ready = true;
    (void)flags;
    return 0;
err:
    vdi_close(img);
    return ret;
}

/* The part of a request at OFF (LEN bytes left) inside one block. */
struct span {
    uint32_t blk, in;
    size_t n;
};

static struct span span_at(const struct vdi_state *s, uint64_t off, uint64_t len)
{
    struct span sp = { (uint32_t)(off / s->block_size), (uint32_t)(off % s->block_size), 0 };
    sp.n = s->block_size - sp.in < len ? s->block_size - sp.in : (size_t)len;
    return sp;
}

static uint64_t block_offset(const struct vdi_state *s, uint32_t e)
{
    return s->offset_data + (uint64_t)e * s->block_size;
}

static int vdi_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                     struct vd_error **errp)
{
    struct vdi_state *s = img->opaque;
    uint8_t *p = buf;
    for (struct span sp; len; p += sp.n, off += sp.n, len -= sp.n) {
        sp = span_at(s, off, len);
        uint32_t e = bmap_get(s, sp.blk);
        if (e >= VDI_ZERO) {
            memset(p, 0, sp.n);
            continue;
        }
        int ret = vd_file_pread(img, p, sp.n, block_offset(s, e) + sp.in, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Writes a new block at AT holding DATA at SP.in (SP.n bytes), zeros
 * elsewhere. Past the end of the file the zeros come from extending it (a
 * hole: half the bytes to write for a half-used block); over old bytes (a
 * block a kill left behind) they are written. */
static int write_new_block(struct vd_image *img, const struct vdi_state *s, uint64_t at,
                           struct span sp, const uint8_t *data, struct vd_error **errp)
{
    if (sp.n == s->block_size)
        return vd_file_pwrite(img, data, sp.n, at, errp);
    struct stat st;
    if (fstat(img->fd, &st) == 0 && (uint64_t)st.st_size <= at) {
        if (ftruncate(img->fd, (off_t)(at + s->block_size)) < 0)
            return vd_error_set_errno(errp, -errno, "%s: cannot extend the file for a new "
                                      "block", img->path);
        return vd_file_pwrite(img, data, sp.n, at + sp.in, errp);
    }
    uint8_t *blk = calloc(1, s->block_size);
    if (!blk)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    memcpy(blk + sp.in, data, sp.n);
    int ret = vd_file_pwrite(img, blk, s->block_size, at, errp);
    free(blk);
    return ret;
}

/* A new block for BLK holding DATA at IN (N bytes), zeros elsewhere. */
static int allocate_block(struct vd_image *img, struct vdi_state *s, struct span sp,
                          const uint8_t *data, struct vd_error **errp)
{
    pthread_mutex_lock(&s->lock);
    uint32_t e = s->bmap[sp.blk];
    int ret = 0;
    if (e < VDI_ZERO) {     /* another writer allocated it meanwhile */
        pthread_mutex_unlock(&s->lock);
        return vd_file_pwrite(img, data, sp.n, block_offset(s, e) + sp.in, errp);
    }
    uint32_t idx = s->next_index;
    if (idx >= s->blocks)
        ret = vd_error_set(errp, -EIO, "%s: no room for another block (the header says %u "
                           "blocks)", img->path, s->blocks);
    if (ret == 0)
        ret = write_new_block(img, s, block_offset(s, idx), sp, data, errp);
    uint8_t le[4];
    put_le32(le, idx);
    if (ret == 0)
        ret = vd_file_pwrite(img, le, 4, s->offset_bmap + (uint64_t)sp.blk * 4, errp);
    if (ret == 0) {
        s->next_index = idx + 1;
        __atomic_store_n(&s->bmap[sp.blk], idx, __ATOMIC_RELEASE);
        s->allocated++;
        put_le32(le, s->allocated);
        put_le32(s->header + VDI_H_ALLOCATED, s->allocated);
        ret = vd_file_pwrite(img, le, 4, VDI_H_ALLOCATED, errp);
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int vdi_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                      struct vd_error **errp)
{
    struct vdi_state *s = img->opaque;
    const uint8_t *p = buf;
    for (struct span sp; len; p += sp.n, off += sp.n, len -= sp.n) {
        sp = span_at(s, off, len);
        uint32_t e = bmap_get(s, sp.blk);
        int ret;
        if (e < VDI_ZERO)
            ret = vd_file_pwrite(img, p, sp.n, block_offset(s, e) + sp.in, errp);
        else
            ret = allocate_block(img, s, sp, p, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Blocks that hold no data already read as zeros; allocated ones get
 * zeros written (punched where the host can). */
static int vdi_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                            struct vd_error **errp)
{
    struct vdi_state *s = img->opaque;
    static const uint8_t zeros[65536];
    for (struct span sp; len; off += sp.n, len -= sp.n) {
        sp = span_at(s, off, len);
        uint32_t e = bmap_get(s, sp.blk);
        if (e >= VDI_ZERO)
            continue;
        uint64_t at = block_offset(s, e) + sp.in;
        if (fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)at,
                      (off_t)sp.n) == 0)
            continue;
        for (size_t done = 0; done < sp.n;) {
            size_t k = sp.n - done < sizeof(zeros) ? sp.n - done : sizeof(zeros);
            int ret = vd_file_pwrite(img, zeros, k, at + done, errp);
            if (ret < 0)
                return ret;
            done += k;
        }
    }
    return 0;
}

static int vdi_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                            struct vd_extent *ext, struct vd_error **errp)
{
    struct vdi_state *s = img->opaque;
    uint64_t pos = off, end = off + len;
    bool have = false;
    enum vd_extent_kind kind = VD_EXTENT_DATA;
    while (pos < end) {
        struct span sp = span_at(s, pos, end - pos);
        uint32_t e = bmap_get(s, sp.blk);
        enum vd_extent_kind k = e == VDI_UNALLOCATED ? VD_EXTENT_UNALLOCATED
                                : e == VDI_ZERO ? VD_EXTENT_ZERO : VD_EXTENT_DATA;
        if (have && k != kind)
            break;
        kind = k;
        have = true;
        pos += sp.n;
    }
    *ext = (struct vd_extent){ off, pos - off, kind };
    (void)errp;
    return 0;
}

static int vdi_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                           uint64_t *file_off, uint64_t *run)
{
    struct vdi_state *s = img->opaque;
    struct span sp = span_at(s, off, len);
    uint32_t e = bmap_get(s, sp.blk);
    if (e >= VDI_ZERO)
        return -ENOENT;
    *file_off = block_offset(s, e) + sp.in;
    *run = sp.n;
    return 0;
}

static void format_uuid(const uint8_t *u, char *buf, size_t len)
{
    /* VirtualBox stores RTUUIDs with the first three fields little-endian. */
    snprintf(buf, len, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", get_le32(u),
             get_le16(u + 4), get_le16(u + 6), u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
}

static void vdi_info(struct vd_image *img, struct vd_info *info)
{
    struct vdi_state *s = img->opaque;
    info->cluster_size = s->block_size;
    vd_info_add(info, "subformat", false, "%s", s->type == VDI_TYPE_FIXED ? "static" : "dynamic");
    vd_info_add(info, "block-size", true, "%u", s->block_size);
    vd_info_add(info, "blocks", true, "%u", s->blocks);
    vd_info_add(info, "allocated-blocks", true, "%u", s->allocated);
    char u[40];
    format_uuid(s->header + VDI_H_UUID_IMAGE, u, sizeof(u));
    vd_info_add(info, "uuid", false, "%s", u);
    format_uuid(s->header + VDI_H_UUID_SNAP, u, sizeof(u));
    vd_info_add(info, "uuid-last-snapshot", false, "%s", u);
    char desc[257];
    snprintf(desc, sizeof(desc), "%.256s", (const char *)s->header + VDI_H_DESCRIPTION);
    if (desc[0])
        vd_info_add(info, "description", false, "%s", desc);
    uint32_t used = 0;
    for (uint32_t i = 0; i < s->blocks; i++)
        used += bmap_get(s, i) < VDI_ZERO;
    if (used != s->allocated)
        vd_info_warn(info, "the header counts %u allocated blocks, the block map %u "
                     "(interrupted write?)", s->allocated, used);
}

/* ---- check ---- */

static int vdi_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
                     struct vd_error **errp)
{
    uint8_t h[VDI_HEADER_SIZE];
    if (size < VDI_HEADER_SIZE) {
        vd_check_problem(chk, "%s: too short for a VDI header (%llu bytes)", path,
                         (unsigned long long)size);
        return 0;
    }
    int ret = vd_fd_pread(fd, path, h, sizeof(h), 0, errp);
    if (ret < 0)
        return ret;
    const char *why = header_problem(h, size);
    if (why) {
        vd_check_problem(chk, "%s: %s", path, why);
        return 0;
    }
    uint32_t blocks = get_le32(h + VDI_H_BLOCKS), bs = get_le32(h + VDI_H_BLOCK_SIZE);
    uint64_t data = get_le32(h + VDI_H_OFFSET_DATA);
    uint64_t in_file = (size - data) / bs;
    uint32_t *map = malloc(blocks ? (size_t)blocks * 4 : 1);
    uint8_t *seen = calloc(blocks ? blocks : 1, 1);
    if (!map || !seen) {
        free(map);
        free(seen);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    }
    ret = blocks ? vd_fd_pread(fd, path, map, (size_t)blocks * 4,
                               get_le32(h + VDI_H_OFFSET_BMAP), errp) : 0;
    uint32_t used = 0;
    for (uint32_t i = 0; ret == 0 && i < blocks; i++) {
        uint32_t e = get_le32(&map[i]);
        if (e >= VDI_ZERO)
            continue;
        used++;
        if (e >= blocks || e >= in_file)
            vd_check_problem(chk, "%s: block map entry %u points to data block %u, beyond the "
                             "file's %llu whole blocks", path, i, e,
                             (unsigned long long)in_file);
        else if (seen[e]++)
            vd_check_problem(chk, "%s: data block %u is used by two block map entries (the "
                             "second is entry %u)", path, e, i);
    }
    if (ret == 0 && used != get_le32(h + VDI_H_ALLOCATED))
        vd_check_problem(chk, "%s: the header at offset 388 counts %u allocated blocks, the "
                         "block map %u", path, get_le32(h + VDI_H_ALLOCATED), used);
    free(map);
    free(seen);
    return ret;
}

/* ---- create ---- */

static int vdi_create(const char *path, const struct vd_create_args *args,
                      struct vd_error **errp)
{
    if (args->backing)
        return vd_error_set(errp, -EINVAL, "format vdi cannot have a backing file");
    bool fixed = false;
    const char *v = vd_options_get(args->opts, "static");
    if (v) {
        if (strcmp(v, "on") == 0)
            fixed = true;
        else if (strcmp(v, "off") != 0)
            return vd_error_set(errp, -EINVAL, "vdi static must be on or off, not '%s'", v);
    }
    uint64_t size = (args->size + 511) / 512 * 512;
    uint64_t blocks = (size + VDI_DEFAULT_BLOCK - 1) / VDI_DEFAULT_BLOCK;
    if (blocks > VDI_MAX_BLOCKS)
        return vd_error_set(errp, -EFBIG, "vdi size %llu is too large",
                            (unsigned long long)args->size);
    uint64_t bmap_bytes = (blocks * 4 + 511) / 512 * 512;
    uint64_t data = (VDI_HEADER_SIZE + bmap_bytes + VDI_DATA_ALIGN - 1) / VDI_DATA_ALIGN *
                    VDI_DATA_ALIGN;
    if (data > UINT32_MAX)
        return vd_error_set(errp, -EFBIG, "vdi size %llu is too large",
                            (unsigned long long)args->size);
    uint8_t *m = malloc(bmap_bytes ? bmap_bytes : 1);
    if (!m)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    memset(m, 0, bmap_bytes);
    for (uint64_t i = 0; i < blocks; i++)
        put_le32(m + i * 4, fixed ? (uint32_t)i : VDI_UNALLOCATED);
    uint8_t h[VDI_HEADER_SIZE] = { 0 };
    memcpy(h, vdi_text, sizeof(vdi_text) - 1);
    put_le32(h + VDI_H_SIGNATURE, VDI_SIGNATURE);
    put_le32(h + VDI_H_VERSION, VDI_VERSION_1_1);
    put_le32(h + VDI_H_HEADER_SIZE, 0x190);  /* VirtualBox's 1.1 header with LCHS */
    put_le32(h + VDI_H_TYPE, fixed ? VDI_TYPE_FIXED : VDI_TYPE_NORMAL);
    put_le32(h + VDI_H_OFFSET_BMAP, VDI_HEADER_SIZE);
    put_le32(h + VDI_H_OFFSET_DATA, (uint32_t)data);
    put_le32(h + VDI_H_SECTOR_SIZE, 512);
    put_le64(h + VDI_H_DISK_SIZE, size);
    put_le32(h + VDI_H_BLOCK_SIZE, VDI_DEFAULT_BLOCK);
    put_le32(h + VDI_H_BLOCKS, (uint32_t)blocks);
    put_le32(h + VDI_H_ALLOCATED, fixed ? (uint32_t)blocks : 0);
    for (int i = 0; i < 2; i++) {
        uint8_t *u = h + (i ? VDI_H_UUID_SNAP : VDI_H_UUID_IMAGE);
        if (getrandom(u, 16, 0) != 16) {
            put_le64(u, (uint64_t)time(NULL));
            put_le64(u + 8, (uint64_t)getpid() * 2654435761u + (uint64_t)i);
        }
        u[7] = (uint8_t)((u[7] & 0x0f) | 0x40);     /* version 4, little-endian field */
        u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int ret = 0;
    if (fd < 0)
        ret = vd_error_set_errno(errp, -errno, "cannot create '%s'", path);
    if (ret == 0 && bmap_bytes)
        ret = vd_fd_pwrite(fd, path, m, bmap_bytes, VDI_HEADER_SIZE, errp);
    uint64_t end = data + (fixed ? blocks * VDI_DEFAULT_BLOCK : 0);
    if (ret == 0 && ftruncate(fd, (off_t)end) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot set the size", path);
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, h, sizeof(h), 0, errp);
    if (fd >= 0 && close(fd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot close", path);
    free(m);
    return ret;
}

/* vdisk resize, growing: within the room the block map has before the data
 * area (VirtualBox puts the data at 1 MiB: some 256 GiB of 1 MiB blocks).
 * The new map entries are written first (unallocated, or for a static
 * image new zero blocks at the end of the file), then one header write
 * that covers the size, block count and allocated count: a kill leaves the
 * old image with unused bytes past it. */
static int vdi_grow(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct vdi_state *s = img->opaque;
    size = (size + 511) / 512 * 512;
    uint64_t blocks = (size + s->block_size - 1) / s->block_size;
    if (blocks < s->blocks)
        blocks = s->blocks;     /* the header may count blocks past the size */
    uint64_t room = (s->offset_data - s->offset_bmap) / 4;
    if (blocks > room || blocks > VDI_MAX_BLOCKS)
        return vd_error_set(errp, -EFBIG, "%s: the block map has room for %llu blocks of %u "
                            "bytes (%llu bytes), not %llu", img->path,
                            (unsigned long long)room, s->block_size,
                            (unsigned long long)(room * s->block_size),
                            (unsigned long long)blocks);
    bool fixed = s->type == VDI_TYPE_FIXED;
    uint32_t add = (uint32_t)(blocks - s->blocks);
    /* The part of the new space in the old last block reads as zeros too
     * (each grow zeroes up to its new end, so what lies past it may stay). */
    uint64_t old = img->size;
    int ret = 0;
    if (old % s->block_size && bmap_get(s, (uint32_t)(old / s->block_size)) < VDI_ZERO) {
        uint64_t end = (old / s->block_size + 1) * s->block_size;
        static const uint8_t zeros[65536];
        uint64_t at = block_offset(s, bmap_get(s, (uint32_t)(old / s->block_size))) +
                      old % s->block_size;
        for (uint64_t left = (size < end ? size : end) - old; left && ret == 0;) {
            size_t k = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
            ret = vd_file_pwrite(img, zeros, k, at, errp);
            at += k;
            left -= k;
        }
        if (ret < 0)
            return ret;
    }
    uint32_t *bmap = realloc(s->bmap, (size_t)blocks * 4);
    uint8_t *le = calloc(add ? add : 1, 4);
    if (!bmap || !le) {
        free(le);
        if (bmap)
            s->bmap = bmap;
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    }
    s->bmap = bmap;
    uint32_t first = s->next_index;
    for (uint32_t i = 0; i < add; i++) {
        bmap[s->blocks + i] = fixed ? first + i : VDI_UNALLOCATED;
        put_le32(le + (size_t)i * 4, bmap[s->blocks + i]);
    }
    if (fixed && ftruncate(img->fd, (off_t)block_offset(s, first + add)) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot extend the file", img->path);
    if (ret == 0 && add)
        ret = vd_file_pwrite(img, le, (size_t)add * 4,
                             s->offset_bmap + (uint64_t)s->blocks * 4, errp);
    free(le);
    if (ret == 0 && fdatasync(img->fd) < 0 && errno != EINVAL)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    if (ret < 0)
        return ret;
    uint8_t *h = s->header;
    put_le64(h + VDI_H_DISK_SIZE, size);
    put_le32(h + VDI_H_BLOCKS, (uint32_t)blocks);
    if (fixed)
        put_le32(h + VDI_H_ALLOCATED, s->allocated + add);
    ret = vd_file_pwrite(img, h + VDI_H_DISK_SIZE, VDI_H_UUID_IMAGE - VDI_H_DISK_SIZE,
                         VDI_H_DISK_SIZE, errp);
    if (ret < 0)
        return ret;
    s->blocks = (uint32_t)blocks;
    if (fixed) {
        s->allocated += add;
        s->next_index = first + add;
    }
    img->size = size;
    return 0;
}

/* vdisk measure: create's layout (header, block map, data from a 1 MiB
 * boundary), then one block per block of data (the writer appends whole
 * blocks); a static image has every block. */
static int vdi_measure(const struct vd_create_args *args, struct vd_image *src,
                       uint64_t *required, uint64_t *full, struct vd_error **errp)
{
    const char *v = vd_options_get(args->opts, "static");
    if (v && strcmp(v, "on") && strcmp(v, "off"))
        return vd_error_set(errp, -EINVAL, "vdi static must be on or off, not '%s'", v);
    uint64_t blocks = ((args->size + 511) / 512 * 512 + VDI_DEFAULT_BLOCK - 1) /
                      VDI_DEFAULT_BLOCK;
    if (blocks > VDI_MAX_BLOCKS)
        return vd_error_set(errp, -EFBIG, "vdi size %llu is too large",
                            (unsigned long long)args->size);
    uint64_t data = (VDI_HEADER_SIZE + (blocks * 4 + 511) / 512 * 512 + VDI_DATA_ALIGN - 1) /
                    VDI_DATA_ALIGN * VDI_DATA_ALIGN;
    uint64_t used = 0;
    int ret = src ? vd_image_count_data(src, VDI_DEFAULT_BLOCK, &used, errp) : 0;
    if (ret < 0)
        return ret;
    *full = data + blocks * VDI_DEFAULT_BLOCK;
    *required = v && strcmp(v, "on") == 0 ? *full : data + used * VDI_DEFAULT_BLOCK;
    return 0;
}

static const struct vd_option_desc vdi_create_options[] = {
    { "static", "on: every block allocated at creation (VirtualBox's fixed size); "
                "off (default): dynamic" },
    { NULL, NULL },
};

const struct vd_format vd_format_vdi = {
    .name = "vdi",
    .description = "VirtualBox Disk Image (static, dynamic)",
    .instance_size = sizeof(struct vdi_state),
    .probe = vdi_probe,
    .open = vdi_open,
    .close = vdi_close,
    .pread = vdi_pread,
    .pwrite = vdi_pwrite,
    .write_zeroes = vdi_write_zeroes,
    .grow = vdi_grow,
    .block_status = vdi_block_status,
    .file_extent = vdi_file_extent,
    .create = vdi_create,
    .create_options = vdi_create_options,
    .measure = vdi_measure,
    .info = vdi_info,
    .check = vdi_check,
};
