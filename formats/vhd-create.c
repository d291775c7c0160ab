/* Creating VHDs: fixed, dynamic, and differencing children with parent
 * locators. Sizes are rounded up to whole CHS geometry unless asked not to
 * (see the size option in vhd.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/endian.h"
#include "formats/vhd.h"

#define MIB (1ull << 20)

struct create_plan {
    enum vhd_type type;
    uint64_t size;
    struct vhd_geometry geometry;
    uint32_t block_size;
    const struct vhd_state *parent;     /* differencing */
    char parent_abs[PATH_MAX];
    char parent_rel[PATH_MAX];
};

/* "2M", "512K", "2097152". */
static int parse_block_size(const char *text, uint32_t *out, struct vd_error **errp)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text)
        return vd_error_set(errp, -EINVAL, "vhd: block_size '%s' is not a number", text);
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    if (*end || v > UINT32_MAX || vhd_block_size_problem((uint32_t)v))
        return vd_error_set(errp, -EINVAL, "vhd: block_size '%s' must be a power of two "
                            "between 4K and 256M", text);
    *out = (uint32_t)v;
    return 0;
}

/* Rounds SIZE up until a CHS geometry describes it exactly, as qemu does,
 * so that readers using either the geometry or current_size agree. Past
 * the largest geometry, the size stays exact with CHS 65535/16/255. */
static void round_to_chs(uint64_t *size, struct vhd_geometry *g)
{
    uint64_t total = (*size + VHD_SECTOR - 1) / VHD_SECTOR;
    if (total > VHD_MAX_CHS_SECTORS) {
        *g = (struct vhd_geometry){ 65535, 16, 255 };
        *size = total * VHD_SECTOR;
        return;
    }
    uint64_t try = total;
    *g = vhd_chs_for(try);
    while (vhd_chs_bytes(*g) / VHD_SECTOR < total)
        *g = vhd_chs_for(++try);
    *size = vhd_chs_bytes(*g);
}

static bool is_on(const char *v)
{
    return v && (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
                 strcmp(v, "yes") == 0);
}

/* PATH relative to directory DIR (both absolute, canonical), written the
 * Windows way (".\\parent.vhd", "..\\base\\parent.vhd"). */
static void relative_path(const char *dir, const char *path, char *out, size_t len)
{
    size_t common = 0, i = 0;
    while (dir[i] && dir[i] == path[i]) {
        i++;
        if (path[i - 1] == '/')
            common = i;
    }
    const char *rest = dir + common;    /* DIR below the folder it shares with PATH */
    if (dir[i] == '\0' && path[i] == '/') {
        common = i + 1;             /* DIR is a folder above PATH */
        rest = dir + i;             /* (not dir + common: that is past its end) */
    }
    int ups = 0;
    if (*rest) {
        ups = 1;
        for (const char *c = rest; *c; c++)
            ups += *c == '/';
    }
    size_t used = 0;
    if (ups == 0)
        used = (size_t)snprintf(out, len, ".\\");
    for (int u = 0; u < ups && used + 4 < len; u++)
        used += (size_t)snprintf(out + used, len - used, "..\\");
    for (const char *t = path + common; *t && used + 1 < len; t++)
        out[used++] = *t == '/' ? '\\' : *t;
    out[used] = '\0';
}

static int plan_parent(const char *path, const struct vd_create_args *args,
                       struct create_plan *plan, struct vd_error **errp)
{
    struct vd_image *parent = args->backing;
    if (parent->drv != &vd_format_vhd)
        return vd_error_set(errp, -EINVAL, "%s: a VHD differencing disk needs a VHD parent; "
                            "'%s' is %s", path, args->backing_arg, parent->drv->name);
    plan->parent = parent->opaque;
    if (args->size && args->size != parent->size)
        return vd_error_set(errp, -EINVAL, "%s: a differencing disk has its parent's size "
                            "(%llu bytes), not %llu", path, (unsigned long long)parent->size,
                            (unsigned long long)args->size);
    plan->size = parent->size;
    plan->geometry = vhd_geometry_of(plan->parent->footer);
    return vhd_parent_paths(path, args->backing_arg, plan->parent_abs, plan->parent_rel, errp);
}

int vhd_parent_paths(const char *path, const char *parent, char abs[PATH_MAX],
                     char rel[PATH_MAX], struct vd_error **errp)
{
    if (!realpath(parent, abs))
        return vd_error_set_errno(errp, -errno, "cannot resolve '%s'", parent);
    /* The child's folder, which exists even though the child does not. */
    char dir[PATH_MAX], dir_abs[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    if (!realpath(dir, dir_abs))
        return vd_error_set_errno(errp, -errno, "cannot resolve the folder of '%s'", path);
    relative_path(dir_abs, abs, rel, PATH_MAX);
    return 0;
}

static int make_plan(const char *path, const struct vd_create_args *args,
                     struct create_plan *plan, struct vd_error **errp)
{
    const char *sub = vd_options_get(args->opts, "subformat");
    const char *sizing = vd_options_get(args->opts, "size");
    const char *bs = vd_options_get(args->opts, "block_size");
    bool azure = is_on(vd_options_get(args->opts, "azure"));
    const char *az = vd_options_get(args->opts, "azure");
    if (az && !azure && strcmp(az, "off") != 0 && strcmp(az, "false") != 0 &&
        strcmp(az, "0") != 0 && strcmp(az, "no") != 0)
        return vd_error_set(errp, -EINVAL, "vhd: azure must be on or off, not '%s'", az);
    if (sub && strcmp(sub, "fixed") != 0 && strcmp(sub, "dynamic") != 0)
        return vd_error_set(errp, -EINVAL, "vhd: subformat must be fixed or dynamic, not '%s'",
                            sub);
    if (sizing && strcmp(sizing, "exact") != 0 && strcmp(sizing, "chs") != 0)
        return vd_error_set(errp, -EINVAL, "vhd: size must be chs or exact, not '%s'", sizing);
    plan->type = sub && strcmp(sub, "fixed") == 0 ? VHD_TYPE_FIXED : VHD_TYPE_DYNAMIC;
    if (azure && sub && plan->type != VHD_TYPE_FIXED)
        return vd_error_set(errp, -EINVAL, "vhd: azure=on makes a fixed VHD; it cannot be "
                            "subformat=%s", sub);
    if (azure)
        plan->type = VHD_TYPE_FIXED;
    plan->block_size = VHD_DEFAULT_BLOCK;
    if (bs) {
        if (plan->type == VHD_TYPE_FIXED)
            return vd_error_set(errp, -EINVAL, "vhd: a fixed VHD has no block_size");
        int ret = parse_block_size(bs, &plan->block_size, errp);
        if (ret < 0)
            return ret;
    }
    if (args->backing) {
        if (plan->type == VHD_TYPE_FIXED || azure || sizing)
            return vd_error_set(errp, -EINVAL, "vhd: a differencing disk takes its size and "
                                "geometry from its parent (no subformat=fixed, azure or size)");
        plan->type = VHD_TYPE_DIFF;
        return plan_parent(path, args, plan, errp);
    }
    if (args->size == 0)
        return vd_error_set(errp, -EINVAL, "vhd: the size must be given and above zero");
    if (args->size > VHD_MAX_CREATE_SIZE)
        return vd_error_set(errp, -EFBIG, "vhd: %llu bytes is more than the VHD maximum of "
                            "2040 GiB", (unsigned long long)args->size);
    plan->size = args->size;
    if (azure) {
        plan->size = (plan->size + MIB - 1) / MIB * MIB;
        plan->geometry = (struct vhd_geometry){ 65535, 16, 255 };
    } else if (sizing && strcmp(sizing, "exact") == 0) {
        plan->size = (plan->size + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
        plan->geometry = (struct vhd_geometry){ 65535, 16, 255 };
    } else {
        round_to_chs(&plan->size, &plan->geometry);
    }
    if (plan->size > VHD_MAX_CREATE_SIZE)
        return vd_error_set(errp, -EFBIG, "vhd: %llu bytes (rounded up to %llu) is more than "
                            "the VHD maximum of 2040 GiB", (unsigned long long)args->size,
                            (unsigned long long)plan->size);
    return 0;
}

static void fill_footer(uint8_t *f, const struct create_plan *plan, uint64_t data_offset)
{
    memset(f, 0, VHD_FOOTER_SIZE);
    memcpy(f + VHD_F_COOKIE, "conectix", 8);
    put_be32(f + VHD_F_FEATURES, 2);
    put_be32(f + VHD_F_VERSION, 0x00010000);
    put_be64(f + VHD_F_DATA_OFFSET, data_offset);
    put_be32(f + VHD_F_TIMESTAMP, (uint32_t)(time(NULL) - VHD_EPOCH));
    memcpy(f + VHD_F_CREATOR_APP, "vdsk", 4);
    put_be32(f + VHD_F_CREATOR_VER, 0x00010000);
    memcpy(f + VHD_F_CREATOR_OS, "Wi2k", 4);
    put_be64(f + VHD_F_ORIG_SIZE, plan->size);
    put_be64(f + VHD_F_CUR_SIZE, plan->size);
    put_be16(f + VHD_F_GEOMETRY, plan->geometry.cylinders);
    f[VHD_F_GEOMETRY + 2] = plan->geometry.heads;
    f[VHD_F_GEOMETRY + 3] = plan->geometry.sectors;
    put_be32(f + VHD_F_TYPE, plan->type);
    uint8_t *uuid = f + VHD_F_UUID;
    if (getrandom(uuid, 16, 0) != 16) {
        /* No entropy source: time and pid still make it unique enough. */
        put_be64(uuid, (uint64_t)time(NULL));
        put_be64(uuid + 8, (uint64_t)getpid() ^ (uint64_t)(uintptr_t)f);
    }
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
    put_be32(f + VHD_F_CHECKSUM, vhd_checksum(f, VHD_FOOTER_SIZE, VHD_F_CHECKSUM));
}

/* UTF-8 to UTF-16 (BIG_ENDIAN or little); returns bytes written. */
static size_t utf8_to_utf16(const char *in, uint8_t *out, size_t cap, bool big_endian)
{
    size_t used = 0;
    const uint8_t *p = (const uint8_t *)in;
    while (*p) {
        uint32_t cp = *p++;
        int more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;
        if (more)
            cp &= 0x3fu >> more;
        for (; more && (*p & 0xc0) == 0x80; more--)
            cp = cp << 6 | (*p++ & 0x3f);
        uint16_t units[2];
        int n = 1;
        units[0] = (uint16_t)cp;
        if (cp >= 0x10000) {
            units[0] = (uint16_t)(0xd800 + ((cp - 0x10000) >> 10));
            units[1] = (uint16_t)(0xdc00 + ((cp - 0x10000) & 0x3ff));
            n = 2;
        }
        if (used + 2u * (size_t)n > cap)
            break;
        for (int i = 0; i < n; i++, used += 2) {
            if (big_endian)
                put_be16(out + used, units[i]);
            else
                put_le16(out + used, units[i]);
        }
    }
    return used;
}

size_t vhd_utf8_to_utf16le(const char *in, uint8_t *out, size_t cap)
{
    return utf8_to_utf16(in, out, cap, false);
}

struct locator {
    const char *code;
    uint8_t data[8192];
    size_t len;
    uint64_t offset;
    uint32_t space;     /* bytes reserved, a multiple of the sector size */
};

/* The two locators a child stores (absolute W2ku, relative W2ru), laid
 * out from *END on, which moves past them. NULL when out of memory. */
static struct locator *make_locators(const char *parent_abs, const char *parent_rel,
                                     uint64_t *end)
{
    struct locator *locs = calloc(2, sizeof(*locs));
    if (!locs)
        return NULL;
    locs[0].code = "W2ku";
    locs[0].len = utf8_to_utf16(parent_abs, locs[0].data, sizeof(locs[0].data), false);
    locs[1].code = "W2ru";
    locs[1].len = utf8_to_utf16(parent_rel, locs[1].data, sizeof(locs[1].data), false);
    for (int i = 0; i < 2; i++) {
        locs[i].offset = *end;
        locs[i].space = (uint32_t)((locs[i].len + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR);
        *end += locs[i].space;
    }
    return locs;
}

/* The parent's UUID, timestamp and name, and the locators, in HEADER
 * (every other locator entry cleared; the checksum is the caller's). */
static void set_parent_fields(uint8_t *header, const struct vhd_state *parent,
                              const char *parent_abs, const struct locator *locs, int nlocs)
{
    memcpy(header + VHD_H_PARENT_UUID, parent->footer + VHD_F_UUID, 16);
    memcpy(header + VHD_H_PARENT_TIME, parent->footer + VHD_F_TIMESTAMP, 4);
    memset(header + VHD_H_PARENT_NAME, 0, VHD_PARENT_NAME_LEN);
    const char *base = strrchr(parent_abs, '/');
    utf8_to_utf16(base ? base + 1 : parent_abs, header + VHD_H_PARENT_NAME,
                  VHD_PARENT_NAME_LEN - 2, true);
    memset(header + VHD_H_LOCATORS, 0, VHD_LOCATOR_COUNT * VHD_LOCATOR_SIZE);
    for (int i = 0; i < nlocs; i++) {
        uint8_t *l = header + VHD_H_LOCATORS + i * VHD_LOCATOR_SIZE;
        memcpy(l, locs[i].code, 4);
        put_be32(l + 4, locs[i].space / VHD_SECTOR);
        put_be32(l + 8, (uint32_t)locs[i].len);
        put_be64(l + 16, locs[i].offset);
    }
}

static int write_dynamic(int fd, const char *path, const struct create_plan *plan,
                         uint8_t *footer, struct vd_error **errp)
{
    uint8_t header[VHD_HEADER_SIZE] = {0};
    uint32_t entries = (uint32_t)((plan->size + plan->block_size - 1) / plan->block_size);
    uint64_t bat_offset = VHD_FOOTER_SIZE + VHD_HEADER_SIZE;
    /* Exactly the BAT's size, rounded to a sector (Azure checks it). */
    uint64_t bat_bytes = ((uint64_t)entries * 4 + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
    uint64_t end = bat_offset + bat_bytes;
    struct locator *locs = NULL;
    int nlocs = 0;
    if (plan->type == VHD_TYPE_DIFF) {
        locs = make_locators(plan->parent_abs, plan->parent_rel, &end);
        if (!locs)
            return vd_error_set(errp, -ENOMEM, "out of memory");
        nlocs = 2;
    }
    memcpy(header + VHD_H_COOKIE, "cxsparse", 8);
    put_be64(header + VHD_H_DATA_OFFSET, UINT64_MAX);
    put_be64(header + VHD_H_TABLE_OFFSET, bat_offset);
    put_be32(header + VHD_H_VERSION, 0x00010000);
    put_be32(header + VHD_H_MAX_ENTRIES, entries);
    put_be32(header + VHD_H_BLOCK_SIZE, plan->block_size);
    if (plan->parent)
        set_parent_fields(header, plan->parent, plan->parent_abs, locs, nlocs);
    put_be32(header + VHD_H_CHECKSUM, vhd_checksum(header, VHD_HEADER_SIZE, VHD_H_CHECKSUM));

    int ret = vd_fd_pwrite(fd, path, footer, VHD_FOOTER_SIZE, 0, errp);
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, header, VHD_HEADER_SIZE, VHD_FOOTER_SIZE, errp);
    uint8_t *bat = ret == 0 ? malloc(bat_bytes) : NULL;
    if (ret == 0 && !bat)
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
    if (bat) {
        memset(bat, 0xff, bat_bytes);
        ret = vd_fd_pwrite(fd, path, bat, bat_bytes, bat_offset, errp);
        free(bat);
    }
    for (int i = 0; i < nlocs && ret == 0; i++)
        ret = vd_fd_pwrite(fd, path, locs[i].data, locs[i].len, locs[i].offset, errp);
    if (ret == 0)
        ret = vd_fd_pwrite(fd, path, footer, VHD_FOOTER_SIZE, end, errp);
    free(locs);
    return ret;
}

int vhd_create(const char *path, const struct vd_create_args *args,
               struct vd_error **errp)
{
    struct create_plan *plan = calloc(1, sizeof(*plan));
    if (!plan)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = make_plan(path, args, plan, errp);
    if (ret < 0) {
        free(plan);
        return ret;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        ret = vd_error_set_errno(errp, -errno, "cannot create '%s'", path);
        free(plan);
        return ret;
    }
    uint8_t footer[VHD_FOOTER_SIZE];
    if (plan->type == VHD_TYPE_FIXED) {
        fill_footer(footer, plan, UINT64_MAX);
        if (ftruncate(fd, (off_t)plan->size) < 0)
            ret = vd_error_set_errno(errp, -errno, "%s: cannot set the size", path);
        else
            ret = vd_fd_pwrite(fd, path, footer, VHD_FOOTER_SIZE, plan->size, errp);
    } else {
        fill_footer(footer, plan, VHD_FOOTER_SIZE);
        ret = write_dynamic(fd, path, plan, footer, errp);
    }
    if (ret == 0 && fdatasync(fd) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", path);
    if (close(fd) < 0 && ret == 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot close", path);
    if (ret < 0)
        unlink(path);
    free(plan);
    return ret;
}

/* Rebase: the new locators go where new blocks would (the footer moves
 * past them), then one header write switches the child to the new parent:
 * a crash before it leaves the old parent named (and some unused bytes). */
int vhd_set_backing(struct vd_image *img, struct vd_image *parent, const char *parent_arg,
                    struct vd_error **errp)
{
    struct vhd_state *s = img->opaque;
    if (s->type != VHD_TYPE_DIFF)
        return vd_error_set(errp, -EINVAL, "%s: not a differencing VHD: it has no backing "
                            "file to change", img->path);
    if (parent->drv != &vd_format_vhd)
        return vd_error_set(errp, -EINVAL, "%s: a VHD differencing disk needs a VHD parent; "
                            "'%s' is %s", img->path, parent_arg, parent->drv->name);
    if (parent->size != img->size)
        return vd_error_set(errp, -EINVAL, "%s: '%s' has %llu bytes; a VHD child has its "
                            "parent's size (%llu bytes)", img->path, parent_arg,
                            (unsigned long long)parent->size, (unsigned long long)img->size);
    if (s->footer_from_copy)
        return vd_error_set(errp, -EINVAL, "%s: the footer is missing; run 'vdisk check'",
                            img->path);
    char *names = malloc(2 * PATH_MAX);
    if (!names)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = vhd_parent_paths(img->path, parent_arg, names, names + PATH_MAX, errp);
    uint64_t end = s->data_end;
    struct locator *locs = ret == 0 ? make_locators(names, names + PATH_MAX, &end) : NULL;
    if (ret == 0 && !locs)
        ret = vd_error_set(errp, -ENOMEM, "out of memory");
    /* The footer first, at the new end: the file never lacks one. */
    if (ret == 0)
        ret = vd_file_pwrite(img, s->footer, VHD_FOOTER_SIZE, end, errp);
    for (int i = 0; i < 2 && ret == 0; i++)
        ret = vd_file_pwrite(img, locs[i].data, locs[i].len, locs[i].offset, errp);
    if (ret == 0 && fdatasync(img->fd) < 0)
        ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
    if (ret == 0) {
        s->data_end = end;
        uint8_t header[VHD_HEADER_SIZE];
        memcpy(header, s->header, sizeof(header));
        set_parent_fields(header, parent->opaque, names, locs, 2);
        put_be32(header + VHD_H_CHECKSUM, 0);
        put_be32(header + VHD_H_CHECKSUM, vhd_checksum(header, VHD_HEADER_SIZE,
                                                       VHD_H_CHECKSUM));
        ret = vd_file_pwrite(img, header, VHD_HEADER_SIZE,
                             get_be64(s->footer + VHD_F_DATA_OFFSET), errp);
        if (ret == 0 && fdatasync(img->fd) < 0)
            ret = vd_error_set_errno(errp, -errno, "%s: cannot flush", img->path);
        if (ret == 0)
            memcpy(s->header, header, sizeof(header));
    }
    free(locs);
    free(names);
    return ret;
}

/* The layout write_dynamic() makes: footer copy, header, BAT (a whole
 * number of sectors), then each allocated block (bitmap and data) and the
 * footer. Fixed: the data and the footer. */
int vhd_measure(const struct vd_create_args *args, struct vd_image *src, uint64_t *required,
                uint64_t *full, struct vd_error **errp)
{
    struct create_plan *plan = calloc(1, sizeof(*plan));
    if (!plan)
        return vd_error_set(errp, -ENOMEM, "out of memory");
    int ret = make_plan("", args, plan, errp);
    if (ret == 0 && plan->type == VHD_TYPE_FIXED) {
        *required = *full = plan->size + VHD_FOOTER_SIZE;
    } else if (ret == 0) {
        uint64_t entries = (plan->size + plan->block_size - 1) / plan->block_size;
        uint64_t meta = VHD_FOOTER_SIZE + VHD_HEADER_SIZE +
                        (entries * 4 + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR +
                        VHD_FOOTER_SIZE;
        uint64_t per_block = vhd_bitmap_size(plan->block_size) + (uint64_t)plan->block_size;
        uint64_t used = 0;
        if (src)
            ret = vd_image_count_data(src, plan->block_size, &used, errp);
        *required = meta + used * per_block;
        *full = meta + entries * per_block;
    }
    free(plan);
    return ret;
}
