/* NTFS: the used clusters are those set in $Bitmap, united with the
 * clusters NTFS itself cannot do without whatever $Bitmap says ($Boot,
 * $MFT's own extents, $MFTMirr, $Bitmap's extents) and with every cluster
 * that an in-use MFT record's non-resident attribute references. Clusters
 * in use but free in $Bitmap are counted as a warning: a damaged bitmap is
 * "oddly common" (ntfs-3g PR #40) and trusting it alone loses data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "formats/fs/fs.h"

#define NTFS_ATTR_END 0xFFFFFFFFu
#define NTFS_ATTR_LIST 0x20u
#define NTFS_ATTR_DATA 0x80u
#define NTFS_FILE_BITMAP 6
#define NTFS_FILE_BADCLUS 8
#define NTFS_MAX_RUNS (1u << 20)
#define NTFS_MAX_LIST (1u << 20)     /* bytes of an attribute list */

struct ntfs_run {
    uint64_t vcn, lcn, len;     /* clusters */
};

struct ntfs_runlist {
    size_t count, capacity;
    struct ntfs_run *r;
    uint64_t data_size;         /* bytes of the attribute's value */
};

struct ntfs {
    const struct vd_fs_source *src;
    uint32_t cluster_size;
    uint32_t record_size;
    uint64_t clusters;
    struct ntfs_runlist mft;
};

static int is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

static int ntfs_probe(const uint8_t *b, size_t len)
{
    return len >= 512 && memcmp(b + 3, "NTFS    ", 8) == 0 && b[510] == 0x55 && b[511] == 0xAA;
}

/* Decodes the mapping pairs in [p, end), which start at VCN, onto the end
 * of RL; every run must lie on the volume. */
static int decode_runs(const struct ntfs *fs, const uint8_t *p, const uint8_t *end, uint64_t vcn,
                       uint64_t rec_off, struct ntfs_runlist *rl, struct vd_error **errp)
{
    int64_t lcn = 0;
    while (p < end && *p) {
        unsigned len_bytes = *p & 0x0F, off_bytes = *p >> 4;
        if (len_bytes == 0 || len_bytes > 8 || off_bytes > 8 || p + 1 + len_bytes + off_bytes > end)
            return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: malformed run list",
                                (unsigned long long)rec_off);
        p++;
        uint64_t n = 0;
        for (unsigned i = 0; i < len_bytes; i++)
            n |= (uint64_t)p[i] << (8 * i);
        p += len_bytes;
        int64_t delta = 0;
        if (off_bytes) {
            uint64_t d = 0;
            for (unsigned i = 0; i < off_bytes; i++)
                d |= (uint64_t)p[i] << (8 * i);
            if (off_bytes < 8 && (p[off_bytes - 1] & 0x80))
                d |= ~(uint64_t)0 << (8 * off_bytes);
            memcpy(&delta, &d, sizeof(delta));
            p += off_bytes;
        }
        /* Sparse runs may span more than the volume (a sparse file can be
         * larger); 2^40 clusters keeps every VCN * cluster size in range. */
        if (n == 0 || n > (1ull << 40) || vcn > (1ull << 40) || (off_bytes && n > fs->clusters))
            return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: run length out of range",
                                (unsigned long long)rec_off);
        if (off_bytes) {
            if ((delta < 0 && (uint64_t)-delta > (uint64_t)lcn) ||
                (delta > 0 && (uint64_t)delta > fs->clusters))
                return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: run outside the volume",
                                    (unsigned long long)rec_off);
            lcn += delta;
            if ((uint64_t)lcn >= fs->clusters || n > fs->clusters - (uint64_t)lcn)
                return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: run outside the volume",
                                    (unsigned long long)rec_off);
            if (rl->count == rl->capacity) {
                size_t cap = rl->capacity ? rl->capacity * 2 : 16;
                if (cap > NTFS_MAX_RUNS)
                    return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: too many runs",
                                        (unsigned long long)rec_off);
                struct ntfs_run *nr = realloc(rl->r, cap * sizeof(*nr));
                if (!nr)
                    return vd_error_set(errp, -ENOMEM, "out of memory for an NTFS run list");
                rl->r = nr;
                rl->capacity = cap;
            }
            rl->r[rl->count++] = (struct ntfs_run){ vcn, (uint64_t)lcn, n };
        }
        vcn += n;   /* a sparse run (no offset) only advances the VCN */
    }
    return 0;
}

/* Reads BYTES at byte OFF of the attribute described by RL; unmapped
 * (sparse) parts read as zeros. */
static int read_runs(const struct ntfs *fs, const struct ntfs_runlist *rl,
                     uint8_t *buf, size_t len, uint64_t off, struct vd_error **errp)
{
    uint64_t cs = fs->cluster_size;
    memset(buf, 0, len);
    for (size_t i = 0; i < rl->count; i++) {
        uint64_t rs = rl->r[i].vcn * cs, re = rs + rl->r[i].len * cs;
        uint64_t s = off > rs ? off : rs, e = off + len < re ? off + len : re;
        if (s >= e)
            continue;
        int ret = fs->src->pread(fs->src->ctx, buf + (s - off), (size_t)(e - s),
                                 rl->r[i].lcn * cs + (s - rs), errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* Checks a FILE record's header and undoes its update sequence fixups. */
static int fixup_record(const struct ntfs *fs, uint8_t *rec, uint64_t where,
                        struct vd_error **errp)
{
    uint32_t size = fs->record_size;
    uint32_t usa_ofs = get_le16(rec + 4), usa_count = get_le16(rec + 6);
    if (memcmp(rec, "FILE", 4) != 0 || usa_count != size / 512 + 1 ||
        usa_ofs < 0x28 || usa_ofs + 2u * usa_count > size)
        return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: bad FILE header",
                            (unsigned long long)where);
    uint16_t usn = get_le16(rec + usa_ofs);
    for (uint32_t i = 1; i < usa_count; i++) {
        uint8_t *tail = rec + i * 512 - 2;
        if (get_le16(tail) != usn)
            return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: torn write (fixup mismatch)",
                                (unsigned long long)where);
        memcpy(tail, rec + usa_ofs + 2 * i, 2);
    }
    return 0;
}

/* The first attribute of REC (at WHERE) of TYPE, unnamed and, when
 * non-resident, starting at VCN: *attr, or NULL when there is none. Only a
 * malformed record is an error. */
static int find_attr(const struct ntfs *fs, const uint8_t *rec, uint64_t where, uint32_t type,
                     uint64_t vcn, const uint8_t **attr, struct vd_error **errp)
{
    uint32_t size = fs->record_size;
    uint32_t in_use = get_le32(rec + 0x18);
    uint32_t off = get_le16(rec + 0x14);
    if (in_use > size)
        in_use = size;
    *attr = NULL;
    while (off + 16 <= in_use) {
        const uint8_t *a = rec + off;
        uint32_t t = get_le32(a), alen = get_le32(a + 4);
        if (t == NTFS_ATTR_END)
            break;
        if (alen < 16 || alen > in_use - off || (alen & 7))
            return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: bad attribute length",
                                (unsigned long long)where);
        if (t == type && a[9] == 0 && (a[8] == 0 || (alen >= 0x40 && get_le64(a + 0x10) == vcn))) {
            *attr = a;
            return 0;
        }
        off += alen;
    }
    return 0;
}

/* Decodes the non-resident part A (of REC at WHERE) of an attribute onto
 * RL; *next_vcn becomes the VCN after it. The part starting at VCN 0 holds
 * the value's size. */
static int decode_part(const struct ntfs *fs, const uint8_t *a, uint64_t where,
                       struct ntfs_runlist *rl, uint64_t *next_vcn, struct vd_error **errp)
{
    uint32_t alen = get_le32(a + 4);
    if (a[8] == 0 || alen < 0x40)
        return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: bad non-resident $DATA",
                            (unsigned long long)where);
    uint32_t roff = get_le16(a + 0x20);
    uint64_t low = get_le64(a + 0x10), high = get_le64(a + 0x18);
    if (roff < 0x40 || roff >= alen || high < low || high >= (1ull << 40))
        return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: bad non-resident $DATA",
                            (unsigned long long)where);
    if (low == 0)
        rl->data_size = get_le64(a + 0x30);
    *next_vcn = high + 1;
    return decode_runs(fs, a + roff, a + alen, low, where, rl, errp);
}

/* The value of the resident attribute A (in the record at WHERE). */
static int resident_value(const uint8_t *a, uint64_t where, const uint8_t **value,
                          uint32_t *len, struct vd_error **errp)
{
    uint32_t alen = get_le32(a + 4);
    uint32_t vlen = alen >= 0x18 ? get_le32(a + 0x10) : 0;
    uint32_t voff = alen >= 0x18 ? get_le16(a + 0x14) : alen + 1;
    if (voff > alen || vlen > alen - voff)
        return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: bad resident value",
                            (unsigned long long)where);
    *value = a + voff;
    *len = vlen;
    return 0;
}

/* An attribute list's value: resident in LIST, or read through its runs
 * into *owned (freed by the caller). */
static int list_value(const struct ntfs *fs, const uint8_t *list, uint64_t where,
                      const uint8_t **value, size_t *len, uint8_t **owned, struct vd_error **errp)
{
    if (list[8] == 0) {
        uint32_t vlen = 0;
        int ret = resident_value(list, where, value, &vlen, errp);
        *len = vlen;
        return ret;
    }
    struct ntfs_runlist runs = { 0 };
    uint64_t next;
    int ret = decode_part(fs, list, where, &runs, &next, errp);
    if (ret == 0 && runs.data_size > NTFS_MAX_LIST)
        ret = vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: attribute list of %llu bytes",
                           (unsigned long long)where, (unsigned long long)runs.data_size);
    if (ret == 0 && !(*owned = malloc((size_t)runs.data_size + 1)))
        ret = vd_error_set(errp, -ENOMEM, "out of memory for an NTFS attribute list");
    if (ret == 0)
        ret = read_runs(fs, &runs, *owned, (size_t)runs.data_size, 0, errp);
    free(runs.r);
    *value = *owned;
    *len = (size_t)runs.data_size;
    return ret;
}

/* The run list of record RECNO's unnamed $DATA (REC at WHERE) when an
 * attribute list spreads it over several records, as it does for a
 * fragmented $MFT or $Bitmap: the list names the record of each part, in
 * VCN order. Other records are read through fs->mft; for $MFT itself that
 * is RL as far as it goes, and NTFS keeps $MFT's extension records in its
 * first part. */
static int data_from_list(const struct ntfs *fs, const uint8_t *rec, uint64_t recno,
                          uint64_t where, const uint8_t *list, struct ntfs_runlist *rl,
                          struct vd_error **errp)
{
    const uint8_t *value = NULL;
    size_t len = 0;
    uint8_t *owned = NULL, *ext = malloc(fs->record_size);
    int ret = ext ? list_value(fs, list, where, &value, &len, &owned, errp)
                  : vd_error_set(errp, -ENOMEM, "out of memory reading $MFT");
    uint64_t next_vcn = 0;
    for (size_t off = 0; ret == 0 && off + 0x1A <= len;) {
        const uint8_t *e = value + off;
        uint32_t elen = get_le16(e + 4);
        if (elen < 0x1A || elen > len - off) {
            ret = vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: bad attribute list entry",
                               (unsigned long long)where);
            break;
        }
        off += elen;
        if (get_le32(e) != NTFS_ATTR_DATA || e[6] != 0)
            continue;
        uint64_t vcn = get_le64(e + 8), ref = get_le64(e + 0x10) & 0xFFFFFFFFFFFFull;
        const uint8_t *part_rec = rec, *a;
        uint64_t part_where = where;
        if (vcn != next_vcn) {
            ret = vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: attribute list skips VCN %llu",
                               (unsigned long long)where, (unsigned long long)next_vcn);
            break;
        }
        if (ref != recno) {
            part_where = ref * fs->record_size;
            if (ref >= fs->mft.data_size / fs->record_size) {
                ret = vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: attribute list names record %llu, past $MFT",
                                   (unsigned long long)where, (unsigned long long)ref);
                break;
            }
            ret = read_runs(fs, &fs->mft, ext, fs->record_size, part_where, errp);
            if (ret == 0)
                ret = fixup_record(fs, ext, part_where, errp);
            if (ret == 0 && (get_le64(ext + 0x20) & 0xFFFFFFFFFFFFull) != recno)
                ret = vd_error_set(errp, -EUCLEAN, "NTFS record %llu: not an extension of record %llu",
                                   (unsigned long long)ref, (unsigned long long)recno);
            part_rec = ext;
        }
        if (ret == 0)
            ret = find_attr(fs, part_rec, part_where, NTFS_ATTR_DATA, vcn, &a, errp);
        if (ret == 0 && (!a || a[8] == 0))
            ret = vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: no $DATA part at VCN %llu",
                               (unsigned long long)part_where, (unsigned long long)vcn);
        if (ret == 0)
            ret = decode_part(fs, a, part_where, rl, &next_vcn, errp);
    }
    if (ret == 0 && next_vcn * fs->cluster_size < rl->data_size)
        ret = vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: $DATA runs end before its size",
                           (unsigned long long)where);
    free(owned);
    free(ext);
    return ret;
}

/* Finds the unnamed $DATA attribute of record RECNO (REC, at WHERE) and
 * decodes it into RL (a resident value is returned through *resident and
 * *resident_len), following its attribute list if it has one. */
static int find_data(const struct ntfs *fs, const uint8_t *rec, uint64_t recno, uint64_t where,
                     struct ntfs_runlist *rl, const uint8_t **resident,
                     uint32_t *resident_len, struct vd_error **errp)
{
    const uint8_t *a;
    int ret = find_attr(fs, rec, where, NTFS_ATTR_LIST, 0, &a, errp);
    if (ret < 0)
        return ret;
    if (a)
        return data_from_list(fs, rec, recno, where, a, rl, errp);
    ret = find_attr(fs, rec, where, NTFS_ATTR_DATA, 0, &a, errp);
    if (ret < 0)
        return ret;
    if (!a)
        return vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: no $DATA attribute",
                            (unsigned long long)where);
    if (a[8] == 0)
        return resident_value(a, where, resident, resident_len, errp);
    uint64_t next_vcn;
    return decode_part(fs, a, where, rl, &next_vcn, errp);
}

static int add_runs(const struct ntfs *fs, struct vd_fs_map *map,
                    const struct ntfs_runlist *rl, struct vd_error **errp)
{
    for (size_t i = 0; i < rl->count; i++) {
        int ret = vd_fs_map_add(map, rl->r[i].lcn * fs->cluster_size,
                                rl->r[i].len * fs->cluster_size, fs->src->size, errp);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int bit_set(const uint8_t *bm, uint64_t c) { return bm[c >> 3] >> (c & 7) & 1; }

/* Adds RL's runs to MAP, counting the clusters $Bitmap calls free. */
static int add_checked_runs(const struct ntfs *fs, struct vd_fs_map *map,
                            const struct ntfs_runlist *rl, const uint8_t *bitmap,
                            uint64_t *missing, struct vd_error **errp)
{
    for (size_t i = 0; i < rl->count; i++)
        for (uint64_t c = rl->r[i].lcn; c < rl->r[i].lcn + rl->r[i].len; c++)
            *missing += !bit_set(bitmap, c);
    return add_runs(fs, map, rl, errp);
}

/* Every in-use record of $MFT: the clusters its non-resident attributes
 * reference. A damaged record is skipped (its clusters are then only
 * captured if $Bitmap has them); only read errors fail. */
static int walk_mft(const struct ntfs *fs, struct vd_fs_map *map, const uint8_t *bitmap,
                    uint64_t *missing, uint64_t *damaged, struct vd_error **errp)
{
    uint64_t total = fs->mft.data_size, rs = fs->record_size;
    uint64_t limit = fs->clusters * fs->cluster_size;
    size_t block = 1u << 20;        /* a multiple of any record size */
    uint8_t *buf = malloc(block);
    struct ntfs_runlist rl = { 0 };
    int ret = 0;
    if (!buf)
        return vd_error_set(errp, -ENOMEM, "out of memory reading $MFT");
    if (total > limit)
        total = limit;
    for (uint64_t off = 0; off < total && ret == 0; off += block) {
        size_t len = total - off < block ? (size_t)(total - off) : block;
        len -= len % rs;
        if (len == 0 || (ret = read_runs(fs, &fs->mft, buf, len, off, errp)) < 0)
            break;
        for (size_t r = 0; r < len && ret == 0; r += rs) {
            uint8_t *rec = buf + r;
            if (memcmp(rec, "FILE", 4) != 0 || !(get_le16(rec + 0x16) & 1))
                continue;   /* never used, or deleted */
            if ((off + r) / rs == NTFS_FILE_BADCLUS)
                continue;   /* its $Bad stream maps the clusters NOT to read */
            struct vd_error *rerr = NULL;
            if (fixup_record(fs, rec, off + r, &rerr) < 0) {
                vd_error_free(rerr);
                (*damaged)++;
                continue;
            }
            uint32_t in_use = get_le32(rec + 0x18), aoff = get_le16(rec + 0x14);
            if (in_use > rs)
                in_use = (uint32_t)rs;
            while (aoff + 16 <= in_use && ret == 0) {
                const uint8_t *a = rec + aoff;
                uint32_t type = get_le32(a), alen = get_le32(a + 4);
                if (type == NTFS_ATTR_END)
                    break;
                if (alen < 16 || alen > in_use - aoff || (alen & 7)) {
                    (*damaged)++;
                    break;
                }
                uint32_t roff = alen >= 0x40 ? get_le16(a + 0x20) : 0;
                if (a[8] && roff >= 0x40 && roff < alen) {
                    rl.count = 0;
                    if (decode_runs(fs, a + roff, a + alen, 0, off + r, &rl, &rerr) < 0) {
                        vd_error_free(rerr);
                        rerr = NULL;
                        (*damaged)++;
                    } else {
                        ret = add_checked_runs(fs, map, &rl, bitmap, missing, errp);
                    }
                }
                aoff += alen;
            }
        }
    }
    free(rl.r);
    free(buf);
    return ret;
}

static int ntfs_map(const struct vd_fs_source *src, struct vd_fs_map *map,
                    struct vd_error **errp)
{
    uint8_t b[512];
    int ret = src->pread(src->ctx, b, sizeof(b), 0, errp);
    if (ret < 0)
        return ret;
    struct ntfs fs = { .src = src };
    uint32_t bps = get_le16(b + 0x0B);
    uint32_t spc = b[0x0D] > 0x80 ? 1u << (256 - b[0x0D] > 31 ? 31 : 256 - b[0x0D]) : b[0x0D];
    int8_t cpr = (int8_t)b[0x40];
    uint64_t total = get_le64(b + 0x28), mft_lcn = get_le64(b + 0x30);
    uint64_t mirr_lcn = get_le64(b + 0x38);
    uint64_t cs = (uint64_t)bps * spc;
    if (bps < 256 || bps > 4096 || !is_pow2(bps) || !is_pow2(spc) || cs > (2u << 20))
        return vd_error_set(errp, -EUCLEAN, "NTFS boot sector at offset 0: bad cluster geometry");
    uint64_t rs = cpr > 0 ? (uint64_t)cpr * cs : cpr < 0 && cpr > -31 ? 1ull << -cpr : 0;
    if (rs < 512 || rs > 65536 || !is_pow2(rs))
        return vd_error_set(errp, -EUCLEAN, "NTFS boot sector at offset 0: bad MFT record size");
    if (total == 0 || total > src->size / bps)
        return vd_error_set(errp, -EUCLEAN, "NTFS boot sector at offset 0: %llu sectors do not fit the volume",
                            (unsigned long long)total);
    fs.cluster_size = (uint32_t)cs;
    fs.record_size = (uint32_t)rs;
    fs.clusters = total * bps / cs;
    if (mft_lcn >= fs.clusters || mirr_lcn >= fs.clusters || fs.clusters < 2)
        return vd_error_set(errp, -EUCLEAN, "NTFS boot sector at offset 0: $MFT outside the volume");
    map->cluster_size = fs.cluster_size;

    uint8_t *rec = malloc(rs);
    struct ntfs_runlist bmrl = { 0 };
    uint8_t *bitmap = NULL;
    if (!rec)
        return vd_error_set(errp, -ENOMEM, "out of memory reading $MFT");
    /* $MFT's own record 0 is found through the boot sector, not the MFT. */
    uint64_t where = mft_lcn * cs;
    if (rs > src->size - where) {
        ret = vd_error_set(errp, -EUCLEAN, "NTFS: $MFT record 0 past the end of the volume");
        goto out;
    }
    const uint8_t *res = NULL;
    uint32_t res_len = 0;
    ret = src->pread(src->ctx, rec, rs, where, errp);
    if (ret == 0)
        ret = fixup_record(&fs, rec, where, errp);
    if (ret == 0)
        ret = find_data(&fs, rec, 0, where, &fs.mft, &res, &res_len, errp);
    if (ret == 0 && res)
        ret = vd_error_set(errp, -EUCLEAN, "NTFS record at offset %llu: resident $MFT data",
                           (unsigned long long)where);
    if (ret < 0)
        goto out;

    /* $Bitmap (record 6) through $MFT's run list. */
    where = NTFS_FILE_BITMAP * rs;
    ret = read_runs(&fs, &fs.mft, rec, rs, where, errp);
    if (ret == 0)
        ret = fixup_record(&fs, rec, where, errp);
    if (ret == 0)
        ret = find_data(&fs, rec, NTFS_FILE_BITMAP, where, &bmrl, &res, &res_len, errp);
    if (ret < 0)
        goto out;
    uint64_t bm_len = (fs.clusters + 7) / 8;
    bitmap = malloc(bm_len);
    if (!bitmap) {
        ret = vd_error_set(errp, -ENOMEM, "out of memory for $Bitmap");
        goto out;
    }
    if (res) {
        if (res_len < bm_len) {
            ret = vd_error_set(errp, -EUCLEAN, "NTFS: $Bitmap shorter than the volume");
            goto out;
        }
        memcpy(bitmap, res, bm_len);
    } else {
        if (bmrl.data_size < bm_len) {
            ret = vd_error_set(errp, -EUCLEAN, "NTFS: $Bitmap shorter than the volume");
            goto out;
        }
        ret = read_runs(&fs, &bmrl, bitmap, bm_len, 0, errp);
        if (ret < 0)
            goto out;
    }

    /* Clusters in use per $Bitmap, in runs. */
    for (uint64_t c = 0; c < fs.clusters && ret == 0;) {
        if ((c & 7) == 0 && c + 8 <= fs.clusters && bitmap[c >> 3] == 0) {
            c += 8;
            continue;
        }
        if (!bit_set(bitmap, c)) {
            c++;
            continue;
        }
        uint64_t start = c;
        while (c < fs.clusters && bit_set(bitmap, c))
            c++;
        ret = vd_fs_map_add(map, start * cs, (c - start) * cs, src->size, errp);
    }
    if (ret < 0)
        goto out;

    /* Check $Bitmap against $MFT's own extents and against what every
     * record references; keep those clusters whatever $Bitmap says. */
    uint64_t missing = 0, mft_missing = 0, damaged = 0;
    ret = add_checked_runs(&fs, map, &fs.mft, bitmap, &mft_missing, errp);
    if (ret == 0)
        ret = walk_mft(&fs, map, bitmap, &missing, &damaged, errp);
    if (mft_missing)
        vd_fs_map_warn(map, "NTFS: %llu clusters of $MFT are free in $Bitmap; kept them",
                       (unsigned long long)mft_missing);
    else if (missing)
        vd_fs_map_warn(map, "NTFS: %llu clusters in use by files are free in $Bitmap; kept them",
                       (unsigned long long)missing);
    if (damaged)
        vd_fs_map_warn(map, "NTFS: %llu damaged MFT records or attributes skipped",
                       (unsigned long long)damaged);
    if (ret == 0)
        ret = add_runs(&fs, map, &bmrl, errp);
    if (ret == 0)   /* $Boot: 8 KiB of boot code whatever the cluster size */
        ret = vd_fs_map_add(map, 0, cs > 8192 ? cs : 8192, src->size, errp);
    if (ret == 0)
        ret = vd_fs_map_add(map, mirr_lcn * cs, (4 * rs + cs - 1) / cs * cs, src->size, errp);
    if (ret == 0)   /* past the last cluster: the backup boot sector */
        ret = vd_fs_map_add(map, fs.clusters * cs, src->size, src->size, errp);
out:
    free(bitmap);
    free(bmrl.r);
    free(fs.mft.r);
    free(rec);
    return ret;
}

const struct vd_fs_driver vd_fs_ntfs = {
    .name = "ntfs",
    .probe = ntfs_probe,
    .map = ntfs_map,
};
