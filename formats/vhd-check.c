/* vdisk check for VHD: every structural invariant, reading the file
 * without trusting any field. Each problem is one line naming its offset. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vhd.h"

/* A region of the file that something claims, for the overlap check. */
struct region {
    uint64_t start, end;
    char what[48];
};

struct regions {
    struct region *items;
    size_t count, cap;
};

/* WHAT names the region; INDEX >= 0 is appended ("block 7"). */
static int region_add(struct regions *r, uint64_t start, uint64_t len, const char *what,
                      int64_t index)
{
    if (r->count == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct region *n = realloc(r->items, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        r->items = n;
        r->cap = cap;
    }
    struct region *g = &r->items[r->count++];
    g->start = start;
    g->end = start + len;
    if (index >= 0)
        snprintf(g->what, sizeof(g->what), "%s %lld", what, (long long)index);
    else
        snprintf(g->what, sizeof(g->what), "%s", what);
    return 0;
}

static int cmp_region(const void *a, const void *b)
{
    const struct region *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void check_footer_fields(struct vd_check *chk, const uint8_t *f, uint64_t at,
                                const char *which)
{
    if (!(get_be32(f + VHD_F_FEATURES) & 2))
        vd_check_problem(chk, "%s at offset %llu: features 0x%08x lack the reserved bit 0x2",
                         which, (unsigned long long)at, get_be32(f + VHD_F_FEATURES));
    if (get_be32(f + VHD_F_VERSION) >> 16 != 1)
        vd_check_problem(chk, "%s at offset %llu: file format version 0x%08x is not 1.x",
                         which, (unsigned long long)at, get_be32(f + VHD_F_VERSION));
    uint32_t type = get_be32(f + VHD_F_TYPE);
    if (type != VHD_TYPE_FIXED && type != VHD_TYPE_DYNAMIC && type != VHD_TYPE_DIFF)
        vd_check_problem(chk, "%s at offset %llu: unknown disk type %u", which,
                         (unsigned long long)(at + VHD_F_TYPE), type);
    if (get_be64(f + VHD_F_CUR_SIZE) > VHD_MAX_READ_SIZE)
        vd_check_problem(chk, "%s at offset %llu: absurd current size %llu", which,
                         (unsigned long long)(at + VHD_F_CUR_SIZE),
                         (unsigned long long)get_be64(f + VHD_F_CUR_SIZE));
}

static void check_parent(int fd, const char *path, uint64_t size, const uint8_t *header,
                         struct vd_check *chk)
{
    char *parent_path = NULL;
    struct vd_error *err = NULL;
    if (vhd_find_parent(fd, path, size, header, &parent_path, &err) < 0) {
        vd_check_problem(chk, "%s", err->msg);
        vd_error_free(err);
        return;
    }
    struct vd_image *parent = NULL;
    if (vd_image_open(parent_path, NULL, VD_OPEN_NO_BACKING, &parent, &err) < 0) {
        vd_check_problem(chk, "parent '%s' cannot be opened: %s", parent_path, err->msg);
        vd_error_free(err);
    } else if (parent->drv != &vd_format_vhd) {
        vd_check_problem(chk, "parent '%s' is %s, not a VHD", parent_path, parent->drv->name);
    } else {
        const struct vhd_state *ps = parent->opaque;
        if (memcmp(ps->footer + VHD_F_UUID, header + VHD_H_PARENT_UUID, 16) != 0) {
            char want[40], have[40];
            vhd_format_uuid(header + VHD_H_PARENT_UUID, want, sizeof(want));
            vhd_format_uuid(ps->footer + VHD_F_UUID, have, sizeof(have));
            vd_check_problem(chk, "parent '%s' has UUID %s, but the header at offset %d "
                             "expects %s", parent_path, have, VHD_H_PARENT_UUID, want);
        }
    }
    vd_image_close(parent, NULL);
    free(parent_path);
}

/* Locators: known code, in bounds, even UTF-16 length; their space is a
 * region no block may overlap. */
static int check_locators(int fd, const char *path, uint64_t hdr_off, uint64_t data_end,
                          const uint8_t *header, struct regions *reg, struct vd_check *chk)
{
    for (int i = 0; i < VHD_LOCATOR_COUNT; i++) {
        const uint8_t *loc = header + VHD_H_LOCATORS + i * VHD_LOCATOR_SIZE;
        uint64_t at = hdr_off + VHD_H_LOCATORS + (uint64_t)i * VHD_LOCATOR_SIZE;
        uint32_t code = get_be32(loc);
        if (!code)
            continue;
        uint32_t space = get_be32(loc + 4), length = get_be32(loc + 8);
        uint64_t offset = get_be64(loc + 16);
        static const char *const known[] = { "W2ru", "W2ku", "Wi2r", "Wi2k", "MacX", "Mac " };
        bool ok = false;
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            ok |= memcmp(loc, known[k], 4) == 0;
        if (!ok) {
            vd_check_problem(chk, "parent locator %d at offset %llu: unknown platform code "
                             "0x%08x", i, (unsigned long long)at, code);
            continue;
        }
        /* The data space is in sectors by the spec, in bytes from Windows:
         * either way it must hold the path; the region the locator claims
         * is what the path occupies. */
        uint64_t reserved = length;
        if ((uint64_t)space * VHD_SECTOR < length && space < length)
            vd_check_problem(chk, "parent locator %d at offset %llu: data space %u is smaller "
                             "than the path length %u", i, (unsigned long long)at, space, length);
        if (offset > data_end || reserved > data_end - offset) {
            vd_check_problem(chk, "parent locator %d at offset %llu: its data at offset %llu "
                             "(%llu bytes) lies beyond the end of the data at %llu", i,
                             (unsigned long long)at, (unsigned long long)offset,
                             (unsigned long long)reserved, (unsigned long long)data_end);
            continue;
        }
        if ((memcmp(loc, "W2ru", 4) == 0 || memcmp(loc, "W2ku", 4) == 0) && (length & 1))
            vd_check_problem(chk, "parent locator %d at offset %llu: UTF-16 path of odd "
                             "length %u", i, (unsigned long long)at, length);
        else if (length == 0 || length > 8192)
            vd_check_problem(chk, "parent locator %d at offset %llu: path length %u is not "
                             "1..8192", i, (unsigned long long)at, length);
        if (region_add(reg, offset, reserved, "parent locator", i) < 0)
            return -ENOMEM;
    }
    (void)fd;
    (void)path;
    return 0;
}

static int check_dynamic(int fd, const char *path, uint64_t size, const uint8_t *footer,
                         uint64_t data_end, struct vd_check *chk, struct vd_error **errp)
{
    uint64_t hdr_off = get_be64(footer + VHD_F_DATA_OFFSET);
    if (hdr_off > data_end || data_end - hdr_off < VHD_HEADER_SIZE) {
        vd_check_problem(chk, "footer: dynamic header offset %llu is beyond the end of the "
                         "data at %llu", (unsigned long long)hdr_off,
                         (unsigned long long)data_end);
        return 0;
    }
    uint8_t header[VHD_HEADER_SIZE];
    int ret = vd_fd_pread(fd, path, header, sizeof(header), hdr_off, errp);
    if (ret < 0)
        return ret;
    if (memcmp(header, "cxsparse", 8) != 0) {
        vd_check_problem(chk, "no dynamic header cookie \"cxsparse\" at offset %llu",
                         (unsigned long long)hdr_off);
        return 0;
    }
    uint32_t sum = vhd_checksum(header, sizeof(header), VHD_H_CHECKSUM);
    if (get_be32(header + VHD_H_CHECKSUM) != sum)
        vd_check_problem(chk, "dynamic header at offset %llu: bad checksum (stored 0x%08x, "
                         "computed 0x%08x)", (unsigned long long)hdr_off,
                         get_be32(header + VHD_H_CHECKSUM), sum);
    if (get_be64(header + VHD_H_DATA_OFFSET) != UINT64_MAX)
        vd_check_problem(chk, "dynamic header at offset %llu: data offset is not "
                         "0xFFFFFFFFFFFFFFFF", (unsigned long long)(hdr_off + VHD_H_DATA_OFFSET));
    if (get_be32(header + VHD_H_VERSION) >> 16 != 1)
        vd_check_problem(chk, "dynamic header at offset %llu: version 0x%08x is not 1.x",
                         (unsigned long long)(hdr_off + VHD_H_VERSION),
                         get_be32(header + VHD_H_VERSION));
    uint32_t block_size = get_be32(header + VHD_H_BLOCK_SIZE);
    uint32_t entries = get_be32(header + VHD_H_MAX_ENTRIES);
    uint64_t bat_off = get_be64(header + VHD_H_TABLE_OFFSET);
    const char *why = vhd_block_size_problem(block_size);
    if (why) {
        vd_check_problem(chk, "dynamic header at offset %llu: block size %u is %s",
                         (unsigned long long)(hdr_off + VHD_H_BLOCK_SIZE), block_size, why);
        return 0;
    }
    uint64_t vsize = get_be64(footer + VHD_F_CUR_SIZE);
    uint64_t needed = (vsize + block_size - 1) / block_size;
    if (entries < needed)
        vd_check_problem(chk, "dynamic header at offset %llu: %u BAT entries cannot map "
                         "%llu bytes (%llu needed)",
                         (unsigned long long)(hdr_off + VHD_H_MAX_ENTRIES),
                         entries, (unsigned long long)vsize, (unsigned long long)needed);
    if (entries > VHD_MAX_BAT_ENTRIES) {
        vd_check_problem(chk, "dynamic header at offset %llu: absurd BAT size of %u entries",
                         (unsigned long long)(hdr_off + VHD_H_MAX_ENTRIES), entries);
        return 0;
    }
    uint64_t bat_bytes = (uint64_t)entries * 4;
    if (bat_off > data_end || bat_bytes > data_end - bat_off) {
        vd_check_problem(chk, "BAT at offset %llu (%llu bytes) runs beyond the end of the "
                         "data at %llu", (unsigned long long)bat_off,
                         (unsigned long long)bat_bytes, (unsigned long long)data_end);
        return 0;
    }
    uint32_t type = get_be32(footer + VHD_F_TYPE);
    struct regions reg = {0};
    ret = region_add(&reg, 0, VHD_FOOTER_SIZE, "footer copy", -1);
    if (ret == 0)
        ret = region_add(&reg, hdr_off, VHD_HEADER_SIZE, "dynamic header", -1);
    if (ret == 0)
        ret = region_add(&reg, bat_off, bat_bytes, "BAT", -1);
    if (ret == 0 && type == VHD_TYPE_DIFF)
        ret = check_locators(fd, path, hdr_off, data_end, header, &reg, chk);
    uint8_t *bat = ret == 0 ? malloc(bat_bytes ? bat_bytes : 1) : NULL;
    if (!bat) {
        free(reg.items);
        return vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    }
    ret = vd_fd_pread(fd, path, bat, bat_bytes, bat_off, errp);
    uint64_t extent = (uint64_t)vhd_bitmap_size(block_size) + block_size;
    for (uint32_t i = 0; i < entries && ret == 0; i++) {
        uint32_t e = get_be32(bat + 4 * (size_t)i);
        if (e == VHD_UNALLOCATED)
            continue;
        uint64_t start = (uint64_t)e * VHD_SECTOR;
        uint64_t at = bat_off + 4ull * i;
        if (i >= needed)
            vd_check_problem(chk, "BAT entry %u at offset %llu: block allocated beyond the "
                             "virtual size", i, (unsigned long long)at);
        if (start + extent > data_end) {
            vd_check_problem(chk, "BAT entry %u at offset %llu: block at offset %llu ends at "
                             "%llu, beyond the end of the data at %llu", i,
                             (unsigned long long)at, (unsigned long long)start,
                             (unsigned long long)(start + extent), (unsigned long long)data_end);
            continue;
        }
        if (region_add(&reg, start, extent, "block", i) < 0)
            ret = vd_error_set(errp, -ENOMEM, "%s: out of memory", path);
    }
    free(bat);
    if (ret == 0) {
        /* Sorted by start, any region that begins before the furthest end
         * seen so far overlaps an earlier one. */
        qsort(reg.items, reg.count, sizeof(*reg.items), cmp_region);
        size_t far = 0;
        for (size_t i = 1; i < reg.count; i++) {
            if (reg.items[i].start < reg.items[far].end)
                vd_check_problem(chk, "%s at offset %llu overlaps %s at offset %llu",
                                 reg.items[i].what, (unsigned long long)reg.items[i].start,
                                 reg.items[far].what, (unsigned long long)reg.items[far].start);
            if (reg.items[i].end > reg.items[far].end)
                far = i;
        }
    }
    free(reg.items);
    if (ret == 0 && type == VHD_TYPE_DIFF)
        check_parent(fd, path, size, header, chk);
    return ret;
}

int vhd_check(int fd, const char *path, uint64_t size, struct vd_check *chk,
              struct vd_error **errp)
{
    uint8_t footer[VHD_FOOTER_SIZE], copy[VHD_FOOTER_SIZE];
    uint64_t footer_off = 0;
    struct vd_error *err = NULL;
    bool have_copy = size >= VHD_FOOTER_SIZE &&
                     vd_fd_pread(fd, path, copy, VHD_FOOTER_SIZE, 0, NULL) == 0 &&
                     memcmp(copy, "conectix", 8) == 0;
    if (vhd_read_end_footer(fd, path, size, footer, &footer_off, &err) < 0) {
        vd_check_problem(chk, "%s", err->msg);
        vd_error_free(err);
        if (!have_copy || !vhd_footer_valid(copy))
            return 0;
        /* Go on with the copy, to find what else is wrong. */
        memcpy(footer, copy, sizeof(footer));
        footer_off = size;
    }
    check_footer_fields(chk, footer, footer_off, "footer");
    uint32_t type = get_be32(footer + VHD_F_TYPE);
    uint64_t vsize = get_be64(footer + VHD_F_CUR_SIZE);
    if (type == VHD_TYPE_FIXED) {
        if (get_be64(footer + VHD_F_DATA_OFFSET) != UINT64_MAX)
            vd_check_problem(chk, "footer at offset %llu: a fixed disk's data offset should "
                             "be 0xFFFFFFFFFFFFFFFF",
                             (unsigned long long)(footer_off + VHD_F_DATA_OFFSET));
        if (vsize > footer_off)
            vd_check_problem(chk, "fixed disk of %llu bytes, but the footer is at offset %llu "
                             "(truncated)", (unsigned long long)vsize,
                             (unsigned long long)footer_off);
        return 0;
    }
    if (type != VHD_TYPE_DYNAMIC && type != VHD_TYPE_DIFF)
        return 0;
    if (!have_copy)
        vd_check_problem(chk, "no footer copy at offset 0");
    else if (!vhd_footer_valid(copy))
        vd_check_problem(chk, "footer copy at offset 0: bad checksum");
    else if (memcmp(copy, footer, VHD_FOOTER_SIZE) != 0 && footer_off != size)
        vd_check_problem(chk, "footer copy at offset 0 differs from the footer at offset %llu",
                         (unsigned long long)footer_off);
    if (vsize > VHD_MAX_READ_SIZE)
        return 0;
    return check_dynamic(fd, path, size, footer, footer_off, chk, errp);
}
