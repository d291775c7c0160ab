/* VMDK: a descriptor (in its own text file, or embedded in a sparse
 * extent) lists extents: flat files (monolithicFlat, twoGbMaxExtentFlat,
 * vmfs), hosted sparse files (monolithicSparse, twoGbMaxExtentSparse,
 * streamOptimized with compressed grains) and zero extents. A delta disk
 * names its parent (parentFileNameHint) and the parent's content ID
 * (parentCID), which must match. Create is in vmdk-create.c, the
 * streamOptimized writer in vmdk-stream.c.
 *
 * Crash safety of grain allocation (sparse, uncompressed): the grain is
 * written at the end of the file first, then its grain table entry (then
 * the redundant one); a new grain table is written before the directory
 * entry that points at it. An interruption leaves at worst an unreferenced
 * grain or table at the end of the file. */
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vmdk.h"

#define GTE_BATCH 64

/* ---- probe ---- */

static int vmdk_probe(const struct vd_probe *p)
{
    if (p->head_len >= 4 && get_le32(p->head) == VMDK_MAGIC)
        return 100;
    if (p->file_size <= VMDK_MAX_DESC && vmdk_desc_probe(p->head, p->head_len))
        return 100;
    return 0;
}

/* ---- sparse extents ---- */

static uint32_t gd_get(const struct vmdk_extent *e, uint32_t i)
{
    return __atomic_load_n(&e->gd[i], __ATOMIC_ACQUIRE);
}

static int read_table(int fd, const char *path, uint32_t **out, uint32_t count,
                      uint64_t off, struct vd_error **errp)
{
    uint32_t *t = malloc((size_t)count * 4 + 4);   /* + 4: never malloc(0) */
    if (!t)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory for the grain directory", path);
    int ret = vd_fd_pread(fd, path, t, (size_t)count * 4, off, errp);
    if (ret < 0) {
        free(t);
        return ret;
    }
    for (uint32_t i = 0; i < count; i++)
        t[i] = get_le32(&t[i]);
    *out = t;
    return 0;
}

/* A streamOptimized extent keeps its directory offset in the footer: the
 * header copy before the end-of-stream marker. */
static int read_footer(struct vmdk_extent *e, struct vd_error **errp)
{
    uint8_t buf[3 * VMDK_SECTOR];
    if (e->file_size < 4 * VMDK_SECTOR)
        return vd_error_set(errp, -EINVAL, "%s: streamOptimized image without a footer "
                            "(the stream was cut short)", e->path);
    uint64_t at = e->file_size - sizeof(buf);
    int ret = vd_fd_pread(e->fd, e->path, buf, sizeof(buf), at, errp);
    if (ret < 0)
        return ret;
    if (get_le64(buf) != 1 || get_le32(buf + 8) != 0 ||
        get_le32(buf + 12) != VMDK_MARKER_FOOTER || get_le32(buf + VMDK_SECTOR) != VMDK_MAGIC)
        return vd_error_set(errp, -EINVAL, "%s: no footer marker at offset %llu (the "
                            "streamOptimized image is incomplete or damaged)", e->path,
                            (unsigned long long)at);
    memcpy(e->header, buf + VMDK_SECTOR, VMDK_SECTOR);
    return 0;
}

static int sparse_setup(struct vd_image *img, struct vmdk_extent *e, bool *stream_fresh,
                        struct vd_error **errp)
{
    const char *path = e->path;
    int ret = vd_fd_pread(e->fd, path, e->header, VMDK_SECTOR, 0, errp);
    if (ret < 0)
        return ret;
    const uint8_t *h = e->header;
    if (get_le32(h + VMDK_H_MAGIC) != VMDK_MAGIC)
        return vd_error_set(errp, -EINVAL, "%s: not a VMDK sparse extent (no \"KDMV\" magic)",
                            path);
    e->version = get_le32(h + VMDK_H_VERSION);
    e->flags = get_le32(h + VMDK_H_FLAGS);
    if (e->version < 1 || e->version > 3)
        return vd_error_set(errp, -ENOTSUP, "%s: sparse extent version %u is not supported "
                            "(1 to 3 are)", path, e->version);
    e->compressed = e->flags & VMDK_FLAG_COMPRESSED;
    e->markers = e->flags & VMDK_FLAG_MARKERS;
    e->zero_grain = e->flags & VMDK_FLAG_ZERO_GRAIN;
    if (e->compressed && get_le16(h + VMDK_H_COMPRESS) != VMDK_COMPRESS_DEFLATE)
        return vd_error_set(errp, -ENOTSUP, "%s: compression algorithm %u is not supported "
                            "(1, deflate, is)", path, get_le16(h + VMDK_H_COMPRESS));
    if (get_le64(h + VMDK_H_GD_OFF) == VMDK_GD_AT_END) {
        if (!e->compressed)
            return vd_error_set(errp, -EINVAL, "%s: grain directory 'at the end' in an "
                                "extent without compressed grains", path);
        uint64_t overhead = get_le64(h + VMDK_H_OVERHEAD);
        ret = read_footer(e, errp);
        if (ret < 0)
            return ret;
        /* Created and not written yet: the directory follows the overhead
         * (no grain, no table). A writer starts the stream there. */
        if (img->writable && overhead <= VMDK_MAX_DESC / VMDK_SECTOR &&
            get_le64(h + VMDK_H_GD_OFF) == overhead + 1) {
            *stream_fresh = true;
            e->file_size = overhead * VMDK_SECTOR;
        }
    }
    uint64_t capacity = get_le64(h + VMDK_H_CAPACITY);
    uint64_t grain_sectors = get_le64(h + VMDK_H_GRAIN);
    e->gt_entries = get_le32(h + VMDK_H_GT_ENTRIES);
    e->gd_off = get_le64(h + VMDK_H_GD_OFF);
    e->rgd_off = (e->flags & VMDK_FLAG_RGD) ? get_le64(h + VMDK_H_RGD_OFF) : 0;
    if (grain_sectors == 0 || grain_sectors > VMDK_MAX_GRAIN / VMDK_SECTOR ||
        (grain_sectors & (grain_sectors - 1)))
        return vd_error_set(errp, -EINVAL, "%s: grain size of %llu sectors at offset %d is "
                            "not a power of two up to %u", path,
                            (unsigned long long)grain_sectors, VMDK_H_GRAIN,
                            VMDK_MAX_GRAIN / VMDK_SECTOR);
    e->grain = (uint32_t)grain_sectors * VMDK_SECTOR;
    if (e->gt_entries == 0 || e->gt_entries > VMDK_GT_ENTRIES)
        return vd_error_set(errp, -EINVAL, "%s: %u entries per grain table at offset %d "
                            "(1 to %u allowed)", path, e->gt_entries, VMDK_H_GT_ENTRIES,
                            VMDK_GT_ENTRIES);
    if (capacity > VMDK_MAX_SIZE / VMDK_SECTOR)
        return vd_error_set(errp, -EFBIG, "%s: capacity of %llu sectors is beyond the "
                            "64 TiB vdisk reads", path, (unsigned long long)capacity);
    if (capacity * VMDK_SECTOR < e->length)
        return vd_error_set(errp, -EINVAL, "%s: the sparse extent holds %llu sectors, the "
                            "descriptor says %llu", path, (unsigned long long)capacity,
                            (unsigned long long)(e->length / VMDK_SECTOR));
    uint64_t grains = (capacity * VMDK_SECTOR + e->grain - 1) / e->grain;
    uint64_t gd_count = (grains + e->gt_entries - 1) / e->gt_entries;
    if (gd_count > VMDK_MAX_GD)
        return vd_error_set(errp, -EINVAL, "%s: %llu grain tables (capacity %llu sectors, "
                            "grains of %llu sectors, %u entries per table) are more than the "
                            "%u vdisk reads", path, (unsigned long long)gd_count,
                            (unsigned long long)capacity, (unsigned long long)grain_sectors,
                            e->gt_entries, VMDK_MAX_GD);
    e->gd_count = (uint32_t)gd_count;
    e->data_end = (e->file_size + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    if (*stream_fresh)
        return 0;
    uint64_t gd_bytes = (uint64_t)e->gd_count * 4;
    uint64_t gt_bytes = (uint64_t)e->gt_entries * 4;
    for (int r = 0; r < 2; r++) {
        uint64_t off = r ? e->rgd_off : e->gd_off;
        if (r && !off)
            break;
        if (off > e->file_size / VMDK_SECTOR || gd_bytes > e->file_size - off * VMDK_SECTOR)
            return vd_error_set(errp, -EINVAL, "%s: the %sgrain directory at sector %llu "
                                "(%llu bytes) lies beyond the end of the file", path,
                                r ? "redundant " : "", (unsigned long long)off,
                                (unsigned long long)gd_bytes);
        uint32_t **t = r ? &e->rgd : &e->gd;
        ret = read_table(e->fd, path, t, e->gd_count, off * VMDK_SECTOR, errp);
        if (ret < 0)
            return ret;
        for (uint32_t i = 0; i < e->gd_count; i++) {
            uint64_t gt = (*t)[i];
            if (gt && (gt * VMDK_SECTOR > e->file_size ||
                       gt_bytes > e->file_size - gt * VMDK_SECTOR))
                return vd_error_set(errp, -EINVAL, "%s: grain directory entry %u points to "
                                    "a grain table at sector %llu, beyond the end of the "
                                    "file", path, i, (unsigned long long)gt);
        }
    }
    e->gd_off *= VMDK_SECTOR;
    e->rgd_off *= VMDK_SECTOR;
    return 0;
}

/* The grain table entries of N grains from grain G, all in one table:
 * 0 unallocated, VMDK_GTE_ZERO zeroed (when the extent has zeroed grains),
 * else the grain's sector. */
static int read_gtes(struct vmdk_extent *e, uint64_t g, uint32_t n, uint64_t *out,
                     struct vd_error **errp)
{
    if (e->gd64)
        return vmdk_sesparse_gtes(e, g, n, out, errp);
    uint32_t gt = gd_get(e, (uint32_t)(g / e->gt_entries));
    uint32_t raw[GTE_BATCH];
    if (!gt) {
        memset(out, 0, (size_t)n * 8);
        return 0;
    }
    uint64_t off = (uint64_t)gt * VMDK_SECTOR + (g % e->gt_entries) * 4;
    int ret = vd_fd_pread(e->fd, e->path, raw, (size_t)n * 4, off, errp);
    for (uint32_t i = 0; i < n && ret == 0; i++)
        out[i] = get_le32(&raw[i]);
    return ret;
}

/* How many grains from G (at most WANT, GTE_BATCH) share one grain table. */
static uint32_t gte_run(const struct vmdk_extent *e, uint64_t g, uint64_t want)
{
    uint64_t n = e->gt_entries - g % e->gt_entries;
    if (n > want)
        n = want;
    return (uint32_t)(n < GTE_BATCH ? n : GTE_BATCH);
}

/* A compressed grain at sector GTE into OUT (e->grain bytes). */
static int read_compressed(struct vmdk_extent *e, uint64_t g, uint64_t gte, uint8_t *out,
                           uint8_t *in, size_t in_max, struct libdeflate_decompressor *dec,
                           struct vd_error **errp)
{
    uint64_t off = (uint64_t)gte * VMDK_SECTOR;
    size_t len = in_max;
    if (e->markers) {
        uint8_t m[VMDK_GRAIN_MARKER];
        int ret = vd_fd_pread(e->fd, e->path, m, sizeof(m), off, errp);
        if (ret < 0)
            return ret;
        uint64_t lba = get_le64(m);
        len = get_le32(m + 8);
        if (lba != g * (e->grain / VMDK_SECTOR) || len == 0 || len > in_max)
            return vd_error_set(errp, -EINVAL, "%s: bad grain marker at offset %llu (LBA "
                                "%llu, %zu bytes) for grain %llu", e->path,
                                (unsigned long long)off, (unsigned long long)lba, len,
                                (unsigned long long)g);
        off += VMDK_GRAIN_MARKER;
    } else if (off >= e->file_size) {
        return vd_error_set(errp, -EINVAL, "%s: grain %llu at offset %llu is beyond the end "
                            "of the file", e->path, (unsigned long long)g,
                            (unsigned long long)off);
    } else if (len > e->file_size - off) {
        len = (size_t)(e->file_size - off);
    }
    int ret = vd_fd_pread(e->fd, e->path, in, len, off, errp);
    if (ret < 0)
        return ret;
    size_t got = 0, used = 0;
    if (libdeflate_zlib_decompress_ex(dec, in, len, out, e->grain, &used, &got) !=
        LIBDEFLATE_SUCCESS)
        return vd_error_set(errp, -EINVAL, "%s: compressed grain %llu at offset %llu does "
                            "not inflate", e->path, (unsigned long long)g,
                            (unsigned long long)off);
    memset(out + got, 0, e->grain - got);
    return 0;
}

/* Bytes of the parent at virtual offset OFF, zeros beyond its end. */
static int read_parent(struct vd_image *img, uint8_t *buf, size_t len, uint64_t off,
                       struct vd_error **errp)
{
    struct vd_image *p = img->backing;
    if (!p || off >= p->size) {
        memset(buf, 0, len);
        return 0;
    }
    size_t n = p->size - off < len ? (size_t)(p->size - off) : len;
    memset(buf + n, 0, len - n);
    return vd_image_pread(p, buf, n, off, errp);
}

static int sparse_read(struct vd_image *img, struct vmdk_extent *e, uint8_t *buf, size_t len,
                       uint64_t eo, struct vd_error **errp)
{
    uint8_t *grain = NULL, *in = NULL;
    struct libdeflate_decompressor *dec = NULL;
    size_t in_max = 0;
    int ret = 0;
    while (len && ret == 0) {
        uint64_t g = eo / e->grain;
        uint64_t last = (eo + len - 1) / e->grain;
        uint64_t gtes[GTE_BATCH];
        uint32_t n = gte_run(e, g, last - g + 1);
        ret = read_gtes(e, g, n, gtes, errp);
        for (uint32_t i = 0; i < n && ret == 0; i++) {
            uint32_t in_grain = (uint32_t)(eo % e->grain);
            size_t chunk = e->grain - in_grain < len ? e->grain - in_grain : len;
            uint64_t gte = gtes[i];
            if (gte == 0) {
                ret = read_parent(img, buf, chunk, e->start + eo, errp);
            } else if (gte == VMDK_GTE_ZERO && e->zero_grain) {
                memset(buf, 0, chunk);
            } else if (e->compressed) {
                if (!grain) {
                    in_max = libdeflate_zlib_compress_bound(NULL, e->grain) + VMDK_SECTOR;
                    grain = malloc(e->grain);
                    in = malloc(in_max);
                    dec = libdeflate_alloc_decompressor();
                    if (!grain || !in || !dec) {
                        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", e->path);
                        break;
                    }
                }
                ret = read_compressed(e, g + i, gte, grain, in, in_max, dec, errp);
                if (ret == 0)
                    memcpy(buf, grain + in_grain, chunk);
            } else {
                ret = vd_fd_pread(e->fd, e->path, buf, chunk,
                                  (uint64_t)gte * VMDK_SECTOR + in_grain, errp);
            }
            buf += chunk;
            eo += chunk;
            len -= chunk;
        }
    }
    free(grain);
    free(in);
    if (dec)
        libdeflate_free_decompressor(dec);
    return ret;
}

/* ---- open ---- */

/* Where the "CID=" line's hex digits are in TEXT (at file offset BASE),
 * and how many (qemu-img writes no leading zeros): the first write gives
 * the image a new content ID there, as many digits long, so that delta
 * disks made from it see that it changed. */
static uint64_t find_cid(const char *text, size_t len, uint64_t base, unsigned *digits)
{
    for (size_t i = 0; i + 5 <= len && text[i]; i++) {
        if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, "CID=", 4) == 0) {
            unsigned n = 0;
            while (n < 8 && i + 4 + n < len && text[i + 4 + n] &&
                   strchr("0123456789abcdefABCDEF", text[i + 4 + n]))
                n++;
            size_t end = i + 4 + n;
            if (n == 0 || (end < len && text[end] != '\n' && text[end] != '\r'))
                return 0;
            *digits = n;
            return base + i + 4;
        }
    }
    return 0;
}

static void free_extents(struct vmdk_state *s, int self_fd)
{
    for (int i = 0; i < s->n_ext; i++) {
        struct vmdk_extent *e = &s->ext[i];
        if (e->fd >= 0 && e->fd != self_fd)
            close(e->fd);
        free(e->path);
        free(e->gd);
        free(e->rgd);
        free(e->gd64);
    }
    free(s->ext);
    s->ext = NULL;
    s->n_ext = 0;
}

static void vmdk_close(struct vd_image *img)
{
    struct vmdk_state *s = img->opaque;
    vmdk_stream_free(s->stream);
    s->stream = NULL;
    free_extents(s, img->fd);
    vmdk_desc_free(&s->desc);
    if (s->lock_ready)
        pthread_mutex_destroy(&s->lock);
    s->lock_ready = false;
}

/* NAME relative to the folder of the descriptor at BASE. */
static char *relative_to(const char *base, const char *name)
{
    const char *slash = strrchr(base, '/');
    size_t dir = slash ? (size_t)(slash - base) + 1 : 0;
    size_t n = strlen(name);
    char *p = malloc(dir + n + 1);
    if (p) {
        memcpy(p, base, dir);
        memcpy(p + dir, name, n + 1);
    }
    return p;
}

static int open_extent_file(struct vd_image *img, struct vmdk_extent *e, const char *name,
                            struct vd_error **errp)
{
    /* Names come from the image: only names relative to the descriptor's
     * folder are followed (as qemu resolves them), never absolute ones. */
    if (name[0] == '/')
        return vd_error_set(errp, -EINVAL, "%s: extent file name '%s' is absolute; only "
                            "names relative to the descriptor are read", img->path, name);
    e->path = relative_to(img->path, name);
    if (!e->path)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    e->fd = open(e->path, (img->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
    if (e->fd < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot open extent file '%s'",
                                  img->path, e->path);
    struct stat st;
    if (fstat(e->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", e->path);
    if (!S_ISREG(st.st_mode))
        return vd_error_set(errp, -EINVAL, "%s: extent '%s' is not a regular file",
                            img->path, e->path);
    e->file_size = (uint64_t)st.st_size;
    return 0;
}

static int open_extents(struct vd_image *img, struct vmdk_state *s, struct vd_error **errp)
{
    if (s->desc.n_extents == 0)
        return vd_error_set(errp, -EINVAL, "%s: the descriptor lists no extents", img->path);
    s->ext = calloc((size_t)s->desc.n_extents, sizeof(*s->ext));
    if (!s->ext)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    uint64_t start = 0;
    for (int i = 0; i < s->desc.n_extents; i++) {
        const struct vmdk_desc_extent *d = &s->desc.extents[i];
        struct vmdk_extent *e = &s->ext[i];
        s->n_ext = i + 1;
        e->fd = -1;
        e->type = d->type;
        e->read_only = d->read_only;
        e->start = start;
        e->length = d->sectors * VMDK_SECTOR;
        if (start + e->length > VMDK_MAX_SIZE)
            return vd_error_set(errp, -EFBIG, "%s: the extents add up to more than the "
                                "64 TiB vdisk reads", img->path);
        start += e->length;
        if (img->writable && e->read_only)
            return vd_error_set(errp, -EROFS, "%s: extent %d is read-only in the descriptor; "
                                "the image cannot be opened for writing", img->path, i + 1);
        if (e->type == VMDK_EXT_ZERO)
            continue;
        int ret = open_extent_file(img, e, d->file, errp);
        if (ret < 0)
            return ret;
        if (e->type == VMDK_EXT_FLAT) {
            e->flat_offset = d->offset * VMDK_SECTOR;
            continue;
        }
        if (e->type == VMDK_EXT_SESPARSE) {
            ret = vmdk_sesparse_setup(e, errp);
            if (ret == 0 && img->writable)
                ret = vd_error_set(errp, -EROFS, "%s: seSparse extents are read-only in "
                                   "vdisk", img->path);
            if (ret < 0)
                return ret;
            continue;
        }
        bool fresh = false;
        ret = sparse_setup(img, e, &fresh, errp);
        if (ret < 0)
            return ret;
        if (fresh || (img->writable && e->compressed))
            return vd_error_set(errp, -EROFS, "%s: a streamOptimized extent in a "
                                "descriptor file cannot be written", img->path);
    }
    img->size = start;
    return 0;
}

/* A sparse file whose header holds the descriptor (monolithicSparse,
 * streamOptimized): the file is the one extent, whatever name the
 * descriptor gives it (a renamed image still opens). */
static int open_embedded(struct vd_image *img, struct vmdk_state *s, uint64_t file_size,
                         struct vd_error **errp)
{
    s->ext = calloc(1, sizeof(*s->ext));
    if (!s->ext)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    s->n_ext = 1;
    struct vmdk_extent *e = &s->ext[0];
    e->type = VMDK_EXT_SPARSE;
    e->fd = img->fd;
    e->file_size = file_size;
    e->path = strdup(img->path);
    if (!e->path)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    bool fresh = false;
    int ret = sparse_setup(img, e, &fresh, errp);
    if (ret < 0)
        return ret;
    const uint8_t *h = e->header;
    uint64_t dsec = get_le64(h + VMDK_H_DESC_OFF), dlen = get_le64(h + VMDK_H_DESC_SIZE);
    img->size = get_le64(h + VMDK_H_CAPACITY) * VMDK_SECTOR;
    char why[200];
    if (dsec && dlen) {
        if (dlen > VMDK_MAX_DESC / VMDK_SECTOR || dsec > file_size / VMDK_SECTOR ||
            dlen * VMDK_SECTOR > file_size - dsec * VMDK_SECTOR)
            return vd_error_set(errp, -EINVAL, "%s: embedded descriptor at sector %llu "
                                "(%llu sectors) is too large or beyond the end of the file",
                                img->path, (unsigned long long)dsec, (unsigned long long)dlen);
        char *text = malloc(dlen * VMDK_SECTOR);
        if (!text)
            return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        ret = vd_file_pread(img, text, dlen * VMDK_SECTOR, dsec * VMDK_SECTOR, errp);
        if (ret == 0) {
            ret = vmdk_desc_parse(text, dlen * VMDK_SECTOR, &s->desc, why, sizeof(why));
            if (ret < 0)
                vd_error_set(errp, ret, "%s: embedded descriptor: %s", img->path, why);
            s->cid_at = find_cid(text, dlen * VMDK_SECTOR, dsec * VMDK_SECTOR,
                                 &s->cid_digits);
        }
        free(text);
        if (ret < 0)
            return ret;
        s->embedded = true;
    } else {
        s->desc.cid = s->desc.parent_cid = VMDK_CID_NONE;
    }
    e->length = img->size;
    if (img->writable && e->compressed) {
        if (!fresh)
            return vd_error_set(errp, -EROFS, "%s: a streamOptimized image is written once, "
                                "when it is created; it cannot be modified", img->path);
        img->sequential_write = true;
        return vmdk_stream_start(img, e, errp);
    }
    return 0;
}

static int open_parent(struct vd_image *img, struct vmdk_state *s, unsigned flags,
                       struct vd_error **errp)
{
    const char *hint = s->desc.parent_hint;
    if (!hint)
        return vd_error_set(errp, -EINVAL, "%s: a delta disk (parentCID %08x) without "
                            "parentFileNameHint", img->path, s->desc.parent_cid);
    img->backing_path = hint[0] == '/' ? strdup(hint) : relative_to(img->path, hint);
    if (!img->backing_path)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    if (flags & VD_OPEN_LOST_BACKING)
        return 0;
    if (access(img->backing_path, F_OK) < 0)
        return vd_error_set_errno(errp, -errno, "%s: parent '%s' (parentFileNameHint) is "
                                  "not there", img->path, img->backing_path);
    if (flags & VD_OPEN_NO_BACKING)
        return 0;
    int ret = vd_image_open_backing(img, flags, errp);
    if (ret < 0)
        return ret;
    struct vd_image *parent = img->backing;
    if (parent->drv != &vd_format_vmdk)
        ret = vd_error_set(errp, -EINVAL, "%s: parent '%s' is a %s image, not a VMDK",
                           img->path, parent->path, parent->drv->name);
    else if (((struct vmdk_state *)parent->opaque)->desc.cid != s->desc.parent_cid)
        ret = vd_error_set(errp, -EINVAL, "%s: parent '%s' has content ID %08x, but this "
                           "delta disk expects %08x (the parent changed since)", img->path,
                           parent->path, ((struct vmdk_state *)parent->opaque)->desc.cid,
                           s->desc.parent_cid);
    if (ret < 0) {
        vd_image_close(parent, NULL);
        img->backing = NULL;
    }
    return ret;
}

static int open_image(struct vd_image *img, unsigned flags, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    struct stat st;
    if (fstat(img->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", img->path);
    uint64_t file_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint8_t magic[4] = { 0 };
    int ret = 0;
    if (file_size >= 4)
        ret = vd_file_pread(img, magic, 4, 0, errp);
    if (ret < 0)
        return ret;
    pthread_mutex_init(&s->lock, NULL);
    s->lock_ready = true;
    if (get_le32(magic) == VMDK_MAGIC) {
        ret = open_embedded(img, s, file_size, errp);
    } else {
        if (file_size == 0 || file_size > VMDK_MAX_DESC)
            return vd_error_set(errp, -EINVAL, "%s: neither a VMDK sparse extent nor a "
                                "descriptor file (%llu bytes)", img->path,
                                (unsigned long long)file_size);
        char *text = malloc(file_size);
        if (!text)
            return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        ret = vd_file_pread(img, text, file_size, 0, errp);
        char why[200];
        if (ret == 0) {
            ret = vmdk_desc_parse(text, file_size, &s->desc, why, sizeof(why));
            if (ret < 0)
                vd_error_set(errp, ret, "%s: descriptor: %s", img->path, why);
            s->cid_at = find_cid(text, file_size, 0, &s->cid_digits);
        }
        free(text);
        if (ret == 0)
            ret = open_extents(img, s, errp);
    }
    if (ret < 0)
        return ret;
    if (s->desc.parent_cid != VMDK_CID_NONE)
        return open_parent(img, s, flags, errp);
    return 0;
}

static int vmdk_open(struct vd_image *img, unsigned flags, struct vd_error **errp)
{
    int ret = open_image(img, flags, errp);
    if (ret < 0)
        vmdk_close(img);    /* the core closes only what opened */
    return ret;
}

/* ---- read, write ---- */

static struct vmdk_extent *find_extent(struct vmdk_state *s, uint64_t off)
{
    int lo = 0, hi = s->n_ext - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (s->ext[mid].start <= off)
            lo = mid;
        else
            hi = mid - 1;
    }
    return &s->ext[lo];
}

static int sparse_write(struct vd_image *img, struct vmdk_extent *e, const uint8_t *buf,
                        size_t len, uint64_t eo, struct vd_error **errp);

/* Reads (WBUF NULL) into RBUF or writes WBUF, extent by extent. */
static int extents_io(struct vd_image *img, uint8_t *rbuf, const uint8_t *wbuf, size_t len,
                      uint64_t off, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    while (len) {
        struct vmdk_extent *e = find_extent(s, off);
        uint64_t eo = off - e->start;
        size_t n = e->length - eo < len ? (size_t)(e->length - eo) : len;
        int ret = 0;
        if (e->type == VMDK_EXT_ZERO && !wbuf)
            memset(rbuf, 0, n);
        else if (wbuf && (e->type == VMDK_EXT_ZERO || e->read_only))
            ret = vd_error_set(errp, -EROFS, "%s: offset %llu lies in a %s extent, which "
                               "cannot be written", img->path, (unsigned long long)off,
                               e->type == VMDK_EXT_ZERO ? "ZERO" : "read-only");
        else if (e->type == VMDK_EXT_FLAT && !wbuf)
            ret = vd_fd_pread(e->fd, e->path, rbuf, n, e->flat_offset + eo, errp);
        else if (e->type == VMDK_EXT_FLAT)
            ret = vd_fd_pwrite(e->fd, e->path, wbuf, n, e->flat_offset + eo, errp);
        else if (!wbuf)
            ret = sparse_read(img, e, rbuf, n, eo, errp);
        else
            ret = sparse_write(img, e, wbuf, n, eo, errp);
        if (ret < 0)
            return ret;
        if (wbuf)
            wbuf += n;
        else
            rbuf += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int vmdk_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                      struct vd_error **errp)
{
    return extents_io(img, buf, NULL, len, off, errp);
}

static int write_gte(struct vmdk_extent *e, uint32_t gt, uint64_t g, uint32_t value,
                     struct vd_error **errp)
{
    uint8_t le[4];
    put_le32(le, value);
    return vd_fd_pwrite(e->fd, e->path, le, 4, (uint64_t)gt * VMDK_SECTOR +
                        (g % e->gt_entries) * 4, errp);
}

/* A new, empty grain table at the end of the file (lock held). */
static int alloc_gt(struct vmdk_extent *e, uint32_t *gt, struct vd_error **errp)
{
    uint64_t bytes = ((uint64_t)e->gt_entries * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    if (e->data_end / VMDK_SECTOR + bytes / VMDK_SECTOR > UINT32_MAX)
        return vd_error_set(errp, -EFBIG, "%s: the file is full (32-bit sector offsets)",
                            e->path);
    static const uint8_t zeros[VMDK_GT_ENTRIES * 4];
    int ret = vd_fd_pwrite(e->fd, e->path, zeros, bytes, e->data_end, errp);
    if (ret < 0)
        return ret;
    *gt = (uint32_t)(e->data_end / VMDK_SECTOR);
    e->data_end += bytes;
    return 0;
}

/* Allocates grain G holding its current content with BUF (LEN bytes at
 * IN_GRAIN) laid over it; lock held, G still unallocated. */
static int alloc_grain(struct vd_image *img, struct vmdk_extent *e, uint64_t g, uint64_t gte,
                       const uint8_t *buf, size_t len, uint32_t in_grain,
                       struct vd_error **errp)
{
    if (e->data_end / VMDK_SECTOR + e->grain / VMDK_SECTOR > UINT32_MAX)
        return vd_error_set(errp, -EFBIG, "%s: the file is full (32-bit sector offsets)",
                            e->path);
    uint8_t *grain = malloc(e->grain);
    if (!grain)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", e->path);
    int ret = 0;
    uint64_t vstart = e->start + g * e->grain;
    uint64_t vlen = e->length - g * e->grain < e->grain ? e->length - g * e->grain : e->grain;
    memset(grain, 0, e->grain);
    if (gte == 0 && (in_grain > 0 || len < vlen))
        ret = read_parent(img, grain, (size_t)vlen, vstart, errp);
    memcpy(grain + in_grain, buf, len);
    uint32_t at = (uint32_t)(e->data_end / VMDK_SECTOR);
    if (ret == 0)
        ret = vd_fd_pwrite(e->fd, e->path, grain, e->grain, e->data_end, errp);
    free(grain);
    if (ret < 0)
        return ret;
    e->data_end += e->grain;
    uint32_t gi = (uint32_t)(g / e->gt_entries);
    for (int r = 0; r < 2 && ret == 0; r++) {
        uint32_t *dir = r ? e->rgd : e->gd;
        uint64_t dir_off = r ? e->rgd_off : e->gd_off;
        if (!dir)
            break;
        uint32_t gt = __atomic_load_n(&dir[gi], __ATOMIC_ACQUIRE);
        bool fresh = gt == 0;
        if (fresh)
            ret = alloc_gt(e, &gt, errp);
        if (ret == 0)
            ret = write_gte(e, gt, g, at, errp);
        if (ret == 0 && fresh) {
            uint8_t le[4];
            put_le32(le, gt);
            ret = vd_fd_pwrite(e->fd, e->path, le, 4, dir_off + (uint64_t)gi * 4, errp);
            if (ret == 0)
                __atomic_store_n(&dir[gi], gt, __ATOMIC_RELEASE);
        }
    }
    return ret;
}

static int sparse_write(struct vd_image *img, struct vmdk_extent *e, const uint8_t *buf,
                        size_t len, uint64_t eo, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    while (len) {
        uint64_t g = eo / e->grain;
        uint32_t in_grain = (uint32_t)(eo % e->grain);
        size_t chunk = e->grain - in_grain < len ? e->grain - in_grain : len;
        uint64_t gte;
        int ret = read_gtes(e, g, 1, &gte, errp);
        if (ret == 0 && (gte == 0 || (gte == VMDK_GTE_ZERO && e->zero_grain))) {
            pthread_mutex_lock(&s->lock);
            ret = read_gtes(e, g, 1, &gte, errp);
            if (ret == 0 && (gte == 0 || (gte == VMDK_GTE_ZERO && e->zero_grain))) {
                ret = alloc_grain(img, e, g, gte, buf, chunk, in_grain, errp);
                gte = 0;    /* written */
            }
            pthread_mutex_unlock(&s->lock);
        }
        if (ret == 0 && gte)
            ret = vd_fd_pwrite(e->fd, e->path, buf, chunk,
                               (uint64_t)gte * VMDK_SECTOR + in_grain, errp);
        if (ret < 0)
            return ret;
        buf += chunk;
        eo += chunk;
        len -= chunk;
    }
    return 0;
}

/* The first write of an open gives the image a new content ID, before any
 * data changes (VMware's rule): a delta disk made from the old content then
 * no longer opens over the new. */
static int new_cid(struct vd_image *img, struct vmdk_state *s, struct vd_error **errp)
{
    int ret = 0;
    pthread_mutex_lock(&s->lock);
    if (!s->cid_changed && s->cid_at) {
        unsigned n = s->cid_digits;
        uint32_t mask = n >= 8 ? 0xffffffffu : (1u << (4 * n)) - 1;
        uint32_t cid = s->desc.cid;
        for (uint32_t k = 1; cid == s->desc.cid || cid == VMDK_CID_NONE || cid == 0xfffffffeu;
             k++) {
            if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
                cid = ((uint32_t)time(NULL) ^ (uint32_t)getpid() << 16) * 2654435761u + k;
            cid &= mask;
        }
        char hex[9];
        snprintf(hex, sizeof(hex), "%0*x", (int)n, cid);
        ret = vd_file_pwrite(img, hex, n, s->cid_at, errp);
        if (ret == 0 && fdatasync(img->fd) < 0 && errno != EINVAL)
            ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
        if (ret == 0)
            s->desc.cid = cid;
    }
    if (ret == 0)
        __atomic_store_n(&s->cid_changed, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

static int vmdk_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                       struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    if (s->stream)
        return vmdk_stream_write(img, buf, len, off, errp);
    if (!__atomic_load_n(&s->cid_changed, __ATOMIC_ACQUIRE)) {
        int ret = new_cid(img, s, errp);
        if (ret < 0)
            return ret;
    }
    return extents_io(img, NULL, buf, len, off, errp);
}

/* Zeros: grains that already read as zeros (unallocated without a parent,
 * zeroed) are left alone, whole allocated grains of an extent with zeroed
 * grains become zeroed entries (lock held: the grain table entries change),
 * the rest is written as zeros. */
static int vmdk_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                             struct vd_error **errp)
{
    static const uint8_t zeros[VMDK_MAX_GRAIN];
    struct vmdk_state *s = img->opaque;
    if (s->stream)
        return -ENOTSUP;    /* the core writes zeros in order */
    int ret = new_cid(img, s, errp);
    while (ret == 0 && len) {
        struct vmdk_extent *e = find_extent(s, off);
        uint64_t eo = off - e->start;
        uint64_t n = e->length - eo < len ? e->length - eo : len;
        if (e->type == VMDK_EXT_SPARSE) {
            uint64_t in_grain = eo % e->grain;
            if (n > e->grain - in_grain)
                n = e->grain - in_grain;
            uint64_t gte;
            ret = read_gtes(e, eo / e->grain, 1, &gte, errp);
            bool whole = in_grain == 0 && (n == e->grain || eo + n == e->length);
            uint32_t gi = (uint32_t)(eo / e->grain / e->gt_entries);
            uint32_t gt = gd_get(e, gi), rgt = e->rgd ? __atomic_load_n(&e->rgd[gi],
                                                                       __ATOMIC_ACQUIRE) : 0;
            if (ret < 0 || (gte == 0 && !img->backing_path) ||
                (gte == VMDK_GTE_ZERO && e->zero_grain)) {
                /* reads as zeros already */
            } else if (whole && e->zero_grain && gt && (rgt || !e->rgd)) {
                pthread_mutex_lock(&s->lock);
                ret = write_gte(e, gt, eo / e->grain, VMDK_GTE_ZERO, errp);
                if (ret == 0 && rgt)
                    ret = write_gte(e, rgt, eo / e->grain, VMDK_GTE_ZERO, errp);
                pthread_mutex_unlock(&s->lock);
            } else {
                ret = sparse_write(img, e, zeros, (size_t)n, eo, errp);
            }
        } else if (e->type == VMDK_EXT_FLAT) {
            if (n > sizeof(zeros))
                n = sizeof(zeros);
            ret = vd_fd_pwrite(e->fd, e->path, zeros, (size_t)n, e->flat_offset + eo, errp);
        }
        off += n;
        len -= n;
    }
    return ret;
}

static int vmdk_flush(struct vd_image *img, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    if (s->stream) {
        int ret = vmdk_stream_flush(img, errp);
        if (ret < 0)
            return ret;
    }
    if (fdatasync(img->fd) < 0 && errno != EINVAL)
        return vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    for (int i = 0; i < s->n_ext; i++) {
        const struct vmdk_extent *e = &s->ext[i];
        if (e->fd >= 0 && e->fd != img->fd && fdatasync(e->fd) < 0 && errno != EINVAL)
            return vd_error_set_errno(errp, -errno, "%s: cannot flush", e->path);
    }
    return 0;
}

/* ---- block status ---- */

static enum vd_extent_kind gte_kind(const struct vd_image *img, const struct vmdk_extent *e,
                                   uint64_t gte)
{
    if (gte == 0)
        return img->backing_path ? VD_EXTENT_BACKING : VD_EXTENT_UNALLOCATED;
    if (gte == VMDK_GTE_ZERO && e->zero_grain)
        return VD_EXTENT_ZERO;
    return VD_EXTENT_DATA;
}

static int vmdk_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                             struct vd_extent *ext, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    struct vmdk_extent *e = find_extent(s, off);
    uint64_t eo = off - e->start;
    if (len > e->length - eo)
        len = e->length - eo;
    *ext = (struct vd_extent){ off, len, VD_EXTENT_DATA };
    if (e->type == VMDK_EXT_ZERO) {
        ext->kind = VD_EXTENT_ZERO;
        return 0;
    }
    if (e->type == VMDK_EXT_FLAT || s->stream)
        return 0;
    uint64_t pos = eo, end = eo + len;
    bool have = false;
    while (pos < end) {
        uint64_t g = pos / e->grain;
        uint64_t gtes[GTE_BATCH];
        uint32_t n = gte_run(e, g, (end - 1) / e->grain - g + 1);
        int ret = read_gtes(e, g, n, gtes, errp);
        if (ret < 0)
            return ret;
        for (uint32_t i = 0; i < n && pos < end; i++) {
            enum vd_extent_kind k = gte_kind(img, e, gtes[i]);
            if (have && k != ext->kind) {
                ext->length = pos - eo;
                return 0;
            }
            ext->kind = k;
            have = true;
            pos = (g + i + 1) * e->grain;
        }
    }
    ext->length = len;
    return 0;
}

static int vmdk_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                            uint64_t *file_off, uint64_t *run)
{
    struct vmdk_state *s = img->opaque;
    struct vmdk_extent *e = find_extent(s, off);
    if (e->fd != img->fd || e->type != VMDK_EXT_SPARSE || e->compressed || s->stream)
        return -ENOENT;
    uint64_t eo = off - e->start;
    uint64_t gte;
    if (read_gtes(e, eo / e->grain, 1, &gte, NULL) < 0 || gte_kind(img, e, gte) !=
        VD_EXTENT_DATA)
        return -ENOENT;
    uint64_t in_grain = eo % e->grain;
    *file_off = (uint64_t)gte * VMDK_SECTOR + in_grain;
    *run = e->grain - in_grain < len ? e->grain - in_grain : len;
    if (*run > e->length - eo)
        *run = e->length - eo;
    return 0;
}

/* ---- resize (monolithicSparse) ---- */

/* Rewrites LINE (one descriptor line with its newline) into BUF when it
 * has to change; returns whether it did. */
typedef bool desc_edit_fn(const char *line, char *buf, size_t size, void *ctx);

/* The embedded descriptor, line by line through EDIT; the new text must
 * fit the descriptor's room. WANT counts the lines EDIT must change
 * (fewer is an error naming MISSING). */
static int edit_descriptor(struct vd_image *img, const struct vmdk_extent *e,
                           desc_edit_fn *edit, void *ctx, int want, const char *missing,
                           struct vd_error **errp)
{
    uint64_t dsec = get_le64(e->header + VMDK_H_DESC_OFF);
    size_t room = (size_t)get_le64(e->header + VMDK_H_DESC_SIZE) * VMDK_SECTOR;
    char *text = calloc(1, room + 1), *out = calloc(1, room + 64);
    int ret = 0;
    if (!text || !out)
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    if (ret == 0)
        ret = vd_file_pread(img, text, room, dsec * VMDK_SECTOR, errp);
    size_t used = 0;
    int done = 0;
    for (char *line = text, *next; ret == 0 && line && *line; line = next) {
        next = strchr(line, '\n');
        size_t len = next ? (size_t)(++next - line) : strlen(line);
        char buf[1100];
        const char *piece = line;
        if (len < sizeof(buf)) {
            memcpy(buf, line, len);
            buf[len] = '\0';
            char *copy = strdup(buf);
            if (!copy) {
                ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
                break;
            }
            if (edit(copy, buf, sizeof(buf), ctx)) {
                piece = buf;
                len = strlen(buf);
                done++;
            }
            free(copy);
        }
        if (used + len > room) {
            ret = vd_error_set(errp, -ENOSPC, "%s: the new descriptor does not fit its %zu "
                               "bytes", img->path, room);
            break;
        }
        memcpy(out + used, piece, len);
        used += len;
    }
    if (ret == 0 && done < want)
        ret = vd_error_set(errp, -EINVAL, "%s: no %s in the descriptor", img->path, missing);
    if (ret == 0)
        ret = vd_file_pwrite(img, out, room, dsec * VMDK_SECTOR, errp);
    if (ret == 0 && fdatasync(img->fd) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    free(text);
    free(out);
    return ret;
}

/* The extent line's sector count and the geometry's cylinders. */
static bool size_edit(const char *line, char *buf, size_t size, void *ctx)
{
    uint64_t sectors = *(const uint64_t *)ctx;
    unsigned long long n;
    char mode[16], rest[1024];
    if (sscanf(line, "%15s %llu SPARSE %1023[^\n]", mode, &n, rest) == 3) {
        snprintf(buf, size, "%s %llu SPARSE %s\n", mode, (unsigned long long)sectors, rest);
        return true;
    }
    if (strncmp(line, "ddb.geometry.cylinders", 22) == 0) {
        uint64_t cyl = sectors / (16 * 63);
        snprintf(buf, size, "ddb.geometry.cylinders = \"%llu\"\n",
                 (unsigned long long)(cyl > 16383 ? 16383 : cyl));
        return true;
    }
    return false;
}

static int rewrite_size(struct vd_image *img, const struct vmdk_extent *e, uint64_t sectors,
                        struct vd_error **errp)
{
    return edit_descriptor(img, e, size_edit, &sectors, 1, "SPARSE extent line", errp);
}

static int write_capacity(struct vd_image *img, struct vmdk_extent *e, uint64_t sectors,
                          struct vd_error **errp)
{
    put_le64(e->header + VMDK_H_CAPACITY, sectors);
    int ret = vd_file_pwrite(img, e->header, VMDK_SECTOR, 0, errp);
    if (ret == 0 && fdatasync(img->fd) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    return ret;
}

/* One embedded sparse extent, written in place (not stream, not seSparse):
 * what qemu-img and vdisk create as monolithicSparse. */
static struct vmdk_extent *resizable(struct vd_image *img, const char *what,
                                     struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    struct vmdk_extent *e = &s->ext[0];
    if (!s->embedded || s->n_ext != 1 || e->type != VMDK_EXT_SPARSE || e->compressed ||
        e->gd64 || e->fd != img->fd) {
        vd_error_set(errp, -ENOTSUP, "%s: %s is supported for monolithicSparse VMDKs "
                     "only (this one is %s)", img->path, what,
                     s->desc.create_type[0] ? s->desc.create_type : "another kind");
        return NULL;
    }
    return e;
}

/* Growing uses the room the grain directories have (their sector padding:
 * 128 tables, 4 GiB of 64 KiB grains per sector); new tables are allocated
 * on write. Capacity first, then the descriptor: a crash between leaves a
 * descriptor smaller than the capacity, which opens with the old size. */
static int vmdk_grow(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct vmdk_extent *e = resizable(img, "resizing", errp);
    if (!e)
        return -ENOTSUP;
    if (size % VMDK_SECTOR || size > VMDK_MAX_SIZE)
        return vd_error_set(errp, -EINVAL, "%s: cannot grow to %llu bytes (whole sectors, up "
                            "to the 64 TiB vdisk reads)", img->path, (unsigned long long)size);
    uint64_t grains = (size + e->grain - 1) / e->grain;
    uint64_t count = (grains + e->gt_entries - 1) / e->gt_entries;
    uint64_t room = ((uint64_t)e->gd_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR / 4;
    if (count > room)
        return vd_error_set(errp, -ENOSPC, "%s: cannot grow to %llu bytes: its grain "
                            "directory has room for %llu tables (%llu bytes), and moving the "
                            "tables after it is not supported", img->path,
                            (unsigned long long)size, (unsigned long long)room,
                            (unsigned long long)(room * e->gt_entries * e->grain));
    for (int r = 0; r < 2; r++) {
        uint32_t **t = r ? &e->rgd : &e->gd;
        uint64_t off = r ? e->rgd_off : e->gd_off;
        if (!*t || count <= e->gd_count)
            continue;
        uint32_t *grown = realloc(*t, (size_t)count * 4);
        if (!grown)
            return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        *t = grown;
        /* The padding must be empty: it becomes directory entries. */
        int ret = vd_file_pread(img, grown + e->gd_count, (size_t)(count - e->gd_count) * 4,
                                off + (uint64_t)e->gd_count * 4, errp);
        if (ret < 0)
            return ret;
        for (uint64_t i = e->gd_count; i < count; i++)
            if (grown[i])
                return vd_error_set(errp, -ENOSPC, "%s: cannot grow: the %sgrain directory's "
                                    "padding is not empty", img->path, r ? "redundant " : "");
    }
    if (count > e->gd_count)
        e->gd_count = (uint32_t)count;
    int ret = write_capacity(img, e, size / VMDK_SECTOR, errp);
    if (ret == 0)
        ret = rewrite_size(img, e, size / VMDK_SECTOR, errp);
    if (ret == 0) {
        e->length = size;
        img->size = size;
    }
    return ret;
}

/* The core has checked that the dropped tail reads as zeros; grains past
 * the end stay allocated (and read as zeros after a later grow).
 * Descriptor first, then the capacity. */
static int vmdk_shrink(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct vmdk_extent *e = resizable(img, "resizing", errp);
    if (!e)
        return -ENOTSUP;
    if (size % VMDK_SECTOR)
        return vd_error_set(errp, -EINVAL, "%s: cannot shrink to %llu bytes (whole sectors)",
                            img->path, (unsigned long long)size);
    int ret = rewrite_size(img, e, size / VMDK_SECTOR, errp);
    if (ret == 0)
        ret = write_capacity(img, e, size / VMDK_SECTOR, errp);
    if (ret == 0) {
        e->length = size;
        img->size = size;
    }
    return ret;
}

/* ---- rebase ---- */

struct parent_ref {
    uint32_t cid;
    const char *hint;
};

static bool parent_edit(const char *line, char *buf, size_t size, void *ctx)
{
    const struct parent_ref *p = ctx;
    if (strncmp(line, "parentCID", 9) == 0) {
        snprintf(buf, size, "parentCID=%08x\n", p->cid);
        return true;
    }
    if (strncmp(line, "parentFileNameHint", 18) == 0) {
        snprintf(buf, size, "parentFileNameHint=\"%s\"\n", p->hint);
        return true;
    }
    return false;
}

/* A delta disk names its parent by parentFileNameHint and expects its
 * CID in parentCID: both lines change, in one descriptor write. */
static int vmdk_set_backing(struct vd_image *img, struct vd_image *parent,
                            const char *parent_arg, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    if (s->desc.parent_cid == VMDK_CID_NONE || !s->desc.parent_hint)
        return vd_error_set(errp, -EINVAL, "%s: not a delta VMDK: it has no parent to change",
                            img->path);
    if (parent->drv != &vd_format_vmdk)
        return vd_error_set(errp, -EINVAL, "%s: a VMDK delta disk needs a VMDK parent; '%s' "
                            "is %s", img->path, parent_arg, parent->drv->name);
    struct vmdk_extent *e = resizable(img, "changing the backing file", errp);
    if (!e)
        return -ENOTSUP;
    if (strlen(parent_arg) > 900)
        return vd_error_set(errp, -ENAMETOOLONG, "%s: the parent's name is too long", img->path);
    const struct vmdk_state *ps = parent->opaque;
    struct parent_ref ref = { .cid = ps->desc.cid };
    char *hint = NULL;
    int ret = vmdk_parent_hint(img->path, parent_arg, &hint, errp);
    if (ret < 0)
        return ret;
    ref.hint = hint;
    ret = edit_descriptor(img, e, parent_edit, &ref, 2, "parentCID and parentFileNameHint",
                          errp);
    free(hint);
    return ret;
}

/* ---- amend ---- */

struct ddb_set {
    const char *adapter, *hwversion;
};

static bool ddb_edit(const char *line, char *buf, size_t size, void *ctx)
{
    const struct ddb_set *d = ctx;
    if (d->adapter && strncmp(line, "ddb.adapterType", 15) == 0) {
        snprintf(buf, size, "ddb.adapterType = \"%s\"\n", d->adapter);
        return true;
    }
    if (d->hwversion && strncmp(line, "ddb.virtualHWVersion", 20) == 0) {
        snprintf(buf, size, "ddb.virtualHWVersion = \"%s\"\n", d->hwversion);
        return true;
    }
    return false;
}

/* adapter_type and hwversion live in the descriptor's disk database and
 * change in place; the layout (subformat, compat6) cannot. */
static int vmdk_amend(struct vd_image *img, const struct vd_options *opts,
                      struct vd_error **errp)
{
    struct ddb_set d = { vd_options_get(opts, "adapter_type"), vd_options_get(opts, "hwversion") };
    for (int i = 0; i < opts->count; i++)
        if (strcmp(opts->items[i].key, "adapter_type") != 0 &&
            strcmp(opts->items[i].key, "hwversion") != 0)
            return vd_error_set(errp, -EINVAL, "%s: %s cannot change in place (only "
                                "adapter_type and hwversion can)", img->path,
                                opts->items[i].key);
    static const char *const adapters[] = { "ide", "lsilogic", "buslogic", "legacyESX", NULL };
    const char *const *a = adapters;
    while (d.adapter && *a && strcmp(*a, d.adapter) != 0)
        a++;
    if (d.adapter && !*a)
        return vd_error_set(errp, -EINVAL, "vmdk: adapter_type must be ide, lsilogic, buslogic "
                            "or legacyESX, not '%s'", d.adapter);
    if (d.hwversion && (!*d.hwversion || strspn(d.hwversion, "0123456789") !=
                        strlen(d.hwversion) || strlen(d.hwversion) > 3))
        return vd_error_set(errp, -EINVAL, "vmdk: hwversion must be a number, not '%s'",
                            d.hwversion);
    struct vmdk_extent *e = resizable(img, "amending", errp);
    if (!e)
        return -ENOTSUP;
    int want = (d.adapter != NULL) + (d.hwversion != NULL);
    return edit_descriptor(img, e, ddb_edit, &d, want, "ddb.adapterType or ddb.virtualHWVersion",
                           errp);
}

/* ---- info ---- */

static void vmdk_info(struct vd_image *img, struct vd_info *info)
{
    struct vmdk_state *s = img->opaque;
    const struct vmdk_desc *d = &s->desc;
    if (img->backing_path)
        info->backing_stored = d->parent_hint;
    vd_info_add(info, "create-type", false, "%s", d->create_type[0] ? d->create_type
                                                                    : "(none)");
    vd_info_add(info, "cid", false, "%08x", d->cid);
    if (d->parent_cid != VMDK_CID_NONE)
        vd_info_add(info, "parent-cid", false, "%08x", d->parent_cid);
    if (d->adapter[0])
        vd_info_add(info, "adapter-type", false, "%s", d->adapter);
    if (d->hwversion[0])
        vd_info_add(info, "hwversion", false, "%s", d->hwversion);
    if (d->uuid[0])
        vd_info_add(info, "uuid", false, "%s", d->uuid);
    if (d->cylinders)
        vd_info_add(info, "geometry", false, "%u/%u/%u", d->cylinders, d->heads, d->sectors);
    vd_info_add(info, "extents", true, "%d", s->n_ext);
    /* The disk size on the host counts the extent files too. */
    for (int i = 0; i < s->n_ext; i++) {
        struct stat st;
        if (s->ext[i].fd >= 0 && s->ext[i].fd != img->fd && fstat(s->ext[i].fd, &st) == 0)
            info->actual_size += (uint64_t)st.st_blocks * 512;
    }
    for (int i = 0; i < s->n_ext; i++) {
        const struct vmdk_extent *e = &s->ext[i];
        if (e->type != VMDK_EXT_SPARSE)
            continue;
        info->cluster_size = e->grain;
        vd_info_add(info, "version", true, "%u", e->version);
        vd_info_add(info, "compressed", false, "%s", e->compressed ? "true" : "false");
        break;
    }
}

static const struct vd_option_desc vmdk_create_options[] = {
    { "subformat", "monolithicSparse (default), monolithicFlat or streamOptimized" },
    { "adapter_type", "ide (default; NT-era guests), lsilogic or buslogic" },
    { "hwversion", "ddb.virtualHWVersion (default 4)" },
    { "compat6", "on: virtual hardware version 6" },
    { NULL, NULL },
};

const struct vd_format vd_format_vmdk = {
    .name = "vmdk",
    .description = "VMware virtual disk (sparse, flat, streamOptimized, delta)",
    .instance_size = sizeof(struct vmdk_state),
    .differencing = true,
    .probe = vmdk_probe,
    .open = vmdk_open,
    .close = vmdk_close,
    .pread = vmdk_pread,
    .pwrite = vmdk_pwrite,
    .write_zeroes = vmdk_write_zeroes,
    .flush = vmdk_flush,
    .block_status = vmdk_block_status,
    .file_extent = vmdk_file_extent,
    .create = vmdk_create,
    .create_options = vmdk_create_options,
    .info = vmdk_info,
    .check = vmdk_check,
    .grow = vmdk_grow,
    .shrink = vmdk_shrink,
    .set_backing = vmdk_set_backing,
    .measure = vmdk_measure,
    .amend = vmdk_amend,
};
