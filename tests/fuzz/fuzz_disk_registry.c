/* libFuzzer harness for NT 4.0's DISK\Information parser (a registry value
 * from the guest): every partition it returns must lie inside the value,
 * as the in-place repair writes at those offsets. Links inject_core. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers-inject/disk-registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that a read past the value is an ASan report. */
    uint8_t *value = malloc(size ? size : 1);
    if (!value)
        return 0;
    memcpy(value, data, size);
    struct disk_registry dr;
    struct vd_error *err = NULL;
    if (disk_registry_parse(value, size, &dr, &err) == 0) {
        for (int i = 0; i < dr.n_parts; i++)
            if (dr.parts[i].at + DISK_REG_PARTITION > size || dr.parts[i].disk >= dr.n_disks)
                abort();
        for (int d = 0; d < dr.n_disks; d++)
            if (dr.disks[d].at + 8 > size || dr.disks[d].first + dr.disks[d].count > dr.n_parts)
                abort();
    }
    vd_error_free(err);
    free(value);
    return 0;
}
