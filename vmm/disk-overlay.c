/* Copy-on-write overlay: the disk is cut into 64 KiB chunks; a chunk is
 * copied from the base on its first write and lives in memory from then
 * on. The chunk pointers sit in a two-level table (groups of 4096 chunks,
 * 256 MiB of disk each, allocated on first use) so an untouched 2 TiB disk
 * costs 64 KiB of pointers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/disk.h"

#define CHUNK_SHIFT 16
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
#define GROUP_SHIFT 12
#define GROUP_CHUNKS (1u << GROUP_SHIFT)

struct disk_overlay {
    uint64_t size;
    overlay_base_read_fn *base;
    void *ctx;
    uint8_t ***groups;              /* [group][chunk in group] -> 64 KiB or NULL */
    uint64_t n_groups;
    uint64_t n_chunks_held;
};

int overlay_create(struct disk_overlay **out, uint64_t size, overlay_base_read_fn *base,
                   void *ctx, struct vd_error **errp)
{
    struct disk_overlay *o = calloc(1, sizeof *o);
    uint64_t chunks = (size + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
    uint64_t n_groups = (chunks + GROUP_CHUNKS - 1) >> GROUP_SHIFT;
    if (o)
        o->groups = calloc(n_groups ? n_groups : 1, sizeof *o->groups);
    if (!o || !o->groups) {
        free(o);
        return vd_error_set(errp, -ENOMEM, "out of memory for the disk overlay");
    }
    o->size = size;
    o->base = base;
    o->ctx = ctx;
    o->n_groups = n_groups;
    *out = o;
    return 0;
}

void overlay_destroy(struct disk_overlay *o)
{
    if (!o)
        return;
    for (uint64_t g = 0; g < o->n_groups; g++) {
        if (!o->groups[g])
            continue;
        for (unsigned c = 0; c < GROUP_CHUNKS; c++)
            free(o->groups[g][c]);
        free(o->groups[g]);
    }
    free(o->groups);
    free(o);
}

uint64_t overlay_memory(const struct disk_overlay *o)
{
    return o->n_chunks_held * CHUNK_SIZE;
}

static uint8_t **slot(struct disk_overlay *o, uint64_t chunk, bool create)
{
    uint64_t g = chunk >> GROUP_SHIFT;
    if (!o->groups[g]) {
        if (!create)
            return NULL;
        o->groups[g] = calloc(GROUP_CHUNKS, sizeof **o->groups);
        if (!o->groups[g])
            return NULL;
    }
    return &o->groups[g][chunk & (GROUP_CHUNKS - 1)];
}

static int check_range(const struct disk_overlay *o, size_t len, uint64_t off,
                       struct vd_error **errp)
{
    if (off > o->size || len > o->size - off)
        return vd_error_set(errp, -EINVAL, "disk access at %llu+%zu is past the end",
                            (unsigned long long)off, len);
    return 0;
}

int overlay_read(struct disk_overlay *o, void *buf, size_t len, uint64_t off,
                 struct vd_error **errp)
{
    int rc = check_range(o, len, off, errp);
    uint8_t *dst = buf;
    while (rc == 0 && len) {
        uint64_t chunk = off >> CHUNK_SHIFT;
        size_t in = (size_t)(off & (CHUNK_SIZE - 1));
        size_t n = CHUNK_SIZE - in < len ? CHUNK_SIZE - in : len;
        /* Runs of chunks the overlay does not hold go to the base in one read. */
        uint8_t **s = slot(o, chunk, false);
        if (s && *s) {
            memcpy(dst, *s + in, n);
        } else {
            while (n < len) {
                uint64_t next = (off + n) >> CHUNK_SHIFT;
                uint8_t **ns = slot(o, next, false);
                if (ns && *ns)
                    break;
                n = len - n < CHUNK_SIZE ? len : n + CHUNK_SIZE;
            }
            rc = o->base(o->ctx, dst, n, off, errp);
        }
        dst += n;
        off += n;
        len -= n;
    }
    return rc;
}

int overlay_write(struct disk_overlay *o, const void *buf, size_t len, uint64_t off,
                  struct vd_error **errp)
{
    int rc = check_range(o, len, off, errp);
    const uint8_t *src = buf;
    while (rc == 0 && len) {
        uint64_t chunk = off >> CHUNK_SHIFT;
        size_t in = (size_t)(off & (CHUNK_SIZE - 1));
        size_t n = CHUNK_SIZE - in < len ? CHUNK_SIZE - in : len;
        uint8_t **s = slot(o, chunk, true);
        if (!s)
            return vd_error_set(errp, -ENOMEM, "out of memory for the disk overlay");
        if (!*s) {
            uint8_t *data = malloc(CHUNK_SIZE);
            if (!data)
                return vd_error_set(errp, -ENOMEM, "out of memory for the disk overlay");
            uint64_t start = chunk << CHUNK_SHIFT;
            size_t have = o->size - start < CHUNK_SIZE ? (size_t)(o->size - start) : CHUNK_SIZE;
            memset(data, 0, CHUNK_SIZE);
            /* A whole-chunk write needs nothing from the base. */
            if (!(in == 0 && n == CHUNK_SIZE)) {
                rc = o->base(o->ctx, data, have, start, errp);
                if (rc < 0) {
                    free(data);
                    return rc;
                }
            }
            *s = data;
            o->n_chunks_held++;
        }
        memcpy(*s + in, src, n);
        src += n;
        off += n;
        len -= n;
    }
    return rc;
}
