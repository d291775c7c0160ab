/* Filesystem allocation maps: the driver table and the extent list. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/fs/fs.h"

/* Probe order: signatures are exclusive, so the order only saves work. */
static const struct vd_fs_driver *const fs_drivers[] = {
    &vd_fs_ntfs,
    &vd_fs_ext,
    &vd_fs_fat,     /* last: its probe is the loosest */
};

int vd_fs_map_volume(const struct vd_fs_source *src, struct vd_fs_map *map,
                     struct vd_error **errp)
{
    uint8_t boot[4096];
    size_t len = src->size < sizeof(boot) ? (size_t)src->size : sizeof(boot);
    memset(map, 0, sizeof(*map));
    if (len < 512)
        return -ENOENT;
    int ret = src->pread(src->ctx, boot, len, 0, errp);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < sizeof(fs_drivers) / sizeof(fs_drivers[0]); i++) {
        if (!fs_drivers[i]->probe(boot, len))
            continue;
        snprintf(map->fs_name, sizeof(map->fs_name), "%s", fs_drivers[i]->name);
        ret = fs_drivers[i]->map(src, map, errp);
        if (ret < 0)
            return ret;
        vd_fs_map_finish(map);
        return 0;
    }
    return -ENOENT;
}

static int image_pread(void *ctx, void *buf, size_t len, uint64_t off,
                       struct vd_error **errp)
{
    struct vd_fs_image_ctx *c = ctx;
    return vd_image_pread(c->img, buf, len, c->offset + off, errp);
}

void vd_fs_source_image(struct vd_fs_source *src, struct vd_fs_image_ctx *ctx,
                        struct vd_image *img, uint64_t offset, uint64_t length)
{
    ctx->img = img;
    ctx->offset = offset;
    src->pread = image_pread;
    src->ctx = ctx;
    src->size = length;
}

int vd_fs_map_add(struct vd_fs_map *map, uint64_t off, uint64_t len,
                  uint64_t limit, struct vd_error **errp)
{
    if (off >= limit || len == 0)
        return 0;
    if (len > limit - off)
        len = limit - off;
    if (map->count > 0) {
        struct vd_fs_extent *last = &map->ext[map->count - 1];
        if (last->offset + last->length == off) {
            last->length += len;
            return 0;
        }
    }
    if (map->count == map->capacity) {
        size_t cap = map->capacity ? map->capacity * 2 : 256;
        struct vd_fs_extent *n = realloc(map->ext, cap * sizeof(*n));
        if (!n)
            return vd_error_set(errp, -ENOMEM, "out of memory for the allocation map");
        map->ext = n;
        map->capacity = cap;
    }
    map->ext[map->count++] = (struct vd_fs_extent){ off, len };
    return 0;
}

static int extent_cmp(const void *a, const void *b)
{
    const struct vd_fs_extent *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

void vd_fs_map_finish(struct vd_fs_map *map)
{
    if (map->count == 0) {
        map->used_bytes = 0;
        return;
    }
    qsort(map->ext, map->count, sizeof(map->ext[0]), extent_cmp);
    size_t out = 0;
    for (size_t i = 1; i < map->count; i++) {
        struct vd_fs_extent *cur = &map->ext[out];
        uint64_t end = cur->offset + cur->length;
        if (map->ext[i].offset <= end) {
            uint64_t e2 = map->ext[i].offset + map->ext[i].length;
            if (e2 > end)
                cur->length = e2 - cur->offset;
        } else {
            map->ext[++out] = map->ext[i];
        }
    }
    map->count = out + 1;
    map->used_bytes = 0;
    for (size_t i = 0; i < map->count; i++)
        map->used_bytes += map->ext[i].length;
}

int vd_fs_map_subtract(struct vd_fs_map *map, const struct vd_fs_map *cut,
                       struct vd_error **errp)
{
    struct vd_fs_map out = { 0 };
    size_t j = 0;
    for (size_t i = 0; i < map->count; i++) {
        uint64_t s = map->ext[i].offset, e = s + map->ext[i].length;
        while (j < cut->count && cut->ext[j].offset + cut->ext[j].length <= s)
            j++;
        for (size_t k = j; k < cut->count && cut->ext[k].offset < e && s < e; k++) {
            if (cut->ext[k].offset > s) {
                int ret = vd_fs_map_add(&out, s, cut->ext[k].offset - s, UINT64_MAX, errp);
                if (ret < 0) {
                    vd_fs_map_free(&out);
                    return ret;
                }
            }
            uint64_t ce = cut->ext[k].offset + cut->ext[k].length;
            if (ce > s)
                s = ce;
        }
        if (s < e) {
            int ret = vd_fs_map_add(&out, s, e - s, UINT64_MAX, errp);
            if (ret < 0) {
                vd_fs_map_free(&out);
                return ret;
            }
        }
    }
    free(map->ext);
    map->ext = out.ext;
    map->count = out.count;
    map->capacity = out.capacity;
    vd_fs_map_finish(map);
    return 0;
}

void vd_fs_map_free(struct vd_fs_map *map)
{
    free(map->ext);
    map->ext = NULL;
    map->count = map->capacity = 0;
}

void vd_fs_map_warn(struct vd_fs_map *map, const char *fmt, ...)
{
    if (map->n_warnings++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(map->warning, sizeof(map->warning), fmt, ap);
        va_end(ap);
    }
}
