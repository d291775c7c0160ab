/* VHDX log replay (MS-VHDX 2.3) and the checksums it shares with the rest
 * of the format. A file whose header names a log GUID may hold metadata
 * updates that never reached their place: the active sequence (the valid
 * chain of entries with the highest sequence number whose last entry's
 * tail is the chain's first entry) is replayed. Replay here only builds a
 * list of patches over the file's bytes, so that a read-only open sees the
 * replayed state and the file is never written (qemu refuses such opens). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/endian.h"
#include "formats/vhdx.h"

#define LOG_SECTOR 4096u
#define LOG_ENTRY_HEADER 64u
#define LOG_DESCRIPTOR 32u
/* Hyper-V and qemu write 1 MiB logs; a larger one is read, within reason. */
#define LOG_MAX (64u * VHDX_MIB)
/* Where a replayed write may land: far beyond any 64 TiB disk's metadata. */
#define LOG_MAX_FILE_OFFSET (1ull << 48)

/* ---- CRC-32C (Castagnoli, reflected 0x82F63B78), table-driven ---- */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint32_t vhdx_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = buf;
    crc = ~crc;
    while (len >= 8) {      /* slicing by 8 */
        uint32_t lo = get_le32(p) ^ crc, hi = get_le32(p + 4);
        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

uint32_t vhdx_checksum(const uint8_t *buf, size_t len, size_t csum_at)
{
    static const uint8_t zero[4];
    uint32_t crc = vhdx_crc32c(0, buf, csum_at);
    crc = vhdx_crc32c(crc, zero, 4);
    return vhdx_crc32c(crc, buf + csum_at + 4, len - csum_at - 4);
}

void vhdx_guid_str(const uint8_t *g, char *buf, size_t len)
{
    snprintf(buf, len, "{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
             get_le32(g), get_le16(g + 4), get_le16(g + 6), g[8], g[9],
             g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* ---- reading through the replayed log ---- */

int vhdx_file_read(int fd, const char *path, const struct vhdx_state *s,
                   void *buf, size_t len, uint64_t off, struct vd_error **errp)
{
    const struct vhdx_log_state *log = &s->log;
    if (!log->n_patches)
        return vd_fd_pread(fd, path, buf, len, off, errp);
    uint8_t *dst = buf;
    uint64_t end = off + len;
    /* The log may have grown the file: what lies past its end reads as
     * zeros until the log's last file offset. */
    uint64_t have = off >= s->file_size ? 0 : (end <= s->file_size ? len : s->file_size - off);
    if (have < len && (!log->n_patches || end > log->file_end))
        return vd_error_set(errp, -EIO, "%s: unexpected end of file at offset %llu "
                            "(the image is truncated)", path,
                            (unsigned long long)(off + have));
    int ret = have ? vd_fd_pread(fd, path, dst, (size_t)have, off, errp) : 0;
    if (ret < 0)
        return ret;
    memset(dst + have, 0, (size_t)(len - have));
    for (size_t i = 0; i < log->n_patches; i++) {
        const struct vhdx_patch *p = &log->patches[i];
        if (p->off >= end || p->off + p->len <= off)
            continue;
        uint64_t from = p->off > off ? p->off : off;
        uint64_t to = p->off + p->len < end ? p->off + p->len : end;
        if (p->data)
            memcpy(dst + (from - off), p->data + (from - p->off), (size_t)(to - from));
        else
            memset(dst + (from - off), 0, (size_t)(to - from));
    }
    return 0;
}

/* ---- finding and replaying the active sequence ---- */

struct log_entry {
    bool valid;
    uint32_t length;
    uint32_t tail;
    uint64_t seq;
};

/* LEN bytes of the circular log LOG (LOG_LEN bytes) from POS. */
static void log_copy(const uint8_t *log, uint32_t log_len, uint32_t pos, uint8_t *out, uint32_t len)
{
    uint32_t first = log_len - pos < len ? log_len - pos : len;
    memcpy(out, log + pos, first);
    memcpy(out + first, log, len - first);
}

/* Validates the entry at POS (copied whole into SCRATCH, LOG_LEN bytes),
 * spending at most *BUDGET bytes of checksumming (entries claiming to be
 * long at every position must not make the search quadratic in bytes). */
static bool entry_check(const uint8_t *log, uint32_t log_len, uint32_t pos, const uint8_t *guid,
                        uint8_t *scratch, uint64_t *budget, struct log_entry *e)
{
    uint8_t h[LOG_ENTRY_HEADER];
    log_copy(log, log_len, pos, h, sizeof(h));
    e->valid = false;
    if (memcmp(h, "loge", 4) != 0 || memcmp(h + 32, guid, 16) != 0)
        return false;
    uint32_t length = get_le32(h + 8), tail = get_le32(h + 12), count = get_le32(h + 24);
    uint64_t seq = get_le64(h + 16);
    if (length < LOG_SECTOR || length % LOG_SECTOR || length > log_len ||
        tail % LOG_SECTOR || tail >= log_len || seq == 0)
        return false;
    uint64_t desc_area = ((uint64_t)LOG_ENTRY_HEADER + (uint64_t)count * LOG_DESCRIPTOR +
                          LOG_SECTOR - 1) / LOG_SECTOR * LOG_SECTOR;
    if (count > length / LOG_DESCRIPTOR || desc_area > length)
        return false;
    if (*budget < length) {
        *budget = UINT64_MAX;   /* spent: the caller refuses the log */
        return false;
    }
    *budget -= length;
    log_copy(log, log_len, pos, scratch, length);
    if (vhdx_checksum(scratch, length, 4) != get_le32(h + 4))
        return false;
    uint64_t data_sectors = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *d = scratch + LOG_ENTRY_HEADER + (size_t)i * LOG_DESCRIPTOR;
        if (get_le64(d + 24) != seq || get_le64(d + 16) % LOG_SECTOR)
            return false;
        if (memcmp(d, "desc", 4) == 0) {
            uint64_t at = desc_area + data_sectors * LOG_SECTOR;
            if (at + LOG_SECTOR > length)
                return false;
            const uint8_t *ds = scratch + at;
            if (memcmp(ds, "data", 4) != 0 || get_le32(ds + 4) != (uint32_t)(seq >> 32) ||
                get_le32(ds + 4092) != (uint32_t)seq)
                return false;
            data_sectors++;
        } else if (memcmp(d, "zero", 4) == 0) {
            uint64_t zlen = get_le64(d + 8);
            if (zlen % LOG_SECTOR || zlen > LOG_MAX_FILE_OFFSET)
                return false;
        } else {
            return false;
        }
        if (get_le64(d + 16) > LOG_MAX_FILE_OFFSET)
            return false;
    }
    *e = (struct log_entry){ true, length, tail, seq };
    return true;
}

static int add_patch(struct vhdx_log_state *st, uint64_t off, uint64_t len, const uint8_t *data,
                     const char *path, struct vd_error **errp)
{
    struct vhdx_patch *p = realloc(st->patches, (st->n_patches + 1) * sizeof(*p));
    if (!p)
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    st->patches = p;
    p = &st->patches[st->n_patches];
    *p = (struct vhdx_patch){ off, len, NULL };
    if (data) {
        if (!(p->data = malloc((size_t)len)))
            return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
        memcpy(p->data, data, (size_t)len);
    }
    st->n_patches++;
    return 0;
}

/* Turns the (valid) entry at POS into patches. */
static int entry_replay(const uint8_t *log, uint32_t log_len, uint32_t pos, uint8_t *scratch,
                        struct vhdx_log_state *st, const char *path, struct vd_error **errp)
{
    uint8_t h[LOG_ENTRY_HEADER];
    log_copy(log, log_len, pos, h, sizeof(h));
    uint32_t length = get_le32(h + 8), count = get_le32(h + 24);
    log_copy(log, log_len, pos, scratch, length);
    uint64_t desc_area = ((uint64_t)LOG_ENTRY_HEADER + (uint64_t)count * LOG_DESCRIPTOR +
                          LOG_SECTOR - 1) / LOG_SECTOR * LOG_SECTOR;
    uint64_t last = get_le64(h + 56);
    if (last > st->file_end && last <= LOG_MAX_FILE_OFFSET)
        st->file_end = last;
    uint64_t data_sectors = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *d = scratch + LOG_ENTRY_HEADER + (size_t)i * LOG_DESCRIPTOR;
        uint64_t file_off = get_le64(d + 16);
        int ret;
        if (memcmp(d, "zero", 4) == 0) {
            ret = add_patch(st, file_off, get_le64(d + 8), NULL, path, errp);
        } else {
            /* The sector's first 8 and last 4 bytes are in the descriptor
             * (the data sector holds its signature and sequence there). */
            uint8_t sector[LOG_SECTOR];
            const uint8_t *ds = scratch + desc_area + data_sectors++ * LOG_SECTOR;
            memcpy(sector, d + 8, 8);
            memcpy(sector + 8, ds + 8, 4084);
            memcpy(sector + 4092, d + 4, 4);
            ret = add_patch(st, file_off, LOG_SECTOR, sector, path, errp);
        }
        if (ret < 0)
            return ret;
        if (file_off + LOG_SECTOR > st->file_end)
            st->file_end = file_off + LOG_SECTOR;
    }
    st->entries++;
    st->last_seq = get_le64(h + 16);
    return 0;
}

void vhdx_log_free(struct vhdx_log_state *log)
{
    for (size_t i = 0; i < log->n_patches; i++)
        free(log->patches[i].data);
    free(log->patches);
    memset(log, 0, sizeof(*log));
}

int vhdx_log_load(int fd, const char *path, uint64_t file_size, const uint8_t *header,
                  struct vhdx_log_state *st, struct vd_error **errp)
{
    uint32_t log_len = get_le32(header + VHDX_H_LOG_LENGTH);
    uint64_t log_off = get_le64(header + VHDX_H_LOG_OFFSET);
    const uint8_t *guid = header + VHDX_H_LOG_GUID;
    if (log_len == 0 || log_len % VHDX_MIB || log_off % VHDX_MIB || log_off < VHDX_MIB ||
        log_off > file_size || log_len > file_size - log_off)
        return vd_error_set(errp, -EINVAL, "%s: log at offset %llu with length %u is outside "
                            "the file", path, (unsigned long long)log_off, log_len);
    if (log_len > LOG_MAX)
        return vd_error_set(errp, -EINVAL, "%s: log at offset %llu is %u bytes long (at most "
                            "%u read)", path, (unsigned long long)log_off, log_len, LOG_MAX);
    uint8_t *log = malloc(log_len), *scratch = malloc(log_len);
    uint32_t n = log_len / LOG_SECTOR;
    struct log_entry *e = calloc(n, sizeof(*e));
    int ret = 0;
    if (!log || !scratch || !e) {
        ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
        goto out;
    }
    ret = vd_fd_pread(fd, path, log, log_len, log_off, errp);
    if (ret < 0)
        goto out;
    /* Real logs hold entries end to end: each byte is checked about once. */
    uint64_t budget = 8ull * log_len;
    for (uint32_t i = 0; i < n && budget != UINT64_MAX; i++)
        entry_check(log, log_len, i * LOG_SECTOR, guid, scratch, &budget, &e[i]);
    if (budget == UINT64_MAX) {
        ret = vd_error_set(errp, -EINVAL, "%s: the log at offset %llu holds too many "
                           "overlapping entries to check (damaged)", path,
                           (unsigned long long)log_off);
        goto out;
    }

    /* The head: the valid entry with the highest sequence number whose tail
     * starts a chain of consecutive valid entries that reaches it. */
    uint64_t tried_below = UINT64_MAX;
    for (;;) {
        int64_t head = -1;
        for (uint32_t i = 0; i < n; i++)
            if (e[i].valid && e[i].seq < tried_below && (head < 0 || e[i].seq > e[head].seq))
                head = i;
        if (head < 0)
            break;
        tried_below = e[head].seq;
        uint32_t pos = e[head].tail / LOG_SECTOR, steps = 0;
        bool ok = e[pos].valid;
        while (ok && pos != (uint32_t)head && steps++ < n) {
            uint32_t next = (pos + e[pos].length / LOG_SECTOR) % n;
            ok = e[next].valid && e[next].seq == e[pos].seq + 1;
            pos = next;
        }
        if (!ok || pos != (uint32_t)head)
            continue;
        /* Replay tail .. head, in order. */
        pos = e[head].tail / LOG_SECTOR;
        for (;;) {
            ret = entry_replay(log, log_len, pos * LOG_SECTOR, scratch, st, path, errp);
            if (ret < 0 || pos == (uint32_t)head)
                break;
            pos = (pos + e[pos].length / LOG_SECTOR) % n;
        }
        if (ret == 0) {
            uint8_t h[LOG_ENTRY_HEADER];
            log_copy(log, log_len, (uint32_t)head * LOG_SECTOR, h, sizeof(h));
            uint64_t flushed_off = get_le64(h + 48);
            if (flushed_off > file_size)
                ret = vd_error_set(errp, -EINVAL, "%s: the log says the file was flushed up "
                                   "to offset %llu, but it ends at %llu (truncated)", path,
                                   (unsigned long long)flushed_off,
                                   (unsigned long long)file_size);
        }
        goto out;
    }
    /* No valid sequence: nothing was pending (Hyper-V may leave the GUID
     * set with an empty log); the file is as it is. */
out:
    free(log);
    free(scratch);
    free(e);
    if (ret < 0)
        vhdx_log_free(st);
    return ret;
}
