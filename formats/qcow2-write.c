/* qcow2 writing: create, write, write zeroes.
 *
 * Refcounts are kept exact on disk (no lazy refcounts, the dirty bit is
 * never set). Clusters are allocated at the end of the file, and every
 * allocation goes in the order refcount -> data -> L2 entry (and a new L2
 * table: refcount -> zeroed table -> L1 entry), so that a process killed at
 * any point leaves at worst clusters counted but unused (leaks, which
 * `qemu-img check` tolerates; the placeholders of an open arena of
 * compressed clusters are such), never a table pointing at a cluster whose
 * refcount is 0. An allocated cluster (refcount 1, COPIED) is overwritten in
 * place without the lock; everything else (allocation, L1/L2/refcount
 * updates) runs under one lock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/endian.h"
#include "formats/compressible.h"
#include "formats/qcow2.h"

static uint64_t per_refblock(const struct qcow2_state *s)
{
    return ((uint64_t)s->cluster_size * 8) >> s->refcount_order;
}

static void count_problem(void *ctx, const char *problem)
{
    (void)ctx;
    (void)problem;
}

/* An image left dirty (lazy refcounts, not closed cleanly) gets every
 * refcount block rewritten from the counts its tables imply, then the dirty
 * bit cleared. Killed halfway, it is still dirty and is repaired again.
 * check -r on a clean image: the same (all), or LEAKS_ONLY: counts only go
 * down to what the tables use. A clean image whose tables are damaged is
 * left alone (check reports it). */
static int repair_refcounts(struct vd_image *img, struct qcow2_state *s, bool leaks_only,
                            struct vd_error **errp)
{
    struct vd_check chk = { .report = count_problem };
    uint32_t *refs = NULL;
    uint64_t n = 0;
    int ret = qcow2_count_refs(img->fd, img->path, s->file_size, &chk, &refs, &n, errp);
    if (ret < 0)
        return ret;
    if (chk.problems && !(s->incompat & QCOW2_INCOMPAT_DIRTY)) {
        free(refs);
        return 0;       /* a clean image's damage: check -r reports it, unrepaired */
    }
    if (chk.problems) {
        free(refs);
        return vd_error_set(errp, -EINVAL, "%s: the dirty image cannot be repaired: its tables "
                            "have %d problems ('vdisk check' lists them)", img->path,
                            chk.problems);
    }
    uint64_t per = per_refblock(s), max = s->refcount_order == 6 ? UINT64_MAX
                                         : (1ull << (1u << s->refcount_order)) - 1;
    /* Clusters in use with no refcount block: new blocks after the end of
     * the file, which may need covering themselves. */
    uint64_t next = n;
    for (bool again = !leaks_only; again && ret == 0;) {
        again = false;
        for (uint64_t c = 0; c < n && ret == 0; c++) {
            if (!refs[c] || s->rt[c / per])
                continue;
            if (c / per >= s->rt_entries) {
                ret = vd_error_set(errp, -EFBIG, "%s: the refcount table is too small to "
                                   "repair the image", img->path);
                break;
            }
            s->rt[c / per] = next << s->cluster_bits;
            uint32_t *grown = realloc(refs, (next + 1) * sizeof(*refs));
            if (!grown) {
                ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
                break;
            }
            refs = grown;
            refs[next++] = 1;
            n = next;
            again = true;
        }
    }
    uint8_t *blk = malloc(s->cluster_size);
    if (ret == 0 && !blk)
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    for (uint32_t r = 0; ret == 0 && r < s->rt_entries; r++) {
        uint64_t rb = s->rt[r] & QCOW2_OFFSET_MASK;
        if (!rb)
            continue;
        /* Leaks only: a count goes down to what the tables use, never up. */
        if (leaks_only)
            ret = vd_file_pread(img, blk, s->cluster_size, rb, errp);
        else
            memset(blk, 0, s->cluster_size);
        for (uint64_t i = 0; ret == 0 && i < per && r * per + i < n; i++) {
            uint64_t v = refs[r * per + i];
            if (leaks_only && v > qcow2_refcount_get(blk, s->refcount_order, i))
                continue;
            if (v > max) {
                ret = vd_error_set(errp, -EINVAL, "%s: cluster %llu is used %llu times, more "
                                   "than its refcount can count", img->path,
                                   (unsigned long long)(r * per + i), (unsigned long long)v);
                break;
            }
            qcow2_refcount_set(blk, s->refcount_order, i, v);
        }
        if (ret == 0)
            ret = vd_file_pwrite(img, blk, s->cluster_size, rb, errp);
    }
    free(blk);
    free(refs);
    if (ret == 0) {
        uint8_t *table = malloc((size_t)s->rt_entries * 8);
        if (!table)
            return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        for (uint32_t r = 0; r < s->rt_entries; r++)
            put_be64(table + (size_t)r * 8, s->rt[r]);
        ret = vd_file_pwrite(img, table, (size_t)s->rt_entries * 8, s->rt_offset, errp);
        free(table);
    }
    if (ret == 0 && fdatasync(img->fd) < 0 && errno != EINVAL)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    if (ret == 0) {
        /* Everything above is on disk before the bit says so. */
        uint8_t e[8];
        put_be64(e, s->incompat & ~(uint64_t)QCOW2_INCOMPAT_DIRTY);
        ret = vd_file_pwrite(img, e, 8, Q_H_INCOMPAT, errp);
    }
    if (ret == 0 && fdatasync(img->fd) < 0 && errno != EINVAL)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    if (ret == 0) {
        s->incompat &= ~(uint64_t)QCOW2_INCOMPAT_DIRTY;
        if (next << s->cluster_bits > s->file_size)
            s->file_size = next << s->cluster_bits;
    }
    return ret;
}

int qcow2_open_write(struct vd_image *img, struct qcow2_state *s, unsigned flags,
                     struct vd_error **errp)
{
    s->compress = (flags & VD_OPEN_COMPRESS) != 0;
    const char *why = NULL;
    if (s->nb_snapshots)
        why = "it has internal snapshots";
    else if (s->data_fd >= 0)
        why = "it has an external data file";
    else if (s->ext_l2)
        why = "it has extended L2 entries";
    else if (s->incompat & QCOW2_INCOMPAT_CORRUPT)
        why = "QEMU marked it corrupt";
    else if (s->autoclear & QCOW2_AUTOCLEAR_BITMAPS)
        why = "it has persistent dirty bitmaps";
    if (why)
        return vd_error_set(errp, -ENOTSUP, "%s: vdisk cannot write this qcow2 image: %s",
                            img->path, why);
    /* Refcount blocks get written: each must be a cluster inside the file. */
    for (uint32_t r = 0; r < s->rt_entries; r++) {
        uint64_t rb = s->rt[r] & QCOW2_OFFSET_MASK;
        if ((s->rt[r] & ~QCOW2_OFFSET_MASK) || rb % s->cluster_size || rb >= s->file_size)
            return vd_error_set(errp, -EINVAL, "%s: refcount table entry %u (offset %llu) "
                                "points outside the file or off a cluster boundary", img->path,
                                r, (unsigned long long)(s->rt_offset + r * 8ull));
    }
    /* A dirty image always; a clean one's leaks when asked (check -r):
     * each refcount only drops to what the tables use, so a kill halfway
     * leaves some leaks, never a count too low. */
    bool dirty = s->incompat & QCOW2_INCOMPAT_DIRTY;
    if (dirty || (flags & (VD_OPEN_REPAIR_LEAKS | VD_OPEN_REPAIR_ALL))) {
        int ret = repair_refcounts(img, s, !dirty && !(flags & VD_OPEN_REPAIR_ALL), errp);
        if (ret < 0)
            return ret;
    }
    s->next_free = (s->file_size + s->cluster_size - 1) >> s->cluster_bits;
    if (pthread_mutex_init(&s->lock, NULL) != 0)
        return vd_error_set(errp, -ENOMEM, "%s: cannot create a lock", img->path);
    s->lock_ready = true;
    return 0;
}

/* ---- refcounts (under the lock) ---- */

/* Adds DELTA to the refcounts of clusters [first, first + n), all covered by
 * existing refcount blocks. */
static int refcount_add(struct vd_image *img, struct qcow2_state *s, uint64_t first,
                        uint64_t n, int delta, struct vd_error **errp)
{
    uint64_t per = per_refblock(s);
    uint8_t *blk = malloc(s->cluster_size);
    if (!blk)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = 0;
    for (uint64_t c = first; c < first + n && ret == 0;) {
        uint64_t r = c / per, end = (r + 1) * per < first + n ? (r + 1) * per : first + n;
        uint64_t rb = r < s->rt_entries ? s->rt[r] & QCOW2_OFFSET_MASK : 0;
        if (!rb) {
            ret = vd_error_set(errp, -EIO, "%s: no refcount block for cluster %llu",
                               img->path, (unsigned long long)c);
            break;
        }
        if ((ret = vd_file_pread(img, blk, s->cluster_size, rb, errp)) < 0)
            break;
        for (uint64_t i = c; i < end; i++) {
            uint64_t v = qcow2_refcount_get(blk, s->refcount_order, i % per);
            uint64_t max = s->refcount_order == 6 ? UINT64_MAX
                                                  : (1ull << (1u << s->refcount_order)) - 1;
            if ((delta > 0 && v == max) || (delta < 0 && v == 0)) {
                ret = vd_error_set(errp, -EIO, "%s: refcount of cluster %llu is %llu, cannot "
                                   "%s it (corrupt refcounts?)", img->path,
                                   (unsigned long long)i, (unsigned long long)v,
                                   delta > 0 ? "raise" : "lower");
                break;
            }
            qcow2_refcount_set(blk, s->refcount_order, i % per, delta > 0 ? v + 1 : v - 1);
        }
        if (ret == 0)
            ret = vd_file_pwrite(img, blk, s->cluster_size, rb, errp);
        c = end;
    }
    free(blk);
    return ret;
}

/* A refcount block for refcount table entry R, at the end of the file. */
static int new_refblock(struct vd_image *img, struct qcow2_state *s, uint64_t r,
                        struct vd_error **errp)
{
    uint64_t per = per_refblock(s);
    uint64_t b = s->next_free++;
    if (s->next_free << s->cluster_bits > s->file_size)
        __atomic_store_n(&s->file_size, s->next_free << s->cluster_bits, __ATOMIC_RELEASE);
    uint8_t *blk = calloc(1, s->cluster_size);
    if (!blk)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    if (b / per == r)
        qcow2_refcount_set(blk, s->refcount_order, b % per, 1);
    int ret = vd_file_pwrite(img, blk, s->cluster_size, b << s->cluster_bits, errp);
    free(blk);
    uint8_t e[8];
    put_be64(e, b << s->cluster_bits);
    if (ret == 0)
        ret = vd_file_pwrite(img, e, 8, s->rt_offset + r * 8, errp);
    if (ret == 0)
        s->rt[r] = b << s->cluster_bits;
    /* A block that does not cover itself is counted in the one that does
     * (which may need making first). */
    if (ret == 0 && b / per != r) {
        if (b / per >= s->rt_entries)
            return vd_error_set(errp, -EFBIG, "%s: the refcount table is full", img->path);
        if (!s->rt[b / per] && (ret = new_refblock(img, s, b / per, errp)) < 0)
            return ret;
        ret = refcount_add(img, s, b, 1, 1, errp);
    }
    return ret;
}

/* A bigger refcount table, for a file beyond what the current one can
 * describe (QEMU sizes it for the metadata it creates): the new table and
 * the refcount blocks it needs are written after the end of the file, then
 * the header points at them, then the old table is freed. Killed before the
 * header write, the file keeps the old table and leaks at most the new
 * clusters; after it, at most the old table. */
static int grow_refcount_table(struct vd_image *img, struct qcow2_state *s, uint64_t need_r,
                               struct vd_error **errp)
{
    uint64_t per = per_refblock(s), cs = s->cluster_size;
    uint64_t want = need_r + 1 > (uint64_t)s->rt_entries * 2 ? need_r + 1
                                                              : (uint64_t)s->rt_entries * 2;
    uint64_t nt = (want * 8 + cs - 1) / cs;
    if (nt * cs > QCOW2_MAX_RT_BYTES)
        nt = QCOW2_MAX_RT_BYTES / cs;
    uint64_t entries = nt * cs / 8;
    if (need_r >= entries)
        return vd_error_set(errp, -EFBIG, "%s: the file would outgrow the largest refcount "
                            "table (%u bytes)", img->path, QCOW2_MAX_RT_BYTES);
    uint64_t *rt = calloc(entries, 8);
    uint8_t *blk = malloc(cs);
    if (!rt || !blk) {
        free(rt);
        free(blk);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    }
    memcpy(rt, s->rt, (size_t)s->rt_entries * 8);
    uint64_t first = s->next_free, end = first + nt;
    int ret = 0;
    /* Blocks for the new clusters, which must count themselves too (each
     * new block covers some new cluster, so the loop below writes it). */
    for (bool again = true; again && ret == 0;) {
        again = false;
        for (uint64_t c = first; c < end; c++) {
            if (c / per >= entries) {
                ret = vd_error_set(errp, -EFBIG, "%s: the refcount table cannot grow enough",
                                   img->path);
                break;
            }
            if (!rt[c / per]) {
                rt[c / per] = end++ << s->cluster_bits;
                again = true;
            }
        }
    }
    for (uint64_t c = first; c < end && ret == 0;) {
        uint64_t r = c / per, stop = (r + 1) * per < end ? (r + 1) * per : end;
        uint64_t rb = rt[r];
        bool fresh = rb >= first << s->cluster_bits;
        if (fresh)
            memset(blk, 0, cs);
        else
            ret = vd_file_pread(img, blk, cs, rb, errp);
        for (uint64_t i = c; i < stop && ret == 0; i++)
            qcow2_refcount_set(blk, s->refcount_order, i % per, 1);
        if (ret == 0)
            ret = vd_file_pwrite(img, blk, cs, rb, errp);
        c = stop;
    }
    uint8_t *table = ret == 0 ? malloc(nt * cs) : NULL;
    if (ret == 0 && !table)
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    if (ret == 0) {
        for (uint64_t r = 0; r < entries; r++)
            put_be64(table + r * 8, rt[r]);
        ret = vd_file_pwrite(img, table, nt * cs, first << s->cluster_bits, errp);
    }
    free(table);
    free(blk);
    if (ret == 0) {
        uint8_t h[12];
        put_be64(h, first << s->cluster_bits);
        put_be32(h + 8, (uint32_t)nt);
        ret = vd_file_pwrite(img, h, sizeof(h), Q_H_RT_OFF, errp);
    }
    if (ret < 0) {
        free(rt);
        return ret;
    }
    uint64_t old_off = s->rt_offset, old_clusters = s->rt_clusters;
    free(s->rt);
    s->rt = rt;
    s->rt_entries = (uint32_t)entries;
    s->rt_offset = first << s->cluster_bits;
    s->rt_clusters = (uint32_t)nt;
    s->next_free = end;
    if (end << s->cluster_bits > s->file_size)
        __atomic_store_n(&s->file_size, end << s->cluster_bits, __ATOMIC_RELEASE);
    return refcount_add(img, s, old_off >> s->cluster_bits, old_clusters, -1, errp);
}

/* N contiguous new clusters with refcount 1; returns the first's index. */
static int alloc_clusters(struct vd_image *img, struct qcow2_state *s, uint64_t n,
                          uint64_t *first, struct vd_error **errp)
{
    uint64_t per = per_refblock(s);
    for (;;) {
        uint64_t start = s->next_free, end = start + n;
        if ((end - 1) / per >= s->rt_entries) {
            int ret = grow_refcount_table(img, s, (end - 1) / per, errp);
            if (ret < 0)
                return ret;
            continue;
        }
        bool made = false;
        for (uint64_t r = start / per; r <= (end - 1) / per && !made; r++) {
            if (!s->rt[r]) {
                int ret = new_refblock(img, s, r, errp);
                if (ret < 0)
                    return ret;
                made = true;    /* the run moved: look again */
            }
        }
        if (made)
            continue;
        int ret = refcount_add(img, s, start, n, 1, errp);
        if (ret < 0)
            return ret;
        s->next_free = end;
        if (end << s->cluster_bits > s->file_size)
            __atomic_store_n(&s->file_size, end << s->cluster_bits, __ATOMIC_RELEASE);
        *first = start;
        return 0;
    }
}

/* Drops the references of an L2 entry being replaced. */
static int release_entry(struct vd_image *img, struct qcow2_state *s, uint64_t entry,
                         struct vd_error **errp)
{
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        uint64_t off, len;
        qcow2_compressed_extent(s, entry, &off, &len);
        uint64_t c0 = off >> s->cluster_bits, c1 = (off + len - 1) >> s->cluster_bits;
        if (c0 >= s->next_free)
            return vd_error_set(errp, -EIO, "%s: compressed cluster at offset %llu lies beyond "
                                "the end of the file", img->path, (unsigned long long)off);
        if (c1 >= s->next_free)
            c1 = s->next_free - 1;
        return refcount_add(img, s, c0, c1 - c0 + 1, -1, errp);
    }
    uint64_t host = entry & QCOW2_OFFSET_MASK;
    return host ? refcount_add(img, s, host >> s->cluster_bits, 1, -1, errp) : 0;
}

/* The L2 table of L1 entry L1I, made (zeroed) when there is none. */
static int ensure_l2(struct vd_image *img, struct qcow2_state *s, uint64_t l1i,
                     uint64_t *l2, struct vd_error **errp)
{
    uint64_t e = s->l1[l1i];
    if (e & QCOW2_OFFSET_MASK) {
        if (!(e & QCOW2_OFLAG_COPIED))
            return vd_error_set(errp, -ENOTSUP, "%s: L2 table %llu is shared (refcount > 1); "
                                "vdisk does not copy shared tables", img->path,
                                (unsigned long long)l1i);
        *l2 = e & QCOW2_OFFSET_MASK;
        return 0;
    }
    uint64_t c;
    int ret = alloc_clusters(img, s, 1, &c, errp);
    if (ret < 0)
        return ret;
    uint8_t *zero = calloc(1, s->cluster_size);
    if (!zero)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    ret = vd_file_pwrite(img, zero, s->cluster_size, c << s->cluster_bits, errp);
    free(zero);
    uint64_t ne = (c << s->cluster_bits) | QCOW2_OFLAG_COPIED;
    uint8_t b[8];
    put_be64(b, ne);
    if (ret == 0)
        ret = vd_file_pwrite(img, b, 8, s->l1_offset + l1i * 8, errp);
    if (ret == 0) {
        __atomic_store_n(&s->l1[l1i], ne, __ATOMIC_RELEASE);
        *l2 = c << s->cluster_bits;
    }
    return ret;
}

static bool in_place(const struct qcow2_state *s, uint64_t entry)
{
    return (entry & QCOW2_OFFSET_MASK) && (entry & QCOW2_OFLAG_COPIED) &&
           !(entry & (QCOW2_OFLAG_COMPRESSED | QCOW2_OFLAG_ZERO)) &&
           !((entry & QCOW2_OFFSET_MASK) % s->cluster_size);
}

/* Writes clusters [ci, ci + k) of one L2 table, which all need new storage,
 * under the lock. DATA covers bytes [in, in + len) of the run; a partly
 * covered cluster (k == 1 then) keeps its other bytes from what it reads
 * now. Returns the number of clusters written (fewer when another writer
 * allocated one meanwhile; 0 when it allocated the first). */
static int alloc_write(struct vd_image *img, struct qcow2_state *s, uint64_t ci, uint64_t k,
                       uint32_t in, const uint8_t *data, size_t len, struct vd_error **errp)
{
    uint64_t l1i = ci / s->l2_entries;
    uint64_t old[64];
    if (k > 64)
        k = 64;
    pthread_mutex_lock(&s->lock);
    uint64_t l2 = 0;
    int ret = ensure_l2(img, s, l1i, &l2, errp);
    uint64_t n = 0;
    while (ret == 0 && n < k) {
        uint64_t bm, t;
        if ((ret = qcow2_l2_lookup(img, ci + n, &old[n], &bm, &t, errp)) < 0)
            break;
        if (in_place(s, old[n]))
            break;
        n++;
    }
    uint8_t *buf = NULL;
    const uint8_t *src = data;
    if (ret == 0 && n && (in || len < s->cluster_size * n)) {
        /* Partial cluster (n == 1): merge with what it reads now. */
        buf = malloc(s->cluster_size);
        if (!buf)
            ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        else
            ret = qcow2_read_cluster_part(img, ci << s->cluster_bits, buf, s->cluster_size,
                                          errp);
        if (ret == 0)
            memcpy(buf + in, data, len);
        src = buf;
    }
    uint64_t first = 0;
    if (ret == 0 && n)
        ret = alloc_clusters(img, s, n, &first, errp);
    if (ret == 0 && n)
        ret = vd_file_pwrite(img, src, (size_t)(n << s->cluster_bits),
                             first << s->cluster_bits, errp);
    if (ret == 0 && n) {
        uint8_t entries[64 * 8];
        for (uint64_t i = 0; i < n; i++)
            put_be64(entries + i * 8, ((first + i) << s->cluster_bits) | QCOW2_OFLAG_COPIED);
        ret = vd_file_pwrite(img, entries, (size_t)n * 8, l2 + (ci % s->l2_entries) * 8, errp);
    }
    for (uint64_t i = 0; ret == 0 && i < n; i++)
        ret = release_entry(img, s, old[i], errp);
    pthread_mutex_unlock(&s->lock);
    free(buf);
    return ret < 0 ? ret : (int)n;
}

/* ---- compressed clusters ---- */

/* Compresses one cluster into OUT (room for OUT_LEN bytes); returns the
 * length, or 0 when it does not get small enough to be worth it (found
 * cheaply first where the data is incompressible). */
static size_t compress_cluster(const struct qcow2_state *s, const uint8_t *in, uint8_t *out,
                               size_t out_len)
{
    if (!vd_compressible(in, s->cluster_size, out, out_len))
        return 0;
    if (s->compression == QCOW2_ZSTD) {
        size_t r = ZSTD_compress(out, out_len, in, s->cluster_size, 3);
        return ZSTD_isError(r) ? 0 : r;
    }
    z_stream z = { 0 };
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = s->cluster_size;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    size_t n = deflate(&z, Z_FINISH) == Z_STREAM_END ? out_len - z.avail_out : 0;
    deflateEnd(&z);
    return n;
}

/* Compressed clusters are packed into an arena: a run of clusters taken
 * ahead, each holding a placeholder reference while the arena is open, so
 * that the plain clusters other writers allocate meanwhile land after it
 * instead of cutting the packed run short (and wasting the rest of its
 * cluster). Ending the arena drops the placeholders; its unused clusters
 * at the end of the image are given back. */
#define ARENA_CLUSTERS 16

static int end_arena(struct vd_image *img, struct qcow2_state *s, struct vd_error **errp)
{
    if (!s->comp_pos)
        return 0;
    int ret = refcount_add(img, s, s->arena_first, s->arena_end - s->arena_first, -1, errp);
    uint64_t used_end = (s->comp_pos + s->cluster_size - 1) >> s->cluster_bits;
    if (ret == 0 && s->next_free == s->arena_end)
        s->next_free = used_end;
    s->comp_pos = s->arena_first = s->arena_end = 0;
    return ret;
}

int qcow2_close_arena(struct vd_image *img, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    if (!s->lock_ready)
        return 0;
    pthread_mutex_lock(&s->lock);
    int ret = end_arena(img, s, errp);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* Room for LEN more bytes at comp_pos: the arena grows in place when
 * nothing was allocated after it, else a new one starts. */
static int arena_room(struct vd_image *img, struct qcow2_state *s, size_t len,
                      struct vd_error **errp)
{
    uint64_t cs = s->cluster_size;
    if (s->comp_pos && s->comp_pos + len <= s->arena_end << s->cluster_bits)
        return 0;
    uint64_t need = (len + cs - 1) / cs, first;
    if (need < ARENA_CLUSTERS)
        need = ARENA_CLUSTERS;
    bool grow = s->comp_pos && s->next_free == s->arena_end;
    int ret = grow ? 0 : end_arena(img, s, errp);
    if (ret == 0)
        ret = alloc_clusters(img, s, need, &first, errp);
    if (ret < 0)
        return ret;
    if (grow && first == s->arena_end) {
        s->arena_end += need;
        return 0;
    }
    if (grow && (ret = end_arena(img, s, errp)) < 0)
        return ret;
    s->arena_first = first;
    s->arena_end = first + need;
    s->comp_pos = first << s->cluster_bits;
    return 0;
}

/* Stores OUT (CLEN compressed bytes) as guest cluster CI, under the lock:
 * packed after the previous compressed cluster, counted, written, then the
 * L2 entry (in table L2), then OLD's references dropped. */
static int store_compressed(struct vd_image *img, struct qcow2_state *s, uint64_t ci,
                            uint64_t l2, uint64_t old, const uint8_t *out, size_t clen,
                            struct vd_error **errp)
{
    int ret = arena_room(img, s, clen, errp);
    if (ret < 0)
        return ret;
    uint64_t pos = s->comp_pos;
    uint64_t c0 = pos >> s->cluster_bits, c1 = (pos + clen - 1) >> s->cluster_bits;
    ret = refcount_add(img, s, c0, c1 - c0 + 1, 1, errp);
    /* The entry's sector count must describe it (QEMU's limit). */
    uint64_t nb = ((pos + clen - 1) >> 9) - (pos >> 9);
    if (ret == 0 && nb >= 1ull << (s->cluster_bits - 8))
        ret = vd_error_set(errp, -EIO, "%s: compressed cluster too long", img->path);
    if (ret == 0)
        ret = vd_file_pwrite(img, out, clen, pos, errp);
    if (ret < 0)
        return ret;
    s->comp_pos = pos + clen;
    if (pos + clen > s->file_size)
        __atomic_store_n(&s->file_size, pos + clen, __ATOMIC_RELEASE);
    unsigned x = 62 - (s->cluster_bits - 8);
    uint8_t e[8];
    put_be64(e, pos | (nb << x) | QCOW2_OFLAG_COMPRESSED);
    ret = vd_file_pwrite(img, e, 8, l2 + (ci % s->l2_entries) * 8, errp);
    return ret < 0 ? ret : release_entry(img, s, old, errp);
}

/* Writes bytes [in, in + n) of guest cluster CI compressed. A whole cluster
 * is compressed outside the lock (writers compress in parallel); part of
 * one (convert skips zero granules) is merged with what the cluster reads
 * now and compressed under the lock. Returns 1 when the caller should write
 * plainly (it does not compress, or the cluster is allocated in place). */
static int compressed_write(struct vd_image *img, struct qcow2_state *s, uint64_t ci,
                            uint32_t in, const uint8_t *data, size_t n,
                            struct vd_error **errp)
{
    size_t room = s->cluster_size - 512;    /* at least a sector saved */
    if (room == 0)
        return 1;
    uint8_t *out = malloc(room), *merged = NULL;
    if (!out)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    size_t clen = 0;
    if (n == s->cluster_size && (clen = compress_cluster(s, data, out, room)) == 0) {
        free(out);
        return 1;
    }
    pthread_mutex_lock(&s->lock);
    uint64_t l2 = 0, old = 0, bm, t;
    int ret = ensure_l2(img, s, ci / s->l2_entries, &l2, errp);
    if (ret == 0)
        ret = qcow2_l2_lookup(img, ci, &old, &bm, &t, errp);
    if (ret == 0 && in_place(s, old))
        ret = 1;
    if (ret == 0 && n < s->cluster_size) {
        merged = malloc(s->cluster_size);
        if (!merged)
            ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        else
            ret = qcow2_read_cluster_part(img, ci << s->cluster_bits, merged,
                                          s->cluster_size, errp);
        if (ret == 0) {
            memcpy(merged + in, data, n);
            if ((clen = compress_cluster(s, merged, out, room)) == 0)
                ret = 1;
        }
    }
    if (ret == 0)
        ret = store_compressed(img, s, ci, l2, old, out, clen, errp);
    pthread_mutex_unlock(&s->lock);
    free(merged);
    free(out);
    return ret;
}

int qcow2_pwrite(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                 struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    const uint8_t *p = buf;
    while (len) {
        uint64_t ci = off >> s->cluster_bits;
        uint32_t in = (uint32_t)(off & (s->cluster_size - 1));
        uint64_t entry, bm, l2;
        int ret = qcow2_l2_lookup(img, ci, &entry, &bm, &l2, errp);
        if (ret < 0)
            return ret;
        size_t n = s->cluster_size - in < len ? s->cluster_size - in : len;
        if (in_place(s, entry)) {
            /* A damaged entry must not stretch the file to its offset. */
            uint64_t host = entry & QCOW2_OFFSET_MASK;
            if (host >= __atomic_load_n(&s->file_size, __ATOMIC_ACQUIRE))
                return vd_error_set(errp, -EIO, "%s: the L2 entry of guest offset %llu points "
                                    "to offset %llu, beyond the end of the file (corrupt)",
                                    img->path, (unsigned long long)off,
                                    (unsigned long long)host);
            ret = vd_file_pwrite(img, p, n, host + in, errp);
            if (ret < 0)
                return ret;
        } else if (s->compress && (ret = compressed_write(img, s, ci, in, p, n, errp)) <= 0) {
            if (ret < 0)
                return ret;
        } else {
            /* Whole clusters are allocated together, up to the L2 table's
             * end; a partial one alone. */
            uint64_t k = 1;
            if (in == 0 && n == s->cluster_size && !s->compress) {
                uint64_t whole = len >> s->cluster_bits;
                uint64_t left_in_l2 = s->l2_entries - ci % s->l2_entries;
                k = whole < left_in_l2 ? whole : left_in_l2;
                n = (size_t)(k << s->cluster_bits);
            }
            ret = alloc_write(img, s, ci, k, in, p, n, errp);
            if (ret < 0)
                return ret;
            if (ret == 0)
                continue;       /* allocated meanwhile: write in place */
            n = in == 0 && n >= s->cluster_size ? (size_t)ret << s->cluster_bits : n;
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Version 3 marks whole clusters zero; everything else is written as zeros,
 * except clusters with no storage and no backing file, which already read as
 * zeros. */
int qcow2_write_zeroes(struct vd_image *img, uint64_t len, uint64_t off,
                       struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    bool backing = img->backing_path != NULL;
    if (backing && s->version < 3)
        return -ENOTSUP;
    static const uint8_t zeros[65536];
    while (len) {
        uint64_t ci = off >> s->cluster_bits;
        uint32_t in = (uint32_t)(off & (s->cluster_size - 1));
        uint64_t n = s->cluster_size - in < len ? s->cluster_size - in : len;
        uint64_t entry, bm, l2;
        int ret = qcow2_l2_lookup(img, ci, &entry, &bm, &l2, errp);
        if (ret < 0)
            return ret;
        bool reads_zero = (!entry && !backing) ||
                          (s->version >= 3 && (entry & QCOW2_OFLAG_ZERO) &&
                           !(entry & QCOW2_OFLAG_COMPRESSED));
        if (reads_zero) {
            /* nothing to do */
        } else if (n == s->cluster_size && s->version >= 3) {
            pthread_mutex_lock(&s->lock);
            ret = ensure_l2(img, s, ci / s->l2_entries, &l2, errp);
            uint64_t cur = 0, t;
            if (ret == 0)
                ret = qcow2_l2_lookup(img, ci, &cur, &bm, &t, errp);
            uint8_t e[8];
            put_be64(e, QCOW2_OFLAG_ZERO);
            if (ret == 0)
                ret = vd_file_pwrite(img, e, 8, l2 + (ci % s->l2_entries) * 8, errp);
            if (ret == 0)
                ret = release_entry(img, s, cur, errp);
            pthread_mutex_unlock(&s->lock);
        } else {
            for (uint64_t done = 0; done < n && ret == 0;) {
                size_t k = n - done < sizeof(zeros) ? (size_t)(n - done) : sizeof(zeros);
                ret = qcow2_pwrite(img, zeros, k, off + done, errp);
                done += k;
            }
        }
        if (ret < 0)
            return ret;
        off += n;
        len -= n;
    }
    return 0;
}

/* ---- create ---- */

static int parse_size_opt(const char *v, uint64_t *out)
{
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v)
        return -EINVAL;
    if (*end == 'k' || *end == 'K')
        n <<= 10, end++;
    else if (*end == 'm' || *end == 'M')
        n <<= 20, end++;
    if (*end)
        return -EINVAL;
    *out = n;
    return 0;
}

/* Real path of the folder part of P ("." when none) into OUT. */
static bool folder_of(const char *p, char out[PATH_MAX])
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", p);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    return realpath(dir, out) != NULL;
}

/* The backing name to record: readers resolve a relative name from the
 * overlay's folder, while ARG was given relative to the current one. Kept
 * as given when that is the same thing, the parent's bare name when it sits
 * next to the overlay, else made absolute. */
static int backing_name_for(const char *path, const char *arg, char *out, size_t len,
                            struct vd_error **errp)
{
    char odir[PATH_MAX], pdir[PATH_MAX];
    const char *slash = strrchr(arg, '/');
    const char *base = slash ? slash + 1 : arg;
    if (arg[0] == '/' || !strchr(path, '/')) {
        snprintf(out, len, "%s", arg);
        return 0;
    }
    if (!folder_of(path, odir))
        return vd_error_set_errno(errp, -errno, "cannot resolve the folder of '%s'", path);
    if (!folder_of(arg, pdir))
        return vd_error_set_errno(errp, -errno, "cannot resolve the folder of '%s'", arg);
    if (strcmp(odir, pdir) == 0)
        snprintf(out, len, "%s", base);
    else if ((size_t)snprintf(out, len, "%s/%s", strcmp(pdir, "/") ? pdir : "", base) >= len)
        return vd_error_set(errp, -ENAMETOOLONG, "the backing file name '%s/%s' is too long",
                            pdir, base);
    return 0;
}

static const char *qemu_format_name(const char *name)
{
    return strcmp(name, "vhd") == 0 ? "vpc" : name;   /* QEMU's name for VHD */
}

/* What create makes of ARGS: the version, cluster size and the layout of
 * the metadata it writes (cluster 0 header, then the refcount table, its
 * first blocks, the L1 table). Shared with measure. */
struct create_plan {
    uint32_t version;
    bool zstd, lazy;
    uint64_t size, cs, l1_size, rt_clusters, nrb;
    uint64_t rt_off, rb_off, l1_off, end;
    unsigned bits;
};

static int make_plan(const struct vd_create_args *args, struct create_plan *p,
                     struct vd_error **errp)
{
    const struct vd_options *o = args->opts;
    const char *v;
    uint32_t version = 3;
    if ((v = vd_options_get(o, "compat"))) {
        if (strcmp(v, "1.1") == 0 || strcmp(v, "v3") == 0)
            version = 3;
        else if (strcmp(v, "0.10") == 0 || strcmp(v, "v2") == 0)
            version = 2;
        else
            return vd_error_set(errp, -EINVAL, "qcow2 compat must be 1.1 or 0.10, not '%s'", v);
    }
    uint64_t cs = 65536;
    if ((v = vd_options_get(o, "cluster_size")) &&
        (parse_size_opt(v, &cs) < 0 || cs < 512 || cs > (2u << 20) || (cs & (cs - 1))))
        return vd_error_set(errp, -EINVAL, "qcow2 cluster_size must be a power of two from "
                            "512 to 2M, not '%s'", v);
    bool zstd = false;
    if ((v = vd_options_get(o, "compression_type"))) {
        if (strcmp(v, "zstd") == 0)
            zstd = true;
        else if (strcmp(v, "zlib") != 0)
            return vd_error_set(errp, -EINVAL, "qcow2 compression_type must be zlib or zstd, "
                                "not '%s'", v);
        if (zstd && version < 3)
            return vd_error_set(errp, -EINVAL, "qcow2 compression_type=zstd needs compat=1.1");
    }
    bool lazy = false;
    if ((v = vd_options_get(o, "lazy_refcounts"))) {
        if (strcmp(v, "on") && strcmp(v, "off"))
            return vd_error_set(errp, -EINVAL, "qcow2 lazy_refcounts must be on or off, not "
                                "'%s'", v);
        lazy = strcmp(v, "on") == 0;
        if (lazy && version < 3)
            return vd_error_set(errp, -EINVAL, "qcow2 lazy_refcounts=on needs compat=1.1");
    }
    uint64_t size = (args->size + 511) / 512 * 512;
    if (size > QCOW2_MAX_SIZE / 2)
        return vd_error_set(errp, -EFBIG, "qcow2 size %llu is too large",
                            (unsigned long long)args->size);

    unsigned bits = 0;
    while ((1ull << bits) < cs)
        bits++;
    uint64_t l2_entries = cs / 8, per_rb = cs * 8 / 16;
    uint64_t l1_size = (size + (l2_entries << bits) - 1) / (l2_entries << bits);
    if (l1_size * 8 > QCOW2_MAX_L1_BYTES)
        return vd_error_set(errp, -EFBIG, "qcow2 size %llu needs too large an L1 table with "
                            "%llu-byte clusters", (unsigned long long)size,
                            (unsigned long long)cs);
    uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs;
    /* The refcount table covers the fully allocated image with room to
     * spare (overwritten compressed clusters are not reused), so it never
     * has to grow. */
    uint64_t total = 1 + l1_clusters + l1_size + (size + cs - 1) / cs;
    total += total / 4 + 64;
    uint64_t rbs = (total + per_rb - 1) / per_rb + 1;
    uint64_t rt_clusters = ((total + rbs + per_rb - 1) / per_rb * 8 + cs - 1) / cs;
    if (rt_clusters * cs > QCOW2_MAX_RT_BYTES)
        rt_clusters = QCOW2_MAX_RT_BYTES / cs;

    /* Cluster 0 header, then the refcount table, its first blocks, L1. */
    uint64_t rt_off = cs, fixed = 1 + rt_clusters + l1_clusters;
    uint64_t nrb = (fixed + 1 + per_rb - 1) / per_rb;
    while ((fixed + nrb + per_rb - 1) / per_rb > nrb)
        nrb++;
    if (nrb > rt_clusters * cs / 8)
        return vd_error_set(errp, -EFBIG, "qcow2 size %llu is too large for %llu-byte "
                            "clusters", (unsigned long long)size, (unsigned long long)cs);
    uint64_t rb_off = rt_off + rt_clusters * cs;
    uint64_t l1_off = rb_off + nrb * cs;
    uint64_t end = l1_off + l1_clusters * cs;
    *p = (struct create_plan){ .version = version, .zstd = zstd, .lazy = lazy, .size = size, .cs = cs,
                               .l1_size = l1_size, .rt_clusters = rt_clusters, .nrb = nrb,
                               .rt_off = rt_off, .rb_off = rb_off, .l1_off = l1_off,
                               .end = end, .bits = bits };
    return 0;
}

int qcow2_create(const char *path, const struct vd_create_args *args,
                 struct vd_error **errp)
{
    struct create_plan plan = { 0 };
    int pr = make_plan(args, &plan, errp);
    if (pr < 0)
        return pr;
    const struct vd_options *o = args->opts;
    uint32_t version = plan.version;
    bool zstd = plan.zstd;
    uint64_t size = plan.size, cs = plan.cs, l1_size = plan.l1_size;
    uint64_t rt_clusters = plan.rt_clusters, nrb = plan.nrb, rt_off = plan.rt_off;
    uint64_t rb_off = plan.rb_off, l1_off = plan.l1_off, end = plan.end;
    unsigned bits = plan.bits;
    uint64_t per_rb = cs * 8 / 16, nclusters = end / cs;
    const char *bfmt = vd_options_get(o, "backing_fmt");
    if (bfmt && !args->backing)
        return vd_error_set(errp, -EINVAL, "backing_fmt given without a backing file");
    if (args->backing && !bfmt)
        bfmt = qemu_format_name(args->backing->drv->name);
    char bbuf[PATH_MAX];
    const char *bname = NULL;
    if (args->backing) {
        int r = backing_name_for(path, args->backing_arg, bbuf, sizeof(bbuf), errp);
        if (r < 0)
            return r;
        bname = bbuf;
    }
    if (bname && strlen(bname) > QCOW2_MAX_BACKING_NAME)
        return vd_error_set(errp, -EINVAL, "the backing file name is longer than %d bytes",
                            QCOW2_MAX_BACKING_NAME);
    size_t meta = (size_t)(end - cs);
    uint8_t *m = calloc(1, meta);
    uint8_t *hdr = calloc(1, cs);
    if (!m || !hdr) {
        free(m);
        free(hdr);
        return vd_error_set(errp, -ENOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < nrb; i++)
        put_be64(m + i * 8, rb_off + i * cs);
    for (uint64_t c = 0; c < nclusters; c++)
        put_be16(m + (rb_off - cs) + (c / per_rb) * cs + (c % per_rb) * 2, 1);

    put_be32(hdr + Q_H_MAGIC, QCOW2_MAGIC);
    put_be32(hdr + Q_H_VERSION, version);
    put_be32(hdr + Q_H_CLUSTER_BITS, bits);
    put_be64(hdr + Q_H_SIZE, size);
    put_be32(hdr + Q_H_L1_SIZE, (uint32_t)l1_size);
    put_be64(hdr + Q_H_L1_OFF, l1_off);
    put_be64(hdr + Q_H_RT_OFF, rt_off);
    put_be32(hdr + Q_H_RT_CLUSTERS, (uint32_t)rt_clusters);
    size_t pos = QCOW2_V2_HEADER_LEN;
    if (version == 3) {
        put_be64(hdr + Q_H_INCOMPAT, zstd ? QCOW2_INCOMPAT_COMPRESSION : 0);
        put_be64(hdr + Q_H_COMPAT, plan.lazy ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
        put_be32(hdr + Q_H_REFCOUNT_ORDER, 4);
        put_be32(hdr + Q_H_HEADER_LEN, 112);
        hdr[Q_H_COMPRESSION] = zstd ? QCOW2_ZSTD : QCOW2_ZLIB;
        pos = 112;
    }
    if (bfmt) {
        size_t fl = strlen(bfmt);
        if (fl > 64)
            fl = 64;
        put_be32(hdr + pos, QCOW2_EXT_BACKING_FORMAT);
        put_be32(hdr + pos + 4, (uint32_t)fl);
        memcpy(hdr + pos + 8, bfmt, fl);
        pos += 8 + (fl + 7) / 8 * 8;
    }
    pos += 8;   /* end of extensions */
    if (bname) {
        size_t bl = strlen(bname);
        if (pos + bl > cs) {
            free(m);
            free(hdr);
            return vd_error_set(errp, -EINVAL, "the backing file name does not fit in a "
                                "%llu-byte header cluster", (unsigned long long)cs);
        }
        memcpy(hdr + pos, bname, bl);
        put_be64(hdr + Q_H_BACKING_OFF, pos);
        put_be32(hdr + Q_H_BACKING_LEN, (uint32_t)bl);
    }

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int ret = 0;
    if (fd < 0)
        ret = vd_error_set_errno(errp, -errno, "cannot create '%s'", path);
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, m, meta, cs, errp);
    /* The header last: until then the file is no qcow2 image at all. */
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, hdr, cs, 0, errp);
    if (fd >= 0 && close(fd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot close", path);
    free(m);
    free(hdr);
    return ret;
}

/* ---- resize ---- */

static int sync_fd(struct vd_image *img, struct vd_error **errp)
{
    if (fdatasync(img->fd) < 0 && errno != EINVAL)
        return vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    return 0;
}

/* Releases every cluster of guest clusters FIRST_CI and up (to the end of
 * the L1 table), under the lock: entries are cleared before their clusters'
 * refcounts drop, and an L2 table wholly past FIRST_CI is unhooked from the
 * L1 table before it is freed, so a kill leaks at worst. */
static int drop_clusters_from(struct vd_image *img, struct qcow2_state *s, uint64_t first_ci,
                              struct vd_error **errp)
{
    uint8_t *tbl = malloc(s->cluster_size);
    if (!tbl)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = 0;
    for (uint64_t i = first_ci / s->l2_entries; i < s->l1_size && ret == 0; i++) {
        uint64_t e = s->l1[i], l2 = e & QCOW2_OFFSET_MASK;
        if (!l2)
            continue;
        if (!(e & QCOW2_OFLAG_COPIED)) {
            ret = vd_error_set(errp, -ENOTSUP, "%s: L2 table %llu is shared (refcount > 1); "
                               "vdisk does not change shared tables", img->path,
                               (unsigned long long)i);
            break;
        }
        uint64_t j0 = i == first_ci / s->l2_entries ? first_ci % s->l2_entries : 0;
        if ((ret = vd_file_pread(img, tbl, s->cluster_size, l2, errp)) < 0)
            break;
        bool used = false;
        for (uint64_t j = j0; j < s->l2_entries && !used; j++)
            used = get_be64(tbl + j * 8) != 0;
        if (!used && j0)
            continue;
        if (j0 == 0) {
            uint8_t z[8] = { 0 };
            if ((ret = vd_file_pwrite(img, z, 8, s->l1_offset + i * 8, errp)) < 0)
                break;
            __atomic_store_n(&s->l1[i], 0, __ATOMIC_RELEASE);
        } else {
            uint8_t *z = calloc(s->l2_entries - j0, 8);
            if (!z) {
                ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
                break;
            }
            ret = vd_file_pwrite(img, z, (size_t)(s->l2_entries - j0) * 8, l2 + j0 * 8, errp);
            free(z);
        }
        for (uint64_t j = j0; j < s->l2_entries && ret == 0; j++)
            ret = release_entry(img, s, get_be64(tbl + j * 8), errp);
        if (ret == 0 && j0 == 0)
            ret = refcount_add(img, s, l2 >> s->cluster_bits, 1, -1, errp);
    }
    free(tbl);
    return ret;
}

/* The virtual size field, and with a new L1 table its size and place, in
 * one write of the header's bytes 24..47 (the encryption method between
 * them is 0: encrypted images are never opened). */
static int write_size_l1(struct vd_image *img, uint64_t size, uint32_t l1_size,
                         uint64_t l1_off, struct vd_error **errp)
{
    uint8_t h[24];
    put_be64(h, size);
    put_be32(h + 8, 0);
    put_be32(h + 12, l1_size);
    put_be64(h + 16, l1_off);
    return vd_file_pwrite(img, h, sizeof(h), Q_H_SIZE, errp);
}

/* Growing: a bigger L1 table when the new size needs one (written after
 * the end of the file, then the header switches to it, then the old one is
 * freed: a kill leaks at worst). Clusters past the old size that a foreign
 * writer left mapped are dropped first so that the new range reads as
 * zeros (or as the backing file). */
int qcow2_grow(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    if (size > QCOW2_MAX_SIZE)
        return vd_error_set(errp, -EFBIG, "%s: %llu bytes is more than qcow2 can hold",
                            img->path, (unsigned long long)size);
    uint64_t per_l2 = (uint64_t)s->l2_entries << s->cluster_bits;
    uint64_t need = (size + per_l2 - 1) / per_l2;
    if (need * 8 > QCOW2_MAX_L1_BYTES)
        return vd_error_set(errp, -EFBIG, "%s: %llu bytes needs an L1 table of %llu bytes, "
                            "more than QEMU accepts (%u); use bigger clusters", img->path,
                            (unsigned long long)size, (unsigned long long)need * 8,
                            QCOW2_MAX_L1_BYTES);
    uint64_t old = img->size, cs = s->cluster_size;
    pthread_mutex_lock(&s->lock);
    int ret = drop_clusters_from(img, s, (old + cs - 1) >> s->cluster_bits, errp);
    pthread_mutex_unlock(&s->lock);
    /* The rest of a partial last cluster reads as zeros too. */
    if (ret == 0 && old % cs) {
        uint64_t entry, bm, l2;
        ret = qcow2_l2_lookup(img, old >> s->cluster_bits, &entry, &bm, &l2, errp);
        if (ret == 0 && in_place(s, entry)) {
            uint8_t *z = calloc(1, cs - old % cs);
            if (!z)
                ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
            else
                ret = vd_file_pwrite(img, z, cs - old % cs, (entry & QCOW2_OFFSET_MASK) +
                                     old % cs, errp);
            free(z);
        } else if (ret == 0 && entry && !(entry & QCOW2_OFLAG_ZERO)) {
            ret = vd_error_set(errp, -ENOTSUP, "%s: the last cluster is compressed; vdisk "
                               "grows such an image only by whole clusters", img->path);
        }
    }
    if (ret < 0)
        return ret;
    if (need <= s->l1_size) {
        ret = write_size_l1(img, size, s->l1_size, s->l1_offset, errp);
        if (ret == 0)
            img->size = size;
        return ret;
    }
    uint64_t n = (need * 8 + cs - 1) / cs, entries = n * cs / 8;
    if (entries > QCOW2_MAX_L1_BYTES / 8)
        entries = QCOW2_MAX_L1_BYTES / 8;
    uint64_t *l1 = calloc(entries, 8);
    uint8_t *tbl = calloc(n, cs);
    if (!l1 || !tbl) {
        free(l1);
        free(tbl);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    }
    memcpy(l1, s->l1, (size_t)s->l1_size * 8);
    for (uint64_t i = 0; i < entries; i++)
        put_be64(tbl + i * 8, l1[i]);
    uint64_t first = 0;
    pthread_mutex_lock(&s->lock);
    ret = alloc_clusters(img, s, n, &first, errp);
    if (ret == 0)
        ret = vd_file_pwrite(img, tbl, (size_t)(n * cs), first << s->cluster_bits, errp);
    if (ret == 0)
        ret = sync_fd(img, errp);
    if (ret == 0)
        ret = write_size_l1(img, size, (uint32_t)entries, first << s->cluster_bits, errp);
    if (ret == 0)
        ret = sync_fd(img, errp);
    uint64_t old_off = s->l1_offset, old_n = ((uint64_t)s->l1_size * 8 + cs - 1) / cs;
    if (ret == 0) {
        free(s->l1);
        s->l1 = l1;
        l1 = NULL;
        s->l1_size = (uint32_t)entries;
        s->l1_offset = first << s->cluster_bits;
        img->size = size;
        if (old_off && old_n)
            ret = refcount_add(img, s, old_off >> s->cluster_bits, old_n, -1, errp);
    }
    pthread_mutex_unlock(&s->lock);
    free(l1);
    free(tbl);
    return ret;
}

/* Cuts the file after its last cluster in use (refcount above 0), as
 * qemu-img does after a shrink: every table and refcount block counts
 * itself, so nothing past that cluster is referenced. Under the lock. */
static int cut_free_tail(struct vd_image *img, struct qcow2_state *s, struct vd_error **errp)
{
    uint64_t per = per_refblock(s), last = 0;
    uint8_t *blk = malloc(s->cluster_size);
    if (!blk)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = 0;
    bool found = false;
    for (uint64_t r = (s->next_free + per - 1) / per; r-- > 0 && !found && ret == 0;) {
        uint64_t rb = r < s->rt_entries ? s->rt[r] & QCOW2_OFFSET_MASK : 0;
        if (!rb || (ret = vd_file_pread(img, blk, s->cluster_size, rb, errp)) < 0)
            continue;
        for (uint64_t i = per; i-- > 0 && !found;)
            if (r * per + i < s->next_free && qcow2_refcount_get(blk, s->refcount_order, i)) {
                last = r * per + i;
                found = true;
            }
    }
    free(blk);
    if (ret < 0 || !found || last + 1 >= s->next_free)
        return ret;
    if (ftruncate(img->fd, (off_t)((last + 1) << s->cluster_bits)) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot cut the file to %llu bytes",
                                  img->path, (unsigned long long)((last + 1) << s->cluster_bits));
    s->next_free = last + 1;
    __atomic_store_n(&s->file_size, s->next_free << s->cluster_bits, __ATOMIC_RELEASE);
    return 0;
}

/* Shrinking (the core has checked that the dropped tail reads as zeros):
 * the header's size first, then the clusters past it are freed, so that a
 * kill leaves them leaked, never a shorter image whose dropped zeros turned
 * into the backing file's bytes. Then the file is cut after its last
 * cluster in use. */
int qcow2_shrink(struct vd_image *img, uint64_t size, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    int ret = write_size_l1(img, size, s->l1_size, s->l1_offset, errp);
    if (ret == 0)
        ret = sync_fd(img, errp);
    if (ret < 0)
        return ret;
    img->size = size;
    pthread_mutex_lock(&s->lock);
    ret = drop_clusters_from(img, s, (size + s->cluster_size - 1) >> s->cluster_bits, errp);
    if (ret == 0)
        ret = cut_free_tail(img, s, errp);
    pthread_mutex_unlock(&s->lock);
    return ret;
}

/* ---- measure ---- */

/* The clusters of create's layout, then for every cluster of data one
 * cluster, for every L2 table's span with data one table, and the refcount
 * blocks all of those need past the ones create wrote (the writer adds
 * them at the end as the file grows). Compressed output (-c) is smaller. */
static uint64_t clusters_with(const struct create_plan *p, uint64_t data, uint64_t tables)
{
    uint64_t per_rb = p->cs * 8 / 16;
    uint64_t base = p->end / p->cs + data + tables, blocks = p->nrb;
    while ((base + blocks - p->nrb + per_rb - 1) / per_rb > blocks)
        blocks++;
    return base + blocks - p->nrb;
}

int qcow2_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                  uint64_t *full, struct vd_error **errp)
{
    struct create_plan p = { 0 };
    int ret = make_plan(args, &p, errp);
    if (ret < 0)
        return ret;
    uint64_t span = (p.cs / 8) * p.cs;
    uint64_t data = 0, tables = 0;
    if (src && (ret = vd_image_count_data(src, p.cs, &data, errp)) == 0)
        ret = vd_image_count_data(src, span, &tables, errp);
    if (ret < 0)
        return ret;
    *required = clusters_with(&p, data, tables) * p.cs;
    *full = clusters_with(&p, (p.size + p.cs - 1) / p.cs, (p.size + span - 1) / span) * p.cs;
    return 0;
}

/* ---- header rewrite: rebase and amend ---- */

/* What a header rewrite changes: the version (2 or 3; the version 3 fields
 * INCOMPAT, COMPAT as given), and with NAME the backing name and format. */
struct header_change {
    uint32_t version;
    uint64_t incompat, compat;
    const char *name, *fmt;     /* NULL: keep the backing name and format */
};

/* Rewrites the header cluster as C says: the fixed fields of the version,
 * every extension kept as it is (but the backing format when it changes),
 * the end mark and the backing name. One write of the bytes that change (a
 * sector or two: the header's other fields are rewritten unchanged), then
 * a flush. */
static int rewrite_header(struct vd_image *img, struct qcow2_state *s,
                          const struct header_change *c, struct vd_error **errp)
{
    size_t cs = s->cluster_size;
    uint8_t *old = malloc(cs), *hdr = calloc(1, cs);
    if (!old || !hdr) {
        free(old);
        free(hdr);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    }
    int ret = vd_file_pread(img, old, cs, 0, errp);
    size_t start = s->version == 2 ? QCOW2_V2_HEADER_LEN : (size_t)s->header_len;
    size_t nstart = c->version == 2 ? QCOW2_V2_HEADER_LEN
                                    : s->version == 3 ? start : QCOW2_V3_HEADER_LEN + 8;
    size_t end = cs, old_end = start, pos = nstart;
    uint64_t boff = get_be64(old + Q_H_BACKING_OFF);
    uint32_t blen = get_be32(old + Q_H_BACKING_LEN);
    if (boff && boff < end)
        end = (size_t)boff;
    char name[QCOW2_MAX_BACKING_NAME + 1] = "";
    if (ret == 0 && boff && !c->name)
        snprintf(name, sizeof(name), "%.*s", (int)blen, (const char *)old + boff);
    const char *fmt = c->name ? c->fmt : s->backing_format[0] ? s->backing_format : NULL;
    if (c->name)
        snprintf(name, sizeof(name), "%s", c->name);
    if (ret == 0) {
        memcpy(hdr, old, QCOW2_V2_HEADER_LEN);
        if (s->version == 3 && c->version == 3)
            memcpy(hdr, old, start);
        put_be32(hdr + Q_H_VERSION, c->version);
        if (c->version == 3) {
            put_be64(hdr + Q_H_INCOMPAT, c->incompat);
            put_be64(hdr + Q_H_COMPAT, c->compat);
            if (s->version == 2) {
                put_be32(hdr + Q_H_REFCOUNT_ORDER, 4);
                put_be32(hdr + Q_H_HEADER_LEN, (uint32_t)nstart);
            }
        }
    }
    /* The extensions, validated by open already. */
    while (ret == 0 && old_end + 8 <= end) {
        uint32_t type = get_be32(old + old_end), elen = get_be32(old + old_end + 4);
        size_t total = 8 + ((size_t)elen + 7) / 8 * 8;
        if (type == QCOW2_EXT_END || total > end - old_end)
            break;
        if (type != QCOW2_EXT_BACKING_FORMAT && pos + total <= cs) {
            memcpy(hdr + pos, old + old_end, total);
            pos += total;
        } else if (type != QCOW2_EXT_BACKING_FORMAT) {
            ret = vd_error_set(errp, -ENOSPC, "%s: the header does not fit in its %zu-byte "
                               "cluster", img->path, cs);
        }
        old_end += total;
    }
    old_end += 8;
    if (boff && boff + blen > old_end)
        old_end = (size_t)(boff + blen);
    size_t fl = fmt ? strlen(fmt) : 0, nl = strlen(name);
    if (ret == 0 && pos + (fl ? 8 + (fl + 7) / 8 * 8 : 0) + 8 + nl > cs)
        ret = vd_error_set(errp, -ENAMETOOLONG, "%s: the header and the backing file name "
                           "'%s' do not fit in the %zu-byte header cluster", img->path, name,
                           cs);
    if (ret == 0) {
        if (fl) {
            put_be32(hdr + pos, QCOW2_EXT_BACKING_FORMAT);
            put_be32(hdr + pos + 4, (uint32_t)fl);
            memcpy(hdr + pos + 8, fmt, fl);
            pos += 8 + (fl + 7) / 8 * 8;
        }
        pos += 8;       /* end of extensions (zeros) */
        memcpy(hdr + pos, name, nl);
        put_be64(hdr + Q_H_BACKING_OFF, nl ? pos : 0);
        put_be32(hdr + Q_H_BACKING_LEN, (uint32_t)nl);
        pos += nl;
        size_t len = pos > old_end ? pos : old_end;
        ret = vd_file_pwrite(img, hdr, len < cs ? len : cs, 0, errp);
    }
    if (ret == 0)
        ret = sync_fd(img, errp);
    if (ret == 0) {
        snprintf(s->backing_name, sizeof(s->backing_name), "%s", name);
        snprintf(s->backing_format, sizeof(s->backing_format), "%s", fmt ? fmt : "");
        if (c->version == 3 && s->version == 2)
            s->header_len = nstart;
        s->version = c->version;
        s->incompat = c->version == 3 ? c->incompat : 0;
        s->compat = c->version == 3 ? c->compat : 0;
    }
    free(old);
    free(hdr);
    return ret;
}

/* vdisk rebase: the new backing name and format (as qemu names it). */
int qcow2_set_backing(struct vd_image *img, struct vd_image *parent, const char *parent_arg,
                      struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    char name[QCOW2_MAX_BACKING_NAME + 1];
    int ret = backing_name_for(img->path, parent_arg, name, sizeof(name), errp);
    if (ret < 0)
        return ret;
    struct header_change c = { s->version, s->incompat, s->compat, name,
                               qemu_format_name(parent->drv->name) };
    return rewrite_header(img, s, &c, errp);
}

/* Version 2 has no zero clusters: each becomes what it reads as. With no
 * backing file an unallocated zero cluster is simply unallocated; any
 * other is written as zeros (a new cluster, the old one released). */
static int expand_zero_clusters(struct vd_image *img, struct qcow2_state *s,
                                struct vd_error **errp)
{
    uint8_t *tbl = malloc(s->cluster_size);
    uint8_t *zero = calloc(1, s->cluster_size);
    int ret = tbl && zero ? 0 : vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    bool backing = img->backing_path != NULL;
    for (uint64_t i = 0; i < s->l1_size && ret == 0; i++) {
        uint64_t l2 = s->l1[i] & QCOW2_OFFSET_MASK;
        if (!l2)
            continue;
        if ((ret = vd_file_pread(img, tbl, s->cluster_size, l2, errp)) < 0)
            break;
        for (uint64_t j = 0; j < s->l2_entries && ret == 0; j++) {
            uint64_t e = get_be64(tbl + j * 8), ci = i * s->l2_entries + j;
            if (!(e & QCOW2_OFLAG_ZERO) || (e & QCOW2_OFLAG_COMPRESSED) ||
                ci << s->cluster_bits >= img->size)
                continue;
            if (!backing && !(e & QCOW2_OFFSET_MASK)) {
                uint8_t z[8] = { 0 };
                ret = vd_file_pwrite(img, z, 8, l2 + j * 8, errp);
                continue;
            }
            uint64_t off = ci << s->cluster_bits;
            uint64_t n = img->size - off < s->cluster_size ? img->size - off : s->cluster_size;
            ret = qcow2_pwrite(img, zero, (size_t)n, off, errp);
        }
    }
    free(tbl);
    free(zero);
    return ret;
}

/* vdisk amend: compat (0.10 <-> 1.1, as qemu-img amend) and lazy_refcounts.
 * Going down, the image must need nothing version 3 alone has: no feature
 * bits, 16-bit refcounts; its zero clusters are expanded first, then the
 * header switches in one write (killed before, it is the same image in
 * version 3). Every other option is fixed at creation. */
int qcow2_amend(struct vd_image *img, const struct vd_options *opts, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    const char *compat = NULL, *lazy = NULL;
    for (int i = 0; i < opts->count; i++) {
        const char *k = opts->items[i].key, *v = opts->items[i].value;
        if (strcmp(k, "compat") == 0)
            compat = v;
        else if (strcmp(k, "lazy_refcounts") == 0)
            lazy = v;
        else
            return vd_error_set(errp, -EINVAL, "%s: %s cannot change in place (only compat "
                                "and lazy_refcounts can)", img->path, k);
    }
    struct header_change c = { s->version, s->incompat, s->compat, NULL, NULL };
    if (compat) {
        if (strcmp(compat, "1.1") == 0 || strcmp(compat, "v3") == 0)
            c.version = 3;
        else if (strcmp(compat, "0.10") == 0 || strcmp(compat, "v2") == 0)
            c.version = 2;
        else
            return vd_error_set(errp, -EINVAL, "qcow2 compat must be 1.1 or 0.10, not '%s'",
                                compat);
    }
    if (lazy) {
        if (strcmp(lazy, "on") && strcmp(lazy, "off"))
            return vd_error_set(errp, -EINVAL, "qcow2 lazy_refcounts must be on or off, not "
                                "'%s'", lazy);
        if (strcmp(lazy, "on") == 0 && c.version < 3)
            return vd_error_set(errp, -EINVAL, "%s: lazy_refcounts=on needs compat=1.1",
                                img->path);
        if (strcmp(lazy, "on") == 0)
            c.compat |= QCOW2_COMPAT_LAZY_REFCOUNTS;
        else
            c.compat &= ~(uint64_t)QCOW2_COMPAT_LAZY_REFCOUNTS;
    }
    if (c.version == 2 && s->version == 3) {
        /* The dirty bit was repaired by the open. */
        const char *why = s->incompat & QCOW2_INCOMPAT_COMPRESSION ? "it uses zstd compression"
                        : s->incompat ? "it has incompatible features set"
                        : s->refcount_order != 4 ? "its refcounts are not 16 bits wide"
                        : NULL;
        if (why)
            return vd_error_set(errp, -ENOTSUP, "%s: cannot go down to compat=0.10: %s",
                                img->path, why);
        int ret = expand_zero_clusters(img, s, errp);
        if (ret == 0)
            ret = sync_fd(img, errp);
        if (ret < 0)
            return ret;
        c.incompat = c.compat = 0;
    }
    if (c.version == s->version && c.incompat == s->incompat && c.compat == s->compat)
        return 0;
    if (c.version == 3 && s->version == 3) {
        /* Only the feature words change: one write. */
        uint8_t f[16];
        put_be64(f, c.incompat);
        put_be64(f + 8, c.compat);
        int ret = vd_file_pwrite(img, f, sizeof(f), Q_H_INCOMPAT, errp);
        if (ret == 0)
            ret = sync_fd(img, errp);
        if (ret == 0)
            s->compat = c.compat;
        return ret;
    }
    return rewrite_header(img, s, &c, errp);
}
