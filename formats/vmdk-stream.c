/* streamOptimized VMDK writer (Virtual Disk Format 5.0, "Stream-Optimized
 * Compressed Sparse Extents"): after the header and the embedded
 * descriptor, every non-zero grain as a grain marker {LBA, size} and its
 * zlib-deflated bytes, in increasing LBA order; each grain table, behind a
 * GT marker, after the grains it maps; then the grain directory behind a
 * GD marker, a footer marker and footer (the header with the directory's
 * offset) and the end-of-stream marker. The header at sector 0 keeps
 * gdOffset = GD_AT_END, as VMware writes it.
 *
 * The image is opened with sequential_write: pwrite comes in increasing
 * offset order from one thread. Grains are gathered into a batch and
 * compressed on every core at once with libdeflate, then appended in order.
 * A grain that would not compress goes in stored deflate blocks, as zlib
 * would store it, without the compressor's time. */
#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/compressible.h"
#include "formats/vmdk.h"

#define BATCH 64                /* grains compressed together: 4 MiB of 64 KiB grains */
#define MAX_THREADS 16
#define LEVEL 6                 /* zlib's default ratio */

struct vmdk_stream {
    struct vmdk_extent *e;
    uint64_t pos;               /* file offset of the next marker */
    uint64_t min_off;           /* writes below this come too late */
    uint64_t grains;            /* grains in the disk */
    int n;                      /* grains in the batch (the last one may be filling) */
    bool filling;               /* raw[n] is a grain being written */
    uint64_t idx[BATCH];
    uint8_t *raw;               /* BATCH grains */
    uint8_t *out[BATCH];        /* marker + deflated grain + padding */
    size_t out_len[BATCH];      /* 0: an all-zero grain, not stored */
    size_t bound;
    int nthreads;
    struct libdeflate_compressor *comp[MAX_THREADS];
    struct libdeflate_compressor *store[MAX_THREADS];  /* level 0: stored blocks */
    int next_job;               /* atomic: next batch slot to compress */
    uint32_t *gd;               /* sector offsets, 0: no table */
    uint32_t gt_group;          /* the table in gt[], UINT32_MAX: none */
    uint32_t gt[VMDK_GT_ENTRIES];
};

struct job {
    struct vmdk_stream *st;
    int slot;
};

void vmdk_stream_free(struct vmdk_stream *st)
{
    if (!st)
        return;
    for (int i = 0; i < BATCH; i++)
        free(st->out[i]);
    for (int i = 0; i < st->nthreads; i++) {
        if (st->comp[i])
            libdeflate_free_compressor(st->comp[i]);
        if (st->store[i])
            libdeflate_free_compressor(st->store[i]);
    }
    free(st->raw);
    free(st->gd);
    free(st);
}

int vmdk_stream_start(struct vd_image *img, struct vmdk_extent *e, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    if (e->gt_entries != VMDK_GT_ENTRIES || !e->markers)
        return vd_error_set(errp, -EINVAL, "%s: a streamOptimized image to write needs "
                            "markers and %u entries per grain table", img->path,
                            VMDK_GT_ENTRIES);
    struct vmdk_stream *st = calloc(1, sizeof(*st));
    if (!st)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    st->e = e;
    st->pos = e->data_end;
    st->grains = (e->length + e->grain - 1) / e->grain;
    st->gt_group = UINT32_MAX;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    st->nthreads = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
    st->bound = (VMDK_GRAIN_MARKER + libdeflate_zlib_compress_bound(NULL, e->grain) +
                 VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    st->raw = malloc((size_t)BATCH * e->grain);
    st->gd = calloc(e->gd_count ? e->gd_count : 1, 4);
    bool ok = st->raw && st->gd;
    for (int i = 0; i < BATCH && ok; i++)
        ok = (st->out[i] = malloc(st->bound)) != NULL;
    for (int i = 0; i < st->nthreads && ok; i++)
        ok = (st->comp[i] = libdeflate_alloc_compressor(LEVEL)) != NULL &&
             (st->store[i] = libdeflate_alloc_compressor(0)) != NULL;
    if (!ok) {
        vmdk_stream_free(st);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory for the stream writer",
                            img->path);
    }
    s->stream = st;
    return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
    return p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

/* Deflates batch slot I into out[i] behind its grain marker. */
static void compress_slot(struct vmdk_stream *st, int slot, int i)
{
    const uint8_t *raw = st->raw + (size_t)i * st->e->grain;
    uint32_t grain = st->e->grain;
    uint64_t left = st->e->length - st->idx[i] * grain;
    size_t len = left < grain ? (size_t)left : grain;
    if (all_zero(raw, len)) {
        st->out_len[i] = 0;
        return;
    }
    uint8_t *o = st->out[i];
    bool worth = vd_compressible(raw, grain, o, st->bound);
    size_t n = libdeflate_zlib_compress(worth ? st->comp[slot] : st->store[slot], raw, grain, o + VMDK_GRAIN_MARKER,
                                        st->bound - VMDK_GRAIN_MARKER);
    put_le64(o, st->idx[i] * (grain / VMDK_SECTOR));
    put_le32(o + 8, (uint32_t)n);
    size_t total = (VMDK_GRAIN_MARKER + n + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    memset(o + VMDK_GRAIN_MARKER + n, 0, total - VMDK_GRAIN_MARKER - n);
    st->out_len[i] = total;     /* n > 0: out[] holds the bound */
}

static void *compress_worker(void *arg)
{
    struct job *j = arg;
    struct vmdk_stream *st = j->st;
    int i;
    while ((i = __atomic_fetch_add(&st->next_job, 1, __ATOMIC_RELAXED)) < st->n)
        compress_slot(st, j->slot, i);
    return NULL;
}

static void put_marker(uint8_t m[VMDK_SECTOR], uint64_t val, uint32_t type)
{
    memset(m, 0, VMDK_SECTOR);
    put_le64(m, val);
    put_le32(m + 12, type);
}

/* The grain table in gt[] behind its marker; the directory points at it. */
static int emit_gt(struct vd_image *img, struct vmdk_stream *st, struct vd_error **errp)
{
    uint8_t buf[VMDK_SECTOR + VMDK_GT_ENTRIES * 4];
    put_marker(buf, VMDK_GT_ENTRIES * 4 / VMDK_SECTOR, VMDK_MARKER_GT);
    for (uint32_t i = 0; i < VMDK_GT_ENTRIES; i++)
        put_le32(buf + VMDK_SECTOR + i * 4, st->gt[i]);
    if ((st->pos + sizeof(buf)) / VMDK_SECTOR > UINT32_MAX)
        return vd_error_set(errp, -EFBIG, "%s: the stream outgrew 32-bit sector offsets",
                            img->path);
    int ret = vd_file_pwrite(img, buf, sizeof(buf), st->pos, errp);
    if (ret < 0)
        return ret;
    st->gd[st->gt_group] = (uint32_t)((st->pos + VMDK_SECTOR) / VMDK_SECTOR);
    st->pos += sizeof(buf);
    return 0;
}

/* Compresses the batch on every core, then appends it in order. */
static int emit_batch(struct vd_image *img, struct vmdk_stream *st, struct vd_error **errp)
{
    if (st->n == 0)
        return 0;
    st->next_job = 0;
    pthread_t tids[MAX_THREADS];
    struct job jobs[MAX_THREADS];
    int started = 0;
    int want = st->nthreads < st->n ? st->nthreads : st->n;
    for (int t = 1; t < want; t++) {
        jobs[t] = (struct job){ st, t };
        if (pthread_create(&tids[started], NULL, compress_worker, &jobs[t]) != 0)
            break;
        started++;
    }
    jobs[0] = (struct job){ st, 0 };
    compress_worker(&jobs[0]);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    int ret = 0;
    for (int i = 0; i < st->n && ret == 0; i++) {
        if (st->out_len[i] == 0)
            continue;
        uint32_t group = (uint32_t)(st->idx[i] / VMDK_GT_ENTRIES);
        if (group != st->gt_group) {
            if (st->gt_group != UINT32_MAX)
                ret = emit_gt(img, st, errp);
            st->gt_group = group;
            memset(st->gt, 0, sizeof(st->gt));
            if (ret < 0)
                break;
        }
        if ((st->pos + st->out_len[i]) / VMDK_SECTOR > UINT32_MAX)
            return vd_error_set(errp, -EFBIG, "%s: the stream outgrew 32-bit sector offsets",
                                img->path);
        ret = vd_file_pwrite(img, st->out[i], st->out_len[i], st->pos, errp);
        st->gt[st->idx[i] % VMDK_GT_ENTRIES] = (uint32_t)(st->pos / VMDK_SECTOR);
        st->pos += st->out_len[i];
    }
    st->n = 0;
    st->filling = false;
    return ret;
}

int vmdk_stream_write(struct vd_image *img, const void *buf, size_t len, uint64_t off,
                      struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    struct vmdk_stream *st = s->stream;
    uint32_t grain = st->e->grain;
    if (off < st->min_off)
        return vd_error_set(errp, -EINVAL, "%s: a streamOptimized image is written in order: "
                            "offset %llu comes after offset %llu", img->path,
                            (unsigned long long)off, (unsigned long long)st->min_off);
    const uint8_t *p = buf;
    while (len) {
        uint64_t g = off / grain;
        uint32_t in_grain = (uint32_t)(off % grain);
        size_t n = grain - in_grain < len ? grain - in_grain : len;
        if (!st->filling || st->idx[st->n] != g) {
            if (st->filling)
                st->n++;
            if (st->n == BATCH) {
                int ret = emit_batch(img, st, errp);
                if (ret < 0)
                    return ret;
            }
            st->idx[st->n] = g;
            memset(st->raw + (size_t)st->n * grain, 0, grain);
            st->filling = true;
        }
        memcpy(st->raw + (size_t)st->n * grain + in_grain, p, n);
        p += n;
        off += n;
        len -= n;
    }
    st->min_off = off;
    return 0;
}

int vmdk_stream_tail(int fd, const char *path, const uint8_t header[VMDK_SECTOR],
                     const uint32_t *gd, uint32_t gd_count, uint64_t pos,
                     struct vd_error **errp)
{
    size_t gd_bytes = ((size_t)gd_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    size_t total = VMDK_SECTOR + gd_bytes + 3 * VMDK_SECTOR;
    uint8_t *buf = calloc(1, total);
    if (!buf)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    uint8_t *p = buf;
    put_marker(p, gd_bytes / VMDK_SECTOR, VMDK_MARKER_GD);
    p += VMDK_SECTOR;
    for (uint32_t i = 0; gd && i < gd_count; i++)
        put_le32(p + i * 4, gd[i]);
    p += gd_bytes;
    put_marker(p, 1, VMDK_MARKER_FOOTER);
    p += VMDK_SECTOR;
    memcpy(p, header, VMDK_SECTOR);
    put_le64(p + VMDK_H_GD_OFF, pos / VMDK_SECTOR + 1);
    /* The end-of-stream marker is the zeroed last sector. */
    int ret = vd_fd_pwrite(fd, path, buf, total, pos, errp);
    if (ret == 0 && ftruncate(fd, (off_t)(pos + total)) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot set the size", path);
    free(buf);
    return ret;
}

int vmdk_stream_flush(struct vd_image *img, struct vd_error **errp)
{
    struct vmdk_state *s = img->opaque;
    struct vmdk_stream *st = s->stream;
    struct vmdk_extent *e = st->e;
    if (st->filling) {
        st->n++;
        /* The grain is complete now: later writes must start after it. */
        uint64_t after = (st->idx[st->n - 1] + 1) * e->grain;
        if (st->min_off < after)
            st->min_off = after;
    }
    int ret = emit_batch(img, st, errp);
    if (ret < 0)
        return ret;
    /* The tables go after the last grain; a later write continues the
     * stream from here, so they are written again. */
    uint64_t pos = st->pos;
    if (st->gt_group != UINT32_MAX)
        ret = emit_gt(img, st, errp);
    if (ret == 0)
        ret = vmdk_stream_tail(img->fd, img->path, e->header, st->gd, e->gd_count, st->pos,
                               errp);
    st->pos = pos;
    return ret;
}
