/* libFuzzer harness for the fat allocation map (formats/fs/fat.c): the
 * input is a whole volume, read from memory. Every extent returned must lie
 * inside the volume, sorted and disjoint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/fs/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
    const uint8_t *data;
};

static int mem_pread(void *ctx, void *buf, size_t len, uint64_t off, struct vd_error **errp)
{
    const struct mem *m = ctx;
    memcpy(buf, m->data + off, len);   /* drivers never read past src->size */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem m = { data };
    struct vd_fs_source src = { mem_pread, &m, size };
    struct vd_fs_map map = { 0 };
    struct vd_error *err = NULL;
    if (size >= 512 && vd_fs_fat.map(&src, &map, &err) == 0) {
        vd_fs_map_finish(&map);
        uint64_t end = 0;
        for (size_t i = 0; i < map.count; i++) {
            if (map.ext[i].length == 0 || map.ext[i].offset < end ||
                map.ext[i].offset + map.ext[i].length > size)
                abort();
            end = map.ext[i].offset + map.ext[i].length;
        }
    }
    vd_error_free(err);
    vd_fs_map_free(&map);
    return 0;
}
