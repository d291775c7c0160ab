/* VHD fixed, dynamic and differencing disks: probe, open, read, write,
 * block status, info. Create is in vhd-create.c, check in vhd-check.c.
 *
 * Crash safety of block allocation (dynamic and differencing): the footer
 * is first written at the new end of the file, then the block's bitmap and
 * data, then the BAT entry. A process killed at any point leaves a file
 * whose footer is at its end and whose BAT points only at complete blocks;
 * at worst an unreferenced block is left behind. Inside an allocated block
 * data is written before the bitmap bits that make it visible. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vhd.h"

/* ---- probe ---- */

static int vhd_probe(const struct vd_probe *p)
{
    int score = 0;
    if (p->head_len >= VHD_FOOTER_SIZE && memcmp(p->head, "conectix", 8) == 0)
        score = vhd_footer_valid(p->head) ? 100 : 50;
    /* A fixed disk has its footer only at the end: 512 bytes, or 511 from
     * early Virtual PC. A cookie with a bad checksum still wins over raw so
     * that the damage is reported rather than read as a raw disk. */
    for (size_t len = VHD_FOOTER_SIZE; len >= VHD_FOOTER_SIZE - 1 && score < 100; len--) {
        if (p->tail_len < len)
            continue;
        const uint8_t *f = p->tail + p->tail_len - len;
        if (memcmp(f, "conectix", 8) != 0)
            continue;
        uint8_t footer[VHD_FOOTER_SIZE] = {0};
        memcpy(footer, f, len);
        int s = vhd_footer_valid(footer) ? 100 : 50;
        if (s > score)
            score = s;
    }
    return score;
}

/* ---- open ---- */

static uint32_t bat_get(const struct vhd_state *s, uint64_t block)
{
    return __atomic_load_n(&s->bat[block], __ATOMIC_ACQUIRE);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every allocated block lies after the metadata, before the footer, and
 * apart from every other block. */
static int validate_bat(struct vd_image *img, struct vhd_state *s, uint64_t meta_end,
                        struct vd_error **errp)
{
    uint64_t extent = (uint64_t)s->bitmap_size + s->block_size;
    uint64_t count = 0;
    for (uint32_t i = 0; i < s->max_entries; i++)
        if (s->bat[i] != VHD_UNALLOCATED)
            count++;
    if (count == 0)
        return 0;
    uint64_t *starts = malloc(count * sizeof(*starts));
    if (!starts)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    uint64_t n = 0;
    int ret = 0;
    for (uint32_t i = 0; i < s->max_entries && ret == 0; i++) {
        if (s->bat[i] == VHD_UNALLOCATED)
            continue;
        uint64_t start = (uint64_t)s->bat[i] * VHD_SECTOR;
        if (start + extent > s->data_end)
            ret = vd_error_set(errp, -EINVAL, "%s: BAT entry %u points to a block at offset "
                               "%llu that ends beyond the data end at offset %llu (truncated "
                               "or corrupt)", img->path, i, (unsigned long long)start,
                               (unsigned long long)s->data_end);
        else if (start < meta_end)
            ret = vd_error_set(errp, -EINVAL, "%s: BAT entry %u points to a block at offset "
                               "%llu inside the metadata (before offset %llu)", img->path, i,
                               (unsigned long long)start, (unsigned long long)meta_end);
        starts[n++] = start;
    }
    if (ret == 0) {
        qsort(starts, n, sizeof(*starts), cmp_u64);
        for (uint64_t i = 1; i < n && ret == 0; i++)
            if (starts[i] < starts[i - 1] + extent)
                ret = vd_error_set(errp, -EINVAL, "%s: blocks at offsets %llu and %llu overlap",
                                   img->path, (unsigned long long)starts[i - 1],
                                   (unsigned long long)starts[i]);
    }
    free(starts);
    return ret;
}

static int open_parent(struct vd_image *img, struct vhd_state *s, unsigned flags,
                       uint64_t file_size, struct vd_error **errp)
{
    /* A parent that is not found is no error where the caller will name
     * another (rebase -u). */
    struct vd_error *lost = NULL;
    bool may_lose = flags & VD_OPEN_LOST_BACKING;
    int ret = vhd_find_parent(img->fd, img->path, file_size, s->header,
                              &img->backing_path, may_lose ? &lost : errp);
    if (ret < 0 && may_lose) {
        vd_error_free(lost);
        return 0;
    }
    if (ret < 0 || (flags & (VD_OPEN_NO_BACKING | VD_OPEN_LOST_BACKING)))
        return ret;
    ret = vd_image_open_backing(img, flags, errp);
    if (ret < 0)
        return ret;
    struct vd_image *parent = img->backing;
    char want[40], have[40];
    vhd_format_uuid(s->header + VHD_H_PARENT_UUID, want, sizeof(want));
    if (parent->drv != &vd_format_vhd)
        ret = vd_error_set(errp, -EINVAL, "%s: parent '%s' is a %s image, not the VHD "
                           "with UUID %s", img->path, parent->path, parent->drv->name, want);
    else {
        const struct vhd_state *ps = parent->opaque;
        vhd_format_uuid(ps->footer + VHD_F_UUID, have, sizeof(have));
        if (memcmp(ps->footer + VHD_F_UUID, s->header + VHD_H_PARENT_UUID, 16) != 0)
            ret = vd_error_set(errp, -EINVAL, "%s: parent '%s' has UUID %s, but this "
                               "differencing disk expects %s (wrong parent)", img->path,
                               parent->path, have, want);
    }
    if (ret < 0) {
        vd_image_close(parent, NULL);
        img->backing = NULL;
    }
    return ret;
}

static int open_dynamic(struct vd_image *img, struct vhd_state *s, unsigned flags,
                        uint64_t file_size, struct vd_error **errp)
{
    uint64_t hdr_off = get_be64(s->footer + VHD_F_DATA_OFFSET);
    if (hdr_off > s->data_end || s->data_end - hdr_off < VHD_HEADER_SIZE)
        return vd_error_set(errp, -EINVAL, "%s: dynamic header offset %llu in the footer "
                            "is beyond the end of the data", img->path,
                            (unsigned long long)hdr_off);
    int ret = vd_file_pread(img, s->header, VHD_HEADER_SIZE, hdr_off, errp);
    if (ret < 0)
        return ret;
    if (memcmp(s->header, "cxsparse", 8) != 0)
        return vd_error_set(errp, -EINVAL, "%s: no dynamic header (\"cxsparse\") at offset %llu",
                            img->path, (unsigned long long)hdr_off);
    uint32_t sum = vhd_checksum(s->header, VHD_HEADER_SIZE, VHD_H_CHECKSUM);
    if (get_be32(s->header + VHD_H_CHECKSUM) != sum)
        return vd_error_set(errp, -EINVAL, "%s: bad dynamic header checksum at offset %llu "
                            "(stored 0x%08x, computed 0x%08x)", img->path,
                            (unsigned long long)hdr_off,
                            get_be32(s->header + VHD_H_CHECKSUM), sum);
    s->bat_offset = get_be64(s->header + VHD_H_TABLE_OFFSET);
    s->max_entries = get_be32(s->header + VHD_H_MAX_ENTRIES);
    s->block_size = get_be32(s->header + VHD_H_BLOCK_SIZE);
    const char *why = vhd_block_size_problem(s->block_size);
    if (why)
        return vd_error_set(errp, -EINVAL, "%s: block size %u at offset %llu is %s", img->path,
                            s->block_size, (unsigned long long)(hdr_off + VHD_H_BLOCK_SIZE), why);
    s->bitmap_size = vhd_bitmap_size(s->block_size);
    s->sectors_per_block = s->block_size / VHD_SECTOR;
    uint64_t needed = (img->size + s->block_size - 1) / s->block_size;
    if (s->max_entries > VHD_MAX_BAT_ENTRIES || needed > s->max_entries)
        return vd_error_set(errp, -EINVAL, "%s: the BAT has %u entries, but a disk of %llu "
                            "bytes needs %llu (header at offset %llu)", img->path,
                            s->max_entries, (unsigned long long)img->size,
                            (unsigned long long)needed, (unsigned long long)hdr_off);
    uint64_t bat_bytes = (uint64_t)s->max_entries * 4;
    if (s->bat_offset > s->data_end || bat_bytes > s->data_end - s->bat_offset)
        return vd_error_set(errp, -EINVAL, "%s: the BAT at offset %llu (%llu bytes) runs "
                            "beyond the end of the data", img->path,
                            (unsigned long long)s->bat_offset, (unsigned long long)bat_bytes);
    s->bat = malloc(bat_bytes ? bat_bytes : 1);
    if (!s->bat)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory for the BAT", img->path);
    ret = vd_file_pread(img, s->bat, bat_bytes, s->bat_offset, errp);
    if (ret < 0)
        return ret;
    for (uint32_t i = 0; i < s->max_entries; i++)
        s->bat[i] = get_be32(&s->bat[i]);
    uint64_t meta_end = hdr_off + VHD_HEADER_SIZE;
    if (s->bat_offset + bat_bytes > meta_end)
        meta_end = s->bat_offset + bat_bytes;
    ret = validate_bat(img, s, meta_end, errp);
    if (ret < 0)
        return ret;
    if (s->type == VHD_TYPE_DIFF)
        return open_parent(img, s, flags, file_size, errp);
    return 0;
}

static void vhd_close(struct vd_image *img)
{
    struct vhd_state *s = img->opaque;
    free(s->bat);
    s->bat = NULL;
    if (s->lock_ready) {
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->rmw_lock);
        pthread_cond_destroy(&s->alloc_done);
    }
    s->lock_ready = false;
}

static int vhd_open(struct vd_image *img, unsigned flags, struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    struct stat st;
    if (fstat(img->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", img->path);
    uint64_t file_size = (uint64_t)st.st_size;
    if (!S_ISREG(st.st_mode)) {
        off_t end = lseek(img->fd, 0, SEEK_END);
        if (end < 0)
            return vd_error_set_errno(errp, -errno, "%s: cannot get the size", img->path);
        file_size = (uint64_t)end;
    }
    uint64_t footer_off;
    struct vd_error *ferr = NULL;
    int ret = vhd_read_end_footer(img->fd, img->path, file_size, s->footer, &footer_off, &ferr);
    if (ret < 0) {
        /* No footer cookie at the end, but a dynamic disk keeps a copy at
         * offset 0: an interrupted growth by another writer. Readable (the
         * BAT references only complete blocks), not writable. */
        uint8_t copy[VHD_FOOTER_SIZE];
        uint32_t type;
        bool no_footer = ferr && strstr(ferr->msg, "no VHD footer") != NULL;
        if (!no_footer || file_size < 3 * VHD_FOOTER_SIZE ||
            vd_file_pread(img, copy, VHD_FOOTER_SIZE, 0, NULL) < 0 ||
            !vhd_footer_valid(copy) ||
            ((type = get_be32(copy + VHD_F_TYPE)) != VHD_TYPE_DYNAMIC && type != VHD_TYPE_DIFF)) {
            if (errp && !*errp && ferr)
                *errp = ferr;
            else
                vd_error_free(ferr);
            return ret;
        }
        vd_error_free(ferr);
        if (img->writable)
            return vd_error_set(errp, -EINVAL, "%s: the footer at the end of the file is "
                                "missing (interrupted write?); run 'vdisk check'", img->path);
        memcpy(s->footer, copy, VHD_FOOTER_SIZE);
        s->footer_from_copy = true;
        footer_off = file_size;
    }
    s->data_end = footer_off;
    uint32_t type = get_be32(s->footer + VHD_F_TYPE);
    if (type != VHD_TYPE_FIXED && type != VHD_TYPE_DYNAMIC && type != VHD_TYPE_DIFF)
        return vd_error_set(errp, -EINVAL, "%s: unknown VHD disk type %u in the footer at "
                            "offset %llu", img->path, type,
                            (unsigned long long)(footer_off + VHD_F_TYPE));
    s->type = (enum vhd_type)type;
    /* The virtual size is the footer's current_size whatever the creator:
     * reading the CHS size instead would drop the end of the disk. */
    img->size = get_be64(s->footer + VHD_F_CUR_SIZE);
    if (img->size > VHD_MAX_READ_SIZE)
        return vd_error_set(errp, -EINVAL, "%s: absurd virtual size %llu bytes in the footer "
                            "at offset %llu (the VHD maximum is 2 TiB)", img->path,
                            (unsigned long long)img->size,
                            (unsigned long long)(footer_off + VHD_F_CUR_SIZE));
    if (s->type == VHD_TYPE_FIXED) {
        if (img->size > footer_off)
            return vd_error_set(errp, -EINVAL, "%s: fixed VHD of %llu bytes, but only %llu "
                                "bytes precede the footer (truncated)", img->path,
                                (unsigned long long)img->size, (unsigned long long)footer_off);
        return 0;
    }
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return vd_error_set(errp, -ENOMEM, "%s: cannot create a lock", img->path);
    if (pthread_mutex_init(&s->rmw_lock, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        return vd_error_set(errp, -ENOMEM, "%s: cannot create a lock", img->path);
    }
    if (pthread_cond_init(&s->alloc_done, NULL) != 0) {
        pthread_mutex_destroy(&s->lock);
        pthread_mutex_destroy(&s->rmw_lock);
        return vd_error_set(errp, -ENOMEM, "%s: cannot create a lock", img->path);
    }
    s->lock_ready = true;
    ret = open_dynamic(img, s, flags, file_size, errp);
    if (ret < 0)
        vhd_close(img);
    return ret;
}

/* ---- sector bitmaps ---- */

/* A slice of one block's bitmap: the bytes for sectors [first, last]. */
struct bitmap_slice {
    uint8_t local[512];
    uint8_t *bytes;
    uint32_t base;          /* sector of bit 7 of bytes[0] */
    uint32_t len;
};

static int bitmap_load(struct vd_image *img, uint64_t block_off, uint32_t first,
                       uint32_t last, struct bitmap_slice *bm, struct vd_error **errp)
{
    bm->base = first / 8 * 8;
    bm->len = last / 8 - first / 8 + 1;
    bm->bytes = bm->len <= sizeof(bm->local) ? bm->local : malloc(bm->len);
    if (!bm->bytes)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = vd_file_pread(img, bm->bytes, bm->len, block_off + first / 8, errp);
    if (ret < 0 && bm->bytes != bm->local)
        free(bm->bytes);
    return ret;
}

static void bitmap_free(struct bitmap_slice *bm)
{
    if (bm->bytes != bm->local)
        free(bm->bytes);
}

/* The spec's bitmaps are MSB first: sector 0 is bit 7 of byte 0. */
static bool bitmap_test(const struct bitmap_slice *bm, uint32_t sector)
{
    uint32_t i = sector - bm->base;
    return bm->bytes[i / 8] & (0x80 >> (i % 8));
}

static void bitmap_set(struct bitmap_slice *bm, uint32_t sector)
{
    uint32_t i = sector - bm->base;
    bm->bytes[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

/* First sector after FIRST (up to END, exclusive) whose bit differs. */
static uint32_t bitmap_run_end(const struct bitmap_slice *bm, uint32_t first, uint32_t end)
{
    bool bit = bitmap_test(bm, first);
    uint32_t s = first + 1;
    while (s < end) {
        uint32_t i = s - bm->base;
        if (i % 8 == 0 && s + 8 <= end && bm->bytes[i / 8] == (bit ? 0xff : 0)) {
            s += 8;
            continue;
        }
        if (bitmap_test(bm, s) != bit)
            break;
        s++;
    }
    return s < end ? s : end;
}

/* The part of a request at OFF (LEN bytes left) that lies in one block. */
struct block_span {
    uint64_t blk;
    uint32_t in_blk;    /* byte offset inside the block */
    size_t n;           /* bytes inside this block */
};

static struct block_span span_at(const struct vhd_state *s, uint64_t off, uint64_t len)
{
    struct block_span sp = { off / s->block_size, (uint32_t)(off % s->block_size), 0 };
    sp.n = s->block_size - sp.in_blk < len ? s->block_size - sp.in_blk : (size_t)len;
    return sp;
}

/* ---- read ---- */

/* Bytes this image does not hold: the parent's, or zeros. */
static int read_below(struct vd_image *img, const struct vhd_state *s, uint8_t *buf,
                      size_t len, uint64_t off, struct vd_error **errp)
{
    if (s->type != VHD_TYPE_DIFF) {
        memset(buf, 0, len);
        return 0;
    }
    struct vd_image *parent = img->backing;
    if (!parent)
        return vd_error_set(errp, -EINVAL, "%s: the parent image is not open", img->path);
    size_t from_parent = 0;
    if (off < parent->size)
        from_parent = parent->size - off < len ? (size_t)(parent->size - off) : len;
    memset(buf + from_parent, 0, len - from_parent);
    return from_parent ? vd_image_pread(parent, buf, from_parent, off, errp) : 0;
}

/* LEN bytes at byte IN_BLK of block BLK (all inside the block). */
static int read_in_block(struct vd_image *img, const struct vhd_state *s, uint64_t blk,
                         uint32_t in_blk, uint8_t *buf, size_t len, struct vd_error **errp)
{
    uint64_t off = blk * s->block_size + in_blk;
    uint32_t e = bat_get(s, blk);
    if (e == VHD_UNALLOCATED)
        return read_below(img, s, buf, len, off, errp);
    uint64_t block_off = (uint64_t)e * VHD_SECTOR;
    uint64_t data_off = block_off + s->bitmap_size;
    uint32_t first = in_blk / VHD_SECTOR;
    uint32_t end = (uint32_t)((in_blk + len + VHD_SECTOR - 1) / VHD_SECTOR);
    struct bitmap_slice bm;
    int ret = bitmap_load(img, block_off, first, end - 1, &bm, errp);
    if (ret < 0)
        return ret;
    uint32_t pos = in_blk, stop = in_blk + (uint32_t)len;
    for (uint32_t sec = first; sec < end && ret == 0;) {
        uint32_t run_end = bitmap_run_end(&bm, sec, end);
        uint32_t to = run_end * VHD_SECTOR < stop ? run_end * VHD_SECTOR : stop;
        uint8_t *dst = buf + (pos - in_blk);
        if (bitmap_test(&bm, sec))
            ret = vd_file_pread(img, dst, to - pos, data_off + pos, errp);
        else
            ret = read_below(img, s, dst, to - pos, blk * s->block_size + pos, errp);
        pos = to;
        sec = run_end;
    }
    bitmap_free(&bm);
    return ret;
}

static int vhd_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                     struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    if (s->type == VHD_TYPE_FIXED)
        return vd_file_pread(img, buf, len, off, errp);
    uint8_t *p = buf;
    for (struct block_span sp; len; p += sp.n, off += sp.n, len -= sp.n) {
        sp = span_at(s, off, len);
        int ret = read_in_block(img, s, sp.blk, sp.in_blk, p, sp.n, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* ---- write ---- */

static int write_footer_at(struct vd_image *img, struct vhd_state *s, uint64_t off,
                           struct vd_error **errp)
{
    return vd_file_pwrite(img, s->footer, VHD_FOOTER_SIZE, off, errp);
}

/* Zero detection in written data: 4 KiB granules of the file (whole
 * file-system blocks) that hold only zeros are never written, so that an
 * image stays as sparse as its content, whether the data goes direct or
 * through the cache (a whole received chunk, free space and all, for
 * p2v serve). */
#define VHD_GRANULE 4096u

static bool all_zero(const uint8_t *p, size_t len)
{
    /* The head, then memcmp of the buffer with itself shifted (vectorised). */
    static const uint8_t zeros[16];
    if (len < 16)
        return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
    return memcmp(p, zeros, 16) == 0 && memcmp(p, p + 16, len - 16) == 0;
}

/* The length of the granule of file offset AT, cut at LEFT. */
static size_t granule_at(uint64_t at, size_t left)
{
    size_t n = VHD_GRANULE - (size_t)(at % VHD_GRANULE);
    return n < left ? n : left;
}

static bool has_zero_granule(const uint8_t *data, size_t len, uint64_t at)
{
    for (size_t pos = 0, n; pos < len; pos += n) {
        n = granule_at(at + pos, len - pos);
        if (all_zero(data + pos, n))
            return true;
    }
    return false;
}

/* Writes DATA (LEN bytes) at file offset AT of a block's data area, its
 * zero granules left out: where the area is still a hole (HOLE: a block
 * being allocated) they need nothing, elsewhere they are punched (which
 * reads back as zeros, like writing them; written when the file system
 * cannot punch). */
static int write_data(struct vd_image *img, const uint8_t *data, size_t len, uint64_t at,
                      bool hole, struct vd_error **errp)
{
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos + granule_at(at + pos, len - pos);
        bool zero = all_zero(data + pos, end - pos);
        while (end < len) {
            size_t n = granule_at(at + end, len - end);
            if (all_zero(data + end, n) != zero)
                break;
            end += n;
        }
        int ret = 0;
        if (!zero)
            ret = vd_file_pwrite(img, data + pos, end - pos, at + pos, errp);
        else if (!hole && fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                    (off_t)(at + pos), (off_t)(end - pos)) < 0)
            ret = vd_file_pwrite(img, data + pos, end - pos, at + pos, errp);
        if (ret < 0)
            return ret;
        pos = end;
    }
    return 0;
}

/* Writes a new block at START: its bitmap (marking sectors [first, first +
 * count)) and DATA, into space reserved (and followed by a footer) already. */
static int fill_new_block(struct vd_image *img, struct vhd_state *s, uint64_t start,
                          uint32_t first, uint32_t count, const uint8_t *data,
                          struct vd_error **errp)
{
    uint8_t *bitmap = calloc(1, s->bitmap_size);
    if (!bitmap)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    struct bitmap_slice bm = { .bytes = bitmap, .base = 0, .len = s->bitmap_size };
    for (uint32_t i = first; i < first + count; i++)
        bitmap_set(&bm, i);
    int ret = 0;
    size_t len = (size_t)count * VHD_SECTOR;
    uint64_t at = start + s->bitmap_size + (uint64_t)first * VHD_SECTOR;
    if (first == 0 && !vd_file_direct(img) && !has_zero_granule(data, len, at)) {
        struct iovec iov[2] = {
            { bitmap, s->bitmap_size },
            { (void *)(uintptr_t)data, (size_t)count * VHD_SECTOR },
        };
        size_t want = s->bitmap_size + (size_t)count * VHD_SECTOR;
        ssize_t n = pwritev(img->fd, iov, 2, (off_t)start);
        if (n < 0 || (size_t)n != want) {
            /* Short or failed vectored write: redo it plainly. */
            ret = vd_file_pwrite(img, bitmap, s->bitmap_size, start, errp);
            if (ret == 0)
                ret = vd_file_pwrite(img, data, (size_t)count * VHD_SECTOR,
                                     start + s->bitmap_size, errp);
        }
    } else {
        /* The block's area lies past the old end of the file: a hole. */
        ret = write_data(img, data, len, at, true, errp);
        if (ret == 0)
            ret = vd_file_pwrite(img, bitmap, s->bitmap_size, start, errp);
    }
    free(bitmap);
    return ret;
}

static bool pending_has(const struct vhd_state *s, uint64_t blk)
{
    for (int i = 0; i < s->npending; i++)
        if (s->pending[i] == blk)
            return true;
    return false;
}

/* A new block for sectors [first, first + count) of block BLK holding
 * DATA, in the crash-safe order described on top. Space is reserved and
 * the footer moved under the lock (so footers land in order and the file
 * always ends with one); the data is written outside it, so that writers
 * of different blocks run in parallel. Returns 1 when another writer
 * allocated the block meanwhile (the caller writes into it). */
static int allocate_block(struct vd_image *img, struct vhd_state *s, uint64_t blk,
                          uint32_t first, uint32_t count, const uint8_t *data,
                          struct vd_error **errp)
{
    pthread_mutex_lock(&s->lock);
    while (s->bat[blk] == VHD_UNALLOCATED &&
           (pending_has(s, blk) || s->npending == VHD_MAX_PENDING))
        pthread_cond_wait(&s->alloc_done, &s->lock);
    if (s->bat[blk] != VHD_UNALLOCATED) {
        pthread_mutex_unlock(&s->lock);
        return 1;
    }
    uint64_t gap = s->data_end;
    uint64_t start = (s->data_end + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
    if (vd_file_direct(img))    /* the block's data on a direct-write boundary */
        start += (VD_DIRECT_ALIGN - (start + s->bitmap_size) % VD_DIRECT_ALIGN) % VD_DIRECT_ALIGN;
    uint64_t new_end = start + s->bitmap_size + s->block_size;
    int ret = 0;
    if (start / VHD_SECTOR >= VHD_UNALLOCATED)
        ret = vd_error_set(errp, -EFBIG, "%s: the VHD file cannot grow beyond 2 TiB",
                           img->path);
    if (ret == 0)
        ret = write_footer_at(img, s, new_end, errp);
    if (ret == 0 && start > gap) { /* no stale footer copy left in the padding */
        static const uint8_t zeros[VD_DIRECT_ALIGN];
        ret = vd_file_pwrite(img, zeros, start - gap, gap, errp);
    }
    if (ret == 0) {
        s->data_end = new_end;
        s->pending[s->npending++] = blk;
    }
    pthread_mutex_unlock(&s->lock);
    if (ret < 0)
        return ret;

    ret = fill_new_block(img, s, start, first, count, data, errp);
    uint8_t entry[4];
    put_be32(entry, (uint32_t)(start / VHD_SECTOR));
    if (ret == 0)
        ret = vd_file_pwrite(img, entry, 4, s->bat_offset + blk * 4, errp);

    pthread_mutex_lock(&s->lock);
    if (ret == 0)
        __atomic_store_n(&s->bat[blk], (uint32_t)(start / VHD_SECTOR), __ATOMIC_RELEASE);
    for (int i = 0; i < s->npending; i++)
        if (s->pending[i] == blk)
            s->pending[i] = s->pending[--s->npending];
    pthread_cond_broadcast(&s->alloc_done);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* Whole sectors [first, first + count) of block BLK. */
static int write_sectors(struct vd_image *img, struct vhd_state *s, uint64_t blk,
                         uint32_t first, uint32_t count, const uint8_t *data,
                         struct vd_error **errp)
{
    uint32_t e = bat_get(s, blk);
    int ret;
    if (e == VHD_UNALLOCATED) {
        ret = allocate_block(img, s, blk, first, count, data, errp);
        if (ret <= 0)
            return ret;
        e = bat_get(s, blk);
    }
    uint64_t block_off = (uint64_t)e * VHD_SECTOR;
    struct bitmap_slice bm;
    ret = bitmap_load(img, block_off, first, first + count - 1, &bm, errp);
    if (ret < 0)
        return ret;
    bool all_set = bitmap_test(&bm, first) && bitmap_run_end(&bm, first, first + count) ==
                                                   first + count;
    bitmap_free(&bm);
    /* Data first: until its bits are set, the old content stays visible. */
    ret = write_data(img, data, (size_t)count * VHD_SECTOR,
                     block_off + s->bitmap_size + (uint64_t)first * VHD_SECTOR, false, errp);
    if (ret < 0 || all_set)
        return ret;
    pthread_mutex_lock(&s->lock);
    ret = bitmap_load(img, block_off, first, first + count - 1, &bm, errp);
    if (ret == 0) {
        for (uint32_t i = first; i < first + count; i++)
            bitmap_set(&bm, i);
        ret = vd_file_pwrite(img, bm.bytes, bm.len, block_off + bm.base / 8, errp);
        bitmap_free(&bm);
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* A write that starts or ends inside a sector: the sector's other bytes
 * come from what the disk reads there now (the parent's, for a sector a
 * differencing disk does not hold yet). */
static int write_unaligned(struct vd_image *img, struct vhd_state *s, uint64_t blk,
                           uint32_t in_blk, const uint8_t *data, size_t len,
                           struct vd_error **errp)
{
    uint32_t a_start = in_blk / VHD_SECTOR * VHD_SECTOR;
    uint32_t a_end = (uint32_t)((in_blk + len + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR);
    uint8_t *tmp = malloc(a_end - a_start);
    if (!tmp)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    pthread_mutex_lock(&s->rmw_lock);
    int ret = read_in_block(img, s, blk, a_start, tmp, VHD_SECTOR, errp);
    if (ret == 0 && a_end - a_start > VHD_SECTOR)
        ret = read_in_block(img, s, blk, a_end - VHD_SECTOR,
                            tmp + (a_end - a_start - VHD_SECTOR), VHD_SECTOR, errp);
    if (ret == 0) {
        memcpy(tmp + (in_blk - a_start), data, len);
        ret = write_sectors(img, s, blk, a_start / VHD_SECTOR,
                            (a_end - a_start) / VHD_SECTOR, tmp, errp);
    }
    pthread_mutex_unlock(&s->rmw_lock);
    free(tmp);
    return ret;
}

static int vhd_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                      struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    if (s->type == VHD_TYPE_FIXED)
        return vd_file_pwrite(img, buf, len, off, errp);
    const uint8_t *p = buf;
    for (struct block_span sp; len; p += sp.n, off += sp.n, len -= sp.n) {
        sp = span_at(s, off, len);
        int ret;
        if (sp.in_blk % VHD_SECTOR || sp.n % VHD_SECTOR)
            ret = write_unaligned(img, s, sp.blk, sp.in_blk, p, sp.n, errp);
        else
            ret = write_sectors(img, s, sp.blk, sp.in_blk / VHD_SECTOR,
                                (uint32_t)(sp.n / VHD_SECTOR), p, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Zeros without deallocating anything: a fixed disk's or an allocated
 * block's bytes are punched (they then read as zeros, and the bitmap still
 * says "here"); a dynamic disk's unallocated blocks already read as zeros.
 * A differencing disk must shadow its parent, so the core writes zeros. */
static int vhd_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                            struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    const int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    if (s->type == VHD_TYPE_FIXED)
        return fallocate(img->fd, mode, (off_t)off, (off_t)len) == 0 ? 0 : -ENOTSUP;
    if (s->type == VHD_TYPE_DIFF)
        return -ENOTSUP;
    for (struct block_span sp; len; off += sp.n, len -= sp.n) {
        sp = span_at(s, off, len);
        uint64_t n = sp.n;
        uint32_t e = bat_get(s, sp.blk);
        if (e != VHD_UNALLOCATED) {
            uint64_t at = (uint64_t)e * VHD_SECTOR + s->bitmap_size + sp.in_blk;
            if (fallocate(img->fd, mode, (off_t)at, (off_t)n) < 0) {
                static const uint8_t zeros[65536];
                for (uint64_t done = 0; done < n;) {
                    size_t k = n - done < sizeof(zeros) ? (size_t)(n - done) : sizeof(zeros);
                    int ret = vd_file_pwrite(img, zeros, k, at + done, errp);
                    if (ret < 0)
                        return ret;
                    done += k;
                }
            }
        }
    }
    return 0;
}

static int vhd_flush(struct vd_image *img, struct vd_error **errp)
{
    if (fdatasync(img->fd) < 0 && errno != EINVAL)
        return vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    return 0;
}

/* ---- grow ---- */

/* Where the BAT can reach without moving anything: the first allocated
 * block or parent locator stored after it; UINT64_MAX when nothing is (the
 * footer, alone after the BAT, then moves). */
static uint64_t bat_room_end(const struct vhd_state *s)
{
    uint64_t limit = UINT64_MAX;
    for (uint32_t i = 0; i < s->max_entries; i++) {
        uint64_t start = (uint64_t)s->bat[i] * VHD_SECTOR;
        if (s->bat[i] != VHD_UNALLOCATED && start > s->bat_offset && start < limit)
            limit = start;
    }
    for (int i = 0; i < VHD_LOCATOR_COUNT; i++) {
        const uint8_t *l = s->header + VHD_H_LOCATORS + i * VHD_LOCATOR_SIZE;
        uint64_t at = get_be64(l + 16);
        if (get_be32(l + 4) && at > s->bat_offset && at < limit)
            limit = at;
    }
    return limit;
}

/* Writes SIZE (and a geometry that describes it exactly, or 65535/16/255,
 * "use current_size", so that readers of either agree) into FOOTER. */
static void vhd_footer_set_size(uint8_t *footer, uint64_t size)
{
    struct vhd_geometry g = vhd_chs_for(size / VHD_SECTOR);
    if (vhd_chs_bytes(g) != size)
        g = (struct vhd_geometry){ 65535, 16, 255 };
    put_be64(footer + VHD_F_CUR_SIZE, size);
    put_be16(footer + VHD_F_GEOMETRY, g.cylinders);
    footer[VHD_F_GEOMETRY + 2] = g.heads;
    footer[VHD_F_GEOMETRY + 3] = g.sectors;
    put_be32(footer + VHD_F_CHECKSUM, 0);
    put_be32(footer + VHD_F_CHECKSUM, vhd_checksum(footer, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
}

/* A dynamic or differencing disk's new size: the footer at the end, then
 * its copy at 0. */
static int set_size(struct vd_image *img, struct vhd_state *s, uint64_t size,
                    struct vd_error **errp)
{
    vhd_footer_set_size(s->footer, size);
    int ret = write_footer_at(img, s, s->data_end, errp);
    if (ret == 0)
        ret = vhd_flush(img, errp);
    if (ret == 0)
        ret = write_footer_at(img, s, 0, errp);
    if (ret == 0)
        img->size = size;
    return ret;
}

static int fixed_resize(struct vd_image *img, struct vhd_state *s, uint64_t size,
                        struct vd_error **errp);
static int vhd_resize_checks(struct vd_image *img, const struct vhd_state *s, uint64_t size,
                             struct vd_error **errp);

/* A dynamic or differencing disk grows by adding BAT entries in the room
 * the BAT has (its sector padding at least), then by a new size in the
 * footer. Order: entries, header, footer at the end, its copy at 0; an
 * interruption leaves either the old size or the new one, never a BAT too
 * short for the size. The caller does no other I/O on IMG meanwhile. */
static int vhd_grow(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    int ret = vhd_resize_checks(img, s, size, errp);
    if (ret < 0)
        return ret;
    if (s->type == VHD_TYPE_FIXED)
        return fixed_resize(img, s, size, errp);
    uint64_t entries = (size + s->block_size - 1) / s->block_size;
    if (entries > s->max_entries) {
        uint64_t bat_end = s->bat_offset + entries * 4, limit = bat_room_end(s);
        if (entries > VHD_MAX_BAT_ENTRIES || bat_end > limit)
            return vd_error_set(errp, -ENOSPC, "%s: cannot grow to %llu bytes: its block table "
                                "has room for %llu blocks of %u bytes, and moving the data "
                                "after it is not supported", img->path,
                                (unsigned long long)size,
                                (unsigned long long)((limit - s->bat_offset) / 4),
                                s->block_size);
        uint32_t *bat = realloc(s->bat, (size_t)entries * 4);
        if (!bat)
            return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        s->bat = bat;
        uint32_t old = s->max_entries;
        uint64_t new_end = (bat_end + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
        if (new_end > s->data_end) {
            /* Only the footer follows the BAT: it moves to the new end,
             * and the old one turns into (unallocated) BAT entries. */
            ret = write_footer_at(img, s, new_end, errp);
            if (ret == 0)
                s->data_end = new_end;
        }
        uint8_t unallocated[4096];
        memset(unallocated, 0xff, sizeof(unallocated));
        for (uint64_t at = s->bat_offset + (uint64_t)old * 4; ret == 0 && at < new_end;) {
            size_t n = new_end - at < sizeof(unallocated) ? (size_t)(new_end - at)
                                                          : sizeof(unallocated);
            ret = vd_file_pwrite(img, unallocated, n, at, errp);
            at += n;
        }
        if (ret < 0)
            return ret;
        for (uint64_t i = old; i < entries; i++)
            s->bat[i] = VHD_UNALLOCATED;
        s->max_entries = (uint32_t)entries;
        uint64_t hdr_off = get_be64(s->footer + VHD_F_DATA_OFFSET);
        put_be32(s->header + VHD_H_MAX_ENTRIES, s->max_entries);
        put_be32(s->header + VHD_H_CHECKSUM, 0);
        put_be32(s->header + VHD_H_CHECKSUM, vhd_checksum(s->header, VHD_HEADER_SIZE,
                                                          VHD_H_CHECKSUM));
        ret = vd_file_pwrite(img, s->header, VHD_HEADER_SIZE, hdr_off, errp);
        if (ret == 0)
            ret = vhd_flush(img, errp);
        if (ret < 0)
            return ret;
    }
    return set_size(img, s, size, errp);
}

/* A fixed disk's data runs up to its footer: the footer moves to the new
 * end. Growing, the new footer is written before what the disk gains
 * turns into zeros: the old footer, and whatever lay between the old size
 * and it (a crash between leaves those bytes past the old size, never a
 * file without a footer); shrinking, the caller has checked that the
 * dropped tail reads as zeros. */
static int fixed_resize(struct vd_image *img, struct vhd_state *s, uint64_t size,
                        struct vd_error **errp)
{
    uint64_t old_end = s->data_end;
    vhd_footer_set_size(s->footer, size);
    int ret = write_footer_at(img, s, size, errp);
    uint64_t stale_end = old_end + VHD_FOOTER_SIZE < size ? old_end + VHD_FOOTER_SIZE : size;
    for (uint64_t at = img->size; ret == 0 && at < stale_end;) {
        static const uint8_t zeros[65536];
        size_t n = stale_end - at < sizeof(zeros) ? (size_t)(stale_end - at) : sizeof(zeros);
        ret = vd_file_pwrite(img, zeros, n, at, errp);
        at += n;
    }
    if (ret == 0)
        ret = vhd_flush(img, errp);
    if (ret == 0 && size < old_end && ftruncate(img->fd, (off_t)(size + VHD_FOOTER_SIZE)) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot truncate to %llu bytes", img->path,
                                 (unsigned long long)(size + VHD_FOOTER_SIZE));
    if (ret < 0)
        return ret;
    s->data_end = size;
    img->size = size;
    return 0;
}

static int vhd_resize_checks(struct vd_image *img, const struct vhd_state *s, uint64_t size,
                             struct vd_error **errp)
{
    if (s->footer_from_copy)
        return vd_error_set(errp, -EINVAL, "%s: the footer is missing; run 'vdisk check'",
                            img->path);
    if (size > VHD_MAX_CREATE_SIZE || size % VHD_SECTOR)
        return vd_error_set(errp, -EINVAL, "%s: cannot resize to %llu bytes (the VHD maximum "
                            "is 2040 GiB, in whole sectors)", img->path,
                            (unsigned long long)size);
    return 0;
}

/* Shrinking keeps the BAT's length (more entries than the size needs is
 * valid) but frees the entries of blocks wholly past the new end (their
 * space stays in the file, unused): the caller has checked that they read
 * as zeros, so freeing them first changes nothing a reader sees, and then
 * the footer (and its copy) gets the new size. */
static int vhd_shrink(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    int ret = vhd_resize_checks(img, s, size, errp);
    if (ret < 0)
        return ret;
    if (s->type == VHD_TYPE_FIXED)
        return fixed_resize(img, s, size, errp);
    uint8_t entry[4];
    put_be32(entry, VHD_UNALLOCATED);
    for (uint64_t blk = (size + s->block_size - 1) / s->block_size;
         ret == 0 && blk < s->max_entries; blk++) {
        if (s->bat[blk] == VHD_UNALLOCATED)
            continue;
        ret = vd_file_pwrite(img, entry, 4, s->bat_offset + blk * 4, errp);
        if (ret == 0)
            __atomic_store_n(&s->bat[blk], VHD_UNALLOCATED, __ATOMIC_RELEASE);
    }
    if (ret == 0)
        ret = vhd_flush(img, errp);
    if (ret == 0)
        ret = set_size(img, s, size, errp);
    return ret;
}

/* ---- block status ---- */

static int vhd_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                            struct vd_extent *ext, struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    if (s->type == VHD_TYPE_FIXED)
        return vd_file_block_status(img, off, len, ext);
    enum vd_extent_kind absent = s->type == VHD_TYPE_DIFF ? VD_EXTENT_BACKING
                                                          : VD_EXTENT_UNALLOCATED;
    uint64_t pos = off, end = off + len;
    bool have_kind = false;
    enum vd_extent_kind kind = absent;
    while (pos < end) {
        uint64_t blk = pos / s->block_size;
        uint64_t blk_start = blk * s->block_size;
        uint64_t blk_end = blk_start + s->block_size < end ? blk_start + s->block_size : end;
        uint32_t e = bat_get(s, blk);
        enum vd_extent_kind k;
        uint64_t run_end;
        if (e == VHD_UNALLOCATED) {
            k = absent;
            run_end = blk_end;
        } else {
            uint32_t first = (uint32_t)((pos - blk_start) / VHD_SECTOR);
            uint32_t last_end = (uint32_t)((blk_end - blk_start + VHD_SECTOR - 1) / VHD_SECTOR);
            struct bitmap_slice bm;
            int ret = bitmap_load(img, (uint64_t)e * VHD_SECTOR, first, last_end - 1, &bm, errp);
            if (ret < 0)
                return ret;
            k = bitmap_test(&bm, first) ? VD_EXTENT_DATA : absent;
            run_end = blk_start + (uint64_t)bitmap_run_end(&bm, first, last_end) * VHD_SECTOR;
            if (run_end > blk_end)
                run_end = blk_end;
            bitmap_free(&bm);
        }
        if (have_kind && k != kind)
            break;
        kind = k;
        have_kind = true;
        pos = run_end;
    }
    *ext = (struct vd_extent){ off, pos - off, kind };
    return 0;
}

static int vhd_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                           uint64_t *file_off, uint64_t *run)
{
    struct vhd_state *s = img->opaque;
    if (s->type == VHD_TYPE_FIXED) {
        *file_off = off;
        *run = len;
        return 0;
    }
    uint64_t blk = off / s->block_size;
    uint32_t in_blk = (uint32_t)(off % s->block_size);
    uint32_t e = bat_get(s, blk);
    if (e == VHD_UNALLOCATED)
        return -ENOENT;
    uint64_t n = s->block_size - in_blk < len ? s->block_size - in_blk : len;
    uint32_t first = in_blk / VHD_SECTOR;
    uint32_t end = (uint32_t)((in_blk + n + VHD_SECTOR - 1) / VHD_SECTOR);
    struct bitmap_slice bm;
    if (bitmap_load(img, (uint64_t)e * VHD_SECTOR, first, end - 1, &bm, NULL) < 0)
        return -EIO;
    bool present = bitmap_test(&bm, first);
    uint64_t run_end = (uint64_t)bitmap_run_end(&bm, first, end) * VHD_SECTOR;
    bitmap_free(&bm);
    if (!present)
        return -ENOENT;
    *file_off = (uint64_t)e * VHD_SECTOR + s->bitmap_size + in_blk;
    *run = (run_end < in_blk + n ? run_end : in_blk + n) - in_blk;
    return 0;
}

/* ---- info ---- */

static void add_text4(struct vd_info *info, const char *key, const uint8_t *p)
{
    char text[5];
    for (int i = 0; i < 4; i++)
        text[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : p[i] ? '?' : ' ';
    text[4] = '\0';
    /* Keep what identifies the creator: "d2v\0" shows as "d2v ". */
    vd_info_add(info, key, false, "%s", text);
}

static void add_time(struct vd_info *info, const char *key, uint32_t vhd_time)
{
    time_t t = (time_t)vhd_time + VHD_EPOCH;
    struct tm tm;
    char buf[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    vd_info_add(info, key, false, "%s", buf);
}

static void vhd_info(struct vd_image *img, struct vd_info *info)
{
    struct vhd_state *s = img->opaque;
    const uint8_t *f = s->footer;
    static const char *const types[] = { [2] = "fixed", [3] = "dynamic", [4] = "differencing" };
    vd_info_add(info, "subformat", false, "%s", types[s->type]);
    add_text4(info, "creator-app", f + VHD_F_CREATOR_APP);
    uint32_t ver = get_be32(f + VHD_F_CREATOR_VER);
    vd_info_add(info, "creator-version", false, "%u.%u", ver >> 16, ver & 0xffff);
    add_text4(info, "creator-os", f + VHD_F_CREATOR_OS);
    struct vhd_geometry g = vhd_geometry_of(f);
    vd_info_add(info, "geometry", false, "%u/%u/%u", g.cylinders, g.heads, g.sectors);
    vd_info_add(info, "chs-size", true, "%llu", (unsigned long long)vhd_chs_bytes(g));
    vd_info_add(info, "current-size", true, "%llu", (unsigned long long)img->size);
    vd_info_add(info, "original-size", true, "%llu",
                (unsigned long long)get_be64(f + VHD_F_ORIG_SIZE));
    char uuid[40];
    vhd_format_uuid(f + VHD_F_UUID, uuid, sizeof(uuid));
    vd_info_add(info, "uuid", false, "%s", uuid);
    add_time(info, "timestamp", get_be32(f + VHD_F_TIMESTAMP));
    if (f[VHD_F_SAVED_STATE])
        vd_info_warn(info, "the saved-state flag is set: the disk belongs to a saved VM");
    if (s->footer_from_copy)
        vd_info_warn(info, "the footer at the end of the file is missing; using the copy at "
                     "offset 0 (run 'vdisk check')");
    uint64_t chs = vhd_chs_bytes(g);
    bool max_chs = g.cylinders == 65535 && g.heads == 16 && g.sectors == 255;
    if (chs != img->size && !max_chs)
        vd_info_warn(info, "CHS geometry %u/%u/%u describes %llu bytes, but the footer's "
                     "current size is %llu; vdisk uses the current size (qemu may use the CHS "
                     "size for this creator)", g.cylinders, g.heads, g.sectors,
                     (unsigned long long)chs, (unsigned long long)img->size);
    if (s->type == VHD_TYPE_FIXED)
        return;
    info->cluster_size = s->block_size;
    vd_info_add(info, "block-size", true, "%u", s->block_size);
    uint32_t used = 0;
    for (uint32_t i = 0; i < s->max_entries; i++)
        used += bat_get(s, i) != VHD_UNALLOCATED;
    vd_info_add(info, "allocated-blocks", true, "%u", used);
    vd_info_add(info, "bat-entries", true, "%u", s->max_entries);
    if (s->type != VHD_TYPE_DIFF)
        return;
    vhd_format_uuid(s->header + VHD_H_PARENT_UUID, uuid, sizeof(uuid));
    vd_info_add(info, "parent-uuid", false, "%s", uuid);
    char name[160];
    vhd_parent_name(s->header, name, sizeof(name));
    vd_info_add(info, "parent-name", false, "%s", name);
    add_time(info, "parent-timestamp", get_be32(s->header + VHD_H_PARENT_TIME));
    for (int i = 0; i < VHD_LOCATOR_COUNT; i++) {
        const uint8_t *loc = s->header + VHD_H_LOCATORS + i * VHD_LOCATOR_SIZE;
        if (!get_be32(loc))
            continue;
        char key[32];
        snprintf(key, sizeof(key), "parent-locator-%d", i);
        char *path = NULL;
        struct vd_error *err = NULL;
        if (vhd_locator_path(img->fd, img->path, s->data_end + VHD_FOOTER_SIZE, s->header, i,
                             &path, &err) == 0)
            vd_info_add(info, key, false, "%.4s %s", (const char *)loc, path);
        else
            vd_info_add(info, key, false, "%.4s (%s)", (const char *)loc,
                        err ? err->msg : "not a path vdisk reads");
        vd_error_free(err);
        free(path);
    }
}

static const struct vd_option_desc vhd_create_options[] = {
    { "subformat", "dynamic (default) or fixed" },
    { "size", "chs (default: round the size up to whole CHS geometry, so that every "
              "VHD reader sees the same disk) or exact (keep the byte size; CHS 65535/16/255)" },
    { "azure", "on: a fixed VHD whose size is rounded up to a whole number of MiB, "
               "as Azure requires" },
    { "block_size", "dynamic and differencing block size (default 2M; power of two, "
                    "4K..256M)" },
    { NULL, NULL },
};

static const char *const vhd_aliases[] = { "vpc", NULL };

const struct vd_format vd_format_vhd = {
    .name = "vhd",
    .aliases = vhd_aliases,
    .description = "Microsoft Virtual Hard Disk (fixed, dynamic, differencing)",
    .instance_size = sizeof(struct vhd_state),
    .differencing = true,
    .target_options = "subformat=dynamic,size=exact",
    .probe = vhd_probe,
    .open = vhd_open,
    .close = vhd_close,
    .pread = vhd_pread,
    .pwrite = vhd_pwrite,
    .write_zeroes = vhd_write_zeroes,
    .flush = vhd_flush,
    .grow = vhd_grow,
    .shrink = vhd_shrink,
    .set_backing = vhd_set_backing,
    .measure = vhd_measure,
    .block_status = vhd_block_status,
    .file_extent = vhd_file_extent,
    .create = vhd_create,
    .create_options = vhd_create_options,
    .info = vhd_info,
    .check = vhd_check,
};
