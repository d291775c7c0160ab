/* libFuzzer harness for driver packs (an archive from the user or the
 * guest's own driver.cab): indexing through libarchive, extracting a
 * member, a compressed single-file cabinet, and the INF walk. Links
 * inject_core. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/driverpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int visit(void *opaque, const char *label, const char *name, const uint8_t *d,
                 size_t len, struct vd_error **errp)
{
    size_t *total = opaque;
    *total += len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct driver_packs *packs;
    if (packs_new(&packs) < 0)
        return 0;
    uint8_t *copy = malloc(size ? size : 1);
    struct vd_error *err = NULL;
    if (copy) {
        memcpy(copy, data, size);
        if (packs_add_memory(packs, "fuzz.cab", copy, size, false, &err) == 0) {
            uint8_t *out = NULL;
            size_t len = 0, total = 0;
            const char *label;
            if (packs_find(packs, "atapi.sys", &out, &len, &label, &err) == 0)
                free(out);
            vd_error_clear(&err);
            packs_for_each_inf(packs, visit, &total, &err);
        }
    }
    vd_error_free(err);
    packs_free(packs);
    return 0;
}
