/* qcow2 versions 2 and 3: probe, open, read, block status, info. Writing
 * is in qcow2-write.c, the structural check in qcow2-check.c.
 *
 * Guest cluster CI is found through the L1 table (kept in memory) and an L2
 * table read from the file for each request, so that there is no cache to
 * keep coherent between threads. Read: normal, zero, compressed (zlib and
 * zstd) and unallocated clusters, extended L2 entries (32 subclusters per
 * cluster), external data files, backing files of any format. Encrypted
 * images are refused by name. Internal snapshots are listed by info. */
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
#include "formats/qcow2.h"

/* ---- probe ---- */

static int qcow2_probe(const struct vd_probe *p)
{
    if (p->head_len < QCOW2_V2_HEADER_LEN || get_be32(p->head) != QCOW2_MAGIC)
        return 0;
    uint32_t version = get_be32(p->head + Q_H_VERSION);
    return version == 2 || version == 3 ? 100 : 60;
}

/* ---- shared helpers ---- */

uint64_t qcow2_refcount_get(const uint8_t *block, uint32_t order, uint64_t index)
{
    switch (order) {
    case 0: return (block[index / 8] >> (index % 8)) & 1;
    case 1: return (block[index / 4] >> (2 * (index % 4))) & 3;
    case 2: return (block[index / 2] >> (4 * (index % 2))) & 15;
    case 3: return block[index];
    case 4: return get_be16(block + 2 * index);
    case 5: return get_be32(block + 4 * index);
    default: return get_be64(block + 8 * index);
    }
}

void qcow2_refcount_set(uint8_t *block, uint32_t order, uint64_t index, uint64_t value)
{
    unsigned shift;
    switch (order) {
    case 0: case 1: case 2: {
        unsigned bits = 1u << order, per = 8 / bits;
        shift = bits * (unsigned)(index % per);
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << shift);
        block[index / per] = (uint8_t)((block[index / per] & ~mask) | ((value << shift) & mask));
        break;
    }
    case 3: block[index] = (uint8_t)value; break;
    case 4: put_be16(block + 2 * index, (uint16_t)value); break;
    case 5: put_be32(block + 4 * index, (uint32_t)value); break;
    default: put_be64(block + 8 * index, value); break;
    }
}

int qcow2_decompress(enum qcow2_compression type, const uint8_t *in, size_t in_len,
                     uint8_t *out, size_t out_len)
{
    if (type == QCOW2_ZSTD) {
        ZSTD_DCtx *dctx = ZSTD_createDCtx();
        if (!dctx)
            return -ENOMEM;
        ZSTD_inBuffer ib = { in, in_len, 0 };
        ZSTD_outBuffer ob = { out, out_len, 0 };
        int ret = 0;
        /* QEMU writes one frame, maybe without a content size: stream it
         * until the cluster is full. */
        while (ob.pos < ob.size) {
            size_t r = ZSTD_decompressStream(dctx, &ob, &ib);
            if (ZSTD_isError(r)) {
                ret = -EIO;
                break;
            }
            if (ib.pos == ib.size && ob.pos < ob.size && r != 0) {
                ret = -EIO;     /* input ran out mid-frame */
                break;
            }
            if (r == 0 && ob.pos < ob.size) {
                ret = -EIO;     /* frame ended short of a cluster */
                break;
            }
        }
        ZSTD_freeDCtx(dctx);
        return ret;
    }
    z_stream z = { 0 };
    if (inflateInit2(&z, -12) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int r = inflate(&z, Z_FINISH);
    /* The sector-rounded input holds garbage after the stream's end, and
     * QEMU accepts a stream that filled the cluster without its end mark. */
    int ret = (r == Z_STREAM_END || (r == Z_BUF_ERROR && z.avail_out == 0)) &&
              z.avail_out == 0 ? 0 : -EIO;
    inflateEnd(&z);
    return ret;
}

void qcow2_compressed_extent(const struct qcow2_state *s, uint64_t l2, uint64_t *off,
                             uint64_t *len)
{
    unsigned x = 62 - (s->cluster_bits - 8);
    *off = l2 & ((1ull << x) - 1);
    uint64_t sectors = ((l2 >> x) & ((1ull << (s->cluster_bits - 8)) - 1)) + 1;
    *len = sectors * 512 - (*off & 511);
}

/* ---- header ---- */

static int parse_extensions(struct qcow2_state *s, const uint8_t *buf, size_t len,
                            const char *path, struct vd_error **errp)
{
    size_t end = len < s->cluster_size ? len : s->cluster_size;
    size_t pos = s->version == 2 ? QCOW2_V2_HEADER_LEN : (size_t)s->header_len;
    /* v2 images may hold the backing name right after the header, with no
     * extension area: stop at the name. */
    uint64_t boff = get_be64(buf + Q_H_BACKING_OFF);
    if (boff && boff < end)
        end = (size_t)boff;
    while (pos + 8 <= end) {
        uint32_t type = get_be32(buf + pos), elen = get_be32(buf + pos + 4);
        if (type == QCOW2_EXT_END)
            return 0;
        if (elen > end - pos - 8)
            return vd_error_set(errp, -EINVAL, "%s: header extension 0x%08x at offset %zu "
                                "runs past the header cluster", path, type, pos);
        const uint8_t *d = buf + pos + 8;
        switch (type) {
        case QCOW2_EXT_BACKING_FORMAT:
            snprintf(s->backing_format, sizeof(s->backing_format), "%.*s",
                     (int)(elen < sizeof(s->backing_format) ? elen : sizeof(s->backing_format) - 1),
                     (const char *)d);
            break;
        case QCOW2_EXT_CRYPTO:
            return vd_error_set(errp, -ENOTSUP, "%s: encrypted qcow2 image (LUKS): vdisk does "
                                "not read encrypted images", path);
        case QCOW2_EXT_DATA_FILE:
            free(s->data_path);
            s->data_path = malloc(elen + 1);
            if (!s->data_path)
                return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
            memcpy(s->data_path, d, elen);
            s->data_path[elen] = '\0';
            break;
        default:
            break;
        }
        pos += 8 + ((size_t)elen + 7) / 8 * 8;
    }
    return 0;
}

int qcow2_parse_header(struct qcow2_state *s, const uint8_t *buf, size_t len,
                       uint64_t file_size, const char *path, struct vd_error **errp)
{
    if (len < QCOW2_V2_HEADER_LEN || get_be32(buf) != QCOW2_MAGIC)
        return vd_error_set(errp, -EINVAL, "%s: no qcow2 magic at offset 0", path);
    s->version = get_be32(buf + Q_H_VERSION);
    if (s->version != 2 && s->version != 3)
        return vd_error_set(errp, -ENOTSUP, "%s: qcow2 version %u at offset 4 (vdisk reads "
                            "versions 2 and 3)", path, s->version);
    s->cluster_bits = get_be32(buf + Q_H_CLUSTER_BITS);
    if (s->cluster_bits < QCOW2_MIN_CLUSTER_BITS || s->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return vd_error_set(errp, -EINVAL, "%s: cluster bits %u at offset 20 (512 B to 2 MiB "
                            "clusters are valid)", path, s->cluster_bits);
    s->cluster_size = 1u << s->cluster_bits;
    s->refcount_order = 4;
    s->header_len = QCOW2_V2_HEADER_LEN;
    if (s->version == 3) {
        if (len < QCOW2_V3_HEADER_LEN)
            return vd_error_set(errp, -EINVAL, "%s: the version 3 header is truncated", path);
        s->incompat = get_be64(buf + Q_H_INCOMPAT);
        s->compat = get_be64(buf + Q_H_COMPAT);
        s->autoclear = get_be64(buf + Q_H_AUTOCLEAR);
        s->refcount_order = get_be32(buf + Q_H_REFCOUNT_ORDER);
        s->header_len = get_be32(buf + Q_H_HEADER_LEN);
        if (s->refcount_order > 6)
            return vd_error_set(errp, -EINVAL, "%s: refcount order %u at offset 96 (at most "
                                "6)", path, s->refcount_order);
        if (s->header_len < QCOW2_V3_HEADER_LEN || s->header_len % 8 ||
            s->header_len > s->cluster_size || s->header_len > len)
            return vd_error_set(errp, -EINVAL, "%s: header length %llu at offset 100 is "
                                "not valid", path, (unsigned long long)s->header_len);
    }
    uint64_t unknown = s->incompat & ~(uint64_t)QCOW2_INCOMPAT_KNOWN;
    if (unknown)
        return vd_error_set(errp, -ENOTSUP, "%s: unknown incompatible qcow2 features 0x%llx "
                            "(offset 72)", path, (unsigned long long)unknown);
    s->compression = QCOW2_ZLIB;
    if (s->incompat & QCOW2_INCOMPAT_COMPRESSION) {
        uint8_t type = s->header_len > Q_H_COMPRESSION ? buf[Q_H_COMPRESSION] : 0xff;
        if (type != QCOW2_ZSTD)
            return vd_error_set(errp, -ENOTSUP, "%s: compression type %u at offset 104 "
                                "(vdisk reads zlib and zstd)", path, type);
        s->compression = QCOW2_ZSTD;
    } else if (s->header_len > Q_H_COMPRESSION && buf[Q_H_COMPRESSION] != QCOW2_ZLIB) {
        return vd_error_set(errp, -EINVAL, "%s: compression type %u without its feature bit",
                            path, buf[Q_H_COMPRESSION]);
    }
    s->ext_l2 = (s->incompat & QCOW2_INCOMPAT_EXTL2) != 0;
    if (s->ext_l2 && s->cluster_bits < 14)
        return vd_error_set(errp, -EINVAL, "%s: extended L2 entries need clusters of at least "
                            "16 KiB, not %u bytes", path, s->cluster_size);
    s->l2_entry_size = s->ext_l2 ? 16 : 8;
    s->l2_entries = s->cluster_size / s->l2_entry_size;
    s->subcluster_size = s->ext_l2 ? s->cluster_size / QCOW2_SUBCLUSTERS : s->cluster_size;

    uint32_t crypt = get_be32(buf + Q_H_CRYPT);
    if (crypt)
        return vd_error_set(errp, -ENOTSUP, "%s: encrypted qcow2 image (%s): vdisk does not "
                            "read encrypted images", path, crypt == 1 ? "AES" :
                            crypt == 2 ? "LUKS" : "unknown method");

    uint64_t boff = get_be64(buf + Q_H_BACKING_OFF);
    uint32_t blen = get_be32(buf + Q_H_BACKING_LEN);
    s->backing_name[0] = '\0';
    if (boff) {
        if (blen == 0 || blen > QCOW2_MAX_BACKING_NAME || boff > s->cluster_size ||
            boff + blen > s->cluster_size || boff + blen > len || boff + blen > file_size)
            return vd_error_set(errp, -EINVAL, "%s: backing file name at offset %llu (%u "
                                "bytes) lies outside the header cluster", path,
                                (unsigned long long)boff, blen);
        memcpy(s->backing_name, buf + boff, blen);
        s->backing_name[blen] = '\0';
        if (strlen(s->backing_name) != blen)
            return vd_error_set(errp, -EINVAL, "%s: the backing file name at offset %llu "
                                "holds a NUL byte", path, (unsigned long long)boff);
    }
    int ret = parse_extensions(s, buf, len, path, errp);
    if (ret < 0)
        return ret;
    if ((s->incompat & QCOW2_INCOMPAT_DATA_FILE) && !s->data_path)
        return vd_error_set(errp, -EINVAL, "%s: external data file feature without the "
                            "file's name (header extension 0x%08x)", path, QCOW2_EXT_DATA_FILE);
    if (!(s->incompat & QCOW2_INCOMPAT_DATA_FILE) && s->data_path) {
        free(s->data_path);
        s->data_path = NULL;
    }
    return 0;
}

/* ---- open ---- */

/* DIR of CHILD + NAME, unless NAME is absolute. */
static char *relative_to(const char *child, const char *name)
{
    if (name[0] == '/')
        return strdup(name);
    const char *slash = strrchr(child, '/');
    size_t dir = slash ? (size_t)(slash - child + 1) : 0;
    char *out = malloc(dir + strlen(name) + 1);
    if (out) {
        memcpy(out, child, dir);
        strcpy(out + dir, name);
    }
    return out;
}

static int read_snapshots(struct vd_image *img, struct qcow2_state *s, const uint8_t *hdr,
                          struct vd_error **errp)
{
    s->nb_snapshots = get_be32(hdr + Q_H_NB_SNAPSHOTS);
    s->snapshots_offset = get_be64(hdr + Q_H_SNAPSHOTS_OFF);
    if (s->nb_snapshots == 0)
        return 0;
    if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS || s->snapshots_offset % s->cluster_size ||
        s->snapshots_offset >= s->file_size)
        return vd_error_set(errp, -EINVAL, "%s: snapshot table (%u entries at offset %llu) "
                            "is not valid", img->path, s->nb_snapshots,
                            (unsigned long long)s->snapshots_offset);
    s->snapshots = calloc(s->nb_snapshots, sizeof(*s->snapshots));
    if (!s->snapshots)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    uint64_t pos = s->snapshots_offset;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        uint8_t e[40];
        int ret = vd_file_pread(img, e, sizeof(e), pos, errp);
        if (ret < 0)
            return ret;
        struct qcow2_snapshot *sn = &s->snapshots[i];
        sn->l1_offset = get_be64(e);
        sn->l1_size = get_be32(e + 8);
        uint16_t id_len = get_be16(e + 12), name_len = get_be16(e + 14);
        sn->date_sec = get_be32(e + 16);
        sn->vm_state_size = get_be32(e + 32);
        uint32_t extra = get_be32(e + 36);
        sn->disk_size = img->size;
        if (extra > 1024)
            return vd_error_set(errp, -EINVAL, "%s: snapshot %u at offset %llu has %u bytes of "
                                "extra data", img->path, i, (unsigned long long)pos, extra);
        uint8_t x[1024];
        if (extra && (ret = vd_file_pread(img, x, extra, pos + 40, errp)) < 0)
            return ret;
        if (extra >= 8)
            sn->vm_state_size = get_be64(x);
        if (extra >= 16)
            sn->disk_size = get_be64(x + 8);
        char *text = malloc((size_t)id_len + name_len + 1);
        if (!text)
            return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
        ret = vd_file_pread(img, text, (size_t)id_len + name_len, pos + 40 + extra, errp);
        if (ret == 0) {
            snprintf(sn->id, sizeof(sn->id), "%.*s", (int)id_len, text);
            snprintf(sn->name, sizeof(sn->name), "%.*s", (int)name_len, text + id_len);
        }
        free(text);
        if (ret < 0)
            return ret;
        pos += 40 + (uint64_t)extra + id_len + name_len;
        pos = (pos + 7) / 8 * 8;
    }
    return 0;
}

/* The disk as internal snapshot img->snapshot (id first, then name) saw
 * it: its L1 table and size instead of the active ones. */
static int select_snapshot(struct vd_image *img, struct qcow2_state *s, struct vd_error **errp)
{
    const struct qcow2_snapshot *sn = NULL;
    for (uint32_t i = 0; i < s->nb_snapshots && !sn; i++)
        if (strcmp(s->snapshots[i].id, img->snapshot) == 0)
            sn = &s->snapshots[i];
    for (uint32_t i = 0; i < s->nb_snapshots && !sn; i++)
        if (strcmp(s->snapshots[i].name, img->snapshot) == 0)
            sn = &s->snapshots[i];
    if (!sn)
        return vd_error_set(errp, -ENOENT, "%s: no internal snapshot with id or name '%s' "
                            "(%u snapshots; 'vdisk info' lists them)", img->path,
                            img->snapshot, s->nb_snapshots);
    if (sn->disk_size > QCOW2_MAX_SIZE)
        return vd_error_set(errp, -EINVAL, "%s: snapshot '%s' has an absurd size %llu",
                            img->path, img->snapshot, (unsigned long long)sn->disk_size);
    s->l1_offset = sn->l1_offset;
    s->l1_size = sn->l1_size;
    img->size = sn->disk_size;
    img->snapshot = NULL;
    return 0;
}

static void qcow2_close(struct vd_image *img)
{
    struct qcow2_state *s = img->opaque;
    free(s->l1);
    free(s->rt);
    free(s->snapshots);
    free(s->data_path);
    s->l1 = NULL;
    s->rt = NULL;
    s->snapshots = NULL;
    s->data_path = NULL;
    if (s->data_fd >= 0)
        close(s->data_fd);
    s->data_fd = -1;
    if (s->lock_ready)
        pthread_mutex_destroy(&s->lock);
    s->lock_ready = false;
}

static int open_data_file(struct vd_image *img, struct qcow2_state *s, struct vd_error **errp)
{
    char *p = relative_to(img->path, s->data_path);
    if (!p)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    free(s->data_path);
    s->data_path = p;
    /* O_NONBLOCK: a name that leads to a FIFO must not hang the open. */
    s->data_fd = open(p, (img->writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
    if (s->data_fd < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot open its external data file '%s'",
                                  img->path, p);
    struct stat st;
    if (fstat(s->data_fd, &st) < 0 || !S_ISREG(st.st_mode))
        return vd_error_set(errp, -EINVAL, "%s: its external data file '%s' is not a regular "
                            "file", img->path, p);
    return 0;
}

/* The parent is probed; a recorded format it does not probe as is refused,
 * not followed: a raw parent whose first bytes (written by its guest) look
 * like another format must not be read as that format. */
static int check_backing_format(struct vd_image *img, const struct qcow2_state *s,
                                struct vd_error **errp)
{
    const char *want = s->backing_format;
    if (!want[0] || !vd_format_known(want))
        return 0;       /* none recorded, or one vdisk does not read: trust the probe */
    const struct vd_format *f = vd_format_find(want);
    if (f == img->backing->drv)
        return 0;
    return vd_error_set(errp, -EINVAL, "%s: its backing file '%s' is recorded as %s but "
                        "probes as %s; refusing to guess", img->path, img->backing->path, want,
                        img->backing->drv->name);
}

static int qcow2_open(struct vd_image *img, unsigned flags, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    s->data_fd = -1;
    struct stat st;
    if (fstat(img->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", img->path);
    s->file_size = (uint64_t)st.st_size;
    if (!S_ISREG(st.st_mode)) {
        off_t end = lseek(img->fd, 0, SEEK_END);
        if (end < 0)
            return vd_error_set_errno(errp, -errno, "%s: cannot get the size", img->path);
        s->file_size = (uint64_t)end;
    }
    if (s->file_size < QCOW2_V2_HEADER_LEN)
        return vd_error_set(errp, -EINVAL, "%s: too short for a qcow2 header", img->path);
    /* The header, its extensions and the backing name lie in cluster 0. */
    size_t hlen = s->file_size < (2u << 20) ? (size_t)s->file_size : (2u << 20);
    uint8_t *hdr = malloc(hlen);
    if (!hdr)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = vd_file_pread(img, hdr, hlen, 0, errp);
    if (ret == 0)
        ret = qcow2_parse_header(s, hdr, hlen, s->file_size, img->path, errp);
    if (ret < 0)
        goto out;
    img->size = get_be64(hdr + Q_H_SIZE);
    if (img->size > QCOW2_MAX_SIZE) {
        ret = vd_error_set(errp, -EINVAL, "%s: absurd virtual size %llu at offset 24",
                           img->path, (unsigned long long)img->size);
        goto out;
    }
    s->l1_size = get_be32(hdr + Q_H_L1_SIZE);
    s->l1_offset = get_be64(hdr + Q_H_L1_OFF);
    if ((ret = read_snapshots(img, s, hdr, errp)) < 0)
        goto out;
    if (img->snapshot && (ret = select_snapshot(img, s, errp)) < 0)
        goto out;
    uint64_t per_l2 = (uint64_t)s->l2_entries << s->cluster_bits;
    uint64_t needed = (img->size + per_l2 - 1) / per_l2;
    if (s->l1_size < needed || (uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        ret = vd_error_set(errp, -EINVAL, "%s: the L1 table has %u entries, but a disk of "
                           "%llu bytes needs %llu (offset 36)", img->path, s->l1_size,
                           (unsigned long long)img->size, (unsigned long long)needed);
        goto out;
    }
    if (s->l1_size && (s->l1_offset % s->cluster_size || s->l1_offset > s->file_size ||
                       (uint64_t)s->l1_size * 8 > s->file_size - s->l1_offset)) {
        ret = vd_error_set(errp, -EINVAL, "%s: the L1 table at offset %llu (%u entries) lies "
                           "outside the file or off a cluster boundary", img->path,
                           (unsigned long long)s->l1_offset, s->l1_size);
        goto out;
    }
    s->rt_offset = get_be64(hdr + Q_H_RT_OFF);
    s->rt_clusters = get_be32(hdr + Q_H_RT_CLUSTERS);
    uint64_t rt_bytes = (uint64_t)s->rt_clusters << s->cluster_bits;
    if (rt_bytes == 0 || rt_bytes > QCOW2_MAX_RT_BYTES || s->rt_offset % s->cluster_size ||
        s->rt_offset > s->file_size || rt_bytes > s->file_size - s->rt_offset) {
        ret = vd_error_set(errp, -EINVAL, "%s: the refcount table at offset %llu (%u clusters) "
                           "lies outside the file or off a cluster boundary", img->path,
                           (unsigned long long)s->rt_offset, s->rt_clusters);
        goto out;
    }
    s->l1 = calloc(s->l1_size ? s->l1_size : 1, 8);
    if (!s->l1) {
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory for the L1 table", img->path);
        goto out;
    }
    if (s->l1_size && (ret = vd_file_pread(img, s->l1, (size_t)s->l1_size * 8, s->l1_offset,
                                           errp)) < 0)
        goto out;
    for (uint32_t i = 0; i < s->l1_size; i++) {
        s->l1[i] = get_be64(&s->l1[i]);
        uint64_t l2 = s->l1[i] & QCOW2_OFFSET_MASK;
        if (l2 && (l2 % s->cluster_size || l2 > s->file_size ||
                   s->file_size - l2 < s->cluster_size)) {
            ret = vd_error_set(errp, -EINVAL, "%s: L1 entry %u points to an L2 table at offset "
                               "%llu outside the file or off a cluster boundary", img->path, i,
                               (unsigned long long)l2);
            goto out;
        }
    }
    s->rt_entries = (uint32_t)(rt_bytes / 8);
    s->rt = malloc(rt_bytes);
    if (!s->rt) {
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory for the refcount table", img->path);
        goto out;
    }
    if ((ret = vd_file_pread(img, s->rt, rt_bytes, s->rt_offset, errp)) < 0)
        goto out;
    for (uint32_t i = 0; i < s->rt_entries; i++)
        s->rt[i] = get_be64(&s->rt[i]);
    if (s->data_path && (ret = open_data_file(img, s, errp)) < 0)
        goto out;
    if (img->writable && (ret = qcow2_open_write(img, s, flags, errp)) < 0)
        goto out;
    if (s->backing_name[0]) {
        img->backing_path = relative_to(img->path, s->backing_name);
        if (!img->backing_path) {
            ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
            goto out;
        }
        /* rebase -u names a new parent: the old one may be gone. */
        if (!(flags & (VD_OPEN_NO_BACKING | VD_OPEN_LOST_BACKING)))
            ret = vd_image_open_backing(img, flags, errp);
        if (ret == 0 && img->backing && (ret = check_backing_format(img, s, errp)) < 0) {
            vd_image_close(img->backing, NULL);
            img->backing = NULL;
        }
    }
out:
    free(hdr);
    if (ret < 0)
        qcow2_close(img);
    return ret;
}

/* ---- lookup ---- */

int qcow2_l2_lookup(struct vd_image *img, uint64_t ci, uint64_t *entry, uint64_t *bitmap,
                    uint64_t *l2_table, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    uint64_t l1i = ci / s->l2_entries;
    *entry = *bitmap = *l2_table = 0;
    if (l1i >= s->l1_size)
        return 0;
    uint64_t l2 = __atomic_load_n(&s->l1[l1i], __ATOMIC_ACQUIRE) & QCOW2_OFFSET_MASK;
    if (!l2)
        return 0;
    *l2_table = l2;
    uint8_t e[16];
    int ret = vd_file_pread(img, e, s->l2_entry_size,
                            l2 + (ci % s->l2_entries) * s->l2_entry_size, errp);
    if (ret < 0)
        return ret;
    *entry = get_be64(e);
    if (s->ext_l2)
        *bitmap = get_be64(e + 8);
    return 0;
}

enum qkind { Q_DATA, Q_ZERO, Q_UNALLOC, Q_COMPRESSED };

struct qrun {
    enum qkind kind;
    uint64_t host;      /* Q_DATA: where the first byte is */
    uint32_t len;       /* bytes from the asked offset to the end of the run */
};

/* What the bytes at IN (inside a cluster) are, given its L2 entry. */
static int classify(struct vd_image *img, const struct qcow2_state *s, uint64_t ci,
                    uint64_t entry, uint64_t bitmap, uint32_t in, struct qrun *r,
                    struct vd_error **errp)
{
    uint64_t host = entry & QCOW2_OFFSET_MASK;
    r->len = s->cluster_size - in;
    if (entry & QCOW2_OFLAG_COMPRESSED) {
        r->kind = Q_COMPRESSED;
        return 0;
    }
    bool data_at_0 = s->data_fd >= 0 && (entry & QCOW2_OFLAG_COPIED);
    if (s->ext_l2) {
        uint32_t sc = in / s->subcluster_size;
        uint32_t alloc = (uint32_t)bitmap, zero = (uint32_t)(bitmap >> 32);
        if (alloc & zero)
            return vd_error_set(errp, -EINVAL, "%s: guest cluster %llu has subclusters both "
                                "allocated and zero (bitmap 0x%016llx)", img->path,
                                (unsigned long long)ci, (unsigned long long)bitmap);
        bool a = alloc >> sc & 1, z = zero >> sc & 1;
        r->kind = a ? Q_DATA : z ? Q_ZERO : Q_UNALLOC;
        uint32_t e = sc + 1;
        while (e < QCOW2_SUBCLUSTERS && (alloc >> e & 1) == a && (zero >> e & 1) == z)
            e++;
        r->len = e * s->subcluster_size - in;
        if (a && !host && !data_at_0)
            return vd_error_set(errp, -EINVAL, "%s: guest cluster %llu has allocated "
                                "subclusters but no host offset", img->path,
                                (unsigned long long)ci);
    } else if (s->version >= 3 && (entry & QCOW2_OFLAG_ZERO)) {
        r->kind = Q_ZERO;
    } else {
        r->kind = host || data_at_0 ? Q_DATA : Q_UNALLOC;
    }
    if (r->kind == Q_DATA) {
        if (host % s->cluster_size)
            return vd_error_set(errp, -EINVAL, "%s: guest cluster %llu maps to host offset "
                                "%llu, off a cluster boundary", img->path,
                                (unsigned long long)ci, (unsigned long long)host);
        r->host = host + in;
    }
    return 0;
}

/* ---- read ---- */

static int read_below(struct vd_image *img, uint8_t *buf, size_t len, uint64_t off,
                      struct vd_error **errp)
{
    struct vd_image *parent = img->backing;
    size_t from_parent = 0;
    if (parent && off < parent->size)
        from_parent = parent->size - off < len ? (size_t)(parent->size - off) : len;
    memset(buf + from_parent, 0, len - from_parent);
    if (!parent && vd_image_backing_path(img) && len)
        return vd_error_set(errp, -EINVAL, "%s: the backing image is not open", img->path);
    return from_parent ? vd_image_pread(parent, buf, from_parent, off, errp) : 0;
}

static int read_data(struct vd_image *img, const struct qcow2_state *s, uint8_t *buf,
                     size_t len, uint64_t host, struct vd_error **errp)
{
    if (s->data_fd >= 0)
        return vd_fd_pread(s->data_fd, s->data_path, buf, len, host, errp);
    return vd_file_pread(img, buf, len, host, errp);
}

static int read_compressed(struct vd_image *img, const struct qcow2_state *s, uint64_t ci,
                           uint64_t entry, uint8_t *cluster, struct vd_error **errp)
{
    uint64_t coff, clen;
    qcow2_compressed_extent(s, entry, &coff, &clen);
    if (s->data_fd >= 0)
        return vd_error_set(errp, -EINVAL, "%s: compressed cluster %llu in an image with an "
                            "external data file", img->path, (unsigned long long)ci);
    uint64_t file_size = __atomic_load_n(&s->file_size, __ATOMIC_ACQUIRE);
    if (coff >= file_size)
        return vd_error_set(errp, -EINVAL, "%s: compressed cluster %llu at offset %llu lies "
                            "beyond the end of the file", img->path, (unsigned long long)ci,
                            (unsigned long long)coff);
    /* The sector count rounds up: the last cluster of a file may end early. */
    if (clen > file_size - coff)
        clen = file_size - coff;
    uint8_t *in = malloc(clen);
    if (!in)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    /* The file may end inside the last sector the entry counts (a writer
     * allocates whole clusters but fills them a compressed cluster at a
     * time): what is there is what there is. */
    size_t got = 0;
    int ret = 0;
    while (got < clen) {
        ssize_t r = pread(img->fd, in + got, clen - got, (off_t)(coff + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = vd_error_set_errno(errp, -errno, "%s: read error at offset %llu", img->path,
                                     (unsigned long long)(coff + got));
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    if (ret == 0 && qcow2_decompress(s->compression, in, got, cluster, s->cluster_size) < 0)
        ret = vd_error_set(errp, -EIO, "%s: compressed cluster %llu at offset %llu does not "
                           "decompress (%s)", img->path, (unsigned long long)ci,
                           (unsigned long long)coff,
                           s->compression == QCOW2_ZSTD ? "zstd" : "zlib");
    free(in);
    return ret;
}

/* LEN bytes at guest OFF, all inside one cluster. */
int qcow2_read_cluster_part(struct vd_image *img, uint64_t off, uint8_t *buf, size_t len,
                            struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    uint64_t ci = off >> s->cluster_bits;
    uint32_t in = (uint32_t)(off & (s->cluster_size - 1));
    uint64_t entry, bitmap, l2;
    int ret = qcow2_l2_lookup(img, ci, &entry, &bitmap, &l2, errp);
    while (ret == 0 && len) {
        struct qrun r = { 0 };
        if ((ret = classify(img, s, ci, entry, bitmap, in, &r, errp)) < 0)
            break;
        size_t n = r.len < len ? r.len : len;
        switch (r.kind) {
        case Q_DATA:
            ret = read_data(img, s, buf, n, r.host, errp);
            break;
        case Q_ZERO:
            memset(buf, 0, n);
            break;
        case Q_UNALLOC:
            ret = read_below(img, buf, n, off, errp);
            break;
        case Q_COMPRESSED: {
            uint8_t *c = malloc(s->cluster_size);
            if (!c)
                return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
            ret = read_compressed(img, s, ci, entry, c, errp);
            if (ret == 0)
                memcpy(buf, c + in, n);
            free(c);
            break;
        }
        }
        buf += n;
        off += n;
        in += (uint32_t)n;
        len -= n;
    }
    return ret;
}

static int qcow2_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                       struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    uint8_t *p = buf;
    while (len) {
        uint32_t in = (uint32_t)(off & (s->cluster_size - 1));
        size_t n = s->cluster_size - in < len ? s->cluster_size - in : len;
        /* Runs of host-contiguous data clusters are read at once. */
        uint64_t ci = off >> s->cluster_bits, entry, bitmap, l2;
        int ret = qcow2_l2_lookup(img, ci, &entry, &bitmap, &l2, errp);
        if (ret < 0)
            return ret;
        struct qrun r = { 0 };
        if ((ret = classify(img, s, ci, entry, bitmap, in, &r, errp)) < 0)
            return ret;
        if (r.kind == Q_DATA && r.len == s->cluster_size - in && n < len) {
            uint64_t host_end = r.host + n;
            while (n < len) {
                uint64_t nci = (off + n) >> s->cluster_bits, ne, nb, nl2;
                if ((ret = qcow2_l2_lookup(img, nci, &ne, &nb, &nl2, errp)) < 0)
                    return ret;
                struct qrun nr;
                if ((ret = classify(img, s, nci, ne, nb, 0, &nr, errp)) < 0)
                    return ret;
                if (nr.kind != Q_DATA || nr.host != host_end)
                    break;
                size_t k = nr.len < len - n ? nr.len : len - n;
                n += k;
                host_end += k;
                if (nr.len != s->cluster_size)
                    break;
            }
            ret = read_data(img, s, p, n, r.host, errp);
        } else {
            ret = qcow2_read_cluster_part(img, off, p, n, errp);
        }
        if (ret < 0)
            return ret;
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* ---- block status ---- */

static int qcow2_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                              struct vd_extent *ext, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    enum vd_extent_kind absent = img->backing_path ? VD_EXTENT_BACKING : VD_EXTENT_UNALLOCATED;
    uint64_t pos = off, end = off + len;
    bool have = false;
    enum vd_extent_kind kind = absent;
    while (pos < end) {
        uint64_t ci = pos >> s->cluster_bits;
        uint32_t in = (uint32_t)(pos & (s->cluster_size - 1));
        uint64_t entry, bitmap, l2;
        int ret = qcow2_l2_lookup(img, ci, &entry, &bitmap, &l2, errp);
        if (ret < 0)
            return ret;
        uint64_t step;
        enum vd_extent_kind k;
        if (!l2) {
            /* No L2 table: the whole L2 range is unallocated. */
            uint64_t span = (uint64_t)s->l2_entries << s->cluster_bits;
            step = span - pos % span;
            k = absent;
        } else {
            struct qrun r = { 0 };
            if ((ret = classify(img, s, ci, entry, bitmap, in, &r, errp)) < 0)
                return ret;
            step = r.len;
            k = r.kind == Q_ZERO ? VD_EXTENT_ZERO : r.kind == Q_UNALLOC ? absent
                                                                        : VD_EXTENT_DATA;
        }
        if (have && k != kind)
            break;
        kind = k;
        have = true;
        pos = end - pos < step ? end : pos + step;
    }
    *ext = (struct vd_extent){ off, pos - off, kind };
    return 0;
}

static int qcow2_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                             uint64_t *file_off, uint64_t *run)
{
    struct qcow2_state *s = img->opaque;
    if (s->data_fd >= 0)
        return -ENOENT;
    uint64_t ci = off >> s->cluster_bits, entry, bitmap, l2;
    uint32_t in = (uint32_t)(off & (s->cluster_size - 1));
    if (qcow2_l2_lookup(img, ci, &entry, &bitmap, &l2, NULL) < 0)
        return -EIO;
    struct qrun r = { 0 };
    if (classify(img, s, ci, entry, bitmap, in, &r, NULL) < 0 || r.kind != Q_DATA)
        return -ENOENT;
    *file_off = r.host;
    *run = r.len < len ? r.len : len;
    if (r.host + *run > __atomic_load_n(&s->file_size, __ATOMIC_ACQUIRE))
        return -ENOENT;
    return 0;
}

static int qcow2_flush(struct vd_image *img, struct vd_error **errp)
{
    struct qcow2_state *s = img->opaque;
    if (s->compress && qcow2_close_arena(img, errp) < 0)
        return -EIO;
    if (fdatasync(img->fd) < 0 && errno != EINVAL)
        return vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    if (s->data_fd >= 0 && fdatasync(s->data_fd) < 0 && errno != EINVAL)
        return vd_error_set_errno(errp, -errno, "%s: cannot flush", s->data_path);
    return 0;
}

/* ---- info ---- */

static void qcow2_info(struct vd_image *img, struct vd_info *info)
{
    struct qcow2_state *s = img->opaque;
    info->cluster_size = s->cluster_size;
    vd_info_add(info, "compat", false, "%s", s->version == 2 ? "0.10" : "1.1");
    vd_info_add(info, "refcount-bits", true, "%u", 1u << s->refcount_order);
    vd_info_add(info, "compression-type", false, "%s",
                s->compression == QCOW2_ZSTD ? "zstd" : "zlib");
    if (s->version >= 3) {
        vd_info_add(info, "lazy-refcounts", false, "%s",
                    s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS ? "true" : "false");
        vd_info_add(info, "extended-l2", false, "%s", s->ext_l2 ? "true" : "false");
    }
    if (s->backing_format[0])
        vd_info_add(info, "backing-format", false, "%s", s->backing_format);
    if (s->data_path)
        vd_info_add(info, "data-file", false, "%s", s->data_path);
    vd_info_add(info, "snapshots", true, "%u", s->nb_snapshots);
    for (uint32_t i = 0; i < s->nb_snapshots && i < 8; i++) {
        char key[32];
        snprintf(key, sizeof(key), "snapshot-%u", i + 1);
        vd_info_add(info, key, false, "id %s, name '%s', disk size %llu, vm state %llu",
                    s->snapshots[i].id, s->snapshots[i].name,
                    (unsigned long long)s->snapshots[i].disk_size,
                    (unsigned long long)s->snapshots[i].vm_state_size);
    }
    if (s->incompat & QCOW2_INCOMPAT_DIRTY)
        vd_info_warn(info, "the dirty bit is set (lazy refcounts, not closed cleanly): "
                     "refcounts need repair ('qemu-img check -r all')");
    if (s->incompat & QCOW2_INCOMPAT_CORRUPT)
        vd_info_warn(info, "the image is marked corrupt by QEMU");
}

static const struct vd_option_desc qcow2_create_options[] = {
    { "compat", "1.1 (default, version 3) or 0.10 (version 2)" },
    { "cluster_size", "cluster size, a power of two from 512 to 2M (default 64K)" },
    { "compression_type", "zlib (default) or zstd, for compressed clusters" },
    { "backing_fmt", "the backing file's format (default: probed)" },
    { "lazy_refcounts", "on or off (default): the compat flag (compat=1.1 only); vdisk "
                        "itself always keeps refcounts exact" },
    { NULL, NULL },
};

const struct vd_format vd_format_qcow2 = {
    .name = "qcow2",
    .description = "QEMU copy-on-write, versions 2 and 3",
    .instance_size = sizeof(struct qcow2_state),
    .differencing = true,
    .compression = true,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .pread = qcow2_pread,
    .pwrite = qcow2_pwrite,
    .write_zeroes = qcow2_write_zeroes,
    .flush = qcow2_flush,
    .grow = qcow2_grow,
    .shrink = qcow2_shrink,
    .set_backing = qcow2_set_backing,
    .block_status = qcow2_block_status,
    .file_extent = qcow2_file_extent,
    .create = qcow2_create,
    .create_options = qcow2_create_options,
    .measure = qcow2_measure,
    .amend = qcow2_amend,
    .info = qcow2_info,
    .check = qcow2_check,
};
