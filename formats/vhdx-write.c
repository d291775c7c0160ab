/* VHDX writing: create, pwrite, flush, and the log every metadata update
 * goes through (MS-VHDX 2.3).
 *
 * Crash safety: a new block's data is written (and made durable) before
 * the log entry that points the BAT at it; the log entry is made durable
 * before the BAT or sector bitmap sectors are changed in place. A process
 * killed at any point leaves a file that opens to the old state (the entry
 * incomplete: its checksum fails) or the new one (the entry complete: any
 * reader replays it). Each entry's tail is itself: the entries before it
 * were applied and flushed before it was written. The header names the
 * log only while updates may be pending; flush writes it clean again. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vhd.h"
#include "formats/vhdx.h"

#define LOG_SECTOR 4096u

static void new_guid(uint8_t g[16])
{
    if (getrandom(g, 16, 0) != 16) {
        /* No entropy source: still unique enough for a linkage check. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        put_le64(g, (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32));
        put_le64(g + 8, (uint64_t)ts.tv_sec);
    }
    g[7] = (uint8_t)((g[7] & 0x0f) | 0x40);   /* version 4 (Data3's high nibble) */
    g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
}

static int sync_file(int fd, const char *path, struct vd_error **errp)
{
    if (fdatasync(fd) < 0 && errno != EINVAL)
        return vd_error_set_errno(errp, -errno, "%s: cannot flush", path);
    return 0;
}

/* Writes the next header (sequence + 1) into the other slot, naming
 * LOG_GUID (NULL: clean); NEW_GUIDS gives the file fresh write GUIDs. */
static int write_header(int fd, const char *path, struct vhdx_state *s, const uint8_t *log_guid,
                        bool new_guids, struct vd_error **errp)
{
    uint8_t h[VHDX_HEADER_SIZE];
    memcpy(h, s->header, sizeof(h));
    put_le64(h + VHDX_H_SEQUENCE, get_le64(h + VHDX_H_SEQUENCE) + 1);
    if (new_guids) {
        new_guid(h + VHDX_H_FILE_GUID);
        if (!s->keep_data_guid)
            new_guid(h + VHDX_H_DATA_GUID);
    }
    if (log_guid)
        memcpy(h + VHDX_H_LOG_GUID, log_guid, 16);
    else
        memset(h + VHDX_H_LOG_GUID, 0, 16);
    put_le32(h + VHDX_H_CHECKSUM, vhdx_checksum(h, sizeof(h), VHDX_H_CHECKSUM));
    int slot = 1 - s->header_slot;
    int ret = sync_file(fd, path, errp);
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, h, sizeof(h), slot ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF,
                           errp);
    if (ret == 0)
        ret = sync_file(fd, path, errp);
    if (ret < 0)
        return ret;
    memcpy(s->header, h, sizeof(h));
    s->header_slot = slot;
    return 0;
}

/* ---- the log ---- */

struct log_update {
    uint64_t file_off;          /* 4 KiB aligned */
    uint8_t data[LOG_SECTOR];
};

static int log_start(struct vd_image *img, struct vhdx_state *s, struct vd_error **errp)
{
    if (s->log_active)
        return 0;
    uint8_t guid[16];
    new_guid(guid);
    int ret = write_header(img->fd, img->path, s, guid, !s->guids_fresh, errp);
    if (ret < 0)
        return ret;
    s->guids_fresh = true;
    s->log_active = true;
    s->log_head = 0;
    s->log_seq = 1;
    return 0;
}

/* Commits N sector updates as one log entry, then applies them in place. */
static int log_commit(struct vd_image *img, struct vhdx_state *s, const struct log_update *u,
                      int n, struct vd_error **errp)
{
    int ret = log_start(img, s, errp);
    if (ret < 0)
        return ret;
    uint32_t log_len = get_le32(s->header + VHDX_H_LOG_LENGTH);
    uint64_t log_off = get_le64(s->header + VHDX_H_LOG_OFFSET);
    uint32_t desc_sectors = (64u + 32u * (uint32_t)n + LOG_SECTOR - 1) / LOG_SECTOR;
    uint32_t length = (desc_sectors + (uint32_t)n) * LOG_SECTOR;
    if (length > log_len)
        return vd_error_set(errp, -ENOSPC, "%s: the log (%u bytes) is too small for an "
                            "update of %d sectors", img->path, log_len, n);
    if (s->log_head + length > log_len)
        s->log_head = 0;
    uint8_t *e = calloc(1, length);
    if (!e)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    struct stat st;
    uint64_t fsize = fstat(img->fd, &st) == 0 ? (uint64_t)st.st_size : s->alloc_end;
    uint64_t seq = s->log_seq;
    memcpy(e, "loge", 4);
    put_le32(e + 8, length);
    put_le32(e + 12, s->log_head);
    put_le64(e + 16, seq);
    put_le32(e + 24, (uint32_t)n);
    memcpy(e + 32, s->header + VHDX_H_LOG_GUID, 16);
    put_le64(e + 48, fsize);
    put_le64(e + 56, fsize);
    for (int i = 0; i < n; i++) {
        uint8_t *d = e + 64 + 32 * i;
        uint8_t *ds = e + (desc_sectors + (uint32_t)i) * LOG_SECTOR;
        memcpy(d, "desc", 4);
        memcpy(d + 4, u[i].data + 4092, 4);
        memcpy(d + 8, u[i].data, 8);
        put_le64(d + 16, u[i].file_off);
        put_le64(d + 24, seq);
        memcpy(ds, "data", 4);
        put_le32(ds + 4, (uint32_t)(seq >> 32));
        memcpy(ds + 8, u[i].data + 8, 4084);
        put_le32(ds + 4092, (uint32_t)seq);
    }
    put_le32(e + 4, vhdx_checksum(e, length, 4));
    /* Data first, then the entry, then the sectors in place (durable in
     * that order unless the file is scratch: then the page cache keeps the
     * order a killed process needs, and a power cut only loses scratch). */
    ret = s->scratch ? 0 : sync_file(img->fd, img->path, errp);
    if (ret == 0)
        ret = vd_fd_pwrite(img->fd, img->path, e, length, log_off + s->log_head, errp);
    if (ret == 0 && !s->scratch)
        ret = sync_file(img->fd, img->path, errp);
    for (int i = 0; ret == 0 && i < n; i++)
        ret = vd_fd_pwrite(img->fd, img->path, u[i].data, LOG_SECTOR, u[i].file_off, errp);
    free(e);
    if (ret < 0)
        return ret;
    s->log_head += length;
    s->log_seq++;
    return 0;
}

/* The BAT sector holding entry I, with entries SET[k] = VAL[k] changed. */
static void bat_sector(const struct vhdx_state *s, uint64_t i, const uint64_t *set,
                       const uint64_t *val, int n, struct log_update *u)
{
    uint64_t first = i / 512 * 512;
    u->file_off = s->bat_off + first * 8;
    memset(u->data, 0, sizeof(u->data));
    for (uint64_t k = first; k < first + 512 && k < s->bat_entries; k++) {
        uint64_t v = s->bat[k];
        for (int j = 0; j < n; j++)
            if (set[j] == k)
                v = val[j];
        put_le64(u->data + (k - first) * 8, v);
    }
}

/* BAT updates for entries SET (N of them) to VAL: one sector each, or one
 * for several in the same sector. Returns the updates written to U. */
static int bat_updates(const struct vhdx_state *s, const uint64_t *set, const uint64_t *val,
                       int n, struct log_update *u)
{
    int count = 0;
    for (int j = 0; j < n; j++) {
        bool done = false;
        for (int k = 0; k < j; k++)
            done |= set[k] / 512 == set[j] / 512;
        if (!done)
            bat_sector(s, set[j], set, val, n, &u[count++]);
    }
    return count;
}

static void bat_publish(struct vhdx_state *s, const uint64_t *set, const uint64_t *val, int n)
{
    for (int j = 0; j < n; j++)
        __atomic_store_n(&s->bat[set[j]], val[j], __ATOMIC_RELEASE);
}

/* LEN bytes of zeros at the end of the file for a new block: its offset. */
static int alloc_space(struct vd_image *img, struct vhdx_state *s, uint64_t len,
                       uint64_t *at, struct vd_error **errp)
{
    *at = s->alloc_end;
    if (ftruncate(img->fd, (off_t)(s->alloc_end + len)) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot grow the file to %llu bytes",
                                  img->path, (unsigned long long)(s->alloc_end + len));
    s->alloc_end += len;
    return 0;
}

/* ---- pwrite ---- */

/* Sets the sector bitmap bits of sectors [FIRST, END) of block BLK; the
 * updates (and the bitmap block's BAT entry, when new) join U. */
static int bitmap_updates(struct vd_image *img, struct vhdx_state *s, uint64_t blk,
                          uint64_t bitmap_off, uint32_t first, uint32_t end,
                          struct log_update *u, int *n, struct vd_error **errp)
{
    uint64_t per_block = s->block_size / s->logical_sector;
    uint64_t bit0 = (blk % s->chunk_ratio) * per_block + first;
    uint64_t bit_end = bit0 + (end - first);
    for (uint64_t sec = bit0 / (8 * LOG_SECTOR); sec * 8 * LOG_SECTOR < bit_end; sec++) {
        struct log_update *x = &u[(*n)++];
        x->file_off = bitmap_off + sec * LOG_SECTOR;
        int ret = vd_fd_pread(img->fd, img->path, x->data, LOG_SECTOR, x->file_off, errp);
        if (ret < 0)
            return ret;
        uint64_t from = sec * 8 * LOG_SECTOR > bit0 ? sec * 8 * LOG_SECTOR : bit0;
        uint64_t to = (sec + 1) * 8 * LOG_SECTOR < bit_end ? (sec + 1) * 8 * LOG_SECTOR : bit_end;
        for (uint64_t b = from; b < to; b++) {
            uint64_t rel = b - sec * 8 * LOG_SECTOR;
            x->data[rel / 8] |= (uint8_t)(1u << (rel % 8));
        }
    }
    return 0;
}

/* Writes [IN_BLK, IN_BLK + LEN) of block BLK, which is not fully present;
 * under the lock. For a child, the range is whole logical sectors. */
static int write_slow(struct vd_image *img, struct vhdx_state *s, uint64_t blk, uint32_t in_blk,
                      const uint8_t *buf, uint32_t len, struct vd_error **errp)
{
    uint64_t idx = vhdx_bat_index(s, blk);
    uint64_t e = s->bat[idx];
    unsigned state = VHDX_BAT_STATE(e);
    uint64_t set[2], val[2];
    int nset = 0, ret;
    uint64_t data_off = VHDX_BAT_OFFSET(e);
    bool partial = s->has_parent && state != VHDX_PAYLOAD_ZERO && state != VHDX_PAYLOAD_UNMAPPED;
    if (state != VHDX_PAYLOAD_PARTIALLY_PRESENT) {
        /* A new block, zero-filled by the file's growth: in a child, the
         * sectors not written stay the parent's (bitmap bits clear), unless
         * the block read as zeros before. */
        if ((ret = alloc_space(img, s, s->block_size, &data_off, errp)) < 0)
            return ret;
        set[nset] = idx;
        val[nset++] = data_off | (partial ? VHDX_PAYLOAD_PARTIALLY_PRESENT
                                          : VHDX_PAYLOAD_FULLY_PRESENT);
    }
    if ((ret = vd_fd_pwrite(img->fd, img->path, buf, len, data_off + in_blk, errp)) < 0)
        return ret;
    struct log_update *u = malloc(20 * sizeof(*u));
    if (!u)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int n = 0;
    if (partial) {
        uint64_t sb_idx = vhdx_bitmap_index(s, blk);
        uint64_t sb = s->bat[sb_idx];
        uint64_t sb_off = VHDX_BAT_OFFSET(sb);
        if (VHDX_BAT_STATE(sb) != VHDX_SB_PRESENT) {
            ret = alloc_space(img, s, VHDX_MIB, &sb_off, errp);
            set[nset] = sb_idx;
            val[nset++] = sb_off | VHDX_SB_PRESENT;
        }
        if (ret == 0)
            ret = bitmap_updates(img, s, blk, sb_off, in_blk / s->logical_sector,
                                 (in_blk + len) / s->logical_sector, u, &n, errp);
    }
    if (ret == 0)
        n += bat_updates(s, set, val, nset, u + n);
    if (ret == 0 && n)
        ret = log_commit(img, s, u, n, errp);
    free(u);
    if (ret == 0)
        bat_publish(s, set, val, nset);
    return ret;
}

int vhdx_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                struct vd_error **errp)
{
    struct vhdx_state *s = img->opaque;
    const uint8_t *src = buf;
    /* Fresh write GUIDs before the first write: a child made from this
     * file before the change must no longer match it (DataWriteGuid). */
    if (!__atomic_load_n(&s->guids_fresh, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&s->lock);
        int ret = 0;
        if (!s->guids_fresh)
            ret = write_header(img->fd, img->path, s,
                               s->log_active ? s->header + VHDX_H_LOG_GUID : NULL, true, errp);
        if (ret == 0)
            __atomic_store_n(&s->guids_fresh, true, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&s->lock);
        if (ret < 0)
            return ret;
    }
    while (len) {
        uint64_t blk = off / s->block_size;
        uint32_t in_blk = (uint32_t)(off % s->block_size);
        uint32_t n = s->block_size - in_blk < len ? s->block_size - in_blk : (uint32_t)len;
        uint64_t idx = vhdx_bat_index(s, blk);
        uint64_t e = vhdx_bat_get(s, idx);
        int ret;
        if (VHDX_BAT_STATE(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
            ret = vd_file_pwrite(img, src, n, VHDX_BAT_OFFSET(e) + in_blk, errp);
        } else {
            pthread_mutex_lock(&s->lock);
            e = s->bat[idx];
            if (VHDX_BAT_STATE(e) == VHDX_PAYLOAD_FULLY_PRESENT) {
                ret = vd_file_pwrite(img, src, n, VHDX_BAT_OFFSET(e) + in_blk, errp);
            } else if (!s->has_parent || (in_blk % s->logical_sector == 0 &&
                                          n % s->logical_sector == 0)) {
                ret = write_slow(img, s, blk, in_blk, src, n, errp);
            } else {
                /* A child's partial sectors: the rest of them as they read now. */
                uint32_t lss = s->logical_sector;
                uint32_t a = in_blk / lss * lss;
                uint32_t b = (in_blk + n + lss - 1) / lss * lss;
                uint8_t *tmp = malloc(b - a);
                ret = tmp ? 0 : vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
                if (ret == 0)
                    ret = vd_image_pread(img, tmp, lss, blk * s->block_size + a, errp);
                if (ret == 0)
                    ret = vd_image_pread(img, tmp + (b - a) - lss, lss,
                                         blk * s->block_size + b - lss, errp);
                if (ret == 0) {
                    memcpy(tmp + (in_blk - a), src, n);
                    ret = write_slow(img, s, blk, a, tmp, b - a, errp);
                }
                free(tmp);
            }
            pthread_mutex_unlock(&s->lock);
        }
        if (ret < 0)
            return ret;
        src += n;
        off += n;
        len -= n;
    }
    return 0;
}

int vhdx_flush(struct vd_image *img, struct vd_error **errp)
{
    struct vhdx_state *s = img->opaque;
    pthread_mutex_lock(&s->lock);
    int ret = sync_file(img->fd, img->path, errp);
    if (ret == 0 && s->log_active) {
        ret = write_header(img->fd, img->path, s, NULL, false, errp);
        if (ret == 0)
            s->log_active = false;
    }
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* ---- read-write open ---- */

int vhdx_open_write(struct vd_image *img, struct vhdx_state *s, struct vd_error **errp)
{
    pthread_mutex_init(&s->lock, NULL);
    s->lock_ready = true;
    int ret = 0;
    if (s->log_dirty) {
        /* Replay into the file, make it durable, then mark the file clean. */
        static const uint8_t zeros[65536];
        for (size_t i = 0; ret == 0 && i < s->log.n_patches; i++) {
            const struct vhdx_patch *p = &s->log.patches[i];
            if (p->data) {
                ret = vd_fd_pwrite(img->fd, img->path, p->data, (size_t)p->len, p->off, errp);
                continue;
            }
            for (uint64_t done = 0; ret == 0 && done < p->len;) {
                size_t k = p->len - done < sizeof(zeros) ? (size_t)(p->len - done) : sizeof(zeros);
                ret = vd_fd_pwrite(img->fd, img->path, zeros, k, p->off + done, errp);
                done += k;
            }
        }
        if (ret == 0 && s->log.file_end > s->file_size &&
            ftruncate(img->fd, (off_t)s->log.file_end) < 0)
            ret = vd_error_set_errno(errp, -errno, "%s: cannot grow the file", img->path);
        if (ret == 0)
            ret = write_header(img->fd, img->path, s, NULL, false, errp);
        if (ret < 0)
            return ret;
        if (s->log.file_end > s->file_size)
            s->file_size = s->log.file_end;
        vhdx_log_free(&s->log);
        s->log_dirty = false;
    }
    s->alloc_end = (s->file_size + VHDX_MIB - 1) / VHDX_MIB * VHDX_MIB;
    return 0;
}

/* ---- create ---- */

const struct vd_option_desc vhdx_create_options[] = {
    { "subformat", "dynamic (default: blocks allocated as written) or fixed (every block "
                   "allocated, the file not sparse, as Hyper-V requires)" },
    { "block_size", "payload block size, a power of two from 1M to 256M (default 32M; "
                    "2M for a differencing child)" },
    { "log_size", "log size, a multiple of 1M (default 1M)" },
    { "logical_sector_size", "512 (default) or 4096; a child takes its parent's" },
    { "physical_sector_size", "512 or 4096 (default)" },
    { NULL, NULL },
};

static int parse_bytes(const char *key, const char *text, uint64_t *out, struct vd_error **errp)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024;
    else if (*end == 'M' || *end == 'm')
        mult = VHDX_MIB;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * VHDX_MIB;
    if (mult > 1)
        end++;
    if (errno || end == text || *end || v > UINT64_MAX / mult)
        return vd_error_set(errp, -EINVAL, "bad %s '%s'", key, text);
    *out = v * mult;
    return 0;
}

struct create_plan {
    uint64_t size;
    uint32_t block_size, log_size, lss, pss;
    bool fixed;
    struct vd_image *parent;
    char parent_abs[PATH_MAX], parent_rel[PATH_MAX];
};

static int make_plan(const char *path, const struct vd_create_args *args, struct create_plan *p,
                     struct vd_error **errp)
{
    const struct vd_options *o = args->opts;
    const char *v;
    uint64_t x;
    int ret;
    p->parent = args->backing;
    p->size = args->size;
    p->block_size = p->parent ? 2 * VHDX_MIB : 32 * VHDX_MIB;
    p->log_size = VHDX_MIB;
    p->lss = 512;
    p->pss = 4096;
    if ((v = vd_options_get(o, "subformat"))) {
        if (strcmp(v, "fixed") && strcmp(v, "dynamic"))
            return vd_error_set(errp, -EINVAL, "subformat is fixed or dynamic, not '%s'", v);
        p->fixed = strcmp(v, "fixed") == 0;
    }
    if ((v = vd_options_get(o, "block_size"))) {
        if ((ret = parse_bytes("block_size", v, &x, errp)) < 0)
            return ret;
        if (x < VHDX_MIB || x > 256 * VHDX_MIB || (x & (x - 1)))
            return vd_error_set(errp, -EINVAL, "block_size must be a power of two from 1M "
                                "to 256M, not %s", v);
        p->block_size = (uint32_t)x;
    }
    if ((v = vd_options_get(o, "log_size"))) {
        if ((ret = parse_bytes("log_size", v, &x, errp)) < 0)
            return ret;
        if (x < VHDX_MIB || x % VHDX_MIB || x > 64 * VHDX_MIB)
            return vd_error_set(errp, -EINVAL, "log_size must be a multiple of 1M up to 64M, "
                                "not %s", v);
        p->log_size = (uint32_t)x;
    }
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "physical_sector_size" : "logical_sector_size";
        if (!(v = vd_options_get(o, key)))
            continue;
        if (strcmp(v, "512") && strcmp(v, "4096"))
            return vd_error_set(errp, -EINVAL, "%s is 512 or 4096, not '%s'", key, v);
        *(k ? &p->pss : &p->lss) = (uint32_t)atoi(v);
    }
    if (p->parent) {
        if (p->parent->drv != &vd_format_vhdx)
            return vd_error_set(errp, -EINVAL, "%s: a VHDX differencing disk needs a VHDX "
                                "parent; '%s' is %s", path, args->backing_arg,
                                p->parent->drv->name);
        if (p->fixed)
            return vd_error_set(errp, -EINVAL, "%s: a differencing disk cannot be fixed", path);
        const struct vhdx_state *ps = p->parent->opaque;
        if (vd_options_get(o, "logical_sector_size") && p->lss != ps->logical_sector)
            return vd_error_set(errp, -EINVAL, "%s: a child has its parent's logical sector "
                                "size (%u)", path, ps->logical_sector);
        p->lss = ps->logical_sector;
        if (p->size && p->size != p->parent->size)
            return vd_error_set(errp, -EINVAL, "%s: a differencing disk has its parent's size "
                                "(%llu bytes), not %llu", path,
                                (unsigned long long)p->parent->size,
                                (unsigned long long)p->size);
        p->size = p->parent->size;
        if ((ret = vhd_parent_paths(path, args->backing_arg, p->parent_abs, p->parent_rel,
                                    errp)) < 0)
            return ret;
    }
    /* Whole sectors, rounded up as qemu-img does: a 1000000-byte raw
     * source converts to a disk of 1000448 bytes. */
    if (p->size % p->lss && p->size <= VHDX_MAX_SIZE)
        p->size += p->lss - p->size % p->lss;
    if (p->size == 0 || p->size % p->lss || p->size > VHDX_MAX_SIZE)
        return vd_error_set(errp, -EINVAL, "%s: a VHDX size is a multiple of the logical "
                            "sector size (%u) up to 64 TiB, not %llu", path, p->lss,
                            (unsigned long long)p->size);
    return 0;
}

/* The parent locator item: parent_linkage and the two paths. */
static size_t parent_locator(const struct create_plan *p, uint8_t *out, size_t cap)
{
    const struct vhdx_state *ps = p->parent->opaque;
    char linkage[40], abs_win[PATH_MAX];
    vhdx_guid_str(ps->header + VHDX_H_DATA_GUID, linkage, sizeof(linkage));
    snprintf(abs_win, sizeof(abs_win), "%s", p->parent_abs);
    for (char *c = abs_win; *c; c++)
        if (*c == '/')
            *c = '\\';
    const char *kv[3][2] = {
        { "parent_linkage", linkage },
        { "relative_path", p->parent_rel },
        { "absolute_win32_path", abs_win },
    };
    memset(out, 0, cap);
    vhdx_guid_parse(VHDX_GUID_LOCATOR_TYPE, out);
    put_le16(out + 18, 3);
    size_t at = 20 + 3 * 12;
    for (int i = 0; i < 3; i++) {
        uint8_t *e = out + 20 + i * 12;
        size_t kl = vhd_utf8_to_utf16le(kv[i][0], out + at, cap - at);
        put_le32(e, (uint32_t)at);
        put_le16(e + 8, (uint16_t)kl);
        at += kl;
        size_t vl = vhd_utf8_to_utf16le(kv[i][1], out + at, cap - at);
        put_le32(e + 4, (uint32_t)at);
        put_le16(e + 10, (uint16_t)vl);
        at += vl;
    }
    return at;
}

static int write_image(int fd, const char *path, const struct create_plan *p,
                       struct vd_error **errp)
{
    uint64_t chunk = ((uint64_t)1 << 23) * p->lss / p->block_size;
    uint64_t blocks = (p->size + p->block_size - 1) / p->block_size;
    uint64_t bitmaps = (blocks + chunk - 1) / chunk;
    uint64_t entries = p->parent ? bitmaps * (chunk + 1) : blocks + (blocks - 1) / chunk;
    uint64_t log_off = VHDX_MIB, meta_off = log_off + p->log_size, bat_off = meta_off + VHDX_MIB;
    uint64_t bat_len = (entries * 8 + VHDX_MIB - 1) / VHDX_MIB * VHDX_MIB;
    uint64_t payload = bat_off + bat_len;
    uint64_t end = p->fixed ? payload + blocks * p->block_size : payload;
    if (bat_len > UINT32_MAX)
        return vd_error_set(errp, -EFBIG, "%s: the BAT would be too large", path);
    uint8_t *buf = calloc(1, VHDX_MIB);
    if (!buf)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = 0;
    /* The file, its full size: allocated when fixed (Windows refuses a
     * sparse fixed VHDX), sparse otherwise. */
    if (ftruncate(fd, (off_t)end) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot set the size", path);
    if (ret == 0 && p->fixed && (errno = posix_fallocate(fd, 0, (off_t)end)) != 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot allocate %llu bytes", path,
                                 (unsigned long long)end);
    /* File identifier, two headers, two region tables. */
    memcpy(buf, "vhdxfile", 8);
    vhd_utf8_to_utf16le("p2vkit", buf + 8, 512);
    uint8_t file_guid[16], data_guid[16];
    new_guid(file_guid);
    new_guid(data_guid);
    for (int i = 0; i < 2; i++) {
        uint8_t *h = buf + (i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF);
        memcpy(h, "head", 4);
        put_le64(h + VHDX_H_SEQUENCE, (uint64_t)i + 1);
        memcpy(h + VHDX_H_FILE_GUID, file_guid, 16);
        memcpy(h + VHDX_H_DATA_GUID, data_guid, 16);
        put_le16(h + VHDX_H_VERSION, 1);
        put_le32(h + VHDX_H_LOG_LENGTH, p->log_size);
        put_le64(h + VHDX_H_LOG_OFFSET, log_off);
        put_le32(h + VHDX_H_CHECKSUM, vhdx_checksum(h, VHDX_HEADER_SIZE, VHDX_H_CHECKSUM));
    }
    uint8_t *rt = buf + VHDX_REGION1_OFF;
    memcpy(rt, "regi", 4);
    put_le32(rt + 8, 2);
    vhdx_guid_parse(VHDX_GUID_BAT, rt + 16);
    put_le64(rt + 32, bat_off);
    put_le32(rt + 40, (uint32_t)bat_len);
    put_le32(rt + 44, 1);
    vhdx_guid_parse(VHDX_GUID_METADATA, rt + 48);
    put_le64(rt + 64, meta_off);
    put_le32(rt + 72, VHDX_MIB);
    put_le32(rt + 76, 1);
    put_le32(rt + 4, vhdx_checksum(rt, VHDX_REGION_SIZE, 4));
    memcpy(buf + VHDX_REGION2_OFF, rt, VHDX_REGION_SIZE);
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, buf, VHDX_MIB, 0, errp);

    /* Metadata: the table, then each item in its own 4 KiB. */
    memset(buf, 0, VHDX_MIB);
    memcpy(buf, "metadata", 8);
    struct { const char *guid; uint32_t flags; } items[6] = {
        { VHDX_GUID_FILE_PARAMS, 4 }, { VHDX_GUID_DISK_SIZE, 6 }, { VHDX_GUID_PAGE83, 6 },
        { VHDX_GUID_LOGICAL_SECTOR, 6 }, { VHDX_GUID_PHYSICAL_SECTOR, 6 },
        { VHDX_GUID_PARENT_LOCATOR, 4 },
    };
    int n_items = p->parent ? 6 : 5;
    put_le16(buf + 10, (uint16_t)n_items);
    for (int i = 0; i < n_items; i++) {
        uint8_t *e = buf + 32 + 32 * i;
        uint8_t *v = buf + VHDX_META_TABLE_SIZE + 4096 * i;
        uint32_t len = 0;
        switch (i) {
        case 0:
            put_le32(v, p->block_size);
            put_le32(v + 4, (p->fixed ? 1u : 0u) | (p->parent ? 2u : 0u));
            len = 8;
            break;
        case 1: put_le64(v, p->size); len = 8; break;
        case 2: new_guid(v); len = 16; break;
        case 3: put_le32(v, p->lss); len = 4; break;
        case 4: put_le32(v, p->pss); len = 4; break;
        case 5: len = (uint32_t)parent_locator(p, v, 4096); break;
        }
        vhdx_guid_parse(items[i].guid, e);
        put_le32(e + 16, VHDX_META_TABLE_SIZE + 4096u * (uint32_t)i);
        put_le32(e + 20, len);
        put_le32(e + 24, items[i].flags);
    }
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, buf, VHDX_MIB, meta_off, errp);

    /* The BAT: a fixed disk's blocks one after the other. */
    for (uint64_t i = 0; ret == 0 && p->fixed && i < entries; i += VHDX_MIB / 8) {
        memset(buf, 0, VHDX_MIB);
        for (uint64_t k = i; k < entries && k < i + VHDX_MIB / 8; k++) {
            if ((k + 1) % (chunk + 1) == 0)
                continue;       /* a sector bitmap entry */
            uint64_t blk = k - k / (chunk + 1);
            put_le64(buf + (k - i) * 8, (payload + blk * p->block_size) |
                     VHDX_PAYLOAD_FULLY_PRESENT);
        }
        ret = vd_fd_pwrite(fd, path, buf, VHDX_MIB, bat_off + i * 8, errp);
    }
    free(buf);
    if (ret == 0 && fsync(fd) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", path);
    return ret;
}

int vhdx_create(const char *path, const struct vd_create_args *args, struct vd_error **errp)
{
    struct create_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = make_plan(path, args, p, errp);
    if (ret == 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            ret = vd_error_set_errno(errp, -errno, "cannot create '%s'", path);
        } else {
            ret = write_image(fd, path, p, errp);
            if (close(fd) < 0 && ret == 0)
                ret = vd_error_set_errno(errp, -errno, "%s: cannot close", path);
        }
    }
    free(p);
    return ret;
}

/* ---- resize ---- */

/* The virtual disk size item set to SIZE, in a log entry of its own (U:
 * room for one update). */
static int log_size_item(struct vd_image *img, struct vhdx_state *s, uint64_t size,
                         struct log_update *u, struct vd_error **errp)
{
    u->file_off = s->size_item_off / LOG_SECTOR * LOG_SECTOR;
    int ret = vd_fd_pread(img->fd, img->path, u->data, LOG_SECTOR, u->file_off, errp);
    if (ret == 0 && s->size_item_off % LOG_SECTOR > LOG_SECTOR - 8)
        ret = vd_error_set(errp, -ENOTSUP, "%s: the virtual disk size item at offset %llu "
                           "straddles two sectors", img->path,
                           (unsigned long long)s->size_item_off);
    if (ret < 0)
        return ret;
    put_le64(u->data + s->size_item_off % LOG_SECTOR, size);
    return log_commit(img, s, u, 1, errp);
}

/* Growing, within the room the BAT region has (a 1 MiB region holds 131072
 * entries: 4 TiB of 32 MiB blocks). A fixed image (LeaveBlockAllocated)
 * gets its new blocks allocated at the end of the file, fully present, as
 * Hyper-V expects; a dynamic one leaves them not present. The BAT sectors
 * past the old entries go through the log first (readers ignore entries
 * past the size), then the size item in a last entry of its own: a kill
 * leaves the old image, or the new one. A differencing disk keeps its
 * parent's size. */
int vhdx_grow(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct vhdx_state *s = img->opaque;
    if (s->has_parent)
        return vd_error_set(errp, -ENOTSUP, "%s: a differencing VHDX keeps its parent's size; "
                            "grow the parent and make a new child", img->path);
    size = (size + s->logical_sector - 1) / s->logical_sector * s->logical_sector;
    if (size > VHDX_MAX_SIZE)
        return vd_error_set(errp, -EFBIG, "%s: a VHDX holds at most 64 TiB, not %llu bytes",
                            img->path, (unsigned long long)size);
    uint64_t blocks = (size + s->block_size - 1) / s->block_size;
    uint64_t entries = blocks + (blocks - 1) / s->chunk_ratio;
    if (entries > s->bat_len / 8)
        return vd_error_set(errp, -EFBIG, "%s: the BAT region (%u bytes) has room for %llu "
                            "bytes of %u-byte blocks, not %llu", img->path, s->bat_len,
                            (unsigned long long)((s->bat_len / 8 - s->bat_len / 8 /
                                                  (s->chunk_ratio + 1)) * s->block_size),
                            s->block_size, (unsigned long long)size);
    uint64_t old_entries = s->bat_entries;
    uint64_t *bat = calloc(entries, 8);
    struct log_update *u = calloc(64, sizeof(*u));
    if (!bat || !u) {
        free(bat);
        free(u);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    }
    memcpy(bat, s->bat, old_entries * 8);
    int ret = 0;
    /* The part of the new space in the old last block reads as zeros too
     * (each grow zeroes up to its new end, so what lies past it may stay). */
    if (s->vsize % s->block_size) {
        uint64_t e = bat[vhdx_bat_index(s, s->vsize / s->block_size)];
        uint64_t end = (s->vsize / s->block_size + 1) * s->block_size;
        uint64_t at = VHDX_BAT_OFFSET(e) + s->vsize % s->block_size;
        static const uint8_t zeros[65536];
        for (uint64_t left = (size < end ? size : end) - s->vsize;
             VHDX_BAT_STATE(e) == VHDX_PAYLOAD_FULLY_PRESENT && left && ret == 0;) {
            size_t k = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
            ret = vd_fd_pwrite(img->fd, img->path, zeros, k, at, errp);
            at += k;
            left -= k;
        }
    }
    if (s->leave_allocated) {
        for (uint64_t b = s->data_blocks; b < blocks && ret == 0; b++) {
            uint64_t at;
            ret = alloc_space(img, s, s->block_size, &at, errp);
            if (ret == 0 && (errno = posix_fallocate(img->fd, (off_t)at,
                                                     (off_t)s->block_size)) != 0 &&
                errno != EOPNOTSUPP && errno != EINVAL)
                ret = vd_error_set_errno(errp, -errno, "%s: cannot allocate %u bytes at "
                                         "offset %llu", img->path, s->block_size,
                                         (unsigned long long)at);
            bat[vhdx_bat_index(s, b)] = at | VHDX_PAYLOAD_FULLY_PRESENT;
        }
        if (ret == 0)
            ret = sync_file(img->fd, img->path, errp);
    }
    /* BAT sectors from the one holding the first new entry on: those whose
     * bytes change (a dynamic image's region past its entries reads as
     * zeros already when we made it). */
    int n = 0;
    for (uint64_t first = old_entries / 512 * 512; first < entries && ret == 0; first += 512) {
        struct log_update *x = &u[n];
        x->file_off = s->bat_off + first * 8;
        uint8_t cur[LOG_SECTOR];
        ret = vd_fd_pread(img->fd, img->path, cur, LOG_SECTOR, x->file_off, errp);
        memset(x->data, 0, LOG_SECTOR);
        for (uint64_t k = first; k < first + 512 && k < entries; k++)
            put_le64(x->data + (k - first) * 8, bat[k]);
        if (ret < 0 || memcmp(cur, x->data, LOG_SECTOR) == 0)
            continue;
        if (++n == 64) {
            ret = log_commit(img, s, u, n, errp);
            n = 0;
        }
    }
    if (ret == 0 && n)
        ret = log_commit(img, s, u, n, errp);
    if (ret == 0)
        ret = log_size_item(img, s, size, u, errp);
    free(u);
    if (ret < 0) {
        free(bat);
        return ret;
    }
    free(s->bat);
    s->bat = bat;
    s->bat_entries = entries;
    s->data_blocks = blocks;
    s->vsize = size;
    img->size = size;
    return 0;
}

/* ---- rebase ---- */

/* A new parent locator item (parent_linkage: the new parent's
 * DataWriteGuid, and its paths), in place when it fits before the next
 * item, else after the last item of the metadata region; the item's
 * sectors and the table entry that points at it change in one log entry.
 * The child's content does not change: its DataWriteGuid stays, so that
 * children made from it still match. */
int vhdx_set_backing(struct vd_image *img, struct vd_image *parent, const char *parent_arg,
                     struct vd_error **errp)
{
    struct vhdx_state *s = img->opaque;
    if (!s->has_parent)
        return vd_error_set(errp, -EINVAL, "%s: not a differencing VHDX: it has no parent to "
                            "change", img->path);
    if (parent->drv != &vd_format_vhdx)
        return vd_error_set(errp, -EINVAL, "%s: a VHDX differencing disk needs a VHDX parent; "
                            "'%s' is %s", img->path, parent_arg, parent->drv->name);
    const struct vhdx_state *ps = parent->opaque;
    if (parent->size != img->size || ps->logical_sector != s->logical_sector)
        return vd_error_set(errp, -EINVAL, "%s: '%s' has %llu bytes in %u-byte sectors; a "
                            "VHDX child has its parent's size and sectors (%llu bytes, %u)",
                            img->path, parent_arg, (unsigned long long)parent->size,
                            ps->logical_sector, (unsigned long long)img->size,
                            s->logical_sector);
    enum { ITEM_CAP = 32768, MAX_SECTORS = ITEM_CAP / LOG_SECTOR + 2 };
    struct create_plan *p = calloc(1, sizeof(*p));
    uint8_t *item = calloc(1, ITEM_CAP), *table = malloc(VHDX_META_TABLE_SIZE);
    struct log_update *u = calloc(MAX_SECTORS, sizeof(*u));
    int ret = 0;
    if (!p || !item || !table || !u)
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    if (ret == 0) {
        p->parent = parent;
        ret = vhd_parent_paths(img->path, parent_arg, p->parent_abs, p->parent_rel, errp);
    }
    size_t len = ret == 0 ? parent_locator(p, item, ITEM_CAP) : 0;
    if (ret == 0)
        ret = vd_fd_pread(img->fd, img->path, table, VHDX_META_TABLE_SIZE, s->meta_off, errp);
    /* The locator's table entry, and where the next item starts. */
    uint8_t guid[16];
    vhdx_guid_parse(VHDX_GUID_PARENT_LOCATOR, guid);
    uint32_t count = ret == 0 ? get_le16(table + 10) : 0, idx = count;
    for (uint32_t i = 0; i < count && i < VHDX_META_MAX; i++)
        if (memcmp(table + 32 + (size_t)i * 32, guid, 16) == 0)
            idx = i;
    if (ret == 0 && idx == count)
        ret = vd_error_set(errp, -EINVAL, "%s: the metadata table has no parent locator",
                           img->path);
    uint64_t at = 0, next = s->meta_len, last_end = VHDX_META_TABLE_SIZE;
    if (ret == 0) {
        at = get_le32(table + 32 + (size_t)idx * 32 + 16);
        for (uint32_t i = 0; i < count; i++) {
            const uint8_t *e = table + 32 + (size_t)i * 32;
            uint64_t o = get_le32(e + 16), l = get_le32(e + 20);
            if (i != idx && o > at && o < next)
                next = o;
            if (o + l > last_end)
                last_end = o + l;
        }
        if (at + len > next) {
            at = (last_end + LOG_SECTOR - 1) / LOG_SECTOR * LOG_SECTOR;
            if (at + len > s->meta_len)
                ret = vd_error_set(errp, -ENOSPC, "%s: no room in the metadata region for a "
                                   "parent locator of %zu bytes", img->path, len);
        }
    }
    /* The item's sectors, then the table's sector with the entry. */
    int n = 0;
    for (uint64_t f = (s->meta_off + at) / LOG_SECTOR * LOG_SECTOR;
         ret == 0 && f < s->meta_off + at + len; f += LOG_SECTOR) {
        struct log_update *x = &u[n++];
        x->file_off = f;
        ret = vd_fd_pread(img->fd, img->path, x->data, LOG_SECTOR, f, errp);
        uint64_t from = f > s->meta_off + at ? f : s->meta_off + at;
        uint64_t to = f + LOG_SECTOR < s->meta_off + at + len ? f + LOG_SECTOR
                                                              : s->meta_off + at + len;
        memcpy(x->data + (from - f), item + (from - s->meta_off - at), to - from);
    }
    if (ret == 0) {
        size_t eoff = 32 + (size_t)idx * 32;
        put_le32(table + eoff + 16, (uint32_t)at);
        put_le32(table + eoff + 20, (uint32_t)len);
        struct log_update *x = &u[n++];
        x->file_off = s->meta_off + eoff / LOG_SECTOR * LOG_SECTOR;
        memcpy(x->data, table + eoff / LOG_SECTOR * LOG_SECTOR, LOG_SECTOR);
        if (!s->guids_fresh)
            s->keep_data_guid = true;
        ret = log_commit(img, s, u, n, errp);
    }
    if (ret == 0)
        vhdx_guid_str(ps->header + VHDX_H_DATA_GUID, s->parent_linkage,
                      sizeof(s->parent_linkage));
    free(p);
    free(item);
    free(table);
    free(u);
    return ret;
}

/* ---- measure ---- */

/* create's layout (log, metadata, BAT, then the payload from a 1 MiB
 * boundary), then one block per block of data: the writer appends whole
 * blocks. A fixed disk has every block. */
int vhdx_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                 uint64_t *full, struct vd_error **errp)
{
    struct create_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = make_plan("measure", args, p, errp);
    uint64_t blocks = 0, used = 0, payload = 0;
    if (ret == 0) {
        uint64_t chunk = ((uint64_t)1 << 23) * p->lss / p->block_size;
        blocks = (p->size + p->block_size - 1) / p->block_size;
        uint64_t entries = blocks + (blocks - 1) / chunk;
        uint64_t bat_len = (entries * 8 + VHDX_MIB - 1) / VHDX_MIB * VHDX_MIB;
        payload = VHDX_MIB + p->log_size + VHDX_MIB + bat_len;
        if (src && !p->fixed)
            ret = vd_image_count_data(src, p->block_size, &used, errp);
    }
    if (ret == 0) {
        *full = payload + blocks * p->block_size;
        *required = p->fixed ? *full : payload + used * p->block_size;
    }
    free(p);
    return ret;
}

/* ---- write zeroes ---- */

/* Whole blocks become PAYLOAD_BLOCK_ZERO (reads zeros, in a child too: not
 * the parent's), 64 per log entry; the space of a block that was present is
 * given back to the host file system (a hole) once nothing points at it.
 * The rest of a block is written as zeros unless it already reads so.
 * MS-VHDX: no block of a fixed file may take such a state, so a fixed file
 * gets its zeros written in place (-ENOTSUP: the core does it). */
int vhdx_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off, struct vd_error **errp)
{
    struct vhdx_state *s = img->opaque;
    if (s->leave_allocated && !s->has_parent)
        return -ENOTSUP;
    enum { BATCH = 64 };
    static const uint8_t zeros[65536];
    uint64_t set[BATCH], val[BATCH], freed[BATCH];
    struct log_update *u = malloc(BATCH * sizeof(*u));
    if (!u)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = 0, nset = 0;
    while (ret == 0 && (len || nset)) {
        uint64_t blk = off / s->block_size;
        uint32_t in_blk = (uint32_t)(off % s->block_size);
        uint64_t n = s->block_size - in_blk < len ? s->block_size - in_blk : len;
        bool whole = len && in_blk == 0 && (n == s->block_size || off + n == img->size);
        if (whole && nset < BATCH) {
            uint64_t e = vhdx_bat_get(s, vhdx_bat_index(s, blk));
            if (VHDX_BAT_STATE(e) != VHDX_PAYLOAD_ZERO) {
                set[nset] = vhdx_bat_index(s, blk);
                val[nset] = VHDX_PAYLOAD_ZERO;
                unsigned st = VHDX_BAT_STATE(e);
                freed[nset++] = st == VHDX_PAYLOAD_FULLY_PRESENT ||
                                st == VHDX_PAYLOAD_PARTIALLY_PRESENT ? VHDX_BAT_OFFSET(e) : 0;
            }
            off += n;
            len -= n;
            continue;
        }
        if (nset) {
            /* The batch first: its blocks are before OFF. */
            pthread_mutex_lock(&s->lock);
            int k = bat_updates(s, set, val, nset, u);
            ret = log_commit(img, s, u, k, errp);
            if (ret == 0)
                bat_publish(s, set, val, nset);
            pthread_mutex_unlock(&s->lock);
            for (int i = 0; ret == 0 && i < nset; i++)
                if (freed[i])
                    (void)fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                    (off_t)freed[i], (off_t)s->block_size);
            nset = 0;
            continue;
        }
        if (!len)
            break;
        unsigned st = VHDX_BAT_STATE(vhdx_bat_get(s, vhdx_bat_index(s, blk)));
        bool reads_zero = st == VHDX_PAYLOAD_ZERO || st == VHDX_PAYLOAD_UNMAPPED ||
                          (!s->has_parent && st != VHDX_PAYLOAD_FULLY_PRESENT);
        for (uint64_t done = 0; !reads_zero && ret == 0 && done < n;) {
            size_t k = n - done < sizeof(zeros) ? (size_t)(n - done) : sizeof(zeros);
            ret = vhdx_pwrite(img, zeros, k, off + done, errp);
            done += k;
        }
        off += n;
        len -= n;
    }
    free(u);
    return ret;
}

/* ---- shrink ---- */

/* The size item first (one log entry: from then on readers ignore the
 * entries past the new size, and a grow rewrites them), then those entries
 * cleared through the log, then the file cut after the last structure
 * still in use, or, where a freed block lies before it, the block punched
 * out (not in a fixed file, which stays fully allocated). The core has
 * checked that the dropped tail reads as zeros. */
int vhdx_shrink(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct vhdx_state *s = img->opaque;
    if (s->has_parent)
        return vd_error_set(errp, -ENOTSUP, "%s: a differencing VHDX keeps its parent's size",
                            img->path);
    size = (size + s->logical_sector - 1) / s->logical_sector * s->logical_sector;
    if (size >= s->vsize)
        return 0;
    struct log_update *u = calloc(64, sizeof(*u));
    if (!u)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = log_size_item(img, s, size, u, errp);
    if (ret < 0) {
        free(u);
        return ret;
    }
    uint64_t blocks = (size + s->block_size - 1) / s->block_size;
    uint64_t entries = blocks + (blocks - 1) / s->chunk_ratio, old_entries = s->bat_entries;
    s->vsize = img->size = size;
    s->data_blocks = blocks;
    s->bat_entries = entries;
    /* Clear the entries past the new end, a sector of the BAT at a time. */
    int n = 0;
    for (uint64_t first = entries / 512 * 512; first < old_entries && ret == 0; first += 512) {
        struct log_update *x = &u[n++];
        x->file_off = s->bat_off + first * 8;
        memset(x->data, 0, LOG_SECTOR);
        for (uint64_t k = first; k < entries; k++)
            put_le64(x->data + (k - first) * 8, s->bat[k]);
        if (n == 64 || first + 512 >= old_entries) {
            ret = log_commit(img, s, u, n, errp);
            n = 0;
        }
    }
    /* The end of what is still in use: headers, regions, present blocks. */
    uint64_t end = get_le64(s->header + VHDX_H_LOG_OFFSET) +
                   get_le32(s->header + VHDX_H_LOG_LENGTH);
    if (s->meta_off + s->meta_len > end)
        end = s->meta_off + s->meta_len;
    if (s->bat_off + s->bat_len > end)
        end = s->bat_off + s->bat_len;
    /* Any offset an entry keeps counts (an unmapped block's may still
     * hold its old content); a bogus one only means no cut. */
    for (uint64_t k = 0; k < entries; k++)
        if (VHDX_BAT_OFFSET(s->bat[k]) &&
            VHDX_BAT_OFFSET(s->bat[k]) + s->block_size > end)
            end = VHDX_BAT_OFFSET(s->bat[k]) + s->block_size;
    for (uint64_t k = entries; ret == 0 && k < old_entries; k++) {
        uint64_t off = VHDX_BAT_OFFSET(s->bat[k]);
        if (VHDX_BAT_STATE(s->bat[k]) == VHDX_PAYLOAD_FULLY_PRESENT && off < end &&
            !s->leave_allocated)
            (void)fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
                            (off_t)s->block_size);
        s->bat[k] = 0;
    }
    end = (end + VHDX_MIB - 1) / VHDX_MIB * VHDX_MIB;
    if (ret == 0 && end < s->alloc_end) {
        if (ftruncate(img->fd, (off_t)end) < 0)
            ret = vd_error_set_errno(errp, -errno, "%s: cannot cut the file to %llu bytes",
                                     img->path, (unsigned long long)end);
        else
            s->alloc_end = s->file_size = end;
    }
    free(u);
    return ret;
}
