/* libFuzzer harness for the md superblock reader (formats/fs/md.c): the
 * input is the start of a 4 MiB RAID member, the rest zeros. Whatever the
 * superblock says, a member accepted must have its data inside the member
 * and after the superblock. */
#include "formats/fs/md.h"
#include "tests/fuzz/fuzz_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_volume vol = { data, size };
    struct vd_fs_source src = { fuzz_mem_pread, &vol, size > FUZZ_VOLUME_SIZE ? size : FUZZ_VOLUME_SIZE };
    struct vd_md_member m;
    struct vd_error *err = NULL;
    if (vd_md_read(&src, &m, &err) == 0) {
        if (m.data_offset < 512 || m.array_size == 0 || m.data_offset > src.size ||
            m.array_size > src.size - m.data_offset || m.name[32] != 0)
            abort();
        for (size_t i = 0; m.name[i]; i++)
            if (m.name[i] < 0x20 || m.name[i] > 0x7e)
                abort();
    }
    vd_error_free(err);
    return 0;
}
