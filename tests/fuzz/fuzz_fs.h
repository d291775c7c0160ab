/* Shared body of the fuzz_fs_<x> harnesses: the input is the start of a
 * 4 MiB volume whose rest reads as zeros (libFuzzer inputs stop at 1 MiB,
 * and the seeds are real volumes with their trailing zeros cut), mapped by
 * one driver. Every extent returned must lie inside the volume, sorted and
 * disjoint. */
#ifndef TESTS_FUZZ_FUZZ_FS_H
#define TESTS_FUZZ_FUZZ_FS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/fs/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_VOLUME_SIZE (4u << 20)

struct fuzz_volume {
    const uint8_t *data;
    size_t size;
};

static int fuzz_mem_pread(void *ctx, void *buf, size_t len, uint64_t off,
                          struct vd_error **errp)
{
    const struct fuzz_volume *v = ctx;
    if (off + len > (v->size > FUZZ_VOLUME_SIZE ? v->size : FUZZ_VOLUME_SIZE))
        abort();    /* drivers never read past src->size */
    memset(buf, 0, len);
    if (off < v->size)
        memcpy(buf, v->data + off, v->size - off < len ? v->size - off : len);
    return 0;
}

static inline int fuzz_fs_map(const struct vd_fs_driver *drv, const uint8_t *data, size_t size)
{
    struct fuzz_volume vol = { data, size };
    struct vd_fs_source src = { fuzz_mem_pread, &vol, size > FUZZ_VOLUME_SIZE ? size : FUZZ_VOLUME_SIZE };
    struct vd_fs_map map = { 0 };
    struct vd_error *err = NULL;
    if (drv->map(&src, &map, &err) == 0) {
        vd_fs_map_finish(&map);
        uint64_t end = 0;
        for (size_t i = 0; i < map.count; i++) {
            if (map.ext[i].length == 0 || map.ext[i].offset < end ||
                map.ext[i].offset + map.ext[i].length > src.size)
                abort();
            end = map.ext[i].offset + map.ext[i].length;
        }
    }
    vd_error_free(err);
    vd_fs_map_free(&map);
    return 0;
}

#endif
