/* libFuzzer harness for the ntfs allocation map (formats/fs/ntfs.c). */
#include "tests/fuzz/fuzz_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_fs_map(&vd_fs_ntfs, data, size);
}
