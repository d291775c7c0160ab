/* libFuzzer harness for the partition table reader (MBR with its extended
 * chain, GPT with both copies, superfloppies): the input is a whole raw
 * disk, in a memfd. Whatever the tables say, every partition returned must
 * be numbered and fit the table's array, and its bytes must lie inside the
 * disk (one that starts past the end keeps its start, with length 0). */
#include <stdint.h>
#include <stdlib.h>

#include "formats/image.h"
#include "formats/part/part.h"
#include "tests/fuzz/fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_table(const struct vd_partition_table *pt, uint64_t disk_size)
{
    if (pt->count < 0 || pt->count > VD_MAX_PARTITIONS)
        abort();
    for (int i = 0; i < pt->count; i++) {
        const struct vd_partition *p = &pt->parts[i];
        uint64_t room = p->start < disk_size ? disk_size - p->start : 0;
        if (p->number < 1 || p->length > room)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfd("fuzz_part", data, size, path);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    struct vd_image *img;
    if (vd_image_open(path, "raw", 0, &img, &err) == 0) {
        static struct vd_partition_table pt;
        if (vd_partition_table_read(img, &pt, &err) == 0)
            check_table(&pt, vd_image_size(img));
        vd_image_close(img, NULL);
    }
    vd_error_free(err);
    close(fd);
    return 0;
}
