/* VHD metadata helpers shared by open, create and check: checksums, the
 * footer at the end of the file, CHS geometry, parent locators. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vhd.h"

uint32_t vhd_checksum(const uint8_t *buf, size_t len, size_t checksum_at)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        if (i < checksum_at || i >= checksum_at + 4)
            sum += buf[i];
    return ~sum;
}

bool vhd_footer_valid(const uint8_t *footer)
{
    return memcmp(footer, "conectix", 8) == 0 &&
           get_be32(footer + VHD_F_CHECKSUM) ==
               vhd_checksum(footer, VHD_FOOTER_SIZE, VHD_F_CHECKSUM);
}

int vhd_read_end_footer(int fd, const char *path, uint64_t size,
                        uint8_t footer[VHD_FOOTER_SIZE], uint64_t *footer_off,
                        struct vd_error **errp)
{
    if (size < VHD_FOOTER_SIZE - 1)
        return vd_error_set(errp, -EINVAL, "%s: %llu bytes is too small for a VHD",
                            path, (unsigned long long)size);
    /* The 512-byte footer, then the 511-byte one of early Virtual PC
     * versions (the missing last byte is reserved and zero). */
    for (int len = VHD_FOOTER_SIZE; len >= (int)VHD_FOOTER_SIZE - 1; len--) {
        if (size < (uint64_t)len)
            continue;
        memset(footer, 0, VHD_FOOTER_SIZE);
        int ret = vd_fd_pread(fd, path, footer, (size_t)len, size - (uint64_t)len, errp);
        if (ret < 0)
            return ret;
        if (memcmp(footer, "conectix", 8) != 0)
            continue;
        *footer_off = size - (uint64_t)len;
        if (!vhd_footer_valid(footer))
            return vd_error_set(errp, -EINVAL, "%s: bad VHD footer checksum at offset %llu "
                                "(stored 0x%08x, computed 0x%08x)", path,
                                (unsigned long long)*footer_off,
                                get_be32(footer + VHD_F_CHECKSUM),
                                vhd_checksum(footer, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
        return 0;
    }
    return vd_error_set(errp, -EINVAL, "%s: no VHD footer at the end of the file "
                        "(offset %llu): truncated or not a VHD", path,
                        (unsigned long long)(size - VHD_FOOTER_SIZE));
}

struct vhd_geometry vhd_geometry_of(const uint8_t *footer)
{
    return (struct vhd_geometry){
        .cylinders = get_be16(footer + VHD_F_GEOMETRY),
        .heads = footer[VHD_F_GEOMETRY + 2],
        .sectors = footer[VHD_F_GEOMETRY + 3],
    };
}

/* The specification's algorithm (appendix "CHS Calculation"). */
struct vhd_geometry vhd_chs_for(uint64_t total)
{
    uint64_t spt, heads, cth;
    if (total > VHD_MAX_CHS_SECTORS)
        total = VHD_MAX_CHS_SECTORS;
    if (total >= 65535ull * 16 * 63) {
        spt = 255;
        heads = 16;
        cth = total / spt;
    } else {
        spt = 17;
        cth = total / spt;
        heads = (cth + 1023) / 1024;
        if (heads < 4)
            heads = 4;
        if (cth >= heads * 1024 || heads > 16) {
            spt = 31;
            heads = 16;
            cth = total / spt;
        }
        if (cth >= heads * 1024) {
            spt = 63;
            heads = 16;
            cth = total / spt;
        }
    }
    return (struct vhd_geometry){ (uint16_t)(cth / heads), (uint8_t)heads, (uint8_t)spt };
}

uint64_t vhd_chs_bytes(struct vhd_geometry g)
{
    return (uint64_t)g.cylinders * g.heads * g.sectors * VHD_SECTOR;
}

const char *vhd_block_size_problem(uint32_t block_size)
{
    if (block_size < VHD_MIN_BLOCK || block_size > VHD_MAX_BLOCK)
        return "outside 4 KiB..256 MiB";
    if (block_size & (block_size - 1))
        return "not a power of two";
    return NULL;
}

uint32_t vhd_bitmap_size(uint32_t block_size)
{
    uint32_t bytes = block_size / VHD_SECTOR / 8;
    return (bytes + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
}

void vhd_format_uuid(const uint8_t *u, char *buf, size_t len)
{
    snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
             u[12], u[13], u[14], u[15]);
}

/* Appends code point CP as UTF-8; returns false when BUF is full. */
static bool put_utf8(char *buf, size_t len, size_t *used, uint32_t cp)
{
    uint8_t tmp[4];
    size_t n;
    if (cp < 0x80) {
        tmp[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        tmp[0] = (uint8_t)(0xc0 | cp >> 6);
        tmp[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        tmp[0] = (uint8_t)(0xe0 | cp >> 12);
        tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        tmp[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        tmp[0] = (uint8_t)(0xf0 | cp >> 18);
        tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        tmp[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (*used + n + 1 > len)
        return false;
    memcpy(buf + *used, tmp, n);
    *used += n;
    buf[*used] = '\0';
    return true;
}

/* UTF-16 (BIG_ENDIAN or little) to UTF-8, stopping at NUL; unpaired
 * surrogates become U+FFFD. */
static void utf16_to_utf8(const uint8_t *in, size_t in_len, bool big_endian,
                          char *buf, size_t len)
{
    size_t used = 0;
    if (len)
        buf[0] = '\0';
    for (size_t i = 0; i + 1 < in_len; i += 2) {
        uint32_t u = big_endian ? get_be16(in + i) : get_le16(in + i);
        if (u == 0)
            break;
        if (u >= 0xd800 && u < 0xdc00 && i + 3 < in_len) {
            uint32_t lo = big_endian ? get_be16(in + i + 2) : get_le16(in + i + 2);
            if (lo >= 0xdc00 && lo < 0xe000) {
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            } else {
                u = 0xfffd;
            }
        } else if (u >= 0xd800 && u < 0xe000) {
            u = 0xfffd;
        }
        if (!put_utf8(buf, len, &used, u))
            break;
    }
}

void vhd_parent_name(const uint8_t *header, char *buf, size_t len)
{
    utf16_to_utf8(header + VHD_H_PARENT_NAME, VHD_PARENT_NAME_LEN, true, buf, len);
}

/* Windows separators to '/', and a path relative to the child's folder. */
static char *resolve_relative(const char *child_path, const char *name)
{
    char *fixed = strdup(name);
    if (!fixed)
        return NULL;
    for (char *c = fixed; *c; c++)
        if (*c == '\\')
            *c = '/';
    if (fixed[0] == '/')
        return fixed;
    const char *rel = fixed;
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2;
    const char *slash = strrchr(child_path, '/');
    int dir_len = slash ? (int)(slash - child_path) : 1;
    const char *dir = slash ? child_path : ".";
    if (slash && dir_len == 0)
        dir_len = 1;        /* child in "/" */
    size_t n = (size_t)dir_len + strlen(rel) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s/%s", dir_len, dir, rel);
    free(fixed);
    return out;
}

void vhd_utf16le_to_utf8(const uint8_t *in, size_t in_len, char *buf, size_t len)
{
    utf16_to_utf8(in, in_len, false, buf, len);
}

char *vhd_resolve_path(const char *child_path, const char *name)
{
    return resolve_relative(child_path, name);
}

int vhd_locator_path(int fd, const char *child_path, uint64_t file_size,
                     const uint8_t *header, int i, char **out,
                     struct vd_error **errp)
{
    const uint8_t *loc = header + VHD_H_LOCATORS + i * VHD_LOCATOR_SIZE;
    /* W2ru/W2ku: UTF-16LE. Wi2r/Wi2k: the deprecated single-byte forms
     * of Virtual PC 2004 / Virtual Server 2005 era disks. */
    bool wide = memcmp(loc, "W2ru", 4) == 0 || memcmp(loc, "W2ku", 4) == 0;
    bool narrow = memcmp(loc, "Wi2r", 4) == 0 || memcmp(loc, "Wi2k", 4) == 0;
    if (!wide && !narrow)
        return -ENOENT;
    uint32_t length = get_be32(loc + 8);
    uint64_t offset = get_be64(loc + 16);
    if (length == 0 || length > 8192 || (wide && (length & 1)) || offset > file_size ||
        length > file_size - offset)
        return vd_error_set(errp, -EINVAL, "%s: parent locator %d (%.4s) at offset %llu "
                            "with length %u is out of bounds", child_path, i, (const char *)loc,
                            (unsigned long long)offset, length);
    uint8_t raw[8192];
    int ret = vd_fd_pread(fd, child_path, raw, length, offset, errp);
    if (ret < 0)
        return ret;
    char name[PATH_MAX];
    if (wide) {
        utf16_to_utf8(raw, length, false, name, sizeof(name));
    } else {
        /* Code page bytes: ASCII kept, anything else read as Latin-1. */
        size_t used = 0;
        name[0] = '\0';
        for (uint32_t k = 0; k < length && raw[k]; k++)
            if (!put_utf8(name, sizeof(name), &used, raw[k]))
                break;
    }
    if (!name[0])
        return vd_error_set(errp, -EINVAL, "%s: parent locator %d (%.4s) at offset %llu "
                            "is empty", child_path, i, (const char *)loc,
                            (unsigned long long)offset);
    *out = resolve_relative(child_path, name);
    return *out ? 0 : vd_error_set(errp, -ENOMEM, "out of memory");
}

/* Appends 'CAND' to the list of paths tried, for the error message. */
static void note_tried(char *tried, size_t cap, size_t *used, const char *cand)
{
    int n = snprintf(tried + *used, cap - *used, "%s'%s'", *used ? ", " : "", cand);
    if (n > 0 && (size_t)n < cap - *used)
        *used += (size_t)n;
}

int vhd_find_parent(int fd, const char *child_path, uint64_t file_size,
                    const uint8_t *header, char **out, struct vd_error **errp)
{
    char tried[768] = "";
    size_t used = 0;
    /* Relative locators first: they survive moving the pair together. */
    static const char *const order[] = { "W2ru", "Wi2r", "W2ku", "Wi2k" };
    for (int pass = 0; pass < 4; pass++) {
        for (int i = 0; i < VHD_LOCATOR_COUNT; i++) {
            const uint8_t *code = header + VHD_H_LOCATORS + i * VHD_LOCATOR_SIZE;
            if (memcmp(code, order[pass], 4) != 0)
                continue;
            char *cand = NULL;
            int ret = vhd_locator_path(fd, child_path, file_size, header, i, &cand, errp);
            if (ret < 0)
                return ret;
            if (access(cand, F_OK) == 0) {
                *out = cand;
                return 0;
            }
            note_tried(tried, sizeof(tried), &used, cand);
            free(cand);
        }
    }
    char name[VHD_PARENT_NAME_LEN * 2];
    vhd_parent_name(header, name, sizeof(name));
    if (name[0]) {
        const char *base = strrchr(name, '\\');
        base = base ? base + 1 : name;
        char *cand = resolve_relative(child_path, base);
        if (!cand)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        if (access(cand, F_OK) == 0) {
            *out = cand;
            return 0;
        }
        note_tried(tried, sizeof(tried), &used, cand);
        free(cand);
    }
    return vd_error_set(errp, -ENOENT, "%s: parent '%s' not found (tried %s)", child_path,
                        name[0] ? name : "(no name)", used ? tried : "no locator");
}
