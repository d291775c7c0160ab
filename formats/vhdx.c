/* VHDX fixed, dynamic and differencing (AVHDX) disks, read-only: probe,
 * open (headers, log replay, region table, metadata, BAT, parent chain),
 * read, block status, info, check. Log replay is in vhdx-log.c.
 *
 * Every offset and length read from the file is checked before use; a
 * dirty log is replayed in memory, so opening never writes the file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vhd.h"
#include "formats/vhdx.h"


static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0;
}

/* Canonical text to the stored (mixed-endian) 16 bytes. */
void vhdx_guid_parse(const char *text, uint8_t g[16])
{
    uint8_t b[16];
    int n = 0;
    for (const char *c = text; *c && n < 16; c++) {
        if (*c == '-')
            continue;
        b[n++] = (uint8_t)(hexval(c[0]) << 4 | hexval(c[1]));
        c++;
    }
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        g[i] = b[order[i]];
}

static bool guid_is(const uint8_t *stored, const char *text)
{
    uint8_t g[16];
    vhdx_guid_parse(text, g);
    return memcmp(stored, g, 16) == 0;
}

static bool guid_zero(const uint8_t *g)
{
    static const uint8_t zero[16];
    return memcmp(g, zero, 16) == 0;
}

/* ---- probe ---- */

static int vhdx_probe(const struct vd_probe *p)
{
    return p->head_len >= 8 && memcmp(p->head, "vhdxfile", 8) == 0 ? 100 : 0;
}

/* ---- headers and region table ---- */

static bool header_valid(const uint8_t *h, uint64_t file_size)
{
    if (memcmp(h, "head", 4) != 0 ||
        vhdx_checksum(h, VHDX_HEADER_SIZE, VHDX_H_CHECKSUM) != get_le32(h + VHDX_H_CHECKSUM))
        return false;
    uint32_t log_len = get_le32(h + VHDX_H_LOG_LENGTH);
    uint64_t log_off = get_le64(h + VHDX_H_LOG_OFFSET);
    return get_le16(h + VHDX_H_VERSION) == 1 && get_le16(h + VHDX_H_LOG_VERSION) == 0 &&
           log_len % VHDX_MIB == 0 && log_off % VHDX_MIB == 0 && log_off >= VHDX_MIB &&
           log_off <= file_size && log_len <= file_size - log_off;
}

/* The newest valid header wins; two valid ones with equal sequence numbers
 * (Disk2vhd writes them so) are taken as the same header. */
static int read_headers(int fd, const char *path, struct vhdx_state *s, struct vd_error **errp)
{
    uint8_t h[2][VHDX_HEADER_SIZE];
    bool ok[2];
    for (int i = 0; i < 2; i++) {
        int ret = vd_fd_pread(fd, path, h[i], VHDX_HEADER_SIZE,
                              i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF, errp);
        if (ret < 0)
            return ret;
        ok[i] = header_valid(h[i], s->file_size);
    }
    if (!ok[0] && !ok[1])
        return vd_error_set(errp, -EINVAL, "%s: no valid VHDX header (both copies, at offsets "
                            "%u and %u, are damaged)", path, VHDX_HEADER1_OFF, VHDX_HEADER2_OFF);
    int pick = !ok[0] ? 1 : !ok[1] ? 0
             : get_le64(h[1] + VHDX_H_SEQUENCE) > get_le64(h[0] + VHDX_H_SEQUENCE) ? 1 : 0;
    memcpy(s->header, h[pick], VHDX_HEADER_SIZE);
    s->header_slot = pick;
    return 0;
}

static int parse_region_table(const uint8_t *t, const char *path, uint64_t at,
                              struct vhdx_state *s, struct vd_error **errp)
{
    if (memcmp(t, "regi", 4) != 0 ||
        vhdx_checksum(t, VHDX_REGION_SIZE, 4) != get_le32(t + 4))
        return vd_error_set(errp, -EINVAL, "%s: bad region table at offset %llu (signature "
                            "or checksum)", path, (unsigned long long)at);
    uint32_t count = get_le32(t + 8);
    if (count > VHDX_REGION_MAX)
        return vd_error_set(errp, -EINVAL, "%s: region table at offset %llu has %u entries "
                            "(at most %u)", path, (unsigned long long)at, count, VHDX_REGION_MAX);
    s->bat_off = s->meta_off = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = t + 16 + (size_t)i * 32;
        uint64_t off = get_le64(e + 16);
        uint32_t len = get_le32(e + 24), required = get_le32(e + 28) & 1;
        bool bat = guid_is(e, VHDX_GUID_BAT), meta = guid_is(e, VHDX_GUID_METADATA);
        if (!bat && !meta) {
            if (required)
                return vd_error_set(errp, -ENOTSUP, "%s: region %u of the region table at "
                                    "offset %llu is required but unknown", path, i,
                                    (unsigned long long)at);
            continue;
        }
        if (off % VHDX_MIB || off < VHDX_MIB || len == 0 || len % VHDX_MIB ||
            off > s->file_size || len > s->file_size - off)
            return vd_error_set(errp, -EINVAL, "%s: %s region at offset %llu with length %u "
                                "is outside the file or unaligned", path, bat ? "BAT" : "metadata",
                                (unsigned long long)off, len);
        if (bat) {
            s->bat_off = off;
            s->bat_len = len;
        } else {
            s->meta_off = off;
            s->meta_len = len;
        }
    }
    if (!s->bat_off || !s->meta_off)
        return vd_error_set(errp, -EINVAL, "%s: region table at offset %llu has no %s region",
                            path, (unsigned long long)at, s->bat_off ? "metadata" : "BAT");
    if (s->bat_off < s->meta_off + s->meta_len && s->meta_off < s->bat_off + s->bat_len)
        return vd_error_set(errp, -EINVAL, "%s: the BAT and metadata regions overlap", path);
    return 0;
}

/* The first region table, or its copy when the first is damaged. */
static int read_region_table(int fd, const char *path, struct vhdx_state *s,
                             struct vd_error **errp)
{
    uint8_t *t = malloc(VHDX_REGION_SIZE);
    if (!t)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    int ret = vhdx_file_read(fd, path, s, t, VHDX_REGION_SIZE, VHDX_REGION1_OFF, errp);
    if (ret == 0)
        ret = parse_region_table(t, path, VHDX_REGION1_OFF, s, errp);
    if (ret < 0) {
        struct vd_error *second = NULL;
        int r2 = vhdx_file_read(fd, path, s, t, VHDX_REGION_SIZE, VHDX_REGION2_OFF, &second);
        if (r2 == 0)
            r2 = parse_region_table(t, path, VHDX_REGION2_OFF, s, &second);
        if (r2 == 0) {
            vd_error_clear(errp);
            ret = 0;
        }
        vd_error_free(second);
    }
    free(t);
    return ret;
}

/* ---- metadata ---- */

struct meta_item {
    const char *guid;
    uint32_t min_len;
    uint32_t off, len;      /* within the metadata region; len 0: absent */
};

enum { M_PARAMS, M_SIZE, M_PAGE83, M_LSS, M_PSS, M_PARENT, M_COUNT };

/* "Key" of UTF-16LE KEY_LEN bytes equals ASCII NAME. */
static bool key_is(const uint8_t *key, uint32_t key_len, const char *name)
{
    size_t n = strlen(name);
    if (key_len != n * 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (get_le16(key + 2 * i) != (uint8_t)name[i])
            return false;
    return true;
}

/* Reads the parent locator item (already bounds-checked as a whole):
 * parent_linkage and the three paths, in UTF-8. */
static int parse_locator(const uint8_t *item, uint32_t len, const char *path,
                         char paths[3][1024], struct vhdx_state *s, struct vd_error **errp)
{
    if (len < 20 || !guid_is(item, VHDX_GUID_LOCATOR_TYPE))
        return vd_error_set(errp, -EINVAL, "%s: the parent locator is not of the VHDX type",
                            path);
    uint32_t count = get_le16(item + 18);
    if (count == 0 || (uint64_t)20 + (uint64_t)count * 12 > len)
        return vd_error_set(errp, -EINVAL, "%s: the parent locator's %u entries do not fit "
                            "its %u bytes", path, count, len);
    static const char *const names[3] = { "relative_path", "volume_path", "absolute_win32_path" };
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = item + 20 + i * 12;
        uint32_t koff = get_le32(e), voff = get_le32(e + 4);
        uint32_t klen = get_le16(e + 8), vlen = get_le16(e + 10);
        if (koff > len || klen > len - koff || voff > len || vlen > len - voff ||
            klen == 0 || vlen == 0 || (klen | vlen) & 1)
            return vd_error_set(errp, -EINVAL, "%s: parent locator entry %u is out of bounds",
                                path, i);
        char value[1024];
        vhd_utf16le_to_utf8(item + voff, vlen, value, sizeof(value));
        if (key_is(item + koff, klen, "parent_linkage")) {
            snprintf(s->parent_linkage, sizeof(s->parent_linkage), "%.39s", value);
            continue;
        }
        if (key_is(item + koff, klen, "parent_linkage2")) {
            snprintf(s->parent_linkage2, sizeof(s->parent_linkage2), "%.39s", value);
            continue;
        }
        for (int k = 0; k < 3; k++)
            if (key_is(item + koff, klen, names[k])) {
                snprintf(paths[k], 1024, "%s", value);
                if (s->n_locators < 3)
                    snprintf(s->parent_locators[s->n_locators++], sizeof(s->parent_locators[0]),
                             "%s=%.130s", names[k], value);
            }
    }
    if (!s->parent_linkage[0])
        return vd_error_set(errp, -EINVAL, "%s: the parent locator has no parent_linkage", path);
    return 0;
}

static int read_metadata(int fd, const char *path, struct vhdx_state *s, char paths[3][1024],
                         struct vd_error **errp)
{
    struct meta_item items[M_COUNT] = {
        [M_PARAMS] = { VHDX_GUID_FILE_PARAMS, 8, 0, 0 },
        [M_SIZE] = { VHDX_GUID_DISK_SIZE, 8, 0, 0 },
        [M_PAGE83] = { VHDX_GUID_PAGE83, 16, 0, 0 },
        [M_LSS] = { VHDX_GUID_LOGICAL_SECTOR, 4, 0, 0 },
        [M_PSS] = { VHDX_GUID_PHYSICAL_SECTOR, 4, 0, 0 },
        [M_PARENT] = { VHDX_GUID_PARENT_LOCATOR, 20, 0, 0 },
    };
    uint8_t *t = malloc(VHDX_META_TABLE_SIZE);
    uint8_t *item = NULL;
    if (!t)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    int ret = vhdx_file_read(fd, path, s, t, VHDX_META_TABLE_SIZE, s->meta_off, errp);
    if (ret < 0)
        goto out;
    uint32_t count = get_le16(t + 10);
    if (memcmp(t, "metadata", 8) != 0 || count > VHDX_META_MAX) {
        ret = vd_error_set(errp, -EINVAL, "%s: bad metadata table at offset %llu", path,
                           (unsigned long long)s->meta_off);
        goto out;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = t + 32 + (size_t)i * 32;
        uint32_t off = get_le32(e + 16), len = get_le32(e + 20), flags = get_le32(e + 24);
        int k = 0;
        while (k < M_COUNT && !guid_is(e, items[k].guid))
            k++;
        if (k == M_COUNT) {
            if (flags & 4) {
                ret = vd_error_set(errp, -ENOTSUP, "%s: metadata item %u is required but "
                                   "unknown", path, i);
                goto out;
            }
            continue;
        }
        if (len < items[k].min_len || off < VHDX_META_TABLE_SIZE || off > s->meta_len ||
            len > s->meta_len - off) {
            ret = vd_error_set(errp, -EINVAL, "%s: metadata item %u at offset %u with length "
                               "%u is out of bounds", path, i, off, len);
            goto out;
        }
        items[k].off = off;
        items[k].len = len;
    }
    static const char *const what[M_PARENT] = {
        "file parameters", "virtual disk size", "page 83 data", "logical sector size",
        "physical sector size",
    };
    for (int k = 0; k < M_PARENT; k++)
        if (!items[k].len) {
            ret = vd_error_set(errp, -EINVAL, "%s: the required metadata item %s is missing",
                               path, what[k]);
            goto out;
        }
    uint8_t v[16];
#define META(k, n) vhdx_file_read(fd, path, s, v, n, s->meta_off + items[k].off, errp)
    if ((ret = META(M_PARAMS, 8)) < 0)
        goto out;
    s->block_size = get_le32(v);
    s->leave_allocated = get_le32(v + 4) & 1;
    s->has_parent = (get_le32(v + 4) & 2) != 0;
    if ((ret = META(M_SIZE, 8)) < 0)
        goto out;
    uint64_t size = get_le64(v);
    s->size_item_off = s->meta_off + items[M_SIZE].off;
    if ((ret = META(M_PAGE83, 16)) < 0)
        goto out;
    memcpy(s->page83, v, 16);
    if ((ret = META(M_LSS, 4)) < 0)
        goto out;
    s->logical_sector = get_le32(v);
    if ((ret = META(M_PSS, 4)) < 0)
        goto out;
    s->physical_sector = get_le32(v);
#undef META
    if (s->block_size < VHDX_MIB || s->block_size > 256 * VHDX_MIB ||
        (s->block_size & (s->block_size - 1))) {
        ret = vd_error_set(errp, -EINVAL, "%s: block size %u is not a power of two from 1 to "
                           "256 MiB", path, s->block_size);
        goto out;
    }
    if ((s->logical_sector != 512 && s->logical_sector != 4096) ||
        (s->physical_sector != 512 && s->physical_sector != 4096)) {
        ret = vd_error_set(errp, -EINVAL, "%s: sector sizes %u/%u (logical/physical) are not "
                           "512 or 4096", path, s->logical_sector, s->physical_sector);
        goto out;
    }
    if (size == 0 || size > VHDX_MAX_SIZE || size % s->logical_sector) {
        ret = vd_error_set(errp, -EINVAL, "%s: virtual size %llu is not a multiple of the "
                           "sector size up to 64 TiB", path, (unsigned long long)size);
        goto out;
    }
    s->vsize = size;
    if (s->has_parent) {
        if (!items[M_PARENT].len) {
            ret = vd_error_set(errp, -EINVAL, "%s: a differencing disk without a parent "
                               "locator", path);
            goto out;
        }
        if (!(item = malloc(items[M_PARENT].len))) {
            ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
            goto out;
        }
        ret = vhdx_file_read(fd, path, s, item, items[M_PARENT].len,
                             s->meta_off + items[M_PARENT].off, errp);
        if (ret == 0)
            ret = parse_locator(item, items[M_PARENT].len, path, paths, s, errp);
    }
out:
    free(item);
    free(t);
    return ret;
}

/* ---- BAT ---- */

uint64_t vhdx_bat_index(const struct vhdx_state *s, uint64_t blk)
{
    return blk + blk / s->chunk_ratio;
}

uint64_t vhdx_bitmap_index(const struct vhdx_state *s, uint64_t blk)
{
    return (blk / s->chunk_ratio) * (s->chunk_ratio + 1) + s->chunk_ratio;
}

/* The end of the file as the replayed log leaves it. */
static uint64_t file_end(const struct vhdx_state *s)
{
    return s->log.file_end > s->file_size ? s->log.file_end : s->file_size;
}

/* Checks entry I of the BAT: its state, and that its data lies in the file.
 * PROBLEM gets a description when it does not. */
static bool bat_entry_ok(const struct vhdx_state *s, uint64_t i, char *problem, size_t len)
{
    uint64_t e = s->bat[i];
    unsigned state = VHDX_BAT_STATE(e);
    uint64_t off = VHDX_BAT_OFFSET(e) , end = file_end(s);
    bool bitmap = (i + 1) % (s->chunk_ratio + 1) == 0;
    if (bitmap) {
        if (state == VHDX_SB_NOT_PRESENT)
            return true;
        if (state != VHDX_SB_PRESENT || !s->has_parent) {
            snprintf(problem, len, "sector bitmap entry %llu has state %u",
                     (unsigned long long)i, state);
            return false;
        }
        if (off < VHDX_MIB || off > end || VHDX_MIB > end - off) {
            snprintf(problem, len, "sector bitmap entry %llu points to offset %llu, beyond "
                     "the end of the file", (unsigned long long)i, (unsigned long long)off);
            return false;
        }
        return true;
    }
    switch (state) {
    case VHDX_PAYLOAD_NOT_PRESENT:
    case VHDX_PAYLOAD_UNDEFINED:
    case VHDX_PAYLOAD_ZERO:
    case VHDX_PAYLOAD_UNMAPPED:
        return true;
    case VHDX_PAYLOAD_PARTIALLY_PRESENT:
        if (!s->has_parent) {
            snprintf(problem, len, "BAT entry %llu is partially present in a disk without "
                     "a parent", (unsigned long long)i);
            return false;
        }
        /* fall through */
    case VHDX_PAYLOAD_FULLY_PRESENT:
        if (off < VHDX_MIB || off > end || s->block_size > end - off) {
            snprintf(problem, len, "BAT entry %llu points to a block at offset %llu that "
                     "ends beyond the end of the file at offset %llu", (unsigned long long)i,
                     (unsigned long long)off, (unsigned long long)end);
            return false;
        }
        return true;
    default:
        snprintf(problem, len, "BAT entry %llu has the unknown state %u",
                 (unsigned long long)i, state);
        return false;
    }
}

static int read_bat(int fd, const char *path, struct vhdx_state *s, struct vd_error **errp)
{
    s->chunk_ratio = ((uint64_t)1 << 23) * s->logical_sector / s->block_size;
    s->data_blocks = (s->vsize + s->block_size - 1) / s->block_size;
    uint64_t bitmap_blocks = (s->data_blocks + s->chunk_ratio - 1) / s->chunk_ratio;
    s->bat_entries = s->has_parent ? bitmap_blocks * (s->chunk_ratio + 1)
                                   : s->data_blocks + (s->data_blocks - 1) / s->chunk_ratio;
    if (s->bat_entries > s->bat_len / 8)
        return vd_error_set(errp, -EINVAL, "%s: the BAT region (%u bytes) is too small for "
                            "%llu entries", path, s->bat_len,
                            (unsigned long long)s->bat_entries);
    s->bat = malloc(s->bat_entries * 8);
    if (!s->bat)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory for the BAT", path);
    int ret = vhdx_file_read(fd, path, s, s->bat, s->bat_entries * 8, s->bat_off, errp);
    if (ret < 0)
        return ret;
    for (uint64_t i = 0; i < s->bat_entries; i++)
        s->bat[i] = get_le64(&s->bat[i]);
    return 0;
}

/* Everything but the parent: used by open and by check. */
static int parse(int fd, const char *path, uint64_t file_size, struct vhdx_state *s,
                 char paths[3][1024], struct vd_error **errp)
{
    s->file_size = file_size;
    uint8_t id[8];
    if (file_size < 2 * VHDX_MIB)
        return vd_error_set(errp, -EINVAL, "%s: a VHDX file of %llu bytes is too small "
                            "(truncated)", path, (unsigned long long)file_size);
    int ret = vd_fd_pread(fd, path, id, sizeof(id), 0, errp);
    if (ret < 0)
        return ret;
    if (memcmp(id, "vhdxfile", 8) != 0)
        return vd_error_set(errp, -EINVAL, "%s: no VHDX file identifier at offset 0", path);
    if ((ret = read_headers(fd, path, s, errp)) < 0)
        return ret;
    if (!guid_zero(s->header + VHDX_H_LOG_GUID)) {
        s->log_dirty = true;
        if ((ret = vhdx_log_load(fd, path, file_size, s->header, &s->log, errp)) < 0)
            return ret;
    }
    if ((ret = read_region_table(fd, path, s, errp)) < 0)
        return ret;
    if ((ret = read_metadata(fd, path, s, paths, errp)) < 0)
        return ret;
    return read_bat(fd, path, s, errp);
}

/* Blocks that overlap each other, the BAT, the metadata or the log: each
 * one reported to CHK, or (CHK NULL) the first one as an error. */
struct span { uint64_t off, len, entry; };

static int span_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct span *)a)->off, y = ((const struct span *)b)->off;
    return x < y ? -1 : x > y;
}

static int overlaps(const struct vhdx_state *s, const char *path, struct vd_check *chk,
                    struct vd_error **errp)
{
    struct span *sp = malloc(s->bat_entries * sizeof(*sp) + 1);
    if (!sp)
        return chk ? 0 : vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    uint64_t log_off = get_le64(s->header + VHDX_H_LOG_OFFSET);
    uint64_t log_len = get_le32(s->header + VHDX_H_LOG_LENGTH);
    size_t n = 0;
    int ret = 0;
    char problem[240];
    for (uint64_t i = 0; i < s->bat_entries; i++) {
        unsigned st = VHDX_BAT_STATE(s->bat[i]);
        bool bitmap = (i + 1) % (s->chunk_ratio + 1) == 0;
        if (bitmap ? st != VHDX_SB_PRESENT
                   : st != VHDX_PAYLOAD_FULLY_PRESENT && st != VHDX_PAYLOAD_PARTIALLY_PRESENT)
            continue;
        uint64_t off = VHDX_BAT_OFFSET(s->bat[i]), len = bitmap ? VHDX_MIB : s->block_size;
        if ((off < s->bat_off + s->bat_len && s->bat_off < off + len) ||
            (off < s->meta_off + s->meta_len && s->meta_off < off + len) ||
            (off < log_off + log_len && log_off < off + len)) {
            snprintf(problem, sizeof(problem), "%s: BAT entry %llu's block at offset %llu "
                     "overlaps the BAT, metadata or log region", path, (unsigned long long)i,
                     (unsigned long long)off);
            if (!chk) {
                ret = vd_error_set(errp, -EINVAL, "%s", problem);
                goto out;
            }
            vd_check_problem(chk, "%s", problem);
        }
        sp[n++] = (struct span){ off, len, i };
    }
    qsort(sp, n, sizeof(*sp), span_cmp);
    for (size_t i = 1; i < n; i++) {
        if (sp[i].off >= sp[i - 1].off + sp[i - 1].len)
            continue;
        snprintf(problem, sizeof(problem), "%s: BAT entries %llu and %llu point to "
                 "overlapping blocks at offsets %llu and %llu", path,
                 (unsigned long long)sp[i - 1].entry, (unsigned long long)sp[i].entry,
                 (unsigned long long)sp[i - 1].off, (unsigned long long)sp[i].off);
        if (!chk) {
            ret = vd_error_set(errp, -EINVAL, "%s", problem);
            goto out;
        }
        vd_check_problem(chk, "%s", problem);
    }
out:
    free(sp);
    return ret;
}

/* ---- open ---- */

static void note_tried(char *tried, size_t cap, size_t *used, const char *cand)
{
    int n = snprintf(tried + *used, cap - *used, "%s'%s'", *used ? ", " : "", cand);
    if (n > 0 && (size_t)n < cap - *used)
        *used += (size_t)n;
}

/* relative_path, volume_path, absolute_win32_path, in that order; a
 * Windows path is tried as a host path without its drive or volume. */
static int find_parent(struct vd_image *img, char paths[3][1024], struct vd_error **errp)
{
    char tried[1024] = "";
    size_t used = 0;
    for (int k = 0; k < 3; k++) {
        const char *p = paths[k];
        if (!p[0])
            continue;
        if (k == 1 && strncmp(p, "\\\\?\\Volume{", 11) == 0 && strchr(p, '}'))
            p = strchr(p, '}') + 1;
        else if (k == 2 && p[0] && p[1] == ':')
            p += 2;
        char *cand = vhd_resolve_path(img->path, p);
        if (!cand)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        if (access(cand, F_OK) == 0) {
            img->backing_path = cand;
            return 0;
        }
        note_tried(tried, sizeof(tried), &used, cand);
        free(cand);
    }
    return vd_error_set(errp, -ENOENT, "%s: parent not found (tried %s)", img->path,
                        used ? tried : "no locator path");
}

static int open_parent(struct vd_image *img, struct vhdx_state *s, char paths[3][1024],
                       unsigned flags, struct vd_error **errp)
{
    /* rebase -u names a new parent: the old one may be gone. */
    struct vd_error *lost = NULL;
    bool may_lose = flags & VD_OPEN_LOST_BACKING;
    int ret = find_parent(img, paths, may_lose ? &lost : errp);
    if (ret < 0 && may_lose) {
        vd_error_free(lost);
        return 0;
    }
    if (ret < 0 || (flags & (VD_OPEN_NO_BACKING | VD_OPEN_LOST_BACKING)))
        return ret;
    if ((ret = vd_image_open_backing(img, flags, errp)) < 0)
        return ret;
    struct vd_image *parent = img->backing;
    if (parent->drv != &vd_format_vhdx) {
        ret = vd_error_set(errp, -EINVAL, "%s: parent '%s' is a %s image, not the VHDX with "
                           "DataWriteGuid %s", img->path, parent->path, parent->drv->name,
                           s->parent_linkage);
    } else {
        const struct vhdx_state *ps = parent->opaque;
        char have[40];
        vhdx_guid_str(ps->header + VHDX_H_DATA_GUID, have, sizeof(have));
        /* MS-VHDX 2.6.2.6.3: the parent matches either linkage. */
        if (strcasecmp(have, s->parent_linkage) != 0 &&
            (!s->parent_linkage2[0] || strcasecmp(have, s->parent_linkage2) != 0))
            ret = vd_error_set(errp, -EINVAL, "%s: parent '%s' has DataWriteGuid %s, but this "
                               "differencing disk expects %s%s%s (wrong or modified parent)",
                               img->path, parent->path, have, s->parent_linkage,
                               s->parent_linkage2[0] ? " or " : "", s->parent_linkage2);
    }
    if (ret < 0) {
        vd_image_close(parent, NULL);
        img->backing = NULL;
    }
    return ret;
}

static void vhdx_close(struct vd_image *img)
{
    struct vhdx_state *s = img->opaque;
    free(s->bat);
    s->bat = NULL;
    vhdx_log_free(&s->log);
    if (s->lock_ready)
        pthread_mutex_destroy(&s->lock);
    s->lock_ready = false;
}

static int vhdx_open(struct vd_image *img, unsigned flags, struct vd_error **errp)
{
    struct vhdx_state *s = img->opaque;
    struct stat st;
    if (fstat(img->fd, &st) < 0)
        return vd_error_set_errno(errp, -errno, "%s: cannot stat", img->path);
    char paths[3][1024] = { "", "", "" };
    int ret = parse(img->fd, img->path, (uint64_t)st.st_size, s, paths, errp);
    if (ret == 0) {
        char problem[200];
        for (uint64_t i = 0; i < s->bat_entries && ret == 0; i++)
            if (!bat_entry_ok(s, i, problem, sizeof(problem)))
                ret = vd_error_set(errp, -EINVAL, "%s: %s (truncated or corrupt)", img->path,
                                   problem);
        if (ret == 0)
            ret = overlaps(s, img->path, NULL, errp);
    }
    if (ret == 0 && s->has_parent)
        ret = open_parent(img, s, paths, flags, errp);
    if (ret == 0 && img->writable) {
        s->keep_data_guid = (flags & VD_OPEN_WRITE_BACKING) != 0;
        s->scratch = (flags & VD_OPEN_SCRATCH) != 0;
        ret = vhdx_open_write(img, s, errp);
    }
    if (ret < 0) {
        vd_image_close(img->backing, NULL);
        img->backing = NULL;
        vhdx_close(img);
        return ret;
    }
    img->size = s->vsize;
    return 0;
}

/* ---- read and block status ---- */

/* Bytes this image does not hold: the parent's, or zeros. */
int vhdx_read_below(struct vd_image *img, const struct vhdx_state *s, uint8_t *buf,
                    size_t len, uint64_t off, struct vd_error **errp)
{
    struct vd_image *parent = img->backing;
    if (!s->has_parent || !parent) {
        if (s->has_parent)
            return vd_error_set(errp, -EINVAL, "%s: the parent image is not open", img->path);
        memset(buf, 0, len);
        return 0;
    }
    size_t from_parent = 0;
    if (off < parent->size)
        from_parent = parent->size - off < len ? (size_t)(parent->size - off) : len;
    memset(buf + from_parent, 0, len - from_parent);
    return from_parent ? vd_image_pread(parent, buf, from_parent, off, errp) : 0;
}

/* The sector bitmap bits of sectors [FIRST, END) of block BLK, one byte
 * per sector in OUT (1: this file holds it). */
static int load_bits(struct vd_image *img, const struct vhdx_state *s, uint64_t blk,
                     uint32_t first, uint32_t end, uint8_t *out, struct vd_error **errp)
{
    uint64_t e = vhdx_bat_get(s, vhdx_bitmap_index(s, blk));
    if (VHDX_BAT_STATE(e) != VHDX_SB_PRESENT) {
        memset(out, 0, end - first);
        return 0;
    }
    uint64_t per_block = s->block_size / s->logical_sector;
    uint64_t bit0 = (blk % s->chunk_ratio) * per_block + first;
    uint64_t byte0 = bit0 / 8, byte_end = (bit0 + (end - first) + 7) / 8;
    uint8_t *bits = malloc((size_t)(byte_end - byte0));
    if (!bits)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = vhdx_file_read(img->fd, img->path, s, bits, (size_t)(byte_end - byte0),
                             VHDX_BAT_OFFSET(e) + byte0, errp);
    for (uint32_t i = 0; ret == 0 && i < end - first; i++) {
        uint64_t b = bit0 + i - byte0 * 8;
        out[i] = (bits[b / 8] >> (b % 8)) & 1;
    }
    free(bits);
    return ret;
}

/* What block BLK holds in [IN_BLK, IN_BLK + LEN): the kind of the longest
 * run from IN_BLK and its length. Partially present blocks look at their
 * sector bitmap. */
static int block_run(struct vd_image *img, const struct vhdx_state *s, uint64_t blk,
                     uint32_t in_blk, uint32_t len, enum vd_extent_kind *kind, uint32_t *run,
                     struct vd_error **errp)
{
    uint64_t e = vhdx_bat_get(s, vhdx_bat_index(s, blk));
    enum vd_extent_kind absent = s->has_parent ? VD_EXTENT_BACKING : VD_EXTENT_UNALLOCATED;
    *run = len;
    *kind = absent;     /* set on every path, errors too (gcc -m32 cannot tell) */
    switch (VHDX_BAT_STATE(e)) {
    case VHDX_PAYLOAD_FULLY_PRESENT:
        *kind = VD_EXTENT_DATA;
        return 0;
    case VHDX_PAYLOAD_ZERO:
    case VHDX_PAYLOAD_UNMAPPED:
        *kind = VD_EXTENT_ZERO;
        return 0;
    case VHDX_PAYLOAD_PARTIALLY_PRESENT:
        break;
    default:
        *kind = absent;
        return 0;
    }
    uint32_t lss = s->logical_sector;
    uint32_t first = in_blk / lss, end = (in_blk + len + lss - 1) / lss;
    uint8_t *bits = malloc(end - first);
    if (!bits)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", img->path);
    int ret = load_bits(img, s, blk, first, end, bits, errp);
    if (ret == 0) {
        uint32_t i = 1;
        while (i < end - first && bits[i] == bits[0])
            i++;
        *kind = bits[0] ? VD_EXTENT_DATA : absent;
        uint32_t stop = (first + i) * lss;
        *run = (stop < in_blk + len ? stop : in_blk + len) - in_blk;
    }
    free(bits);
    return ret;
}

static int vhdx_pread(struct vd_image *img, void *buf, size_t len, uint64_t off,
                      struct vd_error **errp)
{
    const struct vhdx_state *s = img->opaque;
    uint8_t *dst = buf;
    while (len) {
        uint64_t blk = off / s->block_size;
        uint32_t in_blk = (uint32_t)(off % s->block_size);
        uint32_t n = s->block_size - in_blk < len ? s->block_size - in_blk : (uint32_t)len;
        enum vd_extent_kind kind;
        uint32_t run;
        int ret = block_run(img, s, blk, in_blk, n, &kind, &run, errp);
        if (ret < 0)
            return ret;
        if (kind == VD_EXTENT_DATA)
            ret = vhdx_file_read(img->fd, img->path, s, dst, run,
                                 VHDX_BAT_OFFSET(vhdx_bat_get(s, vhdx_bat_index(s, blk))) + in_blk, errp);
        else if (kind == VD_EXTENT_BACKING)
            ret = vhdx_read_below(img, s, dst, run, off, errp);
        else
            memset(dst, 0, run);
        if (ret < 0)
            return ret;
        dst += run;
        off += run;
        len -= run;
    }
    return 0;
}

static int vhdx_block_status(struct vd_image *img, uint64_t off, uint64_t len,
                             struct vd_extent *ext, struct vd_error **errp)
{
    const struct vhdx_state *s = img->opaque;
    uint64_t pos = off, end = off + len;
    bool have = false;
    enum vd_extent_kind kind = VD_EXTENT_DATA;
    while (pos < end) {
        uint64_t blk = pos / s->block_size;
        uint32_t in_blk = (uint32_t)(pos % s->block_size);
        uint32_t n = s->block_size - in_blk < end - pos ? s->block_size - in_blk
                                                       : (uint32_t)(end - pos);
        enum vd_extent_kind k;
        uint32_t run;
        int ret = block_run(img, s, blk, in_blk, n, &k, &run, errp);
        if (ret < 0)
            return ret;
        if (have && k != kind)
            break;
        kind = k;
        have = true;
        pos += run;
    }
    *ext = (struct vd_extent){ off, pos - off, kind };
    return 0;
}

static int vhdx_file_extent(struct vd_image *img, uint64_t off, uint64_t len,
                            uint64_t *file_off, uint64_t *run)
{
    const struct vhdx_state *s = img->opaque;
    if (s->log.n_patches)
        return -ENOENT;     /* the file's bytes are not all as they read */
    uint64_t blk = off / s->block_size, in_blk = off % s->block_size;
    uint64_t e = vhdx_bat_get(s, vhdx_bat_index(s, blk));
    if (VHDX_BAT_STATE(e) != VHDX_PAYLOAD_FULLY_PRESENT)
        return -ENOENT;
    *file_off = VHDX_BAT_OFFSET(e) + in_blk;
    *run = s->block_size - in_blk < len ? s->block_size - in_blk : len;
    return 0;
}

/* ---- info and check ---- */

static void vhdx_info(struct vd_image *img, struct vd_info *info)
{
    const struct vhdx_state *s = img->opaque;
    char g[40];
    info->cluster_size = s->block_size;
    vd_info_add(info, "subformat", false, "%s", s->has_parent ? "differencing"
                : s->leave_allocated ? "fixed" : "dynamic");
    vd_info_add(info, "block_size", true, "%u", s->block_size);
    vd_info_add(info, "logical_sector_size", true, "%u", s->logical_sector);
    vd_info_add(info, "physical_sector_size", true, "%u", s->physical_sector);
    vd_info_add(info, "header", false, "%s copy (offset %u), sequence %llu",
                s->header_slot ? "second" : "first",
                s->header_slot ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF,
                (unsigned long long)get_le64(s->header + VHDX_H_SEQUENCE));
    vhdx_guid_str(s->header + VHDX_H_FILE_GUID, g, sizeof(g));
    vd_info_add(info, "file_write_guid", false, "%s", g);
    vhdx_guid_str(s->header + VHDX_H_DATA_GUID, g, sizeof(g));
    vd_info_add(info, "data_write_guid", false, "%s", g);
    vd_info_add(info, "log", false, "%u bytes at offset %llu, %s",
                get_le32(s->header + VHDX_H_LOG_LENGTH),
                (unsigned long long)get_le64(s->header + VHDX_H_LOG_OFFSET),
                !s->log_dirty ? "clean" : s->log.entries ? "dirty (replayed in memory)"
                                                         : "no pending entries");
    if (s->log.entries)
        vd_info_add(info, "log_entries_replayed", true, "%llu",
                    (unsigned long long)s->log.entries);
    vd_info_add(info, "bat", false, "%llu entries at offset %llu",
                (unsigned long long)s->bat_entries, (unsigned long long)s->bat_off);
    vd_info_add(info, "metadata", false, "%u bytes at offset %llu", s->meta_len,
                (unsigned long long)s->meta_off);
    vhdx_guid_str(s->page83, g, sizeof(g));
    vd_info_add(info, "page83_data", false, "%s", g);
    if (s->has_parent) {
        vd_info_add(info, "parent_linkage", false, "%s", s->parent_linkage);
        for (int i = 0; i < s->n_locators; i++)
            vd_info_add(info, "parent_locator", false, "%s", s->parent_locators[i]);
    }
    if (s->log.entries)
        vd_info_warn(info, "the log holds updates that were never applied; they are "
                     "replayed in memory, the file is left as it is");
}

static int vhdx_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
                      struct vd_error **errp)
{
    struct vhdx_state *s = calloc(1, sizeof(*s));
    if (!s)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    char paths[3][1024] = { "", "", "" };
    struct vd_error *err = NULL;
    /* Each copy of the header and region table: one damaged copy still
     * opens, but is a problem to report. */
    uint8_t *t = malloc(VHDX_REGION_SIZE);
    for (int i = 0; t && size >= 2 * VHDX_MIB && i < 2; i++) {
        uint64_t at = i ? VHDX_HEADER2_OFF : VHDX_HEADER1_OFF;
        if (vd_fd_pread(fd, path, t, VHDX_HEADER_SIZE, at, NULL) == 0 && !header_valid(t, size))
            vd_check_problem(chk, "%s: the header copy at offset %llu is damaged", path,
                             (unsigned long long)at);
        at = i ? VHDX_REGION2_OFF : VHDX_REGION1_OFF;
        if (vd_fd_pread(fd, path, t, VHDX_REGION_SIZE, at, NULL) == 0 &&
            (memcmp(t, "regi", 4) != 0 || vhdx_checksum(t, VHDX_REGION_SIZE, 4) != get_le32(t + 4)))
            vd_check_problem(chk, "%s: the region table copy at offset %llu is damaged", path,
                             (unsigned long long)at);
    }
    free(t);
    if (parse(fd, path, size, s, paths, &err) < 0) {
        vd_check_problem(chk, "%s", err ? err->msg : "cannot read the VHDX structure");
        vd_error_free(err);
        goto out;
    }
    char problem[200];
    for (uint64_t i = 0; i < s->bat_entries; i++)
        if (!bat_entry_ok(s, i, problem, sizeof(problem)))
            vd_check_problem(chk, "%s: %s", path, problem);
    overlaps(s, path, chk, NULL);
out:
    free(s->bat);
    vhdx_log_free(&s->log);
    free(s);
    return 0;
}

static const char *const vhdx_aliases[] = { "avhdx", NULL };

const struct vd_format vd_format_vhdx = {
    .name = "vhdx",
    .aliases = vhdx_aliases,
    .description = "Hyper-V VHDX (fixed, dynamic, differencing)",
    .instance_size = sizeof(struct vhdx_state),
    .differencing = true,
    .probe = vhdx_probe,
    .open = vhdx_open,
    .close = vhdx_close,
    .pread = vhdx_pread,
    .pwrite = vhdx_pwrite,
    .write_zeroes = vhdx_write_zeroes,
    .grow = vhdx_grow,
    .shrink = vhdx_shrink,
    .set_backing = vhdx_set_backing,
    .flush = vhdx_flush,
    .block_status = vhdx_block_status,
    .file_extent = vhdx_file_extent,
    .create = vhdx_create,
    .measure = vhdx_measure,
    .create_options = vhdx_create_options,
    .info = vhdx_info,
    .check = vhdx_check,
};
