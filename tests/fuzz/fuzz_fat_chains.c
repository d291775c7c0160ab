/* Fuzzes drivers-inject's own FAT check (hostile guest volume): the boot
 * sector's geometry and the walk of every cluster chain in every FAT,
 * which must end on any input (loops, links outside the volume) with
 * clean, damaged (and a message) or an error. The input is the volume. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "drivers-inject/volume.h"
#include "fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], problem[256];
    int fd = fuzz_memfd("fat", data, size, path);
    if (fd < 0)
        return 0;
    struct vd_error *err = NULL;
    problem[0] = '\0';
    int ret = fat_vol_ops.check(path, problem, sizeof(problem), &err);
    if (ret == 1 && (!problem[0] || !memchr(problem, '\0', sizeof(problem))))
        abort();
    if (ret != 0 && ret != 1 && !err)
        abort();
    vd_error_free(err);
    close(fd);
    return 0;
}
