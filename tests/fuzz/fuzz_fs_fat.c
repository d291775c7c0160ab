/* libFuzzer harness for the fat allocation map (formats/fs/fat.c). */
#include "tests/fuzz/fuzz_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_fs_map(&vd_fs_fat, data, size);
}
