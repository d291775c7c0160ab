/* libFuzzer harness for the ext allocation map (formats/fs/ext.c). */
#include "tests/fuzz/fuzz_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_fs_map(&vd_fs_ext, data, size);
}
